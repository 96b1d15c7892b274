//! The command line: parsing, choosing the adapter and renderer, and rendering the one error.

use crate::engine::{Engine, Interrupt, ReleaseOptions};
use crate::error::{Error, exit};
use crate::plan::PlanOptions;
use crate::ports::Ports;
use crate::render::{self, Renderer, Style, Verbosity};
use crate::sandbox::{self, Scenario};
use crate::spec::Spec;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "fgdeploy",
    version,
    about = "Release containerised services to Amazon ECS on Fargate: plan, migrate, register, deploy, verify, roll back."
)]
pub struct Cli {
    /// Output: human (TTY progress, or plain lines in CI) or json (newline-delimited events).
    #[arg(long, global = true, value_enum, default_value_t = Output::Human, env = "FGDEPLOY_OUTPUT")]
    pub output: Output,
    /// Only warnings, errors and the result.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail (AWS SDK debug logs on stderr).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Colours: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never.
    #[arg(long, global = true, value_enum, default_value_t = render::ColorChoice::Auto, env = "FGDEPLOY_COLOR")]
    pub color: render::ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what a release would do, without one mutating AWS call. Exit 0: no changes, 2: changes.
    Plan(PlanArgs),
    /// Release: build/push → migrate → register → deploy → verify; roll back on failure.
    Release(ReleaseArgs),
    /// Roll back: stop the deployment in flight, or redeploy the revision that served before.
    Rollback(RollbackArgs),
    /// Show the service, its deployments, tasks, serving revision and last events.
    Status(StatusArgs),
    /// Run a one-off task of the live revision (`run -f spec -- bin/rake db:seed`); exits with the
    /// container's exit code (6 if it never ran).
    Run(RunArgs),
    /// Write a deployspec and task-definition template from a live service.
    Init(InitArgs),
    /// Tag an image already in ECR with another tag, without rebuilding (exact manifest bytes).
    Promote(PromoteArgs),
    /// Check a deployspec and its task-definition template offline (no AWS call).
    Validate(SpecArgs),
    /// Print a shell completion script: `fgdeploy completions bash > /etc/bash_completion.d/fgdeploy`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `fgdeploy man > /usr/local/share/man/man1/fgdeploy.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The ECS cluster.
    #[arg(long)]
    pub cluster: String,
    /// The ECS service.
    #[arg(long)]
    pub service: String,
    /// Where to write `<service>.toml` and `<service>.taskdef.json`.
    #[arg(long, default_value = "deployspecs")]
    pub dir: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
    /// The container that gets the released image (default: the one whose image is in ECR).
    #[arg(long)]
    pub container: Option<String>,
    /// CodeDeploy application (CODE_DEPLOY services; default AppECS-<cluster>-<service>).
    #[arg(long)]
    pub application: Option<String>,
    /// CodeDeploy deployment group (default DgpECS-<cluster>-<service>).
    #[arg(long)]
    pub deployment_group: Option<String>,
    /// AWS region (default: the AWS config).
    #[arg(long)]
    pub region: Option<String>,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The deployspec naming the ECR repository.
    #[arg(short = 'f', long = "file", env = "FGDEPLOY_FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,
    /// The tag that exists, e.g. the commit built in staging.
    #[arg(long)]
    pub from_tag: String,
    /// The new tag, e.g. prod-2026-11-23.
    #[arg(long)]
    pub to_tag: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// The container whose command is overridden; default: task_definition.container.
    #[arg(long)]
    pub container: Option<String>,
    /// Stop the task after this long.
    #[arg(long, value_parser = parse_timeout, default_value = "30m")]
    pub timeout: Duration,
    /// The command, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// The deployspec (TOML), e.g. deployspecs/web.toml.
    #[arg(short = 'f', long = "file", env = "FGDEPLOY_FILE")]
    pub file: PathBuf,
    /// Use this image tag instead of the deployspec's `image.tag`.
    #[arg(long, env = "FGDEPLOY_IMAGE_TAG")]
    pub image_tag: Option<String>,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Rehearse against the built-in simulator instead of AWS (no account needed).
    #[arg(long, env = "FGDEPLOY_SANDBOX")]
    pub sandbox: bool,
    /// With --sandbox: the fault to rehearse.
    #[arg(long, value_enum, default_value_t = Scenario::Happy, requires = "sandbox")]
    pub scenario: Scenario,
}

