//! The PostgreSQL backend, for several replicas sharing one database.
//!
//! Opened from `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAMS]` (`postgresql://` too;
//! `?host=/run/postgresql` for a Unix socket, `?options=-c%20search_path%3Dnines` for a schema)
//! with a pool of up to [`MAX_CONNECTIONS`]. PostgreSQL's default `synchronous_commit=on` makes
//! a commit that returned durable.
//!
//! Queries are plain runtime queries (`sqlx::query` with binds), not the compile-time checked
//! macros: those need a live database or an offline `.sqlx` cache at build time. Instead the
//! conformance suite in `tests/it` runs every query here against a real PostgreSQL when
//! `NINES_TEST_PG_URL` is set (and `.ci/run` starts one). The schema is
//! `migrations/postgres`, embedded and run by [`PostgresStore::open`].
//!
//! Concurrency: transactions run at READ COMMITTED. Counts are added by single-statement upserts;
//! compaction deletes the one-minute rows and inserts their sums in one statement, so an intake
//! running at the same time either lands before (and is merged) or after (as a new row), never
//! in between. Event appends take a transaction-scoped advisory lock, so event ids become
//! visible in increasing order and a reader paging with `after_id` never skips one. Paging
//! commits take another one first and so run one at a time: their compare and set on page
//! versions and the unique index on open group keys never wait on each other (no deadlock).
//! Incident commits do the same under a lock of their own, also taken before the event lock. A
//! pull commit sets its SLO's watermark with a conditional `UPDATE` (an `INSERT ... ON CONFLICT
//! DO NOTHING` for the first) before adding its counts: of two commits from one watermark, the
//! second waits on the row lock and then writes nothing.

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};

use crate::{
    ActionItemRow, AlertRow, AlertStateRow, CountRow, EventQuery, EventRow, HeartbeatRow,
    IncidentCommit, IncidentQuery, IncidentRow, IncidentWrite, IntakeCommit, OutboxRow, PageQuery,
    PageRow, PageWrite, PagingCommit, PullCommit, PullState, Result, SeriesState, SilenceRow,
    SloRow, SnapshotRow, Store, StoreError, TransitionCommit, check_bucket_minutes,
    check_incident_commit, check_incident_status, check_intake, check_limit, check_page_status,
    check_paging, check_pull, check_silence, check_snapshots, database_error, intake_in_key_order,
    is_unique_violation, migration_error, paging_in_key_order, pull_counts_in_key_order,
    states_in_key_order,
};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// Connections in the pool of one replica.
pub const MAX_CONNECTIONS: u32 = 8;

/// The advisory lock key that orders event appends ("nines" in ASCII).
const EVENT_APPEND_LOCK: i64 = 0x6e_69_6e_65_73;

/// The advisory lock key that runs paging commits one at a time ("pages" in ASCII).
const PAGING_LOCK: i64 = 0x70_61_67_65_73;

/// The advisory lock key that runs incident commits one at a time ("incid" in ASCII).
const INCIDENT_LOCK: i64 = i64::from_be_bytes([0, 0, 0, b'i', b'n', b'c', b'i', b'd']);

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database `url` names and brings its schema up to date.
    pub async fn open(url: &str) -> Result<PostgresStore> {
        let options = PgConnectOptions::from_str(url).map_err(|err| StoreError::Url {
            url: url.to_string(),
            detail: err.to_string(),
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(database_error)?;
        MIGRATOR.run(&pool).await.map_err(migration_error)?;
        Ok(PostgresStore { pool })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(database_error)
    }

    /// One compaction transaction: the one-minute rows are locked in key order first, the
    /// order intake and pull commits lock them in, so the two cannot deadlock on them.
    async fn compact_once(&self, before_minute: i64, bucket_minutes: i64) -> sqlx::Result<i64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "SELECT 1 FROM counts WHERE bucket_minutes = 1 AND minute < $1 \
             ORDER BY slo_id, minute FOR UPDATE",
        )
        .bind(before_minute)
        .execute(&mut *tx)
        .await?;
        // One statement: the rows summed are exactly the rows deleted (RETURNING), so an intake
        // adding to a one-minute row at the same time is either merged or kept, never lost.
        let merged: i64 = sqlx::query(
            "WITH merged AS ( \
                 DELETE FROM counts WHERE bucket_minutes = 1 AND minute < $1 \
                 RETURNING slo_id, minute, counted, total \
             ), sums AS ( \
                 SELECT slo_id, minute - (((minute % $2) + $2) % $2) AS start, \
                        SUM(counted)::bigint AS counted, SUM(total)::bigint AS total \
                 FROM merged GROUP BY 1, 2 ORDER BY 1, 2 \
             ), inserted AS ( \
                 INSERT INTO counts (slo_id, minute, bucket_minutes, counted, total) \
                 SELECT slo_id, start, $2, counted, total FROM sums \
                 ON CONFLICT (slo_id, minute, bucket_minutes) DO UPDATE SET \
                 counted = counts.counted + excluded.counted, \
                 total = counts.total + excluded.total \
                 RETURNING 1 \
             ) \
             SELECT (SELECT COUNT(*) FROM merged) AS merged, \
                    (SELECT COUNT(*) FROM inserted) AS inserted",
        )
        .bind(before_minute)
        .bind(bucket_minutes)
        .fetch_one(&mut *tx)
        .await?
        .try_get("merged")?;
        tx.commit().await?;
        Ok(merged)
    }
}

/// PostgreSQL chose this transaction as a deadlock's victim (SQLSTATE 40P01).
fn is_deadlock(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("40P01"))
}

