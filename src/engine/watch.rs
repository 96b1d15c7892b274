//! The one place fgdeploy waits on AWS.
//!
//! Every wait — the rolling deployment, CodeDeploy and its rollback deployment, ECS-native
//! blue/green, a one-off task, the rollback wait, the HTTP checks and the post-deploy
//! verification — is a [`Watched`]: it says how to look once and what that look decided, and
//! what to do when the deadline passes or an interrupt arrives. [`Engine::drive`] owns the rest:
//! the deadline (the last look happens at it, never a poll interval past it), the interrupt, the
//! pause between looks (the strategy's schedule, else an adaptive back-off), the back-off after
//! throttling and 5xx answers, and the heartbeat. The short waits of retries and read-backs go
//! through [`Engine::pause`] and [`retrying_with`]. [`rest`] is the only function in `src/` that
//! sleeps on the clock while waiting on AWS (the adapter's rate budget waits for fgdeploy's own
//! token bucket, not for AWS).

use super::Engine;
use crate::error::{Error, Result};
use crate::ports::{Clock, PortError, PortResult};
use std::time::Duration;

/// A wait shows it is alive at least this often, even when nothing changes (no AWS call for it).
pub(super) const HEARTBEAT_EVERY_SECS: f64 = 15.0;

/// When a wait ends by itself, and what its heartbeat calls it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limit {
    /// The deadline (clock seconds).
    pub at: f64,
    /// The setting the deadline comes from, as the user writes it (`--timeout`, …).
    pub setting: &'static str,
    /// What is waited for ("the deployment").
    pub what: &'static str,
    /// An interrupt wakes the wait and goes to [`Watched::cut`]. A wait that must not be cut
    /// short (a rollback) is not interruptible; nor is one that already reacted to a cut.
    pub interruptible: bool,
}

/// How long to wait before the next look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Pause {
    /// `None`: the driver's adaptive back-off (fast after a change, slower while idle).
    pub after: Option<Duration>,
    /// The look saw something new (the heartbeat restarts).
    pub changed: bool,
}

impl Pause {
    pub(super) fn after(d: Duration, changed: bool) -> Pause {
        Pause { after: Some(d), changed }
    }
    pub(super) fn adaptive(changed: bool) -> Pause {
        Pause { after: None, changed }
    }
}

/// What one look decided.
#[derive(Debug, PartialEq)]
pub(super) enum Next<T> {
    Again(Pause),
    Done(T),
}

/// Why the driver stopped looking on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cut {
    /// The deadline passed (after the look at it).
    Deadline,
    /// Ctrl-C / SIGTERM while the wait was interruptible.
    Interrupt,
}

/// One kind of wait: reads the state once and decides; the driver does the waiting.
pub(super) trait Watched {
    type Out;
    /// The deadline and how the wait is named; it may move after a cut (a rollback's own budget).
    fn limit(&self) -> Limit;
    /// Read the state once and decide. A retryable AWS error is the driver's: it backs off and
    /// looks again until the deadline.
    async fn look(&mut self, now: f64) -> Result<Next<Self::Out>>;
    /// The deadline passed or an interrupt came. `Again` goes on watching: the strategy must then
    /// have moved its deadline (after a deadline) or stopped being interruptible (after an
    /// interrupt).
    async fn cut(&mut self, why: Cut) -> Result<Next<Self::Out>>;
}

/// The driver's memory between looks.
struct Pacing {
    interval: Duration,
    errors_in_row: u32,
    /// When the wait last showed something (a heartbeat follows [`HEARTBEAT_EVERY_SECS`] later).
    said_at: f64,
}

impl Engine {
    /// Watch `w` until it is done: a first pause of `first` (a forecast: the answer that started
    /// the wait was the first look), then look, decide, pause, until `Done`, a cut that ends it,
    /// or an error that is not retryable.
    pub(super) async fn drive<W: Watched>(&self, w: &mut W, first: Duration) -> Result<W::Out> {
        let mut p = Pacing { interval: self.poll.min, errors_in_row: 0, said_at: self.ports.clock.now() };
        self.wait_until_next(first, &w.limit(), &mut p).await;
        loop {
            let limit = w.limit();
            if limit.interruptible && self.interrupt.is_set() {
                match w.cut(Cut::Interrupt).await? {
                    Next::Done(out) => return Ok(out),
                    Next::Again(pause) => {
                        if w.limit().interruptible {
                            return Err(Error::Internal("a wait went on after an interrupt and is still interruptible".into()));
                        }
                        self.wait_until_next(pause.after.unwrap_or(Duration::ZERO), &w.limit(), &mut p).await;
                        continue;
                    }
                }
            }
            let now = self.ports.clock.now();
            let mut pause = match w.look(now).await {
                Ok(Next::Done(out)) => return Ok(out),
                Ok(Next::Again(pause)) => {
                    p.errors_in_row = 0;
                    self.heartbeat(&limit, pause.changed, now, &mut p);
                    pause
                }
                Err(Error::Aws(e)) if e.is_retryable() => self.backing_off(&e, &mut p),
                Err(e) => return Err(e),
            };
            if now >= w.limit().at {
                let before = w.limit().at;
                match w.cut(Cut::Deadline).await? {
                    Next::Done(out) => return Ok(out),
                    Next::Again(after_cut) if w.limit().at > before => pause = after_cut,
                    Next::Again(_) => return Err(Error::Internal("a wait went on past its deadline without a new one".into())),
                }
            }
            p.interval = match pause.after {
                Some(d) => d,
                None if pause.changed => self.poll.min,
                None => p.interval.mul_f64(self.poll.factor).min(self.poll.max),
            };
            self.wait_until_next(p.interval, &w.limit(), &mut p).await;
        }
    }

