//! The migrate stage: the new image runs as a one-off task before anything the service uses
//! changes.

use super::register::Register;

use crate::engine::lease::record::Resume;
use crate::engine::{Event, OneOffs, StageTime, TimeoutSetting};
use crate::error::{Error, Result};
use crate::plan::{Plan, Stage, StageAction};
use crate::ports::ServiceState;
use crate::spec::Spec;

crate::engine::engine_part!(
    /// The migrate stage.
    Migrate
);

impl Migrate<'_> {
    /// The migrate stage: the new image runs before anything the service uses changes (the
    /// revision registered for it, when one is registered, is returned to be deployed).
    pub(crate) async fn migrate_stage(
        &self,
        spec: &Spec,
        plan: &Plan,
        live: &crate::plan::Live,
        stages: &mut Vec<StageTime>,
        resume: &Resume,
    ) -> Result<Option<String>> {
        let previous_td = &live.service.task_definition;
        match plan.stage(Stage::Migrate) {
            Some(StageAction::Run { .. }) => {
                let t = self.stage_start(Stage::Migrate);
                let mut registered = None;
                let (arn, definition) = if plan.runs(Stage::Register) {
                    let reg = match Register(self.0).reusable(plan, resume).await? {
                        Some(reg) => reg,
                        None => Register(self.0).register_new(plan, previous_td).await?,
                    };
                    registered = Some(reg.arn.clone());
                    (reg.arn, reg.definition)
                } else {
                    let live_td = live.task_definition.clone().ok_or_else(|| Error::Internal("no live task definition".into()))?;
                    (live_td.arn, live_td.definition)
                };
                let oneoff = self.migration_task(spec, plan, &live.service, arn, definition)?;
                if let Some(task) = self.killed_runs_task(spec, resume, &oneoff.started_by).await? {
                    self.killed_runs_migration(spec, &task).await?;
                    self.stage_end(Stage::Migrate, t, stages);
                    return Ok(registered);
                }
                let result = OneOffs(self.0).run_one_off(&oneoff).await?;
                if !result.succeeded() {
                    self.emit(crate::engine::Event::Report { report: Box::new(migration_report(&oneoff, &result)) });
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

    /// The migration task a killed run of this release started: from its journal, else (killed
    /// between RunTask and its journal) the task started by this release's migration, running or
    /// stopped (`startedBy`, the newest).
    async fn killed_runs_task(&self, spec: &Spec, resume: &Resume, started_by: &str) -> Result<Option<String>> {
        if let Some(task) = resume.migration_task() {
            return Ok(Some(task.to_string()));
        }
        if resume.revision().is_none() && !matches!(resume, Resume::Unjournaled { .. }) {
            return Ok(None);
        }
        for stopped in [false, true] {
            let arns = self.retry("ecs:ListTasks", || self.ports.ecs.list_tasks(spec.cluster(), started_by, stopped)).await?;
            if let Some(newest) = arns.last() {
                return Ok(Some(newest.clone()));
            }
        }
        Ok(None)
    }

    /// The verdict of the migration task a killed run of this release started, instead of a
    /// second run: passed (exit 0 of the migration container), failed, or still running.
    async fn killed_runs_migration(&self, spec: &Spec, task: &str) -> Result<()> {
        let arns = [task.to_string()];
        let tasks = self.retry("ecs:DescribeTasks", || self.ports.ecs.describe_tasks(spec.cluster(), &arns)).await?;
        let container = spec.file.migration.as_ref().and_then(|m| m.container.clone()).unwrap_or_else(|| spec.container().to_string());
        let Some(t) = tasks.first() else {
            return Err(Error::MigrationFailed(format!(
                "the killed run's migration task {task} is no longer known to ECS (it keeps stopped tasks about an hour): its verdict cannot be read, and fgdeploy does not run a migration twice; check its logs, then release with --skip-migration if it passed"
            )));
        };
        if t.last_status != crate::states::TaskStatus::Stopped {
            return Err(Error::Conflict(format!(
                "the killed run's migration task {task} is still {}: wait for it (`fgdeploy status`), then release again; fgdeploy does not run a migration twice",
                t.last_status
            )));
        }
        let code = t.containers.iter().find(|c| c.name == container).and_then(|c| c.exit_code);
        if code == Some(0) {
            self.emit(Event::StageSkipped {
                stage: Stage::Migrate,
                reason: format!("the killed run's migration task {task} passed (exit 0)"),
            });
            return Ok(());
        }
        Err(Error::MigrationFailed(format!(
            "the killed run's migration task {task} failed (container {container} exit {}); nothing else was changed",
            code.map_or("unknown".to_string(), |c| c.to_string())
        )))
    }

    /// The migration as a one-off task of `arn`, in the service's network.
    pub(crate) fn migration_task(
        &self,
        spec: &Spec,
        plan: &Plan,
        svc: &ServiceState,
        arn: String,
        definition: crate::taskdef::TaskDefinition,
    ) -> Result<crate::engine::OneOff> {
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
        Ok(crate::engine::OneOff {
            cluster: spec.cluster().to_string(),
            task_definition: arn,
            definition,
            container: mp.container.clone(),
            command: mp.command.clone(),
            network,
            capacity_providers: m.capacity_providers.clone(),
            platform_version: m.platform_version.clone().or_else(|| svc.platform_version.clone()),
            started_by: crate::engine::oneoff::sanitize(&format!("fgdeploy/migrate/{}", spec.file.image.tag), 128),
            client_token: crate::engine::oneoff::sanitize(&format!("{release_id}-{}", spec.service()), 64),
            timeout: m.timeout,
            timeout_setting: TimeoutSetting::MigrationTimeout,
            label: "migration".into(),
        })
    }
}

/// The failure report of a migration that failed: what its task said (no further call: the
/// one-off's watch already read its exit codes, reasons and last log lines).
fn migration_report(o: &crate::engine::OneOff, r: &crate::engine::oneoff::OneOffResult) -> crate::engine::report::FailureReport {
    use crate::engine::report::{ContainerExit, ContainerLog, Ending, Evidence, FailureReport, StoppedTask, diagnose};
    let reason = |n: &str| r.reasons.iter().find(|(c, _)| c == n).map(|(_, why)| why.clone());
    let task = StoppedTask {
        task_id: r.task_arn.rsplit('/').next().unwrap_or(&r.task_arn).to_string(),
        stop_code: r.stop_code.clone(),
        stopped_reason: r.stopped_reason.clone(),
        containers: r.exit_codes.iter().map(|(n, c)| ContainerExit { name: n.clone(), exit_code: *c, reason: reason(n) }).collect(),
        logs: vec![ContainerLog { container: r.container.clone(), lines: r.last_lines.clone(), elsewhere: None }],
    };
    let evidence = Evidence { stopped_tasks: vec![task], ..Default::default() };
    let diagnosis = diagnose(&Ending::Failed(format!("the {} task failed", o.label)), &evidence);
    FailureReport { deployment: format!("the {} task", o.label), task_definition: o.task_definition.clone(), diagnosis, evidence }
}
