//! The CLI end to end on the sandbox: the README's first command, output styles, snapshots.

use crate::harness::{Test, spec_dir};
use fgdeploy::error::exit;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// An insta snapshot in tests/snapshots/ (`INSTA_UPDATE=always cargo test` or `cargo insta
/// review` rewrites it; under CI a difference fails). Redacted: what differs between machines
/// (the checkout's path, temporary folders), never what fgdeploy decides or prints of its own.
fn snapshot(name: &str, actual: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.add_filter(&regex_escape(&root().display().to_string()), "[checkout]");
    settings.add_filter(r"/tmp/\.tmp[A-Za-z0-9]+", "[tmp]");
    settings.bind(|| insta::assert_snapshot!(name, actual));
}

fn regex_escape(s: &str) -> String {
    s.chars().map(|c| if c.is_alphanumeric() || c == '/' || c == '_' { c.to_string() } else { format!("\\{c}") }).collect()
}

#[test]
fn readme_quick_start_release_runs_in_the_sandbox() {
    // Exactly the README's first command (cargo run -- …), from the repository root. In a
    // checkout with uncommitted changes the tag is `<sha>-dirty`, which release refuses by
    // design; a fresh clone (CI) runs the exact command.
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(root())
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    let mut args = vec!["release", "-f", "deployspecs/example.toml", "--sandbox"];
    if dirty {
        eprintln!("note: uncommitted changes here; running the README command with --allow-dirty");
        args.push("--allow-dirty");
    }
    let out = Test::new().dir(root()).args(args).status(exit::OK);
    out.stdout_has("SANDBOX")
        .stdout_has("▶ deploy")
        .stdout_has("deployed (exit 0)")
        .stdout_has("ecs: (service web) has reached a steady state.");
}

#[test]
fn human_release_output_snapshot() {
    let out =
        Test::new().dir(root()).args(["release", "-f", "deployspecs/example.toml", "--sandbox", "--image-tag", "v2"]).status(exit::OK);
    snapshot("release-example", &out.stdout);
}

#[test]
fn human_plan_output_snapshot() {
    let out = Test::new()
        .dir(root())
        .args(["plan", "-f", "deployspecs/example.toml", "--sandbox", "--image-tag", "v2", "-q"])
        .status(exit::CHANGES);
    snapshot("plan-example", &out.stdout);
    let out = Test::new()
        .dir(root())
        .args(["plan", "-f", "deployspecs/bluegreen.toml", "--sandbox", "--image-tag", "v2", "-q"])
        .status(exit::CHANGES);
    out.stdout_has("10 % to green for 5 min").stdout_has("Migration task: \"bin/migrate up\"");
}

#[test]
fn a_failed_release_is_rolled_back_and_reported_as_a_failure() {
    let out = Test::new()
        .dir(root())
        .args(["release", "-f", "deployspecs/example.toml", "--sandbox", "--scenario", "fail-start", "--image-tag", "v2"])
        .status(exit::ROLLED_BACK);
    out.stdout_has("task ").stdout_has("CannotPullContainerError").stdout_has("rollback finished: serving");
    out.stderr_has("release failed and was rolled back").stderr_has("task-definition/web:2");
}

#[test]
fn json_output_is_one_event_per_line_ending_with_the_outcome() {
    let out = Test::new()
        .dir(root())
        .args(["release", "-f", "deployspecs/example.toml", "--sandbox", "--image-tag", "v2", "--output", "json"])
        .status(exit::OK);
    let events = out.events();
    assert_eq!(events.len(), out.stdout.lines().count(), "every line is a JSON event");
    assert_eq!(events[0]["event"], "plan");
    let last = events.last().expect("events");
    assert_eq!(last["event"], "finished");
    assert_eq!(last["outcome"], "deployed");
    assert_eq!(last["exit_code"], 0);
    assert_eq!(last["api_calls"]["ecs:UpdateService"], 1);
    let stages: Vec<&str> = last["stages"].as_array().expect("stages").iter().filter_map(|s| s["stage"].as_str()).collect();
    assert_eq!(stages, ["build", "register", "deploy", "verify"]);
    assert!(events.iter().all(|e| e["at"].is_string() && e["service"] == "web"));
}

#[test]
fn github_actions_get_groups_and_annotations() {
    let out = Test::new()
        .dir(root())
        .env("GITHUB_ACTIONS", "true")
        .args(["release", "-f", "deployspecs/example.toml", "--sandbox", "--scenario", "fail-start", "--image-tag", "v2"])
        .status(exit::ROLLED_BACK);
    out.stdout_has("::group::deploy").stdout_has("::endgroup::").stdout_has("::error::release failed and was rolled back");
    // #26: the report's verdict and fix as an annotation of their own, escaped for the runner.
    let why = out.stdout.lines().find(|l| l.starts_with("::error title=Why the release failed::")).expect("the report's annotation");
    assert!(why.contains("image pull failed") && why.contains("%0Afix: push the image"), "{why}");
    assert!(!why.contains('\n'), "one line");
}

#[test]
fn quiet_shows_only_the_result() {
    let out = Test::new()
        .dir(root())
        .args(["release", "-f", "deployspecs/example.toml", "--sandbox", "--image-tag", "v2", "-q"])
        .status(exit::OK);
    assert!(!out.stdout.contains("▶ deploy"), "{}", out.stdout);
    out.stdout_has("deployed (exit 0)");
}

