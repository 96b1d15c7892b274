//! One-off Fargate tasks: the migration gate and `fgdeploy run`. RunTask with an idempotency
//! token, our own wait loop (no SDK waiter), logs streamed from CloudWatch Logs, and a strict
//! verdict: success only when the task stopped with EssentialContainerExited and every
//! essential container exited 0.

use super::Event;
use super::watch::{Cut, Limit, Next, Pause, Watched};
use crate::error::{Error, Result};
use crate::ports::{Network, PortError, RunTask, Task};
use crate::states::TaskStatus;
use crate::taskdef::TaskDefinition;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct OneOff {
    pub(crate) cluster: String,
    pub(crate) task_definition: String,
    /// The definition behind `task_definition` (essential containers, log configuration).
    pub(crate) definition: TaskDefinition,
    pub(crate) container: String,
    pub(crate) command: Vec<String>,
    pub(crate) network: Option<Network>,
    pub(crate) capacity_providers: Vec<String>,
    pub(crate) platform_version: Option<String>,
    pub(crate) started_by: String,
    pub(crate) client_token: String,
    pub(crate) timeout: Duration,
    /// Where `timeout` comes from (named when it passes).
    pub(crate) timeout_setting: super::TimeoutSetting,
    /// What to call it in messages ("migration", "task").
    pub(crate) label: String,
}

/// How a one-off task ended (it did run to STOPPED).
#[derive(Debug, Clone)]
pub(crate) struct OneOffResult {
    pub(crate) task_arn: String,
    /// The container the one-off runs (RunTask's override): its exit code is the verdict.
    pub(crate) container: String,
    pub(crate) stop_code: Option<crate::states::StopCode>,
    pub(crate) stopped_reason: Option<String>,
    pub(crate) exit_codes: Vec<(String, Option<i32>)>,
    /// Each container's `reason` (e.g. `OutOfMemoryError: Container killed due to memory usage`).
    pub(crate) reasons: Vec<(String, String)>,
    pub(crate) essential: Vec<String>,
    /// The last log lines (for the failure summary).
    pub(crate) last_lines: Vec<String>,
}

impl OneOffResult {
    /// The verdict comes from the named container: it exited 0, and the task stopped because
    /// an essential container exited. When it exits, ECS stops the task and sends SIGTERM (then
    /// SIGKILL) to every other container, so an essential sidecar's 143 or 137 is the stop, not
    /// a failure. A sidecar that ended on its own — another non-zero code, or killed for memory —
    /// fails the task: it died before the named container ended, which then ended by the stop.
    pub(crate) fn succeeded(&self) -> bool {
        self.stop_code == Some(crate::states::StopCode::EssentialContainerExited)
            && self.exit_code_of(&self.container) == Some(0)
            && self.essential.iter().filter(|e| **e != self.container).all(|e| self.sidecar_ended_by_the_stop(e))
    }

    /// An essential container other than the named one exited 0, or by the stop's SIGTERM (143)
    /// or SIGKILL (137) and not for memory.
    fn sidecar_ended_by_the_stop(&self, name: &str) -> bool {
        let oom = self.reasons.iter().any(|(n, r)| n == name && r.contains("OutOfMemory"));
        matches!(self.exit_code_of(name), Some(0 | 137 | 143)) && !oom
    }

    pub(crate) fn exit_code_of(&self, container: &str) -> Option<i32> {
        self.exit_codes.iter().find(|(n, _)| n == container).and_then(|(_, c)| *c)
    }

    /// One paragraph: why it failed, the exit codes, the last log lines.
    pub(crate) fn summary(&self, label: &str) -> String {
        let codes: Vec<String> = self
            .exit_codes
            .iter()
            .map(|(n, c)| {
                let why = if !self.essential.contains(n) {
                    " (not essential)"
                } else if *n != self.container && self.sidecar_ended_by_the_stop(n) && *c != Some(0) {
                    " (stopped with the task)"
                } else {
                    ""
                };
                format!("{n}{why}={}", c.map_or("none (never ran)".to_string(), |c| c.to_string()))
            })
            .collect();
        let mut s = format!(
            "{label} task {} stopped ({}: {}); exit codes: {}",
            self.task_arn.rsplit('/').next().unwrap_or(&self.task_arn),
            self.stop_code.as_ref().map_or("no stop code", |c| c.as_str()),
            self.stopped_reason.as_deref().unwrap_or("no reason"),
            codes.join(", ")
        );
        if !self.last_lines.is_empty() {
            s.push_str(&format!("\n  last log lines:\n    {}", self.last_lines.join("\n    ")));
        }
        s
    }
}

