//! Simulated CodeDeploy ECS blue/green and the ELB listeners in front of it.
//!
//! A deployment walks BeforeInstall → Install (the green task set starts and turns healthy,
//! or never does) → AfterInstall → AllowTestTraffic → AfterAllowTestTraffic → (Ready, when the
//! group waits with STOP_DEPLOYMENT) → BeforeAllowTraffic → AllowTraffic (all at once, canary or
//! linear steps of production traffic) → AfterAllowTraffic → the blue termination wait →
//! Succeeded. StopDeployment with rollback reroutes traffic to blue through a new rollback
//! deployment. The load balancers' DNS name is 127.0.0.1, so a test listener's port can be a
//! real HTTP server on loopback.

use super::mutation::Mutation;
use super::state::*;
use crate::ports::*;
#[allow(unused_imports)]
use crate::states::*;
use crate::states::{CdEventStatus, CdLifecycleEvent, CdStatus, CdTargetStatus, ComputePlatform, ListenerProtocol, ReadyAction};

/// Green traffic % after `elapsed` seconds of shifting with a CodeDeploy ECS config.
pub(crate) fn green_weight(config: &str, elapsed: f64) -> f64 {
    let name = config.strip_prefix("CodeDeployDefault.").unwrap_or(config).to_ascii_lowercase();
    let num = |s: &str| -> Option<f64> { s.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok() };
    if let Some(rest) = name.strip_prefix("ecscanary") {
        let (p, m) = (num(rest).unwrap_or(10.0), rest.split("percent").nth(1).and_then(num).unwrap_or(5.0));
        return if elapsed < m * 60.0 { p } else { 100.0 };
    }
    if let Some(rest) = name.strip_prefix("ecslinear") {
        let (p, m) = (num(rest).unwrap_or(10.0), rest.split("every").nth(1).and_then(num).unwrap_or(1.0));
        return (p * (1.0 + (elapsed / (m * 60.0)).floor())).min(100.0);
    }
    100.0
}

/// Green's weights from the moment shifting begins (`since`), as `green_weight` moves them:
/// (time, percent) at each change, sampled every 15 s, up to 100 % (or 6 hours).
pub(crate) fn shift_history(config: &str, since: f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for k in 0..1440 {
        let t = f64::from(k) * 15.0;
        let w = green_weight(config, t);
        if out.last().is_none_or(|(_, last)| *last != w) {
            out.push((since + t, w));
        }
        if w >= 100.0 {
            break;
        }
    }
    out
}

impl World {
    /// A deployment group, with the deployment that put the service's revision in place a day
    /// ago at the world's own pace (its lifecycle-event times are what fgdeploy's forecast reads).
    pub(crate) fn seed_deployment_group(&mut self, g: CdGroupSeed) {
        let blue = self.service_td(&g.cluster, &g.service).unwrap_or_default();
        let config = g.deployment_config.clone();
        self.cd.groups.push(g);
        let created = self.now() - 86_400.0;
        let started = created + 1.0;
        let ready = started + self.task_set_ready_secs(0, true);
        let id = format!("d-{}", &self.next_hex()[..9].to_ascii_uppercase());
        let mut d = CdDep::new(id, self.cd.groups.len() - 1, blue.clone(), blue, config, CdStatus::Succeeded, Phase::Done);
        (d.green, d.max_green, d.term_started) = (100.0, 100.0, true);
        // Install runs from the start until green is healthy; the test-traffic hooks end then;
        // production traffic took the canary's five minutes.
        for e in LIFECYCLE {
            let (from, to) = match e {
                CdLifecycleEvent::BeforeInstall => (started, started),
                CdLifecycleEvent::Install => (started, ready),
                CdLifecycleEvent::AfterInstall | CdLifecycleEvent::AllowTestTraffic | CdLifecycleEvent::AfterAllowTestTraffic => {
                    (ready, ready)
                }
                _ => (ready, ready + 300.0),
            };
            set_event(&mut d, e.clone(), CdEventStatus::InProgress, from);
            set_event(&mut d, e.clone(), CdEventStatus::Succeeded, to);
        }
        self.cd.deps.push(d);
    }

