//! `[service.definition]` on the simulator: `init` then `plan` shows no change for a service using
//! every managed field; a changed definition rides on the release's one UpdateService (tags on
//! TagResource); a missing service is created only with `--create`; what a CODE_DEPLOY service
//! cannot take is refused before any change.

use crate::harness::{TEMPLATE, base_spec, spec_dir_with};
use fgdeploy::engine::{CreateMode, Engine, InitOptions, Interrupt, Recorder, ReleaseOptions, observe};
use fgdeploy::error::{Error, exit};
use fgdeploy::plan::{self, PlanOptions};
use fgdeploy::ports::UpdateService;
use fgdeploy::sandbox::seeded;
use fgdeploy::servicedef::*;
use fgdeploy::sim::{Faults, Mutation, Sim, World};
use fgdeploy::spec::Spec;
use std::sync::Arc;

/// The template with a named port (Service Connect needs one).
const NAMED_PORT: &str = r#"{
  "family": "web",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "cpu": "256",
  "memory": "512",
  "containerDefinitions": [
    {"name": "web", "image": "{{ image }}", "memory": 512,
     "portMappings": [{"containerPort": 8080, "name": "http"}]}
  ]
}"#;

const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef";

/// Every managed field, none at its ECS default.
fn every_field() -> ServiceDefinition {
    ServiceDefinition {
        network: Some(NetworkDef {
            subnets: Some(vec!["subnet-0123456789abcdef0".into(), "subnet-0123456789abcdef1".into()]),
            security_groups: Some(vec!["sg-0123456789abcdef0".into()]),
            assign_public_ip: Some(true),
        }),
        capacity_provider_strategy: Some(vec![
            CapacityProviderItem { capacity_provider: "FARGATE".into(), base: 1, weight: 1 },
            CapacityProviderItem { capacity_provider: "FARGATE_SPOT".into(), base: 0, weight: 3 },
        ]),
        platform_version: Some("1.4.0".into()),
        load_balancers: Some(vec![LoadBalancerDef {
            target_group_arn: TG.into(),
            container_name: "web".into(),
            container_port: 8080,
            advanced: None,
        }]),
        health_check_grace_period_seconds: Some(45),
        service_registries: Some(vec![ServiceRegistry {
            registry_arn: "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-0123456789abcdef".into(),
            ..Default::default()
        }]),
        service_connect: Some(ServiceConnect {
            enabled: true,
            namespace: Some("arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-0123456789abcdef".into()),
            services: vec![ServiceConnectService {
                port_name: "http".into(),
                discovery_name: Some("web".into()),
                client_aliases: vec![ClientAlias { port: 80, dns_name: Some("web.internal".into()), test_traffic_header: None }],
                ingress_port_override: None,
                timeout: Some(ConnectTimeout { idle_timeout_seconds: Some(3600), per_request_timeout_seconds: None }),
                tls: None,
            }],
            log_configuration: Some(ConnectLog {
                log_driver: "awslogs".into(),
                options: [("awslogs-group".to_string(), "/ecs/service-connect".to_string())].into(),
                secret_options: vec![],
            }),
            access_log: None,
        }),
        enable_execute_command: Some(false),
        enable_ecs_managed_tags: Some(true),
        propagate_tags: Some(PropagateTags::TaskDefinition),
        availability_zone_rebalancing: Some(AzRebalancing::Disabled),
        deployment_controller: Some(Controller::Ecs),
        volume_configurations: Some(vec![VolumeConfiguration {
            name: "data".into(),
            managed_ebs_volume: Some(ManagedEbsVolume {
                role_arn: "arn:aws:iam::123456789012:role/ecsInfrastructureRole".into(),
                encrypted: Some(true),
                volume_type: Some("gp3".into()),
                size_in_gib: Some(20),
                throughput: Some(250),
                filesystem_type: Some("ext4".into()),
                tag_specifications: vec![EbsTagSpecification {
                    resource_type: "volume".into(),
                    tags: [("team".to_string(), "payments".to_string())].into(),
                    propagate_tags: Some("SERVICE".into()),
                }],
                ..Default::default()
            }),
        }]),
        vpc_lattice: Some(vec![VpcLattice {
            role_arn: "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForVpcLattice".into(),
            target_group_arn: "arn:aws:vpc-lattice:us-east-1:123456789012:targetgroup/tg-0123456789abcdef0".into(),
            port_name: "http".into(),
            ..Default::default()
        }]),
        tags: Some([("team".to_string(), "payments".to_string())].into()),
    }
}

