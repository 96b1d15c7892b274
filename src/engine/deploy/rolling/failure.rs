//! What a failed rolling deployment leads to: the one pure decision ([`reaction`]) — roll back,
//! detach or a manual action — and carrying it out.

use super::Rolling;
use super::decide::{FailKind, Tracker};
use super::watch::WatchState;
use crate::error::Error;
use crate::spec::{OnInterrupt, Spec};

/// What a failed rolling deployment leads to.
#[derive(Debug)]
pub(crate) enum Reaction {
    /// fgdeploy rolls back to the previous revision.
    RollBack,
    /// Nothing is rolled back: detached, or left for a person, with what to do.
    Report(Error),
}

/// The one decision of what a failure leads to — roll back, or report (detach / manual action)
/// — from the failure's kind, the deployment fgdeploy tracks and the `[rollback]` section. Pure:
/// `react_to_failure` carries it out.
pub(crate) fn reaction(kind: &FailKind, t: &Tracker, rollback: &crate::spec::RollbackSection, path: &str) -> Reaction {
    let report = |reason: String, state: String, next: String| Reaction::Report(Error::ManualAction { reason, state, next });
    let detach = |what: String| Reaction::Report(Error::Detached(what));
    match kind {
        FailKind::Interrupted if rollback.on_interrupt == OnInterrupt::Detach => {
            return detach(format!(
                "interrupted; deployment {} of {} goes on without fgdeploy (on_interrupt = \"detach\"). Watch it with `fgdeploy status -f {path}`",
                t.deployment_id, t.new_td
            ));
        }
        FailKind::Replaced(by) => {
            return Reaction::Report(Error::Superseded {
                by: by.clone(),
                next: format!("find out who deployed it; `fgdeploy status -f {path}` shows the service"),
            });
        }
        FailKind::RollbackFailed(_) => {
            return report(
                kind.describe(),
                format!("the release of {} failed and ECS could not restore {}", t.new_td, t.previous_td),
                format!("inspect with `fgdeploy status -f {path}`, then `fgdeploy rollback -f {path} --to {}`", t.previous_td),
            );
        }
        _ => {}
    }
    if t.previous_td.is_empty() {
        return report(
            kind.describe(),
            format!(
                "the service was created by this release and has no earlier revision to roll back to; it is left deploying {}",
                t.new_td
            ),
            format!(
                "fix the cause (`fgdeploy status -f {path}` shows the tasks' stop reasons) and release again, or scale it to 0 with `fgdeploy scale -f {path} --count 0`"
            ),
        );
    }
    if !rollback.automatic && matches!(kind, FailKind::Timeout(_)) {
        return detach(format!(
            "{}; automatic rollback is off, so deployment {} of {} goes on without fgdeploy. Watch it with `fgdeploy status -f {path}`",
            kind.describe(),
            t.deployment_id,
            t.new_td
        ));
    }
    if !rollback.automatic && !matches!(kind, FailKind::EcsRollingBack(_)) {
        return report(
            kind.describe(),
            format!("automatic rollback is off; the service is left deploying {}", t.new_td),
            format!("`fgdeploy rollback -f {path}` restores {}", t.previous_td),
        );
    }
    Reaction::RollBack
}

impl Rolling<'_> {
    pub(crate) fn lost_track(&self, spec: &Spec, t: &Tracker, e: Error) -> Error {
        Error::ManualAction {
            reason: format!("lost track of the deployment: {e}"),
            state: format!("deployment {} of {} was started and its outcome is unknown", t.deployment_id, t.new_td),
            next: format!("run `fgdeploy status -f {0}`; to undo, `fgdeploy rollback -f {0} --to {1}`", spec.path.display(), t.previous_td),
        }
    }

    pub(crate) async fn handle_failure(&self, spec: &Spec, t: &Tracker, kind: FailKind, mut ws: Option<&mut WatchState>) -> Error {
        let err = self.react_to_failure(spec, t, &kind, ws.as_deref_mut()).await;
        if let Some(ws) = ws
            && ws.failed_unreported
        {
            self.report_failed_tasks(t, ws).await;
        }
        // React first, diagnose after: the report reads what the stopped tasks and the service
        // say (AWS keeps stopped tasks about an hour), bounded, and never changes the outcome.
        let evidence = crate::engine::report::collect_evidence(&self.ports, &t.cluster, &t.service, &t.deployment_id).await;
        let diagnosis = crate::engine::report::diagnose(&ending(&kind), &evidence);
        let report = crate::engine::report::FailureReport {
            deployment: t.deployment_id.clone(),
            task_definition: t.new_td.clone(),
            diagnosis,
            evidence,
        };
        self.emit(crate::engine::Event::Report { report: Box::new(report) });
        err
    }

    pub(crate) async fn react_to_failure(&self, spec: &Spec, t: &Tracker, kind: &FailKind, ws: Option<&mut WatchState>) -> Error {
        if let Reaction::Report(e) = reaction(kind, t, &spec.file.rollback, &spec.path.display().to_string()) {
            return e;
        }
        let path = spec.path.display();
        match self.roll_back(t, kind, crate::engine::Deadline::automatic_rollback(spec).pair(), ws).await {
            Ok(serving) => Error::RolledBack { reason: kind.describe(), serving },
            Err(e) => Error::ManualAction {
                reason: format!("{}; then the rollback failed: {e}", kind.describe()),
                state: format!("the service may be serving {} or {}, or a mix", t.new_td, t.previous_td),
                next: format!("run `fgdeploy status -f {path}`, then `fgdeploy rollback -f {path} --to {}`", t.previous_td),
            },
        }
    }
}

