//! Pace: when can a deployment next change, and so when is a poll worth its call?
//!
//! A fixed poller pays for every tick and still sees a change half a tick late on average.
//! fgdeploy forecasts the moments a deployment can change from what AWS already says:
//!
//! - rolling: the service's previous rollout. Its PRIMARY deployment's `createdAt` and the
//!   "(deployment …) deployment completed." event give how long a rollout of this service takes;
//!   one DescribeTasks of the tasks named in the latest "has started N tasks" event gives how
//!   long its tasks take to start (`startedAt − createdAt`), which is when a release that cannot
//!   start its tasks fails.
//! - CodeDeploy: the traffic-shifting configuration gives the shift times exactly
//!   (`ECSCanary10Percent5Minutes`: 100 % five minutes after the first shift).
//!
//! The [`Schedule`] polls every second in a short window from each forecast moment, at most
//! `heartbeat` apart elsewhere (so nothing goes unseen for longer than that), and falls back to
//! the adaptive 2 s → 15 s back-off when there is no forecast or the deployment runs late.
//! A window that sees its change moves the later moments by the observed drift, so a service
//! that rolls out slower (or faster) than last time is followed at its new pace.

use crate::ports::{CdTarget, ServiceState};

/// The longest fgdeploy goes without looking while it waits for a forecast moment.
pub(crate) const HEARTBEAT_SECS: f64 = 20.0;

/// How long the service's current PRIMARY deployment took from creation to COMPLETED, read from
/// its "(deployment ID) deployment completed." event. None when ECS no longer shows that event.
pub fn previous_rollout_secs(svc: &ServiceState) -> Option<f64> {
    let primary = svc.primary()?;
    let created = primary.created_at?;
    let marker = format!("(deployment {}) deployment completed", primary.id);
    let done = svc.events.iter().find(|e| e.message.contains(&marker))?.created_at?;
    let secs = done - created;
    (secs.is_finite() && secs > 0.0).then_some(secs)
}

/// What the service's previous rollout says about this one: how long it took from creation to
/// COMPLETED (from DescribeServices alone: the PRIMARY's `createdAt` and its completion event).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RollingForecast {
    pub(crate) completes: Option<f64>,
}

impl RollingForecast {
    /// One line for the user: what the forecast is and where it comes from.
    pub(crate) fn describe(&self) -> Option<String> {
        let c = self.completes?;
        Some(format!(
            "pace: the last rollout completed in {c:.0} s; looking at fractions of that until tasks drain, then at most {ROLLING_ENDGAME_GAP:.0} s apart"
        ))
    }
}

/// Seconds after the first traffic shift at which a CodeDeploy ECS configuration shifts again,
/// for the predefined configurations (custom ones are not forecast).
pub(crate) fn codedeploy_shift_moments(config: &str) -> Vec<f64> {
    let name = config.strip_prefix("CodeDeployDefault.").unwrap_or(config).to_ascii_lowercase();
    if !config.starts_with("CodeDeployDefault.") {
        return Vec::new();
    }
    let num = |s: &str| -> Option<f64> { s.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok() };
    if let Some(rest) = name.strip_prefix("ecscanary") {
        return rest.split("percent").nth(1).and_then(num).map(|minutes| vec![minutes * 60.0]).unwrap_or_default();
    }
    if let Some(rest) = name.strip_prefix("ecslinear")
        && let (Some(p), Some(minutes)) = (num(rest), rest.split("every").nth(1).and_then(num))
        && p > 0.0
    {
        let steps = (100.0 / p).ceil() as u32;
        return (1..steps).map(|k| f64::from(k) * minutes * 60.0).collect();
    }
    Vec::new()
}

/// What one poll saw.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Seen {
    /// Anything new to show (counts, events): without a forecast, poll fast again.
    pub(crate) changed: bool,
    /// The deployment moved (tasks started or failed, a state changed): closes a forecast moment.
    pub(crate) progressed: bool,
    /// Signs of trouble (failed tasks) that can turn into a failure at any moment: poll
    /// adaptively, fast while more tasks fail.
    pub(crate) trouble: bool,
}

/// From a finished deployment's lifecycle-event times: seconds from its start to Ready (the end
/// of AfterAllowTestTraffic), plus the second CodeDeploy takes to start one.
pub fn ready_secs(t: &CdTarget) -> Option<f64> {
    let start = t.event_times.iter().filter_map(|(_, s, _)| *s).reduce(f64::min)?;
    let ready =
        t.event_times.iter().find(|(n, _, _)| *n == crate::states::CdLifecycleEvent::AfterAllowTestTraffic).and_then(|(_, _, e)| *e)?;
    let secs = ready - start;
    (secs.is_finite() && secs > 0.0).then_some(secs + 1.0)
}