/// [`NAMED_PORT`] with a volume configured at launch (every_field configures it).
fn named_port_with_volume() -> String {
    NAMED_PORT.replace(
        "\"containerDefinitions\"",
        "\"volumes\": [{\"name\": \"data\", \"configuredAtLaunch\": true}],\n  \"containerDefinitions\"",
    )
}

/// Someone sets `settings` on the live service (an UpdateService of its own revision); the
/// service as it was before.
async fn set_live(sim: &Sim, settings: ServiceDefinition) -> fgdeploy::ports::ServiceState {
    let live = sim.ports().ecs.describe_service("demo", "web").await.expect("describe").expect("service");
    let req = UpdateService {
        cluster: "demo".into(),
        service: "web".into(),
        task_definition: live.task_definition.clone(),
        desired_count: None,
        deployment_config: None,
        native: None,
        settings,
    };
    sim.ports().ecs.update_service(&req).await.expect("update");
    live
}

fn load(spec: &str, template: &str) -> (tempfile::TempDir, Spec) {
    let (dir, path) = spec_dir_with(spec, template);
    let s = Spec::load(&path, None).unwrap_or_else(|e| panic!("{e}"));
    (dir, s)
}

async fn release(sim: &Sim, spec: &Spec, opts: ReleaseOptions) -> (Result<fgdeploy::engine::ReleaseReport, Error>, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), Interrupt::default());
    (engine.release(spec, &opts).await, rec)
}

async fn planned(sim: &Sim, spec: &Spec) -> plan::Plan {
    let live = observe(spec, &sim.ports()).await.expect("observe");
    plan::build(spec, &live, &PlanOptions::default()).expect("plan")
}

#[tokio::test]
async fn init_then_plan_shows_no_change_for_a_service_using_every_managed_field() {
    let template = named_port_with_volume();
    assert_ne!(template, NAMED_PORT);
    let (_d, seed_spec) = load(&base_spec("demo", "web"), &template);
    let sim = seeded(&seed_spec, Faults::default()).expect("seed");
    sim.world().put_image("web", "previous");
    // Someone set every managed field on the live service.
    let mut all = every_field();
    let tags = all.tags.take().expect("tags");
    let live = set_live(&sim, all).await;
    sim.ports().ecs.tag_service(&live.arn, &tags).await.expect("tag");

    let dir = tempfile::tempdir().expect("dir");
    let o = InitOptions { cluster: "demo".into(), service: "web".into(), dir: dir.path().to_path_buf(), ..Default::default() };
    let report = fgdeploy::engine::init(&sim.ports(), &o).await.expect("init");
    let text = std::fs::read_to_string(&report.deployspec).expect("spec");
    for key in [
        "[service.definition]",
        "[service.definition.network]",
        "[[service.definition.capacity_provider_strategy]]",
        "FARGATE_SPOT",
        "health_check_grace_period_seconds = 45",
        "[service.definition.service_connect]",
        "propagate_tags = \"TASK_DEFINITION\"",
        "availability_zone_rebalancing = \"DISABLED\"",
        "team = \"payments\"",
        "[[service.definition.volume_configurations]]",
        "throughput = 250",
        "propagate_tags = \"SERVICE\"",
        "[[service.definition.vpc_lattice]]",
        "enable_ecs_managed_tags = true",
    ] {
        assert!(text.contains(key), "init writes {key}:\n{text}");
    }
    let spec = Spec::load(&report.deployspec, None).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(spec.file.service.definition.as_ref().map(ServiceDefinition::fields).map(|f| f.len()), Some(15), "{text}");
    let p = planned(&sim, &spec).await;
    assert!(p.service_changes.is_empty(), "plan after init shows no service change: {:?}\n{text}", p.service_changes);
    assert!(p.task_definition_changes.is_empty(), "{:?}", p.task_definition_changes);
    assert!(!p.has_changes && p.service_tags.is_empty() && p.update.settings.is_empty());
}

