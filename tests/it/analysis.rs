//! The canary judge (#29) end to end on the sandbox: `deployspecs/canary.toml` deploys when green
//! equals blue, rolls back when green's 5xx rate doubles or its p99 grows 30 %, holds and then
//! goes on at very low traffic; the plan, the JSON events and the step summary carry the
//! verdicts with their numbers; a team's PAUSE hook where the judge pauses is refused before
//! any change; CodeDeploy steps are judged during their bake and rolling rollouts by revision.

use crate::harness::{Test, check_json, spec_dir};
use fgdeploy::error::exit;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn canary(args: &[&str]) -> Test {
    Test::new().dir(root()).args(["release", "-f", "deployspecs/canary.toml", "--sandbox", "--image-tag", "v2"]).args(args)
}

/// `release --sandbox` of `deployspecs/canary.toml` with `from` replaced by `to`, from a copy in
/// a temporary folder (the template's `{{ git.sha }}` reads this checkout).
fn canary_variant(from: &str, to: &str) -> (tempfile::TempDir, Test) {
    let text = std::fs::read_to_string(root().join("deployspecs/canary.toml")).expect("canary.toml");
    assert!(text.contains(from), "canary.toml has no {from}");
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("canary.toml"), text.replace(from, to)).expect("write");
    std::fs::copy(root().join("deployspecs/example.taskdef.json"), dir.path().join("example.taskdef.json")).expect("copy");
    let spec = dir.path().join("canary.toml").to_str().expect("utf-8").to_string();
    let test = Test::new().dir(root()).env("GIT_DIR", root().join(".git").to_str().expect("utf-8")).args([
        "release",
        "--sandbox",
        "--image-tag",
        "v2",
        "-f",
        spec.as_str(),
    ]);
    (dir, test)
}

/// The simulated account after a run (`--sandbox-state`): green's highest traffic weight and
/// the hook answers fgdeploy sent.
fn account_after(args: &[&str], code: i32) -> (crate::harness::Output, f64, Vec<String>) {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("account.json");
    let out = canary(args).args(["--sandbox-state", state.to_str().expect("utf-8")]).status(code);
    let world: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).expect("state")).expect("state JSON");
    let natives: Vec<&serde_json::Value> = world["services"]
        .as_array()
        .expect("services")
        .iter()
        .flat_map(|s| s["sds"].as_array().into_iter().flatten())
        .filter_map(|sd| sd.get("native").filter(|n| !n.is_null()))
        .collect();
    let max = natives.iter().filter_map(|n| n["max_weight"].as_f64()).fold(0.0, f64::max);
    let answers = world["mutations"]
        .as_array()
        .expect("mutations")
        .iter()
        .filter_map(|m| m[1].get("ContinueServiceDeployment").and_then(|c| c["action"].as_str()).map(str::to_string))
        .collect();
    (out, max, answers)
}

#[test]
fn the_canary_rehearsal_deploys_when_green_equals_blue() {
    let (out, max, answers) = account_after(&[], exit::OK);
    out.stdout_has("judged PASS").stdout_has("5xx-rate: green").stdout_has("vs blue").stdout_has("deployed (exit 0)");
    assert_eq!(max, 100.0, "all traffic moved to green");
    // The pause before the first step (nothing to judge yet), then the canary's verdict.
    assert_eq!(answers, ["CONTINUE", "CONTINUE"], "{}", out.stdout);
}

#[test]
fn a_doubled_error_rate_is_held_then_fails_and_rolls_back_with_its_numbers() {
    let (out, max, answers) = account_after(&["--scenario", "green-regresses"], exit::ROLLED_BACK);
    // The metric, both values and the verdict, in the reason the release ends with.
    let reason = out.stderr.lines().find(|l| l.contains("rolled back:")).unwrap_or_else(|| panic!("no reason: {}", out.stderr));
    assert!(reason.contains("5xx-rate: green ") && reason.contains("% vs blue ") && reason.contains("FAIL"), "{reason}");
    out.stdout_has("judged INCONCLUSIVE").stdout_has(": hold").stdout_has("judged FAIL");
    assert_eq!(max, 25.0, "green never took more than the canary's share: {max}");
    assert_eq!(answers, ["CONTINUE", "ROLLBACK"], "{}", out.stdout);
}

