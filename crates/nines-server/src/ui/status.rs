//! The public status page: `GET /status` (HTML) and `GET /api/v1/status` (the same facts as
//! JSON), without login, in the vocabulary of Atlassian Statuspage.
//!
//! What it shows and how it is decided:
//!
//! - **Components** are the catalog's services, in spec order, named by their display name
//!   (`name:` in the spec) or else their id. A service's description, owner, runbooks and SLOs
//!   are not shown.
//! - **Published** incidents only: an incident is published once it has at least one public
//!   status update. Its public face is built by [`incident_facts`] from the stored row and its
//!   own events and holds nothing else: the affected services, the severity over time, the
//!   status, the opening and resolution times and the public updates (time, text, the status
//!   at that time). Titles, notes, roles, people, links, pages, the timeline, the postmortem
//!   and private updates never reach this module's output, by construction; the incident's id
//!   is replaced by an opaque digest of it.
//! - **Impact** comes from the severity rubric, by rank: the worst level is a major outage, the
//!   second a partial outage, every lower one (and a severity the rubric no longer has)
//!   degraded performance ([`impact`]).
//! - **A component's status now** ([`component_status`]), worst first: a partial or major
//!   outage from an open published incident that names the service; else under maintenance
//!   when a maintenance window is open now and its matchers match the service's labels (its
//!   `labels:`, `team=<owner>` and `service=<id>`, as pages of its SLOs carry them) — planned
//!   work explains a slowdown, so maintenance wins over degraded performance but not over an
//!   outage; else degraded performance from an open published incident; else degraded
//!   performance when an SLO of the service has its burn-rate alert firing at page severity
//!   (customers feel that before anyone writes an update); else operational.
//! - **The overall banner** is the worst of the components' statuses and the active incidents'
//!   impacts (an incident may name no component), ordered operational < under maintenance <
//!   degraded performance < partial outage < major outage.
//! - **Active incidents** are the open published ones, most recently updated first, headed by
//!   their impact and components ("Partial outage of Checkout"), never their title, with the
//!   public status and the public updates, newest first. **Recently resolved** ones are those
//!   resolved in the last 7 days, headed by the worst impact they had.
//! - **History**: 90 UTC days per component, oldest first, today last (partial). A day's status
//!   combines, by the rule above, the impacts published incidents had while they overlapped it
//!   (each period at the severity it had then; an incident counts from its opening, not from its
//!   first public update: it describes what customers saw) and the maintenance windows that were
//!   open that day (weekly windows count on every past occurrence). SLO alerts do not enter
//!   the history: only what was communicated does. Each day has a tooltip with the date and what
//!   happened, in UTC. **Uptime** is the share of the 90 days (up to now) not covered by a
//!   partial or major outage, rounded down so that any outage shows below 100 %.
//! - **Maintenance**: windows open now or starting within 7 days that match a component, with
//!   their times and components (not their comment, which is written for responders).
//!
//! Incidents are read from the store on every request: the open ones, and those opened up to
//! 90 days before the history starts (an incident that lasted longer than that before the
//! history began is missed for its first days). Store errors answer 503 with a plain page
//! (logged once per request); responses carry `Cache-Control: public, max-age=30`.

use std::collections::BTreeMap;

use askama::Template;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use nines_core::incident::machine::EventKind;
use nines_core::incident::model::{IncidentStatus, Rubric};
use nines_core::oncall::Labels;
use nines_core::oncall::matcher::matches_all;
use nines_core::oncall::silence::MaintenanceWindow;
use nines_core::{AlertState, Severity};
use nines_spec::Catalog;
use nines_store::{EventQuery, EventRow, IncidentQuery, IncidentRow, StoreError};
use serde_json::{Value, json};
use sha2::Digest;

use crate::server::AppState;

/// Days of history per component, today included.
pub const HISTORY_DAYS: usize = 90;
/// How long a resolved incident stays listed.
const RECENTLY_RESOLVED: SignedDuration = SignedDuration::from_hours(7 * 24);
/// How far ahead maintenance is announced.
const MAINTENANCE_AHEAD: SignedDuration = SignedDuration::from_hours(7 * 24);
/// How long before the history starts incidents are read (see the module doc).
const LOOKBACK_BEFORE_HISTORY: SignedDuration = SignedDuration::from_hours(90 * 24);
const CACHE_CONTROL: &str = "public, max-age=30";
const MAX_INCIDENTS: i64 = 5_000;
const MAX_EVENTS: i64 = 10_000;

/// A component's status, in Statuspage's vocabulary, ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ComponentStatus {
    Operational,
    UnderMaintenance,
    DegradedPerformance,
    PartialOutage,
    MajorOutage,
}

impl ComponentStatus {
    /// `operational`, `under_maintenance`, `degraded_performance`, `partial_outage`,
    /// `major_outage` (`data-status` and JSON).
    pub fn name(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "operational",
            ComponentStatus::UnderMaintenance => "under_maintenance",
            ComponentStatus::DegradedPerformance => "degraded_performance",
            ComponentStatus::PartialOutage => "partial_outage",
            ComponentStatus::MajorOutage => "major_outage",
        }
    }

    /// `Operational`, `Under maintenance`, ... (what people read).
    pub fn label(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "Operational",
            ComponentStatus::UnderMaintenance => "Under maintenance",
            ComponentStatus::DegradedPerformance => "Degraded performance",
            ComponentStatus::PartialOutage => "Partial outage",
            ComponentStatus::MajorOutage => "Major outage",
        }
    }

    /// The banner's words for the page as a whole.
    pub fn banner(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "All systems operational",
            ComponentStatus::UnderMaintenance => "Maintenance in progress",
            ComponentStatus::DegradedPerformance => "Degraded performance",
            ComponentStatus::PartialOutage => "Partial outage",
            ComponentStatus::MajorOutage => "Major outage",
        }
    }

    fn is_outage(self) -> bool {
        matches!(
            self,
            ComponentStatus::PartialOutage | ComponentStatus::MajorOutage
        )
    }
}

/// A component of the page: a catalog service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// The service id (`data-service`).
    pub id: String,
    /// The display name, or the id.
    pub name: String,
    /// What maintenance matchers are matched against: the service's labels, `team` (its
    /// owner) and `service` (its id).
    pub labels: Labels,
}

/// The components of a catalog, in spec order.
pub fn components(catalog: &Catalog) -> Vec<Component> {
    catalog
        .services
        .iter()
        .filter(|service| service.status_page)
        .map(|service| {
            let mut labels = service.labels.clone();
            if let Some(owner) = &service.owner {
                labels.insert("team".to_string(), owner.clone());
            }
            labels.insert("service".to_string(), service.id.clone());
            Component {
                id: service.id.clone(),
                name: service
                    .display_name
                    .clone()
                    .filter(|name| !name.trim().is_empty())
                    .unwrap_or_else(|| service.id.clone()),
                labels,
            }
        })
        .collect()
}

