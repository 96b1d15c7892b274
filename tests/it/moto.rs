//! Wire-level tests against the moto emulator (started by `scripts/test`, endpoint in
//! FGDEPLOY_TEST_MOTO). They prove request and response shapes through the real AWS SDK.
//!
//! What moto can show here: RegisterTaskDefinition / DescribeTaskDefinition (with tags) echo
//! every field, so the full-fidelity round-trip is real; DescribeServices, UpdateService,
//! ECR DescribeRepositories / BatchGetImage / PutImage parse; `plan` reads a live service.
//! What it cannot show: moto drops deploymentConfiguration, never progresses a deployment (its
//! one PRIMARY deployment stays IN_PROGRESS on the *old* task definition even after
//! UpdateService), and lacks List/Describe/StopServiceDeployments. So rollouts, circuit breakers
//! and rollbacks are proven on the simulator (tests/it/engine.rs), and here a release is started
//! with `--force --no-wait` (moto's eternal IN_PROGRESS would trip the concurrent-release guard).
//! CodeDeploy on moto: applications, deployment groups and Create/Get/ListDeployments parse (the
//! deployment stays `Created`); it lacks Continue/StopDeployment and GetDeploymentTarget, so the
//! blue/green flow itself is proven on the simulator with real HTTP listeners (engine.rs).

use crate::harness::{Test, spec_dir_with};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use fgdeploy::error::exit;
use fgdeploy::ports::{PortError, Ports, UpdateService};
use fgdeploy::spec::Spec;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

struct Moto {
    endpoint: String,
    conf: SdkConfig,
}

/// The emulator, or None (loudly) outside CI when it is not running. Under CI it must run.
async fn moto() -> Option<Moto> {
    let Ok(endpoint) = std::env::var("FGDEPLOY_TEST_MOTO") else {
        if std::env::var_os("CI").is_some() {
            panic!("FGDEPLOY_TEST_MOTO is not set: under CI the moto tests must run; use scripts/test");
        }
        eprintln!("\n*** SKIPPED: moto wire test (FGDEPLOY_TEST_MOTO unset); run scripts/test to include it ***\n");
        return None;
    };
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await;
    Some(Moto { endpoint, conf })
}

/// Records the HTTP request bodies the SDK sends.
#[derive(Debug, Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl aws_sdk_ecs::config::Intercept for Capture {
    fn name(&self) -> &'static str {
        "capture-request-bodies"
    }
    fn read_before_transmit(
        &self,
        ctx: &aws_sdk_ecs::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _rc: &aws_sdk_ecs::config::RuntimeComponents,
        _cfg: &mut aws_sdk_ecs::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if let (Some(bytes), Ok(mut v)) = (ctx.request().body().bytes(), self.0.lock()) {
            v.push(bytes.to_vec());
        }
        Ok(())
    }
}

fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

impl Moto {
    fn ports(&self) -> Ports {
        fgdeploy::aws::ports_from_config(&self.conf)
    }
    /// Every client on the emulator; a test swaps one for a client with an interceptor.
    fn aws(&self) -> fgdeploy::aws::Aws {
        fgdeploy::aws::Aws::new(&self.conf)
    }

    /// The ports with this ECS client (an interceptor sees its requests).
    fn ports_with(&self, ecs: aws_sdk_ecs::Client) -> Ports {
        fgdeploy::aws::ports_from(fgdeploy::aws::Aws { ecs, ..self.aws() })
    }
    /// An HTTP target group of IP targets on port 8080 in `vpc`, named after `prefix`: its ARN
    /// and name.
    async fn ip_target_group(&self, prefix: &str, vpc: &str) -> (String, String) {
        use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetTypeEnum};
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&self.conf);
        let create = elb.create_target_group().name(unique(prefix)).protocol(ProtocolEnum::Http).port(8080).vpc_id(vpc);
        let tg = create.target_type(TargetTypeEnum::Ip).send().await.expect("target group");
        let t = &tg.target_groups()[0];
        (t.target_group_arn().expect("arn").to_string(), t.target_group_name().expect("name").to_string())
    }

    /// An ECR repository named after `prefix` with an image tagged `v1` (manifest `n`): its URI.
    async fn repository_with_v1(&self, prefix: &str, n: u32) -> String {
        let ecr = aws_sdk_ecr::Client::new(&self.conf);
        let repo_name = unique(prefix);
        let repo = ecr.create_repository().repository_name(&repo_name).send().await.expect("repo");
        let uri = repo.repository().and_then(|r| r.repository_uri()).expect("uri").to_string();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:{n:064x}"}},"layers":[]}}"#
        );
        ecr.put_image().repository_name(&repo_name).image_tag("v1").image_manifest(manifest).send().await.expect("put image");
        uri
    }
    fn cli(&self) -> Test {
        Test::new().env("AWS_ENDPOINT_URL", &self.endpoint)
    }
    /// Cluster, ECR repository with `tags` pushed, and a service running `spec`'s template with
    /// the image tag `live_tag`. Returns the registered task-definition ARN.
    async fn service_for(&self, spec: &Spec, live_tag: &str, tags: &[&str]) -> String {
        let ecs = aws_sdk_ecs::Client::new(&self.conf);
        let ecr = aws_sdk_ecr::Client::new(&self.conf);
        ecs.create_cluster().cluster_name(spec.cluster()).send().await.expect("create cluster");
        let repo = ecr.create_repository().repository_name(&spec.file.image.repository).send().await.expect("create repository");
        let uri = repo.repository().and_then(|r| r.repository_uri()).expect("uri").to_string();
        for tag in tags {
            let manifest = format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:{:064x}"}},"layers":[]}}"#,
                tag.len()
            );
            ecr.put_image()
                .repository_name(&spec.file.image.repository)
                .image_tag(*tag)
                .image_manifest(manifest)
                .send()
                .await
                .expect("put image");
        }
        let td = spec.render_task_definition(&format!("{uri}:{live_tag}")).expect("render");
        let reg = self.ports().ecs.register_task_definition(&td).await.expect("register through the adapter");
        ecs.create_service()
            .cluster(spec.cluster())
            .service_name(spec.service())
            .task_definition(&reg.arn)
            .desired_count(2)
            .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
            .send()
            .await
            .expect("create service");
        reg.arn
    }
}

fn template(family: &str) -> String {
    format!(
        r#"{{"family": "{family}", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
  "containerDefinitions": [{{"name": "web", "image": "{{{{ image }}}}", "memory": 512, "portMappings": [{{"containerPort": 8080}}],
    "environment": [{{"name": "A", "value": "1"}}]}}]}}"#
    )
}

/// A spec matching what moto keeps of a service: it drops deploymentConfiguration, so the spec
/// asks for ECS's defaults (100/200, no circuit breaker, no alarms).
fn moto_spec() -> (tempfile::TempDir, std::path::PathBuf) {
    let (cluster, service, family) = (unique("c"), unique("s"), unique("f"));
    let spec = format!(
        "[service]\ncluster = \"{cluster}\"\nname = \"{service}\"\n\n[image]\nrepository = \"{}\"\ntag = \"v2\"\n\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n\n[deploy.rolling]\ncircuit_breaker = false\n",
        unique("r")
    );
    spec_dir_with(&spec, &template(&family))
}

#[tokio::test]
async fn every_register_task_definition_field_round_trips() {
    let Some(m) = moto().await else { return };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/every-field.taskdef.json");
    let text = std::fs::read_to_string(&path).expect("fixture");
    let mut vars = fgdeploy::vars::Vars::from_process(Path::new("."));
    vars.set_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1");
    let td = fgdeploy::taskdef::parse(&path, &text, &vars).expect("parse");
    // The fixture really uses every input field of RegisterTaskDefinition and of
    // ContainerDefinition (the lists are the SDK's, aws-sdk-ecs 1.157).
    let json = serde_json::to_value(&td).expect("json");
    let top = "family taskRoleArn executionRoleArn networkMode containerDefinitions volumes placementConstraints requiresCompatibilities cpu memory tags pidMode ipcMode proxyConfiguration inferenceAccelerators ephemeralStorage runtimePlatform enableFaultInjection";
    let container = "name image repositoryCredentials cpu memory memoryReservation links portMappings essential restartPolicy entryPoint command environment environmentFiles mountPoints volumesFrom linuxParameters secrets dependsOn startTimeout stopTimeout versionConsistency hostname user workingDirectory disableNetworking privileged readonlyRootFilesystem dnsServers dnsSearchDomains extraHosts dockerSecurityOptions interactive pseudoTerminal dockerLabels ulimits logConfiguration healthCheck systemControls resourceRequirements firelensConfiguration credentialSpecs";
    for key in top.split(' ') {
        assert!(json.get(key).is_some(), "the fixture lacks {key}");
    }
    let containers = json["containerDefinitions"].as_array().expect("containers");
    for key in container.split(' ') {
        assert!(containers.iter().any(|c| c.get(key).is_some()), "the fixture lacks containerDefinitions[].{key}");
    }

    // Model → SDK: the RegisterTaskDefinition body on the wire is exactly the model's JSON.
    let capture = Capture::default();
    let ecs_conf = aws_sdk_ecs::config::Builder::from(&m.conf).interceptor(capture.clone()).build();
    let ports = m.ports_with(aws_sdk_ecs::Client::from_conf(ecs_conf));
    let reg = ports.ecs.register_task_definition(&td).await.expect("register");
    let body = capture.0.lock().expect("lock").first().cloned().expect("a request body");
    let mut wire: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
    // The SDK models container `cpu` as a plain i32 and always sends it; 0 is ECS's "unset".
    for c in wire["containerDefinitions"].as_array_mut().expect("containers") {
        if c["cpu"] == 0 {
            c.as_object_mut().expect("object").remove("cpu");
        }
    }
    let lines = |c: Vec<fgdeploy::diff::Change>| c.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    let to_wire = fgdeploy::diff::diff(&json, &wire);
    assert!(to_wire.is_empty(), "the request differs from the template:\n{}", lines(to_wire));

    // SDK → model: what DescribeTaskDefinition returns parses back to the same model. moto does
    // not store enableFaultInjection (measured), so that one field is checked on the request only.
    let back = ports.ecs.describe_task_definition(&reg.arn).await.expect("describe");
    let mut sent = json.clone();
    if let Some(obj) = sent.as_object_mut() {
        obj.remove("enableFaultInjection");
    }
    let got = serde_json::to_value(&back.definition).expect("json");
    let changes = fgdeploy::diff::diff(&sent, &got);
    assert!(changes.is_empty(), "fields lost or changed on the way through the SDK and back:\n{}", lines(changes));
    assert_eq!(back.revision, 1);
}

#[tokio::test]
async fn plan_against_a_live_service_diffs_only_what_changed() {
    let Some(m) = moto().await else { return };
    let (_dir, path) = moto_spec();
    let spec = Spec::load(&path, None).expect("spec");
    let arn = m.service_for(&spec, "v1", &["v1", "v2"]).await;
    let f = path.to_str().expect("utf-8 path");

    // The new image: a task-definition diff, exit 2 (changes).
    let out = m.cli().args(["plan", "-f", f]).status(exit::CHANGES);
    out.stdout_has("~ containerDefinitions[web].image")
        .stdout_has(":v1\" → \"")
        .stdout_has(":v2\"")
        .stdout_has("+ register")
        .stdout_has("build    skip");

    // The live image: no diff at all, exit 0.
    let out = m.cli().args(["plan", "-f", f, "--image-tag", "v1"]).status(exit::OK);
    out.stdout_has("Task definition: no changes").stdout_has("Service: no changes").stdout_has(&arn);

    // A tag that is not in ECR, and no [build]: the plan says the release would fail there.
    m.cli()
        .args(["plan", "-f", f, "--image-tag", "v3"])
        .status(exit::CHANGES)
        .stdout_has("+ build    FAILS")
        .stdout_has("no [build] section");

    // JSON: one document with the same plan.
    let out = m.cli().args(["plan", "-f", f, "--output", "json"]).status(exit::CHANGES);
    let docs = out.events();
    assert_eq!(docs.len(), 1, "one JSON document: {}", out.stdout);
    let fin = &docs[0];
    assert_eq!(fin["plan"]["task_definition_changes"][0]["path"], "containerDefinitions[web].image");
    assert_eq!(fin["plan"]["rollout"]["floor_tasks"], 2);
    assert_eq!(fin["plan"]["rollout"]["ceiling_tasks"], 4);
    assert_eq!(fin["plan"]["has_changes"], true);
    assert_eq!(fin["exit_code"], 2);
    assert!(fin["api_calls"]["ecs:DescribeServices"].as_u64().is_some_and(|n| n >= 1));
    assert!(
        fin["api_calls"].as_object().expect("map").keys().all(|k| !k.contains("Register") && !k.contains("Update")),
        "plan made a mutating call: {}",
        fin["api_calls"]
    );
}

