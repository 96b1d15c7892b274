//! The `Logs` port over the SDK (CloudWatch Logs).

use super::client::Aws;
use super::errors::map_err;
use crate::ports::*;
use async_trait::async_trait;

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
