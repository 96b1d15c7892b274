//! The GitHub step summary (#26): when `GITHUB_STEP_SUMMARY` names a file, every release appends
//! one section to it — a table of what was released (outcome, task definition, image digest,
//! deployment, duration, AWS calls), a Mermaid gantt chart of its stages (GitHub renders Mermaid
//! in Markdown: a reviewer sees where the time went and which stage failed), and, for a failed
//! release, the failure report in a collapsible section.

use crate::engine::report::FailureReport;
use crate::engine::{Event, EventSink};
use crate::plan::Stage;
use std::fmt::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What the summary needs, gathered from the events as they pass.
#[derive(Default)]
struct Seen {
    /// (stage, start, seconds, finished): a stage started but not finished failed (or was cut).
    stages: Vec<(Stage, f64, Option<f64>)>,
    image: Option<(String, Option<String>)>,
    registered: Option<String>,
    deployment: Option<String>,
    rollback: Option<(f64, Option<f64>)>,
    /// The deployment's phases as they began: traffic steps (`green 10%`) and ECS-native
    /// lifecycle stages (`BAKE_TIME`).
    phases: Vec<(f64, String)>,
    report: Option<FailureReport>,
    /// The canary judge's verdicts (#29): step, green %, verdict, action, metric lines.
    judged: Vec<(u32, f64, String, String, Vec<String>)>,
}

/// Passes events on and writes the step summary when the release finishes.
pub(crate) struct StepSummary {
    pub(crate) inner: Arc<dyn EventSink>,
    pub(crate) path: PathBuf,
    seen: Mutex<Seen>,
}

impl StepSummary {
    /// The summary sink, when `GITHUB_STEP_SUMMARY` names a file.
    pub(crate) fn wrap(inner: Arc<dyn EventSink>) -> Arc<dyn EventSink> {
        match std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
            Some(path) => Arc::new(StepSummary { inner, path: PathBuf::from(path), seen: Mutex::default() }),
            None => inner,
        }
    }
}

impl EventSink for StepSummary {
    fn emit(&self, at: f64, service: &str, event: &Event) {
        self.inner.emit(at, service, event);
        let Ok(mut s) = self.seen.lock() else { return };
        match event {
            Event::StageStarted { stage } => s.stages.push((*stage, at, None)),
            Event::StageFinished { stage, secs } => {
                if let Some(e) = s.stages.iter_mut().rev().find(|(st, _, _)| st == stage) {
                    e.2 = Some(*secs);
                }
            }
            Event::ImagePushed { image, digest } => s.image = Some((image.clone(), digest.clone())),
            Event::Registered { arn, .. } => s.registered = Some(arn.clone()),
            Event::DeploymentStarted { deployment_id, .. } => s.deployment = Some(deployment_id.clone()),
            Event::RollbackStarted { .. } => s.rollback = Some((at, None)),
            Event::RollbackFinished { .. } => {
                if let Some(r) = s.rollback.as_mut() {
                    r.1 = Some(at - r.0);
                }
            }
            Event::Report { report } => s.report = Some((**report).clone()),
            Event::StepJudged { step, green_percent, verdict, action, metrics, .. } => s.judged.push((
                *step,
                *green_percent,
                verdict.to_string(),
                action.to_string(),
                metrics.iter().map(crate::analysis::MetricJudgement::line).collect(),
            )),
            Event::Traffic { green, .. } => s.phase(at, format!("green {green:.0}%")),
            Event::LifecycleStage { stage, .. } => s.phase(at, stage.to_string()),
            Event::Finished { outcome, exit_code, task_definition, api_calls_total, secs, .. } => {
                let text = markdown(service, &s, (outcome, *exit_code, task_definition.as_deref()), (*api_calls_total, *secs, at));
                let text = crate::taint::scrub(&text).into_owned();
                let written = std::fs::OpenOptions::new().append(true).create(true).open(&self.path).and_then(|mut f| {
                    use std::io::Write as _;
                    f.write_all(text.as_bytes())
                });
                if let Err(e) = written {
                    crate::render::errln!("warning: cannot write the GitHub step summary to {}: {e}", self.path.display());
                }
            }
            _ => {}
        }
    }
}

