//! fgdeploy: release containerised services to Amazon ECS on Fargate.
//!
//! See ARCHITECTURE.md for where each concept lives.

pub mod aws;
pub mod budget;
pub mod build;
pub mod cli;
pub mod commands;
pub mod deser;
pub mod diff;
pub mod engine;
pub mod error;
pub mod lookups;
pub mod plan;
pub mod ports;
pub mod redact;
pub mod registry;
pub mod render;
pub mod rounding;
pub mod sandbox;
pub mod servicedef;
pub mod sim;
pub mod spans;
pub mod spec;
pub mod states;
pub mod taint;
pub mod taskdef;
pub mod vars;

pub use commands::run;
