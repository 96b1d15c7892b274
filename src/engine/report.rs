//! When a release fails, one page that says why (#26): what fgdeploy collects at failure time,
//! before AWS forgets (stopped tasks are kept about an hour), and the one pure decision of what
//! it means ([`diagnose`]).
//!
//! Collection is bounded: at most [`MAX_CALLS`] read calls per report, in this order —
//! DescribeServices (the service's events); for a CodeDeploy deployment ListDeploymentTargets
//! and GetDeploymentTarget (its lifecycle events, a hook's answer, the green task set);
//! DescribeAlarms of the service's deployment alarms and DescribeAlarmHistory of at most
//! [`MAX_ALARM_HISTORIES`] of them in ALARM; ListTasks (the deployment's, or the green task
//! set's, stopped tasks) and DescribeTasks (the newest [`MAX_TASKS`]); DescribeTargetHealth and
//! DescribeTargetGroups when a task failed the load balancer's checks; DescribeTaskDefinition
//! (where the containers log) and, with the calls left, GetLogEvents for the essential
//! containers of the newest [`MAX_LOGGED_TASKS`] failed tasks (one page each, its last
//! [`LOG_LINES`] lines). A read that fails is named in the report (`unread`); a report never
//! changes the exit code of the release.

use crate::error::{Error, Result};
use crate::ports::{AlarmChange, AlarmState, LifecycleFailure, PortError, Ports, ServiceState, Task};
use crate::spec::Spec;
use crate::states::StopCode;
use crate::states::{AlarmStateValue, CdEventStatus, CdLifecycleEvent};
use serde::Serialize;

/// The read calls one report may make.
pub const MAX_CALLS: usize = 14;
/// fgdeploy's own decisions kept in a report's timeline (the newest).
pub const MAX_DECISIONS: usize = 30;
/// Alarms in ALARM whose history is read.
pub const MAX_ALARM_HISTORIES: usize = 2;
/// History entries read per alarm.
pub const ALARM_HISTORY: usize = 5;
/// Stopped tasks described.
pub const MAX_TASKS: usize = 20;
/// Failed tasks whose logs are read.
pub const MAX_LOGGED_TASKS: usize = 2;
/// Log lines kept per container.
pub const LOG_LINES: usize = 20;

/// One container of a stopped task.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ContainerExit {
    pub name: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// The last lines a container logged, or where its logs went.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ContainerLog {
    pub container: String,
    pub lines: Vec<String>,
    /// Set when the lines could not be read here: where they are (another log driver, a
    /// stream that does not exist, a refused read).
    pub elsewhere: Option<String>,
}

/// One stopped task of the deployment.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StoppedTask {
    pub task_id: String,
    pub stop_code: Option<StopCode>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<ContainerExit>,
    pub logs: Vec<ContainerLog>,
}

/// What fgdeploy collected at failure time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Evidence {
    /// The service's events, oldest first, with their times (seconds since the epoch).
    pub timeline: Vec<(Option<f64>, String)>,
    /// fgdeploy's decisions and what it did, oldest first, with their times (seconds since the
    /// epoch): stages, the revision, the deployment, traffic steps, failed tasks, warnings, the
    /// rollback. No read call: the engine kept them as it went.
    pub decisions: Vec<(f64, String)>,
    /// The deployment's stopped tasks, newest first.
    pub stopped_tasks: Vec<StoppedTask>,
    /// The load balancer's view, when a task failed its health checks: the target group's
    /// targets (DescribeTargetHealth) and what its health check asks (DescribeTargetGroups).
    pub targets: Vec<crate::ports::TargetHealth>,
    pub health_check: Option<crate::ports::HealthCheck>,
    /// The service's deployment alarms (DescribeAlarms) and the state changes of those in ALARM
    /// (DescribeAlarmHistory), newest first.
    pub alarms: Vec<AlarmState>,
    pub alarm_history: Vec<AlarmChange>,
    /// A CodeDeploy deployment's target: its lifecycle events and what failed in them.
    pub codedeploy: Option<CodeDeployEvidence>,
    /// What could not be read (permissions, throttling), by call.
    pub unread: Vec<String>,
    /// Read calls made for the report.
    pub calls: usize,
}

impl Evidence {
    /// One read call of the report, counted: its answer, or `None` with the failure named in
    /// `unread`.
    fn read<T>(&mut self, answer: crate::ports::PortResult<T>) -> Option<T> {
        self.calls += 1;
        answer.map_err(|e| self.unread.push(e.to_string())).ok()
    }
}

