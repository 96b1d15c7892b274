//! The `Logs` port (CloudWatch Logs).

use super::error::PortResult;
use async_trait::async_trait;

/// One page of CloudWatch Logs events, oldest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogPage {
    pub lines: Vec<String>,
    pub next_token: Option<String>,
}

/// CloudWatch Logs, for the migration's output.
#[async_trait]
pub trait Logs: Send + Sync {
    /// GetLogEvents with startFromHead; `NotFound` while the stream does not exist yet.
    async fn log_events(&self, group: &str, stream: &str, token: Option<&str>) -> PortResult<LogPage>;
}