/// How the deployment ended, as the failure report reads it.
fn ending(kind: &FailKind) -> crate::engine::report::Ending {
    use crate::engine::report::Ending;
    match kind {
        FailKind::EcsRollingBack(r) | FailKind::Failed(r) | FailKind::RollbackFailed(r) => Ending::Failed(r.clone()),
        FailKind::Replaced(td) => Ending::Replaced(td.clone()),
        FailKind::Timeout(setting) => Ending::Deadline(setting.name().to_string()),
        FailKind::Interrupted => Ending::Interrupted,
    }
}

#[cfg(test)]
mod reaction_tests {
    use super::*;
    use crate::engine::TimeoutSetting;
    use crate::spec::RollbackSection;

    fn tracker(previous: &str) -> Tracker {
        Tracker {
            cluster: "demo".into(),
            service: "web".into(),
            deployment_id: "ecs-svc/1".into(),
            service_deployment_arn: None,
            new_td: "web:2".into(),
            previous_td: previous.into(),
            previous_desired: None,
            ecs_rolls_back: false,
            started_at: 0.0,
            deadline: 60.0,
            timeout_setting: TimeoutSetting::DeployTimeout,
            forecast: Default::default(),
        }
    }

    fn decided(kind: FailKind, previous: &str, rollback: &RollbackSection) -> String {
        match reaction(&kind, &tracker(previous), rollback, "web.toml") {
            Reaction::RollBack => "roll back".into(),
            Reaction::Report(Error::Detached(_)) => "detach".into(),
            Reaction::Report(Error::ManualAction { .. }) => "manual".into(),
            Reaction::Report(Error::Superseded { .. }) => "superseded".into(),
            Reaction::Report(e) => format!("other: {e}"),
        }
    }

    /// #25: what a failure leads to is one pure decision (#27: a replaced release is superseded,
    /// never rolled back, whatever `[rollback]` says), from the failure's kind, the tracked
    /// deployment and `[rollback]`.
    #[test]
    fn a_failure_leads_to_a_rollback_a_detach_or_a_manual_action() {
        let on = RollbackSection::default();
        let off = RollbackSection { automatic: false, ..RollbackSection::default() };
        let detach = RollbackSection { on_interrupt: crate::spec::OnInterrupt::Detach, ..RollbackSection::default() };
        let timeout = || FailKind::Timeout(TimeoutSetting::DeployTimeout);
        let cases = [
            (FailKind::Failed("x".into()), "web:1", &on, "roll back"),
            (timeout(), "web:1", &on, "roll back"),
            (FailKind::Interrupted, "web:1", &on, "roll back"),
            (FailKind::Interrupted, "web:1", &detach, "detach"),
            (FailKind::Replaced("web:9".into()), "web:1", &on, "superseded"),
            (FailKind::Replaced("web:9".into()), "web:1", &off, "superseded"),
            (FailKind::RollbackFailed("x".into()), "web:1", &on, "manual"),
            (FailKind::Failed("x".into()), "", &on, "manual"),
            (timeout(), "web:1", &off, "detach"),
            (FailKind::Failed("x".into()), "web:1", &off, "manual"),
            (FailKind::EcsRollingBack("x".into()), "web:1", &off, "roll back"),
        ];
        for (kind, previous, rollback, want) in cases {
            let label = format!("{kind:?}, previous {previous:?}, automatic {}", rollback.automatic);
            assert_eq!(decided(kind, previous, rollback), want, "{label}");
        }
    }
}
