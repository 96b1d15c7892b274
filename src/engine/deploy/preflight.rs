//! What each strategy's preflight found out, carried from the preflight to the deployment.

use crate::ports::{DeploymentGroup, NativeDeployment};

/// What a strategy's preflight found out, carried to its deployment.
pub(crate) enum Preflight {
    Rolling,
    CodeDeploy(Box<BlueGreen>),
    Native(Box<Native>),
}

/// What the CodeDeploy preflight found out.
#[derive(Debug, Clone)]
pub(crate) struct BlueGreen {
    pub(crate) application: String,
    pub(crate) group: DeploymentGroup,
    pub(crate) test_url: Option<String>,
    pub(crate) production_url: Option<String>,
    /// fgdeploy's checks gate the traffic shift (STOP_DEPLOYMENT group with checks).
    pub(crate) gated: bool,
    /// The canary judge's names, with `[analysis]` (#29).
    pub(crate) judge: Option<CdJudge>,
}

/// The load balancer and the group's target groups of a CodeDeploy release in CloudWatch's
/// names (target-group name → `targetgroup/<name>/<id>`), and the two revisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CdJudge {
    pub(crate) load_balancer: String,
    pub(crate) target_groups: std::collections::BTreeMap<String, String>,
    pub(crate) blue_revision: String,
    pub(crate) green_revision: String,
}

/// What the ECS-native preflight found out.
#[derive(Debug, Clone)]
pub(crate) struct Native {
    pub(crate) deployment: NativeDeployment,
    pub(crate) test_url: Option<String>,
    /// The canary judge's sides, with `[analysis]` (#29).
    pub(crate) judge: Option<NativeJudge>,
}

/// The load balancer and the two target groups of an ECS-native release, in CloudWatch's names
/// (green is the one not serving production when the release starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NativeJudge {
    pub(crate) load_balancer: String,
    pub(crate) green_target_group: String,
    pub(crate) blue_target_group: String,
    /// Green already took production traffic when fgdeploy attached (a resumed or `wait` run):
    /// the next pause is not the one before the first step.
    pub(crate) green_serves: bool,
}
