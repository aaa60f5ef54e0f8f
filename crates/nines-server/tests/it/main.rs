//! nines-server integration tests: the whole server on real HTTP on loopback and a real SQLite
//! file: intake, bad input, evaluation and notification, restart.

mod api;
mod incidents;
mod oncall;
mod pull;
mod signals;
mod status;
mod support;
mod ui;
