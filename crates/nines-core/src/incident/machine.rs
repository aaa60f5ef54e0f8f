//! The incident state machine: `apply(incident, rubric, command, now)` checks a command and
//! returns the changed incident with its timeline events, or an error and nothing changed.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;

use super::model::{Incident, IncidentStatus, Role, Rubric};
use super::timeline::TimelineEntry;

/// What someone does to an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentCommand {
    /// Declare an incident. `id` comes from the caller (the store allocates ids; the core
    /// has none to give).
    Open {
        id: String,
        title: String,
        severity: String,
        by: String,
    },
    /// Move between open statuses (forward, or back: recorded as such); `Resolved` is the
    /// same as [`IncidentCommand::Resolve`] with the note.
    SetStatus {
        status: IncidentStatus,
        by: String,
        note: Option<String>,
    },
    SetSeverity {
        severity: String,
        by: String,
    },
    AssignRole {
        role: Role,
        person: String,
        by: String,
    },
    UnassignRole {
        role: Role,
        by: String,
    },
    LinkPage {
        page: String,
    },
    LinkService {
        service: String,
    },
    LinkSlo {
        slo: String,
    },
    /// An internal note; allowed on a resolved incident too.
    AddNote {
        text: String,
        by: String,
    },
    /// A status update for stakeholders; `public` ones are meant for the status page.
    StatusUpdate {
        text: String,
        by: String,
        public: bool,
    },
    Resolve {
        by: String,
    },
    /// Reopen a resolved incident. Once its postmortem is published the caller must say
    /// `after_postmortem: true`: the published postmortem no longer tells the whole story.
    Reopen {
        by: String,
        reason: Option<String>,
        after_postmortem: bool,
    },
    /// Mark the postmortem of a resolved incident published.
    PublishPostmortem {
        by: String,
    },
}

impl IncidentCommand {
    /// What the command does, in words, for error messages: `set the status`.
    pub fn describe(&self) -> &'static str {
        match self {
            IncidentCommand::Open { .. } => "open it",
            IncidentCommand::SetStatus { .. } => "set the status",
            IncidentCommand::SetSeverity { .. } => "set the severity",
            IncidentCommand::AssignRole { .. } => "assign a role",
            IncidentCommand::UnassignRole { .. } => "unassign a role",
            IncidentCommand::LinkPage { .. } => "link a page",
            IncidentCommand::LinkService { .. } => "link a service",
            IncidentCommand::LinkSlo { .. } => "link an SLO",
            IncidentCommand::AddNote { .. } => "add a note",
            IncidentCommand::StatusUpdate { .. } => "post a status update",
            IncidentCommand::Resolve { .. } => "resolve it",
            IncidentCommand::Reopen { .. } => "reopen it",
            IncidentCommand::PublishPostmortem { .. } => "publish the postmortem",
        }
    }
}

/// The kind of a timeline event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    Opened,
    Status,
    Severity,
    Role,
    Linked,
    Note,
    Update,
    Resolved,
    Reopened,
    PostmortemPublished,
}

