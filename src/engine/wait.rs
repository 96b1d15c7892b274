//! `wait`: re-attach to a deployment already in flight (after `release --no-wait`, a detach, or
//! someone else's start) and follow it with the same watch, verdict, rollback policy and exit
//! codes as `release`. The deployment is the service's in-flight one, or the one named with
//! `--deployment` (a rolling deployment id `ecs-svc/…`, a service-deployment ARN, or a
//! CodeDeploy deployment id `d-…`). `--timeout` (else `deploy.timeout`) counts from the attach.
//!
//! A blue/green deployment already past its test-traffic gate when fgdeploy attaches is followed
//! to its end without judging that gate (fgdeploy cannot know who answered it); one still before
//! it gets fgdeploy's checks, as in `release`.

use super::bluegreen::{Forecast, Watch};
use super::rolling::{Tracker, Verdict, WatchState};
use super::{Engine, Event, StageTime, TimeoutSetting};
use crate::error::{Error, Result};
use crate::plan::Stage;
use crate::ports::ServiceState;
use crate::spec::{Spec, Strategy};
use crate::states::{CdStatus, RolloutState};
use serde::Serialize;
use std::time::Duration;

/// `fgdeploy wait`'s flags.
#[derive(Debug, Clone, Default)]
pub struct WaitOptions {
    /// The deployment to follow; default: the service's in-flight one.
    pub deployment: Option<String>,
    /// `--timeout` (else `deploy.timeout`), from the attach.
    pub timeout: Option<Duration>,
    /// `--rollback`: apply the deployspec's rollback policy (on failure, at the deadline, on
    /// Ctrl-C). Without it `wait` only reports: the deployment it attached to may be another
    /// pipeline's or a colleague's, so at its deadline or on Ctrl-C it detaches (exit 9) and a
    /// failure is reported, never rolled back by fgdeploy (ECS's or CodeDeploy's own rollback
    /// is still followed).
    pub rollback: bool,
}

/// The deployment `wait` followed, and how it ended (when it did not fail).
#[derive(Debug, Clone, Serialize)]
pub struct WaitReport {
    /// `rolling`, `codedeploy` or `ecs-native`.
    pub kind: &'static str,
    pub deployment: String,
    pub task_definition: String,
    /// `deployed`, or `already-finished` when it had succeeded before fgdeploy attached.
    pub outcome: &'static str,
}

impl Engine {
    /// Follow the deployment in flight; the terminal `finished` event says how it ended.
    pub async fn wait_command(&mut self, spec: &Spec, o: &WaitOptions) -> Result<WaitReport> {
        self.service = spec.service().to_string();
        let t0 = self.ports.clock.now();
        let mut stages = Vec::new();
        let result = self.wait_inner(spec, o, &mut stages).await;
        let (outcome, exit_code, message) = match &result {
            Ok(r) => (r.outcome.to_string(), crate::error::exit::OK, format!("{} {} serves {}", r.kind, r.deployment, r.task_definition)),
            Err(e) => (e.kind().to_string(), e.exit_code(), e.to_string()),
        };
        self.emit(Event::Finished {
            outcome,
            exit_code,
            message,
            task_definition: result.as_ref().ok().map(|r| r.task_definition.clone()),
            stages,
            api_calls: self.ports.calls.snapshot(),
            api_calls_total: self.ports.calls.total(),
            secs: self.ports.clock.now() - t0,
        });
        result
    }

    async fn wait_inner(&self, spec: &Spec, o: &WaitOptions, stages: &mut Vec<StageTime>) -> Result<WaitReport> {
        let mut reporting = spec.clone();
        if !o.rollback {
            reporting.file.rollback.automatic = false;
            reporting.file.rollback.on_interrupt = crate::spec::OnInterrupt::Detach;
            self.info("wait reports and detaches: fgdeploy rolls back nothing it attached to (--rollback applies the deployspec's rollback policy)");
        }
        let spec = &reporting;
        let svc = self.retry("ecs:DescribeServices", || self.ports.ecs.describe_service(spec.cluster(), spec.service())).await?;
        let svc = svc.ok_or_else(|| super::no_such_service(spec.cluster(), spec.service()))?;
        let budget = super::Deadline::deploy(o.timeout, spec).pair();
        let t = self.stage_start(Stage::Deploy);
        let report = match (svc.deployment_controller, spec.file.deploy.strategy) {
            (crate::ports::Controller::CodeDeploy, _) => self.wait_codedeploy(spec, &svc, o, budget).await?,
            (_, Strategy::BlueGreen) => self.wait_native(spec, &svc, o, budget).await?,
            _ => self.wait_rolling(spec, &svc, o, budget).await?,
        };
        self.stage_end(Stage::Deploy, t, stages);
        if report.kind != "rolling" {
            self.verify_blue_green(spec, &report.task_definition, stages).await?;
        }
        Ok(report)
    }

