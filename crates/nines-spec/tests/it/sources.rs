//! Tests of data sources: the native `sources:` section and its checks, an SLO's `sli.source`,
//! the default source for query SLIs of every format, OpenSLO DataSources that become sources,
//! and the warning for ratio selectors that do not look like counters.

use std::collections::BTreeMap;

use nines_core::Span;
use nines_spec::{
    LoadOptions, Loaded, PrometheusSource, Sli, Source, SourceAuth, SourceKind, load_texts,
};

use crate::support::conformance;

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

fn prometheus(source: &Source) -> &PrometheusSource {
    let SourceKind::Prometheus(prometheus) = &source.kind;
    prometheus
}

fn source_of<'a>(loaded: &'a Loaded, slo: &str) -> Option<&'a str> {
    let Some(def) = loaded.catalog.slo(slo) else {
        panic!("no SLO {slo}:\n{}", loaded.report)
    };
    def.source.as_deref()
}

const SERVICE: &str =
    "version: nines/v1\nservices:\n  - id: api\n    runbooks: [https://runbooks/api]\n";

/// A native SLO `id` of service `api` with the SLI written after `sli:` (indented by 6).
fn native_slo(id: &str, sli: &str) -> String {
    format!(
        "  - id: {id}\n    service: api\n    objective_percent: 99\n    window: 30d\n    sli:\n{sli}"
    )
}

const QUERIES: &str = "      queries:\n        error_query: sum(rate(http_requests_total{code=~\"5..\"}[{{.window}}]))\n        total_query: sum(rate(http_requests_total[{{.window}}]))\n";
const RATIO: &str = "      ratio:\n        total: http_requests_total\n        bad: http_requests_total{code=~\"5..\"}\n";

const SLOTH: &str = r#"version: prometheus/v1
service: svc
slos:
  - name: errors
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      page_alert: {disable: true}
      ticket_alert: {disable: true}
"#;

#[test]
fn native_sources_read_with_defaults_and_with_every_field() {
    let text = r#"version: nines/v1
sources:
  - id: prom
    kind: prometheus
    url: http://prometheus:9090/
  - id: mimir
    kind: prometheus
    url: https://mimir.example.com/prometheus
    auth:
      basic: {username: nines, password_env: MIMIR_PASSWORD}
    headers: {X-Scope-OrgID: team-a}
    timeout: 10s
    delay: 0s
    chunk: 7d
    concurrency: 64
    default: true
  - id: thanos
    kind: prometheus
    url: http://thanos:10902
    auth: {bearer_token_env: THANOS_TOKEN}
"#;
    let loaded = check(&[("sources.yaml", text)], &[]);
    let sources = &loaded.catalog.sources;
    let ids: Vec<&str> = sources.iter().map(|source| source.id.as_str()).collect();
    assert_eq!(ids, ["prom", "mimir", "thanos"]);

    let prom = &sources[0];
    assert!(!prom.default);
    assert_eq!(
        (
            prom.origin.file.as_str(),
            prom.origin.line,
            prom.origin.path.as_str()
        ),
        ("sources.yaml", 3, "sources[0]")
    );
    assert_eq!(
        prometheus(prom),
        &PrometheusSource {
            url: "http://prometheus:9090".to_string(),
            auth: None,
            headers: BTreeMap::new(),
            timeout: Span::seconds(30),
            delay: Span::minutes(1),
            chunk: Span::days(1),
            concurrency: 8,
        }
    );

    let mimir = &sources[1];
    assert!(mimir.default);
    assert_eq!(
        prometheus(mimir),
        &PrometheusSource {
            url: "https://mimir.example.com/prometheus".to_string(),
            auth: Some(SourceAuth::Basic {
                username: "nines".to_string(),
                password_env: "MIMIR_PASSWORD".to_string(),
            }),
            headers: BTreeMap::from([("X-Scope-OrgID".to_string(), "team-a".to_string())]),
            timeout: Span::seconds(10),
            delay: Span::ZERO,
            chunk: Span::days(7),
            concurrency: 64,
        }
    );
    assert_eq!(
        prometheus(&sources[2]).auth,
        Some(SourceAuth::Bearer {
            token_env: "THANOS_TOKEN".to_string()
        })
    );
}

