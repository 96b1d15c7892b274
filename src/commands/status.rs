//! `status`: one service or several.

use super::common::*;
use super::fleet::fleet_ports;

pub(crate) async fn cmd_status(cli: &Cli, a: &StatusArgs) -> Result<i32, Error> {
    let paths = expand_files(&a.files)?;
    let c = ctx(cli);
    if paths.len() > 1 {
        // Several services: one status each, read through one client per region.
        let mut specs = Vec::new();
        for p in &paths {
            specs.push(load_path(p, a.image_tag.as_deref(), &a.target).await?);
        }
        let ports = fleet_ports(&specs, &a.target).await?;
        let mut reports = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            reports.push(crate::engine::status(spec, ports.for_spec(i)).await?);
        }
        c.renderer.finish();
        if cli.output == Output::Json {
            let total: u64 = ports.calls().values().sum();
            crate::render::outln!(
                "{}",
                Document::Status { status: None, statuses: Some(&reports), report: None, api_calls_total: total }.line()
            );
        } else {
            let texts: Vec<String> = reports.iter().map(render::status_text).collect();
            crate::render::outln!("{}", texts.join("\n\n"));
        }
        return Ok(exit::OK);
    }
    let spec = load(&SpecArgs { file: Some(paths[0].clone()), image_tag: a.image_tag.clone() }, &a.target).await?;
    let ports = ports_for(&spec, &a.target, &c.renderer, c.style).await?;
    let report = crate::engine::status(&spec, &ports).await?;
    let why = match a.why {
        true => Some(crate::engine::report::why(&spec, &ports).await?),
        false => None,
    };
    c.renderer.finish();
    if cli.output == Output::Json {
        let doc = Document::Status { status: Some(&report), statuses: None, report: why.as_ref(), api_calls_total: ports.calls.total() };
        crate::render::outln!("{}", doc.line());
    } else {
        crate::render::outln!("{}", render::status_text(&report));
        if let Some(w) = &why {
            crate::render::outln!("{}", crate::render::report_text(w));
        }
    }
    Ok(exit::OK)
}
