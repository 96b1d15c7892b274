//! `cargo bench --bench canary`: the canary judge (#29) over many seeds, on the simulator's
//! traffic model (`sim/traffic.rs`), every run a whole ECS-native release through the real
//! engine in virtual time. Prints a table with its premises and writes `target/canary.json`
//! (or $FGDEPLOY_CANARY_JSON). It asserts nothing.
//!
//! Premises of every case unless it says otherwise: LINEAR 10 % steps of 5 minutes; the service
//! takes 1,000 requests a minute (so green takes 100 a minute at the first step, 200 at the
//! second…); blue's 5xx rate 1 %, p50/p95/p99 50/120/250 ms with a per-minute log-normal σ of
//! 0.08; CloudWatch publishes a minute 60 s after it ends; the deployspec's `[analysis]` has the
//! defaults (confidence 0.99, tolerance +20 %, 200 requests and 3 minutes a side, publication
//! delay 2 min, INCONCLUSIVE held up to 5 min then continued) with `5xx-rate` critical and
//! `latency-p99` scored. A run's seed draws its requests, errors and latencies.
//!
//! Figures: share of runs rolled back by the judge (all runs, and within the first 3 judged
//! steps); the judged step of the FAIL; per judged step, the time to verdict — the simulator's
//! seconds from fgdeploy's PAUSE hook starting to wait to ContinueServiceDeployment answering it
//! (the pause before the first step included: answered at once) — mean and p95; GetMetricData
//! calls per judged step; AWS calls per run (mean/max).
#![allow(clippy::too_many_lines)]

use fgdeploy::analysis::{StepAction, Verdict};
use fgdeploy::engine::{Engine, Event, Interrupt, Recorder, ReleaseOptions};
use fgdeploy::sim::{Faults, Traffic};
use fgdeploy::spec::Spec;
use std::sync::Arc;

const TEMPLATE: &str = r#"{"family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
  "containerDefinitions": [{"name": "web", "image": "{{ image }}", "memory": 512, "portMappings": [{"containerPort": 8080}]}]}"#;

const SPEC: &str = r#"[service]
cluster = "demo"
name = "web"
desired_count = 4
[image]
repository = "web"
tag = "v2"
[task_definition]
template = "web.taskdef.json"
container = "web"
[deploy]
strategy = "blue-green"
timeout = "4h"
[deploy.blue_green]
ecs_strategy = "LINEAR"
linear_step_percent = 10
linear_step_bake_minutes = 5
bake_time_minutes = 1
container_port = 8080
alternate_target_group_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-green/73e2d6bc24d8a067"
production_listener_rule = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"
load_balancer_role_arn = "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForLoadBalancers"
[[analysis.metrics]]
metric = "5xx-rate"
[[analysis.metrics]]
metric = "latency-p99"
critical = false
"#;

struct Case {
    name: &'static str,
    premise: &'static str,
    /// A regression the judge should catch (power), or none (false rollbacks).
    regression: bool,
    traffic: Traffic,
}

fn cases() -> Vec<Case> {
    let t = Traffic::default();
    vec![
        Case {
            name: "5xx ×2",
            premise: "green's 5xx rate 2 % against 1 %",
            regression: true,
            traffic: Traffic { green_error_factor: 2.0, ..t.clone() },
        },
        Case {
            name: "p99 +30 %",
            premise: "green's latency ×1.3",
            regression: true,
            traffic: Traffic { green_latency_factor: 1.3, ..t.clone() },
        },
        Case {
            name: "5xx ×2, 300 rpm",
            premise: "300 requests a minute: green takes 30 at the first step",
            regression: true,
            traffic: Traffic { green_error_factor: 2.0, requests_per_minute: 300.0, ..t.clone() },
        },
        Case { name: "equal", premise: "green equals blue", regression: false, traffic: t.clone() },
        Case {
            name: "equal, 20 rpm",
            premise: "20 requests a minute: too few for a verdict",
            regression: false,
            traffic: Traffic { requests_per_minute: 20.0, ..t.clone() },
        },
        Case {
            name: "equal, noisy p99",
            premise: "per-minute latency σ 0.3 instead of 0.08",
            regression: false,
            traffic: Traffic { latency_sigma: 0.3, ..t.clone() },
        },
        Case {
            name: "equal, late data",
            premise: "CloudWatch publishes 3 min late (the judge assumes 2)",
            regression: false,
            traffic: Traffic { publication_delay: 180.0, ..t.clone() },
        },
        Case {
            name: "equal, 5 % errors",
            premise: "both at a 5 % 5xx rate",
            regression: false,
            traffic: Traffic { error_rate: 0.05, ..t },
        },
    ]
}

/// One release: whether the judge rolled it back and at which step, each judged step's hold
/// (seconds from the pause to the answer), GetMetricData calls, judged steps, all calls.
struct Run {
    failed_at: Option<u32>,
    holds: Vec<f64>,
    metric_calls: u64,
    judged_steps: u32,
    calls: u64,
}

