//! Paging commits: alerts, pages (compare and set on their version, one open page per group
//! key), events naming a page, notifications and settings, written all or nothing; and the
//! reads of pages and alerts.

use std::sync::Arc;

use nines_store::{
    AlertRow, EventQuery, EventRow, PageQuery, PageRow, PageWrite, PagingCommit, Store, StoreError,
};

use crate::harness::{Backend, Ctx, event, message};

conformance!(
    paging_rows_round_trip_and_survive_a_restart,
    paging_commit_is_all_or_nothing_when_a_row_is_refused,
    paging_commit_refuses_invalid_arguments_before_writing,
    page_version_conflicts_write_nothing,
    one_open_page_per_group_key,
    due_pages_are_triggered_pages_oldest_timer_first,
    pages_are_read_newest_first_by_status,
    alerts_are_read_by_page_and_firing,
    events_are_filtered_by_page,
    racing_paging_commits_neither_deadlock_nor_fail,
    paging_commits_meeting_in_the_middle_do_not_deadlock,
);

/// A triggered page at step 0 with every optional field empty.
fn page(id: &str, group_key: &str, created_ms: i64) -> PageRow {
    PageRow {
        id: id.to_string(),
        group_key: group_key.to_string(),
        status: "triggered".to_string(),
        policy: "db-primary".to_string(),
        step: 0,
        round: 0,
        next_at_ms: None,
        summary: format!("page {id}"),
        severity: "page".to_string(),
        service: None,
        labels: "{}".to_string(),
        runbook: None,
        created_ms,
        updated_ms: created_ms,
        acknowledged_by: None,
        acknowledged_ms: None,
        resolved_by: None,
        resolved_ms: None,
        version: 1,
    }
}

/// A page with every optional field set.
fn full_page(id: &str, group_key: &str) -> PageRow {
    PageRow {
        status: "acknowledged".to_string(),
        step: 2,
        round: 1,
        next_at_ms: Some(9_000),
        service: Some("checkout".to_string()),
        labels: r#"{"service": "checkout", "severity": "page"}"#.to_string(),
        runbook: Some("https://runbooks.example/checkout".to_string()),
        acknowledged_by: Some("ana".to_string()),
        acknowledged_ms: Some(2_000),
        resolved_by: Some("bo".to_string()),
        resolved_ms: Some(3_000),
        ..page(id, group_key, 1_000)
    }
}

/// A firing alert with its optional fields empty.
fn alert(fingerprint: &str, starts_ms: i64) -> AlertRow {
    AlertRow {
        fingerprint: fingerprint.to_string(),
        source: "alertmanager".to_string(),
        status: "firing".to_string(),
        summary: format!("alert {fingerprint}"),
        severity: "critical".to_string(),
        labels: format!(r#"{{"alertname": "{fingerprint}"}}"#),
        annotations: "{}".to_string(),
        starts_ms,
        ends_ms: None,
        updated_ms: starts_ms,
        page_id: None,
        muted_by: None,
    }
}

fn create(row: PageRow) -> PageWrite {
    PageWrite {
        row,
        expected_version: None,
    }
}

/// The next version of `row` (as read from the store), changed by `change`.
fn update(row: &PageRow, change: impl FnOnce(&mut PageRow)) -> PageWrite {
    let mut next = row.clone();
    change(&mut next);
    next.version = row.version + 1;
    PageWrite {
        row: next,
        expected_version: Some(row.version),
    }
}

fn pages_only(pages: Vec<PageWrite>) -> PagingCommit {
    PagingCommit {
        pages,
        ..PagingCommit::default()
    }
}

fn page_event(at_ms: i64, kind: &str, page_id: &str) -> EventRow {
    EventRow {
        page_id: Some(page_id.to_string()),
        actor: "pager".to_string(),
        ..event(at_ms, kind, None)
    }
}

fn all_events() -> EventQuery {
    EventQuery {
        limit: 1_000,
        ..EventQuery::default()
    }
}

fn all_pages() -> PageQuery {
    PageQuery {
        status: None,
        limit: 1_000,
    }
}

/// Events without their store-assigned ids.
fn strip_ids(rows: Vec<EventRow>) -> Vec<EventRow> {
    rows.into_iter()
        .map(|row| EventRow { id: 0, ..row })
        .collect()
}

/// Everything a paging commit can write, read back, to compare before and after.
async fn everything(store: &Arc<dyn Store>) -> String {
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        store.pages(&all_pages()).await.unwrap(),
        store.firing_alerts().await.unwrap(),
        store.events(&all_events()).await.unwrap(),
        store.due_messages(i64::MAX, 1_000).await.unwrap(),
        store.setting("pager.cursor").await.unwrap(),
    )
}

