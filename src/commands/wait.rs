//! `wait`: follow the deployment in flight.

use super::common::*;
use super::release::SummaryFile;
use super::signals::install_signals;

pub(crate) async fn cmd_wait(cli: &Cli, a: &WaitArgs) -> Result<i32, Error> {
    check_writable(a.summary_file.as_deref())?;
    let spec = load(&a.spec, &a.target).await?;
    let c = ctx(cli);
    let ports = ports_for(&spec, &a.target, &c.renderer, c.style).await?;
    let interrupt = Interrupt::default();
    install_signals(interrupt.clone());
    let sink: Arc<dyn crate::engine::EventSink> = match &a.summary_file {
        Some(path) => Arc::new(SummaryFile { inner: c.renderer.clone(), path: path.clone() }),
        None => c.renderer.clone(),
    };
    let mut engine = Engine::new(ports, sink, interrupt);
    let opts =
        crate::engine::WaitOptions { deployment: a.deployment.clone(), timeout: a.timeout, rollback: a.rollback, canary_green: None };
    let result = engine.wait_command(&spec, &opts).await;
    c.renderer.finish();
    result?;
    Ok(exit::OK)
}
