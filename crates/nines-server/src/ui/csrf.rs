//! Cross-site request forgery: a signed double-submit token for the UI's forms, and a guard
//! on the whole router that refuses writes a browser marks as cross-site.
//!
//! Each browser gets a random `nines_csrf` cookie (HttpOnly, SameSite=Strict); its forms carry
//! `hmac(secret, cookie)` in a hidden `csrf` field. Another site can make a browser post a form
//! but can neither read the cookie nor compute the token. The guard adds a second line that
//! also covers the JSON API: a browser's write whose `Sec-Fetch-Site` says `cross-site`, or
//! whose `Origin` names another host, is refused before any handler runs. Tools that are not
//! browsers (Alertmanager, curl, the CLI) send neither header and are not affected.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::server::AppState;

pub const COOKIE: &str = "nines_csrf";
const PURPOSE: &str = "csrf";

/// The browser's CSRF cookie value and the token its forms carry; `set_cookie` when the
/// browser had none yet (the response must set it).
#[derive(Debug, Clone)]
pub struct CsrfToken {
    pub token: String,
    pub set_cookie: Option<String>,
}

fn valid_cookie(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// The token for a page: from the browser's cookie, or a new cookie.
pub fn token_for(state: &AppState, headers: &HeaderMap) -> CsrfToken {
    if let Some(value) = super::cookie(headers, COOKIE).filter(|value| valid_cookie(value)) {
        return CsrfToken {
            token: state.pager.linker().sign(PURPOSE, value),
            set_cookie: None,
        };
    }
    let mut bytes = [0u8; 16];
    // Without randomness no cookie is set (never a guessable one); every form then fails its
    // check, visibly.
    if getrandom::fill(&mut bytes).is_err() {
        tracing::error!("no randomness for a CSRF cookie");
        return CsrfToken {
            token: String::new(),
            set_cookie: None,
        };
    }
    let value: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    CsrfToken {
        token: state.pager.linker().sign(PURPOSE, &value),
        set_cookie: Some(format!(
            "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000"
        )),
    }
}

/// Checks a form's token against the browser's cookie, in constant time.
pub fn check(state: &AppState, headers: &HeaderMap, token: Option<&str>) -> Result<(), String> {
    let Some(cookie) = super::cookie(headers, COOKIE).filter(|value| valid_cookie(value)) else {
        return Err(
            "this browser has no CSRF cookie (cookies blocked, or the page is old): reload the page and try again"
                .to_string(),
        );
    };
    let Some(token) = token.filter(|token| !token.is_empty()) else {
        return Err("the form carries no CSRF token: reload the page and try again".to_string());
    };
    if state.pager.linker().verifies(PURPOSE, cookie, token) {
        Ok(())
    } else {
        Err(
            "the form's CSRF token does not match this browser: reload the page and try again"
                .to_string(),
        )
    }
}

/// Why a request that changes state is refused as cross-site, if it is.
///
/// A browser's `Sec-Fetch-Site` decides when it is sent: `same-origin` and `none` (typed by
/// the user) pass, `same-site` (a sibling subdomain) and `cross-site` do not. Older browsers
/// send only `Origin`: it must name this server, as the request's `Host` or as the public URL
/// the server is configured with (a reverse proxy may rewrite `Host`).
pub fn cross_site(method: &Method, headers: &HeaderMap, public_url: &str) -> Option<String> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return match site.to_ascii_lowercase().as_str() {
            "same-origin" | "none" => None,
            other => Some(format!(
                "a {other} request may not change anything here (Sec-Fetch-Site)"
            )),
        };
    }
    let origin = text("origin")?;
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'))
        .unwrap_or("");
    let host = text(header::HOST.as_str()).unwrap_or("");
    let public_host = public_url
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
        .unwrap_or("");
    let matches =
        |candidate: &str| !candidate.is_empty() && origin_host.eq_ignore_ascii_case(candidate);
    if matches(host) || matches(public_host) {
        None
    } else {
        Some(format!(
            "a request from origin {origin:?} may not change anything here"
        ))
    }
}

/// The guard around the router (see the module's doc).
pub async fn guard(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let public_url = state.pager.linker().public_url().to_string();
    if let Some(reason) = cross_site(request.method(), request.headers(), &public_url) {
        tracing::warn!(path = %request.uri().path(), reason = %reason, "cross-site write refused");
        return (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({"error": {"status": 403, "message": reason}})),
        )
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header value"));
        }
        map
    }

    const PUBLIC: &str = "https://nines.example.com";

    #[test]
    fn reads_are_never_refused() {
        let cross = headers(&[("sec-fetch-site", "cross-site")]);
        assert_eq!(cross_site(&Method::GET, &cross, PUBLIC), None);
    }

    #[test]
    fn cross_site_writes_are_refused_by_fetch_metadata_or_origin() {
        let post =
            |pairs: &[(&'static str, &str)]| cross_site(&Method::POST, &headers(pairs), PUBLIC);
        assert!(post(&[("sec-fetch-site", "cross-site")]).is_some());
        assert!(post(&[("sec-fetch-site", "same-site")]).is_some());
        assert!(post(&[("origin", "https://evil.example"), ("host", "nines:9797")]).is_some());
        assert!(post(&[("origin", "null"), ("host", "nines:9797")]).is_some());
        assert!(post(&[("origin", "https://nines.example.com.evil.example")]).is_some());
        // Fetch metadata decides when it is there.
        assert_eq!(
            post(&[
                ("origin", "https://nines.example.com"),
                ("host", "127.0.0.1:9797"),
                ("sec-fetch-site", "same-origin")
            ]),
            None
        );
        assert!(
            post(&[
                ("origin", "http://nines:9797"),
                ("host", "nines:9797"),
                ("sec-fetch-site", "cross-site")
            ])
            .is_some()
        );
        // Without it, the Origin must be this server: its Host, or its public URL behind a
        // proxy that rewrites Host.
        assert_eq!(
            post(&[("origin", "http://nines:9797"), ("host", "nines:9797")]),
            None
        );
        assert_eq!(
            post(&[
                ("origin", "https://nines.example.com"),
                ("host", "127.0.0.1:9797")
            ]),
            None
        );
        // Tools that are not browsers send neither header.
        assert_eq!(post(&[]), None);
    }
}