#[derive(Debug, Args)]
pub struct PlanFlags {
    /// Do not build or push; the image tag must exist.
    #[arg(long)]
    pub skip_build: bool,
    /// Do not run the migration.
    #[arg(long)]
    pub skip_migration: bool,
    /// Allow rollout settings that can stop every task of a load-balanced service.
    #[arg(long)]
    pub allow_downtime: bool,
    /// Build and push even when the tag exists in ECR.
    #[arg(long, conflicts_with = "skip_build")]
    pub force_build: bool,
    /// Release from a checkout with uncommitted changes (tag `<sha>-dirty`).
    #[arg(long)]
    pub allow_dirty: bool,
}

impl ReleaseArgs {
    fn options(&self) -> ReleaseOptions {
        ReleaseOptions {
            plan: self.flags.options(),
            force: self.force,
            dry_run: self.dry_run,
            no_wait: self.no_wait,
            timeout: self.timeout,
            no_test_gate: self.no_test_gate,
            wait_termination: self.wait_termination,
        }
    }
}

impl PlanFlags {
    fn options(&self) -> PlanOptions {
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
pub struct PlanArgs {
    /// Deployspecs: a file, or a folder of them; repeat -f to plan several services (a fleet).
    #[arg(short = 'f', long = "file", env = "FGDEPLOY_FILE", value_delimiter = ',', required = true)]
    pub files: Vec<PathBuf>,
    /// Use this image tag instead of the deployspecs' `image.tag`.
    #[arg(long, env = "FGDEPLOY_IMAGE_TAG")]
    pub image_tag: Option<String>,
    #[command(flatten)]
    pub flags: PlanFlags,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// Deployspecs: a file, or a folder of them; repeat -f to release several services (a fleet).
    #[arg(short = 'f', long = "file", env = "FGDEPLOY_FILE", value_delimiter = ',', required = true)]
    pub files: Vec<PathBuf>,
    /// Use this image tag instead of the deployspecs' `image.tag`.
    #[arg(long, env = "FGDEPLOY_IMAGE_TAG")]
    pub image_tag: Option<String>,
    /// Fleet: how many deployments run at once (1 or more).
    #[arg(long, default_value_t = 4, value_parser = parse_parallel)]
    pub parallel: usize,
    /// Fleet: what a failure does to the other services.
    #[arg(long, value_enum, default_value_t = crate::engine::FleetPolicy::Independent)]
    pub policy: crate::engine::FleetPolicy,
    #[command(flatten)]
    pub flags: PlanFlags,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print the plan and stop (same as `plan`).
    #[arg(long)]
    pub dry_run: bool,
    /// Start even when another deployment is in progress.
    #[arg(long)]
    pub force: bool,
    /// Start the deployment and exit without watching it.
    #[arg(long)]
    pub no_wait: bool,
    /// Override deploy.timeout, e.g. 15m.
    #[arg(long, value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Also write the final JSON summary (outcome, exit code, stages, AWS calls) to this file.
    #[arg(long)]
    pub summary_file: Option<PathBuf>,
    /// Blue/green: release even though the CodeDeploy group does not wait (CONTINUE_DEPLOYMENT),
    /// so the checks cannot gate production traffic.
    #[arg(long)]
    pub no_test_gate: bool,
    /// Blue/green: wait through the blue termination wait instead of finishing once all traffic
    /// is on green.
    #[arg(long)]
    pub wait_termination: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// The revision to restore: a number (same family), family:revision, or an ARN.
    #[arg(long)]
    pub to: Option<String>,
    /// Allow `--to` to name a revision of another task-definition family than the one serving.
    #[arg(long)]
    pub allow_family_change: bool,
    /// Show what would be done.
    #[arg(long)]
    pub dry_run: bool,
    /// Start the rollback and exit without watching it.
    #[arg(long)]
    pub no_wait: bool,
    /// Override rollback.timeout.
    #[arg(long, value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Deployspecs: a file, or a folder of them; repeat -f to see several services.
    #[arg(short = 'f', long = "file", env = "FGDEPLOY_FILE", value_delimiter = ',', required = true)]
    pub files: Vec<PathBuf>,
    /// Use this image tag instead of the deployspecs' `image.tag`.
    #[arg(long, env = "FGDEPLOY_IMAGE_TAG")]
    pub image_tag: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
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

/// `--summary-file` must be writable before the release starts (not found out at its end).
fn check_writable(path: Option<&std::path::Path>) -> Result<(), Error> {
    let Some(path) = path else { return Ok(()) };
    let existed = path.exists();
    let opened = std::fs::OpenOptions::new().append(true).create(true).open(path);
    if !existed && opened.is_ok() {
        let _ = std::fs::remove_file(path);
    }
    opened.map(|_| ()).map_err(|e| {
        Error::usage(
            format!("--summary-file {}: cannot write there: {e}", path.display()),
            "give a path in a writable folder (the folder must exist)",
        )
    })
}

/// Parse arguments, run, render the error once; returns the process exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => exit::OK,
                _ => exit::INPUT,
            };
            let _ = e.print();
            return code;
        }
    };
    if cli.verbose {
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter("info,fgdeploy=debug,aws_smithy_runtime=debug")
            .try_init();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INTERNAL;
        }
    };
    let json = cli.output == Output::Json;
    match runtime.block_on(dispatch(&cli)) {
        Ok(code) => code,
        Err(e) => {
            if json && !render::finished_written() {
                println!(
                    "{}",
                    render::json_line(
                        serde_json::json!({"event": "error", "outcome": e.kind(), "exit_code": e.exit_code(), "message": e.to_string()})
                    )
                );
            }
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

struct Ctx {
    renderer: Arc<Renderer>,
    style: Style,
}

fn ctx(cli: &Cli) -> Ctx {
    let tty = std::io::stdout().is_terminal();
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let style = render::choose_style(cli.output == Output::Json, github, tty);
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let color = cli.color.resolve(tty);
    Ctx { renderer: Arc::new(Renderer::new(style, verbosity, color, Box::new(std::io::stdout()))), style }
}

fn load(args: &SpecArgs) -> Result<Spec, Error> {
    Ok(Spec::load(&args.file, args.image_tag.as_deref())?)
}

async fn ports_for(spec: &Spec, target: &TargetArgs, renderer: &Renderer, style: Style) -> Result<Ports, Error> {
    if target.sandbox {
        if style != Style::Json {
            use crate::engine::EventSink;
            renderer.emit(
                crate::sim::EPOCH,
                spec.service(),
                &crate::engine::Event::Info {
                    message: format!(
                        "SANDBOX: rehearsal against the built-in simulator (scenario {:?}); no AWS call is made, times are virtual",
                        target.scenario
                    ),
                },
            );
        }
        Ok(sandbox::world_for(spec, target.scenario)?.ports())
    } else {
        crate::aws::connect(spec.file.service.region.as_deref()).await
    }
}

/// Ctrl-C / SIGTERM: the first one interrupts the engine (rollback or detach, as configured),
/// the second exits at once with 130.
fn install_signals(interrupt: Interrupt) {
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            #[cfg(unix)]
            {
                let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            #[cfg(not(unix))]
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            count += 1;
            if count == 1 {
                eprintln!("interrupt received: stopping the release (again to exit at once)");
                interrupt.trigger();
            } else {
                eprintln!("second interrupt: exiting now; the service may be mid-deployment (see `fgdeploy status`)");
                std::process::exit(130);
            }
        }
    });
}

