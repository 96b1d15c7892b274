//! ECS values both ways between the SDK's types and the ports'.

use super::json::{document_to_json, json_to_document};
use crate::ports::*;
use crate::states::SdStatus;
#[allow(unused_imports)]
use crate::states::*;
use aws_sdk_ecs::types as t;

pub(super) fn ts(d: Option<&aws_smithy_types::DateTime>) -> Option<Timestamp> {
    d.map(|d| d.as_secs_f64())
}

/// The rolling deployment configuration as the SDK's.
pub(super) fn deployment_configuration(op: &str, c: &DeploymentConfig) -> PortResult<t::DeploymentConfiguration> {
    Ok(deployment_configuration_builder(op, c)?.build())
}

/// The whole structure: UpdateService takes `deploymentConfiguration` as a whole, so every
/// member fgdeploy knows is sent, the lifecycle hooks as an explicit list (an empty one clears).
pub(super) fn deployment_configuration_builder(op: &str, c: &DeploymentConfig) -> PortResult<t::builders::DeploymentConfigurationBuilder> {
    let mut cfg =
        t::DeploymentConfiguration::builder().set_minimum_healthy_percent(c.minimum_healthy_percent).set_maximum_percent(c.maximum_percent);
    if let Some(cb) = &c.circuit_breaker {
        let threshold = match &cb.threshold {
            Some((kind, value)) => Some(
                t::ThresholdConfiguration::builder()
                    .r#type(t::ThresholdType::from(kind.as_str()))
                    .value(*value)
                    .build()
                    .map_err(|e| PortError::Rejected { op: op.into(), code: "InvalidRequest".into(), message: e.to_string() })?,
            ),
            None => None,
        };
        cfg = cfg.deployment_circuit_breaker(
            t::DeploymentCircuitBreaker::builder()
                .enable(cb.enable)
                .rollback(cb.rollback)
                .set_reset_on_healthy_task(cb.reset_on_healthy_task)
                .set_threshold_configuration(threshold)
                .build(),
        );
    }
    if let Some(a) = &c.alarms {
        let alarms = t::DeploymentAlarms::builder()
            .set_alarm_names(Some(a.names.clone()))
            .enable(a.enable)
            .rollback(a.rollback)
            .build()
            .map_err(|e| PortError::Rejected { op: op.into(), code: "InvalidRequest".into(), message: e.to_string() })?;
        cfg = cfg.alarms(alarms);
    }
    let early = c.early_success.as_ref().map(|(enable, pct, cleanup)| {
        t::DeploymentEarlySuccessCriteria::builder()
            .enable(*enable)
            .set_healthy_percent(*pct)
            .set_source_service_revision_cleanup(cleanup.as_deref().map(t::ServiceRevisionCleanup::from))
            .build()
    });
    if let Some((p, m)) = c.linear {
        cfg = cfg.linear_configuration(t::LinearConfiguration::builder().step_percent(p).step_bake_time_in_minutes(m).build());
    }
    if let Some((p, m)) = c.canary {
        cfg = cfg.canary_configuration(t::CanaryConfiguration::builder().canary_percent(p).canary_bake_time_in_minutes(m).build());
    }
    Ok(cfg
        .set_strategy(c.strategy.as_ref().map(|s| t::DeploymentStrategy::from(s.as_str())))
        .set_bake_time_in_minutes(c.bake_time_minutes)
        .set_lifecycle_hooks(Some(c.lifecycle_hooks.iter().map(hook_to_sdk).collect()))
        .set_early_success_criteria(early))
}

pub(super) fn hook_to_sdk(h: &LifecycleHook) -> t::DeploymentLifecycleHook {
    let timeout = (h.timeout_minutes.is_some() || h.timeout_action.is_some()).then(|| {
        t::DeploymentLifecycleHookTimeoutConfiguration::builder()
            .set_timeout_in_minutes(h.timeout_minutes)
            .set_action(h.timeout_action.as_ref().map(|a| t::DeploymentLifecycleHookAction::from(a.as_str())))
            .build()
    });
    t::DeploymentLifecycleHook::builder()
        .target_type(t::DeploymentLifecycleHookTargetType::from(h.target_type.as_str()))
        .set_hook_target_arn(h.hook_target_arn.clone())
        .set_role_arn(h.role_arn.clone())
        .set_lifecycle_stages(Some(h.stages.iter().map(|s| t::DeploymentLifecycleHookStage::from(s.as_str())).collect()))
        .set_hook_details(h.details.as_ref().map(json_to_document))
        .set_timeout_configuration(timeout)
        .build()
}

