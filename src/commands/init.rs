//! `init`: a deployspec and template from a live service.

use super::common::*;

pub(crate) async fn cmd_init(cli: &Cli, a: &InitArgs) -> Result<i32, Error> {
    let ports = crate::aws::connect(a.region.as_deref()).await?;
    let o = crate::engine::InitOptions {
        cluster: a.cluster.clone(),
        service: a.service.clone(),
        dir: a.dir.clone(),
        force: a.force,
        container: a.container.clone(),
        application: a.application.clone(),
        deployment_group: a.deployment_group.clone(),
    };
    let report = crate::engine::init(&ports, &o).await?;
    if cli.output == Output::Json {
        crate::render::outln!("{}", Document::Init { init: &report }.line());
    } else {
        for w in &report.warnings {
            crate::render::errln!("warning: {w}");
        }
        crate::render::outln!(
            "wrote {} and {} ({}; release container {})
next: fgdeploy plan -f {}",
            report.deployspec.display(),
            report.template.display(),
            report.strategy,
            report.container,
            report.deployspec.display()
        );
    }
    Ok(exit::OK)
}