#[test]
fn bad_sources_are_placed_at_file_line_and_field() {
    let source = |fields: &str| {
        format!("version: nines/v1\nsources:\n  - id: prom\n    kind: prometheus\n{fields}")
    };
    let url = "    url: http://prometheus:9090\n";
    let cases: &[(String, &str)] = &[
        (
            source("    url: prometheus:9090\n"),
            r#"test.yaml:5:5: error: sources[0].url: "prometheus:9090" is not an absolute http(s) URL like http://prometheus:9090"#,
        ),
        (
            source("    url: http://prometheus:9090/api/v1?x=1\n"),
            r#"test.yaml:5:5: error: sources[0].url: "http://prometheus:9090/api/v1?x=1" has a query or a fragment: a source URL is the base the API paths are added to"#,
        ),
        (
            source("    url: http://nines:secret@prometheus:9090\n"),
            r#"test.yaml:5:5: error: sources[0].url: "http://nines:secret@prometheus:9090" carries credentials: put them in `auth`, read from the environment"#,
        ),
        (
            "version: nines/v1\nsources:\n  - id: prom\n    kind: graphite\n    url: http://graphite\n".to_string(),
            r#"test.yaml:4:5: error: sources[0].kind: unknown source kind "graphite": expected prometheus (the only kind nines pulls from)"#,
        ),
        (
            source(&format!(
                "{url}    auth:\n      bearer_token_env: PROM_TOKEN\n      basic: {{username: nines, password_env: PROM_PASSWORD}}\n"
            )),
            "test.yaml:6:5: error: sources[0].auth: set exactly one of bearer_token_env and basic",
        ),
        (
            source(&format!("{url}    auth: {{bearer_token_env: prom-token}}\n")),
            r#"test.yaml:6:12: error: sources[0].auth.bearer_token_env: "prom-token" is not an environment variable name: use letters, digits and '_', not starting with a digit (the secret itself is never written in a file)"#,
        ),
        (
            source(&format!(
                "{url}    auth:\n      basic: {{username: nines, password_env: 1PASSWORD}}\n"
            )),
            r#"test.yaml:7:32: error: sources[0].auth.basic.password_env: "1PASSWORD" is not an environment variable name: use letters, digits and '_', not starting with a digit (the secret itself is never written in a file)"#,
        ),
        (
            source(&format!(
                "{url}    auth:\n      basic: {{username: 'nines:x', password_env: PROM_PASSWORD}}\n"
            )),
            "test.yaml:7:15: error: sources[0].auth.basic.username: a basic auth username must be non-empty and without ':'",
        ),
        (
            source(&format!("{url}    headers:\n      Authorization: Bearer abc\n")),
            "test.yaml:7:7: error: sources[0].headers.Authorization: the Authorization header is not set here: use `auth` (bearer_token_env or basic), whose secret is read from the environment",
        ),
        (
            source(&format!("{url}    headers: {{\"X Org\": a}}\n")),
            r#"test.yaml:6:15: error: sources[0].headers.X Org: "X Org" is not an HTTP header name: use letters, digits and '-'"#,
        ),
        (
            source(&format!("{url}    timeout: 0s\n")),
            "test.yaml:6:5: error: sources[0].timeout: timeout 0s must be above 0 and at most 5m",
        ),
        (
            source(&format!("{url}    timeout: 10m\n")),
            "test.yaml:6:5: error: sources[0].timeout: timeout 10m must be above 0 and at most 5m",
        ),
        (
            source(&format!("{url}    delay: 2h\n")),
            "test.yaml:6:5: error: sources[0].delay: delay 2h must be at most 1h",
        ),
        (
            source(&format!("{url}    chunk: 30m\n")),
            "test.yaml:6:5: error: sources[0].chunk: chunk 30m must be between 1h and 7d: queries step by 1 minute and Prometheus answers at most 11,000 points per series",
        ),
        (
            source(&format!("{url}    chunk: 8d\n")),
            "test.yaml:6:5: error: sources[0].chunk: chunk 8d must be between 1h and 7d: queries step by 1 minute and Prometheus answers at most 11,000 points per series",
        ),
        (
            source(&format!("{url}    concurrency: 0\n")),
            "test.yaml:6:5: error: sources[0].concurrency: concurrency 0 must be between 1 and 64",
        ),
        (
            source(&format!("{url}    timeout: soon\n")),
            r#"test.yaml:6:5: error: sources[0].timeout: invalid duration "soon": expected a number followed by a unit (s, m, h, d, w), for example 5m or 30d"#,
        ),
        (
            source(&format!("{url}    token: abc\n")),
            "test.yaml:6:5: error: sources[0].token: unknown field `token`, expected one of `id`, `kind`, `url`, `auth`, `headers`, `timeout`, `delay`, `chunk`, `concurrency`, `default`",
        ),
        (
            format!("version: nines/v1\nsources:\n  - id: prom/eu\n    kind: prometheus\n{url}"),
            r#"test.yaml:3:5: error: sources[0].id: id "prom/eu" has '/'; use letters, digits, '-', '_', '.' and ':'"#,
        ),
    ];
    for (text, expected) in cases {
        let loaded = check(&[("test.yaml", text)], &[expected]);
        assert!(loaded.catalog.sources.is_empty(), "{text}");
    }
}