/// `[A-Za-z0-9-/_]`, at most `max` characters.
pub(super) fn sanitize(s: &str, max: usize) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || "-/_".contains(c) { c } else { '-' }).take(max).collect()
}

/// awslogs targets per container: (container, group, stream prefix); and where other logs go.
fn log_targets(td: &TaskDefinition) -> (Vec<(String, String, String)>, Vec<String>) {
    let mut targets = Vec::new();
    let mut elsewhere = Vec::new();
    for c in &td.container_definitions {
        match &c.log_configuration {
            Some(l) if l.log_driver == "awslogs" => {
                let o = l.options.clone().unwrap_or_default();
                match (o.get("awslogs-group"), o.get("awslogs-stream-prefix")) {
                    (Some(g), Some(p)) => targets.push((c.name.clone(), g.clone(), p.clone())),
                    (Some(g), None) => elsewhere
                        .push(format!("{}: awslogs group {g} without awslogs-stream-prefix (stream named by task id only on EC2)", c.name)),
                    _ => elsewhere.push(format!("{}: awslogs without a group", c.name)),
                }
            }
            Some(l) => elsewhere.push(format!("{}: log driver {} (see its destination)", c.name, l.log_driver)),
            None => elsewhere.push(format!("{}: no log configuration (output is not kept)", c.name)),
        }
    }
    (targets, elsewhere)
}

/// A one-off task looked at through [`Engine::drive`]: its logs and DescribeTasks a look, 2 s
/// apart and then slower (up to 6 s). At the deadline (or on Ctrl-C) StopTask; after a deadline
/// the task is followed two more minutes to its exit codes, after Ctrl-C not at all.
struct OneOffWatch<'a> {
    e: OneOffs<'a>,
    o: &'a OneOff,
    task: Task,
    essential: Vec<String>,
    tail: LogTail,
    started: f64,
    deadline: f64,
    stop_sent: bool,
    last_status: TaskStatus,
    interval: Duration,
}

impl OneOffWatch<'_> {
    fn fail(&self, m: String) -> Error {
        Error::MigrationFailed(m)
    }

    /// StopTask, said either way (a failed StopTask leaves the task to its own end).
    async fn stop(&mut self, why: &str) {
        let (e, o, arn) = (self.e, self.o, &self.task.arn);
        let reason = format!("fgdeploy: {} {why}", o.label);
        match e.retry("ecs:StopTask", || e.ports.ecs.stop_task(&o.cluster, arn, &reason)).await {
            Ok(()) => e.warn(format!("the {} {why}; StopTask sent for {}", o.label, self.task.id())),
            Err(err) => e.warn(format!("the {} {why}; StopTask failed: {err}", o.label)),
        }
        self.stop_sent = true;
    }
}

impl Watched for OneOffWatch<'_> {
    type Out = OneOffResult;

    fn limit(&self) -> Limit {
        if self.stop_sent {
            Limit { at: self.deadline + 120.0, setting: "the two minutes after StopTask", what: "the task to stop", interruptible: false }
        } else {
            Limit { at: self.deadline, setting: self.o.timeout_setting.name(), what: "the task", interruptible: true }
        }
    }

    async fn look(&mut self, now: f64) -> Result<Next<OneOffResult>> {
        let (e, o) = (self.e, self.o);
        let task_id = self.task.id().to_string();
        e.pump_logs(&mut self.tail).await;
        let tasks = e.ports.ecs.describe_tasks(&o.cluster, std::slice::from_ref(&self.task.arn)).await.map_err(|err| match err {
            err if err.is_retryable() => Error::Aws(err),
            err => self.fail(format!("cannot follow the {} task {task_id}: {err}", o.label)),
        })?;
        let changed = match tasks.into_iter().next() {
            Some(t) if t.last_status == TaskStatus::Stopped => {
                return e.one_off_ended(o, &t, (&self.essential, &mut self.tail), self.stop_sent).await.map(Next::Done);
            }
            Some(t) if t.last_status != self.last_status => {
                e.info(format!("{} {task_id}: {}", o.label, t.last_status));
                self.last_status = t.last_status;
                true
            }
            Some(_) => false,
            None if now - self.started > 120.0 => {
                return Err(self.fail(format!("{} task {task_id} is MISSING two minutes after RunTask", o.label)));
            }
            None => false, // eventual consistency right after RunTask
        };
        let pause = Pause::after(self.interval, changed);
        self.interval = (self.interval + Duration::from_secs(1)).min(Duration::from_secs(6));
        Ok(Next::Again(pause))
    }

    async fn cut(&mut self, why: Cut) -> Result<Next<OneOffResult>> {
        let (o, task_id) = (self.o, self.task.id().to_string());
        match why {
            Cut::Interrupt => {
                self.stop("interrupted").await;
                Err(self.fail(format!("interrupted; the {} task {task_id} was stopped and nothing else was changed", o.label)))
            }
            Cut::Deadline if !self.stop_sent => {
                self.stop("timed out").await;
                Ok(Next::Again(Pause::after(self.interval, true)))
            }
            Cut::Deadline => {
                Err(self.fail(format!("the {} timed out and task {task_id} did not stop within two minutes of StopTask", o.label)))
            }
        }
    }
}

