//! Read-only observation of the live state a plan is computed from.

use crate::error::{Error, Result};
use crate::plan::Live;
use crate::ports::{Clock, PortError, PortResult, Ports};
use std::time::Duration;

/// Retry a call on throttling / transient errors with exponential back-off (1 s … 20 s, 8 tries).
pub async fn retrying<T, F, Fut>(clock: &dyn Clock, mut f: F) -> PortResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = PortResult<T>>,
{
    let mut delay = Duration::from_secs(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match f().await {
            Err(e) if e.is_retryable() && attempt < 8 => {
                tracing::debug!("{e}; retrying in {delay:?}");
                clock.sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(20));
            }
            r => return r,
        }
    }
}
use crate::spec::Spec;

/// DescribeServices, DescribeTaskDefinition (with tags), DescribeRepositories, BatchGetImage.
/// No mutating call.
pub async fn observe(spec: &Spec, ports: &Ports) -> Result<Live> {
    let clock = ports.clock.as_ref();
    let missing = || {
        Error::Aws(PortError::NotFound {
            op: "ecs:DescribeServices".into(),
            message: format!(
                "service {:?} does not exist in cluster {:?} (or is INACTIVE); fgdeploy releases to existing services — create it first, or fix `service.name` / `service.cluster` in {}",
                spec.service(),
                spec.cluster(),
                spec.path.display()
            ),
        })
    };
    let service = match retrying(clock, || ports.ecs.describe_service(spec.cluster(), spec.service())).await {
        Ok(Some(s)) => s,
        Ok(None) | Err(PortError::NotFound { .. }) => return Err(missing()),
        Err(e) => return Err(e.into()),
    };
    let task_definition = if service.task_definition.is_empty() {
        None
    } else {
        Some(retrying(clock, || ports.ecs.describe_task_definition(&service.task_definition)).await?)
    };
    let repo = &spec.file.image.repository;
    let (repository_uri, repo_name) = if repo.contains('/') && repo.contains('.') {
        let name = repo.split_once('/').map_or(repo.as_str(), |(_, n)| n).to_string();
        (repo.clone(), name)
    } else {
        (retrying(clock, || ports.ecr.repository_uri(repo)).await?, repo.clone())
    };
    let image_digest = retrying(clock, || ports.ecr.image_digest(&repo_name, &spec.file.image.tag)).await?;
    Ok(Live { service, task_definition, repository_uri, image_digest })
}
