//! Plans and answers turned into counts: exact differencing of counters, resets, gaps, window
//! templates, ratios, thresholds, and every kind of bad answer.

use std::collections::BTreeMap;

use nines_core::CountKind;
use nines_spec::Sli;
use nines_spec::catalog::ThresholdOp;

use super::prometheus::parse_answer;
use super::*;

fn series(labels: &[(&str, &str)], points: &[(i64, f64)]) -> Series {
    Series {
        labels: labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect::<BTreeMap<_, _>>(),
        points: points
            .iter()
            .map(|(minute, value)| (minute * 60, *value))
            .collect(),
    }
}

fn pulled(sli: Sli, count_kind: CountKind) -> SloDef {
    let mut slo = crate::intake::test_support::slo("api", count_kind, sli);
    slo.source = Some("prom".to_string());
    slo
}

#[test]
fn counter_selectors_are_differenced_per_series_with_resets_and_gaps() {
    let a = series(
        &[("code", "200")],
        // minute edges 100..=106: +5, +0, reset to 3 (counts 3), +4, gap at 105, +6 over two
        &[
            (100, 10.0),
            (101, 15.0),
            (102, 15.0),
            (103, 3.0),
            (104, 7.0),
            (106, 13.0),
        ],
    );
    // A series that starts inside the range: its first value is a baseline, not counted.
    let b = series(
        &[("code", "500")],
        &[(103, 2.0), (104, 3.0), (105, 3.0), (106, 5.0)],
    );
    let mut problems = Vec::new();
    let out = amounts(&Form::CounterSeries, &[a, b], 100, 106, &mut problems).unwrap();
    assert_eq!(
        out,
        vec![
            Some(5.0),
            Some(0.0),
            Some(3.0),
            Some(5.0),
            Some(0.0),
            Some(8.0)
        ]
    );
    assert!(problems.is_empty());
}

#[test]
fn counters_skip_nan_and_negative_values_and_say_so() {
    let a = series(
        &[],
        &[(0, 1.0), (1, f64::NAN), (2, 4.0), (3, -1.0), (4, 6.0)],
    );
    let mut problems = Vec::new();
    let out = amounts(&Form::CounterExpr, &[a], 0, 4, &mut problems).unwrap();
    assert_eq!(out, vec![Some(0.0), Some(3.0), Some(0.0), Some(2.0)]);
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0].at, 60);
    assert!(problems[1].message.contains("-1"), "{problems:?}");
}

#[test]
fn several_series_where_one_is_expected_is_an_error() {
    let a = series(&[("code", "200")], &[(1, 1.0)]);
    let b = series(&[("code", "500")], &[(1, 1.0)]);
    for form in [
        Form::CounterExpr,
        Form::MinuteEvents { scale: 60.0 },
        Form::MinuteRatio,
        Form::Threshold {
            op: ThresholdOp::Lt,
            value: 1.0,
        },
    ] {
        let err = amounts(&form, &[a.clone(), b.clone()], 0, 1, &mut Vec::new()).unwrap_err();
        assert!(err.0.contains("2 series where one is expected"), "{err}");
        assert!(err.0.contains("code=\"500\""), "{err}");
    }
}

#[test]
fn window_templates_read_each_minute_and_reject_impossible_counts() {
    // Edge 10 is the range's first (a baseline for counters; unused here).
    let rate = series(
        &[],
        &[(10, 99.0), (11, 0.5), (12, f64::NAN), (13, -0.1), (15, 2.0)],
    );
    let mut problems = Vec::new();
    let out = amounts(
        &Form::MinuteEvents { scale: 60.0 },
        &[rate],
        10,
        15,
        &mut problems,
    )
    .unwrap();
    assert_eq!(out, vec![Some(30.0), None, None, Some(0.0), Some(120.0)]);
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0].at, 12 * 60);
}

#[test]
fn ratios_and_thresholds_weigh_minutes() {
    let ratio = series(&[], &[(1, 0.25), (2, f64::NAN), (3, 1.5)]);
    let mut problems = Vec::new();
    let out = amounts(&Form::MinuteRatio, &[ratio], 0, 3, &mut problems).unwrap();
    assert_eq!(out, vec![Some(0.25), None, None]);
    assert_eq!(
        problems.len(),
        1,
        "NaN is no traffic, not a problem: {problems:?}"
    );

    let lag = series(&[], &[(1, 50.0), (2, 100.0), (3, 150.0)]);
    let form = Form::Threshold {
        op: ThresholdOp::Lte,
        value: 100.0,
    };
    let out = amounts(&form, &[lag], 0, 4, &mut Vec::new()).unwrap();
    assert_eq!(out, vec![Some(1.0), Some(1.0), Some(0.0), None]);
}

