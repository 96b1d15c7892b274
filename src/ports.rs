//! The narrow interfaces ("ports") through which the engine sees AWS, and the plain data it gets
//! back. Two adapters implement them: `aws` (the SDK) and `sim` (the deterministic simulator).
//! Nothing here names an SDK type.

pub use crate::servicedef::{
    AzRebalancing, CapacityProviderItem, Controller, LiveSettings, PropagateTags, ServiceConnect, ServiceDefinition, ServiceRegistry,
};
use crate::states::{CdStatus, DeploymentStatus, LifecycleStage, RolloutState, SdStatus, StopCode, TaskStatus};
use crate::taskdef::TaskDefinition;
use async_trait::async_trait;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Seconds since the Unix epoch (virtual in the simulator).
pub type Timestamp = f64;

/// Why an AWS call failed, classified for the engine's decisions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PortError {
    /// Rate exceeded (after the SDK's own retries): back off and try again.
    #[error("{op}: throttled by AWS (rate exceeded)")]
    Throttled { op: String },
    /// 5xx, timeout, connection or malformed response: may be retried; a mutating call may or
    /// may not have taken effect.
    #[error("{op}: transient failure: {message}")]
    Transient { op: String, message: String },
    /// The endpoint cannot be reached (DNS, connection refused, connect or attempt timeout).
    #[error("{op}: cannot reach {endpoint}: {message}")]
    Unreachable { op: String, endpoint: String, message: String },
    /// The resource does not exist.
    #[error("{op}: not found: {message}")]
    NotFound { op: String, message: String },
    /// The endpoint does not implement this operation (older region, emulator).
    #[error("{op}: not supported by this endpoint: {message}")]
    Unsupported { op: String, message: String },
    /// AWS refused the request (validation, permissions, conflict). Not retried.
    #[error("{op}: {code}: {message}")]
    Rejected { op: String, code: String, message: String },
}

impl PortError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, PortError::Throttled { .. } | PortError::Transient { .. } | PortError::Unreachable { .. })
    }
    pub fn op(&self) -> &str {
        match self {
            PortError::Throttled { op }
            | PortError::Transient { op, .. }
            | PortError::Unreachable { op, .. }
            | PortError::NotFound { op, .. }
            | PortError::Unsupported { op, .. }
            | PortError::Rejected { op, .. } => op,
        }
    }
}

pub type PortResult<T> = Result<T, PortError>;

/// Counts every AWS call by operation (`ecs:DescribeServices`), shared by the adapters.
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<Mutex<BTreeMap<String, u64>>>);

impl CallCounter {
    pub fn record(&self, op: &str) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(op.to_string()).or_default() += 1;
        }
    }
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
    pub fn count(&self, op: &str) -> u64 {
        self.snapshot().get(op).copied().unwrap_or(0)
    }
    /// Count calls made through other ports (the template lookups' before the load).
    pub fn add_all(&self, calls: &BTreeMap<String, u64>) {
        if let Ok(mut m) = self.0.lock() {
            for (op, n) in calls {
                *m.entry(op.clone()).or_default() += n;
            }
        }
    }
    /// Whether both count into the same table (clones of one counter).
    pub fn same(&self, other: &CallCounter) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct CircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
    /// `resetOnHealthyTask` (default true: consecutive failures; false: cumulative).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_on_healthy_task: Option<bool>,
    /// `thresholdConfiguration`: (type COUNT | BOUNDED_PERCENT | UNBOUNDED_PERCENT, value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<(String, i32)>,
}

