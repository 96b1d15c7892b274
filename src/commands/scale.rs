//! `scale`: set the desired count and wait for it.

use super::common::*;
use super::signals::install_signals;

pub(crate) async fn cmd_scale(cli: &Cli, a: &ScaleArgs) -> Result<i32, Error> {
    let spec = load(&a.spec, &a.target).await?;
    let c = ctx(cli);
    let ports = ports_for(&spec, &a.target, &c.renderer, c.style).await?;
    let interrupt = Interrupt::default();
    install_signals(interrupt.clone());
    let mut engine = Engine::new(ports, c.renderer.clone(), interrupt);
    let opts =
        crate::engine::ScaleOptions { count: a.count, force: a.force, no_wait: a.no_wait, timeout: a.timeout, lock: a.lock.options() };
    let result = engine.scale_command(&spec, &opts).await;
    c.renderer.finish();
    result?;
    Ok(exit::OK)
}
