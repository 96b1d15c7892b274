//! Simulator scenarios for the rolling release, in virtual time (each well under a second).

use crate::harness::spec_dir;
use fgdeploy::engine::{Engine, Event, Interrupt, Recorder, ReleaseOptions};
use fgdeploy::error::{Error, exit};
use fgdeploy::sandbox::seeded;
use fgdeploy::sim::{Faults, Mutation, Sim};
use fgdeploy::spec::Spec;
use std::sync::Arc;
use std::time::Duration;

struct Run {
    result: Result<fgdeploy::engine::ReleaseReport, Error>,
    events: Vec<Event>,
    /// The events with their (virtual) times.
    timed: Vec<(f64, Event)>,
    sim: Sim,
}

impl Run {
    fn new(result: Result<fgdeploy::engine::ReleaseReport, Error>, rec: &Recorder, sim: Sim) -> Run {
        let timed = rec.0.lock().map(|v| v.clone()).unwrap_or_default();
        Run { result, events: rec.events(), timed, sim }
    }
    fn code(&self) -> i32 {
        match &self.result {
            Ok(r) => r.exit_code(false),
            Err(e) => e.exit_code(),
        }
    }
    /// The task definition the service serves, and whether it is steady there.
    fn serving(&self) -> (String, bool) {
        self.sim.world().serving("demo", "web").expect("service exists")
    }
    fn updates_to(&self, td: &str) -> usize {
        self.sim.world().mutations.iter().filter(|(_, m)| m.is_update_to(td)).count()
    }
    fn has(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(f)
    }
}

const TD1: &str = "task-definition/web:1";
const TD2: &str = "task-definition/web:2";

fn load(extra: &str) -> (tempfile::TempDir, Spec) {
    let (dir, path) = spec_dir(extra);
    let spec = Spec::load(&path, None).expect("spec loads");
    (dir, spec)
}

async fn release_with(extra: &str, faults: Faults, opts: ReleaseOptions, interrupt_at: Option<f64>) -> Run {
    let (_dir, spec) = load(extra);
    let sim = seeded(&spec, faults).expect("seed");
    let rec = Arc::new(Recorder::default());
    let interrupt = Interrupt::default();
    if let Some(at) = interrupt_at {
        sim.interrupt_at(at, interrupt.clone());
    }
    let mut engine = Engine::new(sim.ports(), rec.clone(), interrupt);
    let result = engine.release(&spec, &opts).await;
    Run::new(result, &rec, sim)
}

async fn release(extra: &str, faults: Faults) -> Run {
    release_with(extra, faults, ReleaseOptions::default(), None).await
}

fn marker() -> String {
    ":v2".to_string()
}

#[tokio::test]
async fn happy_path_deploys_the_new_revision() {
    let r = release("", Faults::default()).await;
    assert_eq!(r.code(), exit::OK, "{:?}", r.result.as_ref().err());
    let (td, steady) = r.serving();
    assert!(td.ends_with(TD2) && steady, "serving {td} steady={steady}");
    assert_eq!(r.updates_to(TD2), 1);
    // The final event carries outcome, stage durations and AWS call counts.
    let Some(Event::Finished { outcome, stages, api_calls, api_calls_total, .. }) = r.events.last() else { panic!("no Finished event") };
    assert_eq!(outcome, "deployed");
    assert!(stages.iter().any(|s| s.stage == fgdeploy::plan::Stage::Deploy && s.secs > 30.0), "{stages:?}");
    assert_eq!(api_calls.get("ecs:UpdateService"), Some(&1));
    assert_eq!(*api_calls_total, api_calls.values().sum::<u64>());
    // The registered revision records what served before it (used by `rollback`).
    let reg = r.sim.world().describe_task_definition("web:2").expect("web:2");
    let tag = reg.definition.tags.unwrap_or_default().into_iter().find(|t| t.key.as_deref() == Some("fgdeploy:previous-task-definition"));
    assert!(tag.and_then(|t| t.value).is_some_and(|v| v.ends_with(TD1)));
}

#[tokio::test]
async fn tasks_that_never_start_trip_the_circuit_breaker_and_roll_back() {
    let mut f = Faults::default();
    f.fail_start.insert(marker());
    let r = release("", f).await;
    assert_eq!(r.code(), exit::ROLLED_BACK, "{:?}", r.result.as_ref().err());
    let (td, steady) = r.serving();
    assert!(td.ends_with(TD1) && steady, "serving {td}");
    assert!(
        r.has(|e| matches!(e, Event::TaskFailed { reason, .. } if reason.contains("CannotPullContainerError"))),
        "failed tasks are reported with their stoppedReason"
    );
    assert!(r.has(|e| matches!(e, Event::RollbackFinished { ok: true, .. })));
    let msg = r.result.as_ref().err().map(ToString::to_string).unwrap_or_default();
    assert!(msg.contains("circuit breaker"), "{msg}");
}

#[tokio::test]
async fn failing_health_checks_time_out_and_fgdeploy_rolls_back() {
    let mut f = Faults::default();
    f.unhealthy.insert(marker());
    let r = release("\n[deploy]\ntimeout = \"5m\"\n[deploy.rolling]\ncircuit_breaker = false\n", f).await;
    assert_eq!(r.code(), exit::ROLLED_BACK, "{:?}", r.result.as_ref().err());
    assert!(r.result.as_ref().err().is_some_and(|e| e.to_string().contains("deploy.timeout")));
    let (td, steady) = r.serving();
    assert!(td.ends_with(TD1) && steady, "serving {td}");
    // fgdeploy itself stopped the service deployment with rollback.
    assert!(r.sim.world().mutations.iter().any(|(_, m)| matches!(m, Mutation::StopServiceDeployment { .. })));
}

#[tokio::test]
async fn without_the_service_deployment_api_rollback_uses_update_service() {
    let mut f = Faults::default();
    f.unhealthy.insert(marker());
    f.no_service_deployments_api = true;
    let r = release("\n[deploy]\ntimeout = \"5m\"\n[deploy.rolling]\ncircuit_breaker = false\n", f).await;
    assert_eq!(r.code(), exit::ROLLED_BACK, "{:?}", r.result.as_ref().err());
    assert_eq!(r.updates_to(TD1), 1, "one UpdateService back to the previous revision");
    assert!(r.serving().0.ends_with(TD1));
}

#[tokio::test]
async fn alarm_during_bake_rolls_back() {
    let f = Faults { alarm_at: Some(60.0), ..Default::default() }; // after steady state (~40 s), inside the bake time
    let r = release("\n[deploy.rolling]\nalarms = [\"web-5xx\"]\n", f).await;
    assert_eq!(r.code(), exit::ROLLED_BACK, "{:?}", r.result.as_ref().err());
    assert!(r.result.as_ref().err().is_some_and(|e| e.to_string().contains("ALARM")));
    assert!(r.serving().0.ends_with(TD1));
}

#[tokio::test]
/// #27: a deployment replaced by someone else's mid-release is superseded (exit 13), naming the
/// newer deployment; never reported as a circuit-breaker rollback, never rolled back.
async fn someone_elses_deployment_mid_release_is_superseded_not_rolled_back() {
    let f = Faults { foreign_deploy_at: Some(20.0), ..Default::default() };
    let r = release("", f).await;
    assert_eq!(r.code(), exit::SUPERSEDED, "{:?}", r.result.as_ref().err());
    let text = r.result.as_ref().err().map(ToString::to_string).unwrap_or_default();
    assert!(text.starts_with("superseded: ") && text.contains("(deployment ecs-svc/"), "{text}");
    assert!(!text.contains("circuit breaker"), "{text}");
    assert_eq!(r.updates_to(TD1), 0, "fgdeploy does not fight the other deployment");
    assert!(!r.has(|e| matches!(e, Event::RollbackStarted { .. })), "no rollback");
    let report = r.events.iter().find_map(|e| match e {
        Event::Report { report } => Some(report.clone()),
        _ => None,
    });
    let cause = serde_json::to_value(&report.expect("a report").diagnosis.cause).expect("json");
    assert_eq!(cause["class"], "replaced", "{cause}");
    assert!(cause["by"].as_str().is_some_and(|b| b.contains("(deployment ecs-svc/")), "{cause}");
}

#[tokio::test]
async fn interrupt_rolls_back_by_default() {
    let r = release_with("", Faults::default(), ReleaseOptions::default(), Some(10.0)).await;
    assert_eq!(r.code(), exit::ROLLED_BACK, "{:?}", r.result.as_ref().err());
    assert!(r.result.as_ref().err().is_some_and(|e| e.to_string().contains("interrupted")));
    let (td, steady) = r.serving();
    assert!(td.ends_with(TD1) && steady);
}

#[tokio::test]
async fn interrupt_with_detach_leaves_the_deployment_running() {
    let r = release_with("\n[rollback]\non_interrupt = \"detach\"\n", Faults::default(), ReleaseOptions::default(), Some(10.0)).await;
    assert_eq!(r.code(), exit::DETACHED, "{:?}", r.result.as_ref().err());
    assert!(r.result.as_ref().err().is_some_and(|e| e.to_string().contains("goes on without fgdeploy")));
    assert!(r.serving().0.ends_with(TD2), "the deployment continues");
    assert_eq!(r.updates_to(TD1), 0);
}

#[tokio::test]
async fn a_throttling_storm_does_not_abort_the_release() {
    let f = Faults { throttle_every: Some(2), ..Default::default() };
    let r = release("", f).await;
    assert_eq!(r.code(), exit::OK, "{:?}", r.result.as_ref().err());
    assert!(r.serving().0.ends_with(TD2));
    assert_eq!(r.updates_to(TD2), 1);
}

#[tokio::test]
async fn a_5xx_on_update_service_is_not_sent_twice_when_it_took_effect() {
    // The first UpdateService takes effect, then its answer is lost (a timeout): fgdeploy reads
    // the service back and does not send it again.
    let mut f = Faults::default();
    f.lost_responses.insert("ecs:UpdateService".into(), 1);
    let r = release("", f).await;
    assert_eq!(r.code(), exit::OK, "{:?}", r.result.as_ref().err());
    assert_eq!(r.updates_to(TD2), 1);
    // And when it failed before acting (a plain 500), it is sent once more: still one in effect.
    let mut f = Faults::default();
    f.server_error.insert("ecs:UpdateService".into(), 1);
    let r = release("", f).await;
    assert_eq!(r.code(), exit::OK, "{:?}", r.result.as_ref().err());
    assert_eq!(r.updates_to(TD2), 1);
}

#[tokio::test]
async fn deadlocking_settings_are_refused_offline_before_any_call() {
    // The spec's desired count (4) with 100/100: refused when the deployspec loads (validate,
    // plan and release alike), so no port is ever called.
    let (_dir, path) = spec_dir("\n[deploy.rolling]\nminimum_healthy_percent = 100\nmaximum_percent = 100\n");
    let e = Spec::load(&path, None).expect_err("refused offline");
    let msg = e.to_string();
    assert!(msg.contains("never progress") && msg.contains("deploy.rolling"), "{msg}");
    // Without a desired count in the spec, the live count decides at plan time.
    let text = std::fs::read_to_string(&path)
        .expect("spec")
        .replace("desired_count = 4\n", "")
        .replace("maximum_percent = 100", "maximum_percent = 130");
    std::fs::write(&path, text).expect("write");
    let spec = Spec::load(&path, None).expect("130 % is fine for some counts");
    let sim = seeded(&spec, Faults::default()).expect("seed"); // 3 tasks live
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let r = engine.release(&spec, &ReleaseOptions::default()).await;
    let msg = r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("never progress"), "three tasks, min 100 %, max 130 %: {msg}");
    assert!(sim.world().mutations.is_empty(), "nothing was changed");
}

#[tokio::test]
async fn a_deployment_in_progress_blocks_the_release_unless_forced() {
    let (_dir, spec) = load("");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    // Start someone's deployment and leave it running.
    {
        let mut w = sim.world();
        let td = w.describe_task_definition("web:1").expect("web:1").definition;
        let reg = w.register_task_definition(td);
        w.update_service(
            &fgdeploy::ports::UpdateService {
                cluster: "demo".into(),
                service: "web".into(),
                task_definition: reg.arn,
                desired_count: None,
                deployment_config: None,
                native: None,
                settings: Default::default(),
            },
            true,
        )
        .expect("update");
    }
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec, Interrupt::default());
    let err = engine.release(&spec, &ReleaseOptions::default()).await.expect_err("refused");
    assert_eq!(err.exit_code(), exit::CONFLICT);
    assert!(err.to_string().contains("--force"), "{err}");
    let ok = engine.release(&spec, &ReleaseOptions { force: true, ..Default::default() }).await;
    assert!(ok.is_ok(), "{:?}", ok.err());
}

#[tokio::test]
async fn an_unchanged_service_is_not_redeployed() {
    let (_dir, spec) = load("");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    engine.release(&spec, &ReleaseOptions::default()).await.expect("first release");
    let before = sim.world().mutations.len();
    let again = engine.release(&spec, &ReleaseOptions::default()).await.expect("second release");
    assert_eq!(again.outcome, "unchanged");
    assert!(!again.plan.has_changes);
    assert_eq!(sim.world().mutations.len(), before, "no mutating call");
}

#[tokio::test]
async fn dry_run_makes_no_mutating_call() {
    let r = release_with("", Faults::default(), ReleaseOptions { dry_run: true, ..Default::default() }, None).await;
    let rep = r.result.as_ref().expect("plan");
    assert!(rep.plan.has_changes);
    assert_eq!(rep.exit_code(true), exit::CHANGES);
    assert!(r.sim.world().mutations.is_empty());
    assert!(
        r.sim.calls().snapshot().keys().all(|op| op.contains(":Describe") || op.contains(":BatchGet") || op.contains(":List")),
        "{:?}",
        r.sim.calls().snapshot()
    );
}

#[tokio::test]
async fn manual_rollback_restores_the_previous_revision() {
    let (_dir, spec) = load("");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    engine.release(&spec, &ReleaseOptions::default()).await.expect("release");
    let dry =
        engine.rollback_command(&spec, &fgdeploy::engine::RollbackOptions { dry_run: true, ..Default::default() }).await.expect("dry run");
    assert!(dry.target.ends_with(TD1) && dry.current.ends_with(TD2), "{dry:?}");
    assert!(sim.world().serving("demo", "web").expect("svc").0.ends_with(TD2), "dry run changes nothing");
    engine.rollback_command(&spec, &fgdeploy::engine::RollbackOptions::default()).await.expect("rollback");
    let (td, steady) = sim.world().serving("demo", "web").expect("svc");
    assert!(td.ends_with(TD1) && steady);
    // And forward again by number.
    engine
        .rollback_command(&spec, &fgdeploy::engine::RollbackOptions { to: Some("2".into()), ..Default::default() })
        .await
        .expect("rollback --to 2");
    assert!(sim.world().serving("demo", "web").expect("svc").0.ends_with(TD2));
}