#[test]
fn source_ids_are_unique_across_files_and_one_source_at_most_is_the_default() {
    let a = "version: nines/v1\nsources:\n  - {id: prom, kind: prometheus, url: http://a:9090, default: true}\n";
    let b = "version: nines/v1\nsources:\n  - {id: prom, kind: prometheus, url: http://b:9090}\n  - {id: thanos, kind: prometheus, url: http://thanos:10902, default: true}\n";
    let loaded = check(
        &[("a.yaml", a), ("b.yaml", b)],
        &[
            r#"b.yaml:3:6: error: sources[0].id: duplicate source id "prom": also defined at a.yaml:3"#,
            r#"b.yaml:4:62: error: sources[1].default: source "thanos" is the default, and so is "prom" (a.yaml:3): mark one source `default: true`"#,
        ],
    );
    let urls: Vec<&str> = loaded
        .catalog
        .sources
        .iter()
        .map(|source| prometheus(source).url.as_str())
        .collect();
    assert_eq!(urls, ["http://a:9090"]);
}

#[test]
fn an_slo_names_a_defined_source_and_only_for_a_query_or_counter_sli() {
    let sources = "sources:\n  - {id: prom, kind: prometheus, url: http://prometheus:9090}\n";
    let slos = [
        native_slo("named", &format!("      source: prom\n{QUERIES}")),
        native_slo("unknown", &format!("      source: victoria\n{RATIO}")),
        native_slo("pushed", "      source: prom\n      pushed: {}\n"),
        native_slo(
            "probe",
            "      source: prom\n      probe: {url: http://api/healthz}\n",
        ),
    ];
    let text = format!("{SERVICE}{sources}slos:\n{}", slos.concat());
    let loaded = check(
        &[("test.yaml", &text)],
        &[
            r#"test.yaml:22:7: error: slos[1].sli.source: source "victoria" is not defined in any file; the sources are prom"#,
            "test.yaml:31:7: error: slos[2].sli.source: a pushed SLI takes no source: its counts are posted to nines",
            "test.yaml:38:7: error: slos[3].sli.source: a probe SLI takes no source: nines' own probe feeds it",
        ],
    );
    assert_eq!(source_of(&loaded, "named"), Some("prom"));
    assert_eq!(loaded.catalog.slos.len(), 1);

    // Without any source defined, the message says where sources go.
    let text = format!(
        "{SERVICE}slos:\n{}",
        native_slo("named", &format!("      source: prom\n{QUERIES}"))
    );
    check(
        &[("test.yaml", &text)],
        &[
            r#"test.yaml:11:7: error: slos[0].sli.source: source "prom" is not defined in any file (define it under sources)"#,
        ],
    );
}

