//! The one integration-test binary: CLI behaviour, simulator scenarios, the bad-input corpus and
//! the moto wire tests, as modules.
#![allow(clippy::too_many_lines, unreachable_pub)]

mod action;
mod analysis;
mod bad_inputs;
mod checks;
mod docs;
mod engine;
mod events;
mod faults;
mod fleet;
mod fuzz;
mod harness;
mod house;
mod images;
mod lease;
mod moto;
mod registry;
mod replay;
mod replay_verbatim;
mod sandbox_cli;
mod service;
mod templates;
