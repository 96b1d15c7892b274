//! The deploy engine: runs the pipeline through the ports and reports what happens as typed
//! [`Event`]s. It knows nothing about terminals; renderers turn events into output.

/// A part of the engine (a deployer, a stage, a command's steps) that borrows the engine's
/// context — ports, events, interrupt, poll settings — and the one wait driver through it.
macro_rules! engine_part {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub(crate) struct $name<'e>(pub(crate) &'e crate::engine::Engine);

        impl std::ops::Deref for $name<'_> {
            type Target = crate::engine::Engine;
            fn deref(&self) -> &crate::engine::Engine {
                self.0
            }
        }
    };
}
pub(crate) use engine_part;

mod backoff;
mod calls;
pub mod checks;
pub(crate) mod deploy;
mod exec;
mod feed;
mod fleet;
mod history;
mod init;
pub(crate) mod judge;
pub mod lease;
mod lookups;
mod observe;
pub(crate) mod oneoff;
mod options;
pub mod pace;
mod promote;
mod release;
pub mod report;
mod resume;
mod rollback;
mod scale;
mod stages;
mod status;
mod verify;
mod wait;
mod watch;

pub use deploy::codedeploy::{appspec, sha256_hex};
pub use deploy::rolling::{FailKind, Tracker, Verdict, decide};
pub use exec::{ExecHandoff, ExecOptions, exec_session, exec_target};
pub use feed::{NAME_PREFIX as FEED_PREFIX, cleanup_feeds};
pub use fleet::{FleetOutcome, FleetPolicy, FleetPorts, FleetReport, release_fleet, release_fleet_in};
pub use history::{HistoryEntry, HistoryReport, history};
pub use init::{InitOptions, InitReport, default_codedeploy_names as init_names, init};
pub use lease::record::{LeaseRecord, LeaseState, LockStatus};
pub use lookups::answer_lookups;
pub use observe::observe;
pub(crate) use oneoff::OneOff;
pub(crate) use oneoff::OneOffs;
pub use options::{CreateMode, LockOptions, ReleaseOptions, ReleaseReport, RollbackOptions, RollbackPlan, WaitOptions, WaitReport};
pub use promote::{PromoteReport, promote};
pub use scale::{ScaleOptions, ScaleReport};
pub use status::{CodeDeployStatus, StatusReport, status};
pub(crate) use verify::{VerifyReport, verify};

use crate::plan::{Plan, Stage};
use crate::ports::Ports;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Task counts of one side of a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default, schemars::JsonSchema)]
pub struct Counts {
    pub(crate) running: i32,
    pub(crate) pending: i32,
    pub(crate) desired: i32,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StageTime {
    pub stage: Stage,
    pub secs: f64,
}

/// Everything the engine reports.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Plan {
        plan: Box<Plan>,
    },
    StageStarted {
        stage: Stage,
    },
    StageSkipped {
        stage: Stage,
        reason: String,
    },
    StageFinished {
        stage: Stage,
        secs: f64,
    },
    Info {
        message: String,
    },
    Warning {
        message: String,
    },
    Registered {
        arn: String,
        revision: i32,
    },
    DeploymentStarted {
        deployment_id: String,
        service_deployment_arn: Option<String>,
        task_definition: String,
    },
    Progress {
        new: Counts,
        old: Counts,
        failed_tasks: i32,
        rollout_state: Option<String>,
        service_deployment_status: Option<String>,
    },
    TaskFailed {
        task_id: String,
        reason: String,
    },
    ServiceEvent {
        message: String,
    },
    RollbackStarted {
        reason: String,
        to: String,
        how: String,
    },
    LifecycleStage {
        stage: crate::states::LifecycleStage,
        status: crate::states::SdStatus,
    },
    Traffic {
        blue: f64,
        green: f64,
        status: crate::states::CdStatus,
        lifecycle: Vec<(crate::states::CdLifecycleEvent, crate::states::CdEventStatus)>,
    },
    TaskStarted {
        task_id: String,
        task_definition: String,
        command: Vec<String>,
    },
    TaskLog {
        line: String,
    },
    BuildLog {
        line: String,
    },
    ImagePushed {
        image: String,
        digest: Option<String>,
    },
    TaskStopped {
        task_id: String,
        stop_code: Option<String>,
        reason: Option<String>,
        exit_codes: Vec<(String, Option<i32>)>,
    },
    RollbackFinished {
        ok: bool,
        serving: String,
    },
    /// The canary judge's sides (#29), read before the release: the target groups compared.
    CanarySides {
        green_target_group: String,
        blue_target_group: String,
    },
    /// A traffic step judged by the canary analysis (#29): green's metrics against blue's.
    StepJudged {
        /// 1 for the first step judged.
        step: u32,
        /// Green's share of production traffic during the judged minutes, percent.
        green_percent: f64,
        verdict: crate::analysis::Verdict,
        /// What fgdeploy does: `continue`, `rollback`, or `hold` (INCONCLUSIVE: more minutes).
        action: crate::analysis::StepAction,
        /// The judged non-critical metrics' pass share, percent.
        score: Option<f64>,
        /// The judged minutes (epoch seconds): [from, to).
        window: (f64, f64),
        metrics: Vec<crate::analysis::MetricJudgement>,
    },
    /// Why a release failed (#26): the verdict and fix first, then the evidence collected.
    Report {
        report: Box<report::FailureReport>,
    },
    Finished {
        outcome: String,
        exit_code: i32,
        message: String,
        /// The task definition released (or that would be), when there is one.
        task_definition: Option<String>,
        stages: Vec<StageTime>,
        api_calls: BTreeMap<String, u64>,
        api_calls_total: u64,
        secs: f64,
    },
}