#[test]
fn a_source_with_problems_is_not_reported_again_where_an_slo_names_it() {
    let text = format!(
        "{SERVICE}sources:\n  - {{id: prom, kind: prometheus, url: prometheus}}\nslos:\n{}",
        native_slo("named", &format!("      source: prom\n{QUERIES}"))
    );
    let loaded = check(
        &[("test.yaml", &text)],
        &[
            r#"test.yaml:6:34: error: sources[0].url: "prometheus" is not an absolute http(s) URL like http://prometheus:9090"#,
        ],
    );
    assert_eq!(source_of(&loaded, "named"), Some("prom"));
}

#[test]
fn query_slis_without_a_source_take_the_default_one() {
    let slos = format!(
        "slos:\n{}{}{}",
        native_slo("queries", QUERIES),
        native_slo("counters", RATIO),
        native_slo("pushed", "      pushed: {}\n"),
    );
    let native = format!("{SERVICE}{slos}");
    let one = "version: nines/v1\nsources:\n  - {id: prom, kind: prometheus, url: http://prometheus:9090}\n";

    // The only source is the default.
    let loaded = check(
        &[
            ("slos.yaml", &native),
            ("sloth.yaml", SLOTH),
            ("sources.yaml", one),
        ],
        &[],
    );
    assert_eq!(source_of(&loaded, "queries"), Some("prom"));
    assert_eq!(source_of(&loaded, "svc-errors"), Some("prom"));
    // Counters and pushed counts stay pushed unless they name a source.
    assert_eq!(source_of(&loaded, "counters"), None);
    assert_eq!(source_of(&loaded, "pushed"), None);

    // Of several, the one marked default.
    let several = "version: nines/v1\nsources:\n  - {id: prom, kind: prometheus, url: http://prometheus:9090}\n  - {id: thanos, kind: prometheus, url: http://thanos:10902, default: true}\n";
    let loaded = check(
        &[
            ("slos.yaml", &native),
            ("sloth.yaml", SLOTH),
            ("sources.yaml", several),
        ],
        &[],
    );
    assert_eq!(source_of(&loaded, "queries"), Some("thanos"));
    assert_eq!(source_of(&loaded, "svc-errors"), Some("thanos"));
    assert_eq!(source_of(&loaded, "counters"), None);

    // A source named by the SLO wins over the default.
    let named = format!(
        "{SERVICE}slos:\n{}",
        native_slo("named", &format!("      source: prom\n{QUERIES}"))
    );
    let loaded = check(&[("slos.yaml", &named), ("sources.yaml", several)], &[]);
    assert_eq!(source_of(&loaded, "named"), Some("prom"));

    // No source at all: nothing is said, and nothing is pulled.
    let loaded = check(&[("slos.yaml", &native), ("sloth.yaml", SLOTH)], &[]);
    assert!(loaded.catalog.slos.iter().all(|slo| slo.source.is_none()));
}

#[test]
fn several_sources_and_no_default_leave_query_slis_unevaluated_with_a_warning() {
    let native = format!(
        "{SERVICE}slos:\n{}{}",
        native_slo("queries", QUERIES),
        native_slo("counters", RATIO)
    );
    let sources = "version: nines/v1\nsources:\n  - {id: prom, kind: prometheus, url: http://prometheus:9090}\n  - {id: thanos, kind: prometheus, url: http://thanos:10902}\n";
    let loaded = check(
        &[
            ("slos.yaml", &native),
            ("sloth.yaml", SLOTH),
            ("sources.yaml", sources),
        ],
        &[
            r#"slos.yaml:6: warning: slos[0]: SLO "queries" names no source, and none of the sources (prom, thanos) is the default: it will not be evaluated until it names one (`sli.source` in nines/v1, `metricSourceRef` in OpenSLO) or one source is marked `default: true`"#,
            r#"sloth.yaml:4: warning: slos[0]: SLO "svc-errors" names no source, and none of the sources (prom, thanos) is the default: it will not be evaluated until it names one (`sli.source` in nines/v1, `metricSourceRef` in OpenSLO) or one source is marked `default: true`"#,
        ],
    );
    assert_eq!(source_of(&loaded, "queries"), None);
    assert_eq!(source_of(&loaded, "svc-errors"), None);
}

