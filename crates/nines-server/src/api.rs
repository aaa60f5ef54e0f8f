//! The HTTP API: intake endpoints (remote write, OTLP, JSON events), SLO status, budget
//! history, alerts, events, the OpenAPI document, `/metrics`, `/healthz` and `/readyz`.
//!
//! Every error is a JSON body `{"error": {"status", "message", "field"?}}`; a 4xx keeps its
//! detail, a 5xx is logged once and answered blandly. Intake answers 2xx only once the data is
//! durable.

use std::collections::HashMap;
use std::io::Read;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::Timestamp;
use nines_core::{AlertState, CountKind, Exhaustion, Window};
use nines_store::{CountDelta, EventQuery};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::evaluator::Entry;
use crate::intake::{Batch, otlp, remote_write};
use crate::server::{AppState, finite};
use crate::writer::{Failure, Work};

/// An error answer.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
}

impl AppError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> AppError {
        AppError {
            status,
            message: message.into(),
            field: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn field(mut self, field: &str) -> AppError {
        self.field = Some(field.to_string());
        self
    }

    pub(crate) fn not_found(what: impl Into<String>) -> AppError {
        AppError::new(StatusCode::NOT_FOUND, what)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut error = json!({ "status": self.status.as_u16(), "message": self.message });
        if let Some(field) = self.field {
            error["field"] = Value::String(field);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

impl From<Failure> for AppError {
    fn from(failure: Failure) -> AppError {
        match failure {
            Failure::Rejected(message) => AppError::bad_request(message),
            Failure::Unavailable(message) => {
                AppError::new(StatusCode::SERVICE_UNAVAILABLE, message)
            }
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/write", post(remote_write_handler))
        .route("/v1/metrics", post(otlp_handler))
        .route("/api/v1/slos", get(list_slos))
        .route("/api/v1/slos/{id}", get(show_slo))
        .route("/api/v1/slos/{id}/events", post(post_events))
        .route("/api/v1/slos/{id}/history", get(history))
        .route("/api/v1/slos/{id}/burn-rates", get(burn_rates))
        .route("/api/v1/slos/{id}/burn-down", get(burn_down))
        .route(
            "/api/v1/slos/{id}/backfill",
            get(backfill_status).post(start_backfill),
        )
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/events", get(events))
        .route("/api/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/api/v1/reports", get(crate::reports::handler))
        .merge(crate::oncall::api::routes())
        .merge(crate::incidents::routes())
        .merge(crate::ui::routes())
        .fallback(|| async { AppError::not_found("no such endpoint") })
        // Bodies are read by the handlers themselves, with their own limit and error.
        .layer(axum::extract::DefaultBodyLimit::disable())
        // Browsers may not write across sites (see `ui::csrf`).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::ui::csrf::guard,
        ))
        .with_state(state)
}

/// Reads a body of at most `limit` bytes, answering 413 beyond.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, AppError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than the limit of {limit} bytes"),
        )
    })
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

async fn submit(
    state: &AppState,
    source: &'static str,
    batch: Batch,
) -> Result<crate::intake::counter::IntakeStats, AppError> {
    state
        .writer
        .submit(Work::Batch { source, batch })
        .await
        .map_err(AppError::from)
}

/// A body that cannot be read: 413 when it is too large once decompressed, 400 otherwise.
fn intake_error(err: crate::intake::IntakeError) -> AppError {
    match err {
        crate::intake::IntakeError::TooLarge { .. } => {
            AppError::new(StatusCode::PAYLOAD_TOO_LARGE, err.to_string())
        }
        other => AppError::bad_request(other.to_string()),
    }
}

async fn remote_write_handler(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, AppError> {
    let limit = state.config.max_body_bytes;
    let encoding = header_str(request.headers(), header::CONTENT_ENCODING)
        .unwrap_or("snappy")
        .to_string();
    if !encoding.eq_ignore_ascii_case("snappy") {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("remote write bodies are snappy-compressed protobuf, not {encoding:?}"),
        ));
    }
    let body = read_body(request.into_body(), limit).await?;
    let decoded = remote_write::decode(&body, limit.saturating_mul(8)).map_err(intake_error);
    let write_request = match decoded {
        Ok(write_request) => write_request,
        Err(err) => {
            state
                .metrics
                .count_failed_request("remote_write", "rejected");
            return Err(err);
        }
    };
    submit(
        &state,
        "remote_write",
        Batch::from_write_request(write_request),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn otlp_handler(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, AppError> {
    let limit = state.config.max_body_bytes;
    let content_type = header_str(request.headers(), header::CONTENT_TYPE)
        .unwrap_or("")
        .to_string();
    if !content_type.starts_with("application/x-protobuf") {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("OTLP metrics are taken as application/x-protobuf, not {content_type:?}"),
        ));
    }
    let encoding =
        header_str(request.headers(), header::CONTENT_ENCODING).map(str::to_ascii_lowercase);
    let body = read_body(request.into_body(), limit).await?;
    let body = match encoding.as_deref() {
        None | Some("identity") => body.to_vec(),
        Some("gzip") => {
            let mut inflated = Vec::new();
            let mut reader = flate2::read::GzDecoder::new(&body[..]).take(limit as u64 + 1);
            reader
                .read_to_end(&mut inflated)
                .map_err(|err| AppError::bad_request(format!("corrupt gzip body: {err}")))?;
            if inflated.len() > limit {
                return Err(AppError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("decompressed body larger than the limit of {limit} bytes"),
                ));
            }
            inflated
        }
        Some(other) => {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported content encoding {other:?}"),
            ));
        }
    };
    let batch = otlp::decode(&body, limit).map_err(|err| {
        state.metrics.count_failed_request("otlp", "rejected");
        intake_error(err)
    })?;
    submit(&state, "otlp", batch).await?;
    // An empty ExportMetricsServiceResponse: everything was taken.
    Ok((
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        Vec::<u8>::new(),
    )
        .into_response())
}

