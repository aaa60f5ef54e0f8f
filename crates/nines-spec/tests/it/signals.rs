//! Tests of services' `signals:`: PromQL for the golden signals nines cannot count itself, read
//! into the catalog, its source resolved across files, and every problem reported at once.

use nines_spec::{LoadOptions, Loaded, ServiceSignals, load_texts};

fn load(texts: &[(&str, &str)]) -> Loaded {
    let texts: Vec<(String, String)> = texts
        .iter()
        .map(|(name, text)| (name.to_string(), text.to_string()))
        .collect();
    load_texts(&texts, &LoadOptions::default())
}

/// Loads `texts` and compares every diagnostic, rendered `file:line:column: level: path: message`.
#[track_caller]
fn check(texts: &[(&str, &str)], expected: &[&str]) -> Loaded {
    let loaded = load(texts);
    let got: Vec<String> = loaded
        .report
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(got, expected, "\nall diagnostics:\n{}", loaded.report);
    loaded
}

fn signals_of<'a>(loaded: &'a Loaded, service: &str) -> Option<&'a ServiceSignals> {
    let Some(entry) = loaded.catalog.service(service) else {
        panic!("no service {service}:\n{}", loaded.report)
    };
    entry.signals.as_ref()
}

const SOURCES: &str = "version: nines/v1
sources:
  - id: prom
    kind: prometheus
    url: http://prometheus:9090
";

#[test]
fn every_signal_is_read_and_its_source_found_in_another_file() {
    let services = r#"version: nines/v1
services:
  - id: checkout
    signals:
      source: prom
      traffic: sum(rate(http_requests_total{job="checkout"}[5m]))
      errors: sum(rate(http_requests_total{job="checkout",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="checkout"}[5m]))
      latency: http_request_duration_seconds_bucket{job="checkout"}
      saturation: max(container_memory_working_set_bytes{pod=~"checkout-.*"} / container_spec_memory_limit_bytes{pod=~"checkout-.*"})
  - id: search
    signals: {source: prom, latency: rpc_seconds_bucket}
  - id: cart
"#;
    let loaded = check(
        &[("services.yaml", services), ("sources.yaml", SOURCES)],
        &[],
    );
    assert_eq!(
        signals_of(&loaded, "checkout"),
        Some(&ServiceSignals {
            source: "prom".to_string(),
            traffic: Some("sum(rate(http_requests_total{job=\"checkout\"}[5m]))".to_string()),
            errors: Some("sum(rate(http_requests_total{job=\"checkout\",code=~\"5..\"}[5m])) / sum(rate(http_requests_total{job=\"checkout\"}[5m]))".to_string()),
            latency: Some("http_request_duration_seconds_bucket{job=\"checkout\"}".to_string()),
            saturation: Some("max(container_memory_working_set_bytes{pod=~\"checkout-.*\"} / container_spec_memory_limit_bytes{pod=~\"checkout-.*\"})".to_string()),
        })
    );
    let search = signals_of(&loaded, "search").unwrap();
    assert_eq!(
        (search.latency.as_deref(), search.traffic.as_deref()),
        (Some("rpc_seconds_bucket"), None)
    );
    assert_eq!(signals_of(&loaded, "cart"), None);
}

#[test]
fn an_openslo_prometheus_data_source_serves_signals() {
    let data_source = "apiVersion: openslo/v1
kind: DataSource
metadata:
  name: prom-eu
spec:
  type: Prometheus
  connectionDetails:
    url: https://prometheus.eu.example.com
";
    let services = "version: nines/v1\nservices:\n  - id: api\n    signals:\n      source: prom-eu\n      traffic: sum(rate(x_total[5m]))\n";
    let loaded = check(
        &[("sources.yaml", data_source), ("services.yaml", services)],
        &[],
    );
    assert_eq!(
        signals_of(&loaded, "api").map(|s| s.source.as_str()),
        Some("prom-eu")
    );
}

