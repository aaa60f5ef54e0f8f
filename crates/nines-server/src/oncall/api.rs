//! HTTP endpoints of on-call: alert intake (Alertmanager, PagerDuty Events v2, generic
//! webhook), pages and their actions, signed action links, who is on call, schedules and their
//! iCalendar export, silences, and heartbeats.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use nines_store::{EventQuery, PageQuery, PageRow, SilenceRow};
use serde_json::{Value, json};

use crate::oncall::intake::{self, AlertAction, IncomingAlert, Problem};
use crate::oncall::links::{LinkAction, LinkError};
use crate::oncall::pager::{Outcome, PageAction, PagerError};
use crate::server::AppState;

/// Largest intake body.
const INTAKE_LIMIT: usize = 4 * 1024 * 1024;
/// Longest schedule range one request may ask for.
const MAX_RANGE_DAYS: i64 = 400;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/intake/alertmanager", post(alertmanager))
        .route("/api/v1/intake/webhook", post(webhook))
        .route("/v2/enqueue", post(pagerduty))
        .route("/api/v1/pages", get(list_pages))
        .route("/api/v1/pages/{id}", get(show_page))
        .route("/api/v1/pages/{id}/{action}", post(act_on_page))
        .route("/act/{token}", get(link_form).post(link_act))
        .route("/api/v1/oncall", get(on_call_now))
        .route("/api/v1/schedules/{id}", get(show_schedule))
        .route("/api/v1/schedules/{id}/calendar.ics", get(calendar))
        .route("/api/v1/silences", get(list_silences).post(add_silence))
        .route(
            "/api/v1/silences/{id}",
            axum::routing::delete(expire_silence),
        )
        .route("/api/v1/heartbeats", get(list_heartbeats))
        .route("/api/v1/heartbeats/{id}", get(beat).post(beat))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": {"status": status.as_u16(), "message": message.into()}})),
    )
        .into_response()
}

fn problems(message: &str, problems: &[Problem]) -> Response {
    let list: Vec<Value> = problems
        .iter()
        .map(|problem| json!({"field": problem.field, "message": problem.message}))
        .collect();
    let first = problems.first().map(|p| p.to_string()).unwrap_or_default();
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {
            "status": 400,
            "message": format!("{message}: {first}"),
            "problems": list,
        }})),
    )
        .into_response()
}

fn pager_error(err: PagerError) -> Response {
    let status = match &err {
        PagerError::NotFound(_) => StatusCode::NOT_FOUND,
        PagerError::Illegal(_) => StatusCode::CONFLICT,
        PagerError::Conflict => StatusCode::SERVICE_UNAVAILABLE,
        PagerError::Invalid(_) => StatusCode::BAD_REQUEST,
        PagerError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    error(status, err.to_string())
}

async fn read(body: Body) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, INTAKE_LIMIT).await.map_err(|_| {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than the limit of {INTAKE_LIMIT} bytes"),
        )
    })
}

/// Ingests every alert of a batch. If any could not be taken (the store failed, or its page kept
/// changing), the answer is 503 so the sender retries the whole batch: the alerts already
/// taken are deduplicated then, and none after a failure is skipped.
async fn ingest_all(state: &AppState, alerts: &[IncomingAlert]) -> Response {
    let now = Timestamp::now();
    let mut outcomes = Vec::new();
    let mut failures = Vec::new();
    for alert in alerts {
        match state.pager.ingest(alert, now).await {
            Ok(outcome) => outcomes.push(json!({
                "fingerprint": alert.fingerprint,
                "outcome": outcome.name(),
                "page": outcome.page_id(),
            })),
            Err(err) => {
                outcomes.push(json!({"fingerprint": alert.fingerprint, "error": err.to_string()}));
                failures.push(format!("{}: {err}", alert.fingerprint));
            }
        }
    }
    if let Some(first) = failures.first() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "error": {"status": 503, "message": format!("{} of {} alerts not taken; retry the batch ({first})", failures.len(), alerts.len())},
                "alerts": outcomes,
            })),
        )
            .into_response();
    }
    Json(json!({"alerts": outcomes})).into_response()
}

async fn alertmanager(State(state): State<AppState>, body: Body) -> Response {
    let body = match read(body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    match intake::decode_alertmanager(&body) {
        Ok(batch) => ingest_all(&state, &batch.alerts).await,
        Err(list) => problems("invalid Alertmanager notification", &list),
    }
}

async fn webhook(State(state): State<AppState>, body: Body) -> Response {
    let body = match read(body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    match intake::decode_webhook(&body) {
        Ok(alerts) => ingest_all(&state, &alerts).await,
        Err(list) => problems("invalid alert", &list),
    }
}

fn pagerduty_invalid(errors: Vec<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors})),
    )
        .into_response()
}