    /// A rolling deployment: the PRIMARY one (or the one named), watched like a release's.
    async fn wait_rolling(
        &self,
        spec: &Spec,
        svc: &ServiceState,
        o: &WaitOptions,
        budget: (Duration, TimeoutSetting),
    ) -> Result<WaitReport> {
        let dep = match &o.deployment {
            Some(id) => svc.deployment(id).ok_or_else(|| gone(spec, id))?,
            None => svc.primary().ok_or_else(|| Error::usage("the service has no PRIMARY deployment", "see `fgdeploy status`"))?,
        };
        let report =
            |outcome| WaitReport { kind: "rolling", deployment: dep.id.clone(), task_definition: dep.task_definition.clone(), outcome };
        let finished = dep.rollout_state == Some(RolloutState::Completed) || (dep.rollout_state.is_none() && svc.deployments.len() == 1);
        if finished && svc.primary().is_some_and(|p| p.id == dep.id) {
            self.info(format!("deployment {} of {} had already completed", dep.id, dep.task_definition));
            return Ok(report("already-finished"));
        }
        let tracker = self.attach_tracker(spec, svc, dep, budget).await;
        self.info(format!("attached to deployment {} of {}", dep.id, dep.task_definition));
        let mut ws = WatchState::baseline(svc, &dep.task_definition);
        let (verdict, _) = self.watch(&tracker, &mut ws, &dep.task_definition).await.map_err(|e| self.lost_track(spec, &tracker, e))?;
        match verdict {
            Verdict::Success => Ok(report("deployed")),
            Verdict::Failed(kind) => Err(self.handle_failure(spec, &tracker, kind, Some(&mut ws)).await),
            Verdict::Continue => Err(Error::Internal("watch returned Continue".into())),
        }
    }

    /// What the rolling watch knows of a deployment it did not start: the revision before it
    /// (another deployment of the service, else its service deployment's source), its service
    /// deployment when that targets the same revision, and a deadline from now.
    async fn attach_tracker(
        &self,
        spec: &Spec,
        svc: &ServiceState,
        dep: &crate::ports::Deployment,
        (timeout, setting): (Duration, TimeoutSetting),
    ) -> Tracker {
        let now = self.ports.clock.now();
        let sd = match &svc.current_service_deployment {
            Some(arn) => {
                self.ports.ecs.describe_service_deployments(std::slice::from_ref(arn)).await.ok().and_then(|v| v.into_iter().next())
            }
            None => None,
        };
        let sd = sd.filter(|sd| sd.target_task_definition.as_deref().is_none_or(|td| td == dep.task_definition));
        let other = svc.deployments.iter().find(|d| d.id != dep.id);
        let previous_td = other
            .map(|d| d.task_definition.clone())
            .or_else(|| sd.as_ref().and_then(|sd| sd.source_task_definitions.first().cloned()))
            .unwrap_or_else(|| dep.task_definition.clone());
        let r = &spec.file.deploy.rolling;
        let live_rolls_back = svc.deployment_config.circuit_breaker.as_ref().is_some_and(|c| c.enable && c.rollback)
            || svc.deployment_config.alarms.as_ref().is_some_and(|a| a.enable && a.rollback);
        Tracker {
            cluster: spec.cluster().to_string(),
            service: spec.service().to_string(),
            deployment_id: dep.id.clone(),
            service_deployment_arn: sd.map(|sd| sd.arn),
            new_td: dep.task_definition.clone(),
            previous_td,
            // The count before the deployment is not known here: a rollback leaves it as it is.
            previous_desired: None,
            ecs_rolls_back: live_rolls_back || (r.circuit_breaker && r.circuit_breaker_rollback),
            started_at: dep.created_at.unwrap_or(now),
            deadline: now + timeout.as_secs_f64(),
            timeout_setting: setting,
            forecast: self.rolling_forecast(spec.cluster(), svc).await,
        }
    }

