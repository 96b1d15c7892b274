//! What the CodeDeploy watch keeps for the canary judge (#29), apart from the judge itself
//! (`steps.rs`) so that the watch and the judge do not import each other.

use crate::analysis::Verdict;

/// The judge's state during one CodeDeploy watch.
#[derive(Debug, Clone, Default)]
pub(crate) struct CdJudging {
    /// When the deployment started: the judged minutes begin here.
    pub(crate) since: f64,
    pub(crate) last_at: Option<f64>,
    /// The judged step (1-based) and green's weight during it.
    pub(crate) step: u32,
    pub(crate) step_green: f64,
    /// The step's newest verdict, with its reason when it was not PASS.
    pub(crate) last: Option<(Verdict, String)>,
    /// The task sets' target-group names: (green, blue).
    pub(crate) target_groups: Option<(String, String)>,
    /// The judge cannot run here (said once).
    pub(crate) off: bool,
}

/// The green and blue task sets' target-group names of a deployment target, when both are named.
pub(crate) fn task_set_target_groups(t: &crate::ports::CdTarget) -> Option<(String, String)> {
    let named = |label: crate::states::TaskSetLabel| {
        t.task_sets.iter().find(|s| s.label.as_ref() == Some(&label)).and_then(|s| s.target_group.clone())
    };
    Some((named(crate::states::TaskSetLabel::Green)?, named(crate::states::TaskSetLabel::Blue)?))
}
