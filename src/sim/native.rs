//! Simulated ECS-native blue/green, linear and canary deployments (deploymentConfiguration
//! strategy on the ECS controller): lifecycle stages, every lifecycle hook the service carries
//! at each of its stages (a PAUSE hook waits for ContinueServiceDeployment or its timeout; a
//! Lambda hook succeeds), production traffic steps (with PRE_PRODUCTION_TRAFFIC_SHIFT before
//! each later step, a stage newer than the SDK's enum, held for 30 s and while its hooks wait,
//! each time with new hook ids), bake time, and rollback.

use super::state::*;

/// Advance one native deployment to `now`.
pub(super) fn step(n: &mut NativeState, status: &str, now: f64) -> Outcome {
    if status == "ROLLBACK_IN_PROGRESS" {
        n.weight = 0.0;
        return if n.rollback_until.is_some_and(|u| now >= u) { Outcome::RolledBack } else { Outcome::Continue };
    }
    match n.hold(now) {
        (_, Some(rollback)) => return rollback,
        (true, None) => return Outcome::Continue,
        (false, None) => {}
    }
    let elapsed = now - n.since;
    match n.stage.as_str() {
        "RECONCILE_SERVICE" if elapsed >= 2.0 => n.go("PRE_SCALE_UP", now),
        "PRE_SCALE_UP" if elapsed >= 2.0 => n.go("SCALE_UP", now),
        "SCALE_UP" => {
            if n.fail_at.is_some_and(|f| now >= f) {
                return Outcome::RollingBack("green tasks failed to reach a healthy state".into());
            }
            if now >= n.green_ready_at {
                n.go("POST_SCALE_UP", now);
            }
        }
        "POST_SCALE_UP" if elapsed >= 2.0 => n.go("TEST_TRAFFIC_SHIFT", now),
        "TEST_TRAFFIC_SHIFT" if elapsed >= 2.0 => n.go("POST_TEST_TRAFFIC_SHIFT", now),
        "POST_TEST_TRAFFIC_SHIFT" => {
            n.go("PRODUCTION_TRAFFIC_SHIFT", now);
            let (w, _) = n.next_step();
            n.weight = w;
            n.max_weight = n.max_weight.max(w);
            n.step_started = now;
        }
        "PRODUCTION_TRAFFIC_SHIFT" => {
            if n.weight >= 100.0 {
                n.go("POST_PRODUCTION_TRAFFIC_SHIFT", now);
                return Outcome::Shifted;
            }
            let (w, wait) = n.next_step();
            if now - n.step_started >= wait {
                // Before each later step: its hooks (new ids); the traffic moves once none waits.
                n.pending_weight = Some(w);
                n.step_started = now;
                n.go("PRE_PRODUCTION_TRAFFIC_SHIFT", now);
                n.move_pending_weight(now);
            }
        }
        "PRE_PRODUCTION_TRAFFIC_SHIFT" => {
            // Here only once the stage's hooks were answered (the hold above).
            n.move_pending_weight(now);
            if elapsed >= 30.0 {
                n.go("PRODUCTION_TRAFFIC_SHIFT", now);
            }
        }
        "POST_PRODUCTION_TRAFFIC_SHIFT" if elapsed >= 2.0 => n.go("BAKE_TIME", now),
        "BAKE_TIME" if elapsed >= f64::from(n.cfg.bake_time_minutes.unwrap_or(0)) * 60.0 => n.go("CLEAN_UP", now),
        "CLEAN_UP" if elapsed >= 2.0 => return Outcome::Succeeded,
        _ => {}
    }
    Outcome::Continue
}

impl World {
    /// The most production traffic a native deployment sent to green (tests).
    pub fn native_max_weight(&self, arn: &str) -> Option<f64> {
        self.native_state(arn).map(|n| n.max_weight)
    }
}
