//! Budget history snapshots: recorded per SLO and instant, read by half-open time range.

use nines_store::{SnapshotRow, StoreError};

use crate::harness::Ctx;

conformance!(
    snapshots_read_by_range_oldest_first,
    snapshots_refuse_nan_and_write_nothing
);

fn snapshot(slo_id: &str, at_ms: i64, remaining_share: f64) -> SnapshotRow {
    SnapshotRow {
        slo_id: slo_id.to_string(),
        at_ms,
        remaining_share,
        sli: Some(0.999),
        bad: 1,
        total: 1_000,
        burn_rate_1h: Some(1.5),
    }
}

async fn snapshots_read_by_range_oldest_first(ctx: Ctx) {
    let store = &ctx.store;
    let mut no_traffic = snapshot("a", 1_000, 1.0);
    no_traffic.sli = None;
    no_traffic.burn_rate_1h = None;
    no_traffic.bad = 0;
    no_traffic.total = 0;
    store
        .record_snapshots(&[
            snapshot("a", 3_000, 0.5),
            no_traffic.clone(),
            snapshot("a", 2_000, -0.25),
            snapshot("b", 2_000, 0.9),
        ])
        .await
        .unwrap();
    // Recording an instant again replaces it.
    store
        .record_snapshots(&[snapshot("a", 3_000, 0.4)])
        .await
        .unwrap();
    store.record_snapshots(&[]).await.unwrap();

    assert_eq!(
        store.snapshots("a", 0, i64::MAX).await.unwrap(),
        [
            no_traffic.clone(),
            snapshot("a", 2_000, -0.25),
            snapshot("a", 3_000, 0.4)
        ]
    );
    assert_eq!(
        store.snapshots("a", 1_000, 3_000).await.unwrap(),
        [no_traffic, snapshot("a", 2_000, -0.25)]
    );
    assert_eq!(
        store.snapshots("b", 2_000, 2_001).await.unwrap(),
        [snapshot("b", 2_000, 0.9)]
    );
    assert_eq!(store.snapshots("b", 2_001, 9_000).await.unwrap(), []);
    assert_eq!(store.snapshots("c", 0, i64::MAX).await.unwrap(), []);
}

async fn snapshots_refuse_nan_and_write_nothing(ctx: Ctx) {
    let mut broken = snapshot("a", 2_000, 0.5);
    broken.burn_rate_1h = Some(f64::NAN);
    let err = ctx
        .store
        .record_snapshots(&[snapshot("a", 1_000, 0.5), broken])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(ctx.store.snapshots("a", 0, i64::MAX).await.unwrap(), []);
}
