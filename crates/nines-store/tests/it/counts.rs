//! Count rows: reading since a minute, compaction into coarse buckets, retention.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use nines_store::{CountRow, IntakeCommit, Store, StoreError};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::harness::{Ctx, delta};

conformance!(
    counts_since_filters_by_slo_and_minute_in_order,
    compaction_merges_into_aligned_buckets_and_existing_rows,
    compaction_keeps_window_sums,
    compaction_refuses_buckets_below_one_minute,
    delete_counts_before_drops_buckets_that_ended,
    intake_racing_compaction_loses_nothing,
);

fn row(slo_id: &str, minute: i64, bucket_minutes: i64, counted: i64, total: i64) -> CountRow {
    CountRow {
        slo_id: slo_id.to_string(),
        minute,
        bucket_minutes,
        counted,
        total,
    }
}

async fn add(store: &dyn Store, counts: Vec<nines_store::CountDelta>) {
    store
        .commit_intake(&IntakeCommit {
            series: vec![],
            counts,
        })
        .await
        .unwrap();
}

async fn counts_since_filters_by_slo_and_minute_in_order(ctx: Ctx) {
    let store = &*ctx.store;
    add(
        store,
        vec![
            delta("b", 12, 1, 1),
            delta("a", 11, 2, 2),
            delta("a", 9, 3, 3),
            delta("a", 10, 4, 4),
        ],
    )
    .await;
    assert_eq!(
        store.counts_since(None, 10).await.unwrap(),
        [
            row("a", 10, 1, 4, 4),
            row("a", 11, 1, 2, 2),
            row("b", 12, 1, 1, 1)
        ]
    );
    assert_eq!(
        store.counts_since(Some("a"), 0).await.unwrap(),
        [
            row("a", 9, 1, 3, 3),
            row("a", 10, 1, 4, 4),
            row("a", 11, 1, 2, 2)
        ]
    );
    assert_eq!(store.counts_since(Some("c"), 0).await.unwrap(), []);
    assert_eq!(store.counts_since(Some("a"), 12).await.unwrap(), []);
}

async fn compaction_merges_into_aligned_buckets_and_existing_rows(ctx: Ctx) {
    let store = &*ctx.store;
    add(
        store,
        vec![
            delta("a", 0, 1, 10),
            delta("a", 9, 2, 10),
            delta("a", 10, 3, 10),
            delta("a", 25, 4, 10),
            delta("b", 5, 5, 10),
        ],
    )
    .await;
    // Rows starting before minute 25 merge: a@0 and a@9 into a@0/10, a@10 into a@10/10, b@5.
    assert_eq!(store.compact_counts(25, 10).await.unwrap(), 4);
    assert_eq!(
        store.counts_since(None, 0).await.unwrap(),
        [
            row("a", 0, 10, 3, 20),
            row("a", 10, 10, 3, 10),
            row("a", 25, 1, 4, 10),
            row("b", 0, 10, 5, 10)
        ]
    );
    // Late data inside an already compacted bucket is summed into it by the next compaction.
    add(store, vec![delta("a", 3, 100, 100), delta("a", 26, 1, 1)]).await;
    assert_eq!(store.compact_counts(30, 10).await.unwrap(), 3);
    assert_eq!(
        store.counts_since(None, 0).await.unwrap(),
        [
            row("a", 0, 10, 103, 120),
            row("a", 10, 10, 3, 10),
            row("a", 20, 10, 5, 11),
            row("b", 0, 10, 5, 10)
        ]
    );
    // Nothing left to merge; buckets of one minute merge nothing.
    assert_eq!(store.compact_counts(30, 10).await.unwrap(), 0);
    add(store, vec![delta("a", 40, 1, 1)]).await;
    assert_eq!(store.compact_counts(100, 1).await.unwrap(), 0);
    assert_eq!(
        store.counts_since(Some("a"), 40).await.unwrap(),
        [row("a", 40, 1, 1, 1)]
    );
}

