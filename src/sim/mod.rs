//! The simulator: an in-process, deterministic model of the AWS side with a virtual clock.
//!
//! It models what the engine's decisions depend on — ECS services with deployments scheduled
//! within minimumHealthyPercent/maximumPercent, task start and health, the deployment circuit
//! breaker and alarm rollbacks, service deployments (List/Describe/StopServiceDeployment),
//! task-definition revisions and ECR tags — and lets tests inject faults (tasks that fail to
//! start, failing health checks, slow starts, alarms, throttling, 5xx, a foreign deployment, an
//! interrupt). Time only moves when the engine sleeps on the [`SimClock`], so a 20-minute rollout
//! runs in milliseconds and every run is identical.
//!
//! Simplifications (documented so nobody mistakes them for AWS facts): tasks drain instantly;
//! ECS launches at most one batch per simulated second; bake time after alarms is 120 s.

mod bus;
mod codedeploy;
mod mutation;
mod native;
mod settings;
mod state;
pub(crate) mod traffic;
mod world;

pub(crate) use state::CdGroupSeed;

pub use mutation::Mutation;
pub use state::{EPOCH, EventDelivery, Faults, Noise, SeedService, Traffic, World};

use crate::engine::Interrupt;
use crate::ports::*;
use crate::taskdef::TaskDefinition;
use async_trait::async_trait;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A handle on the simulated world; cheap to clone. Implements every port.
#[derive(Clone)]
pub struct Sim {
    world: Arc<Mutex<World>>,
    calls: CallCounter,
    clock: Arc<Mutex<VirtualClock>>,
    client_budget: Option<crate::budget::RateBudget>,
    /// `--sandbox-state`: the file the world is saved to (before every call and after every sleep).
    state_file: Option<Arc<std::path::PathBuf>>,
    /// `--sandbox-pace`: real seconds per virtual second (0: as fast as possible).
    pace: f64,
}

/// The world while a call changes it; with `--sandbox-state`, saved when the call is done (so the
/// file holds every change an answer came from, even if the process is killed right after).
pub(crate) struct Saved<'a> {
    world: MutexGuard<'a, World>,
    file: Option<&'a std::path::PathBuf>,
}

impl std::ops::Deref for Saved<'_> {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl std::ops::DerefMut for Saved<'_> {
    fn deref_mut(&mut self) -> &mut World {
        &mut self.world
    }
}

impl Drop for Saved<'_> {
    fn drop(&mut self) {
        if let Some(path) = self.file {
            let _ = save_world(&self.world, path);
        }
    }
}

/// Write the world to `path` atomically (a temporary file renamed over it).
fn save_world(world: &World, path: &std::path::Path) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(world).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Engines sharing the virtual clock: time moves to the earliest wake-up once every
/// participant sleeps, so concurrent releases see one consistent time line.
#[derive(Default)]
struct VirtualClock {
    participants: usize,
    next_id: u64,
    sleepers: std::collections::BTreeMap<u64, f64>,
}

impl Sim {
    pub fn new(world: World) -> Sim {
        Sim {
            world: Arc::new(Mutex::new(world)),
            calls: CallCounter::default(),
            clock: Arc::new(Mutex::new(VirtualClock::default())),
            client_budget: Some(crate::budget::RateBudget::default()),
            state_file: None,
            pace: 0.0,
        }
    }

