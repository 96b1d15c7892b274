//! The plan's unit tests: every stage decision, the service diff, the rounding and rollout
//! rounds, the traffic schedules. The live state comes from the sandbox's seeded account (what
//! `plan --sandbox` shows), changed per case.

use super::*;
use crate::ports::ScalableTarget;
use crate::spec::{BlueGreenSection, MigrationSection, Spec};
#[allow(unused_imports)]
use crate::states::*;
use crate::taskdef::model::Tag;
use std::path::Path;

/// A deployspec of `deployspecs/` with a fixed commit (the tests run outside a git checkout too).
fn load(name: &str, tag: &str) -> Spec {
    let vars = crate::vars::Vars::from_process(Path::new("deployspecs")).with_git_sha("0123456789abcdef0123");
    Spec::load_with(&Path::new("deployspecs").join(name), Some(tag), vars).expect("a deployspec of deployspecs/")
}

fn example() -> Spec {
    load("example.toml", "v2")
}

fn bluegreen() -> Spec {
    load("bluegreen.toml", "v2")
}

fn live(spec: &Spec) -> Live {
    let sim = crate::sandbox::seeded(spec, crate::sim::Faults::default()).expect("seeded");
    let ports = sim.ports();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(crate::engine::observe(spec, &ports)).expect("observed")
}

fn plan(spec: &Spec, live: &Live, opts: &PlanOptions) -> Plan {
    build(spec, live, opts).expect("a plan")
}

fn run(detail: &str) -> Option<StageAction> {
    Some(StageAction::Run { detail: detail.into() })
}

fn skip(reason: &str) -> Option<StageAction> {
    Some(StageAction::Skip { reason: reason.into() })
}

const URI: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web";

#[test]
fn a_new_image_is_built_registered_deployed_and_verified() {
    let spec = example();
    let mut l = live(&spec);
    l.image_digest = None;
    let p = plan(&spec, &l, &PlanOptions::default());
    assert_eq!(p.stage(Stage::Build).cloned(), run(&format!("build and push {URI}:v2")));
    assert_eq!(p.stage(Stage::Migrate).cloned(), skip("no [migration] in the deployspec"));
    assert_eq!(p.stage(Stage::Register).cloned(), run("register a new revision of web (1 change(s))"));
    assert_eq!(p.stage(Stage::Deploy).cloned(), run("UpdateService (rolling), then watch the deployment to its end"));
    assert_eq!(p.stage(Stage::Verify).cloned(), run("the new revision is PRIMARY, COMPLETED and at its desired count"));
    assert!(p.runs(Stage::Build) && p.runs(Stage::Deploy) && !p.runs(Stage::Migrate));
    assert!(p.has_changes);
    assert_eq!(p.image, format!("{URI}:v2"));
    assert_eq!(p.live_task_definition.as_deref(), Some("arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"));
    assert_eq!(p.live_image.as_deref(), Some(format!("{URI}:previous").as_str()));
    let paths: Vec<&str> = p.task_definition_changes.iter().map(Change::path).collect();
    assert_eq!(paths, vec!["containerDefinitions[web].image"]);
    assert_eq!(taskdef::image_of(&p.desired_task_definition, "web"), Some(format!("{URI}:v2").as_str()));
    assert!(p.service_changes.is_empty(), "{:?}", p.service_changes);
    assert_eq!(p.update.cluster, "demo");
    assert_eq!(p.update.service, "web");
    assert_eq!(p.update.desired_count, Some(4));
    assert_eq!(p.update.deployment_config, Some(desired_deployment_config(&spec)));
    assert_eq!((p.cluster.as_str(), p.service.as_str()), ("demo", "web"));
}

