//! What every deployer is: the [`Deployer`] trait, the [`Kind`] that chooses one, and the
//! release it is handed.

use super::preflight::Preflight;
use crate::engine::{Deadline, ReleaseOptions, ReleaseReport, RollbackOptions, RollbackPlan, StageTime, WaitOptions, WaitReport};
use crate::error::{Error, Result};
use crate::plan::{Live, Plan};
use crate::ports::{Controller, ServiceState};
use crate::spec::{Spec, Strategy};

/// Which deployer serves a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Rolling,
    CodeDeploy,
    Native,
}

impl Kind {
    /// The deployer for a service with this controller and a deployspec with this strategy: the
    /// CODE_DEPLOY controller is CodeDeploy's whatever the deployspec says; otherwise
    /// `blue-green` is ECS-native and `rolling` is rolling.
    pub(crate) fn of(controller: Controller, strategy: Strategy) -> Kind {
        match (controller, strategy) {
            (Controller::CodeDeploy, _) => Kind::CodeDeploy,
            (_, Strategy::BlueGreen) => Kind::Native,
            (_, Strategy::Rolling) => Kind::Rolling,
        }
    }

    /// `rolling`, `codedeploy` or `ecs-native`, as reports name it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Rolling => "rolling",
            Kind::CodeDeploy => "codedeploy",
            Kind::Native => "ecs-native",
        }
    }
}

/// What the deploy stage needs from the stages before it.
pub(crate) struct ReadyRelease {
    pub(crate) plan: Plan,
    pub(crate) live: Live,
    pub(crate) new_td: String,
    pub(crate) previous_td: String,
    pub(crate) preflight: Preflight,
}

/// A deployment from start to end, and the ways fgdeploy meets one: every strategy has them.
pub(crate) trait Deployer {
    /// Start the release's deployment, watch it to its end (failures go through the strategy's
    /// reaction: roll back, detach or a manual action) and verify that the new revision serves.
    /// `t`: when the deploy stage started.
    async fn release(
        &self,
        spec: &Spec,
        opts: &ReleaseOptions,
        ready: ReadyRelease,
        t: (f64, &mut Vec<StageTime>),
    ) -> Result<ReleaseReport>;

    /// Follow the deployment in flight (`wait`) to its end.
    async fn attach(&self, spec: &Spec, svc: &ServiceState, o: &WaitOptions, deadline: Deadline) -> Result<WaitReport>;

    /// Roll the service back (`rollback`): stop what is in flight, or redeploy the revision before.
    async fn rollback(&self, spec: &Spec, svc: &ServiceState, o: &RollbackOptions, deadline: Deadline) -> Result<RollbackPlan>;
}

/// A named deployment the service no longer shows.
pub(crate) fn gone(spec: &Spec, id: &str) -> Error {
    Error::usage(
        format!("deployment {id} is not in flight on service {} (it may have ended)", spec.service()),
        format!("see `fgdeploy history -f {}` for how it ended", spec.path.display()),
    )
}
