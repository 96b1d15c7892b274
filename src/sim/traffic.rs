//! Simulated production traffic and the load balancer's CloudWatch metrics of it (#29): each
//! minute the service takes a Poisson number of requests, split between blue's target group
//! and green's by the traffic weight of the ECS-native deployment at that moment (averaged over
//! the minute); each request fails (5xx) independently with its side's rate; each minute's
//! TargetResponseTime percentiles are the side's, times a log-normal factor (wider when the
//! minute had few requests). A minute is published `publication_delay` after it ended, one
//! datapoint per minute with requests (CloudWatch publishes none for a minute without). Draws
//! are a pure function of (seed, target group, minute), so every read of a minute agrees.
//!
//! Green is the deployment's alternate target group (`advancedConfiguration`), blue the
//! service's own; a custom expression is answered with the per-minute 5xx rate of the side whose
//! target group or revision it names (the model of "the application's own error metric").

use super::state::{Draws, Traffic, World};
use crate::ports::{MetricQuery, MetricSeries, MetricSource, PortError, PortResult, arn_resource, revision_of};

/// One side of the traffic as the simulator sees it.
struct Side {
    /// The weights are this side's own (green's); else the side takes the rest.
    green: bool,
    weights: Vec<(f64, f64)>,
    /// The side serves the new revision (green's error and latency factors apply).
    newest: bool,
}

impl Side {
    fn share(&self, t: f64) -> f64 {
        let w = self.weights.iter().take_while(|(at, _)| *at <= t).last().map_or(0.0, |(_, w)| *w) / 100.0;
        if self.green { w } else { 1.0 - w }
    }
    /// The mean share over the minute starting at `m` (eight samples).
    fn minute_share(&self, m: f64) -> f64 {
        (0..8).map(|k| self.share(m + 7.5 * f64::from(k) + 3.75)).sum::<f64>() / 8.0
    }
}

/// A Poisson draw (Knuth below 30, a rounded normal above).
fn poisson(d: &mut Draws, lambda: f64) -> u64 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda < 30.0 {
        let (limit, mut k, mut p) = ((-lambda).exp(), 0u64, 1.0);
        loop {
            p *= d.unit();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }
    (lambda + lambda.sqrt() * d.lognormal(1.0).ln()).round().max(0.0) as u64
}

/// A binomial draw (each of `n` below 2000, a rounded normal above).
fn binomial(d: &mut Draws, n: u64, p: f64) -> u64 {
    if n < 2000 {
        return (0..n).filter(|_| d.unit() < p).count() as u64;
    }
    let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
    (mean + sd * d.lognormal(1.0).ln()).round().clamp(0.0, n as f64) as u64
}

/// What one side's target group saw in one minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Minute {
    pub(crate) requests: u64,
    pub(crate) errors: u64,
    /// p50, p95, p99 in seconds.
    pub(crate) latency: (f64, f64, f64),
}

impl Traffic {
    /// One minute of one side with this share of the service's traffic.
    pub(crate) fn minute(&self, key: &str, minute: f64, share: f64, green: bool) -> Minute {
        let hash = key.bytes().fold(self.seed ^ 0xA5A5_5A5A, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3));
        let mut d = Draws(hash ^ (minute as u64).wrapping_mul(0x9E37_79B9));
        let requests = poisson(&mut d, self.requests_per_minute * share);
        let rate = (self.error_rate * if green { self.green_error_factor } else { 1.0 }).min(1.0);
        let errors = binomial(&mut d, requests, rate);
        // Few requests: a percentile of a small sample wanders more.
        let sigma = self.latency_sigma * (1.0 + 3.0 / (requests.max(1) as f64).sqrt());
        let f = if green { self.green_latency_factor } else { 1.0 } * d.lognormal(sigma);
        Minute { requests, errors, latency: (self.latency.0 * f, self.latency.1 * f, self.latency.2 * f) }
    }
}

impl World {
    /// The sides behind a target-group dimension, a revision or an expression naming either:
    /// every ECS-native deployment's blue (the service's target group) and green (its
    /// alternate target group), with that deployment's weights.
    fn sides_named(&self, name: &str) -> Vec<(String, Side)> {
        let mut out = self.rolling_sides(name);
        out.extend(self.codedeploy_sides(name));
        for s in &self.services {
            let Some(blue_tg) = s.def.load_balancers.iter().flatten().next().map(|l| l.target_group_arn.clone()) else { continue };
            for sd in &s.sds {
                let Some(n) = &sd.native else { continue };
                let green_tg = n.cfg.load_balancer.as_ref().map(|l| l.alternate_target_group_arn.clone()).unwrap_or_default();
                let blue_rev = sd.sources.first().cloned().unwrap_or_default();
                for (tg, rev, green) in [(&blue_tg, &blue_rev, false), (&green_tg, &sd.target, true)] {
                    let names_it = |x: &str| names(name, x);
                    if names_it(arn_resource(tg)) || names_it(revision_of(rev)) {
                        out.push((arn_resource(tg).to_string(), Side { green, weights: n.weights.clone(), newest: green }));
                    }
                }
            }
        }
        out
    }

