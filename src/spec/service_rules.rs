//! Offline rules for `[service.definition]`: the formats and ranges ECS enforces, what fgdeploy
//! cannot release (an EXTERNAL controller, a controller that contradicts `deploy.strategy`),
//! settings given twice, and what contradicts the task-definition template (a load balancer or
//! Service Connect port the container does not map).

use super::file::{SpecFile, Strategy};
use crate::error::Problems;
use crate::servicedef::{Controller, ServiceDefinition};
use crate::taskdef::TaskDefinition;
use crate::taskdef::rules::valid_name;

const AT: &str = "service.definition";

/// `subnet-` / `sg-` followed by 8 or 17 hex digits.
fn valid_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|h| (h.len() == 8 || h.len() == 17) && h.chars().all(|c| c.is_ascii_hexdigit()))
}

fn valid_arn(s: &str, service: &str, resource: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6 && parts[0] == "arn" && parts[1].starts_with("aws") && parts[2] == service && parts[5].starts_with(resource)
}

/// The platform version: LATEST or a Fargate version such as 1.4.0.
fn valid_platform(s: &str) -> bool {
    s == "LATEST" || {
        let p: Vec<&str> = s.split('.').collect();
        p.len() == 3 && p.iter().all(|x| !x.is_empty() && x.chars().all(|c| c.is_ascii_digit()))
    }
}

pub(super) fn definition(f: &SpecFile, p: &mut Problems) {
    let Some(d) = &f.service.definition else { return };
    network(d, p);
    capacity(d, p);
    if let Some(v) = &d.platform_version
        && !valid_platform(v)
    {
        p.at(format!("{AT}.platform_version"), format!("{v:?} is not a Fargate platform version"), "use \"LATEST\" or e.g. \"1.4.0\"");
    }
    for (i, l) in d.load_balancers.iter().flatten().enumerate() {
        let at = |k: &str| format!("{AT}.load_balancers[{i}].{k}");
        if !valid_arn(&l.target_group_arn, "elasticloadbalancing", "targetgroup/") {
            p.at(
                at("target_group_arn"),
                format!("{:?} is not a target group ARN", l.target_group_arn),
                "copy the ARN from the EC2 console or `aws elbv2 describe-target-groups`",
            );
        }
        if !(1..=65535).contains(&l.container_port) {
            p.at(at("container_port"), format!("{} is not a port", l.container_port), "use 1 to 65535");
        }
    }
    if let Some(g) = d.health_check_grace_period_seconds
        && g < 0
    {
        p.at(format!("{AT}.health_check_grace_period_seconds"), format!("{g} is negative"), "use 0 or more seconds");
    }
    for (i, r) in d.service_registries.iter().flatten().enumerate() {
        if !valid_arn(&r.registry_arn, "servicediscovery", "service/") {
            p.at(
                format!("{AT}.service_registries[{i}].registry_arn"),
                format!("{:?} is not a Cloud Map service ARN", r.registry_arn),
                "use the arn:aws:servicediscovery:…:service/srv-… of the Cloud Map service",
            );
        }
    }
    connect(d, p);
    tags(d, p);
    controller(f, d, p);
}

fn network(d: &ServiceDefinition, p: &mut Problems) {
    let Some(n) = &d.network else { return };
    if let Some(s) = &n.subnets {
        if s.is_empty() || s.len() > 16 {
            p.at(format!("{AT}.network.subnets"), format!("{} subnets", s.len()), "give 1 to 16 subnets (several AZs for availability)");
        }
        for x in s.iter().filter(|x| !valid_id(x, "subnet-")) {
            p.at(format!("{AT}.network.subnets"), format!("{x:?} is not a subnet id"), "write subnet ids as subnet-0123456789abcdef0");
        }
    }
    if let Some(s) = &n.security_groups {
        if s.len() > 5 {
            p.at(format!("{AT}.network.security_groups"), format!("{} security groups", s.len()), "give at most 5");
        }
        for x in s.iter().filter(|x| !valid_id(x, "sg-")) {
            p.at(
                format!("{AT}.network.security_groups"),
                format!("{x:?} is not a security group id"),
                "write security group ids as sg-0123456789abcdef0",
            );
        }
    }
}

fn capacity(d: &ServiceDefinition, p: &mut Problems) {
    let Some(items) = &d.capacity_provider_strategy else { return };
    let at = format!("{AT}.capacity_provider_strategy");
    for (i, c) in items.iter().enumerate() {
        if !valid_name(&c.capacity_provider) {
            p.at(
                format!("{at}[{i}].capacity_provider"),
                format!("{:?} is not a capacity provider name", c.capacity_provider),
                "use FARGATE or FARGATE_SPOT",
            );
        }
        if !(0..=100_000).contains(&c.base) {
            p.at(format!("{at}[{i}].base"), format!("{} is out of range", c.base), "use 0 to 100000");
        }
        if !(0..=1000).contains(&c.weight) {
            p.at(format!("{at}[{i}].weight"), format!("{} is out of range", c.weight), "use 0 to 1000");
        }
        if items[..i].iter().any(|o| o.capacity_provider == c.capacity_provider) {
            p.at(
                format!("{at}[{i}].capacity_provider"),
                format!("{} is named twice", c.capacity_provider),
                "name each capacity provider once",
            );
        }
    }
    if items.iter().filter(|c| c.base > 0).count() > 1 {
        p.at(at.clone(), "more than one capacity provider has a base", "give a base to one provider only (ECS refuses more)");
    }
    if !items.is_empty() && items.iter().all(|c| c.weight == 0) {
        p.at(at, "every weight is 0: no task beyond the base would be placed", "give at least one provider a weight of 1 or more");
    }
}

