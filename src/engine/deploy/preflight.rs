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
}

/// What the ECS-native preflight found out.
#[derive(Debug, Clone)]
pub(crate) struct Native {
    pub(crate) deployment: NativeDeployment,
    pub(crate) test_url: Option<String>,
}
