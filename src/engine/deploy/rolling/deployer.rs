//! The rolling deployer: UpdateService (or CreateService), the deployment found and tracked,
//! watched to its end, verified; `wait` attaching to one; `rollback`.

use super::rollback::in_flight_target;
use super::watch::WatchState;
use super::{FailKind, Rolling, Tracker, Verdict};
use crate::engine::calls::Calls;
use crate::engine::deploy::deployer::gone;
use crate::engine::deploy::deployer::{Deployer, ReadyRelease};
use crate::engine::stages::register::Register;
use crate::engine::stages::verify::serves;
use crate::engine::watch::Looks;
use crate::engine::{
    Deadline, Event, ReleaseOptions, ReleaseReport, RollbackOptions, RollbackPlan, StageTime, TimeoutSetting, WaitOptions, WaitReport,
};
use crate::engine::{sd_api_fallback_message, sd_api_refused};
use crate::error::{Error, Result};
use crate::plan::Stage;
use crate::ports::{ServiceState, UpdateService};
use crate::spec::Spec;
use crate::states::{DeploymentStatus, RolloutState};
use std::time::Duration;

impl Rolling<'_> {
    /// What the rolling watch knows of the deployment it follows.
    pub(crate) async fn rolling_tracker(
        &self,
        spec: &Spec,
        opts: &ReleaseOptions,
        live: &crate::plan::Live,
        (deployment_id, sd_arn, new_td, previous_td): (String, Option<String>, &str, &str),
        started_at: f64,
    ) -> Tracker {
        let deadline = crate::engine::Deadline::deploy(opts.timeout, spec);
        let r = &spec.file.deploy.rolling;
        Tracker {
            cluster: spec.cluster().to_string(),
            service: spec.service().to_string(),
            deployment_id,
            service_deployment_arn: sd_arn,
            new_td: new_td.to_string(),
            previous_td: previous_td.to_string(),
            // With Application Auto Scaling the count is the autoscaler's: never restored over it.
            previous_desired: live.scalable.is_none().then_some(live.service.desired_count),
            ecs_rolls_back: (r.circuit_breaker && r.circuit_breaker_rollback) || (!r.alarms.is_empty() && r.alarm_rollback),
            started_at,
            deadline: started_at + deadline.duration.as_secs_f64(),
            timeout_setting: deadline.setting,
            forecast: self.rolling_forecast(spec.cluster(), &live.service).await,
        }
    }

    /// The id of the PRIMARY deployment of `td`: from the UpdateService answer, else read back a
    /// few times (eventual consistency).
    pub(crate) async fn find_deployment(&self, spec: &Spec, svc: &ServiceState, td: &str) -> Option<String> {
        let find = |s: &ServiceState| {
            s.deployments.iter().find(|d| d.status == DeploymentStatus::Primary && d.task_definition == td).map(|d| d.id.clone())
        };
        if let Some(id) = find(svc) {
            return Some(id);
        }
        let find = &find;
        let found = self.read_back(Looks::after_pause(3), || async move {
            Ok::<_, std::convert::Infallible>(
                self.ports.ecs.describe_service(spec.cluster(), spec.service()).await.ok().flatten().and_then(|s| find(&s)),
            )
        });
        let Ok(found) = found.await;
        found
    }

    /// The service deployment UpdateService named is ours; its target revision is checked when
    /// it is first read (at the first decisive look), which costs no call now. Without that ARN
    /// in the answer, it is resolved (and read) here.
    pub(crate) async fn our_service_deployment(
        &self,
        spec: &Spec,
        svc: &ServiceState,
        new_td: &str,
        started_at: f64,
    ) -> (Option<crate::ports::ServiceDeployment>, Option<String>) {
        // The ARN UpdateService's answer names is read once and trusted only when its target
        // revision runs `new_td` (ECS may answer with the previous service deployment).
        let sd = self.resolve_service_deployment(spec, svc, new_td, started_at).await;
        let arn = sd.as_ref().map(|sd| sd.arn.clone());
        (sd, arn)
    }

    /// Find the service deployment of the deployment just started (eventually consistent:
    /// tried for up to ~10 s). `None` when the endpoint has no such API.
    pub(crate) async fn resolve_service_deployment(
        &self,
        spec: &Spec,
        svc: &ServiceState,
        new_td: &str,
        started_at: f64,
    ) -> Option<crate::ports::ServiceDeployment> {
        // Ours is the service deployment UpdateService's answer named, unless its target revision
        // runs another task definition; found by listing, only one whose target revision runs
        // `new_td`. Never by creation time: a colleague's deployment can be just as new.
        let matches = |sd: &crate::ports::ServiceDeployment| sd.target_task_definition.as_deref() == Some(new_td);
        if let Some(arn) = &svc.current_service_deployment {
            match self.ports.ecs.describe_service_deployments(std::slice::from_ref(arn)).await {
                Ok(sds) => {
                    if let Some(sd) = sds.into_iter().find(|sd| &sd.arn == arn && matches(sd)) {
                        return Some(sd);
                    }
                    self.info(format!(
                        "the service deployment UpdateService named ({arn}) does not target {new_td}; looking for this release's"
                    ));
                }
                Err(e) if sd_api_refused(&e) => {
                    self.warn(sd_api_fallback_message(&e));
                    return None;
                }
                Err(_) => {}
            }
        }
        let matches = &|sd: &crate::ports::ServiceDeployment| !sd.is_terminal() && matches(sd);
        // A refused API ends the search (Err); anything else is read again.
        let found = self.read_back(Looks::now_then(5), || async move {
            match self.ports.ecs.list_service_deployments(spec.cluster(), spec.service(), Some(started_at - 60.0)).await {
                Ok(arns) if !arns.is_empty() => {
                    let batch: Vec<String> = arns.into_iter().take(20).collect();
                    let sds = self.ports.ecs.describe_service_deployments(&batch).await.unwrap_or_default();
                    Ok(sds.into_iter().find(|sd| matches(sd)))
                }
                Err(e) if sd_api_refused(&e) => Err(e),
                _ => Ok(None),
            }
        });
        match found.await {
            Ok(Some(sd)) => Some(sd),
            Ok(None) => {
                self.warn("no service deployment found for this release; tracking the deployment by its id only");
                None
            }
            Err(e) => {
                self.warn(sd_api_fallback_message(&e));
                None
            }
        }
    }

    /// The verify stage of a rolling release: the new revision serves at its desired count, or
    /// the release fails (and rolls back) as any failed deployment.
    pub(crate) async fn verify_rolling(&self, spec: &Spec, tracker: &Tracker, stages: &mut Vec<StageTime>) -> Result<()> {
        let t = self.stage_start(Stage::Verify);
        let svc = self.retry("ecs:DescribeServices", || self.ports.ecs.describe_service(spec.cluster(), spec.service())).await?;
        if let Err(saw) = serves(svc.as_ref(), &tracker.new_td) {
            let kind = FailKind::Failed(format!("verification: the new revision is not serving at its desired count ({saw})"));
            return Err(self.handle_failure(spec, tracker, kind, None).await);
        }
        self.stage_end(Stage::Verify, t, stages);
        Ok(())
    }

    /// A rolling deployment: the PRIMARY one (or the one named), watched like a release's.
    pub(crate) async fn wait_rolling(
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
        let report = |outcome| WaitReport {
            kind: crate::engine::deploy::deployer::Kind::Rolling.name(),
            deployment: dep.id.clone(),
            task_definition: dep.task_definition.clone(),
            outcome,
        };
        let finished = dep.rollout_state == Some(RolloutState::Completed) || (dep.rollout_state.is_none() && svc.deployments.len() == 1);
        if finished && svc.primary().is_some_and(|p| p.id == dep.id) {
            self.info(format!("deployment {} of {} had already completed", dep.id, dep.task_definition));
            return Ok(report("already-finished"));
        }
        let tracker = self.attach_tracker(spec, svc, dep, budget).await;
        self.info(format!("attached to deployment {} of {}", dep.id, dep.task_definition));
        let mut ws = WatchState::baseline(svc, &dep.task_definition);
        // Attached (`wait`, a resumed release), the rollout is judged as a release's is.
        ws.judge = spec.file.analysis.is_some().then(|| (Box::new(spec.clone()), Default::default()));
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
    pub(crate) async fn attach_tracker(
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
}

/// UpdateService went through but ECS shows no PRIMARY deployment of the new revision.
fn untracked_deployment(spec: &Spec, new_td: &str) -> Error {
    Error::ManualAction {
        reason: "ECS shows no PRIMARY deployment of the new revision after UpdateService".into(),
        state: format!("service {} was updated to {new_td}, but its deployment cannot be tracked", spec.service()),
        next: format!("run `fgdeploy status -f {0}` and, if needed, `fgdeploy rollback -f {0}`", spec.path.display()),
    }
}

impl Deployer for Rolling<'_> {
    async fn release(
        &self,
        spec: &Spec,
        opts: &ReleaseOptions,
        ready: ReadyRelease,
        (t, stages): (f64, &mut Vec<StageTime>),
    ) -> Result<ReleaseReport> {
        let ReadyRelease { plan, live, new_td, previous_td, .. } = ready;
        let started_at = self.ports.clock.now();
        let svc = match plan.creates_service {
            true => Calls(self.0).create_service_once(spec, &plan, &new_td).await?,
            false => Calls(self.0).update_service_once(&UpdateService { task_definition: new_td.clone(), ..plan.update.clone() }).await?,
        };
        if !plan.creates_service {
            Calls(self.0).tag_service(&svc.arn, &plan).await?;
        }
        let deployment_id = match self.find_deployment(spec, &svc, &new_td).await {
            Some(id) => id,
            None if opts.no_wait => {
                self.warn("the new deployment is not visible in the service yet; not watching (--no-wait)");
                self.stage_end(Stage::Deploy, t, stages);
                return Ok(ReleaseReport { plan, outcome: "started", task_definition: Some(new_td) });
            }
            None => return Err(untracked_deployment(spec, &new_td)),
        };
        let (sd, sd_arn) = self.our_service_deployment(spec, &svc, &new_td, started_at).await;
        let started = Event::DeploymentStarted {
            deployment_id: deployment_id.clone(),
            service_deployment_arn: sd_arn.clone(),
            task_definition: new_td.clone(),
        };
        self.emit(started);
        // The journal says which deployment is this release's before anything else happens.
        self.renew_lease(false).await?;
        if opts.no_wait {
            self.stage_end(Stage::Deploy, t, stages);
            return Ok(ReleaseReport { plan, outcome: "started", task_definition: Some(new_td) });
        }
        let tracker = self.rolling_tracker(spec, opts, &live, (deployment_id, sd_arn, &new_td, &previous_td), started_at).await;
        let mut ws = WatchState::baseline(&live.service, &new_td).started(&svc, sd, &new_td, self.ports.clock.now());
        ws.judge = spec.file.analysis.is_some().then(|| (Box::new(spec.clone()), Default::default()));
        let (verdict, _) = self.watch(&tracker, &mut ws, &new_td).await.map_err(|e| self.lost_track(spec, &tracker, e))?;
        match verdict {
            // A failed deploy stage is never shown as done.
            Verdict::Success => self.stage_end(Stage::Deploy, t, stages),
            Verdict::Failed(kind) => return Err(self.handle_failure(spec, &tracker, kind, Some(&mut ws)).await),
            Verdict::Continue => return Err(Error::Internal("watch returned Continue".into())),
        }
        self.verify_rolling(spec, &tracker, stages).await?;
        if let Some(keep) = spec.file.task_definition.keep_revisions {
            Register(self.0).clean_up_revisions(&new_td, &plan.desired_task_definition.family, keep).await;
        }
        Ok(ReleaseReport { plan, outcome: "deployed", task_definition: Some(new_td) })
    }

    async fn attach(&self, spec: &Spec, svc: &ServiceState, o: &WaitOptions, deadline: Deadline) -> Result<WaitReport> {
        self.wait_rolling(spec, svc, o, deadline.pair()).await
    }

    /// Stop an in-flight deployment with rollback, or redeploy the revision that served before
    /// the current one (or `--to`).
    async fn rollback(&self, spec: &Spec, svc: &ServiceState, o: &RollbackOptions, deadline: Deadline) -> Result<RollbackPlan> {
        let current = svc.task_definition.clone();
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
        if in_flight && o.to.is_none() {
            let target = in_flight_target(svc, current_sd.as_ref().filter(|sd| !sd.is_terminal())).unwrap_or_else(|| current.clone());
            return self.stop_in_flight(spec, svc, target, o.dry_run, deadline.pair()).await;
        }
        self.redeploy_previous(spec, svc, o, deadline.pair()).await
    }
}