/// `{"good": 95, "total": 100}`, `{"bad": 5, "total": 100}` or `{"outcome": "bad"}`, with an
/// optional `"at"` (RFC 3339; now when absent).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsBody {
    #[serde(default)]
    good: Option<u64>,
    #[serde(default)]
    bad: Option<u64>,
    #[serde(default)]
    total: Option<u64>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    at: Option<String>,
}

async fn post_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, AppError> {
    let limit = state.config.max_body_bytes;
    let count_kind = state
        .fleet()
        .get(&id)
        .map(|entry| entry.def.spec.count_kind);
    let Some(count_kind) = count_kind else {
        return Err(AppError::not_found(format!("unknown SLO id {id:?}")));
    };
    if let Some(source) = state.pulls.source_of(&id) {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            format!(
                "SLO {id:?} pulls its data from source {:?}; pushed events would be counted beside it",
                source.id
            ),
        ));
    }
    let body = read_body(request.into_body(), limit).await?;
    let parsed: EventsBody = serde_json::from_slice(&body)
        .map_err(|err| AppError::bad_request(format!("invalid JSON body: {err}")))?;
    let (good, total) = match (&parsed.outcome, parsed.good, parsed.bad, parsed.total) {
        (Some(outcome), None, None, None) => match outcome.as_str() {
            "good" => (1, 1),
            "bad" => (0, 1),
            other => {
                return Err(AppError::bad_request(format!(
                    "outcome {other:?} must be \"good\" or \"bad\""
                ))
                .field("outcome"));
            }
        },
        (None, Some(good), None, Some(total)) if good <= total => (good, total),
        (None, None, Some(bad), Some(total)) if bad <= total => (total - bad, total),
        (None, Some(_), None, Some(_)) => {
            return Err(AppError::bad_request("good must not exceed total").field("good"));
        }
        (None, None, Some(_), Some(_)) => {
            return Err(AppError::bad_request("bad must not exceed total").field("bad"));
        }
        _ => {
            return Err(AppError::bad_request(
                "send {\"good\": N, \"total\": N}, {\"bad\": N, \"total\": N} or {\"outcome\": \"good\"|\"bad\"}",
            ));
        }
    };
    if total > i64::MAX as u64 / 4 {
        return Err(AppError::bad_request("total is too large").field("total"));
    }
    let at = match &parsed.at {
        None => Timestamp::now(),
        Some(text) => text.parse::<Timestamp>().map_err(|err| {
            AppError::bad_request(format!("at {text:?} is not an RFC 3339 instant: {err}"))
                .field("at")
        })?,
    };
    let counted = match count_kind {
        CountKind::Good => good,
        CountKind::Bad => total - good,
    };
    let counts = vec![CountDelta {
        slo_id: id.clone(),
        minute: at.as_second().div_euclid(60),
        counted: counted as i64,
        total: total as i64,
    }];
    state
        .writer
        .submit(Work::Counts {
            source: "json",
            counts,
        })
        .await
        .map_err(|failure| match failure {
            Failure::Rejected(message) => AppError::bad_request(message).field("at"),
            other => AppError::from(other),
        })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "slo": id, "good": good, "total": total, "at": at.to_string() })),
    )
        .into_response())
}

