//! `[service.definition]` to and from the SDK's service types: what DescribeServices shows, and
//! what UpdateService / CreateService send.

use crate::ports::{PortError, PortResult, ServiceState};
use crate::servicedef::{
    AzRebalancing, CapacityProviderItem, ClientAlias, ConnectAccessLog, ConnectLog, ConnectSecret, ConnectTimeout, ConnectTls, Controller,
    EbsTagSpecification, ManagedEbsVolume, PropagateTags, ServiceConnect, ServiceConnectService, ServiceDefinition, ServiceRegistry,
    TestTrafficHeader, VolumeConfiguration, VpcLattice, merged_network,
};
use aws_sdk_ecs::types as t;

/// The managed settings of a described service into `st`.
pub(super) fn read_settings(s: &t::Service, st: &mut ServiceState) {
    st.capacity_provider_strategy = s
        .capacity_provider_strategy()
        .iter()
        .map(|c| CapacityProviderItem { capacity_provider: c.capacity_provider().to_string(), base: c.base(), weight: c.weight() })
        .collect();
    st.health_check_grace_period_seconds = s.health_check_grace_period_seconds();
    st.service_registries = s
        .service_registries()
        .iter()
        .map(|r| ServiceRegistry {
            registry_arn: r.registry_arn().unwrap_or_default().to_string(),
            port: r.port(),
            container_name: r.container_name().map(str::to_string),
            container_port: r.container_port(),
        })
        .collect();
    // DescribeServices shows Service Connect on the deployments, not on the service.
    let primary = s.deployments().iter().find(|d| d.status() == Some("PRIMARY"));
    st.service_connect = primary.and_then(|d| d.service_connect_configuration()).map(connect_from);
    st.volume_configurations = primary.map(|d| d.volume_configurations().iter().map(volume_from).collect()).unwrap_or_default();
    st.vpc_lattice = primary.map(|d| d.vpc_lattice_configurations().iter().map(lattice_from).collect()).unwrap_or_default();
    st.propagate_tags = s.propagate_tags().and_then(|p| PropagateTags::parse(p.as_str()));
    st.availability_zone_rebalancing = s.availability_zone_rebalancing().and_then(|a| AzRebalancing::parse(a.as_str()));
    st.tags = s.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect();
    st.deployment_controller = s.deployment_controller().and_then(|c| Controller::parse(c.r#type().as_str())).unwrap_or_default();
}

fn volume_from(v: &t::ServiceVolumeConfiguration) -> VolumeConfiguration {
    VolumeConfiguration {
        name: v.name().to_string(),
        managed_ebs_volume: v.managed_ebs_volume().map(|e| ManagedEbsVolume {
            role_arn: e.role_arn().to_string(),
            encrypted: e.encrypted(),
            kms_key_id: e.kms_key_id().map(str::to_string),
            volume_type: e.volume_type().map(str::to_string),
            size_in_gib: e.size_in_gib(),
            snapshot_id: e.snapshot_id().map(str::to_string),
            volume_initialization_rate: e.volume_initialization_rate(),
            iops: e.iops(),
            throughput: e.throughput(),
            filesystem_type: e.filesystem_type().map(|f| f.as_str().to_string()),
            tag_specifications: e
                .tag_specifications()
                .iter()
                .map(|t| EbsTagSpecification {
                    resource_type: t.resource_type().as_str().to_string(),
                    tags: t.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect(),
                    propagate_tags: t.propagate_tags().map(|p| p.as_str().to_string()),
                })
                .collect(),
        }),
    }
}

fn lattice_from(l: &t::VpcLatticeConfiguration) -> VpcLattice {
    let a = l.advanced_configuration();
    VpcLattice {
        role_arn: l.role_arn().to_string(),
        target_group_arn: l.target_group_arn().to_string(),
        port_name: l.port_name().to_string(),
        alternate_target_group_arn: a.and_then(|a| a.alternate_target_group_arn()).map(str::to_string),
        production_listener_rule: a.and_then(|a| a.production_listener_rule()).map(str::to_string),
        test_listener_rule: a.and_then(|a| a.test_listener_rule()).map(str::to_string),
    }
}

/// `volumeConfigurations` as the SDK's.
pub(super) fn volumes_to(op: &str, v: &[VolumeConfiguration]) -> PortResult<Vec<t::ServiceVolumeConfiguration>> {
    v.iter()
        .map(|v| {
            let ebs = v.managed_ebs_volume.as_ref().map(|e| ebs_to(op, e)).transpose()?;
            t::ServiceVolumeConfiguration::builder().name(&v.name).set_managed_ebs_volume(ebs).build().map_err(|e| invalid(op, e))
        })
        .collect()
}

fn ebs_to(op: &str, e: &ManagedEbsVolume) -> PortResult<t::ServiceManagedEbsVolumeConfiguration> {
    let specs = e
        .tag_specifications
        .iter()
        .map(|s| {
            t::EbsTagSpecification::builder()
                .resource_type(t::EbsResourceType::from(s.resource_type.as_str()))
                .set_tags((!s.tags.is_empty()).then(|| tags(&s.tags)))
                .set_propagate_tags(s.propagate_tags.as_deref().map(t::PropagateTags::from))
                .build()
                .map_err(|e| invalid(op, e))
        })
        .collect::<PortResult<Vec<_>>>()?;
    t::ServiceManagedEbsVolumeConfiguration::builder()
        .role_arn(&e.role_arn)
        .set_encrypted(e.encrypted)
        .set_kms_key_id(e.kms_key_id.clone())
        .set_volume_type(e.volume_type.clone())
        .set_size_in_gib(e.size_in_gib)
        .set_snapshot_id(e.snapshot_id.clone())
        .set_volume_initialization_rate(e.volume_initialization_rate)
        .set_iops(e.iops)
        .set_throughput(e.throughput)
        .set_filesystem_type(e.filesystem_type.as_deref().map(t::TaskFilesystemType::from))
        .set_tag_specifications((!specs.is_empty()).then_some(specs))
        .build()
        .map_err(|e| invalid(op, e))
}

/// `vpcLatticeConfigurations` as the SDK's.
pub(super) fn lattice_to(op: &str, v: &[VpcLattice]) -> PortResult<Vec<t::VpcLatticeConfiguration>> {
    v.iter()
        .map(|l| {
            let adv = (l.alternate_target_group_arn.is_some() || l.production_listener_rule.is_some()).then(|| {
                t::VpcLatticeAdvancedConfiguration::builder()
                    .set_alternate_target_group_arn(l.alternate_target_group_arn.clone())
                    .set_production_listener_rule(l.production_listener_rule.clone())
                    .set_test_listener_rule(l.test_listener_rule.clone())
                    .build()
            });
            t::VpcLatticeConfiguration::builder()
                .role_arn(&l.role_arn)
                .target_group_arn(&l.target_group_arn)
                .port_name(&l.port_name)
                .set_advanced_configuration(adv)
                .build()
                .map_err(|e| invalid(op, e))
        })
        .collect()
}

fn connect_from(c: &t::ServiceConnectConfiguration) -> ServiceConnect {
    ServiceConnect {
        enabled: c.enabled(),
        namespace: c.namespace().map(str::to_string),
        services: c
            .services()
            .iter()
            .map(|s| ServiceConnectService {
                port_name: s.port_name().to_string(),
                discovery_name: s.discovery_name().map(str::to_string),
                client_aliases: s
                    .client_aliases()
                    .iter()
                    .map(|a| ClientAlias {
                        port: a.port(),
                        dns_name: a.dns_name().map(str::to_string),
                        test_traffic_header: a
                            .test_traffic_rules()
                            .and_then(|r| r.header())
                            .map(|h| TestTrafficHeader { name: h.name().to_string(), exact: h.value().map(|v| v.exact().to_string()) }),
                    })
                    .collect(),
                ingress_port_override: s.ingress_port_override(),
                timeout: s.timeout().map(|t| ConnectTimeout {
                    idle_timeout_seconds: t.idle_timeout_seconds(),
                    per_request_timeout_seconds: t.per_request_timeout_seconds(),
                }),
                tls: s.tls().map(|t| ConnectTls {
                    aws_pca_authority_arn: t.issuer_certificate_authority().and_then(|a| a.aws_pca_authority_arn()).map(str::to_string),
                    kms_key: t.kms_key().map(str::to_string),
                    role_arn: t.role_arn().map(str::to_string),
                }),
            })
            .collect(),
        log_configuration: c.log_configuration().map(|l| ConnectLog {
            log_driver: l.log_driver().as_str().to_string(),
            options: l.options().map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
            secret_options: l
                .secret_options()
                .iter()
                .map(|x| ConnectSecret { name: x.name().to_string(), value_from: x.value_from().to_string() })
                .collect(),
        }),
        access_log: c.access_log_configuration().map(|a| ConnectAccessLog {
            format: a.format().as_str().to_string(),
            include_query_parameters: a.include_query_parameters().map(|q| q.as_str().to_string()),
        }),
    }
}

/// The definition's settings as SDK values (only the fields it sets).
#[derive(Default)]
pub(super) struct Sdk {
    pub(crate) network: Option<t::NetworkConfiguration>,
    pub(crate) capacity_provider_strategy: Option<Vec<t::CapacityProviderStrategyItem>>,
    pub(crate) load_balancers: Option<Vec<t::LoadBalancer>>,
    pub(crate) service_registries: Option<Vec<t::ServiceRegistry>>,
    pub(crate) service_connect: Option<t::ServiceConnectConfiguration>,
    pub(crate) propagate_tags: Option<t::PropagateTags>,
    pub(crate) az_rebalancing: Option<t::AvailabilityZoneRebalancing>,
    pub(crate) controller: Option<t::DeploymentController>,
    pub(crate) tags: Option<Vec<t::Tag>>,
    pub(crate) volume_configurations: Option<Vec<t::ServiceVolumeConfiguration>>,
    pub(crate) vpc_lattice: Option<Vec<t::VpcLatticeConfiguration>>,
}

fn invalid(op: &str, e: impl std::fmt::Display) -> PortError {
    PortError::Rejected { op: op.into(), code: "InvalidRequest".into(), message: e.to_string() }
}

fn network_to(op: &str, n: &crate::servicedef::NetworkDef) -> PortResult<t::NetworkConfiguration> {
    let n = merged_network(n, None);
    let vpc = t::AwsVpcConfiguration::builder()
        .set_subnets(Some(n.subnets))
        .set_security_groups(Some(n.security_groups))
        .assign_public_ip(if n.assign_public_ip { t::AssignPublicIp::Enabled } else { t::AssignPublicIp::Disabled })
        .build()
        .map_err(|e| invalid(op, e))?;
    Ok(t::NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
}

fn capacity_to(op: &str, items: &[CapacityProviderItem]) -> PortResult<Vec<t::CapacityProviderStrategyItem>> {
    items
        .iter()
        .map(|c| t::CapacityProviderStrategyItem::builder().capacity_provider(&c.capacity_provider).base(c.base).weight(c.weight).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(op, e))
}

pub(super) fn to_sdk(op: &str, d: &ServiceDefinition) -> PortResult<Sdk> {
    Ok(Sdk {
        network: d.network.as_ref().map(|n| network_to(op, n)).transpose()?,
        capacity_provider_strategy: d.capacity_provider_strategy.as_deref().map(|c| capacity_to(op, c)).transpose()?,
        load_balancers: d.load_balancers.as_ref().map(|l| {
            l.iter()
                .map(|l| {
                    t::LoadBalancer::builder()
                        .target_group_arn(&l.target_group_arn)
                        .container_name(&l.container_name)
                        .container_port(l.container_port)
                        .set_advanced_configuration(l.advanced.as_ref().map(|a| {
                            t::AdvancedConfiguration::builder()
                                .alternate_target_group_arn(&a.alternate_target_group_arn)
                                .production_listener_rule(&a.production_listener_rule)
                                .set_test_listener_rule(a.test_listener_rule.clone())
                                .role_arn(&a.role_arn)
                                .build()
                        }))
                        .build()
                })
                .collect()
        }),
        service_registries: d.service_registries.as_ref().map(|r| {
            r.iter()
                .map(|r| {
                    t::ServiceRegistry::builder()
                        .registry_arn(&r.registry_arn)
                        .set_port(r.port)
                        .set_container_name(r.container_name.clone())
                        .set_container_port(r.container_port)
                        .build()
                })
                .collect()
        }),
        service_connect: d.service_connect.as_ref().map(|c| connect_to(op, c)).transpose()?,
        propagate_tags: d.propagate_tags.map(|p| t::PropagateTags::from(p.as_str())),
        az_rebalancing: d.availability_zone_rebalancing.map(|a| t::AvailabilityZoneRebalancing::from(a.as_str())),
        controller: d
            .deployment_controller
            .map(|c| t::DeploymentController::builder().r#type(t::DeploymentControllerType::from(c.as_str())).build())
            .transpose()
            .map_err(|e| invalid(op, e))?,
        tags: d.tags.as_ref().map(tags),
        volume_configurations: d.volume_configurations.as_deref().map(|v| volumes_to(op, v)).transpose()?,
        vpc_lattice: d.vpc_lattice.as_deref().map(|v| lattice_to(op, v)).transpose()?,
    })
}

pub(super) fn tags(m: &std::collections::BTreeMap<String, String>) -> Vec<t::Tag> {
    m.iter().map(|(k, v)| t::Tag::builder().key(k).value(v).build()).collect()
}

fn connect_to(op: &str, c: &ServiceConnect) -> PortResult<t::ServiceConnectConfiguration> {
    let mut services = Vec::new();
    for s in &c.services {
        let aliases = s
            .client_aliases
            .iter()
            .map(|a| {
                let rules = match &a.test_traffic_header {
                    Some(h) => {
                        let value = match &h.exact {
                            Some(x) => Some(t::ServiceConnectTestTrafficHeaderMatchRules::builder().exact(x).build()?),
                            None => None,
                        };
                        let header = t::ServiceConnectTestTrafficHeaderRules::builder().name(&h.name).set_value(value).build()?;
                        Some(t::ServiceConnectTestTrafficRules::builder().header(header).build())
                    }
                    None => None,
                };
                t::ServiceConnectClientAlias::builder().port(a.port).set_dns_name(a.dns_name.clone()).set_test_traffic_rules(rules).build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(op, e))?;
        let timeout = s.timeout.as_ref().map(|t| {
            t::TimeoutConfiguration::builder()
                .set_idle_timeout_seconds(t.idle_timeout_seconds)
                .set_per_request_timeout_seconds(t.per_request_timeout_seconds)
                .build()
        });
        let tls = s.tls.as_ref().map(|t| {
            t::ServiceConnectTlsConfiguration::builder()
                .set_issuer_certificate_authority(
                    t.aws_pca_authority_arn
                        .clone()
                        .map(|a| t::ServiceConnectTlsCertificateAuthority::builder().aws_pca_authority_arn(a).build()),
                )
                .set_kms_key(t.kms_key.clone())
                .set_role_arn(t.role_arn.clone())
                .build()
        });
        let svc = t::ServiceConnectService::builder()
            .port_name(&s.port_name)
            .set_discovery_name(s.discovery_name.clone())
            .set_client_aliases((!aliases.is_empty()).then_some(aliases))
            .set_ingress_port_override(s.ingress_port_override)
            .set_timeout(timeout)
            .set_tls(tls)
            .build()
            .map_err(|e| invalid(op, e))?;
        services.push(svc);
    }
    let (log, access) = (connect_log_to(op, c)?, connect_access_to(op, c)?);
    Ok(t::ServiceConnectConfiguration::builder()
        .enabled(c.enabled)
        .set_namespace(c.namespace.clone())
        .set_services((!services.is_empty()).then_some(services))
        .set_log_configuration(log)
        .set_access_log_configuration(access)
        .build())
}

fn connect_log_to(op: &str, c: &ServiceConnect) -> PortResult<Option<t::LogConfiguration>> {
    Ok(match &c.log_configuration {
        Some(l) => Some(
            t::LogConfiguration::builder()
                .log_driver(t::LogDriver::from(l.log_driver.as_str()))
                .set_options((!l.options.is_empty()).then(|| l.options.clone().into_iter().collect()))
                .set_secret_options(
                    (!l.secret_options.is_empty())
                        .then(|| {
                            l.secret_options
                                .iter()
                                .map(|x| t::Secret::builder().name(&x.name).value_from(&x.value_from).build())
                                .collect::<Result<Vec<_>, _>>()
                        })
                        .transpose()
                        .map_err(|e| invalid(op, e))?,
                )
                .build()
                .map_err(|e| invalid(op, e))?,
        ),
        None => None,
    })
}

fn connect_access_to(op: &str, c: &ServiceConnect) -> PortResult<Option<t::ServiceConnectAccessLogConfiguration>> {
    Ok(match &c.access_log {
        Some(a) => Some(
            t::ServiceConnectAccessLogConfiguration::builder()
                .format(t::ServiceConnectAccessLoggingFormat::from(a.format.as_str()))
                .set_include_query_parameters(a.include_query_parameters.as_deref().map(t::ServiceConnectIncludeQueryParameters::from))
                .build()
                .map_err(|e| invalid(op, e))?,
        ),
        None => None,
    })
}

/// What DescribeServices says about a service that is identity or state, not a setting.
const SERVICE_STATE: &[&str] = &[
    "serviceArn",
    "serviceName",
    "clusterArn",
    "status",
    "desiredCount",
    "runningCount",
    "pendingCount",
    "launchType",
    "platformFamily",
    "taskDefinition",
    "taskSets",
    "deployments",
    "roleArn",
    "events",
    "createdAt",
    "createdBy",
    "currentServiceDeployment",
    "currentServiceRevisions",
    "placementConstraints",
    "placementStrategy",
    "schedulingStrategy",
    "resourceManagementType",
];

/// What a `Deployment` says that is state, or read from the service itself.
const DEPLOYMENT_STATE: &[&str] = &[
    "id",
    "status",
    "taskDefinition",
    "desiredCount",
    "pendingCount",
    "runningCount",
    "failedTasks",
    "createdAt",
    "updatedAt",
    "capacityProviderStrategy",
    "launchType",
    "platformVersion",
    "platformFamily",
    "networkConfiguration",
    "rolloutState",
    "rolloutStateReason",
    "serviceConnectResources",
    "fargateEphemeralStorage",
];

/// Every setting path fgdeploy reads back (`[]`: a list's elements; a trailing `*`: any key or
/// document below). A value anywhere else is a setting this build cannot carry.
const READ_PATHS: &[&str] = &[
    "capacityProviderStrategy[].capacityProvider",
    "capacityProviderStrategy[].base",
    "capacityProviderStrategy[].weight",
    "platformVersion",
    "loadBalancers[].targetGroupArn",
    "loadBalancers[].containerName",
    "loadBalancers[].containerPort",
    "loadBalancers[].advancedConfiguration.alternateTargetGroupArn",
    "loadBalancers[].advancedConfiguration.productionListenerRule",
    "loadBalancers[].advancedConfiguration.testListenerRule",
    "loadBalancers[].advancedConfiguration.roleArn",
    "serviceRegistries[].registryArn",
    "serviceRegistries[].port",
    "serviceRegistries[].containerName",
    "serviceRegistries[].containerPort",
    "networkConfiguration.awsvpcConfiguration.subnets[]",
    "networkConfiguration.awsvpcConfiguration.securityGroups[]",
    "networkConfiguration.awsvpcConfiguration.assignPublicIp",
    "healthCheckGracePeriodSeconds",
    "deploymentController.type",
    "enableECSManagedTags",
    "propagateTags",
    "enableExecuteCommand",
    "availabilityZoneRebalancing",
    "tags[].key",
    "tags[].value",
    "deploymentConfiguration.minimumHealthyPercent",
    "deploymentConfiguration.maximumPercent",
    "deploymentConfiguration.deploymentCircuitBreaker.enable",
    "deploymentConfiguration.deploymentCircuitBreaker.rollback",
    "deploymentConfiguration.deploymentCircuitBreaker.resetOnHealthyTask",
    "deploymentConfiguration.deploymentCircuitBreaker.thresholdConfiguration.type",
    "deploymentConfiguration.deploymentCircuitBreaker.thresholdConfiguration.value",
    "deploymentConfiguration.alarms.alarmNames[]",
    "deploymentConfiguration.alarms.enable",
    "deploymentConfiguration.alarms.rollback",
    "deploymentConfiguration.strategy",
    "deploymentConfiguration.bakeTimeInMinutes",
    "deploymentConfiguration.lifecycleHooks[].hookTargetArn",
    "deploymentConfiguration.lifecycleHooks[].roleArn",
    "deploymentConfiguration.lifecycleHooks[].lifecycleStages[]",
    "deploymentConfiguration.lifecycleHooks[].hookDetails*",
    "deploymentConfiguration.lifecycleHooks[].targetType",
    "deploymentConfiguration.lifecycleHooks[].timeoutConfiguration.timeoutInMinutes",
    "deploymentConfiguration.lifecycleHooks[].timeoutConfiguration.action",
    "deploymentConfiguration.linearConfiguration.stepPercent",
    "deploymentConfiguration.linearConfiguration.stepBakeTimeInMinutes",
    "deploymentConfiguration.canaryConfiguration.canaryPercent",
    "deploymentConfiguration.canaryConfiguration.canaryBakeTimeInMinutes",
    "deploymentConfiguration.earlySuccessCriteria.enable",
    "deploymentConfiguration.earlySuccessCriteria.healthyPercent",
    "deploymentConfiguration.earlySuccessCriteria.sourceServiceRevisionCleanup",
    "serviceConnectConfiguration.enabled",
    "serviceConnectConfiguration.namespace",
    "serviceConnectConfiguration.services[].portName",
    "serviceConnectConfiguration.services[].discoveryName",
    "serviceConnectConfiguration.services[].clientAliases[].port",
    "serviceConnectConfiguration.services[].clientAliases[].dnsName",
    "serviceConnectConfiguration.services[].clientAliases[].testTrafficRules.header.name",
    "serviceConnectConfiguration.services[].clientAliases[].testTrafficRules.header.value.exact",
    "serviceConnectConfiguration.services[].ingressPortOverride",
    "serviceConnectConfiguration.services[].timeout.idleTimeoutSeconds",
    "serviceConnectConfiguration.services[].timeout.perRequestTimeoutSeconds",
    "serviceConnectConfiguration.services[].tls.issuerCertificateAuthority.awsPcaAuthorityArn",
    "serviceConnectConfiguration.services[].tls.kmsKey",
    "serviceConnectConfiguration.services[].tls.roleArn",
    "serviceConnectConfiguration.logConfiguration.logDriver",
    "serviceConnectConfiguration.logConfiguration.options*",
    "serviceConnectConfiguration.logConfiguration.secretOptions[].name",
    "serviceConnectConfiguration.logConfiguration.secretOptions[].valueFrom",
    "serviceConnectConfiguration.accessLogConfiguration.format",
    "serviceConnectConfiguration.accessLogConfiguration.includeQueryParameters",
    "volumeConfigurations[].name",
    "volumeConfigurations[].managedEBSVolume.encrypted",
    "volumeConfigurations[].managedEBSVolume.kmsKeyId",
    "volumeConfigurations[].managedEBSVolume.volumeType",
    "volumeConfigurations[].managedEBSVolume.sizeInGiB",
    "volumeConfigurations[].managedEBSVolume.snapshotId",
    "volumeConfigurations[].managedEBSVolume.volumeInitializationRate",
    "volumeConfigurations[].managedEBSVolume.iops",
    "volumeConfigurations[].managedEBSVolume.throughput",
    "volumeConfigurations[].managedEBSVolume.tagSpecifications[].resourceType",
    "volumeConfigurations[].managedEBSVolume.tagSpecifications[].tags[].key",
    "volumeConfigurations[].managedEBSVolume.tagSpecifications[].tags[].value",
    "volumeConfigurations[].managedEBSVolume.tagSpecifications[].propagateTags",
    "volumeConfigurations[].managedEBSVolume.roleArn",
    "volumeConfigurations[].managedEBSVolume.filesystemType",
    "vpcLatticeConfigurations[].roleArn",
    "vpcLatticeConfigurations[].targetGroupArn",
    "vpcLatticeConfigurations[].portName",
    "vpcLatticeConfigurations[].advancedConfiguration.alternateTargetGroupArn",
    "vpcLatticeConfigurations[].advancedConfiguration.productionListenerRule",
    "vpcLatticeConfigurations[].advancedConfiguration.testListenerRule",
];

fn read_back(path: &str) -> bool {
    READ_PATHS.iter().any(|r| match r.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => path == *r,
    })
}

/// The settings in a raw DescribeServices `service` (its own members and those of its PRIMARY
/// deployment) that this build does not read: each a path in UpdateService's spelling, e.g.
/// `serviceConnectConfiguration.services[].containerConfigurations`. A member newer than the SDK
/// is dropped by its parser silently; this is how fgdeploy knows it is there.
pub(super) fn uncarried(raw: &serde_json::Value) -> Vec<String> {
    let mut paths = Vec::new();
    if let Some(m) = raw.as_object() {
        for (k, v) in m.iter().filter(|(k, _)| !SERVICE_STATE.contains(&k.as_str())) {
            super::json::meaningful_paths(v, k, &mut paths);
        }
    }
    let primary = raw["deployments"].as_array().into_iter().flatten().find(|d| d["status"] == "PRIMARY");
    if let Some(m) = primary.and_then(|d| d.as_object()) {
        for (k, v) in m.iter().filter(|(k, _)| !DEPLOYMENT_STATE.contains(&k.as_str())) {
            super::json::meaningful_paths(v, k, &mut paths);
        }
    }
    paths.retain(|p| !read_back(p));
    paths.sort();
    paths.dedup();
    paths
}
