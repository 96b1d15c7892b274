//! The `Ecs` port over the SDK.

use super::client::Aws;
use super::ecs_convert::*;
use super::errors::map_err;
use super::interceptors::RawBody;
use crate::ports::*;
use crate::taskdef::TaskDefinition;
use async_trait::async_trait;
use aws_sdk_ecs::types as t;

#[async_trait]
impl Ecs for Aws {
    async fn describe_service(&self, cluster: &str, service: &str) -> PortResult<Option<ServiceState>> {
        let op = "ecs:DescribeServices";
        self.gate(op).await;
        let raw = RawBody::default();
        let out = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .include(t::ServiceField::Tags)
            .customize()
            .interceptor(raw.clone())
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        let Some(s) = out.services().iter().find(|s| s.status() != Some("INACTIVE")) else { return Ok(None) };
        let mut st = service_from(s);
        // Settings newer than this SDK (or that the mapping misses): named, so that a plan that
        // would send their structure whole refuses instead of dropping them.
        st.uncarried = raw
            .json()
            .and_then(|j| {
                j["services"].as_array()?.iter().find(|r| r["serviceArn"].as_str() == s.service_arn()).map(super::servicedef::uncarried)
            })
            .unwrap_or_default();
        Ok(Some(st))
    }

    async fn describe_task_definition(&self, td: &str) -> PortResult<RegisteredTaskDefinition> {
        let op = "ecs:DescribeTaskDefinition";
        self.gate(op).await;
        let raw = RawBody::default();
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(td)
            .include(t::TaskDefinitionField::Tags)
            .customize()
            .interceptor(raw.clone())
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        let reg = td_from(out.task_definition(), out.tags(), op)?;
        // A field newer than this SDK (or one the mapping misses) would be dropped silently: a
        // plan would show "no changes" and a release would register the revision without it.
        if let Some(field) = raw.uncarried(&reg.definition) {
            return Err(PortError::Rejected {
                op: op.into(),
                code: "UnsupportedField".into(),
                message: format!(
                    "revision {} has `{field}`, which this fgdeploy cannot carry; releasing it would drop the field. Upgrade fgdeploy, or change that revision by other means",
                    reg.arn
                ),
            });
        }
        Ok(reg)
    }

    async fn register_task_definition(&self, td: &TaskDefinition) -> PortResult<RegisteredTaskDefinition> {
        let op = "ecs:RegisterTaskDefinition";
        self.gate(op).await;
        let req = super::taskdef::to_request(self.ecs.register_task_definition(), td).map_err(|e| PortError::Rejected {
            op: op.into(),
            code: "InvalidTaskDefinition".into(),
            message: e.to_string(),
        })?;
        let out = req.send().await.map_err(|e| map_err(op, e))?;
        td_from(out.task_definition(), out.tags(), op)
    }

    async fn update_service(&self, req: &UpdateService) -> PortResult<ServiceState> {
        let op = "ecs:UpdateService";
        self.gate(op).await;
        let settings = super::servicedef::to_sdk(op, &req.settings)?;
        let d = &req.settings;
        let mut b = with_settings!(self.ecs.update_service(), d, settings)
            .cluster(&req.cluster)
            .service(&req.service)
            .set_task_definition((!req.task_definition.is_empty()).then(|| req.task_definition.clone()))
            .set_desired_count(req.desired_count);
        if let Some(c) = &req.deployment_config {
            b = b.deployment_configuration(deployment_configuration(op, c)?);
        }
        if let Some(n) = &req.native {
            // The live structure (percentages, circuit breaker, alarms, the team's hooks) with
            // the strategy and fgdeploy's gate for this release.
            let base = DeploymentConfig { lifecycle_hooks: n.hooks(), strategy: None, linear: None, canary: None, ..n.base.clone() };
            let mut cfg = deployment_configuration_builder(op, &base)?
                .strategy(t::DeploymentStrategy::from(n.strategy.as_str()))
                .set_bake_time_in_minutes(n.bake_time_minutes.or(n.base.bake_time_minutes));
            if let Some((p, m)) = n.linear {
                cfg = cfg.linear_configuration(t::LinearConfiguration::builder().step_percent(p).step_bake_time_in_minutes(m).build());
            }
            if let Some((p, m)) = n.canary {
                cfg = cfg.canary_configuration(t::CanaryConfiguration::builder().canary_percent(p).canary_bake_time_in_minutes(m).build());
            }
            b = b.deployment_configuration(cfg.build());
            if let Some(lb) = &n.load_balancer {
                let adv = t::AdvancedConfiguration::builder()
                    .alternate_target_group_arn(&lb.alternate_target_group_arn)
                    .production_listener_rule(&lb.production_listener_rule)
                    .set_test_listener_rule(lb.test_listener_rule.clone())
                    .role_arn(&lb.role_arn)
                    .build();
                b = b.load_balancers(
                    t::LoadBalancer::builder()
                        .target_group_arn(&lb.target_group_arn)
                        .container_name(&lb.container_name)
                        .container_port(lb.container_port)
                        .advanced_configuration(adv)
                        .build(),
                );
            }
        }
        let out = b.send().await.map_err(|e| map_err(op, e))?;
        out.service().map(service_from).ok_or_else(|| PortError::Transient { op: op.into(), message: "response without service".into() })
    }

