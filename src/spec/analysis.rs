//! `[analysis]`: the canary judge (#29). Each traffic step of a LINEAR or CANARY release is judged
//! on green's metrics against blue's, on the same live traffic, and the step goes on (PASS),
//! rolls back (FAIL), or waits for more evidence (INCONCLUSIVE, bounded by `max_extension`, then
//! `on_inconclusive`). What each key means is in the README's configuration reference; how the
//! statistics work is in [`crate::analysis`].

use super::file::{SpecFile, Strategy};
use crate::error::Problems;
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
    #[serde(default = "default_delay", deserialize_with = "super::file::de_duration", serialize_with = "super::file::ser_duration")]
    pub publication_delay: Duration,
    /// An INCONCLUSIVE step is held (its PAUSE hook unanswered) at most this much longer.
    #[serde(default = "default_extension", deserialize_with = "super::file::de_duration", serialize_with = "super::file::ser_duration")]
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

/// Offline rules of `[analysis]`: known metrics, queries where they belong, non-negative
/// tolerances, sane thresholds, and a release that has steps to judge and a way to tell green's
/// numbers from blue's.
pub(super) fn analysis(f: &SpecFile, p: &mut Problems) {
    let Some(a) = &f.analysis else { return };
    if a.metrics.is_empty() {
        p.at("analysis.metrics", "[analysis] names no metric to judge", format!("add [[analysis.metrics]] with metric = one of {METRICS}"));
    }
    if !(a.confidence > 0.5 && a.confidence < 1.0) {
        p.at("analysis.confidence", format!("{} is not a probability above 0.5 and below 1", a.confidence), "use e.g. 0.99");
    }
    if !(0.0..=100.0).contains(&a.pass_score) {
        p.at("analysis.pass_score", format!("{} is not a percentage", a.pass_score), "use 0 to 100 (default 75)");
    }
    if a.min_minutes == 0 || a.min_requests == 0 {
        let field = if a.min_minutes == 0 { "analysis.min_minutes" } else { "analysis.min_requests" };
        p.at(field, "a verdict on no evidence at all", "use 1 or more (defaults: 200 requests, 3 minutes)");
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, m) in a.metrics.iter().enumerate() {
        metric(f, i, m, p);
        if !names.insert(m.label().to_string()) {
            p.at(format!("analysis.metrics[{i}].name"), format!("two metrics are named {:?}", m.label()), "give each a distinct name");
        }
    }
    strategy(f, p);
}

fn metric(f: &SpecFile, i: usize, m: &MetricSection, p: &mut Problems) {
    let at = |k: &str| format!("analysis.metrics[{i}].{k}");
    let Some(kind) = MetricKind::parse(&m.metric) else {
        p.at(at("metric"), format!("unknown metric {:?}", m.metric), format!("use one of {METRICS}"));
        return;
    };
    let query = m.query.as_deref().map(str::trim);
    match (kind, query) {
        (MetricKind::Custom, None | Some("")) => p.at(
            at("query"),
            "a custom metric without a query",
            "write a CloudWatch metric-math expression for one side, e.g. SUM(SEARCH('{MyApp,Revision} MetricName=\"Errors\" Revision=\"{{ revision }}\"', 'Sum', 60))",
        ),
        (MetricKind::Custom, Some(_)) => {}
        (_, Some(_)) => p.at(at("query"), format!("{} is a built-in metric: the query would be ignored", m.metric), "remove `query`, or use metric = \"custom\""),
        (_, None) => {}
    }
    for (k, v) in [("relative", m.tolerance.relative), ("absolute", m.tolerance.absolute)] {
        if !(v >= 0.0 && v.is_finite()) {
            p.at(
                at(&format!("tolerance.{k}")),
                format!("{v} is negative"),
                "a tolerance is 0 or more: how much worse than blue green may be",
            );
        }
    }
    if kind.needs_target_groups() && f.deploy.strategy == Strategy::Rolling {
        p.at(
            at("metric"),
            format!("{} compares two target groups, and a rolling service has none per revision (old and new tasks share one)", m.metric),
            "release with strategy = \"blue-green\" (LINEAR or CANARY), or judge a custom metric whose query tells the revisions apart with {{ revision }}",
        );
    }
    if kind == MetricKind::Custom && f.deploy.strategy == Strategy::Rolling && query.is_some_and(|q| !q.contains("revision")) {
        p.at(
            at("query"),
            "on a rolling service both revisions serve behind one target group: a query without {{ revision }} cannot tell them apart",
            "select the revision in the query, e.g. a Revision dimension your application publishes = \"{{ revision }}\"",
        );
    }
}

/// A CodeDeploy config that moves all traffic at once has no step to judge (ECS-native
/// BLUE_GREEN is refused at the release's preflight: the live controller decides which applies).
fn strategy(f: &SpecFile, p: &mut Problems) {
    let Some(bg) = f.deploy.blue_green.as_ref().filter(|_| f.deploy.strategy == Strategy::BlueGreen) else { return };
    if let Some(c) = bg.deployment_config.as_ref().filter(|c| c.contains("AllAtOnce")) {
        p.at(
            "deploy.blue_green.deployment_config",
            format!("{c} moves all traffic at once: green never serves beside blue, so there is no step to judge"),
            "use a canary or linear config (e.g. CodeDeployDefault.ECSCanary10Percent5Minutes), or remove [analysis]",
        );
    }
}