#[tokio::test]
async fn rollback_stops_a_deployment_in_flight() {
    let (_dir, spec) = load("\n[deploy]\ntimeout = \"20m\"\n");
    let f = Faults { start_secs: 600.0, ..Default::default() }; // the new tasks take 10 minutes to start
    let sim = seeded(&spec, f).expect("seed");
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    engine.release(&spec, &ReleaseOptions { no_wait: true, ..Default::default() }).await.expect("started");
    let plan = engine.rollback_command(&spec, &fgdeploy::engine::RollbackOptions::default()).await.expect("rollback");
    assert_eq!(plan.action, "stop-in-flight");
    let (td, steady) = sim.world().serving("demo", "web").expect("svc");
    assert!(td.ends_with(TD1) && steady, "{td}");
}

/// Invariant: in any rolling scenario, one release sends at most one UpdateService for its new
/// revision, and ends with the new revision COMPLETED or the previous one serving.
#[tokio::test]
async fn invariant_one_update_and_a_defined_end_state() {
    let mut seed: u64 = 0x5eed_f00d;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut outcomes = std::collections::BTreeMap::<i32, u32>::new();
    for case in 0..40 {
        let mut f = Faults::default();
        match next(6) {
            0 => {}
            1 => {
                f.fail_start.insert(marker());
            }
            2 => {
                f.unhealthy.insert(marker());
            }
            3 => f.throttle_every = Some(2 + next(4)),
            4 => f.start_secs = 5.0 + next(300) as f64,
            _ => f.alarm_at = Some(next(200) as f64),
        }
        if next(3) == 0 {
            f.server_error.insert(
                ["ecs:UpdateService", "ecs:DescribeServices", "ecs:RegisterTaskDefinition"][next(3) as usize].into(),
                1 + next(2) as u32,
            );
        }
        let min = [0, 50, 100][next(3) as usize];
        let max = [150, 200][next(2) as usize];
        let cb = next(2) == 0;
        let extra = format!(
            "\n[deploy]\ntimeout = \"6m\"\n[deploy.rolling]\nminimum_healthy_percent = {min}\nmaximum_percent = {max}\ncircuit_breaker = {cb}\nalarms = [\"a\"]\n"
        );
        let interrupt = (next(5) == 0).then(|| next(120) as f64);
        let r = release_with(
            &extra,
            f.clone(),
            ReleaseOptions { plan: fgdeploy::plan::PlanOptions { allow_downtime: true, ..Default::default() }, ..Default::default() },
            interrupt,
        )
        .await;
        let code = r.code();
        *outcomes.entry(code).or_default() += 1;
        assert!(r.updates_to(TD2) <= 1, "case {case}: {} UpdateService calls for the new revision ({f:?})", r.updates_to(TD2));
        let (td, steady) = r.serving();
        match code {
            0 => assert!(td.ends_with(TD2) && steady, "case {case}: success but serving {td}"),
            7 => assert!(td.ends_with(TD1) && steady, "case {case}: rolled back but serving {td} steady={steady}"),
            other => panic!("case {case}: unexpected exit {other}: {:?} ({f:?}, interrupt {interrupt:?})", r.result.err()),
        }
    }
    println!("invariant outcomes by exit code: {outcomes:?}");
    assert!(outcomes.len() >= 2, "the scenarios exercise both success and rollback: {outcomes:?}");
}

#[tokio::test]
async fn adaptive_polling_is_cheap() {
    let r = release("", Faults::default()).await;
    let calls = r.sim.calls().count("ecs:DescribeServices");
    let Some(Event::Finished { secs, .. }) = r.events.last() else { panic!() };
    // A fixed 2 s poller would make secs/2 calls; backing off while idle must do better.
    assert!((calls as f64) < secs / 2.0, "{calls} DescribeServices in {secs} virtual seconds");
}

// ----- the migration gate ---------------------------------------------------------------------

const MIGRATION_TEMPLATE: &str = r#"{
  "family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
  "containerDefinitions": [
    {"name": "web", "image": "{{ image }}", "essential": true,
     "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "web"}}},
    {"name": "log-router", "image": "fluent/fluent-bit:3", "essential": true},
    {"name": "metrics", "image": "prom/statsd-exporter:1", "essential": false}
  ]
}"#;

async fn migrate_with(faults: Faults, timeout: &str) -> Run {
    let spec_text = format!(
        "{}\n[migration]\ncommand = [\"bin/migrate\", \"up\"]\ntimeout = \"{timeout}\"\n",
        crate::harness::base_spec("demo", "web")
    );
    let (_dir, path) = crate::harness::spec_dir_with(&spec_text, MIGRATION_TEMPLATE);
    let spec = Spec::load(&path, None).expect("spec");
    let sim = seeded(&spec, faults).expect("seed");
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let result = engine.release(&spec, &ReleaseOptions::default()).await;
    Run::new(result, &rec, sim)
}

impl Run {
    fn mutations(&self) -> Vec<Mutation> {
        self.sim.world().mutations.iter().map(|(_, m)| m.clone()).collect()
    }
    fn err_text(&self) -> String {
        self.result.as_ref().err().map(ToString::to_string).unwrap_or_default()
    }
    /// The migration failed and the service was left exactly as it was.
    fn assert_gate_held(&self) {
        assert_eq!(self.code(), exit::MIGRATION_FAILED, "{}", self.err_text());
        assert_eq!(self.updates_to(TD2), 0, "no UpdateService after a failed migration: {:?}", self.mutations());
        let (td, steady) = self.serving();
        assert!(td.ends_with(TD1) && steady, "the service keeps running its previous revision: {td}");
    }
}

#[tokio::test]
async fn a_successful_migration_lets_the_release_continue() {
    let r = migrate_with(Faults::default(), "10m").await;
    assert_eq!(r.code(), exit::OK, "{}", r.err_text());
    let m = r.mutations();
    let run = m.iter().position(|x| matches!(x, Mutation::RunTask { .. })).expect("RunTask");
    let update = m.iter().position(|x| matches!(x, Mutation::UpdateService { .. })).expect("UpdateService");
    assert!(run < update, "the migration runs before the deployment: {m:?}");
    assert!(
        matches!(&m[run], Mutation::RunTask { task_definition, command } if task_definition.ends_with("web:2") && command.iter().any(|c| c == "bin/migrate")),
        "it runs the new revision with the command override: {}",
        m[run]
    );
    assert_eq!(
        m.iter().filter(|x| matches!(x, Mutation::RegisterTaskDefinition { .. })).count(),
        1,
        "one revision serves the migration and the deploy"
    );
    assert!(r.has(|e| matches!(e, Event::TaskLog { line } if line.contains("$ bin/migrate up"))), "the log is streamed");
    assert!(r.serving().0.ends_with(TD2));
}

#[tokio::test]
async fn a_failed_migration_stops_the_release_before_the_deploy() {
    let f = Faults { task_exit: [("web".to_string(), 1)].into(), ..Default::default() };
    let r = migrate_with(f, "10m").await;
    r.assert_gate_held();
    let e = r.err_text();
    assert!(e.contains("web=1") && e.contains("last log lines") && e.contains("migration 0042_add_index failed"), "{e}");
    // The revision registered for the migration exists but was never deployed.
    assert_eq!(r.sim.world().task_definition_count("web"), 2);
}

#[tokio::test]
async fn a_sidecar_exiting_zero_does_not_mask_the_app_failing() {
    let f = Faults {
        task_exit: [("web".to_string(), 3), ("log-router".to_string(), 0), ("metrics".to_string(), 0)].into(),
        ..Default::default()
    };
    let r = migrate_with(f, "10m").await;
    r.assert_gate_held();
    assert!(r.err_text().contains("web=3"), "{}", r.err_text());
}

#[tokio::test]
async fn a_non_essential_container_failing_does_not_fail_the_migration() {
    let f = Faults { task_exit: [("metrics".to_string(), 2)].into(), ..Default::default() };
    let r = migrate_with(f, "10m").await;
    assert_eq!(r.code(), exit::OK, "{}", r.err_text());
}

#[tokio::test]
async fn a_migration_that_never_starts_fails_with_the_stopped_reason() {
    let f = Faults {
        run_never_starts: Some("ResourceInitializationError: unable to pull secrets or registry auth".into()),
        ..Default::default()
    };
    let r = migrate_with(f, "10m").await;
    r.assert_gate_held();
    let e = r.err_text();
    assert!(e.contains("never ran") && e.contains("ResourceInitializationError"), "{e}");
}

#[tokio::test]
async fn a_migration_timeout_stops_the_task() {
    let f = Faults { run_secs: 3600.0, ..Default::default() };
    let r = migrate_with(f, "2m").await;
    r.assert_gate_held();
    assert!(r.mutations().iter().any(|m| matches!(m, Mutation::StopTask { .. })), "StopTask sent: {:?}", r.mutations());
    assert!(r.err_text().contains("did not finish within migration.timeout (2m)"), "{}", r.err_text());
}

#[tokio::test]
async fn a_throttled_and_retried_run_task_starts_exactly_one_migration() {
    let f = Faults {
        throttle: [("ecs:RunTask".to_string(), 2)].into(),
        lost_responses: [("ecs:RunTask".to_string(), 1)].into(),
        ..Default::default()
    };
    let r = migrate_with(f, "10m").await;
    assert_eq!(r.code(), exit::OK, "{}", r.err_text());
    assert_eq!(r.sim.world().tasks_started_by("fgdeploy/migrate"), 1, "the client token made the retry idempotent");
    assert!(r.sim.calls().count("ecs:RunTask") >= 4);
}

#[tokio::test]
async fn capacity_errors_and_missing_tasks_are_waited_out() {
    let f = Faults { run_capacity_failures: 2, describe_lag_secs: 8.0, ..Default::default() };
    let r = migrate_with(f, "10m").await;
    assert_eq!(r.code(), exit::OK, "{}", r.err_text());
    assert_eq!(r.sim.world().tasks_started_by("fgdeploy/migrate"), 1);
}

#[tokio::test]
async fn run_exits_with_the_containers_exit_code() {
    let spec_text = crate::harness::base_spec("demo", "web");
    let (_dir, path) = crate::harness::spec_dir_with(&spec_text, MIGRATION_TEMPLATE);
    let spec = Spec::load(&path, None).expect("spec");
    for code in [0, 5] {
        let sim = seeded(&spec, Faults { task_exit: [("web".to_string(), code)].into(), ..Default::default() }).expect("seed");
        let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
        let got = engine.run_command(&spec, None, &["bin/rake".into(), "db:seed".into()], Duration::from_secs(600)).await.expect("ran");
        assert_eq!(got, code);
        assert!(sim.world().mutations.iter().any(|(_, m)| matches!(m, Mutation::RunTask { task_definition, command } if task_definition.ends_with("web:1") && command.iter().any(|c| c.contains("db:seed")))));
    }
}

#[tokio::test]
async fn keep_revisions_never_removes_the_serving_or_the_last_deployed() {
    let (_dir, spec0) = load("");
    let sim = seeded(&spec0, Faults::default()).expect("seed");
    let text =
        std::fs::read_to_string(&spec0.path).expect("spec").replace("container = \"web\"\n", "container = \"web\"\nkeep_revisions = 1\n");
    std::fs::write(&spec0.path, text).expect("write");
    for tag in ["v3", "v4", "v5"] {
        let spec = Spec::load(&spec0.path, Some(tag)).expect("spec");
        sim.world().put_image("web", tag);
        let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
        engine.release(&spec, &ReleaseOptions::default()).await.expect("release");
    }
    let w = sim.world();
    // web:1 seed, web:2 v3, web:3 v4, web:4 v5 (serving): keep 4 and 3, deregister 1 and 2.
    assert!(w.serving("demo", "web").expect("svc").0.ends_with("web:4"));
    assert!(w.is_active("web", 4) && w.is_active("web", 3));
    assert!(!w.is_active("web", 2) && !w.is_active("web", 1));
}

/// A colleague's deployment started while fgdeploy built its image (after the plan's guard) is
/// theirs: the release stops with exit 5 before registering or deploying anything, naming it;
/// `--force` would replace it.
#[tokio::test]
async fn a_deployment_started_during_the_build_is_not_replaced() {
    let (dir, spec) = load("\n[build]\ncontext = \".\"\n");
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").expect("dockerfile");
    let spec = Spec::load(&spec.path, None).expect("spec");
    let sim = seeded(&spec, Faults { foreign_deploy_during_build: true, ..Default::default() }).expect("seed");
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let err = engine.release(&spec, &ReleaseOptions::default()).await.expect_err("refused");
    assert_eq!(err.exit_code(), exit::CONFLICT, "{err}");
    assert!(err.to_string().contains("already has a deployment in progress"), "{err}");
    let mine = sim
        .world()
        .mutations
        .iter()
        .filter(|(_, m)| matches!(m, Mutation::UpdateService { foreign: false, .. } | Mutation::RegisterTaskDefinition { .. }))
        .count();
    assert_eq!(mine, 1, "only the colleague's revision was registered; fgdeploy registered and deployed nothing");
}

