//! `plan = f(spec, live state)`: pure, so `plan`, `release --dry-run` and the first step of
//! `release` are the same computation and can be snapshot-tested.

use crate::diff::{self, Change};
use crate::error::InputError;
use crate::ports::{Alarms, CircuitBreaker, DeploymentConfig, Network, ServiceState, UpdateService};
pub(crate) use crate::rounding::floor_ceiling;
use crate::spec::{Spec, Strategy};
use crate::taskdef::{self, TaskDefinition};
pub use model::*;

fn without_own_tags(mut td: TaskDefinition) -> TaskDefinition {
    if let Some(tags) = &mut td.tags {
        tags.retain(|t| !t.key.as_deref().unwrap_or("").starts_with("fgdeploy:"));
    }
    td
}

pub(crate) fn desired_deployment_config(spec: &Spec) -> DeploymentConfig {
    let r = &spec.file.deploy.rolling;
    DeploymentConfig {
        minimum_healthy_percent: Some(r.minimum_healthy_percent),
        maximum_percent: Some(r.maximum_percent),
        circuit_breaker: Some(CircuitBreaker {
            enable: r.circuit_breaker,
            rollback: r.circuit_breaker && r.circuit_breaker_rollback,
            reset_on_healthy_task: r.circuit_breaker_reset_on_healthy_task,
            threshold: r.circuit_breaker_threshold.as_ref().map(|t| (t.kind.clone(), t.value)),
        }),
        alarms: Some(Alarms { names: r.alarms.clone(), enable: !r.alarms.is_empty(), rollback: !r.alarms.is_empty() && r.alarm_rollback }),
        ..Default::default()
    }
}

fn config_json(c: &DeploymentConfig) -> serde_json::Value {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    // Absent alarms == alarms disabled with no names; absent breaker == disabled.
    if let serde_json::Value::Object(m) = &mut v {
        if m.get("alarms").is_some_and(|a| {
            a.is_null() || a.get("enable") == Some(&false.into()) && a.get("names").is_some_and(|n| n.as_array().is_some_and(Vec::is_empty))
        }) {
            m.remove("alarms");
        }
        if m.get("circuit_breaker").is_some_and(|a| a.is_null() || a.get("enable") == Some(&false.into())) {
            m.remove("circuit_breaker");
        }
        if m.get("minimum_healthy_percent").is_some_and(|x| x.is_null()) {
            m.insert("minimum_healthy_percent".into(), 100.into());
        }
        if m.get("maximum_percent").is_some_and(|x| x.is_null()) {
            m.insert("maximum_percent".into(), 200.into());
        }
        // An unset strategy is ROLLING (ECS's default).
        if m.get("strategy").is_none_or(|x| x.is_null()) {
            m.insert("strategy".into(), "ROLLING".into());
        }
    }
    v
}

/// The service's own changes: the desired count, and a rolling release's deployment configuration.
fn service_changes(svc: &ServiceState, desired_count: i32, want_cfg: Option<&DeploymentConfig>) -> Vec<Change> {
    let mut out = Vec::new();
    if desired_count != svc.desired_count {
        out.push(Change::Change { path: "desiredCount".into(), from: svc.desired_count.into(), to: desired_count.into() });
    }
    if let Some(want) = want_cfg {
        out.extend(
            diff::diff(&config_json(&svc.deployment_config), &config_json(want)).into_iter().map(|c| c.under("deploymentConfiguration")),
        );
    }
    out
}

/// The rollout schedule: rolling rounds with ECS's rounding, or the blue/green traffic steps.
fn rollout(spec: &Spec, svc: &ServiceState, desired_count: i32, opts: &PlanOptions) -> Result<Rollout, InputError> {
    if spec.file.deploy.strategy == Strategy::Rolling {
        return Ok(Rollout::Rolling(rolling_schedule(spec, svc, desired_count, opts)?));
    }
    Ok(match (svc.deployment_controller, spec.file.deploy.blue_green.as_ref()) {
        (crate::ports::Controller::Ecs, Some(bg)) => {
            Rollout::BlueGreen { deployment_config: format!("ECS-native {}", bg.ecs_strategy), steps: native_steps(bg) }
        }
        _ => {
            match spec.file.deploy.blue_green.as_ref().and_then(|b| b.deployment_config.clone()) {
                Some(cfg) => Rollout::BlueGreen { steps: traffic_steps(&cfg), deployment_config: cfg },
                // CreateDeployment names no config: the deployment group's own applies.
                None => Rollout::BlueGreen {
                    deployment_config: "the deployment group's deployment config".into(),
                    steps: vec!["production traffic moves as the deployment group's deployment config says".into()],
                },
            }
        }
    })
}

