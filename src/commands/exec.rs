//! `exec`: open an ECS Exec session and hand it to the Session Manager plugin, as
//! `aws ecs execute-command` does: `session-manager-plugin <session JSON> <region> StartSession
//! <profile> <{"Target": …}> <SSM endpoint>`. The plugin must be on PATH; fgdeploy checks before
//! it opens a session. In the sandbox the session is simulated and not handed over.
//!
//! The plugin does not return the remote command's exit status (aws/session-manager-plugin#59,
//! aws/amazon-ecs-agent#2846): it exits 0 whatever the command did. So a command given after
//! `--` runs as `/bin/sh -c '<command>; echo fgdeploy-exit-status:$?'` and fgdeploy exits with
//! the status that line reports (the line itself is not shown); 255 when the session ended
//! without it (cut off, or no `/bin/sh` in the image: `--raw` sends the command as it is, and
//! then the exit code is the plugin's). An interactive shell (no command) exits with the plugin's
//! code.

use super::common::*;
use crate::engine::{ExecOptions, exec_session};

const PLUGIN: &str = "session-manager-plugin";
const INSTALL: &str = "install the Session Manager plugin: https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html";

pub(crate) async fn cmd_exec(cli: &Cli, a: &ExecArgs) -> Result<i32, Error> {
    let spec = load(&a.spec, &a.target).await?;
    let plugin = if a.target.sandbox {
        None
    } else {
        Some(
            find_on_path(PLUGIN)
                .ok_or_else(|| Error::usage(format!("{PLUGIN} is not on PATH: ECS Exec sessions run through it"), INSTALL))?,
        )
    };
    let c = ctx(cli);
    let ports = ports_for(&spec, &a.target, &c.renderer, c.style).await?;
    let wrapped = !a.command.is_empty() && !a.raw;
    let command = match (a.command.is_empty(), wrapped) {
        (true, _) => "/bin/sh".to_string(),
        (false, false) => a.command.join(" "),
        (false, true) => with_exit_status(&a.command.join(" ")),
    };
    let o = ExecOptions { task: a.task.clone(), container: a.container.clone(), command };
    let handoff = exec_session(&spec, &ports, &o).await?;
    c.renderer.finish();
    let Some(plugin) = plugin else {
        crate::render::outln!(
            "sandbox: ECS Exec session {} to {} (container {}); not handed to {PLUGIN}",
            handoff.session.session_id,
            handoff.target,
            handoff.container
        );
        return Ok(exit::OK);
    };
    let region = spec.file.service.region.clone().or_else(|| crate::aws::region().map(str::to_string)).unwrap_or_default();
    let mut cmd = tokio::process::Command::new(&plugin);
    cmd.args(plugin_args(&handoff, region));
    if wrapped {
        cmd.stdout(std::process::Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(|e| Error::usage(format!("cannot start {}: {e}", plugin.display()), INSTALL))?;
    // Ctrl-C belongs to the session (the plugin passes it on); fgdeploy waits for its end.
    let ignore = tokio::spawn(async { while tokio::signal::ctrl_c().await.is_ok() {} });
    let remote = match child.stdout.take() {
        Some(out) => relay_until_status(out).await,
        None => None,
    };
    let status = child.wait().await.map_err(|e| Error::Internal(format!("{PLUGIN} did not finish: {e}")))?;
    ignore.abort();
    if !wrapped {
        return Ok(status.code().unwrap_or(exit::INTERNAL));
    }
    Ok(remote.unwrap_or_else(|| {
        crate::render::errln!(
            "warning: the session ended without the remote command's exit status ({PLUGIN} exited {status}); exiting 255"
        );
        255
    }))
}

/// The Session Manager plugin's arguments, as the AWS CLI passes them: the session, the
/// region, `StartSession`, the profile, the target and the SSM endpoint.
fn plugin_args(handoff: &crate::engine::ExecHandoff, region: String) -> [String; 6] {
    let session = serde_json::json!({
        "sessionId": handoff.session.session_id,
        "streamUrl": handoff.session.stream_url,
        "tokenValue": handoff.session.token_value,
    });
    let target = serde_json::json!({ "Target": handoff.target });
    [session.to_string(), region, "StartSession".into(), crate::aws::profile_name(), target.to_string(), crate::aws::endpoint_of("ssm")]
}

const STATUS_MARK: &str = "fgdeploy-exit-status:";

/// `cmd` run by `/bin/sh -c`, then a line with its exit status (single quotes escaped).
fn with_exit_status(cmd: &str) -> String {
    let quoted = cmd.replace('\'', "'\\''");
    format!("/bin/sh -c '{quoted}; echo {STATUS_MARK}$?'")
}

/// Copy the plugin's output to stdout line by line, keeping back the status line; the status.
async fn relay_until_status(out: tokio::process::ChildStdout) -> Option<i32> {
    use std::io::Write as _;
    use tokio::io::AsyncBufReadExt as _;
    let mut lines = tokio::io::BufReader::new(out).lines();
    let mut status = None;
    while let Ok(Some(line)) = lines.next_line().await {
        match remote_status(&line) {
            Some(code) => status = Some(code),
            None => {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{line}");
            }
        }
    }
    status
}

/// The status a `fgdeploy-exit-status:N` line reports (a terminal may end it with `\r`).
fn remote_status(line: &str) -> Option<i32> {
    line.trim_end_matches('\r').trim().strip_prefix(STATUS_MARK)?.trim().parse().ok()
}

/// An executable named `name` in a PATH directory.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &std::path::Path) -> bool {
    p.is_file()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_is_wrapped_and_its_status_line_read_back() {
        assert_eq!(super::with_exit_status("bin/rake db:seed"), "/bin/sh -c 'bin/rake db:seed; echo fgdeploy-exit-status:$?'");
        assert_eq!(super::with_exit_status("echo 'hi'"), "/bin/sh -c 'echo '\\''hi'\\''; echo fgdeploy-exit-status:$?'");
        assert_eq!(super::remote_status("fgdeploy-exit-status:7\r"), Some(7));
        assert_eq!(super::remote_status("fgdeploy-exit-status:0"), Some(0));
        assert_eq!(super::remote_status("the output fgdeploy-exit-status:3"), None, "only a line of its own");
        assert_eq!(super::remote_status("hello"), None);
    }

    #[test]
    fn the_ssm_endpoint_follows_the_partition() {
        assert_eq!(crate::aws::dns_suffix("cn-north-1"), "amazonaws.com.cn");
        assert_eq!(crate::aws::dns_suffix("us-gov-west-1"), "amazonaws.com");
        assert_eq!(crate::aws::dns_suffix("us-iso-east-1"), "c2s.ic.gov");
        assert_eq!(crate::aws::dns_suffix("eu-west-1"), "amazonaws.com");
    }
}