async fn dispatch(cli: &Cli) -> Result<i32, Error> {
    match &cli.command {
        Command::Completions { shell } => cmd_completions(*shell),
        Command::Man => cmd_man(),
        Command::Validate(args) => cmd_validate(cli, args).await,
        Command::Plan(a) => cmd_plan(cli, a).await,
        Command::Release(a) => cmd_release(cli, a).await,
        Command::Rollback(a) => cmd_rollback(cli, a).await,
        Command::Run(a) => cmd_run(cli, a).await,
        Command::Init(a) => cmd_init(cli, a).await,
        Command::Promote(a) => cmd_promote(cli, a).await,
        Command::Status(a) => cmd_status(cli, a).await,
    }
}

fn cmd_completions(shell: clap_complete::Shell) -> Result<i32, Error> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "fgdeploy", &mut std::io::stdout());
    Ok(exit::OK)
}

fn cmd_man() -> Result<i32, Error> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out).map_err(|e| Error::Internal(format!("man page: {e}")))?;
    use std::io::Write;
    std::io::stdout().write_all(&out).map_err(|e| Error::Internal(format!("stdout: {e}")))?;
    Ok(exit::OK)
}

async fn cmd_validate(cli: &Cli, args: &SpecArgs) -> Result<i32, Error> {
    let spec = load(args)?;
    let td = spec.render_task_definition("validate.invalid/image:tag")?;
    if cli.output == Output::Json {
        println!(
            "{}",
            render::json_line(
                serde_json::json!({"event": "valid", "deployspec": spec.path, "template": spec.template_path, "family": td.family, "containers": td.container_definitions.len()})
            )
        );
    } else if !cli.quiet {
        println!(
            "ok: {} and {} are valid (family {}, {} container(s))",
            spec.path.display(),
            spec.template_path.display(),
            td.family,
            td.container_definitions.len()
        );
    }
    Ok(exit::OK)
}

