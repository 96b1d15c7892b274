//! Offline rules of `[analysis]` (#29), apart from its types so that `file` and `analysis` do
//! not import each other.

use super::analysis::{METRICS, MetricKind, MetricSection};
use super::file::{SpecFile, Strategy};
use crate::error::Problems;

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