async fn paging_rows_round_trip_and_survive_a_restart(ctx: Ctx) {
    let store = &ctx.store;
    let sparse = page("p-sparse", "0:{service=\"api\"}", 1_000);
    let full = full_page("p-full", "0.1:{service=\"checkout\"}");
    let bare_alert = alert("fp-bare", 500);
    let full_alert = AlertRow {
        source: "slo".to_string(),
        status: "resolved".to_string(),
        annotations: r#"{"runbook_url": "https://runbooks.example/x"}"#.to_string(),
        ends_ms: Some(4_000),
        updated_ms: 4_000,
        page_id: Some("p-full".to_string()),
        muted_by: Some("silence-1".to_string()),
        ..alert("fp-full", 700)
    };
    let commit = PagingCommit {
        alerts: vec![full_alert.clone(), bare_alert.clone()],
        pages: vec![create(sparse.clone()), create(full.clone())],
        events: vec![page_event(1_000, "page.triggered", "p-sparse")],
        outbox: vec![message("page-p-sparse-0", 1_000)],
        settings: vec![("pager.cursor".to_string(), "42".to_string())],
    };
    assert!(store.commit_paging(&commit).await.unwrap());

    let ctx = ctx.reopen().await;
    let store = &ctx.store;
    assert_eq!(store.page("p-sparse").await.unwrap(), Some(sparse.clone()));
    assert_eq!(store.page("p-full").await.unwrap(), Some(full));
    assert_eq!(store.page("p-none").await.unwrap(), None);
    assert_eq!(store.alert("fp-bare").await.unwrap(), Some(bare_alert));
    assert_eq!(store.alert("fp-full").await.unwrap(), Some(full_alert));
    assert_eq!(store.alert("fp-none").await.unwrap(), None);
    assert_eq!(
        strip_ids(store.events(&all_events()).await.unwrap()),
        [page_event(1_000, "page.triggered", "p-sparse")]
    );
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
    assert_eq!(
        store.setting("pager.cursor").await.unwrap().as_deref(),
        Some("42")
    );
    assert_eq!(store.setting("pager.other").await.unwrap(), None);

    // An update writes every field and counts the version up; upserts replace alerts and
    // settings.
    let acknowledged = update(&sparse, |row| {
        row.status = "acknowledged".to_string();
        row.next_at_ms = None;
        row.acknowledged_by = Some("ana".to_string());
        row.acknowledged_ms = Some(1_500);
        row.updated_ms = 1_500;
    });
    let joined = AlertRow {
        page_id: Some("p-sparse".to_string()),
        updated_ms: 1_500,
        ..alert("fp-bare", 500)
    };
    let commit = PagingCommit {
        alerts: vec![joined.clone()],
        pages: vec![acknowledged.clone()],
        settings: vec![("pager.cursor".to_string(), "43".to_string())],
        ..PagingCommit::default()
    };
    assert!(store.commit_paging(&commit).await.unwrap());
    assert_eq!(
        store.page("p-sparse").await.unwrap(),
        Some(acknowledged.row.clone())
    );
    assert_eq!(acknowledged.row.version, 2);
    assert_eq!(store.alert("fp-bare").await.unwrap(), Some(joined));
    assert_eq!(
        store.setting("pager.cursor").await.unwrap().as_deref(),
        Some("43")
    );
    // An empty commit writes nothing and succeeds.
    assert!(store.commit_paging(&PagingCommit::default()).await.unwrap());
}

