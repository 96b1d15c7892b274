//! The verbatim replay tier: response bodies exactly as AWS published them
//! (`tests/fixtures/replay-verbatim/`, sources in its `SOURCES.json`), served by a loopback
//! server to the real AWS SDK for Rust behind fgdeploy's adapter (`fgdeploy::aws`), and what
//! fgdeploy reads from them asserted: parsed fields, statuses, and the decisions the engine takes.
//!
//! The files are never edited. [`verbatim`] reads one unchanged (and checks its sha256 against
//! SOURCES.json); the one transformation is [`iso_to_epoch`], applied by the loader alone to the
//! members SOURCES.json lists as published with ISO-8601 timestamps: the awsJson1_1 wire carries
//! epoch seconds, and the CLI/botocore renderings show them as dates.
//!
//! Where a documented answer lacks what fgdeploy needs (no `repositoryUri`, a truncated ECR
//! token, an EC2 deployment target), the test asserts the error or the empty reading fgdeploy
//! gives. The few bodies that are not published examples are built in [`shape_only`] and say so.

use aws_config::{BehaviorVersion, Region};
use fgdeploy::engine::{FailKind, Tracker, Verdict, decide};
use fgdeploy::ports::{PortError, Ports, Timestamp};
use fgdeploy::states::{CdStatus, DeploymentStatus, RolloutState, SdStatus, TaskStatus};
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};

// ----- the loader -------------------------------------------------------------------------------

fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replay-verbatim")
}

/// SOURCES.json: one entry per fixture file.
fn sources() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(fixtures_dir().join("SOURCES.json")).expect("SOURCES.json");
    serde_json::from_str(&text).expect("SOURCES.json is JSON")
}

/// The fixture `file` as published: read unchanged, its sha256 checked against SOURCES.json;
/// the members SOURCES.json lists under `iso_timestamps` go through [`iso_to_epoch`].
fn verbatim(file: &str) -> String {
    use sha2::Digest;
    let entry = sources().into_iter().find(|e| e["file"] == file).unwrap_or_else(|| panic!("{file} is not in SOURCES.json"));
    let bytes = std::fs::read(fixtures_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let sha: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(entry["sha256"], sha.as_str(), "{file} differs from the published text recorded in SOURCES.json");
    let text = String::from_utf8(bytes).expect("UTF-8");
    let members: Vec<&str> = entry["iso_timestamps"].as_array().into_iter().flatten().filter_map(|m| m.as_str()).collect();
    if members.is_empty() { text } else { iso_to_epoch(&text, &members) }
}

/// The published text with each ISO-8601 timestamp string at `members` (paths such as
/// `services[].deployments[].createdAt`) replaced by epoch seconds, as awsJson1_1 sends them.
/// Nothing else changes in meaning (key order is kept). Every listed member must be found.
fn iso_to_epoch(text: &str, members: &[&str]) -> String {
    fn convert(v: &mut serde_json::Value, path: &[&str]) -> usize {
        let Some((head, rest)) = path.split_first() else {
            let Some(s) = v.as_str() else { return 0 };
            let t = aws_smithy_types::DateTime::from_str(s, aws_smithy_types::date_time::Format::DateTimeWithOffset)
                .unwrap_or_else(|e| panic!("{s:?} is not an ISO-8601 timestamp: {e}"));
            *v = serde_json::Number::from_f64(t.as_secs_f64()).expect("finite").into();
            return 1;
        };
        let (key, each) = head.strip_suffix("[]").map_or((*head, false), |k| (k, true));
        match v.get_mut(key) {
            Some(serde_json::Value::Array(items)) if each => items.iter_mut().map(|x| convert(x, rest)).sum(),
            Some(x) if !each => convert(x, rest),
            _ => 0,
        }
    }
    let mut v: serde_json::Value = serde_json::from_str(text).expect("fixture is JSON");
    for m in members {
        let path: Vec<&str> = m.split('.').collect();
        assert!(convert(&mut v, &path) > 0, "no ISO timestamp at {m}");
    }
    v.to_string()
}

// ----- the loopback server ------------------------------------------------------------------------

/// Answers by operation (`X-Amz-Target`), each from its own queue (the last answer repeats), and
/// records every request body. An operation without an answer gets `UnknownOperationException`.
#[derive(Clone, Default)]
struct Server {
    answers: Arc<Mutex<BTreeMap<String, VecDeque<String>>>>,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl Server {
    /// Answer `op` with the verbatim fixture `file`.
    fn with(self, op: &str, file: &str) -> Self {
        self.body(op, &verbatim(file))
    }

    fn body(self, op: &str, body: &str) -> Self {
        self.answers.lock().expect("lock").entry(op.to_string()).or_default().push_back(body.to_string());
        self
    }

    /// Request bodies received for `op`.
    fn requests(&self, op: &str) -> Vec<serde_json::Value> {
        let seen = self.seen.lock().expect("lock");
        seen.iter().filter(|(o, _)| o == op).map(|(_, b)| serde_json::from_str(b).expect("request JSON")).collect()
    }

    fn next(&self, op: &str) -> (u16, String) {
        let mut a = self.answers.lock().expect("lock");
        match a.get_mut(op) {
            Some(q) if q.len() > 1 => (200, q.pop_front().expect("non-empty")),
            Some(q) if !q.is_empty() => (200, q[0].clone()),
            _ => (400, format!(r#"{{"__type":"UnknownOperationException","message":"no verbatim answer for {op}"}}"#)),
        }
    }

    fn start(&self) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let me = self.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let me = me.clone();
                std::thread::spawn(move || me.serve(conn));
            }
        });
        format!("http://127.0.0.1:{port}")
    }

    /// HTTP/1.1 with keep-alive.
    fn serve(&self, conn: std::net::TcpStream) {
        let Ok(mut out) = conn.try_clone() else { return };
        let mut reader = BufReader::new(conn);
        loop {
            let (mut op, mut length, mut line) = (String::new(), 0usize, String::new());
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let Some((k, v)) = line.trim_end().split_once(':') else { break };
                match k.trim().to_ascii_lowercase().as_str() {
                    "x-amz-target" => op = v.trim().rsplit('.').next().unwrap_or_default().to_string(),
                    "content-length" => length = v.trim().parse().unwrap_or(0),
                    _ => {}
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            self.seen.lock().expect("lock").push((op.clone(), String::from_utf8_lossy(&body).into_owned()));
            let (status, answer) = self.next(&op);
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: verbatim\r\nContent-Length: {}\r\n\r\n",
                answer.len()
            );
            if out.write_all(head.as_bytes()).and_then(|()| out.write_all(answer.as_bytes())).is_err() {
                return;
            }
        }
    }

    /// fgdeploy's SDK adapter, every client pointed at this server.
    async fn ports(&self) -> Ports {
        let conf = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.start())
            .region(Region::new("us-west-2"))
            .credentials_provider(aws_sdk_ecs::config::Credentials::new("verbatim", "verbatim", None, None, "tests"))
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .load()
            .await;
        fgdeploy::aws::ports_from_config(&conf)
    }
}

/// The CLI against `endpoint` with fake credentials.
fn cli(endpoint: &str) -> crate::harness::Test {
    crate::harness::Test::new().env("AWS_ENDPOINT_URL", endpoint).env("AWS_REGION", "us-west-2")
}

fn approx(got: Option<f64>, want: f64) -> bool {
    got.is_some_and(|g| (g - want).abs() < 1e-3)
}

/// What fgdeploy tracks for a rolling deployment it started, for [`decide`].
fn tracker(deployment_id: &str, new_td: &str, previous_td: &str) -> Tracker {
    Tracker {
        cluster: "c".into(),
        service: "s".into(),
        deployment_id: deployment_id.into(),
        service_deployment_arn: None,
        new_td: new_td.into(),
        previous_td: previous_td.into(),
        previous_desired: None,
        ecs_rolls_back: true,
        started_at: 0.0,
        deadline: 1e12,
        timeout_setting: fgdeploy::engine::TimeoutSetting::DeployTimeout,
        forecast: Default::default(),
    }
}

/// A spec for `history`/`status` of `cluster/service`.
fn spec_of(cluster: &str, service: &str) -> (tempfile::TempDir, fgdeploy::spec::Spec) {
    let (dir, path) = crate::harness::spec_dir_with(&crate::harness::base_spec(cluster, service), crate::harness::TEMPLATE);
    let spec = fgdeploy::spec::Spec::load(&path, None).expect("spec");
    (dir, spec)
}