/// PagerDuty Events API v2: answers as PagerDuty does (202 with the dedup key, 400 `invalid
/// event` with its errors), so tools that speak PagerDuty can point at nines.
async fn pagerduty(State(state): State<AppState>, body: Body) -> Response {
    let body = match read(body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let event = match intake::decode_pagerduty(&body) {
        Ok(event) => event,
        Err(errors) => return pagerduty_invalid(errors),
    };
    let integration = state
        .catalog
        .oncall
        .integrations
        .iter()
        .find(|integration| {
            let key = match &integration.key {
                nines_spec::catalog::IntegrationKey::Literal(key) => Some(key.as_str()),
                nines_spec::catalog::IntegrationKey::Env(name) => {
                    state.config.environment.get(name).map(String::as_str)
                }
            };
            key.is_some_and(|key| !key.is_empty() && constant_time_eq(key, &event.routing_key))
        });
    let Some(integration) = integration else {
        return pagerduty_invalid(vec!["Invalid routing key".to_string()]);
    };
    let dedup_key = match &event.dedup_key {
        Some(key) => key.clone(),
        None => match crate::oncall::links::new_secret() {
            Some(random) => random[..32].to_string(),
            None => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "no randomness for a dedup key",
                );
            }
        },
    };
    let alert = intake::pagerduty_alert(&event, &integration.id, &integration.labels, &dedup_key);
    match state.pager.ingest(&alert, Timestamp::now()).await {
        Ok(_) => (
            StatusCode::ACCEPTED,
            Json(
                json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key}),
            ),
        )
            .into_response(),
        Err(PagerError::Store(err)) => error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()),
        Err(err) => pager_error(err),
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn time_text(ms: Option<i64>) -> Value {
    ms.and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .map(|time| Value::String(time.to_string()))
        .unwrap_or(Value::Null)
}

pub fn page_json(page: &PageRow) -> Value {
    json!({
        "id": page.id,
        "status": page.status,
        "summary": page.summary,
        "severity": page.severity,
        "service": page.service,
        "policy": page.policy,
        "step": page.step,
        "round": page.round,
        "next_escalation": time_text(page.next_at_ms),
        "group_key": page.group_key,
        "labels": serde_json::from_str::<Value>(&page.labels).unwrap_or(Value::Null),
        "runbook": page.runbook,
        "created": time_text(Some(page.created_ms)),
        "acknowledged_by": page.acknowledged_by,
        "acknowledged": time_text(page.acknowledged_ms),
        "resolved_by": page.resolved_by,
        "resolved": time_text(page.resolved_ms),
    })
}

fn only(query: &HashMap<String, String>, allowed: &[&str]) -> Result<(), Box<Response>> {
    for key in query.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                format!("unknown query parameter {key:?}; expected one of {allowed:?}"),
            )));
        }
    }
    Ok(())
}

async fn list_pages(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = only(&query, &["status", "limit"]) {
        return *response;
    }
    let status = query.get("status").cloned();
    if let Some(status) = &status
        && !["triggered", "acknowledged", "resolved"].contains(&status.as_str())
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!("status {status:?} must be triggered, acknowledged or resolved"),
        );
    }
    let limit = match query.get("limit").map(|text| text.parse::<i64>()) {
        None => 100,
        Some(Ok(limit)) if (1..=1000).contains(&limit) => limit,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "limit must be a whole number from 1 to 1000",
            );
        }
    };
    match state.store.pages(&PageQuery { status, limit }).await {
        Ok(pages) => {
            Json(json!({"pages": pages.iter().map(page_json).collect::<Vec<_>>()})).into_response()
        }
        Err(err) => error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
    }
}

