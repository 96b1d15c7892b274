//! The `CloudWatch` port: the deployment alarms' state and history, read for a failure report,
//! and metric data for the canary judge (#29).

use super::clock::Timestamp;
use super::error::PortResult;
use async_trait::async_trait;
use serde::Serialize;

/// One metric alarm, as DescribeAlarms says.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AlarmState {
    pub name: String,
    pub state: crate::states::AlarmStateValue,
    /// `StateReason`: CloudWatch's words ("Threshold Crossed: 1 datapoint [12.0 …] was greater than the threshold (5.0).").
    pub reason: Option<String>,
    /// `Namespace MetricName` (`AWS/ApplicationELB HTTPCode_Target_5XX_Count`), or `metric math`
    /// for an alarm over an expression.
    pub metric: Option<String>,
    /// `ComparisonOperator Threshold` (`GreaterThanThreshold 5`).
    pub condition: Option<String>,
    pub changed_at: Option<Timestamp>,
}

/// One entry of an alarm's history (DescribeAlarmHistory, state updates).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AlarmChange {
    pub alarm: String,
    pub at: Option<Timestamp>,
    /// `HistorySummary` ("Alarm updated from OK to ALARM").
    pub summary: String,
}

/// One `MetricDataQueries` member: a metric with a statistic, or an expression. Every query asks
/// for one-minute values (ALB metrics' granularity).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQuery {
    pub id: String,
    pub source: MetricSource,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MetricSource {
    /// `MetricStat`: namespace, metric name, its dimensions (all of them: CloudWatch matches the
    /// set exactly), and the statistic (`Sum`, `p99`, …).
    Stat { namespace: String, metric: String, dimensions: Vec<(String, String)>, stat: String },
    /// `Expression`: metric math or a Metrics Insights query.
    Expression(String),
}

/// One `MetricDataResults` member: its values by minute, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct MetricSeries {
    pub id: String,
    pub points: Vec<(Timestamp, f64)>,
    /// `StatusCode` was `Complete` (not `PartialData`, `Forbidden`, `InternalError`).
    pub complete: bool,
}

/// The last part of an ARN: a target group's or load balancer's CloudWatch dimension value
/// (`…:targetgroup/web/73e2d6bc24d8a067` → `targetgroup/web/73e2d6bc24d8a067`).
pub(crate) fn arn_resource(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// `family:revision` of a task-definition ARN (a custom query's `{{ revision }}`).
pub(crate) fn revision_of(td: &str) -> &str {
    td.rsplit('/').next().unwrap_or(td)
}

/// One-minute periods: the granularity of the load balancer's metrics.
pub const METRIC_PERIOD_SECS: u32 = 60;

#[async_trait]
pub trait CloudWatch: Send + Sync {
    /// GetMetricData of these queries (at most 500) from `start` to `end` (whole minutes), every
    /// page (one call each).
    async fn metric_data(&self, queries: &[MetricQuery], start: Timestamp, end: Timestamp) -> PortResult<Vec<MetricSeries>>;
    /// DescribeAlarms of these names (at most 100; one call).
    async fn alarms(&self, names: &[String]) -> PortResult<Vec<AlarmState>>;
    /// DescribeAlarmHistory of one alarm: its newest `max` state updates, newest first.
    async fn alarm_history(&self, name: &str, max: usize) -> PortResult<Vec<AlarmChange>>;
}
