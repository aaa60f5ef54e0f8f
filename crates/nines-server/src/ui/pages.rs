//! The pages of the web UI and the form handler: each page reads the JSON API, shapes what it
//! says into a view and renders its template; each form is checked for its CSRF token and
//! forwarded to the JSON API route of the same name.

use std::collections::{BTreeSet, HashMap};

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::Value;
#[cfg(test)]
use serde_json::json;

use super::csrf::{self, CsrfToken};
use super::format::{self, percent, rate};
use super::{api_call, api_get, encode};
use crate::server::AppState;
use crate::ui::charts;

/// What every page's frame needs: title, the active tab, the CSRF token of its forms, who acts,
/// where forms come back to, and the message of the last form.
#[derive(Clone)]
pub struct Layout {
    pub title: String,
    pub nav: &'static str,
    pub csrf: String,
    pub actor: String,
    pub here: String,
    pub error: Option<String>,
    pub done: Option<String>,
}

struct Frame {
    layout: Layout,
    token: CsrfToken,
}

/// What a page is rendered from besides the server's state: the request's headers (the
/// CSRF and who-acts cookies), its address (where forms come back to) and its query.
pub struct Visit {
    headers: HeaderMap,
    uri: axum::http::Uri,
    query: HashMap<String, String>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Visit {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Visit, Response> {
        let Query(query) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Visit {
            headers: parts.headers.clone(),
            uri: parts.uri.clone(),
            query,
        })
    }
}

fn frame(state: &AppState, visit: &Visit, title: String, nav: &'static str) -> Frame {
    let (headers, uri, query) = (&visit.headers, &visit.uri, &visit.query);
    let token = csrf::token_for(state, headers);
    // The flash parameters are dropped from where forms send the browser back to.
    let here = match uri.query() {
        Some(text) => {
            let kept: Vec<&str> = text
                .split('&')
                .filter(|pair| !pair.starts_with("error=") && !pair.starts_with("done="))
                .collect();
            if kept.is_empty() {
                uri.path().to_string()
            } else {
                format!("{}?{}", uri.path(), kept.join("&"))
            }
        }
        None => uri.path().to_string(),
    };
    Frame {
        layout: Layout {
            title,
            nav,
            csrf: token.token.clone(),
            actor: super::actor(headers),
            here,
            error: query.get("error").cloned(),
            done: query.get("done").cloned(),
        },
        token,
    }
}

fn render<T: Template>(page: &T, token: &CsrfToken) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-store"),
                    (
                        header::CONTENT_SECURITY_POLICY,
                        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
                    ),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                    (header::REFERRER_POLICY, "same-origin"),
                ],
                html,
            )
                .into_response();
            if let Some(cookie) = &token.set_cookie
                && let Ok(value) = HeaderValue::from_str(cookie)
            {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "rendering a page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    message: String,
}

/// A page's read of the JSON API; a failure is answered with the error page, in the
/// page's frame.
async fn read(state: &AppState, frame: &Frame, uri: &str) -> Result<Value, Response> {
    api_get(state, uri)
        .await
        .map_err(|failure| error_page(frame, failure))
}

fn error_page(frame: &Frame, failure: super::ApiFailure) -> Response {
    let status = failure.status;
    let page = ErrorPage {
        layout: frame.layout.clone(),
        status: status.as_u16(),
        message: failure.message,
    };
    let mut response = render(&page, &frame.token);
    *response.status_mut() = status;
    response
}

/// The items of a JSON list, or none.
fn items(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn str_of(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_default().to_string()
}

// ---------------------------------------------------------------------------------------------
// SLO list

pub struct SloRow {
    pub id: String,
    pub href: String,
    pub name: String,
    pub service: String,
    pub owner: String,
    pub objective: String,
    pub window: String,
    pub sli: String,
    pub budget: String,
    pub budget_width: String,
    pub budget_class: &'static str,
    pub burn: String,
    pub state: String,
    pub state_class: &'static str,
    pub labels: String,
    budget_share: f64,
    burn_value: f64,
}

/// Rows on one page of the SLO list.
const SLO_PAGE_ROWS: usize = 200;

#[derive(Template)]
#[template(path = "slos.html")]
struct SloListPage {
    layout: Layout,
    rows: Vec<SloRow>,
    n_all: usize,
    n_matching: usize,
    page_number: usize,
    n_pages: usize,
    previous: String,
    next: String,
    services: Vec<String>,
    teams: Vec<String>,
    service: String,
    team: String,
    label: String,
    alert: String,
    sort_budget: String,
    sort_burn: String,
    sort_name: String,
    sort: String,
}

fn window_text(window: &Value) -> String {
    match window["kind"].as_str() {
        Some("rolling") => format!("{} rolling", format::text(&window["length"])),
        Some("calendar") => format!(
            "calendar {} ({})",
            format::text(&window["unit"]),
            format::text(&window["time_zone"])
        ),
        _ => "–".to_string(),
    }
}

/// The alert state of an SLO in words and a class: the worst of its burn-rate and no-data
/// alerts.
fn alert_state(slo: &Value) -> (String, &'static str) {
    let burn = &slo["alerts"]["burn_rate"];
    let no_data = &slo["alerts"]["no_data"];
    if burn["state"] == "firing" {
        let severity = burn["severity"].as_str().unwrap_or("page");
        return (
            format!("{severity} firing"),
            if severity == "page" { "bad" } else { "warn" },
        );
    }
    if no_data["state"] == "firing" {
        return ("no data".to_string(), "warn");
    }
    if slo["status"].is_null() {
        return ("not evaluated".to_string(), "muted");
    }
    ("ok".to_string(), "ok")
}

fn budget_class(share: f64) -> &'static str {
    if share <= 0.0 {
        "bad"
    } else if share < 0.25 {
        "warn"
    } else {
        "ok"
    }
}

fn slo_row(slo: &Value) -> SloRow {
    let status = &slo["status"];
    let share = status["budget"]["remaining_share"].as_f64();
    let burn = status["current_burn_rate"].as_f64();
    let (state, state_class) = alert_state(slo);
    let labels = slo["labels"]
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    SloRow {
        id: str_of(slo, "id"),
        href: format!("/ui/slos/{}", encode(&str_of(slo, "id"))),
        name: slo["name"]
            .as_str()
            .or_else(|| slo["id"].as_str())
            .unwrap_or_default()
            .to_string(),
        service: str_of(slo, "service"),
        owner: slo["owner"].as_str().unwrap_or("–").to_string(),
        objective: format!("{} %", format::text(&slo["objective_percent"])),
        window: window_text(&slo["window"]),
        sli: percent(status["sli"].as_f64()),
        budget: percent(share),
        budget_width: format!("{:.0}", share.unwrap_or(0.0).clamp(0.0, 1.0) * 100.0),
        budget_class: share.map_or("muted", budget_class),
        burn: rate(burn),
        state,
        state_class,
        labels,
        budget_share: share.unwrap_or(f64::INFINITY),
        burn_value: burn.unwrap_or(f64::NEG_INFINITY),
    }
}

