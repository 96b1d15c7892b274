//! `release`: resolve → build/push → migrate → register → deploy → verify, with automatic rollback.
//! The same code path serves `plan` and `release --dry-run` (it stops after the plan).

use super::rolling::{FailKind, Tracker, Verdict, WatchState};
use super::watch::{Cut, Limit, Next, Pause, Watched};
use super::{Engine, Event, StageTime, TimeoutSetting, sd_api_fallback_message, sd_api_refused};
use crate::error::{Error, Result, exit};
use crate::plan::{self, Plan, PlanOptions, Stage, StageAction, TAG_PREVIOUS};
use crate::ports::{PortError, ServiceState, UpdateService};
use crate::spec::{OnInterrupt, Spec, Strategy};
use crate::states::{DeploymentStatus, RolloutState};
use crate::taskdef::model::Tag;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct ReleaseOptions {
    pub plan: PlanOptions,
    /// Start even when another deployment is in progress.
    pub force: bool,
    /// Stop after the plan (`plan`, `release --dry-run`).
    pub dry_run: bool,
    /// Start the deployment and return without watching it.
    pub no_wait: bool,
    /// Overrides `deploy.timeout`.
    pub timeout: Option<Duration>,
    /// Blue/green: release although the group cannot be gated by the checks.
    pub no_test_gate: bool,
    /// Blue/green: wait for the blue termination wait too.
    pub wait_termination: bool,
    /// Do not run `verify` first.
    pub skip_verify: bool,
    /// Whether the service may (or must) be created from `[service.definition]`.
    pub create: CreateMode,
}

/// Creating a missing service is never implicit: a typo in `service.name` must not create one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CreateMode {
    /// A missing service is an error (`release`).
    #[default]
    Refuse,
    /// Create it when it is missing (`release --create`).
    IfMissing,
    /// The service must not exist yet (`create`).
    Required,
}

/// A release up to its deployment: finished early (planned, unchanged), or ready to deploy.
pub(super) enum Prepared {
    Done(Box<ReleaseReport>),
    Ready(Box<ReadyRelease>),
}

/// What the deploy stage needs from the stages before it.
pub(super) struct ReadyRelease {
    pub plan: Plan,
    live: crate::plan::Live,
    pub new_td: String,
    pub previous_td: String,
    blue_green: Option<super::bluegreen::BlueGreen>,
    native: Option<super::native::Native>,
}

impl Prepared {
    fn done(report: ReleaseReport) -> Prepared {
        Prepared::Done(Box::new(report))
    }
}

/// What a release did, when it did not fail.
#[derive(Debug, Clone)]
pub struct ReleaseReport {
    pub plan: Plan,
    /// `planned`, `unchanged`, `deployed`, `started` (with --no-wait).
    pub outcome: &'static str,
    pub task_definition: Option<String>,
}

impl ReleaseReport {
    pub fn exit_code(&self, dry_run: bool) -> i32 {
        if dry_run && self.plan.has_changes { exit::CHANGES } else { exit::OK }
    }
}

impl Engine {
    pub async fn release(&mut self, spec: &Spec, opts: &ReleaseOptions) -> Result<ReleaseReport> {
        self.service = spec.service().to_string();
        let t0 = self.ports.clock.now();
        let mut stages = Vec::new();
        let result = self.release_inner(spec, opts, &mut stages).await;
        let (outcome, code, message) = match &result {
            Ok(r) => (
                r.outcome.to_string(),
                r.exit_code(opts.dry_run),
                match r.outcome {
                    "planned" if r.plan.has_changes => "plan has changes".to_string(),
                    "planned" => "no changes".to_string(),
                    "unchanged" => "nothing to release: the live service already runs this".to_string(),
                    "started" => format!("deployment started, not watched (--no-wait): {}", r.task_definition.clone().unwrap_or_default()),
                    _ => format!("released {}", r.task_definition.clone().unwrap_or_default()),
                },
            ),
            Err(e) => (e.kind().to_string(), e.exit_code(), e.to_string()),
        };
        let task_definition = result.as_ref().ok().and_then(|r| r.task_definition.clone());
        self.emit(Event::Finished {
            outcome,
            exit_code: code,
            message,
            task_definition,
            stages,
            api_calls: self.ports.calls.snapshot(),
            api_calls_total: self.ports.calls.total(),
            secs: self.ports.clock.now() - t0,
        });
        result
    }

    async fn release_inner(&self, spec: &Spec, opts: &ReleaseOptions, stages: &mut Vec<StageTime>) -> Result<ReleaseReport> {
        let p = self.prepare(spec, opts, stages).await?;
        let suspended = match &p {
            Prepared::Ready(r) => self.suspend_scale_in(spec, &r.live, opts).await?,
            Prepared::Done(_) => false,
        };
        let result = self.deploy_prepared(spec, opts, p, stages).await;
        if suspended {
            self.resume_scale_in(spec).await;
        }
        result
    }