/// Where events go. `at` is the (possibly virtual) time in seconds since the epoch.
pub trait EventSink: Send + Sync {
    fn emit(&self, at: f64, service: &str, event: &Event);
}

/// Collects events in memory (tests, fleet summaries).
#[derive(Default)]
pub struct Recorder(pub std::sync::Mutex<Vec<(f64, Event)>>);

impl EventSink for Recorder {
    fn emit(&self, at: f64, _service: &str, event: &Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push((at, event.clone()));
        }
    }
}

impl Recorder {
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().map(|v| v.iter().map(|(_, e)| e.clone()).collect()).unwrap_or_default()
    }
}

/// Ctrl-C / SIGTERM, as seen by the engine.
#[derive(Clone, Default, Debug)]
pub struct Interrupt {
    flag: Arc<AtomicBool>,
    notify: Arc<tokio::sync::Notify>,
}

impl Interrupt {
    pub(crate) fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
    pub(crate) fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
    pub(crate) async fn wait(&self) {
        if !self.is_set() {
            self.notify.notified().await
        }
    }
}

/// Polling: fast while things change, backing off when idle, never beyond `max`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PollConfig {
    pub(crate) min: Duration,
    pub(crate) max: Duration,
    pub(crate) factor: f64,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig { min: Duration::from_secs(2), max: Duration::from_secs(15), factor: 1.5 }
    }
}

/// The engine: ports, an event sink and an interrupt.
pub struct Engine {
    pub(crate) ports: Ports,
    pub(crate) sink: Arc<dyn EventSink>,
    pub(crate) interrupt: Interrupt,
    pub(crate) poll: PollConfig,
    service: String,
    /// What this engine decided and did, with times: the failure report's part of the timeline.
    decisions: Arc<std::sync::Mutex<Vec<(f64, String)>>>,
    /// The service's lease, while this engine's command holds it (`lease`).
    lease: Arc<tokio::sync::Mutex<Option<lease::record::Held>>>,
    /// The stage reached and what the run created: the lease's journal, and the deployment a
    /// failure report is about.
    progress: Arc<std::sync::Mutex<(String, lease::record::Journal)>>,
    /// The watch's EventBridge rule and SQS queue, while the deploy stage has them (`feed`).
    feed: Arc<std::sync::Mutex<Option<feed::Feed>>>,
}

impl Engine {
    pub fn new(ports: Ports, sink: Arc<dyn EventSink>, interrupt: Interrupt) -> Engine {
        Engine {
            ports,
            sink,
            interrupt,
            poll: PollConfig::default(),
            service: String::new(),
            decisions: Arc::default(),
            lease: Arc::default(),
            progress: Arc::default(),
            feed: Arc::default(),
        }
    }

