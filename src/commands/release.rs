//! `release`: one service, with its summary file.

use super::common::*;
use super::fleet::{FleetRun, run_fleet};
use super::planned::plan_json;
use super::signals::install_signals;

pub(crate) async fn cmd_release(cli: &Cli, a: &ReleaseArgs) -> Result<i32, Error> {
    check_writable(a.summary_file.as_deref())?;
    let paths = expand_files(&a.files)?;
    if paths.len() > 1 {
        let how = FleetRun {
            image_tag: a.image_tag.as_deref(),
            target: &a.target,
            opts: a.options(),
            parallel: a.parallel,
            policy: a.policy,
            summary_file: a.summary_file.as_deref(),
        };
        return run_fleet(cli, &how, &paths).await;
    }
    let spec = load(&SpecArgs { file: Some(paths[0].clone()), image_tag: a.image_tag.clone() }, &a.target).await?;
    release_one(cli, &spec, &a.flags, &a.target, a.options(), (a.summary_file.as_deref(), a.report.as_deref())).await
}

/// `create`: `release` of a service that must not exist yet.
pub(crate) async fn cmd_create(cli: &Cli, a: &ReleaseArgs) -> Result<i32, Error> {
    let paths = expand_files(&a.files)?;
    if paths.len() > 1 {
        return Err(Error::usage("create takes one deployspec", "run `fgdeploy create -f <file>` once per service"));
    }
    let spec = load(&SpecArgs { file: Some(paths[0].clone()), image_tag: a.image_tag.clone() }, &a.target).await?;
    let opts = ReleaseOptions { create: crate::engine::CreateMode::Required, ..a.options() };
    release_one(cli, &spec, &a.flags, &a.target, opts, (a.summary_file.as_deref(), a.report.as_deref())).await
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn release_one(
    cli: &Cli,
    spec: &Spec,
    flags: &PlanFlags,
    target: &TargetArgs,
    opts: ReleaseOptions,
    (summary_file, report_file): (Option<&std::path::Path>, Option<&std::path::Path>),
) -> Result<i32, Error> {
    let dry_run = opts.dry_run;
    let c = ctx(cli);
    if dry_run && c.style == Style::Json {
        return plan_json(spec, flags, target, &c.renderer, c.style).await;
    }
    let ports = ports_for(spec, target, &c.renderer, c.style).await?;
    let interrupt = Interrupt::default();
    install_signals(interrupt.clone());
    let sink: Arc<dyn crate::engine::EventSink> = match summary_file {
        Some(path) => Arc::new(SummaryFile { inner: c.renderer.clone(), path: path.to_path_buf() }),
        None => c.renderer.clone(),
    };
    let sink = super::step_summary::StepSummary::wrap(sink);
    let sink: Arc<dyn crate::engine::EventSink> = match report_file {
        Some(path) => Arc::new(ReportFile { inner: sink, path: path.to_path_buf() }),
        None => sink,
    };
    let mut engine = Engine::new(ports, sink, interrupt);

    let result = engine.release(spec, &opts).await;
    c.renderer.finish();
    Ok(result?.exit_code(dry_run))
}

/// Passes events on, and writes the `finished` event as JSON to a file.
pub(crate) struct SummaryFile {
    pub(crate) inner: Arc<Renderer>,
    pub(crate) path: PathBuf,
}

impl crate::engine::EventSink for SummaryFile {
    fn emit(&self, at: f64, service: &str, event: &crate::engine::Event) {
        self.inner.emit(at, service, event);
        if let crate::engine::Event::Finished { .. } = event {
            let mut v = serde_json::to_value(event).unwrap_or_default();
            if let serde_json::Value::Object(m) = &mut v {
                m.insert("service".into(), service.into());
            }
            let v = render::with_schema_version(v);
            if let Err(e) = std::fs::write(&self.path, format!("{}\n", crate::taint::scrub(&format!("{v:#}")))) {
                crate::render::errln!("warning: cannot write the summary to {}: {e}", self.path.display());
            }
        }
    }
}

/// Passes events on, and writes the failure report as JSON to a file (`--report`).
pub(crate) struct ReportFile {
    pub(crate) inner: Arc<dyn crate::engine::EventSink>,
    pub(crate) path: PathBuf,
}

impl crate::engine::EventSink for ReportFile {
    fn emit(&self, at: f64, service: &str, event: &crate::engine::Event) {
        self.inner.emit(at, service, event);
        if let crate::engine::Event::Report { report } = event {
            let v = render::with_schema_version(serde_json::to_value(report).unwrap_or_default());
            if let Err(e) = std::fs::write(&self.path, format!("{}\n", crate::taint::scrub(&format!("{v:#}")))) {
                crate::render::errln!("warning: cannot write the report to {}: {e}", self.path.display());
            }
        }
    }
}
