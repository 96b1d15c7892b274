//! Images fgdeploy does not build (sidecars, a release image from another registry): where they
//! live and whether they exist. ECR in this account and region is asked with BatchGetImage
//! (another account's by its registry id, taken from the URI); every other registry — ECR
//! Public, GHCR, Docker Hub, Quay, a private OCI registry — through the registry v2 API
//! (`HEAD /v2/<repo>/manifests/<ref>`), anonymous or with the credentials of the Docker
//! credential store (`~/.docker/config.json`: `auths`, `credHelpers`, `credsStore`), following the
//! registry's Basic or Bearer token challenge.

use crate::ports::{PortError, PortResult};
use async_trait::async_trait;
use base64::Engine as _;
use std::path::PathBuf;

/// A parsed image reference, normalised as Docker does (`nginx` → `registry-1.docker.io/library/nginx:latest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The registry host (with port).
    pub(crate) host: String,
    pub(crate) repository: String,
    /// A tag, or a digest (`sha256:…`).
    pub(crate) reference: String,
}

/// Whether a repository is written as a full URI (`host/name`) rather than an ECR name.
pub(crate) fn is_full_uri(repo: &str) -> bool {
    repo.split_once('/').is_some_and(|(h, _)| h.contains('.') || h.contains(':') || h == "localhost")
}

/// `123.dkr.ecr.us-east-1.amazonaws.com/team/web` → `team/web`; a bare name as is.
pub(crate) fn repository_name(repo: &str) -> String {
    match repo.split_once('/') {
        Some((host, name)) if host.contains('.') => name.to_string(),
        _ => repo.to_string(),
    }
}

/// Where an image lives, as far as checking it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// Private ECR: account (registry id), region.
    Ecr { account: String, region: String },
    /// Any registry reached through the v2 API.
    Oci,
}

impl ImageRef {
    pub fn parse(image: &str) -> Option<ImageRef> {
        if image.is_empty() || image.contains(char::is_whitespace) {
            return None;
        }
        let (name, reference) = match image.split_once('@') {
            Some((n, d)) => (n, d.to_string()),
            None => match image.rsplit_once(':') {
                Some((n, t)) if !t.contains('/') => (n, t.to_string()),
                _ => (image, "latest".to_string()),
            },
        };
        let (host, repository) = match name.split_once('/') {
            Some((h, r)) if h.contains('.') || h.contains(':') || h == "localhost" => (h.to_string(), r.to_string()),
            _ => ("registry-1.docker.io".to_string(), if name.contains('/') { name.to_string() } else { format!("library/{name}") }),
        };
        let host = if host == "docker.io" || host == "index.docker.io" { "registry-1.docker.io".to_string() } else { host };
        (!repository.is_empty() && !reference.is_empty()).then_some(ImageRef { host, repository, reference })
    }

    /// `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]` is private ECR.
    pub(crate) fn location(&self) -> Location {
        let parts: Vec<&str> = self.host.split('.').collect();
        match parts.as_slice() {
            [account, "dkr", ecr, region, "amazonaws", "com", ..]
                if ecr.starts_with("ecr") && account.chars().all(|c| c.is_ascii_digit()) =>
            {
                Location::Ecr { account: account.to_string(), region: region.to_string() }
            }
            _ => Location::Oci,
        }
    }
}

/// Basic credentials for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub(crate) username: String,
    pub(crate) secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

/// The Docker config folder: `$DOCKER_CONFIG`, else `~/.docker`.
fn docker_config_dir() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
}

/// The credentials Docker would use for `host` (from `<dir>/config.json`): a credential
/// helper, else `auths`.
pub(crate) fn credentials_for(dir: &std::path::Path, host: &str) -> Option<Credentials> {
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).ok()?).ok()?;
    let keys = if host == "registry-1.docker.io" { vec!["https://index.docker.io/v1/", "docker.io", host] } else { vec![host] };
    let helper = keys
        .iter()
        .find_map(|k| config.get("credHelpers").and_then(|h| h.get(*k)).and_then(|v| v.as_str()))
        .or_else(|| config.get("credsStore").and_then(|v| v.as_str()));
    if let Some(helper) = helper
        && let Some(c) = from_helper(helper, keys[0])
    {
        return Some(c);
    }
    let auth =
        keys.iter().find_map(|k| config.get("auths").and_then(|a| a.get(*k)).and_then(|a| a.get("auth")).and_then(|v| v.as_str()))?;
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(auth).ok()?).ok()?;
    let (username, secret) = decoded.split_once(':')?;
    Some(Credentials { username: username.to_string(), secret: secret.to_string() })
}

