//! Window sums over the tiered series equal a brute-force sum over the same minutes.

use std::collections::BTreeMap;

use nines_core::Minute;
use nines_core::buckets::{BucketError, Counts, TieredSeries};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// Move the head forward this many minutes.
    Advance(i64),
    /// Add counts this many minutes before the head (0: the current minute).
    Add { age: i64, counted: u64, total: u64 },
    /// Ask for the sum over the last `length` minutes, ending `age` minutes before the head.
    Query { age: i64, length: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1i64..3000).prop_map(Op::Advance),
        1 => (1i64..20_000).prop_map(Op::Advance),
        6 => (0i64..6000, 0u64..1000, 0u64..1000).prop_map(|(age, counted, total)| Op::Add { age: age % 7000, counted, total }),
        2 => (0i64..40, 0u64..1000, 0u64..1000).prop_map(|(age, counted, total)| Op::Add { age, counted, total }),
        4 => (0i64..100, 1i64..30_000).prop_map(|(age, length)| Op::Query { age, length }),
    ]
}

/// The brute-force sum of minutes `start..end`.
fn brute(minutes: &BTreeMap<i64, Counts>, start: Minute, end: Minute) -> Counts {
    let mut sum = Counts::default();
    for (_, counts) in minutes.range(start.0..end.0) {
        sum += *counts;
    }
    sum
}

fn bucket_minutes_at(series: &TieredSeries<Counts>, minute: Minute) -> i64 {
    let (fine_start, medium_start, _) = series.tier_starts();
    if minute >= fine_start {
        1
    } else if minute >= medium_start {
        10
    } else {
        60
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn window_sums_equal_brute_force(
        start in 20_000_000i64..30_000_000,
        retention_days in 1i64..35,
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let retention = retention_days * 1440;
        let mut series: TieredSeries<Counts> = TieredSeries::new(Minute(start), retention);
        let mut minutes: BTreeMap<i64, Counts> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Advance(by) => series.advance(series.head() + by),
                Op::Add { age, counted, total } => {
                    let minute = series.head() - age;
                    let result = series.add(minute, Counts::new(counted, total));
                    if minute < series.oldest() {
                        let refused = matches!(result, Err(BucketError::TooOld { .. }));
                        prop_assert!(refused);
                    } else {
                        prop_assert!(result.is_ok());
                        *minutes.entry(minute.0).or_default() += Counts::new(counted, total);
                    }
                }
                Op::Query { age, length } => {
                    // The gathered form agrees with the one-at-a-time one.
                    let mut gathered = [Counts::default(); 2];
                    series.sums_last(&[length, length / 2 + 1], &mut gathered);
                    prop_assert_eq!(gathered[0], series.sum_last(length).sum);
                    prop_assert_eq!(gathered[1], series.sum_last(length / 2 + 1).sum);
                    let end = series.head() + 1 - age;
                    let requested = end - length;
                    let sum = series.sum_between(requested, end);
                    prop_assert_eq!(sum.end, end.max(series.oldest()));
                    // Exact over the minutes the sum says it spans.
                    prop_assert_eq!(sum.sum, brute(&minutes, sum.start, sum.end));
                    if requested >= series.oldest() {
                        // Moved forward to a bucket edge, by less than one bucket.
                        prop_assert!(!sum.truncated);
                        prop_assert!(sum.start >= requested);
                        prop_assert!(sum.start - requested < bucket_minutes_at(&series, requested));
                    } else {
                        prop_assert!(sum.truncated);
                        prop_assert_eq!(sum.start, series.oldest());
                    }
                }
            }
        }
        // Everything ever added is in the running total, retained or not.
        let all = minutes.values().fold(Counts::default(), |mut acc, c| { acc += *c; acc });
        prop_assert_eq!(series.total(), all);
    }

    #[test]
    fn the_newest_six_hours_are_exact_to_the_minute(
        adds in proptest::collection::vec((0i64..360, 1u64..100), 1..200),
        length in 1i64..=360,
    ) {
        let mut series: TieredSeries<Counts> = TieredSeries::new(Minute(27_000_000), 30 * 1440);
        series.advance(Minute(27_000_000 + 5000));
        let mut minutes: BTreeMap<i64, Counts> = BTreeMap::new();
        for (age, total) in adds {
            let minute = series.head() - age;
            series.add(minute, Counts::new(0, total)).unwrap();
            *minutes.entry(minute.0).or_default() += Counts::new(0, total);
        }
        let sum = series.sum_last(length);
        prop_assert_eq!(sum.start, series.head() + 1 - length);
        prop_assert_eq!(sum.sum, brute(&minutes, sum.start, sum.end));
    }
}

#[test]
fn a_28_day_series_fits_in_32_kib() {
    let start = Minute(28_000_000);
    let mut series: TieredSeries<Counts> = TieredSeries::new(start, 28 * 1440 + 60);
    for minute in 0..40 * 1440 {
        series.add(start + minute, Counts::new(1, 2)).unwrap();
    }
    series.shrink_to_fit();
    let bytes = series.memory_bytes();
    assert!(bytes < 32 * 1024, "{bytes} bytes");
    // And the 28 days are still there, exact to the hour edge the window starts in.
    let requested = series.head() + 1 - 28 * 1440;
    let sum = series.sum_last(28 * 1440);
    assert!(!sum.truncated);
    assert!(sum.start >= requested && sum.start - requested < 60);
    let minutes = (sum.end - sum.start) as u64;
    assert_eq!(sum.sum, Counts::new(minutes, 2 * minutes));
}

#[test]
fn a_new_series_takes_data_from_its_whole_retention() {
    let now = Minute(28_000_000 + 17);
    let retention = 30 * 1440;
    let mut series: TieredSeries<Counts> = TieredSeries::new(now, retention);
    // A backfill of the whole window, oldest first, then a query over all of it.
    for age in 0..retention {
        series.add(now - age, Counts::new(0, 1)).unwrap();
    }
    assert!(series.add(now - retention - 60, Counts::new(0, 1)).is_err());
    let sum = series.sum_last(retention);
    assert!(!sum.truncated);
    assert_eq!(sum.sum.total, (sum.end - sum.start) as u64);
    assert!(sum.start - (now + 1 - retention) < 60);
}

#[test]
fn a_series_running_for_weeks_keeps_the_memory_it_started_with() {
    let start = Minute(28_000_000);
    let retention = 28 * 1440 + 60;
    let mut series: TieredSeries<Counts> = TieredSeries::new(start, retention);
    let at_start = series.memory_bytes();
    for minute in 0..40 * 1440 {
        series.add(start + minute, Counts::new(1, 2)).unwrap();
    }
    // Advancing minute by minute never grows a tier beyond what it was given.
    assert_eq!(series.memory_bytes(), at_start);
    assert!(at_start < 32 * 1024, "{at_start} bytes");
}
