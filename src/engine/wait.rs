//! `wait`: re-attach to a deployment already in flight (after `release --no-wait`, a detach, or
//! someone else's start) and follow it with the same watch, verdict, rollback policy and exit
//! codes as `release`. The deployment is the service's in-flight one, or the one named with
//! `--deployment` (a rolling deployment id `ecs-svc/…`, a service-deployment ARN, or a
//! CodeDeploy deployment id `d-…`). `--timeout` (else `deploy.timeout`) counts from the attach.
//!
//! A blue/green deployment already past its test-traffic gate when fgdeploy attaches is followed
//! to its end without judging that gate (fgdeploy cannot know who answered it); one still before
//! it gets fgdeploy's checks, as in `release`.

use super::deploy::Kind;
use super::options::{WaitOptions, WaitReport};
use super::stages::verify::Verify;
use super::{Engine, Event, StageTime};
use crate::error::Result;
use crate::plan::Stage;
use crate::spec::Spec;

impl Engine {
    /// Follow the deployment in flight; the terminal `finished` event says how it ended.
    pub async fn wait_command(&mut self, spec: &Spec, o: &WaitOptions) -> Result<WaitReport> {
        self.service = spec.service().to_string();
        let t0 = self.ports.clock.now();
        let mut stages = Vec::new();
        let result = wait_inner(self, spec, o, &mut stages).await;
        let (outcome, exit_code, message) = match &result {
            Ok(r) => (r.outcome.to_string(), crate::error::exit::OK, format!("{} {} serves {}", r.kind, r.deployment, r.task_definition)),
            Err(e) => (e.kind().to_string(), e.exit_code(), e.to_string()),
        };
        self.emit(Event::Finished {
            outcome,
            exit_code,
            message,
            task_definition: result.as_ref().ok().map(|r| r.task_definition.clone()),
            stages,
            api_calls: self.ports.calls.snapshot(),
            api_calls_total: self.ports.calls.total(),
            secs: self.ports.clock.now() - t0,
        });
        result
    }
}

pub(super) async fn wait_inner(e: &Engine, spec: &Spec, o: &WaitOptions, stages: &mut Vec<StageTime>) -> Result<WaitReport> {
    let mut reporting = spec.clone();
    if !o.rollback {
        reporting.file.rollback.automatic = false;
        reporting.file.rollback.on_interrupt = crate::spec::OnInterrupt::Detach;
        e.info(
            "wait reports and detaches: fgdeploy rolls back nothing it attached to (--rollback applies the deployspec's rollback policy)",
        );
    }
    let spec = &reporting;
    let svc = e.retry("ecs:DescribeServices", || e.ports.ecs.describe_service(spec.cluster(), spec.service())).await?;
    let svc = svc.ok_or_else(|| super::no_such_service(spec.cluster(), spec.service()))?;
    let deadline = super::Deadline::deploy(o.timeout, spec);
    let t = e.stage_start(Stage::Deploy);
    let report = super::deploy::attach(e, spec, &svc, o, deadline).await?;
    e.stage_end(Stage::Deploy, t, stages);
    if Kind::of(svc.deployment_controller, spec.file.deploy.strategy) != Kind::Rolling {
        Verify(e).verify_blue_green(spec, &report.task_definition, stages).await?;
    }
    Ok(report)
}