struct LogTail {
    streams: Vec<(String, String, Option<String>)>,
    last: VecDeque<String>,
}

crate::engine::engine_part!(
    /// One-off tasks (the migration, `fgdeploy run`) run to their end.
    OneOffs
);

impl OneOffs<'_> {
    /// Run a one-off task to its end. `Err` when it could not run to a verdict (RunTask refused,
    /// never started, MISSING, timed out); `Ok` with the exit codes otherwise.
    pub(crate) async fn run_one_off(&self, o: &OneOff) -> Result<OneOffResult> {
        let (targets, elsewhere) = log_targets(&o.definition);
        for e in &elsewhere {
            if e.starts_with(&format!("{}:", o.container)) {
                self.info(format!("logs of {}: not streamed — {e}", o.label));
            }
        }
        let essential: Vec<String> =
            o.definition.container_definitions.iter().filter(|c| c.essential != Some(false)).map(|c| c.name.clone()).collect();

        // The deadline counts from the first RunTask: capacity retries spend it too.
        let deadline = self.ports.clock.now() + o.timeout.as_secs_f64();
        let task = self.start_one_off(o, deadline).await?;
        let task_id = task.id().to_string();
        self.emit(Event::TaskStarted { task_id: task_id.clone(), task_definition: o.task_definition.clone(), command: o.command.clone() });
        // A release's journal names its migration task at once: a re-run reads its verdict.
        self.renew_lease(false).await?;

        let started = self.ports.clock.now();
        let tail = LogTail {
            streams: targets.iter().map(|(c, g, p)| (g.clone(), format!("{p}/{c}/{task_id}"), None)).collect(),
            last: VecDeque::new(),
        };
        let mut w = OneOffWatch {
            e: *self,
            o,
            task,
            essential,
            tail,
            started,
            deadline,
            stop_sent: false,
            last_status: TaskStatus::default(),
            interval: Duration::from_secs(2),
        };
        self.drive(&mut w, Duration::ZERO).await
    }

    /// RunTask: retried with the same token on throttling/5xx (idempotent); capacity failures
    /// (no task started: `RESOURCE:*`, "Capacity is unavailable") retried with a fresh token
    /// and back-off, inside the one-off's deadline, waking on Ctrl-C — after an interrupt no
    /// RunTask is sent.
    async fn start_one_off(&self, o: &OneOff, deadline: f64) -> Result<crate::ports::Task> {
        let mut w = CapacityWait { e: *self, o, deadline, tries: 0, backoff: super::backoff::Backoff::capacity() };
        self.drive(&mut w, Duration::ZERO).await
    }

    /// The one-off task stopped: read the last log lines, and judge every essential container.
    async fn one_off_ended(
        &self,
        o: &OneOff,
        t: &crate::ports::Task,
        (essential, tail): (&[String], &mut LogTail),
        stop_sent: bool,
    ) -> Result<OneOffResult> {
        let fail = |m: String| Error::MigrationFailed(m);
        let task_id = t.id().to_string();
        // Logs arrive with a short delay: read until nothing new, a few times.
        for _ in 0..3 {
            self.pause(Duration::from_secs(2)).await;
            if self.pump_logs(tail).await == 0 {
                break;
            }
        }
        let result = finish(t, (&o.container, essential), tail);
        self.emit(Event::TaskStopped {
            task_id: task_id.clone(),
            stop_code: result.stop_code.as_ref().map(ToString::to_string),
            reason: result.stopped_reason.clone(),
            exit_codes: result.exit_codes.clone(),
        });
        if stop_sent {
            return Err(fail(format!(
                "the {} did not finish within {} ({}); StopTask was sent\n  {}",
                o.label,
                o.timeout_setting,
                humantime::format_duration(o.timeout),
                result.summary(&o.label)
            )));
        }
        if result.stop_code == Some(crate::states::StopCode::TaskFailedToStart) || result.exit_codes.iter().all(|(_, c)| c.is_none()) {
            return Err(fail(format!("the {} task never ran: {}", o.label, result.summary(&o.label))));
        }
        Ok(result)
    }

    /// Read new log lines of every stream; returns how many arrived.
    async fn pump_logs(&self, tail: &mut LogTail) -> usize {
        let mut n = 0;
        for (group, stream, token) in tail.streams.iter_mut() {
            for _ in 0..10 {
                match self.ports.logs.log_events(group, stream, token.as_deref()).await {
                    Ok(page) => {
                        let fresh = page.lines.len();
                        for line in page.lines {
                            self.emit(Event::TaskLog { line: line.clone() });
                            tail.last.push_back(line);
                            if tail.last.len() > 20 {
                                tail.last.pop_front();
                            }
                        }
                        n += fresh;
                        // The stream is read to its end when the token stops changing.
                        let same = page.next_token.is_some() && page.next_token == *token;
                        *token = page.next_token;
                        if fresh == 0 || same {
                            break;
                        }
                    }
                    Err(PortError::NotFound { .. }) => break, // not created yet
                    Err(_) => break,
                }
            }
        }
        n
    }
}