/// The last notification's payload is not JSON: the database refuses it after the pages, the
/// alerts, the events, the other notification and before the settings were written. Nothing of
/// the commit stays.
async fn paging_commit_is_all_or_nothing_when_a_row_is_refused(ctx: Ctx) {
    let store = &ctx.store;
    let first = page("p-1", "g1", 1_000);
    assert!(
        store
            .commit_paging(&pages_only(vec![create(first.clone())]))
            .await
            .unwrap()
    );
    let before = everything(store).await;

    let mut broken = message("page-p-2-0", 2_000);
    broken.payload = "{not json".to_string();
    let commit = PagingCommit {
        alerts: vec![alert("fp-1", 1_000), alert("fp-2", 2_000)],
        pages: vec![
            update(&first, |row| row.status = "resolved".to_string()),
            create(page("p-2", "g1", 2_000)),
        ],
        events: vec![
            page_event(2_000, "page.resolved", "p-1"),
            page_event(2_000, "page.triggered", "p-2"),
        ],
        outbox: vec![message("page-p-2-1", 2_000), broken],
        settings: vec![("pager.cursor".to_string(), "7".to_string())],
    };
    let err = store.commit_paging(&commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert_eq!(everything(store).await, before);
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
    assert_eq!(store.page("p-2").await.unwrap(), None);
    assert_eq!(store.alert("fp-1").await.unwrap(), None);

    // Labels that are not JSON are refused as well, and the alert before it is not kept.
    let mut bad_labels = alert("fp-3", 3_000);
    bad_labels.labels = "service=api".to_string();
    let commit = PagingCommit {
        alerts: vec![alert("fp-1", 1_000), bad_labels],
        ..PagingCommit::default()
    };
    let err = store.commit_paging(&commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert_eq!(everything(store).await, before);
}

async fn paging_commit_refuses_invalid_arguments_before_writing(ctx: Ctx) {
    let store = &ctx.store;
    let first = page("p-1", "g1", 1_000);
    assert!(
        store
            .commit_paging(&pages_only(vec![create(first.clone())]))
            .await
            .unwrap()
    );
    let before = everything(store).await;
    let good = update(&first, |row| row.step = 1);
    let bad_writes = [
        (
            "unknown status",
            update(&first, |row| row.status = "open".to_string()),
        ),
        ("negative step", update(&first, |row| row.step = -1)),
        ("negative round", update(&first, |row| row.round = -1)),
        (
            "new page at version 2",
            create(PageRow {
                version: 2,
                ..page("p-2", "g2", 1)
            }),
        ),
        (
            "new page at version 0",
            create(PageRow {
                version: 0,
                ..page("p-2", "g2", 1)
            }),
        ),
        (
            "update skipping a version",
            PageWrite {
                row: PageRow {
                    version: 3,
                    ..first.clone()
                },
                expected_version: Some(1),
            },
        ),
        (
            "update keeping its version",
            PageWrite {
                row: first.clone(),
                expected_version: Some(1),
            },
        ),
        (
            "update from the largest version",
            PageWrite {
                row: first.clone(),
                expected_version: Some(i64::MAX),
            },
        ),
    ];
    for (what, bad) in bad_writes {
        // The bad page comes last, after rows that would be fine on their own.
        let commit = PagingCommit {
            alerts: vec![alert("fp-1", 1_000)],
            pages: vec![good.clone(), bad],
            events: vec![page_event(2_000, "page.escalated", "p-1")],
            outbox: vec![message("page-p-1-1", 2_000)],
            settings: vec![("pager.cursor".to_string(), "7".to_string())],
        };
        let err = store.commit_paging(&commit).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{what}: {err:?}");
        assert_eq!(everything(store).await, before, "{what}");
    }
    let bad_alert = AlertRow {
        status: "pending".to_string(),
        ..alert("fp-2", 1_000)
    };
    let commit = PagingCommit {
        alerts: vec![alert("fp-1", 1_000), bad_alert],
        pages: vec![good],
        ..PagingCommit::default()
    };
    let err = store.commit_paging(&commit).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(everything(store).await, before);
}

async fn page_version_conflicts_write_nothing(ctx: Ctx) {
    let store = &ctx.store;
    let v1 = page("p-1", "g1", 1_000);
    assert!(
        store
            .commit_paging(&pages_only(vec![create(v1.clone())]))
            .await
            .unwrap()
    );
    let escalate = update(&v1, |row| row.step = 1);
    assert!(
        store
            .commit_paging(&pages_only(vec![escalate.clone()]))
            .await
            .unwrap()
    );
    let before = everything(store).await;

    // Someone else read version 1 too and acknowledges from it: refused, with everything else
    // of its commit.
    let stale = PagingCommit {
        alerts: vec![alert("fp-1", 1_000)],
        pages: vec![update(&v1, |row| row.status = "acknowledged".to_string())],
        events: vec![page_event(2_000, "page.acknowledged", "p-1")],
        outbox: vec![message("ack-p-1", 2_000)],
        settings: vec![("pager.cursor".to_string(), "7".to_string())],
    };
    assert!(!store.commit_paging(&stale).await.unwrap());
    assert_eq!(everything(store).await, before);
    assert_eq!(store.page("p-1").await.unwrap(), Some(escalate.row.clone()));

    // A conflict late in the commit undoes the page written before it.
    let commit = pages_only(vec![
        create(page("p-2", "g2", 2_000)),
        update(&v1, |row| row.step = 5),
    ]);
    assert!(!store.commit_paging(&commit).await.unwrap());
    assert_eq!(store.page("p-2").await.unwrap(), None);

    // An update of an unknown page, and a new page whose id exists, are conflicts too.
    let unknown = update(&page("p-9", "g9", 1_000), |row| row.step = 1);
    assert!(
        !store
            .commit_paging(&pages_only(vec![unknown]))
            .await
            .unwrap()
    );
    let same_id = create(page("p-1", "another-group", 3_000));
    assert!(
        !store
            .commit_paging(&pages_only(vec![same_id]))
            .await
            .unwrap()
    );
    assert_eq!(everything(store).await, before);

    // From the version it read, the writer goes through.
    let acknowledge = update(&escalate.row, |row| row.status = "acknowledged".to_string());
    assert!(
        store
            .commit_paging(&pages_only(vec![acknowledge.clone()]))
            .await
            .unwrap()
    );
    assert_eq!(store.page("p-1").await.unwrap(), Some(acknowledge.row));
}

async fn one_open_page_per_group_key(ctx: Ctx) {
    let store = &ctx.store;
    let a = page("p-a", "g", 1_000);
    assert!(
        store
            .commit_paging(&pages_only(vec![create(a.clone())]))
            .await
            .unwrap()
    );
    assert_eq!(store.open_page("g").await.unwrap(), Some(a.clone()));
    assert_eq!(store.open_page("h").await.unwrap(), None);

    // A second triggered page of the group is refused, with the rest of its commit.
    let b = page("p-b", "g", 2_000);
    let commit = PagingCommit {
        alerts: vec![alert("fp-b", 2_000)],
        pages: vec![create(b.clone())],
        events: vec![page_event(2_000, "page.triggered", "p-b")],
        ..PagingCommit::default()
    };
    assert!(!store.commit_paging(&commit).await.unwrap());
    assert_eq!(store.alert("fp-b").await.unwrap(), None);
    assert_eq!(store.events(&all_events()).await.unwrap(), []);

    // Acknowledged is still open.
    let a_acked = update(&a, |row| row.status = "acknowledged".to_string());
    assert!(
        store
            .commit_paging(&pages_only(vec![a_acked.clone()]))
            .await
            .unwrap()
    );
    assert!(
        !store
            .commit_paging(&pages_only(vec![create(b.clone())]))
            .await
            .unwrap()
    );
    // Also for a new page that is acknowledged from the start.
    let b_acked = PageRow {
        status: "acknowledged".to_string(),
        ..b.clone()
    };
    assert!(
        !store
            .commit_paging(&pages_only(vec![create(b_acked)]))
            .await
            .unwrap()
    );
    // A resolved page never blocks: a new page may be written resolved beside an open one.
    let b_resolved = PageRow {
        status: "resolved".to_string(),
        ..b.clone()
    };
    assert!(
        store
            .commit_paging(&pages_only(vec![create(b_resolved)]))
            .await
            .unwrap()
    );

    // Once the open page is resolved, a new one takes the group key, even in the same commit.
    let c = page("p-c", "g", 3_000);
    let commit = pages_only(vec![
        update(&a_acked.row, |row| row.status = "resolved".to_string()),
        create(c.clone()),
    ]);
    assert!(store.commit_paging(&commit).await.unwrap());
    assert_eq!(store.open_page("g").await.unwrap(), Some(c.clone()));

    // Reopening a resolved page (or moving a page to a group key) that another open page holds
    // is refused too.
    let a_resolved = store.page("p-a").await.unwrap().unwrap();
    let reopen = update(&a_resolved, |row| row.status = "triggered".to_string());
    assert!(
        !store
            .commit_paging(&pages_only(vec![reopen]))
            .await
            .unwrap()
    );
    let d = page("p-d", "other", 4_000);
    assert!(
        store
            .commit_paging(&pages_only(vec![create(d.clone())]))
            .await
            .unwrap()
    );
    let moved = update(&d, |row| row.group_key = "g".to_string());
    assert!(!store.commit_paging(&pages_only(vec![moved])).await.unwrap());

    // Two open pages of one new group in one commit: refused whole.
    let commit = pages_only(vec![
        create(page("p-e", "new", 5_000)),
        create(page("p-f", "new", 5_000)),
    ]);
    assert!(!store.commit_paging(&commit).await.unwrap());
    assert_eq!(store.page("p-e").await.unwrap(), None);
    assert_eq!(store.open_page("new").await.unwrap(), None);
}

async fn due_pages_are_triggered_pages_oldest_timer_first(ctx: Ctx) {
    let store = &ctx.store;
    let with = |id: &str, status: &str, next_at_ms: Option<i64>| PageRow {
        status: status.to_string(),
        next_at_ms,
        ..page(id, id, 1_000)
    };
    let pages = [
        with("p-300", "triggered", Some(300)),
        with("p-100", "triggered", Some(100)),
        with("p-200-z", "triggered", Some(200)),
        with("p-200-a", "triggered", Some(200)),
        with("p-500", "triggered", Some(500)),
        with("p-501", "triggered", Some(501)),
        with("p-none", "triggered", None),
        with("p-acked", "acknowledged", Some(50)),
        with("p-resolved", "resolved", Some(10)),
    ];
    let commit = pages_only(pages.iter().cloned().map(create).collect());
    assert!(store.commit_paging(&commit).await.unwrap());

    let ids = |rows: Vec<PageRow>| rows.into_iter().map(|row| row.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.due_pages(500, 100).await.unwrap()),
        ["p-100", "p-200-a", "p-200-z", "p-300", "p-500"]
    );
    assert_eq!(
        ids(store.due_pages(500, 2).await.unwrap()),
        ["p-100", "p-200-a"]
    );
    assert_eq!(store.due_pages(99, 100).await.unwrap(), []);
    assert_eq!(store.due_pages(500, 0).await.unwrap(), []);
    assert_eq!(store.due_pages(200, 100).await.unwrap()[0], pages[1]);
    let err = store.due_pages(500, -1).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

async fn pages_are_read_newest_first_by_status(ctx: Ctx) {
    let store = &ctx.store;
    let with = |id: &str, status: &str, created_ms: i64| PageRow {
        status: status.to_string(),
        ..page(id, id, created_ms)
    };
    let commit = pages_only(vec![
        create(with("p-1", "resolved", 1_000)),
        create(with("p-3", "triggered", 3_000)),
        create(with("p-2b", "acknowledged", 2_000)),
        create(with("p-2a", "triggered", 2_000)),
    ]);
    assert!(store.commit_paging(&commit).await.unwrap());
    let ids = |rows: Vec<PageRow>| rows.into_iter().map(|row| row.id).collect::<Vec<_>>();
    let query = |status: Option<&str>, limit: i64| PageQuery {
        status: status.map(str::to_string),
        limit,
    };
    assert_eq!(
        ids(store.pages(&query(None, 100)).await.unwrap()),
        ["p-3", "p-2b", "p-2a", "p-1"]
    );
    assert_eq!(
        ids(store.pages(&query(None, 2)).await.unwrap()),
        ["p-3", "p-2b"]
    );
    assert_eq!(
        ids(store.pages(&query(Some("triggered"), 100)).await.unwrap()),
        ["p-3", "p-2a"]
    );
    assert_eq!(
        ids(store.pages(&query(Some("resolved"), 100)).await.unwrap()),
        ["p-1"]
    );
    assert_eq!(store.pages(&query(None, 0)).await.unwrap(), []);
    for bad in [query(Some("open"), 10), query(None, -1)] {
        let err = store.pages(&bad).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{bad:?}: {err:?}");
    }
}

async fn alerts_are_read_by_page_and_firing(ctx: Ctx) {
    let store = &ctx.store;
    let joined = |fingerprint: &str, starts_ms: i64, page_id: &str| AlertRow {
        page_id: Some(page_id.to_string()),
        ..alert(fingerprint, starts_ms)
    };
    let resolved = AlertRow {
        status: "resolved".to_string(),
        ends_ms: Some(5_000),
        ..joined("fp-resolved", 100, "p-1")
    };
    let muted = AlertRow {
        muted_by: Some("silence-1".to_string()),
        ..alert("fp-muted", 50)
    };
    let commit = PagingCommit {
        alerts: vec![
            joined("fp-c", 3_000, "p-1"),
            joined("fp-b", 2_000, "p-1"),
            joined("fp-a", 3_000, "p-1"),
            joined("fp-other", 1_000, "p-2"),
            resolved.clone(),
            muted.clone(),
            // Twice in one commit: the later row wins.
            alert("fp-twice", 10),
            AlertRow {
                summary: "second".to_string(),
                ..alert("fp-twice", 20)
            },
        ],
        pages: vec![create(page("p-1", "g1", 1)), create(page("p-2", "g2", 1))],
        ..PagingCommit::default()
    };
    assert!(store.commit_paging(&commit).await.unwrap());
    let fingerprints = |rows: Vec<AlertRow>| {
        rows.into_iter()
            .map(|row| row.fingerprint)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        fingerprints(store.page_alerts("p-1").await.unwrap()),
        ["fp-resolved", "fp-b", "fp-a", "fp-c"]
    );
    assert_eq!(store.page_alerts("p-1").await.unwrap()[0], resolved);
    assert_eq!(store.page_alerts("p-9").await.unwrap(), []);
    assert_eq!(
        fingerprints(store.firing_alerts().await.unwrap()),
        ["fp-twice", "fp-muted", "fp-other", "fp-b", "fp-a", "fp-c"]
    );
    assert_eq!(store.firing_alerts().await.unwrap()[1], muted);
    assert_eq!(
        store.alert("fp-twice").await.unwrap().unwrap().summary,
        "second"
    );

    // Resolving an alert takes it out of the firing ones.
    let commit = PagingCommit {
        alerts: vec![AlertRow {
            status: "resolved".to_string(),
            ends_ms: Some(6_000),
            ..muted
        }],
        ..PagingCommit::default()
    };
    assert!(store.commit_paging(&commit).await.unwrap());
    assert_eq!(
        fingerprints(store.firing_alerts().await.unwrap()),
        ["fp-twice", "fp-other", "fp-b", "fp-a", "fp-c"]
    );
}

async fn events_are_filtered_by_page(ctx: Ctx) {
    let store = &ctx.store;
    let commit = PagingCommit {
        pages: vec![create(page("p-1", "g1", 1)), create(page("p-2", "g2", 1))],
        events: vec![
            page_event(1_000, "page.triggered", "p-1"),
            page_event(1_000, "page.triggered", "p-2"),
            EventRow {
                slo_id: Some("checkout-availability".to_string()),
                ..page_event(1_500, "page.notified", "p-1")
            },
            event(2_000, "alert.fired", Some("checkout-availability")),
        ],
        ..PagingCommit::default()
    };
    assert!(store.commit_paging(&commit).await.unwrap());
    let all = store.events(&all_events()).await.unwrap();
    assert_eq!(strip_ids(all.clone()), commit.events);
    assert!(
        all.windows(2).all(|pair| pair[0].id < pair[1].id),
        "{all:?}"
    );

    let of_page = |page_id: &str| EventQuery {
        page_id: Some(page_id.to_string()),
        ..all_events()
    };
    assert_eq!(
        store.events(&of_page("p-1")).await.unwrap(),
        [all[0].clone(), all[2].clone()]
    );
    assert_eq!(
        store.events(&of_page("p-2")).await.unwrap(),
        [all[1].clone()]
    );
    assert_eq!(store.events(&of_page("p-9")).await.unwrap(), []);
    let of_page_and_slo = EventQuery {
        slo_id: Some("checkout-availability".to_string()),
        ..of_page("p-1")
    };
    assert_eq!(
        store.events(&of_page_and_slo).await.unwrap(),
        [all[2].clone()]
    );
    let of_page_after = EventQuery {
        after_id: Some(all[0].id),
        ..of_page("p-1")
    };
    assert_eq!(
        store.events(&of_page_after).await.unwrap(),
        [all[2].clone()]
    );
}

/// Writers that read the same page versions and then commit at the same moment, touching the
/// same pages, alerts, group keys and notifications in opposite orders: on PostgreSQL, row
/// locks taken in different orders would deadlock and one side would fail (40P01). Every
/// commit must answer `Ok`: exactly one writer per round wins, the others find the versions
/// moved and write nothing.
async fn racing_paging_commits_neither_deadlock_nor_fail(ctx: Ctx) {
    let store = &ctx.store;
    // Enough pages that the writers' transactions overlap while they take their row locks.
    let ids: Vec<String> = (0..24).map(|n| format!("p-{n:02}")).collect();
    let commit = pages_only(
        ids.iter()
            .map(|id| create(page(id, &format!("group-{id}"), 1)))
            .collect(),
    );
    assert!(store.commit_paging(&commit).await.unwrap());

    const WRITERS: usize = 4;
    const ROUNDS: usize = 8;
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = Arc::clone(&ctx.store);
        let barrier = Arc::clone(&barrier);
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut written = 0;
            for round in 0..ROUNDS {
                // Every writer reads after the last round's commits ended...
                // Even writers go forwards, odd ones backwards.
                let mut order: Vec<&String> = ids.iter().collect();
                if writer % 2 == 1 {
                    order.reverse();
                }
                let mut pages = Vec::new();
                for id in &order {
                    let current = store.page(id).await.unwrap().unwrap();
                    pages.push(update(&current, |row| row.step += 1));
                }
                // New pages on shared group keys, in opposite orders too.
                let mut groups = vec!["shared-1", "shared-2"];
                if writer % 2 == 1 {
                    groups.reverse();
                }
                for group in groups {
                    if let Some(open) = store.open_page(group).await.unwrap() {
                        pages.push(update(&open, |row| row.status = "resolved".to_string()));
                    }
                    let id = format!("{group}-{writer}-{round}");
                    pages.push(create(page(&id, group, 10)));
                }
                let mut alerts: Vec<AlertRow> = (0..4)
                    .map(|n| alert(&format!("fp-{n}"), i64::try_from(round).unwrap()))
                    .collect();
                let mut outbox: Vec<_> = (0..4)
                    .map(|n| message(&format!("note-{n}-{round}"), 10))
                    .collect();
                if writer % 2 == 1 {
                    alerts.reverse();
                    outbox.reverse();
                }
                let commit = PagingCommit {
                    alerts,
                    pages,
                    events: vec![page_event(10, "page.escalated", order[0])],
                    outbox,
                    settings: vec![
                        ("race.a".to_string(), writer.to_string()),
                        ("race.b".to_string(), writer.to_string()),
                    ],
                };
                // ... and commits at once with the others.
                barrier.wait().await;
                match store.commit_paging(&commit).await {
                    Ok(true) => written += 1,
                    Ok(false) => {}
                    Err(err) => panic!("writer {writer} round {round}: {err:?}"),
                }
                barrier.wait().await;
            }
            written
        }));
    }
    let mut written = 0;
    for task in tasks {
        written += task.await.unwrap();
    }
    assert_eq!(written, i64::try_from(ROUNDS).unwrap());
    for id in &ids {
        let row = store.page(id).await.unwrap().unwrap();
        assert_eq!(row.version, 1 + written, "{id}");
        assert_eq!(row.step, written, "{id}");
    }
    let events = store.events(&all_events()).await.unwrap();
    assert_eq!(events.len(), usize::try_from(written).unwrap());
    for group in ["shared-1", "shared-2"] {
        assert!(store.open_page(group).await.unwrap().is_some(), "{group}");
    }
}