/// A status update an incident's communications lead chose to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUpdate {
    pub at: Timestamp,
    /// The incident's status when it was posted.
    pub status: IncidentStatus,
    pub text: String,
}

/// A stretch of time an incident was open at one severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub from: Timestamp,
    /// None while it lasts.
    pub to: Option<Timestamp>,
    pub severity: String,
}

/// What the status page may know of an incident, and nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentFacts {
    /// An opaque digest of the incident's id (the id itself may say too much).
    pub public_id: String,
    pub services: Vec<String>,
    /// The severity now.
    pub severity: String,
    pub status: IncidentStatus,
    pub opened_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    /// When it was open, at which severity, oldest first.
    pub periods: Vec<Period>,
    /// Public updates only, newest first.
    pub updates: Vec<PublicUpdate>,
}

impl IncidentFacts {
    /// Published: at least one public update.
    pub fn is_published(&self) -> bool {
        !self.updates.is_empty()
    }

    pub fn is_resolved(&self) -> bool {
        self.status == IncidentStatus::Resolved
    }

    fn affects(&self, component: &Component) -> bool {
        self.services.contains(&component.id)
    }
}

/// The public facts of an incident from its stored row and its own events (in id order).
///
/// Periods and the status at each update are replayed from the events (`incident.opened`
/// carries the severity, `incident.severity` and `incident.status` the new value in `to`,
/// `incident.resolved` and `incident.reopened` close and open a period); without an opening
/// event the row alone gives one period. Only updates whose `public` field is `true` are kept.
pub fn incident_facts(row: &IncidentRow, events: &[EventRow]) -> IncidentFacts {
    let incident = crate::incidents::incident_of(row);
    let mut severity = incident.severity.clone();
    let mut status = IncidentStatus::Investigating;
    let mut open_since: Option<Timestamp> = None;
    let mut periods = Vec::new();
    let mut updates = Vec::new();
    let mut saw_opening = false;
    for event in events {
        let payload: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
        let field = |name: &str| payload["fields"][name].as_str().map(str::to_string);
        let at = Timestamp::from_millisecond(event.at_ms).unwrap_or(Timestamp::UNIX_EPOCH);
        match EventKind::from_name(&event.kind) {
            Some(EventKind::Opened) => {
                saw_opening = true;
                severity = field("severity").unwrap_or_else(|| incident.severity.clone());
                status = IncidentStatus::Investigating;
                open_since = Some(at);
            }
            Some(EventKind::Severity) => {
                let Some(to) = field("to") else { continue };
                if let Some(since) = open_since {
                    periods.push(Period {
                        from: since,
                        to: Some(at),
                        severity: severity.clone(),
                    });
                    open_since = Some(at);
                }
                severity = to;
            }
            Some(EventKind::Status) => {
                if let Some(to) = field("to").and_then(|name| IncidentStatus::from_name(&name)) {
                    status = to;
                }
            }
            Some(EventKind::Resolved) => {
                if let Some(since) = open_since.take() {
                    periods.push(Period {
                        from: since,
                        to: Some(at),
                        severity: severity.clone(),
                    });
                }
                status = IncidentStatus::Resolved;
            }
            Some(EventKind::Reopened) => {
                open_since.get_or_insert(at);
                status = IncidentStatus::Investigating;
            }
            Some(EventKind::Update) => {
                if let Some(text) =
                    crate::incidents::public_update_text(event).filter(|text| !text.is_empty())
                {
                    updates.push(PublicUpdate { at, status, text });
                }
            }
            _ => {}
        }
    }
    if let Some(since) = open_since {
        // The row is the truth about now: a resolution the events missed closes the period.
        periods.push(Period {
            from: since,
            to: incident.resolved_at.map(|resolved| resolved.max(since)),
            severity: incident.severity.clone(),
        });
    }
    if !saw_opening {
        periods = vec![Period {
            from: incident.opened_at,
            to: incident.resolved_at,
            severity: incident.severity.clone(),
        }];
    }
    updates.reverse();
    IncidentFacts {
        public_id: public_id(&incident.id),
        services: incident.services,
        severity: incident.severity,
        status: incident.status,
        opened_at: incident.opened_at,
        resolved_at: incident.resolved_at,
        periods,
        updates,
    }
}

/// The first 12 hex digits of the SHA-256 of the id: stable, and says nothing.
fn public_id(id: &str) -> String {
    let digest = sha2::Sha256::digest(id.as_bytes());
    digest
        .iter()
        .take(6)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// An SLO's burn-rate alert, and the service it belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SloAlert<'a> {
    pub service: &'a str,
    pub burn_rate: AlertState,
}

/// Everything the page is computed from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub rubric: &'a Rubric,
    /// Published or not; the functions here look only at published ones.
    pub incidents: &'a [IncidentFacts],
    pub slo_alerts: &'a [SloAlert<'a>],
    pub maintenance: &'a [MaintenanceWindow],
}

/// The impact of a severity: the rubric's worst level (lowest rank) is a major outage, the
/// second a partial outage, any other level (or one the rubric does not have) degraded
/// performance.
pub fn impact(rubric: &Rubric, severity: &str) -> ComponentStatus {
    let Some(level) = rubric.level(severity) else {
        return ComponentStatus::DegradedPerformance;
    };
    let worse = rubric
        .levels
        .iter()
        .filter(|other| other.rank < level.rank)
        .count();
    match worse {
        0 => ComponentStatus::MajorOutage,
        1 => ComponentStatus::PartialOutage,
        _ => ComponentStatus::DegradedPerformance,
    }
}

/// The status a component shows: an incident's impact (`incident`), maintenance and a paging
/// SLO combined by the rule of the module doc.
fn combine(incident: Option<ComponentStatus>, maintenance: bool, paging: bool) -> ComponentStatus {
    match (incident, maintenance) {
        (Some(outage), _) if outage.is_outage() => outage,
        (_, true) => ComponentStatus::UnderMaintenance,
        (Some(impact), false) => impact,
        (None, false) if paging => ComponentStatus::DegradedPerformance,
        (None, false) => ComponentStatus::Operational,
    }
}

/// A component's status at `now` (see the module doc for the rules).
pub fn component_status(
    component: &Component,
    inputs: &Inputs<'_>,
    now: Timestamp,
) -> ComponentStatus {
    let incident = inputs
        .incidents
        .iter()
        .filter(|incident| {
            incident.is_published() && !incident.is_resolved() && incident.affects(component)
        })
        .map(|incident| impact(inputs.rubric, &incident.severity))
        .max();
    let maintenance = inputs
        .maintenance
        .iter()
        .any(|window| window.mutes(&component.labels, now));
    let paging = inputs.slo_alerts.iter().any(|alert| {
        alert.service == component.id
            && matches!(
                alert.burn_rate,
                AlertState::Firing {
                    severity: Severity::Page,
                    ..
                }
            )
    });
    combine(incident, maintenance, paging)
}