#[test]
fn status_and_rollback_in_the_sandbox() {
    let out = Test::new()
        .dir(root())
        .args(["status", "-f", "deployspecs/example.toml", "--sandbox", "--image-tag", "v2", "--output", "json"])
        .status(exit::OK);
    let status = out.events().into_iter().find(|e| e["event"] == "status").expect("status event");
    assert_eq!(status["status"]["service"]["desired_count"], 4);
    assert!(status["status"]["image"].as_str().is_some_and(|i| i.ends_with(":previous")));
    // The sandbox service has served an earlier revision, as on a real account: `rollback` finds
    // it in the service-deployment history and goes back to it.
    let out =
        Test::new().dir(root()).args(["rollback", "-f", "deployspecs/example.toml", "--sandbox", "--image-tag", "v2"]).status(exit::OK);
    out.stdout_has("task-definition/web:1").stdout_has("service deployment history");
    let dry = Test::new()
        .dir(root())
        .args(["rollback", "-f", "deployspecs/example.toml", "--sandbox", "--image-tag", "v2", "--dry-run", "--output", "json"])
        .status(exit::CHANGES);
    let plan = dry.events().into_iter().find(|e| e["event"] == "rollback").expect("rollback document");
    assert!(plan["plan"]["target"].as_str().is_some_and(|t| t.ends_with("web:1")), "{plan}");
    assert!(plan["plan"]["current"].as_str().is_some_and(|t| t.ends_with("web:2")), "{plan}");
}

#[test]
fn shipped_deployspecs_validate() {
    for f in ["deployspecs/example.toml", "deployspecs/bluegreen.toml"] {
        Test::new().dir(root()).args(["validate", "-f", f, "--image-tag", "v1"]).status(exit::OK).stdout_has("ok:");
    }
}

#[test]
fn a_release_with_a_migration_runs_it_first_and_a_failed_one_stops_the_release() {
    let out = Test::new()
        .dir(root())
        .args(["release", "-f", "deployspecs/bluegreen.toml", "--sandbox", "--image-tag", "v2", "--dry-run"])
        .status(exit::CHANGES);
    out.stdout_has("+ migrate  run \"bin/migrate up\"");
    let (_d, spec) = spec_dir("\n[migration]\ncommand = [\"migrate\"]\n");
    let f = spec.to_str().expect("utf-8");
    let out = Test::new().args(["release", "--sandbox", "-f", f]).status(exit::OK);
    out.stdout_has("▶ migrate").stdout_has("task ").stdout_has("exit codes: web=0").stdout_has("▶ deploy");
    let out = Test::new().args(["release", "--sandbox", "--scenario", "migration-fails", "-f", f]).status(exit::MIGRATION_FAILED);
    assert!(!out.stdout.contains("▶ deploy"), "{}", out.stdout);
    out.stderr_has("the migration failed, so nothing else was changed").stderr_has("web=1");
    // #26: the failed migration has its report too, from what its task said.
    out.stdout_has("why: essential container web exited with code 1");
    Test::new().args(["release", "--sandbox", "--scenario", "migration-fails", "--skip-migration", "-f", f]).status(exit::OK);
}

#[test]
fn run_exits_with_the_commands_exit_code() {
    let (_d, spec) = spec_dir("");
    let f = spec.to_str().expect("utf-8");
    Test::new().args(["run", "--sandbox", "-f", f, "--", "bin/rake", "db:seed"]).status(0).stdout_has("exit codes: web=0");
    Test::new().args(["run", "--sandbox", "--scenario", "migration-fails", "-f", f, "--", "bin/rake", "db:seed"]).status(1);
    Test::new().args(["run", "--sandbox", "-f", f]).status(exit::INPUT);
}

#[test]
fn help_and_version() {
    Test::new().args(["--help"]).status(exit::OK).stdout_has("release");
    Test::new().args(["--version"]).status(exit::OK).stdout_has("fgdeploy");
}

#[test]
fn the_sandbox_builds_and_a_failed_build_changes_nothing() {
    let out =
        Test::new().dir(root()).args(["release", "-f", "deployspecs/example.toml", "--sandbox", "--image-tag", "v2"]).status(exit::OK);
    out.stdout_has("▶ build").stdout_has("pushed 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v2 (sha256:");
    let out = Test::new()
        .dir(root())
        .args(["release", "-f", "deployspecs/example.toml", "--sandbox", "--image-tag", "v2", "--scenario", "build-fails"])
        .status(exit::BUILD_FAILED);
    assert!(!out.stdout.contains("▶ register"), "{}", out.stdout);
    out.stderr_has("build failed, nothing was changed");
    // A missing build context is named.
    let (_d, spec) = spec_dir("\n[build]\ncontext = \"no-such-dir\"\n");
    let (_d2, spec2) = (0, spec.clone());
    let text = std::fs::read_to_string(&spec2).expect("spec").replace("tag = \"v2\"", "tag = \"v9\"");
    std::fs::write(&spec2, text).expect("write");
    Test::new().args(["release", "--sandbox", "-f", spec.to_str().expect("utf-8")]).status(exit::BUILD_FAILED).stderr_has("no-such-dir");
}

#[test]
fn a_dirty_checkout_is_refused_unless_allowed() {
    let (dir, spec) = spec_dir("");
    let text = std::fs::read_to_string(&spec).expect("spec").replace("tag = \"v2\"\n", "");
    std::fs::write(&spec, text).expect("write");
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git").args(args).current_dir(dir.path()).output().expect("git").status.success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["-c", "user.email=t@example.com", "-c", "user.name=t", "add", "."]);
    git(&["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init"]);
    let f = spec.to_str().expect("utf-8");
    Test::new().args(["release", "--sandbox", "-f", f]).status(exit::OK);
    std::fs::write(dir.path().join("web.taskdef.json"), crate::harness::TEMPLATE.replace("\"1\"", "\"2\"")).expect("edit");
    let out = Test::new().args(["release", "--sandbox", "-f", f]).status(exit::INPUT);
    out.stderr_has("uncommitted changes").stderr_has("-dirty").stderr_has("--allow-dirty");
    Test::new().args(["release", "--sandbox", "--allow-dirty", "-f", f]).status(exit::OK);
}

#[test]
fn promote_in_the_sandbox() {
    Test::new()
        .dir(root())
        .args(["promote", "-f", "deployspecs/bluegreen.toml", "--sandbox", "--from-tag", "v1", "--to-tag", "prod"])
        .status(exit::OK)
        .stdout_has("promoted api:v1 → api:prod");
}

