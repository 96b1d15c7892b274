//! Blue/green releases through CodeDeploy (services with the CODE_DEPLOY controller): AppSpec +
//! CreateDeployment, fgdeploy's own checks against the test listener while the deployment waits
//! in Ready, then ContinueDeployment or StopDeployment with rollback, traffic progress from
//! GetDeploymentTarget, and the rollback deployment followed to its end.

use crate::engine::pace::{HEARTBEAT_SECS, Schedule, Seen, codedeploy_shift_moments, ready_secs};
use crate::engine::watch::Looks;
use crate::engine::watch::{Cut, Limit, Next, Pause, Watched};
use crate::engine::{Event, TimeoutSetting};
use crate::error::{Error, Result};
use crate::ports::{CdDeployment, DeploymentGroup, PortError, ServiceState};
use crate::spec::{BlueGreenSection, OnInterrupt, Spec};
use crate::states::CdStatus;
use std::time::Duration;

use crate::engine::calls::Calls;
use crate::engine::checks::Checks;
use crate::engine::deploy::deployer::{Deployer, ReadyRelease};
use crate::engine::deploy::preflight::{BlueGreen, Preflight};
use crate::engine::deploy::revisions::Revisions;
use crate::engine::stages::verify::Verify;
use crate::engine::{Deadline, ReleaseOptions, ReleaseReport, RollbackOptions, RollbackPlan, StageTime, WaitOptions, WaitReport};
use crate::plan::Stage;
use crate::ports::UpdateService;

mod judging;
mod steps;

crate::engine::engine_part!(
    /// The CodeDeploy deployer (CODE_DEPLOY controller, blue/green).
    CodeDeploy
);

fn section(spec: &Spec) -> Result<&BlueGreenSection> {
    spec.file.deploy.blue_green.as_ref().ok_or_else(|| Error::Internal("blue-green strategy without [deploy.blue_green]".into()))
}

/// The AppSpec (JSON) for `td`.
pub fn appspec(spec: &Spec, bg: &BlueGreenSection, td: &str, svc: &ServiceState) -> String {
    let mut props = serde_json::json!({
        "TaskDefinition": td,
        "LoadBalancerInfo": {"ContainerName": spec.container(), "ContainerPort": bg.container_port},
    });
    let def = spec.file.service.definition.as_ref();
    if let Some(p) =
        def.and_then(|d| d.platform_version.clone()).or_else(|| bg.platform_version.clone()).or_else(|| svc.platform_version.clone())
    {
        props["PlatformVersion"] = p.into();
    }
    // NetworkConfiguration: all three keys or none; without it CodeDeploy keeps the service's.
    if def.and_then(|d| d.network.as_ref()).is_some()
        && let Some(n) = crate::plan::settings::service_network(spec, svc)
    {
        props["NetworkConfiguration"] = serde_json::json!({"AwsvpcConfiguration": {
            "Subnets": n.subnets,
            "SecurityGroups": n.security_groups,
            "AssignPublicIp": if n.assign_public_ip { "ENABLED" } else { "DISABLED" },
        }});
    } else if let Some(subnets) = &bg.subnets {
        let live = svc.network.as_ref();
        props["NetworkConfiguration"] = serde_json::json!({"AwsvpcConfiguration": {
            "Subnets": subnets,
            "SecurityGroups": bg.security_groups.clone().or_else(|| live.map(|n| n.security_groups.clone())).unwrap_or_default(),
            "AssignPublicIp": if bg.assign_public_ip.or(live.map(|n| n.assign_public_ip)).unwrap_or(false) { "ENABLED" } else { "DISABLED" },
        }});
    }
    if let Some(items) = def.and_then(|d| d.capacity_provider_strategy.as_ref()).filter(|i| !i.is_empty()) {
        props["CapacityProviderStrategy"] = items
            .iter()
            .map(|c| serde_json::json!({"CapacityProvider": c.capacity_provider, "Weight": c.weight, "Base": c.base}))
            .collect();
    } else if !bg.capacity_providers.is_empty() {
        props["CapacityProviderStrategy"] =
            bg.capacity_providers.iter().map(|c| serde_json::json!({"CapacityProvider": c, "Weight": 1, "Base": 0})).collect();
    }
    let mut doc = serde_json::json!({
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": props}}],
    });
    if !bg.hooks.is_empty() {
        doc["Hooks"] = bg.hooks.iter().map(|(stage, f)| serde_json::json!({stage: f})).collect();
    }
    doc.to_string()
}

/// How to watch a CodeDeploy deployment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Watch {
    pub(crate) timeout: Duration,
    /// Where `timeout` comes from (named when it passes).
    pub(crate) setting: crate::engine::TimeoutSetting,
    /// Return once the deployment is created.
    pub(crate) no_wait: bool,
    /// Wait through the blue termination wait.
    pub(crate) wait_termination: bool,
}

/// What is known of a CodeDeploy deployment's pace when fgdeploy starts to follow it.
pub(crate) struct Forecast {
    /// Seconds after `created_at` at which green was Ready last time.
    pub(crate) ready_in: Option<f64>,
    pub(crate) created_at: f64,
    /// Already past Ready (traffic moving or done) when fgdeploy attached.
    pub(crate) past_gate: bool,
}

/// The state of one CodeDeploy watch, between looks.
pub(crate) struct CdWatch {
    id: String,
    /// `<cluster>:<service>`, the deployment target.
    target: String,
    deadline: f64,
    watch: Watch,
    last_status: CdStatus,
    last_target_at: f64,
    last_green: f64,
    gate_done: bool,
    /// Only true once fgdeploy's own checks passed and fgdeploy itself continued the deployment.
    gate_passed: bool,
    /// Production traffic is all on green and the deployment target says `Succeeded`: the blue
    /// termination wait has begun (AWS's workaround for aws/containers-roadmap#269: CodeDeploy
    /// never sets `instanceTerminationWaitTimeStarted` for ECS).
    termination_wait: bool,
    events_seen: Vec<(crate::states::CdLifecycleEvent, crate::states::CdEventStatus)>,
    schedule: Option<Schedule>,
    shifts: Vec<f64>,
    shifting: bool,
    /// The canary judge's state (#29).
    judging: judging::CdJudging,
}

