//! Task definition ⇄ SDK, field by field. Every input field of RegisterTaskDefinition is mapped
//! both ways; the round-trip test against the emulator proves none is dropped.
// inferenceAccelerators is deprecated by AWS but still an input field: it must round-trip.
#![allow(deprecated)]

use crate::taskdef::model::*;
use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder;
use aws_sdk_ecs::types as t;
use aws_smithy_types::error::operation::BuildError;
use std::collections::{BTreeMap, HashMap};

type R<T> = Result<T, BuildError>;

fn en<T: for<'a> From<&'a str>>(s: &Option<String>) -> Option<T> {
    s.as_deref().map(T::from)
}
fn ens<T: for<'a> From<&'a str>>(v: &Option<Vec<String>>) -> Option<Vec<T>> {
    v.as_ref().map(|v| v.iter().map(|s| T::from(s.as_str())).collect())
}
fn hm(m: &Option<BTreeMap<String, String>>) -> Option<HashMap<String, String>> {
    m.as_ref().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}
fn bm(m: Option<&HashMap<String, String>>) -> Option<BTreeMap<String, String>> {
    m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}
fn map_vec<A, B>(v: &Option<Vec<A>>, f: impl Fn(&A) -> R<B>) -> R<Option<Vec<B>>> {
    v.as_ref().map(|v| v.iter().map(f).collect()).transpose()
}
fn opt_vec<A, B>(v: &[A], f: impl Fn(&A) -> B) -> Option<Vec<B>> {
    // The SDK reports absent lists as empty; the normal form treats both alike.
    if v.is_empty() { None } else { Some(v.iter().map(f).collect()) }
}
fn strs(v: &[String]) -> Option<Vec<String>> {
    if v.is_empty() { None } else { Some(v.to_vec()) }
}

fn kv(k: &KeyValuePair) -> R<t::KeyValuePair> {
    Ok(t::KeyValuePair::builder().set_name(k.name.clone()).set_value(k.value.clone()).build())
}
fn secret(s: &Secret) -> R<t::Secret> {
    t::Secret::builder().name(&s.name).value_from(&s.value_from).build()
}

/// Fill a RegisterTaskDefinition request from the model.
pub(crate) fn to_request(b: RegisterTaskDefinitionFluentBuilder, td: &TaskDefinition) -> R<RegisterTaskDefinitionFluentBuilder> {
    let containers = td.container_definitions.iter().map(container_to).collect::<R<Vec<_>>>()?;
    Ok(b.family(&td.family)
        .set_task_role_arn(td.task_role_arn.clone())
        .set_execution_role_arn(td.execution_role_arn.clone())
        .set_network_mode(en(&td.network_mode))
        .set_container_definitions(Some(containers))
        .set_volumes(map_vec(&td.volumes, volume_to)?)
        .set_placement_constraints(map_vec(&td.placement_constraints, |p| {
            Ok(t::TaskDefinitionPlacementConstraint::builder().set_type(en(&p.kind)).set_expression(p.expression.clone()).build())
        })?)
        .set_requires_compatibilities(ens(&td.requires_compatibilities))
        .set_cpu(td.cpu.as_ref().map(StrOrNum::as_string))
        .set_memory(td.memory.as_ref().map(StrOrNum::as_string))
        .set_tags(map_vec(&td.tags, |x| Ok(t::Tag::builder().set_key(x.key.clone()).set_value(x.value.clone()).build()))?)
        .set_pid_mode(en(&td.pid_mode))
        .set_ipc_mode(en(&td.ipc_mode))
        .set_proxy_configuration(
            td.proxy_configuration
                .as_ref()
                .map(|p| {
                    t::ProxyConfiguration::builder()
                        .set_type(en(&p.kind))
                        .container_name(&p.container_name)
                        .set_properties(map_vec(&p.properties, kv)?)
                        .build()
                })
                .transpose()?,
        )
        .set_inference_accelerators(map_vec(&td.inference_accelerators, |a| {
            t::InferenceAccelerator::builder().device_name(&a.device_name).device_type(&a.device_type).build()
        })?)
        .set_ephemeral_storage(td.ephemeral_storage.as_ref().map(|e| t::EphemeralStorage::builder().size_in_gib(e.size_in_gi_b).build()))
        .set_runtime_platform(td.runtime_platform.as_ref().map(|r| {
            t::RuntimePlatform::builder()
                .set_cpu_architecture(en(&r.cpu_architecture))
                .set_operating_system_family(en(&r.operating_system_family))
                .build()
        }))
        .set_enable_fault_injection(td.enable_fault_injection))
}

