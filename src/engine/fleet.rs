//! Fleet releases: many deployspecs in one run. The stages before the deployment run one
//! service at a time, in `depends_on` order (so migrations run in the declared order and an image
//! shared by several specs is built once: later specs find it in ECR); then the deployments run
//! in parallel, at most `parallel` at once, sharing one AWS client and rate budget. A failure
//! rolls back that service; `fail-fast` also stops (and rolls back) the others in flight;
//! `all-or-nothing` also rolls back the services that succeeded.

use super::{Engine, EventSink, Interrupt, ReleaseOptions};
use crate::error::{Error, InputError, exit};
use crate::ports::Ports;
use crate::spec::{OnInterrupt, Spec};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FleetPolicy {
    /// Each service stands alone: a failure rolls back that service only.
    #[default]
    Independent,
    /// The first failure stops and rolls back the deployments still in flight; services not
    /// yet started are skipped.
    FailFast,
    /// Any failure rolls back every service of the fleet, including those that succeeded.
    AllOrNothing,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FleetOutcome {
    pub service: String,
    pub(crate) deployspec: String,
    pub outcome: String,
    pub(crate) exit_code: i32,
    pub(crate) message: String,
    pub(crate) task_definition: Option<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FleetReport {
    pub outcomes: Vec<FleetOutcome>,
    pub exit_code: i32,
    pub(crate) api_calls: BTreeMap<String, u64>,
    pub api_calls_total: u64,
    pub secs: f64,
}

/// Fail-fast: the first rollback anywhere stops the others at once (not when that service's
/// own rollback has finished).
struct FailFast {
    inner: Arc<dyn EventSink>,
    stop: Interrupt,
}

impl EventSink for FailFast {
    fn emit(&self, at: f64, service: &str, event: &super::Event) {
        if matches!(event, super::Event::RollbackStarted { .. }) {
            self.stop.trigger();
        }
        self.inner.emit(at, service, event);
    }
}

/// Worst first: the fleet's exit code is the most severe of its services'.
fn severity(code: i32) -> i32 {
    match code {
        exit::MANUAL_ACTION => 100,
        exit::INTERNAL => 90,
        exit::ROLLED_BACK => 80,
        exit::MIGRATION_FAILED => 70,
        exit::BUILD_FAILED => 60,
        exit::GATE_BYPASSED => 58,
        exit::SUPERSEDED => 57,
        exit::DETACHED => 55,
        exit::LOCKED => 52,
        exit::CONFLICT => 50,
        exit::AWS => 40,
        exit::INPUT => 30,
        exit::CHANGES => 10,
        _ => 0,
    }
}

/// `depends_on` order; a cycle or an unknown name is an input error.
pub(super) fn order(specs: &[Spec]) -> Result<Vec<usize>, InputError> {
    let names: Vec<&str> = specs.iter().map(|s| s.service()).collect();
    for s in specs {
        for d in &s.file.service.depends_on {
            if !names.contains(&d.as_str()) {
                return Err(InputError::new(
                    &s.path,
                    format!("depends_on names {d:?}, which is not released in this run"),
                    format!("release it too (-f), or remove it; services here: {}", names.join(", ")),
                )
                .at_field("service.depends_on"));
            }
        }
    }
    let mut done: Vec<usize> = Vec::new();
    while done.len() < specs.len() {
        let next = (0..specs.len())
            .find(|i| !done.contains(i) && specs[*i].file.service.depends_on.iter().all(|d| done.iter().any(|j| specs[*j].service() == d)));
        match next {
            Some(i) => done.push(i),
            None => {
                let stuck: Vec<&str> = (0..specs.len()).filter(|i| !done.contains(i)).map(|i| specs[i].service()).collect();
                return Err(InputError::new(
                    &specs[stuck.len().min(specs.len()) - 1].path,
                    format!("depends_on has a cycle among {}", stuck.join(", ")),
                    "remove one of the dependencies",
                )
                .at_field("service.depends_on"));
            }
        }
    }
    Ok(done)
}

/// `dry_run`: a planned service with changes exits 2, as `plan` does.
fn outcome_of(spec: &Spec, r: &Result<super::ReleaseReport, Error>, dry_run: bool) -> FleetOutcome {
    let (outcome, exit_code, message, td) = match r {
        Ok(rep) => (
            rep.outcome.to_string(),
            rep.exit_code(dry_run),
            format!("{} {}", rep.outcome, rep.task_definition.clone().unwrap_or_default()).trim_end().to_string(),
            rep.task_definition.clone(),
        ),
        Err(e) => (e.kind().to_string(), e.exit_code(), e.to_string(), None),
    };
    FleetOutcome {
        service: spec.service().to_string(),
        deployspec: spec.path.display().to_string(),
        outcome,
        exit_code,
        message,
        task_definition: td,
    }
}

/// The ports of each service of a fleet: one AWS client per region (a fleet may span regions),
/// or one simulated account for all.
#[derive(Clone)]
pub struct FleetPorts {
    by_spec: Vec<Ports>,
}

impl FleetPorts {
    /// The same ports for `n` services.
    pub(crate) fn shared(ports: &Ports, n: usize) -> FleetPorts {
        FleetPorts { by_spec: vec![ports.clone(); n.max(1)] }
    }
    /// One entry per service, in the order of the specs.
    pub(crate) fn per_spec(by_spec: Vec<Ports>) -> FleetPorts {
        FleetPorts { by_spec }
    }
    /// The ports of the `i`-th service.
    pub(crate) fn for_spec(&self, i: usize) -> &Ports {
        &self.by_spec[i.min(self.by_spec.len() - 1)]
    }
    fn get(&self, i: usize) -> &Ports {
        self.for_spec(i)
    }
    /// Every call of every client (each counter once).
    pub(crate) fn calls(&self) -> BTreeMap<String, u64> {
        let mut seen: Vec<&crate::ports::CallCounter> = Vec::new();
        let mut all = BTreeMap::new();
        for p in &self.by_spec {
            if seen.iter().any(|c| c.same(&p.calls)) {
                continue;
            }
            seen.push(&p.calls);
            for (op, n) in p.calls.snapshot() {
                *all.entry(op).or_insert(0) += n;
            }
        }
        all
    }
}

/// What one service's deployment in a fleet needs: its ports, its turn, and who can stop it.
struct Turn {
    ports: Ports,
    sink: Arc<dyn EventSink>,
    opts: ReleaseOptions,
    sem: Arc<tokio::sync::Semaphore>,
    early: Option<tokio::sync::OwnedSemaphorePermit>,
    mine: Interrupt,
    outer: Interrupt,
    all: Interrupt,
    /// The service's lease, taken before its preparation (phase 1).
    lease: Option<super::lease::record::Held>,
}

/// A service made ready in phase 1, with the lease its preparation took.
type ReadyService = (usize, Box<super::deploy::ReadyRelease>, Option<super::lease::record::Held>);

/// Renew the leases of the services already prepared while the next one prepares (a long build
/// or migration must not let them expire before their deployments). A lease lost meanwhile is
/// dropped: that service's deployment then stops at its start (exit 12), before any change.
async fn renew_ready(fleet: &FleetPorts, sink: &Arc<dyn EventSink>, specs: &[Spec], ready: &mut [ReadyService]) {
    for (i, _, lease) in ready.iter_mut() {
        if lease.is_none() {
            continue;
        }
        let engine = holding(fleet.get(*i), sink, &specs[*i], lease.take()).await;
        let _ = engine.renew_lease(false).await;
        *lease = engine.lease.lock().await.take();
    }
}

/// Give back a lease taken for a service of the fleet (an engine of its own, for the call).
async fn give_back(ports: &Ports, sink: &Arc<dyn EventSink>, spec: &Spec, lease: Option<super::lease::record::Held>, outcome: &str) {
    if lease.is_some() {
        holding(ports, sink, spec, lease).await.give_back_lease(outcome).await;
    }
}

/// An engine for `spec`'s service holding `lease` (to renew or give back a fleet's lease).
async fn holding(ports: &Ports, sink: &Arc<dyn EventSink>, spec: &Spec, lease: Option<super::lease::record::Held>) -> Engine {
    let mut engine = Engine::new(ports.clone(), sink.clone(), Interrupt::default());
    engine.service = spec.service().to_string();
    *engine.lease.lock().await = lease;
    engine
}

/// One service's deployment in a fleet: wait for its turn, deploy, report its outcome.
async fn deploy_one(i: usize, spec: Spec, r: Box<super::deploy::ReadyRelease>, turn: Turn) -> (usize, FleetOutcome) {
    let Turn { ports, sink, opts, sem, early, mine, outer, all, lease } = turn;
    let permit = match early {
        Some(p) => Ok(p),
        None => {
            let p = sem.acquire_owned().await;
            ports.clock.join();
            p
        }
    };
    if outer.is_set() || all.is_set() {
        ports.clock.leave();
        let why = if outer.is_set() { "interrupted" } else { "another service failed first" };
        give_back(&ports, &sink, &spec, lease, "skipped").await;
        return (i, skipped(&spec, format!("registered, not deployed: {why} before its turn")));
    }
    let mut engine = Engine::new(ports.clone(), sink, mine.clone());
    engine.service = spec.service().to_string();
    let leased = lease.is_some();
    *engine.lease.lock().await = lease;
    // The lease must still be this run's before the deployment starts (it may have waited for
    // its turn longer than `lock.ttl`).
    let lost = if leased { engine.renew_lease(true).await.err() } else { None };
    // Ctrl-C and a fail-fast stop both reach this engine.
    let relay = tokio::spawn({
        let mine = mine.clone();
        async move {
            tokio::select! {
                _ = outer.wait() => mine.trigger(),
                _ = all.wait() => mine.trigger(),
            }
        }
    });
    let mut stages = Vec::new();
    let result = if let Some(e) = lost {
        Err(e)
    } else if permit.is_ok() {
        super::release::Release(&engine).deploy_prepared(&spec, &opts, super::release::Prepared::Ready(r), &mut stages).await
    } else {
        Err(Error::Internal("semaphore closed".into()))
    };
    relay.abort();
    engine.give_back_lease(result.as_ref().map_or_else(|e| e.kind(), |r| r.outcome)).await;
    ports.clock.leave();
    (i, outcome_of(&spec, &result, false))
}

/// A service that was not deployed, and why.
fn skipped(spec: &Spec, message: String) -> FleetOutcome {
    FleetOutcome {
        service: spec.service().into(),
        deployspec: spec.path.display().to_string(),
        outcome: "skipped".into(),
        exit_code: exit::OK,
        message,
        task_definition: None,
    }
}

/// all-or-nothing: roll back every service that succeeded, to the revision it served before.
async fn undo_successes(
    fleet: &FleetPorts,
    sink: &Arc<dyn EventSink>,
    specs: &[Spec],
    previous: &BTreeMap<usize, String>,
    outcomes: &mut [Option<FleetOutcome>],
) {
    for (i, o) in outcomes.iter_mut().enumerate() {
        let Some(o) = o else { continue };
        if o.exit_code == exit::OK && o.outcome == "deployed" {
            let mut engine = Engine::new(fleet.get(i).clone(), sink.clone(), Interrupt::default());
            let to = previous.get(&i).cloned();
            match engine.rollback_command(&specs[i], &super::RollbackOptions { to: to.clone(), ..Default::default() }).await {
                Ok(_) => {
                    o.outcome = "rolled_back".into();
                    o.exit_code = exit::ROLLED_BACK;
                    o.message = format!("rolled back because another service failed (all-or-nothing); serving {}", to.unwrap_or_default());
                }
                Err(e) => {
                    o.outcome = "manual_action_needed".into();
                    o.exit_code = exit::MANUAL_ACTION;
                    o.message = format!("all-or-nothing rollback failed: {e}");
                }
            }
        }
    }
}

/// A fleet on one set of ports (one region, or the simulator).
pub async fn release_fleet(
    ports: &Ports,
    sink: Arc<dyn EventSink>,
    interrupt: &Interrupt,
    specs: &[Spec],
    opts: &ReleaseOptions,
    parallel: usize,
    policy: FleetPolicy,
) -> Result<FleetReport, Error> {
    release_fleet_in(&FleetPorts::shared(ports, specs.len()), sink, interrupt, specs, opts, (parallel, policy)).await
}

/// Phase 1: build, migrate and register one service at a time, in dependency order. Returns the
/// services ready to deploy and whether one failed.
async fn prepare_in_order(
    fleet: &FleetPorts,
    sink: &Arc<dyn EventSink>,
    interrupt: &Interrupt,
    specs: &[Spec],
    opts: &ReleaseOptions,
    policy: FleetPolicy,
    outcomes: &mut [Option<FleetOutcome>],
) -> Result<(Vec<ReadyService>, bool), Error> {
    let mut ready = Vec::new();
    let mut failed = false;
    for i in order(specs)? {
        let spec = &specs[i];
        renew_ready(fleet, sink, specs, &mut ready).await;
        if failed && policy != FleetPolicy::Independent {
            outcomes[i] = Some(skipped(spec, "skipped: another service failed first".into()));
            continue;
        }
        let mut engine = Engine::new(fleet.get(i).clone(), sink.clone(), interrupt.clone());
        engine.service = spec.service().to_string();
        let mut stages = Vec::new();
        // The service's lease, before its first mutating call; held until its deployment ends.
        // Preparing, this engine is one of the virtual clock's participants (another fleet may
        // run at the same time); a real clock ignores it.
        engine.ports.clock.join();
        let leased = if opts.dry_run { Ok(()) } else { engine.take_lease(spec, "release", &opts.lock).await };
        let prepared = match leased {
            Ok(()) => super::release::Release(&engine).prepare(spec, opts, &mut stages).await,
            Err(e) => Err(e),
        };
        engine.ports.clock.leave();
        match prepared {
            Ok(super::release::Prepared::Ready(r)) => ready.push((i, r, engine.lease.lock().await.take())),
            Ok(super::release::Prepared::Done(rep)) => {
                engine.give_back_lease(rep.outcome).await;
                outcomes[i] = Some(outcome_of(spec, &Ok(*rep), opts.dry_run));
            }
            Err(e) => {
                engine.give_back_lease(e.kind()).await;
                failed = true;
                outcomes[i] = Some(outcome_of(spec, &Err(e), opts.dry_run));
            }
        }
    }
    Ok((ready, failed))
}

/// A fleet whose services may live in different regions: each service's calls go to its own.
pub async fn release_fleet_in(
    fleet: &FleetPorts,
    sink: Arc<dyn EventSink>,
    interrupt: &Interrupt,
    specs: &[Spec],
    opts: &ReleaseOptions,
    (parallel, policy): (usize, FleetPolicy),
) -> Result<FleetReport, Error> {
    let ports = fleet.get(0);
    let t0 = ports.clock.now();
    let mut outcomes: Vec<Option<FleetOutcome>> = vec![None; specs.len()];
    let (mut ready, mut failed) = prepare_in_order(fleet, &sink, interrupt, specs, opts, policy, &mut outcomes).await?;
    // Phase 2: the deployments, in parallel.
    let semaphore = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let stop_all = Interrupt::default();
    let sink: Arc<dyn EventSink> =
        if policy == FleetPolicy::FailFast { Arc::new(FailFast { inner: sink.clone(), stop: stop_all.clone() }) } else { sink };
    let mut set = tokio::task::JoinSet::new();
    let mut previous: BTreeMap<usize, String> = BTreeMap::new();
    if failed && policy != FleetPolicy::Independent {
        for (i, _, lease) in ready.drain(..) {
            give_back(fleet.get(i), &sink, &specs[i], lease, "skipped").await;
            outcomes[i] = Some(skipped(&specs[i], "registered, not deployed: another service failed first".into()));
        }
    }
    for (i, r, lease) in ready {
        previous.insert(i, r.previous_td.clone());
        let mut spec = specs[i].clone();
        if policy == FleetPolicy::FailFast {
            spec.file.rollback.on_interrupt = OnInterrupt::Rollback;
        }
        let (ports, sink, opts, sem) = (fleet.get(i).clone(), sink.clone(), opts.clone(), semaphore.clone());
        let mine = Interrupt::default();
        let (outer, all) = (interrupt.clone(), stop_all.clone());
        // A shared virtual clock advances only when every participant sleeps: a service waiting
        // for its turn is not one (it would never sleep, and the clock would stop). The first
        // `parallel` take their permits here, in order; the rest join once they have one.
        let early = sem.clone().try_acquire_owned().ok();
        if early.is_some() {
            ports.clock.join();
        }
        set.spawn(deploy_one(i, spec, r, Turn { ports, sink, opts, sem, early, mine, outer, all, lease }));
    }
    while let Some(joined) = set.join_next().await {
        let (i, o) = joined.map_err(|e| Error::Internal(format!("a fleet task failed: {e}")))?;
        if o.exit_code != exit::OK && policy == FleetPolicy::FailFast {
            stop_all.trigger();
        }
        failed |= o.exit_code != exit::OK;
        outcomes[i] = Some(o);
    }
    if failed && policy == FleetPolicy::AllOrNothing {
        undo_successes(fleet, &sink, specs, &previous, &mut outcomes).await;
    }
    Ok(fleet_report(fleet, outcomes.into_iter().flatten().collect(), ports.clock.now() - t0))
}

/// The fleet's outcome: the most severe exit code of its services, and every AWS call.
fn fleet_report(fleet: &FleetPorts, outcomes: Vec<FleetOutcome>, secs: f64) -> FleetReport {
    let exit_code = outcomes.iter().map(|o| o.exit_code).max_by_key(|c| severity(*c)).unwrap_or(exit::OK);
    FleetReport { exit_code, api_calls_total: fleet.calls().values().sum(), api_calls: fleet.calls(), secs, outcomes }
}