/// The service's changes: a service to create, or the desired count, the deployment
/// configuration and `[service.definition]`; secret values hidden.
fn all_service_changes(
    spec: &Spec,
    live: &Live,
    (desired_count, want_cfg): (i32, Option<&DeploymentConfig>),
    settings: &crate::servicedef::SettingsChange,
    redactor: &crate::redact::Redactor,
) -> Vec<Change> {
    let changes = if live.service_missing {
        settings::creation(spec, desired_count)
    } else {
        let mut c = service_changes(&live.service, desired_count, want_cfg);
        c.extend(settings.changes.iter().cloned());
        c
    };
    changes.into_iter().map(|c| redactor.scrubbed(c)).collect()
}

/// The register, deploy and verify stages.
fn later_stages(
    spec: &Spec,
    live: &Live,
    (register, deploy, desired_count): (bool, bool, i32),
    (family, changes): (&str, usize),
) -> Vec<StagePlan> {
    let register_action = if register {
        StageAction::Run { detail: format!("register a new revision of {family} ({changes} change(s))") }
    } else {
        StageAction::Skip {
            reason: format!("task definition unchanged ({})", live.task_definition.as_ref().map_or("-", |l| l.arn.as_str())),
        }
    };
    let deploy_detail = match spec.file.deploy.strategy {
        Strategy::Rolling => "UpdateService (rolling), then watch the deployment to its end".to_string(),
        Strategy::BlueGreen if live.service.deployment_controller == crate::ports::Controller::CodeDeploy => {
            "CodeDeploy blue/green deployment".to_string()
        }
        Strategy::BlueGreen => "ECS-native blue/green deployment (UpdateService with deploymentConfiguration.strategy)".to_string(),
    };
    let deploy_detail = if live.service_missing {
        format!(
            "CreateService {} in {} ({desired_count} task(s)), then watch its first deployment to COMPLETED (release needs --create)",
            spec.service(),
            spec.cluster()
        )
    } else {
        deploy_detail
    };
    let deploy_action =
        if deploy { StageAction::Run { detail: deploy_detail } } else { StageAction::Skip { reason: "nothing changed".into() } };
    let verify_action = if deploy {
        StageAction::Run { detail: "the new revision is PRIMARY, COMPLETED and at its desired count".into() }
    } else {
        StageAction::Skip { reason: "nothing deployed".into() }
    };
    vec![
        StagePlan { stage: Stage::Register, action: register_action },
        StagePlan { stage: Stage::Deploy, action: deploy_action },
        StagePlan { stage: Stage::Verify, action: verify_action },
    ]
}

/// The task definition to register; without tags of its own it keeps the live revision's.
fn desired_task_definition(spec: &Spec, live: &Live, images: &[PlannedImage]) -> Result<TaskDefinition, InputError> {
    let mut desired = spec.render_task_definition_with(&images::by_container(images))?;
    if desired.tags.is_none()
        && let Some(live_td) = &live.task_definition
    {
        desired.tags = without_own_tags(live_td.definition.clone()).tags.filter(|t| !t.is_empty());
    }
    Ok(desired)
}

/// Whether two task definitions are the same for a release (fgdeploy's own tags aside).
pub(crate) fn same_task_definition(a: &TaskDefinition, b: &TaskDefinition) -> bool {
    diff::diff(&taskdef::normalize(&without_own_tags(a.clone())), &taskdef::normalize(&without_own_tags(b.clone()))).is_empty()
}

/// The name-keyed diff of the live task definition (fgdeploy's own tags aside) to the desired one.
fn td_changes(live: &Live, desired: &TaskDefinition) -> Vec<diff::Change> {
    match &live.task_definition {
        Some(l) => diff::diff(
            &taskdef::normalize(&without_own_tags(l.definition.clone())),
            &taskdef::normalize(&without_own_tags(desired.clone())),
        ),
        None => diff::diff(&serde_json::Value::Null, &taskdef::normalize(desired)),
    }
}

fn migrate_action(migration: Option<&MigrationPlan>, skip: bool, deploy: bool) -> StageAction {
    match (migration, skip, deploy) {
        (None, _, _) => StageAction::Skip { reason: "no [migration] in the deployspec".into() },
        (Some(_), true, _) => StageAction::Skip { reason: "--skip-migration".into() },
        (Some(_), false, false) => StageAction::Skip { reason: "nothing to release".into() },
        (Some(m), false, true) => {
            StageAction::Run { detail: format!("run {:?} in container {} with {}", m.command.join(" "), m.container, m.image) }
        }
    }
}

