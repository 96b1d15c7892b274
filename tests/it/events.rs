//! #28: watching by events. The pattern against AWS's documented example events (verbatim, in
//! `tests/fixtures/replay-verbatim/event-*.json`); on the simulator (virtual time, its seeded
//! delivery model): events wake the watch, duplicates and losses change nothing, refused
//! permissions fall back to polling said once, every exit path deletes the rule and queue, and a
//! killed run's leftovers are deleted by the next run but another run's live ones are not. The
//! request shapes and the delivery through a rule to a queue are shown on moto
//! (`moto::the_watch_rule_and_queue_speak_the_wire_protocol`).

use crate::harness::spec_dir;
use fgdeploy::engine::{Engine, Event, Interrupt, Recorder, ReleaseOptions};
use fgdeploy::eventpattern::{Notice, matches, pattern};
use fgdeploy::sandbox::seeded;
use fgdeploy::sim::{Faults, Mutation, Sim};
use fgdeploy::spec::{Spec, WatchMode};
use std::sync::Arc;

fn fixture(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replay-verbatim").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("JSON")
}

const DOC_SERVICE: &str = "arn:aws:ecs:us-west-2:111122223333:service/default/servicetest";
const DOC_GROUP: &str = "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:myApplication/myDeploymentGroup";

#[test]
fn the_pattern_matches_the_documented_events_of_its_service_only() {
    let ours = pattern(DOC_SERVICE, None);
    for f in [
        "event-ecs-deployment-in-progress.json",
        "event-ecs-deployment-rollback-in-progress.json",
        "event-ecs-deployment-completed.json",
        "event-ecs-deployment-failed.json",
        "event-ecs-service-steady-state.json",
        "event-ecs-service-task-start-impaired.json",
        "event-ecs-service-placement-failure-fargate-spot.json",
    ] {
        assert!(matches(&ours, &fixture(f)), "{f} is this service's event");
    }
    let other = pattern("arn:aws:ecs:us-west-2:111122223333:service/default/another", None);
    assert!(!matches(&other, &fixture("event-ecs-deployment-completed.json")), "another service's events are not heard");
    // Task events are not listened to (a rollout's task churn would cost a look each).
    assert!(!matches(&ours, &fixture("event-ecs-task-state-change.json")));
    // CodeDeploy: the group's deployment events, not its instance events, and only with a group.
    let cd = pattern(DOC_SERVICE, Some(DOC_GROUP));
    assert!(matches(&cd, &fixture("event-codedeploy-deployment-state-change.json")));
    assert!(!matches(&cd, &fixture("event-codedeploy-instance-state-change.json")), "instance events are not deployment events");
    assert!(!matches(&ours, &fixture("event-codedeploy-deployment-state-change.json")), "no group, no CodeDeploy events");
    // Hook events name the service deployment (a prefix of the service's); the page's second
    // example has no `resources` at all and cannot be matched by resource (the safety poll's).
    let hooks = pattern("arn:aws:ecs:us-west-2:123456789012:service/my-cluster/my-service", None);
    assert!(matches(&hooks, &fixture("event-ecs-hook-awaiting-action.json")));
    assert!(!matches(&hooks, &fixture("event-ecs-hook-awaiting-action-no-resources.json")));
    let near = pattern("arn:aws:ecs:us-west-2:123456789012:service/my-cluster/my-serv", None);
    assert!(!matches(&near, &fixture("event-ecs-hook-awaiting-action.json")), "the prefix ends at the service name's slash");
}

#[test]
fn a_documented_event_is_read_for_its_id_time_name_and_deployment() {
    let body = fixture("event-ecs-deployment-failed.json").to_string();
    let n = Notice::parse(&body).expect("an event");
    assert_eq!(n.id, "ddca6449-b258-46c0-8653-e0e3aEXAMPLE");
    assert_eq!(n.name, "SERVICE_DEPLOYMENT_FAILED");
    assert_eq!(n.deployment.as_deref(), Some("ecs-svc/123"));
    assert_eq!(n.time, Some(1_590_237_074.0), "2020-05-23T12:31:14Z");
    assert!(n.is_terminal());
    let started = Notice::parse(&fixture("event-ecs-deployment-in-progress.json").to_string()).expect("event");
    assert!(!started.is_terminal(), "a deployment that starts is news, not an end");
    let cd = Notice::parse(&fixture("event-codedeploy-deployment-state-change.json").to_string()).expect("event");
    assert_eq!((cd.name.as_str(), cd.deployment.as_deref()), ("SUCCESS", Some("d-123456789")));
    assert!(cd.is_terminal());
    assert!(Notice::parse("not json").is_none() && Notice::parse("{}").is_none());
}

