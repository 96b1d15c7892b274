//! #27: the lease per service, on the simulator (virtual time): two runs of one service never
//! deploy at once; a live holder makes the next run wait and then give up with exit 12 naming
//! it; a dead run's lease is taken over when it expires, and its journal is shown; a missing
//! bucket or a refused access is exit 4 before any change. The primitive's compare-and-swap is
//! shown on moto (`moto::the_lease_is_compare_and_swap_on_the_wire`).

use crate::harness::spec_dir;
use fgdeploy::engine::lease::record::{Holder, Journal, LeaseRecord};
use fgdeploy::engine::{Engine, Event, Interrupt, LeaseState, LockOptions, Recorder, ReleaseOptions};
use fgdeploy::error::exit;
use fgdeploy::sandbox::seeded;
use fgdeploy::sim::{Faults, Mutation, Sim};
use fgdeploy::spec::Spec;
use std::sync::Arc;
use std::time::Duration;

const LOCK: &str = "\n[lock]\nbucket = \"acme-deploy-locks\"\nttl = \"2m\"\nwait = \"10m\"\n";
const KEY: &str = "fgdeploy/locks/demo/web.json";

fn load(extra: &str) -> (tempfile::TempDir, Spec) {
    let (dir, path) = spec_dir(extra);
    (dir, Spec::load(&path, None).expect("spec loads"))
}

/// Someone else's lease on the service, written as its run left it.
async fn someone_holds(sim: &Sim, expires_in: f64) {
    let now = sim.ports().clock.now();
    let record = LeaseRecord {
        service: "demo/web".into(),
        holder: Holder {
            command: "release".into(),
            commit: Some("0123456789abcdef0123".into()),
            run_id: Some("4242".into()),
            ci_url: Some("https://github.com/acme/web/actions/runs/4242".into()),
            host: "runner-7".into(),
            user: "runner".into(),
            pid: 77,
        },
        phase: "deploy".into(),
        started: now - 300.0,
        renewed: now - 10.0,
        expires: now + expires_in,
        released: None,
        journal: Journal { revision: Some("arn:aws:ecs:us-east-1:123456789012:task-definition/web:2".into()), ..Default::default() },
        write: "77-0".into(),
    };
    let body = serde_json::to_vec(&record).expect("json");
    sim.ports().leases.create("acme-deploy-locks", KEY, &body).await.expect("put").expect("created");
}

async fn record(sim: &Sim) -> LeaseRecord {
    let stored = sim.ports().leases.read("acme-deploy-locks", KEY).await.expect("read").expect("a lease");
    serde_json::from_slice(&stored.body).expect("a lease record")
}

fn updates(sim: &Sim) -> Vec<f64> {
    sim.world().mutations.iter().filter(|(_, m)| matches!(m, Mutation::UpdateService { foreign: false, .. })).map(|(t, _)| *t).collect()
}

/// Two `release` runs of one service started together: one takes the lease and deploys; the
/// other waits for it (saying who holds it), then finds the service already serving its
/// revision and changes nothing. Never two deployments at once; no lease left behind.
#[tokio::test]
async fn two_releases_of_one_service_never_deploy_at_once() {
    let (_dir, spec) = load(LOCK);
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let clock = sim.ports().clock;
    let run = |rec: Arc<Recorder>| {
        let (sim, spec, clock) = (sim.clone(), spec.clone(), clock.clone());
        async move {
            let mut engine = Engine::new(sim.ports(), rec, Interrupt::default());
            let r = engine.release(&spec, &ReleaseOptions::default()).await;
            clock.leave();
            r
        }
    };
    let (a, b) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    clock.join();
    clock.join();
    let (ra, rb) = tokio::join!(run(a.clone()), run(b.clone()));
    let outcomes = [ra.expect("first").outcome, rb.expect("second").outcome];
    assert!(outcomes.contains(&"deployed") && outcomes.contains(&"unchanged"), "one deploys, the other has nothing left: {outcomes:?}");
    let waited = [a, b].iter().any(|r| {
        r.events().iter().any(|e| matches!(e, Event::Info { message } if message.starts_with("waiting for the lease of demo/web: held by `fgdeploy release`")))
    });
    assert!(waited, "the second run said whose lease it waited for");
    assert_eq!(updates(&sim).len(), 1, "one deployment");
    let r = record(&sim).await;
    assert_eq!(r.state(sim.ports().clock.now()), LeaseState::Released, "no lease left behind: {r:?}");
}