/// What happens to the deployment if the runner dies after starting it: the bound the plan
/// shows (#27).
fn dead_mans_switch(spec: &Spec, native: bool) -> String {
    let bg = spec.file.deploy.blue_green.as_ref().filter(|_| spec.file.deploy.strategy == Strategy::BlueGreen);
    if let (Some(a), Some(b)) = (spec.file.analysis.as_ref().filter(|_| native), bg) {
        let gate = if b.checks.is_empty() {
            String::new()
        } else {
            format!("at the test gate, fgdeploy's PAUSE hook there times out after {} min; ", b.gate_timeout_minutes())
        };
        return format!(
            "if this runner dies mid-deployment: {gate}before a traffic step, fgdeploy's PAUSE hook there times out after {} min; either way ECS rolls the deployment back (no step goes on unjudged)",
            a.judge_timeout_minutes()
        );
    }
    match bg {
        None => "if this runner dies mid-rollout: ECS finishes the deployment by itself (its circuit breaker and alarms still roll it back); with [lock], the next run resumes it".into(),
        Some(b) if b.checks.is_empty() => {
            "if this runner dies mid-deployment: the deployment goes on ungated (ECS's or CodeDeploy's own rollback settings apply); with [lock], the next run resumes it".into()
        }
        Some(b) if native => format!(
            "if this runner dies at the test gate: fgdeploy's PAUSE hook times out after {} min and ECS rolls the deployment back (deploy.blue_green.gate_timeout)",
            b.gate_timeout_minutes()
        ),
        Some(_) => "if this runner dies at the test gate: the CodeDeploy group's Ready wait ends it (STOP_DEPLOYMENT after its waitTimeInMinutes: stopped, and rolled back when the group's auto-rollback covers stops); a group that would continue by itself is refused unless --no-test-gate".into(),
    }
}

/// Compute the plan. Errors are refusals of unsafe settings (deadlock, downtime).
pub fn build(spec: &Spec, live: &Live, opts: &PlanOptions) -> Result<Plan, InputError> {
    let image = spec.image_ref(&live.repository_uri);
    let images = images::plan_images(live.images(spec), opts, spec.file.image.pin_digest);
    let deployed_image = images[0].image.clone();
    let desired = desired_task_definition(spec, live, &images)?;
    volumes_match_their_configurations(spec, live, &desired)?;
    let td_changes = td_changes(live, &desired);
    let register = !td_changes.is_empty();
    let redactor = crate::redact::Redactor::new(&spec.file.task_definition.secret_patterns).with_values(hidden_values(spec, &desired));
    let td_changes = redactor.changes(td_changes);
    // Service changes: desired count, deployment configuration and `[service.definition]`.
    let svc = &live.service;
    let (desired_count, update_count, count_note) = desired_count(spec, live);
    let want_cfg = merged_deployment_config(spec, live);
    let rolling = spec.file.deploy.strategy == Strategy::Rolling;
    let settings = settings::settings_change(spec, live)?;
    let native_cfg = native_deployment_config(spec, live);
    let shown_cfg = if rolling { Some(&want_cfg) } else { native_cfg.as_ref() };
    let service_changes = all_service_changes(spec, live, (desired_count, shown_cfg), &settings, &redactor);
    let deploy = register || !service_changes.is_empty();
    let rollout = rollout(spec, svc, desired_count, opts)?;
    let migration = migration_plan(spec, svc, &image);
    let mut stages = vec![
        StagePlan { stage: Stage::Build, action: images::build_action(&images, opts) },
        StagePlan { stage: Stage::Migrate, action: migrate_action(migration.as_ref(), opts.skip_migration, deploy) },
    ];
    stages.extend(later_stages(spec, live, (register, deploy, desired_count), (&desired.family, td_changes.len())));
    let has_changes = deploy || matches!(stages[0].action, StageAction::Run { .. });
    let uncarried_notes = refuse_dropping_uncarried(spec, live, &settings.update, rolling || native_cfg.is_some())?;
    let update = update_call(spec, update_count, rolling.then_some(want_cfg), settings.update);
    Ok(Plan {
        cluster: spec.cluster().to_string(),
        service: spec.service().to_string(),
        image: deployed_image,
        image_digest: live.image_digest.clone(),
        live_task_definition: live.task_definition.as_ref().map(|l| l.arn.clone()),
        live_image: live.task_definition.as_ref().and_then(|l| taskdef::image_of(&l.definition, spec.container()).map(str::to_string)),
        task_definition_changes: td_changes,
        service_changes,
        migration,
        rollout,
        analysis: analysis_plan(spec, &live.service),
        stages,
        has_changes,
        scalable_target: live.scalable,
        notes: count_note.into_iter().chain(uncarried_notes).chain(std::iter::once(dead_mans_switch(spec, native_cfg.is_some()))).collect(),
        creates_service: live.service_missing,
        lookups: spec.lookups(),
        // The redactor hides the tags' credentials too (`hidden_values`).
        service_tags_shown: settings.tags.iter().map(|(k, v)| (k.clone(), redactor.value(v))).collect(),
        service_tags: settings.tags,
        images,
        desired_task_definition: desired,
        update,
    })
}