pub(super) fn hook_from_sdk(h: &t::DeploymentLifecycleHook) -> LifecycleHook {
    LifecycleHook {
        target_type: h
            .target_type()
            .map_or(crate::states::HookTargetType::AwsLambda, |t| crate::states::HookTargetType::from_aws(t.as_str())),
        hook_target_arn: h.hook_target_arn().map(str::to_string),
        role_arn: h.role_arn().map(str::to_string),
        stages: h.lifecycle_stages().iter().map(|s| crate::states::LifecycleStage::from_aws(s.as_str())).collect(),
        timeout_minutes: h.timeout_configuration().and_then(|c| c.timeout_in_minutes()),
        timeout_action: h.timeout_configuration().and_then(|c| c.action()).map(|a| crate::states::HookAction::from_aws(a.as_str())),
        details: h.hook_details().map(document_to_json),
    }
}

/// CreateService's idempotency token (36 characters at most): a retried call after a lost
/// response must not fail as "not idempotent" or create anything twice.
pub(super) fn create_token(req: &CreateService) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("{}/{}/{}", req.cluster, req.service, req.task_definition));
    let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
    format!("fgdeploy-{}", &hex[..27])
}

/// The `[service.definition]` settings on an UpdateService or CreateService builder.
macro_rules! with_settings {
    ($b:expr, $d:expr, $sdk:expr) => {
        $b.set_network_configuration($sdk.network)
            .set_capacity_provider_strategy($sdk.capacity_provider_strategy)
            .set_load_balancers($sdk.load_balancers)
            .set_service_registries($sdk.service_registries)
            .set_service_connect_configuration($sdk.service_connect)
            .set_propagate_tags($sdk.propagate_tags)
            .set_availability_zone_rebalancing($sdk.az_rebalancing)
            .set_deployment_controller($sdk.controller)
            .set_platform_version($d.platform_version.clone())
            .set_health_check_grace_period_seconds($d.health_check_grace_period_seconds)
            .set_enable_execute_command($d.enable_execute_command)
            .set_enable_ecs_managed_tags($d.enable_ecs_managed_tags)
            .set_volume_configurations($sdk.volume_configurations)
            .set_vpc_lattice_configurations($sdk.vpc_lattice)
    };
}

