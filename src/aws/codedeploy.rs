//! The `CodeDeploy` port over the SDK.

use super::client::Aws;
use super::ecs_convert::ts;
use super::errors::map_err;
use crate::ports::*;
use crate::states::CdStatus;
use async_trait::async_trait;
use aws_sdk_codedeploy::types as cd;

#[async_trait]
impl CodeDeploy for Aws {
    async fn deployment_group(&self, application: &str, group: &str) -> PortResult<DeploymentGroup> {
        let op = "codedeploy:GetDeploymentGroup";
        self.gate(op).await;
        let out = self
            .codedeploy
            .get_deployment_group()
            .application_name(application)
            .deployment_group_name(group)
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        let g =
            out.deployment_group_info().ok_or_else(|| PortError::NotFound { op: op.into(), message: format!("{application}/{group}") })?;
        let bg = g.blue_green_deployment_configuration();
        let ready = bg.and_then(|b| b.deployment_ready_option());
        let term = bg.and_then(|b| b.terminate_blue_instances_on_deployment_success());
        let pairs = g.load_balancer_info().map(|l| l.target_group_pair_info_list()).unwrap_or_default();
        let mut out_g = DeploymentGroup {
            application: g.application_name().unwrap_or(application).to_string(),
            name: g.deployment_group_name().unwrap_or(group).to_string(),
            deployment_config: g.deployment_config_name().map(str::to_string),
            compute_platform: g.compute_platform().map(|p| crate::states::ComputePlatform::from_aws(p.as_str())),
            ready_action: ready.and_then(|r| r.action_on_timeout()).map(|a| crate::states::ReadyAction::from_aws(a.as_str())),
            ready_wait_minutes: ready.map_or(0, |r| r.wait_time_in_minutes()),
            auto_rollback_enabled: g.auto_rollback_configuration().is_some_and(|a| a.enabled()),
            auto_rollback_events: g
                .auto_rollback_configuration()
                .map(|a| a.events().iter().map(|e| e.as_str().to_string()).collect())
                .unwrap_or_default(),
            terminate_action: term.and_then(|t| t.action()).map(|a| a.as_str().to_string()),
            termination_wait_minutes: term.map_or(0, |t| t.termination_wait_time_in_minutes()),
            ecs_services: g
                .ecs_services()
                .iter()
                .map(|s| (s.cluster_name().unwrap_or_default().to_string(), s.service_name().unwrap_or_default().to_string()))
                .collect(),
            ..Default::default()
        };
        for p in pairs {
            out_g.target_groups.extend(p.target_groups().iter().filter_map(|t| t.name().map(str::to_string)));
            out_g.prod_listeners.extend(p.prod_traffic_route().map(|r| r.listener_arns().to_vec()).unwrap_or_default());
            out_g.test_listeners.extend(p.test_traffic_route().map(|r| r.listener_arns().to_vec()).unwrap_or_default());
        }
        Ok(out_g)
    }

    async fn active_deployments(&self, application: &str, group: &str) -> PortResult<Vec<String>> {
        use cd::DeploymentStatus as S;
        self.list_deployments(application, group, vec![S::Created, S::Queued, S::InProgress, S::Baking, S::Ready]).await
    }

    async fn succeeded_deployments(&self, application: &str, group: &str) -> PortResult<Vec<String>> {
        self.list_deployments(application, group, vec![cd::DeploymentStatus::Succeeded]).await
    }

    async fn create_deployment(
        &self,
        application: &str,
        group: &str,
        config: Option<&str>,
        appspec: &str,
        sha256: &str,
    ) -> PortResult<String> {
        let op = "codedeploy:CreateDeployment";
        self.gate(op).await;
        let revision = cd::RevisionLocation::builder()
            .revision_type(cd::RevisionLocationType::AppSpecContent)
            .app_spec_content(cd::AppSpecContent::builder().content(appspec).sha256(sha256).build())
            .build();
        let out = self
            .codedeploy
            .create_deployment()
            .application_name(application)
            .deployment_group_name(group)
            .set_deployment_config_name(config.map(str::to_string))
            .revision(revision)
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        out.deployment_id().map(str::to_string).ok_or_else(|| PortError::Transient { op: op.into(), message: "no deploymentId".into() })
    }

    async fn deployment(&self, id: &str) -> PortResult<CdDeployment> {
        let op = "codedeploy:GetDeployment";
        self.gate(op).await;
        let out = self.codedeploy.get_deployment().deployment_id(id).send().await.map_err(|e| map_err(op, e))?;
        let d = out.deployment_info().ok_or_else(|| PortError::NotFound { op: op.into(), message: id.into() })?;
        Ok(CdDeployment {
            id: d.deployment_id().unwrap_or(id).to_string(),
            status: d.status().map_or(CdStatus::default(), |s| CdStatus::from_aws(s.as_str())),
            error: d
                .error_information()
                .map(|e| format!("{}: {}", e.code().map(|c| c.as_str()).unwrap_or("-"), e.message().unwrap_or_default())),
            rollback_deployment_id: d.rollback_info().and_then(|r| r.rollback_deployment_id()).map(str::to_string),
            rollback_message: d.rollback_info().and_then(|r| r.rollback_message()).map(str::to_string),
            termination_wait_started: d.instance_termination_wait_time_started(),
            answered_id: d.deployment_id().map(str::to_string),
            appspec_sha256: d.revision().and_then(|r| r.app_spec_content()).and_then(|c| c.sha256()).map(str::to_string),
        })
    }