/// Adds counts to a bucket row, creating it if missing: what intake and pull commits both write.
async fn add_count(
    tx: &mut Transaction<'static, Postgres>,
    slo_id: &str,
    minute: i64,
    bucket_minutes: i64,
    counted: i64,
    total: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO counts (slo_id, minute, bucket_minutes, counted, total) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (slo_id, minute, bucket_minutes) DO UPDATE SET \
         counted = counts.counted + excluded.counted, \
         total = counts.total + excluded.total",
    )
    .bind(slo_id)
    .bind(minute)
    .bind(bucket_minutes)
    .bind(counted)
    .bind(total)
    .execute(&mut **tx)
    .await
    .map_err(database_error)?;
    Ok(())
}

/// Appends one event (the store assigns its id).
async fn append_event(tx: &mut Transaction<'static, Postgres>, event: &EventRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (at_ms, kind, slo_id, page_id, incident_id, actor, payload) \
         VALUES ($1, $2, $3, $4, $5, $6, $7::json)",
    )
    .bind(event.at_ms)
    .bind(&event.kind)
    .bind(&event.slo_id)
    .bind(&event.page_id)
    .bind(&event.incident_id)
    .bind(&event.actor)
    .bind(&event.payload)
    .execute(&mut **tx)
    .await
    .map_err(database_error)?;
    Ok(())
}

/// Enqueues one notification unless its idempotency key is known.
async fn enqueue(tx: &mut Transaction<'static, Postgres>, message: &OutboxRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO outbox (idempotency_key, channel, payload, created_ms, attempts, \
         next_attempt_ms, delivered_ms, last_error) \
         VALUES ($1, $2, $3::json, $4, $5, $6, $7, $8) \
         ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(&message.idempotency_key)
    .bind(&message.channel)
    .bind(&message.payload)
    .bind(message.created_ms)
    .bind(message.attempts)
    .bind(message.next_attempt_ms)
    .bind(message.delivered_ms)
    .bind(&message.last_error)
    .execute(&mut **tx)
    .await
    .map_err(database_error)?;
    Ok(())
}

/// Inserts or updates (compare and set on the version) one page. `Ok(false)` when the page
/// cannot be written: the stored version is not the expected one, or the id or the open group
/// key is taken.
async fn write_page(tx: &mut Transaction<'static, Postgres>, write: &PageWrite) -> Result<bool> {
    let page = &write.row;
    let query = match write.expected_version {
        None => sqlx::query(
            "INSERT INTO pages (id, group_key, status, policy, step, round, next_at_ms, summary, \
             severity, service, labels, runbook, created_ms, updated_ms, acknowledged_by, \
             acknowledged_ms, resolved_by, resolved_ms, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::json, $12, $13, $14, $15, $16, \
             $17, $18, $19)",
        ),
        Some(_) => sqlx::query(
            "UPDATE pages SET group_key = $2, status = $3, policy = $4, step = $5, round = $6, \
             next_at_ms = $7, summary = $8, severity = $9, service = $10, labels = $11::json, \
             runbook = $12, created_ms = $13, updated_ms = $14, acknowledged_by = $15, \
             acknowledged_ms = $16, resolved_by = $17, resolved_ms = $18, version = $19 \
             WHERE id = $1 AND version = $20",
        ),
    };
    let query = query
        .bind(&page.id)
        .bind(&page.group_key)
        .bind(&page.status)
        .bind(&page.policy)
        .bind(page.step)
        .bind(page.round)
        .bind(page.next_at_ms)
        .bind(&page.summary)
        .bind(&page.severity)
        .bind(&page.service)
        .bind(&page.labels)
        .bind(&page.runbook)
        .bind(page.created_ms)
        .bind(page.updated_ms)
        .bind(&page.acknowledged_by)
        .bind(page.acknowledged_ms)
        .bind(&page.resolved_by)
        .bind(page.resolved_ms)
        .bind(page.version);
    let query = match write.expected_version {
        None => query,
        Some(expected_version) => query.bind(expected_version),
    };
    let written = query.execute(&mut **tx).await;
    match written {
        Ok(done) => Ok(done.rows_affected() == 1),
        Err(err) if is_unique_violation(&err) => Ok(false),
        Err(err) => Err(database_error(err)),
    }
}

/// Inserts or replaces one alert by fingerprint.
async fn upsert_alert(tx: &mut Transaction<'static, Postgres>, alert: &AlertRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO alerts (fingerprint, source, status, summary, severity, labels, \
         annotations, starts_ms, ends_ms, updated_ms, page_id, muted_by) \
         VALUES ($1, $2, $3, $4, $5, $6::json, $7::json, $8, $9, $10, $11, $12) \
         ON CONFLICT (fingerprint) DO UPDATE SET source = excluded.source, \
         status = excluded.status, summary = excluded.summary, severity = excluded.severity, \
         labels = excluded.labels, annotations = excluded.annotations, \
         starts_ms = excluded.starts_ms, ends_ms = excluded.ends_ms, \
         updated_ms = excluded.updated_ms, page_id = excluded.page_id, \
         muted_by = excluded.muted_by",
    )
    .bind(&alert.fingerprint)
    .bind(&alert.source)
    .bind(&alert.status)
    .bind(&alert.summary)
    .bind(&alert.severity)
    .bind(&alert.labels)
    .bind(&alert.annotations)
    .bind(alert.starts_ms)
    .bind(alert.ends_ms)
    .bind(alert.updated_ms)
    .bind(&alert.page_id)
    .bind(&alert.muted_by)
    .execute(&mut **tx)
    .await
    .map_err(database_error)?;
    Ok(())
}

