//! The incident record: the severity rubric, statuses, roles and the [`Incident`] itself.

use std::collections::BTreeMap;
use std::fmt;

use jiff::{SignedDuration, Timestamp};

/// One entry of a severity rubric: what `SEV1` means in this organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeverityLevel {
    /// The id incidents carry, `SEV1`.
    pub id: String,
    /// 1 is the worst; ranks are unique within a rubric.
    pub rank: u32,
    /// A short name, `Critical`.
    pub name: String,
    /// When to declare this level, in words responders read under stress.
    pub definition: String,
}

/// The severity levels incidents may carry, worst first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rubric {
    pub levels: Vec<SeverityLevel>,
}

impl Rubric {
    /// SEV1 to SEV3 with written definitions.
    pub fn default_three() -> Rubric {
        let level = |id: &str, rank: u32, name: &str, definition: &str| SeverityLevel {
            id: id.to_string(),
            rank,
            name: name.to_string(),
            definition: definition.to_string(),
        };
        Rubric {
            levels: vec![
                level(
                    "SEV1",
                    1,
                    "Critical",
                    "a customer-facing outage or data loss: most users cannot use the product, \
                     or data is lost or exposed",
                ),
                level(
                    "SEV2",
                    2,
                    "Major",
                    "the product is degraded for many users, or a key feature is down",
                ),
                level(
                    "SEV3",
                    3,
                    "Minor",
                    "a minor problem with a workaround; few users notice",
                ),
            ],
        }
    }

    /// The level with this id, compared without regard to case (`sev1` finds `SEV1`).
    pub fn level(&self, id: &str) -> Option<&SeverityLevel> {
        self.levels
            .iter()
            .find(|level| level.id.eq_ignore_ascii_case(id.trim()))
    }

    /// The ids, worst first: `SEV1, SEV2, SEV3`.
    pub fn ids(&self) -> Vec<&str> {
        let mut levels: Vec<&SeverityLevel> = self.levels.iter().collect();
        levels.sort_by_key(|level| level.rank);
        levels.iter().map(|level| level.id.as_str()).collect()
    }
}

/// Where an incident stands. Open statuses come in this order; `Resolved` ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IncidentStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl IncidentStatus {
    /// `investigating`, `identified`, `monitoring` or `resolved` (the stored and API form).
    pub fn name(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "investigating",
            IncidentStatus::Identified => "identified",
            IncidentStatus::Monitoring => "monitoring",
            IncidentStatus::Resolved => "resolved",
        }
    }

    /// The status named by [`IncidentStatus::name`].
    pub fn from_name(name: &str) -> Option<IncidentStatus> {
        match name {
            "investigating" => Some(IncidentStatus::Investigating),
            "identified" => Some(IncidentStatus::Identified),
            "monitoring" => Some(IncidentStatus::Monitoring),
            "resolved" => Some(IncidentStatus::Resolved),
            _ => None,
        }
    }

    /// Every status, in order.
    pub const ALL: [IncidentStatus; 4] = [
        IncidentStatus::Investigating,
        IncidentStatus::Identified,
        IncidentStatus::Monitoring,
        IncidentStatus::Resolved,
    ];
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A responder's role in an incident.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Commander,
    ResolverLead,
    Communications,
    Scribe,
    /// Any other role the team uses (`customer-liaison`); never empty.
    Custom(String),
}

impl Role {
    /// `commander`, `resolver-lead`, `communications`, `scribe`, or the custom name.
    pub fn name(&self) -> &str {
        match self {
            Role::Commander => "commander",
            Role::ResolverLead => "resolver-lead",
            Role::Communications => "communications",
            Role::Scribe => "scribe",
            Role::Custom(name) => name,
        }
    }

    /// A role by name, without regard to case or surrounding space; `incident-commander`,
    /// `ic`, `resolver_lead`, `comms` are accepted too. Any other non-empty name is custom
    /// (kept as written, trimmed); an empty one is None.
    pub fn parse(name: &str) -> Option<Role> {
        let trimmed = name.trim();
        if trimmed.is_empty() {
            return None;
        }
        let role = match trimmed.to_ascii_lowercase().replace('_', "-").as_str() {
            "commander" | "incident-commander" | "ic" => Role::Commander,
            "resolver-lead" | "resolver" | "tech-lead" => Role::ResolverLead,
            "communications" | "comms" => Role::Communications,
            "scribe" => Role::Scribe,
            _ => Role::Custom(trimmed.to_string()),
        };
        Some(role)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One incident. Built and changed only by [`crate::incident::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Given by the caller when opening (the store allocates ids).
    pub id: String,
    pub title: String,
    /// A level id of the rubric, as the rubric spells it.
    pub severity: String,
    pub status: IncidentStatus,
    pub opened_at: Timestamp,
    pub opened_by: String,
    /// When it was last resolved; None while open (a reopen clears it).
    pub resolved_at: Option<Timestamp>,
    /// Role name ([`Role::name`]) to the person holding it.
    pub roles: BTreeMap<String, String>,
    pub services: Vec<String>,
    pub slos: Vec<String>,
    /// Ids of the pages linked to the incident.
    pub pages: Vec<String>,
    pub postmortem_published: bool,
    /// How many times it was reopened.
    pub reopened: u32,
}

impl Incident {
    /// From opening to resolution; None while open. Never negative (a resolution stamped
    /// before the opening by a skewed clock counts as zero).
    pub fn duration(&self) -> Option<SignedDuration> {
        let resolved_at = self.resolved_at?;
        let duration = resolved_at.duration_since(self.opened_at);
        Some(duration.max(SignedDuration::ZERO))
    }

    /// Who holds `role`, if anyone.
    pub fn holder(&self, role: &Role) -> Option<&str> {
        self.roles.get(role.name()).map(String::as_str)
    }

    pub fn is_resolved(&self) -> bool {
        self.status == IncidentStatus::Resolved
    }
}
