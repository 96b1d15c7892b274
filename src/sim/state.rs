//! The simulated account's state: the services, their deployments and tasks, task definitions,
//! images, logs, CodeDeploy and ECS-native deployments, the faults to inject and the noise. Data
//! only; the step functions live beside it (`world` for ECS, `codedeploy`, `native`).

use super::mutation::Mutation;
use crate::engine::Interrupt;
use crate::ports::*;
use crate::states::{
    CdEventStatus, CdLifecycleEvent, CdStatus, HookAction, HookStatus, HookTargetType, LifecycleStage, ReadyAction, RolloutState, SdStatus,
    ServiceStatus, TaskStatus,
};
use crate::taskdef::TaskDefinition;
use std::collections::{BTreeMap, BTreeSet};

pub(super) const ACCOUNT: &str = "123456789012";

pub(super) const REGION: &str = "us-east-1";

/// The virtual epoch: 2026-01-01T00:00:00Z.
pub const EPOCH: f64 = 1_767_225_600.0;

pub(super) const ROLLBACK_BAKE: f64 = 120.0;

/// A service's serving tasks by revision from a moment on: (time, `cluster/service`,
/// [(task definition, tasks)]).
pub(super) type Serving = (f64, String, Vec<(String, u32)>);

/// Injected faults and timing. Images are matched by substring of the container image.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Faults {
    /// How EventBridge delivers events to the watch's queue (latency, duplicates, loss, the
    /// rule's activation).
    #[serde(default)]
    pub events: EventDelivery,
    /// Tasks whose image contains one of these never start (CannotPullContainerError).
    pub fail_start: BTreeSet<String>,
    /// The runner dies: after this many answered calls of this operation (0: at its first
    /// call, unanswered), no call answers any more (a test then drops the run, as SIGKILL
    /// would; `Sim::revive` ends it).
    pub hang_after: Option<(String, u32)>,
    /// Image markers whose service tasks cannot be placed: Fargate has no capacity, ECS says so
    /// in a service event and keeps trying (no task, so the circuit breaker counts nothing).
    pub no_capacity: BTreeSet<String>,
    /// The stopped reason of those tasks (default: CannotPullContainerError, image not found).
    pub start_failure_reason: Option<String>,
    /// Tasks whose image contains one of these run, then their essential container is killed
    /// for memory (exit 137, OutOfMemoryError).
    pub oom: BTreeSet<String>,
    /// Tasks whose image contains one of these run but fail their health checks.
    pub unhealthy: BTreeSet<String>,
    /// Seconds from launch to RUNNING.
    pub start_secs: f64,
    /// Seconds from RUNNING to healthy (or to the failed health check).
    pub health_secs: f64,
    /// The next N calls of an operation (`ecs:DescribeServices`) answer ThrottlingException.
    pub throttle: BTreeMap<String, u32>,
    /// About one call in k, of any operation, is throttled (a throttling storm).
    pub throttle_every: Option<u64>,
    /// The next N calls of an operation answer HTTP 500.
    pub server_error: BTreeMap<String, u32>,
    /// The next N calls of an operation answer a malformed response.
    pub malformed: BTreeMap<String, u32>,
    /// A deployment alarm goes into ALARM this many seconds after the start.
    pub alarm_at: Option<f64>,
    /// Someone else deploys a new revision (UpdateService) this many seconds after fgdeploy's
    /// first UpdateService that starts a deployment: mid-rollout, whatever the build took.
    pub foreign_deploy_at: Option<f64>,
    /// Someone else deploys a new revision while fgdeploy's image builds (after its plan).
    pub foreign_deploy_during_build: bool,
    /// The endpoint has no service-deployment API (older regions, emulators).
    pub no_service_deployments_api: bool,
    /// Operations the caller's IAM policy does not allow (`ecs:DescribeServiceDeployments`):
    /// they answer AccessDeniedException, as AWS does for a hand-written policy.
    pub denied: BTreeSet<String>,
    /// The next N DescribeServices answer the service under `failures` (MISSING): AWS is
    /// eventually consistent.
    pub service_missing_reads: u32,
    /// From this many seconds after the start, the next N DescribeServices answer MISSING.
    pub service_missing_after: Option<(f64, u32)>,
    /// Service deployments that end SUCCESSFUL report this status instead, as a status newer
    /// than the SDK would arrive (`Unknown`).
    pub sd_success_status: Option<String>,
    /// UpdateService's answer names the previous service deployment in
    /// `currentServiceDeployment`, not the one it started.
    pub answer_names_previous_sd: bool,
    /// A person answers the team's own PAUSE hooks (not fgdeploy's) CONTINUE this many seconds
    /// after they start waiting.
    pub person_answers_after: Option<f64>,
    /// One-off tasks: exit code per container name (others exit 0).
    pub task_exit: BTreeMap<String, i32>,
    /// One-off tasks never start: stopped with TaskFailedToStart and this reason.
    pub run_never_starts: Option<String>,
    /// Seconds a one-off task runs before its containers exit.
    pub run_secs: f64,
    /// The next N RunTask calls answer `failures[]` with "Capacity is unavailable at this time".
    pub run_capacity_failures: u32,
    /// The next N calls of an operation take effect but their answer is lost (a timeout).
    pub lost_responses: BTreeMap<String, u32>,
    /// DescribeTasks does not know a new task for this long (eventual consistency: MISSING).
    pub describe_lag_secs: f64,
    /// The image build fails.
    pub build_fails: bool,
    /// The builds of images whose reference contains one of these fail (the others succeed).
    pub build_fails_for: BTreeSet<String>,
    /// The account's rate limits (`budget::ACCOUNT_LIMITS`) answer ThrottlingException when
    /// exceeded, as AWS does.
    pub account_limits: bool,
    /// Someone continues a gated blue/green deployment before fgdeploy does: a CodeDeploy
    /// deployment goes from green-healthy straight to shifting ("Reroute traffic" clicked; no
    /// Ready phase, as some emulators do), an ECS-native PAUSE hook is answered CONTINUE at once.
    pub gate_bypassed: bool,
    /// Someone answers the gate a moment before fgdeploy does, while fgdeploy's checks run:
    /// "Reroute traffic" on a Ready CodeDeploy deployment, CONTINUE on an ECS-native PAUSE hook.
    /// fgdeploy's own ContinueDeployment / ContinueServiceDeployment is then refused.
    pub answered_first: bool,
    /// ECS Exec is off on the service (`enableExecuteCommand` false).
    pub exec_disabled: bool,
    /// Account resources (parameters, secrets, roles, subnets, security groups, log groups,
    /// target groups — by the id the task definition or service names) that do not exist.
    pub missing: BTreeSet<String>,
    /// IAM roles that exist but do not trust `ecs-tasks.amazonaws.com`.
    pub untrusted_roles: BTreeSet<String>,
    /// Timing noise, seeded and reproducible. None: every task takes exactly `start_secs` and
    /// `health_secs` and a rollout repeats the seeded history's pace (the deterministic tests).
    pub noise: Option<Noise>,
    /// Production traffic and what CloudWatch publishes of it (the canary judge's metrics).
    #[serde(default)]
    pub traffic: Traffic,
}