/// Two commits update the same pages in opposite orders and meet in the middle: the test holds
/// the middle page (PostgreSQL: a row lock; SQLite: the write lock) while both start, and lets
/// go once both wait on it. Were rows locked as each commit lists them, the forward writer would
/// then hold the first half and wait for the second while the backward writer held the second
/// and waited for the first: a deadlock, and one of them failing. Paging commits must instead
/// answer: one writes, the other finds the versions moved.
async fn paging_commits_meeting_in_the_middle_do_not_deadlock(ctx: Ctx) {
    let ids: Vec<String> = (0..8).map(|n| format!("p-{n}")).collect();
    let commit = pages_only(ids.iter().map(|id| create(page(id, id, 1))).collect());
    assert!(ctx.store.commit_paging(&commit).await.unwrap());

    let holder = hold_page(&ctx, "p-4").await;
    let writer = |backwards: bool| {
        let store = Arc::clone(&ctx.store);
        let mut order = ids.clone();
        if backwards {
            order.reverse();
        }
        tokio::spawn(async move {
            let mut pages = Vec::new();
            for id in &order {
                let current = store.page(id).await.unwrap().unwrap();
                pages.push(update(&current, |row| row.step += 1));
            }
            store.commit_paging(&pages_only(pages)).await
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
    for id in &ids {
        assert_eq!(
            ctx.store.page(id).await.unwrap().unwrap().version,
            2,
            "{id}"
        );
    }
}

/// A lock on one page held from another connection until released.
enum Holder {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

async fn hold_page(ctx: &Ctx, id: &str) -> Holder {
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
            sqlx::query("SELECT 1 FROM pages WHERE id = $1 FOR UPDATE")
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