fn window_json(window: &Window) -> Value {
    match window {
        Window::Rolling(length) => json!({ "kind": "rolling", "length": length.to_string() }),
        Window::Calendar(calendar) => json!({
            "kind": "calendar",
            "unit": calendar.unit.name(),
            "time_zone": nines_core::window::time_zone_name(&calendar.time_zone),
        }),
    }
}

fn alert_json(state: &AlertState) -> Value {
    match state {
        AlertState::Inactive => json!({ "state": "inactive" }),
        AlertState::Firing { severity, since } => {
            json!({ "state": "firing", "severity": severity.name(), "since": since.to_string() })
        }
        AlertState::Resolved { severity, at } => {
            json!({ "state": "resolved", "severity": severity.name(), "since": at.to_string() })
        }
    }
}

/// The status of one SLO, as the API and the CLI show it.
pub fn slo_json(entry: &Entry) -> Value {
    let def = &entry.def;
    let alerts = entry.runtime.alerts();
    let mut value = json!({
        "id": def.id.as_str(),
        "name": def.name,
        "service": def.service,
        "owner": entry.owner,
        "journey": def.journey,
        "objective": def.spec.objective.get(),
        "objective_percent": def.spec.objective.percent(),
        "window": window_json(&def.spec.window),
        "budgeting": def.spec.method.name(),
        "runbook": entry.runbook,
        "labels": def.labels,
        "alerts": {
            "burn_rate": alert_json(&alerts.burn_rate),
            "no_data": alert_json(&alerts.no_data),
        },
        "status": Value::Null,
    });
    if let Some(evaluation) = &entry.last {
        let (exhaustion, seconds) = match evaluation.exhaustion {
            Exhaustion::NotBurning => ("not_burning", None),
            Exhaustion::Exhausted => ("exhausted", Some(0)),
            Exhaustion::In(span) => ("in", Some(span.as_secs())),
            Exhaustion::AfterPeriodEnd => ("after_period_end", None),
        };
        value["status"] = json!({
            "evaluated_at": evaluation.at.to_string(),
            "sli": evaluation.budget.sli,
            "bad": evaluation.bad,
            "total": evaluation.total,
            "window_start": evaluation.window_start.to_string(),
            "window_end": evaluation.window_end.to_string(),
            "partial_window": evaluation.partial_window,
            "budget": {
                "unit": match evaluation.budget.unit { nines_core::BudgetUnit::Events => "events", nines_core::BudgetUnit::Minutes => "minutes" },
                "allowed": evaluation.budget.allowed,
                "consumed": evaluation.budget.consumed,
                "remaining": evaluation.budget.remaining,
                "remaining_share": finite(evaluation.budget.remaining_share),
            },
            "current_burn_rate": evaluation.current_burn_rate,
            "exhaustion": exhaustion,
            "time_to_exhaustion_seconds": seconds,
            "no_data": evaluation.no_data,
            "burn_rates": evaluation.pairs.iter().map(|reading| json!({
                "severity": reading.pair.severity.name(),
                "budget_share": reading.pair.budget_share.get(),
                "long_window": reading.pair.long_window.to_string(),
                "long_burn_rate": reading.long_burn_rate,
                "short_window": reading.pair.short_window.to_string(),
                "short_burn_rate": reading.short_burn_rate,
                "factor": reading.factor,
                "burning": reading.burning,
                "guarded": reading.guarded,
                "fires": reading.fires(),
            })).collect::<Vec<_>>(),
        });
    }
    value
}

