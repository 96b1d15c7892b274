//! The rehearsal mode (`--sandbox`): a simulated AWS account seeded from a deployspec, so a
//! complete release runs with no AWS account, in virtual time. Nothing here talks to AWS.

use crate::error::Result;
use crate::plan::desired_deployment_config;
use crate::ports::Controller;
use crate::sim::{Faults, SeedService, Sim, World};
use crate::spec::Spec;
use clap::ValueEnum;

/// Faults to rehearse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum Scenario {
    /// Everything works.
    #[default]
    Happy,
    /// New tasks never start (CannotPullContainerError): the circuit breaker trips.
    FailStart,
    /// New tasks run but fail their health checks until the deploy timeout.
    Unhealthy,
    /// New tasks cannot fetch a secret when they start (ResourceInitializationError): the
    /// circuit breaker trips.
    SecretFetch,
    /// New tasks run, then their essential container is killed for memory (exit 137,
    /// OutOfMemoryError): the circuit breaker trips.
    OutOfMemory,
    /// Fargate has no capacity for the new tasks: ECS says so in its service events and keeps
    /// trying until the deploy timeout.
    NoCapacity,
    /// A deployment alarm fires during the rollout (needs deploy.rolling.alarms).
    Alarm,
    /// Someone else deploys a new revision mid-release.
    ForeignDeploy,
    /// Every third AWS call is throttled.
    ThrottleStorm,
    /// Tasks take 3 minutes to start.
    SlowStart,
    /// One-off tasks (the migration, `run`) exit 1.
    MigrationFails,
    /// The image build fails.
    BuildFails,
    /// Blue/green: the green app answers 503 behind the test listener.
    ChecksFail,
    /// Blue/green with checks: someone continues the deployment past fgdeploy's test gate
    /// (CodeDeploy: "Reroute traffic" before Ready; ECS-native: the PAUSE hook answered by
    /// someone else). fgdeploy exits 11 and runs the checks once against production. With
    /// [analysis] (ECS-native), fgdeploy's step hooks are answered by someone else too: no step
    /// is judged, and fgdeploy exits 11.
    GateBypassed,
    /// CodeDeploy blue/green with a 60-minute blue termination wait, as AWS behaves:
    /// `instanceTerminationWaitTimeStarted` is never set (aws/containers-roadmap#269). The
    /// release ends deployed once the deployment target says the wait began; no StopDeployment.
    TerminationWait,
    /// ECS-native: the service already carries a circuit breaker, alarms, a team's Lambda hook
    /// and a team's approval PAUSE hook at PRE_PRODUCTION_TRAFFIC_SHIFT that a person answers a
    /// minute after it starts waiting. The release keeps them all, answers only its own hook,
    /// and leaves no hook of its own behind.
    ExistingHooks,
    /// A migration whose essential sidecar exits 143 (SIGTERM) after the migration container
    /// exits 0, as ECS stops the task: the gate passes (the simulator's default behaviour,
    /// named so a rehearsal can show it).
    SidecarSigterm,
    /// The CI role's policy lacks ecs:DescribeServiceDeployments and
    /// ecs:ListServiceDeployments (AccessDeniedException): the release follows its deployment by
    /// id through DescribeServices and says so once.
    AccessDenied,
    /// Someone reroutes traffic (CodeDeploy) or answers the PAUSE hook (ECS-native, the gate's or
    /// the canary judge's) a moment before fgdeploy, while its checks run: fgdeploy's own answer
    /// is refused, it reads the deployment again and exits 11, never rolling back their shift.
    AnsweredFirst,
    /// Canary analysis: green's 5xx rate is twice blue's (1 % → 2 %): the judge fails a step and
    /// the release rolls back (needs [analysis]).
    GreenRegresses,
    /// Canary analysis: green's latency percentiles are 30 % above blue's.
    GreenSlower,
    /// Canary analysis: the service takes 20 requests a minute, green equal to blue: too little
    /// traffic for a verdict, so steps are held up to `analysis.max_extension`, then follow
    /// `analysis.on_inconclusive`.
    LowTraffic,
}