#[test]
fn an_unchanged_release_registers_and_deploys_nothing() {
    let spec = load("example.toml", "previous");
    let mut l = live(&spec);
    l.image_digest = Some("sha256:aaa".into());
    let p = plan(&spec, &l, &PlanOptions::default());
    assert_eq!(p.stage(Stage::Build).cloned(), skip(&format!("{URI}:previous exists in ECR (sha256:aaa)")));
    assert_eq!(
        p.stage(Stage::Register).cloned(),
        skip("task definition unchanged (arn:aws:ecs:us-east-1:123456789012:task-definition/web:1)")
    );
    assert_eq!(p.stage(Stage::Deploy).cloned(), skip("nothing changed"));
    assert_eq!(p.stage(Stage::Verify).cloned(), skip("nothing deployed"));
    assert!(p.task_definition_changes.is_empty() && !p.has_changes);
    // The same release whose image is missing: a build alone is a change.
    l.image_digest = None;
    let p = plan(&spec, &l, &PlanOptions::default());
    assert!(p.has_changes && p.runs(Stage::Build) && !p.runs(Stage::Deploy));
}

#[test]
fn the_build_stage_says_what_happens_to_the_image() {
    let spec = example();
    let mut l = live(&spec);
    l.image_digest = Some("sha256:bbb".into());
    let build_of = |spec: &Spec, l: &Live, opts: PlanOptions| plan(spec, l, &opts).stage(Stage::Build).cloned();
    assert_eq!(build_of(&spec, &l, PlanOptions { skip_build: true, ..Default::default() }), skip("--skip-build"));
    assert_eq!(
        build_of(&spec, &l, PlanOptions { force_build: true, ..Default::default() }),
        run(&format!("build and push {URI}:v2 (--force-build)"))
    );
    l.image_digest = None;
    assert_eq!(build_of(&spec, &l, PlanOptions { force_build: true, ..Default::default() }), run(&format!("build and push {URI}:v2")));
    l.repository_missing = true;
    assert_eq!(build_of(&spec, &l, PlanOptions::default()), run(&format!("create ECR repository web, then build and push {URI}:v2")));
    let mut no_build = spec.clone();
    no_build.file.build = None;
    let fails = build_of(&no_build, &l, PlanOptions::default());
    assert!(
        matches!(&fails, Some(StageAction::Run { detail }) if detail.starts_with("FAILS") && detail.contains("(the repository does not exist)")),
        "{fails:?}"
    );
    l.repository_missing = false;
    let fails = build_of(&no_build, &l, PlanOptions::default());
    assert!(
        matches!(&fails, Some(StageAction::Run { detail }) if detail.contains(&format!("{URI}:v2 is not in ECR and the deployspec has no [build]"))),
        "{fails:?}"
    );
}

#[test]
fn a_pinned_digest_is_deployed_unless_the_image_is_rebuilt() {
    let mut spec = example();
    spec.file.image.pin_digest = true;
    let mut l = live(&spec);
    l.image_digest = Some("sha256:ccc".into());
    let p = plan(&spec, &l, &PlanOptions::default());
    assert_eq!(p.image, format!("{URI}@sha256:ccc"));
    assert_eq!(taskdef::image_of(&p.desired_task_definition, "web"), Some(format!("{URI}@sha256:ccc").as_str()));
    assert_eq!(plan(&spec, &l, &PlanOptions { force_build: true, ..Default::default() }).image, format!("{URI}:v2"));
    spec.file.image.pin_digest = false;
    assert_eq!(plan(&spec, &l, &PlanOptions::default()).image, format!("{URI}:v2"));
}

fn tag(k: &str, v: &str) -> Tag {
    Tag { key: Some(k.into()), value: Some(v.into()) }
}

#[test]
fn the_live_revision_tags_are_kept_without_fgdeploys_own() {
    let spec = example();
    let mut l = live(&spec);
    let live_td = l.task_definition.as_mut().expect("a live revision");
    live_td.definition.tags = Some(vec![tag(TAG_PREVIOUS, "web:1"), tag("team", "payments")]);
    let p = plan(&spec, &l, &PlanOptions::default());
    assert_eq!(p.desired_task_definition.tags, Some(vec![tag("team", "payments")]));
    assert!(!p.task_definition_changes.iter().any(|c| c.path().starts_with("tags")), "{:?}", p.task_definition_changes);
    // Only fgdeploy's own tags: none are carried, and that is no change either.
    let live_td = l.task_definition.as_mut().expect("a live revision");
    live_td.definition.tags = Some(vec![tag(TAG_PREVIOUS, "web:1")]);
    let p = plan(&spec, &l, &PlanOptions::default());
    assert_eq!(p.desired_task_definition.tags, None);
    assert_eq!(p.task_definition_changes.len(), 1);
    let kept = without_own_tags(l.task_definition.clone().expect("td").definition);
    assert_eq!(kept.tags, Some(vec![]));
}

