//! The simulated service's own settings (`[service.definition]`): what a seeded service starts
//! with, how DescribeServices shows them, and what UpdateService / CreateService accept — with
//! the refusals AWS documents for them.

use super::state::{Faults, SeedService};
use crate::ports::{Controller, LoadBalancer, Network, PortError, PortResult, ServiceDefinition, ServiceState};
use crate::servicedef::{AzRebalancing, NetworkDef, PropagateTags};

/// A seeded service: two subnets and a security group, launch type FARGATE, LATEST, its target
/// group when it is load balanced, ECS Exec on, no grace period, nothing propagated.
pub(super) fn seed_definition(seed: &SeedService) -> ServiceDefinition {
    let port = seed
        .task_definition
        .container_definitions
        .iter()
        .find_map(|c| Some((c.name.clone(), c.port_mappings.as_ref()?.first()?.container_port?)));
    let load_balancers = match (seed.load_balanced, port) {
        (true, Some((container_name, container_port))) => vec![crate::servicedef::LoadBalancerDef {
            target_group_arn: super::traffic::target_group_arn(&seed.name),
            container_name,
            container_port,
            advanced: None,
        }],
        _ => Vec::new(),
    };
    ServiceDefinition {
        network: Some(NetworkDef {
            subnets: Some(vec!["subnet-0a51a0000000000a1".into(), "subnet-0a51a0000000000b2".into()]),
            security_groups: Some(vec!["sg-0a51a00000000c0de".into()]),
            assign_public_ip: Some(false),
        }),
        capacity_provider_strategy: Some(Vec::new()),
        platform_version: Some("LATEST".into()),
        load_balancers: Some(load_balancers),
        health_check_grace_period_seconds: None,
        service_registries: Some(Vec::new()),
        service_connect: None,
        enable_execute_command: Some(true),
        enable_ecs_managed_tags: Some(false),
        propagate_tags: Some(PropagateTags::None),
        availability_zone_rebalancing: Some(AzRebalancing::Enabled),
        deployment_controller: Some(Controller::Ecs),
        volume_configurations: None,
        vpc_lattice: None,
        tags: Some(Default::default()),
    }
}

/// The settings part of DescribeServices.
pub(super) fn sim_settings(def: &ServiceDefinition, faults: &Faults) -> ServiceState {
    let strategy = def.capacity_provider_strategy.clone().unwrap_or_default();
    ServiceState {
        load_balancers: def
            .load_balancers
            .iter()
            .flatten()
            .map(|l| LoadBalancer {
                target_group_arn: Some(l.target_group_arn.clone()),
                container_name: Some(l.container_name.clone()),
                container_port: Some(l.container_port),
                advanced: l.advanced.clone(),
            })
            .collect(),
        network: def.network.as_ref().map(|n| crate::servicedef::merged_network(n, None::<&Network>)),
        launch_type: strategy.is_empty().then(|| "FARGATE".to_string()),
        platform_version: def.platform_version.clone(),
        enable_execute_command: def.enable_execute_command == Some(true) && !faults.exec_disabled,
        enable_ecs_managed_tags: def.enable_ecs_managed_tags == Some(true),
        capacity_provider_strategy: strategy,
        health_check_grace_period_seconds: def.health_check_grace_period_seconds,
        service_registries: def.service_registries.clone().unwrap_or_default(),
        service_connect: def.service_connect.clone(),
        propagate_tags: def.propagate_tags,
        availability_zone_rebalancing: def.availability_zone_rebalancing,
        volume_configurations: def.volume_configurations.clone().unwrap_or_default(),
        vpc_lattice: def.vpc_lattice.clone().unwrap_or_default(),
        tags: def.tags.clone().unwrap_or_default(),
        ..ServiceState::default()
    }
}

fn rejected(op: &str, message: impl Into<String>) -> PortError {
    PortError::Rejected { op: op.into(), code: "InvalidParameterException".into(), message: message.into() }
}

