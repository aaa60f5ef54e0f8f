//! Tests of the openslo reader: the conformance examples, references across files, located
//! messages for broken documents, and the mapping of windows, methods, SLIs and alert
//! conditions.

use std::collections::BTreeMap;

use jiff::civil;
use nines_core::{BudgetingMethod, CalendarUnit, CountKind, Ratio, Severity, Span, Window};
use nines_spec::catalog::{Sli, ThresholdOp};
use nines_spec::{LoadContext, LoadOptions, Loaded, load_texts, native, openslo, source};

use crate::support::conformance;

fn files(texts: &[(&str, &str)]) -> Vec<(String, String)> {
    texts
        .iter()
        .map(|(name, text)| (name.to_string(), text.to_string()))
        .collect()
}

fn load(texts: &[(&str, &str)]) -> Loaded {
    load_texts(&files(texts), &LoadOptions::default())
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

/// How many objects of each kind the reader kept, before references are resolved.
fn objects_read(texts: &[(String, String)]) -> BTreeMap<&'static str, usize> {
    let options = LoadOptions::default();
    let mut context = LoadContext {
        options: &options,
        catalog: Default::default(),
        report: Default::default(),
        openslo: openslo::Pending::default(),
        native: native::Pending::default(),
    };
    for (file, text) in texts {
        for doc in source::read_documents(file, text, &mut context.report) {
            openslo::read(&doc, &mut context);
        }
    }
    context.openslo.counts()
}

fn conformance_v1() -> Vec<(String, String)> {
    let names = [
        "alert_conditions.yaml",
        "alert_notification_targets.yaml",
        "alert_policies.yaml",
        "data_sources.yaml",
        "services.yaml",
        "slis.yaml",
        "slos.yaml",
    ];
    names
        .iter()
        .map(|name| {
            let path = conformance("openslo/v1").join(name);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            (name.to_string(), text)
        })
        .collect()
}

#[test]
fn every_conformance_v1_document_is_read() {
    let texts = conformance_v1();
    let counts = objects_read(&texts);
    let expected_counts = BTreeMap::from([
        ("AlertCondition", 2),
        ("AlertNotificationTarget", 2),
        ("AlertPolicy", 3),
        ("DataSource", 2),
        ("SLI", 4),
        ("SLO", 1),
        ("Service", 2),
    ]);
    assert_eq!(counts, expected_counts);

    let loaded = load_texts(&texts, &LoadOptions::default());
    assert!(!loaded.report.has_errors(), "{}", loaded.report);
    let warnings: Vec<String> = loaded.report.warnings().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            r#"alert_policies.yaml:18:9: warning: [0].spec.notificationTargets[0].targetRef: AlertNotificationTarget "on-call-mail-notification" is not defined in the files read; nines keeps the name and delivers through its own routes"#,
            r#"alert_policies.yaml:50:9: warning: [1].spec.notificationTargets[0].targetRef: AlertNotificationTarget "on-call-pd-notification" is not defined in the files read; nines keeps the name and delivers through its own routes"#,
            r#"services.yaml:24:5: warning: [1].metadata.name: Service "example-service" is already defined at services.yaml:1; this definition is ignored"#,
            r#"slis.yaml:18:11: warning: [0].spec.ratioMetric.good.metricSource.metricSourceRef: DataSource "my-datadog" is not defined in the files read; nines reads this source by its type "Datadog""#,
            r#"slis.yaml:24:11: warning: [0].spec.ratioMetric.total.metricSource.metricSourceRef: DataSource "my-datadog" is not defined in the files read; nines reads this source by its type "Datadog""#,
            r#"slis.yaml:44:11: warning: [1].spec.ratioMetric.bad.metricSource.metricSourceRef: DataSource "appdynamics" is not defined in the files read; nines reads this source by its type "AppDynamics""#,
            r#"slis.yaml:51:11: warning: [1].spec.ratioMetric.total.metricSource.metricSourceRef: DataSource "appdynamics" is not defined in the files read; nines reads this source by its type "AppDynamics""#,
            r#"slis.yaml:99:9: warning: [3].spec.thresholdMetric.metricSource.metricSourceRef: DataSource "my-prometheus" is not defined in the files read; nines reads this source by its type "Prometheus""#,
            r#"slos.yaml:40:9: warning: [0].spec.objectives[0].op: op "gt" on an objective of a ratioMetric SLI breaks a rule of OpenSLO's reference validator (`oslo validate` allows op only with thresholdMetric); nines does not use it"#,
        ]
    );

    let services: Vec<&str> = loaded
        .catalog
        .services
        .iter()
        .map(|service| service.id.as_str())
        .collect();
    assert_eq!(services, ["example-service"]);
    let service = &loaded.catalog.services[0];
    assert_eq!(
        service.description.as_deref(),
        Some("Example service description")
    );
    assert_eq!(service.labels["team"], "team-a,team-b");
    assert_eq!(
        (service.origin.file.as_str(), service.origin.line),
        ("services.yaml", 1)
    );

    let ids: Vec<&str> = loaded
        .catalog
        .slos
        .iter()
        .map(|slo| slo.id.as_str())
        .collect();
    assert_eq!(ids, ["web-availability"]);
}

