//! Pull states: counts and the watermark they move committed together, compare-and-set on the
//! watermark, argument checks, restarts, and two pullers racing from one watermark.

use nines_store::{CountRow, IntakeCommit, PullCommit, PullState, Store, StoreError};

use crate::harness::{Ctx, delta};

conformance!(
    first_commit_creates_the_state_and_adds_counts,
    commit_from_the_watermark_sums_into_rows_and_moves_it,
    commit_from_a_stale_watermark_writes_nothing,
    commit_without_a_watermark_writes_nothing_once_a_state_exists,
    invalid_commits_write_nothing,
    failed_commit_moves_no_watermark,
    restart_deletes_rows_from_the_minute_and_resets_the_state,
    pull_state_survives_reopening,
    commits_racing_from_one_watermark_one_wins,
);

fn state(slo_id: &str, pulled_until: i64, backfill_from: i64, updated_ms: i64) -> PullState {
    PullState {
        slo_id: slo_id.to_string(),
        pulled_until,
        backfill_from,
        updated_ms,
    }
}

fn row(slo_id: &str, minute: i64, bucket_minutes: i64, counted: i64, total: i64) -> CountRow {
    CountRow {
        slo_id: slo_id.to_string(),
        minute,
        bucket_minutes,
        counted,
        total,
    }
}

fn commit(expected_until: Option<i64>, state: PullState, counts: Vec<CountRow>) -> PullCommit {
    PullCommit {
        expected_until,
        state,
        counts,
    }
}

/// Everything the pull methods can change: all pull states and all count rows.
async fn everything(store: &dyn Store) -> (Vec<PullState>, Vec<CountRow>) {
    (
        store.pull_states().await.unwrap(),
        store.counts_since(None, i64::MIN).await.unwrap(),
    )
}

async fn first_commit_creates_the_state_and_adds_counts(ctx: Ctx) {
    let store = &*ctx.store;
    assert_eq!(store.pull_states().await.unwrap(), []);
    let first = commit(
        None,
        state("a", 20, 0, 1_000),
        // Out of key order; good events above total are kept as they came.
        vec![
            row("a", 10, 10, 7, 9),
            row("a", 0, 10, 3, 10),
            row("a", 5, 1, 4, 2),
        ],
    );
    assert!(store.commit_pull(&first).await.unwrap());
    assert_eq!(
        store.pull_states().await.unwrap(),
        [state("a", 20, 0, 1_000)]
    );
    assert_eq!(
        store.counts_since(Some("a"), i64::MIN).await.unwrap(),
        [
            row("a", 0, 10, 3, 10),
            row("a", 5, 1, 4, 2),
            row("a", 10, 10, 7, 9)
        ]
    );
    // A commit without counts creates a state too; states come ordered by SLO id.
    assert!(
        store
            .commit_pull(&commit(None, state("0", 5, 5, 2_000), vec![]))
            .await
            .unwrap()
    );
    assert_eq!(
        store.pull_states().await.unwrap(),
        [state("0", 5, 5, 2_000), state("a", 20, 0, 1_000)]
    );
}

async fn commit_from_the_watermark_sums_into_rows_and_moves_it(ctx: Ctx) {
    let store = &*ctx.store;
    let first = commit(None, state("a", 10, 0, 1_000), vec![row("a", 0, 10, 1, 10)]);
    assert!(store.commit_pull(&first).await.unwrap());
    // A one-minute row the next pull will add to (from intake, say).
    store
        .commit_intake(&IntakeCommit {
            series: vec![],
            counts: vec![delta("a", 12, 5, 50)],
        })
        .await
        .unwrap();
    let second = commit(
        Some(10),
        state("a", 20, 0, 2_000),
        vec![
            row("a", 12, 1, 1, 2),
            row("a", 15, 1, 3, 4),
            // The same key twice in one commit adds twice.
            row("a", 12, 1, 10, 20),
        ],
    );
    assert!(store.commit_pull(&second).await.unwrap());
    assert_eq!(
        store.pull_states().await.unwrap(),
        [state("a", 20, 0, 2_000)]
    );
    assert_eq!(
        store.counts_since(Some("a"), i64::MIN).await.unwrap(),
        [
            row("a", 0, 10, 1, 10),
            row("a", 12, 1, 16, 72),
            row("a", 15, 1, 3, 4)
        ]
    );
    // The watermark may stay where it is (a new backfill_from, no counts).
    let same = commit(Some(20), state("a", 20, 20, 3_000), vec![]);
    assert!(store.commit_pull(&same).await.unwrap());
    assert_eq!(
        store.pull_states().await.unwrap(),
        [state("a", 20, 20, 3_000)]
    );
}

