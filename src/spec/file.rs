//! The deployspec file format (TOML, snake_case keys). Unknown keys are errors.

use super::duration::{de_duration, ser_duration};
use crate::error::InputError;
use crate::vars::Vars;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    pub service: ServiceSection,
    pub image: ImageSection,
    #[serde(default)]
    pub build: Option<BuildSection>,
    pub task_definition: TaskDefinitionSection,
    #[serde(default)]
    pub migration: Option<MigrationSection>,
    #[serde(default)]
    pub deploy: DeploySection,
    #[serde(default)]
    pub rollback: RollbackSection,
    /// A lease per service in an S3 bucket: one release (rollback, scale, create) of the service
    /// at a time, across runners (#27). Without it, nothing serialises two pipelines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<LockSection>,
    /// The canary judge (#29): each traffic step judged on green's metrics against blue's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<super::analysis::AnalysisSection>,
    /// Where the templates' account lookups read from (`tfstate()`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookups: Option<LookupsSection>,
    /// `[build.<container>]`: the images of other containers (sidecars) this release builds,
    /// each with its own `repository`. Taken out of `[build]` before deserializing (see
    /// [`split_builds`]).
    #[serde(skip)]
    pub sidecar_builds: BTreeMap<String, BuildSection>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupsSection {
    /// A local Terraform state file for `tfstate()`, relative to the deployspec's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tfstate_file: Option<String>,
    /// A Terraform state in S3 for `tfstate()`: `s3://bucket/key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tfstate_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSection {
    /// ECS cluster name or ARN.
    pub cluster: String,
    /// ECS service name.
    pub name: String,
    /// AWS region; default: the AWS config (AWS_REGION, profile).
    #[serde(default)]
    pub region: Option<String>,
    /// Desired task count to set on release; default: keep the live count.
    #[serde(default)]
    pub desired_count: Option<i32>,
    /// Fleet releases: services whose stages (migration first) must run before this one's.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// The service's own settings (network, capacity providers, load balancers, …): managed
    /// by fgdeploy where given, left as they are where not; used to create a missing service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<crate::servicedef::ServiceDefinition>,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageSection {
    /// ECR repository name (URI looked up in ECR) or full repository URI.
    pub repository: String,
    /// Image tag; default `{{ git.sha }}` (with `-dirty` on a checkout with uncommitted changes,
    /// which `release` refuses unless --allow-dirty).
    #[serde(default = "default_tag")]
    pub tag: String,
    /// Create the ECR repository when it does not exist.
    #[serde(default)]
    pub create_repository: bool,
    /// Put the image digest (`repo@sha256:…`) into the task definition instead of the tag.
    #[serde(default)]
    pub pin_digest: bool,
}

