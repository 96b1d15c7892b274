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
use super::backoff::Backoff;
use super::feed::Feeds;
use crate::error::{Error, Result};
use crate::ports::{Clock, PortError, PortResult};
use std::time::Duration;

/// A wait shows it is alive at least this often, even when nothing changes (no AWS call for it).
pub(super) const HEARTBEAT_EVERY_SECS: f64 = 15.0;

/// When a wait ends by itself, and what its heartbeat calls it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limit {
    /// The deadline (clock seconds).
    pub(crate) at: f64,
    /// The setting the deadline comes from, as the user writes it (`--timeout`, …).
    pub(crate) setting: &'static str,
    /// What is waited for ("the deployment").
    pub(crate) what: &'static str,
    /// An interrupt wakes the wait and goes to [`Watched::cut`]. A wait that must not be cut
    /// short (a rollback) is not interruptible; nor is one that already reacted to a cut.
    pub(crate) interruptible: bool,
}

/// How long to wait before the next look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Pause {
    /// `None`: the driver's adaptive back-off (fast after a change, slower while idle).
    pub(crate) after: Option<Duration>,
    /// The look saw something new (the heartbeat restarts).
    pub(crate) changed: bool,
    /// When a wait heard by events must still look: the next forecast moment no event
    /// announces (a CodeDeploy traffic shift). `None`: events and the safety poll decide.
    pub(crate) moment: Option<Duration>,
}