/// Inserts or updates (compare and set on the version) one incident. `Ok(false)` when the
/// incident cannot be written: the stored version is not the expected one, or the id is taken.
async fn write_incident(
    tx: &mut Transaction<'static, Postgres>,
    write: &IncidentWrite,
) -> Result<bool> {
    let incident = &write.row;
    let query = match write.expected_version {
        None => sqlx::query(
            "INSERT INTO incidents (id, title, severity, status, opened_ms, opened_by, \
             resolved_ms, roles, services, slos, pages, postmortem, postmortem_published_ms, \
             reopened, updated_ms, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::json, $9::json, $10::json, $11::json, $12, $13, $14, \
             $15, $16)",
        ),
        Some(_) => sqlx::query(
            "UPDATE incidents SET title = $2, severity = $3, status = $4, opened_ms = $5, \
             opened_by = $6, resolved_ms = $7, roles = $8::json, services = $9::json, \
             slos = $10::json, pages = $11::json, postmortem = $12, postmortem_published_ms = $13, \
             reopened = $14, updated_ms = $15, version = $16 \
             WHERE id = $1 AND version = $17",
        ),
    };
    let query = query
        .bind(&incident.id)
        .bind(&incident.title)
        .bind(&incident.severity)
        .bind(&incident.status)
        .bind(incident.opened_ms)
        .bind(&incident.opened_by)
        .bind(incident.resolved_ms)
        .bind(&incident.roles)
        .bind(&incident.services)
        .bind(&incident.slos)
        .bind(&incident.pages)
        .bind(&incident.postmortem)
        .bind(incident.postmortem_published_ms)
        .bind(incident.reopened)
        .bind(incident.updated_ms)
        .bind(incident.version);
    let query = match write.expected_version {
        None => query,
        Some(expected_version) => query.bind(expected_version),
    };
    match query.execute(&mut **tx).await {
        Ok(done) => Ok(done.rows_affected() == 1),
        Err(err) if is_unique_violation(&err) => Ok(false),
        Err(err) => Err(database_error(err)),
    }
}

/// Inserts or replaces one action item by id. An item whose incident does not exist is
/// `StoreError::Invalid`: checked first, so that the foreign key never has to refuse it.
async fn upsert_action_item(
    tx: &mut Transaction<'static, Postgres>,
    item: &ActionItemRow,
) -> Result<()> {
    let incident_exists = sqlx::query("SELECT 1 FROM incidents WHERE id = $1")
        .bind(&item.incident_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(database_error)?
        .is_some();
    if !incident_exists {
        return Err(StoreError::Invalid(format!(
            "action item {:?} follows up incident {:?}, which does not exist",
            item.id, item.incident_id
        )));
    }
    sqlx::query(
        "INSERT INTO action_items (id, incident_id, title, owner, due, priority, status, \
         created_ms, closed_ms, updated_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (id) DO UPDATE SET incident_id = excluded.incident_id, \
         title = excluded.title, owner = excluded.owner, due = excluded.due, \
         priority = excluded.priority, status = excluded.status, \
         created_ms = excluded.created_ms, closed_ms = excluded.closed_ms, \
         updated_ms = excluded.updated_ms",
    )
    .bind(&item.id)
    .bind(&item.incident_id)
    .bind(&item.title)
    .bind(&item.owner)
    .bind(&item.due)
    .bind(&item.priority)
    .bind(&item.status)
    .bind(item.created_ms)
    .bind(item.closed_ms)
    .bind(item.updated_ms)
    .execute(&mut **tx)
    .await
    .map_err(database_error)?;
    Ok(())
}

/// The columns of an incident, in the order of [`IncidentRow`].
macro_rules! incident_columns {
    () => {
        "id, title, severity, status, opened_ms, opened_by, resolved_ms, roles::text AS roles, \
     services::text AS services, slos::text AS slos, pages::text AS pages, postmortem, \
     postmortem_published_ms, reopened, updated_ms, version"
    };
}

/// The columns of an action item, in the order of [`ActionItemRow`].
macro_rules! action_item_columns {
    () => {
        "id, incident_id, title, owner, due, priority, status, created_ms, closed_ms, updated_ms"
    };
}

/// The columns of a page, in the order of [`PageRow`].
macro_rules! page_columns {
    () => {
        "id, group_key, status, policy, step, round, next_at_ms, summary, \
     severity, service, labels::text AS labels, runbook, created_ms, updated_ms, acknowledged_by, \
     acknowledged_ms, resolved_by, resolved_ms, version"
    };
}

/// The columns of an alert, in the order of [`AlertRow`].
macro_rules! alert_columns {
    () => {
        "fingerprint, source, status, summary, severity, labels::text AS labels, \
     annotations::text AS annotations, starts_ms, ends_ms, updated_ms, page_id, muted_by"
    };
}

/// The columns of a silence, in the order of [`SilenceRow`].
macro_rules! silence_columns {
    () => {
        "id, matchers::text AS matchers, starts_ms, ends_ms, created_by, comment, created_ms"
    };
}

fn slo_from_row(row: &PgRow) -> sqlx::Result<SloRow> {
    Ok(SloRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        service: row.try_get("service")?,
        first_seen_ms: row.try_get("first_seen_ms")?,
    })
}

fn count_from_row(row: &PgRow) -> sqlx::Result<CountRow> {
    Ok(CountRow {
        slo_id: row.try_get("slo_id")?,
        minute: row.try_get("minute")?,
        bucket_minutes: row.try_get("bucket_minutes")?,
        counted: row.try_get("counted")?,
        total: row.try_get("total")?,
    })
}

