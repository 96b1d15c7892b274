//! fgdeploy: release containerised services to Amazon ECS on Fargate.
//!
//! See ARCHITECTURE.md for where each concept lives.
//!
//! The library's surface is what the binary, the integration tests, the benchmark and the fuzz
//! targets use: the public modules below and, in them, what is `pub`. Everything else is
//! `pub(crate)` (the `unreachable_pub` lint keeps it so): the budget, the commands behind
//! [`run`], the span and taint machinery, the rounding rule. [`analysis`] is the canary judge's
//! statistics (#29): pure, public for the JSON events' types and the benchmark.

pub mod analysis;
pub mod aws;
mod budget;
pub mod build;
pub mod cli;
mod commands;
mod deser;
pub mod diff;
pub mod engine;
pub mod error;
pub mod eventpattern;
pub mod lookups;
pub mod plan;
pub mod ports;
mod redact;
pub mod registry;
pub mod render;
mod rounding;
pub mod sandbox;
pub mod servicedef;
pub mod sim;
mod spans;
pub mod spec;
pub mod states;
mod taint;
pub mod taskdef;
pub mod vars;

pub use commands::run;