/// A live holder: the run waits `--lock-timeout`, then exits 12 naming the holder, having
/// changed nothing. A dead run's lease (it stopped renewing): the run waits until it expires,
/// takes it over (compare-and-swap), says what the dead run had done, and releases.
#[tokio::test]
async fn a_held_lease_is_waited_for_and_an_expired_one_taken_over() {
    let (_dir, spec) = load(LOCK);
    let sim = seeded(&spec, Faults::default()).expect("seed");
    someone_holds(&sim, 3600.0).await;
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let opts = ReleaseOptions { lock: LockOptions { skip: false, timeout: Some(Duration::from_secs(60)) }, ..Default::default() };
    let t0 = sim.ports().clock.now();
    let err = engine.release(&spec, &opts).await.expect_err("gave up");
    assert_eq!(err.exit_code(), exit::LOCKED, "{err}");
    let text = err.to_string();
    assert!(text.contains("after --lock-timeout") && text.contains("https://github.com/acme/web/actions/runs/4242"), "{text}");
    assert!(sim.ports().clock.now() - t0 >= 60.0, "it waited the timeout");
    assert!(sim.world().mutations.is_empty(), "nothing changed: {:?}", sim.world().mutations);
    assert_eq!(record(&sim).await.holder.pid, 77, "the holder's lease is untouched");

    let (_dir, spec) = load(LOCK);
    let sim = seeded(&spec, Faults::default()).expect("seed");
    someone_holds(&sim, 90.0).await;
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let t0 = sim.ports().clock.now();
    let report = engine.release(&spec, &ReleaseOptions::default()).await.expect("released after the takeover");
    assert_eq!(report.outcome, "deployed");
    let first_update = updates(&sim)[0];
    assert!(first_update >= t0 + 90.0, "nothing was changed before the dead run's lease expired");
    let took_over = rec.events().into_iter().find_map(|e| match e {
        Event::Warning { message } if message.starts_with("took over the expired lease") => Some(message),
        _ => None,
    });
    let took_over = took_over.expect("the takeover is said");
    assert!(took_over.contains("phase deploy") && took_over.contains("task-definition/web:2"), "{took_over}");
    let r = record(&sim).await;
    assert_eq!((r.state(sim.ports().clock.now()), r.journal.outcome.as_deref()), (LeaseState::Released, Some("deployed")));
    assert!(
        r.journal.revision.is_some() && r.journal.deployment.as_deref().is_some_and(|d| d.starts_with("ecs-svc/")),
        "the journal: {r:?}"
    );
    assert_eq!(r.holder.pid, std::process::id(), "this run's record replaced the dead run's");
}

/// The lease's bucket missing, or S3 refusing fgdeploy: exit 4 before any change, naming the
/// lease and the fix. `--no-lock` releases without it.
#[tokio::test]
async fn a_missing_bucket_or_denied_access_stops_before_any_change() {
    let cases = [
        (
            Faults { missing: ["s3://acme-deploy-locks".to_string()].into(), ..Default::default() },
            "create the bucket named in [lock] bucket",
        ),
        (Faults { denied: ["s3:PutObject".to_string()].into(), ..Default::default() }, "allow s3:GetObject and s3:PutObject"),
    ];
    for (faults, fix) in cases {
        let (_dir, spec) = load(LOCK);
        let sim = seeded(&spec, faults.clone()).expect("seed");
        let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
        let err = engine.release(&spec, &ReleaseOptions::default()).await.expect_err("refused");
        assert_eq!(err.exit_code(), exit::AWS, "{err}");
        assert!(err.to_string().contains(fix) && err.to_string().contains(KEY), "{err}");
        assert!(sim.world().mutations.is_empty(), "nothing changed");
        assert_eq!(sim.calls().count("ecs:DescribeServices"), 0, "the lease comes first");
        let sim = seeded(&spec, faults).expect("seed");
        let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
        let opts = ReleaseOptions { lock: LockOptions { skip: true, timeout: None }, ..Default::default() };
        assert_eq!(engine.release(&spec, &opts).await.expect("--no-lock").outcome, "deployed");
    }
}

/// `rollback` and `scale` take the lease too, and give it back.
#[tokio::test]
async fn rollback_and_scale_take_and_give_back_the_lease() {
    let (_dir, spec) = load(LOCK);
    let sim = fgdeploy::sandbox::seeded_with(&spec, Faults::default(), true).expect("seed");
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    engine.rollback_command(&spec, &fgdeploy::engine::RollbackOptions::default()).await.expect("rollback");
    let r = record(&sim).await;
    assert_eq!((r.holder.command.as_str(), r.state(sim.ports().clock.now())), ("rollback", LeaseState::Released));
    let o = fgdeploy::engine::ScaleOptions { count: 3, ..Default::default() };
    engine.scale_command(&spec, &o).await.expect("scale");
    let r = record(&sim).await;
    assert_eq!((r.holder.command.as_str(), r.journal.outcome.as_deref()), ("scale", Some("scaled")));
}