#[test]
fn a_slower_green_fails_on_latency_and_low_traffic_is_held_then_continued() {
    let out = canary(&["--scenario", "green-slower"]).status(exit::ROLLED_BACK);
    out.stderr_has("latency-p99: green").stderr_has("FAIL");
    let (out, max, answers) = account_after(&["--scenario", "low-traffic"], exit::OK);
    out.stdout_has("judged INCONCLUSIVE").stdout_has("still INCONCLUSIVE after 900 s");
    assert!(!out.stdout.contains("judged FAIL"), "{}", out.stdout);
    assert_eq!((max, answers.len()), (100.0, 2));
    // With on_inconclusive = "rollback", no evidence is no release.
    let (_d, variant) = canary_variant("on_inconclusive = \"continue\"", "on_inconclusive = \"rollback\"");
    variant
        .args(["--scenario", "low-traffic"])
        .status(exit::ROLLED_BACK)
        .stderr_has("canary analysis stayed INCONCLUSIVE (analysis.on_inconclusive = \"rollback\") at step 1");
}

#[test]
fn verdicts_reach_the_json_events_the_step_summary_and_the_plan() {
    let dir = tempfile::tempdir().expect("dir");
    let summary = dir.path().join("summary.md");
    let out = canary(&["--scenario", "green-regresses", "--output", "json"])
        .env("GITHUB_STEP_SUMMARY", summary.to_str().expect("utf-8"))
        .status(exit::ROLLED_BACK);
    let events = out.events();
    let judged: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "step_judged").collect();
    assert!(judged.len() >= 2, "held at least once before the FAIL");
    for e in &events {
        check_json(e, "events");
    }
    let last = judged.last().expect("a verdict");
    assert_eq!((last["step"].as_u64(), last["verdict"].as_str(), last["action"].as_str()), (Some(1), Some("FAIL"), Some("rollback")));
    let rate = &last["metrics"][0];
    assert_eq!(rate["name"], "5xx-rate");
    let (g, b) = (rate["green"].as_f64().expect("green"), rate["blue"].as_f64().expect("blue"));
    assert!(g > b * 1.1 && rate["certainty"].as_f64().expect("certainty") >= 0.99, "{rate}");
    assert!(rate["green_n"].as_u64().expect("n") >= 200 && rate["blue_n"].as_u64().expect("n") > rate["green_n"].as_u64().expect("n"));
    let md = std::fs::read_to_string(&summary).expect("summary");
    assert!(md.contains("| step | green | verdict |") && md.contains("| 1 | 25 % | FAIL | rollback |"), "{md}");

    let plan =
        Test::new().dir(root()).args(["plan", "-f", "deployspecs/canary.toml", "--sandbox", "--image-tag", "v2"]).status(exit::CHANGES);
    plan.stdout_has("Canary analysis")
        .stdout_has("judged after the canary (25 % for 10 min)")
        .stdout_has("5xx-rate (critical): HTTPCode_Target_5XX_Count / RequestCount")
        .stdout_has("latency-p99 (scored): TargetResponseTime p99")
        .stdout_has("before a traffic step, fgdeploy's PAUSE hook there times out after 32 min");
}

#[test]
fn a_team_hook_where_the_judge_pauses_is_refused_and_a_rolling_plan_says_what_it_compares() {
    // existing-hooks: the team's approval PAUSE hook at PRE_PRODUCTION_TRAFFIC_SHIFT.
    let out = canary(&["--scenario", "existing-hooks"]).status(exit::INPUT);
    out.stderr_has("PRE_PRODUCTION_TRAFFIC_SHIFT").stderr_has("canary judge").stderr_has("fix:");
    assert!(!out.stdout.contains("▶ deploy"), "refused before the deploy stage: {}", out.stdout);
    // ECS-native BLUE_GREEN moves all traffic at once: nothing to judge, refused before any change.
    let (_d, variant) = canary_variant("\"CANARY\"", "\"BLUE_GREEN\"");
    let out = variant.status(exit::INPUT);
    out.stderr_has("BLUE_GREEN").stderr_has("no step to judge").stderr_has("fix:");
    assert!(!out.stdout.contains("registered revision"), "{}", out.stdout);
    // A rolling deployspec: built-in metrics cannot tell the revisions apart (one target group),
    // a custom metric that selects the revision can; the plan says what is compared.
    let (_d, spec) = spec_dir(
        "[[analysis.metrics]]\nmetric = \"custom\"\nquery = \"SUM(SEARCH('{App,Revision} Revision=\\\"{{ revision }}\\\"', 'Sum', 60))\"\n",
    );
    Test::new().args(["validate", "-f", spec.to_str().expect("utf-8")]).status(exit::OK);
    Test::new()
        .args(["plan", "--sandbox", "-f", spec.to_str().expect("utf-8")])
        .status(exit::CHANGES)
        .stdout_has("judged every minute while both revisions serve")
        .stdout_has("built-in metrics cannot be compared");
}