/// `docker-credential-<helper> get` with the host on stdin.
fn from_helper(helper: &str, host: &str) -> Option<Credentials> {
    use std::io::Write;
    let mut child = std::process::Command::new(format!("docker-credential-{helper}"))
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(host.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok().filter(|_| out.status.success())?;
    Some(Credentials { username: v.get("Username")?.as_str()?.to_string(), secret: v.get("Secret")?.as_str()?.to_string() })
}

/// The registry v2 API, as the port the engine sees.
#[async_trait]
pub trait Registry: Send + Sync {
    /// The manifest's digest (`HEAD /v2/<repo>/manifests/<ref>`, `Docker-Content-Digest`; empty
    /// when the registry does not say), or `None` when it does not exist.
    async fn manifest_digest(&self, image: &ImageRef) -> PortResult<Option<String>>;

    /// Whether the manifest exists.
    async fn manifest_exists(&self, image: &ImageRef) -> PortResult<bool> {
        Ok(self.manifest_digest(image).await?.is_some())
    }

    /// The credentials the Docker credential store holds for `host`, to log the builder in
    /// before it pushes there (none: push without logging in).
    fn credentials(&self, _host: &str) -> Option<Credentials> {
        None
    }
}

/// The v2 client over real HTTP (reqwest, rustls). Loopback registries are asked over plain
/// HTTP, as Docker does for `localhost`/`127.0.0.1`; every other host over HTTPS.
pub struct Oci {
    http: reqwest::Client,
    /// The Docker config folder the credentials come from.
    config_dir: Option<PathBuf>,
}

impl Default for Oci {
    fn default() -> Self {
        Oci::with_config_dir(docker_config_dir())
    }
}

impl Oci {
    pub fn with_config_dir(config_dir: Option<PathBuf>) -> Oci {
        Oci { http: reqwest::Client::builder().timeout(std::time::Duration::from_secs(20)).build().unwrap_or_default(), config_dir }
    }
}

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

fn base(host: &str) -> String {
    let local = host.starts_with("localhost") || host.starts_with("127.") || host.starts_with("[::1]");
    format!("{}://{host}", if local { "http" } else { "https" })
}

/// `Bearer realm="…",service="…",scope="…"` → its parameters.
fn challenge(header: &str) -> (String, Vec<(String, String)>) {
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = Vec::new();
    for part in rest.split(',') {
        if let Some((k, v)) = part.trim().split_once('=') {
            params.push((k.trim().to_string(), v.trim().trim_matches('"').to_string()));
        }
    }
    (scheme.to_ascii_lowercase(), params)
}

impl Oci {
    fn unreachable(host: &str, e: impl std::fmt::Display) -> PortError {
        PortError::Unreachable { op: "registry:HEAD manifest".into(), endpoint: host.to_string(), message: e.to_string() }
    }

    async fn head(&self, url: &str, auth: Option<String>, host: &str) -> PortResult<reqwest::Response> {
        let mut r = self.http.head(url).header("Accept", ACCEPT);
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        r.send().await.map_err(|e| Self::unreachable(host, e))
    }

    /// The Authorization header a 401 challenge asks for.
    async fn answer(&self, challenge_header: &str, image: &ImageRef, creds: Option<&Credentials>) -> PortResult<Option<String>> {
        let basic =
            |c: &Credentials| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.secret)));
        let (scheme, params) = challenge(challenge_header);
        if scheme == "basic" {
            return Ok(creds.map(basic));
        }
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let Some(realm) = get("realm") else { return Ok(None) };
        let scope = get("scope").unwrap_or_else(|| format!("repository:{}:pull", image.repository));
        let mut url = reqwest::Url::parse(&realm).map_err(|e| Self::unreachable(&realm, e))?;
        url.query_pairs_mut().append_pair("scope", &scope);
        if let Some(service) = get("service") {
            url.query_pairs_mut().append_pair("service", &service);
        }
        let mut req = self.http.get(url);
        if let Some(c) = creds {
            req = req.header("Authorization", basic(c));
        }
        let resp = req.send().await.map_err(|e| Self::unreachable(&realm, e))?;
        if !resp.status().is_success() {
            return Err(PortError::Rejected {
                op: "registry:token".into(),
                code: resp.status().as_u16().to_string(),
                message: format!("{realm} refused a pull token for {}", image.repository),
            });
        }
        let body = resp.bytes().await.map_err(|e| Self::unreachable(&realm, e))?;
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| Self::unreachable(&realm, e))?;
        let token = v.get("token").or_else(|| v.get("access_token")).and_then(|t| t.as_str()).unwrap_or_default();
        Ok(Some(format!("Bearer {token}")))
    }
}