#[tokio::test]
async fn a_changed_definition_rides_on_the_one_update_service_and_tags_on_tag_resource() {
    let extra = "\n[service.definition]\nhealth_check_grace_period_seconds = 90\nenable_execute_command = false\n\n[service.definition.network]\nsubnets = [\"subnet-0123456789abcdef9\"]\n\n[service.definition.tags]\nteam = \"checkout\"\n";
    let (_d, spec) = load(&format!("{}{extra}", base_spec("demo", "web")), TEMPLATE);
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let p = planned(&sim, &spec).await;
    let paths: Vec<&str> = p.service_changes.iter().map(|c| c.path()).collect();
    assert!(paths.contains(&"service.definition.health_check_grace_period_seconds"), "{paths:?}");
    assert!(paths.contains(&"service.definition.enable_execute_command"), "{paths:?}");
    assert!(paths.iter().any(|p| p.starts_with("service.definition.network")), "{paths:?}");
    assert!(paths.contains(&"service.definition.tags.team"), "{paths:?}");
    let (result, _) = release(&sim, &spec, ReleaseOptions::default()).await;
    result.unwrap_or_else(|e| panic!("{e}"));
    let muts: Vec<Mutation> = sim.world().mutations.iter().map(|(_, m)| m.clone()).collect();
    let updates: Vec<&Mutation> = muts.iter().filter(|m| matches!(m, Mutation::UpdateService { .. })).collect();
    assert_eq!(updates.len(), 1, "one UpdateService: {muts:?}");
    assert!(
        matches!(updates[0], Mutation::UpdateService { settings, .. } if settings == &vec!["network", "health_check_grace_period_seconds", "enable_execute_command"]),
        "{updates:?}"
    );
    assert!(muts.iter().any(|m| matches!(m, Mutation::TagResource { keys, .. } if keys == &vec!["team".to_string()])), "{muts:?}");
    let svc = sim.ports().ecs.describe_service("demo", "web").await.expect("describe").expect("service");
    assert_eq!(svc.network.as_ref().map(|n| n.subnets.clone()), Some(vec!["subnet-0123456789abcdef9".to_string()]));
    assert_eq!(svc.network.as_ref().map(|n| n.security_groups.len()), Some(1), "security groups not in the spec are kept");
    assert_eq!(svc.health_check_grace_period_seconds, Some(90));
    // The next plan: nothing left to do.
    let again = planned(&sim, &spec).await;
    assert!(again.service_changes.is_empty(), "{:?}", again.service_changes);
}

/// An account with the image but without the service.
fn empty_account(spec: &Spec) -> Sim {
    let mut w = World::new(Faults::default());
    w.put_image("web", &spec.file.image.tag);
    w.mutations.clear();
    Sim::new(w)
}