/// A CodeDeploy linear release with `[analysis]`: judged every minute while green serves part of
/// production traffic; a doubled error rate stops the deployment with rollback (exit 7) before
/// all traffic moved; green equal to blue deploys.
#[test]
fn a_codedeploy_linear_release_is_judged_during_each_step_and_stopped_on_a_fail() {
    let spec = format!(
        "{}[deploy]\nstrategy = \"blue-green\"\ntimeout = \"1h\"\n[deploy.blue_green]\napplication = \"AppECS-demo-web\"\ndeployment_group = \"DgpECS-demo-web\"\ndeployment_config = \"CodeDeployDefault.ECSLinear10PercentEvery3Minutes\"\ncontainer_port = 8080\n[[analysis.metrics]]\nmetric = \"5xx-rate\"\n",
        crate::harness::base_spec("demo", "web")
    );
    let (_d, path) = crate::harness::spec_dir_with(&spec, crate::harness::TEMPLATE);
    let release = |scenario: &str| Test::new().args(["release", "--sandbox", "--scenario", scenario, "-f", path.to_str().expect("utf-8")]);
    let out = release("green-regresses").status(exit::ROLLED_BACK);
    out.stdout_has("canary analysis: 1 metric(s) judged every minute").stdout_has("judged FAIL").stdout_has("StopDeployment(");
    let reason = out.stderr.lines().find(|l| l.contains("rolled back:")).unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(
        reason.contains("canary analysis failed at step") && reason.contains("5xx-rate: green ") && reason.contains("FAIL"),
        "{reason}"
    );
    assert!(!out.stdout.contains("green 100 %"), "stopped before all traffic moved: {}", out.stdout);
    release("happy").status(exit::OK).stdout_has("judged PASS").stdout_has("green 100 %");
    // `wait` on a deployment this run did not start cannot know green's revision: a query that
    // selects it is not judged, and that is said.
    let custom = spec.replace(
        "[[analysis.metrics]]\nmetric = \"5xx-rate\"\n",
        "[[analysis.metrics]]\nmetric = \"custom\"\nquery = \"SEARCH('{App,Revision} Revision=\\\"{{ revision }}\\\"', 'Sum', 60)\"\n",
    );
    let (d3, p3) = crate::harness::spec_dir_with(&custom, crate::harness::TEMPLATE);
    let state = d3.path().join("account.json");
    let with_state = |cmd: &str| {
        Test::new().args([cmd, "--sandbox", "-f", p3.to_str().expect("utf-8"), "--sandbox-state", state.to_str().expect("utf-8")])
    };
    with_state("release").args(["--no-wait"]).status(exit::OK);
    with_state("wait").status(exit::OK).stdout_has("green revision is not known here");
    // All traffic at once leaves nothing to judge: refused before any change.
    let all_at_once = spec.replace("ECSLinear10PercentEvery3Minutes", "ECSAllAtOnce");
    let (_d2, p2) = crate::harness::spec_dir_with(&all_at_once, crate::harness::TEMPLATE);
    Test::new()
        .args(["validate", "-f", p2.to_str().expect("utf-8")])
        .status(exit::INPUT)
        .stderr_has("deploy.blue_green.deployment_config")
        .stderr_has("no step to judge");
}