    /// A world saved by `--sandbox-state` (None: the file does not exist yet).
    pub fn load(path: &std::path::Path) -> std::io::Result<Option<Sim>> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let world: World = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
        Ok(Some(Sim::new(world)))
    }

    /// The world survives this process in `path` (saved before every call and after every
    /// sleep, atomically), and its clock runs at `pace` real seconds per virtual second.
    pub fn persisted(mut self, path: &std::path::Path, pace: f64) -> std::io::Result<Sim> {
        self.state_file = Some(Arc::new(path.to_path_buf()));
        self.pace = pace;
        self.save()?;
        Ok(self)
    }

    fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.state_file else { return Ok(()) };
        save_world(&self.world(), path)
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        // A poisoned lock only happens after a panic elsewhere in a test; keep going.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn ports(&self) -> Ports {
        let me = Arc::new(self.clone());
        Ports {
            ecs: me.clone(),
            ecr: me.clone(),
            logs: me.clone(),
            builder: me.clone(),
            codedeploy: me.clone(),
            elb: me.clone(),
            autoscaling: me.clone(),
            cloudwatch: me.clone(),
            leases: me.clone(),
            bus: me.clone(),
            queues: me.clone(),
            account: me.clone(),
            registry: me.clone(),
            clock: me,
            calls: self.calls.clone(),
        }
    }

    pub fn calls(&self) -> &CallCounter {
        &self.calls
    }

    /// Trigger `interrupt` when the virtual clock reaches `at` (seconds after the world's start).
    pub fn interrupt_at(&self, at: f64, interrupt: Interrupt) {
        self.world().schedule_interrupt(at, interrupt);
    }

    /// One call: counted, paced by the client-side budget (as the AWS adapter paces it), then
    /// answered by the world (which enforces the account's limits and the injected faults).
    async fn call(&self, op: &str) -> PortResult<Saved<'_>> {
        self.calls.record(op);
        if let Some(budget) = &self.client_budget {
            while let Some(wait) = budget.try_take(op, Clock::now(self)) {
                Clock::sleep(self, Duration::from_secs_f64(wait)).await;
            }
        }
        let hung = self.world().hung;
        if hung {
            std::future::pending::<()>().await;
        }
        // The runner dies at `hang_after`: this call (n = 0) or the ones after its n-th answer.
        let dies_now = {
            let mut w = self.world();
            match w.faults.hang_after.as_mut() {
                Some((o, 0)) if o == op => {
                    (w.hung, w.faults.hang_after) = (true, None);
                    true
                }
                _ => false,
            }
        };
        if dies_now {
            std::future::pending::<()>().await;
        }
        let mut w = self.world();
        w.gate(op)?;
        if let Some((o, n)) = w.faults.hang_after.as_mut()
            && o == op
        {
            *n -= 1;
            if *n == 0 {
                (w.hung, w.faults.hang_after) = (true, None);
            }
        }
        Ok(Saved { world: w, file: self.state_file.as_deref() })
    }

    /// A dead runner's world goes on without it: calls answer again (after `Faults::hang_after`).
    pub fn revive(&self) {
        self.world().hung = false;
    }

    /// Without fgdeploy's client-side budget (to show what the account's limits do then).
    pub fn without_client_budget(mut self) -> Sim {
        self.client_budget = None;
        self
    }
}