/// The service's production traffic, split between blue's and green's target groups by the
/// traffic weights, and the load balancer's one-minute metrics of it (`sim/traffic.rs`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Traffic {
    /// Requests a minute to the service (Poisson), all target groups together.
    pub requests_per_minute: f64,
    /// Blue's 5xx rate (each request fails independently).
    pub error_rate: f64,
    /// Green's 5xx rate is blue's times this.
    pub green_error_factor: f64,
    /// TargetResponseTime p50 / p95 / p99 of blue, in seconds.
    pub latency: (f64, f64, f64),
    /// Green's latency percentiles are blue's times this.
    pub green_latency_factor: f64,
    /// Each minute's percentiles vary by a log-normal factor of this σ (and by sampling: a
    /// minute with few requests varies more).
    pub latency_sigma: f64,
    /// A minute's datapoint is published this long after the minute ended.
    pub publication_delay: f64,
    pub seed: u64,
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic {
            requests_per_minute: 1000.0,
            error_rate: 0.01,
            green_error_factor: 1.0,
            latency: (0.05, 0.12, 0.25),
            green_latency_factor: 1.0,
            latency_sigma: 0.08,
            publication_delay: 60.0,
            seed: 29,
        }
    }
}

/// How real rollouts vary: per task (image pulls, AZ capacity), per rollout (a slower or faster
/// release than the last one), and in what the service's history says.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Noise {
    pub seed: u64,
    /// Each task's start and health times vary uniformly by up to ± this fraction.
    pub per_task: f64,
    /// This fraction of tasks pulls its image slowly and starts `slow_pull_factor` × later.
    pub slow_pull_fraction: f64,
    pub slow_pull_factor: f64,
    /// This release's tasks run at this pace (2.0: twice as slow as `start_secs`/`health_secs`).
    pub pace: f64,
    /// The seeded history (the service's previous rollout) ran at this pace, drawn apart.
    pub history_pace: f64,
    /// The history is aged out: no events say how the last rollout went.
    pub no_history: bool,
    /// Heavy tails: each task's start time is also multiplied by a log-normal draw of this σ
    /// (0: none; 0.5: p99 ≈ 3.2 × the median).
    #[serde(default)]
    pub tail_sigma: f64,
    /// One straggler: this release's first new task starts this many times later (1: none).
    #[serde(default = "one")]
    pub straggler: f64,
    /// A delay this release has and the history did not: seconds added to every task's start
    /// (an image pull from a cold cache, a slower dependency).
    #[serde(default)]
    pub added_start_secs: f64,
}