#[test]
fn missing_credentials_are_one_clear_line() {
    let home = tempfile::tempdir().expect("home");
    let out = Test::new()
        .dir(root())
        .env("AWS_ACCESS_KEY_ID", "")
        .env("AWS_SECRET_ACCESS_KEY", "")
        .env("HOME", home.path().to_str().expect("utf-8"))
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .args(["plan", "-f", "deployspecs/example.toml", "--image-tag", "v1"])
        .status(exit::AWS);
    out.stderr_has("no usable AWS credentials").stderr_has("--sandbox");
    assert!(out.stderr.len() < 600, "short: {}", out.stderr);
}

#[test]
fn a_folder_is_planned_and_released_as_a_fleet() {
    // `plan` on a folder: one JSON document with every service's plan, exit 2, nothing changed.
    let out = Test::new()
        .dir(root())
        .args(["plan", "-f", "deployspecs/", "--sandbox", "--image-tag", "v2", "--output", "json"])
        .status(exit::CHANGES);
    let doc: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("one JSON document");
    let mut services: Vec<&str> = doc["plans"].as_array().expect("plans").iter().filter_map(|p| p["service"].as_str()).collect();
    services.sort();
    assert_eq!(services, ["api", "checkout", "orders", "payments", "web"]);
    for p in doc["plans"].as_array().expect("plans") {
        assert_eq!(p["plan"]["has_changes"], true, "every service would change: {p}");
    }
    assert_eq!(doc["fleet"]["exit_code"], exit::CHANGES);
    let calls = doc["fleet"]["api_calls"].as_object().expect("api calls");
    for op in calls.keys() {
        let action = op.split(':').nth(1).unwrap_or(op);
        assert!(["Describe", "List", "Get", "BatchGet"].iter().any(|p| action.starts_with(p)), "a plan made the call {op}");
    }
    // `release` on the same folder: both services, one summary.
    let out = Test::new().dir(root()).args(["release", "-f", "deployspecs/", "--sandbox", "--image-tag", "v2"]).status(exit::OK);
    out.stdout_has("Fleet: 5 service(s)")
        .stdout_has("api")
        .stdout_has("web")
        .stdout_has("checkout")
        .stdout_has("orders")
        .stdout_has("payments");
    // `status` on the folder: one status per service.
    let out = Test::new().dir(root()).args(["status", "-f", "deployspecs/", "--sandbox", "--output", "json"]).status(exit::OK);
    let doc: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("one JSON document");
    let statuses = doc["statuses"].as_array().expect("statuses");
    assert_eq!(statuses.len(), 5, "{doc}");
    let out = Test::new().dir(root()).args(["status", "-f", "deployspecs/", "--sandbox"]).status(exit::OK);
    out.stdout_has("Service api").stdout_has("Service web");
}

#[test]
fn a_bypassed_test_gate_is_not_reported_as_success() {
    let out = Test::new()
        .dir(root())
        .args(["release", "-f", "deployspecs/bluegreen.toml", "--sandbox", "--image-tag", "v2", "--scenario", "gate-bypassed"])
        .status(exit::GATE_BYPASSED);
    out.stderr_has("gate bypassed").stderr_has("checks run afterwards: passed");
    out.stdout_has("why: someone continued the deployment past fgdeploy's gate");
    // #26: a gate whose checks fail has its report, naming the checks.
    let failed = Test::new()
        .dir(root())
        .args(["release", "-f", "deployspecs/bluegreen.toml", "--sandbox", "--image-tag", "v2", "--scenario", "checks-fail"])
        .run();
    failed.stdout_has("why: fgdeploy's checks against the new revision failed at the gate");
    let json = Test::new()
        .dir(root())
        .args([
            "release",
            "-f",
            "deployspecs/bluegreen.toml",
            "--sandbox",
            "--image-tag",
            "v2",
            "--scenario",
            "gate-bypassed",
            "--output",
            "json",
        ])
        .status(exit::GATE_BYPASSED);
    json.stdout_has("gate_bypassed");
}

#[test]
fn rollback_to_must_name_an_existing_revision_of_the_serving_family() {
    let (_d, spec) = spec_dir("");
    let f = spec.to_str().expect("utf-8");
    for (to, says) in [
        ("latest", "is not a revision"),
        ("web:0", "is not a revision"),
        ("other:1", "--allow-family-change"),
        ("99", "no such task-definition revision"),
    ] {
        Test::new().args(["rollback", "--sandbox", "--dry-run", "--to", to, "-f", f]).status(exit::INPUT).stderr_has(says);
    }
}

#[test]
fn a_failed_release_has_one_terminal_event_one_error_and_no_deploy_done() {
    let (_d, spec) = spec_dir("");
    let f = spec.to_str().expect("utf-8");
    let json =
        Test::new().args(["release", "--sandbox", "--scenario", "fail-start", "--output", "json", "-f", f]).status(exit::ROLLED_BACK);
    let terminal: Vec<&str> =
        json.stdout.lines().filter(|l| l.contains("\"event\":\"finished\"") || l.contains("\"event\":\"error\"")).collect();
    assert_eq!(terminal.len(), 1, "exactly one terminal event: {terminal:?}");
    assert_eq!(json.stdout.lines().last(), terminal.first().copied(), "and it is the last line");
    let human = Test::new().args(["release", "--sandbox", "--scenario", "fail-start", "-f", f]).status(exit::ROLLED_BACK);
    assert!(!human.stdout.contains("deploy done"), "a failed deploy stage shown as done:\n{}", human.stdout);
    assert_eq!(human.stderr.matches("release failed and was rolled back").count(), 1, "the error once:\n{}", human.stderr);
    assert!(!human.stdout.contains("release failed and was rolled back"), "not repeated on stdout:\n{}", human.stdout);
    let events: Vec<&str> = human.stdout.lines().filter_map(|l| l.split_once("ecs: ").map(|(_, m)| m)).collect();
    let unique: std::collections::BTreeSet<&str> = events.iter().copied().collect();
    assert_eq!(events.len(), unique.len(), "service events shown once each: {events:#?}");
}

