//! The `Store` trait: everything nines keeps durably, and the row types that cross it.
//!
//! Two backends implement it: SQLite (the embedded default, one file) and PostgreSQL. Times are
//! milliseconds since the Unix epoch, bucket positions are minutes since the epoch.

use std::sync::Arc;

use async_trait::async_trait;

pub mod postgres;
pub mod sqlite;

/// Opens the store a URL names and brings its schema up to date: `sqlite://PATH` (created if
/// missing) or `postgres://...`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PostgresStore::open(url).await?))
    } else {
        Err(StoreError::Url {
            url: url.to_string(),
            detail: "expected sqlite://PATH or postgres://...".to_string(),
        })
    }
}

/// A store failure. Callers treat all of them as "not durable": intake answers 5xx, the
/// evaluator keeps its in-memory transitions and tries again next cycle.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("invalid database url {url:?}: {detail}")]
    Url { url: String, detail: String },
    /// An argument the store refuses before touching the database (a negative limit, a NaN
    /// value, an unknown outbox id); nothing was written.
    #[error("invalid argument: {0}")]
    Invalid(String),
}

/// Refuses NaN, which SQLite cannot store (it becomes NULL) and PostgreSQL would keep: both
/// backends answer the same.
pub(crate) fn check_not_nan(what: &str, value: f64) -> Result<()> {
    if value.is_nan() {
        return Err(StoreError::Invalid(format!("{what} is NaN")));
    }
    Ok(())
}

/// Refuses a negative row limit (SQLite would read it as "no limit", PostgreSQL as an error).
pub(crate) fn check_limit(limit: i64) -> Result<()> {
    if limit < 0 {
        return Err(StoreError::Invalid(format!(
            "limit must not be negative, got {limit}"
        )));
    }
    Ok(())
}

/// Checks what `compact_counts` needs: buckets of at least one minute.
pub(crate) fn check_bucket_minutes(bucket_minutes: i64) -> Result<()> {
    if bucket_minutes < 1 {
        return Err(StoreError::Invalid(format!(
            "bucket_minutes must be at least 1, got {bucket_minutes}"
        )));
    }
    Ok(())
}

pub(crate) fn check_intake(commit: &IntakeCommit) -> Result<()> {
    for series in &commit.series {
        check_not_nan(
            &format!("last_value of series {:?}", series.series_key),
            series.last_value,
        )?;
    }
    Ok(())
}

/// Checks a pull commit before it touches the database: its rows belong to the SLO it pulls,
/// have buckets of at least one minute and no negative counts, and end by the new watermark;
/// the watermark does not move back and the backfill does not begin after it. `counted` above
/// `total` is allowed: good and total events come from different queries and may disagree.
pub(crate) fn check_pull(commit: &PullCommit) -> Result<()> {
    let state = &commit.state;
    if state.backfill_from > state.pulled_until {
        return Err(StoreError::Invalid(format!(
            "backfill_from {} of {:?} is after its pulled_until {}",
            state.backfill_from, state.slo_id, state.pulled_until
        )));
    }
    if let Some(expected_until) = commit.expected_until
        && state.pulled_until < expected_until
    {
        return Err(StoreError::Invalid(format!(
            "pulled_until of {:?} moves back from {expected_until} to {}",
            state.slo_id, state.pulled_until
        )));
    }
    for row in &commit.counts {
        let at = format!("count of {:?} at minute {}", row.slo_id, row.minute);
        if row.slo_id != state.slo_id {
            return Err(StoreError::Invalid(format!(
                "{at} is in a pull commit of {:?}",
                state.slo_id
            )));
        }
        if row.bucket_minutes < 1 {
            return Err(StoreError::Invalid(format!(
                "bucket_minutes of {at} must be at least 1, got {}",
                row.bucket_minutes
            )));
        }
        if row.counted < 0 {
            return Err(StoreError::Invalid(format!(
                "counted of {at} must not be negative, got {}",
                row.counted
            )));
        }
        if row.total < 0 {
            return Err(StoreError::Invalid(format!(
                "total of {at} must not be negative, got {}",
                row.total
            )));
        }
        // A bucket whose end does not fit in an i64 ends after any watermark.
        let ends_by_watermark = row
            .minute
            .checked_add(row.bucket_minutes)
            .is_some_and(|end| end <= state.pulled_until);
        if !ends_by_watermark {
            return Err(StoreError::Invalid(format!(
                "{at} ({} minutes) ends after pulled_until {}",
                row.bucket_minutes, state.pulled_until
            )));
        }
    }
    Ok(())
}