impl Pause {
    pub(super) fn after(d: Duration, changed: bool) -> Pause {
        Pause { after: Some(d), changed, moment: None }
    }
    pub(super) fn adaptive(changed: bool) -> Pause {
        Pause { after: None, changed, moment: None }
    }
    /// This pause, and a forecast moment `m` away that an evented wait must not miss.
    pub(super) fn with_moment(self, m: Option<Duration>) -> Pause {
        Pause { moment: m, ..self }
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
    /// A deployment's watch that events can wake (`feed`): while the run has a live event
    /// queue, the driver listens between looks and looks at least every safety interval.
    fn evented(&self) -> bool {
        false
    }
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
        let feeds = Feeds(self);
        let (d, listen) = feeds.plan_wait(w.evented(), None, None, first);
        self.wait_until_next(d, &w.limit(), &mut p, listen).await;
        loop {
            let limit = w.limit();
            if limit.interruptible && self.interrupt.is_set() {
                match w.cut(Cut::Interrupt).await? {
                    Next::Done(out) => return Ok(out),
                    Next::Again(pause) => {
                        if w.limit().interruptible {
                            return Err(Error::Internal("a wait went on after an interrupt and is still interruptible".into()));
                        }
                        self.wait_until_next(pause.after.unwrap_or(Duration::ZERO), &w.limit(), &mut p, false).await;
                        continue;
                    }
                }
            }
            let now = self.ports.clock.now();
            // The service's lease lives as long as the run looks (renewed when a third of it passed).
            self.renew_lease(false).await?;
            // After a retryable error: the back-off's step, which the next one doubles (the wait
            // itself is jittered).
            let mut step = None;
            let mut pause = match w.look(now).await {
                Ok(Next::Done(out)) => return Ok(out),
                Ok(Next::Again(pause)) => {
                    p.errors_in_row = 0;
                    self.heartbeat(&limit, pause.changed, now, &mut p);
                    pause
                }
                Err(Error::Aws(e)) if e.is_retryable() => {
                    let (pause, s) = self.backing_off(&e, &mut p);
                    step = Some(s);
                    pause
                }
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
            // A back-off after an error is the poller's; otherwise events may wake the wait.
            let (d, listen) = feeds.plan_wait(w.evented() && step.is_none(), Some(now), pause.moment, p.interval);
            self.wait_until_next(d, &w.limit(), &mut p, listen).await;
            if let Some(s) = step {
                p.interval = s;
            }
        }
    }

    /// A retryable error: said at the first and every fifth in a row; the next look backs off
    /// ([`Backoff::after_look`]): the jittered wait, and the step the next back-off doubles.
    fn backing_off(&self, e: &PortError, p: &mut Pacing) -> (Pause, Duration) {
        p.errors_in_row += 1;
        if p.errors_in_row == 1 || p.errors_in_row.is_multiple_of(5) {
            self.warn(format!("{e}; retrying ({} in a row)", p.errors_in_row));
        }
        let mut b = Backoff::after_look(p.interval, self.poll.max);
        let step = b.step();
        (Pause::after(b.next(self.ports.clock.now()), false), step)
    }

    /// Say that a wait goes on when it has shown nothing for [`HEARTBEAT_EVERY_SECS`] (not at
    /// the deadline: the cut that follows says what happens).
    fn heartbeat(&self, limit: &Limit, changed: bool, now: f64, p: &mut Pacing) {
        if changed {
            p.said_at = now;
        } else if now - p.said_at >= HEARTBEAT_EVERY_SECS && now < limit.at {
            p.said_at = now;
            self.info(format!("still waiting for {}; {:.0} s left of {}", limit.what, (limit.at - now).max(0.0), limit.setting));
        }
    }

    /// Wait `d` but never past the deadline, with a heartbeat whenever nothing was shown for
    /// [`HEARTBEAT_EVERY_SECS`]; an interrupt wakes an interruptible wait. `listen`: the wait
    /// long-polls the watch's event queue and ends at the first event (`feed`).
    async fn wait_until_next(&self, d: Duration, limit: &Limit, p: &mut Pacing, listen: bool) {
        let until = (self.ports.clock.now() + d.as_secs_f64()).min(limit.at);
        let interrupt = limit.interruptible.then_some(&self.interrupt);
        let feeds = Feeds(self);
        loop {
            let now = self.ports.clock.now();
            if now >= until || interrupt.is_some_and(|i| i.is_set()) {
                return;
            }
            let next_beat = p.said_at.max(now - HEARTBEAT_EVERY_SECS) + HEARTBEAT_EVERY_SECS;
            // A long poll ends at the heartbeat: a wait shows it is alive every 15 s, listening
            // or not (a fourth receive a minute).
            let left = until.min(next_beat) - now;
            if listen && feeds.live() && left >= 1.0 {
                // Long polls are whole seconds (at most 20); the rest of a second is slept.
                match feeds.hear(left.floor() as u32, interrupt).await {
                    super::feed::Heard::News => return,
                    super::feed::Heard::Quiet => {}
                    super::feed::Heard::Retry => rest(self.ports.clock.as_ref(), Duration::from_secs(1), interrupt).await,
                }
            } else {
                rest(self.ports.clock.as_ref(), Duration::from_secs_f64(left.max(0.001)), interrupt).await;
            }
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

    /// A short read-back (eventual consistency: an answer a moment late), the one loop for
    /// them all: up to `looks.count` looks, [`READ_BACK_EVERY`] apart (the first one now, or
    /// after a pause), until one answers `Some`; an `Err` ends it at once.
    pub(crate) async fn read_back<T, E, F, Fut>(&self, looks: Looks, mut look: F) -> std::result::Result<Option<T>, E>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<Option<T>, E>>,
    {
        for n in 0..looks.count {
            if n > 0 || !looks.first_now {
                self.pause(READ_BACK_EVERY).await;
            }
            if let Some(t) = look().await? {
                return Ok(Some(t));
            }
        }
        Ok(None)
    }
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

/// [`retrying_with`], silent.
pub(super) async fn retrying<T, F, Fut>(clock: &dyn Clock, f: F) -> PortResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = PortResult<T>>,
{
    retrying_with(clock, f, &|_| {}).await
}

/// How far apart a short read-back's looks are.
pub(super) const READ_BACK_EVERY: Duration = Duration::from_secs(2);

/// How many looks a read-back takes, and whether the first is at once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Looks {
    pub(crate) count: u32,
    pub(crate) first_now: bool,
}

impl Looks {
    /// `count` looks, the first at once (the answer may already be there).
    pub(crate) fn now_then(count: u32) -> Looks {
        Looks { count, first_now: true }
    }
    /// `count` looks, the first after a pause (what was just read said no).
    pub(crate) fn after_pause(count: u32) -> Looks {
        Looks { count, first_now: false }
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
    let mut backoff = Backoff::calls();
    let started = clock.now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match f().await {
            Err(e) if e.is_retryable() && attempt < 8 => {
                let unreachable = matches!(e, PortError::Unreachable { .. });
                if unreachable && clock.now() - started + backoff.step().as_secs_f64() > UNREACHABLE_BUDGET_SECS {
                    return Err(e);
                }
                if attempt == 1 {
                    warn(format!("{e}; retrying{}", if unreachable { " for up to 20 s" } else { "" }));
                }
                rest(clock, backoff.next(clock.now()), None).await;
            }
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Event, Interrupt, Recorder};
    use crate::sim::{EPOCH, Sim, World};
    use std::sync::Arc;

    /// A wait that answers from a script and writes down when it was looked at and cut.
    struct Script {
        answers: Vec<Result<Next<&'static str>>>,
        limit: Limit,
        looks: Vec<f64>,
        cuts: Vec<(Cut, f64)>,
        /// What a cut answers: `None` ends the wait with "cut".
        on_cut: Option<Limit>,
        now: Box<dyn Fn() -> f64>,
    }

    impl Watched for Script {
        type Out = &'static str;
        fn limit(&self) -> Limit {
            self.limit
        }
        async fn look(&mut self, now: f64) -> Result<Next<&'static str>> {
            self.looks.push(now - EPOCH);
            if self.answers.is_empty() { Ok(Next::Again(Pause::after(Duration::from_secs(7), false))) } else { self.answers.remove(0) }
        }
        async fn cut(&mut self, why: Cut) -> Result<Next<&'static str>> {
            self.cuts.push((why, (self.now)() - EPOCH));
            match self.on_cut.take() {
                None => Ok(Next::Done("cut")),
                Some(l) => {
                    self.limit = l;
                    Ok(Next::Again(Pause::after(Duration::ZERO, true)))
                }
            }
        }
    }

    fn engine() -> (Engine, Sim, Arc<Recorder>) {
        let sim = Sim::new(World::default());
        let rec = Arc::new(Recorder::default());
        (Engine::new(sim.ports(), rec.clone(), Interrupt::default()), sim, rec)
    }

    fn script(sim: &Sim, deadline_in: f64, answers: Vec<Result<Next<&'static str>>>) -> Script {
        let clock = sim.clone();
        Script {
            answers,
            limit: Limit { at: EPOCH + deadline_in, setting: "--timeout", what: "the test", interruptible: true },
            looks: Vec::new(),
            cuts: Vec::new(),
            on_cut: None,
            now: Box::new(move || Clock::now(&clock)),
        }
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
    }

    fn again(secs: u64) -> Result<Next<&'static str>> {
        Ok(Next::Again(Pause::after(Duration::from_secs(secs), false)))
    }

    fn throttled() -> Result<Next<&'static str>> {
        Err(Error::Aws(PortError::Throttled { op: "ecs:DescribeServices".into() }))
    }

