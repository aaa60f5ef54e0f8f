//! Tests of the native format reader: the examples, and every kind of bad input placed at its
//! file, line and field path.

use nines_core::{BudgetingMethod, CalendarUnit, CountKind, Window};
use nines_spec::{LoadOptions, Sli, load, load_texts};

use crate::support::example;

/// Loads `text` as one file named `test.yaml` and returns every diagnostic as a line.
fn problems(text: &str) -> Vec<String> {
    let loaded = load_texts(
        &[("test.yaml".to_string(), text.to_string())],
        &LoadOptions::default(),
    );
    loaded
        .report
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn check(text: &str, expected: &[&str]) {
    let got = problems(text);
    assert_eq!(got, expected, "\ninput:\n{text}");
}

const SERVICE: &str =
    "version: nines/v1\nservices:\n  - id: api\n    runbooks: [https://runbooks/api]\n";

#[test]
fn examples_load_without_problems() {
    let loaded = load(&[example("")], &LoadOptions::default());
    assert!(loaded.report.diagnostics.is_empty(), "{}", loaded.report);
    let ids: Vec<&str> = loaded
        .catalog
        .slos
        .iter()
        .map(|slo| slo.id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "storefront-probe",
            "checkout-availability",
            "checkout-latency",
            "search-availability"
        ]
    );

    let availability = loaded.catalog.slo("checkout-availability").unwrap();
    assert_eq!(availability.spec.objective.get(), 0.999);
    assert_eq!(
        availability.spec.window,
        Window::Rolling(nines_core::Span::days(30))
    );
    assert_eq!(availability.spec.count_kind, CountKind::Bad);
    assert!(matches!(
        &availability.sli,
        Sli::Counters { bad: Some(_), .. }
    ));
    assert_eq!(availability.budget_policy.as_deref(), Some("standard"));

    let latency = loaded.catalog.slo("checkout-latency").unwrap();
    let Window::Calendar(calendar) = &latency.spec.window else {
        panic!("calendar window expected")
    };
    assert_eq!(calendar.unit, CalendarUnit::Month);
    assert_eq!(calendar.time_zone.iana_name(), Some("Europe/Berlin"));

    let search = loaded.catalog.slo("search-availability").unwrap();
    assert!(matches!(
        search.spec.method,
        BudgetingMethod::Timeslices { .. }
    ));
    assert_eq!(search.spec.policy.pairs.len(), 2);
    assert_eq!(search.spec.policy.min_total_events, 50);
    // The only source is the default of query SLIs; counters stay pushed.
    assert_eq!(search.source.as_deref(), Some("prometheus"));
    assert_eq!(availability.source, None);
    assert_eq!(latency.source, None);

    let checkout = loaded.catalog.service("checkout").unwrap();
    assert_eq!(
        (checkout.owner.as_deref(), checkout.tier),
        (Some("payments"), Some(1))
    );
}

#[test]
fn bad_input_is_placed_at_file_line_and_path() {
    let slo =
        |body: &str| format!("{SERVICE}slos:\n  - id: api-availability\n    service: api\n{body}");
    let ratio =
        "    sli:\n      ratio:\n        total: requests_total\n        bad: errors_total\n";

    // objectives at and beyond the ends
    for (objective, shown) in [("0", "0"), ("100", "100"), ("150", "150")] {
        let text = slo(&format!(
            "    objective_percent: {objective}\n    window: 30d\n{ratio}"
        ));
        let value: f64 = objective.parse().unwrap();
        check(
            &text,
            &[&format!(
                "test.yaml:8:5: error: slos[0].objective_percent: objective_percent {shown}: objective {} must be strictly between 0 and 1 (0% and 100% leave no usable error budget)",
                value / 100.0
            )],
        );
    }
    // wrong type
    check(
        &slo(&format!(
            "    objective_percent: high\n    window: 30d\n{ratio}"
        )),
        &[
            "test.yaml:8:5: error: slos[0].objective_percent: invalid type: string \"high\", expected f64",
        ],
    );
    // unknown field, pointed at the field
    check(
        &slo(&format!(
            "    objective_percent: 99\n    windoww: 30d\n    window: 30d\n{ratio}"
        )),
        &[
            "test.yaml:9:5: error: slos[0].windoww: unknown field `windoww`, expected one of `id`, `service`, `name`, `journey`, `description`, `objective_percent`, `window`, `budgeting`, `sli`, `alerting`, `budget_policy`, `runbook`, `labels`",
        ],
    );
    // windows too short for the alert windows, and bad calendar zones
    check(
        &slo(&format!(
            "    objective_percent: 99\n    window: 2d\n{ratio}"
        )),
        &[
            "test.yaml:6: error: slos[0]: SLO \"api-availability\": pair 3: long window 3d does not fit in the SLO window of 2d",
        ],
    );
    check(
        &slo(&format!(
            "    objective_percent: 99\n    window:\n      calendar: month\n      time_zone: Mars/Olympus\n{ratio}"
        )),
        &[
            "test.yaml:11:7: error: slos[0].window.time_zone: unknown time zone \"Mars/Olympus\": use an IANA name like Europe/Berlin",
        ],
    );
    // invalid selectors
    check(
        &slo(
            "    objective_percent: 99\n    window: 30d\n    sli:\n      ratio:\n        total: sum(rate(x[5m]))\n        bad: 'errors_total{code=~\"5..\"'\n",
        ),
        &[
            "test.yaml:12:9: error: slos[0].sli.ratio.total: \"sum(rate(x[5m]))\" is not a series selector: write a metric name with optional label matchers, like http_requests_total{job=\"api\"}",
            "test.yaml:13:9: error: slos[0].sli.ratio.bad: invalid series selector: unexpected end of input inside braces",
        ],
    );
    // dangling references
    check(
        &format!(
            "{SERVICE}slos:\n  - id: web\n    service: web\n    objective_percent: 99\n    window: 30d\n    alerting: {{policy: strict}}\n    budget_policy: lenient\n{ratio}"
        ),
        &[
            "test.yaml:6:5: warning: slos[0]: SLO \"web\" has no runbook link: pages will carry none",
            "test.yaml:7:5: error: slos[0].service: service \"web\" is not defined in any file (define it under services)",
            "test.yaml:10:16: error: slos[0].alerting.policy: alert policy \"strict\" is not defined in any file",
            "test.yaml:11:5: error: slos[0].budget_policy: budget policy \"lenient\" is not defined in any file",
        ],
    );
}