    /// Succeeded deployments of a group, newest first.
    pub(crate) fn succeeded_cd_deployments(&self, app: &str, name: &str) -> Vec<String> {
        let Some(g) = self.cd_group(app, name) else { return Vec::new() };
        self.cd
            .deps
            .iter()
            .rev()
            .filter(|d| d.group == g && d.status == CdStatus::Succeeded && !d.is_rollback)
            .map(|d| d.id.clone())
            .collect()
    }

    fn cd_group(&self, app: &str, name: &str) -> Option<usize> {
        self.cd.groups.iter().position(|g| g.application == app && g.group == name)
    }

    fn listener_arn(g: &CdGroupSeed, kind: &str) -> String {
        format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/{}/50dc6c495c0c9188/{kind}", g.service)
    }

    pub fn deployment_group(&self, app: &str, name: &str) -> PortResult<DeploymentGroup> {
        let i = self.cd_group(app, name).ok_or_else(|| PortError::NotFound {
            op: "codedeploy:GetDeploymentGroup".into(),
            message: format!("DeploymentGroupDoesNotExistException: No Deployment Group found for name: {name}"),
        })?;
        let g = &self.cd.groups[i];
        Ok(DeploymentGroup {
            application: g.application.clone(),
            name: g.group.clone(),
            deployment_config: Some(g.deployment_config.clone()),
            ready_action: Some(g.ready_action.clone()),
            ready_wait_minutes: g.ready_wait_minutes,
            auto_rollback_enabled: !g.rollback_events.is_empty(),
            auto_rollback_events: g.rollback_events.clone(),
            target_groups: vec![format!("{}-blue", g.service), format!("{}-green", g.service)],
            prod_listeners: vec![Self::listener_arn(g, "prod")],
            test_listeners: g.test_port.map(|_| Self::listener_arn(g, "test")).into_iter().collect(),
            terminate_action: Some("TERMINATE".into()),
            termination_wait_minutes: g.termination_wait_minutes,
            ecs_services: vec![(g.cluster.clone(), g.service.clone())],
            compute_platform: Some(ComputePlatform::Ecs),
        })
    }

    /// Change a seeded group's deploymentReadyOption action (tests).
    pub fn set_ready_action(&mut self, app: &str, name: &str, action: &str) {
        if let Some(i) = self.cd_group(app, name) {
            self.cd.groups[i].ready_action = ReadyAction::from_aws(action);
        }
    }

    /// Change a group's blue termination wait and deployment config (tests).
    pub fn set_group_waits(&mut self, app: &str, name: &str, termination_wait_minutes: i32, config: Option<&str>) {
        if let Some(i) = self.cd_group(app, name) {
            self.cd.groups[i].termination_wait_minutes = termination_wait_minutes;
            if let Some(c) = config {
                self.cd.groups[i].deployment_config = c.to_string();
            }
        }
    }

    /// Someone clicks "Reroute traffic" on a Ready deployment (ContinueDeployment in the console).
    pub(crate) fn reroute_traffic(&mut self, id: &str) -> PortResult<()> {
        self.continue_cd(id, "READY_WAIT")
    }

    pub(crate) fn listener(&self, arn: &str) -> PortResult<Listener> {
        for g in &self.cd.groups {
            for (kind, port) in [("prod", Some(g.prod_port)), ("test", g.test_port)] {
                if arn == Self::listener_arn(g, kind) {
                    return Ok(Listener {
                        arn: arn.into(),
                        port: port.map(i32::from),
                        protocol: Some(ListenerProtocol::Http),
                        load_balancer_arn: Some(format!(
                            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/{}/50dc6c495c0c9188",
                            g.service
                        )),
                    });
                }
            }
        }
        Err(PortError::NotFound { op: "elasticloadbalancing:DescribeListeners".into(), message: format!("ListenerNotFound: {arn}") })
    }