#[tokio::test]
async fn pin_digest_deploys_the_pushed_digest() {
    let (dir, spec) = load("\n[build]\ncontext = \".\"\n");
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").expect("dockerfile");
    let text = std::fs::read_to_string(&spec.path).expect("spec").replace("tag = \"v2\"\n", "tag = \"v2\"\npin_digest = true\n");
    std::fs::write(&spec.path, text).expect("write");
    let spec = Spec::load(&spec.path, None).expect("spec");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    engine.release(&spec, &ReleaseOptions::default()).await.expect("release");
    let w = sim.world();
    let digest = w.image_digest("web", "v2").expect("pushed");
    let td = w.describe_task_definition("web:2").expect("web:2").definition;
    assert_eq!(
        fgdeploy::taskdef::image_of(&td, "web"),
        Some(format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/web@{digest}").as_str())
    );
}

// ----- blue/green through CodeDeploy ------------------------------------------------------------

use fgdeploy::sandbox::LoopbackApp;

const BG: &str = "\n[deploy]\nstrategy = \"blue-green\"\ntimeout = \"30m\"\n[deploy.blue_green]\ndeployment_config = \"CodeDeployDefault.ECSCanary10Percent5Minutes\"\ncontainer_port = 8080\ncheck_budget = \"1m\"\n";
const CHECKS: &str = "[[deploy.blue_green.checks]]\npath = \"/health\"\nbody_contains = \"ok\"\nconsecutive = 2\n";

/// The task definition a CODE_DEPLOY service serves.
fn bg_serving(sim: &Sim) -> String {
    sim.world().describe_service("demo", "web").expect("ok").expect("svc").task_definition
}

struct BgRun {
    run: Run,
    test: LoopbackApp,
    deployment: Option<String>,
}

/// A CODE_DEPLOY service whose test and production listeners are real HTTP apps on loopback.
async fn bluegreen(
    extra: &str,
    faults: Faults,
    test_status: u16,
    prod: Option<LoopbackApp>,
    ready: &str,
    opts: ReleaseOptions,
    pre: impl FnOnce(&Sim),
) -> BgRun {
    let (_dir, spec) = load(&format!("{BG}{extra}{CHECKS}"));
    let test = LoopbackApp::start(test_status).expect("test listener");
    let prod = prod.unwrap_or_else(|| LoopbackApp::start(200).expect("prod listener"));
    let sim = seeded(&spec, faults).expect("seed");
    fgdeploy::sandbox::seed_deployment_group(&sim, &spec, prod.port, test.port);
    if ready != "STOP_DEPLOYMENT" {
        // Re-seed the group with another ready option.
        let mut w = sim.world();
        let g = w.deployment_group("AppECS-demo-web", "DgpECS-demo-web").expect("group");
        drop(g);
        w.set_ready_action("AppECS-demo-web", "DgpECS-demo-web", ready);
    }
    pre(&sim);
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let result = engine.release(&spec, &opts).await;
    let run = Run::new(result, &rec, sim);
    let deployment = run.events.iter().find_map(|e| match e {
        Event::DeploymentStarted { deployment_id, .. } => Some(deployment_id.clone()),
        _ => None,
    });
    BgRun { run, test, deployment }
}

impl BgRun {
    fn max_green(&self) -> f64 {
        self.run.sim.world().max_green(self.deployment.as_deref().expect("a deployment")).expect("deployment")
    }
    fn calls(&self, op: &str) -> u64 {
        self.run.calls(op)
    }
}

#[tokio::test]
async fn bluegreen_checks_pass_then_traffic_shifts() {
    let r = bluegreen("", Faults::default(), 200, None, "STOP_DEPLOYMENT", ReleaseOptions::default(), |_| {}).await;
    assert_eq!(r.run.code(), exit::OK, "{}", r.run.err_text());
    assert!(r.test.requests() >= 2, "the checks made real HTTP requests to the test listener");
    assert_eq!(r.calls("codedeploy:ContinueDeployment"), 1);
    assert_eq!(r.max_green(), 100.0);
    assert!(r.run.has(|e| matches!(e, Event::Traffic { green, .. } if *green == 10.0)), "the canary step was shown");
    let td = bg_serving(&r.run.sim);
    assert!(td.ends_with(TD2), "{td}");
}

#[tokio::test]
async fn bluegreen_failed_checks_stop_with_rollback_and_prod_never_leaves_blue() {
    let r = bluegreen("", Faults::default(), 503, None, "STOP_DEPLOYMENT", ReleaseOptions::default(), |_| {}).await;
    assert_eq!(r.run.code(), exit::ROLLED_BACK, "{}", r.run.err_text());
    assert!(r.run.err_text().contains("test-listener checks failed") && r.run.err_text().contains("503"), "{}", r.run.err_text());
    assert_eq!(r.max_green(), 0.0, "production traffic never left blue");
    assert_eq!(r.calls("codedeploy:StopDeployment"), 1);
    assert_eq!(r.calls("codedeploy:ContinueDeployment"), 0);
    assert!(bg_serving(&r.run.sim).ends_with(TD1));
}

#[tokio::test]
async fn bluegreen_green_never_healthy_is_rolled_back_by_codedeploy() {
    let mut f = Faults::default();
    f.unhealthy.insert(marker());
    let r = bluegreen("", f, 200, None, "STOP_DEPLOYMENT", ReleaseOptions::default(), |_| {}).await;
    assert_eq!(r.run.code(), exit::ROLLED_BACK, "{}", r.run.err_text());
    assert!(r.run.err_text().contains("HEALTH_CONSTRAINTS"), "{}", r.run.err_text());
    assert_eq!(r.calls("codedeploy:StopDeployment"), 0, "CodeDeploy rolled back by itself; fgdeploy followed");
    assert!(r.run.has(|e| matches!(e, Event::RollbackFinished { ok: true, .. })));
    assert_eq!(r.max_green(), 0.0);
}

/// #26: a failed CodeDeploy release's report reads the deployment's target (ListDeploymentTargets,
/// GetDeploymentTarget), names the failed lifecycle event, and asks for the green task set's
/// stopped tasks by its id; its calls are counted and bounded.
#[tokio::test]
async fn a_failed_blue_green_release_reads_its_codedeploy_target() {
    let mut f = Faults::default();
    f.unhealthy.insert(marker());
    let r = bluegreen("", f, 200, None, "STOP_DEPLOYMENT", ReleaseOptions::default(), |_| {}).await;
    assert_eq!(r.run.code(), exit::ROLLED_BACK, "{}", r.run.err_text());
    let report = r
        .run
        .events
        .iter()
        .find_map(|e| match e {
            Event::Report { report } => Some(report.clone()),
            _ => None,
        })
        .expect("a report");
    assert_eq!(Some(&report.deployment), r.deployment.as_ref(), "the report is of this release's deployment");
    let cd = report.evidence.codedeploy.as_ref().expect("the CodeDeploy target was read");
    assert_eq!(cd.target, "demo:web");
    assert!(cd.lifecycle.iter().any(|(e, s)| e.as_str() == "Install" && s.as_str() == "Failed"), "{cd:?}");
    assert_eq!(serde_json::to_value(&report.diagnosis.cause).expect("json")["class"], "code_deploy");
    assert!(report.diagnosis.summary.contains("lifecycle event Install failed"), "{}", report.diagnosis.summary);
    assert_eq!(r.calls("codedeploy:ListDeploymentTargets"), 1);
    assert!(report.evidence.calls <= fgdeploy::engine::report::MAX_CALLS);
}

#[tokio::test]
async fn bluegreen_refuses_while_a_deployment_is_active() {
    let r = bluegreen("", Faults::default(), 200, None, "STOP_DEPLOYMENT", ReleaseOptions::default(), |sim| {
        let mut w = sim.world();
        let td = w.describe_task_definition("web:1").expect("td").arn;
        let content = format!(
            r#"{{"version":0.0,"Resources":[{{"TargetService":{{"Type":"AWS::ECS::Service","Properties":{{"TaskDefinition":"{td}"}}}}}}]}}"#
        );
        let sha = fgdeploy::engine::sha256_hex(&content);
        w.create_cd_deployment("AppECS-demo-web", "DgpECS-demo-web", None, &content, &sha).expect("someone's deployment");
    })
    .await;
    assert_eq!(r.run.code(), exit::CONFLICT, "{}", r.run.err_text());
    assert!(r.run.err_text().contains("already has an active deployment: d-"), "{}", r.run.err_text());
    assert_eq!(r.run.sim.world().task_definition_count("web"), 1, "nothing was registered");
}

#[tokio::test]
async fn bluegreen_canary_step_production_check_failure_rolls_back() {
    let prod = LoopbackApp::start(200).expect("prod");
    let flip = prod.clone();
    let r = bluegreen(
        "production_checks = true\n",
        Faults::default(),
        200,
        Some(prod),
        "STOP_DEPLOYMENT",
        ReleaseOptions::default(),
        move |_| {
            // Production answers 500 once green takes traffic.
            flip.set_status(500);
        },
    )
    .await;
    assert_eq!(r.run.code(), exit::ROLLED_BACK, "{}", r.run.err_text());
    assert!(r.run.err_text().contains("the production (10 %) checks failed"), "{}", r.run.err_text());
    assert_eq!(r.max_green(), 10.0, "stopped at the canary step");
}

#[tokio::test]
async fn bluegreen_checks_cannot_gate_a_continue_deployment_group() {
    let r = bluegreen("", Faults::default(), 200, None, "CONTINUE_DEPLOYMENT", ReleaseOptions::default(), |_| {}).await;
    assert_eq!(r.run.code(), exit::INPUT, "{}", r.run.err_text());
    assert!(r.run.err_text().contains("cannot gate") && r.run.err_text().contains("--no-test-gate"), "{}", r.run.err_text());
    let r = bluegreen(
        "",
        Faults::default(),
        200,
        None,
        "CONTINUE_DEPLOYMENT",
        ReleaseOptions { no_test_gate: true, ..Default::default() },
        |_| {},
    )
    .await;
    assert_eq!(r.run.code(), exit::OK, "{}", r.run.err_text());
    assert_eq!(r.test.requests(), 0, "ungated: no checks ran");
}

#[tokio::test]
async fn bluegreen_appspec_carries_the_revision_and_its_hash() {
    let (_dir, spec) = load(&format!(
        "{BG}hooks = {{ AfterAllowTestTraffic = \"arn:aws:lambda:us-east-1:1:function:smoke\" }}\nplatform_version = \"1.4.0\"\n{CHECKS}"
    ));
    let svc = seeded(&spec, Faults::default()).expect("seed").world().describe_service("demo", "web").expect("ok").expect("svc");
    let bg = spec.file.deploy.blue_green.clone().expect("bg");
    let text = fgdeploy::engine::appspec(&spec, &bg, "arn:td:2", &svc);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let p = &v["Resources"][0]["TargetService"]["Properties"];
    assert_eq!(p["TaskDefinition"], "arn:td:2");
    assert_eq!(p["LoadBalancerInfo"], serde_json::json!({"ContainerName": "web", "ContainerPort": 8080}));
    assert_eq!(p["PlatformVersion"], "1.4.0");
    assert_eq!(v["Hooks"][0]["AfterAllowTestTraffic"], "arn:aws:lambda:us-east-1:1:function:smoke");
    assert_eq!(fgdeploy::engine::sha256_hex(&text).len(), 64);
}

#[tokio::test]
async fn bluegreen_status_shows_task_sets_and_rollback_stops_in_flight_then_redeploys_previous() {
    let (_dir, spec) = load(&format!("{BG}{CHECKS}"));
    let app = LoopbackApp::start(200).expect("listener");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    fgdeploy::sandbox::seed_deployment_group(&sim, &spec, app.port, app.port);
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    engine.release(&spec, &ReleaseOptions { no_wait: true, ..Default::default() }).await.expect("started");
    sim.world().advance(60.0); // green up, waiting in Ready
    let status = fgdeploy::engine::status(&spec, &sim.ports()).await.expect("status");
    let cd = status.codedeploy.expect("a CodeDeploy section");
    assert_eq!(cd.deployment.as_ref().map(|d| d.status.as_str()), Some("Ready"));
    let sets = cd.target.expect("target").task_sets;
    assert_eq!(
        sets.iter().map(|s| (s.label.as_ref().map(|l| l.to_string()).unwrap_or_default(), s.traffic_weight)).collect::<Vec<_>>(),
        [("Blue".to_string(), 100.0), ("Green".to_string(), 0.0)]
    );

    let plan = engine.rollback_command(&spec, &fgdeploy::engine::RollbackOptions::default()).await.expect("rollback in flight");
    assert_eq!(plan.action, "stop-in-flight");
    assert!(bg_serving(&sim).ends_with(TD1));
    assert!(sim.world().active_cd_deployments("AppECS-demo-web", "DgpECS-demo-web").is_empty());

    // Release for real, then roll back to the revision before (a CodeDeploy deployment of it).
    let text = std::fs::read_to_string(&spec.path).expect("spec").replace("tag = \"v2\"", "tag = \"v3\"");
    std::fs::write(&spec.path, text).expect("write");
    let spec3 = Spec::load(&spec.path, None).expect("spec");
    sim.world().put_image("web", "v3");
    engine.release(&spec3, &ReleaseOptions::default()).await.expect("release v3");
    let released = bg_serving(&sim);
    assert!(released.ends_with("web:3"), "{released}");
    sim.world().advance(400.0); // past the blue termination wait: the deployment is over
    let plan = engine.rollback_command(&spec3, &fgdeploy::engine::RollbackOptions::default()).await.expect("rollback");
    assert_eq!(plan.action, "redeploy-previous");
    assert!(bg_serving(&sim).ends_with(TD1), "back on the revision that served before web:3: {}", bg_serving(&sim));
}

/// #25: `rollback` of a CODE_DEPLOY service follows its CodeDeploy deployment for `--timeout`,
/// else `rollback.timeout`, as documented (it used `deploy.timeout`, 30 minutes here, for both):
/// a limit of one second is passed, and the error names the setting it came from.
#[tokio::test]
async fn codedeploy_rollback_honours_the_timeout_flag_then_rollback_timeout() {
    let cases = [("", Some(Duration::from_secs(1)), "--timeout"), ("\n[rollback]\ntimeout = \"1s\"\n", None, "rollback.timeout")];
    for (rollback_section, flag, named) in cases {
        let (_dir, spec) = load(&format!("{BG}{CHECKS}{rollback_section}"));
        let app = LoopbackApp::start(200).expect("listener");
        let sim = seeded(&spec, Faults::default()).expect("seed");
        fgdeploy::sandbox::seed_deployment_group(&sim, &spec, app.port, app.port);
        let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
        engine.release(&spec, &ReleaseOptions::default()).await.expect("released");
        sim.world().advance(400.0); // past the blue termination wait: the deployment is over
        let o = fgdeploy::engine::RollbackOptions { timeout: flag, ..Default::default() };
        let e = engine.rollback_command(&spec, &o).await.expect_err("a CodeDeploy deployment takes longer than a second");
        assert!(e.to_string().contains(named), "the limit came from {named}: {e}");
        assert!(!e.to_string().contains("deploy.timeout"), "{e}");
    }
}

// ----- ECS-native blue/green, linear, canary ------------------------------------------------------

/// An ECS-native blue/green deployspec's `[deploy]` for `strategy`, its test traffic on `port`.
fn native_extra(strategy: &str, port: u16) -> String {
    format!(
        "\n[deploy]\nstrategy = \"blue-green\"\ntimeout = \"60m\"\n[deploy.blue_green]\ncontainer_port = 8080\necs_strategy = \"{strategy}\"\nbake_time_minutes = 3\nlinear_step_percent = 25\nlinear_step_bake_minutes = 2\ntest_url = \"http://127.0.0.1:{port}\"\ncheck_budget = \"1m\"\n{CHECKS}"
    )
}

async fn native(strategy: &str, faults: Faults, test_status: u16) -> (Run, LoopbackApp) {
    let test = LoopbackApp::start(test_status).expect("test traffic");
    let (_dir, spec) = load(&native_extra(strategy, test.port));
    let sim = seeded(&spec, faults).expect("seed");
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let result = engine.release(&spec, &ReleaseOptions::default()).await;
    (Run::new(result, &rec, sim), test)
}

/// #28: the simulator announces an ECS-native PAUSE hook that starts waiting as ECS does
/// ("ECS Hook State Change", HOOK_AWAITING_ACTION, `resources` the service deployment): a rule
/// with the watch's pattern, made before the release (which itself polls here), hears each one.
#[tokio::test]
async fn native_pause_hooks_are_announced_on_the_bus() {
    let test = LoopbackApp::start(200).expect("test traffic");
    let (_dir, spec) = load(&native_extra("LINEAR", test.port));
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let p = sim.ports();
    let service_arn = p.ecs.describe_service("demo", "web").await.expect("read").expect("a service").arn;
    let pattern = fgdeploy::eventpattern::pattern(&service_arn, None);
    let rule_arn = p.bus.put_rule("listener", &pattern.to_string(), "", &[]).await.expect("rule");
    let queue_arn = rule_arn.replacen(":events:", ":sqs:", 1).replace(":rule/", ":");
    let policy = serde_json::json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]});
    let url = p.queues.create_queue("listener", &[("Policy".into(), policy.to_string())], &[]).await.expect("queue");
    p.bus.put_target("listener", "q", &queue_arn).await.expect("target");
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let polling = ReleaseOptions { watch: Some(fgdeploy::spec::WatchMode::Poll), ..Default::default() };
    let r = Run::new(engine.release(&spec, &polling).await, &rec, sim.clone());
    assert_eq!(r.code(), exit::OK, "{}", r.err_text());
    let mut hooks = Vec::new();
    loop {
        let got = p.queues.receive(&url, 0).await.expect("receive");
        if got.is_empty() {
            break;
        }
        for m in got {
            let event: serde_json::Value = serde_json::from_str(&m.body).expect("an event");
            if event["detail-type"] == "ECS Hook State Change" {
                assert!(fgdeploy::eventpattern::matches(&pattern, &event), "{event}");
                assert!(event["resources"][0].as_str().is_some_and(|r| r.contains(":service-deployment/demo/web/")), "{event}");
                assert_eq!(event["detail"]["hookType"], "PAUSE");
                hooks.push(event["detail"]["hookId"].as_str().unwrap_or_default().to_string());
            }
        }
    }
    // fgdeploy's test-traffic gate (a PAUSE hook at POST_TEST_TRAFFIC_SHIFT), announced once.
    assert_eq!(hooks.len(), 1, "the gate's hook, once: {hooks:?}");
}