pub(crate) fn check_snapshots(rows: &[SnapshotRow]) -> Result<()> {
    for row in rows {
        let at = format!("snapshot of {:?} at {}", row.slo_id, row.at_ms);
        check_not_nan(&format!("remaining_share of {at}"), row.remaining_share)?;
        if let Some(sli) = row.sli {
            check_not_nan(&format!("sli of {at}"), sli)?;
        }
        if let Some(burn_rate) = row.burn_rate_1h {
            check_not_nan(&format!("burn_rate_1h of {at}"), burn_rate)?;
        }
    }
    Ok(())
}

/// The rows of an intake commit in key order. Writers that lock rows in one order cannot
/// deadlock each other on PostgreSQL. The sort is stable: of two states of one series the later
/// is written last and wins, as in the commit.
pub(crate) fn intake_in_key_order(commit: &IntakeCommit) -> (Vec<&SeriesState>, Vec<&CountDelta>) {
    let mut series: Vec<&SeriesState> = commit.series.iter().collect();
    series.sort_by(|a, b| a.series_key.cmp(&b.series_key));
    let mut counts: Vec<&CountDelta> = commit.counts.iter().collect();
    counts.sort_by(|a, b| (&a.slo_id, a.minute).cmp(&(&b.slo_id, b.minute)));
    (series, counts)
}

/// The rows of a pull commit in key order (stable, like [`intake_in_key_order`]).
pub(crate) fn pull_counts_in_key_order(commit: &PullCommit) -> Vec<&CountRow> {
    let mut counts: Vec<&CountRow> = commit.counts.iter().collect();
    counts.sort_by(|a, b| {
        (&a.slo_id, a.minute, a.bucket_minutes).cmp(&(&b.slo_id, b.minute, b.bucket_minutes))
    });
    counts
}

/// Alert states in key order (stable, like [`intake_in_key_order`]).
pub(crate) fn states_in_key_order(states: &[AlertStateRow]) -> Vec<&AlertStateRow> {
    let mut states: Vec<&AlertStateRow> = states.iter().collect();
    states.sort_by(|a, b| (&a.slo_id, &a.kind).cmp(&(&b.slo_id, &b.kind)));
    states
}

/// The statuses a page can have: `PageRow::status`.
pub const PAGE_STATUSES: [&str; 3] = ["triggered", "acknowledged", "resolved"];

/// The statuses an alert can have: `AlertRow::status`.
pub const ALERT_STATUSES: [&str; 2] = ["firing", "resolved"];