#[tokio::test]
async fn release_status_and_rollback_speak_the_wire_protocol() {
    let Some(m) = moto().await else { return };
    let (_dir, path) = moto_spec();
    let spec = Spec::load(&path, None).expect("spec");
    let first = m.service_for(&spec, "v1", &["v1", "v2"]).await;
    let f = path.to_str().expect("utf-8 path");

    // Without --force the guard sees moto's eternal IN_PROGRESS deployment and refuses.
    m.cli().args(["release", "-f", f]).status(exit::CONFLICT).stderr_has("already has a deployment in progress");

    // Register + UpdateService through the SDK, not watched (moto never finishes deployments).
    let out = m.cli().args(["release", "-f", f, "--force", "--no-wait", "--output", "json"]).status(exit::OK);
    let registered = out.events().into_iter().find(|e| e["event"] == "registered").expect("registered event");
    let second = registered["arn"].as_str().expect("arn").to_string();
    assert!(second.ends_with(":2"), "{second}");
    let ports = m.ports();
    let svc = ports.ecs.describe_service(spec.cluster(), spec.service()).await.expect("describe").expect("service");
    assert!(second.ends_with(svc.task_definition.rsplit('/').next().unwrap_or_default()), "service now on {}", svc.task_definition);
    // The new revision records the one it replaced, for `rollback`.
    let reg = ports.ecs.describe_task_definition(&second).await.expect("describe td");
    let tags = reg.definition.tags.unwrap_or_default();
    assert!(
        tags.iter().any(|t| t.key.as_deref() == Some("fgdeploy:previous-task-definition") && t.value.as_deref() == Some(first.as_str())),
        "{tags:?}"
    );

    // status reads it back.
    m.cli().args(["status", "-f", f]).status(exit::OK).stdout_has(spec.service()).stdout_has(":v2");

    // rollback: dry run names the target, then UpdateService back to revision 1.
    m.cli().args(["rollback", "-f", f, "--to", "1", "--dry-run"]).status(exit::CHANGES).stdout_has(&first);
    m.cli().args(["rollback", "-f", f, "--to", "1", "--no-wait"]).status(exit::OK);
    let svc = ports.ecs.describe_service(spec.cluster(), spec.service()).await.expect("describe").expect("service");
    assert!(first.ends_with(svc.task_definition.rsplit('/').next().unwrap_or_default()), "service back on {}", svc.task_definition);

    // UpdateService through the adapter parses the answer.
    let back = ports
        .ecs
        .update_service(&UpdateService {
            cluster: spec.cluster().into(),
            service: spec.service().into(),
            task_definition: second.clone(),
            desired_count: Some(3),
            deployment_config: None,
            native: None,
            settings: Default::default(),
        })
        .await
        .expect("update");
    assert_eq!(back.desired_count, 3);
}

#[tokio::test]
async fn aws_errors_are_mapped_and_named() {
    let Some(m) = moto().await else { return };
    let (_dir, path) = moto_spec();
    // No such service: bad input (a wrong name), exit 3 as documented (#23 item 13; it was 4),
    // with a message naming the service and the deployspec.
    let out = m.cli().args(["plan", "-f", path.to_str().expect("utf-8")]).status(exit::INPUT);
    out.stderr_has("does not exist").stderr_has("web.toml");
    let ports = m.ports();
    let err = ports.ecs.describe_task_definition("no-such-family:9").await.expect_err("missing");
    assert!(matches!(err, fgdeploy::ports::PortError::Rejected { .. } | fgdeploy::ports::PortError::NotFound { .. }), "{err:?}");
    let err = ports.ecr.repository_uri("no-such-repo").await.expect_err("missing");
    assert!(matches!(err, fgdeploy::ports::PortError::NotFound { .. }), "{err:?}");
}

/// A subnet of moto's default VPC.
fn default_subnet(endpoint: &str) -> String {
    xml_values(&ec2_query(endpoint, "DescribeSubnets"), "subnetId").into_iter().next().expect("a subnet in the default VPC")
}

#[tokio::test]
async fn run_task_for_a_migration_is_well_formed() {
    let Some(m) = moto().await else { return };
    let cluster = unique("mig");
    let ecs = aws_sdk_ecs::Client::new(&m.conf);
    ecs.create_cluster().cluster_name(&cluster).send().await.expect("cluster");
    let family = unique("mig");
    let td: fgdeploy::taskdef::TaskDefinition = serde_json::from_value(serde_json::json!({
        "family": family, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
        "containerDefinitions": [{"name": "web", "image": "x:2", "memory": 512}]
    }))
    .expect("td");
    let capture = Capture::default();
    let ecs_conf = aws_sdk_ecs::config::Builder::from(&m.conf).interceptor(capture.clone()).build();
    let ports = m.ports_with(aws_sdk_ecs::Client::from_conf(ecs_conf));
    let reg = ports.ecs.register_task_definition(&td).await.expect("register");
    let subnet = default_subnet(&m.endpoint);
    let req = fgdeploy::ports::RunTask {
        cluster: cluster.clone(),
        task_definition: reg.arn.clone(),
        container: "web".into(),
        command: vec!["bin/migrate".into(), "up".into()],
        network: Some(fgdeploy::ports::Network {
            subnets: vec![subnet.clone()],
            security_groups: vec!["sg-12345".into()],
            assign_public_ip: false,
        }),
        launch_type: Some("FARGATE".into()),
        capacity_providers: vec![],
        platform_version: Some("LATEST".into()),
        started_by: "fgdeploy/migrate/v2".into(),
        client_token: "18c0ffee-web".into(),
    };
    let res = ports.ecs.run_task(&req).await.expect("RunTask");
    assert!(res.failures.is_empty(), "{:?}", res.failures);
    let task = res.tasks.first().expect("a task").clone();
    assert_eq!(task.started_by.as_deref(), Some("fgdeploy/migrate/v2"));

    // The request on the wire.
    let bodies = capture.0.lock().expect("lock").clone();
    let body: serde_json::Value = serde_json::from_slice(bodies.last().expect("RunTask body")).expect("json");
    assert_eq!(body["launchType"], "FARGATE");
    assert_eq!(body["clientToken"], "18c0ffee-web");
    assert_eq!(body["startedBy"], "fgdeploy/migrate/v2");
    assert_eq!(body["platformVersion"], "LATEST");
    assert_eq!(body["overrides"]["containerOverrides"][0], serde_json::json!({"name": "web", "command": ["bin/migrate", "up"]}));
    assert_eq!(
        body["networkConfiguration"]["awsvpcConfiguration"],
        serde_json::json!({"subnets": [subnet], "securityGroups": ["sg-12345"], "assignPublicIp": "DISABLED"})
    );

    // DescribeTasks parses; moto walks the task to STOPPED, one step per call.
    let mut last = String::new();
    for _ in 0..8 {
        let t = ports.ecs.describe_tasks(&cluster, std::slice::from_ref(&task.arn)).await.expect("describe");
        let t = t.first().expect("the task");
        last = t.last_status.to_string();
        if last == "STOPPED" {
            assert_eq!(t.containers.first().and_then(|c| c.exit_code), Some(0));
            break;
        }
    }
    assert_eq!(last, "STOPPED");
    ports.ecs.stop_task(&cluster, &task.arn, "fgdeploy: test").await.expect("StopTask parses");
}

#[tokio::test]
async fn migration_logs_are_read_from_cloudwatch_logs() {
    let Some(m) = moto().await else { return };
    let logs = aws_sdk_cloudwatchlogs::Client::new(&m.conf);
    let group = format!("/ecs/{}", unique("mig"));
    let stream = "web/web/0123456789abcdef";
    logs.create_log_group().log_group_name(&group).send().await.expect("group");
    let ports = m.ports();
    // Before the stream exists: NotFound, which the runner tolerates.
    let err = ports.logs.log_events(&group, stream, None).await.expect_err("no stream yet");
    assert!(matches!(err, fgdeploy::ports::PortError::NotFound { .. }), "{err:?}");
    logs.create_log_stream().log_group_name(&group).log_stream_name(stream).send().await.expect("stream");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_millis() as i64;
    let event =
        |i: i64, m: &str| aws_sdk_cloudwatchlogs::types::InputLogEvent::builder().timestamp(now + i).message(m).build().expect("event");
    logs.put_log_events()
        .log_group_name(&group)
        .log_stream_name(stream)
        .log_events(event(0, "applying 0041_users"))
        .log_events(event(1, "applying 0042_add_index"))
        .send()
        .await
        .expect("put");
    let page = ports.logs.log_events(&group, stream, None).await.expect("read");
    assert_eq!(page.lines, ["applying 0041_users", "applying 0042_add_index"], "oldest first (startFromHead)");
    logs.put_log_events().log_group_name(&group).log_stream_name(stream).log_events(event(2, "done")).send().await.expect("put");
    let next = ports.logs.log_events(&group, stream, page.next_token.as_deref()).await.expect("read on");
    assert_eq!(next.lines, ["done"], "the forward token continues where the last page ended");
}

#[tokio::test]
async fn ecr_authorization_token_is_decoded() {
    let Some(m) = moto().await else { return };
    let auth = m.ports().ecr.authorization().await.expect("GetAuthorizationToken");
    assert_eq!(auth.username, "AWS");
    assert!(!auth.password.is_empty() && !auth.password.contains(':'), "the password is what follows AWS:");
    assert_eq!(auth.host(), "123456789012.dkr.ecr.us-east-1.amazonaws.com");
    assert!(!format!("{auth:?}").contains(&auth.password), "Debug output never shows the password");
}

#[tokio::test]
async fn promote_copies_the_exact_manifest_to_a_new_tag() {
    let Some(m) = moto().await else { return };
    let (_dir, path) = moto_spec();
    let spec = Spec::load(&path, None).expect("spec");
    m.service_for(&spec, "v1", &["v1"]).await;
    let f = path.to_str().expect("utf-8");
    m.cli().args(["promote", "-f", f, "--from-tag", "v1", "--to-tag", "prod"]).status(exit::OK).stdout_has("promoted");
    let ecr = m.ports().ecr;
    let repo = &spec.file.image.repository;
    let (a, b) = (
        ecr.manifest(repo, "v1").await.expect("v1").expect("v1 exists"),
        ecr.manifest(repo, "prod").await.expect("prod").expect("prod exists"),
    );
    assert_eq!(a.body, b.body, "the same manifest bytes");
    assert_eq!(a.digest, b.digest);
    assert_eq!(b.media_type.as_deref(), Some("application/vnd.docker.distribution.manifest.v2+json"));
    // Again: ImageAlreadyExistsException is success.
    m.cli().args(["promote", "-f", f, "--from-tag", "v1", "--to-tag", "prod"]).status(exit::OK).stdout_has("already promoted");
    // A tag that does not exist.
    m.cli().args(["promote", "-f", f, "--from-tag", "nope", "--to-tag", "x"]).status(exit::AWS).stderr_has("is not in ECR");
}

#[tokio::test]
async fn plan_shows_build_or_skip_from_ecr() {
    let Some(m) = moto().await else { return };
    let (dir, path) = moto_spec();
    let text = std::fs::read_to_string(&path).expect("spec") + "\n[build]\ncontext = \".\"\n";
    std::fs::write(&path, text).expect("write");
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").expect("dockerfile");
    let spec = Spec::load(&path, None).expect("spec");
    m.service_for(&spec, "v1", &["v1"]).await;
    let f = path.to_str().expect("utf-8");
    m.cli().args(["plan", "-f", f, "--image-tag", "v1"]).status(exit::OK).stdout_has("· build    skip:").stdout_has("exists in ECR");
    m.cli().args(["plan", "-f", f, "--image-tag", "v9"]).status(exit::CHANGES).stdout_has("+ build    build and push").stdout_has(":v9");
    m.cli().args(["plan", "-f", f, "--image-tag", "v1", "--force-build"]).status(exit::CHANGES).stdout_has("(--force-build)");
}