#[test]
fn every_problem_in_a_file_is_reported_at_once() {
    let slo = |id: &str, objective: &str, window: &str| {
        format!(
            "  - id: {id}\n    service: api\n    objective_percent: {objective}\n    window: {window}\n    sli: {{pushed: {{}}}}\n"
        )
    };
    let text = format!(
        "{SERVICE}slos:\n{}{}{}{}",
        slo("a", "99", "30d"),
        slo("b", "101", "30d"),
        slo("c", "99", "1y2"),
        slo("a", "99.5", "7d"),
    );
    let got = problems(&text);
    assert_eq!(
        got,
        [
            "test.yaml:13:5: error: slos[1].objective_percent: objective_percent 101: objective 1.01 must be strictly between 0 and 1 (0% and 100% leave no usable error budget)",
            "test.yaml:19:5: error: slos[2].window: invalid duration \"1y2\": expected a number followed by a unit (s, m, h, d, w), for example 5m or 30d",
            "test.yaml:21: error: slos[3]: duplicate SLO id \"a\": also defined at test.yaml:6",
        ]
    );
}

#[test]
fn malformed_yaml_and_unknown_documents() {
    check(
        "version: nines/v1\nslos: [\n",
        &[
            "test.yaml:3:1: error: invalid YAML: while parsing a node, did not find expected node content",
        ],
    );
    check(
        "version: nines/v2\n",
        &[
            "test.yaml:1:1: error: version: unsupported version \"nines/v2\": expected \"nines/v1\" (nines) or \"prometheus/v1\" (Sloth)",
        ],
    );
    check(
        "hello: world\n",
        &[
            "test.yaml:1:1: error: not a nines, Sloth or OpenSLO document: it has neither `version` nor `apiVersion`",
        ],
    );
}

#[test]
fn a_slo_without_any_runbook_gets_a_warning() {
    let text = "version: nines/v1\nservices: [{id: api}]\nslos:\n  - id: api\n    service: api\n    objective_percent: 99\n    window: 30d\n    sli: {pushed: {}}\n";
    check(
        text,
        &[
            "test.yaml:4:5: warning: slos[0]: SLO \"api\" has no runbook link: pages will carry none",
        ],
    );
}

#[test]
fn channels_and_probes_are_read_and_checked() {
    let loaded = load(
        &[
            example("channels.yaml"),
            example("services.yaml"),
            example("sources.yaml"),
        ],
        &LoadOptions::default(),
    );
    assert!(loaded.report.diagnostics.is_empty(), "{}", loaded.report);
    let kinds: Vec<&str> = loaded
        .catalog
        .channels
        .iter()
        .map(|channel| channel.kind.name())
        .collect();
    assert_eq!(kinds, ["webhook", "alertmanager", "email", "slack"]);
    let Sli::Probe(probe) = &loaded.catalog.slo("storefront-probe").unwrap().sli else {
        panic!("a probe SLI")
    };
    assert_eq!(
        (
            probe.interval.as_secs(),
            probe.timeout.as_secs(),
            probe.expected_status
        ),
        (30, 5, 200)
    );

    let text = format!(
        "{SERVICE}channels:\n  - {{id: a, type: pager, url: http://x/y}}\n  - {{id: b, type: webhook, url: ftp://x}}\nslos:\n  - id: p\n    service: api\n    objective_percent: 99\n    window: 30d\n    sli: {{probe: {{url: http://x/health, interval: 10s, timeout: 20s, expected_status: 700}}}}\n"
    );
    let got = problems(&text);
    assert_eq!(
        got,
        [
            "test.yaml:6:13: error: channels[0].type: unknown channel type \"pager\": expected webhook, alertmanager, slack, email or pagerduty",
            "test.yaml:7:28: error: channels[1].url: \"ftp://x\" is not an http(s) URL",
            "test.yaml:13:56: error: slos[0].sli.probe.timeout: a probe timeout must be above 0 and at most the interval",
            "test.yaml:13:70: error: slos[0].sli.probe.expected_status: expected_status must be an HTTP status (100 to 599)",
        ]
    );
}
