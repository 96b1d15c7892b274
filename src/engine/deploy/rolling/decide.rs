//! The pure decision of a rolling deployment: from one snapshot, success, failure or not yet.

use crate::engine::TimeoutSetting;
use crate::engine::pace::RollingForecast;
use crate::ports::{ServiceDeployment, ServiceState, Timestamp};
use crate::states::{RolloutState, SdStatus};

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
    pub(crate) fn describe(&self) -> String {
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
            return Verdict::Failed(FailKind::Replaced(newer(p)));
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

/// The deployment that replaced the release, named: its revision and its id.
fn newer(p: &crate::ports::Deployment) -> String {
    format!("{} (deployment {})", p.task_definition, p.id)
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
            Some(p) if p.task_definition != t.new_td => FailKind::Replaced(newer(p)),
            _ => FailKind::Failed(reason()),
        }),
        SdStatus::Pending | SdStatus::InProgress | SdStatus::StopRequested | SdStatus::Successful | SdStatus::Unknown(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{dep, svc};
    use super::*;
    #[allow(unused_imports)]
    use crate::states::*;

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
        s.deployments[0].rollout_state = Some(RolloutState::from_aws("COMPLETED"));
        assert_eq!(decide(&t, &s, None, 1.0), Verdict::Success);
        let mut sd = sd("IN_PROGRESS");
        assert_eq!(decide(&t, &s, Some(&sd), 1.0), Verdict::Continue);
        sd.status = SdStatus::from_aws("SUCCESSFUL");
        assert_eq!(decide(&t, &s, Some(&sd), 1.0), Verdict::Success);
        sd.status = SdStatus::from_aws("ROLLBACK_IN_PROGRESS");
        assert!(matches!(decide(&t, &s, Some(&sd), 1.0), Verdict::Failed(FailKind::EcsRollingBack(_))));
    }

    #[test]
    fn timeout_and_failure() {
        let t = tracker();
        let s = svc(vec![dep("d1", "PRIMARY", "new", "IN_PROGRESS"), dep("d0", "ACTIVE", "old", "COMPLETED")]);
        assert_eq!(decide(&t, &s, None, 100.0), Verdict::Failed(FailKind::Timeout(TimeoutSetting::DeployTimeout)));
        let mut s2 = s.clone();
        s2.deployments[0].rollout_state = Some(RolloutState::from_aws("FAILED"));
        let mut t2 = t.clone();
        t2.ecs_rolls_back = false;
        assert!(matches!(decide(&t2, &s2, None, 1.0), Verdict::Failed(FailKind::Failed(_))));
    }

    fn sd(status: &str) -> ServiceDeployment {
        ServiceDeployment {
            arn: "a".into(),
            status: SdStatus::from_aws(status),
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
        assert_eq!(decide(&t, &replaced, Some(&sd("STOPPED")), 1.0), Verdict::Failed(FailKind::Replaced("other (deployment d9)".into())));
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
        assert_eq!(decide(&t, &other, None, 1.0), Verdict::Failed(FailKind::Replaced("new (deployment d2)".into())));
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
}
