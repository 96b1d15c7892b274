//! `completions` and `man`.

use super::common::*;

pub(crate) fn cmd_completions(shell: clap_complete::Shell) -> Result<i32, Error> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "fgdeploy", &mut std::io::stdout());
    Ok(exit::OK)
}

pub(crate) fn cmd_man() -> Result<i32, Error> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out).map_err(|e| Error::Internal(format!("man page: {e}")))?;
    use std::io::Write;
    std::io::stdout().write_all(&out).map_err(|e| Error::Internal(format!("stdout: {e}")))?;
    Ok(exit::OK)
}
