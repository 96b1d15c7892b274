//! The build stage against a real OCI registry on loopback (Debian's docker-registry, started by
//! `scripts/test` with htpasswd auth as ECR uses) and the machine's Docker engine: a real
//! `FROM scratch` image is built, pushed with the password on stdin, and pulled back by digest.

use fgdeploy::build::DockerBuilder;
use fgdeploy::ports::{BuildRequest, Builder, RegistryAuth};
use std::path::Path;
use std::process::Command;

struct Registry {
    host: String,
    password: String,
}

fn registry() -> Option<Registry> {
    let (Ok(host), Ok(password)) = (std::env::var("FGDEPLOY_TEST_REGISTRY"), std::env::var("FGDEPLOY_TEST_REGISTRY_PASSWORD")) else {
        if std::env::var_os("CI").is_some() {
            panic!("FGDEPLOY_TEST_REGISTRY is not set: under CI the registry tests must run; use scripts/test");
        }
        eprintln!("\n*** SKIPPED: registry test (FGDEPLOY_TEST_REGISTRY unset); run scripts/test to include it ***\n");
        return None;
    };
    Some(Registry { host, password })
}

fn docker_available() -> bool {
    let ok = Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("\n*** SKIPPED: no Docker engine on this machine: the docker build/push test did not run ***\n");
    }
    ok
}

fn builder(config: &Path) -> DockerBuilder {
    DockerBuilder::new("docker", vec![("DOCKER_CONFIG".into(), config.display().to_string())])
}

fn docker(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).env("DOCKER_CONFIG", config).output().expect("docker")
}

#[tokio::test]
async fn a_real_image_is_built_pushed_and_pulled_back_by_digest() {
    let Some(reg) = registry() else { return };
    if !docker_available() {
        return;
    }
    let config = tempfile::tempdir().expect("docker config dir");
    let b = builder(config.path());
    let auth = RegistryAuth { username: "AWS".into(), password: reg.password.clone(), endpoint: format!("http://{}", reg.host) };
    b.login(&auth).await.expect("login with the password on stdin");

    let tag = format!("t{}", std::process::id());
    let repo = format!("{}/fgdeploy-it/web", reg.host);
    let image = format!("{repo}:{tag}");
    let context = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/web");
    let req = BuildRequest {
        image: image.clone(),
        repository_uri: repo.clone(),
        context: context.clone(),
        dockerfile: context.join("Dockerfile"),
        target: None,
        args: [("APP_ENV".to_string(), "test".to_string())].into(),
        platform: None,
        command: None,
        cache: false,
    };
    let lines = std::sync::Mutex::new(Vec::new());
    let digest = b
        .build_and_push(&req, &|l| lines.lock().expect("lock").push(l))
        .await
        .expect("build and push")
        .expect("the push printed the digest");
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    assert!(!lines.lock().expect("lock").is_empty(), "the builder's output was forwarded");
    assert!(!lines.lock().expect("lock").iter().any(|l| l.contains(&reg.password)), "the password never appears in output");

    // Pull it back by digest, after removing the local copy.
    let _ = docker(config.path(), &["rmi", "-f", &image]);
    let by_digest = format!("{repo}@{digest}");
    let pulled = docker(config.path(), &["pull", &by_digest]);
    assert!(pulled.status.success(), "pull by digest: {}", String::from_utf8_lossy(&pulled.stderr));
    let _ = docker(config.path(), &["rmi", "-f", &by_digest]);
}

#[tokio::test]
async fn wrong_credentials_and_a_broken_dockerfile_are_clear_errors() {
    let Some(reg) = registry() else { return };
    if !docker_available() {
        return;
    }
    let config = tempfile::tempdir().expect("docker config dir");
    let b = builder(config.path());
    let bad = RegistryAuth { username: "AWS".into(), password: "wrong".into(), endpoint: format!("http://{}", reg.host) };
    let e = b.login(&bad).await.expect_err("refused");
    assert!(e.0.contains("docker login") && !e.0.contains("wrong\n"), "{e}");

    let dir = tempfile::tempdir().expect("context");
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\nCOPY missing-file /x\n").expect("dockerfile");
    let req = BuildRequest {
        image: format!("{}/fgdeploy-it/broken:1", reg.host),
        repository_uri: format!("{}/fgdeploy-it/broken", reg.host),
        context: dir.path().to_path_buf(),
        dockerfile: dir.path().join("Dockerfile"),
        target: None,
        args: Default::default(),
        platform: None,
        command: None,
        cache: false,
    };
    let e = b.build_and_push(&req, &|_| {}).await.expect_err("the build fails");
    assert!(e.0.contains("failed (exit"), "{e}");
}