/// The EC2 query API's answer (moto does not check signatures).
fn ec2_query(endpoint: &str, action: &str) -> String {
    ec2_call(endpoint, action, &[])
}

/// An EC2 Query call to moto (the test's own setup; moto does not check signatures).
fn ec2_call(endpoint: &str, action: &str, params: &[(&str, &str)]) -> String {
    query_call(endpoint, ("ec2", "2016-11-15"), action, params)
}

/// A Query-protocol call to moto for `(service, version)`: EC2, IAM and CloudFormation have no
/// SDK client in fgdeploy (`src/aws/query.rs`), so the tests set moto up the same way.
fn query_call(endpoint: &str, (service, version): (&str, &str), action: &str, params: &[(&str, &str)]) -> String {
    use std::io::{Read, Write};
    let host = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).expect("connect to moto");
    let encode = |v: &str| -> String {
        v.bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect()
    };
    let query: String = params.iter().map(|(k, v)| format!("&{k}={}", encode(v))).collect();
    // A form-encoded POST, as the Query protocol sends it (moto picks the protocol by the
    // content type: CloudWatch's model lists CBOR and JSON before Query).
    let body = format!("Action={action}&Version={version}{query}");
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\nContent-Length: {}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request");
    let mut body = String::new();
    s.read_to_string(&mut body).expect("response");
    body
}

/// One AWS JSON 1.1 call to moto for `service` (`X-Amz-Target: <target>`), as the SDK sends
/// it: the raw HTTP answer. The tests' own set-up for services fgdeploy has no SDK client for.
fn json11_call(endpoint: &str, service: &str, target: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let host = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).expect("connect to moto");
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: {target}\r\nContent-Length: {}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("response");
    answer
}

/// SSM PutParameter on moto (the test's own setup, AWS JSON 1.1 as the SDK sends it; fgdeploy
/// reads parameters over the same protocol without `aws-sdk-ssm`).
fn ssm_put(endpoint: &str, name: &str, value: &str, kind: &str) {
    let body = serde_json::json!({ "Name": name, "Value": value, "Type": kind }).to_string();
    let answer = json11_call(endpoint, "ssm", "AmazonSSM.PutParameter", &body);
    assert!(answer.starts_with("HTTP/1.1 200"), "PutParameter {name}: {answer}");
}

fn xml_values(body: &str, tag: &str) -> Vec<String> {
    body.split(&format!("<{tag}>")).skip(1).filter_map(|p| p.split(&format!("</{tag}>")).next()).map(str::to_string).collect()
}

#[tokio::test]
async fn init_writes_specs_that_plan_as_unchanged() {
    let Some(m) = moto().await else { return };
    let ecs = aws_sdk_ecs::Client::new(&m.conf);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&m.conf);
    let cd = aws_sdk_codedeploy::Client::new(&m.conf);
    let cluster = unique("init");
    ecs.create_cluster().cluster_name(&cluster).send().await.expect("cluster");
    let uri = m.repository_with_v1("initrepo", 7).await;
    let td = |family: &str| {
        serde_json::from_value::<fgdeploy::taskdef::TaskDefinition>(serde_json::json!({
            "family": family, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
            "containerDefinitions": [
                {"name": "app", "image": format!("{uri}:v1"), "memory": 512, "essential": true, "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                 "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]},
                {"name": "log-router", "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable", "memory": 128}
            ],
            "tags": [{"key": "team", "value": "payments"}]
        }))
        .expect("td")
    };
    let ports = m.ports();
    let rolling_td = ports.ecs.register_task_definition(&td(&unique("initweb"))).await.expect("register");
    ecs.create_service()
        .cluster(&cluster)
        .service_name("web")
        .task_definition(&rolling_td.arn)
        .desired_count(2)
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .send()
        .await
        .expect("service");

    // A CODE_DEPLOY service behind an ALB with a production and a test listener.
    let subnets_xml = ec2_query(&m.endpoint, "DescribeSubnets");
    let subnets = xml_values(&subnets_xml, "subnetId");
    let vpc = xml_values(&ec2_query(&m.endpoint, "DescribeVpcs"), "vpcId").into_iter().next().expect("a VPC");
    let lb =
        elb.create_load_balancer().name(unique("lb")).set_subnets(Some(subnets.into_iter().take(2).collect())).send().await.expect("lb");
    let lb_arn = lb.load_balancers()[0].load_balancer_arn().expect("arn").to_string();
    let mut tgs = Vec::new();
    for color in ["blue", "green"] {
        tgs.push(m.ip_target_group(color, &vpc).await);
    }
    let mut listeners = Vec::new();
    for (port, tg) in [(80, &tgs[0].0), (8080, &tgs[1].0)] {
        let l = elb
            .create_listener()
            .load_balancer_arn(&lb_arn)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(port)
            .default_actions(
                aws_sdk_elasticloadbalancingv2::types::Action::builder()
                    .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                    .target_group_arn(tg)
                    .build(),
            )
            .send()
            .await
            .expect("listener");
        listeners.push(l.listeners()[0].listener_arn().expect("arn").to_string());
    }
    let bg_td = ports.ecs.register_task_definition(&td(&unique("initapi"))).await.expect("register");
    ecs.create_service()
        .cluster(&cluster)
        .service_name("api")
        .task_definition(&bg_td.arn)
        .desired_count(2)
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .deployment_controller(
            aws_sdk_ecs::types::DeploymentController::builder()
                .r#type(aws_sdk_ecs::types::DeploymentControllerType::CodeDeploy)
                .build()
                .expect("controller"),
        )
        .load_balancers(
            aws_sdk_ecs::types::LoadBalancer::builder().target_group_arn(&tgs[0].0).container_name("app").container_port(8080).build(),
        )
        .send()
        .await
        .expect("CODE_DEPLOY service");
    let (app, group) = fgdeploy::engine::init_names(&cluster, "api");
    use aws_sdk_codedeploy::types as cdt;
    cd.create_application().application_name(&app).compute_platform(cdt::ComputePlatform::Ecs).send().await.expect("application");
    cd.create_deployment_group()
        .application_name(&app)
        .deployment_group_name(&group)
        .service_role_arn("arn:aws:iam::123456789012:role/codedeploy")
        .deployment_config_name("CodeDeployDefault.ECSCanary10Percent5Minutes")
        .deployment_style(
            cdt::DeploymentStyle::builder()
                .deployment_type(cdt::DeploymentType::BlueGreen)
                .deployment_option(cdt::DeploymentOption::WithTrafficControl)
                .build(),
        )
        .blue_green_deployment_configuration(
            cdt::BlueGreenDeploymentConfiguration::builder()
                .deployment_ready_option(
                    cdt::DeploymentReadyOption::builder()
                        .action_on_timeout(cdt::DeploymentReadyAction::StopDeployment)
                        .wait_time_in_minutes(30)
                        .build(),
                )
                .build(),
        )
        .load_balancer_info(
            cdt::LoadBalancerInfo::builder()
                .target_group_pair_info_list(
                    cdt::TargetGroupPairInfo::builder()
                        .target_groups(cdt::TargetGroupInfo::builder().name(&tgs[0].1).build())
                        .target_groups(cdt::TargetGroupInfo::builder().name(&tgs[1].1).build())
                        .prod_traffic_route(cdt::TrafficRoute::builder().listener_arns(&listeners[0]).build())
                        .test_traffic_route(cdt::TrafficRoute::builder().listener_arns(&listeners[1]).build())
                        .build(),
                )
                .build(),
        )
        .ecs_services(cdt::EcsService::builder().cluster_name(&cluster).service_name("api").build())
        .send()
        .await
        .expect("deployment group");

    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path().to_str().expect("utf-8");
    for svc in ["web", "api"] {
        let out = m.cli().args(["init", "--cluster", &cluster, "--service", svc, "--dir", d]).status(0);
        out.stdout_has(&format!("{svc}.toml")).stdout_has("release container app");
        let spec = dir.path().join(format!("{svc}.toml"));
        let f = spec.to_str().expect("utf-8");
        let plan = m.cli().args(["plan", "-f", f]).run();
        assert_eq!(
            plan.code,
            0,
            "plan after init must show no change:\n{}\n{}\n--- spec\n{}",
            plan.stdout,
            plan.stderr,
            std::fs::read_to_string(&spec).unwrap_or_default()
        );
        plan.stdout_has("Task definition: no changes").stdout_has("Service: no changes");
        m.cli()
            .args(["init", "--cluster", &cluster, "--service", svc, "--dir", d])
            .status(exit::INPUT)
            .stderr_has("exists already")
            .stderr_has("--force");
        m.cli().args(["init", "--cluster", &cluster, "--service", svc, "--dir", d, "--force"]).status(0);
    }
    let api = std::fs::read_to_string(dir.path().join("api.toml")).expect("api.toml");
    assert!(
        api.contains("strategy = \"blue-green\"")
            && api.contains(&format!("application = \"{app}\""))
            && api.contains("ECSCanary10Percent5Minutes")
            && api.contains("container_port = 8080"),
        "{api}"
    );
    let template = std::fs::read_to_string(dir.path().join("web.taskdef.json")).expect("template");
    assert!(
        template.contains("\"image\": \"{{ image }}\"")
            && !template.contains("\"essential\": true")
            && !template.contains("\"protocol\": \"tcp\""),
        "{template}"
    );
}

#[tokio::test]
async fn codedeploy_create_deployment_carries_the_appspec_and_its_hash() {
    let Some(m) = moto().await else { return };
    let cd = aws_sdk_codedeploy::Client::new(&m.conf);
    let (app, group) = (unique("app"), unique("dg"));
    use aws_sdk_codedeploy::types as cdt;
    cd.create_application().application_name(&app).compute_platform(cdt::ComputePlatform::Ecs).send().await.expect("application");
    cd.create_deployment_group()
        .application_name(&app)
        .deployment_group_name(&group)
        .service_role_arn("arn:aws:iam::123456789012:role/codedeploy")
        .blue_green_deployment_configuration(
            cdt::BlueGreenDeploymentConfiguration::builder()
                .deployment_ready_option(
                    cdt::DeploymentReadyOption::builder()
                        .action_on_timeout(cdt::DeploymentReadyAction::StopDeployment)
                        .wait_time_in_minutes(20)
                        .build(),
                )
                .terminate_blue_instances_on_deployment_success(
                    cdt::BlueInstanceTerminationOption::builder()
                        .action(cdt::InstanceAction::Terminate)
                        .termination_wait_time_in_minutes(5)
                        .build(),
                )
                .build(),
        )
        .auto_rollback_configuration(
            cdt::AutoRollbackConfiguration::builder().enabled(true).events(cdt::AutoRollbackEvent::DeploymentStopOnRequest).build(),
        )
        .ecs_services(cdt::EcsService::builder().cluster_name("c").service_name("s").build())
        .send()
        .await
        .expect("group");
    let capture = Capture::default();
    let cd_conf = aws_sdk_codedeploy::config::Builder::from(&m.conf).interceptor(capture.clone()).build();
    let ports = fgdeploy::aws::ports_from(fgdeploy::aws::Aws { codedeploy: aws_sdk_codedeploy::Client::from_conf(cd_conf), ..m.aws() });
    // The group reads back with its ready option and rollback events.
    let g = ports.codedeploy.deployment_group(&app, &group).await.expect("GetDeploymentGroup");
    assert_eq!(g.ready_action, Some(fgdeploy::states::ReadyAction::StopDeployment));
    assert_eq!(g.ready_wait_minutes, 20);
    assert_eq!(g.termination_wait_minutes, 5);
    assert_eq!(g.auto_rollback_events, ["DEPLOYMENT_STOP_ON_REQUEST"]);
    assert_eq!(g.ecs_services, [("c".to_string(), "s".to_string())]);

    let content = r#"{"version":0.0,"Resources":[{"TargetService":{"Type":"AWS::ECS::Service","Properties":{"TaskDefinition":"arn:aws:ecs:us-east-1:123456789012:task-definition/web:2","LoadBalancerInfo":{"ContainerName":"web","ContainerPort":8080}}}}]}"#;
    let sha = fgdeploy::engine::sha256_hex(content);
    let id = ports
        .codedeploy
        .create_deployment(&app, &group, Some("CodeDeployDefault.ECSAllAtOnce"), content, &sha)
        .await
        .expect("CreateDeployment");
    let bodies = capture.0.lock().expect("lock").clone();
    let body: serde_json::Value = serde_json::from_slice(bodies.last().expect("body")).expect("json");
    assert_eq!(body["revision"]["revisionType"], "AppSpecContent");
    assert_eq!(body["revision"]["appSpecContent"]["content"], content, "the exact AppSpec bytes");
    assert_eq!(body["revision"]["appSpecContent"]["sha256"], sha);
    assert_eq!(body["deploymentConfigName"], "CodeDeployDefault.ECSAllAtOnce");
    // GetDeployment parses; moto leaves it Created (it does not progress deployments).
    let d = ports.codedeploy.deployment(&id).await.expect("GetDeployment");
    assert_eq!(d.id, id);
    assert_eq!(d.status, fgdeploy::states::CdStatus::Created);
    assert_eq!(ports.codedeploy.active_deployments(&app, &group).await.expect("ListDeployments"), [id]);
}

