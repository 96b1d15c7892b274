//! The narrow interfaces ("ports") through which the engine sees AWS, and the plain data it gets
//! back: one file per AWS service, with its own types; [`PortError`] in a leaf of its own. Two
//! adapters implement them: `aws` (the SDK) and `sim` (the deterministic simulator). Nothing here
//! names an SDK type.

mod account;
mod autoscaling;
mod builder;
mod calls;
mod clock;
mod cloudwatch;
mod codedeploy;
mod ecr;
mod ecs;
mod elb;
mod error;
mod events;
mod lease;
mod logs;

pub use crate::servicedef::{
    AdvancedLbConfig, AzRebalancing, CapacityProviderItem, Controller, LiveSettings, LoadBalancer, Network, PropagateTags, ServiceConnect,
    ServiceDefinition, ServiceRegistry,
};
pub(crate) use account::Account;
pub use autoscaling::{Autoscaling, ScalableTarget, scalable_resource_id};
pub use builder::{BuildError, BuildRequest, Builder};
pub(crate) use calls::CallCounter;
pub use clock::{Clock, SystemClock, Timestamp};
pub use cloudwatch::{AlarmChange, AlarmState, CloudWatch, METRIC_PERIOD_SECS, MetricQuery, MetricSeries, MetricSource};
pub(crate) use cloudwatch::{arn_resource, revision_of};
pub use codedeploy::{CdDeployment, CdTarget, CodeDeploy, DeploymentGroup, LifecycleFailure, TaskSetInfo};
pub use ecr::{Ecr, Manifest, RegistryAuth};
pub use ecs::{
    AdvancedLoadBalancer, Alarms, CircuitBreaker, ContainerState, CreateService, Deployment, DeploymentConfig, Ecs, ExecSession,
    HookDetail, LifecycleHook, NativeDeployment, RegisteredTaskDefinition, RunTask, RunTaskResult, ServiceDeployment,
    ServiceDeploymentCircuitBreaker, ServiceEvent, ServiceState, Task, UpdateService,
};
pub(crate) use elb::{Elb, HealthCheck, Listener, TargetHealth};
pub use error::{PortError, PortResult};
pub use events::{Bus, QueuedMessage, Queues, Tag};
pub use lease::{Leases, Stored};
pub(crate) use logs::{LogPage, Logs};

use std::sync::Arc;

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
    pub cloudwatch: Arc<dyn CloudWatch>,
    pub leases: Arc<dyn Leases>,
    pub bus: Arc<dyn Bus>,
    pub queues: Arc<dyn Queues>,
    pub account: Arc<dyn Account>,
    /// Registries other than this account's ECR (the registry v2 API).
    pub registry: Arc<dyn crate::registry::Registry>,
    pub clock: Arc<dyn Clock>,
    pub calls: CallCounter,
}
