//! The web UI: server-rendered pages, their charts and the data behind them.

pub mod signals;
