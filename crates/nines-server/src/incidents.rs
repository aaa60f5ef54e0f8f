//! Incidents in the server: every change goes through the core's incident machine
//! (`incident::machine::apply`) and is written with its timeline events in one
//! `commit_incident` transaction (versions guard against other replicas); action items;
//! postmortem drafts with the blameless check; the timeline (the incident's own events and
//! those of its pages); the error budget each linked SLO spent; incidents opened from pages by
//! the configured rules; and the HTTP endpoints.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use nines_core::incident::blameless;
use nines_core::incident::machine::{IncidentCommand, IncidentError, apply};
use nines_core::incident::model::{Incident, IncidentStatus, Role};
use nines_core::incident::postmortem::{
    ActionItem, ActionStatus, DEFAULT_TEMPLATE, PostmortemInput, Priority, draft,
};
use nines_core::incident::timeline::{TimelineEntry, render_markdown, timeline};
use nines_store::{
    ActionItemRow, EventQuery, EventRow, IncidentCommit, IncidentQuery, IncidentRow, IncidentWrite,
    StoreError,
};
use serde_json::{Value, json};

use crate::server::AppState;

const CONFLICT_ATTEMPTS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum IncidentsError {
    #[error("no incident has id {0:?}")]
    NotFound(String),
    #[error("no action item has id {0:?}")]
    NoActionItem(String),
    #[error("{0}")]
    Illegal(#[from] IncidentError),
    #[error("{0}")]
    Invalid(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("the incident kept changing under this request; try again")]
    Conflict,
}

impl IncidentsError {
    fn status(&self) -> StatusCode {
        match self {
            IncidentsError::NotFound(_) | IncidentsError::NoActionItem(_) => StatusCode::NOT_FOUND,
            // Bad input (empty text, an unknown severity) is 400; moves the incident's state
            // does not allow (resolving twice, reopening after the postmortem) are 409.
            IncidentsError::Illegal(
                IncidentError::EmptyId
                | IncidentError::EmptyTitle
                | IncidentError::EmptyActor { .. }
                | IncidentError::EmptyText { .. }
                | IncidentError::UnknownSeverity { .. }
                | IncidentError::EmptyRole
                | IncidentError::EmptyPerson { .. }
                | IncidentError::EmptyLink { .. },
            ) => StatusCode::BAD_REQUEST,
            IncidentsError::Illegal(_) => StatusCode::CONFLICT,
            IncidentsError::Invalid(_) => StatusCode::BAD_REQUEST,
            IncidentsError::Store(_) | IncidentsError::Conflict => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for IncidentsError {
    fn into_response(self) -> Response {
        let status = self.status();
        (
            status,
            Json(json!({"error": {"status": status.as_u16(), "message": self.to_string()}})),
        )
            .into_response()
    }
}

fn time(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// The core's incident of a stored row.
pub fn incident_of(row: &IncidentRow) -> Incident {
    Incident {
        id: row.id.clone(),
        title: row.title.clone(),
        severity: row.severity.clone(),
        status: IncidentStatus::from_name(&row.status).unwrap_or(IncidentStatus::Investigating),
        opened_at: time(row.opened_ms),
        opened_by: row.opened_by.clone(),
        resolved_at: row.resolved_ms.map(time),
        roles: serde_json::from_str(&row.roles).unwrap_or_default(),
        services: list(&row.services),
        slos: list(&row.slos),
        pages: list(&row.pages),
        postmortem_published: row.postmortem_published_ms.is_some(),
        reopened: u32::try_from(row.reopened).unwrap_or(0),
    }
}

fn row_of(incident: &Incident, before: Option<&IncidentRow>, now_ms: i64) -> IncidentRow {
    IncidentRow {
        id: incident.id.clone(),
        title: incident.title.clone(),
        severity: incident.severity.clone(),
        status: incident.status.name().to_string(),
        opened_ms: incident.opened_at.as_millisecond(),
        opened_by: incident.opened_by.clone(),
        resolved_ms: incident.resolved_at.map(Timestamp::as_millisecond),
        roles: json!(incident.roles).to_string(),
        services: json!(incident.services).to_string(),
        slos: json!(incident.slos).to_string(),
        pages: json!(incident.pages).to_string(),
        postmortem: before.and_then(|row| row.postmortem.clone()),
        postmortem_published_ms: match (incident.postmortem_published, before) {
            (false, _) => None,
            (true, Some(row)) => row.postmortem_published_ms.or(Some(now_ms)),
            (true, None) => Some(now_ms),
        },
        reopened: i64::from(incident.reopened),
        updated_ms: now_ms,
        version: before.map_or(1, |row| row.version + 1),
    }
}

/// `inc-` and eight random characters.
fn new_id(prefix: &str) -> String {
    let page = crate::oncall::pager::new_page_id();
    format!("{prefix}-{}", &page[2..])
}

/// Applies one command to an incident (or opens one, for `Open`), writing the incident, its
/// events and `action_items` in one transaction; retried from a fresh read on a conflict.
pub async fn run_command(
    state: &AppState,
    id: &str,
    command: &IncidentCommand,
    now: Timestamp,
    postmortem: Option<String>,
) -> Result<IncidentRow, IncidentsError> {
    let rubric = &state.catalog.incidents.rubric;
    let now_ms = now.as_millisecond();
    for _ in 0..CONFLICT_ATTEMPTS {
        let before = state.store.incident(id).await?;
        if before.is_none() && !matches!(command, IncidentCommand::Open { .. }) {
            return Err(IncidentsError::NotFound(id.to_string()));
        }
        let current = before.as_ref().map(incident_of);
        let (incident, events) = apply(current.as_ref(), rubric, command, now)?;
        let mut row = row_of(&incident, before.as_ref(), now_ms);
        if let Some(text) = &postmortem {
            row.postmortem = Some(text.clone());
        }
        let commit = IncidentCommit {
            incidents: vec![IncidentWrite {
                expected_version: before.as_ref().map(|row| row.version),
                row: row.clone(),
            }],
            action_items: Vec::new(),
            events: events
                .iter()
                .map(|event| EventRow {
                    id: 0,
                    at_ms: event.at.as_millisecond(),
                    kind: event.kind.name().to_string(),
                    slo_id: None,
                    actor: event.actor.clone().unwrap_or_else(|| "nines".to_string()),
                    payload: json!({"text": event.text, "fields": event.fields}).to_string(),
                    page_id: None,
                    incident_id: Some(incident.id.clone()),
                })
                .collect(),
        };
        if state.store.commit_incident(&commit).await? {
            return Ok(row);
        }
    }
    Err(IncidentsError::Conflict)
}

/// Opens an incident and links what it is about, each link an event.
#[allow(clippy::too_many_arguments)]
pub async fn open(
    state: &AppState,
    id: Option<String>,
    title: &str,
    severity: &str,
    by: &str,
    links: &[IncidentCommand],
    now: Timestamp,
) -> Result<IncidentRow, IncidentsError> {
    let id = id.unwrap_or_else(|| new_id("inc"));
    let mut row = run_command(
        state,
        &id,
        &IncidentCommand::Open {
            id: id.clone(),
            title: title.to_string(),
            severity: severity.to_string(),
            by: by.to_string(),
        },
        now,
        None,
    )
    .await?;
    for link in links {
        row = run_command(state, &id, link, now, None).await?;
    }
    Ok(row)
}

/// Opens an incident for every open page whose alert matches a rule of `incidents.open_for`,
/// once per page (the incident's id derives from the page's). Level-triggered from the pages,
/// like the pager's SLO alerts: a crash between the page and the incident loses nothing.
pub async fn open_for_pages(state: &AppState, now: Timestamp) {
    if state.catalog.incidents.rules.is_empty() {
        return;
    }
    for status in ["triggered", "acknowledged"] {
        let pages = match state
            .store
            .pages(&nines_store::PageQuery {
                status: Some(status.to_string()),
                limit: 200,
            })
            .await
        {
            Ok(pages) => pages,
            Err(err) => {
                tracing::error!(error = %err, "reading open pages for incident rules");
                return;
            }
        };
        for page in pages {
            let labels: nines_core::oncall::Labels =
                serde_json::from_str(&page.labels).unwrap_or_default();
            let Some(severity) = state.catalog.incidents.severity_for(&labels) else {
                continue;
            };
            let id = format!("inc-{}", page.id.trim_start_matches("p-"));
            match state.store.incident(&id).await {
                Ok(None) => {}
                Ok(Some(_)) => continue,
                Err(err) => {
                    tracing::error!(error = %err, "reading an incident");
                    return;
                }
            }
            let mut links = vec![IncidentCommand::LinkPage {
                page: page.id.clone(),
            }];
            if let Some(service) = &page.service {
                links.push(IncidentCommand::LinkService {
                    service: service.clone(),
                });
            }
            if let Some(slo) = labels.get("slo") {
                links.push(IncidentCommand::LinkSlo { slo: slo.clone() });
            }
            match open(
                state,
                Some(id.clone()),
                &page.summary,
                severity,
                "rule",
                &links,
                now,
            )
            .await
            {
                Ok(_) => {
                    tracing::info!(incident = %id, page = %page.id, severity, "incident opened by rule")
                }
                Err(err) => {
                    tracing::error!(incident = %id, error = %err, "opening an incident by rule")
                }
            }
        }
    }
}

/// The incident's timeline: its own events and those of its pages (alerts, notifications,
/// acknowledgements), ordered by time.
pub async fn timeline_of(
    state: &AppState,
    row: &IncidentRow,
) -> Result<Vec<TimelineEntry>, StoreError> {
    let own = own_events(state, &row.id).await?;
    timeline_from(state, row, own).await
}

/// The incident's own events (not its pages'), oldest first.
async fn own_events(state: &AppState, id: &str) -> Result<Vec<EventRow>, StoreError> {
    state
        .store
        .events(&EventQuery {
            incident_id: Some(id.to_string()),
            limit: 10_000,
            ..EventQuery::default()
        })
        .await
}

/// The text of a status update the incident published to the status page, if `event` is
/// one (an `incident.update` whose `public` field is `true`).
pub fn public_update_text(event: &EventRow) -> Option<String> {
    if event.kind != "incident.update" {
        return None;
    }
    let payload: Value = serde_json::from_str(&event.payload).ok()?;
    (payload["fields"]["public"] == "true")
        .then(|| payload["text"].as_str().unwrap_or_default().to_string())
}

/// [`timeline_of`] from the incident's own events, already read.
async fn timeline_from(
    state: &AppState,
    row: &IncidentRow,
    own: Vec<EventRow>,
) -> Result<Vec<TimelineEntry>, StoreError> {
    let mut entries = Vec::new();
    let mut read = |events: Vec<EventRow>| {
        for event in events {
            let payload: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
            let text = payload["text"]
                .as_str()
                .map(str::to_string)
                .or_else(|| payload["summary"].as_str().map(str::to_string))
                .or_else(|| {
                    payload["person"].as_str().map(|person| {
                        format!(
                            "{person} via {}",
                            payload["channel"].as_str().unwrap_or("?")
                        )
                    })
                })
                .unwrap_or_else(|| match &event.page_id {
                    Some(page) => format!("page {page}"),
                    None => String::new(),
                });
            entries.push(TimelineEntry {
                at: time(event.at_ms),
                kind: event.kind.clone(),
                actor: Some(event.actor.clone()),
                text,
            });
        }
    };
    read(own);
    for page in list(&row.pages) {
        read(
            state
                .store
                .events(&EventQuery {
                    page_id: Some(page),
                    limit: 10_000,
                    ..EventQuery::default()
                })
                .await?,
        );
    }
    Ok(timeline(entries))
}

/// The share of each linked SLO's error budget spent during the incident: bad events from its
/// opening to its resolution (or now) over the bad events the SLO's window allows at its last
/// evaluation.
pub async fn budget_spent(
    state: &AppState,
    row: &IncidentRow,
    now: Timestamp,
) -> Vec<(String, f64)> {
    let from_minute = row.opened_ms.div_euclid(60_000);
    let to_minute = row
        .resolved_ms
        .unwrap_or(now.as_millisecond())
        .div_euclid(60_000)
        + 1;
    let mut out = Vec::new();
    for slo in list(&row.slos) {
        let Some(def) = state.catalog.slo(&slo) else {
            continue;
        };
        let Ok(rows) = state.store.counts_since(Some(&slo), from_minute).await else {
            continue;
        };
        let (mut counted, mut total) = (0u64, 0u64);
        for count in rows.iter().filter(|count| count.minute < to_minute) {
            counted += u64::try_from(count.counted).unwrap_or(0);
            total += u64::try_from(count.total).unwrap_or(0);
        }
        let (bad, _) = def
            .spec
            .count_kind
            .bad_and_total(nines_core::Counts { counted, total });
        let allowed = state
            .fleet()
            .get(&slo)
            .and_then(|entry| entry.last.as_ref())
            .map(|evaluation| evaluation.budget.allowed);
        if let Some(allowed) = allowed.filter(|allowed| *allowed > 0.0) {
            out.push((slo, bad as f64 / allowed));
        }
    }
    out
}

fn action_item_of(row: &ActionItemRow) -> Option<ActionItem> {
    Some(ActionItem {
        id: row.id.clone(),
        title: row.title.clone(),
        owner: row.owner.clone(),
        due: row.due.parse().ok()?,
        priority: match row.priority.as_str() {
            "P1" => Priority::P1,
            "P2" => Priority::P2,
            _ => Priority::P3,
        },
        status: match row.status.as_str() {
            "done" => ActionStatus::Done,
            "wont_do" => ActionStatus::WontDo,
            _ => ActionStatus::Open,
        },
        created_at: time(row.created_ms),
        closed_at: row.closed_ms.map(time),
    })
}

// ---------------------------------------------------------------------------------------------
// HTTP

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/incidents", get(list_incidents).post(open_incident))
        .route("/api/v1/incidents/{id}", get(show_incident))
        .route("/api/v1/incidents/{id}/postmortem", post(postmortem))
        .route("/api/v1/incidents/{id}/action-items", post(add_action_item))
        .route("/api/v1/incidents/{id}/{action}", post(act))
        .route("/api/v1/action-items", get(list_action_items))
        .route("/api/v1/action-items/{id}", post(update_action_item))
}

async fn body_json(body: Body) -> Result<serde_json::Map<String, Value>, IncidentsError> {
    let bytes = axum::body::to_bytes(body, 1024 * 1024)
        .await
        .map_err(|_| IncidentsError::Invalid("body larger than 1 MiB".to_string()))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(IncidentsError::Invalid(
            "expected a JSON object".to_string(),
        )),
        Err(err) => Err(IncidentsError::Invalid(format!(
            "body is not valid JSON: {err}"
        ))),
    }
}

fn text(map: &serde_json::Map<String, Value>, key: &str) -> Result<Option<String>, IncidentsError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(IncidentsError::Invalid(format!("{key}: expected a string"))),
    }
}

fn required(map: &serde_json::Map<String, Value>, key: &str) -> Result<String, IncidentsError> {
    text(map, key)?.ok_or_else(|| IncidentsError::Invalid(format!("{key}: is missing")))
}

fn strings(map: &serde_json::Map<String, Value>, key: &str) -> Result<Vec<String>, IncidentsError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| IncidentsError::Invalid(format!("{key}: expected strings")))
            })
            .collect(),
        Some(_) => Err(IncidentsError::Invalid(format!(
            "{key}: expected an array of strings"
        ))),
    }
}