async fn show_page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let page = match state.store.page(&id).await {
        Ok(Some(page)) => page,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no page has id {id:?}")),
        Err(err) => return error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
    };
    let alerts = state.store.page_alerts(&id).await;
    let events = state
        .store
        .events(&EventQuery {
            page_id: Some(id.clone()),
            limit: 10_000,
            ..EventQuery::default()
        })
        .await;
    let (Ok(alerts), Ok(events)) = (alerts, events) else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "reading the page's alerts and timeline failed",
        );
    };
    let mut body = page_json(&page);
    body["alerts"] = alerts
        .iter()
        .map(|alert| {
            json!({
                "fingerprint": alert.fingerprint,
                "source": alert.source,
                "status": alert.status,
                "summary": alert.summary,
                "severity": alert.severity,
                "labels": serde_json::from_str::<Value>(&alert.labels).unwrap_or(Value::Null),
                "starts": time_text(Some(alert.starts_ms)),
                "ends": time_text(alert.ends_ms),
            })
        })
        .collect();
    body["timeline"] = events
        .iter()
        .map(|event| {
            json!({
                "at": time_text(Some(event.at_ms)),
                "kind": event.kind,
                "actor": event.actor,
                "detail": serde_json::from_str::<Value>(&event.payload).unwrap_or(Value::Null),
            })
        })
        .collect();
    Json(body).into_response()
}

async fn act_on_page(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    body: Body,
) -> Response {
    if action == "actionable" {
        return mark_actionable(&state, &id, body).await;
    }
    let Some(action) = PageAction::parse(&action) else {
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "unknown page action {action:?}; expected acknowledge, unacknowledge or resolve"
            ),
        );
    };
    let body = match read(body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let by = if body.iter().all(u8::is_ascii_whitespace) {
        "api".to_string()
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => {
                if let Some(key) = map.keys().find(|key| key.as_str() != "by") {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!("unknown field {key:?}; expected \"by\""),
                    );
                }
                match map.get("by") {
                    None => "api".to_string(),
                    Some(Value::String(by)) => by.clone(),
                    Some(_) => return error(StatusCode::BAD_REQUEST, "by: expected a string"),
                }
            }
            Ok(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "expected a JSON object like {\"by\": \"alice\"}",
                );
            }
            Err(err) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("body is not valid JSON: {err}"),
                );
            }
        }
    };
    match state.pager.act(&id, action, &by, Timestamp::now()).await {
        Ok(page) => Json(page_json(&page)).into_response(),
        Err(err) => pager_error(err),
    }
}

/// `POST /api/v1/pages/{id}/actionable` with `{"actionable": false, "by": "alice"}`.
async fn mark_actionable(state: &AppState, id: &str, body: Body) -> Response {
    let body = match read(body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(err) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("body is not valid JSON: {err}"),
            );
        }
    };
    let Some(actionable) = value.get("actionable").and_then(Value::as_bool) else {
        return error(
            StatusCode::BAD_REQUEST,
            "actionable: expected true or false",
        );
    };
    let by = value.get("by").and_then(Value::as_str).unwrap_or("api");
    match state
        .pager
        .mark_actionable(id, actionable, by, Timestamp::now())
        .await
    {
        Ok(()) => Json(json!({"page": id, "actionable": actionable})).into_response(),
        Err(err) => pager_error(err),
    }
}

fn html_page(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}}button{{font-size:1.1rem;padding:.6rem 1.2rem}}</style></head><body><h1>{}</h1>{body}</body></html>",
        html_escape(title),
        html_escape(title)
    );
    (status, Html(page)).into_response()
}

pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn link_error(err: LinkError) -> Response {
    html_page(
        StatusCode::FORBIDDEN,
        "This link does not work",
        &format!("<p>{}</p>", html_escape(&err.to_string())),
    )
}

/// Shows what the link would do and a button that does it (a GET never acts).
async fn link_form(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let claim = match state.pager.linker().check(&token, Timestamp::now()) {
        Ok(claim) => claim,
        Err(err) => return link_error(err),
    };
    let page = match state.store.page(&claim.page_id).await {
        Ok(Some(page)) => page,
        Ok(None) => {
            return html_page(
                StatusCode::NOT_FOUND,
                "Unknown page",
                "<p>This page no longer exists.</p>",
            );
        }
        Err(err) => {
            return html_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                &html_escape(&err.to_string()),
            );
        }
    };
    let verb = match claim.action {
        LinkAction::Acknowledge => "Acknowledge",
        LinkAction::Resolve => "Resolve",
    };
    html_page(
        StatusCode::OK,
        &format!("{verb} page {}", page.id),
        &format!(
            "<p><strong>{}</strong></p><p>Status: {}</p><form method=\"post\"><button type=\"submit\">{verb}</button></form>",
            html_escape(&page.summary),
            html_escape(&page.status)
        ),
    )
}