impl CircuitBreaker {
    /// The failure count that trips it for `desired` tasks (AWS's default: BOUNDED_PERCENT 50,
    /// at least 3 and at most 200).
    pub fn threshold_for(&self, desired: i32) -> i32 {
        let pct = |v: i32| (i64::from(desired) * i64::from(v)).div_euclid(100) as i32 + i32::from((desired * v) % 100 != 0);
        match self.threshold.as_ref().map(|(k, v)| (k.as_str(), *v)) {
            Some(("COUNT", v)) => v.max(1),
            Some(("UNBOUNDED_PERCENT", v)) => pct(v).max(1),
            Some((_, v)) => pct(v).clamp(3, 200),
            None => pct(50).clamp(3, 200),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alarms {
    pub names: Vec<String>,
    pub enable: bool,
    pub rollback: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct DeploymentConfig {
    pub minimum_healthy_percent: Option<i32>,
    pub maximum_percent: Option<i32>,
    pub circuit_breaker: Option<CircuitBreaker>,
    pub alarms: Option<Alarms>,
    /// `bakeTimeInMinutes` as configured on the service (kept when fgdeploy sends the structure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bake_time_minutes: Option<i32>,
    /// `lifecycleHooks`: the team's Lambda and PAUSE hooks (and fgdeploy's own gate while a
    /// release runs). Always sent whole: UpdateService takes the structure as a whole.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lifecycle_hooks: Vec<LifecycleHook>,
    /// `earlySuccessCriteria` (rolling): (enable, healthyPercent, sourceServiceRevisionCleanup).
    /// Not set by a deployspec: kept as it is live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_success: Option<(bool, Option<i32>, Option<String>)>,
    /// `strategy` as the service has it: ROLLING, BLUE_GREEN, LINEAR or CANARY (None: never set,
    /// which ECS treats as ROLLING).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<crate::states::DeploymentStrategy>,
    /// `linearConfiguration`: (stepPercent, stepBakeTimeInMinutes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linear: Option<(f64, i32)>,
    /// `canaryConfiguration`: (canaryPercent, canaryBakeTimeInMinutes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<(f64, i32)>,
}

impl DeploymentConfig {
    /// The ECS-native blue/green strategy the service is set to, if any (not ROLLING).
    pub fn native_strategy(&self) -> Option<&crate::states::DeploymentStrategy> {
        self.strategy.as_ref().filter(|s| s.is_native())
    }

    /// The structure without a gate hook a killed fgdeploy run left behind: what a release keeps.
    pub fn without_fgdeploys_hooks(&self) -> DeploymentConfig {
        let mut c = self.clone();
        c.lifecycle_hooks.retain(|h| !h.is_fgdeploys());
        c
    }
}

/// One `deploymentConfiguration.lifecycleHooks[]` entry, every member kept.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct LifecycleHook {
    /// AWS_LAMBDA | PAUSE
    pub target_type: String,
    pub hook_target_arn: Option<String>,
    pub role_arn: Option<String>,
    /// Lifecycle stages, as AWS spells them (PRE_PRODUCTION_TRAFFIC_SHIFT is newer than the SDK).
    pub stages: Vec<String>,
    pub timeout_minutes: Option<i32>,
    /// CONTINUE | ROLLBACK
    pub timeout_action: Option<String>,
    /// `hookDetails`, a free JSON document (fgdeploy's own gate carries `{"createdBy":"fgdeploy"}`).
    pub details: Option<serde_json::Value>,
}

impl LifecycleHook {
    /// The stage fgdeploy's test gate pauses at.
    pub const GATE_STAGE: &'static str = "POST_TEST_TRAFFIC_SHIFT";

    /// fgdeploy's own PAUSE hook for one release: at POST_TEST_TRAFFIC_SHIFT, marked in its
    /// details, timing out after `timeout_minutes` with ROLLBACK (a runner that never comes
    /// back does not leave the deployment paused for the 24-hour default).
    pub fn fgdeploy_gate(timeout_minutes: i32) -> LifecycleHook {
        LifecycleHook {
            target_type: "PAUSE".into(),
            stages: vec![Self::GATE_STAGE.into()],
            timeout_minutes: Some(timeout_minutes),
            timeout_action: Some("ROLLBACK".into()),
            details: Some(serde_json::json!({"createdBy": "fgdeploy"})),
            ..Default::default()
        }
    }

    /// A hook fgdeploy added (this release's, or one a killed run left behind).
    pub fn is_fgdeploys(&self) -> bool {
        self.details.as_ref().and_then(|d| d.get("createdBy")).and_then(|v| v.as_str()) == Some("fgdeploy")
    }

    pub fn is_pause(&self) -> bool {
        self.target_type == "PAUSE"
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Deployment {
    pub id: String,
    pub status: DeploymentStatus,
    pub task_definition: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub failed_tasks: i32,
    /// Absent for some service kinds (classic load balancers).
    pub rollout_state: Option<RolloutState>,
    pub rollout_state_reason: Option<String>,
    pub created_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceEvent {
    pub id: String,
    pub created_at: Option<Timestamp>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Network {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadBalancer {
    pub target_group_arn: Option<String>,
    pub container_name: Option<String>,
    pub container_port: Option<i32>,
    /// `advancedConfiguration` (ECS-native blue/green).
    pub advanced: Option<AdvancedLbConfig>,
}

/// A load balancer's `advancedConfiguration`: the alternate target group, the listener rules and
/// the role ECS shifts traffic with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Default)]
pub struct AdvancedLbConfig {
    pub alternate_target_group_arn: String,
    pub production_listener_rule: String,
    pub test_listener_rule: Option<String>,
    pub role_arn: String,
}

/// What DescribeServices says about one service.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ServiceState {
    pub arn: String,
    pub name: String,
    pub cluster_arn: String,
    pub status: crate::states::ServiceStatus,
    pub desired_count: i32,
    pub running_count: i32,
    pub pending_count: i32,
    pub task_definition: String,
    pub deployment_controller: Controller,
    pub deployment_config: DeploymentConfig,
    pub deployments: Vec<Deployment>,
    /// Newest first, as ECS returns them.
    pub events: Vec<ServiceEvent>,
    pub load_balancers: Vec<LoadBalancer>,
    pub network: Option<Network>,
    pub launch_type: Option<String>,
    pub platform_version: Option<String>,
    pub current_service_deployment: Option<String>,
    /// `enableExecuteCommand`: ECS Exec works on the tasks started since it was set.
    pub enable_execute_command: bool,
    /// `enableECSManagedTags`.
    pub enable_ecs_managed_tags: bool,
    /// Empty: the launch type.
    pub capacity_provider_strategy: Vec<CapacityProviderItem>,
    pub health_check_grace_period_seconds: Option<i32>,
    pub service_registries: Vec<ServiceRegistry>,
    /// The PRIMARY deployment's Service Connect configuration (DescribeServices has it there).
    pub service_connect: Option<ServiceConnect>,
    pub propagate_tags: Option<PropagateTags>,
    pub availability_zone_rebalancing: Option<AzRebalancing>,
    /// The PRIMARY deployment's `volumeConfigurations` (DescribeServices has them there).
    pub volume_configurations: Vec<crate::servicedef::VolumeConfiguration>,
    /// The PRIMARY deployment's `vpcLatticeConfigurations`.
    pub vpc_lattice: Vec<crate::servicedef::VpcLattice>,
    /// The service's tags (DescribeServices with `include=TAGS`).
    pub tags: BTreeMap<String, String>,
    /// Live settings this build cannot carry (newer than its SDK), in UpdateService's spelling:
    /// a plan that would send their structure whole refuses; others are left as they are.
    pub uncarried: Vec<String>,
}

impl ServiceState {
    pub fn primary(&self) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.status == DeploymentStatus::Primary)
    }
    pub fn deployment(&self, id: &str) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.id == id)
    }
    /// The settings `[service.definition]` manages, as they are on the service.
    pub fn settings(&self) -> LiveSettings<'_> {
        LiveSettings {
            network: self.network.as_ref(),
            capacity_provider_strategy: &self.capacity_provider_strategy,
            platform_version: self.platform_version.as_deref(),
            load_balancers: &self.load_balancers,
            health_check_grace_period_seconds: self.health_check_grace_period_seconds,
            service_registries: &self.service_registries,
            service_connect: self.service_connect.as_ref(),
            enable_execute_command: self.enable_execute_command,
            enable_ecs_managed_tags: self.enable_ecs_managed_tags,
            propagate_tags: self.propagate_tags,
            availability_zone_rebalancing: self.availability_zone_rebalancing,
            deployment_controller: self.deployment_controller,
            volume_configurations: &self.volume_configurations,
            vpc_lattice: &self.vpc_lattice,
            tags: &self.tags,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceDeploymentCircuitBreaker {
    pub status: Option<String>,
    pub failure_count: i32,
    pub threshold: i32,
}

/// What DescribeServiceDeployments says about one service deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceDeployment {
    pub arn: String,
    pub status: SdStatus,
    pub status_reason: Option<String>,
    /// The target service-revision ARN.
    pub target_revision: Option<String>,
    /// The target task definition, where the adapter knows it (the simulator does; the SDK
    /// adapter would need DescribeServiceRevisions, so it leaves this empty).
    pub target_task_definition: Option<String>,
    pub source_task_definitions: Vec<String>,
    pub created_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub rollback_reason: Option<String>,
    pub circuit_breaker: Option<ServiceDeploymentCircuitBreaker>,
    /// Stages newer than the SDK (PRE_PRODUCTION_TRAFFIC_SHIFT) arrive as `Unknown(text)`.
    pub lifecycle_stage: Option<LifecycleStage>,
    pub hooks: Vec<HookDetail>,
}

impl ServiceDeployment {
    pub fn is_terminal(&self) -> bool {
        self.status.is_terminal()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerState {
    pub name: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub last_status: Option<String>,
    /// The container runtime's id (ECS Exec's session target names it); set once it runs.
    pub runtime_id: Option<String>,
}

/// An ECS Exec session, as ExecuteCommand opens it for the Session Manager plugin.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecSession {
    pub session_id: String,
    pub stream_url: String,
    /// A secret: handed to the plugin only, never printed.
    #[serde(skip)]
    pub token_value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    pub arn: String,
    pub task_definition: String,
    pub last_status: TaskStatus,
    pub desired_status: TaskStatus,
    pub started_by: Option<String>,
    pub stop_code: Option<StopCode>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<ContainerState>,
    /// When ECS created the task, and when it reached RUNNING: their difference is how long
    /// this service's tasks take to start (the pace forecast reads it).
    pub created_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
}

impl Task {
    pub fn id(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or(&self.arn)
    }
}

/// A registered task-definition revision.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredTaskDefinition {
    pub arn: String,
    pub family: String,
    pub revision: i32,
    pub definition: TaskDefinition,
}

/// UpdateService for an ECS-controller release: the one mutating call of a deploy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpdateService {
    pub cluster: String,
    pub service: String,
    pub task_definition: String,
    pub desired_count: Option<i32>,
    pub deployment_config: Option<DeploymentConfig>,
    /// ECS-native blue/green, linear or canary instead of rolling.
    pub native: Option<NativeDeployment>,
    /// The service settings that change (`[service.definition]`); empty: none. Tags are not
    /// here: UpdateService cannot set them (`tag_service`).
    pub settings: ServiceDefinition,
}

impl UpdateService {
    /// Only the task definition: the service's settings and deployment configuration as they are.
    pub fn revision_only(cluster: &str, service: &str, task_definition: &str) -> UpdateService {
        UpdateService {
            cluster: cluster.into(),
            service: service.into(),
            task_definition: task_definition.into(),
            desired_count: None,
            deployment_config: None,
            native: None,
            settings: Default::default(),
        }
    }
}

/// CreateService from the deployspec's `[service.definition]` (`release --create`, `create`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateService {
    pub cluster: String,
    pub service: String,
    pub task_definition: String,
    pub desired_count: i32,
    pub deployment_config: Option<DeploymentConfig>,
    /// Every setting of the definition, tags included.
    pub settings: ServiceDefinition,
}

/// `deploymentConfiguration.strategy` BLUE_GREEN | LINEAR | CANARY with its settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NativeDeployment {
    pub strategy: crate::states::DeploymentStrategy,
    pub bake_time_minutes: Option<i32>,
    /// (stepPercent, stepBakeTimeInMinutes)
    pub linear: Option<(f64, i32)>,
    /// (canaryPercent, canaryBakeTimeInMinutes)
    pub canary: Option<(f64, i32)>,
    /// A PAUSE lifecycle hook at POST_TEST_TRAFFIC_SHIFT: fgdeploy's test gate.
    pub pause_after_test_traffic: bool,
    pub load_balancer: Option<AdvancedLoadBalancer>,
    /// The service's live deployment configuration (minimum/maximum percent, circuit breaker,
    /// alarms, the team's lifecycle hooks; without any hook a killed fgdeploy run left): sent
    /// with the strategy, since UpdateService takes `deploymentConfiguration` as a whole.
    pub base: DeploymentConfig,
    /// Minutes fgdeploy's PAUSE hook waits before ECS rolls back by itself.
    pub gate_timeout_minutes: i32,
}

impl NativeDeployment {
    /// Every lifecycle hook the deployment carries: the service's own, and fgdeploy's gate.
    pub fn hooks(&self) -> Vec<LifecycleHook> {
        let mut hooks = self.base.lifecycle_hooks.clone();
        if self.pause_after_test_traffic {
            hooks.push(LifecycleHook::fgdeploy_gate(self.gate_timeout_minutes));
        }
        hooks
    }
}

/// `loadBalancers[].advancedConfiguration`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdvancedLoadBalancer {
    pub target_group_arn: String,
    pub container_name: String,
    pub container_port: i32,
    pub alternate_target_group_arn: String,
    pub production_listener_rule: String,
    pub test_listener_rule: Option<String>,
    pub role_arn: String,
}