/// The deployment group deploys this ECS service: an ECS group (CreateDeploymentGroup requires
/// ecsServices on the ECS platform; one that names none, or another platform, deploys no ECS
/// service) that names it.
fn group_deploys_the_service(spec: &Spec, group: &DeploymentGroup) -> Result<()> {
    let (application, group_name) = (&group.application, &group.name);
    if group.compute_platform.as_ref().is_some_and(|p| *p != crate::states::ComputePlatform::Ecs) || group.ecs_services.is_empty() {
        return Err(Error::usage(
            format!(
                "CodeDeploy deployment group {application}/{group_name} is not an ECS deployment group (compute platform {}, no ecsServices)",
                group.compute_platform.as_ref().map_or("not given", |p| p.as_str())
            ),
            "name the ECS deployment group of the service (deploy.blue_green.application and deployment_group)",
        ));
    }
    if !group.ecs_services.iter().any(|(_, s)| s == spec.service()) {
        return Err(Error::usage(
            format!("deployment group {group_name} deploys {:?}, not {}", group.ecs_services, spec.service()),
            "name the service's own deployment group",
        ));
    }
    Ok(())
}

/// What one CodeDeploy status means to the watch (pure; the watch acts on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CdStep {
    /// Not decisive: look again.
    Wait,
    /// Ready and fgdeploy gates the shift: run the checks against the test listener.
    RunGate,
    /// Ready in a group fgdeploy does not gate (no checks): continue it.
    ContinueUngated,
    /// Succeeded after fgdeploy's gate passed.
    Succeeded,
    /// Succeeded although fgdeploy never passed its gate.
    Bypassed,
    /// Failed or Stopped: follow the rollback.
    Failed,
}

fn cd_decide(status: &CdStatus, gated: bool, gate_done: bool, gate_passed: bool) -> CdStep {
    match status {
        CdStatus::Succeeded if !gate_passed => CdStep::Bypassed,
        CdStatus::Succeeded => CdStep::Succeeded,
        CdStatus::Failed | CdStatus::Stopped => CdStep::Failed,
        CdStatus::Ready if !gate_done => CdStep::RunGate,
        // A STOP_DEPLOYMENT group without checks: nothing to verify, go on.
        CdStatus::Ready if !gated => CdStep::ContinueUngated,
        CdStatus::Ready | CdStatus::Created | CdStatus::Queued | CdStatus::InProgress | CdStatus::Baking | CdStatus::Unknown(_) => {
            CdStep::Wait
        }
    }
}

/// What the forecast moments are about: Ready (or an end) before traffic moves, the green
/// weight afterwards.
fn cd_progressed(status: &CdStatus, changed: bool, shifting: bool, green_moved: bool) -> bool {
    let ended = matches!(status, CdStatus::Succeeded | CdStatus::Failed | CdStatus::Stopped);
    if shifting { green_moved || (changed && ended) } else { changed && (ended || *status == CdStatus::Ready) }
}

/// What a deadline means for a CodeDeploy deployment (pure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CdDeadline {
    /// Traffic is all on green, the termination wait has begun and fgdeploy's gate passed: a
    /// successful release, never rolled back.
    Deployed,
    /// Traffic moves (or moved) although fgdeploy never passed its gate: someone else's shift.
    Theirs,
    /// Anything else: stop it with rollback.
    RollBack,
}

fn cd_deadline_step(w: &CdWatch) -> CdDeadline {
    let terminating = w.last_green >= 100.0 && w.termination_wait;
    if !w.gate_passed && (w.shifting || w.last_green > 0.0) {
        CdDeadline::Theirs
    } else if terminating && w.gate_passed {
        CdDeadline::Deployed
    } else {
        CdDeadline::RollBack
    }
}

/// Whether the test-listener checks gate the release: only when the group stops in Ready
/// (STOP_DEPLOYMENT); checks on a group that continues by itself are refused unless
/// `--no-test-gate`. A Ready wait shorter than `check_budget` is a warning.
fn test_gate(bg: &BlueGreenSection, group: &DeploymentGroup, no_test_gate: bool) -> Result<(bool, Option<String>)> {
    let stops = group.ready_action == Some(crate::states::ReadyAction::StopDeployment);
    let gated = stops && !bg.checks.is_empty();
    if !bg.checks.is_empty() && !stops && !no_test_gate {
        return Err(Error::usage(
            format!(
                "deployment group {} continues to production traffic by itself (deploymentReadyOption {}), so the test-listener checks cannot gate the release",
                group.name,
                group.ready_action.as_ref().map_or("CONTINUE_DEPLOYMENT", |a| a.as_str())
            ),
            "set the group's deploymentReadyOption to STOP_DEPLOYMENT with a wait time longer than check_budget, or pass --no-test-gate",
        ));
    }
    let short = gated && f64::from(group.ready_wait_minutes) * 60.0 < bg.check_budget.as_secs_f64();
    Ok((
        gated,
        short.then(|| {
            format!(
                "the group waits {} min in Ready, less than check_budget {}: CodeDeploy may stop the deployment first",
                group.ready_wait_minutes,
                humantime::format_duration(bg.check_budget)
            )
        }),
    ))
}

pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl CodeDeploy<'_> {
    /// Before anything changes: the deployment group, the gate, a deployment in progress.
    pub(crate) async fn preflight(&self, spec: &Spec, svc: &ServiceState, no_test_gate: bool, force: bool) -> Result<BlueGreen> {
        let bg = section(spec)?;
        if svc.deployment_controller != crate::ports::Controller::CodeDeploy {
            return Err(Error::usage(
                format!(
                    "service {} uses the {} deployment controller; blue/green needs CODE_DEPLOY or ECS",
                    spec.service(),
                    svc.deployment_controller
                ),
                "use strategy = \"rolling\", or move the service to the ECS or CODE_DEPLOY controller",
            ));
        }
        let (app_default, group_default) =
            crate::engine::init_names(spec.cluster().rsplit('/').next().unwrap_or(spec.cluster()), spec.service());
        let application = bg.application.clone().unwrap_or(app_default);
        let group_name = bg.deployment_group.clone().unwrap_or(group_default);
        let group = self
            .retry("codedeploy:GetDeploymentGroup", || self.ports.codedeploy.deployment_group(&application, &group_name))
            .await
            .map_err(|e| match e {
                Error::Aws(PortError::NotFound { .. }) => Error::usage(
                    format!("CodeDeploy deployment group {application}/{group_name} does not exist"),
                    "set deploy.blue_green.application and deployment_group to the service's group",
                ),
                e => e,
            })?;
        group_deploys_the_service(spec, &group)?;
        let (gated, warning) = test_gate(bg, &group, no_test_gate)?;
        if let Some(w) = warning {
            self.warn(w);
        }
        if !force {
            let active =
                self.retry("codedeploy:ListDeployments", || self.ports.codedeploy.active_deployments(&application, &group_name)).await?;
            if !active.is_empty() {
                return Err(Error::Conflict(format!(
                    "deployment group {group_name} already has an active deployment: {}\n  fix: wait for it (fgdeploy status), or stop it (fgdeploy rollback)",
                    active.join(", ")
                )));
            }
        }
        let test_url = match (&bg.test_url, group.test_listeners.first()) {
            (Some(u), _) => Some(u.clone()),
            (None, Some(l)) => Some(self.listener_url(l).await?),
            (None, None) => None,
        };
        if gated && test_url.is_none() {
            return Err(Error::usage(
                format!("deployment group {group_name} has no test listener, so there is nothing to check"),
                "add a testTrafficRoute to the group, or set deploy.blue_green.test_url",
            ));
        }
        let production_url = match (&bg.production_url, group.prod_listeners.first(), bg.production_checks) {
            (Some(u), _, _) => Some(u.clone()),
            (None, Some(l), true) => Some(self.listener_url(l).await?),
            _ => None,
        };
        let judge = self.cd_judge_preflight(spec, &group, svc).await?;
        Ok(BlueGreen { application, group, test_url, production_url, gated, judge })
    }

    pub(crate) async fn listener_url(&self, arn: &str) -> Result<String> {
        let l = self.retry("elasticloadbalancing:DescribeListeners", || self.ports.elb.listener(arn)).await?;
        let lb = l.load_balancer_arn.clone().unwrap_or_default();
        let dns = self.retry("elasticloadbalancing:DescribeLoadBalancers", || self.ports.elb.load_balancer_dns(&lb)).await?;
        let scheme = if l.protocol == Some(crate::states::ListenerProtocol::Https) { "https" } else { "http" };
        Ok(format!("{scheme}://{dns}{}", l.port.map(|p| format!(":{p}")).unwrap_or_default()))
    }

    /// Seconds from CreateDeployment to Ready, as the group's last succeeded deployment took
    /// (ListDeployments + GetDeploymentTarget: its first lifecycle event's start to the end of
    /// AfterAllowTestTraffic). None when CodeDeploy cannot say.
    pub(crate) async fn codedeploy_ready_forecast(&self, b: &BlueGreen, target: &str) -> Option<f64> {
        let ids = self.ports.codedeploy.succeeded_deployments(&b.application, &b.group.name).await.ok()?;
        let t = self.ports.codedeploy.deployment_target(ids.first()?, target).await.ok()?;
        ready_secs(&t)
    }

    /// CreateDeployment; after a transient error, an active deployment that appeared is adopted
    /// rather than a second one created — only when it carries this release's AppSpec (its
    /// SHA-256): a colleague's deployment of another revision is theirs, never followed.
    pub(crate) async fn create_cd_deployment(&self, b: &BlueGreen, config: Option<&str>, appspec: &str) -> Result<String> {
        let sha = sha256_hex(appspec);
        let mut backoff = crate::engine::backoff::Backoff::calls();
        for attempt in 1..=6 {
            match self.ports.codedeploy.create_deployment(&b.application, &b.group.name, config, appspec, &sha).await {
                Ok(id) => return Ok(id),
                Err(e) if e.is_retryable() && attempt < 6 => {
                    self.warn(format!("{e}; checking whether the deployment was created"));
                    self.pause(backoff.next(self.ports.clock.now())).await;
                    if let Some(id) = self.adopt_cd_deployment(b, &sha).await? {
                        return Ok(id);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Internal("create_cd_deployment: loop ended".into()))
    }

    /// After an ambiguous CreateDeployment: the group's active deployment if it carries this
    /// release's AppSpec; a Conflict when the active one is someone else's; None when none is.
    pub(crate) async fn adopt_cd_deployment(&self, b: &BlueGreen, sha: &str) -> Result<Option<String>> {
        let Ok(active) = self.ports.codedeploy.active_deployments(&b.application, &b.group.name).await else { return Ok(None) };
        let mut theirs = Vec::new();
        for id in active {
            match self.ports.codedeploy.deployment(&id).await {
                Ok(d) if d.appspec_sha256.as_deref() == Some(sha) => {
                    self.info(format!("CreateDeployment took effect: following {id}, which carries this release's AppSpec"));
                    return Ok(Some(id));
                }
                _ => theirs.push(id),
            }
        }
        if theirs.is_empty() {
            return Ok(None);
        }
        Err(Error::Conflict(format!(
            "CreateDeployment failed, and deployment group {} now has an active deployment that is not this release's (another AppSpec): {}\n  fix: it is someone else's; wait for it (fgdeploy status), then release again",
            b.group.name,
            theirs.join(", ")
        )))
    }

    /// The deploy stage of a CodeDeploy blue/green release. Ok(deployment id) on success.
    pub(crate) async fn deploy_codedeploy(
        &self,
        spec: &Spec,
        b: &BlueGreen,
        svc: &ServiceState,
        new_td: &str,
        watch: Watch,
    ) -> Result<Option<String>> {
        let bg = section(spec)?;
        let content = appspec(spec, bg, new_td, svc);
        let target = format!("{}:{}", spec.cluster().rsplit('/').next().unwrap_or(spec.cluster()), spec.service());
        // Read before CreateDeployment: afterwards the newest deployment of the group is ours.
        let ready_in = if b.gated { self.codedeploy_ready_forecast(b, &target).await } else { None };
        let created_at = self.ports.clock.now();
        // The judge compares the revision this release registers with the live one.
        let judged = BlueGreen {
            judge: b
                .judge
                .clone()
                .map(|j| crate::engine::deploy::preflight::CdJudge { green_revision: crate::ports::revision_of(new_td).to_string(), ..j }),
            ..b.clone()
        };
        let b = &judged;
        let id = self.create_cd_deployment(b, bg.deployment_config.as_deref(), &content).await?;
        self.emit(Event::DeploymentStarted {
            deployment_id: id.clone(),
            service_deployment_arn: None,
            task_definition: new_td.to_string(),
        });
        // The journal says which deployment is this release's before anything else happens.
        self.renew_lease(false).await?;
        if watch.no_wait {
            return Ok(None);
        }
        self.follow_codedeploy(spec, b, (id, target), watch, Forecast { ready_in, created_at, past_gate: false }).await
    }

    /// Follow CodeDeploy deployment `id` (of `target`, `<cluster>:<service>`) to its end: the
    /// gate at Ready, the traffic shifts, the rollback on failure. `past_gate`: it was already
    /// past Ready when fgdeploy attached (`wait`), so its gate is not fgdeploy's to run or judge.
    pub(crate) async fn follow_codedeploy(
        &self,
        spec: &Spec,
        b: &BlueGreen,
        (id, target): (String, String),
        watch: Watch,
        f: Forecast,
    ) -> Result<Option<String>> {
        let bg = section(spec)?;
        let gate_open = !b.gated || f.past_gate;
        // Green is ready for test traffic when it was last time; once traffic starts to move, the
        // configuration says when it moves next.
        let mut w = CdWatch {
            id,
            target,
            deadline: self.ports.clock.now() + watch.timeout.as_secs_f64(),
            watch,
            last_status: CdStatus::default(),
            last_target_at: f64::NEG_INFINITY,
            last_green: -1.0,
            gate_done: gate_open,
            gate_passed: gate_open,
            events_seen: Vec::new(),
            schedule: f.ready_in.map(|r| self.schedule(f.created_at, &[r])),
            shifts: codedeploy_shift_moments(
                bg.deployment_config.as_deref().or(b.group.deployment_config.as_deref()).unwrap_or("CodeDeployDefault.ECSAllAtOnce"),
            ),
            termination_wait: false,
            shifting: f.past_gate,
            judging: judging::CdJudging { since: f.created_at, ..Default::default() },
        };
        let first = self.cd_first_look(&mut w, f.ready_in);
        self.drive(&mut CdRun { e: *self, spec, b, w }, first).await
    }

    /// Say what the pace is based on; CreateDeployment's answer is the first look, the next is
    /// worth a call near Ready.
    pub(crate) fn cd_first_look(&self, w: &mut CdWatch, ready_in: Option<f64>) -> Duration {
        if let Some(r) = ready_in {
            self.info(format!(
                "pace: last time green was ready for test traffic {r:.0} s after the deployment was created; looking then (at most {HEARTBEAT_SECS:.0} s apart)"
            ));
        }
        w.schedule.as_mut().map_or(Duration::ZERO, |s| Duration::from_secs_f64(s.first(self.ports.clock.now())))
    }

    /// Ctrl-C / SIGTERM while a CodeDeploy deployment runs: detach, or stop it with rollback.
    pub(crate) async fn cd_interrupted(&self, spec: &Spec, id: &str) -> Error {
        if spec.file.rollback.on_interrupt == OnInterrupt::Detach {
            return Error::Detached(format!(
                "interrupted; CodeDeploy deployment {id} goes on without fgdeploy. Watch it with `fgdeploy status -f {}`",
                spec.path.display()
            ));
        }
        self.stop_and_follow(spec, id, "interrupted (Ctrl-C / SIGTERM)").await
    }

    /// GetDeployment (a transient failure is the driver's: it backs off and looks again).
    pub(crate) async fn cd_read(&self, spec: &Spec, w: &CdWatch) -> Result<CdDeployment> {
        match self.ports.codedeploy.deployment(&w.id).await {
            // An answer about another deployment says nothing of this one: a bad read, looked at
            // again (the driver backs off), never taken as this deployment's end.
            Ok(d) if d.answered_id.as_deref().is_some_and(|a| a != w.id) => Err(Error::Aws(PortError::Transient {
                op: "codedeploy:GetDeployment".into(),
                message: format!("the answer is about deployment {}, not {}", d.answered_id.unwrap_or_default(), w.id),
            })),
            Ok(d) => Ok(d),
            Err(e) if e.is_retryable() => Err(Error::Aws(e)),
            Err(e) => Err(Error::ManualAction {
                reason: format!("lost track of CodeDeploy deployment {}: {e}", w.id),
                state: "the deployment goes on without fgdeploy; production traffic may be on either task set".into(),
                next: format!("`fgdeploy status -f {0}`; `fgdeploy rollback -f {0}` stops it with rollback", spec.path.display()),
            }),
        }
    }

    /// GetDeploymentTarget when it can have changed: the green weight, and the traffic shown.
    pub(crate) async fn cd_look_target(&self, w: &mut CdWatch, d: &CdDeployment, now: f64, changed: bool) -> f64 {
        // Task-set weights change only at the forecast shifts; elsewhere look every 15 s
        // (before traffic moves: the green task set coming up) or every minute.
        let due = w.schedule.as_ref().is_some_and(|s| s.due(now));
        let every = if w.schedule.as_ref().is_some_and(Schedule::forecasting) { 60.0 } else { 15.0 };
        let mut green = w.last_green;
        if (changed || due || now - w.last_target_at >= every)
            && let Ok(t) = self.ports.codedeploy.deployment_target(&w.id, &w.target).await
        {
            w.last_target_at = now;
            w.judging.target_groups = judging::task_set_target_groups(&t).or(w.judging.target_groups.take());
            green = t.task_sets.iter().find(|s| s.label == Some(crate::states::TaskSetLabel::Green)).map_or(0.0, |s| s.traffic_weight);
            w.termination_wait = green >= 100.0 && t.status == Some(crate::states::CdTargetStatus::Succeeded);
            let blue =
                t.task_sets.iter().find(|s| s.label == Some(crate::states::TaskSetLabel::Blue)).map_or(100.0 - green, |s| s.traffic_weight);
            if changed || green != w.last_green || t.lifecycle_events != w.events_seen {
                self.emit(Event::Traffic { blue, green, status: d.status.clone(), lifecycle: t.lifecycle_events.clone() });
                w.events_seen = t.lifecycle_events.clone();
            }
        }
        green
    }

    /// What the deployment's status means: its end, or fgdeploy's gate at Ready.
    pub(crate) async fn cd_on_status(
        &self,
        spec: &Spec,
        b: &BlueGreen,
        w: &mut CdWatch,
        d: &CdDeployment,
    ) -> Result<Option<Result<Option<String>>>> {
        let id = w.id.clone();
        match cd_decide(&d.status, b.gated, w.gate_done, w.gate_passed) {
            CdStep::Bypassed => {
                let url = b.production_url.clone().or_else(|| b.test_url.clone());
                let why = format!(
                    "CodeDeploy deployment {id} reached Succeeded without being Ready to fgdeploy (someone rerouted traffic, or the group's ready option changed)"
                );
                Ok(Some(Err(Checks(self.0).gate_bypassed(spec, why, url.as_deref()).await)))
            }
            CdStep::Succeeded => Ok(Some(Ok(Some(id)))),
            CdStep::Failed => {
                let why = d.error.clone().unwrap_or_else(|| format!("the deployment is {}", d.status));
                Ok(Some(Err(self.follow_cd_rollback(spec, d, why, crate::engine::Deadline::automatic_rollback(spec).pair()).await)))
            }
            CdStep::RunGate => {
                w.gate_done = true;
                let url = b.test_url.clone().unwrap_or_default();
                self.info(format!("green is up behind the test listener; checking {url}"));
                if let Err(e) = Checks(self.0).run_checks(spec, &url, "test-listener").await {
                    let why = Checks(self.0).checks_failure(spec, &format!("CodeDeploy deployment {id}"), "test-listener", &e)?;
                    return Ok(Some(Err(self.stop_and_follow(spec, &id, &why).await)));
                }
                if let Err(e) = self.cd_continue(spec, b, w).await {
                    return Ok(Some(Err(e)));
                }
                w.gate_passed = true;
                self.info("ContinueDeployment(READY_WAIT): production traffic starts moving to green");
                Ok(None)
            }
            CdStep::ContinueUngated => Ok(self.cd_continue(spec, b, w).await.err().map(Err)),
            CdStep::Wait => Ok(None),
        }
    }

    /// ContinueDeployment(READY_WAIT), then look at the traffic shifts. A refused continue is
    /// read again before anything is done: someone may have rerouted traffic in the meantime
    /// (their shift is theirs: exit 11), or CodeDeploy may have ended it.
    pub(crate) async fn cd_continue(&self, spec: &Spec, b: &BlueGreen, w: &mut CdWatch) -> std::result::Result<(), Error> {
        let id = w.id.clone();
        if let Err(e) = self.retry("codedeploy:ContinueDeployment", || self.ports.codedeploy.continue_deployment(&id, "READY_WAIT")).await {
            let again = self.retry("codedeploy:GetDeployment", || self.ports.codedeploy.deployment(&id)).await;
            return Err(match again {
                Ok(d) if matches!(d.status, CdStatus::InProgress | CdStatus::Baking | CdStatus::Succeeded) => {
                    let why = format!(
                        "ContinueDeployment was refused ({e}): CodeDeploy deployment {id} is {} — production traffic was rerouted outside fgdeploy",
                        d.status
                    );
                    let url = b.production_url.clone().or_else(|| b.test_url.clone());
                    Checks(self.0).gate_bypassed(spec, why, url.as_deref()).await
                }
                Ok(d) if matches!(d.status, CdStatus::Failed | CdStatus::Stopped) => {
                    let why = format!("ContinueDeployment failed ({e}); the deployment is {}", d.status);
                    self.follow_cd_rollback(spec, &d, why, crate::engine::Deadline::automatic_rollback(spec).pair()).await
                }
                _ => self.stop_and_follow(spec, &id, &format!("ContinueDeployment failed: {e}")).await,
            });
        }
        w.schedule = Some(self.schedule(self.ports.clock.now(), &w.shifts));
        w.shifting = true;
        Ok(())
    }

    /// After a look: the production checks at each traffic step, the early end of a release
    /// that does not wait for the blue termination, and traffic moving outside fgdeploy.
    pub(crate) async fn cd_after_look(
        &self,
        spec: &Spec,
        b: &BlueGreen,
        w: &mut CdWatch,
        (d, green, now): (&CdDeployment, f64, f64),
    ) -> Result<Option<Result<Option<String>>>> {
        let bg = section(spec)?;
        if bg.production_checks
            && green > 0.0
            && green < 100.0
            && green != w.last_green
            && let Some(url) = &b.production_url
        {
            self.info(format!("{green} % of production traffic on green; checking {url}"));
            if let Err(e) = Checks(self.0).run_checks(spec, url, "production").await {
                let why = Checks(self.0).checks_failure(
                    spec,
                    &format!("CodeDeploy deployment {}", w.id),
                    &format!("production ({green} %)"),
                    &e,
                )?;
                return Ok(Some(Err(self.stop_and_follow(spec, &w.id, &why).await)));
            }
        }
        let terminating = green >= 100.0 && (d.termination_wait_started || w.termination_wait);
        if terminating && !w.gate_passed {
            // Someone else moved every request to green ("Reroute traffic"): their shift is
            // theirs, never rolled back; the new revision serves.
            let why = format!(
                "CodeDeploy deployment {} moved all production traffic to green and is in its blue termination wait, but fgdeploy's gate never passed (someone rerouted traffic outside fgdeploy)",
                w.id
            );
            let url = b.production_url.clone().or_else(|| b.test_url.clone());
            return Ok(Some(Err(Checks(self.0).gate_bypassed(spec, why, url.as_deref()).await)));
        }
        if terminating && !w.watch.wait_termination {
            self.info(
                "100 % of traffic is on green and the blue termination wait has begun; not waiting for it (--wait-termination waits)",
            );
            return Ok(Some(Ok(Some(w.id.clone()))));
        }
        if !w.gate_passed && green > 0.0 && !w.shifting {
            self.warn(format!(
                "production traffic is moving to green ({green} %) before fgdeploy's checks ran: the deployment was continued outside fgdeploy"
            ));
        }
        if !w.shifting && green > 0.0 {
            // Shifting started by itself (a CONTINUE_DEPLOYMENT group): count from now.
            w.schedule = Some(self.schedule(now, &w.shifts));
            w.shifting = true;
        }
        Ok(None)
    }

    /// StopDeployment with rollback, then follow the rollback deployment. With automatic
    /// rollback off (`rollback.automatic = false`, or `wait` without `--rollback`) the failure is
    /// reported and the deployment left as it is.
    pub(crate) async fn stop_and_follow(&self, spec: &Spec, id: &str, reason: &str) -> Error {
        let limit = crate::engine::Deadline::automatic_rollback(spec).pair();
        self.stop_and_follow_within(spec, id, reason, limit).await
    }

    /// [`Self::stop_and_follow`], the rollback deployment followed for `limit` (`rollback
    /// --timeout`) instead of `rollback.timeout`.
    pub(crate) async fn stop_and_follow_within(&self, spec: &Spec, id: &str, reason: &str, limit: (Duration, TimeoutSetting)) -> Error {
        if !spec.file.rollback.automatic {
            return Error::ManualAction {
                reason: reason.to_string(),
                state: format!("automatic rollback is off; CodeDeploy deployment {id} is left as it is (not stopped, not rolled back)"),
                next: format!("`fgdeploy status -f {0}`; `fgdeploy rollback -f {0}` stops it with rollback", spec.path.display()),
            };
        }
        self.emit(Event::RollbackStarted {
            reason: reason.to_string(),
            to: "blue".into(),
            how: format!("StopDeployment({id}, autoRollbackEnabled=true)"),
        });
        if let Err(e) = self.retry("codedeploy:StopDeployment", || self.ports.codedeploy.stop_deployment(id, true)).await {
            return Error::ManualAction {
                reason: format!("{reason}; then StopDeployment failed: {e}"),
                state: format!("CodeDeploy deployment {id} may still be shifting traffic to green"),
                next: format!(
                    "stop it in the console or with `aws deploy stop-deployment --deployment-id {id} --auto-rollback-enabled`, then `fgdeploy status -f {}`",
                    spec.path.display()
                ),
            };
        }
        match self.retry("codedeploy:GetDeployment", || self.ports.codedeploy.deployment(id)).await {
            Ok(d) => self.follow_cd_rollback(spec, &d, reason.to_string(), limit).await,
            Err(e) => Error::ManualAction {
                reason: reason.into(),
                state: format!("unknown: {e}"),
                next: format!("`fgdeploy status -f {}`", spec.path.display()),
            },
        }
    }

    /// The rollback deployment is a new deployment id: wait on it.
    pub(crate) async fn follow_cd_rollback(
        &self,
        spec: &Spec,
        d: &CdDeployment,
        reason: String,
        limit: (Duration, TimeoutSetting),
    ) -> Error {
        let path = spec.path.display();
        let mut d = d.clone();
        if d.rollback_deployment_id.is_none() {
            let id = d.id.clone();
            let id = &id;
            let started = self.read_back(Looks::after_pause(5), || async move {
                Ok::<_, std::convert::Infallible>(
                    self.ports.codedeploy.deployment(id).await.ok().filter(|again| again.rollback_deployment_id.is_some()),
                )
            });
            let Ok(started) = started.await;
            if let Some(again) = started {
                d = again;
            }
        }
        let Some(rid) = d.rollback_deployment_id.clone() else {
            return Error::ManualAction {
                reason,
                state: format!(
                    "CodeDeploy deployment {} is {} and started no rollback (is auto-rollback enabled on the group?)",
                    d.id, d.status
                ),
                next: format!(
                    "check where production traffic points (`fgdeploy status -f {path}`); `fgdeploy rollback -f {path}` redeploys the previous revision"
                ),
            };
        };
        self.info(format!("following rollback deployment {rid}"));
        let deadline = self.ports.clock.now() + limit.0.as_secs_f64();
        let mut w = CdRollbackWait { e: *self, spec, rid, reason, deadline, setting: limit.1 };
        self.drive(&mut w, Duration::ZERO).await.unwrap_or_else(|e| e)
    }
}

/// A CodeDeploy deployment looked at through [`Engine::drive`]: GetDeployment a look (and
/// GetDeploymentTarget when the traffic can have moved); the gate at Ready; at the deadline or on
/// Ctrl-C, StopDeployment with rollback (or detach), then the rollback deployment followed.
struct CdRun<'a> {
    e: CodeDeploy<'a>,
    spec: &'a Spec,
    b: &'a BlueGreen,
    w: CdWatch,
}

impl Watched for CdRun<'_> {
    type Out = Option<String>;

    fn limit(&self) -> Limit {
        Limit { at: self.w.deadline, setting: self.w.watch.setting.name(), what: "the deployment", interruptible: true }
    }

    fn evented(&self) -> bool {
        true
    }

    async fn look(&mut self, now: f64) -> Result<Next<Option<String>>> {
        let (e, spec, b) = (self.e, self.spec, self.b);
        let d = e.cd_read(spec, &self.w).await?;
        let w = &mut self.w;
        let changed = d.status != w.last_status;
        let green = e.cd_look_target(w, &d, now, changed).await;
        w.last_status = d.status.clone();
        if let Some(end) = e.cd_on_status(spec, b, w, &d).await? {
            return end.map(Next::Done);
        }
        if let Some(end) = e.cd_after_look(spec, b, w, (&d, green, now)).await? {
            return end.map(Next::Done);
        }
        if let Some(stopped) = e.cd_judge(spec, b, w, (green, now)).await? {
            return Err(stopped);
        }
        // While green serves part of production traffic, the judge looks every minute.
        let judging = b.judge.is_some() && green > 0.0 && green < 100.0;
        let progressed = cd_progressed(&d.status, changed, w.shifting, green != w.last_green);
        w.last_green = green;
        Ok(Next::Again(match w.schedule.as_mut() {
            Some(s) => {
                let next = s.next(now, Seen { changed, progressed, trouble: false });
                let next = if judging { next.min(60.0) } else { next };
                Pause::after(Duration::from_secs_f64(next), changed).with_moment(s.until_moment(now, next).map(Duration::from_secs_f64))
            }
            None if judging => Pause::after(Duration::from_secs(60), changed),
            None => Pause::adaptive(changed),
        }))
    }

    async fn cut(&mut self, why: Cut) -> Result<Next<Option<String>>> {
        let (e, spec, b, w) = (self.e, self.spec, self.b, &self.w);
        let id = &w.id;
        Err(match (why, cd_deadline_step(w)) {
            (Cut::Interrupt, _) => e.cd_interrupted(spec, id).await,
            (Cut::Deadline, CdDeadline::Deployed) => {
                e.warn(format!(
                    "{} passed during the blue termination wait: production traffic is all on green and fgdeploy's gate passed, so the release is deployed; CodeDeploy ends deployment {id} when the wait is over",
                    w.watch.setting
                ));
                return Ok(Next::Done(Some(id.clone())));
            }
            (Cut::Deadline, CdDeadline::Theirs) => {
                let why = format!(
                    "{} passed while CodeDeploy deployment {id} shifted production traffic that fgdeploy never released (someone rerouted it before fgdeploy's gate passed); it is not rolled back",
                    w.watch.setting
                );
                let url = b.production_url.clone().or_else(|| b.test_url.clone());
                Checks(e.0).gate_bypassed(spec, why, url.as_deref()).await
            }
            (Cut::Deadline, CdDeadline::RollBack) => {
                let why = format!("the deployment did not finish within {}", w.watch.setting);
                e.stop_and_follow(spec, id, &why).await
            }
        })
    }
}

