//! ECS-native blue/green, linear and canary releases (the ECS deployment controller with
//! `deploymentConfiguration.strategy`): one UpdateService with the strategy, a PAUSE lifecycle
//! hook at POST_TEST_TRAFFIC_SHIFT as the test gate, progress and bake time from
//! DescribeServiceDeployments, ContinueServiceDeployment CONTINUE or ROLLBACK.

use crate::engine::Event;
use crate::engine::pace::{Schedule, Seen, native_stage_moments};
use crate::engine::watch::{Cut, Limit, Next, Pause, Watched};
use crate::error::{Error, Result};
use crate::ports::{
    AdvancedLoadBalancer, DeploymentConfig, LifecycleHook, NativeDeployment, ServiceDeployment, ServiceState, UpdateService,
};
use crate::spec::{OnInterrupt, Spec};
use crate::states::{LifecycleStage, SdStatus};
use std::time::Duration;

use crate::engine::TimeoutSetting;
use crate::engine::calls::Calls;
use crate::engine::checks::Checks;
use crate::engine::deploy::deployer::gone;
use crate::engine::deploy::deployer::{Deployer, ReadyRelease};
use crate::engine::deploy::preflight::{Native, Preflight};
use crate::engine::deploy::rolling::Rolling;
use crate::engine::stages::verify::Verify;
use crate::engine::{Deadline, ReleaseOptions, ReleaseReport, RollbackOptions, RollbackPlan, StageTime, WaitOptions, WaitReport};
use crate::plan::Stage;

mod steps;

crate::engine::engine_part!(
    /// The ECS-native deployer (BLUE_GREEN, LINEAR, CANARY).
    EcsNative
);

/// The live deployment configuration to send with a native release: everything the team set,
/// without any hook fgdeploy added (a killed run's leftover is cleaned up by the next release).
pub(super) fn live_base(live: &DeploymentConfig) -> DeploymentConfig {
    live.without_fgdeploys_hooks()
}

/// A team's PAUSE hook at the stage fgdeploy's gate pauses at: ECS names neither hook's owner
/// in DescribeServiceDeployments, so fgdeploy could answer the team's approval. Refused before
/// any change.
fn refuse_a_team_hook_at_the_gate(spec: &Spec, base: &DeploymentConfig, stage: LifecycleStage, fix: &str) -> Result<()> {
    let Some(h) = base.lifecycle_hooks.iter().find(|h| h.is_pause() && h.stages.contains(&stage)) else {
        return Ok(());
    };
    let what = if stage == LifecycleHook::GATE_STAGE { "test gate" } else { "canary judge" };
    Err(Error::usage(
        format!(
            "service {} already has a PAUSE hook at {stage} ({}); fgdeploy's {what} pauses there too, and ECS names neither hook's owner, so fgdeploy could answer the team's approval",
            spec.service(),
            h.details.as_ref().map_or("no hookDetails".to_string(), ToString::to_string)
        ),
        fix.to_string(),
    ))
}

/// `…:listener-rule/app/lb/1/listener-id/rule-id` → `…:listener/app/lb/1/listener-id`.
pub(super) fn listener_of_rule(rule: &str) -> Option<String> {
    let l = rule.replacen(":listener-rule/", ":listener/", 1);
    if l == rule {
        return Some(rule.to_string()); // an NLB "rule" is the listener itself
    }
    l.rsplit_once('/').map(|(head, _)| head.to_string())
}

/// The load balancer with its `advancedConfiguration` from `[deploy.blue_green]` (the three
/// keys together), on the service's target group; None keeps the service's.
fn advanced_load_balancer(spec: &Spec, bg: &crate::spec::BlueGreenSection, svc: &ServiceState) -> Result<Option<AdvancedLoadBalancer>> {
    let advanced = [&bg.alternate_target_group_arn, &bg.production_listener_rule, &bg.load_balancer_role_arn];
    match advanced.iter().filter(|a| a.is_some()).count() {
        0 => Ok(None),
        3 => {
            let tg = svc.load_balancers.first().and_then(|l| l.target_group_arn.clone()).ok_or_else(|| {
                Error::usage(
                    format!("service {} has no load balancer to shift traffic on", spec.service()),
                    "attach a target group to the service first",
                )
            })?;
            Ok(Some(AdvancedLoadBalancer {
                target_group_arn: tg,
                container_name: spec.container().to_string(),
                container_port: bg.container_port,
                alternate_target_group_arn: bg.alternate_target_group_arn.clone().unwrap_or_default(),
                production_listener_rule: bg.production_listener_rule.clone().unwrap_or_default(),
                test_listener_rule: bg.test_listener_rule.clone(),
                role_arn: bg.load_balancer_role_arn.clone().unwrap_or_default(),
            }))
        }
        _ => Err(crate::error::InputError::new(
            &spec.path,
            "alternate_target_group_arn, production_listener_rule and load_balancer_role_arn go together",
            "set all three (and optionally test_listener_rule), or none to keep the service's advancedConfiguration",
        )
        .at_field("deploy.blue_green")
        .into()),
    }
}

