//! `plan`: the plan, human or one JSON document.

use super::*;

pub(crate) async fn cmd_plan(cli: &Cli, a: &PlanArgs) -> Result<i32, Error> {
    let paths = expand_files(&a.files)?;
    let opts = ReleaseOptions { plan: a.flags.options(), dry_run: true, ..Default::default() };
    if paths.len() > 1 {
        let how = FleetRun {
            image_tag: a.image_tag.as_deref(),
            target: &a.target,
            opts,
            parallel: 1,
            policy: Default::default(),
            summary_file: None,
        };
        return run_fleet(cli, &how, &paths).await;
    }
    let spec = load(&SpecArgs { file: Some(paths[0].clone()), image_tag: a.image_tag.clone() }, &a.target).await?;
    release_one(cli, &spec, &a.flags, &a.target, opts, None).await
}

/// The plans of a planned fleet, by service.
#[derive(Default)]
pub(crate) struct PlanCollector(pub(crate) std::sync::Mutex<Vec<serde_json::Value>>);

impl crate::engine::EventSink for PlanCollector {
    fn emit(&self, _at: f64, service: &str, event: &crate::engine::Event) {
        if let crate::engine::Event::Plan { plan } = event
            && let Ok(mut v) = self.0.lock()
        {
            v.push(serde_json::json!({"service": service, "plan": plan}));
        }
    }
}

/// `plan --output json` (and `release --dry-run --output json`): the plan as one JSON document.
pub(crate) async fn plan_json(
    spec: &Spec,
    flags: &PlanFlags,
    target: &TargetArgs,
    renderer: &Renderer,
    style: Style,
) -> Result<i32, Error> {
    let ports = ports_for(spec, target, renderer, style).await?;
    let recorder = Arc::new(crate::engine::Recorder::default());
    let mut engine = Engine::new(ports.clone(), recorder.clone(), Interrupt::default());
    let opts = ReleaseOptions { plan: flags.options(), dry_run: true, ..Default::default() };
    let report = engine.release(spec, &opts).await?;
    let code = report.exit_code(true);
    crate::render::outln!(
        "{}",
        Document::Plan { plan: &report.plan, exit_code: code, api_calls: ports.calls.snapshot(), api_calls_total: ports.calls.total() }
            .line()
    );
    Ok(code)
}