#[test]
fn a_first_release_diffs_against_nothing() {
    let spec = example();
    let mut l = live(&spec);
    l.task_definition = None;
    let p = plan(&spec, &l, &PlanOptions::default());
    assert!(p.runs(Stage::Register) && p.live_task_definition.is_none() && p.live_image.is_none());
    assert!(
        matches!(p.task_definition_changes.as_slice(), [Change::Change { path, from: serde_json::Value::Null, .. }] if path.is_empty()),
        "the whole definition is new: {:?}",
        p.task_definition_changes
    );
}

#[test]
fn the_desired_count_and_deployment_configuration_are_service_changes() {
    let mut spec = example();
    let l = live(&spec);
    spec.file.service.desired_count = Some(6);
    spec.file.deploy.rolling.minimum_healthy_percent = 50;
    let p = plan(&spec, &l, &PlanOptions::default());
    assert!(p.service_changes.contains(&Change::Change { path: "desiredCount".into(), from: 4.into(), to: 6.into() }));
    assert!(
        p.service_changes.contains(&Change::Change {
            path: "deploymentConfiguration.minimum_healthy_percent".into(),
            from: 100.into(),
            to: 50.into()
        }),
        "{:?}",
        p.service_changes
    );
    assert_eq!(p.service_changes.len(), 2);
    assert_eq!(p.update.desired_count, Some(6));
    // Without desired_count the live count is kept: no change, and UpdateService does not set it.
    spec.file.service.desired_count = None;
    spec.file.deploy.rolling.minimum_healthy_percent = 100;
    let mut l2 = l.clone();
    l2.service.desired_count = 3;
    let p = plan(&spec, &l2, &PlanOptions::default());
    assert!(p.service_changes.is_empty(), "{:?}", p.service_changes);
    assert_eq!(p.update.desired_count, None);
    assert!(matches!(&p.rollout, Rollout::Rolling(r) if r.desired == 3));
    // Only a service change (same image): still a deploy.
    let mut same = load("example.toml", "previous");
    same.file.service.desired_count = Some(5);
    let p = plan(&same, &l, &PlanOptions::default());
    assert!(!p.runs(Stage::Register) && p.runs(Stage::Deploy) && p.has_changes);
}