async fn cmd_plan(cli: &Cli, a: &PlanArgs) -> Result<i32, Error> {
    let paths = expand_files(&a.files)?;
    let opts = ReleaseOptions { plan: a.flags.options(), dry_run: true, ..Default::default() };
    if paths.len() > 1 {
        let how = FleetRun {
            image_tag: a.image_tag.as_deref(),
            target: &a.target,
            opts,
            parallel: 1,
            policy: Default::default(),
            summary_file: None,
        };
        return fleet(cli, &how, &paths).await;
    }
    let spec = load(&SpecArgs { file: paths[0].clone(), image_tag: a.image_tag.clone() })?;
    release(cli, &spec, &a.flags, &a.target, opts, None).await
}

async fn cmd_release(cli: &Cli, a: &ReleaseArgs) -> Result<i32, Error> {
    check_writable(a.summary_file.as_deref())?;
    let paths = expand_files(&a.files)?;
    if paths.len() > 1 {
        let how = FleetRun {
            image_tag: a.image_tag.as_deref(),
            target: &a.target,
            opts: a.options(),
            parallel: a.parallel,
            policy: a.policy,
            summary_file: a.summary_file.as_deref(),
        };
        return fleet(cli, &how, &paths).await;
    }
    let spec = load(&SpecArgs { file: paths[0].clone(), image_tag: a.image_tag.clone() })?;
    release(cli, &spec, &a.flags, &a.target, a.options(), a.summary_file.as_deref()).await
}

async fn cmd_rollback(cli: &Cli, a: &RollbackArgs) -> Result<i32, Error> {
    let spec = load(&a.spec)?;
    let c = ctx(cli);
    let ports = ports_for(&spec, &a.target, &c.renderer, c.style).await?;
    let interrupt = Interrupt::default();
    install_signals(interrupt.clone());
    let mut engine = Engine::new(ports.clone(), c.renderer.clone(), interrupt);
    let result = engine
        .rollback_command(
            &spec,
            &crate::engine::RollbackOptions {
                to: a.to.clone(),
                dry_run: a.dry_run,
                no_wait: a.no_wait,
                timeout: a.timeout,
                allow_family_change: a.allow_family_change,
            },
        )
        .await;
    c.renderer.finish();
    let plan = result?;
    if cli.output == Output::Json {
        println!(
            "{}",
            render::json_line(
                serde_json::json!({"event": "rollback", "dry_run": a.dry_run, "plan": plan, "api_calls": ports.calls.snapshot(), "api_calls_total": ports.calls.total()})
            )
        );
    } else {
        println!("{}{}", render::rollback_plan_text(&plan), if a.dry_run { " (dry run)" } else { "" });
    }
    Ok(if a.dry_run && plan.current != plan.target { exit::CHANGES } else { exit::OK })
}

