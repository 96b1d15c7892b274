//! The canary judge's statistics (#29): is green worse than blue on the same live traffic?
//! Pure functions, no I/O; `engine/judge.rs` reads the metrics and drives the steps.
//!
//! - **Error rates** are proportions with their uncertainty: each side's rate has the posterior
//!   Beta(errors + 1, requests − errors + 1) (a uniform prior), and the probability that green's
//!   rate exceeds blue's by more than the tolerance — `green > blue × (1 + relative) + absolute`
//!   — comes from the normal approximation of the two Betas' difference. A regression is called
//!   only when that probability reaches the confidence (FAIL); below the minimum sample the
//!   verdict is INCONCLUSIVE, never a rollback on a handful of requests.
//! - **Latency** is compared on per-minute values with a one-sided Mann–Whitney U test (as
//!   Kayenta does): green's values against blue's scaled by the tolerance, ties counted half,
//!   the normal approximation with the tie correction and a continuity correction.
//!
//! Both return the numbers behind the verdict, for the progress line, the JSON events and the
//! step summary.

/// The evidence from which a metric is not passed but held for more data: green's best
/// estimate is beyond the tolerance (a probability of being worse of one half or more), yet
/// below the confidence a FAIL needs. A sequential judge: PASS when green looks no worse,
/// FAIL when it is worse with confidence, INCONCLUSIVE (the step is extended) in between.
pub const LOOKS_WORSE: f64 = 0.5;

/// A step's verdict on one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Pass,
    Fail,
    /// Not enough evidence yet (fewer samples than the minimum).
    Inconclusive,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Inconclusive => "INCONCLUSIVE",
        })
    }
}

/// What fgdeploy does with a judged step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepAction {
    /// The next step moves (CONTINUE; CodeDeploy's and ECS's own pace for the others).
    Continue,
    /// The deployment is rolled back.
    Rollback,
    /// INCONCLUSIVE: the step is held and judged again (ECS-native).
    Hold,
}

impl std::fmt::Display for StepAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StepAction::Continue => "continue",
            StepAction::Rollback => "rollback",
            StepAction::Hold => "hold",
        })
    }
}

/// How much worse green may be before it counts: `green ≤ blue × (1 + relative) + absolute`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    pub relative: f64,
    pub absolute: f64,
}

impl Tolerance {
    fn bound(&self, blue: f64) -> f64 {
        blue * (1.0 + self.relative) + self.absolute
    }
}

/// What the proportion test found.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RateComparison {
    pub verdict: Verdict,
    pub green_rate: f64,
    pub blue_rate: f64,
    /// The probability that green's rate is above blue's tolerance bound.
    pub p_worse: f64,
    pub green_requests: u64,
    pub blue_requests: u64,
}

/// Green's `(errors, requests)` against blue's: FAIL when the probability that green is worse
/// beyond `tol` reaches `confidence`; INCONCLUSIVE while either side has fewer than
/// `min_requests` requests or while that probability is between [`LOOKS_WORSE`] and the
/// confidence; PASS otherwise.
pub fn compare_rates(green: (u64, u64), blue: (u64, u64), tol: Tolerance, confidence: f64, min_requests: u64) -> RateComparison {
    let (mg, vg) = beta_moments(green);
    let (mb, vb) = beta_moments(blue);
    let scale = 1.0 + tol.relative;
    let sd = (vg + scale * scale * vb).sqrt();
    let p_worse = normal_cdf((mg - tol.bound(mb)) / sd.max(f64::MIN_POSITIVE));
    let verdict = if green.1 < min_requests || blue.1 < min_requests {
        Verdict::Inconclusive
    } else if p_worse >= confidence {
        Verdict::Fail
    } else if p_worse >= LOOKS_WORSE {
        // Green's best estimate is beyond the tolerance, not yet with the confidence: more data.
        Verdict::Inconclusive
    } else {
        Verdict::Pass
    };
    let rate = |(e, n): (u64, u64)| if n == 0 { 0.0 } else { e as f64 / n as f64 };
    RateComparison { verdict, green_rate: rate(green), blue_rate: rate(blue), p_worse, green_requests: green.1, blue_requests: blue.1 }
}

