//! The canary judge in a release (#29): green's metrics against blue's, read from CloudWatch
//! (one GetMetricData call a judgement), judged by [`crate::analysis`]. The deployers decide
//! when a step is judged and what a verdict does (`deploy/native/steps.rs`).

use crate::analysis::{MetricJudgement, Tolerance, Verdict, combine, compare_ranks, compare_rates};
use crate::error::{Error, Result};
use crate::ports::{MetricQuery, MetricSeries, MetricSource, Timestamp, arn_resource};
use crate::spec::{AnalysisSection, Direction, MetricKind, Spec};
use std::collections::BTreeMap;

crate::engine::engine_part!(
    /// Reads the two sides' metrics and judges a step.
    Judge
);

/// Green and blue in CloudWatch's names: the load balancer's and target groups' dimensions
/// (`app/<name>/<id>`, `targetgroup/<name>/<id>`), and the revisions (`family:revision`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Sides {
    pub(crate) load_balancer: String,
    pub(crate) green_target_group: String,
    pub(crate) blue_target_group: String,
    pub(crate) green_revision: String,
    pub(crate) blue_revision: String,
}

/// The load balancer's dimension from a listener or listener-rule ARN
/// (`…:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee` → `app/web/50dc6c495c0c9188`).
pub(crate) fn load_balancer_dimension(arn: &str) -> Option<String> {
    let resource = arn_resource(arn);
    let (_, path) = resource.split_once('/')?;
    let parts: Vec<&str> = path.split('/').take(3).collect();
    (parts.len() == 3).then(|| parts.join("/"))
}

/// (blue, green) of a production rule's forward weights: two target groups, all production
/// traffic on one (blue, serving when the release starts) and none on the other (green).
pub(crate) fn blue_and_green(weights: &[(String, i32)]) -> Option<(String, String)> {
    match weights {
        [(a, wa), (b, wb)] if *wa > 0 && *wb == 0 => Some((a.clone(), b.clone())),
        [(a, wa), (b, wb)] if *wb > 0 && *wa == 0 => Some((b.clone(), a.clone())),
        _ => None,
    }
}

/// A step's verdict, its metrics, and the minutes judged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepJudgement {
    pub(crate) verdict: Verdict,
    pub(crate) metrics: Vec<MetricJudgement>,
    pub(crate) score: Option<f64>,
    /// The judged minutes: [from, to).
    pub(crate) window: (Timestamp, Timestamp),
}

/// What a query reads for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    GreenRequests,
    GreenErrors,
    BlueRequests,
    BlueErrors,
    Green,
    Blue,
}

const ALB: &str = "AWS/ApplicationELB";

/// The queries of every metric (ids `m<metric>_<role>`), one-minute periods.
fn queries(spec: &Spec, sides: &Sides) -> Result<Vec<(usize, Role, MetricQuery)>> {
    let stat = |tg: &str, metric: &str, stat: &str| MetricSource::Stat {
        namespace: ALB.into(),
        metric: metric.into(),
        dimensions: vec![("TargetGroup".into(), tg.to_string()), ("LoadBalancer".into(), sides.load_balancer.clone())],
        stat: stat.into(),
    };
    let mut out = Vec::new();
    for (i, m) in spec.analysis_metrics().iter().enumerate() {
        let mut push =
            |role: Role, source: MetricSource| out.push((i, role, MetricQuery { id: format!("m{i}_{}", role_id(role)), source }));
        match m.kind() {
            MetricKind::FiveXxRate => {
                push(Role::GreenRequests, stat(&sides.green_target_group, "RequestCount", "Sum"));
                push(Role::GreenErrors, stat(&sides.green_target_group, "HTTPCode_Target_5XX_Count", "Sum"));
                push(Role::BlueRequests, stat(&sides.blue_target_group, "RequestCount", "Sum"));
                push(Role::BlueErrors, stat(&sides.blue_target_group, "HTTPCode_Target_5XX_Count", "Sum"));
            }
            MetricKind::Latency(p) => {
                push(Role::Green, stat(&sides.green_target_group, "TargetResponseTime", &format!("p{p}")));
                push(Role::Blue, stat(&sides.blue_target_group, "TargetResponseTime", &format!("p{p}")));
            }
            MetricKind::Custom => {
                for (role, tg, rev) in [
                    (Role::Green, &sides.green_target_group, &sides.green_revision),
                    (Role::Blue, &sides.blue_target_group, &sides.blue_revision),
                ] {
                    let vars = [("target_group", tg.clone()), ("load_balancer", sides.load_balancer.clone()), ("revision", rev.clone())];
                    let q = spec.render_analysis_query(i, &vars).map_err(Error::from)?;
                    push(role, MetricSource::Expression(q));
                }
            }
        }
    }
    Ok(out)
}