const OPENSLO_SLI: &str = r#"apiVersion: openslo/v1
kind: SLI
metadata:
  name: api-errors
spec:
  ratioMetric:
    counter: true
    bad:
      metricSource:
        metricSourceRef: prom-eu
        spec:
          query: sum(http_requests_total{job="api",code=~"5.."})
    total:
      metricSource:
        metricSourceRef: prom-eu
        spec:
          query: sum(http_requests_total{job="api"})
---
apiVersion: openslo/v1
kind: SLI
metadata:
  name: inline-errors
spec:
  ratioMetric:
    counter: true
    bad:
      metricSource:
        type: Prometheus
        spec:
          query: sum(http_requests_total{job="web",code=~"5.."})
    total:
      metricSource:
        type: Prometheus
        spec:
          query: sum(http_requests_total{job="web"})
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: api-availability
spec:
  service: api
  indicatorRef: api-errors
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 30d
      isRolling: true
  objectives:
    - targetPercent: 99.9
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: web-availability
spec:
  service: web
  indicatorRef: inline-errors
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 30d
      isRolling: true
  objectives:
    - targetPercent: 99.9
"#;

#[test]
fn openslo_prometheus_data_sources_with_a_url_become_sources() {
    let data_sources = r#"apiVersion: openslo/v1
kind: DataSource
metadata:
  name: prom-eu
spec:
  type: prometheus
  connectionDetails:
    url: https://prometheus.eu.example.com/
    headers: {X-Scope-OrgID: team-a}
    timeout: 10s
---
apiVersion: openslo/v1
kind: DataSource
metadata:
  name: prom-us
spec:
  type: Prometheus
  connectionDetails:
    - address: http://prometheus.us.example.com
"#;
    let loaded = check(
        &[("sources.yaml", data_sources), ("slos.yaml", OPENSLO_SLI)],
        &[
            r#"slos.yaml:51: warning: SLO "web-availability" names no source, and none of the sources (prom-eu, prom-us) is the default: it will not be evaluated until it names one (`sli.source` in nines/v1, `metricSourceRef` in OpenSLO) or one source is marked `default: true`"#,
        ],
    );
    let sources = &loaded.catalog.sources;
    let ids: Vec<&str> = sources.iter().map(|source| source.id.as_str()).collect();
    assert_eq!(ids, ["prom-eu", "prom-us"]);
    assert_eq!(
        prometheus(&sources[0]),
        &PrometheusSource {
            url: "https://prometheus.eu.example.com".to_string(),
            auth: None,
            headers: BTreeMap::from([("X-Scope-OrgID".to_string(), "team-a".to_string())]),
            timeout: Span::seconds(10),
            delay: Span::minutes(1),
            chunk: Span::days(1),
            concurrency: 8,
        }
    );
    assert_eq!((sources[0].origin.line, sources[0].default), (1, false));
    assert_eq!(
        prometheus(&sources[1]).url,
        "http://prometheus.us.example.com"
    );
    assert_eq!(source_of(&loaded, "api-availability"), Some("prom-eu"));
    assert_eq!(source_of(&loaded, "web-availability"), None);

    // A native source marked default serves the SLIs that name no DataSource.
    let default = "version: nines/v1\nsources:\n  - {id: prom, kind: prometheus, url: http://prometheus:9090, default: true}\n";
    let loaded = check(
        &[
            ("sources.yaml", data_sources),
            ("slos.yaml", OPENSLO_SLI),
            ("default.yaml", default),
        ],
        &[],
    );
    assert_eq!(source_of(&loaded, "api-availability"), Some("prom-eu"));
    assert_eq!(source_of(&loaded, "web-availability"), Some("prom"));
}

