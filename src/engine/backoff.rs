//! The one back-off policy. Every retry in the engine waits through [`Backoff`]: a step that
//! doubles from a first wait up to a cap, each wait drawn at 50–100 % of its step ("equal
//! jitter": clients that failed together do not retry together). The draw comes from the
//! clock's sub-second digits: random on a real clock, reproducible on a virtual one. The waits
//! themselves happen in the driver ([`super::watch`]), on the clock.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    step: Duration,
    cap: Duration,
}

impl Backoff {
    pub(crate) const fn new(first: Duration, cap: Duration) -> Backoff {
        Backoff { step: first, cap }
    }

    /// A single AWS call after throttling or a transient error: 1 s, 2 s, 4 s … 20 s.
    pub(crate) const fn calls() -> Backoff {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(20))
    }

    /// RunTask when Fargate has no capacity: 20 s, 40 s … 5 minutes (inside the task's deadline).
    pub(crate) const fn capacity() -> Backoff {
        Backoff::new(Duration::from_secs(20), Duration::from_secs(300))
    }

    /// A watch whose look was throttled or failed: from its interval (at least 4 s) doubled, at
    /// most `cap`.
    pub(crate) fn after_look(interval: Duration, cap: Duration) -> Backoff {
        Backoff::new((interval.max(Duration::from_secs(4)) * 2).min(cap), cap)
    }

    /// The step the next wait is drawn from (its upper bound).
    pub(crate) fn step(&self) -> Duration {
        self.step
    }

    /// The next wait — the step, jittered by the clock at `now` — and the step doubles.
    pub(crate) fn next(&mut self, now: f64) -> Duration {
        let wait = jitter(self.step, now);
        self.step = (self.step * 2).min(self.cap);
        wait
    }
}

/// 50–100 % of `d`, drawn from the clock's sub-second digits.
fn jitter(d: Duration, now: f64) -> Duration {
    let draw = ((now * 1_000_003.0) as u64 % 1000) as f64 / 1000.0;
    d.mul_f64(0.5 + draw / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_wait_is_jittered_within_half_and_whole_of_a_step_that_doubles_up_to_the_cap() {
        let mut b = Backoff::calls();
        let mut steps = Vec::new();
        for i in 0..10 {
            let step = b.step();
            let now = 1_700_000_000.0 + f64::from(i) * 0.137;
            let wait = b.next(now);
            assert!(wait >= step / 2 && wait <= step, "{wait:?} within [{:?}, {step:?}]", step / 2);
            steps.push(step.as_secs());
        }
        assert_eq!(steps, [1, 2, 4, 8, 16, 20, 20, 20, 20, 20], "doubling, capped at 20 s");
        let waits: Vec<Duration> = (0..50).map(|i| Backoff::capacity().next(1_700_000_000.0 + f64::from(i) * 0.0137)).collect();
        assert!(waits.iter().any(|w| *w != waits[0]), "the draw depends on the clock: {waits:?}");
        assert!(waits.iter().all(|w| *w >= Duration::from_secs(10) && *w <= Duration::from_secs(20)), "{waits:?}");
        let mut c = Backoff::capacity();
        (0..8).for_each(|_| {
            c.next(0.0);
        });
        assert_eq!(c.step(), Duration::from_secs(300), "capacity retries cap at 5 minutes");
        assert_eq!(Backoff::after_look(Duration::from_secs(2), Duration::from_secs(15)).step(), Duration::from_secs(8));
        assert_eq!(Backoff::after_look(Duration::from_secs(10), Duration::from_secs(15)).step(), Duration::from_secs(15));
    }
}