/// One day of a component's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    pub date: Date,
    pub status: ComponentStatus,
    /// What happened, in time order: `Partial outage 14:02–15:30 UTC`.
    pub notes: Vec<String>,
}

impl Day {
    /// The tooltip: the date and what happened.
    pub fn title(&self) -> String {
        if self.notes.is_empty() {
            format!("{}: no incidents or maintenance", self.date)
        } else {
            format!("{}: {}", self.date, self.notes.join("; "))
        }
    }
}

/// Start of a UTC day.
fn day_start(date: Date) -> Timestamp {
    date.to_zoned(TimeZone::UTC)
        .map(|zoned| zoned.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The UTC dates of the history ending today, oldest first.
pub fn history_dates(now: Timestamp) -> Vec<Date> {
    let today = now.to_zoned(TimeZone::UTC).date();
    let mut dates = Vec::with_capacity(HISTORY_DAYS);
    let mut date = today;
    for _ in 0..HISTORY_DAYS {
        dates.push(date);
        match date.yesterday() {
            Ok(yesterday) => date = yesterday,
            Err(_) => break,
        }
    }
    dates.reverse();
    dates
}

/// The occurrences of a maintenance window overlapping `[from, to)`, in time order.
pub fn occurrences(
    window: &MaintenanceWindow,
    from: Timestamp,
    to: Timestamp,
) -> Vec<(Timestamp, Timestamp)> {
    let mut out = Vec::new();
    let mut at = from;
    // Each step moves past an occurrence's end, so this ends; the cap is a guard only.
    for _ in 0..10_000 {
        let Some((starts, ends)) = window.next_window(at) else {
            break;
        };
        if starts >= to || ends <= at {
            break;
        }
        out.push((starts, ends));
        at = ends;
    }
    out
}

/// `HH:MM` of `at` within the day starting at `start` (`24:00` for its end).
fn clock(start: Timestamp, at: Timestamp) -> String {
    let minutes = at.duration_since(start).as_secs().clamp(0, 24 * 3600) / 60;
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// A stretch within one day, in words: `14:02–15:30 UTC`, `since 14:02 UTC`.
fn stretch(day_from: Timestamp, from: Timestamp, to: Option<Timestamp>, now: Timestamp) -> String {
    let day_to = day_from + SignedDuration::from_hours(24);
    let from = from.max(day_from);
    match to {
        None if now < day_to => format!("since {} UTC", clock(day_from, from)),
        None => format!("{}–24:00 UTC", clock(day_from, from)),
        Some(to) => format!(
            "{}–{} UTC",
            clock(day_from, from),
            clock(day_from, to.min(day_to))
        ),
    }
}

/// A component's day-by-day history over `dates` (see the module doc).
pub fn history(
    component: &Component,
    inputs: &Inputs<'_>,
    dates: &[Date],
    now: Timestamp,
) -> Vec<Day> {
    let published: Vec<&IncidentFacts> = inputs
        .incidents
        .iter()
        .filter(|incident| incident.is_published() && incident.affects(component))
        .collect();
    let windows: Vec<&MaintenanceWindow> = inputs
        .maintenance
        .iter()
        .filter(|window| matches_all(&window.matchers, &component.labels))
        .collect();
    dates
        .iter()
        .map(|date| {
            let from = day_start(*date);
            let to = (from + SignedDuration::from_hours(24)).min(now);
            let mut notes: Vec<(Timestamp, String)> = Vec::new();
            let mut worst: Option<ComponentStatus> = None;
            for incident in &published {
                for period in &incident.periods {
                    let ends = period.to.unwrap_or(now);
                    if !(period.from < to && ends > from) {
                        continue;
                    }
                    let status = impact(inputs.rubric, &period.severity);
                    worst = worst.max(Some(status));
                    let words = stretch(from, period.from, period.to, now);
                    notes.push((period.from, format!("{} {words}", status.label())));
                }
            }
            let mut maintenance = false;
            for window in &windows {
                for (starts, ends) in occurrences(window, from, to) {
                    maintenance = true;
                    let words = stretch(from, starts, Some(ends), now);
                    notes.push((starts, format!("Maintenance {words}")));
                }
            }
            notes.sort();
            Day {
                date: *date,
                status: combine(worst, maintenance, false),
                notes: notes.into_iter().map(|(_, note)| note).collect(),
            }
        })
        .collect()
}

/// The share of `[from, now)` a component spent without a partial or major outage from a
/// published incident.
pub fn uptime(component: &Component, inputs: &Inputs<'_>, from: Timestamp, now: Timestamp) -> f64 {
    let total = now.duration_since(from).as_secs_f64();
    if total <= 0.0 {
        return 1.0;
    }
    let mut outages: Vec<(Timestamp, Timestamp)> = inputs
        .incidents
        .iter()
        .filter(|incident| incident.is_published() && incident.affects(component))
        .flat_map(|incident| incident.periods.iter())
        .filter(|period| impact(inputs.rubric, &period.severity).is_outage())
        .map(|period| (period.from.max(from), period.to.unwrap_or(now).min(now)))
        .filter(|(starts, ends)| starts < ends)
        .collect();
    outages.sort();
    let mut down = 0.0;
    let mut covered_until = from;
    for (starts, ends) in outages {
        let starts = starts.max(covered_until);
        if ends > starts {
            down += ends.duration_since(starts).as_secs_f64();
            covered_until = ends;
        }
    }
    (1.0 - down / total).clamp(0.0, 1.0)
}

/// A share as a percentage rounded down to two decimals: `99.95 %`, `100 %`.
pub fn percent(share: f64) -> String {
    let hundredths = (share * 10_000.0).floor().clamp(0.0, 10_000.0) as u32;
    if hundredths == 10_000 {
        "100 %".to_string()
    } else {
        format!("{}.{:02} %", hundredths / 100, hundredths % 100)
    }
}

/// One component on the page.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentView {
    pub id: String,
    pub name: String,
    pub status: ComponentStatus,
    pub uptime: f64,
    pub days: Vec<Day>,
}

/// One incident on the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentView {
    pub public_id: String,
    /// `Partial outage of Checkout and Search`.
    pub heading: String,
    pub impact: ComponentStatus,
    pub status: IncidentStatus,
    /// Ids of the components it names, in spec order.
    pub components: Vec<String>,
    pub started_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    /// Newest first.
    pub updates: Vec<PublicUpdate>,
}

/// Maintenance open now or coming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceView {
    /// Ids of the components it covers, in spec order.
    pub components: Vec<String>,
    pub heading: String,
    pub starts: Timestamp,
    pub ends: Timestamp,
    pub in_progress: bool,
}

