//! Resuming a release whose runner died (#27): the run that took over its lease reads the
//! journal the dead run left (`lease::record::Resume`) and continues from the last phase it
//! reached — re-attaching to *its* deployment by the recorded id (never whichever is active),
//! deploying the revision it registered (registering nothing new), reading its migration task's
//! verdict (never running the migration twice) — or, for another commit's unfinished release,
//! follows `lock.on_stale`.

use super::lease::record::Resume;
use super::options::{ReleaseOptions, ReleaseReport, RollbackOptions, WaitOptions};
use super::{Event, StageTime};
use crate::error::{Error, Result};
use crate::spec::{OnStale, Spec};

crate::engine::engine_part!(
    /// Resuming a dead run's release, or dealing with another commit's.
    Resuming
);

/// What the release does after looking at the unfinished run: it is done (re-attached to the
/// dead run's deployment), or it releases with what to resume.
pub(crate) enum Step {
    Done(Box<ReleaseReport>),
    Release(Resume),
}

impl Resuming<'_> {
    /// Before a release after an unfinished run: re-attach, or deal with the stale one.
    pub(crate) async fn before_release(
        &self,
        spec: &Spec,
        opts: &ReleaseOptions,
        resume: Resume,
        stages: &mut Vec<StageTime>,
    ) -> Result<Step> {
        match resume {
            Resume::Deployment { id, phase, canary_green } => {
                Ok(Step::Done(Box::new(self.reattach(spec, opts, (&id, canary_green), &phase, stages).await?)))
            }
            Resume::Stale { holder, deployment, revision, phase } => {
                // Killed after its UpdateService but before its journal said so: the deployment
                // of its own fresh revision is its deployment.
                let deployment = match (deployment, revision) {
                    (Some(d), _) => Some(d),
                    (None, Some(arn)) => self.deployment_of(spec, &arn).await?,
                    (None, None) => None,
                };
                self.stale(spec, &holder, deployment.as_deref(), &phase).await?;
                Ok(Step::Release(Resume::Fresh))
            }
            Resume::Revision { ref arn, ref phase, .. } => {
                // Killed after its UpdateService but before its journal said so: the deployment
                // of its own fresh revision is its deployment.
                if let Some(id) = self.deployment_of(spec, arn).await? {
                    return Ok(Step::Done(Box::new(self.reattach(spec, opts, (&id, None), phase, stages).await?)));
                }
                self.info(format!("resuming the release killed at phase {phase}: deploying the revision it registered, {arn}"));
                Ok(Step::Release(resume))
            }
            Resume::Migration { ref task, ref phase } => {
                self.info(format!("resuming the release killed at phase {phase}: reading its migration task {task}, not running it again"));
                Ok(Step::Release(resume))
            }
            Resume::Unjournaled { ref phase } => {
                self.info(format!(
                    "resuming the release killed at phase {phase}: its journal names nothing it created; a revision or migration task it made in its last call is reused, not repeated"
                ));
                Ok(Step::Release(resume))
            }
            Resume::Fresh => Ok(Step::Release(resume)),
        }
    }

    /// The service's deployment (PRIMARY or ACTIVE) of revision `arn`, if it has one.
    async fn deployment_of(&self, spec: &Spec, arn: &str) -> Result<Option<String>> {
        let svc = self.retry("ecs:DescribeServices", || self.ports.ecs.describe_service(spec.cluster(), spec.service())).await?;
        Ok(svc.and_then(|s| s.deployments.iter().find(|d| d.task_definition == arn).map(|d| d.id.clone())))
    }

    /// The dead run's deployment, followed to its end by its recorded id, with the deployspec's
    /// rollback policy (it is this release's deployment).
    async fn reattach(
        &self,
        spec: &Spec,
        opts: &ReleaseOptions,
        (id, canary_green): (&str, Option<String>),
        phase: &str,
        stages: &mut Vec<StageTime>,
    ) -> Result<ReleaseReport> {
        self.info(format!("resuming the release killed at phase {phase}: re-attached to its deployment {id}"));
        let live = super::observe::observe_with(spec, &self.ports, &|m| self.warn(m)).await?;
        let plan = crate::plan::build(spec, &live, &opts.plan)?;
        self.emit(Event::Plan { plan: Box::new(plan.clone()) });
        let o = WaitOptions { deployment: Some(id.to_string()), timeout: opts.timeout, rollback: true, canary_green: canary_green.clone() };
        let report = super::wait::wait_inner(self.0, spec, &o, stages).await?;
        Ok(ReleaseReport { plan, outcome: "deployed", task_definition: Some(report.task_definition) })
    }

    /// Another commit's release that did not finish: `lock.on_stale`.
    async fn stale(&self, spec: &Spec, holder: &str, deployment: Option<&str>, phase: &str) -> Result<()> {
        let on_stale = spec.file.lock.as_ref().map(|l| l.on_stale).unwrap_or_default();
        let what = format!("the release by {holder} did not finish (it stopped at phase {phase})");
        let Some(id) = deployment else {
            self.warn(format!("{what}; it started no deployment: releasing"));
            return Ok(());
        };
        match on_stale {
            OnStale::Refuse => Err(Error::Conflict(format!(
                "{what}; its deployment {id} may still be in flight (lock.on_stale = \"refuse\"): follow it with `fgdeploy wait -f {} --deployment {id}`, then release again",
                spec.path.display()
            ))),
            OnStale::WaitForIt => {
                self.warn(format!(
                    "{what}; following its deployment {id} to its end first (lock.on_stale = \"wait-for-it\"), without rolling it back"
                ));
                let o = WaitOptions { deployment: Some(id.to_string()), ..Default::default() };
                match super::wait::wait_inner(self.0, spec, &o, &mut Vec::new()).await {
                    Ok(r) => self.info(format!("its deployment {id} ended: {} ({})", r.outcome, r.task_definition)),
                    Err(e) if matches!(e, Error::Detached(_)) => return Err(e),
                    Err(e) => self.warn(format!("its deployment {id} ended without success: {e}")),
                }
                Ok(())
            }
            OnStale::RollBackFirst => {
                self.warn(format!("{what}; rolling its deployment back first (lock.on_stale = \"roll-back-first\")"));
                let svc = self.retry("ecs:DescribeServices", || self.ports.ecs.describe_service(spec.cluster(), spec.service())).await?;
                let svc = svc.ok_or_else(|| super::no_such_service(spec.cluster(), spec.service()))?;
                let deadline = super::Deadline::rollback(None, spec);
                super::deploy::rollback(self.0, spec, &svc, &RollbackOptions::default(), deadline).await?;
                Ok(())
            }
        }
    }
}