/// The UpdateService call the deploy stage would make (its task definition is set when the
/// revision is registered).
fn update_call(
    spec: &Spec,
    desired_count: Option<i32>,
    deployment_config: Option<DeploymentConfig>,
    settings: crate::ports::ServiceDefinition,
) -> UpdateService {
    UpdateService { desired_count, deployment_config, settings, ..UpdateService::revision_only(spec.cluster(), spec.service(), "") }
}

/// The migration's one-off task: the image, container, command and network it runs with.
fn migration_plan(spec: &Spec, svc: &ServiceState, image: &str) -> Option<MigrationPlan> {
    spec.file.migration.as_ref().map(|m| MigrationPlan {
        image: image.to_string(),
        container: m.container.clone().unwrap_or_else(|| spec.container().to_string()),
        command: m.command.clone(),
        network: migration_network(m, settings::service_network(spec, svc).as_ref()),
        timeout_secs: m.timeout.as_secs(),
    })
}

/// The UpdateService members a release sends whole (UpdateService replaces each structure).
fn sent_whole(d: &crate::servicedef::ServiceDefinition, deployment_config: bool) -> Vec<&'static str> {
    let members = [
        ("deploymentConfiguration", deployment_config),
        ("networkConfiguration", d.network.is_some()),
        ("capacityProviderStrategy", d.capacity_provider_strategy.is_some()),
        ("loadBalancers", d.load_balancers.is_some()),
        ("serviceRegistries", d.service_registries.is_some()),
        ("serviceConnectConfiguration", d.service_connect.is_some()),
        ("volumeConfigurations", d.volume_configurations.is_some()),
        ("vpcLatticeConfigurations", d.vpc_lattice.is_some()),
        ("deploymentController", d.deployment_controller.is_some()),
    ];
    members.into_iter().filter(|(_, sent)| *sent).map(|(m, _)| m).collect()
}

/// A live setting this build cannot carry (`ServiceState::uncarried`) inside a structure the
/// release sends whole would be dropped: refused before any change (exit 3), naming it. One in a
/// structure not sent is left as it is: a note in the plan says so.
fn refuse_dropping_uncarried(
    spec: &Spec,
    live: &Live,
    update: &crate::servicedef::ServiceDefinition,
    deployment_config: bool,
) -> Result<Vec<String>, InputError> {
    let sent = sent_whole(update, deployment_config);
    let top = |p: &str| p.split(['.', '[']).next().unwrap_or_default().to_string();
    if let Some(p) = live.service.uncarried.iter().find(|p| sent.contains(&top(p).as_str())) {
        return Err(InputError::new(
            &spec.path,
            format!(
                "the live service has `{p}`, which this fgdeploy cannot carry; this release sends `{}` whole (UpdateService replaces it), so it would be dropped",
                top(p)
            ),
            format!("upgrade fgdeploy; or leave `{}` unchanged in this deployspec, or change it by other means", top(p)),
        )
        .at_field("service.definition"));
    }
    Ok(live
        .service
        .uncarried
        .iter()
        .map(|p| format!("the live service has `{p}`, which fgdeploy does not manage: not sent, left as it is"))
        .collect())
}