/// A fleet whose deployspecs name two regions talks to each region: every service is found in
/// its own (moto keeps one account state per region), and one status lists both.
#[tokio::test]
async fn a_fleet_across_regions_uses_one_client_per_region() {
    let Some(m) = moto().await else { return };
    let mut paths = Vec::new();
    let mut dirs = Vec::new();
    for region in ["us-east-1", "eu-west-1"] {
        let (dir, path) = moto_spec();
        let text = std::fs::read_to_string(&path).expect("spec").replacen("[service]\n", &format!("[service]\nregion = \"{region}\"\n"), 1);
        std::fs::write(&path, text).expect("write");
        let spec = Spec::load(&path, None).expect("spec");
        let conf = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&m.endpoint)
            .region(Region::new(region))
            .credentials_provider(aws_sdk_ecs::config::Credentials::new("testing", "testing", None, None, "tests"))
            .load()
            .await;
        Moto { endpoint: m.endpoint.clone(), conf }.service_for(&spec, "v1", &["v1", "v2"]).await;
        paths.push(path.display().to_string());
        dirs.push(dir);
    }
    let out = m.cli().args(["status", "-f", &paths[0], "-f", &paths[1], "--output", "json"]).status(exit::OK);
    let doc = out.events().into_iter().find(|e| e["event"] == "status").expect("status document");
    let arns: Vec<String> = doc["statuses"]
        .as_array()
        .expect("statuses")
        .iter()
        .map(|s| s["service"]["arn"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(arns[0].contains(":us-east-1:") && arns[1].contains(":eu-west-1:"), "{arns:?}");
    // And a fleet plan reads each service in its region.
    m.cli().args(["plan", "-f", &paths[0], "-f", &paths[1]]).status(exit::CHANGES);
}

#[tokio::test]
async fn application_auto_scaling_targets_are_read_and_scale_in_suspended_on_the_wire() {
    use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
    let Some(m) = moto().await else { return };
    let (_dir, path) = moto_spec();
    let spec = Spec::load(&path, None).expect("spec");
    m.service_for(&spec, "v1", &["v1", "v2"]).await;
    let ports = m.ports();
    assert_eq!(ports.autoscaling.scalable_target(spec.cluster(), spec.service()).await.expect("read"), None, "not autoscaled yet");
    let aas = aws_sdk_applicationautoscaling::Client::new(&m.conf);
    aas.register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(fgdeploy::ports::scalable_resource_id(spec.cluster(), spec.service()))
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .min_capacity(1)
        .max_capacity(5)
        .send()
        .await
        .expect("register the target");
    let t = ports.autoscaling.scalable_target(spec.cluster(), spec.service()).await.expect("read");
    assert_eq!(t, Some(fgdeploy::ports::ScalableTarget { min: 1, max: 5, scale_in_suspended: false }));
    ports.autoscaling.suspend_scale_in(spec.cluster(), spec.service(), true).await.expect("suspend");
    let t = ports.autoscaling.scalable_target(spec.cluster(), spec.service()).await.expect("read").expect("target");
    assert!(t.scale_in_suspended && (t.min, t.max) == (1, 5), "suspended, bounds kept: {t:?}");
    ports.autoscaling.suspend_scale_in(spec.cluster(), spec.service(), false).await.expect("resume");
    // The plan over the wire keeps the live count and says why.
    let f = path.to_str().expect("utf-8 path");
    let out = m.cli().args(["plan", "-f", f, "--output", "json"]).status(exit::CHANGES);
    let plan = &out.events()[0]["plan"];
    assert_eq!(plan["scalable_target"]["max"], 5, "{plan}");
    assert!(plan["notes"][0].as_str().is_some_and(|n| n.contains("Application Auto Scaling")), "{plan}");
    assert!(plan["service_changes"].as_array().is_some_and(|c| c.iter().all(|c| c["path"] != "desiredCount")), "{plan}");
}

#[tokio::test]
async fn scale_sets_the_desired_count_on_the_wire() {
    let Some(m) = moto().await else { return };
    let (_dir, path) = moto_spec();
    let spec = Spec::load(&path, None).expect("spec");
    m.service_for(&spec, "v1", &["v1"]).await;
    let f = path.to_str().expect("utf-8 path");
    let out = m.cli().args(["scale", "-f", f, "--count", "5", "--no-wait", "--output", "json"]).status(exit::OK);
    let fin = out.events().into_iter().find(|e| e["event"] == "finished").expect("finished");
    assert_eq!(fin["outcome"], "started");
    let svc = m.ports().ecs.describe_service(spec.cluster(), spec.service()).await.expect("read").expect("service");
    assert_eq!(svc.desired_count, 5);
    assert_eq!(svc.deployments.len(), 1, "no new deployment");
}

#[tokio::test]
async fn verify_reads_parameters_secrets_roles_log_groups_and_network_on_the_wire() {
    let Some(m) = moto().await else { return };
    let param = unique("/p/db");
    ssm_put(&m.endpoint, &param, "x", "String");
    let secret =
        aws_sdk_secretsmanager::Client::new(&m.conf).create_secret().name(unique("db")).secret_string("pw").send().await.expect("secret");
    let secret_arn = secret.arn().expect("arn").to_string();
    let role = |name: &str, svc: &str| {
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{svc}"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let created = query_call(
            &m.endpoint,
            ("iam", "2010-05-08"),
            "CreateRole",
            &[("RoleName", &unique(name)), ("AssumeRolePolicyDocument", &trust)],
        );
        xml_values(&created, "Arn").into_iter().next().expect("role ARN")
    };
    let exec_role = role("exec", "ecs-tasks.amazonaws.com");
    let ec2_role = role("ec2", "ec2.amazonaws.com");
    let group = unique("/ecs/web");
    aws_sdk_cloudwatchlogs::Client::new(&m.conf).create_log_group().log_group_name(&group).send().await.expect("log group");
    let vpc = xml_values(&ec2_call(&m.endpoint, "CreateVpc", &[("CidrBlock", "10.7.0.0/16")]), "vpcId").into_iter().next().expect("vpc");
    let created = ec2_call(&m.endpoint, "CreateSubnet", &[("VpcId", &vpc), ("CidrBlock", "10.7.1.0/24")]);
    let subnet = xml_values(&created, "subnetId").into_iter().next().expect("subnet");
    let sg_name = unique("sg");
    let created = ec2_call(&m.endpoint, "CreateSecurityGroup", &[("GroupName", &sg_name), ("GroupDescription", "web"), ("VpcId", &vpc)]);
    let sg = xml_values(&created, "groupId").into_iter().next().expect("sg");

    let spec_with = |exec: &str, param: &str, subnet: &str| {
        let (cluster, service, family) = (unique("c"), unique("s"), unique("f"));
        let spec = format!(
            "[service]\ncluster = \"{cluster}\"\nname = \"{service}\"\n\n[image]\nrepository = \"{}\"\ntag = \"v1\"\n\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n\n[migration]\ncommand = [\"migrate\"]\nsubnets = [\"{subnet}\"]\nsecurity_groups = [\"{sg}\"]\n",
            unique("r")
        );
        let template = format!(
            r#"{{"family": "{family}", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512", "executionRoleArn": "{exec}",
  "containerDefinitions": [{{"name": "web", "image": "{{{{ image }}}}", "memory": 512,
    "secrets": [{{"name": "DB", "valueFrom": "{param}"}}, {{"name": "PW", "valueFrom": "{secret_arn}:password::"}}],
    "logConfiguration": {{"logDriver": "awslogs", "options": {{"awslogs-group": "{group}", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "web"}}}}}}]}}"#
        );
        spec_dir_with(&spec, &template)
    };
    let (_good_dir, good) = spec_with(&exec_role, &param, &subnet);
    let good_spec = Spec::load(&good, None).expect("spec");
    m.service_for(&good_spec, "v1", &["v1"]).await;
    let out = m.cli().args(["verify", "-f", good.to_str().expect("path"), "--output", "json"]).status(exit::OK);
    let doc = out.events().into_iter().find(|e| e["event"] == "verified").expect("verified document");
    assert_eq!(doc["problems"], 0, "{doc}");
    let checks = doc["verify"]["checks"].as_array().expect("checks").len();
    assert!(checks >= 6, "image, 2 secrets, log group, role, subnet, group: {doc}");

    let (_bad_dir, bad) = spec_with(&ec2_role, "/p/nope", "subnet-0000dead");
    let bad_spec = Spec::load(&bad, None).expect("spec");
    m.service_for(&bad_spec, "v1", &["v1"]).await;
    let out = m.cli().args(["verify", "-f", bad.to_str().expect("path")]).status(exit::INPUT);
    out.stderr_has("secrets[DB].valueFrom").stderr_has("/p/nope").stderr_has("ecs-tasks.amazonaws.com").stderr_has("subnet-0000dead");
    assert!(!out.stderr.contains("secrets[PW]"), "the existing secret is no problem: {}", out.stderr);
}

