//! The `Ecs` port: services, their deployments and service deployments, tasks, task definitions.

use super::clock::Timestamp;
use super::error::PortResult;
pub(super) use crate::servicedef::{
    AzRebalancing, CapacityProviderItem, Controller, LiveSettings, PropagateTags, ServiceConnect, ServiceDefinition, ServiceRegistry,
};
use crate::servicedef::{LoadBalancer, Network};
use crate::states::{DeploymentStatus, LifecycleStage, RolloutState, SdStatus, StopCode, TaskStatus};
use crate::taskdef::TaskDefinition;
use async_trait::async_trait;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, Default, schemars::JsonSchema)]
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

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Alarms {
    pub names: Vec<String>,
    pub enable: bool,
    pub rollback: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, Default, schemars::JsonSchema)]
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
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
    pub(crate) fn native_strategy(&self) -> Option<&crate::states::DeploymentStrategy> {
        self.strategy.as_ref().filter(|s| s.is_native())
    }

    /// The structure without a gate hook a killed fgdeploy run left behind: what a release keeps.
    pub(crate) fn without_fgdeploys_hooks(&self) -> DeploymentConfig {
        let mut c = self.clone();
        c.lifecycle_hooks.retain(|h| !h.is_fgdeploys());
        c
    }
}

/// One `deploymentConfiguration.lifecycleHooks[]` entry, every member kept.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, Default, schemars::JsonSchema)]
pub struct LifecycleHook {
    pub target_type: crate::states::HookTargetType,
    pub hook_target_arn: Option<String>,
    pub role_arn: Option<String>,
    /// Lifecycle stages (PRE_PRODUCTION_TRAFFIC_SHIFT is newer than the SDK).
    pub stages: Vec<LifecycleStage>,
    pub timeout_minutes: Option<i32>,
    pub timeout_action: Option<crate::states::HookAction>,
    /// `hookDetails`, a free JSON document (fgdeploy's own gate carries `{"createdBy":"fgdeploy"}`).
    pub details: Option<serde_json::Value>,
}

impl LifecycleHook {
    /// The stage fgdeploy's test gate pauses at.
    pub(crate) const GATE_STAGE: LifecycleStage = LifecycleStage::PostTestTrafficShift;

    /// fgdeploy's own PAUSE hook for one release: at POST_TEST_TRAFFIC_SHIFT, marked in its
    /// details, timing out after `timeout_minutes` with ROLLBACK (a runner that never comes
    /// back does not leave the deployment paused for the 24-hour default).
    pub(crate) fn fgdeploy_gate(timeout_minutes: i32) -> LifecycleHook {
        LifecycleHook {
            target_type: crate::states::HookTargetType::Pause,
            stages: vec![Self::GATE_STAGE],
            timeout_minutes: Some(timeout_minutes),
            timeout_action: Some(crate::states::HookAction::Rollback),
            details: Some(serde_json::json!({"createdBy": "fgdeploy"})),
            ..Default::default()
        }
    }

    /// The stage fgdeploy's step judge pauses at: before every linear/canary traffic step.
    pub(crate) const JUDGE_STAGE: LifecycleStage = LifecycleStage::PreProductionTrafficShift;

    /// fgdeploy's step judge: a PAUSE hook at PRE_PRODUCTION_TRAFFIC_SHIFT, marked as
    /// fgdeploy's, timing out with ROLLBACK (the dead-man's switch, as the gate's).
    pub(crate) fn fgdeploy_judge(timeout_minutes: i32) -> LifecycleHook {
        LifecycleHook {
            stages: vec![Self::JUDGE_STAGE],
            details: Some(serde_json::json!({"createdBy": "fgdeploy", "purpose": "canary-analysis"})),
            ..Self::fgdeploy_gate(timeout_minutes)
        }
    }

    /// A hook fgdeploy added (this release's, or one a killed run left behind).
    pub fn is_fgdeploys(&self) -> bool {
        self.details.as_ref().and_then(|d| d.get("createdBy")).and_then(|v| v.as_str()) == Some("fgdeploy")
    }

    pub fn is_pause(&self) -> bool {
        self.target_type == crate::states::HookTargetType::Pause
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, Default, schemars::JsonSchema)]
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
    pub(crate) rollout_state_reason: Option<String>,
    pub created_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ServiceEvent {
    pub(crate) id: String,
    pub(crate) created_at: Option<Timestamp>,
    pub message: String,
}

