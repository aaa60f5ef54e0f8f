//! Incident commits: incidents (compare and set on their version), action items (upserted by
//! id, of an incident that exists) and events naming an incident, written all or nothing; and
//! the reads of incidents, action items and an incident's events.

use std::sync::Arc;

use nines_store::{
    ActionItemRow, EventQuery, EventRow, IncidentCommit, IncidentQuery, IncidentRow, IncidentWrite,
    Store, StoreError,
};

use crate::harness::{Backend, Ctx, event};

conformance!(
    incident_rows_round_trip_and_survive_a_restart,
    incident_commit_refuses_invalid_arguments_before_writing,
    incident_commit_is_all_or_nothing_when_a_row_is_refused,
    incident_version_conflicts_write_nothing,
    incidents_are_read_newest_first_with_filters,
    action_items_are_read_by_due_date_then_id,
    events_are_filtered_by_incident,
    racing_incident_commits_neither_deadlock_nor_fail,
    incident_commits_meeting_in_the_middle_do_not_deadlock,
);

/// An investigating incident with every optional field empty.
fn incident(id: &str, opened_ms: i64) -> IncidentRow {
    IncidentRow {
        id: id.to_string(),
        title: format!("incident {id}"),
        severity: "SEV2".to_string(),
        status: "investigating".to_string(),
        opened_ms,
        opened_by: "ana".to_string(),
        resolved_ms: None,
        roles: "{}".to_string(),
        services: "[]".to_string(),
        slos: "[]".to_string(),
        pages: "[]".to_string(),
        postmortem: None,
        postmortem_published_ms: None,
        reopened: 0,
        updated_ms: opened_ms,
        version: 1,
    }
}

/// A resolved incident with every optional field set.
fn full_incident(id: &str) -> IncidentRow {
    IncidentRow {
        severity: "SEV1".to_string(),
        status: "resolved".to_string(),
        resolved_ms: Some(5_000),
        roles: r#"{"commander": "ana", "scribe": "bo"}"#.to_string(),
        services: r#"["checkout", "payments"]"#.to_string(),
        slos: r#"["checkout-availability"]"#.to_string(),
        pages: r#"["p-1", "p-2"]"#.to_string(),
        postmortem: Some("# Checkout outage\n\n## Timeline\n- 10:02 paged\n".to_string()),
        postmortem_published_ms: Some(9_000),
        reopened: 2,
        updated_ms: 9_000,
        ..incident(id, 1_000)
    }
}

/// An open P2 action item due on `due` with its optional field empty.
fn item(id: &str, incident_id: &str, due: &str) -> ActionItemRow {
    ActionItemRow {
        id: id.to_string(),
        incident_id: incident_id.to_string(),
        title: format!("follow up {id}"),
        owner: "bo".to_string(),
        due: due.to_string(),
        priority: "P2".to_string(),
        status: "open".to_string(),
        created_ms: 2_000,
        closed_ms: None,
        updated_ms: 2_000,
    }
}

fn create(row: IncidentRow) -> IncidentWrite {
    IncidentWrite {
        row,
        expected_version: None,
    }
}

/// The next version of `row` (as read from the store), changed by `change`.
fn update(row: &IncidentRow, change: impl FnOnce(&mut IncidentRow)) -> IncidentWrite {
    let mut next = row.clone();
    change(&mut next);
    next.version = row.version + 1;
    IncidentWrite {
        row: next,
        expected_version: Some(row.version),
    }
}

fn incidents_only(incidents: Vec<IncidentWrite>) -> IncidentCommit {
    IncidentCommit {
        incidents,
        ..IncidentCommit::default()
    }
}

fn incident_event(at_ms: i64, kind: &str, incident_id: &str) -> EventRow {
    EventRow {
        incident_id: Some(incident_id.to_string()),
        actor: "ana".to_string(),
        ..event(at_ms, kind, None)
    }
}

fn all_events() -> EventQuery {
    EventQuery {
        limit: 1_000,
        ..EventQuery::default()
    }
}

fn all_incidents() -> IncidentQuery {
    IncidentQuery {
        limit: 1_000,
        ..IncidentQuery::default()
    }
}

/// Events without their store-assigned ids.
fn strip_ids(rows: Vec<EventRow>) -> Vec<EventRow> {
    rows.into_iter()
        .map(|row| EventRow { id: 0, ..row })
        .collect()
}

