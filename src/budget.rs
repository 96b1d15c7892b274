//! Rate budgets: token buckets per API family, on any clock.
//!
//! AWS throttles per account and Region with token buckets (a burst capacity refilled at a
//! sustained rate). [`ACCOUNT_LIMITS`] models those buckets: the simulator enforces them as the
//! account's limits, and fgdeploy's client side takes its tokens from a [`RateBudget`] sized at
//! [`CLIENT_SHARE`] of them, so that any number of parallel releases in one process wait their
//! turn instead of meeting ThrottlingException. The SDK clients make one attempt each; a call that
//! is throttled all the same is retried by fgdeploy's own back-off (`engine::backoff`), counted.
//!
//! Figures: ECS's cluster-read bucket (50 burst, 20/s) is AWS's published example. The others
//! are assumptions of the same order, not published numbers (verify against the ECS "request
//! throttling" table and the account's Service Quotas page): they are data, in one table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// (family, burst capacity, refill per second) for an operation like `ecs:DescribeServices`.
pub(crate) fn family(op: &str) -> (&'static str, f64, f64) {
    let (service, action) = op.split_once(':').unwrap_or(("", op));
    let read = ["Describe", "List", "Get", "BatchGet", "BatchCheck"].iter().any(|p| action.starts_with(p));
    for (svc, pred, fam, burst, rate) in ACCOUNT_LIMITS {
        if *svc == service && pred.matches(action, read) {
            return (fam, *burst, *rate);
        }
    }
    ("other", 10.0, 5.0)
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Pred {
    /// Any read action of the service.
    Read,
    /// Any other action of the service.
    Write,
    /// Actions whose name contains this.
    Contains(&'static str),
    /// These actions.
    Named(&'static [&'static str]),
}

impl Pred {
    fn matches(self, action: &str, read: bool) -> bool {
        match self {
            Pred::Read => read,
            Pred::Write => !read,
            Pred::Contains(s) => action.contains(s),
            Pred::Named(names) => names.contains(&action),
        }
    }
}

/// The modelled account limits, first match wins: (service, which actions, family, burst, rate/s).
pub(crate) const ACCOUNT_LIMITS: &[(&str, Pred, &str, f64, f64)] = &[
    ("ecs", Pred::Contains("Cluster"), "ecs-cluster-read", 50.0, 20.0),
    ("ecs", Pred::Named(&["RegisterTaskDefinition", "DeregisterTaskDefinition"]), "ecs-task-definition-change", 20.0, 5.0),
    ("ecs", Pred::Named(&["RunTask", "StopTask"]), "ecs-task-change", 100.0, 20.0),
    ("ecs", Pred::Read, "ecs-read", 100.0, 20.0),
    ("ecs", Pred::Write, "ecs-service-change", 50.0, 5.0),
    // ECR's quotas are per-second rates, high for reads (BatchGetImage: 2,000 per second).
    ("ecr", Pred::Read, "ecr-read", 200.0, 100.0),
    ("ecr", Pred::Write, "ecr-write", 10.0, 5.0),
    ("codedeploy", Pred::Read, "codedeploy-read", 20.0, 10.0),
    ("codedeploy", Pred::Write, "codedeploy-write", 10.0, 2.0),
    ("elasticloadbalancing", Pred::Read, "elb-read", 20.0, 10.0),
    ("logs", Pred::Read, "logs-read", 10.0, 5.0),
    // The watch's queue (#28): SQS standard queues take "a nearly unlimited number of API calls
    // per second, per API action" (SQS Developer Guide, quotas); the queue's own life and the
    // rule's (EventBridge control plane) are assumptions of the same order as ECS's writes.
    ("sqs", Pred::Named(&["ReceiveMessage"]), "sqs-message", 3000.0, 3000.0),
    ("sqs", Pred::Read, "sqs-read", 50.0, 20.0),
    ("sqs", Pred::Write, "sqs-queue-change", 50.0, 10.0),
    ("events", Pred::Read, "events-read", 50.0, 20.0),
    ("events", Pred::Write, "events-rule-change", 50.0, 10.0),
    // The canary judge (#29): one GetMetricData a judged minute. CloudWatch's quota "Rate of
    // GetMetricData requests" (Service Quotas L-5E141212) is per second and adjustable; 50/s
    // is an assumption of its order, as DescribeAlarms' 9/s is for the other reads.
    ("cloudwatch", Pred::Named(&["GetMetricData"]), "cloudwatch-metric-data", 50.0, 50.0),
    ("cloudwatch", Pred::Read, "cloudwatch-read", 9.0, 9.0),
];

/// The part of the account's limits one fgdeploy process allows itself (the rest is headroom
/// for other tools and people in the account).
pub(crate) const CLIENT_SHARE: f64 = 0.8;

/// Token buckets per family, scaled to `share` of [`ACCOUNT_LIMITS`]. Time is seconds on any
/// clock (wall or virtual); cheap to clone, shared by clones.
#[derive(Clone)]
pub struct RateBudget {
    share: f64,
    buckets: Arc<Mutex<HashMap<&'static str, (f64, f64)>>>,
}

impl Default for RateBudget {
    /// The client side: [`CLIENT_SHARE`] of the account.
    fn default() -> Self {
        RateBudget::with_share(CLIENT_SHARE)
    }
}

impl RateBudget {
    pub(crate) fn with_share(share: f64) -> Self {
        RateBudget { share, buckets: Arc::default() }
    }

    /// Take a token of `op`'s family at `now`; otherwise how many seconds until there is one.
    pub(crate) fn try_take(&self, op: &str, now: f64) -> Option<f64> {
        let (fam, burst, rate) = family(op);
        let (burst, rate) = ((burst * self.share).max(1.0), rate * self.share);
        let mut m = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = m.entry(fam).or_insert((burst, now));
        *tokens = (*tokens + (now - *last).max(0.0) * rate).min(burst);
        *last = now.max(*last);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            None
        } else {
            Some((1.0 - *tokens) / rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        assert_eq!(family("ecs:DescribeServices").0, "ecs-read");
        assert_eq!(family("ecs:DescribeServiceDeployments").0, "ecs-read");
        assert_eq!(family("ecs:DescribeTaskDefinition").0, "ecs-read");
        assert_eq!(family("ecs:DescribeTasks").0, "ecs-read");
        assert_eq!(family("ecs:UpdateService").0, "ecs-service-change");
        assert_eq!(family("ecs:RegisterTaskDefinition").0, "ecs-task-definition-change");
        assert_eq!(family("ecs:RunTask").0, "ecs-task-change");
        assert_eq!(family("codedeploy:GetDeployment").0, "codedeploy-read");
        assert_eq!(family("sts:GetCallerIdentity").0, "other");
    }

    #[test]
    fn burst_then_sustained_rate() {
        let b = RateBudget::with_share(1.0);
        let granted = (0..200).filter(|_| b.try_take("ecs:UpdateService", 0.0).is_none()).count();
        assert_eq!(granted, 50);
        let wait = b.try_take("ecs:UpdateService", 0.0).unwrap_or_default();
        assert!((wait - 0.2).abs() < 1e-9, "{wait}");
        assert!(b.try_take("ecs:UpdateService", 0.2).is_none());
        // Other families have buckets of their own.
        assert!(b.try_take("ecs:DescribeServices", 0.2).is_none());
    }

    #[test]
    fn the_client_takes_a_share() {
        let b = RateBudget::default();
        let granted = (0..200).filter(|_| b.try_take("ecs:UpdateService", 0.0).is_none()).count();
        assert_eq!(granted, 40);
    }

    #[test]
    fn refill_is_elapsed_time_at_the_shared_rate() {
        // ecs-service-change at half the account: burst 25, 2.5 tokens per second.
        let b = RateBudget::with_share(0.5);
        let granted = (0..100).filter(|_| b.try_take("ecs:UpdateService", 10.0).is_none()).count();
        assert_eq!(granted, 25);
        // 0.2 s later half a token has come back: the wait is the missing half at 2.5/s.
        let wait = b.try_take("ecs:UpdateService", 10.2).expect("no whole token yet");
        assert!((wait - 0.2).abs() < 1e-9, "{wait}");
        assert!(b.try_take("ecs:UpdateService", 10.4).is_none());
        // A clock read out of order refills nothing.
        assert!(b.try_take("ecs:UpdateService", 5.0).is_some());
    }
}