/// The whole page.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusView {
    pub at: Timestamp,
    pub overall: ComponentStatus,
    pub components: Vec<ComponentView>,
    pub active: Vec<IncidentView>,
    pub resolved: Vec<IncidentView>,
    pub maintenance: Vec<MaintenanceView>,
}

/// `A`, `A and B`, `A, B and C`.
fn join_names(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn incident_view(
    incident: &IncidentFacts,
    components: &[Component],
    impact: ComponentStatus,
) -> IncidentView {
    let named: Vec<&Component> = components
        .iter()
        .filter(|component| incident.affects(component))
        .collect();
    let names: Vec<&str> = named
        .iter()
        .map(|component| component.name.as_str())
        .collect();
    let heading = if names.is_empty() {
        impact.label().to_string()
    } else {
        format!("{} of {}", impact.label(), join_names(&names))
    };
    IncidentView {
        public_id: incident.public_id.clone(),
        heading,
        impact,
        status: incident.status,
        components: named.iter().map(|component| component.id.clone()).collect(),
        started_at: incident.opened_at,
        resolved_at: incident.resolved_at,
        updates: incident.updates.clone(),
    }
}

/// The page at `now`.
pub fn status_view(components: &[Component], inputs: &Inputs<'_>, now: Timestamp) -> StatusView {
    let dates = history_dates(now);
    let history_from = dates.first().map_or(now, |date| day_start(*date));
    let component_views: Vec<ComponentView> = components
        .iter()
        .map(|component| ComponentView {
            id: component.id.clone(),
            name: component.name.clone(),
            status: component_status(component, inputs, now),
            uptime: uptime(component, inputs, history_from, now),
            days: history(component, inputs, &dates, now),
        })
        .collect();
    let latest = |incident: &IncidentView| {
        incident
            .updates
            .first()
            .map_or(incident.started_at, |update| update.at)
    };
    let mut active: Vec<IncidentView> = inputs
        .incidents
        .iter()
        .filter(|incident| incident.is_published() && !incident.is_resolved())
        .map(|incident| {
            let current = impact(inputs.rubric, &incident.severity);
            incident_view(incident, components, current)
        })
        .collect();
    active.sort_by_key(|incident| std::cmp::Reverse(latest(incident)));
    let mut resolved: Vec<IncidentView> = inputs
        .incidents
        .iter()
        .filter(|incident| {
            incident.is_published()
                && incident.is_resolved()
                && incident
                    .resolved_at
                    .is_some_and(|at| at >= now - RECENTLY_RESOLVED)
        })
        .map(|incident| {
            let worst = incident
                .periods
                .iter()
                .map(|period| impact(inputs.rubric, &period.severity))
                .max()
                .unwrap_or_else(|| impact(inputs.rubric, &incident.severity));
            incident_view(incident, components, worst)
        })
        .collect();
    resolved.sort_by_key(|incident| std::cmp::Reverse(incident.resolved_at));
    let mut maintenance = Vec::new();
    for window in inputs.maintenance {
        let covered: Vec<&Component> = components
            .iter()
            .filter(|component| matches_all(&window.matchers, &component.labels))
            .collect();
        if covered.is_empty() {
            continue;
        }
        let Some((starts, ends)) = window.next_window(now) else {
            continue;
        };
        if starts > now + MAINTENANCE_AHEAD {
            continue;
        }
        let names: Vec<&str> = covered
            .iter()
            .map(|component| component.name.as_str())
            .collect();
        maintenance.push(MaintenanceView {
            components: covered
                .iter()
                .map(|component| component.id.clone())
                .collect(),
            heading: format!("Maintenance of {}", join_names(&names)),
            starts,
            ends,
            in_progress: starts <= now,
        });
    }
    maintenance.sort_by_key(|view| view.starts);
    let overall = component_views
        .iter()
        .map(|component| component.status)
        .chain(active.iter().map(|incident| incident.impact))
        .max()
        .unwrap_or(ComponentStatus::Operational);
    StatusView {
        at: now,
        overall,
        components: component_views,
        active,
        resolved,
        maintenance,
    }
}

/// The published facts the page needs: open incidents, and those that may overlap the history.
async fn read_incidents(
    state: &AppState,
    now: Timestamp,
) -> Result<Vec<IncidentFacts>, StoreError> {
    let history_from = history_dates(now)
        .first()
        .map_or(now, |date| day_start(*date));
    let mut rows: BTreeMap<String, IncidentRow> = BTreeMap::new();
    for status in ["investigating", "identified", "monitoring"] {
        let open = state
            .store
            .incidents(&IncidentQuery {
                status: Some(status.to_string()),
                limit: MAX_INCIDENTS,
                ..IncidentQuery::default()
            })
            .await?;
        rows.extend(open.into_iter().map(|row| (row.id.clone(), row)));
    }
    let recent = state
        .store
        .incidents(&IncidentQuery {
            opened_from_ms: Some((history_from - LOOKBACK_BEFORE_HISTORY).as_millisecond()),
            limit: MAX_INCIDENTS,
            ..IncidentQuery::default()
        })
        .await?;
    let history_from_ms = history_from.as_millisecond();
    for row in recent {
        if row
            .resolved_ms
            .is_none_or(|resolved| resolved >= history_from_ms)
        {
            rows.insert(row.id.clone(), row);
        }
    }
    let mut facts = Vec::with_capacity(rows.len());
    for row in rows.values() {
        let events = state
            .store
            .events(&EventQuery {
                incident_id: Some(row.id.clone()),
                limit: MAX_EVENTS,
                ..EventQuery::default()
            })
            .await?;
        facts.push(incident_facts(row, &events));
    }
    Ok(facts)
}

/// Reads the store and the fleet, and computes the page.
async fn current_view(state: &AppState, now: Timestamp) -> Result<StatusView, StoreError> {
    let incidents = read_incidents(state, now).await?;
    let alerts: Vec<(String, AlertState)> = {
        let fleet = state.fleet();
        fleet
            .entries()
            .iter()
            .map(|entry| (entry.def.service.clone(), entry.runtime.alerts().burn_rate))
            .collect()
    };
    let slo_alerts: Vec<SloAlert<'_>> = alerts
        .iter()
        .map(|(service, burn_rate)| SloAlert {
            service,
            burn_rate: *burn_rate,
        })
        .collect();
    let inputs = Inputs {
        rubric: &state.catalog.incidents.rubric,
        incidents: &incidents,
        slo_alerts: &slo_alerts,
        maintenance: &state.catalog.oncall.maintenance,
    };
    Ok(status_view(&components(&state.catalog), &inputs, now))
}

/// `GET /status` and `GET /api/v1/status`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/status", get(page))
        .route("/api/v1/status", get(api))
}

fn unavailable_html() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::RETRY_AFTER, "30"),
        ],
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Status \
         unavailable</title></head><body><h1>Status unavailable</h1><p>The status page \
         cannot be shown right now. Please try again in a minute.</p></body></html>",
    )
        .into_response()
}

