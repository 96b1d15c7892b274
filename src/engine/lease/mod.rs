//! The lease per service (#27): one run at a time may change a service, across runners, laptops
//! and pipelines. The lease is one JSON object in an S3 bucket (`[lock]`), at
//! `<prefix>/<cluster>/<service>.json`, written only with S3's conditional writes: taking a free
//! key is `If-None-Match: *`, taking over an expired or released lease and renewing one's own are
//! `If-Match: <etag>` — compare-and-swap, so two racing runners can never both hold it (the one
//! whose write S3 refuses with 412/409 has lost and looks again).
//!
//! The record says who holds it (command, commit, CI run URL or host and user), the phase it
//! reached, when it started, when it expires, and a journal of what the run created (image
//! digest, migration task, revision, deployment). It is renewed at every stage and on every look
//! of every wait (the driver, [`Engine::drive`], renews it when a third of its lifetime has
//! passed), and released on every exit path of the command that took it. A run whose runner
//! died leaves it unreleased: it expires `lock.ttl` after its last renewal, and the next run
//! takes it over (and shows the journal it found); `fgdeploy lock break` releases it at once.

pub mod record;

use super::Engine;
use super::watch::{Cut, Limit, Next, Pause, Watched};
use crate::error::{Error, Result};
use crate::ports::{PortError, Stored};
use crate::spec::Spec;
use record::{Held, Holder, Journal, LeaseKey, LeaseRecord, LeaseState, LockStatus, Released, body, parse};
use std::time::Duration;

/// Waiting for another run's lease: each look reads it and takes it when it is free, expired
/// or released (compare-and-swap); the deadline is `--lock-timeout` / `lock.wait`.
struct LeaseWait<'a> {
    e: &'a Engine,
    at: LeaseKey,
    mine: LeaseRecord,
    until: f64,
    setting: &'static str,
    /// The holder last announced (said once per holder).
    said: Option<String>,
    last_seen: Option<LeaseRecord>,
}

impl LeaseWait<'_> {
    /// Take the key: create it, or replace the version read. `None`: someone wrote first.
    async fn take(&self, seen: Option<&Stored>, now: f64) -> Result<Option<Held>> {
        let mut mine = self.mine.clone();
        mine.started = now;
        mine.renewed = now;
        mine.expires = now + self.at.ttl.as_secs_f64();
        let leases = &self.e.ports.leases;
        let etag = match seen {
            None => leases.create(&self.at.bucket, &self.at.key, &body(&mine)).await?,
            Some(s) => leases.replace(&self.at.bucket, &self.at.key, &body(&mine), &s.etag).await?,
        };
        Ok(etag.map(|etag| Held { at: self.at.clone(), etag, record: mine, inherited: None }))
    }
}

impl Watched for LeaseWait<'_> {
    type Out = Held;

    fn limit(&self) -> Limit {
        Limit { at: self.until, setting: self.setting, what: "the service's lease", interruptible: true }
    }

    async fn look(&mut self, now: f64) -> Result<Next<Held>> {
        let stored = self.e.ports.leases.read(&self.at.bucket, &self.at.key).await?;
        let record = stored.as_ref().map(|s| parse(&self.at, s)).transpose()?;
        let state = record.as_ref().map_or(LeaseState::Free, |r| r.state(now));
        if state == LeaseState::Held {
            let r = record.clone().unwrap_or_else(|| self.mine.clone());
            let who = r.holder.describe();
            if self.said.as_deref() != Some(who.as_str()) {
                self.e.info(format!(
                    "waiting for the lease of {}: held by {who} (phase {}); it expires in {:.0} s unless renewed (--no-lock acts anyway)",
                    r.service,
                    r.phase,
                    r.expires - now
                ));
                self.said = Some(who);
            }
            self.last_seen = record;
            return Ok(Next::Again(Pause::after(Duration::from_secs(5), false)));
        }
        match self.take(stored.as_ref(), now).await? {
            Some(mut held) => {
                // A run that ended without saying how: its lease expired, or was broken first.
                held.inherited = record.clone().filter(|r| state == LeaseState::Expired || r.journal.outcome.is_none());
                if let (LeaseState::Expired, Some(r)) = (state, &record) {
                    self.e.warn(format!(
                        "took over the expired lease of {} ({} stopped renewing it at phase {}); what it had done: {}",
                        r.service,
                        r.holder.describe(),
                        r.phase,
                        serde_json::to_string(&r.journal).unwrap_or_default()
                    ));
                }
                Ok(Next::Done(held))
            }
            // Another run wrote first (412/409): look again at once.
            None => Ok(Next::Again(Pause::after(Duration::from_millis(500), true))),
        }
    }

    async fn cut(&mut self, why: Cut) -> Result<Next<Held>> {
        let holder =
            self.last_seen.as_ref().map_or_else(|| "another run".to_string(), |r| format!("{} (phase {})", r.holder.describe(), r.phase));
        Err(Error::Locked {
            message: match why {
                Cut::Deadline => format!("the lease of {} is still held after {}", self.mine.service, self.setting),
                Cut::Interrupt => format!("interrupted while waiting for the lease of {}", self.mine.service),
            },
            holder,
        })
    }
}

