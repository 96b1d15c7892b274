//! Watching one rolling deployment: the polling loop around [`decide`], its progress events and
//! the failed tasks' reasons.

use super::Rolling;
use super::decide::{FailKind, Tracker, Verdict, decide};
use crate::engine::pace::{RollingForecast, RollingLook, RollingPace, previous_rollout_secs};
use crate::engine::watch::{Cut, Limit, Next, Pause, Watched};
use crate::engine::{Counts, Event};
use crate::error::{Error, Result};
use crate::ports::{PortError, ServiceDeployment, ServiceState};
use crate::states::{RolloutState, SdStatus};
use std::collections::BTreeSet;
use std::time::Duration;

/// How often the service deployment is read when DescribeServices shows nothing decisive.
const SD_SAFETY_NET_SECS: f64 = 60.0;

/// What the watch loop remembers between ticks.
#[derive(Default)]
pub(crate) struct WatchState {
    seen_events: BTreeSet<String>,
    seen_failed: BTreeSet<String>,
    last_fingerprint: String,
    last_failed_count: i32,
    /// Tasks failed since the last report of their stopped reasons (reported after the reaction
    /// when the same poll decided the deployment failed: react first, diagnose after).
    pub(crate) failed_unreported: bool,
    last_sd: Option<ServiceDeployment>,
    /// The counts and states that mark progress (not pending counts, not events).
    last_progress: String,
    /// When the service deployment was last read.
    sd_read_at: f64,
    /// The endpoint has no service-deployment API, or fgdeploy may not call it.
    sd_unavailable: bool,
    /// DescribeServices answered the service under `failures` (MISSING) this many times in a row.
    missing_reads: u32,
    /// An unknown service-deployment status was named once.
    unknown_status_warned: bool,
    /// Tasks of the old revisions running when the deployment started.
    old_running_at_start: i32,
    /// The canary judge (#29) of a release with `[analysis]`: its deployspec and state.
    pub(crate) judge: Option<(Box<crate::spec::Spec>, super::steps::RollingJudging)>,
}

impl WatchState {
    /// A fresh watch (of a rollback) that knows the events and failed tasks already shown.
    pub(crate) fn continuing(&self) -> Self {
        WatchState { seen_events: self.seen_events.clone(), seen_failed: self.seen_failed.clone(), ..Default::default() }
    }

    /// Events that existed before the release are not news; its counts are the starting point.
    pub(crate) fn baseline(svc: &ServiceState, target_td: &str) -> Self {
        WatchState {
            seen_events: svc.events.iter().map(|e| e.id.clone()).collect(),
            last_progress: progress_key(svc, None, target_td),
            ..Default::default()
        }
    }

    /// The service as UpdateService answered and its service deployment as read when it was
    /// found: progress is counted from there, and the first poll need not read it again.
    pub(crate) fn started(mut self, svc: &ServiceState, sd: Option<ServiceDeployment>, target_td: &str, read_at: f64) -> Self {
        self.last_progress = progress_key(svc, sd.as_ref(), target_td);
        self.old_running_at_start = svc.deployments.iter().filter(|d| d.task_definition != target_td).map(|d| d.running).sum();
        self.sd_read_at = read_at;
        self.last_sd = sd;
        self
    }
}

/// What changes when a rolling deployment moves: tasks of the target revision running or
/// failed, rollout and service-deployment states, the number of deployments.
fn progress_key(svc: &ServiceState, sd: Option<&ServiceDeployment>, target_td: &str) -> String {
    let (mut running, mut failed, mut rollout) = (0, 0, None);
    for d in svc.deployments.iter().filter(|d| d.task_definition == target_td) {
        running += d.running;
        failed += d.failed_tasks;
        rollout = d.rollout_state.clone();
    }
    format!("{running}/{failed}/{rollout:?}/{:?}/{}", sd.map(|s| &s.status), svc.deployments.len())
}

/// A rolling deployment (or the deployment a rollback started), looked at through
/// [`Engine::drive`]: one DescribeServices a look, the pace forecast choosing the next.
struct RollingWatch<'a> {
    e: Rolling<'a>,
    t: &'a Tracker,
    ws: &'a mut WatchState,
    target_td: &'a str,
    pace: RollingPace,
    last: Option<ServiceState>,
}

