//! The web UI: server-rendered pages and the public status page.

pub mod status;
