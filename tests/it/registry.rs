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