fn stages(r: &Run) -> Vec<String> {
    r.events.iter().filter_map(|e| if let Event::LifecycleStage { stage, .. } = e { Some(stage.to_string()) } else { None }).collect()
}

#[tokio::test]
async fn native_linear_pauses_for_checks_then_shifts_and_bakes() {
    let (r, test) = native("LINEAR", Faults::default(), 200).await;
    assert_eq!(r.code(), exit::OK, "{}", r.err_text());
    assert!(test.requests() >= 2, "real HTTP checks ran at the PAUSE hook");
    assert!(r.mutations().iter().any(|m| matches!(m, Mutation::ContinueServiceDeployment { action, .. } if action == "CONTINUE")));
    let st = stages(&r);
    for s in ["SCALE_UP", "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP"] {
        assert!(st.iter().any(|x| x == s), "stage {s} shown: {st:?}");
    }
    assert!(r.has(|e| matches!(e, Event::Info { message } if message.contains("bake time"))));
    assert!(bg_serving(&r.sim).ends_with(TD2));
}

#[tokio::test]
async fn native_failed_checks_roll_back_at_the_pause_hook() {
    let (r, _test) = native("CANARY", Faults::default(), 503).await;
    assert_eq!(r.code(), exit::ROLLED_BACK, "{}", r.err_text());
    assert!(r.err_text().contains("test-traffic checks failed"), "{}", r.err_text());
    assert!(r.mutations().iter().any(|m| matches!(m, Mutation::ContinueServiceDeployment { action, .. } if action == "ROLLBACK")));
    let arn = r
        .events
        .iter()
        .find_map(|e| if let Event::DeploymentStarted { deployment_id, .. } = e { Some(deployment_id.clone()) } else { None })
        .expect("started");
    assert_eq!(r.sim.world().native_max_weight(&arn), Some(0.0), "production traffic never moved");
    assert!(bg_serving(&r.sim).ends_with(TD1));
}

#[tokio::test]
async fn native_green_never_healthy_is_rolled_back_by_ecs() {
    let mut f = Faults::default();
    f.unhealthy.insert(marker());
    let (r, test) = native("BLUE_GREEN", f, 200).await;
    assert_eq!(r.code(), exit::ROLLED_BACK, "{}", r.err_text());
    assert!(r.err_text().contains("failed to reach a healthy state"), "{}", r.err_text());
    assert_eq!(test.requests(), 0, "no checks: green never came up");
}

#[tokio::test]
async fn native_status_shows_the_stage_and_rollback_stops_it_in_flight() {
    let test = LoopbackApp::start(200).expect("test traffic");
    let extra = format!(
        "\n[deploy]\nstrategy = \"blue-green\"\n[deploy.blue_green]\ncontainer_port = 8080\necs_strategy = \"CANARY\"\ncanary_percent = 10\ntest_url = \"http://127.0.0.1:{}\"\n{CHECKS}",
        test.port
    );
    let (_dir, spec) = load(&extra);
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let plan = engine.release(&spec, &ReleaseOptions { dry_run: true, ..Default::default() }).await.expect("plan");
    let fgdeploy::plan::Rollout::BlueGreen { deployment_config, steps } = &plan.plan.rollout else { panic!("a blue/green rollout") };
    assert_eq!(deployment_config, "ECS-native CANARY");
    assert!(steps.iter().any(|s| s.contains("10 % of production traffic for 10 min")), "{steps:?}");
    engine.release(&spec, &ReleaseOptions { no_wait: true, ..Default::default() }).await.expect("started");
    sim.world().advance(60.0);
    let st = fgdeploy::engine::status(&spec, &sim.ports()).await.expect("status");
    let sd = st.service_deployment.expect("the service deployment");
    assert_eq!(sd.lifecycle_stage, Some(fgdeploy::states::LifecycleStage::PostTestTrafficShift));
    assert_eq!(sd.hooks.first().and_then(|h| h.status.as_ref().map(|s| s.as_str())), Some("AWAITING_ACTION"));
    let text = fgdeploy::render::status_text(&fgdeploy::engine::status(&spec, &sim.ports()).await.expect("status"));
    assert!(text.contains("at POST_TEST_TRAFFIC_SHIFT") && text.contains("AWAITING_ACTION"), "{text}");
    let rb = engine.rollback_command(&spec, &fgdeploy::engine::RollbackOptions::default()).await.expect("rollback");
    assert_eq!(rb.action, "stop-in-flight");
    assert!(bg_serving(&sim).ends_with(TD1));
}

// ----- pace: when the watch looks ------------------------------------------------------------

impl Run {
    /// Virtual seconds from the deployment's terminal state in the simulator to fgdeploy's
    /// reaction (the deploy stage ends, or a rollback starts). Simulated time: this checks what
    /// the poll schedule does, deterministically; it measures no speed.
    fn detection_delay(&self) -> f64 {
        let terminal = self.sim.world().terminal_log.first().map(|(t, _)| *t);
        let reaction = self.timed.iter().find_map(|(t, e)| match e {
            Event::StageFinished { stage, .. } if *stage == fgdeploy::plan::Stage::Deploy => Some(*t),
            Event::RollbackStarted { .. } => Some(*t),
            _ => None,
        });
        match (terminal, reaction) {
            (Some(a), Some(b)) => b - a,
            _ => f64::NAN,
        }
    }
    fn calls(&self, op: &str) -> u64 {
        self.sim.calls().count(op)
    }
}

#[tokio::test]
async fn the_watch_looks_when_the_last_rollout_says_it_can_change() {
    // The seeded service rolled out before at the simulator's pace: COMPLETED 37 s after
    // UpdateService. fgdeploy reads that from DescribeServices alone (no extra call)...
    // (The poller: `tests/it/events.rs` has the watch by events.)
    let polling = ReleaseOptions { watch: Some(fgdeploy::spec::WatchMode::Poll), ..Default::default() };
    let r = release_with("", Faults::default(), polling, None).await;
    assert_eq!(r.code(), exit::OK, "{:?}", r.result.as_ref().err());
    assert!(
        r.has(|e| matches!(e, Event::Info { message } if message.contains("the last rollout completed in 37 s"))),
        "the forecast is shown"
    );
    // ...and looks at fractions of it until the tasks drain, then closely: it sees the end within
    // the endgame gap, with no more reads than a 10 s poller of DescribeServices and
    // DescribeServiceDeployments spends on a 37 s rollout (4 × 2) plus the guard's, the plan's,
    // the verify stage's and the one read of the service deployment UpdateService named (its
    // target revision is checked before it is trusted: #23 item 8).
    let d = r.detection_delay();
    assert!((0.0..=fgdeploy::engine::pace::ROLLING_ENDGAME_GAP).contains(&d), "detected {d} s after the end");
    assert!(r.calls("ecs:DescribeServices") + r.calls("ecs:DescribeServiceDeployments") <= 13, "{:?}", r.sim.calls().snapshot());
    assert_eq!(r.calls("ecs:DescribeTasks"), 0, "the forecast costs no call");
}

#[tokio::test]
async fn a_rollout_slower_than_last_time_is_followed_at_its_new_pace() {
    let (_dir, spec) = load("");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    {
        // This release's tasks take 60 % longer to start and to turn healthy than last time.
        let mut w = sim.world();
        w.faults.start_secs *= 1.6;
        w.faults.health_secs *= 1.6;
    }
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let result = engine.release(&spec, &ReleaseOptions::default()).await;
    let r = Run::new(result, &rec, sim);
    assert_eq!(r.code(), exit::OK, "{:?}", r.result.as_ref().err());
    let d = r.detection_delay();
    assert!(
        (0.0..=fgdeploy::engine::pace::ROLLING_ENDGAME_GAP).contains(&d),
        "the late completion is still seen within the endgame gap: {d}"
    );
}

#[tokio::test]
async fn a_circuit_breaker_trip_is_seen_at_the_forecast_task_start() {
    let mut f = Faults::default();
    f.fail_start.insert(marker());
    let r = release("", f).await;
    assert_eq!(r.code(), exit::ROLLED_BACK);
    // Looks fall at fractions of the last rollout until tasks drain: never further apart than
    // the pre-drain gap, so the trip is seen within it.
    let d = r.detection_delay();
    assert!((0.0..=fgdeploy::engine::pace::ROLLING_MAX_GAP).contains(&d), "reacted {d} s after ECS started its rollback");
    // React first, diagnose after: the failed tasks' reasons follow the rollback's start.
    let pos = |f: &dyn Fn(&Event) -> bool| r.events.iter().position(f).unwrap_or(usize::MAX);
    let started = pos(&|e| matches!(e, Event::RollbackStarted { .. }));
    let diagnosed = pos(&|e| matches!(e, Event::TaskFailed { .. }));
    assert!(started < diagnosed && diagnosed != usize::MAX, "rollback at {started}, task reasons at {diagnosed}");
}

#[tokio::test]
async fn native_traffic_steps_and_the_bake_are_watched_at_their_ends() {
    // LINEAR: 25 % every 2 min, then a 3 min bake (about 11 simulated minutes in all).
    let (r, _test) = native("LINEAR", Faults::default(), 200).await;
    assert_eq!(r.code(), exit::OK, "{}", r.err_text());
    let polls = r.calls("ecs:DescribeServiceDeployments");
    let secs = r.timed.last().map(|(t, _)| *t).unwrap_or_default() - r.timed.first().map(|(t, _)| *t).unwrap_or_default();
    // Fewer looks than a fixed 10 s poller would take (the adaptive 2 s → 15 s back-off it
    // replaces took 68 here, restarting at 2 s on every stage change).
    assert!((polls as f64) < secs / 10.0, "{polls} DescribeServiceDeployments in {secs} simulated s");
    let st = stages(&r);
    assert!(st.iter().any(|s| s == "BAKE_TIME") && st.iter().any(|s| s == "CLEAN_UP"), "{st:?}");
}

#[tokio::test]
async fn bluegreen_ready_and_the_canary_shift_are_seen_when_they_happen() {
    // The group's last deployment (seeded at the simulator's pace) was Ready 36 s after it was
    // created; the canary config moves 100 % five minutes after the first shift.
    // The poller's forecast (by events, Ready is heard a delivery's latency after it happens).
    let polling = ReleaseOptions { watch: Some(fgdeploy::spec::WatchMode::Poll), ..Default::default() };
    let r = bluegreen("", Faults::default(), 200, None, "STOP_DEPLOYMENT", polling, |_| {}).await;
    assert_eq!(r.run.code(), exit::OK, "{}", r.run.err_text());
    assert!(r.run.has(|e| matches!(e, Event::Info { message } if message.contains("ready for test traffic 36 s"))));
    let at = |f: &dyn Fn(&Event) -> bool| r.run.timed.iter().find(|(_, e)| f(e)).map(|(t, _)| *t).unwrap_or(f64::NAN);
    let created = at(&|e| matches!(e, Event::DeploymentStarted { .. }));
    let ready = at(&|e| matches!(e, Event::Traffic { status, .. } if *status == fgdeploy::states::CdStatus::Ready));
    assert!((ready - created - 36.0).abs() < 1e-9, "Ready seen {} s after CreateDeployment", ready - created);
    let continued = at(&|e| matches!(e, Event::Info { message } if message.starts_with("ContinueDeployment(READY_WAIT)")));
    let full = at(&|e| matches!(e, Event::Traffic { green, .. } if *green == 100.0));
    assert!((full - continued - 300.0).abs() < 1e-9, "100 % seen {} s after ContinueDeployment", full - continued);
    // Fewer looks than a 10 s poller over the same time (GetDeployment each 10 s).
    let polls = r.calls("codedeploy:GetDeployment");
    assert!((polls as f64) < (full - created) / 10.0, "{polls} GetDeployment in {} s", full - created);
}

// ----- gate integrity: a gated release that completes past fgdeploy's gate ------------------------

#[tokio::test]
async fn bluegreen_completed_without_ready_is_a_bypassed_gate_not_a_success() {
    let f = Faults { gate_bypassed: true, ..Faults::default() };
    let prod = LoopbackApp::start(503).expect("prod listener");
    let r = bluegreen(
        "production_url = \"http://127.0.0.1:1\"\n",
        f,
        200,
        Some(prod.clone()),
        "STOP_DEPLOYMENT",
        ReleaseOptions::default(),
        |_| {},
    )
    .await;
    assert_eq!(r.run.code(), exit::GATE_BYPASSED, "{}", r.run.err_text());
    let text = r.run.err_text();
    // Reported when all traffic is on green and the termination wait began (#23 item 10), or at
    // Succeeded, whichever fgdeploy sees first.
    assert!(text.contains("gate bypassed") && (text.contains("without being Ready") || text.contains("gate never passed")), "{text}");
    assert_eq!(r.calls("codedeploy:ContinueDeployment"), 0, "fgdeploy never continued it");
    assert_eq!(r.test.requests(), 0, "the test-listener gate never ran");
    assert!(text.contains("checks run afterwards: FAILED against http://127.0.0.1:1"), "checks ran once against production: {text}");
}

#[tokio::test]
async fn bluegreen_bypassed_gate_checks_production_afterwards() {
    let f = Faults { gate_bypassed: true, ..Faults::default() };
    let prod = LoopbackApp::start(200).expect("prod listener");
    let extra = format!("production_url = \"http://127.0.0.1:{}\"\n", prod.port);
    let r = bluegreen(&extra, f, 200, Some(prod.clone()), "STOP_DEPLOYMENT", ReleaseOptions::default(), |_| {}).await;
    assert_eq!(r.run.code(), exit::GATE_BYPASSED, "{}", r.run.err_text());
    assert!(prod.requests() >= 2, "the checks ran against production after the fact");
    assert!(r.run.err_text().contains("checks run afterwards: passed"), "{}", r.run.err_text());
}

#[tokio::test]
async fn native_pause_hook_answered_by_someone_else_is_a_bypassed_gate() {
    let f = Faults { gate_bypassed: true, ..Faults::default() };
    let (r, test) = native("LINEAR", f, 200).await;
    assert_eq!(r.code(), exit::GATE_BYPASSED, "{}", r.err_text());
    assert!(r.err_text().contains("PAUSE hook was answered outside fgdeploy"), "{}", r.err_text());
    assert!(!r.mutations().iter().any(|m| matches!(m, Mutation::ContinueServiceDeployment { .. })), "fgdeploy never answered the hook");
    assert!(test.requests() >= 2, "the checks ran once, after the fact");
    assert!(r.has(|e| matches!(e, Event::Warning { message } if message.contains("someone else answered it"))));
}

