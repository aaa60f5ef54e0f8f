//! Reliability reports over a period: the facts gathered from the store, the catalog and the
//! evaluator (pages with who was notified and who acknowledged, on-call shifts with each
//! person's time zone, SLO attainment from the stored counts, incidents and action items), the
//! core's `report::report` over them, and the report as JSON.

use std::collections::BTreeMap;

use jiff::Timestamp;
use nines_core::report::{
    ActionFact, DurationStats, Facts, PageFact, Period, Report, Scope, Share, ShiftFact, SloFact,
};
use nines_store::{EventQuery, PageQuery};
use serde_json::{Value, json};

use crate::server::AppState;

/// Most pages one report reads.
const MAX_PAGES: i64 = 10_000;

fn time(ms: i64) -> Option<Timestamp> {
    Timestamp::from_millisecond(ms).ok()
}

/// The team owning a service, per the catalog.
fn owner(state: &AppState, service: Option<&str>) -> Option<String> {
    service
        .and_then(|service| state.catalog.service(service))
        .and_then(|service| service.owner.clone())
}

/// Everything a report needs, for `period`.
pub async fn facts(state: &AppState, period: &Period) -> Result<Facts, String> {
    let from_ms = period.from().as_millisecond();
    let to_ms = period.to().as_millisecond();
    let store = &state.store;

    let mut pages = Vec::new();
    let rows = store
        .pages(&PageQuery {
            status: None,
            limit: MAX_PAGES,
        })
        .await
        .map_err(|err| format!("reading pages: {err}"))?;
    for page in rows
        .iter()
        .filter(|page| (from_ms..to_ms).contains(&page.created_ms))
    {
        let events = store
            .events(&EventQuery {
                page_id: Some(page.id.clone()),
                limit: 10_000,
                ..EventQuery::default()
            })
            .await
            .map_err(|err| format!("reading the timeline of {}: {err}", page.id))?;
        let mut notified: Vec<String> = Vec::new();
        let mut actionable = None;
        for event in &events {
            let payload: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
            match event.kind.as_str() {
                "page.notified" => {
                    if let Some(person) = payload["person"].as_str()
                        && !notified.iter().any(|known| known == person)
                    {
                        notified.push(person.to_string());
                    }
                }
                "page.actionable" => actionable = payload["actionable"].as_bool(),
                _ => {}
            }
        }
        let labels: BTreeMap<String, String> =
            serde_json::from_str(&page.labels).unwrap_or_default();
        let team = labels
            .get("team")
            .cloned()
            .or_else(|| owner(state, page.service.as_deref()));
        pages.push(PageFact {
            id: page.id.clone(),
            service: page.service.clone(),
            team,
            created: time(page.created_ms).ok_or("a page's creation time is out of range")?,
            acknowledged: match (page.acknowledged_ms.and_then(time), &page.acknowledged_by) {
                (Some(at), Some(by)) => Some((at, by.clone())),
                _ => None,
            },
            resolved: page.resolved_ms.and_then(time),
            notified,
            actionable,
        });
    }

    let directory = &state.catalog.oncall.directory;
    let mut shifts = Vec::new();
    for schedule in &directory.schedules {
        for shift in schedule.shifts(period.from(), period.to()) {
            let person = directory.person(&shift.person);
            let team = directory
                .teams
                .iter()
                .find(|team| team.members.contains(&shift.person))
                .map(|team| team.id.clone());
            shifts.push(ShiftFact {
                person: shift.person.clone(),
                team,
                time_zone: person
                    .map(|person| person.time_zone.clone())
                    .unwrap_or_else(|| schedule.time_zone.clone()),
                starts: shift.starts,
                ends: shift.ends,
            });
        }
    }

    let from_minute = period.from().as_second().div_euclid(60);
    let to_minute = period.to().as_second().div_euclid(60);
    let mut slos = Vec::new();
    for def in &state.catalog.slos {
        let rows = store
            .counts_since(Some(def.id.as_str()), from_minute)
            .await
            .map_err(|err| format!("reading counts of {}: {err}", def.id))?;
        let (mut counted, mut total) = (0u64, 0u64);
        for row in rows.iter().filter(|row| row.minute < to_minute) {
            counted += u64::try_from(row.counted).unwrap_or(0);
            total += u64::try_from(row.total).unwrap_or(0);
        }
        let (bad, total) = def
            .spec
            .count_kind
            .bad_and_total(nines_core::Counts { counted, total });
        let budget_remaining_share = state
            .fleet()
            .get(def.id.as_str())
            .and_then(|entry| entry.last.as_ref())
            .map(|evaluation| evaluation.budget.remaining_share)
            .filter(|share| share.is_finite());
        slos.push(SloFact {
            id: def.id.as_str().to_string(),
            service: Some(def.service.clone()),
            team: owner(state, Some(&def.service)),
            objective: def.spec.objective.get(),
            attainment: (total > 0).then(|| 1.0 - bad as f64 / total as f64),
            budget_remaining_share,
        });
    }

    let (incidents, actions): (_, Vec<ActionFact>) = crate::incidents::report_facts(state)
        .await
        .map_err(|err| format!("reading incidents: {err}"))?;
    Ok(Facts {
        pages,
        incidents,
        slos,
        shifts,
        actions,
        hours: Default::default(),
    })
}

/// The report of `scope` over `period`.
pub async fn build(state: &AppState, period: &Period, scope: &Scope) -> Result<Report, String> {
    let facts = facts(state, period).await?;
    Ok(nines_core::report::report(period, &facts, scope))
}