#[test]
fn openslo_data_sources_without_a_url_or_with_bad_details_are_reported() {
    let no_url = "apiVersion: openslo/v1\nkind: DataSource\nmetadata:\n  name: prom-eu\nspec:\n  type: Prometheus\n";
    let loaded = check(
        &[("sources.yaml", no_url), ("slos.yaml", OPENSLO_SLI)],
        &[
            r#"sources.yaml:5:1: warning: spec.connectionDetails: DataSource "prom-eu" of type Prometheus has no connectionDetails url: nines cannot pull from it, and SLIs using it take the default source, if there is one"#,
        ],
    );
    assert!(loaded.catalog.sources.is_empty());
    // Still read, so that rules can be generated.
    assert!(matches!(
        loaded.catalog.slo("api-availability").map(|slo| &slo.sli),
        Some(Sli::Queries { .. })
    ));
    assert_eq!(source_of(&loaded, "api-availability"), None);

    let bad = r#"apiVersion: openslo/v1
kind: DataSource
metadata:
  name: prom-eu
spec:
  type: Prometheus
  connectionDetails:
    url: prometheus.eu:9090
    headers: {Authorization: Bearer abc}
    timeout: 1h
    apiKey: abc
"#;
    let native = "version: nines/v1\nsources:\n  - {id: prom-us, kind: prometheus, url: http://prometheus:9090}\n";
    let twice = "apiVersion: openslo/v1\nkind: DataSource\nmetadata:\n  name: prom-us\nspec:\n  type: Prometheus\n  connectionDetails: {url: http://us:9090}\n";
    let loaded = check(
        &[
            ("bad.yaml", bad),
            ("native.yaml", native),
            ("twice.yaml", twice),
        ],
        &[
            r#"bad.yaml:8:5: error: spec.connectionDetails.url: "prometheus.eu:9090" is not an absolute http(s) URL like http://prometheus:9090"#,
            "bad.yaml:9:15: error: spec.connectionDetails.headers.Authorization: the Authorization header is not set here: use `auth` (bearer_token_env or basic), whose secret is read from the environment",
            "bad.yaml:10:5: error: spec.connectionDetails.timeout: timeout 1h must be above 0 and at most 5m",
            r#"bad.yaml:11:5: warning: spec.connectionDetails.apiKey: "apiKey" is not used: nines reads url (or address), headers and timeout from a Prometheus DataSource"#,
            r#"twice.yaml:4:3: error: metadata.name: duplicate source id "prom-us": also defined at native.yaml:3"#,
        ],
    );
    let ids: Vec<&str> = loaded
        .catalog
        .sources
        .iter()
        .map(|source| source.id.as_str())
        .collect();
    assert_eq!(ids, ["prom-us"]);
}

#[test]
fn openslo_metric_sources_of_one_sli_name_one_data_source() {
    let data_sources = "apiVersion: openslo/v1\nkind: DataSource\nmetadata:\n  name: prom-eu\nspec:\n  type: Prometheus\n  connectionDetails: {url: http://eu:9090}\n---\napiVersion: openslo/v1\nkind: DataSource\nmetadata:\n  name: prom-us\nspec:\n  type: Prometheus\n  connectionDetails: {url: http://us:9090}\n";
    let split = OPENSLO_SLI.replacen("metricSourceRef: prom-eu", "metricSourceRef: prom-us", 1);
    check(
        &[("sources.yaml", data_sources), ("slos.yaml", &split)],
        &[
            "slos.yaml:6:3: error: spec.ratioMetric: metric sources name different DataSources (bad: prom-us, total: prom-eu); nines pulls an SLI from one source",
            r#"slos.yaml:51: warning: SLO "web-availability" names no source, and none of the sources (prom-eu, prom-us) is the default: it will not be evaluated until it names one (`sli.source` in nines/v1, `metricSourceRef` in OpenSLO) or one source is marked `default: true`"#,
        ],
    );
}