    /// A retryable error: said at the first and every fifth in a row; the next look backs off.
    fn backing_off(&self, e: &PortError, p: &mut Pacing) -> Pause {
        p.errors_in_row += 1;
        if p.errors_in_row == 1 || p.errors_in_row.is_multiple_of(5) {
            self.warn(format!("{e}; retrying ({} in a row)", p.errors_in_row));
        }
        Pause::after(backoff(p.interval, self.poll.max), false)
    }

    /// Say that a wait goes on when it has shown nothing for [`HEARTBEAT_EVERY_SECS`].
    fn heartbeat(&self, limit: &Limit, changed: bool, now: f64, p: &mut Pacing) {
        if changed {
            p.said_at = now;
        } else if now - p.said_at >= HEARTBEAT_EVERY_SECS {
            p.said_at = now;
            self.info(format!("still waiting for {}; {:.0} s left of {}", limit.what, (limit.at - now).max(0.0), limit.setting));
        }
    }

    /// Wait `d` but never past the deadline, with a heartbeat whenever nothing was shown for
    /// [`HEARTBEAT_EVERY_SECS`]; an interrupt wakes an interruptible wait.
    async fn wait_until_next(&self, d: Duration, limit: &Limit, p: &mut Pacing) {
        let until = (self.ports.clock.now() + d.as_secs_f64()).min(limit.at);
        let interrupt = limit.interruptible.then_some(&self.interrupt);
        loop {
            let now = self.ports.clock.now();
            if now >= until || interrupt.is_some_and(|i| i.is_set()) {
                return;
            }
            let next_beat = p.said_at.max(now - HEARTBEAT_EVERY_SECS) + HEARTBEAT_EVERY_SECS;
            rest(self.ports.clock.as_ref(), Duration::from_secs_f64((until.min(next_beat) - now).max(0.001)), interrupt).await;
            let now = self.ports.clock.now();
            if now < until {
                self.heartbeat(limit, false, now, p);
            }
        }
    }

    /// A retry's or a read-back's fixed wait (not cut short by an interrupt: the call it waits to
    /// repeat decides what happened).
    pub(super) async fn pause(&self, d: Duration) {
        rest(self.ports.clock.as_ref(), d, None).await
    }
}

/// The next wait after a throttled or failed look: doubled (from at least 4 s), at most `max`.
fn backoff(interval: Duration, max: Duration) -> Duration {
    (interval.max(Duration::from_secs(4)) * 2).min(max)
}

/// Sleep on the clock (virtual in the sandbox and the simulator tests), waking early when
/// `interrupt` is given and set. The one sleep in `src/` while waiting on AWS.
pub(super) async fn rest(clock: &dyn Clock, d: Duration, interrupt: Option<&super::Interrupt>) {
    match interrupt {
        Some(i) => {
            tokio::select! {
                _ = clock.sleep(d) => {}
                _ = i.wait() => {}
            }
        }
        None => clock.sleep(d).await,
    }
}

/// How long an unreachable endpoint is retried before the call fails (DNS, refused, timeouts).
pub(super) const UNREACHABLE_BUDGET_SECS: f64 = 20.0;

/// Retry a call on throttling / transient errors with exponential back-off and jitter (1 s …
/// 20 s, 8 tries; an unreachable endpoint for at most [`UNREACHABLE_BUDGET_SECS`]), telling
/// `warn` once, at the first retry, what failed and that it retries. This is the only retry
/// layer for single calls: the SDK clients make one attempt each.
pub(super) async fn retrying_with<T, F, Fut>(clock: &dyn Clock, mut f: F, warn: &(dyn Fn(String) + Send + Sync)) -> PortResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = PortResult<T>>,
{
    let mut delay = Duration::from_secs(1);
    let started = clock.now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match f().await {
            Err(e) if e.is_retryable() && attempt < 8 => {
                let unreachable = matches!(e, PortError::Unreachable { .. });
                if unreachable && clock.now() - started + delay.as_secs_f64() > UNREACHABLE_BUDGET_SECS {
                    return Err(e);
                }
                if attempt == 1 {
                    warn(format!("{e}; retrying{}", if unreachable { " for up to 20 s" } else { "" }));
                }
                rest(clock, jitter(delay, clock.now()), None).await;
                delay = (delay * 2).min(Duration::from_secs(20));
            }
            r => return r,
        }
    }
}

/// 50–100 % of `d` ("equal jitter"): many clients that failed together do not retry together.
/// Drawn from the clock's sub-second digits: random on a real clock, reproducible on a virtual one.
fn jitter(d: Duration, now: f64) -> Duration {
    let draw = ((now * 1_000_003.0) as u64 % 1000) as f64 / 1000.0;
    d.mul_f64(0.5 + draw / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_four_seconds_up_to_the_max() {
        let max = Duration::from_secs(15);
        assert_eq!(backoff(Duration::from_secs(2), max), Duration::from_secs(8));
        assert_eq!(backoff(Duration::from_secs(5), max), Duration::from_secs(10));
        assert_eq!(backoff(Duration::from_secs(10), max), max);
    }

    #[test]
    fn jitter_stays_within_half_and_whole() {
        let d = Duration::from_secs(10);
        for i in 0..200 {
            let j = jitter(d, 1_700_000_000.0 + f64::from(i) * 0.137);
            assert!(j >= d / 2 && j <= d, "{j:?}");
        }
        assert_ne!(jitter(d, 1.0001), jitter(d, 1.0007), "the draw depends on the clock");
    }
}
