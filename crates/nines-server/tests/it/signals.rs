//! The golden signals of a service end to end: events pushed to a running server become its
//! traffic and bad share, and its `signals:` queries go to a Prometheus HTTP API on loopback.
//!
//! The Prometheus here is a small fake of its HTTP API, not the real server (whose binary these
//! tests do not need): it answers `POST /api/v1/query_range` in Prometheus' JSON, with points at
//! exactly the `start`, `step` and `end` it is sent, and values that follow from the query and
//! the time, so that a wrong range, step or query shows. One query answers 503, one too slowly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use nines_server::ui::signals::{GoldenSignals, QUERY_TIMEOUT, Signal, golden_signals};
use serde_json::json;

use crate::pull::url_pairs;
use crate::support::{TestServer, folder};

fn config(port: u16) -> String {
    format!(
        r#"version: nines/v1
sources:
  - id: prom
    kind: prometheus
    url: http://127.0.0.1:{port}/prom
services:
  - id: checkout
    runbooks: [https://runbooks.example.com/checkout]
    signals:
      source: prom
      traffic: sum(rate(http_requests_total{{job="checkout"}}[5m]))
      errors: sum(rate(http_requests_total{{job="checkout",code=~"5.."}}[5m])) / sum(rate(http_requests_total{{job="checkout"}}[5m]))
      latency: http_request_duration_seconds_bucket{{job="checkout"}}
      saturation: max(slow_gauge{{job="checkout"}})
  - id: search
    runbooks: [https://runbooks.example.com/search]
slos:
  - id: checkout-availability
    service: checkout
    objective_percent: 99
    window: 7d
    sli: {{pushed: {{}}}}
  - id: checkout-quiet
    service: checkout
    objective_percent: 99
    window: 7d
    sli: {{pushed: {{}}}}
  - id: search-availability
    service: search
    objective_percent: 99
    window: 7d
    sli: {{pushed: {{}}}}
"#
    )
}

/// The traffic the fake answers at unix second `at` for a step of `step` seconds.
fn fake_traffic(at: i64, step: i64) -> f64 {
    ((at / step) % 7) as f64
}

/// Form fields of every query the fake was sent.
type Seen = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// A Prometheus HTTP API under `/prom`: traffic follows [`fake_traffic`], a quantile query
/// answers its quantile, the error ratio answers 503, and `slow_gauge` answers after the
/// page's timeout.
async fn fake_prometheus() -> (u16, Seen) {
    let seen: Seen = Arc::default();
    let kept = seen.clone();
    let router = axum::Router::new().route(
        "/prom/api/v1/query_range",
        axum::routing::post(move |body: String| {
            let kept = kept.clone();
            async move {
                use axum::response::IntoResponse;
                let form: HashMap<String, String> = url_pairs(&body).into_iter().collect();
                kept.lock().unwrap().push(form.clone());
                let query = form["query"].clone();
                let number = |name: &str| form[name].parse::<i64>().unwrap();
                let (start, end, step) = (number("start"), number("end"), number("step"));
                if query.contains("code=~") {
                    return (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        "overloaded, try later",
                    )
                        .into_response();
                }
                if query.contains("slow_gauge") {
                    tokio::time::sleep(QUERY_TIMEOUT + Duration::from_secs(2)).await;
                }
                let value = |at: i64| -> f64 {
                    match query.strip_prefix("histogram_quantile(") {
                        Some(rest) => rest.split(',').next().unwrap().parse().unwrap(),
                        None => fake_traffic(at, step),
                    }
                };
                // A gap at the second point, as Prometheus leaves one where a series has none.
                let values: Vec<serde_json::Value> = (0..)
                    .map(|index| start + index * step)
                    .take_while(|at| *at <= end)
                    .filter(|at| *at != start + step)
                    .map(|at| json!([at, value(at).to_string()]))
                    .collect();
                axum::Json(json!({
                    "status": "success",
                    "data": {"resultType": "matrix", "result": [{"metric": {}, "values": values}]}
                }))
                .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (port, seen)
}

fn signal<'a>(signals: &'a GoldenSignals, name: &str, origin: &str) -> &'a Signal {
    signals
        .signals
        .iter()
        .find(|signal| signal.name == name && signal.origin == origin)
        .unwrap_or_else(|| panic!("no {name} from {origin}: {signals:#?}"))
}

fn value_at(series: &[(i64, f64)], at_ms: i64) -> f64 {
    series
        .iter()
        .find(|(at, _)| *at == at_ms)
        .map(|(_, value)| *value)
        .unwrap_or_else(|| panic!("no point at {at_ms}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_and_prometheus_give_the_golden_signals_and_failures_are_problem_lines() {
    let dir = folder("signals");
    let (port, seen) = fake_prometheus().await;
    let server = TestServer::start(&dir, &config(port)).await;
    let state = &server.running.as_ref().unwrap().state;

    let to = Timestamp::now();
    let from = to - SignedDuration::from_hours(2);
    // 57 good of 60 in one minute, half an hour ago; and events of another service.
    let pushed_at = to - SignedDuration::from_mins(30);
    for (slo, good, total) in [
        ("checkout-availability", 57, 60),
        ("search-availability", 1, 600),
    ] {
        let (status, body) = server
            .post_json(
                &format!("/api/v1/slos/{slo}/events"),
                json!({"good": good, "total": total, "at": pushed_at.to_string()}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }

    let started = std::time::Instant::now();
    let signals = golden_signals(state, "checkout", from, to).await;
    let took = started.elapsed();
    // The slow query costs the page its timeout, no more.
    assert!(took < QUERY_TIMEOUT + Duration::from_secs(2), "{took:?}");

    let names: Vec<(&str, &str)> = signals
        .signals
        .iter()
        .map(|signal| (signal.name, signal.origin.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("traffic", "nines counts"),
            ("traffic", "prometheus prom"),
            ("errors", "nines counts"),
            ("latency", "prometheus prom"),
        ]
    );

    // Two hours step by the minute: the point ending the pushed minute has its events.
    let native = signal(&signals, "traffic", "nines counts");
    assert_eq!(native.unit, "per_second");
    let labels: Vec<&str> = native
        .series
        .iter()
        .map(|(label, _)| label.as_str())
        .collect();
    assert_eq!(
        labels,
        ["checkout-availability"],
        "the quiet SLO has no data"
    );
    let points = &native.series[0].1;
    assert_eq!(points.len(), 120);
    let pushed_point = (pushed_at.as_second().div_euclid(60) + 1) * 60_000;
    assert_eq!(value_at(points, pushed_point), 1.0);
    assert_eq!(value_at(points, pushed_point + 60_000), 0.0);
    assert!(
        value_at(points, pushed_point - 60_000).is_nan(),
        "no data before the first row"
    );
    let errors = signal(&signals, "errors", "nines counts");
    assert_eq!(errors.unit, "ratio");
    assert!((value_at(&errors.series[0].1, pushed_point) - 0.05).abs() < 1e-12);

    // Prometheus' traffic, on the same times, with the gap it left.
    let traffic = signal(&signals, "traffic", "prometheus prom");
    assert_eq!(traffic.series.len(), 1);
    let (label, points) = &traffic.series[0];
    assert_eq!(label, "traffic");
    let times: Vec<i64> = points.iter().map(|(at, _)| *at).collect();
    let native_times: Vec<i64> = native.series[0].1.iter().map(|(at, _)| *at).collect();
    assert_eq!(times, native_times);
    assert!(points[1].1.is_nan());
    for (at_ms, value) in points.iter().filter(|(_, value)| !value.is_nan()) {
        assert_eq!(*value, fake_traffic(at_ms / 1000, 60), "at {at_ms}");
    }
    assert_eq!(points.iter().filter(|(_, value)| value.is_nan()).count(), 1);

    let latency = signal(&signals, "latency", "prometheus prom");
    assert_eq!(latency.unit, "seconds");
    let quantiles: Vec<(&str, f64)> = latency
        .series
        .iter()
        .map(|(label, points)| (label.as_str(), points[0].1))
        .collect();
    assert_eq!(quantiles, [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)]);

    // The failures, one line each, naming the signal and the source.
    assert_eq!(signals.problems.len(), 2, "{:#?}", signals.problems);
    let errors_problem = &signals.problems[0];
    assert!(
        errors_problem.starts_with("errors: prometheus prom: HTTP 503 from")
            && errors_problem.contains("overloaded, try later"),
        "{errors_problem}"
    );
    assert_eq!(
        signals.problems[1],
        format!(
            "saturation: prometheus prom: no answer from http://127.0.0.1:{port}/prom within {} s",
            QUERY_TIMEOUT.as_secs()
        )
    );

    // What was asked: the queries as written, over the grid's times.
    let seen = seen.lock().unwrap().clone();
    let mut queries: Vec<&str> = seen.iter().map(|form| form["query"].as_str()).collect();
    queries.sort();
    assert_eq!(
        queries,
        [
            "histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{job=\"checkout\"}[5m])))",
            "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job=\"checkout\"}[5m])))",
            "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job=\"checkout\"}[5m])))",
            "max(slow_gauge{job=\"checkout\"})",
            "sum(rate(http_requests_total{job=\"checkout\",code=~\"5..\"}[5m])) / sum(rate(http_requests_total{job=\"checkout\"}[5m]))",
            "sum(rate(http_requests_total{job=\"checkout\"}[5m]))",
        ]
    );
    for form in &seen {
        assert_eq!(form["step"], "60");
        assert_eq!(form["start"].parse::<i64>().unwrap() * 1000, times[0]);
        assert_eq!(
            form["end"].parse::<i64>().unwrap() * 1000,
            times[times.len() - 1]
        );
    }

    // A service without `signals:` asks nothing of Prometheus.
    let before = seen.len();
    let search = golden_signals(state, "search", from, to).await;
    let names: Vec<(&str, &str)> = search
        .signals
        .iter()
        .map(|signal| (signal.name, signal.origin.as_str()))
        .collect();
    assert_eq!(
        names,
        [("traffic", "nines counts"), ("errors", "nines counts")]
    );
    assert!(search.problems.is_empty(), "{:?}", search.problems);
    assert_eq!(value_at(&search.signals[0].series[0].1, pushed_point), 10.0);
    assert!((value_at(&search.signals[1].series[0].1, pushed_point) - 599.0 / 600.0).abs() < 1e-12);
    assert_eq!(seen.len(), before);

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_source_and_an_empty_range_are_problems_not_failures() {
    let dir = folder("signals-unreachable");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let server = TestServer::start(&dir, &config(port)).await;
    let state = &server.running.as_ref().unwrap().state;

    let to = Timestamp::now();
    let signals = golden_signals(state, "checkout", to - SignedDuration::from_hours(24), to).await;
    assert!(signals.signals.is_empty(), "{signals:#?}");
    let prefixes: Vec<&str> = signals
        .problems
        .iter()
        .map(|problem| {
            problem
                .split(": prometheus prom: cannot reach")
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        prefixes,
        ["traffic", "errors", "latency", "saturation"],
        "{:#?}",
        signals.problems
    );

    let empty = golden_signals(state, "checkout", to, to).await;
    assert!(empty.signals.is_empty());
    assert_eq!(empty.problems.len(), 1);
    assert!(
        empty.problems[0].contains("shorter than a minute"),
        "{:?}",
        empty.problems
    );
    server.stop().await;
}
