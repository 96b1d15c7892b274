//! The plan as JSON, collected from the engine's events (`plan -o json`, `release --dry-run`).

use super::common::*;

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