async fn page(State(state): State<AppState>) -> Response {
    let view = match current_view(&state, Timestamp::now()).await {
        Ok(view) => view,
        Err(err) => {
            tracing::error!(error = %err, "status page: reading the store failed");
            return unavailable_html();
        }
    };
    match render(&view) {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, CACHE_CONTROL),
            ],
            html,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "status page: rendering failed");
            unavailable_html()
        }
    }
}

async fn api(State(state): State<AppState>) -> Response {
    match current_view(&state, Timestamp::now()).await {
        Ok(view) => (
            [
                (header::CACHE_CONTROL, CACHE_CONTROL),
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            ],
            Json(view_json(&view)),
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "status api: reading the store failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CACHE_CONTROL, "no-store")],
                Json(json!({"error": {"status": 503, "message": "status unavailable"}})),
            )
                .into_response()
        }
    }
}

fn incident_json(incident: &IncidentView) -> Value {
    json!({
        "id": incident.public_id,
        "name": incident.heading,
        "impact": incident.impact.name(),
        "status": incident.status.name(),
        "components": incident.components,
        "started_at": incident.started_at.to_string(),
        "resolved_at": incident.resolved_at.map(|at| at.to_string()),
        "updates": incident.updates.iter().map(|update| json!({
            "at": update.at.to_string(),
            "status": update.status.name(),
            "text": update.text,
        })).collect::<Vec<_>>(),
    })
}

