//! Rolling back: ECS's own rollback followed to its end, StopServiceDeployment(ROLLBACK), or an
//! UpdateService to the previous revision; and the `rollback` command.

use super::Engine;
use crate::error::{Error, Result};
use crate::plan::TAG_PREVIOUS;
use crate::ports::ServiceState;
use crate::spec::Spec;
use crate::states::{DeploymentStatus, SdStatus};
use std::time::Duration;

/// `fgdeploy rollback`'s flags.
#[derive(Debug, Clone, Default)]
pub struct RollbackOptions {
    /// `--to`: a revision number, `family:revision` or a task-definition ARN.
    pub to: Option<String>,
    pub dry_run: bool,
    pub no_wait: bool,
    /// `--timeout` (else `rollback.timeout`).
    pub timeout: Option<Duration>,
    /// `--allow-family-change`: `--to` may name another family.
    pub allow_family_change: bool,
}

/// What `fgdeploy rollback` will do / did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RollbackPlan {
    pub current: String,
    pub target: String,
    /// `stop-in-flight` or `redeploy-previous`
    pub action: String,
    pub source: String,
}

impl Engine {
    /// `fgdeploy rollback`: the service's deployer stops an in-flight deployment with rollback,
    /// or redeploys the revision that served before the current one (or `--to`).
    pub async fn rollback_command(&mut self, spec: &Spec, o: &RollbackOptions) -> Result<RollbackPlan> {
        if let Some(t) = o.to.as_deref() {
            check_to_syntax(t)?;
        }
        self.service = spec.service().to_string();
        let svc = self
            .retry("ecs:DescribeServices", || self.ports.ecs.describe_service(spec.cluster(), spec.service()))
            .await?
            .ok_or_else(|| super::no_such_service(spec.cluster(), spec.service()))?;
        // `--timeout`, else `rollback.timeout`, for every controller.
        let deadline = super::Deadline::rollback(o.timeout, spec);
        super::deploy::rollback(self, spec, &svc, o, deadline).await
    }
}

/// Where stopping an in-flight deployment takes the service: the in-flight service deployment's
/// source revision where it is known; else the ACTIVE (never INACTIVE) deployment running the
/// most tasks, the newest one on a tie.
pub(crate) fn in_flight_target(svc: &ServiceState, sd: Option<&crate::ports::ServiceDeployment>) -> Option<String> {
    if let Some(td) = sd.and_then(|sd| sd.source_task_definitions.first()) {
        return Some(td.clone());
    }
    // ECS lists deployments newest first; `max_by` keeps the last of equals, so walk oldest first.
    svc.deployments
        .iter()
        .rev()
        .filter(|d| d.status == DeploymentStatus::Active)
        .max_by(|a, b| a.running.cmp(&b.running).then(a.created_at.partial_cmp(&b.created_at).unwrap_or(std::cmp::Ordering::Equal)))
        .map(|d| d.task_definition.clone())
}

/// `--to` is a revision number, `family:revision` or a task-definition ARN.
fn check_to_syntax(to: &str) -> Result<()> {
    let digits = |s: &str| !s.is_empty() && s.len() <= 10 && s.chars().all(|c| c.is_ascii_digit()) && s.parse::<u32>().is_ok_and(|n| n > 0);
    let family_rev = |s: &str| s.rsplit_once(':').is_some_and(|(f, r)| crate::taskdef::rules::valid_name(f) && digits(r));
    let ok = digits(to)
        || family_rev(to)
        || to.split_once(":task-definition/").is_some_and(|(head, tail)| {
            let p: Vec<&str> = head.split(':').collect();
            p.len() == 5 && p[0] == "arn" && p[1].starts_with("aws") && p[2] == "ecs" && family_rev(tail)
        });
    if ok {
        Ok(())
    } else {
        Err(Error::usage(
            format!("--to {to:?} is not a revision"),
            "write a revision number (41), family:revision (web:41) or a task-definition ARN",
        ))
    }
}

/// The family of `family:rev` or of a task-definition ARN.
fn family_of(td: &str) -> &str {
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
    use crate::ports::{Deployment, ServiceState};

    fn dep(status: &str, td: &str, running: i32, created: f64) -> Deployment {
        Deployment {
            id: format!("ecs-svc/{td}"),
            status: status.into(),
            task_definition: td.into(),
            desired: 2,
            running,
            pending: 0,
            failed_tasks: 0,
            rollout_state: None,
            rollout_state_reason: None,
            created_at: Some(created),
        }
    }

    fn svc(deployments: Vec<Deployment>) -> ServiceState {
        ServiceState {
            arn: "s".into(),
            name: "web".into(),
            cluster_arn: "c".into(),
            status: "ACTIVE".into(),
            desired_count: 2,
            running_count: 2,
            task_definition: "web:9".into(),
            deployments,
            ..Default::default()
        }
    }

    #[test]
    fn in_flight_rollback_prefers_the_newest_active_on_a_tie_and_never_an_inactive_one() {
        let s = svc(vec![
            dep("PRIMARY", "web:9", 0, 30.0),
            dep("ACTIVE", "web:8", 1, 20.0),
            dep("ACTIVE", "web:7", 1, 10.0),
            dep("INACTIVE", "web:6", 5, 5.0),
        ]);
        assert_eq!(super::in_flight_target(&s, None).as_deref(), Some("web:8"));
        let s = svc(vec![dep("PRIMARY", "web:9", 0, 30.0), dep("ACTIVE", "web:8", 1, 20.0), dep("ACTIVE", "web:7", 2, 10.0)]);
        assert_eq!(super::in_flight_target(&s, None).as_deref(), Some("web:7"), "more running wins");
        let s = svc(vec![dep("PRIMARY", "web:9", 0, 30.0), dep("INACTIVE", "web:6", 5, 5.0)]);
        assert_eq!(super::in_flight_target(&s, None), None);
    }

    #[test]
    fn in_flight_rollback_uses_the_service_deployments_source_revision() {
        let s = svc(vec![dep("PRIMARY", "web:9", 0, 30.0), dep("ACTIVE", "web:7", 2, 10.0)]);
        let sd = crate::ports::ServiceDeployment {
            arn: "sd".into(),
            status: "IN_PROGRESS".into(),
            status_reason: None,
            target_revision: None,
            target_task_definition: Some("web:9".into()),
            source_task_definitions: vec!["web:8".into()],
            created_at: None,
            finished_at: None,
            rollback_reason: None,
            circuit_breaker: None,
            lifecycle_stage: None,
            hooks: vec![],
        };
        assert_eq!(super::in_flight_target(&s, Some(&sd)).as_deref(), Some("web:8"));
    }

    #[test]
    fn to_must_be_a_revision() {
        for ok in [
            "41",
            "web:41",
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:41",
            "arn:aws-cn:ecs:cn-north-1:1:task-definition/a_b-c:2",
        ] {
            assert!(super::check_to_syntax(ok).is_ok(), "{ok}");
        }
        for bad in ["", "0", "-1", "web", "web:", "web:x", "latest", "web:41; rm -rf /", "arn:aws:s3:::bucket/web:1", "99999999999"] {
            assert!(super::check_to_syntax(bad).is_err(), "{bad}");
        }
        assert_eq!(super::family_of("arn:aws:ecs:us-east-1:1:task-definition/web:9"), "web");
        assert_eq!(super::family_of("api:3"), "api");
    }

    #[test]
    fn to_revision_numbers() {
        assert_eq!(super::resolve_to("7", "arn:aws:ecs:us-east-1:1:task-definition/web:9"), "web:7");
        assert_eq!(super::resolve_to("web:3", "x"), "web:3");
    }
}

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
