//! What each command asks of the engine (its options) and what it reports: the leaf every
//! command and every deployer shares.

use crate::error::exit;
use crate::plan::{Plan, PlanOptions};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct ReleaseOptions {
    pub plan: PlanOptions,
    /// Start even when another deployment is in progress.
    pub force: bool,
    /// Stop after the plan (`plan`, `release --dry-run`).
    pub dry_run: bool,
    /// Start the deployment and return without watching it.
    pub no_wait: bool,
    /// Overrides `deploy.timeout`.
    pub timeout: Option<Duration>,
    /// Blue/green: release although the group cannot be gated by the checks.
    pub no_test_gate: bool,
    /// Blue/green: wait for the blue termination wait too.
    pub wait_termination: bool,
    /// Do not run `verify` first.
    pub skip_verify: bool,
    /// Whether the service may (or must) be created from `[service.definition]`.
    pub create: CreateMode,
    /// The service's lease (`--no-lock`, `--lock-timeout`).
    pub lock: LockOptions,
    /// Overrides `deploy.watch` (`--watch`).
    pub watch: Option<crate::spec::WatchMode>,
    /// What this run resumes of a dead run's release (set by the engine from the lease it took
    /// over, never by a flag).
    #[doc(hidden)]
    pub resume: super::lease::record::Resume,
}

/// Creating a missing service is never implicit: a typo in `service.name` must not create one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CreateMode {
    /// A missing service is an error (`release`).
    #[default]
    Refuse,
    /// Create it when it is missing (`release --create`).
    IfMissing,
    /// The service must not exist yet (`create`).
    Required,
}

/// What a release did, when it did not fail.
#[derive(Debug, Clone)]
pub struct ReleaseReport {
    pub plan: Plan,
    /// `planned`, `unchanged`, `deployed`, `started` (with --no-wait).
    pub outcome: &'static str,
    pub(crate) task_definition: Option<String>,
}

impl ReleaseReport {
    pub fn exit_code(&self, dry_run: bool) -> i32 {
        if dry_run && self.plan.has_changes { exit::CHANGES } else { exit::OK }
    }
}

/// `fgdeploy wait`'s flags.
#[derive(Debug, Clone, Default)]
pub struct WaitOptions {
    /// The deployment to follow; default: the service's in-flight one.
    pub deployment: Option<String>,
    /// `--timeout` (else `deploy.timeout`), from the attach.
    pub timeout: Option<Duration>,
    /// `--rollback`: apply the deployspec's rollback policy (on failure, at the deadline, on
    /// Ctrl-C). Without it `wait` only reports: the deployment it attached to may be another
    /// pipeline's or a colleague's, so at its deadline or on Ctrl-C it detaches (exit 9) and a
    /// failure is reported, never rolled back by fgdeploy (ECS's or CodeDeploy's own rollback
    /// is still followed).
    pub rollback: bool,
    /// The green target group the release recorded in its lease's journal (a resumed release):
    /// the canary judge's sides when the listener rule is mid-shift and cannot say them.
    pub canary_green: Option<String>,
}

/// The deployment `wait` followed, and how it ended (when it did not fail).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct WaitReport {
    /// `rolling`, `codedeploy` or `ecs-native`.
    pub kind: &'static str,
    pub(crate) deployment: String,
    pub task_definition: String,
    /// `deployed`, or `already-finished` when it had succeeded before fgdeploy attached.
    pub outcome: &'static str,
}

/// `fgdeploy rollback`'s flags.
#[derive(Debug, Clone, Default)]
pub struct RollbackOptions {
    /// `--to`: a revision number, `family:revision` or a task-definition ARN.
    pub to: Option<String>,
    pub dry_run: bool,
    pub no_wait: bool,
    /// `--timeout` (else `rollback.timeout`).
    pub timeout: Option<Duration>,
    /// `--allow-family-change`: `--to` may name another family.
    pub allow_family_change: bool,
    /// The service's lease (`--no-lock`, `--lock-timeout`).
    pub lock: LockOptions,
}

/// What `fgdeploy rollback` will do / did.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct RollbackPlan {
    pub current: String,
    pub target: String,
    /// `stop-in-flight` or `redeploy-previous`
    pub action: String,
    pub source: String,
}

/// What a command does with the lease (`--no-lock`, `--lock-timeout`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockOptions {
    /// `--no-lock`: do not take the lease (the run is not serialised with others).
    pub skip: bool,
    /// `--lock-timeout`: overrides `lock.wait`.
    pub timeout: Option<Duration>,
}
