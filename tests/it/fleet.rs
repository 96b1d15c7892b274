//! Fleet releases on the simulator: one shared build, migrations in `depends_on` order,
//! parallel deployments on one virtual time line, and the failure policies.

use crate::harness::TEMPLATE;
use fgdeploy::engine::{FleetPolicy, FleetReport, Interrupt, Recorder, ReleaseOptions, release_fleet};
use fgdeploy::error::exit;
use fgdeploy::sandbox::seeded_fleet;
use fgdeploy::sim::{Faults, Mutation, Sim};
use fgdeploy::spec::Spec;
use std::sync::Arc;

/// Services `names` in one folder, each its own family, all on repository `app`; `tags` per
/// service, `extra` appended to each deployspec.
fn specs(dir: &std::path::Path, names: &[(&str, &str, &str)]) -> Vec<Spec> {
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\n").expect("dockerfile");
    names
        .iter()
        .map(|(name, tag, extra)| {
            std::fs::write(dir.join(format!("{name}.taskdef.json")), TEMPLATE.replace("\"family\": \"web\"", &format!("\"family\": \"{name}\""))).expect("template");
            let text = format!(
                "[service]\ncluster = \"demo\"\nname = \"{name}\"\ndesired_count = 2\n{extra}\n[image]\nrepository = \"app\"\ntag = \"{tag}\"\n[build]\ncontext = \".\"\n[task_definition]\ntemplate = \"{name}.taskdef.json\"\ncontainer = \"web\"\n[migration]\ncommand = [\"migrate\", \"{name}\"]\n"
            );
            let path = dir.join(format!("{name}.toml"));
            std::fs::write(&path, text).expect("spec");
            Spec::load(&path, None).expect("spec loads")
        })
        .collect()
}

async fn fleet(specs: &[Spec], faults: Faults, policy: FleetPolicy) -> (FleetReport, Sim) {
    let sim = seeded_fleet(specs, faults).expect("seed");
    let report =
        release_fleet(&sim.ports(), Arc::new(Recorder::default()), &Interrupt::default(), specs, &ReleaseOptions::default(), 4, policy)
            .await
            .expect("fleet");
    (report, sim)
}

fn outcome<'a>(r: &'a FleetReport, service: &str) -> &'a str {
    r.outcomes.iter().find(|o| o.service == service).map(|o| o.outcome.as_str()).unwrap_or("missing")
}

fn serving(sim: &Sim, service: &str) -> String {
    sim.world().describe_service("demo", service).expect("ok").expect("svc").task_definition
}

#[tokio::test]
async fn a_fleet_builds_once_migrates_in_order_and_deploys_in_parallel() {
    let dir = tempfile::tempdir().expect("dir");
    let s = specs(dir.path(), &[("worker", "v2", "depends_on = [\"api\"]"), ("api", "v2", ""), ("web", "v2", "")]);
    let (r, sim) = fleet(&s, Faults::default(), FleetPolicy::Independent).await;
    assert_eq!(r.exit_code, exit::OK, "{:?}", r.outcomes);
    for svc in ["api", "web", "worker"] {
        assert_eq!(outcome(&r, svc), "deployed");
        assert!(serving(&sim, svc).ends_with(&format!("{svc}:2")), "{svc}: {}", serving(&sim, svc));
    }
    let m: Vec<Mutation> = sim.world().mutations.iter().map(|(_, m)| m.clone()).collect();
    assert_eq!(m.iter().filter(|x| matches!(x, Mutation::DockerPush { .. })).count(), 1, "one shared build: {m:?}");
    let migrates = |svc: &str| {
        m.iter()
            .position(|x| matches!(x, Mutation::RunTask { command, .. } if command.windows(2).any(|w| w == ["migrate", svc])))
            .unwrap_or(usize::MAX)
    };
    assert!(migrates("api") < migrates("worker"), "api migrates before worker (depends_on): {m:?}");
    let last_migration = m.iter().rposition(|x| matches!(x, Mutation::RunTask { .. })).expect("migrations");
    let first_update = m.iter().position(|x| matches!(x, Mutation::UpdateService { .. })).expect("deploys");
    assert!(last_migration < first_update, "every migration before any deployment");
    // Parallel on one time line: the deployments overlap, so the fleet takes far less than the
    // sum of three sequential rollouts (~45 s each after ~45 s of build and ~50 s per migration).
    assert!(r.secs < 45.0 + 3.0 * 52.0 + 2.0 * 45.0, "fleet took {} virtual seconds", r.secs);
}