impl EcsNative<'_> {
    /// `attached`: `wait` follows a deployment already in flight (its traffic may be mid-shift).
    pub(crate) async fn preflight(&self, spec: &Spec, svc: &ServiceState, attached: (bool, Option<&str>)) -> Result<Native> {
        let bg = spec
            .file
            .deploy
            .blue_green
            .as_ref()
            .ok_or_else(|| Error::Internal("blue-green strategy without [deploy.blue_green]".into()))?;
        let load_balancer = advanced_load_balancer(spec, bg, svc)?;
        let gated = !bg.checks.is_empty();
        let test_url = match (&bg.test_url, &bg.test_listener_rule) {
            (Some(u), _) => Some(u.clone()),
            (None, Some(rule)) if gated => {
                let listener = listener_of_rule(rule).unwrap_or_default();
                let l = self.retry("elasticloadbalancing:DescribeListeners", || self.ports.elb.listener(&listener)).await?;
                let lb = l.load_balancer_arn.clone().unwrap_or_default();
                let dns = self.retry("elasticloadbalancing:DescribeLoadBalancers", || self.ports.elb.load_balancer_dns(&lb)).await?;
                let scheme = if l.protocol == Some(crate::states::ListenerProtocol::Https) { "https" } else { "http" };
                Some(format!("{scheme}://{dns}{}", l.port.map(|p| format!(":{p}")).unwrap_or_default()))
            }
            _ => None,
        };
        if gated && test_url.is_none() {
            return Err(Error::usage(
                "the checks need the test traffic's address",
                "set deploy.blue_green.test_url, or test_listener_rule (with the other advancedConfiguration keys)",
            ));
        }
        let base = live_base(&svc.deployment_config);
        if gated {
            let fix = "move the team's PAUSE hook to another stage (e.g. PRE_PRODUCTION_TRAFFIC_SHIFT), or release without [[deploy.blue_green.checks]]";
            refuse_a_team_hook_at_the_gate(spec, &base, LifecycleHook::GATE_STAGE, fix)?;
        }
        let judge = self.judge_preflight(spec, svc, attached).await?;
        if judge.is_some() {
            let fix = "move the team's PAUSE hook to another stage (e.g. POST_SCALE_UP), or release without [analysis]";
            refuse_a_team_hook_at_the_gate(spec, &base, LifecycleHook::JUDGE_STAGE, fix)?;
        }
        let deployment = NativeDeployment {
            base,
            gate_timeout_minutes: bg.gate_timeout_minutes(),
            strategy: bg.ecs_strategy.clone(),
            bake_time_minutes: Some(bg.bake_time_minutes),
            linear: bg.native_steps().0,
            canary: bg.native_steps().1,
            pause_after_test_traffic: gated,
            load_balancer,
            judge_timeout_minutes: spec
                .file
                .analysis
                .as_ref()
                .filter(|_| judge.is_some())
                .map(crate::spec::AnalysisSection::judge_timeout_minutes),
        };
        Ok(Native { deployment, test_url, judge })
    }

    /// Ok(true) when the deployment succeeded, Ok(false) when started and not watched.
    pub(crate) async fn deploy_native(
        &self,
        spec: &Spec,
        (n, planned): (&Native, &UpdateService),
        new_td: &str,
        (timeout, setting): (Duration, crate::engine::TimeoutSetting),
        no_wait: bool,
    ) -> Result<bool> {
        // The plan's UpdateService (desired count, service settings) with the native strategy.
        let update = UpdateService {
            task_definition: new_td.to_string(),
            deployment_config: None,
            native: Some(n.deployment.clone()),
            ..planned.clone()
        };
        let started = self.ports.clock.now();
        let after = Calls(self.0).update_service_once(&update).await?;
        let arn = Rolling(self.0).resolve_service_deployment(spec, &after, new_td, started).await.map(|sd| sd.arn).ok_or_else(|| {
            Error::ManualAction {
                reason: "an ECS-native blue/green deployment cannot be followed without the service-deployment API".into(),
                state: format!("service {} was updated to {new_td} with strategy {}", spec.service(), n.deployment.strategy),
                next: format!("watch it in the ECS console; `fgdeploy status -f {}`", spec.path.display()),
            }
        })?;
        self.emit(Event::DeploymentStarted {
            deployment_id: arn.clone(),
            service_deployment_arn: Some(arn.clone()),
            task_definition: new_td.to_string(),
        });
        // The journal says which deployment is this release's before anything else happens.
        self.renew_lease(false).await?;
        if no_wait {
            if n.deployment.judge_timeout_minutes.is_some() {
                self.warn("--no-wait: nobody judges the traffic steps until `fgdeploy wait` follows the deployment; fgdeploy's step hook rolls the deployment back when it times out unanswered");
            }
            if n.deployment.pause_after_test_traffic {
                self.warn(format!(
                    "--no-wait: fgdeploy's PAUSE hook stays on the service until `fgdeploy wait` follows the deployment to its end (it times out after {} min with ROLLBACK if nobody answers it)",
                    n.deployment.gate_timeout_minutes
                ));
            }
            return Ok(false);
        }
        let result = self.follow_native(spec, n, arn, (started + timeout.as_secs_f64(), setting), false).await;
        self.remove_gate_hook(spec, n).await;
        result
    }

    /// After the deployment ended (any outcome): UpdateService without a task definition, with the
    /// service's deployment configuration as it was before the release — fgdeploy's PAUSE hook
    /// removed, the team's hooks and settings kept — so the next deployment (console, Terraform,
    /// another pipeline) does not pause at fgdeploy's gate. A failure is a warning: the hook
    /// times out by itself, and the next fgdeploy release removes it.
    pub(crate) async fn remove_gate_hook(&self, spec: &Spec, n: &Native) {
        if !n.deployment.pauses() {
            return;
        }
        // Only deploymentConfiguration: no task definition, no loadBalancers (sending those again
        // would start a new service deployment, as the API model says of that member).
        let settings_only = UpdateService {
            cluster: spec.cluster().to_string(),
            service: spec.service().to_string(),
            task_definition: String::new(),
            desired_count: None,
            deployment_config: None,
            native: Some(NativeDeployment {
                pause_after_test_traffic: false,
                judge_timeout_minutes: None,
                load_balancer: None,
                ..n.deployment.clone()
            }),
            settings: Default::default(),
        };
        match self.retry("ecs:UpdateService", || self.ports.ecs.update_service(&settings_only)).await {
            Ok(_) => self.info("removed fgdeploy's PAUSE hook from the service (the team's hooks and settings are kept)"),
            Err(e) => self.warn(format!(
                "could not remove fgdeploy's PAUSE hook from service {}: {e}; the next fgdeploy release removes it (it times out after {} min meanwhile)",
                spec.service(),
                n.deployment.gate_timeout_minutes
            )),
        }
    }

    /// Follow ECS-native service deployment `arn` until `deadline`: the PAUSE hook's gate, the
    /// stages, the rollback. `past_gate`: it was already past its test-traffic gate when
    /// fgdeploy attached (`wait`), so that gate is not fgdeploy's to run or judge.
    pub(crate) async fn follow_native(
        &self,
        spec: &Spec,
        n: &Native,
        arn: String,
        (deadline, setting): (f64, crate::engine::TimeoutSetting),
        past_gate: bool,
    ) -> Result<bool> {
        let bg = spec.file.deploy.blue_green.as_ref().ok_or_else(|| Error::Internal("no [deploy.blue_green]".into()))?;
        let w = NativeWatch {
            started: self.ports.clock.now(),
            judged_steps: 0,
            // Attached after traffic moved (the rule said so): no pause ahead is the first one.
            traffic_seen: n.judge.as_ref().is_some_and(|j| j.green_serves),
            holding: None,
            arn,
            setting,
            deadline,
            rollback_deadline: deadline + spec.file.rollback.timeout.as_secs_f64(),
            stage: LifecycleStage::default(),
            handled: Vec::new(),
            our_reason: None,
            schedule: None,
            shifting_forecast: false,
            last_status: String::new(),
            gate_passed: !n.deployment.pause_after_test_traffic || past_gate,
            bypass_warned: false,
        };
        self.drive(&mut NativeRun { e: *self, spec, n, bg, w }, Duration::ZERO).await
    }

    /// Ctrl-C or the deadline: detach, or StopServiceDeployment(ROLLBACK) and follow it.
    pub(crate) async fn native_stop(&self, spec: &Spec, w: &mut NativeWatch) -> Result<()> {
        if self.interrupt.is_set() && spec.file.rollback.on_interrupt == OnInterrupt::Detach {
            return Err(Error::Detached(format!("interrupted; service deployment {} goes on without fgdeploy", w.arn)));
        }
        if !self.interrupt.is_set() && !spec.file.rollback.automatic {
            return Err(Error::Detached(format!(
                "{} passed; automatic rollback is off, so service deployment {} goes on without fgdeploy. Watch it with `fgdeploy status -f {}`",
                w.setting,
                w.arn,
                spec.path.display()
            )));
        }
        let why = if self.interrupt.is_set() {
            "interrupted (Ctrl-C / SIGTERM)".to_string()
        } else {
            format!("the deployment did not finish within {}", w.setting)
        };
        self.emit(Event::RollbackStarted {
            reason: why.clone(),
            to: "the source revision".into(),
            how: "StopServiceDeployment(ROLLBACK)".into(),
        });
        let arn = w.arn.clone();
        self.retry("ecs:StopServiceDeployment", || self.ports.ecs.stop_service_deployment_rollback(&arn)).await?;
        w.our_reason = Some(why);
        Ok(())
    }

    /// DescribeServiceDeployments of the deployment (a transient failure is the driver's).
    pub(crate) async fn native_read(&self, spec: &Spec, arn: &str) -> Result<Option<ServiceDeployment>> {
        match self.ports.ecs.describe_service_deployments(&[arn.to_string()]).await {
            Ok(v) => Ok(v.into_iter().next()),
            Err(e) if e.is_retryable() => Err(Error::Aws(e)),
            Err(e) => Err(Error::ManualAction {
                reason: format!("lost track of service deployment {arn}: {e}"),
                state: "the deployment goes on without fgdeploy".into(),
                next: format!("`fgdeploy status -f {0}`; `fgdeploy rollback -f {0}`", spec.path.display()),
            }),
        }
    }

    /// A new lifecycle stage: shown, and the traffic steps and the bake looked at at their ends.
    /// Returns whether anything changed.
    pub(crate) fn native_stage(
        &self,
        n: &Native,
        bg: &crate::spec::BlueGreenSection,
        w: &mut NativeWatch,
        sd: &ServiceDeployment,
        now: f64,
    ) -> bool {
        let mut changed = false;
        if let Some(s) = &sd.lifecycle_stage
            && *s != w.stage
        {
            // Stages newer than this build (e.g. PRE_PRODUCTION_TRAFFIC_SHIFT) are shown as is.
            self.emit(Event::LifecycleStage { stage: s.clone(), status: sd.status.clone() });
            if *s == LifecycleStage::BakeTime {
                self.info(format!("bake time: blue and green run side by side for {} min", bg.bake_time_minutes));
            }
            // PRODUCTION_TRAFFIC_SHIFT comes back after each step: its steps are counted from the
            // first time only.
            let moments = native_stage_moments(&n.deployment, s);
            let shift = *s == LifecycleStage::ProductionTrafficShift;
            if !moments.is_empty() && (!shift || !w.shifting_forecast) {
                w.shifting_forecast |= shift;
                w.schedule = Some(self.schedule(now, &moments));
            }
            w.traffic_seen |= shift;
            w.stage = s.clone();
            changed = true;
        }
        changed |= sd.status.as_str() != w.last_status;
        w.last_status = sd.status.to_string();
        if !w.gate_passed && !w.bypass_warned && past_test_gate(&w.stage) {
            w.bypass_warned = true;
            self.warn(format!(
                "service deployment {} is at {} but fgdeploy never continued its PAUSE hook: someone else answered it",
                w.arn, w.stage
            ));
        }
        changed
    }

    /// fgdeploy's own PAUSE hook waiting: its checks against the test traffic, then CONTINUE or
    /// ROLLBACK. Only fgdeploy's hook is answered — a PAUSE hook waiting at the stage fgdeploy
    /// added its hook to (POST_TEST_TRAFFIC_SHIFT), on this release's deployment, when fgdeploy
    /// added one; a team's own hooks (a PRE_PRODUCTION_TRAFFIC_SHIFT approval at every linear
    /// step, a Lambda hook) are theirs and never answered. A refused answer is read again before
    /// anything is done: a hook someone else answered is a bypassed gate (exit 11), never a
    /// StopServiceDeployment.
    pub(crate) async fn native_hook(&self, spec: &Spec, n: &Native, w: &mut NativeWatch, sd: &ServiceDeployment) -> Result<()> {
        if !n.deployment.pause_after_test_traffic || w.stage != LifecycleStage::PostTestTrafficShift {
            return Ok(());
        }
        let Some(h) = sd.hooks.iter().find(|h| {
            h.status == Some(crate::states::HookStatus::AwaitingAction)
                && h.target_type.as_ref().is_none_or(|t| *t == crate::states::HookTargetType::Pause)
                && !w.handled.contains(&h.hook_id)
        }) else {
            return Ok(());
        };
        w.handled.push(h.hook_id.clone());
        let arn = w.arn.clone();
        let url = n.test_url.clone().unwrap_or_default();
        self.info(format!("paused at {}: checking the test traffic at {url}", w.stage));
        let (action, failed) = match Checks(self.0).run_checks(spec, &url, "test-traffic").await {
            Ok(()) => (crate::states::HookAction::Continue, None),
            Err(e) => (
                crate::states::HookAction::Rollback,
                Some(Checks(self.0).checks_failure(spec, &format!("service deployment {arn}"), "test-traffic", &e)?),
            ),
        };
        let hook = h.hook_id.clone();
        if self.answer_hook(spec, n, w, &hook, action.clone(), failed).await? {
            w.gate_passed |= action == crate::states::HookAction::Continue;
        }
        Ok(())
    }

    /// fgdeploy's answer to its hook was refused: read the deployment again. Someone else
    /// answered it (their answer stands: exit 11), or the hook would time out and roll back by
    /// itself (1440 min), so fgdeploy stops it with rollback.
    pub(crate) async fn native_answer_refused(
        &self,
        spec: &Spec,
        n: &Native,
        w: &mut NativeWatch,
        (hook_id, action, failed): (&str, crate::states::HookAction, Option<String>),
        e: Error,
    ) -> Result<()> {
        let arn = w.arn.clone();
        let again = self.native_read(spec, &arn).await.ok().flatten();
        let answered_elsewhere = again.as_ref().is_some_and(|sd| {
            !sd.status.is_rollback()
                && sd.hooks.iter().any(|x| x.hook_id == hook_id && x.status != Some(crate::states::HookStatus::AwaitingAction))
        });
        if answered_elsewhere {
            let ours = if w.stage == LifecycleHook::JUDGE_STAGE { "its canary judge" } else { "its checks" };
            let checks = failed
                .map_or(format!("fgdeploy's verdict was CONTINUE ({ours} passed)"), |f| format!("fgdeploy's verdict was ROLLBACK ({f})"));
            let why = format!(
                "ContinueServiceDeployment({action}) was refused ({e}): the PAUSE hook of service deployment {arn} was answered outside fgdeploy; {checks}. The deployment goes on under whoever answered it"
            );
            let url = spec.file.deploy.blue_green.as_ref().and_then(|b| b.production_url.clone()).or_else(|| n.test_url.clone());
            return Err(Checks(self.0).gate_bypassed(spec, why, url.as_deref()).await);
        }
        if again.as_ref().is_some_and(|sd| sd.status.is_rollback()) {
            // Rolling back already (someone answered ROLLBACK, or ECS did): follow it.
            w.our_reason =
                failed.or_else(|| Some(format!("ContinueServiceDeployment({action}) was refused ({e}); the deployment is rolling back")));
            return Ok(());
        }
        let why = format!("ContinueServiceDeployment({action}) failed: {e}");
        self.emit(Event::RollbackStarted {
            reason: why.clone(),
            to: "the source revision".into(),
            how: "StopServiceDeployment(ROLLBACK)".into(),
        });
        if let Err(e2) = self.retry("ecs:StopServiceDeployment", || self.ports.ecs.stop_service_deployment_rollback(&arn)).await {
            return Err(Error::ManualAction {
                reason: format!("{why}; then StopServiceDeployment failed: {e2}"),
                state: format!("service deployment {arn} waits at its PAUSE hook; it rolls back by itself when the hook times out"),
                next: format!("answer the hook in the ECS console, or `fgdeploy rollback -f {}`", spec.path.display()),
            });
        }
        w.our_reason = Some(failed.unwrap_or(why));
        Ok(())
    }

    /// The end a status means, if it is one (a bypassed gate is not a success).
    pub(crate) async fn native_status(&self, spec: &Spec, n: &Native, w: &mut NativeWatch, sd: ServiceDeployment) -> Option<Result<bool>> {
        let arn = &w.arn;
        Some(match native_decide(&sd.status, w.gate_passed)? {
            NativeEnd::Bypassed => {
                let why = format!(
                    "service deployment {arn} reached SUCCESSFUL, but its PAUSE hook was answered outside fgdeploy, before fgdeploy's checks passed"
                );
                let url = spec.file.deploy.blue_green.as_ref().and_then(|b| b.production_url.clone()).or_else(|| n.test_url.clone());
                Err(Checks(self.0).gate_bypassed(spec, why, url.as_deref()).await)
            }
            NativeEnd::Succeeded if n.judge.is_some() && w.judged_steps < n.deployment.judged_steps() => {
                let why = format!(
                    "service deployment {arn} reached SUCCESSFUL with {} of its {} traffic step(s) judged by fgdeploy: its step hooks were answered outside fgdeploy",
                    w.judged_steps,
                    n.deployment.judged_steps()
                );
                let url = spec.file.deploy.blue_green.as_ref().and_then(|b| b.production_url.clone()).or_else(|| n.test_url.clone());
                Err(Checks(self.0).gate_bypassed(spec, why, url.as_deref()).await)
            }
            NativeEnd::Succeeded => Ok(true),
            NativeEnd::RolledBack => {
                let serving = sd.source_task_definitions.first().cloned();
                self.emit(Event::RollbackFinished { ok: true, serving: serving.clone().unwrap_or_default() });
                Err(Error::RolledBack {
                    reason: w.our_reason.clone().or(sd.rollback_reason.clone()).unwrap_or_else(|| "ECS rolled the deployment back".into()),
                    serving: serving.unwrap_or_else(|| "the previous revision".into()),
                })
            }
            NativeEnd::Unresolved => Err(Error::ManualAction {
                reason: format!("service deployment {arn} ended {}: {}", sd.status, sd.status_reason.unwrap_or_default()),
                state: "production traffic may be on either revision".into(),
                next: format!("`fgdeploy status -f {}`", spec.path.display()),
            }),
        })
    }
}