/// Everything an incident commit can write, read back, to compare before and after.
async fn everything(store: &Arc<dyn Store>) -> String {
    format!(
        "{:?}\n{:?}\n{:?}",
        store.incidents(&all_incidents()).await.unwrap(),
        store.action_items(None).await.unwrap(),
        store.events(&all_events()).await.unwrap(),
    )
}

fn ids<T>(rows: Vec<T>, id: impl Fn(T) -> String) -> Vec<String> {
    rows.into_iter().map(id).collect()
}

async fn incident_rows_round_trip_and_survive_a_restart(ctx: Ctx) {
    let store = &ctx.store;
    let sparse = incident("inc-sparse", 1_000);
    let full = full_incident("inc-full");
    let open_item = item("ai-open", "inc-full", "2026-03-01");
    let closed_item = ActionItemRow {
        priority: "P1".to_string(),
        status: "done".to_string(),
        closed_ms: Some(7_000),
        updated_ms: 7_000,
        ..item("ai-closed", "inc-sparse", "2026-02-28")
    };
    let commit = IncidentCommit {
        incidents: vec![create(sparse.clone()), create(full.clone())],
        action_items: vec![open_item.clone(), closed_item.clone()],
        events: vec![incident_event(1_000, "incident.opened", "inc-sparse")],
    };
    assert!(store.commit_incident(&commit).await.unwrap());

    let ctx = ctx.reopen().await;
    let store = &ctx.store;
    assert_eq!(
        store.incident("inc-sparse").await.unwrap(),
        Some(sparse.clone())
    );
    assert_eq!(store.incident("inc-full").await.unwrap(), Some(full));
    assert_eq!(store.incident("inc-none").await.unwrap(), None);
    assert_eq!(
        store.action_item("ai-open").await.unwrap(),
        Some(open_item.clone())
    );
    assert_eq!(
        store.action_item("ai-closed").await.unwrap(),
        Some(closed_item)
    );
    assert_eq!(store.action_item("ai-none").await.unwrap(), None);
    assert_eq!(
        strip_ids(store.events(&all_events()).await.unwrap()),
        [incident_event(1_000, "incident.opened", "inc-sparse")]
    );

    // An update writes every field and counts the version up; an action item is replaced by
    // its id (here moved to another incident and closed).
    let identified = update(&sparse, |row| {
        row.status = "identified".to_string();
        row.roles = r#"{"commander": "bo"}"#.to_string();
        row.postmortem = Some("draft".to_string());
        row.updated_ms = 1_500;
    });
    let moved_item = ActionItemRow {
        incident_id: "inc-sparse".to_string(),
        status: "wont_do".to_string(),
        closed_ms: Some(8_000),
        ..open_item
    };
    let commit = IncidentCommit {
        incidents: vec![identified.clone()],
        action_items: vec![moved_item.clone()],
        events: vec![],
    };
    assert!(store.commit_incident(&commit).await.unwrap());
    assert_eq!(identified.row.version, 2);
    assert_eq!(
        store.incident("inc-sparse").await.unwrap(),
        Some(identified.row.clone())
    );
    assert_eq!(
        store.action_item("ai-open").await.unwrap(),
        Some(moved_item)
    );
    // Back to None: optional fields are cleared by an update.
    let cleared = update(&identified.row, |row| row.postmortem = None);
    assert!(
        store
            .commit_incident(&incidents_only(vec![cleared.clone()]))
            .await
            .unwrap()
    );
    assert_eq!(
        store.incident("inc-sparse").await.unwrap(),
        Some(cleared.row)
    );
    // An empty commit writes nothing and succeeds.
    assert!(
        store
            .commit_incident(&IncidentCommit::default())
            .await
            .unwrap()
    );
}