/// Checks a paging commit before it touches the database: alert and page statuses are known
/// ones, steps and rounds are not negative, and every page's version follows from its expected
/// one (1 for a new page, `expected + 1` for an update).
pub(crate) fn check_paging(commit: &PagingCommit) -> Result<()> {
    for alert in &commit.alerts {
        if !ALERT_STATUSES.contains(&alert.status.as_str()) {
            return Err(StoreError::Invalid(format!(
                "status of alert {:?} must be one of {ALERT_STATUSES:?}, got {:?}",
                alert.fingerprint, alert.status
            )));
        }
    }
    for write in &commit.pages {
        let page = &write.row;
        check_page_status(&format!("status of page {:?}", page.id), &page.status)?;
        if page.step < 0 {
            return Err(StoreError::Invalid(format!(
                "step of page {:?} must not be negative, got {}",
                page.id, page.step
            )));
        }
        if page.round < 0 {
            return Err(StoreError::Invalid(format!(
                "round of page {:?} must not be negative, got {}",
                page.id, page.round
            )));
        }
        match write.expected_version {
            None if page.version != 1 => {
                return Err(StoreError::Invalid(format!(
                    "new page {:?} must have version 1, got {}",
                    page.id, page.version
                )));
            }
            Some(expected) if expected.checked_add(1) != Some(page.version) => {
                return Err(StoreError::Invalid(format!(
                    "page {:?} updated from version {expected} must have version {}, got {}",
                    page.id,
                    expected.saturating_add(1),
                    page.version
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Refuses a page status other than [`PAGE_STATUSES`].
pub(crate) fn check_page_status(what: &str, status: &str) -> Result<()> {
    if !PAGE_STATUSES.contains(&status) {
        return Err(StoreError::Invalid(format!(
            "{what} must be one of {PAGE_STATUSES:?}, got {status:?}"
        )));
    }
    Ok(())
}

/// The statuses an incident can have: `IncidentRow::status`.
pub const INCIDENT_STATUSES: [&str; 4] = ["investigating", "identified", "monitoring", "resolved"];

/// The priorities of an action item: `ActionItemRow::priority`.
pub const ACTION_ITEM_PRIORITIES: [&str; 3] = ["P1", "P2", "P3"];

/// The statuses of an action item: `ActionItemRow::status`.
pub const ACTION_ITEM_STATUSES: [&str; 3] = ["open", "done", "wont_do"];

/// Checks an incident commit before it touches the database: statuses and priorities are known
/// ones, every incident's version follows from its expected one (1 for a new incident,
/// `expected + 1` for an update), and every action item has an owner and a due date
/// `YYYY-MM-DD`. That each action item's incident exists is checked in the transaction.
pub(crate) fn check_incident_commit(commit: &IncidentCommit) -> Result<()> {
    for write in &commit.incidents {
        let incident = &write.row;
        check_incident_status(
            &format!("status of incident {:?}", incident.id),
            &incident.status,
        )?;
        if incident.reopened < 0 {
            return Err(StoreError::Invalid(format!(
                "reopened of incident {:?} must not be negative, got {}",
                incident.id, incident.reopened
            )));
        }
        match write.expected_version {
            None if incident.version != 1 => {
                return Err(StoreError::Invalid(format!(
                    "new incident {:?} must have version 1, got {}",
                    incident.id, incident.version
                )));
            }
            Some(expected) if expected.checked_add(1) != Some(incident.version) => {
                return Err(StoreError::Invalid(format!(
                    "incident {:?} updated from version {expected} must have version {}, got {}",
                    incident.id,
                    expected.saturating_add(1),
                    incident.version
                )));
            }
            _ => {}
        }
    }
    for item in &commit.action_items {
        if !ACTION_ITEM_PRIORITIES.contains(&item.priority.as_str()) {
            return Err(StoreError::Invalid(format!(
                "priority of action item {:?} must be one of {ACTION_ITEM_PRIORITIES:?}, got {:?}",
                item.id, item.priority
            )));
        }
        check_action_item_status(
            &format!("status of action item {:?}", item.id),
            &item.status,
        )?;
        if item.owner.trim().is_empty() {
            return Err(StoreError::Invalid(format!(
                "action item without an owner: {:?}",
                item.id
            )));
        }
        if !is_civil_date(&item.due) {
            return Err(StoreError::Invalid(format!(
                "due of action item {:?} must be a date YYYY-MM-DD, got {:?}",
                item.id, item.due
            )));
        }
    }
    Ok(())
}

/// Refuses an incident status other than [`INCIDENT_STATUSES`].
pub(crate) fn check_incident_status(what: &str, status: &str) -> Result<()> {
    if !INCIDENT_STATUSES.contains(&status) {
        return Err(StoreError::Invalid(format!(
            "{what} must be one of {INCIDENT_STATUSES:?}, got {status:?}"
        )));
    }
    Ok(())
}

/// Refuses an action item status other than [`ACTION_ITEM_STATUSES`].
pub(crate) fn check_action_item_status(what: &str, status: &str) -> Result<()> {
    if !ACTION_ITEM_STATUSES.contains(&status) {
        return Err(StoreError::Invalid(format!(
            "{what} must be one of {ACTION_ITEM_STATUSES:?}, got {status:?}"
        )));
    }
    Ok(())
}

/// Whether `text` is a date of the proleptic Gregorian calendar written `YYYY-MM-DD` (so that
/// due dates sort as text).
pub(crate) fn is_civil_date(text: &str) -> bool {
    // Only ASCII digits: `parse` alone would take a sign.
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        if !part.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

/// Refuses a silence that ends before it starts (Alertmanager refuses it too).
pub(crate) fn check_silence(silence: &SilenceRow) -> Result<()> {
    if silence.ends_ms < silence.starts_ms {
        return Err(StoreError::Invalid(format!(
            "silence {:?} ends at {} before it starts at {}",
            silence.id, silence.ends_ms, silence.starts_ms
        )));
    }
    Ok(())
}

/// The rows of a paging commit that can go in key order (stable, like [`intake_in_key_order`]):
/// alerts by fingerprint, notifications by idempotency key, settings by key. Pages keep the
/// commit's order (a page resolved before a new one takes its group key must be written first),
/// and events too (their ids say the order they were appended in).
pub(crate) fn paging_in_key_order(
    commit: &PagingCommit,
) -> (Vec<&AlertRow>, Vec<&OutboxRow>, Vec<&(String, String)>) {
    let mut alerts: Vec<&AlertRow> = commit.alerts.iter().collect();
    alerts.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    let mut outbox: Vec<&OutboxRow> = commit.outbox.iter().collect();
    outbox.sort_by(|a, b| a.idempotency_key.cmp(&b.idempotency_key));
    let mut settings: Vec<&(String, String)> = commit.settings.iter().collect();
    settings.sort_by(|a, b| a.0.cmp(&b.0));
    (alerts, outbox, settings)
}

/// Whether a statement failed on a unique index (a page id or an open page's group key taken).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub(crate) fn database_error(err: sqlx::Error) -> StoreError {
    StoreError::Database(err.to_string())
}

pub(crate) fn migration_error(err: sqlx::migrate::MigrateError) -> StoreError {
    StoreError::Migration(err.to_string())
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// An outbox update that touched no row names the id it did not find.
pub(crate) fn outbox_row_found(updated: u64, id: i64) -> Result<()> {
    if updated == 0 {
        return Err(StoreError::Invalid(format!(
            "no outbox message has id {id}"
        )));
    }
    Ok(())
}

/// A known SLO: its stable id and what it is called now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SloRow {
    pub id: String,
    pub name: String,
    pub service: String,
    /// When nines first saw this id (ms); kept on later upserts.
    pub first_seen_ms: i64,
}

/// Counts of one SLO in one bucket: `bucket_minutes` (1, 10 or 60) starting at `minute`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    pub slo_id: String,
    pub minute: i64,
    pub bucket_minutes: i64,
    pub counted: i64,
    pub total: i64,
}

/// Counts to add (to a one-minute bucket, created if missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountDelta {
    pub slo_id: String,
    pub minute: i64,
    pub counted: i64,
    pub total: i64,
}

/// The last sample seen of one pushed counter series, so that resends and out-of-order samples
/// are not counted twice and counter resets are recognised after a restart.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesState {
    /// A stable key of the series' labels.
    pub series_key: String,
    pub last_value: f64,
    pub last_timestamp_ms: i64,
}

/// One atomic intake commit: series states and the counts they produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntakeCommit {
    pub series: Vec<SeriesState>,
    pub counts: Vec<CountDelta>,
}

/// How far an SLO's pulled data reaches: every bucket before `pulled_until` has been pulled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullState {
    pub slo_id: String,
    /// Minute (since the epoch) before which every bucket is filled.
    pub pulled_until: i64,
    /// Minute where the SLO's current backfill began; progress is measured from here.
    pub backfill_from: i64,
    /// When the state was last written (ms).
    pub updated_ms: i64,
}

/// Pulled counts and the watermark they move, written in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullCommit {
    /// The watermark this commit continues from: `None` when the SLO has no pull state yet.
    pub expected_until: Option<i64>,
    /// The new state (its `slo_id` names the SLO).
    pub state: PullState,
    /// Rows to add: a bucket of `bucket_minutes` starting at `minute`, added to an existing row
    /// with the same (slo_id, minute, bucket_minutes) key.
    pub counts: Vec<CountRow>,
}

/// The persisted state of one alert of one SLO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertStateRow {
    pub slo_id: String,
    /// `burn_rate` or `no_data`.
    pub kind: String,
    /// `inactive`, `firing` or `resolved`.
    pub state: String,
    /// `page` or `ticket`.
    pub severity: String,
    /// When it entered this state (ms).
    pub since_ms: i64,
}