/// The rollback deployment CodeDeploy started, followed until it ends or its limit
/// (`rollback.timeout`, or `rollback --timeout`) passes (not cut short by Ctrl-C). Its outcome is the release's error.
struct CdRollbackWait<'a> {
    e: CodeDeploy<'a>,
    spec: &'a Spec,
    rid: String,
    reason: String,
    deadline: f64,
    setting: TimeoutSetting,
}

impl Watched for CdRollbackWait<'_> {
    type Out = Error;

    fn limit(&self) -> Limit {
        Limit { at: self.deadline, setting: self.setting.name(), what: "the rollback deployment", interruptible: false }
    }

    async fn look(&mut self, _now: f64) -> Result<Next<Error>> {
        let (e, rid, reason) = (self.e, &self.rid, std::mem::take(&mut self.reason));
        let path = self.spec.path.display();
        let r = match e.ports.codedeploy.deployment(rid).await {
            Ok(r) => r,
            // Looked at again in 5 s, whatever went wrong: the rollback goes on without us.
            Err(_) => {
                self.reason = reason;
                return Ok(Next::Again(Pause::after(Duration::from_secs(5), false)));
            }
        };
        Ok(Next::Done(match r.status {
            CdStatus::Succeeded => {
                e.emit(Event::RollbackFinished { ok: true, serving: "blue (the previous revision)".into() });
                Error::RolledBack { reason, serving: format!("the blue task set (rollback deployment {rid})") }
            }
            CdStatus::Failed | CdStatus::Stopped => {
                e.emit(Event::RollbackFinished { ok: false, serving: String::new() });
                Error::ManualAction {
                    reason: format!("{reason}; then rollback deployment {rid} ended {}", r.status),
                    state: r.error.unwrap_or_else(|| "production traffic may be split between blue and green".into()),
                    next: format!("inspect the deployment in the CodeDeploy console; `fgdeploy status -f {path}`"),
                }
            }
            _ => {
                self.reason = reason;
                return Ok(Next::Again(Pause::after(Duration::from_secs(5), false)));
            }
        }))
    }

    async fn cut(&mut self, _why: Cut) -> Result<Next<Error>> {
        Ok(Next::Done(Error::ManualAction {
            reason: std::mem::take(&mut self.reason),
            state: format!(
                "rollback deployment {} did not finish within rollback.timeout ({})",
                self.rid,
                humantime::format_duration(self.spec.file.rollback.timeout)
            ),
            next: format!("`fgdeploy status -f {}`", self.spec.path.display()),
        }))
    }
}