/// Every bad row comes last in its commit, after an incident update, action items and events
/// that would be fine on their own: the commit is refused whole, before anything is written.
async fn incident_commit_refuses_invalid_arguments_before_writing(ctx: Ctx) {
    let store = &ctx.store;
    let first = incident("inc-1", 1_000);
    let commit = IncidentCommit {
        incidents: vec![create(first.clone())],
        action_items: vec![item("ai-1", "inc-1", "2026-01-10")],
        events: vec![incident_event(1_000, "incident.opened", "inc-1")],
    };
    assert!(store.commit_incident(&commit).await.unwrap());
    let before = everything(store).await;
    let good_update = update(&first, |row| row.status = "identified".to_string());
    let good_item = ActionItemRow {
        status: "done".to_string(),
        ..item("ai-1", "inc-1", "2026-01-10")
    };

    let bad_incidents = [
        (
            "unknown status",
            create(IncidentRow {
                status: "open".to_string(),
                ..incident("inc-2", 2_000)
            }),
        ),
        (
            "negative reopened",
            create(IncidentRow {
                reopened: -1,
                ..incident("inc-2", 2_000)
            }),
        ),
        (
            "new incident at version 2",
            create(IncidentRow {
                version: 2,
                ..incident("inc-2", 2_000)
            }),
        ),
        (
            "new incident at version 0",
            create(IncidentRow {
                version: 0,
                ..incident("inc-2", 2_000)
            }),
        ),
        (
            "update skipping a version",
            IncidentWrite {
                row: IncidentRow {
                    version: 3,
                    ..first.clone()
                },
                expected_version: Some(1),
            },
        ),
        (
            "update keeping its version",
            IncidentWrite {
                row: first.clone(),
                expected_version: Some(1),
            },
        ),
        (
            "update from the largest version",
            IncidentWrite {
                row: first.clone(),
                expected_version: Some(i64::MAX),
            },
        ),
    ];
    for (what, bad) in bad_incidents {
        let commit = IncidentCommit {
            incidents: vec![good_update.clone(), bad],
            action_items: vec![good_item.clone()],
            events: vec![incident_event(2_000, "incident.updated", "inc-1")],
        };
        let err = store.commit_incident(&commit).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{what}: {err:?}");
        assert_eq!(everything(store).await, before, "{what}");
    }

    let with = |change: fn(&mut ActionItemRow)| {
        let mut row = item("ai-2", "inc-1", "2026-01-20");
        change(&mut row);
        row
    };
    let bad_items = [
        (
            "unknown priority",
            with(|row| row.priority = "P0".to_string()),
        ),
        (
            "unknown status",
            with(|row| row.status = "closed".to_string()),
        ),
        ("empty owner", with(|row| row.owner = String::new())),
        ("blank owner", with(|row| row.owner = "  ".to_string())),
        (
            "due not a date",
            with(|row| row.due = "next week".to_string()),
        ),
        (
            "due with a time",
            with(|row| row.due = "2026-01-20T10:00".to_string()),
        ),
        (
            "due on no day",
            with(|row| row.due = "2026-02-30".to_string()),
        ),
        (
            "due in month 13",
            with(|row| row.due = "2026-13-01".to_string()),
        ),
        (
            "unknown incident",
            with(|row| row.incident_id = "inc-9".to_string()),
        ),
    ];
    for (what, bad) in bad_items {
        let commit = IncidentCommit {
            incidents: vec![good_update.clone(), create(incident("inc-2", 2_000))],
            action_items: vec![good_item.clone(), item("ai-3", "inc-2", "2026-01-30"), bad],
            events: vec![incident_event(2_000, "incident.updated", "inc-1")],
        };
        let err = store.commit_incident(&commit).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{what}: {err:?}");
        assert_eq!(everything(store).await, before, "{what}");
    }

    let commit = IncidentCommit {
        action_items: vec![with(|row| row.owner = String::new())],
        ..IncidentCommit::default()
    };
    let err = store.commit_incident(&commit).await.unwrap_err();
    assert!(
        err.to_string().contains("action item without an owner"),
        "{err}"
    );
}

