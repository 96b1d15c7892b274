//! The migrate stage: the new image runs as a one-off task before anything the service uses
//! changes.

use super::register::Register;

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
    ) -> Result<Option<String>> {
        let previous_td = &live.service.task_definition;
        match plan.stage(Stage::Migrate) {
            Some(StageAction::Run { .. }) => {
                let t = self.stage_start(Stage::Migrate);
                let mut registered = None;
                let (arn, definition) = if plan.runs(Stage::Register) {
                    let reg = Register(self.0).register_new(plan, previous_td).await?;
                    registered = Some(reg.arn.clone());
                    (reg.arn, reg.definition)
                } else {
                    let live_td = live.task_definition.clone().ok_or_else(|| Error::Internal("no live task definition".into()))?;
                    (live_td.arn, live_td.definition)
                };
                let oneoff = self.migration_task(spec, plan, &live.service, arn, definition)?;
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
