//! The Google SRE Workbook's numbers through the real evaluator: a full outage of a 99.9% SLO
//! pages through the 1h/14.4x pair after about 51.8 s; a burn rate of 1 never pages.

use jiff::Timestamp;
use nines_core::{
    AlertPolicy, BudgetingMethod, Change, CountKind, Objective, Ratio, Severity, SloRuntime,
    SloSpec, Span, Window,
};
use proptest::prelude::*;

fn spec(method: BudgetingMethod) -> SloSpec {
    SloSpec {
        objective: Objective::new(0.999).unwrap(),
        window: Window::rolling(Span::days(30)).unwrap(),
        method,
        policy: AlertPolicy::workbook(),
        count_kind: CountKind::Bad,
    }
}

/// A minute edge (1_800_000_000 is divisible by 60).
const START: i64 = 1_800_000_000;

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap()
}

/// Runs steady traffic of `per_second` requests, `bad_per_second(t)` of them bad, evaluating
/// every second from `from` to `to`; returns the first second the page fired, and every
/// transition.
fn run(
    slo: &SloSpec,
    from: i64,
    to: i64,
    per_second: u64,
    bad_per_second: impl Fn(i64) -> u64,
    step: i64,
) -> (Option<i64>, Vec<nines_core::Transition>) {
    let mut runtime = SloRuntime::new(slo, at(from));
    let mut first_page = None;
    let mut transitions = Vec::new();
    let mut second = from;
    while second < to {
        let mut bad = 0;
        for offset in 0..step {
            bad += bad_per_second(second + offset);
        }
        runtime
            .record(at(second), bad, per_second * step as u64)
            .unwrap();
        second += step;
        let evaluation = runtime.evaluate(slo, at(second - 1)).unwrap();
        if first_page.is_none() && evaluation.pairs[0].fires() {
            first_page = Some(second - 1);
        }
        transitions.extend(evaluation.transitions);
    }
    (first_page, transitions)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn a_full_outage_pages_through_the_one_hour_pair_after_51_8_seconds(offset in 0i64..3600) {
        let slo = spec(BudgetingMethod::Occurrences);
        let start = START;
        let outage = start + 2 * 3600 + offset;
        let (first_page, transitions) = run(&slo, start, outage + 300, 100, |t| if t >= outage { 100 } else { 0 }, 1);
        let fired_after = first_page.expect("the 1h/14.4x pair fires") - outage;
        // The workbook: 0.0144 * 3600 s = 51.84 s; our windows end on minute buckets, so
        // within one bucket of it.
        prop_assert!((fired_after as f64 - 51.84).abs() <= 60.0, "fired after {fired_after} s");
        let page = transitions.iter().find(|t| t.severity == Severity::Page && t.change == Change::Fired);
        prop_assert!(page.is_some());
    }
}

#[test]
fn a_full_outage_at_a_minute_edge_pages_within_a_second_of_the_workbook() {
    let slo = spec(BudgetingMethod::Occurrences);
    let start = START;
    let outage = start + 2 * 3600;
    let (first_page, _) = run(
        &slo,
        start,
        outage + 300,
        100,
        |t| if t >= outage { 100 } else { 0 },
        1,
    );
    // Each second's requests are recorded as it starts, so at instant outage + t the window
    // holds t + 1 bad seconds: (t + 1) / (3540 + t + 1) > 0.0144 first at t + 1 = 52 seconds
    // of errors, against the workbook's 51.84.
    assert_eq!(first_page.map(|second| second - outage), Some(51));
}

#[test]
fn a_burn_rate_of_one_never_alerts() {
    // Exactly 0.1% errors for four days: the budget is spent exactly as fast as it accrues.
    let slo = spec(BudgetingMethod::Occurrences);
    let start = START;
    let (first_page, transitions) = run(
        &slo,
        start,
        start + 4 * 86_400,
        1000,
        |t| u64::from(t % 60 == 0) * 60,
        60,
    );
    assert_eq!(first_page, None);
    assert!(transitions.is_empty(), "{transitions:?}");
}

#[test]
fn a_burn_rate_of_two_raises_a_ticket_but_never_pages() {
    let slo = spec(BudgetingMethod::Occurrences);
    let start = START;
    let (first_page, transitions) = run(
        &slo,
        start,
        start + 4 * 86_400,
        1000,
        |t| u64::from(t % 60 == 0) * 120,
        60,
    );
    assert_eq!(first_page, None);
    assert!(
        transitions.iter().all(|t| t.severity == Severity::Ticket),
        "{transitions:?}"
    );
    assert!(transitions.iter().any(|t| t.change == Change::Fired));
}