#[tokio::test]
async fn fail_fast_stops_the_others_and_all_or_nothing_undoes_the_successes() {
    let dir = tempfile::tempdir().expect("dir");
    let s = specs(dir.path(), &[("api", "v2", ""), ("web", "v2", ""), ("bad", "v3", "")]);
    let mut f = Faults::default();
    f.fail_start.insert(":v3".into());
    f.start_secs = 30.0;
    let (r, sim) = fleet(&s, f.clone(), FleetPolicy::AllOrNothing).await;
    assert_eq!(outcome(&r, "bad"), "rolled_back", "{:?}", r.outcomes);
    for svc in ["api", "web"] {
        assert_eq!(outcome(&r, svc), "rolled_back", "{svc}: {:?}", r.outcomes);
        assert!(serving(&sim, svc).ends_with(&format!("{svc}:1")), "{svc} back on its previous revision: {}", serving(&sim, svc));
    }
    assert_eq!(r.exit_code, exit::ROLLED_BACK);

    let (r, _sim) = fleet(&s, f.clone(), FleetPolicy::Independent).await;
    assert_eq!((outcome(&r, "api"), outcome(&r, "web"), outcome(&r, "bad")), ("deployed", "deployed", "rolled_back"));
    assert_eq!(r.exit_code, exit::ROLLED_BACK, "the fleet reports its worst outcome");

    // fail-fast: slow healthy services are still rolling out when `bad` trips its breaker.
    f.health_secs = 600.0;
    let (r, sim) = fleet(&s, f, FleetPolicy::FailFast).await;
    assert_eq!(outcome(&r, "bad"), "rolled_back", "{:?}", r.outcomes);
    for svc in ["api", "web"] {
        assert_eq!(outcome(&r, svc), "rolled_back", "{svc} was stopped: {:?}", r.outcomes);
        assert!(serving(&sim, svc).ends_with(&format!("{svc}:1")));
    }
}

#[tokio::test]
async fn a_dependency_cycle_is_refused_before_anything_changes() {
    let dir = tempfile::tempdir().expect("dir");
    let s = specs(dir.path(), &[("a", "v2", "depends_on = [\"b\"]"), ("b", "v2", "depends_on = [\"a\"]")]);
    let sim = seeded_fleet(&s, Faults::default()).expect("seed");
    let err = release_fleet(
        &sim.ports(),
        Arc::new(Recorder::default()),
        &Interrupt::default(),
        &s,
        &ReleaseOptions::default(),
        2,
        FleetPolicy::Independent,
    )
    .await
    .expect_err("a cycle");
    assert_eq!(err.exit_code(), exit::INPUT);
    assert!(err.to_string().contains("cycle"), "{err}");
    assert!(sim.world().mutations.is_empty());
}

/// `n` services with no build and no migration (their image exists): only the deployments.
fn plain_specs(dir: &std::path::Path, n: usize) -> Vec<Spec> {
    (0..n)
        .map(|i| {
            let name = format!("svc{i:02}");
            std::fs::write(dir.join(format!("{name}.taskdef.json")), TEMPLATE.replace("\"family\": \"web\"", &format!("\"family\": \"{name}\"")))
                .expect("template");
            let text = format!(
                "[service]\ncluster = \"demo\"\nname = \"{name}\"\ndesired_count = {}\n[image]\nrepository = \"app\"\ntag = \"v2\"\n[task_definition]\ntemplate = \"{name}.taskdef.json\"\ncontainer = \"web\"\n",
                2 + i % 5
            );
            let path = dir.join(format!("{name}.toml"));
            std::fs::write(&path, text).expect("spec");
            Spec::load(&path, None).expect("spec loads")
        })
        .collect()
}