    /// `deploy.suspend_autoscaling`: suspend dynamic scale-in for the deployment (not with
    /// `--no-wait`: nothing would resume it). Returns whether fgdeploy suspended it (and so must
    /// resume it); a target already suspended is left to whoever suspended it.
    async fn suspend_scale_in(&self, spec: &Spec, live: &crate::plan::Live, opts: &ReleaseOptions) -> Result<bool> {
        if !spec.file.deploy.suspend_autoscaling {
            return Ok(false);
        }
        match live.scalable {
            None => self.info("deploy.suspend_autoscaling: the service has no scalable target; nothing to suspend"),
            Some(_) if opts.no_wait => self.warn("deploy.suspend_autoscaling is not applied with --no-wait: nothing would resume it"),
            Some(t) if t.scale_in_suspended => self.info("dynamic scale-in is already suspended; left as it is"),
            Some(_) => {
                let (c, s) = (spec.cluster(), spec.service());
                self.retry("application-autoscaling:RegisterScalableTarget", || self.ports.autoscaling.suspend_scale_in(c, s, true))
                    .await?;
                self.info("suspended Application Auto Scaling's dynamic scale-in for the deployment");
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Resume dynamic scale-in after the deployment, whatever its outcome; a failure is said with
    /// the command that fixes it.
    async fn resume_scale_in(&self, spec: &Spec) {
        let (c, s) = (spec.cluster(), spec.service());
        match self.retry("application-autoscaling:RegisterScalableTarget", || self.ports.autoscaling.suspend_scale_in(c, s, false)).await {
            Ok(()) => self.info("resumed Application Auto Scaling's dynamic scale-in"),
            Err(e) => self.warn(format!(
                "could not resume dynamic scale-in ({e}); run: aws application-autoscaling register-scalable-target --service-namespace ecs --scalable-dimension ecs:service:DesiredCount --resource-id {} --suspended-state DynamicScalingInSuspended=false",
                crate::ports::scalable_resource_id(c, s)
            )),
        }
    }

    /// `verify` before the first mutating call (not with `--skip-verify`): every problem at once.
    async fn verify_first(&self, spec: &Spec, live: &crate::plan::Live, plan: &Plan, opts: &ReleaseOptions) -> Result<()> {
        if opts.skip_verify {
            return Ok(());
        }
        let report = super::verify::verify(spec, &self.ports, plan, live).await?;
        let unchecked: Vec<String> =
            report.checks.iter().filter(|c| c.ok.is_none()).map(|c| format!("{} ({})", c.what, c.detail)).collect();
        if !unchecked.is_empty() {
            self.warn(format!("verify could not check: {}", unchecked.join("; ")));
        }
        report.into_result()?;
        Ok(())
    }

    /// Everything before the deployment: observe, plan, guards, build, migrate, register.
    pub(super) async fn prepare(&self, spec: &Spec, opts: &ReleaseOptions, stages: &mut Vec<StageTime>) -> Result<Prepared> {
        let live = super::observe::observe_with(spec, &self.ports, &|m| self.warn(m)).await?;
        let plan = plan::build(spec, &live, &opts.plan)?;
        self.emit(Event::Plan { plan: Box::new(plan.clone()) });
        if opts.dry_run {
            return Ok(Prepared::done(ReleaseReport { plan, outcome: "planned", task_definition: None }));
        }
        check_create_mode(spec, plan.creates_service, opts.create)?;
        if !opts.force {
            self.guard(&live.service).await?;
        }
        let (blue_green, native) = self.preflight(spec, &live, opts).await?;
        self.verify_first(spec, &live, &plan, opts).await?;
        let mut plan = plan;
        self.build_stage(spec, &mut plan, stages).await?;
        let previous_td = live.service.task_definition.clone();
        let registered = self.migrate_stage(spec, &plan, &live, stages).await?;
        // register
        let new_td = if let Some(arn) = registered {
            self.emit(Event::StageSkipped { stage: Stage::Register, reason: format!("registered for the migration: {arn}") });
            arn
        } else if plan.runs(Stage::Register) {
            let t = self.stage_start(Stage::Register);
            let reg = self.register_new(&plan, &previous_td).await?;
            self.stage_end(Stage::Register, t, stages);
            reg.arn
        } else {
            if let Some(StageAction::Skip { reason }) = plan.stage(Stage::Register) {
                self.emit(Event::StageSkipped { stage: Stage::Register, reason: reason.clone() });
            }
            previous_td.clone()
        };
        if !plan.runs(Stage::Deploy) {
            self.emit(Event::StageSkipped { stage: Stage::Deploy, reason: "nothing changed".into() });
            self.emit(Event::StageSkipped { stage: Stage::Verify, reason: "nothing deployed".into() });
            return Ok(Prepared::done(ReleaseReport { plan, outcome: "unchanged", task_definition: Some(new_td) }));
        }
        Ok(Prepared::Ready(Box::new(ReadyRelease { plan, live, new_td, previous_td, blue_green, native })))
    }

    /// The migrate stage: the new image runs before anything the service uses changes (the
    /// revision registered for it, when one is registered, is returned to be deployed).
    async fn migrate_stage(
        &self,
        spec: &Spec,
        plan: &Plan,
        live: &crate::plan::Live,
        stages: &mut Vec<StageTime>,
    ) -> Result<Option<String>> {
        let previous_td = &live.service.task_definition;
        match plan.stage(Stage::Migrate) {
            Some(StageAction::Run { .. }) => {
                let t = self.stage_start(Stage::Migrate);
                let mut registered = None;
                let (arn, definition) = if plan.runs(Stage::Register) {
                    let reg = self.register_new(plan, previous_td).await?;
                    registered = Some(reg.arn.clone());
                    (reg.arn, reg.definition)
                } else {
                    let live_td = live.task_definition.clone().ok_or_else(|| Error::Internal("no live task definition".into()))?;
                    (live_td.arn, live_td.definition)
                };
                let oneoff = self.migration_task(spec, plan, &live.service, arn, definition)?;
                let result = self.run_one_off(&oneoff).await?;
                if !result.succeeded() {
                    return Err(Error::MigrationFailed(format!(
                        "the migration failed, so nothing else was changed: {}",
                        result.summary("migration")
                    )));
                }
                self.stage_end(Stage::Migrate, t, stages);
                Ok(registered)
            }
            Some(StageAction::Skip { reason }) => {
                self.emit(Event::StageSkipped { stage: Stage::Migrate, reason: reason.clone() });
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// The deploy strategy's preflight, and the refusals that need the live service and the tag.
    async fn preflight(
        &self,
        spec: &Spec,
        live: &crate::plan::Live,
        opts: &ReleaseOptions,
    ) -> Result<(Option<super::bluegreen::BlueGreen>, Option<super::native::Native>)> {
        let (blue_green, native) = match (spec.file.deploy.strategy, live.service.deployment_controller) {
            (Strategy::BlueGreen, crate::ports::Controller::Ecs) => (None, Some(self.native_preflight(spec, &live.service).await?)),
            (Strategy::BlueGreen, _) => (Some(self.bluegreen_preflight(spec, &live.service, opts.no_test_gate, opts.force).await?), None),
            (Strategy::Rolling, _) => (None, None),
        };
        if blue_green.is_none() && native.is_none() && live.service.deployment_controller != crate::ports::Controller::Ecs {
            return Err(Error::usage(
                format!(
                    "service {} uses the {} deployment controller; a rolling release needs the ECS controller",
                    spec.service(),
                    live.service.deployment_controller
                ),
                "set deploy.strategy = \"blue-green\" for CODE_DEPLOY services",
            ));
        }

        let tag = &spec.file.image.tag;
        if tag.ends_with("-dirty") && !opts.plan.allow_dirty {
            return Err(crate::error::InputError::new(
                &spec.path,
                format!("the checkout has uncommitted changes, so the image tag would be {tag}: that commit does not describe what would be built"),
                "commit the changes, or pass --allow-dirty (or --image-tag)",
            )
            .at_field("image.tag")
            .into());
        }
        Ok((blue_green, native))
    }

    /// The deploy and verify stages of a blue/green release, CodeDeploy or ECS-native.
    async fn deploy_blue_green_kind(
        &self,
        spec: &Spec,
        opts: &ReleaseOptions,
        (plan, live, new_td): (Plan, &crate::plan::Live, String),
        (blue_green, native): (Option<super::bluegreen::BlueGreen>, Option<super::native::Native>),
        (t, stages): (f64, &mut Vec<StageTime>),
    ) -> Result<ReleaseReport> {
        let deadline = super::Deadline::deploy(opts.timeout, spec);
        self.tag_service(&live.service.arn, &plan).await?;
        if blue_green.is_some() && !plan.update.settings.is_empty() {
            // CODE_DEPLOY: the grace period and tag propagation go by UpdateService alone (no
            // task definition); the network, platform and capacity go in the AppSpec.
            let settings_only =
                UpdateService { task_definition: String::new(), desired_count: None, deployment_config: None, ..plan.update.clone() };
            self.update_service_once(&settings_only).await?;
        }
        if let Some(n) = &native {
            let done = self.deploy_native(spec, (n, &plan.update), &new_td, deadline.pair(), opts.no_wait).await?;
            self.stage_end(Stage::Deploy, t, stages);
            if !done {
                return Ok(ReleaseReport { plan, outcome: "started", task_definition: Some(new_td) });
            }
            self.verify_blue_green(spec, &new_td, stages).await?;
            return Ok(ReleaseReport { plan, outcome: "deployed", task_definition: Some(new_td) });
        }
        if let Some(bg) = &blue_green {
            let done = self
                .deploy_codedeploy(
                    spec,
                    bg,
                    &live.service,
                    &new_td,
                    super::bluegreen::Watch {
                        timeout: deadline.duration,
                        setting: deadline.setting,
                        no_wait: opts.no_wait,
                        wait_termination: opts.wait_termination,
                    },
                )
                .await?;
            self.stage_end(Stage::Deploy, t, stages);
            if done.is_none() {
                return Ok(ReleaseReport { plan, outcome: "started", task_definition: Some(new_td) });
            }
            self.verify_blue_green(spec, &new_td, stages).await?;
            return Ok(ReleaseReport { plan, outcome: "deployed", task_definition: Some(new_td) });
        }
        Err(Error::Internal("no blue/green deployment to run".into()))
    }

    /// What the rolling watch knows of the deployment it follows.
    async fn rolling_tracker(
        &self,
        spec: &Spec,
        opts: &ReleaseOptions,
        live: &crate::plan::Live,
        (deployment_id, sd_arn, new_td, previous_td): (String, Option<String>, &str, &str),
        started_at: f64,
    ) -> Tracker {
        let deadline = super::Deadline::deploy(opts.timeout, spec);
        let r = &spec.file.deploy.rolling;
        Tracker {
            cluster: spec.cluster().to_string(),
            service: spec.service().to_string(),
            deployment_id,
            service_deployment_arn: sd_arn,
            new_td: new_td.to_string(),
            previous_td: previous_td.to_string(),
            // With Application Auto Scaling the count is the autoscaler's: never restored over it.
            previous_desired: live.scalable.is_none().then_some(live.service.desired_count),
            ecs_rolls_back: (r.circuit_breaker && r.circuit_breaker_rollback) || (!r.alarms.is_empty() && r.alarm_rollback),
            started_at,
            deadline: started_at + deadline.duration.as_secs_f64(),
            timeout_setting: deadline.setting,
            forecast: self.rolling_forecast(spec.cluster(), &live.service).await,
        }
    }

    /// The deployment and its verification, for a prepared release.
    pub(super) async fn deploy_prepared(
        &self,
        spec: &Spec,
        opts: &ReleaseOptions,
        p: Prepared,
        stages: &mut Vec<StageTime>,
    ) -> Result<ReleaseReport> {
        let ReadyRelease { plan, live, new_td, previous_td, blue_green, native } = match p {
            Prepared::Done(report) => return Ok(*report),
            Prepared::Ready(r) => *r,
        };
        // deploy
        let t = self.stage_start(Stage::Deploy);
        if native.is_some() || blue_green.is_some() {
            return self.deploy_blue_green_kind(spec, opts, (plan, &live, new_td), (blue_green, native), (t, stages)).await;
        }
        let started_at = self.ports.clock.now();
        let svc = match plan.creates_service {
            true => self.create_service_once(spec, &plan, &new_td).await?,
            false => self.update_service_once(&UpdateService { task_definition: new_td.clone(), ..plan.update.clone() }).await?,
        };
        if !plan.creates_service {
            self.tag_service(&svc.arn, &plan).await?;
        }
        let deployment_id = match self.find_deployment(spec, &svc, &new_td).await {
            Some(id) => id,
            None if opts.no_wait => {
                self.warn("the new deployment is not visible in the service yet; not watching (--no-wait)");
                self.stage_end(Stage::Deploy, t, stages);
                return Ok(ReleaseReport { plan, outcome: "started", task_definition: Some(new_td) });
            }
            None => return Err(untracked_deployment(spec, &new_td)),
        };
        let (sd, sd_arn) = self.our_service_deployment(spec, &svc, &new_td, started_at).await;
        let started = Event::DeploymentStarted {
            deployment_id: deployment_id.clone(),
            service_deployment_arn: sd_arn.clone(),
            task_definition: new_td.clone(),
        };
        self.emit(started);
        if opts.no_wait {
            self.stage_end(Stage::Deploy, t, stages);
            return Ok(ReleaseReport { plan, outcome: "started", task_definition: Some(new_td) });
        }
        let tracker = self.rolling_tracker(spec, opts, &live, (deployment_id, sd_arn, &new_td, &previous_td), started_at).await;
        let mut ws = WatchState::baseline(&live.service, &new_td).started(&svc, sd, &new_td, self.ports.clock.now());
        let (verdict, _) = self.watch(&tracker, &mut ws, &new_td).await.map_err(|e| self.lost_track(spec, &tracker, e))?;
        match verdict {
            // A failed deploy stage is never shown as done.
            Verdict::Success => self.stage_end(Stage::Deploy, t, stages),
            Verdict::Failed(kind) => return Err(self.handle_failure(spec, &tracker, kind, Some(&mut ws)).await),
            Verdict::Continue => return Err(Error::Internal("watch returned Continue".into())),
        }

        self.verify_rolling(spec, &tracker, stages).await?;
        if let Some(keep) = spec.file.task_definition.keep_revisions {
            self.clean_up_revisions(&new_td, &plan.desired_task_definition.family, keep).await;
        }
        Ok(ReleaseReport { plan, outcome: "deployed", task_definition: Some(new_td) })
    }

    /// The verify stage of a rolling release: the new revision serves at its desired count, or
    /// the release fails (and rolls back) as any failed deployment.
    async fn verify_rolling(&self, spec: &Spec, tracker: &Tracker, stages: &mut Vec<StageTime>) -> Result<()> {
        let t = self.stage_start(Stage::Verify);
        let svc = self.retry("ecs:DescribeServices", || self.ports.ecs.describe_service(spec.cluster(), spec.service())).await?;
        if let Err(saw) = serves(svc.as_ref(), &tracker.new_td) {
            let kind = FailKind::Failed(format!("verification: the new revision is not serving at its desired count ({saw})"));
            return Err(self.handle_failure(spec, tracker, kind, None).await);
        }
        self.stage_end(Stage::Verify, t, stages);
        Ok(())
    }

    /// The service deployment UpdateService named is ours; its target revision is checked when
    /// it is first read (at the first decisive look), which costs no call now. Without that ARN
    /// in the answer, it is resolved (and read) here.
    async fn our_service_deployment(
        &self,
        spec: &Spec,
        svc: &ServiceState,
        new_td: &str,
        started_at: f64,
    ) -> (Option<crate::ports::ServiceDeployment>, Option<String>) {
        // The ARN UpdateService's answer names is read once and trusted only when its target
        // revision runs `new_td` (ECS may answer with the previous service deployment).
        let sd = self.resolve_service_deployment(spec, svc, new_td, started_at).await;
        let arn = sd.as_ref().map(|sd| sd.arn.clone());
        (sd, arn)
    }

    /// The verify stage of a blue/green release (CodeDeploy or ECS-native): the deployment
    /// succeeded, so the service must now report the new revision at its desired count. The
    /// primary task-set swap can lag the deployment's end by a few seconds: read up to 30 s.
    pub(super) async fn verify_blue_green(&self, spec: &Spec, new_td: &str, stages: &mut Vec<StageTime>) -> Result<()> {
        let t = self.stage_start(Stage::Verify);
        self.drive(&mut VerifyWait { e: self, spec, new_td, deadline: t + 30.0, saw: String::new() }, Duration::ZERO).await?;
        self.stage_end(Stage::Verify, t, stages);
        Ok(())
    }

    /// `keep_revisions`: deregister ACTIVE revisions of the family older than the one serving,
    /// except the last `keep` deployed before it (followed through the previous-revision tags).
    /// Problems are warnings: a cleanup never fails a release.
    async fn clean_up_revisions(&self, serving: &str, family: &str, keep: u32) {
        let rev = |arn: &str| arn.rsplit(':').next().and_then(|r| r.parse::<i64>().ok()).unwrap_or(i64::MAX);
        let mut kept = vec![serving.to_string()];
        let mut cursor = serving.to_string();
        for _ in 0..keep {
            let Ok(reg) = self.retry("ecs:DescribeTaskDefinition", || self.ports.ecs.describe_task_definition(&cursor)).await else {
                break;
            };
            let Some(prev) =
                reg.definition.tags.iter().flatten().find(|t| t.key.as_deref() == Some(TAG_PREVIOUS)).and_then(|t| t.value.clone())
            else {
                break;
            };
            kept.push(prev.clone());
            cursor = prev;
        }
        let arns = match self.retry("ecs:ListTaskDefinitions", || self.ports.ecs.list_task_definitions(family)).await {
            Ok(a) => a,
            Err(e) => return self.warn(format!("keep_revisions: cannot list revisions of {family}: {e}")),
        };
        let doomed: Vec<String> = arns.into_iter().filter(|a| rev(a) < rev(serving) && !kept.iter().any(|k| k == a)).collect();
        for arn in &doomed {
            if let Err(e) = self.retry("ecs:DeregisterTaskDefinition", || self.ports.ecs.deregister_task_definition(arn)).await {
                return self.warn(format!("keep_revisions: cannot deregister {arn}: {e}"));
            }
        }
        if !doomed.is_empty() {
            self.info(format!("keep_revisions = {keep}: deregistered {} older revision(s); kept {}", doomed.len(), kept.join(", ")));
        }
    }

    /// Register the plan's task definition, tagged with the revision it replaces.
    async fn register_new(&self, plan: &Plan, previous_td: &str) -> Result<crate::ports::RegisteredTaskDefinition> {
        let mut td = plan.desired_task_definition.clone();
        let tags = td.tags.get_or_insert_with(Vec::new);
        tags.retain(|t| t.key.as_deref() != Some(TAG_PREVIOUS));
        if !previous_td.is_empty() {
            tags.push(Tag { key: Some(TAG_PREVIOUS.into()), value: Some(previous_td.to_string()) });
        }
        let reg = self.retry("ecs:RegisterTaskDefinition", || self.ports.ecs.register_task_definition(&td)).await?;
        self.emit(Event::Registered { arn: reg.arn.clone(), revision: reg.revision });
        Ok(reg)
    }

    /// The migration as a one-off task of `arn`, in the service's network.
    fn migration_task(
        &self,
        spec: &Spec,
        plan: &Plan,
        svc: &ServiceState,
        arn: String,
        definition: crate::taskdef::TaskDefinition,
    ) -> Result<super::OneOff> {
        let m = spec.file.migration.as_ref().ok_or_else(|| Error::Internal("migrate stage without [migration]".into()))?;
        let mp = plan.migration.as_ref().ok_or_else(|| Error::Internal("migrate stage without a migration plan".into()))?;
        let network = mp.network.clone();
        if network.is_none() && definition.network_mode.as_deref() == Some("awsvpc") {
            return Err(Error::usage(
                format!(
                    "the migration needs subnets: service {} has no awsvpc network configuration and [migration] sets none",
                    spec.service()
                ),
                format!("set migration.subnets and migration.security_groups in {}", spec.path.display()),
            ));
        }
        let release_id = format!("{:x}", (self.ports.clock.now() * 1000.0) as u64);
        Ok(super::OneOff {
            cluster: spec.cluster().to_string(),
            task_definition: arn,
            definition,
            container: mp.container.clone(),
            command: mp.command.clone(),
            network,
            capacity_providers: m.capacity_providers.clone(),
            platform_version: m.platform_version.clone().or_else(|| svc.platform_version.clone()),
            started_by: super::oneoff::sanitize(&format!("fgdeploy/migrate/{}", spec.file.image.tag), 128),
            client_token: super::oneoff::sanitize(&format!("{release_id}-{}", spec.service()), 64),
            timeout: m.timeout,
            timeout_setting: TimeoutSetting::MigrationTimeout,
            label: "migration".into(),
        })
    }

    /// `fgdeploy run -- CMD…`: the command as a one-off task of the live revision. Returns the
    /// command container's exit code (6 when it never ran).
    pub async fn run_command(&mut self, spec: &Spec, container: Option<&str>, command: &[String], timeout: Duration) -> Result<i32> {
        self.service = spec.service().to_string();
        let svc = self
            .retry("ecs:DescribeServices", || self.ports.ecs.describe_service(spec.cluster(), spec.service()))
            .await?
            .ok_or_else(|| {
                Error::Aws(PortError::NotFound {
                    op: "ecs:DescribeServices".into(),
                    message: format!("service {} not found in cluster {}", spec.service(), spec.cluster()),
                })
            })?;
        let reg = self.retry("ecs:DescribeTaskDefinition", || self.ports.ecs.describe_task_definition(&svc.task_definition)).await?;
        let container = container.unwrap_or(spec.container()).to_string();
        let overrides = spec.file.migration.clone();
        let network = match &overrides {
            Some(m) => plan::migration_network(m, svc.network.as_ref()),
            None => svc.network.clone(),
        };
        let release_id = format!("{:x}", (self.ports.clock.now() * 1000.0) as u64);
        let oneoff = super::OneOff {
            cluster: spec.cluster().to_string(),
            task_definition: reg.arn.clone(),
            definition: reg.definition,
            container: container.clone(),
            command: command.to_vec(),
            network,
            capacity_providers: overrides.as_ref().map(|m| m.capacity_providers.clone()).unwrap_or_default(),
            platform_version: overrides.as_ref().and_then(|m| m.platform_version.clone()).or(svc.platform_version.clone()),
            started_by: "fgdeploy/run".into(),
            client_token: super::oneoff::sanitize(&format!("{release_id}-run-{}", spec.service()), 64),
            timeout,
            timeout_setting: TimeoutSetting::TimeoutFlag,
            label: "task".into(),
        };
        let result = self.run_one_off(&oneoff).await?;
        if !result.succeeded() {
            self.warn(result.summary("task"));
        }
        Ok(result.exit_code_of(&container).unwrap_or(crate::error::exit::MIGRATION_FAILED))
    }

    /// The id of the PRIMARY deployment of `td`: from the UpdateService answer, else read back a
    /// few times (eventual consistency).
    async fn find_deployment(&self, spec: &Spec, svc: &ServiceState, td: &str) -> Option<String> {
        let find = |s: &ServiceState| {
            s.deployments.iter().find(|d| d.status == DeploymentStatus::Primary && d.task_definition == td).map(|d| d.id.clone())
        };
        if let Some(id) = find(svc) {
            return Some(id);
        }
        let find = &find;
        self.read_back(3, || async move {
            self.ports.ecs.describe_service(spec.cluster(), spec.service()).await.ok().flatten().and_then(|s| find(&s))
        })
        .await
    }

    pub(super) fn stage_start(&self, stage: Stage) -> f64 {
        self.emit(Event::StageStarted { stage });
        self.ports.clock.now()
    }

    pub(super) fn stage_end(&self, stage: Stage, t: f64, stages: &mut Vec<StageTime>) {
        let secs = self.ports.clock.now() - t;
        stages.push(StageTime { stage, secs });
        self.emit(Event::StageFinished { stage, secs });
    }

    /// Refuse to start while another deployment is in progress.
    async fn guard(&self, svc: &ServiceState) -> Result<()> {
        let busy: Vec<String> = svc
            .deployments
            .iter()
            .filter(|d| d.status != DeploymentStatus::Primary || d.rollout_state == Some(RolloutState::InProgress))
            .map(|d| format!("{} ({} {}, {})", d.id, d.status, d.rollout_state.as_ref().map_or("-", |r| r.as_str()), d.task_definition))
            .collect();
        if svc.deployments.len() > 1 || !busy.is_empty() {
            return Err(Error::Conflict(format!(
                "service {} already has a deployment in progress: {}\n  fix: wait for it to finish (fgdeploy status), or pass --force",
                svc.name,
                busy.join(", ")
            )));
        }
        if let Some(arn) = &svc.current_service_deployment
            && let Ok(sds) = self.ports.ecs.describe_service_deployments(std::slice::from_ref(arn)).await
            // A status newer than this build is not "in progress": the deployments list above,
            // the other source, already said whether one runs.
            && let Some(sd) = sds.into_iter().find(|sd| !sd.is_terminal() && !matches!(sd.status, crate::states::SdStatus::Unknown(_)))
        {
            return Err(Error::Conflict(format!(
                "service {} has service deployment {} in status {}\n  fix: wait for it to finish (fgdeploy status), or pass --force",
                svc.name, sd.arn, sd.status
            )));
        }
        Ok(())
    }

    /// Retry a read or an idempotent call on throttling / transient errors (the one retry
    /// layer), saying at the first retry what failed.
    pub(super) async fn retry<T, F, Fut>(&self, _op: &str, f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, PortError>>,
    {
        super::watch::retrying_with(self.ports.clock.as_ref(), f, &|m| self.warn(m)).await.map_err(Error::Aws)
    }

    /// UpdateService exactly once: after a transient error the service is read back, and the call
    /// is only repeated when it demonstrably did not take effect.
    pub(super) async fn update_service_once(&self, update: &UpdateService) -> Result<ServiceState> {
        let mut backoff = super::backoff::Backoff::calls();
        for attempt in 1..=8 {
            match self.ports.ecs.update_service(update).await {
                Ok(s) => return Ok(s),
                Err(e) if e.is_retryable() && attempt < 8 => {
                    self.warn(format!("{e}; checking whether the update took effect"));
                    self.pause(backoff.next(self.ports.clock.now())).await;
                    let now =
                        self.retry("ecs:DescribeServices", || self.ports.ecs.describe_service(&update.cluster, &update.service)).await?;
                    if let Some(s) = now
                        && s.primary().is_some_and(|p| {
                            p.task_definition == update.task_definition && p.rollout_state != Some(RolloutState::Completed)
                        })
                    {
                        return Ok(s);
                    }
                }
                Err(e) => return Err(Error::Aws(e)),
            }
        }
        Err(Error::Internal("update_service_once: loop ended".into()))
    }

    /// Find the service deployment of the deployment just started (eventually consistent:
    /// tried for up to ~10 s). `None` when the endpoint has no such API.
    pub(super) async fn resolve_service_deployment(
        &self,
        spec: &Spec,
        svc: &ServiceState,
        new_td: &str,
        started_at: f64,
    ) -> Option<crate::ports::ServiceDeployment> {
        // Ours is the service deployment UpdateService's answer named, unless its target revision
        // runs another task definition; found by listing, only one whose target revision runs
        // `new_td`. Never by creation time: a colleague's deployment can be just as new.
        let matches = |sd: &crate::ports::ServiceDeployment| sd.target_task_definition.as_deref() == Some(new_td);
        if let Some(arn) = &svc.current_service_deployment {
            match self.ports.ecs.describe_service_deployments(std::slice::from_ref(arn)).await {
                Ok(sds) => {
                    if let Some(sd) = sds.into_iter().find(|sd| &sd.arn == arn && matches(sd)) {
                        return Some(sd);
                    }
                    self.info(format!(
                        "the service deployment UpdateService named ({arn}) does not target {new_td}; looking for this release's"
                    ));
                }
                Err(e) if sd_api_refused(&e) => {
                    self.warn(sd_api_fallback_message(&e));
                    return None;
                }
                Err(_) => {}
            }
        }
        let matches = |sd: &crate::ports::ServiceDeployment| !sd.is_terminal() && matches(sd);
        for _ in 0..5 {
            match self.ports.ecs.list_service_deployments(spec.cluster(), spec.service(), Some(started_at - 60.0)).await {
                Ok(arns) if !arns.is_empty() => {
                    let batch: Vec<String> = arns.into_iter().take(20).collect();
                    if let Ok(sds) = self.ports.ecs.describe_service_deployments(&batch).await
                        && let Some(sd) = sds.into_iter().find(|sd| matches(sd))
                    {
                        return Some(sd);
                    }
                }
                Ok(_) => {}
                Err(e) if sd_api_refused(&e) => {
                    self.warn(sd_api_fallback_message(&e));
                    return None;
                }
                Err(_) => {}
            }
            self.pause(Duration::from_secs(2)).await;
        }
        self.warn("no service deployment found for this release; tracking the deployment by its id only");
        None
    }

    pub(super) fn lost_track(&self, spec: &Spec, t: &Tracker, e: Error) -> Error {
        Error::ManualAction {
            reason: format!("lost track of the deployment: {e}"),
            state: format!("deployment {} of {} was started and its outcome is unknown", t.deployment_id, t.new_td),
            next: format!("run `fgdeploy status -f {0}`; to undo, `fgdeploy rollback -f {0} --to {1}`", spec.path.display(), t.previous_td),
        }
    }

    /// Turn a failed deployment into the final error, rolling back where the policy says so.
    /// `ws`: the watch state, whose newly failed tasks are reported once fgdeploy has reacted.
    /// CreateService from the plan (a lost answer is retried with the same client token).
    async fn create_service_once(&self, spec: &Spec, plan: &Plan, new_td: &str) -> Result<ServiceState> {
        let req = crate::ports::CreateService {
            cluster: spec.cluster().to_string(),
            service: spec.service().to_string(),
            task_definition: new_td.to_string(),
            desired_count: plan.update.desired_count.unwrap_or(1),
            deployment_config: plan.update.deployment_config.clone(),
            settings: spec.file.service.definition.clone().unwrap_or_default(),
        };
        let svc = self.retry("ecs:CreateService", || self.ports.ecs.create_service(&req)).await?;
        self.info(format!("created service {} in {}", svc.name, spec.cluster()));
        Ok(svc)
    }

    /// TagResource for the tags the plan sets (UpdateService cannot set tags).
    pub(super) async fn tag_service(&self, arn: &str, plan: &Plan) -> Result<()> {
        if plan.service_tags.is_empty() {
            return Ok(());
        }
        self.retry("ecs:TagResource", || self.ports.ecs.tag_service(arn, &plan.service_tags)).await?;
        Ok(())
    }

    pub(super) async fn handle_failure(&self, spec: &Spec, t: &Tracker, kind: FailKind, mut ws: Option<&mut WatchState>) -> Error {
        let err = self.react_to_failure(spec, t, &kind, ws.as_deref_mut()).await;
        if let Some(ws) = ws
            && ws.failed_unreported
        {
            self.report_failed_tasks(t, ws).await;
        }
        err
    }

    async fn react_to_failure(&self, spec: &Spec, t: &Tracker, kind: &FailKind, ws: Option<&mut WatchState>) -> Error {
        if let Reaction::Report(e) = reaction(kind, t, &spec.file.rollback, &spec.path.display().to_string()) {
            return e;
        }
        let path = spec.path.display();
        match self.roll_back(t, kind, super::Deadline::automatic_rollback(spec).pair(), ws).await {
            Ok(serving) => Error::RolledBack { reason: kind.describe(), serving },
            Err(e) => Error::ManualAction {
                reason: format!("{}; then the rollback failed: {e}", kind.describe()),
                state: format!("the service may be serving {} or {}, or a mix", t.new_td, t.previous_td),
                next: format!("run `fgdeploy status -f {path}`, then `fgdeploy rollback -f {path} --to {}`", t.previous_td),
            },
        }
    }
}

/// UpdateService went through but ECS shows no PRIMARY deployment of the new revision.
fn untracked_deployment(spec: &Spec, new_td: &str) -> Error {
    Error::ManualAction {
        reason: "ECS shows no PRIMARY deployment of the new revision after UpdateService".into(),
        state: format!("service {} was updated to {new_td}, but its deployment cannot be tracked", spec.service()),
        next: format!("run `fgdeploy status -f {0}` and, if needed, `fgdeploy rollback -f {0}`", spec.path.display()),
    }
}

/// `release` never creates a service without `--create`; `create` never releases to one that exists.
fn check_create_mode(spec: &Spec, creates_service: bool, mode: CreateMode) -> Result<()> {
    match (creates_service, mode) {
        (true, CreateMode::Refuse) => Err(Error::usage(
            format!("service {} does not exist in cluster {}; the plan would create it", spec.service(), spec.cluster()),
            "pass --create to create it from [service.definition] (never implicit, so that a typo cannot create a service), or fix service.name / service.cluster",
        )),
        (false, CreateMode::Required) => Err(Error::usage(
            format!("service {} exists already in cluster {}", spec.service(), spec.cluster()),
            format!("release to it with `fgdeploy release -f {}`", spec.path.display()),
        )),
        _ => Ok(()),
    }
}

/// What a failed rolling deployment leads to.
#[derive(Debug)]
pub(super) enum Reaction {
    /// fgdeploy rolls back to the previous revision.
    RollBack,
    /// Nothing is rolled back: detached, or left for a person, with what to do.
    Report(Error),
}

/// The one decision of what a failure leads to — roll back, or report (detach / manual action)
/// — from the failure's kind, the deployment fgdeploy tracks and the `[rollback]` section. Pure:
/// `react_to_failure` carries it out.
pub(super) fn reaction(kind: &FailKind, t: &Tracker, rollback: &crate::spec::RollbackSection, path: &str) -> Reaction {
    let report = |reason: String, state: String, next: String| Reaction::Report(Error::ManualAction { reason, state, next });
    let detach = |what: String| Reaction::Report(Error::Detached(what));
    match kind {
        FailKind::Interrupted if rollback.on_interrupt == OnInterrupt::Detach => {
            return detach(format!(
                "interrupted; deployment {} of {} goes on without fgdeploy (on_interrupt = \"detach\"). Watch it with `fgdeploy status -f {path}`",
                t.deployment_id, t.new_td
            ));
        }
        FailKind::Replaced(td) => {
            return report(
                kind.describe(),
                format!(
                    "the service is now deploying {td}, which fgdeploy did not start; fgdeploy does not roll back someone else's deployment"
                ),
                format!("find out who deployed {td}; `fgdeploy status -f {path}` shows the service"),
            );
        }
        FailKind::RollbackFailed(_) => {
            return report(
                kind.describe(),
                format!("the release of {} failed and ECS could not restore {}", t.new_td, t.previous_td),
                format!("inspect with `fgdeploy status -f {path}`, then `fgdeploy rollback -f {path} --to {}`", t.previous_td),
            );
        }
        _ => {}
    }
    if t.previous_td.is_empty() {
        return report(
            kind.describe(),
            format!(
                "the service was created by this release and has no earlier revision to roll back to; it is left deploying {}",
                t.new_td
            ),
            format!(
                "fix the cause (`fgdeploy status -f {path}` shows the tasks' stop reasons) and release again, or scale it to 0 with `fgdeploy scale -f {path} --count 0`"
            ),
        );
    }
    if !rollback.automatic && matches!(kind, FailKind::Timeout(_)) {
        return detach(format!(
            "{}; automatic rollback is off, so deployment {} of {} goes on without fgdeploy. Watch it with `fgdeploy status -f {path}`",
            kind.describe(),
            t.deployment_id,
            t.new_td
        ));
    }
    if !rollback.automatic && !matches!(kind, FailKind::EcsRollingBack(_)) {
        return report(
            kind.describe(),
            format!("automatic rollback is off; the service is left deploying {}", t.new_td),
            format!("`fgdeploy rollback -f {path}` restores {}", t.previous_td),
        );
    }
    Reaction::RollBack
}

/// Whether the service serves `td`: its PRIMARY deployment (or, for CODE_DEPLOY services, which
/// have no deployments list, the service itself) runs `td` at its desired count. `Err` says what
/// it saw instead.
/// The verify stage of a blue/green release: DescribeServices until the service serves the new
/// revision at its desired count, for up to 30 s (the primary task-set swap lags the
/// deployment's end by a few seconds), every 5 s. Not cut short by Ctrl-C (it is short, and the
/// deployment already ended).
struct VerifyWait<'a> {
    e: &'a Engine,
    spec: &'a Spec,
    new_td: &'a str,
    deadline: f64,
    /// What the last look saw instead.
    saw: String,
}

impl Watched for VerifyWait<'_> {
    type Out = ();

    fn limit(&self) -> Limit {
        Limit { at: self.deadline, setting: "the 30 s verification", what: "the service to serve the new revision", interruptible: false }
    }

    async fn look(&mut self, _now: f64) -> Result<Next<()>> {
        let (e, spec) = (self.e, self.spec);
        let svc = e.retry("ecs:DescribeServices", || e.ports.ecs.describe_service(spec.cluster(), spec.service())).await?;
        Ok(match serves(svc.as_ref(), self.new_td) {
            Ok(()) => Next::Done(()),
            Err(saw) => {
                self.saw = saw;
                Next::Again(Pause::after(Duration::from_secs(5), false))
            }
        })
    }

    async fn cut(&mut self, _why: Cut) -> Result<Next<()>> {
        let (new_td, saw) = (self.new_td, &self.saw);
        let path = self.spec.path.display();
        Err(Error::ManualAction {
            reason: format!("verification failed: the deployment ended, but the service does not serve {new_td} ({saw})"),
            state: "the deployment reports success while the service runs something else".into(),
            next: format!("`fgdeploy status -f {path}`; `fgdeploy rollback -f {path}` if needed"),
        })
    }
}

pub(super) fn serves(svc: Option<&ServiceState>, td: &str) -> std::result::Result<(), String> {
    let Some(svc) = svc else { return Err("the service does not exist".into()) };
    let (serving, running, desired) = match svc.primary() {
        Some(p) => (p.task_definition.as_str(), p.running, p.desired),
        None => (svc.task_definition.as_str(), svc.running_count, svc.desired_count),
    };
    if serving == td && running >= desired && desired == svc.desired_count {
        Ok(())
    } else {
        Err(format!("primary {serving}: {running} running of {desired} desired; service desired {}", svc.desired_count))
    }
}

#[cfg(test)]
mod reaction_tests {
    use super::*;
    use crate::spec::RollbackSection;

    fn tracker(previous: &str) -> Tracker {
        Tracker {
            cluster: "demo".into(),
            service: "web".into(),
            deployment_id: "ecs-svc/1".into(),
            service_deployment_arn: None,
            new_td: "web:2".into(),
            previous_td: previous.into(),
            previous_desired: None,
            ecs_rolls_back: false,
            started_at: 0.0,
            deadline: 60.0,
            timeout_setting: TimeoutSetting::DeployTimeout,
            forecast: Default::default(),
        }
    }

    fn decided(kind: FailKind, previous: &str, rollback: &RollbackSection) -> String {
        match reaction(&kind, &tracker(previous), rollback, "web.toml") {
            Reaction::RollBack => "roll back".into(),
            Reaction::Report(Error::Detached(_)) => "detach".into(),
            Reaction::Report(Error::ManualAction { .. }) => "manual".into(),
            Reaction::Report(e) => format!("other: {e}"),
        }
    }

    /// #25: what a failure leads to is one pure decision, from the failure's kind, the tracked
    /// deployment and `[rollback]`.
    #[test]
    fn a_failure_leads_to_a_rollback_a_detach_or_a_manual_action() {
        let on = RollbackSection::default();
        let off = RollbackSection { automatic: false, ..RollbackSection::default() };
        let detach = RollbackSection { on_interrupt: crate::spec::OnInterrupt::Detach, ..RollbackSection::default() };
        let timeout = || FailKind::Timeout(TimeoutSetting::DeployTimeout);
        let cases = [
            (FailKind::Failed("x".into()), "web:1", &on, "roll back"),
            (timeout(), "web:1", &on, "roll back"),
            (FailKind::Interrupted, "web:1", &on, "roll back"),
            (FailKind::Interrupted, "web:1", &detach, "detach"),
            (FailKind::Replaced("web:9".into()), "web:1", &on, "manual"),
            (FailKind::RollbackFailed("x".into()), "web:1", &on, "manual"),
            (FailKind::Failed("x".into()), "", &on, "manual"),
            (timeout(), "web:1", &off, "detach"),
            (FailKind::Failed("x".into()), "web:1", &off, "manual"),
            (FailKind::EcsRollingBack("x".into()), "web:1", &off, "roll back"),
        ];
        for (kind, previous, rollback, want) in cases {
            let label = format!("{kind:?}, previous {previous:?}, automatic {}", rollback.automatic);
            assert_eq!(decided(kind, previous, rollback), want, "{label}");
        }
    }
}