#[test]
fn a_scenario_that_does_not_apply_says_so() {
    let (_d, spec) = spec_dir("");
    let f = spec.to_str().expect("utf-8");
    for (scenario, says) in [("alarm", "deploy.rolling.alarms"), ("gate-bypassed", "checks"), ("build-fails", "no [build]")] {
        Test::new()
            .args(["release", "--sandbox", "--scenario", scenario, "-f", f])
            .status(exit::INPUT)
            .stderr_has("does not apply")
            .stderr_has(says);
    }
}

// ----- real OS signals to the built binary ------------------------------------------------------

/// A test listener that accepts connections and never answers: the checks wait in real time.
fn silent_listener() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming().flatten() {
            held.push(c);
        }
    });
    port
}

/// Start a blue/green sandbox release whose checks hang, wait until they run, send `signals`
/// SIGINTs (200 ms apart); returns the exit code and the output.
fn release_interrupted(on_interrupt: &str, signals: usize) -> (i32, String) {
    release_interrupted_fleet(on_interrupt, signals, false)
}

/// As [`release_interrupted`]; with `fleet`, two services are released together.
fn release_interrupted_fleet(on_interrupt: &str, signals: usize, fleet: bool) -> (i32, String) {
    use std::io::BufRead;
    let port = silent_listener();
    let (d, spec) = spec_dir(&format!(
        "\n[deploy]\nstrategy = \"blue-green\"\n[deploy.blue_green]\ncontainer_port = 8080\ntest_url = \"http://127.0.0.1:{port}\"\ncheck_budget = \"5m\"\n[[deploy.blue_green.checks]]\npath = \"/health\"\ntimeout = \"2s\"\n[rollback]\non_interrupt = \"{on_interrupt}\"\n"
    ));
    let text = std::fs::read_to_string(&spec)
        .expect("spec")
        .replace("[deploy.blue_green]\n", "[deploy.blue_green]\napplication = \"AppECS-demo-web\"\n");
    std::fs::write(&spec, &text).expect("write");
    let mut args = vec!["release".to_string(), "--sandbox".into(), "-f".into(), spec.to_str().expect("utf-8").into()];
    if fleet {
        let other = d.path().join("api.toml");
        std::fs::write(&other, text.replace("name = \"web\"", "name = \"api\"").replace("AppECS-demo-web", "AppECS-demo-api"))
            .expect("write");
        args.extend(["-f".into(), other.display().to_string()]);
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fgdeploy"))
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !seen.contains("checking http://127.0.0.1") {
        let line = rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())).expect("the checks start");
        seen.push_str(&line);
        seen.push('\n');
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    for _ in 0..signals {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(started.elapsed().as_secs() < 20, "the release did not end within 20 s of the interrupt");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err).expect("stderr");
    seen.extend(rx.try_iter().map(|l| l + "\n"));
    (status.code().unwrap_or(-1), format!("{seen}{err}"))
}

#[test]
fn one_sigint_rolls_back_as_an_interrupt() {
    let (code, out) = release_interrupted("rollback", 1);
    assert_eq!(code, exit::ROLLED_BACK, "{out}");
    assert!(out.contains("interrupted by the operator"), "{out}");
}

#[test]
fn one_sigint_detaches_when_asked() {
    let (code, out) = release_interrupted("detach", 1);
    assert_eq!(code, exit::DETACHED, "{out}");
    assert!(out.contains("goes on without fgdeploy"), "{out}");
}

#[test]
fn a_second_sigint_exits_at_once_with_130() {
    let (code, out) = release_interrupted("rollback", 2);
    assert_eq!(code, 130, "{out}");
    assert!(out.contains("second interrupt"), "{out}");
}

#[test]
fn an_unreachable_endpoint_fails_within_30_s_naming_it_and_saying_it_retries() {
    let (_d, spec) = spec_dir("");
    // A loopback port nobody listens on: every connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let out = Test::new()
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .args(["plan", "-f", spec.to_str().expect("utf-8")])
        .status(exit::AWS);
    let took = started.elapsed();
    assert!(took.as_secs() < 30, "took {took:?}");
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains(&format!("cannot reach {endpoint}")), "{all}");
    assert!(all.contains("retrying"), "it said it retries: {all}");
    println!("unreachable endpoint: failed after {took:?}");
}

#[test]
fn color_always_and_never() {
    let (_d, spec) = spec_dir("");
    let f = spec.to_str().expect("utf-8");
    // NO_COLOR is set by the harness and stdout is a pipe: `always` still paints, `never` never.
    let out =
        Test::new().args(["release", "--sandbox", "--scenario", "fail-start", "--color", "always", "-f", f]).status(exit::ROLLED_BACK);
    assert!(out.stdout.contains("\x1b["), "{}", out.stdout);
    // #26: the report is coloured by severity: its verdict red, its fix bold, its evidence plain.
    let why = out.stdout.lines().find(|l| l.contains("why: ")).expect("the report");
    assert!(why.contains("\x1b[1;31m") && why.ends_with("\x1b[0m"), "{why:?}");
    let fix = out.stdout.lines().find(|l| l.contains("fix: ")).expect("the fix");
    assert!(fix.starts_with("\x1b[1m"), "{fix:?}");
    assert!(out.stdout.lines().any(|l| l.contains("stopped tasks of") && !l.contains('\x1b')), "{}", out.stdout);
    let out = Test::new()
        .env("TERM", "xterm")
        .args(["release", "--sandbox", "--scenario", "fail-start", "--color", "never", "-f", f])
        .status(exit::ROLLED_BACK);
    assert!(!out.stdout.contains('\x1b'), "{}", out.stdout);
}