#[async_trait]
impl Ecs for Sim {
    async fn describe_service(&self, cluster: &str, service: &str) -> PortResult<Option<ServiceState>> {
        let mut w = self.call("ecs:DescribeServices").await?;
        if w.faults.service_missing_reads > 0 {
            w.faults.service_missing_reads -= 1;
            return Ok(None);
        }
        let now = w.now() - EPOCH;
        if let Some((at, n)) = w.faults.service_missing_after.as_mut()
            && now >= *at
            && *n > 0
        {
            *n -= 1;
            return Ok(None);
        }
        w.describe_service(cluster, service)
    }
    async fn describe_task_definition(&self, td: &str) -> PortResult<RegisteredTaskDefinition> {
        let w = self.call("ecs:DescribeTaskDefinition").await?;
        w.describe_task_definition(td)
    }
    async fn register_task_definition(&self, td: &TaskDefinition) -> PortResult<RegisteredTaskDefinition> {
        let mut w = self.call("ecs:RegisterTaskDefinition").await?;
        let r = w.register_task_definition(td.clone());
        w.lose_response("ecs:RegisterTaskDefinition")?;
        Ok(r)
    }
    async fn service_tasks(&self, cluster: &str, service: &str) -> PortResult<Vec<String>> {
        Ok(self.call("ecs:ListTasks").await?.service_tasks(cluster, service))
    }
    async fn execute_command(&self, cluster: &str, task: &str, container: &str, _command: &str) -> PortResult<ExecSession> {
        self.call("ecs:ExecuteCommand").await?.execute_command(cluster, task, container)
    }
    async fn set_desired_count(&self, cluster: &str, service: &str, count: i32) -> PortResult<ServiceState> {
        self.call("ecs:UpdateService").await?.set_desired_count(cluster, service, count)
    }
    async fn create_service(&self, req: &CreateService) -> PortResult<ServiceState> {
        let mut w = self.call("ecs:CreateService").await?;
        let s = w.create_service(req)?;
        w.lose_response("ecs:CreateService")?;
        Ok(s)
    }
    async fn tag_service(&self, arn: &str, tags: &std::collections::BTreeMap<String, String>) -> PortResult<()> {
        self.call("ecs:TagResource").await?.tag_service(arn, tags)
    }
    async fn update_service(&self, req: &UpdateService) -> PortResult<ServiceState> {
        let mut w = self.call("ecs:UpdateService").await?;
        let before = w.describe_service(&req.cluster, &req.service).ok().flatten().and_then(|s| s.current_service_deployment);
        let mut s = w.update_service(req, false)?;
        w.lose_response("ecs:UpdateService")?;
        if w.faults.answer_names_previous_sd && before.is_some() {
            s.current_service_deployment = before;
        }
        Ok(s)
    }
    async fn list_service_deployments(&self, cluster: &str, service: &str, created_after: Option<Timestamp>) -> PortResult<Vec<String>> {
        let w = self.call("ecs:ListServiceDeployments").await?;
        w.list_service_deployments(cluster, service, created_after)
    }
    async fn describe_service_deployments(&self, arns: &[String]) -> PortResult<Vec<ServiceDeployment>> {
        let w = self.call("ecs:DescribeServiceDeployments").await?;
        let mut sds = w.describe_service_deployments(arns)?;
        if let Some(text) = &w.faults.sd_success_status {
            for sd in sds.iter_mut().filter(|sd| sd.status == crate::states::SdStatus::Successful) {
                sd.status = crate::states::SdStatus::from_aws(text);
            }
        }
        Ok(sds)
    }
    async fn stop_service_deployment_rollback(&self, arn: &str) -> PortResult<()> {
        let mut w = self.call("ecs:StopServiceDeployment").await?;
        w.stop_service_deployment(arn)
    }
    async fn list_tasks(&self, cluster: &str, started_by: &str, stopped: bool) -> PortResult<Vec<String>> {
        let w = self.call("ecs:ListTasks").await?;
        Ok(w.list_tasks(cluster, started_by, stopped))
    }
    async fn describe_tasks(&self, cluster: &str, arns: &[String]) -> PortResult<Vec<Task>> {
        let w = self.call("ecs:DescribeTasks").await?;
        Ok(w.describe_tasks(cluster, arns))
    }
    async fn run_task(&self, req: &RunTask) -> PortResult<RunTaskResult> {
        let mut w = self.call("ecs:RunTask").await?;
        let r = w.run_task(req)?;
        w.lose_response("ecs:RunTask")?;
        Ok(r)
    }
    async fn continue_service_deployment(&self, arn: &str, hook_id: &str, action: crate::states::HookAction) -> PortResult<()> {
        self.call("ecs:ContinueServiceDeployment").await?.continue_service_deployment(arn, hook_id, action)
    }
    async fn list_task_definitions(&self, family: &str) -> PortResult<Vec<String>> {
        let w = self.call("ecs:ListTaskDefinitions").await?;
        Ok(w.list_task_definitions(family))
    }
    async fn deregister_task_definition(&self, arn: &str) -> PortResult<()> {
        let mut w = self.call("ecs:DeregisterTaskDefinition").await?;
        w.deregister_task_definition(arn)
    }
    async fn stop_task(&self, _cluster: &str, task: &str, reason: &str) -> PortResult<()> {
        let mut w = self.call("ecs:StopTask").await?;
        w.stop_task(task, reason)
    }
}

