//! Postmortems: action items (validation, overdue, completion) and a Markdown draft rendered
//! from a plain `{{placeholder}}` template.

use std::fmt;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::model::{Incident, Rubric};
use super::timeline::{TimelineEntry, escape, render_markdown, timeline};

/// How urgent an action item is; P1 first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    P1,
    P2,
    P3,
}

impl Priority {
    /// `P1`, `P2` or `P3`.
    pub fn name(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
        }
    }

    /// The priority named by [`Priority::name`], without regard to case.
    pub fn from_name(name: &str) -> Option<Priority> {
        match name.trim().to_ascii_uppercase().as_str() {
            "P1" => Some(Priority::P1),
            "P2" => Some(Priority::P2),
            "P3" => Some(Priority::P3),
            _ => None,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where an action item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionStatus {
    Open,
    Done,
    /// Decided against, on purpose; counts as closed but not as done.
    WontDo,
}

impl ActionStatus {
    /// `open`, `done` or `wont_do`.
    pub fn name(self) -> &'static str {
        match self {
            ActionStatus::Open => "open",
            ActionStatus::Done => "done",
            ActionStatus::WontDo => "wont_do",
        }
    }

    /// The status named by [`ActionStatus::name`].
    pub fn from_name(name: &str) -> Option<ActionStatus> {
        match name {
            "open" => Some(ActionStatus::Open),
            "done" => Some(ActionStatus::Done),
            "wont_do" => Some(ActionStatus::WontDo),
            _ => None,
        }
    }
}

impl fmt::Display for ActionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Something to change so the incident does not happen again, with an owner and a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionItem {
    pub id: String,
    pub title: String,
    /// The person who sees it through; required.
    pub owner: String,
    pub due: Date,
    pub priority: Priority,
    pub status: ActionStatus,
    pub created_at: Timestamp,
    /// When it was done or dropped; Some exactly when the status is not Open.
    pub closed_at: Option<Timestamp>,
}

/// A problem with an action item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionItemError {
    #[error("action item without an id")]
    MissingId,
    #[error("action item {id} has no title")]
    MissingTitle { id: String },
    #[error("action item without an owner: {id} needs someone to see it through")]
    MissingOwner { id: String },
    #[error("action item {id} is {status} but has no closing time")]
    ClosedWithoutTime { id: String, status: ActionStatus },
    #[error("action item {id} is open but has a closing time")]
    OpenWithClosingTime { id: String },
    #[error("action item {id} is closed before it was created")]
    ClosedBeforeCreated { id: String },
}

impl ActionItem {
    /// Every problem at once; empty when the item is sound.
    pub fn problems(&self) -> Vec<ActionItemError> {
        let mut problems = Vec::new();
        let id = self.id.trim().to_string();
        if id.is_empty() {
            problems.push(ActionItemError::MissingId);
        }
        if self.title.trim().is_empty() {
            problems.push(ActionItemError::MissingTitle { id: id.clone() });
        }
        if self.owner.trim().is_empty() {
            problems.push(ActionItemError::MissingOwner { id: id.clone() });
        }
        match (self.status, self.closed_at) {
            (ActionStatus::Open, Some(_)) => {
                problems.push(ActionItemError::OpenWithClosingTime { id: id.clone() });
            }
            (ActionStatus::Done | ActionStatus::WontDo, None) => {
                problems.push(ActionItemError::ClosedWithoutTime {
                    id: id.clone(),
                    status: self.status,
                });
            }
            (_, Some(closed_at)) if closed_at < self.created_at => {
                problems.push(ActionItemError::ClosedBeforeCreated { id });
            }
            _ => {}
        }
        problems
    }

    /// Ok when sound, else every problem.
    pub fn validate(&self) -> Result<(), Vec<ActionItemError>> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    pub fn is_open(&self) -> bool {
        self.status == ActionStatus::Open
    }

    /// Open and due before `today` (an item due today is not yet overdue).
    pub fn is_overdue(&self, today: Date) -> bool {
        self.is_open() && self.due < today
    }
}

/// The open items due before `today`, in the order given.
pub fn overdue(items: &[ActionItem], today: Date) -> Vec<&ActionItem> {
    items.iter().filter(|item| item.is_overdue(today)).collect()
}

/// How far a set of action items got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Completion {
    pub total: usize,
    pub open: usize,
    pub done: usize,
    pub wont_do: usize,
}

impl Completion {
    pub fn of(items: &[ActionItem]) -> Completion {
        let mut completion = Completion {
            total: items.len(),
            ..Completion::default()
        };
        for item in items {
            match item.status {
                ActionStatus::Open => completion.open += 1,
                ActionStatus::Done => completion.done += 1,
                ActionStatus::WontDo => completion.wont_do += 1,
            }
        }
        completion
    }

    /// Done among the items meant to be done (won't-do ones left out), 0..=1; None when no
    /// item is meant to be done.
    pub fn done_rate(&self) -> Option<f64> {
        let meant = self.total - self.wont_do;
        (meant > 0).then(|| self.done as f64 / meant as f64)
    }

    /// Closed (done or won't do) among all, 0..=1; None without items.
    pub fn closed_rate(&self) -> Option<f64> {
        (self.total > 0).then(|| (self.done + self.wont_do) as f64 / self.total as f64)
    }
}