/// A rolling release with a custom metric that tells the revisions apart (`{{ revision }}`):
/// while both serve, the new revision's minutes are judged against the old one's; green's
/// doubled error rate fails the deployment and the rolling deployer rolls it back. Tasks take
/// 4 minutes to start here, so both revisions serve for minutes, as in a real rollout.
#[tokio::test]
async fn a_rolling_rollout_is_judged_by_revision_while_both_serve() {
    let spec = format!(
        "{}[deploy]\ntimeout = \"1h\"\n[deploy.rolling]\nmaximum_percent = 125\n[analysis]\nmin_minutes = 2\n[[analysis.metrics]]\nname = \"app-errors\"\nmetric = \"custom\"\nquery = \"SUM(SEARCH('{{Orders,Revision}} MetricName=\\\"ErrorRate\\\" Revision=\\\"{{{{ revision }}}}\\\"', 'Average', 60))\"\n",
        crate::harness::base_spec("demo", "web")
    );
    let (_d, path) = crate::harness::spec_dir_with(&spec, crate::harness::TEMPLATE);
    let spec = fgdeploy::spec::Spec::load(&path, None).expect("spec");
    for (factor, want_rollback) in [(3.0, true), (1.0, false)] {
        let traffic = fgdeploy::sim::Traffic { green_error_factor: factor, ..Default::default() };
        let faults = fgdeploy::sim::Faults { start_secs: 240.0, traffic, ..Default::default() };
        let sim = fgdeploy::sandbox::seeded(&spec, faults).expect("seed");
        let rec = std::sync::Arc::new(fgdeploy::engine::Recorder::default());
        let mut engine = fgdeploy::engine::Engine::new(sim.ports(), rec.clone(), fgdeploy::engine::Interrupt::default());
        let result = engine.release(&spec, &fgdeploy::engine::ReleaseOptions::default()).await;
        let judged: Vec<(String, String)> = rec
            .events()
            .iter()
            .filter_map(|e| match e {
                fgdeploy::engine::Event::StepJudged { verdict, metrics, .. } => Some((format!("{verdict:?}"), metrics[0].line())),
                _ => None,
            })
            .collect();
        assert!(!judged.is_empty(), "judged while both served (factor {factor})");
        assert!(judged.iter().all(|(_, l)| l.starts_with("app-errors: green ")), "{judged:?}");
        match result {
            Err(fgdeploy::error::Error::RolledBack { reason, .. }) if want_rollback => {
                assert!(reason.contains("canary analysis failed while both revisions served") && reason.contains("app-errors"), "{reason}");
            }
            Ok(r) if !want_rollback => assert_eq!(r.outcome, "deployed"),
            other => panic!("factor {factor}: {other:?}; judged {judged:?}"),
        }
    }
    // `release --no-wait`, then `wait --rollback`: the attached watch judges the rollout too.
    let traffic = fgdeploy::sim::Traffic { green_error_factor: 3.0, ..Default::default() };
    let sim = fgdeploy::sandbox::seeded(&spec, fgdeploy::sim::Faults { start_secs: 240.0, traffic, ..Default::default() }).expect("seed");
    let rec = std::sync::Arc::new(fgdeploy::engine::Recorder::default());
    let mut engine = fgdeploy::engine::Engine::new(sim.ports(), rec.clone(), fgdeploy::engine::Interrupt::default());
    let started = engine.release(&spec, &fgdeploy::engine::ReleaseOptions { no_wait: true, ..Default::default() }).await;
    assert_eq!(started.expect("started").outcome, "started");
    let o = fgdeploy::engine::WaitOptions { rollback: true, ..Default::default() };
    let waited = engine.wait_command(&spec, &o).await;
    let e = waited.expect_err("the judge fails the rollout");
    assert_eq!(e.exit_code(), exit::ROLLED_BACK, "{e}");
    assert!(e.to_string().contains("canary analysis failed while both revisions served"), "{e}");
}

/// `release --no-wait`, then `wait` on the same (persisted) sandbox account: the follower judges
/// the steps fgdeploy's hook pauses, from the deployment's start, and rolls back the regression.
#[test]
fn wait_judges_a_canary_started_without_waiting() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("account.json");
    let s = state.to_str().expect("utf-8");
    canary(&["--scenario", "green-regresses", "--no-wait", "--sandbox-state", s])
        .status(exit::OK)
        .stdout_has("nobody judges the traffic steps until `fgdeploy wait`");
    let out = Test::new()
        .dir(root())
        .args(["wait", "-f", "deployspecs/canary.toml", "--sandbox", "--sandbox-state", s])
        .status(exit::ROLLED_BACK);
    out.stdout_has("judged FAIL").stderr_has("canary analysis failed at step 1: 5xx-rate: green ");
}

/// Someone answers fgdeploy's step hooks before it judges (`gate-bypassed`): the deployment
/// completes, but not judged, and fgdeploy says so with exit 11 rather than "deployed".
#[test]
fn steps_answered_outside_fgdeploy_are_a_bypassed_gate() {
    canary(&["--scenario", "gate-bypassed"])
        .status(exit::GATE_BYPASSED)
        .stderr_has("with 0 of its 1 traffic step(s) judged by fgdeploy: its step hooks were answered outside fgdeploy");
    // A colleague answers fgdeploy's step hook a moment before fgdeploy: fgdeploy's answer is
    // refused, it reads the deployment again, and their answer stands (exit 11).
    canary(&["--scenario", "answered-first"])
        .status(exit::GATE_BYPASSED)
        .stderr_has("was answered outside fgdeploy; fgdeploy's verdict was CONTINUE (its canary judge passed)");
}
