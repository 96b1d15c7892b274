//! The watch's rule and queue as the run knows them, and the pure decisions on what it hears
//! (the I/O is `Feeds`'): what is news, and how long a wait listens before it looks anyway.

use crate::eventpattern::Notice;
use std::collections::BTreeSet;
use std::time::Duration;

/// The watch looks at least this often, whatever the events say (a lost event's cost).
pub(crate) const SAFETY_POLL_SECS: f64 = 60.0;
/// The look that covers what happened before the rule matched: this long after PutRule.
pub(crate) const ACTIVATION_LOOK_SECS: f64 = 12.0;
/// After an event that says a deployment ended, looks this far apart until the API shows it.
pub(crate) const RELOOK_SECS: f64 = 2.0;
pub(crate) const RELOOKS: u32 = 3;
/// An event counts as older than the last look only when it is this much older (clock skew
/// between AWS and the runner; one-second event times).
pub(crate) const STALE_GRACE_SECS: f64 = 30.0;

/// What one long poll heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Heard {
    /// An event that is news: look now.
    News,
    /// Nothing new (the poll's time was up, or only duplicates and stale events came).
    Quiet,
    /// The queue was throttled or failed transiently: wait a moment and listen again.
    Retry,
}

/// The rule and queue of this run's watch.
#[derive(Debug, Clone)]
pub(crate) struct Feed {
    pub(super) rule: String,
    pub(super) queue_url: String,
    pub(super) opened_at: f64,
    seen: BTreeSet<String>,
    activation_looked: bool,
    relooks: u32,
    last_look: f64,
    /// The queue stopped answering: the watch polls (the rule and queue are still deleted).
    pub(super) broken: bool,
}

impl Feed {
    pub(super) fn new(now: f64) -> Feed {
        Feed {
            rule: String::new(),
            queue_url: String::new(),
            opened_at: now,
            seen: BTreeSet::new(),
            activation_looked: false,
            relooks: 0,
            last_look: now,
            broken: false,
        }
    }

    /// A look happened at `now`: the activation look is done once past its moment; a pending
    /// re-look is spent.
    pub(super) fn looked(&mut self, now: f64) {
        self.last_look = now;
        if now >= self.opened_at + ACTIVATION_LOOK_SECS {
            self.activation_looked = true;
        }
        self.relooks = self.relooks.saturating_sub(1);
    }

    /// How long an evented wait listens before it looks anyway: the safety poll (counted from
    /// the last look), a re-look after an ending event, the activation look, or the wait's own
    /// forecast `moment` (what no event announces, such as a CodeDeploy traffic shift).
    pub(super) fn wait(&self, moment: Option<Duration>, now: f64) -> Duration {
        let mut d = if self.relooks > 0 { RELOOK_SECS } else { SAFETY_POLL_SECS - (now - self.last_look).clamp(0.0, SAFETY_POLL_SECS) };
        if !self.activation_looked {
            d = d.min((self.opened_at + ACTIVATION_LOOK_SECS - now).max(0.0));
        }
        if let Some(m) = moment {
            d = d.min(m.as_secs_f64());
        }
        Duration::from_secs_f64(d.max(0.0))
    }

    /// Whether any of `notices` is news: not seen before (a duplicate) and not clearly older than
    /// the last look, which already saw its state. "Clearly": [`STALE_GRACE_SECS`] — event times
    /// are AWS's clock and the look's the runner's, and a runner a few seconds ahead must not
    /// take a fresh event for a stale one (that would cost a safety interval; an extra look costs
    /// one call). An ending event asks for re-looks.
    pub(super) fn heard(&mut self, notices: impl Iterator<Item = Notice>) -> bool {
        let mut news = false;
        for n in notices {
            let stale = n.time.is_some_and(|t| t + STALE_GRACE_SECS < self.last_look);
            if self.seen.insert(n.id.clone()) && !stale {
                news = true;
                if n.is_terminal() {
                    self.relooks = RELOOKS;
                }
            }
        }
        news
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(id: &str, time: f64, name: &str) -> Notice {
        Notice { id: id.into(), time: Some(time), detail_type: "ECS Deployment State Change".into(), name: name.into(), deployment: None }
    }

    #[test]
    fn duplicates_and_stale_events_are_not_news_and_an_ending_asks_for_relooks() {
        let mut f = Feed::new(100.0);
        f.looked(130.0);
        assert!(f.heard([notice("a", 131.0, "SERVICE_DEPLOYMENT_IN_PROGRESS")].into_iter()));
        assert!(!f.heard([notice("a", 131.0, "SERVICE_DEPLOYMENT_IN_PROGRESS")].into_iter()), "a duplicate");
        assert!(!f.heard([notice("b", 90.0, "SERVICE_DEPLOYMENT_IN_PROGRESS")].into_iter()), "clearly older than the last look");
        assert!(f.heard([notice("c", 105.0, "SERVICE_DEPLOYMENT_COMPLETED")].into_iter()), "within the clocks' grace of it");
        assert_eq!(f.wait(None, 131.0), Duration::from_secs_f64(RELOOK_SECS), "an ending: look again soon");
        for _ in 0..RELOOKS {
            f.looked(132.0);
        }
        assert_eq!(f.wait(None, 132.0), Duration::from_secs_f64(SAFETY_POLL_SECS), "re-looks spent: the safety poll");
    }

    #[test]
    fn the_wait_is_the_nearest_of_the_safety_poll_the_activation_look_and_a_moment() {
        let f = Feed::new(100.0);
        assert_eq!(f.wait(None, 100.0), Duration::from_secs_f64(ACTIVATION_LOOK_SECS));
        let mut g = Feed::new(100.0);
        g.looked(120.0);
        assert_eq!(g.wait(None, 150.0), Duration::from_secs_f64(30.0), "60 s from the last look");
        assert_eq!(g.wait(Some(Duration::from_secs(7)), 150.0), Duration::from_secs(7), "a forecast moment first");
        assert_eq!(g.wait(None, 500.0), Duration::ZERO, "overdue: look now");
    }
}