impl CodeDeploy<'_> {
    /// CODE_DEPLOY services: stop the active deployment with rollback, or redeploy the previous
    /// revision through CodeDeploy (without the checks gate: a rollback is not held up).
    pub(crate) async fn rollback_codedeploy(
        &self,
        spec: &Spec,
        svc: &ServiceState,
        to: Option<&str>,
        (dry_run, no_wait, allow_family_change): (bool, bool, bool),
        (timeout, setting): (Duration, TimeoutSetting),
    ) -> Result<RollbackPlan> {
        let current = svc.task_definition.clone();
        let status = crate::engine::status::codedeploy_status(spec, &self.ports).await?;
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
        let (target, source) = Revisions(self.0).target_revision(spec, svc, to, allow_family_change).await?;
        let plan = RollbackPlan { current: current.clone(), target: target.clone(), action: "redeploy-previous".into(), source };
        if dry_run || target == current {
            return Ok(plan);
        }
        let group = self
            .retry("codedeploy:GetDeploymentGroup", || {
                self.ports.codedeploy.deployment_group(&status.application, &status.deployment_group)
            })
            .await?;
        let b =
            BlueGreen { application: status.application.clone(), group, test_url: None, production_url: None, gated: false, judge: None };
        self.emit(Event::RollbackStarted {
            reason: "manual rollback".into(),
            to: target.clone(),
            how: "a CodeDeploy deployment of the previous revision".into(),
        });
        self.deploy_codedeploy(spec, &b, svc, &target, self::Watch { timeout, setting, no_wait, wait_termination: false }).await?;
        Ok(plan)
    }

    /// A CodeDeploy deployment: the group's active one (or the one named).
    pub(crate) async fn wait_codedeploy(
        &self,
        spec: &Spec,
        svc: &ServiceState,
        o: &WaitOptions,
        (timeout, setting): (Duration, TimeoutSetting),
    ) -> Result<WaitReport> {
        let b = self.preflight(spec, svc, true, true).await?;
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
        Ok(WaitReport { kind: super::Kind::CodeDeploy.name(), deployment: id, task_definition: td, outcome: "deployed" })
    }
}