impl Seen {
    /// A phase that begins, unless it is the one already running.
    fn phase(&mut self, at: f64, label: String) {
        if self.phases.last().is_none_or(|(_, l)| *l != label) {
            self.phases.push((at, label));
        }
    }
}

/// Markdown cells hold no pipes nor newlines.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn markdown(service: &str, s: &Seen, (outcome, code, td): (&str, i32, Option<&str>), (calls, secs, end): (u64, f64, f64)) -> String {
    let mut o = String::new();
    let mark = if code == 0 { "✅" } else { "❌" };
    let _ = writeln!(o, "## {mark} fgdeploy release: {} — {}\n", cell(service), cell(outcome));
    let _ = writeln!(o, "| | |\n| --- | --- |");
    let _ = writeln!(o, "| outcome | {} (exit {code}) |", cell(outcome));
    if let Some(td) = td.or(s.registered.as_deref()) {
        let _ = writeln!(o, "| task definition | `{}` |", cell(td));
    }
    if let Some((image, digest)) = &s.image {
        let _ = writeln!(o, "| image | `{}`{} |", cell(image), digest.as_ref().map(|d| format!(" (`{}`)", cell(d))).unwrap_or_default());
    }
    if let Some(d) = &s.deployment {
        let _ = writeln!(o, "| deployment | `{}` |", cell(d));
    }
    let _ = writeln!(o, "| duration | {secs:.0} s |\n| AWS calls | {calls} |\n");
    o.push_str(&gantt(service, s, end));
    if !s.judged.is_empty() {
        let _ = writeln!(o, "\n| step | green | verdict | action | metrics (green vs blue) |\n| --- | --- | --- | --- | --- |");
        for (step, green, verdict, action, lines) in &s.judged {
            let _ = writeln!(
                o,
                "| {step} | {green:.0} % | {verdict} | {} | {} |",
                cell(action),
                lines.iter().map(|l| cell(l)).collect::<Vec<_>>().join("<br>")
            );
        }
    }
    if let Some(r) = &s.report {
        let _ = writeln!(o, "\n**Why:** {}\n\n**Fix:** {}\n", cell(&r.diagnosis.summary), cell(&r.diagnosis.fix));
        let _ = writeln!(
            o,
            "<details><summary>The evidence</summary>\n\n```\n{}\n```\n\n</details>",
            crate::render::report_text(r).replace("```", "'''")
        );
    }
    o.push('\n');
    o
}

/// The Mermaid gantt chart of the stages (and the rollback): start times in whole seconds since
/// the release began, a failed stage marked `crit`.
fn gantt(service: &str, s: &Seen, end: f64) -> String {
    let t0 = s.stages.first().map_or(end, |(_, at, _)| *at);
    let name: String = service.chars().filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' ')).collect();
    let mut o = format!("```mermaid\ngantt\n    title {name} release\n    dateFormat X\n    axisFormat %M:%S\n    section stages\n");
    for (i, (stage, at, secs)) in s.stages.iter().enumerate() {
        let (tag, len) = match secs {
            Some(d) => ("done", *d),
            None => ("crit", end - at),
        };
        let _ = writeln!(o, "    {} :{tag}, s{i}, {}, {}s", stage.name(), (at - t0).round() as i64, len.round().max(1.0) as i64);
    }
    if !s.phases.is_empty() {
        o.push_str("    section deployment\n");
    }
    for (i, (at, label)) in s.phases.iter().enumerate() {
        let until = s.phases.get(i + 1).map_or(end, |(next, _)| *next);
        let name: String = label.chars().filter(|c| !matches!(c, ':' | '#' | ';')).collect();
        let _ = writeln!(o, "    {name} :active, p{i}, {}, {}s", (at - t0).round() as i64, (until - at).round().max(1.0) as i64);
    }
    if let Some((at, secs)) = s.rollback {
        let len = secs.unwrap_or(end - at);
        let _ = writeln!(o, "    section rollback\n    rollback :crit, r0, {}, {}s", (at - t0).round() as i64, len.round().max(1.0) as i64);
    }
    o.push_str("```\n");
    o
}
