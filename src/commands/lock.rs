//! `lock status|break`: the service's lease (`[lock]`, #27); `cleanup`: the leftovers of the
//! event watch (#28), the other thing a dead run leaves behind.

use super::common::*;
use crate::engine::{LeaseState, LockStatus};

pub(crate) async fn cmd_lock(cli: &Cli, action: &LockAction) -> Result<i32, Error> {
    let (spec_args, target, breaking, yes) = match action {
        LockAction::Status { spec, target } => (spec, target, false, false),
        LockAction::Break { spec, yes, target } => (spec, target, true, *yes),
    };
    let spec = load(spec_args, target).await?;
    let c = ctx(cli);
    let ports = ports_for(&spec, target, &c.renderer, c.style).await?;
    let mut status = crate::engine::lease::lock_status(&spec, &ports).await?;
    let breaks = breaking && matches!(status.state, LeaseState::Held | LeaseState::Expired);
    if breaks {
        confirm(&status, yes)?;
        let who = crate::engine::lease::record::Holder::here("lock break", spec.commit()).describe();
        status = crate::engine::lease::lock_break(&spec, &ports, &who).await?;
    }
    c.renderer.finish();
    if cli.output == Output::Json {
        crate::render::outln!("{}", Document::Lock { lock: &status, broken: breaks }.line());
    } else {
        crate::render::outln!("{}", render::lock_text(&status, ports.clock.now()));
        if breaking && !breaks {
            crate::render::outln!("nothing to break");
        }
    }
    Ok(exit::OK)
}

/// `lock break` asks first, unless `--yes`; without a terminal to ask on, `--yes` is required.
fn confirm(status: &LockStatus, yes: bool) -> Result<(), Error> {
    if yes {
        return Ok(());
    }
    let holder = status.record.as_ref().map(|r| r.holder.describe()).unwrap_or_default();
    if !std::io::stdin().is_terminal() {
        return Err(Error::usage(
            format!("`lock break` would release the lease held by {holder}"),
            "confirm with --yes (only when that run is dead: a live run that loses its lease stops)",
        ));
    }
    eprint!("release the lease s3://{}/{} held by {holder}? [y/N] ", status.bucket, status.key);
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Error::usage("the lease was not broken", "answer y to break it, or pass --yes"))
    }
}

/// `cleanup`: delete the watch's expired rules and queues (or every one, with `--all`).
pub(crate) async fn cmd_cleanup(cli: &Cli, spec_args: &SpecArgs, all: bool, target: &TargetArgs) -> Result<i32, Error> {
    let spec = load(spec_args, target).await?;
    let c = ctx(cli);
    let ports = ports_for(&spec, target, &c.renderer, c.style).await?;
    let deleted = crate::engine::cleanup_feeds(&ports, all).await?;
    c.renderer.finish();
    if cli.output == Output::Json {
        crate::render::outln!("{}", Document::Cleanup { deleted: &deleted, api_calls_total: ports.calls.total() }.line());
    } else if deleted.is_empty() {
        crate::render::outln!(
            "nothing to clean up: no {}* rule or queue{}",
            crate::engine::FEED_PREFIX,
            if all { "" } else { " has expired" }
        );
    } else {
        for d in &deleted {
            crate::render::outln!("deleted {d}");
        }
    }
    Ok(exit::OK)
}
