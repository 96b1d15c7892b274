//! The SDK adapter: the only module that names AWS SDK types. Implements the ports over the
//! official AWS SDK for Rust; honours `AWS_ENDPOINT_URL*` (used by the tests to reach moto).

mod account;
mod autoscaling;
mod client;
mod cloudwatch;
mod codedeploy;
mod ecr;
mod ecs;
mod ecs_convert;
mod elb;
mod endpoints;
mod errors;
mod events;
mod interceptors;
mod json;
mod lease;
mod logs;
mod query;
mod servicedef;
mod taskdef;

pub use client::{Aws, connect, ports_from, ports_from_config, profile_name, region};
#[cfg(test)]
pub(crate) use endpoints::dns_suffix;
pub(crate) use endpoints::endpoint_of;