async fn commit_from_a_stale_watermark_writes_nothing(ctx: Ctx) {
    let store = &*ctx.store;
    let first = commit(None, state("a", 10, 0, 1_000), vec![row("a", 0, 1, 1, 1)]);
    assert!(store.commit_pull(&first).await.unwrap());
    let second = commit(
        Some(10),
        state("a", 20, 0, 2_000),
        vec![row("a", 10, 1, 2, 2)],
    );
    assert!(store.commit_pull(&second).await.unwrap());
    let before = everything(store).await;

    // A puller that still believes the watermark is at 10, and one that is ahead of it.
    let stale = commit(
        Some(10),
        state("a", 30, 0, 3_000),
        vec![row("a", 20, 1, 4, 4)],
    );
    assert!(!store.commit_pull(&stale).await.unwrap());
    let ahead = commit(
        Some(25),
        state("a", 30, 0, 3_000),
        vec![row("a", 25, 1, 4, 4)],
    );
    assert!(!store.commit_pull(&ahead).await.unwrap());
    // A watermark expected for an SLO that has none.
    let unknown = commit(
        Some(20),
        state("b", 30, 0, 3_000),
        vec![row("b", 20, 1, 4, 4)],
    );
    assert!(!store.commit_pull(&unknown).await.unwrap());
    assert_eq!(everything(store).await, before);
}

async fn commit_without_a_watermark_writes_nothing_once_a_state_exists(ctx: Ctx) {
    let store = &*ctx.store;
    let first = commit(None, state("a", 10, 0, 1_000), vec![row("a", 0, 1, 1, 1)]);
    assert!(store.commit_pull(&first).await.unwrap());
    let before = everything(store).await;

    // The same first commit again (a second puller starting on the SLO).
    assert!(!store.commit_pull(&first).await.unwrap());
    let later = commit(None, state("a", 20, 10, 2_000), vec![row("a", 10, 1, 5, 5)]);
    assert!(!store.commit_pull(&later).await.unwrap());
    assert_eq!(everything(store).await, before);
    assert_eq!(
        store.counts_since(Some("a"), i64::MIN).await.unwrap(),
        [row("a", 0, 1, 1, 1)]
    );
}