#[async_trait]
impl CodeDeploy for Sim {
    async fn deployment_group(&self, application: &str, group: &str) -> PortResult<DeploymentGroup> {
        self.call("codedeploy:GetDeploymentGroup").await?.deployment_group(application, group)
    }
    async fn active_deployments(&self, application: &str, group: &str) -> PortResult<Vec<String>> {
        Ok(self.call("codedeploy:ListDeployments").await?.active_cd_deployments(application, group))
    }
    async fn succeeded_deployments(&self, application: &str, group: &str) -> PortResult<Vec<String>> {
        Ok(self.call("codedeploy:ListDeployments").await?.succeeded_cd_deployments(application, group))
    }
    async fn create_deployment(
        &self,
        application: &str,
        group: &str,
        config: Option<&str>,
        appspec: &str,
        sha256: &str,
    ) -> PortResult<String> {
        let mut w = self.call("codedeploy:CreateDeployment").await?;
        let id = w.create_cd_deployment(application, group, config, appspec, sha256)?;
        w.lose_response("codedeploy:CreateDeployment")?;
        Ok(id)
    }
    async fn deployment(&self, id: &str) -> PortResult<CdDeployment> {
        self.call("codedeploy:GetDeployment").await?.cd_deployment(id)
    }
    /// An ECS deployment has one target: `<cluster>:<service>`.
    async fn deployment_targets(&self, id: &str) -> PortResult<Vec<String>> {
        self.call("codedeploy:ListDeploymentTargets").await?.cd_target_ids(id)
    }
    async fn deployment_target(&self, id: &str, _target: &str) -> PortResult<CdTarget> {
        self.call("codedeploy:GetDeploymentTarget").await?.cd_target(id)
    }
    async fn continue_deployment(&self, id: &str, wait_type: &str) -> PortResult<()> {
        let mut w = self.call("codedeploy:ContinueDeployment").await?;
        if w.faults.answered_first && wait_type == "READY_WAIT" {
            // "Reroute traffic" clicked in the console a moment before fgdeploy's call.
            let _ = w.reroute_traffic(id);
        }
        w.continue_cd(id, wait_type)
    }
    async fn stop_deployment(&self, id: &str, rollback: bool) -> PortResult<()> {
        self.call("codedeploy:StopDeployment").await?.stop_cd(id, rollback)
    }
}

/// The account's other resources exist unless the faults list them as missing.
/// Other registries: every image exists unless `Faults::missing` names `host/repo:ref`.
#[async_trait]
impl crate::registry::Registry for Sim {
    async fn manifest_digest(&self, image: &crate::registry::ImageRef) -> PortResult<Option<String>> {
        let w = self.call("registry:HEAD manifest").await?;
        let name = format!("{}/{}:{}", image.host, image.repository, image.reference);
        Ok((!w.faults.missing.contains(&name)).then(|| format!("sha256:{:064x}", name.len())))
    }
}

fn missing_or<T>(w: &World, op: &str, name: &str, f: impl FnOnce() -> T) -> PortResult<T> {
    if w.faults.missing.contains(name) {
        return Err(PortError::NotFound { op: op.into(), message: format!("{name} does not exist") });
    }
    Ok(f())
}