/// What GetDeploymentTarget says of a CodeDeploy deployment's ECS target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CodeDeployEvidence {
    pub deployment: String,
    pub target: String,
    pub lifecycle: Vec<(CdLifecycleEvent, CdEventStatus)>,
    /// Events with diagnostics: the hook's Lambda function, its error code, message and log tail.
    pub failures: Vec<LifecycleFailure>,
}

/// The class of a failure, from the evidence and how the deployment ended.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum Cause {
    /// `CannotPullContainerError`: the image does not exist, the role may not pull it, or the
    /// task cannot reach the registry.
    ImagePull { why: PullFailure, detail: String },
    /// `ResourceInitializationError`: a secret or parameter could not be fetched (or the log
    /// group, or the registry's credentials).
    SecretFetch { detail: String },
    /// An essential container was killed for memory (exit 137, `OutOfMemoryError`).
    OutOfMemory { container: String, detail: String },
    /// A container's own health check failed.
    ContainerHealthCheck { detail: String },
    /// The load balancer's health check failed.
    LoadBalancerHealthCheck { detail: String },
    /// An essential container exited.
    EssentialExit { container: String, exit_code: Option<i32>, detail: String },
    /// Fargate had no capacity (`RESOURCE:*`, "Capacity is unavailable").
    Capacity { detail: String },
    /// fgdeploy's checks against the test listener failed at the gate.
    GateChecks { detail: String },
    /// Someone continued the deployment past fgdeploy's gate.
    GateBypassed { detail: String },
    /// fgdeploy's canary judge found green worse than blue on the same traffic (#29).
    CanaryAnalysis { detail: String },
    /// A CodeDeploy lifecycle event failed (or CodeDeploy stopped the deployment).
    CodeDeploy { detail: String },
    /// ECS's deployment circuit breaker stopped the deployment.
    CircuitBreaker { detail: String },
    /// A deployment alarm went into ALARM.
    Alarm { detail: String },
    /// The deadline passed.
    Deadline { setting: String },
    /// The operator interrupted the release.
    Interrupted,
    /// Another deployment replaced this one.
    Replaced { by: String },
    /// Nothing collected says more than the deployment's own reason.
    Unknown { detail: String },
    /// `status --why` on a service whose latest deployment did not fail.
    NoFailure { detail: String },
}

/// Why an image could not be pulled, from the registry's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PullFailure {
    NotFound,
    NotAuthorized,
    NoRoute,
    Other,
}

/// The verdict: the cause, said in one line, and the fix.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Diagnosis {
    pub cause: Cause,
    /// The report's first line.
    pub summary: String,
    pub fix: String,
}

/// The report of a failed release: the verdict first, then the evidence.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FailureReport {
    pub deployment: String,
    pub task_definition: String,
    pub diagnosis: Diagnosis,
    pub evidence: Evidence,
}

/// How the deployment ended, as the watch saw it (the report's other input).
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// ECS rolled back or the deployment failed, with its reason.
    Failed(String),
    /// The deadline passed; the setting it came from.
    Deadline(String),
    Interrupted,
    Replaced(String),
    /// The latest deployment did not fail (`status --why`); ECS's reason.
    Succeeded(String),
}

/// The first stopped task whose reason or containers say something, newest first.
fn task_cause(t: &StoppedTask) -> Option<Cause> {
    let reason = t.stopped_reason.clone().unwrap_or_default();
    if reason.contains("CannotPullContainerError") {
        return Some(Cause::ImagePull { why: pull_failure(&reason), detail: reason });
    }
    if reason.contains("ResourceInitializationError") {
        return Some(Cause::SecretFetch { detail: reason });
    }
    if let Some(c) = t.containers.iter().find(|c| c.reason.as_deref().is_some_and(|r| r.contains("OutOfMemory"))) {
        return Some(Cause::OutOfMemory { container: c.name.clone(), detail: c.reason.clone().unwrap_or_default() });
    }
    if reason.contains("failed container health checks") {
        return Some(Cause::ContainerHealthCheck { detail: reason });
    }
    if reason.contains("ELB health checks") || reason.contains("Elastic Load Balancing") {
        return Some(Cause::LoadBalancerHealthCheck { detail: reason });
    }
    if t.stop_code == Some(StopCode::EssentialContainerExited) || reason.contains("Essential container in task exited") {
        let c = t.containers.iter().find(|c| c.exit_code.is_some_and(|x| x != 0));
        return Some(Cause::EssentialExit {
            container: c.map(|c| c.name.clone()).unwrap_or_default(),
            exit_code: c.and_then(|c| c.exit_code),
            detail: c.and_then(|c| c.reason.clone()).unwrap_or(reason),
        });
    }
    None
}