fn default_tag() -> String {
    "{{ git.sha }}".into()
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildSection {
    /// Build context, relative to the deployspec's folder.
    #[serde(default = "default_context")]
    pub context: String,
    #[serde(default = "default_dockerfile")]
    pub dockerfile: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    /// Platform, e.g. "linux/arm64"; default: from the task definition's runtimePlatform.
    #[serde(default)]
    pub platform: Option<String>,
    /// Use the ECR repository as a registry build cache (`<repo>:buildcache`, buildx only).
    #[serde(default = "yes")]
    pub cache: bool,
    /// Another builder: a command that builds *and pushes* `{{ image }}`, e.g.
    /// ["podman", "build", "--push", "-t", "{{ image }}", "{{ context }}"]. Variables:
    /// {{ image }}, {{ context }}, {{ dockerfile }}, {{ platform }}.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// `[build.<container>]` only: the image's repository (an ECR name, or a full URI such as
    /// `ghcr.io/org/agent`). The release container's is `image.repository`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// `[build.<container>]` only: the tag; default `image.tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `[build.<container>]` only: create the ECR repository when it does not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_repository: Option<bool>,
}

/// The keys of a build table; any other key whose value is a table is `[build.<container>]`.
const BUILD_KEYS: [&str; 10] =
    ["context", "dockerfile", "target", "args", "platform", "cache", "command", "repository", "tag", "create_repository"];

/// The `[build.<container>]` tables of a deployspec value, taken out of `[build]`. The one
/// that names the release container becomes `[build]` itself (given twice — with keys of its
/// own in `[build]` too — is an error). When only sidecar tables remain, the release container
/// is not built (`[build]` with no key of its own is then no build of it).
fn split_builds(path: &Path, value: &mut serde_json::Value) -> Result<Vec<(String, serde_json::Value)>, InputError> {
    let release = value.get("task_definition").and_then(|t| t.get("container")).and_then(|c| c.as_str()).map(str::to_string);
    let Some(serde_json::Value::Object(build)) = value.get_mut("build") else { return Ok(Vec::new()) };
    let names: Vec<String> =
        build.iter().filter(|(k, v)| v.is_object() && !BUILD_KEYS.contains(&k.as_str())).map(|(k, _)| k.clone()).collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut sidecars: Vec<(String, serde_json::Value)> = names.into_iter().filter_map(|n| build.remove(&n).map(|v| (n, v))).collect();
    let own_keys = !build.is_empty();
    match sidecars.iter().position(|(n, _)| Some(n) == release.as_ref()) {
        Some(_) if own_keys => Err(InputError::new(
            path,
            "the release container's build is given twice: by keys of [build] and by its own [build.<container>] table",
            "keep one: move the keys into the container's table, or remove the table",
        )
        .at_field(format!("build.{}", release.unwrap_or_default()))),
        Some(i) => {
            let (_, own) = sidecars.remove(i);
            value["build"] = own;
            Ok(sidecars)
        }
        None => {
            if !own_keys && let Some(m) = value.as_object_mut() {
                m.remove("build");
            }
            Ok(sidecars)
        }
    }
}

/// Deserialize one value; every problem (not only the first) with its field path, prefixed by
/// `prefix`, and a fix.
fn deserialize_at<T: serde::de::DeserializeOwned>(path: &Path, prefix: &str, value: serde_json::Value) -> Result<T, InputError> {
    crate::deser::deserialize_all(value).map_err(|found| {
        let problems = found.into_iter().map(|f| {
            let fix = if f.message.starts_with("unknown field") {
                "check the spelling against the configuration reference in the README, or remove the key"
            } else if f.message.starts_with("missing field") {
                "add the required key (see the examples in deployspecs/)"
            } else {
                "give the key a value of the documented type (see the README's configuration reference)"
            };
            let err = InputError::new(path, f.message, fix);
            match (prefix.is_empty(), f.path == ".") {
                (true, true) => err,
                (true, false) => err.at_field(f.path),
                (false, true) => err.at_field(prefix),
                (false, false) => err.at_field(format!("{prefix}.{}", f.path)),
            }
        });
        InputError::all(problems.collect()).err().unwrap_or_else(|| InputError::new(path, "cannot be read", "fix the deployspec"))
    })
}

fn default_context() -> String {
    ".".into()
}
fn default_dockerfile() -> String {
    "Dockerfile".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskDefinitionSection {
    /// Path of the RegisterTaskDefinition JSON template, relative to the deployspec's folder.
    pub template: String,
    /// The container that gets the released image.
    pub container: String,
    /// After a successful release, deregister older revisions of the family, keeping the one
    /// serving and the last N deployed before it. Default: never deregister anything.
    #[serde(default)]
    pub keep_revisions: Option<u32>,
    /// The release container's image in the template is not `{{ image }}` and fgdeploy may
    /// replace it with the released image anyway. Default: such a template is an error.
    #[serde(default)]
    pub allow_pinned_image: bool,
    /// More name fragments (besides PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL, …) whose
    /// environment values are never shown.
    #[serde(default)]
    pub secret_patterns: Vec<String>,
    /// Plaintext fields (`containerDefinitions[web].environment[DB_URL]`, `tags[k]`,
    /// `service.definition.tags.k`) allowed to hold a secret or credential-shaped value: the user
    /// accepts it is stored in plaintext. Default: such a value is refused (see `taint`).
    #[serde(default)]
    pub allow_plaintext: Vec<String>,
    /// Environment variables (as the templates read them: `env.NAME`, `must_env("NAME")`) whose
    /// values are secret wherever they appear: refused in plaintext fields like a SecureString's
    /// answer, and scrubbed from every output (see `taint`).
    #[serde(default)]
    pub redact: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrationSection {
    /// Command override for the migration task, e.g. ["bin/migrate", "up"].
    pub command: Vec<String>,
    /// Container that runs the command; default: `task_definition.container`.
    #[serde(default)]
    pub container: Option<String>,
    /// How long the migration may take; then it is stopped and the release fails.
    #[serde(default = "default_migration_timeout", deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub timeout: Duration,
    /// Subnets for the task; default: the service's.
    #[serde(default)]
    pub subnets: Option<Vec<String>>,
    /// Security groups for the task; default: the service's.
    #[serde(default)]
    pub security_groups: Option<Vec<String>>,
    /// Public IP for the task; default: as the service.
    #[serde(default)]
    pub assign_public_ip: Option<bool>,
    /// Capacity providers (e.g. ["FARGATE_SPOT"]); default: launch type FARGATE.
    #[serde(default)]
    pub capacity_providers: Vec<String>,
    /// Fargate platform version; default: the service's, else LATEST.
    #[serde(default)]
    pub platform_version: Option<String>,
}

fn default_migration_timeout() -> Duration {
    Duration::from_secs(600)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    #[default]
    Rolling,
    BlueGreen,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploySection {
    #[serde(default)]
    pub strategy: Strategy,
    /// How long the rollout may take before fgdeploy calls it failed and rolls back.
    #[serde(default = "default_deploy_timeout", deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub timeout: Duration,
    #[serde(default)]
    pub rolling: RollingSection,
    #[serde(default)]
    pub blue_green: Option<BlueGreenSection>,
    /// Suspend Application Auto Scaling's dynamic scale-in while the deployment runs (resumed
    /// afterwards, also after a failure or an interrupt).
    #[serde(default)]
    pub suspend_autoscaling: bool,
    /// How the deployment is followed: `events` (ECS and CodeDeploy events through a temporary
    /// EventBridge rule and SQS queue, with a look every minute besides), `poll`, or `auto`
    /// (events when the permissions allow, else polling, said once).
    #[serde(default)]
    pub watch: WatchMode,
}

/// `deploy.watch` / `--watch`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum WatchMode {
    /// Events when they can be set up, else polling (one warning).
    #[default]
    Auto,
    /// Events (a set-up that fails still falls back to polling, with one warning).
    Events,
    /// Polling only: no rule, no queue.
    Poll,
}

impl Default for DeploySection {
    fn default() -> Self {
        DeploySection {
            strategy: Strategy::Rolling,
            timeout: default_deploy_timeout(),
            rolling: RollingSection::default(),
            blue_green: None,
            suspend_autoscaling: false,
            watch: WatchMode::Auto,
        }
    }
}

fn default_deploy_timeout() -> Duration {
    Duration::from_secs(1200)
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollingSection {
    #[serde(default = "default_min")]
    pub minimum_healthy_percent: i32,
    #[serde(default = "default_max")]
    pub maximum_percent: i32,
    /// ECS deployment circuit breaker.
    #[serde(default = "yes")]
    pub circuit_breaker: bool,
    /// Let ECS roll back by itself when the circuit breaker trips.
    #[serde(default = "yes")]
    pub circuit_breaker_rollback: bool,
    /// `resetOnHealthyTask`: false counts failures cumulatively. Default: the live setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker_reset_on_healthy_task: Option<bool>,
    /// `thresholdConfiguration`: `{ type = "COUNT" | "BOUNDED_PERCENT" | "UNBOUNDED_PERCENT",
    /// value = N }`. Default: the live setting (AWS's default BOUNDED_PERCENT 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker_threshold: Option<ThresholdSection>,
    /// CloudWatch alarm names that fail the deployment.
    #[serde(default)]
    pub alarms: Vec<String>,
    #[serde(default = "yes")]
    pub alarm_rollback: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdSection {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: i32,
}

impl Default for RollingSection {
    fn default() -> Self {
        RollingSection {
            minimum_healthy_percent: default_min(),
            maximum_percent: default_max(),
            circuit_breaker: true,
            circuit_breaker_rollback: true,
            circuit_breaker_reset_on_healthy_task: None,
            circuit_breaker_threshold: None,
            alarms: Vec::new(),
            alarm_rollback: true,
        }
    }
}

fn default_min() -> i32 {
    100
}
fn default_max() -> i32 {
    200
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlueGreenSection {
    /// CodeDeploy application; default `AppECS-<cluster>-<service>` (as `aws ecs deploy`).
    #[serde(default)]
    pub application: Option<String>,
    /// CodeDeploy deployment group; default `DgpECS-<cluster>-<service>`.
    #[serde(default)]
    pub deployment_group: Option<String>,
    /// CodeDeploy deployment config, e.g. CodeDeployDefault.ECSCanary10Percent5Minutes. When
    /// not set, CreateDeployment names none and CodeDeploy uses the deployment group's own.
    #[serde(default)]
    pub deployment_config: Option<String>,
    /// Container port behind the load balancer.
    pub container_port: i32,
    /// Base URL of the test listener; default: from the listener (DNS name + port).
    #[serde(default)]
    pub test_url: Option<String>,
    #[serde(default)]
    pub checks: Vec<CheckSection>,
    /// How long the checks may take in all before the release is rolled back.
    #[serde(default = "default_check_budget", deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub check_budget: Duration,
    /// A PEM file of extra trusted CA certificates for HTTPS checks (a test listener with a
    /// private CA), relative to the deployspec's folder.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Also run the checks against the production listener after every traffic step.
    #[serde(default)]
    pub production_checks: bool,
    /// Base URL of the production listener for those checks; default: from the listener.
    #[serde(default)]
    pub production_url: Option<String>,
    /// Lambda hooks passed through to the AppSpec, e.g. { AfterAllowTestTraffic = "arn:…" }.
    #[serde(default)]
    pub hooks: BTreeMap<String, String>,
    /// AppSpec PlatformVersion.
    #[serde(default)]
    pub platform_version: Option<String>,
    /// AppSpec NetworkConfiguration (all three or none); default: the service's.
    #[serde(default)]
    pub subnets: Option<Vec<String>>,
    #[serde(default)]
    pub security_groups: Option<Vec<String>>,
    #[serde(default)]
    pub assign_public_ip: Option<bool>,
    /// AppSpec CapacityProviderStrategy (capacity provider names, weight 1 each).
    #[serde(default)]
    pub capacity_providers: Vec<String>,
    /// ECS-native (services with the ECS controller): BLUE_GREEN, LINEAR or CANARY.
    #[serde(default = "default_ecs_strategy")]
    pub ecs_strategy: crate::states::DeploymentStrategy,
    /// ECS-native: blue and green run side by side this long after production traffic moved.
    #[serde(default = "default_bake")]
    pub bake_time_minutes: i32,
    /// ECS-native LINEAR: percent per step (3–100) and minutes between steps.
    #[serde(default)]
    pub linear_step_percent: Option<f64>,
    #[serde(default)]
    pub linear_step_bake_minutes: Option<i32>,
    /// ECS-native CANARY: canary percent and minutes before the rest.
    #[serde(default)]
    pub canary_percent: Option<f64>,
    #[serde(default)]
    pub canary_bake_minutes: Option<i32>,
    /// ECS-native advancedConfiguration (all four, or none to keep the service's).
    #[serde(default)]
    pub alternate_target_group_arn: Option<String>,
    #[serde(default)]
    pub production_listener_rule: Option<String>,
    #[serde(default)]
    pub test_listener_rule: Option<String>,
    #[serde(default)]
    pub load_balancer_role_arn: Option<String>,
    /// ECS-native with checks: fgdeploy's PAUSE hook times out after this long with ROLLBACK, so
    /// a runner that never comes back ends in a rollback, not a deployment paused for 24 hours
    /// (the dead-man's switch). Default: `check_budget` + 15 minutes; 1 minute to 24 hours.
    #[serde(default, deserialize_with = "de_opt_duration", serialize_with = "ser_opt_duration", skip_serializing_if = "Option::is_none")]
    pub gate_timeout: Option<Duration>,
}

/// An ECS-native traffic step: (percent, minutes).
pub(crate) type NativeStep = (f64, i32);

impl BlueGreenSection {
    /// The PAUSE hook's timeout, in whole minutes (`gate_timeout`, else `check_budget` + 15).
    pub(crate) fn gate_timeout_minutes(&self) -> i32 {
        let minutes = |d: Duration| i32::try_from(d.as_secs().div_ceil(60)).unwrap_or(i32::MAX);
        match self.gate_timeout {
            Some(t) => minutes(t).clamp(1, 1440),
            None => minutes(self.check_budget).saturating_add(15).clamp(15, 1440),
        }
    }

    /// ECS-native: the `linearConfiguration` and `canaryConfiguration` a release sends, for the
    /// strategy that uses each (defaults: 10 % every 6 minutes; 5 % for 10 minutes).
    pub(crate) fn native_steps(&self) -> (Option<NativeStep>, Option<NativeStep>) {
        use crate::states::DeploymentStrategy as S;
        let linear = (self.ecs_strategy == S::Linear)
            .then(|| (self.linear_step_percent.unwrap_or(10.0), self.linear_step_bake_minutes.unwrap_or(6)));
        let canary = (self.ecs_strategy == S::Canary).then(|| (self.canary_percent.unwrap_or(5.0), self.canary_bake_minutes.unwrap_or(10)));
        (linear, canary)
    }
}

fn default_ecs_strategy() -> crate::states::DeploymentStrategy {
    crate::states::DeploymentStrategy::BlueGreen
}
fn default_bake() -> i32 {
    5
}

fn default_check_budget() -> Duration {
    Duration::from_secs(300)
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckSection {
    pub path: String,
    #[serde(default = "default_status")]
    pub status: u16,
    #[serde(default)]
    pub body_contains: Option<String>,
    #[serde(default = "default_consecutive")]
    pub consecutive: u32,
    /// A response header that must be present, `name` or `name: value-substring`.
    #[serde(default)]
    pub header: Option<String>,
    /// Per-request timeout (the whole answer, body included).
    #[serde(default = "default_check_timeout", deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub timeout: Duration,
    /// Request headers, e.g. { Host = "api.example.com" } for an ALB host-based rule.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

fn default_check_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_status() -> u16 {
    200
}
fn default_consecutive() -> u32 {
    3
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnInterrupt {
    #[default]
    Rollback,
    Detach,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackSection {
    /// Roll back automatically when the release fails.
    #[serde(default = "yes")]
    pub automatic: bool,
    /// What Ctrl-C / SIGTERM does mid-release.
    #[serde(default)]
    pub on_interrupt: OnInterrupt,
    /// How long a rollback may take before fgdeploy reports "manual action needed".
    #[serde(default = "default_deploy_timeout", deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub timeout: Duration,
}

impl Default for RollbackSection {
    fn default() -> Self {
        RollbackSection { automatic: true, on_interrupt: OnInterrupt::Rollback, timeout: default_deploy_timeout() }
    }
}

/// `[lock]`: where the service's lease lives and how long it lasts.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockSection {
    /// The S3 bucket that holds the leases (it must exist; fgdeploy writes one small object per
    /// service, with conditional writes).
    pub bucket: String,
    /// The key prefix: the lease of service S in cluster C is `<prefix>/<C>/<S>.json`.
    #[serde(default = "default_lock_prefix")]
    pub prefix: String,
    /// How long a lease lives after its last renewal: a dead runner's lease can be taken over
    /// this long after it last renewed. fgdeploy renews it at each stage and while it waits.
    #[serde(default = "default_lock_ttl", deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub ttl: Duration,
    /// How long a run waits for another run's lease before it gives up with exit 12
    /// (`--lock-timeout` overrides).
    #[serde(default = "default_lock_wait", deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub wait: Duration,
    /// What a release does when it finds another commit's release unfinished (its runner
    /// died): follow that release's deployment to its end first, roll it back first, or refuse.
    #[serde(default)]
    pub on_stale: OnStale,
}

/// `lock.on_stale`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnStale {
    /// Follow the unfinished deployment to its end (ECS's own circuit breaker and alarms still
    /// judge it; fgdeploy rolls back nothing it did not start), then release.
    #[default]
    WaitForIt,
    /// Roll the unfinished deployment back first (StopServiceDeployment / CodeDeploy's stop with
    /// rollback), then release.
    RollBackFirst,
    /// Exit 5 naming it.
    Refuse,
}

fn default_lock_prefix() -> String {
    "fgdeploy/locks".into()
}

fn default_lock_ttl() -> Duration {
    Duration::from_secs(600)
}

fn default_lock_wait() -> Duration {
    Duration::from_secs(900)
}

fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de_duration(d).map(Some)
}

fn ser_opt_duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser_duration(d, s),
        None => s.serialize_none(),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Parse deployspec text. `image_tag` (`--image-tag`) replaces `image.tag` before variables
/// are expanded, so the default `{{ git.sha }}` is never evaluated when a tag is given.
pub(super) fn parse(path: &Path, text: &str, vars: &Vars, image_tag: Option<&str>) -> Result<SpecFile, InputError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let (l, c) = e.span().map_or((0, 0), |s| line_col(text, s.start));
        let msg = e.message().to_string();
        let err = InputError::new(path, format!("not valid TOML: {msg}"), "fix the TOML syntax at that line and column");
        if l > 0 { err.at_line_col(l, c) } else { err }
    })?;
    let mut value = serde_json::to_value(&table)
        .map_err(|e| InputError::new(path, format!("cannot read the deployspec: {e}"), "use plain TOML values"))?;
    set_image_tag(&mut value, image_tag);
    if let Some(deploy) = value.get("deploy")
        && deploy.get("rolling").is_some()
        && deploy.get("blue_green").is_some()
    {
        return Err(InputError::new(
            path,
            "[deploy.rolling] and [deploy.blue_green] are both present: only the one `deploy.strategy` names would apply, the other would be ignored silently",
            "keep the section of the strategy you use and remove the other",
        )
        .at_field("deploy"));
    }
    // A build command is rendered when it runs (it uses `image`, `context`, … of that build).
    let commands = take_build_commands(&mut value);
    // An analysis query is rendered per side when a step is judged (`{{ target_group }}`, …).
    let queries = take_analysis_queries(&mut value);
    let mut p = Vec::new();
    vars.expand_json(&mut value, &mut p).map_err(|(field, e)| InputError::new(path, e.message, e.fix).at_field(field))?;
    if let Some(serde_json::Value::Object(b)) = value.get_mut("build") {
        for (container, c) in commands {
            match container {
                None => b.insert("command".into(), c),
                Some(name) => b.get_mut(&name).and_then(|t| t.as_object_mut()).and_then(|t| t.insert("command".into(), c)),
            };
        }
    }
    put_analysis_queries(&mut value, queries);
    let sidecars = split_builds(path, &mut value)?;
    // Every problem of the file and of each `[build.<container>]` at once.
    let mut problems = Vec::new();
    let file: Option<SpecFile> = deserialize_at(path, "", value).map_err(|e| problems.extend(e.flatten())).ok();
    let mut builds = BTreeMap::new();
    for (name, v) in sidecars {
        match deserialize_at::<BuildSection>(path, &format!("build.{name}"), v) {
            Ok(b) => {
                builds.insert(name, b);
            }
            Err(e) => problems.extend(e.flatten()),
        }
    }
    InputError::all(problems)?;
    let mut file = file.ok_or_else(|| InputError::new(path, "cannot be read", "fix the deployspec"))?;
    file.sidecar_builds = builds;
    Ok(file)
}

/// The default tag is a variable too: put it in before expanding (or the given tag instead).
fn set_image_tag(value: &mut serde_json::Value, image_tag: Option<&str>) {
    let Some(serde_json::Value::Object(image)) = value.get_mut("image") else { return };
    match image_tag {
        Some(tag) => {
            image.insert("tag".into(), tag.into());
        }
        None if !image.contains_key("tag") => {
            image.insert("tag".into(), default_tag().into());
        }
        None => {}
    }
}

/// The `command` of `[build]` (key `None`) and of each `[build.<container>]`, taken out: they
/// are rendered when they run.
fn take_build_commands(value: &mut serde_json::Value) -> Vec<(Option<String>, serde_json::Value)> {
    let Some(serde_json::Value::Object(b)) = value.get_mut("build") else { return Vec::new() };
    let mut out: Vec<(Option<String>, serde_json::Value)> = b.remove("command").map(|c| (None, c)).into_iter().collect();
    for (name, table) in b.iter_mut() {
        if let (false, Some(t)) = (BUILD_KEYS.contains(&name.as_str()), table.as_object_mut())
            && let Some(c) = t.remove("command")
        {
            out.push((Some(name.clone()), c));
        }
    }
    out
}

/// The `query` of each `[[analysis.metrics]]`, taken out before the render: it is rendered for
/// each side when a step is judged (its `{{ target_group }}`, `{{ revision }}`, …).
fn take_analysis_queries(value: &mut serde_json::Value) -> Vec<(usize, serde_json::Value)> {
    let Some(serde_json::Value::Array(metrics)) = value.get_mut("analysis").and_then(|a| a.get_mut("metrics")) else { return Vec::new() };
    metrics.iter_mut().enumerate().filter_map(|(i, m)| Some((i, m.as_object_mut()?.remove("query")?))).collect()
}

fn put_analysis_queries(value: &mut serde_json::Value, queries: Vec<(usize, serde_json::Value)>) {
    let Some(serde_json::Value::Array(metrics)) = value.get_mut("analysis").and_then(|a| a.get_mut("metrics")) else { return };
    for (i, q) in queries {
        if let Some(m) = metrics.get_mut(i).and_then(|m| m.as_object_mut()) {
            m.insert("query".into(), q);
        }
    }
}
