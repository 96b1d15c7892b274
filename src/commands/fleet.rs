//! Several deployspecs: one fleet release or plan, one summary.

use super::common::*;
use super::planned::PlanCollector;
use super::signals::install_signals;

/// How to run a fleet: from `release` (or `release --dry-run`) or `plan` with several deployspecs.
pub(crate) struct FleetRun<'a> {
    pub(crate) image_tag: Option<&'a str>,
    pub(crate) target: &'a TargetArgs,
    pub(crate) opts: ReleaseOptions,
    pub(crate) parallel: usize,
    pub(crate) policy: crate::engine::FleetPolicy,
    pub(crate) summary_file: Option<&'a std::path::Path>,
}

/// The ports of several services: the sandbox seeded with all of them, or one AWS client per
/// region the deployspecs name (a deployspec without `service.region` uses the AWS config's).
pub(crate) async fn fleet_ports(specs: &[Spec], target: &TargetArgs) -> Result<crate::engine::FleetPorts, Error> {
    if target.sandbox {
        let sim = sandbox_world(target, None, || sandbox::fleet_world_for(specs, target.scenario))?;
        return Ok(crate::engine::FleetPorts::shared(&sim.ports(), specs.len()));
    }
    let mut clients: std::collections::BTreeMap<Option<String>, Ports> = Default::default();
    let mut by_spec = Vec::new();
    for s in specs {
        let region = s.file.service.region.clone();
        if !clients.contains_key(&region) {
            clients.insert(region.clone(), crate::aws::connect(region.as_deref()).await?);
        }
        by_spec.push(clients[&region].clone());
    }
    Ok(crate::engine::FleetPorts::per_spec(by_spec))
}

/// Several deployspecs: one fleet release (or plan), one summary.
pub(crate) async fn run_fleet(cli: &Cli, a: &FleetRun<'_>, paths: &[PathBuf]) -> Result<i32, Error> {
    let mut specs = Vec::new();
    for p in paths {
        specs.push(load_path(p, a.image_tag, a.target).await?);
    }
    unique_services(&specs)?;
    let c = ctx(cli);
    let ports = fleet_ports(&specs, a.target).await?;
    c.renderer.prefix_service();
    let interrupt = Interrupt::default();
    install_signals(interrupt.clone());
    // A planned fleet in JSON is one document, like `plan --output json`: the plans are collected.
    let plans = Arc::new(PlanCollector::default());
    let sink: Arc<dyn crate::engine::EventSink> = if a.opts.dry_run && c.style == Style::Json { plans.clone() } else { c.renderer.clone() };
    let report = crate::engine::release_fleet_in(&ports, sink, &interrupt, &specs, &a.opts, (a.parallel, a.policy)).await;
    c.renderer.finish();
    let report = report?;
    let plans = plans.0.lock().map(|p| p.clone()).unwrap_or_default();
    let doc = if a.opts.dry_run && c.style == Style::Json {
        Document::FleetPlanned { plans: &plans, fleet: &report }
    } else {
        Document::FleetFinished { fleet: &report }
    }
    .to_value();
    if let Some(path) = a.summary_file
        && let Err(e) = std::fs::write(path, format!("{}\n", crate::taint::scrub(&format!("{doc:#}"))))
    {
        crate::render::errln!("warning: cannot write the summary to {}: {e}", path.display());
    }
    if cli.output == Output::Json {
        crate::render::outln!("{doc}");
    } else {
        crate::render::outln!(
            "Fleet: {} service(s) in {:.0}s{}, {} AWS calls (every attempt)",
            report.outcomes.len(),
            report.secs,
            if a.target.sandbox { " (virtual, in the sandbox)" } else { "" },
            report.api_calls_total
        );
        for o in &report.outcomes {
            crate::render::outln!(
                "  {:<20} {:<22} exit {:<2} {}",
                o.service,
                o.outcome,
                o.exit_code,
                o.message.lines().next().unwrap_or("")
            );
        }
    }
    Ok(report.exit_code)
}

/// A fleet names each service (cluster + name + region) once: twice would deploy it twice at once.
pub(crate) fn unique_services(specs: &[Spec]) -> Result<(), Error> {
    let mut seen: std::collections::BTreeMap<(String, String, Option<String>), &std::path::Path> = Default::default();
    for s in specs {
        let key = (s.cluster().to_string(), s.service().to_string(), s.file.service.region.clone());
        if let Some(first) = seen.insert(key, &s.path) {
            return Err(crate::error::InputError::new(
                &s.path,
                format!("service {} in cluster {} is also released by {}", s.service(), s.cluster(), first.display()),
                "keep one deployspec per service in a fleet",
            )
            .at_field("service.name")
            .into());
        }
    }
    Ok(())
}