#[test]
fn conformance_slo_maps_window_method_and_queries() {
    let loaded = load_texts(&conformance_v1(), &LoadOptions::default());
    let Some(slo) = loaded.catalog.slo("web-availability") else {
        panic!("no SLO web-availability")
    };
    assert_eq!(slo.service, "web");
    assert_eq!(slo.spec.objective.get(), 0.995);
    let Window::Calendar(calendar) = &slo.spec.window else {
        panic!("not a calendar window: {:?}", slo.spec.window)
    };
    assert_eq!(calendar.unit, CalendarUnit::Week);
    assert_eq!(calendar.time_zone.iana_name(), Some("America/New_York"));
    assert_eq!(calendar.anchor, civil::date(2022, 1, 1).at(12, 0, 0, 0));
    assert!(slo.window_from_file);
    assert_eq!(
        slo.spec.method,
        BudgetingMethod::Timeslices {
            slice: Span::minutes(1),
            target: Ratio::new(0.95).unwrap()
        }
    );
    assert_eq!(
        slo.sli,
        Sli::Queries {
            good: Some(
                r#"sum(http_requests{k8s_cluster="prod",component="web",code=~"2xx|4xx"})"#
                    .to_string()
            ),
            bad: None,
            total: r#"sum(http_requests{k8s_cluster="prod",component="web"})"#.to_string(),
        }
    );
    assert_eq!(slo.spec.count_kind, CountKind::Good);
    assert_eq!(slo.spec.policy, nines_core::AlertPolicy::workbook());
}

const SHARED_OBJECTS: &str = r#"
apiVersion: openslo/v1
kind: DataSource
metadata:
  name: prom
spec:
  type: Prometheus
  connectionDetails:
    url: http://prometheus:9090
---
apiVersion: openslo/v1
kind: SLI
metadata:
  name: api-errors
spec:
  ratioMetric:
    counter: true
    bad:
      metricSource:
        metricSourceRef: prom
        spec:
          query: sum(http_requests_total{job="api",code=~"5.."})
    total:
      metricSource:
        metricSourceRef: prom
        spec:
          query: sum(http_requests_total{job="api"})
---
apiVersion: openslo/v1
kind: AlertCondition
metadata:
  name: fast-burn
spec:
  severity: critical
  condition:
    kind: burnrate
    op: gt
    threshold: 14.4
    lookbackWindow: 1h
---
apiVersion: openslo/v1
kind: AlertNotificationTarget
metadata:
  name: pager
spec:
  target: pagerduty
"#;

const SLO_USING_REFERENCES: &str = r#"
apiVersion: openslo/v1
kind: AlertPolicy
metadata:
  name: paging
spec:
  alertWhenBreaching: true
  alertWhenNoData: true
  conditions:
    - conditionRef: fast-burn
  notificationTargets:
    - targetRef: pager
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
  alertPolicies:
    - alertPolicyRef: paging
    - kind: AlertPolicy
      metadata:
        name: slow
      spec:
        conditions:
          - kind: AlertCondition
            metadata:
              name: slow-burn
            spec:
              severity: warning
              condition:
                kind: burnrate
                op: gte
                threshold: 1
                lookbackWindow: 3d
        notificationTargets:
          - kind: AlertNotificationTarget
            metadata:
              name: mail
            spec:
              target: email
"#;

