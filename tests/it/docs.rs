//! The documentation cannot drift: the configuration reference against the deployspec types, the
//! IAM policy against the AWS operations the code calls, the workflows against the CLI.

use crate::harness::Test;
use fgdeploy::spec::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(p: &str) -> String {
    std::fs::read_to_string(root().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// Every field of the deployspec, spelled out without `..` so that a new field does not compile
/// until it is added here — and then the README must document it.
fn every_field() -> SpecFile {
    SpecFile {
        service: ServiceSection {
            cluster: "c".into(),
            name: "s".into(),
            region: Some("r".into()),
            desired_count: Some(1),
            depends_on: vec![],
            definition: Some(every_service_field()),
        },
        image: ImageSection { repository: "r".into(), tag: "t".into(), create_repository: true, pin_digest: true },
        build: Some(every_build_field()),
        sidecar_builds: [(
            "<container>".to_string(),
            BuildSection { repository: Some("r".into()), tag: Some("t".into()), create_repository: Some(true), ..every_build_field() },
        )]
        .into(),
        task_definition: TaskDefinitionSection {
            template: "t.json".into(),
            container: "web".into(),
            keep_revisions: Some(3),
            allow_pinned_image: true,
            secret_patterns: vec!["SESSION".into()],
            allow_plaintext: vec!["containerDefinitions[web].environment[GREETING]".into()],
            redact: vec!["DEPLOY_TOKEN".into()],
        },
        migration: Some(MigrationSection {
            command: vec!["m".into()],
            container: Some("web".into()),
            timeout: Duration::from_secs(1),
            subnets: Some(vec![]),
            security_groups: Some(vec![]),
            assign_public_ip: Some(false),
            capacity_providers: vec![],
            platform_version: Some("LATEST".into()),
        }),
        deploy: DeploySection {
            strategy: Strategy::Rolling,
            timeout: Duration::from_secs(1),
            suspend_autoscaling: true,
            watch: fgdeploy::spec::WatchMode::Events,
            rolling: RollingSection {
                minimum_healthy_percent: 100,
                maximum_percent: 200,
                circuit_breaker: true,
                circuit_breaker_rollback: true,
                circuit_breaker_reset_on_healthy_task: Some(false),
                circuit_breaker_threshold: Some(ThresholdSection { kind: "COUNT".into(), value: 5 }),
                alarms: vec![],
                alarm_rollback: true,
            },
            blue_green: Some(BlueGreenSection {
                application: Some("a".into()),
                deployment_group: Some("g".into()),
                deployment_config: Some("c".into()),
                container_port: 80,
                test_url: Some("http://x".into()),
                checks: vec![CheckSection {
                    path: "/".into(),
                    status: 200,
                    body_contains: Some("ok".into()),
                    consecutive: 3,
                    header: Some("x".into()),
                    timeout: Duration::from_secs(1),
                    headers: Default::default(),
                }],
                check_budget: Duration::from_secs(1),
                ca_file: Some("ca.pem".into()),
                production_checks: true,
                production_url: Some("http://p".into()),
                hooks: Default::default(),
                platform_version: Some("LATEST".into()),
                subnets: Some(vec![]),
                security_groups: Some(vec![]),
                assign_public_ip: Some(false),
                capacity_providers: vec![],
                ecs_strategy: fgdeploy::states::DeploymentStrategy::Linear,
                bake_time_minutes: 5,
                linear_step_percent: Some(10.0),
                linear_step_bake_minutes: Some(1),
                canary_percent: Some(5.0),
                canary_bake_minutes: Some(10),
                alternate_target_group_arn: Some("tg".into()),
                production_listener_rule: Some("rule".into()),
                test_listener_rule: Some("rule".into()),
                load_balancer_role_arn: Some("role".into()),
                gate_timeout: Some(Duration::from_secs(1800)),
            }),
        },
        rollback: RollbackSection { automatic: true, on_interrupt: OnInterrupt::Rollback, timeout: Duration::from_secs(1) },
        lock: Some(LockSection {
            bucket: "b".into(),
            prefix: "p".into(),
            ttl: Duration::from_secs(60),
            wait: Duration::from_secs(60),
            on_stale: OnStale::WaitForIt,
        }),
        lookups: Some(fgdeploy::spec::LookupsSection { tfstate_file: Some("s".into()), tfstate_url: Some("s3://b/k".into()) }),
        analysis: Some(AnalysisSection {
            metrics: vec![MetricSection {
                metric: "custom".into(),
                name: Some("n".into()),
                query: Some("q".into()),
                direction: Direction::LowerIsWorse,
                tolerance: ToleranceSection { relative: 0.1, absolute: 0.0 },
                critical: false,
            }],
            confidence: 0.99,
            min_requests: 1,
            min_minutes: 1,
            pass_score: 75.0,
            publication_delay: Duration::from_secs(60),
            max_extension: Duration::from_secs(60),
            on_inconclusive: OnInconclusive::Rollback,
        }),
    }
}

/// Every field of `[service.definition]`, spelled out.
/// A build with every key (the `[build.<container>]`-only keys unset, as `[build]` has them).
fn every_build_field() -> BuildSection {
    BuildSection {
        context: ".".into(),
        dockerfile: "Dockerfile".into(),
        target: Some("t".into()),
        args: Default::default(),
        platform: Some("linux/amd64".into()),
        cache: true,
        command: Some(vec!["x".into()]),
        repository: None,
        tag: None,
        create_repository: None,
    }
}

pub(crate) fn every_service_field() -> fgdeploy::servicedef::ServiceDefinition {
    use fgdeploy::servicedef::*;
    ServiceDefinition {
        network: Some(NetworkDef { subnets: Some(vec![]), security_groups: Some(vec![]), assign_public_ip: Some(false) }),
        capacity_provider_strategy: Some(vec![CapacityProviderItem { capacity_provider: "FARGATE".into(), base: 0, weight: 1 }]),
        platform_version: Some("LATEST".into()),
        load_balancers: Some(vec![LoadBalancerDef {
            target_group_arn: "t".into(),
            container_name: "c".into(),
            container_port: 1,
            advanced: None,
        }]),
        health_check_grace_period_seconds: Some(1),
        service_registries: Some(vec![ServiceRegistry {
            registry_arn: "r".into(),
            port: Some(1),
            container_name: Some("c".into()),
            container_port: Some(1),
        }]),
        service_connect: Some(ServiceConnect {
            enabled: true,
            namespace: Some("n".into()),
            services: vec![ServiceConnectService {
                port_name: "p".into(),
                discovery_name: Some("d".into()),
                client_aliases: vec![ClientAlias {
                    port: 1,
                    dns_name: Some("d".into()),
                    test_traffic_header: Some(fgdeploy::servicedef::TestTrafficHeader { name: "x-green".into(), exact: Some("1".into()) }),
                }],
                ingress_port_override: Some(1),
                timeout: Some(ConnectTimeout { idle_timeout_seconds: Some(1), per_request_timeout_seconds: Some(1) }),
                tls: Some(ConnectTls { aws_pca_authority_arn: Some("a".into()), kms_key: Some("k".into()), role_arn: Some("r".into()) }),
            }],
            log_configuration: Some(ConnectLog {
                log_driver: "awslogs".into(),
                options: Default::default(),
                secret_options: vec![ConnectSecret { name: "n".into(), value_from: "v".into() }],
            }),
            access_log: Some(ConnectAccessLog { format: "JSON".into(), include_query_parameters: Some("ENABLED".into()) }),
        }),
        enable_execute_command: Some(true),
        enable_ecs_managed_tags: Some(true),
        propagate_tags: Some(PropagateTags::Service),
        availability_zone_rebalancing: Some(AzRebalancing::Enabled),
        deployment_controller: Some(Controller::Ecs),
        volume_configurations: Some(vec![VolumeConfiguration {
            name: "v".into(),
            managed_ebs_volume: Some(ManagedEbsVolume {
                role_arn: "r".into(),
                encrypted: Some(true),
                kms_key_id: Some("k".into()),
                volume_type: Some("gp3".into()),
                size_in_gib: Some(1),
                snapshot_id: Some("s".into()),
                volume_initialization_rate: Some(100),
                iops: Some(3000),
                throughput: Some(125),
                filesystem_type: Some("ext4".into()),
                tag_specifications: vec![EbsTagSpecification {
                    resource_type: "volume".into(),
                    tags: Default::default(),
                    propagate_tags: Some("SERVICE".into()),
                }],
            }),
        }]),
        vpc_lattice: Some(vec![VpcLattice {
            role_arn: "r".into(),
            target_group_arn: "t".into(),
            port_name: "p".into(),
            alternate_target_group_arn: Some("a".into()),
            production_listener_rule: Some("p".into()),
            test_listener_rule: Some("t".into()),
        }]),
        tags: Some(Default::default()),
    }
}

fn key_paths(v: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) if !m.is_empty() => {
            for (k, val) in m {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                key_paths(val, &p, out);
            }
        }
        serde_json::Value::Array(a) if a.first().is_some_and(|x| x.is_object()) => {
            let p = format!("{prefix}[]");
            out.insert(p.clone());
            key_paths(&a[0], &p, out);
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

#[test]
fn the_configuration_reference_matches_the_deployspec_types() {
    let mut fields = BTreeSet::new();
    let spec = every_field();
    let mut value = serde_json::to_value(&spec).expect("json");
    // `[build.<container>]` tables are read apart from `[build]` (serde skips them): put them back.
    for (c, b) in &spec.sidecar_builds {
        value["build"][c] = serde_json::to_value(b).expect("json");
    }
    key_paths(&value, "", &mut fields);
    let readme = read("README.md");
    let section =
        readme.split("## Configuration reference").nth(1).expect("a configuration reference").split("\n## ").next().expect("section");
    let rows: Vec<(String, String)> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| {
            let key = l.trim_start_matches("| `").split('`').next()?.to_string();
            Some((key, l.to_string()))
        })
        .collect();
    let documented: BTreeSet<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
    let mut missing = Vec::new();
    for f in &fields {
        // Fields of a list of tables are documented in the list's row.
        if let Some((list, field)) = f.split_once("[].") {
            let row = rows.iter().find(|(k, _)| k == &format!("{list}[]"));
            if !row.is_some_and(|(_, text)| text.contains(&format!("`{field}`"))) {
                missing.push(f.clone());
            }
        } else if !documented.contains(f.as_str()) {
            missing.push(f.clone());
        }
    }
    assert!(missing.is_empty(), "deployspec keys missing from the README's configuration reference: {missing:?}");
    let unknown: Vec<&&str> = documented
        .iter()
        .filter(|d| !fields.iter().any(|f| f == **d || f.starts_with(&format!("{d}.")) || f.starts_with(&format!("{d}[]"))))
        .collect();
    assert!(unknown.is_empty(), "the README documents keys the deployspec does not have: {unknown:?}");
}

#[test]
fn the_iam_policy_covers_every_aws_operation_the_code_calls() {
    let policy: serde_json::Value = serde_json::from_str(&read("docs/iam-policy.json")).expect("docs/iam-policy.json is JSON");
    let mut allowed = BTreeSet::new();
    for st in policy["Statement"].as_array().expect("statements") {
        match &st["Action"] {
            serde_json::Value::String(a) => {
                allowed.insert(a.clone());
            }
            serde_json::Value::Array(a) => allowed.extend(a.iter().filter_map(|x| x.as_str().map(str::to_string))),
            _ => panic!("bad Action in {st}"),
        }
    }
    // Every operation the SDK adapter calls is named once as `let op = "service:Operation"`.
    let mut called = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("src/aws")).expect("src/aws") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        for part in text.split("let op = \"").skip(1) {
            called.insert(part.split('"').next().expect("op").to_string());
        }
    }
    assert!(called.len() >= 15, "found only {called:?}");
    let missing: Vec<_> = called.iter().filter(|op| !allowed.contains(*op)).collect();
    assert!(missing.is_empty(), "docs/iam-policy.json lacks {missing:?}");
}