async fn link_act(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let now = Timestamp::now();
    let claim = match state.pager.linker().check(&token, now) {
        Ok(claim) => claim,
        Err(err) => return link_error(err),
    };
    let action = match claim.action {
        LinkAction::Acknowledge => PageAction::Acknowledge,
        LinkAction::Resolve => PageAction::Resolve,
    };
    match state
        .pager
        .act(&claim.page_id, action, &claim.person, now)
        .await
    {
        Ok(page) => html_page(
            StatusCode::OK,
            &format!("Page {} {}", page.id, page.status),
            &format!(
                "<p>{} by {}.</p>",
                html_escape(&page.summary),
                html_escape(&claim.person)
            ),
        ),
        Err(err) => {
            let status = match err {
                PagerError::NotFound(_) => StatusCode::NOT_FOUND,
                PagerError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::CONFLICT,
            };
            html_page(
                status,
                "Nothing changed",
                &format!("<p>{}</p>", html_escape(&err.to_string())),
            )
        }
    }
}

fn parse_time(
    query: &HashMap<String, String>,
    key: &str,
    default: Timestamp,
) -> Result<Timestamp, Box<Response>> {
    match query.get(key) {
        None => Ok(default),
        Some(text) => text.parse::<Timestamp>().map_err(|_| {
            Box::new(error(
                StatusCode::BAD_REQUEST,
                format!("{key} {text:?} is not an RFC 3339 time"),
            ))
        }),
    }
}

fn shift_json(state: &AppState, shift: &nines_core::oncall::schedule::Shift) -> Value {
    let name = state
        .catalog
        .oncall
        .directory
        .person(&shift.person)
        .map(|person| person.name.clone());
    json!({
        "person": shift.person,
        "name": name,
        "start": shift.starts.to_string(),
        "end": shift.ends.to_string(),
        "override": matches!(shift.source, nines_core::oncall::schedule::ShiftSource::Override(_)),
    })
}

/// Who is on call at `at` (default now) in every schedule, and who is next.
async fn on_call_now(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = only(&query, &["at"]) {
        return *response;
    }
    let at = match parse_time(&query, "at", Timestamp::now()) {
        Ok(at) => at,
        Err(response) => return *response,
    };
    let horizon = at
        .checked_add(jiff::SignedDuration::from_hours(24 * 60))
        .unwrap_or(at);
    let schedules: Vec<Value> = state
        .catalog
        .oncall
        .directory
        .schedules
        .iter()
        .map(|schedule| {
            let now = schedule.on_call_at(at);
            let next = schedule.shifts(at, horizon).into_iter().find(|shift| {
                shift.starts > at
                    && now
                        .as_ref()
                        .is_none_or(|current| shift.person != current.person)
            });
            json!({
                "id": schedule.id,
                "time_zone": schedule.time_zone.iana_name(),
                "now": now.as_ref().map(|shift| shift_json(&state, shift)),
                "next": next.as_ref().map(|shift| shift_json(&state, shift)),
            })
        })
        .collect();
    Json(json!({"at": at.to_string(), "schedules": schedules})).into_response()
}

fn range(
    query: &HashMap<String, String>,
    back_days: i64,
    ahead_days: i64,
) -> Result<(Timestamp, Timestamp), Box<Response>> {
    let now = Timestamp::now();
    let from_default = now
        .checked_sub(jiff::SignedDuration::from_hours(24 * back_days))
        .unwrap_or(now);
    let from = parse_time(query, "from", from_default)?;
    let to_default = from
        .checked_add(jiff::SignedDuration::from_hours(
            24 * (back_days + ahead_days),
        ))
        .unwrap_or(from);
    let to = parse_time(query, "to", to_default)?;
    if to <= from {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "to must be after from",
        )));
    }
    if to.duration_since(from) > jiff::SignedDuration::from_hours(24 * MAX_RANGE_DAYS) {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("a range may span at most {MAX_RANGE_DAYS} days"),
        )));
    }
    Ok((from, to))
}

async fn show_schedule(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = only(&query, &["from", "to"]) {
        return *response;
    }
    let Some(schedule) = state.catalog.oncall.directory.schedule(&id) else {
        return error(StatusCode::NOT_FOUND, format!("no schedule has id {id:?}"));
    };
    let (from, to) = match range(&query, 0, 14) {
        Ok(range) => range,
        Err(response) => return *response,
    };
    let shifts: Vec<Value> = schedule
        .shifts(from, to)
        .iter()
        .map(|shift| shift_json(&state, shift))
        .collect();
    let gaps: Vec<Value> = schedule
        .gaps(from, to)
        .iter()
        .map(|(start, end)| json!({"start": start.to_string(), "end": end.to_string()}))
        .collect();
    let health: Vec<String> = nines_core::oncall::schedule::rotation_health(schedule, from, to)
        .iter()
        .map(|warning| health_text(schedule, warning))
        .collect();
    Json(json!({
        "id": schedule.id,
        "time_zone": schedule.time_zone.iana_name(),
        "from": from.to_string(),
        "to": to.to_string(),
        "shifts": shifts,
        "gaps": gaps,
        "health": health,
    }))
    .into_response()
}

