//! `scale`: set a service's desired count — one UpdateService carrying only `desiredCount`, so
//! no new deployment starts — and wait until it runs that many tasks, steady. A count outside
//! the Application Auto Scaling target's bounds is refused (the autoscaler would move it back)
//! unless `--force`.

use super::watch::{Cut, Limit, Next, Pause, Watched};
use super::{Engine, Event, TimeoutSetting};
use crate::error::{Error, Result};
use crate::ports::{ScalableTarget, ServiceState};
use crate::spec::Spec;
use std::time::Duration;

/// `fgdeploy scale`'s flags.
#[derive(Debug, Clone, Default)]
pub struct ScaleOptions {
    pub count: i32,
    /// Outside the scalable target's bounds anyway.
    pub force: bool,
    /// Return after UpdateService.
    pub no_wait: bool,
    /// `--timeout` (else `deploy.timeout`).
    pub timeout: Option<Duration>,
    /// The service's lease (`--no-lock`, `--lock-timeout`).
    pub lock: super::LockOptions,
}

/// What `scale` did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct ScaleReport {
    pub from: i32,
    pub to: i32,
    pub(crate) scalable_target: Option<ScalableTarget>,
    /// The service runs `to` tasks, steady (false with `--no-wait`).
    pub steady: bool,
}

impl Engine {
    /// Scale, then report how it ended in the terminal `finished` event.
    pub async fn scale_command(&mut self, spec: &Spec, o: &ScaleOptions) -> Result<ScaleReport> {
        self.service = spec.service().to_string();
        let t0 = self.ports.clock.now();
        let result = match self.take_lease(spec, "scale", &o.lock).await {
            Ok(()) => {
                let r = scale_inner(self, spec, o).await;
                self.give_back_lease(r.as_ref().map_or_else(|e| e.kind(), |_| "scaled")).await;
                r
            }
            Err(e) => Err(e),
        };
        let (outcome, exit_code, message) = match &result {
            Ok(r) if r.steady => ("scaled".to_string(), crate::error::exit::OK, format!("{} → {} tasks, steady", r.from, r.to)),
            Ok(r) => ("started".to_string(), crate::error::exit::OK, format!("desired count {} → {} (not waited for)", r.from, r.to)),
            Err(e) => (e.kind().to_string(), e.exit_code(), e.to_string()),
        };
        self.emit(Event::Finished {
            outcome,
            exit_code,
            message,
            task_definition: None,
            stages: Vec::new(),
            api_calls: self.ports.calls.snapshot(),
            api_calls_total: self.ports.calls.total(),
            secs: self.ports.clock.now() - t0,
        });
        result
    }
}

async fn scale_inner(e: &Engine, spec: &Spec, o: &ScaleOptions) -> Result<ScaleReport> {
    let (c, s) = (spec.cluster(), spec.service());
    let svc = e.retry("ecs:DescribeServices", || e.ports.ecs.describe_service(c, s)).await?.ok_or_else(|| super::no_such_service(c, s))?;
    let target = super::observe::scalable_target(spec, &e.ports, &|m| e.warn(m)).await?;
    if let Some(t) = target
        && t.clamp(o.count) != o.count
    {
        let why =
            format!("{} is outside the scalable target's bounds {}–{}: Application Auto Scaling would move it back", o.count, t.min, t.max);
        if !o.force {
            return Err(Error::usage(why, "choose a count within the bounds, change the target's min/max capacity, or pass --force"));
        }
        e.warn(format!("{why} (--force)"));
    }
    let from = svc.desired_count;
    e.retry("ecs:UpdateService", || e.ports.ecs.set_desired_count(c, s, o.count)).await?;
    e.info(format!("desired count {from} → {}", o.count));
    let report = ScaleReport { from, to: o.count, scalable_target: target, steady: false };
    if o.no_wait {
        return Ok(report);
    }
    let super::Deadline { duration, setting } = super::Deadline::deploy(o.timeout, spec);
    let deadline = e.ports.clock.now() + duration.as_secs_f64();
    let mut w = ScaleWait { e, spec, count: o.count, deadline, setting, last: None };
    e.drive(&mut w, Duration::ZERO).await?;
    Ok(ScaleReport { steady: true, ..report })
}

/// The wait for a service to run `count` tasks: DescribeServices until one deployment runs them
/// all with none pending.
struct ScaleWait<'a> {
    e: &'a Engine,
    spec: &'a Spec,
    count: i32,
    deadline: f64,
    setting: TimeoutSetting,
    /// Running and pending at the last look.
    last: Option<(i32, i32)>,
}

/// One deployment, running exactly `count` tasks, none pending.
fn steady_at(svc: &ServiceState, count: i32) -> bool {
    svc.deployments.len() == 1 && svc.running_count == count && svc.pending_count == 0 && svc.desired_count == count
}

impl Watched for ScaleWait<'_> {
    type Out = ();

    fn limit(&self) -> Limit {
        Limit { at: self.deadline, setting: self.setting.name(), what: "the service to scale", interruptible: true }
    }

    async fn look(&mut self, _now: f64) -> Result<Next<()>> {
        let (c, s) = (self.spec.cluster(), self.spec.service());
        let svc = self.e.ports.ecs.describe_service(c, s).await?.ok_or_else(|| Error::Internal("the service disappeared".into()))?;
        if steady_at(&svc, self.count) {
            self.e.info(format!("{} tasks running, steady", self.count));
            return Ok(Next::Done(()));
        }
        let now = (svc.running_count, svc.pending_count);
        let changed = self.last != Some(now);
        if changed {
            self.e.info(format!("{} running, {} pending of {}", now.0, now.1, self.count));
            self.last = Some(now);
        }
        Ok(Next::Again(Pause::adaptive(changed)))
    }

    async fn cut(&mut self, why: Cut) -> Result<Next<()>> {
        let (running, _) = self.last.unwrap_or_default();
        let path = self.spec.path.display();
        Err(match why {
            Cut::Interrupt => Error::Detached(format!("interrupted; the service goes on scaling to {} tasks without fgdeploy", self.count)),
            Cut::Deadline => Error::ManualAction {
                reason: format!("the service did not run {} tasks within {}", self.count, self.setting),
                state: format!("its desired count is {}; {running} running at the last look", self.count),
                next: format!("`fgdeploy status -f {path}` (capacity, failing tasks, service events)"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_means_one_deployment_running_exactly_the_count() {
        let svc = |deployments: usize, running, pending, desired| ServiceState {
            deployments: vec![Default::default(); deployments],
            running_count: running,
            pending_count: pending,
            desired_count: desired,
            ..Default::default()
        };
        assert!(steady_at(&svc(1, 6, 0, 6), 6));
        assert!(!steady_at(&svc(2, 6, 0, 6), 6), "a deployment in flight");
        assert!(!steady_at(&svc(1, 5, 1, 6), 6), "one pending");
        assert!(!steady_at(&svc(1, 7, 0, 6), 6), "one too many");
        assert!(!steady_at(&svc(1, 6, 0, 7), 6), "someone changed the count since");
        assert!(steady_at(&svc(1, 0, 0, 0), 0), "scaled to zero");
    }
}
