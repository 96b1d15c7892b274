//! The fault matrix: every AWS call of the rolling and blue/green release paths, in turn, answers
//! throttling, 5xx, a timeout and a malformed response — a few times, and as a lasting outage.
//! Every release must end in a defined state: success on the new revision, rolled back to the
//! previous one, "nothing changed", or "manual action needed" naming the state. Never a panic.

use crate::harness::spec_dir;
use fgdeploy::engine::{Engine, Interrupt, Recorder, ReleaseOptions};
use fgdeploy::error::exit;
use fgdeploy::sandbox::{LoopbackApp, seeded};
use fgdeploy::sim::{Faults, Mutation, Sim};
use fgdeploy::spec::Spec;
use std::sync::Arc;

#[derive(Clone, Copy, Debug)]
enum Fault {
    Throttle,
    ServerError,
    Timeout,
    Malformed,
    Outage,
}

const FAULTS: [Fault; 5] = [Fault::Throttle, Fault::ServerError, Fault::Timeout, Fault::Malformed, Fault::Outage];

fn inject(f: &mut Faults, op: &str, fault: Fault) {
    let op = op.to_string();
    match fault {
        Fault::Throttle => {
            f.throttle.insert(op, 3);
        }
        Fault::ServerError => {
            f.server_error.insert(op, 3);
        }
        // A timeout: the call may have taken effect (mutating calls act, then the answer is lost).
        Fault::Timeout => {
            f.lost_responses.insert(op.clone(), 1);
            f.server_error.insert(op, 1);
        }
        Fault::Malformed => {
            f.malformed.insert(op, 3);
        }
        Fault::Outage => {
            f.server_error.insert(op, 100_000);
        }
    }
}

struct Case {
    code: i32,
    serving_new: bool,
    serving_old: bool,
    changed: bool,
    message: String,
}

const BG: &str = "\n[deploy]\nstrategy = \"blue-green\"\ntimeout = \"30m\"\n[deploy.blue_green]\ncontainer_port = 8080\ncheck_budget = \"1m\"\n[[deploy.blue_green.checks]]\npath = \"/health\"\nconsecutive = 1\n";

async fn run(extra: &str, blue_green: bool, faults: Faults) -> Case {
    let (_dir, path) = spec_dir(&format!("\n[migration]\ncommand = [\"migrate\"]\n{extra}"));
    let spec = Spec::load(&path, None).expect("spec");
    let sim: Sim = seeded(&spec, faults).expect("seed");
    let _app = if blue_green {
        let app = LoopbackApp::start(200).expect("listener");
        fgdeploy::sandbox::seed_deployment_group(&sim, &spec, app.port, app.port);
        Some(app)
    } else {
        None
    };
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let result = engine.release(&spec, &ReleaseOptions::default()).await;
    let w = sim.world();
    let serving = w.describe_service("demo", "web").ok().flatten().map(|s| s.task_definition).unwrap_or_default();
    let changed = w.mutations.iter().any(|(_, m)| matches!(m, Mutation::UpdateService { .. } | Mutation::CreateDeployment { .. }));
    Case {
        code: result.as_ref().map_or_else(|e| e.exit_code(), |r| r.exit_code(false)),
        serving_new: serving.ends_with("web:2") || serving.ends_with("web:3"),
        serving_old: serving.ends_with("web:1"),
        changed,
        message: result.err().map(|e| e.to_string()).unwrap_or_default(),
    }
}

/// The operations a happy release calls, in order of first use.
async fn operations(extra: &str, blue_green: bool) -> Vec<String> {
    let (_dir, path) = spec_dir(&format!("\n[migration]\ncommand = [\"migrate\"]\n{extra}"));
    let spec = Spec::load(&path, None).expect("spec");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let _app = blue_green.then(|| {
        let app = LoopbackApp::start(200).expect("listener");
        fgdeploy::sandbox::seed_deployment_group(&sim, &spec, app.port, app.port);
        app
    });
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    engine.release(&spec, &ReleaseOptions::default()).await.expect("the happy path succeeds");
    sim.calls().snapshot().into_keys().collect()
}

fn verdict(c: &Case) -> Result<&'static str, String> {
    match c.code {
        exit::OK if c.serving_new => Ok("released"),
        exit::ROLLED_BACK if c.serving_old => Ok("rolled back"),
        exit::AWS | exit::MIGRATION_FAILED if !c.changed && c.serving_old => Ok("nothing changed"),
        exit::MANUAL_ACTION if c.message.contains("MANUAL ACTION NEEDED") && c.message.contains("next:") => Ok("manual action (named)"),
        other => Err(format!(
            "undefined end: exit {other}, serving new {}, old {}, changed {}: {}",
            c.serving_new, c.serving_old, c.changed, c.message
        )),
    }
}

async fn matrix(name: &str, extra: &str, blue_green: bool) {
    let ops = operations(extra, blue_green).await;
    assert!(ops.len() >= 8, "{name}: the release path calls {ops:?}");
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for op in &ops {
        for fault in FAULTS {
            let mut f = Faults::default();
            inject(&mut f, op, fault);
            let case = run(extra, blue_green, f).await;
            match verdict(&case) {
                Ok(v) => rows.push(format!("{op:<36} {:<12} exit {:<2} {v}", format!("{fault:?}"), case.code)),
                Err(e) => {
                    rows.push(format!("{op:<36} {:<12} exit {:<2} UNDEFINED", format!("{fault:?}"), case.code));
                    bad.push(format!("{op} × {fault:?}: {e}"));
                }
            }
        }
    }
    println!("fault matrix, {name} ({} calls × {} faults):\n{}", ops.len(), FAULTS.len(), rows.join("\n"));
    assert!(bad.is_empty(), "{name}: {} undefined end(s):\n{}", bad.len(), bad.join("\n"));
}

#[tokio::test]
async fn rolling_release_survives_every_fault_on_every_call() {
    matrix("rolling", "", false).await;
}

#[tokio::test]
async fn bluegreen_release_survives_every_fault_on_every_call() {
    matrix("blue/green", BG, true).await;
}