/// A volume `configuredAtLaunch` needs a `volumeConfigurations` entry of the same name, and each
/// entry a volume: checked before any change (ECS refuses either mismatch).
fn volumes_match_their_configurations(spec: &Spec, live: &Live, desired: &TaskDefinition) -> Result<(), InputError> {
    let at_launch: Vec<String> =
        desired.volumes.iter().flatten().filter(|v| v.configured_at_launch == Some(true)).filter_map(|v| v.name.clone()).collect();
    let wanted = spec.file.service.definition.as_ref().and_then(|d| d.volume_configurations.as_ref());
    // What the service will have: the spec's list, else (an existing service) the live one.
    let configured: Vec<&str> = match wanted {
        Some(w) => w.iter().map(|v| v.name.as_str()).collect(),
        None if live.service_missing => Vec::new(),
        None => live.service.volume_configurations.iter().map(|v| v.name.as_str()).collect(),
    };
    if let Some(v) = at_launch.iter().find(|v| !configured.contains(&v.as_str())) {
        return Err(InputError::new(
            &spec.template_path,
            format!("volume {v:?} is configuredAtLaunch, but the service has no volume configuration for it"),
            format!("add it to [service.definition]: [[service.definition.volume_configurations]] name = {v:?} with managed_ebs_volume = {{ role_arn = \"…\", size_in_gib = N }}"),
        )
        .at_field("volumes"));
    }
    if let Some(c) = configured.iter().find(|c| !at_launch.iter().any(|v| v == *c)) {
        let (file, field, fix) = match wanted {
            Some(_) => (
                &spec.path,
                "service.definition.volume_configurations",
                format!("remove {c:?} from it, or mark the template's volume configuredAtLaunch"),
            ),
            None => (
                &spec.path,
                "service.definition",
                format!(
                    "the live service configures volume {c:?}: set volume_configurations = [] (or list the template's volumes) to remove it"
                ),
            ),
        };
        return Err(InputError::new(
            file,
            format!("volume configuration {c:?} names no configuredAtLaunch volume of the task definition (ECS refuses it)"),
            fix,
        )
        .at_field(field));
    }
    Ok(())
}

/// Values hidden wherever they appear: the secret lookups' answers, and the credential-shaped
/// parts of plaintext fields (allowed there with `task_definition.allow_plaintext`) and of the
/// service's tags.
fn hidden_values(spec: &Spec, desired: &TaskDefinition) -> Vec<String> {
    let mut hidden = spec.secret_values();
    hidden.extend(crate::taskdef::plaintext_fields(desired).iter().flat_map(|(_, v)| crate::taint::credentials_in(v)));
    let tags = spec.file.service.definition.iter().flat_map(|d| d.tags.iter().flatten());
    hidden.extend(tags.flat_map(|(_, v)| crate::taint::credentials_in(v)));
    hidden
}

/// The deployment configuration a rolling release sends: the deployspec's, with what it leaves
/// unsaid as it is live — the structure is sent whole. The bake time, the team's lifecycle hooks
/// (not a hook a killed fgdeploy run left behind) and the breaker's newer members.
fn merged_deployment_config(spec: &Spec, live: &Live) -> DeploymentConfig {
    let mut want_cfg = desired_deployment_config(spec);
    let l = &live.service.deployment_config;
    want_cfg.bake_time_minutes = l.bake_time_minutes;
    want_cfg.early_success = l.early_success.clone();
    want_cfg.lifecycle_hooks = l.lifecycle_hooks.iter().filter(|h| !h.is_fgdeploys()).cloned().collect();
    // A rolling deployspec on a service set to an ECS-native strategy sets it back to ROLLING
    // (shown in the plan); the steps go with it.
    want_cfg.strategy = l.strategy.as_ref().map(|_| crate::states::DeploymentStrategy::Rolling);
    if let (Some(w), Some(l)) = (want_cfg.circuit_breaker.as_mut(), l.circuit_breaker.as_ref()) {
        w.reset_on_healthy_task = w.reset_on_healthy_task.or(l.reset_on_healthy_task);
        w.threshold = w.threshold.clone().or_else(|| l.threshold.clone());
    }
    want_cfg
}

/// The deployment configuration an ECS-native blue/green release leaves on the service: the live
/// structure with the spec's strategy, bake time and steps (what the plan compares; the release
/// sends it with fgdeploy's gate for its own duration). None for rolling and CodeDeploy.
fn native_deployment_config(spec: &Spec, live: &Live) -> Option<DeploymentConfig> {
    let bg = spec.file.deploy.blue_green.as_ref().filter(|_| spec.file.deploy.strategy != Strategy::Rolling)?;
    if live.service_missing || live.service.deployment_controller != crate::ports::Controller::Ecs {
        return None;
    }
    let (linear, canary) = bg.native_steps();
    Some(DeploymentConfig {
        strategy: Some(bg.ecs_strategy.clone()),
        bake_time_minutes: Some(bg.bake_time_minutes),
        linear,
        canary,
        ..live.service.deployment_config.without_fgdeploys_hooks()
    })
}