#[test]
fn workflows_parse_and_call_real_commands() {
    let cmd = <fgdeploy::cli::Cli as clap::CommandFactory>::command();
    let mut files = Vec::new();
    for dir in [".github/workflows", ".github/workflow-examples"] {
        for e in std::fs::read_dir(root().join(dir)).expect(dir) {
            files.push(e.expect("entry").path());
        }
    }
    assert!(files.len() >= 3, "{files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let y: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let jobs = y.get("jobs").and_then(|j| j.as_mapping()).unwrap_or_else(|| panic!("{}: no jobs", f.display()));
        assert!(!jobs.is_empty());
        for (name, job) in jobs {
            let steps =
                job.get("steps").and_then(|s| s.as_sequence()).unwrap_or_else(|| panic!("{}: job {name:?} has no steps", f.display()));
            for step in steps {
                assert!(step.get("uses").is_some() || step.get("run").is_some(), "{}: a step neither uses nor runs", f.display());
                let Some(run) = step.get("run").and_then(|r| r.as_str()) else { continue };
                for line in run.lines() {
                    if line.contains("scripts/test") {
                        assert!(root().join("scripts/test").is_file());
                    }
                    let Some(rest) = line.trim().strip_prefix("fgdeploy ") else { continue };
                    let words: Vec<&str> = rest.split_whitespace().collect();
                    let sub = cmd
                        .find_subcommand(words[0])
                        .unwrap_or_else(|| panic!("{}: `fgdeploy {}` is not a command", f.display(), words[0]));
                    for w in words.iter().filter(|w| w.starts_with("--")) {
                        let flag = w.trim_start_matches("--");
                        let known = sub.get_arguments().chain(cmd.get_arguments()).any(|a| a.get_long() == Some(flag));
                        assert!(known, "{}: `fgdeploy {}` has no flag --{flag}", f.display(), words[0]);
                    }
                }
            }
        }
    }
}

