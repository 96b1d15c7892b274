//! The commands: `run` parses the flags (clap definitions in `cli`), picks the adapter (AWS
//! or the sandbox) and the renderer, runs one command module, and renders the error once.
//! Signal handling lives in `signals`; each command in its own module returns an exit status.

mod common;
mod completions;
mod discover;
mod exec;
mod fleet;
mod history;
mod init;
mod lock;
mod plan;
mod planned;
mod promote;
mod release;
mod rollback;
mod run_task;
mod scale;
mod signals;
mod status;
mod step_summary;
mod validate;
mod verify;
mod wait;

use completions::{cmd_completions, cmd_man};
use init::cmd_init;
use plan::cmd_plan;
use promote::cmd_promote;
use release::cmd_release;
use rollback::cmd_rollback;
use run_task::cmd_run;
use status::cmd_status;
use validate::cmd_validate;

use crate::cli::*;
use crate::error::{Error, exit};
use crate::render::documents::Document;
use crate::render::{self};
use clap::Parser;
use std::ffi::OsString;

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
        Command::Lock { action } => lock::cmd_lock(cli, action).await,
        Command::Cleanup { spec, all, target } => lock::cmd_cleanup(cli, spec, *all, target).await,
        Command::Wait(a) => wait::cmd_wait(cli, a).await,
        Command::Scale(a) => scale::cmd_scale(cli, a).await,
        Command::Exec(a) => exec::cmd_exec(cli, a).await,
        Command::Verify(a) => verify::cmd_verify(cli, a).await,
    }
}