    /// Record each service's serving tasks by revision when they change (every tick).
    pub(crate) fn record_serving(&mut self) {
        let mut now: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u32>> = Default::default();
        for t in self.tasks.iter().filter(|t| t.one_off.is_none() && t.healthy && t.last_status == crate::states::TaskStatus::Running) {
            *now.entry(format!("{}/{}", t.cluster, t.service)).or_default().entry(t.td.clone()).or_default() += 1;
        }
        for s in &self.services {
            let key = format!("{}/{}", s.cluster, s.name);
            let counts: Vec<(String, u32)> = now.remove(&key).unwrap_or_default().into_iter().collect();
            let last = self.serving.iter().rev().find(|(_, k, _)| *k == key).map(|(_, _, c)| c);
            if last != Some(&counts) {
                self.serving.push((self.now, key, counts));
            }
        }
    }

    /// A rolling service's revision named by `name` (`family:revision`): its share of the
    /// service's requests is its share of the serving tasks; green is the newest revision served.
    fn rolling_sides(&self, name: &str) -> Vec<(String, Side)> {
        let mut out = Vec::new();
        for s in &self.services {
            let key = format!("{}/{}", s.cluster, s.name);
            let records: Vec<&super::state::Serving> = self.serving.iter().filter(|(_, k, _)| *k == key).collect();
            let mut tds: Vec<&String> = records.iter().flat_map(|(_, _, c)| c.iter().map(|(td, _)| td)).collect();
            tds.sort_by_key(|td| revision_number(td));
            tds.dedup();
            let newest = tds.last().copied().cloned();
            for td in tds.iter().filter(|td| names(name, revision_of(td))) {
                let weights = records
                    .iter()
                    .map(|(at, _, c)| {
                        let total: u32 = c.iter().map(|(_, n)| n).sum();
                        let mine = c.iter().find(|(t, _)| t == *td).map_or(0, |(_, n)| *n);
                        (*at, if total == 0 { 0.0 } else { 100.0 * f64::from(mine) / f64::from(total) })
                    })
                    .collect();
                out.push((revision_of(td).to_string(), Side { green: true, weights, newest: newest.as_ref() == Some(*td) }));
            }
        }
        out
    }

    /// The sides of every CodeDeploy deployment (not a rollback): the group's `<service>-blue`
    /// and `<service>-green` target groups, as its deployment target names them.
    fn codedeploy_sides(&self, name: &str) -> Vec<(String, Side)> {
        let mut out = Vec::new();
        for d in self.cd.deps.iter().filter(|d| !d.is_rollback && !d.weights.is_empty()) {
            let Some(g) = self.cd.groups.get(d.group) else { continue };
            for (color, rev, green) in [("blue", &d.blue, false), ("green", &d.td, true)] {
                let arn = target_group_arn(&format!("{}-{color}", g.service));
                if names(name, arn_resource(&arn)) || names(name, revision_of(rev)) {
                    out.push((arn_resource(&arn).to_string(), Side { green, weights: d.weights.clone(), newest: green }));
                }
            }
        }
        out
    }