/// One metric's verdict on one step, with the numbers behind it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct MetricJudgement {
    /// The metric's name (`[[analysis.metrics]] name`, else its kind).
    pub name: String,
    pub critical: bool,
    pub verdict: Verdict,
    /// `two-proportion (Beta posteriors)` or `Mann-Whitney U (per minute)`.
    pub test: String,
    /// Green's and blue's value: the rates, or the medians of the per-minute values.
    pub green: f64,
    pub blue: f64,
    /// Sample sizes: requests (rates) or minutes (per-minute values).
    pub green_n: u64,
    pub blue_n: u64,
    /// The evidence: the probability that green is worse beyond the tolerance (rates), or 1 −
    /// the one-sided p-value (ranks); a FAIL needs it to reach the confidence.
    pub certainty: f64,
}

impl MetricJudgement {
    pub fn from_rates(name: &str, critical: bool, r: &RateComparison) -> Self {
        MetricJudgement {
            name: name.to_string(),
            critical,
            verdict: r.verdict,
            test: "two-proportion (Beta posteriors)".into(),
            green: r.green_rate,
            blue: r.blue_rate,
            green_n: r.green_requests,
            blue_n: r.blue_requests,
            certainty: r.p_worse,
        }
    }

    /// `negated`: the values were negated (lower is worse); the medians are shown as measured.
    pub fn from_ranks(name: &str, critical: bool, r: &RankComparison, negated: bool) -> Self {
        let sign = if negated { -1.0 } else { 1.0 };
        // No minutes, no median: 0 (JSON has no NaN), shown as "-".
        let shown = |m: f64| if m.is_finite() { sign * m } else { 0.0 };
        MetricJudgement {
            name: name.to_string(),
            critical,
            verdict: r.verdict,
            test: "Mann-Whitney U (per minute)".into(),
            green: shown(r.green_median),
            blue: shown(r.blue_median),
            green_n: r.green_points as u64,
            blue_n: r.blue_points as u64,
            certainty: 1.0 - r.p_value,
        }
    }

    /// `5xx-rate: green 2.10 % vs blue 1.00 % (5120 vs 45210 requests, P(worse) 0.998) FAIL`.
    pub fn line(&self) -> String {
        let rates = self.test.starts_with("two-proportion");
        let value = |v: f64, n: u64| match (rates, n) {
            (_, 0) => "-".to_string(),
            (true, _) => format!("{:.2} %", v * 100.0),
            (false, _) => format!("{v:.4}"),
        };
        let (g, b) = (value(self.green, self.green_n), value(self.blue, self.blue_n));
        let unit = if rates { "requests" } else { "minutes" };
        let evidence = if rates { "P(worse)" } else { "1 - p" };
        format!(
            "{}: green {g} vs blue {b} ({} vs {} {unit}, {evidence} {:.3}) {}",
            self.name, self.green_n, self.blue_n, self.certainty, self.verdict
        )
    }
}

/// A step's verdict from its metrics: FAIL when a critical metric fails or the judged
/// non-critical metrics' pass share is below `pass_score` (percent); otherwise INCONCLUSIVE
/// while any metric lacks evidence; otherwise PASS. Returns the verdict and the score (None
/// when no non-critical metric was judged).
pub fn combine(metrics: &[MetricJudgement], pass_score: f64) -> (Verdict, Option<f64>) {
    let scored: Vec<&MetricJudgement> = metrics.iter().filter(|m| !m.critical && m.verdict != Verdict::Inconclusive).collect();
    let score =
        (!scored.is_empty()).then(|| 100.0 * scored.iter().filter(|m| m.verdict == Verdict::Pass).count() as f64 / scored.len() as f64);
    let critical_fail = metrics.iter().any(|m| m.critical && m.verdict == Verdict::Fail);
    let verdict = if critical_fail || score.is_some_and(|s| s < pass_score) {
        Verdict::Fail
    } else if metrics.iter().any(|m| m.verdict == Verdict::Inconclusive) {
        Verdict::Inconclusive
    } else {
        Verdict::Pass
    };
    (verdict, score)
}

/// Mean and variance of Beta(errors + 1, requests − errors + 1).
fn beta_moments((errors, requests): (u64, u64)) -> (f64, f64) {
    let a = errors.min(requests) as f64 + 1.0;
    let b = (requests - errors.min(requests)) as f64 + 1.0;
    let n = a + b;
    (a / n, a * b / (n * n * (n + 1.0)))
}

