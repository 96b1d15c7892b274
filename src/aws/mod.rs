//! The SDK adapter: the only module that names AWS SDK types. Implements the ports over the
//! official AWS SDK for Rust; honours `AWS_ENDPOINT_URL*` (used by the tests to reach moto).

mod account;
mod autoscaling;
mod codedeploy;
mod query;
mod servicedef;
mod taskdef;

use crate::budget::RateBudget;
use crate::error::{Error, Result};
use crate::ports::*;
use crate::states::SdStatus;
use crate::taskdef::TaskDefinition;
use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, retry::RetryConfig};
use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types as t;
use std::sync::Arc;

pub use taskdef::{from_sdk as task_definition_from_sdk, to_request as task_definition_to_request};

/// The SDK clients behind the ports.
pub struct Aws {
    pub ecs: aws_sdk_ecs::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub codedeploy: aws_sdk_codedeploy::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    /// EC2, IAM and CloudFormation's read-only calls (the Query protocol, `query.rs`).
    pub query: query::Query,
    pub s3: aws_sdk_s3::Client,
    pub calls: CallCounter,
    /// One client-side rate budget for everything this process calls (fleet releases share it).
    pub budget: RateBudget,
    /// The budget's clock starts here.
    pub epoch: std::time::Instant,
    /// Service-revision ARN → its task definition (DescribeServiceRevisions; revisions never
    /// change, so one look per revision per run).
    pub revisions: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// Counts the SDK's own retry attempts (throttling, 5xx, timeouts) as calls of their own, under
/// `<service>:retry`: every request sent counts against the account's rate limits.
#[derive(Debug, Clone)]
struct RetryCounter {
    calls: CallCounter,
    service: &'static str,
}

/// Marks an operation whose first attempt was seen.
#[derive(Debug, Clone)]
struct Attempted;

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
struct RawBody(Arc<std::sync::Mutex<Option<Vec<u8>>>>);

/// DescribeTaskDefinition fields that describe the registration, not the definition.
const READ_ONLY_TASK_DEFINITION_FIELDS: &[&str] = &[
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
    fn json(&self) -> Option<serde_json::Value> {
        let bytes = self.0.lock().ok()?.clone()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The first field path of the raw `taskDefinition` with a value that `carried` lacks.
    fn uncarried(&self, carried: &TaskDefinition) -> Option<String> {
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

/// Paths of values that carry something (not null, empty, false, 0 or "").
fn meaningful_paths(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    use serde_json::Value::*;
    match v {
        Object(m) => {
            for (k, x) in m {
                meaningful_paths(x, &if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, out);
            }
        }
        Array(a) => a.iter().for_each(|x| meaningful_paths(x, &format!("{prefix}[]"), out)),
        Null | Bool(false) => {}
        String(s) if s.is_empty() => {}
        Number(n) if n.as_f64() == Some(0.0) => {}
        _ => {
            if !out.iter().any(|p| p == prefix) {
                out.push(prefix.to_string());
            }
        }
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

impl Aws {
    /// Every client over one SDK config, a fresh call counter and client-side budget.
    pub fn new(conf: &aws_config::SdkConfig) -> Aws {
        let calls = CallCounter::default();
        let counter = |service| RetryCounter { calls: calls.clone(), service };
        Aws {
            ecs: aws_sdk_ecs::Client::from_conf(aws_sdk_ecs::config::Builder::from(conf).interceptor(counter("ecs")).build()),
            ecr: aws_sdk_ecr::Client::from_conf(aws_sdk_ecr::config::Builder::from(conf).interceptor(counter("ecr")).build()),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(
                aws_sdk_cloudwatchlogs::config::Builder::from(conf).interceptor(counter("logs")).build(),
            ),
            codedeploy: aws_sdk_codedeploy::Client::from_conf(
                aws_sdk_codedeploy::config::Builder::from(conf).interceptor(counter("codedeploy")).build(),
            ),
            elb: aws_sdk_elasticloadbalancingv2::Client::from_conf(
                aws_sdk_elasticloadbalancingv2::config::Builder::from(conf).interceptor(counter("elasticloadbalancing")).build(),
            ),
            autoscaling: aws_sdk_applicationautoscaling::Client::from_conf(
                aws_sdk_applicationautoscaling::config::Builder::from(conf).interceptor(counter("application-autoscaling")).build(),
            ),
            ssm: aws_sdk_ssm::Client::from_conf(aws_sdk_ssm::config::Builder::from(conf).interceptor(counter("ssm")).build()),
            secrets: aws_sdk_secretsmanager::Client::from_conf(
                aws_sdk_secretsmanager::config::Builder::from(conf).interceptor(counter("secretsmanager")).build(),
            ),
            query: query::Query::new(conf),
            // Path-style against an endpoint override (an emulator); virtual-hosted on AWS.
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(conf).force_path_style(conf.endpoint_url().is_some()).interceptor(counter("s3")).build(),
            ),
            calls,
            budget: RateBudget::default(),
            epoch: std::time::Instant::now(),
            revisions: Default::default(),
        }
    }

    /// DescribeServiceRevisions for every revision not yet known, 20 per call (the API's
    /// limit). A failure leaves those revisions unknown: the engine then matches by ARN only.
    async fn resolve_revisions(&self, arns: &[String]) {
        let mut missing: Vec<String> = {
            let known = self.revisions.lock().map(|m| m.keys().cloned().collect::<std::collections::HashSet<_>>()).unwrap_or_default();
            arns.iter().filter(|a| !known.contains(*a)).cloned().collect()
        };
        missing.sort();
        missing.dedup();
        for batch in missing.chunks(20) {
            let op = "ecs:DescribeServiceRevisions";
            self.gate(op).await;
            let Ok(out) = self.ecs.describe_service_revisions().set_service_revision_arns(Some(batch.to_vec())).send().await else {
                return;
            };
            if let Ok(mut m) = self.revisions.lock() {
                for r in out.service_revisions() {
                    if let (Some(arn), Some(td)) = (r.service_revision_arn(), r.task_definition()) {
                        m.insert(arn.to_string(), td.to_string());
                    }
                }
            }
        }
    }

    /// Before a paginator asks for the page after this one (`next_token` set): count that call
    /// and wait for the budget. Every page is a call.
    async fn gate_next_page(&self, op: &str, next_token: Option<&str>) {
        if next_token.is_some_and(|t| !t.is_empty()) {
            self.gate(op).await;
        }
    }

    /// Count the call and wait for the rate budget.
    async fn gate(&self, op: &str) {
        self.calls.record(op);
        while let Some(wait) = self.budget.try_take(op, self.epoch.elapsed().as_secs_f64()) {
            tokio::time::sleep(std::time::Duration::from_secs_f64(wait)).await;
        }
    }
}

/// The region the clients talk to, for messages that name an endpoint.
static REGION: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The endpoint a service's calls go to: the `AWS_ENDPOINT_URL_<SERVICE>` / `AWS_ENDPOINT_URL`
/// override, else the regional AWS endpoint.
pub fn endpoint_of(service: &str) -> String {
    let env_name = match service {
        "elasticloadbalancing" => "ELASTIC_LOAD_BALANCING_V2".to_string(),
        "logs" => "CLOUDWATCH_LOGS".to_string(),
        s => s.to_ascii_uppercase(),
    };
    std::env::var(format!("AWS_ENDPOINT_URL_{env_name}")).or_else(|_| std::env::var("AWS_ENDPOINT_URL")).unwrap_or_else(|_| {
        let region = REGION.get().map_or("<region>", String::as_str);
        format!("https://{service}.{region}.{}", dns_suffix(region))
    })
}

/// The DNS suffix of a region's partition (aws, aws-cn, aws-us-gov, the ISO partitions), as
/// the SDK's partition table has it: `ssm.cn-north-1.amazonaws.com.cn`, not `.amazonaws.com`.
pub fn dns_suffix(region: &str) -> &'static str {
    match region {
        r if r.starts_with("cn-") => "amazonaws.com.cn",
        r if r.starts_with("us-isob-") => "sc2s.sgov.gov",
        r if r.starts_with("us-isof-") => "csp.hci.ic.gov",
        r if r.starts_with("us-iso-") => "c2s.ic.gov",
        r if r.starts_with("eu-isoe-") => "cloud.adc-e.uk",
        _ => "amazonaws.com",
    }
}

/// The named profile the AWS config was loaded from, as the Session Manager plugin takes it:
/// `AWS_PROFILE`, else `AWS_DEFAULT_PROFILE` (the AWS CLI's), else none (the default chain).
pub fn profile_name() -> String {
    std::env::var("AWS_PROFILE").or_else(|_| std::env::var("AWS_DEFAULT_PROFILE")).unwrap_or_default()
}

/// The region the clients talk to, once connected.
pub fn region() -> Option<&'static str> {
    REGION.get().map(String::as_str)
}

/// Load the AWS config (env, profile, SSO, …) and build the ports. The SDK makes one attempt
/// per call (fgdeploy's own back-off with jitter is the one retry layer: `engine::watch::retrying_with`),
/// and an attempt that cannot connect within 3 s or answer within 20 s fails as unreachable.
pub async fn connect(region: Option<&str>) -> Result<Ports> {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .operation_attempt_timeout(std::time::Duration::from_secs(20))
        .build();
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).retry_config(RetryConfig::standard().with_max_attempts(1)).timeout_config(timeouts);
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    let conf = loader.load().await;
    let Some(r) = conf.region() else {
        return Err(Error::usage("no AWS region configured", "set `service.region` in the deployspec, or AWS_REGION / a profile region"));
    };
    let _ = REGION.set(r.to_string());
    Ok(ports_from_config(&conf))
}

/// The ports over an already loaded SDK config (tests point it at the emulator).
pub fn ports_from_config(conf: &aws_config::SdkConfig) -> Ports {
    ports_from(Aws::new(conf))
}

/// The ports over an `Aws` whose clients the caller built (tests add interceptors).
pub fn ports_from(aws: Aws) -> Ports {
    let calls = aws.calls.clone();
    let aws = Arc::new(aws);
    Ports {
        ecs: aws.clone(),
        ecr: aws.clone(),
        logs: aws.clone(),
        codedeploy: aws.clone(),
        elb: aws.clone(),
        autoscaling: aws.clone(),
        account: aws,
        registry: Arc::new(crate::registry::Oci::default()),
        builder: Arc::new(crate::build::DockerBuilder::default()),
        clock: Arc::new(SystemClock),
        calls,
    }
}

/// Classify an SDK error for the engine.
pub fn map_err<E, R>(op: &str, e: SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
    SdkError<E, R>: std::error::Error + 'static,
{
    let op = op.to_string();
    let text = DisplayErrorContext(&e).to_string();
    match &e {
        SdkError::ServiceError(ctx) => {
            let status = raw_status(ctx.raw());
            let code = ctx.err().code().map(str::to_string);
            let message = ctx.err().message().unwrap_or_default().to_string();
            match code.as_deref() {
                Some(c) if c.contains("Throttl") || c == "RequestLimitExceeded" || c == "TooManyRequestsException" => {
                    PortError::Throttled { op }
                }
                Some(c) if c.ends_with("NotFoundException") || c == "RepositoryNotFoundException" => {
                    PortError::NotFound { op, message: format!("{c}: {message}") }
                }
                Some("UnknownOperationException") | Some("UnsupportedFeatureException") => PortError::Unsupported { op, message },
                Some(c) if status >= 500 => PortError::Transient { op, message: format!("{c}: {message}") },
                Some(c) => PortError::Rejected { op, code: c.to_string(), message },
                // AWS always answers with an error code; a bare 500/404 comes from an endpoint that
                // does not implement the operation (an emulator, a proxy).
                None if status == 500 || status == 404 => {
                    PortError::Unsupported { op, message: format!("HTTP {status} without an AWS error body") }
                }
                None => PortError::Transient { op, message: short(&text) },
            }
        }
        SdkError::ConstructionFailure(_) => PortError::Rejected { op, code: "RequestConstruction".into(), message: short(&text) },
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) if !text.contains("redentials") => {
            let service = op.split(':').next().unwrap_or_default().to_string();
            PortError::Unreachable { op, endpoint: endpoint_of(&service), message: short(&text) }
        }
        _ if text.contains("credentials") || text.contains("Credentials") => PortError::Rejected {
            op,
            code: "NoCredentials".into(),
            message: "no usable AWS credentials (environment, profile, SSO, container or instance role); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, run `aws sso login`, or rehearse with --sandbox".into(),
        },
        _ => PortError::Transient { op, message: short(&text) },
    }
}

/// The SDK's error chain can run to kilobytes of debug output: keep the readable head.
fn short(text: &str) -> String {
    // DisplayErrorContext appends the whole Debug chain in parentheses: drop that part.
    let cut = ["(DispatchFailure", "(ServiceError", "(ResponseError", "(TimeoutError", "(ConstructionFailure"]
        .iter()
        .filter_map(|m| text.find(m))
        .min();
    let head = cut.map_or(text, |i| text[..i].trim_end());
    if head.chars().count() > 300 { format!("{}…", head.chars().take(300).collect::<String>()) } else { head.to_string() }
}

fn raw_status<R: std::fmt::Debug>(raw: &R) -> u16 {
    // `R` is the HTTP response; its Debug output carries the status. Kept generic so this works
    // for every service's error type without naming the runtime's response type.
    let d = format!("{raw:?}");
    d.split("status: StatusCode(").nth(1).and_then(|s| s.split(')').next()).and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

fn ts(d: Option<&aws_smithy_types::DateTime>) -> Option<Timestamp> {
    d.map(|d| d.as_secs_f64())
}

/// The rolling deployment configuration as the SDK's.
fn deployment_configuration(op: &str, c: &DeploymentConfig) -> PortResult<t::DeploymentConfiguration> {
    Ok(deployment_configuration_builder(op, c)?.build())
}

/// The whole structure: UpdateService takes `deploymentConfiguration` as a whole, so every
/// member fgdeploy knows is sent, the lifecycle hooks as an explicit list (an empty one clears).
fn deployment_configuration_builder(op: &str, c: &DeploymentConfig) -> PortResult<t::builders::DeploymentConfigurationBuilder> {
    let mut cfg =
        t::DeploymentConfiguration::builder().set_minimum_healthy_percent(c.minimum_healthy_percent).set_maximum_percent(c.maximum_percent);
    if let Some(cb) = &c.circuit_breaker {
        let threshold = match &cb.threshold {
            Some((kind, value)) => Some(
                t::ThresholdConfiguration::builder()
                    .r#type(t::ThresholdType::from(kind.as_str()))
                    .value(*value)
                    .build()
                    .map_err(|e| PortError::Rejected { op: op.into(), code: "InvalidRequest".into(), message: e.to_string() })?,
            ),
            None => None,
        };
        cfg = cfg.deployment_circuit_breaker(
            t::DeploymentCircuitBreaker::builder()
                .enable(cb.enable)
                .rollback(cb.rollback)
                .set_reset_on_healthy_task(cb.reset_on_healthy_task)
                .set_threshold_configuration(threshold)
                .build(),
        );
    }
    if let Some(a) = &c.alarms {
        let alarms = t::DeploymentAlarms::builder()
            .set_alarm_names(Some(a.names.clone()))
            .enable(a.enable)
            .rollback(a.rollback)
            .build()
            .map_err(|e| PortError::Rejected { op: op.into(), code: "InvalidRequest".into(), message: e.to_string() })?;
        cfg = cfg.alarms(alarms);
    }
    let early = c.early_success.as_ref().map(|(enable, pct, cleanup)| {
        t::DeploymentEarlySuccessCriteria::builder()
            .enable(*enable)
            .set_healthy_percent(*pct)
            .set_source_service_revision_cleanup(cleanup.as_deref().map(t::ServiceRevisionCleanup::from))
            .build()
    });
    if let Some((p, m)) = c.linear {
        cfg = cfg.linear_configuration(t::LinearConfiguration::builder().step_percent(p).step_bake_time_in_minutes(m).build());
    }
    if let Some((p, m)) = c.canary {
        cfg = cfg.canary_configuration(t::CanaryConfiguration::builder().canary_percent(p).canary_bake_time_in_minutes(m).build());
    }
    Ok(cfg
        .set_strategy(c.strategy.as_ref().map(|s| t::DeploymentStrategy::from(s.as_str())))
        .set_bake_time_in_minutes(c.bake_time_minutes)
        .set_lifecycle_hooks(Some(c.lifecycle_hooks.iter().map(hook_to_sdk).collect()))
        .set_early_success_criteria(early))
}

fn hook_to_sdk(h: &LifecycleHook) -> t::DeploymentLifecycleHook {
    let timeout = (h.timeout_minutes.is_some() || h.timeout_action.is_some()).then(|| {
        t::DeploymentLifecycleHookTimeoutConfiguration::builder()
            .set_timeout_in_minutes(h.timeout_minutes)
            .set_action(h.timeout_action.as_deref().map(t::DeploymentLifecycleHookAction::from))
            .build()
    });
    t::DeploymentLifecycleHook::builder()
        .target_type(t::DeploymentLifecycleHookTargetType::from(h.target_type.as_str()))
        .set_hook_target_arn(h.hook_target_arn.clone())
        .set_role_arn(h.role_arn.clone())
        .set_lifecycle_stages(Some(h.stages.iter().map(|s| t::DeploymentLifecycleHookStage::from(s.as_str())).collect()))
        .set_hook_details(h.details.as_ref().map(json_to_document))
        .set_timeout_configuration(timeout)
        .build()
}

fn hook_from_sdk(h: &t::DeploymentLifecycleHook) -> LifecycleHook {
    LifecycleHook {
        target_type: h.target_type().map_or("AWS_LAMBDA".into(), |t| t.as_str().to_string()),
        hook_target_arn: h.hook_target_arn().map(str::to_string),
        role_arn: h.role_arn().map(str::to_string),
        stages: h.lifecycle_stages().iter().map(|s| s.as_str().to_string()).collect(),
        timeout_minutes: h.timeout_configuration().and_then(|c| c.timeout_in_minutes()),
        timeout_action: h.timeout_configuration().and_then(|c| c.action()).map(|a| a.as_str().to_string()),
        details: h.hook_details().map(document_to_json),
    }
}

/// `hookDetails` (a smithy Document) as JSON, and back: kept exactly, whatever a team put there.
fn document_to_json(d: &aws_smithy_types::Document) -> serde_json::Value {
    use aws_smithy_types::{Document, Number};
    match d {
        Document::Object(m) => serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), document_to_json(v))).collect()),
        Document::Array(a) => serde_json::Value::Array(a.iter().map(document_to_json).collect()),
        Document::Number(Number::PosInt(n)) => (*n).into(),
        Document::Number(Number::NegInt(n)) => (*n).into(),
        Document::Number(Number::Float(f)) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, serde_json::Value::Number),
        Document::String(s) => s.clone().into(),
        Document::Bool(b) => (*b).into(),
        Document::Null => serde_json::Value::Null,
    }
}