fn load(extra: &str) -> (tempfile::TempDir, Spec) {
    let (dir, path) = spec_dir(extra);
    (dir, Spec::load(&path, None).expect("spec loads"))
}

struct Run {
    result: Result<fgdeploy::engine::ReleaseReport, fgdeploy::error::Error>,
    events: Vec<(f64, Event)>,
    sim: Sim,
}

impl Run {
    fn warnings(&self, needle: &str) -> usize {
        self.events.iter().filter(|(_, e)| matches!(e, Event::Warning { message } if message.contains(needle))).count()
    }
    fn infos(&self, needle: &str) -> usize {
        self.events.iter().filter(|(_, e)| matches!(e, Event::Info { message } if message.contains(needle))).count()
    }
    fn calls(&self, op: &str) -> u64 {
        self.sim.calls().snapshot().get(op).copied().unwrap_or(0)
    }
    /// Seconds from the deployment's end (the simulator's log) to fgdeploy's reaction.
    fn latency(&self) -> f64 {
        let reaction = self
            .events
            .iter()
            .find(|(_, e)| {
                matches!(e, Event::RollbackStarted { .. })
                    || matches!(e, Event::StageFinished { stage, .. } if *stage == fgdeploy::plan::Stage::Deploy)
            })
            .map(|(t, _)| *t)
            .expect("a reaction");
        let end = self.sim.world().terminal_log.first().map(|(t, _)| *t).expect("an end");
        reaction - end
    }
    async fn leftovers(&self) -> (Vec<(String, String)>, Vec<String>) {
        let p = self.sim.ports();
        (p.bus.rules("").await.expect("rules"), p.queues.queues("").await.expect("queues"))
    }
}

async fn release(spec: &Spec, faults: Faults, watch: WatchMode) -> Run {
    run(seeded(spec, faults).expect("seed"), spec, watch, Interrupt::default()).await
}

/// A release on a world the test has prepared (its own rules and queues, an interrupt).
async fn run(sim: Sim, spec: &Spec, watch: WatchMode, interrupt: Interrupt) -> Run {
    let rec = Arc::new(Recorder::default());
    let mut engine = Engine::new(sim.ports(), rec.clone(), interrupt);
    let opts = ReleaseOptions { watch: Some(watch), ..Default::default() };
    let result = engine.release(spec, &opts).await;
    let events = rec.0.lock().expect("events").clone();
    Run { result, events, sim }
}

fn outcome(r: &Run) -> String {
    r.result.as_ref().map_or_else(|e| e.kind().to_string(), |r| r.outcome.to_string())
}

/// A rolling release heard by events reacts as soon as ECS's event arrives (not at the next
/// poll), with fewer DescribeServices than polling, and leaves no rule or queue behind; the rule
/// and queue exist before UpdateService and are deleted after the deployment's end.
#[tokio::test]
async fn events_wake_the_watch_sooner_with_fewer_looks_and_leave_nothing_behind() {
    let (_dir, spec) = load("");
    let polled = release(&spec, Faults::default(), WatchMode::Poll).await;
    let heard = release(&spec, Faults::default(), WatchMode::Events).await;
    assert_eq!((outcome(&polled).as_str(), outcome(&heard).as_str()), ("deployed", "deployed"));
    assert!(heard.latency() <= 3.0 && heard.latency() <= polled.latency(), "events {} s, polling {} s", heard.latency(), polled.latency());
    assert!(heard.calls("ecs:DescribeServices") < polled.calls("ecs:DescribeServices"), "{:?}", heard.sim.calls().snapshot());
    assert_eq!(polled.calls("events:PutRule") + polled.calls("sqs:CreateQueue"), 0, "poll sets up nothing");
    assert_eq!(heard.infos("watching by events"), 1);
    let muts: Vec<String> = heard.sim.world().mutations.iter().map(|(_, m)| m.to_string()).collect();
    let at = |prefix: &str| muts.iter().position(|m| m.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix} in {muts:?}"));
    assert!(at("PutRule") < at("CreateQueue") && at("CreateQueue") < at("UpdateService"), "{muts:?}");
    assert!(at("UpdateService") < at("DeleteRule") && at("DeleteRule") < at("DeleteQueue"), "{muts:?}");
    assert_eq!(heard.leftovers().await, (vec![], vec![]));
}