#[tokio::test]
async fn ungated_bluegreen_without_ready_is_still_a_success() {
    // No checks: there is no gate to bypass (a CONTINUE_DEPLOYMENT group shifts by itself).
    let (_dir, spec) = load(BG);
    let test = LoopbackApp::start(200).expect("test");
    let sim = seeded(&spec, Faults { gate_bypassed: true, ..Faults::default() }).expect("seed");
    fgdeploy::sandbox::seed_deployment_group(&sim, &spec, test.port, test.port);
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let r = engine.release(&spec, &ReleaseOptions::default()).await;
    assert!(r.is_ok(), "{:?}", r.err());
}

// ----- exact deadlines ------------------------------------------------------------------------------

/// Seconds from the release's DeploymentStarted to its RollbackStarted (virtual time).
fn reaction(r: &Run) -> f64 {
    let at = |f: &dyn Fn(&Event) -> bool| r.timed.iter().find(|(_, e)| f(e)).map(|(t, _)| *t).expect("event");
    at(&|e| matches!(e, Event::RollbackStarted { .. })) - at(&|e| matches!(e, Event::DeploymentStarted { .. }))
}

#[tokio::test]
async fn a_rolling_timeout_ends_at_its_deadline_and_names_the_flag() {
    for secs in [30u64, 41, 97, 300] {
        // The new tasks take longer to start than any of these timeouts (no circuit breaker trips).
        let f = Faults { start_secs: 5_000.0, ..Faults::default() };
        let opts = ReleaseOptions { timeout: Some(Duration::from_secs(secs)), ..Default::default() };
        let r = release_with("", f, opts, None).await;
        // Every task is slow to start here, the rollback's too: it may outlast rollback.timeout.
        assert!([exit::ROLLED_BACK, exit::MANUAL_ACTION].contains(&r.code()), "{}", r.err_text());
        assert!(r.err_text().contains("did not finish within --timeout"), "{}", r.err_text());
        let took = reaction(&r);
        assert!(took <= secs as f64 + 0.01, "--timeout {secs}s reacted after {took:.1} s (overshoot)");
        assert!(took >= secs as f64 - 1.0, "--timeout {secs}s reacted early, after {took:.1} s");
    }
}

#[tokio::test]
async fn a_rolling_timeout_from_the_deployspec_names_deploy_timeout() {
    let f = Faults { start_secs: 5_000.0, ..Faults::default() };
    let r = release("\n[deploy]\ntimeout = \"77s\"\n", f).await;
    assert!([exit::ROLLED_BACK, exit::MANUAL_ACTION].contains(&r.code()), "{}", r.err_text());
    assert!(r.err_text().contains("within rollback.timeout (20m)"), "the rollback's deadline is named too: {}", r.err_text());
    assert!(r.err_text().contains("within deploy.timeout"), "{}", r.err_text());
    let took = reaction(&r);
    assert!((76.0..=77.01).contains(&took), "deploy.timeout 77s reacted after {took:.1} s");
}

#[tokio::test]
async fn a_native_timeout_ends_at_its_deadline() {
    let test = LoopbackApp::start(200).expect("test traffic");
    let extra = format!(
        "\n[deploy]\nstrategy = \"blue-green\"\ntimeout = \"53s\"\n[deploy.blue_green]\ncontainer_port = 8080\necs_strategy = \"CANARY\"\ntest_url = \"http://127.0.0.1:{}\"\n",
        test.port
    );
    let mut f = Faults::default();
    f.unhealthy.insert(marker());
    // Green never gets healthy within 53 s (ECS itself would give up after 300 s).
    let (_dir, spec) = load(&extra);
    let sim = seeded(&spec, f).expect("seed");
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let result = engine.release(&spec, &ReleaseOptions::default()).await;
    let r = Run::new(result, &rec, sim);
    assert_eq!(r.code(), exit::ROLLED_BACK, "{}", r.err_text());
    assert!(r.err_text().contains("within deploy.timeout"), "{}", r.err_text());
    let took = reaction(&r);
    assert!(took <= 53.01, "reacted after {took:.1} s");
}

#[tokio::test]
async fn a_migration_timeout_stops_the_task_at_its_deadline_and_names_it() {
    let r = migrate_with(Faults { run_secs: 10_000.0, ..Faults::default() }, "47s").await;
    assert_eq!(r.code(), exit::MIGRATION_FAILED, "{}", r.err_text());
    assert!(r.err_text().contains("within migration.timeout"), "{}", r.err_text());
    let at = |f: &dyn Fn(&Event) -> bool| r.timed.iter().find(|(_, e)| f(e)).map(|(t, _)| *t).expect("event");
    let started = at(&|e| matches!(e, Event::TaskStarted { .. }));
    let stop = r.sim.world().mutations.iter().find(|(_, m)| matches!(m, Mutation::StopTask { .. })).map(|(t, _)| *t).expect("StopTask");
    assert!(stop - started <= 47.01 && stop - started >= 46.0, "StopTask {:.1} s after the start", stop - started);
}

#[tokio::test]
async fn a_plan_says_a_release_will_fail_when_the_image_is_missing_and_nothing_can_build_it() {
    let (_dir, path) = spec_dir("");
    let seeded_spec = Spec::load(&path, None).expect("spec");
    let sim = seeded(&seeded_spec, Faults::default()).expect("seed"); // ECR has web:v2 only
    let missing = Spec::load(&path, Some("v9")).expect("spec");
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let r = engine.release(&missing, &ReleaseOptions { dry_run: true, ..Default::default() }).await.expect("plan");
    let build = r.plan.stages.iter().find(|s| s.stage == fgdeploy::plan::Stage::Build).expect("build stage");
    let text = format!("{:?}", build.action);
    assert!(text.contains("FAILS") && text.contains("no [build] section"), "{text}");
    // verify (before the first change) names the missing image, its field and the fix: bad input.
    let e = engine.release(&missing, &ReleaseOptions::default()).await.expect_err("the release fails");
    assert_eq!(e.exit_code(), exit::INPUT, "{e}");
    assert!(e.to_string().contains("image.tag") && e.to_string().contains("web:v9 does not exist"), "{e}");
    // Without verify, the build stage stops it: nothing can build the image.
    let e = engine.release(&missing, &ReleaseOptions { skip_verify: true, ..Default::default() }).await.expect_err("fails");
    assert_eq!(e.exit_code(), exit::BUILD_FAILED, "{e}");
    assert!(sim.world().mutations.is_empty(), "nothing was changed: {:?}", sim.world().mutations);
}

// ----- interrupts during the checks ---------------------------------------------------------------

async fn interrupted_during_checks(on_interrupt: &str) -> Run {
    let (_dir, spec) = load(&format!("{BG}{CHECKS}[rollback]\non_interrupt = \"{on_interrupt}\"\n"));
    let test = LoopbackApp::start(503).expect("test listener"); // the checks keep trying…
    let sim = seeded(&spec, Faults::default()).expect("seed");
    fgdeploy::sandbox::seed_deployment_group(&sim, &spec, test.port, test.port);
    let interrupt = Interrupt::default();
    sim.interrupt_at(60.0, interrupt.clone()); // …when the operator interrupts
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), interrupt);
    let result = engine.release(&spec, &ReleaseOptions::default()).await;
    assert!(test.requests() > 0, "the checks were running");
    Run::new(result, &rec, sim)
}

#[tokio::test]
async fn an_interrupt_during_the_checks_detaches_when_asked() {
    let r = interrupted_during_checks("detach").await;
    assert_eq!(r.code(), exit::DETACHED, "{}", r.err_text());
    assert!(r.err_text().contains("interrupted during the test-listener checks"), "{}", r.err_text());
    assert!(!r.mutations().iter().any(|m| matches!(m, Mutation::StopDeployment { .. })), "nothing stopped: {:?}", r.mutations());
}

#[tokio::test]
async fn an_interrupt_during_the_checks_rolls_back_as_an_interrupt_not_a_failed_check() {
    let r = interrupted_during_checks("rollback").await;
    assert_eq!(r.code(), exit::ROLLED_BACK, "{}", r.err_text());
    assert!(r.err_text().contains("interrupted by the operator"), "{}", r.err_text());
    assert!(!r.err_text().contains("checks failed"), "{}", r.err_text());
}

#[tokio::test]
async fn every_wait_shows_it_is_alive_at_least_every_15_s() {
    // Tasks take 200 s to start: long stretches where nothing changes.
    let f = Faults { start_secs: 200.0, ..Faults::default() };
    let r = release("", f).await;
    assert_eq!(r.code(), exit::OK, "{}", r.err_text());
    let from = r.timed.iter().position(|(_, e)| matches!(e, Event::DeploymentStarted { .. })).expect("started");
    let times: Vec<f64> = r.timed[from..].iter().map(|(t, _)| *t).collect();
    let gap = times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    assert!(gap <= 15.0 + 1e-6, "a {gap:.1} s silence while waiting");
    assert!(r.has(|e| matches!(e, Event::Info { message } if message.contains("still waiting for the deployment") && message.contains("deploy.timeout"))));
}

/// `history` after releases: the newest deployment first, its revision and image, and a failed
/// one with its outcome and reason; without the service-deployment API a clear refusal.
#[tokio::test]
async fn history_shows_each_release_newest_first_with_its_outcome() {
    let r = release("", Faults::default()).await;
    assert_eq!(r.code(), exit::OK);
    let (_dir, spec) = load("");
    let h = fgdeploy::engine::history(&spec, &r.sim.ports(), 10).await.expect("history");
    let newest = &h.entries[0];
    assert_eq!(newest.status, fgdeploy::states::SdStatus::Successful);
    assert!(newest.task_definition.as_deref().is_some_and(|t| t.ends_with(TD2)), "{newest:?}");
    assert!(newest.image.as_deref().is_some_and(|i| i.ends_with(&marker())), "{newest:?}");
    assert!(newest.duration_secs.is_some_and(|d| d > 30.0), "{newest:?}");
    assert!(h.entries.windows(2).all(|w| w[0].created_at >= w[1].created_at), "newest first");

    let mut f = Faults::default();
    f.fail_start.insert(marker());
    let r = release("", f).await;
    assert_eq!(r.code(), exit::ROLLED_BACK);
    let h = fgdeploy::engine::history(&spec, &r.sim.ports(), 10).await.expect("history");
    let failed = h.entries.iter().find(|e| e.task_definition.as_deref().is_some_and(|t| t.ends_with(TD2))).expect("the failed release");
    assert_eq!(failed.status, fgdeploy::states::SdStatus::RollbackSuccessful, "{failed:?}");
    assert!(failed.reason.as_deref().is_some_and(|m| m.contains("circuit breaker")), "{failed:?}");

    let sim = seeded(&spec, Faults { no_service_deployments_api: true, ..Default::default() }).expect("seed");
    let e = fgdeploy::engine::history(&spec, &sim.ports(), 10).await.expect_err("no API");
    assert!(e.to_string().contains("ListServiceDeployments"), "{e}");
}

// ----- wait: re-attach to a deployment in flight --------------------------------------------------

/// `wait` on `sim`: the result and the events.
async fn wait_on(sim: &Sim, spec: &Spec, o: fgdeploy::engine::WaitOptions) -> (Result<fgdeploy::engine::WaitReport, Error>, Vec<Event>) {
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let r = engine.wait_command(spec, &o).await;
    (r, rec.events())
}

/// `release --no-wait` on `sim`.
async fn start(sim: &Sim, spec: &Spec) {
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let r = engine.release(spec, &ReleaseOptions { no_wait: true, ..Default::default() }).await.expect("started");
    assert_eq!(r.outcome, "started");
}

fn finished(events: &[Event]) -> (String, i32) {
    match events.last() {
        Some(Event::Finished { outcome, exit_code, .. }) => (outcome.clone(), *exit_code),
        other => panic!("no finished event last: {other:?}"),
    }
}

#[tokio::test]
async fn wait_follows_a_no_wait_release_to_its_end() {
    let (_dir, spec) = load("");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    start(&sim, &spec).await;
    let (r, events) = wait_on(&sim, &spec, Default::default()).await;
    let w = r.expect("deployed");
    assert_eq!((w.kind, w.outcome), ("rolling", "deployed"));
    assert!(w.task_definition.ends_with(TD2), "{w:?}");
    assert_eq!(finished(&events), ("deployed".to_string(), exit::OK));
    let (td, steady) = sim.world().serving("demo", "web").expect("service");
    assert!(td.ends_with(TD2) && steady);
    assert!(events.iter().any(|e| matches!(e, Event::Progress { .. })), "the same progress as a release");
    // Nothing in flight any more: said, and a success.
    let (r, _) = wait_on(&sim, &spec, Default::default()).await;
    assert_eq!(r.expect("finished").outcome, "already-finished");
}

#[tokio::test]
async fn wait_applies_the_release_policy_to_a_failing_deployment() {
    let (_dir, spec) = load("");
    let mut f = Faults::default();
    f.fail_start.insert(marker());
    let sim = seeded(&spec, f).expect("seed");
    start(&sim, &spec).await;
    let o = fgdeploy::engine::WaitOptions { rollback: true, ..Default::default() };
    let (r, events) = wait_on(&sim, &spec, o).await;
    let e = r.expect_err("the circuit breaker");
    assert_eq!(e.exit_code(), exit::ROLLED_BACK, "{e}");
    assert_eq!(finished(&events).1, exit::ROLLED_BACK);
    assert!(events.iter().any(|e| matches!(e, Event::RollbackFinished { ok: true, .. })));
    assert!(sim.world().serving("demo", "web").expect("service").0.ends_with(TD1));
}

#[tokio::test]
async fn wait_times_out_like_a_release_from_the_attach() {
    let (_dir, spec) = load("\n[deploy.rolling]\ncircuit_breaker = false\n");
    let mut f = Faults::default();
    f.unhealthy.insert(marker());
    let sim = seeded(&spec, f).expect("seed");
    start(&sim, &spec).await;
    let t0 = fgdeploy::ports::Clock::now(&sim);
    let o = fgdeploy::engine::WaitOptions { timeout: Some(Duration::from_secs(90)), rollback: true, ..Default::default() };
    let (r, events) = wait_on(&sim, &spec, o).await;
    let e = r.expect_err("timed out");
    assert_eq!(e.exit_code(), exit::ROLLED_BACK, "{e}");
    assert!(e.to_string().contains("--timeout"), "{e}");
    let stop =
        sim.world().mutations.iter().find(|(_, m)| matches!(m, Mutation::StopServiceDeployment { .. })).map(|(t, _)| *t).expect("stopped");
    assert!((stop - t0 - 90.0).abs() < 3.0, "stopped at the deadline, 90 s after the attach: {}", stop - t0);
    assert!(events.iter().any(|e| matches!(e, Event::RollbackStarted { .. })));
}

