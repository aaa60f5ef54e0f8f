//! On-call checks that need every file: references, escalation handoff cycles, schedule
//! coverage and rotation health, services whose pages reach nobody; then the on-call part of
//! the catalog, without the definitions of files that have errors.

use std::collections::BTreeSet;

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use nines_core::oncall::Labels;
use nines_core::oncall::directory::Directory;
use nines_core::oncall::escalation::handoff_cycles;
use nines_core::oncall::route::Route;
use nines_core::oncall::schedule::{HealthWarning, rotation_health};

use super::{Kind, Pending, PendingSchedule};
use crate::catalog::{OnCall, OnCallOrigins, Origin};
use crate::diag::Level;
use crate::yaml::{join_index, join_key};
use crate::{LoadContext, origin_error, origin_warning};

/// Weeks of the final schedule the coverage check looks at, from the latest layer start.
pub const COVERAGE_WEEKS: i64 = 4;
/// Weeks of the final schedule rotation health looks at, from the latest layer start.
pub const HEALTH_WEEKS: i64 = 8;
/// Gaps named in a coverage warning (the rest are counted in the hours).
const GAPS_LISTED: usize = 3;

/// Checks what needs every file and moves the on-call definitions into the catalog.
pub(crate) fn finish(pending: Pending, context: &mut LoadContext) {
    check_references(&pending, context);

    let policies: Vec<_> = pending
        .policies
        .iter()
        .map(|(policy, _)| policy.clone())
        .collect();
    for cycle in handoff_cycles(&policies) {
        let Some(first) = cycle.first() else { continue };
        let Some((_, origin)) = pending
            .policies
            .iter()
            .find(|(policy, _)| &policy.id == first)
        else {
            continue;
        };
        let mut names = cycle.clone();
        names.push(first.clone());
        context.report.push(origin_error(
            origin,
            format!(
                "escalation policies hand pages over in a cycle: {}",
                names.join(" -> ")
            ),
        ));
    }

    for schedule in &pending.schedules {
        check_schedule(schedule, context);
    }

    let routes = pending.routes.as_ref().map(|(route, _)| route);
    if !pending.policies.is_empty() || routes.is_some() {
        check_reach(&pending, routes, context);
    }

    context.catalog.oncall = build(pending, &error_files(context));
}

fn check_references(pending: &Pending, context: &mut LoadContext) {
    for reference in &pending.references {
        let known = match reference.kind {
            Kind::Channel => context
                .catalog
                .channels
                .iter()
                .any(|channel| channel.id == reference.id),
            Kind::Service => context.catalog.service(&reference.id).is_some(),
            kind => pending.knows(kind, &reference.id),
        };
        let mut at = reference.at.clone();
        if !known {
            at.message = format!(
                "{} {:?} is not defined in any file (define it under {})",
                reference.kind.name(),
                reference.id,
                reference.kind.section()
            );
            context.report.push(at);
            continue;
        }
        if reference.step_target
            && reference.kind == Kind::Team
            && let Some((team, _)) = pending
                .teams
                .iter()
                .find(|(team, _)| team.id == reference.id)
            && team.members.is_empty()
        {
            at.message = format!(
                "team {:?} has no members: this target would reach nobody",
                reference.id
            );
            context.report.push(at);
        }
    }
}

/// Coverage gaps and rotation health, as warnings, over the weeks after the latest layer start
/// (before it, some layer has not begun and its gaps are expected).
fn check_schedule(pending: &PendingSchedule, context: &mut LoadContext) {
    let PendingSchedule {
        schedule,
        doc,
        path,
        ..
    } = pending;
    let zone = &schedule.time_zone;
    let Some(latest) = schedule.layers.iter().map(|layer| layer.start).max() else {
        return;
    };
    let Ok(from) = zone.to_ambiguous_zoned(latest).compatible() else {
        return;
    };
    let (Ok(coverage_end), Ok(health_end)) = (
        from.checked_add(COVERAGE_WEEKS.weeks()),
        from.checked_add(HEALTH_WEEKS.weeks()),
    ) else {
        return;
    };
    let from = from.timestamp();

    let gaps = schedule.gaps(from, coverage_end.timestamp());
    let uncovered_seconds: i64 = gaps
        .iter()
        .map(|(starts, ends)| ends.as_second() - starts.as_second())
        .sum();
    if uncovered_seconds > 0 {
        let per_week = uncovered_seconds / COVERAGE_WEEKS;
        let mut listed: Vec<String> = gaps
            .iter()
            .take(GAPS_LISTED)
            .map(|(starts, ends)| {
                format!(
                    "{}–{}",
                    wall(*starts, zone, "%a %H:%M"),
                    wall(*ends, zone, "%a %H:%M")
                )
            })
            .collect();
        if gaps.len() > GAPS_LISTED {
            listed.push("...".to_string());
        }
        context.report.push(doc.warning(
            path,
            format!(
                "uncovered {} a week (nobody on call): {} (over the {COVERAGE_WEEKS} weeks from {})",
                hours(per_week),
                listed.join(", "),
                wall(from, zone, "%a %Y-%m-%d %H:%M"),
            ),
        ));
    }

    for warning in rotation_health(schedule, from, health_end.timestamp()) {
        match warning {
            HealthWarning::FewMembers { layer, members } => {
                let name = schedule
                    .layers
                    .get(layer)
                    .map(|layer| layer.name.as_str())
                    .unwrap_or_default();
                let people = if members == 1 { "person" } else { "people" };
                context.report.push(doc.warning(
                    &join_key(&join_index(&join_key(path, "layers"), layer), "members"),
                    format!(
                        "layer {name:?} rotates {members} {people}: with fewer than four, each is on call too often"
                    ),
                ));
            }
            HealthWarning::TooOften {
                person,
                hours: on_call_hours,
                span_start,
            } => {
                context.report.push(doc.warning(
                    path,
                    format!(
                        "{person:?} is on call {on_call_hours}h in the 28 days from {}: more than 7 days (168h)",
                        wall(span_start, zone, "%a %Y-%m-%d %H:%M"),
                    ),
                ));
            }
        }
    }
}

