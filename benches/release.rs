//! `cargo bench`: how soon fgdeploy notices what AWS did, and how many calls it spends, against
//! two reference pollers implemented as the peers document them — all on the simulator with
//! virtual time, so every figure is a ratio measured in one run. Prints a table and writes
//! `target/bench.json` (or $FGDEPLOY_BENCH_JSON). It asserts nothing.
//!
//! - fgdeploy: the real engine. It forecasts when the deployment can change (engine::pace: the
//!   service's last rollout, one DescribeTasks for its task start time; the CodeDeploy shift
//!   schedule) and polls every second around those moments, at most 20 s apart elsewhere.
//!   `rolling-10-slower` / `-faster` run 1.5× slower / 0.6× as long as the service's last
//!   rollout, so the forecast is off and the figures show what that costs.
//! - ecspresso-like: DescribeServices + DescribeServiceDeployments every 10 s (GetDeployment for
//!   CodeDeploy) until the service deployment is terminal.
//! - aws-cli-like: `services-stable` every 15 s (one deployment, running == desired); for
//!   CodeDeploy the DeploymentSuccessful waiter (GetDeployment every 15 s until Succeeded).
//!
//! Detection latency = virtual seconds from the moment the simulated deployment reached the
//! state the tool must react to (SUCCESSFUL, a rollback starting, 100 % on green) to the tool's
//! reaction. "watch" calls run from the deployment's start call to the reaction, for every tool
//! alike; "calls" are the whole release (fgdeploy also plans, checks the image, and follows a
//! rollback to its end). The 50-service fleet rows run all deployments in parallel while the
//! simulator enforces the account's rate limits (`budget::ACCOUNT_LIMITS`), once with fgdeploy's
//! client-side budget and once without, and compare the fleet's virtual duration with one of its
//! services released alone.
#![allow(clippy::too_many_lines)]

use fgdeploy::engine::{Engine, Event, Interrupt, Recorder, ReleaseOptions};
use fgdeploy::ports::{Ports, UpdateService};
use fgdeploy::sandbox::{LoopbackApp, seed_deployment_group, seeded};
use fgdeploy::sim::{EventDelivery, Faults, Noise, Sim};
use fgdeploy::spec::{Spec, WatchMode};
use fgdeploy::states::{CdStatus, RolloutState};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TEMPLATE: &str = r#"{"family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
 "containerDefinitions": [{"name": "web", "image": "{{ image }}", "portMappings": [{"containerPort": 8080}]}]}"#;

struct Scenario {
    name: &'static str,
    desired: i32,
    faults: Faults,
    blue_green: bool,
    /// This release's tasks start and turn healthy this much slower than the service's last
    /// rollout did (the forecast is off; 1.0: the same pace).
    slower: f64,
    /// Deployspec lines added (deployment alarms).
    extra: &'static str,
}

/// Records events, and the call count when the deploy stage starts (before UpdateService or
/// CreateDeployment) and when fgdeploy reacts: the calls in between are what a reference
/// poller is compared with, since it makes the same start call and stops at its reaction.
struct Sink {
    rec: Recorder,
    sim: Sim,
    marks: std::sync::Mutex<(Option<u64>, Option<u64>)>,
}

fn is_reaction(event: &Event) -> bool {
    matches!(event, Event::RollbackStarted { .. } | Event::Report { .. } | Event::Finished { .. })
        || matches!(event, Event::StageFinished { stage, .. } if *stage == fgdeploy::plan::Stage::Deploy)
}

impl fgdeploy::engine::EventSink for Sink {
    fn emit(&self, at: f64, service: &str, event: &Event) {
        if let Ok(mut m) = self.marks.lock() {
            if matches!(event, Event::StageStarted { stage, .. } if *stage == fgdeploy::plan::Stage::Deploy) {
                m.0 = Some(self.sim.calls().total());
            }
            if is_reaction(event) && m.1.is_none() {
                m.1 = Some(self.sim.calls().total());
            }
        }
        self.rec.emit(at, service, event);
    }
}

#[derive(Debug, serde::Serialize)]
struct Row {
    scenario: String,
    tool: String,
    outcome: String,
    latency_s: Option<f64>,
    /// Every call of the release (fgdeploy: plan, build check, register, deploy, watch, and
    /// following a rollback to its end; the pollers stop at their reaction).
    calls: u64,
    /// Calls from the start of the deployment (UpdateService / CreateDeployment) to the reaction.
    watch_calls: u64,
    calls_per_min: f64,
    rollout_s: f64,
    by_op: BTreeMap<String, u64>,
    cpu_ms: Option<f64>,
    peak_rss_mb: Option<f64>,
}