// Issue #23 item 5: `wait` attaches to whatever deployment is active, possibly someone else's;
// by default it reports and detaches, and rolls back only with --rollback.
#[tokio::test]
async fn wait_without_rollback_detaches_at_its_deadline_and_rolls_nothing_back() {
    let (_dir, spec) = load("\n[deploy.rolling]\ncircuit_breaker = false\n");
    let mut f = Faults::default();
    f.unhealthy.insert(marker());
    let sim = seeded(&spec, f).expect("seed");
    start(&sim, &spec).await;
    let before = sim.world().mutations.len();
    let o = fgdeploy::engine::WaitOptions { timeout: Some(Duration::from_secs(90)), ..Default::default() };
    let (r, events) = wait_on(&sim, &spec, o).await;
    let e = r.expect_err("the deadline");
    assert_eq!(e.exit_code(), exit::DETACHED, "{e}");
    assert!(e.to_string().contains("goes on without fgdeploy"), "{e}");
    assert_eq!(sim.world().mutations.len(), before, "nothing was rolled back: {:?}", &sim.world().mutations[before..]);
    assert!(!events.iter().any(|e| matches!(e, Event::RollbackStarted { .. })));
}

#[tokio::test]
async fn wait_without_rollback_reports_a_failure_and_leaves_the_deployment() {
    let (_dir, spec) = load("\n[deploy.rolling]\ncircuit_breaker = true\ncircuit_breaker_rollback = false\n");
    let mut f = Faults::default();
    f.fail_start.insert(marker());
    let sim = seeded(&spec, f).expect("seed");
    start(&sim, &spec).await;
    let before = sim.world().mutations.len();
    let (r, _) = wait_on(&sim, &spec, Default::default()).await;
    let e = r.expect_err("the circuit breaker");
    assert_eq!(e.exit_code(), exit::MANUAL_ACTION, "{e}");
    assert_eq!(sim.world().mutations.len(), before, "fgdeploy changed nothing: {:?}", &sim.world().mutations[before..]);
}

#[tokio::test]
async fn wait_names_an_unknown_deployment_and_points_to_history() {
    let (_dir, spec) = load("");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let o = fgdeploy::engine::WaitOptions { deployment: Some("ecs-svc/0000".into()), ..Default::default() };
    let (r, _) = wait_on(&sim, &spec, o).await;
    let e = r.expect_err("unknown");
    assert!(e.to_string().contains("ecs-svc/0000") && e.to_string().contains("history"), "{e}");
    assert!(sim.world().mutations.is_empty(), "nothing changed");
}

#[tokio::test]
async fn wait_runs_the_gate_of_a_codedeploy_deployment_started_without_watching() {
    let no_wait = ReleaseOptions { no_wait: true, ..Default::default() };
    let r = bluegreen("", Faults::default(), 200, None, "STOP_DEPLOYMENT", no_wait, |_| {}).await;
    assert_eq!(r.run.code(), exit::OK, "{}", r.run.err_text());
    assert_eq!(r.test.requests(), 0, "not watched, no checks yet");
    let (_dir, spec) = load(&format!("{BG}{CHECKS}"));
    let (w, events) = wait_on(&r.run.sim, &spec, Default::default()).await;
    let w = w.expect("deployed");
    assert_eq!((w.kind, w.outcome), ("codedeploy", "deployed"));
    assert!(r.test.requests() >= 2, "wait ran the test-listener checks");
    assert_eq!(r.calls("codedeploy:ContinueDeployment"), 1);
    assert!(bg_serving(&r.run.sim).ends_with(TD2));
    assert_eq!(finished(&events).1, exit::OK);
}

#[tokio::test]
async fn wait_follows_an_ecs_native_deployment_through_its_pause_hook() {
    let test = LoopbackApp::start(200).expect("test traffic");
    let extra = format!(
        "\n[deploy]\nstrategy = \"blue-green\"\ntimeout = \"60m\"\n[deploy.blue_green]\ncontainer_port = 8080\necs_strategy = \"CANARY\"\nbake_time_minutes = 1\ntest_url = \"http://127.0.0.1:{}\"\ncheck_budget = \"1m\"\n{CHECKS}",
        test.port
    );
    let (_dir, spec) = load(&extra);
    let sim = seeded(&spec, Faults::default()).expect("seed");
    start(&sim, &spec).await;
    let (w, _) = wait_on(&sim, &spec, Default::default()).await;
    let w = w.expect("deployed");
    assert_eq!(w.kind, "ecs-native");
    assert!(test.requests() >= 2, "wait ran the checks at the PAUSE hook");
    assert!(
        sim.world().mutations.iter().any(|(_, m)| matches!(m, Mutation::ContinueServiceDeployment { action, .. } if action == "CONTINUE"))
    );
    assert!(sim.world().serving("demo", "web").expect("service").0.ends_with(TD2));
    // The PAUSE hook `release --no-wait` put on the service is gone once wait followed it to its end.
    let hooks = sim.world().deployment_config("demo", "web").expect("service").lifecycle_hooks;
    assert!(hooks.iter().all(|h| !h.is_fgdeploys()), "{hooks:?}");
}

// ----- Application Auto Scaling -------------------------------------------------------------------

/// A release of the base spec (desired_count = 4) on a service the autoscaler runs at 6 (2–10).
async fn autoscaled(extra: &str, faults: Faults, opts: ReleaseOptions, pre: impl FnOnce(&Sim)) -> Run {
    let (_dir, spec) = load(extra);
    let sim = seeded(&spec, faults).expect("seed");
    sim.world().autoscale("demo", "web", (2, 10), 6);
    pre(&sim);
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let result = engine.release(&spec, &opts).await;
    Run::new(result, &rec, sim)
}

fn desired_now(sim: &Sim) -> i32 {
    sim.world().describe_service("demo", "web").expect("ok").expect("svc").desired_count
}

fn scale_in_calls(r: &Run) -> Vec<bool> {
    r.mutations().iter().filter_map(|m| if let Mutation::SuspendScaleIn { suspended, .. } = m { Some(*suspended) } else { None }).collect()
}

#[tokio::test]
async fn a_release_keeps_the_autoscalers_count_and_says_so() {
    let r = autoscaled("", Faults::default(), ReleaseOptions::default(), |_| {}).await;
    assert_eq!(r.code(), exit::OK, "{}", r.err_text());
    assert_eq!(desired_now(&r.sim), 6, "not reset to the deployspec's 4");
    let update = r.mutations().into_iter().find(|m| m.is_update_to(TD2)).expect("the update");
    assert!(matches!(update, Mutation::UpdateService { desired_count: None, .. }), "{update}");
    let Some(Event::Plan { plan }) = r.events.iter().find(|e| matches!(e, Event::Plan { .. })) else { panic!("no plan event") };
    assert!(plan.notes.iter().any(|n| n.contains("Application Auto Scaling")), "{:?}", plan.notes);
    assert!(scale_in_calls(&r).is_empty(), "nothing suspended unless asked");
}

#[tokio::test]
async fn a_rollback_does_not_restore_an_old_count_over_the_autoscaler() {
    let mut f = Faults::default();
    f.unhealthy.insert(marker());
    f.no_service_deployments_api = true;
    let r =
        autoscaled("\n[deploy]\ntimeout = \"5m\"\n[deploy.rolling]\ncircuit_breaker = false\n", f, ReleaseOptions::default(), |_| {}).await;
    assert_eq!(r.code(), exit::ROLLED_BACK, "{}", r.err_text());
    let back = r.mutations().into_iter().find(|m| m.is_update_to(TD1)).expect("the update back");
    assert!(matches!(back, Mutation::UpdateService { desired_count: None, .. }), "{back}");
}

#[tokio::test]
async fn suspend_autoscaling_suspends_scale_in_for_the_deployment_and_always_resumes_it() {
    let suspend = "\n[deploy]\nsuspend_autoscaling = true\n";
    let r = autoscaled(suspend, Faults::default(), ReleaseOptions::default(), |_| {}).await;
    assert_eq!(r.code(), exit::OK, "{}", r.err_text());
    assert_eq!(scale_in_calls(&r), vec![true, false]);
    let m = r.mutations();
    let at = |p: &dyn Fn(&Mutation) -> bool| m.iter().position(p).expect("present");
    assert!(at(&|x| matches!(x, Mutation::SuspendScaleIn { suspended: true, .. })) < at(&|x| x.is_update_to(TD2)));
    assert!(!r.sim.world().scalable_targets.values().any(|t| t.scale_in_suspended), "resumed");
    // A failed release (ECS rolls back) resumes it too.
    let mut f = Faults::default();
    f.fail_start.insert(marker());
    let r = autoscaled(suspend, f, ReleaseOptions::default(), |_| {}).await;
    assert_eq!(r.code(), exit::ROLLED_BACK, "{}", r.err_text());
    assert_eq!(scale_in_calls(&r), vec![true, false]);
    // Already suspended by someone else: left alone.
    let r = autoscaled(suspend, Faults::default(), ReleaseOptions::default(), |sim| {
        for t in sim.world().scalable_targets.values_mut() {
            t.scale_in_suspended = true;
        }
    })
    .await;
    assert!(scale_in_calls(&r).is_empty());
    // --no-wait: nothing would resume it, so it is not suspended.
    let r = autoscaled(suspend, Faults::default(), ReleaseOptions { no_wait: true, ..Default::default() }, |_| {}).await;
    assert!(scale_in_calls(&r).is_empty());
    assert!(r.has(|e| matches!(e, Event::Warning { message } if message.contains("--no-wait"))));
}

#[tokio::test]
async fn an_interrupted_release_resumes_scale_in_after_its_rollback() {
    let (_dir, spec) = load("\n[deploy]\nsuspend_autoscaling = true\n");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    sim.world().autoscale("demo", "web", (2, 10), 6);
    let interrupt = Interrupt::default();
    sim.interrupt_at(20.0, interrupt.clone());
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), interrupt);
    let result = engine.release(&spec, &ReleaseOptions::default()).await;
    let r = Run::new(result, &rec, sim);
    assert_eq!(r.code(), exit::ROLLED_BACK, "{}", r.err_text());
    assert_eq!(scale_in_calls(&r), vec![true, false]);
}

// ----- scale ----------------------------------------------------------------------------------------

async fn scale_on(
    sim: &Sim,
    spec: &Spec,
    o: fgdeploy::engine::ScaleOptions,
    interrupt: Interrupt,
) -> (Result<fgdeploy::engine::ScaleReport, Error>, Vec<Event>) {
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), interrupt);
    let r = engine.scale_command(spec, &o).await;
    (r, rec.events())
}

#[tokio::test]
async fn scale_sets_only_the_count_and_waits_until_the_tasks_run() {
    let (_dir, spec) = load("");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let (r, events) = scale_on(&sim, &spec, fgdeploy::engine::ScaleOptions { count: 7, ..Default::default() }, Interrupt::default()).await;
    let r = r.expect("scaled");
    assert_eq!((r.from, r.to, r.steady), (4, 7, true));
    let svc = sim.world().describe_service("demo", "web").expect("ok").expect("svc");
    assert_eq!((svc.desired_count, svc.running_count, svc.pending_count, svc.deployments.len()), (7, 7, 0, 1), "one deployment, scaled");
    let m: Vec<Mutation> = sim.world().mutations.iter().map(|(_, m)| m.clone()).collect();
    assert!(
        matches!(m.as_slice(), [Mutation::UpdateService { desired_count: Some(7), task_definition, .. }] if task_definition.ends_with(TD1)),
        "one UpdateService with the count and the same revision: {m:?}"
    );
    assert_eq!(finished(&events), ("scaled".to_string(), exit::OK));
}

#[tokio::test]
async fn scale_respects_the_autoscalers_bounds_unless_forced() {
    let (_dir, spec) = load("");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    sim.world().autoscale("demo", "web", (2, 6), 4);
    let o = fgdeploy::engine::ScaleOptions { count: 9, ..Default::default() };
    let (r, _) = scale_on(&sim, &spec, o.clone(), Interrupt::default()).await;
    let e = r.expect_err("outside the bounds");
    assert_eq!(e.exit_code(), exit::INPUT);
    assert!(e.to_string().contains("2–6") && e.to_string().contains("--force"), "{e}");
    assert!(sim.world().mutations.is_empty(), "refused before any change");
    let (r, events) = scale_on(&sim, &spec, fgdeploy::engine::ScaleOptions { force: true, ..o }, Interrupt::default()).await;
    assert!(r.expect("forced").steady);
    assert!(events.iter().any(|e| matches!(e, Event::Warning { message } if message.contains("--force"))));
    let (r, _) = scale_on(&sim, &spec, fgdeploy::engine::ScaleOptions { count: 5, ..Default::default() }, Interrupt::default()).await;
    assert_eq!(r.expect("within").to, 5);
}

#[tokio::test]
async fn an_interrupted_scale_detaches_and_a_no_wait_scale_does_not_wait() {
    let (_dir, spec) = load("");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let interrupt = Interrupt::default();
    sim.interrupt_at(5.0, interrupt.clone());
    let (r, _) = scale_on(&sim, &spec, fgdeploy::engine::ScaleOptions { count: 8, ..Default::default() }, interrupt).await;
    assert_eq!(r.expect_err("interrupted").exit_code(), exit::DETACHED);
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let t0 = fgdeploy::ports::Clock::now(&sim);
    let (r, events) =
        scale_on(&sim, &spec, fgdeploy::engine::ScaleOptions { count: 8, no_wait: true, ..Default::default() }, Interrupt::default()).await;
    assert!(!r.expect("started").steady);
    assert_eq!(finished(&events).0, "started");
    assert!(fgdeploy::ports::Clock::now(&sim) - t0 < 1.0, "returned at once");
}

// ----- exec -----------------------------------------------------------------------------------------

#[tokio::test]
async fn exec_picks_a_running_task_and_its_container_and_says_why_it_cannot() {
    use fgdeploy::engine::{ExecOptions, exec_session};
    let (_dir, spec) = load("");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let o = ExecOptions { command: "/bin/sh".into(), ..Default::default() };
    let h = exec_session(&spec, &sim.ports(), &o).await.expect("a session");
    let task_id = h.task.rsplit('/').next().expect("id").to_string();
    assert!(h.target.starts_with(&format!("ecs:demo_{task_id}_")), "{}", h.target);
    assert_eq!(h.container, "web");
    assert!(!serde_json::to_string(&h).expect("json").contains("sandbox-exec-token"), "the token never serializes");
    let e = exec_session(&spec, &sim.ports(), &ExecOptions { container: Some("sidecar".into()), ..o.clone() })
        .await
        .expect_err("no such container");
    assert!(e.to_string().contains("sidecar") && e.to_string().contains("web"), "{e}");
    let e = exec_session(&spec, &sim.ports(), &ExecOptions { task: Some("nope".into()), ..o.clone() }).await.expect_err("no such task");
    assert!(e.to_string().contains("nope"), "{e}");
    let off = seeded(&spec, Faults { exec_disabled: true, ..Default::default() }).expect("seed");
    let e = exec_session(&spec, &off.ports(), &o).await.expect_err("ECS Exec off");
    assert!(e.to_string().contains("not enabled") && e.to_string().contains("enableExecuteCommand"), "{e}");
    assert_eq!(off.calls().count("ecs:ExecuteCommand"), 0, "no session opened");
}