fn json_to_document(v: &serde_json::Value) -> aws_smithy_types::Document {
    use aws_smithy_types::{Document, Number};
    match v {
        serde_json::Value::Object(m) => Document::Object(m.iter().map(|(k, v)| (k.clone(), json_to_document(v))).collect()),
        serde_json::Value::Array(a) => Document::Array(a.iter().map(json_to_document).collect()),
        serde_json::Value::Number(n) => Document::Number(match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Number::PosInt(u),
            (None, Some(i)) => Number::NegInt(i),
            _ => Number::Float(n.as_f64().unwrap_or_default()),
        }),
        serde_json::Value::String(s) => Document::String(s.clone()),
        serde_json::Value::Bool(b) => Document::Bool(*b),
        serde_json::Value::Null => Document::Null,
    }
}

/// CreateService's idempotency token (36 characters at most): a retried call after a lost
/// response must not fail as "not idempotent" or create anything twice.
fn create_token(req: &CreateService) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("{}/{}/{}", req.cluster, req.service, req.task_definition));
    let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
    format!("fgdeploy-{}", &hex[..27])
}

/// The `[service.definition]` settings on an UpdateService or CreateService builder.
macro_rules! with_settings {
    ($b:expr, $d:expr, $sdk:expr) => {
        $b.set_network_configuration($sdk.network)
            .set_capacity_provider_strategy($sdk.capacity_provider_strategy)
            .set_load_balancers($sdk.load_balancers)
            .set_service_registries($sdk.service_registries)
            .set_service_connect_configuration($sdk.service_connect)
            .set_propagate_tags($sdk.propagate_tags)
            .set_availability_zone_rebalancing($sdk.az_rebalancing)
            .set_deployment_controller($sdk.controller)
            .set_platform_version($d.platform_version.clone())
            .set_health_check_grace_period_seconds($d.health_check_grace_period_seconds)
            .set_enable_execute_command($d.enable_execute_command)
            .set_enable_ecs_managed_tags($d.enable_ecs_managed_tags)
            .set_volume_configurations($sdk.volume_configurations)
            .set_vpc_lattice_configurations($sdk.vpc_lattice)
    };
}