/// EventBridge delivers at least once and may lose nothing or something: every event twice
/// changes nothing (the same looks as once); every event lost costs at most the safety poll.
#[tokio::test]
async fn duplicates_change_nothing_and_a_lost_event_costs_at_most_the_safety_poll() {
    let (_dir, spec) = load("");
    let once = release(&spec, Faults::default(), WatchMode::Events).await;
    let mut twice = Faults::default();
    twice.events.duplicate = 1.0;
    let twice = release(&spec, twice, WatchMode::Events).await;
    assert_eq!(outcome(&twice), "deployed");
    assert_eq!(twice.calls("ecs:DescribeServices"), once.calls("ecs:DescribeServices"), "duplicates are not news");
    let mut lost = Faults::default();
    lost.events.loss = 1.0;
    let lost = release(&spec, lost, WatchMode::Events).await;
    assert_eq!(outcome(&lost), "deployed");
    assert!(lost.latency() <= 60.0 + 1e-6 && lost.latency() > once.latency(), "lost: {} s, heard: {} s", lost.latency(), once.latency());
}

/// Without the permissions (a policy without events:* or sqs:*), the release completes by
/// polling and says so once; what was created before the refusal is deleted.
#[tokio::test]
async fn refused_permissions_fall_back_to_polling_said_once() {
    let (_dir, spec) = load("");
    for denied in ["events:PutRule", "sqs:CreateQueue", "events:PutTargets", "sqs:ReceiveMessage"] {
        let mut f = Faults::default();
        f.denied.insert(denied.into());
        let r = release(&spec, f, WatchMode::Auto).await;
        assert_eq!(outcome(&r), "deployed", "{denied}");
        assert_eq!(r.warnings("watching by polling"), 1, "{denied}: said once");
        assert_eq!(r.leftovers().await, (vec![], vec![]), "{denied}: nothing left");
    }
}

/// A failed release (circuit breaker, ECS rolls back) and an interrupted one delete the rule and
/// queue too; the breaker is seen no later than by polling.
#[tokio::test]
async fn every_way_out_deletes_the_rule_and_queue() {
    let (_dir, spec) = load("");
    let mut f = Faults::default();
    f.fail_start.insert(":v2".into());
    let heard = release(&spec, f.clone(), WatchMode::Events).await;
    let polled = release(&spec, f, WatchMode::Poll).await;
    assert_eq!(outcome(&heard), outcome(&polled));
    assert!(heard.result.is_err(), "the breaker fails the release");
    assert!(heard.latency() <= polled.latency(), "events {} s, polling {} s", heard.latency(), polled.latency());
    assert_eq!(heard.leftovers().await, (vec![], vec![]));
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let interrupt = Interrupt::default();
    sim.interrupt_at(20.0, interrupt.clone());
    let interrupted = run(sim, &spec, WatchMode::Events, interrupt).await;
    assert!(interrupted.result.is_err(), "interrupted: {}", outcome(&interrupted));
    assert_eq!(interrupted.leftovers().await, (vec![], vec![]));
}

/// A killed run's rule and queue (expired `fgdeploy:expires`) are deleted by the next release;
/// another run's live ones, and rules that are not fgdeploy's, are left alone. `cleanup --all`
/// deletes every fgdeploy one.
#[tokio::test]
async fn a_killed_runs_leftovers_are_deleted_but_not_a_live_run_or_someone_elses() {
    let (_dir, spec) = load("");
    let sim = seeded(&spec, Faults::default()).expect("seed");
    let p = sim.ports();
    let expired = vec![("fgdeploy:expires".to_string(), "2001-01-01T00:00:00Z".to_string())];
    let live = vec![("fgdeploy:expires".to_string(), "2999-01-01T00:00:00Z".to_string())];
    for (name, tags) in [("fgdeploy-watch-dead", &expired), ("fgdeploy-watch-live", &live), ("fgdeploy-watch-theirs", &vec![])] {
        p.bus.put_rule(name, "{\"source\":[\"aws.ecs\"]}", "", tags).await.expect("rule");
        p.queues.create_queue(name, &[], tags).await.expect("queue");
    }
    let r = run(sim, &spec, WatchMode::Events, Interrupt::default()).await;
    assert_eq!(outcome(&r), "deployed");
    let (rules, queues) = r.leftovers().await;
    let names: Vec<&str> = rules.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["fgdeploy-watch-live", "fgdeploy-watch-theirs"]);
    assert!(queues.iter().all(|q| !q.ends_with("-dead")) && queues.len() == 2, "{queues:?}");
    let deleted = fgdeploy::engine::cleanup_feeds(&r.sim.ports(), true).await.expect("cleanup");
    assert_eq!(deleted.len(), 2, "the live one's rule and queue: {deleted:?}");
    let (rules, _) = r.leftovers().await;
    assert_eq!(rules.len(), 1, "a rule without fgdeploy's tag is not fgdeploy's");
    assert!(r.sim.world().mutations.iter().any(|(_, m)| matches!(m, Mutation::DeleteRule { name } if name == "fgdeploy-watch-dead")));
}