/// Rows the database refuses (JSON columns that are not JSON) after others were written: the
/// commit fails and nothing of it stays, events included.
async fn incident_commit_is_all_or_nothing_when_a_row_is_refused(ctx: Ctx) {
    let store = &ctx.store;
    let first = incident("inc-1", 1_000);
    assert!(
        store
            .commit_incident(&incidents_only(vec![create(first.clone())]))
            .await
            .unwrap()
    );
    let before = everything(store).await;

    type Change = fn(&mut IncidentRow);
    let breaks: [(&str, Change); 4] = [
        ("roles", |row| row.roles = "commander=ana".to_string()),
        ("services", |row| row.services = "[checkout".to_string()),
        ("slos", |row| row.slos = "".to_string()),
        ("pages", |row| row.pages = "p-1, p-2".to_string()),
    ];
    for (what, change) in breaks {
        let mut broken = incident("inc-3", 3_000);
        change(&mut broken);
        let commit = IncidentCommit {
            incidents: vec![
                update(&first, |row| row.status = "monitoring".to_string()),
                create(incident("inc-2", 2_000)),
                create(broken),
            ],
            action_items: vec![item("ai-1", "inc-1", "2026-01-10")],
            events: vec![incident_event(2_000, "incident.opened", "inc-2")],
        };
        let err = store.commit_incident(&commit).await.unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{what}: {err:?}");
        assert_eq!(everything(store).await, before, "{what}");
    }
    // Refused in an update too, after the action items and with events.
    let commit = IncidentCommit {
        incidents: vec![
            create(incident("inc-2", 2_000)),
            update(&first, |row| row.roles = "{".to_string()),
        ],
        action_items: vec![item("ai-2", "inc-2", "2026-01-10")],
        events: vec![incident_event(2_000, "incident.updated", "inc-1")],
    };
    let err = store.commit_incident(&commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert_eq!(everything(store).await, before);
    // A payload that is not JSON, in the last event.
    let mut bad_event = incident_event(2_000, "incident.updated", "inc-1");
    bad_event.payload = "{not json".to_string();
    let commit = IncidentCommit {
        incidents: vec![update(&first, |row| row.status = "identified".to_string())],
        action_items: vec![item("ai-1", "inc-1", "2026-01-10")],
        events: vec![
            incident_event(2_000, "incident.updated", "inc-1"),
            bad_event,
        ],
    };
    let err = store.commit_incident(&commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert_eq!(everything(store).await, before);
}

async fn incident_version_conflicts_write_nothing(ctx: Ctx) {
    let store = &ctx.store;
    let v1 = incident("inc-1", 1_000);
    assert!(
        store
            .commit_incident(&incidents_only(vec![create(v1.clone())]))
            .await
            .unwrap()
    );
    let identify = update(&v1, |row| row.status = "identified".to_string());
    assert!(
        store
            .commit_incident(&incidents_only(vec![identify.clone()]))
            .await
            .unwrap()
    );
    let before = everything(store).await;

    // Someone else read version 1 too and resolves from it: refused, with everything else of
    // its commit.
    let stale = IncidentCommit {
        incidents: vec![update(&v1, |row| row.status = "resolved".to_string())],
        action_items: vec![item("ai-1", "inc-1", "2026-01-10")],
        events: vec![incident_event(2_000, "incident.resolved", "inc-1")],
    };
    assert!(!store.commit_incident(&stale).await.unwrap());
    assert_eq!(everything(store).await, before);
    assert_eq!(
        store.incident("inc-1").await.unwrap(),
        Some(identify.row.clone())
    );

    // A conflict late in the commit undoes the incident written before it.
    let commit = IncidentCommit {
        incidents: vec![
            create(incident("inc-2", 2_000)),
            update(&v1, |row| row.severity = "SEV1".to_string()),
        ],
        action_items: vec![item("ai-2", "inc-2", "2026-01-10")],
        events: vec![incident_event(2_000, "incident.opened", "inc-2")],
    };
    assert!(!store.commit_incident(&commit).await.unwrap());
    assert_eq!(store.incident("inc-2").await.unwrap(), None);
    assert_eq!(everything(store).await, before);

    // An update of an unknown incident, and a new incident whose id exists, are conflicts too.
    let unknown = update(&incident("inc-9", 1_000), |row| row.reopened = 1);
    assert!(
        !store
            .commit_incident(&incidents_only(vec![unknown]))
            .await
            .unwrap()
    );
    let same_id = IncidentCommit {
        incidents: vec![create(incident("inc-1", 3_000))],
        action_items: vec![item("ai-3", "inc-1", "2026-01-10")],
        events: vec![incident_event(3_000, "incident.opened", "inc-1")],
    };
    assert!(!store.commit_incident(&same_id).await.unwrap());
    assert_eq!(everything(store).await, before);

    // From the version it read, the writer goes through.
    let resolve = update(&identify.row, |row| {
        row.status = "resolved".to_string();
        row.resolved_ms = Some(4_000);
    });
    assert!(
        store
            .commit_incident(&incidents_only(vec![resolve.clone()]))
            .await
            .unwrap()
    );
    assert_eq!(store.incident("inc-1").await.unwrap(), Some(resolve.row));
}

async fn incidents_are_read_newest_first_with_filters(ctx: Ctx) {
    let store = &ctx.store;
    let with = |id: &str, status: &str, opened_ms: i64| IncidentRow {
        status: status.to_string(),
        ..incident(id, opened_ms)
    };
    let commit = incidents_only(vec![
        create(with("inc-1", "resolved", 1_000)),
        create(with("inc-3", "investigating", 3_000)),
        create(with("inc-2b", "monitoring", 2_000)),
        create(with("inc-2a", "investigating", 2_000)),
        create(with("inc-4", "identified", 4_000)),
    ]);
    assert!(store.commit_incident(&commit).await.unwrap());
    let query =
        |status: Option<&str>, from: Option<i64>, to: Option<i64>, limit: i64| IncidentQuery {
            status: status.map(str::to_string),
            opened_from_ms: from,
            opened_to_ms: to,
            limit,
        };
    let read = |query: IncidentQuery| {
        let store = Arc::clone(store);
        async move { ids(store.incidents(&query).await.unwrap(), |row| row.id) }
    };
    assert_eq!(
        read(query(None, None, None, 100)).await,
        ["inc-4", "inc-3", "inc-2b", "inc-2a", "inc-1"]
    );
    assert_eq!(read(query(None, None, None, 2)).await, ["inc-4", "inc-3"]);
    assert_eq!(
        read(query(Some("investigating"), None, None, 100)).await,
        ["inc-3", "inc-2a"]
    );
    assert_eq!(
        read(query(Some("resolved"), None, None, 100)).await,
        ["inc-1"]
    );
    // From is inclusive, to is exclusive.
    assert_eq!(
        read(query(None, Some(2_000), Some(4_000), 100)).await,
        ["inc-3", "inc-2b", "inc-2a"]
    );
    assert_eq!(read(query(None, Some(3_001), None, 100)).await, ["inc-4"]);
    assert_eq!(read(query(None, None, Some(2_000), 100)).await, ["inc-1"]);
    assert_eq!(
        read(query(Some("investigating"), Some(2_001), Some(5_000), 100)).await,
        ["inc-3"]
    );
    assert!(
        read(query(None, Some(5_000), Some(1_000), 100))
            .await
            .is_empty()
    );
    assert!(read(query(None, None, None, 0)).await.is_empty());
    for bad in [
        query(Some("open"), None, None, 10),
        query(None, None, None, -1),
    ] {
        let err = store.incidents(&bad).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{bad:?}: {err:?}");
    }
}

async fn action_items_are_read_by_due_date_then_id(ctx: Ctx) {
    let store = &ctx.store;
    let commit = IncidentCommit {
        incidents: vec![
            create(incident("inc-1", 1_000)),
            create(incident("inc-2", 2_000)),
        ],
        action_items: vec![
            item("ai-c", "inc-1", "2026-03-01"),
            item("ai-b", "inc-2", "2026-01-15"),
            item("ai-a", "inc-1", "2026-03-01"),
            item("ai-d", "inc-1", "2025-12-31"),
            item("ai-e", "inc-2", "2026-10-01"),
            // Twice in one commit: the later row wins.
            item("ai-f", "inc-2", "2026-01-01"),
            ActionItemRow {
                title: "second".to_string(),
                ..item("ai-f", "inc-2", "2027-01-01")
            },
        ],
        events: vec![],
    };
    assert!(store.commit_incident(&commit).await.unwrap());
    let item_ids = |rows: Vec<ActionItemRow>| ids(rows, |row| row.id);
    assert_eq!(
        item_ids(store.action_items(None).await.unwrap()),
        ["ai-d", "ai-b", "ai-a", "ai-c", "ai-e", "ai-f"]
    );
    assert_eq!(
        item_ids(store.action_items(Some("inc-1")).await.unwrap()),
        ["ai-d", "ai-a", "ai-c"]
    );
    assert_eq!(
        item_ids(store.action_items(Some("inc-2")).await.unwrap()),
        ["ai-b", "ai-e", "ai-f"]
    );
    assert_eq!(store.action_items(Some("inc-9")).await.unwrap(), []);
    assert_eq!(
        store.action_item("ai-f").await.unwrap().unwrap().title,
        "second"
    );
}

async fn events_are_filtered_by_incident(ctx: Ctx) {
    let store = &ctx.store;
    let commit = IncidentCommit {
        incidents: vec![
            create(incident("inc-1", 1_000)),
            create(incident("inc-2", 1_000)),
        ],
        action_items: vec![],
        events: vec![
            incident_event(1_000, "incident.opened", "inc-1"),
            incident_event(1_000, "incident.opened", "inc-2"),
            EventRow {
                page_id: Some("p-1".to_string()),
                slo_id: Some("checkout-availability".to_string()),
                ..incident_event(1_500, "incident.page_attached", "inc-1")
            },
            event(2_000, "alert.fired", Some("checkout-availability")),
        ],
    };
    assert!(store.commit_incident(&commit).await.unwrap());
    let all = store.events(&all_events()).await.unwrap();
    assert_eq!(strip_ids(all.clone()), commit.events);
    assert!(
        all.windows(2).all(|pair| pair[0].id < pair[1].id),
        "{all:?}"
    );

    let of_incident = |incident_id: &str| EventQuery {
        incident_id: Some(incident_id.to_string()),
        ..all_events()
    };
    assert_eq!(
        store.events(&of_incident("inc-1")).await.unwrap(),
        [all[0].clone(), all[2].clone()]
    );
    assert_eq!(
        store.events(&of_incident("inc-2")).await.unwrap(),
        [all[1].clone()]
    );
    assert_eq!(store.events(&of_incident("inc-9")).await.unwrap(), []);
    let with_page = EventQuery {
        page_id: Some("p-1".to_string()),
        ..of_incident("inc-1")
    };
    assert_eq!(store.events(&with_page).await.unwrap(), [all[2].clone()]);
    let with_slo = EventQuery {
        slo_id: Some("checkout-availability".to_string()),
        ..of_incident("inc-2")
    };
    assert_eq!(store.events(&with_slo).await.unwrap(), []);
    let after = EventQuery {
        after_id: Some(all[0].id),
        limit: 1,
        ..of_incident("inc-1")
    };
    assert_eq!(store.events(&after).await.unwrap(), [all[2].clone()]);
}

/// Writers that read the same incident versions and then commit at the same moment, touching
/// the same incidents and action items in opposite orders: on PostgreSQL, row locks taken in
/// different orders would deadlock and one side would fail (40P01). Every commit must answer
/// `Ok`: exactly one writer per round wins, the others find the versions moved and write
/// nothing.
async fn racing_incident_commits_neither_deadlock_nor_fail(ctx: Ctx) {
    let store = &ctx.store;
    let incident_ids: Vec<String> = (0..16).map(|n| format!("inc-{n:02}")).collect();
    let commit = incidents_only(
        incident_ids
            .iter()
            .map(|id| create(incident(id, 1)))
            .collect(),
    );
    assert!(store.commit_incident(&commit).await.unwrap());

    const WRITERS: usize = 4;
    const ROUNDS: usize = 8;
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = Arc::clone(&ctx.store);
        let barrier = Arc::clone(&barrier);
        let incident_ids = incident_ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut written = 0;
            let mut failures = Vec::new();
            for round in 0..ROUNDS {
                // Even writers go forwards, odd ones backwards.
                let mut order: Vec<&String> = incident_ids.iter().collect();
                if writer % 2 == 1 {
                    order.reverse();
                }
                let mut incidents = Vec::new();
                for id in &order {
                    let current = store.incident(id).await.unwrap().unwrap();
                    incidents.push(update(&current, |row| row.reopened += 1));
                }
                let action_items = order
                    .iter()
                    .map(|id| ActionItemRow {
                        title: format!("writer {writer} round {round}"),
                        ..item(&format!("ai-{id}"), id, "2026-01-10")
                    })
                    .collect();
                // Half the writers append no event, so the event lock does not serialize
                // every commit by itself.
                let events = if writer < WRITERS / 2 {
                    vec![incident_event(10, "incident.updated", order[0])]
                } else {
                    vec![]
                };
                let commit = IncidentCommit {
                    incidents,
                    action_items,
                    events,
                };
                barrier.wait().await;
                // A failure is kept, not panicked on: the other writers would wait at the
                // barrier for this one forever.
                match store.commit_incident(&commit).await {
                    Ok(true) => written += 1,
                    Ok(false) => {}
                    Err(err) => failures.push(format!("writer {writer} round {round}: {err:?}")),
                }
                barrier.wait().await;
            }
            (written, failures)
        }));
    }
    let mut written = 0;
    let mut failures = Vec::new();
    for task in tasks {
        let (task_written, task_failures) = task.await.unwrap();
        written += task_written;
        failures.extend(task_failures);
    }
    assert_eq!(failures, Vec::<String>::new());
    assert_eq!(written, i64::try_from(ROUNDS).unwrap());
    for id in &incident_ids {
        let row = store.incident(id).await.unwrap().unwrap();
        assert_eq!(row.version, 1 + written, "{id}");
        assert_eq!(row.reopened, written, "{id}");
    }
    assert_eq!(
        store.action_items(None).await.unwrap().len(),
        incident_ids.len()
    );
}