#[async_trait]
impl Account for Sim {
    /// The sandbox answers every lookup with a stand-in (`sandbox:<what>`), unless the name is
    /// in `Faults::missing` (then NotFound, as AWS would say).
    async fn parameter_value(&self, name: &str) -> PortResult<(String, bool)> {
        let w = self.call("ssm:GetParameter").await?;
        missing_or(&w, "ssm:GetParameter", name, || {
            (format!("sandbox:ssm:{name}"), name.contains("secure") || name.starts_with("/aws/reference/secretsmanager/"))
        })
    }
    async fn secret_arn(&self, id: &str) -> PortResult<String> {
        let w = self.call("secretsmanager:DescribeSecret").await?;
        missing_or(&w, "secretsmanager:DescribeSecret", id, || format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{id}-AbCdEf"))
    }
    async fn stack_output(&self, stack: &str, key: &str) -> PortResult<Option<String>> {
        let w = self.call("cloudformation:DescribeStacks").await?;
        missing_or(&w, "cloudformation:DescribeStacks", stack, || {
            (!w.faults.missing.contains(key)).then(|| format!("sandbox:{stack}:{key}"))
        })
    }
    async fn object(&self, bucket: &str, key: &str) -> PortResult<Vec<u8>> {
        let w = self.call("s3:GetObject").await?;
        missing_or(&w, "s3:GetObject", &format!("s3://{bucket}/{key}"), || br#"{"version":4,"resources":[],"outputs":{}}"#.to_vec())
    }
    async fn parameter_exists(&self, name: &str) -> PortResult<bool> {
        Ok(!self.call("ssm:GetParameter").await?.faults.missing.contains(name))
    }
    async fn secret_exists(&self, id: &str) -> PortResult<bool> {
        Ok(!self.call("secretsmanager:DescribeSecret").await?.faults.missing.contains(id))
    }
    async fn role_trusts_ecs_tasks(&self, arn: &str) -> PortResult<Option<bool>> {
        let w = self.call("iam:GetRole").await?;
        Ok((!w.faults.missing.contains(arn)).then(|| !w.faults.untrusted_roles.contains(arn)))
    }
    async fn missing_subnets(&self, ids: &[String]) -> PortResult<Vec<String>> {
        let w = self.call("ec2:DescribeSubnets").await?;
        Ok(ids.iter().filter(|i| w.faults.missing.contains(*i)).cloned().collect())
    }
    async fn missing_security_groups(&self, ids: &[String]) -> PortResult<Vec<String>> {
        let w = self.call("ec2:DescribeSecurityGroups").await?;
        Ok(ids.iter().filter(|i| w.faults.missing.contains(*i)).cloned().collect())
    }
    async fn log_group_exists(&self, region: Option<&str>, name: &str) -> PortResult<bool> {
        // A group in another region is missing when `missing` names it as `<region>:<name>`.
        let w = self.call("logs:DescribeLogGroups").await?;
        Ok(match region.filter(|r| *r != state::REGION) {
            Some(r) => !w.faults.missing.contains(&format!("{r}:{name}")),
            None => !w.faults.missing.contains(name),
        })
    }
    async fn target_group_exists(&self, arn: &str) -> PortResult<bool> {
        Ok(!self.call("elasticloadbalancing:DescribeTargetGroups").await?.faults.missing.contains(arn))
    }
}

#[async_trait]
impl Autoscaling for Sim {
    async fn scalable_target(&self, cluster: &str, service: &str) -> PortResult<Option<ScalableTarget>> {
        let w = self.call("application-autoscaling:DescribeScalableTargets").await?;
        Ok(w.scalable_targets.get(&scalable_resource_id(cluster, service)).copied())
    }
    async fn suspend_scale_in(&self, cluster: &str, service: &str, suspended: bool) -> PortResult<()> {
        let op = "application-autoscaling:RegisterScalableTarget";
        let mut w = self.call(op).await?;
        let id = scalable_resource_id(cluster, service);
        let Some(t) = w.scalable_targets.get_mut(&id) else {
            // AWS requires min and max to register a new target: without them it is an error.
            return Err(PortError::Rejected {
                op: op.into(),
                code: "ValidationException".into(),
                message: format!("no scalable target {id}"),
            });
        };
        t.scale_in_suspended = suspended;
        let now = w.now();
        w.mutations.push((now, Mutation::SuspendScaleIn { resource_id: id, suspended }));
        Ok(())
    }
}

#[async_trait]
impl Elb for Sim {
    async fn listener(&self, arn: &str) -> PortResult<Listener> {
        self.call("elasticloadbalancing:DescribeListeners").await?.listener(arn)
    }
    async fn load_balancer_dns(&self, _arn: &str) -> PortResult<String> {
        let _w = self.call("elasticloadbalancing:DescribeLoadBalancers").await?;
        Ok("127.0.0.1".into())
    }
    async fn target_health(&self, target_group_arn: &str) -> PortResult<Vec<TargetHealth>> {
        Ok(self.call("elasticloadbalancing:DescribeTargetHealth").await?.target_health(target_group_arn))
    }
    async fn health_check(&self, _target_group_arn: &str) -> PortResult<HealthCheck> {
        let _w = self.call("elasticloadbalancing:DescribeTargetGroups").await?;
        // The simulator's target groups check HTTP GET / on the traffic port, 200 only.
        Ok(HealthCheck {
            protocol: Some("HTTP".into()),
            port: Some("traffic-port".into()),
            path: Some("/".into()),
            matcher: Some("200".into()),
        })
    }
    async fn forward_weights(&self, rule_arn: &str) -> PortResult<Vec<(String, i32)>> {
        self.call("elasticloadbalancing:DescribeRules").await?.forward_weights(rule_arn)
    }
    async fn target_group_arn(&self, name: &str) -> PortResult<String> {
        let _w = self.call("elasticloadbalancing:DescribeTargetGroups").await?;
        Ok(crate::sim::traffic::target_group_arn(name))
    }
}

#[async_trait]
impl Leases for Sim {
    async fn read(&self, bucket: &str, key: &str) -> PortResult<Option<Stored>> {
        self.call("s3:GetObject").await?.s3_object(bucket, key)
    }
    async fn create(&self, bucket: &str, key: &str, body: &[u8]) -> PortResult<Option<String>> {
        self.call("s3:PutObject").await?.s3_put(bucket, key, body, None)
    }
    async fn replace(&self, bucket: &str, key: &str, body: &[u8], etag: &str) -> PortResult<Option<String>> {
        self.call("s3:PutObject").await?.s3_put(bucket, key, body, Some(etag))
    }
}

#[async_trait]
impl CloudWatch for Sim {
    async fn metric_data(&self, queries: &[MetricQuery], start: Timestamp, end: Timestamp) -> PortResult<Vec<MetricSeries>> {
        self.call("cloudwatch:GetMetricData").await?.metric_data(queries, start, end)
    }
    async fn alarms(&self, names: &[String]) -> PortResult<Vec<AlarmState>> {
        Ok(self.call("cloudwatch:DescribeAlarms").await?.alarm_states(names))
    }
    async fn alarm_history(&self, name: &str, max: usize) -> PortResult<Vec<AlarmChange>> {
        Ok(self.call("cloudwatch:DescribeAlarmHistory").await?.alarm_history(name, max))
    }
}

#[async_trait]
impl Logs for Sim {
    async fn log_events(&self, group: &str, stream: &str, token: Option<&str>) -> PortResult<LogPage> {
        let w = self.call("logs:GetLogEvents").await?;
        w.log_events(group, stream, token)
    }
}

#[async_trait]
impl Ecr for Sim {
    async fn repository_uri(&self, repository: &str) -> PortResult<String> {
        let w = self.call("ecr:DescribeRepositories").await?;
        w.repository_uri(repository)
    }
    async fn image_digest(&self, repository: &str, tag: &str) -> PortResult<Option<String>> {
        let w = self.call("ecr:BatchGetImage").await?;
        Ok(w.image_digest(repository, tag))
    }
    /// One pull-through cache rule: `docker-hub/` → Docker Hub.
    async fn pull_through_upstream(&self, repository: &str) -> PortResult<Option<String>> {
        let _w = self.call("ecr:DescribePullThroughCacheRules").await?;
        Ok(repository.starts_with("docker-hub/").then(|| "registry-1.docker.io".to_string()))
    }
    /// Another account's ECR: every image exists unless `Faults::missing` names `repo:ref`.
    async fn image_exists_in(&self, _registry_id: &str, repository: &str, reference: &str) -> PortResult<bool> {
        let w = self.call("ecr:BatchGetImage").await?;
        Ok(!w.faults.missing.contains(&format!("{repository}:{reference}")))
    }
    async fn create_repository(&self, repository: &str) -> PortResult<String> {
        let mut w = self.call("ecr:CreateRepository").await?;
        w.create_repository(repository);
        let now = w.now();
        w.mutations.push((now, Mutation::CreateRepository { repository: repository.to_string() }));
        w.repository_uri(repository)
    }
    async fn authorization(&self) -> PortResult<RegistryAuth> {
        let _w = self.call("ecr:GetAuthorizationToken").await?;
        Ok(RegistryAuth {
            username: "AWS".into(),
            password: "sandbox-password".into(),
            endpoint: format!("https://{}.dkr.ecr.{}.amazonaws.com", state::ACCOUNT, state::REGION),
        })
    }
    async fn manifest(&self, repository: &str, tag: &str) -> PortResult<Option<Manifest>> {
        let w = self.call("ecr:BatchGetImage").await?;
        Ok(w.image_digest(repository, tag).map(|digest| Manifest {
            body: format!(r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"digest":"{digest}"}},"layers":[]}}"#),
            media_type: Some("application/vnd.oci.image.manifest.v1+json".into()),
            digest: Some(digest),
        }))
    }
    async fn put_manifest(&self, repository: &str, tag: &str, m: &Manifest) -> PortResult<bool> {
        let mut w = self.call("ecr:PutImage").await?;
        let digest = m.digest.clone().unwrap_or_default();
        if w.image_digest(repository, tag).as_deref() == Some(digest.as_str()) {
            return Ok(false);
        }
        w.put_image_digest(repository, tag, &digest);
        Ok(true)
    }
}