fn rusage() -> (f64, f64) {
    // SAFETY: getrusage writes into the zeroed struct we pass; no other invariant.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let cpu =
        (u.ru_utime.tv_sec as f64 + u.ru_stime.tv_sec as f64) * 1000.0 + (u.ru_utime.tv_usec as f64 + u.ru_stime.tv_usec as f64) / 1000.0;
    (cpu, u.ru_maxrss as f64 / 1024.0)
}

fn spec_for(dir: &std::path::Path, s: &Scenario) -> Spec {
    let mut text = format!(
        "[service]\ncluster = \"demo\"\nname = \"web\"\ndesired_count = {}\n[image]\nrepository = \"web\"\ntag = \"v2\"\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n[deploy]\ntimeout = \"2h\"\n",
        s.desired
    );
    if s.blue_green {
        text = text.replace("[deploy]\n", "[deploy]\nstrategy = \"blue-green\"\n")
            + "[deploy.blue_green]\ncontainer_port = 8080\ndeployment_config = \"CodeDeployDefault.ECSCanary10Percent5Minutes\"\n[[deploy.blue_green.checks]]\npath = \"/health\"\nconsecutive = 1\n";
    }
    text.push_str(s.extra);
    std::fs::write(dir.join("web.taskdef.json"), TEMPLATE).expect("template");
    std::fs::write(dir.join("web.toml"), text).expect("spec");
    Spec::load(&dir.join("web.toml"), None).expect("spec loads")
}

fn world(spec: &Spec, s: &Scenario, app: &LoopbackApp) -> Sim {
    let sim = seeded(spec, s.faults.clone()).expect("seed");
    {
        let mut w = sim.world();
        w.faults.start_secs *= s.slower;
        w.faults.health_secs *= s.slower;
    }
    if s.blue_green {
        seed_deployment_group(&sim, spec, app.port, app.port);
    }
    sim
}

/// The first terminal state after `after`.
fn terminal(sim: &Sim, after: f64) -> Option<(f64, String)> {
    sim.world().terminal_log.iter().find(|(t, _)| *t >= after).cloned()
}

async fn fgdeploy_run(spec: &Spec, s: &Scenario, app: &LoopbackApp, watch: WatchMode) -> Row {
    let sim = world(spec, s, app);
    let sink = Arc::new(Sink { rec: Recorder::default(), sim: sim.clone(), marks: Default::default() });
    let mut engine = Engine::new(sim.ports(), sink.clone(), Interrupt::default());
    let (cpu0, _) = rusage();
    let wall = Instant::now();
    let result = engine.release(spec, &ReleaseOptions { watch: Some(watch), ..Default::default() }).await;
    let _ = wall.elapsed();
    let (cpu1, rss) = rusage();
    let events = sink.rec.0.lock().expect("events").clone();
    let start = events.iter().find(|(_, e)| matches!(e, Event::DeploymentStarted { .. })).map_or(0.0, |(t, _)| *t);
    let reaction = events.iter().find(|(_, e)| is_reaction(e)).map(|(t, _)| *t);
    let term = terminal(&sim, start);
    let calls = sim.calls().total();
    let (from, to) = sink.marks.lock().map(|m| *m).unwrap_or_default();
    let watch_calls = to.unwrap_or(calls) - from.unwrap_or(0);
    let rollout = reaction.unwrap_or(start) - start;
    if std::env::var_os("FGDEPLOY_BENCH_DEBUG").is_some() {
        eprintln!("{} {watch:?}: {:?}", s.name, sim.calls().snapshot());
    }
    Row {
        scenario: s.name.into(),
        tool: match watch {
            WatchMode::Poll => "fgdeploy poll".into(),
            _ => "fgdeploy events".into(),
        },
        outcome: result.as_ref().map_or_else(|e| e.kind().to_string(), |r| r.outcome.to_string()),
        latency_s: term.zip(reaction).map(|((t, _), r)| r - t),
        calls,
        watch_calls,
        calls_per_min: watch_calls as f64 / (rollout.max(1.0) / 60.0),
        rollout_s: rollout,
        by_op: sim.calls().snapshot(),
        cpu_ms: Some(cpu1 - cpu0),
        peak_rss_mb: Some(rss),
    }
}

