//! The stages before and after the deployment, each over the engine's context: build (and
//! push), migrate, register, verify.

pub(crate) mod build;
pub(crate) mod migrate;
pub(crate) mod register;
pub(crate) mod verify;