/// The state of one ECS-native watch, between looks.
pub(crate) struct NativeWatch {
    /// When fgdeploy began following: the judge reads the minutes from here on.
    started: f64,
    /// Traffic steps the canary judge answered (#29).
    judged_steps: u32,
    /// PRODUCTION_TRAFFIC_SHIFT was seen: green serves production traffic.
    traffic_seen: bool,
    /// The judge hook held INCONCLUSIVE, and since when.
    holding: Option<(String, f64)>,
    arn: String,
    setting: crate::engine::TimeoutSetting,
    deadline: f64,
    rollback_deadline: f64,
    stage: LifecycleStage,
    handled: Vec<String>,
    /// Why fgdeploy stopped or rolled back the deployment, once it did.
    our_reason: Option<String>,
    /// Traffic steps and the bake have known lengths: once in those stages, looks at their ends.
    schedule: Option<Schedule>,
    shifting_forecast: bool,
    last_status: String,
    /// Only true once fgdeploy's checks passed and fgdeploy itself answered the hook CONTINUE.
    gate_passed: bool,
    bypass_warned: bool,
}

/// An ECS-native deployment looked at through [`Engine::drive`]: DescribeServiceDeployments a
/// look; at the deadline or on Ctrl-C, StopServiceDeployment(ROLLBACK), then its rollback is
/// followed (not interruptible) until `rollback.timeout` more.
struct NativeRun<'a> {
    e: EcsNative<'a>,
    spec: &'a Spec,
    n: &'a Native,
    bg: &'a crate::spec::BlueGreenSection,
    w: NativeWatch,
}