fn connect(d: &ServiceDefinition, p: &mut Problems) {
    let Some(c) = &d.service_connect else { return };
    for (i, s) in c.services.iter().enumerate() {
        for (j, a) in s.client_aliases.iter().enumerate() {
            if !(1..=65535).contains(&a.port) {
                p.at(
                    format!("{AT}.service_connect.services[{i}].client_aliases[{j}].port"),
                    format!("{} is not a port", a.port),
                    "use 1 to 65535",
                );
            }
        }
        if let Some(o) = s.ingress_port_override
            && !(1..=65535).contains(&o)
        {
            p.at(format!("{AT}.service_connect.services[{i}].ingress_port_override"), format!("{o} is not a port"), "use 1 to 65535");
        }
    }
    if !c.enabled && !c.services.is_empty() {
        p.at(
            format!("{AT}.service_connect.enabled"),
            "services are listed but Service Connect is off",
            "set enabled = true, or remove the services",
        );
    }
}

fn tags(d: &ServiceDefinition, p: &mut Problems) {
    let Some(tags) = &d.tags else { return };
    if tags.len() > 50 {
        p.at(format!("{AT}.tags"), format!("{} tags", tags.len()), "ECS allows at most 50 tags on a resource");
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || k.to_ascii_lowercase().starts_with("aws:") {
            p.at(format!("{AT}.tags"), format!("tag key {k:?} is not allowed"), "keys are 1-128 characters and do not start with aws:");
        }
        if v.chars().count() > 256 {
            p.at(format!("{AT}.tags.{k}"), "the value is longer than 256 characters", "shorten it");
        }
    }
}

/// The controller must be one fgdeploy releases with, and agree with `deploy.strategy`.
fn controller(f: &SpecFile, d: &ServiceDefinition, p: &mut Problems) {
    let field = format!("{AT}.deployment_controller");
    match (d.deployment_controller, f.deploy.strategy) {
        (Some(Controller::External), _) => p.at(
            field,
            "fgdeploy cannot release a service with the EXTERNAL controller",
            "use ECS (rolling, ECS-native blue/green) or CODE_DEPLOY",
        ),
        (Some(Controller::CodeDeploy), Strategy::Rolling) => p.at(
            field,
            "a rolling release needs the ECS controller",
            "set deployment_controller = \"ECS\", or deploy.strategy = \"blue-green\"",
        ),
        _ => {}
    }
    let Some(bg) = &f.deploy.blue_green else { return };
    for (key, twice) in [
        ("platform_version", d.platform_version.is_some() && bg.platform_version.is_some()),
        ("network.subnets", d.network.as_ref().is_some_and(|n| n.subnets.is_some()) && bg.subnets.is_some()),
        ("network.security_groups", d.network.as_ref().is_some_and(|n| n.security_groups.is_some()) && bg.security_groups.is_some()),
        ("capacity_provider_strategy", d.capacity_provider_strategy.is_some() && !bg.capacity_providers.is_empty()),
    ] {
        if twice {
            p.at(
                format!("{AT}.{key}"),
                "also set in [deploy.blue_green]",
                format!("set it once, in {AT}.{key}, and remove it from [deploy.blue_green]"),
            );
        }
    }
    if f.deploy.strategy == Strategy::BlueGreen && d.deployment_controller == Some(Controller::Ecs) && d.load_balancers.is_some() {
        p.at(
            format!("{AT}.load_balancers"),
            "an ECS-native blue/green release sets the load balancer (with its alternate target group) from [deploy.blue_green]",
            "remove service.definition.load_balancers",
        );
    }
}

/// Rules between the definition and the template: load-balanced and Service Connect ports must be
/// the container's.
pub(super) fn with_template(f: &SpecFile, td: &TaskDefinition, p: &mut Problems) {
    let Some(d) = &f.service.definition else { return };
    let names: Vec<&str> = td.container_definitions.iter().map(|c| c.name.as_str()).collect();
    for (i, l) in d.load_balancers.iter().flatten().enumerate() {
        match td.container_definitions.iter().find(|c| c.name == l.container_name) {
            None => p.at(
                format!("{AT}.load_balancers[{i}].container_name"),
                format!("{:?} is not a container of the template (containers: {})", l.container_name, names.join(", ")),
                "name a container of the template",
            ),
            Some(c) => {
                let mapped: Vec<i32> = c.port_mappings.iter().flatten().filter_map(|m| m.container_port).collect();
                if !mapped.contains(&l.container_port) {
                    p.at(
                        format!("{AT}.load_balancers[{i}].container_port"),
                        format!("{} is not a mapped port of {:?} (mapped: {mapped:?})", l.container_port, l.container_name),
                        "use one of the container's portMappings, or add the port to them",
                    );
                }
            }
        }
    }
    let port_names: Vec<&str> =
        td.container_definitions.iter().flat_map(|c| c.port_mappings.iter().flatten()).filter_map(|m| m.name.as_deref()).collect();
    for (i, s) in d.service_connect.iter().flat_map(|c| c.services.iter()).enumerate() {
        if !port_names.contains(&s.port_name.as_str()) {
            p.at(
                format!("{AT}.service_connect.services[{i}].port_name"),
                format!("{:?} is not a portMappings[].name of the template (named: {port_names:?})", s.port_name),
                "name the port mapping in the template (\"name\": \"http\") and use that name",
            );
        }
    }
}