    /// A poll schedule from `start` around `moments` (seconds after it), with this engine's
    /// back-off for the stretches without a forecast.
    fn schedule(&self, start: f64, moments: &[f64]) -> pace::Schedule {
        pace::Schedule::new(
            start,
            moments,
            pace::HEARTBEAT_SECS,
            self.poll.min.as_secs_f64(),
            self.poll.max.as_secs_f64(),
            self.poll.factor,
        )
    }

    fn emit(&self, e: Event) {
        {
            let mut p = self.progress.lock().unwrap_or_else(|p| p.into_inner());
            if let Event::StageStarted { stage } = &e {
                p.0 = stage.name().to_string();
            }
            note(&mut p.1, &e);
        }
        let now = self.ports.clock.now();
        let mut decisions = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = decision(&e) {
            decisions.push((now, d));
        }
        // A report carries the decisions that led to it.
        let e = match e {
            Event::Report { mut report } => {
                let skip = decisions.len().saturating_sub(report::MAX_DECISIONS);
                report.evidence.decisions = decisions[skip..].to_vec();
                Event::Report { report }
            }
            other => other,
        };
        drop(decisions);
        self.sink.emit(self.ports.clock.now(), &self.service, &e);
    }

    /// The stage reached and the journal, as the lease records them.
    pub(crate) fn progress(&self) -> (String, lease::record::Journal) {
        self.progress.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The deployment this run started (or, resuming, took over): the journal's.
    pub(crate) fn started_deployment(&self) -> Option<String> {
        self.progress().1.deployment
    }

    fn info(&self, m: impl Into<String>) {
        self.emit(Event::Info { message: m.into() });
    }

    fn warn(&self, m: impl Into<String>) {
        self.emit(Event::Warning { message: m.into() });
    }
}

/// DescribeServices found no such service: the one error every command gives for it.
pub(super) fn no_such_service(cluster: &str, service: &str) -> crate::error::Error {
    crate::error::Error::Aws(crate::ports::PortError::NotFound {
        op: "ecs:DescribeServices".into(),
        message: format!("service {service} not found in cluster {cluster}"),
    })
}

/// The setting or flag a wait's deadline comes from: a timeout message names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub enum TimeoutSetting {
    /// `deploy.timeout` in the deployspec.
    DeployTimeout,
    /// `release --timeout` / `rollback --timeout`.
    TimeoutFlag,
    /// `rollback.timeout` in the deployspec.
    RollbackTimeout,
    /// `migration.timeout` in the deployspec.
    MigrationTimeout,
}

impl TimeoutSetting {
    /// The setting as the user writes it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TimeoutSetting::DeployTimeout => "deploy.timeout",
            TimeoutSetting::TimeoutFlag => "--timeout",
            TimeoutSetting::RollbackTimeout => "rollback.timeout",
            TimeoutSetting::MigrationTimeout => "migration.timeout",
        }
    }
}

/// A wait's length and the setting it came from, resolved once per command: `--timeout`, else
/// the deployspec's value for that wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline {
    pub(crate) duration: std::time::Duration,
    pub(crate) setting: TimeoutSetting,
}

impl Deadline {
    /// A deployment's wait (`release`, `wait`, `scale`): `--timeout`, else `deploy.timeout`.
    pub(crate) fn deploy(flag: Option<std::time::Duration>, spec: &crate::spec::Spec) -> Deadline {
        Deadline::resolve(flag, (spec.file.deploy.timeout, TimeoutSetting::DeployTimeout))
    }

    /// `rollback`'s wait: `--timeout`, else `rollback.timeout`.
    pub(crate) fn rollback(flag: Option<std::time::Duration>, spec: &crate::spec::Spec) -> Deadline {
        Deadline::resolve(flag, (spec.file.rollback.timeout, TimeoutSetting::RollbackTimeout))
    }

    /// An automatic rollback's wait: `rollback.timeout`.
    pub(crate) fn automatic_rollback(spec: &crate::spec::Spec) -> Deadline {
        Deadline { duration: spec.file.rollback.timeout, setting: TimeoutSetting::RollbackTimeout }
    }

