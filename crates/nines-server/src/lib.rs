//! The nines server: HTTP API, intake, evaluator loop and notification delivery.

pub mod delivery;
pub mod evaluator;
pub mod intake;
pub mod simulate;
