//! The web UI: server-rendered pages and their SVG charts.

pub mod charts;