/// The sandbox's builder: checks that the build context and Dockerfile exist, takes 45 virtual
/// seconds, and "pushes" the image into the simulated ECR.
#[async_trait]
impl Builder for Sim {
    async fn login(&self, auth: &RegistryAuth) -> Result<(), BuildError> {
        let mut w = self.world();
        let now = w.now();
        w.mutations.push((now, Mutation::DockerLogin { registry: auth.host().to_string() }));
        Ok(())
    }
    async fn build_and_push(&self, req: &BuildRequest, progress: &(dyn Fn(String) + Send + Sync)) -> Result<Option<String>, BuildError> {
        if !req.context.is_dir() {
            return Err(BuildError(format!("build context {} is not a directory; fix build.context", req.context.display())));
        }
        if !req.dockerfile.is_file() {
            return Err(BuildError(format!("Dockerfile {} does not exist; fix build.dockerfile", req.dockerfile.display())));
        }
        let fails = {
            let w = self.world();
            w.faults.build_fails || w.faults.build_fails_for.iter().any(|m| req.image.contains(m.as_str()))
        };
        if fails {
            progress("#5 ERROR: process \"/bin/sh -c make\" did not complete successfully: exit code: 2".into());
            return Err(BuildError("`docker buildx build` failed (exit 1): see the builder's output above".into()));
        }
        progress(format!(
            "#1 [internal] load build definition from {}",
            req.dockerfile.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default()
        ));
        self.sleep(Duration::from_secs(40)).await;
        {
            let mut w = self.world();
            if w.faults.foreign_deploy_during_build {
                w.faults.foreign_deploy_during_build = false;
                w.foreign_deploy();
            }
        }
        progress(format!("#8 exporting to image; pushing {}", req.image));
        self.sleep(Duration::from_secs(5)).await;
        let (repo_ref, tag) = req.image.rsplit_once(':').ok_or_else(|| BuildError(format!("image {} has no tag", req.image)))?;
        let repo = repo_ref.split_once('/').map_or(repo_ref, |(_, r)| r);
        let mut w = self.world();
        let now = w.now();
        w.mutations.push((now, Mutation::DockerPush { image: req.image.clone() }));
        w.put_image(repo, tag);
        Ok(w.image_digest(repo, tag))
    }
}