#[test]
fn completions_and_man_page_generate() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = Test::new().args(["completions", shell]).status(0);
        assert!(out.stdout.contains("release") && out.stdout.len() > 500, "{shell}");
    }
    Test::new().args(["man"]).status(0).stdout_has(".TH fgdeploy 1").stdout_has("release");
}

#[test]
fn the_readme_documents_every_exit_code() {
    let readme = read("README.md");
    let table = readme.split("## Exit codes").nth(1).expect("an exit-code section");
    let codes: Vec<i32> = read("src/error.rs")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub const ").and_then(|l| l.split("i32 = ").nth(1)))
        .filter_map(|n| n.trim_end_matches(';').parse().ok())
        .collect();
    assert!(codes.len() >= 12, "{codes:?}");
    for c in codes {
        assert!(table.contains(&format!("\n| {c} |")), "exit code {c} is missing from the README's table");
    }
}

#[test]
fn every_json_event_and_document_follows_the_published_schemas() {
    use crate::harness::{Test, check_json, spec_dir};
    let (d, spec) = spec_dir("");
    let f = spec.to_str().expect("utf-8");
    let summary = d.path().join("summary.json");
    // The stream of a release (every line is checked by the harness), and its summary file.
    let out = Test::new()
        .args(["release", "--sandbox", "--output", "json", "--summary-file", summary.to_str().expect("utf-8"), "-f", f])
        .status(fgdeploy::error::exit::OK);
    assert!(out.events().iter().all(|e| e["schema_version"] == 1), "every event carries schema_version");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    check_json(&doc, "summary");
    assert!(doc["task_definition"].as_str().is_some_and(|t| t.contains("task-definition/web:")), "{doc}");
    // The documents: plan, status, rollback, validate; and an error.
    Test::new().args(["plan", "--sandbox", "--output", "json", "-f", f]).status(fgdeploy::error::exit::CHANGES);
    Test::new().args(["status", "--sandbox", "--output", "json", "-f", f]).status(fgdeploy::error::exit::OK);
    Test::new().args(["rollback", "--sandbox", "--dry-run", "--output", "json", "-f", f]).status(fgdeploy::error::exit::CHANGES);
    Test::new().args(["validate", "--output", "json", "-f", f]).status(fgdeploy::error::exit::OK);
    Test::new()
        .args(["release", "--sandbox", "--scenario", "fail-start", "--output", "json", "-f", f])
        .status(fgdeploy::error::exit::ROLLED_BACK);
    // The schemas are not vacuous: what breaks the contract is refused.
    let bad = serde_json::json!({"event": "finished", "schema_version": 1, "outcome": "deployed"});
    assert!(std::panic::catch_unwind(|| check_json(&bad, "events")).is_err(), "a finished event without exit_code");
    let unknown = serde_json::json!({"event": "no_such_event", "schema_version": 1});
    assert!(std::panic::catch_unwind(|| check_json(&unknown, "events")).is_err());
    let old = serde_json::json!({"event": "info", "message": "x"});
    assert!(std::panic::catch_unwind(|| check_json(&old, "events")).is_err(), "no schema_version");
}

