//! The nines server: HTTP API, intake, evaluator loop and notification delivery.

pub mod api;
pub mod delivery;
pub mod delivery_task;
pub mod evaluator;
pub mod incidents;
pub mod intake;
pub mod metrics;
pub mod oncall;
pub mod openapi;
pub mod probes;
pub mod pull;
pub mod reports;
pub mod server;
pub mod simulate;
pub mod ui;
pub mod writer;
