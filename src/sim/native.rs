//! Simulated ECS-native blue/green, linear and canary deployments (deploymentConfiguration
//! strategy on the ECS controller): lifecycle stages, every lifecycle hook the service carries
//! at each of its stages (a PAUSE hook waits for ContinueServiceDeployment or its timeout; a
//! Lambda hook succeeds), production traffic steps (with PRE_PRODUCTION_TRAFFIC_SHIFT before
//! every step, the first included — "invoked before every traffic shift step", as the API
//! model says of the stage — a stage newer than the SDK's enum, held for 30 s and while its
//! hooks wait, each time with new hook ids), bake time, and rollback.

use super::state::*;
use crate::states::{LifecycleStage as S, SdStatus};

/// Advance one native deployment to `now`.
pub(super) fn step(n: &mut NativeState, status: &SdStatus, now: f64) -> Outcome {
    if *status == SdStatus::RollbackInProgress {
        n.set_weight(0.0, now);
        return if n.rollback_until.is_some_and(|u| now >= u) { Outcome::RolledBack } else { Outcome::Continue };
    }
    match n.hold(now) {
        (_, Some(rollback)) => return rollback,
        (true, None) => return Outcome::Continue,
        (false, None) => {}
    }
    let elapsed = now - n.since;
    match n.stage {
        S::ReconcileService if elapsed >= 2.0 => n.go(S::PreScaleUp, now),
        S::PreScaleUp if elapsed >= 2.0 => n.go(S::ScaleUp, now),
        S::ScaleUp => {
            if n.fail_at.is_some_and(|f| now >= f) {
                return Outcome::RollingBack("green tasks failed to reach a healthy state".into());
            }
            if now >= n.green_ready_at {
                n.go(S::PostScaleUp, now);
            }
        }
        S::PostScaleUp if elapsed >= 2.0 => n.go(S::TestTrafficShift, now),
        S::TestTrafficShift if elapsed >= 2.0 => n.go(S::PostTestTrafficShift, now),
        S::PostTestTrafficShift => {
            // The first step, announced by PRE_PRODUCTION_TRAFFIC_SHIFT like every later one.
            let (w, _) = n.next_step();
            n.pending_weight = Some(w);
            n.step_started = now;
            n.go(S::PreProductionTrafficShift, now);
            n.move_pending_weight(now);
        }
        S::ProductionTrafficShift => {
            if n.weight >= 100.0 {
                n.go(S::PostProductionTrafficShift, now);
                return Outcome::Shifted;
            }
            let (w, wait) = n.next_step();
            if now - n.step_started >= wait {
                // Before each later step: its hooks (new ids); the traffic moves once none waits.
                n.pending_weight = Some(w);
                n.step_started = now;
                n.go(S::PreProductionTrafficShift, now);
                n.move_pending_weight(now);
            }
        }
        S::PreProductionTrafficShift => {
            // Here only once the stage's hooks were answered (the hold above).
            n.move_pending_weight(now);
            if elapsed >= 30.0 {
                n.go(S::ProductionTrafficShift, now);
            }
        }
        S::PostProductionTrafficShift if elapsed >= 2.0 => n.go(S::BakeTime, now),
        S::BakeTime if elapsed >= f64::from(n.cfg.bake_time_minutes.unwrap_or(0)) * 60.0 => n.go(S::CleanUp, now),
        S::CleanUp if elapsed >= 2.0 => return Outcome::Succeeded,
        _ => {}
    }
    Outcome::Continue
}

impl World {
    /// How long each of fgdeploy's PAUSE hooks at PRE_PRODUCTION_TRAFFIC_SHIFT waited for its
    /// answer, in seconds (the canary bench's time to verdict), oldest first.
    pub fn judge_waits(&self) -> Vec<f64> {
        self.services
            .iter()
            .flat_map(|s| s.sds.iter())
            .filter_map(|sd| sd.native.as_ref())
            .flat_map(|n| n.hooks.iter())
            .filter(|h| h.fgdeploys && h.stage == S::PreProductionTrafficShift)
            .filter_map(|h| Some(h.answered_at? - h.since))
            .collect()
    }

    /// The most production traffic a native deployment sent to green (tests).
    pub fn native_max_weight(&self, arn: &str) -> Option<f64> {
        self.native_state(arn).map(|n| n.max_weight)
    }
}