    fn resolve(flag: Option<std::time::Duration>, (value, setting): (std::time::Duration, TimeoutSetting)) -> Deadline {
        match flag {
            Some(duration) => Deadline { duration, setting: TimeoutSetting::TimeoutFlag },
            None => Deadline { duration: value, setting },
        }
    }

    /// As the (length, setting) pair the waits take.
    pub(crate) fn pair(self) -> (std::time::Duration, TimeoutSetting) {
        (self.duration, self.setting)
    }
}

impl std::fmt::Display for TimeoutSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The one rule for the service-deployment API (List/DescribeServiceDeployments): an error that
/// retrying cannot cure — the endpoint lacks the API (`Unsupported`), the policy does not allow
/// it (`AccessDenied`, any refusal), or the ARN is unknown — means following the deployment by
/// its id through DescribeServices, never giving up on it.
pub(super) fn sd_api_refused(e: &crate::ports::PortError) -> bool {
    !e.is_retryable()
}

/// The one warning for that fallback, naming the error and what would restore the API.
pub(super) fn sd_api_fallback_message(e: &crate::ports::PortError) -> String {
    format!(
        "the service-deployment API cannot be used here ({e}); following the deployment by its id through DescribeServices (allow ecs:ListServiceDeployments and ecs:DescribeServiceDeployments for the full picture)"
    )
}

/// The line an event leaves in fgdeploy's part of the timeline (None: progress, logs, chatter).
fn decision(e: &Event) -> Option<String> {
    use Event as E;
    Some(match e {
        E::StageStarted { stage } => format!("{} started", stage.name()),
        E::StageFinished { stage, secs } => format!("{} finished in {secs:.0} s", stage.name()),
        E::StageSkipped { stage, reason } => format!("{} skipped: {reason}", stage.name()),
        E::Registered { arn, .. } => format!("registered {arn}"),
        E::DeploymentStarted { deployment_id, .. } => format!("started deployment {deployment_id}"),
        E::TaskFailed { task_id, reason } => format!("task {task_id} failed: {reason}"),
        E::RollbackStarted { reason, to, how } => format!("rolling back to {to} ({how}): {reason}"),
        E::RollbackFinished { ok, serving } => format!("rollback {}: serving {serving}", if *ok { "finished" } else { "failed" }),
        E::LifecycleStage { stage, status } => format!("lifecycle stage {stage} ({status})"),
        E::Traffic { blue, green, status, .. } => format!("traffic blue {blue:.0} % · green {green:.0} % ({status})"),
        E::Warning { message } => format!("warning: {message}"),
        E::StepJudged { step, verdict, action, .. } => format!("step {step} judged {verdict}: {action}"),
        E::TaskStopped { task_id, stop_code, .. } => format!("task {task_id} stopped ({})", stop_code.as_deref().unwrap_or("-")),
        _ => return None,
    })
}

/// What an event says the run created, into the lease's journal.
fn note(j: &mut lease::record::Journal, e: &Event) {
    match e {
        Event::ImagePushed { image, digest } => {
            j.image = Some(image.clone());
            j.digest = digest.clone();
        }
        Event::TaskStarted { task_id, .. } => j.migration_task = Some(task_id.clone()),
        Event::Registered { arn, .. } => j.revision = Some(arn.clone()),
        Event::DeploymentStarted { deployment_id, service_deployment_arn, .. } => {
            j.deployment = Some(deployment_id.clone());
            j.service_deployment_arn = service_deployment_arn.clone();
        }
        Event::LifecycleStage { stage, status } => j.gate = Some(format!("{stage} {status}")),
        Event::Traffic { blue, green, status, .. } => j.gate = Some(format!("{status}: blue {blue:.0} % · green {green:.0} %")),
        Event::CanarySides { green_target_group, .. } => j.canary_green = Some(green_target_group.clone()),
        Event::StepJudged { step, green_percent, verdict, action, .. } => {
            j.gate = Some(format!("step {step} (green {green_percent:.0} %) judged {verdict}: {action}"));
        }
        _ => {}
    }
}