    async fn deployment_target(&self, id: &str, target: &str) -> PortResult<CdTarget> {
        let op = "codedeploy:GetDeploymentTarget";
        self.gate(op).await;
        let out = self.codedeploy.get_deployment_target().deployment_id(id).target_id(target).send().await.map_err(|e| map_err(op, e))?;
        let Some(t) = out.deployment_target().and_then(|t| t.ecs_target()) else { return Ok(CdTarget::default()) };
        Ok(CdTarget {
            status: t.status().map(|s| crate::states::CdTargetStatus::from_aws(s.as_str())),
            lifecycle_events: t
                .lifecycle_events()
                .iter()
                .map(|e| {
                    (
                        crate::states::CdLifecycleEvent::from_aws(e.lifecycle_event_name().unwrap_or_default()),
                        e.status().map_or(crate::states::CdEventStatus::Unreported, |s| crate::states::CdEventStatus::from_aws(s.as_str())),
                    )
                })
                .collect(),
            event_times: t
                .lifecycle_events()
                .iter()
                .map(|e| {
                    (
                        crate::states::CdLifecycleEvent::from_aws(e.lifecycle_event_name().unwrap_or_default()),
                        ts(e.start_time()),
                        ts(e.end_time()),
                    )
                })
                .collect(),
            task_sets: t
                .task_sets_info()
                .iter()
                .map(|s| TaskSetInfo {
                    id: s.identifer().unwrap_or_default().to_string(),
                    label: s.task_set_label().map(|l| crate::states::TaskSetLabel::from_aws(l.as_str())),
                    status: s.status().map(str::to_string),
                    desired: s.desired_count(),
                    running: s.running_count(),
                    pending: s.pending_count(),
                    traffic_weight: s.traffic_weight(),
                    target_group: s.target_group().and_then(|g| g.name()).map(str::to_string),
                })
                .collect(),
            failures: t.lifecycle_events().iter().filter_map(lifecycle_failure).collect(),
        })
    }

    async fn deployment_targets(&self, id: &str) -> PortResult<Vec<String>> {
        let op = "codedeploy:ListDeploymentTargets";
        self.gate(op).await;
        let out = self.codedeploy.list_deployment_targets().deployment_id(id).send().await.map_err(|e| map_err(op, e))?;
        Ok(out.target_ids().to_vec())
    }

    async fn continue_deployment(&self, id: &str, wait_type: &str) -> PortResult<()> {
        let op = "codedeploy:ContinueDeployment";
        self.gate(op).await;
        match self
            .codedeploy
            .continue_deployment()
            .deployment_id(id)
            .deployment_wait_type(cd::DeploymentWaitType::from(wait_type))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match map_err(op, e) {
                PortError::Rejected { code, .. } if code == "DeploymentAlreadyCompletedException" => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn stop_deployment(&self, id: &str, rollback: bool) -> PortResult<()> {
        let op = "codedeploy:StopDeployment";
        self.gate(op).await;
        self.codedeploy.stop_deployment().deployment_id(id).auto_rollback_enabled(rollback).send().await.map_err(|e| map_err(op, e))?;
        Ok(())
    }
}

impl Aws {
    /// ListDeployments of a group in these statuses, every page (the active ones are few; a
    /// group's succeeded ones are many, but a page holds 100 and the forecast reads the first).
    async fn list_deployments(&self, application: &str, group: &str, statuses: Vec<cd::DeploymentStatus>) -> PortResult<Vec<String>> {
        let op = "codedeploy:ListDeployments";
        let succeeded_only = statuses == [cd::DeploymentStatus::Succeeded];
        let mut out = Vec::new();
        self.gate(op).await;
        let mut pages = self
            .codedeploy
            .list_deployments()
            .application_name(application)
            .deployment_group_name(group)
            .set_include_only_statuses(Some(statuses.clone()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_err(op, e))?;
            out.extend(page.deployments().iter().cloned());
            // The succeeded ones are read for their newest only: the first page has it.
            if succeeded_only {
                break;
            }
            self.gate_next_page(op, page.next_token()).await;
        }
        Ok(out)
    }
}

/// A lifecycle event that carries `diagnostics` (a failed hook, a script's error).
fn lifecycle_failure(e: &cd::LifecycleEvent) -> Option<LifecycleFailure> {
    let d = e.diagnostics()?;
    Some(LifecycleFailure {
        event: crate::states::CdLifecycleEvent::from_aws(e.lifecycle_event_name().unwrap_or_default()),
        status: e.status().map_or(crate::states::CdEventStatus::Unreported, |s| crate::states::CdEventStatus::from_aws(s.as_str())),
        error_code: d.error_code().map(|c| c.as_str().to_string()),
        script_name: d.script_name().map(str::to_string),
        message: d.message().map(str::to_string),
        log_tail: d.log_tail().map(str::to_string),
    })
}