impl Engine {
    /// Take the service's lease before the first mutating call of `command` (nothing without
    /// `[lock]` or with `--no-lock`): waits for another run's lease up to `lock.wait`.
    pub(crate) async fn take_lease(&self, spec: &Spec, command: &str, o: &super::LockOptions) -> Result<()> {
        let Some(at) = LeaseKey::of(spec).filter(|_| !o.skip) else { return Ok(()) };
        let now = self.ports.clock.now();
        let mine = LeaseRecord {
            service: format!("{}/{}", spec.cluster(), spec.service()),
            holder: Holder::here(command, spec.commit()),
            phase: "starting".into(),
            started: now,
            renewed: now,
            expires: now,
            released: None,
            journal: Journal::default(),
            write: String::new(),
        };
        let (wait, setting) = match o.timeout {
            Some(t) => (t, "--lock-timeout"),
            None => (at.wait, "lock.wait"),
        };
        let (bucket, key) = (at.bucket.clone(), at.key.clone());
        let mut w = LeaseWait { e: self, at, mine, until: now + wait.as_secs_f64(), setting, said: None, last_seen: None };
        let held = self.drive(&mut w, Duration::ZERO).await.map_err(|e| with_fix(e, &bucket, &key))?;
        self.info(format!(
            "took the lease s3://{}/{} for {:.0} s, renewed as the run goes",
            held.at.bucket,
            held.at.key,
            held.at.ttl.as_secs_f64()
        ));
        *self.lease.lock().await = Some(held);
        Ok(())
    }

    /// What this run does with an unfinished run's journal it took over.
    pub(crate) async fn resume(&self, spec: &Spec, command: &str) -> record::Resume {
        let guard = self.lease.lock().await;
        let inherited = guard.as_ref().and_then(|h| h.inherited.as_ref());
        let resume = record::Resume::of(inherited, command, spec.commit().as_deref());
        // A run that continues the dead one's release carries its journal on.
        if let (Some(r), record::Resume::Deployment { .. } | record::Resume::Revision { .. } | record::Resume::Migration { .. }) =
            (inherited, &resume)
        {
            let mut p = self.progress.lock().unwrap_or_else(|p| p.into_inner());
            p.1 = Journal { outcome: None, ..r.journal.clone() };
        }
        resume
    }

