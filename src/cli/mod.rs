//! The command line's definitions (clap): commands, flags and their parsers, nothing else.
//! What each command does is in `commands/`.

use crate::render;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

pub use crate::engine::ReleaseOptions;
pub(crate) use crate::plan::PlanOptions;
pub(crate) use crate::sandbox::Scenario;

#[derive(Debug, Parser)]
#[command(
    name = "fgdeploy",
    version,
    about = "Release containerised services to Amazon ECS on Fargate: plan, migrate, register, deploy, verify, roll back."
)]
pub struct Cli {
    /// Output: human (TTY progress, or plain lines in CI) or json (newline-delimited events).
    #[arg(long, global = true, value_enum, default_value_t = Output::Human, env = "FGDEPLOY_OUTPUT")]
    pub(crate) output: Output,
    /// Only warnings, errors and the result.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// More detail (AWS SDK debug logs on stderr).
    #[arg(short, long, global = true)]
    pub(crate) verbose: bool,
    /// Colours: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never.
    #[arg(long, global = true, value_enum, default_value_t = render::ColorChoice::Auto, env = "FGDEPLOY_COLOR")]
    pub(crate) color: render::ColorChoice,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show what a release would do, without one mutating AWS call. Exit 0: no changes, 2: changes.
    Plan(PlanArgs),
    /// Release: build/push → migrate → register → deploy → verify; roll back on failure.
    Release(ReleaseArgs),
    /// Create a service that does not exist from the deployspec's [service.definition], then
    /// release to it and watch its first deployment to COMPLETED (refused if it exists).
    Create(ReleaseArgs),
    /// Roll back: stop the deployment in flight, or redeploy the revision that served before.
    Rollback(RollbackArgs),
    /// Show the service, its deployments, tasks, serving revision and last events.
    Status(StatusArgs),
    /// What was deployed when: the service's deployments, newest first, with revision, image,
    /// outcome and duration.
    History(HistoryArgs),
    /// Re-attach to the deployment in flight (after `release --no-wait` or a detach) and follow
    /// it like `release`: same watch, verdict, rollback and exit codes.
    Wait(WaitArgs),
    /// Set the desired count (no new deployment) and wait until the service runs that many tasks.
    Scale(ScaleArgs),
    /// ECS Exec into a running task of the service (`exec -f spec -- /bin/sh`), through the
    /// Session Manager plugin; exits with the session's exit code.
    Exec(ExecArgs),
    /// Check against the account, read-only, what a release needs to exist: image, secrets,
    /// log groups, roles, subnets, security groups, target groups. Exit 0, or 3 with every problem.
    Verify(VerifyArgs),
    /// Run a one-off task of the live revision (`run -f spec -- bin/rake db:seed`); exits with the
    /// container's exit code (6 if it never ran).
    Run(RunArgs),
    /// Write a deployspec and task-definition template from a live service.
    Init(InitArgs),
    /// Tag an image already in ECR with another tag, without rebuilding (exact manifest bytes).
    Promote(PromoteArgs),
    /// Check a deployspec and its task-definition template offline (no AWS call).
    Validate(SpecArgs),
    /// The service's lease ([lock]): who holds it and what its run did (`status`), or release
    /// it now when its runner is dead (`break`, asks for confirmation).
    Lock {
        #[command(subcommand)]
        action: LockAction,
    },
    /// Delete the event watch's leftovers (#28): the EventBridge rules and SQS queues named
    /// fgdeploy-watch-* whose `fgdeploy:expires` tag has passed (a killed run's). Another run's
    /// live ones are kept unless `--all`.
    Cleanup {
        #[command(flatten)]
        spec: SpecArgs,
        /// Also delete the ones that have not expired (other runs' live watches: they fall back
        /// to polling).
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Print a shell completion script: `fgdeploy completions bash > /etc/bash_completion.d/fgdeploy`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `fgdeploy man > /usr/local/share/man/man1/fgdeploy.1`.
    Man,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The ECS cluster.
    #[arg(long)]
    pub(crate) cluster: String,
    /// The ECS service.
    #[arg(long)]
    pub(crate) service: String,
    /// Where to write `<service>.toml` and `<service>.taskdef.json`.
    #[arg(long, default_value = "deployspecs")]
    pub(crate) dir: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    pub(crate) force: bool,
    /// The container that gets the released image (default: the one whose image is in ECR).
    #[arg(long)]
    pub(crate) container: Option<String>,
    /// CodeDeploy application (CODE_DEPLOY services; default AppECS-<cluster>-<service>).
    #[arg(long)]
    pub(crate) application: Option<String>,
    /// CodeDeploy deployment group (default DgpECS-<cluster>-<service>).
    #[arg(long)]
    pub(crate) deployment_group: Option<String>,
    /// AWS region (default: the AWS config).
    #[arg(long)]
    pub(crate) region: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PromoteArgs {
    /// The deployspec naming the ECR repository (default: found upward, see `discover`).
    #[arg(short = 'f', long = "file", env = "FGDEPLOY_FILE")]
    pub(crate) file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// The tag that exists, e.g. the commit built in staging.
    #[arg(long)]
    pub(crate) from_tag: String,
    /// The new tag, e.g. prod-2026-11-23.
    #[arg(long)]
    pub(crate) to_tag: String,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// The container whose command is overridden; default: task_definition.container.
    #[arg(long)]
    pub(crate) container: Option<String>,
    /// Stop the task after this long.
    #[arg(long, value_parser = parse_timeout, default_value = "30m")]
    pub(crate) timeout: Duration,
    /// The command, after `--`.
    #[arg(last = true, required = true)]
    pub(crate) command: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SpecArgs {
    /// The deployspec (TOML), e.g. deployspecs/web.toml. Default: `fgdeploy.toml` or the one
    /// `deployspecs/*.toml`, found upward from the working directory to the repository root.
    #[arg(short = 'f', long = "file", env = "FGDEPLOY_FILE")]
    pub(crate) file: Option<PathBuf>,
    /// Use this image tag instead of the deployspec's `image.tag`.
    #[arg(long, env = "FGDEPLOY_IMAGE_TAG")]
    pub(crate) image_tag: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TargetArgs {
    /// Rehearse against the built-in simulator instead of AWS (no account needed).
    #[arg(long, env = "FGDEPLOY_SANDBOX")]
    pub(crate) sandbox: bool,
    /// With --sandbox: the fault to rehearse.
    #[arg(long, value_enum, default_value_t = Scenario::Happy, requires = "sandbox")]
    pub(crate) scenario: Scenario,
    /// With --sandbox: keep the simulated account in FILE between runs (created on first use,
    /// with --scenario; later runs continue it), so release → status → rollback rehearse one
    /// account, and a killed run leaves its account behind.
    #[arg(long, value_name = "FILE", requires = "sandbox")]
    pub(crate) sandbox_state: Option<PathBuf>,
    /// With --sandbox: run the virtual clock at MS real milliseconds per virtual second (0: as
    /// fast as possible), so a kill can land in a chosen phase.
    #[arg(long, value_name = "MS", default_value_t = 0, requires = "sandbox")]
    pub(crate) sandbox_pace: u64,
}

#[derive(Debug, Args)]
pub(crate) struct PlanFlags {
    /// Do not build or push; the image tag must exist.
    #[arg(long)]
    pub(crate) skip_build: bool,
    /// Do not run the migration.
    #[arg(long)]
    pub(crate) skip_migration: bool,
    /// Allow rollout settings that can stop every task of a load-balanced service.
    #[arg(long)]
    pub(crate) allow_downtime: bool,
    /// Build and push even when the tag exists in ECR.
    #[arg(long, conflicts_with = "skip_build")]
    pub(crate) force_build: bool,
    /// Release from a checkout with uncommitted changes (tag `<sha>-dirty`).
    #[arg(long)]
    pub(crate) allow_dirty: bool,
}

impl ReleaseArgs {
    pub(crate) fn options(&self) -> ReleaseOptions {
        ReleaseOptions {
            plan: self.flags.options(),
            force: self.force,
            dry_run: self.dry_run,
            no_wait: self.no_wait,
            timeout: self.timeout,
            no_test_gate: self.no_test_gate,
            wait_termination: self.wait_termination,
            skip_verify: self.skip_verify,
            create: if self.create { crate::engine::CreateMode::IfMissing } else { crate::engine::CreateMode::Refuse },
            lock: self.lock.options(),
            watch: self.watch,
            resume: Default::default(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum LockAction {
    /// Show the lease: free, held (by whom, at which phase, until when), expired or released,
    /// with the journal of what its run created.
    Status {
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Release the lease now, whoever holds it (its journal is kept). Only when its run is dead:
    /// a live run that loses its lease stops changing the service (exit 12).
    Break {
        #[command(flatten)]
        spec: SpecArgs,
        /// Do not ask for confirmation (CI).
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        target: TargetArgs,
    },
}

/// The service's lease (`[lock]`), for the commands that change the service.
#[derive(Debug, Args)]
pub(crate) struct LockArgs {
    /// Do not take the service's lease ([lock]): this run is not serialised with other runs.
    #[arg(long)]
    pub(crate) no_lock: bool,
    /// How long to wait for another run's lease before giving up with exit 12 (overrides
    /// lock.wait).
    #[arg(long, value_parser = parse_timeout, conflicts_with = "no_lock")]
    pub(crate) lock_timeout: Option<Duration>,
}

impl LockArgs {
    pub(crate) fn options(&self) -> crate::engine::LockOptions {
        crate::engine::LockOptions { skip: self.no_lock, timeout: self.lock_timeout }
    }
}

impl PlanFlags {
    pub(crate) fn options(&self) -> PlanOptions {
        PlanOptions {
            skip_build: self.skip_build,
            skip_migration: self.skip_migration,
            allow_downtime: self.allow_downtime,
            force_build: self.force_build,
            allow_dirty: self.allow_dirty,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// Deployspecs: a file, or a folder of them; repeat -f to plan several services (a fleet).
    #[arg(short = 'f', long = "file", env = "FGDEPLOY_FILE", value_delimiter = ',')]
    pub(crate) files: Vec<PathBuf>,
    /// Use this image tag instead of the deployspecs' `image.tag`.
    #[arg(long, env = "FGDEPLOY_IMAGE_TAG")]
    pub(crate) image_tag: Option<String>,
    #[command(flatten)]
    pub(crate) flags: PlanFlags,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ReleaseArgs {
    /// Deployspecs: a file, or a folder of them; repeat -f to release several services (a fleet).
    #[arg(short = 'f', long = "file", env = "FGDEPLOY_FILE", value_delimiter = ',')]
    pub(crate) files: Vec<PathBuf>,
    /// Use this image tag instead of the deployspecs' `image.tag`.
    #[arg(long, env = "FGDEPLOY_IMAGE_TAG")]
    pub(crate) image_tag: Option<String>,
    /// Fleet: how many deployments run at once (1 or more).
    #[arg(long, default_value_t = 4, value_parser = parse_parallel)]
    pub(crate) parallel: usize,
    /// Fleet: what a failure does to the other services.
    #[arg(long, value_enum, default_value_t = crate::engine::FleetPolicy::Independent)]
    pub(crate) policy: crate::engine::FleetPolicy,
    #[command(flatten)]
    pub(crate) flags: PlanFlags,
    #[command(flatten)]
    pub(crate) lock: LockArgs,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// Print the plan and stop (same as `plan`).
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Start even when another deployment is in progress.
    #[arg(long)]
    pub(crate) force: bool,
    /// Start the deployment and exit without watching it.
    #[arg(long)]
    pub(crate) no_wait: bool,
    /// Override deploy.timeout, e.g. 15m.
    #[arg(long, value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,
    /// How to follow the deployment (overrides deploy.watch): by ECS and CodeDeploy events
    /// through a temporary EventBridge rule and SQS queue, by polling, or events when the
    /// permissions allow (auto).
    #[arg(long, value_enum)]
    pub(crate) watch: Option<crate::spec::WatchMode>,
    /// Also write the final JSON summary (outcome, exit code, stages, AWS calls) to this file.
    #[arg(long)]
    pub(crate) summary_file: Option<PathBuf>,
    /// When the release fails, also write its failure report (verdict, fix, evidence) as JSON
    /// to this file (`docs/schema/report.schema.json`).
    #[arg(long)]
    pub(crate) report: Option<PathBuf>,
    /// Blue/green: release even though the CodeDeploy group does not wait (CONTINUE_DEPLOYMENT),
    /// so the checks cannot gate production traffic.
    #[arg(long)]
    pub(crate) no_test_gate: bool,
    /// Blue/green: wait through the blue termination wait instead of finishing once all traffic
    /// is on green.
    #[arg(long)]
    pub(crate) wait_termination: bool,
    /// Do not check the account first (secrets, roles, log groups, network, target groups).
    #[arg(long)]
    pub(crate) skip_verify: bool,
    /// Create the service from [service.definition] if it does not exist (never implicit).
    #[arg(long)]
    pub(crate) create: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
    #[command(flatten)]
    pub(crate) lock: LockArgs,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// The revision to restore: a number (same family), family:revision, or an ARN.
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// Allow `--to` to name a revision of another task-definition family than the one serving.
    #[arg(long)]
    pub(crate) allow_family_change: bool,
    /// Show what would be done.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Start the rollback and exit without watching it.
    #[arg(long)]
    pub(crate) no_wait: bool,
    /// Override rollback.timeout.
    #[arg(long, value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Deployspecs: a file, or a folder of them; repeat -f to see several services.
    #[arg(short = 'f', long = "file", env = "FGDEPLOY_FILE", value_delimiter = ',')]
    pub(crate) files: Vec<PathBuf>,
    /// Use this image tag instead of the deployspecs' `image.tag`.
    #[arg(long, env = "FGDEPLOY_IMAGE_TAG")]
    pub(crate) image_tag: Option<String>,
    /// Why the latest deployment failed: the report a failed release prints (verdict and fix,
    /// stopped tasks, exit codes, last log lines, service events), read now.
    #[arg(long)]
    pub(crate) why: bool,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
    #[command(flatten)]
    pub(crate) flags: PlanFlags,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
    /// The task (id or ARN); default: the service's first RUNNING task.
    #[arg(long)]
    pub(crate) task: Option<String>,
    /// The container; default: the deployspec's `task_definition.container`.
    #[arg(long)]
    pub(crate) container: Option<String>,
    /// Send the command as it is, not wrapped in `/bin/sh -c '…; echo fgdeploy-exit-status:$?'`
    /// (for images without /bin/sh); fgdeploy then exits with the plugin's code, which the
    /// Session Manager plugin does not take from the remote command.
    #[arg(long)]
    pub(crate) raw: bool,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// The command (default: an interactive /bin/sh). Its exit status is fgdeploy's.
    #[arg(last = true)]
    pub(crate) command: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ScaleArgs {
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
    /// The desired count (0 to 5000).
    #[arg(long, value_parser = clap::value_parser!(i32).range(0..=5000))]
    pub(crate) count: i32,
    /// Set it even outside the Application Auto Scaling target's min/max.
    #[arg(long)]
    pub(crate) force: bool,
    /// Return after UpdateService, without waiting for the tasks.
    #[arg(long)]
    pub(crate) no_wait: bool,
    /// How long to wait for the tasks (default: deploy.timeout).
    #[arg(long, value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,
    #[command(flatten)]
    pub(crate) lock: LockArgs,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
}

#[derive(Debug, Args)]
pub(crate) struct WaitArgs {
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
    /// The deployment to follow (`ecs-svc/…`, a service-deployment ARN, or a CodeDeploy `d-…`);
    /// default: the service's in-flight one.
    #[arg(long)]
    pub(crate) deployment: Option<String>,
    /// How long to wait from now (default: deploy.timeout); then fgdeploy detaches (exit 9), or
    /// with --rollback applies the deployspec's rollback policy.
    #[arg(long, value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,
    /// Apply the deployspec's rollback policy to the deployment followed (on failure, at the
    /// deadline, on Ctrl-C). Without it `wait` only reports and detaches: the deployment may be
    /// someone else's.
    #[arg(long)]
    pub(crate) rollback: bool,
    /// Write the final JSON summary here (as `release --summary-file`).
    #[arg(long)]
    pub(crate) summary_file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
}

#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    #[command(flatten)]
    pub(crate) spec: SpecArgs,
    /// How many deployments to show, newest first.
    #[arg(long, default_value_t = 10, value_parser = parse_limit)]
    pub(crate) limit: usize,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
}

fn parse_limit(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=100).contains(&n) => Ok(n),
        Ok(_) => Err("show 1 to 100 deployments".into()),
        Err(e) => Err(format!("{e}; use a whole number from 1 to 100")),
    }
}

/// A timeout flag: a duration of more than 0 (a zero timeout would fail every wait at once).
fn parse_timeout(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if d.is_zero() => Err("a timeout must be more than 0; write e.g. 90s, 10m, 1h".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{e}; write e.g. 90s, 10m, 1h")),
    }
}

fn parse_parallel(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("0 would run nothing; use 1 or more".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e}; use a whole number, 1 or more")),
    }
}