/// A reference poller: registers and starts the deployment as any tool would, then polls.
async fn reference_run(spec: &Spec, s: &Scenario, app: &LoopbackApp, every: u64, cli: bool) -> Row {
    reference_run_phased(spec, s, app, (every as f64, every as f64), if cli { Poller::ServicesStable } else { Poller::Ecspresso }).await
}

/// How a reference tool decides that a rolling deployment ended.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Poller {
    /// DescribeServices + DescribeServiceDeployments until the service deployment is terminal.
    Ecspresso,
    /// `services-stable`: one deployment, running == desired.
    ServicesStable,
    /// DescribeServices alone, until the PRIMARY deployment's rolloutState is terminal.
    DescribeServicesOnly,
}

impl Poller {
    fn name(self, every: f64) -> String {
        match self {
            Poller::Ecspresso => format!("ecspresso-like {every:.0}s"),
            Poller::ServicesStable => format!("aws-cli-like {every:.0}s"),
            Poller::DescribeServicesOnly => format!("DescribeServices {every:.0}s"),
        }
    }
}

/// A reference poller whose first look comes `phase` seconds after the start call, then every
/// `every` seconds (a random phase neither flatters nor punishes it by luck).
async fn reference_run_phased(spec: &Spec, s: &Scenario, app: &LoopbackApp, (every, phase): (f64, f64), kind: Poller) -> Row {
    let cli = kind == Poller::ServicesStable;
    let sim = world(spec, s, app);
    let ports: Ports = sim.ports();
    let td = spec.render_task_definition("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v2").expect("td");
    let reg = ports.ecs.register_task_definition(&td).await.expect("register");
    let start = ports.clock.now();
    let before = sim.calls().total();
    let mut outcome = "timeout".to_string();
    let mut reaction = None;
    if s.blue_green {
        let bg = spec.file.deploy.blue_green.clone().expect("bg");
        let svc = ports.ecs.describe_service("demo", "web").await.expect("ok").expect("svc");
        let content = fgdeploy::engine::appspec(spec, &bg, &reg.arn, &svc);
        let id = ports
            .codedeploy
            .create_deployment(
                "AppECS-demo-web",
                "DgpECS-demo-web",
                bg.deployment_config.as_deref(),
                &content,
                &fgdeploy::engine::sha256_hex(&content),
            )
            .await
            .expect("create");
        for k in 0..2000 {
            ports.clock.sleep(Duration::from_secs_f64(if k == 0 { phase } else { every })).await;
            let d = ports.codedeploy.deployment(&id).await.expect("get");
            if d.status == CdStatus::Ready {
                // These tools have no test gate of their own: continue at once.
                let _ = ports.codedeploy.continue_deployment(&id, "READY_WAIT").await;
            }
            let done =
                if cli { d.status == CdStatus::Succeeded } else { d.status == CdStatus::Succeeded || (d.termination_wait_started && !cli) };
            if done || matches!(d.status.as_str(), "Failed" | "Stopped") {
                outcome = d.status.to_string();
                reaction = Some(ports.clock.now());
                break;
            }
        }
    } else {
        let svc = ports
            .ecs
            .update_service(&UpdateService {
                cluster: "demo".into(),
                service: "web".into(),
                task_definition: reg.arn.clone(),
                desired_count: None,
                deployment_config: None,
                native: None,
                settings: Default::default(),
            })
            .await
            .expect("update");
        let sd = svc.current_service_deployment.clone();
        for k in 0..2000 {
            ports.clock.sleep(Duration::from_secs_f64(if k == 0 { phase } else { every })).await;
            let svc = ports.ecs.describe_service("demo", "web").await.expect("describe").expect("svc");
            if kind == Poller::DescribeServicesOnly {
                if let Some(p) = svc.primary()
                    && matches!(p.rollout_state, Some(RolloutState::Completed | RolloutState::Failed))
                {
                    outcome = p.rollout_state.as_ref().map(ToString::to_string).unwrap_or_default();
                    reaction = Some(ports.clock.now());
                    break;
                }
            } else if cli {
                if svc.deployments.len() == 1 && svc.running_count == svc.desired_count {
                    // services-stable: "stable" even when ECS rolled back to the old revision.
                    outcome = if svc.task_definition == reg.arn { "stable (new)".into() } else { "stable (old revision!)".into() };
                    reaction = Some(ports.clock.now());
                    break;
                }
            } else if let Some(arn) = &sd {
                let d = ports.ecs.describe_service_deployments(std::slice::from_ref(arn)).await.expect("sd");
                if let Some(d) = d.first()
                    && (d.is_terminal() || d.status.as_str().starts_with("ROLLBACK"))
                {
                    outcome = d.status.to_string();
                    reaction = Some(ports.clock.now());
                    break;
                }
            }
        }
    }
    let term = terminal(&sim, start);
    let calls = sim.calls().total() - before;
    let rollout = reaction.unwrap_or(start) - start;
    Row {
        scenario: s.name.into(),
        tool: kind.name(every),
        outcome,
        latency_s: term.zip(reaction).map(|((t, _), r)| (r - t).max(0.0)),
        calls,
        watch_calls: calls,
        calls_per_min: calls as f64 / (rollout.max(1.0) / 60.0),
        rollout_s: rollout,
        by_op: sim.calls().snapshot(),
        cpu_ms: None,
        peak_rss_mb: None,
    }
}