#[test]
fn combine_counts_minutes_and_leaves_missing_ones_out() {
    let slo = pulled(
        Sli::Counters {
            good: None,
            bad: Some("errors_total".to_string()),
            total: "requests_total".to_string(),
        },
        CountKind::Bad,
    );
    let plan = plan(&slo).unwrap().unwrap();
    let counted = vec![Some(1.0), Some(0.0), None, Some(0.0)];
    let total = vec![Some(10.0), Some(0.0), Some(5.0), Some(7.0)];
    let mut carry = Carry::default();
    let (minutes, missing) = combine(&plan, &[counted, total], 500, &mut carry);
    assert_eq!(
        minutes,
        vec![
            MinuteCounts {
                minute: 500,
                counted: 1,
                total: 10
            },
            MinuteCounts {
                minute: 503,
                counted: 0,
                total: 7
            }
        ]
    );
    assert_eq!(missing, 1);
}

#[test]
fn fractional_amounts_carry_so_totals_stay_within_one_event() {
    let slo = pulled(
        Sli::EventQueries {
            errors: Some("sum(rate(errors_total[{{.window}}]))".to_string()),
            good: None,
            total: "sum(rate(requests_total[{{.window}}]))".to_string(),
        },
        CountKind::Bad,
    );
    let plan = plan(&slo).unwrap().unwrap();
    assert_eq!(plan.queries[0].promql, "sum(rate(errors_total[1m]))");
    assert_eq!(plan.queries[0].form, Form::MinuteEvents { scale: 60.0 });
    let counted = vec![Some(0.4); 1000];
    let total = vec![Some(3.3); 1000];
    let mut carry = Carry::default();
    let (minutes, _) = combine(&plan, &[counted, total], 0, &mut carry);
    let bad: u64 = minutes.iter().map(|minute| minute.counted).sum();
    let all: u64 = minutes.iter().map(|minute| minute.total).sum();
    assert!((bad as f64 - 400.0).abs() <= 1.0, "{bad}");
    assert!((all as f64 - 3300.0).abs() <= 1.0, "{all}");
}

#[test]
fn plans_follow_the_sli() {
    let latency = pulled(
        Sli::Latency {
            histogram: "http_request_duration_seconds_bucket{job=\"api\"}".to_string(),
            threshold_seconds: 0.3,
        },
        CountKind::Good,
    );
    let plan_of = |slo: &SloDef| plan(slo).unwrap().unwrap();
    let queries = plan_of(&latency).queries;
    assert_eq!(
        queries[0].promql,
        "http_request_duration_seconds_bucket{job=\"api\",le=\"0.3\"}"
    );
    assert_eq!(
        queries[1].promql,
        "http_request_duration_seconds_bucket{job=\"api\",le=\"+Inf\"}"
    );

    let openslo = pulled(
        Sli::Queries {
            good: Some("sum(http_requests{code=~\"2xx\"})".to_string()),
            bad: None,
            total: "http_requests".to_string(),
        },
        CountKind::Good,
    );
    let queries = plan_of(&openslo).queries;
    // sum(selector) is read as the selector, series by series.
    assert_eq!(queries[0].form, Form::CounterSeries);
    assert_eq!(queries[0].promql, "http_requests{code=~\"2xx\"}");
    assert_eq!(queries[1].form, Form::CounterSeries);
    let expression = pulled(
        Sli::Queries {
            good: Some("sum by (code) (http_requests) - 1".to_string()),
            bad: None,
            total: "sum by (job) (http_requests)".to_string(),
        },
        CountKind::Good,
    );
    let queries = plan_of(&expression).queries;
    assert_eq!(queries[0].form, Form::CounterExpr);
    assert_eq!(queries[0].promql, "sum by (code) (http_requests) - 1");
    assert_eq!(queries[1].form, Form::CounterSeries);

    let increase = pulled(
        Sli::EventQueries {
            errors: None,
            good: Some("sum(increase(ok_total[{{ .window }}]))".to_string()),
            total: "sum(increase(all_total[{{.window}}]))".to_string(),
        },
        CountKind::Good,
    );
    assert_eq!(
        plan_of(&increase).queries[0].form,
        Form::MinuteEvents { scale: 1.0 }
    );

    let mut pushed = latency.clone();
    pushed.source = None;
    assert_eq!(plan(&pushed).unwrap(), None);

    let external = pulled(
        Sli::External {
            source_type: "Datadog".to_string(),
            detail: BTreeMap::new(),
        },
        CountKind::Good,
    );
    assert!(plan(&external).unwrap_err().contains("Datadog"));

    let broken = pulled(
        Sli::RawErrorRatio {
            error_ratio: "sum(rate(x[{{.window}}])".to_string(),
        },
        CountKind::Bad,
    );
    assert!(plan(&broken).unwrap_err().contains("invalid PromQL"));
}