/// The desired count a release sets: the deployspec's (else the live one), unless Application
/// Auto Scaling scales the service — then the live count, kept within the scalable target's
/// bounds, so that a release never fights the autoscaler. Returns the count, what UpdateService
/// sets (`None`: leave it), and a note for the plan when the autoscaler decides.
pub(crate) fn desired_count(spec: &Spec, live: &Live) -> (i32, Option<i32>, Option<String>) {
    let svc = &live.service;
    let wanted = spec.file.service.desired_count;
    if live.service_missing {
        // A new service starts with the spec's count, else one task (as the console does).
        let n = wanted.unwrap_or(1);
        return (n, Some(n), None);
    }
    let Some(t) = live.scalable else { return (wanted.unwrap_or(svc.desired_count), wanted, None) };
    let count = t.clamp(svc.desired_count);
    let mut note = format!(
        "Application Auto Scaling scales this service ({}–{} tasks): the live desired count {} is kept",
        t.min, t.max, svc.desired_count
    );
    if count != svc.desired_count {
        note.push_str(&format!(", brought within the bounds to {count}"));
    }
    if let Some(n) = wanted.filter(|n| *n != count) {
        note.push_str(&format!("; service.desired_count = {n} is not applied"));
    }
    (count, (count != svc.desired_count).then_some(count), Some(note))
}

/// The migration's network: the spec's overrides over the service's own awsvpc settings.
pub(crate) fn migration_network(m: &crate::spec::MigrationSection, live: Option<&Network>) -> Option<Network> {
    let subnets = m.subnets.clone().or_else(|| live.map(|n| n.subnets.clone())).unwrap_or_default();
    if subnets.is_empty() {
        return None;
    }
    Some(Network {
        subnets,
        security_groups: m.security_groups.clone().or_else(|| live.map(|n| n.security_groups.clone())).unwrap_or_default(),
        assign_public_ip: m.assign_public_ip.or(live.map(|n| n.assign_public_ip)).unwrap_or(false),
    })
}

fn rolling_schedule(spec: &Spec, svc: &ServiceState, desired: i32, opts: &PlanOptions) -> Result<RollingSchedule, InputError> {
    let r = &spec.file.deploy.rolling;
    let (floor, ceiling) = floor_ceiling(desired, r.minimum_healthy_percent, r.maximum_percent);
    let field = "deploy.rolling";
    let mut warnings = Vec::new();
    if desired > 0 && floor >= desired && ceiling <= desired {
        return Err(InputError::new(
            &spec.path,
            format!(
                "minimum_healthy_percent {} / maximum_percent {} with {desired} task(s) gives a floor of {floor} and a ceiling of {ceiling}: ECS can neither stop an old task nor start a new one, so the deployment would never progress",
                r.minimum_healthy_percent, r.maximum_percent
            ),
            "raise maximum_percent (e.g. 200) or lower minimum_healthy_percent (e.g. 50)",
        )
        .at_field(field));
    }
    if desired > 0 && floor == 0 {
        if !svc.load_balancers.is_empty() && !opts.allow_downtime {
            return Err(InputError::new(
                &spec.path,
                format!("minimum_healthy_percent {} with {desired} task(s) lets ECS stop every task of a service behind a load balancer: an outage", r.minimum_healthy_percent),
                "raise minimum_healthy_percent, or pass --allow-downtime if an outage is acceptable",
            )
            .at_field(format!("{field}.minimum_healthy_percent")));
        }
        warnings.push("minimum healthy tasks is 0: the service may have no running task during the rollout".to_string());
    }
    // Walk the batches, assuming each new task turns healthy within its round.
    let mut steps = Vec::new();
    let (mut old, mut new) = (svc.running_count.max(0).min(desired.max(svc.running_count)), 0);
    if old == 0 {
        old = desired.min(svc.desired_count);
    }
    // Every round stops or starts a task (else it is stuck and says so); new never passes
    // `desired` and old only falls, so the walk ends within desired + old + 1 rounds.
    for round in 1.. {
        if new >= desired && old == 0 {
            break;
        }
        let stop = old.min((old + new - floor).max(0));
        let after_stop = old - stop + new;
        let start = (desired - new).min((ceiling - after_stop).max(0));
        if stop == 0 && start == 0 {
            steps.push(format!("round {round}: no task can be stopped or started — stuck"));
            break;
        }
        old -= stop;
        new += start;
        steps.push(format!("round {round}: stop {stop} old, start {start} new → {old} old + {new} new"));
    }
    Ok(RollingSchedule {
        desired,
        minimum_healthy_percent: r.minimum_healthy_percent,
        maximum_percent: r.maximum_percent,
        floor_tasks: floor,
        ceiling_tasks: ceiling,
        steps,
        warnings,
    })
}