#[tokio::test]
async fn a_missing_service_is_created_only_when_asked_and_watched_to_its_first_completed_deployment() {
    let extra = "\n[service.definition]\nenable_execute_command = true\n\n[service.definition.network]\nsubnets = [\"subnet-0123456789abcdef0\"]\nsecurity_groups = [\"sg-0123456789abcdef0\"]\n\n[service.definition.tags]\nteam = \"payments\"\n";
    let (_d, spec) = load(&format!("{}{extra}", base_spec("demo", "web")), TEMPLATE);
    let sim = empty_account(&spec);
    let p = planned(&sim, &spec).await;
    assert!(p.creates_service && p.has_changes);
    assert!(p.service_changes.iter().any(|c| c.path() == "service"), "{:?}", p.service_changes);
    let deploy = format!("{:?}", p.stage(plan::Stage::Deploy));
    assert!(deploy.contains("CreateService web in demo (4 task(s))") && deploy.contains("--create"), "{deploy}");

    // Without --create: refused before any change.
    let (result, _) = release(&sim, &spec, ReleaseOptions::default()).await;
    let err = result.expect_err("refused");
    assert_eq!(err.exit_code(), exit::INPUT, "{err}");
    assert!(err.to_string().contains("--create") || format!("{err:?}").contains("--create"), "{err:?}");
    assert!(sim.world().mutations.is_empty(), "nothing changed: {:?}", sim.world().mutations);

    let (result, _) = release(&sim, &spec, ReleaseOptions { create: CreateMode::IfMissing, ..Default::default() }).await;
    let report = result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.outcome, "deployed");
    let muts: Vec<Mutation> = sim.world().mutations.iter().map(|(_, m)| m.clone()).collect();
    assert!(muts.iter().any(|m| matches!(m, Mutation::CreateService { desired_count: 4, .. })), "{muts:?}");
    assert!(!muts.iter().any(|m| matches!(m, Mutation::UpdateService { .. })), "created, not updated: {muts:?}");
    let svc = sim.ports().ecs.describe_service("demo", "web").await.expect("describe").expect("created");
    assert!(svc.enable_execute_command && svc.tags.get("team").map(String::as_str) == Some("payments"));
    assert_eq!(svc.running_count, 4);
    // Created, the plan has nothing left, and `create` refuses an existing service.
    assert!(!planned(&sim, &spec).await.has_changes);
    let (result, _) = release(&sim, &spec, ReleaseOptions { create: CreateMode::Required, ..Default::default() }).await;
    assert_eq!(result.expect_err("exists").exit_code(), exit::INPUT);
}

#[tokio::test]
async fn a_missing_service_without_subnets_cannot_be_created() {
    let extra = "\n[service.definition]\nenable_execute_command = true\n";
    let (_d, spec) = load(&format!("{}{extra}", base_spec("demo", "web")), TEMPLATE);
    let sim = empty_account(&spec);
    let live = observe(&spec, &sim.ports()).await.expect("observe");
    let err = plan::build(&spec, &live, &PlanOptions::default()).expect_err("no subnets");
    assert!(format!("{err}").contains("service.definition.network.subnets"), "{err}");
    // Without a definition, a missing service is the old error, now naming the way to create it.
    let (_d2, bare) = load(&base_spec("demo", "web"), TEMPLATE);
    let err = observe(&bare, &sim.ports()).await.expect_err("missing");
    assert!(err.to_string().contains("[service.definition]") && err.to_string().contains("--create"), "{err}");
}

#[tokio::test]
async fn a_code_deploy_service_refuses_what_neither_update_service_nor_codedeploy_carries() {
    let bg = "\n[deploy]\nstrategy = \"blue-green\"\n\n[deploy.blue_green]\ncontainer_port = 8080\napplication = \"app\"\ndeployment_group = \"dg\"\n";
    let extra = format!("{bg}\n[service.definition]\nenable_execute_command = false\n");
    let (_d, spec) = load(&format!("{}{extra}", base_spec("demo", "web")), TEMPLATE);
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let live = observe(&spec, &sim.ports()).await.expect("observe");
    assert_eq!(live.service.deployment_controller, Controller::CodeDeploy);
    let err = plan::build(&spec, &live, &PlanOptions::default()).expect_err("refused");
    let text = format!("{err}");
    assert!(text.contains("service.definition.enable_execute_command") && text.contains("CODE_DEPLOY"), "{text}");
    // The grace period is carried (UpdateService without a task definition), the network by the AppSpec.
    let extra = format!("{bg}\n[service.definition]\nhealth_check_grace_period_seconds = 120\nplatform_version = \"1.4.0\"\n");
    let (_d, spec) = load(&format!("{}{extra}", base_spec("demo", "web")), TEMPLATE);
    let live = observe(&spec, &sim.ports()).await.expect("observe");
    let p = plan::build(&spec, &live, &PlanOptions::default()).expect("plan");
    assert_eq!(p.update.settings.fields(), vec!["health_check_grace_period_seconds"], "the platform version goes in the AppSpec");
    let appspec = fgdeploy::engine::appspec(&spec, spec.file.deploy.blue_green.as_ref().expect("bg"), "td", &live.service);
    assert!(appspec.contains("\"PlatformVersion\":\"1.4.0\""), "{appspec}");
}

