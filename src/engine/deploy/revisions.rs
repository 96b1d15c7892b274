//! Which revision a rollback restores: `--to` (checked to exist, of the serving family unless
//! allowed), else the service-deployment history, else the tag fgdeploy puts on what it registers.

use crate::error::{Error, Result};
use crate::plan::TAG_PREVIOUS;
use crate::ports::ServiceState;
use crate::spec::Spec;
use crate::states::SdStatus;

crate::engine::engine_part!(
    /// Which revision a rollback restores.
    Revisions
);

impl Revisions<'_> {
    /// The revision to roll back to, as an ARN that exists, and where it came from: `--to`
    /// (of the serving family unless `allow_family_change`), else the history or the tag.
    pub(crate) async fn target_revision(
        &self,
        spec: &Spec,
        svc: &ServiceState,
        to: Option<&str>,
        allow_family_change: bool,
    ) -> Result<(String, String)> {
        let current = &svc.task_definition;
        let (target, source) = match to {
            Some(to) => (resolve_to(to, current), "--to".to_string()),
            None => self.previous_revision(spec, svc).await?,
        };
        let (want, have) = (family_of(&target), family_of(current));
        if to.is_some() && want != have && !allow_family_change {
            return Err(Error::usage(
                format!("--to {target} is of family {want:?}, but the service runs family {have:?}"),
                "name a revision of the serving family, or pass --allow-family-change to switch families on purpose",
            ));
        }
        match self.retry("ecs:DescribeTaskDefinition", || self.ports.ecs.describe_task_definition(&target)).await {
            Ok(reg) => Ok((reg.arn, source)),
            Err(Error::Aws(crate::ports::PortError::NotFound { .. })) | Err(Error::Aws(crate::ports::PortError::Rejected { .. }))
                if to.is_some() =>
            {
                Err(Error::usage(
                    format!("--to {target}: no such task-definition revision"),
                    "list the revisions with `aws ecs list-task-definitions --family-prefix <family>`",
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// The revision that served before the current one: from the service-deployment history,
    /// else from the `fgdeploy:previous-task-definition` tag fgdeploy puts on what it registers.
    pub(crate) async fn previous_revision(&self, spec: &Spec, svc: &ServiceState) -> Result<(String, String)> {
        let current = &svc.task_definition;
        if let Ok(arns) = self.ports.ecs.list_service_deployments(spec.cluster(), spec.service(), None).await
            && !arns.is_empty()
        {
            let batch: Vec<String> = arns.into_iter().take(20).collect();
            if let Ok(mut sds) = self.ports.ecs.describe_service_deployments(&batch).await {
                sds.sort_by(|a, b| b.created_at.partial_cmp(&a.created_at).unwrap_or(std::cmp::Ordering::Equal));
                if let Some(td) = sds
                    .iter()
                    .filter(|sd| sd.status == SdStatus::Successful)
                    .filter_map(|sd| sd.target_task_definition.clone())
                    .find(|td| td != current)
                {
                    return Ok((td, "service deployment history".into()));
                }
            }
        }
        let reg = self.retry("ecs:DescribeTaskDefinition", || self.ports.ecs.describe_task_definition(current)).await?;
        if let Some(prev) =
            reg.definition.tags.iter().flatten().find(|t| t.key.as_deref() == Some(TAG_PREVIOUS)).and_then(|t| t.value.clone())
        {
            return Ok((prev, format!("the {TAG_PREVIOUS} tag of {current}")));
        }
        Err(Error::usage(
            format!("cannot tell which revision served before {current}: no service-deployment history and no {TAG_PREVIOUS} tag"),
            "name the revision with --to REVISION (a number, family:revision or an ARN)",
        ))
    }
}

/// The family of `family:rev` or of a task-definition ARN.
pub(crate) fn family_of(td: &str) -> &str {
    let tail = td.rsplit('/').next().unwrap_or(td);
    tail.rsplit_once(':').map_or(tail, |(f, _)| f)
}

/// `7` → `family:7` of the current revision; anything else as given.
fn resolve_to(to: &str, current: &str) -> String {
    if to.chars().all(|c| c.is_ascii_digit()) {
        let family = current.rsplit('/').next().and_then(|x| x.split(':').next()).unwrap_or(current);
        format!("{family}:{to}")
    } else {
        to.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn to_revision_numbers() {
        assert_eq!(super::family_of("arn:aws:ecs:us-east-1:1:task-definition/web:9"), "web");
        assert_eq!(super::family_of("api:3"), "api");
        assert_eq!(super::resolve_to("7", "arn:aws:ecs:us-east-1:1:task-definition/web:9"), "web:7");
        assert_eq!(super::resolve_to("web:3", "x"), "web:3");
    }
}