    /// An ECS-native deployment: the current service deployment (or the one named).
    async fn wait_native(
        &self,
        spec: &Spec,
        svc: &ServiceState,
        o: &WaitOptions,
        (timeout, setting): (Duration, TimeoutSetting),
    ) -> Result<WaitReport> {
        let n = self.native_preflight(spec, svc).await?;
        let arn = o.deployment.clone().or_else(|| svc.current_service_deployment.clone()).ok_or_else(|| {
            Error::usage("the service has no service deployment to wait for", "see `fgdeploy history` for the ones that ended")
        })?;
        let sd = self
            .retry("ecs:DescribeServiceDeployments", || self.ports.ecs.describe_service_deployments(std::slice::from_ref(&arn)))
            .await?;
        let sd = sd.into_iter().next().ok_or_else(|| gone(spec, &arn))?;
        let td = sd.target_task_definition.clone().unwrap_or_else(|| svc.task_definition.clone());
        let past_gate = sd.is_terminal() || sd.lifecycle_stage.as_ref().is_some_and(super::native::past_test_gate);
        if past_gate && n.deployment.pause_after_test_traffic {
            self.warn(format!("attached to {arn} after its test-traffic gate: fgdeploy follows it to its end without judging that gate"));
        }
        self.info(format!("attached to service deployment {arn} ({})", sd.status));
        let followed =
            self.follow_native(spec, &n, arn.clone(), (self.ports.clock.now() + timeout.as_secs_f64(), setting), past_gate).await;
        // A PAUSE hook a `release --no-wait` (or a killed run) left: fgdeploy's own, removed once
        // the deployment ended; the team's hooks stay.
        if !matches!(followed, Err(Error::Detached(_))) && svc.deployment_config.lifecycle_hooks.iter().any(|h| h.is_fgdeploys()) {
            let mine = super::native::Native {
                deployment: crate::ports::NativeDeployment { pause_after_test_traffic: true, ..n.deployment.clone() },
                ..n.clone()
            };
            self.remove_gate_hook(spec, &mine).await;
        }
        followed?;
        Ok(WaitReport { kind: "ecs-native", deployment: arn, task_definition: td, outcome: "deployed" })
    }

    /// A CodeDeploy deployment: the group's active one (or the one named).
    async fn wait_codedeploy(
        &self,
        spec: &Spec,
        svc: &ServiceState,
        o: &WaitOptions,
        (timeout, setting): (Duration, TimeoutSetting),
    ) -> Result<WaitReport> {
        let b = self.bluegreen_preflight(spec, svc, true, true).await?;
        let id = match &o.deployment {
            Some(id) => id.clone(),
            None => {
                let active = self
                    .retry("codedeploy:ListDeployments", || self.ports.codedeploy.active_deployments(&b.application, &b.group.name))
                    .await?;
                active.into_iter().next().ok_or_else(|| {
                    Error::usage(
                        format!("deployment group {} has no active deployment", b.group.name),
                        "see `fgdeploy status` (a deployment that ended is not waited for)",
                    )
                })?
            }
        };
        let d = self.retry("codedeploy:GetDeployment", || self.ports.codedeploy.deployment(&id)).await?;
        let target = format!("{}:{}", spec.cluster().rsplit('/').next().unwrap_or(spec.cluster()), spec.service());
        let green = self
            .ports
            .codedeploy
            .deployment_target(&id, &target)
            .await
            .ok()
            .and_then(|t| t.task_sets.iter().find(|s| s.label == Some(crate::states::TaskSetLabel::Green)).map(|s| s.traffic_weight));
        let past_gate = matches!(d.status, CdStatus::Succeeded) || green.is_some_and(|g| g > 0.0);
        if past_gate && b.gated {
            self.warn(format!("attached to {id} after Ready: fgdeploy follows it to its end without judging the test-listener gate"));
        }
        self.info(format!("attached to CodeDeploy deployment {id} ({})", d.status));
        let watch = Watch { timeout, setting, no_wait: false, wait_termination: false };
        let forecast = Forecast { ready_in: None, created_at: self.ports.clock.now(), past_gate };
        self.follow_codedeploy(spec, &b, (id.clone(), target), watch, forecast).await?;
        let td = self.retry("ecs:DescribeServices", || self.ports.ecs.describe_service(spec.cluster(), spec.service())).await?;
        let td = td.map(|s| s.primary().map_or(s.task_definition.clone(), |p| p.task_definition.clone())).unwrap_or_default();
        Ok(WaitReport { kind: "codedeploy", deployment: id, task_definition: td, outcome: "deployed" })
    }
}

/// A named deployment the service no longer shows.
fn gone(spec: &Spec, id: &str) -> Error {
    Error::usage(
        format!("deployment {id} is not in flight on service {} (it may have ended)", spec.service()),
        format!("see `fgdeploy history -f {}` for how it ended", spec.path.display()),
    )
}