/// The inputs of every action the workflows use, as their action.yml declares them at the major
/// version pinned (kept here by hand: a workflow passing an input the action does not have is
/// silently ignored by GitHub, so this test is the only thing that notices).
const ACTION_INPUTS: &[(&str, &[&str])] = &[
    (
        "actions/checkout@v6",
        &[
            "repository",
            "ref",
            "token",
            "ssh-key",
            "ssh-known-hosts",
            "ssh-strict",
            "ssh-user",
            "persist-credentials",
            "path",
            "clean",
            "filter",
            "sparse-checkout",
            "sparse-checkout-cone-mode",
            "fetch-depth",
            "fetch-tags",
            "show-progress",
            "lfs",
            "submodules",
            "set-safe-directory",
            "github-server-url",
        ],
    ),
    (
        "actions/setup-python@v6",
        &[
            "python-version",
            "python-version-file",
            "cache",
            "architecture",
            "check-latest",
            "token",
            "cache-dependency-path",
            "update-environment",
            "allow-prereleases",
            "freethreaded",
            "pip-version",
            "pip-install",
        ],
    ),
    (
        "actions/upload-artifact@v6",
        &["name", "path", "if-no-files-found", "retention-days", "compression-level", "overwrite", "include-hidden-files"],
    ),
    (
        "actions/download-artifact@v6",
        &["name", "artifact-ids", "path", "pattern", "merge-multiple", "github-token", "repository", "run-id"],
    ),
    (
        "aws-actions/configure-aws-credentials@v5",
        &[
            "audience",
            "aws-access-key-id",
            "aws-secret-access-key",
            "aws-session-token",
            "aws-region",
            "mask-aws-account-id",
            "role-to-assume",
            "web-identity-token-file",
            "role-duration-seconds",
            "role-session-name",
            "role-external-id",
            "role-skip-session-tagging",
            "inline-session-policy",
            "managed-session-policies",
            "output-credentials",
            "output-env-credentials",
            "unset-current-credentials",
            "disable-retry",
            "retry-max-attempts",
            "special-characters-workaround",
            "use-existing-credentials",
            "http-proxy",
            "no-proxy",
        ],
    ),
    (
        "docker/setup-buildx-action@v3",
        &[
            "version",
            "driver",
            "driver-opts",
            "buildkitd-flags",
            "buildkitd-config",
            "buildkitd-config-inline",
            "install",
            "use",
            "name",
            "endpoint",
            "platforms",
            "append",
            "keep-state",
            "cache-binary",
            "cleanup",
        ],
    ),
    ("docker/login-action@v3", &["registry", "username", "password", "ecr", "logout"]),
    ("dtolnay/rust-toolchain@stable", &["toolchain", "targets", "target", "components"]),
    (
        "Swatinem/rust-cache@v2",
        &[
            "prefix-key",
            "shared-key",
            "key",
            "env-vars",
            "workspaces",
            "cache-directories",
            "cache-targets",
            "cache-on-failure",
            "cache-all-crates",
            "save-if",
            "cache-provider",
            "cache-bin",
            "lookup-only",
        ],
    ),
    (
        "softprops/action-gh-release@v2",
        &[
            "body",
            "body_path",
            "name",
            "tag_name",
            "draft",
            "prerelease",
            "preserve_order",
            "files",
            "overwrite_files",
            "working_directory",
            "fail_on_unmatched_files",
            "repository",
            "token",
            "target_commitish",
            "discussion_category_name",
            "generate_release_notes",
            "append_body",
            "make_latest",
        ],
    ),
];