fn health_text(
    schedule: &nines_core::oncall::schedule::Schedule,
    warning: &nines_core::oncall::schedule::HealthWarning,
) -> String {
    use nines_core::oncall::schedule::HealthWarning;
    match warning {
        HealthWarning::FewMembers { layer, members } => format!(
            "layer {:?} has {members} people; a healthy rotation has at least four",
            schedule
                .layers
                .get(*layer)
                .map(|l| l.name.as_str())
                .unwrap_or("?")
        ),
        HealthWarning::TooOften {
            person,
            hours,
            span_start,
        } => format!(
            "{person} is on call {hours} h in the 28 days from {span_start}: more than one week in four"
        ),
    }
}

async fn calendar(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = only(&query, &["from", "to"]) {
        return *response;
    }
    let Some(schedule) = state.catalog.oncall.directory.schedule(&id) else {
        return error(StatusCode::NOT_FOUND, format!("no schedule has id {id:?}"));
    };
    let (from, to) = match range(&query, 7, 90) {
        Ok(range) => range,
        Err(response) => return *response,
    };
    let text = crate::oncall::ical::schedule_calendar(
        schedule,
        &state.catalog.oncall.directory,
        from,
        to,
        Timestamp::now(),
    );
    (
        [
            (
                header::CONTENT_TYPE,
                "text/calendar; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.ics\""),
            ),
        ],
        text,
    )
        .into_response()
}

fn silence_json(row: &SilenceRow, now_ms: i64) -> Value {
    json!({
        "id": row.id,
        "matchers": serde_json::from_str::<Value>(&row.matchers).unwrap_or(Value::Null),
        "starts": time_text(Some(row.starts_ms)),
        "ends": time_text(Some(row.ends_ms)),
        "created_by": row.created_by,
        "comment": row.comment,
        "active": row.starts_ms <= now_ms && now_ms < row.ends_ms,
    })
}

async fn list_silences(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = only(&query, &["active"]) {
        return *response;
    }
    let now_ms = Timestamp::now().as_millisecond();
    let active = match query.get("active").map(String::as_str) {
        None | Some("false") => None,
        Some("true") => Some(now_ms),
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("active {other:?} must be true or false"),
            );
        }
    };
    match state.store.silences(active).await {
        Ok(rows) => {
            let maintenance: Vec<Value> = state
                .catalog
                .oncall
                .maintenance
                .iter()
                .map(|window| {
                    let next = window.next_window(Timestamp::now());
                    json!({
                        "id": window.id,
                        "matchers": window.matchers.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
                        "active": window.is_active(Timestamp::now()),
                        "next": next.map(|(start, end)| json!({"start": start.to_string(), "end": end.to_string()})),
                        "comment": window.comment,
                    })
                })
                .collect();
            Json(json!({
                "silences": rows.iter().map(|row| silence_json(row, now_ms)).collect::<Vec<_>>(),
                "maintenance": maintenance,
            }))
            .into_response()
        }
        Err(err) => error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
    }
}