/// CPU time and peak RSS of one fgdeploy release of `scenario`, run by this bench binary in a
/// child process that does nothing else.
fn measured_alone(scenario: &str) -> (Option<f64>, Option<f64>) {
    let Ok(exe) = std::env::current_exe() else { return (None, None) };
    let Ok(out) = std::process::Command::new(exe).env("FGDEPLOY_BENCH_CHILD", scenario).env("FGDEPLOY_BENCH_ONLY", scenario).output()
    else {
        return (None, None);
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(v) = text.lines().rev().find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()) else { return (None, None) };
    (v["cpu_ms"].as_f64(), v["rss_mb"].as_f64())
}

/// A seeded draw in [0, 1) for the bench's own choices (SplitMix64, as the simulator's).
fn draw(seed: u64, k: u64) -> f64 {
    let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(k.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// A noise case: its name, and the simulated account's behaviour as a function of the seed.
type NoiseCase = (&'static str, fn(u64) -> Faults);

/// The noise, and the event delivery drawn from the same seed (the default delivery model).
fn noisy(noise: Noise) -> Faults {
    Faults { events: EventDelivery { seed: noise.seed, ..EventDelivery::default() }, noise: Some(noise), ..Faults::default() }
}

/// The noise cases: per-task spread, a release faster or slower than its history, bimodal and
/// heavy-tailed task times, one straggler, a delay the history did not have, no history, a
/// realistic mix, a circuit breaker under noise, and (for the event watch) slow, lossy and
/// duplicating event delivery.
fn noise_cases() -> Vec<NoiseCase> {
    vec![
        ("per-task ±10 %", |seed| noisy(Noise { seed, per_task: 0.1, ..Noise::default() })),
        ("per-task ±30 %", |seed| noisy(Noise { seed, per_task: 0.3, ..Noise::default() })),
        ("per-task ±60 %", |seed| noisy(Noise { seed, per_task: 0.6, ..Noise::default() })),
        ("slower ×2", |seed| noisy(Noise { seed, per_task: 0.1, pace: 2.0, ..Noise::default() })),
        ("faster ×2", |seed| noisy(Noise { seed, per_task: 0.1, pace: 0.5, ..Noise::default() })),
        ("bimodal pulls", |seed| noisy(Noise { seed, per_task: 0.1, slow_pull_fraction: 0.25, slow_pull_factor: 3.0, ..Noise::default() })),
        ("heavy tail σ0.6", |seed| noisy(Noise { seed, per_task: 0.1, tail_sigma: 0.6, ..Noise::default() })),
        ("one straggler ×4", |seed| noisy(Noise { seed, per_task: 0.1, straggler: 4.0, ..Noise::default() })),
        ("new delay +25 s", |seed| noisy(Noise { seed, per_task: 0.1, added_start_secs: 25.0, ..Noise::default() })),
        ("no history", |seed| noisy(Noise { seed, per_task: 0.3, no_history: true, ..Noise::default() })),
        ("realistic mix", |seed| {
            noisy(Noise {
                seed,
                per_task: 0.3,
                tail_sigma: 0.3,
                pace: 0.7 + 0.6 * draw(seed, 1),
                history_pace: 0.7 + 0.6 * draw(seed, 2),
                ..Noise::default()
            })
        }),
        ("breaker ±30 %", |seed| {
            let mut f = noisy(Noise { seed, per_task: 0.3, tail_sigma: 0.3, ..Noise::default() });
            f.fail_start.insert(":v2".into());
            f
        }),
        ("events slow σ1.2", |seed| {
            let mut f = noisy(Noise { seed, per_task: 0.3, ..Noise::default() });
            f.events = EventDelivery { seed, latency_median_secs: 1.0, latency_sigma: 1.2, ..EventDelivery::default() };
            f
        }),
        ("events 10 % lost/dup", |seed| {
            let mut f = noisy(Noise { seed, per_task: 0.3, ..Noise::default() });
            f.events = EventDelivery { seed, loss: 0.1, duplicate: 0.1, ..EventDelivery::default() };
            f
        }),
    ]
}

#[derive(Debug, Default, serde::Serialize)]
struct Summary {
    case: String,
    tool: String,
    runs: usize,
    mean_s: f64,
    p90_s: f64,
    p99_s: f64,
    max_s: f64,
    mean_watch_calls: f64,
    /// Watch calls per minute of rollout (queue receives included), mean over the runs.
    calls_per_min: f64,
}

fn summarize(case: &str, tool: &str, rows: &[Row]) -> Summary {
    let mut l: Vec<f64> = rows.iter().filter_map(|r| r.latency_s).collect();
    l.sort_by(f64::total_cmp);
    let n = l.len().max(1) as f64;
    let pct = |q: f64| l.get(((l.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied().unwrap_or(f64::NAN);
    Summary {
        case: case.into(),
        tool: tool.into(),
        runs: rows.len(),
        mean_s: l.iter().sum::<f64>() / n,
        p90_s: pct(0.9),
        p99_s: pct(0.99),
        max_s: l.last().copied().unwrap_or(f64::NAN),
        mean_watch_calls: rows.iter().map(|r| r.watch_calls as f64).sum::<f64>() / rows.len().max(1) as f64,
        calls_per_min: rows.iter().map(|r| r.calls_per_min).sum::<f64>() / rows.len().max(1) as f64,
    }
}

/// Every noise case × seeds × tools, on a 10-task rolling release: mean / p90 / max detection
/// latency and mean watch calls per tool. Reference pollers start at a seeded random phase.
async fn noise_table(app: &LoopbackApp, seeds: u64) -> Vec<Summary> {
    let mut out = Vec::new();
    for (case, noise) in noise_cases() {
        let mut by_tool: BTreeMap<String, Vec<Row>> = BTreeMap::new();
        for seed in 1..=seeds {
            let s = Scenario { name: "noise", desired: 10, faults: noise(seed), blue_green: false, slower: 1.0, extra: "" };
            let dir = tempfile::tempdir().expect("dir");
            let spec = spec_for(dir.path(), &s);
            for watch in [WatchMode::Poll, WatchMode::Events] {
                let r = fgdeploy_run(&spec, &s, app, watch).await;
                if std::env::var_os("FGDEPLOY_BENCH_DEBUG").is_some() {
                    eprintln!("{case} seed {seed} {}: latency {:?} watch {} {:?}", r.tool, r.latency_s, r.watch_calls, r.by_op);
                }
                by_tool.entry(r.tool.clone()).or_default().push(r);
            }
            for (k, (every, kind)) in
                [(10.0, Poller::Ecspresso), (15.0, Poller::ServicesStable), (5.0, Poller::DescribeServicesOnly)].into_iter().enumerate()
            {
                let phase = every * draw(seed, 10 + k as u64).max(0.01);
                let r = reference_run_phased(&spec, &s, app, (every, phase), kind).await;
                by_tool.entry(r.tool.clone()).or_default().push(r);
            }
        }
        for (tool, rows) in &by_tool {
            out.push(summarize(case, tool, rows));
        }
    }
    println!("\nnoise: 10 tasks, {seeds} seeds per case (latency in virtual seconds; calls from the start call to the reaction)");
    println!(
        "{:<20} {:<20} {:>7} {:>7} {:>7} {:>7} {:>8} {:>9}",
        "case", "tool", "mean s", "p90 s", "p99 s", "max s", "calls", "calls/min"
    );
    for x in &out {
        println!(
            "{:<20} {:<20} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>8.1} {:>9.2}",
            x.case, x.tool, x.mean_s, x.p90_s, x.p99_s, x.max_s, x.mean_watch_calls, x.calls_per_min
        );
    }
    out
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut fail_start = Faults::default();
        fail_start.fail_start.insert(":v2".into());
        let scenarios = [
            Scenario { name: "rolling-4", desired: 4, faults: Faults::default(), blue_green: false, slower: 1.0, extra: "" },
            Scenario { name: "rolling-10", desired: 10, faults: Faults::default(), blue_green: false, slower: 1.0, extra: "" },
            Scenario { name: "rolling-100", desired: 100, faults: Faults::default(), blue_green: false, slower: 1.0, extra: "" },
            Scenario { name: "circuit-breaker", desired: 10, faults: fail_start, blue_green: false, slower: 1.0, extra: "" },
            Scenario {
                name: "alarm",
                desired: 10,
                faults: Faults { alarm_at: Some(60.0), ..Faults::default() },
                blue_green: false,
                slower: 1.0,
                extra: "[deploy.rolling]\nalarms = [\"web-5xx\"]\n",
            },
            Scenario {
                name: "foreign-deploy",
                desired: 10,
                faults: Faults { foreign_deploy_at: Some(20.0), ..Faults::default() },
                blue_green: false,
                slower: 1.0,
                extra: "",
            },
            Scenario { name: "bluegreen-canary", desired: 4, faults: Faults::default(), blue_green: true, slower: 1.0, extra: "" },
            Scenario { name: "rolling-10-slower", desired: 10, faults: Faults::default(), blue_green: false, slower: 1.5, extra: "" },
            Scenario { name: "rolling-10-faster", desired: 10, faults: Faults::default(), blue_green: false, slower: 0.6, extra: "" },
        ];
        let app = LoopbackApp::start(200).expect("listener");
        let mut rows = Vec::new();
        // FGDEPLOY_BENCH_ONLY=name runs one scenario (and skips the fleet).
        let only = std::env::var("FGDEPLOY_BENCH_ONLY").ok();
        for s in scenarios.iter().filter(|s| only.as_deref().is_none_or(|o| o == s.name)) {
            let dir = tempfile::tempdir().expect("dir");
            let spec = spec_for(dir.path(), s);
            // The engine's own CPU time and peak memory, measured in a process of its own (this
            // one's getrusage would count cargo and every earlier run).
            if std::env::var("FGDEPLOY_BENCH_CHILD").ok().as_deref() == Some(s.name) {
                let r = fgdeploy_run(&spec, s, &app, WatchMode::Events).await;
                println!("{}", serde_json::json!({"cpu_ms": r.cpu_ms, "rss_mb": r.peak_rss_mb}));
                return;
            }
            let mut row = fgdeploy_run(&spec, s, &app, WatchMode::Events).await;
            (row.cpu_ms, row.peak_rss_mb) = measured_alone(s.name);
            rows.push(row);
            rows.push(fgdeploy_run(&spec, s, &app, WatchMode::Poll).await);
            rows.push(reference_run(&spec, s, &app, 10, false).await);
            rows.push(reference_run(&spec, s, &app, 15, true).await);
        }
        println!(
            "{:<18} {:<20} {:<24} {:>10} {:>7} {:>7} {:>9} {:>9} {:>8} {:>8}",
            "scenario", "tool", "outcome", "latency s", "calls", "watch", "watch/min", "rollout s", "cpu ms", "rss MB"
        );
        for r in &rows {
            println!(
                "{:<18} {:<20} {:<24} {:>10} {:>7} {:>7} {:>9.2} {:>9.0} {:>8} {:>8}",
                r.scenario,
                r.tool,
                r.outcome,
                r.latency_s.map_or("-".into(), |l| format!("{l:.1}")),
                r.calls,
                r.watch_calls,
                r.calls_per_min,
                r.rollout_s,
                r.cpu_ms.map_or("-".into(), |c| format!("{c:.1}")),
                r.peak_rss_mb.map_or("-".into(), |m| format!("{m:.0}"))
            );
        }
        let seeds = std::env::var("FGDEPLOY_BENCH_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
        let noise = if only.as_deref().is_none_or(|o| o == "noise") { noise_table(&app, seeds).await } else { Vec::new() };
        if only.as_deref() == Some("noise") {
            let path = std::env::var("FGDEPLOY_BENCH_JSON").unwrap_or_else(|_| "target/bench.json".into());
            let _ = std::fs::write(&path, serde_json::to_string_pretty(&serde_json::json!({ "noise": noise })).expect("json"));
            return;
        }
        // A 50-service fleet: every deployment in parallel on one virtual time line.
        if only.as_deref().is_some_and(|o| o != "fleet-50") {
            return;
        }
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("web.taskdef.json"), TEMPLATE).expect("template");
        let specs: Vec<Spec> = (0..50)
            .map(|i| {
                let path = dir.path().join(format!("svc{i:02}.toml"));
                let text = format!(
                    "[service]\ncluster = \"demo\"\nname = \"svc{i:02}\"\ndesired_count = {}\n[image]\nrepository = \"web\"\ntag = \"v2\"\n[task_definition]\ntemplate = \"web.taskdef.json\"\ncontainer = \"web\"\n",
                    2 + i % 5
                );
                std::fs::write(&path, text).expect("spec");
                Spec::load(&path, None).expect("spec")
            })
            .collect();
        // Twice: with fgdeploy's client-side budget, and without it (the account's limits are
        // modelled by the simulator either way).
        let mut fleet = Vec::new();
        let mut alone = 0.0;
        for (budget, n, watch) in
            [(true, 1, WatchMode::Auto), (true, 50, WatchMode::Auto), (true, 50, WatchMode::Poll), (false, 50, WatchMode::Auto)]
        {
            let specs = &specs[..n];
            let sim = fgdeploy::sandbox::seeded_fleet(specs, Faults::default()).expect("seed");
            let sim = if budget { sim } else { sim.without_client_budget() };
            let rec = Arc::new(Recorder::default());
            let (cpu0, _) = rusage();
            let report = fgdeploy::engine::release_fleet(
                &sim.ports(),
                rec.clone(),
                &Interrupt::default(),
                specs,
                &ReleaseOptions { watch: Some(watch), ..Default::default() },
                50,
                fgdeploy::engine::FleetPolicy::Independent,
            )
            .await
            .expect("fleet");
            let (cpu1, rss) = rusage();
            let surfaced = rec.events().iter().filter(|e| matches!(e, Event::Warning { message } if message.contains("throttl"))).count();
            let ok = report.outcomes.iter().filter(|o| o.outcome == "deployed").count();
            let answered = sim.world().throttled_by_account;
            if n == 1 {
                alone = report.secs;
                continue;
            }
            println!(
                "fleet-50 {:<19} {:<6} {ok}/50 deployed in {:.0} virtual s (one of them alone: {alone:.0} s), {} AWS calls, {answered} ThrottlingException answered by the account, {surfaced} throttling warnings surfaced, cpu {:.0} ms, rss {rss:.0} MB",
                if budget { "(client budget)" } else { "(no client budget)" },
                if watch == WatchMode::Poll { "poll" } else { "events" },
                report.secs,
                report.api_calls_total,
                cpu1 - cpu0
            );
            if std::env::var_os("FGDEPLOY_BENCH_DEBUG").is_some() {
                eprintln!("fleet calls by operation: {:?}", sim.calls().snapshot());
            }
            fleet.push(serde_json::json!({
                "client_budget": budget, "watch": format!("{watch:?}"), "deployed": ok, "secs": report.secs, "one_alone_secs": alone,
                "calls": report.api_calls_total, "account_throttles": answered, "throttling_warnings": surfaced,
            }));
        }
        let mut by_tool: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for r in &rows {
            if let Some(l) = r.latency_s {
                by_tool.entry(r.tool.as_str()).or_default().push(l);
            }
        }
        for (tool, ls) in &by_tool {
            let mean = ls.iter().sum::<f64>() / ls.len() as f64;
            let max = ls.iter().cloned().fold(0.0, f64::max);
            println!("detection latency {tool:<20} mean {mean:.1} s, max {max:.1} s");
        }
        let path = std::env::var("FGDEPLOY_BENCH_JSON").unwrap_or_else(|_| "target/bench.json".into());
        let doc = serde_json::json!({ "scenarios": rows, "noise": noise, "fleet": fleet });
        match std::fs::write(&path, serde_json::to_string_pretty(&doc).expect("json")) {
            Ok(()) => println!("written {path}"),
            Err(e) => eprintln!("cannot write {path}: {e}"),
        }
    });
}
