//! The rolling strategy (ECS deployment controller): UpdateService, then the deployment watched
//! by [`decide`] until it succeeds or fails; on failure the one decision ([`reaction`]) and the
//! rollback.

mod decide;
mod deployer;
mod failure;
mod fixtures;
mod rollback;
mod steps;
mod watch;

pub use decide::{FailKind, Tracker, Verdict, decide};

crate::engine::engine_part!(
    /// The rolling deployer.
    Rolling
);