// ----- a dead runner, then a re-run ---------------------------------------------------------------

/// A git checkout with one commit in `dir` (the lease records the commit; a re-run of the same
/// commit resumes).
fn commit(dir: &std::path::Path, message: &str) {
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
            .args(args)
            .output()
            .expect("git")
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    if !dir.join(".git").exists() {
        git(&["init", "-q"]);
    }
    git(&["commit", "-q", "--allow-empty", "-m", message]);
}

fn count(sim: &Sim, what: &str) -> usize {
    sim.world().mutations.iter().filter(|(_, m)| m.to_string().starts_with(what)).count()
}

/// The runner dies at `hang` (its calls stop being answered; the run is dropped as SIGKILL would
/// leave it: no clean-up, its lease unreleased), then the same release runs again.
async fn killed_then_rerun(
    extra: &str,
    hang: (&str, u32),
    recommit: bool,
) -> (Sim, Result<fgdeploy::engine::ReleaseReport, fgdeploy::error::Error>, Vec<Event>) {
    let (dir, spec) = load(&format!("{LOCK}{extra}"));
    commit(dir.path(), "first");
    let spec = Spec::load(&spec.path, None).expect("spec");
    let sim = seeded(&spec, Faults { hang_after: Some((hang.0.to_string(), hang.1)), ..Default::default() }).expect("seed");
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let killed = tokio::time::timeout(Duration::from_millis(500), engine.release(&spec, &ReleaseOptions::default())).await;
    assert!(killed.is_err(), "the run died at {hang:?}: {killed:?}");
    drop(engine);
    sim.revive();
    assert_eq!(record(&sim).await.state(sim.ports().clock.now()), LeaseState::Held, "the dead run's lease stays");
    if recommit {
        commit(dir.path(), "second");
    }
    let spec = Spec::load(&spec.path, None).expect("spec");
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let result = engine.release(&spec, &ReleaseOptions::default()).await;
    let r = record(&sim).await;
    assert_eq!(r.state(sim.ports().clock.now()), LeaseState::Released, "no lease left behind: {r:?}");
    (sim, result, rec.events())
}

fn said(events: &[Event], text: &str) -> bool {
    events.iter().any(|e| matches!(e, Event::Info { message } | Event::Warning { message } if message.contains(text)))
}

/// Killed mid-rollout (right after its UpdateService): the re-run of the same commit waits for
/// the dead run's lease to expire, re-attaches to *its* deployment and follows it to the end:
/// one deployment, one new revision.
#[tokio::test]
async fn a_release_killed_mid_rollout_is_resumed_not_repeated() {
    let (sim, result, events) = killed_then_rerun("", ("ecs:UpdateService", 1), false).await;
    assert_eq!(result.expect("resumed").outcome, "deployed");
    assert!(said(&events, "resuming the release killed at phase") && said(&events, "re-attached to its deployment ecs-svc/"), "{events:?}");
    assert_eq!(count(&sim, "UpdateService"), 1, "one deployment");
    assert_eq!(count(&sim, "RegisterTaskDefinition"), 1, "one new revision");
    assert!(sim.world().serving("demo", "web").expect("svc").0.ends_with("web:2"));
}

/// Killed after registering, before its UpdateService: the re-run deploys the revision the dead
/// run registered and registers nothing new.
#[tokio::test]
async fn a_release_killed_after_register_deploys_its_revision() {
    let (sim, result, events) = killed_then_rerun("", ("ecs:UpdateService", 0), false).await;
    assert_eq!(result.expect("resumed").outcome, "deployed");
    assert!(said(&events, "deploying the revision it registered"), "{events:?}");
    assert_eq!((count(&sim, "RegisterTaskDefinition"), count(&sim, "UpdateService")), (1, 1));
}

/// Killed during its migration (RunTask answered): the re-run reads that task's verdict instead
/// of running the migration twice, then deploys: one migration run, one revision, one deployment.
#[tokio::test]
async fn a_release_killed_during_its_migration_never_runs_it_twice() {
    let migration = "\n[migration]\ncommand = [\"bin/migrate\", \"up\"]\ntimeout = \"30m\"\n";
    let (sim, result, events) = killed_then_rerun(migration, ("ecs:RunTask", 1), false).await;
    assert_eq!(result.expect("resumed").outcome, "deployed");
    let passed =
        events.iter().any(|e| matches!(e, Event::StageSkipped { reason, .. } if reason.contains("the killed run's migration task")));
    assert!(passed, "{events:?}");
    assert_eq!((count(&sim, "RunTask"), count(&sim, "RegisterTaskDefinition"), count(&sim, "UpdateService")), (1, 1, 1));
}

