//! The simulated AWS state and its step function.

use super::mutation::Mutation;
use super::settings::{seed_definition, sim_settings};
use super::state::*;
use crate::engine::Interrupt;
use crate::ports::*;
use crate::rounding::floor_ceiling;
use crate::states::ServiceStatus;
use crate::states::TargetHealthState;
#[allow(unused_imports)]
use crate::states::*;
use crate::taskdef::TaskDefinition;
use std::collections::{BTreeMap, BTreeSet};

impl World {
    /// DescribeTargetHealth: the tasks of the services behind `target_group`, as the load
    /// balancer sees them — healthy once their health check passed, `initial` before it, and
    /// those an image fault keeps failing `unhealthy` with `Target.ResponseCodeMismatch` (the
    /// app answers 503), while RUNNING, and `unhealthy.draining` once the scheduler stopped them.
    /// S3 with conditional writes, as the S3 User Guide describes them: every bucket exists
    /// unless `Faults::missing` names `s3://<bucket>`; a write whose precondition fails changes
    /// nothing and answers `None`. The world's lock makes each write atomic, as S3's are.
    pub(crate) fn s3_object(&self, bucket: &str, key: &str) -> PortResult<Option<crate::ports::Stored>> {
        self.s3_bucket(bucket, "s3:GetObject")?;
        Ok(self
            .objects
            .get(&(bucket.to_string(), key.to_string()))
            .map(|(body, v)| crate::ports::Stored { body: body.clone(), etag: format!("\"{v:032x}\"") }))
    }

    pub(crate) fn s3_put(&mut self, bucket: &str, key: &str, body: &[u8], if_match: Option<&str>) -> PortResult<Option<String>> {
        self.s3_bucket(bucket, "s3:PutObject")?;
        let id = (bucket.to_string(), key.to_string());
        let current = self.objects.get(&id).map(|(_, v)| format!("\"{v:032x}\""));
        let allowed = match (if_match, &current) {
            (None, None) => true,
            (Some(want), Some(have)) => want.trim_matches('"') == have.trim_matches('"'),
            _ => false,
        };
        if !allowed {
            return Ok(None);
        }
        self.seq += 1;
        let version = self.seq;
        self.objects.insert(id, (body.to_vec(), version));
        Ok(Some(format!("\"{version:032x}\"")))
    }

    fn s3_bucket(&self, bucket: &str, op: &str) -> PortResult<()> {
        if self.faults.missing.contains(&format!("s3://{bucket}")) {
            return Err(PortError::Rejected {
                op: op.into(),
                code: "NoSuchBucket".into(),
                message: "The specified bucket does not exist".into(),
            });
        }
        Ok(())
    }

    /// DescribeAlarms: every alarm asked for exists; a deployment alarm that fired is in ALARM
    /// over the target group's 5xx count, the others are OK.
    pub(crate) fn alarm_states(&self, names: &[String]) -> Vec<crate::ports::AlarmState> {
        use crate::states::AlarmStateValue;
        names
            .iter()
            .map(|name| {
                let fired = self.alarms_in_alarm.as_ref().filter(|(_, n)| n.contains(name));
                let (state, reason) = match fired {
                    Some(_) => (
                        AlarmStateValue::Alarm,
                        "Threshold Crossed: 1 datapoint [41.0 (05/12/26 06:00:00)] was greater than the threshold (5.0).",
                    ),
                    None => (
                        AlarmStateValue::Ok,
                        "Threshold Crossed: 1 datapoint [0.0 (05/12/26 06:00:00)] was not greater than the threshold (5.0).",
                    ),
                };
                crate::ports::AlarmState {
                    name: name.clone(),
                    state,
                    reason: Some(reason.into()),
                    metric: Some("AWS/ApplicationELB HTTPCode_Target_5XX_Count".into()),
                    condition: Some("GreaterThanThreshold 5.0".into()),
                    changed_at: fired.map(|(at, _)| *at),
                }
            })
            .collect()
    }

    /// DescribeAlarmHistory: the one state update of a deployment alarm that fired.
    pub(crate) fn alarm_history(&self, name: &str, max: usize) -> Vec<crate::ports::AlarmChange> {
        let fired = self.alarms_in_alarm.as_ref().filter(|(_, n)| n.iter().any(|x| x == name));
        fired
            .map(|(at, _)| crate::ports::AlarmChange {
                alarm: name.to_string(),
                at: Some(*at),
                summary: "Alarm updated from OK to ALARM".into(),
            })
            .into_iter()
            .take(max)
            .collect()
    }

    pub(crate) fn target_health(&self, target_group: &str) -> Vec<TargetHealth> {
        let behind = |t: &SimTask| {
            self.services.iter().any(|s| {
                s.cluster == t.cluster
                    && s.name == t.service
                    && s.def.load_balancers.iter().flatten().any(|l| l.target_group_arn == target_group)
            })
        };
        let failing = |t: &SimTask| self.faults.unhealthy.iter().any(|p| t.image.contains(p.as_str()));
        let mismatch =
            || (Some("Target.ResponseCodeMismatch".to_string()), Some("Health checks failed with these codes: [503]".to_string()));
        self.tasks
            .iter()
            .filter(|t| t.one_off.is_none() && behind(t))
            .filter_map(|t| {
                let ((reason, description), state) = match t.last_status {
                    TaskStatus::Running if t.healthy => ((None, None), TargetHealthState::Healthy),
                    TaskStatus::Running if failing(t) => (mismatch(), TargetHealthState::Unhealthy),
                    TaskStatus::Running => (
                        (Some("Elb.InitialHealthChecking".into()), Some("Initial health checks in progress".into())),
                        TargetHealthState::Initial,
                    ),
                    TaskStatus::Stopped if failing(t) && t.stop_code == Some(StopCode::ServiceSchedulerInitiated) => {
                        (mismatch(), TargetHealthState::UnhealthyDraining)
                    }
                    _ => return None,
                };
                let id = t.arn.rsplit('/').next().unwrap_or_default();
                let ip = format!(
                    "10.0.{}.{}:8080",
                    u8::from_str_radix(id.get(..2).unwrap_or("0"), 16).unwrap_or(0),
                    u8::from_str_radix(id.get(2..4).unwrap_or("0"), 16).unwrap_or(0)
                );
                Some(TargetHealth { target: ip, state, reason, description })
            })
            .collect()
    }
}

impl World {
    pub fn new(faults: Faults) -> World {
        World {
            now: EPOCH,
            serving: Vec::new(),
            draws: Draws(faults.noise.as_ref().map_or(1, |n| n.seed)),
            delays_drawn: 0,
            faults,
            services: Vec::new(),
            families: BTreeMap::new(),
            tasks: Vec::new(),
            repos: BTreeSet::new(),
            images: BTreeMap::new(),
            seq: 0,
            calls_seen: 0,
            interrupt: None,
            alarm_fired: false,
            hung: false,
            objects: BTreeMap::new(),
            alarms_in_alarm: None,
            foreign_done: false,
            first_update_at: None,
            mutations: Vec::new(),
            scalable_targets: BTreeMap::new(),
            logs: BTreeMap::new(),
            terminal_log: Vec::new(),
            account: crate::budget::RateBudget::with_share(1.0),
            throttled_by_account: 0,
            cd: Default::default(),
            bus: Default::default(),
        }
    }

    pub(crate) fn now(&self) -> f64 {
        self.now
    }

    pub(super) fn next_hex(&mut self) -> String {
        self.hex_id()
    }

    pub(super) fn service_desired(&self, cluster: &str, name: &str) -> Option<i32> {
        self.svc_index(cluster, name).map(|i| self.services[i].desired)
    }

    pub(super) fn service_td(&self, cluster: &str, name: &str) -> Option<String> {
        self.svc_index(cluster, name).map(|i| self.services[i].td.clone())
    }

    /// The service's deployment configuration (tests).
    pub fn deployment_config(&self, cluster: &str, name: &str) -> Option<DeploymentConfig> {
        self.svc_index(cluster, name).map(|i| self.services[i].config.clone())
    }

    /// Someone deletes the service (DeleteService): DRAINING until its tasks are gone (tests).
    pub fn set_service_status(&mut self, cluster: &str, name: &str, status: ServiceStatus) {
        if let Some(i) = self.svc_index(cluster, name) {
            self.services[i].status = status;
        }
    }

    pub(super) fn set_service_td(&mut self, cluster: &str, name: &str, td: &str) {
        if let Some(i) = self.svc_index(cluster, name) {
            self.services[i].td = td.to_string();
        }
    }

    pub(super) fn td_image(&self, td: &str) -> String {
        self.lookup_td(td).and_then(|(d, _)| d.container_definitions.iter().find_map(|c| c.image.clone())).unwrap_or_default()
    }

    /// A service with the CODE_DEPLOY controller: task sets, no ECS deployments.
    pub(crate) fn seed_codedeploy_service(&mut self, seed: SeedService) -> String {
        let arn = self.seed_service(seed);
        if let Some(s) = self.services.iter_mut().find(|s| s.arn == arn) {
            s.def.deployment_controller = Some(Controller::CodeDeploy);
            s.deployments.clear();
            s.sds.clear();
        }
        arn
    }

