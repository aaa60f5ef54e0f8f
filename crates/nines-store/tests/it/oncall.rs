//! On-call state beside pages: silences, heartbeats and settings.

use std::sync::Arc;

use nines_store::{HeartbeatRow, SilenceRow, StoreError};

use crate::harness::Ctx;

conformance!(
    silences_round_trip_and_filter_by_activity,
    silences_refuse_a_taken_id_and_a_backwards_span,
    expiring_a_silence_ends_it_now,
    beats_keep_the_latest_time,
    settings_init_once_and_racing_callers_agree,
);

fn silence(id: &str, starts_ms: i64, ends_ms: i64) -> SilenceRow {
    SilenceRow {
        id: id.to_string(),
        matchers: r#"["service=\"api\"", "env!~\"dev|test\""]"#.to_string(),
        starts_ms,
        ends_ms,
        created_by: "ana".to_string(),
        comment: format!("silence {id}"),
        created_ms: 1,
    }
}

fn ids(rows: Vec<SilenceRow>) -> Vec<String> {
    rows.into_iter().map(|row| row.id).collect()
}

async fn silences_round_trip_and_filter_by_activity(ctx: Ctx) {
    let store = &ctx.store;
    let rows = [
        silence("s-late", 2_000, 3_000),
        silence("s-early", 1_000, 2_000),
        silence("s-empty", 1_500, 1_500),
        SilenceRow {
            matchers: "[]".to_string(),
            comment: String::new(),
            ..silence("s-long", 1_000, 10_000)
        },
    ];
    for row in &rows {
        store.put_silence(row).await.unwrap();
    }
    let ctx = ctx.reopen().await;
    let store = &ctx.store;
    let all = store.silences(None).await.unwrap();
    assert_eq!(
        all,
        [
            rows[1].clone(),
            rows[3].clone(),
            rows[2].clone(),
            rows[0].clone()
        ]
    );
    // starts <= t < ends: a silence is active at its start, not at its end.
    assert_eq!(
        ids(store.silences(Some(999)).await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(store.silences(Some(1_000)).await.unwrap()),
        ["s-early", "s-long"]
    );
    assert_eq!(
        ids(store.silences(Some(1_500)).await.unwrap()),
        ["s-early", "s-long"]
    );
    assert_eq!(
        ids(store.silences(Some(2_000)).await.unwrap()),
        ["s-long", "s-late"]
    );
    assert_eq!(
        ids(store.silences(Some(10_000)).await.unwrap()),
        Vec::<String>::new()
    );
}

async fn silences_refuse_a_taken_id_and_a_backwards_span(ctx: Ctx) {
    let store = &ctx.store;
    let first = silence("s-1", 1_000, 2_000);
    store.put_silence(&first).await.unwrap();
    let err = store
        .put_silence(&silence("s-1", 5_000, 6_000))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let err = store
        .put_silence(&silence("s-2", 2_000, 1_999))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let not_json = SilenceRow {
        matchers: "service=api".to_string(),
        ..silence("s-3", 1_000, 2_000)
    };
    let err = store.put_silence(&not_json).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert_eq!(store.silences(None).await.unwrap(), [first]);
}

async fn expiring_a_silence_ends_it_now(ctx: Ctx) {
    let store = &ctx.store;
    store
        .put_silence(&silence("s-active", 1_000, 9_000))
        .await
        .unwrap();
    store
        .put_silence(&silence("s-pending", 8_000, 9_000))
        .await
        .unwrap();
    store
        .put_silence(&silence("s-ended", 1_000, 2_000))
        .await
        .unwrap();

    assert!(store.expire_silence("s-active", 5_000).await.unwrap());
    assert!(store.expire_silence("s-pending", 5_000).await.unwrap());
    assert!(store.expire_silence("s-ended", 5_000).await.unwrap());
    assert!(!store.expire_silence("s-unknown", 5_000).await.unwrap());

    let all = store.silences(None).await.unwrap();
    let span = |id: &str| {
        let row = all.iter().find(|row| row.id == id).unwrap();
        (row.starts_ms, row.ends_ms)
    };
    assert_eq!(span("s-active"), (1_000, 5_000));
    // Expired before it began: it starts and ends now (never active).
    assert_eq!(span("s-pending"), (5_000, 5_000));
    // Ended already: left as it was.
    assert_eq!(span("s-ended"), (1_000, 2_000));
    assert_eq!(
        ids(store.silences(Some(4_999)).await.unwrap()),
        ["s-active"]
    );
    assert_eq!(
        ids(store.silences(Some(5_000)).await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(store.silences(Some(8_500)).await.unwrap()),
        Vec::<String>::new()
    );

    // Expiring again later does not move the end.
    assert!(store.expire_silence("s-active", 7_000).await.unwrap());
    assert_eq!(store.silences(Some(4_000)).await.unwrap()[0].ends_ms, 5_000);
}

async fn beats_keep_the_latest_time(ctx: Ctx) {
    let store = &ctx.store;
    assert_eq!(store.heartbeats().await.unwrap(), []);
    store.beat("nightly-backup", 5_000).await.unwrap();
    store.beat("cron", 1_000).await.unwrap();
    // A late beat does not move the time back; a newer one moves it forward.
    store.beat("nightly-backup", 4_000).await.unwrap();
    store.beat("cron", 2_000).await.unwrap();
    let ctx = ctx.reopen().await;
    let store = &ctx.store;
    let beat = |id: &str, last_ms: i64| HeartbeatRow {
        id: id.to_string(),
        last_ms,
    };
    assert_eq!(
        store.heartbeats().await.unwrap(),
        [beat("cron", 2_000), beat("nightly-backup", 5_000)]
    );
}

async fn settings_init_once_and_racing_callers_agree(ctx: Ctx) {
    let store = &ctx.store;
    assert_eq!(store.setting("signing-key").await.unwrap(), None);
    assert_eq!(
        store.init_setting("signing-key", "first").await.unwrap(),
        "first"
    );
    assert_eq!(
        store.init_setting("signing-key", "second").await.unwrap(),
        "first"
    );
    assert_eq!(
        store.setting("signing-key").await.unwrap().as_deref(),
        Some("first")
    );

    // Two tasks race for each of several keys: both get the value that was stored.
    for round in 0..20 {
        let key = format!("raced-{round}");
        let racer = |value: &'static str| {
            let store = Arc::clone(&ctx.store);
            let key = key.clone();
            tokio::spawn(async move { store.init_setting(&key, value).await.unwrap() })
        };
        let (left, right) = tokio::join!(racer("left"), racer("right"));
        let (left, right) = (left.unwrap(), right.unwrap());
        assert_eq!(left, right, "{key}");
        assert_eq!(store.setting(&key).await.unwrap(), Some(left));
    }
}
