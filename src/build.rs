//! The container builder as a subprocess: `docker buildx build --push` when buildx is there,
//! else `docker build` + `docker push`, or the deployspec's own `build.command`. Registry login
//! passes the password on stdin. Every output line is forwarded as progress.

use crate::ports::{BuildError, BuildRequest, Builder, RegistryAuth};
use async_trait::async_trait;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Drives the `docker` CLI (or another program with the same verbs).
#[derive(Debug, Clone)]
pub struct DockerBuilder {
    pub(crate) program: String,
    /// Extra environment for every invocation (a DOCKER_CONFIG here wins over the private one).
    pub(crate) env: Vec<(String, String)>,
    /// A private DOCKER_CONFIG for this run: `docker login` stores the ECR token there, never in
    /// the user's `~/.docker/config.json`; removed when fgdeploy exits. The user's CLI plugins
    /// (buildx) stay reachable through a link to their `cli-plugins` folder.
    config: Option<std::sync::Arc<tempfile::TempDir>>,
}

impl Default for DockerBuilder {
    fn default() -> Self {
        DockerBuilder {
            program: std::env::var("FGDEPLOY_DOCKER").unwrap_or_else(|_| "docker".into()),
            env: Vec::new(),
            config: private_docker_config().map(std::sync::Arc::new),
        }
    }
}

impl DockerBuilder {
    pub fn new(program: impl Into<String>, env: Vec<(String, String)>) -> Self {
        DockerBuilder { program: program.into(), env, ..Default::default() }
    }

    /// The DOCKER_CONFIG every invocation gets.
    pub(crate) fn docker_config(&self) -> Option<std::path::PathBuf> {
        match self.env.iter().find(|(k, _)| k == "DOCKER_CONFIG") {
            Some((_, v)) => Some(v.into()),
            None => self.config.as_ref().map(|d| d.path().to_path_buf()),
        }
    }
}

fn private_docker_config() -> Option<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix("fgdeploy-docker-").tempdir().ok()?;
    let user = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".docker")));
    if let Some(plugins) = user.map(|u| u.join("cli-plugins")).filter(|p| p.is_dir()) {
        #[cfg(unix)]
        let _ = std::os::unix::fs::symlink(plugins, dir.path().join("cli-plugins"));
    }
    Some(dir)
}

/// `X86_64` → `linux/amd64`, `ARM64` → `linux/arm64`.
pub(crate) fn platform_for(cpu_architecture: Option<&str>, os_family: Option<&str>) -> Option<String> {
    if os_family.is_some_and(|o| o != "LINUX") {
        return None;
    }
    match cpu_architecture {
        Some("ARM64") => Some("linux/arm64".into()),
        Some("X86_64") => Some("linux/amd64".into()),
        _ => None,
    }
}

