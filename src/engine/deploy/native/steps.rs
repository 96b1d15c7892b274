//! The canary judge on ECS-native LINEAR and CANARY releases (#29): fgdeploy's PAUSE hook at
//! PRE_PRODUCTION_TRAFFIC_SHIFT stops the deployment before every traffic step (a new hookId
//! each time); the minutes green served beside blue so far are judged, and the hook is answered
//! CONTINUE (PASS), ROLLBACK (FAIL), or left waiting while the step is INCONCLUSIVE — at most
//! `analysis.max_extension`, then `analysis.on_inconclusive`. The first pause comes before any
//! production traffic moved: nothing to judge, CONTINUE.

use super::{EcsNative, NativeWatch};
use crate::analysis::{StepAction, Verdict};
use crate::engine::Event;
use crate::engine::deploy::preflight::{Native, NativeJudge};
use crate::engine::judge::{Judge, Sides, StepJudgement};
use crate::engine::watch::Pause;
use crate::error::{Error, Result};
use crate::ports::{LifecycleHook, ServiceDeployment, ServiceState};
use crate::ports::{arn_resource, revision_of};
use crate::spec::{AnalysisSection, OnInconclusive, Spec};
use crate::states::{HookAction, HookStatus, HookTargetType};
use std::time::Duration;

/// How often a held (INCONCLUSIVE) step is judged again: CloudWatch's granularity.
const HOLD_LOOK: Duration = Duration::from_secs(60);

/// The production listener rule ECS shifts: `deploy.blue_green`'s, else the service's.
fn production_rule(bg: &crate::spec::BlueGreenSection, svc: &ServiceState) -> Option<String> {
    bg.production_listener_rule
        .clone()
        .or_else(|| svc.load_balancers.iter().find_map(|l| l.advanced.as_ref().map(|a| a.production_listener_rule.clone())))
        .filter(|r| !r.is_empty())
}

/// What a verdict does after `held` seconds of holding (pure).
fn step_action(verdict: Verdict, held: f64, a: &AnalysisSection) -> StepAction {
    match verdict {
        Verdict::Pass => StepAction::Continue,
        Verdict::Fail => StepAction::Rollback,
        Verdict::Inconclusive if held < a.max_extension.as_secs_f64() => StepAction::Hold,
        Verdict::Inconclusive => match a.on_inconclusive {
            OnInconclusive::Continue => StepAction::Continue,
            OnInconclusive::Rollback => StepAction::Rollback,
        },
    }
}

/// Green's share of production traffic during step `k` (1-based) of the deployment.
fn step_percent(n: &Native, k: u32) -> f64 {
    match (n.deployment.linear, n.deployment.canary) {
        (Some((p, _)), _) => (p * f64::from(k)).min(100.0),
        (_, Some((p, _))) => p,
        _ => 100.0,
    }
}