/// Bodies that are not published examples (AWS documents nothing like them); each says why it
/// is needed. Only the end-to-end release tests use them, for calls that are not under test.
mod shape_only {
    /// ListServiceDeployments (`API_ListServiceDeployments` syntax) naming one deployment.
    pub(super) fn list_sds(arn: &str) -> String {
        format!(r#"{{"serviceDeployments": [{{"serviceDeploymentArn": "{arn}", "status": "IN_PROGRESS"}}]}}"#)
    }
    /// DescribeServiceRevisions (`API_ServiceRevision` syntax): the revision runs `td`.
    pub(super) fn revision(arn: &str, td: &str) -> String {
        format!(r#"{{"serviceRevisions": [{{"serviceRevisionArn": "{arn}", "taskDefinition": "{td}"}}], "failures": []}}"#)
    }
    /// DescribeServices (`API_Service` syntax): service `web` under the CODE_DEPLOY controller,
    /// which no documented DescribeServices answer has.
    pub(super) const CODE_DEPLOY_SERVICE: &str = r#"{"services": [{"serviceName": "web", "status": "ACTIVE", "desiredCount": 2, "runningCount": 2, "taskDefinition": "arn:aws:ecs:us-west-2:123456789012:task-definition/hello_world:8", "deploymentController": {"type": "CODE_DEPLOY"}, "deployments": []}], "failures": []}"#;
    /// DescribeScalableTargets: the service is not autoscaled.
    pub(super) const NOT_AUTOSCALED: &str = r#"{"ScalableTargets": []}"#;
}

// ----- the loader itself --------------------------------------------------------------------------

/// Every fixture in SOURCES.json loads: its bytes are the published ones (sha256), and each
/// listed ISO timestamp becomes epoch seconds while every other value stays as published.
#[test]
fn every_fixture_loads_unchanged_but_for_its_iso_timestamps() {
    let all = sources();
    assert_eq!(all.len(), 84);
    for e in &all {
        let file = e["file"].as_str().expect("file");
        let raw: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixtures_dir().join(file)).expect("read")).expect("JSON");
        let served: serde_json::Value = serde_json::from_str(&verbatim(file)).expect("served JSON");
        let n = e["iso_timestamps"].as_array().map_or(0, Vec::len);
        assert_eq!(raw == served, n == 0, "{file}: only files with ISO timestamps are converted");
    }
    let v: serde_json::Value = serde_json::from_str(&verbatim("ecs-DescribeServiceDeployments-4.json")).expect("json");
    assert!(approx(v["serviceDeployments"][0]["createdAt"].as_f64(), 1730376210.917), "2024-10-31T08:03:30.917000-04:00");
}

// ----- ECS: service deployments ---------------------------------------------------------------------

const SD_PAUSED: &str = "arn:aws:ecs:us-west-2:123456789012:service-deployment/my-cluster/my-service/xyz789ABC123";

/// `ecs-DescribeServiceDeployments-2.json` (ECS API Reference `API_DescribeServiceDeployments`,
/// Example 1): PENDING, not terminal, no stage, hook, start time or breaker status; its target
/// revision by ARN. DescribeServiceRevisions is asked for that revision; without an answer the
/// task definition stays unknown.
#[tokio::test]
async fn the_pending_service_deployment_example_reads_as_pending() {
    let r = Server::default().with("DescribeServiceDeployments", "ecs-DescribeServiceDeployments-2.json");
    let sd = r.ports().await.ecs.describe_service_deployments(&["x".into()]).await.expect("parsed").remove(0);
    assert_eq!(sd.arn, "arn:aws:ecs:us-west-2:123456789012:service-deployment/example/sd-example/NCWGC2ZR-taawPAYrIaU5");
    assert_eq!((sd.status.clone(), sd.is_terminal()), (SdStatus::Pending, false));
    let rev = "arn:aws:ecs:us-west-2:123456789012:service-revision/example/sd-example/4980306466373577095";
    assert_eq!(sd.target_revision.as_deref(), Some(rev));
    assert_eq!((&sd.lifecycle_stage, sd.hooks.len(), &sd.circuit_breaker, sd.created_at), (&None, 0, &None, None));
    assert_eq!(sd.target_task_definition, None);
    assert_eq!(r.requests("DescribeServiceRevisions")[0]["serviceRevisionArns"], serde_json::json!([rev]));
}

/// `ecs-DescribeServiceDeployments-3.json` (ECS API Reference `API_DescribeServiceDeployments`,
/// Example 2, the paused hook): IN_PROGRESS with one PAUSE hook AWAITING_ACTION, its id in the
/// documented `ecs-pause-…` form. The example has no `lifecycleStage` (its hook is configured at
/// POST_PRODUCTION_TRAFFIC_SHIFT), so fgdeploy sees no stage: `native_hook` answers only at
/// POST_TEST_TRAFFIC_SHIFT, so this hook is not fgdeploy's to answer (see the release below).
#[tokio::test]
async fn the_paused_hook_example_reads_as_a_pause_hook_awaiting_action_with_no_stage() {
    let r = Server::default().with("DescribeServiceDeployments", "ecs-DescribeServiceDeployments-3.json");
    let sd = r.ports().await.ecs.describe_service_deployments(&[SD_PAUSED.into()]).await.expect("parsed").remove(0);
    assert_eq!((sd.arn.as_str(), sd.status.clone(), sd.is_terminal()), (SD_PAUSED, SdStatus::InProgress, false));
    let hooks: Vec<_> = sd
        .hooks
        .iter()
        .map(|h| (h.hook_id.as_str(), h.target_type.as_ref().map(|t| t.as_str()), h.status.as_ref().map(|s| s.as_str())))
        .collect();
    assert_eq!(hooks, [("ecs-pause-Xk7rT2mP9sLwQn4vB8fYd3hJ6gA1cE5iO0uR_ZpWq", Some("PAUSE"), Some("AWAITING_ACTION"))]);
    assert_eq!(sd.lifecycle_stage, None, "no stage: never fgdeploy's gate stage POST_TEST_TRAFFIC_SHIFT");
}

/// `ecs-DescribeServiceDeployments-4.json` (AWS CLI `ecs/describe-service-deployments.rst`),
/// `ecs-ListServiceDeployments-3.json` (CLI `ecs/list-service-deployments.rst`) and
/// `ecs-DescribeServiceRevisions-2.json` (CLI `ecs/describe-service-revisions.rst`): one
/// coherent deployment. `history` shows it SUCCESSFUL on `webserver:5` (resolved through the
/// revision), 93.61 s long (times published with a -04:00 offset); the breaker's status is read.
/// No documented task definition for `webserver:5` exists: its image stays unknown, not guessed.
#[tokio::test]
async fn history_of_the_documented_successful_deployment() {
    let r = Server::default()
        .with("ListServiceDeployments", "ecs-ListServiceDeployments-3.json")
        .with("DescribeServiceDeployments", "ecs-DescribeServiceDeployments-4.json")
        .with("DescribeServiceRevisions", "ecs-DescribeServiceRevisions-2.json");
    let ports = r.ports().await;
    let (_d, spec) = spec_of("example-cluster", "example-service");
    let h = fgdeploy::engine::history(&spec, &ports, 10).await.expect("history");
    let [e] = &h.entries[..] else { panic!("one entry: {:?}", h.entries) };
    assert_eq!(e.status, SdStatus::Successful);
    assert_eq!(e.task_definition.as_deref(), Some("arn:aws:ecs:us-east-1:123456789012:task-definition/webserver:5"));
    assert!(approx(e.created_at, 1730376210.917) && approx(e.duration_secs, 93.61), "{e:?}");
    assert_eq!(e.image, None);
    assert!(r.requests("DescribeTaskDefinition")[0]["taskDefinition"].as_str().is_some_and(|t| t.ends_with("webserver:5")));
    let sd = ports.ecs.describe_service_deployments(std::slice::from_ref(&e.service_deployment)).await.expect("ok").remove(0);
    let cb = sd.circuit_breaker.expect("breaker");
    assert_eq!((cb.status.as_deref(), cb.failure_count, cb.threshold), (Some("MONITORING_COMPLETE"), 0, 3));
    assert!(sd.source_task_definitions.is_empty());
}

