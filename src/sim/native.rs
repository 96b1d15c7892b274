//! Simulated ECS-native blue/green, linear and canary deployments (deploymentConfiguration
//! strategy on the ECS controller): lifecycle stages, a PAUSE hook at POST_TEST_TRAFFIC_SHIFT,
//! production traffic steps (with PRE_PRODUCTION_TRAFFIC_SHIFT between them, a stage newer
//! than the SDK's enum, held for 30 s), bake time, and rollback.

use super::world::World;
use crate::ports::*;

#[derive(Debug, Clone)]
pub(super) struct NativeState {
    pub cfg: NativeDeployment,
    pub stage: String,
    pub since: f64,
    /// (hook id, status)
    pub hooks: Vec<(String, String)>,
    pub weight: f64,
    pub max_weight: f64,
    pub green_ready_at: f64,
    pub fail_at: Option<f64>,
    pub rollback_until: Option<f64>,
    pub step_started: f64,
    /// Someone else answers the PAUSE hook CONTINUE as soon as it waits (fault).
    pub someone_continues: bool,
}

impl NativeState {
    pub(super) fn new(cfg: NativeDeployment, now: f64, green_ready_at: f64, fail_at: Option<f64>) -> Self {
        NativeState {
            cfg,
            stage: "RECONCILE_SERVICE".into(),
            since: now,
            hooks: Vec::new(),
            weight: 0.0,
            max_weight: 0.0,
            green_ready_at,
            fail_at,
            rollback_until: None,
            step_started: now,
            someone_continues: false,
        }
    }

    pub(super) fn hook_details(&self) -> Vec<HookDetail> {
        self.hooks
            .iter()
            .map(|(id, st)| HookDetail { hook_id: id.clone(), target_type: Some("PAUSE".into()), status: Some(st.clone()) })
            .collect()
    }

    fn go(&mut self, stage: &str, now: f64) {
        self.stage = stage.into();
        self.since = now;
    }

    /// Production weight to reach next, and how long to wait before it.
    fn next_step(&self) -> (f64, f64) {
        match self.cfg.strategy.as_str() {
            "LINEAR" => {
                let (p, m) = self.cfg.linear.unwrap_or((10.0, 6));
                ((self.weight + p).min(100.0), f64::from(m) * 60.0)
            }
            "CANARY" => {
                let (p, m) = self.cfg.canary.unwrap_or((5.0, 10));
                if self.weight <= 0.0 { (p, 0.0) } else { (100.0, f64::from(m) * 60.0) }
            }
            _ => (100.0, 0.0),
        }
    }
}

pub(super) enum Outcome {
    Continue,
    /// Production traffic is on the target revision.
    Shifted,
    Succeeded,
    RollingBack(String),
    RolledBack,
}

/// Advance one native deployment to `now`.
pub(super) fn step(n: &mut NativeState, status: &str, now: f64) -> Outcome {
    if status == "ROLLBACK_IN_PROGRESS" {
        n.weight = 0.0;
        return if n.rollback_until.is_some_and(|u| now >= u) { Outcome::RolledBack } else { Outcome::Continue };
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
        "TEST_TRAFFIC_SHIFT" if elapsed >= 2.0 => {
            n.go("POST_TEST_TRAFFIC_SHIFT", now);
            if n.cfg.pause_after_test_traffic {
                let status = if n.someone_continues { "SUCCEEDED" } else { "AWAITING_ACTION" };
                n.hooks.push((format!("hook-{}", now as u64), status.into()));
            }
        }
        "POST_TEST_TRAFFIC_SHIFT" => match n.hooks.last().map(|h| h.1.as_str()) {
            Some("AWAITING_ACTION") if elapsed >= 1440.0 * 60.0 => {
                if let Some(h) = n.hooks.last_mut() {
                    h.1 = "TIMED_OUT".into();
                }
                return Outcome::RollingBack("the PAUSE hook timed out".into());
            }
            Some("AWAITING_ACTION") => {}
            _ => {
                n.go("PRODUCTION_TRAFFIC_SHIFT", now);
                let (w, _) = n.next_step();
                n.weight = w;
                n.max_weight = n.max_weight.max(w);
                n.step_started = now;
            }
        },
        "PRODUCTION_TRAFFIC_SHIFT" | "PRE_PRODUCTION_TRAFFIC_SHIFT" => {
            if n.weight >= 100.0 {
                n.go("POST_PRODUCTION_TRAFFIC_SHIFT", now);
                return Outcome::Shifted;
            }
            let (w, wait) = n.next_step();
            if now - n.step_started >= wait {
                n.go("PRE_PRODUCTION_TRAFFIC_SHIFT", now);
                n.weight = w;
                n.max_weight = n.max_weight.max(w);
                n.step_started = now;
            } else if n.stage == "PRE_PRODUCTION_TRAFFIC_SHIFT" && elapsed >= 30.0 {
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
