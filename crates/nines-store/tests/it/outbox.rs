//! The outbox: dedup by idempotency key, due messages, delivery and retry bookkeeping, depth.

use nines_store::{OutboxRow, StoreError, TransitionCommit};

use crate::harness::{Ctx, message};

conformance!(
    outbox_skips_known_idempotency_keys,
    outbox_due_delivered_retry_and_depth,
    marking_an_unknown_message_fails,
);

async fn enqueue(ctx: &Ctx, outbox: Vec<OutboxRow>) {
    ctx.store
        .commit_transitions(&TransitionCommit {
            states: vec![],
            events: vec![],
            outbox,
        })
        .await
        .unwrap();
}

/// Rows as the test built them, without the store's ids.
fn without_ids(rows: Vec<OutboxRow>) -> Vec<OutboxRow> {
    rows.into_iter()
        .map(|row| OutboxRow { id: 0, ..row })
        .collect()
}

async fn outbox_skips_known_idempotency_keys(ctx: Ctx) {
    let mut second_body = message("k1", 2_000);
    second_body.payload = r#"{"other":true}"#.to_string();
    // Within one commit and across commits, the first row with a key wins.
    enqueue(
        &ctx,
        vec![
            message("k1", 1_000),
            message("k2", 1_000),
            second_body.clone(),
        ],
    )
    .await;
    enqueue(&ctx, vec![second_body, message("k3", 3_000)]).await;
    assert_eq!(ctx.store.outbox_depth().await.unwrap(), 3);
    assert_eq!(
        without_ids(ctx.store.due_messages(i64::MAX, 10).await.unwrap()),
        [
            message("k1", 1_000),
            message("k2", 1_000),
            message("k3", 3_000)
        ]
    );
    // A delivered key stays known: it is not enqueued again.
    let k1 = ctx.store.due_messages(i64::MAX, 1).await.unwrap();
    ctx.store.mark_delivered(k1[0].id, 5_000).await.unwrap();
    enqueue(&ctx, vec![message("k1", 6_000)]).await;
    assert_eq!(ctx.store.outbox_depth().await.unwrap(), 2);
}

async fn outbox_due_delivered_retry_and_depth(ctx: Ctx) {
    let store = &ctx.store;
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
    assert_eq!(store.due_messages(i64::MAX, 10).await.unwrap(), []);
    let mut later = message("later", 500);
    later.next_attempt_ms = 5_000;
    enqueue(
        &ctx,
        vec![message("second", 2_000), message("first", 1_000), later],
    )
    .await;
    assert_eq!(store.outbox_depth().await.unwrap(), 3);

    // Due at 2000: the two whose next attempt has come, oldest first; `limit` caps them.
    let due = store.due_messages(2_000, 10).await.unwrap();
    assert_eq!(
        without_ids(due.clone()),
        [message("first", 1_000), message("second", 2_000)]
    );
    assert_eq!(store.due_messages(1_999, 10).await.unwrap(), due[..1]);
    assert_eq!(store.due_messages(2_000, 1).await.unwrap(), due[..1]);
    assert_eq!(store.due_messages(2_000, 0).await.unwrap(), []);
    let err = store.due_messages(2_000, -1).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    // `first` fails once and is retried later; `second` is delivered.
    let (first, second) = (due[0].clone(), due[1].clone());
    store
        .mark_retry(first.id, 1, 4_000, "connection refused")
        .await
        .unwrap();
    store.mark_delivered(second.id, 2_100).await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 2);
    assert_eq!(store.due_messages(3_999, 10).await.unwrap(), []);
    let retried = OutboxRow {
        attempts: 1,
        next_attempt_ms: 4_000,
        last_error: Some("connection refused".to_string()),
        ..first.clone()
    };
    assert_eq!(store.due_messages(4_000, 10).await.unwrap(), [retried]);
    let all_due = store.due_messages(5_000, 10).await.unwrap();
    assert_eq!(
        all_due
            .iter()
            .map(|row| row.idempotency_key.as_str())
            .collect::<Vec<_>>(),
        ["later", "first"]
    );

    // Delivered twice (at least once): the first delivery time is kept; a delivered message
    // is never due again, even after a late retry mark.
    store.mark_delivered(first.id, 4_100).await.unwrap();
    store.mark_delivered(first.id, 4_200).await.unwrap();
    store
        .mark_retry(first.id, 2, 4_300, "late failure report")
        .await
        .unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
    assert_eq!(
        without_ids(store.due_messages(i64::MAX, 10).await.unwrap()),
        [{
            let mut later = message("later", 500);
            later.next_attempt_ms = 5_000;
            later
        }]
    );
    let later = &all_due[0];
    store.mark_delivered(later.id, 5_000).await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
    assert_eq!(store.due_messages(i64::MAX, 10).await.unwrap(), []);
}

async fn marking_an_unknown_message_fails(ctx: Ctx) {
    enqueue(&ctx, vec![message("k1", 1_000)]).await;
    let id = ctx.store.due_messages(i64::MAX, 1).await.unwrap()[0].id;
    let unknown = id + 1_000;
    let err = ctx.store.mark_delivered(unknown, 2_000).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("invalid argument: no outbox message has id {unknown}")
    );
    let err = ctx
        .store
        .mark_retry(unknown, 1, 2_000, "boom")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(ctx.store.outbox_depth().await.unwrap(), 1);
}