impl Scenario {
    /// Why this scenario cannot happen to `spec` (it would silently play the happy path).
    /// `migration-fails` always applies: `run` starts one-off tasks without a [migration].
    pub(crate) fn does_not_apply(self, spec: &Spec) -> Option<&'static str> {
        let f = &spec.file;
        let blue_green = f.deploy.strategy == crate::spec::Strategy::BlueGreen;
        let checks = blue_green && f.deploy.blue_green.as_ref().is_some_and(|b| !b.checks.is_empty());
        match self {
            Scenario::Alarm if blue_green || f.deploy.rolling.alarms.is_empty() => {
                Some("it needs a rolling deployment with deploy.rolling.alarms")
            }
            Scenario::BuildFails if f.build.is_none() => Some("the deployspec has no [build]"),
            Scenario::GateBypassed if !checks && f.analysis.is_none() => {
                Some("it needs a blue/green deployspec with [[deploy.blue_green.checks]] or [analysis]")
            }
            Scenario::ChecksFail if !checks => Some("it needs a blue/green deployspec with [[deploy.blue_green.checks]]"),
            Scenario::ForeignDeploy | Scenario::SecretFetch | Scenario::OutOfMemory | Scenario::NoCapacity if blue_green => {
                Some("it plays a rolling deployment")
            }
            Scenario::TerminationWait if controller(spec) != Controller::CodeDeploy => Some("it needs a CodeDeploy blue/green deployspec"),
            Scenario::ExistingHooks if !blue_green || controller(spec) != Controller::Ecs => {
                Some("it needs an ECS-native blue/green deployspec")
            }
            Scenario::SidecarSigterm if f.migration.is_none() => Some("it needs a [migration]"),
            Scenario::AnsweredFirst if !checks && f.analysis.is_none() => {
                Some("it needs a blue/green deployspec with [[deploy.blue_green.checks]] or [analysis]")
            }
            Scenario::GreenRegresses | Scenario::GreenSlower | Scenario::LowTraffic if f.analysis.is_none() => Some("it needs [analysis]"),
            Scenario::SidecarSigterm if spec.render_task_definition("sandbox").map_or(0, |t| t.container_definitions.len()) < 2 => {
                Some("its task definition has no sidecar container beside the migration's")
            }
            _ => None,
        }
    }
}

