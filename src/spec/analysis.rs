//! `[analysis]`: the canary judge (#29). Each traffic step of a LINEAR or CANARY release is judged
//! on green's metrics against blue's, on the same live traffic, and the step goes on (PASS),
//! rolls back (FAIL), or waits for more evidence (INCONCLUSIVE, bounded by `max_extension`, then
//! `on_inconclusive`). What each key means is in the README's configuration reference; how the
//! statistics work is in [`crate::analysis`].

use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalysisSection {
    /// The metrics each step is judged on (at least one).
    #[serde(default)]
    pub metrics: Vec<MetricSection>,
    /// A FAIL needs this much certainty that green is worse than blue beyond the tolerance: the
    /// posterior probability for rates, 1 − the Mann–Whitney p-value for per-minute values.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// Requests each side needs (over the judged minutes) before a rate is judged.
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
    /// Per-minute values each side needs before a rank test is judged.
    #[serde(default = "default_min_minutes")]
    pub min_minutes: usize,
    /// The share (percent) of the judged non-critical metrics that must pass (Kayenta's score).
    #[serde(default = "default_pass_score")]
    pub pass_score: f64,
    /// CloudWatch's publication delay: a minute is judged only this long after it ended.
    #[serde(
        default = "default_delay",
        deserialize_with = "super::duration::de_duration",
        serialize_with = "super::duration::ser_duration"
    )]
    pub publication_delay: Duration,
    /// An INCONCLUSIVE step is held (its PAUSE hook unanswered) at most this much longer.
    #[serde(
        default = "default_extension",
        deserialize_with = "super::duration::de_duration",
        serialize_with = "super::duration::ser_duration"
    )]
    pub max_extension: Duration,
    /// What an INCONCLUSIVE step does once `max_extension` is spent: `continue` or `rollback`.
    #[serde(default)]
    pub on_inconclusive: OnInconclusive,
}

/// What a step still INCONCLUSIVE after `max_extension` does.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnInconclusive {
    /// Go on to the next step (not enough traffic is not evidence of a regression).
    #[default]
    Continue,
    /// Roll back: no release without evidence.
    Rollback,
}

/// One judged metric.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricSection {
    /// `5xx-rate`, `latency-p50`, `latency-p95`, `latency-p99` (the target groups' metrics), or
    /// `custom` (`query`).
    pub metric: String,
    /// The name shown in the verdicts; default: `metric`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `custom`: a CloudWatch metric-math expression (or Metrics Insights query) returning one
    /// per-minute series for one side; `{{ target_group }}`, `{{ load_balancer }}` and
    /// `{{ revision }}` are that side's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// `higher-is-worse` (default) or `lower-is-worse`.
    #[serde(default)]
    pub direction: Direction,
    /// How much worse green may be: `green ≤ blue × (1 + relative) + absolute`.
    #[serde(default)]
    pub tolerance: ToleranceSection,
    /// One FAIL of a critical metric rolls the step back; other metrics count towards the score.
    #[serde(default = "yes")]
    pub critical: bool,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    #[default]
    HigherIsWorse,
    LowerIsWorse,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToleranceSection {
    #[serde(default = "default_relative")]
    pub relative: f64,
    #[serde(default)]
    pub absolute: f64,
}

impl Default for ToleranceSection {
    fn default() -> Self {
        ToleranceSection { relative: default_relative(), absolute: 0.0 }
    }
}

/// The metrics fgdeploy knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MetricKind {
    /// `HTTPCode_Target_5XX_Count` / `RequestCount` of each target group (a proportion).
    FiveXxRate,
    /// `TargetResponseTime` at this percentile, per minute, of each target group.
    Latency(u8),
    /// A user's expression, per minute, per side.
    Custom,
}

pub(crate) const METRICS: &str = "5xx-rate, latency-p50, latency-p95, latency-p99, custom";

impl MetricKind {
    pub fn parse(s: &str) -> Option<MetricKind> {
        Some(match s {
            "5xx-rate" => MetricKind::FiveXxRate,
            "latency-p50" => MetricKind::Latency(50),
            "latency-p95" => MetricKind::Latency(95),
            "latency-p99" => MetricKind::Latency(99),
            "custom" => MetricKind::Custom,
            _ => return None,
        })
    }
    /// Needs a target group per side (the load balancer's metrics).
    pub fn needs_target_groups(self) -> bool {
        !matches!(self, MetricKind::Custom)
    }
}

impl AnalysisSection {
    /// fgdeploy's judge hook times out after a held step's longest wait, the publication
    /// delay, and 15 minutes for a runner to come back — then ECS rolls back by itself (a dead
    /// runner does not leave the deployment paused for a day).
    pub fn judge_timeout_minutes(&self) -> i32 {
        let secs = self.max_extension.as_secs() + self.publication_delay.as_secs();
        i32::try_from(secs.div_ceil(60)).unwrap_or(1440).saturating_add(15).clamp(1, 1440)
    }
}

impl MetricSection {
    pub fn kind(&self) -> MetricKind {
        MetricKind::parse(&self.metric).unwrap_or(MetricKind::Custom)
    }
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.metric)
    }
}

fn default_confidence() -> f64 {
    0.99
}
fn default_min_requests() -> u64 {
    200
}
fn default_min_minutes() -> usize {
    3
}
fn default_pass_score() -> f64 {
    75.0
}
fn default_delay() -> Duration {
    Duration::from_secs(120)
}
fn default_extension() -> Duration {
    Duration::from_secs(300)
}
fn default_relative() -> f64 {
    0.2
}
fn yes() -> bool {
    true
}

/// The placeholders a custom query may use.
pub(crate) const QUERY_VARS: [&str; 3] = ["target_group", "load_balancer", "revision"];
