//! One deployer per strategy: [`rolling`] (the ECS controller's rolling update), [`codedeploy`]
//! (CODE_DEPLOY blue/green) and [`native`] (ECS-native BLUE_GREEN / LINEAR / CANARY). Each owns
//! its preflight, its start, its watch, what a failure leads to and its rollback; the commands
//! (`release`, `wait`, `rollback`) choose one with [`Kind::of`] and call it through [`Deployer`].

pub(crate) mod codedeploy;
pub(crate) mod deployer;
pub(crate) mod native;
pub(crate) mod preflight;
pub(crate) mod revisions;
pub(crate) mod rolling;

pub(crate) use deployer::{Deployer, Kind, ReadyRelease};
pub(crate) use preflight::Preflight;

use crate::engine::{Deadline, Engine, ReleaseOptions, ReleaseReport, RollbackOptions, RollbackPlan, StageTime, WaitOptions, WaitReport};
use crate::error::{Error, Result};
use crate::plan::Live;
use crate::ports::{Controller, ServiceState};
use crate::spec::{Spec, Strategy};

/// The strategy's preflight for a release, and the refusals that need the live service.
pub(crate) async fn preflight(e: &Engine, spec: &Spec, live: &Live, opts: &ReleaseOptions) -> Result<Preflight> {
    let controller = live.service.deployment_controller;
    if spec.file.deploy.strategy == Strategy::Rolling && controller != Controller::Ecs {
        return Err(Error::usage(
            format!("service {} uses the {controller} deployment controller; a rolling release needs the ECS controller", spec.service()),
            "set deploy.strategy = \"blue-green\" for CODE_DEPLOY services",
        ));
    }
    let kind = Kind::of(controller, spec.file.deploy.strategy);
    Ok(match kind {
        Kind::Rolling => Preflight::Rolling,
        Kind::Native => Preflight::Native(Box::new(native::EcsNative(e).preflight(spec, &live.service, (false, None)).await?)),
        Kind::CodeDeploy => {
            Preflight::CodeDeploy(Box::new(codedeploy::CodeDeploy(e).preflight(spec, &live.service, opts.no_test_gate, opts.force).await?))
        }
    })
}

/// The deploy and verify stages of a prepared release, by its strategy.
pub(crate) async fn release(
    e: &Engine,
    spec: &Spec,
    opts: &ReleaseOptions,
    ready: ReadyRelease,
    stages: &mut Vec<StageTime>,
) -> Result<ReleaseReport> {
    let t = e.stage_start(crate::plan::Stage::Deploy);
    let new_td = ready.new_td.clone();
    open_feed(e, spec, opts, &ready).await;
    let rolling = matches!(ready.preflight, Preflight::Rolling);
    let result = match &ready.preflight {
        // The rolling deployer reports its own failures (it knows its deployment's tasks).
        Preflight::Rolling => rolling::Rolling(e).release(spec, opts, ready, (t, stages)).await,
        Preflight::CodeDeploy(_) => codedeploy::CodeDeploy(e).release(spec, opts, ready, (t, stages)).await,
        Preflight::Native(_) => native::EcsNative(e).release(spec, opts, ready, (t, stages)).await,
    };
    // Every way out of the deploy stage deletes the watch's rule and queue.
    crate::engine::feed::Feeds(e).close().await;
    if !rolling && let Err(err) = &result {
        blue_green_report(e, spec, &new_td, err).await;
    }
    result
}

/// The watch's event rule and queue (`deploy.watch`, `--watch`), before the start call; none
/// when the release does not watch (`--no-wait`) or creates the service.
async fn open_feed(e: &Engine, spec: &Spec, opts: &ReleaseOptions, ready: &ReadyRelease) {
    if opts.no_wait || ready.live.service_missing || ready.live.service.arn.is_empty() {
        return;
    }
    let codedeploy = match &ready.preflight {
        Preflight::CodeDeploy(b) => Some((b.application.as_str(), b.group.name.as_str())),
        _ => None,
    };
    let src = crate::engine::feed::Source { service_arn: &ready.live.service.arn, service: spec.service(), codedeploy };
    let deadline = e.ports.clock.now() + opts.timeout.unwrap_or(spec.file.deploy.timeout).as_secs_f64();
    crate::engine::feed::Feeds(e).open(opts.watch.unwrap_or(spec.file.deploy.watch), &src, deadline).await;
}

/// The report of a failed blue/green release: how it ended (the gate's checks, a bypassed gate,
/// CodeDeploy's or ECS's reason) and its evidence (`report::blue_green_evidence`).
async fn blue_green_report(e: &Engine, spec: &Spec, new_td: &str, err: &Error) {
    let why = match err {
        Error::RolledBack { reason, .. } | Error::ManualAction { reason, .. } => reason.clone(),
        Error::GateBypassed { reason, checks, .. } => format!("gate bypassed: {reason}; checks: {checks}"),
        _ => return,
    };
    let started = e.started_deployment();
    let evidence = crate::engine::report::blue_green_evidence(&e.ports, spec.cluster(), spec.service(), new_td, started.as_deref()).await;
    let diagnosis = crate::engine::report::diagnose(&crate::engine::report::Ending::Failed(why), &evidence);
    let report = crate::engine::report::FailureReport {
        deployment: started.unwrap_or_else(|| "the blue/green deployment".into()),
        task_definition: new_td.to_string(),
        diagnosis,
        evidence,
    };
    e.emit(crate::engine::Event::Report { report: Box::new(report) });
}

/// `wait`: the deployer of the service follows its deployment in flight.
pub(crate) async fn attach(e: &Engine, spec: &Spec, svc: &ServiceState, o: &WaitOptions, deadline: Deadline) -> Result<WaitReport> {
    match Kind::of(svc.deployment_controller, spec.file.deploy.strategy) {
        Kind::Rolling => rolling::Rolling(e).attach(spec, svc, o, deadline).await,
        Kind::CodeDeploy => codedeploy::CodeDeploy(e).attach(spec, svc, o, deadline).await,
        Kind::Native => native::EcsNative(e).attach(spec, svc, o, deadline).await,
    }
}

/// `rollback`: the deployer of the service rolls it back.
pub(crate) async fn rollback(e: &Engine, spec: &Spec, svc: &ServiceState, o: &RollbackOptions, deadline: Deadline) -> Result<RollbackPlan> {
    match Kind::of(svc.deployment_controller, spec.file.deploy.strategy) {
        Kind::Rolling => rolling::Rolling(e).rollback(spec, svc, o, deadline).await,
        Kind::CodeDeploy => codedeploy::CodeDeploy(e).rollback(spec, svc, o, deadline).await,
        Kind::Native => native::EcsNative(e).rollback(spec, svc, o, deadline).await,
    }
}