#[test]
fn one_sigint_ends_a_fleet_whose_services_all_hang_in_their_checks() {
    let (code, out) = release_interrupted_fleet("rollback", 1, true);
    assert_eq!(code, exit::ROLLED_BACK, "{out}");
    assert!(out.contains("api") && out.contains("web"), "{out}");
}

#[test]
fn image_tag_replaces_the_default_git_tag_and_an_unwritable_summary_is_refused_first() {
    // A deployspec with the default tag ({{ git.sha }}) in a folder that is no git checkout:
    // --image-tag means git is never asked.
    let (d, _) = spec_dir("");
    let spec = d.path().join("nogit.toml");
    std::fs::write(
        &spec,
        "[service]\ncluster = \"demo\"\nname = \"web\"\n[image]\nrepository = \"web\"\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n",
    )
    .expect("write");
    let f = spec.to_str().expect("utf-8");
    Test::new().args(["validate", "-f", f]).status(exit::INPUT).stderr_has("git.sha");
    Test::new().args(["validate", "--image-tag", "v7", "-f", f]).status(exit::OK);
    Test::new().args(["release", "--sandbox", "--image-tag", "v7", "-f", f]).status(exit::OK);
    // --summary-file in a folder that does not exist: refused before anything runs.
    let out = Test::new()
        .args(["release", "--sandbox", "--image-tag", "v7", "--summary-file", "/nonexistent-folder/summary.json", "-f", f])
        .status(exit::INPUT);
    out.stderr_has("--summary-file");
    assert!(!out.stdout.contains("▶ deploy"), "{}", out.stdout);
}

#[test]
fn history_lists_the_sandbox_services_deployments_newest_first() {
    let out = Test::new()
        .dir(root())
        .args(["history", "-f", "deployspecs/example.toml", "--sandbox", "--image-tag", "v2", "--output", "json"])
        .status(exit::OK);
    let doc = out.events().into_iter().find(|e| e["event"] == "history").expect("history document");
    let entries = doc["history"]["entries"].as_array().expect("entries").clone();
    let revisions: Vec<&str> = entries.iter().filter_map(|e| e["task_definition"].as_str()).collect();
    assert!(revisions.len() == 2 && revisions[0].ends_with("web:2") && revisions[1].ends_with("web:1"), "{revisions:?}");
    assert!(entries[0]["image"].as_str().is_some_and(|i| i.ends_with("web:previous")), "{}", entries[0]);
    assert_eq!(entries[0]["status"], "SUCCESSFUL");
    assert!(entries[0]["created_at"].as_f64() > entries[1]["created_at"].as_f64());
    let one = Test::new()
        .dir(root())
        .args(["history", "-f", "deployspecs/example.toml", "--sandbox", "--image-tag", "v2", "--limit", "1"])
        .status(exit::OK);
    one.stdout_has("web:2").stdout_has("SUCCESSFUL");
    assert!(!one.stdout.contains("web:1 "), "{}", one.stdout);
    let bad = Test::new().dir(root()).args(["history", "-f", "deployspecs/example.toml", "--sandbox", "--limit", "0"]).status(exit::INPUT);
    bad.stderr_has("--limit").stderr_has("1 to 100");
}

#[test]
fn wait_in_the_sandbox_reports_the_finished_deployment_or_names_a_missing_one() {
    let out = Test::new()
        .dir(root())
        .args(["wait", "-f", "deployspecs/example.toml", "--sandbox", "--image-tag", "v2", "--output", "json"])
        .status(exit::OK);
    let fin = out.events().into_iter().find(|e| e["event"] == "finished").expect("a terminal event");
    assert_eq!(fin["outcome"], "already-finished");
    let out = Test::new()
        .dir(root())
        .args(["wait", "-f", "deployspecs/example.toml", "--sandbox", "--image-tag", "v2", "--deployment", "ecs-svc/123"])
        .status(exit::INPUT);
    out.stderr_has("ecs-svc/123").stderr_has("fgdeploy history");
}

/// Without -f the deployspec is found upward: `fgdeploy.toml` in a folder above, or the
/// `deployspecs/` folder (a fleet for plan; one file required for single-service commands).
#[test]
fn without_f_the_deployspec_is_found_upward() {
    let (dir, path) = crate::harness::spec_dir("");
    std::fs::rename(&path, dir.path().join("fgdeploy.toml")).expect("rename");
    let deep = dir.path().join("src/handlers");
    std::fs::create_dir_all(&deep).expect("dirs");
    std::fs::create_dir_all(dir.path().join(".git")).expect("a repository root");
    Test::new().dir(&deep).args(["validate"]).status(exit::OK).stdout_has("fgdeploy.toml");
    Test::new().dir(&deep).args(["plan", "--sandbox"]).status(exit::CHANGES).stdout_has("Plan for service web");
    // -f still wins.
    let (_other_dir, other) = crate::harness::spec_dir("");
    Test::new()
        .dir(&deep)
        .args(["validate", "-f", other.to_str().expect("utf-8")])
        .status(exit::OK)
        .stdout_has(other.to_str().expect("utf-8"));
    // Nothing to find: exit 3 with the way out.
    let empty = tempfile::tempdir().expect("dir");
    std::fs::create_dir_all(empty.path().join(".git")).expect("root");
    Test::new().dir(empty.path()).args(["status"]).status(exit::INPUT).stderr_has("none found").stderr_has("-f");
}

// ----- #23: the scenarios of AWS as it behaves, from the CLI, on the example deployspecs -------

/// `release -f <spec> --sandbox --scenario <s> --output json`: the finished event.
fn scenario_run(spec: &str, scenario: &str) -> (serde_json::Value, Vec<serde_json::Value>) {
    let out = Test::new()
        .dir(root())
        .args(["release", "-f", spec, "--sandbox", "--image-tag", "v2", "--scenario", scenario, "--output", "json"])
        .status(exit::OK);
    let events = out.events();
    let finished = events.iter().find(|e| e["event"] == "finished").cloned().expect("a finished event");
    (finished, events)
}