fn efs_to(e: &EfsVolumeConfiguration) -> R<t::EfsVolumeConfiguration> {
    t::EfsVolumeConfiguration::builder()
        .file_system_id(&e.file_system_id)
        .set_root_directory(e.root_directory.clone())
        .set_transit_encryption(en(&e.transit_encryption))
        .set_transit_encryption_port(e.transit_encryption_port)
        .set_authorization_config(
            e.authorization_config
                .as_ref()
                .map(|a| t::EfsAuthorizationConfig::builder().set_access_point_id(a.access_point_id.clone()).set_iam(en(&a.iam)).build()),
        )
        .build()
}

fn fsx_to(f: &FsxVolumeConfiguration) -> R<t::FSxWindowsFileServerVolumeConfiguration> {
    let auth = t::FSxWindowsFileServerAuthorizationConfig::builder()
        .credentials_parameter(&f.authorization_config.credentials_parameter)
        .domain(&f.authorization_config.domain)
        .build()?;
    t::FSxWindowsFileServerVolumeConfiguration::builder()
        .file_system_id(&f.file_system_id)
        .root_directory(&f.root_directory)
        .authorization_config(auth)
        .build()
}

fn volume_to(v: &Volume) -> R<t::Volume> {
    Ok(t::Volume::builder()
        .set_name(v.name.clone())
        .set_host(v.host.as_ref().map(|h| t::HostVolumeProperties::builder().set_source_path(h.source_path.clone()).build()))
        .set_docker_volume_configuration(v.docker_volume_configuration.as_ref().map(|d| {
            t::DockerVolumeConfiguration::builder()
                .set_scope(en(&d.scope))
                .set_autoprovision(d.autoprovision)
                .set_driver(d.driver.clone())
                .set_driver_opts(hm(&d.driver_opts))
                .set_labels(hm(&d.labels))
                .build()
        }))
        .set_efs_volume_configuration(v.efs_volume_configuration.as_ref().map(efs_to).transpose()?)
        .set_s3files_volume_configuration(
            v.s3files_volume_configuration
                .as_ref()
                .map(|f| {
                    t::S3FilesVolumeConfiguration::builder()
                        .file_system_arn(&f.file_system_arn)
                        .set_root_directory(f.root_directory.clone())
                        .set_transit_encryption_port(f.transit_encryption_port)
                        .set_access_point_arn(f.access_point_arn.clone())
                        .build()
                })
                .transpose()?,
        )
        .set_fsx_windows_file_server_volume_configuration(v.fsx_windows_file_server_volume_configuration.as_ref().map(fsx_to).transpose()?)
        .set_configured_at_launch(v.configured_at_launch)
        .build())
}

fn linux_parameters_to(l: &LinuxParameters) -> R<t::LinuxParameters> {
    Ok(t::LinuxParameters::builder()
        .set_capabilities(
            l.capabilities.as_ref().map(|k| t::KernelCapabilities::builder().set_add(k.add.clone()).set_drop(k.drop.clone()).build()),
        )
        .set_devices(map_vec(&l.devices, |d| {
            t::Device::builder()
                .host_path(&d.host_path)
                .set_container_path(d.container_path.clone())
                .set_permissions(ens(&d.permissions))
                .build()
        })?)
        .set_init_process_enabled(l.init_process_enabled)
        .set_shared_memory_size(l.shared_memory_size)
        .set_tmpfs(map_vec(&l.tmpfs, |x| {
            t::Tmpfs::builder().container_path(&x.container_path).size(x.size).set_mount_options(x.mount_options.clone()).build()
        })?)
        .set_max_swap(l.max_swap)
        .set_swappiness(l.swappiness)
        .build())
}

fn log_configuration_to(l: &LogConfiguration) -> R<t::LogConfiguration> {
    t::LogConfiguration::builder()
        .log_driver(l.log_driver.as_str().into())
        .set_options(hm(&l.options))
        .set_secret_options(map_vec(&l.secret_options, secret)?)
        .build()
}

