//! The verify stage: after the deployment ended, the service serves the new revision at its
//! desired count.

use crate::engine::StageTime;
use crate::engine::watch::{Cut, Limit, Next, Pause, Watched};
use crate::error::{Error, Result};
use crate::plan::Stage;
use crate::ports::ServiceState;
use crate::spec::Spec;
use std::time::Duration;

crate::engine::engine_part!(
    /// The verify stage.
    Verify
);

impl Verify<'_> {
    /// The verify stage of a blue/green release (CodeDeploy or ECS-native): the deployment
    /// succeeded, so the service must now report the new revision at its desired count. The
    /// primary task-set swap can lag the deployment's end by a few seconds: read up to 30 s.
    pub(crate) async fn verify_blue_green(&self, spec: &Spec, new_td: &str, stages: &mut Vec<StageTime>) -> Result<()> {
        let t = self.stage_start(Stage::Verify);
        self.drive(&mut VerifyWait { e: *self, spec, new_td, deadline: t + 30.0, saw: String::new() }, Duration::ZERO).await?;
        self.stage_end(Stage::Verify, t, stages);
        Ok(())
    }
}

/// Whether the service serves `td`: its PRIMARY deployment (or, for CODE_DEPLOY services, which
/// have no deployments list, the service itself) runs `td` at its desired count. `Err` says what
/// it saw instead.
/// The verify stage of a blue/green release: DescribeServices until the service serves the new
/// revision at its desired count, for up to 30 s (the primary task-set swap lags the
/// deployment's end by a few seconds), every 5 s. Not cut short by Ctrl-C (it is short, and the
/// deployment already ended).
struct VerifyWait<'a> {
    e: Verify<'a>,
    spec: &'a Spec,
    new_td: &'a str,
    deadline: f64,
    /// What the last look saw instead.
    saw: String,
}

impl Watched for VerifyWait<'_> {
    type Out = ();

    fn limit(&self) -> Limit {
        Limit { at: self.deadline, setting: "the 30 s verification", what: "the service to serve the new revision", interruptible: false }
    }

    async fn look(&mut self, _now: f64) -> Result<Next<()>> {
        let (e, spec) = (self.e, self.spec);
        let svc = e.retry("ecs:DescribeServices", || e.ports.ecs.describe_service(spec.cluster(), spec.service())).await?;
        Ok(match serves(svc.as_ref(), self.new_td) {
            Ok(()) => Next::Done(()),
            Err(saw) => {
                self.saw = saw;
                Next::Again(Pause::after(Duration::from_secs(5), false))
            }
        })
    }

    async fn cut(&mut self, _why: Cut) -> Result<Next<()>> {
        let (new_td, saw) = (self.new_td, &self.saw);
        let path = self.spec.path.display();
        Err(Error::ManualAction {
            reason: format!("verification failed: the deployment ended, but the service does not serve {new_td} ({saw})"),
            state: "the deployment reports success while the service runs something else".into(),
            next: format!("`fgdeploy status -f {path}`; `fgdeploy rollback -f {path}` if needed"),
        })
    }
}

pub(crate) fn serves(svc: Option<&ServiceState>, td: &str) -> std::result::Result<(), String> {
    let Some(svc) = svc else { return Err("the service does not exist".into()) };
    let (serving, running, desired) = match svc.primary() {
        Some(p) => (p.task_definition.as_str(), p.running, p.desired),
        None => (svc.task_definition.as_str(), svc.running_count, svc.desired_count),
    };
    if serving == td && running >= desired && desired == svc.desired_count {
        Ok(())
    } else {
        Err(format!("primary {serving}: {running} running of {desired} desired; service desired {}", svc.desired_count))
    }
}