/// What DescribeServices says about one service.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, Default, schemars::JsonSchema)]
pub struct ServiceState {
    pub arn: String,
    pub name: String,
    pub(crate) cluster_arn: String,
    pub(crate) status: crate::states::ServiceStatus,
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
    pub(crate) platform_version: Option<String>,
    pub current_service_deployment: Option<String>,
    /// `enableExecuteCommand`: ECS Exec works on the tasks started since it was set.
    pub enable_execute_command: bool,
    /// `enableECSManagedTags`.
    pub(crate) enable_ecs_managed_tags: bool,
    /// Empty: the launch type.
    pub(crate) capacity_provider_strategy: Vec<CapacityProviderItem>,
    pub health_check_grace_period_seconds: Option<i32>,
    pub(crate) service_registries: Vec<ServiceRegistry>,
    /// The PRIMARY deployment's Service Connect configuration (DescribeServices has it there).
    pub service_connect: Option<ServiceConnect>,
    pub(crate) propagate_tags: Option<PropagateTags>,
    pub availability_zone_rebalancing: Option<AzRebalancing>,
    /// The PRIMARY deployment's `volumeConfigurations` (DescribeServices has them there).
    pub volume_configurations: Vec<crate::servicedef::VolumeConfiguration>,
    /// The PRIMARY deployment's `vpcLatticeConfigurations`.
    pub(crate) vpc_lattice: Vec<crate::servicedef::VpcLattice>,
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
    pub(crate) fn deployment(&self, id: &str) -> Option<&Deployment> {
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

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ServiceDeploymentCircuitBreaker {
    pub status: Option<String>,
    pub failure_count: i32,
    pub threshold: i32,
}

/// What DescribeServiceDeployments says about one service deployment.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ServiceDeployment {
    pub arn: String,
    pub status: SdStatus,
    pub(crate) status_reason: Option<String>,
    /// The target service-revision ARN.
    pub target_revision: Option<String>,
    /// The target task definition, where the adapter knows it (the simulator does; the SDK
    /// adapter would need DescribeServiceRevisions, so it leaves this empty).
    pub target_task_definition: Option<String>,
    pub source_task_definitions: Vec<String>,
    pub created_at: Option<Timestamp>,
    pub(crate) finished_at: Option<Timestamp>,
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

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ContainerState {
    pub name: String,
    pub exit_code: Option<i32>,
    pub(crate) reason: Option<String>,
    pub(crate) last_status: Option<String>,
    /// The container runtime's id (ECS Exec's session target names it); set once it runs.
    pub runtime_id: Option<String>,
}

/// An ECS Exec session, as ExecuteCommand opens it for the Session Manager plugin.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecSession {
    pub(crate) session_id: String,
    pub(crate) stream_url: String,
    /// A secret: handed to the plugin only, never printed.
    #[serde(skip)]
    pub(crate) token_value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
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
    pub(crate) fn revision_only(cluster: &str, service: &str, task_definition: &str) -> UpdateService {
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
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
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
    /// The canary judge (#29): fgdeploy's PAUSE hook at PRE_PRODUCTION_TRAFFIC_SHIFT, before
    /// every traffic step, timing out after this many minutes with ROLLBACK.
    #[serde(default)]
    pub judge_timeout_minutes: Option<i32>,
}

impl NativeDeployment {
    /// Every lifecycle hook the deployment carries: the service's own, fgdeploy's gate, and
    /// fgdeploy's step judge.
    pub(crate) fn hooks(&self) -> Vec<LifecycleHook> {
        let mut hooks = self.base.lifecycle_hooks.clone();
        if self.pause_after_test_traffic {
            hooks.push(LifecycleHook::fgdeploy_gate(self.gate_timeout_minutes));
        }
        if let Some(t) = self.judge_timeout_minutes {
            hooks.push(LifecycleHook::fgdeploy_judge(t));
        }
        hooks
    }

    /// The traffic steps fgdeploy's judge answers in a whole deployment: every step but the last
    /// (at 100 % nothing is compared) — CANARY one, LINEAR p % ⌈100 / p⌉ − 1.
    pub(crate) fn judged_steps(&self) -> u32 {
        match (self.linear, self.canary) {
            (Some((p, _)), _) if p > 0.0 => ((100.0 / p).ceil() as u32).saturating_sub(1),
            (_, Some(_)) => 1,
            _ => 0,
        }
    }

    /// fgdeploy adds a PAUSE hook of its own (the gate, the judge).
    pub(crate) fn pauses(&self) -> bool {
        self.pause_after_test_traffic || self.judge_timeout_minutes.is_some()
    }
}

/// `loadBalancers[].advancedConfiguration`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct HookDetail {
    pub hook_id: String,
    pub target_type: Option<crate::states::HookTargetType>,
    pub status: Option<crate::states::HookStatus>,
}

/// RunTask for a one-off task (migration, `fgdeploy run`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct RunTaskResult {
    pub tasks: Vec<Task>,
    /// (reason, detail)
    pub failures: Vec<(String, String)>,
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
    async fn continue_service_deployment(&self, arn: &str, hook_id: &str, action: crate::states::HookAction) -> PortResult<()>;
}