fn parse(body: &str, status: u16) -> Result<Vec<Series>, QueryError> {
    parse_answer("http://prom", status, body.as_bytes(), 10, 12)
}

#[test]
fn answers_are_read_strictly() {
    let good = r#"{"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"job":"api"},"values":[[600,"1"],[660,"NaN"],[720,"+Inf"]]}]}}"#;
    let series = parse(good, 200).unwrap();
    assert_eq!(series[0].points[0], (600, 1.0));
    assert!(series[0].points[1].1.is_nan());
    assert_eq!(series[0].points[2].1, f64::INFINITY);

    let refused = r#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#;
    assert!(matches!(
        parse(refused, 400),
        Err(QueryError::Refused { status: 400, ref error_type, .. }) if error_type == "bad_data"
    ));
    assert!(matches!(
        parse("<html>bad gateway</html>", 502),
        Err(QueryError::Http { status: 502, .. })
    ));
    for (body, expect) in [
        ("not json", "not a Prometheus API answer"),
        (r#"{"status":"success"}"#, "`data` is missing"),
        (
            r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
            "resultType",
        ),
        (
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[630,"1"]]}]}}"#,
            "not a minute edge",
        ),
        (
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[6000,"1"]]}]}}"#,
            "not a minute edge",
        ),
        (
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[660,"1"],[600,"2"]]}]}}"#,
            "out of order",
        ),
        (
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[600,"one"]]}]}}"#,
            "not a number",
        ),
        (
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"histograms":[[600,{}]]}]}}"#,
            "native histograms",
        ),
    ] {
        let err = parse(body, 200).unwrap_err();
        assert!(err.to_string().contains(expect), "{body}: {err}");
    }
}

#[test]
fn a_series_that_keeps_dropping_is_reported_as_no_counter() {
    let gauge = series(
        &[("job", "queue")],
        &[
            (0, 5.0),
            (1, 3.0),
            (2, 6.0),
            (3, 2.0),
            (4, 4.0),
            (5, 1.0),
            (6, 2.0),
        ],
    );
    let mut problems = Vec::new();
    amounts(&Form::CounterSeries, &[gauge], 0, 6, &mut problems).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .message
            .contains("does not behave like a counter")
    );

    // One reset in a long run of increases is a restart, not a gauge.
    let mut points: Vec<(i64, f64)> = (0..100).map(|minute| (minute, minute as f64)).collect();
    points[50].1 = 0.0;
    for (index, point) in points.iter_mut().enumerate().skip(51) {
        point.1 = (index - 50) as f64;
    }
    let counter = series(&[], &points);
    let mut problems = Vec::new();
    amounts(&Form::CounterSeries, &[counter], 0, 99, &mut problems).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn absurd_amounts_leave_the_minute_without_data_and_rounding_never_invents_events() {
    let slo = pulled(
        Sli::Counters {
            good: None,
            bad: Some("errors_total".to_string()),
            total: "requests_total".to_string(),
        },
        CountKind::Bad,
    );
    let plan = plan(&slo).unwrap().unwrap();
    let mut carry = Carry::default();
    let (minutes, missing) = combine(
        &plan,
        &[
            vec![Some(1.0), Some(0.0)],
            vec![Some(5e18 * 4.0), Some(3.0)],
        ],
        0,
        &mut carry,
    );
    assert_eq!(missing, 1);
    assert_eq!(
        minutes,
        vec![MinuteCounts {
            minute: 1,
            counted: 0,
            total: 3
        }]
    );

    // 0.5 and 0 alternating: 25 events in 100 minutes (rounding -0.5 down to -1 made it 50).
    let halves: Vec<Option<f64>> = (0..100)
        .map(|i| Some(if i % 2 == 0 { 0.5 } else { 0.0 }))
        .collect();
    let mut carry = Carry::default();
    let (minutes, _) = combine(&plan, &[halves.clone(), halves], 0, &mut carry);
    let total: u64 = minutes.iter().map(|minute| minute.total).sum();
    assert!((24..=25).contains(&total), "{total}");
}