/// `release --create` sends the definition on CreateService; what CreateService does not keep on
/// moto (it drops the capacity providers, grace period, ECS Exec and AZ rebalancing) the next
/// plan shows and the next release's UpdateService carries, after which no definition change is
/// left. Everything is read back through the SDK, not through fgdeploy's own parsing.
#[tokio::test]
async fn create_then_update_carry_the_service_definition_on_the_wire() {
    let Some(m) = moto().await else { return };
    let (dir, path) = moto_spec();
    let spec = Spec::load(&path, None).expect("spec");
    let ecs = aws_sdk_ecs::Client::new(&m.conf);
    let ecr = aws_sdk_ecr::Client::new(&m.conf);
    ecs.create_cluster().cluster_name(spec.cluster()).send().await.expect("cluster");
    ecr.create_repository().repository_name(&spec.file.image.repository).send().await.expect("repository");
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:{:064x}"}},"layers":[]}}"#,
        2
    );
    ecr.put_image().repository_name(&spec.file.image.repository).image_tag("v2").image_manifest(manifest).send().await.expect("image");
    let subnets = xml_values(&ec2_query(&m.endpoint, "DescribeSubnets"), "subnetId");
    let sg = xml_values(&ec2_query(&m.endpoint, "DescribeSecurityGroups"), "groupId").into_iter().next().expect("a security group");
    let quoted = |v: &[String]| v.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
    let definition = format!(
        "\n[service.definition]\nplatform_version = \"1.4.0\"\npropagate_tags = \"SERVICE\"\nhealth_check_grace_period_seconds = 30\nenable_execute_command = true\navailability_zone_rebalancing = \"ENABLED\"\n\n[[service.definition.service_registries]]\nregistry_arn = \"arn:aws:servicediscovery:us-east-1:123456789012:service/srv-0123456789abcdef\"\n\n[service.definition.network]\nsubnets = [{}]\nsecurity_groups = [\"{sg}\"]\nassign_public_ip = true\n\n[[service.definition.capacity_provider_strategy]]\ncapacity_provider = \"FARGATE\"\nbase = 1\nweight = 1\n\n[service.definition.tags]\nteam = \"payments\"\n",
        quoted(&subnets[..2])
    );
    let text = std::fs::read_to_string(&path).expect("spec").replace("\n[deploy.rolling]", &format!("{definition}\n[deploy.rolling]"));
    std::fs::write(&path, text).expect("write");
    let f = path.to_str().expect("utf-8");

    m.cli().args(["plan", "-f", f]).status(exit::CHANGES).stdout_has("CreateService");
    m.cli().args(["release", "-f", f, "--no-wait"]).status(exit::INPUT).stderr_has("--create");
    m.cli().args(["release", "-f", f, "--create", "--no-wait"]).status(exit::OK);

    let described = ecs
        .describe_services()
        .cluster(spec.cluster())
        .services(spec.service())
        .include(aws_sdk_ecs::types::ServiceField::Tags)
        .send()
        .await
        .expect("describe");
    let s = &described.services()[0];
    let vpc = s.network_configuration().and_then(|n| n.awsvpc_configuration()).expect("network sent on CreateService");
    assert_eq!(vpc.subnets(), &subnets[..2]);
    assert_eq!(vpc.security_groups(), std::slice::from_ref(&sg));
    assert_eq!(vpc.assign_public_ip().map(|a| a.as_str()), Some("ENABLED"));
    assert_eq!(s.platform_version(), Some("1.4.0"));
    assert_eq!(s.propagate_tags().map(|p| p.as_str()), Some("SERVICE"));
    assert!(s.tags().iter().any(|t| t.key() == Some("team") && t.value() == Some("payments")), "{:?}", s.tags());
    assert!(s.task_definition().is_some_and(|t| t.contains(":1")), "created with the registered revision");
    assert_eq!(
        s.service_registries().first().and_then(|r| r.registry_arn()),
        Some("arn:aws:servicediscovery:us-east-1:123456789012:service/srv-0123456789abcdef"),
        "registries sent on CreateService"
    );

    // What moto's CreateService dropped is a change now; a release carries it.
    let plan = m.cli().args(["plan", "-f", f]).run();
    let shown: Vec<&str> = plan.stdout.lines().filter(|l| l.contains("service.definition.")).collect();
    for dropped in ["health_check_grace_period_seconds", "capacity_provider_strategy", "enable_execute_command"] {
        assert!(shown.iter().any(|l| l.contains(dropped)), "moto's CreateService dropped {dropped}; the plan shows it: {}", plan.stdout);
    }
    // moto never finishes a deployment, so the first one is still "in progress": --force.
    let release = m.cli().args(["release", "-f", f, "--no-wait", "--skip-verify", "--force"]).run();
    assert_eq!(release.code, exit::OK, "{}\n{}", release.stdout, release.stderr);
    let after = m.cli().args(["plan", "-f", f]).run();
    assert!(
        after.stdout.contains("Plan for service") && after.stdout.contains("Service"),
        "a plan was made: {}\n{}",
        after.stdout,
        after.stderr
    );
    let left: Vec<&str> = after.stdout.lines().filter(|l| l.contains("service.definition.")).collect();
    assert!(left.is_empty(), "after the release no definition change is left: {left:?}\n(before: {shown:?})\n{}", after.stdout);
    let s = ecs.describe_services().cluster(spec.cluster()).services(spec.service()).send().await.expect("describe");
    let s = &s.services()[0];
    assert_eq!(s.health_check_grace_period_seconds(), Some(30), "UpdateService carried the grace period");
    assert_eq!(s.availability_zone_rebalancing().map(|a| a.as_str()), Some("ENABLED"));
    drop(dir);
}

/// The templates' account lookups against moto: an SSM String and SecureString, a Secrets
/// Manager ARN, a CloudFormation output, and a Terraform state in S3 — answered before the plan,
/// listed in it, the SecureString never printed; a missing parameter fails with its fix.
#[tokio::test]
async fn lookups_answer_from_ssm_secrets_manager_cloudformation_and_s3() {
    let Some(m) = moto().await else { return };
    let (dir, path) = moto_spec();
    let id = unique("lk");
    ssm_put(&m.endpoint, &format!("/{id}/host"), "db.internal", "String");
    ssm_put(&m.endpoint, &format!("/{id}/password"), "hunter2-secret", "SecureString");
    let sm = aws_sdk_secretsmanager::Client::new(&m.conf);
    let secret = sm.create_secret().name(format!("{id}-api")).secret_string("x").send().await.expect("secret");
    let secret_arn = secret.arn().expect("arn").to_string();
    let stack_template = r#"{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "jobs"}}}, "Outputs": {"QueueUrl": {"Value": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"}}}"#;
    let created = query_call(
        &m.endpoint,
        ("cloudformation", "2010-05-15"),
        "CreateStack",
        &[("StackName", &format!("{id}-stack")), ("TemplateBody", stack_template)],
    );
    assert!(created.contains("<StackId>"), "{created}");
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&m.conf).force_path_style(true).build());
    s3.create_bucket().bucket(&id).send().await.expect("bucket");
    let state = r#"{"version": 4, "resources": [{"mode": "managed", "type": "aws_security_group", "name": "web", "instances": [{"attributes": {"id": "sg-0123456789abcdef0"}}]}]}"#;
    s3.put_object().bucket(&id).key("env/terraform.tfstate").body(state.as_bytes().to_vec().into()).send().await.expect("object");

    let template = template("lk").replace(
        r#""environment": [{"name": "A", "value": "1"}]"#,
        &format!(
            r#""environment": [{{"name": "DB_HOST", "value": "{{{{ ssm('/{id}/host') }}}}"}}, {{"name": "DB_PASSWORD", "value": "{{{{ ssm('/{id}/password') }}}}"}}, {{"name": "QUEUE", "value": "{{{{ cfn_output('{id}-stack', 'QueueUrl') }}}}"}}, {{"name": "SG", "value": "{{{{ tfstate('aws_security_group.web.id') }}}}"}}], "secrets": [{{"name": "API", "valueFrom": "{{{{ secret_arn('{id}-api') }}}}"}}]"#
        ),
    );
    std::fs::write(dir.path().join("web.taskdef.json"), template).expect("template");
    let base = std::fs::read_to_string(&path).expect("spec") + &format!("\n[lookups]\ntfstate_url = \"s3://{id}/env/terraform.tfstate\"\n");
    // #24: the SecureString in a plaintext environment value is refused before any change (exit
    // 3, the field named, the value never shown)...
    std::fs::write(&path, &base).expect("spec");
    let refused = m.cli().args(["release", "-f", path.to_str().expect("utf-8")]).status(exit::INPUT);
    refused.stderr_has("containerDefinitions[web].environment[DB_PASSWORD]").stderr_has("valueFrom");
    assert!(!refused.stderr.contains("hunter2-secret") && !refused.stdout.contains("hunter2-secret"), "{}", refused.stderr);
    // ...unless the field is allowed to hold it.
    let text = base
        .replace("[task_definition]\n", "[task_definition]\nallow_plaintext = [\"containerDefinitions[web].environment[DB_PASSWORD]\"]\n");
    std::fs::write(&path, text).expect("spec");
    let scan = fgdeploy::spec::scan(&path, None).expect("scan");
    let answers = fgdeploy::engine::answer_lookups(&scan, &m.ports()).await.unwrap_or_else(|e| panic!("{e}"));
    let spec = Spec::load_answered(&path, None, answers).expect("load");
    m.service_for(&spec, "v1", &["v1", "v2"]).await;
    let f = path.to_str().expect("utf-8");
    let out = m.cli().args(["plan", "-f", f]).status(exit::CHANGES);
    out.stdout_has(&format!("ssm(\"/{id}/host\") = db.internal"))
        .stdout_has(&format!("ssm(\"/{id}/password\") = (secret)"))
        .stdout_has(&format!("secret_arn(\"{id}-api\") = {secret_arn}"))
        .stdout_has("= https://sqs.us-east-1.amazonaws.com/123456789012/jobs")
        .stdout_has("tfstate(\"aws_security_group.web.id\") = sg-0123456789abcdef0");
    assert!(!out.stdout.contains("hunter2-secret") && !out.stderr.contains("hunter2-secret"), "{}", out.stdout);
    let td = spec.render_task_definition("r/web:1").expect("render");
    let env = td.container_definitions[0].environment.clone().unwrap_or_default();
    assert!(env.iter().any(|e| e.value.as_deref() == Some("hunter2-secret")), "the SecureString reaches the value that needs it");

    // A parameter that does not exist: exit 3, the lookup and the fix named, nothing changed.
    let t =
        std::fs::read_to_string(dir.path().join("web.taskdef.json")).expect("t").replace(&format!("/{id}/host"), &format!("/{id}/nope"));
    std::fs::write(dir.path().join("web.taskdef.json"), t).expect("t");
    m.cli()
        .args(["release", "-f", f])
        .status(exit::INPUT)
        .stderr_has(&format!("lookup ssm(\"/{id}/nope\") failed"))
        .stderr_has("aws ssm put-parameter");
}

/// A sidecar in another account's ECR is asked with BatchGetImage and that registry id.
#[tokio::test]
async fn an_image_in_an_ecr_registry_is_asked_by_its_registry_id() {
    let Some(m) = moto().await else { return };
    let (_dir, path) = moto_spec();
    let spec = Spec::load(&path, None).expect("spec");
    m.service_for(&spec, "v1", &["v1"]).await;
    let ecr = m.ports().ecr;
    let repo = &spec.file.image.repository;
    assert_eq!(ecr.image_exists_in("123456789012", repo, "v1").await, Ok(true));
    assert_eq!(ecr.image_exists_in("123456789012", repo, "v404").await, Ok(false));
    assert_eq!(ecr.image_exists_in("123456789012", "no-such-repo", "v1").await, Ok(false));
}

/// A loopback TCP proxy in front of moto that keeps the bytes each connection sends (HTTP/1.1
/// requests), so a test can read a request body moto does not echo back.
/// The bytes one connection sent.
type Sent = std::sync::Arc<std::sync::Mutex<Vec<u8>>>;

struct Tee {
    endpoint: String,
    conns: std::sync::Arc<std::sync::Mutex<Vec<Sent>>>,
}

impl Tee {
    fn start(upstream: &str) -> Tee {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let up = upstream.trim_start_matches("http://").to_string();
        let conns: std::sync::Arc<std::sync::Mutex<Vec<Sent>>> = Default::default();
        let kept = conns.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = std::net::TcpStream::connect(&up) else { continue };
                let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
                if let Ok(mut k) = kept.lock() {
                    k.push(buf.clone());
                }
                let (mut c_read, mut s_write) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                std::thread::spawn(move || {
                    let mut chunk = [0u8; 16384];
                    while let Ok(n) = c_read.read(&mut chunk) {
                        if n == 0 || s_write.write_all(&chunk[..n]).is_err() {
                            break;
                        }
                        if let Ok(mut b) = buf.lock() {
                            b.extend_from_slice(&chunk[..n]);
                        }
                    }
                    let _ = s_write.shutdown(std::net::Shutdown::Write);
                });
                let (mut s_read, mut c_write) = (server, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_read, &mut c_write);
                    let _ = c_write.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Tee { endpoint, conns }
    }

    /// The JSON bodies of the requests whose `X-Amz-Target` ends with `.{op}`.
    fn bodies(&self, op: &str) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        let conns = self.conns.lock().map(|c| c.clone()).unwrap_or_default();
        for c in conns {
            let bytes = c.lock().map(|b| b.clone()).unwrap_or_default();
            let mut rest = &bytes[..];
            while let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&rest[..end]).to_ascii_lowercase();
                let len =
                    head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok()).unwrap_or(0);
                let body = &rest[end + 4..(end + 4 + len).min(rest.len())];
                if head.lines().any(|l| l.starts_with("x-amz-target:") && l.trim_end().ends_with(&format!(".{}", op.to_ascii_lowercase())))
                {
                    out.push(serde_json::from_slice(body).unwrap_or_default());
                }
                rest = &rest[(end + 4 + len).min(rest.len())..];
            }
        }
        out
    }
}