/// A service's deployment configuration, every member fgdeploy carries.
pub(super) fn deployment_config_from(c: &t::DeploymentConfiguration) -> DeploymentConfig {
    DeploymentConfig {
        minimum_healthy_percent: c.minimum_healthy_percent(),
        maximum_percent: c.maximum_percent(),
        circuit_breaker: c.deployment_circuit_breaker().map(|b| CircuitBreaker {
            enable: b.enable(),
            rollback: b.rollback(),
            reset_on_healthy_task: b.reset_on_healthy_task(),
            threshold: b.threshold_configuration().map(|t| (t.r#type().as_str().to_string(), t.value())),
        }),
        alarms: c.alarms().map(|a| Alarms { names: a.alarm_names().to_vec(), enable: a.enable(), rollback: a.rollback() }),
        bake_time_minutes: c.bake_time_in_minutes(),
        lifecycle_hooks: c.lifecycle_hooks().iter().map(hook_from_sdk).collect(),
        early_success: c
            .early_success_criteria()
            .map(|e| (e.enable(), e.healthy_percent(), e.source_service_revision_cleanup().map(|x| x.as_str().to_string()))),
        strategy: c.strategy().map(|s| crate::states::DeploymentStrategy::from_aws(s.as_str())),
        linear: c.linear_configuration().map(|l| (l.step_percent().unwrap_or(0.0), l.step_bake_time_in_minutes().unwrap_or(0))),
        canary: c.canary_configuration().map(|l| (l.canary_percent().unwrap_or(0.0), l.canary_bake_time_in_minutes().unwrap_or(0))),
    }
}

pub(super) fn service_from(s: &t::Service) -> ServiceState {
    let dc = s.deployment_configuration();
    let mut st = ServiceState {
        arn: s.service_arn().unwrap_or_default().to_string(),
        name: s.service_name().unwrap_or_default().to_string(),
        cluster_arn: s.cluster_arn().unwrap_or_default().to_string(),
        status: crate::states::ServiceStatus::from_aws(s.status().unwrap_or_default()),
        desired_count: s.desired_count(),
        running_count: s.running_count(),
        pending_count: s.pending_count(),
        task_definition: s.task_definition().unwrap_or_default().to_string(),
        deployment_config: dc.map(deployment_config_from).unwrap_or_default(),
        deployments: s.deployments().iter().map(deployment_from).collect(),
        events: s
            .events()
            .iter()
            .map(|e| ServiceEvent {
                id: e.id().unwrap_or_default().to_string(),
                created_at: ts(e.created_at()),
                message: e.message().unwrap_or_default().to_string(),
            })
            .collect(),
        load_balancers: s.load_balancers().iter().map(load_balancer_from).collect(),
        network: s.network_configuration().and_then(|n| n.awsvpc_configuration()).map(|v| Network {
            subnets: v.subnets().to_vec(),
            security_groups: v.security_groups().to_vec(),
            assign_public_ip: v.assign_public_ip().is_some_and(|a| a.as_str() == "ENABLED"),
        }),
        launch_type: s.launch_type().map(|l| l.as_str().to_string()),
        platform_version: s.platform_version().map(str::to_string),
        current_service_deployment: s.current_service_deployment().map(str::to_string),
        enable_execute_command: s.enable_execute_command(),
        enable_ecs_managed_tags: s.enable_ecs_managed_tags(),
        ..Default::default()
    };
    super::servicedef::read_settings(s, &mut st);
    st
}

pub(super) fn deployment_from(d: &t::Deployment) -> Deployment {
    Deployment {
        id: d.id().unwrap_or_default().to_string(),
        status: DeploymentStatus::from_aws(d.status().unwrap_or_default()),
        task_definition: d.task_definition().unwrap_or_default().to_string(),
        desired: d.desired_count(),
        running: d.running_count(),
        pending: d.pending_count(),
        failed_tasks: d.failed_tasks(),
        rollout_state: d.rollout_state().map(|r| RolloutState::from_aws(r.as_str())),
        rollout_state_reason: d.rollout_state_reason().map(str::to_string),
        created_at: ts(d.created_at()),
    }
}

pub(super) fn load_balancer_from(l: &t::LoadBalancer) -> LoadBalancer {
    LoadBalancer {
        target_group_arn: l.target_group_arn().map(str::to_string),
        container_name: l.container_name().map(str::to_string),
        container_port: l.container_port(),
        advanced: l.advanced_configuration().map(|a| AdvancedLbConfig {
            alternate_target_group_arn: a.alternate_target_group_arn().unwrap_or_default().to_string(),
            production_listener_rule: a.production_listener_rule().unwrap_or_default().to_string(),
            test_listener_rule: a.test_listener_rule().map(str::to_string),
            role_arn: a.role_arn().unwrap_or_default().to_string(),
        }),
    }
}

pub(super) fn sd_from(sd: &t::ServiceDeployment) -> ServiceDeployment {
    ServiceDeployment {
        arn: sd.service_deployment_arn().unwrap_or_default().to_string(),
        status: sd.status().map_or(SdStatus::default(), |s| SdStatus::from_aws(s.as_str())),
        status_reason: sd.status_reason().map(str::to_string),
        target_revision: sd.target_service_revision().and_then(|r| r.arn()).map(str::to_string),
        // A service revision names its task definition only through DescribeServiceRevisions:
        // `describe_service_deployments` fills these in.
        target_task_definition: None,
        source_task_definitions: Vec::new(),
        created_at: ts(sd.created_at()),
        finished_at: ts(sd.finished_at()),
        rollback_reason: sd.rollback().and_then(|r| r.reason()).map(str::to_string),
        circuit_breaker: sd.deployment_circuit_breaker().map(|c| ServiceDeploymentCircuitBreaker {
            status: c.status().map(|s| s.as_str().to_string()),
            failure_count: c.failure_count(),
            threshold: c.threshold(),
        }),
        lifecycle_stage: sd.lifecycle_stage().map(|s| LifecycleStage::from_aws(s.as_str())),
        hooks: sd
            .lifecycle_hook_details()
            .iter()
            .map(|h| HookDetail {
                hook_id: h.hook_id().unwrap_or_default().to_string(),
                target_type: h.target_type().map(|x| crate::states::HookTargetType::from_aws(x.as_str())),
                status: h.status().map(|x| crate::states::HookStatus::from_aws(x.as_str())),
            })
            .collect(),
    }
}

pub(super) fn task_from(task: &t::Task) -> Task {
    Task {
        arn: task.task_arn().unwrap_or_default().to_string(),
        task_definition: task.task_definition_arn().unwrap_or_default().to_string(),
        last_status: TaskStatus::from_aws(task.last_status().unwrap_or_default()),
        desired_status: TaskStatus::from_aws(task.desired_status().unwrap_or_default()),
        started_by: task.started_by().map(str::to_string),
        stop_code: task.stop_code().map(|c| StopCode::from_aws(c.as_str())),
        stopped_reason: task.stopped_reason().map(str::to_string),
        containers: task
            .containers()
            .iter()
            .map(|c| ContainerState {
                name: c.name().unwrap_or_default().to_string(),
                exit_code: c.exit_code(),
                reason: c.reason().map(str::to_string),
                last_status: c.last_status().map(str::to_string),
                runtime_id: c.runtime_id().map(str::to_string),
            })
            .collect(),
        created_at: ts(task.created_at()),
        started_at: ts(task.started_at()),
    }
}

pub(super) fn td_from(out_td: Option<&t::TaskDefinition>, tags: &[t::Tag], op: &str) -> PortResult<RegisteredTaskDefinition> {
    let td = out_td.ok_or_else(|| PortError::Transient { op: op.into(), message: "response without taskDefinition".into() })?;
    Ok(RegisteredTaskDefinition {
        arn: td.task_definition_arn().unwrap_or_default().to_string(),
        family: td.family().unwrap_or_default().to_string(),
        revision: td.revision(),
        definition: super::taskdef::from_sdk(td, tags),
    })
}
pub(super) use with_settings;
