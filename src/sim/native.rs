//! Simulated ECS-native blue/green, linear and canary deployments (deploymentConfiguration
//! strategy on the ECS controller): lifecycle stages, every lifecycle hook the service carries
//! at each of its stages (a PAUSE hook waits for ContinueServiceDeployment or its timeout; a
//! Lambda hook succeeds), production traffic steps (with PRE_PRODUCTION_TRAFFIC_SHIFT before
//! each later step, a stage newer than the SDK's enum, held for 30 s and while its hooks wait,
//! each time with new hook ids), bake time, and rollback.

use super::world::World;
use crate::ports::*;

#[derive(Debug, Clone)]
pub(super) struct NativeState {
    pub cfg: NativeDeployment,
    pub stage: String,
    pub since: f64,
    /// Every hook instance so far, one per hook and stage entered.
    pub hooks: Vec<SimHook>,
    /// The hooks the deployment carries (the service's configuration as sent).
    pub hook_cfg: Vec<LifecycleHook>,
    /// Weight the next step moves to once PRE_PRODUCTION_TRAFFIC_SHIFT is over.
    pub pending_weight: Option<f64>,
    /// Someone answers the team's PAUSE hooks (not fgdeploy's) CONTINUE after this many
    /// seconds (a person approving).
    pub person_answers_after: Option<f64>,
    /// How many hooks a person answered.
    pub person_answers: u32,
    pub weight: f64,
    pub max_weight: f64,
    pub green_ready_at: f64,
    pub fail_at: Option<f64>,
    pub rollback_until: Option<f64>,
    pub step_started: f64,
    /// Someone else answers the PAUSE hook CONTINUE as soon as it waits (fault).
    pub someone_continues: bool,
}

/// One lifecycle hook at one stage of one deployment.
#[derive(Debug, Clone)]
pub(super) struct SimHook {
    pub id: String,
    pub stage: String,
    pub pause: bool,
    pub fgdeploys: bool,
    pub status: String,
    pub since: f64,
    pub timeout_secs: f64,
    pub timeout_action: String,
}

impl NativeState {
    pub(super) fn new(cfg: NativeDeployment, now: f64, green_ready_at: f64, fail_at: Option<f64>) -> Self {
        NativeState {
            hook_cfg: cfg.hooks(),
            cfg,
            stage: "RECONCILE_SERVICE".into(),
            since: now,
            hooks: Vec::new(),
            pending_weight: None,
            person_answers_after: None,
            person_answers: 0,
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
            .map(|h| HookDetail {
                hook_id: h.id.clone(),
                target_type: Some(if h.pause { "PAUSE" } else { "AWS_LAMBDA" }.into()),
                status: Some(crate::states::HookStatus::parse(&h.status)),
            })
            .collect()
    }

    /// Enter `stage`: an instance of every hook configured for it (new ids each time).
    fn go(&mut self, stage: &str, now: f64) {
        self.stage = stage.into();
        self.since = now;
        let n = self.hooks.len();
        for (k, h) in self.hook_cfg.iter().filter(|h| h.stages.iter().any(|s| s == stage)).enumerate() {
            let fgdeploys = h.is_fgdeploys();
            let status = match (h.is_pause(), fgdeploys && self.someone_continues) {
                (true, false) => "AWAITING_ACTION",
                _ => "SUCCEEDED", // Lambda hooks succeed (not modelled); a bypassed gate was answered at once
            };
            self.hooks.push(SimHook {
                id: format!("ecs-pause-{:x}-{}", now as u64, n + k),
                stage: stage.into(),
                pause: h.is_pause(),
                fgdeploys,
                status: status.into(),
                since: now,
                timeout_secs: f64::from(h.timeout_minutes.unwrap_or(1440)) * 60.0,
                timeout_action: h.timeout_action.clone().unwrap_or_else(|| "ROLLBACK".into()),
            });
        }
    }

    /// Move the traffic of the step PRE_PRODUCTION_TRAFFIC_SHIFT announced, unless one of its
    /// hooks still waits (the step counts from the move).
    fn move_pending_weight(&mut self, now: f64) {
        let waiting = self.hooks.iter().any(|h| h.stage == self.stage && h.status == "AWAITING_ACTION");
        if !waiting && let Some(w) = self.pending_weight.take() {
            if now > self.step_started {
                self.step_started = now;
            }
            self.weight = w;
            self.max_weight = self.max_weight.max(w);
        }
    }

    /// The hooks of the current stage that still wait: answered by a person, or timed out.
    /// `Some(outcome)` when a timeout rolls the deployment back; `None` with `held` set while
    /// any still waits.
    fn hold(&mut self, now: f64) -> (bool, Option<Outcome>) {
        let mut held = false;
        for h in self.hooks.iter_mut().filter(|h| h.stage == self.stage && h.status == "AWAITING_ACTION") {
            if !h.fgdeploys && self.person_answers_after.is_some_and(|a| now >= h.since + a) {
                h.status = "SUCCEEDED".into();
                self.person_answers += 1;
            } else if now >= h.since + h.timeout_secs {
                h.status = "TIMED_OUT".into();
                if h.timeout_action == "ROLLBACK" {
                    return (true, Some(Outcome::RollingBack(format!("the PAUSE hook at {} timed out", h.stage))));
                }
            } else {
                held = true;
            }
        }
        (held, None)
    }

    /// Production weight to reach next, and how long to wait before it.
    fn next_step(&self) -> (f64, f64) {
        match self.cfg.strategy {
            crate::states::DeploymentStrategy::Linear => {
                let (p, m) = self.cfg.linear.unwrap_or((10.0, 6));
                ((self.weight + p).min(100.0), f64::from(m) * 60.0)
            }
            crate::states::DeploymentStrategy::Canary => {
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