/// `lifecycleHookDetails[]` of a service deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HookDetail {
    pub hook_id: String,
    /// AWS_LAMBDA | PAUSE
    pub target_type: Option<String>,
    pub status: Option<crate::states::HookStatus>,
}

/// RunTask for a one-off task (migration, `fgdeploy run`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunTask {
    pub cluster: String,
    pub task_definition: String,
    pub container: String,
    pub command: Vec<String>,
    pub network: Option<Network>,
    /// FARGATE unless a capacity provider strategy is used.
    pub launch_type: Option<String>,
    pub capacity_providers: Vec<String>,
    pub platform_version: Option<String>,
    pub started_by: String,
    /// Idempotency token: a retried RunTask with the same token never starts a second task.
    pub client_token: String,
}

/// RunTask's answer: it can succeed over HTTP with `failures` and no task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunTaskResult {
    pub tasks: Vec<Task>,
    /// (reason, detail)
    pub failures: Vec<(String, String)>,
}

/// One page of CloudWatch Logs events, oldest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogPage {
    pub lines: Vec<String>,
    pub next_token: Option<String>,
}

#[async_trait]
pub trait Ecs: Send + Sync {
    /// DescribeServices for one service; `None` when it does not exist (MISSING) or is INACTIVE.
    async fn describe_service(&self, cluster: &str, service: &str) -> PortResult<Option<ServiceState>>;
    /// DescribeTaskDefinition with tags.
    async fn describe_task_definition(&self, task_definition: &str) -> PortResult<RegisteredTaskDefinition>;
    async fn register_task_definition(&self, td: &TaskDefinition) -> PortResult<RegisteredTaskDefinition>;
    async fn update_service(&self, req: &UpdateService) -> PortResult<ServiceState>;
    /// ListTasks of the service's RUNNING tasks (`serviceName`).
    async fn service_tasks(&self, cluster: &str, service: &str) -> PortResult<Vec<String>>;
    /// ExecuteCommand, interactive: the Session Manager session to hand to the plugin.
    async fn execute_command(&self, cluster: &str, task: &str, container: &str, command: &str) -> PortResult<ExecSession>;
    /// CreateService: the service's first deployment starts.
    async fn create_service(&self, req: &CreateService) -> PortResult<ServiceState>;
    /// TagResource on the service: these keys set, the others left alone.
    async fn tag_service(&self, service_arn: &str, tags: &BTreeMap<String, String>) -> PortResult<()>;
    /// UpdateService with only `desiredCount` (no new deployment: `scale`).
    async fn set_desired_count(&self, cluster: &str, service: &str, count: i32) -> PortResult<ServiceState>;
    /// ListServiceDeployments, newest first; `created_after` filters by creation time.
    async fn list_service_deployments(&self, cluster: &str, service: &str, created_after: Option<Timestamp>) -> PortResult<Vec<String>>;
    async fn describe_service_deployments(&self, arns: &[String]) -> PortResult<Vec<ServiceDeployment>>;
    /// StopServiceDeployment with stopType ROLLBACK.
    async fn stop_service_deployment_rollback(&self, arn: &str) -> PortResult<()>;
    /// ListTasks filtered by startedBy and desired status (STOPPED when `stopped`).
    async fn list_tasks(&self, cluster: &str, started_by: &str, stopped: bool) -> PortResult<Vec<String>>;
    /// DescribeTasks; tasks ECS does not (yet) know are absent (MISSING).
    async fn describe_tasks(&self, cluster: &str, arns: &[String]) -> PortResult<Vec<Task>>;
    async fn run_task(&self, req: &RunTask) -> PortResult<RunTaskResult>;
    /// ListTaskDefinitions: the ACTIVE revisions of a family, oldest first.
    async fn list_task_definitions(&self, family: &str) -> PortResult<Vec<String>>;
    async fn deregister_task_definition(&self, arn: &str) -> PortResult<()>;
    async fn stop_task(&self, cluster: &str, task: &str, reason: &str) -> PortResult<()>;
    /// ContinueServiceDeployment for a PAUSE hook: CONTINUE or ROLLBACK.
    async fn continue_service_deployment(&self, arn: &str, hook_id: &str, action: &str) -> PortResult<()>;
}