fn only(map: &serde_json::Map<String, Value>, allowed: &[&str]) -> Result<(), IncidentsError> {
    match map.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(IncidentsError::Invalid(format!(
            "unknown field {key:?}; expected one of {}",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

fn ms_text(ms: Option<i64>) -> Value {
    ms.map(|ms| Value::String(time(ms).to_string()))
        .unwrap_or(Value::Null)
}

pub fn incident_json(row: &IncidentRow) -> Value {
    json!({
        "id": row.id,
        "title": row.title,
        "severity": row.severity,
        "status": row.status,
        "opened": ms_text(Some(row.opened_ms)),
        "opened_by": row.opened_by,
        "resolved": ms_text(row.resolved_ms),
        "roles": serde_json::from_str::<Value>(&row.roles).unwrap_or(Value::Null),
        "services": list(&row.services),
        "slos": list(&row.slos),
        "pages": list(&row.pages),
        "postmortem_published": ms_text(row.postmortem_published_ms),
        "reopened": row.reopened,
    })
}

fn action_json(row: &ActionItemRow, today: jiff::civil::Date) -> Value {
    let overdue = action_item_of(row).is_some_and(|item| item.is_overdue(today));
    json!({
        "id": row.id, "incident": row.incident_id, "title": row.title, "owner": row.owner,
        "due": row.due, "priority": row.priority, "status": row.status,
        "created": ms_text(Some(row.created_ms)), "closed": ms_text(row.closed_ms),
        "overdue": overdue,
    })
}

fn today() -> jiff::civil::Date {
    Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date()
}

async fn list_incidents(
    State(state): State<AppState>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Value>, IncidentsError> {
    if let Some(key) = query.keys().find(|key| key.as_str() != "status") {
        return Err(IncidentsError::Invalid(format!(
            "unknown query parameter {key:?}; expected status"
        )));
    }
    let status = query.get("status").cloned();
    if let Some(status) = &status
        && IncidentStatus::from_name(status).is_none()
    {
        return Err(IncidentsError::Invalid(format!(
            "status {status:?} must be investigating, identified, monitoring or resolved"
        )));
    }
    let rows = state
        .store
        .incidents(&IncidentQuery {
            status,
            opened_from_ms: None,
            opened_to_ms: None,
            limit: 500,
        })
        .await?;
    Ok(Json(
        json!({"incidents": rows.iter().map(incident_json).collect::<Vec<_>>()}),
    ))
}

/// `{"title", "severity", "by", "services": [], "slos": [], "pages": []}`.
async fn open_incident(
    State(state): State<AppState>,
    body: Body,
) -> Result<Response, IncidentsError> {
    let map = body_json(body).await?;
    only(
        &map,
        &["title", "severity", "by", "services", "slos", "pages"],
    )?;
    let mut links = Vec::new();
    for service in strings(&map, "services")? {
        if state.catalog.service(&service).is_none() {
            return Err(IncidentsError::Invalid(format!(
                "services: no service has id {service:?}"
            )));
        }
        links.push(IncidentCommand::LinkService { service });
    }
    for slo in strings(&map, "slos")? {
        if state.catalog.slo(&slo).is_none() {
            return Err(IncidentsError::Invalid(format!(
                "slos: no SLO has id {slo:?}"
            )));
        }
        links.push(IncidentCommand::LinkSlo { slo });
    }
    for page in strings(&map, "pages")? {
        if state.store.page(&page).await?.is_none() {
            return Err(IncidentsError::Invalid(format!(
                "pages: no page has id {page:?}"
            )));
        }
        links.push(IncidentCommand::LinkPage { page });
    }
    let row = open(
        &state,
        None,
        &required(&map, "title")?,
        &required(&map, "severity")?,
        &text(&map, "by")?.unwrap_or_else(|| "api".to_string()),
        &links,
        Timestamp::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(incident_json(&row))).into_response())
}

async fn show_incident(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, IncidentsError> {
    let row = state
        .store
        .incident(&id)
        .await?
        .ok_or_else(|| IncidentsError::NotFound(id.clone()))?;
    let own = own_events(&state, &id).await?;
    // Which status updates went to the status page.
    let public: std::collections::HashSet<(i64, String)> = own
        .iter()
        .filter_map(|event| public_update_text(event).map(|text| (event.at_ms, text)))
        .collect();
    let entries = timeline_from(&state, &row, own).await?;
    let actions = state.store.action_items(Some(&id)).await?;
    let spent = budget_spent(&state, &row, Timestamp::now()).await;
    let mut body = incident_json(&row);
    body["timeline"] = entries
        .iter()
        .map(|entry| {
            let mut value = json!({"at": entry.at.to_string(), "kind": entry.kind, "actor": entry.actor, "text": entry.text});
            if entry.kind == "incident.update" {
                value["public"] =
                    json!(public.contains(&(entry.at.as_millisecond(), entry.text.clone())));
            }
            value
        })
        .collect();
    let today = today();
    body["action_items"] = actions.iter().map(|row| action_json(row, today)).collect();
    body["budget_spent"] = spent
        .iter()
        .map(|(slo, share)| json!({"slo": slo, "share": share}))
        .collect();
    body["postmortem"] = json!(row.postmortem);
    Ok(Json(body))
}

/// `status`, `severity`, `roles`, `notes`, `updates`, `resolve`, `reopen`, `links`.
async fn act(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    body: Body,
) -> Result<Json<Value>, IncidentsError> {
    let map = body_json(body).await?;
    let by = text(&map, "by")?.unwrap_or_else(|| "api".to_string());
    let command = match action.as_str() {
        "status" => {
            only(&map, &["status", "by", "note"])?;
            let name = required(&map, "status")?;
            let status = IncidentStatus::from_name(&name).ok_or_else(|| {
                IncidentsError::Invalid(format!(
                    "status {name:?} must be investigating, identified, monitoring or resolved"
                ))
            })?;
            IncidentCommand::SetStatus {
                status,
                by,
                note: text(&map, "note")?,
            }
        }
        "severity" => {
            only(&map, &["severity", "by"])?;
            IncidentCommand::SetSeverity {
                severity: required(&map, "severity")?,
                by,
            }
        }
        "roles" => {
            only(&map, &["role", "person", "by"])?;
            let name = required(&map, "role")?;
            let role = Role::parse(&name).ok_or_else(|| {
                IncidentsError::Invalid(format!("role {name:?} is not a role name"))
            })?;
            match text(&map, "person")? {
                Some(person) => IncidentCommand::AssignRole { role, person, by },
                None => IncidentCommand::UnassignRole { role, by },
            }
        }
        "notes" => {
            only(&map, &["text", "by"])?;
            IncidentCommand::AddNote {
                text: required(&map, "text")?,
                by,
            }
        }
        "updates" => {
            only(&map, &["text", "by", "public"])?;
            let public = match map.get("public") {
                None => false,
                Some(Value::Bool(public)) => *public,
                Some(_) => {
                    return Err(IncidentsError::Invalid(
                        "public: expected true or false".to_string(),
                    ));
                }
            };
            IncidentCommand::StatusUpdate {
                text: required(&map, "text")?,
                by,
                public,
            }
        }
        "resolve" => {
            only(&map, &["by"])?;
            IncidentCommand::Resolve { by }
        }
        "links" => {
            only(&map, &["page", "service", "slo", "by"])?;
            match (
                text(&map, "page")?,
                text(&map, "service")?,
                text(&map, "slo")?,
            ) {
                (Some(page), None, None) => {
                    if state.store.page(&page).await?.is_none() {
                        return Err(IncidentsError::Invalid(format!(
                            "page: no page has id {page:?}"
                        )));
                    }
                    IncidentCommand::LinkPage { page }
                }
                (None, Some(service), None) => {
                    if state.catalog.service(&service).is_none() {
                        return Err(IncidentsError::Invalid(format!(
                            "service: no service has id {service:?}"
                        )));
                    }
                    IncidentCommand::LinkService { service }
                }
                (None, None, Some(slo)) => {
                    if state.catalog.slo(&slo).is_none() {
                        return Err(IncidentsError::Invalid(format!(
                            "slo: no SLO has id {slo:?}"
                        )));
                    }
                    IncidentCommand::LinkSlo { slo }
                }
                _ => {
                    return Err(IncidentsError::Invalid(
                        "give exactly one of page, service and slo".to_string(),
                    ));
                }
            }
        }
        "reopen" => {
            only(&map, &["by", "reason", "after_postmortem"])?;
            let after_postmortem = match map.get("after_postmortem") {
                None => false,
                Some(Value::Bool(flag)) => *flag,
                Some(_) => {
                    return Err(IncidentsError::Invalid(
                        "after_postmortem: expected true or false".to_string(),
                    ));
                }
            };
            IncidentCommand::Reopen {
                by,
                reason: text(&map, "reason")?,
                after_postmortem,
            }
        }
        other => {
            return Err(IncidentsError::Invalid(format!(
                "unknown incident action {other:?}; expected status, severity, roles, notes, updates, links, resolve or reopen"
            )));
        }
    };
    let row = run_command(&state, &id, &command, Timestamp::now(), None).await?;
    Ok(Json(incident_json(&row)))
}

/// `{"summary", "causes": [], "went_well": [], "impact": [], "by", "publish": false}`: a draft
/// from the team's template (or the default), with the blameless check's findings; `publish`
/// marks the (resolved) incident's postmortem published.
async fn postmortem(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, IncidentsError> {
    let map = body_json(body).await?;
    only(
        &map,
        &["summary", "causes", "went_well", "impact", "by", "publish"],
    )?;
    let row = state
        .store
        .incident(&id)
        .await?
        .ok_or_else(|| IncidentsError::NotFound(id.clone()))?;
    let incident = incident_of(&row);
    let entries = timeline_of(&state, &row).await?;
    let items: Vec<ActionItem> = state
        .store
        .action_items(Some(&id))
        .await?
        .iter()
        .filter_map(action_item_of)
        .collect();
    let summary = text(&map, "summary")?.unwrap_or_default();
    let causes = strings(&map, "causes")?;
    let went_well = strings(&map, "went_well")?;
    let input = PostmortemInput {
        incident: &incident,
        rubric: &state.catalog.incidents.rubric,
        summary: &summary,
        impact: strings(&map, "impact")?,
        budget_spent: budget_spent(&state, &row, Timestamp::now()).await,
        timeline: entries,
        time_zone: None,
        causes: causes.clone(),
        went_well,
        action_items: &items,
    };
    let template = state
        .catalog
        .incidents
        .postmortem_template
        .as_deref()
        .unwrap_or(DEFAULT_TEMPLATE);
    // Publishing with no new content publishes the kept draft as it is.
    let new_content = ["summary", "causes", "went_well", "impact"]
        .iter()
        .any(|key| map.contains_key(*key));
    let markdown = match (&row.postmortem, new_content) {
        (Some(kept), false) if matches!(map.get("publish"), Some(Value::Bool(true))) => {
            kept.clone()
        }
        _ => draft(template, &input),
    };
    let mut people: Vec<String> = Vec::new();
    for person in &state.catalog.oncall.directory.people {
        people.push(person.id.clone());
        people.push(person.name.clone());
    }
    let names: Vec<&str> = people.iter().map(String::as_str).collect();
    let findings = blameless::check(&format!("{summary}\n{}", causes.join("\n")), &names);
    let publish = matches!(map.get("publish"), Some(Value::Bool(true)));
    let by = text(&map, "by")?.unwrap_or_else(|| "api".to_string());
    let row = if publish {
        run_command(
            &state,
            &id,
            &IncidentCommand::PublishPostmortem { by },
            Timestamp::now(),
            Some(markdown.clone()),
        )
        .await?
    } else if row.postmortem_published_ms.is_none() {
        // The draft is kept with the incident (no event: nothing happened to the incident); a
        // published postmortem is not overwritten by a later draft.
        let mut kept = row.clone();
        kept.postmortem = Some(markdown.clone());
        kept.version = row.version + 1;
        kept.updated_ms = Timestamp::now().as_millisecond();
        let commit = IncidentCommit {
            incidents: vec![IncidentWrite {
                row: kept.clone(),
                expected_version: Some(row.version),
            }],
            action_items: Vec::new(),
            events: Vec::new(),
        };
        if !state.store.commit_incident(&commit).await? {
            return Err(IncidentsError::Conflict);
        }
        kept
    } else {
        row
    };
    Ok(Json(json!({
        "incident": incident_json(&row),
        "markdown": markdown,
        "blameless": findings.iter().map(|finding| json!({"sentence": finding.sentence, "reason": finding.reason})).collect::<Vec<_>>(),
        "timeline_markdown": render_markdown(&input.timeline, None),
    })))
}

/// `{"title", "owner", "due": "2026-12-01", "priority": "P1"|"P2"|"P3", "by"}`.
async fn add_action_item(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, IncidentsError> {
    let map = body_json(body).await?;
    only(&map, &["title", "owner", "due", "priority", "by"])?;
    let row = state
        .store
        .incident(&id)
        .await?
        .ok_or_else(|| IncidentsError::NotFound(id.clone()))?;
    let owner = text(&map, "owner")?.unwrap_or_default();
    if owner.trim().is_empty() {
        return Err(IncidentsError::Invalid(
            "action item without an owner: give \"owner\"".to_string(),
        ));
    }
    let due = required(&map, "due")?;
    if due.parse::<jiff::civil::Date>().is_err() {
        return Err(IncidentsError::Invalid(format!(
            "due {due:?} is not a date like 2026-12-01"
        )));
    }
    let priority = text(&map, "priority")?.unwrap_or_else(|| "P2".to_string());
    if !["P1", "P2", "P3"].contains(&priority.as_str()) {
        return Err(IncidentsError::Invalid(format!(
            "priority {priority:?} must be P1, P2 or P3"
        )));
    }
    let now_ms = Timestamp::now().as_millisecond();
    let item = ActionItemRow {
        id: new_id("ai"),
        incident_id: row.id.clone(),
        title: required(&map, "title")?,
        owner: owner.trim().to_string(),
        due,
        priority,
        status: "open".to_string(),
        created_ms: now_ms,
        closed_ms: None,
        updated_ms: now_ms,
    };
    write_action_item(
        &state,
        &item,
        "action_item.added",
        &text(&map, "by")?.unwrap_or_else(|| "api".to_string()),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(action_json(&item, today()))).into_response())
}

async fn write_action_item(
    state: &AppState,
    item: &ActionItemRow,
    kind: &str,
    by: &str,
) -> Result<(), IncidentsError> {
    let commit = IncidentCommit {
        incidents: Vec::new(),
        action_items: vec![item.clone()],
        events: vec![EventRow {
            id: 0,
            at_ms: item.updated_ms,
            kind: kind.to_string(),
            slo_id: None,
            actor: by.to_string(),
            payload: json!({"text": format!("{} ({}, due {}, {}): {}", item.title, item.owner, item.due, item.priority, item.status), "action_item": item.id}).to_string(),
            page_id: None,
            incident_id: Some(item.incident_id.clone()),
        }],
    };
    if state.store.commit_incident(&commit).await? {
        Ok(())
    } else {
        Err(IncidentsError::Conflict)
    }
}

/// `{"status": "open"|"done"|"wont_do", "by"}`.
async fn update_action_item(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, IncidentsError> {
    let map = body_json(body).await?;
    only(&map, &["status", "by"])?;
    let mut item = state
        .store
        .action_item(&id)
        .await?
        .ok_or_else(|| IncidentsError::NoActionItem(id.clone()))?;
    let status = required(&map, "status")?;
    if !["open", "done", "wont_do"].contains(&status.as_str()) {
        return Err(IncidentsError::Invalid(format!(
            "status {status:?} must be open, done or wont_do"
        )));
    }
    let now_ms = Timestamp::now().as_millisecond();
    item.closed_ms = (status != "open").then_some(now_ms);
    item.status = status;
    item.updated_ms = now_ms;
    write_action_item(
        &state,
        &item,
        "action_item.status",
        &text(&map, "by")?.unwrap_or_else(|| "api".to_string()),
    )
    .await?;
    Ok(Json(action_json(&item, today())))
}

/// `?overdue=true` lists open items past their due date; `?incident=ID` one incident's.
async fn list_action_items(
    State(state): State<AppState>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Value>, IncidentsError> {
    if let Some(key) = query
        .keys()
        .find(|key| !["overdue", "incident"].contains(&key.as_str()))
    {
        return Err(IncidentsError::Invalid(format!(
            "unknown query parameter {key:?}; expected overdue or incident"
        )));
    }
    let overdue_only = match query.get("overdue").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(IncidentsError::Invalid(format!(
                "overdue {other:?} must be true or false"
            )));
        }
    };
    let items = state
        .store
        .action_items(query.get("incident").map(String::as_str))
        .await?;
    let today = today();
    let listed: Vec<Value> = items
        .iter()
        .map(|item| action_json(item, today))
        .filter(|item| !overdue_only || item["overdue"] == json!(true))
        .collect();
    Ok(Json(json!({"action_items": listed})))
}

/// Incidents and action items as report facts.
pub async fn report_facts(
    state: &AppState,
) -> Result<
    (
        Vec<nines_core::report::IncidentFact>,
        Vec<nines_core::report::ActionFact>,
    ),
    StoreError,
> {
    use nines_core::report::{ActionFact, ActionStatus as FactStatus, IncidentFact};
    let owner = |service: Option<&String>| {
        service
            .and_then(|service| state.catalog.service(service))
            .and_then(|service| service.owner.clone())
    };
    let rows = state
        .store
        .incidents(&IncidentQuery {
            status: None,
            opened_from_ms: None,
            opened_to_ms: None,
            limit: 10_000,
        })
        .await?;
    let mut teams: BTreeMap<String, Option<String>> = BTreeMap::new();
    let incidents = rows
        .iter()
        .map(|row| {
            let services = list(&row.services);
            let team = owner(services.first());
            teams.insert(row.id.clone(), team.clone());
            IncidentFact {
                id: row.id.clone(),
                severity: row.severity.clone(),
                services,
                team,
                opened: time(row.opened_ms),
                resolved: row.resolved_ms.map(time),
            }
        })
        .collect();
    let actions = state
        .store
        .action_items(None)
        .await?
        .iter()
        .filter_map(|item| {
            let services = rows
                .iter()
                .find(|row| row.id == item.incident_id)
                .map(|row| list(&row.services))
                .unwrap_or_default();
            Some(ActionFact {
                id: item.id.clone(),
                service: services.first().cloned(),
                team: teams.get(&item.incident_id).cloned().flatten(),
                created: time(item.created_ms),
                closed: item.closed_ms.map(time),
                status: match item.status.as_str() {
                    "done" => FactStatus::Done,
                    "wont_do" => FactStatus::WontDo,
                    _ => FactStatus::Open,
                },
                due: item.due.parse().ok()?,
            })
        })
        .collect();
    Ok((incidents, actions))
}