/// Two commits update the same incidents in opposite orders and meet in the middle: the test
/// holds the middle incident (PostgreSQL: a row lock; SQLite: the write lock) while both start,
/// and lets go once both wait on it. Were rows locked as each commit lists them, the two would
/// deadlock and one would fail. Incident commits must instead answer: one writes, the other
/// finds the versions moved.
async fn incident_commits_meeting_in_the_middle_do_not_deadlock(ctx: Ctx) {
    let incident_ids: Vec<String> = (0..8).map(|n| format!("inc-{n}")).collect();
    let commit = incidents_only(
        incident_ids
            .iter()
            .map(|id| create(incident(id, 1)))
            .collect(),
    );
    assert!(ctx.store.commit_incident(&commit).await.unwrap());

    let holder = hold_incident(&ctx, "inc-4").await;
    let writer = |backwards: bool| {
        let store = Arc::clone(&ctx.store);
        let mut order = incident_ids.clone();
        if backwards {
            order.reverse();
        }
        tokio::spawn(async move {
            let mut incidents = Vec::new();
            for id in &order {
                let current = store.incident(id).await.unwrap().unwrap();
                incidents.push(update(&current, |row| row.reopened += 1));
            }
            // No events: the event lock would serialize the commits and hide a deadlock.
            let commit = IncidentCommit {
                incidents,
                action_items: vec![item("ai-1", &order[0], "2026-01-10")],
                events: vec![],
            };
            store.commit_incident(&commit).await
        })
    };
    let forwards = writer(false);
    let backwards = writer(true);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    holder.release().await;
    let forwards = forwards.await.unwrap();
    let backwards = backwards.await.unwrap();
    match (&forwards, &backwards) {
        (Ok(true), Ok(false)) | (Ok(false), Ok(true)) => {}
        _ => panic!("expected one writer to win: {forwards:?} {backwards:?}"),
    }
    for id in &incident_ids {
        assert_eq!(
            ctx.store.incident(id).await.unwrap().unwrap().version,
            2,
            "{id}"
        );
    }
    assert_eq!(ctx.store.action_items(None).await.unwrap().len(), 1);
}