#[test]
fn one_failed_request_at_low_traffic_does_not_page() {
    // Twelve requests an hour, one of which fails: a 1h burn rate of 83, but a single failure.
    let slo = spec(BudgetingMethod::Occurrences);
    let start = START;
    let mut runtime = SloRuntime::new(&slo, at(start));
    for minute in 0..120 {
        let bad = u64::from(minute == 100);
        if minute % 5 == 0 {
            runtime.record(at(start + minute * 60), bad, 1).unwrap();
        } else if bad == 1 {
            runtime.record(at(start + minute * 60), 1, 1).unwrap();
        }
        let evaluation = runtime
            .evaluate(&slo, at(start + minute * 60 + 59))
            .unwrap();
        assert!(
            evaluation
                .transitions
                .iter()
                .all(|t| t.change != Change::Fired),
            "minute {minute}"
        );
        if (100..105).contains(&minute) {
            assert!(evaluation.pairs[0].burning && evaluation.pairs[0].guarded);
        }
    }
}

#[test]
fn silence_raises_the_no_data_alert_and_traffic_resolves_it() {
    let slo = spec(BudgetingMethod::Occurrences);
    let start = START;
    let mut runtime = SloRuntime::new(&slo, at(start));
    runtime.record(at(start), 0, 10).unwrap();
    let quiet = runtime.evaluate(&slo, at(start + 14 * 60)).unwrap();
    assert!(!quiet.no_data);
    let silent = runtime.evaluate(&slo, at(start + 15 * 60 + 30)).unwrap();
    assert!(silent.no_data);
    assert_eq!(silent.transitions.len(), 1);
    assert_eq!(silent.transitions[0].kind, nines_core::AlertKind::NoData);
    runtime.record(at(start + 16 * 60), 0, 10).unwrap();
    let back = runtime.evaluate(&slo, at(start + 16 * 60 + 1)).unwrap();
    assert_eq!(back.transitions[0].change, Change::Resolved);
}

#[test]
fn timeslices_count_bad_minutes() {
    // 99.9% of minutes must have at least 95% good requests: 43.2 bad minutes a month.
    let slo = spec(BudgetingMethod::Timeslices {
        slice: Span::minutes(1),
        target: Ratio::new(0.95).unwrap(),
    });
    let start = START;
    let mut runtime = SloRuntime::new(&slo, at(start));
    for minute in 0..600 {
        // Ten minutes at 10% errors (bad), the rest at 1% errors (good slices).
        let bad = if (300..310).contains(&minute) { 10 } else { 1 };
        runtime.record(at(start + minute * 60), bad, 100).unwrap();
    }
    let evaluation = runtime.evaluate(&slo, at(start + 600 * 60)).unwrap();
    assert_eq!(evaluation.budget.consumed, 10.0);
    assert!((evaluation.budget.allowed - 43.2).abs() < 1e-9);
    assert!((evaluation.budget.remaining_share - (1.0 - 10.0 / 43.2)).abs() < 1e-9);
}

#[test]
fn timeslices_wait_for_data_that_arrives_late() {
    // A pulled SLO's counts arrive a few minutes after the clock: a slice is judged only once
    // its data is in, so the late bad minutes still count.
    let slo = spec(BudgetingMethod::Timeslices {
        slice: Span::minutes(1),
        target: Ratio::new(0.95).unwrap(),
    });
    let start = START;
    let judge = |late: bool| {
        let mut runtime = SloRuntime::new(&slo, at(start));
        for minute in 0..60 {
            let bad = if (40..45).contains(&minute) { 10 } else { 0 };
            let now = at(start + minute * 60 + 59);
            if late {
                // Minutes up to `minute - 3` are in; the data of the last three comes later.
                runtime.set_data_until(Some(nines_core::Minute((start / 60) + minute - 2)));
                if minute >= 3 {
                    let old = minute - 3;
                    let bad = if (40..45).contains(&old) { 10 } else { 0 };
                    runtime.record(at(start + old * 60), bad, 100).unwrap();
                }
            } else {
                runtime.record(at(start + minute * 60), bad, 100).unwrap();
            }
            runtime.evaluate(&slo, now).unwrap();
        }
        if late {
            for old in 57..60 {
                runtime.record(at(start + old * 60), 0, 100).unwrap();
            }
            runtime.set_data_until(Some(nines_core::Minute(start / 60 + 60)));
        }
        runtime.evaluate(&slo, at(start + 60 * 60 + 30)).unwrap()
    };
    assert_eq!(judge(false).budget.consumed, 5.0);
    assert_eq!(judge(true).budget.consumed, 5.0);
}

