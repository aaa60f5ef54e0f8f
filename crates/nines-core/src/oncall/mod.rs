//! On-call, pure: label matchers, the routing tree, silences and maintenance windows, schedules
//! with rotations and overrides, the people and teams pages reach, and the escalation state
//! machine of a page.

use std::collections::BTreeMap;

pub mod directory;
pub mod escalation;
pub mod matcher;
pub mod route;
pub mod schedule;
pub mod silence;

/// An alert's labels, sorted by name.
pub type Labels = BTreeMap<String, String>;