/// A lock on one incident held from another connection until released.
enum Holder {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

async fn hold_incident(ctx: &Ctx, id: &str) -> Holder {
    use sqlx::Connection;
    match ctx.backend {
        Backend::Sqlite => {
            let mut connection = sqlx::SqliteConnection::connect(&ctx.url).await.unwrap();
            sqlx::raw_sql("BEGIN IMMEDIATE")
                .execute(&mut connection)
                .await
                .unwrap();
            Holder::Sqlite(connection)
        }
        Backend::Postgres => {
            let mut connection = sqlx::PgConnection::connect(&ctx.url).await.unwrap();
            sqlx::raw_sql("BEGIN")
                .execute(&mut connection)
                .await
                .unwrap();
            sqlx::query("SELECT 1 FROM incidents WHERE id = $1 FOR UPDATE")
                .bind(id)
                .execute(&mut connection)
                .await
                .unwrap();
            Holder::Postgres(connection)
        }
    }
}

impl Holder {
    async fn release(self) {
        match self {
            Holder::Sqlite(mut connection) => {
                sqlx::raw_sql("ROLLBACK")
                    .execute(&mut connection)
                    .await
                    .unwrap();
            }
            Holder::Postgres(mut connection) => {
                sqlx::raw_sql("ROLLBACK")
                    .execute(&mut connection)
                    .await
                    .unwrap();
            }
        }
    }
}
