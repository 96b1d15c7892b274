//! What a plan is made of: the live state it is computed from, the options, the stages and
//! their actions, the schedules, and the plan itself.

use crate::diff::Change;
use crate::ports::{Network, RegisteredTaskDefinition, ScalableTarget, ServiceState, UpdateService};
use crate::spec::Spec;
use crate::taskdef::TaskDefinition;
use serde::Serialize;

/// What the engine observed before planning (read-only calls only).
#[derive(Debug, Clone)]
pub struct Live {
    /// The service (a placeholder named as the spec when `service_missing`).
    pub service: ServiceState,
    /// The service does not exist: the release creates it from `[service.definition]`.
    pub(crate) service_missing: bool,
    pub(crate) task_definition: Option<RegisteredTaskDefinition>,
    pub repository_uri: String,
    /// Digest of the release tag in ECR, if it exists.
    pub image_digest: Option<String>,
    /// The ECR repository does not exist yet (and `image.create_repository` is set).
    pub(crate) repository_missing: bool,
    /// Application Auto Scaling's target for the service's desired count, if it scales it.
    pub(crate) scalable: Option<ScalableTarget>,
    /// The images of `[build.<container>]` (the release container's is above).
    pub(crate) sidecars: Vec<LiveImage>,
}

/// One image in its registry, as observed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LiveImage {
    pub(crate) target: crate::spec::ImageTarget,
    pub(crate) repository_uri: String,
    /// The tag's digest, if the image exists.
    pub(crate) digest: Option<String>,
    /// The ECR repository does not exist yet (and `create_repository` is set).
    pub(crate) repository_missing: bool,
}

impl LiveImage {
    /// `<repository URI>:<tag>`.
    pub(crate) fn image(&self) -> String {
        format!("{}:{}", self.repository_uri, self.target.tag)
    }
}

impl Live {
    /// Every image of the release, the release container's first.
    pub(crate) fn images(&self, spec: &Spec) -> Vec<LiveImage> {
        let release = spec.image_targets().into_iter().next().map(|target| LiveImage {
            target,
            repository_uri: self.repository_uri.clone(),
            digest: self.image_digest.clone(),
            repository_missing: self.repository_missing,
        });
        release.into_iter().chain(self.sidecars.iter().cloned()).collect()
    }
}

/// Flags that change the plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub skip_build: bool,
    pub skip_migration: bool,
    pub allow_downtime: bool,
    /// Build even when the tag exists in ECR.
    pub force_build: bool,
    /// Release a `-dirty` tag (uncommitted changes).
    pub allow_dirty: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Build,
    Migrate,
    Register,
    Deploy,
    Verify,
}

impl Stage {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Stage::Build => "build",
            Stage::Migrate => "migrate",
            Stage::Register => "register",
            Stage::Deploy => "deploy",
            Stage::Verify => "verify",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum StageAction {
    Run { detail: String },
    Skip { reason: String },
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StagePlan {
    pub stage: Stage,
    #[serde(flatten)]
    pub action: StageAction,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct MigrationPlan {
    pub(crate) image: String,
    pub(crate) container: String,
    pub(crate) command: Vec<String>,
    pub(crate) network: Option<Network>,
    pub(crate) timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RollingSchedule {
    pub(crate) desired: i32,
    pub(crate) minimum_healthy_percent: i32,
    pub(crate) maximum_percent: i32,
    /// ceil(desired × min / 100): tasks that stay healthy throughout.
    pub(crate) floor_tasks: i32,
    /// floor(desired × max / 100): most tasks running or pending at once.
    pub(crate) ceiling_tasks: i32,
    /// The batches, assuming every new task turns healthy.
    pub(crate) steps: Vec<String>,
    pub(crate) warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(tag = "strategy", rename_all = "kebab-case")]
pub enum Rollout {
    Rolling(RollingSchedule),
    BlueGreen { deployment_config: String, steps: Vec<String> },
}

/// What the canary judge will do: the steps it judges and each metric's test.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AnalysisPlan {
    /// When the judge runs and what each verdict does.
    pub steps: Vec<String>,
    /// One line a metric: what is read, the test, and when it fails.
    pub metrics: Vec<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Plan {
    pub(crate) cluster: String,
    pub(crate) service: String,
    pub image: String,
    pub(crate) image_digest: Option<String>,
    pub(crate) live_task_definition: Option<String>,
    pub(crate) live_image: Option<String>,
    pub task_definition_changes: Vec<Change>,
    pub service_changes: Vec<Change>,
    pub(crate) migration: Option<MigrationPlan>,
    pub rollout: Rollout,
    /// The canary judge (#29): when each step is judged, and on what.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisPlan>,
    pub stages: Vec<StagePlan>,
    pub has_changes: bool,
    /// Application Auto Scaling's bounds, when it scales the service (the desired count is then
    /// the autoscaler's, not the deployspec's).
    pub(crate) scalable_target: Option<ScalableTarget>,
    /// What the plan decided that the user should know (e.g. the desired count kept).
    pub notes: Vec<String>,
    /// The service does not exist: the deploy stage creates it (CreateService).
    pub creates_service: bool,
    /// Tags the deploy stage sets on the service (TagResource; UpdateService cannot).
    #[serde(skip)]
    pub service_tags: std::collections::BTreeMap<String, String>,
    /// The same, as shown: a value holding a secret lookup's answer is `(redacted)`.
    #[serde(rename = "service_tags")]
    pub(crate) service_tags_shown: std::collections::BTreeMap<String, String>,
    /// The account lookups the templates made, with their answers (secrets as `(secret)`).
    pub(crate) lookups: Vec<crate::lookups::Resolved>,
    /// Every image of the release (the release container's first) and what the build stage
    /// does with it.
    pub images: Vec<PlannedImage>,
    /// The task definition that would be registered.
    #[serde(skip)]
    pub(crate) desired_task_definition: TaskDefinition,
    /// The UpdateService call the deploy stage would make.
    #[serde(skip)]
    pub update: UpdateService,
}

impl Plan {
    pub fn stage(&self, s: Stage) -> Option<&StageAction> {
        self.stages.iter().find(|p| p.stage == s).map(|p| &p.action)
    }
    pub fn runs(&self, s: Stage) -> bool {
        matches!(self.stage(s), Some(StageAction::Run { .. }))
    }
}

/// Tags fgdeploy writes itself; they never count as a change.
pub(crate) const TAG_PREVIOUS: &str = "fgdeploy:previous-task-definition";

/// What the build stage does with one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImageAction {
    /// The tag is not in its registry: build and push it.
    Build,
    /// The ECR repository does not exist: create it, then build and push.
    CreateRepositoryAndBuild,
    /// The tag exists and `--force-build` builds it again.
    Rebuild,
    /// The tag exists: nothing to build.
    Exists,
    /// The tag is not there and nothing builds it: the release stops at the build stage.
    Missing,
    /// `--skip-build`: taken as it is.
    Skipped,
}

impl ImageAction {
    /// Whether the build stage builds this image.
    pub(crate) fn builds(self) -> bool {
        matches!(self, ImageAction::Build | ImageAction::CreateRepositoryAndBuild | ImageAction::Rebuild)
    }
}

/// One image in the plan.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PlannedImage {
    pub container: String,
    /// What the task definition gets: `<repository>:<tag>`, or `<repository>@<digest>` with
    /// `image.pin_digest` and a digest known.
    pub(crate) image: String,
    /// The tag's digest in its registry now (before any build).
    pub(crate) digest: Option<String>,
    pub action: ImageAction,
    /// What was observed (for the build stage).
    #[serde(skip)]
    pub(crate) live: LiveImage,
}
