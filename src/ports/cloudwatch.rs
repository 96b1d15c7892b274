//! The `CloudWatch` port: the deployment alarms' state and history, read for a failure report.

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

#[async_trait]
pub trait CloudWatch: Send + Sync {
    /// DescribeAlarms of these names (at most 100; one call).
    async fn alarms(&self, names: &[String]) -> PortResult<Vec<AlarmState>>;
    /// DescribeAlarmHistory of one alarm: its newest `max` state updates, newest first.
    async fn alarm_history(&self, name: &str, max: usize) -> PortResult<Vec<AlarmChange>>;
}
