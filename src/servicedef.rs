//! The service definition: the ECS service's own settings as code (`[service.definition]` in the
//! deployspec) — network, capacity providers, platform version, load balancers, grace period,
//! service registries, Service Connect, ECS Exec, tag propagation, tags, AZ rebalancing and the
//! deployment controller.
//!
//! Why a TOML table rather than a `CreateService` JSON file next to the task-definition template:
//! the service's settings are few and flat, reviewers read one file per service, and the table
//! gets the deployspec's checks (unknown keys, field paths, variables) for free. The task
//! definition stays JSON because it is large, nested and copied from the console or the CLI.
//!
//! Every field is optional: a field the spec does not mention is left as it is on the service.
//! The comparison with the live service is semantic — ECS's defaults (no grace period, tags not
//! propagated, public IP off, weight 0) equal their absence, lists that are sets compare as sets —
//! so that `init` followed by `plan` shows no change.

use crate::diff::{self, Change};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceDefinition {
    /// awsvpc network: subnets, security groups, public IP (a key left out keeps the live value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkDef>,
    /// Capacity providers with base and weight (FARGATE, FARGATE_SPOT); `[]` = launch type FARGATE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_strategy: Option<Vec<CapacityProviderItem>>,
    /// Fargate platform version, e.g. "1.4.0" or "LATEST".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    /// Target groups the service registers its tasks with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancers: Option<Vec<LoadBalancerDef>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period_seconds: Option<i32>,
    /// Cloud Map service registries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_registries: Option<Vec<ServiceRegistry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_connect: Option<ServiceConnect>,
    /// ECS Exec (`fgdeploy exec`) on tasks started from now on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_execute_command: Option<bool>,
    /// `enableECSManagedTags`: ECS tags the service's tasks (`aws:ecs:clusterName`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_ecs_managed_tags: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_tags: Option<PropagateTags>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone_rebalancing: Option<AzRebalancing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_controller: Option<Controller>,
    /// `volumeConfigurations`: an Amazon EBS volume for each task-definition volume that is
    /// `configuredAtLaunch` (matched by name). `[]` removes them (a revision without such a
    /// volume needs that); a key left out keeps the live ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_configurations: Option<Vec<VolumeConfiguration>>,
    /// `vpcLatticeConfigurations`: VPC Lattice target groups the tasks register with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_lattice: Option<Vec<VpcLattice>>,
    /// Tags on the service: these keys are set; other tags on the service are left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

/// One `volumeConfigurations[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeConfiguration {
    /// The task definition's volume (`configuredAtLaunch = true`) this configures.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_ebs_volume: Option<ManagedEbsVolume>,
}

/// `managedEBSVolume` (ServiceManagedEBSVolumeConfiguration): `role_arn` is required; a
/// `size_in_gib` or a `snapshot_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagedEbsVolume {
    pub role_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// gp2 | gp3 | io1 | io2 | sc1 | st1 | standard
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_in_gib: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// MiB/s, only with a snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_initialization_rate: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<i32>,
    /// MiB/s, gp3 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<i32>,
    /// ext3 | ext4 | xfs | ntfs
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<EbsTagSpecification>,
}

/// `tagSpecifications[]` of a managed EBS volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EbsTagSpecification {
    /// `volume`
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// SERVICE | TASK_DEFINITION | NONE
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_tags: Option<String>,
}