/// One entry of the append-only event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// Assigned by the store, increasing.
    pub id: i64,
    pub at_ms: i64,
    /// For example `alert.fired`, `alert.resolved`, `alert.superseded`.
    pub kind: String,
    pub slo_id: Option<String>,
    /// The on-call page it concerns (triggered, acknowledged, escalated, notified...).
    pub page_id: Option<String>,
    /// The incident it concerns (opened, status changed, role assigned, postmortem...).
    pub incident_id: Option<String>,
    /// Who or what caused it (`evaluator`, a user).
    pub actor: String,
    /// JSON.
    pub payload: String,
}

/// A notification waiting to be delivered at least once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// Assigned by the store.
    pub id: i64,
    /// Unique: the receiver drops duplicates by it.
    pub idempotency_key: String,
    /// The name of the configured channel.
    pub channel: String,
    /// JSON body.
    pub payload: String,
    pub created_ms: i64,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub delivered_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// Alert states, events and notifications from one evaluation, written in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransitionCommit {
    pub states: Vec<AlertStateRow>,
    /// `id` is ignored; the store assigns it.
    pub events: Vec<EventRow>,
    /// `id` is ignored; a row whose idempotency key exists already is skipped.
    pub outbox: Vec<OutboxRow>,
}

/// A point of an SLO's budget history.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRow {
    pub slo_id: String,
    pub at_ms: i64,
    pub remaining_share: f64,
    pub sli: Option<f64>,
    pub bad: i64,
    pub total: i64,
    pub burn_rate_1h: Option<f64>,
}