async fn throttling_in_a_fleet_of_50(client_budget: bool) -> (FleetReport, u64, usize) {
    let dir = tempfile::tempdir().expect("dir");
    let s = plain_specs(dir.path(), 50);
    let sim = seeded_fleet(&s, Faults::default()).expect("seed");
    let sim = if client_budget { sim } else { sim.without_client_budget() };
    let rec = Arc::new(Recorder::default());
    let report =
        release_fleet(&sim.ports(), rec.clone(), &Interrupt::default(), &s, &ReleaseOptions::default(), 50, FleetPolicy::Independent)
            .await
            .expect("fleet");
    let warnings =
        rec.events().iter().filter(|e| matches!(e, fgdeploy::engine::Event::Warning { message } if message.contains("throttl"))).count();
    let answered = sim.world().throttled_by_account;
    (report, answered, warnings)
}

#[tokio::test]
async fn fifty_services_in_parallel_stay_inside_the_accounts_rate_limits() {
    // The simulator enforces the account's token buckets (budget::ACCOUNT_LIMITS). Without
    // fgdeploy's client-side budget, 50 parallel releases exceed them...
    let (r, answered, _) = throttling_in_a_fleet_of_50(false).await;
    assert!(answered > 0, "the modelled limits must bite without the client budget");
    assert_eq!(r.exit_code, exit::OK, "retries absorb the throttles: {:?}", r.outcomes);
    // ...with it, no call is throttled, and nothing about throttling reaches the user.
    let (r, answered, warnings) = throttling_in_a_fleet_of_50(true).await;
    assert_eq!(r.exit_code, exit::OK, "{:?}", r.outcomes);
    assert_eq!(r.outcomes.iter().filter(|o| o.outcome == "deployed").count(), 50);
    assert_eq!((answered, warnings), (0, 0), "ThrottlingException answered by the account / throttling warnings shown");
}

/// More services than `--parallel` (and `--parallel 1`): every one is deployed, none waits
/// forever for a turn on the shared virtual clock. Bounded in real time so a hang fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_services_than_parallel_all_deploy_without_a_hang() {
    for parallel in [1usize, 2, 3] {
        let dir = tempfile::tempdir().expect("tempdir");
        let names: Vec<(String, &str, &str)> = (0..5).map(|i| (format!("svc{i}"), "v2", "")).collect();
        let refs: Vec<(&str, &str, &str)> = names.iter().map(|(n, t, e)| (n.as_str(), *t, *e)).collect();
        let specs = specs(dir.path(), &refs);
        let sim = seeded_fleet(&specs, Faults::default()).expect("seed");
        let (ports, sink, interrupt, opts) = (sim.ports(), Arc::new(Recorder::default()), Interrupt::default(), ReleaseOptions::default());
        let run = release_fleet(&ports, sink, &interrupt, &specs, &opts, parallel, FleetPolicy::Independent);
        let report = tokio::time::timeout(std::time::Duration::from_secs(20), run)
            .await
            .unwrap_or_else(|_| panic!("--parallel {parallel} with 5 services hung"))
            .expect("fleet");
        assert_eq!(report.exit_code, exit::OK, "--parallel {parallel}: {:?}", report.outcomes);
        for (n, _, _) in &refs {
            assert_eq!(outcome(&report, n), "deployed", "--parallel {parallel}: {n}");
            assert!(serving(&sim, n).ends_with(":2"), "{n} serves {}", serving(&sim, n));
        }
    }
}

#[test]
fn parallel_zero_and_a_service_named_twice_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let specs = specs(dir.path(), &[("a", "v2", ""), ("b", "v2", "")]);
    let (a, b) = (specs[0].path.display().to_string(), specs[1].path.display().to_string());
    crate::harness::Test::new()
        .args(["release", "--sandbox", "--parallel", "0", "-f", &a, "-f", &b])
        .status(exit::INPUT)
        .stderr_has("--parallel");
    // The same service (cluster + name + region) twice.
    let copy = dir.path().join("a-again.toml");
    std::fs::copy(&specs[0].path, &copy).expect("copy");
    let out = crate::harness::Test::new().args(["release", "--sandbox", "-f", &a, "-f", &copy.display().to_string()]).status(exit::INPUT);
    out.stderr_has("is also released by").stderr_has("a-again.toml");
}