async fn cmd_run(cli: &Cli, a: &RunArgs) -> Result<i32, Error> {
    let spec = load(&a.spec)?;
    let c = ctx(cli);
    let ports = ports_for(&spec, &a.target, &c.renderer, c.style).await?;
    let interrupt = Interrupt::default();
    install_signals(interrupt.clone());
    let mut engine = Engine::new(ports, c.renderer.clone(), interrupt);
    let result = engine.run_command(&spec, a.container.as_deref(), &a.command, a.timeout).await;
    c.renderer.finish();
    result
}

async fn cmd_init(cli: &Cli, a: &InitArgs) -> Result<i32, Error> {
    let ports = crate::aws::connect(a.region.as_deref()).await?;
    let o = crate::engine::InitOptions {
        cluster: a.cluster.clone(),
        service: a.service.clone(),
        dir: a.dir.clone(),
        force: a.force,
        container: a.container.clone(),
        application: a.application.clone(),
        deployment_group: a.deployment_group.clone(),
    };
    let report = crate::engine::init(&ports, &o).await?;
    if cli.output == Output::Json {
        println!("{}", render::json_line(serde_json::json!({"event": "init", "init": report})));
    } else {
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        println!(
            "wrote {} and {} ({}; release container {})
next: fgdeploy plan -f {}",
            report.deployspec.display(),
            report.template.display(),
            report.strategy,
            report.container,
            report.deployspec.display()
        );
    }
    Ok(exit::OK)
}

async fn cmd_promote(cli: &Cli, a: &PromoteArgs) -> Result<i32, Error> {
    let spec = Spec::load(&a.file, Some(&a.from_tag))?;
    let c = ctx(cli);
    let ports = ports_for(&spec, &a.target, &c.renderer, c.style).await?;
    let report = crate::engine::promote(&spec, &ports, &a.from_tag, &a.to_tag).await?;
    c.renderer.finish();
    if cli.output == Output::Json {
        println!("{}", render::json_line(serde_json::json!({"event": "promoted", "promote": report, "api_calls": ports.calls.snapshot()})));
    } else {
        println!(
            "{} {}:{} → {}:{} ({})",
            if report.created { "promoted" } else { "already promoted" },
            report.repository,
            report.from_tag,
            report.repository,
            report.to_tag,
            report.digest.as_deref().unwrap_or("digest unknown")
        );
    }
    Ok(exit::OK)
}

async fn cmd_status(cli: &Cli, a: &StatusArgs) -> Result<i32, Error> {
    let paths = expand_files(&a.files)?;
    let c = ctx(cli);
    if paths.len() > 1 {
        // Several services: one status each, read through one client per region.
        let specs = paths.iter().map(|p| Spec::load(p, a.image_tag.as_deref())).collect::<Result<Vec<_>, _>>()?;
        let ports = fleet_ports(&specs, &a.target).await?;
        let mut reports = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            reports.push(crate::engine::status(spec, ports.for_spec(i)).await?);
        }
        c.renderer.finish();
        if cli.output == Output::Json {
            let total: u64 = ports.calls().values().sum();
            println!("{}", render::json_line(serde_json::json!({"event": "status", "statuses": reports, "api_calls_total": total})));
        } else {
            let texts: Vec<String> = reports.iter().map(render::status_text).collect();
            println!("{}", texts.join("\n\n"));
        }
        return Ok(exit::OK);
    }
    let spec = load(&SpecArgs { file: paths[0].clone(), image_tag: a.image_tag.clone() })?;
    let ports = ports_for(&spec, &a.target, &c.renderer, c.style).await?;
    let report = crate::engine::status(&spec, &ports).await?;
    c.renderer.finish();
    if cli.output == Output::Json {
        println!("{}", render::json_line(serde_json::json!({"event": "status", "status": report, "api_calls_total": ports.calls.total()})));
    } else {
        println!("{}", render::status_text(&report));
    }
    Ok(exit::OK)
}