/// A service's deployment configuration, every member fgdeploy carries.
fn deployment_config_from(c: &t::DeploymentConfiguration) -> DeploymentConfig {
    DeploymentConfig {
        minimum_healthy_percent: c.minimum_healthy_percent(),
        maximum_percent: c.maximum_percent(),
        circuit_breaker: c.deployment_circuit_breaker().map(|b| CircuitBreaker {
            enable: b.enable(),
            rollback: b.rollback(),
            reset_on_healthy_task: b.reset_on_healthy_task(),
            threshold: b.threshold_configuration().map(|t| (t.r#type().as_str().to_string(), t.value())),
        }),
        alarms: c.alarms().map(|a| Alarms { names: a.alarm_names().to_vec(), enable: a.enable(), rollback: a.rollback() }),
        bake_time_minutes: c.bake_time_in_minutes(),
        lifecycle_hooks: c.lifecycle_hooks().iter().map(hook_from_sdk).collect(),
        early_success: c
            .early_success_criteria()
            .map(|e| (e.enable(), e.healthy_percent(), e.source_service_revision_cleanup().map(|x| x.as_str().to_string()))),
        strategy: c.strategy().map(|s| crate::states::DeploymentStrategy::parse(s.as_str())),
        linear: c.linear_configuration().map(|l| (l.step_percent().unwrap_or(0.0), l.step_bake_time_in_minutes().unwrap_or(0))),
        canary: c.canary_configuration().map(|l| (l.canary_percent().unwrap_or(0.0), l.canary_bake_time_in_minutes().unwrap_or(0))),
    }
}

fn service_from(s: &t::Service) -> ServiceState {
    let dc = s.deployment_configuration();
    let mut st = ServiceState {
        arn: s.service_arn().unwrap_or_default().to_string(),
        name: s.service_name().unwrap_or_default().to_string(),
        cluster_arn: s.cluster_arn().unwrap_or_default().to_string(),
        status: crate::states::ServiceStatus::parse(s.status().unwrap_or_default()),
        desired_count: s.desired_count(),
        running_count: s.running_count(),
        pending_count: s.pending_count(),
        task_definition: s.task_definition().unwrap_or_default().to_string(),
        deployment_config: dc.map(deployment_config_from).unwrap_or_default(),
        deployments: s.deployments().iter().map(deployment_from).collect(),
        events: s
            .events()
            .iter()
            .map(|e| ServiceEvent {
                id: e.id().unwrap_or_default().to_string(),
                created_at: ts(e.created_at()),
                message: e.message().unwrap_or_default().to_string(),
            })
            .collect(),
        load_balancers: s.load_balancers().iter().map(load_balancer_from).collect(),
        network: s.network_configuration().and_then(|n| n.awsvpc_configuration()).map(|v| Network {
            subnets: v.subnets().to_vec(),
            security_groups: v.security_groups().to_vec(),
            assign_public_ip: v.assign_public_ip().is_some_and(|a| a.as_str() == "ENABLED"),
        }),
        launch_type: s.launch_type().map(|l| l.as_str().to_string()),
        platform_version: s.platform_version().map(str::to_string),
        current_service_deployment: s.current_service_deployment().map(str::to_string),
        enable_execute_command: s.enable_execute_command(),
        enable_ecs_managed_tags: s.enable_ecs_managed_tags(),
        ..Default::default()
    };
    servicedef::read_settings(s, &mut st);
    st
}

fn deployment_from(d: &t::Deployment) -> Deployment {
    Deployment {
        id: d.id().unwrap_or_default().to_string(),
        status: d.status().unwrap_or_default().into(),
        task_definition: d.task_definition().unwrap_or_default().to_string(),
        desired: d.desired_count(),
        running: d.running_count(),
        pending: d.pending_count(),
        failed_tasks: d.failed_tasks(),
        rollout_state: d.rollout_state().map(|r| r.as_str().into()),
        rollout_state_reason: d.rollout_state_reason().map(str::to_string),
        created_at: ts(d.created_at()),
    }
}

fn load_balancer_from(l: &t::LoadBalancer) -> LoadBalancer {
    LoadBalancer {
        target_group_arn: l.target_group_arn().map(str::to_string),
        container_name: l.container_name().map(str::to_string),
        container_port: l.container_port(),
        advanced: l.advanced_configuration().map(|a| AdvancedLbConfig {
            alternate_target_group_arn: a.alternate_target_group_arn().unwrap_or_default().to_string(),
            production_listener_rule: a.production_listener_rule().unwrap_or_default().to_string(),
            test_listener_rule: a.test_listener_rule().map(str::to_string),
            role_arn: a.role_arn().unwrap_or_default().to_string(),
        }),
    }
}

fn sd_from(sd: &t::ServiceDeployment) -> ServiceDeployment {
    ServiceDeployment {
        arn: sd.service_deployment_arn().unwrap_or_default().to_string(),
        status: sd.status().map_or(SdStatus::default(), |s| s.as_str().into()),
        status_reason: sd.status_reason().map(str::to_string),
        target_revision: sd.target_service_revision().and_then(|r| r.arn()).map(str::to_string),
        // A service revision names its task definition only through DescribeServiceRevisions:
        // `describe_service_deployments` fills these in.
        target_task_definition: None,
        source_task_definitions: Vec::new(),
        created_at: ts(sd.created_at()),
        finished_at: ts(sd.finished_at()),
        rollback_reason: sd.rollback().and_then(|r| r.reason()).map(str::to_string),
        circuit_breaker: sd.deployment_circuit_breaker().map(|c| ServiceDeploymentCircuitBreaker {
            status: c.status().map(|s| s.as_str().to_string()),
            failure_count: c.failure_count(),
            threshold: c.threshold(),
        }),
        lifecycle_stage: sd.lifecycle_stage().map(|s| s.as_str().into()),
        hooks: sd
            .lifecycle_hook_details()
            .iter()
            .map(|h| HookDetail {
                hook_id: h.hook_id().unwrap_or_default().to_string(),
                target_type: h.target_type().map(|x| x.as_str().to_string()),
                status: h.status().map(|x| crate::states::HookStatus::parse(x.as_str())),
            })
            .collect(),
    }
}

fn task_from(task: &t::Task) -> Task {
    Task {
        arn: task.task_arn().unwrap_or_default().to_string(),
        task_definition: task.task_definition_arn().unwrap_or_default().to_string(),
        last_status: task.last_status().unwrap_or_default().into(),
        desired_status: task.desired_status().unwrap_or_default().into(),
        started_by: task.started_by().map(str::to_string),
        stop_code: task.stop_code().map(|c| c.as_str().into()),
        stopped_reason: task.stopped_reason().map(str::to_string),
        containers: task
            .containers()
            .iter()
            .map(|c| ContainerState {
                name: c.name().unwrap_or_default().to_string(),
                exit_code: c.exit_code(),
                reason: c.reason().map(str::to_string),
                last_status: c.last_status().map(str::to_string),
                runtime_id: c.runtime_id().map(str::to_string),
            })
            .collect(),
        created_at: ts(task.created_at()),
        started_at: ts(task.started_at()),
    }
}

fn td_from(out_td: Option<&t::TaskDefinition>, tags: &[t::Tag], op: &str) -> PortResult<RegisteredTaskDefinition> {
    let td = out_td.ok_or_else(|| PortError::Transient { op: op.into(), message: "response without taskDefinition".into() })?;
    Ok(RegisteredTaskDefinition {
        arn: td.task_definition_arn().unwrap_or_default().to_string(),
        family: td.family().unwrap_or_default().to_string(),
        revision: td.revision(),
        definition: taskdef::from_sdk(td, tags),
    })
}

#[async_trait]
impl Ecs for Aws {
    async fn describe_service(&self, cluster: &str, service: &str) -> PortResult<Option<ServiceState>> {
        let op = "ecs:DescribeServices";
        self.gate(op).await;
        let raw = RawBody::default();
        let out = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .include(t::ServiceField::Tags)
            .customize()
            .interceptor(raw.clone())
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        let Some(s) = out.services().iter().find(|s| s.status() != Some("INACTIVE")) else { return Ok(None) };
        let mut st = service_from(s);
        // Settings newer than this SDK (or that the mapping misses): named, so that a plan that
        // would send their structure whole refuses instead of dropping them.
        st.uncarried = raw
            .json()
            .and_then(|j| j["services"].as_array()?.iter().find(|r| r["serviceArn"].as_str() == s.service_arn()).map(servicedef::uncarried))
            .unwrap_or_default();
        Ok(Some(st))
    }

    async fn describe_task_definition(&self, td: &str) -> PortResult<RegisteredTaskDefinition> {
        let op = "ecs:DescribeTaskDefinition";
        self.gate(op).await;
        let raw = RawBody::default();
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(td)
            .include(t::TaskDefinitionField::Tags)
            .customize()
            .interceptor(raw.clone())
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        let reg = td_from(out.task_definition(), out.tags(), op)?;
        // A field newer than this SDK (or one the mapping misses) would be dropped silently: a
        // plan would show "no changes" and a release would register the revision without it.
        if let Some(field) = raw.uncarried(&reg.definition) {
            return Err(PortError::Rejected {
                op: op.into(),
                code: "UnsupportedField".into(),
                message: format!(
                    "revision {} has `{field}`, which this fgdeploy cannot carry; releasing it would drop the field. Upgrade fgdeploy, or change that revision by other means",
                    reg.arn
                ),
            });
        }
        Ok(reg)
    }

    async fn register_task_definition(&self, td: &TaskDefinition) -> PortResult<RegisteredTaskDefinition> {
        let op = "ecs:RegisterTaskDefinition";
        self.gate(op).await;
        let req = taskdef::to_request(self.ecs.register_task_definition(), td).map_err(|e| PortError::Rejected {
            op: op.into(),
            code: "InvalidTaskDefinition".into(),
            message: e.to_string(),
        })?;
        let out = req.send().await.map_err(|e| map_err(op, e))?;
        td_from(out.task_definition(), out.tags(), op)
    }

    async fn update_service(&self, req: &UpdateService) -> PortResult<ServiceState> {
        let op = "ecs:UpdateService";
        self.gate(op).await;
        let settings = servicedef::to_sdk(op, &req.settings)?;
        let d = &req.settings;
        let mut b = with_settings!(self.ecs.update_service(), d, settings)
            .cluster(&req.cluster)
            .service(&req.service)
            .set_task_definition((!req.task_definition.is_empty()).then(|| req.task_definition.clone()))
            .set_desired_count(req.desired_count);
        if let Some(c) = &req.deployment_config {
            b = b.deployment_configuration(deployment_configuration(op, c)?);
        }
        if let Some(n) = &req.native {
            // The live structure (percentages, circuit breaker, alarms, the team's hooks) with
            // the strategy and fgdeploy's gate for this release.
            let base = DeploymentConfig { lifecycle_hooks: n.hooks(), strategy: None, linear: None, canary: None, ..n.base.clone() };
            let mut cfg = deployment_configuration_builder(op, &base)?
                .strategy(t::DeploymentStrategy::from(n.strategy.as_str()))
                .set_bake_time_in_minutes(n.bake_time_minutes.or(n.base.bake_time_minutes));
            if let Some((p, m)) = n.linear {
                cfg = cfg.linear_configuration(t::LinearConfiguration::builder().step_percent(p).step_bake_time_in_minutes(m).build());
            }
            if let Some((p, m)) = n.canary {
                cfg = cfg.canary_configuration(t::CanaryConfiguration::builder().canary_percent(p).canary_bake_time_in_minutes(m).build());
            }
            b = b.deployment_configuration(cfg.build());
            if let Some(lb) = &n.load_balancer {
                let adv = t::AdvancedConfiguration::builder()
                    .alternate_target_group_arn(&lb.alternate_target_group_arn)
                    .production_listener_rule(&lb.production_listener_rule)
                    .set_test_listener_rule(lb.test_listener_rule.clone())
                    .role_arn(&lb.role_arn)
                    .build();
                b = b.load_balancers(
                    t::LoadBalancer::builder()
                        .target_group_arn(&lb.target_group_arn)
                        .container_name(&lb.container_name)
                        .container_port(lb.container_port)
                        .advanced_configuration(adv)
                        .build(),
                );
            }
        }
        let out = b.send().await.map_err(|e| map_err(op, e))?;
        out.service().map(service_from).ok_or_else(|| PortError::Transient { op: op.into(), message: "response without service".into() })
    }

    async fn service_tasks(&self, cluster: &str, service: &str) -> PortResult<Vec<String>> {
        let op = "ecs:ListTasks";
        self.gate(op).await;
        let mut pages =
            self.ecs.list_tasks().cluster(cluster).service_name(service).desired_status(t::DesiredStatus::Running).into_paginator().send();
        let mut arns = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_err(op, e))?;
            arns.extend(page.task_arns().iter().cloned());
            self.gate_next_page(op, page.next_token()).await;
        }
        Ok(arns)
    }

    async fn execute_command(&self, cluster: &str, task: &str, container: &str, command: &str) -> PortResult<ExecSession> {
        let op = "ecs:ExecuteCommand";
        self.gate(op).await;
        let out = self
            .ecs
            .execute_command()
            .cluster(cluster)
            .task(task)
            .container(container)
            .command(command)
            .interactive(true)
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        let s = out.session().ok_or_else(|| PortError::Transient { op: op.into(), message: "response without session".into() })?;
        Ok(ExecSession {
            session_id: s.session_id().unwrap_or_default().to_string(),
            stream_url: s.stream_url().unwrap_or_default().to_string(),
            token_value: s.token_value().unwrap_or_default().to_string(),
        })
    }

    async fn create_service(&self, req: &CreateService) -> PortResult<ServiceState> {
        let op = "ecs:CreateService";
        self.gate(op).await;
        let d = &req.settings;
        let mut settings = servicedef::to_sdk(op, d)?;
        let tags = settings.tags.clone();
        let launch_type = d.capacity_provider_strategy.as_ref().is_none_or(Vec::is_empty).then_some(t::LaunchType::Fargate);
        if launch_type.is_some() {
            // `capacity_provider_strategy = []` means the launch type: ECS refuses a request with
            // both launchType and capacityProviderStrategy, even an empty one (#24).
            settings.capacity_provider_strategy = None;
        }
        let mut b = with_settings!(self.ecs.create_service(), d, settings)
            .cluster(&req.cluster)
            .service_name(&req.service)
            .task_definition(&req.task_definition)
            .desired_count(req.desired_count)
            .set_launch_type(launch_type)
            .set_tags(tags)
            // A retried call must not create a second service (ECS dedupes on the token).
            .client_token(create_token(req));
        if let Some(c) = &req.deployment_config {
            b = b.deployment_configuration(deployment_configuration(op, c)?);
        }
        let out = b.send().await.map_err(|e| map_err(op, e))?;
        out.service().map(service_from).ok_or_else(|| PortError::Transient { op: op.into(), message: "response without service".into() })
    }

    async fn tag_service(&self, arn: &str, tags: &std::collections::BTreeMap<String, String>) -> PortResult<()> {
        let op = "ecs:TagResource";
        self.gate(op).await;
        self.ecs.tag_resource().resource_arn(arn).set_tags(Some(servicedef::tags(tags))).send().await.map_err(|e| map_err(op, e))?;
        Ok(())
    }

    async fn set_desired_count(&self, cluster: &str, service: &str, count: i32) -> PortResult<ServiceState> {
        let op = "ecs:UpdateService";
        self.gate(op).await;
        let out =
            self.ecs.update_service().cluster(cluster).service(service).desired_count(count).send().await.map_err(|e| map_err(op, e))?;
        out.service().map(service_from).ok_or_else(|| PortError::Transient { op: op.into(), message: "response without service".into() })
    }

    async fn list_service_deployments(&self, cluster: &str, service: &str, created_after: Option<Timestamp>) -> PortResult<Vec<String>> {
        let op = "ecs:ListServiceDeployments";
        self.gate(op).await;
        // Newest first, 20 a page; at most 100 (five pages: `history --limit`'s maximum).
        // (ListServiceDeployments has no SDK paginator in aws-sdk-ecs 1.157: the token by hand.)
        let mut arns = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut b = self.ecs.list_service_deployments().cluster(cluster).service(service).max_results(20).set_next_token(token);
            if let Some(after) = created_after {
                b = b.created_at(t::CreatedAt::builder().after(aws_smithy_types::DateTime::from_secs_f64(after)).build());
            }
            let out = b.send().await.map_err(|e| map_err(op, e))?;
            arns.extend(out.service_deployments().iter().filter_map(|s| s.service_deployment_arn().map(str::to_string)));
            token = out.next_token().map(str::to_string);
            if token.is_none() || arns.len() >= 100 {
                return Ok(arns);
            }
            self.gate(op).await;
        }
    }

    async fn describe_service_deployments(&self, arns: &[String]) -> PortResult<Vec<ServiceDeployment>> {
        let op = "ecs:DescribeServiceDeployments";
        self.gate(op).await;
        let out = self
            .ecs
            .describe_service_deployments()
            .set_service_deployment_arns(Some(arns.to_vec()))
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        let mut sds: Vec<ServiceDeployment> = out.service_deployments().iter().map(sd_from).collect();
        let wanted: Vec<String> = out
            .service_deployments()
            .iter()
            .flat_map(|sd| {
                sd.target_service_revision()
                    .and_then(|r| r.arn())
                    .into_iter()
                    .chain(sd.source_service_revisions().iter().filter_map(|r| r.arn()))
            })
            .map(str::to_string)
            .collect();
        self.resolve_revisions(&wanted).await;
        let known = self.revisions.lock().map(|m| m.clone()).unwrap_or_default();
        for (sd, raw) in sds.iter_mut().zip(out.service_deployments()) {
            sd.target_task_definition = sd.target_revision.as_ref().and_then(|r| known.get(r)).cloned();
            sd.source_task_definitions =
                raw.source_service_revisions().iter().filter_map(|r| r.arn()).filter_map(|r| known.get(r)).cloned().collect();
        }
        Ok(sds)
    }

    async fn stop_service_deployment_rollback(&self, arn: &str) -> PortResult<()> {
        let op = "ecs:StopServiceDeployment";
        self.gate(op).await;
        self.ecs
            .stop_service_deployment()
            .service_deployment_arn(arn)
            .stop_type(t::StopServiceDeploymentStopType::Rollback)
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        Ok(())
    }

    async fn list_tasks(&self, cluster: &str, started_by: &str, stopped: bool) -> PortResult<Vec<String>> {
        let op = "ecs:ListTasks";
        self.gate(op).await;
        let status = if stopped { t::DesiredStatus::Stopped } else { t::DesiredStatus::Running };
        // Every page (ListTasks answers at most 100 a page; a stopped task's reason may be on a
        // later one).
        let mut pages = self.ecs.list_tasks().cluster(cluster).started_by(started_by).desired_status(status).into_paginator().send();
        let mut arns = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_err(op, e))?;
            arns.extend(page.task_arns().iter().cloned());
            self.gate_next_page(op, page.next_token()).await;
        }
        Ok(arns)
    }

    async fn describe_tasks(&self, cluster: &str, arns: &[String]) -> PortResult<Vec<Task>> {
        let op = "ecs:DescribeTasks";
        let mut out = Vec::new();
        for chunk in arns.chunks(100) {
            self.gate(op).await;
            let r = self.ecs.describe_tasks().cluster(cluster).set_tasks(Some(chunk.to_vec())).send().await.map_err(|e| map_err(op, e))?;
            out.extend(r.tasks().iter().map(task_from));
        }
        Ok(out)
    }

    async fn run_task(&self, req: &RunTask) -> PortResult<RunTaskResult> {
        let op = "ecs:RunTask";
        self.gate(op).await;
        let invalid = |e: aws_smithy_types::error::operation::BuildError| PortError::Rejected {
            op: op.into(),
            code: "InvalidRequest".into(),
            message: e.to_string(),
        };
        let mut b = self
            .ecs
            .run_task()
            .cluster(&req.cluster)
            .task_definition(&req.task_definition)
            .started_by(&req.started_by)
            .client_token(&req.client_token)
            .count(1)
            .set_platform_version(req.platform_version.clone())
            .overrides(
                t::TaskOverride::builder()
                    .container_overrides(
                        t::ContainerOverride::builder().name(&req.container).set_command(Some(req.command.clone())).build(),
                    )
                    .build(),
            );
        if req.capacity_providers.is_empty() {
            b = b.launch_type(t::LaunchType::from(req.launch_type.as_deref().unwrap_or("FARGATE")));
        } else {
            for cp in &req.capacity_providers {
                b = b.capacity_provider_strategy(
                    t::CapacityProviderStrategyItem::builder().capacity_provider(cp).weight(1).build().map_err(invalid)?,
                );
            }
        }
        if let Some(n) = &req.network {
            let vpc = t::AwsVpcConfiguration::builder()
                .set_subnets(Some(n.subnets.clone()))
                .set_security_groups(Some(n.security_groups.clone()))
                .assign_public_ip(if n.assign_public_ip { t::AssignPublicIp::Enabled } else { t::AssignPublicIp::Disabled })
                .build()
                .map_err(invalid)?;
            b = b.network_configuration(t::NetworkConfiguration::builder().awsvpc_configuration(vpc).build());
        }
        let out = b.send().await.map_err(|e| map_err(op, e))?;
        Ok(RunTaskResult {
            tasks: out.tasks().iter().map(task_from).collect(),
            failures: out
                .failures()
                .iter()
                .map(|f| (f.reason().unwrap_or_default().to_string(), f.detail().unwrap_or_default().to_string()))
                .collect(),
        })
    }

    async fn continue_service_deployment(&self, arn: &str, hook_id: &str, action: &str) -> PortResult<()> {
        let op = "ecs:ContinueServiceDeployment";
        self.gate(op).await;
        self.ecs
            .continue_service_deployment()
            .service_deployment_arn(arn)
            .hook_id(hook_id)
            .action(t::DeploymentLifecycleHookAction::from(action))
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        Ok(())
    }

    async fn list_task_definitions(&self, family: &str) -> PortResult<Vec<String>> {
        let op = "ecs:ListTaskDefinitions";
        let mut out = Vec::new();
        self.gate(op).await;
        let mut pages = self
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(t::TaskDefinitionStatus::Active)
            .sort(t::SortOrder::Asc)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_err(op, e))?;
            // familyPrefix matches prefixes: keep this family only.
            out.extend(
                page.task_definition_arns()
                    .iter()
                    .filter(|a| a.rsplit('/').next().and_then(|x| x.rsplit_once(':')).is_some_and(|(f, _)| f == family))
                    .cloned(),
            );
            self.gate_next_page(op, page.next_token()).await;
        }
        Ok(out)
    }

    async fn deregister_task_definition(&self, arn: &str) -> PortResult<()> {
        let op = "ecs:DeregisterTaskDefinition";
        self.gate(op).await;
        self.ecs.deregister_task_definition().task_definition(arn).send().await.map_err(|e| map_err(op, e))?;
        Ok(())
    }

    async fn stop_task(&self, cluster: &str, task: &str, reason: &str) -> PortResult<()> {
        let op = "ecs:StopTask";
        self.gate(op).await;
        self.ecs.stop_task().cluster(cluster).task(task).reason(reason).send().await.map_err(|e| map_err(op, e))?;
        Ok(())
    }
}