    pub(super) fn next(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A deterministic 32-hex-digit id (splitmix64 of a counter).
    fn hex_id(&mut self) -> String {
        let mix = |mut z: u64| {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let n = self.next();
        format!("{:016x}{:016x}", mix(n), mix(n ^ 0xA5A5_A5A5))
    }

    pub(crate) fn schedule_interrupt(&mut self, at: f64, i: Interrupt) {
        self.interrupt = Some((EPOCH + at, i));
    }

    /// A lost answer for a call that took effect (checked after acting).
    pub(crate) fn lose_response(&mut self, op: &str) -> PortResult<()> {
        if let Some(n) = self.faults.lost_responses.get_mut(op)
            && *n > 0
        {
            *n -= 1;
            return Err(PortError::Transient {
                op: op.into(),
                message: "timeout waiting for the response (injected; the call took effect)".into(),
            });
        }
        Ok(())
    }

    /// Apply the throttling / 5xx faults for one call.
    pub(crate) fn gate(&mut self, op: &str) -> PortResult<()> {
        self.calls_seen += 1;
        if let Some(n) = self.faults.throttle.get_mut(op)
            && *n > 0
        {
            *n -= 1;
            return Err(PortError::Throttled { op: op.into() });
        }
        if let Some(n) = self.faults.server_error.get_mut(op)
            && *n > 0
        {
            *n -= 1;
            return Err(PortError::Transient { op: op.into(), message: "HTTP 500 InternalFailure (injected)".into() });
        }
        if let Some(n) = self.faults.malformed.get_mut(op)
            && *n > 0
        {
            *n -= 1;
            return Err(PortError::Transient { op: op.into(), message: "malformed response: unknown enum value (injected)".into() });
        }
        // A storm throttles about one call in k, spread pseudo-randomly (deterministic).
        if let Some(k) = self.faults.throttle_every
            && k > 0
            && (self.calls_seen.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33).is_multiple_of(k)
        {
            return Err(PortError::Throttled { op: op.into() });
        }
        if self.faults.account_limits && self.account.try_take(op, self.now).is_some() {
            self.throttled_by_account += 1;
            return Err(PortError::Throttled { op: op.into() });
        }
        if self.faults.denied.contains(op) {
            return Err(PortError::Rejected {
                op: op.into(),
                code: "AccessDeniedException".into(),
                message: format!("User: arn:aws:sts::{ACCOUNT}:assumed-role/ci/fgdeploy is not authorized to perform: {op}"),
            });
        }
        if self.faults.no_service_deployments_api && op.contains("ServiceDeployment") {
            return Err(PortError::Unsupported {
                op: op.into(),
                message: "UnknownOperationException (simulated endpoint without the service-deployment API)".into(),
            });
        }
        Ok(())
    }

    // ----- seeding -------------------------------------------------------------------------

    pub(crate) fn create_repository(&mut self, name: &str) {
        self.repos.insert(name.to_string());
    }

    pub(crate) fn put_image_digest(&mut self, repo: &str, tag: &str, digest: &str) {
        self.repos.insert(repo.to_string());
        self.mutations.push((self.now, Mutation::PutImage { repository: repo.to_string(), tag: tag.to_string() }));
        self.images.insert((repo.to_string(), tag.to_string()), digest.to_string());
    }

    pub fn put_image(&mut self, repo: &str, tag: &str) {
        self.repos.insert(repo.to_string());
        let digest = format!("sha256:{}{}", self.hex_id(), self.hex_id());
        self.images.insert((repo.to_string(), tag.to_string()), digest);
    }

    /// A service that has been running `seed.task_definition` steadily (its one deployment
    /// COMPLETED, tasks healthy). Returns the service ARN.
    pub(crate) fn seed_service(&mut self, seed: SeedService) -> String {
        let earlier = seed.history.clone().map(|td| self.register_task_definition(td).arn);
        let mut live = seed.task_definition.clone();
        if let Some(prev) = &earlier {
            let tag = crate::taskdef::model::Tag { key: Some(crate::plan::TAG_PREVIOUS.into()), value: Some(prev.clone()) };
            live.tags.get_or_insert_with(Vec::new).push(tag);
        }
        let reg = self.register_task_definition(live);
        let arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{}/{}", seed.cluster, seed.name);
        let dep_id = format!("ecs-svc/{:019}", self.next());
        let sd_arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{}/{}/{}", seed.cluster, seed.name, self.hex_id());
        let earlier_sd = match earlier {
            Some(_) => format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{}/{}/{}", seed.cluster, seed.name, self.hex_id()),
            None => String::new(),
        };
        let now = self.now;
        // The rollout that put this revision in place, a day ago, at the world's own pace:
        // tasks launched a second after UpdateService, RUNNING `start_secs` later, healthy
        // `health_secs` after that, the old tasks gone and the deployment COMPLETED a second
        // later. Its events and task timestamps are what ECS would still show.
        let created = now - 86_400.0;
        let launched = created + 1.0;
        // With noise, the last rollout ran at its own pace, its slowest task setting the end.
        let (history_pace, spread, aged_out) =
            self.faults.noise.as_ref().map_or((1.0, 0.0, false), |n| (n.history_pace, n.per_task, n.no_history));
        let running = launched + self.faults.start_secs * history_pace;
        let completed = running + self.faults.health_secs * history_pace * (1.0 + spread * self.draws.unit()) + 1.0;
        let (tasks, events) = self.seeded_rollout(&seed, (&reg.arn, &dep_id), (launched, running, completed), aged_out);
        let def = seed_definition(&seed);
        self.services.push(SimService {
            status: ServiceStatus::Active,
            arn: arn.clone(),
            cluster: seed.cluster.clone(),
            name: seed.name.clone(),
            desired: seed.desired,
            td: reg.arn.clone(),
            config: seed.config,
            def,
            deployments: vec![SimDeployment {
                id: dep_id.clone(),
                td: reg.arn.clone(),
                primary: true,
                desired: seed.desired,
                rollout_state: RolloutState::Completed,
                reason: Some("ECS deployment completed.".into()),
                failed_tasks: 0,
                had_healthy: true,
                created_at: created,
                steady_at: Some(completed),
                sd_arn: sd_arn.clone(),
                rollback_of: None,
            }],
            sds: seeded_sds(earlier.as_deref(), &earlier_sd, &sd_arn, &reg.arn, (created, completed)),
            events,
            stuck_reported: false,
            capacity_reported_at: None,
        });
        self.tasks.extend(tasks);
        arn
    }

    /// This task's start and health delays: the faults' times, with the noise when there is some.
    fn task_delays(&mut self) -> (f64, f64) {
        let (start, health) = (self.faults.start_secs, self.faults.health_secs);
        let Some(n) = self.faults.noise.clone() else { return (start, health) };
        self.delays_drawn += 1;
        let straggler = if self.delays_drawn == 1 { n.straggler } else { 1.0 };
        let d = &mut self.draws;
        let slow = if d.unit() < n.slow_pull_fraction { n.slow_pull_factor } else { 1.0 };
        let start = start * n.pace * d.spread(n.per_task) * slow * d.lognormal(n.tail_sigma) * straggler + n.added_start_secs;
        (start, health * n.pace * d.spread(n.per_task))
    }

    /// Seconds until a whole new task set of `tasks` tasks is healthy (a blue/green green set):
    /// its slowest task. Without noise, `start_secs + health_secs`. `history`: the seeded
    /// previous deployment, at the history's own pace (drawn apart from this release's).
    pub(super) fn task_set_ready_secs(&mut self, tasks: i32, history: bool) -> f64 {
        let base = self.faults.start_secs + self.faults.health_secs;
        let Some(n) = self.faults.noise.clone() else { return base };
        if history {
            return base * n.history_pace * (1.0 + n.per_task * self.draws.unit());
        }
        (0..tasks.max(1)).map(|_| self.task_delays()).map(|(s, h)| s + h).fold(0.0, f64::max)
    }

    /// The desired count of a service (0 when it does not exist).
    pub(super) fn desired_of(&self, cluster: &str, name: &str) -> i32 {
        self.svc_index(cluster, name).map_or(0, |i| self.services[i].desired)
    }

    /// The seeded service's last rollout: its tasks (RUNNING and healthy) and the events ECS
    /// would still show of it (none when they aged out).
    fn seeded_rollout(
        &mut self,
        seed: &SeedService,
        (td, dep_id): (&str, &str),
        (launched, running, completed): (f64, f64, f64),
        aged_out: bool,
    ) -> (Vec<SimTask>, Vec<ServiceEvent>) {
        let mut tasks = Vec::new();
        for _ in 0..seed.desired {
            let mut t = self.new_task(&seed.cluster, &seed.name, td, dep_id);
            t.last_status = TaskStatus::Running;
            t.created_at = launched;
            t.running_at = Some(running);
            t.healthy = true;
            tasks.push(t);
        }
        let ids: Vec<String> = tasks.iter().map(|t| format!("(task {})", t.arn.rsplit('/').next().unwrap_or_default())).collect();
        let mut events = Vec::new();
        for (at, message) in [
            (launched, format!("(service {}) has started {} tasks: {}.", seed.name, seed.desired, ids.join(" "))),
            (completed, format!("(service {}) has reached a steady state.", seed.name)),
            (completed, format!("(service {}) (deployment {dep_id}) deployment completed.", seed.name)),
        ] {
            if !aged_out {
                events.push(ServiceEvent { id: format!("ev-{}", self.next()), created_at: Some(at), message });
            }
        }
        (tasks, events)
    }

    fn new_task(&mut self, cluster: &str, service: &str, td: &str, started_by: &str) -> SimTask {
        let (start_delay, health_delay) = self.task_delays();
        let id = self.hex_id();
        let def = self.lookup_td(td).map(|(d, _)| d.clone());
        let image = def.as_ref().and_then(|d| d.container_definitions.iter().find_map(|c| c.image.clone())).unwrap_or_default();
        let containers = def.map(|d| d.container_definitions.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
        SimTask {
            arn: format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster}/{id}"),
            cluster: cluster.into(),
            service: service.into(),
            td: td.into(),
            image,
            containers,
            started_by: started_by.into(),
            last_status: TaskStatus::Pending,
            desired_stopped: false,
            healthy: false,
            created_at: self.now,
            running_at: None,
            start_delay,
            health_delay,
            stop_code: None,
            stopped_reason: None,
            container_reason: None,
            exit_code: None,
            one_off: None,
        }
    }

    // ----- task definitions / ECR ----------------------------------------------------------

    fn lookup_td(&self, r: &str) -> Option<(&TaskDefinition, String)> {
        let tail = r.rsplit('/').next().unwrap_or(r);
        let (family, rev) = match tail.split_once(':') {
            Some((f, r)) => (f, r.parse::<usize>().ok()?),
            None => (tail, self.families.get(tail)?.len()),
        };
        let revs = self.families.get(family)?;
        let (td, _) = revs.get(rev.checked_sub(1)?)?;
        Some((td, td_arn(family, rev)))
    }

    /// ListTasks(serviceName, RUNNING).
    pub(crate) fn service_tasks(&self, cluster: &str, service: &str) -> Vec<String> {
        self.tasks
            .iter()
            .filter(|t| t.cluster == cluster && t.service == service && !t.desired_stopped && t.last_status != TaskStatus::Stopped)
            .map(|t| t.arn.clone())
            .collect()
    }

    /// ExecuteCommand: a session for a RUNNING task's container of a service with ECS Exec on
    /// (the errors are AWS's own texts).
    pub(crate) fn execute_command(&mut self, _cluster: &str, task: &str, container: &str) -> PortResult<crate::ports::ExecSession> {
        let op = "ecs:ExecuteCommand";
        let reject =
            |message: &str| PortError::Rejected { op: op.into(), code: "InvalidParameterException".into(), message: message.into() };
        let t = self
            .tasks
            .iter()
            .find(|t| t.arn == task || t.arn.ends_with(&format!("/{task}")))
            .ok_or_else(|| reject("The specified task was not found."))?;
        if self.faults.exec_disabled {
            return Err(reject(
                "The execute command failed because execute command was not enabled when the task was run or the execute command agent isn't running. Wait and try again or run a new task with execute command enabled and try again.",
            ));
        }
        if !t.containers.iter().any(|c| c == container) {
            return Err(reject("The specified container was not found."));
        }
        let id = format!("ecs-execute-command-{}", self.hex_id());
        Ok(crate::ports::ExecSession {
            stream_url: format!("wss://ssmmessages.{REGION}.amazonaws.com/v1/data-channel/{id}?role=publish_subscribe"),
            session_id: id,
            token_value: "sandbox-exec-token".into(),
        })
    }

    /// UpdateService with only a desired count: the PRIMARY deployment scales, no new one starts.
    pub(crate) fn set_desired_count(&mut self, cluster: &str, name: &str, count: i32) -> PortResult<ServiceState> {
        let i = self.svc_index(cluster, name).ok_or_else(|| PortError::NotFound {
            op: "ecs:UpdateService".into(),
            message: "ServiceNotFoundException: Service not found.".into(),
        })?;
        let s = &mut self.services[i];
        s.desired = count;
        s.deployments.iter_mut().filter(|d| d.primary).for_each(|d| d.desired = count);
        let m = Mutation::UpdateService {
            service: name.into(),
            task_definition: s.td.clone(),
            desired_count: Some(count),
            foreign: false,
            settings: Vec::new(),
        };
        self.mutations.push((self.now, m));
        Ok(self.service_state(i))
    }

    /// Application Auto Scaling scales the service between `min` and `max` and has set its
    /// desired count to `desired` (the tasks follow as ECS would).
    pub fn autoscale(&mut self, cluster: &str, name: &str, (min, max): (i32, i32), desired: i32) {
        let id = crate::ports::scalable_resource_id(cluster, name);
        self.scalable_targets.insert(id, crate::ports::ScalableTarget { min, max, scale_in_suspended: false });
        if let Some(i) = self.svc_index(cluster, name) {
            self.services[i].desired = desired;
            for d in self.services[i].deployments.iter_mut().filter(|d| d.primary) {
                d.desired = desired;
            }
        }
    }

    pub fn register_task_definition(&mut self, td: TaskDefinition) -> RegisteredTaskDefinition {
        let family = td.family.clone();
        let revs = self.families.entry(family.clone()).or_default();
        revs.push((td.clone(), true));
        let rev = revs.len();
        self.mutations.push((self.now, Mutation::RegisterTaskDefinition { family: family.clone(), revision: rev }));
        RegisteredTaskDefinition { arn: td_arn(&family, rev), family, revision: rev as i32, definition: td }
    }

    pub fn describe_task_definition(&self, r: &str) -> PortResult<RegisteredTaskDefinition> {
        let (td, arn) = self.lookup_td(r).ok_or_else(|| PortError::Rejected {
            op: "ecs:DescribeTaskDefinition".into(),
            code: "ClientException".into(),
            message: format!("Unable to describe task definition {r}."),
        })?;
        let revision = arn.rsplit(':').next().and_then(|x| x.parse().ok()).unwrap_or(0);
        Ok(RegisteredTaskDefinition { arn, family: td.family.clone(), revision, definition: td.clone() })
    }

    pub(crate) fn list_task_definitions(&self, family: &str) -> Vec<String> {
        self.families.get(family).map_or_else(Vec::new, |revs| {
            revs.iter().enumerate().filter(|(_, (_, active))| *active).map(|(i, _)| td_arn(family, i + 1)).collect()
        })
    }

    pub(crate) fn deregister_task_definition(&mut self, arn: &str) -> PortResult<()> {
        let tail = arn.rsplit('/').next().unwrap_or(arn);
        let (family, rev) =
            tail.split_once(':').and_then(|(f, r)| Some((f.to_string(), r.parse::<usize>().ok()?))).ok_or_else(|| PortError::Rejected {
                op: "ecs:DeregisterTaskDefinition".into(),
                code: "ClientException".into(),
                message: format!("invalid revision {arn}"),
            })?;
        let now = self.now;
        let entry =
            self.families.get_mut(&family).and_then(|revs| revs.get_mut(rev.wrapping_sub(1))).ok_or_else(|| PortError::Rejected {
                op: "ecs:DeregisterTaskDefinition".into(),
                code: "ClientException".into(),
                message: format!("Unable to describe task definition {arn}."),
            })?;
        entry.1 = false;
        self.mutations.push((now, Mutation::DeregisterTaskDefinition { family: family.to_string(), revision: rev }));
        Ok(())
    }

    /// Whether a revision is ACTIVE.
    pub fn is_active(&self, family: &str, rev: usize) -> bool {
        self.families.get(family).and_then(|r| r.get(rev.wrapping_sub(1))).is_some_and(|(_, a)| *a)
    }

    pub fn task_definition_count(&self, family: &str) -> usize {
        self.families.get(family).map_or(0, Vec::len)
    }

    pub(crate) fn repository_uri(&self, repo: &str) -> PortResult<String> {
        if self.repos.contains(repo) {
            Ok(format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repo}"))
        } else {
            Err(PortError::NotFound {
                op: "ecr:DescribeRepositories".into(),
                message: format!("The repository with name '{repo}' does not exist in the registry with id '{ACCOUNT}'"),
            })
        }
    }

    pub fn image_digest(&self, repo: &str, tag: &str) -> Option<String> {
        self.images.get(&(repo.to_string(), tag.to_string())).cloned()
    }

    // ----- services ------------------------------------------------------------------------

    pub(super) fn svc_index(&self, cluster: &str, name: &str) -> Option<usize> {
        let cluster = cluster.rsplit('/').next().unwrap_or(cluster);
        let name = name.rsplit('/').next().unwrap_or(name);
        self.services.iter().position(|s| s.cluster == cluster && s.name == name)
    }

    pub fn describe_service(&self, cluster: &str, name: &str) -> PortResult<Option<ServiceState>> {
        Ok(self.svc_index(cluster, name).map(|i| self.service_state(i)))
    }

    fn service_state(&self, i: usize) -> ServiceState {
        let s = &self.services[i];
        let counts = |dep: &str| {
            let mut running = 0;
            let mut pending = 0;
            for t in self.tasks.iter().filter(|t| t.started_by == dep && !t.desired_stopped && t.last_status != TaskStatus::Stopped) {
                if t.last_status == TaskStatus::Running { running += 1 } else { pending += 1 }
            }
            (running, pending)
        };
        let mut deployments: Vec<Deployment> = s
            .deployments
            .iter()
            .map(|d| {
                let (running, pending) = counts(&d.id);
                Deployment {
                    id: d.id.clone(),
                    status: if d.primary { DeploymentStatus::from_aws("PRIMARY") } else { DeploymentStatus::from_aws("ACTIVE") },
                    task_definition: d.td.clone(),
                    desired: d.desired,
                    running,
                    pending,
                    failed_tasks: d.failed_tasks,
                    rollout_state: Some(RolloutState::from_aws(d.rollout_state.as_str())),
                    rollout_state_reason: d.reason.clone(),
                    created_at: Some(d.created_at),
                }
            })
            .collect();
        deployments.sort_by(|a, b| b.created_at.partial_cmp(&a.created_at).unwrap_or(std::cmp::Ordering::Equal));
        let code_deploy = s.def.deployment_controller == Some(Controller::CodeDeploy);
        if code_deploy {
            deployments.clear();
        }
        let running = if code_deploy { s.desired } else { deployments.iter().map(|d| d.running).sum() };
        let pending = deployments.iter().map(|d| d.pending).sum();
        let mut events = s.events.clone();
        events.reverse();
        events.truncate(100);
        ServiceState {
            arn: s.arn.clone(),
            name: s.name.clone(),
            cluster_arn: format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{}", s.cluster),
            status: s.status.clone(),
            desired_count: s.desired,
            running_count: running,
            pending_count: pending,
            task_definition: s.td.clone(),
            deployment_controller: s.def.deployment_controller.unwrap_or_default(),
            deployment_config: s.config.clone(),
            deployments,
            events,
            current_service_deployment: if self.faults.no_service_deployments_api { None } else { s.sds.last().map(|sd| sd.arn.clone()) },
            ..sim_settings(&s.def, &self.faults)
        }
    }

    fn event(&mut self, i: usize, message: String) {
        let id = format!("ev-{}", self.next());
        let now = self.now;
        self.services[i].events.push(ServiceEvent { id, created_at: Some(now), message });
    }

    pub fn update_service(&mut self, req: &UpdateService, foreign: bool) -> PortResult<ServiceState> {
        let i = self.svc_index(&req.cluster, &req.service).ok_or_else(|| PortError::NotFound {
            op: "ecs:UpdateService".into(),
            message: "ServiceNotFoundException: Service not found.".into(),
        })?;
        let controller = self.services[i].def.deployment_controller.unwrap_or_default();
        super::settings::check_update(controller, !req.task_definition.is_empty(), &req.settings)?;
        if !foreign && !req.task_definition.is_empty() && self.first_update_at.is_none() {
            self.first_update_at = Some(self.now);
            // The release's own tasks come next: the noise's straggler is the first of them.
            self.delays_drawn = 0;
        }
        let td = match req.task_definition.as_str() {
            "" => String::new(),
            given => self.lookup_td(given).map(|(_, a)| a).ok_or_else(|| PortError::Rejected {
                op: "ecs:UpdateService".into(),
                code: "ClientException".into(),
                message: "TaskDefinition not found.".into(),
            })?,
        };
        let (service, desired_count, settings) = (req.service.clone(), req.desired_count, req.settings.fields());
        let m = Mutation::UpdateService { service, task_definition: td.clone(), desired_count, foreign, settings };
        self.mutations.push((self.now, m));
        super::settings::apply(&mut self.services[i].def, &req.settings);
        if let Some(native) = &req.native {
            // deploymentConfiguration is taken as a whole: what was sent is what the service has.
            self.services[i].config = native_config(native);
        }
        if td.is_empty() {
            // Settings only (what a CODE_DEPLOY service accepts): no new deployment.
            return Ok(self.service_state(i));
        }
        if let Some(native) = &req.native {
            return self.update_service_native(i, td, native.clone());
        }
        let dep_id = format!("ecs-svc/{:019}", self.next());
        let hex = self.hex_id();
        let sd_arn =
            format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{}/{}/{hex}", self.services[i].cluster, self.services[i].name);
        let now = self.now;
        let s = &mut self.services[i];
        if let Some(n) = req.desired_count {
            s.desired = n;
        }
        if let Some(c) = &req.deployment_config {
            s.config = c.clone();
        }
        let sources: Vec<String> = s.deployments.iter().map(|d| d.td.clone()).collect();
        supersede(s, now);
        s.td = td.clone();
        s.stuck_reported = false;
        let desired = s.desired;
        s.deployments.push(SimDeployment::started(dep_id.clone(), &td, desired, now, &sd_arn));
        s.sds.push(SimSd::in_progress(sd_arn, td, sources, now, None));
        self.ecs_deployment_event(i, "SERVICE_DEPLOYMENT_IN_PROGRESS", &dep_id, &format!("ECS deployment {dep_id} in progress."));
        Ok(self.service_state(i))
    }

    /// CreateService: the service with its first deployment IN_PROGRESS and no task yet.
    pub(crate) fn create_service(&mut self, req: &CreateService) -> PortResult<ServiceState> {
        let op = "ecs:CreateService";
        if let Some(i) = self.svc_index(&req.cluster, &req.service) {
            // The same request again (a retry after a lost answer) gets the service back.
            if self.services[i]
                .deployments
                .first()
                .is_some_and(|d| req.task_definition.ends_with(d.td.rsplit('/').next().unwrap_or_default()))
            {
                return Ok(self.service_state(i));
            }
            let message = "Creation of service was not idempotent.".into();
            return Err(PortError::Rejected { op: op.into(), code: "InvalidParameterException".into(), message });
        }
        super::settings::check_create(&req.settings)?;
        let Some(td) = self.lookup_td(&req.task_definition).map(|(_, a)| a) else {
            return Err(PortError::Rejected { op: op.into(), code: "ClientException".into(), message: "TaskDefinition not found.".into() });
        };
        let cluster = req.cluster.rsplit('/').next().unwrap_or(&req.cluster).to_string();
        let dep_id = format!("ecs-svc/{:019}", self.next());
        let sd_arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{cluster}/{}/{}", req.service, self.hex_id());
        self.mutations.push((
            self.now,
            Mutation::CreateService { service: req.service.clone(), task_definition: td.clone(), desired_count: req.desired_count },
        ));
        let now = self.now;
        self.services.push(SimService {
            status: ServiceStatus::Active,
            arn: format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{}", req.service),
            cluster,
            name: req.service.clone(),
            desired: req.desired_count,
            td: td.clone(),
            config: req.deployment_config.clone().unwrap_or_default(),
            def: super::settings::created(&req.settings),
            deployments: vec![SimDeployment::started(dep_id, &td, req.desired_count, now, &sd_arn)],
            sds: vec![SimSd::in_progress(sd_arn, td, Vec::new(), now, None)],
            events: Vec::new(),
            stuck_reported: false,
            capacity_reported_at: None,
        });
        Ok(self.service_state(self.services.len() - 1))
    }

    /// TagResource on a service.
    pub fn tag_service(&mut self, arn: &str, tags: &BTreeMap<String, String>) -> PortResult<()> {
        let Some(s) = self.services.iter_mut().find(|s| s.arn == arn) else {
            return Err(PortError::NotFound { op: "ecs:TagResource".into(), message: "The specified resource could not be found.".into() });
        };
        s.def.tags.get_or_insert_with(Default::default).extend(tags.clone());
        self.mutations.push((self.now, Mutation::TagResource { arn: arn.to_string(), keys: tags.keys().cloned().collect() }));
        Ok(())
    }

    pub(crate) fn list_service_deployments(&self, cluster: &str, service: &str, created_after: Option<f64>) -> PortResult<Vec<String>> {
        let i = self
            .svc_index(cluster, service)
            .ok_or_else(|| PortError::NotFound { op: "ecs:ListServiceDeployments".into(), message: "ServiceNotFoundException".into() })?;
        let mut v: Vec<&SimSd> = self.services[i].sds.iter().filter(|sd| created_after.is_none_or(|t| sd.created_at >= t)).collect();
        v.reverse();
        Ok(v.into_iter().map(|sd| sd.arn.clone()).collect())
    }

    pub(crate) fn describe_service_deployments(&self, arns: &[String]) -> PortResult<Vec<ServiceDeployment>> {
        let mut out = Vec::new();
        for arn in arns {
            for s in &self.services {
                if let Some(sd) = s.sds.iter().find(|sd| &sd.arn == arn) {
                    let dep = s.deployments.iter().find(|d| &d.sd_arn == arn && d.rollback_of.is_none());
                    let threshold =
                        s.config.circuit_breaker.as_ref().map_or_else(|| circuit_threshold(s.desired), |c| c.threshold_for(s.desired));
                    out.push(ServiceDeployment {
                        arn: sd.arn.clone(),
                        status: SdStatus::from_aws(sd.status.as_str()),
                        status_reason: sd.status_reason.clone(),
                        target_revision: None,
                        target_task_definition: Some(sd.target.clone()),
                        source_task_definitions: sd.sources.clone(),
                        created_at: Some(sd.created_at),
                        finished_at: sd.finished_at,
                        rollback_reason: sd.rollback_reason.clone(),
                        circuit_breaker: s.config.circuit_breaker.as_ref().filter(|c| c.enable).map(|_| ServiceDeploymentCircuitBreaker {
                            status: Some(if dep.is_some_and(|d| d.rollout_state == RolloutState::Failed) {
                                "TRIGGERED".into()
                            } else {
                                "MONITORING".into()
                            }),
                            failure_count: dep.map_or(0, |d| d.failed_tasks),
                            threshold,
                        }),
                        lifecycle_stage: sd.native.as_ref().map(|n| LifecycleStage::from_aws(n.stage.as_str())),
                        hooks: sd.native.as_ref().map(|n| n.hook_details()).unwrap_or_default(),
                    });
                }
            }
        }
        Ok(out)
    }

    fn update_service_native(&mut self, i: usize, td: String, cfg: NativeDeployment) -> PortResult<ServiceState> {
        let now = self.now;
        let hex = self.hex_id();
        let image = self.td_image(&td);
        let unhealthy = self.faults.unhealthy.iter().chain(self.faults.fail_start.iter()).any(|p| image.contains(p.as_str()));
        let tasks = self.services[i].desired;
        let ready = now + self.task_set_ready_secs(tasks, false);
        let s = &mut self.services[i];
        let arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{}/{}/{hex}", s.cluster, s.name);
        let mut state = NativeState::new(cfg, now, if unhealthy { f64::INFINITY } else { ready }, unhealthy.then_some(now + 300.0));
        state.someone_continues = self.faults.gate_bypassed;
        state.person_answers_after = self.faults.person_answers_after;
        let sources = vec![s.td.clone()];
        s.sds.push(SimSd::in_progress(arn, td, sources, now, Some(state)));
        Ok(self.service_state(i))
    }

    /// How many of the team's PAUSE hooks a person answered (tests).
    pub fn person_answers(&self) -> u32 {
        self.services.iter().flat_map(|s| s.sds.iter()).filter_map(|sd| sd.native.as_ref()).map(|n| n.person_answers).sum()
    }

    /// The service's deployment configuration as ECS keeps it (tests, seeding).
    pub fn set_deployment_config(&mut self, cluster: &str, name: &str, config: DeploymentConfig) {
        if let Some(i) = self.svc_index(cluster, name) {
            self.services[i].config = config;
        }
    }

    pub(super) fn native_state(&self, arn: &str) -> Option<&NativeState> {
        self.services.iter().flat_map(|s| s.sds.iter()).find(|sd| sd.arn == arn).and_then(|sd| sd.native.as_ref())
    }

    pub(crate) fn continue_service_deployment(&mut self, arn: &str, hook_id: &str, action: HookAction) -> PortResult<()> {
        let op = "ecs:ContinueServiceDeployment";
        let now = self.now;
        let sd = self
            .services
            .iter_mut()
            .flat_map(|s| s.sds.iter_mut())
            .find(|sd| sd.arn == arn)
            .ok_or_else(|| PortError::NotFound { op: op.into(), message: "ServiceDeploymentNotFoundException".into() })?;
        if sd.status != SdStatus::InProgress {
            return Err(PortError::Rejected {
                op: op.into(),
                code: "ConflictException".into(),
                message: format!("the service deployment is {}", sd.status),
            });
        }
        let n = sd.native.as_mut().ok_or_else(|| PortError::Rejected {
            op: op.into(),
            code: "InvalidParameterException".into(),
            message: "not a deployment with lifecycle hooks".into(),
        })?;
        let hook =
            n.hooks.iter_mut().find(|h| h.id == hook_id && h.status == HookStatus::AwaitingAction).ok_or_else(|| PortError::Rejected {
                op: op.into(),
                code: "InvalidParameterException".into(),
                message: format!("hook {hook_id} is not awaiting action"),
            })?;
        if self.faults.answered_first && !self.faults.gate_bypassed {
            // A colleague pressed CONTINUE a moment before fgdeploy's answer arrived.
            hook.status = HookStatus::Succeeded;
            return Err(PortError::Rejected {
                op: op.into(),
                code: "InvalidParameterException".into(),
                message: format!("hook {hook_id} is not awaiting action"),
            });
        }
        hook.status = HookStatus::Succeeded;
        hook.answered_at = Some(now);
        if action == HookAction::Rollback {
            sd.status = SdStatus::RollbackInProgress;
            sd.rollback_reason = Some("rolled back at the PAUSE hook by ContinueServiceDeployment(ROLLBACK)".into());
            n.rollback_until = Some(now + 30.0);
        }
        self.mutations.push((now, Mutation::ContinueServiceDeployment { arn: arn.to_string(), action: action.to_string() }));
        Ok(())
    }

    pub(super) fn step_native(&mut self) {
        let now = self.now;
        for i in 0..self.services.len() {
            for j in 0..self.services[i].sds.len() {
                let sd = &mut self.services[i].sds[j];
                let status = sd.status.clone();
                let Some(n) = sd.native.as_mut() else { continue };
                if !matches!(status, SdStatus::InProgress | SdStatus::RollbackInProgress) {
                    continue;
                }
                match super::native::step(n, &status, now) {
                    Outcome::Continue => {}
                    Outcome::Shifted => {
                        let target = sd.target.clone();
                        self.relabel_primary(i, &target);
                    }
                    Outcome::Succeeded => {
                        sd.status = SdStatus::Successful;
                        sd.finished_at = Some(now);
                    }
                    Outcome::RollingBack(why) => {
                        sd.status = SdStatus::RollbackInProgress;
                        sd.rollback_reason = Some(why);
                        n.rollback_until = Some(now + 30.0);
                    }
                    Outcome::RolledBack => {
                        sd.status = SdStatus::RollbackSuccessful;
                        sd.finished_at = Some(now);
                        let source = sd.sources.first().cloned().unwrap_or_default();
                        self.relabel_primary(i, &source);
                    }
                }
            }
        }
    }

    /// ECS-native traffic moved: the service, its PRIMARY deployment and that deployment's
    /// tasks now run `td` (the simulator models the green fleet by relabelling the blue one,
    /// so DescribeServices shows what AWS shows once traffic moved: the PRIMARY on `td`).
    fn relabel_primary(&mut self, i: usize, td: &str) {
        let s = &mut self.services[i];
        s.td = td.to_string();
        let Some(p) = s.deployments.iter_mut().find(|d| d.primary) else { return };
        p.td = td.to_string();
        let id = p.id.clone();
        for t in self.tasks.iter_mut().filter(|t| t.started_by == id) {
            t.td = td.to_string();
        }
    }

    pub(crate) fn stop_service_deployment(&mut self, arn: &str) -> PortResult<()> {
        let op = "ecs:StopServiceDeployment";
        let now = self.now;
        if let Some(sd) = self.services.iter_mut().flat_map(|s| s.sds.iter_mut()).find(|sd| sd.arn == arn && sd.native.is_some()) {
            if sd.status != SdStatus::InProgress {
                return Err(PortError::Rejected {
                    op: op.into(),
                    code: "ConflictException".into(),
                    message: format!("The service deployment is in status {} and cannot be stopped.", sd.status),
                });
            }
            sd.status = SdStatus::RollbackInProgress;
            sd.rollback_reason = Some("Service deployment rolled back because of a stop request.".into());
            if let Some(n) = sd.native.as_mut() {
                n.rollback_until = Some(now + 30.0);
            }
            self.mutations.push((now, Mutation::StopServiceDeployment { arn: arn.to_string() }));
            return Ok(());
        }
        let Some(i) = self.services.iter().position(|s| s.sds.iter().any(|sd| sd.arn == arn)) else {
            return Err(PortError::NotFound { op: op.into(), message: "ServiceDeploymentNotFoundException".into() });
        };
        let sd = self.services[i]
            .sds
            .iter()
            .find(|sd| sd.arn == arn)
            .cloned()
            .ok_or_else(|| PortError::NotFound { op: op.into(), message: arn.into() })?;
        if sd.status != SdStatus::InProgress && sd.status != SdStatus::Pending {
            return Err(PortError::Rejected {
                op: op.into(),
                code: "ConflictException".into(),
                message: format!("The service deployment is in status {} and cannot be stopped.", sd.status),
            });
        }
        self.mutations.push((self.now, Mutation::StopServiceDeployment { arn: arn.to_string() }));
        self.start_rollback(i, arn, "Service deployment rolled back because of a stop request.");
        Ok(())
    }

    /// Roll the service back to the revision its last successful deployment ran.
    fn start_rollback(&mut self, i: usize, sd_arn: &str, reason: &str) {
        let now = self.now;
        let dep_id = format!("ecs-svc/{:019}", self.next());
        let s = &mut self.services[i];
        let Some(sd_pos) = s.sds.iter().position(|sd| sd.arn == sd_arn) else { return };
        let previous =
            s.sds[..sd_pos].iter().rev().find(|sd| matches!(sd.status.as_str(), "SUCCESSFUL" | "ROLLBACK_SUCCESSFUL")).map(|sd| {
                if sd.status == SdStatus::Successful { sd.target.clone() } else { sd.sources.first().cloned().unwrap_or_default() }
            });
        let Some(previous) = previous.or_else(|| s.sds[sd_pos].sources.first().cloned()) else { return };
        self.terminal_log.push((now, "ROLLBACK_IN_PROGRESS".into()));
        let sd = &mut s.sds[sd_pos];
        sd.status = SdStatus::RollbackInProgress;
        sd.rollback_reason = Some(reason.into());
        for d in s.deployments.iter_mut() {
            if d.primary {
                d.primary = false;
                if d.rollout_state == RolloutState::InProgress {
                    d.rollout_state = RolloutState::Failed;
                    d.reason = Some(reason.into());
                }
            }
        }
        s.td = previous.clone();
        let desired = s.desired;
        s.deployments.push(SimDeployment {
            id: dep_id.clone(),
            td: previous,
            primary: true,
            desired,
            rollout_state: RolloutState::InProgress,
            reason: Some("ECS deployment in progress (rollback).".into()),
            failed_tasks: 0,
            had_healthy: false,
            created_at: now,
            steady_at: None,
            sd_arn: sd_arn.to_string(),
            rollback_of: Some(sd_arn.to_string()),
        });
        let name = s.name.clone();
        self.event(i, format!("(service {name}) rolling back to deployment {dep_id}: {reason}"));
        self.ecs_deployment_event(i, "SERVICE_DEPLOYMENT_IN_PROGRESS", &dep_id, &format!("ECS deployment {dep_id} in progress."));
    }

    pub(crate) fn list_tasks(&self, cluster: &str, started_by: &str, stopped: bool) -> Vec<String> {
        let cluster = cluster.rsplit('/').next().unwrap_or(cluster);
        self.tasks
            .iter()
            .filter(|t| t.cluster == cluster && t.started_by == started_by && (t.last_status == TaskStatus::Stopped) == stopped)
            .map(|t| t.arn.clone())
            .collect()
    }

    pub(crate) fn describe_tasks(&self, _cluster: &str, arns: &[String]) -> Vec<Task> {
        self.tasks
            .iter()
            // Full ARNs or bare task ids, as ECS takes them.
            .filter(|t| arns.iter().any(|a| *a == t.arn || t.arn.rsplit('/').next() == Some(a.as_str())))
            .filter(|t| t.one_off.is_none() || self.now >= t.created_at + self.faults.describe_lag_secs)
            .map(|t| Task {
                arn: t.arn.clone(),
                task_definition: t.td.clone(),
                last_status: t.last_status.clone(),
                desired_status: if t.desired_stopped || t.last_status == TaskStatus::Stopped {
                    TaskStatus::Stopped
                } else {
                    TaskStatus::Running
                },
                started_by: Some(t.started_by.clone()),
                stop_code: t.stop_code.clone(),
                stopped_reason: t.stopped_reason.clone(),
                containers: match &t.one_off {
                    Some(o) => o
                        .exits
                        .iter()
                        .map(|(n, code)| ContainerState {
                            name: n.clone(),
                            exit_code: *code,
                            reason: None,
                            last_status: Some(t.last_status.to_string()),
                            runtime_id: t.running_at.map(|_| format!("{}-{}", t.arn.rsplit('/').next().unwrap_or_default(), n)),
                        })
                        .collect(),
                    None => t
                        .containers
                        .iter()
                        .map(|c| ContainerState {
                            name: c.clone(),
                            exit_code: t.exit_code,
                            reason: t.container_reason.clone(),
                            last_status: Some(t.last_status.to_string()),
                            runtime_id: t.running_at.map(|_| format!("{}-{}", t.arn.rsplit('/').next().unwrap_or_default(), c)),
                        })
                        .collect(),
                },
                created_at: Some(t.created_at),
                started_at: t.running_at,
            })
            .collect()
    }

    // ----- one-off tasks and logs -----------------------------------------------------------

    /// RunTask: idempotent by client token; may answer capacity failures.
    pub(crate) fn run_task(&mut self, req: &RunTask) -> PortResult<RunTaskResult> {
        let op = "ecs:RunTask";
        if let Some(t) = self.tasks.iter().find(|t| t.one_off.as_ref().is_some_and(|o| o.client_token == req.client_token)) {
            return Ok(RunTaskResult { tasks: self.describe_tasks_now(std::slice::from_ref(&t.arn)), failures: Vec::new() });
        }
        check_run_task(req)?;
        let Some((def, arn)) = self.lookup_td(&req.task_definition).map(|(d, a)| (d.clone(), a)) else {
            return Err(PortError::Rejected { op: op.into(), code: "ClientException".into(), message: "TaskDefinition not found.".into() });
        };
        if def.network_mode.as_deref() == Some("awsvpc") && req.network.as_ref().is_none_or(|n| n.subnets.is_empty()) {
            return Err(PortError::Rejected {
                op: op.into(),
                code: "InvalidParameterException".into(),
                message: "Network Configuration must be provided when networkMode 'awsvpc' is specified.".into(),
            });
        }
        if !def.container_definitions.iter().any(|c| c.name == req.container) {
            return Err(PortError::Rejected {
                op: op.into(),
                code: "InvalidParameterException".into(),
                message: format!("Override for container named {} is not a container in the TaskDefinition.", req.container),
            });
        }
        if self.faults.run_capacity_failures > 0 {
            self.faults.run_capacity_failures -= 1;
            return Ok(RunTaskResult {
                tasks: Vec::new(),
                failures: vec![(
                    "Capacity is unavailable at this time. Please try again later or in a different availability zone".into(),
                    String::new(),
                )],
            });
        }
        let cluster = req.cluster.rsplit('/').next().unwrap_or(&req.cluster).to_string();
        let mut t = self.new_task(&cluster, "", &arn, &req.started_by);
        t.one_off = Some(OneOff {
            client_token: req.client_token.clone(),
            container: req.container.clone(),
            command: req.command.clone(),
            exits: def.container_definitions.iter().map(|c| (c.name.clone(), None)).collect(),
            logs: def
                .container_definitions
                .iter()
                .filter_map(|c| {
                    let l = c.log_configuration.as_ref().filter(|l| l.log_driver == "awslogs")?;
                    let o = l.options.as_ref()?;
                    Some((c.name.clone(), o.get("awslogs-group")?.clone(), o.get("awslogs-stream-prefix")?.clone()))
                })
                .collect(),
        });
        self.mutations.push((self.now, Mutation::RunTask { task_definition: arn.clone(), command: req.command.clone() }));
        let arn = t.arn.clone();
        self.tasks.push(t);
        Ok(RunTaskResult { tasks: self.describe_tasks_now(&[arn]), failures: Vec::new() })
    }

    fn describe_tasks_now(&self, arns: &[String]) -> Vec<Task> {
        let lag = self.faults.describe_lag_secs;
        let mut w = self.describe_tasks("", arns);
        if w.is_empty() && lag > 0.0 {
            // RunTask itself always answers with the task.
            w = self
                .tasks
                .iter()
                .filter(|t| arns.contains(&t.arn))
                .map(|t| Task {
                    arn: t.arn.clone(),
                    task_definition: t.td.clone(),
                    last_status: t.last_status.clone(),
                    desired_status: TaskStatus::from_aws("RUNNING"),
                    started_by: Some(t.started_by.clone()),
                    stop_code: None,
                    stopped_reason: None,
                    containers: Vec::new(),
                    created_at: Some(t.created_at),
                    started_at: None,
                })
                .collect();
        }
        w
    }

    pub(crate) fn stop_task(&mut self, task: &str, reason: &str) -> PortResult<()> {
        let now = self.now;
        let Some(t) = self.tasks.iter_mut().find(|t| t.arn == task || t.arn.ends_with(&format!("/{task}"))) else {
            return Err(PortError::Rejected {
                op: "ecs:StopTask".into(),
                code: "InvalidParameterException".into(),
                message: "The referenced task was not found.".into(),
            });
        };
        if t.last_status != TaskStatus::Stopped {
            t.desired_stopped = true;
            t.stop_code = Some(StopCode::UserInitiated);
            t.stopped_reason = Some(reason.to_string());
            if let Some(o) = &mut t.one_off {
                for (_, code) in o.exits.iter_mut() {
                    if t.last_status == TaskStatus::Running {
                        *code = Some(143);
                    }
                }
            }
        }
        let arn = t.arn.clone();
        self.mutations.push((now, Mutation::StopTask { arn }));
        Ok(())
    }

    pub fn tasks_started_by(&self, started_by_prefix: &str) -> usize {
        self.tasks.iter().filter(|t| t.started_by.starts_with(started_by_prefix)).count()
    }

    pub(crate) fn log_events(&self, group: &str, stream: &str, token: Option<&str>) -> PortResult<LogPage> {
        let lines = self.logs.get(&(group.to_string(), stream.to_string())).ok_or_else(|| PortError::NotFound {
            op: "logs:GetLogEvents".into(),
            message: "ResourceNotFoundException: The specified log stream does not exist.".into(),
        })?;
        let from: usize = token.and_then(|t| t.strip_prefix("f/")).and_then(|n| n.parse().ok()).unwrap_or(0);
        Ok(LogPage { lines: lines.iter().skip(from).cloned().collect(), next_token: Some(format!("f/{}", lines.len())) })
    }

    fn log(&mut self, t_idx: usize, line: &str) {
        let t = &self.tasks[t_idx];
        let Some(o) = &t.one_off else { return };
        let id = t.arn.rsplit('/').next().unwrap_or_default().to_string();
        for (container, group, prefix) in o.logs.clone() {
            self.logs.entry((group, format!("{prefix}/{container}/{id}"))).or_default().push(format!("[{container}] {line}"));
        }
    }

    fn step_one_offs(&mut self) {
        let now = self.now;
        let f = self.faults.clone();
        for i in 0..self.tasks.len() {
            let t = &self.tasks[i];
            if t.one_off.is_none() || t.last_status == TaskStatus::Stopped {
                continue;
            }
            if t.desired_stopped {
                let t = &mut self.tasks[i];
                t.last_status = TaskStatus::Stopped;
                self.log(i, "received SIGTERM, exiting");
                continue;
            }
            if t.last_status == TaskStatus::Pending && now >= t.created_at + f.start_secs {
                let t = &mut self.tasks[i];
                if let Some(reason) = &f.run_never_starts {
                    t.last_status = TaskStatus::Stopped;
                    t.stop_code = Some(StopCode::TaskFailedToStart);
                    t.stopped_reason = Some(reason.clone());
                } else {
                    t.last_status = TaskStatus::Running;
                    t.running_at = Some(now);
                    let cmd = t.one_off.as_ref().map(|o| o.command.join(" ")).unwrap_or_default();
                    self.log(i, &format!("$ {cmd}"));
                    self.log(i, "connecting to the database");
                }
            } else if t.last_status == TaskStatus::Running && t.running_at.is_some_and(|r| now >= r + f.run_secs) {
                let mut lines = Vec::new();
                let t = &mut self.tasks[i];
                t.last_status = TaskStatus::Stopped;
                t.stop_code = Some(StopCode::EssentialContainerExited);
                t.stopped_reason = Some("Essential container in task exited".into());
                if let Some(o) = &mut t.one_off {
                    // The overridden container ends; ECS then stops the task and every other
                    // container gets SIGTERM: a sidecar (log router, proxy) exits 143 unless a
                    // fault gives it its own code ("Amazon ECS task lifecycle", stopTimeout).
                    let main = o.container.clone();
                    for (name, code) in o.exits.iter_mut() {
                        let c = match f.task_exit.get(name) {
                            Some(c) => *c,
                            None if *name == main => 0,
                            None => 143,
                        };
                        *code = Some(c);
                        lines.push(match c {
                            0 => format!("{name}: done"),
                            143 if *name != main => format!("{name}: received SIGTERM, exiting"),
                            c => format!("{name}: error: migration 0042_add_index failed (exit {c})"),
                        });
                    }
                }
                for l in lines {
                    self.log(i, &l);
                }
            }
        }
    }

    // ----- time ----------------------------------------------------------------------------

    /// Move the world forward by `secs`, one simulated second at a time.
    pub fn advance(&mut self, secs: f64) {
        let end = self.now + secs.max(0.0);
        while self.now < end {
            let step = (end - self.now).min(1.0);
            self.now += step;
            self.tick();
        }
    }

    fn tick(&mut self) {
        let now = self.now;
        if let Some((at, i)) = &self.interrupt
            && now >= *at
        {
            i.trigger();
            self.interrupt = None;
        }
        if let (Some(at), Some(first)) = (self.faults.foreign_deploy_at, self.first_update_at)
            && !self.foreign_done
            && now >= first + at
        {
            self.foreign_done = true;
            self.terminal_log.push((now, "FOREIGN_DEPLOY".into()));
            self.foreign_deploy();
        }
        self.step_one_offs();
        self.step_codedeploy();
        self.step_native();
        self.step_tasks();
        for i in 0..self.services.len() {
            self.step_service(i);
        }
        self.announce_codedeploy_changes();
        self.announce_hook_changes();
        self.record_serving();
    }

    pub(crate) fn foreign_deploy(&mut self) {
        let Some(s) = self.services.first() else { return };
        let (cluster, name, td) = (s.cluster.clone(), s.name.clone(), s.td.clone());
        let Some((def, _)) = self.lookup_td(&td) else { return };
        let mut def = def.clone();
        if let Some(c) = def.container_definitions.first_mut() {
            c.image = Some(format!("{}-hotfix", c.image.clone().unwrap_or_default()));
        }
        let reg = self.register_task_definition(def);
        let _ = self.update_service(
            &UpdateService {
                cluster,
                service: name,
                task_definition: reg.arn,
                desired_count: None,
                deployment_config: None,
                native: None,
                settings: Default::default(),
            },
            true,
        );
    }

    fn step_tasks(&mut self) {
        let now = self.now;
        let f = self.faults.clone();
        let mut failures: Vec<(String, String)> = Vec::new();
        let mut healthy: Vec<String> = Vec::new();
        for t in self.tasks.iter_mut().filter(|t| t.last_status != TaskStatus::Stopped && t.one_off.is_none()) {
            if t.desired_stopped {
                t.last_status = TaskStatus::Stopped;
                t.exit_code = Some(0);
                continue;
            }
            if t.last_status == TaskStatus::Pending && now >= t.created_at + t.start_delay {
                if f.fail_start.iter().any(|p| t.image.contains(p.as_str())) {
                    t.last_status = TaskStatus::Stopped;
                    t.stop_code = Some(StopCode::TaskFailedToStart);
                    t.stopped_reason = Some(f.start_failure_reason.clone().unwrap_or_else(|| {
                        format!(
                            "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {}: not found",
                            t.image
                        )
                    }));
                    failures.push((t.started_by.clone(), t.arn.clone()));
                } else {
                    t.last_status = TaskStatus::Running;
                    t.running_at = Some(now);
                }
            } else if t.last_status == TaskStatus::Running && !t.healthy && t.running_at.is_some_and(|r| now >= r + t.health_delay) {
                if f.oom.iter().any(|p| t.image.contains(p.as_str())) {
                    t.last_status = TaskStatus::Stopped;
                    t.stop_code = Some(StopCode::EssentialContainerExited);
                    t.stopped_reason = Some("Essential container in task exited".into());
                    t.exit_code = Some(137);
                    t.container_reason = Some("OutOfMemoryError: Container killed due to memory usage".into());
                    failures.push((t.started_by.clone(), t.arn.clone()));
                } else if f.unhealthy.iter().any(|p| t.image.contains(p.as_str())) {
                    t.last_status = TaskStatus::Stopped;
                    t.stop_code = Some(StopCode::ServiceSchedulerInitiated);
                    t.stopped_reason = Some("Task failed ELB health checks in (target-group web-tg)".into());
                    t.exit_code = Some(137);
                    failures.push((t.started_by.clone(), t.arn.clone()));
                } else {
                    t.healthy = true;
                    healthy.push(t.started_by.clone());
                }
            }
        }
        for s in self.services.iter_mut() {
            for d in s.deployments.iter_mut() {
                if healthy.contains(&d.id) {
                    d.had_healthy = true;
                    d.failed_tasks = 0;
                }
                let n = failures.iter().filter(|(by, _)| by == &d.id).count() as i32;
                if n > 0 && !d.had_healthy {
                    d.failed_tasks += n;
                }
            }
        }
    }

    /// ECS's circuit breaker on the PRIMARY deployment `p` of service `i`: true when it tripped.
    fn trip_circuit_breaker(&mut self, i: usize, p: usize) -> bool {
        let s = self.services[i].clone();
        let primary = &s.deployments[p];
        let d = s.desired;
        // Circuit breaker.
        let cb = s.config.circuit_breaker.clone().filter(|c| c.enable);
        if primary.rollout_state == RolloutState::InProgress
            && let Some(cb) = &cb
            && primary.failed_tasks >= cb.threshold_for(d)
        {
            let health = self.tasks.iter().any(|t| {
                t.started_by == primary.id && t.stop_code == Some(StopCode::ServiceSchedulerInitiated) && t.exit_code == Some(137)
            });
            let reason = if health {
                "ECS deployment circuit breaker: tasks failed health checks."
            } else {
                "ECS deployment circuit breaker: tasks failed to start."
            }
            .to_string();
            let (id, sd_arn, is_rollback) = (primary.id.clone(), primary.sd_arn.clone(), primary.rollback_of.is_some());
            {
                let dep = &mut self.services[i].deployments[p];
                dep.rollout_state = RolloutState::Failed;
                dep.reason = Some(reason.clone());
            }
            self.event(i, format!("(service {}) (deployment {id}) deployment failed: tasks failed to start.", s.name));
            self.ecs_deployment_event(i, "SERVICE_DEPLOYMENT_FAILED", &id, &reason);
            if is_rollback {
                self.finish_sd(i, &sd_arn, SdStatus::RollbackFailed, Some("the rollback deployment failed too".into()));
            } else if cb.rollback {
                self.start_rollback(i, &sd_arn, &reason);
            } else {
                self.finish_sd(i, &sd_arn, SdStatus::Stopped, Some(reason));
            }
            return true;
        }
        false
    }

    /// No Fargate capacity for the new tasks: ECS's service event (the developer guide's
    /// "Amazon ECS service event messages": "unable to place a task … Capacity is unavailable at
    /// this time"), repeated every minute while it retries.
    fn no_capacity(&mut self, i: usize) {
        let now = self.now;
        if self.services[i].capacity_reported_at.is_some_and(|at| now - at < 60.0) {
            return;
        }
        self.services[i].capacity_reported_at = Some(now);
        let name = self.services[i].name.clone();
        self.event(
            i,
            format!(
                "(service {name}) was unable to place a task. Reason: Capacity is unavailable at this time. Please try again later or in a different availability zone."
            ),
        );
    }

    /// A deployment alarm going into ALARM during the rollout: true when it fired.
    fn fire_alarm(&mut self, i: usize, p: usize) -> bool {
        let now = self.now;
        let s = self.services[i].clone();
        let primary = &s.deployments[p];
        // Alarm rollback.
        let alarms = s.config.alarms.clone().filter(|a| a.enable && !a.names.is_empty());
        if let (Some(at), Some(a)) = (self.faults.alarm_at, &alarms)
            && !self.alarm_fired
            && now >= EPOCH + at
            && primary.rollout_state == RolloutState::InProgress
            && primary.rollback_of.is_none()
        {
            self.alarm_fired = true;
            self.alarms_in_alarm = Some((now, a.names.clone()));
            let reason = format!("ECS deployment alarm(s) in ALARM state: {}", a.names.join(", "));
            let (id, sd_arn) = (primary.id.clone(), primary.sd_arn.clone());
            {
                let dep = &mut self.services[i].deployments[p];
                dep.rollout_state = RolloutState::Failed;
                dep.reason = Some(reason.clone());
            }
            self.event(i, format!("(service {}) (deployment {id}) deployment failed: alarm detected.", s.name));
            self.ecs_deployment_event(i, "SERVICE_DEPLOYMENT_FAILED", &id, &reason);
            if a.rollback {
                self.start_rollback(i, &sd_arn, &reason)
            } else {
                self.finish_sd(i, &sd_arn, SdStatus::Stopped, Some(reason))
            }
            return true;
        }
        false
    }

    fn step_service(&mut self, i: usize) {
        let Some(p) = self.services[i].deployments.iter().position(|d| d.primary) else { return };
        let s = self.services[i].clone();
        let primary = &s.deployments[p];
        let d = s.desired;
        let (floor, ceiling) = floor_ceiling(d, s.config.minimum_healthy_percent.unwrap_or(100), s.config.maximum_percent.unwrap_or(200));
        let live =
            |t: &&SimTask| t.cluster == s.cluster && t.service == s.name && !t.desired_stopped && t.last_status != TaskStatus::Stopped;

        if self.trip_circuit_breaker(i, p) || self.fire_alarm(i, p) {
            return;
        }
        let alarms = s.config.alarms.clone().filter(|a| a.enable && !a.names.is_empty());
        if primary.rollout_state == RolloutState::Failed {
            return;
        }
        if self.scale_in(i, p) {
            return;
        }

        let tasks: Vec<SimTask> = self.tasks.iter().filter(live).cloned().collect();
        let healthy_total = tasks.iter().filter(|t| t.healthy).count() as i32;
        let mine: Vec<&SimTask> = tasks.iter().filter(|t| t.started_by == primary.id).collect();
        let mine_healthy = mine.iter().filter(|t| t.healthy).count() as i32;
        let others: Vec<&SimTask> = tasks.iter().filter(|t| t.started_by != primary.id).collect();

        let to_stop = old_tasks_to_stop(&others, healthy_total, floor);
        // Start new tasks up to the ceiling.
        let remaining = tasks.len() as i32 - to_stop.len() as i32;
        let start = (d - mine.len() as i32).min(ceiling - remaining).max(0);
        if !to_stop.is_empty() {
            let ids: Vec<String> = to_stop.iter().map(|a| format!("(task {})", a.rsplit('/').next().unwrap_or(a))).collect();
            for t in self.tasks.iter_mut().filter(|t| to_stop.contains(&t.arn)) {
                t.desired_stopped = true;
                t.stop_code = Some(StopCode::ServiceSchedulerInitiated);
                t.stopped_reason = Some(format!("Scaling activity initiated by (deployment {})", primary.id));
            }
            self.event(i, format!("(service {}) has stopped {} running tasks: {}.", s.name, to_stop.len(), ids.join(" ")));
        }
        let image = self.td_image(&primary.td);
        if start > 0 && self.faults.no_capacity.iter().any(|m| image.contains(m.as_str())) {
            self.no_capacity(i);
        } else if start > 0 {
            let mut ids = Vec::new();
            for _ in 0..start {
                let t = self.new_task(&s.cluster, &s.name, &primary.td, &primary.id);
                ids.push(format!("(task {})", t.arn.rsplit('/').next().unwrap_or_default()));
                self.tasks.push(t);
            }
            self.event(i, format!("(service {}) has started {} tasks: {}.", s.name, start, ids.join(" ")));
        }
        let stuck = start == 0 && to_stop.is_empty() && !others.is_empty() && d > 0 && mine.len() as i32 == mine_healthy;
        if stuck && primary.rollout_state == RolloutState::InProgress && !s.stuck_reported {
            self.report_stuck(i);
        }
        // Steady state.
        if primary.rollout_state == RolloutState::InProgress && mine_healthy == d && others.is_empty() && to_stop.is_empty() {
            self.settle(i, p, alarms.is_some());
        }
    }

    /// ECS's event when min/max leave it unable to stop or start a task (once a deployment).
    fn report_stuck(&mut self, i: usize) {
        self.services[i].stuck_reported = true;
        let name = self.services[i].name.clone();
        self.event(i, format!("(service {name}) was unable to stop or start tasks during a deployment because of the service deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again."));
    }

    /// Scale-in: the PRIMARY deployment runs more tasks than the service now wants (a lower
    /// desired count): the newest excess tasks stop, as ECS's scheduler stops them. Returns
    /// whether any did.
    fn scale_in(&mut self, i: usize, p: usize) -> bool {
        let (name, desired, primary) =
            (self.services[i].name.clone(), self.services[i].desired, self.services[i].deployments[p].id.clone());
        let mine: Vec<String> = self
            .tasks
            .iter()
            .filter(|t| t.started_by == primary && !t.desired_stopped && t.last_status != TaskStatus::Stopped)
            .map(|t| t.arn.clone())
            .collect();
        let excess = mine.len().saturating_sub(usize::try_from(desired).unwrap_or(0));
        if excess == 0 {
            return false;
        }
        let stop: Vec<String> = mine.into_iter().rev().take(excess).collect();
        for t in self.tasks.iter_mut().filter(|t| stop.contains(&t.arn)) {
            t.desired_stopped = true;
            t.stop_code = Some(StopCode::ServiceSchedulerInitiated);
            t.stopped_reason = Some(format!("Scaling activity initiated by (deployment {primary})"));
        }
        let ids: Vec<String> = stop.iter().map(|a| format!("(task {})", a.rsplit('/').next().unwrap_or(a))).collect();
        self.event(i, format!("(service {name}) has stopped {} running tasks: {}.", stop.len(), ids.join(" ")));
        true
    }

    /// The primary deployment runs alone at its count: steady, then COMPLETED (after the alarm
    /// bake when alarms watch it, except for a rollback).
    fn settle(&mut self, i: usize, p: usize, alarms: bool) {
        let now = self.now;
        let name = self.services[i].name.clone();
        let primary = self.services[i].deployments[p].clone();
        let bake = if alarms && primary.rollback_of.is_none() { ROLLBACK_BAKE } else { 0.0 };
        let steady = primary.steady_at.unwrap_or(now);
        if primary.steady_at.is_none() {
            self.services[i].deployments[p].steady_at = Some(now);
            self.event(i, format!("(service {name}) has reached a steady state."));
            self.ecs_service_action(i, "SERVICE_STEADY_STATE");
        }
        if now >= steady + bake {
            let (id, sd_arn, is_rollback) = (primary.id.clone(), primary.sd_arn.clone(), primary.rollback_of.is_some());
            let svc = &mut self.services[i];
            svc.deployments[p].rollout_state = RolloutState::Completed;
            svc.deployments[p].reason = Some("ECS deployment completed.".into());
            svc.deployments.retain(|d| d.primary);
            self.event(i, format!("(service {name}) (deployment {id}) deployment completed."));
            self.ecs_deployment_event(i, "SERVICE_DEPLOYMENT_COMPLETED", &id, &format!("ECS deployment {id} completed."));
            self.finish_sd(i, &sd_arn, if is_rollback { SdStatus::RollbackSuccessful } else { SdStatus::Successful }, None);
        }
    }

    fn finish_sd(&mut self, i: usize, arn: &str, status: SdStatus, reason: Option<String>) {
        let now = self.now;
        self.terminal_log.push((now, status.to_string()));
        if let Some(sd) = self.services[i].sds.iter_mut().find(|sd| sd.arn == arn) {
            sd.status = status;
            sd.status_reason = reason;
            sd.finished_at = Some(now);
        }
    }

    /// The task definition the service is serving, and whether it is steady on it.
    pub fn serving(&self, cluster: &str, name: &str) -> Option<(String, bool)> {
        let s = &self.services[self.svc_index(cluster, name)?];
        let p = s.deployments.iter().find(|d| d.primary)?;
        Some((p.td.clone(), s.deployments.len() == 1 && p.rollout_state == RolloutState::Completed))
    }
}

/// clamp(ceil(desired / 2), 3, 200): the current ECS default threshold.
pub(crate) fn circuit_threshold(desired: i32) -> i32 {
    ((desired + 1) / 2).clamp(3, 200)
}

/// The service-deployment history of a seeded service: the earlier revision's deployment (a day
/// before), then the one that put `target` in place, both SUCCESSFUL.
fn seeded_sds(earlier: Option<&str>, earlier_sd: &str, sd_arn: &str, target: &str, (created, completed): (f64, f64)) -> Vec<SimSd> {
    let sd = |arn: &str, target: &str, sources: Vec<String>, at: f64| SimSd {
        arn: arn.to_string(),
        status: SdStatus::Successful,
        status_reason: None,
        target: target.to_string(),
        sources,
        created_at: at,
        finished_at: Some(at + (completed - created)),
        rollback_reason: None,
        native: None,
    };
    let mut out: Vec<SimSd> = earlier.iter().map(|prev| sd(earlier_sd, prev, Vec::new(), created - 86_400.0)).collect();
    out.push(sd(sd_arn, target, earlier.iter().map(|p| p.to_string()).collect(), created));
    out
}

/// The old tasks a rolling step stops: unhealthy ones freely, healthy ones down to the floor.
fn old_tasks_to_stop(others: &[&SimTask], healthy_total: i32, floor: i32) -> Vec<String> {
    let mut to_stop: Vec<String> = others.iter().filter(|t| !t.healthy).map(|t| t.arn.clone()).collect();
    let can_stop = usize::try_from((healthy_total - floor).max(0)).unwrap_or(0);
    to_stop.extend(others.iter().filter(|t| t.healthy).take(can_stop).map(|t| t.arn.clone()));
    to_stop
}

/// RunTask's own refusals of a request's client token and `startedBy`, as ECS words them.
fn check_run_task(req: &RunTask) -> PortResult<()> {
    let refuse = |message: &str| {
        Err(PortError::Rejected { op: "ecs:RunTask".into(), code: "InvalidParameterException".into(), message: message.into() })
    };
    if req.client_token.is_empty() || req.client_token.len() > 64 {
        return refuse("clientToken must be 1-64 characters");
    }
    if req.started_by.len() > 128 || !req.started_by.chars().all(|c| c.is_ascii_alphanumeric() || "-/_".contains(c)) {
        return refuse("startedBy may have up to 128 letters, numbers, hyphens, forward slashes and underscores");
    }
    Ok(())
}

/// A new deployment supersedes the service's: unfinished service deployments STOPPED, the
/// deployment in progress FAILED ("replaced by a newer deployment"), none PRIMARY.
fn supersede(s: &mut SimService, now: f64) {
    for sd in
        s.sds.iter_mut().filter(|sd| !matches!(sd.status.as_str(), "SUCCESSFUL" | "STOPPED" | "ROLLBACK_SUCCESSFUL" | "ROLLBACK_FAILED"))
    {
        sd.status = SdStatus::Stopped;
        sd.status_reason = Some("Service deployment was superseded by a newer deployment.".into());
        sd.finished_at = Some(now);
    }
    for d in s.deployments.iter_mut() {
        d.primary = false;
        if d.rollout_state == RolloutState::InProgress {
            d.rollout_state = RolloutState::Failed;
            d.reason = Some("Deployment was replaced by a newer deployment.".into());
        }
    }
}

/// The deployment configuration a native UpdateService leaves on the service: exactly what was
/// sent (the structure replaces the old one), hooks included.
fn native_config(n: &NativeDeployment) -> DeploymentConfig {
    DeploymentConfig {
        lifecycle_hooks: n.hooks(),
        bake_time_minutes: n.bake_time_minutes.or(n.base.bake_time_minutes),
        strategy: Some(n.strategy.clone()),
        linear: n.linear,
        canary: n.canary,
        ..n.base.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(noise: Option<Noise>) -> World {
        World::new(Faults { noise, ..Faults::default() })
    }

    #[test]
    fn a_green_set_is_ready_when_its_slowest_task_is() {
        let base = Faults::default().start_secs + Faults::default().health_secs;
        let mut quiet = world(None);
        assert_eq!(quiet.task_set_ready_secs(4, false), base, "no noise: the fixed times");
        assert_eq!(quiet.task_set_ready_secs(4, true), base);
        let noisy = Noise { seed: 7, per_task: 0.3, ..Noise::default() };
        let draws = |n: &Noise, tasks: i32| {
            let mut w = world(Some(n.clone()));
            (0..20).map(|_| w.task_set_ready_secs(tasks, false)).collect::<Vec<f64>>()
        };
        let a = draws(&noisy, 4);
        assert_eq!(a, draws(&noisy, 4), "seeded: reproducible");
        assert!(a.iter().all(|r| (base * 0.7..=base * 1.3).contains(r)), "{a:?}");
        assert!(a.iter().any(|r| (r - base).abs() > 0.5), "the noise moves it: {a:?}");
        let one: f64 = draws(&noisy, 1).iter().sum();
        let ten: f64 = draws(&noisy, 10).iter().sum();
        assert!(ten > one, "the slowest of ten tasks is later than one task: {ten} vs {one}");
        let slower = draws(&Noise { pace: 2.0, ..noisy.clone() }, 4);
        assert!(slower.iter().all(|r| *r >= base * 1.4), "a release at half the pace: {slower:?}");
        let mut history = world(Some(Noise { history_pace: 0.5, ..noisy }));
        let h = history.task_set_ready_secs(4, true);
        assert!((base * 0.5..=base * 0.65).contains(&h), "the history at its own pace: {h}");
    }
}
