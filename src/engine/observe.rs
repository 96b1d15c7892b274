//! Read-only observation of the live state a plan is computed from.

use super::watch::{retrying, retrying_with};
use crate::error::{Error, Result};
use crate::plan::Live;
use crate::ports::{PortError, Ports};

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
    let missing = || {
        Error::Aws(PortError::NotFound {
            op: "ecs:DescribeServices".into(),
            message: format!(
                "service {:?} does not exist in cluster {:?} (or is INACTIVE); to create it, add [service.definition] (at least network.subnets) and release with --create — or fix `service.name` / `service.cluster` in {}",
                spec.service(),
                spec.cluster(),
                spec.path.display()
            ),
        })
    };
    let service = match retrying_with(clock, || ports.ecs.describe_service(spec.cluster(), spec.service()), warn).await {
        Ok(Some(s)) => Some(s),
        Ok(None) | Err(PortError::NotFound { .. }) if spec.file.service.definition.is_some() => None,
        Ok(None) | Err(PortError::NotFound { .. }) => return Err(missing()),
        Err(e) => return Err(e.into()),
    };
    let service_missing = service.is_none();
    let service = service.unwrap_or_else(|| crate::ports::ServiceState {
        name: spec.service().to_string(),
        status: "MISSING".into(),
        ..Default::default()
    });
    let task_definition = if service.task_definition.is_empty() {
        None
    } else {
        Some(retrying(clock, || ports.ecs.describe_task_definition(&service.task_definition)).await?)
    };
    let repo = &spec.file.image.repository;
    let repo_name = repository_name(repo);
    let full_uri = repo.split_once('/').is_some_and(|(h, _)| h.contains('.') || h.contains(':') || h == "localhost");
    let (repository_uri, repository_missing) = if full_uri {
        (repo.clone(), false)
    } else {
        match retrying(clock, || ports.ecr.repository_uri(repo)).await {
            Ok(uri) => (uri, false),
            Err(PortError::NotFound { .. }) if spec.file.image.create_repository => {
                // Its URI is the registry host (GetAuthorizationToken, read-only) and the name.
                let auth = retrying(clock, || ports.ecr.authorization()).await?;
                (format!("{}/{repo}", auth.host()), true)
            }
            Err(PortError::NotFound { message, .. }) => {
                return Err(crate::error::InputError::new(
                    &spec.path,
                    format!("ECR repository {repo:?} does not exist ({message})"),
                    "create it, fix `image.repository`, or set `image.create_repository = true`",
                )
                .at_field("image.repository")
                .into());
            }
            Err(e) => return Err(e.into()),
        }
    };
    let image_digest = match crate::registry::ImageRef::parse(&spec.image_ref(&repository_uri)) {
        _ if repository_missing => None,
        // Another registry than ECR (GHCR, Docker Hub, a private one): the registry v2 API.
        Some(r) if full_uri && r.location() == crate::registry::Location::Oci => {
            retrying(clock, || ports.registry.manifest_digest(&r)).await?
        }
        _ => retrying(clock, || ports.ecr.image_digest(&repo_name, &spec.file.image.tag)).await?,
    };
    // A service that does not exist yet has no scalable target.
    let scalable = if service_missing { None } else { scalable_target(spec, ports, warn).await? };
    Ok(Live { service, service_missing, task_definition, repository_uri, image_digest, repository_missing, scalable })
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

/// `123.dkr.ecr.us-east-1.amazonaws.com/team/web` → `team/web`; a bare name as is.
pub(super) fn repository_name(repo: &str) -> String {
    match repo.split_once('/') {
        Some((host, name)) if host.contains('.') => name.to_string(),
        _ => repo.to_string(),
    }
}