impl EcsNative<'_> {
    /// The judge's preflight: the production rule's two target groups (blue is the one serving)
    /// and the load balancer; refused before any change when there is nothing to judge with.
    /// `known_green`: the green target group a resumed release's journal recorded.
    pub(crate) async fn judge_preflight(
        &self,
        spec: &Spec,
        svc: &ServiceState,
        (attached, known_green): (bool, Option<&str>),
    ) -> Result<Option<NativeJudge>> {
        let (Some(a), Some(bg)) = (&spec.file.analysis, &spec.file.deploy.blue_green) else { return Ok(None) };
        if bg.ecs_strategy == crate::states::DeploymentStrategy::BlueGreen {
            return Err(Error::usage(
                "[analysis] on an ECS-native BLUE_GREEN release: all production traffic moves at once, so green never serves beside blue and there is no step to judge",
                "set deploy.blue_green.ecs_strategy = \"CANARY\" or \"LINEAR\", or remove [analysis]",
            ));
        }
        let rule = production_rule(bg, svc).ok_or_else(|| {
            Error::usage(
                format!(
                    "the canary judge compares the target groups ECS shifts between, and service {} names no production listener rule",
                    spec.service()
                ),
                "set deploy.blue_green's alternate_target_group_arn, production_listener_rule and load_balancer_role_arn",
            )
        })?;
        let load_balancer = crate::engine::judge::load_balancer_dimension(&rule).ok_or_else(|| {
            Error::usage(format!("{rule} is not a listener rule ARN"), "set deploy.blue_green.production_listener_rule to the rule's ARN")
        })?;
        let weights = Judge(self.0).forward_weights(&rule).await?;
        let recorded = known_green.and_then(|g| {
            let other = weights.iter().find(|(t, _)| t != g)?;
            (weights.len() == 2 && weights.iter().any(|(t, _)| t == g)).then(|| (other.0.clone(), g.to_string()))
        });
        let Some((blue, green)) = crate::engine::judge::blue_and_green(&weights).or(recorded) else {
            let seen = format!("the production listener rule {rule} forwards {weights:?}");
            if attached {
                // Mid-shift, the rule cannot say which target group green is.
                self.warn(format!(
                    "{seen}: traffic is mid-shift, so fgdeploy cannot tell green from blue and does not judge the remaining steps; fgdeploy's step hook (the release's) is left unanswered: answer it in the ECS console, or it rolls the deployment back at its timeout ({} min after it starts waiting)",
                    a.judge_timeout_minutes()
                ));
                return Ok(None);
            }
            return Err(Error::usage(
                format!("{seen}: the canary judge needs its two target groups with all production traffic on one of them"),
                "finish or roll back the deployment in flight, or set deploy.blue_green's production_listener_rule to the rule ECS shifts",
            ));
        };
        self.info(format!("canary analysis: {} metric(s) judged before every traffic step", a.metrics.len()));
        // In the journal too: a release resumed mid-shift reads green from there.
        self.emit(Event::CanarySides { green_target_group: green.clone(), blue_target_group: blue.clone() });
        let green_serves = weights.iter().any(|(t, w)| *t == green && *w > 0);
        Ok(Some(NativeJudge {
            load_balancer,
            green_target_group: arn_resource(&green).to_string(),
            blue_target_group: arn_resource(&blue).to_string(),
            green_serves,
        }))
    }

    /// fgdeploy's judge hook waiting: judge, then answer or hold. `Some(pause)` while held.
    pub(super) async fn native_judge(
        &self,
        spec: &Spec,
        n: &Native,
        w: &mut NativeWatch,
        sd: &ServiceDeployment,
        now: f64,
    ) -> Result<Option<Pause>> {
        let (Some(t), Some(a)) = (&n.judge, &spec.file.analysis) else { return Ok(None) };
        self.held_hook_answered_elsewhere(w, sd);
        if w.stage != LifecycleHook::JUDGE_STAGE || w.our_reason.is_some() {
            return Ok(None);
        }
        let Some(h) = sd.hooks.iter().find(|h| {
            h.status == Some(HookStatus::AwaitingAction)
                && h.target_type.as_ref().is_none_or(|t| *t == HookTargetType::Pause)
                && !w.handled.contains(&h.hook_id)
        }) else {
            return Ok(None);
        };
        let hook = h.hook_id.clone();
        if w.judged_steps == 0 && !w.traffic_seen && w.holding.is_none() {
            self.info("before the first traffic step: green serves no production traffic yet, nothing to judge");
            return self.answer_hook(spec, n, w, &hook, HookAction::Continue, None).await.map(|_| None);
        }
        let since = w.holding.as_ref().filter(|(id, _)| *id == hook).map_or(now, |(_, s)| *s);
        let sides = Sides {
            load_balancer: t.load_balancer.clone(),
            green_target_group: t.green_target_group.clone(),
            blue_target_group: t.blue_target_group.clone(),
            green_revision: revision_of(sd.target_task_definition.as_deref().unwrap_or_default()).to_string(),
            blue_revision: revision_of(sd.source_task_definitions.first().map_or("", String::as_str)).to_string(),
        };
        // Every minute since the deployment began (`wait` may attach later than that).
        let from = sd.created_at.map_or(w.started, |c| c.min(w.started));
        let j = Judge(self.0).judge(spec, &sides, from, now).await?;
        let action = step_action(j.verdict, now - since, a);
        let step = w.judged_steps + 1;
        self.emit_judgement(step, step_percent(n, step), &j, action);
        if action == StepAction::Hold {
            w.holding = Some((hook, since));
            return Ok(Some(Pause::after(HOLD_LOOK, true)));
        }
        w.holding = None;
        w.judged_steps = step;
        let why = (action == StepAction::Rollback).then(|| rollback_reason(step, &j, a));
        if j.verdict == Verdict::Inconclusive && action == StepAction::Continue {
            self.warn(format!(
                "step {step} is still INCONCLUSIVE after {} s more (analysis.on_inconclusive = \"continue\"): too little traffic to judge, going on",
                a.max_extension.as_secs()
            ));
        }
        let answer = if why.is_some() { HookAction::Rollback } else { HookAction::Continue };
        self.answer_hook(spec, n, w, &hook, answer, why).await.map(|_| None)
    }

    /// A held step's hook answered by someone else: their answer stands; said once.
    fn held_hook_answered_elsewhere(&self, w: &mut NativeWatch, sd: &ServiceDeployment) {
        let Some((held, _)) = w.holding.clone() else { return };
        if sd.hooks.iter().any(|h| h.hook_id == held && h.status != Some(HookStatus::AwaitingAction)) {
            w.holding = None;
            w.handled.push(held.clone());
            self.warn(format!(
                "fgdeploy's step hook {held} was answered outside fgdeploy while the judge held the step (INCONCLUSIVE): that answer stands, the step was not judged to its end"
            ));
        }
    }

    fn emit_judgement(&self, step: u32, green_percent: f64, j: &StepJudgement, action: StepAction) {
        self.emit(Event::StepJudged {
            step,
            green_percent,
            verdict: j.verdict,
            action,
            score: j.score,
            window: j.window,
            metrics: j.metrics.clone(),
        });
    }

    /// ContinueServiceDeployment on one of fgdeploy's hooks (the gate's, the judge's), with
    /// `why` when the answer is ROLLBACK; a refusal is read again (someone else's answer
    /// stands). Ok(true) when fgdeploy's own answer was taken.
    pub(super) async fn answer_hook(
        &self,
        spec: &Spec,
        n: &Native,
        w: &mut NativeWatch,
        hook: &str,
        action: HookAction,
        why: Option<String>,
    ) -> Result<bool> {
        if !w.handled.iter().any(|h| h == hook) {
            w.handled.push(hook.to_string());
        }
        let arn = w.arn.clone();
        let answered =
            self.retry("ecs:ContinueServiceDeployment", || self.ports.ecs.continue_service_deployment(&arn, hook, action.clone())).await;
        match answered {
            Ok(()) => {
                if let Some(why) = why {
                    self.emit(Event::RollbackStarted {
                        reason: why.clone(),
                        to: "the source revision".into(),
                        how: "ContinueServiceDeployment(ROLLBACK)".into(),
                    });
                    w.our_reason = Some(why);
                }
                Ok(true)
            }
            Err(e) => self.native_answer_refused(spec, n, w, (hook, action, why), e).await.map(|()| false),
        }
    }
}