impl EventKind {
    /// `incident.opened`, `incident.status`, ... (the stored form).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Opened => "incident.opened",
            EventKind::Status => "incident.status",
            EventKind::Severity => "incident.severity",
            EventKind::Role => "incident.role",
            EventKind::Linked => "incident.linked",
            EventKind::Note => "incident.note",
            EventKind::Update => "incident.update",
            EventKind::Resolved => "incident.resolved",
            EventKind::Reopened => "incident.reopened",
            EventKind::PostmortemPublished => "incident.postmortem_published",
        }
    }

    /// The kind named by [`EventKind::name`].
    pub fn from_name(name: &str) -> Option<EventKind> {
        [
            EventKind::Opened,
            EventKind::Status,
            EventKind::Severity,
            EventKind::Role,
            EventKind::Linked,
            EventKind::Note,
            EventKind::Update,
            EventKind::Resolved,
            EventKind::Reopened,
            EventKind::PostmortemPublished,
        ]
        .into_iter()
        .find(|kind| kind.name() == name)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One timeline entry written by a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentEvent {
    pub at: Timestamp,
    pub kind: EventKind,
    /// Who did it; None for links, which the system makes.
    pub actor: Option<String>,
    /// The entry in words: `investigating -> identified`.
    pub text: String,
    /// The same in fields for machines: `from`, `to`, `role`, `person`, `public`, ...
    pub fields: BTreeMap<String, String>,
}

impl IncidentEvent {
    /// The event as a timeline entry.
    pub fn to_timeline_entry(&self) -> TimelineEntry {
        TimelineEntry {
            at: self.at,
            kind: self.kind.name().to_string(),
            actor: self.actor.clone(),
            text: self.text.clone(),
        }
    }
}

/// An illegal command; the incident is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    #[error("there is no incident to {action}: open one first")]
    NotOpened { action: &'static str },
    #[error("incident {id} is already open")]
    AlreadyOpen { id: String },
    #[error("an incident needs an id")]
    EmptyId,
    #[error("an incident needs a title")]
    EmptyTitle,
    #[error("{what} needs a person: the actor is empty")]
    EmptyActor { what: &'static str },
    #[error("a {what} needs text")]
    EmptyText { what: &'static str },
    #[error("unknown severity {given:?}: the rubric has {}", .valid.join(", "))]
    UnknownSeverity { given: String, valid: Vec<String> },
    #[error("incident {id} is resolved: cannot {action} (reopen it first)")]
    Resolved { id: String, action: &'static str },
    #[error("incident {id} is already resolved")]
    AlreadyResolved { id: String },
    #[error("incident {id} is not resolved: only a resolved incident can be reopened")]
    NotResolved { id: String },
    #[error(
        "the postmortem of incident {id} is published: reopen with after_postmortem set to \
         confirm it must be revised"
    )]
    PostmortemPublished { id: String },
    #[error("incident {id} is still {status}: resolve it before publishing its postmortem")]
    PostmortemOfOpenIncident { id: String, status: IncidentStatus },
    #[error("the postmortem of incident {id} is already published")]
    PostmortemAlreadyPublished { id: String },
    #[error("incident {id} is already {status}")]
    SameStatus { id: String, status: IncidentStatus },
    #[error("incident {id} is already {severity}")]
    SameSeverity { id: String, severity: String },
    #[error("a role needs a name")]
    EmptyRole,
    #[error("role {role} cannot be given to an empty name")]
    EmptyPerson { role: String },
    #[error("{person} is already {role} of incident {id}")]
    AlreadyAssigned {
        id: String,
        role: String,
        person: String,
    },
    #[error("nobody is {role} of incident {id}")]
    RoleNotAssigned { id: String, role: String },
    #[error("{what} needs an id")]
    EmptyLink { what: &'static str },
    #[error("{what} {target} is already linked to incident {id}")]
    AlreadyLinked {
        id: String,
        what: &'static str,
        target: String,
    },
}

/// The incident state machine.
///
/// `incident` is None before [`IncidentCommand::Open`] and Some after. A command that
/// succeeds returns the new incident and at least one event; one that fails returns the
/// error and the caller keeps the incident it had (nothing is half changed).
///
/// Rules:
/// - Statuses move forward (investigating -> identified -> monitoring -> resolved), skipping
///   allowed. Moving back among open statuses is allowed and the event says `backward`.
///   Setting the status it already has is an error (a retry shows up, not a silent no-op).
/// - A resolved incident takes only `Reopen`, `PublishPostmortem` and `AddNote`.
/// - Resolving a resolved incident is an error; so is reopening an open one.
/// - Reopening after the postmortem was published needs `after_postmortem: true`; it then
///   marks the postmortem unpublished (it must be revised and published again).
/// - A severity must be in the rubric (compared without regard to case; stored as the
///   rubric spells it); setting the one it has is an error.
/// - Titles, notes, updates, actors, role holders and linked ids must not be empty (after
///   trimming); text is stored trimmed.
/// - Linking something already linked, assigning a role to the person who holds it, and
///   unassigning a role nobody holds are errors.
pub fn apply(
    incident: Option<&Incident>,
    rubric: &Rubric,
    command: &IncidentCommand,
    now: Timestamp,
) -> Result<(Incident, Vec<IncidentEvent>), IncidentError> {
    let current = match (incident, command) {
        (None, IncidentCommand::Open { .. }) => return open(rubric, command, now),
        (Some(current), IncidentCommand::Open { .. }) => {
            return Err(IncidentError::AlreadyOpen {
                id: current.id.clone(),
            });
        }
        (None, _) => {
            return Err(IncidentError::NotOpened {
                action: command.describe(),
            });
        }
        (Some(current), _) => current,
    };

    let allowed_when_resolved = matches!(
        command,
        IncidentCommand::Reopen { .. }
            | IncidentCommand::PublishPostmortem { .. }
            | IncidentCommand::AddNote { .. }
    );
    if current.is_resolved() && !allowed_when_resolved {
        if matches!(
            command,
            IncidentCommand::Resolve { .. }
                | IncidentCommand::SetStatus {
                    status: IncidentStatus::Resolved,
                    ..
                }
        ) {
            return Err(IncidentError::AlreadyResolved {
                id: current.id.clone(),
            });
        }
        return Err(IncidentError::Resolved {
            id: current.id.clone(),
            action: command.describe(),
        });
    }

    let mut next = current.clone();
    let event = |kind: EventKind, actor: Option<&str>, text: String, fields: &[(&str, &str)]| {
        IncidentEvent {
            at: now,
            kind,
            actor: actor.map(str::to_string),
            text,
            fields: fields
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        }
    };

    match command {
        IncidentCommand::Open { .. } => Err(IncidentError::AlreadyOpen {
            id: current.id.clone(),
        }),
        IncidentCommand::SetStatus { status, by, note } => {
            let by = actor(by, "a status change")?;
            let note = optional_text(note.as_deref(), "status note")?;
            if *status == IncidentStatus::Resolved {
                return resolve(current, by, note, now);
            }
            if *status == current.status {
                return Err(IncidentError::SameStatus {
                    id: current.id.clone(),
                    status: *status,
                });
            }
            let backward = *status < current.status;
            next.status = *status;
            let mut text = format!("{} -> {}", current.status, status);
            if backward {
                text.push_str(" (moved back)");
            }
            if let Some(note) = note {
                text.push_str(": ");
                text.push_str(note);
            }
            let mut fields = vec![
                ("from", current.status.name()),
                ("to", status.name()),
                ("backward", if backward { "true" } else { "false" }),
            ];
            if let Some(note) = note {
                fields.push(("note", note));
            }
            let events = vec![event(EventKind::Status, Some(by), text, &fields)];
            Ok((next, events))
        }
        IncidentCommand::SetSeverity { severity, by } => {
            let by = actor(by, "a severity change")?;
            let level = severity_level(rubric, severity)?;
            if level.id == current.severity {
                return Err(IncidentError::SameSeverity {
                    id: current.id.clone(),
                    severity: level.id.clone(),
                });
            }
            let direction = match rubric.level(&current.severity) {
                Some(old) if level.rank < old.rank => "raised",
                Some(old) if level.rank > old.rank => "lowered",
                _ => "changed",
            };
            let text = format!("severity {direction}: {} -> {}", current.severity, level.id);
            let fields = [
                ("from", current.severity.as_str()),
                ("to", level.id.as_str()),
                ("direction", direction),
            ];
            next.severity = level.id.clone();
            let events = vec![event(EventKind::Severity, Some(by), text, &fields)];
            Ok((next, events))
        }
        IncidentCommand::AssignRole { role, person, by } => {
            let by = actor(by, "a role assignment")?;
            let role_name = role_name(role)?;
            let person = person.trim();
            if person.is_empty() {
                return Err(IncidentError::EmptyPerson {
                    role: role_name.to_string(),
                });
            }
            let previous = current.roles.get(role_name).map(String::as_str);
            if previous == Some(person) {
                return Err(IncidentError::AlreadyAssigned {
                    id: current.id.clone(),
                    role: role_name.to_string(),
                    person: person.to_string(),
                });
            }
            let text = match previous {
                Some(previous) => format!("{person} is {role_name} (was {previous})"),
                None => format!("{person} is {role_name}"),
            };
            let mut fields = vec![("role", role_name), ("person", person)];
            if let Some(previous) = previous {
                fields.push(("previous", previous));
            }
            let events = vec![event(EventKind::Role, Some(by), text, &fields)];
            next.roles.insert(role_name.to_string(), person.to_string());
            Ok((next, events))
        }
        IncidentCommand::UnassignRole { role, by } => {
            let by = actor(by, "a role change")?;
            let role_name = role_name(role)?;
            let Some(previous) = next.roles.remove(role_name) else {
                return Err(IncidentError::RoleNotAssigned {
                    id: current.id.clone(),
                    role: role_name.to_string(),
                });
            };
            let text = format!("{previous} is no longer {role_name}");
            let fields = [("role", role_name), ("previous", previous.as_str())];
            let events = vec![event(EventKind::Role, Some(by), text, &fields)];
            Ok((next, events))
        }
        IncidentCommand::LinkPage { page } => {
            let page = link(&current.id, &mut next.pages, page, "page")?;
            let text = format!("page {page} linked");
            let events = vec![event(
                EventKind::Linked,
                None,
                text,
                &[("page", page.as_str())],
            )];
            Ok((next, events))
        }
        IncidentCommand::LinkService { service } => {
            let service = link(&current.id, &mut next.services, service, "service")?;
            let text = format!("service {service} linked");
            let events = vec![event(
                EventKind::Linked,
                None,
                text,
                &[("service", service.as_str())],
            )];
            Ok((next, events))
        }
        IncidentCommand::LinkSlo { slo } => {
            let slo = link(&current.id, &mut next.slos, slo, "SLO")?;
            let text = format!("SLO {slo} linked");
            let events = vec![event(
                EventKind::Linked,
                None,
                text,
                &[("slo", slo.as_str())],
            )];
            Ok((next, events))
        }
        IncidentCommand::AddNote { text, by } => {
            let by = actor(by, "a note")?;
            let text = required_text(text, "note")?;
            let events = vec![event(EventKind::Note, Some(by), text.to_string(), &[])];
            Ok((next, events))
        }
        IncidentCommand::StatusUpdate { text, by, public } => {
            let by = actor(by, "a status update")?;
            let text = required_text(text, "status update")?;
            let fields = [("public", if *public { "true" } else { "false" })];
            let events = vec![event(
                EventKind::Update,
                Some(by),
                text.to_string(),
                &fields,
            )];
            Ok((next, events))
        }
        IncidentCommand::Resolve { by } => {
            let by = actor(by, "a resolution")?;
            resolve(current, by, None, now)
        }
        IncidentCommand::Reopen {
            by,
            reason,
            after_postmortem,
        } => {
            let by = actor(by, "a reopening")?;
            let reason = optional_text(reason.as_deref(), "reopen reason")?;
            if !current.is_resolved() {
                return Err(IncidentError::NotResolved {
                    id: current.id.clone(),
                });
            }
            if current.postmortem_published && !after_postmortem {
                return Err(IncidentError::PostmortemPublished {
                    id: current.id.clone(),
                });
            }
            next.status = IncidentStatus::Investigating;
            next.resolved_at = None;
            next.reopened = current.reopened.saturating_add(1);
            next.postmortem_published = false;
            let mut text = String::from("reopened");
            if current.postmortem_published {
                text.push_str(" after the postmortem was published");
            }
            if let Some(reason) = reason {
                text.push_str(": ");
                text.push_str(reason);
            }
            let count = next.reopened.to_string();
            let mut fields = vec![
                ("reopened", count.as_str()),
                (
                    "after_postmortem",
                    if current.postmortem_published {
                        "true"
                    } else {
                        "false"
                    },
                ),
            ];
            if let Some(reason) = reason {
                fields.push(("reason", reason));
            }
            let events = vec![event(EventKind::Reopened, Some(by), text, &fields)];
            Ok((next, events))
        }
        IncidentCommand::PublishPostmortem { by } => {
            let by = actor(by, "publishing a postmortem")?;
            if !current.is_resolved() {
                return Err(IncidentError::PostmortemOfOpenIncident {
                    id: current.id.clone(),
                    status: current.status,
                });
            }
            if current.postmortem_published {
                return Err(IncidentError::PostmortemAlreadyPublished {
                    id: current.id.clone(),
                });
            }
            next.postmortem_published = true;
            let events = vec![event(
                EventKind::PostmortemPublished,
                Some(by),
                "postmortem published".to_string(),
                &[],
            )];
            Ok((next, events))
        }
    }
}

fn open(
    rubric: &Rubric,
    command: &IncidentCommand,
    now: Timestamp,
) -> Result<(Incident, Vec<IncidentEvent>), IncidentError> {
    let IncidentCommand::Open {
        id,
        title,
        severity,
        by,
    } = command
    else {
        return Err(IncidentError::NotOpened {
            action: command.describe(),
        });
    };
    let id = id.trim();
    if id.is_empty() {
        return Err(IncidentError::EmptyId);
    }
    let title = title.trim();
    if title.is_empty() {
        return Err(IncidentError::EmptyTitle);
    }
    let by = actor(by, "opening an incident")?;
    let level = severity_level(rubric, severity)?;
    let incident = Incident {
        id: id.to_string(),
        title: title.to_string(),
        severity: level.id.clone(),
        status: IncidentStatus::Investigating,
        opened_at: now,
        opened_by: by.to_string(),
        resolved_at: None,
        roles: BTreeMap::new(),
        services: Vec::new(),
        slos: Vec::new(),
        pages: Vec::new(),
        postmortem_published: false,
        reopened: 0,
    };
    let event = IncidentEvent {
        at: now,
        kind: EventKind::Opened,
        actor: Some(by.to_string()),
        text: format!("{} opened: {title}", level.id),
        fields: [
            ("title".to_string(), title.to_string()),
            ("severity".to_string(), level.id.clone()),
        ]
        .into_iter()
        .collect(),
    };
    Ok((incident, vec![event]))
}

fn resolve(
    current: &Incident,
    by: &str,
    note: Option<&str>,
    now: Timestamp,
) -> Result<(Incident, Vec<IncidentEvent>), IncidentError> {
    if current.is_resolved() {
        return Err(IncidentError::AlreadyResolved {
            id: current.id.clone(),
        });
    }
    let mut next = current.clone();
    next.status = IncidentStatus::Resolved;
    next.resolved_at = Some(now);
    let mut text = format!("resolved (was {})", current.status);
    let mut fields = BTreeMap::from([("from".to_string(), current.status.name().to_string())]);
    if let Some(note) = note {
        text.push_str(": ");
        text.push_str(note);
        fields.insert("note".to_string(), note.to_string());
    }
    let event = IncidentEvent {
        at: now,
        kind: EventKind::Resolved,
        actor: Some(by.to_string()),
        text,
        fields,
    };
    Ok((next, vec![event]))
}

fn actor<'a>(by: &'a str, what: &'static str) -> Result<&'a str, IncidentError> {
    let by = by.trim();
    if by.is_empty() {
        return Err(IncidentError::EmptyActor { what });
    }
    Ok(by)
}

fn required_text<'a>(text: &'a str, what: &'static str) -> Result<&'a str, IncidentError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(IncidentError::EmptyText { what });
    }
    Ok(text)
}

/// None stays None; Some("  ") is an error (an empty note was surely not meant).
fn optional_text<'a>(
    text: Option<&'a str>,
    what: &'static str,
) -> Result<Option<&'a str>, IncidentError> {
    text.map(|text| required_text(text, what)).transpose()
}

fn severity_level<'r>(
    rubric: &'r Rubric,
    severity: &str,
) -> Result<&'r super::model::SeverityLevel, IncidentError> {
    rubric
        .level(severity)
        .ok_or_else(|| IncidentError::UnknownSeverity {
            given: severity.to_string(),
            valid: rubric.ids().into_iter().map(str::to_string).collect(),
        })
}

fn role_name(role: &Role) -> Result<&str, IncidentError> {
    let name = role.name();
    if name.trim().is_empty() {
        return Err(IncidentError::EmptyRole);
    }
    Ok(name)
}

/// Adds `target` (trimmed) to `links` and returns it, or explains why not.
fn link(
    id: &str,
    links: &mut Vec<String>,
    target: &str,
    what: &'static str,
) -> Result<String, IncidentError> {
    let target = target.trim();
    if target.is_empty() {
        return Err(IncidentError::EmptyLink { what });
    }
    if links.iter().any(|linked| linked == target) {
        return Err(IncidentError::AlreadyLinked {
            id: id.to_string(),
            what,
            target: target.to_string(),
        });
    }
    links.push(target.to_string());
    Ok(target.to_string())
}