impl Watched for NativeRun<'_> {
    type Out = bool;

    fn limit(&self) -> Limit {
        match self.w.our_reason {
            None => Limit { at: self.w.deadline, setting: self.w.setting.name(), what: "the deployment", interruptible: true },
            Some(_) => Limit { at: self.w.rollback_deadline, setting: "rollback.timeout", what: "the rollback", interruptible: false },
        }
    }

    fn evented(&self) -> bool {
        self.w.our_reason.is_none()
    }

    async fn look(&mut self, now: f64) -> Result<Next<bool>> {
        let (e, spec, n) = (self.e, self.spec, self.n);
        let Some(sd) = e.native_read(spec, &self.w.arn).await? else { return Ok(Next::Again(Pause::adaptive(false))) };
        let changed = e.native_stage(n, self.bg, &mut self.w, &sd, now);
        e.native_hook(spec, n, &mut self.w, &sd).await?;
        let held = e.native_judge(spec, n, &mut self.w, &sd, now).await?;
        if let Some(end) = e.native_status(spec, n, &mut self.w, sd).await {
            return end.map(Next::Done);
        }
        if let Some(pause) = held {
            return Ok(Next::Again(pause));
        }
        let w = &mut self.w;
        Ok(Next::Again(match w.schedule.as_mut().filter(|s| s.forecasting()).filter(|_| w.our_reason.is_none()) {
            Some(s) => {
                let next = s.next(now, Seen { changed, progressed: changed, trouble: false });
                Pause::after(Duration::from_secs_f64(next), changed).with_moment(s.until_moment(now, next).map(Duration::from_secs_f64))
            }
            None => Pause::adaptive(changed),
        }))
    }

    async fn cut(&mut self, _why: Cut) -> Result<Next<bool>> {
        if self.w.our_reason.is_none() {
            self.e.native_stop(self.spec, &mut self.w).await?;
            return Ok(Next::Again(Pause::after(Duration::ZERO, true)));
        }
        Err(Error::ManualAction {
            reason: self.w.our_reason.clone().unwrap_or_else(|| "the deployment did not finish".into()),
            state: format!("service deployment {} did not reach an end within {} + rollback.timeout", self.w.arn, self.w.setting),
            next: format!("`fgdeploy status -f {}`", self.spec.path.display()),
        })
    }
}

