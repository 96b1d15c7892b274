//! Rolling back: ECS's own rollback followed to its end, StopServiceDeployment(ROLLBACK), or an
//! UpdateService to the previous revision; and the `rollback` command.

use super::rolling::{FailKind, Tracker, Verdict, WatchState};
use super::watch::{Cut, Limit, Next, Pause, Watched};
use super::{Engine, Event, TimeoutSetting};
use crate::error::{Error, Result};
use crate::plan::TAG_PREVIOUS;
use crate::ports::{ServiceState, UpdateService};
use crate::spec::Spec;
use crate::states::{DeploymentStatus, RolloutState, SdStatus};
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
    /// Restore `t.previous_td` and wait until it serves at its desired count. Returns it.
    /// `ws`: the release's watch state, whose failed tasks are reported once the rollback started.
    pub(super) async fn roll_back(
        &self,
        t: &Tracker,
        kind: &FailKind,
        timeout: (Duration, TimeoutSetting),
        ws: Option<&mut WatchState>,
    ) -> Result<String> {
        let mut how = "ECS is rolling back by itself; following it".to_string();
        if !matches!(kind, FailKind::EcsRollingBack(_)) {
            let mut stopped = false;
            if let Some(arn) = &t.service_deployment_arn {
                match self.ports.ecs.stop_service_deployment_rollback(arn).await {
                    Ok(()) => {
                        stopped = true;
                        how = "StopServiceDeployment(ROLLBACK)".into();
                    }
                    Err(e) => self.warn(format!("{e}; falling back to UpdateService")),
                }
            }
            if !stopped {
                let update = UpdateService {
                    desired_count: t.previous_desired,
                    ..UpdateService::revision_only(&t.cluster, &t.service, &t.previous_td)
                };
                self.update_service_once(&update).await?;
                how = "UpdateService to the previous revision".into();
            }
        }
        self.emit(Event::RollbackStarted { reason: kind.describe(), to: t.previous_td.clone(), how });
        let mut seen = WatchState::default();
        if let Some(ws) = ws {
            if ws.failed_unreported {
                self.report_failed_tasks(t, ws).await;
            }
            // Service events and failed tasks already shown are not shown again.
            seen = ws.continuing();
        }
        let ok = self.wait_serving(t, timeout, seen).await;
        self.emit(Event::RollbackFinished { ok: ok.is_ok(), serving: t.previous_td.clone() });
        ok.map(|_| t.previous_td.clone())
    }

    /// Watch until the service serves `t.previous_td`, steady, at `t.previous_desired` tasks.
    /// Rollback waits are not cut short by Ctrl-C: a half-done rollback is worse.
    async fn wait_serving(&self, t: &Tracker, (timeout, setting): (Duration, TimeoutSetting), ws: WatchState) -> Result<()> {
        let deadline = self.ports.clock.now() + timeout.as_secs_f64();
        let mut w = RollbackWait { e: self, t, ws, deadline, setting, timeout, interval: self.poll.min };
        self.drive(&mut w, Duration::ZERO).await
    }

    async fn report_rollback_progress(&self, t: &Tracker, ws: &mut WatchState, svc: &ServiceState) -> bool {
        let changed = self.report_progress(ws, svc, None, &t.previous_td);
        if ws.failed_unreported {
            self.report_failed_tasks(t, ws).await;
        }
        changed
    }

    /// `fgdeploy rollback`: stop an in-flight deployment with rollback, or redeploy the revision
    /// that served before the current one (or `to`).
    pub async fn rollback_command(&mut self, spec: &Spec, o: &RollbackOptions) -> Result<RollbackPlan> {
        let (dry_run, no_wait, timeout) = (o.dry_run, o.no_wait, o.timeout);
        let to = o.to.as_deref();
        if let Some(t) = to {
            check_to_syntax(t)?;
        }
        self.service = spec.service().to_string();
        let svc = self
            .retry("ecs:DescribeServices", || self.ports.ecs.describe_service(spec.cluster(), spec.service()))
            .await?
            .ok_or_else(|| {
                Error::Aws(crate::ports::PortError::NotFound {
                    op: "ecs:DescribeServices".into(),
                    message: format!("service {} not found in cluster {}", spec.service(), spec.cluster()),
                })
            })?;
        let current = svc.task_definition.clone();
        // `--timeout`, else `rollback.timeout`, for every controller.
        let super::Deadline { duration: timeout, setting: timeout_setting } = super::Deadline::rollback(timeout, spec);
        if svc.deployment_controller == crate::ports::Controller::CodeDeploy {
            let flags = (dry_run, no_wait, o.allow_family_change);
            return self.rollback_codedeploy(spec, &svc, to, flags, (timeout, timeout_setting)).await;
        }
        // An ECS-native blue/green deployment shows only as an unfinished service deployment.
        let current_sd = match &svc.current_service_deployment {
            Some(arn) => {
                self.ports.ecs.describe_service_deployments(std::slice::from_ref(arn)).await.ok().and_then(|v| v.into_iter().next())
            }
            None => None,
        };
        let sd_in_flight = current_sd.as_ref().is_some_and(|sd| !sd.is_terminal());
        let in_flight =
            sd_in_flight || svc.deployments.len() > 1 || svc.primary().is_some_and(|p| p.rollout_state == Some(RolloutState::InProgress));

        if in_flight && to.is_none() {
            let target = in_flight_target(&svc, current_sd.as_ref().filter(|sd| !sd.is_terminal())).unwrap_or_else(|| current.clone());
            return self.stop_in_flight(spec, &svc, target, dry_run, (timeout, timeout_setting)).await;
        }
        self.redeploy_previous(spec, &svc, o, (timeout, timeout_setting)).await
    }

    /// Stop the deployment in flight; ECS restores `target`, the revision that served before.
    async fn stop_in_flight(
        &self,
        spec: &Spec,
        svc: &ServiceState,
        target: String,
        dry_run: bool,
        (timeout, timeout_setting): (Duration, TimeoutSetting),
    ) -> Result<RollbackPlan> {
        let current = svc.task_definition.clone();
        let now = self.ports.clock.now();
        let plan = RollbackPlan {
            current: current.clone(),
            target: target.clone(),
            action: "stop-in-flight".into(),
            source: "the deployment in progress".into(),
        };
        if dry_run {
            return Ok(plan);
        }
        let sd_arn = svc.current_service_deployment.clone();
        let tracker = Tracker {
            cluster: spec.cluster().into(),
            service: spec.service().into(),
            deployment_id: svc.primary().map(|p| p.id.clone()).unwrap_or_default(),
            service_deployment_arn: sd_arn,
            new_td: current.clone(),
            previous_td: target,
            previous_desired: Some(svc.desired_count),
            ecs_rolls_back: false,
            started_at: now,
            deadline: now + timeout.as_secs_f64(),
            timeout_setting,
            forecast: Default::default(),
        };
        return match self.roll_back(&tracker, &FailKind::Failed("manual rollback requested".into()), (timeout, timeout_setting), None).await
        {
            Ok(_) => Ok(plan),
            Err(e) => Err(manual(spec, &tracker, e)),
        };
    }

    /// Redeploy the revision that served before the current one (or `--to`), and watch it.
    async fn redeploy_previous(
        &mut self,
        spec: &Spec,
        svc: &ServiceState,
        o: &RollbackOptions,
        (timeout, timeout_setting): (Duration, TimeoutSetting),
    ) -> Result<RollbackPlan> {
        let (dry_run, no_wait, to) = (o.dry_run, o.no_wait, o.to.as_deref());
        let current = svc.task_definition.clone();
        let (target, source) = self.target_revision(spec, svc, to, o.allow_family_change).await?;
        let plan = RollbackPlan { current: current.clone(), target: target.clone(), action: "redeploy-previous".into(), source };
        if dry_run || target == current {
            if target == current {
                self.info(format!("{current} is already serving; nothing to roll back"));
            }
            return Ok(plan);
        }
        let started = self.ports.clock.now();
        let resp = self.update_service_once(&UpdateService::revision_only(spec.cluster(), spec.service(), &target)).await?;
        let deployment_id = resp.primary().map(|p| p.id.clone()).unwrap_or_default();
        self.emit(Event::RollbackStarted {
            reason: "manual rollback".into(),
            to: target.clone(),
            how: "UpdateService to the previous revision".into(),
        });
        if no_wait {
            self.info("not watching the rollback (--no-wait); follow it with `fgdeploy status`");
            return Ok(plan);
        }
        let tracker = Tracker {
            cluster: spec.cluster().into(),
            service: spec.service().into(),
            deployment_id,
            service_deployment_arn: None,
            new_td: target.clone(),
            previous_td: current.clone(),
            previous_desired: None,
            ecs_rolls_back: false,
            started_at: started,
            deadline: started + timeout.as_secs_f64(),
            timeout_setting,
            forecast: self.rolling_forecast(spec.cluster(), svc).await,
        };
        let mut ws = WatchState::baseline(svc, &target);
        let (verdict, _) = self.watch(&tracker, &mut ws, &target).await.map_err(|e| manual(spec, &tracker, e))?;
        self.emit(Event::RollbackFinished {
            ok: verdict == Verdict::Success,
            serving: if verdict == Verdict::Success { target.clone() } else { String::new() },
        });
        match verdict {
            Verdict::Success => Ok(plan),
            Verdict::Failed(kind) => Err(Error::ManualAction {
                reason: format!("the rollback to {target} failed: {}", kind.describe()),
                state: "the service may be serving either revision".into(),
                next: format!("run `fgdeploy status -f {}`", spec.path.display()),
            }),
            Verdict::Continue => Err(Error::Internal("watch returned Continue".into())),
        }
    }

    /// CODE_DEPLOY services: stop the active deployment with rollback, or redeploy the previous
    /// revision through CodeDeploy (without the checks gate: a rollback is not held up).
    async fn rollback_codedeploy(
        &self,
        spec: &Spec,
        svc: &ServiceState,
        to: Option<&str>,
        (dry_run, no_wait, allow_family_change): (bool, bool, bool),
        (timeout, setting): (Duration, TimeoutSetting),
    ) -> Result<RollbackPlan> {
        let current = svc.task_definition.clone();
        let status = super::status::codedeploy_status(spec, &self.ports).await?;
        if let (Some(d), None) = (&status.deployment, to) {
            let plan = RollbackPlan {
                current: current.clone(),
                target: "blue (the task set serving before the deployment)".into(),
                action: "stop-in-flight".into(),
                source: format!("CodeDeploy deployment {}", d.id),
            };
            if dry_run {
                return Ok(plan);
            }
            return match self.stop_and_follow_within(spec, &d.id, "manual rollback requested", (timeout, setting)).await {
                Error::RolledBack { .. } => Ok(plan),
                e => Err(e),
            };
        }
        let (target, source) = self.target_revision(spec, svc, to, allow_family_change).await?;
        let plan = RollbackPlan { current: current.clone(), target: target.clone(), action: "redeploy-previous".into(), source };
        if dry_run || target == current {
            return Ok(plan);
        }
        let group = self
            .retry("codedeploy:GetDeploymentGroup", || {
                self.ports.codedeploy.deployment_group(&status.application, &status.deployment_group)
            })
            .await?;
        let b = super::bluegreen::BlueGreen {
            application: status.application.clone(),
            group,
            test_url: None,
            production_url: None,
            gated: false,
        };
        self.emit(Event::RollbackStarted {
            reason: "manual rollback".into(),
            to: target.clone(),
            how: "a CodeDeploy deployment of the previous revision".into(),
        });
        self.deploy_codedeploy(spec, &b, svc, &target, super::bluegreen::Watch { timeout, setting, no_wait, wait_termination: false })
            .await?;
        Ok(plan)
    }

    /// The revision to roll back to, as an ARN that exists, and where it came from: `--to`
    /// (of the serving family unless `allow_family_change`), else the history or the tag.
    async fn target_revision(
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
    async fn previous_revision(&self, spec: &Spec, svc: &ServiceState) -> Result<(String, String)> {
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

/// Where stopping an in-flight deployment takes the service: the in-flight service deployment's
/// source revision where it is known; else the ACTIVE (never INACTIVE) deployment running the
/// most tasks, the newest one on a tie.
fn in_flight_target(svc: &ServiceState, sd: Option<&crate::ports::ServiceDeployment>) -> Option<String> {
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

/// The wait for a rollback: DescribeServices (and the service deployment, for ROLLBACK_FAILED)
/// until the previous revision serves; slower looks as it goes on.
struct RollbackWait<'a> {
    e: &'a Engine,
    t: &'a Tracker,
    ws: WatchState,
    deadline: f64,
    setting: TimeoutSetting,
    timeout: Duration,
    interval: Duration,
}

impl Watched for RollbackWait<'_> {
    type Out = ();

    fn limit(&self) -> Limit {
        Limit { at: self.deadline, setting: self.setting.name(), what: "the rollback", interruptible: false }
    }

    async fn look(&mut self, _now: f64) -> Result<Next<()>> {
        let (e, t) = (self.e, self.t);
        let Some(svc) = e.ports.ecs.describe_service(&t.cluster, &t.service).await? else {
            return Err(Error::Internal("the service disappeared".into()).into_rollback_error());
        };
        let changed = e.report_rollback_progress(t, &mut self.ws, &svc).await;
        if serving(&svc, &t.previous_td) {
            return Ok(Next::Done(()));
        }
        if let Some(arn) = &t.service_deployment_arn
            && let Ok(sds) = e.ports.ecs.describe_service_deployments(std::slice::from_ref(arn)).await
            && sds.iter().any(|sd| sd.status == SdStatus::RollbackFailed)
        {
            return Err(Error::Internal("ECS reports ROLLBACK_FAILED".into()).into_rollback_error());
        }
        self.interval = self.interval.mul_f64(e.poll.factor).min(e.poll.max);
        Ok(Next::Again(Pause::after(self.interval, changed)))
    }

    async fn cut(&mut self, _why: Cut) -> Result<Next<()>> {
        Err(Error::Internal(format!("the rollback did not finish within {} ({})", self.setting, humantime::format_duration(self.timeout)))
            .into_rollback_error())
    }
}

fn serving(svc: &ServiceState, td: &str) -> bool {
    svc.primary().is_some_and(|p| {
        p.task_definition == td
            && p.running == p.desired
            && match &p.rollout_state {
                Some(s) => *s == RolloutState::Completed,
                None => svc.deployments.len() == 1,
            }
    })
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

fn manual(spec: &Spec, t: &Tracker, e: Error) -> Error {
    Error::ManualAction {
        reason: format!("the rollback could not be completed: {e}"),
        state: format!("the service may be serving {} or {}", t.new_td, t.previous_td),
        next: format!("run `fgdeploy status -f {}` and retry `fgdeploy rollback`", spec.path.display()),
    }
}

impl Error {
    fn into_rollback_error(self) -> Error {
        match self {
            Error::Internal(m) => {
                Error::Aws(crate::ports::PortError::Rejected { op: "rollback".into(), code: "RollbackFailed".into(), message: m })
            }
            e => e,
        }
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