async fn compaction_refuses_buckets_below_one_minute(ctx: Ctx) {
    let store = &*ctx.store;
    add(store, vec![delta("a", 0, 1, 1)]).await;
    for bucket_minutes in [0, -10] {
        let err = store.compact_counts(100, bucket_minutes).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    assert_eq!(
        store.counts_since(None, 0).await.unwrap(),
        [row("a", 0, 1, 1, 1)]
    );
}

async fn delete_counts_before_drops_buckets_that_ended(ctx: Ctx) {
    let store = &*ctx.store;
    add(
        store,
        vec![
            delta("a", 0, 1, 1),
            delta("a", 15, 1, 1),
            delta("a", 19, 1, 1),
            delta("a", 20, 1, 1),
        ],
    )
    .await;
    assert_eq!(store.compact_counts(10, 10).await.unwrap(), 1);
    // a@0/10 ends at 10 and a@15 at 16: gone. a@19 ends at 20 and a@20 at 21: kept.
    assert_eq!(store.delete_counts_before(19).await.unwrap(), 2);
    assert_eq!(
        store.counts_since(None, 0).await.unwrap(),
        [row("a", 19, 1, 1, 1), row("a", 20, 1, 1, 1)]
    );
    assert_eq!(store.delete_counts_before(20).await.unwrap(), 1);
    assert_eq!(store.delete_counts_before(20).await.unwrap(), 0);
    assert_eq!(
        store.counts_since(None, 0).await.unwrap(),
        [row("a", 20, 1, 1, 1)]
    );
}

/// One property case: one-minute deltas, a compaction, late deltas, a second compaction.
#[derive(Debug, Clone)]
struct CompactionCase {
    bucket_minutes: i64,
    first: Vec<(i64, i64, i64)>,
    first_before: i64,
    late: Vec<(i64, i64, i64)>,
    second_before: i64,
}

fn compaction_case() -> impl Strategy<Value = CompactionCase> {
    let deltas = || prop::collection::vec((0i64..300, 0i64..1_000, 0i64..1_000), 0..40);
    (
        prop_oneof![Just(10i64), Just(60i64), 2i64..15],
        deltas(),
        0i64..320,
        deltas(),
        0i64..320,
    )
        .prop_map(
            |(bucket_minutes, first, first_before, late, second_before)| CompactionCase {
                bucket_minutes,
                first,
                first_before,
                late,
                second_before,
            },
        )
}

/// Sums per coarse bucket (`minute.div_euclid(bucket_minutes)`) of (counted, total).
fn sums_per_bucket(
    rows: impl Iterator<Item = (i64, i64, i64)>,
    bucket_minutes: i64,
) -> BTreeMap<i64, (i64, i64)> {
    let mut sums = BTreeMap::new();
    for (minute, counted, total) in rows {
        let sum = sums
            .entry(minute.div_euclid(bucket_minutes))
            .or_insert((0, 0));
        sum.0 += counted;
        sum.1 += total;
    }
    sums
}

/// Compacts and checks the result: how many rows it reported, that no one-minute row starting
/// before `before` is left and that coarse rows are aligned.
async fn compact_and_check(
    store: &dyn Store,
    slo_id: &str,
    before: i64,
    bucket_minutes: i64,
) -> Result<(), TestCaseError> {
    // Compaction spans every SLO of the store (earlier cases too): count all mergeable rows.
    let mergeable = store
        .counts_since(None, i64::MIN)
        .await
        .unwrap()
        .iter()
        .filter(|row| row.bucket_minutes == 1 && row.minute < before)
        .count() as u64;
    let merged = store.compact_counts(before, bucket_minutes).await.unwrap();
    prop_assert_eq!(merged, mergeable);
    for row in store.counts_since(Some(slo_id), i64::MIN).await.unwrap() {
        if row.bucket_minutes == 1 {
            prop_assert!(row.minute >= before, "{row:?} left before {before}");
        } else {
            prop_assert_eq!(row.bucket_minutes, bucket_minutes);
            prop_assert_eq!(row.minute.rem_euclid(bucket_minutes), 0, "{:?}", row);
        }
    }
    Ok(())
}

async fn check_compaction_case(
    store: &dyn Store,
    slo_id: &str,
    case: &CompactionCase,
) -> Result<(), TestCaseError> {
    let to_deltas = |rows: &[(i64, i64, i64)]| {
        rows.iter()
            .map(|&(minute, counted, total)| delta(slo_id, minute, counted, total))
            .collect::<Vec<_>>()
    };
    add(store, to_deltas(&case.first)).await;
    compact_and_check(store, slo_id, case.first_before, case.bucket_minutes).await?;
    add(store, to_deltas(&case.late)).await;
    compact_and_check(store, slo_id, case.second_before, case.bucket_minutes).await?;

    let expected = sums_per_bucket(
        case.first.iter().chain(&case.late).copied(),
        case.bucket_minutes,
    );
    let rows = store.counts_since(Some(slo_id), i64::MIN).await.unwrap();
    let stored = sums_per_bucket(
        rows.iter().map(|row| (row.minute, row.counted, row.total)),
        case.bucket_minutes,
    );
    // Equal sums per coarse bucket means equal sums over every range of whole coarse buckets.
    prop_assert_eq!(stored, expected);
    Ok(())
}

async fn compaction_keeps_window_sums(ctx: Ctx) {
    let store = ctx.store.clone();
    let runtime = tokio::runtime::Handle::current();
    let case_number = AtomicU64::new(0);
    let config = Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    };
    // The property runner is synchronous; each case runs on this test's runtime.
    tokio::task::block_in_place(|| {
        let mut runner = TestRunner::new(config);
        let result = runner.run(&compaction_case(), |case| {
            // Every case (and every shrinking step) gets an SLO of its own in the shared store.
            let slo_id = format!("slo-{}", case_number.fetch_add(1, Ordering::Relaxed));
            runtime.block_on(check_compaction_case(&*store, &slo_id, &case))
        });
        if let Err(err) = result {
            panic!("compaction changed a window sum: {err}");
        }
    });
}

/// Writers add to one-minute rows while compaction merges the same minutes away: every delta
/// ends up counted exactly once, whichever ran first.
async fn intake_racing_compaction_loses_nothing(ctx: Ctx) {
    const WRITERS: i64 = 4;
    const COMMITS: i64 = 25;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = ctx.store.clone();
        tasks.push(tokio::spawn(async move {
            for commit in 0..COMMITS {
                let minute = (writer * COMMITS + commit) % 30;
                add(
                    &*store,
                    vec![delta("a", minute, 1, 2), delta("b", minute, 1, 1)],
                )
                .await;
            }
        }));
    }
    let compactor = {
        let store = ctx.store.clone();
        tokio::spawn(async move {
            for _ in 0..20 {
                store.compact_counts(30, 10).await.unwrap();
            }
        })
    };
    for task in tasks {
        task.await.unwrap();
    }
    compactor.await.unwrap();
    ctx.store.compact_counts(30, 10).await.unwrap();

    let commits = WRITERS * COMMITS;
    let rows = ctx.store.counts_since(None, i64::MIN).await.unwrap();
    let sum = |slo_id: &str| {
        rows.iter()
            .filter(|row| row.slo_id == slo_id)
            .fold((0, 0), |(counted, total), row| {
                (counted + row.counted, total + row.total)
            })
    };
    assert_eq!(sum("a"), (commits, 2 * commits));
    assert_eq!(sum("b"), (commits, commits));
    assert!(rows.iter().all(|row| row.bucket_minutes == 10), "{rows:?}");
}