/// ECS-native blue/green, linear and canary: seconds after entering `stage` at which the
/// service deployment can next change — the traffic steps from the start of
/// PRODUCTION_TRAFFIC_SHIFT, the end of the bake from the start of BAKE_TIME.
pub(crate) fn native_stage_moments(cfg: &crate::ports::NativeDeployment, stage: &crate::states::LifecycleStage) -> Vec<f64> {
    use crate::states::{DeploymentStrategy, LifecycleStage};
    match stage {
        LifecycleStage::ProductionTrafficShift => match (&cfg.strategy, cfg.linear, cfg.canary) {
            (DeploymentStrategy::Linear, Some((p, minutes)), _) if p > 0.0 => {
                let steps = (100.0 / p).ceil() as u32;
                (1..steps).map(|k| f64::from(k) * f64::from(minutes) * 60.0).collect()
            }
            (DeploymentStrategy::Canary, _, Some((_, minutes))) => vec![f64::from(minutes) * 60.0],
            _ => Vec::new(),
        },
        LifecycleStage::BakeTime => cfg.bake_time_minutes.filter(|m| *m > 0).map(|m| vec![f64::from(m) * 60.0]).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// What one look (DescribeServices) showed of a rolling deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct RollingLook {
    /// Tasks of the old revisions still running: they stop as the new ones turn healthy.
    pub(crate) old_running: i32,
    /// Anything new to show.
    pub(crate) changed: bool,
    /// The new deployment's failed tasks while it is in progress (what the breaker counts).
    pub(crate) failed: i32,
    /// The failed-task count that trips the circuit breaker, when it is on.
    pub(crate) breaker: Option<i32>,
    /// The new deployment's tasks RUNNING (healthy or not yet) and PENDING.
    pub(crate) new_running: i32,
    pub(crate) new_pending: i32,
}

/// When to look at a rolling deployment, designed for rollouts that do not repeat the last one.
///
/// Measured under noise (`cargo bench`, the noise table), what decides latency is the end of a
/// rollout: the moment its slowest new task turns healthy. Per-task spread makes that moment a
/// distribution, and a rollout can run at another pace than the last one, so:
///
/// - **Before the rollout drains** (no old task stopped yet), the first look comes at a quarter
///   of the last rollout's duration (at most [`FIRST_LOOK_MAX`]), then looks fall on fractions
///   of it (45 % and 90 %, then the longest gap; at most
///   [`ROLLING_MAX_GAP`] apart): a rollout twice as fast as the last one is seen draining at
///   its half, one twice as slow at its double. Without a history, every [`NO_HISTORY_GAP`].
/// - **While it drains** (old tasks stopping as new ones turn healthy), the end is extrapolated
///   from the drain so far (linear in the fraction stopped), and looks come at most
///   [`ROLLING_ENDGAME_GAP`] apart, closer as the extrapolated end nears.
/// - **Once every new task has started** (DescribeServices: none PENDING), the end is the last
///   one's start plus the health time the finished tasks took (each task's start and healthy
///   moments from the counts, first started paired with first healthy; the shortest such time,
///   to be early rather than late): the next look is then, at most [`STALL_MAX_GAP`] away, then
///   every [`ROLLING_ENDGAME_MIN_GAP`]. A straggler or a heavy tail is waited for at its own
///   pace, not guessed at from the others'.
/// - **Failed tasks**: the circuit breaker trips when the failed count reaches its threshold
///   (known from the service's configuration). While the count rises (a batch is failing), the
///   next look is when it can reach the threshold at the rate it rose (2 s to [`ROLLING_MAX_GAP`]).
///   Once it stops rising, failures come in waves one task-failing time apart (ECS replaces a
///   failed task at once): the next look is when the next wave can have come (at most
///   [`TROUBLE_MAX_GAP`]); past it, every 3 s.
///
/// One DescribeServices per look; the service deployment is read only when a look is decisive.
#[derive(Debug, Clone)]
pub(crate) struct RollingPace {
    start: f64,
    /// The last rollout's duration, when the service's events still tell it.
    last_rollout: Option<f64>,
    fractions: std::collections::VecDeque<f64>,
    old_initial: Option<i32>,
    /// When each old task stopped (the middle of the looks around it): a new task turned healthy.
    healthy_at: Vec<f64>,
    prev_look: f64,
    /// The first and the latest moment the failed count rose (the middle of the looks around it).
    fail_waves: Option<(f64, f64)>,
    /// The failed count at the last look.
    last_failed: i32,
    /// When each new task started RUNNING (the middle of the looks around it).
    started_at: Vec<f64>,
}

/// Longest gap between looks before a rollout drains.
pub const ROLLING_MAX_GAP: f64 = 6.0;
/// Longest wait for the first look (a quarter of the last rollout).
pub(crate) const FIRST_LOOK_MAX: f64 = 10.0;
/// Gap between looks before a rollout drains when there is no history to scale by.
pub(crate) const NO_HISTORY_GAP: f64 = 6.0;
/// Longest gap between looks while it drains.
pub const ROLLING_ENDGAME_GAP: f64 = 9.0;
/// Shortest gap between looks while it drains (the end is a distribution: looking every second
/// buys less than it costs).
pub(crate) const ROLLING_ENDGAME_MIN_GAP: f64 = 4.0;
/// Longest gap while every new task has started and the last one cannot be healthy yet.
pub(crate) const STALL_MAX_GAP: f64 = 15.0;
/// Longest gap while failures build up towards the breaker's threshold.
pub(crate) const TROUBLE_MAX_GAP: f64 = 12.0;

impl RollingPace {
    /// `old_running`: tasks of the old revisions running when the deployment started.
    pub(crate) fn new(start: f64, last_rollout: Option<f64>, old_running: i32) -> RollingPace {
        let fractions = [0.45, 0.9].into_iter().collect();
        let old_initial = (old_running > 0).then_some(old_running);
        RollingPace {
            start,
            last_rollout,
            fractions,
            old_initial,
            healthy_at: Vec::new(),
            prev_look: start,
            fail_waves: None,
            last_failed: 0,
            started_at: Vec::new(),
        }
    }

    /// Seconds from `now` to the first look (the start call's answer was the look before).
    pub(crate) fn first(&mut self, now: f64) -> f64 {
        self.prev_look = now;
        // Nothing can start, fail or turn healthy in the first quarter of the last rollout's
        // duration even at twice its pace (its tasks start at about 40 % of it): the first look
        // waits that long, at most [`FIRST_LOOK_MAX`] (later looks are at most 6 s apart).
        match self.last_rollout {
            Some(c) if now < self.start + 0.25 * c => (self.start + 0.25 * c - now).clamp(1.0, FIRST_LOOK_MAX),
            _ => self.before_drain(now),
        }
    }

    /// After a look at `now`: seconds to the next.
    pub(crate) fn next(&mut self, now: f64, look: RollingLook) -> f64 {
        let prev = std::mem::replace(&mut self.prev_look, now);
        let old_initial = *self.old_initial.get_or_insert(look.old_running);
        self.old_initial = Some(old_initial.max(look.old_running));
        let stopped = (old_initial - look.old_running).max(0);
        while (self.started_at.len() as i32) < look.new_running {
            self.started_at.push((prev + now) / 2.0);
        }
        while (self.healthy_at.len() as i32) < stopped {
            // Old tasks stopped between the two looks: new ones turned healthy, in the middle.
            self.healthy_at.push((prev + now) / 2.0);
        }
        if look.failed > 0 {
            return self.trouble(now, prev, look);
        }
        match self.healthy_at.first() {
            Some(_) => self.endgame(now, old_initial, stopped, look.new_pending),
            None => self.before_drain(now),
        }
    }

    /// While it drains: the end extrapolated from the drain so far; once every new task has
    /// started, the last one's start plus the shortest health time seen.
    fn endgame(&mut self, now: f64, old_initial: i32, stopped: i32, pending: i32) -> f64 {
        if pending == 0
            && let Some(end) = self.last_start_plus_health()
        {
            return if end > now { (end - now + 0.5).clamp(1.0, STALL_MAX_GAP) } else { ROLLING_ENDGAME_MIN_GAP };
        }
        let t0 = self.healthy_at[0];
        let done = f64::from(stopped) / f64::from(old_initial.max(1));
        let end = t0 + (now - t0).max(1.0) / done.max(0.1);
        ((end - now) * 0.75).clamp(ROLLING_ENDGAME_MIN_GAP, ROLLING_ENDGAME_GAP)
    }

    /// The last started task's start plus the shortest health time (healthy − started) of the
    /// tasks that turned healthy, pairing the first started with the first healthy.
    fn last_start_plus_health(&self) -> Option<f64> {
        let pairs = self.healthy_at.len().min(self.started_at.len());
        let health = (0..pairs).map(|i| self.healthy_at[i] - self.started_at[i]).filter(|h| *h > 0.0).reduce(f64::min)?;
        Some(self.started_at.last()? + health)
    }

    /// Failed tasks: the breaker trips at its threshold. While the count rises (a batch is
    /// failing), it can reach it at any moment: every 2 s. Once it stops rising, nothing more can
    /// fail before the replacements have had a task-failing time: the next look is then.
    fn trouble(&mut self, now: f64, prev: f64, look: RollingLook) -> f64 {
        let rising = look.failed > self.last_failed;
        let rose_by = look.failed - self.last_failed;
        if rising {
            let at = (prev + now) / 2.0;
            self.fail_waves = Some((self.fail_waves.map_or(at, |(first, _)| first), at));
            self.last_failed = look.failed;
        }
        if look.breaker.is_some_and(|t| look.failed >= t) {
            return 2.0;
        }
        if rising {
            // At the rate the count rose since the last look, when it can reach the threshold
            // (every 2 s without a breaker, between 2 s and the pre-drain gap with one).
            let Some(t) = look.breaker else { return 2.0 };
            let rate = f64::from(rose_by) / (now - prev).max(1.0);
            return (f64::from(t - look.failed) / rate).clamp(2.0, ROLLING_MAX_GAP);
        }
        // `trouble` runs only with failed tasks, so a rise was seen (the count starts at 0).
        let (first, last) = self.fail_waves.unwrap_or((now, now));
        let period = (first - self.start).max(2.0);
        let next_wave = last + period;
        if next_wave > now { (next_wave - now + 0.5).clamp(1.0, TROUBLE_MAX_GAP) } else { 3.0 }
    }

    fn before_drain(&mut self, now: f64) -> f64 {
        let Some(c) = self.last_rollout else { return NO_HISTORY_GAP };
        while let Some(f) = self.fractions.front().copied() {
            if self.start + f * c > now + 0.5 {
                break;
            }
            self.fractions.pop_front();
        }
        let next = match self.fractions.front() {
            Some(f) => self.start + f * c,
            // Past the list: the longest pre-drain gap (a rollout this late gives no moment).
            None => now + ROLLING_MAX_GAP,
        };
        (next - now).clamp(1.0, ROLLING_MAX_GAP)
    }
}

#[derive(Debug, Clone)]
struct Moment {
    at: f64,
    window: f64,
    /// Its window closed without the change: the deployment runs late.
    late: bool,
}

/// When to poll next. Times are absolute seconds on the engine's clock.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    moments: Vec<Moment>,
    heartbeat: f64,
    min: f64,
    max: f64,
    factor: f64,
    interval: f64,
    late_interval: f64,
    last_poll: Option<f64>,
}