/// #27: a fleet takes each service's lease before that service's first change and gives it
/// back when its deployment ends; a service whose lease another run holds is not touched (exit
/// 12 for it, naming the holder), the others release.
#[tokio::test]
async fn a_fleet_takes_each_services_lease() {
    let lock = "[lock]\nbucket = \"acme-deploy-locks\"\nttl = \"2m\"\n";
    let dir = tempfile::tempdir().expect("dir");
    let s = specs(dir.path(), &[("a", "v2", lock), ("b", "v2", lock)]);
    let sim = seeded_fleet(&s, Faults::default()).expect("seed");
    let now = sim.ports().clock.now();
    let held = serde_json::json!({
        "service": "demo/b", "holder": {"command": "release", "commit": null, "run_id": "7", "ci_url": "https://ci.example/run/7", "host": "h", "user": "u", "pid": 1},
        "phase": "deploy", "started": now, "renewed": now, "expires": now + 3600.0, "released": null, "journal": {}, "write": "x"
    });
    let body = serde_json::to_vec(&held).expect("json");
    sim.ports().leases.create("acme-deploy-locks", "fgdeploy/locks/demo/b.json", &body).await.expect("put").expect("created");
    let opts = ReleaseOptions {
        lock: fgdeploy::engine::LockOptions { skip: false, timeout: Some(std::time::Duration::from_secs(30)) },
        ..Default::default()
    };
    let report = release_fleet(&sim.ports(), Arc::new(Recorder::default()), &Interrupt::default(), &s, &opts, 4, FleetPolicy::Independent)
        .await
        .expect("fleet");
    assert_eq!(outcome(&report, "a"), "deployed");
    let b = serde_json::to_value(report.outcomes.iter().find(|o| o.service == "b").expect("b")).expect("json");
    assert_eq!((b["outcome"].as_str(), b["exit_code"].as_i64()), (Some("locked"), Some(i64::from(exit::LOCKED))), "{b}");
    assert!(b["message"].as_str().is_some_and(|m| m.contains("https://ci.example/run/7")), "{b}");
    let touched_b = sim.world().mutations.iter().any(|(_, m)| matches!(m, Mutation::UpdateService { service, .. } if service == "b"));
    assert!(!touched_b, "b was not touched");
    let a = sim.ports().leases.read("acme-deploy-locks", "fgdeploy/locks/demo/a.json").await.expect("read").expect("a's lease");
    let a: serde_json::Value = serde_json::from_slice(&a.body).expect("json");
    assert!(!a["released"].is_null() && a["journal"]["outcome"] == "deployed", "{a}");
}

/// #27: two fleets with an overlapping service ([a, b] and [b, c]) released at once: the shared
/// service is released by one fleet while the other waits for its lease, then finds nothing left
/// to release there; never two deployments of it.
#[tokio::test]
async fn overlapping_fleets_never_deploy_a_shared_service_twice() {
    let lock = "[lock]\nbucket = \"acme-deploy-locks\"\nttl = \"2m\"\n";
    let dir = tempfile::tempdir().expect("dir");
    let all = specs(dir.path(), &[("a", "v2", lock), ("b", "v2", lock), ("c", "v2", lock)]);
    let sim = seeded_fleet(&all, Faults::default()).expect("seed");
    let (one, two) = (vec![all[0].clone(), all[1].clone()], vec![all[1].clone(), all[2].clone()]);
    let run = |specs: Vec<Spec>| {
        let sim = sim.clone();
        async move {
            release_fleet(
                &sim.ports(),
                Arc::new(Recorder::default()),
                &Interrupt::default(),
                &specs,
                &ReleaseOptions::default(),
                4,
                FleetPolicy::Independent,
            )
            .await
            .expect("fleet")
        }
    };
    let (r1, r2) = tokio::join!(run(one), run(two));
    for r in [&r1, &r2] {
        assert!(r.exit_code == exit::OK || r.exit_code == exit::LOCKED, "{:?}", r.outcomes);
    }
    // One fleet deploys b; the other finds it released, or (its lease taken over while it waited
    // past lock.ttl on the virtual clock) stops before b's deployment with exit 12.
    let b = [outcome(&r1, "b"), outcome(&r2, "b")];
    assert!(b.contains(&"deployed") && (b.contains(&"unchanged") || b.contains(&"locked")), "{b:?}");
    let updates_of_b = sim
        .world()
        .mutations
        .iter()
        .filter(|(_, m)| matches!(m, Mutation::UpdateService { service, foreign: false, .. } if service == "b"))
        .count();
    assert_eq!(updates_of_b, 1, "one deployment of the shared service");
    assert_eq!(outcome(&r1, "a"), "deployed");
    assert_eq!(outcome(&r2, "c"), "deployed");
}