#[async_trait]
impl Registry for Oci {
    fn credentials(&self, host: &str) -> Option<Credentials> {
        credentials_for(self.config_dir.as_deref()?, host)
    }

    async fn manifest_digest(&self, image: &ImageRef) -> PortResult<Option<String>> {
        let url = format!("{}/v2/{}/manifests/{}", base(&image.host), image.repository, image.reference);
        let first = self.head(&url, None, &image.host).await?;
        let resp = if first.status() == reqwest::StatusCode::UNAUTHORIZED {
            let header = first.headers().get("www-authenticate").and_then(|h| h.to_str().ok()).unwrap_or("Basic").to_string();
            let creds = self.config_dir.as_deref().and_then(|d| credentials_for(d, &image.host));
            let auth = self.answer(&header, image, creds.as_ref()).await?;
            self.head(&url, auth, &image.host).await?
        } else {
            first
        };
        match resp.status().as_u16() {
            200..=299 => {
                Ok(Some(resp.headers().get("docker-content-digest").and_then(|d| d.to_str().ok()).unwrap_or_default().to_string()))
            }
            404 => Ok(None),
            401 | 403 => Err(PortError::Rejected {
                op: "registry:HEAD manifest".into(),
                code: resp.status().as_u16().to_string(),
                message: format!("{} refused access to {} (docker login {} first)", image.host, image.repository, image.host),
            }),
            s => Err(PortError::Transient { op: "registry:HEAD manifest".into(), message: format!("{} answered {s}", image.host) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(host: &str, repo: &str, reference: &str) -> Option<ImageRef> {
        Some(ImageRef { host: host.into(), repository: repo.into(), reference: reference.into() })
    }

    #[test]
    fn references_are_normalised_as_docker_does() {
        assert_eq!(ImageRef::parse("nginx"), r("registry-1.docker.io", "library/nginx", "latest"));
        assert_eq!(ImageRef::parse("grafana/agent:v1"), r("registry-1.docker.io", "grafana/agent", "v1"));
        assert_eq!(ImageRef::parse("docker.io/library/redis:7"), r("registry-1.docker.io", "library/redis", "7"));
        assert_eq!(ImageRef::parse("ghcr.io/o/sidecar:1.2"), r("ghcr.io", "o/sidecar", "1.2"));
        assert_eq!(ImageRef::parse("localhost:5000/web"), r("localhost:5000", "web", "latest"));
        assert_eq!(
            ImageRef::parse("public.ecr.aws/aws-observability/aws-for-fluent-bit@sha256:ab"),
            r("public.ecr.aws", "aws-observability/aws-for-fluent-bit", "sha256:ab")
        );
        assert_eq!(ImageRef::parse(""), None);
        assert_eq!(ImageRef::parse("a b"), None);
        assert_eq!(ImageRef::parse("ghcr.io/"), None, "no repository");
        assert_eq!(ImageRef::parse("web:"), None, "an empty tag");
    }

    #[test]
    fn private_ecr_is_recognised_by_its_host() {
        let i = ImageRef::parse("999999999999.dkr.ecr.eu-west-1.amazonaws.com/team/agent:3").expect("ref");
        assert_eq!(i.location(), Location::Ecr { account: "999999999999".into(), region: "eu-west-1".into() });
        assert_eq!(i.repository, "team/agent");
        assert_eq!(ImageRef::parse("public.ecr.aws/x/y:1").expect("ref").location(), Location::Oci);
        assert_eq!(
            ImageRef::parse("acme.dkr.ecr.eu-west-1.amazonaws.com/x:1").expect("ref").location(),
            Location::Oci,
            "an account is digits"
        );
        assert_eq!(ImageRef::parse("123.dkr.notecr.eu-west-1.amazonaws.com/x:1").expect("ref").location(), Location::Oci);
        assert_eq!(ImageRef::parse("ghcr.io/x/y:1").expect("ref").location(), Location::Oci);
    }

    #[test]
    fn challenges_are_read() {
        let (s, p) = challenge(r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/s:pull""#);
        assert_eq!(s, "bearer");
        assert_eq!(p[0], ("realm".to_string(), "https://ghcr.io/token".to_string()));
        assert_eq!(p[2], ("scope".to_string(), "repository:o/s:pull".to_string()));
        assert_eq!(challenge("Basic realm=\"x\"").0, "basic");
        assert_eq!(base("127.0.0.1:5000"), "http://127.0.0.1:5000");
        assert_eq!(base("ghcr.io"), "https://ghcr.io");
    }

    #[test]
    fn credentials_never_show_their_secret() {
        let c = Credentials { username: "u".into(), secret: "s3cr3t".into() };
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert!(format!("{c:?}").contains("username: \"u\""), "{c:?}");
    }
}
