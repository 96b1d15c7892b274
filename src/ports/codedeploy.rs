//! The `CodeDeploy` port: deployment groups, deployments and their targets.

use super::clock::Timestamp;
use super::error::PortResult;
use crate::states::CdStatus;
use async_trait::async_trait;
use serde::Serialize;

/// A CodeDeploy ECS deployment group, as far as fgdeploy needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Default, schemars::JsonSchema)]
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
    pub(crate) compute_platform: Option<crate::states::ComputePlatform>,
}

/// GetDeployment's deploymentInfo.
#[derive(Debug, Clone, PartialEq, Serialize, Default, schemars::JsonSchema)]
pub struct CdDeployment {
    pub id: String,
    pub status: CdStatus,
    pub error: Option<String>,
    pub rollback_deployment_id: Option<String>,
    pub(crate) rollback_message: Option<String>,
    /// `instanceTerminationWaitTimeStarted`: CodeDeploy never sets it for ECS deployments
    /// (aws/containers-roadmap#269); the deployment target's status is what tells.
    pub termination_wait_started: bool,
    /// The deployment the answer is about (checked against the one asked for).
    pub answered_id: Option<String>,
    /// The SHA-256 of the AppSpec content the deployment carries (`revision.appSpecContent`),
    /// to know a deployment is this release's.
    pub appspec_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default, schemars::JsonSchema)]
pub struct TaskSetInfo {
    pub(crate) id: String,
    pub label: Option<crate::states::TaskSetLabel>,
    pub(crate) status: Option<String>,
    pub desired: i64,
    pub running: i64,
    pub(crate) pending: i64,
    /// percent
    pub traffic_weight: f64,
    pub(crate) target_group: Option<String>,
}

/// GetDeploymentTarget's ecsTarget.
#[derive(Debug, Clone, PartialEq, Serialize, Default, schemars::JsonSchema)]
pub struct CdTarget {
    pub(crate) status: Option<crate::states::CdTargetStatus>,
    /// (lifecycle event, status)
    pub lifecycle_events: Vec<(crate::states::CdLifecycleEvent, crate::states::CdEventStatus)>,
    /// (lifecycle event, start, end), where CodeDeploy reports them.
    pub event_times: Vec<(crate::states::CdLifecycleEvent, Option<Timestamp>, Option<Timestamp>)>,
    pub task_sets: Vec<TaskSetInfo>,
    /// The lifecycle events that say why they failed (`diagnostics`): a hook's answer, a
    /// script's error.
    pub failures: Vec<LifecycleFailure>,
}

/// A lifecycle event's `diagnostics`, as GetDeploymentTarget reports them.
#[derive(Debug, Clone, PartialEq, Serialize, Default, schemars::JsonSchema)]
pub struct LifecycleFailure {
    pub event: crate::states::CdLifecycleEvent,
    pub status: crate::states::CdEventStatus,
    /// `errorCode`: Success, ScriptMissing, ScriptNotExecutable, ScriptTimedOut, ScriptFailed, UnknownError.
    pub error_code: Option<String>,
    /// `scriptName`: for ECS, the hook's Lambda function.
    pub script_name: Option<String>,
    pub message: Option<String>,
    /// `logTail`: the last 4 KB of the hook's log.
    pub log_tail: Option<String>,
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
    /// ListDeploymentTargets: the deployment's target ids (one page; an ECS deployment has one).
    async fn deployment_targets(&self, id: &str) -> PortResult<Vec<String>>;
    /// GetDeploymentTarget for `<cluster>:<service>`.
    async fn deployment_target(&self, id: &str, target: &str) -> PortResult<CdTarget>;
    /// ContinueDeployment: READY_WAIT (start production traffic) or TERMINATION_WAIT.
    async fn continue_deployment(&self, id: &str, wait_type: &str) -> PortResult<()>;
    /// StopDeployment; with `rollback`, CodeDeploy starts a rollback deployment.
    async fn stop_deployment(&self, id: &str, rollback: bool) -> PortResult<()>;
}
