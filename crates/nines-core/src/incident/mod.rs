//! Incidents, pure: the severity rubric, the incident record and its state machine, the
//! timeline, postmortem drafts with action items, and a check that postmortem text blames
//! systems rather than people.

pub mod blameless;
pub mod machine;
pub mod model;
pub mod postmortem;
pub mod timeline;

pub use blameless::{BlameFinding, check};
pub use machine::{IncidentCommand, IncidentError, IncidentEvent, apply};
pub use model::{Incident, IncidentStatus, Role, Rubric, SeverityLevel};
pub use postmortem::{
    ActionItem, ActionItemError, ActionStatus, Completion, DEFAULT_TEMPLATE, PostmortemInput,
    Priority, draft, overdue,
};
pub use timeline::{TimelineEntry, render_markdown, timeline};