fn pull_state_from_row(row: &PgRow) -> sqlx::Result<PullState> {
    Ok(PullState {
        slo_id: row.try_get("slo_id")?,
        pulled_until: row.try_get("pulled_until")?,
        backfill_from: row.try_get("backfill_from")?,
        updated_ms: row.try_get("updated_ms")?,
    })
}

fn series_from_row(row: &PgRow) -> sqlx::Result<SeriesState> {
    Ok(SeriesState {
        series_key: row.try_get("series_key")?,
        last_value: row.try_get("last_value")?,
        last_timestamp_ms: row.try_get("last_timestamp_ms")?,
    })
}

fn alert_state_from_row(row: &PgRow) -> sqlx::Result<AlertStateRow> {
    Ok(AlertStateRow {
        slo_id: row.try_get("slo_id")?,
        kind: row.try_get("kind")?,
        state: row.try_get("state")?,
        severity: row.try_get("severity")?,
        since_ms: row.try_get("since_ms")?,
    })
}

fn event_from_row(row: &PgRow) -> sqlx::Result<EventRow> {
    Ok(EventRow {
        id: row.try_get("id")?,
        at_ms: row.try_get("at_ms")?,
        kind: row.try_get("kind")?,
        slo_id: row.try_get("slo_id")?,
        page_id: row.try_get("page_id")?,
        incident_id: row.try_get("incident_id")?,
        actor: row.try_get("actor")?,
        payload: row.try_get("payload")?,
    })
}

fn outbox_from_row(row: &PgRow) -> sqlx::Result<OutboxRow> {
    Ok(OutboxRow {
        id: row.try_get("id")?,
        idempotency_key: row.try_get("idempotency_key")?,
        channel: row.try_get("channel")?,
        payload: row.try_get("payload")?,
        created_ms: row.try_get("created_ms")?,
        attempts: row.try_get("attempts")?,
        next_attempt_ms: row.try_get("next_attempt_ms")?,
        delivered_ms: row.try_get("delivered_ms")?,
        last_error: row.try_get("last_error")?,
    })
}

fn snapshot_from_row(row: &PgRow) -> sqlx::Result<SnapshotRow> {
    Ok(SnapshotRow {
        slo_id: row.try_get("slo_id")?,
        at_ms: row.try_get("at_ms")?,
        remaining_share: row.try_get("remaining_share")?,
        sli: row.try_get("sli")?,
        bad: row.try_get("bad")?,
        total: row.try_get("total")?,
        burn_rate_1h: row.try_get("burn_rate_1h")?,
    })
}

fn page_from_row(row: &PgRow) -> sqlx::Result<PageRow> {
    Ok(PageRow {
        id: row.try_get("id")?,
        group_key: row.try_get("group_key")?,
        status: row.try_get("status")?,
        policy: row.try_get("policy")?,
        step: row.try_get("step")?,
        round: row.try_get("round")?,
        next_at_ms: row.try_get("next_at_ms")?,
        summary: row.try_get("summary")?,
        severity: row.try_get("severity")?,
        service: row.try_get("service")?,
        labels: row.try_get("labels")?,
        runbook: row.try_get("runbook")?,
        created_ms: row.try_get("created_ms")?,
        updated_ms: row.try_get("updated_ms")?,
        acknowledged_by: row.try_get("acknowledged_by")?,
        acknowledged_ms: row.try_get("acknowledged_ms")?,
        resolved_by: row.try_get("resolved_by")?,
        resolved_ms: row.try_get("resolved_ms")?,
        version: row.try_get("version")?,
    })
}

fn alert_from_row(row: &PgRow) -> sqlx::Result<AlertRow> {
    Ok(AlertRow {
        fingerprint: row.try_get("fingerprint")?,
        source: row.try_get("source")?,
        status: row.try_get("status")?,
        summary: row.try_get("summary")?,
        severity: row.try_get("severity")?,
        labels: row.try_get("labels")?,
        annotations: row.try_get("annotations")?,
        starts_ms: row.try_get("starts_ms")?,
        ends_ms: row.try_get("ends_ms")?,
        updated_ms: row.try_get("updated_ms")?,
        page_id: row.try_get("page_id")?,
        muted_by: row.try_get("muted_by")?,
    })
}

fn silence_from_row(row: &PgRow) -> sqlx::Result<SilenceRow> {
    Ok(SilenceRow {
        id: row.try_get("id")?,
        matchers: row.try_get("matchers")?,
        starts_ms: row.try_get("starts_ms")?,
        ends_ms: row.try_get("ends_ms")?,
        created_by: row.try_get("created_by")?,
        comment: row.try_get("comment")?,
        created_ms: row.try_get("created_ms")?,
    })
}

fn heartbeat_from_row(row: &PgRow) -> sqlx::Result<HeartbeatRow> {
    Ok(HeartbeatRow {
        id: row.try_get("id")?,
        last_ms: row.try_get("last_ms")?,
    })
}

fn incident_from_row(row: &PgRow) -> sqlx::Result<IncidentRow> {
    Ok(IncidentRow {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        severity: row.try_get("severity")?,
        status: row.try_get("status")?,
        opened_ms: row.try_get("opened_ms")?,
        opened_by: row.try_get("opened_by")?,
        resolved_ms: row.try_get("resolved_ms")?,
        roles: row.try_get("roles")?,
        services: row.try_get("services")?,
        slos: row.try_get("slos")?,
        pages: row.try_get("pages")?,
        postmortem: row.try_get("postmortem")?,
        postmortem_published_ms: row.try_get("postmortem_published_ms")?,
        reopened: row.try_get("reopened")?,
        updated_ms: row.try_get("updated_ms")?,
        version: row.try_get("version")?,
    })
}

