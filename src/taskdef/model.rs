//! The task-definition model: the `RegisterTaskDefinition` input as users write it
//! (`aws ecs register-task-definition --cli-input-json`, camelCase).
//!
//! Every struct denies unknown fields, so a typo is an error naming its JSON path instead of a
//! field silently dropped. The read-only fields of `DescribeTaskDefinition` are accepted and
//! ignored (see [`TaskDefinition`]), so `describe-task-definition` output can be pasted as is.
//! Enum-valued fields are kept as strings: AWS adds values faster than SDKs ship, and AWS itself
//! validates them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A string or a number in JSON, kept as a string (task-level `cpu` and `memory` are strings in
/// the API, but `"cpu": 256` is a common way to write them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub(crate) enum StrOrNum {
    Str(String),
    Num(i64),
}

impl StrOrNum {
    pub(crate) fn as_string(&self) -> String {
        match self {
            StrOrNum::Str(s) => s.clone(),
            StrOrNum::Num(n) => n.to_string(),
        }
    }
}

type Map = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskDefinition {
    pub(crate) family: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) task_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) execution_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) network_mode: Option<String>,
    pub container_definitions: Vec<ContainerDefinition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) volumes: Option<Vec<Volume>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) placement_constraints: Option<Vec<PlacementConstraint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) requires_compatibilities: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cpu: Option<StrOrNum>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) memory: Option<StrOrNum>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pid_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ipc_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) proxy_configuration: Option<ProxyConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) inference_accelerators: Option<Vec<InferenceAccelerator>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ephemeral_storage: Option<EphemeralStorage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) runtime_platform: Option<RuntimePlatform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) enable_fault_injection: Option<bool>,

    // Read-only fields of DescribeTaskDefinition: accepted so that its output can be pasted,
    // never sent to RegisterTaskDefinition and never serialized back.
    #[serde(default, skip_serializing)]
    pub(crate) task_definition_arn: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub(crate) revision: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub(crate) status: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub(crate) requires_attributes: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub(crate) compatibilities: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub(crate) registered_at: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub(crate) registered_by: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub(crate) deregistered_at: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub(crate) delete_requested_at: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerDefinition {
    pub(crate) name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) repository_credentials: Option<RepositoryCredentials>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cpu: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) memory: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) memory_reservation: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) links: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) port_mappings: Option<Vec<PortMapping>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) essential: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) restart_policy: Option<RestartPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) entry_point: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Vec<KeyValuePair>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) environment_files: Option<Vec<EnvironmentFile>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mount_points: Option<Vec<MountPoint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) volumes_from: Option<Vec<VolumeFrom>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) linux_parameters: Option<LinuxParameters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) secrets: Option<Vec<Secret>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) depends_on: Option<Vec<ContainerDependency>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) start_timeout: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stop_timeout: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) version_consistency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) working_directory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) disable_networking: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) privileged: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) readonly_root_filesystem: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) dns_servers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) dns_search_domains: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) extra_hosts: Option<Vec<HostEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) docker_security_options: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) interactive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pseudo_terminal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) docker_labels: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ulimits: Option<Vec<Ulimit>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) log_configuration: Option<LogConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) health_check: Option<HealthCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) system_controls: Option<Vec<SystemControl>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) resource_requirements: Option<Vec<ResourceRequirement>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) firelens_configuration: Option<FirelensConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) credential_specs: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RepositoryCredentials {
    pub(crate) credentials_parameter: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PortMapping {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) container_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) host_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) app_protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) container_port_range: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RestartPolicy {
    pub(crate) enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ignored_exit_codes: Option<Vec<i32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) restart_attempt_period: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyValuePair {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct EnvironmentFile {
    pub(crate) value: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct MountPoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) source_volume: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) container_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) read_only: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct VolumeFrom {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) source_container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) read_only: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct LinuxParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) capabilities: Option<KernelCapabilities>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) devices: Option<Vec<Device>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) init_process_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) shared_memory_size: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tmpfs: Option<Vec<Tmpfs>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_swap: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) swappiness: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct KernelCapabilities {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) add: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) drop: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Device {
    pub(crate) host_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) container_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) permissions: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Tmpfs {
    pub(crate) container_path: String,
    pub(crate) size: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mount_options: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Secret {
    pub(crate) name: String,
    pub(crate) value_from: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ContainerDependency {
    pub(crate) container_name: String,
    pub(crate) condition: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct HostEntry {
    pub(crate) hostname: String,
    pub(crate) ip_address: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Ulimit {
    pub(crate) name: String,
    pub(crate) soft_limit: i32,
    pub(crate) hard_limit: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct LogConfiguration {
    pub(crate) log_driver: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) options: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) secret_options: Option<Vec<Secret>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct HealthCheck {
    pub(crate) command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) interval: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timeout: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) retries: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) start_period: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SystemControl {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ResourceRequirement {
    pub(crate) value: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sharing_strategy: Option<SharingStrategy>,
}

/// GPU sharing (a union: exactly one member).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SharingStrategy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nvidia_mps: Option<NvidiaMps>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct NvidiaMps {
    pub(crate) memory: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_compute_percent: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct FirelensConfiguration {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) options: Option<Map>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Volume {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) host: Option<HostVolumeProperties>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) docker_volume_configuration: Option<DockerVolumeConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) efs_volume_configuration: Option<EfsVolumeConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) s3files_volume_configuration: Option<S3FilesVolumeConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) fsx_windows_file_server_volume_configuration: Option<FsxVolumeConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) configured_at_launch: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct HostVolumeProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) source_path: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DockerVolumeConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) autoprovision: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) driver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) driver_opts: Option<Map>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) labels: Option<Map>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct EfsVolumeConfiguration {
    pub(crate) file_system_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) root_directory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) transit_encryption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) transit_encryption_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) authorization_config: Option<EfsAuthorizationConfig>,
}

/// An Amazon S3 Files file system mounted as a volume.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct S3FilesVolumeConfiguration {
    pub(crate) file_system_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) root_directory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) transit_encryption_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) access_point_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct EfsAuthorizationConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) access_point_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) iam: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct FsxVolumeConfiguration {
    pub(crate) file_system_id: String,
    pub(crate) root_directory: String,
    pub(crate) authorization_config: FsxAuthorizationConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct FsxAuthorizationConfig {
    pub(crate) credentials_parameter: String,
    pub(crate) domain: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PlacementConstraint {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expression: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ProxyConfiguration {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<String>,
    pub(crate) container_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) properties: Option<Vec<KeyValuePair>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct InferenceAccelerator {
    pub(crate) device_name: String,
    pub(crate) device_type: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct EphemeralStorage {
    pub(crate) size_in_gi_b: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RuntimePlatform {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cpu_architecture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) operating_system_family: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tag {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}