    #[test]
    fn the_last_look_is_at_the_deadline_and_the_cut_follows_it() {
        let (e, sim, rec) = engine();
        let mut w = script(&sim, 30.0, vec![]);
        let out = run(e.drive(&mut w, Duration::from_secs(3)));
        assert_eq!(out.expect("ends"), "cut");
        assert_eq!(w.looks, vec![3.0, 10.0, 17.0, 24.0, 30.0], "7 s apart, the last one at the deadline");
        assert_eq!(w.cuts, vec![(Cut::Deadline, 30.0)]);
        let beats: Vec<String> = rec
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Info { message } if message.starts_with("still waiting") => Some(message),
                _ => None,
            })
            .collect();
        // At 15 s, between two looks, without a call; not at the deadline (the cut says what happens).
        assert_eq!(beats, vec!["still waiting for the test; 15 s left of --timeout".to_string()]);
    }

    #[test]
    fn a_done_look_ends_the_wait_without_a_cut() {
        let (e, sim, _) = engine();
        let mut w = script(&sim, 100.0, vec![again(5), again(5), Ok(Next::Done("done"))]);
        assert_eq!(run(e.drive(&mut w, Duration::ZERO)).expect("ends"), "done");
        assert_eq!(w.looks, vec![0.0, 5.0, 10.0]);
        assert!(w.cuts.is_empty());
    }

    #[test]
    fn throttling_backs_off_and_is_said_once_per_five() {
        let (e, sim, rec) = engine();
        let answers = vec![throttled(), throttled(), throttled(), throttled(), throttled(), Ok(Next::Done("done"))];
        let mut w = script(&sim, 200.0, answers);
        assert_eq!(run(e.drive(&mut w, Duration::ZERO)).expect("ends"), "done");
        // Steps of 8 s, then at most poll.max (15 s); each wait jittered to 50–100 % of its step.
        let gaps: Vec<f64> = w.looks.windows(2).map(|l| l[1] - l[0]).collect();
        for (gap, step) in gaps.iter().zip([8.0, 15.0, 15.0, 15.0, 15.0]) {
            assert!(*gap >= step / 2.0 - 1e-6 && *gap <= step + 1e-6, "{gap} within [{}, {step}]: {:?}", step / 2.0, w.looks);
        }
        assert_eq!(gaps.len(), 5);
        let warnings = rec.events().into_iter().filter(|e| matches!(e, Event::Warning { .. })).count();
        assert_eq!(warnings, 2, "the first and the fifth in a row");
    }

    #[test]
    fn errors_that_are_not_retryable_end_the_wait() {
        let (e, sim, _) = engine();
        let rejected = Err(Error::Aws(PortError::Rejected { op: "x".into(), code: "AccessDenied".into(), message: "no".into() }));
        let mut w = script(&sim, 100.0, vec![again(1), rejected]);
        assert!(matches!(run(e.drive(&mut w, Duration::ZERO)), Err(Error::Aws(PortError::Rejected { .. }))));
        assert_eq!(w.looks.len(), 2);
    }

    #[test]
    fn throttled_past_the_deadline_is_a_deadline_cut() {
        let (e, sim, _) = engine();
        let mut w = script(&sim, 10.0, vec![throttled(), throttled(), throttled()]);
        assert_eq!(run(e.drive(&mut w, Duration::ZERO)).expect("ends"), "cut");
        assert_eq!(w.looks.len(), 3, "{:?}", w.looks);
        assert!((4.0..=8.0).contains(&w.looks[1]) && w.looks[2] == 10.0, "a jittered 8 s step, then the deadline: {:?}", w.looks);
        assert_eq!(w.cuts, vec![(Cut::Deadline, 10.0)]);
    }

    #[test]
    fn adaptive_pauses_grow_while_idle_and_reset_on_change() {
        let (e, sim, _) = engine();
        let idle = || Ok(Next::Again(Pause::adaptive(false)));
        let answers = vec![idle(), idle(), idle(), Ok(Next::Again(Pause::adaptive(true))), idle(), Ok(Next::Done("done"))];
        let mut w = script(&sim, 500.0, answers);
        run(e.drive(&mut w, Duration::ZERO)).expect("ends");
        assert_eq!(w.looks, vec![0.0, 3.0, 7.5, 14.25, 16.25, 19.25], "×1.5 from 2 s; a change goes back to 2 s");
    }

    #[test]
    fn an_interrupt_is_a_cut_before_the_next_look() {
        let (e, sim, _) = engine();
        e.interrupt.trigger();
        let mut w = script(&sim, 100.0, vec![]);
        assert_eq!(run(e.drive(&mut w, Duration::ZERO)).expect("ends"), "cut");
        assert!(w.looks.is_empty());
        assert_eq!(w.cuts, vec![(Cut::Interrupt, 0.0)]);
    }

    #[test]
    fn a_wait_that_is_not_interruptible_ignores_the_interrupt() {
        let (e, sim, _) = engine();
        e.interrupt.trigger();
        let mut w = script(&sim, 100.0, vec![again(5), Ok(Next::Done("done"))]);
        w.limit.interruptible = false;
        assert_eq!(run(e.drive(&mut w, Duration::ZERO)).expect("ends"), "done");
        assert_eq!(w.looks, vec![0.0, 5.0]);
    }

    #[test]
    fn a_cut_that_goes_on_must_move_the_deadline_or_stop_being_interruptible() {
        // Goes on after the deadline with a new one: looked at again, up to the new deadline.
        let (e, sim, _) = engine();
        let mut w = script(&sim, 10.0, vec![]);
        w.on_cut = Some(Limit { at: EPOCH + 20.0, setting: "rollback.timeout", what: "the rollback", interruptible: false });
        assert_eq!(run(e.drive(&mut w, Duration::ZERO)).expect("ends"), "cut");
        assert_eq!(w.looks, vec![0.0, 7.0, 10.0, 10.0, 17.0, 20.0]);
        assert_eq!(w.cuts, vec![(Cut::Deadline, 10.0), (Cut::Deadline, 20.0)]);
        // Goes on without a new deadline: an internal error, never a busy loop.
        let (e, sim, _) = engine();
        let mut w = script(&sim, 10.0, vec![]);
        w.on_cut = Some(w.limit);
        assert!(matches!(run(e.drive(&mut w, Duration::ZERO)), Err(Error::Internal(_))));
        // Goes on after an interrupt while still interruptible: the same.
        let (e, sim, _) = engine();
        e.interrupt.trigger();
        let mut w = script(&sim, 10.0, vec![]);
        w.on_cut = Some(w.limit);
        assert!(matches!(run(e.drive(&mut w, Duration::ZERO)), Err(Error::Internal(_))));
    }
}