#[test]
fn termination_wait_ends_deployed_within_the_deadline_without_stop_deployment() {
    // CodeDeploy never sets instanceTerminationWaitTimeStarted; the group waits 60 min.
    let (f, _) = scenario_run("deployspecs/bluegreen.toml", "termination-wait");
    assert_eq!(f["exit_code"], 0, "{f}");
    assert!(f["api_calls"].get("codedeploy:StopDeployment").is_none(), "{f}");
    assert!(f["secs"].as_f64().expect("secs") < 30.0 * 60.0, "well inside deploy.timeout: {f}");
}

#[test]
fn existing_hooks_are_kept_and_only_fgdeploys_own_hook_is_answered() {
    let (f, events) = scenario_run("deployspecs/native.toml", "existing-hooks");
    assert_eq!(f["exit_code"], 0, "{f}");
    assert_eq!(f["api_calls"]["ecs:ContinueServiceDeployment"], 1, "fgdeploy answered its own gate only: {f}");
    assert_eq!(f["api_calls"]["ecs:UpdateService"], 2, "the release, then its hook removed: {f}");
    assert!(events.iter().any(|e| e["message"].as_str().is_some_and(|m| m.contains("removed fgdeploy's PAUSE hook"))));
}

#[test]
fn a_sidecar_exiting_143_after_the_migration_passes_the_gate() {
    let (f, events) = scenario_run("deployspecs/migration.toml", "sidecar-sigterm");
    assert_eq!(f["exit_code"], 0, "{f}");
    let stopped = events.iter().find(|e| e["event"] == "task_stopped").expect("the migration task stopped");
    let codes = stopped["exit_codes"].to_string();
    assert!(codes.contains("log-router") && codes.contains("143"), "{stopped}");
}

#[test]
fn access_denied_on_the_service_deployment_api_follows_the_deployment_by_id() {
    let (f, events) = scenario_run("deployspecs/example.toml", "access-denied");
    assert_eq!(f["exit_code"], 0, "{f}");
    let said = events.iter().filter(|e| e["message"].as_str().is_some_and(|m| m.contains("service-deployment API cannot be used"))).count();
    assert_eq!(said, 1, "said once");
}

#[test]
fn a_gate_answered_first_by_someone_else_is_exit_11_in_both_blue_green_kinds() {
    for spec in ["deployspecs/bluegreen.toml", "deployspecs/native.toml"] {
        let out = Test::new()
            .dir(root())
            .args(["release", "-f", spec, "--sandbox", "--image-tag", "v2", "--scenario", "answered-first", "--output", "json"])
            .status(exit::GATE_BYPASSED);
        let events = out.events();
        let f = events.iter().find(|e| e["event"] == "finished").expect("finished");
        let calls = f["api_calls"].as_object().expect("calls");
        assert!(!calls.contains_key("codedeploy:StopDeployment") && !calls.contains_key("ecs:StopServiceDeployment"), "{spec}: {f}");
    }
}

/// The report of a release's output: from its `why:` line to the release's summary line.
fn report_of(scenario: &str, stdout: &str) -> Vec<String> {
    let why = stdout.lines().position(|l| l.contains("why: ")).unwrap_or_else(|| panic!("{scenario}: no report\n{stdout}"));
    stdout.lines().skip(why).take_while(|l| !l.contains(" (exit ")).map(str::to_string).collect()
}

/// #26: a failed release ends with one page that says why: its first line names the cause, the
/// next the fix, then the evidence (stopped tasks with their exit codes, the load balancer's
/// targets, the alarms, the service's events). The JSON stream carries the same report (checked
/// against the generated schema by the harness). Each class's report is a snapshot.
#[test]
fn a_failed_release_says_why_on_one_page() {
    let (_d, alarmed) = spec_dir("\n[deploy.rolling]\nalarms = [\"web-5xx\"]\n");
    let alarmed = alarmed.to_str().expect("utf-8").to_string();
    let cases = [
        (
            "fail-start",
            "why: image pull failed: the image does not exist in its registry",
            "fix: push the image",
            "stopped tasks of ecs-svc/",
        ),
        (
            "secret-fetch",
            "why: a secret or parameter could not be fetched when the task started",
            "secretsmanager:GetSecretValue",
            "stopped tasks of ecs-svc/",
        ),
        ("out-of-memory", "why: container web ran out of memory", "fix: raise the task's (or the container's) memory", "exit 137"),
        (
            "unhealthy",
            "the target group says Target.ResponseCodeMismatch",
            "the target group checks HTTP / on port traffic-port and takes 200",
            "load balancer targets",
        ),
        (
            "alarm",
            "why: a deployment alarm went into ALARM: web-5xx (AWS/ApplicationELB HTTPCode_Target_5XX_Count, GreaterThanThreshold 5.0): Threshold Crossed",
            "fix: the new revision moved AWS/ApplicationELB HTTPCode_Target_5XX_Count",
            "web-5xx Alarm updated from OK to ALARM",
        ),
        ("no-capacity", "why: Fargate had no capacity", "other Availability Zones", "Capacity is unavailable at this time"),
    ];
    for (scenario, cause, fix, evidence) in cases {
        let spec = if scenario == "alarm" { alarmed.as_str() } else { "deployspecs/example.toml" };
        let args = ["release", "-f", spec, "--sandbox", "--scenario", scenario, "--image-tag", "v2"];
        let out = Test::new().dir(root()).args(args).run();
        assert!(out.code == exit::ROLLED_BACK || out.code == exit::MANUAL_ACTION, "{scenario}: exit {}\n{}", out.code, out.stdout);
        let lines = report_of(scenario, &out.stdout);
        assert!(lines[0].contains(cause), "{scenario}: the first line names the cause: {}", lines[0]);
        assert!(lines[1].contains(fix), "{scenario}: the second the fix: {}", lines[1]);
        assert!(lines.iter().any(|l| l.contains(evidence)), "{scenario}: the evidence\n{}", out.stdout);
        // The timeline: ECS's events and fgdeploy's own decisions, with their times.
        assert!(lines.iter().any(|l| l.contains(" fgdeploy started deployment ecs-svc/")), "{scenario}: decisions\n{}", out.stdout);
        assert!(lines.iter().any(|l| l.contains(" ECS      (service web)")), "{scenario}: ECS's events\n{}", out.stdout);
        snapshot(&format!("why-{scenario}"), &lines.join("\n"));
        let json = Test::new().dir(root()).args(args).args(["--output", "json"]).run();
        let report = json.events().into_iter().find(|e| e["event"] == "report").unwrap_or_else(|| panic!("{scenario}: no report event"));
        assert!(report["report"]["evidence"]["calls"].as_u64().is_some_and(|c| c as usize <= fgdeploy::engine::report::MAX_CALLS));
    }
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("report.json");
    let out = Test::new()
        .dir(root())
        .args(["release", "-f", "deployspecs/example.toml", "--sandbox", "--scenario", "out-of-memory", "--image-tag", "v2"])
        .args(["--report", file.to_str().expect("utf-8")])
        .run();
    snapshot("report-out-of-memory", &out.stdout);
    // `--report FILE`: the same report as JSON, valid against its generated schema.
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("report written")).expect("json");
    crate::harness::check_json(&doc, "report");
    assert_eq!(doc["diagnosis"]["cause"]["class"], "out_of_memory", "{doc}");
}