/// Which events to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    pub slo_id: Option<String>,
    /// Only events of this page.
    pub page_id: Option<String>,
    /// Only events of this incident.
    pub incident_id: Option<String>,
    /// Only events with a larger id.
    pub after_id: Option<i64>,
    pub limit: i64,
}

/// An alert nines knows of, from any source, by fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    /// Primary key: the source's fingerprint, or one computed from the labels.
    pub fingerprint: String,
    /// Where it came from: `slo`, `alertmanager`, `pagerduty`, `webhook`, `heartbeat`.
    pub source: String,
    /// `firing` or `resolved` ([`ALERT_STATUSES`]).
    pub status: String,
    pub summary: String,
    /// Free text, for example `page` or `critical`.
    pub severity: String,
    /// JSON object (kept as text; the store does not parse it).
    pub labels: String,
    /// JSON object (kept as text).
    pub annotations: String,
    pub starts_ms: i64,
    pub ends_ms: Option<i64>,
    pub updated_ms: i64,
    /// The page it joined, if any.
    pub page_id: Option<String>,
    /// The silence or maintenance window that muted it, if any.
    pub muted_by: Option<String>,
}

/// A page: the unit that escalates and is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRow {
    /// Primary key (a UUID v7 as text, made by the caller).
    pub id: String,
    /// At most one page per group key is not resolved (a partial unique index).
    pub group_key: String,
    /// `triggered`, `acknowledged` or `resolved` ([`PAGE_STATUSES`]).
    pub status: String,
    /// The escalation policy it follows now.
    pub policy: String,
    pub step: i64,
    pub round: i64,
    /// When the escalation timer fires next; kept across restarts.
    pub next_at_ms: Option<i64>,
    pub summary: String,
    pub severity: String,
    pub service: Option<String>,
    /// JSON object (kept as text).
    pub labels: String,
    pub runbook: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub acknowledged_by: Option<String>,
    pub acknowledged_ms: Option<i64>,
    pub resolved_by: Option<String>,
    pub resolved_ms: Option<i64>,
    /// 1 when created, one more per write (optimistic concurrency).
    pub version: i64,
}

/// A page to write: a new one, or an update of the version the writer read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageWrite {
    pub row: PageRow,
    /// `None`: insert a new page (`row.version` must be 1). `Some(v)`: update it only if the
    /// stored version is `v` (`row.version` must be `v + 1`).
    pub expected_version: Option<i64>,
}

/// One paging step (alerts, pages, their events and notifications, settings), all or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PagingCommit {
    /// Upserted by fingerprint (of two rows with one fingerprint, the later wins).
    pub alerts: Vec<AlertRow>,
    /// Written in this order.
    pub pages: Vec<PageWrite>,
    /// Appended in this order; `id` is ignored, the store assigns it.
    pub events: Vec<EventRow>,
    /// `id` is ignored; a row whose idempotency key exists already is skipped.
    pub outbox: Vec<OutboxRow>,
    /// (key, value) pairs, upserted.
    pub settings: Vec<(String, String)>,
}

/// A silence: alerts its matchers match are muted while `starts_ms <= t < ends_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceRow {
    pub id: String,
    /// JSON array of matcher texts, for example `["service=\"api\"", "env!=\"dev\""]`.
    pub matchers: String,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub created_by: String,
    pub comment: String,
    pub created_ms: i64,
}

/// The last beat of a heartbeat monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatRow {
    pub id: String,
    pub last_ms: i64,
}

