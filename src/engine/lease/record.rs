//! The lease's record and where it lives (#27): the data `engine::lease` reads and writes, and
//! the engine keeps while it holds a lease (no engine behaviour here).

use crate::error::{Error, Result};
use crate::ports::Stored;
use crate::spec::Spec;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Who holds a lease.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Holder {
    /// The fgdeploy command (`release`, `rollback`, `scale`, `create`).
    pub command: String,
    /// The commit released, when the deployspec is in a git checkout.
    pub commit: Option<String>,
    /// GitHub Actions: `GITHUB_RUN_ID` and the run's URL.
    pub run_id: Option<String>,
    pub ci_url: Option<String>,
    pub host: String,
    pub user: String,
    pub pid: u32,
}

impl Holder {
    /// This process: the CI run from GitHub's variables, else the host and the user.
    pub(crate) fn here(command: &str, commit: Option<String>) -> Holder {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let ci_url = match (env("GITHUB_SERVER_URL"), env("GITHUB_REPOSITORY"), env("GITHUB_RUN_ID")) {
            (Some(s), Some(r), Some(id)) => Some(format!("{s}/{r}/actions/runs/{id}")),
            _ => None,
        };
        Holder {
            command: command.to_string(),
            commit: commit.or_else(|| env("GITHUB_SHA")),
            run_id: env("GITHUB_RUN_ID"),
            ci_url,
            host: env("HOSTNAME")
                .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_string()))
                .unwrap_or_default(),
            user: env("USER").or_else(|| env("USERNAME")).unwrap_or_default(),
            pid: std::process::id(),
        }
    }

    /// One line: the run, else the host, user and process.
    pub fn describe(&self) -> String {
        let who = match (&self.ci_url, &self.run_id) {
            (Some(url), _) => url.clone(),
            (None, Some(id)) => format!("run {id}"),
            _ => format!("{}@{} (pid {})", self.user, self.host, self.pid),
        };
        let commit = self.commit.as_deref().map(|c| format!(" of {}", &c[..c.len().min(12)])).unwrap_or_default();
        format!("`fgdeploy {}`{commit} by {who}", self.command)
    }
}

/// What a run created, as it went: what a later run needs to know of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Journal {
    pub image: Option<String>,
    pub digest: Option<String>,
    pub migration_task: Option<String>,
    pub revision: Option<String>,
    pub deployment: Option<String>,
    pub service_deployment_arn: Option<String>,
    /// Blue/green: where the deployment stood at its gate, last seen (an ECS-native lifecycle
    /// stage, or CodeDeploy's status and traffic split).
    pub gate: Option<String>,
    /// How the run ended (`released`, `rolled_back`, …), once it did.
    pub outcome: Option<String>,
    /// The canary judge's green target group (#29), as read before the release: a resumed run
    /// finds the listener rule mid-shift and could not tell it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_green: Option<String>,
}

/// How a lease was given back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Released {
    pub at: f64,
    /// `finished` (its run ended), or `broken by …` (`fgdeploy lock break`).
    pub how: String,
}

/// The lease object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LeaseRecord {
    /// `<cluster>/<service>`.
    pub service: String,
    pub holder: Holder,
    /// The stage the run reached.
    pub phase: String,
    pub started: f64,
    pub renewed: f64,
    pub expires: f64,
    pub released: Option<Released>,
    pub journal: Journal,
    /// A new value on every write. S3's ETag of a plain PUT is the MD5 of the body: two writes
    /// of identical bytes would share an ETag, and a stale `If-Match` would still match.
    #[serde(default)]
    pub write: String,
}

/// A lease's state, as a reader at `now` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeaseState {
    /// No lease was ever written for the service.
    Free,
    Held,
    /// Its holder stopped renewing it (a dead runner): the next run takes it over.
    Expired,
    Released,
}

impl LeaseRecord {
    pub fn state(&self, now: f64) -> LeaseState {
        match (&self.released, self.expires <= now) {
            (Some(_), _) => LeaseState::Released,
            (None, true) => LeaseState::Expired,
            (None, false) => LeaseState::Held,
        }
    }
}

/// Where a service's lease lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeaseKey {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) ttl: Duration,
    pub(crate) wait: Duration,
}

impl LeaseKey {
    /// The deployspec's `[lock]`, for its service (None: no `[lock]`).
    pub(crate) fn of(spec: &Spec) -> Option<LeaseKey> {
        let l = spec.file.lock.as_ref()?;
        let cluster = spec.cluster().rsplit('/').next().unwrap_or(spec.cluster());
        Some(LeaseKey {
            bucket: l.bucket.clone(),
            key: format!("{}/{cluster}/{}.json", l.prefix, spec.service()),
            ttl: l.ttl,
            wait: l.wait,
        })
    }
}

/// A lease this run holds.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub(crate) at: LeaseKey,
    pub(crate) etag: String,
    pub(crate) record: LeaseRecord,
    /// The record of a run that ended without finishing (its lease expired, or was broken
    /// before it said how it ended): what this run may resume or must deal with.
    pub(crate) inherited: Option<LeaseRecord>,
}