/// A CodeDeploy ECS deployment group, as far as fgdeploy needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct DeploymentGroup {
    pub application: String,
    pub name: String,
    pub deployment_config: Option<String>,
    /// CONTINUE_DEPLOYMENT | STOP_DEPLOYMENT
    pub ready_action: Option<crate::states::ReadyAction>,
    pub ready_wait_minutes: i32,
    pub auto_rollback_enabled: bool,
    /// DEPLOYMENT_FAILURE | DEPLOYMENT_STOP_ON_ALARM | DEPLOYMENT_STOP_ON_REQUEST
    pub auto_rollback_events: Vec<String>,
    pub target_groups: Vec<String>,
    pub prod_listeners: Vec<String>,
    pub test_listeners: Vec<String>,
    /// TERMINATE | KEEP_ALIVE
    pub terminate_action: Option<String>,
    pub termination_wait_minutes: i32,
    /// (cluster, service)
    pub ecs_services: Vec<(String, String)>,
    /// `computePlatform`: ECS, Server (EC2/on-premises) or Lambda.
    pub compute_platform: Option<String>,
}

/// GetDeployment's deploymentInfo.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct CdDeployment {
    pub id: String,
    pub status: CdStatus,
    pub error: Option<String>,
    pub rollback_deployment_id: Option<String>,
    pub rollback_message: Option<String>,
    /// `instanceTerminationWaitTimeStarted`: CodeDeploy never sets it for ECS deployments
    /// (aws/containers-roadmap#269); the deployment target's status is what tells.
    pub termination_wait_started: bool,
    /// The deployment the answer is about (checked against the one asked for).
    pub answered_id: Option<String>,
    /// The SHA-256 of the AppSpec content the deployment carries (`revision.appSpecContent`),
    /// to know a deployment is this release's.
    pub appspec_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct TaskSetInfo {
    pub id: String,
    pub label: Option<crate::states::TaskSetLabel>,
    pub status: Option<String>,
    pub desired: i64,
    pub running: i64,
    pub pending: i64,
    /// percent
    pub traffic_weight: f64,
    pub target_group: Option<String>,
}