fn action_item_from_row(row: &PgRow) -> sqlx::Result<ActionItemRow> {
    Ok(ActionItemRow {
        id: row.try_get("id")?,
        incident_id: row.try_get("incident_id")?,
        title: row.try_get("title")?,
        owner: row.try_get("owner")?,
        due: row.try_get("due")?,
        priority: row.try_get("priority")?,
        status: row.try_get("status")?,
        created_ms: row.try_get("created_ms")?,
        closed_ms: row.try_get("closed_ms")?,
        updated_ms: row.try_get("updated_ms")?,
    })
}

/// Decodes every row with `decode`, failing on the first that does not fit.
fn decode_all<T>(rows: Vec<PgRow>, decode: fn(&PgRow) -> sqlx::Result<T>) -> Result<Vec<T>> {
    rows.iter()
        .map(|row| decode(row).map_err(database_error))
        .collect()
}

#[async_trait]
impl Store for PostgresStore {
    async fn upsert_slos(&self, slos: &[SloRow]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for slo in slos {
            sqlx::query(
                "INSERT INTO slos (id, name, service, first_seen_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, service = excluded.service",
            )
            .bind(&slo.id)
            .bind(&slo.name)
            .bind(&slo.service)
            .bind(slo.first_seen_ms)
            .execute(&mut *tx)
            .await
            .map_err(database_error)?;
        }
        tx.commit().await.map_err(database_error)
    }

