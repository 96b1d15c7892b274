//! The SDK interceptors: every attempt counted (retries included), and DescribeServices' raw
//! answer kept for the settings the SDK cannot parse.

use super::json::meaningful_paths;
use crate::error::Result;
use crate::ports::*;
use crate::taskdef::TaskDefinition;
use std::sync::Arc;

/// Counts the SDK's own retry attempts (throttling, 5xx, timeouts) as calls of their own, under
/// `<service>:retry`: every request sent counts against the account's rate limits.
#[derive(Debug, Clone)]
pub(super) struct RetryCounter {
    pub(super) calls: CallCounter,
    pub(super) service: &'static str,
}

/// Marks an operation whose first attempt was seen.
#[derive(Debug, Clone)]
pub(super) struct Attempted;

impl aws_smithy_types::config_bag::Storable for Attempted {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl aws_sdk_ecs::config::Intercept for RetryCounter {
    fn name(&self) -> &'static str {
        "fgdeploy-retry-counter"
    }
    fn read_before_attempt(
        &self,
        _ctx: &aws_sdk_ecs::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _rc: &aws_sdk_ecs::config::RuntimeComponents,
        cfg: &mut aws_sdk_ecs::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if cfg.load::<Attempted>().is_some() {
            self.calls.record(&format!("{}:retry", self.service));
        } else {
            cfg.interceptor_state().store_put(Attempted);
        }
        Ok(())
    }
}

/// Keeps the raw JSON body of a response (DescribeTaskDefinition, DescribeServices), to see
/// fields the SDK's types do not have.
#[derive(Debug, Clone, Default)]
pub(super) struct RawBody(Arc<std::sync::Mutex<Option<Vec<u8>>>>);

/// DescribeTaskDefinition fields that describe the registration, not the definition.
pub(super) const READ_ONLY_TASK_DEFINITION_FIELDS: &[&str] = &[
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "deregisteredAt",
    "registeredBy",
    "deleteRequestedAt",
];

impl RawBody {
    /// The response body as JSON.
    pub(super) fn json(&self) -> Option<serde_json::Value> {
        let bytes = self.0.lock().ok()?.clone()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The first field path of the raw `taskDefinition` with a value that `carried` lacks.
    pub(super) fn uncarried(&self, carried: &TaskDefinition) -> Option<String> {
        let bytes = self.0.lock().ok()?.clone()?;
        let raw: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let mut raw_td = raw.get("taskDefinition")?.clone();
        for f in READ_ONLY_TASK_DEFINITION_FIELDS {
            raw_td.as_object_mut()?.remove(*f);
        }
        let ours = serde_json::to_value(carried).ok()?;
        let (mut want, mut have) = (Vec::new(), Vec::new());
        meaningful_paths(&raw_td, "", &mut want);
        meaningful_paths(&ours, "", &mut have);
        want.into_iter().find(|p| !have.contains(p) && p != "tags" && !p.starts_with("tags."))
    }
}

impl aws_sdk_ecs::config::Intercept for RawBody {
    fn name(&self) -> &'static str {
        "fgdeploy-raw-body"
    }
    fn read_after_deserialization(
        &self,
        ctx: &aws_sdk_ecs::config::interceptors::AfterDeserializationInterceptorContextRef<'_>,
        _rc: &aws_sdk_ecs::config::RuntimeComponents,
        _cfg: &mut aws_sdk_ecs::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if let (Some(bytes), Ok(mut slot)) = (ctx.response().body().bytes(), self.0.lock()) {
            *slot = Some(bytes.to_vec());
        }
        Ok(())
    }
}