/// (section, name, tags, start, seconds) of one gantt task.
type GanttTask = (String, String, Vec<String>, i64, i64);

/// The Mermaid gantt grammar fgdeploy writes, parsed (not read by eye): `gantt`, then `title`,
/// `dateFormat X` (seconds), `axisFormat`, `section` lines, and tasks `name :tags, id, start,
/// duration` with known tags, unique ids, a whole-second start and a duration with its unit,
/// every task inside a section. Returns (section, name, tags, start, seconds) per task.
fn parse_gantt(block: &str) -> Result<Vec<GanttTask>, String> {
    let mut lines = block.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some("gantt") {
        return Err("a gantt chart starts with `gantt`".into());
    }
    let (mut tasks, mut ids, mut section, mut date_format) = (Vec::new(), std::collections::BTreeSet::new(), None::<String>, None);
    for l in lines {
        if l.starts_with("title ") || l.starts_with("axisFormat ") {
            continue;
        }
        if let Some(f) = l.strip_prefix("dateFormat ") {
            date_format = Some(f.to_string());
            continue;
        }
        if let Some(s) = l.strip_prefix("section ") {
            section = Some(s.to_string());
            continue;
        }
        let (name, rest) = l.split_once(':').ok_or(format!("not a task: {l}"))?;
        let parts: Vec<&str> = rest.split(',').map(str::trim).collect();
        let [tags @ .., id, start, len] = &parts[..] else { return Err(format!("a task needs id, start and duration: {l}")) };
        if let Some(t) = tags.iter().find(|t| !["done", "active", "crit", "milestone"].contains(t)) {
            return Err(format!("unknown tag {t}: {l}"));
        }
        if !id.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("bad id {id}"));
        }
        if !ids.insert(id.to_string()) {
            return Err(format!("duplicate id {id}"));
        }
        let start: i64 = start.parse().map_err(|_| format!("start is not whole seconds: {l}"))?;
        let unit = ["ms", "s", "m", "h", "d", "w"].iter().find(|u| len.ends_with(*u)).ok_or(format!("duration without a unit: {l}"))?;
        let secs: i64 = len.trim_end_matches(unit).parse().map_err(|_| format!("bad duration: {l}"))?;
        let sec = section.clone().ok_or(format!("a task outside a section: {l}"))?;
        tasks.push((sec, name.trim().to_string(), tags.iter().map(|t| t.to_string()).collect(), start, secs));
    }
    if date_format.as_deref() != Some("X") {
        return Err(format!("dateFormat must be X (seconds): {date_format:?}"));
    }
    Ok(tasks)
}

fn mermaid_block(markdown: &str) -> &str {
    let start = markdown.find("```mermaid\n").expect("a mermaid block") + "```mermaid\n".len();
    let len = markdown[start..].find("```").expect("the block ends");
    &markdown[start..start + len]
}