/// Upload `repo:tag` to the registry through the v2 API (a config blob and an OCI manifest);
/// returns the manifest's digest.
async fn upload(reg: &Registry, repo: &str, tag: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest;
    let http = reqwest::Client::new();
    let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("AWS:{}", reg.password)));
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let digest = format!("sha256:{:x}", sha2::Sha256::digest(config));
    let start =
        http.post(format!("http://{}/v2/{repo}/blobs/uploads/", reg.host)).header("Authorization", &auth).send().await.expect("start");
    assert_eq!(start.status().as_u16(), 202, "upload start");
    let location = start.headers().get("location").and_then(|l| l.to_str().ok()).expect("location").to_string();
    let url = if location.starts_with("http") { location } else { format!("http://{}{location}", reg.host) };
    let sep = if url.contains('?') { '&' } else { '?' };
    let put =
        http.put(format!("{url}{sep}digest={digest}")).header("Authorization", &auth).body(config.to_vec()).send().await.expect("blob");
    assert_eq!(put.status().as_u16(), 201, "blob");
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": config.len()}, "layers": []});
    let body = manifest.to_string();
    let put = http
        .put(format!("http://{}/v2/{repo}/manifests/{tag}", reg.host))
        .header("Authorization", &auth)
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(body.clone())
        .send()
        .await
        .expect("manifest");
    assert_eq!(put.status().as_u16(), 201, "manifest");
    format!("sha256:{:x}", sha2::Sha256::digest(body.as_bytes()))
}

/// A sidecar in another registry (what `verify` checks of images fgdeploy does not build): asked
/// through the v2 API with the credentials of the Docker config (`auths`), the registry's Basic
/// challenge answered; a missing tag is `false`; without credentials the refusal says to log in.
#[tokio::test]
async fn images_in_another_registry_are_checked_with_the_docker_credentials() {
    use base64::Engine as _;
    use fgdeploy::registry::{ImageRef, Oci, Registry as _};
    let Some(reg) = registry() else { return };
    let digest = upload(&reg, "acme/agent", "1.4").await;
    let config = tempfile::tempdir().expect("dir");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{}", reg.password));
    std::fs::write(config.path().join("config.json"), serde_json::json!({"auths": {reg.host.clone(): {"auth": auth}}}).to_string())
        .expect("config");
    let oci = Oci::with_config_dir(Some(config.path().to_path_buf()));
    let image = |t: &str| ImageRef::parse(&format!("{}/acme/agent:{t}", reg.host)).expect("ref");
    assert_eq!(oci.manifest_exists(&image("1.4")).await, Ok(true));
    assert_eq!(oci.manifest_exists(&image("9.9")).await, Ok(false));
    assert_eq!(oci.manifest_digest(&image("1.4")).await, Ok(Some(digest)), "the digest the registry computed (for pin_digest)");
    let anonymous = Oci::with_config_dir(None);
    let err = anonymous.manifest_exists(&image("1.4")).await.expect_err("no credentials");
    assert!(err.to_string().contains("docker login"), "{err}");
}

/// A registry with token auth, as GHCR, Docker Hub and ECR Public answer: 401 with a Bearer
/// challenge, a token from the realm (asked with the scope), then the manifest with the token.
#[tokio::test]
async fn a_bearer_challenge_is_followed_to_a_token() {
    use fgdeploy::registry::{ImageRef, Oci, Registry as _};
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut auth = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if line.to_ascii_lowercase().starts_with("authorization:") {
                    auth = line.trim().to_string();
                }
                line.clear();
            }
            log.lock().expect("log").push(format!("{} {auth}", request.trim()));
            let mut out = stream;
            let response = if request.starts_with("GET /token?") && request.contains("scope=repository%3Aacme%2Fagent%3Apull") {
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\nConnection: close\r\n\r\n{\"token\":\"tok-1\"}"
                    .to_string()
            } else if auth.contains("Bearer tok-1") && request.contains("/manifests/1.4") {
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            } else if auth.contains("Bearer tok-1") {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            } else {
                format!(
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"test-registry\",scope=\"repository:acme/agent:pull\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            };
            let _ = out.write_all(response.as_bytes());
        }
    });
    let oci = Oci::with_config_dir(None);
    let image = |t: &str| ImageRef::parse(&format!("127.0.0.1:{port}/acme/agent:{t}")).expect("ref");
    assert_eq!(oci.manifest_exists(&image("1.4")).await, Ok(true));
    assert_eq!(oci.manifest_exists(&image("2.0")).await, Ok(false));
    let seen = seen.lock().expect("log").clone();
    assert!(seen.iter().any(|l| l.starts_with("GET /token?") && l.contains("service=test-registry")), "{seen:?}");
    assert!(seen.iter().any(|l| l.starts_with("HEAD /v2/acme/agent/manifests/1.4") && l.contains("Bearer tok-1")), "{seen:?}");
}