fn role_id(r: Role) -> &'static str {
    match r {
        Role::GreenRequests => "green_requests",
        Role::GreenErrors => "green_5xx",
        Role::BlueRequests => "blue_requests",
        Role::BlueErrors => "blue_5xx",
        Role::Green => "green",
        Role::Blue => "blue",
    }
}

/// Minute → value of one query's series.
type ByMinute = BTreeMap<i64, f64>;

fn by_minute(s: Option<&MetricSeries>) -> ByMinute {
    s.map(|s| s.points.iter().map(|(t, v)| ((t / 60.0).floor() as i64, *v)).collect()).unwrap_or_default()
}

/// Every metric judged on the series read (pure). Rates: the requests and 5xx of the minutes in
/// which both sides served (a minute without a 5xx datapoint had none). Per-minute values: the
/// minutes in which both sides have one.
fn evaluate(a: &AnalysisSection, spec: &Spec, read: &BTreeMap<(usize, Role), ByMinute>) -> Vec<MetricJudgement> {
    let get = |i: usize, r: Role| read.get(&(i, r)).cloned().unwrap_or_default();
    spec.analysis_metrics()
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let tol = Tolerance { relative: m.tolerance.relative, absolute: m.tolerance.absolute };
            match m.kind() {
                MetricKind::FiveXxRate => {
                    let (gr, ge, br, be) =
                        (get(i, Role::GreenRequests), get(i, Role::GreenErrors), get(i, Role::BlueRequests), get(i, Role::BlueErrors));
                    let both: Vec<i64> =
                        gr.iter().filter(|(k, v)| **v > 0.0 && br.get(k).is_some_and(|b| *b > 0.0)).map(|(k, _)| *k).collect();
                    let sum = |s: &ByMinute| both.iter().map(|k| s.get(k).copied().unwrap_or(0.0)).sum::<f64>().round() as u64;
                    let r = compare_rates((sum(&ge), sum(&gr)), (sum(&be), sum(&br)), tol, a.confidence, a.min_requests);
                    MetricJudgement::from_rates(m.label(), m.critical, &r)
                }
                MetricKind::Latency(_) | MetricKind::Custom => {
                    let (g, b) = (get(i, Role::Green), get(i, Role::Blue));
                    let lower = m.direction == Direction::LowerIsWorse;
                    let sign = if lower { -1.0 } else { 1.0 };
                    let both: Vec<(f64, f64)> = g.iter().filter_map(|(k, gv)| Some((sign * gv, sign * b.get(k)?))).collect();
                    let (gv, bv): (Vec<f64>, Vec<f64>) = both.into_iter().unzip();
                    let tol = Tolerance { relative: sign * tol.relative, absolute: tol.absolute };
                    let r = compare_ranks(&gv, &bv, tol, 1.0 - a.confidence, a.min_minutes);
                    MetricJudgement::from_ranks(m.label(), m.critical, &r, lower)
                }
            }
        })
        .collect()
}