    /// GetMetricData over the simulated traffic (one-minute periods).
    pub(crate) fn metric_data(&self, queries: &[MetricQuery], start: f64, end: f64) -> PortResult<Vec<MetricSeries>> {
        if end <= start {
            return Err(PortError::Rejected {
                op: "cloudwatch:GetMetricData".into(),
                code: "ValidationError".into(),
                message: "The parameter StartTime must be less than the parameter EndTime.".into(),
            });
        }
        let t = &self.faults.traffic;
        let published = self.now - t.publication_delay;
        let first = (start / 60.0).floor() * 60.0;
        let minutes: Vec<f64> = (0..).map(|k| first + 60.0 * f64::from(k)).take_while(|m| *m < end && *m + 60.0 <= published).collect();
        Ok(queries
            .iter()
            .map(|q| {
                let (name, value): (&str, fn(&Minute) -> Option<f64>) = match &q.source {
                    MetricSource::Stat { metric, dimensions, stat, .. } => {
                        let tg = dimensions.iter().find(|(k, _)| k == "TargetGroup").map_or("", |(_, v)| v.as_str());
                        (tg, stat_of(metric, stat))
                    }
                    MetricSource::Expression(e) => (e.as_str(), |m| (m.requests > 0).then(|| m.errors as f64 / m.requests as f64)),
                };
                let sides = self.sides_named(name);
                // The newest deployment that names this side decides its weights.
                let points = sides
                    .last()
                    .map(|(key, side)| {
                        minutes
                            .iter()
                            .filter_map(|m| {
                                let minute = t.minute(key, *m, side.minute_share(*m), side.newest);
                                (minute.requests > 0).then_some(()).and_then(|()| value(&minute)).map(|v| (*m, v))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                MetricSeries { id: q.id.clone(), points, complete: true }
            })
            .collect())
    }

    /// The service's load balancer carries this `advancedConfiguration` (seeding: a service set
    /// up for ECS-native blue/green).
    pub fn set_advanced_load_balancer(&mut self, cluster: &str, name: &str, advanced: crate::ports::AdvancedLbConfig) {
        let Some(i) = self.svc_index(cluster, name) else { return };
        if let Some(l) = self.services[i].def.load_balancers.iter_mut().flatten().next() {
            l.advanced = Some(advanced);
        }
    }

    /// DescribeRules' forward weights of a production listener rule: the service's target group
    /// and the alternate one, by the newest ECS-native deployment's weight on green.
    pub(crate) fn forward_weights(&self, rule: &str) -> PortResult<Vec<(String, i32)>> {
        for s in &self.services {
            let Some(lb) = s.def.load_balancers.iter().flatten().next() else { continue };
            let native = s.sds.iter().rev().find_map(|sd| sd.native.as_ref().map(|n| (sd, n)));
            let advanced =
                native.and_then(|(_, n)| n.cfg.load_balancer.clone()).map(|l| (l.alternate_target_group_arn, l.production_listener_rule));
            let advanced = advanced.or_else(|| lb.advanced.clone().map(|a| (a.alternate_target_group_arn, a.production_listener_rule)));
            let Some((alternate, _)) = advanced.filter(|(_, r)| r == rule) else { continue };
            let w =
                native.map_or(0.0, |(sd, n)| if sd.status == crate::states::SdStatus::Successful { 100.0 } else { n.weight_at(self.now) });
            let green = w.round() as i32;
            return Ok(vec![(lb.target_group_arn.clone(), 100 - green), (alternate, green)]);
        }
        Err(PortError::NotFound { op: "elasticloadbalancing:DescribeRules".into(), message: format!("RuleNotFound: {rule}") })
    }
}

/// The simulated account's ARN of a target group named `name`.
pub(crate) fn target_group_arn(name: &str) -> String {
    format!("arn:aws:elasticloadbalancing:{}:{}:targetgroup/{name}/0123456789abcdef", super::state::REGION, super::state::ACCOUNT)
}

/// `text` names `x` whole (`checkout:1` is not named by `checkout:12`).
fn names(text: &str, x: &str) -> bool {
    !x.is_empty() && text.match_indices(x).any(|(i, _)| !text[i + x.len()..].starts_with(|c: char| c.is_ascii_alphanumeric()))
}

/// The revision number of a task-definition ARN (`…/web:12` → 12).
fn revision_number(td: &str) -> u64 {
    td.rsplit(':').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// The value a metric and statistic read from a minute.
fn stat_of(metric: &str, stat: &str) -> fn(&Minute) -> Option<f64> {
    match (metric, stat) {
        ("RequestCount", "Sum") => |m| Some(m.requests as f64),
        ("HTTPCode_Target_5XX_Count", "Sum") => |m| (m.errors > 0).then_some(m.errors as f64),
        ("TargetResponseTime", "p50") => |m| Some(m.latency.0),
        ("TargetResponseTime", "p95") => |m| Some(m.latency.1),
        ("TargetResponseTime", "p99") => |m| Some(m.latency.2),
        _ => |_| None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over many minutes the drawn traffic has the configured rates, shares and percentiles.
    #[test]
    fn the_drawn_minutes_have_the_configured_means() {
        let t = Traffic { green_error_factor: 2.0, green_latency_factor: 1.3, ..Traffic::default() };
        let (mut n, mut e, mut gn, mut ge, mut p99) = (0u64, 0u64, 0u64, 0u64, Vec::new());
        for m in 0..2000 {
            let minute = f64::from(m) * 60.0;
            let blue = t.minute("targetgroup/blue/1", minute, 0.75, false);
            let green = t.minute("targetgroup/green/2", minute, 0.25, true);
            (n, e, gn, ge) = (n + blue.requests, e + blue.errors, gn + green.requests, ge + green.errors);
            p99.push(green.latency.2 / blue.latency.2);
        }
        let per_minute = (n as f64 / 2000.0, gn as f64 / 2000.0);
        assert!((per_minute.0 - 750.0).abs() < 5.0 && (per_minute.1 - 250.0).abs() < 3.0, "{per_minute:?}");
        let (blue_rate, green_rate) = (e as f64 / n as f64, ge as f64 / gn as f64);
        assert!((blue_rate - 0.01).abs() < 0.0006, "blue {blue_rate}");
        assert!((green_rate - 0.02).abs() < 0.001, "green {green_rate}");
        p99.sort_by(f64::total_cmp);
        assert!((p99[1000] - 1.3).abs() < 0.03, "median ratio {}", p99[1000]);
    }
}