    /// Renew the lease this run holds when a third of its lifetime has passed, when there is news
    /// (a new stage; a revision, migration task, deployment or gate state in the journal), or
    /// `force` (to learn that it is still this run's): the phase and the journal go with it. A lease someone else took (broken, or
    /// taken over after it expired) ends the run: it must change nothing more.
    pub(crate) async fn renew_lease(&self, force: bool) -> Result<()> {
        let mut guard = self.lease.lock().await;
        let Some(held) = guard.as_mut() else { return Ok(()) };
        let now = self.ports.clock.now();
        let (phase, journal) = self.progress();
        // A new stage, or what the run created, is written at once, not a third of a lease later.
        let news = journal != held.record.journal || phase != held.record.phase;
        if !force && !news && now - held.record.renewed < held.at.ttl.as_secs_f64() / 3.0 {
            return Ok(());
        }
        let mut next = held.record.clone();
        (next.renewed, next.expires) = (now, now + held.at.ttl.as_secs_f64());
        (next.phase, next.journal) = (phase, journal);
        match self.ports.leases.replace(&held.at.bucket, &held.at.key, &body(&next), &held.etag).await {
            Ok(Some(etag)) => {
                (held.etag, held.record) = (etag, next);
                Ok(())
            }
            Ok(None) => {
                let at = format!("s3://{}/{}", held.at.bucket, held.at.key);
                *guard = None;
                Err(Error::Locked {
                    message: format!("this run lost the lease {at}: someone broke it or took it over"),
                    holder: "another run".into(),
                })
            }
            // Not renewed this time (throttled, unreachable): it is still valid until it expires.
            Err(e) if e.is_retryable() => {
                self.warn(format!("could not renew the lease ({e}); trying again at the next look"));
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Give the lease back (every exit path of the command that took it), with the outcome in
    /// its journal. A failure to release is said; the lease then expires by itself.
    pub(crate) async fn give_back_lease(&self, outcome: &str) {
        let Some(held) = self.lease.lock().await.take() else { return };
        let now = self.ports.clock.now();
        let mut last = held.record.clone();
        (last.phase, last.journal) = self.progress();
        last.journal.outcome = Some(outcome.to_string());
        last.released = Some(Released { at: now, how: "finished".into() });
        let at = format!("s3://{}/{}", held.at.bucket, held.at.key);
        match self.ports.leases.replace(&held.at.bucket, &held.at.key, &body(&last), &held.etag).await {
            Ok(Some(_)) => self.info(format!("released the lease {at}")),
            Ok(None) => self.warn(format!("the lease {at} was no longer this run's when it ended")),
            Err(e) => self.warn(format!("could not release the lease {at} ({e}); it expires by itself in {:.0} s", last.expires - now)),
        }
    }
}

/// `fgdeploy lock status`: the service's lease as it stands.
pub async fn lock_status(spec: &Spec, ports: &crate::ports::Ports) -> Result<LockStatus> {
    let at = LeaseKey::of(spec).ok_or_else(no_lock_section)?;
    let stored = ports.leases.read(&at.bucket, &at.key).await?;
    let record = stored.as_ref().map(|s| parse(&at, s)).transpose()?;
    let state = record.as_ref().map_or(LeaseState::Free, |r| r.state(ports.clock.now()));
    Ok(LockStatus { bucket: at.bucket, key: at.key, state, record })
}

/// `fgdeploy lock break`: release the service's lease now, whoever holds it (compare-and-swap
/// on the version read: a lease renewed meanwhile is not broken). Its journal is kept.
pub async fn lock_break(spec: &Spec, ports: &crate::ports::Ports, who: &str) -> Result<LockStatus> {
    let at = LeaseKey::of(spec).ok_or_else(no_lock_section)?;
    let Some(stored) = ports.leases.read(&at.bucket, &at.key).await? else {
        return Ok(LockStatus { bucket: at.bucket, key: at.key, state: LeaseState::Free, record: None });
    };
    let mut r = parse(&at, &stored)?;
    let now = ports.clock.now();
    if r.released.is_none() {
        r.released = Some(Released { at: now, how: format!("broken by {who}") });
        let written = ports.leases.replace(&at.bucket, &at.key, &body(&r), &stored.etag).await?;
        if written.is_none() {
            return Err(Error::Conflict(format!(
                "the lease s3://{}/{} changed while breaking it (its holder renewed it): nothing was broken; look again with `fgdeploy lock status`",
                at.bucket, at.key
            )));
        }
    }
    Ok(LockStatus { bucket: at.bucket, key: at.key, state: r.state(now), record: Some(r) })
}

fn no_lock_section() -> Error {
    Error::usage("the deployspec has no [lock] section", "add [lock] with bucket = \"<an S3 bucket>\" to serialise releases of the service")
}

/// A missing bucket or a refused access, said with the lease's place and the fix (still an AWS
/// error: exit 4, before any change to the service).
fn with_fix(e: Error, bucket: &str, key: &str) -> Error {
    let Error::Aws(PortError::Rejected { op, code, message }) = e else { return e };
    let fix = match code.as_str() {
        "NoSuchBucket" => "create the bucket named in [lock] bucket, or fix the name",
        "AccessDenied" | "AccessDeniedException" => {
            "allow s3:GetObject and s3:PutObject on the [lock] bucket's prefix (docs/iam-policy.json, Lease)"
        }
        _ => return Error::Aws(PortError::Rejected { op, code, message }),
    };
    Error::Aws(PortError::Rejected { op, code, message: format!("{message} (the lease s3://{bucket}/{key}, from [lock])\n  fix: {fix}") })
}