impl Judge<'_> {
    /// DescribeRules of the production listener rule: its target groups and weights.
    pub(crate) async fn forward_weights(&self, rule: &str) -> Result<Vec<(String, i32)>> {
        self.retry("elasticloadbalancing:DescribeRules", || self.ports.elb.forward_weights(rule)).await
    }

    /// Judge the minutes from `from` to `now` − the publication delay (whole minutes): one
    /// GetMetricData call. No whole minute yet: INCONCLUSIVE without a call.
    pub(crate) async fn judge(&self, spec: &Spec, sides: &Sides, from: Timestamp, now: Timestamp) -> Result<StepJudgement> {
        let a = spec.file.analysis.as_ref().ok_or_else(|| Error::Internal("a judged step without [analysis]".into()))?;
        let start = (from / 60.0).floor() * 60.0;
        let end = ((now - a.publication_delay.as_secs_f64()) / 60.0).floor() * 60.0;
        let qs = queries(spec, sides)?;
        let mut read = BTreeMap::new();
        if end > start {
            let only: Vec<MetricQuery> = qs.iter().map(|(_, _, q)| q.clone()).collect();
            let series = self.retry("cloudwatch:GetMetricData", || self.ports.cloudwatch.metric_data(&only, start, end)).await?;
            for (i, role, q) in &qs {
                read.insert((*i, *role), by_minute(series.iter().find(|s| s.id == q.id)));
            }
        }
        let metrics = evaluate(a, spec, &read);
        let (verdict, score) = combine(&metrics, a.pass_score);
        Ok(StepJudgement { verdict, metrics, score, window: (start, end.max(start)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(analysis: &str) -> (tempfile::TempDir, Spec) {
        let dir = tempfile::tempdir().expect("dir");
        let template = r#"{"family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
  "containerDefinitions": [{"name": "web", "image": "{{ image }}", "memory": 512, "portMappings": [{"containerPort": 80}]}]}"#;
        std::fs::write(dir.path().join("web.taskdef.json"), template).expect("template");
        let text = format!(
            "[service]\ncluster = \"c\"\nname = \"web\"\n[image]\nrepository = \"web\"\ntag = \"v1\"\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n[deploy]\nstrategy = \"blue-green\"\n[deploy.blue_green]\ncontainer_port = 80\necs_strategy = \"CANARY\"\n{analysis}"
        );
        std::fs::write(dir.path().join("web.toml"), text).expect("spec");
        let spec = Spec::load(&dir.path().join("web.toml"), None).expect("spec loads");
        (dir, spec)
    }

    fn minutes(values: &[(i64, f64)]) -> ByMinute {
        values.iter().copied().collect()
    }

    /// Rates count only the minutes both sides served, a missing 5xx minute as zero; per-minute
    /// values pair the minutes both have; lower-is-worse turns the comparison round.
    #[test]
    fn evaluate_pairs_the_minutes_both_sides_served() {
        let (_d, s) = spec(
            "[analysis]\nmin_requests = 100\nmin_minutes = 3\n[[analysis.metrics]]\nmetric = \"5xx-rate\"\n[[analysis.metrics]]\nname = \"orders\"\nmetric = \"custom\"\nquery = \"q\"\ndirection = \"lower-is-worse\"\ncritical = false\n",
        );
        let a = s.file.analysis.clone().expect("analysis");
        let mut read = BTreeMap::new();
        // Minute 1 only green served (blue had no requests): left out.
        read.insert((0, Role::GreenRequests), minutes(&[(1, 50.0), (2, 100.0), (3, 100.0), (4, 100.0)]));
        read.insert((0, Role::GreenErrors), minutes(&[(1, 50.0), (3, 6.0)]));
        read.insert((0, Role::BlueRequests), minutes(&[(2, 900.0), (3, 900.0), (4, 900.0)]));
        read.insert((0, Role::BlueErrors), minutes(&[(2, 9.0), (3, 9.0), (4, 9.0)]));
        // Orders a minute: green's fell by half.
        read.insert((1, Role::Green), minutes(&[(2, 50.0), (3, 52.0), (4, 49.0), (5, 51.0), (6, 50.0)]));
        read.insert((1, Role::Blue), minutes(&[(2, 100.0), (3, 101.0), (4, 99.0), (5, 100.0), (6, 102.0), (7, 100.0)]));
        let got = evaluate(&a, &s, &read);
        assert_eq!((got[0].green_n, got[0].blue_n), (300, 2700), "minute 1 is not judged: {got:?}");
        assert!((got[0].green - 0.02).abs() < 1e-12 && (got[0].blue - 0.01).abs() < 1e-12, "{got:?}");
        assert_eq!((got[1].green_n, got[1].blue_n), (5, 5), "minute 7 has no green value");
        assert_eq!(got[1].verdict, Verdict::Fail, "fewer orders is worse: {got:?}");
        assert_eq!((got[1].green, got[1].blue), (50.0, 100.0), "medians shown as measured");
        // The same values with higher-is-worse: green is not worse.
        let (_d2, s2) = spec("[[analysis.metrics]]\nmetric = \"custom\"\nquery = \"q\"\n");
        let mut read2 = BTreeMap::new();
        read2.insert((0, Role::Green), read[&(1, Role::Green)].clone());
        read2.insert((0, Role::Blue), read[&(1, Role::Blue)].clone());
        assert_eq!(evaluate(&s2.file.analysis.clone().expect("analysis"), &s2, &read2)[0].verdict, Verdict::Pass);
    }

    #[test]
    fn dimensions_come_from_the_arns() {
        let rule =
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";
        assert_eq!(super::load_balancer_dimension(rule).as_deref(), Some("app/web/50dc6c495c0c9188"));
        let tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067";
        assert_eq!(crate::ports::arn_resource(tg), "targetgroup/web/73e2d6bc24d8a067");
        assert_eq!(crate::ports::revision_of("arn:aws:ecs:us-east-1:1:task-definition/web:42"), "web:42");
        assert_eq!(super::load_balancer_dimension("not-an-arn"), None);
        let w = |a: i32, b: i32| vec![("blue".to_string(), a), ("green".to_string(), b)];
        assert_eq!(super::blue_and_green(&w(1, 0)), Some(("blue".into(), "green".into())));
        assert_eq!(super::blue_and_green(&w(0, 100)), Some(("green".into(), "blue".into())));
        assert_eq!(super::blue_and_green(&w(90, 10)), None, "mid-shift: green cannot be told");
        assert_eq!(super::blue_and_green(&[("one".to_string(), 1)]), None);
    }
}