/// How an ECS-native blue/green service deployment ended, when its status is an end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NativeEnd {
    /// SUCCESSFUL after fgdeploy's own checks passed and fgdeploy answered the hook.
    Succeeded,
    /// SUCCESSFUL although fgdeploy never passed its gate.
    Bypassed,
    /// ECS rolled it back: the old revision serves.
    RolledBack,
    /// ROLLBACK_FAILED or STOPPED: traffic may be on either revision.
    Unresolved,
}

/// The end a status means (pure); `None` while the deployment goes on.
fn native_decide(status: &SdStatus, gate_passed: bool) -> Option<NativeEnd> {
    match status {
        SdStatus::Successful if !gate_passed => Some(NativeEnd::Bypassed),
        SdStatus::Successful => Some(NativeEnd::Succeeded),
        SdStatus::RollbackSuccessful => Some(NativeEnd::RolledBack),
        SdStatus::RollbackFailed | SdStatus::Stopped => Some(NativeEnd::Unresolved),
        SdStatus::Pending
        | SdStatus::InProgress
        | SdStatus::StopRequested
        | SdStatus::RollbackRequested
        | SdStatus::RollbackInProgress
        | SdStatus::Unknown(_) => None,
    }
}

/// Stages a deployment only reaches once its test-traffic PAUSE hook was answered CONTINUE.
pub(super) fn past_test_gate(stage: &LifecycleStage) -> bool {
    use LifecycleStage as S;
    matches!(stage, S::ProductionTrafficShift | S::PreProductionTrafficShift | S::PostProductionTrafficShift | S::BakeTime | S::CleanUp)
}