#[test]
fn every_action_input_the_workflows_pass_exists() {
    let action: serde_yaml::Value = serde_yaml::from_str(&read("action.yml")).expect("action.yml");
    let ours: Vec<String> = action["inputs"].as_mapping().expect("inputs").keys().filter_map(|k| k.as_str().map(str::to_string)).collect();
    assert_eq!(action["runs"]["using"], "composite");
    for step in action["runs"]["steps"].as_sequence().expect("steps") {
        let run = step["run"].as_str().unwrap_or_default();
        let script = run.trim_matches(|c| c == '"' || c == '\'').replace("$GITHUB_ACTION_PATH/", "");
        assert!(root().join(&script).is_file(), "action.yml runs {script}, which is not in the repository");
    }
    let cmd = <fgdeploy::cli::Cli as clap::CommandFactory>::command();
    let mut checked = 0;
    for dir in [".github/workflows", ".github/workflow-examples"] {
        for e in std::fs::read_dir(root().join(dir)).expect(dir) {
            let path = e.expect("entry").path();
            let y: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(&path).expect("read")).expect("yaml");
            for (_, job) in y["jobs"].as_mapping().expect("jobs") {
                for step in job["steps"].as_sequence().into_iter().flatten() {
                    let Some(uses) = step["uses"].as_str() else { continue };
                    let with: Vec<String> = step["with"]
                        .as_mapping()
                        .map(|m| m.keys().filter_map(|k| k.as_str().map(str::to_string)).collect())
                        .unwrap_or_default();
                    let known: Vec<String> = if uses.starts_with("fgdeploy/fgdeploy@") || uses == "./" {
                        if let Some(args) = step["with"]["args"].as_str() {
                            let sub = args.split_whitespace().next().unwrap_or_default();
                            assert!(cmd.find_subcommand(sub).is_some(), "{}: args start with `{sub}`, not a command", path.display());
                        }
                        ours.clone()
                    } else {
                        let (_, inputs) = ACTION_INPUTS
                            .iter()
                            .find(|(a, _)| *a == uses)
                            .unwrap_or_else(|| panic!("{}: `{uses}` is not in the pinned input lists; add it", path.display()));
                        inputs.iter().map(|s| s.to_string()).collect()
                    };
                    for w in &with {
                        assert!(known.contains(w), "{}: `{uses}` has no input `{w}`", path.display());
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 10, "{checked} steps checked");
}

/// The house rule the README states: exactly one function in `src/` sleeps while waiting on AWS
/// (`engine::watch::rest`). Allowed besides it: the clock implementations themselves (the real
/// clock and the simulator's virtual one) and the adapter's rate-budget wait (fgdeploy's own
/// token bucket, not AWS).
#[test]
fn only_the_watch_driver_sleeps() {
    let allowed = ["src/engine/watch.rs", "src/ports/clock.rs", "src/aws/client.rs"];
    let mut found = Vec::new();
    let mut stack = vec![root().join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(root()).expect("under the root").to_string_lossy().replace('\\', "/");
            if rel.starts_with("src/sim/") || allowed.contains(&rel.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source");
            // Test modules may wait on their own fixtures (a subprocess, a local server).
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in code.lines().enumerate() {
                if line.contains("sleep(") && !line.trim_start().starts_with("//") {
                    found.push(format!("{rel}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "sleeps outside engine::watch: {found:#?}");
    let watch = read("src/engine/watch.rs");
    let code = watch.split("#[cfg(test)]").next().unwrap_or_default();
    assert_eq!(code.matches("clock.sleep(").count(), 2, "watch::rest is the one sleep (with and without an interrupt)");
    let aws = read("src/aws/client.rs");
    assert_eq!(aws.matches("sleep(").count(), 1, "the adapter sleeps only in its rate-budget gate");
}

/// #25: the JSON Schemas in docs/schema/ are generated from the types that print the lines
/// (`fgdeploy::render::schema::schemas`), so they cannot drift from the code. `UPDATE_SCHEMAS=1`
/// rewrites them; without it, a difference fails and names the file.
#[test]
fn the_published_schemas_are_generated_from_the_types() {
    let dir = root().join("docs/schema");
    let mut stale = Vec::new();
    for (name, schema) in fgdeploy::render::schema::schemas() {
        let path = dir.join(format!("{name}.schema.json"));
        let text = format!("{}\n", serde_json::to_string_pretty(&schema).expect("json"));
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::write(&path, &text).expect("write schema");
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
        // Not vacuous: every event and document kind is in the stream's schema.
        if name == "events" {
            for tag in ["plan", "stage_started", "finished", "traffic", "error", "status", "history", "fleet_finished"] {
                assert!(text.contains(&format!("\"const\": \"{tag}\"")), "{tag} missing from events.schema.json");
            }
        }
    }
    assert!(stale.is_empty(), "out of date (run the tests with UPDATE_SCHEMAS=1 and commit): {stale:?}");
}