async fn run(spec: &Spec, traffic: &Traffic) -> Run {
    let faults = Faults { traffic: traffic.clone(), ..Faults::default() };
    let sim = fgdeploy::sandbox::seeded(spec, faults).expect("seed");
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    let _ = engine.release(spec, &ReleaseOptions::default()).await;
    let events = rec.0.lock().expect("events").clone();
    let (mut failed_at, mut judged_steps) = (None, 0);
    for (_, e) in &events {
        if let Event::StepJudged { step, verdict, action, .. } = e
            && *action != StepAction::Hold
        {
            judged_steps = *step;
            if *verdict == Verdict::Fail || *action == StepAction::Rollback {
                failed_at = Some(*step);
            }
        }
    }
    let holds = sim.world().judge_waits();
    let by_op = sim.calls().snapshot();
    Run {
        failed_at,
        holds,
        metric_calls: by_op.get("cloudwatch:GetMetricData").copied().unwrap_or(0),
        judged_steps,
        calls: sim.calls().total(),
    }
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let seeds: u64 = std::env::var("FGDEPLOY_BENCH_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let only = std::env::var("FGDEPLOY_BENCH_ONLY").ok();
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("web.taskdef.json"), TEMPLATE).expect("template");
        std::fs::write(dir.path().join("web.toml"), SPEC).expect("spec");
        let spec = Spec::load(&dir.path().join("web.toml"), None).expect("spec loads");
        println!("canary judge over {seeds} seeds a case (premises: benches/canary.rs)");
        println!(
            "{:<18} {:<10} {:>9} {:>10} {:>12} {:>10} {:>10} {:>10} {:>9}  premise",
            "case", "expect", "rolled", "≤ 3 steps", "fail step", "verdict s", "p95 s", "GMD/step", "calls"
        );
        let mut doc = Vec::new();
        for c in cases().iter().filter(|c| only.as_deref().is_none_or(|o| o == c.name)) {
            let mut runs = Vec::new();
            for seed in 0..seeds {
                let t = Traffic { seed: 1000 + seed, ..c.traffic.clone() };
                runs.push(run(&spec, &t).await);
            }
            let n = runs.len() as f64;
            let rolled = runs.iter().filter(|r| r.failed_at.is_some()).count() as f64 / n;
            let early = runs.iter().filter(|r| r.failed_at.is_some_and(|s| s <= 3)).count() as f64 / n;
            let mut steps: Vec<f64> = runs.iter().filter_map(|r| r.failed_at).map(f64::from).collect();
            let step_mean = if steps.is_empty() { f64::NAN } else { steps.iter().sum::<f64>() / steps.len() as f64 };
            let step_max = steps.iter().copied().fold(f64::NAN, f64::max);
            let mut holds: Vec<f64> = runs.iter().flat_map(|r| r.holds.iter().copied()).collect();
            let hold_mean = holds.iter().sum::<f64>() / holds.len().max(1) as f64;
            let hold_p95 = percentile(&mut holds, 0.95);
            let judged: u64 = runs.iter().map(|r| u64::from(r.judged_steps)).sum();
            let gmd: u64 = runs.iter().map(|r| r.metric_calls).sum();
            let per_step = gmd as f64 / judged.max(1) as f64;
            let mut calls: Vec<f64> = runs.iter().map(|r| r.calls as f64).collect();
            let calls_mean = calls.iter().sum::<f64>() / n;
            let calls_max = percentile(&mut calls, 1.0);
            let fail_step = if steps.is_empty() { "-".to_string() } else { format!("{step_mean:.1} (max {step_max:.0})") };
            println!(
                "{:<18} {:<10} {:>8.1}% {:>9.1}% {:>12} {:>9.0}s {:>9.0}s {:>10.2} {:>4.0}/{:<4.0}  {}",
                c.name,
                if c.regression { "catch" } else { "no rollback" },
                rolled * 100.0,
                early * 100.0,
                fail_step,
                hold_mean,
                hold_p95,
                per_step,
                calls_mean,
                calls_max,
                c.premise
            );
            steps.clear();
            doc.push(serde_json::json!({
                "case": c.name, "premise": c.premise, "regression": c.regression, "seeds": seeds,
                "rolled_back": rolled, "rolled_back_within_3_steps": early, "fail_step_mean": step_mean,
                "hold_mean_s": hold_mean, "hold_p95_s": hold_p95, "get_metric_data_per_step": per_step,
                "calls_mean": calls_mean, "calls_max": calls_max,
            }));
        }
        let path = std::env::var("FGDEPLOY_CANARY_JSON").unwrap_or_else(|_| "target/canary.json".into());
        match std::fs::write(&path, serde_json::to_string_pretty(&doc).expect("json")) {
            Ok(()) => println!("written {path}"),
            Err(e) => eprintln!("cannot write {path}: {e}"),
        }
    });
}