/// What a run does with an unfinished run's journal (`lock.on_stale` for another commit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Resume {
    /// Nothing unfinished: a release as usual.
    #[default]
    Fresh,
    /// The same commit's release had started this deployment: re-attach to it by its id.
    Deployment { id: String, phase: String, canary_green: Option<String> },
    /// The same commit's release had registered this revision (no deployment yet): deploy it,
    /// register nothing new; the migration task it had started, if any, gives its verdict.
    Revision { arn: String, migration_task: Option<String>, phase: String },
    /// The same commit's release had started this migration task (nothing registered yet): its
    /// verdict, not a second run.
    Migration { task: String, phase: String },
    /// The same commit's release died before its journal named anything it created: it may
    /// have registered a revision (found as the family's newest, identical to the plan's) or
    /// started its migration (found by `startedBy`) in the one call before the journal's write.
    Unjournaled { phase: String },
    /// Another commit's release did not finish: the deployment (or the revision) it had started.
    Stale { holder: String, deployment: Option<String>, revision: Option<String>, phase: String },
}

impl Resume {
    /// The revision the dead run registered, to deploy instead of registering another.
    pub(crate) fn revision(&self) -> Option<&str> {
        match self {
            Resume::Revision { arn, .. } => Some(arn),
            _ => None,
        }
    }

    /// The migration task the dead run started, whose verdict stands for this run's migration.
    pub(crate) fn migration_task(&self) -> Option<&str> {
        match self {
            Resume::Revision { migration_task, .. } => migration_task.as_deref(),
            Resume::Migration { task, .. } => Some(task),
            _ => None,
        }
    }

    /// From the unfinished record this run took over (pure). `commit` is this run's.
    pub(crate) fn of(inherited: Option<&LeaseRecord>, command: &str, commit: Option<&str>) -> Resume {
        let Some(r) = inherited.filter(|r| r.journal.outcome.is_none() && matches!(r.holder.command.as_str(), "release" | "create")) else {
            return Resume::Fresh;
        };
        let phase = r.phase.clone();
        let j = &r.journal;
        let same = command == r.holder.command && commit.is_some() && r.holder.commit.as_deref() == commit;
        match (same, &j.deployment, &j.revision, &j.migration_task) {
            (true, Some(id), _, _) => Resume::Deployment { id: id.clone(), phase, canary_green: j.canary_green.clone() },
            (true, None, Some(arn), task) => Resume::Revision { arn: arn.clone(), migration_task: task.clone(), phase },
            (true, None, None, Some(task)) => Resume::Migration { task: task.clone(), phase },
            (true, None, None, None) => Resume::Unjournaled { phase },
            (false, deployment, revision, _) => {
                Resume::Stale { holder: r.holder.describe(), deployment: deployment.clone(), revision: revision.clone(), phase }
            }
        }
    }
}

/// The lease's status (`fgdeploy lock status`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LockStatus {
    pub bucket: String,
    pub key: String,
    pub state: LeaseState,
    pub record: Option<LeaseRecord>,
}

pub(crate) fn parse(at: &LeaseKey, s: &Stored) -> Result<LeaseRecord> {
    serde_json::from_slice(&s.body).map_err(|e| {
        Error::usage(
            format!("s3://{}/{} is not an fgdeploy lease ({e})", at.bucket, at.key),
            "remove that object (or point [lock] prefix elsewhere); fgdeploy writes only its own leases there",
        )
    })
}

/// The record as written: with a write token of its own (see [`LeaseRecord::write`]).
pub(crate) fn body(r: &LeaseRecord) -> Vec<u8> {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let mut r = r.clone();
    r.write = format!("{}-{n}-{nanos}", std::process::id());
    serde_json::to_vec_pretty(&r).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(command: &str, commit: Option<&str>, journal: Journal) -> LeaseRecord {
        LeaseRecord {
            service: "demo/web".into(),
            holder: Holder { command: command.into(), commit: commit.map(str::to_string), ..Default::default() },
            phase: "deploy".into(),
            started: 0.0,
            renewed: 0.0,
            expires: 0.0,
            released: None,
            journal,
            write: String::new(),
        }
    }

    /// #27: what a re-run resumes, from the dead run's journal: the same commit continues from
    /// its last phase (deployment, revision, migration, or what its last call may have made);
    /// another commit deals with it as stale; a finished run or another command leaves nothing.
    #[test]
    fn the_journal_says_what_a_rerun_resumes() {
        let dep = Journal { deployment: Some("ecs-svc/1".into()), revision: Some("web:3".into()), ..Default::default() };
        let rev = Journal { revision: Some("web:3".into()), migration_task: Some("t1".into()), ..Default::default() };
        let mig = Journal { migration_task: Some("t1".into()), ..Default::default() };
        let done = Journal { outcome: Some("deployed".into()), ..dep.clone() };
        let of = |r: &LeaseRecord, commit: Option<&str>| Resume::of(Some(r), "release", commit);
        let a = Some("aaa");
        assert!(matches!(of(&record("release", a, dep.clone()), a), Resume::Deployment { id, .. } if id == "ecs-svc/1"));
        let r = of(&record("release", a, rev), a);
        assert_eq!((r.revision(), r.migration_task()), (Some("web:3"), Some("t1")));
        assert_eq!(of(&record("release", a, mig), a).migration_task(), Some("t1"));
        assert!(matches!(of(&record("release", a, Journal::default()), a), Resume::Unjournaled { .. }));
        assert!(matches!(of(&record("release", a, dep.clone()), Some("bbb")), Resume::Stale { deployment: Some(_), .. }));
        assert!(matches!(of(&record("release", None, dep.clone()), None), Resume::Stale { .. }), "no commit: never the same release");
        assert_eq!(of(&record("release", a, done), a), Resume::Fresh, "a finished run");
        assert_eq!(of(&record("scale", a, dep), a), Resume::Fresh, "not a release");
        assert_eq!(Resume::of(None, "release", a), Resume::Fresh);
    }
}