/// A service's pages reach somebody when a route names a policy for them or its owner team
/// has an escalation policy. Checked only when some file configures paging (files without
/// on-call keep working as before, with channels only).
fn check_reach(pending: &Pending, routes: Option<&Route>, context: &mut LoadContext) {
    let mut warnings = Vec::new();
    for service in &context.catalog.services {
        if routes.is_some_and(|route| route_names_policy_for(route, &service.id)) {
            continue;
        }
        let owner_policy = service.owner.as_deref().and_then(|owner| {
            pending
                .teams
                .iter()
                .find(|(team, _)| team.id == owner)
                .and_then(|(team, _)| team.escalation_policy.as_deref())
        });
        if owner_policy.is_some() {
            continue;
        }
        let why = match &service.owner {
            Some(owner) => format!("its owner team {owner:?} has no escalation_policy"),
            None => "it has no owner team".to_string(),
        };
        warnings.push(origin_warning(
            &service.origin,
            format!(
                "pages for service {:?} reach nobody: no route names a policy for it and {why}",
                service.id
            ),
        ));
    }
    for warning in warnings {
        context.report.push(warning);
    }
}

/// Whether a page of `service` finds a policy through the routes: the page alert of the service
/// (`service`, `severity="page"`) resolves to one, or some route whose matchers (or whose
/// ancestors' matchers) match the service label has one (it may also need other labels, such
/// as `severity`, that pages carry).
fn route_names_policy_for(root: &Route, service: &str) -> bool {
    let service_only = Labels::from([("service".to_string(), service.to_string())]);
    let mut page = service_only.clone();
    page.insert("severity".to_string(), "page".to_string());
    if root
        .resolve(&page)
        .iter()
        .any(|found| found.policy.is_some())
    {
        return true;
    }
    fn walk(route: &Route, inherited: Option<&str>, named: bool, labels: &Labels) -> bool {
        let policy = route.policy.as_deref().or(inherited);
        let named = named
            || route
                .matchers
                .iter()
                .any(|matcher| matcher.name == "service" && matcher.matches(labels));
        if named && policy.is_some() {
            return true;
        }
        route
            .routes
            .iter()
            .any(|child| walk(child, policy, named, labels))
    }
    root.routes
        .iter()
        .any(|child| walk(child, root.policy.as_deref(), false, &service_only))
}

/// Files with any error: they add no on-call definitions.
fn error_files(context: &LoadContext) -> BTreeSet<String> {
    context
        .report
        .diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.level == Level::Error)
        .map(|diagnostic| diagnostic.file.clone())
        .collect()
}

fn build(pending: Pending, error_files: &BTreeSet<String>) -> OnCall {
    let keep = |origin: &Origin| !error_files.contains(&origin.file);
    let mut oncall = OnCall {
        directory: Directory::default(),
        origins: OnCallOrigins::default(),
        ..OnCall::default()
    };
    for (person, origin) in pending.people.into_iter().filter(|(_, o)| keep(o)) {
        oncall.origins.people.insert(person.id.clone(), origin);
        oncall.directory.people.push(person);
    }
    for (team, origin) in pending.teams.into_iter().filter(|(_, o)| keep(o)) {
        oncall.origins.teams.insert(team.id.clone(), origin);
        oncall.directory.teams.push(team);
    }
    for pending_schedule in pending.schedules.into_iter().filter(|s| keep(&s.origin)) {
        let PendingSchedule {
            schedule, origin, ..
        } = pending_schedule;
        oncall.origins.schedules.insert(schedule.id.clone(), origin);
        oncall.directory.schedules.push(schedule);
    }
    for (policy, origin) in pending.policies.into_iter().filter(|(_, o)| keep(o)) {
        oncall
            .origins
            .escalation_policies
            .insert(policy.id.clone(), origin);
        oncall.escalation_policies.push(policy);
    }
    if let Some((route, origin)) = pending.routes.filter(|(_, o)| keep(o)) {
        oncall.routes = Some(route);
        oncall.origins.routes = Some(origin);
    }
    for (window, origin) in pending.maintenance.into_iter().filter(|(_, o)| keep(o)) {
        oncall.origins.maintenance.insert(window.id.clone(), origin);
        oncall.maintenance.push(window);
    }
    oncall.heartbeats = pending
        .heartbeats
        .into_iter()
        .filter(|heartbeat| keep(&heartbeat.origin))
        .collect();
    oncall.integrations = pending
        .integrations
        .into_iter()
        .filter(|integration| keep(&integration.origin))
        .collect();
    oncall
}

/// An instant as wall time in a zone, with a strftime format.
fn wall(instant: Timestamp, zone: &TimeZone, format: &str) -> String {
    instant.to_zoned(zone.clone()).strftime(format).to_string()
}

/// `128h`, `1h30m`, `45m`.
fn hours(seconds: i64) -> String {
    let minutes = seconds / 60;
    match (minutes / 60, minutes % 60) {
        (0, minutes) => format!("{minutes}m"),
        (hours, 0) => format!("{hours}h"),
        (hours, minutes) => format!("{hours}h{minutes}m"),
    }
}