fn label_matches(slo: &Value, filter: &str) -> bool {
    let filter = filter.trim();
    if filter.is_empty() {
        return true;
    }
    let labels = &slo["labels"];
    match filter.split_once('=') {
        Some((key, value)) => labels[key.trim()].as_str() == Some(value.trim()),
        None => labels.get(filter).is_some(),
    }
}

fn sort_url(query: &HashMap<String, String>, sort: &str) -> String {
    // Sorting anew starts at the first page.
    list_url(query, &[("sort", sort), ("page", "")])
}

/// The SLO list with `changes` made to its query (an empty value drops the key).
fn list_url(query: &HashMap<String, String>, changes: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .filter(|(key, _)| {
            !matches!(key.as_str(), "error" | "done")
                && !changes.iter().any(|(changed, _)| changed == key)
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    pairs.sort();
    for (key, value) in changes {
        if !value.is_empty() {
            pairs.push((key.to_string(), value.to_string()));
        }
    }
    let text: Vec<String> = pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect();
    format!("/ui/slos?{}", text.join("&"))
}

pub async fn slo_list(State(state): State<AppState>, visit: Visit) -> Result<Response, Response> {
    let query = &visit.query;
    let frame = frame(&state, &visit, "SLOs".to_string(), "slos");
    let listed = read(&state, &frame, "/api/v1/slos").await?;
    let slos = items(&listed["slos"]);
    let get = |key: &str| query.get(key).cloned().unwrap_or_default();
    let (service, team, label, alert) = (get("service"), get("team"), get("label"), get("alert"));
    let services: BTreeSet<String> = slos.iter().map(|slo| str_of(slo, "service")).collect();
    let teams: BTreeSet<String> = slos
        .iter()
        .filter_map(|slo| slo["owner"].as_str().map(str::to_string))
        .collect();
    let mut rows: Vec<SloRow> = slos
        .iter()
        .filter(|slo| service.is_empty() || slo["service"] == service.as_str())
        .filter(|slo| team.is_empty() || slo["owner"] == team.as_str())
        .filter(|slo| label_matches(slo, &label))
        .filter(|slo| match alert.as_str() {
            "firing" => slo["alerts"]["burn_rate"]["state"] == "firing",
            "ok" => slo["alerts"]["burn_rate"]["state"] != "firing",
            _ => true,
        })
        .map(slo_row)
        .collect();
    let sort = query
        .get("sort")
        .cloned()
        .unwrap_or_else(|| "budget".to_string());
    match sort.as_str() {
        "burn" => rows.sort_by(|a, b| b.burn_value.total_cmp(&a.burn_value)),
        "name" => rows.sort_by(|a, b| a.id.cmp(&b.id)),
        _ => rows.sort_by(|a, b| a.budget_share.total_cmp(&b.budget_share)),
    }
    // A page of the list at a time: thousands of rows help nobody, the worst come first.
    let n_matching = rows.len();
    let n_pages = n_matching.div_ceil(SLO_PAGE_ROWS).max(1);
    let page_number = query
        .get("page")
        .and_then(|text| text.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, n_pages);
    let rows: Vec<SloRow> = rows
        .into_iter()
        .skip((page_number - 1) * SLO_PAGE_ROWS)
        .take(SLO_PAGE_ROWS)
        .collect();
    let page_link = |number: usize| {
        if (1..=n_pages).contains(&number) && number != page_number {
            list_url(query, &[("page", &number.to_string())])
        } else {
            String::new()
        }
    };
    let page = SloListPage {
        previous: page_link(page_number.wrapping_sub(1)),
        next: page_link(page_number + 1),
        page_number,
        n_pages,
        n_matching,
        sort_budget: sort_url(query, "budget"),
        sort_burn: sort_url(query, "burn"),
        sort_name: sort_url(query, "name"),
        sort,
        layout: frame.layout,
        n_all: slos.len(),
        rows,
        services: services.into_iter().collect(),
        teams: teams.into_iter().collect(),
        service,
        team,
        label,
        alert,
    };
    Ok(render(&page, &frame.token))
}

// ---------------------------------------------------------------------------------------------
// One SLO

pub struct ChartView {
    pub title: String,
    pub note: String,
    pub svg: String,
}

pub struct LinkRow {
    pub href: String,
    pub text: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "slo.html")]
struct SloPage {
    layout: Layout,
    row: SloRow,
    journey: String,
    budgeting: String,
    consumed: String,
    exhaustion: String,
    evaluated: String,
    runbook: String,
    no_data: String,
    burn_down: String,
    window_note: String,
    ranges: Vec<(String, String, bool)>,
    burn_rates: Vec<ChartView>,
    signals: Vec<ChartView>,
    signal_problems: Vec<String>,
    incidents: Vec<LinkRow>,
    alert_events: Vec<LinkRow>,
}

const RANGES: [(&str, i64); 5] = [
    ("1h", 3600),
    ("6h", 6 * 3600),
    ("1d", 86_400),
    ("3d", 3 * 86_400),
    ("7d", 7 * 86_400),
];

/// Every alert event of an SLO from `from_ms` on, oldest first.
async fn slo_events(state: &AppState, id: &str, from_ms: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0i64;
    for _ in 0..20 {
        let uri = format!("/api/v1/events?slo={}&after={after}&limit=1000", encode(id));
        let Ok(answer) = api_get(state, &uri).await else {
            break;
        };
        let events = answer["events"].as_array().cloned().unwrap_or_default();
        let n = events.len();
        for event in events {
            after = event["id"].as_i64().unwrap_or(after);
            if format::millis(&event["at"]).is_some_and(|at| at >= from_ms) {
                out.push(event);
            }
        }
        if n < 1000 {
            break;
        }
    }
    out
}

fn alert_markers(events: &[Value], severity: Option<&str>) -> Vec<charts::Marker> {
    events
        .iter()
        // On a pair's chart only burn-rate alerts of its severity; the no-data alert too on
        // the window's chart.
        .filter(|event| {
            severity.is_none_or(|severity| {
                event["payload"]["severity"].as_str() == Some(severity)
                    && event["payload"]["alert"] == "burn_rate"
            })
        })
        .filter_map(|event| {
            let at_ms = format::millis(&event["at"])?;
            let payload = &event["payload"];
            let kind = match payload["change"].as_str()? {
                "fired" => charts::MarkerKind::AlertFired,
                "resolved" => charts::MarkerKind::AlertResolved,
                _ => return None,
            };
            Some(charts::Marker {
                at_ms,
                until_ms: None,
                kind,
                label: format!(
                    "{} {} {}",
                    payload["alert"].as_str().unwrap_or("alert"),
                    payload["severity"].as_str().unwrap_or(""),
                    payload["change"].as_str().unwrap_or("")
                ),
            })
        })
        .collect()
}

fn incident_markers(incidents: &[Value]) -> Vec<charts::Marker> {
    incidents
        .iter()
        .filter_map(|incident| {
            Some(charts::Marker {
                at_ms: format::millis(&incident["opened"])?,
                until_ms: format::millis(&incident["resolved"]),
                kind: charts::MarkerKind::Incident,
                label: format!(
                    "{} {}: {}",
                    str_of(incident, "id"),
                    str_of(incident, "severity"),
                    str_of(incident, "title")
                ),
            })
        })
        .collect()
}

fn points(values: &Value) -> Vec<charts::Point> {
    values
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|pair| {
                    Some(charts::Point {
                        at_ms: pair[0].as_i64()?,
                        value: pair[1].as_f64().unwrap_or(f64::NAN),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn exhaustion_text(status: &Value) -> String {
    match status["exhaustion"].as_str() {
        Some("exhausted") => "exhausted".to_string(),
        Some("in") => format!(
            "in {} at the current burn rate",
            format::duration(status["time_to_exhaustion_seconds"].as_i64().unwrap_or(0))
        ),
        Some("after_period_end") => "not before the period ends".to_string(),
        Some("not_burning") => "not burning".to_string(),
        _ => "–".to_string(),
    }
}

pub async fn slo_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    visit: Visit,
) -> Result<Response, Response> {
    let query = &visit.query;
    let frame = frame(&state, &visit, format!("SLO {id}"), "slos");
    let slo = read(&state, &frame, &format!("/api/v1/slos/{}", encode(&id))).await?;
    let now = Timestamp::now();
    let now_ms = now.as_millisecond();
    let range_name = query.get("range").map(String::as_str).unwrap_or("6h");
    let range_seconds = RANGES
        .iter()
        .find(|(name, _)| *name == range_name)
        .map_or(6 * 3600, |(_, seconds)| *seconds);
    let from_ms = now_ms - range_seconds * 1000;

    // The budget over the window, as it was spent from the window's start to now.
    let spent = api_get(&state, &format!("/api/v1/slos/{}/burn-down", encode(&id)))
        .await
        .unwrap_or(Value::Null);
    let window_from = format::millis(&spent["window_start"]).unwrap_or(now_ms - 86_400_000);
    // A calendar window's chart runs to the period's end, where steady spending reaches zero.
    let window_to = format::millis(&spent["window_end"])
        .unwrap_or(now_ms)
        .max(now_ms);
    let budget_points = points(&spent["points"]);
    let status = &slo["status"];
    let events = slo_events(&state, &id, window_from).await;
    let service = str_of(&slo, "service");
    let incidents: Vec<Value> = api_get(&state, "/api/v1/incidents")
        .await
        .map(|answer| answer["incidents"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default()
        .into_iter()
        .filter(|incident| {
            let has = |key: &str, value: &str| {
                incident[key]
                    .as_array()
                    .is_some_and(|list| list.iter().any(|item| item == value))
            };
            has("slos", &id) || has("services", &service)
        })
        .collect();
    let mut window_markers = alert_markers(&events, None);
    window_markers.extend(incident_markers(&incidents));
    let burn_down = charts::burn_down(&charts::BurnDown {
        from_ms: window_from,
        to_ms: window_to,
        points: budget_points,
        markers: window_markers,
    });

    // The burn rate of every alert pair over the chosen range.
    let burn = api_get(
        &state,
        &format!(
            "/api/v1/slos/{}/burn-rates?from={}&to={}",
            encode(&id),
            encode(
                &Timestamp::from_millisecond(from_ms)
                    .unwrap_or(now)
                    .to_string()
            ),
            encode(&now.to_string())
        ),
    )
    .await
    .unwrap_or(Value::Null);
    let burn_rates: Vec<ChartView> = items(&burn["pairs"])
        .iter()
        .map(|pair| {
            let severity = str_of(pair, "severity");
            let (long, short) = (str_of(pair, "long_window"), str_of(pair, "short_window"));
            let threshold = pair["threshold"].as_f64().unwrap_or(f64::NAN);
            let mut markers = alert_markers(&events, Some(&severity));
            markers.extend(incident_markers(&incidents));
            let svg = charts::burn_rate(&charts::BurnRate {
                from_ms,
                to_ms: now_ms,
                severity: severity.clone(),
                long: charts::Series {
                    label: long.clone(),
                    points: points(&pair["long"]),
                },
                short: charts::Series {
                    label: short.clone(),
                    points: points(&pair["short"]),
                },
                threshold,
                markers,
            });
            ChartView {
                title: format!("{severity}: {long} and {short} windows"),
                note: format!(
                    "fires when both burn faster than {} ({} of the budget in {long})",
                    rate(Some(threshold)),
                    percent(pair["budget_share"].as_f64())
                ),
                svg,
            }
        })
        .collect();

    let golden = crate::ui::signals::golden_signals(
        &state,
        &service,
        Timestamp::from_millisecond(from_ms).unwrap_or(now),
        now,
    )
    .await;
    let signal_markers = incident_markers(&incidents);
    let signals: Vec<ChartView> = golden
        .signals
        .iter()
        .map(|signal| {
            let unit = match signal.unit {
                "per_second" => charts::Unit::PerSecond,
                "seconds" => charts::Unit::Seconds,
                "ratio" => charts::Unit::Ratio,
                _ => charts::Unit::Plain,
            };
            ChartView {
                title: signal.name.to_string(),
                note: signal.origin.clone(),
                svg: charts::line_chart(&charts::LineChart {
                    title: signal.name.to_string(),
                    unit,
                    from_ms,
                    to_ms: now_ms,
                    series: signal
                        .series
                        .iter()
                        .map(|(label, values)| charts::Series {
                            label: label.clone(),
                            points: values
                                .iter()
                                .map(|(at_ms, value)| charts::Point {
                                    at_ms: *at_ms,
                                    value: *value,
                                })
                                .collect(),
                        })
                        .collect(),
                    markers: signal_markers.clone(),
                }),
            }
        })
        .collect();

    let alert_events: Vec<LinkRow> = events
        .iter()
        .rev()
        .take(10)
        .map(|event| {
            let payload = &event["payload"];
            LinkRow {
                href: String::new(),
                text: format!(
                    "{} {} {}",
                    payload["alert"].as_str().unwrap_or("alert"),
                    payload["severity"].as_str().unwrap_or(""),
                    payload["change"].as_str().unwrap_or("")
                ),
                note: format!(
                    "{} · budget left {}",
                    format::when_value(&event["at"]),
                    percent(payload["budget_remaining_share"].as_f64())
                ),
            }
        })
        .collect();
    let consumed = match status["budget"]["unit"].as_str() {
        Some(unit) => format!(
            "{} of {} {unit} spent",
            format::amount(status["budget"]["consumed"].as_f64()),
            format::amount(status["budget"]["allowed"].as_f64())
        ),
        None => "–".to_string(),
    };
    let page = SloPage {
        row: slo_row(&slo),
        journey: slo["journey"].as_str().unwrap_or_default().to_string(),
        budgeting: str_of(&slo, "budgeting"),
        consumed,
        exhaustion: exhaustion_text(status),
        evaluated: format::when_value(&status["evaluated_at"]),
        runbook: format::web_link(slo["runbook"].as_str().unwrap_or_default()),
        no_data: format::text(&slo["alerts"]["no_data"]["state"]),
        burn_down,
        window_note: format!(
            "{} to now{}",
            format::when(
                &Timestamp::from_millisecond(window_from)
                    .unwrap_or(now)
                    .to_string()
            ),
            if status["partial_window"] == true {
                " (nines has data for part of the window only)"
            } else {
                ""
            }
        ),
        ranges: RANGES
            .iter()
            .map(|(name, _)| {
                (
                    name.to_string(),
                    format!("/ui/slos/{}?range={name}", encode(&id)),
                    *name == range_name,
                )
            })
            .collect(),
        burn_rates,
        signals,
        signal_problems: golden.problems,
        incidents: incidents
            .iter()
            .map(|incident| LinkRow {
                href: format!("/ui/incidents/{}", encode(&str_of(incident, "id"))),
                text: format!(
                    "{} {}",
                    str_of(incident, "severity"),
                    str_of(incident, "title")
                ),
                note: format!(
                    "{} · opened {}",
                    str_of(incident, "status"),
                    format::when_value(&incident["opened"])
                ),
            })
            .collect(),
        alert_events,
        layout: frame.layout,
    };
    Ok(render(&page, &frame.token))
}

// ---------------------------------------------------------------------------------------------
// Pages (alerts that page people)

pub struct PageRow {
    pub id: String,
    created_sort: String,
    pub status: String,
    pub summary: String,
    pub severity: String,
    pub service: String,
    pub policy: String,
    pub created: String,
    pub age: String,
    pub who: String,
    pub runbook: String,
    pub actions: Vec<(&'static str, &'static str)>,
}

fn page_row(page: &Value, now: Timestamp) -> PageRow {
    let status = str_of(page, "status");
    let actions = match status.as_str() {
        "triggered" => vec![("acknowledge", "Acknowledge"), ("resolve", "Resolve")],
        "acknowledged" => vec![("unacknowledge", "Unacknowledge"), ("resolve", "Resolve")],
        _ => Vec::new(),
    };
    let who = match status.as_str() {
        "acknowledged" => format!(
            "by {} {}",
            format::text(&page["acknowledged_by"]),
            format::relative(page["acknowledged"].as_str().unwrap_or_default(), now)
        ),
        "resolved" => format!(
            "by {} {}",
            format::text(&page["resolved_by"]),
            format::relative(page["resolved"].as_str().unwrap_or_default(), now)
        ),
        _ => match page["next_escalation"].as_str() {
            Some(next) => format!("escalates {}", format::relative(next, now)),
            None => String::new(),
        },
    };
    PageRow {
        id: str_of(page, "id"),
        created_sort: str_of(page, "created"),
        summary: str_of(page, "summary"),
        severity: str_of(page, "severity"),
        service: page["service"].as_str().unwrap_or("–").to_string(),
        policy: page["policy"].as_str().unwrap_or("–").to_string(),
        created: format::when_value(&page["created"]),
        age: format::relative(page["created"].as_str().unwrap_or_default(), now),
        who,
        runbook: format::web_link(page["runbook"].as_str().unwrap_or_default()),
        status,
        actions,
    }
}

/// An SLO alert firing now.
pub struct AlertRow {
    pub slo: String,
    pub href: String,
    pub alert: String,
    pub severity: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "pages.html")]
struct PageListPage {
    layout: Layout,
    alerts: Vec<AlertRow>,
    rows: Vec<PageRow>,
    show: String,
    n_open: usize,
}

pub async fn page_list(State(state): State<AppState>, visit: Visit) -> Result<Response, Response> {
    let query = &visit.query;
    let frame = frame(&state, &visit, "Pages".to_string(), "pages");
    let now = Timestamp::now();
    let show = query
        .get("show")
        .cloned()
        .unwrap_or_else(|| "open".to_string());
    // Open pages are asked for by state, so no number of resolved ones hides one.
    let mut open: Vec<PageRow> = Vec::new();
    for status in ["triggered", "acknowledged"] {
        let listed = read(
            &state,
            &frame,
            &format!("/api/v1/pages?status={status}&limit=1000"),
        )
        .await?;
        open.extend(
            items(&listed["pages"])
                .iter()
                .map(|page| page_row(page, now)),
        );
    }
    let n_open = open.len();
    let rows = if show == "all" {
        let listed = read(&state, &frame, "/api/v1/pages?limit=500").await?;
        items(&listed["pages"])
            .iter()
            .map(|page| page_row(page, now))
            .collect()
    } else {
        open.sort_by(|a, b| b.created_sort.cmp(&a.created_sort));
        open
    };
    let firing = read(&state, &frame, "/api/v1/alerts").await?;
    let alerts = items(&firing["alerts"])
        .iter()
        .map(|alert| AlertRow {
            href: format!("/ui/slos/{}", encode(&str_of(alert, "slo"))),
            slo: str_of(alert, "slo"),
            alert: str_of(alert, "alert").replace('_', " "),
            severity: str_of(alert, "severity"),
            since: format!(
                "{} ({})",
                format::when_value(&alert["since"]),
                format::relative(alert["since"].as_str().unwrap_or_default(), now)
            ),
        })
        .collect();
    let page = PageListPage {
        layout: frame.layout,
        alerts,
        rows,
        show,
        n_open,
    };
    Ok(render(&page, &frame.token))
}

pub struct TimelineRow {
    pub at: String,
    pub kind: String,
    pub actor: String,
    pub text: String,
    /// A status update that went to the status page.
    pub public: bool,
}

#[derive(Template)]
#[template(path = "page.html")]
struct PageDetailPage {
    layout: Layout,
    row: PageRow,
    alerts: Vec<TimelineRow>,
    timeline: Vec<TimelineRow>,
}

pub async fn page_detail(
    State(state): State<AppState>,
    Path(id): Path<String>,
    visit: Visit,
) -> Result<Response, Response> {
    let frame = frame(&state, &visit, format!("Page {id}"), "pages");
    let page = read(&state, &frame, &format!("/api/v1/pages/{}", encode(&id))).await?;
    let now = Timestamp::now();
    let alerts = items(&page["alerts"])
        .iter()
        .map(|alert| TimelineRow {
            at: format::when_value(&alert["starts"]),
            kind: str_of(alert, "status"),
            actor: str_of(alert, "source"),
            public: false,
            text: format!(
                "{} {}",
                str_of(alert, "summary"),
                alert["labels"]
                    .as_object()
                    .map(|map| map
                        .iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join(" "))
                    .unwrap_or_default()
            ),
        })
        .collect();
    let timeline = items(&page["timeline"])
        .iter()
        .map(|event| TimelineRow {
            at: format::when_value(&event["at"]),
            kind: str_of(event, "kind"),
            actor: event["actor"].as_str().unwrap_or_default().to_string(),
            text: event_text(&event["detail"]),
            public: false,
        })
        .collect();
    let view = PageDetailPage {
        row: page_row(&page, now),
        alerts,
        timeline,
        layout: frame.layout,
    };
    Ok(render(&view, &frame.token))
}

/// A one-line reading of an event's detail object.
fn event_text(detail: &Value) -> String {
    match detail {
        Value::Object(map) => map
            .iter()
            .filter(|(_, value)| !value.is_null() && !value.is_object() && !value.is_array())
            .map(|(key, value)| format!("{key}: {}", format::text(value)))
            .collect::<Vec<_>>()
            .join(" · "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// On-call

pub struct ShiftView {
    pub who: String,
    pub span: String,
    pub is_override: bool,
}

pub struct DayView {
    pub date: String,
    pub weekday: String,
    pub today: bool,
    pub shifts: Vec<ShiftView>,
}

pub struct ScheduleView {
    pub id: String,
    pub time_zone: String,
    pub now: String,
    pub now_until: String,
    pub next: String,
    pub next_from: String,
    pub days: Vec<DayView>,
    pub overrides: Vec<String>,
    pub gaps: Vec<String>,
    pub health: Vec<String>,
    pub ical: String,
}

#[derive(Template)]
#[template(path = "oncall.html")]
struct OnCallPage {
    layout: Layout,
    schedules: Vec<ScheduleView>,
}

fn person_text(shift: &Value) -> String {
    shift["name"]
        .as_str()
        .or_else(|| shift["person"].as_str())
        .unwrap_or("–")
        .to_string()
}

pub async fn oncall(State(state): State<AppState>, visit: Visit) -> Result<Response, Response> {
    let frame = frame(&state, &visit, "On-call".to_string(), "oncall");
    let current = read(&state, &frame, "/api/v1/oncall").await?;
    let now = Timestamp::now();
    let mut schedules = Vec::new();
    for schedule in items(&current["schedules"]) {
        let id = str_of(schedule, "id");
        let zone = jiff::tz::TimeZone::get(schedule["time_zone"].as_str().unwrap_or("UTC"))
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let today = now.to_zoned(zone.clone()).date();
        let start = today
            .to_zoned(zone.clone())
            .map(|zoned| zoned.timestamp())
            .unwrap_or(now);
        let end = today
            .checked_add(jiff::Span::new().days(14))
            .ok()
            .and_then(|date| date.to_zoned(zone.clone()).ok())
            .map(|zoned| zoned.timestamp())
            .unwrap_or(now);
        let detail = api_get(
            &state,
            &format!(
                "/api/v1/schedules/{}?from={}&to={}",
                encode(&id),
                encode(&start.to_string()),
                encode(&end.to_string())
            ),
        )
        .await
        .unwrap_or(Value::Null);
        let shifts = items(&detail["shifts"]);
        let local = |text: &str| -> Option<jiff::Zoned> {
            text.parse::<Timestamp>()
                .ok()
                .map(|at| at.to_zoned(zone.clone()))
        };
        let mut days = Vec::new();
        for offset in 0..14 {
            let Ok(date) = today.checked_add(jiff::Span::new().days(offset)) else {
                continue;
            };
            let (Ok(day_start), Ok(day_end)) = (
                date.to_zoned(zone.clone()),
                date.tomorrow()
                    .map_err(|_| ())
                    .and_then(|next| next.to_zoned(zone.clone()).map_err(|_| ())),
            ) else {
                continue;
            };
            let mut views = Vec::new();
            for shift in shifts {
                let (Some(starts), Some(ends)) = (
                    local(shift["start"].as_str().unwrap_or_default()),
                    local(shift["end"].as_str().unwrap_or_default()),
                ) else {
                    continue;
                };
                if ends <= day_start || starts >= day_end {
                    continue;
                }
                let from = if starts > day_start {
                    starts.strftime("%H:%M").to_string()
                } else {
                    "00:00".to_string()
                };
                let to = if ends < day_end {
                    ends.strftime("%H:%M").to_string()
                } else {
                    "24:00".to_string()
                };
                views.push(ShiftView {
                    who: person_text(shift),
                    span: format!("{from}–{to}"),
                    is_override: shift["override"] == true,
                });
            }
            days.push(DayView {
                date: date.strftime("%b %-d").to_string(),
                weekday: date.strftime("%a").to_string(),
                today: offset == 0,
                shifts: views,
            });
        }
        let overrides = shifts
            .iter()
            .filter(|shift| shift["override"] == true)
            .map(|shift| {
                format!(
                    "{} from {} to {}",
                    person_text(shift),
                    format::when_value(&shift["start"]),
                    format::when_value(&shift["end"])
                )
            })
            .collect();
        let gaps = items(&detail["gaps"])
            .iter()
            .map(|gap| {
                format!(
                    "nobody from {} to {}",
                    format::when_value(&gap["start"]),
                    format::when_value(&gap["end"])
                )
            })
            .collect();
        let health = items(&detail["health"]).iter().map(format::text).collect();
        let (now_who, now_until) = match &schedule["now"] {
            Value::Null => ("nobody".to_string(), String::new()),
            shift => (
                person_text(shift),
                format!("until {}", format::when_value(&shift["end"])),
            ),
        };
        let (next_who, next_from) = match &schedule["next"] {
            Value::Null => ("–".to_string(), String::new()),
            shift => (
                person_text(shift),
                format!(
                    "from {} ({})",
                    format::when_value(&shift["start"]),
                    format::relative(shift["start"].as_str().unwrap_or_default(), now)
                ),
            ),
        };
        schedules.push(ScheduleView {
            ical: format!("/api/v1/schedules/{}/calendar.ics", encode(&id)),
            id,
            time_zone: schedule["time_zone"].as_str().unwrap_or("UTC").to_string(),
            now: now_who,
            now_until,
            next: next_who,
            next_from,
            days,
            overrides,
            gaps,
            health,
        });
    }
    let page = OnCallPage {
        layout: frame.layout,
        schedules,
    };
    Ok(render(&page, &frame.token))
}

// ---------------------------------------------------------------------------------------------
// Incidents

pub struct IncidentRow {
    pub id: String,
    pub title: String,
    pub severity: String,
    pub status: String,
    pub opened: String,
    pub duration: String,
    pub services: String,
    pub commander: String,
}

fn incident_row(incident: &Value, now: Timestamp) -> IncidentRow {
    let opened = format::millis(&incident["opened"]).unwrap_or(now.as_millisecond());
    let until = format::millis(&incident["resolved"]).unwrap_or(now.as_millisecond());
    let list = |key: &str| {
        incident[key]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    IncidentRow {
        id: str_of(incident, "id"),
        title: str_of(incident, "title"),
        severity: str_of(incident, "severity"),
        status: str_of(incident, "status"),
        opened: format::when_value(&incident["opened"]),
        duration: format::duration((until - opened) / 1000),
        services: list("services"),
        commander: incident["roles"]["commander"]
            .as_str()
            .unwrap_or("–")
            .to_string(),
    }
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentListPage {
    layout: Layout,
    rows: Vec<IncidentRow>,
    severities: Vec<(String, String)>,
    services: Vec<String>,
}

fn severities(state: &AppState) -> Vec<(String, String)> {
    state
        .catalog
        .incidents
        .rubric
        .levels
        .iter()
        .map(|level| (level.id.clone(), format!("{} – {}", level.id, level.name)))
        .collect()
}

pub async fn incident_list(
    State(state): State<AppState>,
    visit: Visit,
) -> Result<Response, Response> {
    let frame = frame(&state, &visit, "Incidents".to_string(), "incidents");
    let listed = read(&state, &frame, "/api/v1/incidents").await?;
    let now = Timestamp::now();
    let rows = items(&listed["incidents"])
        .iter()
        .map(|incident| incident_row(incident, now))
        .collect();
    let page = IncidentListPage {
        layout: frame.layout,
        rows,
        severities: severities(&state),
        services: state
            .catalog
            .services
            .iter()
            .map(|service| service.id.clone())
            .collect(),
    };
    Ok(render(&page, &frame.token))
}

pub struct ActionView {
    pub id: String,
    pub title: String,
    pub owner: String,
    pub due: String,
    pub priority: String,
    pub status: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    layout: Layout,
    row: IncidentRow,
    resolved: bool,
    roles: Vec<(String, String)>,
    slos: Vec<String>,
    pages: Vec<String>,
    updates: Vec<TimelineRow>,
    timeline: Vec<TimelineRow>,
    actions: Vec<ActionView>,
    postmortem: String,
    postmortem_published: String,
    budget_spent: Vec<(String, String)>,
    severities: Vec<(String, String)>,
    statuses: Vec<&'static str>,
    role_names: Vec<&'static str>,
    people: Vec<(String, String)>,
    act: String,
}

pub async fn incident_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    visit: Visit,
) -> Result<Response, Response> {
    let frame = frame(&state, &visit, format!("Incident {id}"), "incidents");
    let incident = read(
        &state,
        &frame,
        &format!("/api/v1/incidents/{}", encode(&id)),
    )
    .await?;
    let now = Timestamp::now();
    let timeline_all = items(&incident["timeline"]);
    let timeline_row = |entry: &Value| TimelineRow {
        at: format::when_value(&entry["at"]),
        kind: str_of(entry, "kind"),
        actor: entry["actor"].as_str().unwrap_or_default().to_string(),
        text: str_of(entry, "text"),
        public: entry["public"] == true,
    };
    let updates = timeline_all
        .iter()
        .filter(|entry| entry["kind"] == "incident.update")
        .map(timeline_row)
        .collect();
    let roles = incident["roles"]
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(role, person)| (role.clone(), format::text(person)))
                .collect()
        })
        .unwrap_or_default();
    let strings = |key: &str| -> Vec<String> {
        incident[key]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let actions = items(&incident["action_items"])
        .iter()
        .map(|item| ActionView {
            id: str_of(item, "id"),
            title: str_of(item, "title"),
            owner: item["owner"].as_str().unwrap_or("–").to_string(),
            due: format::text(&item["due"]),
            priority: str_of(item, "priority"),
            status: str_of(item, "status"),
            overdue: item["overdue"] == true,
        })
        .collect();
    let budget_spent = items(&incident["budget_spent"])
        .iter()
        .map(|spent| (str_of(spent, "slo"), percent(spent["share"].as_f64())))
        .collect();
    let people = state
        .catalog
        .oncall
        .directory
        .people
        .iter()
        .map(|person| (person.id.clone(), person.name.clone()))
        .collect();
    let page = IncidentPage {
        row: incident_row(&incident, now),
        resolved: incident["status"] == "resolved",
        roles,
        slos: strings("slos"),
        pages: strings("pages"),
        updates,
        timeline: timeline_all.iter().map(timeline_row).collect(),
        actions,
        postmortem: incident["postmortem"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        postmortem_published: match incident["postmortem_published"].as_str() {
            Some(at) => format!("published {}", format::when(at)),
            None => String::new(),
        },
        budget_spent,
        severities: severities(&state),
        statuses: vec!["investigating", "identified", "monitoring"],
        role_names: vec!["commander", "resolver-lead", "communications", "scribe"],
        people,
        act: format!("/ui/act/incidents/{}", encode(&id)),
        layout: frame.layout,
    };
    Ok(render(&page, &frame.token))
}

// ---------------------------------------------------------------------------------------------
// Reports

pub struct Figure {
    pub label: String,
    pub value: String,
}

pub struct Section {
    pub title: String,
    pub figures: Vec<Figure>,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportPage {
    layout: Layout,
    from: String,
    to: String,
    team: String,
    service: String,
    teams: Vec<String>,
    services: Vec<String>,
    sections: Vec<Section>,
    slos: Vec<(String, String, String, String, &'static str)>,
    failure: String,
}

fn stats_text(stats: &Value) -> String {
    if stats.is_null() || stats["count"].as_u64() == Some(0) {
        return "–".to_string();
    }
    let seconds = |key: &str| {
        stats[key]
            .as_f64()
            .map(|value| format::duration(value.round() as i64))
            .unwrap_or_else(|| "–".to_string())
    };
    format!(
        "mean {} · median {} · p90 {} ({} in all)",
        seconds("mean_seconds"),
        seconds("median_seconds"),
        seconds("p90_seconds"),
        format::text(&stats["count"])
    )
}

fn share_text(share: &Value) -> String {
    match (share["count"].as_u64(), share["out_of"].as_u64()) {
        (Some(count), Some(of)) => {
            format!("{count} of {of} ({})", percent(share["share"].as_f64()))
        }
        _ => format::text(share),
    }
}

fn report_sections(report: &Value) -> Vec<Section> {
    let figure = |label: &str, value: String| Figure {
        label: label.to_string(),
        value,
    };
    let incidents = &report["incidents"];
    let pages = &report["pages"];
    let on_call = &report["on_call"];
    let actions = &report["action_items"];
    let by_severity = incidents["by_severity"]
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(severity, count)| format!("{severity}: {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    vec![
        Section {
            title: "Incidents".to_string(),
            figures: vec![
                figure(
                    "opened",
                    format!("{} {by_severity}", format::text(&incidents["opened"])),
                ),
                figure(
                    "time to resolve (MTTR)",
                    stats_text(&incidents["time_to_resolve"]),
                ),
                figure(
                    "time between incidents (MTBI)",
                    match &incidents["time_between"] {
                        Value::Null => "–".to_string(),
                        gaps => format!(
                            "mean {} · median {}",
                            format::duration(gaps["mean_seconds"].as_f64().unwrap_or(0.0) as i64),
                            format::duration(gaps["median_seconds"].as_f64().unwrap_or(0.0) as i64)
                        ),
                    },
                ),
            ],
        },
        Section {
            title: "Pages".to_string(),
            figures: vec![
                figure("created", format::text(&pages["created"])),
                figure(
                    "time to acknowledge (MTTA)",
                    stats_text(&pages["time_to_acknowledge"]),
                ),
                figure("time to resolve", stats_text(&pages["time_to_resolve"])),
                figure(
                    "outside business hours",
                    share_text(&pages["outside_business_hours"]),
                ),
                figure("in sleep hours", share_text(&pages["sleep_hours"])),
                figure("not actionable", share_text(&pages["non_actionable"])),
            ],
        },
        Section {
            title: "On-call".to_string(),
            figures: vec![
                figure("shifts", format::text(&on_call["shifts"])),
                figure(
                    "pages per shift",
                    format!(
                        "mean {} · max {}",
                        on_call["pages_per_shift_mean"]
                            .as_f64()
                            .map_or("–".to_string(), |mean| format!("{mean:.1}")),
                        format::text(&on_call["pages_per_shift_max"])
                    ),
                ),
                figure(
                    "quiet on-call time",
                    format!(
                        "{} of {} ({})",
                        format::duration(on_call["quiet_seconds"].as_i64().unwrap_or(0)),
                        format::duration(on_call["on_call_seconds"].as_i64().unwrap_or(0)),
                        percent(on_call["quiet_share"].as_f64())
                    ),
                ),
            ],
        },
        Section {
            title: "Action items".to_string(),
            figures: vec![
                figure(
                    "done · open · won't do",
                    format!(
                        "{} · {} · {}",
                        format::text(&actions["done"]),
                        format::text(&actions["open"]),
                        format::text(&actions["wont_do"])
                    ),
                ),
                figure(
                    "completion rate",
                    percent(actions["completion_rate"].as_f64()),
                ),
                figure(
                    "open for (mean · max)",
                    format!(
                        "{} · {} days",
                        actions["open_age_mean_days"]
                            .as_f64()
                            .map_or("–".to_string(), |days| format!("{days:.1}")),
                        format::text(&actions["open_age_max_days"])
                    ),
                ),
            ],
        },
    ]
}

pub async fn reports(State(state): State<AppState>, visit: Visit) -> Result<Response, Response> {
    let query = &visit.query;
    let frame = frame(&state, &visit, "Reports".to_string(), "reports");
    let today = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let default_from = today
        .checked_sub(jiff::Span::new().days(30))
        .unwrap_or(today);
    let get = |key: &str, default: String| {
        query
            .get(key)
            .filter(|value| !value.trim().is_empty())
            .cloned()
            .unwrap_or(default)
    };
    let from = get("from", default_from.to_string());
    let to = get(
        "to",
        today
            .tomorrow()
            .map(|date| date.to_string())
            .unwrap_or_default(),
    );
    let team = get("team", String::new());
    let service = get("service", String::new());
    let mut api = format!("/api/v1/reports?from={}&to={}", encode(&from), encode(&to));
    if !team.is_empty() {
        api.push_str(&format!("&team={}", encode(&team)));
    } else if !service.is_empty() {
        api.push_str(&format!("&service={}", encode(&service)));
    }
    let (sections, slos, failure) = match api_get(&state, &api).await {
        Ok(report) => {
            let slos = items(&report["slos"]["slos"])
                .iter()
                .map(|line| {
                    (
                        str_of(line, "id"),
                        percent(line["objective"].as_f64()),
                        percent(line["attainment"].as_f64()),
                        percent(line["budget_remaining_share"].as_f64()),
                        match line["meets_objective"].as_bool() {
                            Some(true) => "yes",
                            Some(false) => "no",
                            None => "no data",
                        },
                    )
                })
                .collect();
            (report_sections(&report), slos, String::new())
        }
        Err(failure) => (Vec::new(), Vec::new(), failure.message),
    };
    let page = ReportPage {
        layout: frame.layout,
        from,
        to,
        team,
        service,
        teams: state
            .catalog
            .oncall
            .directory
            .teams
            .iter()
            .map(|team| team.id.clone())
            .collect(),
        services: state
            .catalog
            .services
            .iter()
            .map(|service| service.id.clone())
            .collect(),
        sections,
        slos,
        failure,
    };
    Ok(render(&page, &frame.token))
}

// ---------------------------------------------------------------------------------------------
// Forms

/// Fields whose checkbox or text means true or false in the API.
const FLAGS: [&str; 3] = ["public", "after_postmortem", "publish"];
/// Fields whose textarea lines are a list in the API.
const LISTS: [&str; 6] = ["causes", "went_well", "impact", "services", "slos", "pages"];

/// The API route a form may reach, as `/api/v1/...`, or why not.
fn api_route(path: &str) -> Result<String, String> {
    let parts: Vec<&str> = path.split('/').collect();
    let allowed = match parts.as_slice() {
        ["pages", id, action] => {
            !id.is_empty() && ["acknowledge", "unacknowledge", "resolve"].contains(action)
        }
        ["incidents"] => true,
        ["incidents", id, action] => {
            !id.is_empty()
                && [
                    "status",
                    "severity",
                    "roles",
                    "notes",
                    "updates",
                    "resolve",
                    "reopen",
                    "links",
                    "postmortem",
                    "action-items",
                ]
                .contains(action)
        }
        ["action-items", id] => !id.is_empty(),
        _ => false,
    };
    if allowed {
        let encoded: Vec<String> = parts.iter().map(|part| encode(part)).collect();
        Ok(format!("/api/v1/{}", encoded.join("/")))
    } else {
        Err(format!("the UI has no form for {path:?}"))
    }
}

/// The JSON body of a form: its fields but `csrf` and `back`, empty ones left out, flags as
/// booleans and lists split by lines; `by` is who acts from this browser.
fn form_body(fields: &[(String, String)], actor: &str) -> Value {
    let mut body = serde_json::Map::new();
    for (key, value) in fields {
        // `action` names the button pressed; the route already says what it does.
        if matches!(key.as_str(), "csrf" | "back" | "action") {
            continue;
        }
        let trimmed = value.trim();
        if FLAGS.contains(&key.as_str()) {
            body.insert(
                key.clone(),
                Value::Bool(matches!(trimmed, "on" | "true" | "1" | "yes")),
            );
        } else if LISTS.contains(&key.as_str()) {
            let mut items: Vec<Value> = match body.remove(key) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            items.extend(
                trimmed
                    .lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty())
                    .map(|line| Value::String(line.to_string())),
            );
            body.insert(key.clone(), Value::Array(items));
        } else if !trimmed.is_empty() {
            body.insert(key.clone(), Value::String(trimmed.to_string()));
        }
    }
    body.entry("by")
        .or_insert_with(|| Value::String(actor.to_string()));
    Value::Object(body)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// `POST /ui/act/{path}`: a form's change, forwarded to `POST /api/v1/{path}`; the browser is
/// sent back where it came from with the outcome.
/// Sends the browser to `path` with the outcome of its form (`done` or `error`).
fn outcome(path: &str, key: &str, message: &str) -> Response {
    super::see_other(&super::with_query(path, key, message))
}

/// Where a form sends the browser back to, once its CSRF token checks out; otherwise the way
/// back with the reason.
fn checked_form(
    state: &AppState,
    headers: &HeaderMap,
    fields: &[(String, String)],
) -> Result<String, Box<Response>> {
    let back = super::safe_back(field(fields, "back"), "/ui/slos");
    match csrf::check(state, headers, field(fields, "csrf")) {
        Ok(()) => Ok(back),
        Err(message) => Err(Box::new(outcome(&back, "error", &message))),
    }
}

pub async fn act(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(path): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let back = match checked_form(&state, &headers, &fields) {
        Ok(back) => back,
        Err(refused) => return *refused,
    };
    let route = match api_route(&path) {
        Ok(route) => route,
        Err(message) => return outcome(&back, "error", &message),
    };
    let body = form_body(&fields, &super::actor(&headers));
    match api_call(&state, Method::POST, &route, Some(body)).await {
        Ok(answer) => {
            let location = if path == "incidents" {
                format!("/ui/incidents/{}", encode(&str_of(&answer, "id")))
            } else {
                back
            };
            let mut done = done_text(&path);
            // The blameless check's findings on a postmortem draft.
            if let Some(findings) = answer["blameless"]
                .as_array()
                .filter(|list| !list.is_empty())
            {
                let first = &findings[0];
                done = format!(
                    "{done}; the blameless check asks to reword {} sentence(s), first {:?}: {}",
                    findings.len(),
                    first["sentence"].as_str().unwrap_or_default(),
                    first["reason"].as_str().unwrap_or_default()
                );
            }
            outcome(&location, "done", &done)
        }
        Err(failure) => outcome(&back, "error", &failure.message),
    }
}

fn done_text(path: &str) -> String {
    let action = path.rsplit('/').next().unwrap_or(path);
    match action {
        "acknowledge" => "acknowledged".to_string(),
        "unacknowledge" => "acknowledgement taken back".to_string(),
        "resolve" => "resolved".to_string(),
        "updates" => "status update posted".to_string(),
        "notes" => "note added".to_string(),
        "incidents" => "incident opened".to_string(),
        "action-items" => "action item added".to_string(),
        "postmortem" => "postmortem saved".to_string(),
        "roles" => "role assigned".to_string(),
        "status" => "status set".to_string(),
        "severity" => "severity set".to_string(),
        "reopen" => "reopened".to_string(),
        "links" => "linked".to_string(),
        _ if path.starts_with("action-items/") => "action item updated".to_string(),
        other => format!("{other} saved"),
    }
}

/// `POST /ui/me`: who acts from this browser (a cookie; there are no logins yet).
pub async fn set_actor(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let back = match checked_form(&state, &headers, &fields) {
        Ok(back) => back,
        Err(refused) => return *refused,
    };
    let name = field(&fields, "name").unwrap_or_default().trim();
    if !super::valid_actor(name) {
        return outcome(
            &back,
            "error",
            "a name is 1 to 64 letters, digits and . _ - @",
        );
    }
    let mut response = outcome(&back, "done", &format!("acting as {name}"));
    if let Ok(value) = HeaderValue::from_str(&format!(
        "nines_user={name}; Path=/; SameSite=Strict; Max-Age=31536000"
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_reach_only_their_api_routes() {
        assert_eq!(
            api_route("pages/p-1/acknowledge").as_deref(),
            Ok("/api/v1/pages/p-1/acknowledge")
        );
        assert_eq!(api_route("incidents").as_deref(), Ok("/api/v1/incidents"));
        assert_eq!(
            api_route("incidents/inc 1/updates").as_deref(),
            Ok("/api/v1/incidents/inc%201/updates")
        );
        assert!(api_route("write").is_err());
        assert!(api_route("pages/p-1/delete").is_err());
        assert!(api_route("pages//acknowledge").is_err());
        assert!(api_route("silences/../write").is_err());
        assert!(api_route("incidents/i/../../write").is_err());
    }

    #[test]
    fn form_fields_become_the_api_body() {
        let fields: Vec<(String, String)> = [
            ("csrf", "x"),
            ("back", "/ui/pages"),
            ("text", "  We are investigating  "),
            ("public", "on"),
            ("note", ""),
            ("causes", "one\n\n two \n"),
        ]
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
        assert_eq!(
            form_body(&fields, "alice"),
            json!({"text": "We are investigating", "public": true, "causes": ["one", "two"], "by": "alice"})
        );
    }
}