impl EcsNative<'_> {
    /// An ECS-native deployment: the current service deployment (or the one named).
    pub(crate) async fn wait_native(
        &self,
        spec: &Spec,
        svc: &ServiceState,
        o: &WaitOptions,
        (timeout, setting): (Duration, TimeoutSetting),
    ) -> Result<WaitReport> {
        let n = self.preflight(spec, svc, (true, o.canary_green.as_deref())).await?;
        let arn = o.deployment.clone().or_else(|| svc.current_service_deployment.clone()).ok_or_else(|| {
            Error::usage("the service has no service deployment to wait for", "see `fgdeploy history` for the ones that ended")
        })?;
        let sd = self
            .retry("ecs:DescribeServiceDeployments", || self.ports.ecs.describe_service_deployments(std::slice::from_ref(&arn)))
            .await?;
        let sd = sd.into_iter().next().ok_or_else(|| gone(spec, &arn))?;
        let td = sd.target_task_definition.clone().unwrap_or_else(|| svc.task_definition.clone());
        let past_gate = sd.is_terminal() || sd.lifecycle_stage.as_ref().is_some_and(self::past_test_gate);
        if past_gate && n.deployment.pause_after_test_traffic {
            self.warn(format!("attached to {arn} after its test-traffic gate: fgdeploy follows it to its end without judging that gate"));
        }
        self.info(format!("attached to service deployment {arn} ({})", sd.status));
        let followed =
            self.follow_native(spec, &n, arn.clone(), (self.ports.clock.now() + timeout.as_secs_f64(), setting), past_gate).await;
        // A PAUSE hook a `release --no-wait` (or a killed run) left: fgdeploy's own, removed once
        // the deployment ended; the team's hooks stay.
        if !matches!(followed, Err(Error::Detached(_))) && svc.deployment_config.lifecycle_hooks.iter().any(|h| h.is_fgdeploys()) {
            let mine = Native {
                deployment: crate::ports::NativeDeployment { pause_after_test_traffic: true, ..n.deployment.clone() },
                ..n.clone()
            };
            self.remove_gate_hook(spec, &mine).await;
        }
        followed?;
        Ok(WaitReport { kind: super::Kind::Native.name(), deployment: arn, task_definition: td, outcome: "deployed" })
    }
}

