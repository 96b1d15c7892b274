//! `rollback`.

use super::common::*;
use super::signals::install_signals;

pub(crate) async fn cmd_rollback(cli: &Cli, a: &RollbackArgs) -> Result<i32, Error> {
    let spec = load(&a.spec, &a.target).await?;
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
                lock: a.lock.options(),
            },
        )
        .await;
    c.renderer.finish();
    let plan = result?;
    if cli.output == Output::Json {
        crate::render::outln!(
            "{}",
            Document::Rollback { dry_run: a.dry_run, plan: &plan, api_calls: ports.calls.snapshot(), api_calls_total: ports.calls.total() }
                .line()
        );
    } else {
        crate::render::outln!("{}{}", render::rollback_plan_text(&plan), if a.dry_run { " (dry run)" } else { "" });
    }
    Ok(if a.dry_run && plan.current != plan.target { exit::CHANGES } else { exit::OK })
}