#[allow(clippy::too_many_arguments)]
async fn release(
    cli: &Cli,
    spec: &Spec,
    flags: &PlanFlags,
    target: &TargetArgs,
    opts: ReleaseOptions,
    summary_file: Option<&std::path::Path>,
) -> Result<i32, Error> {
    let dry_run = opts.dry_run;
    let c = ctx(cli);
    if dry_run && c.style == Style::Json {
        return plan_json(spec, flags, target, &c.renderer, c.style).await;
    }
    let ports = ports_for(spec, target, &c.renderer, c.style).await?;
    let interrupt = Interrupt::default();
    install_signals(interrupt.clone());
    let sink: Arc<dyn crate::engine::EventSink> = match summary_file {
        Some(path) => Arc::new(SummaryFile { inner: c.renderer.clone(), path: path.to_path_buf() }),
        None => c.renderer.clone(),
    };
    let mut engine = Engine::new(ports, sink, interrupt);

    let result = engine.release(spec, &opts).await;
    c.renderer.finish();
    Ok(result?.exit_code(dry_run))
}

/// `-f` values: files as given; a folder means every `*.toml` in it, sorted.
fn expand_files(files: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for f in files {
        if f.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(f)
                .map_err(|e| {
                    crate::error::InputError::new(f, format!("cannot read the folder: {e}"), "pass a deployspec file or a readable folder")
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(crate::error::InputError::new(
                    f,
                    "no *.toml deployspecs in this folder",
                    "pass the folder that holds them, or files",
                )
                .into());
            }
            out.extend(found);
        } else {
            out.push(f.clone());
        }
    }
    Ok(out)
}

/// How to run a fleet: from `release` (or `release --dry-run`) or `plan` with several deployspecs.
struct FleetRun<'a> {
    image_tag: Option<&'a str>,
    target: &'a TargetArgs,
    opts: ReleaseOptions,
    parallel: usize,
    policy: crate::engine::FleetPolicy,
    summary_file: Option<&'a std::path::Path>,
}

/// The ports of several services: the sandbox seeded with all of them, or one AWS client per
/// region the deployspecs name (a deployspec without `service.region` uses the AWS config's).
async fn fleet_ports(specs: &[Spec], target: &TargetArgs) -> Result<crate::engine::FleetPorts, Error> {
    if target.sandbox {
        return Ok(crate::engine::FleetPorts::shared(&sandbox::fleet_world_for(specs, target.scenario)?.ports(), specs.len()));
    }
    let mut clients: std::collections::BTreeMap<Option<String>, Ports> = Default::default();
    let mut by_spec = Vec::new();
    for s in specs {
        let region = s.file.service.region.clone();
        if !clients.contains_key(&region) {
            clients.insert(region.clone(), crate::aws::connect(region.as_deref()).await?);
        }
        by_spec.push(clients[&region].clone());
    }
    Ok(crate::engine::FleetPorts::per_spec(by_spec))
}