impl Deployer for EcsNative<'_> {
    async fn release(
        &self,
        spec: &Spec,
        opts: &ReleaseOptions,
        ready: ReadyRelease,
        (t, stages): (f64, &mut Vec<StageTime>),
    ) -> Result<ReleaseReport> {
        let ReadyRelease { plan, live, new_td, preflight, .. } = ready;
        let Preflight::Native(n) = preflight else { return Err(Error::Internal("an ECS-native release without its preflight".into())) };
        let deadline = Deadline::deploy(opts.timeout, spec);
        Calls(self.0).tag_service(&live.service.arn, &plan).await?;
        let done = self.deploy_native(spec, (&n, &plan.update), &new_td, deadline.pair(), opts.no_wait).await?;
        self.stage_end(Stage::Deploy, t, stages);
        if !done {
            return Ok(ReleaseReport { plan, outcome: "started", task_definition: Some(new_td) });
        }
        Verify(self.0).verify_blue_green(spec, &new_td, stages).await?;
        Ok(ReleaseReport { plan, outcome: "deployed", task_definition: Some(new_td) })
    }

    async fn attach(&self, spec: &Spec, svc: &ServiceState, o: &WaitOptions, deadline: Deadline) -> Result<WaitReport> {
        self.wait_native(spec, svc, o, deadline.pair()).await
    }

    /// An ECS-native deployment in flight is a service deployment: stopped with ROLLBACK as a
    /// rolling one is; a finished one is rolled back by redeploying the revision before.
    async fn rollback(&self, spec: &Spec, svc: &ServiceState, o: &RollbackOptions, deadline: Deadline) -> Result<RollbackPlan> {
        Rolling(self.0).rollback(spec, svc, o, deadline).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rule_to_listener() {
        assert_eq!(
            super::listener_of_rule("arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/lb/50dc/f2f7/9683").as_deref(),
            Some("arn:aws:elasticloadbalancing:us-east-1:1:listener/app/lb/50dc/f2f7")
        );
    }

    #[test]
    fn every_service_deployment_status_has_its_end() {
        use super::{NativeEnd, native_decide};
        use crate::states::SdStatus;
        let cases = [
            ("SUCCESSFUL", true, Some(NativeEnd::Succeeded)),
            ("SUCCESSFUL", false, Some(NativeEnd::Bypassed)),
            ("ROLLBACK_SUCCESSFUL", true, Some(NativeEnd::RolledBack)),
            ("ROLLBACK_SUCCESSFUL", false, Some(NativeEnd::RolledBack)),
            ("ROLLBACK_FAILED", false, Some(NativeEnd::Unresolved)),
            ("STOPPED", true, Some(NativeEnd::Unresolved)),
            ("PENDING", false, None),
            ("IN_PROGRESS", true, None),
            ("STOP_REQUESTED", true, None),
            ("ROLLBACK_REQUESTED", false, None),
            ("ROLLBACK_IN_PROGRESS", false, None),
            ("SOMETHING_NEW", true, None),
        ];
        for (status, passed, want) in cases {
            assert_eq!(native_decide(&SdStatus::from_aws(status), passed), want, "{status} gate_passed={passed}");
        }
    }

    #[test]
    fn only_stages_after_the_test_pause_pass_the_gate() {
        for stage in ["PRODUCTION_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP"]
        {
            assert!(super::past_test_gate(&crate::states::LifecycleStage::from_aws(stage)), "{stage}");
        }
        for stage in ["RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT", ""]
        {
            assert!(!super::past_test_gate(&crate::states::LifecycleStage::from_aws(stage)), "{stage}");
        }
    }
}
