//! The canary judge on a rolling release (#29). Old and new tasks serve behind the same target
//! group, so the load balancer's metrics cannot tell them apart (built-in metrics are refused
//! offline); a custom metric whose query selects the revision (`{{ revision }}`) can. While
//! both revisions serve, the judge compares the new revision's minutes with the old one's, at
//! most once a minute; a FAIL fails the deployment, and the rolling deployer rolls it back as
//! it rolls back any failure. ECS replaces tasks on its own pace, so an INCONCLUSIVE verdict
//! cannot hold the rollout; when the old tasks are gone still INCONCLUSIVE,
//! `analysis.on_inconclusive = "rollback"` fails the deployment then.

use super::Rolling;
use super::decide::Tracker;
use crate::analysis::{MetricJudgement, StepAction, Verdict};
use crate::engine::Event;
use crate::engine::judge::{Judge, Sides};
use crate::engine::pace::RollingLook;
use crate::error::Result;
use crate::ports::ServiceState;
use crate::ports::{arn_resource, revision_of};
use crate::spec::{OnInconclusive, Spec};

/// The judge's state during one rolling watch.
#[derive(Debug, Clone, Default)]
pub(crate) struct RollingJudging {
    last_at: Option<f64>,
    /// The newest verdict while both served, with its reason when not PASS.
    last: Option<(Verdict, String)>,
    judged: u32,
}

impl Rolling<'_> {
    /// Judge the rollout while both revisions serve; `Some(reason)` when it fails the deployment.
    pub(crate) async fn judge_rollout(
        &self,
        spec: &Spec,
        (t, svc, look): (&Tracker, &ServiceState, &RollingLook),
        j: &mut RollingJudging,
        now: f64,
    ) -> Result<Option<String>> {
        let Some(a) = &spec.file.analysis else { return Ok(None) };
        let both = look.new_running > 0 && look.old_running > 0;
        if !both {
            // The old tasks are gone: an INCONCLUSIVE rollout follows the policy.
            return Ok(match (&j.last, a.on_inconclusive) {
                (Some((Verdict::Inconclusive, why)), OnInconclusive::Rollback) if look.new_running > 0 => Some(format!(
                    "canary analysis stayed INCONCLUSIVE (analysis.on_inconclusive = \"rollback\") while both revisions served: {why}"
                )),
                _ => None,
            });
        }
        if j.last_at.is_some_and(|at| now - at < 60.0) {
            return Ok(None);
        }
        j.last_at = Some(now);
        let target_group = svc.load_balancers.first().and_then(|l| l.target_group_arn.as_deref()).map(arn_resource).unwrap_or_default();
        let sides = Sides {
            load_balancer: String::new(),
            green_target_group: target_group.to_string(),
            blue_target_group: target_group.to_string(),
            green_revision: revision_of(&t.new_td).to_string(),
            blue_revision: revision_of(&t.previous_td).to_string(),
        };
        let judged = Judge(self.0).judge(spec, &sides, t.started_at, now).await?;
        j.judged += 1;
        let share = 100.0 * f64::from(look.new_running) / f64::from((look.new_running + look.old_running).max(1));
        let fail = judged.verdict == Verdict::Fail;
        self.emit(Event::StepJudged {
            step: j.judged,
            green_percent: share,
            verdict: judged.verdict,
            action: if fail { StepAction::Rollback } else { StepAction::Continue },
            score: judged.score,
            window: judged.window,
            metrics: judged.metrics.clone(),
        });
        let lines: Vec<String> = judged.metrics.iter().filter(|m| m.verdict != Verdict::Pass).map(MetricJudgement::line).collect();
        j.last = Some((judged.verdict, lines.join("; ")));
        Ok(fail.then(|| format!("canary analysis failed while both revisions served ({share:.0} % of tasks new): {}", lines.join("; "))))
    }
}