#[test]
fn every_problem_of_the_queries_is_reported_at_once_and_the_service_stays_defined() {
    let services = r#"version: nines/v1
services:
  - id: checkout
    runbooks: [https://runbooks/checkout]
    signals:
      source: prom
      traffic: sum(rate(http_requests_total[5m])
      errors: http_requests_total{code=~"5.."}[5m]
      latency: histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))
      saturation: max(rate(cpu_seconds_total[{{.window}}]))
  - id: search
    runbooks: [https://runbooks/search]
    signals:
      source: prom
      latency: rpc_seconds_bucket{le="0.5"}
  - id: cart
    runbooks: [https://runbooks/cart]
    signals:
      source: prom
      latency: rpc_seconds{job="cart"}
  - id: basket
    runbooks: [https://runbooks/basket]
    signals: {source: prom, trafic: sum(up)}
  - id: orders
    runbooks: [https://runbooks/orders]
    signals: {traffic: sum(up)}
slos:
  - id: checkout-availability
    service: checkout
    objective_percent: 99
    window: 30d
    sli: {pushed: {}}
  - id: basket-availability
    service: basket
    objective_percent: 99
    window: 30d
    sli: {pushed: {}}
"#;
    let loaded = check(
        &[("services.yaml", services), ("sources.yaml", SOURCES)],
        &[
            "services.yaml:7:7: error: services[0].signals.traffic: invalid PromQL: unclosed left parenthesis",
            "services.yaml:8:7: error: services[0].signals.errors: the query gives a matrix: a range query needs an instant vector or a scalar (wrap a range in a function such as rate())",
            "services.yaml:9:7: error: services[0].signals.latency: \"histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))\" is not a series selector: write a metric name with optional label matchers, like http_requests_total{job=\"api\"}",
            "services.yaml:10:7: error: services[0].signals.saturation: invalid PromQL: unexpected character inside brackets: '{' (this query is sent as written: put the range itself, like [5m], where a {{.window}} placeholder would go)",
            "services.yaml:15:7: error: services[1].signals.latency: \"rpc_seconds_bucket{le=\\\"0.5\\\"}\" has an `le` matcher: nines takes every bucket, asking for histogram_quantile(q, sum by (le) (rate(<latency>[5m])))",
            "services.yaml:20:7: warning: services[2].signals.latency: \"rpc_seconds\" is not a histogram's _bucket series: nines asks for histogram_quantile(q, sum by (le) (rate(<latency>[5m]))), which needs the buckets (like http_request_duration_seconds_bucket)",
            "services.yaml:23:29: error: services[3].signals.trafic: unknown field `trafic`, expected one of `source`, `traffic`, `errors`, `latency`, `saturation`",
            "services.yaml:26:5: error: services[4].signals: missing field `source`",
        ],
    );
    // Each service is defined, so the SLOs naming them are not reported; none keeps signals
    // that have an error.
    for service in ["checkout", "search", "basket", "orders"] {
        assert_eq!(signals_of(&loaded, service), None, "{service}");
    }
    assert!(signals_of(&loaded, "cart").is_some());
}

#[test]
fn the_source_must_be_a_prometheus_source() {
    let services = "version: nines/v1
services:
  - id: checkout
    signals: {source: prometheus, traffic: sum(up)}
  - id: search
    signals: {source: datadog, traffic: sum(up)}
  - id: cart
    signals: {source: broken, traffic: sum(up)}
  - id: basket
    signals: {source: prom-no-url, traffic: sum(up)}
";
    let sources = "version: nines/v1
sources:
  - id: prom
    kind: prometheus
    url: http://prometheus:9090
  - id: broken
    kind: graphite
    url: http://graphite
";
    let data_sources = "apiVersion: openslo/v1
kind: DataSource
metadata:
  name: datadog
spec:
  type: Datadog
  connectionDetails:
    site: datadoghq.eu
---
apiVersion: openslo/v1
kind: DataSource
metadata:
  name: prom-no-url
spec:
  type: Prometheus
";
    let loaded = check(
        &[
            ("services.yaml", services),
            ("sources.yaml", sources),
            ("openslo.yaml", data_sources),
        ],
        &[
            "openslo.yaml:14:1: warning: spec.connectionDetails: DataSource \"prom-no-url\" of type Prometheus has no connectionDetails url: nines cannot pull from it, and SLIs using it take the default source, if there is one",
            "services.yaml:4:15: error: services[0].signals.source: source \"prometheus\" is not defined in any file; the sources are prom",
            "services.yaml:6:15: error: services[1].signals.source: source \"datadog\" is an OpenSLO DataSource of type Datadog: signals are queried from Prometheus sources only",
            "services.yaml:10:15: error: services[3].signals.source: source \"prom-no-url\" is an OpenSLO DataSource without a usable connectionDetails url: nines cannot query it",
            // The broken source is reported once, where it is written.
            "sources.yaml:7:5: error: sources[1].kind: unknown source kind \"graphite\": expected prometheus (the only kind nines pulls from)",
        ],
    );
    for service in ["checkout", "search", "cart", "basket"] {
        assert_eq!(signals_of(&loaded, service), None, "{service}");
    }

    let no_sources = "version: nines/v1\nservices:\n  - id: api\n    signals: {source: prom, traffic: sum(up)}\n";
    check(
        &[("services.yaml", no_sources)],
        &[
            "services.yaml:4:15: error: services[0].signals.source: source \"prom\" is not defined in any file (define it under sources)",
        ],
    );
}

#[test]
fn signals_without_a_query_are_worth_a_warning() {
    let services = "version: nines/v1\nservices:\n  - id: api\n    signals: {source: prom}\n";
    let loaded = check(
        &[("services.yaml", services), ("sources.yaml", SOURCES)],
        &[
            "services.yaml:4:5: warning: services[0].signals: signals names no query (traffic, errors, latency, saturation): nothing is asked of its source",
        ],
    );
    assert!(signals_of(&loaded, "api").is_some());
}
