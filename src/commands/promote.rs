//! `promote`: another tag for an image already in ECR.

use super::*;

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
        println!("{}", Document::Promoted { promote: &report, api_calls: ports.calls.snapshot() }.line());
    } else {
        println!(
            "{} {}:{} → {}:{} ({})",
            if report.created { "promoted" } else { "already promoted" },
            report.repository,
            report.from_tag,
            report.repository,
            report.to_tag,
            report.digest.as_deref().unwrap_or("digest unknown")
        );
    }
    Ok(exit::OK)
}
