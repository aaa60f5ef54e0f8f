//! Opening stores: URLs, reopening keeps everything, SQLite's durability settings.

use nines_store::{
    EventQuery, IntakeCommit, OutboxRow, SeriesState, SloRow, SnapshotRow, StoreError,
    TransitionCommit,
};
use sqlx::{Connection, Row, SqliteConnection};

use crate::harness::{Backend, Ctx, alert, delta, event, message};

conformance!(reopening_keeps_everything);

async fn reopening_keeps_everything(ctx: Ctx) {
    let slo = SloRow {
        id: "a".to_string(),
        name: "Availability".to_string(),
        service: "checkout".to_string(),
        first_seen_ms: 1_000,
    };
    let series = SeriesState {
        series_key: "http_requests_total{job=\"checkout\"}".to_string(),
        last_value: 42.0,
        last_timestamp_ms: 1_000,
    };
    let snapshot = SnapshotRow {
        slo_id: "a".to_string(),
        at_ms: 1_000,
        remaining_share: 0.75,
        sli: Some(0.9995),
        bad: 5,
        total: 10_000,
        burn_rate_1h: Some(0.5),
    };
    let store = &ctx.store;
    store.upsert_slos(std::slice::from_ref(&slo)).await.unwrap();
    store
        .commit_intake(&IntakeCommit {
            series: vec![series.clone()],
            counts: vec![delta("a", 10, 1, 100), delta("a", 25, 2, 200)],
        })
        .await
        .unwrap();
    store.compact_counts(20, 10).await.unwrap();
    store
        .commit_transitions(&TransitionCommit {
            states: vec![alert("a", "burn_rate", "firing", 1_000)],
            events: vec![event(1_000, "alert.fired", Some("a"))],
            outbox: vec![message("a-1", 1_000), message("a-2", 1_000)],
        })
        .await
        .unwrap();
    let delivered = store.due_messages(i64::MAX, 1).await.unwrap();
    store.mark_delivered(delivered[0].id, 1_500).await.unwrap();
    store
        .record_snapshots(std::slice::from_ref(&snapshot))
        .await
        .unwrap();

    let all_events = EventQuery {
        slo_id: None,
        page_id: None,
        incident_id: None,
        after_id: None,
        limit: 100,
    };
    let counts = store.counts_since(None, 0).await.unwrap();
    let events = store.events(&all_events).await.unwrap();
    let pending = store.due_messages(i64::MAX, 10).await.unwrap();

    let ctx = ctx.reopen().await;
    let store = &ctx.store;
    assert_eq!(store.slos().await.unwrap(), [slo]);
    assert_eq!(store.series_states().await.unwrap(), [series]);
    assert_eq!(store.counts_since(None, 0).await.unwrap(), counts);
    assert_eq!(counts.len(), 2);
    assert_eq!(
        store.alert_states().await.unwrap(),
        [alert("a", "burn_rate", "firing", 1_000)]
    );
    assert_eq!(store.events(&all_events).await.unwrap(), events);
    assert_eq!(store.due_messages(i64::MAX, 10).await.unwrap(), pending);
    assert_eq!(
        pending
            .iter()
            .map(|row: &OutboxRow| row.idempotency_key.as_str())
            .collect::<Vec<_>>(),
        ["a-2"]
    );
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
    assert_eq!(store.snapshots("a", 0, 2_000).await.unwrap(), [snapshot]);

    // New ids continue after the old ones.
    store
        .commit_transitions(&TransitionCommit {
            states: vec![],
            events: vec![event(2_000, "alert.resolved", Some("a"))],
            outbox: vec![],
        })
        .await
        .unwrap();
    let after = store.events(&all_events).await.unwrap();
    assert_eq!(after.len(), 2);
    assert!(after[1].id > after[0].id);

    if ctx.backend == Backend::Sqlite {
        // WAL mode is a property of the file: check it with a connection of our own.
        let mut raw = SqliteConnection::connect(&ctx.url).await.unwrap();
        let mode: String = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&mut raw)
            .await
            .unwrap()
            .get(0);
        assert_eq!(mode, "wal");
    }
}

#[tokio::test]
async fn open_refuses_urls_it_does_not_know() {
    for url in [
        "mysql://localhost/nines",
        "nines.db",
        "sqlite://",
        "sqlite://?mode=rwc",
    ] {
        let result = nines_store::open(url).await;
        assert!(
            matches!(result, Err(StoreError::Url { .. })),
            "{url}: {:?}",
            result.err()
        );
    }
    let err = nines_store::open("postgres://localhost:notaport/nines")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Url { .. }), "{err:?}");
}

#[tokio::test]
async fn sqlite_creates_missing_files_in_existing_folders_only() {
    let folder = std::env::temp_dir().join(format!("nines_store_open_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    let missing_folder = format!("sqlite://{}/nested/nines.db", folder.display());
    let result = nines_store::open(&missing_folder).await;
    assert!(
        matches!(result, Err(StoreError::Database(_))),
        "{:?}",
        result.err()
    );
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("nines.db");
    nines_store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert!(path.exists());
    std::fs::remove_dir_all(&folder).unwrap();
}