fn pull_failure(reason: &str) -> PullFailure {
    let r = reason.to_ascii_lowercase();
    if ["not found", "manifest unknown", "does not exist"].iter().any(|w| r.contains(w)) {
        PullFailure::NotFound
    } else if ["no basic auth", "unauthorized", "accessdenied", "access denied", "403", "not authorized"].iter().any(|w| r.contains(w)) {
        PullFailure::NotAuthorized
    } else if ["i/o timeout", "dial tcp", "context deadline exceeded", "no route", "connection refused"].iter().any(|w| r.contains(w)) {
        PullFailure::NoRoute
    } else {
        PullFailure::Other
    }
}

/// What the failure was, from how the deployment ended and what was collected (pure). The
/// tasks' own words come first (they say why the deployment could not succeed); then the
/// service's events (capacity), then the deployment's reason (circuit breaker, alarm).
pub fn diagnose(ending: &Ending, evidence: &Evidence) -> Diagnosis {
    let cause = match ending {
        Ending::Interrupted => Cause::Interrupted,
        Ending::Replaced(by) => Cause::Replaced { by: by.clone() },
        Ending::Succeeded(detail) => Cause::NoFailure { detail: detail.clone() },
        // The judge's verdict is the cause: the tasks it rolled back were stopped for it.
        Ending::Failed(r) if r.contains("canary analysis") => Cause::CanaryAnalysis { detail: r.clone() },
        _ => evidence.stopped_tasks.iter().find_map(task_cause).unwrap_or_else(|| from_ending(ending, evidence)),
    };
    let (mut summary, mut fix) = words(&cause);
    let sharper = match cause {
        Cause::LoadBalancerHealthCheck { .. } => Some(lb_words(&summary, &fix, evidence)),
        Cause::Alarm { .. } => alarm_words(evidence),
        Cause::CodeDeploy { .. } => codedeploy_words(&summary, evidence),
        _ => None,
    };
    if let Some((s, f)) = sharper {
        (summary, fix) = (s, f);
    }
    Diagnosis { cause, summary, fix }
}