    async fn slos(&self) -> Result<Vec<SloRow>> {
        let rows = sqlx::query("SELECT id, name, service, first_seen_ms FROM slos ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(database_error)?;
        decode_all(rows, slo_from_row)
    }

    async fn commit_intake(&self, commit: &IntakeCommit) -> Result<()> {
        check_intake(commit)?;
        let (series_in_order, counts_in_order) = intake_in_key_order(commit);
        let mut tx = self.begin_write().await?;
        for series in series_in_order {
            sqlx::query(
                "INSERT INTO series_states (series_key, last_value, last_timestamp_ms) \
                 VALUES ($1, $2, $3) \
                 ON CONFLICT (series_key) DO UPDATE SET last_value = excluded.last_value, \
                 last_timestamp_ms = excluded.last_timestamp_ms",
            )
            .bind(&series.series_key)
            .bind(series.last_value)
            .bind(series.last_timestamp_ms)
            .execute(&mut *tx)
            .await
            .map_err(database_error)?;
        }
        for delta in counts_in_order {
            add_count(
                &mut tx,
                &delta.slo_id,
                delta.minute,
                1,
                delta.counted,
                delta.total,
            )
            .await?;
        }
        tx.commit().await.map_err(database_error)
    }

    async fn series_states(&self) -> Result<Vec<SeriesState>> {
        let rows = sqlx::query(
            "SELECT series_key, last_value, last_timestamp_ms FROM series_states \
             ORDER BY series_key",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        decode_all(rows, series_from_row)
    }

    async fn counts_since(&self, slo_id: Option<&str>, minute: i64) -> Result<Vec<CountRow>> {
        let rows = sqlx::query(
            "SELECT slo_id, minute, bucket_minutes, counted, total FROM counts \
             WHERE ($1::text IS NULL OR slo_id = $1) AND minute >= $2 \
             ORDER BY slo_id, minute, bucket_minutes",
        )
        .bind(slo_id)
        .bind(minute)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        decode_all(rows, count_from_row)
    }

    async fn compact_counts(&self, before_minute: i64, bucket_minutes: i64) -> Result<u64> {
        check_bucket_minutes(bucket_minutes)?;
        if bucket_minutes == 1 {
            // One-minute rows are already rows of one minute.
            return Ok(0);
        }
        // A deadlock with a concurrent commit rolls the whole transaction back; it is tried
        // again (the other side went through).
        let mut attempt = 0;
        loop {
            match self.compact_once(before_minute, bucket_minutes).await {
                Err(err) if is_deadlock(&err) && attempt < 5 => attempt += 1,
                Err(err) => return Err(database_error(err)),
                Ok(merged) => return Ok(u64::try_from(merged).unwrap_or(0)),
            }
        }
    }

    async fn delete_counts_before(&self, before_minute: i64) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM counts WHERE minute + bucket_minutes <= $1")
            .bind(before_minute)
            .execute(&mut *tx)
            .await
            .map_err(database_error)?
            .rows_affected();
        tx.commit().await.map_err(database_error)?;
        Ok(deleted)
    }

    async fn pull_states(&self) -> Result<Vec<PullState>> {
        let rows = sqlx::query(
            "SELECT slo_id, pulled_until, backfill_from, updated_ms FROM pull_states \
             ORDER BY slo_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        decode_all(rows, pull_state_from_row)
    }

    async fn commit_pull(&self, commit: &PullCommit) -> Result<bool> {
        check_pull(commit)?;
        let counts_in_order = pull_counts_in_key_order(commit);
        let state = &commit.state;
        let mut tx = self.begin_write().await?;
        // Compare and set in one statement: the state is written only if the stored watermark
        // is still the expected one. A second writer from the same watermark waits on the row
        // lock (on the key, for a first insert) until this transaction ends, then finds the
        // watermark moved (or the row there) and writes nothing.
        let state_written = match commit.expected_until {
            None => sqlx::query(
                "INSERT INTO pull_states (slo_id, pulled_until, backfill_from, updated_ms) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (slo_id) DO NOTHING",
            )
            .bind(&state.slo_id)
            .bind(state.pulled_until)
            .bind(state.backfill_from)
            .bind(state.updated_ms),
            Some(expected_until) => sqlx::query(
                "UPDATE pull_states SET pulled_until = $2, backfill_from = $3, updated_ms = $4 \
                 WHERE slo_id = $1 AND pulled_until = $5",
            )
            .bind(&state.slo_id)
            .bind(state.pulled_until)
            .bind(state.backfill_from)
            .bind(state.updated_ms)
            .bind(expected_until),
        }
        .execute(&mut *tx)
        .await
        .map_err(database_error)?
        .rows_affected();
        if state_written == 0 {
            tx.rollback().await.map_err(database_error)?;
            return Ok(false);
        }
        for row in counts_in_order {
            add_count(
                &mut tx,
                &row.slo_id,
                row.minute,
                row.bucket_minutes,
                row.counted,
                row.total,
            )
            .await?;
        }
        tx.commit().await.map_err(database_error)?;
        Ok(true)
    }

    async fn restart_pull(&self, slo_id: &str, from_minute: i64, now_ms: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // The state row first, as in `commit_pull`: a pull commit running at the same time
        // either committed before (and its rows are deleted here) or waits for this one and
        // then compares with the new watermark. One lock order in both: no deadlock.
        sqlx::query(
            "INSERT INTO pull_states (slo_id, pulled_until, backfill_from, updated_ms) \
             VALUES ($1, $2, $2, $3) \
             ON CONFLICT (slo_id) DO UPDATE SET pulled_until = excluded.pulled_until, \
             backfill_from = excluded.backfill_from, updated_ms = excluded.updated_ms",
        )
        .bind(slo_id)
        .bind(from_minute)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(database_error)?;
        sqlx::query("DELETE FROM counts WHERE slo_id = $1 AND minute >= $2")
            .bind(slo_id)
            .bind(from_minute)
            .execute(&mut *tx)
            .await
            .map_err(database_error)?;
        tx.commit().await.map_err(database_error)
    }

    async fn alert_states(&self) -> Result<Vec<AlertStateRow>> {
        let rows = sqlx::query(
            "SELECT slo_id, kind, state, severity, since_ms FROM alert_states \
             ORDER BY slo_id, kind",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        decode_all(rows, alert_state_from_row)
    }

    async fn commit_transitions(&self, commit: &TransitionCommit) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if !commit.events.is_empty() {
            // Held to the end of the transaction: the next append gets its id after this one
            // committed, so ids become visible in order.
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(EVENT_APPEND_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(database_error)?;
        }
        for state in states_in_key_order(&commit.states) {
            sqlx::query(
                "INSERT INTO alert_states (slo_id, kind, state, severity, since_ms) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (slo_id, kind) DO UPDATE SET state = excluded.state, \
                 severity = excluded.severity, since_ms = excluded.since_ms",
            )
            .bind(&state.slo_id)
            .bind(&state.kind)
            .bind(&state.state)
            .bind(&state.severity)
            .bind(state.since_ms)
            .execute(&mut *tx)
            .await
            .map_err(database_error)?;
        }
        for event in &commit.events {
            append_event(&mut tx, event).await?;
        }
        for message in &commit.outbox {
            enqueue(&mut tx, message).await?;
        }
        tx.commit().await.map_err(database_error)
    }

    async fn events(&self, query: &EventQuery) -> Result<Vec<EventRow>> {
        check_limit(query.limit)?;
        let rows = sqlx::query(
            "SELECT id, at_ms, kind, slo_id, page_id, incident_id, actor, \
             payload::text AS payload FROM events \
             WHERE ($1::text IS NULL OR slo_id = $1) AND ($2::text IS NULL OR page_id = $2) \
             AND ($3::text IS NULL OR incident_id = $3) AND ($4::bigint IS NULL OR id > $4) \
             ORDER BY id LIMIT $5",
        )
        .bind(&query.slo_id)
        .bind(&query.page_id)
        .bind(&query.incident_id)
        .bind(query.after_id)
        .bind(query.limit)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        decode_all(rows, event_from_row)
    }

    async fn record_snapshots(&self, rows: &[SnapshotRow]) -> Result<()> {
        check_snapshots(rows)?;
        let mut tx = self.begin_write().await?;
        for row in rows {
            sqlx::query(
                "INSERT INTO snapshots (slo_id, at_ms, remaining_share, sli, bad, total, \
                 burn_rate_1h) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (slo_id, at_ms) DO UPDATE SET \
                 remaining_share = excluded.remaining_share, sli = excluded.sli, \
                 bad = excluded.bad, total = excluded.total, \
                 burn_rate_1h = excluded.burn_rate_1h",
            )
            .bind(&row.slo_id)
            .bind(row.at_ms)
            .bind(row.remaining_share)
            .bind(row.sli)
            .bind(row.bad)
            .bind(row.total)
            .bind(row.burn_rate_1h)
            .execute(&mut *tx)
            .await
            .map_err(database_error)?;
        }
        tx.commit().await.map_err(database_error)
    }

    async fn snapshots(&self, slo_id: &str, from_ms: i64, to_ms: i64) -> Result<Vec<SnapshotRow>> {
        let rows = sqlx::query(
            "SELECT slo_id, at_ms, remaining_share, sli, bad, total, burn_rate_1h \
             FROM snapshots WHERE slo_id = $1 AND at_ms >= $2 AND at_ms < $3 ORDER BY at_ms",
        )
        .bind(slo_id)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        decode_all(rows, snapshot_from_row)
    }

    async fn due_messages(&self, now_ms: i64, limit: i64) -> Result<Vec<OutboxRow>> {
        check_limit(limit)?;
        let rows = sqlx::query(
            "SELECT id, idempotency_key, channel, payload::text AS payload, created_ms, attempts, \
             next_attempt_ms, delivered_ms, last_error FROM outbox \
             WHERE delivered_ms IS NULL AND next_attempt_ms <= $1 \
             ORDER BY created_ms, id LIMIT $2",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        decode_all(rows, outbox_from_row)
    }

    async fn mark_delivered(&self, id: i64, at_ms: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // A second delivery (at least once) keeps the time of the first.
        let updated = sqlx::query(
            "UPDATE outbox SET delivered_ms = COALESCE(delivered_ms, $2) WHERE id = $1",
        )
        .bind(id)
        .bind(at_ms)
        .execute(&mut *tx)
        .await
        .map_err(database_error)?
        .rows_affected();
        crate::outbox_row_found(updated, id)?;
        tx.commit().await.map_err(database_error)
    }

    async fn mark_retry(
        &self,
        id: i64,
        attempts: i64,
        next_attempt_ms: i64,
        error: &str,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE outbox SET attempts = $2, next_attempt_ms = $3, last_error = $4 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(attempts)
        .bind(next_attempt_ms)
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(database_error)?
        .rows_affected();
        crate::outbox_row_found(updated, id)?;
        tx.commit().await.map_err(database_error)
    }

    async fn outbox_depth(&self) -> Result<u64> {
        let depth: i64 =
            sqlx::query("SELECT COUNT(*) AS depth FROM outbox WHERE delivered_ms IS NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(database_error)?
                .try_get("depth")
                .map_err(database_error)?;
        Ok(u64::try_from(depth).unwrap_or(0))
    }

    async fn commit_paging(&self, commit: &PagingCommit) -> Result<bool> {
        check_paging(commit)?;
        let (alerts, outbox, settings) = paging_in_key_order(commit);
        let mut tx = self.begin_write().await?;
        // Paging commits run one at a time (a transaction-scoped advisory lock), so two of them
        // never wait on each other's rows: no deadlock between them, whatever pages, group keys
        // and alerts they touch. A second commit from the same page version waits here, then
        // finds the version moved (or the group key taken) and writes nothing. The event lock
        // is taken next, before any row, in the order `commit_transitions` takes it before its
        // rows.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PAGING_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(database_error)?;
        if !commit.events.is_empty() {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(EVENT_APPEND_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(database_error)?;
        }
        for write in &commit.pages {
            if !write_page(&mut tx, write).await? {
                tx.rollback().await.map_err(database_error)?;
                return Ok(false);
            }
        }
        for alert in alerts {
            upsert_alert(&mut tx, alert).await?;
        }
        for event in &commit.events {
            append_event(&mut tx, event).await?;
        }
        for message in outbox {
            enqueue(&mut tx, message).await?;
        }
        for (key, value) in settings {
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(database_error)?;
        }
        tx.commit().await.map_err(database_error)?;
        Ok(true)
    }

    async fn page(&self, id: &str) -> Result<Option<PageRow>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            page_columns!(),
            " FROM pages WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(database_error)?;
        row.as_ref()
            .map(page_from_row)
            .transpose()
            .map_err(database_error)
    }

    async fn open_page(&self, group_key: &str) -> Result<Option<PageRow>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            page_columns!(),
            " FROM pages WHERE group_key = $1 AND status <> 'resolved'"
        ))
        .bind(group_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(database_error)?;
        row.as_ref()
            .map(page_from_row)
            .transpose()
            .map_err(database_error)
    }

    async fn pages(&self, query: &PageQuery) -> Result<Vec<PageRow>> {
        check_limit(query.limit)?;
        if let Some(status) = &query.status {
            check_page_status("status of a page query", status)?;
        }
        let rows = sqlx::query(concat!(
            "SELECT ",
            page_columns!(),
            " FROM pages WHERE ($1::text IS NULL OR status = $1) \
             ORDER BY created_ms DESC, id DESC LIMIT $2"
        ))
        .bind(&query.status)
        .bind(query.limit)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        decode_all(rows, page_from_row)
    }

    async fn due_pages(&self, now_ms: i64, limit: i64) -> Result<Vec<PageRow>> {
        check_limit(limit)?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            page_columns!(),
            " FROM pages \
             WHERE status = 'triggered' AND next_at_ms <= $1 \
             ORDER BY next_at_ms, id LIMIT $2"
        ))
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        decode_all(rows, page_from_row)
    }

    async fn alert(&self, fingerprint: &str) -> Result<Option<AlertRow>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts WHERE fingerprint = $1"
        ))
        .bind(fingerprint)
        .fetch_optional(&self.pool)
        .await
        .map_err(database_error)?;
        row.as_ref()
            .map(alert_from_row)
            .transpose()
            .map_err(database_error)
    }

    async fn page_alerts(&self, page_id: &str) -> Result<Vec<AlertRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts WHERE page_id = $1 \
             ORDER BY starts_ms, fingerprint"
        ))
        .bind(page_id)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        decode_all(rows, alert_from_row)
    }

    async fn firing_alerts(&self) -> Result<Vec<AlertRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts WHERE status = 'firing' \
             ORDER BY starts_ms, fingerprint"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        decode_all(rows, alert_from_row)
    }

    async fn put_silence(&self, silence: &SilenceRow) -> Result<()> {
        check_silence(silence)?;
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO silences (id, matchers, starts_ms, ends_ms, created_by, comment, \
             created_ms) VALUES ($1, $2::json, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&silence.id)
        .bind(&silence.matchers)
        .bind(silence.starts_ms)
        .bind(silence.ends_ms)
        .bind(&silence.created_by)
        .bind(&silence.comment)
        .bind(silence.created_ms)
        .execute(&mut *tx)
        .await
        .map_err(database_error)?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Invalid(format!(
                "a silence with id {:?} exists",
                silence.id
            )));
        }
        tx.commit().await.map_err(database_error)
    }

    async fn silences(&self, active_at_ms: Option<i64>) -> Result<Vec<SilenceRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            silence_columns!(),
            " FROM silences \
             WHERE $1::bigint IS NULL OR (starts_ms <= $1 AND $1 < ends_ms) \
             ORDER BY starts_ms, id"
        ))
        .bind(active_at_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        decode_all(rows, silence_from_row)
    }

    async fn expire_silence(&self, id: &str, now_ms: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        // Assignments read the old values, so both CASEs see the stored ends_ms.
        let found = sqlx::query(
            "UPDATE silences SET \
             starts_ms = CASE WHEN ends_ms > $2 AND starts_ms > $2 THEN $2 ELSE starts_ms END, \
             ends_ms = CASE WHEN ends_ms > $2 THEN $2 ELSE ends_ms END \
             WHERE id = $1",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(database_error)?
        .rows_affected();
        tx.commit().await.map_err(database_error)?;
        Ok(found == 1)
    }

    async fn beat(&self, id: &str, at_ms: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO heartbeats (id, last_ms) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET last_ms = GREATEST(heartbeats.last_ms, excluded.last_ms)",
        )
        .bind(id)
        .bind(at_ms)
        .execute(&mut *tx)
        .await
        .map_err(database_error)?;
        tx.commit().await.map_err(database_error)
    }

    async fn heartbeats(&self) -> Result<Vec<HeartbeatRow>> {
        let rows = sqlx::query("SELECT id, last_ms FROM heartbeats ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(database_error)?;
        decode_all(rows, heartbeat_from_row)
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.map(|row| row.try_get("value"))
            .transpose()
            .map_err(database_error)
    }

    async fn init_setting(&self, key: &str, value: &str) -> Result<String> {
        // A racing insert of the same key waits for the first to commit and then does nothing;
        // the read is a new statement (READ COMMITTED) and sees the value stored first.
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await
        .map_err(database_error)?;
        let stored: String = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(database_error)?
            .try_get("value")
            .map_err(database_error)?;
        tx.commit().await.map_err(database_error)?;
        Ok(stored)
    }

    async fn commit_incident(&self, commit: &IncidentCommit) -> Result<bool> {
        check_incident_commit(commit)?;
        let mut tx = self.begin_write().await?;
        // Incident commits run one at a time (their own advisory lock, taken first), so two of
        // them never wait on each other's rows and cannot deadlock: a second commit from the
        // same version waits here, then finds the version moved and writes nothing. The event
        // lock comes next, before any row, as in every other commit that appends events.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(INCIDENT_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(database_error)?;
        if !commit.events.is_empty() {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(EVENT_APPEND_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(database_error)?;
        }
        for write in &commit.incidents {
            if !write_incident(&mut tx, write).await? {
                tx.rollback().await.map_err(database_error)?;
                return Ok(false);
            }
        }
        // After the incidents: an item may follow up an incident of this very commit. An item
        // refused here drops the transaction, and with it everything written before.
        for item in &commit.action_items {
            upsert_action_item(&mut tx, item).await?;
        }
        for event in &commit.events {
            append_event(&mut tx, event).await?;
        }
        tx.commit().await.map_err(database_error)?;
        Ok(true)
    }

    async fn incident(&self, id: &str) -> Result<Option<IncidentRow>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            incident_columns!(),
            " FROM incidents WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(database_error)?;
        row.as_ref()
            .map(incident_from_row)
            .transpose()
            .map_err(database_error)
    }

    async fn incidents(&self, query: &IncidentQuery) -> Result<Vec<IncidentRow>> {
        check_limit(query.limit)?;
        if let Some(status) = &query.status {
            check_incident_status("status of an incident query", status)?;
        }
        let rows = sqlx::query(concat!(
            "SELECT ",
            incident_columns!(),
            " FROM incidents WHERE ($1::text IS NULL OR status = $1) \
             AND ($2::bigint IS NULL OR opened_ms >= $2) AND ($3::bigint IS NULL OR opened_ms < $3) \
             ORDER BY opened_ms DESC, id DESC LIMIT $4"
        ))
        .bind(&query.status)
        .bind(query.opened_from_ms)
        .bind(query.opened_to_ms)
        .bind(query.limit)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        decode_all(rows, incident_from_row)
    }

    async fn action_items(&self, incident_id: Option<&str>) -> Result<Vec<ActionItemRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            action_item_columns!(),
            " FROM action_items WHERE $1::text IS NULL OR incident_id = $1 ORDER BY due, id"
        ))
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        decode_all(rows, action_item_from_row)
    }

    async fn action_item(&self, id: &str) -> Result<Option<ActionItemRow>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            action_item_columns!(),
            " FROM action_items WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(database_error)?;
        row.as_ref()
            .map(action_item_from_row)
            .transpose()
            .map_err(database_error)
    }
}