#[test]
fn references_resolve_across_files() {
    let loaded = check(
        &[
            ("shared.yaml", SHARED_OBJECTS),
            ("slo.yaml", SLO_USING_REFERENCES),
        ],
        &[],
    );
    let Some(slo) = loaded.catalog.slo("api-availability") else {
        panic!("no SLO")
    };
    assert_eq!(
        slo.sli,
        Sli::Queries {
            good: None,
            bad: Some(r#"sum(http_requests_total{job="api",code=~"5.."})"#.to_string()),
            total: r#"sum(http_requests_total{job="api"})"#.to_string(),
        }
    );
    assert_eq!(slo.spec.count_kind, CountKind::Bad);
    assert_eq!(slo.spec.window, Window::Rolling(Span::days(30)));
    assert!((slo.spec.objective.get() - 0.999).abs() < 1e-12);

    let pairs: Vec<(Severity, f64, String, String)> = slo
        .spec
        .policy
        .pairs
        .iter()
        .map(|pair| {
            (
                pair.severity,
                pair.factor(Span::days(30)),
                pair.long_window.to_string(),
                pair.short_window.to_string(),
            )
        })
        .map(|(severity, factor, long, short)| {
            (severity, (factor * 1e6).round() / 1e6, long, short)
        })
        .collect();
    assert_eq!(
        pairs,
        [
            (Severity::Page, 14.4, "1h".to_string(), "5m".to_string()),
            (Severity::Ticket, 1.0, "3d".to_string(), "6h".to_string()),
        ]
    );
    assert!((slo.spec.policy.pairs[0].budget_share.get() - 0.02).abs() < 1e-12);
    let no_data = slo
        .spec
        .policy
        .no_data
        .map(|rule| (rule.after, rule.severity));
    assert_eq!(no_data, Some((Span::minutes(15), Severity::Page)));
    assert_eq!(
        slo.alerting.annotations["openslo_alert_policies"],
        "paging,slow"
    );
    assert_eq!(
        slo.alerting.annotations["openslo_notification_targets"],
        "pager (pagerduty),mail (email)"
    );
}

#[test]
fn dangling_references_are_errors_at_the_reference() {
    let slo = r#"
- apiVersion: openslo/v1
  kind: AlertPolicy
  metadata:
    name: paging
  spec:
    conditions:
      - conditionRef: no-such-condition
    notificationTargets:
      - targetRef: no-such-target
- apiVersion: openslo/v1
  kind: SLO
  metadata:
    name: api
  spec:
    service: api
    indicatorRef: no-such-sli
    budgetingMethod: Occurrences
    objectives:
      - target: 0.99
    alertPolicies:
      - alertPolicyRef: no-such-policy
"#;
    check(
        &[("slo.yaml", slo)],
        &[
            r#"slo.yaml:8:9: error: [0].spec.conditions[0].conditionRef: AlertCondition "no-such-condition" is not defined in the files read"#,
            r#"slo.yaml:10:9: warning: [0].spec.notificationTargets[0].targetRef: AlertNotificationTarget "no-such-target" is not defined in the files read; nines keeps the name and delivers through its own routes"#,
            r#"slo.yaml:17:5: error: [1].spec.indicatorRef: SLI "no-such-sli" is not defined in the files read"#,
            r#"slo.yaml:22:9: error: [1].spec.alertPolicies[0].alertPolicyRef: AlertPolicy "no-such-policy" is not defined in the files read"#,
        ],
    );
}

#[test]
fn a_metric_source_without_type_needs_its_data_source() {
    let sli = r#"
apiVersion: openslo/v1
kind: SLI
metadata:
  name: latency
spec:
  thresholdMetric:
    metricSource:
      metricSourceRef: missing
      spec:
        query: up
"#;
    check(
        &[("sli.yaml", sli)],
        &[
            r#"sli.yaml:9:7: error: spec.thresholdMetric.metricSource.metricSourceRef: DataSource "missing" is not defined, and the metric source has no `type` of its own"#,
        ],
    );
}

#[test]
fn duplicate_names_of_one_kind_are_errors() {
    let one = "apiVersion: openslo/v1\nkind: AlertNotificationTarget\nmetadata:\n  name: pager\nspec:\n  target: pagerduty\n";
    let other_kind = "apiVersion: openslo/v1\nkind: AlertCondition\nmetadata:\n  name: pager\nspec:\n  severity: page\n  condition:\n    op: gt\n    threshold: 2\n    lookbackWindow: 1h\n";
    check(
        &[("a.yaml", one), ("b.yaml", one), ("c.yaml", other_kind)],
        &[
            r#"b.yaml:4:3: error: metadata.name: duplicate AlertNotificationTarget name "pager": also defined at a.yaml:1"#,
        ],
    );
}

const SLO_TEMPLATE: &str = r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: api
spec:
  service: api
  indicator:
    metadata:
      name: api-errors
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            spec:
              query: sum(http_requests_total{code!~"5.."})
        total:
          metricSource:
            type: Prometheus
            spec:
              query: sum(http_requests_total)
  budgetingMethod: BUDGETING
  timeWindow:
    - WINDOW
  objectives:
    - OBJECTIVE
"#;

/// The template SLO with its budgeting method, time window and objective replaced.
fn slo_with(budgeting: &str, window: &str, objective: &str) -> String {
    SLO_TEMPLATE
        .replace("BUDGETING", budgeting)
        .replace("WINDOW", window)
        .replace("OBJECTIVE", objective)
}

const ROLLING: &str = "duration: 28d\n      isRolling: true";

#[test]
fn broken_documents_give_located_messages() {
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            "apiVersion: openslo/v1\nkind: SLO\nmetadata: [unclosed\n".to_string(),
            vec!["x.yaml:4:1: error: invalid YAML: while parsing a flow sequence, expected ',' or ']'"],
        ),
        (
            "apiVersion: openslo/v1\nkind: Servise\nmetadata:\n  name: a\nspec: {}\n".to_string(),
            vec![r#"x.yaml:2:1: error: kind: unknown OpenSLO v1 kind "Servise": expected one of DataSource, Service, SLI, SLO, AlertCondition, AlertNotificationTarget, AlertPolicy"#],
        ),
        (
            "apiVersion: openslo/v1\nkind: Service\nmetadata:\n  name: a\n  owner: me\nspec:\n  descripton: typo\n".to_string(),
            vec![
                "x.yaml:5:3: error: metadata.owner: unknown field `owner`, expected one of `name`, `displayName`, `labels`, `annotations`",
                "x.yaml:7:3: error: spec.descripton: unknown field `descripton`, expected `description`",
            ],
        ),
        (
            "apiVersion: openslo/v1\nkind: Service\nmetadata:\n  name: [a]\n  labels:\n    team: {a: b}\nspec: {}\n".to_string(),
            vec!["x.yaml:4:3: error: metadata.name: invalid type: sequence, expected a string"],
        ),
        (
            slo_with("Occurrences", ROLLING, "target: 1.5"),
            vec!["x.yaml:28:7: error: spec.objectives[0].target: objective 1.5 must be strictly between 0 and 1 (0% and 100% leave no usable error budget)"],
        ),
        (
            slo_with("Occurrences", ROLLING, "target: 0"),
            vec!["x.yaml:28:7: error: spec.objectives[0].target: objective 0 must be strictly between 0 and 1 (0% and 100% leave no usable error budget)"],
        ),
        (
            slo_with("Occurrences", ROLLING, "target: 1"),
            vec!["x.yaml:28:7: error: spec.objectives[0].target: objective 1 must be strictly between 0 and 1 (0% and 100% leave no usable error budget)"],
        ),
        (
            slo_with("Occurrences", ROLLING, "targetPercent: 100"),
            vec!["x.yaml:28:7: error: spec.objectives[0].targetPercent: objective 1 must be strictly between 0 and 1 (0% and 100% leave no usable error budget)"],
        ),
        (
            slo_with("Occurrences", ROLLING, "target: 0.99\n      targetPercent: 99"),
            vec!["x.yaml:29:7: error: spec.objectives[0].targetPercent: set `target` or `targetPercent`, not both"],
        ),
        (
            slo_with("Occurrences", ROLLING, "target: high"),
            vec!["x.yaml:28:7: error: spec.objectives[0].target: invalid type: string \"high\", expected f64"],
        ),
        (
            slo_with("Occurrences", ROLLING, "target: 0.99\n      weight: 2"),
            vec!["x.yaml:29:7: error: spec.objectives[0].weight: unknown field `weight`, expected one of `displayName`, `op`, `value`, `target`, `targetPercent`, `timeSliceTarget`, `timeSliceWindow`, `indicator`, `indicatorRef`, `compositeWeight`"],
        ),
        (
            slo_with("Occurences", ROLLING, "target: 0.99"),
            vec![r#"x.yaml:23:3: error: spec.budgetingMethod: unknown budgetingMethod "Occurences": expected Occurrences, Timeslices or RatioTimeslices"#],
        ),
        (
            slo_with("Timeslices", ROLLING, "target: 0.99\n      timeSliceWindow: 5m"),
            vec!["x.yaml:28:7: error: spec.objectives[0]: budgetingMethod Timeslices needs `timeSliceTarget` on each objective"],
        ),
        (
            slo_with("Timeslices", ROLLING, "target: 0.99\n      timeSliceTarget: 0\n      timeSliceWindow: 5x"),
            vec![
                "x.yaml:29:7: error: spec.objectives[0].timeSliceTarget: timeSliceTarget 0 must be above 0 and at most 1",
                r#"x.yaml:30:7: error: spec.objectives[0].timeSliceWindow: invalid duration "5x": unit 'x' is not one of m, h, d, w, M, Q, Y"#,
            ],
        ),
        (
            slo_with("RatioTimeslices", ROLLING, "target: 0.99\n      timeSliceWindow: 7"),
            vec!["x.yaml:1: error: SLO \"api\": time slice 7m must be a whole number of minutes that divides 60 (1m, 2m, 5m, 10m, 15m, 30m, 1h)"],
        ),
        (
            slo_with("Occurrences", "duration: 28 days\n      isRolling: true", "target: 0.99"),
            vec![r#"x.yaml:25:7: error: spec.timeWindow[0].duration: invalid duration "28 days": expected a positive whole number and one of m, h, d, w, M, Q, Y (like 5m, 1h, 28d, 1M)"#],
        ),
        (
            slo_with("Occurrences", "duration: 2Y\n      isRolling: true", "target: 0.99"),
            vec!["x.yaml:25:7: error: spec.timeWindow[0].duration: a rolling window must be between 1 hour and 400 days, not 730d"],
        ),
        (
            slo_with("Occurrences", "duration: 1M\n      isRolling: true\n      calendar:\n        startTime: 2024-01-01 00:00:00\n        timeZone: UTC", "target: 0.99"),
            vec!["x.yaml:27:7: error: spec.timeWindow[0].calendar: `calendar` cannot be set when `isRolling` is true"],
        ),
        (
            slo_with("Occurrences", "duration: 1M\n      isRolling: false", "target: 0.99"),
            vec!["x.yaml:26:7: error: spec.timeWindow[0].isRolling: `calendar` (startTime and timeZone) must be set when `isRolling` is false"],
        ),
        (
            slo_with("Occurrences", "duration: 2w\n      calendar:\n        startTime: 2024-01-01\n        timeZone: Mars/Olympus", "target: 0.99"),
            vec![
                "x.yaml:25:7: error: spec.timeWindow[0].duration: a calendar window of 2w is not supported: nines calendar windows are 1w, 1M or 1Q",
                r#"x.yaml:27:9: error: spec.timeWindow[0].calendar.startTime: startTime "2024-01-01" is not a date and time like 2022-01-01 12:00:00"#,
                r#"x.yaml:28:9: error: spec.timeWindow[0].calendar.timeZone: unknown time zone "Mars/Olympus": use an IANA name like America/New_York"#,
            ],
        ),
    ];
    let mut mismatches = Vec::new();
    for (text, expected) in cases {
        let loaded = load(&[("x.yaml", &text)]);
        let got: Vec<String> = loaded
            .report
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect();
        // A catalog is complete only when the report has no errors: every case must have one.
        if got != expected || !loaded.report.has_errors() {
            mismatches.push(format!(
                "input:\n{text}\nexpected: {expected:#?}\ngot: {got:#?}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

#[test]
fn calendar_windows_take_zone_and_anchor() {
    let window = "duration: 1M\n      calendar:\n        startTime: 2024-03-15 06:30:00\n        timeZone: Europe/Berlin";
    let text = slo_with("Occurrences", window, "target: 0.999");
    let loaded = check(&[("x.yaml", &text)], &[]);
    let Window::Calendar(calendar) = &loaded.catalog.slos[0].spec.window else {
        panic!("not a calendar window")
    };
    assert_eq!(calendar.unit, CalendarUnit::Month);
    assert_eq!(calendar.time_zone.iana_name(), Some("Europe/Berlin"));
    assert_eq!(calendar.anchor, civil::date(2024, 3, 15).at(6, 30, 0, 0));

    let quarter = "duration: 1Q\n      isRolling: false\n      calendar:\n        startTime: 2024-01-01 00:00:00\n        timeZone: Asia/Tokyo";
    let loaded = check(
        &[("x.yaml", &slo_with("Occurrences", quarter, "target: 0.999"))],
        &[],
    );
    let Window::Calendar(calendar) = &loaded.catalog.slos[0].spec.window else {
        panic!("not a calendar window")
    };
    assert_eq!(
        (calendar.unit, calendar.time_zone.iana_name()),
        (CalendarUnit::Quarter, Some("Asia/Tokyo"))
    );
}

#[test]
fn rolling_months_count_thirty_days_and_no_window_takes_the_default() {
    let loaded = check(
        &[(
            "x.yaml",
            &slo_with(
                "Occurrences",
                "duration: 1M\n      isRolling: true",
                "target: 0.99",
            ),
        )],
        &[],
    );
    assert_eq!(
        loaded.catalog.slos[0].spec.window,
        Window::Rolling(Span::days(30))
    );

    let text = slo_with("Occurrences", ROLLING, "target: 0.99").replace(
        "  timeWindow:\n    - duration: 28d\n      isRolling: true\n",
        "",
    );
    let options = LoadOptions {
        default_period: Span::days(7),
        ..LoadOptions::default()
    };
    let loaded = load_texts(&files(&[("x.yaml", &text)]), &options);
    assert!(loaded.report.diagnostics.is_empty(), "{}", loaded.report);
    assert_eq!(
        loaded.catalog.slos[0].spec.window,
        Window::Rolling(Span::days(7))
    );
    assert!(!loaded.catalog.slos[0].window_from_file);
}

#[test]
fn several_objectives_make_several_slos() {
    let objectives = "displayName: Good Enough\n      target: 0.99\n    - targetPercent: 99.9\n      displayName: Great";
    let loaded = check(
        &[("x.yaml", &slo_with("Occurrences", ROLLING, objectives))],
        &[],
    );
    let ids: Vec<(&str, f64, usize)> = loaded
        .catalog
        .slos
        .iter()
        .map(|slo| {
            (
                slo.id.as_str(),
                (slo.spec.objective.percent() * 1e6).round() / 1e6,
                slo.origin.line,
            )
        })
        .collect();
    assert_eq!(
        ids,
        [("api-good-enough", 99.0, 28), ("api-great", 99.9, 30)]
    );
}

#[test]
fn threshold_and_external_slis() {
    let threshold = r#"
apiVersion: openslo/v1
kind: SLO
metadata:
  name: lag
spec:
  service: pipeline
  indicator:
    metadata:
      name: lag
    spec:
      thresholdMetric:
        metricSource:
          type: Prometheus
          spec:
            query: max(kafka_consumergroup_lag)
  budgetingMethod: Timeslices
  objectives:
    - op: lt
      value: 100
      target: 0.99
      timeSliceTarget: 0.9
      timeSliceWindow: 5m
"#;
    let external = r#"
apiVersion: openslo/v1
kind: SLO
metadata:
  name: search
spec:
  service: search
  indicator:
    metadata:
      name: search
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Datadog
            spec:
              query: sum:hits{code:200}.as_count()
              options:
                rollup: [sum, 60]
        total:
          metricSource:
            type: Datadog
            spec:
              query: sum:hits{*}.as_count()
  budgetingMethod: Occurrences
  objectives:
    - target: 0.99
"#;
    let loaded = check(
        &[("threshold.yaml", threshold), ("external.yaml", external)],
        &[],
    );
    let Some(lag) = loaded.catalog.slo("lag") else {
        panic!("no SLO lag")
    };
    assert_eq!(
        lag.sli,
        Sli::Threshold {
            query: "max(kafka_consumergroup_lag)".to_string(),
            op: ThresholdOp::Lt,
            value: 100.0
        }
    );
    let Some(search) = loaded.catalog.slo("search") else {
        panic!("no SLO search")
    };
    let Sli::External {
        source_type,
        detail,
    } = &search.sli
    else {
        panic!("not external: {:?}", search.sli)
    };
    assert_eq!(source_type, "Datadog");
    let detail: Vec<(&str, &str)> = detail
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    assert_eq!(
        detail,
        [
            ("counter", "true"),
            ("good.options.rollup[0]", "sum"),
            ("good.options.rollup[1]", "60"),
            ("good.query", "sum:hits{code:200}.as_count()"),
            ("good.type", "Datadog"),
            ("total.query", "sum:hits{*}.as_count()"),
            ("total.type", "Datadog"),
        ]
    );

    let missing_op = threshold.replace("op: lt\n      value", "value");
    check(
        &[("threshold.yaml", &missing_op)],
        &[
            "threshold.yaml:19:7: error: spec.objectives[0]: an objective of a thresholdMetric SLI needs `op` and `value`",
        ],
    );
}

#[test]
fn prometheus_queries_are_checked() {
    let text = SLO_TEMPLATE
        .replace(
            "sum(http_requests_total)",
            "sum(rate(http_requests_total[5m])",
        )
        .replace("BUDGETING", "Occurrences")
        .replace("WINDOW", ROLLING)
        .replace("OBJECTIVE", "target: 0.99");
    let loaded = load(&[("x.yaml", &text)]);
    let got: Vec<String> = loaded
        .report
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("x.yaml:22:15: error: spec.indicator.spec.ratioMetric.total.metricSource.spec.query: invalid PromQL: "),
        "{}",
        got[0]
    );
}

const POLICY_FILE: &str = r#"
apiVersion: openslo/v1
kind: AlertCondition
metadata:
  name: condition
spec:
  severity: page
  condition:
    kind: burnrate
    CONDITION
    lookbackWindow: 1d
    alertAfter: 5m
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata:
  name: policy
spec:
  conditions:
    - conditionRef: condition
  notificationTargets:
    - kind: AlertNotificationTarget
      metadata:
        name: pager
      spec:
        target: pagerduty
"#;

#[test]
fn alert_conditions_that_do_not_fit_are_reported() {
    let slo = slo_with("Occurrences", ROLLING, "target: 0.99")
        + "  alertPolicies:\n    - alertPolicyRef: policy\n";

    let lte = POLICY_FILE.replace("CONDITION", "op: lte\n    threshold: 2");
    let loaded = check(
        &[("policy.yaml", &lte), ("slo.yaml", &slo)],
        &[
            r#"policy.yaml:10:5: warning: spec.condition.op: SLO "api", condition "condition": op lte is not used: nines alerts when the burn rate rises above a threshold, so this condition is left out"#,
            "slo.yaml:29:3: warning: spec.alertPolicies: no condition of these alert policies maps to a burn-rate pair; nines uses its default multi-window policy",
        ],
    );
    assert_eq!(
        loaded.catalog.slos[0].spec.policy.pairs,
        nines_core::AlertPolicy::workbook().pairs
    );
    assert_eq!(loaded.catalog.slos[0].spec.policy.no_data, None);

    let too_high = POLICY_FILE.replace("CONDITION", "op: gt\n    threshold: 200");
    let loaded = check(
        &[("policy.yaml", &too_high), ("slo.yaml", &slo)],
        &[
            r#"policy.yaml:11:5: error: spec.condition.threshold: SLO "api", condition "condition": burn rate 200 over 1d spends 714% of the 28d budget before it fires; use at most 28.0000 for this lookback window"#,
        ],
    );
    assert!(loaded.catalog.slos.is_empty());

    let fits = POLICY_FILE.replace("CONDITION", "op: gt\n    threshold: 2");
    let loaded = check(
        &[("policy.yaml", &fits), ("slo.yaml", &slo)],
        &[
            r#"policy.yaml:13:5: warning: spec.condition.alertAfter: SLO "api", condition "condition": alertAfter 5m is not used: nines fires once both the 1d window and its 2h short window burn"#,
        ],
    );
    let pair = loaded.catalog.slos[0].spec.policy.pairs[0];
    assert_eq!(
        (pair.severity, pair.long_window, pair.short_window),
        (Severity::Page, Span::days(1), Span::hours(2))
    );
    assert!((pair.factor(Span::days(28)) - 2.0).abs() < 1e-9);
}

#[test]
fn names_outside_rfc_1123_are_accepted_with_a_warning() {
    let service =
        "apiVersion: openslo/v1\nkind: Service\nmetadata:\n  name: Web_Frontend\nspec: {}\n";
    let loaded = check(
        &[("x.yaml", service)],
        &[
            r#"x.yaml:4:3: warning: metadata.name: name "Web_Frontend" breaks OpenSLO's rule that names are RFC 1123 labels (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit); `oslo validate` rejects it, nines accepts it"#,
        ],
    );
    assert_eq!(loaded.catalog.services[0].id, "Web_Frontend");
}

/// Documents broken in many ways at once; none may panic, all must be reported.
#[test]
fn hostile_documents_are_reported_without_panics() {
    let documents = [
        "",
        "---\n---\n",
        "apiVersion: openslo/v1\n",
        "apiVersion: openslo/v1\nkind: SLO\n",
        "apiVersion: openslo/v1\nkind: SLO\nmetadata: 3\nspec: []\n",
        "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: ''}\nspec: {service: '', budgetingMethod: '', objectives: []}\n",
        "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec: {service: a, budgetingMethod: Occurrences, objectives: [~, 3, {target: .nan}], indicatorRef: a, indicator: {}}\n",
        "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec: {service: a, budgetingMethod: Timeslices, timeWindow: [], objectives: [{target: 0.9, timeSliceWindow: -1, timeSliceTarget: .inf}], indicator: {metadata: {name: a}, spec: {ratioMetric: {raw: {metricSource: {type: Prometheus, spec: {query: 3}}}}}}}\n",
        "apiVersion: openslo/v1\nkind: SLI\nmetadata: {name: a}\nspec: {ratioMetric: {good: {metricSource: {spec: {}}}, bad: {metricSource: {type: x, spec: {a: 1}}}}}\n",
        "apiVersion: openslo/v1\nkind: AlertPolicy\nmetadata: {name: a, labels: {a: [1]}}\nspec: {conditions: [{}, {conditionRef: 3}, {kind: AlertCondition, metadata: {name: b}, spec: {severity: '', condition: {kind: x, threshold: .nan, lookbackWindow: 0m, alertAfter: 99999999999999999999m}}}], notificationTargets: [{}]}\n",
        "- apiVersion: openslo/v1\n  kind: SLO\n- 3\n",
        "- apiVersion: openslo/v1\n  kind: AlertCondition\n  metadata: {name: é}\n  spec: {severity: page, condition: {op: gt, threshold: 1e308, lookbackWindow: 999999Y}}\n",
        "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec: {service: a, budgetingMethod: Occurrences, timeWindow: [{duration: 1w, calendar: {startTime: '9999-12-31 23:59:59', timeZone: ''}}], objectives: [{target: 0.5}], indicatorRef: a}\n",
        "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec: {service: a, budgetingMethod: Occurrences, objectives: [{target: 0.5, op: gt}], indicator: {kind: SLO, metadata: {name: a}, spec: {}}, alertPolicies: [{alertPolicyRef: x, kind: AlertPolicy}, {kind: AlertPolicy}, 7]}\n",
    ];
    for text in documents {
        let loaded = load(&[("x.yaml", text)]);
        assert!(
            loaded.catalog.slos.is_empty(),
            "\ninput:\n{text}\n{:?}",
            loaded.catalog.slos
        );
        if !text.trim_matches(['-', '\n']).is_empty() {
            assert!(loaded.report.has_errors(), "no error for:\n{text}");
        }
    }
}

mod properties {
    use proptest::prelude::*;

    use super::{ROLLING, load, slo_with};

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// A valid SLO cut short or with one byte replaced never panics the reader.
        #[test]
        fn mangled_slos_never_panic(cut in 0usize..900, at in 0usize..900, byte in any::<u8>()) {
            let text = slo_with("Timeslices", ROLLING, "target: 0.99\n      timeSliceTarget: 0.9\n      timeSliceWindow: 1m");
            let mut bytes = text.into_bytes();
            let at = at % bytes.len();
            bytes[at] = byte;
            bytes.truncate(cut.min(bytes.len()));
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let _ = load(&[("x.yaml", &text)]);
        }
    }
}

/// An SLI document with `RATIO` replaced by the body of its `ratioMetric`.
fn sli_with(ratio: &str) -> String {
    format!(
        "apiVersion: openslo/v1\nkind: SLI\nmetadata:\n  name: s\nspec:\n  ratioMetric:\n{ratio}"
    )
}

#[test]
fn sli_shapes_are_checked() {
    let prom = |query: &str| {
        format!(
            "      metricSource:\n        type: Prometheus\n        spec:\n          query: {query}\n"
        )
    };
    let datadog =
        "      metricSource:\n        type: Datadog\n        spec:\n          query: sum:hits{*}\n";
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            sli_with(&format!("    good:\n{}    bad:\n{}    total:\n{}", prom("a"), prom("b"), prom("c"))),
            vec!["x.yaml:12:5: error: spec.ratioMetric.bad: a ratioMetric has `good` or `bad`, not both"],
        ),
        (
            sli_with(&format!("    total:\n{}", prom("a"))),
            vec!["x.yaml:6:3: error: spec.ratioMetric: a ratioMetric with `total` needs `good` or `bad`"],
        ),
        (
            sli_with(&format!("    raw:\n{}", prom("a"))),
            vec!["x.yaml:6:3: error: spec.ratioMetric.rawType: `raw` needs `rawType`: success or failure"],
        ),
        (
            sli_with(&format!("    counter: false\n    good:\n{}    total:\n{}", prom("a"), prom("b"))),
            vec!["x.yaml:7:5: error: spec.ratioMetric.counter: counter: false (gauges) is not supported for Prometheus ratio metrics: nines reads good, bad and total as counters"],
        ),
        (
            sli_with(&format!("    good:\n{}    total:\n{datadog}", prom("a"))),
            vec!["x.yaml:6:3: error: spec.ratioMetric: metric sources mix Prometheus with other types (good: Prometheus, total: Datadog); nines cannot combine them"],
        ),
        (
            sli_with("    good:\n      metricSource:\n        type: Prometheus\n        spec:\n          promql: up\n    total:\n      metricSource:\n        type: Prometheus\n        spec: {}\n"),
            vec![
                "x.yaml:10:9: error: spec.ratioMetric.good.metricSource.spec: a Prometheus metric source needs `query`, a PromQL query",
                "x.yaml:15:9: error: spec.ratioMetric.total.metricSource.spec: metric source `spec` must not be empty",
            ],
        ),
        (
            sli_with(&format!("    good:\n{}      extra: 1\n    total:\n{}", prom("a"), prom("b"))),
            vec!["x.yaml:12:7: error: spec.ratioMetric.good.extra: unknown field `extra`, expected `metricSource`"],
        ),
        (
            "apiVersion: openslo/v1\nkind: SLI\nmetadata:\n  name: s\nspec:\n  thresholdMetric:\n    metricSource:\n      type: prometheus\n      spec:\n        query: up\n        step: 1m\n".to_string(),
            vec![r#"x.yaml:11:9: warning: spec.thresholdMetric.metricSource.spec.step: "step" is not used: nines reads only `query` from a Prometheus metric source"#],
        ),
        (
            "apiVersion: openslo/v1\nkind: SLI\nmetadata:\n  name: s\nspec: {}\n".to_string(),
            vec!["x.yaml:5:1: error: spec: an SLI needs `thresholdMetric` or `ratioMetric`"],
        ),
    ];
    let mut mismatches = Vec::new();
    for (text, expected) in cases {
        let got: Vec<String> = load(&[("x.yaml", &text)])
            .report
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect();
        if got != expected {
            mismatches.push(format!(
                "input:\n{text}\nexpected: {expected:#?}\ngot: {got:#?}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

#[test]
fn raw_ratios_become_error_ratios() {
    let raw = |raw_type: &str| {
        sli_with(&format!(
            "    rawType: {raw_type}\n    raw:\n      metricSource:\n        type: Prometheus\n        spec:\n          query: avg_over_time(ok_ratio[{{{{.window}}}}])\n"
        ))
    };
    let slo = "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: ratio\nspec:\n  service: a\n  indicatorRef: s\n  budgetingMethod: Occurrences\n  objectives:\n    - target: 0.99\n";
    for (raw_type, expected) in [
        ("success", "1 - (avg_over_time(ok_ratio[{{.window}}]))"),
        ("failure", "avg_over_time(ok_ratio[{{.window}}])"),
    ] {
        let loaded = check(&[("sli.yaml", &raw(raw_type)), ("slo.yaml", slo)], &[]);
        assert_eq!(
            loaded.catalog.slos[0].sli,
            Sli::RawErrorRatio {
                error_ratio: expected.to_string()
            }
        );
        assert_eq!(loaded.catalog.slos[0].spec.count_kind, CountKind::Bad);
    }
}

#[test]
fn metric_source_types_must_agree_with_their_data_source() {
    let data_source =
        "apiVersion: openslo/v1\nkind: DataSource\nmetadata:\n  name: dd\nspec:\n  type: Datadog\n";
    let sli = "apiVersion: openslo/v1\nkind: SLI\nmetadata:\n  name: s\nspec:\n  thresholdMetric:\n    metricSource:\n      metricSourceRef: dd\n      type: Prometheus\n      spec:\n        query: up\n";
    check(
        &[("ds.yaml", data_source), ("sli.yaml", sli)],
        &[
            r#"sli.yaml:9:7: error: spec.thresholdMetric.metricSource.type: type "Prometheus" does not match DataSource "dd", which is of type "Datadog""#,
        ],
    );
}

#[test]
fn composite_objectives_each_take_their_indicator() {
    let slo = r#"
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout
spec:
  service: shop
  budgetingMethod: Occurrences
  objectives:
    - displayName: Errors
      target: 0.99
      compositeWeight: 2
      indicatorRef: api-errors
    - displayName: Missing
      target: 0.9
      indicatorRef: nothing
"#;
    check(
        &[("shared.yaml", SHARED_OBJECTS), ("slo.yaml", slo)],
        &[
            "slo.yaml:12:7: warning: spec.objectives[0].compositeWeight: compositeWeight 2 is not used: nines tracks each objective of a composite SLO as its own SLO",
            r#"slo.yaml:16:7: error: spec.objectives[1].indicatorRef: SLI "nothing" is not defined in the files read"#,
        ],
    );
    let fixed = slo.replace("indicatorRef: nothing", "indicatorRef: api-errors");
    let loaded = load(&[("shared.yaml", SHARED_OBJECTS), ("slo.yaml", &fixed)]);
    let ids: Vec<&str> = loaded
        .catalog
        .slos
        .iter()
        .map(|slo| slo.id.as_str())
        .collect();
    assert_eq!(ids, ["checkout-errors", "checkout-missing"]);

    let both = slo.replace(
        "  budgetingMethod",
        "  indicatorRef: api-errors\n  budgetingMethod",
    );
    let loaded = load(&[("shared.yaml", SHARED_OBJECTS), ("slo.yaml", &both)]);
    let errors: Vec<String> = loaded.report.errors().map(ToString::to_string).collect();
    assert_eq!(
        errors[0],
        "slo.yaml:6:1: error: spec: an SLO has its indicator either on `spec` or on each objective (composite), not both"
    );
}

#[test]
fn duplicate_slo_names_are_reported_once() {
    let slo = slo_with("Occurrences", ROLLING, "target: 0.99");
    let loaded = check(
        &[("a.yaml", &slo), ("b.yaml", &slo)],
        &[
            r#"b.yaml:4:3: error: metadata.name: duplicate SLO name "api": also defined at a.yaml:1"#,
        ],
    );
    assert_eq!(loaded.catalog.slos.len(), 1);
    assert_eq!(loaded.catalog.slos[0].origin.file, "a.yaml");
}

#[test]
fn every_broken_metric_of_a_ratio_is_reported() {
    let text = sli_with(
        "    good:\n      metricSource:\n        typ: Prometheus\n        spec: {query: up}\n    total:\n      metricSource:\n        type: Prometheus\n        spec: [up]\n",
    );
    check(
        &[("x.yaml", &text)],
        &[
            "x.yaml:9:9: error: spec.ratioMetric.good.metricSource.typ: unknown field `typ`, expected one of `metricSourceRef`, `type`, `spec`",
            "x.yaml:14:9: error: spec.ratioMetric.total.metricSource.spec: invalid type: sequence, expected a map",
        ],
    );
}

#[test]
fn slos_without_alert_policies_take_the_alert_windows_for_their_period() {
    let mut custom = nines_core::AlertPolicy::workbook();
    custom.pairs.truncate(1);
    custom.no_data = None;
    let options = LoadOptions {
        alert_windows: BTreeMap::from([(Span::days(28), custom.clone())]),
        ..LoadOptions::default()
    };
    let text = slo_with("Occurrences", ROLLING, "target: 0.99");
    let loaded = load_texts(&files(&[("x.yaml", &text)]), &options);
    assert!(loaded.report.diagnostics.is_empty(), "{}", loaded.report);
    assert_eq!(loaded.catalog.slos[0].spec.policy, custom);
}

#[test]
fn objectives_are_checked_even_when_the_window_is_broken() {
    let text = slo_with(
        "Occurrences",
        "duration: 5s\n      isRolling: true",
        "target: 99",
    );
    check(
        &[("x.yaml", &text)],
        &[
            r#"x.yaml:25:7: error: spec.timeWindow[0].duration: invalid duration "5s": unit 's' is not one of m, h, d, w, M, Q, Y"#,
            "x.yaml:28:7: error: spec.objectives[0].target: objective 99 must be strictly between 0 and 1 (0% and 100% leave no usable error budget)",
        ],
    );
}
