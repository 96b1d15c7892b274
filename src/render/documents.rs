//! The JSON documents fgdeploy prints (besides the event stream): one type, tagged by `event`,
//! serialized in one place with its `schema_version` (see `docs/schema/`).

use crate::engine::{FleetReport, HistoryReport, InitReport, PromoteReport, RollbackPlan, StatusReport, VerifyReport};
use crate::plan::Plan;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum Document<'a> {
    Plan {
        plan: &'a Plan,
        exit_code: i32,
        api_calls: BTreeMap<String, u64>,
        api_calls_total: u64,
    },
    Status {
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<&'a StatusReport>,
        #[serde(skip_serializing_if = "Option::is_none")]
        statuses: Option<&'a [StatusReport]>,
        /// `status --why`: the latest deployment's failure report.
        #[serde(skip_serializing_if = "Option::is_none")]
        report: Option<&'a crate::engine::report::FailureReport>,
        api_calls_total: u64,
    },
    Verified {
        verify: &'a VerifyReport,
        problems: usize,
        api_calls_total: u64,
    },
    History {
        history: &'a HistoryReport,
        api_calls_total: u64,
    },
    Rollback {
        dry_run: bool,
        plan: &'a RollbackPlan,
        api_calls: BTreeMap<String, u64>,
        api_calls_total: u64,
    },
    Valid {
        deployspec: &'a Path,
        template: &'a Path,
        family: &'a str,
        containers: usize,
    },
    Init {
        init: &'a InitReport,
    },
    /// `fgdeploy cleanup`: the watch's rules and queues it deleted.
    Cleanup {
        deleted: &'a [String],
        api_calls_total: u64,
    },
    /// `fgdeploy lock status|break`: the service's lease.
    Lock {
        lock: &'a crate::engine::LockStatus,
        /// `lock break`: whether this run broke it.
        broken: bool,
    },
    Promoted {
        promote: &'a PromoteReport,
        api_calls: BTreeMap<String, u64>,
    },
    Error {
        outcome: &'a str,
        exit_code: i32,
        message: String,
        /// Bad input: every problem, with its file, field, line and column.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        problems: Vec<crate::error::Problem>,
    },
    FleetFinished {
        fleet: &'a FleetReport,
    },
    FleetPlanned {
        plans: &'a [serde_json::Value],
        fleet: &'a FleetReport,
    },
}

impl Document<'_> {
    /// The document as JSON, with its `schema_version`.
    pub(crate) fn to_value(&self) -> serde_json::Value {
        super::with_schema_version(serde_json::to_value(self).unwrap_or_default())
    }

    /// One line of `--output json`.
    pub(crate) fn line(&self) -> String {
        self.to_value().to_string()
    }
}