#[test]
fn burn_rates_of_the_past_are_the_readings_the_evaluator_made_then() {
    let slo = spec(BudgetingMethod::Occurrences);
    let mut runtime = SloRuntime::new(&slo, at(START));
    let mut readings = Vec::new();
    // Two hours: healthy, then 20 minutes of 1% errors (a burn rate of 10), then healthy.
    for minute in 0..120i64 {
        let second = START + minute * 60;
        let bad = if (60..80).contains(&minute) { 10 } else { 0 };
        runtime.record(at(second), bad, 1000).unwrap();
        let evaluation = runtime.evaluate(&slo, at(second + 59)).unwrap();
        readings.push((
            second + 59,
            evaluation.pairs[0].short_burn_rate,
            evaluation.pairs[0].long_burn_rate,
        ));
    }
    let pair = slo.policy.pairs[0];
    for (second, short, long) in readings {
        let short_then = runtime.burn_rate_at(&slo, at(second), pair.short_window.whole_minutes());
        let long_then = runtime.burn_rate_at(&slo, at(second), pair.long_window.whole_minutes());
        assert_eq!(short_then, short, "5m window at {second}");
        if second - START >= 3600 {
            assert_eq!(long_then, long, "1h window at {second}");
        }
    }
    // A reading older than the buckets reach says nothing rather than something wrong.
    assert_eq!(
        runtime.burn_rate_at(&slo, at(START - 86_400 * 60), 60),
        None
    );
    // 1% errors against a 0.1% budget: a burn rate of 10 in the middle of the bad minutes.
    let middle = runtime
        .burn_rate_at(&slo, at(START + 70 * 60), 5)
        .expect("a reading");
    assert!((middle - 10.0).abs() < 1e-9, "{middle}");
    // Ten hours on, those minutes are in ten-minute buckets: a window that ends at a bucket
    // edge still reads exactly, one that cannot be placed on the edges reads nothing, and no
    // reading takes in minutes after its instant.
    for minute in 120..600i64 {
        runtime.record(at(START + minute * 60), 0, 1000).unwrap();
    }
    let hour = runtime
        .burn_rate_at(&slo, at(START + 79 * 60 + 59), 60)
        .expect("an hour ending at a bucket edge");
    assert!((hour - 10.0 * 20.0 / 60.0).abs() < 1e-9, "{hour}");
    assert_eq!(
        runtime.burn_rate_at(&slo, at(START + 70 * 60 + 59), 5),
        None
    );
    let before_the_errors = runtime.burn_rate_at(&slo, at(START + 59 * 60 + 59), 60);
    assert_eq!(
        before_the_errors,
        Some(0.0),
        "never reads the bad minutes that came after"
    );
}

#[test]
fn the_burn_down_spends_the_window_budget_and_ends_at_the_budget_left_now() {
    let slo = spec(BudgetingMethod::Occurrences);
    let mut runtime = SloRuntime::new(&slo, at(START));
    // A day of 1000 events a minute; 30 bad minutes of 10 bad events each in the middle.
    for minute in 0..1440i64 {
        let bad = if (600..630).contains(&minute) { 10 } else { 0 };
        runtime.record(at(START + minute * 60), bad, 1000).unwrap();
    }
    let now = at(START + 1440 * 60 - 1);
    let evaluation = runtime.evaluate(&slo, now).unwrap();
    // (Older minutes are kept in coarser buckets: instants there read at a bucket edge.)
    let instants: Vec<Timestamp> = [0, 599, 619, 700, 1439]
        .iter()
        .map(|minute| at(START + minute * 60 + 59))
        .chain([at(START - 86_400 * 40), at(START + 86_400 * 2)])
        .collect();
    let (start, readings) = runtime.burn_down(&slo, now, &instants).unwrap();
    assert!(start <= at(START));
    // 1,440,000 events allow 1440 bad ones; 300 were spent in all.
    let share = |bad: f64| Some(1.0 - bad / 1440.0);
    let close = |got: Option<f64>, want: Option<f64>| match (got, want) {
        (Some(got), Some(want)) => (got - want).abs() < 1e-9,
        (got, want) => got == want,
    };
    let wanted = [
        share(0.0),
        share(0.0),
        share(200.0),
        share(300.0),
        share(300.0),
    ];
    for (index, want) in wanted.iter().enumerate() {
        assert!(
            close(readings[index], *want),
            "{index}: {:?} {want:?}",
            readings[index]
        );
    }
    assert_eq!(readings[5], None, "before the window");
    assert_eq!(readings[6], None, "after now");
    let last = readings[4].unwrap();
    assert!((last - evaluation.budget.remaining_share).abs() < 1e-12);
}
