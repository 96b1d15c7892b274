//! Read-only observation of the live state a plan is computed from.

use crate::error::{Error, Result};
use crate::plan::Live;
use crate::ports::{PortError, Ports};
use crate::spec::Spec;

/// DescribeServices, DescribeTaskDefinition (with tags), DescribeRepositories, BatchGetImage.
/// No mutating call.
pub async fn observe(spec: &Spec, ports: &Ports) -> Result<Live> {
    let service = ports.ecs.describe_service(spec.cluster(), spec.service()).await?.ok_or_else(|| {
        Error::Aws(PortError::NotFound {
            op: "ecs:DescribeServices".into(),
            message: format!(
                "service {:?} does not exist in cluster {:?} (or is INACTIVE); fgdeploy releases to existing services — create it first, or fix `service.name` / `service.cluster` in {}",
                spec.service(),
                spec.cluster(),
                spec.path.display()
            ),
        })
    })?;
    let task_definition = if service.task_definition.is_empty() {
        None
    } else {
        Some(ports.ecs.describe_task_definition(&service.task_definition).await?)
    };
    let repo = &spec.file.image.repository;
    let (repository_uri, repo_name) = if repo.contains('/') && repo.contains('.') {
        let name = repo.split_once('/').map_or(repo.as_str(), |(_, n)| n).to_string();
        (repo.clone(), name)
    } else {
        (ports.ecr.repository_uri(repo).await?, repo.clone())
    };
    let image_digest = ports.ecr.image_digest(&repo_name, &spec.file.image.tag).await?;
    Ok(Live { service, task_definition, repository_uri, image_digest })
}