/// The RunTask of a one-off; a retry after a capacity failure takes a fresh token (the first
/// started nothing, and the same token would answer the same failure).
fn one_off_request(o: &OneOff, capacity_tries: u32) -> RunTask {
    RunTask {
        cluster: o.cluster.clone(),
        task_definition: o.task_definition.clone(),
        container: o.container.clone(),
        command: o.command.clone(),
        network: o.network.clone(),
        launch_type: o.capacity_providers.is_empty().then(|| "FARGATE".to_string()),
        capacity_providers: o.capacity_providers.clone(),
        platform_version: o.platform_version.clone(),
        started_by: o.started_by.clone(),
        client_token: if capacity_tries == 0 {
            o.client_token.clone()
        } else {
            sanitize(&format!("{}-r{capacity_tries}", o.client_token), 64)
        },
    }
}

fn finish(t: &Task, (container, essential): (&str, &[String]), tail: &LogTail) -> OneOffResult {
    let mut codes: BTreeMap<String, Option<i32>> = BTreeMap::new();
    for c in &t.containers {
        codes.insert(c.name.clone(), c.exit_code);
    }
    OneOffResult {
        task_arn: t.arn.clone(),
        container: container.to_string(),
        reasons: t.containers.iter().filter_map(|c| Some((c.name.clone(), c.reason.clone()?))).collect(),
        stop_code: t.stop_code.clone(),
        stopped_reason: t.stopped_reason.clone(),
        exit_codes: codes.into_iter().collect(),
        essential: essential.to_vec(),
        last_lines: tail.last.iter().cloned().collect(),
    }
}

/// Starting a one-off task through the driver: RunTask a look; a capacity failure ("Capacity is
/// unavailable", `RESOURCE:*`) is retried after the capacity back-off (20, 40, 80, 160 s, … at
/// most 5 minutes, each jittered), inside the task's deadline (a retry whose wait would reach it
/// ends the wait instead: a migration never starts at its deadline), with the driver's
/// heartbeat, and ended by Ctrl-C with no RunTask after it.
struct CapacityWait<'a> {
    e: OneOffs<'a>,
    o: &'a OneOff,
    deadline: f64,
    tries: u32,
    backoff: super::backoff::Backoff,
}

impl CapacityWait<'_> {
    fn fail(&self, m: String) -> Error {
        Error::MigrationFailed(m)
    }
}