    pub fn active_cd_deployments(&self, app: &str, name: &str) -> Vec<String> {
        let Some(g) = self.cd_group(app, name) else { return Vec::new() };
        self.cd
            .deps
            .iter()
            .filter(|d| d.group == g && !matches!(d.status, CdStatus::Succeeded | CdStatus::Failed | CdStatus::Stopped))
            .map(|d| d.id.clone())
            .collect()
    }

    pub fn create_cd_deployment(&mut self, app: &str, name: &str, config: Option<&str>, appspec: &str, sha256: &str) -> PortResult<String> {
        let op = "codedeploy:CreateDeployment";
        let g = self
            .cd_group(app, name)
            .ok_or_else(|| PortError::NotFound { op: op.into(), message: format!("DeploymentGroupDoesNotExistException: {name}") })?;
        use sha2::Digest as _;
        let hex: String = sha2::Sha256::digest(appspec.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        if hex != sha256 {
            return Err(PortError::Rejected {
                op: op.into(),
                code: "InvalidRevisionException".into(),
                message: "The AppSpec content's sha256 does not match.".into(),
            });
        }
        let spec: serde_json::Value = serde_json::from_str(appspec).map_err(|e| PortError::Rejected {
            op: op.into(),
            code: "InvalidRevisionException".into(),
            message: format!("AppSpec is not JSON: {e}"),
        })?;
        let td = spec["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"].as_str().unwrap_or_default().to_string();
        if self.describe_task_definition(&td).is_err() {
            return Err(PortError::Rejected {
                op: op.into(),
                code: "InvalidRevisionException".into(),
                message: format!("task definition {td} not found"),
            });
        }
        if !self.active_cd_deployments(app, name).is_empty() {
            return Err(PortError::Rejected {
                op: op.into(),
                code: "DeploymentLimitExceededException".into(),
                message: "The number of allowed deployments was exceeded.".into(),
            });
        }
        let id = format!("d-{}", &self.next_hex()[..9].to_ascii_uppercase());
        let named = config.map(str::to_string);
        let config = named.clone().unwrap_or_else(|| self.cd.groups[g].deployment_config.clone());
        let (cluster, service) = (self.cd.groups[g].cluster.clone(), self.cd.groups[g].service.clone());
        let blue = self.service_td(&cluster, &service).unwrap_or_default();
        self.mutations.push((self.now(), Mutation::CreateDeployment { id: id.clone(), task_definition: td.to_string(), config: named }));
        let mut d = CdDep::new(id.clone(), g, td, blue, config, CdStatus::Created, Phase::Install { healthy_at: None, fail_at: 0.0 });
        d.appspec_sha256 = Some(hex);
        self.cd.deps.push(d);
        Ok(id)
    }

    fn dep(&self, id: &str, op: &str) -> PortResult<usize> {
        self.cd
            .deps
            .iter()
            .position(|d| d.id == id)
            .ok_or_else(|| PortError::NotFound { op: op.into(), message: format!("DeploymentDoesNotExistException: {id}") })
    }

    pub(crate) fn cd_deployment(&self, id: &str) -> PortResult<CdDeployment> {
        let d = &self.cd.deps[self.dep(id, "codedeploy:GetDeployment")?];
        Ok(CdDeployment {
            id: d.id.clone(),
            status: d.status.clone(),
            error: d.error.clone(),
            rollback_deployment_id: d.rollback_id.clone(),
            rollback_message: d.rollback_message.clone(),
            // As AWS behaves: never set for ECS deployments (aws/containers-roadmap#269).
            termination_wait_started: false,
            appspec_sha256: d.appspec_sha256.clone(),
            answered_id: Some(d.id.clone()),
        })
    }

    pub(crate) fn cd_target_ids(&self, id: &str) -> PortResult<Vec<String>> {
        let d = &self.cd.deps[self.dep(id, "codedeploy:ListDeploymentTargets")?];
        let g = &self.cd.groups[d.group];
        Ok(vec![format!("{}:{}", g.cluster, g.service)])
    }

    pub(crate) fn cd_target(&self, id: &str) -> PortResult<CdTarget> {
        let d = &self.cd.deps[self.dep(id, "codedeploy:GetDeploymentTarget")?];
        let g = &self.cd.groups[d.group];
        let desired = self.service_desired(&g.cluster, &g.service).unwrap_or(1) as i64;
        let green_running = match &d.phase {
            Phase::Install { healthy_at: Some(h), .. } if self.now() >= *h => desired,
            Phase::Install { .. } => 0,
            Phase::RollingBack { .. } | Phase::Done if d.is_rollback || d.status != CdStatus::Succeeded => 0,
            _ => desired,
        };
        // The target turns Succeeded when the blue termination wait begins, while the deployment
        // is still InProgress (AWS's answer in aws/containers-roadmap#269).
        let target_status = if d.term_started && d.status == CdStatus::InProgress {
            CdTargetStatus::Succeeded
        } else {
            CdTargetStatus::from_aws(d.status.as_str())
        };
        Ok(CdTarget {
            status: Some(target_status),
            lifecycle_events: d.events.clone(),
            event_times: d
                .events
                .iter()
                .map(|(n, _)| {
                    let (start, end) = d.times.get(n).copied().unwrap_or_default();
                    (n.clone(), start, end)
                })
                .collect(),
            task_sets: vec![
                TaskSetInfo {
                    id: "ecs-svc/blue".into(),
                    label: Some(crate::states::TaskSetLabel::Blue),
                    status: Some("PRIMARY".into()),
                    desired,
                    running: desired,
                    pending: 0,
                    traffic_weight: 100.0 - d.green,
                    target_group: Some(format!("{}-blue", g.service)),
                },
                TaskSetInfo {
                    id: "ecs-svc/green".into(),
                    label: Some(crate::states::TaskSetLabel::Green),
                    status: Some("ACTIVE".into()),
                    desired,
                    running: green_running,
                    pending: desired - green_running,
                    traffic_weight: d.green,
                    target_group: Some(format!("{}-green", g.service)),
                },
            ],
            // The simulator's groups run no Lambda hooks: no event carries diagnostics.
            failures: Vec::new(),
        })
    }

    /// The most production traffic a deployment ever sent to green (tests).
    pub fn max_green(&self, id: &str) -> Option<f64> {
        self.cd.deps.iter().find(|d| d.id == id).map(|d| d.max_green)
    }

    pub(crate) fn continue_cd(&mut self, id: &str, wait_type: &str) -> PortResult<()> {
        let op = "codedeploy:ContinueDeployment";
        let i = self.dep(id, op)?;
        let now = self.now();
        let d = &mut self.cd.deps[i];
        match (wait_type, &d.phase) {
            ("READY_WAIT", Phase::Ready { .. }) => {
                d.status = CdStatus::InProgress;
                set_event(d, CdLifecycleEvent::BeforeAllowTraffic, CdEventStatus::Succeeded, now);
                set_event(d, CdLifecycleEvent::AllowTraffic, CdEventStatus::InProgress, now);
                d.phase = Phase::Shifting { since: now };
            }
            ("READY_WAIT", _) => {
                return Err(PortError::Rejected {
                    op: op.into(),
                    code: "DeploymentIsNotInReadyStateException".into(),
                    message: format!("The deployment {id} does not have a status of Ready and can't continue yet."),
                });
            }
            ("TERMINATION_WAIT", Phase::Terminating { .. }) => d.phase = Phase::Terminating { until: now },
            _ => {}
        }
        self.mutations.push((now, Mutation::ContinueDeployment { id: id.to_string(), wait_type: wait_type.to_string() }));
        Ok(())
    }

    pub(crate) fn stop_cd(&mut self, id: &str, rollback: bool) -> PortResult<()> {
        let op = "codedeploy:StopDeployment";
        let i = self.dep(id, op)?;
        if matches!(self.cd.deps[i].status, CdStatus::Succeeded | CdStatus::Failed | CdStatus::Stopped) {
            return Err(PortError::Rejected {
                op: op.into(),
                code: "DeploymentAlreadyCompletedException".into(),
                message: format!("{id} is already completed"),
            });
        }
        let now = self.now();
        self.mutations.push((now, Mutation::StopDeployment { id: id.to_string(), rollback }));
        self.cd.deps[i].status = CdStatus::Stopped;
        self.cd.deps[i].error = Some("DEPLOYMENT_STOPPED: the deployment was stopped by a request".into());
        self.cd.deps[i].phase = Phase::Done;
        if rollback {
            self.start_cd_rollback(i, "The deployment was stopped and rolled back by request");
        }
        Ok(())
    }

    fn start_cd_rollback(&mut self, i: usize, message: &str) {
        let now = self.now();
        let id = format!("d-{}", &self.next_hex()[..9].to_ascii_uppercase());
        let (group, td, blue, config, green) = {
            let d = &self.cd.deps[i];
            (d.group, d.td.clone(), d.blue.clone(), d.config.clone(), d.green)
        };
        self.cd.deps[i].rollback_id = Some(id.clone());
        self.cd.deps[i].rollback_message = Some(message.into());
        self.cd.deps[i].green = 0.0;
        // Production traffic is back on blue from now on.
        self.cd.deps[i].weights.retain(|(t, _)| *t < now);
        self.cd.deps[i].weights.push((now, 0.0));
        // Traffic goes back to blue: the service keeps (or gets back) the blue revision.
        let g = self.cd.groups[group].clone();
        self.set_service_td(&g.cluster, &g.service, &blue);
        let mut d = CdDep::new(id, group, td, blue, config, CdStatus::InProgress, Phase::RollingBack { until: now + 30.0 });
        d.green = green;
        d.is_rollback = true;
        self.cd.deps.push(d);
    }

    /// A created deployment starts installing green: healthy after the task start and health
    /// times, or never (unhealthy images fail after 300 s).
    fn start_cd_install(&mut self, i: usize, now: f64) {
        let image = self.td_image(&self.cd.deps[i].td);
        let unhealthy = self.faults.unhealthy.iter().chain(self.faults.fail_start.iter()).any(|p| image.contains(p.as_str()));
        let g = &self.cd.groups[self.cd.deps[i].group];
        let tasks = self.desired_of(&g.cluster.clone(), &g.service.clone());
        let ready = now + self.task_set_ready_secs(tasks, false);
        let d = &mut self.cd.deps[i];
        d.status = CdStatus::InProgress;
        set_event(d, CdLifecycleEvent::BeforeInstall, CdEventStatus::Succeeded, now);
        set_event(d, CdLifecycleEvent::Install, CdEventStatus::InProgress, now);
        d.phase = if unhealthy {
            Phase::Install { healthy_at: Some(f64::INFINITY), fail_at: now + 300.0 }
        } else {
            Phase::Install { healthy_at: Some(ready), fail_at: f64::INFINITY }
        };
    }

    /// Green's install: failed at `fail_at` (rolled back when the group says so), else healthy at
    /// `healthy_at`, then Ready (a group that stops) or shifting traffic.
    fn step_cd_install(&mut self, i: usize, g: &CdGroupSeed, (healthy_at, fail_at): (f64, f64), now: f64) {
        if now >= fail_at {
            let d = &mut self.cd.deps[i];
            set_event(d, CdLifecycleEvent::Install, CdEventStatus::Failed, now);
            d.status = CdStatus::Failed;
            d.error = Some(
                "HEALTH_CONSTRAINTS: The deployment failed because a specified number of ECS tasks were unable to reach a healthy state."
                    .into(),
            );
            d.phase = Phase::Done;
            if g.rollback_events.iter().any(|e| e == "DEPLOYMENT_FAILURE") {
                self.start_cd_rollback(i, "Automatic rollback: the deployment failed");
            }
        } else if now >= healthy_at {
            let d = &mut self.cd.deps[i];
            for e in [
                CdLifecycleEvent::Install,
                CdLifecycleEvent::AfterInstall,
                CdLifecycleEvent::AllowTestTraffic,
                CdLifecycleEvent::AfterAllowTestTraffic,
            ] {
                set_event(d, e, CdEventStatus::Succeeded, now);
            }
            if g.ready_action == ReadyAction::StopDeployment && !self.faults.gate_bypassed {
                d.status = CdStatus::Ready;
                d.phase = Phase::Ready { since: now };
            } else {
                set_event(d, CdLifecycleEvent::BeforeAllowTraffic, CdEventStatus::Succeeded, now);
                set_event(d, CdLifecycleEvent::AllowTraffic, CdEventStatus::InProgress, now);
                d.phase = Phase::Shifting { since: now };
            }
        }
    }

    pub(super) fn step_codedeploy(&mut self) {
        let now = self.now();
        for i in 0..self.cd.deps.len() {
            let g = self.cd.groups[self.cd.deps[i].group].clone();
            let phase = self.cd.deps[i].phase.clone();
            match phase {
                Phase::Install { healthy_at: None, .. } if self.cd.deps[i].status == CdStatus::Created => self.start_cd_install(i, now),
                Phase::Install { healthy_at: Some(h), fail_at } => self.step_cd_install(i, &g, (h, fail_at), now),
                Phase::Ready { since } if now >= since + f64::from(g.ready_wait_minutes) * 60.0 => {
                    let d = &mut self.cd.deps[i];
                    d.status = CdStatus::Stopped;
                    d.error = Some("TIMEOUT: the deployment was not continued within the ready wait time".into());
                    d.phase = Phase::Done;
                    if g.rollback_events.iter().any(|e| e == "DEPLOYMENT_STOP_ON_REQUEST") {
                        self.start_cd_rollback(i, "Automatic rollback: stopped at the end of the ready wait");
                    }
                }
                Phase::Shifting { since } => {
                    let w = green_weight(&self.cd.deps[i].config, now - since);
                    let d = &mut self.cd.deps[i];
                    if d.weights.is_empty() {
                        d.weights = shift_history(&d.config, since);
                    }
                    d.green = w;
                    d.max_green = d.max_green.max(w);
                    if w >= 100.0 {
                        set_event(d, CdLifecycleEvent::AllowTraffic, CdEventStatus::Succeeded, now);
                        set_event(d, CdLifecycleEvent::AfterAllowTraffic, CdEventStatus::Succeeded, now);
                        d.term_started = true;
                        self.terminal_log.push((now, "GREEN_100".into()));
                        d.phase = Phase::Terminating { until: now + f64::from(g.termination_wait_minutes) * 60.0 };
                        let td = d.td.clone();
                        self.set_service_td(&g.cluster, &g.service, &td);
                    }
                }
                Phase::Terminating { until } if now >= until => {
                    let d = &mut self.cd.deps[i];
                    d.status = CdStatus::Succeeded;
                    d.phase = Phase::Done;
                }
                Phase::RollingBack { until } if now >= until => {
                    let d = &mut self.cd.deps[i];
                    d.green = 0.0;
                    d.status = CdStatus::Succeeded;
                    d.phase = Phase::Done;
                }
                _ => {}
            }
        }
    }
}

fn set_event(d: &mut CdDep, name: CdLifecycleEvent, status: CdEventStatus, now: f64) {
    let ends = status != CdEventStatus::InProgress;
    if let Some(e) = d.events.iter_mut().find(|(n, _)| *n == name) {
        e.1 = status;
    }
    // Start and end times, as GetDeploymentTarget reports them.
    let t = d.times.entry(name).or_insert((None, None));
    t.0.get_or_insert(now);
    if ends {
        t.1 = Some(now);
    }
}
