//! `run`: a one-off task of the live revision.

use super::common::*;
use super::signals::install_signals;

pub(crate) async fn cmd_run(cli: &Cli, a: &RunArgs) -> Result<i32, Error> {
    let spec = load(&a.spec, &a.target).await?;
    let c = ctx(cli);
    let ports = ports_for(&spec, &a.target, &c.renderer, c.style).await?;
    let interrupt = Interrupt::default();
    install_signals(interrupt.clone());
    let mut engine = Engine::new(ports, c.renderer.clone(), interrupt);
    let result = engine.run_command(&spec, a.container.as_deref(), &a.command, a.timeout).await;
    c.renderer.finish();
    result
}
