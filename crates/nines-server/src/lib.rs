//! The nines server: HTTP API, intake, evaluator loop and notification delivery.

pub mod intake;