/// `{"matchers": ["service=\"api\""], "starts": RFC 3339 (default now), "ends": RFC 3339 or
/// "duration": "2h", "created_by": "...", "comment": "..."}`.
async fn add_silence(State(state): State<AppState>, body: Body) -> Response {
    let body = match read(body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(err) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("body is not valid JSON: {err}"),
            );
        }
    };
    let Some(map) = value.as_object() else {
        return error(StatusCode::BAD_REQUEST, "expected a JSON object");
    };
    const FIELDS: [&str; 6] = [
        "matchers",
        "starts",
        "ends",
        "duration",
        "created_by",
        "comment",
    ];
    if let Some(key) = map.keys().find(|key| !FIELDS.contains(&key.as_str())) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("unknown field {key:?}; expected one of {FIELDS:?}"),
        );
    }
    let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_string);
    let Some(matchers) = map.get("matchers").and_then(Value::as_array) else {
        return error(
            StatusCode::BAD_REQUEST,
            "matchers: expected an array of matcher texts like \"service=\\\"api\\\"\"",
        );
    };
    let mut texts = Vec::new();
    for (index, matcher) in matchers.iter().enumerate() {
        match matcher.as_str() {
            Some(text) => texts.push(text.to_string()),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("matchers[{index}]: expected a string"),
                );
            }
        }
    }
    let now = Timestamp::now();
    let starts = match text("starts").map(|t| t.parse::<Timestamp>()) {
        None => now,
        Some(Ok(time)) => time,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "starts: not an RFC 3339 time"),
    };
    let ends = match (text("ends"), text("duration")) {
        (Some(ends), None) => match ends.parse::<Timestamp>() {
            Ok(time) => time,
            Err(_) => return error(StatusCode::BAD_REQUEST, "ends: not an RFC 3339 time"),
        },
        (None, Some(duration)) => match duration.parse::<nines_core::Span>() {
            Ok(span) => match starts.checked_add(span.to_jiff()) {
                Ok(time) => time,
                Err(_) => return error(StatusCode::BAD_REQUEST, "duration: too long"),
            },
            Err(err) => return error(StatusCode::BAD_REQUEST, format!("duration: {err}")),
        },
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "give exactly one of ends and duration",
            );
        }
    };
    let Some(created_by) = text("created_by").filter(|by| !by.trim().is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "created_by: say who silences (a name)",
        );
    };
    let row = SilenceRow {
        id: format!("s-{}", &crate::oncall::pager::new_page_id()[2..]),
        matchers: json!(texts).to_string(),
        starts_ms: starts.as_millisecond(),
        ends_ms: ends.as_millisecond(),
        created_by,
        comment: text("comment").unwrap_or_default(),
        created_ms: now.as_millisecond(),
    };
    match state.pager.add_silence(&row).await {
        Ok(()) => (
            StatusCode::CREATED,
            Json(silence_json(&row, now.as_millisecond())),
        )
            .into_response(),
        Err(err) => pager_error(err),
    }
}

async fn expire_silence(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state
        .store
        .expire_silence(&id, Timestamp::now().as_millisecond())
        .await
    {
        Ok(true) => Json(json!({"id": id, "expired": true})).into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no silence has id {id:?}")),
        Err(err) => error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
    }
}

async fn list_heartbeats(State(state): State<AppState>) -> Response {
    let beats: HashMap<String, i64> = match state.store.heartbeats().await {
        Ok(rows) => rows.into_iter().map(|row| (row.id, row.last_ms)).collect(),
        Err(err) => return error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
    };
    let now_ms = Timestamp::now().as_millisecond();
    let list: Vec<Value> = crate::oncall::watched(&state)
        .iter()
        .map(|watch| {
            let last = beats.get(&watch.id).copied();
            let since = last.unwrap_or(state.started.as_millisecond());
            let deadline = since + (watch.interval.as_secs() + watch.grace.as_secs()) * 1000;
            json!({
                "id": watch.id,
                "interval": watch.interval.to_string(),
                "grace": watch.grace.to_string(),
                "last": time_text(last),
                "deadline": time_text(Some(deadline)),
                "status": if now_ms > deadline { "missed" } else { "ok" },
                "builtin": watch.builtin,
            })
        })
        .collect();
    Json(json!({"heartbeats": list})).into_response()
}

/// A beat: GET or POST (so `curl URL` in a cron job is enough).
async fn beat(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    if id == crate::oncall::EVALUATOR_HEARTBEAT
        || !state
            .catalog
            .oncall
            .heartbeats
            .iter()
            .any(|heartbeat| heartbeat.id == id)
    {
        return error(StatusCode::NOT_FOUND, format!("no heartbeat has id {id:?}"));
    }
    let now = Timestamp::now();
    if let Err(err) = state.store.beat(&id, now.as_millisecond()).await {
        return error(StatusCode::SERVICE_UNAVAILABLE, err.to_string());
    }
    // A missed heartbeat that beats again resolves at once, not at the next pass.
    let resolved = match state.store.alert(&format!("hb:{id}")).await {
        Ok(Some(row)) if row.status == "firing" => {
            let mut alert = crate::oncall::pager::incoming_of_row(&row);
            alert.action = AlertAction::Resolve;
            matches!(
                state.pager.ingest(&alert, now).await,
                Ok(Outcome::Resolved { .. })
            )
        }
        _ => false,
    };
    Json(json!({"heartbeat": id, "at": now.to_string(), "resolved": resolved})).into_response()
}
