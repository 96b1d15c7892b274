//! `release`: resolve → build/push → migrate → register → deploy → verify, with automatic rollback.
//! The same code path serves `plan` and `release --dry-run` (it stops after the plan).

use super::deploy::ReadyRelease;
use super::options::{CreateMode, ReleaseOptions, ReleaseReport};
use super::stages::{build::Build, migrate::Migrate, register::Register};
use super::{Engine, Event, StageTime, TimeoutSetting};
use crate::error::{Error, Result};
use crate::plan::{self, Plan, Stage, StageAction};
use crate::ports::{PortError, ServiceState};
use crate::spec::Spec;
use crate::states::{DeploymentStatus, RolloutState};
use std::time::Duration;

/// A release up to its deployment: finished early (planned, unchanged), or ready to deploy.
pub(crate) enum Prepared {
    Done(Box<ReleaseReport>),
    Ready(Box<ReadyRelease>),
}

impl Prepared {
    fn done(report: ReleaseReport) -> Prepared {
        Prepared::Done(Box::new(report))
    }
}

impl Engine {
    pub async fn release(&mut self, spec: &Spec, opts: &ReleaseOptions) -> Result<ReleaseReport> {
        self.service = spec.service().to_string();
        let t0 = self.ports.clock.now();
        let mut stages = Vec::new();
        let result = Release(self).release_inner(spec, opts, &mut stages).await;
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
        let result = super::OneOffs(self).run_one_off(&oneoff).await?;
        if !result.succeeded() {
            self.warn(result.summary("task"));
        }
        Ok(result.exit_code_of(&container).unwrap_or(crate::error::exit::MIGRATION_FAILED))
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

    /// Retry a read or an idempotent call on throttling / transient errors (the one retry
    /// layer), saying at the first retry what failed.
    pub(super) async fn retry<T, F, Fut>(&self, _op: &str, f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, PortError>>,
    {
        super::watch::retrying_with(self.ports.clock.as_ref(), f, &|m| self.warn(m)).await.map_err(Error::Aws)
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

crate::engine::engine_part!(
    /// The release pipeline up to and around its deployment.
    Release
);

impl Release<'_> {
    pub(crate) async fn release_inner(&self, spec: &Spec, opts: &ReleaseOptions, stages: &mut Vec<StageTime>) -> Result<ReleaseReport> {
        if opts.dry_run {
            return self.release_leased(spec, opts, stages).await;
        }
        let command = if opts.create == CreateMode::Required { "create" } else { "release" };
        self.take_lease(spec, command, &opts.lock).await?;
        let resume = self.resume(spec, command).await;
        let result = match super::resume::Resuming(self.0).before_release(spec, opts, resume, stages).await {
            Ok(super::resume::Step::Done(report)) => Ok(*report),
            Ok(super::resume::Step::Release(resume)) => self.release_leased(spec, &ReleaseOptions { resume, ..opts.clone() }, stages).await,
            Err(e) => Err(e),
        };
        self.give_back_lease(result.as_ref().map_or_else(|e| e.kind(), |r| r.outcome)).await;
        result
    }

    /// A release under the service's lease (when `[lock]` is set).
    async fn release_leased(&self, spec: &Spec, opts: &ReleaseOptions, stages: &mut Vec<StageTime>) -> Result<ReleaseReport> {
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
    pub(crate) async fn suspend_scale_in(&self, spec: &Spec, live: &crate::plan::Live, opts: &ReleaseOptions) -> Result<bool> {
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
    pub(crate) async fn resume_scale_in(&self, spec: &Spec) {
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
    pub(crate) async fn verify_first(&self, spec: &Spec, live: &crate::plan::Live, plan: &Plan, opts: &ReleaseOptions) -> Result<()> {
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
    pub(crate) async fn prepare(&self, spec: &Spec, opts: &ReleaseOptions, stages: &mut Vec<StageTime>) -> Result<Prepared> {
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
        let preflight = super::deploy::preflight(self, spec, &live, opts).await?;
        refuse_a_dirty_tag(spec, opts)?;
        self.verify_first(spec, &live, &plan, opts).await?;
        let mut plan = plan;
        Build(self.0).build_stage(spec, &mut plan, stages).await?;
        self.renew_lease(false).await?;
        let previous_td = live.service.task_definition.clone();
        let registered = Migrate(self.0).migrate_stage(spec, &plan, &live, stages, &opts.resume).await?;
        self.renew_lease(false).await?;
        self.guard_again(spec, &plan, opts).await?;
        // register
        let new_td = if let Some(arn) = registered {
            self.emit(Event::StageSkipped { stage: Stage::Register, reason: format!("registered for the migration: {arn}") });
            arn
        } else if plan.runs(Stage::Register) {
            let t = self.stage_start(Stage::Register);
            let reg = match Register(self.0).reusable(&plan, &opts.resume).await? {
                Some(reg) => reg,
                None => Register(self.0).register_new(&plan, &previous_td).await?,
            };
            self.stage_end(Stage::Register, t, stages);
            reg.arn
        } else {
            if let Some(StageAction::Skip { reason }) = plan.stage(Stage::Register) {
                self.emit(Event::StageSkipped { stage: Stage::Register, reason: reason.clone() });
            }
            previous_td.clone()
        };
        self.renew_lease(false).await?;
        if !plan.runs(Stage::Deploy) {
            self.emit(Event::StageSkipped { stage: Stage::Deploy, reason: "nothing changed".into() });
            self.emit(Event::StageSkipped { stage: Stage::Verify, reason: "nothing deployed".into() });
            return Ok(Prepared::done(ReleaseReport { plan, outcome: "unchanged", task_definition: Some(new_td) }));
        }
        Ok(Prepared::Ready(Box::new(ReadyRelease { plan, live, new_td, previous_td, preflight })))
    }

    /// The deployment and its verification, for a prepared release: by its strategy's deployer.
    pub(crate) async fn deploy_prepared(
        &self,
        spec: &Spec,
        opts: &ReleaseOptions,
        p: Prepared,
        stages: &mut Vec<StageTime>,
    ) -> Result<ReleaseReport> {
        match p {
            Prepared::Done(report) => Ok(*report),
            Prepared::Ready(r) => super::deploy::release(self, spec, opts, *r, stages).await,
        }
    }

    /// Refuse to start while another deployment is in progress.
    /// A build or a migration took time since the plan read the service: someone (a colleague,
    /// the console) may have started a deployment meanwhile. It is theirs: refused (exit 5)
    /// before fgdeploy's own deployment replaces it, unless `--force`. One DescribeServices,
    /// only when a build or migration ran.
    async fn guard_again(&self, spec: &Spec, plan: &Plan, opts: &ReleaseOptions) -> Result<()> {
        if opts.force || plan.creates_service || !(plan.runs(Stage::Build) || plan.runs(Stage::Migrate)) {
            return Ok(());
        }
        let svc = self.retry("ecs:DescribeServices", || self.ports.ecs.describe_service(spec.cluster(), spec.service())).await?;
        match svc {
            Some(svc) => self.guard(&svc).await,
            None => Ok(()),
        }
    }

    pub(crate) async fn guard(&self, svc: &ServiceState) -> Result<()> {
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
}

/// The image tag of a checkout with uncommitted changes describes no commit: refused unless
/// `--allow-dirty`.
fn refuse_a_dirty_tag(spec: &Spec, opts: &ReleaseOptions) -> Result<()> {
    let tag = &spec.file.image.tag;
    if tag.ends_with("-dirty") && !opts.plan.allow_dirty {
        return Err(crate::error::InputError::new(
            &spec.path,
            format!(
                "the checkout has uncommitted changes, so the image tag would be {tag}: that commit does not describe what would be built"
            ),
            "commit the changes, or pass --allow-dirty (or --image-tag)",
        )
        .at_field("image.tag")
        .into());
    }
    Ok(())
}