/// Another commit finds the dead run's release unfinished: by default (`on_stale =
/// "wait-for-it"`) it follows that deployment to its end without rolling it back, then
/// releases (here: nothing left to change).
#[tokio::test]
async fn another_commit_waits_for_the_dead_runs_deployment_first() {
    let (sim, result, events) = killed_then_rerun("", ("ecs:UpdateService", 1), true).await;
    assert!(said(&events, "following its deployment ecs-svc/"), "{events:?}");
    assert!(said(&events, "did not finish (it stopped at phase"), "{events:?}");
    assert_eq!(result.expect("released").outcome, "unchanged");
    assert_eq!(count(&sim, "UpdateService"), 1);
}

// ----- real processes, SIGKILL, a persistent sandbox ----------------------------------------------

/// A checkout with one commit: `deployspecs/<name>.toml` (with `[lock]`) and its template, and
/// the example image's build context.
fn checkout(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("dir");
    let specs = dir.path().join("deployspecs");
    std::fs::create_dir_all(&specs).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("examples/web")).expect("mkdir");
    for f in std::fs::read_dir(root.join("examples/web")).expect("examples/web").flatten() {
        std::fs::copy(f.path(), dir.path().join("examples/web").join(f.file_name())).expect("copy");
    }
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let text = std::fs::read_to_string(root.join(format!("deployspecs/{name}.toml")))
        .expect("spec")
        .replace("127.0.0.1:8443", &format!("127.0.0.1:{free}"))
        + LOCK;
    std::fs::write(specs.join(format!("{name}.toml")), text).expect("write");
    for template in ["example.taskdef.json", "migration.taskdef.json"] {
        std::fs::copy(root.join("deployspecs").join(template), specs.join(template)).expect("template");
    }
    commit(dir.path(), "release");
    let path = specs.join(format!("{name}.toml"));
    (dir, path)
}

/// `fgdeploy release` of `spec` on the sandbox saved in `state`.
fn release_cmd(spec: &std::path::Path, state: &std::path::Path, pace: &str) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_fgdeploy"));
    c.args(["release", "--sandbox", "--image-tag", "v2", "--sandbox-pace", pace, "-f"]).arg(spec).arg("--sandbox-state").arg(state);
    c.env("NO_COLOR", "1").env_remove("GITHUB_ACTIONS").env_remove("GITHUB_STEP_SUMMARY").env_remove("GITHUB_RUN_ID");
    c
}

/// The saved account's mutations of one kind: an `UpdateService` counts when fgdeploy (not a
/// colleague) made it with a task definition — a deployment, not the ECS-native hook's removal.
fn saved_count(state: &serde_json::Value, kind: &str) -> usize {
    let all = state["mutations"].as_array().expect("mutations");
    let counts = |v: &serde_json::Value| v.get("foreign").is_none_or(|f| f == false) && v.get("task_definition").is_none_or(|t| t != "");
    all.iter().filter(|m| m[1].get(kind).is_some_and(counts)).count()
}

