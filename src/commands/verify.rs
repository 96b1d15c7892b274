//! `verify`: the account has what a release needs.

use super::common::*;

pub(crate) async fn cmd_verify(cli: &Cli, a: &VerifyArgs) -> Result<i32, Error> {
    let spec = load(&a.spec, &a.target).await?;
    let c = ctx(cli);
    let ports = ports_for(&spec, &a.target, &c.renderer, c.style).await?;
    let live = crate::engine::observe(&spec, &ports).await?;
    let plan = crate::plan::build(&spec, &live, &a.flags.options())?;
    let report = crate::engine::verify(&spec, &ports, &plan, &live).await?;
    c.renderer.finish();
    let problems = report.checks.iter().filter(|k| k.ok == Some(false)).count();
    if cli.output == Output::Json {
        crate::render::outln!("{}", Document::Verified { verify: &report, problems, api_calls_total: ports.calls.total() }.line());
    } else {
        crate::render::outln!("{}", render::verify_text(&report));
    }
    report.into_result()?;
    Ok(exit::OK)
}