fn drop_empty_lists(v: &mut serde_json::Value) {
    if let Some(m) = v.as_object_mut() {
        m.retain(|_, x| !x.as_array().is_some_and(Vec::is_empty));
        m.values_mut().for_each(drop_empty_lists);
    }
}

/// DescribeServices as moto answers it, raw JSON (every member moto keeps).
async fn raw_service(endpoint: &str, cluster: &str, service: &str) -> serde_json::Value {
    let body = serde_json::json!({"cluster": cluster, "services": [service], "include": ["TAGS"]});
    let out = reqwest::Client::new()
        .post(endpoint)
        .header("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.DescribeServices")
        .header("Content-Type", "application/x-amz-json-1.1")
        // moto routes by the credential scope's service; it does not check the signature.
        .header("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0")
        .body(body.to_string())
        .send()
        .await
        .expect("describe");
    let v: serde_json::Value = serde_json::from_str(&out.text().await.expect("body")).expect("json");
    v["services"][0].clone()
}

/// #24 acceptance: a service carrying every field moto keeps (CreateService keeps network,
/// platform version, tag propagation, tags, registries and load balancers; UpdateService keeps the
/// deployment configuration, ECS managed tags, the grace period, ECS Exec and AZ rebalancing) →
/// `init` → `plan` shows no change → a release with one Service Connect change → the service read
/// back: nothing else changed. moto does not keep Service Connect (AWS shows it on the
/// deployments, which moto never fills), so the request is read where it went out: through a
/// recording proxy on the wire, Service Connect whole, the deployment configuration exactly the
/// live one.
#[tokio::test]
async fn a_service_with_every_field_moto_keeps_round_trips_through_init_plan_and_a_release() {
    let Some(m) = moto().await else { return };
    let ecs = aws_sdk_ecs::Client::new(&m.conf);
    let cluster = unique("every");
    ecs.create_cluster().cluster_name(&cluster).send().await.expect("cluster");
    let uri = m.repository_with_v1("everyrepo", 9).await;
    let td = serde_json::from_value::<fgdeploy::taskdef::TaskDefinition>(serde_json::json!({
        "family": unique("everyweb"), "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
        "containerDefinitions": [{"name": "app", "image": format!("{uri}:v1"), "memory": 512,
            "portMappings": [{"containerPort": 8080, "name": "http"}]}]
    }))
    .expect("td");
    let td = m.ports().ecs.register_task_definition(&td).await.expect("register");
    let subnets = xml_values(&ec2_query(&m.endpoint, "DescribeSubnets"), "subnetId");
    let sg = xml_values(&ec2_query(&m.endpoint, "DescribeSecurityGroups"), "groupId").into_iter().next().expect("a security group");
    let vpc = xml_values(&ec2_query(&m.endpoint, "DescribeVpcs"), "vpcId").into_iter().next().expect("a VPC");
    let (tg_arn, _) = m.ip_target_group("tg", &vpc).await;
    use aws_sdk_ecs::types as t;
    let vpc_conf = t::AwsVpcConfiguration::builder()
        .set_subnets(Some(subnets[..2].to_vec()))
        .security_groups(&sg)
        .assign_public_ip(t::AssignPublicIp::Disabled)
        .build()
        .expect("vpc");
    ecs.create_service()
        .cluster(&cluster)
        .service_name("web")
        .task_definition(&td.arn)
        .desired_count(2)
        .launch_type(t::LaunchType::Fargate)
        .platform_version("1.4.0")
        .propagate_tags(t::PropagateTags::Service)
        .tags(t::Tag::builder().key("team").value("payments").build())
        .network_configuration(t::NetworkConfiguration::builder().awsvpc_configuration(vpc_conf).build())
        .service_registries(
            t::ServiceRegistry::builder()
                .registry_arn("arn:aws:servicediscovery:us-east-1:123456789012:service/srv-0123456789abcdef")
                .build(),
        )
        .load_balancers(t::LoadBalancer::builder().target_group_arn(&tg_arn).container_name("app").container_port(8080).build())
        .send()
        .await
        .expect("service");
    // What moto keeps only from UpdateService.
    ecs.update_service()
        .cluster(&cluster)
        .service("web")
        .deployment_configuration(
            t::DeploymentConfiguration::builder()
                .minimum_healthy_percent(50)
                .maximum_percent(200)
                .deployment_circuit_breaker(t::DeploymentCircuitBreaker::builder().enable(true).rollback(true).build())
                .alarms(t::DeploymentAlarms::builder().alarm_names("web-5xx").enable(true).rollback(true).build().expect("alarms"))
                .build(),
        )
        .enable_ecs_managed_tags(true)
        .health_check_grace_period_seconds(45)
        .enable_execute_command(true)
        .availability_zone_rebalancing(t::AvailabilityZoneRebalancing::Enabled)
        .send()
        .await
        .expect("update");
    let before = raw_service(&m.endpoint, &cluster, "web").await;
    assert_eq!(before["healthCheckGracePeriodSeconds"], 45, "moto keeps what the test relies on: {before}");

    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path().to_str().expect("utf-8");
    m.cli().args(["init", "--cluster", &cluster, "--service", "web", "--dir", d]).status(0);
    let spec_path = dir.path().join("web.toml");
    let f = spec_path.to_str().expect("utf-8");
    let written = std::fs::read_to_string(&spec_path).expect("spec");
    let plan = m.cli().args(["plan", "-f", f]).run();
    assert_eq!(plan.code, 0, "plan after init shows no change:\n{}\n{}\n--- spec\n{written}", plan.stdout, plan.stderr);

    // One Service Connect change.
    let connect = "[service.definition.service_connect]\nenabled = true\nnamespace = \"arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-0123456789abcdef\"\n\n[[service.definition.service_connect.services]]\nport_name = \"http\"\ndiscovery_name = \"web\"\nclient_aliases = [{ port = 80 }]\ntimeout = { idle_timeout_seconds = 3600 }\n";
    assert!(written.contains("[service.definition.service_connect]\nenabled = false\n"), "{written}");
    std::fs::write(&spec_path, written.replace("[service.definition.service_connect]\nenabled = false\n", connect)).expect("write");
    let plan = m.cli().args(["plan", "-f", f, "--output", "json"]).status(exit::CHANGES);
    let doc = plan.events().into_iter().find(|e| e["event"] == "plan").expect("a plan");
    let changed: Vec<String> = doc["plan"]["service_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["path"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        !changed.is_empty() && changed.iter().all(|p| p.starts_with("service.definition.service_connect")),
        "only Service Connect changes: {changed:?}\n{doc}"
    );

    let tee = Tee::start(&m.endpoint);
    let release =
        Test::new().env("AWS_ENDPOINT_URL", &tee.endpoint).args(["release", "-f", f, "--no-wait", "--skip-verify", "--force"]).run();
    assert_eq!(release.code, exit::OK, "{}\n{}", release.stdout, release.stderr);
    let updates = tee.bodies("UpdateService");
    assert_eq!(updates.len(), 1, "one UpdateService: {updates:?}");
    let sent = &updates[0];
    let sc = &sent["serviceConnectConfiguration"];
    assert_eq!(sc["enabled"], true, "{sent}");
    assert_eq!(sc["services"][0]["portName"], "http", "{sent}");
    assert_eq!(sc["services"][0]["timeout"]["idleTimeoutSeconds"], 3600, "{sent}");
    // The deployment configuration goes whole, and is exactly the live one.
    let dc = &sent["deploymentConfiguration"];
    for k in ["minimumHealthyPercent", "maximumPercent", "deploymentCircuitBreaker", "alarms"] {
        assert_eq!(dc[k], before["deploymentConfiguration"][k], "deploymentConfiguration.{k} sent as it is live: {sent}");
    }
    let settings: Vec<&str> = sent.as_object().expect("object").keys().map(String::as_str).collect();
    for k in settings {
        assert!(
            ["cluster", "service", "serviceConnectConfiguration", "deploymentConfiguration", "taskDefinition", "desiredCount"].contains(&k),
            "nothing else is sent: {k} in {sent}"
        );
    }

    let mut after = raw_service(&m.endpoint, &cluster, "web").await;
    let mut was = before.clone();
    for v in [&mut after, &mut was] {
        for k in ["deployments", "events", "runningCount", "pendingCount"] {
            v.as_object_mut().expect("object").remove(k);
        }
        // An empty list is no list: fgdeploy sends `lifecycleHooks: []` explicitly (no hooks,
        // as before), and moto keeps the key.
        drop_empty_lists(v);
    }
    assert_eq!(after, was, "nothing but Service Connect changed (moto does not show it)");
}

