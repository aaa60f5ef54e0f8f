//! The web UI: server-rendered pages (askama templates compiled into the binary, a little
//! htmx, SVG charts written by `charts`), every asset embedded, and the public status page.
//!
//! The pages read through the JSON API and every form is forwarded to the JSON API
//! (`api_call`), so the UI follows exactly the rules the CLI does: one set of checks, one set
//! of messages. Forms that change state carry a CSRF token (`csrf`); the whole router also
//! refuses cross-site writes by their fetch metadata.

pub mod charts;
pub mod csrf;
mod format;
mod pages;
pub mod signals;
pub mod status;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tower::ServiceExt;

use crate::server::AppState;

/// htmx 2.0.11 (0BSD), copied into the repository: no CDN at run time.
const HTMX: &[u8] = include_bytes!("../../assets/htmx.min.js");
const CSS: &[u8] = include_bytes!("../../assets/nines.css");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/slos") }))
        .route("/ui", get(|| async { Redirect::to("/ui/slos") }))
        .route("/ui/assets/{name}", get(asset))
        .route("/ui/slos", get(pages::slo_list))
        .route("/ui/slos/{id}", get(pages::slo_page))
        .route("/ui/pages", get(pages::page_list))
        .route("/ui/pages/{id}", get(pages::page_detail))
        .route("/ui/oncall", get(pages::oncall))
        .route("/ui/incidents", get(pages::incident_list))
        .route("/ui/incidents/{id}", get(pages::incident_page))
        .route("/ui/reports", get(pages::reports))
        .route("/ui/me", post(pages::set_actor))
        .route("/ui/act/{*path}", post(pages::act))
        .merge(status::routes())
}

async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "nines.css" => (CSS, "text/css; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// An answer of the JSON API that was not a success: its status and message.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub message: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.status.as_u16())
    }
}

/// Calls the JSON API in process, through the same router and handlers HTTP clients and the
/// CLI reach, and returns its JSON answer.
pub async fn api_call(
    state: &AppState,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> Result<Value, ApiFailure> {
    let mut request = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(value) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(value.to_string())
        }
        None => Body::empty(),
    };
    let request = request.body(body).map_err(|err| ApiFailure {
        status: StatusCode::BAD_REQUEST,
        message: format!("invalid request {uri:?}: {err}"),
    })?;
    let response = crate::api::router(state.clone())
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {});
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024)
        .await
        .map_err(|err| ApiFailure {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("reading the answer failed: {err}"),
        })?;
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    let message = value["error"]["message"]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            // PagerDuty-shaped and problem-list answers.
            value["message"].as_str().map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    Err(ApiFailure { status, message })
}

/// A read for a page: `GET` of the JSON API.
pub async fn api_get(state: &AppState, uri: &str) -> Result<Value, ApiFailure> {
    api_call(state, Method::GET, uri, None).await
}

/// Percent-encodes a path segment or query value.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The value of a cookie of the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Who acts from this browser (`nines_user` cookie), for the `by` of every change; `web`
/// until someone says.
pub fn actor(headers: &HeaderMap) -> String {
    cookie(headers, "nines_user")
        .filter(|name| valid_actor(name))
        .unwrap_or("web")
        .to_string()
}

pub fn valid_actor(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-' | b'@'))
}

/// A redirect that a browser follows with GET (after a form's POST).
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Where a form sends the browser back to: a path of the UI only (never another site).
pub fn safe_back(back: Option<&str>, default: &str) -> String {
    match back {
        Some(path)
            if path.starts_with("/ui/")
                && !path.starts_with("//")
                && !path.contains(['\\', '\r', '\n']) =>
        {
            path.to_string()
        }
        _ => default.to_string(),
    }
}

/// Adds `key=value` to a path's query.
pub fn with_query(path: &str, key: &str, value: &str) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}{key}={}", encode(value))
}