// ----- verify ---------------------------------------------------------------------------------------

const VERIFY_TEMPLATE: &str = r#"{
  "family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
  "taskRoleArn": "arn:aws:iam::123456789012:role/web-task",
  "executionRoleArn": "arn:aws:iam::123456789012:role/web-exec",
  "containerDefinitions": [{"name": "web", "image": "{{ image }}", "memory": 512, "portMappings": [{"containerPort": 8080}],
    "secrets": [
      {"name": "DB_URL", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/web/db-url"},
      {"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password::"}],
    "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "web"}}},
    {"name": "agent", "image": "ghcr.io/acme/agent:1.4", "memory": 64, "essential": false},
    {"name": "proxy", "image": "999999999999.dkr.ecr.us-east-1.amazonaws.com/shared/proxy:2", "memory": 64, "essential": false},
    {"name": "far", "image": "999999999999.dkr.ecr.eu-west-1.amazonaws.com/x/y:1", "memory": 64, "essential": false},
    {"name": "cache", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/library/redis:7", "memory": 64, "essential": false},
    {"name": "gone", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/acme/gone:1", "memory": 64, "essential": false}]
}"#;

async fn verified_release(faults: Faults, opts: ReleaseOptions) -> Run {
    verified_with(VERIFY_TEMPLATE, faults, opts).await
}

#[tokio::test]
async fn a_release_stops_before_any_change_when_the_account_lacks_what_it_needs() {
    let r = verified_release(Faults::default(), ReleaseOptions::default()).await;
    assert_eq!(r.code(), exit::OK, "everything exists: {}", r.err_text());
    let mut f = Faults::default();
    for missing in [
        "arn:aws:ssm:us-east-1:123456789012:parameter/web/db-url",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
        "/ecs/web",
        "arn:aws:iam::123456789012:role/web-task",
        "subnet-0a51a0000000000b2",
        "ghcr.io/acme/agent:1.4",
        "shared/proxy:2",
        // Not cached yet, but upstream: fine. Neither cached nor upstream: a problem.
        "docker-hub/library/redis:7",
        "docker-hub/acme/gone:1",
        "registry-1.docker.io/acme/gone:1",
    ] {
        f.missing.insert(missing.to_string());
    }
    f.untrusted_roles.insert("arn:aws:iam::123456789012:role/web-exec".into());
    let r = verified_release(f.clone(), ReleaseOptions::default()).await;
    assert_eq!(r.code(), exit::INPUT, "{}", r.err_text());
    assert!(r.mutations().is_empty(), "no change at all: {:?}", r.mutations());
    let text = r.err_text();
    for field in [
        "containerDefinitions[web].secrets[DB_URL].valueFrom",
        "containerDefinitions[web].secrets[DB_PASSWORD].valueFrom",
        "containerDefinitions[web].logConfiguration.options.awslogs-group",
        "taskRoleArn",
        "executionRoleArn",
        "the service's networkConfiguration.subnets",
        "containerDefinitions[agent].image",
        "containerDefinitions[proxy].image",
        "containerDefinitions[gone].image",
    ] {
        assert!(text.contains(field), "names {field}: {text}");
    }
    assert!(text.contains("ecs-tasks.amazonaws.com") && text.contains("subnet-0a51a0000000000b2"), "{text}");
    let Err(Error::Input(e)) = &r.result else { panic!("an input error") };
    assert_eq!(e.clone().flatten().len(), 9, "every problem at once");
    assert!(!text.contains("containerDefinitions[cache]"), "a pull-through image found upstream is no problem: {text}");
    assert!(!text.contains("containerDefinitions[far]"), "an image in another region's ECR is not checked, not a problem: {text}");
    // --skip-verify: the release goes on (and fails later, or not, on its own).
    let r = verified_release(f, ReleaseOptions { skip_verify: true, ..Default::default() }).await;
    assert_ne!(r.code(), exit::INPUT, "{}", r.err_text());
    assert!(!r.mutations().is_empty());
}

/// A CODE_DEPLOY service: the grace period goes by an UpdateService without a task definition
/// (what AWS allows on that controller) before the CodeDeploy deployment, the platform version
/// by that deployment's AppSpec, the tags by TagResource.
#[tokio::test]
async fn bluegreen_carries_the_service_definition_where_code_deploy_allows_it() {
    let extra = "\n[service.definition]\nhealth_check_grace_period_seconds = 120\nplatform_version = \"1.4.0\"\n\n[service.definition.tags]\nteam = \"payments\"\n";
    let r = bluegreen(extra, Faults::default(), 200, None, "STOP_DEPLOYMENT", ReleaseOptions::default(), |_| {}).await;
    assert_eq!(r.run.code(), exit::OK, "{}", r.run.err_text());
    let muts = r.run.mutations();
    let settings_only = muts.iter().position(|m| {
        matches!(m, Mutation::UpdateService { task_definition, settings, .. } if task_definition.is_empty() && settings == &vec!["health_check_grace_period_seconds"])
    });
    let deployment = muts.iter().position(|m| matches!(m, Mutation::CreateDeployment { .. }));
    assert!(settings_only.is_some() && settings_only < deployment, "settings first, then the deployment: {muts:?}");
    assert!(muts.iter().any(|m| matches!(m, Mutation::TagResource { .. })), "{muts:?}");
    assert_eq!(muts.iter().filter(|m| matches!(m, Mutation::UpdateService { .. })).count(), 1, "{muts:?}");
    let svc = r.run.sim.world().describe_service("demo", "web").expect("ok").expect("svc");
    assert_eq!(svc.health_check_grace_period_seconds, Some(120));
}

/// A release image that lives in another registry (GHCR here) is looked up there, through the
/// registry v2 API, not in ECR: found, the build is skipped and its digest known; missing, the
/// plan says the release would stop at the build stage.
#[tokio::test]
async fn a_release_image_in_another_registry_is_looked_up_there() {
    let spec_text = crate::harness::base_spec("demo", "web").replace("repository = \"web\"", "repository = \"ghcr.io/acme/web\"");
    let (_dir, path) = crate::harness::spec_dir_with(&spec_text, crate::harness::TEMPLATE);
    let spec = Spec::load(&path, None).expect("spec");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let live = fgdeploy::engine::observe(&spec, &sim.ports()).await.expect("observe");
    assert_eq!(live.repository_uri, "ghcr.io/acme/web");
    assert!(live.image_digest.as_deref().is_some_and(|d| d.starts_with("sha256:")), "{:?}", live.image_digest);
    assert_eq!(sim.calls().count("registry:HEAD manifest"), 1);
    assert_eq!(sim.calls().count("ecr:BatchGetImage"), 0, "not asked in ECR");
    let p = fgdeploy::plan::build(&spec, &live, &Default::default()).expect("plan");
    assert!(!p.runs(fgdeploy::plan::Stage::Build) && p.image == "ghcr.io/acme/web:v2", "{:?}", p.stage(fgdeploy::plan::Stage::Build));
    let mut f = Faults::default();
    f.missing.insert("ghcr.io/acme/web:v2".into());
    let sim = seeded(&spec, f).expect("seed");
    let live = fgdeploy::engine::observe(&spec, &sim.ports()).await.expect("observe");
    assert_eq!(live.image_digest, None);
    let p = fgdeploy::plan::build(&spec, &live, &Default::default()).expect("plan");
    assert!(format!("{:?}", p.stage(fgdeploy::plan::Stage::Build)).contains("FAILS"), "{:?}", p.stage(fgdeploy::plan::Stage::Build));
}

// ----- issue #23: AWS as it behaves, and other people on the same service ---------------------
// Each test names the item; each failed on the code before the fix (commit 7634f15).

/// Virtual seconds from the first event to the last.
fn elapsed(r: &Run) -> f64 {
    match (r.timed.first(), r.timed.last()) {
        (Some((a, _)), Some((b, _))) => b - a,
        _ => 0.0,
    }
}

/// A CodeDeploy release whose group waits `termination_min` minutes before terminating blue.
async fn bluegreen_waiting(extra: &str, faults: Faults, termination_min: i32, opts: ReleaseOptions) -> BgRun {
    bluegreen(extra, faults, 200, None, "STOP_DEPLOYMENT", opts, |sim| {
        sim.world().set_group_waits("AppECS-demo-web", "DgpECS-demo-web", termination_min, None);
    })
    .await
}

// Item 1: CodeDeploy never sets instanceTerminationWaitTimeStarted for ECS; the target's status
// says the wait began. Before: fgdeploy waited into its 30 m deadline and stopped a release that
// had shifted all traffic with its gate passed (exit 7).
#[tokio::test]
async fn item1_termination_wait_without_the_flag_ends_deployed_without_stop_deployment() {
    let r = bluegreen_waiting("", Faults::default(), 60, ReleaseOptions::default()).await;
    assert_eq!(r.run.code(), exit::OK, "{}", r.run.err_text());
    assert_eq!(r.calls("codedeploy:StopDeployment"), 0);
    assert_eq!(r.max_green(), 100.0);
    let end = elapsed(&r.run);
    assert!(end < 30.0 * 60.0, "ended once the termination wait began, not at the deadline: {end}");
}

// Item 1, --wait-termination: a deadline inside the termination wait is a deployed release.
#[tokio::test]
async fn item1_a_deadline_in_the_termination_wait_is_reported_not_rolled_back() {
    let opts = ReleaseOptions { wait_termination: true, ..Default::default() };
    let r = bluegreen_waiting("", Faults::default(), 60, opts).await;
    assert_eq!(r.run.code(), exit::OK, "{}", r.run.err_text());
    assert_eq!(r.calls("codedeploy:StopDeployment"), 0, "a shifted, gated release is never stopped");
    assert!(r.run.has(|e| matches!(e, Event::Warning { message } if message.contains("blue termination wait"))));
}

// Item 10a: someone rerouted traffic a moment before fgdeploy's ContinueDeployment: the refused
// continue is read again; their shift is theirs (exit 11), never stopped with rollback.
#[tokio::test]
async fn item10_a_refused_continue_after_someone_rerouted_is_exit_11_not_a_rollback() {
    let f = Faults { answered_first: true, ..Faults::default() };
    let r = bluegreen("", f, 200, None, "STOP_DEPLOYMENT", ReleaseOptions::default(), |_| {}).await;
    assert_eq!(r.run.code(), exit::GATE_BYPASSED, "{}", r.run.err_text());
    assert!(r.run.err_text().contains("rerouted outside fgdeploy"), "{}", r.run.err_text());
    assert_eq!(r.calls("codedeploy:StopDeployment"), 0);
}

// Item 10b: rerouted by someone else and already in the termination wait: exit 11 at once.
#[tokio::test]
async fn item10_someone_elses_shift_in_the_termination_wait_is_exit_11_before_the_deadline() {
    let f = Faults { gate_bypassed: true, ..Faults::default() };
    let r = bluegreen_waiting("", f, 60, ReleaseOptions::default()).await;
    assert_eq!(r.run.code(), exit::GATE_BYPASSED, "{}", r.run.err_text());
    assert_eq!(r.calls("codedeploy:StopDeployment"), 0, "their shift is not rolled back");
    let end = elapsed(&r.run);
    assert!(end < 30.0 * 60.0, "reported when the wait began: {end}");
}

// Item 10, ECS-native: someone answered the PAUSE hook while fgdeploy's checks ran.
#[tokio::test]
async fn item10_native_hook_answered_by_someone_else_during_the_checks_is_exit_11() {
    let f = Faults { answered_first: true, ..Faults::default() };
    let (r, _) = native("LINEAR", f, 200).await;
    assert_eq!(r.code(), exit::GATE_BYPASSED, "{}", r.err_text());
    assert!(!r.mutations().iter().any(|m| matches!(m, Mutation::StopServiceDeployment { .. })), "{:?}", r.mutations());
}

// Item 12: after an ambiguous CreateDeployment, a colleague's active deployment of another
// revision is not adopted (before: fgdeploy ran its checks on it and continued it).
#[tokio::test]
async fn item12_a_colleagues_deployment_is_not_adopted_after_a_create_deployment_5xx() {
    let mut f = Faults::default();
    f.server_error.insert("codedeploy:CreateDeployment".into(), 1);
    let opts = ReleaseOptions { force: true, ..Default::default() };
    let r = bluegreen("", f, 200, None, "STOP_DEPLOYMENT", opts, |sim| {
        let mut w = sim.world();
        let theirs = r#"{"version":0.0,"Resources":[{"TargetService":{"Type":"AWS::ECS::Service","Properties":{"TaskDefinition":"arn:aws:ecs:us-east-1:123456789012:task-definition/web:1","LoadBalancerInfo":{"ContainerName":"web","ContainerPort":8080}}}}]}"#;
        let sha = fgdeploy::engine::sha256_hex(theirs);
        w.create_cd_deployment("AppECS-demo-web", "DgpECS-demo-web", None, theirs, &sha).expect("a colleague's deployment");
    })
    .await;
    assert_eq!(r.run.code(), exit::CONFLICT, "{}", r.run.err_text());
    assert!(r.run.err_text().contains("not this release's"), "{}", r.run.err_text());
    assert_eq!(r.calls("codedeploy:ContinueDeployment"), 0, "someone else's deployment was not continued");
    assert_eq!(r.test.requests(), 0, "no checks ran against it");
}

// Item 12, the other side: a CreateDeployment whose answer was lost is ours (same AppSpec).
#[tokio::test]
async fn item12_a_lost_create_deployment_answer_is_adopted_by_its_appspec() {
    let mut f = Faults::default();
    f.lost_responses.insert("codedeploy:CreateDeployment".into(), 1);
    let r = bluegreen("", f, 200, None, "STOP_DEPLOYMENT", ReleaseOptions::default(), |_| {}).await;
    assert_eq!(r.run.code(), exit::OK, "{}", r.run.err_text());
    let creates = r.run.mutations().iter().filter(|m| matches!(m, Mutation::CreateDeployment { .. })).count();
    assert_eq!(creates, 1);
}

// Item 7: without deployment_config, CreateDeployment names none; the group's config applies.
#[tokio::test]
async fn item7_no_deployment_config_lets_the_groups_own_apply() {
    let bg = BG.replace("deployment_config = \"CodeDeployDefault.ECSCanary10Percent5Minutes\"\n", "");
    let (_dir, spec) = load(&format!("{bg}{CHECKS}"));
    let test = LoopbackApp::start(200).expect("test");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    fgdeploy::sandbox::seed_deployment_group(&sim, &spec, test.port, test.port);
    sim.world().set_group_waits("AppECS-demo-web", "DgpECS-demo-web", 5, Some("CodeDeployDefault.ECSLinear10PercentEvery1Minutes"));
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let result = engine.release(&spec, &ReleaseOptions::default()).await;
    let run = Run::new(result, &rec, sim);
    assert_eq!(run.code(), exit::OK, "{}", run.err_text());
    assert!(run.mutations().iter().any(|m| matches!(m, Mutation::CreateDeployment { config: None, .. })), "{:?}", run.mutations());
    assert!(run.has(|e| matches!(e, Event::Traffic { green, .. } if *green > 0.0 && *green < 100.0)), "the group's linear steps");
}

// Item 3: AccessDenied on DescribeServiceDeployments mid-rollout (a hand-written policy): one
// rule, follow the deployment by its id. Before: exit 8 "lost track" after UpdateService.
#[tokio::test]
async fn item3_access_denied_on_the_service_deployment_api_falls_back_to_the_deployment_id() {
    let mut f = Faults::default();
    f.denied.insert("ecs:DescribeServiceDeployments".into());
    let r = release("", f).await;
    assert_eq!(r.code(), exit::OK, "{:?}", r.result.as_ref().err());
    let warnings =
        r.events.iter().filter(|e| matches!(e, Event::Warning { message } if message.contains("service-deployment API"))).count();
    assert_eq!(warnings, 1, "said once");
}

// Item 8: UpdateService's answer names the previous service deployment; fgdeploy checks its
// target revision before trusting it. Before: "replaced", exit 8.
#[tokio::test]
async fn item8_an_answer_naming_the_previous_service_deployment_is_not_trusted() {
    let (_dir, spec) = load("");
    let sim = fgdeploy::sandbox::seeded_with(&spec, Faults { answer_names_previous_sd: true, ..Faults::default() }, true).expect("seed");
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let result = engine.release(&spec, &ReleaseOptions::default()).await;
    let r = Run::new(result, &rec, sim);
    assert_eq!(r.code(), exit::OK, "{:?}", r.result.as_ref().err());
}

// Item 13: MISSING answers from DescribeServices mid-rollout (eventual consistency) are read
// again; before, the first one ended the release with exit 8 and the deployment unwatched.
#[tokio::test]
async fn item13_a_transient_missing_service_is_read_again() {
    // Twice in a row, 10 s into the rollout (observe and UpdateService have read it by then).
    let probe = release("", Faults::default()).await;
    let started = probe.timed.iter().find(|(_, e)| matches!(e, Event::DeploymentStarted { .. })).map(|(t, _)| *t).expect("started");
    let at = started - fgdeploy::sim::EPOCH + 10.0;
    let f = Faults { service_missing_after: Some((at, 2)), ..Faults::default() };
    let r = release("", f).await;
    assert_eq!(r.code(), exit::OK, "{:?}", r.result.as_ref().err());
    assert_eq!(r.sim.world().faults.service_missing_after.map(|(_, n)| n), Some(0), "both MISSING answers were read by the watch");
}

// Item 13: a service-deployment status newer than this build, with DescribeServices COMPLETED.
#[tokio::test]
async fn item13_an_unknown_service_deployment_status_is_resolved_through_describe_services() {
    let f = Faults { sd_success_status: Some("SUCCESSFUL_WITH_WARNINGS".into()), ..Faults::default() };
    let r = release("", f).await;
    assert_eq!(r.code(), exit::OK, "{:?}", r.result.as_ref().err());
    assert!(r.has(|e| matches!(e, Event::Warning { message } if message.contains("SUCCESSFUL_WITH_WARNINGS"))));
}

// Item 13: a DRAINING service is refused before any change; a missing service is exit 3.
#[tokio::test]
async fn item13_a_draining_service_is_refused_before_any_change_and_a_missing_one_is_exit_3() {
    let (_dir, spec) = load("");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    sim.world().set_service_status("demo", "web", fgdeploy::states::ServiceStatus::Draining);
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let e = engine.release(&spec, &ReleaseOptions::default()).await.expect_err("draining");
    assert_eq!(e.exit_code(), exit::INPUT, "{e}");
    assert!(e.to_string().contains("DRAINING"), "{e}");
    assert!(sim.world().mutations.is_empty(), "no revision registered: {:?}", sim.world().mutations);
    let (_dir2, other) = load("");
    let mut other = other;
    other.file.service.name = "nope".into();
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let e = engine.release(&other, &ReleaseOptions::default()).await.expect_err("missing");
    assert_eq!(e.exit_code(), exit::INPUT, "{e}");
}

// Item 4: when the migration container exits, ECS stops the task and its essential sidecar gets
// SIGTERM (143) — the simulator plays that by default. Before: the migration failed.
#[tokio::test]
async fn item4_a_sidecar_stopped_by_sigterm_after_the_migration_does_not_fail_it() {
    let r = migrate_with(Faults::default(), "10m").await;
    assert_eq!(r.code(), exit::OK, "{}", r.err_text());
    let codes = r.events.iter().find_map(|e| match e {
        Event::TaskStopped { exit_codes, .. } => Some(exit_codes.clone()),
        _ => None,
    });
    assert!(codes.expect("task stopped").contains(&("log-router".to_string(), Some(143))), "the sidecar exited 143");
}

// Item 4, the other side: a sidecar that ended on its own (another code) is still a failure.
#[tokio::test]
async fn item4_a_sidecar_that_died_on_its_own_fails_the_migration() {
    let f = Faults { task_exit: [("log-router".to_string(), 1)].into(), ..Default::default() };
    let r = migrate_with(f, "10m").await;
    r.assert_gate_held();
    assert!(r.err_text().contains("log-router=1"), "{}", r.err_text());
}

// Item 11: RunTask capacity failures are retried inside migration.timeout. Before: 20+40+80+160 s
// of retries before the deadline was even computed (a 1 m timeout took over 5 minutes).
#[tokio::test]
async fn item11_capacity_retries_stay_inside_the_migration_deadline() {
    let f = Faults { run_capacity_failures: 100, ..Default::default() };
    let r = migrate_with(f, "1m").await;
    r.assert_gate_held();
    assert!(r.err_text().contains("before its deadline"), "{}", r.err_text());
    assert!(elapsed(&r) <= 61.0, "ended within the minute: {}", elapsed(&r));
}

// Item 11: Ctrl-C during the capacity back-off ends it at once; no RunTask after the interrupt.
#[tokio::test]
async fn item11_no_run_task_after_an_interrupt_during_the_capacity_backoff() {
    let spec_text =
        format!("{}\n[migration]\ncommand = [\"bin/migrate\", \"up\"]\ntimeout = \"30m\"\n", crate::harness::base_spec("demo", "web"));
    let (_dir, path) = crate::harness::spec_dir_with(&spec_text, MIGRATION_TEMPLATE);
    let spec = Spec::load(&path, None).expect("spec");
    let sim = seeded(&spec, Faults { run_capacity_failures: 100, ..Default::default() }).expect("seed");
    let interrupt = Interrupt::default();
    sim.interrupt_at(30.0, interrupt.clone());
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), interrupt);
    let result = engine.release(&spec, &ReleaseOptions::default()).await;
    let r = Run::new(result, &rec, sim);
    assert_eq!(r.code(), exit::MIGRATION_FAILED, "{}", r.err_text());
    assert!(r.err_text().contains("interrupted"), "{}", r.err_text());
    let calls = r.sim.calls().count("ecs:RunTask");
    assert!(calls <= 2, "RunTask at 0 s and after the 20 s back-off, none after the interrupt at 30 s: {calls}");
    // The simulator's clock moves a whole sleep at once, so the wake-up shows as "long before
    // the 30 m deadline and the next back-off", not at the second.
    assert!(elapsed(&r) < 120.0, "ended at the interrupt, not at the deadline: {}", elapsed(&r));
}

// Item 2: a native release keeps the service's deployment configuration (percentages, circuit
// breaker, alarms, the team's hooks), answers only its own PAUSE hook, and removes it after.
// Before: UpdateService sent only the strategy and fgdeploy's hook, and native_hook answered the
// team's approval hooks at every linear step.
#[tokio::test]
async fn item2_a_native_release_keeps_the_teams_configuration_and_hooks_and_leaves_none_of_its_own() {
    let test = LoopbackApp::start(200).expect("test traffic");
    let extra = format!(
        "\n[deploy]\nstrategy = \"blue-green\"\ntimeout = \"60m\"\n[deploy.blue_green]\ncontainer_port = 8080\necs_strategy = \"LINEAR\"\nbake_time_minutes = 1\nlinear_step_percent = 25\nlinear_step_bake_minutes = 2\ntest_url = \"http://127.0.0.1:{}\"\ncheck_budget = \"1m\"\n{CHECKS}",
        test.port
    );
    let (_dir, spec) = load(&extra);
    let sim = seeded(&spec, Faults { person_answers_after: Some(60.0), ..Faults::default() }).expect("seed");
    fgdeploy::sandbox::seed_team_hooks(&sim, &spec);
    let before = sim.world().deployment_config("demo", "web").expect("service");
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let result = engine.release(&spec, &ReleaseOptions::default()).await;
    let r = Run::new(result, &rec, sim);
    assert_eq!(r.code(), exit::OK, "{}", r.err_text());
    let after = r.sim.world().deployment_config("demo", "web").expect("service");
    assert_eq!(after.circuit_breaker, before.circuit_breaker);
    assert_eq!(after.alarms, before.alarms);
    assert_eq!((after.minimum_healthy_percent, after.maximum_percent), (Some(50), Some(200)));
    assert_eq!(after.lifecycle_hooks, before.lifecycle_hooks, "the team's hooks, exactly, and none of fgdeploy's");
    let ours = r.mutations().iter().filter(|m| matches!(m, Mutation::ContinueServiceDeployment { .. })).count();
    assert_eq!(ours, 1, "fgdeploy answered its own gate only");
    assert!(r.sim.world().person_answers() >= 3, "the person answered the team's approval at each later step");
}

// Item 2: a team PAUSE hook where fgdeploy's gate would pause is refused before any change.
#[tokio::test]
async fn item2_a_team_pause_hook_at_the_gate_stage_is_refused_before_any_change() {
    let test = LoopbackApp::start(200).expect("test traffic");
    let extra = format!(
        "\n[deploy]\nstrategy = \"blue-green\"\n[deploy.blue_green]\ncontainer_port = 8080\necs_strategy = \"CANARY\"\ntest_url = \"http://127.0.0.1:{}\"\n{CHECKS}",
        test.port
    );
    let (_dir, spec) = load(&extra);
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let hook = fgdeploy::ports::LifecycleHook {
        target_type: fgdeploy::states::HookTargetType::Pause,
        stages: vec![fgdeploy::states::LifecycleStage::PostTestTrafficShift],
        ..Default::default()
    };
    sim.world().set_deployment_config(
        "demo",
        "web",
        fgdeploy::ports::DeploymentConfig { lifecycle_hooks: vec![hook], ..Default::default() },
    );
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let e = engine.release(&spec, &ReleaseOptions::default()).await.expect_err("refused");
    assert_eq!(e.exit_code(), exit::INPUT, "{e}");
    assert!(sim.world().mutations.is_empty(), "{:?}", sim.world().mutations);
}

/// A release checked by `verify` with `template` (a variant of the verify template).
async fn verified_with(template: &str, faults: Faults, opts: ReleaseOptions) -> Run {
    let (_dir, path) = crate::harness::spec_dir_with(&crate::harness::base_spec("demo", "web"), template);
    let spec = Spec::load(&path, None).expect("spec");
    let sim = seeded(&spec, faults).expect("seed");
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let result = engine.release(&spec, &opts).await;
    Run::new(result, &rec, sim)
}

// Item 9: a container's awslogs-region is where its log group must exist. Before: the group was
// looked for in the service's region, refusing a valid release.
#[tokio::test]
async fn item9_log_groups_are_checked_in_each_containers_awslogs_region() {
    let template = VERIFY_TEMPLATE.replace("\"awslogs-region\": \"us-east-1\"", "\"awslogs-region\": \"eu-west-1\"");
    let here_only = Faults { missing: ["/ecs/web".to_string()].into(), ..Faults::default() };
    let r = verified_with(&template, here_only, ReleaseOptions::default()).await;
    assert_eq!(r.code(), exit::OK, "the group exists in eu-west-1: {}", r.err_text());
    let there = Faults { missing: ["eu-west-1:/ecs/web".to_string()].into(), ..Faults::default() };
    let r = verified_with(&template, there, ReleaseOptions::default()).await;
    assert_eq!(r.code(), exit::INPUT, "{}", r.err_text());
    assert!(r.err_text().contains("log group /ecs/web in eu-west-1"), "{}", r.err_text());
}

// Item 9: a Secrets Manager ARN of another partition is a secret, not an SSM parameter.
#[tokio::test]
async fn item9_secret_arns_of_every_partition_are_looked_up_as_secrets() {
    let cn = "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:db-AbCdEf";
    let template = VERIFY_TEMPLATE.replace("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf", cn);
    let r = verified_with(&template, Faults { missing: [cn.to_string()].into(), ..Faults::default() }, ReleaseOptions::default()).await;
    assert_eq!(r.code(), exit::INPUT, "{}", r.err_text());
    assert!(r.err_text().contains(&format!("secret {cn}")), "{}", r.err_text());
    assert_eq!(r.sim.calls().count("secretsmanager:DescribeSecret"), 1);
}

// #24: `status` shows a live tag holding a credential as `(redacted)` (it printed the value).
#[tokio::test]
async fn status_redacts_a_live_tag_holding_a_credential() {
    let (_dir, spec) = load("");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let arn = sim.world().describe_service("demo", "web").expect("ok").expect("svc").arn;
    let token = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
    let tags = [("api".to_string(), token.to_string()), ("team".to_string(), "payments".to_string())].into();
    sim.world().tag_service(&arn, &tags).expect("tagged");
    let report = fgdeploy::engine::status(&spec, &sim.ports()).await.expect("status");
    assert_eq!(report.service.tags["api"], "(redacted)");
    assert_eq!(report.service.tags["team"], "payments");
    assert!(!serde_json::to_string(&report).expect("json").contains(token));
}

/// #26: `status --why` reads the report of the latest failed deployment afterwards, from what
/// AWS keeps: ECS's event names the deployment, its stopped tasks say why; a service whose latest
/// deployment succeeded says so instead of inventing a cause.
#[tokio::test]
async fn status_why_explains_the_latest_failed_deployment_afterwards() {
    let (_dir, spec) = load("");
    let sim = seeded(&spec, Faults { fail_start: [marker()].into(), ..Default::default() }).expect("seed");
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let released = engine.release(&spec, &ReleaseOptions::default()).await;
    assert!(released.is_err(), "the release fails");
    let before = sim.calls().total();
    let why = fgdeploy::engine::report::why(&spec, &sim.ports()).await.expect("report");
    let cause = serde_json::to_value(&why.diagnosis.cause).expect("json");
    assert_eq!(cause["class"], "image_pull", "{why:?}");
    assert!(why.diagnosis.summary.contains("does not exist"), "{}", why.diagnosis.summary);
    assert!(!why.evidence.stopped_tasks.is_empty() && why.deployment.starts_with("ecs-svc/"), "{why:?}");
    let made = sim.calls().total() - before;
    assert!(
        made as usize == why.evidence.calls && made as usize <= fgdeploy::engine::report::MAX_CALLS,
        "bounded and counted: {made} calls, {} counted",
        why.evidence.calls
    );

    let (_dir, spec) = load("");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let why = fgdeploy::engine::report::why(&spec, &sim.ports()).await.expect("report");
    assert!(why.evidence.stopped_tasks.is_empty(), "{why:?}");
    assert!(why.diagnosis.summary.contains("did not fail"), "{}", why.diagnosis.summary);
    assert_eq!(serde_json::to_value(&why.diagnosis.cause).expect("json")["class"], "no_failure");
}