/// The last `sha256:<64 hex>` in the text.
pub(crate) fn find_digest(text: &str) -> Option<String> {
    let mut found = None;
    let mut rest = text;
    while let Some(i) = rest.find("sha256:") {
        let cand = &rest[i..];
        let hex: String = cand[7..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        if hex.len() == 64 {
            found = Some(format!("sha256:{hex}"));
        }
        rest = &rest[i + 7..];
    }
    found
}

impl DockerBuilder {
    /// Run a program, forwarding output lines; returns all output.
    async fn run(
        &self,
        program: &str,
        args: &[String],
        stdin: Option<&str>,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<String, BuildError> {
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        if let Some(dir) = self.docker_config() {
            cmd.env("DOCKER_CONFIG", dir);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|e| {
            BuildError(if e.kind() == std::io::ErrorKind::NotFound {
                format!("`{program}` is not installed or not on PATH; install Docker, or set build.command in the deployspec")
            } else {
                format!("cannot start `{program}`: {e}")
            })
        })?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input.as_bytes()).await.map_err(|e| BuildError(format!("cannot write to `{program}`: {e}")))?;
            drop(pipe);
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        for pipe in [
            child.stdout.take().map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child.stderr.take().map(|p| Box::new(p) as _),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut all = String::new();
        while let Some(line) = rx.recv().await {
            all.push_str(&line);
            all.push('\n');
            progress(line);
        }
        let status = child.wait().await.map_err(|e| BuildError(format!("`{program}` did not finish: {e}")))?;
        if status.success() { Ok(all) } else { Err(BuildError(explain(program, args, &all, status.code()))) }
    }

    async fn quiet(&self, args: &[&str]) -> Result<String, BuildError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        self.run(&self.program, &args, None, &|_| {}).await
    }
}

/// A clear message for the usual failures.
fn explain(program: &str, args: &[String], output: &str, code: Option<i32>) -> String {
    let verb = args.iter().take(2).cloned().collect::<Vec<_>>().join(" ");
    let last: Vec<&str> = output.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
    let hint = if output.contains("Cannot connect to the Docker daemon") || output.contains("Is the docker daemon running") {
        "the Docker daemon is not running or not reachable; start it (or set DOCKER_HOST)"
    } else if output.contains("immutable") || output.contains("already exists") && output.contains("cannot be overwritten") {
        "the repository's tags are IMMUTABLE and this tag exists already; release a new tag"
    } else if output.contains("name unknown") || output.contains("does not exist in the registry") {
        "the ECR repository does not exist; create it or set image.create_repository = true"
    } else if output.contains("denied") || output.contains("unauthorized") || output.contains("no basic auth credentials") {
        "the registry refused the credentials; for ECR check the permissions (ecr:GetAuthorizationToken, ecr:*Upload*, ecr:PutImage); for another registry, `docker login <registry>` first (fgdeploy hands the Docker credential store's credentials to the builder)"
    } else {
        "see the builder's output above"
    };
    format!("`{program} {verb}` failed (exit {}): {hint}\n  {}", code.map_or("signal".into(), |c| c.to_string()), last.join("\n  "))
}

#[async_trait]
impl Builder for DockerBuilder {
    async fn login(&self, auth: &RegistryAuth) -> Result<(), BuildError> {
        let args =
            vec!["login".to_string(), "--username".into(), auth.username.clone(), "--password-stdin".into(), auth.host().to_string()];
        self.run(&self.program, &args, Some(&auth.password), &|_| {}).await.map(|_| ())
    }

    async fn build_and_push(&self, req: &BuildRequest, progress: &(dyn Fn(String) + Send + Sync)) -> Result<Option<String>, BuildError> {
        if let Some(cmd) = &req.command {
            let (program, args) = cmd.split_first().ok_or_else(|| BuildError("build.command is empty".into()))?;
            let out = self.run(program, args, None, progress).await?;
            return Ok(find_digest(&out));
        }
        self.quiet(&["version", "--format", "{{.Server.Version}}"])
            .await
            .map_err(|e| BuildError(format!("the Docker daemon is not reachable: {e}")))?;
        let buildx = self.quiet(&["buildx", "version"]).await.is_ok();
        let mut common: Vec<String> = Vec::new();
        if let Some(p) = &req.platform {
            common.extend(["--platform".into(), p.clone()]);
        }
        common.extend(["--file".into(), req.dockerfile.display().to_string()]);
        if let Some(t) = &req.target {
            common.extend(["--target".into(), t.clone()]);
        }
        for (k, v) in &req.args {
            common.extend(["--build-arg".into(), format!("{k}={v}")]);
        }
        common.extend(["--tag".into(), req.image.clone()]);
        if buildx {
            // One metadata file per build: several builds of one release run at once.
            let meta_file = tempfile::Builder::new()
                .prefix("fgdeploy-build-")
                .suffix(".json")
                .tempfile()
                .map_err(|e| BuildError(format!("cannot create a temporary file: {e}")))?;
            let meta = meta_file.path().to_path_buf();
            let mut args: Vec<String> = vec!["buildx".into(), "build".into()];
            args.extend(common);
            if req.cache {
                let cache = format!("{}:buildcache", req.repository_uri);
                args.extend([
                    "--cache-from".into(),
                    format!("type=registry,ref={cache}"),
                    "--cache-to".into(),
                    format!("type=registry,ref={cache},mode=max,image-manifest=true"),
                ]);
            }
            args.extend(["--push".into(), "--metadata-file".into(), meta.display().to_string(), req.context.display().to_string()]);
            let out = self.run(&self.program, &args, None, progress).await?;
            let digest = std::fs::read_to_string(&meta)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v.get("containerimage.digest").and_then(|d| d.as_str()).map(str::to_string))
                .or_else(|| find_digest(&out));
            let _ = std::fs::remove_file(&meta);
            return Ok(digest);
        }
        progress("docker buildx is not available; using `docker build` + `docker push`".into());
        let mut args: Vec<String> = vec!["build".into()];
        args.extend(common);
        args.push(req.context.display().to_string());
        self.run(&self.program, &args, None, progress).await?;
        let out = self.run(&self.program, &["push".to_string(), req.image.clone()], None, progress).await?;
        Ok(find_digest(&out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_platforms() {
        let d = "a".repeat(64);
        assert_eq!(find_digest(&format!("v1: digest: sha256:{d} size: 524")), Some(format!("sha256:{d}")));
        assert_eq!(find_digest("sha256:abc"), None);
        assert_eq!(platform_for(Some("ARM64"), Some("LINUX")).as_deref(), Some("linux/arm64"));
        assert_eq!(platform_for(Some("X86_64"), None).as_deref(), Some("linux/amd64"));
        assert_eq!(platform_for(Some("X86_64"), Some("WINDOWS_SERVER_2022_CORE")), None);
    }

    #[tokio::test]
    async fn a_missing_builder_is_a_clear_error() {
        let b = DockerBuilder::new("fgdeploy-no-such-docker", vec![]);
        let auth = RegistryAuth { username: "AWS".into(), password: "pw".into(), endpoint: "https://r.example".into() };
        let e = b.login(&auth).await.unwrap_err();
        assert!(e.0.contains("not installed"), "{e}");
    }

    /// `docker login` gets a private DOCKER_CONFIG: the token never lands in the user's
    /// `~/.docker/config.json`. A stand-in `docker` records what it was given.
    #[tokio::test]
    async fn login_uses_a_private_docker_config_and_the_password_only_on_stdin() {
        let dir = tempfile::tempdir().expect("tempdir");
        let record = dir.path().join("record");
        let fake = dir.path().join("docker");
        std::fs::write(&fake, format!("#!/bin/sh\necho \"config=$DOCKER_CONFIG args=$*\" > {0}\ncat >> {0}\n", record.display()))
            .expect("script");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let b = DockerBuilder::new(fake.display().to_string(), vec![]);
        let auth = RegistryAuth {
            username: "AWS".into(),
            password: "s3cr3t-token".into(),
            endpoint: "https://1.dkr.ecr.us-east-1.amazonaws.com".into(),
        };
        // A freshly written executable can be "busy" while another test thread forks: retry.
        let mut tries = 0;
        while let Err(e) = b.login(&auth).await {
            tries += 1;
            assert!(e.0.contains("busy") && tries < 20, "login: {e}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let text = std::fs::read_to_string(&record).expect("recorded");
        let config = b.docker_config().expect("a private config");
        assert!(text.contains(&format!("config={}", config.display())), "{text}");
        let home = std::env::var("HOME").unwrap_or_default();
        assert!(!config.starts_with(std::path::Path::new(&home).join(".docker")), "{}", config.display());
        let first = text.lines().next().unwrap_or_default();
        assert!(!first.contains("s3cr3t-token"), "the password is not in argv: {first}");
        assert!(text.contains("s3cr3t-token"), "the password went to stdin");
    }
}