/// Which pages to read: newest first (by `created_ms`, then id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageQuery {
    /// Only pages with this status (one of [`PAGE_STATUSES`]).
    pub status: Option<String>,
    pub limit: i64,
}

/// An incident (ids made by the caller, for example `inc-7f3k2q`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRow {
    pub id: String,
    pub title: String,
    /// Free text, for example `SEV1`.
    pub severity: String,
    /// `investigating`, `identified`, `monitoring` or `resolved` ([`INCIDENT_STATUSES`]).
    pub status: String,
    pub opened_ms: i64,
    pub opened_by: String,
    pub resolved_ms: Option<i64>,
    /// JSON object role -> person (kept as text; the store does not parse it).
    pub roles: String,
    /// JSON array of service names (kept as text).
    pub services: String,
    /// JSON array of SLO ids (kept as text).
    pub slos: String,
    /// JSON array of page ids (kept as text).
    pub pages: String,
    /// The postmortem in Markdown: a draft, or the published text.
    pub postmortem: Option<String>,
    pub postmortem_published_ms: Option<i64>,
    /// How many times it was reopened after being resolved.
    pub reopened: i64,
    pub updated_ms: i64,
    /// 1 when created, one more per write (optimistic concurrency).
    pub version: i64,
}

/// An incident to write: a new one, or an update of the version the writer read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentWrite {
    pub row: IncidentRow,
    /// `None`: insert a new incident (`row.version` must be 1). `Some(v)`: update it only if the
    /// stored version is `v` (`row.version` must be `v + 1`).
    pub expected_version: Option<i64>,
}

/// A follow-up of an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionItemRow {
    pub id: String,
    /// The incident it follows up (it must exist, or be written in the same commit).
    pub incident_id: String,
    pub title: String,
    /// Who does it (not empty).
    pub owner: String,
    /// A civil date, `YYYY-MM-DD`.
    pub due: String,
    /// `P1`, `P2` or `P3` ([`ACTION_ITEM_PRIORITIES`]).
    pub priority: String,
    /// `open`, `done` or `wont_do` ([`ACTION_ITEM_STATUSES`]).
    pub status: String,
    pub created_ms: i64,
    pub closed_ms: Option<i64>,
    pub updated_ms: i64,
}

/// Incidents, action items and their events, written all or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentCommit {
    /// Written in this order.
    pub incidents: Vec<IncidentWrite>,
    /// Upserted by id, in this order (of two rows with one id, the later wins).
    pub action_items: Vec<ActionItemRow>,
    /// Appended in this order; `id` is ignored, the store assigns it.
    pub events: Vec<EventRow>,
}

