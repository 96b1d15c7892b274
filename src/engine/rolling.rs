//! Watching one rolling deployment: the pure decision ([`decide`]) and the polling loop around it.

use super::pace::{RollingForecast, RollingLook, RollingPace, previous_rollout_secs};
use super::watch::{Cut, Limit, Next, Pause, Watched};
use super::{Counts, Engine, Event, TimeoutSetting};
use crate::error::{Error, Result};
use crate::ports::{PortError, ServiceDeployment, ServiceState, Timestamp};
use crate::states::{RolloutState, SdStatus};
use std::collections::BTreeSet;
use std::time::Duration;

/// What fgdeploy knows about the deployment it started.
#[derive(Debug, Clone)]
pub struct Tracker {
    pub cluster: String,
    pub service: String,
    /// `ecs-svc/…` of the deployment UpdateService created.
    pub deployment_id: String,
    /// The service-deployment ARN, when the endpoint has that API.
    pub service_deployment_arn: Option<String>,
    pub new_td: String,
    pub previous_td: String,
    /// The desired count to restore with a rollback by UpdateService; `None` leaves the count as
    /// it is (Application Auto Scaling owns it, or fgdeploy does not know the earlier one).
    pub previous_desired: Option<i32>,
    /// ECS itself rolls back on a circuit-breaker or alarm failure.
    pub ecs_rolls_back: bool,
    pub started_at: Timestamp,
    pub deadline: Timestamp,
    /// Where `deadline` comes from (named in the timeout message).
    pub timeout_setting: TimeoutSetting,
    /// When this deployment can next change, from the service's previous rollout.
    pub forecast: RollingForecast,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FailKind {
    /// ECS is rolling back (or has rolled back) by itself: wait for it.
    EcsRollingBack(String),
    /// The deployment failed and ECS will not roll back: fgdeploy must.
    Failed(String),
    /// Somebody else's deployment replaced ours.
    Replaced(String),
    /// The deadline passed; the setting that set it.
    Timeout(TimeoutSetting),
    Interrupted,
    /// ECS reports that its own rollback failed.
    RollbackFailed(String),
}

impl FailKind {
    pub fn describe(&self) -> String {
        match self {
            FailKind::EcsRollingBack(r) => format!("the deployment failed and ECS is rolling back: {r}"),
            FailKind::Failed(r) => format!("the deployment failed: {r}"),
            FailKind::Replaced(td) => format!("another deployment replaced this release (now deploying {td})"),
            FailKind::Timeout(setting) => format!("the deployment did not finish within {setting}"),
            FailKind::Interrupted => "interrupted (Ctrl-C / SIGTERM)".into(),
            FailKind::RollbackFailed(r) => format!("ECS's rollback failed: {r}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Continue,
    Success,
    Failed(FailKind),
}

/// Decide from one snapshot whether *this* deployment succeeded, failed or goes on.
/// Success needs this deployment COMPLETED (and its service deployment SUCCESSFUL when known)
/// with the new task definition PRIMARY; "services stable" alone is never success.
pub fn decide(t: &Tracker, svc: &ServiceState, sd: Option<&ServiceDeployment>, now: Timestamp) -> Verdict {
    let primary = svc.primary();
    if let Some(failed) = sd.and_then(|sd| decide_by_service_deployment(t, sd, primary)) {
        return Verdict::Failed(failed);
    }
    let ours = svc.deployment(&t.deployment_id);
    if let Some(d) = ours
        && d.rollout_state == Some(RolloutState::Failed)
    {
        let reason = d.rollout_state_reason.clone().unwrap_or_else(|| "rolloutState FAILED".into());
        return if t.ecs_rolls_back {
            Verdict::Failed(FailKind::EcsRollingBack(reason))
        } else {
            Verdict::Failed(FailKind::Failed(reason))
        };
    }
    match primary {
        Some(p) if p.id != t.deployment_id => {
            if p.task_definition == t.previous_td && t.ecs_rolls_back {
                return Verdict::Failed(FailKind::EcsRollingBack(
                    p.rollout_state_reason.clone().unwrap_or_else(|| "ECS started a rollback deployment".into()),
                ));
            }
            return Verdict::Failed(FailKind::Replaced(p.task_definition.clone()));
        }
        None if !svc.deployments.is_empty() => return Verdict::Failed(FailKind::Replaced("(no PRIMARY deployment)".into())),
        _ => {}
    }
    if let Some(d) = ours
        && d.task_definition == t.new_td
    {
        let completed = match &d.rollout_state {
            Some(RolloutState::Completed) => true,
            Some(RolloutState::InProgress | RolloutState::Failed | RolloutState::Unknown(_)) => false,
            // Services without rolloutState (classic load balancers): one deployment at its count.
            None => svc.deployments.len() == 1 && d.running == d.desired,
        };
        // A status newer than this build says nothing either way: DescribeServices decides.
        let sd_ok = sd.is_none_or(|sd| matches!(sd.status, SdStatus::Successful | SdStatus::Unknown(_)));
        if completed && sd_ok {
            return Verdict::Success;
        }
    }
    if now >= t.deadline {
        if let Some(sd) = sd
            && let SdStatus::Unknown(text) = &sd.status
        {
            return Verdict::Failed(FailKind::Failed(format!(
                "the deployment did not finish within {}; its service deployment has status {text}, unknown to this build, and DescribeServices does not show it COMPLETED",
                t.timeout_setting
            )));
        }
        return Verdict::Failed(FailKind::Timeout(t.timeout_setting));
    }
    Verdict::Continue
}

/// What the service deployment alone says: it targets another revision, ECS rolls back (or
/// failed to), or it was stopped. None: nothing decisive.
fn decide_by_service_deployment(t: &Tracker, sd: &ServiceDeployment, primary: Option<&crate::ports::Deployment>) -> Option<FailKind> {
    // The service deployment UpdateService named must target the release's revision.
    if let Some(td) = sd.target_task_definition.as_deref()
        && td != t.new_td
    {
        return Some(FailKind::Replaced(td.to_string()));
    }
    let reason = || sd.rollback_reason.clone().or_else(|| sd.status_reason.clone()).unwrap_or_else(|| sd.status.to_string());
    match &sd.status {
        SdStatus::RollbackRequested | SdStatus::RollbackInProgress | SdStatus::RollbackSuccessful => {
            Some(FailKind::EcsRollingBack(reason()))
        }
        SdStatus::RollbackFailed => Some(FailKind::RollbackFailed(reason())),
        SdStatus::Stopped => Some(match primary {
            Some(p) if p.task_definition != t.new_td => FailKind::Replaced(p.task_definition.clone()),
            _ => FailKind::Failed(reason()),
        }),
        SdStatus::Pending | SdStatus::InProgress | SdStatus::StopRequested | SdStatus::Successful | SdStatus::Unknown(_) => None,
    }
}

/// How often the service deployment is read when DescribeServices shows nothing decisive.
const SD_SAFETY_NET_SECS: f64 = 60.0;

/// What the watch loop remembers between ticks.
#[derive(Default)]
pub(super) struct WatchState {
    seen_events: BTreeSet<String>,
    seen_failed: BTreeSet<String>,
    last_fingerprint: String,
    last_failed_count: i32,
    /// Tasks failed since the last report of their stopped reasons (reported after the reaction
    /// when the same poll decided the deployment failed: react first, diagnose after).
    pub(super) failed_unreported: bool,
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
}

impl WatchState {
    /// A fresh watch (of a rollback) that knows the events and failed tasks already shown.
    pub(super) fn continuing(&self) -> Self {
        WatchState { seen_events: self.seen_events.clone(), seen_failed: self.seen_failed.clone(), ..Default::default() }
    }

    /// Events that existed before the release are not news; its counts are the starting point.
    pub(super) fn baseline(svc: &ServiceState, target_td: &str) -> Self {
        WatchState {
            seen_events: svc.events.iter().map(|e| e.id.clone()).collect(),
            last_progress: progress_key(svc, None, target_td),
            ..Default::default()
        }
    }

    /// The service as UpdateService answered and its service deployment as read when it was
    /// found: progress is counted from there, and the first poll need not read it again.
    pub(super) fn started(mut self, svc: &ServiceState, sd: Option<ServiceDeployment>, target_td: &str, read_at: f64) -> Self {
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

impl Engine {
    /// The pace forecast for a rolling deployment replacing `svc`'s tasks: one DescribeTasks of
    /// the tasks its last rollout started; no forecast (adaptive polling) when ECS cannot say.
    pub(super) async fn rolling_forecast(&self, _cluster: &str, svc: &ServiceState) -> RollingForecast {
        // The last rollout's duration, from what DescribeServices already said (no call).
        RollingForecast { completes: previous_rollout_secs(svc) }
    }

    /// Watch until `decide` says success or failure. Returns the verdict and the last snapshot.
    pub(super) async fn watch(&self, t: &Tracker, ws: &mut WatchState, target_td: &str) -> Result<(Verdict, Option<ServiceState>)> {
        let mut pace = RollingPace::new(t.started_at, t.forecast.completes, ws.old_running_at_start);
        if let Some(d) = t.forecast.describe() {
            self.info(d);
        }
        // The UpdateService answer is the first look; the next is worth a call at the forecast.
        let first = Duration::from_secs_f64(pace.first(self.ports.clock.now()));
        let mut w = RollingWatch { e: self, t, ws, target_td, pace, last: None };
        self.drive(&mut w, first).await
    }

    /// One DescribeServices per tick; DescribeServiceDeployments only when the service shows
    /// that something decisive may have happened (our deployment no longer IN_PROGRESS, another
    /// PRIMARY), or when it was last read [`SD_SAFETY_NET_SECS`] ago (ECS may stop or roll back
    /// a service deployment before DescribeServices shows it).
    async fn observe_once(
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
                Err(e) if super::sd_api_refused(&e) => {
                    // One rule for every path: a refused service-deployment API (not there, or
                    // AccessDenied) means following the deployment by its id, said once.
                    ws.sd_unavailable = true;
                    self.warn(super::sd_api_fallback_message(&e));
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
    pub(super) fn report_progress(&self, ws: &mut WatchState, svc: &ServiceState, sd: Option<&ServiceDeployment>, target_td: &str) -> bool {
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
    pub(super) async fn report_failed_tasks(&self, t: &Tracker, ws: &mut WatchState) {
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

/// A rolling deployment (or the deployment a rollback started), looked at through
/// [`Engine::drive`]: one DescribeServices a look, the pace forecast choosing the next.
struct RollingWatch<'a> {
    e: &'a Engine,
    t: &'a Tracker,
    ws: &'a mut WatchState,
    target_td: &'a str,
    pace: RollingPace,
    last: Option<ServiceState>,
}

impl Watched for RollingWatch<'_> {
    type Out = (Verdict, Option<ServiceState>);

    fn limit(&self) -> Limit {
        Limit { at: self.t.deadline, setting: self.t.timeout_setting.name(), what: "the deployment", interruptible: true }
    }

    async fn look(&mut self, now: f64) -> Result<Next<Self::Out>> {
        let (e, t) = (self.e, self.t);
        let (svc, sd) = e.observe_once(t, self.ws).await.map_err(Error::Aws)?;
        let changed = e.report_progress(self.ws, &svc, sd.as_ref(), self.target_td);
        self.ws.last_progress = progress_key(&svc, sd.as_ref(), self.target_td);
        let old_running = svc.deployments.iter().filter(|d| d.id != t.deployment_id).map(|d| d.running).sum();
        let trouble =
            svc.deployment(&t.deployment_id).is_some_and(|d| d.failed_tasks > 0 && d.rollout_state == Some(RolloutState::InProgress));
        let verdict = decide(t, &svc, sd.as_ref(), now);
        self.last = Some(svc);
        if verdict != Verdict::Continue {
            return Ok(Next::Done((verdict, self.last.take())));
        }
        if self.ws.failed_unreported {
            e.report_failed_tasks(t, self.ws).await;
        }
        let secs = self.pace.next(now, RollingLook { old_running, changed, trouble });
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
    use super::*;
    use crate::ports::Deployment;

    fn dep(id: &str, status: &str, td: &str, rollout: &str) -> Deployment {
        Deployment {
            id: id.into(),
            status: status.into(),
            task_definition: td.into(),
            desired: 2,
            running: 2,
            pending: 0,
            failed_tasks: 0,
            rollout_state: Some(rollout.into()),
            rollout_state_reason: None,
            created_at: None,
        }
    }

    fn svc(deps: Vec<Deployment>) -> ServiceState {
        ServiceState {
            arn: "s".into(),
            name: "web".into(),
            cluster_arn: "c".into(),
            status: "ACTIVE".into(),
            desired_count: 2,
            running_count: 2,
            task_definition: "new".into(),
            deployments: deps,
            ..Default::default()
        }
    }

    fn tracker() -> Tracker {
        Tracker {
            cluster: "c".into(),
            service: "web".into(),
            deployment_id: "d1".into(),
            service_deployment_arn: None,
            new_td: "new".into(),
            previous_td: "old".into(),
            previous_desired: Some(2),
            ecs_rolls_back: true,
            started_at: 0.0,
            deadline: 100.0,
            timeout_setting: TimeoutSetting::DeployTimeout,
            forecast: RollingForecast::default(),
        }
    }

    #[test]
    fn stable_on_old_revision_is_not_success() {
        // Trap 1: after a circuit-breaker rollback the service is "stable" — on the old revision.
        let s = svc(vec![dep("d2", "PRIMARY", "old", "COMPLETED")]);
        assert_eq!(
            decide(&tracker(), &s, None, 1.0),
            Verdict::Failed(FailKind::EcsRollingBack("ECS started a rollback deployment".into()))
        );
        let mut t = tracker();
        t.ecs_rolls_back = false;
        assert!(matches!(decide(&t, &s, None, 1.0), Verdict::Failed(FailKind::Replaced(_))));
    }

    #[test]
    fn success_needs_completed_and_successful() {
        let t = tracker();
        let mut s = svc(vec![dep("d1", "PRIMARY", "new", "IN_PROGRESS")]);
        assert_eq!(decide(&t, &s, None, 1.0), Verdict::Continue);
        s.deployments[0].rollout_state = Some("COMPLETED".into());
        assert_eq!(decide(&t, &s, None, 1.0), Verdict::Success);
        let mut sd = sd("IN_PROGRESS");
        assert_eq!(decide(&t, &s, Some(&sd), 1.0), Verdict::Continue);
        sd.status = "SUCCESSFUL".into();
        assert_eq!(decide(&t, &s, Some(&sd), 1.0), Verdict::Success);
        sd.status = "ROLLBACK_IN_PROGRESS".into();
        assert!(matches!(decide(&t, &s, Some(&sd), 1.0), Verdict::Failed(FailKind::EcsRollingBack(_))));
    }

    #[test]
    fn timeout_and_failure() {
        let t = tracker();
        let s = svc(vec![dep("d1", "PRIMARY", "new", "IN_PROGRESS"), dep("d0", "ACTIVE", "old", "COMPLETED")]);
        assert_eq!(decide(&t, &s, None, 100.0), Verdict::Failed(FailKind::Timeout(TimeoutSetting::DeployTimeout)));
        let mut s2 = s.clone();
        s2.deployments[0].rollout_state = Some("FAILED".into());
        let mut t2 = t.clone();
        t2.ecs_rolls_back = false;
        assert!(matches!(decide(&t2, &s2, None, 1.0), Verdict::Failed(FailKind::Failed(_))));
    }

    fn sd(status: &str) -> ServiceDeployment {
        ServiceDeployment {
            arn: "a".into(),
            status: status.into(),
            status_reason: None,
            target_revision: None,
            target_task_definition: Some("new".into()),
            source_task_definitions: vec![],
            created_at: None,
            finished_at: None,
            rollback_reason: None,
            circuit_breaker: None,
            lifecycle_stage: None,
            hooks: vec![],
        }
    }

    #[test]
    fn every_service_deployment_status_has_its_verdict() {
        let t = tracker();
        let s = svc(vec![dep("d1", "PRIMARY", "new", "IN_PROGRESS")]);
        let v = |status: &str| decide(&t, &s, Some(&sd(status)), 1.0);
        for rolling_back in ["ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"] {
            assert_eq!(v(rolling_back), Verdict::Failed(FailKind::EcsRollingBack(rolling_back.into())), "{rolling_back}");
        }
        assert_eq!(v("ROLLBACK_FAILED"), Verdict::Failed(FailKind::RollbackFailed("ROLLBACK_FAILED".into())));
        assert_eq!(v("STOPPED"), Verdict::Failed(FailKind::Failed("STOPPED".into())));
        for going_on in ["PENDING", "IN_PROGRESS", "STOP_REQUESTED", "SUCCESSFUL", "SOMETHING_NEW"] {
            assert_eq!(v(going_on), Verdict::Continue, "{going_on}");
        }
    }

    #[test]
    fn reasons_prefer_rollback_reason_then_status_reason() {
        let t = tracker();
        let s = svc(vec![dep("d1", "PRIMARY", "new", "IN_PROGRESS")]);
        let mut d = sd("ROLLBACK_FAILED");
        d.status_reason = Some("status reason".into());
        assert_eq!(decide(&t, &s, Some(&d), 1.0), Verdict::Failed(FailKind::RollbackFailed("status reason".into())));
        d.rollback_reason = Some("rollback reason".into());
        assert_eq!(decide(&t, &s, Some(&d), 1.0), Verdict::Failed(FailKind::RollbackFailed("rollback reason".into())));
    }

    #[test]
    fn a_stopped_or_retargeted_service_deployment_names_the_replacement() {
        let t = tracker();
        let replaced = svc(vec![dep("d9", "PRIMARY", "other", "IN_PROGRESS")]);
        assert_eq!(decide(&t, &replaced, Some(&sd("STOPPED")), 1.0), Verdict::Failed(FailKind::Replaced("other".into())));
        let ours = svc(vec![dep("d1", "PRIMARY", "new", "IN_PROGRESS")]);
        let mut d = sd("IN_PROGRESS");
        d.target_task_definition = Some("someone-else".into());
        assert_eq!(decide(&t, &ours, Some(&d), 1.0), Verdict::Failed(FailKind::Replaced("someone-else".into())));
    }

    #[test]
    fn rollout_failed_reports_its_reason_and_who_rolls_back() {
        let mut s = svc(vec![dep("d1", "PRIMARY", "new", "FAILED")]);
        assert_eq!(decide(&tracker(), &s, None, 1.0), Verdict::Failed(FailKind::EcsRollingBack("rolloutState FAILED".into())));
        s.deployments[0].rollout_state_reason = Some("circuit breaker".into());
        let mut t = tracker();
        t.ecs_rolls_back = false;
        assert_eq!(decide(&t, &s, None, 1.0), Verdict::Failed(FailKind::Failed("circuit breaker".into())));
    }

    #[test]
    fn primary_replaced_or_missing_fails() {
        let t = tracker();
        let other = svc(vec![dep("d2", "PRIMARY", "new", "IN_PROGRESS"), dep("d1", "ACTIVE", "new", "IN_PROGRESS")]);
        assert_eq!(decide(&t, &other, None, 1.0), Verdict::Failed(FailKind::Replaced("new".into())));
        let mut rb = svc(vec![dep("d2", "PRIMARY", "old", "IN_PROGRESS")]);
        rb.deployments[0].rollout_state_reason = Some("why".into());
        assert_eq!(decide(&t, &rb, None, 1.0), Verdict::Failed(FailKind::EcsRollingBack("why".into())));
        let none = svc(vec![dep("d1", "ACTIVE", "new", "COMPLETED")]);
        assert_eq!(decide(&t, &none, None, 1.0), Verdict::Failed(FailKind::Replaced("(no PRIMARY deployment)".into())));
        assert_eq!(decide(&t, &svc(vec![]), None, 1.0), Verdict::Continue);
    }

    #[test]
    fn classic_load_balancer_completion_needs_one_deployment_at_its_count() {
        let t = tracker();
        let mut one = svc(vec![dep("d1", "PRIMARY", "new", "COMPLETED")]);
        one.deployments[0].rollout_state = None;
        assert_eq!(decide(&t, &one, None, 1.0), Verdict::Success);
        one.deployments[0].running = 1;
        assert_eq!(decide(&t, &one, None, 1.0), Verdict::Continue);
        let mut two = svc(vec![dep("d1", "PRIMARY", "new", "COMPLETED"), dep("d0", "ACTIVE", "old", "COMPLETED")]);
        two.deployments[0].rollout_state = None;
        assert_eq!(decide(&t, &two, None, 1.0), Verdict::Continue);
    }

    #[test]
    fn success_needs_the_new_revision_and_a_successful_service_deployment() {
        let t = tracker();
        let wrong_td = svc(vec![dep("d1", "PRIMARY", "older", "COMPLETED")]);
        assert_eq!(decide(&t, &wrong_td, None, 1.0), Verdict::Continue);
        let done = svc(vec![dep("d1", "PRIMARY", "new", "COMPLETED")]);
        let mut d = sd("PENDING");
        d.target_task_definition = None;
        assert_eq!(decide(&t, &done, Some(&d), 1.0), Verdict::Continue);
        let unknown = svc(vec![dep("d1", "PRIMARY", "new", "NEWER_STATE")]);
        assert_eq!(decide(&t, &unknown, None, 1.0), Verdict::Continue);
    }

    #[test]
    fn the_deadline_is_exact() {
        let t = tracker();
        let s = svc(vec![dep("d1", "PRIMARY", "new", "IN_PROGRESS")]);
        assert_eq!(decide(&t, &s, None, 99.999), Verdict::Continue);
        assert_eq!(decide(&t, &s, None, 100.0), Verdict::Failed(FailKind::Timeout(TimeoutSetting::DeployTimeout)));
        let done = svc(vec![dep("d1", "PRIMARY", "new", "COMPLETED")]);
        assert_eq!(decide(&t, &done, None, 100.0), Verdict::Success, "success seen at the deadline still counts");
    }

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