/// Several deployspecs: one fleet release (or plan), one summary.
async fn fleet(cli: &Cli, a: &FleetRun<'_>, paths: &[PathBuf]) -> Result<i32, Error> {
    let specs = paths.iter().map(|p| Spec::load(p, a.image_tag)).collect::<Result<Vec<_>, _>>()?;
    unique_services(&specs)?;
    let c = ctx(cli);
    let ports = fleet_ports(&specs, a.target).await?;
    c.renderer.prefix_service();
    let interrupt = Interrupt::default();
    install_signals(interrupt.clone());
    // A planned fleet in JSON is one document, like `plan --output json`: the plans are collected.
    let plans = Arc::new(PlanCollector::default());
    let sink: Arc<dyn crate::engine::EventSink> = if a.opts.dry_run && c.style == Style::Json { plans.clone() } else { c.renderer.clone() };
    let report = crate::engine::release_fleet_in(&ports, sink, &interrupt, &specs, &a.opts, (a.parallel, a.policy)).await;
    c.renderer.finish();
    let report = report?;
    let doc = if a.opts.dry_run && c.style == Style::Json {
        let plans = plans.0.lock().map(|p| p.clone()).unwrap_or_default();
        serde_json::json!({"event": "fleet_planned", "plans": plans, "fleet": report})
    } else {
        serde_json::json!({"event": "fleet_finished", "fleet": report})
    };
    let doc = render::with_schema_version(doc);
    if let Some(path) = a.summary_file
        && let Err(e) = std::fs::write(path, format!("{doc:#}\n"))
    {
        eprintln!("warning: cannot write the summary to {}: {e}", path.display());
    }
    if cli.output == Output::Json {
        println!("{doc}");
    } else {
        println!(
            "Fleet: {} service(s) in {:.0}s{}, {} AWS calls (SDK retries included)",
            report.outcomes.len(),
            report.secs,
            if a.target.sandbox { " (virtual, in the sandbox)" } else { "" },
            report.api_calls_total
        );
        for o in &report.outcomes {
            println!("  {:<20} {:<22} exit {:<2} {}", o.service, o.outcome, o.exit_code, o.message.lines().next().unwrap_or(""));
        }
    }
    Ok(report.exit_code)
}

/// A fleet names each service (cluster + name + region) once: twice would deploy it twice at once.
fn unique_services(specs: &[Spec]) -> Result<(), Error> {
    let mut seen: std::collections::BTreeMap<(String, String, Option<String>), &std::path::Path> = Default::default();
    for s in specs {
        let key = (s.cluster().to_string(), s.service().to_string(), s.file.service.region.clone());
        if let Some(first) = seen.insert(key, &s.path) {
            return Err(crate::error::InputError::new(
                &s.path,
                format!("service {} in cluster {} is also released by {}", s.service(), s.cluster(), first.display()),
                "keep one deployspec per service in a fleet",
            )
            .at_field("service.name")
            .into());
        }
    }
    Ok(())
}

/// The plans of a planned fleet, by service.
#[derive(Default)]
struct PlanCollector(std::sync::Mutex<Vec<serde_json::Value>>);

impl crate::engine::EventSink for PlanCollector {
    fn emit(&self, _at: f64, service: &str, event: &crate::engine::Event) {
        if let crate::engine::Event::Plan { plan } = event
            && let Ok(mut v) = self.0.lock()
        {
            v.push(serde_json::json!({"service": service, "plan": plan}));
        }
    }
}

/// Passes events on, and writes the `finished` event as JSON to a file.
struct SummaryFile {
    inner: Arc<Renderer>,
    path: PathBuf,
}

impl crate::engine::EventSink for SummaryFile {
    fn emit(&self, at: f64, service: &str, event: &crate::engine::Event) {
        self.inner.emit(at, service, event);
        if let crate::engine::Event::Finished { .. } = event {
            let mut v = serde_json::to_value(event).unwrap_or_default();
            if let serde_json::Value::Object(m) = &mut v {
                m.insert("service".into(), service.into());
            }
            let v = render::with_schema_version(v);
            if let Err(e) = std::fs::write(&self.path, format!("{v:#}\n")) {
                eprintln!("warning: cannot write the summary to {}: {e}", self.path.display());
            }
        }
    }
}

/// `plan --output json` (and `release --dry-run --output json`): the plan as one JSON document.
async fn plan_json(spec: &Spec, flags: &PlanFlags, target: &TargetArgs, renderer: &Renderer, style: Style) -> Result<i32, Error> {
    let ports = ports_for(spec, target, renderer, style).await?;
    let recorder = Arc::new(crate::engine::Recorder::default());
    let mut engine = Engine::new(ports.clone(), recorder.clone(), Interrupt::default());
    let opts = ReleaseOptions { plan: flags.options(), dry_run: true, ..Default::default() };
    let report = engine.release(spec, &opts).await?;
    let code = report.exit_code(true);
    println!(
        "{}",
        render::json_line(serde_json::json!({
            "event": "plan",
            "plan": report.plan,
            "exit_code": code,
            "api_calls": ports.calls.snapshot(),
            "api_calls_total": ports.calls.total(),
        }))
    );
    Ok(code)
}