#[test]
fn the_openslo_conformance_data_source_is_a_source() {
    let text = std::fs::read_to_string(conformance("openslo/v1/data_sources.yaml")).unwrap();
    let loaded = check(&[("data_sources.yaml", &text)], &[]);
    let ids: Vec<&str> = loaded
        .catalog
        .sources
        .iter()
        .map(|source| source.id.as_str())
        .collect();
    assert_eq!(ids, ["prometheus"]);
    assert_eq!(
        prometheus(&loaded.catalog.sources[0]).url,
        "http://prometheus.example.com"
    );
}

#[test]
fn ratio_selectors_pulled_from_a_source_should_be_counters() {
    let sources = "sources:\n  - {id: prom, kind: prometheus, url: http://prometheus:9090}\n";
    let slos = [
        native_slo(
            "gauges",
            "      source: prom\n      ratio:\n        total: http_requests_total{job=\"api\"}\n        good: up{job=\"api\"}\n",
        ),
        native_slo(
            "named-by-matcher",
            "      source: prom\n      ratio:\n        total: '{__name__=\"http_in_flight\"}'\n        bad: http_errors_count\n",
        ),
        native_slo(
            "histogram",
            "      source: prom\n      latency: {histogram: http_requests_total, threshold_seconds: 0.3}\n",
        ),
        native_slo(
            "good-histogram",
            "      source: prom\n      latency: {histogram: 'http_request_duration_seconds_bucket{job=\"api\"}', threshold_seconds: 0.3}\n",
        ),
        // Pushed counters are matched by name, whatever it is: nothing is said.
        native_slo(
            "pushed-gauge",
            "      ratio:\n        total: http_requests_total\n        good: up\n",
        ),
    ];
    let text = format!("{SERVICE}{sources}slos:\n{}", slos.concat());
    let loaded = check(
        &[("test.yaml", &text)],
        &[
            r#"test.yaml:16:9: warning: slos[0].sli.ratio.good: "up" may not be a counter: counter names end in _total, _count, _sum or _bucket, and a ratio counts how much its series increase"#,
            r#"test.yaml:24:9: warning: slos[1].sli.ratio.total: "http_in_flight" may not be a counter: counter names end in _total, _count, _sum or _bucket, and a ratio counts how much its series increase"#,
            r#"test.yaml:32:17: warning: slos[2].sli.latency.histogram: "http_requests_total" may not be a histogram: name the histogram (like http_request_duration_seconds) or its _bucket series"#,
        ],
    );
    assert_eq!(loaded.catalog.slos.len(), 5);
}

#[test]
fn invalid_promql_stays_an_error_with_a_source() {
    let sources = "sources:\n  - {id: prom, kind: prometheus, url: http://prometheus:9090}\n";
    let text = format!(
        "{SERVICE}{sources}slos:\n{}",
        native_slo(
            "broken",
            "      source: prom\n      ratio:\n        total: sum(rate(up[5m]))\n        bad: 'errors{code=~\"5..\"'\n",
        )
    );
    check(
        &[("test.yaml", &text)],
        &[
            r#"test.yaml:15:9: error: slos[0].sli.ratio.total: "sum(rate(up[5m]))" is not a series selector: write a metric name with optional label matchers, like http_requests_total{job="api"}"#,
            "test.yaml:16:9: error: slos[0].sli.ratio.bad: invalid series selector: unexpected end of input inside braces",
        ],
    );
}

#[test]
fn a_scenario_says_its_source_is_not_used() {
    let text = "version: nines/v1\nscenario: slow tail\nslo:\n  objective_percent: 99\n  window: 28d\n  sli:\n    source: prom\n    latency: {histogram: http_request_duration_seconds, threshold_seconds: 0.3}\nstep: 10s\nrequests_per_second: 200\nphases:\n  - {duration: 1h, latency: {median_ms: 60, p99_ms: 200}}\n";
    check(
        &[("scenario.yaml", text)],
        &[
            "scenario.yaml:7:5: warning: slo.sli.source: a scenario is played on a virtual clock: the SLI's source is not used",
        ],
    );
}