/// #24: UpdateService takes serviceConnectConfiguration as a whole. A spec that changes only a
/// service's `ingress_port_override` sends the live structure with that change: the proxy's log
/// configuration, the service's timeout, its aliases and the namespace stay; the plan shows that
/// one change (the diff is between the live structure and exactly what is sent).
#[tokio::test]
async fn one_service_connect_change_keeps_the_rest_of_the_live_structure() {
    let (_d, seed_spec) = load(&base_spec("demo", "web"), NAMED_PORT);
    let sim = seeded(&seed_spec, Faults::default()).expect("seed");
    sim.world().put_image("web", "previous");
    set_live(&sim, ServiceDefinition { service_connect: every_field().service_connect, ..Default::default() }).await;
    sim.world().advance(300.0); // that deployment completes
    let extra = "\n[service.definition.service_connect]\nenabled = true\n\n[[service.definition.service_connect.services]]\nport_name = \"http\"\ningress_port_override = 9090\n";
    let (_d2, spec) = load(&format!("{}{extra}", base_spec("demo", "web")), NAMED_PORT);
    let p = planned(&sim, &spec).await;
    let paths: Vec<String> = p.service_changes.iter().map(|c| c.path().to_string()).collect();
    assert_eq!(paths.len(), 1, "{paths:?}");
    assert!(paths[0].contains("ingress_port_override"), "{paths:?}");
    let (result, _) = release(&sim, &spec, ReleaseOptions::default()).await;
    result.unwrap_or_else(|e| panic!("{e}"));
    let after = sim.ports().ecs.describe_service("demo", "web").await.expect("describe").expect("service");
    let sc = after.service_connect.expect("service connect");
    let want = every_field().service_connect.expect("sc");
    assert_eq!(sc.services[0].ingress_port_override, Some(9090));
    assert_eq!(sc.services[0].timeout, want.services[0].timeout, "the timeout is kept");
    assert_eq!(sc.services[0].client_aliases, want.services[0].client_aliases);
    assert_eq!(sc.log_configuration, want.log_configuration, "the proxy's log configuration is kept");
    assert_eq!(sc.namespace, want.namespace);
    assert!(planned(&sim, &spec).await.service_changes.is_empty());
}

/// #24: the circuit breaker's newer members (`resetOnHealthyTask`, `thresholdConfiguration`)
/// that the deployspec leaves unsaid are sent as they are live (UpdateService takes
/// deploymentConfiguration whole), `init` writes them, and the simulator trips at the threshold
/// configured.
#[tokio::test]
async fn the_circuit_breakers_newer_members_are_kept_written_and_played() {
    let (_d, spec) = load(&base_spec("demo", "web"), TEMPLATE);
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let mut cfg = sim.world().deployment_config("demo", "web").expect("svc");
    cfg.circuit_breaker = Some(fgdeploy::ports::CircuitBreaker {
        enable: true,
        rollback: true,
        reset_on_healthy_task: Some(false),
        threshold: Some(("COUNT".into(), 7)),
    });
    sim.world().set_deployment_config("demo", "web", cfg);
    let p = planned(&sim, &spec).await;
    let sent = p.update.deployment_config.clone().and_then(|c| c.circuit_breaker).expect("breaker");
    assert_eq!((sent.reset_on_healthy_task, sent.threshold.clone()), (Some(false), Some(("COUNT".to_string(), 7))));
    assert!(p.service_changes.iter().all(|c| !c.path().contains("circuit_breaker")), "{:?}", p.service_changes);
    let dir = tempfile::tempdir().expect("dir");
    let o = InitOptions { cluster: "demo".into(), service: "web".into(), dir: dir.path().to_path_buf(), ..Default::default() };
    let report = fgdeploy::engine::init(&sim.ports(), &o).await.expect("init");
    let text = std::fs::read_to_string(&report.deployspec).expect("spec");
    assert!(text.contains("circuit_breaker_reset_on_healthy_task = false"), "{text}");
    assert!(text.contains("circuit_breaker_threshold = { type = \"COUNT\", value = 7 }"), "{text}");
    let b = fgdeploy::ports::CircuitBreaker { threshold: Some(("COUNT".into(), 7)), ..Default::default() };
    assert_eq!((b.threshold_for(100), fgdeploy::ports::CircuitBreaker::default().threshold_for(4)), (7, 3));
}