fn health_check_to(h: &HealthCheck) -> R<t::HealthCheck> {
    t::HealthCheck::builder()
        .set_command(Some(h.command.clone()))
        .set_interval(h.interval)
        .set_timeout(h.timeout)
        .set_retries(h.retries)
        .set_start_period(h.start_period)
        .build()
}

fn port_mapping_to(p: &PortMapping) -> R<t::PortMapping> {
    Ok(t::PortMapping::builder()
        .set_container_port(p.container_port)
        .set_host_port(p.host_port)
        .set_protocol(en(&p.protocol))
        .set_name(p.name.clone())
        .set_app_protocol(en(&p.app_protocol))
        .set_container_port_range(p.container_port_range.clone())
        .build())
}

fn restart_policy_to(r: &RestartPolicy) -> R<t::ContainerRestartPolicy> {
    t::ContainerRestartPolicy::builder()
        .enabled(r.enabled)
        .set_ignored_exit_codes(r.ignored_exit_codes.clone())
        .set_restart_attempt_period(r.restart_attempt_period)
        .build()
}

fn resource_requirement_to(r: &ResourceRequirement) -> R<t::ResourceRequirement> {
    t::ResourceRequirement::builder()
        .value(&r.value)
        .r#type(r.kind.as_str().into())
        .set_sharing_strategy(sharing_to(&r.sharing_strategy)?)
        .build()
}

fn container_to(c: &ContainerDefinition) -> R<t::ContainerDefinition> {
    let b = t::ContainerDefinition::builder()
        .name(&c.name)
        .set_image(c.image.clone())
        .set_repository_credentials(
            c.repository_credentials
                .as_ref()
                .map(|r| t::RepositoryCredentials::builder().credentials_parameter(&r.credentials_parameter).build())
                .transpose()?,
        )
        .set_cpu(c.cpu)
        .set_memory(c.memory)
        .set_memory_reservation(c.memory_reservation)
        .set_links(c.links.clone())
        .set_port_mappings(map_vec(&c.port_mappings, port_mapping_to)?)
        .set_essential(c.essential)
        .set_restart_policy(c.restart_policy.as_ref().map(restart_policy_to).transpose()?)
        .set_entry_point(c.entry_point.clone())
        .set_command(c.command.clone())
        .set_environment(map_vec(&c.environment, kv)?)
        .set_environment_files(map_vec(&c.environment_files, |f| {
            t::EnvironmentFile::builder().value(&f.value).r#type(f.kind.as_str().into()).build()
        })?)
        .set_mount_points(map_vec(&c.mount_points, |m| {
            Ok(t::MountPoint::builder()
                .set_source_volume(m.source_volume.clone())
                .set_container_path(m.container_path.clone())
                .set_read_only(m.read_only)
                .build())
        })?)
        .set_volumes_from(map_vec(&c.volumes_from, |v| {
            Ok(t::VolumeFrom::builder().set_source_container(v.source_container.clone()).set_read_only(v.read_only).build())
        })?)
        .set_linux_parameters(c.linux_parameters.as_ref().map(linux_parameters_to).transpose()?);
    Ok(container_runtime_to(b, c)?.build())
}

