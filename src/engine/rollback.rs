//! Rolling back: ECS's own rollback followed to its end, StopServiceDeployment(ROLLBACK), or an
//! UpdateService to the previous revision; and the `rollback` command.

use super::Engine;
use super::options::{RollbackOptions, RollbackPlan};
use crate::error::{Error, Result};
use crate::spec::Spec;

impl Engine {
    /// `fgdeploy rollback`: the service's deployer stops an in-flight deployment with rollback,
    /// or redeploys the revision that served before the current one (or `--to`).
    pub async fn rollback_command(&mut self, spec: &Spec, o: &RollbackOptions) -> Result<RollbackPlan> {
        if let Some(t) = o.to.as_deref() {
            check_to_syntax(t)?;
        }
        self.service = spec.service().to_string();
        let svc = self
            .retry("ecs:DescribeServices", || self.ports.ecs.describe_service(spec.cluster(), spec.service()))
            .await?
            .ok_or_else(|| super::no_such_service(spec.cluster(), spec.service()))?;
        // `--timeout`, else `rollback.timeout`, for every controller.
        let deadline = super::Deadline::rollback(o.timeout, spec);
        if o.dry_run {
            return super::deploy::rollback(self, spec, &svc, o, deadline).await;
        }
        self.take_lease(spec, "rollback", &o.lock).await?;
        let result = super::deploy::rollback(self, spec, &svc, o, deadline).await;
        self.give_back_lease(result.as_ref().map_or_else(|e| e.kind(), |_| "rolled_back")).await;
        result
    }
}

/// `--to` is a revision number, `family:revision` or a task-definition ARN.
fn check_to_syntax(to: &str) -> Result<()> {
    let digits = |s: &str| !s.is_empty() && s.len() <= 10 && s.chars().all(|c| c.is_ascii_digit()) && s.parse::<u32>().is_ok_and(|n| n > 0);
    let family_rev = |s: &str| s.rsplit_once(':').is_some_and(|(f, r)| crate::taskdef::rules::valid_name(f) && digits(r));
    let ok = digits(to)
        || family_rev(to)
        || to.split_once(":task-definition/").is_some_and(|(head, tail)| {
            let p: Vec<&str> = head.split(':').collect();
            p.len() == 5 && p[0] == "arn" && p[1].starts_with("aws") && p[2] == "ecs" && family_rev(tail)
        });
    if ok {
        Ok(())
    } else {
        Err(Error::usage(
            format!("--to {to:?} is not a revision"),
            "write a revision number (41), family:revision (web:41) or a task-definition ARN",
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn to_must_be_a_revision() {
        for ok in [
            "41",
            "web:41",
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:41",
            "arn:aws-cn:ecs:cn-north-1:1:task-definition/a_b-c:2",
        ] {
            assert!(super::check_to_syntax(ok).is_ok(), "{ok}");
        }
        for bad in ["", "0", "-1", "web", "web:", "web:x", "latest", "web:41; rm -rf /", "arn:aws:s3:::bucket/web:1", "99999999999"] {
            assert!(super::check_to_syntax(bad).is_err(), "{bad}");
        }
    }
}