impl Deployer for CodeDeploy<'_> {
    async fn release(
        &self,
        spec: &Spec,
        opts: &ReleaseOptions,
        ready: ReadyRelease,
        (t, stages): (f64, &mut Vec<StageTime>),
    ) -> Result<ReleaseReport> {
        let ReadyRelease { plan, live, new_td, preflight, .. } = ready;
        let Preflight::CodeDeploy(bg) = preflight else { return Err(Error::Internal("a CodeDeploy release without its preflight".into())) };
        let deadline = Deadline::deploy(opts.timeout, spec);
        Calls(self.0).tag_service(&live.service.arn, &plan).await?;
        if !plan.update.settings.is_empty() {
            // The grace period and tag propagation go by UpdateService alone (no task
            // definition); the network, platform and capacity go in the AppSpec.
            let settings_only =
                UpdateService { task_definition: String::new(), desired_count: None, deployment_config: None, ..plan.update.clone() };
            Calls(self.0).update_service_once(&settings_only).await?;
        }
        let watch =
            Watch { timeout: deadline.duration, setting: deadline.setting, no_wait: opts.no_wait, wait_termination: opts.wait_termination };
        let done = self.deploy_codedeploy(spec, &bg, &live.service, &new_td, watch).await?;
        self.stage_end(Stage::Deploy, t, stages);
        if done.is_none() {
            return Ok(ReleaseReport { plan, outcome: "started", task_definition: Some(new_td) });
        }
        Verify(self.0).verify_blue_green(spec, &new_td, stages).await?;
        Ok(ReleaseReport { plan, outcome: "deployed", task_definition: Some(new_td) })
    }

    async fn attach(&self, spec: &Spec, svc: &ServiceState, o: &WaitOptions, deadline: Deadline) -> Result<WaitReport> {
        self.wait_codedeploy(spec, svc, o, deadline.pair()).await
    }

    async fn rollback(&self, spec: &Spec, svc: &ServiceState, o: &RollbackOptions, deadline: Deadline) -> Result<RollbackPlan> {
        let flags = (o.dry_run, o.no_wait, o.allow_family_change);
        self.rollback_codedeploy(spec, svc, o.to.as_deref(), flags, deadline.pair()).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_is_hex_of_the_exact_bytes() {
        assert_eq!(crate::engine::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn progress_is_ready_or_an_end_before_the_shift_and_the_green_weight_after() {
        use super::cd_progressed;
        use crate::states::CdStatus::{self, *};
        // (status, changed, shifting, green moved) → progressed
        let cases: [(CdStatus, bool, bool, bool, bool); 12] = [
            (Ready, true, false, false, true),
            (Succeeded, true, false, false, true),
            (Failed, true, false, false, true),
            (Stopped, true, false, false, true),
            (InProgress, true, false, false, false),
            (Ready, false, false, false, false),
            (Ready, false, false, true, false),
            (InProgress, false, true, true, true),
            (InProgress, true, true, false, false),
            (Succeeded, true, true, false, true),
            (Succeeded, false, true, false, false),
            (Ready, true, true, false, false),
        ];
        for (status, changed, shifting, moved, want) in cases {
            assert_eq!(
                cd_progressed(&status, changed, shifting, moved),
                want,
                "{status:?} changed={changed} shifting={shifting} moved={moved}"
            );
        }
    }

    #[test]
    fn every_codedeploy_status_has_its_step() {
        use super::{CdStep, cd_decide};
        use crate::states::CdStatus;
        // (status, gated, gate_done, gate_passed) → step
        let cases = [
            ("Succeeded", true, true, true, CdStep::Succeeded),
            ("Succeeded", true, true, false, CdStep::Bypassed),
            ("Succeeded", false, true, true, CdStep::Succeeded),
            ("Failed", true, true, true, CdStep::Failed),
            ("Stopped", true, false, false, CdStep::Failed),
            ("Ready", true, false, false, CdStep::RunGate),
            ("Ready", true, true, true, CdStep::Wait),
            ("Ready", false, true, true, CdStep::ContinueUngated),
            ("Created", true, false, false, CdStep::Wait),
            ("Queued", true, false, false, CdStep::Wait),
            ("InProgress", true, false, false, CdStep::Wait),
            ("Baking", true, true, true, CdStep::Wait),
            ("SomethingNew", true, false, false, CdStep::Wait),
        ];
        for (status, gated, done, passed, want) in cases {
            let parsed = CdStatus::from_aws(status);
            assert_eq!(cd_decide(&parsed, gated, done, passed), want, "{status} gated={gated} done={done} passed={passed}");
        }
    }
}
