//! Rolling back a rolling (or ECS-native) deployment: ECS's own rollback followed to its end,
//! StopServiceDeployment(ROLLBACK), or an UpdateService to the previous revision; the wait until
//! the previous revision serves.

use super::Rolling;
use super::decide::{FailKind, Tracker, Verdict};
use super::watch::WatchState;
use crate::engine::calls::Calls;
use crate::engine::deploy::revisions::Revisions;
use crate::engine::watch::{Cut, Limit, Next, Pause, Watched};
use crate::engine::{Event, RollbackOptions, RollbackPlan, TimeoutSetting};
use crate::error::{Error, Result};
use crate::ports::{ServiceState, UpdateService};
use crate::spec::Spec;
use crate::states::{DeploymentStatus, RolloutState, SdStatus};
use std::time::Duration;

impl Rolling<'_> {
    /// Restore `t.previous_td` and wait until it serves at its desired count. Returns it.
    /// `ws`: the release's watch state, whose failed tasks are reported once the rollback started.
    pub(crate) async fn roll_back(
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
                Calls(self.0).update_service_once(&update).await?;
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
    pub(crate) async fn wait_serving(&self, t: &Tracker, (timeout, setting): (Duration, TimeoutSetting), ws: WatchState) -> Result<()> {
        let deadline = self.ports.clock.now() + timeout.as_secs_f64();
        let mut w = RollbackWait { e: *self, t, ws, deadline, setting, timeout, interval: self.poll.min };
        self.drive(&mut w, Duration::ZERO).await
    }

    pub(crate) async fn report_rollback_progress(&self, t: &Tracker, ws: &mut WatchState, svc: &ServiceState) -> bool {
        let changed = self.report_progress(ws, svc, None, &t.previous_td);
        if ws.failed_unreported {
            self.report_failed_tasks(t, ws).await;
        }
        changed
    }

    /// Stop the deployment in flight; ECS restores `target`, the revision that served before.
    pub(crate) async fn stop_in_flight(
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
    pub(crate) async fn redeploy_previous(
        &self,
        spec: &Spec,
        svc: &ServiceState,
        o: &RollbackOptions,
        (timeout, timeout_setting): (Duration, TimeoutSetting),
    ) -> Result<RollbackPlan> {
        let (dry_run, no_wait, to) = (o.dry_run, o.no_wait, o.to.as_deref());
        let current = svc.task_definition.clone();
        let (target, source) = Revisions(self.0).target_revision(spec, svc, to, o.allow_family_change).await?;
        let plan = RollbackPlan { current: current.clone(), target: target.clone(), action: "redeploy-previous".into(), source };
        if dry_run || target == current {
            if target == current {
                self.info(format!("{current} is already serving; nothing to roll back"));
            }
            return Ok(plan);
        }
        let started = self.ports.clock.now();
        let resp = Calls(self.0).update_service_once(&UpdateService::revision_only(spec.cluster(), spec.service(), &target)).await?;
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
}

/// The wait for a rollback: DescribeServices (and the service deployment, for ROLLBACK_FAILED)
/// until the previous revision serves; slower looks as it goes on.
struct RollbackWait<'a> {
    e: Rolling<'a>,
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

#[cfg(test)]
mod tests {
    use crate::ports::{Deployment, ServiceState};
    #[allow(unused_imports)]
    use crate::states::*;

    fn dep(status: &str, td: &str, running: i32, created: f64) -> Deployment {
        Deployment {
            id: format!("ecs-svc/{td}"),
            status: DeploymentStatus::from_aws(status),
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
            status: ServiceStatus::from_aws("ACTIVE"),
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
            status: SdStatus::from_aws("IN_PROGRESS"),
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
}
