//! The `Ecr` port: this account's registry.

use super::error::PortResult;
use async_trait::async_trait;

/// Registry credentials from GetAuthorizationToken (valid 12 h).
#[derive(Clone, PartialEq)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
    /// `https://<account>.dkr.ecr.<region>.amazonaws.com`
    pub endpoint: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("RegistryAuth").field("username", &self.username).field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

impl RegistryAuth {
    /// The registry host (`<account>.dkr.ecr.<region>.amazonaws.com`).
    pub fn host(&self) -> &str {
        self.endpoint.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/')
    }
}

/// An image manifest exactly as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub body: String,
    pub media_type: Option<String>,
    pub digest: Option<String>,
}

/// ECR: repositories, tags, credentials, manifests.
#[async_trait]
pub trait Ecr: Send + Sync {
    /// The repository URI for a repository name (DescribeRepositories).
    async fn repository_uri(&self, repository: &str) -> PortResult<String>;
    /// The digest of `repository:tag`, or `None` when the tag does not exist (BatchGetImage).
    async fn image_digest(&self, repository: &str, tag: &str) -> PortResult<Option<String>>;
    /// BatchGetImage in the registry `registry_id` (another account's ECR in this region):
    /// whether `repository:reference` (a tag or a digest) exists.
    async fn image_exists_in(&self, registry_id: &str, repository: &str, reference: &str) -> PortResult<bool>;
    /// DescribePullThroughCacheRules: the upstream registry host when `repository` lies under a
    /// pull-through cache prefix of this registry (its images appear on the first pull).
    async fn pull_through_upstream(&self, repository: &str) -> PortResult<Option<String>>;
    /// CreateRepository; returns its URI.
    async fn create_repository(&self, repository: &str) -> PortResult<String>;
    /// GetAuthorizationToken, decoded.
    async fn authorization(&self) -> PortResult<RegistryAuth>;
    /// BatchGetImage with every accepted manifest media type; `None` when the tag is missing.
    async fn manifest(&self, repository: &str, tag: &str) -> PortResult<Option<Manifest>>;
    /// PutImage with the exact manifest bytes; `Ok(false)` when the tag already had it.
    async fn put_manifest(&self, repository: &str, tag: &str, manifest: &Manifest) -> PortResult<bool>;
}