async fn invalid_commits_write_nothing(ctx: Ctx) {
    let store = &*ctx.store;
    let first = commit(None, state("a", 10, 0, 1_000), vec![row("a", 0, 1, 1, 1)]);
    assert!(store.commit_pull(&first).await.unwrap());
    let before = everything(store).await;

    // Each case changes one thing of a commit that is valid (checked last) and would add to
    // an existing row, move the watermark and create a row.
    let valid = || {
        commit(
            Some(10),
            state("a", 20, 0, 2_000),
            vec![row("a", 0, 1, 1, 1), row("a", 10, 10, 2, 2)],
        )
    };
    let cases: Vec<(PullCommit, &str)> = vec![
        (
            {
                let mut commit = valid();
                commit.counts.push(row("b", 12, 1, 1, 1));
                commit
            },
            r#"count of "b" at minute 12 is in a pull commit of "a""#,
        ),
        (
            {
                let mut commit = valid();
                commit.counts[1].bucket_minutes = 0;
                commit
            },
            r#"bucket_minutes of count of "a" at minute 10 must be at least 1, got 0"#,
        ),
        (
            {
                let mut commit = valid();
                commit.counts[1].bucket_minutes = -10;
                commit
            },
            r#"bucket_minutes of count of "a" at minute 10 must be at least 1, got -10"#,
        ),
        (
            {
                let mut commit = valid();
                commit.counts[1].counted = -1;
                commit
            },
            r#"counted of count of "a" at minute 10 must not be negative, got -1"#,
        ),
        (
            {
                let mut commit = valid();
                commit.counts[1].total = -2;
                commit
            },
            r#"total of count of "a" at minute 10 must not be negative, got -2"#,
        ),
        (
            {
                let mut commit = valid();
                commit.counts[1].minute = 11;
                commit
            },
            r#"count of "a" at minute 11 (10 minutes) ends after pulled_until 20"#,
        ),
        (
            {
                let mut commit = valid();
                commit.counts.push(row("a", i64::MAX, 1, 1, 1));
                commit
            },
            r#"count of "a" at minute 9223372036854775807 (1 minutes) ends after pulled_until 20"#,
        ),
        (
            {
                let mut commit = valid();
                commit.state.pulled_until = 9;
                commit.counts.clear();
                commit
            },
            r#"pulled_until of "a" moves back from 10 to 9"#,
        ),
        (
            {
                let mut commit = valid();
                commit.state.backfill_from = 21;
                commit
            },
            r#"backfill_from 21 of "a" is after its pulled_until 20"#,
        ),
        (
            // Checked for a first commit too: no state is created.
            commit(None, state("b", 20, 0, 2_000), vec![row("b", 15, 10, 1, 1)]),
            r#"count of "b" at minute 15 (10 minutes) ends after pulled_until 20"#,
        ),
    ];
    for (invalid, message) in cases {
        let err = store.commit_pull(&invalid).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        assert_eq!(err.to_string(), format!("invalid argument: {message}"));
        assert_eq!(everything(store).await, before, "after {message}");
    }

    assert!(store.commit_pull(&valid()).await.unwrap());
    assert_eq!(
        everything(store).await,
        (
            vec![state("a", 20, 0, 2_000)],
            vec![row("a", 0, 1, 2, 2), row("a", 10, 10, 2, 2)]
        )
    );
}

/// The last row overflows i64 in the database (a real failure after the state was written in
/// the same transaction): the watermark stays and no count is added.
async fn failed_commit_moves_no_watermark(ctx: Ctx) {
    let store = &*ctx.store;
    let first = commit(
        None,
        state("a", 10, 0, 1_000),
        vec![row("a", 5, 1, i64::MAX, i64::MAX)],
    );
    assert!(store.commit_pull(&first).await.unwrap());
    let before = everything(store).await;
    let overflowing = commit(
        Some(10),
        state("a", 20, 0, 2_000),
        vec![row("a", 10, 1, 1, 1), row("a", 5, 1, 1, 1)],
    );
    let err = store.commit_pull(&overflowing).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert_eq!(everything(store).await, before);
    // The puller tries again from the same watermark.
    let retry = commit(
        Some(10),
        state("a", 20, 0, 3_000),
        vec![row("a", 10, 1, 1, 1)],
    );
    assert!(store.commit_pull(&retry).await.unwrap());
}