fn query_filter(query: &HashMap<String, String>, allowed: &[&str]) -> Result<(), AppError> {
    for key in query.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(AppError::bad_request(format!(
                "unknown query parameter {key:?}; expected one of {allowed:?}"
            ))
            .field(key));
        }
    }
    Ok(())
}

async fn list_slos(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    query_filter(&query, &["service"])?;
    // The fleet's lock is let go before pull statuses are read (those take the status lock
    // first, then the fleet's).
    let listed: Vec<(String, Value)> = {
        let fleet = state.fleet();
        fleet
            .entries()
            .iter()
            .filter(|entry| {
                query
                    .get("service")
                    .is_none_or(|service| &entry.def.service == service)
            })
            .map(|entry| (entry.def.id.as_str().to_string(), slo_json(entry)))
            .collect()
    };
    let slos: Vec<Value> = listed
        .into_iter()
        .map(|(id, value)| with_pull(value, &state, &id))
        .collect();
    Ok(Json(json!({ "slos": slos })))
}

async fn show_slo(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let value = {
        let fleet = state.fleet();
        let entry = fleet
            .get(&id)
            .ok_or_else(|| AppError::not_found(format!("unknown SLO id {id:?}")))?;
        slo_json(entry)
    };
    Ok(Json(with_pull(value, &state, &id)))
}

fn minute_text(minute: i64) -> Value {
    Timestamp::from_second(minute * 60).map_or(Value::Null, |at| json!(at.to_string()))
}

/// The pull status of an SLO: its source, how far it is pulled, its backfill's progress, and
/// the last error and data problems.
pub fn pull_json(state: &AppState, id: &str, now: Timestamp) -> Option<Value> {
    use crate::pull::task::target_minute;
    let (status, source_id) = state.pulls.status(id)?;
    let source = state.pulls.source_of(id)?;
    let target = target_minute(now, source.delay_seconds);
    let phase = if status.last_error.is_some() {
        "failing"
    } else if status.pulled_until.is_none() || status.backfill.is_some() {
        "backfilling"
    } else {
        "live"
    };
    let backfill = status.backfill.map(|backfill| {
        let done = status.pulled_until.unwrap_or(backfill.from) - backfill.from;
        let all = (backfill.target - backfill.from).max(1);
        json!({
            "from": minute_text(backfill.from),
            "until": minute_text(backfill.target),
            "minutes_done": done.clamp(0, all),
            "minutes_total": all,
            "progress": (done as f64 / all as f64).clamp(0.0, 1.0),
        })
    });
    Some(json!({
        "source": source_id,
        "url": source.client.url(),
        "state": phase,
        "pulled_until": status.pulled_until.map_or(Value::Null, minute_text),
        "behind_minutes": status.pulled_until.map(|until| (target - until).max(0)),
        "backfill": backfill,
        "last_success": status.last_success_ms.and_then(|ms| Timestamp::from_millisecond(ms).ok()).map(|at| at.to_string()),
        "last_error": status.last_error,
        "failures": status.failures,
        "missing_minutes": status.missing_minutes,
        "problems": status.problems.iter().map(|problem| json!({
            "at": Timestamp::from_second(problem.at).map(|at| at.to_string()).ok(),
            "query": problem.query,
            "message": problem.message,
        })).collect::<Vec<_>>(),
    }))
}

fn with_pull(mut value: Value, state: &AppState, id: &str) -> Value {
    if let Some(pull) = pull_json(state, id, Timestamp::now()) {
        value["pull"] = pull;
    }
    value
}