/// GetDeploymentTarget's ecsTarget.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct CdTarget {
    pub status: Option<String>,
    /// (lifecycle event, status)
    pub lifecycle_events: Vec<(String, String)>,
    /// (lifecycle event, start, end), where CodeDeploy reports them.
    pub event_times: Vec<(String, Option<Timestamp>, Option<Timestamp>)>,
    pub task_sets: Vec<TaskSetInfo>,
}

#[async_trait]
pub trait CodeDeploy: Send + Sync {
    async fn deployment_group(&self, application: &str, group: &str) -> PortResult<DeploymentGroup>;
    /// Deployments of the group in Created/Queued/InProgress/Baking/Ready.
    async fn active_deployments(&self, application: &str, group: &str) -> PortResult<Vec<String>>;
    /// Succeeded deployments of the group, as ListDeployments returns them (newest first).
    async fn succeeded_deployments(&self, application: &str, group: &str) -> PortResult<Vec<String>>;
    /// CreateDeployment with AppSpecContent and its sha256; returns the deployment id.
    async fn create_deployment(
        &self,
        application: &str,
        group: &str,
        config: Option<&str>,
        appspec: &str,
        sha256: &str,
    ) -> PortResult<String>;
    async fn deployment(&self, id: &str) -> PortResult<CdDeployment>;
    /// GetDeploymentTarget for `<cluster>:<service>`.
    async fn deployment_target(&self, id: &str, target: &str) -> PortResult<CdTarget>;
    /// ContinueDeployment: READY_WAIT (start production traffic) or TERMINATION_WAIT.
    async fn continue_deployment(&self, id: &str, wait_type: &str) -> PortResult<()>;
    /// StopDeployment; with `rollback`, CodeDeploy starts a rollback deployment.
    async fn stop_deployment(&self, id: &str, rollback: bool) -> PortResult<()>;
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listener {
    pub arn: String,
    pub port: Option<i32>,
    pub protocol: Option<String>,
    pub load_balancer_arn: Option<String>,
}

#[async_trait]
pub trait Elb: Send + Sync {
    async fn listener(&self, arn: &str) -> PortResult<Listener>;
    async fn load_balancer_dns(&self, arn: &str) -> PortResult<String>;
}

/// CloudWatch Logs, for the migration's output.
#[async_trait]
pub trait Logs: Send + Sync {
    /// GetLogEvents with startFromHead; `NotFound` while the stream does not exist yet.
    async fn log_events(&self, group: &str, stream: &str, token: Option<&str>) -> PortResult<LogPage>;
}

/// Registry credentials from GetAuthorizationToken (valid 12 h).
#[derive(Clone, PartialEq)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
    /// `https://<account>.dkr.ecr.<region>.amazonaws.com`
    pub endpoint: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("RegistryAuth").field("username", &self.username).field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

impl RegistryAuth {
    /// The registry host (`<account>.dkr.ecr.<region>.amazonaws.com`).
    pub fn host(&self) -> &str {
        self.endpoint.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/')
    }
}

/// An image manifest exactly as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub body: String,
    pub media_type: Option<String>,
    pub digest: Option<String>,
}