/// Human schedule of an ECS-native blue/green, linear or canary deployment.
pub(crate) fn native_steps(bg: &crate::spec::BlueGreenSection) -> Vec<String> {
    let mut steps = vec!["green tasks start; test traffic moves to green".to_string()];
    if !bg.checks.is_empty() {
        steps.push("PAUSE at POST_TEST_TRAFFIC_SHIFT: fgdeploy checks the test traffic, then CONTINUE or ROLLBACK".into());
    }
    match bg.ecs_strategy {
        crate::states::DeploymentStrategy::Linear => {
            let (p, m) = (bg.linear_step_percent.unwrap_or(10.0), bg.linear_step_bake_minutes.unwrap_or(6));
            let n = (100.0 / p).ceil() as u32;
            steps.push(format!("production traffic +{p} % every {m} min ({n} steps)"));
        }
        crate::states::DeploymentStrategy::Canary => {
            let (p, m) = (bg.canary_percent.unwrap_or(5.0), bg.canary_bake_minutes.unwrap_or(10));
            steps.push(format!("{p} % of production traffic for {m} min, then 100 %"));
        }
        _ => steps.push("100 % of production traffic to green at once".into()),
    }
    steps.push(format!("bake {} min with blue kept, then blue is cleaned up", bg.bake_time_minutes));
    steps
}

/// The canary judge's plan: the steps it judges (ECS-native LINEAR/CANARY) and each metric's
/// test, from `[analysis]`.
pub(crate) fn analysis_plan(spec: &crate::spec::Spec, svc: &ServiceState) -> Option<AnalysisPlan> {
    let a = spec.file.analysis.as_ref()?;
    let bg = spec.file.deploy.blue_green.as_ref().filter(|_| spec.file.deploy.strategy == Strategy::BlueGreen);
    let steps = match (bg, svc.deployment_controller) {
        (_, crate::ports::Controller::CodeDeploy) => codedeploy_judged_steps(bg, a),
        (Some(_), _) => native_judged_steps(bg, a),
        (None, _) => rolling_judged_steps(a),
    };
    Some(AnalysisPlan { steps, metrics: judged_metrics(spec, a) })
}

/// When a rolling rollout is judged: while both revisions serve.
fn rolling_judged_steps(a: &crate::spec::AnalysisSection) -> Vec<String> {
    vec![
        "judged every minute while both revisions serve: the new revision's minutes against the old one's, as the queries tell them apart ({{ revision }}); both serve behind one target group, so built-in metrics cannot be compared".into(),
        format!(
            "FAIL → the deployment fails and is rolled back · INCONCLUSIVE cannot hold ECS's rollout; still INCONCLUSIVE when the old tasks are gone → {}",
            match a.on_inconclusive {
                crate::spec::OnInconclusive::Continue => "go on",
                crate::spec::OnInconclusive::Rollback => "roll back",
            }
        ),
        format!("a minute is read {} after it ended (CloudWatch's publication delay)", humantime::format_duration(a.publication_delay)),
    ]
}

/// When CodeDeploy's steps are judged: during each step's bake (CodeDeploy has no pause).
fn codedeploy_judged_steps(bg: Option<&crate::spec::BlueGreenSection>, a: &crate::spec::AnalysisSection) -> Vec<String> {
    let config = bg.and_then(|b| b.deployment_config.clone()).unwrap_or_else(|| "the deployment group's config".into());
    vec![
        format!(
            "judged every minute while green serves part of production traffic ({config}), on every minute green served beside blue so far"
        ),
        format!(
            "FAIL → StopDeployment with rollback at once · PASS and INCONCLUSIVE → CodeDeploy's timer moves the step (it cannot be held); a step that ends INCONCLUSIVE → {}",
            match a.on_inconclusive {
                crate::spec::OnInconclusive::Continue => "go on",
                crate::spec::OnInconclusive::Rollback => "StopDeployment with rollback",
            }
        ),
        format!("a minute is read {} after it ended (CloudWatch's publication delay)", humantime::format_duration(a.publication_delay)),
        "at 100 % blue serves no production traffic to compare with: not judged".into(),
    ]
}