/// One `vpcLatticeConfigurations[]` entry (every member required).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VpcLattice {
    pub role_arn: String,
    pub target_group_arn: String,
    /// A `portMappings[].name` of the task definition.
    pub port_name: String,
    /// `advancedConfiguration` (ECS-native blue/green through VPC Lattice): all three or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate_target_group_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_listener_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_listener_rule: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign_public_ip: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityProviderItem {
    pub capacity_provider: String,
    /// Tasks placed on this provider first (ECS default 0).
    #[serde(default)]
    pub base: i32,
    /// Share of the tasks after the bases (ECS default 0).
    #[serde(default)]
    pub weight: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerDef {
    pub target_group_arn: String,
    pub container_name: String,
    pub container_port: i32,
    /// The live `advancedConfiguration` of this load balancer (ECS-native blue/green), carried
    /// when the list is sent: UpdateService replaces `loadBalancers` whole. Not a deployspec key
    /// (the `deploy.blue_green` keys set it).
    #[serde(skip)]
    pub advanced: Option<crate::ports::AdvancedLbConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceRegistry {
    pub registry_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceConnect {
    pub enabled: bool,
    /// Cloud Map namespace, as DescribeServices shows it (`init` writes the live value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceConnectService>,
    /// The Service Connect proxy's log configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<ConnectLog>,
    /// The proxy's access logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log: Option<ConnectAccessLog>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectLog {
    pub log_driver: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// (name, valueFrom)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_options: Vec<ConnectSecret>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectSecret {
    pub name: String,
    pub value_from: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectAccessLog {
    /// TEXT | JSON
    pub format: String,
    /// ENABLED | DISABLED
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_query_parameters: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectTimeout {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_request_timeout_seconds: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectTls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_pca_authority_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceConnectService {
    /// A `portMappings[].name` of the task definition.
    pub port_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_aliases: Vec<ClientAlias>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_port_override: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<ConnectTimeout>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ConnectTls>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientAlias {
    pub port: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    /// `testTrafficRules.header`: requests with this header (and value) go to the green
    /// revision during an ECS-native blue/green test phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_traffic_header: Option<TestTrafficHeader>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestTrafficHeader {
    pub name: String,
    /// `value.exact`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PropagateTags {
    #[default]
    None,
    Service,
    TaskDefinition,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AzRebalancing {
    Enabled,
    #[default]
    Disabled,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Controller {
    #[default]
    Ecs,
    CodeDeploy,
    External,
}

impl PropagateTags {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PropagateTags::None => "NONE",
            PropagateTags::Service => "SERVICE",
            PropagateTags::TaskDefinition => "TASK_DEFINITION",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Self::None, Self::Service, Self::TaskDefinition].into_iter().find(|v| v.as_str() == s)
    }
}

impl AzRebalancing {
    pub fn as_str(self) -> &'static str {
        match self {
            AzRebalancing::Enabled => "ENABLED",
            AzRebalancing::Disabled => "DISABLED",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Self::Enabled, Self::Disabled].into_iter().find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Controller {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Controller::Ecs => "ECS",
            Controller::CodeDeploy => "CODE_DEPLOY",
            Controller::External => "EXTERNAL",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Self::Ecs, Self::CodeDeploy, Self::External].into_iter().find(|v| v.as_str() == s)
    }
}

/// The live service's settings, every field present (what `init` writes, what `plan` compares to).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSettings<'a> {
    pub(crate) network: Option<&'a Network>,
    pub(crate) capacity_provider_strategy: &'a [CapacityProviderItem],
    pub(crate) platform_version: Option<&'a str>,
    pub(crate) load_balancers: &'a [LoadBalancer],
    pub(crate) health_check_grace_period_seconds: Option<i32>,
    pub(crate) service_registries: &'a [ServiceRegistry],
    pub(crate) service_connect: Option<&'a ServiceConnect>,
    pub(crate) enable_execute_command: bool,
    pub(crate) enable_ecs_managed_tags: bool,
    pub(crate) propagate_tags: Option<PropagateTags>,
    pub(crate) availability_zone_rebalancing: Option<AzRebalancing>,
    pub(crate) deployment_controller: Controller,
    pub(crate) volume_configurations: &'a [VolumeConfiguration],
    pub(crate) vpc_lattice: &'a [VpcLattice],
    pub(crate) tags: &'a BTreeMap<String, String>,
}

impl ServiceDefinition {
    /// The definition of a live service: every managed field, as `init` writes it.
    pub fn from_live(l: &LiveSettings) -> ServiceDefinition {
        ServiceDefinition {
            network: l.network.map(|n| NetworkDef {
                subnets: Some(n.subnets.clone()),
                security_groups: Some(n.security_groups.clone()),
                assign_public_ip: Some(n.assign_public_ip),
            }),
            capacity_provider_strategy: Some(l.capacity_provider_strategy.to_vec()),
            platform_version: l.platform_version.map(str::to_string),
            load_balancers: Some(live_load_balancers(l.load_balancers)),
            health_check_grace_period_seconds: Some(l.health_check_grace_period_seconds.unwrap_or(0)),
            service_registries: Some(l.service_registries.to_vec()),
            service_connect: Some(l.service_connect.cloned().unwrap_or_default()),
            enable_execute_command: Some(l.enable_execute_command),
            enable_ecs_managed_tags: Some(l.enable_ecs_managed_tags),
            propagate_tags: Some(l.propagate_tags.unwrap_or_default()),
            availability_zone_rebalancing: Some(l.availability_zone_rebalancing.unwrap_or_default()),
            deployment_controller: Some(l.deployment_controller),
            volume_configurations: (!l.volume_configurations.is_empty()).then(|| l.volume_configurations.to_vec()),
            vpc_lattice: (!l.vpc_lattice.is_empty()).then(|| l.vpc_lattice.to_vec()),
            tags: Some(l.tags.iter().filter(|(k, _)| !k.starts_with("aws:")).map(|(k, v)| (k.clone(), v.clone())).collect()),
        }
    }

    /// The names of the fields it sets, in the deployspec's spelling.
    pub fn fields(&self) -> Vec<&'static str> {
        let set = [
            ("network", self.network.is_some()),
            ("capacity_provider_strategy", self.capacity_provider_strategy.is_some()),
            ("platform_version", self.platform_version.is_some()),
            ("load_balancers", self.load_balancers.is_some()),
            ("health_check_grace_period_seconds", self.health_check_grace_period_seconds.is_some()),
            ("service_registries", self.service_registries.is_some()),
            ("service_connect", self.service_connect.is_some()),
            ("enable_execute_command", self.enable_execute_command.is_some()),
            ("enable_ecs_managed_tags", self.enable_ecs_managed_tags.is_some()),
            ("propagate_tags", self.propagate_tags.is_some()),
            ("availability_zone_rebalancing", self.availability_zone_rebalancing.is_some()),
            ("deployment_controller", self.deployment_controller.is_some()),
            ("volume_configurations", self.volume_configurations.is_some()),
            ("vpc_lattice", self.vpc_lattice.is_some()),
            ("tags", self.tags.is_some()),
        ];
        set.into_iter().filter(|(_, on)| *on).map(|(name, _)| name).collect()
    }

    /// Whether the definition names nothing.
    pub fn is_empty(&self) -> bool {
        self == &ServiceDefinition::default()
    }
}

fn live_load_balancers(lbs: &[LoadBalancer]) -> Vec<LoadBalancerDef> {
    lbs.iter()
        .filter_map(|l| {
            Some(LoadBalancerDef {
                target_group_arn: l.target_group_arn.clone()?,
                container_name: l.container_name.clone()?,
                container_port: l.container_port?,
                advanced: l.advanced.clone(),
            })
        })
        .collect()
}

/// What a release must change on the service: the plan's lines and the settings to send (only
/// the fields that differ; the network whole, merged with the live one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsChange {
    pub changes: Vec<Change>,
    /// The fields that differ (tags excluded: they are set with TagResource).
    pub(crate) update: ServiceDefinition,
    /// Tags to set (new keys and changed values).
    pub(crate) tags: BTreeMap<String, String>,
}

/// One field's normal form: ECS defaults equal their absence; sets are sorted.
fn normal<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

fn sorted<T: Clone + Ord>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn normal_connect(c: &ServiceConnect) -> serde_json::Value {
    if !c.enabled {
        return serde_json::json!({"enabled": false});
    }
    let mut services = c.services.clone();
    for s in &mut services {
        s.client_aliases.sort();
    }
    services.sort();
    normal(&ServiceConnect { enabled: true, services, ..c.clone() })
}

/// The Service Connect configuration to send: the spec's keys over the live ones. UpdateService
/// replaces the structure as a whole, so what the spec does not say (the proxy's log and access
/// log configuration, a service's timeout and TLS, the namespace) is sent as it is live; services
/// are matched by `port_name`.
pub(crate) fn merged_connect(want: &ServiceConnect, live: Option<&ServiceConnect>) -> ServiceConnect {
    let Some(live) = live.filter(|l| l.enabled) else { return want.clone() };
    if !want.enabled {
        return want.clone();
    }
    let services = want
        .services
        .iter()
        .map(|s| {
            let l = live.services.iter().find(|l| l.port_name == s.port_name);
            ServiceConnectService {
                discovery_name: s.discovery_name.clone().or_else(|| l.and_then(|l| l.discovery_name.clone())),
                client_aliases: if s.client_aliases.is_empty() {
                    l.map(|l| l.client_aliases.clone()).unwrap_or_default()
                } else {
                    s.client_aliases.clone()
                },
                ingress_port_override: s.ingress_port_override.or_else(|| l.and_then(|l| l.ingress_port_override)),
                timeout: s.timeout.clone().or_else(|| l.and_then(|l| l.timeout.clone())),
                tls: s.tls.clone().or_else(|| l.and_then(|l| l.tls.clone())),
                port_name: s.port_name.clone(),
            }
        })
        .collect();
    ServiceConnect {
        enabled: true,
        namespace: want.namespace.clone().or_else(|| live.namespace.clone()),
        services,
        log_configuration: want.log_configuration.clone().or_else(|| live.log_configuration.clone()),
        access_log: want.access_log.clone().or_else(|| live.access_log.clone()),
    }
}

/// The network the spec wants: its keys over the live ones.
pub(crate) fn merged_network(want: &NetworkDef, live: Option<&Network>) -> Network {
    Network {
        subnets: want.subnets.clone().or_else(|| live.map(|n| n.subnets.clone())).unwrap_or_default(),
        security_groups: want.security_groups.clone().or_else(|| live.map(|n| n.security_groups.clone())).unwrap_or_default(),
        assign_public_ip: want.assign_public_ip.or(live.map(|n| n.assign_public_ip)).unwrap_or(false),
    }
}

fn normal_network(n: &Network) -> serde_json::Value {
    serde_json::json!({
        "subnets": sorted(&n.subnets),
        "security_groups": sorted(&n.security_groups),
        "assign_public_ip": n.assign_public_ip,
    })
}

/// Compare one field; on a difference, record the plan's lines and the value to send.
fn field(
    out: &mut SettingsChange,
    name: &str,
    (live, want): (serde_json::Value, serde_json::Value),
    set: impl FnOnce(&mut ServiceDefinition),
) {
    if live != want {
        let path = format!("service.definition.{name}");
        let lines = diff::diff(&live, &want);
        if lines.is_empty() || matches!((&live, &want), (serde_json::Value::Array(_), _) | (_, serde_json::Value::Array(_))) {
            out.changes.push(Change::Change { path, from: live, to: want });
        } else {
            out.changes.extend(lines.into_iter().map(|c| c.under(&path)));
        }
        set(&mut out.update);
    }
}

/// The semantic difference between the spec's definition and the live service.
pub fn compare(want: &ServiceDefinition, live: &LiveSettings) -> SettingsChange {
    let mut out = SettingsChange::default();
    if let Some(n) = &want.network {
        let merged = merged_network(n, live.network);
        let live_n = live.network.map(normal_network).unwrap_or_else(|| normal_network(&merged_network(&NetworkDef::default(), None)));
        field(&mut out, "network", (live_n, normal_network(&merged)), |u| {
            u.network = Some(NetworkDef {
                subnets: Some(merged.subnets.clone()),
                security_groups: Some(merged.security_groups.clone()),
                assign_public_ip: Some(merged.assign_public_ip),
            })
        });
    }
    if let Some(c) = &want.capacity_provider_strategy {
        let pair = (normal(&sorted(live.capacity_provider_strategy)), normal(&sorted(c)));
        field(&mut out, "capacity_provider_strategy", pair, |u| u.capacity_provider_strategy = Some(c.clone()));
    }
    if let Some(p) = &want.platform_version {
        let pair = (normal(&live.platform_version.unwrap_or("LATEST")), normal(p));
        field(&mut out, "platform_version", pair, |u| u.platform_version = Some(p.clone()));
    }
    if let Some(l) = &want.load_balancers {
        let live_lbs = live_load_balancers(live.load_balancers);
        let pair = (normal(&sorted(&live_lbs)), normal(&sorted(l)));
        let merged = merged_load_balancers(l, &live_lbs);
        field(&mut out, "load_balancers", pair, |u| u.load_balancers = Some(merged));
    }
    if let Some(g) = want.health_check_grace_period_seconds {
        let pair = (normal(&live.health_check_grace_period_seconds.unwrap_or(0)), normal(&g));
        field(&mut out, "health_check_grace_period_seconds", pair, |u| u.health_check_grace_period_seconds = Some(g));
    }
    if let Some(r) = &want.service_registries {
        let pair = (normal(&sorted(live.service_registries)), normal(&sorted(r)));
        field(&mut out, "service_registries", pair, |u| u.service_registries = Some(r.clone()));
    }
    compare_flags(want, live, &mut out);
    if let Some(tags) = &want.tags {
        compare_tags(tags, live.tags, &mut out);
    }
    out
}

/// The load balancers to send (UpdateService replaces the list whole): each keeps its live
/// `advancedConfiguration`, matched by target group and container.
fn merged_load_balancers(want: &[LoadBalancerDef], live: &[LoadBalancerDef]) -> Vec<LoadBalancerDef> {
    want.iter()
        .map(|w| {
            let same = |x: &&LoadBalancerDef| x.target_group_arn == w.target_group_arn && x.container_name == w.container_name;
            LoadBalancerDef {
                advanced: w.advanced.clone().or_else(|| live.iter().find(same).and_then(|x| x.advanced.clone())),
                ..w.clone()
            }
        })
        .collect()
}

/// The tags the spec sets: new keys and changed values (others on the service are left alone).
fn compare_tags(want: &BTreeMap<String, String>, live: &BTreeMap<String, String>, out: &mut SettingsChange) {
    for (k, v) in want {
        match live.get(k) {
            Some(l) if l == v => continue,
            Some(l) => out.changes.push(Change::Change {
                path: format!("service.definition.tags.{k}"),
                from: l.as_str().into(),
                to: v.as_str().into(),
            }),
            None => out.changes.push(Change::Add { path: format!("service.definition.tags.{k}"), value: v.as_str().into() }),
        }
        out.tags.insert(k.clone(), v.clone());
    }
}

/// Service Connect and the single-valued settings.
fn compare_flags(want: &ServiceDefinition, live: &LiveSettings, out: &mut SettingsChange) {
    if let Some(c) = &want.service_connect {
        // The diff is between the live structure and exactly what will be sent.
        let c = merged_connect(c, live.service_connect);
        let pair = (normal_connect(live.service_connect.unwrap_or(&ServiceConnect::default())), normal_connect(&c));
        field(out, "service_connect", pair, |u| u.service_connect = Some(c.clone()));
    }
    if let Some(e) = want.enable_execute_command {
        field(out, "enable_execute_command", (normal(&live.enable_execute_command), normal(&e)), |u| u.enable_execute_command = Some(e));
    }
    if let Some(m) = want.enable_ecs_managed_tags {
        field(out, "enable_ecs_managed_tags", (normal(&live.enable_ecs_managed_tags), normal(&m)), |u| u.enable_ecs_managed_tags = Some(m));
    }
    if let Some(p) = want.propagate_tags {
        field(out, "propagate_tags", (normal(&live.propagate_tags.unwrap_or_default()), normal(&p)), |u| u.propagate_tags = Some(p));
    }
    if let Some(a) = want.availability_zone_rebalancing {
        let pair = (normal(&live.availability_zone_rebalancing.unwrap_or_default()), normal(&a));
        field(out, "availability_zone_rebalancing", pair, |u| u.availability_zone_rebalancing = Some(a));
    }
    if let Some(c) = want.deployment_controller {
        field(out, "deployment_controller", (normal(&live.deployment_controller), normal(&c)), |u| u.deployment_controller = Some(c));
    }
    if let Some(v) = &want.volume_configurations {
        let pair = (normal(&sorted(live.volume_configurations)), normal(&sorted(v)));
        field(out, "volume_configurations", pair, |u| u.volume_configurations = Some(v.clone()));
    }
    if let Some(v) = &want.vpc_lattice {
        let pair = (normal(&sorted(live.vpc_lattice)), normal(&sorted(v)));
        field(out, "vpc_lattice", pair, |u| u.vpc_lattice = Some(v.clone()));
    }
}

#[cfg(test)]
mod tests;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Network {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadBalancer {
    pub(crate) target_group_arn: Option<String>,
    pub container_name: Option<String>,
    pub(crate) container_port: Option<i32>,
    /// `advancedConfiguration` (ECS-native blue/green).
    pub advanced: Option<AdvancedLbConfig>,
}

/// A load balancer's `advancedConfiguration`: the alternate target group, the listener rules and
/// the role ECS shifts traffic with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct AdvancedLbConfig {
    pub alternate_target_group_arn: String,
    pub production_listener_rule: String,
    pub test_listener_rule: Option<String>,
    pub role_arn: String,
}