#[async_trait]
impl Logs for Aws {
    async fn log_events(&self, group: &str, stream: &str, token: Option<&str>) -> PortResult<LogPage> {
        let op = "logs:GetLogEvents";
        self.gate(op).await;
        let out = self
            .logs
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(true)
            .set_next_token(token.map(str::to_string))
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        Ok(LogPage {
            lines: out.events().iter().filter_map(|e| e.message()).map(|m| m.trim_end().to_string()).collect(),
            next_token: out.next_forward_token().map(str::to_string),
        })
    }
}

const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

#[async_trait]
impl Ecr for Aws {
    async fn create_repository(&self, repository: &str) -> PortResult<String> {
        let op = "ecr:CreateRepository";
        self.gate(op).await;
        let out = self.ecr.create_repository().repository_name(repository).send().await.map_err(|e| map_err(op, e))?;
        out.repository()
            .and_then(|r| r.repository_uri())
            .map(str::to_string)
            .ok_or_else(|| PortError::Transient { op: op.into(), message: "response without repositoryUri".into() })
    }

    async fn authorization(&self) -> PortResult<RegistryAuth> {
        let op = "ecr:GetAuthorizationToken";
        self.gate(op).await;
        let out = self.ecr.get_authorization_token().send().await.map_err(|e| map_err(op, e))?;
        let data = out
            .authorization_data()
            .first()
            .ok_or_else(|| PortError::Transient { op: op.into(), message: "no authorizationData".into() })?;
        // A token that is missing or cannot be decoded will not decode on a retry either: not
        // retryable (it was, and observe spent 8 tries and a minute on it).
        let bad = |m: &str| PortError::Rejected { op: op.into(), code: "MalformedAuthorizationToken".into(), message: m.to_string() };
        let token = data.authorization_token().ok_or_else(|| bad("no authorizationToken"))?;
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| bad("authorizationToken is not base64"))?;
        let text = String::from_utf8(decoded).map_err(|_| bad("authorizationToken is not UTF-8"))?;
        let (username, password) = text.split_once(':').ok_or_else(|| bad("authorizationToken is not user:password"))?;
        Ok(RegistryAuth {
            username: username.to_string(),
            password: password.to_string(),
            endpoint: data.proxy_endpoint().ok_or_else(|| bad("no proxyEndpoint"))?.to_string(),
        })
    }

    async fn manifest(&self, repository: &str, tag: &str) -> PortResult<Option<Manifest>> {
        let op = "ecr:BatchGetImage";
        self.gate(op).await;
        let out = self
            .ecr
            .batch_get_image()
            .repository_name(repository)
            .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(tag).build())
            .set_accepted_media_types(Some(MANIFEST_TYPES.iter().map(|s| s.to_string()).collect()))
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        Ok(out.images().first().and_then(|i| {
            Some(Manifest {
                body: i.image_manifest()?.to_string(),
                media_type: i.image_manifest_media_type().map(str::to_string),
                digest: i.image_id().and_then(|x| x.image_digest()).map(str::to_string),
            })
        }))
    }

    async fn pull_through_upstream(&self, repository: &str) -> PortResult<Option<String>> {
        let op = "ecr:DescribePullThroughCacheRules";
        self.gate(op).await;
        let mut pages = self.ecr.describe_pull_through_cache_rules().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_err(op, e))?;
            let found = page.pull_through_cache_rules().iter().find_map(|r| {
                let prefix = r.ecr_repository_prefix()?;
                repository.strip_prefix(prefix)?.starts_with('/').then(|| r.upstream_registry_url().unwrap_or_default().to_string())
            });
            if found.is_some() {
                return Ok(found);
            }
            self.gate_next_page(op, page.next_token()).await;
        }
        Ok(None)
    }

    async fn image_exists_in(&self, registry_id: &str, repository: &str, reference: &str) -> PortResult<bool> {
        let op = "ecr:BatchGetImage";
        self.gate(op).await;
        let id = aws_sdk_ecr::types::ImageIdentifier::builder();
        let id = if reference.starts_with("sha256:") { id.image_digest(reference) } else { id.image_tag(reference) };
        let out = self
            .ecr
            .batch_get_image()
            .registry_id(registry_id)
            .repository_name(repository)
            .image_ids(id.build())
            .set_accepted_media_types(Some(MANIFEST_TYPES.iter().map(|s| s.to_string()).collect()))
            .send()
            .await
            .map_err(|e| map_err(op, e));
        match out {
            Ok(o) => Ok(!o.images().is_empty()),
            Err(PortError::NotFound { .. }) => Ok(false),
            Err(PortError::Rejected { code, .. }) if code == "RepositoryNotFoundException" => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn put_manifest(&self, repository: &str, tag: &str, m: &Manifest) -> PortResult<bool> {
        let op = "ecr:PutImage";
        self.gate(op).await;
        // A manifest without its own mediaType needs imageManifestMediaType.
        let media_type = m.media_type.clone().or_else(|| {
            serde_json::from_str::<serde_json::Value>(&m.body)
                .ok()
                .and_then(|v| v.get("mediaType").and_then(|t| t.as_str()).map(str::to_string))
        });
        match self
            .ecr
            .put_image()
            .repository_name(repository)
            .image_tag(tag)
            .image_manifest(&m.body)
            .set_image_manifest_media_type(media_type)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match map_err(op, e) {
                PortError::Rejected { code, .. } if code == "ImageAlreadyExistsException" => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn repository_uri(&self, repository: &str) -> PortResult<String> {
        let op = "ecr:DescribeRepositories";
        self.gate(op).await;
        let out = self.ecr.describe_repositories().repository_names(repository).send().await.map_err(|e| map_err(op, e))?;
        out.repositories()
            .first()
            .and_then(|r| r.repository_uri())
            .map(str::to_string)
            .ok_or_else(|| PortError::NotFound { op: op.into(), message: format!("repository {repository} not found") })
    }

    async fn image_digest(&self, repository: &str, tag: &str) -> PortResult<Option<String>> {
        // A missing tag comes back in `failures` (ImageNotFound), not as an error.
        Ok(self.manifest(repository, tag).await?.and_then(|m| m.digest))
    }
}
