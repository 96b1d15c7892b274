//! The canary judge on CodeDeploy canary and linear releases (#29). CodeDeploy moves traffic on
//! its own timer and has no pause between steps, so the judge works *during* each step's bake:
//! while green serves part of production traffic (0 % < green < 100 %) it judges the minutes
//! green served beside blue so far, at most once a minute; FAIL stops the deployment with
//! rollback (StopDeployment, autoRollbackEnabled) at once. An INCONCLUSIVE step cannot be held
//! (CodeDeploy's timer goes on): it is judged again each minute, and when the step ends still
//! INCONCLUSIVE, `analysis.on_inconclusive = "rollback"` stops the deployment then.

use super::judging::CdJudging;
use super::{CdWatch, CodeDeploy};
use crate::analysis::{StepAction, Verdict};
use crate::engine::Event;
use crate::engine::deploy::preflight::{BlueGreen, CdJudge};
use crate::engine::judge::{Judge, Sides, load_balancer_dimension};
use crate::error::{Error, Result};
use crate::ports::arn_resource;
use crate::ports::{DeploymentGroup, ServiceState};
use crate::spec::{OnInconclusive, Spec};

/// How often a step is judged: CloudWatch's granularity.
const EVERY_SECS: f64 = 60.0;

impl CodeDeploy<'_> {
    /// The judge's preflight: a config with steps, the production listener's load balancer and
    /// the group's two target groups in CloudWatch's names; refused before any change otherwise.
    pub(crate) async fn cd_judge_preflight(&self, spec: &Spec, group: &DeploymentGroup, svc: &ServiceState) -> Result<Option<CdJudge>> {
        let Some(a) = &spec.file.analysis else { return Ok(None) };
        let bg = spec.file.deploy.blue_green.as_ref();
        let config = bg.and_then(|b| b.deployment_config.clone()).or_else(|| group.deployment_config.clone()).unwrap_or_default();
        let lower = config.to_ascii_lowercase();
        if !(lower.contains("canary") || lower.contains("linear")) {
            return Err(Error::usage(
                format!(
                    "[analysis] on CodeDeploy deployment config {config:?}: all traffic moves at once, so green never serves beside blue and there is no step to judge"
                ),
                "set deploy.blue_green.deployment_config to a canary or linear config (e.g. CodeDeployDefault.ECSCanary10Percent5Minutes), or remove [analysis]",
            ));
        }
        let load_balancer = group.prod_listeners.first().and_then(|l| load_balancer_dimension(l)).ok_or_else(|| {
            Error::usage(
                format!("deployment group {} names no production listener: the judge cannot find the load balancer's metrics", group.name),
                "give the group a production traffic route, or remove [analysis]",
            )
        })?;
        let mut target_groups = std::collections::BTreeMap::new();
        for name in &group.target_groups {
            let arn = self.retry("elasticloadbalancing:DescribeTargetGroups", || self.ports.elb.target_group_arn(name)).await?;
            target_groups.insert(name.clone(), arn_resource(&arn).to_string());
        }
        self.info(format!(
            "canary analysis: {} metric(s) judged every minute while green serves part of production traffic ({config})",
            a.metrics.len()
        ));
        Ok(Some(CdJudge {
            load_balancer,
            target_groups,
            blue_revision: crate::ports::revision_of(&svc.task_definition).to_string(),
            green_revision: String::new(),
        }))
    }

    /// `wait` attached to a deployment it did not create knows no green revision: a query that
    /// selects the revision would select nothing, or everything — the steps are not judged
    /// (said once).
    fn cd_judge_off(&self, spec: &Spec, t: &CdJudge, j: &mut CdJudging) -> bool {
        let selects_revision = spec.analysis_metrics().iter().any(|m| m.query.as_deref().is_some_and(|q| q.contains("revision")));
        if !j.off && t.green_revision.is_empty() && selects_revision {
            j.off = true;
            self.warn("canary analysis: this deployment's green revision is not known here (this run did not start it), so queries that select {{ revision }} cannot be judged: the steps are not judged");
        }
        j.off
    }

    /// Judge the step green is in; `Some(error)` when the deployment was stopped with rollback.
    pub(crate) async fn cd_judge(&self, spec: &Spec, b: &BlueGreen, w: &mut CdWatch, (green, now): (f64, f64)) -> Result<Option<Error>> {
        let (Some(t), Some(a)) = (&b.judge, &spec.file.analysis) else { return Ok(None) };
        if self.cd_judge_off(spec, t, &mut w.judging) {
            return Ok(None);
        }
        let j = &mut w.judging;
        if j.step_green > 0.0 && green != j.step_green {
            // The step ended (CodeDeploy's timer): still INCONCLUSIVE, the policy decides.
            if let (Some((Verdict::Inconclusive, why)), OnInconclusive::Rollback) = (&j.last, a.on_inconclusive) {
                let why =
                    format!("canary analysis stayed INCONCLUSIVE (analysis.on_inconclusive = \"rollback\") through step {}: {why}", j.step);
                return Ok(Some(self.stop_and_follow(spec, &w.id, &why).await));
            }
            j.last = None;
        }
        if !(green > 0.0 && green < 100.0) {
            j.step_green = green;
            return Ok(None);
        }
        if green != j.step_green {
            (j.step, j.step_green, j.last_at) = (j.step + 1, green, None);
        }
        if j.last_at.is_some_and(|at| now - at < EVERY_SECS) {
            return Ok(None);
        }
        let Some((green_tg, blue_tg)) = j.target_groups.clone() else { return Ok(None) };
        j.last_at = Some(now);
        let dim = |name: &str| t.target_groups.get(name).cloned().unwrap_or_default();
        let sides = Sides {
            load_balancer: t.load_balancer.clone(),
            green_target_group: dim(&green_tg),
            blue_target_group: dim(&blue_tg),
            green_revision: t.green_revision.clone(),
            blue_revision: t.blue_revision.clone(),
        };
        let since = j.since;
        let judged = Judge(self.0).judge(spec, &sides, since, now).await?;
        let step = w.judging.step;
        let action = if judged.verdict == Verdict::Fail { StepAction::Rollback } else { StepAction::Continue };
        self.emit(Event::StepJudged {
            step,
            green_percent: green,
            verdict: judged.verdict,
            action,
            score: judged.score,
            window: judged.window,
            metrics: judged.metrics.clone(),
        });
        let lines: Vec<String> =
            judged.metrics.iter().filter(|m| m.verdict != Verdict::Pass).map(crate::analysis::MetricJudgement::line).collect();
        w.judging.last = Some((judged.verdict, lines.join("; ")));
        if judged.verdict == Verdict::Fail {
            let why = format!("canary analysis failed at step {step} ({green} % on green): {}", lines.join("; "));
            return Ok(Some(self.stop_and_follow(spec, &w.id, &why).await));
        }
        Ok(None)
    }
}