impl Rolling<'_> {
    /// The pace forecast for a rolling deployment replacing `svc`'s tasks: one DescribeTasks of
    /// the tasks its last rollout started; no forecast (adaptive polling) when ECS cannot say.
    pub(crate) async fn rolling_forecast(&self, _cluster: &str, svc: &ServiceState) -> RollingForecast {
        // The last rollout's duration, from what DescribeServices already said (no call).
        RollingForecast { completes: previous_rollout_secs(svc) }
    }

    /// Watch until `decide` says success or failure. Returns the verdict and the last snapshot.
    pub(crate) async fn watch(&self, t: &Tracker, ws: &mut WatchState, target_td: &str) -> Result<(Verdict, Option<ServiceState>)> {
        let mut pace = RollingPace::new(t.started_at, t.forecast.completes, ws.old_running_at_start);
        // Watched by events, the forecast only matters if the events stop.
        if let Some(d) = t.forecast.describe().filter(|_| !crate::engine::feed::Feeds(self.0).live()) {
            self.info(d);
        }
        // The UpdateService answer is the first look; the next is worth a call at the forecast.
        let first = Duration::from_secs_f64(pace.first(self.ports.clock.now()));
        let mut w = RollingWatch { e: *self, t, ws, target_td, pace, last: None };
        self.drive(&mut w, first).await
    }

    /// One DescribeServices per tick; DescribeServiceDeployments only when the service shows
    /// that something decisive may have happened (our deployment no longer IN_PROGRESS, another
    /// PRIMARY), or when it was last read [`SD_SAFETY_NET_SECS`] ago (ECS may stop or roll back
    /// a service deployment before DescribeServices shows it).
    pub(crate) async fn observe_once(
        &self,
        t: &Tracker,
        ws: &mut WatchState,
    ) -> std::result::Result<(ServiceState, Option<ServiceDeployment>), PortError> {
        let Some(svc) = self.ports.ecs.describe_service(&t.cluster, &t.service).await? else {
            // DescribeServices is eventually consistent: one MISSING is read again (the driver
            // backs off on a transient error); only three in a row mean the service is gone.
            ws.missing_reads += 1;
            let message = format!("service {} is MISSING in DescribeServices ({} reads in a row)", t.service, ws.missing_reads);
            return Err(if ws.missing_reads < 3 {
                PortError::Transient { op: "ecs:DescribeServices".into(), message }
            } else {
                PortError::NotFound { op: "ecs:DescribeServices".into(), message: format!("{message}: it disappeared during the release") }
            });
        };
        ws.missing_reads = 0;
        let now = self.ports.clock.now();
        let ours = svc.deployment(&t.deployment_id);
        let decisive =
            ours.is_none_or(|d| d.rollout_state != Some(RolloutState::InProgress)) || svc.primary().is_none_or(|p| p.id != t.deployment_id);
        if let Some(arn) = &t.service_deployment_arn
            && !ws.sd_unavailable
            && (decisive || now - ws.sd_read_at >= SD_SAFETY_NET_SECS)
        {
            ws.sd_read_at = now;
            match self.ports.ecs.describe_service_deployments(std::slice::from_ref(arn)).await {
                Ok(sds) => ws.last_sd = sds.into_iter().next(),
                Err(e) if crate::engine::sd_api_refused(&e) => {
                    // One rule for every path: a refused service-deployment API (not there, or
                    // AccessDenied) means following the deployment by its id, said once.
                    ws.sd_unavailable = true;
                    self.warn(crate::engine::sd_api_fallback_message(&e));
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(sd) = &ws.last_sd
            && let SdStatus::Unknown(text) = &sd.status
            && !ws.unknown_status_warned
        {
            ws.unknown_status_warned = true;
            self.warn(format!(
                "service deployment {} has status {text}, which this build does not know; its outcome is read from DescribeServices (rolloutState) instead",
                sd.arn
            ));
        }
        Ok((svc, ws.last_sd.clone()))
    }

    /// Emit progress and new service events, and note newly failed tasks (their reasons are
    /// fetched by [`Engine::report_failed_tasks`]). Returns whether anything changed.
    pub(crate) fn report_progress(&self, ws: &mut WatchState, svc: &ServiceState, sd: Option<&ServiceDeployment>, target_td: &str) -> bool {
        let mut new = Counts::default();
        let mut old = Counts::default();
        let mut failed = 0;
        let mut rollout = None;
        for d in &svc.deployments {
            let c = if d.task_definition == target_td { &mut new } else { &mut old };
            c.running += d.running;
            c.pending += d.pending;
            c.desired += d.desired;
            if d.task_definition == target_td {
                failed += d.failed_tasks;
                rollout = d.rollout_state.clone();
            }
        }
        let sd_status = sd.map(|s| s.status.clone());
        let newest_event = svc.events.first().map(|e| e.id.clone()).unwrap_or_default();
        let fingerprint = format!("{new:?}{old:?}{failed}{rollout:?}{sd_status:?}{newest_event}{}", svc.deployments.len());
        let changed = fingerprint != ws.last_fingerprint;
        if changed {
            self.emit(Event::Progress {
                new,
                old,
                failed_tasks: failed,
                rollout_state: rollout.map(|r| r.to_string()),
                service_deployment_status: sd_status.map(|s| s.to_string()),
            });
            ws.last_fingerprint = fingerprint;
        }
        for e in svc.events.iter().rev() {
            if ws.seen_events.insert(e.id.clone()) {
                self.emit(Event::ServiceEvent { message: e.message.clone() });
            }
        }
        if failed > ws.last_failed_count {
            ws.failed_unreported = true;
        }
        ws.last_failed_count = failed;
        changed
    }

    /// ListTasks(startedBy = deployment id, STOPPED) + DescribeTasks for the stoppedReason.
    pub(crate) async fn report_failed_tasks(&self, t: &Tracker, ws: &mut WatchState) {
        ws.failed_unreported = false;
        let arns = match self.ports.ecs.list_tasks(&t.cluster, &t.deployment_id, true).await {
            Ok(a) => a,
            Err(e) => {
                self.warn(format!("cannot list failed tasks: {e}"));
                return;
            }
        };
        let fresh: Vec<String> = arns.into_iter().filter(|a| !ws.seen_failed.contains(a)).take(100).collect();
        if fresh.is_empty() {
            return;
        }
        match self.ports.ecs.describe_tasks(&t.cluster, &fresh).await {
            Ok(tasks) => {
                for task in tasks {
                    ws.seen_failed.insert(task.arn.clone());
                    let reason = task
                        .stopped_reason
                        .clone()
                        .or(task.stop_code.as_ref().map(ToString::to_string))
                        .unwrap_or_else(|| "stopped".into());
                    self.emit(Event::TaskFailed { task_id: task.id().to_string(), reason });
                }
            }
            Err(e) => self.warn(format!("cannot describe failed tasks: {e}")),
        }
    }
}

/// What the pace needs of one DescribeServices: old tasks running, the new deployment's tasks
/// running, pending and failed while it is in progress, and the breaker's threshold.
fn rolling_look(t: &Tracker, svc: &ServiceState, changed: bool) -> RollingLook {
    let old_running = svc.deployments.iter().filter(|d| d.id != t.deployment_id).map(|d| d.running).sum();
    let ours = svc.deployment(&t.deployment_id).filter(|d| d.rollout_state == Some(RolloutState::InProgress));
    let failed = ours.map_or(0, |d| d.failed_tasks);
    let breaker = svc
        .deployment_config
        .circuit_breaker
        .as_ref()
        .filter(|c| c.enable)
        .map(|c| c.threshold_for(ours.map_or(svc.desired_count, |d| d.desired)));
    let (new_running, new_pending) = ours.map_or((0, 0), |d| (d.running, d.pending));
    RollingLook { old_running, changed, failed, breaker, new_running, new_pending }
}

impl Watched for RollingWatch<'_> {
    type Out = (Verdict, Option<ServiceState>);

    fn limit(&self) -> Limit {
        Limit { at: self.t.deadline, setting: self.t.timeout_setting.name(), what: "the deployment", interruptible: true }
    }

    fn evented(&self) -> bool {
        true
    }

    async fn look(&mut self, now: f64) -> Result<Next<Self::Out>> {
        let (e, t) = (self.e, self.t);
        let (svc, sd) = e.observe_once(t, self.ws).await.map_err(Error::Aws)?;
        let changed = e.report_progress(self.ws, &svc, sd.as_ref(), self.target_td);
        self.ws.last_progress = progress_key(&svc, sd.as_ref(), self.target_td);
        let look = rolling_look(t, &svc, changed);
        let verdict = decide(t, &svc, sd.as_ref(), now);
        if verdict != Verdict::Continue {
            return Ok(Next::Done((verdict, Some(svc))));
        }
        // With a judge, a rollout in progress is looked at every minute (the minutes in which
        // both revisions serve are the only ones it can judge).
        let judging = self.ws.judge.is_some() && look.old_running > 0;
        if let Some((spec, j)) = self.ws.judge.as_mut()
            && let Some(why) = e.judge_rollout(spec, (t, &svc, &look), j, now).await?
        {
            return Ok(Next::Done((Verdict::Failed(FailKind::Failed(why)), Some(svc))));
        }
        self.last = Some(svc);
        // Failed tasks' reasons (ListTasks + DescribeTasks) are read after the reaction: while
        // the rollout goes on, the breaker decides, and the progress line counts them.
        let secs = self.pace.next(now, look);
        // While both revisions serve, the judge looks every minute.
        let secs = if judging { secs.min(60.0) } else { secs };
        Ok(Next::Again(Pause::after(Duration::from_secs_f64(secs), changed)))
    }

    async fn cut(&mut self, why: Cut) -> Result<Next<Self::Out>> {
        let kind = match why {
            Cut::Interrupt => FailKind::Interrupted,
            Cut::Deadline => FailKind::Timeout(self.t.timeout_setting),
        };
        Ok(Next::Done((Verdict::Failed(kind), self.last.take())))
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{dep, svc};
    use super::*;

    #[test]
    fn a_watch_starts_from_what_was_already_shown() {
        let mut s = svc(vec![dep("d1", "PRIMARY", "new", "IN_PROGRESS")]);
        s.events = vec![crate::ports::ServiceEvent { id: "e1".into(), created_at: None, message: "old news".into() }];
        let ws = WatchState::baseline(&s, "new");
        assert!(ws.seen_events.contains("e1"), "events from before the release are not news");
        assert_eq!(ws.last_progress, progress_key(&s, None, "new"));
        assert_ne!(ws.last_progress, WatchState::default().last_progress);
        let mut shown = ws;
        shown.seen_failed.insert("task-1".into());
        shown.last_fingerprint = "x".into();
        let next = shown.continuing();
        assert!(next.seen_events.contains("e1") && next.seen_failed.contains("task-1"), "a rollback's watch does not show them again");
        assert!(next.last_fingerprint.is_empty(), "but shows its own progress afresh");
    }
}
