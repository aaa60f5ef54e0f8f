//! The API end to end: every intake path, every kind of bad input answered with a located 4xx
//! that changes nothing, alerts made durable with their notifications, and restart recovery.

use std::time::Duration;

use axum::routing::post;
use jiff::Timestamp;
use nines_server::intake::remote_write::{Label, Sample, TimeSeries, WriteRequest, encode};
use serde_json::json;

use crate::support::{TestServer, folder};

const CONFIG: &str = r#"version: nines/v1
services:
  - id: api
    runbooks: [https://runbooks.example.com/api]
slos:
  - id: api-availability
    service: api
    objective_percent: 99.9
    window: 30d
    sli:
      ratio:
        total: http_requests_total{job="api"}
        bad: http_requests_total{job="api",code=~"5.."}
  - id: checkout-events
    service: api
    objective_percent: 99
    window: 7d
    sli: {pushed: {}}
"#;

fn series(code: &str, samples: &[(f64, i64)]) -> TimeSeries {
    TimeSeries {
        labels: vec![
            Label::new("__name__", "http_requests_total"),
            Label::new("code", code),
            Label::new("job", "api"),
        ],
        samples: samples
            .iter()
            .map(|(value, timestamp)| Sample {
                value: *value,
                timestamp: *timestamp,
            })
            .collect(),
    }
}

fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

async fn totals(server: &TestServer, slo: &str) -> (u64, u64) {
    // The status is refreshed by the evaluator: wait (bounded) for an evaluation that started
    // after this call, so everything acknowledged before it is counted.
    let asked = Timestamp::now();
    let mut body = serde_json::Value::Null;
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (status, answer) = server.get_json(&format!("/api/v1/slos/{slo}")).await;
        assert_eq!(status, 200, "{answer}");
        body = answer;
        let evaluated: Option<Timestamp> = body["status"]["evaluated_at"]
            .as_str()
            .and_then(|at| at.parse().ok());
        if evaluated.is_some_and(|at| at > asked) {
            break;
        }
    }
    (
        body["status"]["bad"].as_u64().unwrap(),
        body["status"]["total"].as_u64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_write_counts_increments_and_survives_a_restart() {
    let folder = folder("remote-write");
    let server = TestServer::start(&folder, CONFIG).await;
    let t = now_ms() - 120_000;
    // First samples set baselines; the second ones count: 100 requests, 7 of them 5xx.
    let first = WriteRequest {
        timeseries: vec![series("200", &[(1000.0, t)]), series("500", &[(10.0, t)])],
        ..WriteRequest::default()
    };
    let second = WriteRequest {
        timeseries: vec![
            series("200", &[(1093.0, t + 60_000)]),
            series("500", &[(17.0, t + 60_000)]),
        ],
        ..WriteRequest::default()
    };
    for request in [&first, &second] {
        let (status, body) = server
            .post(
                "/api/v1/write",
                "application/x-protobuf",
                encode(request),
                &[("content-encoding", "snappy")],
            )
            .await;
        assert_eq!(status, 204, "{body}");
    }
    // A resend of the same samples changes nothing.
    let (status, _) = server
        .post(
            "/api/v1/write",
            "application/x-protobuf",
            encode(&second),
            &[],
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(totals(&server, "api-availability").await, (7, 100));
    // An out-of-order sample (older than the last one of its series) is dropped and counted,
    // not an error: Prometheus resends whole batches, and a 4xx would make it drop the new
    // samples with the old.
    let late = WriteRequest {
        timeseries: vec![series("200", &[(1050.0, t + 30_000)])],
        ..WriteRequest::default()
    };
    let (status, _) = server
        .post(
            "/api/v1/write",
            "application/x-protobuf",
            encode(&late),
            &[],
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(totals(&server, "api-availability").await, (7, 100));

    // Unrelated series are dropped cheaply and counted as such.
    let unrelated = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label::new("__name__", "go_goroutines")],
            samples: vec![Sample {
                value: 5.0,
                timestamp: t,
            }],
        }],
        ..WriteRequest::default()
    };
    let (status, _) = server
        .post(
            "/api/v1/write",
            "application/x-protobuf",
            encode(&unrelated),
            &[],
        )
        .await;
    assert_eq!(status, 204);
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"nines_ingest_samples_total{source="remote_write",outcome="dropped_unrelated"} 1"#
        ),
        "{metrics}"
    );
    // Two resent samples and one late one.
    assert!(
        metrics.contains(
            r#"nines_ingest_samples_total{source="remote_write",outcome="out_of_order"} 3"#
        ),
        "{metrics}"
    );

    server.stop().await;
    // After a restart the counts and the counter state are back: a resend is still a resend,
    // and the next sample counts from where the last one was.
    let server = TestServer::start(&folder, CONFIG).await;
    assert_eq!(totals(&server, "api-availability").await, (7, 100));
    let (status, _) = server
        .post(
            "/api/v1/write",
            "application/x-protobuf",
            encode(&second),
            &[],
        )
        .await;
    assert_eq!(status, 204);
    let third = WriteRequest {
        timeseries: vec![
            series("200", &[(1193.0, t + 90_000)]),
            series("500", &[(17.0, t + 90_000)]),
        ],
        ..WriteRequest::default()
    };
    let (status, _) = server
        .post(
            "/api/v1/write",
            "application/x-protobuf",
            encode(&third),
            &[],
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(totals(&server, "api-availability").await, (7, 200));
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_json_4xx_naming_the_problem_and_changes_nothing() {
    let folder = folder("bad-input");
    let server = TestServer::start(&folder, CONFIG).await;
    let (status, _) = server
        .post_json(
            "/api/v1/slos/checkout-events/events",
            json!({"good": 90, "total": 100}),
        )
        .await;
    assert_eq!(status, 202);
    let before = totals(&server, "checkout-events").await;
    let t = now_ms();

    let valid = encode(&WriteRequest {
        timeseries: vec![series("200", &[(1.0, t)])],
        ..WriteRequest::default()
    });
    let protobuf = prost::Message::encode_to_vec(&WriteRequest {
        timeseries: vec![series("200", &[(1.0, t)])],
        ..WriteRequest::default()
    });
    let cut = snap::raw::Encoder::new()
        .compress_vec(&protobuf[..protobuf.len() - 3])
        .unwrap();
    let far_future = encode(&WriteRequest {
        timeseries: vec![series("200", &[(1.0, t), (2.0, t + 3_600_000)])],
        ..WriteRequest::default()
    });

    struct Case {
        what: &'static str,
        path: &'static str,
        content_type: &'static str,
        headers: Vec<(&'static str, &'static str)>,
        body: Vec<u8>,
        status: u16,
        message: &'static str,
    }
    let cases = vec![
        Case {
            what: "corrupt snappy",
            path: "/api/v1/write",
            content_type: "application/x-protobuf",
            headers: vec![],
            body: b"\x05\xff\xff\xff\xff".to_vec(),
            status: 400,
            message: "corrupt snappy block",
        },
        Case {
            what: "snappy bomb",
            path: "/api/v1/write",
            content_type: "application/x-protobuf",
            headers: vec![],
            body: b"\xff\xff\xff\xff\x0fgarbage".to_vec(),
            status: 413,
            message: "exceed the limit",
        },
        Case {
            what: "truncated protobuf",
            path: "/api/v1/write",
            content_type: "application/x-protobuf",
            headers: vec![],
            body: cut,
            status: 400,
            message: "truncated or invalid",
        },
        Case {
            what: "huge body",
            path: "/api/v1/write",
            content_type: "application/x-protobuf",
            headers: vec![],
            body: vec![0; 200 * 1024],
            status: 413,
            message: "larger than the limit",
        },
        Case {
            what: "not snappy",
            path: "/api/v1/write",
            content_type: "application/x-protobuf",
            headers: vec![("content-encoding", "gzip")],
            body: valid.clone(),
            status: 415,
            message: "snappy",
        },
        Case {
            what: "far future",
            path: "/api/v1/write",
            content_type: "application/x-protobuf",
            headers: vec![],
            body: far_future,
            status: 400,
            message: "in the future",
        },
        Case {
            what: "otlp garbage",
            path: "/v1/metrics",
            content_type: "application/x-protobuf",
            headers: vec![],
            body: b"\x0a\xff\xff\xff".to_vec(),
            status: 400,
            message: "protobuf",
        },
        Case {
            what: "otlp json",
            path: "/v1/metrics",
            content_type: "application/json",
            headers: vec![],
            body: b"{}".to_vec(),
            status: 415,
            message: "application/x-protobuf",
        },
        Case {
            what: "unknown slo",
            path: "/api/v1/slos/nope/events",
            content_type: "application/json",
            headers: vec![],
            body: br#"{"good": 1, "total": 1}"#.to_vec(),
            status: 404,
            message: "unknown SLO id \"nope\"",
        },
        Case {
            what: "wrong json type",
            path: "/api/v1/slos/checkout-events/events",
            content_type: "application/json",
            headers: vec![],
            body: br#"{"good": "lots", "total": 1}"#.to_vec(),
            status: 400,
            message: "invalid type: string \"lots\"",
        },
        Case {
            what: "unknown json field",
            path: "/api/v1/slos/checkout-events/events",
            content_type: "application/json",
            headers: vec![],
            body: br#"{"goood": 1, "total": 1}"#.to_vec(),
            status: 400,
            message: "unknown field `goood`",
        },
        Case {
            what: "good above total",
            path: "/api/v1/slos/checkout-events/events",
            content_type: "application/json",
            headers: vec![],
            body: br#"{"good": 5, "total": 1}"#.to_vec(),
            status: 400,
            message: "good must not exceed total",
        },
        Case {
            what: "far past",
            path: "/api/v1/slos/checkout-events/events",
            content_type: "application/json",
            headers: vec![],
            body: br#"{"good": 1, "total": 1, "at": "2001-01-01T00:00:00Z"}"#.to_vec(),
            status: 400,
            message: "older than its window",
        },
        Case {
            what: "not a time",
            path: "/api/v1/slos/checkout-events/events",
            content_type: "application/json",
            headers: vec![],
            body: br#"{"good": 1, "total": 1, "at": "yesterday"}"#.to_vec(),
            status: 400,
            message: "not an RFC 3339 instant",
        },
        Case {
            what: "not json",
            path: "/api/v1/slos/checkout-events/events",
            content_type: "application/json",
            headers: vec![],
            body: b"{".to_vec(),
            status: 400,
            message: "invalid JSON body",
        },
    ];
    for case in cases {
        let (status, body) = server
            .post(case.path, case.content_type, case.body, &case.headers)
            .await;
        assert_eq!(status, case.status, "{}: {body}", case.what);
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(case.message),
            "{}: {message:?} lacks {:?}",
            case.what,
            case.message
        );
    }
    // Query strings too.
    let (status, body) = server.get_json("/api/v1/events?limit=lots").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("limit")),
        "{body}"
    );
    let (status, body) = server.get_json("/api/v1/slos/checkout-events/history?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("ends"),
        "{body}"
    );
    let (status, _) = server.get_json("/api/v1/slos/nope").await;
    assert_eq!(status, 404);
    let (status, body) = server.get_json("/no/such/thing").await;
    assert_eq!((status, body["error"]["status"].as_u64()), (404, Some(404)));

    // Nothing changed.
    assert_eq!(totals(&server, "checkout-events").await, before);
    assert_eq!(totals(&server, "api-availability").await, (0, 0));
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_is_durable_delivered_signed_and_survives_a_restart() {
    // A webhook receiver on loopback that keeps what it gets.
    let received = std::sync::Arc::new(tokio::sync::Mutex::new(
        Vec::<(String, String, Vec<u8>)>::new(),
    ));
    let keep = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let keep = keep.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    keep.lock().await.push((
                        header("x-nines-signature"),
                        header("x-nines-idempotency-key"),
                        body.to_vec(),
                    ));
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let config = format!(
        "{CONFIG}channels:\n  - {{id: hook, type: webhook, url: \"{hook}\", secret_env: TEST_SECRET}}\n"
    );
    let folder = folder("page");
    let server = TestServer::start(&folder, &config).await;
    // An hour of history, then a burst of failures: 1h/14.4x and 5m/14.4x both burn.
    let now = Timestamp::now().as_second();
    for minutes_ago in (1..=60).rev() {
        let at = Timestamp::from_second(now - minutes_ago * 60)
            .unwrap()
            .to_string();
        let (status, body) = server
            .post_json(
                "/api/v1/slos/checkout-events/events",
                json!({"good": 100, "total": 100, "at": at}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
    let (status, _) = server
        .post_json(
            "/api/v1/slos/checkout-events/events",
            json!({"bad": 900, "total": 1000}),
        )
        .await;
    assert_eq!(status, 202);

    let mut page = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let deliveries = received.lock().await.clone();
        if let Some(found) = deliveries
            .into_iter()
            .find(|(_, _, body)| String::from_utf8_lossy(body).contains("\"page\""))
        {
            page = Some(found);
            break;
        }
    }
    let (signature, key, body) = page.expect("the page reaches the webhook");
    let expected = nines_server::delivery::signature(b"s3cret", &body);
    assert_eq!(signature, expected);
    assert!(
        key.starts_with("checkout-events:burn_rate:page:fired:"),
        "{key}"
    );
    let (_, slo) = server.get_json("/api/v1/slos/checkout-events").await;
    assert_eq!(slo["alerts"]["burn_rate"]["state"], "firing", "{slo}");
    let (_, events) = server.get_json("/api/v1/events?slo=checkout-events").await;
    let fired: Vec<_> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "alert.fired" && e["payload"]["severity"] == "page")
        .collect();
    assert_eq!(fired.len(), 1, "{events}");
    let (_, alerts) = server.get_json("/api/v1/alerts").await;
    assert_eq!(alerts["alerts"][0]["slo"], "checkout-events");

    server.stop().await;
    let server = TestServer::start(&folder, &config).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    // Still firing, and not fired (nor delivered) a second time.
    let (_, slo) = server.get_json("/api/v1/slos/checkout-events").await;
    assert_eq!(slo["alerts"]["burn_rate"]["state"], "firing", "{slo}");
    let (_, events) = server.get_json("/api/v1/events?slo=checkout-events").await;
    let fired = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "alert.fired" && e["payload"]["severity"] == "page")
        .count();
    assert_eq!(fired, 1, "{events}");
    let pages = received
        .lock()
        .await
        .iter()
        .filter(|(_, _, body)| String::from_utf8_lossy(body).contains("\"page\""))
        .count();
    assert_eq!(pages, 1);
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_endpoints_answer() {
    let folder = folder("endpoints");
    let server = TestServer::start(&folder, CONFIG).await;
    let (status, openapi) = server.get_json("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(openapi["paths"]["/api/v1/write"]["post"].is_object());
    assert_eq!(server.get_json("/healthz").await.0, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.get_json("/readyz").await.0, 200);
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "nines_evaluation_duration_seconds",
        "nines_outbox_depth",
        "nines_delivery_failures_total",
        "nines_slos",
    ] {
        assert!(metrics.contains(name), "{name} missing from {metrics}");
    }
    let (_, list) = server.get_json("/api/v1/slos?service=api").await;
    assert_eq!(list["slos"].as_array().unwrap().len(), 2);
    let (status, body) = server.get_json("/api/v1/slos?colour=red").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("colour"))
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_sums_are_counted_gzip_or_not() {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::metrics::v1::{
        AggregationTemporality, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
        metric, number_data_point,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use prost::Message;
    use std::io::Write;

    let text = |key: &str, value: &str| KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    };
    let now_ns = (Timestamp::now().as_millisecond() as u64) * 1_000_000;
    let point = |status: &str, value: i64, at_ns: u64| NumberDataPoint {
        attributes: vec![text("status", status)],
        time_unix_nano: at_ns,
        value: Some(number_data_point::Value::AsInt(value)),
        ..Default::default()
    };
    let request = |at_ns: u64| ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![text("service.name", "checkout")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "http.server.requests".to_string(),
                    unit: "1".to_string(),
                    data: Some(metric::Data::Sum(Sum {
                        data_points: vec![point("2xx", 95, at_ns), point("5xx", 5, at_ns)],
                        aggregation_temporality: AggregationTemporality::Delta as i32,
                        is_monotonic: true,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let config = r#"version: nines/v1
services: [{id: checkout, runbooks: [https://runbooks.example.com/checkout]}]
slos:
  - id: checkout-otlp
    service: checkout
    objective_percent: 99
    window: 7d
    sli:
      ratio:
        total: http_server_requests_total{job="checkout"}
        bad: http_server_requests_total{job="checkout",status="5xx"}
"#;
    let folder = folder("otlp");
    let server = TestServer::start(&folder, config).await;
    let body = request(now_ns).encode_to_vec();
    let (status, body_json) = server
        .post("/v1/metrics", "application/x-protobuf", body.clone(), &[])
        .await;
    assert_eq!(status, 200, "{body_json}");
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&request(now_ns + 1_000_000_000).encode_to_vec())
        .unwrap();
    let (status, _) = server
        .post(
            "/v1/metrics",
            "application/x-protobuf",
            gzip.finish().unwrap(),
            &[("content-encoding", "gzip")],
        )
        .await;
    assert_eq!(status, 200);
    // Delta sums are increments: both requests count; a resend of the first does not.
    let (status, _) = server
        .post("/v1/metrics", "application/x-protobuf", body, &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(totals(&server, "checkout-otlp").await, (10, 200));
    let (status, body) = server
        .post(
            "/v1/metrics",
            "application/x-protobuf",
            b"\x1f\x8b\x08garbage".to_vec(),
            &[("content-encoding", "gzip")],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_count_good_and_bad_checks() {
    // A target that answers 200 until told to fail, then 503.
    let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = failing.clone();
    let app = axum::Router::new().route(
        "/healthz",
        axum::routing::get(move || {
            let flag = flag.clone();
            async move {
                if flag.load(std::sync::atomic::Ordering::Relaxed) {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}/healthz", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let config = format!(
        "version: nines/v1\nservices: [{{id: web, runbooks: [https://runbooks.example.com/web]}}]\nslos:\n  - id: web-probe\n    service: web\n    objective_percent: 99\n    window: 7d\n    sli: {{probe: {{url: \"{target}\", interval: 1s, timeout: 1s}}}}\n"
    );
    let folder = folder("probes");
    let server = TestServer::start(&folder, &config).await;
    // Poll (bounded) rather than sleep a fixed time: a loaded machine may run checks late.
    let wait_for = |check: Box<dyn Fn(u64, u64) -> bool + Send>| {
        let server = &server;
        async move {
            for _ in 0..100 {
                let counts = totals(server, "web-probe").await;
                if check(counts.0, counts.1) {
                    return counts;
                }
            }
            totals(server, "web-probe").await
        }
    };
    let (bad, total) = wait_for(Box::new(|_, total| total >= 2)).await;
    assert_eq!(bad, 0);
    assert!(total >= 2, "{total} checks");
    failing.store(true, std::sync::atomic::Ordering::Relaxed);
    let (bad_after, total_after) = wait_for(Box::new(|bad, _| bad >= 2)).await;
    assert!(bad_after >= 2, "{bad_after} bad of {total_after}");
    // Every check after the switch is bad: the good ones grew by at most the check that was
    // in flight when the target started failing.
    assert!(
        total_after - bad_after <= total + 1,
        "{bad_after} bad of {total_after}, {total} good before"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}