/// The load balancer's own words: the failing targets' reason code, and what it checks.
fn lb_words(summary: &str, fix: &str, evidence: &Evidence) -> (String, String) {
    let mut summary = summary.to_string();
    let failing = evidence.targets.iter().find(|t| t.reason.is_some() && t.state != crate::states::TargetHealthState::Healthy);
    if let Some(t) = failing {
        let why = [t.reason.as_deref(), t.description.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(": ");
        summary = format!("{summary}; the target group says {why}");
    }
    let fix = match &evidence.health_check {
        Some(h) => {
            let or = |v: &Option<String>, d: &str| v.clone().unwrap_or_else(|| d.to_string());
            format!(
                "the target group checks {} {} on port {} and takes {} as healthy: make the new revision answer that (or change the check), and give a slow start health_check_grace_period",
                or(&h.protocol, "HTTP"),
                or(&h.path, "/"),
                or(&h.port, "traffic-port"),
                or(&h.matcher, "200")
            )
        }
        None => fix.to_string(),
    };
    (summary, fix)
}

/// CloudWatch's own words for the alarm in ALARM: its name, metric, condition and reason.
fn alarm_words(evidence: &Evidence) -> Option<(String, String)> {
    let a = evidence.alarms.iter().find(|a| a.state == AlarmStateValue::Alarm)?;
    let metric = a.metric.as_deref().unwrap_or("its metric");
    let condition = a.condition.as_deref().map(|c| format!(", {c}")).unwrap_or_default();
    let reason = a.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
    Some((
        format!("a deployment alarm went into ALARM: {} ({metric}{condition}){reason}", a.name),
        format!(
            "the new revision moved {metric}: compare it for the new tasks against the old ones; if the alarm fires on noise, tune its threshold or datapoints to alarm (its history is below)"
        ),
    ))
}

/// CodeDeploy's words: the lifecycle event that failed, and a hook's answer when it gave one.
fn codedeploy_words(summary: &str, evidence: &Evidence) -> Option<(String, String)> {
    let cd = evidence.codedeploy.as_ref()?;
    if let Some(f) = cd.failures.iter().find(|f| f.status == CdEventStatus::Failed) {
        let code = f.error_code.as_deref().unwrap_or("no error code");
        let message = f.message.as_deref().unwrap_or("no message");
        let hook = f.script_name.as_deref().map(|s| format!(" (hook {s})")).unwrap_or_default();
        return Some((
            format!("CodeDeploy lifecycle event {}{hook} failed: {code}: {message}", f.event),
            "the hook answered Failed: its log tail is below; fix what it checks in the new revision, or the hook".into(),
        ));
    }
    let (event, _) = cd.lifecycle.iter().find(|(_, s)| *s == CdEventStatus::Failed)?;
    let fix = if evidence.stopped_tasks.is_empty() {
        "Install fails when the green task set's tasks never become healthy; ECS lists none of them stopped now (it keeps them about an hour): the service's events below say what it saw"
    } else {
        "Install fails when the green task set's tasks never become healthy: the stopped tasks below say why"
    };
    Some((format!("{summary}; lifecycle event {event} failed"), fix.into()))
}

fn from_ending(ending: &Ending, evidence: &Evidence) -> Cause {
    if let Some((_, e)) = evidence.timeline.iter().rev().find(|(_, e)| e.contains("Capacity is unavailable") || e.contains("RESOURCE:")) {
        return Cause::Capacity { detail: e.clone() };
    }
    match ending {
        Ending::Deadline(setting) => Cause::Deadline { setting: setting.clone() },
        Ending::Failed(r) if r.starts_with("gate bypassed") => Cause::GateBypassed { detail: r.clone() },
        Ending::Failed(r) if r.contains("checks failed") => Cause::GateChecks { detail: r.clone() },
        Ending::Failed(r) if r.contains("CodeDeploy") || evidence.codedeploy.is_some() => Cause::CodeDeploy { detail: r.clone() },
        Ending::Failed(r) if r.to_ascii_lowercase().contains("circuit breaker") => Cause::CircuitBreaker { detail: r.clone() },
        Ending::Failed(r) if r.to_ascii_lowercase().contains("alarm") => Cause::Alarm { detail: r.clone() },
        Ending::Failed(r) if evidence.alarms.iter().any(|a| a.state == AlarmStateValue::Alarm) => Cause::Alarm { detail: r.clone() },
        Ending::Failed(r) => Cause::Unknown { detail: r.clone() },
        Ending::Interrupted => Cause::Interrupted,
        Ending::Replaced(by) => Cause::Replaced { by: by.clone() },
        Ending::Succeeded(detail) => Cause::NoFailure { detail: detail.clone() },
    }
}

/// The verdict and the fix of an image that could not be pulled.
fn pull_words(why: PullFailure, detail: &str) -> (String, String) {
    let (what, fix) = match why {
        PullFailure::NotFound => ("the image does not exist in its registry", "push the image, or release a tag that exists"),
        PullFailure::NotAuthorized => (
            "the task may not pull the image",
            "give the task execution role ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer (or repositoryCredentials for another registry)",
        ),
        PullFailure::NoRoute => (
            "the task cannot reach the registry",
            "private subnets need a NAT gateway or VPC endpoints (ecr.api, ecr.dkr and the S3 gateway); public subnets need assign_public_ip",
        ),
        PullFailure::Other => ("the image could not be pulled", "read the registry's words below"),
    };
    (format!("image pull failed: {what} ({detail})"), fix.to_string())
}

/// The canary judge's verdict (it names the metric, both values and the test) and its fix.
fn canary_words(detail: &str) -> (String, String) {
    (
        detail.to_string(),
        "the new revision did worse than the old one on the same live traffic, on the metric named above (green against blue, with the test's certainty): find what changed for it; if the difference is expected, widen that metric's tolerance in [analysis] or make it non-critical".into(),
    )
}

/// The verdict's line and the fix, for each cause.
fn words(cause: &Cause) -> (String, String) {
    match cause {
        Cause::ImagePull { why, detail } => pull_words(*why, detail),
        Cause::SecretFetch { detail } => (
            format!("a secret or parameter could not be fetched when the task started ({detail})"),
            "give the task execution role ssm:GetParameters / secretsmanager:GetSecretValue (and kms:Decrypt for a customer key) on the ARNs in `secrets`, and a route to SSM / Secrets Manager (NAT or VPC endpoints)".into(),
        ),
        Cause::OutOfMemory { container, detail } => (
            format!("container {container} ran out of memory ({detail})"),
            "raise the task's (or the container's) memory, or find what grew".into(),
        ),
        Cause::ContainerHealthCheck { detail } => (
            format!("a container's health check failed ({detail})"),
            "run the health check's command in the image; check its interval, retries and startPeriod against the start-up time".into(),
        ),
        Cause::LoadBalancerHealthCheck { detail } => (
            format!("the load balancer's health check failed ({detail})"),
            "check the target group's health-check path, port and success codes against the new revision, and health_check_grace_period for a slow start".into(),
        ),
        Cause::EssentialExit { container, exit_code, detail } => (
            format!(
                "essential container {container} exited{} ({detail})",
                exit_code.map(|c| format!(" with code {c}")).unwrap_or_default()
            ),
            "read its last log lines below; run the image with the task definition's command and environment".into(),
        ),
        Cause::Capacity { detail } => {
            (format!("Fargate had no capacity ({detail})"), "retry later, or add subnets in other Availability Zones / a FARGATE capacity provider next to FARGATE_SPOT".into())
        }
        Cause::CanaryAnalysis { detail } => canary_words(detail),
        Cause::GateChecks { detail } => (
            format!("fgdeploy's checks against the new revision failed at the gate ({detail})"),
            "the URL, the status and the body excerpt above are what the new revision answered behind the test listener: fix the app or the check's expectation".into(),
        ),
        Cause::GateBypassed { detail } => (
            format!("someone continued the deployment past fgdeploy's gate ({detail})"),
            "find out who rerouted the traffic (CodeDeploy \"Reroute traffic\", a group set to CONTINUE_DEPLOYMENT, or the PAUSE hook answered); the new revision serves".into(),
        ),
        Cause::CodeDeploy { detail } => (
            format!("CodeDeploy ended the deployment ({detail})"),
            "the deployment's lifecycle events in the CodeDeploy console say which one failed; `fgdeploy status` shows the target".into(),
        ),
        Cause::CircuitBreaker { detail } => {
            (format!("ECS's circuit breaker stopped the deployment ({detail})"), "the stopped tasks below say why the new tasks kept failing".into())
        }
        Cause::Alarm { detail } => {
            (format!("a deployment alarm went into ALARM ({detail})"), "see the alarm's history in CloudWatch; the new revision moved its metric".into())
        }
        Cause::Deadline { setting } => (
            format!("the deployment did not finish within {setting}"),
            format!("the timeline below shows where it stood; raise {setting} if the rollout is just slow"),
        ),
        Cause::Interrupted => ("interrupted (Ctrl-C / SIGTERM)".into(), "release again when ready".into()),
        Cause::Replaced { by } => (format!("another deployment replaced this release ({by})"), "find out who deployed it".into()),
        Cause::NoFailure { detail } => (format!("the latest deployment did not fail ({detail})"), "nothing to fix".into()),
        Cause::Unknown { detail } => (format!("the deployment failed: {detail}"), "the timeline and the stopped tasks below are what ECS said".into()),
    }
}

/// `status --why`: the report of the service's latest deployment — the newest one ECS's events
/// say failed, else the PRIMARY one — read now (what AWS still keeps), with the same bounds.
pub async fn why(spec: &Spec, ports: &Ports) -> Result<FailureReport> {
    let (cluster, service) = (spec.cluster(), spec.service());
    let svc = ports.ecs.describe_service(cluster, service).await?.ok_or_else(|| {
        Error::Aws(PortError::NotFound {
            op: "ecs:DescribeServices".into(),
            message: format!("service {service} not found in cluster {cluster}"),
        })
    })?;
    // ECS names the deployment in its event: "(service web) (deployment ecs-svc/…) deployment failed: …".
    let failed = svc.events.iter().find_map(|e| {
        let id = e.message.split("(deployment ").nth(1)?.split(')').next()?;
        e.message.contains("deployment failed").then(|| (id.to_string(), e.message.clone()))
    });
    let (deployment, ending, td) = match (failed, svc.primary()) {
        (Some((id, why)), _) => {
            let td = svc.deployment(&id).map(|d| d.task_definition.clone()).unwrap_or_default();
            (id, Ending::Failed(why), td)
        }
        (None, Some(p)) if p.rollout_state == Some(crate::states::RolloutState::Failed) => {
            (p.id.clone(), Ending::Failed(p.rollout_state_reason.clone().unwrap_or_default()), p.task_definition.clone())
        }
        (None, Some(p)) => {
            let how = p.rollout_state_reason.clone().unwrap_or_else(|| "no failure on record".into());
            (p.id.clone(), Ending::Succeeded(how), p.task_definition.clone())
        }
        (None, None) => return Err(Error::usage("the service has no deployment to explain", "see `fgdeploy history`")),
    };
    // The service just read is the report's first read: not read again.
    let mut evidence = Evidence { calls: 1, timeline: timeline(&svc), ..Default::default() };
    alarms_evidence(ports, &svc, &mut evidence).await;
    tasks_evidence(ports, cluster, Some(&svc), &deployment, &mut evidence).await;
    let diagnosis = diagnose(&ending, &evidence);
    Ok(FailureReport { deployment, task_definition: td, diagnosis, evidence })
}

/// Collect the evidence of deployment `deployment_id` of `service` (bounded: [`MAX_CALLS`]).
pub async fn collect_evidence(ports: &Ports, cluster: &str, service: &str, deployment_id: &str) -> Evidence {
    let (mut ev, svc) = service_evidence(ports, cluster, service).await;
    if let Some(svc) = &svc {
        alarms_evidence(ports, svc, &mut ev).await;
    }
    tasks_evidence(ports, cluster, svc.as_ref(), deployment_id, &mut ev).await;
    ev
}

/// The evidence of a failed blue/green release of `new_td`: the service's events; for CodeDeploy
/// deployment `started` its target's lifecycle events and the green task set's stopped tasks;
/// for an ECS-native one the stopped tasks of the deployment that ran `new_td`; the alarms.
pub async fn blue_green_evidence(ports: &Ports, cluster: &str, service: &str, new_td: &str, started: Option<&str>) -> Evidence {
    let (mut ev, svc) = service_evidence(ports, cluster, service).await;
    let Some(svc) = svc else { return ev };
    let green = match (svc.deployment_controller, started) {
        (crate::ports::Controller::CodeDeploy, Some(id)) => codedeploy_evidence(ports, id, &mut ev).await,
        _ => svc.deployments.iter().find(|d| d.task_definition == new_td).map(|d| d.id.clone()),
    };
    alarms_evidence(ports, &svc, &mut ev).await;
    match green {
        Some(id) => tasks_evidence(ports, cluster, Some(&svc), &id, &mut ev).await,
        None => ev.unread.push(format!("the stopped tasks of {new_td}: ECS no longer lists the deployment that ran it")),
    }
    ev
}

/// ListDeploymentTargets and GetDeploymentTarget of a CodeDeploy deployment: its lifecycle
/// events into the evidence; the green task set's id (whose tasks it started) returned.
async fn codedeploy_evidence(ports: &Ports, id: &str, ev: &mut Evidence) -> Option<String> {
    let target = ev.read(ports.codedeploy.deployment_targets(id).await)?.into_iter().next()?;
    let t = ev.read(ports.codedeploy.deployment_target(id, &target).await)?;
    let green = t.task_sets.iter().find(|s| s.label == Some(crate::states::TaskSetLabel::Green)).map(|s| s.id.clone());
    ev.codedeploy = Some(CodeDeployEvidence { deployment: id.to_string(), target, lifecycle: t.lifecycle_events, failures: t.failures });
    green
}

/// The service's deployment alarms: their state (one DescribeAlarms) and the history of those
/// in ALARM (at most [`MAX_ALARM_HISTORIES`] DescribeAlarmHistory).
async fn alarms_evidence(ports: &Ports, svc: &ServiceState, ev: &mut Evidence) {
    let names = match &svc.deployment_config.alarms {
        Some(a) if a.enable && !a.names.is_empty() => a.names.clone(),
        _ => return,
    };
    let Some(alarms) = ev.read(ports.cloudwatch.alarms(&names).await) else { return };
    ev.alarms = alarms;
    let firing: Vec<String> = ev.alarms.iter().filter(|a| a.state == AlarmStateValue::Alarm).map(|a| a.name.clone()).collect();
    for name in firing.iter().take(MAX_ALARM_HISTORIES) {
        if let Some(h) = ev.read(ports.cloudwatch.alarm_history(name, ALARM_HISTORY).await) {
            ev.alarm_history.extend(h);
        }
    }
}

/// The report's first read: the service (one DescribeServices) and its events; a failed read is
/// named in `unread`.
pub(crate) async fn service_evidence(ports: &Ports, cluster: &str, service: &str) -> (Evidence, Option<ServiceState>) {
    let mut ev = Evidence { calls: 1, ..Default::default() };
    match ports.ecs.describe_service(cluster, service).await {
        Ok(Some(svc)) => {
            ev.timeline = timeline(&svc);
            return (ev, Some(svc));
        }
        Ok(None) => ev.unread.push("ecs:DescribeServices: the service does not exist".into()),
        Err(e) => ev.unread.push(e.to_string()),
    }
    (ev, None)
}

/// The deployment's stopped tasks, the load balancer's view when they failed its health checks,
/// and their last log lines (the rest of the report's reads).
async fn tasks_evidence(ports: &Ports, cluster: &str, svc: Option<&ServiceState>, deployment_id: &str, ev: &mut Evidence) {
    let Some(arns) = ev.read(ports.ecs.list_tasks(cluster, deployment_id, true).await) else { return };
    if arns.is_empty() {
        return;
    }
    let newest: Vec<String> = arns.into_iter().rev().take(MAX_TASKS).collect();
    let Some(mut tasks) = ev.read(ports.ecs.describe_tasks(cluster, &newest).await) else { return };
    tasks.sort_by(|a, b| b.created_at.partial_cmp(&a.created_at).unwrap_or(std::cmp::Ordering::Equal));
    ev.stopped_tasks = tasks.iter().map(stopped_task).collect();
    let lb_failed = ev.stopped_tasks.iter().any(|t| t.stopped_reason.as_deref().is_some_and(|r| r.contains("ELB health checks")));
    let target_group = svc.and_then(|s| s.load_balancers.first()).and_then(|l| l.target_group_arn.clone());
    if let Some(tg) = target_group.filter(|_| lb_failed) {
        read_targets(ports, &tg, ev).await;
    }
    read_logs(ports, &tasks, ev).await;
}

/// The load balancer's view of a target group: its targets' health and what it checks.
async fn read_targets(ports: &Ports, target_group: &str, ev: &mut Evidence) {
    ev.targets = ev.read(ports.elb.target_health(target_group).await).unwrap_or_default();
    ev.health_check = ev.read(ports.elb.health_check(target_group).await);
}

/// The last lines of the essential containers of the newest failed tasks.
async fn read_logs(ports: &Ports, tasks: &[Task], ev: &mut Evidence) {
    {
        let Some(first) = tasks.first() else { return };
        if ev.calls >= MAX_CALLS {
            return ev.unread.push(format!("the containers' logs: the report's {MAX_CALLS} read calls are spent"));
        }
        let Some(td) = ev.read(ports.ecs.describe_task_definition(&first.task_definition).await).map(|r| r.definition) else { return };
        for (i, t) in tasks.iter().take(MAX_LOGGED_TASKS).enumerate() {
            let task_id = t.arn.rsplit('/').next().unwrap_or(&t.arn).to_string();
            for c in td.container_definitions.iter().filter(|c| c.essential.unwrap_or(true)) {
                let log = match c.log_configuration.as_ref() {
                    Some(l) if l.log_driver == "awslogs" => {
                        let o = l.options.clone().unwrap_or_default();
                        match (o.get("awslogs-group"), o.get("awslogs-stream-prefix")) {
                            (Some(g), Some(p)) if ev.calls < MAX_CALLS => {
                                ev.calls += 1;
                                match ports.logs.log_events(g, &format!("{p}/{}/{task_id}", c.name), None).await {
                                    Ok(page) => ContainerLog { container: c.name.clone(), lines: last(&page.lines), elsewhere: None },
                                    Err(e) => ContainerLog { container: c.name.clone(), lines: vec![], elsewhere: Some(e.to_string()) },
                                }
                            }
                            (Some(g), _) => {
                                ContainerLog { container: c.name.clone(), lines: vec![], elsewhere: Some(format!("awslogs group {g}")) }
                            }
                            _ => {
                                ContainerLog { container: c.name.clone(), lines: vec![], elsewhere: Some("awslogs without a group".into()) }
                            }
                        }
                    }
                    Some(l) => ContainerLog {
                        container: c.name.clone(),
                        lines: vec![],
                        elsewhere: Some(format!("log driver {} (see its destination)", l.log_driver)),
                    },
                    None => ContainerLog {
                        container: c.name.clone(),
                        lines: vec![],
                        elsewhere: Some("no log configuration: the output was not kept".into()),
                    },
                };
                if let Some(st) = ev.stopped_tasks.get_mut(i) {
                    st.logs.push(log);
                }
            }
        }
    }
}

fn last(lines: &[String]) -> Vec<String> {
    lines[lines.len().saturating_sub(LOG_LINES)..].to_vec()
}

fn timeline(svc: &ServiceState) -> Vec<(Option<f64>, String)> {
    // ECS lists them newest first: the newest 30, oldest first.
    svc.events.iter().take(30).rev().map(|e| (e.created_at, e.message.clone())).collect()
}

fn stopped_task(t: &Task) -> StoppedTask {
    StoppedTask {
        task_id: t.id().to_string(),
        stop_code: t.stop_code.clone(),
        stopped_reason: t.stopped_reason.clone(),
        containers: t
            .containers
            .iter()
            .map(|c| ContainerExit { name: c.name.clone(), exit_code: c.exit_code, reason: c.reason.clone() })
            .collect(),
        logs: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(code: Option<StopCode>, reason: &str, containers: &[(&str, Option<i32>, Option<&str>)]) -> StoppedTask {
        StoppedTask {
            task_id: "t1".into(),
            stop_code: code,
            stopped_reason: Some(reason.into()),
            containers: containers
                .iter()
                .map(|(n, c, r)| ContainerExit { name: (*n).into(), exit_code: *c, reason: r.map(str::to_string) })
                .collect(),
            logs: vec![],
        }
    }

    fn with(t: StoppedTask) -> Evidence {
        Evidence { stopped_tasks: vec![t], ..Default::default() }
    }

    fn class(d: &Diagnosis) -> String {
        serde_json::to_value(&d.cause).expect("json")["class"].as_str().unwrap_or_default().to_string()
    }

    /// What the tasks said, the class it means and a word of its fix.
    fn task_cases() -> Vec<(StoppedTask, &'static str, &'static str)> {
        let oom = [("web", Some(137), Some("OutOfMemoryError: Container killed due to memory usage"))];
        vec![
            (
                task(
                    Some(StopCode::TaskFailedToStart),
                    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref x: not found",
                    &[],
                ),
                "image_pull",
                "push the image",
            ),
            (
                task(Some(StopCode::TaskFailedToStart), "CannotPullContainerError: dial tcp 52.1.2.3:443: i/o timeout", &[]),
                "image_pull",
                "NAT gateway",
            ),
            (
                task(Some(StopCode::TaskFailedToStart), "CannotPullContainerError: no basic auth credentials", &[]),
                "image_pull",
                "ecr:BatchGetImage",
            ),
            (
                task(Some(StopCode::TaskFailedToStart), "ResourceInitializationError: unable to pull secrets or registry auth", &[]),
                "secret_fetch",
                "secretsmanager:GetSecretValue",
            ),
            (task(Some(StopCode::EssentialContainerExited), "Essential container in task exited", &oom), "out_of_memory", "memory"),
            (
                task(Some(StopCode::ServiceSchedulerInitiated), "Task failed ELB health checks in (target-group web-tg)", &[]),
                "load_balancer_health_check",
                "health-check path",
            ),
            (
                task(Some(StopCode::ServiceSchedulerInitiated), "Task failed container health checks", &[]),
                "container_health_check",
                "startPeriod",
            ),
            (
                task(Some(StopCode::EssentialContainerExited), "Essential container in task exited", &[("web", Some(3), None)]),
                "essential_exit",
                "log lines",
            ),
        ]
    }

    /// #26: each class of failure is named from the tasks' own words (AWS's stopped reasons, as
    /// the ECS troubleshooting guide lists them), with its fix; an interrupt is an interrupt.
    #[test]
    fn every_class_of_failed_task_is_named_with_its_fix() {
        let failed = Ending::Failed("ECS deployment circuit breaker: tasks failed to start.".into());
        for (t, want, fix) in task_cases() {
            let d = diagnose(&failed, &with(t));
            assert_eq!(class(&d), want, "{d:?}");
            assert!(d.fix.contains(fix), "{want}: {}", d.fix);
        }
        let pull = task(None, "CannotPullContainerError: not found", &[]);
        assert_eq!(class(&diagnose(&Ending::Interrupted, &with(pull))), "interrupted");
    }

    /// Without a task that says more: the service's events (capacity), then the ending.
    #[test]
    fn without_the_tasks_words_the_events_and_the_ending_decide() {
        let failed = Ending::Failed("ECS deployment circuit breaker: tasks failed to start.".into());
        let capacity = Evidence {
            timeline: vec![(None, "(service web) was unable to place a task. Reason: Capacity is unavailable at this time.".into())],
            ..Default::default()
        };
        let cases = [
            (capacity, failed.clone(), "capacity", "Availability Zones"),
            (Evidence::default(), failed, "circuit_breaker", "stopped tasks"),
            (Evidence::default(), Ending::Failed("alarm web-5xx in ALARM".into()), "alarm", "CloudWatch"),
            (Evidence::default(), Ending::Deadline("deploy.timeout".into()), "deadline", "deploy.timeout"),
            (Evidence::default(), Ending::Replaced("web:9".into()), "replaced", "who deployed"),
            (
                Evidence::default(),
                Ending::Failed("the test-traffic checks failed: GET / answered 503".into()),
                "gate_checks",
                "test listener",
            ),
            (Evidence::default(), Ending::Failed("gate bypassed: someone rerouted".into()), "gate_bypassed", "rerouted"),
            (Evidence::default(), Ending::Failed("CodeDeploy deployment d-1 is Failed".into()), "code_deploy", "lifecycle events"),
        ];
        for (ev, ending, want, fix) in cases {
            let d = diagnose(&ending, &ev);
            assert_eq!(class(&d), want, "{d:?}");
            assert!(d.fix.contains(fix), "{want}: {}", d.fix);
        }
    }
}