/// A two-container deployspec whose release image (`[build]`) and sidecar image (`[build.agent]`)
/// both go to the loopback registry, each context with a file unique to this run; and a user
/// Docker config with (or without) the registry's credentials, as `docker login` stores them.
struct TwoImages {
    dir: tempfile::TempDir,
    user_config: tempfile::TempDir,
    unique: String,
    web: String,
    agent: String,
}

fn two_images(reg: &Registry, with_credentials: bool) -> TwoImages {
    use base64::Engine as _;
    let dir = tempfile::tempdir().expect("dir");
    let unique = format!(
        "t{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
    );
    for (ctx, file) in [("app", "index.html"), ("agent", "agent.conf")] {
        std::fs::create_dir_all(dir.path().join(ctx)).expect("context");
        std::fs::write(dir.path().join(ctx).join(file), format!("{ctx} {unique}\n")).expect("file");
        std::fs::write(dir.path().join(ctx).join("Dockerfile"), format!("FROM scratch\nCOPY {file} /{file}\n")).expect("Dockerfile");
    }
    let template = r#"{"family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
      "containerDefinitions": [
        {"name": "web", "image": "{{ image }}", "memory": 384, "portMappings": [{"containerPort": 8080}]},
        {"name": "agent", "image": "{{ images.agent }}", "memory": 128, "essential": false}]}"#;
    std::fs::write(dir.path().join("web.taskdef.json"), template).expect("template");
    let (web, agent) = (format!("{}/fgdeploy-it/multi-web", reg.host), format!("{}/fgdeploy-it/multi-agent", reg.host));
    let spec = format!(
        "[service]\ncluster = \"demo\"\nname = \"web\"\n\n[image]\nrepository = \"{web}\"\ntag = \"{unique}\"\n\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n\n[build]\ncontext = \"app\"\ncache = false\n\n[build.agent]\nrepository = \"{agent}\"\ncontext = \"agent\"\ncache = false\n"
    );
    std::fs::write(dir.path().join("web.toml"), spec).expect("spec");
    let user_config = tempfile::tempdir().expect("docker config");
    let auths = if with_credentials {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{}", reg.password));
        serde_json::json!({reg.host.clone(): {"auth": auth}})
    } else {
        serde_json::json!({})
    };
    std::fs::write(user_config.path().join("config.json"), serde_json::json!({"auths": auths}).to_string()).expect("config");
    TwoImages { dir, user_config, unique, web, agent }
}

/// Release `t` with the simulator for ECS, the machine's Docker as the builder (with a Docker
/// config private to the run, as in production) and the v2 client reading `t.user_config`
/// (`read_only`: whose credentials are not handed to the builder).
async fn release_two(
    t: &TwoImages,
    read_only: bool,
) -> (Result<fgdeploy::engine::ReleaseReport, fgdeploy::error::Error>, Vec<fgdeploy::engine::Event>, fgdeploy::sim::Sim) {
    use fgdeploy::engine::{Engine, Interrupt, Recorder, ReleaseOptions};
    use std::sync::Arc;
    let spec = fgdeploy::spec::Spec::load(&t.dir.path().join("web.toml"), None).expect("spec loads");
    let sim = fgdeploy::sandbox::seeded(&spec, fgdeploy::sim::Faults::default()).expect("seed");
    let mut ports = sim.ports();
    ports.builder = Arc::new(DockerBuilder::default());
    let oci = fgdeploy::registry::Oci::with_config_dir(Some(t.user_config.path().to_path_buf()));
    ports.registry = if read_only { Arc::new(ReadOnly(oci)) } else { Arc::new(oci) };
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(ports, rec.clone(), Interrupt::default());
    let result = engine.release(&spec, &ReleaseOptions::default()).await;
    (result, rec.events(), sim)
}

