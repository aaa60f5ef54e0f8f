//! The event log: ids assigned in order, read in id order, filtered by SLO and cursor.

use nines_store::{EventQuery, EventRow, StoreError, TransitionCommit};

use crate::harness::{Ctx, event};

conformance!(
    events_are_read_in_id_order_with_filters,
    events_refuse_a_negative_limit
);

fn query(slo_id: Option<&str>, after_id: Option<i64>, limit: i64) -> EventQuery {
    EventQuery {
        slo_id: slo_id.map(str::to_string),
        page_id: None,
        incident_id: None,
        after_id,
        limit,
    }
}

async fn append(ctx: &Ctx, events: Vec<EventRow>) {
    ctx.store
        .commit_transitions(&TransitionCommit {
            states: vec![],
            events,
            outbox: vec![],
        })
        .await
        .unwrap();
}

async fn events_are_read_in_id_order_with_filters(ctx: Ctx) {
    // Appended out of time order on purpose: the log is in append order, ids say it.
    append(
        &ctx,
        vec![
            event(3_000, "alert.fired", Some("a")),
            event(1_000, "alert.fired", Some("b")),
        ],
    )
    .await;
    let mut by_user = event(2_000, "slo.annotated", None);
    by_user.actor = "ana".to_string();
    by_user.payload = r#"{"note": "deploy 42", "tags": ["x", "y"]}"#.to_string();
    append(&ctx, vec![by_user.clone()]).await;
    append(&ctx, vec![event(4_000, "alert.resolved", Some("a"))]).await;

    let all = ctx.store.events(&query(None, None, 100)).await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(
        all.windows(2).all(|pair| pair[0].id < pair[1].id),
        "{all:?}"
    );
    let strip = |rows: &[EventRow]| {
        rows.iter()
            .map(|row| EventRow {
                id: 0,
                ..row.clone()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        strip(&all),
        [
            event(3_000, "alert.fired", Some("a")),
            event(1_000, "alert.fired", Some("b")),
            by_user,
            event(4_000, "alert.resolved", Some("a")),
        ]
    );

    let of_a = ctx
        .store
        .events(&query(Some("a"), None, 100))
        .await
        .unwrap();
    assert_eq!(of_a, [all[0].clone(), all[3].clone()]);
    let after_first = ctx
        .store
        .events(&query(None, Some(all[0].id), 100))
        .await
        .unwrap();
    assert_eq!(after_first, all[1..]);
    let of_a_after_first = ctx
        .store
        .events(&query(Some("a"), Some(all[0].id), 100))
        .await
        .unwrap();
    assert_eq!(of_a_after_first, [all[3].clone()]);
    let first_two = ctx.store.events(&query(None, None, 2)).await.unwrap();
    assert_eq!(first_two, all[..2]);
    assert_eq!(ctx.store.events(&query(None, None, 0)).await.unwrap(), []);
    assert_eq!(
        ctx.store
            .events(&query(None, Some(all[3].id), 100))
            .await
            .unwrap(),
        []
    );
    assert_eq!(
        ctx.store
            .events(&query(Some("c"), None, 100))
            .await
            .unwrap(),
        []
    );
}

async fn events_refuse_a_negative_limit(ctx: Ctx) {
    append(&ctx, vec![event(1_000, "alert.fired", Some("a"))]).await;
    let err = ctx.store.events(&query(None, None, -1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}
