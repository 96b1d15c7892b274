//! Human text for events, plans, status and rollback plans.

use crate::engine::RollbackPlan;
use crate::engine::{Event, StatusReport};
use crate::plan::{Plan, Rollout, StageAction};
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    /// Progress; hidden by -q.
    Info,
    Warn,
    /// The plan, failures and the outcome: always shown.
    Result,
}

pub(super) fn rfc3339(at: f64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(at.max(0.0));
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `HH:MM:SS` (UTC).
pub(super) fn clock(at: f64) -> String {
    let s = rfc3339(at);
    s.get(11..19).unwrap_or(&s).to_string()
}

fn paint(color: bool, code: &str, s: &str) -> String {
    if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
}

/// One line for an event, or None for events shown elsewhere.
pub(super) fn event_line(e: &Event, color: bool) -> Option<(Level, String)> {
    let (level, text) = event_text(e)?;
    // Names, messages and reasons come from input files and AWS answers: a control character or
    // a newline in them must not forge a line of its own. The plan escapes its values itself.
    // A judged step's lines are escaped one by one (its metric names come from the deployspec).
    let text = if matches!(e, Event::Plan { .. } | Event::Report { .. } | Event::StepJudged { .. }) { text } else { esc(&text) };
    if matches!(e, Event::Report { .. }) {
        return Some((level, paint_report(color, &text)));
    }
    let code = match e {
        Event::Finished { exit_code, .. } => Some(if *exit_code == 0 || *exit_code == 2 { "32" } else { "31" }),
        Event::RollbackFinished { ok: false, .. } => Some("31"),
        _ if level == Level::Warn => Some("33"),
        _ => None,
    };
    Some((level, code.map_or_else(|| text.clone(), |c| paint(color, c, &text))))
}

/// The failure report coloured by severity: the verdict red, the fix bold, what could not be
/// read yellow; the evidence plain.
fn paint_report(color: bool, text: &str) -> String {
    text.lines()
        .map(|l| match l.trim_start() {
            t if t.starts_with("why: ") => paint(color, "1;31", l),
            t if t.starts_with("fix: ") => paint(color, "1", l),
            t if t.starts_with("not read: ") => paint(color, "33", l),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Control characters (newlines, escape sequences, carriage returns…) written visibly.
pub(super) fn esc(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            '\t' => "\\t".to_string(),
            c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// A CodeDeploy traffic step: the weights, the deployment's status and the latest lifecycle
/// event that has begun.
fn traffic_text(
    (blue, green): (f64, f64),
    status: &crate::states::CdStatus,
    lifecycle: &[(crate::states::CdLifecycleEvent, crate::states::CdEventStatus)],
) -> String {
    let latest = lifecycle.iter().rev().find(|(_, s)| *s != crate::states::CdEventStatus::Pending);
    format!("traffic blue {blue:.0} % · green {green:.0} % · {status}{}", latest.map(|(e, s)| format!(" · {e} {s}")).unwrap_or_default())
}

/// The target groups the canary judge compares, in CloudWatch's names.
fn canary_sides_text(green: &str, blue: &str) -> String {
    use crate::ports::arn_resource;
    format!("canary analysis compares green {} with blue {}", arn_resource(green), arn_resource(blue))
}

/// A judged step: its verdict and action, then one line a metric (each escaped on its own:
/// metric names come from the deployspec).
fn step_judged_text(
    step: u32,
    green_percent: f64,
    verdict: crate::analysis::Verdict,
    action: crate::analysis::StepAction,
    score: Option<f64>,
    metrics: &[crate::analysis::MetricJudgement],
) -> (Level, String) {
    let level = if verdict == crate::analysis::Verdict::Fail { Level::Warn } else { Level::Info };
    let score = score.map(|s| format!(" · score {s:.0} %")).unwrap_or_default();
    let lines: Vec<String> = metrics.iter().map(|m| format!("\n    {}", esc(&m.line()))).collect();
    (level, format!("step {step} (green {green_percent:.0} %) judged {verdict}{score}: {action}{}", lines.concat()))
}

fn event_text(e: &Event) -> Option<(Level, String)> {
    use Level::*;
    let color = false;
    Some(match e {
        Event::Plan { plan } => (Result, plan_text(plan)),
        Event::StageStarted { stage } => (Info, format!("▶ {}", stage.name())),
        Event::StageSkipped { stage, reason } => (Info, format!("↷ {} skipped: {reason}", stage.name())),
        Event::StageFinished { stage, secs } => (Info, format!("✔ {} done in {}", stage.name(), secs_text(*secs))),
        Event::Info { message } => (Info, message.clone()),
        Event::Warning { message } => (Warn, paint(color, "33", &format!("warning: {message}"))),
        Event::Registered { arn, revision } => (Info, format!("registered revision {revision}: {arn}")),
        Event::DeploymentStarted { deployment_id, service_deployment_arn, task_definition } => (
            Info,
            format!(
                "deployment {deployment_id} started for {task_definition}{}",
                service_deployment_arn.as_ref().map(|a| format!(" (service deployment {a})")).unwrap_or_default()
            ),
        ),
        Event::Progress { new, old, failed_tasks, rollout_state, service_deployment_status } => {
            let rollout = rollout_state.as_ref().map(|s| format!(" · rollout {s}")).unwrap_or_default();
            let sd = service_deployment_status.as_ref().map(|s| format!(" · {s}")).unwrap_or_default();
            let counts = format!("new {}/{} running ({} pending) · old {} running", new.running, new.desired, new.pending, old.running);
            (Info, format!("{counts} · failed {failed_tasks}{rollout}{sd}"))
        }
        Event::TaskFailed { task_id, reason } => (Warn, paint(color, "33", &format!("task {task_id} stopped: {reason}"))),
        Event::ServiceEvent { message } => (Info, format!("ecs: {message}")),
        Event::TaskStarted { task_id, task_definition, command } => {
            (Info, format!("task {task_id} started from {task_definition}: {}", command.join(" ")))
        }
        Event::TaskLog { line } => (Info, format!("  │ {line}")),
        Event::LifecycleStage { stage, status } => (Info, format!("stage {stage} ({status})")),
        Event::Traffic { blue, green, status, lifecycle } => (Info, traffic_text((*blue, *green), status, lifecycle)),
        Event::BuildLog { line } => (Info, format!("  ┆ {line}")),
        Event::ImagePushed { image, digest } => {
            (Info, format!("pushed {image}{}", digest.as_ref().map(|d| format!(" ({d})")).unwrap_or_default()))
        }
        Event::TaskStopped { task_id, stop_code, reason, exit_codes } => {
            (Info, task_stopped_text(task_id, stop_code.as_deref(), reason.as_deref(), exit_codes))
        }
        Event::RollbackStarted { reason, to, how } => (Warn, paint(color, "33", &format!("rolling back to {to} ({how}): {reason}"))),
        Event::Report { report } => (Result, report_text(report)),
        Event::CanarySides { green_target_group: g, blue_target_group: b } => (Info, canary_sides_text(g, b)),
        Event::StepJudged { step, green_percent, verdict, action, score, metrics, .. } => {
            step_judged_text(*step, *green_percent, *verdict, *action, *score, metrics)
        }
        Event::RollbackFinished { ok, serving } => {
            if *ok {
                (Warn, paint(color, "33", &format!("rollback finished: serving {serving}")))
            } else {
                (Result, paint(color, "31", "rollback did not finish"))
            }
        }
        Event::Finished { outcome, exit_code, message, api_calls_total, secs, .. } => {
            (Result, finished_text(outcome, *exit_code, message, (*api_calls_total, *secs)))
        }
    })
}

/// The last line: the outcome, the exit code, the time and the AWS calls (a failure's message is
/// the error, which the edge prints once, in full).
fn finished_text(outcome: &str, exit_code: i32, message: &str, (api_calls_total, secs): (u64, f64)) -> String {
    let ok = exit_code == 0 || exit_code == 2;
    let text = format!(
        "{outcome} (exit {exit_code}) in {} with {api_calls_total} AWS calls{}",
        secs_text(secs),
        if ok { format!(": {}", message.lines().next().unwrap_or("")) } else { String::new() }
    );
    paint(false, if ok { "32" } else { "31" }, &text)
}

/// The failure report (#26): the verdict and the fix first, then the stopped tasks with their
/// exit codes and last log lines, the service's last events, and what could not be read. Every
/// value from AWS is escaped on its own line.
pub(crate) fn report_text(r: &crate::engine::report::FailureReport) -> String {
    let d = &r.diagnosis;
    let mut o = String::new();
    let _ = writeln!(o, "why: {}", esc(&d.summary));
    let _ = writeln!(o, "  fix: {}", esc(&d.fix));
    let ev = &r.evidence;
    if !ev.stopped_tasks.is_empty() {
        let _ = writeln!(o, "  stopped tasks of {} ({}):", esc(&r.deployment), ev.stopped_tasks.len());
    }
    for t in ev.stopped_tasks.iter().take(5) {
        let code = t.stop_code.as_ref().map_or("-", |c| c.as_str());
        let _ = writeln!(o, "    {} {code}: {}", esc(&t.task_id), esc(t.stopped_reason.as_deref().unwrap_or("-")));
        for c in &t.containers {
            let exit = c.exit_code.map_or("no exit code".into(), |x| format!("exit {x}"));
            let reason = c.reason.as_deref().map(|r| format!(" ({})", esc(r))).unwrap_or_default();
            let _ = writeln!(o, "      {} {exit}{reason}", esc(&c.name));
        }
        for l in &t.logs {
            match &l.elsewhere {
                Some(w) => {
                    let _ = writeln!(o, "      {} logs: {}", esc(&l.container), esc(w));
                }
                None => l.lines.iter().for_each(|line| {
                    let _ = writeln!(o, "      │ {}: {}", esc(&l.container), esc(line));
                }),
            }
        }
    }
    if !ev.targets.is_empty() {
        let _ = writeln!(o, "  load balancer targets ({}):", ev.targets.len());
        for t in ev.targets.iter().take(6) {
            let why = [t.reason.as_deref(), t.description.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(": ");
            let line = format!("{} {} {}", esc(&t.target), t.state, esc(&why));
            let _ = writeln!(o, "    {}", line.trim_end());
        }
    }
    report_alarms_text(&mut o, ev);
    if let Some(cd) = &ev.codedeploy {
        let events: Vec<String> = cd.lifecycle.iter().map(|(e, s)| format!("{e} {s}")).collect();
        let _ = writeln!(o, "  CodeDeploy {} target {}: {}", esc(&cd.deployment), esc(&cd.target), esc(&events.join(", ")));
        for f in &cd.failures {
            let what = [f.error_code.as_deref(), f.script_name.as_deref(), f.message.as_deref()].into_iter().flatten().collect::<Vec<_>>();
            let _ = writeln!(o, "    {} {}: {}", f.event, f.status, esc(&what.join(": ")));
            for line in f.log_tail.as_deref().unwrap_or_default().lines().rev().take(10).collect::<Vec<_>>().into_iter().rev() {
                let _ = writeln!(o, "      │ {}", esc(line));
            }
        }
    }
    report_timeline_text(&mut o, ev);
    for u in &ev.unread {
        let _ = writeln!(o, "  not read: {}", esc(u));
    }
    o.trim_end().to_string()
}

/// Lines of the merged timeline the terminal report shows (the JSON has them all).
const TIMELINE_LINES: usize = 14;

/// The deployment's timeline: ECS's service events and fgdeploy's decisions, by time.
fn report_timeline_text(o: &mut String, ev: &crate::engine::report::Evidence) {
    let ecs = ev.timeline.iter().map(|(t, m)| (t.unwrap_or(f64::MIN), "ECS", m));
    let mut lines: Vec<(f64, &str, &String)> = ecs.chain(ev.decisions.iter().map(|(t, m)| (*t, "fgdeploy", m))).collect();
    lines.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    // A message ECS repeats while it retries (capacity, placement) is one line, counted.
    let mut runs: Vec<(f64, f64, &str, &String, usize)> = Vec::new();
    for (t, who, m) in lines {
        match runs.last_mut() {
            Some(last) if last.2 == who && last.3 == m => {
                last.1 = t;
                last.4 += 1;
            }
            _ => runs.push((t, t, who, m, 1)),
        }
    }
    if runs.is_empty() {
        return;
    }
    let _ = writeln!(o, "  timeline (last {} of {}):", runs.len().min(TIMELINE_LINES), runs.len());
    let at = |t: f64| if t == f64::MIN { "--:--:--".to_string() } else { clock(t) };
    for (from, to, who, m, n) in runs.iter().skip(runs.len().saturating_sub(TIMELINE_LINES)) {
        let repeated = if *n > 1 { format!(" (×{n}, until {})", at(*to)) } else { String::new() };
        let _ = writeln!(o, "    {} {who:<8} {}{repeated}", at(*from), esc(m));
    }
}

/// The deployment alarms' state and the history of those in ALARM.
fn report_alarms_text(o: &mut String, ev: &crate::engine::report::Evidence) {
    if ev.alarms.is_empty() {
        return;
    }
    let _ = writeln!(o, "  deployment alarms ({}):", ev.alarms.len());
    for a in &ev.alarms {
        let metric = [a.metric.as_deref(), a.condition.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ");
        let _ = writeln!(o, "    {} {} ({}): {}", esc(&a.name), a.state, esc(&metric), esc(a.reason.as_deref().unwrap_or("-")));
    }
    for h in &ev.alarm_history {
        let _ = writeln!(o, "    {} {}", esc(&h.alarm), esc(&h.summary));
    }
}

fn task_stopped_text(task_id: &str, stop_code: Option<&str>, reason: Option<&str>, exit_codes: &[(String, Option<i32>)]) -> String {
    let codes: Vec<String> = exit_codes.iter().map(|(n, c)| format!("{n}={}", c.map_or("none".into(), |c| c.to_string()))).collect();
    format!("task {task_id} stopped: {} ({}); exit codes: {}", stop_code.unwrap_or("-"), reason.unwrap_or("-"), codes.join(", "))
}

fn secs_text(s: f64) -> String {
    if s >= 60.0 { format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64) } else { format!("{s:.1}s") }
}

pub fn plan_text(p: &Plan) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "Plan for service {} in cluster {}", esc(&p.service), esc(&p.cluster));
    let _ = writeln!(o, "  image: {}{}", esc(&p.image), p.image_digest.as_ref().map(|d| format!(" ({})", esc(d))).unwrap_or_default());
    for i in p.images.iter().skip(1) {
        let state = match (i.action, &i.digest) {
            (a, _) if a.builds() => "built by this release".to_string(),
            (_, Some(d)) => format!("exists, {d}"),
            (_, None) => "not in its registry".to_string(),
        };
        let _ = writeln!(o, "  image of {}: {} ({})", esc(&i.container), esc(&i.image), esc(&state));
    }
    if let Some(l) = &p.live_image {
        let _ = writeln!(o, "  live:  {} ({})", l, p.live_task_definition.as_deref().unwrap_or("-"));
    }
    let _ = writeln!(o, "Stages:");
    for s in &p.stages {
        match &s.action {
            StageAction::Run { detail } => {
                let _ = writeln!(o, "  + {:<8} {}", s.stage.name(), esc(detail));
            }
            StageAction::Skip { reason } => {
                let _ = writeln!(o, "  · {:<8} skip: {}", s.stage.name(), esc(reason));
            }
        }
    }
    if let Some(m) = &p.migration {
        migration_text(&mut o, m);
    }
    changes_text(&mut o, "Task definition", &p.task_definition_changes);
    changes_text(&mut o, "Service", &p.service_changes);
    rollout_text(&mut o, &p.rollout);
    if let Some(a) = &p.analysis {
        let _ = writeln!(o, "Canary analysis (green against blue, on the same traffic):");
        for s in a.steps.iter().chain(&a.metrics) {
            let _ = writeln!(o, "  {}", esc(s));
        }
    }
    if !p.lookups.is_empty() {
        let _ = writeln!(o, "Lookups:");
        for l in &p.lookups {
            let _ = writeln!(o, "  {} = {}", esc(&l.lookup), esc(&l.value));
        }
    }
    for n in &p.notes {
        let _ = writeln!(o, "Note: {}", esc(n));
    }
    let _ = write!(o, "{}", if p.has_changes { "Result: changes pending" } else { "Result: no changes" });
    o
}

fn migration_text(o: &mut String, m: &crate::plan::MigrationPlan) {
    let _ =
        writeln!(o, "Migration task: {:?} in container {} ({}), timeout {}s", m.command.join(" "), m.container, m.image, m.timeout_secs);
    if let Some(n) = &m.network {
        let _ = writeln!(
            o,
            "  network: subnets {} · security groups {} · public IP {}",
            n.subnets.join(","),
            n.security_groups.join(","),
            if n.assign_public_ip { "ENABLED" } else { "DISABLED" }
        );
    }
}

/// `<what>: no changes`, or `<what> changes:` and one line a change.
fn changes_text(o: &mut String, what: &str, changes: &[crate::diff::Change]) {
    if changes.is_empty() {
        let _ = writeln!(o, "{what}: no changes");
        return;
    }
    let _ = writeln!(o, "{what} changes:");
    for c in changes {
        let _ = writeln!(o, "  {}", esc(&c.to_string()));
    }
}

pub fn status_text(s: &StatusReport) -> String {
    let mut o = String::new();
    let svc = &s.service;
    let _ =
        writeln!(o, "Service {} ({}) · {} · controller {}", esc(&svc.name), esc(&svc.cluster_arn), svc.status, svc.deployment_controller);
    let _ = writeln!(o, "  tasks: {} running, {} pending, {} desired", svc.running_count, svc.pending_count, svc.desired_count);
    let _ = writeln!(o, "  task definition: {}", svc.task_definition);
    if let Some(i) = &s.image {
        let _ = writeln!(o, "  image: {i}");
    }
    let _ = writeln!(o, "Deployments:");
    for d in &svc.deployments {
        let _ = writeln!(
            o,
            "  {} {} {} · {}/{} running, {} pending, {} failed · {}",
            d.status,
            d.id,
            d.task_definition,
            d.running,
            d.desired,
            d.pending,
            d.failed_tasks,
            d.rollout_state.as_ref().map_or("-", |r| r.as_str())
        );
        if let Some(r) = &d.rollout_state_reason {
            let _ = writeln!(o, "      {r}");
        }
    }
    if let Some(sd) = &s.service_deployment {
        let _ = writeln!(
            o,
            "Service deployment {}: {}{}{}",
            sd.arn,
            sd.status,
            sd.lifecycle_stage.as_ref().map(|st| format!(" at {st}")).unwrap_or_default(),
            sd.status_reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
        );
        for h in &sd.hooks {
            let _ = writeln!(
                o,
                "  hook {} ({}): {}",
                h.hook_id,
                h.target_type.as_ref().map_or("-", |t| t.as_str()),
                h.status.as_ref().map_or("-", |s| s.as_str())
            );
        }
    }
    if let Some(cd) = &s.codedeploy {
        codedeploy_text(&mut o, cd);
    }
    let _ = writeln!(o, "Last events:");
    for e in svc.events.iter().take(5) {
        let _ = writeln!(o, "  {} {}", e.created_at.map(clock).unwrap_or_default(), esc(&e.message));
    }
    o.trim_end().to_string()
}

fn codedeploy_text(o: &mut String, cd: &crate::engine::CodeDeployStatus) {
    let Some(d) = &cd.deployment else {
        let _ = writeln!(o, "CodeDeploy {}/{}: no deployment in progress", cd.application, cd.deployment_group);
        return;
    };
    let _ = writeln!(o, "CodeDeploy {}/{}: deployment {} {}", cd.application, cd.deployment_group, d.id, d.status);
    for t in cd.target.iter().flat_map(|t| t.task_sets.iter()) {
        let _ = writeln!(
            o,
            "  {} task set {} · {}/{} running · {:.0} % of traffic · {}",
            t.label.as_ref().map_or("?", |l| l.as_str()),
            t.id,
            t.running,
            t.desired,
            t.traffic_weight,
            t.target_group.as_deref().unwrap_or("-")
        );
    }
}

pub fn rollback_plan_text(p: &RollbackPlan) -> String {
    match p.action.as_str() {
        "stop-in-flight" => format!("Rollback: stop the deployment in progress ({}) and restore {}", p.current, p.target),
        _ if p.current == p.target => format!("Rollback: {} is already serving; nothing to do", p.current),
        _ => format!("Rollback: redeploy {} (from {}) in place of {}", p.target, p.source, p.current),
    }
}

/// The rollout schedule of a plan.
fn rollout_text(o: &mut String, rollout: &Rollout) {
    match rollout {
        Rollout::Rolling(r) => {
            let _ = writeln!(
                o,
                "Rollout (rolling): {} task(s), min {}% → at least {} healthy, max {}% → at most {} running or pending",
                r.desired, r.minimum_healthy_percent, r.floor_tasks, r.maximum_percent, r.ceiling_tasks
            );
            for s in &r.steps {
                let _ = writeln!(o, "  {}", esc(s));
            }
            for w in &r.warnings {
                let _ = writeln!(o, "  warning: {w}");
            }
        }
        Rollout::BlueGreen { deployment_config, steps } => {
            let _ = writeln!(o, "Rollout (blue/green, {deployment_config}):");
            for s in steps {
                let _ = writeln!(o, "  {}", esc(s));
            }
        }
    }
}

/// `history`: one line per deployment, newest first.
/// `fgdeploy lock status|break`: the lease, its holder and its journal.
pub fn lock_text(l: &crate::engine::LockStatus, now: f64) -> String {
    use crate::engine::LeaseState;
    let mut o = String::new();
    let state = match l.state {
        LeaseState::Free => "free (never taken)",
        LeaseState::Held => "held",
        LeaseState::Expired => "expired (its run stopped renewing it: the next run takes it over)",
        LeaseState::Released => "released",
    };
    let _ = writeln!(o, "lease s3://{}/{}: {state}", esc(&l.bucket), esc(&l.key));
    let Some(r) = &l.record else { return o.trim_end().to_string() };
    let _ = writeln!(o, "  holder:  {}", esc(&r.holder.describe()));
    let _ = writeln!(o, "  phase:   {}", esc(&r.phase));
    let _ = writeln!(o, "  started: {} ({:.0} s ago)", rfc3339(r.started), now - r.started);
    let _ = writeln!(o, "  expires: {} (in {:.0} s)", rfc3339(r.expires), r.expires - now);
    if let Some(rel) = &r.released {
        let _ = writeln!(o, "  released: {} ({})", rfc3339(rel.at), esc(&rel.how));
    }
    let j = &r.journal;
    let entries = [
        ("image", &j.image),
        ("digest", &j.digest),
        ("migration task", &j.migration_task),
        ("revision", &j.revision),
        ("deployment", &j.deployment),
        ("gate", &j.gate),
        ("outcome", &j.outcome),
    ];
    for (what, v) in entries.iter().filter_map(|(w, v)| v.as_ref().map(|v| (w, v))) {
        let _ = writeln!(o, "  {what}: {}", esc(v));
    }
    o.trim_end().to_string()
}

pub fn history_text(h: &crate::engine::HistoryReport) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "Deployments of service {} in cluster {} (newest first)", esc(&h.service), esc(&h.cluster));
    if h.entries.is_empty() {
        let _ = writeln!(o, "  none listed (ECS keeps service deployments for 90 days)");
    }
    for e in &h.entries {
        let revision = e.task_definition.as_deref().map_or("-", |td| td.rsplit('/').next().unwrap_or(td));
        let _ = writeln!(
            o,
            "  {}  {:<20} {:<12} {}  {}",
            e.created_at.map_or("-".to_string(), rfc3339),
            e.status.as_str(),
            esc(revision),
            e.duration_secs.map_or("…".to_string(), |d| format!("{d:.0} s")),
            esc(e.image.as_deref().unwrap_or("-")),
        );
        if let Some(r) = &e.reason {
            let _ = writeln!(o, "      {}", esc(r));
        }
    }
    o.trim_end().to_string()
}

/// `verify`: one line per check.
pub fn verify_text(r: &crate::engine::VerifyReport) -> String {
    let mut o = String::new();
    for k in &r.checks {
        let mark = match k.ok {
            Some(true) => "ok     ",
            Some(false) => "MISSING",
            None => "?      ",
        };
        let _ = writeln!(o, "  {mark} {}: {}", esc(&k.what), esc(&k.detail));
    }
    let problems = r.checks.iter().filter(|k| k.ok == Some(false)).count();
    let _ = write!(o, "{} checked, {problems} problem(s)", r.checks.len());
    o
}