/// Two built images in one release against the real registry (the acceptance of several images
/// per service): the release container's and a sidecar's, built by the machine's Docker at once
/// and pushed; the registry's credentials come from the user's Docker config through the
/// engine's `docker login`. Each image is then in the registry at the digest the release
/// announced, pullable by that digest, and the registered task definition runs both.
#[tokio::test]
async fn one_release_builds_and_pushes_two_images_to_the_real_registry() {
    use fgdeploy::engine::Event;
    use fgdeploy::registry::{ImageRef, Oci, Registry as _};
    let Some(reg) = registry() else { return };
    if !docker_available() {
        return;
    }
    let t = two_images(&reg, true);
    let (result, events, sim) = release_two(&t, false).await;
    let report = result.unwrap_or_else(|e| panic!("release: {e}"));
    let actions: Vec<_> = report.plan.images.iter().map(|i| (i.container.clone(), i.action)).collect();
    assert_eq!(
        actions,
        [("web".to_string(), fgdeploy::plan::ImageAction::Build), ("agent".to_string(), fgdeploy::plan::ImageAction::Build)]
    );
    let pushed: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| if let Event::ImagePushed { image, digest: Some(d) } = e { Some((image.clone(), d.clone())) } else { None })
        .collect();
    assert_eq!(pushed.len(), 2, "{pushed:?}");
    let warnings: Vec<&Event> = events.iter().filter(|e| matches!(e, Event::Warning { .. })).collect();
    assert!(warnings.is_empty(), "the builder's digests are the registry's, and nothing else went amiss: {warnings:?}");
    let oci = Oci::with_config_dir(Some(t.user_config.path().to_path_buf()));
    let td = sim.world().describe_task_definition("web:2").expect("web:2 registered").definition;
    for (container, repo) in [("web", &t.web), ("agent", &t.agent)] {
        let image = format!("{repo}:{}", t.unique);
        let in_registry = oci.manifest_digest(&ImageRef::parse(&image).expect("ref")).await.expect("asked").expect("pushed");
        assert!(
            pushed.contains(&(image.clone(), in_registry.clone())),
            "{image} announced at the registry's digest {in_registry}: {pushed:?}"
        );
        assert_eq!(fgdeploy::taskdef::image_of(&td, container), Some(image.as_str()), "{container}");
        let by_digest = format!("{repo}@{in_registry}");
        let pulled = docker(t.user_config.path(), &["pull", &by_digest]);
        assert!(pulled.status.success(), "pull {by_digest}: {}", String::from_utf8_lossy(&pulled.stderr));
        let _ = docker(t.user_config.path(), &["rmi", "-f", &by_digest, &image]);
    }
}

/// The v2 client with the registry's credentials for reading, but none to hand to the builder:
/// what a registry that lets anyone read but only some push looks like to a release.
struct ReadOnly(fgdeploy::registry::Oci);

#[async_trait::async_trait]
impl fgdeploy::registry::Registry for ReadOnly {
    async fn manifest_digest(&self, image: &fgdeploy::registry::ImageRef) -> fgdeploy::ports::PortResult<Option<String>> {
        self.0.manifest_digest(image).await
    }
}

/// Without the registry's credentials: with none at all the release stops at its first read,
/// before any build, saying to `docker login`; with read access but nothing to log the builder
/// in with, both real pushes are refused — the release stops at the build stage (exit 10) naming
/// each container and what to do. Nothing is registered or deployed either way.
#[tokio::test]
async fn without_the_registrys_credentials_the_release_stops_clearly_and_nothing_changes() {
    use fgdeploy::engine::Event;
    let Some(reg) = registry() else { return };
    if !docker_available() {
        return;
    }
    let t = two_images(&reg, false);
    let (result, _, sim) = release_two(&t, false).await;
    let Err(e) = result else { panic!("the registry must refuse") };
    assert!(e.to_string().contains(&format!("docker login {}", reg.host)), "{e}");
    assert!(sim.world().mutations.is_empty(), "{:?}", sim.world().mutations);

    let t = two_images(&reg, true);
    let (result, events, sim) = release_two(&t, true).await;
    let Err(e) = result else { panic!("the pushes must be refused") };
    assert_eq!(e.exit_code(), fgdeploy::error::exit::BUILD_FAILED, "{e}");
    let text = e.to_string();
    assert!(text.contains("2 of 2 builds failed") && text.contains("container web") && text.contains("container agent"), "{text}");
    assert!(text.contains("docker login"), "{text}");
    assert!(events.iter().any(|e| matches!(e, Event::Info { message } if message.contains("no credentials for"))), "{events:?}");
    assert!(!sim.world().mutations.iter().any(|(_, m)| matches!(m, fgdeploy::sim::Mutation::RegisterTaskDefinition { .. })));
}
