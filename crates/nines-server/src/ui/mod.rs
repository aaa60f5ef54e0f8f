//! The web UI: server-rendered pages, their SVG charts and the public status page.

pub mod charts;
pub mod signals;
pub mod status;