/// ECR: repositories, tags, credentials, manifests.
#[async_trait]
pub trait Ecr: Send + Sync {
    /// The repository URI for a repository name (DescribeRepositories).
    async fn repository_uri(&self, repository: &str) -> PortResult<String>;
    /// The digest of `repository:tag`, or `None` when the tag does not exist (BatchGetImage).
    async fn image_digest(&self, repository: &str, tag: &str) -> PortResult<Option<String>>;
    /// BatchGetImage in the registry `registry_id` (another account's ECR in this region):
    /// whether `repository:reference` (a tag or a digest) exists.
    async fn image_exists_in(&self, registry_id: &str, repository: &str, reference: &str) -> PortResult<bool>;
    /// DescribePullThroughCacheRules: the upstream registry host when `repository` lies under a
    /// pull-through cache prefix of this registry (its images appear on the first pull).
    async fn pull_through_upstream(&self, repository: &str) -> PortResult<Option<String>>;
    /// CreateRepository; returns its URI.
    async fn create_repository(&self, repository: &str) -> PortResult<String>;
    /// GetAuthorizationToken, decoded.
    async fn authorization(&self) -> PortResult<RegistryAuth>;
    /// BatchGetImage with every accepted manifest media type; `None` when the tag is missing.
    async fn manifest(&self, repository: &str, tag: &str) -> PortResult<Option<Manifest>>;
    /// PutImage with the exact manifest bytes; `Ok(false)` when the tag already had it.
    async fn put_manifest(&self, repository: &str, tag: &str, manifest: &Manifest) -> PortResult<bool>;
}