#[async_trait]
impl Clock for Sim {
    fn now(&self) -> Timestamp {
        self.world().now()
    }
    async fn sleep(&self, d: Duration) {
        let shared = self.clock.lock().map(|c| c.participants > 1).unwrap_or(false);
        if !shared {
            if self.pace > 0.0 {
                tokio::time::sleep(d.mul_f64(self.pace)).await;
            }
            self.world().advance(d.as_secs_f64());
            let _ = self.save();
            return;
        }
        let deadline = self.world().now() + d.as_secs_f64();
        let id = {
            let mut c = self.clock.lock().unwrap_or_else(|e| e.into_inner());
            c.next_id += 1;
            let id = c.next_id;
            c.sleepers.insert(id, deadline);
            id
        };
        // A sleep cut short (select! on an interrupt drops it) must not leave its wake-up behind.
        struct Leave<'a>(&'a Mutex<VirtualClock>, u64);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                if let Ok(mut c) = self.0.lock() {
                    c.sleepers.remove(&self.1);
                }
            }
        }
        let _leave = Leave(&self.clock, id);
        loop {
            {
                let c = self.clock.lock().unwrap_or_else(|e| e.into_inner());
                let mut w = self.world();
                if w.now() >= deadline {
                    return;
                }
                if c.sleepers.len() >= c.participants
                    && let Some(min) = c.sleepers.values().cloned().reduce(f64::min)
                {
                    let now = w.now();
                    w.advance((min - now).max(0.0));
                }
            }
            tokio::task::yield_now().await;
        }
    }
    fn join(&self) {
        if let Ok(mut c) = self.clock.lock() {
            c.participants += 1;
        }
    }
    fn leave(&self) {
        if let Ok(mut c) = self.clock.lock() {
            c.participants = c.participants.saturating_sub(1);
        }
    }
}