/// The page as JSON: the same facts as the HTML.
pub fn view_json(view: &StatusView) -> Value {
    json!({
        "updated_at": view.at.to_string(),
        "status": {"indicator": view.overall.name(), "description": view.overall.banner()},
        "components": view.components.iter().map(|component| json!({
            "id": component.id,
            "name": component.name,
            "status": component.status.name(),
            "uptime_90d": component.uptime,
            "history": component.days.iter().map(|day| json!({
                "date": day.date.to_string(),
                "status": day.status.name(),
                "notes": day.notes,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "incidents": view.active.iter().map(incident_json).collect::<Vec<_>>(),
        "resolved_incidents": view.resolved.iter().map(incident_json).collect::<Vec<_>>(),
        "maintenance": view.maintenance.iter().map(|window| json!({
            "name": window.heading,
            "components": window.components,
            "starts_at": window.starts.to_string(),
            "ends_at": window.ends.to_string(),
            "in_progress": window.in_progress,
        })).collect::<Vec<_>>(),
    })
}

/// `Mar 4, 14:02 UTC`.
fn when(at: Timestamp) -> String {
    at.strftime("%b %-d, %H:%M UTC").to_string()
}

/// A status as people read it: `Investigating`.
fn status_label(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::Investigating => "Investigating",
        IncidentStatus::Identified => "Identified",
        IncidentStatus::Monitoring => "Monitoring",
        IncidentStatus::Resolved => "Resolved",
    }
}

struct DayCell {
    status: &'static str,
    title: String,
}

struct ComponentRow {
    id: String,
    name: String,
    status: &'static str,
    label: &'static str,
    uptime: String,
    days: Vec<DayCell>,
}

struct UpdateRow {
    status: &'static str,
    at: String,
    at_iso: String,
    text: String,
}

struct IncidentBlock {
    id: String,
    heading: String,
    impact: &'static str,
    status: &'static str,
    started: String,
    resolved: Option<String>,
    updates: Vec<UpdateRow>,
}

struct MaintenanceRow {
    heading: String,
    starts: String,
    ends: String,
    in_progress: bool,
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    overall: &'static str,
    banner: &'static str,
    updated: String,
    updated_iso: String,
    history_days: usize,
    components: Vec<ComponentRow>,
    active: Vec<IncidentBlock>,
    resolved: Vec<IncidentBlock>,
    maintenance: Vec<MaintenanceRow>,
}

fn incident_block(incident: &IncidentView) -> IncidentBlock {
    IncidentBlock {
        id: incident.public_id.clone(),
        heading: incident.heading.clone(),
        impact: incident.impact.name(),
        status: status_label(incident.status),
        started: when(incident.started_at),
        resolved: incident.resolved_at.map(when),
        updates: incident
            .updates
            .iter()
            .map(|update| UpdateRow {
                status: status_label(update.status),
                at: when(update.at),
                at_iso: update.at.to_string(),
                text: update.text.clone(),
            })
            .collect(),
    }
}

/// The page as HTML.
pub fn render(view: &StatusView) -> Result<String, askama::Error> {
    let page = StatusPage {
        overall: view.overall.name(),
        banner: view.overall.banner(),
        updated: when(view.at),
        updated_iso: view.at.to_string(),
        history_days: HISTORY_DAYS,
        components: view
            .components
            .iter()
            .map(|component| ComponentRow {
                id: component.id.clone(),
                name: component.name.clone(),
                status: component.status.name(),
                label: component.status.label(),
                uptime: percent(component.uptime),
                days: component
                    .days
                    .iter()
                    .map(|day| DayCell {
                        status: day.status.name(),
                        title: day.title(),
                    })
                    .collect(),
            })
            .collect(),
        active: view.active.iter().map(incident_block).collect(),
        resolved: view.resolved.iter().map(incident_block).collect(),
        maintenance: view
            .maintenance
            .iter()
            .map(|window| MaintenanceRow {
                heading: window.heading.clone(),
                starts: when(window.starts),
                ends: when(window.ends),
                in_progress: window.in_progress,
            })
            .collect(),
    };
    page.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{Time, Weekday};
    use nines_core::incident::machine::{IncidentCommand, apply};
    use nines_core::incident::model::SeverityLevel;
    use nines_core::oncall::matcher::Matcher;
    use nines_core::oncall::silence::MaintenanceWhen;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn component(id: &str) -> Component {
        Component {
            id: id.to_string(),
            name: id.to_string(),
            labels: Labels::from([
                ("service".to_string(), id.to_string()),
                ("team".to_string(), "payments-team".to_string()),
            ]),
        }
    }

    /// An incident on `services`; published with one public update when `published`.
    fn incident(
        services: &[&str],
        severity: &str,
        resolved: bool,
        published: bool,
    ) -> IncidentFacts {
        let opened_at = at("2025-03-10T08:00:00Z");
        let resolved_at = resolved.then(|| at("2025-03-10T09:00:00Z"));
        IncidentFacts {
            public_id: "0123456789ab".to_string(),
            services: services.iter().map(|service| service.to_string()).collect(),
            severity: severity.to_string(),
            status: if resolved {
                IncidentStatus::Resolved
            } else {
                IncidentStatus::Identified
            },
            opened_at,
            resolved_at,
            periods: vec![Period {
                from: opened_at,
                to: resolved_at,
                severity: severity.to_string(),
            }],
            updates: if published {
                vec![PublicUpdate {
                    at: opened_at,
                    status: IncidentStatus::Investigating,
                    text: "we are looking into it".to_string(),
                }]
            } else {
                Vec::new()
            },
        }
    }

    fn once(matcher: &str, starts: &str, ends: &str) -> MaintenanceWindow {
        MaintenanceWindow {
            id: "window".to_string(),
            matchers: vec![Matcher::parse(matcher).unwrap()],
            when: MaintenanceWhen::Once {
                starts: at(starts),
                ends: at(ends),
            },
            comment: "internal comment".to_string(),
        }
    }

    fn sundays_at_two(matcher: &str) -> MaintenanceWindow {
        MaintenanceWindow {
            id: "weekly".to_string(),
            matchers: vec![Matcher::parse(matcher).unwrap()],
            when: MaintenanceWhen::Weekly {
                time_zone: TimeZone::UTC,
                days: vec![Weekday::Sunday],
                start: Time::constant(2, 0, 0, 0),
                duration: nines_core::Span::hours(2),
            },
            comment: String::new(),
        }
    }

    fn firing(service: &str, severity: Severity) -> SloAlert<'_> {
        SloAlert {
            service,
            burn_rate: AlertState::Firing {
                severity,
                since: at("2025-03-10T11:00:00Z"),
            },
        }
    }

    #[test]
    fn a_component_status_follows_published_incidents_maintenance_and_paging_slos() {
        let now = at("2025-03-10T12:00:00Z");
        let rubric = Rubric::default_three();
        let open_now = "2025-03-10T11:00:00Z";
        let later = "2025-03-10T13:00:00Z";
        let ended = "2025-03-10T11:30:00Z";
        let resolved = SloAlert {
            service: "checkout",
            burn_rate: AlertState::Resolved {
                severity: Severity::Page,
                at: at(ended),
            },
        };
        #[allow(clippy::type_complexity)]
        let cases: Vec<(
            &str,
            Vec<IncidentFacts>,
            Vec<SloAlert>,
            Vec<MaintenanceWindow>,
            ComponentStatus,
        )> = vec![
            (
                "nothing",
                vec![],
                vec![],
                vec![],
                ComponentStatus::Operational,
            ),
            (
                "an unpublished SEV1",
                vec![incident(&["checkout"], "SEV1", false, false)],
                vec![],
                vec![],
                ComponentStatus::Operational,
            ),
            (
                "a published SEV1",
                vec![incident(&["checkout"], "SEV1", false, true)],
                vec![],
                vec![],
                ComponentStatus::MajorOutage,
            ),
            (
                "a published sev2, spelled in lower case",
                vec![incident(&["checkout"], "sev2", false, true)],
                vec![],
                vec![],
                ComponentStatus::PartialOutage,
            ),
            (
                "a published SEV3",
                vec![incident(&["checkout"], "SEV3", false, true)],
                vec![],
                vec![],
                ComponentStatus::DegradedPerformance,
            ),
            (
                "a severity the rubric no longer has",
                vec![incident(&["checkout"], "SEV9", false, true)],
                vec![],
                vec![],
                ComponentStatus::DegradedPerformance,
            ),
            (
                "the worst of two",
                vec![
                    incident(&["checkout"], "SEV3", false, true),
                    incident(&["search", "checkout"], "SEV1", false, true),
                ],
                vec![],
                vec![],
                ComponentStatus::MajorOutage,
            ),
            (
                "a resolved SEV1",
                vec![incident(&["checkout"], "SEV1", true, true)],
                vec![],
                vec![],
                ComponentStatus::Operational,
            ),
            (
                "a SEV1 of another service",
                vec![incident(&["search"], "SEV1", false, true)],
                vec![],
                vec![],
                ComponentStatus::Operational,
            ),
            (
                "maintenance now",
                vec![],
                vec![],
                vec![once("service=\"checkout\"", open_now, later)],
                ComponentStatus::UnderMaintenance,
            ),
            (
                "maintenance of the owning team",
                vec![],
                vec![],
                vec![once("team=\"payments-team\"", open_now, later)],
                ComponentStatus::UnderMaintenance,
            ),
            (
                "maintenance that ended",
                vec![],
                vec![],
                vec![once("service=\"checkout\"", open_now, ended)],
                ComponentStatus::Operational,
            ),
            (
                "maintenance of another service",
                vec![],
                vec![],
                vec![once("service=\"search\"", open_now, later)],
                ComponentStatus::Operational,
            ),
            (
                "maintenance of only some alerts of the service",
                vec![],
                vec![],
                vec![MaintenanceWindow {
                    matchers: vec![
                        Matcher::parse("service=\"checkout\"").unwrap(),
                        Matcher::parse("alertname=\"SLONoData\"").unwrap(),
                    ],
                    ..once("service=\"checkout\"", open_now, later)
                }],
                ComponentStatus::Operational,
            ),
            (
                "maintenance and a degraded incident",
                vec![incident(&["checkout"], "SEV3", false, true)],
                vec![],
                vec![once("service=\"checkout\"", open_now, later)],
                ComponentStatus::UnderMaintenance,
            ),
            (
                "maintenance and an outage",
                vec![incident(&["checkout"], "SEV2", false, true)],
                vec![],
                vec![once("service=\"checkout\"", open_now, later)],
                ComponentStatus::PartialOutage,
            ),
            (
                "an SLO paging",
                vec![],
                vec![firing("checkout", Severity::Page)],
                vec![],
                ComponentStatus::DegradedPerformance,
            ),
            (
                "an SLO paging and an unpublished SEV1",
                vec![incident(&["checkout"], "SEV1", false, false)],
                vec![firing("checkout", Severity::Page)],
                vec![],
                ComponentStatus::DegradedPerformance,
            ),
            (
                "an SLO ticketing",
                vec![],
                vec![firing("checkout", Severity::Ticket)],
                vec![],
                ComponentStatus::Operational,
            ),
            (
                "an SLO that stopped paging",
                vec![],
                vec![resolved],
                vec![],
                ComponentStatus::Operational,
            ),
            (
                "an SLO of another service paging",
                vec![],
                vec![firing("search", Severity::Page)],
                vec![],
                ComponentStatus::Operational,
            ),
            (
                "an SLO paging and a published SEV1",
                vec![incident(&["checkout"], "SEV1", false, true)],
                vec![firing("checkout", Severity::Page)],
                vec![],
                ComponentStatus::MajorOutage,
            ),
            (
                "an SLO paging during maintenance",
                vec![],
                vec![firing("checkout", Severity::Page)],
                vec![once("service=\"checkout\"", open_now, later)],
                ComponentStatus::UnderMaintenance,
            ),
        ];
        for (name, incidents, slo_alerts, maintenance, want) in cases {
            let inputs = Inputs {
                rubric: &rubric,
                incidents: &incidents,
                slo_alerts: &slo_alerts,
                maintenance: &maintenance,
            };
            let got = component_status(&component("checkout"), &inputs, now);
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn impact_follows_the_rank_of_the_severity_not_its_name() {
        let level = |id: &str, rank: u32| SeverityLevel {
            id: id.to_string(),
            rank,
            name: id.to_string(),
            definition: String::new(),
        };
        // Listed out of order, ranks with gaps.
        let rubric = Rubric {
            levels: vec![
                level("P3", 30),
                level("P1", 10),
                level("P4", 40),
                level("P2", 20),
            ],
        };
        let got: Vec<ComponentStatus> = ["P1", "p2", "P3", "P4", "SEV1"]
            .iter()
            .map(|severity| impact(&rubric, severity))
            .collect();
        assert_eq!(
            got,
            [
                ComponentStatus::MajorOutage,
                ComponentStatus::PartialOutage,
                ComponentStatus::DegradedPerformance,
                ComponentStatus::DegradedPerformance,
                ComponentStatus::DegradedPerformance,
            ]
        );
    }

    fn event_rows(commands: &[(&str, IncidentCommand)]) -> (IncidentRow, Vec<EventRow>) {
        let rubric = Rubric::default_three();
        let mut incident = None;
        let mut rows = Vec::new();
        for (when, command) in commands {
            let (next, events) = apply(incident.as_ref(), &rubric, command, at(when)).unwrap();
            for event in events {
                rows.push(EventRow {
                    id: rows.len() as i64 + 1,
                    at_ms: event.at.as_millisecond(),
                    kind: event.kind.name().to_string(),
                    slo_id: None,
                    page_id: None,
                    incident_id: Some(next.id.clone()),
                    actor: event.actor.clone().unwrap_or_default(),
                    payload: json!({"text": event.text, "fields": event.fields}).to_string(),
                });
            }
            incident = Some(next);
        }
        let incident = incident.unwrap();
        let row = IncidentRow {
            id: incident.id.clone(),
            title: incident.title.clone(),
            severity: incident.severity.clone(),
            status: incident.status.name().to_string(),
            opened_ms: incident.opened_at.as_millisecond(),
            opened_by: incident.opened_by.clone(),
            resolved_ms: incident.resolved_at.map(Timestamp::as_millisecond),
            roles: json!(incident.roles).to_string(),
            services: json!(incident.services).to_string(),
            slos: "[]".to_string(),
            pages: "[]".to_string(),
            postmortem: None,
            postmortem_published_ms: None,
            reopened: i64::from(incident.reopened),
            updated_ms: 0,
            version: 1,
        };
        (row, rows)
    }

    #[test]
    fn incident_facts_replay_severity_periods_and_keep_only_public_updates() {
        let by = || "alice".to_string();
        let (row, events) = event_rows(&[
            (
                "2025-03-10T08:00:00Z",
                IncidentCommand::Open {
                    id: "inc-db-failover-acme".to_string(),
                    title: "secret title".to_string(),
                    severity: "SEV3".to_string(),
                    by: by(),
                },
            ),
            (
                "2025-03-10T08:01:00Z",
                IncidentCommand::LinkService {
                    service: "checkout".to_string(),
                },
            ),
            (
                "2025-03-10T08:05:00Z",
                IncidentCommand::StatusUpdate {
                    text: "private words".to_string(),
                    by: by(),
                    public: false,
                },
            ),
            (
                "2025-03-10T08:10:00Z",
                IncidentCommand::SetStatus {
                    status: IncidentStatus::Identified,
                    by: by(),
                    note: Some("bad deploy".to_string()),
                },
            ),
            (
                "2025-03-10T08:15:00Z",
                IncidentCommand::StatusUpdate {
                    text: "public words".to_string(),
                    by: by(),
                    public: true,
                },
            ),
            (
                "2025-03-10T08:20:00Z",
                IncidentCommand::SetSeverity {
                    severity: "SEV1".to_string(),
                    by: by(),
                },
            ),
            (
                "2025-03-10T09:00:00Z",
                IncidentCommand::Resolve { by: by() },
            ),
            (
                "2025-03-10T10:00:00Z",
                IncidentCommand::Reopen {
                    by: by(),
                    reason: None,
                    after_postmortem: false,
                },
            ),
            (
                "2025-03-10T10:05:00Z",
                IncidentCommand::StatusUpdate {
                    text: "back again".to_string(),
                    by: by(),
                    public: true,
                },
            ),
        ]);
        let facts = incident_facts(&row, &events);
        let period = |from: &str, to: Option<&str>, severity: &str| Period {
            from: at(from),
            to: to.map(at),
            severity: severity.to_string(),
        };
        assert_eq!(
            facts.periods,
            [
                period("2025-03-10T08:00:00Z", Some("2025-03-10T08:20:00Z"), "SEV3"),
                period("2025-03-10T08:20:00Z", Some("2025-03-10T09:00:00Z"), "SEV1"),
                period("2025-03-10T10:00:00Z", None, "SEV1"),
            ]
        );
        let updates: Vec<(Timestamp, IncidentStatus, &str)> = facts
            .updates
            .iter()
            .map(|update| (update.at, update.status, update.text.as_str()))
            .collect();
        assert_eq!(
            updates,
            [
                (
                    at("2025-03-10T10:05:00Z"),
                    IncidentStatus::Investigating,
                    "back again"
                ),
                (
                    at("2025-03-10T08:15:00Z"),
                    IncidentStatus::Identified,
                    "public words"
                ),
            ]
        );
        assert_eq!(facts.services, ["checkout"]);
        assert_eq!(facts.status, IncidentStatus::Investigating);
        assert!(facts.is_published());
        assert_eq!(facts.public_id.len(), 12);
        assert!(!facts.public_id.contains("acme"), "{}", facts.public_id);
        let debug = format!("{facts:?}");
        for secret in [
            "secret title",
            "private words",
            "bad deploy",
            "alice",
            "acme",
        ] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    #[test]
    fn history_marks_each_day_with_what_overlapped_it() {
        // Sunday 2025-03-09 is a maintenance day; an outage runs across midnight into Monday.
        let now = at("2025-03-11T06:00:00Z");
        let rubric = Rubric::default_three();
        let mut outage = incident(&["checkout"], "SEV2", true, true);
        outage.periods = vec![
            Period {
                from: at("2025-03-09T23:00:00Z"),
                to: Some(at("2025-03-10T00:30:00Z")),
                severity: "SEV3".to_string(),
            },
            Period {
                from: at("2025-03-10T00:30:00Z"),
                to: Some(at("2025-03-10T01:00:00Z")),
                severity: "SEV2".to_string(),
            },
        ];
        let mut ongoing = incident(&["checkout"], "SEV3", false, true);
        ongoing.periods = vec![Period {
            from: at("2025-03-11T05:00:00Z"),
            to: None,
            severity: "SEV3".to_string(),
        }];
        let unpublished = incident(&["checkout"], "SEV1", false, false);
        let incidents = vec![outage, ongoing, unpublished];
        let maintenance = vec![sundays_at_two("service=\"checkout\"")];
        let inputs = Inputs {
            rubric: &rubric,
            incidents: &incidents,
            slo_alerts: &[],
            maintenance: &maintenance,
        };
        let dates = history_dates(now);
        assert_eq!(dates.len(), HISTORY_DAYS);
        assert_eq!(dates.last().unwrap().to_string(), "2025-03-11");
        let days = history(&component("checkout"), &inputs, &dates, now);
        let last: Vec<(String, ComponentStatus, String)> = days[days.len() - 4..]
            .iter()
            .map(|day| (day.date.to_string(), day.status, day.title()))
            .collect();
        assert_eq!(
            last,
            [
                (
                    "2025-03-08".to_string(),
                    ComponentStatus::Operational,
                    "2025-03-08: no incidents or maintenance".to_string()
                ),
                (
                    "2025-03-09".to_string(),
                    ComponentStatus::UnderMaintenance,
                    "2025-03-09: Maintenance 02:00–04:00 UTC; Degraded performance 23:00–24:00 UTC"
                        .to_string()
                ),
                (
                    "2025-03-10".to_string(),
                    ComponentStatus::PartialOutage,
                    "2025-03-10: Degraded performance 00:00–00:30 UTC; Partial outage 00:30–01:00 UTC"
                        .to_string()
                ),
                (
                    "2025-03-11".to_string(),
                    ComponentStatus::DegradedPerformance,
                    "2025-03-11: Degraded performance since 05:00 UTC".to_string()
                ),
            ]
        );
        let sundays = days
            .iter()
            .filter(|day| day.status == ComponentStatus::UnderMaintenance)
            .count();
        assert!((12..=13).contains(&sundays), "{sundays} Sundays in 90 days");
        let from = day_start(dates[0]);
        let share = uptime(&component("checkout"), &inputs, from, now);
        let total = now.duration_since(from).as_secs_f64();
        assert!((share - (1.0 - 1800.0 / total)).abs() < 1e-12, "{share}");
        assert_eq!(
            uptime(&component("search"), &inputs, from, now),
            1.0,
            "another component"
        );
    }

    #[test]
    fn overlapping_outages_count_once_toward_uptime() {
        let now = at("2025-03-10T12:00:00Z");
        let from = at("2025-03-10T00:00:00Z");
        let rubric = Rubric::default_three();
        let mut first = incident(&["checkout"], "SEV1", true, true);
        first.periods[0].from = at("2025-03-10T01:00:00Z");
        first.periods[0].to = Some(at("2025-03-10T04:00:00Z"));
        let mut second = incident(&["checkout"], "SEV2", true, true);
        second.periods[0].from = at("2025-03-10T03:00:00Z");
        second.periods[0].to = Some(at("2025-03-10T06:00:00Z"));
        let incidents = vec![first, second];
        let inputs = Inputs {
            rubric: &rubric,
            incidents: &incidents,
            slo_alerts: &[],
            maintenance: &[],
        };
        let share = uptime(&component("checkout"), &inputs, from, now);
        // 01:00-06:00 down, once: 5 hours of 12.
        assert!((share - 7.0 / 12.0).abs() < 1e-12, "{share}");
    }

    #[test]
    fn percentages_round_down_so_an_outage_never_shows_as_100() {
        let got: Vec<String> = [1.0, 0.999_99, 0.9995, 0.5, 0.0]
            .into_iter()
            .map(percent)
            .collect();
        assert_eq!(got, ["100 %", "99.99 %", "99.95 %", "50.00 %", "0.00 %"]);
    }

    #[test]
    fn weekly_maintenance_occurs_once_a_week() {
        let window = sundays_at_two("service=\"checkout\"");
        let got = occurrences(
            &window,
            at("2025-03-01T00:00:00Z"),
            at("2025-03-22T00:00:00Z"),
        );
        let starts: Vec<String> = got.iter().map(|(starts, _)| starts.to_string()).collect();
        assert_eq!(
            starts,
            [
                "2025-03-02T02:00:00Z",
                "2025-03-09T02:00:00Z",
                "2025-03-16T02:00:00Z"
            ]
        );
        // An occurrence already open at `from` counts.
        let open = occurrences(
            &window,
            at("2025-03-02T03:00:00Z"),
            at("2025-03-02T05:00:00Z"),
        );
        assert_eq!(open.len(), 1);
    }

    #[test]
    fn the_page_heads_incidents_by_impact_and_components_and_shows_no_internal_words() {
        let now = at("2025-03-10T12:00:00Z");
        let rubric = Rubric::default_three();
        let mut components = vec![component("checkout"), component("search")];
        components[0].name = "Checkout".to_string();
        components[1].name = "Search <beta>".to_string();
        let active = incident(
            &["search", "checkout", "unknown-service"],
            "SEV2",
            false,
            true,
        );
        let mut resolved = incident(&["checkout"], "SEV3", true, true);
        resolved.periods[0].severity = "SEV1".to_string();
        let hidden = incident(&["checkout"], "SEV1", false, false);
        let incidents = vec![active, resolved, hidden];
        let maintenance = vec![once(
            "service=\"search\"",
            "2025-03-11T01:00:00Z",
            "2025-03-11T02:00:00Z",
        )];
        let inputs = Inputs {
            rubric: &rubric,
            incidents: &incidents,
            slo_alerts: &[],
            maintenance: &maintenance,
        };
        let view = status_view(&components, &inputs, now);
        assert_eq!(view.overall, ComponentStatus::PartialOutage);
        assert_eq!(view.active.len(), 1);
        assert_eq!(
            view.active[0].heading,
            "Partial outage of Checkout and Search <beta>"
        );
        assert_eq!(view.active[0].components, ["checkout", "search"]);
        assert_eq!(view.resolved.len(), 1);
        assert_eq!(
            view.resolved[0].heading, "Major outage of Checkout",
            "the worst impact it had"
        );
        assert_eq!(view.maintenance.len(), 1);
        assert_eq!(view.maintenance[0].heading, "Maintenance of Search <beta>");
        assert!(!view.maintenance[0].in_progress);
        let html = render(&view).unwrap();
        assert!(html.contains("Search &#60;beta&#62;") || html.contains("Search &lt;beta&gt;"));
        assert!(!html.contains("<beta>"), "escaped");
        assert!(!html.contains("unknown-service"));
        assert!(!html.contains("internal comment"));
        assert_eq!(html.matches("class=\"incident card\"").count(), 1);
        assert_eq!(
            html.matches("<p class=\"incident-update\">we are looking into it</p>")
                .count(),
            1
        );
        assert_eq!(html.matches("class=\"day\"").count(), 2 * HISTORY_DAYS);
        let json = view_json(&view).to_string();
        assert!(!json.contains("unknown-service"));
        assert!(!json.contains("internal comment"));
    }
}
