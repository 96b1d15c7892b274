//! CloudWatch over the Query protocol (`query`): DescribeAlarms and DescribeAlarmHistory for the
//! failure report, GetMetricData for the canary judge. `aws-sdk-cloudwatch` is not used for
//! three reads, for the same reason as EC2 (see `query`'s module comment): build time.
//! CloudWatch still takes the Query protocol beside its newer JSON and CBOR ones (botocore's
//! model lists `"protocols": ["smithy-rpc-v2-cbor", "json", "query"]`).

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

/// Epoch seconds as the Query protocol's timestamps (`2026-12-05T11:18:00Z`).
fn iso(t: Timestamp) -> String {
    aws_smithy_types::DateTime::from_secs(t.floor() as i64).fmt(aws_smithy_types::date_time::Format::DateTime).unwrap_or_default()
}

/// The form parameters of `MetricDataQueries`, one-minute periods.
pub(super) fn metric_params(queries: &[MetricQuery]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let at = format!("MetricDataQueries.member.{}", i + 1);
        out.push((format!("{at}.Id"), q.id.clone()));
        match &q.source {
            MetricSource::Stat { namespace, metric, dimensions, stat } => {
                out.push((format!("{at}.MetricStat.Metric.Namespace"), namespace.clone()));
                out.push((format!("{at}.MetricStat.Metric.MetricName"), metric.clone()));
                for (k, (name, value)) in dimensions.iter().enumerate() {
                    let d = format!("{at}.MetricStat.Metric.Dimensions.member.{}", k + 1);
                    out.push((format!("{d}.Name"), name.clone()));
                    out.push((format!("{d}.Value"), value.clone()));
                }
                out.push((format!("{at}.MetricStat.Period"), METRIC_PERIOD_SECS.to_string()));
                out.push((format!("{at}.MetricStat.Stat"), stat.clone()));
            }
            MetricSource::Expression(e) => {
                out.push((format!("{at}.Expression"), e.clone()));
                out.push((format!("{at}.Period"), METRIC_PERIOD_SECS.to_string()));
            }
        }
        out.push((format!("{at}.ReturnData"), "true".into()));
    }
    out
}

/// One `MetricDataResults` member; values whose timestamp or number cannot be read are dropped.
pub(super) fn series(member: &str) -> MetricSeries {
    let times = members(member, "Timestamps").into_iter().map(|t| epoch(Some(t.trim().to_string())));
    let values = members(member, "Values").into_iter().map(|v| v.trim().parse::<f64>().ok());
    let mut points: Vec<(Timestamp, f64)> = times.zip(values).filter_map(|(t, v)| Some((t?, v?))).filter(|(_, v)| v.is_finite()).collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    MetricSeries { id: tag(member, "Id").unwrap_or_default(), points, complete: tag(member, "StatusCode").is_none_or(|c| c == "Complete") }
}

#[async_trait]
impl CloudWatch for Aws {
    async fn metric_data(&self, queries: &[MetricQuery], start: Timestamp, end: Timestamp) -> PortResult<Vec<MetricSeries>> {
        let op = "cloudwatch:GetMetricData";
        let mut params = metric_params(queries);
        params.extend([("StartTime".into(), iso(start)), ("EndTime".into(), iso(end)), ("ScanBy".into(), "TimestampAscending".into())]);
        let mut out: Vec<MetricSeries> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            self.gate(op).await;
            let mut page = params.clone();
            page.extend(token.take().map(|t| ("NextToken".to_string(), t)));
            let borrowed: Vec<(&str, &str)> = page.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let xml = self.query.call(op, &self.query.monitoring, "GetMetricData", &borrowed).await?.map_err(|r| query::refused(op, r))?;
            for s in members(&xml, "MetricDataResults").into_iter().map(series) {
                match out.iter_mut().find(|o| o.id == s.id) {
                    Some(o) => {
                        o.points.extend(s.points);
                        o.complete &= s.complete;
                    }
                    None => out.push(s),
                }
            }
            // The result's own NextToken (not a member's).
            token = xml.rsplit_once("<NextToken>").and_then(|(_, t)| t.split_once("</NextToken>")).map(|(t, _)| t.to_string());
            if token.as_deref().is_none_or(str::is_empty) {
                return Ok(out);
            }
        }
    }

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
