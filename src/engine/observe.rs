//! Read-only observation of the live state a plan is computed from.

use super::watch::{retrying, retrying_with};
use crate::error::{Error, Result};
use crate::plan::Live;
use crate::ports::{PortError, Ports};
use crate::registry::{is_full_uri, repository_name};
use crate::states::ServiceStatus;

use crate::spec::Spec;

/// DescribeServices, DescribeTaskDefinition (with tags), DescribeRepositories, BatchGetImage.
/// No mutating call.
pub async fn observe(spec: &Spec, ports: &Ports) -> Result<Live> {
    observe_with(spec, ports, &|_| {}).await
}

/// [`observe`], telling `warn` when the first read has to be retried (an endpoint that cannot
/// be reached, throttling).
pub(super) async fn observe_with(spec: &Spec, ports: &Ports, warn: &(dyn Fn(String) + Send + Sync)) -> Result<Live> {
    let clock = ports.clock.as_ref();
    // A missing service is bad input (exit 3, as the README documents): a wrong name or cluster.
    let missing = || {
        Error::usage(
            format!("service {:?} does not exist in cluster {:?} (or is INACTIVE)", spec.service(), spec.cluster()),
            format!(
                "to create it, add [service.definition] (at least network.subnets) and release with --create — or fix `service.name` / `service.cluster` in {}",
                spec.path.display()
            ),
        )
    };
    let service = match retrying_with(clock, || ports.ecs.describe_service(spec.cluster(), spec.service()), warn).await {
        // Being deleted: nothing can be deployed to it; refused before any change (no revision
        // registered, no image pushed).
        Ok(Some(s)) if s.status == crate::states::ServiceStatus::Draining => {
            return Err(Error::usage(
                format!(
                    "service {} in cluster {} is DRAINING (being deleted): UpdateService would be refused",
                    spec.service(),
                    spec.cluster()
                ),
                "wait until it is INACTIVE and create it again (release --create), or deploy another service",
            ));
        }
        Ok(Some(s)) => Some(s),
        Ok(None) | Err(PortError::NotFound { .. }) if spec.file.service.definition.is_some() => None,
        Ok(None) | Err(PortError::NotFound { .. }) => return Err(missing()),
        Err(e) => return Err(e.into()),
    };
    let service_missing = service.is_none();
    let service = service.unwrap_or_else(|| crate::ports::ServiceState {
        name: spec.service().to_string(),
        status: ServiceStatus::Missing,
        ..Default::default()
    });
    let task_definition = if service.task_definition.is_empty() {
        None
    } else {
        Some(retrying(clock, || ports.ecs.describe_task_definition(&service.task_definition)).await?)
    };
    let mut images = Vec::new();
    for target in spec.image_targets() {
        images.push(observe_image(spec, ports, target).await?);
    }
    let release = images.remove(0);
    // A service that does not exist yet has no scalable target.
    let scalable = if service_missing { None } else { scalable_target(spec, ports, warn).await? };
    Ok(Live {
        service,
        service_missing,
        task_definition,
        repository_uri: release.repository_uri,
        image_digest: release.digest,
        repository_missing: release.repository_missing,
        scalable,
        sidecars: images,
    })
}

/// One image's repository URI and digest: an ECR name is looked up in this account's ECR
/// (DescribeRepositories; a missing one with `create_repository` gets its URI from the
/// registry host); a full URI is taken as written and asked where it lives — another
/// registry through the v2 API, ECR by BatchGetImage.
async fn observe_image(spec: &Spec, ports: &Ports, target: crate::spec::ImageTarget) -> Result<crate::plan::LiveImage> {
    let clock = ports.clock.as_ref();
    let repo = &target.repository;
    let full_uri = is_full_uri(repo);
    let (repository_uri, repository_missing) = if full_uri {
        (repo.clone(), false)
    } else {
        match retrying(clock, || ports.ecr.repository_uri(repo)).await {
            Ok(uri) => (uri, false),
            Err(PortError::NotFound { .. }) if target.create_repository => {
                // Its URI is the registry host (GetAuthorizationToken, read-only) and the name.
                let auth = retrying(clock, || ports.ecr.authorization()).await?;
                (format!("{}/{repo}", auth.host()), true)
            }
            Err(PortError::NotFound { message, .. }) => {
                let create = target.field.replace("repository", "create_repository");
                return Err(crate::error::InputError::new(
                    &spec.path,
                    format!("ECR repository {repo:?} does not exist ({message})"),
                    format!("create it, fix `{}`, or set `{create} = true`", target.field),
                )
                .at_field(&target.field)
                .into());
            }
            Err(e) => return Err(e.into()),
        }
    };
    let image = format!("{repository_uri}:{}", target.tag);
    let name = repository_name(repo);
    let digest = match crate::registry::ImageRef::parse(&image) {
        _ if repository_missing => None,
        // Another registry than ECR (GHCR, Docker Hub, a private one): the registry v2 API.
        Some(r) if full_uri && r.location() == crate::registry::Location::Oci => {
            retrying(clock, || ports.registry.manifest_digest(&r)).await?
        }
        _ => retrying(clock, || ports.ecr.image_digest(&name, &target.tag)).await?,
    };
    Ok(crate::plan::LiveImage { target, repository_uri, digest, repository_missing })
}

/// Application Auto Scaling's target for the service, if any. Without permission to read it (or
/// an endpoint without the API) the release goes on as if there were none, and says so.
pub(super) async fn scalable_target(
    spec: &Spec,
    ports: &Ports,
    warn: &(dyn Fn(String) + Send + Sync),
) -> Result<Option<crate::ports::ScalableTarget>> {
    match retrying(ports.clock.as_ref(), || ports.autoscaling.scalable_target(spec.cluster(), spec.service())).await {
        Ok(t) => Ok(t),
        Err(e @ (PortError::Rejected { .. } | PortError::Unsupported { .. } | PortError::NotFound { .. })) => {
            warn(format!("cannot read Application Auto Scaling ({e}); service.desired_count applies as written"));
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
