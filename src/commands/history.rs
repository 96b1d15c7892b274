//! `history`: the service's deployments, newest first.

use super::common::*;

pub(crate) async fn cmd_history(cli: &Cli, a: &HistoryArgs) -> Result<i32, Error> {
    let spec = load(&a.spec, &a.target).await?;
    let c = ctx(cli);
    let ports = ports_for(&spec, &a.target, &c.renderer, c.style).await?;
    let report = crate::engine::history(&spec, &ports, a.limit).await?;
    c.renderer.finish();
    if cli.output == Output::Json {
        crate::render::outln!("{}", Document::History { history: &report, api_calls_total: ports.calls.total() }.line());
    } else {
        crate::render::outln!("{}", render::history_text(&report));
    }
    Ok(exit::OK)
}