fn one() -> f64 {
    1.0
}

impl Default for Noise {
    fn default() -> Self {
        Noise {
            seed: 1,
            per_task: 0.0,
            slow_pull_fraction: 0.0,
            slow_pull_factor: 1.0,
            pace: 1.0,
            history_pace: 1.0,
            no_history: false,
            tail_sigma: 0.0,
            straggler: 1.0,
            added_start_secs: 0.0,
        }
    }
}

/// A small seeded generator (SplitMix64): the simulator's draws must be reproducible from the seed
/// alone, whatever version of a random-number crate is around.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Draws(pub(super) u64);

impl Draws {
    /// Uniform in [0, 1).
    pub(super) fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [1 - spread, 1 + spread].
    pub(super) fn spread(&mut self, spread: f64) -> f64 {
        1.0 + spread * (2.0 * self.unit() - 1.0)
    }
    /// A log-normal multiplier of median 1 and this σ (Box–Muller; 1 when σ is 0).
    pub(super) fn lognormal(&mut self, sigma: f64) -> f64 {
        if sigma <= 0.0 {
            return 1.0;
        }
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        (sigma * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()).exp()
    }
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            traffic: Traffic::default(),
            fail_start: BTreeSet::new(),
            hang_after: None,
            no_capacity: BTreeSet::new(),
            start_failure_reason: None,
            oom: BTreeSet::new(),
            unhealthy: BTreeSet::new(),
            start_secs: 15.0,
            health_secs: 20.0,
            throttle: BTreeMap::new(),
            throttle_every: None,
            server_error: BTreeMap::new(),
            malformed: BTreeMap::new(),
            alarm_at: None,
            foreign_deploy_at: None,
            foreign_deploy_during_build: false,
            no_service_deployments_api: false,
            denied: BTreeSet::new(),
            service_missing_reads: 0,
            service_missing_after: None,
            sd_success_status: None,
            answer_names_previous_sd: false,
            person_answers_after: None,
            task_exit: BTreeMap::new(),
            run_never_starts: None,
            run_secs: 30.0,
            run_capacity_failures: 0,
            lost_responses: BTreeMap::new(),
            describe_lag_secs: 0.0,
            build_fails: false,
            build_fails_for: BTreeSet::new(),
            account_limits: true,
            gate_bypassed: false,
            answered_first: false,
            exec_disabled: false,
            missing: BTreeSet::new(),
            untrusted_roles: BTreeSet::new(),
            noise: None,
            events: EventDelivery::default(),
        }
    }
}