impl Watched for CapacityWait<'_> {
    type Out = Task;

    fn limit(&self) -> Limit {
        Limit { at: self.deadline, setting: self.o.timeout_setting.name(), what: "capacity to start the task", interruptible: true }
    }

    async fn look(&mut self, now: f64) -> Result<Next<Task>> {
        let (e, o) = (self.e, self.o);
        let req = one_off_request(o, self.tries);
        let res = e
            .retry("ecs:RunTask", || e.ports.ecs.run_task(&req))
            .await
            .map_err(|er| self.fail(format!("RunTask for the {} failed: {er}", o.label)))?;
        if let Some(t) = res.tasks.into_iter().next() {
            return Ok(Next::Done(t));
        }
        let reasons: Vec<String> = res.failures.iter().map(|(r, d)| if d.is_empty() { r.clone() } else { format!("{r} ({d})") }).collect();
        let capacity = res.failures.iter().any(|(r, _)| r.contains("Capacity is unavailable") || r.starts_with("RESOURCE:"));
        if !capacity {
            let why = if reasons.is_empty() { "no task and no failure reported".into() } else { reasons.join("; ") };
            return Err(self.fail(format!("RunTask started no {} task: {why}", o.label)));
        }
        self.tries += 1;
        let wait = self.backoff.next(now);
        if now + wait.as_secs_f64() >= self.deadline {
            let budget = humantime::format_duration(o.timeout);
            return Err(self.fail(format!(
                "RunTask started no {} task before its deadline ({}, {budget}): {}",
                o.label,
                o.timeout_setting,
                reasons.join("; ")
            )));
        }
        e.warn(format!("RunTask: {}; retrying in {}s (within {})", reasons.join("; "), wait.as_secs(), o.timeout_setting));
        Ok(Next::Again(Pause::after(wait, true)))
    }

    async fn cut(&mut self, why: Cut) -> Result<Next<Task>> {
        let o = self.o;
        Err(self.fail(match why {
            Cut::Interrupt => format!("interrupted before the {} task started; no task runs and nothing else was changed", o.label),
            Cut::Deadline => format!(
                "RunTask started no {} task before its deadline ({}, {})",
                o.label,
                o.timeout_setting,
                humantime::format_duration(o.timeout)
            ),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::states::*;

    fn result(stop: &str, codes: &[(&str, Option<i32>)]) -> OneOffResult {
        OneOffResult {
            task_arn: "arn:t/1".into(),
            container: "app".into(),
            reasons: vec![],
            stop_code: Some(StopCode::from_aws(stop)),
            stopped_reason: None,
            exit_codes: codes.iter().map(|(n, c)| (n.to_string(), *c)).collect(),
            essential: vec!["app".into(), "sidecar".into()],
            last_lines: vec![],
        }
    }

    #[test]
    fn the_named_container_decides_and_a_sidecar_stopped_by_the_task_stop_does_not_fail_it() {
        let ok = |codes: &[(&str, Option<i32>)]| result("EssentialContainerExited", codes).succeeded();
        assert!(ok(&[("app", Some(0)), ("sidecar", Some(0))]));
        // SIGTERM / SIGKILL after the migration container ended: the stop, not a failure.
        assert!(ok(&[("app", Some(0)), ("sidecar", Some(143))]));
        assert!(ok(&[("app", Some(0)), ("sidecar", Some(137))]));
        // A sidecar that ended on its own (another code) is a failure.
        assert!(!ok(&[("app", Some(0)), ("sidecar", Some(1))]));
        assert!(!ok(&[("app", Some(0)), ("sidecar", None)]));
        // Killed for memory is not the stop's SIGKILL.
        let mut oom = result("EssentialContainerExited", &[("app", Some(0)), ("sidecar", Some(137))]);
        oom.reasons = vec![("sidecar".into(), "OutOfMemoryError: Container killed due to memory usage".into())];
        assert!(!oom.succeeded());
        // The migration container's own 143 is a failure.
        assert!(!ok(&[("app", Some(143)), ("sidecar", Some(0))]));
    }

    #[test]
    fn every_essential_container_must_exit_zero() {
        assert!(result("EssentialContainerExited", &[("app", Some(0)), ("sidecar", Some(0))]).succeeded());
        assert!(!result("EssentialContainerExited", &[("app", Some(3)), ("sidecar", Some(0))]).succeeded());
        assert!(!result("EssentialContainerExited", &[("app", None), ("sidecar", Some(0))]).succeeded());
        assert!(!result("TaskFailedToStart", &[("app", Some(0)), ("sidecar", Some(0))]).succeeded());
        assert_eq!(sanitize("fgdeploy migrate v1.2+x", 128), "fgdeploy-migrate-v1-2-x");
    }
}