/// What the rank test found.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RankComparison {
    pub verdict: Verdict,
    /// Mann–Whitney U of green over blue's tolerance bound.
    pub u: f64,
    /// The one-sided p-value of "green is greater".
    pub p_value: f64,
    pub green_median: f64,
    pub blue_median: f64,
    pub green_points: usize,
    pub blue_points: usize,
}

/// Per-minute values of green against blue's (higher is worse): FAIL when the one-sided
/// Mann–Whitney test says green is above blue's tolerance bound at level `alpha`;
/// INCONCLUSIVE while either side has fewer than `min_points` values or while green looks
/// worse without the confidence (1 − p of [`LOOKS_WORSE`] or more); PASS otherwise.
pub fn compare_ranks(green: &[f64], blue: &[f64], tol: Tolerance, alpha: f64, min_points: usize) -> RankComparison {
    let bounds: Vec<f64> = blue.iter().map(|b| tol.bound(*b)).collect();
    let (n1, n2) = (green.len() as f64, bounds.len() as f64);
    let u: f64 = green
        .iter()
        .map(|g| {
            bounds
                .iter()
                .map(|b| {
                    if g > b {
                        1.0
                    } else if g == b {
                        0.5
                    } else {
                        0.0
                    }
                })
                .sum::<f64>()
        })
        .sum();
    let mean = n1 * n2 / 2.0;
    let variance = n1 * n2 / 12.0 * ((n1 + n2 + 1.0) - tie_term(green, &bounds));
    let p_value = if variance > 0.0 { 1.0 - normal_cdf((u - mean - 0.5) / variance.sqrt()) } else { 0.5 };
    let verdict = if green.len() < min_points || blue.len() < min_points {
        Verdict::Inconclusive
    } else if p_value <= alpha {
        Verdict::Fail
    } else if 1.0 - p_value > LOOKS_WORSE {
        Verdict::Inconclusive
    } else {
        Verdict::Pass
    };
    RankComparison {
        verdict,
        u,
        p_value,
        green_median: median(green),
        blue_median: median(blue),
        green_points: green.len(),
        blue_points: blue.len(),
    }
}