/// What a postmortem draft is made of.
#[derive(Debug, Clone)]
pub struct PostmortemInput<'a> {
    pub incident: &'a Incident,
    pub rubric: &'a Rubric,
    pub summary: &'a str,
    /// Free impact lines (`checkout failed for 12% of requests`).
    pub impact: Vec<String>,
    /// Error budget spent per SLO, as a share of the whole budget (1.0 = all of it; may be
    /// more when overspent).
    pub budget_spent: Vec<(String, f64)>,
    pub timeline: Vec<TimelineEntry>,
    /// The zone the timeline is shown in; None: UTC.
    pub time_zone: Option<TimeZone>,
    pub causes: Vec<String>,
    pub went_well: Vec<String>,
    pub action_items: &'a [ActionItem],
}

/// The template used when a team has none of its own.
pub const DEFAULT_TEMPLATE: &str = "# Postmortem: {{title}}

Severity: {{severity}}
Duration: {{duration}}

## Summary

{{summary}}

## Impact

{{impact}}

## Timeline

{{timeline}}

## Contributing causes

{{causes}}

## What went well

{{went_well}}

## Action items

{{action_items}}
";

/// The placeholders [`draft`] fills.
pub const PLACEHOLDERS: [&str; 9] = [
    "title",
    "severity",
    "duration",
    "summary",
    "impact",
    "timeline",
    "causes",
    "went_well",
    "action_items",
];

/// A Markdown draft: `template` with each `{{name}}` of [`PLACEHOLDERS`] replaced (spaces
/// inside the braces allowed). Unknown placeholders stay as written. The template is read
/// once, left to right, so text filled in is never read as a placeholder again.
pub fn draft(template: &str, input: &PostmortemInput<'_>) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after_open = &rest[start + 2..];
        let Some(end) = after_open.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after_open[..end].trim();
        match fill(name, input) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after_open[end + 2..];
    }
    out.push_str(rest);
    out
}

const NONE_RECORDED: &str = "_None recorded._";

fn fill(name: &str, input: &PostmortemInput<'_>) -> Option<String> {
    let incident = input.incident;
    let value = match name {
        "title" => incident.title.clone(),
        "severity" => match input.rubric.level(&incident.severity) {
            Some(level) => format!("{} ({}): {}", level.id, level.name, level.definition),
            None => incident.severity.clone(),
        },
        "duration" => match incident.duration() {
            Some(duration) => format_duration(duration),
            None => format!("ongoing ({})", incident.status),
        },
        "summary" => {
            let summary = input.summary.trim();
            if summary.is_empty() {
                NONE_RECORDED.to_string()
            } else {
                summary.to_string()
            }
        }
        "impact" => {
            let mut lines: Vec<String> = input
                .impact
                .iter()
                .filter(|line| !line.trim().is_empty())
                .map(|line| format!("- {}", escape(line)))
                .collect();
            for (slo, share) in &input.budget_spent {
                lines.push(format!(
                    "- SLO {}: {} of the error budget spent",
                    escape(slo),
                    format_percent(*share)
                ));
            }
            bullet_block(lines)
        }
        "timeline" => {
            let ordered = timeline(input.timeline.iter().cloned());
            bullet_block(render_markdown(&ordered, input.time_zone.as_ref()))
        }
        "causes" => bullet_block(bullets(&input.causes)),
        "went_well" => bullet_block(bullets(&input.went_well)),
        "action_items" => bullet_block(input.action_items.iter().map(action_line).collect()),
        _ => return None,
    };
    Some(value)
}

fn bullets(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| format!("- {}", escape(line)))
        .collect()
}

fn bullet_block(lines: Vec<String>) -> String {
    if lines.is_empty() {
        NONE_RECORDED.to_string()
    } else {
        lines.join("\n")
    }
}

/// `- [ ] **P1** add a queue-depth alert: owner alice, due 2025-01-10 (AI-1)`; done items are
/// ticked, won't-do ones struck through.
fn action_line(item: &ActionItem) -> String {
    let title = escape(&item.title);
    let details = format!(
        "owner {}, due {} ({})",
        escape(&item.owner),
        item.due,
        escape(&item.id)
    );
    match item.status {
        ActionStatus::Open => format!("- [ ] **{}** {title}: {details}", item.priority),
        ActionStatus::Done => format!("- [x] **{}** {title}: {details}", item.priority),
        ActionStatus::WontDo => {
            format!(
                "- [ ] **{}** ~~{title}~~ (won't do): {details}",
                item.priority
            )
        }
    }
}

/// `1h 23m 5s`, `45m`, `0s`.
fn format_duration(duration: SignedDuration) -> String {
    let total = duration.as_secs().max(0);
    let (days, hours, minutes, seconds) = (
        total / 86_400,
        total / 3_600 % 24,
        total / 60 % 60,
        total % 60,
    );
    let mut parts = Vec::new();
    for (value, unit) in [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")] {
        if value > 0 {
            parts.push(format!("{value}{unit}"));
        }
    }
    if parts.is_empty() {
        "0s".to_string()
    } else {
        parts.join(" ")
    }
}

/// `42%`, `3.5%`, `0.25%`: enough digits to tell small shares apart.
fn format_percent(share: f64) -> String {
    let percent = share * 100.0;
    let text = if percent.abs() >= 10.0 {
        format!("{percent:.0}")
    } else if percent.abs() >= 1.0 {
        format!("{percent:.1}")
    } else {
        format!("{percent:.2}")
    };
    let trimmed = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{trimmed}%")
}