/// `ecs-ListServiceDeployments-2.json` (ECS API Reference `API_ListServiceDeployments`),
/// `ecs-DescribeServiceDeployments-2.json` (`API_DescribeServiceDeployments` Example 1) and
/// `ecs-DescribeServiceRevisions-2.json` (a revision of another service): the list says
/// SUCCESSFUL, the description PENDING, as published; `history` shows the description's status,
/// and a revisions answer that does not name the asked revision leaves the task definition unknown.
#[tokio::test]
async fn history_of_the_documented_pending_deployment_guesses_nothing() {
    let r = Server::default()
        .with("ListServiceDeployments", "ecs-ListServiceDeployments-2.json")
        .with("DescribeServiceDeployments", "ecs-DescribeServiceDeployments-2.json")
        .with("DescribeServiceRevisions", "ecs-DescribeServiceRevisions-2.json");
    let (_d, spec) = spec_of("example", "sd-example");
    let h = fgdeploy::engine::history(&spec, &r.ports().await, 10).await.expect("history");
    let [e] = &h.entries[..] else { panic!("one entry: {:?}", h.entries) };
    assert_eq!(e.status, SdStatus::Pending, "the description's status, not the list's SUCCESSFUL");
    assert_eq!((&e.task_definition, &e.image, e.duration_secs), (&None, &None, None));
    assert!(r.requests("DescribeTaskDefinition").is_empty());
    assert_eq!(r.requests("ListServiceDeployments")[0]["service"], "sd-example");
}

/// `ecs-ListServiceDeployments-3.json` (AWS CLI `ecs/list-service-deployments.rst`): one ARN,
/// no next token (one page); fgdeploy's `createdAt.after` goes out as epoch seconds.
#[tokio::test]
async fn list_service_deployments_example_gives_its_arn_and_sends_the_time_filter() {
    let r = Server::default().with("ListServiceDeployments", "ecs-ListServiceDeployments-3.json");
    let arns = r.ports().await.ecs.list_service_deployments("example-cluster", "example-service", Some(1730376000.0)).await;
    let want = "arn:aws:ecs:us-east-1:123456789012:service-deployment/example-cluster/example-service/ejGvqq2ilnbKT9qj0vLJe";
    assert_eq!(arns, Ok(vec![want.to_string()]));
    let sent = r.requests("ListServiceDeployments");
    assert_eq!((sent.len(), sent[0]["createdAt"]["after"].as_f64()), (1, Some(1730376000.0)));
}

/// `ecs-ContinueServiceDeployment-1.json` / `-2.json` (ECS API Reference
/// `API_ContinueServiceDeployment`, the CONTINUE and ROLLBACK examples): both parse (fgdeploy
/// needs nothing from the body); the request carries the hook id and the action.
#[tokio::test]
async fn continue_service_deployment_examples_are_accepted() {
    let hook = "ecs-pause-Xk7rT2mP9sLwQn4vB8fYd3hJ6gA1cE5iO0uR_ZpWq";
    for (file, action) in [
        ("ecs-ContinueServiceDeployment-1.json", fgdeploy::states::HookAction::Continue),
        ("ecs-ContinueServiceDeployment-2.json", fgdeploy::states::HookAction::Rollback),
    ] {
        let r = Server::default().with("ContinueServiceDeployment", file);
        r.ports().await.ecs.continue_service_deployment(SD_PAUSED, hook, action.clone()).await.expect(file);
        let sent = &r.requests("ContinueServiceDeployment")[0];
        assert_eq!((sent["hookId"].as_str(), sent["action"].as_str()), (Some(hook), Some(action.as_str())), "{file}");
    }
}

