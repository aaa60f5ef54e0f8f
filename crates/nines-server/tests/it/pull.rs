//! A pulled SLO whose source cannot be reached: the status names the SLO, the query and the
//! failure, nothing counts as good, and the no-data alert fires; and the backfill endpoint's
//! answers to bad requests.

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::support::{TestServer, folder};

fn config(port: u16) -> String {
    format!(
        r#"version: nines/v1
sources:
  - id: prom
    kind: prometheus
    url: http://127.0.0.1:{port}
    timeout: 1s
    delay: 0s
alert_policies:
  - id: quick-no-data
    no_data:
      after: 2m
      severity: ticket
services:
  - id: api
slos:
  - id: api-availability
    service: api
    objective_percent: 99.9
    window: 7d
    sli:
      source: prom
      ratio:
        bad: api_errors_total{{job="api"}}
        total: api_requests_total{{job="api"}}
    alerting:
      policy: quick-no-data
  - id: pushed-events
    service: api
    objective_percent: 99
    window: 7d
    sli: {{pushed: {{}}}}
"#
    )
}

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    port
}

async fn eventually(
    server: &TestServer,
    path: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = server.get_json(path).await;
        assert_eq!(status, 200, "{body}");
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{what}: {body:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_source_is_named_counts_nothing_good_and_raises_no_data() {
    let dir = folder("pull-unreachable");
    let server = TestServer::start(&dir, &config(closed_port())).await;

    let failing = eventually(
        &server,
        "/api/v1/slos/api-availability/backfill",
        "a failed pull",
        |body| body["pull"]["state"] == "failing",
    )
    .await;
    let error = failing["pull"]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("api-availability"), "{error}");
    assert!(
        error.contains("api_errors_total{job=\\\"api\\\"}") || error.contains("api_errors_total"),
        "{error}"
    );
    assert!(error.contains("cannot reach"), "{error}");
    assert!(failing["pull"]["failures"].as_u64() >= Some(1));

    // Missing minutes are not good minutes: no events, no SLI, and the no-data alert.
    let slo = eventually(
        &server,
        "/api/v1/slos/api-availability",
        "the no-data alert",
        |body| body["alerts"]["no_data"]["state"] == "firing",
    )
    .await;
    assert_eq!(slo["status"]["total"], 0);
    assert_eq!(slo["status"]["sli"], Value::Null);
    assert_eq!(slo["pull"]["source"], "prom");

    // Pushed events for a pulled SLO would be counted twice.
    let (status, body) = server
        .post(
            "/api/v1/slos/api-availability/events",
            "application/json",
            br#"{"outcome":"good"}"#.to_vec(),
            &[],
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("prom")
    );

    // The backfill endpoint refuses what it cannot do, naming why.
    let now = Timestamp::now();
    let cases = [
        (
            "api-availability",
            json!({"from": "yesterday"}),
            400,
            "RFC 3339",
        ),
        (
            "api-availability",
            json!({"from": (now + SignedDuration::from_hours(1)).to_string()}),
            400,
            "not in the past",
        ),
        (
            "api-availability",
            json!({"from": (now - SignedDuration::from_hours(24 * 30)).to_string()}),
            400,
            "older than this SLO keeps",
        ),
        (
            "api-availability",
            json!({"since": "x"}),
            400,
            "unknown field",
        ),
        ("pushed-events", json!({}), 409, "pushed"),
        ("nope", json!({}), 404, "unknown SLO"),
    ];
    for (slo, body, expected, message) in cases {
        let (status, answer) = server
            .post(
                &format!("/api/v1/slos/{slo}/backfill"),
                "application/json",
                body.to_string().into_bytes(),
                &[],
            )
            .await;
        assert_eq!(status, expected, "{slo} {body}: {answer}");
        let text = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{slo} {body}: {text}");
    }
    // A good request restarts it (and it keeps failing, told the same way).
    let from = (now - SignedDuration::from_hours(5)).to_string();
    let (status, answer) = server
        .post(
            "/api/v1/slos/api-availability/backfill",
            "application/json",
            json!({ "from": from }).to_string().into_bytes(),
            &[],
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    assert!(answer["pull"]["backfill"]["from"].is_string(), "{answer}");
}

/// What a request to the recording server carried.
#[derive(Default, Clone)]
struct Seen {
    authorization: Option<String>,
    tenant: Option<String>,
    body: String,
}

/// An HTTP server that answers every range query with an empty matrix and keeps what the last
/// request carried.
async fn recording_server() -> (String, std::sync::Arc<std::sync::Mutex<Seen>>) {
    use axum::http::HeaderMap;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen::default()));
    let kept = seen.clone();
    let router = axum::Router::new().route(
        "/prefix/api/v1/query_range",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let kept = kept.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|value| value.to_str().ok())
                        .map(str::to_string)
                };
                *kept.lock().unwrap() = Seen {
                    authorization: header("authorization"),
                    tenant: header("x-scope-orgid"),
                    body,
                };
                axum::Json(
                    json!({"status": "success", "data": {"resultType": "matrix", "result": []}}),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{address}/prefix"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_carry_the_sources_credentials_and_headers() {
    use nines_server::pull::PrometheusClient;
    use nines_spec::{PrometheusSource, SourceAuth};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (url, seen) = recording_server().await;
    let environment: std::collections::HashMap<String, String> = [
        ("PROM_TOKEN".to_string(), "t0ken".to_string()),
        ("PROM_PASSWORD".to_string(), "pa55".to_string()),
    ]
    .into_iter()
    .collect();
    let source = |auth| PrometheusSource {
        url: url.clone(),
        auth,
        headers: [("X-Scope-OrgID".to_string(), "team-a".to_string())]
            .into_iter()
            .collect(),
        timeout: nines_core::Span::seconds(5),
        delay: nines_core::Span::minutes(1),
        chunk: nines_core::Span::days(1),
        concurrency: 1,
    };

    let bearer = PrometheusClient::new(
        &source(Some(SourceAuth::Bearer {
            token_env: "PROM_TOKEN".to_string(),
        })),
        &environment,
    )
    .unwrap();
    let series = bearer
        .query_minutes("sum(up{job=\"a b\"})", 100, 160)
        .await
        .unwrap();
    assert!(series.is_empty());
    let last = seen.lock().unwrap().clone();
    assert_eq!(last.authorization.as_deref(), Some("Bearer t0ken"));
    assert_eq!(last.tenant.as_deref(), Some("team-a"));
    let form: std::collections::HashMap<String, String> =
        url_pairs(&last.body).into_iter().collect();
    assert_eq!(form["query"], "sum(up{job=\"a b\"})");
    assert_eq!(
        (
            form["start"].as_str(),
            form["end"].as_str(),
            form["step"].as_str()
        ),
        ("6000", "9600", "60")
    );

    let basic = PrometheusClient::new(
        &source(Some(SourceAuth::Basic {
            username: "nines".to_string(),
            password_env: "PROM_PASSWORD".to_string(),
        })),
        &environment,
    )
    .unwrap();
    basic.query_minutes("up", 1, 2).await.unwrap();
    // base64("nines:pa55")
    assert_eq!(
        seen.lock().unwrap().authorization.as_deref(),
        Some("Basic bmluZXM6cGE1NQ==")
    );

    let missing = PrometheusClient::new(
        &source(Some(SourceAuth::Bearer {
            token_env: "NOT_SET".to_string(),
        })),
        &environment,
    );
    assert!(missing.err().unwrap_or_default().contains("NOT_SET"));
}

/// `a=1&b=x+y` decoded.
pub(crate) fn url_pairs(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (decode(key), decode(value)))
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.replace('+', " ").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).unwrap()
}