fn stats(stats: &DurationStats) -> Value {
    json!({
        "count": stats.count,
        "mean_seconds": stats.mean_secs,
        "median_seconds": stats.median_secs,
        "p90_seconds": stats.p90_secs,
    })
}

fn share(share: &Share) -> Value {
    json!({"count": share.count, "out_of": share.out_of, "share": share.share()})
}

/// The report as JSON (durations in whole seconds, shares in 0..1).
pub fn report_json(report: &Report, scope: &Scope) -> Value {
    let scope = match scope {
        Scope::All => json!({"all": true}),
        Scope::Team(team) => json!({"team": team}),
        Scope::Service(service) => json!({"service": service}),
    };
    json!({
        "from": report.period.from().to_string(),
        "to": report.period.to().to_string(),
        "scope": scope,
        "slos": {
            "with_data": report.slos.n_with_data,
            "meeting_objective": report.slos.n_meeting_objective,
            "slos": report.slos.slos.iter().map(|line| json!({
                "id": line.id,
                "objective": line.objective,
                "attainment": line.attainment,
                "budget_remaining_share": line.budget_remaining_share,
                "meets_objective": line.meets_objective,
            })).collect::<Vec<_>>(),
        },
        "incidents": {
            "opened": report.incidents.n_opened,
            "by_severity": report.incidents.opened_by_severity,
            "time_to_resolve": stats(&report.incidents.time_to_resolve),
            "time_between": report.incidents.time_between.as_ref().map(|gaps| json!({
                "gaps": gaps.n_gaps, "mean_seconds": gaps.mean_secs, "median_seconds": gaps.median_secs,
            })),
        },
        "pages": {
            "created": report.pages.n_created,
            "time_to_acknowledge": stats(&report.pages.time_to_acknowledge),
            "time_to_resolve": stats(&report.pages.time_to_resolve),
            "outside_business_hours": share(&report.pages.outside_business_hours),
            "sleep_hours": share(&report.pages.sleep_hours),
            "without_responder_zone": report.pages.n_without_responder_zone,
            "non_actionable": share(&report.pages.non_actionable),
        },
        "on_call": {
            "shifts": report.on_call.n_shifts,
            "pages_per_shift_mean": report.on_call.pages_per_shift_mean,
            "pages_per_shift_max": report.on_call.pages_per_shift_max,
            "on_call_seconds": report.on_call.on_call_secs,
            "quiet_seconds": report.on_call.quiet_secs,
            "quiet_share": report.on_call.quiet_share,
        },
        "action_items": {
            "done": report.actions.n_done,
            "open": report.actions.n_open,
            "wont_do": report.actions.n_wont_do,
            "completion_rate": report.actions.completion_rate,
            "open_age_mean_days": report.actions.open_age_mean_days,
            "open_age_max_days": report.actions.open_age_max_days,
            "done_days_to_close_median": report.actions.done_days_to_close_median,
        },
    })
}

/// `2026-11-01T00:00:00Z`, or a date (`2026-11-01`, midnight UTC).
pub fn parse_instant(text: &str) -> Option<Timestamp> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Some(at);
    }
    let date = text.parse::<jiff::civil::Date>().ok()?;
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|zoned| zoned.timestamp())
}

/// `GET /api/v1/reports?from=&to=&team=&service=`: over the last 30 days by default.
pub async fn handler(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<axum::Json<Value>, crate::api::AppError> {
    use crate::api::AppError;
    for key in query.keys() {
        if !["from", "to", "team", "service"].contains(&key.as_str()) {
            return Err(AppError::bad_request(format!(
                "unknown query parameter {key:?}; expected from, to, team or service"
            ))
            .field(key));
        }
    }
    let instant = |key: &str, default: Timestamp| -> Result<Timestamp, AppError> {
        match query.get(key) {
            None => Ok(default),
            Some(text) => parse_instant(text).ok_or_else(|| {
                AppError::bad_request(format!(
                    "{key} {text:?} is neither an RFC 3339 instant nor a date (2026-11-01)"
                ))
                .field(key)
            }),
        }
    };
    let to = instant("to", Timestamp::now())?;
    let from = instant(
        "from",
        to.checked_sub(jiff::SignedDuration::from_hours(30 * 24))
            .unwrap_or(to),
    )?;
    let period = Period::new(from, to).map_err(|err| AppError::bad_request(err.to_string()))?;
    let scope = match (query.get("team"), query.get("service")) {
        (Some(_), Some(_)) => {
            return Err(AppError::bad_request("give team or service, not both"));
        }
        (Some(team), None) => {
            if state.catalog.oncall.directory.team(team).is_none()
                && !state
                    .catalog
                    .services
                    .iter()
                    .any(|service| service.owner.as_deref() == Some(team.as_str()))
            {
                return Err(AppError::new(
                    axum::http::StatusCode::NOT_FOUND,
                    format!("no team has id {team:?}"),
                )
                .field("team"));
            }
            Scope::Team(team.clone())
        }
        (None, Some(service)) => {
            if state.catalog.service(service).is_none() {
                return Err(AppError::new(
                    axum::http::StatusCode::NOT_FOUND,
                    format!("no service has id {service:?}"),
                )
                .field("service"));
            }
            Scope::Service(service.clone())
        }
        (None, None) => Scope::All,
    };
    let report = build(&state, &period, &scope)
        .await
        .map_err(|err| AppError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, err))?;
    Ok(axum::Json(report_json(&report, &scope)))
}