/// #24: `volumeConfigurations` are carried: a template with a `configuredAtLaunch` volume and no
/// configuration for it is refused before any change (the volume named, the key to add); with
/// `[[service.definition.volume_configurations]]` the service is created with them; an existing
/// service keeps its live ones when the spec does not name them; a configuration naming no such
/// volume is refused (ECS would refuse it).
#[tokio::test]
async fn volume_configurations_are_carried_and_must_match_the_volumes_configured_at_launch() {
    let extra = "\n[service.definition.network]\nsubnets = [\"subnet-0123456789abcdef0\"]\nsecurity_groups = [\"sg-0123456789abcdef0\"]\n";
    let template = TEMPLATE.replace(
        "\"containerDefinitions\"",
        "\"volumes\": [{\"name\": \"data\", \"configuredAtLaunch\": true}],\n  \"containerDefinitions\"",
    );
    assert_ne!(template, TEMPLATE);
    let (_d, spec) = load(&format!("{}{extra}", base_spec("demo", "web")), &template);
    let sim = empty_account(&spec);
    let live = observe(&spec, &sim.ports()).await.expect("observe");
    let text = format!("{}", plan::build(&spec, &live, &PlanOptions::default()).expect_err("refused"));
    assert!(text.contains("\"data\" is configuredAtLaunch") && text.contains("volume_configurations"), "{text}");

    let volumes = "\n[[service.definition.volume_configurations]]\nname = \"data\"\nmanaged_ebs_volume = { role_arn = \"arn:aws:iam::123456789012:role/ebs\", size_in_gib = 20, volume_type = \"gp3\" }\n";
    let (_d2, with) = load(&format!("{}{extra}{volumes}", base_spec("demo", "web")), &template);
    let sim = empty_account(&with);
    let (result, _) = release(&sim, &with, ReleaseOptions { create: CreateMode::IfMissing, ..Default::default() }).await;
    result.unwrap_or_else(|e| panic!("{e}"));
    let svc = sim.ports().ecs.describe_service("demo", "web").await.expect("describe").expect("service");
    assert_eq!(svc.volume_configurations.len(), 1, "created with its volume configuration");
    assert_eq!(svc.volume_configurations[0].managed_ebs_volume.as_ref().and_then(|e| e.size_in_gib), Some(20));
    // The same service, a spec that does not name them: the live ones are kept (UpdateService
    // leaves a member it is not sent as it is), so the plan passes and shows no volume change.
    let p = planned(&sim, &spec).await;
    assert!(!p.service_changes.iter().any(|c| c.path().contains("volume")), "{:?}", p.service_changes);

    let wrong = volumes.replace("name = \"data\"", "name = \"cache\"");
    let (_d3, bad) = load(&format!("{}{extra}{wrong}", base_spec("demo", "web")), &template);
    let live = observe(&bad, &sim.ports()).await.expect("observe");
    let text = format!("{}", plan::build(&bad, &live, &PlanOptions::default()).expect_err("refused"));
    assert!(text.contains("\"data\" is configuredAtLaunch"), "{text}");
}