/// The rest of a container: secrets, dependencies, timeouts, host and Docker settings, logs,
/// health check, resources.
fn container_runtime_to(b: t::builders::ContainerDefinitionBuilder, c: &ContainerDefinition) -> R<t::builders::ContainerDefinitionBuilder> {
    Ok(b.set_secrets(map_vec(&c.secrets, secret)?)
        .set_depends_on(map_vec(&c.depends_on, |d| {
            t::ContainerDependency::builder().container_name(&d.container_name).condition(d.condition.as_str().into()).build()
        })?)
        .set_start_timeout(c.start_timeout)
        .set_stop_timeout(c.stop_timeout)
        .set_version_consistency(en(&c.version_consistency))
        .set_hostname(c.hostname.clone())
        .set_user(c.user.clone())
        .set_working_directory(c.working_directory.clone())
        .set_disable_networking(c.disable_networking)
        .set_privileged(c.privileged)
        .set_readonly_root_filesystem(c.readonly_root_filesystem)
        .set_dns_servers(c.dns_servers.clone())
        .set_dns_search_domains(c.dns_search_domains.clone())
        .set_extra_hosts(map_vec(&c.extra_hosts, |h| t::HostEntry::builder().hostname(&h.hostname).ip_address(&h.ip_address).build())?)
        .set_docker_security_options(c.docker_security_options.clone())
        .set_interactive(c.interactive)
        .set_pseudo_terminal(c.pseudo_terminal)
        .set_docker_labels(hm(&c.docker_labels))
        .set_ulimits(map_vec(&c.ulimits, |u| {
            t::Ulimit::builder().name(u.name.as_str().into()).soft_limit(u.soft_limit).hard_limit(u.hard_limit).build()
        })?)
        .set_log_configuration(c.log_configuration.as_ref().map(log_configuration_to).transpose()?)
        .set_health_check(c.health_check.as_ref().map(health_check_to).transpose()?)
        .set_system_controls(map_vec(&c.system_controls, |s| {
            Ok(t::SystemControl::builder().set_namespace(s.namespace.clone()).set_value(s.value.clone()).build())
        })?)
        .set_resource_requirements(map_vec(&c.resource_requirements, resource_requirement_to)?)
        .set_firelens_configuration(
            c.firelens_configuration
                .as_ref()
                .map(|f| t::FirelensConfiguration::builder().r#type(f.kind.as_str().into()).set_options(hm(&f.options)).build())
                .transpose()?,
        )
        .set_credential_specs(c.credential_specs.clone()))
}

fn kv_from(k: &t::KeyValuePair) -> KeyValuePair {
    KeyValuePair { name: k.name().map(str::to_string), value: k.value().map(str::to_string) }
}
fn secret_from(s: &t::Secret) -> Secret {
    Secret { name: s.name().to_string(), value_from: s.value_from().to_string() }
}

/// The model from DescribeTaskDefinition's `taskDefinition` and `tags`.
pub(crate) fn from_sdk(td: &t::TaskDefinition, tags: &[t::Tag]) -> TaskDefinition {
    TaskDefinition {
        family: td.family().unwrap_or_default().to_string(),
        task_role_arn: td.task_role_arn().map(str::to_string),
        execution_role_arn: td.execution_role_arn().map(str::to_string),
        network_mode: td.network_mode().map(|x| x.as_str().to_string()),
        container_definitions: td.container_definitions().iter().map(container_from).collect(),
        volumes: opt_vec(td.volumes(), volume_from),
        placement_constraints: opt_vec(td.placement_constraints(), |p| PlacementConstraint {
            kind: p.r#type().map(|x| x.as_str().to_string()),
            expression: p.expression().map(str::to_string),
        }),
        requires_compatibilities: opt_vec(td.requires_compatibilities(), |c| c.as_str().to_string()),
        cpu: td.cpu().map(|s| StrOrNum::Str(s.to_string())),
        memory: td.memory().map(|s| StrOrNum::Str(s.to_string())),
        tags: opt_vec(tags, |x| Tag { key: x.key().map(str::to_string), value: x.value().map(str::to_string) }),
        pid_mode: td.pid_mode().map(|x| x.as_str().to_string()),
        ipc_mode: td.ipc_mode().map(|x| x.as_str().to_string()),
        proxy_configuration: td.proxy_configuration().map(|p| ProxyConfiguration {
            kind: p.r#type().map(|x| x.as_str().to_string()),
            container_name: p.container_name().to_string(),
            properties: opt_vec(p.properties(), kv_from),
        }),
        inference_accelerators: opt_vec(td.inference_accelerators(), |a| InferenceAccelerator {
            device_name: a.device_name().to_string(),
            device_type: a.device_type().to_string(),
        }),
        ephemeral_storage: td.ephemeral_storage().map(|e| EphemeralStorage { size_in_gi_b: e.size_in_gib() }),
        runtime_platform: td.runtime_platform().map(|r| RuntimePlatform {
            cpu_architecture: r.cpu_architecture().map(|x| x.as_str().to_string()),
            operating_system_family: r.operating_system_family().map(|x| x.as_str().to_string()),
        }),
        enable_fault_injection: td.enable_fault_injection(),
        ..Default::default()
    }
}

fn volume_from(v: &t::Volume) -> Volume {
    Volume {
        name: v.name().map(str::to_string),
        host: v.host().map(|h| HostVolumeProperties { source_path: h.source_path().map(str::to_string) }),
        docker_volume_configuration: v.docker_volume_configuration().map(|d| DockerVolumeConfiguration {
            scope: d.scope().map(|x| x.as_str().to_string()),
            autoprovision: d.autoprovision(),
            driver: d.driver().map(str::to_string),
            driver_opts: bm(d.driver_opts()),
            labels: bm(d.labels()),
        }),
        efs_volume_configuration: v.efs_volume_configuration().map(|e| EfsVolumeConfiguration {
            file_system_id: e.file_system_id().to_string(),
            root_directory: e.root_directory().map(str::to_string),
            transit_encryption: e.transit_encryption().map(|x| x.as_str().to_string()),
            transit_encryption_port: e.transit_encryption_port(),
            authorization_config: e.authorization_config().map(|a| EfsAuthorizationConfig {
                access_point_id: a.access_point_id().map(str::to_string),
                iam: a.iam().map(|x| x.as_str().to_string()),
            }),
        }),
        s3files_volume_configuration: v.s3files_volume_configuration().map(|f| S3FilesVolumeConfiguration {
            file_system_arn: f.file_system_arn().to_string(),
            root_directory: f.root_directory().map(str::to_string),
            transit_encryption_port: f.transit_encryption_port(),
            access_point_arn: f.access_point_arn().map(str::to_string),
        }),
        fsx_windows_file_server_volume_configuration: v.fsx_windows_file_server_volume_configuration().map(|f| FsxVolumeConfiguration {
            file_system_id: f.file_system_id().to_string(),
            root_directory: f.root_directory().to_string(),
            authorization_config: f
                .authorization_config()
                .map(|a| FsxAuthorizationConfig {
                    credentials_parameter: a.credentials_parameter().to_string(),
                    domain: a.domain().to_string(),
                })
                .unwrap_or_default(),
        }),
        configured_at_launch: v.configured_at_launch(),
    }
}

fn linux_parameters_from(l: &t::LinuxParameters) -> LinuxParameters {
    LinuxParameters {
        capabilities: l.capabilities().map(|k| KernelCapabilities { add: strs(k.add()), drop: strs(k.drop()) }),
        devices: opt_vec(l.devices(), |d| Device {
            host_path: d.host_path().to_string(),
            container_path: d.container_path().map(str::to_string),
            permissions: opt_vec(d.permissions(), |p| p.as_str().to_string()),
        }),
        init_process_enabled: l.init_process_enabled(),
        shared_memory_size: l.shared_memory_size(),
        tmpfs: opt_vec(l.tmpfs(), |x| Tmpfs {
            container_path: x.container_path().to_string(),
            size: x.size(),
            mount_options: strs(x.mount_options()),
        }),
        max_swap: l.max_swap(),
        swappiness: l.swappiness(),
    }
}

fn log_configuration_from(l: &t::LogConfiguration) -> LogConfiguration {
    LogConfiguration {
        log_driver: l.log_driver().as_str().to_string(),
        options: bm(l.options()),
        secret_options: opt_vec(l.secret_options(), secret_from),
    }
}

fn health_check_from(h: &t::HealthCheck) -> HealthCheck {
    HealthCheck {
        command: h.command().to_vec(),
        interval: h.interval(),
        timeout: h.timeout(),
        retries: h.retries(),
        start_period: h.start_period(),
    }
}

fn port_mapping_from(p: &t::PortMapping) -> PortMapping {
    PortMapping {
        container_port: p.container_port(),
        host_port: p.host_port(),
        protocol: p.protocol().map(|x| x.as_str().to_string()),
        name: p.name().map(str::to_string),
        app_protocol: p.app_protocol().map(|x| x.as_str().to_string()),
        container_port_range: p.container_port_range().map(str::to_string),
    }
}

fn container_from(c: &t::ContainerDefinition) -> ContainerDefinition {
    ContainerDefinition {
        name: c.name().unwrap_or_default().to_string(),
        image: c.image().map(str::to_string),
        repository_credentials: c
            .repository_credentials()
            .map(|r| RepositoryCredentials { credentials_parameter: r.credentials_parameter().into() }),
        cpu: Some(c.cpu()).filter(|x| *x != 0),
        memory: c.memory(),
        memory_reservation: c.memory_reservation(),
        links: strs(c.links()),
        port_mappings: opt_vec(c.port_mappings(), port_mapping_from),
        essential: c.essential(),
        restart_policy: c.restart_policy().map(restart_policy_from),
        entry_point: strs(c.entry_point()),
        command: strs(c.command()),
        environment: opt_vec(c.environment(), kv_from),
        environment_files: opt_vec(c.environment_files(), |f| EnvironmentFile {
            value: f.value().to_string(),
            kind: f.r#type().as_str().to_string(),
        }),
        mount_points: opt_vec(c.mount_points(), mount_point_from),
        volumes_from: opt_vec(c.volumes_from(), |v| VolumeFrom {
            source_container: v.source_container().map(str::to_string),
            read_only: v.read_only(),
        }),
        linux_parameters: c.linux_parameters().map(linux_parameters_from),
        secrets: opt_vec(c.secrets(), secret_from),
        depends_on: opt_vec(c.depends_on(), dependency_from),
        start_timeout: c.start_timeout(),
        stop_timeout: c.stop_timeout(),
        version_consistency: c.version_consistency().map(|x| x.as_str().to_string()),
        hostname: c.hostname().map(str::to_string),
        user: c.user().map(str::to_string),
        working_directory: c.working_directory().map(str::to_string),
        disable_networking: c.disable_networking(),
        privileged: c.privileged(),
        readonly_root_filesystem: c.readonly_root_filesystem(),
        dns_servers: strs(c.dns_servers()),
        dns_search_domains: strs(c.dns_search_domains()),
        extra_hosts: opt_vec(c.extra_hosts(), |h| HostEntry { hostname: h.hostname().to_string(), ip_address: h.ip_address().to_string() }),
        docker_security_options: strs(c.docker_security_options()),
        interactive: c.interactive(),
        pseudo_terminal: c.pseudo_terminal(),
        docker_labels: bm(c.docker_labels()),
        ulimits: opt_vec(c.ulimits(), ulimit_from),
        log_configuration: c.log_configuration().map(log_configuration_from),
        health_check: c.health_check().map(health_check_from),
        system_controls: opt_vec(c.system_controls(), |s| SystemControl {
            namespace: s.namespace().map(str::to_string),
            value: s.value().map(str::to_string),
        }),
        resource_requirements: opt_vec(c.resource_requirements(), resource_requirement_from),
        firelens_configuration: c
            .firelens_configuration()
            .map(|f| FirelensConfiguration { kind: f.r#type().as_str().to_string(), options: bm(f.options()) }),
        credential_specs: strs(c.credential_specs()),
    }
}

fn ulimit_from(u: &t::Ulimit) -> Ulimit {
    Ulimit { name: u.name().as_str().to_string(), soft_limit: u.soft_limit(), hard_limit: u.hard_limit() }
}

fn dependency_from(d: &t::ContainerDependency) -> ContainerDependency {
    ContainerDependency { container_name: d.container_name().to_string(), condition: d.condition().as_str().to_string() }
}

fn restart_policy_from(r: &t::ContainerRestartPolicy) -> RestartPolicy {
    RestartPolicy {
        enabled: r.enabled(),
        ignored_exit_codes: strs_i32(r.ignored_exit_codes()),
        restart_attempt_period: r.restart_attempt_period(),
    }
}

fn mount_point_from(m: &t::MountPoint) -> MountPoint {
    MountPoint {
        source_volume: m.source_volume().map(str::to_string),
        container_path: m.container_path().map(str::to_string),
        read_only: m.read_only(),
    }
}

fn resource_requirement_from(r: &t::ResourceRequirement) -> ResourceRequirement {
    ResourceRequirement {
        value: r.value().to_string(),
        kind: r.r#type().as_str().to_string(),
        sharing_strategy: r.sharing_strategy().map(|x| SharingStrategy {
            nvidia_mps: x.as_nvidia_mps().ok().map(|m| NvidiaMps { memory: m.memory, max_compute_percent: m.max_compute_percent }),
        }),
    }
}

fn sharing_to(s: &Option<SharingStrategy>) -> R<Option<t::SharingStrategy>> {
    match s.as_ref().and_then(|s| s.nvidia_mps.as_ref()) {
        Some(m) => Ok(Some(t::SharingStrategy::NvidiaMps(
            t::NvidiaMpsAllocation::builder().memory(m.memory).set_max_compute_percent(m.max_compute_percent).build()?,
        ))),
        None => Ok(None),
    }
}

fn strs_i32(v: &[i32]) -> Option<Vec<i32>> {
    if v.is_empty() { None } else { Some(v.to_vec()) }
}
