//! The register stage: the plan's task definition, tagged with the revision it replaces; and
//! `keep_revisions`' cleanup after a release.

use crate::engine::Event;
use crate::error::Result;
use crate::plan::{Plan, TAG_PREVIOUS};
use crate::taskdef::model::Tag;

crate::engine::engine_part!(
    /// The register stage.
    Register
);

impl Register<'_> {
    /// Register the plan's task definition, tagged with the revision it replaces.
    pub(crate) async fn register_new(&self, plan: &Plan, previous_td: &str) -> Result<crate::ports::RegisteredTaskDefinition> {
        let mut td = plan.desired_task_definition.clone();
        let tags = td.tags.get_or_insert_with(Vec::new);
        tags.retain(|t| t.key.as_deref() != Some(TAG_PREVIOUS));
        if !previous_td.is_empty() {
            tags.push(Tag { key: Some(TAG_PREVIOUS.into()), value: Some(previous_td.to_string()) });
        }
        let reg = self.retry("ecs:RegisterTaskDefinition", || self.ports.ecs.register_task_definition(&td)).await?;
        self.emit(Event::Registered { arn: reg.arn.clone(), revision: reg.revision });
        // The journal names the revision at once: a re-run deploys it, registering nothing new.
        self.renew_lease(false).await?;
        Ok(reg)
    }

    /// The revision a dead run of this release registered, when it is the plan's task
    /// definition (else `None`: register as usual, and say why).
    pub(crate) async fn reusable(
        &self,
        plan: &Plan,
        resume: &crate::engine::lease::record::Resume,
    ) -> Result<Option<crate::ports::RegisteredTaskDefinition>> {
        let arn = match (resume.revision(), resume) {
            (Some(arn), _) => arn.to_string(),
            (None, crate::engine::lease::record::Resume::Unjournaled { .. }) => match self.newest_revision(plan).await? {
                Some(arn) => arn,
                None => return Ok(None),
            },
            (None, _) => return Ok(None),
        };
        let arn = arn.as_str();
        let reg = self.retry("ecs:DescribeTaskDefinition", || self.ports.ecs.describe_task_definition(arn)).await?;
        if crate::plan::same_task_definition(&reg.definition, &plan.desired_task_definition) {
            self.emit(Event::StageSkipped { stage: crate::plan::Stage::Register, reason: format!("the killed run registered it: {arn}") });
            return Ok(Some(reg));
        }
        self.warn(format!("the killed run's revision {arn} is not this plan's task definition: registering a new one"));
        Ok(None)
    }

    /// The family's newest ACTIVE revision, when it is newer than the one serving.
    async fn newest_revision(&self, plan: &Plan) -> Result<Option<String>> {
        let family = plan.desired_task_definition.family.clone();
        let rev = |arn: &str| arn.rsplit(':').next().and_then(|r| r.parse::<i64>().ok()).unwrap_or(0);
        let arns = self.retry("ecs:ListTaskDefinitions", || self.ports.ecs.list_task_definitions(&family)).await?;
        let serving = plan.live_task_definition.as_deref().map_or(0, rev);
        Ok(arns.into_iter().max_by_key(|a| rev(a)).filter(|a| rev(a) > serving))
    }

    /// `keep_revisions`: deregister ACTIVE revisions of the family older than the one serving,
    /// except the last `keep` deployed before it (followed through the previous-revision tags).
    /// Problems are warnings: a cleanup never fails a release.
    pub(crate) async fn clean_up_revisions(&self, serving: &str, family: &str, keep: u32) {
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
}