/// #24: an ECS-native blue/green service (strategy LINEAR, its steps and bake time, a load
/// balancer with its advancedConfiguration) is written by `init` as an ECS-native section that
/// plans as unchanged; a rolling deployspec against it shows the strategy going back to ROLLING;
/// a changed load-balancer list is sent with each load balancer's live advancedConfiguration
/// (UpdateService replaces the list whole).
#[tokio::test]
async fn init_writes_an_ecs_native_service_as_it_is_and_its_load_balancer_keeps_its_advanced_configuration() {
    let (_d, seed_spec) = load(&base_spec("demo", "web"), TEMPLATE);
    let sim = seeded(&seed_spec, Faults::default()).expect("seed");
    let advanced = fgdeploy::ports::AdvancedLbConfig {
        alternate_target_group_arn: format!("{TG}-green"),
        production_listener_rule: "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/1/2/3".into(),
        test_listener_rule: Some("arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/1/2/4".into()),
        role_arn: "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForLoadBalancers".into(),
    };
    let lb = LoadBalancerDef {
        target_group_arn: TG.into(),
        container_name: "web".into(),
        container_port: 8080,
        advanced: Some(advanced.clone()),
    };
    set_live(&sim, ServiceDefinition { load_balancers: Some(vec![lb]), ..Default::default() }).await;
    let cfg = fgdeploy::ports::DeploymentConfig {
        strategy: Some(fgdeploy::states::DeploymentStrategy::Linear),
        linear: Some((25.0, 2)),
        bake_time_minutes: Some(3),
        minimum_healthy_percent: Some(100),
        maximum_percent: Some(200),
        ..Default::default()
    };
    sim.world().set_deployment_config("demo", "web", cfg);

    let dir = tempfile::tempdir().expect("dir");
    let o = InitOptions { cluster: "demo".into(), service: "web".into(), dir: dir.path().to_path_buf(), ..Default::default() };
    let report = fgdeploy::engine::init(&sim.ports(), &o).await.expect("init");
    let text = std::fs::read_to_string(&report.deployspec).expect("spec");
    assert_eq!(report.strategy, "blue-green", "{text}");
    for key in [
        "ecs_strategy = \"LINEAR\"",
        "linear_step_percent = 25.0",
        "linear_step_bake_minutes = 2",
        "bake_time_minutes = 3",
        "container_port = 8080",
        "alternate_target_group_arn",
        "load_balancer_role_arn",
    ] {
        assert!(text.contains(key), "init writes {key}:\n{text}");
    }
    let spec = Spec::load(&report.deployspec, None).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let p = planned(&sim, &spec).await;
    assert!(p.service_changes.is_empty(), "plan after init shows no service change: {:?}\n{text}", p.service_changes);

    // A rolling deployspec on the same service: the strategy goes back to ROLLING, shown.
    let (_d2, rolling) = load(&base_spec("demo", "web"), TEMPLATE);
    let p = planned(&sim, &rolling).await;
    let strategy = p.service_changes.iter().find(|c| c.path() == "deploymentConfiguration.strategy");
    assert!(
        strategy.is_some_and(|c| format!("{c:?}").contains("LINEAR") && format!("{c:?}").contains("ROLLING")),
        "{:?}",
        p.service_changes
    );

    // A load-balancer list that changes is sent with the live advancedConfiguration.
    let moved = format!(
        "{}\n[[service.definition.load_balancers]]\ntarget_group_arn = \"{TG}\"\ncontainer_name = \"web\"\ncontainer_port = 8081\n",
        base_spec("demo", "web")
    );
    let template = TEMPLATE.replace("\"containerPort\": 8080", "\"containerPort\": 8081");
    let (_d3, moved) = load(&moved, &template);
    let p = planned(&sim, &moved).await;
    let sent = p.update.settings.load_balancers.expect("the list is sent");
    assert_eq!(sent[0].advanced.as_ref(), Some(&advanced), "{sent:?}");
}
