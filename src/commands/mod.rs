//! The commands: `run` parses the flags (clap definitions in `cli`), picks the adapter (AWS
//! or the sandbox) and the renderer, runs one command module, and renders the error once.
//! Signal handling lives in `signals`; each command in its own module returns an exit status.

mod completions;
mod discover;
mod exec;
mod fleet;
mod history;
mod init;
mod plan;
mod promote;
mod release;
mod rollback;
mod run_task;
mod scale;
mod signals;
mod status;
mod validate;
mod verify;
mod wait;

use completions::{cmd_completions, cmd_man};
use fleet::{FleetRun, fleet_ports, run_fleet};
use init::cmd_init;
use plan::{PlanCollector, cmd_plan, plan_json};
use promote::cmd_promote;
use release::{cmd_release, release_one};
use rollback::cmd_rollback;
use run_task::cmd_run;
use signals::install_signals;
use status::cmd_status;
use validate::cmd_validate;

use crate::cli::*;
use crate::engine::{Engine, Interrupt, ReleaseOptions};
use crate::error::{Error, exit};
use crate::ports::Ports;
use crate::render::documents::Document;
use crate::render::{self, Renderer, Style, Verbosity};
use crate::sandbox;
use crate::spec::Spec;
use clap::Parser;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

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
            .with_writer(|| crate::render::ScrubbedStderr)
            .with_env_filter("info,fgdeploy=debug,aws_smithy_runtime=debug")
            .try_init();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            crate::render::errln!("error: cannot start the async runtime: {e}");
            return exit::INTERNAL;
        }
    };
    let json = cli.output == Output::Json;
    match runtime.block_on(dispatch(&cli)) {
        Ok(code) => code,
        Err(e) => {
            if json && !render::finished_written() {
                let problems = e.problems();
                crate::render::outln!(
                    "{}",
                    Document::Error { outcome: e.kind(), exit_code: e.exit_code(), message: e.to_string(), problems }.line()
                );
            }
            crate::render::errln!("error: {e}");
            e.exit_code()
        }
    }
}

pub(crate) struct Ctx {
    renderer: Arc<Renderer>,
    style: Style,
}

pub(crate) fn ctx(cli: &Cli) -> Ctx {
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

/// Load a deployspec: a first render finds the account lookups its templates make; they are
/// answered (read-only calls, or the sandbox's stand-ins) and the real load renders with them.
pub(crate) async fn load(args: &SpecArgs, target: &TargetArgs) -> Result<Spec, Error> {
    let path = match &args.file {
        Some(p) => p.clone(),
        None => discover::discover_one(&std::env::current_dir().unwrap_or_default())?,
    };
    load_path(&path, args.image_tag.as_deref(), target).await
}

pub(crate) async fn load_path(path: &std::path::Path, image_tag: Option<&str>, target: &TargetArgs) -> Result<Spec, Error> {
    let scan = crate::spec::scan(path, image_tag)?;
    let (answers, calls) = match (scan.lookups.is_empty(), target.sandbox) {
        (true, _) => Default::default(),
        (false, sandbox) => {
            let ports = if sandbox { crate::sandbox::lookup_ports() } else { crate::aws::connect(scan.region.as_deref()).await? };
            let answers = crate::engine::answer_lookups(&scan, &ports).await;
            (answers?, ports.calls.snapshot())
        }
    };
    let mut spec = Spec::load_scanned(&scan, image_tag, answers)?;
    // The lookups' calls are AWS calls of this run: they count in its totals.
    spec.lookup_calls = calls;
    Ok(spec)
}

pub(crate) async fn ports_for(spec: &Spec, target: &TargetArgs, renderer: &Renderer, style: Style) -> Result<Ports, Error> {
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
        let ports = sandbox::world_for(spec, target.scenario)?.ports();
        ports.calls.add_all(&spec.lookup_calls);
        Ok(ports)
    } else {
        let ports = crate::aws::connect(spec.file.service.region.as_deref()).await?;
        ports.calls.add_all(&spec.lookup_calls);
        Ok(ports)
    }
}

pub(crate) async fn dispatch(cli: &Cli) -> Result<i32, Error> {
    match &cli.command {
        Command::Completions { shell } => cmd_completions(*shell),
        Command::Man => cmd_man(),
        Command::Validate(args) => cmd_validate(cli, args).await,
        Command::Plan(a) => cmd_plan(cli, a).await,
        Command::Release(a) => cmd_release(cli, a).await,
        Command::Create(a) => release::cmd_create(cli, a).await,
        Command::Rollback(a) => cmd_rollback(cli, a).await,
        Command::Run(a) => cmd_run(cli, a).await,
        Command::Init(a) => cmd_init(cli, a).await,
        Command::Promote(a) => cmd_promote(cli, a).await,
        Command::Status(a) => cmd_status(cli, a).await,
        Command::History(a) => history::cmd_history(cli, a).await,
        Command::Wait(a) => wait::cmd_wait(cli, a).await,
        Command::Scale(a) => scale::cmd_scale(cli, a).await,
        Command::Exec(a) => exec::cmd_exec(cli, a).await,
        Command::Verify(a) => verify::cmd_verify(cli, a).await,
    }
}

/// `-f` values: files as given; a folder means every `*.toml` in it, sorted.
pub(crate) fn expand_files(files: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    if files.is_empty() {
        return discover::discover(&std::env::current_dir().unwrap_or_default());
    }
    let mut out = Vec::new();
    for f in files {
        if f.is_dir() {
            let found = discover::toml_files(f)?;
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

/// `--summary-file` must be writable before the release starts (not found out at its end).
pub(crate) fn check_writable(path: Option<&std::path::Path>) -> Result<(), Error> {
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
