//! `promote`: another tag for an image already in ECR.

use super::common::*;

pub(crate) async fn cmd_promote(cli: &Cli, a: &PromoteArgs) -> Result<i32, Error> {
    let path = match &a.file {
        Some(p) => p.clone(),
        None => discover::discover_one(&std::env::current_dir().unwrap_or_default())?,
    };
    let spec = load_path(&path, Some(&a.from_tag), &a.target).await?;
    let c = ctx(cli);
    let ports = ports_for(&spec, &a.target, &c.renderer, c.style).await?;
    let report = crate::engine::promote(&spec, &ports, &a.from_tag, &a.to_tag).await?;
    c.renderer.finish();
    if cli.output == Output::Json {
        crate::render::outln!("{}", Document::Promoted { promote: &report, api_calls: ports.calls.snapshot() }.line());
    } else {
        for r in std::iter::once(&report).chain(&report.sidecars) {
            crate::render::outln!(
                "{} {}:{} → {}:{} ({})",
                if r.created { "promoted" } else { "already promoted" },
                r.repository,
                r.from_tag,
                r.repository,
                r.to_tag,
                r.digest.as_deref().unwrap_or("digest unknown")
            );
        }
    }
    Ok(exit::OK)
}
