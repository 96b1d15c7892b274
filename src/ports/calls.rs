//! Every AWS call attempt counted, by operation (the SDK makes one attempt per call; each of
//! fgdeploy's retries is an attempt).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Counts every AWS call by operation (`ecs:DescribeServices`), shared by the adapters.
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<Mutex<BTreeMap<String, u64>>>);

impl CallCounter {
    pub(crate) fn record(&self, op: &str) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(op.to_string()).or_default() += 1;
        }
    }
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
    pub fn count(&self, op: &str) -> u64 {
        self.snapshot().get(op).copied().unwrap_or(0)
    }
    /// Count calls made through other ports (the template lookups' before the load).
    pub(crate) fn add_all(&self, calls: &BTreeMap<String, u64>) {
        if let Ok(mut m) = self.0.lock() {
            for (op, n) in calls {
                *m.entry(op.clone()).or_default() += n;
            }
        }
    }
    /// Whether both count into the same table (clones of one counter).
    pub(crate) fn same(&self, other: &CallCounter) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