/// An ECS-native release gated by fgdeploy's checks, against the documented paused deployment
/// (`ecs-DescribeServiceDeployments-3.json`): its PAUSE hook waits at the team's stage (no
/// `lifecycleStage`), so fgdeploy never answers it, and at `--timeout` (automatic rollback off)
/// it detaches. The service is `ecs-DescribeServices-4.json` (API Reference
/// `API_DescribeServices`, the service with a PAUSE hook at POST_PRODUCTION_TRAFFIC_SHIFT): the
/// team's hook goes out with fgdeploy's gate, and stays when the gate is removed. Also verbatim:
/// `ecs-DescribeTaskDefinition-1.json`, `ecr-BatchGetImage-2.json` (the image exists),
/// `ecs-RegisterTaskDefinition-3.json` (the new revision `sleep360:1`) and
/// `ecs-UpdateService-2.json` (no `currentServiceDeployment`, so the deployment is found by
/// ListServiceDeployments). Shape-only: the list, the revision and the scalable targets.
#[test]
fn a_gated_native_release_never_answers_the_documented_paused_hook() {
    let app = fgdeploy::sandbox::LoopbackApp::start(200).expect("app");
    let rev = "arn:aws:ecs:us-west-2:123456789012:service-revision/my-cluster/my-service/1234567890123456789";
    let new_td = "arn:aws:ecs:us-east-1:123456789012:task-definition/sleep360:1";
    let r = Server::default()
        .with("DescribeServices", "ecs-DescribeServices-4.json")
        .with("DescribeTaskDefinition", "ecs-DescribeTaskDefinition-1.json")
        .with("BatchGetImage", "ecr-BatchGetImage-2.json")
        .with("RegisterTaskDefinition", "ecs-RegisterTaskDefinition-3.json")
        .with("UpdateService", "ecs-UpdateService-2.json")
        .with("DescribeServiceDeployments", "ecs-DescribeServiceDeployments-3.json")
        .body("ListServiceDeployments", &shape_only::list_sds(SD_PAUSED))
        .body("DescribeServiceRevisions", &shape_only::revision(rev, new_td))
        .body("DescribeScalableTargets", shape_only::NOT_AUTOSCALED);
    let spec = format!(
        "[service]\ncluster = \"my-cluster\"\nname = \"ecs-service-with-pause-hook\"\n\n[image]\nrepository = \"012345678910.dkr.ecr.us-west-2.amazonaws.com/amazonlinux\"\ntag = \"latest\"\n\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n\n[deploy]\nstrategy = \"blue-green\"\n[deploy.blue_green]\ncontainer_port = 8080\necs_strategy = \"BLUE_GREEN\"\ntest_url = \"http://127.0.0.1:{}\"\ncheck_budget = \"10s\"\n[[deploy.blue_green.checks]]\npath = \"/health\"\nconsecutive = 1\n\n[rollback]\nautomatic = false\n",
        app.port
    );
    let (_d, path) = crate::harness::spec_dir_with(&spec, crate::harness::TEMPLATE);
    let out = cli(&r.start()).args(["release", "--timeout", "3s", "-f", path.to_str().expect("utf-8")]).run();
    assert_eq!(out.code, fgdeploy::error::exit::DETACHED, "{}\n{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(said.contains(&format!("automatic rollback is off, so service deployment {SD_PAUSED} goes on")), "{said}");
    assert!(r.requests("ContinueServiceDeployment").is_empty(), "the team's hook is never answered");
    assert!(!r.requests("DescribeServiceDeployments").is_empty() && r.requests("StopServiceDeployment").is_empty());
    assert_eq!(app.requests(), 0, "no check ran: fgdeploy's gate stage never came");
    let stages = |u: &serde_json::Value| -> Vec<String> {
        let hooks = u["deploymentConfiguration"]["lifecycleHooks"].as_array().cloned().unwrap_or_default();
        hooks.iter().map(|h| h["lifecycleStages"][0].as_str().unwrap_or_default().to_string()).collect()
    };
    let updates = r.requests("UpdateService");
    assert_eq!(updates[0]["taskDefinition"], new_td);
    assert_eq!(stages(&updates[0]), ["POST_PRODUCTION_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT"], "the team's hook and fgdeploy's gate");
    assert_eq!(updates.last().map(stages), Some(vec!["POST_PRODUCTION_TRAFFIC_SHIFT".to_string()]), "the gate removed, the team's kept");
    assert!(r.requests("ListServiceDeployments")[0]["createdAt"]["after"].is_number());
}

// ----- ECS: services ------------------------------------------------------------------------------

/// `ecs-DescribeServices-1.json` (botocore ecs `examples-1.json`,
/// `to-describe-a-service-1472513256350`), `-3.json` (ECS API Reference `API_DescribeServices`),
/// `-4.json` (API Reference, the service with a PAUSE hook) and `-5.json` (AWS CLI
/// `ecs/describe-services.rst`): counts, the PRIMARY deployment (none has `rolloutState`), the
/// team's hook; `decide` calls a lone deployment at its count a success, 0 of 1 not yet.
#[tokio::test]
async fn describe_services_examples_read_and_decide() {
    let cases = [
        ("ecs-DescribeServices-1.json", "ecs-simple-service", (0, 1), "hello_world:6", Verdict::Continue),
        ("ecs-DescribeServices-3.json", "test-service", (4, 4), "hpcc-t2-medium:1", Verdict::Success),
        ("ecs-DescribeServices-4.json", "ecs-service-with-pause-hook", (2, 2), "ecs-demo:1", Verdict::Success),
        ("ecs-DescribeServices-5.json", "my-http-service", (10, 10), "amazon-ecs-sample:1", Verdict::Success),
    ];
    for (file, name, counts, td, verdict) in cases {
        let r = Server::default().with("DescribeServices", file);
        let svc = r.ports().await.ecs.describe_service("default", name).await.expect(file).expect("service");
        let p = svc.primary().expect("PRIMARY");
        assert_eq!((svc.name.as_str(), (svc.running_count, svc.desired_count), p.rollout_state.clone()), (name, counts, None), "{file}");
        assert!(p.task_definition.ends_with(&format!("/{td}")), "{file}: {}", p.task_definition);
        assert_eq!(decide(&tracker(&p.id, &p.task_definition, ""), &svc, None, 0.0), verdict, "{file}");
        assert_eq!(fgdeploy::engine::pace::previous_rollout_secs(&svc), None, "{file}: no completion event");
    }
    // #27: a release tracking its own revision while the documented PRIMARY runs another is
    // superseded, and the verdict names the newer deployment by its revision and id.
    let r = Server::default().with("DescribeServices", "ecs-DescribeServices-5.json");
    let svc = r.ports().await.ecs.describe_service("default", "my-http-service").await.expect("ok").expect("service");
    let p = svc.primary().expect("PRIMARY");
    let mine = "arn:aws:ecs:us-west-2:123456789012:task-definition/amazon-ecs-sample:2";
    let want = FailKind::Replaced(format!("{} (deployment {})", p.task_definition, p.id));
    let before = "arn:aws:ecs:us-west-2:123456789012:task-definition/amazon-ecs-sample:0";
    assert_eq!(decide(&tracker("ecs-svc/mine", mine, before), &svc, None, 0.0), Verdict::Failed(want));
    let r = Server::default().with("DescribeServices", "ecs-DescribeServices-1.json");
    let svc = r.ports().await.ecs.describe_service("default", "x").await.expect("ok").expect("service");
    assert!(approx(svc.primary().and_then(|p| p.created_at), 1472487952.13) && svc.events[0].message.contains("unable to place a task"));
    let r = Server::default().with("DescribeServices", "ecs-DescribeServices-4.json");
    let hooks = r.ports().await.ecs.describe_service("my-cluster", "x").await.expect("ok").expect("svc").deployment_config.lifecycle_hooks;
    let [h] = &hooks[..] else { panic!("{hooks:?}") };
    assert_eq!(
        (h.is_pause(), h.stages.as_slice(), h.timeout_minutes, h.timeout_action.as_ref()),
        (
            true,
            &[fgdeploy::states::LifecycleStage::PostProductionTrafficShift][..],
            Some(60),
            Some(&fgdeploy::states::HookAction::Rollback)
        )
    );
    assert!(!h.is_fgdeploys());
}

fn update(cluster: &str, service: &str, td: &str) -> fgdeploy::ports::UpdateService {
    fgdeploy::ports::UpdateService {
        cluster: cluster.into(),
        service: service.into(),
        task_definition: td.into(),
        desired_count: None,
        deployment_config: None,
        native: None,
        settings: Default::default(),
    }
}

/// `ecs-UpdateService-2.json` (AWS CLI `ecs/update-service.rst`): the rollout in flight —
/// PRIMARY IN_PROGRESS on `mytaskdef:3`, the old ACTIVE deployment COMPLETED. `decide` goes on;
/// there is no `currentServiceDeployment`, and no forecast (the completion event names the old
/// deployment, not the PRIMARY).
#[tokio::test]
async fn update_service_rollout_in_flight_example() {
    let r = Server::default().with("UpdateService", "ecs-UpdateService-2.json");
    let td = "arn:aws:ecs:us-west-2:123456789012:task-definition/mytaskdef:3";
    let svc = r.ports().await.ecs.update_service(&update("mycluster", "my-http-service", td)).await.expect("parsed");
    let p = svc.primary().expect("PRIMARY");
    assert_eq!(
        (p.id.as_str(), p.task_definition.as_str(), p.rollout_state.clone()),
        ("ecs-svc/7522791612543716777", td, Some(RolloutState::InProgress))
    );
    assert!(approx(p.created_at, 1740173138.598));
    let old = svc.deployments.iter().find(|d| d.status == DeploymentStatus::Active).expect("ACTIVE");
    assert_eq!((old.running, old.rollout_state.clone()), (2, Some(RolloutState::Completed)));
    assert_eq!((svc.events.len(), svc.current_service_deployment.clone()), (10, None));
    let t = tracker(&p.id, td, "arn:aws:ecs:us-west-2:123456789012:task-definition/myoldtaskdef:1");
    assert_eq!(decide(&t, &svc, None, 0.0), Verdict::Continue);
    assert_eq!(fgdeploy::engine::pace::previous_rollout_secs(&svc), None);
    let sent = &r.requests("UpdateService")[0];
    assert_eq!(
        (sent["cluster"].as_str(), sent["service"].as_str(), sent["taskDefinition"].as_str()),
        (Some("mycluster"), Some("my-http-service"), Some(td))
    );
}

/// `ecs-UpdateService-1.json` (AWS CLI `ecs/update-service.rst`): the PRIMARY deployment's task
/// definition is published under the misspelt key `taskkDefinition`, so fgdeploy reads none; a
/// COMPLETED deployment of an unknown revision is never a success — at the deadline it is a
/// timeout.
#[tokio::test]
async fn update_service_example_with_the_misspelt_task_definition_never_succeeds() {
    let r = Server::default().with("UpdateService", "ecs-UpdateService-1.json");
    let td = "arn:aws:ecs:us-east-1:123456789012:task-definition/MyTaskDefinition";
    let svc = r.ports().await.ecs.update_service(&update("MyCluster", "my-http-service", td)).await.expect("parsed");
    let p = svc.primary().expect("PRIMARY");
    assert_eq!(
        (p.task_definition.as_str(), p.rollout_state.clone(), svc.task_definition.as_str()),
        ("", Some(RolloutState::Completed), td)
    );
    let t = tracker(&p.id, td, "");
    assert_eq!(decide(&t, &svc, None, 0.0), Verdict::Continue);
    assert_eq!(decide(&t, &svc, None, t.deadline), Verdict::Failed(FailKind::Timeout(t.timeout_setting)));
}

/// `ecs-UpdateService-3.json` (AWS CLI `ecs/update-service.rst`, availability-zone rebalancing)
/// as the answer to `scale`'s UpdateService with only `desiredCount`.
#[tokio::test]
async fn update_service_rebalancing_example_answers_a_desired_count_change() {
    let r = Server::default().with("UpdateService", "ecs-UpdateService-3.json");
    let svc = r.ports().await.ecs.set_desired_count("MyCluster", "my-http-service", 2).await.expect("parsed");
    assert_eq!((svc.desired_count, svc.running_count, svc.availability_zone_rebalancing.map(|a| a.as_str())), (2, 1, Some("ENABLED")));
    let sent = &r.requests("UpdateService")[0];
    assert_eq!((sent["desiredCount"].as_i64(), sent.get("taskDefinition")), (Some(2), None));
}

/// `ecs-CreateService-1.json`, `-2.json` (botocore ecs `examples-1.json`,
/// `to-create-a-new-service-1472512584282`, `to-create-a-new-service-behind-a-load-balancer-1472512484823`)
/// and `-5.json` … `-9.json` (AWS CLI `ecs/create-service.rst`): the service fgdeploy reads back
/// from CreateService — name, controller, PRIMARY, launch type, classic load balancer; the
/// request carries fgdeploy's idempotency token.
#[tokio::test]
async fn create_service_examples_read_back_the_new_service() {
    use fgdeploy::ports::Controller::{Ecs, External};
    let cases = [
        ("ecs-CreateService-1.json", "ecs-simple-service", Ecs, 2, None, None),
        ("ecs-CreateService-2.json", "ecs-simple-service-elb", Ecs, 1, None, Some("simple-app")),
        ("ecs-CreateService-5.json", "MyService", Ecs, 1, Some("FARGATE"), None),
        ("ecs-CreateService-6.json", "ecs-simple-service", Ecs, 1, Some("EC2"), None),
        ("ecs-CreateService-7.json", "MyService", External, 0, Some("EC2"), None),
        ("ecs-CreateService-8.json", "ecs-simple-service-elb", Ecs, 1, None, Some("ecs-demo")),
        ("ecs-CreateService-9.json", "ecs-simple-service-ebs", Ecs, 1, Some("EC2"), None),
    ];
    for (file, name, controller, deployments, launch, lb) in cases {
        let r = Server::default().with("CreateService", file);
        let req = fgdeploy::ports::CreateService {
            cluster: "default".into(),
            service: name.into(),
            task_definition: "sleep360:2".into(),
            desired_count: 1,
            deployment_config: None,
            settings: Default::default(),
        };
        let svc = r.ports().await.ecs.create_service(&req).await.expect(file);
        assert_eq!((svc.name.as_str(), svc.deployment_controller, svc.deployments.len()), (name, controller, deployments), "{file}");
        assert_eq!(
            (svc.launch_type.as_deref(), svc.load_balancers.first().and_then(|l| l.container_name.as_deref())),
            (launch, lb),
            "{file}"
        );
        assert!(r.requests("CreateService")[0]["clientToken"].as_str().is_some_and(|t| t.starts_with("fgdeploy-")));
    }
    let r = Server::default().with("CreateService", "ecs-CreateService-9.json");
    let req = fgdeploy::ports::CreateService {
        cluster: "mycluster".into(),
        service: "ecs-simple-service-ebs".into(),
        task_definition: "mytaskdef:3".into(),
        desired_count: 2,
        deployment_config: None,
        settings: Default::default(),
    };
    let svc = r.ports().await.ecs.create_service(&req).await.expect("parsed");
    let p = svc.primary().expect("PRIMARY");
    assert_eq!((p.rollout_state.clone(), approx(p.created_at, 1737480758.034)), (Some(RolloutState::InProgress), true));
}

// ----- ECS: tasks ----------------------------------------------------------------------------------

/// `ecs-DescribeTasks-1.json` (botocore ecs `examples-1.json`), `-3.json` (ECS API Reference
/// `API_DescribeTasks`), `-4.json` and `-5.json` (AWS CLI `ecs/describe-tasks.rst`): RUNNING
/// tasks — no stop code and no container exit code in any documented answer; start latency from
/// the offset timestamps; the ECS Exec target built from the documented runtime id.
#[tokio::test]
async fn describe_tasks_examples_read_as_running_tasks() {
    let cases = [
        ("ecs-DescribeTasks-1.json", vec![("c5cba4eb-5dad-405e-96db-71ef8eefe6a8", vec!["ecs-demo"])], None),
        ("ecs-DescribeTasks-3.json", vec![("154bdb1df5b446b280fe900d12c452a1", vec!["aws-otel-collector", "web"])], Some(22.777)),
        ("ecs-DescribeTasks-4.json", vec![("4d590253bb114126b7afa7b58eea9221", vec!["simple-app"])], Some(8.264)),
        (
            "ecs-DescribeTasks-5.json",
            vec![("74de0355a10a4f979ac495c14EXAMPLE", vec!["web"]), ("d789e94343414c25b9f6bd59eEXAMPLE", vec!["web"])],
            Some(27.86),
        ),
    ];
    for (file, want, latency) in cases {
        let r = Server::default().with("DescribeTasks", file);
        let tasks = r.ports().await.ecs.describe_tasks("default", &["t".into()]).await.expect(file);
        let got: Vec<(&str, Vec<&str>)> = tasks.iter().map(|t| (t.id(), t.containers.iter().map(|c| c.name.as_str()).collect())).collect();
        assert_eq!(got, want, "{file}");
        for t in &tasks {
            assert_eq!((&t.last_status, &t.desired_status, &t.stop_code), (&TaskStatus::Running, &TaskStatus::Running, &None), "{file}");
            assert!(t.containers.iter().all(|c| c.exit_code.is_none()), "{file}");
        }
        let took = tasks[0].started_at.zip(tasks[0].created_at).map(|(s, c)| s - c);
        assert!(latency.map_or(took.is_none(), |l| approx(took, l)), "{file}: {took:?}");
    }
    let r = Server::default().with("DescribeTasks", "ecs-DescribeTasks-3.json");
    let t = r.ports().await.ecs.describe_tasks("default", &["t".into()]).await.expect("ok").remove(0);
    let web = t.containers.iter().find(|c| c.name == "web").and_then(|c| c.runtime_id.clone()).expect("runtime id");
    assert_eq!(
        fgdeploy::engine::exec_target("arn:aws:ecs:us-east-1:123456789012:cluster/default", &t.arn, &web),
        "ecs:default_154bdb1df5b446b280fe900d12c452a1_154bdb1df5b446b280fe900d12c452a1-0265927825"
    );
    assert_eq!(r.requests("DescribeTasks")[0]["cluster"], "default");
}

/// `ecs-ListTasks-1.json`, `-2.json` (botocore ecs `examples-1.json`) and `-5.json`, `-6.json`
/// (AWS CLI `ecs/list-tasks.rst`): the task ARNs as listed (one page: no nextToken); fgdeploy
/// asks by startedBy and desired status, or by service.
#[tokio::test]
async fn list_tasks_examples_give_their_arns() {
    let cases = [
        ("ecs-ListTasks-1.json", ["0cc43cdb-3bee-4407-9c26-c0e6ea5bee84", "6b809ef6-c67e-4467-921f-ee261c15a0a1"].as_slice()),
        ("ecs-ListTasks-2.json", &["0cc43cdb-3bee-4407-9c26-c0e6ea5bee84"]),
        ("ecs-ListTasks-5.json", &["a1b2c3d4-5678-90ab-cdef-11111EXAMPLE", "a1b2c3d4-5678-90ab-cdef-22222EXAMPLE"]),
        ("ecs-ListTasks-6.json", &["a1b2c3d4-5678-90ab-cdef-44444EXAMPLE"]),
    ];
    for (file, ids) in cases {
        let r = Server::default().with("ListTasks", file);
        let ports = r.ports().await;
        let arns = ports.ecs.list_tasks("default", "fgdeploy/migrate/abc", true).await.expect(file);
        assert_eq!(arns.iter().map(|a| a.rsplit('/').next().unwrap_or_default()).collect::<Vec<_>>(), ids, "{file}");
        assert_eq!(ports.ecs.service_tasks("default", "web").await.expect(file), arns, "{file}");
        let sent = r.requests("ListTasks");
        assert_eq!((sent[0]["startedBy"].as_str(), sent[0]["desiredStatus"].as_str()), (Some("fgdeploy/migrate/abc"), Some("STOPPED")));
        assert_eq!((sent[1]["serviceName"].as_str(), sent[1]["desiredStatus"].as_str()), (Some("web"), Some("RUNNING")));
    }
}

fn run_request() -> fgdeploy::ports::RunTask {
    fgdeploy::ports::RunTask {
        cluster: "default".into(),
        task_definition: "sleep360:1".into(),
        container: "sleep".into(),
        command: vec!["sleep".into(), "360".into()],
        network: None,
        launch_type: None,
        capacity_providers: Vec::new(),
        platform_version: None,
        started_by: "fgdeploy/run/abc".into(),
        client_token: "token-1".into(),
    }
}

/// `ecs-RunTask-1.json` (botocore ecs `examples-1.json`, no `failures` member), `-3.json` and
/// `-4.json` (AWS CLI `ecs/run-task.rst`, `failures: []`): the started task, no failures.
#[tokio::test]
async fn run_task_examples_start_one_task_without_failures() {
    let cases = [
        ("ecs-RunTask-1.json", "a9f21ea7-c9f5-44b1-b8e6-b31f50ed33c0", TaskStatus::Pending, "sleep360:1"),
        ("ecs-RunTask-3.json", "d6f51cc5bbc94a47969c9203EXAMPLE", TaskStatus::Pending, "sleep360:1"),
        ("ecs-RunTask-4.json", "7f1fbd3629434cc4b82d72d2f09b67c9", TaskStatus::Provisioning, "mytaskdef:4"),
    ];
    for (file, id, status, td) in cases {
        let r = Server::default().with("RunTask", file);
        let out = r.ports().await.ecs.run_task(&run_request()).await.expect(file);
        let [t] = &out.tasks[..] else { panic!("{file}: {:?}", out.tasks) };
        assert_eq!((t.id(), &t.last_status, t.task_definition.ends_with(td), out.failures.len()), (id, &status, true, 0), "{file}");
        let sent = &r.requests("RunTask")[0];
        assert_eq!(
            (sent["clientToken"].as_str(), sent["startedBy"].as_str(), sent["count"].as_i64()),
            (Some("token-1"), Some("fgdeploy/run/abc"), Some(1))
        );
    }
    let r = Server::default().with("RunTask", "ecs-RunTask-4.json");
    let t = r.ports().await.ecs.run_task(&run_request()).await.expect("ok").tasks.remove(0);
    assert!(approx(t.created_at, 1737649786.65) && t.started_at.is_none());
}

/// `ecs-StopTask-2.json` (ECS API Reference `API_StopTask`) and `-3.json` (AWS CLI
/// `ecs/stop-task.rst`): accepted; fgdeploy reads nothing from the stopped task in the answer
/// (the stop code comes from DescribeTasks), and sends its reason.
#[tokio::test]
async fn stop_task_examples_are_accepted() {
    for file in ["ecs-StopTask-2.json", "ecs-StopTask-3.json"] {
        let r = Server::default().with("StopTask", file);
        assert_eq!(r.ports().await.ecs.stop_task("default", "t1", "fgdeploy: interrupted").await, Ok(()), "{file}");
        assert_eq!(r.requests("StopTask")[0]["reason"], "fgdeploy: interrupted");
    }
}

// ----- ECS: task definitions ------------------------------------------------------------------------

/// `ecs-DescribeTaskDefinition-1.json` (botocore ecs `examples-1.json`,
/// `4c21eeb1-f1da-4a08-8c44-297fc8d0ea88`), `-2.json` (ECS API Reference
/// `API_DescribeTaskDefinition`) and `-3.json` (AWS CLI `ecs/describe-task-definition.rst`, with
/// `registeredAt`, `registeredBy`, `compatibilities`, `status`): every field is carried (the
/// registration fields are read-only), the revision and the container images read.
#[tokio::test]
async fn describe_task_definition_examples_are_carried_whole() {
    let cases = [
        ("ecs-DescribeTaskDefinition-1.json", "arn:aws:ecs:us-east-1:<aws_account_id>:task-definition/hello_world:8", 8, "wordpress"),
        (
            "ecs-DescribeTaskDefinition-2.json",
            "arn:aws:ecs:us-east-1:012345678910:task-definition/hello_world:10",
            10,
            "public.ecr.aws/docker/library/wordpress:latest",
        ),
        ("ecs-DescribeTaskDefinition-3.json", "arn:aws:ecs:us-east-1:012345678910:task-definition/hello_world:8", 8, "wordpress"),
    ];
    for (file, arn, revision, image) in cases {
        let r = Server::default().with("DescribeTaskDefinition", file);
        let reg = r.ports().await.ecs.describe_task_definition("hello_world").await.expect(file);
        assert_eq!((reg.arn.as_str(), reg.family.as_str(), reg.revision), (arn, "hello_world", revision), "{file}");
        assert_eq!(fgdeploy::taskdef::image_of(&reg.definition, "wordpress"), Some(image), "{file}");
        assert_eq!(reg.definition.container_definitions.len(), 2, "{file}");
    }
}

/// `ecs-RegisterTaskDefinition-1.json` (botocore ecs `examples-1.json`) and `-3.json` (AWS CLI
/// `ecs/register-task-definition.rst`): the registered revision fgdeploy then deploys. The
/// botocore example, as published, says revision 1 with an ARN ending `:19`: fgdeploy keeps both
/// as given (the ARN is what it deploys).
#[tokio::test]
async fn register_task_definition_examples_give_the_registered_revision() {
    let td = fgdeploy::taskdef::from_value(
        std::path::Path::new("sleep360.json"),
        serde_json::json!({"family": "sleep360", "containerDefinitions": [{"name": "sleep", "image": "busybox", "cpu": 10, "memory": 10, "essential": true, "command": ["sleep", "360"]}]}),
    )
    .expect("template");
    let cases = [
        ("ecs-RegisterTaskDefinition-1.json", "arn:aws:ecs:us-east-1:<aws_account_id>:task-definition/sleep360:19"),
        ("ecs-RegisterTaskDefinition-3.json", "arn:aws:ecs:us-east-1:123456789012:task-definition/sleep360:1"),
    ];
    for (file, arn) in cases {
        let r = Server::default().with("RegisterTaskDefinition", file);
        let reg = r.ports().await.ecs.register_task_definition(&td).await.expect(file);
        assert_eq!((reg.arn.as_str(), reg.family.as_str(), reg.revision), (arn, "sleep360", 1), "{file}");
        assert_eq!(fgdeploy::taskdef::image_of(&reg.definition, "sleep"), Some("busybox"));
        assert_eq!(r.requests("RegisterTaskDefinition")[0]["family"], "sleep360");
    }
}

// ----- CodeDeploy ------------------------------------------------------------------------------------

/// `codedeploy-GetDeployment-1.json` (CodeDeploy API Reference `API_GetDeployment`) and `-2.json`
/// (AWS CLI `deploy/get-deployment.rst`): EC2/S3 deployments, Succeeded. No AppSpec hash (so
/// fgdeploy can never take one for its own), no error, no rollback. fgdeploy reports the id the
/// answer gives: the API Reference example answers `d-74D35AS7C` to a request for `d-74D24AS7X`.
#[tokio::test]
async fn get_deployment_examples_read_as_succeeded_without_an_appspec() {
    for (file, asked, id) in [
        ("codedeploy-GetDeployment-1.json", "d-74D24AS7X", "d-74D35AS7C"),
        ("codedeploy-GetDeployment-2.json", "d-A1B2C3123", "d-A1B2C3123"),
    ] {
        let r = Server::default().with("GetDeployment", file);
        let d = r.ports().await.codedeploy.deployment(asked).await.expect(file);
        assert_eq!((d.id.as_str(), d.status.clone()), (id, CdStatus::Succeeded), "{file}");
        // The answer says which deployment it is about; the watch refuses one about another
        // deployment (-1 answers `d-74D35AS7C` when asked for `d-74D24AS7X`) as a bad read.
        assert_eq!(d.answered_id.as_deref(), Some(id), "{file}");
        assert_eq!((d.appspec_sha256, d.error, d.rollback_deployment_id, d.termination_wait_started), (None, None, None, false), "{file}");
        assert_eq!(r.requests("GetDeployment")[0]["deploymentId"], asked);
    }
}

/// `codedeploy-GetDeploymentTarget-1.json` (AWS CLI `deploy/get-deployment-target.rst`): an EC2
/// `instanceTarget` — fgdeploy reads ECS targets only, so it sees no status, no task sets, no
/// labels, no lifecycle events, and no Ready time to forecast from.
#[tokio::test]
async fn get_deployment_target_example_is_an_instance_target_fgdeploy_reads_as_empty() {
    let r = Server::default().with("GetDeploymentTarget", "codedeploy-GetDeploymentTarget-1.json");
    let t = r.ports().await.codedeploy.deployment_target("d-A1B2C3111", "i-a1b2c3d4e5f611111").await.expect("parsed");
    assert_eq!(t, fgdeploy::ports::CdTarget::default());
    assert_eq!(fgdeploy::engine::pace::ready_secs(&t), None);
    let sent = &r.requests("GetDeploymentTarget")[0];
    assert_eq!((sent["deploymentId"].as_str(), sent["targetId"].as_str()), (Some("d-A1B2C3111"), Some("i-a1b2c3d4e5f611111")));
}

/// `codedeploy-ListDeploymentTargets-1.json` (AWS CLI `deploy/list-deployment-targets.rst`):
/// the target ids as listed (an EC2 instance here; an ECS deployment's is `<cluster>:<service>`),
/// which the failure report then reads with GetDeploymentTarget (#26).
#[tokio::test]
async fn list_deployment_targets_example_gives_its_target_id() {
    let r = Server::default().with("ListDeploymentTargets", "codedeploy-ListDeploymentTargets-1.json");
    let ids = r.ports().await.codedeploy.deployment_targets("d-A1B2C3111").await.expect("parsed");
    assert_eq!(ids, vec!["i-0f1558aaf90e5f1f9".to_string()]);
    assert_eq!(r.requests("ListDeploymentTargets")[0]["deploymentId"], "d-A1B2C3111");
}

/// `codedeploy-CreateDeployment-1.json` (CodeDeploy API Reference `API_CreateDeployment`),
/// `-2.json` and `-3.json` (AWS CLI `deploy/create-deployment.rst`): the deployment id; the
/// request carries the AppSpec content and its sha256.
#[tokio::test]
async fn create_deployment_examples_give_the_deployment_id() {
    for (file, id) in [
        ("codedeploy-CreateDeployment-1.json", "d-IIMHK0NHC"),
        ("codedeploy-CreateDeployment-2.json", "d-A1B2C3111"),
        ("codedeploy-CreateDeployment-3.json", "d-1234ABCDE"),
    ] {
        let r = Server::default().with("CreateDeployment", file);
        let got = r
            .ports()
            .await
            .codedeploy
            .create_deployment("app", "group", Some("CodeDeployDefault.ECSAllAtOnce"), "version: 0.0", "abc123")
            .await;
        assert_eq!(got, Ok(id.to_string()), "{file}");
        let rev = &r.requests("CreateDeployment")[0]["revision"];
        assert_eq!((rev["revisionType"].as_str(), rev["appSpecContent"]["sha256"].as_str()), (Some("AppSpecContent"), Some("abc123")));
    }
}

/// `codedeploy-StopDeployment-1.json` (CodeDeploy API Reference `API_StopDeployment`, status
/// Pending) and `-2.json` (AWS CLI `deploy/stop-deployment.rst`, Succeeded): accepted; fgdeploy
/// asks for the automatic rollback.
#[tokio::test]
async fn stop_deployment_examples_are_accepted() {
    for file in ["codedeploy-StopDeployment-1.json", "codedeploy-StopDeployment-2.json"] {
        let r = Server::default().with("StopDeployment", file);
        assert_eq!(r.ports().await.codedeploy.stop_deployment("d-A1B2C3111", true).await, Ok(()), "{file}");
        assert_eq!(r.requests("StopDeployment")[0]["autoRollbackEnabled"].as_bool(), Some(true));
    }
}

/// `codedeploy-GetDeploymentGroup-1.json` (CodeDeploy API Reference `API_GetDeploymentGroup`):
/// an EC2 group — no ECS services, target groups, listeners, ready option or rollback; only the
/// names and the configuration.
#[tokio::test]
async fn get_deployment_group_example_is_an_ec2_group_with_nothing_ecs() {
    let r = Server::default().with("GetDeploymentGroup", "codedeploy-GetDeploymentGroup-1.json");
    let g = r.ports().await.codedeploy.deployment_group("TestApp-us-east-1", "dep-group-def-456").await.expect("parsed");
    assert_eq!(
        (g.application.as_str(), g.name.as_str(), g.deployment_config.as_deref()),
        ("TestApp-us-east-1", "dep-group-def-456", Some("CodeDeployDefault.OneAtATime"))
    );
    assert!(g.ecs_services.is_empty() && g.target_groups.is_empty() && g.prod_listeners.is_empty() && g.test_listeners.is_empty());
    assert_eq!((g.ready_action, g.auto_rollback_enabled, g.terminate_action), (None, false, None));
    assert_eq!(r.requests("GetDeploymentGroup")[0]["deploymentGroupName"], "dep-group-def-456");
}

/// `codedeploy-GetDeploymentGroup-2.json` (AWS CLI `deploy/get-deployment-group.rst`) publishes
/// `autoScalingGroups` as strings where the model has objects (`{"name": …}`): the SDK cannot
/// read it, and fgdeploy reports the malformed answer as a transient (retryable) failure.
#[tokio::test]
async fn get_deployment_group_cli_example_does_not_deserialize() {
    let r = Server::default().with("GetDeploymentGroup", "codedeploy-GetDeploymentGroup-2.json");
    let e = r.ports().await.codedeploy.deployment_group("WordPress_App", "WordPress_DG").await.expect_err("malformed");
    let want = PortError::Transient {
        op: "codedeploy:GetDeploymentGroup".into(),
        message: "response error: type mismatch: expected object".into(),
    };
    assert_eq!(e, want);
    assert!(e.is_retryable());
}

/// `codedeploy-ListDeployments-1.json` (AWS CLI `deploy/list-deployments.rst`): three ids, read
/// as the group's active deployments (fgdeploy filters by status in the request) and as its
/// succeeded ones.
#[tokio::test]
async fn list_deployments_example_gives_three_ids() {
    let r = Server::default().with("ListDeployments", "codedeploy-ListDeployments-1.json");
    let ports = r.ports().await;
    let want: Vec<String> = ["d-EXAMPLE11", "d-EXAMPLE22", "d-EXAMPLE33"].map(String::from).to_vec();
    assert_eq!(ports.codedeploy.active_deployments("WordPress_App", "WordPress_DG").await, Ok(want.clone()));
    assert_eq!(ports.codedeploy.succeeded_deployments("WordPress_App", "WordPress_DG").await, Ok(want));
    let sent = r.requests("ListDeployments");
    assert_eq!(sent[0]["includeOnlyStatuses"], serde_json::json!(["Created", "Queued", "InProgress", "Baking", "Ready"]));
    assert_eq!(sent[1]["includeOnlyStatuses"], serde_json::json!(["Succeeded"]));
}

/// `fgdeploy release` of a CodeDeploy blue/green deployspec (no checks) against the documented
/// EC2 deployment group `codedeploy-GetDeploymentGroup-1.json`, with `active` as the
/// ListDeployments answer. Also verbatim: `ecs-DescribeTaskDefinition-1.json`,
/// `ecr-BatchGetImage-2.json`, `ecs-RegisterTaskDefinition-3.json`,
/// `codedeploy-CreateDeployment-3.json`, `codedeploy-GetDeployment-1.json`,
/// `codedeploy-GetDeploymentTarget-1.json`. Shape-only: the service (no documented
/// DescribeServices answer has the CODE_DEPLOY controller) and the scalable targets.
fn codedeploy_release(active: Server) -> (Server, crate::harness::Output) {
    let r = active
        .body("DescribeServices", shape_only::CODE_DEPLOY_SERVICE)
        .with("DescribeTaskDefinition", "ecs-DescribeTaskDefinition-1.json")
        .with("BatchGetImage", "ecr-BatchGetImage-2.json")
        .with("GetDeploymentGroup", "codedeploy-GetDeploymentGroup-1.json")
        .with("RegisterTaskDefinition", "ecs-RegisterTaskDefinition-3.json")
        .with("CreateDeployment", "codedeploy-CreateDeployment-3.json")
        .with("GetDeployment", "codedeploy-GetDeployment-1.json")
        .with("GetDeploymentTarget", "codedeploy-GetDeploymentTarget-1.json")
        .body("DescribeScalableTargets", shape_only::NOT_AUTOSCALED);
    let spec = "[service]\ncluster = \"demo\"\nname = \"web\"\n\n[image]\nrepository = \"012345678910.dkr.ecr.us-west-2.amazonaws.com/amazonlinux\"\ntag = \"latest\"\n\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n\n[deploy]\nstrategy = \"blue-green\"\n[deploy.blue_green]\napplication = \"TestApp-us-east-1\"\ndeployment_group = \"dep-group-def-456\"\ncontainer_port = 8080\n";
    let (_d, path) = crate::harness::spec_dir_with(spec, crate::harness::TEMPLATE);
    let out = cli(&r.start()).args(["release", "-f", path.to_str().expect("utf-8")]).run();
    assert_eq!(r.requests("GetDeploymentGroup")[0]["deploymentGroupName"], "dep-group-def-456");
    (r, out)
}

/// [`codedeploy_release`] with `codedeploy-ListDeployments-1.json` (AWS CLI
/// `deploy/list-deployments.rst`, three ids): the documented group (`GetDeploymentGroup-1`) is
/// an EC2/on-premises group (EC2 tag filters, no `ecsServices`); it is refused before any change
/// (exit 3). Before: an empty `ecsServices` was read as "any service".
#[test]
fn a_codedeploy_release_refuses_the_documented_ec2_group_before_any_change() {
    let (r, out) = codedeploy_release(Server::default().with("ListDeployments", "codedeploy-ListDeployments-1.json"));
    assert_eq!(out.code, fgdeploy::error::exit::INPUT, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("is not an ECS deployment group"), "{}", out.stderr);
    assert!(r.requests("CreateDeployment").is_empty() && r.requests("RegisterTaskDefinition").is_empty());
}

// ----- ECR -------------------------------------------------------------------------------------------

/// `ecr-BatchGetImage-1.json` (botocore ecr `examples-1.json`, truncated manifest), `-2.json`
/// (ECR API Reference `API_BatchGetImage`), `-3.json` and `-4.json` (AWS CLI
/// `ecr/batch-get-image.rst`; `-4` has two images from two registries): the tag exists, the
/// digest and the manifest as stored; no documented answer has `imageManifestMediaType`.
#[tokio::test]
async fn batch_get_image_examples_give_digest_and_manifest() {
    let cases = [
        ("ecr-BatchGetImage-1.json", "sha256:example76bdff6d83a09ba2a818f0d00000063724a9ac3ba5019c56f74ebf42a", "{\n \"schemaVersion\": 1"),
        (
            "ecr-BatchGetImage-2.json",
            "sha256:f1d4ae3f7261a72e98c6ebefe9985cf10a0ea5bd762585a43e0700ed99863807",
            "{\n   \"schemaVersion\": 2",
        ),
        (
            "ecr-BatchGetImage-3.json",
            "sha256:4a1c6567c38904384ebc64e35b7eeddd8451110c299e3368d2210066487d97e5",
            "{\n   \"schemaVersion\": 2",
        ),
        ("ecr-BatchGetImage-4.json", "sha256:123456789012", "manifestExample1"),
    ];
    for (file, digest, head) in cases {
        let r = Server::default().with("BatchGetImage", file);
        let ports = r.ports().await;
        assert_eq!(ports.ecr.image_digest("repo", "tag").await, Ok(Some(digest.to_string())), "{file}");
        let m = ports.ecr.manifest("repo", "tag").await.expect(file).expect("manifest");
        assert!(m.body.starts_with(head) && m.media_type.is_none(), "{file}: {m:?}");
        assert_eq!(ports.ecr.image_exists_in("567890121234", "repo", "tag").await, Ok(true), "{file}");
        assert_eq!(r.requests("BatchGetImage")[2]["registryId"], "567890121234");
    }
}

/// `ecr-BatchGetImage-2.json` then `ecr-PutImage-1.json` (ECR API Reference `API_BatchGetImage`,
/// `API_PutImage`), and `ecr-PutImage-2.json` (AWS CLI `ecr/put-image.rst`): promote puts the
/// exact manifest bytes, its media type taken from the manifest (the answer has none); PutImage's
/// answer is success.
#[tokio::test]
async fn put_image_examples_accept_the_promoted_manifest() {
    for file in ["ecr-PutImage-1.json", "ecr-PutImage-2.json"] {
        let r = Server::default().with("BatchGetImage", "ecr-BatchGetImage-2.json").with("PutImage", file);
        let ports = r.ports().await;
        let m = ports.ecr.manifest("amazonlinux", "latest").await.expect("ok").expect("manifest");
        assert_eq!(ports.ecr.put_manifest("amazonlinux", "2016.09", &m).await, Ok(true), "{file}");
        let sent = &r.requests("PutImage")[0];
        assert_eq!(sent["imageManifest"].as_str(), Some(m.body.as_str()));
        assert_eq!(sent["imageManifestMediaType"], "application/vnd.docker.distribution.manifest.v2+json");
    }
}

/// `ecr-GetAuthorizationToken-1.json` (ECR API Reference `API_GetAuthorizationToken`) and
/// `-2.json` (AWS CLI `ecr/get-authorization-token.rst`): both tokens are published truncated
/// (`...`), so neither decodes. fgdeploy says so and does not retry (it used to classify it
/// Transient, though no retry can mend it).
#[tokio::test]
async fn get_authorization_token_examples_are_truncated_and_refused_at_once() {
    for file in ["ecr-GetAuthorizationToken-1.json", "ecr-GetAuthorizationToken-2.json"] {
        let r = Server::default().with("GetAuthorizationToken", file);
        let e = r.ports().await.ecr.authorization().await.expect_err(file);
        let want = PortError::Rejected {
            op: "ecr:GetAuthorizationToken".into(),
            code: "MalformedAuthorizationToken".into(),
            message: "authorizationToken is not base64".into(),
        };
        assert_eq!(e, want, "{file}");
        // Not retried: a token that does not decode will not decode on a retry either.
        assert!(!e.is_retryable(), "{file}");
    }
}

/// `ecr-DescribeRepositories-1.json` (botocore ecr `examples-1.json`) and `-2.json` (AWS CLI
/// `ecr/describe-repositories.rst`): neither has `repositoryUri`, so fgdeploy answers NotFound
/// for `ubuntu`, a repository the answer lists.
#[tokio::test]
async fn describe_repositories_examples_lack_the_uri_and_read_as_not_found() {
    for file in ["ecr-DescribeRepositories-1.json", "ecr-DescribeRepositories-2.json"] {
        let r = Server::default().with("DescribeRepositories", file);
        let e = r.ports().await.ecr.repository_uri("ubuntu").await.expect_err(file);
        let want = PortError::NotFound { op: "ecr:DescribeRepositories".into(), message: "repository ubuntu not found".into() };
        assert_eq!(e, want, "{file}");
        assert_eq!(r.requests("DescribeRepositories")[0]["repositoryNames"], serde_json::json!(["ubuntu"]));
    }
}

/// A clock that advances when slept on (no real waiting).
#[derive(Default)]
struct Virtual(Mutex<f64>);

#[async_trait::async_trait]
impl fgdeploy::ports::Clock for Virtual {
    fn now(&self) -> Timestamp {
        *self.0.lock().expect("lock")
    }
    async fn sleep(&self, d: std::time::Duration) {
        *self.0.lock().expect("lock") += d.as_secs_f64();
    }
}

/// What `plan`/`release` observe with the documented ECR answers: the service is
/// `ecs-DescribeServices-1.json`, its revision `ecs-DescribeTaskDefinition-1.json`. With
/// `ecr-DescribeRepositories-1.json` the repository reads as missing (bad input, exit 3); with
/// `create_repository = true` fgdeploy asks for the registry host and gets
/// `ecr-GetAuthorizationToken-1.json`'s truncated token: one attempt, then the error (it is not
/// retried: it was, 8 attempts over 35–71 s of back-off).
#[tokio::test]
async fn observe_with_the_documented_ecr_answers() {
    let run = |create: bool| async move {
        let r = Server::default()
            .with("DescribeServices", "ecs-DescribeServices-1.json")
            .with("DescribeTaskDefinition", "ecs-DescribeTaskDefinition-1.json")
            .with("DescribeRepositories", "ecr-DescribeRepositories-1.json")
            .with("GetAuthorizationToken", "ecr-GetAuthorizationToken-1.json");
        let clock = Arc::new(Virtual::default());
        let ports = Ports { clock: clock.clone(), ..r.ports().await };
        let spec = format!(
            "[service]\ncluster = \"default\"\nname = \"ecs-simple-service\"\n\n[image]\nrepository = \"ubuntu\"\ntag = \"precise\"\ncreate_repository = {create}\n\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n"
        );
        let (_d, path) = crate::harness::spec_dir_with(&spec, crate::harness::TEMPLATE);
        let spec = fgdeploy::spec::Spec::load(&path, None).expect("spec");
        let e = fgdeploy::engine::observe(&spec, &ports).await.expect_err("refused");
        (e, r.requests("GetAuthorizationToken").len(), fgdeploy::ports::Clock::now(clock.as_ref()))
    };
    let (e, tokens, _) = run(false).await;
    assert_eq!((e.exit_code(), tokens), (fgdeploy::error::exit::INPUT, 0), "{e}");
    assert!(e.to_string().contains("ECR repository \"ubuntu\" does not exist (repository ubuntu not found)"), "{e}");
    let (e, tokens, slept) = run(true).await;
    // One GetAuthorizationToken, no back-off: an undecodable token is not retried (it was: 8
    // calls over 35–71 s).
    assert_eq!((e.exit_code(), tokens), (fgdeploy::error::exit::AWS, 1), "{e}");
    assert!(e.to_string().contains("authorizationToken is not base64") && slept < 1.0, "{e} after {slept} s");
}

// ----- CloudWatch Logs, Application Auto Scaling ------------------------------------------------------

/// `logs-GetLogEvents-1.json` (AWS CLI `logs/get-log-events.rst`): three lines oldest first (two
/// alike, both kept) and the forward token; fgdeploy reads from the head and sends its token.
#[tokio::test]
async fn get_log_events_example_gives_three_lines_and_the_forward_token() {
    let r = Server::default().with("GetLogEvents", "logs-GetLogEvents-1.json");
    let page = r.ports().await.logs.log_events("my-logs", "20150601", Some("f/1")).await.expect("parsed");
    assert_eq!(page.lines, ["Example Event 1", "Example Event 1", "Example Event 2"]);
    assert_eq!(page.next_token.as_deref(), Some("f/31961209122447488583055879464742346735121166569214640130"));
    let sent = &r.requests("GetLogEvents")[0];
    assert_eq!((sent["startFromHead"].as_bool(), sent["nextToken"].as_str()), (Some(true), Some("f/1")));
}

/// `application-autoscaling-DescribeScalableTargets-1.json` (botocore application-autoscaling
/// `examples-1.json`, `to-describe-scalable-targets-1470864286961`) and `-2.json` (AWS CLI
/// `application-autoscaling/describe-scalable-targets.rst`): the service is autoscaled between 1
/// and 10, scale-in not suspended; a desired count is kept inside those bounds.
#[tokio::test]
async fn describe_scalable_targets_examples_bound_the_desired_count() {
    for file in ["application-autoscaling-DescribeScalableTargets-1.json", "application-autoscaling-DescribeScalableTargets-2.json"] {
        let r = Server::default().with("DescribeScalableTargets", file);
        let t = r.ports().await.autoscaling.scalable_target("default", "web-app").await.expect(file).expect("a target");
        assert_eq!((t.min, t.max, t.scale_in_suspended, t.clamp(20), t.clamp(0)), (1, 10, false, 10, 1), "{file}");
        let sent = &r.requests("DescribeScalableTargets")[0];
        assert_eq!((sent["ResourceIds"][0].as_str(), sent["ServiceNamespace"].as_str()), (Some("service/default/web-app"), Some("ecs")));
    }
}