/// A tiny HTTP app on loopback that plays a listener in the sandbox and in tests: it answers
/// every request with the current status and `ok` (or `unavailable`), and counts requests.
#[derive(Clone, Debug)]
pub struct LoopbackApp {
    pub port: u16,
    pub(crate) status: std::sync::Arc<std::sync::atomic::AtomicU16>,
    pub(crate) requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl LoopbackApp {
    pub fn start(status: u16) -> std::io::Result<LoopbackApp> {
        Self::start_on(0, status)
    }

    /// On a given loopback port (0: any free one).
    pub(crate) fn start_on(port: u16, status: u16) -> std::io::Result<LoopbackApp> {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        let app = LoopbackApp { port, status: std::sync::Arc::new(status.into()), requests: Default::default() };
        let me = app.clone();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let mut buf = [0u8; 2048];
                let _ = conn.read(&mut buf);
                me.requests.fetch_add(1, Ordering::SeqCst);
                let status = me.status.load(Ordering::SeqCst);
                let body = if status < 400 { "ok" } else { "unavailable" };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Ok(app)
    }

    pub fn set_status(&self, status: u16) {
        self.status.store(status, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The faults that play `scenario` for `spec` (its image tag marks the release's tasks).
fn faults_for(spec: &Spec, scenario: Scenario) -> Faults {
    let tag = spec.file.image.tag.clone();
    let mut faults = Faults::default();
    let marker = format!(":{tag}");
    match scenario {
        Scenario::Happy => {}
        Scenario::FailStart => {
            faults.fail_start.insert(marker);
        }
        Scenario::Unhealthy => {
            faults.unhealthy.insert(marker);
        }
        Scenario::SecretFetch => {
            faults.fail_start.insert(marker);
            faults.start_failure_reason = Some(
                "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: AccessDeniedException: User is not authorized to perform: secretsmanager:GetSecretValue".into(),
            );
        }
        Scenario::OutOfMemory => {
            faults.oom.insert(marker);
        }
        Scenario::Alarm => faults.alarm_at = Some(60.0),
        Scenario::NoCapacity => {
            faults.no_capacity.insert(marker);
        }
        Scenario::ForeignDeploy => faults.foreign_deploy_at = Some(20.0),
        Scenario::ThrottleStorm => faults.throttle_every = Some(3),
        Scenario::SlowStart => faults.start_secs = 180.0,
        Scenario::BuildFails => faults.build_fails = true,
        Scenario::ChecksFail => {}
        Scenario::GateBypassed => faults.gate_bypassed = true,
        Scenario::TerminationWait | Scenario::SidecarSigterm => {}
        Scenario::ExistingHooks => faults.person_answers_after = Some(60.0),
        Scenario::AccessDenied => {
            faults.denied.insert("ecs:DescribeServiceDeployments".into());
            faults.denied.insert("ecs:ListServiceDeployments".into());
        }
        Scenario::AnsweredFirst => faults.answered_first = true,
        Scenario::GreenRegresses => faults.traffic.green_error_factor = 2.0,
        Scenario::GreenSlower => faults.traffic.green_latency_factor = 1.3,
        Scenario::LowTraffic => faults.traffic.requests_per_minute = 20.0,
        Scenario::MigrationFails => {
            faults.task_exit.insert(spec.container().to_string(), 1);
        }
    }
    faults
}

/// The sandbox world for `spec`: the service runs the template with the image tag `previous`
/// (revision 1), healthy; the release image exists in the sandbox's ECR.
pub(crate) fn world_for(spec: &Spec, scenario: Scenario) -> Result<Sim> {
    if let Some(why) = scenario.does_not_apply(spec) {
        let name = scenario.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
        return Err(crate::error::Error::usage(
            format!("--scenario {name} does not apply to {}: {why}", spec.path.display()),
            "pick a scenario this deployspec can meet (fgdeploy release --help lists them), or add what it needs",
        ));
    }
    let faults = faults_for(spec, scenario);
    let sim = seeded_with(spec, faults, true)?;
    if scenario == Scenario::ExistingHooks {
        seed_team_hooks(&sim, spec);
    }
    serve_native_test_url(spec, scenario)?;
    if controller(spec) == Controller::CodeDeploy {
        let app = LoopbackApp::start(if scenario == Scenario::ChecksFail { 503 } else { 200 })
            .map_err(|e| crate::error::Error::Internal(format!("sandbox listener: {e}")))?;
        let termination_wait = if scenario == Scenario::TerminationWait { 60 } else { 5 };
        seed_deployment_group_waiting(&sim, spec, (app.port, app.port), termination_wait);
    }
    Ok(sim)
}

/// An ECS-native deployspec whose checks go to a loopback `test_url`: the sandbox answers there
/// (503 with `checks-fail`), as the green tasks would behind the test listener rule. A port in
/// use by something else is said, not ignored.
pub(crate) fn serve_native_test_url(spec: &Spec, scenario: Scenario) -> Result<()> {
    let Some(bg) = spec.file.deploy.blue_green.as_ref().filter(|b| !b.checks.is_empty() && controller(spec) == Controller::Ecs) else {
        return Ok(());
    };
    let Some(port) = bg.test_url.as_deref().and_then(loopback_port) else { return Ok(()) };
    let status = if scenario == Scenario::ChecksFail { 503 } else { 200 };
    LoopbackApp::start_on(port, status).map(drop).map_err(|e| {
        crate::error::Error::usage(
            format!("the sandbox cannot serve deploy.blue_green.test_url on 127.0.0.1:{port}: {e}"),
            "free the port, or set test_url to another loopback port",
        )
    })
}

/// `http://127.0.0.1:8443[/…]` → 8443.
fn loopback_port(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("http://127.0.0.1:").or_else(|| url.strip_prefix("http://localhost:"))?;
    rest.split(['/', '?']).next()?.parse().ok()
}

/// A team's own deployment configuration on the service: circuit breaker, alarms, 50/200, a
/// Lambda hook at POST_SCALE_UP and an approval PAUSE hook at PRE_PRODUCTION_TRAFFIC_SHIFT
/// (`existing-hooks`).
pub fn seed_team_hooks(sim: &Sim, spec: &Spec) {
    use crate::ports::{Alarms, CircuitBreaker, DeploymentConfig, LifecycleHook};
    let config = DeploymentConfig {
        minimum_healthy_percent: Some(50),
        maximum_percent: Some(200),
        circuit_breaker: Some(CircuitBreaker { enable: true, rollback: true, ..Default::default() }),
        alarms: Some(Alarms { names: vec!["web-5xx".into()], enable: true, rollback: true }),
        bake_time_minutes: Some(1),
        early_success: None,
        strategy: None,
        linear: None,
        canary: None,
        lifecycle_hooks: vec![
            LifecycleHook {
                target_type: crate::states::HookTargetType::AwsLambda,
                hook_target_arn: Some("arn:aws:lambda:us-east-1:123456789012:function:warm-caches".into()),
                role_arn: Some("arn:aws:iam::123456789012:role/ecs-hooks".into()),
                stages: vec![crate::states::LifecycleStage::PostScaleUp],
                ..Default::default()
            },
            LifecycleHook {
                target_type: crate::states::HookTargetType::Pause,
                stages: vec![crate::states::LifecycleStage::PreProductionTrafficShift],
                timeout_minutes: Some(60),
                timeout_action: Some(crate::states::HookAction::Rollback),
                details: Some(serde_json::json!({"team": "payments", "approval": "release-manager"})),
                ..Default::default()
            },
        ],
    };
    sim.world().set_deployment_config(spec.cluster(), spec.service(), config);
}

/// The deployment controller of the sandbox service: CODE_DEPLOY for a blue-green deployspec
/// unless it uses ECS-native settings (a non-default `ecs_strategy`, linear/canary or
/// advancedConfiguration keys) and names no CodeDeploy application or group.
pub(crate) fn controller(spec: &Spec) -> Controller {
    let Some(bg) = spec.file.deploy.blue_green.as_ref().filter(|_| spec.file.deploy.strategy == crate::spec::Strategy::BlueGreen) else {
        return Controller::Ecs;
    };
    let codedeploy = bg.application.is_some() || bg.deployment_group.is_some();
    let native = bg.ecs_strategy != crate::states::DeploymentStrategy::BlueGreen
        || bg.linear_step_percent.is_some()
        || bg.canary_percent.is_some()
        || bg.alternate_target_group_arn.is_some()
        || bg.test_listener_rule.is_some();
    if native && !codedeploy { Controller::Ecs } else { Controller::CodeDeploy }
}

/// The CodeDeploy group of a blue/green sandbox service: STOP_DEPLOYMENT for 60 min (so the
/// checks gate), automatic rollback on failure and on stop, a 5-minute blue termination wait.
pub fn seed_deployment_group(sim: &Sim, spec: &Spec, prod_port: u16, test_port: u16) {
    seed_deployment_group_waiting(sim, spec, (prod_port, test_port), 5);
}

/// As [`seed_deployment_group`], with a blue termination wait of `termination_wait_minutes`.
pub(crate) fn seed_deployment_group_waiting(sim: &Sim, spec: &Spec, (prod_port, test_port): (u16, u16), termination_wait_minutes: i32) {
    let Some(bg) = &spec.file.deploy.blue_green else { return };
    let (app, group) = crate::engine::init_names(spec.cluster(), spec.service());
    sim.world().seed_deployment_group(crate::sim::CdGroupSeed {
        application: bg.application.clone().unwrap_or(app),
        group: bg.deployment_group.clone().unwrap_or(group),
        cluster: spec.cluster().to_string(),
        service: spec.service().to_string(),
        deployment_config: bg.deployment_config.clone().unwrap_or_else(|| "CodeDeployDefault.ECSAllAtOnce".into()),
        ready_action: crate::states::ReadyAction::StopDeployment,
        ready_wait_minutes: 60,
        rollback_events: vec!["DEPLOYMENT_FAILURE".into(), "DEPLOYMENT_STOP_ON_REQUEST".into()],
        termination_wait_minutes,
        prod_port,
        test_port: Some(test_port),
    });
}

/// A sandbox world for `spec` with the given faults (see [`world_for`]): the service runs
/// revision 1 (tests count revisions from there).
/// Ports that answer the templates' account lookups with stand-ins (`sandbox:ssm:/path`, …).
pub fn lookup_ports() -> crate::ports::Ports {
    Sim::new(World::new(Faults::default())).ports()
}

pub fn seeded(spec: &Spec, faults: Faults) -> Result<Sim> {
    seeded_with(spec, faults, false)
}

/// As [`seeded`]; with `history` the service runs revision 2 and has served revision 1 before
/// (a service-deployment history and fgdeploy's previous-revision tag), as on a real account.
pub fn seeded_with(spec: &Spec, faults: Faults, history: bool) -> Result<Sim> {
    let mut world = World::new(faults);
    seed_into(&mut world, spec, history)?;
    // Seeding is not part of what the tests observe.
    world.mutations.clear();
    Ok(Sim::new(world))
}

/// One simulated account with every spec's service (a fleet).
pub fn seeded_fleet(specs: &[Spec], faults: Faults) -> Result<Sim> {
    let mut world = World::new(faults);
    for s in specs {
        seed_into(&mut world, s, false)?;
    }
    world.mutations.clear();
    Ok(Sim::new(world))
}

/// The fleet sandbox: every service, and a loopback listener for the blue/green ones.
pub(crate) fn fleet_world_for(specs: &[Spec], scenario: Scenario) -> Result<Sim> {
    let mut faults = Faults::default();
    if let Some(first) = specs.first() {
        let marker = format!(":{}", first.file.image.tag);
        match scenario {
            Scenario::FailStart => {
                faults.fail_start.insert(marker);
            }
            Scenario::Unhealthy => {
                faults.unhealthy.insert(marker);
            }
            Scenario::ThrottleStorm => faults.throttle_every = Some(3),
            _ => {}
        }
    }
    let sim = seeded_fleet(specs, faults)?;
    for s in specs.iter().filter(|s| controller(s) == Controller::CodeDeploy) {
        let app = LoopbackApp::start(200).map_err(|e| crate::error::Error::Internal(format!("sandbox listener: {e}")))?;
        seed_deployment_group(&sim, s, app.port, app.port);
    }
    for s in specs {
        serve_native_test_url(s, scenario)?;
    }
    Ok(sim)
}

fn seed_into(world: &mut World, spec: &Spec, history: bool) -> Result<()> {
    let repo = crate::registry::repository_name(&spec.file.image.repository);
    let tag = spec.file.image.tag.clone();
    // With a [build] section the sandbox builds (and checks the context exists); without one
    // the image is taken as pushed by someone else.
    if spec.file.build.is_some() {
        world.create_repository(&repo);
    } else if world.image_digest(&repo, &tag).is_none() {
        world.put_image(&repo, &tag);
    }
    let uri = world.repository_uri(&repo)?;
    // Each [build.<container>] repository exists (in this account's ECR when named, not URI'd);
    // the service runs each image at the tag `previous`.
    let mut previous_images = std::collections::BTreeMap::from([(spec.container().to_string(), format!("{uri}:previous"))]);
    for t in spec.sidecar_targets() {
        let sidecar_uri = if crate::registry::is_full_uri(&t.repository) {
            t.repository.clone()
        } else {
            world.create_repository(&t.repository);
            world.repository_uri(&t.repository)?
        };
        previous_images.insert(t.container, format!("{sidecar_uri}:previous"));
    }
    let previous = spec.render_task_definition_with(&previous_images)?;
    let load_balanced = previous.container_definitions.iter().any(|c| c.port_mappings.as_ref().is_some_and(|p| !p.is_empty()));
    let seed = SeedService {
        cluster: spec.cluster().to_string(),
        name: spec.service().to_string(),
        desired: spec.file.service.desired_count.unwrap_or(3),
        task_definition: previous,
        config: desired_deployment_config(spec),
        load_balanced,
        history: if history { Some(spec.render_task_definition(&format!("{uri}:earlier"))?) } else { None },
    };
    if controller(spec) == Controller::CodeDeploy {
        world.seed_codedeploy_service(seed);
    } else {
        world.seed_service(seed);
        // A service set up for ECS-native blue/green carries its advancedConfiguration.
        if let Some(bg) = spec.file.deploy.blue_green.as_ref()
            && let (Some(alternate), Some(rule), Some(role)) =
                (&bg.alternate_target_group_arn, &bg.production_listener_rule, &bg.load_balancer_role_arn)
        {
            let advanced = crate::ports::AdvancedLbConfig {
                alternate_target_group_arn: alternate.clone(),
                production_listener_rule: rule.clone(),
                test_listener_rule: bg.test_listener_rule.clone(),
                role_arn: role.clone(),
            };
            world.set_advanced_load_balancer(spec.cluster(), spec.service(), advanced);
        }
    }
    Ok(())
}