    async fn service_tasks(&self, cluster: &str, service: &str) -> PortResult<Vec<String>> {
        let op = "ecs:ListTasks";
        self.gate(op).await;
        let mut pages =
            self.ecs.list_tasks().cluster(cluster).service_name(service).desired_status(t::DesiredStatus::Running).into_paginator().send();
        let mut arns = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_err(op, e))?;
            arns.extend(page.task_arns().iter().cloned());
            self.gate_next_page(op, page.next_token()).await;
        }
        Ok(arns)
    }

    async fn execute_command(&self, cluster: &str, task: &str, container: &str, command: &str) -> PortResult<ExecSession> {
        let op = "ecs:ExecuteCommand";
        self.gate(op).await;
        let out = self
            .ecs
            .execute_command()
            .cluster(cluster)
            .task(task)
            .container(container)
            .command(command)
            .interactive(true)
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        let s = out.session().ok_or_else(|| PortError::Transient { op: op.into(), message: "response without session".into() })?;
        Ok(ExecSession {
            session_id: s.session_id().unwrap_or_default().to_string(),
            stream_url: s.stream_url().unwrap_or_default().to_string(),
            token_value: s.token_value().unwrap_or_default().to_string(),
        })
    }

    async fn create_service(&self, req: &CreateService) -> PortResult<ServiceState> {
        let op = "ecs:CreateService";
        self.gate(op).await;
        let d = &req.settings;
        let mut settings = super::servicedef::to_sdk(op, d)?;
        let tags = settings.tags.clone();
        let launch_type = d.capacity_provider_strategy.as_ref().is_none_or(Vec::is_empty).then_some(t::LaunchType::Fargate);
        if launch_type.is_some() {
            // `capacity_provider_strategy = []` means the launch type: ECS refuses a request with
            // both launchType and capacityProviderStrategy, even an empty one (#24).
            settings.capacity_provider_strategy = None;
        }
        let mut b = with_settings!(self.ecs.create_service(), d, settings)
            .cluster(&req.cluster)
            .service_name(&req.service)
            .task_definition(&req.task_definition)
            .desired_count(req.desired_count)
            .set_launch_type(launch_type)
            .set_tags(tags)
            // A retried call must not create a second service (ECS dedupes on the token).
            .client_token(create_token(req));
        if let Some(c) = &req.deployment_config {
            b = b.deployment_configuration(deployment_configuration(op, c)?);
        }
        let out = b.send().await.map_err(|e| map_err(op, e))?;
        out.service().map(service_from).ok_or_else(|| PortError::Transient { op: op.into(), message: "response without service".into() })
    }

    async fn tag_service(&self, arn: &str, tags: &std::collections::BTreeMap<String, String>) -> PortResult<()> {
        let op = "ecs:TagResource";
        self.gate(op).await;
        self.ecs.tag_resource().resource_arn(arn).set_tags(Some(super::servicedef::tags(tags))).send().await.map_err(|e| map_err(op, e))?;
        Ok(())
    }

    async fn set_desired_count(&self, cluster: &str, service: &str, count: i32) -> PortResult<ServiceState> {
        let op = "ecs:UpdateService";
        self.gate(op).await;
        let out =
            self.ecs.update_service().cluster(cluster).service(service).desired_count(count).send().await.map_err(|e| map_err(op, e))?;
        out.service().map(service_from).ok_or_else(|| PortError::Transient { op: op.into(), message: "response without service".into() })
    }

    async fn list_service_deployments(&self, cluster: &str, service: &str, created_after: Option<Timestamp>) -> PortResult<Vec<String>> {
        let op = "ecs:ListServiceDeployments";
        self.gate(op).await;
        // Newest first, 20 a page; at most 100 (five pages: `history --limit`'s maximum).
        // (ListServiceDeployments has no SDK paginator in aws-sdk-ecs 1.157: the token by hand.)
        let mut arns = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut b = self.ecs.list_service_deployments().cluster(cluster).service(service).max_results(20).set_next_token(token);
            if let Some(after) = created_after {
                b = b.created_at(t::CreatedAt::builder().after(aws_smithy_types::DateTime::from_secs_f64(after)).build());
            }
            let out = b.send().await.map_err(|e| map_err(op, e))?;
            arns.extend(out.service_deployments().iter().filter_map(|s| s.service_deployment_arn().map(str::to_string)));
            token = out.next_token().map(str::to_string);
            if token.is_none() || arns.len() >= 100 {
                return Ok(arns);
            }
            self.gate(op).await;
        }
    }

    async fn describe_service_deployments(&self, arns: &[String]) -> PortResult<Vec<ServiceDeployment>> {
        let op = "ecs:DescribeServiceDeployments";
        self.gate(op).await;
        let out = self
            .ecs
            .describe_service_deployments()
            .set_service_deployment_arns(Some(arns.to_vec()))
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        let mut sds: Vec<ServiceDeployment> = out.service_deployments().iter().map(sd_from).collect();
        let wanted: Vec<String> = out
            .service_deployments()
            .iter()
            .flat_map(|sd| {
                sd.target_service_revision()
                    .and_then(|r| r.arn())
                    .into_iter()
                    .chain(sd.source_service_revisions().iter().filter_map(|r| r.arn()))
            })
            .map(str::to_string)
            .collect();
        self.resolve_revisions(&wanted).await;
        let known = self.revisions.lock().map(|m| m.clone()).unwrap_or_default();
        for (sd, raw) in sds.iter_mut().zip(out.service_deployments()) {
            sd.target_task_definition = sd.target_revision.as_ref().and_then(|r| known.get(r)).cloned();
            sd.source_task_definitions =
                raw.source_service_revisions().iter().filter_map(|r| r.arn()).filter_map(|r| known.get(r)).cloned().collect();
        }
        Ok(sds)
    }

    async fn stop_service_deployment_rollback(&self, arn: &str) -> PortResult<()> {
        let op = "ecs:StopServiceDeployment";
        self.gate(op).await;
        self.ecs
            .stop_service_deployment()
            .service_deployment_arn(arn)
            .stop_type(t::StopServiceDeploymentStopType::Rollback)
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        Ok(())
    }

    async fn list_tasks(&self, cluster: &str, started_by: &str, stopped: bool) -> PortResult<Vec<String>> {
        let op = "ecs:ListTasks";
        self.gate(op).await;
        let status = if stopped { t::DesiredStatus::Stopped } else { t::DesiredStatus::Running };
        // Every page (ListTasks answers at most 100 a page; a stopped task's reason may be on a
        // later one).
        let mut pages = self.ecs.list_tasks().cluster(cluster).started_by(started_by).desired_status(status).into_paginator().send();
        let mut arns = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_err(op, e))?;
            arns.extend(page.task_arns().iter().cloned());
            self.gate_next_page(op, page.next_token()).await;
        }
        Ok(arns)
    }

    async fn describe_tasks(&self, cluster: &str, arns: &[String]) -> PortResult<Vec<Task>> {
        let op = "ecs:DescribeTasks";
        let mut out = Vec::new();
        for chunk in arns.chunks(100) {
            self.gate(op).await;
            let r = self.ecs.describe_tasks().cluster(cluster).set_tasks(Some(chunk.to_vec())).send().await.map_err(|e| map_err(op, e))?;
            out.extend(r.tasks().iter().map(task_from));
        }
        Ok(out)
    }

    async fn run_task(&self, req: &RunTask) -> PortResult<RunTaskResult> {
        let op = "ecs:RunTask";
        self.gate(op).await;
        let invalid = |e: aws_smithy_types::error::operation::BuildError| PortError::Rejected {
            op: op.into(),
            code: "InvalidRequest".into(),
            message: e.to_string(),
        };
        let mut b = self
            .ecs
            .run_task()
            .cluster(&req.cluster)
            .task_definition(&req.task_definition)
            .started_by(&req.started_by)
            .client_token(&req.client_token)
            .count(1)
            .set_platform_version(req.platform_version.clone())
            .overrides(
                t::TaskOverride::builder()
                    .container_overrides(
                        t::ContainerOverride::builder().name(&req.container).set_command(Some(req.command.clone())).build(),
                    )
                    .build(),
            );
        if req.capacity_providers.is_empty() {
            b = b.launch_type(t::LaunchType::from(req.launch_type.as_deref().unwrap_or("FARGATE")));
        } else {
            for cp in &req.capacity_providers {
                b = b.capacity_provider_strategy(
                    t::CapacityProviderStrategyItem::builder().capacity_provider(cp).weight(1).build().map_err(invalid)?,
                );
            }
        }
        if let Some(n) = &req.network {
            let vpc = t::AwsVpcConfiguration::builder()
                .set_subnets(Some(n.subnets.clone()))
                .set_security_groups(Some(n.security_groups.clone()))
                .assign_public_ip(if n.assign_public_ip { t::AssignPublicIp::Enabled } else { t::AssignPublicIp::Disabled })
                .build()
                .map_err(invalid)?;
            b = b.network_configuration(t::NetworkConfiguration::builder().awsvpc_configuration(vpc).build());
        }
        let out = b.send().await.map_err(|e| map_err(op, e))?;
        Ok(RunTaskResult {
            tasks: out.tasks().iter().map(task_from).collect(),
            failures: out
                .failures()
                .iter()
                .map(|f| (f.reason().unwrap_or_default().to_string(), f.detail().unwrap_or_default().to_string()))
                .collect(),
        })
    }

    async fn continue_service_deployment(&self, arn: &str, hook_id: &str, action: crate::states::HookAction) -> PortResult<()> {
        let op = "ecs:ContinueServiceDeployment";
        self.gate(op).await;
        self.ecs
            .continue_service_deployment()
            .service_deployment_arn(arn)
            .hook_id(hook_id)
            .action(t::DeploymentLifecycleHookAction::from(action.as_str()))
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        Ok(())
    }

    async fn list_task_definitions(&self, family: &str) -> PortResult<Vec<String>> {
        let op = "ecs:ListTaskDefinitions";
        let mut out = Vec::new();
        self.gate(op).await;
        let mut pages = self
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(t::TaskDefinitionStatus::Active)
            .sort(t::SortOrder::Asc)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_err(op, e))?;
            // familyPrefix matches prefixes: keep this family only.
            out.extend(
                page.task_definition_arns()
                    .iter()
                    .filter(|a| a.rsplit('/').next().and_then(|x| x.rsplit_once(':')).is_some_and(|(f, _)| f == family))
                    .cloned(),
            );
            self.gate_next_page(op, page.next_token()).await;
        }
        Ok(out)
    }

    async fn deregister_task_definition(&self, arn: &str) -> PortResult<()> {
        let op = "ecs:DeregisterTaskDefinition";
        self.gate(op).await;
        self.ecs.deregister_task_definition().task_definition(arn).send().await.map_err(|e| map_err(op, e))?;
        Ok(())
    }

    async fn stop_task(&self, cluster: &str, task: &str, reason: &str) -> PortResult<()> {
        let op = "ecs:StopTask";
        self.gate(op).await;
        self.ecs.stop_task().cluster(cluster).task(task).reason(reason).send().await.map_err(|e| map_err(op, e))?;
        Ok(())
    }
}
