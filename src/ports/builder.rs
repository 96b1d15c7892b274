//! The `Builder` port: `docker buildx` behind it.

use super::ecr::RegistryAuth;
use async_trait::async_trait;
use serde::Serialize;
use std::collections::BTreeMap;

/// What to build.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct BuildRequest {
    /// The full image reference to push (`<registry>/<repo>:<tag>`).
    pub image: String,
    /// `<registry>/<repo>`, for the registry build cache.
    pub repository_uri: String,
    pub context: std::path::PathBuf,
    pub dockerfile: std::path::PathBuf,
    pub target: Option<String>,
    pub args: BTreeMap<String, String>,
    /// e.g. `linux/arm64`, from the task definition's runtimePlatform.
    pub platform: Option<String>,
    /// A user command that builds *and pushes* instead of docker (variables expanded).
    pub command: Option<Vec<String>>,
    /// Use the registry as a build cache (buildx only).
    pub cache: bool,
}

/// Why a build or push failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(pub String);

/// The container builder, driven as a subprocess (or simulated).
#[async_trait]
pub trait Builder: Send + Sync {
    /// Log in to `registry`, the password on stdin (never in argv, never printed).
    async fn login(&self, auth: &RegistryAuth) -> Result<(), BuildError>;
    /// Build and push; each output line goes to `progress`. Returns the pushed digest if the
    /// builder printed it.
    async fn build_and_push(&self, req: &BuildRequest, progress: &(dyn Fn(String) + Send + Sync)) -> Result<Option<String>, BuildError>;
}