/// What to build.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildRequest {
    /// The full image reference to push (`<registry>/<repo>:<tag>`).
    pub image: String,
    /// `<registry>/<repo>`, for the registry build cache.
    pub repository_uri: String,
    pub context: std::path::PathBuf,
    pub dockerfile: std::path::PathBuf,
    pub target: Option<String>,
    pub args: BTreeMap<String, String>,
    /// e.g. `linux/arm64`, from the task definition's runtimePlatform.
    pub platform: Option<String>,
    /// A user command that builds *and pushes* instead of docker (variables expanded).
    pub command: Option<Vec<String>>,
    /// Use the registry as a build cache (buildx only).
    pub cache: bool,
}

/// Why a build or push failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(pub String);

/// The container builder, driven as a subprocess (or simulated).
#[async_trait]
pub trait Builder: Send + Sync {
    /// Log in to `registry`, the password on stdin (never in argv, never printed).
    async fn login(&self, auth: &RegistryAuth) -> Result<(), BuildError>;
    /// Build and push; each output line goes to `progress`. Returns the pushed digest if the
    /// builder printed it.
    async fn build_and_push(&self, req: &BuildRequest, progress: &(dyn Fn(String) + Send + Sync)) -> Result<Option<String>, BuildError>;
}

/// Application Auto Scaling's scalable target for a service's desired count: the bounds the
/// autoscaler keeps it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScalableTarget {
    pub min: i32,
    pub max: i32,
    /// Dynamic scale-in is suspended (`SuspendedState.DynamicScalingInSuspended`).
    pub scale_in_suspended: bool,
}

impl ScalableTarget {
    /// `count` kept within the target's bounds.
    pub fn clamp(&self, count: i32) -> i32 {
        count.clamp(self.min, self.max.max(self.min))
    }
}