fn pulled(state: &AppState, id: &str) -> Result<(), AppError> {
    if state.fleet().get(id).is_none() {
        return Err(AppError::not_found(format!("unknown SLO id {id:?}")));
    }
    if !state.pulls.contains(id) {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            format!("SLO {id:?} has no source to pull from; its data is pushed"),
        ));
    }
    Ok(())
}

async fn backfill_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    pulled(&state, &id)?;
    let pull = pull_json(&state, &id, Timestamp::now()).unwrap_or(Value::Null);
    Ok(Json(json!({ "slo": id, "pull": pull })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackfillBody {
    #[serde(default)]
    from: Option<String>,
}

/// Restarts an SLO's backfill: its counts from `from` (default: the whole retention, rounded
/// to an hour edge) are deleted and pulled again.
async fn start_backfill(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, AppError> {
    use crate::pull::task::{restart, retention_start, target_minute};
    pulled(&state, &id)?;
    let body = read_body(request.into_body(), 64 * 1024).await?;
    let parsed: BackfillBody = if body.iter().all(u8::is_ascii_whitespace) {
        BackfillBody { from: None }
    } else {
        serde_json::from_slice(&body)
            .map_err(|err| AppError::bad_request(format!("invalid JSON body: {err}")))?
    };
    let now = Timestamp::now();
    let retention = state
        .fleet()
        .get(&id)
        .map(|entry| entry.def.spec.retention_minutes())
        .unwrap_or(0);
    let earliest = retention_start(now, retention);
    let from = match &parsed.from {
        None => earliest,
        Some(text) => {
            let at = text.parse::<Timestamp>().map_err(|err| {
                AppError::bad_request(format!("from {text:?} is not an RFC 3339 instant: {err}"))
                    .field("from")
            })?;
            let minute = at.as_second().div_euclid(60);
            let source = state
                .pulls
                .source_of(&id)
                .map_or(0, |source| source.delay_seconds);
            if minute >= target_minute(now, source) {
                return Err(AppError::bad_request(format!(
                    "from {text:?} is not in the past (minus the source's delay); nothing to pull"
                ))
                .field("from"));
            }
            if minute < earliest {
                return Err(AppError::bad_request(format!(
                    "from {text:?} is older than this SLO keeps (its longest window, {} minutes); the earliest is {}",
                    retention,
                    minute_text(earliest).as_str().unwrap_or_default()
                ))
                .field("from"));
            }
            // Hour edges: rows older than a few hours are ten-minute rows, never split.
            minute.div_euclid(60) * 60
        }
    };
    let from = from.max(earliest);
    if let Some(error) = state.pulls.plan_error(&id) {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            format!("SLO {id:?} cannot be pulled: {error}"),
        ));
    }
    // In a task of its own: a client that goes away cannot cancel it halfway.
    let task_state = state.clone();
    let task_id = id.clone();
    tokio::spawn(async move { restart(&task_state, &task_state.pulls, &task_id, from, now).await })
        .await
        .map_err(|err| AppError::new(StatusCode::SERVICE_UNAVAILABLE, err.to_string()))?
        .map_err(|err| AppError::new(StatusCode::SERVICE_UNAVAILABLE, err))?;
    let pull = pull_json(&state, &id, now).unwrap_or(Value::Null);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "slo": id, "pull": pull })),
    )
        .into_response())
}

fn parse_time(query: &HashMap<String, String>, key: &str) -> Result<Option<Timestamp>, AppError> {
    match query.get(key) {
        None => Ok(None),
        Some(text) => text.parse::<Timestamp>().map(Some).map_err(|err| {
            AppError::bad_request(format!("{key} {text:?} is not an RFC 3339 instant: {err}"))
                .field(key)
        }),
    }
}

