//! `exec`: open an ECS Exec session and hand it to the Session Manager plugin, as
//! `aws ecs execute-command` does: `session-manager-plugin <session JSON> <region> StartSession
//! <profile> <{"Target": …}> <SSM endpoint>`. The plugin must be on PATH; fgdeploy checks before
//! it opens a session. In the sandbox the session is simulated and not handed over.

use super::*;
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
    let command = if a.command.is_empty() { "/bin/sh".to_string() } else { a.command.join(" ") };
    let o = ExecOptions { task: a.task.clone(), container: a.container.clone(), command };
    let handoff = exec_session(&spec, &ports, &o).await?;
    c.renderer.finish();
    let Some(plugin) = plugin else {
        println!(
            "sandbox: ECS Exec session {} to {} (container {}); not handed to {PLUGIN}",
            handoff.session.session_id, handoff.target, handoff.container
        );
        return Ok(exit::OK);
    };
    let session = serde_json::json!({
        "sessionId": handoff.session.session_id,
        "streamUrl": handoff.session.stream_url,
        "tokenValue": handoff.session.token_value,
    });
    let region = spec.file.service.region.clone().or_else(|| crate::aws::region().map(str::to_string)).unwrap_or_default();
    let profile = std::env::var("AWS_PROFILE").unwrap_or_default();
    let target = serde_json::json!({ "Target": handoff.target });
    let mut child = tokio::process::Command::new(&plugin)
        .args([session.to_string(), region, "StartSession".into(), profile, target.to_string(), crate::aws::endpoint_of("ssm")])
        .spawn()
        .map_err(|e| Error::usage(format!("cannot start {}: {e}", plugin.display()), INSTALL))?;
    // Ctrl-C belongs to the session (the plugin passes it on); fgdeploy waits for its end.
    let ignore = tokio::spawn(async { while tokio::signal::ctrl_c().await.is_ok() {} });
    let status = child.wait().await.map_err(|e| Error::Internal(format!("{PLUGIN} did not finish: {e}")))?;
    ignore.abort();
    Ok(status.code().unwrap_or(exit::INTERNAL))
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
