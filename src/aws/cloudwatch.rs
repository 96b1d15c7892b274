//! CloudWatch alarms over the Query protocol (`query`): DescribeAlarms and DescribeAlarmHistory,
//! for the failure report. `aws-sdk-cloudwatch` is not used for two reads, for the same reason
//! as EC2 (see `query`'s module comment): build time.

use super::client::Aws;
use super::query::{self, members, tag};
use crate::ports::*;
use crate::states::AlarmStateValue;
use async_trait::async_trait;

/// An ISO-8601 timestamp as CloudWatch's XML carries it, in epoch seconds.
fn epoch(text: Option<String>) -> Option<Timestamp> {
    let t = text?;
    aws_smithy_types::DateTime::from_str(&t, aws_smithy_types::date_time::Format::DateTimeWithOffset)
        .or_else(|_| aws_smithy_types::DateTime::from_str(&t, aws_smithy_types::date_time::Format::DateTime))
        .ok()
        .map(|d| d.as_secs_f64())
}

/// One `MetricAlarms` or `CompositeAlarms` member.
pub(super) fn alarm(member: &str) -> AlarmState {
    let metric = match (tag(member, "Namespace"), tag(member, "MetricName")) {
        (Some(ns), Some(m)) if !member.contains("<Metrics>") => Some(format!("{ns} {m}")),
        _ if member.contains("<Metrics>") => Some("metric math".into()),
        _ => tag(member, "AlarmRule").map(|r| format!("composite: {r}")),
    };
    let condition = match (tag(member, "ComparisonOperator"), tag(member, "Threshold")) {
        (Some(op), Some(t)) => Some(format!("{op} {t}")),
        (Some(op), None) => Some(op),
        _ => None,
    };
    AlarmState {
        name: tag(member, "AlarmName").unwrap_or_default(),
        state: AlarmStateValue::from_aws(&tag(member, "StateValue").unwrap_or_default()),
        reason: tag(member, "StateReason"),
        metric,
        condition,
        changed_at: epoch(tag(member, "StateUpdatedTimestamp")),
    }
}

/// One `AlarmHistoryItems` member.
pub(super) fn change(member: &str) -> AlarmChange {
    AlarmChange {
        alarm: tag(member, "AlarmName").unwrap_or_default(),
        at: epoch(tag(member, "Timestamp")),
        summary: tag(member, "HistorySummary").unwrap_or_default(),
    }
}

#[async_trait]
impl CloudWatch for Aws {
    async fn alarms(&self, names: &[String]) -> PortResult<Vec<AlarmState>> {
        let op = "cloudwatch:DescribeAlarms";
        self.gate(op).await;
        let keys: Vec<String> = (1..=names.len().min(100)).map(|i| format!("AlarmNames.member.{i}")).collect();
        let mut params: Vec<(&str, &str)> = keys.iter().map(String::as_str).zip(names.iter().map(String::as_str)).collect();
        params.extend([("AlarmTypes.member.1", "MetricAlarm"), ("AlarmTypes.member.2", "CompositeAlarm")]);
        let xml = self.query.call(op, &self.query.monitoring, "DescribeAlarms", &params).await?.map_err(|r| query::refused(op, r))?;
        let metric = members(&xml, "MetricAlarms").into_iter().map(alarm);
        Ok(metric.chain(members(&xml, "CompositeAlarms").into_iter().map(alarm)).collect())
    }

    async fn alarm_history(&self, name: &str, max: usize) -> PortResult<Vec<AlarmChange>> {
        let op = "cloudwatch:DescribeAlarmHistory";
        self.gate(op).await;
        let max = max.clamp(1, 100).to_string();
        let params =
            [("AlarmName", name), ("HistoryItemType", "StateUpdate"), ("MaxRecords", max.as_str()), ("ScanBy", "TimestampDescending")];
        let xml = self.query.call(op, &self.query.monitoring, "DescribeAlarmHistory", &params).await?.map_err(|r| query::refused(op, r))?;
        Ok(members(&xml, "AlarmHistoryItems").into_iter().map(change).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer shapes of the CloudWatch API Reference (`DescribeAlarms`, `MetricAlarm`,
    /// `DescribeAlarmHistory`, `AlarmHistoryItem`; values from the AWS CLI's documented
    /// describe-alarm-history example), as the Query protocol's XML carries them.
    #[test]
    fn alarm_answers_are_read_as_the_api_reference_documents_them() {
        let alarms = r#"<DescribeAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><DescribeAlarmsResult>
<MetricAlarms><member><AlarmName>web-5xx</AlarmName><StateValue>ALARM</StateValue>
<StateReason>Threshold Crossed: 1 datapoint [12.0 (05/12/26 06:00:00)] was greater than the threshold (5.0).</StateReason>
<Namespace>AWS/ApplicationELB</Namespace><MetricName>HTTPCode_Target_5XX_Count</MetricName>
<Dimensions><member><Name>TargetGroup</Name><Value>targetgroup/web/1</Value></member></Dimensions>
<ComparisonOperator>GreaterThanThreshold</ComparisonOperator><Threshold>5.0</Threshold>
<StateUpdatedTimestamp>2014-04-09T18:59:06.442Z</StateUpdatedTimestamp></member>
<member><AlarmName>web-math</AlarmName><StateValue>OK</StateValue><Metrics><member><Id>e1</Id><Expression>m1/m2</Expression></member></Metrics></member></MetricAlarms>
<CompositeAlarms><member><AlarmName>web-any</AlarmName><StateValue>INSUFFICIENT_DATA</StateValue><AlarmRule>ALARM(web-5xx)</AlarmRule></member></CompositeAlarms>
</DescribeAlarmsResult></DescribeAlarmsResponse>"#;
        let got: Vec<AlarmState> =
            members(alarms, "MetricAlarms").into_iter().chain(members(alarms, "CompositeAlarms")).map(alarm).collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].state, AlarmStateValue::Alarm);
        assert_eq!(got[0].metric.as_deref(), Some("AWS/ApplicationELB HTTPCode_Target_5XX_Count"));
        assert_eq!(got[0].condition.as_deref(), Some("GreaterThanThreshold 5.0"));
        assert!(got[0].reason.as_deref().is_some_and(|r| r.starts_with("Threshold Crossed")));
        assert_eq!(got[0].changed_at, Some(1397069946.442));
        assert_eq!((got[1].state.clone(), got[1].metric.as_deref()), (AlarmStateValue::Ok, Some("metric math")));
        assert_eq!(
            (got[2].state.clone(), got[2].metric.as_deref()),
            (AlarmStateValue::InsufficientData, Some("composite: ALARM(web-5xx)"))
        );
        let history = r#"<DescribeAlarmHistoryResponse><DescribeAlarmHistoryResult><AlarmHistoryItems>
<member><Timestamp>2014-04-09T18:59:06.442Z</Timestamp><HistoryItemType>StateUpdate</HistoryItemType><AlarmName>myalarm</AlarmName>
<HistoryData>{"version":"1.0","oldState":{"stateValue":"ALARM"}}</HistoryData><HistorySummary>Alarm updated from ALARM to OK</HistorySummary></member>
</AlarmHistoryItems></DescribeAlarmHistoryResult></DescribeAlarmHistoryResponse>"#;
        let h: Vec<AlarmChange> = members(history, "AlarmHistoryItems").into_iter().map(change).collect();
        assert_eq!(
            h,
            vec![AlarmChange { alarm: "myalarm".into(), at: Some(1397069946.442), summary: "Alarm updated from ALARM to OK".into() }]
        );
    }
}
