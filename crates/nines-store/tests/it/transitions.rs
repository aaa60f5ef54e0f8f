//! Transition commits: alert states upserted, events appended and notifications enqueued in
//! one transaction.

use nines_store::{EventQuery, StoreError, TransitionCommit};

use crate::harness::{Ctx, alert, event, message};

conformance!(
    transitions_upsert_alert_states,
    transition_commit_is_atomic_when_an_event_is_refused,
    transition_commit_is_atomic_when_a_notification_is_refused,
);

fn all_events() -> EventQuery {
    EventQuery {
        slo_id: None,
        page_id: None,
        incident_id: None,
        after_id: None,
        limit: 1_000,
    }
}

async fn transitions_upsert_alert_states(ctx: Ctx) {
    let store = &ctx.store;
    assert_eq!(store.alert_states().await.unwrap(), []);
    store
        .commit_transitions(&TransitionCommit {
            states: vec![
                alert("b", "burn_rate", "firing", 1_000),
                alert("a", "no_data", "firing", 1_000),
                alert("a", "burn_rate", "firing", 1_000),
            ],
            events: vec![event(1_000, "alert.fired", Some("a"))],
            outbox: vec![message("a-1000", 1_000)],
        })
        .await
        .unwrap();
    let mut ticket = alert("a", "burn_rate", "resolved", 2_000);
    ticket.severity = "ticket".to_string();
    store
        .commit_transitions(&TransitionCommit {
            // Twice in one commit: the later state wins.
            states: vec![alert("a", "burn_rate", "firing", 1_500), ticket.clone()],
            events: vec![],
            outbox: vec![],
        })
        .await
        .unwrap();
    store
        .commit_transitions(&TransitionCommit::default())
        .await
        .unwrap();
    assert_eq!(
        store.alert_states().await.unwrap(),
        [
            ticket,
            alert("a", "no_data", "firing", 1_000),
            alert("b", "burn_rate", "firing", 1_000)
        ]
    );
    assert_eq!(store.events(&all_events()).await.unwrap().len(), 1);
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
}

/// The second event's payload is not JSON: the database refuses it (a CHECK on SQLite, the
/// `json` type on PostgreSQL) after the states and the first event were written. Nothing of the
/// commit stays, and the earlier state is untouched.
async fn transition_commit_is_atomic_when_an_event_is_refused(ctx: Ctx) {
    let store = &ctx.store;
    let before = alert("a", "burn_rate", "inactive", 500);
    store
        .commit_transitions(&TransitionCommit {
            states: vec![before.clone()],
            events: vec![],
            outbox: vec![],
        })
        .await
        .unwrap();
    let mut broken = event(1_000, "alert.fired", Some("a"));
    broken.payload = "{not json".to_string();
    let commit = TransitionCommit {
        states: vec![
            alert("a", "burn_rate", "firing", 1_000),
            alert("b", "burn_rate", "firing", 1_000),
        ],
        events: vec![event(1_000, "alert.fired", Some("b")), broken],
        outbox: vec![message("a-1000", 1_000)],
    };
    let err = store.commit_transitions(&commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert_eq!(store.alert_states().await.unwrap(), [before]);
    assert_eq!(store.events(&all_events()).await.unwrap(), []);
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
    assert_eq!(store.due_messages(i64::MAX, 10).await.unwrap(), []);
}

/// Same, with the last statement failing: a notification whose payload is not JSON.
async fn transition_commit_is_atomic_when_a_notification_is_refused(ctx: Ctx) {
    let store = &ctx.store;
    let mut broken = message("a-1000-b", 1_000);
    broken.payload = String::new();
    let commit = TransitionCommit {
        states: vec![alert("a", "burn_rate", "firing", 1_000)],
        events: vec![event(1_000, "alert.fired", Some("a"))],
        outbox: vec![message("a-1000", 1_000), broken],
    };
    let err = store.commit_transitions(&commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert_eq!(store.alert_states().await.unwrap(), []);
    assert_eq!(store.events(&all_events()).await.unwrap(), []);
    assert_eq!(store.outbox_depth().await.unwrap(), 0);

    // The same commit without the broken message goes through whole.
    let mut fixed = commit.clone();
    fixed.outbox.pop();
    store.commit_transitions(&fixed).await.unwrap();
    assert_eq!(store.alert_states().await.unwrap().len(), 1);
    assert_eq!(store.events(&all_events()).await.unwrap().len(), 1);
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
}