/// #26: the failure report's reads on the wire: ListTasks (STOPPED, by the deployment's id),
/// DescribeTasks of a stopped task (its stop code, reason and containers), DescribeTaskDefinition
/// (where it logs) and GetLogEvents of its container, within the report's bound; a service that
/// cannot be read is named, not fatal.
#[tokio::test]
async fn the_failure_report_reads_stopped_tasks_and_their_logs_on_the_wire() {
    let Some(m) = moto().await else { return };
    let cluster = unique("why");
    let ecs = aws_sdk_ecs::Client::new(&m.conf);
    ecs.create_cluster().cluster_name(&cluster).send().await.expect("cluster");
    let group = format!("/ecs/{}", unique("why"));
    let td: fgdeploy::taskdef::TaskDefinition = serde_json::from_value(serde_json::json!({
        "family": unique("why"), "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
        "containerDefinitions": [{"name": "web", "image": "x:2", "memory": 512, "essential": true,
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": group, "awslogs-stream-prefix": "web", "awslogs-region": "us-east-1"}}}]
    }))
    .expect("td");
    let ports = m.ports();
    let reg = ports.ecs.register_task_definition(&td).await.expect("register");
    let subnet = default_subnet(&m.endpoint);
    let deployment = "ecs-svc/0123456789012345678";
    let run = ecs
        .run_task()
        .cluster(&cluster)
        .task_definition(&reg.arn)
        .started_by(deployment)
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .network_configuration(
            aws_sdk_ecs::types::NetworkConfiguration::builder()
                .awsvpc_configuration(
                    aws_sdk_ecs::types::AwsVpcConfiguration::builder().subnets(&subnet).security_groups("sg-12345").build().expect("vpc"),
                )
                .build(),
        )
        .send()
        .await
        .expect("run");
    let task_arn = run.tasks()[0].task_arn().expect("arn").to_string();
    let task_id = task_arn.rsplit('/').next().expect("id").to_string();
    ecs.stop_task().cluster(&cluster).task(&task_arn).reason("Essential container in task exited").send().await.expect("stop");
    let logs = aws_sdk_cloudwatchlogs::Client::new(&m.conf);
    logs.create_log_group().log_group_name(&group).send().await.expect("group");
    let stream = format!("web/web/{task_id}");
    logs.create_log_stream().log_group_name(&group).log_stream_name(&stream).send().await.expect("stream");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_millis() as i64;
    let line =
        |i: i64, m: &str| aws_sdk_cloudwatchlogs::types::InputLogEvent::builder().timestamp(now + i).message(m).build().expect("event");
    logs.put_log_events()
        .log_group_name(&group)
        .log_stream_name(&stream)
        .log_events(line(0, "listening on :8080"))
        .log_events(line(1, "panic: DATABASE_URL is not set"))
        .send()
        .await
        .expect("put");

    let before = ports.calls.total();
    let ev = fgdeploy::engine::report::collect_evidence(&ports, &cluster, "no-such-service", deployment).await;
    assert!(ev.unread.iter().any(|u| u.contains("does not exist")), "the missing service is named: {:?}", ev.unread);
    let [t] = &ev.stopped_tasks[..] else { panic!("one stopped task: {ev:?}") };
    assert_eq!(t.task_id, task_id);
    assert_eq!(t.stopped_reason.as_deref(), Some("Essential container in task exited"));
    assert!(t.containers.iter().any(|c| c.name == "web"), "{t:?}");
    let log = t.logs.iter().find(|l| l.container == "web").expect("the web container's log");
    assert_eq!(log.lines, ["listening on :8080", "panic: DATABASE_URL is not set"], "{log:?}");
    let made = (ports.calls.total() - before) as usize;
    assert!(made == ev.calls && made <= fgdeploy::engine::report::MAX_CALLS, "{made} calls, counted {}", ev.calls);
}

/// #26: the load balancer's view in the failure report, on the wire: DescribeTargetHealth of a
/// target group (each target's id:port and state) and DescribeTargetGroups (the health check's
/// protocol, path, port and matcher), as `Elb::target_health` / `Elb::health_check` read them.
#[tokio::test]
async fn target_health_and_the_health_check_are_read_on_the_wire() {
    use aws_sdk_elasticloadbalancingv2::types::{Matcher, ProtocolEnum, TargetDescription, TargetTypeEnum};
    let Some(m) = moto().await else { return };
    let vpc = xml_values(&ec2_query(&m.endpoint, "DescribeVpcs"), "vpcId").into_iter().next().expect("a VPC");
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&m.conf);
    let tg = elb
        .create_target_group()
        .name(unique("th"))
        .protocol(ProtocolEnum::Http)
        .port(8080)
        .vpc_id(&vpc)
        .target_type(TargetTypeEnum::Ip)
        .health_check_path("/healthz")
        .health_check_port("8081")
        .matcher(Matcher::builder().http_code("200-299").build())
        .send()
        .await
        .expect("target group");
    let arn = tg.target_groups()[0].target_group_arn().expect("arn").to_string();
    let ports = m.ports();
    assert!(ports.elb.target_health(&arn).await.expect("no targets yet").is_empty());
    elb.register_targets()
        .target_group_arn(&arn)
        .targets(TargetDescription::builder().id("10.0.0.5").port(8080).build())
        .send()
        .await
        .expect("register");
    let targets = ports.elb.target_health(&arn).await.expect("DescribeTargetHealth parses");
    let [t] = &targets[..] else { panic!("one target: {targets:?}") };
    assert_eq!(t.target, "10.0.0.5:8080");
    assert!(!matches!(t.state, fgdeploy::states::TargetHealthState::Unknown(_)), "a state AWS documents: {t:?}");
    let hc = ports.elb.health_check(&arn).await.expect("DescribeTargetGroups parses");
    assert_eq!(
        (hc.path.as_deref(), hc.port.as_deref(), hc.matcher.as_deref()),
        (Some("/healthz"), Some("8081"), Some("200-299")),
        "{hc:?}"
    );
    assert_eq!(hc.protocol.as_deref(), Some("HTTP"));
}

/// #26: the deployment alarms in the failure report, on the wire (CloudWatch's Query protocol,
/// `src/aws/cloudwatch.rs`): DescribeAlarms of a metric alarm put into ALARM reads its state,
/// reason, metric and condition, and names only the alarms that exist. moto has no
/// DescribeAlarmHistory: the read fails with an error the report names (its `unread`), never a
/// panic or an empty success.
#[tokio::test]
async fn alarms_are_read_on_the_wire() {
    let Some(m) = moto().await else { return };
    let name = unique("web-5xx");
    let cw = ("monitoring", "2010-08-01");
    let put = [
        ("AlarmName", name.as_str()),
        ("Namespace", "AWS/ApplicationELB"),
        ("MetricName", "HTTPCode_Target_5XX_Count"),
        ("Statistic", "Sum"),
        ("Period", "60"),
        ("EvaluationPeriods", "1"),
        ("Threshold", "5"),
        ("ComparisonOperator", "GreaterThanThreshold"),
    ];
    let answer = query_call(&m.endpoint, cw, "PutMetricAlarm", &put);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let reason = "Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0).";
    let set = [("AlarmName", name.as_str()), ("StateValue", "ALARM"), ("StateReason", reason)];
    let answer = query_call(&m.endpoint, cw, "SetAlarmState", &set);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let ports = m.ports();
    let alarms = ports.cloudwatch.alarms(&[name.clone(), unique("absent")]).await.expect("DescribeAlarms parses");
    let [a] = &alarms[..] else { panic!("the one alarm that exists: {alarms:?}") };
    assert_eq!(a.name, name);
    assert_eq!(a.state, fgdeploy::states::AlarmStateValue::Alarm);
    assert_eq!(a.reason.as_deref(), Some(reason));
    assert_eq!(a.metric.as_deref(), Some("AWS/ApplicationELB HTTPCode_Target_5XX_Count"));
    assert!(a.condition.as_deref().is_some_and(|c| c.starts_with("GreaterThanThreshold 5")), "{a:?}");
    let history = ports.cloudwatch.alarm_history(&name, 5).await;
    assert!(history.is_err(), "moto does not implement DescribeAlarmHistory: {history:?}");
    assert!(history.expect_err("err").to_string().contains("cloudwatch:DescribeAlarmHistory"));
}

/// #27: the lease's primitive on the wire (S3 conditional writes, as moto implements them):
/// create only when absent (`If-None-Match: *`), replace only the version read (`If-Match`), and
/// under a race of two takers exactly one wins, every round.
#[tokio::test]
async fn the_lease_is_compare_and_swap_on_the_wire() {
    let Some(m) = moto().await else { return };
    let bucket = unique("locks");
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&m.conf).force_path_style(true).build());
    s3.create_bucket().bucket(&bucket).send().await.expect("bucket");
    let leases = m.ports().leases;
    let key = "fgdeploy/locks/c/s.json";
    assert_eq!(leases.read(&bucket, key).await.expect("read"), None, "absent");
    let first = leases.create(&bucket, key, b"{\"v\":1}").await.expect("create").expect("created");
    assert_eq!(leases.create(&bucket, key, b"{\"v\":2}").await.expect("create again"), None, "a second create loses");
    let stored = leases.read(&bucket, key).await.expect("read").expect("present");
    assert_eq!((stored.body.as_slice(), stored.etag.as_str()), (&b"{\"v\":1}"[..], first.as_str()));
    let second = leases.replace(&bucket, key, b"{\"v\":3}", &first).await.expect("replace").expect("replaced");
    assert_eq!(leases.replace(&bucket, key, b"{\"v\":4}", &first).await.expect("stale"), None, "a stale version loses");
    let mut etag = second;
    for round in 0..3 {
        // Each write's content is its own: S3's ETag of a plain PUT is the MD5 of the body, so
        // rewriting identical bytes would keep the ETag (the lease records carry a write token).
        let (ba, bb) = (format!("{{\"a\":{round}}}"), format!("{{\"b\":{round}}}"));
        let (a, b) = tokio::join!(leases.replace(&bucket, key, ba.as_bytes(), &etag), leases.replace(&bucket, key, bb.as_bytes(), &etag));
        let winners: Vec<String> = [a.expect("a"), b.expect("b")].into_iter().flatten().collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one taker wins");
        etag = winners[0].clone();
    }
    let missing = leases.read(&unique("no-such-bucket"), key).await.expect_err("no bucket");
    assert!(matches!(&missing, PortError::Rejected { code, .. } if code == "NoSuchBucket"), "{missing:?}");
}

/// #27 from the CLI on the wire: a release takes the lease before its first change and releases
/// it with its journal; `lock status` shows it; a live holder makes a release give up with
/// exit 12 naming it; `lock break --yes` frees it; a missing bucket is exit 4 with the fix.
#[tokio::test]
async fn the_lease_guards_releases_on_the_wire() {
    let Some(m) = moto().await else { return };
    let bucket = unique("locks");
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&m.conf).force_path_style(true).build());
    s3.create_bucket().bucket(&bucket).send().await.expect("bucket");
    let (dir, path) = moto_spec();
    let text = std::fs::read_to_string(&path).expect("spec") + &format!("\n[lock]\nbucket = \"{bucket}\"\n");
    std::fs::write(&path, text).expect("write");
    let spec = Spec::load(&path, None).expect("spec");
    m.service_for(&spec, "v1", &["v1", "v2"]).await;
    let f = path.to_str().expect("utf-8 path");
    m.cli()
        .args(["release", "-f", f, "--force", "--no-wait"])
        .status(exit::OK)
        .stdout_has("took the lease")
        .stdout_has("released the lease");
    let status = m.cli().args(["lock", "status", "-f", f, "--output", "json"]).status(exit::OK);
    let doc: serde_json::Value = serde_json::from_str(status.stdout.trim()).expect("json");
    assert_eq!(doc["lock"]["state"], "released", "{doc}");
    assert!(doc["lock"]["record"]["journal"]["revision"].as_str().is_some_and(|r| r.ends_with(":2")), "{doc}");
    assert_eq!(doc["lock"]["record"]["journal"]["outcome"], "started");
    let first_revision = doc["lock"]["record"]["journal"]["revision"].as_str().expect("revision").to_string();

    // A live holder: its record, renewed a moment ago, expiring in an hour.
    let mut held: fgdeploy::engine::LeaseRecord = serde_json::from_value(doc["lock"]["record"].clone()).expect("record");
    (held.released, held.expires, held.holder.ci_url) = (None, held.renewed + 1e9, Some("https://ci.example/run/9".into()));
    let key = doc["lock"]["key"].as_str().expect("key");
    let body = serde_json::to_vec(&held).expect("json");
    let etag = m.ports().leases.read(&bucket, key).await.expect("read").expect("lease").etag;
    m.ports().leases.replace(&bucket, key, &body, &etag).await.expect("put").expect("written");
    m.cli()
        .args(["release", "-f", f, "--force", "--no-wait", "--lock-timeout", "2s"])
        .status(exit::LOCKED)
        .stderr_has("https://ci.example/run/9");
    m.cli().args(["lock", "break", "-f", f]).status(exit::INPUT).stderr_has("--yes");
    m.cli().args(["lock", "break", "-f", f, "--yes"]).status(exit::OK).stdout_has("released").stdout_has("broken by");

    // A dead run's lease (expired an hour ago, never released): taken over by compare-and-swap.
    (held.released, held.expires) = (None, held.renewed - 3600.0);
    let etag = m.ports().leases.read(&bucket, key).await.expect("read").expect("lease").etag;
    let body = serde_json::to_vec(&held).expect("json");
    m.ports().leases.replace(&bucket, key, &body, &etag).await.expect("put").expect("written");
    m.cli().args(["release", "-f", f, "--force", "--no-wait"]).status(exit::OK).stdout_has("took over the expired lease");

    // Two release processes of the service at once: one takes the lease, the other waits for it
    // (saying whose it is), then finds nothing left to release; one new revision in all.
    let revisions = || async {
        let first_revision = &first_revision;
        let ecs = aws_sdk_ecs::Client::new(&m.conf);
        let family = first_revision.rsplit('/').next().and_then(|r| r.split(':').next()).expect("family").to_string();
        ecs.list_task_definitions().family_prefix(family).send().await.expect("list").task_definition_arns().len()
    };
    let before = revisions().await;
    let f2 = f.to_string();
    let image = "v1";
    let endpoint = m.endpoint.clone();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let (f, endpoint) = (f2.clone(), endpoint.clone());
            std::thread::spawn(move || {
                Test::new()
                    .env("AWS_ENDPOINT_URL", &endpoint)
                    .args(["release", "-f", &f, "--force", "--no-wait", "--image-tag", image])
                    .run()
            })
        })
        .collect();
    let outs: Vec<_> = runs.into_iter().map(|t| t.join().expect("thread")).collect();
    assert!(outs.iter().all(|o| o.code == exit::OK), "{:?}", outs.iter().map(|o| (&o.code, &o.stderr)).collect::<Vec<_>>());
    let waited = outs.iter().filter(|o| o.stdout.contains("waiting for the lease")).count();
    assert_eq!(waited, 1, "exactly one waited: {:?}", outs.iter().map(|o| &o.stdout).collect::<Vec<_>>());
    assert!(outs.iter().any(|o| o.stdout.contains("nothing to release")), "the second found it released");
    assert_eq!(revisions().await, before + 1, "one new revision");
    drop(dir);

    let (_dir, path) = moto_spec();
    let text = std::fs::read_to_string(&path).expect("spec") + &format!("\n[lock]\nbucket = \"{}\"\n", unique("absent"));
    std::fs::write(&path, text).expect("write");
    let f = path.to_str().expect("utf-8 path");
    m.cli().args(["release", "-f", f, "--force", "--no-wait"]).status(exit::AWS).stderr_has("create the bucket named in [lock] bucket");
}

