//! Intake commits: series states upserted, counts summed into one-minute rows, all or nothing.

use nines_store::{CountRow, IntakeCommit, SeriesState, StoreError};

use crate::harness::{Ctx, delta};

conformance!(
    intake_sums_counts_across_commits,
    intake_upserts_series_states,
    intake_commit_is_all_or_nothing,
    intake_refuses_nan_and_writes_nothing,
);

fn series(key: &str, last_value: f64, last_timestamp_ms: i64) -> SeriesState {
    SeriesState {
        series_key: key.to_string(),
        last_value,
        last_timestamp_ms,
    }
}

fn row(slo_id: &str, minute: i64, counted: i64, total: i64) -> CountRow {
    CountRow {
        slo_id: slo_id.to_string(),
        minute,
        bucket_minutes: 1,
        counted,
        total,
    }
}

async fn intake_sums_counts_across_commits(ctx: Ctx) {
    let store = &ctx.store;
    store
        .commit_intake(&IntakeCommit {
            series: vec![],
            counts: vec![delta("a", 100, 1, 10), delta("a", 101, 0, 5)],
        })
        .await
        .unwrap();
    store
        .commit_intake(&IntakeCommit {
            series: vec![],
            // The same minute twice in one commit adds twice.
            counts: vec![
                delta("a", 100, 2, 20),
                delta("a", 100, 1, 1),
                delta("b", 100, 7, 7),
            ],
        })
        .await
        .unwrap();
    assert_eq!(
        store.counts_since(None, 0).await.unwrap(),
        [
            row("a", 100, 4, 31),
            row("a", 101, 0, 5),
            row("b", 100, 7, 7)
        ]
    );
}

async fn intake_upserts_series_states(ctx: Ctx) {
    let store = &ctx.store;
    store
        .commit_intake(&IntakeCommit {
            series: vec![series("s2", 10.0, 1_000), series("s1", 0.5, 1_000)],
            counts: vec![],
        })
        .await
        .unwrap();
    store
        .commit_intake(&IntakeCommit {
            // Twice in one commit: the later state wins, as if written one after the other.
            series: vec![
                series("s3", f64::INFINITY, 2_000),
                series("s1", 7.0, 1_500),
                series("s1", 1e300, 2_000),
            ],
            counts: vec![],
        })
        .await
        .unwrap();
    assert_eq!(
        store.series_states().await.unwrap(),
        [
            series("s1", 1e300, 2_000),
            series("s2", 10.0, 1_000),
            series("s3", f64::INFINITY, 2_000)
        ]
    );
}

/// The last delta overflows i64 in the database (a real failure of the last statement), after
/// a series state and another count were written in the same transaction: nothing stays.
async fn intake_commit_is_all_or_nothing(ctx: Ctx) {
    let store = &ctx.store;
    store
        .commit_intake(&IntakeCommit {
            series: vec![series("s1", 1.0, 1_000)],
            counts: vec![delta("a", 100, i64::MAX, i64::MAX)],
        })
        .await
        .unwrap();
    let failing = IntakeCommit {
        series: vec![series("s1", 2.0, 2_000), series("s2", 5.0, 2_000)],
        counts: vec![delta("b", 100, 1, 1), delta("a", 100, 1, 1)],
    };
    let err = store.commit_intake(&failing).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert_eq!(
        store.series_states().await.unwrap(),
        [series("s1", 1.0, 1_000)]
    );
    assert_eq!(
        store.counts_since(None, 0).await.unwrap(),
        [row("a", 100, i64::MAX, i64::MAX)]
    );
}

async fn intake_refuses_nan_and_writes_nothing(ctx: Ctx) {
    let store = &ctx.store;
    let commit = IntakeCommit {
        series: vec![series("s1", 1.0, 1_000), series("s2", f64::NAN, 1_000)],
        counts: vec![delta("a", 100, 1, 1)],
    };
    let err = store.commit_intake(&commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        r#"invalid argument: last_value of series "s2" is NaN"#
    );
    assert_eq!(store.series_states().await.unwrap(), []);
    assert_eq!(store.counts_since(None, 0).await.unwrap(), []);
}