impl Schedule {
    /// Moments are seconds after `start`. `min`/`max`/`factor` are the adaptive back-off.
    pub(crate) fn new(start: f64, moments: &[f64], heartbeat: f64, min: f64, max: f64, factor: f64) -> Schedule {
        let moments = moments.iter().map(|m| Moment { at: start + m, window: (m * 0.05).clamp(2.0, 30.0), late: false }).collect();
        Schedule { moments, heartbeat, min, max, factor, interval: min, late_interval: 1.0, last_poll: None }
    }

    /// Whether a forecast moment is still ahead or open.
    pub(crate) fn forecasting(&self) -> bool {
        !self.moments.is_empty()
    }

    /// Whether a poll at `now` falls in a forecast window (or the deployment runs late).
    pub(crate) fn due(&self, now: f64) -> bool {
        self.moments.first().is_some_and(|m| m.late || now >= m.at - 0.5)
    }

    /// For a wait that events wake: seconds from `now` to the look it must still make — `next`
    /// (what [`Schedule::next`] said) when that falls in a forecast window, else the window's
    /// start. `None` when no moment is ahead.
    pub(crate) fn until_moment(&self, now: f64, next: f64) -> Option<f64> {
        let m = self.moments.first()?;
        if m.late || now + next >= m.at - 0.5 {
            return Some(next);
        }
        Some((m.at - 0.5 - now).max(next))
    }