/// Σ(t³ − t) / (n(n − 1)) over the groups of tied values in both samples together.
fn tie_term(a: &[f64], b: &[f64]) -> f64 {
    let mut all: Vec<f64> = a.iter().chain(b).copied().collect();
    all.sort_by(f64::total_cmp);
    let n = all.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mut sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let j = all[i..].iter().take_while(|v| **v == all[i]).count();
        let t = j as f64;
        sum += t * t * t - t;
        i += j;
    }
    sum / (n * (n - 1.0))
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// The standard normal distribution function, from the complementary error function
/// (Numerical Recipes' `erfc` Chebyshev fit, relative error below 1.2e-7).
fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07 + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Tolerance = Tolerance { relative: 0.0, absolute: 0.0 };

    #[test]
    fn the_normal_distribution_matches_its_tables() {
        for (x, p) in [(0.0, 0.5), (1.0, 0.841_344_7), (1.644_853_6, 0.95), (-1.959_964, 0.025), (3.0, 0.998_650_1)] {
            assert!((normal_cdf(x) - p).abs() < 2e-7, "Φ({x}) = {} not {p}", normal_cdf(x));
        }
    }

    #[test]
    fn a_doubled_error_rate_with_enough_traffic_fails_and_equal_rates_pass() {
        // 2 % against 1 % on 5,000 requests each: unmistakable.
        let r = compare_rates((100, 5000), (50, 5000), Tolerance { relative: 0.2, absolute: 0.0 }, 0.95, 500);
        assert_eq!(r.verdict, Verdict::Fail, "{r:?}");
        assert!(r.p_worse > 0.99 && (r.green_rate - 0.02).abs() < 1e-12 && (r.blue_rate - 0.01).abs() < 1e-12);
        // Equal rates: green is not worse beyond a 20 % tolerance.
        let r = compare_rates((50, 5000), (50, 5000), Tolerance { relative: 0.2, absolute: 0.0 }, 0.95, 500);
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
        assert!(r.p_worse < 0.5);
    }

    #[test]
    fn low_traffic_is_inconclusive_and_noise_is_no_regression() {
        // Two errors in 40 requests against none in 40: below the minimum sample.
        assert_eq!(compare_rates((2, 40), (0, 40), NONE, 0.95, 100).verdict, Verdict::Inconclusive);
        // 3 against 1 in 300 each: green looks worse, but well within what chance gives
        // (0.5 < p_worse < 0.95): held for more data, neither passed nor failed.
        let r = compare_rates((3, 300), (1, 300), NONE, 0.95, 100);
        assert_eq!(r.verdict, Verdict::Inconclusive, "{r:?}");
        assert!(r.p_worse > 0.5 && r.p_worse < 0.95, "{r:?}");
        // 1 against 3: green looks better: a pass.
        assert_eq!(compare_rates((1, 300), (3, 300), NONE, 0.95, 100).verdict, Verdict::Pass);
        // No traffic at all on blue: the prior alone, never a regression.
        assert_ne!(compare_rates((0, 1000), (0, 0), NONE, 0.95, 0).verdict, Verdict::Fail);
    }

    #[test]
    fn the_rank_test_finds_a_slower_green_and_not_an_equal_one() {
        let blue = [100.0, 102.0, 98.0, 101.0, 99.0, 103.0, 100.0, 97.0];
        let slower: Vec<f64> = blue.iter().map(|b| b * 1.3).collect();
        let r = compare_ranks(&slower, &blue, Tolerance { relative: 0.1, absolute: 0.0 }, 0.05, 5);
        assert_eq!(r.verdict, Verdict::Fail, "{r:?}");
        assert_eq!(r.u, 64.0, "every green value above every bound");
        // U = 64 of 8 × 8; two pairs of ties (130 twice in green, 110 twice among the bounds):
        // Σ(t³ − t)/(n(n − 1)) = 12/240, z = (64 − 32 − 0.5) / √(64/12 × (17 − 0.05)) ≈ 3.31.
        assert!((r.p_value - (1.0 - normal_cdf(31.5 / (64.0f64 / 12.0 * (17.0 - 0.05)).sqrt()))).abs() < 1e-12);
        assert!(r.p_value < 0.001);
        let r = compare_ranks(&blue, &blue, Tolerance { relative: 0.1, absolute: 0.0 }, 0.05, 5);
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
        assert_eq!(compare_ranks(&slower[..3], &blue, NONE, 0.05, 5).verdict, Verdict::Inconclusive);
        assert_eq!((r.green_median, r.blue_median), (100.0, 100.0));
    }

    #[test]
    fn a_critical_failure_or_a_low_score_fails_the_step_and_missing_evidence_holds_it() {
        let m = |name: &str, critical, verdict| MetricJudgement {
            name: name.into(),
            critical,
            verdict,
            test: "Mann-Whitney U (per minute)".into(),
            green: 1.0,
            blue: 1.0,
            green_n: 5,
            blue_n: 5,
            certainty: 0.5,
        };
        use Verdict::*;
        assert_eq!(combine(&[m("a", true, Pass), m("b", false, Pass)], 75.0), (Pass, Some(100.0)));
        assert_eq!(combine(&[m("a", true, Fail), m("b", false, Pass)], 75.0).0, Fail);
        // One of two scored metrics fails: 50 % < 75 %.
        assert_eq!(combine(&[m("a", true, Pass), m("b", false, Fail), m("c", false, Pass)], 75.0), (Fail, Some(50.0)));
        assert_eq!(combine(&[m("a", true, Pass), m("b", false, Fail), m("c", false, Pass)], 50.0), (Pass, Some(50.0)));
        assert_eq!(combine(&[m("a", true, Inconclusive), m("b", false, Pass)], 75.0), (Inconclusive, Some(100.0)));
        assert_eq!(combine(&[m("a", true, Inconclusive), m("b", true, Fail)], 75.0).0, Fail);
        let line = MetricJudgement::from_rates("5xx-rate", true, &compare_rates((100, 5000), (50, 5000), NONE, 0.95, 500)).line();
        assert!(line.starts_with("5xx-rate: green 2.00 % vs blue 1.00 % (5000 vs 5000 requests, P(worse) 1.000) FAIL"), "{line}");
    }

    #[test]
    fn ties_shrink_the_variance_and_count_half() {
        // All values equal: U is half of n1 n2 and the variance vanishes: no evidence either way.
        let same = [5.0; 6];
        let r = compare_ranks(&same, &same, NONE, 0.05, 3);
        assert_eq!(r.u, 18.0);
        assert_eq!(r.verdict, Verdict::Pass);
        assert!((tie_term(&same, &same) - (12.0 * 12.0 * 12.0 - 12.0) / (12.0 * 11.0)).abs() < 1e-12);
    }
}