/// When ECS-native steps are judged: at fgdeploy's PAUSE hook before every step.
fn native_judged_steps(bg: Option<&crate::spec::BlueGreenSection>, a: &crate::spec::AnalysisSection) -> Vec<String> {
    let judged = match bg.map(|b| (b.ecs_strategy.clone(), b.native_steps())) {
        Some((crate::states::DeploymentStrategy::Linear, (Some((p, m)), _))) => {
            let n = (100.0 / p).ceil() as u32;
            let at: Vec<String> = (1..n).map(|k| format!("{:.0} %", (p * f64::from(k)).min(100.0))).collect();
            format!("after each of the first {} steps ({}; {m} min each), before the next moves", n.saturating_sub(1), at.join(", "))
        }
        Some((crate::states::DeploymentStrategy::Canary, (_, Some((p, m))))) => {
            format!("after the canary ({p} % for {m} min), before the rest moves")
        }
        _ => "nowhere: BLUE_GREEN moves all traffic at once, so the release is refused before any change (analysis needs LINEAR or CANARY)"
            .into(),
    };
    vec![
        format!("PAUSE at PRE_PRODUCTION_TRAFFIC_SHIFT: judged {judged}, on every minute green served beside blue so far"),
        format!(
            "PASS → CONTINUE · FAIL → ROLLBACK · INCONCLUSIVE → hold, judged again each minute for up to {}, then {}",
            humantime::format_duration(a.max_extension),
            match a.on_inconclusive {
                crate::spec::OnInconclusive::Continue => "CONTINUE",
                crate::spec::OnInconclusive::Rollback => "ROLLBACK",
            }
        ),
        format!("a minute is read {} after it ended (CloudWatch's publication delay)", humantime::format_duration(a.publication_delay)),
        "the last step (100 %) is not judged: blue then serves no production traffic to compare with".into(),
    ]
}

/// One line a metric: what is read, the test, and when it fails.
fn judged_metrics(spec: &crate::spec::Spec, a: &crate::spec::AnalysisSection) -> Vec<String> {
    use crate::spec::{Direction, MetricKind};
    spec.analysis_metrics()
        .iter()
        .map(|m| {
            let role = if m.critical { "critical" } else { "scored" };
            let (r, x) = (m.tolerance.relative, m.tolerance.absolute);
            let worse = match m.direction {
                Direction::HigherIsWorse => format!("green > blue × {:.2} + {x}", 1.0 + r),
                Direction::LowerIsWorse => format!("green < blue × {:.2} − {x}", 1.0 - r),
            };
            let read = match m.kind() {
                MetricKind::FiveXxRate => format!(
                    "HTTPCode_Target_5XX_Count / RequestCount of each target group; two-proportion test; FAIL when P({worse}) ≥ {}; at least {} requests a side",
                    a.confidence, a.min_requests
                ),
                MetricKind::Latency(p) => format!(
                    "TargetResponseTime p{p} of each target group, per minute; Mann-Whitney U; FAIL when 1 − p ≥ {} that {worse}; at least {} minutes a side",
                    a.confidence, a.min_minutes
                ),
                MetricKind::Custom => format!(
                    "the query for each side, per minute; Mann-Whitney U; FAIL when 1 − p ≥ {} that {worse}; at least {} minutes a side",
                    a.confidence, a.min_minutes
                ),
            };
            format!("{} ({role}): {read}", m.label())
        })
        .collect()
}

/// Human traffic schedule for a CodeDeploy ECS deployment config.
pub(crate) fn traffic_steps(config: &str) -> Vec<String> {
    let name = config.strip_prefix("CodeDeployDefault.").unwrap_or(config);
    let lower = name.to_ascii_lowercase();
    if lower == "ecsallatonce" {
        return vec!["100 % of production traffic to green at once".into()];
    }
    let num = |s: &str| -> Option<u32> { s.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok() };
    if let Some(rest) = lower.strip_prefix("ecscanary") {
        let pct = num(rest);
        let mins = rest.split("percent").nth(1).and_then(num);
        if let (Some(p), Some(m)) = (pct, mins) {
            return vec![format!("{p} % to green for {m} min"), "then 100 %".into()];
        }
    }
    if let Some(rest) = lower.strip_prefix("ecslinear") {
        let pct = num(rest);
        let mins = rest.split("every").nth(1).and_then(num);
        if let (Some(p), Some(m)) = (pct, mins) {
            let n = 100u32.div_ceil(p.max(1));
            return vec![format!("+{p} % every {m} min ({n} steps, {} min in all)", (n - 1) * m)];
        }
    }
    vec![format!("custom deployment config {config}: steps as defined in CodeDeploy")]
}

mod images;
mod model;
pub(crate) mod settings;

#[cfg(test)]
mod tests;
