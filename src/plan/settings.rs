//! The plan's part for `[service.definition]`: what changes on the service, what the one
//! UpdateService carries, what a CODE_DEPLOY service cannot take, and a service to create.

use crate::diff::Change;
use crate::error::InputError;
use crate::ports::{Controller, Network, ServiceState};
use crate::servicedef::{self, SettingsChange};
use crate::spec::{Spec, Strategy};

use super::model::Live;

const AT: &str = "service.definition";

/// The settings that change, or why the release cannot make them.
pub(super) fn settings_change(spec: &Spec, live: &Live) -> Result<SettingsChange, InputError> {
    let Some(want) = &spec.file.service.definition else { return Ok(SettingsChange::default()) };
    if live.service_missing {
        creatable(spec)?;
        return Ok(SettingsChange::default());
    }
    let mut change = servicedef::compare(want, &live.service.settings());
    if let Some(c) = change.update.deployment_controller {
        return Err(InputError::new(
            &spec.path,
            format!("the service uses the {} controller; the definition says {c}", live.service.deployment_controller),
            format!(
                "a controller change is a migration, not a release: change it once (`aws ecs update-service --deployment-controller type={c}` after preparing the CodeDeploy group or the ECS-native load balancer), or write {}",
                live.service.deployment_controller
            ),
        )
        .at_field(format!("{AT}.deployment_controller")));
    }
    if live.service.deployment_controller == Controller::CodeDeploy {
        codedeploy_split(spec, &mut change)?;
    }
    Ok(change)
}

/// On a CODE_DEPLOY service, UpdateService takes only the grace period and tag propagation; the
/// network, platform version and capacity providers go into the CodeDeploy deployment's AppSpec
/// (from the definition); the rest cannot change without recreating the service.
fn codedeploy_split(spec: &Spec, change: &mut SettingsChange) -> Result<(), InputError> {
    let u = &change.update;
    let fixed = [
        ("load_balancers", u.load_balancers.is_some()),
        ("service_registries", u.service_registries.is_some()),
        ("service_connect", u.service_connect.is_some()),
        ("enable_execute_command", u.enable_execute_command.is_some()),
        ("availability_zone_rebalancing", u.availability_zone_rebalancing.is_some()),
    ];
    if let Some((name, _)) = fixed.into_iter().find(|(_, on)| *on) {
        return Err(InputError::new(
            &spec.path,
            format!("{name} cannot change on a service with the CODE_DEPLOY controller (neither UpdateService nor a CodeDeploy deployment carries it)"),
            format!("write the live value (`fgdeploy init` shows it), or recreate the service with the new {name}"),
        )
        .at_field(format!("{AT}.{name}")));
    }
    change.update.network = None;
    change.update.platform_version = None;
    change.update.capacity_provider_strategy = None;
    Ok(())
}

/// What a service to create needs: its subnets, and a controller fgdeploy can create with.
fn creatable(spec: &Spec) -> Result<(), InputError> {
    let d = spec.file.service.definition.as_ref();
    if d.and_then(|d| d.network.as_ref()).and_then(|n| n.subnets.as_ref()).is_none() {
        return Err(InputError::new(
            &spec.path,
            format!("service {} does not exist, and a Fargate service cannot be created without its subnets", spec.service()),
            "add service.definition.network.subnets (and security_groups), or fix service.name / service.cluster",
        )
        .at_field(format!("{AT}.network.subnets")));
    }
    if spec.file.deploy.strategy == Strategy::BlueGreen {
        return Err(InputError::new(
            &spec.path,
            format!("service {} does not exist; fgdeploy creates services for rolling releases only", spec.service()),
            "create it once with deploy.strategy = \"rolling\" (its first deployment has nothing to shift traffic from), then switch to blue-green",
        )
        .at_field("deploy.strategy"));
    }
    Ok(())
}

/// The plan's lines for a service to create: every setting of the definition, and the count.
pub(super) fn creation(spec: &Spec, desired_count: i32) -> Vec<Change> {
    let mut out = vec![Change::Add { path: "service".into(), value: format!("{} (created)", spec.service()).into() }];
    out.push(Change::Add { path: "desiredCount".into(), value: desired_count.into() });
    if let Some(d) = &spec.file.service.definition
        && let serde_json::Value::Object(m) = serde_json::to_value(d).unwrap_or_default()
    {
        out.extend(m.into_iter().map(|(k, value)| Change::Add { path: format!("{AT}.{k}"), value }));
    }
    out
}

/// The service's network after the release: the definition's over the live one.
pub(crate) fn service_network(spec: &Spec, svc: &ServiceState) -> Option<Network> {
    match spec.file.service.definition.as_ref().and_then(|d| d.network.as_ref()) {
        Some(n) => Some(servicedef::merged_network(n, svc.network.as_ref())),
        None => svc.network.clone(),
    }
}