/// What UpdateService refuses, as AWS documents it: on a CODE_DEPLOY service only the desired
/// count, deployment configuration, grace period and tag propagation may change (the rest needs
/// a CodeDeploy deployment); a controller change is only to ECS.
pub(super) fn check_update(controller: Controller, has_td: bool, u: &ServiceDefinition) -> PortResult<()> {
    let op = "ecs:UpdateService";
    if controller == Controller::CodeDeploy && u.deployment_controller != Some(Controller::Ecs) {
        if has_td {
            return Err(rejected(
                op,
                "Unable to update task definition on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment.",
            ));
        }
        let allowed = ServiceDefinition {
            health_check_grace_period_seconds: u.health_check_grace_period_seconds,
            propagate_tags: u.propagate_tags,
            ..Default::default()
        };
        if &allowed != u {
            return Err(rejected(
                op,
                "Unable to update network parameters, platform version, load balancers or service connect on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment.",
            ));
        }
    }
    check_settings(op, u)
}

/// Checks CreateService and UpdateService share.
pub(super) fn check_settings(op: &str, u: &ServiceDefinition) -> PortResult<()> {
    if let Some(n) = &u.network
        && n.subnets.as_ref().is_some_and(Vec::is_empty)
    {
        return Err(rejected(op, "subnets can not be empty."));
    }
    if let Some(c) = &u.capacity_provider_strategy
        && c.iter().filter(|i| i.base > 0).count() > 1
    {
        return Err(rejected(op, "Only one capacity provider in a capacity provider strategy can have a base specified."));
    }
    if u.service_connect.as_ref().is_some_and(|c| c.enabled && c.namespace.is_none()) {
        return Err(rejected(op, "Service Connect requires a namespace; none is set on the service or the cluster."));
    }
    Ok(())
}

/// CreateService's own refusal: a Fargate (awsvpc) service needs its network.
pub(super) fn check_create(u: &ServiceDefinition) -> PortResult<()> {
    let op = "ecs:CreateService";
    if u.network.as_ref().and_then(|n| n.subnets.as_ref()).is_none_or(Vec::is_empty) {
        return Err(rejected(op, "Network Configuration must be provided when networkMode 'awsvpc' is specified."));
    }
    check_settings(op, u)
}

/// UpdateService's settings over the service's (each field given replaces the live one).
pub(super) fn apply(def: &mut ServiceDefinition, u: &ServiceDefinition) {
    macro_rules! over {
        ($($f:ident),*) => { $( if u.$f.is_some() { def.$f = u.$f.clone(); } )* };
    }
    over!(
        network,
        capacity_provider_strategy,
        platform_version,
        load_balancers,
        health_check_grace_period_seconds,
        service_registries,
        service_connect,
        enable_execute_command,
        enable_ecs_managed_tags,
        propagate_tags,
        availability_zone_rebalancing,
        deployment_controller,
        volume_configurations,
        vpc_lattice
    );
}

/// A created service's settings: the request's, with ECS's defaults for what it leaves out.
pub(super) fn created(u: &ServiceDefinition) -> ServiceDefinition {
    let mut def = ServiceDefinition {
        capacity_provider_strategy: Some(Vec::new()),
        platform_version: Some("LATEST".into()),
        load_balancers: Some(Vec::new()),
        service_registries: Some(Vec::new()),
        enable_execute_command: Some(false),
        enable_ecs_managed_tags: Some(false),
        propagate_tags: Some(PropagateTags::None),
        availability_zone_rebalancing: Some(AzRebalancing::Enabled),
        deployment_controller: Some(Controller::Ecs),
        tags: Some(u.tags.clone().unwrap_or_default()),
        ..Default::default()
    };
    apply(&mut def, u);
    if let Some(n) = &mut def.network {
        n.assign_public_ip = Some(n.assign_public_ip.unwrap_or(false));
        n.security_groups = Some(n.security_groups.clone().unwrap_or_default());
    }
    def
}