async fn restart_deletes_rows_from_the_minute_and_resets_the_state(ctx: Ctx) {
    let store = &*ctx.store;
    let pulled_a = commit(
        None,
        state("a", 40, 0, 1_000),
        vec![
            row("a", 0, 10, 1, 1),
            // Starts before the restart and reaches past it: kept whole.
            row("a", 10, 10, 2, 2),
            row("a", 14, 1, 3, 3),
            row("a", 15, 1, 4, 4),
            row("a", 20, 1, 5, 5),
            row("a", 30, 10, 6, 6),
        ],
    );
    assert!(store.commit_pull(&pulled_a).await.unwrap());
    let pulled_b = commit(
        None,
        state("b", 30, 0, 1_000),
        vec![
            row("b", 14, 1, 7, 7),
            row("b", 15, 1, 8, 8),
            row("b", 20, 10, 9, 9),
        ],
    );
    assert!(store.commit_pull(&pulled_b).await.unwrap());

    store.restart_pull("a", 15, 5_000).await.unwrap();
    assert_eq!(
        store.pull_states().await.unwrap(),
        [state("a", 15, 15, 5_000), state("b", 30, 0, 1_000)]
    );
    assert_eq!(
        store.counts_since(None, i64::MIN).await.unwrap(),
        [
            row("a", 0, 10, 1, 1),
            row("a", 10, 10, 2, 2),
            row("a", 14, 1, 3, 3),
            row("b", 14, 1, 7, 7),
            row("b", 15, 1, 8, 8),
            row("b", 20, 10, 9, 9)
        ]
    );

    // Pulling continues from the restart, not from the old watermark.
    let old = commit(
        Some(40),
        state("a", 50, 0, 6_000),
        vec![row("a", 40, 1, 1, 1)],
    );
    assert!(!store.commit_pull(&old).await.unwrap());
    let resumed = commit(
        Some(15),
        state("a", 20, 15, 6_000),
        vec![row("a", 15, 1, 1, 1)],
    );
    assert!(store.commit_pull(&resumed).await.unwrap());

    // Restarting an SLO without a state creates one; backwards moves the watermark back.
    store.restart_pull("c", 100, 7_000).await.unwrap();
    store.restart_pull("b", 0, 7_000).await.unwrap();
    assert_eq!(
        everything(store).await,
        (
            vec![
                state("a", 20, 15, 6_000),
                state("b", 0, 0, 7_000),
                state("c", 100, 100, 7_000)
            ],
            vec![
                row("a", 0, 10, 1, 1),
                row("a", 10, 10, 2, 2),
                row("a", 14, 1, 3, 3),
                row("a", 15, 1, 1, 1)
            ]
        )
    );
}

async fn pull_state_survives_reopening(ctx: Ctx) {
    let first = commit(None, state("a", 10, 0, 1_000), vec![row("a", 0, 10, 1, 2)]);
    assert!(ctx.store.commit_pull(&first).await.unwrap());
    // A state written by a restart survives too.
    ctx.store.restart_pull("b", 7, 1_500).await.unwrap();
    let before = everything(&*ctx.store).await;
    assert_eq!(
        before.0,
        [state("a", 10, 0, 1_000), state("b", 7, 7, 1_500)]
    );

    let ctx = ctx.reopen().await;
    let store = &*ctx.store;
    assert_eq!(everything(store).await, before);
    // An interrupted backfill resumes from the stored watermark.
    let resumed = commit(
        Some(10),
        state("a", 20, 0, 2_000),
        vec![row("a", 10, 10, 3, 4)],
    );
    assert!(store.commit_pull(&resumed).await.unwrap());
    assert!(
        store
            .commit_pull(&commit(Some(7), state("b", 8, 7, 2_000), vec![]))
            .await
            .unwrap()
    );
}

/// Two pullers commit from the same watermark at the same time, round after round (first
/// commits included): exactly one wins each round, and only the winner's counts are added.
async fn commits_racing_from_one_watermark_one_wins(ctx: Ctx) {
    const ROUNDS: i64 = 20;
    let mut expected_until = None;
    let mut expected_counts = Vec::new();
    for round in 0..ROUNDS {
        let from = round * 10;
        // Each puller marks its rows with its own count, so the winner can be told apart.
        let puller = |marker: i64| {
            let store = ctx.store.clone();
            let racing = commit(
                expected_until,
                state("a", from + 10, 0, marker),
                vec![row("a", from, 10, marker, marker)],
            );
            tokio::spawn(async move { store.commit_pull(&racing).await.unwrap() })
        };
        let (first, second) = tokio::join!(puller(1), puller(2));
        let (first, second) = (first.unwrap(), second.unwrap());
        assert!(first != second, "round {round}: {first} and {second}");
        let winner = if first { 1 } else { 2 };
        assert_eq!(
            ctx.store.pull_states().await.unwrap(),
            [state("a", from + 10, 0, winner)],
            "round {round}"
        );
        expected_counts.push(row("a", from, 10, winner, winner));
        expected_until = Some(from + 10);
    }
    assert_eq!(
        ctx.store.counts_since(None, i64::MIN).await.unwrap(),
        expected_counts
    );
}
