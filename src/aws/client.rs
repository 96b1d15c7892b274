//! The SDK clients behind the ports: configuration (region, endpoints, profile), the rate gate
//! every call passes, and the ports built from them.

use super::endpoints::REGION;
use super::interceptors::RetryCounter;
use crate::budget::RateBudget;
use crate::error::{Error, Result};
use crate::ports::*;
use aws_config::{BehaviorVersion, Region, retry::RetryConfig};
use std::sync::Arc;

/// The SDK clients behind the ports.
pub struct Aws {
    pub ecs: aws_sdk_ecs::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub codedeploy: aws_sdk_codedeploy::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    /// EC2, IAM and CloudFormation's read-only calls (the Query protocol, `query.rs`).
    pub query: super::query::Query,
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
            secrets: aws_sdk_secretsmanager::Client::from_conf(
                aws_sdk_secretsmanager::config::Builder::from(conf).interceptor(counter("secretsmanager")).build(),
            ),
            query: super::query::Query::new(conf),
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
    pub(super) async fn resolve_revisions(&self, arns: &[String]) {
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
    pub(super) async fn gate_next_page(&self, op: &str, next_token: Option<&str>) {
        if next_token.is_some_and(|t| !t.is_empty()) {
            self.gate(op).await;
        }
    }

    /// Count the call and wait for the rate budget.
    pub(super) async fn gate(&self, op: &str) {
        self.calls.record(op);
        while let Some(wait) = self.budget.try_take(op, self.epoch.elapsed().as_secs_f64()) {
            tokio::time::sleep(std::time::Duration::from_secs_f64(wait)).await;
        }
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
        cloudwatch: aws.clone(),
        leases: aws.clone(),
        bus: aws.clone(),
        queues: aws.clone(),
        account: aws,
        registry: Arc::new(crate::registry::Oci::default()),
        builder: Arc::new(crate::build::DockerBuilder::default()),
        clock: Arc::new(SystemClock),
        calls,
    }
}