/// PutEvents on moto's default bus: a documented example event, as ECS or CodeDeploy would put
/// it (moto accepts an `aws.*` source, which AWS itself refuses to callers).
fn put_event(endpoint: &str, event: &serde_json::Value) {
    let entry = serde_json::json!({
        "Source": event["source"], "DetailType": event["detail-type"], "Resources": event["resources"],
        "Detail": event["detail"].to_string(),
    });
    let body = serde_json::json!({ "Entries": [entry] }).to_string();
    let answer = json11_call(endpoint, "events", "AWSEvents.PutEvents", &body);
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("\"FailedEntryCount\": 0"), "PutEvents: {answer}");
}

fn event_fixture(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replay-verbatim").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON")
}

/// #28 on the wire: the watch's rule (pattern, tags), queue (policy, tags) and target as the
/// adapter sends them (EventBridge JSON 1.1, SQS JSON 1.0); AWS's documented example events put
/// on moto's bus reach the queue through the rule when they are the service's (moto's own
/// pattern matching judges the pattern) and not when they are another service's; the listing by
/// prefix and tags finds a killed run's leftovers, `cleanup` deletes the expired ones and keeps a
/// live one; deleting twice is not an error.
#[tokio::test]
async fn the_watch_rule_and_queue_speak_the_wire_protocol() {
    let Some(m) = moto().await else { return };
    let ports = fgdeploy::aws::ports_from_config(&m.conf);
    let service = "arn:aws:ecs:us-west-2:111122223333:service/default/servicetest";
    let dead = unique("fgdeploy-watch-dead");
    let live = unique("fgdeploy-watch-live");
    let expired =
        vec![("fgdeploy:expires".to_string(), "2001-01-01T00:00:00Z".to_string()), ("fgdeploy:run".to_string(), "abc".to_string())];
    let pattern = fgdeploy::eventpattern::pattern(service, None).to_string();
    let rule_arn = ports.bus.put_rule(&dead, &pattern, "fgdeploy test", &expired).await.expect("PutRule");
    assert!(rule_arn.ends_with(&format!(":rule/{dead}")), "{rule_arn}");
    let (partition_region_account, _) = rule_arn.split_once(":rule/").expect("a rule ARN");
    let queue_arn = partition_region_account.replacen(":events:", ":sqs:", 1) + ":" + &dead;
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]});
    let attributes = [("Policy".to_string(), policy.to_string()), ("VisibilityTimeout".to_string(), "43200".to_string())];
    let url = ports.queues.create_queue(&dead, &attributes, &expired).await.expect("CreateQueue");
    assert!(url.ends_with(&format!("/{dead}")), "{url}");
    ports.bus.put_target(&dead, "fgdeploy-queue", &queue_arn).await.expect("PutTargets");
    put_event(&m.endpoint, &event_fixture("event-ecs-deployment-completed.json"));
    let mut other = event_fixture("event-ecs-deployment-failed.json");
    other["resources"] = serde_json::json!(["arn:aws:ecs:us-west-2:111122223333:service/default/another"]);
    put_event(&m.endpoint, &other);
    let got = ports.queues.receive(&url, 1).await.expect("ReceiveMessage");
    let names: Vec<String> = got.iter().filter_map(|g| fgdeploy::eventpattern::Notice::parse(&g.body)).map(|n| n.name).collect();
    assert_eq!(names, vec!["SERVICE_DEPLOYMENT_COMPLETED"], "the service's event only: {got:?}");
    assert!(ports.queues.receive(&url, 0).await.expect("again").is_empty(), "a received message stays invisible");
    // A live run's rule, and the listing by prefix and tags.
    let future = vec![("fgdeploy:expires".to_string(), "2999-01-01T00:00:00Z".to_string())];
    let live_arn = ports.bus.put_rule(&live, &pattern, "fgdeploy test", &future).await.expect("PutRule");
    let live_url = ports.queues.create_queue(&live, &[], &future).await.expect("CreateQueue");
    let rules = ports.bus.rules("fgdeploy-watch-").await.expect("ListRules");
    assert!(rules.contains(&(dead.clone(), rule_arn.clone())) && rules.contains(&(live.clone(), live_arn.clone())), "{rules:?}");
    let mut tags = ports.bus.rule_tags(&rule_arn).await.expect("ListTagsForResource");
    tags.sort();
    assert_eq!(tags, expired);
    let mut qtags = ports.queues.queue_tags(&url).await.expect("ListQueueTags");
    qtags.sort();
    assert_eq!(qtags, expired);
    assert!(ports.queues.queues("fgdeploy-watch-").await.expect("ListQueues").contains(&url));
    // `fgdeploy cleanup`: the dead run's rule and queue, not the live one's.
    let (_dir, path) = moto_spec();
    let out = m.cli().args(["cleanup", "-f", path.to_str().expect("utf-8"), "--output", "json"]).status(exit::OK);
    let doc: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("json");
    let deleted: Vec<String> = doc["deleted"].as_array().expect("deleted").iter().filter_map(|d| d.as_str().map(str::to_string)).collect();
    assert!(deleted.contains(&format!("rule {dead}")) && deleted.contains(&format!("queue {url}")), "{doc}");
    assert!(!deleted.iter().any(|d| d.contains(&live)), "a live run's watch is not a leftover: {deleted:?}");
    let rules = ports.bus.rules("fgdeploy-watch-").await.expect("ListRules");
    assert!(!rules.iter().any(|(n, _)| n == &dead) && rules.iter().any(|(n, _)| n == &live));
    // Deleting what is gone is not an error; the live one goes too (the test's own).
    ports.bus.delete_rule(&dead, &["fgdeploy-queue".to_string()]).await.expect("DeleteRule again");
    ports.queues.delete_queue(&url).await.expect("DeleteQueue again");
    ports.bus.delete_rule(&live, &[]).await.expect("DeleteRule");
    ports.queues.delete_queue(&live_url).await.expect("DeleteQueue");
}

/// The canary judge's reads (#29) on the wire: GetMetricData over the Query protocol (the form
/// fields of MetricDataQueries with MetricStat and its exact dimension set, StartTime and
/// EndTime, the XML answer's Timestamps and Values) against metrics put into moto, DescribeRules'
/// forward weights and DescribeTargetGroups by name through the SDK. moto answers Sum (not percentiles: its
/// `p99` is an error 500), so the latency queries are shown on the replay tier.
#[tokio::test]
async fn the_judges_metric_and_rule_reads_speak_the_wire_protocol() {
    let Some(m) = moto().await else { return };
    let (green, blue, lb) = ("targetgroup/green/73e2d6bc24d8a067", "targetgroup/blue/0123456789abcdef", "app/web/50dc6c495c0c9188");
    // Two whole minutes in the recent past, aligned (moto's buckets start at StartTime).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let start = (now / 60 - 10) * 60;
    let iso = |t: u64| aws_smithy_types::DateTime::from_secs(t as i64).fmt(aws_smithy_types::date_time::Format::DateTime).expect("iso");
    for (tg, minute, requests, errors) in [(green, 0, 100.0, 2.0), (green, 1, 120.0, 3.0), (blue, 0, 900.0, 9.0), (blue, 1, 880.0, 8.0)] {
        let at = iso(start + 60 * minute + 5);
        for (name, value) in [("RequestCount", requests), ("HTTPCode_Target_5XX_Count", errors)] {
            let v = value.to_string();
            query_call(
                &m.endpoint,
                ("monitoring", "2010-08-01"),
                "PutMetricData",
                &[
                    ("Namespace", "AWS/ApplicationELB"),
                    ("MetricData.member.1.MetricName", name),
                    ("MetricData.member.1.Value", &v),
                    ("MetricData.member.1.Timestamp", &at),
                    ("MetricData.member.1.Dimensions.member.1.Name", "TargetGroup"),
                    ("MetricData.member.1.Dimensions.member.1.Value", tg),
                    ("MetricData.member.1.Dimensions.member.2.Name", "LoadBalancer"),
                    ("MetricData.member.1.Dimensions.member.2.Value", lb),
                ],
            );
        }
    }
    let q = |id: &str, tg: &str, metric: &str| fgdeploy::ports::MetricQuery {
        id: id.into(),
        source: fgdeploy::ports::MetricSource::Stat {
            namespace: "AWS/ApplicationELB".into(),
            metric: metric.into(),
            dimensions: vec![("TargetGroup".into(), tg.into()), ("LoadBalancer".into(), lb.into())],
            stat: "Sum".into(),
        },
    };
    let queries = [q("g_req", green, "RequestCount"), q("g_5xx", green, "HTTPCode_Target_5XX_Count"), q("b_req", blue, "RequestCount")];
    let series =
        m.ports().cloudwatch.metric_data(&queries, start as f64, (start + 120) as f64).await.expect("GetMetricData through the port");
    let by_id = |id: &str| series.iter().find(|s| s.id == id).unwrap_or_else(|| panic!("{id} missing: {series:?}"));
    let values = |id: &str| by_id(id).points.iter().map(|(_, v)| *v).collect::<Vec<f64>>();
    assert_eq!(values("g_req"), vec![100.0, 120.0], "oldest first, one value a minute: {series:?}");
    assert_eq!(values("g_5xx"), vec![2.0, 3.0]);
    assert_eq!(values("b_req"), vec![900.0, 880.0]);
    assert_eq!(by_id("g_req").points[0].0, start as f64, "the minute's timestamp, read from the XML");
    assert!(by_id("g_req").complete);
    // A query without the LoadBalancer dimension matches nothing: CloudWatch (and moto) match
    // the dimension set exactly, which is why the judge names both.
    let narrow = fgdeploy::ports::MetricQuery {
        id: "tg_only".into(),
        source: fgdeploy::ports::MetricSource::Stat {
            namespace: "AWS/ApplicationELB".into(),
            metric: "RequestCount".into(),
            dimensions: vec![("TargetGroup".into(), green.into())],
            stat: "Sum".into(),
        },
    };
    let none = m.ports().cloudwatch.metric_data(&[narrow], start as f64, (start + 120) as f64).await.expect("GetMetricData");
    assert!(none.iter().all(|s| s.points.is_empty()), "{none:?}");

    // DescribeRules: a production rule forwarding 80/20 to two target groups.
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, ForwardActionConfig, ProtocolEnum, RuleCondition, TargetGroupTuple,
    };
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&m.conf);
    let subnets = xml_values(&ec2_query(&m.endpoint, "DescribeSubnets"), "subnetId");
    let vpc = xml_values(&ec2_query(&m.endpoint, "DescribeVpcs"), "vpcId").into_iter().next().expect("a VPC");
    let lb =
        elb.create_load_balancer().name(unique("judge")).set_subnets(Some(subnets.into_iter().take(2).collect())).send().await.expect("lb");
    let lb_arn = lb.load_balancers()[0].load_balancer_arn().expect("arn").to_string();
    let (blue_tg, _) = m.ip_target_group("jblue", &vpc).await;
    let (green_tg, green_name) = m.ip_target_group("jgreen", &vpc).await;
    // DescribeTargetGroups by name (a CodeDeploy group names its target groups by name only).
    assert_eq!(m.ports().elb.target_group_arn(&green_name).await.expect("DescribeTargetGroups by name"), green_tg);
    let forward = |weights: &[(&str, i32)]| {
        let groups = weights.iter().map(|(t, w)| TargetGroupTuple::builder().target_group_arn(*t).weight(*w).build()).collect();
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .forward_config(ForwardActionConfig::builder().set_target_groups(Some(groups)).build())
            .build()
    };
    let listener = elb
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .default_actions(forward(&[(&blue_tg, 1)]))
        .send()
        .await
        .expect("listener");
    let listener_arn = listener.listeners()[0].listener_arn().expect("arn").to_string();
    let rule = elb
        .create_rule()
        .listener_arn(&listener_arn)
        .priority(1)
        .conditions(RuleCondition::builder().field("path-pattern").values("/*").build())
        .actions(forward(&[(&blue_tg, 80), (&green_tg, 20)]))
        .send()
        .await
        .expect("rule");
    let rule_arn = rule.rules()[0].rule_arn().expect("arn").to_string();
    let weights = m.ports().elb.forward_weights(&rule_arn).await.expect("DescribeRules through the port");
    assert_eq!(weights, vec![(blue_tg.clone(), 80), (green_tg.clone(), 20)]);
}