/// Which incidents to read: newest first (by `opened_ms`, then id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentQuery {
    /// Only incidents with this status (one of [`INCIDENT_STATUSES`]).
    pub status: Option<String>,
    /// Only incidents opened at or after this time (ms).
    pub opened_from_ms: Option<i64>,
    /// Only incidents opened before this time (ms).
    pub opened_to_ms: Option<i64>,
    pub limit: i64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Registers SLOs by id, keeping `first_seen_ms` of known ones.
    async fn upsert_slos(&self, slos: &[SloRow]) -> Result<()>;
    async fn slos(&self) -> Result<Vec<SloRow>>;

    /// Writes series states and adds counts, all or nothing.
    async fn commit_intake(&self, commit: &IntakeCommit) -> Result<()>;
    async fn series_states(&self) -> Result<Vec<SeriesState>>;
    /// Count rows (of one SLO, or of all) whose bucket starts at or after `minute`, ordered by
    /// SLO id and then oldest first.
    async fn counts_since(&self, slo_id: Option<&str>, minute: i64) -> Result<Vec<CountRow>>;
    /// Merges one-minute rows that start before `before_minute` into rows of `bucket_minutes`
    /// (aligned to multiples of it), keeping every sum; returns how many rows were merged away
    /// (the one-minute rows removed). `bucket_minutes` below 1 is `StoreError::Invalid`.
    async fn compact_counts(&self, before_minute: i64, bucket_minutes: i64) -> Result<u64>;
    /// Deletes rows whose bucket ends at or before `before_minute`.
    async fn delete_counts_before(&self, before_minute: i64) -> Result<u64>;

    /// Pull states of every SLO that has one, ordered by SLO id.
    async fn pull_states(&self) -> Result<Vec<PullState>>;
    /// Adds the counts and writes the new pull state in one transaction, only when the stored
    /// watermark is still `expected_until` (no state at all for `None`). Returns `Ok(false)` and
    /// writes nothing when it is not (someone else moved it). A commit that fails the checks
    /// of its arguments (rows of another SLO, buckets below one minute, negative counts, a row
    /// ending after the new watermark, a watermark moving back, a backfill beginning after it)
    /// is `StoreError::Invalid` and writes nothing.
    async fn commit_pull(&self, commit: &PullCommit) -> Result<bool>;
    /// Starts an SLO's pull again at `from_minute`: deletes its count rows whose bucket starts at
    /// or after `from_minute`, and sets its state to `pulled_until = backfill_from = from_minute`,
    /// in one transaction.
    async fn restart_pull(&self, slo_id: &str, from_minute: i64, now_ms: i64) -> Result<()>;

    async fn alert_states(&self) -> Result<Vec<AlertStateRow>>;
    /// Upserts alert states, appends events and enqueues notifications in one transaction (a
    /// notification whose idempotency key exists already is skipped).
    async fn commit_transitions(&self, commit: &TransitionCommit) -> Result<()>;
    /// Events in id order (of one SLO, of one page, of one incident, after an id: the filters given), at most
    /// `query.limit` (none for 0; a negative limit is `StoreError::Invalid`).
    async fn events(&self, query: &EventQuery) -> Result<Vec<EventRow>>;

    async fn record_snapshots(&self, rows: &[SnapshotRow]) -> Result<()>;
    /// Snapshots of one SLO with `from_ms <= at_ms < to_ms`, oldest first.
    async fn snapshots(&self, slo_id: &str, from_ms: i64, to_ms: i64) -> Result<Vec<SnapshotRow>>;

    /// Undelivered notifications due at `now_ms` (`next_attempt_ms <= now_ms`), oldest first
    /// (by `created_ms`, then id), at most `limit`.
    async fn due_messages(&self, now_ms: i64, limit: i64) -> Result<Vec<OutboxRow>>;
    /// Marks a notification delivered; delivering again keeps the first time. An unknown id is
    /// `StoreError::Invalid`.
    async fn mark_delivered(&self, id: i64, at_ms: i64) -> Result<()>;
    /// Records a failed attempt and when to try again. An unknown id is `StoreError::Invalid`.
    async fn mark_retry(
        &self,
        id: i64,
        attempts: i64,
        next_attempt_ms: i64,
        error: &str,
    ) -> Result<()>;
    /// Undelivered notifications.
    async fn outbox_depth(&self) -> Result<u64>;

    /// Writes one paging step in one transaction: upserts the alerts, inserts or updates the
    /// pages, appends the events, enqueues the notifications (a known idempotency key is
    /// skipped) and upserts the settings. Returns `Ok(false)` and writes nothing when a page
    /// cannot be written as asked: an updated page's stored version is not its
    /// `expected_version` (or it is unknown), a new page's id exists, or a page that is not
    /// resolved would share its group key with another page that is not resolved (someone else
    /// paged first: read again and decide again). Arguments that fail the checks (a status
    /// outside [`PAGE_STATUSES`] or [`ALERT_STATUSES`], a negative step or round, a version that
    /// is not 1 for a new page or `expected + 1` for an update) are `StoreError::Invalid` and
    /// write nothing; a row the database refuses (labels that are not JSON) is
    /// `StoreError::Database` and writes nothing.
    async fn commit_paging(&self, commit: &PagingCommit) -> Result<bool>;
    /// The page with this id.
    async fn page(&self, id: &str) -> Result<Option<PageRow>>;
    /// The page of this group key that is not resolved (there is at most one).
    async fn open_page(&self, group_key: &str) -> Result<Option<PageRow>>;
    /// Pages newest first (by `created_ms`, then id, both descending), of one status or all, at
    /// most `query.limit`. A status outside [`PAGE_STATUSES`] or a negative limit is
    /// `StoreError::Invalid`.
    async fn pages(&self, query: &PageQuery) -> Result<Vec<PageRow>>;
    /// Triggered pages whose escalation timer is due (`next_at_ms <= now_ms`), the oldest timer
    /// first (then by id), at most `limit` (a negative limit is `StoreError::Invalid`).
    async fn due_pages(&self, now_ms: i64, limit: i64) -> Result<Vec<PageRow>>;

    /// The alert with this fingerprint.
    async fn alert(&self, fingerprint: &str) -> Result<Option<AlertRow>>;
    /// The alerts that joined a page, by `starts_ms` (then fingerprint).
    async fn page_alerts(&self, page_id: &str) -> Result<Vec<AlertRow>>;
    /// Every firing alert (muted ones too), by `starts_ms` (then fingerprint).
    async fn firing_alerts(&self) -> Result<Vec<AlertRow>>;

    /// Adds a silence. An id in use, or an end before the start, is `StoreError::Invalid`;
    /// matchers that are not JSON are `StoreError::Database`.
    async fn put_silence(&self, silence: &SilenceRow) -> Result<()>;
    /// Every silence (`None`), or those active at `t` (`starts_ms <= t < ends_ms`), by
    /// `starts_ms` (then id).
    async fn silences(&self, active_at_ms: Option<i64>) -> Result<Vec<SilenceRow>>;
    /// Ends a silence at `now_ms` if it ends later (one that has not started yet then starts
    /// and ends at `now_ms`, as Alertmanager expires a pending silence); one that ended already
    /// is left as it is. Returns whether the silence exists.
    async fn expire_silence(&self, id: &str, now_ms: i64) -> Result<bool>;

    /// Records a beat of a heartbeat monitor, keeping the latest time (a late, out of order
    /// beat does not move it back).
    async fn beat(&self, id: &str, at_ms: i64) -> Result<()>;
    /// Every heartbeat monitor that beat at least once, by id.
    async fn heartbeats(&self) -> Result<Vec<HeartbeatRow>>;

    /// The value stored under a key.
    async fn setting(&self, key: &str) -> Result<Option<String>>;
    /// Stores `value` under `key` unless the key has a value, and returns the stored value:
    /// of callers racing with different values, all get the one that was stored first.
    async fn init_setting(&self, key: &str, value: &str) -> Result<String>;

    /// Writes incidents, action items and their events in one transaction: inserts or updates
    /// the incidents (compare and set on `version`, like pages), upserts the action items by id
    /// and appends the events. Returns `Ok(false)` and writes nothing when an incident cannot be
    /// written as asked: an updated incident's stored version is not its `expected_version` (or
    /// it is unknown), or a new incident's id exists (read again and decide again). Arguments
    /// that fail the checks (a status outside [`INCIDENT_STATUSES`] or
    /// [`ACTION_ITEM_STATUSES`], a priority outside [`ACTION_ITEM_PRIORITIES`], a version that is
    /// not 1 for a new incident or `expected + 1` for an update, an action item without an
    /// owner, a due date that is not `YYYY-MM-DD`, an action item of an incident that does not
    /// exist) are `StoreError::Invalid` and write nothing; a row the database refuses (roles
    /// that are not JSON) is `StoreError::Database` and writes nothing.
    async fn commit_incident(&self, commit: &IncidentCommit) -> Result<bool>;
    /// The incident with this id.
    async fn incident(&self, id: &str) -> Result<Option<IncidentRow>>;
    /// Incidents newest first (by `opened_ms`, then id, both descending), of one status or all,
    /// opened in `[opened_from_ms, opened_to_ms)` where given, at most `query.limit`. A status
    /// outside [`INCIDENT_STATUSES`] or a negative limit is `StoreError::Invalid`.
    async fn incidents(&self, query: &IncidentQuery) -> Result<Vec<IncidentRow>>;
    /// The action items of one incident, or of all, by due date (then id).
    async fn action_items(&self, incident_id: Option<&str>) -> Result<Vec<ActionItemRow>>;
    /// The action item with this id.
    async fn action_item(&self, id: &str) -> Result<Option<ActionItemRow>>;
}

#[cfg(test)]
mod tests {
    use super::is_civil_date;

    #[test]
    fn civil_dates_are_checked_to_the_day() {
        for good in [
            "2026-01-31",
            "2024-02-29",
            "2000-02-29",
            "0001-12-01",
            "2026-04-30",
        ] {
            assert!(is_civil_date(good), "{good}");
        }
        for bad in [
            "",
            "2026-1-31",
            "2026-01-32",
            "2026-00-10",
            "2026-13-01",
            "2023-02-29",
            "1900-02-29",
            "2026-04-31",
            "2026/01/31",
            "+026-01-31",
            "2026-+1-31",
            "2026-01-3a",
            "2026-01-311",
            " 2026-01-31",
            "2026-01-00",
        ] {
            assert!(!is_civil_date(bad), "{bad:?}");
        }
    }
}