async fn history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    query_filter(&query, &["from", "to"])?;
    let period = {
        let fleet = state.fleet();
        let entry = fleet
            .get(&id)
            .ok_or_else(|| AppError::not_found(format!("unknown SLO id {id:?}")))?;
        entry.def.spec.window.nominal_period()
    };
    let to = parse_time(&query, "to")?.unwrap_or_else(Timestamp::now);
    let from = parse_time(&query, "from")?.unwrap_or_else(|| {
        Timestamp::from_second(to.as_second() - period.as_secs()).unwrap_or(Timestamp::UNIX_EPOCH)
    });
    if from >= to {
        return Err(AppError::bad_request(format!(
            "the period ends ({to}) before it starts ({from})"
        ))
        .field("to"));
    }
    let rows = state
        .store
        .snapshots(&id, from.as_millisecond(), to.as_millisecond())
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "reading budget history failed");
            AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "budget history is unavailable",
            )
        })?;
    let points: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "at": Timestamp::from_millisecond(row.at_ms).map(|at| at.to_string()).unwrap_or_default(),
                "remaining_share": row.remaining_share,
                "sli": row.sli,
                "bad": row.bad,
                "total": row.total,
                "burn_rate_1h": row.burn_rate_1h,
            })
        })
        .collect();
    Ok(Json(
        json!({ "slo": id, "from": from.to_string(), "to": to.to_string(), "points": points }),
    ))
}

/// How the budget of the current window was spent: `points` readings (default 240, at most
/// 1000) from the window's start to now, each the share of the window's budget left after
/// the bad events (or bad time slices) from the start to that instant. The last one is the
/// SLO's budget left now.
async fn burn_down(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    query_filter(&query, &["points"])?;
    let points = points_query(&query)?;
    let now = Timestamp::now();
    let fleet = state.fleet();
    let entry = fleet
        .get(&id)
        .ok_or_else(|| AppError::not_found(format!("unknown SLO id {id:?}")))?;
    let spec = &entry.def.spec;
    let window_error = |err: nines_core::window::WindowError| {
        AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the window: {err}"),
        )
    };
    let start = spec.window.bounds(now).map_err(window_error)?;
    let from_ms = start.start.as_millisecond();
    let step_ms = ((now.as_millisecond() - from_ms) / (points - 1)).max(1);
    let instants: Vec<Timestamp> = (0..points)
        .filter_map(|index| Timestamp::from_millisecond(from_ms + index * step_ms).ok())
        .map(|at| at.min(now))
        .collect();
    let (window_start, readings) = entry
        .runtime
        .burn_down(spec, now, &instants)
        .map_err(window_error)?;
    let series: Vec<Value> = instants
        .iter()
        .zip(readings)
        .map(|(at, share)| json!([at.as_millisecond(), share]))
        .collect();
    Ok(Json(json!({
        "slo": id,
        "window_start": window_start.to_string(),
        "window_end": start.end.to_string(),
        "now": now.to_string(),
        "points": series,
    })))
}

fn points_query(query: &HashMap<String, String>) -> Result<i64, AppError> {
    match query.get("points") {
        None => Ok(240),
        Some(text) => match text.parse::<i64>() {
            Ok(points) if (2..=1000).contains(&points) => Ok(points),
            _ => Err(AppError::bad_request(format!(
                "points {text:?} must be a whole number from 2 to 1000"
            ))
            .field("points")),
        },
    }
}