/// `canary analysis failed step 2 (…): 5xx-rate: green 2.10 % vs blue 1.00 % (…) FAIL`.
fn rollback_reason(step: u32, j: &StepJudgement, a: &AnalysisSection) -> String {
    let failed: Vec<String> = j.metrics.iter().filter(|m| m.verdict != Verdict::Pass).map(|m| m.line()).collect();
    let what = match j.verdict {
        Verdict::Fail => "failed",
        _ => "stayed INCONCLUSIVE (analysis.on_inconclusive = \"rollback\")",
    };
    let score = j.score.map(|s| format!("; score {s:.0} % (pass_score {:.0} %)", a.pass_score)).unwrap_or_default();
    format!("canary analysis {what} at step {step}: {}{score}", failed.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_continues_rolls_back_or_holds_until_the_extension_is_spent() {
        let mut a: AnalysisSection = toml::from_str("metrics = []").expect("defaults");
        assert_eq!(step_action(Verdict::Pass, 0.0, &a), StepAction::Continue);
        assert_eq!(step_action(Verdict::Fail, 0.0, &a), StepAction::Rollback);
        assert_eq!(step_action(Verdict::Inconclusive, 299.0, &a), StepAction::Hold);
        assert_eq!(step_action(Verdict::Inconclusive, 300.0, &a), StepAction::Continue);
        a.on_inconclusive = OnInconclusive::Rollback;
        assert_eq!(step_action(Verdict::Inconclusive, 300.0, &a), StepAction::Rollback);
        // 5 min extension + 2 min delay + 15 min for a runner to come back.
        assert_eq!(a.judge_timeout_minutes(), 22);
        let d = |linear, canary| crate::ports::NativeDeployment {
            strategy: crate::states::DeploymentStrategy::Linear,
            bake_time_minutes: None,
            linear,
            canary,
            pause_after_test_traffic: false,
            load_balancer: None,
            base: Default::default(),
            gate_timeout_minutes: 1,
            judge_timeout_minutes: Some(22),
        };
        assert_eq!(d(Some((10.0, 5)), None).judged_steps(), 9, "10 % steps: 10 %, 20 % … 90 % judged, 100 % not");
        assert_eq!(d(Some((30.0, 5)), None).judged_steps(), 3, "30, 60, 90, then 100");
        assert_eq!(d(None, Some((25.0, 10))).judged_steps(), 1);
    }
}