    /// Seconds to sleep before the first poll.
    pub(crate) fn first(&mut self, now: f64) -> f64 {
        self.last_poll = Some(now);
        self.plan(now)
    }

    /// After a poll at `now` and what it saw: seconds to sleep.
    pub(crate) fn next(&mut self, now: f64, seen: Seen) -> f64 {
        let Seen { changed, progressed, trouble } = seen;
        let prev = self.last_poll.replace(now).unwrap_or(now);
        if let Some(first) = self.moments.first().cloned() {
            if progressed && now >= first.at - self.heartbeat {
                // The change happened between the last poll and this one: at the forecast moment
                // if that lies in between, else in the middle.
                let seen = if (prev..=now).contains(&first.at) { first.at } else { (prev.max(first.at - self.heartbeat) + now) / 2.0 };
                self.moments.remove(0);
                self.shift(seen - first.at);
            } else if !first.late && now >= first.at + first.window {
                self.shift(first.window);
                self.late_interval = 1.0;
                if let Some(m) = self.moments.first_mut() {
                    m.late = true;
                }
            }
        }
        self.interval = if changed { self.min } else { (self.interval * self.factor).min(self.max) };
        if trouble {
            // Failing tasks can trip the circuit breaker at any poll: adaptive polling (fast while
            // more fail, backing off while nothing changes) instead of the forecast.
            return self.interval;
        }
        self.plan(now)
    }

    fn plan(&mut self, now: f64) -> f64 {
        let Some(next) = self.moments.first() else {
            return self.interval;
        };
        if next.late {
            let d = self.late_interval;
            self.late_interval = (self.late_interval * self.factor).min(self.max);
            return d;
        }
        if now >= next.at {
            return 1.0;
        }
        // Evenly spaced heartbeats up to the window, none further apart than `heartbeat`.
        let until = next.at - now;
        until / (until / self.heartbeat).ceil()
    }