#[test]
fn a_blue_green_release_has_no_rolling_configuration() {
    let spec = bluegreen();
    let mut l = live(&spec);
    l.service.deployment_config = DeploymentConfig { minimum_healthy_percent: Some(50), maximum_percent: Some(100), ..Default::default() };
    let p = plan(&spec, &l, &PlanOptions::default());
    assert!(p.service_changes.iter().all(|c| !c.path().starts_with("deploymentConfiguration")), "{:?}", p.service_changes);
    assert_eq!(p.update.deployment_config, None);
    assert_eq!(p.stage(Stage::Deploy).cloned(), run("CodeDeploy blue/green deployment"));
    let bg = spec.file.deploy.blue_green.as_ref().expect("bg");
    match &p.rollout {
        Rollout::BlueGreen { deployment_config, steps } => {
            let cfg = bg.deployment_config.clone().expect("the test spec names a config");
            assert_eq!(deployment_config, &cfg);
            assert_eq!(steps, &traffic_steps(&cfg));
        }
        other => panic!("{other:?}"),
    }
    l.service.deployment_controller = crate::ports::Controller::Ecs;
    match plan(&spec, &l, &PlanOptions::default()).rollout {
        Rollout::BlueGreen { deployment_config, steps } => {
            assert_eq!(deployment_config, format!("ECS-native {}", bg.ecs_strategy));
            assert_eq!(steps, native_steps(bg));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_deployment_configuration_follows_the_deployspec() {
    let mut spec = example();
    let r = &mut spec.file.deploy.rolling;
    (r.minimum_healthy_percent, r.maximum_percent) = (50, 150);
    (r.circuit_breaker, r.circuit_breaker_rollback) = (false, true);
    (r.alarms, r.alarm_rollback) = (vec![], true);
    let c = desired_deployment_config(&spec);
    assert_eq!((c.minimum_healthy_percent, c.maximum_percent), (Some(50), Some(150)));
    assert_eq!(
        c.circuit_breaker,
        Some(CircuitBreaker { enable: false, rollback: false, ..Default::default() }),
        "no rollback without the breaker"
    );
    assert_eq!(c.alarms, Some(Alarms { names: vec![], enable: false, rollback: false }));
    let r = &mut spec.file.deploy.rolling;
    (r.circuit_breaker, r.circuit_breaker_rollback) = (true, true);
    (r.alarms, r.alarm_rollback) = (vec!["5xx".into()], false);
    let c = desired_deployment_config(&spec);
    assert_eq!(c.circuit_breaker, Some(CircuitBreaker { enable: true, rollback: true, ..Default::default() }));
    assert_eq!(c.alarms, Some(Alarms { names: vec!["5xx".into()], enable: true, rollback: false }));
    spec.file.deploy.rolling.alarm_rollback = true;
    assert_eq!(desired_deployment_config(&spec).alarms, Some(Alarms { names: vec!["5xx".into()], enable: true, rollback: true }));
}

#[test]
fn absent_and_disabled_settings_compare_equal() {
    let cfg = |min, max, cb: Option<CircuitBreaker>, alarms: Option<Alarms>| DeploymentConfig {
        minimum_healthy_percent: min,
        maximum_percent: max,
        circuit_breaker: cb,
        alarms,
        ..Default::default()
    };
    let bare = config_json(&cfg(None, None, None, None));
    assert_eq!(bare, config_json(&cfg(Some(100), Some(200), None, None)), "ECS's defaults");
    let off = cfg(
        Some(100),
        Some(200),
        Some(CircuitBreaker { enable: false, rollback: true, ..Default::default() }),
        Some(Alarms { names: vec![], enable: false, rollback: false }),
    );
    assert_eq!(bare, config_json(&off));
    let named = cfg(Some(100), Some(200), None, Some(Alarms { names: vec!["a".into()], enable: false, rollback: false }));
    assert_ne!(bare, config_json(&named), "disabled alarms with names are kept");
    let on = cfg(Some(100), Some(200), None, Some(Alarms { names: vec![], enable: true, rollback: false }));
    assert_ne!(bare, config_json(&on));
    let breaker = cfg(Some(100), Some(200), Some(CircuitBreaker { enable: true, rollback: false, ..Default::default() }), None);
    assert_ne!(bare, config_json(&breaker));
    assert_ne!(bare, config_json(&cfg(Some(50), None, None, None)));
    assert_ne!(bare, config_json(&cfg(None, Some(150), None, None)));
}

fn migration() -> MigrationSection {
    toml::from_str(r#"command = ["bin/migrate", "up"]"#).expect("a migration section")
}

#[test]
fn the_migration_runs_only_with_a_release() {
    let m = MigrationPlan {
        image: "img:v2".into(),
        container: "web".into(),
        command: vec!["bin/migrate".into(), "up".into()],
        network: None,
        timeout_secs: 60,
    };
    assert_eq!(Some(migrate_action(None, false, true)), skip("no [migration] in the deployspec"));
    assert_eq!(Some(migrate_action(Some(&m), true, true)), skip("--skip-migration"));
    assert_eq!(Some(migrate_action(Some(&m), false, false)), skip("nothing to release"));
    assert_eq!(Some(migrate_action(Some(&m), false, true)), run("run \"bin/migrate up\" in container web with img:v2"));
    let mut spec = example();
    spec.file.migration = Some(migration());
    let mut l = live(&spec);
    l.image_digest = Some("sha256:ddd".into());
    spec.file.image.pin_digest = true;
    let p = plan(&spec, &l, &PlanOptions::default());
    let mp = p.migration.as_ref().expect("a migration plan");
    assert_eq!(mp.image, format!("{URI}:v2"), "the migration names the tag");
    assert_eq!(mp.container, "web");
    assert_eq!(mp.timeout_secs, migration().timeout.as_secs());
    assert!(p.runs(Stage::Migrate));
}

fn net(subnets: &[&str], groups: &[&str], public: bool) -> Network {
    Network {
        subnets: subnets.iter().map(ToString::to_string).collect(),
        security_groups: groups.iter().map(ToString::to_string).collect(),
        assign_public_ip: public,
    }
}

#[test]
fn the_migration_network_overrides_the_services() {
    let live = net(&["subnet-live"], &["sg-live"], true);
    let mut m = migration();
    assert_eq!(migration_network(&m, None), None, "no subnets anywhere");
    assert_eq!(migration_network(&m, Some(&live)), Some(live.clone()));
    m.subnets = Some(vec!["subnet-m".into()]);
    assert_eq!(migration_network(&m, None), Some(net(&["subnet-m"], &[], false)));
    m.security_groups = Some(vec!["sg-m".into()]);
    m.assign_public_ip = Some(false);
    assert_eq!(migration_network(&m, Some(&live)), Some(net(&["subnet-m"], &["sg-m"], false)));
    m.subnets = Some(vec![]);
    assert_eq!(migration_network(&m, Some(&live)), None, "an explicit empty list is no network");
}

#[test]
fn service_changes_are_prefixed_by_their_section() {
    let v = serde_json::Value::from;
    assert_eq!(Change::Add { path: "a".into(), value: v(1) }.under("p"), Change::Add { path: "p.a".into(), value: v(1) });
    assert_eq!(Change::Remove { path: "b".into(), value: v(2) }.under("p"), Change::Remove { path: "p.b".into(), value: v(2) });
    assert_eq!(
        Change::Change { path: "c".into(), from: v(1), to: v(2) }.under("p"),
        Change::Change { path: "p.c".into(), from: v(1), to: v(2) }
    );
}

#[test]
fn rounding() {
    assert_eq!(floor_ceiling(4, 100, 200), (4, 8));
    assert_eq!(floor_ceiling(2, 75, 200), (2, 4));
    assert_eq!(floor_ceiling(3, 50, 125), (2, 3));
    assert_eq!(floor_ceiling(4, 50, 100), (2, 4));
    assert_eq!(floor_ceiling(3, 0, 100), (0, 3));
    assert_eq!(floor_ceiling(5, 33, 133), (2, 6), "min rounds up, max rounds down");
    assert_eq!(floor_ceiling(0, 100, 200), (0, 0));
    assert_eq!(floor_ceiling(30_000_000, 100, 200), (30_000_000, 60_000_000), "no overflow in between");
}

fn schedule(spec: &Spec, svc: &ServiceState, desired: i32, opts: &PlanOptions) -> Result<RollingSchedule, InputError> {
    rolling_schedule(spec, svc, desired, opts)
}

fn with_percent(min: i32, max: i32) -> Spec {
    let mut spec = example();
    (spec.file.deploy.rolling.minimum_healthy_percent, spec.file.deploy.rolling.maximum_percent) = (min, max);
    spec
}

#[test]
fn the_rounds_follow_ecs_rounding() {
    let spec = with_percent(100, 200);
    let svc = live(&spec).service;
    let s = schedule(&spec, &svc, 4, &PlanOptions::default()).expect("schedule");
    assert_eq!((s.desired, s.floor_tasks, s.ceiling_tasks, s.minimum_healthy_percent, s.maximum_percent), (4, 4, 8, 100, 200));
    assert_eq!(s.steps, vec!["round 1: stop 0 old, start 4 new → 4 old + 4 new", "round 2: stop 4 old, start 0 new → 0 old + 4 new"]);
    assert!(s.warnings.is_empty());
    let spec = with_percent(50, 100);
    let s = schedule(&spec, &svc, 3, &PlanOptions::default()).expect("schedule");
    assert_eq!((s.floor_tasks, s.ceiling_tasks), (2, 3));
    assert_eq!(
        s.steps,
        vec![
            "round 1: stop 2 old, start 1 new → 2 old + 1 new",
            "round 2: stop 1 old, start 1 new → 1 old + 2 new",
            "round 3: stop 1 old, start 1 new → 0 old + 3 new"
        ]
    );
}

#[test]
fn more_running_than_desired_and_nothing_running_are_walked_too() {
    let spec = with_percent(100, 200);
    let mut svc = live(&spec).service;
    svc.running_count = 6;
    let s = schedule(&spec, &svc, 2, &PlanOptions::default()).expect("schedule");
    assert_eq!(s.steps, vec!["round 1: stop 4 old, start 2 new → 2 old + 2 new", "round 2: stop 2 old, start 0 new → 0 old + 2 new"]);
    // Nothing running (a stopped service): the old count is the live desired count, capped.
    svc.running_count = 0;
    svc.desired_count = 1;
    let s = schedule(&spec, &svc, 2, &PlanOptions::default()).expect("schedule");
    assert_eq!(s.steps, vec!["round 1: stop 0 old, start 2 new → 1 old + 2 new", "round 2: stop 1 old, start 0 new → 0 old + 2 new"]);
    svc.desired_count = 0;
    let s = schedule(&spec, &svc, 0, &PlanOptions::default()).expect("schedule");
    assert!(s.steps.is_empty(), "{:?}", s.steps);
}

#[test]
fn a_deadlock_is_refused_naming_the_field() {
    let spec = with_percent(100, 100);
    let svc = live(&spec).service;
    let e = schedule(&spec, &svc, 4, &PlanOptions::default()).expect_err("deadlock");
    let text = e.to_string();
    assert!(text.contains("would never progress") && text.contains("deploy.rolling"), "{text}");
    assert!(schedule(&spec, &svc, 0, &PlanOptions::default()).is_ok(), "no tasks, no deadlock");
    assert!(build(&spec, &live(&spec), &PlanOptions::default()).is_err(), "the plan refuses it too");
}

#[test]
fn a_floor_of_zero_is_an_outage_behind_a_load_balancer() {
    let spec = with_percent(0, 100);
    let mut svc = live(&spec).service;
    assert!(!svc.load_balancers.is_empty(), "the example service is behind a load balancer");
    let e = schedule(&spec, &svc, 4, &PlanOptions::default()).expect_err("an outage");
    assert!(e.to_string().contains("deploy.rolling.minimum_healthy_percent"), "{e}");
    let s = schedule(&spec, &svc, 4, &PlanOptions { allow_downtime: true, ..Default::default() }).expect("allowed");
    assert_eq!(s.warnings.len(), 1);
    assert_eq!(s.steps, vec!["round 1: stop 4 old, start 4 new → 0 old + 4 new"]);
    svc.load_balancers.clear();
    let s = schedule(&spec, &svc, 4, &PlanOptions::default()).expect("no load balancer");
    assert!(s.warnings[0].contains("may have no running task"), "{:?}", s.warnings);
    let spec = with_percent(25, 100);
    let s = schedule(&spec, &svc, 4, &PlanOptions::default()).expect("a floor of one");
    assert!(s.warnings.is_empty());
}

#[test]
fn a_ceiling_of_one_spare_task_replaces_one_at_a_time() {
    let spec = with_percent(100, 100);
    let mut svc = live(&spec).service;
    svc.running_count = 3;
    let s = schedule(&spec, &svc, 3, &PlanOptions::default());
    assert!(s.is_err(), "deadlock at 100/100");
    let spec = with_percent(100, 120);
    svc.running_count = 5;
    let s = schedule(&spec, &svc, 5, &PlanOptions::default()).expect("schedule");
    assert_eq!((s.floor_tasks, s.ceiling_tasks), (5, 6));
    assert_eq!(s.steps.len(), 6, "one task at a time: {:?}", s.steps);
    assert_eq!(s.steps[0], "round 1: stop 0 old, start 1 new → 5 old + 1 new");
    assert_eq!(s.steps[4], "round 5: stop 1 old, start 1 new → 1 old + 5 new");
    assert_eq!(s.steps[5], "round 6: stop 1 old, start 0 new → 0 old + 5 new");
}

#[test]
fn native_steps_name_each_phase() {
    let mut bg: BlueGreenSection = bluegreen().file.deploy.blue_green.expect("bg");
    bg.checks.clear();
    bg.bake_time_minutes = 7;
    bg.ecs_strategy = DeploymentStrategy::from_aws("BLUE_GREEN");
    assert_eq!(
        native_steps(&bg),
        vec![
            "green tasks start; test traffic moves to green",
            "100 % of production traffic to green at once",
            "bake 7 min with blue kept, then blue is cleaned up"
        ]
    );
    bg.ecs_strategy = DeploymentStrategy::from_aws("LINEAR");
    (bg.linear_step_percent, bg.linear_step_bake_minutes) = (Some(30.0), Some(2));
    assert_eq!(native_steps(&bg)[1], "production traffic +30 % every 2 min (4 steps)");
    (bg.linear_step_percent, bg.linear_step_bake_minutes) = (None, None);
    assert_eq!(native_steps(&bg)[1], "production traffic +10 % every 6 min (10 steps)");
    bg.ecs_strategy = DeploymentStrategy::from_aws("CANARY");
    (bg.canary_percent, bg.canary_bake_minutes) = (Some(15.0), Some(3));
    assert_eq!(native_steps(&bg)[1], "15 % of production traffic for 3 min, then 100 %");
    (bg.canary_percent, bg.canary_bake_minutes) = (None, None);
    assert_eq!(native_steps(&bg)[1], "5 % of production traffic for 10 min, then 100 %");
    bg.checks = bluegreen().file.deploy.blue_green.expect("bg").checks;
    assert!(!bg.checks.is_empty());
    let steps = native_steps(&bg);
    assert_eq!(steps.len(), 4);
    assert!(steps[1].starts_with("PAUSE at POST_TEST_TRAFFIC_SHIFT"), "{steps:?}");
}

#[test]
fn traffic() {
    assert_eq!(traffic_steps("CodeDeployDefault.ECSCanary10Percent5Minutes"), vec!["10 % to green for 5 min", "then 100 %"]);
    assert_eq!(traffic_steps("CodeDeployDefault.ECSLinear10PercentEvery1Minutes"), vec!["+10 % every 1 min (10 steps, 9 min in all)"]);
    assert_eq!(traffic_steps("CodeDeployDefault.ECSLinear30PercentEvery3Minutes"), vec!["+30 % every 3 min (4 steps, 9 min in all)"]);
    assert_eq!(traffic_steps("CodeDeployDefault.ECSAllAtOnce"), vec!["100 % of production traffic to green at once"]);
    assert_eq!(traffic_steps("ECSAllAtOnce"), vec!["100 % of production traffic to green at once"]);
    assert_eq!(traffic_steps("MyCanary"), vec!["custom deployment config MyCanary: steps as defined in CodeDeploy"]);
    assert_eq!(
        traffic_steps("CodeDeployDefault.ECSCanaryPercent"),
        vec!["custom deployment config CodeDeployDefault.ECSCanaryPercent: steps as defined in CodeDeploy"]
    );
    assert_eq!(
        traffic_steps("CodeDeployDefault.ECSLinear10Percent"),
        vec!["custom deployment config CodeDeployDefault.ECSLinear10Percent: steps as defined in CodeDeploy"]
    );
}

#[test]
fn stage_names() {
    let names: Vec<&str> =
        [Stage::Build, Stage::Migrate, Stage::Register, Stage::Deploy, Stage::Verify].into_iter().map(Stage::name).collect();
    assert_eq!(names, vec!["build", "migrate", "register", "deploy", "verify"]);
}

#[test]
fn a_plan_without_a_stage_does_not_run_it() {
    let spec = example();
    let mut p = plan(&spec, &live(&spec), &PlanOptions::default());
    p.stages.retain(|s| s.stage != Stage::Verify);
    assert_eq!(p.stage(Stage::Verify), None);
    assert!(!p.runs(Stage::Verify));
}

#[test]
fn an_autoscaled_service_keeps_its_live_count_within_the_bounds() {
    let mut spec = example();
    let mut l = live(&spec);
    l.service.desired_count = 6;
    spec.file.service.desired_count = Some(4);
    assert_eq!(desired_count(&spec, &l), (4, Some(4), None), "no autoscaler: the deployspec's count");
    spec.file.service.desired_count = None;
    assert_eq!(desired_count(&spec, &l), (6, None, None), "no count in the deployspec: the live one, untouched");
    spec.file.service.desired_count = Some(4);
    l.scalable = Some(ScalableTarget { min: 2, max: 10, scale_in_suspended: false });
    let (count, update, note) = desired_count(&spec, &l);
    assert_eq!((count, update), (6, None), "kept, and UpdateService leaves it");
    let note = note.expect("a note");
    assert!(
        note.contains("2–10") && note.contains("live desired count 6 is kept") && note.contains("desired_count = 4 is not applied"),
        "{note}"
    );
    l.service.desired_count = 12;
    let (count, update, note) = desired_count(&spec, &l);
    assert_eq!((count, update), (10, Some(10)), "brought within the bounds");
    assert!(note.is_some_and(|n| n.contains("to 10")));
    l.service.desired_count = 1;
    assert_eq!(desired_count(&spec, &l).0, 2, "brought up to the minimum");
    spec.file.service.desired_count = Some(2);
    assert!(!desired_count(&spec, &l).2.expect("note").contains("not applied"), "the deployspec agrees");
    // The plan carries it: the count in the rollout, no service change, the note.
    l.service.desired_count = 6;
    let p = plan(&spec, &l, &PlanOptions::default());
    assert!(matches!(&p.rollout, Rollout::Rolling(r) if r.desired == 6));
    assert!(p.service_changes.is_empty(), "{:?}", p.service_changes);
    assert_eq!(p.update.desired_count, None);
    assert_eq!(p.notes.iter().filter(|n| !n.starts_with("if this runner dies")).count(), 1, "{:?}", p.notes);
    assert_eq!(p.scalable_target, l.scalable);
}

/// #24: a live setting this build cannot carry, inside a structure the release sends whole (a
/// rolling release sends `deploymentConfiguration` whole), is refused before any change; one in
/// a structure the release does not send is left as it is, and the plan says so.
#[test]
fn an_uncarried_live_setting_is_refused_where_it_would_be_dropped_and_noted_elsewhere() {
    let spec = example();
    let mut l = live(&spec);
    l.service.uncarried = vec!["deploymentConfiguration.someNewerSetting".into()];
    let e = build(&spec, &l, &PlanOptions::default()).expect_err("refused");
    let text = e.to_string();
    assert!(text.contains("deploymentConfiguration.someNewerSetting") && text.contains("would be dropped"), "{text}");
    assert_eq!(crate::error::Error::from(e).exit_code(), crate::error::exit::INPUT);

    l.service.uncarried = vec!["serviceConnectConfiguration.services[].containerConfigurations".into(), "monitoring.enabled".into()];
    let p = plan(&spec, &l, &PlanOptions::default());
    assert!(p.notes.iter().any(|n| n.contains("containerConfigurations") && n.contains("left as it is")), "{:?}", p.notes);
    assert!(p.notes.iter().any(|n| n.contains("monitoring.enabled")), "{:?}", p.notes);
}