/// How to seed a running service.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SeedService {
    pub(crate) cluster: String,
    pub(crate) name: String,
    pub(crate) desired: i32,
    pub(crate) task_definition: TaskDefinition,
    pub(crate) config: DeploymentConfig,
    pub(crate) load_balanced: bool,
    /// An earlier revision that served before `task_definition` (registered first, deployed two
    /// days ago; the live revision carries fgdeploy's previous-revision tag pointing at it), so
    /// that `rollback` and `status` have the history a real account has.
    pub(crate) history: Option<TaskDefinition>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct SimDeployment {
    pub(super) id: String,
    pub(super) td: String,
    pub(super) primary: bool,
    pub(super) desired: i32,
    pub(super) rollout_state: RolloutState,
    pub(super) reason: Option<String>,
    pub(super) failed_tasks: i32,
    pub(super) had_healthy: bool,
    pub(super) created_at: f64,
    pub(super) steady_at: Option<f64>,
    pub(super) sd_arn: String,
    /// This deployment is a rollback performed for this service deployment.
    pub(super) rollback_of: Option<String>,
}

impl SimDeployment {
    /// A new PRIMARY deployment, IN_PROGRESS, no task started yet.
    pub(super) fn started(id: String, td: &str, desired: i32, now: f64, sd_arn: &str) -> SimDeployment {
        SimDeployment {
            id,
            td: td.to_string(),
            primary: true,
            desired,
            rollout_state: RolloutState::InProgress,
            reason: Some("ECS deployment in progress.".into()),
            failed_tasks: 0,
            had_healthy: false,
            created_at: now,
            steady_at: None,
            sd_arn: sd_arn.to_string(),
            rollback_of: None,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct SimSd {
    pub(super) arn: String,
    pub(super) status: SdStatus,
    pub(super) status_reason: Option<String>,
    pub(super) target: String,
    pub(super) sources: Vec<String>,
    pub(super) created_at: f64,
    pub(super) finished_at: Option<f64>,
    pub(super) rollback_reason: Option<String>,
    pub(super) native: Option<NativeState>,
}

impl SimSd {
    pub(super) fn in_progress(arn: String, target: String, sources: Vec<String>, now: f64, native: Option<NativeState>) -> SimSd {
        SimSd {
            arn,
            status: SdStatus::InProgress,
            status_reason: None,
            target,
            sources,
            created_at: now,
            finished_at: None,
            rollback_reason: None,
            native,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct SimTask {
    pub(super) arn: String,
    pub(super) cluster: String,
    pub(super) service: String,
    pub(super) td: String,
    pub(super) image: String,
    pub(super) containers: Vec<String>,
    pub(super) started_by: String,
    pub(super) last_status: TaskStatus,
    pub(super) desired_stopped: bool,
    pub(super) healthy: bool,
    pub(super) created_at: f64,
    pub(super) running_at: Option<f64>,
    /// Seconds from creation to RUNNING, and from RUNNING to healthy, for this task.
    pub(super) start_delay: f64,
    pub(super) health_delay: f64,
    pub(super) stop_code: Option<crate::states::StopCode>,
    pub(super) stopped_reason: Option<String>,
    pub(super) exit_code: Option<i32>,
    /// The containers' `reason` once stopped (OutOfMemoryError, …).
    pub(super) container_reason: Option<String>,
    /// A one-off task (RunTask), with its RunTask details.
    pub(super) one_off: Option<OneOff>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct OneOff {
    pub(super) client_token: String,
    /// The container RunTask's override names (the migration's).
    pub(super) container: String,
    pub(super) command: Vec<String>,
    /// Per container: exit code once stopped.
    pub(super) exits: Vec<(String, Option<i32>)>,
    /// awslogs group and stream prefix of each container, when configured.
    pub(super) logs: Vec<(String, String, String)>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct SimService {
    pub(super) arn: String,
    pub(super) cluster: String,
    pub(super) name: String,
    /// ACTIVE, or DRAINING while being deleted (DeleteService).
    pub(super) status: ServiceStatus,
    pub(super) desired: i32,
    pub(super) td: String,
    pub(super) config: DeploymentConfig,
    /// The service's settings, every field present (what `[service.definition]` manages).
    pub(super) def: ServiceDefinition,
    pub(super) deployments: Vec<SimDeployment>,
    pub(super) sds: Vec<SimSd>,
    pub(super) events: Vec<ServiceEvent>,
    pub(super) stuck_reported: bool,
    /// When ECS last said it could not place a task (it repeats the event while it retries).
    pub(super) capacity_reported_at: Option<f64>,
}

/// The whole simulated account.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct World {
    pub(super) now: f64,
    /// Each service's serving (RUNNING and healthy) tasks by revision, at every change:
    /// (time, `cluster/service`, [(task definition, tasks)]) — the traffic model's split of a
    /// rolling service's requests between its revisions.
    #[serde(default)]
    pub(super) serving: Vec<Serving>,
    pub faults: Faults,
    pub(super) draws: Draws,
    /// Task delays drawn for releases so far (the noise's straggler is the first).
    #[serde(default)]
    pub(super) delays_drawn: u64,
    pub(super) services: Vec<SimService>,
    pub(super) families: BTreeMap<String, Vec<(TaskDefinition, bool)>>,
    pub(super) tasks: Vec<SimTask>,
    pub(super) repos: BTreeSet<String>,
    #[serde(with = "pairs")]
    pub(super) images: BTreeMap<(String, String), String>,
    pub(super) seq: u64,
    pub(super) calls_seen: u64,
    #[serde(skip)]
    pub(super) interrupt: Option<(f64, Interrupt)>,
    pub(super) alarm_fired: bool,
    /// `Faults::hang_after` was reached: calls hang until `Sim::revive`.
    pub(super) hung: bool,
    /// S3 objects written through the `Leases` port: (bucket, key) → (body, version).
    #[serde(with = "pairs")]
    pub(super) objects: BTreeMap<(String, String), (Vec<u8>, u64)>,
    /// When the deployment alarms went into ALARM, and which (CloudWatch's view of them).
    pub(super) alarms_in_alarm: Option<(f64, Vec<String>)>,
    pub(super) foreign_done: bool,
    /// When fgdeploy's first UpdateService that starts a deployment was answered.
    pub(super) first_update_at: Option<f64>,
    /// Every mutating call, in order, with its virtual time (for invariant tests).
    pub mutations: Vec<(f64, Mutation)>,
    /// Application Auto Scaling's scalable targets, by `service/<cluster>/<service>`.
    pub scalable_targets: BTreeMap<String, crate::ports::ScalableTarget>,
    /// When a deployment reached a state a deploy tool must react to (SUCCESSFUL, a rollback,
    /// 100 % on green), for the benchmark's detection latency.
    pub terminal_log: Vec<(f64, String)>,
    /// The account's token buckets, and how many calls they throttled.
    #[serde(skip, default = "account_budget")]
    pub(super) account: crate::budget::RateBudget,
    pub throttled_by_account: u64,
    /// CloudWatch Logs: (group, stream) → lines.
    #[serde(with = "pairs")]
    pub(super) logs: BTreeMap<(String, String), Vec<String>>,
    pub(super) cd: CdWorld,
    /// EventBridge's default bus and SQS (the watch's rule and queue).
    #[serde(default)]
    pub(super) bus: BusWorld,
}

impl Default for World {
    fn default() -> Self {
        World::new(Faults::default())
    }
}

pub(super) fn td_arn(family: &str, rev: usize) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{rev}")
}

/// How to seed a deployment group for a CODE_DEPLOY service.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct CdGroupSeed {
    pub(crate) application: String,
    pub(crate) group: String,
    pub(crate) cluster: String,
    pub(crate) service: String,
    pub(crate) deployment_config: String,
    /// CONTINUE_DEPLOYMENT | STOP_DEPLOYMENT
    pub(crate) ready_action: ReadyAction,
    pub(crate) ready_wait_minutes: i32,
    pub(crate) rollback_events: Vec<String>,
    pub(crate) termination_wait_minutes: i32,
    pub(crate) prod_port: u16,
    pub(crate) test_port: Option<u16>,
}

pub(super) const LIFECYCLE: [CdLifecycleEvent; 8] = [
    CdLifecycleEvent::BeforeInstall,
    CdLifecycleEvent::Install,
    CdLifecycleEvent::AfterInstall,
    CdLifecycleEvent::AllowTestTraffic,
    CdLifecycleEvent::AfterAllowTestTraffic,
    CdLifecycleEvent::BeforeAllowTraffic,
    CdLifecycleEvent::AllowTraffic,
    CdLifecycleEvent::AfterAllowTraffic,
];

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) enum Phase {
    Install { healthy_at: Option<f64>, fail_at: f64 },
    Ready { since: f64 },
    Shifting { since: f64 },
    Terminating { until: f64 },
    RollingBack { until: f64 },
    Done,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct CdDep {
    pub(crate) id: String,
    pub(crate) group: usize,
    pub(crate) td: String,
    /// The revision serving when the deployment started.
    pub(crate) blue: String,
    pub(crate) config: String,
    pub(crate) status: CdStatus,
    pub(crate) events: Vec<(CdLifecycleEvent, CdEventStatus)>,
    pub(crate) green: f64,
    pub(crate) max_green: f64,
    pub(crate) phase: Phase,
    pub(crate) error: Option<String>,
    pub(crate) rollback_id: Option<String>,
    pub(crate) rollback_message: Option<String>,
    /// The blue termination wait has begun. CodeDeploy never reports it through
    /// `instanceTerminationWaitTimeStarted` for ECS (aws/containers-roadmap#269): only the
    /// deployment target's status (`Succeeded`) shows it.
    pub(crate) term_started: bool,
    pub(crate) is_rollback: bool,
    /// Green's production weight from each moment on: (time, percent).
    #[serde(default)]
    pub(crate) weights: Vec<(f64, f64)>,
    /// The SHA-256 CreateDeployment carried (`revision.appSpecContent.sha256`).
    pub(crate) appspec_sha256: Option<String>,
    /// Lifecycle event → (start, end).
    pub(crate) times: std::collections::BTreeMap<CdLifecycleEvent, (Option<f64>, Option<f64>)>,
}

impl CdDep {
    /// A deployment with every lifecycle event Pending, no traffic on green, no error.
    pub(super) fn new(id: String, group: usize, td: String, blue: String, config: String, status: CdStatus, phase: Phase) -> CdDep {
        CdDep {
            id,
            group,
            td,
            blue,
            config,
            status,
            events: LIFECYCLE.iter().map(|e| (e.clone(), CdEventStatus::Pending)).collect(),
            green: 0.0,
            max_green: 0.0,
            phase,
            error: None,
            rollback_id: None,
            rollback_message: None,
            term_started: false,
            is_rollback: false,
            weights: Vec::new(),
            appspec_sha256: None,
            times: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct CdWorld {
    pub(crate) groups: Vec<CdGroupSeed>,
    pub(crate) deps: Vec<CdDep>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct NativeState {
    pub(crate) cfg: NativeDeployment,
    pub(crate) stage: LifecycleStage,
    pub(crate) since: f64,
    /// Every hook instance so far, one per hook and stage entered.
    pub(crate) hooks: Vec<SimHook>,
    /// The hooks the deployment carries (the service's configuration as sent).
    pub(crate) hook_cfg: Vec<LifecycleHook>,
    /// Weight the next step moves to once PRE_PRODUCTION_TRAFFIC_SHIFT is over.
    pub(crate) pending_weight: Option<f64>,
    /// Someone answers the team's PAUSE hooks (not fgdeploy's) CONTINUE after this many
    /// seconds (a person approving).
    pub(crate) person_answers_after: Option<f64>,
    /// How many hooks a person answered.
    pub(crate) person_answers: u32,
    pub(crate) weight: f64,
    pub(crate) max_weight: f64,
    /// Green's production weight from each moment on: (time, percent).
    #[serde(default)]
    pub(crate) weights: Vec<(f64, f64)>,
    pub(crate) green_ready_at: f64,
    pub(crate) fail_at: Option<f64>,
    pub(crate) rollback_until: Option<f64>,
    pub(crate) step_started: f64,
    /// Someone else answers the PAUSE hook CONTINUE as soon as it waits (fault).
    pub(crate) someone_continues: bool,
}

/// One lifecycle hook at one stage of one deployment.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct SimHook {
    pub(crate) id: String,
    pub(crate) stage: LifecycleStage,
    pub(crate) pause: bool,
    pub(crate) fgdeploys: bool,
    pub(crate) status: HookStatus,
    pub(crate) since: f64,
    pub(crate) timeout_secs: f64,
    pub(crate) timeout_action: HookAction,
    /// When ContinueServiceDeployment answered it.
    #[serde(default)]
    pub(crate) answered_at: Option<f64>,
}

impl NativeState {
    pub(super) fn new(cfg: NativeDeployment, now: f64, green_ready_at: f64, fail_at: Option<f64>) -> Self {
        NativeState {
            hook_cfg: cfg.hooks(),
            cfg,
            stage: LifecycleStage::ReconcileService,
            since: now,
            hooks: Vec::new(),
            pending_weight: None,
            person_answers_after: None,
            person_answers: 0,
            weight: 0.0,
            max_weight: 0.0,
            weights: vec![(now, 0.0)],
            green_ready_at,
            fail_at,
            rollback_until: None,
            step_started: now,
            someone_continues: false,
        }
    }

    pub(super) fn hook_details(&self) -> Vec<HookDetail> {
        self.hooks
            .iter()
            .map(|h| HookDetail {
                hook_id: h.id.clone(),
                target_type: Some(if h.pause { HookTargetType::Pause } else { HookTargetType::AwsLambda }),
                status: Some(h.status.clone()),
            })
            .collect()
    }

    /// Enter `stage`: an instance of every hook configured for it (new ids each time).
    pub(super) fn go(&mut self, stage: LifecycleStage, now: f64) {
        self.stage = stage.clone();
        self.since = now;
        let n = self.hooks.len();
        for (k, h) in self.hook_cfg.iter().filter(|h| h.stages.contains(&stage)).enumerate() {
            let fgdeploys = h.is_fgdeploys();
            let status = match (h.is_pause(), fgdeploys && self.someone_continues) {
                (true, false) => HookStatus::AwaitingAction,
                _ => HookStatus::Succeeded, // Lambda hooks succeed (not modelled); a bypassed gate was answered at once
            };
            self.hooks.push(SimHook {
                id: format!("ecs-pause-{:x}-{}", now as u64, n + k),
                stage: stage.clone(),
                pause: h.is_pause(),
                fgdeploys,
                status,
                since: now,
                timeout_secs: f64::from(h.timeout_minutes.unwrap_or(1440)) * 60.0,
                timeout_action: h.timeout_action.clone().unwrap_or(HookAction::Rollback),
                answered_at: None,
            });
        }
    }

    /// Green takes `w` percent of production traffic from `now`.
    pub(super) fn set_weight(&mut self, w: f64, now: f64) {
        if self.weight != w {
            self.weights.push((now, w));
        }
        self.weight = w;
        self.max_weight = self.max_weight.max(w);
    }

    /// Green's weight at `t`.
    pub(super) fn weight_at(&self, t: f64) -> f64 {
        self.weights.iter().take_while(|(at, _)| *at <= t).last().map_or(0.0, |(_, w)| *w)
    }

    /// Move the traffic of the step PRE_PRODUCTION_TRAFFIC_SHIFT announced, unless one of its
    /// hooks still waits (the step counts from the move).
    pub(super) fn move_pending_weight(&mut self, now: f64) {
        let waiting = self.hooks.iter().any(|h| h.stage == self.stage && h.status == HookStatus::AwaitingAction);
        if !waiting && let Some(w) = self.pending_weight.take() {
            if now > self.step_started {
                self.step_started = now;
            }
            self.set_weight(w, now);
        }
    }

    /// The hooks of the current stage that still wait: answered by a person, or timed out.
    /// `Some(outcome)` when a timeout rolls the deployment back; `None` with `held` set while
    /// any still waits.
    pub(super) fn hold(&mut self, now: f64) -> (bool, Option<Outcome>) {
        let mut held = false;
        for h in self.hooks.iter_mut().filter(|h| h.stage == self.stage && h.status == HookStatus::AwaitingAction) {
            if !h.fgdeploys && self.person_answers_after.is_some_and(|a| now >= h.since + a) {
                h.status = HookStatus::Succeeded;
                self.person_answers += 1;
            } else if now >= h.since + h.timeout_secs {
                h.status = HookStatus::TimedOut;
                if h.timeout_action == HookAction::Rollback {
                    return (true, Some(Outcome::RollingBack(format!("the PAUSE hook at {} timed out", h.stage))));
                }
            } else {
                held = true;
            }
        }
        (held, None)
    }

    /// Production weight to reach next, and how long to wait before it.
    pub(super) fn next_step(&self) -> (f64, f64) {
        match self.cfg.strategy {
            crate::states::DeploymentStrategy::Linear => {
                let (p, m) = self.cfg.linear.unwrap_or((10.0, 6));
                ((self.weight + p).min(100.0), f64::from(m) * 60.0)
            }
            crate::states::DeploymentStrategy::Canary => {
                let (p, m) = self.cfg.canary.unwrap_or((5.0, 10));
                if self.weight <= 0.0 { (p, 0.0) } else { (100.0, f64::from(m) * 60.0) }
            }
            _ => (100.0, 0.0),
        }
    }
}

pub(super) enum Outcome {
    Continue,
    /// Production traffic is on the target revision.
    Shifted,
    Succeeded,
    RollingBack(String),
    RolledBack,
}

fn account_budget() -> crate::budget::RateBudget {
    crate::budget::RateBudget::with_share(1.0)
}

/// A map with tuple keys as a list of pairs (JSON object keys are strings).
mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub(super) fn serialize<K: Serialize, V: Serialize, S: Serializer>(m: &BTreeMap<K, V>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }

    pub(super) fn deserialize<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<K, V>, D::Error> {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

// ----- EventBridge and SQS (the watch's rule and queue, #28; behaviour in `bus`) -----------------

/// How EventBridge delivers the events a rule matched to its SQS target.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EventDelivery {
    pub seed: u64,
    /// Median seconds from the event to the message being receivable (log-normal).
    pub latency_median_secs: f64,
    /// The log-normal's σ: the tail (σ 0.8: p99 ≈ 6.4 × the median).
    pub latency_sigma: f64,
    /// Chance that an event is delivered twice (at-least-once).
    pub duplicate: f64,
    /// Chance that an event never arrives.
    pub loss: f64,
    /// A new rule starts matching uniformly within this many seconds of PutRule.
    pub activation_max_secs: f64,
}

impl Default for EventDelivery {
    fn default() -> Self {
        EventDelivery { seed: 7, latency_median_secs: 0.5, latency_sigma: 0.8, duplicate: 0.01, loss: 0.0, activation_max_secs: 10.0 }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct SimRule {
    pub(super) arn: String,
    pub(super) pattern: serde_json::Value,
    pub(super) tags: Vec<crate::ports::Tag>,
    /// (target id, ARN)
    pub(super) targets: Vec<(String, String)>,
    pub(super) live_at: f64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct SimQueue {
    pub(super) url: String,
    pub(super) arn: String,
    pub(super) attributes: BTreeMap<String, String>,
    pub(super) tags: Vec<crate::ports::Tag>,
    /// (receivable at, message id, body)
    pub(super) messages: Vec<(f64, String, String)>,
}

/// The bus, its rules, and the queues.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct BusWorld {
    pub(super) rules: BTreeMap<String, SimRule>,
    pub(super) queues: BTreeMap<String, SimQueue>,
    pub(super) draws: Option<Draws>,
    pub(super) events_sent: u64,
    /// CodeDeploy deployment id → the state last announced for it.
    pub(super) cd_announced: BTreeMap<String, String>,
    /// PAUSE hook instances already announced as awaiting action.
    #[serde(default)]
    pub(super) hooks_announced: BTreeSet<String>,
}