/// Burn rates over time of every alert pair of an SLO, from the buckets the evaluator keeps:
/// `points` readings (default 240, at most 1000) from `from` to `to` (default: the last 6
/// hours), each the long and the short window's burn rate as the evaluator would have read it
/// then, with the pair's threshold.
async fn burn_rates(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    query_filter(&query, &["from", "to", "points"])?;
    let to = parse_time(&query, "to")?.unwrap_or_else(Timestamp::now);
    let from = parse_time(&query, "from")?
        .unwrap_or_else(|| Timestamp::from_second(to.as_second() - 6 * 3600).unwrap_or(to));
    if from >= to {
        return Err(AppError::bad_request(format!(
            "the period ends ({to}) before it starts ({from})"
        ))
        .field("to"));
    }
    let points = points_query(&query)?;
    let step_ms = ((to.as_millisecond() - from.as_millisecond()) / (points - 1)).max(1);
    let fleet = state.fleet();
    let entry = fleet
        .get(&id)
        .ok_or_else(|| AppError::not_found(format!("unknown SLO id {id:?}")))?;
    let spec = &entry.def.spec;
    let period = spec.window.nominal_period();
    let series = |minutes: i64| -> Vec<Value> {
        (0..points)
            .filter_map(|index| {
                let at_ms = from.as_millisecond() + index * step_ms;
                let at = Timestamp::from_millisecond(at_ms).ok()?;
                let rate = entry.runtime.burn_rate_at(spec, at, minutes);
                Some(json!([at_ms, rate.and_then(finite)]))
            })
            .collect()
    };
    let pairs: Vec<Value> = spec
        .policy
        .pairs
        .iter()
        .map(|pair| {
            json!({
                "severity": pair.severity.name(),
                "budget_share": pair.budget_share.get(),
                "long_window": pair.long_window.to_string(),
                "short_window": pair.short_window.to_string(),
                "threshold": pair.factor(period),
                "long": series(pair.long_window.whole_minutes()),
                "short": series(pair.short_window.whole_minutes()),
            })
        })
        .collect();
    Ok(Json(json!({
        "slo": id,
        "from": from.to_string(),
        "to": to.to_string(),
        "step_seconds": step_ms / 1000,
        "pairs": pairs,
    })))
}

async fn alerts(State(state): State<AppState>) -> Json<Value> {
    let fleet = state.fleet();
    let mut alerts = Vec::new();
    for entry in fleet.entries() {
        let machine = entry.runtime.alerts();
        for (kind, alert) in [
            ("burn_rate", machine.burn_rate),
            ("no_data", machine.no_data),
        ] {
            if let AlertState::Firing { severity, since } = alert {
                alerts.push(json!({
                    "slo": entry.def.id.as_str(),
                    "service": entry.def.service,
                    "alert": kind,
                    "severity": severity.name(),
                    "since": since.to_string(),
                    "runbook": entry.runbook,
                }));
            }
        }
    }
    Json(json!({ "alerts": alerts }))
}

async fn events(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    query_filter(&query, &["slo", "after", "limit"])?;
    let number = |key: &str, default: i64, max: i64| -> Result<i64, AppError> {
        match query.get(key) {
            None => Ok(default),
            Some(text) => match text.parse::<i64>() {
                Ok(value) if (0..=max).contains(&value) => Ok(value),
                _ => Err(AppError::bad_request(format!(
                    "{key} {text:?} must be a whole number from 0 to {max}"
                ))
                .field(key)),
            },
        }
    };
    let limit = number("limit", 100, 1000)?;
    let after = query
        .get("after")
        .map(|_| number("after", 0, i64::MAX))
        .transpose()?;
    let slo = query.get("slo").cloned();
    if let Some(slo) = &slo
        && !state.fleet().contains(slo)
    {
        return Err(AppError::not_found(format!("unknown SLO id {slo:?}")).field("slo"));
    }
    let rows = state
        .store
        .events(&EventQuery {
            slo_id: slo,
            page_id: None,
            incident_id: None,
            after_id: after,
            limit,
        })
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "reading events failed");
            AppError::new(StatusCode::SERVICE_UNAVAILABLE, "events are unavailable")
        })?;
    let events: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "id": row.id,
                "at": Timestamp::from_millisecond(row.at_ms).map(|at| at.to_string()).unwrap_or_default(),
                "kind": row.kind,
                "slo": row.slo_id,
                "actor": row.actor,
                "payload": serde_json::from_str::<Value>(&row.payload).unwrap_or(Value::Null),
            })
        })
        .collect();
    Ok(Json(json!({ "events": events })))
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    let last = state.metrics.last_evaluation() as i64;
    let allowed = (state.config.evaluation_interval.as_secs() as i64).max(1) * 3 + 5;
    let age = Timestamp::now().as_second() - last;
    if last > 0 && age <= allowed {
        Json(json!({ "status": "ready", "last_evaluation_age_seconds": age })).into_response()
    } else {
        AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the evaluator last ran {age} s ago"),
        )
        .into_response()
    }
}

async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}