/// #27 acceptance: `release` as a real OS process, SIGKILLed at a phase (at the ECS-native test
/// gate, during the build, the migration, after register, mid-rollout) against a persistent
/// sandbox; the next process
/// completes the release with exactly one deployment, one migration run and one new revision,
/// and leaves no lease behind.
#[test]
fn a_release_process_killed_at_any_phase_is_completed_by_the_next() {
    use std::io::BufRead;
    let cases = [
        ("native", "paused at POST_TEST_TRAFFIC_SHIFT", false),
        ("example", "▶ build", false),
        ("migration", "RUNNING", true),
        ("example", "registered revision", false),
        ("example", "new 0/", false),
    ];
    for (name, marker, migrates) in cases {
        let (dir, spec) = checkout(name);
        let state = dir.path().join("account.json");
        let mut child = release_cmd(&spec, &state, "40")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let mut seen = Vec::new();
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let hit = line.contains(marker);
            seen.push(line);
            if hit {
                break;
            }
        }
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        assert!(!status.success(), "{name}/{marker}: killed, not finished:\n{}", seen.join("\n"));
        assert!(seen.iter().any(|l| l.contains(marker)), "{name}: never reached {marker}:\n{}", seen.join("\n"));
        let out = release_cmd(&spec, &state, "0").output().expect("re-run");
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{name}/{marker}: the re-run completes:\n{text}");
        assert!(text.contains("took over the expired lease"), "{name}/{marker}: {text}");
        let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).expect("state")).expect("json");
        assert_eq!(saved_count(&saved, "UpdateService"), 1, "{name}/{marker}: one deployment\n{text}");
        assert_eq!(saved_count(&saved, "RegisterTaskDefinition"), 1, "{name}/{marker}: one new revision\n{text}");
        assert_eq!(saved_count(&saved, "RunTask"), usize::from(migrates), "{name}/{marker}: one migration run\n{text}");
        if name == "native" {
            // At the gate: the re-run checked the test traffic and answered the hook once.
            assert_eq!(saved_count(&saved, "ContinueServiceDeployment"), 1, "{name}/{marker}: one answer at the gate\n{text}");
        }
        let objects = saved["objects"].as_array().expect("objects");
        let lease = objects.iter().find(|o| o[0][1].as_str().is_some_and(|k| k.ends_with(".json"))).expect("the lease");
        let body: Vec<u8> = serde_json::from_value(lease[1][0].clone()).expect("bytes");
        let record: LeaseRecord = serde_json::from_slice(&body).expect("record");
        assert_eq!(record.journal.outcome.as_deref(), Some("deployed"), "{name}/{marker}: {record:?}");
        assert!(record.released.is_some(), "{name}/{marker}: no lease left behind");
        if name == "native" {
            assert!(
                record.journal.gate.is_some() && record.journal.deployment.is_some(),
                "{name}: the gate's state, the deployment: {record:?}"
            );
        }
    }
}

/// #29: killed at the canary step's first judgement (traffic already on green), the resumed
/// release reads green's target group from the dead run's journal — the listener rule is
/// mid-shift and cannot say which is which — and goes on judging the held step: a doubled
/// error rate is rolled back, not released unjudged.
#[tokio::test]
async fn a_canary_killed_mid_shift_is_judged_by_the_resumed_release() {
    let canary = "[deploy]\nstrategy = \"blue-green\"\ntimeout = \"1h\"\n[deploy.blue_green]\necs_strategy = \"CANARY\"\ncanary_percent = 25\ncanary_bake_minutes = 10\nbake_time_minutes = 1\ncontainer_port = 8080\nalternate_target_group_arn = \"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-green/73e2d6bc24d8a067\"\nproduction_listener_rule = \"arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee\"\nload_balancer_role_arn = \"arn:aws:iam::123456789012:role/lb\"\n[analysis]\nmax_extension = \"15m\"\n[[analysis.metrics]]\nmetric = \"5xx-rate\"\n";
    let (dir, spec) = load(&format!("{LOCK}{canary}"));
    commit(dir.path(), "first");
    let spec = Spec::load(&spec.path, None).expect("spec");
    let traffic = fgdeploy::sim::Traffic { green_error_factor: 2.0, ..Default::default() };
    let faults = Faults { hang_after: Some(("cloudwatch:GetMetricData".into(), 0)), traffic, ..Default::default() };
    let sim = seeded(&spec, faults).expect("seed");
    let mut engine = Engine::new(sim.ports(), Arc::new(Recorder::default()), Interrupt::default());
    let killed = tokio::time::timeout(Duration::from_millis(500), engine.release(&spec, &ReleaseOptions::default())).await;
    assert!(killed.is_err(), "the run died at its first judgement: {killed:?}");
    drop(engine);
    sim.revive();
    let journal = record(&sim).await.journal;
    assert!(journal.canary_green.as_deref().is_some_and(|g| g.ends_with("targetgroup/web-green/73e2d6bc24d8a067")), "{journal:?}");
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let result = engine.release(&spec, &ReleaseOptions::default()).await;
    let events = rec.events();
    assert!(said(&events, "re-attached to its deployment"), "{events:?}");
    assert!(!said(&events, "cannot tell green from blue"), "the journal said which is green");
    let failed = events.iter().any(|e| matches!(e, Event::StepJudged { verdict: fgdeploy::analysis::Verdict::Fail, .. }));
    assert!(failed, "judged by the resumed run: {events:?}");
    match result {
        Err(fgdeploy::error::Error::RolledBack { reason, .. }) => assert!(reason.contains("canary analysis failed at step 1"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(count(&sim, "UpdateService"), 2, "the release's deployment, then fgdeploy's hook removed; no second deployment");
}
