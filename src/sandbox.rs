//! The rehearsal mode (`--sandbox`): a simulated AWS account seeded from a deployspec, so a
//! complete release runs with no AWS account, in virtual time. Nothing here talks to AWS.

use crate::error::Result;
use crate::plan::desired_deployment_config;
use crate::sim::{Faults, SeedService, Sim, World};
use crate::spec::Spec;
use clap::ValueEnum;

/// Faults to rehearse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Scenario {
    /// Everything works.
    #[default]
    Happy,
    /// New tasks never start (CannotPullContainerError): the circuit breaker trips.
    FailStart,
    /// New tasks run but fail their health checks until the deploy timeout.
    Unhealthy,
    /// A deployment alarm fires during the rollout (needs deploy.rolling.alarms).
    Alarm,
    /// Someone else deploys a new revision mid-release.
    ForeignDeploy,
    /// Every third AWS call is throttled.
    ThrottleStorm,
    /// Tasks take 3 minutes to start.
    SlowStart,
    /// One-off tasks (the migration, `run`) exit 1.
    MigrationFails,
    /// The image build fails.
    BuildFails,
}

/// The sandbox world for `spec`: the service runs the template with the image tag `previous`
/// (revision 1), healthy; the release image exists in the sandbox's ECR.
pub fn world_for(spec: &Spec, scenario: Scenario) -> Result<Sim> {
    let tag = spec.file.image.tag.clone();
    let mut faults = Faults::default();
    let marker = format!(":{tag}");
    match scenario {
        Scenario::Happy => {}
        Scenario::FailStart => {
            faults.fail_start.insert(marker);
        }
        Scenario::Unhealthy => {
            faults.unhealthy.insert(marker);
        }
        Scenario::Alarm => faults.alarm_at = Some(60.0),
        Scenario::ForeignDeploy => faults.foreign_deploy_at = Some(30.0),
        Scenario::ThrottleStorm => faults.throttle_every = Some(3),
        Scenario::SlowStart => faults.start_secs = 180.0,
        Scenario::BuildFails => faults.build_fails = true,
        Scenario::MigrationFails => {
            faults.task_exit.insert(spec.container().to_string(), 1);
        }
    }
    seeded(spec, faults)
}

/// A sandbox world for `spec` with the given faults (see [`world_for`]).
pub fn seeded(spec: &Spec, faults: Faults) -> Result<Sim> {
    let repo = repo_name(&spec.file.image.repository);
    let tag = spec.file.image.tag.clone();
    let mut world = World::new(faults);
    // With a [build] section the sandbox builds (and checks the context exists); without one
    // the image is taken as pushed by someone else.
    if spec.file.build.is_some() {
        world.create_repository(&repo);
    } else {
        world.put_image(&repo, &tag);
    }
    let uri = world.repository_uri(&repo)?;
    let previous = spec.render_task_definition(&format!("{uri}:previous"))?;
    let load_balanced = previous.container_definitions.iter().any(|c| c.port_mappings.as_ref().is_some_and(|p| !p.is_empty()));
    world.seed_service(SeedService {
        cluster: spec.cluster().to_string(),
        name: spec.service().to_string(),
        desired: spec.file.service.desired_count.unwrap_or(3),
        task_definition: previous,
        config: desired_deployment_config(spec),
        load_balanced,
    });
    // Seeding is not part of what the tests observe.
    world.mutations.clear();
    Ok(Sim::new(world))
}

fn repo_name(repo: &str) -> String {
    match repo.split_once('/') {
        Some((host, name)) if host.contains('.') => name.to_string(),
        _ => repo.to_string(),
    }
}