/// Application Auto Scaling, for the services it scales.
#[async_trait]
pub trait Autoscaling: Send + Sync {
    /// DescribeScalableTargets of `service/<cluster>/<service>` (`ecs:service:DesiredCount`).
    async fn scalable_target(&self, cluster: &str, service: &str) -> PortResult<Option<ScalableTarget>>;
    /// RegisterScalableTarget with only `SuspendedState.DynamicScalingInSuspended` set (min, max
    /// and the other suspensions stay as they are).
    async fn suspend_scale_in(&self, cluster: &str, service: &str, suspended: bool) -> PortResult<()>;
}

/// What a release's task definition and service need to exist in the account (`verify`): each
/// answer is `Ok(true)` when it exists, `Ok(false)` when AWS says it does not.
#[async_trait]
pub trait Account: Send + Sync {
    /// SSM GetParameter (a name or a parameter ARN; the value is not decrypted).
    async fn parameter_exists(&self, name: &str) -> PortResult<bool>;
    /// Secrets Manager DescribeSecret (an ARN or a name).
    async fn secret_exists(&self, id: &str) -> PortResult<bool>;
    /// IAM GetRole: `None` when the role does not exist, else whether ECS tasks may assume it
    /// (its trust policy names `ecs-tasks.amazonaws.com`).
    async fn role_trusts_ecs_tasks(&self, arn: &str) -> PortResult<Option<bool>>;
    /// EC2 DescribeSubnets: the ids of `ids` that do not exist.
    async fn missing_subnets(&self, ids: &[String]) -> PortResult<Vec<String>>;
    /// EC2 DescribeSecurityGroups: the ids of `ids` that do not exist.
    async fn missing_security_groups(&self, ids: &[String]) -> PortResult<Vec<String>>;
    /// CloudWatch Logs DescribeLogGroups (exact name).
    /// DescribeLogGroups in `region` (a container's `awslogs-region`), or the client's region.
    async fn log_group_exists(&self, region: Option<&str>, name: &str) -> PortResult<bool>;
    /// ELBv2 DescribeTargetGroups.
    async fn target_group_exists(&self, arn: &str) -> PortResult<bool>;
    /// SSM GetParameter with decryption: the value, and whether it is a SecureString.
    async fn parameter_value(&self, name: &str) -> PortResult<(String, bool)>;
    /// Secrets Manager DescribeSecret: the secret's full ARN.
    async fn secret_arn(&self, id: &str) -> PortResult<String>;
    /// CloudFormation DescribeStacks: the stack's output `key` (None: the stack has no such output).
    async fn stack_output(&self, stack: &str, key: &str) -> PortResult<Option<String>>;
    /// S3 GetObject (a Terraform state in an S3 backend).
    async fn object(&self, bucket: &str, key: &str) -> PortResult<Vec<u8>>;
}

/// The resource id Application Auto Scaling gives an ECS service: `service/<cluster name>/<service>`.
pub fn scalable_resource_id(cluster: &str, service: &str) -> String {
    format!("service/{}/{service}", cluster.rsplit('/').next().unwrap_or(cluster))
}

/// Time, real or virtual. The simulator's clock advances the simulated world when slept on.
#[async_trait]
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
    async fn sleep(&self, d: std::time::Duration);
    /// Several engines are about to share this clock concurrently (a fleet release): a virtual
    /// clock then advances only when all of them sleep. A real clock ignores it.
    fn join(&self) {}
    fn leave(&self) {}
}

/// Everything the engine needs from the outside world.
#[derive(Clone)]
pub struct Ports {
    pub ecs: Arc<dyn Ecs>,
    pub ecr: Arc<dyn Ecr>,
    pub logs: Arc<dyn Logs>,
    pub builder: Arc<dyn Builder>,
    pub codedeploy: Arc<dyn CodeDeploy>,
    pub elb: Arc<dyn Elb>,
    pub autoscaling: Arc<dyn Autoscaling>,
    pub account: Arc<dyn Account>,
    /// Registries other than this account's ECR (the registry v2 API).
    pub registry: Arc<dyn crate::registry::Registry>,
    pub clock: Arc<dyn Clock>,
    pub calls: CallCounter,
}

/// The real clock.
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
    }
    async fn sleep(&self, d: std::time::Duration) {
        tokio::time::sleep(d).await
    }
}