    fn shift(&mut self, by: f64) {
        for m in &mut self.moments {
            m.at += by;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::states::*;

    fn walk(s: &mut Schedule, start: f64, change_at: &[f64], end: f64) -> Vec<f64> {
        // Poll from `start`; a poll sees a change when a change time passed since the last poll.
        let mut polls = Vec::new();
        let mut now = start + s.first(start);
        let mut last = start;
        polls.push(now);
        while now < end && polls.len() < 200 {
            let changed = change_at.iter().any(|c| *c > last && *c <= now);
            last = now;
            now += s.next(now, Seen { changed, progressed: changed, trouble: false });
            polls.push(now);
        }
        polls
    }

    #[test]
    fn polls_at_the_forecast_moments_and_sparsely_between() {
        let mut s = Schedule::new(0.0, &[16.0, 37.0], 20.0, 2.0, 15.0, 1.5);
        let polls = walk(&mut s, 0.0, &[16.0, 37.0], 37.0);
        assert_eq!(polls, vec![16.0, 26.5, 37.0]);
    }

    #[test]
    fn a_late_deployment_is_followed_at_its_new_pace() {
        let mut s = Schedule::new(0.0, &[16.0, 37.0], 20.0, 2.0, 15.0, 1.5);
        // Tasks start 10 s late: the window at 16 sees nothing, adaptive polling finds the change
        // at 26, and completion is then expected 10 s late too.
        let polls = walk(&mut s, 0.0, &[26.0, 47.0], 47.0);
        let seen_start = polls.iter().find(|p| **p >= 26.0).copied().unwrap_or(f64::MAX);
        assert!(seen_start < 30.0, "{polls:?}");
        let last = polls.last().copied().unwrap_or_default();
        assert!((47.0..49.0).contains(&last), "{polls:?}");
        assert!(polls.len() <= 14, "{polls:?}");
    }

    #[test]
    fn without_a_forecast_it_backs_off() {
        let mut s = Schedule::new(0.0, &[], 20.0, 2.0, 15.0, 1.5);
        let polls = walk(&mut s, 0.0, &[], 60.0);
        let gaps: Vec<f64> = polls.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.windows(2).all(|g| g[1] >= g[0]), "{gaps:?}");
        assert_eq!(gaps.last().copied(), Some(15.0));
    }

    #[test]
    fn trouble_polls_fast() {
        let mut s = Schedule::new(0.0, &[100.0], 20.0, 2.0, 15.0, 1.5);
        assert_eq!(s.first(0.0), 20.0);
        assert_eq!(s.next(5.0, Seen { changed: true, progressed: true, trouble: true }), 2.0);
        // Backing off while the failures do not change, not waiting for the far moment.
        assert_eq!(s.next(7.0, Seen { changed: false, progressed: false, trouble: true }), 3.0);
    }

    fn look(old_running: i32) -> RollingLook {
        RollingLook { old_running, changed: false, failed: 0, breaker: None, new_running: 0, new_pending: 1 }
    }

    #[test]
    fn before_the_drain_looks_fall_on_fractions_of_the_last_rollout() {
        let mut p = RollingPace::new(100.0, Some(40.0), 10);
        assert_eq!(p.first(100.0), 10.0, "a quarter of the last rollout: nothing happens before");
        assert_eq!(p.first(108.0), 2.0, "the first look at 110 still");
        assert_eq!(p.next(110.0, look(10)), 6.0, "0.45 × 40 = 18 s: at most 6 s apart");
        assert_eq!(p.next(116.0, look(10)), 2.0, "the look at 118");
        assert!((p.next(118.0, look(10)) - 6.0).abs() < 1e-9, "toward 0.9 × 40 = 136");
        assert!((p.next(130.0, look(10)) - 6.0).abs() < 1e-9, "the look at 136");
        // Past the whole list: the longest pre-drain gap.
        assert!((p.next(137.0, look(10)) - ROLLING_MAX_GAP).abs() < 1e-9);
        let mut short = RollingPace::new(0.0, Some(20.0), 10);
        assert_eq!(short.first(0.0), 5.0, "a quarter of a 20 s rollout");
        let mut long = RollingPace::new(0.0, Some(200.0), 10);
        assert_eq!(long.first(0.0), FIRST_LOOK_MAX, "at most 10 s");
    }

    #[test]
    fn once_old_tasks_stop_the_end_is_extrapolated_and_looked_at_closely() {
        let mut p = RollingPace::new(0.0, Some(40.0), 10);
        p.first(0.0);
        // First look: 2 of 10 old tasks already stopped (the drain began between 0 and 18 s).
        let gap = p.next(18.0, look(8));
        assert!((ROLLING_ENDGAME_MIN_GAP..=ROLLING_ENDGAME_GAP).contains(&gap), "{gap}");
        // 9 of 10 stopped: the end is near, the gap shrinks to the minimum.
        assert_eq!(p.next(30.0, look(1)), ROLLING_ENDGAME_MIN_GAP);
        // Early in a slow drain (1 of 10 stopped), the end is far: the longest endgame gap.
        let mut q = RollingPace::new(0.0, Some(40.0), 10);
        q.first(0.0);
        assert_eq!(q.next(20.0, look(9)), ROLLING_ENDGAME_GAP);
    }

    #[test]
    fn without_history_or_with_failing_tasks() {
        let mut p = RollingPace::new(0.0, None, 4);
        assert_eq!(p.first(0.0), NO_HISTORY_GAP);
        assert_eq!(p.next(5.0, look(4)), NO_HISTORY_GAP);
        // 4 tasks failed between 5 and 10 s (at 7.5 s after the start): the next wave can come
        // 7.5 s after that, at 15 s; the breaker (threshold 5) cannot trip before it.
        let failing = RollingLook { failed: 4, breaker: Some(5), changed: true, ..look(4) };
        assert_eq!(p.next(10.0, failing), 2.0, "rising: every 2 s");
        // No more at 12 s: the replacements fail 7.5 s after the wave (at 7.5 s), from 15 s on.
        assert_eq!(p.next(12.0, RollingLook { changed: false, ..failing }), 3.5, "at the next wave");
        assert_eq!(p.next(15.5, RollingLook { changed: false, ..failing }), 3.0, "the wave is late");
        // 8 failed: at the threshold, the breaker trips now.
        assert_eq!(p.next(18.5, RollingLook { failed: 8, ..failing }), 2.0);
    }

    #[test]
    fn failure_waves_far_apart_are_not_looked_for_in_between() {
        let mut p = RollingPace::new(0.0, Some(40.0), 10);
        p.first(0.0);
        p.next(18.0, look(10));
        // 5 failed between 18 and 24 s (21 s after the start): the next wave is due at 42 s.
        let failing = RollingLook { failed: 5, breaker: Some(10), changed: true, ..look(10) };
        // 5 more at 5 in 6 s would take 6 s: the pre-drain gap.
        assert_eq!(p.next(24.0, failing), ROLLING_MAX_GAP, "rising: when the rate can reach the threshold");
        assert_eq!(p.next(26.0, RollingLook { changed: false, ..failing }), TROUBLE_MAX_GAP, "at most the trouble gap");
        assert_eq!(p.next(38.0, RollingLook { changed: false, ..failing }), 4.5);
    }

    #[test]
    fn once_every_task_started_the_end_is_the_last_start_plus_the_health_time() {
        let mut p = RollingPace::new(0.0, Some(35.0), 10);
        p.first(0.0);
        let at = |old_running, new_running, new_pending| RollingLook { old_running, new_running, new_pending, ..look(old_running) };
        // 9 started between 10 and 14 s (at 12 s), one still PENDING (a straggler).
        p.next(10.0, at(10, 0, 10));
        p.next(14.0, at(10, 9, 1));
        p.next(30.0, at(10, 9, 1));
        // 9 healthy between 30 and 34 s (at 32 s): a health time of 20 s.
        assert_eq!(p.next(34.0, at(1, 9, 1)), ROLLING_ENDGAME_MIN_GAP, "one PENDING: the drain's extrapolation");
        // The straggler started between 58 and 64 s (at 61 s): healthy at 81 s at the earliest.
        p.next(58.0, at(1, 9, 1));
        assert_eq!(p.next(64.0, at(1, 10, 0)), STALL_MAX_GAP, "at most the stall gap");
        assert_eq!(p.next(79.0, at(1, 10, 0)), 2.5, "at 81 s, and half a second");
        assert_eq!(p.next(81.5, at(1, 10, 0)), ROLLING_ENDGAME_MIN_GAP, "late: the endgame's pace");
    }

    #[test]
    fn codedeploy_configurations() {
        assert_eq!(codedeploy_shift_moments("CodeDeployDefault.ECSCanary10Percent5Minutes"), vec![300.0]);
        assert_eq!(codedeploy_shift_moments("CodeDeployDefault.ECSLinear10PercentEvery1Minutes").len(), 9);
        assert!(codedeploy_shift_moments("CodeDeployDefault.ECSAllAtOnce").is_empty());
        assert!(codedeploy_shift_moments("MyCustomConfig").is_empty());
    }

    #[test]
    fn ready_from_the_last_deployments_lifecycle_times() {
        let t = CdTarget {
            event_times: vec![
                (CdLifecycleEvent::BeforeInstall, Some(100.0), Some(101.0)),
                (CdLifecycleEvent::Install, Some(101.0), Some(135.0)),
                (CdLifecycleEvent::AfterAllowTestTraffic, Some(135.0), Some(135.0)),
                (CdLifecycleEvent::AllowTraffic, None, None),
            ],
            ..Default::default()
        };
        assert_eq!(ready_secs(&t), Some(36.0));
        assert_eq!(ready_secs(&CdTarget::default()), None);
    }

    #[test]
    fn native_stages() {
        let cfg = |strategy: &str| crate::ports::NativeDeployment {
            judge_timeout_minutes: None,
            strategy: DeploymentStrategy::from_aws(strategy),
            bake_time_minutes: Some(3),
            linear: Some((25.0, 2)),
            canary: Some((10.0, 5)),
            pause_after_test_traffic: true,
            load_balancer: None,
            base: Default::default(),
            gate_timeout_minutes: 20,
        };
        assert_eq!(
            native_stage_moments(&cfg("LINEAR"), &crate::states::LifecycleStage::from_aws("PRODUCTION_TRAFFIC_SHIFT")),
            vec![120.0, 240.0, 360.0]
        );
        assert_eq!(native_stage_moments(&cfg("CANARY"), &crate::states::LifecycleStage::from_aws("PRODUCTION_TRAFFIC_SHIFT")), vec![300.0]);
        assert!(native_stage_moments(&cfg("BLUE_GREEN"), &crate::states::LifecycleStage::from_aws("PRODUCTION_TRAFFIC_SHIFT")).is_empty());
        assert_eq!(native_stage_moments(&cfg("BLUE_GREEN"), &crate::states::LifecycleStage::from_aws("BAKE_TIME")), vec![180.0]);
        assert!(native_stage_moments(&cfg("LINEAR"), &crate::states::LifecycleStage::from_aws("SCALE_UP")).is_empty());
    }

    fn service_with_history(created: Option<f64>, completed_at: Option<f64>, id: &str) -> ServiceState {
        use crate::ports::{Deployment, ServiceEvent};
        use crate::states::DeploymentStatus;
        ServiceState {
            deployments: vec![Deployment {
                id: "ecs-svc/1".into(),
                status: DeploymentStatus::Primary,
                created_at: created,
                ..Default::default()
            }],
            events: vec![
                ServiceEvent { id: "e2".into(), created_at: Some(5000.0), message: "(service web) has reached a steady state.".into() },
                ServiceEvent {
                    id: "e1".into(),
                    created_at: completed_at,
                    message: format!("(service web) (deployment {id}) deployment completed."),
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn the_last_rollout_is_read_from_the_primary_and_its_completion_event() {
        assert_eq!(previous_rollout_secs(&service_with_history(Some(1000.0), Some(1037.0), "ecs-svc/1")), Some(37.0));
        assert_eq!(
            previous_rollout_secs(&service_with_history(Some(1000.0), Some(1037.0), "ecs-svc/other")),
            None,
            "another deployment's event"
        );
        assert_eq!(previous_rollout_secs(&service_with_history(None, Some(1037.0), "ecs-svc/1")), None);
        assert_eq!(previous_rollout_secs(&service_with_history(Some(1000.0), None, "ecs-svc/1")), None);
        assert_eq!(previous_rollout_secs(&service_with_history(Some(1000.0), Some(1000.0), "ecs-svc/1")), None, "zero is no duration");
        assert_eq!(previous_rollout_secs(&service_with_history(Some(1000.0), Some(990.0), "ecs-svc/1")), None);
        assert_eq!(previous_rollout_secs(&ServiceState::default()), None, "no PRIMARY");
        let f = RollingForecast { completes: Some(37.4) };
        assert_eq!(
            f.describe().as_deref(),
            Some("pace: the last rollout completed in 37 s; looking at fractions of that until tasks drain, then at most 9 s apart")
        );
        assert_eq!(RollingForecast::default().describe(), None);
    }

    #[test]
    fn codedeploy_moments_for_each_predefined_configuration() {
        assert_eq!(codedeploy_shift_moments("CodeDeployDefault.ECSCanary10Percent15Minutes"), vec![900.0]);
        assert_eq!(
            codedeploy_shift_moments("CodeDeployDefault.ECSLinear10PercentEvery3Minutes"),
            (1..10).map(|k| f64::from(k) * 180.0).collect::<Vec<_>>()
        );
        assert_eq!(codedeploy_shift_moments("CodeDeployDefault.ECSLinear30PercentEvery2Minutes"), vec![120.0, 240.0, 360.0]);
        assert!(codedeploy_shift_moments("CodeDeployDefault.ECSLinear0PercentEvery2Minutes").is_empty(), "a zero step is not forecast");
        assert!(codedeploy_shift_moments("CodeDeployDefault.ECSLinear10Percent").is_empty());
        assert!(codedeploy_shift_moments("CodeDeployDefault.ECSCanary10").is_empty());
        assert!(codedeploy_shift_moments("ECSCanary10Percent5Minutes").is_empty(), "only AWS's predefined names");
    }

    #[test]
    fn ready_needs_a_start_and_the_test_traffic_end() {
        let t = |events: Vec<(&str, Option<f64>, Option<f64>)>| CdTarget {
            event_times: events.into_iter().map(|(n, s, e)| (CdLifecycleEvent::from_aws(n), s, e)).collect(),
            ..Default::default()
        };
        // The earliest start counts, wherever it is listed.
        let late_first = t(vec![
            ("Install", Some(110.0), Some(130.0)),
            ("BeforeInstall", Some(100.0), Some(110.0)),
            ("AfterAllowTestTraffic", Some(130.0), Some(140.0)),
        ]);
        assert_eq!(ready_secs(&late_first), Some(41.0));
        assert_eq!(ready_secs(&t(vec![("Install", Some(100.0), Some(130.0))])), None, "never reached test traffic");
        assert_eq!(ready_secs(&t(vec![("AfterAllowTestTraffic", None, Some(140.0))])), None, "no start");
        assert_eq!(ready_secs(&t(vec![("AfterAllowTestTraffic", Some(140.0), Some(140.0))])), None, "no duration");
    }

    #[test]
    fn native_moments_default_and_zero_bakes() {
        let mut cfg = crate::ports::NativeDeployment {
            judge_timeout_minutes: None,
            strategy: DeploymentStrategy::from_aws("LINEAR"),
            bake_time_minutes: Some(0),
            linear: Some((30.0, 1)),
            canary: None,
            pause_after_test_traffic: false,
            load_balancer: None,
            base: Default::default(),
            gate_timeout_minutes: 20,
        };
        assert_eq!(
            native_stage_moments(&cfg, &crate::states::LifecycleStage::from_aws("PRODUCTION_TRAFFIC_SHIFT")),
            vec![60.0, 120.0, 180.0]
        );
        assert!(native_stage_moments(&cfg, &crate::states::LifecycleStage::from_aws("BAKE_TIME")).is_empty(), "no bake");
        cfg.linear = Some((0.0, 1));
        assert!(native_stage_moments(&cfg, &crate::states::LifecycleStage::from_aws("PRODUCTION_TRAFFIC_SHIFT")).is_empty());
        cfg.strategy = DeploymentStrategy::from_aws("CANARY");
        assert!(
            native_stage_moments(&cfg, &crate::states::LifecycleStage::from_aws("PRODUCTION_TRAFFIC_SHIFT")).is_empty(),
            "a canary without its settings"
        );
        cfg.bake_time_minutes = None;
        assert!(native_stage_moments(&cfg, &crate::states::LifecycleStage::from_aws("BAKE_TIME")).is_empty());
    }

    #[test]
    fn a_schedule_is_due_in_a_window_and_forecasting_until_its_moments_pass() {
        let mut s = Schedule::new(0.0, &[40.0], 20.0, 2.0, 15.0, 1.5);
        assert!(s.forecasting());
        assert!(!s.due(39.0) && s.due(39.5) && s.due(41.0), "half a second early counts");
        assert_eq!(s.first(0.0), 20.0, "evenly spaced, at most the heartbeat apart");
        assert_eq!(s.next(20.0, Seen::default()), 20.0);
        assert_eq!(s.next(40.0, Seen::default()), 1.0, "in the window: every second");
        assert_eq!(s.next(41.0, Seen { changed: true, progressed: true, trouble: false }), 2.0, "seen: the adaptive pace after");
        assert!(!s.forecasting() && !s.due(41.0));
        assert!(!Schedule::new(0.0, &[], 20.0, 2.0, 15.0, 1.5).due(0.0));
    }

    #[test]
    fn a_window_that_closes_without_the_change_goes_late() {
        // A 40 s moment has a 2 s window: at 42 without a change, the later moments move by the
        // window and the next look comes after the late interval (1 s, growing by the factor).
        let mut s = Schedule::new(0.0, &[40.0, 100.0], 20.0, 2.0, 15.0, 1.5);
        s.first(0.0);
        assert_eq!(s.next(40.0, Seen::default()), 1.0);
        assert_eq!(s.next(42.0, Seen::default()), 1.0, "late: look again in 1 s");
        assert!(s.due(43.0), "a late moment is always due");
        assert_eq!(s.next(43.0, Seen::default()), 1.5);
        assert_eq!(s.next(44.5, Seen::default()), 2.25);
        // Seen at 47: the late moment closes where the change happened; the next one (100 + 2 s
        // of window) moves by the observed drift.
        let gap = s.next(47.0, Seen { changed: true, progressed: true, trouble: false });
        assert!(s.forecasting());
        let next_moment = 47.0 + gap;
        assert!(next_moment < 102.0 + 7.0 && gap > 1.0, "{gap}");
    }

    #[test]
    fn progress_far_before_a_moment_does_not_spend_it() {
        let mut s = Schedule::new(0.0, &[100.0], 20.0, 2.0, 15.0, 1.5);
        s.first(0.0);
        // Progress at 30 (more than a heartbeat before the 100 s moment) is not the change.
        s.next(30.0, Seen { changed: true, progressed: true, trouble: false });
        assert!(s.forecasting() && s.due(99.5));
        // Progress at 85 (within a heartbeat of it): the moment is spent, between the looks.
        s.next(85.0, Seen { changed: true, progressed: true, trouble: false });
        assert!(!s.forecasting());
    }

    #[test]
    fn the_drain_starts_between_the_two_looks_that_saw_it() {
        let mut p = RollingPace::new(0.0, Some(60.0), 10);
        assert_eq!(p.first(0.0), FIRST_LOOK_MAX, "a quarter of 60 s is 15 s: 10 at most");
        assert_eq!(p.next(20.0, look(10)), 6.0);
        // 5 of 10 stopped at 30: the drain began at 25 (between 20 and 30), half done in 5 s,
        // so it ends at 35; 0.75 × 5 s clamps to the endgame minimum.
        assert_eq!(p.next(30.0, look(5)), ROLLING_ENDGAME_MIN_GAP);
        // 1 of 10 at 31.5 (drain since 25, 90 % in 6.5 s): ends at 32.2 → the minimum again.
        assert_eq!(p.next(31.5, look(1)), ROLLING_ENDGAME_MIN_GAP);
        // A slow drain: 1 of 10 stopped 30 s after it began → the end is far, the longest gap.
        let mut q = RollingPace::new(0.0, Some(60.0), 10);
        q.first(0.0);
        q.next(10.0, look(10));
        assert_eq!(q.next(20.0, look(9)), ROLLING_ENDGAME_GAP);
        assert_eq!(q.next(50.0, look(8)), ROLLING_ENDGAME_GAP);
        // 2 s into a drain with 8 of 10 stopped: 2 s / 0.8 → ends 0.5 s from now: the minimum.
        let mut r = RollingPace::new(0.0, Some(60.0), 10);
        r.first(0.0);
        r.next(10.0, look(10));
        assert_eq!(r.next(14.0, look(2)), ROLLING_ENDGAME_MIN_GAP);
    }

    #[test]
    fn the_endgame_gap_is_three_quarters_of_the_time_left() {
        // Looks at 18 and 22 saw 12 then 11 old tasks: the drain began at 20.
        let mut u = RollingPace::new(0.0, Some(100.0), 12);
        u.first(0.0);
        u.next(18.0, look(12));
        // 1 of 12 after 2 s (the fraction counts as at least 10 %): ends at 40, 18 s away → 6.
        assert_eq!(u.next(22.0, look(11)), ROLLING_ENDGAME_GAP);
        // 9 of 12 after 19 s: ends at 20 + 19 / 0.75 = 45.33; 0.75 × 6.33 = 4.75.
        let gap = u.next(39.0, look(3));
        assert!((gap - 4.75).abs() < 1e-9, "an interior gap: {gap}");
        // Half drained 1 s after it began (a drain is at least 1 s old): ends 1 s later → 4.
        let mut r = RollingPace::new(0.0, Some(100.0), 10);
        r.first(0.0);
        r.next(18.0, look(10));
        assert_eq!(r.next(20.0, look(5)), ROLLING_ENDGAME_MIN_GAP);
    }

    #[test]
    fn more_old_tasks_than_at_the_start_raise_the_baseline() {
        // Started with 0 known old tasks: the first look sets the baseline.
        let mut p = RollingPace::new(0.0, Some(40.0), 0);
        p.first(0.0);
        assert_eq!(p.next(6.0, look(4)), 6.0, "4 old running: nothing drained yet");
        // Scaled up meanwhile: 6 running, still nothing stopped.
        assert_eq!(p.next(12.0, look(6)), 6.0);
        // 3 of 6 stopped (not 3 of 4): half drained since 15 → ends at 21: 3 s → the minimum;
        // with 4 as the baseline it would be 1 of 4 (25 %), far → 6.
        assert_eq!(p.next(18.0, look(3)), ROLLING_ENDGAME_MIN_GAP);
    }

    #[test]
    fn before_the_drain_the_next_fraction_is_at_least_half_a_second_ahead() {
        let mut p = RollingPace::new(0.0, Some(20.0), 4);
        // Fractions at 9 and 18 s. A look at 8.6 is within 0.5 s of 9: the next is 18 (6 s at most).
        assert!((p.first(8.6) - 6.0).abs() < 1e-9);
        // At 17.4 the look at 18 is still 0.6 s ahead: it stays, clamped to at least 1 s.
        assert_eq!(p.next(17.4, look(4)), 1.0);
        // Past 18 (0.9 × 20): the longest pre-drain gap.
        assert!((p.next(18.5, look(4)) - ROLLING_MAX_GAP).abs() < 1e-9);
    }

    #[test]
    fn a_fraction_exactly_half_a_second_ahead_is_passed() {
        // 0.45 × 20 = 9 s is exactly 0.5 s after a look at 8.5: passed, the next is 18 s (at
        // most 6 s away).
        let mut p = RollingPace::new(0.0, Some(20.0), 4);
        assert_eq!(p.first(8.5), 6.0);
        assert_eq!(p.first(12.5), 5.5);
    }

    #[test]
    fn a_change_seen_before_its_moment_moves_the_later_ones_by_the_midpoint() {
        let mut s = Schedule::new(0.0, &[100.0, 200.0], 20.0, 2.0, 15.0, 1.5);
        s.first(0.0);
        s.next(85.0, Seen::default());
        // Progress between 85 and 95: it happened at 90, 10 s early; 200 becomes 190.
        s.next(95.0, Seen { changed: true, progressed: true, trouble: false });
        assert!(s.due(189.5) && !s.due(189.4), "the next moment moved to 190");
    }

    #[test]
    fn an_early_change_is_placed_no_earlier_than_a_heartbeat_before_its_moment() {
        let mut s = Schedule::new(0.0, &[100.0, 200.0], 20.0, 2.0, 15.0, 1.5);
        s.first(0.0);
        s.next(70.0, Seen::default());
        // Progress between 70 and 95: before 80 (a heartbeat early) it is not looked for, so it
        // happened between 80 and 95, at 87.5; 200 becomes 187.5.
        s.next(95.0, Seen { changed: true, progressed: true, trouble: false });
        assert!(s.due(187.0) && !s.due(186.9), "the next moment moved to 187.5");
    }
}