/// #26: every release leaves a GitHub step summary when `GITHUB_STEP_SUMMARY` is set: a table of
/// what was released and a Mermaid gantt of its stages (parsed here); a failed release adds the
/// report's verdict and, folded, its evidence, with the failed stage and the rollback marked.
#[test]
fn every_release_leaves_a_step_summary_with_a_gantt_of_its_stages() {
    let dir = tempfile::tempdir().expect("dir");
    let ok = dir.path().join("ok.md");
    let args = ["release", "-f", "deployspecs/example.toml", "--sandbox", "--image-tag", "v2"];
    Test::new().dir(root()).env("GITHUB_STEP_SUMMARY", ok.to_str().expect("utf-8")).args(args).status(exit::OK);
    let md = std::fs::read_to_string(&ok).expect("summary written");
    assert!(md.contains("| outcome | deployed (exit 0) |") && md.contains("| deployment | `ecs-svc/"), "{md}");
    let tasks = parse_gantt(mermaid_block(&md)).unwrap_or_else(|e| panic!("{e}\n{md}"));
    let names: Vec<&str> = tasks.iter().map(|t| t.1.as_str()).collect();
    assert!(names.contains(&"deploy") && names.contains(&"verify"), "{names:?}");
    assert!(tasks.iter().all(|t| t.2 == ["done"]), "a successful release has every stage done: {tasks:?}");
    assert!(tasks.windows(2).all(|w| w[0].3 <= w[1].3), "stages in order: {tasks:?}");

    let failed = dir.path().join("failed.md");
    Test::new()
        .dir(root())
        .env("GITHUB_STEP_SUMMARY", failed.to_str().expect("utf-8"))
        .args(args)
        .args(["--scenario", "fail-start"])
        .status(exit::ROLLED_BACK);
    let md = std::fs::read_to_string(&failed).expect("summary written");
    assert!(md.contains("**Why:** image pull failed") && md.contains("<details><summary>The evidence</summary>"), "{md}");
    let tasks = parse_gantt(mermaid_block(&md)).unwrap_or_else(|e| panic!("{e}\n{md}"));
    assert!(tasks.iter().any(|t| t.1 == "deploy" && t.2 == ["crit"]), "the failed stage is marked: {tasks:?}");
    assert!(tasks.iter().any(|t| t.0 == "rollback"), "the rollback has its section: {tasks:?}");
    // A blue/green release charts its traffic steps too.
    let bg = dir.path().join("bg.md");
    Test::new()
        .dir(root())
        .env("GITHUB_STEP_SUMMARY", bg.to_str().expect("utf-8"))
        .args(["release", "-f", "deployspecs/bluegreen.toml", "--sandbox", "--image-tag", "v2"])
        .status(exit::OK);
    let md = std::fs::read_to_string(&bg).expect("summary written");
    let tasks = parse_gantt(mermaid_block(&md)).unwrap_or_else(|e| panic!("{e}\n{md}"));
    let steps: Vec<&str> = tasks.iter().filter(|t| t.0 == "deployment").map(|t| t.1.as_str()).collect();
    assert!(steps.first().is_some_and(|s| s.starts_with("green ")) && steps.contains(&"green 100%"), "{steps:?}\n{md}");
    // The parser is not vacuous.
    assert!(parse_gantt("gantt\n    dateFormat X\n    build :done, s0, 0, 40s").is_err(), "a task outside a section");
    assert!(parse_gantt("gantt\n    dateFormat X\n    section a\n    x :done, s0, 0, 40").is_err(), "a duration without unit");
    assert!(parse_gantt("gantt\n    dateFormat X\n    section a\n    x :done, s0, 0, 4s\n    y :done, s0, 4, 4s").is_err(), "ids unique");
}

/// #27: someone else's deployment mid-release: exit 13 (superseded), naming the newer revision
/// and deployment, in the terminal and in the JSON stream; no rollback.
#[test]
fn a_release_replaced_by_someone_elses_deployment_is_superseded() {
    let args = ["release", "-f", "deployspecs/example.toml", "--sandbox", "--scenario", "foreign-deploy", "--image-tag", "v2"];
    let out = Test::new().dir(root()).args(args).status(exit::SUPERSEDED);
    out.stderr_has("superseded: arn:aws:ecs:")
        .stderr_has("(deployment ecs-svc/")
        .stderr_has("does not roll back someone else's deployment");
    assert!(!out.stdout.contains("rolling back to"), "{}", out.stdout);
    let json = Test::new().dir(root()).args(args).args(["--output", "json"]).status(exit::SUPERSEDED);
    let finished = json.events().into_iter().find(|e| e["event"] == "finished").expect("finished");
    assert_eq!((finished["outcome"].as_str(), finished["exit_code"].as_i64()), (Some("superseded"), Some(13)), "{finished}");
}

/// #27: `--sandbox-state FILE` keeps the simulated account between processes: a release, then
/// `status` sees it, then `rollback` returns to the revision before, on the same account.
#[test]
fn a_persistent_sandbox_rehearses_release_status_and_rollback() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("account.json");
    let s = state.to_str().expect("utf-8");
    let spec = ["-f", "deployspecs/example.toml", "--sandbox", "--sandbox-state", s];
    Test::new().dir(root()).args(["release"]).args(spec).args(["--image-tag", "v2"]).status(exit::OK).stdout_has("task-definition/web:3");
    assert!(state.is_file(), "the account is saved");
    Test::new()
        .dir(root())
        .args(["status"])
        .args(spec)
        .status(exit::OK)
        .stdout_has("task definition: arn:aws:ecs:us-east-1:123456789012:task-definition/web:3");
    Test::new()
        .dir(root())
        .args(["rollback"])
        .args(spec)
        .status(exit::OK)
        .stdout_has("serving arn:aws:ecs:us-east-1:123456789012:task-definition/web:2");
    Test::new()
        .dir(root())
        .args(["status"])
        .args(spec)
        .status(exit::OK)
        .stdout_has("task definition: arn:aws:ecs:us-east-1:123456789012:task-definition/web:2");
    std::fs::write(&state, "not json").expect("write");
    Test::new().dir(root()).args(["status"]).args(spec).status(exit::INPUT).stderr_has("--sandbox-state");
}

/// #27: the plan shows what happens if the runner dies: a rolling deployment goes on under ECS's
/// own breaker; an ECS-native gated one ends in ROLLBACK when fgdeploy's PAUSE hook times out
/// (`deploy.blue_green.gate_timeout`, sent as the hook's timeout); CodeDeploy's Ready wait.
#[test]
fn the_plan_shows_the_dead_mans_switch() {
    let plan = |spec: &str| Test::new().dir(root()).args(["plan", "-f", spec, "--sandbox", "--image-tag", "v2"]).status(exit::CHANGES);
    plan("deployspecs/example.toml").stdout_has("if this runner dies mid-rollout: ECS finishes the deployment by itself");
    plan("deployspecs/native.toml").stdout_has("fgdeploy's PAUSE hook times out after").stdout_has("deploy.blue_green.gate_timeout");
    plan("deployspecs/bluegreen.toml").stdout_has("the CodeDeploy group's Ready wait ends it");
}
