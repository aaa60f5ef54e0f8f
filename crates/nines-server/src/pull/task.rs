//! The pull loop: every SLO with a source is brought up to the newest complete minute, chunk by
//! chunk, oldest first. A new SLO starts with a backfill of its whole retention; a restarted
//! backfill (`POST /api/v1/slos/{id}/backfill`) deletes the counts from its start and pulls
//! them again. Each chunk's counts and the watermark it moves are one store transaction
//! (compare-and-set on the old watermark), and are added to the evaluator only after it.
//!
//! A failing source (down, slow, refusing a query) leaves the watermark where it is: the minutes
//! stay missing (no events, never good), the SLO's status names the SLO, query and error, the
//! SLO is tried again with exponential backoff, and the no-data rule of its alert policy fires
//! once its window is empty. When the source is back, the missing minutes are caught up.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use nines_spec::Catalog;
use nines_spec::catalog::SourceKind;
use nines_store::{CountRow, PullCommit, PullState};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use super::{Carry, MinuteCounts, PrometheusClient, PullPlan, amounts, combine, plan};
use crate::server::AppState;

/// How often the loop looks for SLOs with a newly complete minute (by default).
pub const TICK: Duration = Duration::from_secs(2);
/// Backoff after the first failure; doubled per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF_MS: i64 = 2_000;
const MAX_BACKOFF_MS: i64 = 5 * 60 * 1000;
/// Data problems kept per SLO for its status.
const PROBLEMS_KEPT: usize = 20;
/// Counts older than this many minutes are written as ten-minute rows, as compaction would.
const FINE_ROW_MINUTES: i64 = 7 * 60;

/// One source and what it takes to query it.
pub struct SourceRuntime {
    pub id: String,
    pub client: PrometheusClient,
    pub delay_seconds: i64,
    pub chunk_minutes: i64,
    pub permits: Arc<Semaphore>,
}

/// One pulled SLO.
pub struct PulledSlo {
    pub id: String,
    /// Its plan, or why it cannot be pulled.
    pub plan: Result<PullPlan, String>,
    pub source: usize,
    pub retention_minutes: i64,
}

/// A backfill in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backfill {
    pub from: i64,
    /// The newest complete minute when it began: done once the watermark reaches it.
    pub target: i64,
}

/// A data problem of one query, for the SLO's status.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryProblem {
    pub at: i64,
    pub query: String,
    pub message: String,
}

/// What the API tells of a pulled SLO.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PullStatus {
    /// Every minute before this one is pulled; `None` before the first backfill starts.
    pub pulled_until: Option<i64>,
    pub backfill_from: Option<i64>,
    pub backfill: Option<Backfill>,
    pub last_success_ms: Option<i64>,
    pub last_error: Option<String>,
    pub failures: u32,
    pub next_attempt_ms: i64,
    pub problems: VecDeque<QueryProblem>,
    /// Minutes left without data because an answer was unusable.
    pub missing_minutes: u64,
    pub in_flight: bool,
    carry: Carry,
}

/// Every pulled SLO of a catalog, with its status.
pub struct Pulls {
    pub sources: Vec<SourceRuntime>,
    pub slos: Vec<PulledSlo>,
    by_id: HashMap<String, usize>,
    statuses: Mutex<Vec<PullStatus>>,
    /// One lock per SLO: a pull and a restart of its backfill never interleave.
    locks: Vec<tokio::sync::Mutex<()>>,
    wake: Notify,
}

/// The newest complete minute (exclusive) of a source at `now`.
pub fn target_minute(now: Timestamp, delay_seconds: i64) -> i64 {
    (now.as_second() - delay_seconds).div_euclid(60)
}

/// Where a backfill of the whole retention starts: the oldest hour edge the buckets keep.
pub fn retention_start(now: Timestamp, retention_minutes: i64) -> i64 {
    let oldest = now.as_second().div_euclid(60) + 1 - retention_minutes;
    oldest + (60 - oldest.rem_euclid(60)) % 60
}

fn minute_time(minute: i64) -> Timestamp {
    Timestamp::from_second(minute * 60).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl Pulls {
    /// The pulled SLOs of `catalog`, with a client per source (secrets read from
    /// `environment`; a missing one is an error naming it).
    pub fn build(
        catalog: &Catalog,
        environment: &HashMap<String, String>,
    ) -> Result<Pulls, String> {
        let mut sources = Vec::new();
        let mut source_index = HashMap::new();
        for source in &catalog.sources {
            let SourceKind::Prometheus(prometheus) = &source.kind;
            let client = PrometheusClient::new(prometheus, environment)
                .map_err(|err| format!("source {:?}: {err}", source.id))?;
            source_index.insert(source.id.clone(), sources.len());
            sources.push(SourceRuntime {
                id: source.id.clone(),
                client,
                delay_seconds: prometheus.delay.as_secs().max(0),
                chunk_minutes: prometheus.chunk.whole_minutes().clamp(60, 7 * 1440),
                permits: Arc::new(Semaphore::new(prometheus.concurrency.max(1) as usize)),
            });
        }
        let mut slos = Vec::new();
        let mut by_id = HashMap::new();
        for def in &catalog.slos {
            let Some(source_id) = &def.source else {
                continue;
            };
            let Some(source) = source_index.get(source_id) else {
                return Err(format!(
                    "SLO {}: source {source_id:?} is not defined",
                    def.id
                ));
            };
            let plan = match plan(def) {
                Ok(Some(plan)) => Ok(plan),
                Ok(None) => continue,
                Err(err) => Err(err),
            };
            by_id.insert(def.id.as_str().to_string(), slos.len());
            slos.push(PulledSlo {
                id: def.id.as_str().to_string(),
                plan,
                source: *source,
                retention_minutes: def.spec.retention_minutes(),
            });
        }
        let statuses = slos
            .iter()
            .map(|slo| PullStatus {
                last_error: slo
                    .plan
                    .as_ref()
                    .err()
                    .map(|err| format!("SLO {} cannot be pulled: {err}", slo.id)),
                ..PullStatus::default()
            })
            .collect();
        let locks = slos.iter().map(|_| tokio::sync::Mutex::new(())).collect();
        Ok(Pulls {
            sources,
            slos,
            by_id,
            statuses: Mutex::new(statuses),
            locks,
            wake: Notify::new(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.slos.is_empty()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    fn statuses(&self) -> MutexGuard<'_, Vec<PullStatus>> {
        self.statuses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The status of a pulled SLO, and its source's id.
    pub fn status(&self, id: &str) -> Option<(PullStatus, &str)> {
        let index = *self.by_id.get(id)?;
        let status = self.statuses()[index].clone();
        Some((status, &self.sources[self.slos[index].source].id))
    }

    /// Why a pulled SLO cannot be pulled at all, if it cannot.
    pub fn plan_error(&self, id: &str) -> Option<&str> {
        let index = *self.by_id.get(id)?;
        self.slos[index].plan.as_ref().err().map(String::as_str)
    }

    /// The source of a pulled SLO.
    pub fn source_of(&self, id: &str) -> Option<&SourceRuntime> {
        let index = *self.by_id.get(id)?;
        Some(&self.sources[self.slos[index].source])
    }

    /// Pull states read back from the store at start. An SLO far behind (more than a chunk, or
    /// with a backfill it had not finished) resumes as a backfill. Every pullable SLO holds its
    /// alerts until its first pass: the minutes since the server stopped are not pulled yet,
    /// and would read as no data (a failing pass lets go). SLOs that cannot be pulled never
    /// hold: their no-data rule is what tells.
    pub fn restore(
        &self,
        states: &[PullState],
        now: Timestamp,
        fleet: &mut crate::evaluator::Fleet,
    ) {
        let mut statuses = self.statuses();
        for state in states {
            let Some(&index) = self.by_id.get(&state.slo_id) else {
                continue;
            };
            let source = &self.sources[self.slos[index].source];
            let target = target_minute(now, source.delay_seconds);
            let status = &mut statuses[index];
            status.pulled_until = Some(state.pulled_until);
            status.backfill_from = Some(state.backfill_from);
            if target - state.pulled_until > source.chunk_minutes {
                status.backfill = Some(Backfill {
                    from: state.backfill_from,
                    target,
                });
            }
            fleet.set_data_until(&state.slo_id, Some(minute_time(state.pulled_until)));
        }
        for slo in &self.slos {
            if slo.plan.is_ok() {
                fleet.hold_alerts(&slo.id, true);
            }
        }
    }
}

fn backoff_ms(failures: u32) -> i64 {
    let doubled = FIRST_BACKOFF_MS.saturating_mul(1_i64 << failures.saturating_sub(1).min(20));
    let capped = doubled.min(MAX_BACKOFF_MS);
    // Up to a fifth less, so that SLOs failing together do not retry in step.
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    capped - capped * i64::from(byte[0]) / (255 * 5)
}

/// Count rows of pulled minutes: one-minute rows for the last hours, ten-minute rows before, as
/// compaction would leave them.
fn count_rows(slo_id: &str, minutes: &[MinuteCounts], now_minute: i64) -> Vec<CountRow> {
    let mut rows: Vec<CountRow> = Vec::new();
    for minute in minutes {
        let (start, bucket) = if minute.minute < now_minute - FINE_ROW_MINUTES {
            (minute.minute.div_euclid(10) * 10, 10)
        } else {
            (minute.minute, 1)
        };
        match rows.last_mut() {
            Some(row) if row.minute == start && row.bucket_minutes == bucket => {
                row.counted += minute.counted as i64;
                row.total += minute.total as i64;
            }
            _ => rows.push(CountRow {
                slo_id: slo_id.to_string(),
                minute: start,
                bucket_minutes: bucket,
                counted: minute.counted as i64,
                total: minute.total as i64,
            }),
        }
    }
    rows
}

/// Why one pass of one SLO stopped.
enum PassError {
    /// Told in the status, retried with backoff.
    Failed(String),
    /// The watermark moved under us (a restarted backfill); start over from the store's.
    Moved,
}

/// Starts (or restarts) an SLO's backfill at `from` (a minute at an hour edge): its counts from
/// there are deleted and pulled again. The SLO's alerts are held until it is caught up.
pub async fn restart(
    state: &AppState,
    pulls: &Pulls,
    id: &str,
    from: i64,
    now: Timestamp,
) -> Result<(), String> {
    let index = *pulls
        .by_id
        .get(id)
        .ok_or_else(|| format!("SLO {id:?} is not pulled from a source"))?;
    let slo = &pulls.slos[index];
    if let Err(err) = &slo.plan {
        return Err(format!("SLO {id} cannot be pulled: {err}"));
    }
    let source = &pulls.sources[slo.source];
    let _guard = pulls.locks[index].lock().await;
    state
        .store
        .restart_pull(id, from, now.as_millisecond())
        .await
        .map_err(|err| format!("cannot restart the backfill of {id}: {err}"))?;
    {
        let mut statuses = pulls.statuses();
        let status = &mut statuses[index];
        status.backfill = Some(Backfill {
            from,
            target: target_minute(now, source.delay_seconds),
        });
        status.failures = 0;
        status.next_attempt_ms = 0;
        status.carry = Carry::default();
    }
    reload(state, pulls, index, now).await?;
    tracing::info!(slo = %id, from = %minute_time(from), "backfill started");
    pulls.wake.notify_one();
    Ok(())
}

/// Takes an SLO's watermark and counts from the store (after a restart of its pull, or when a
/// commit found the store's watermark elsewhere): the fleet's runtime is rebuilt from the
/// store's counts, so memory never holds what the store does not. Alerts are held while a
/// backfill is open. Called with the SLO's lock held.
async fn reload(
    state: &AppState,
    pulls: &Pulls,
    index: usize,
    now: Timestamp,
) -> Result<(), String> {
    let slo = &pulls.slos[index];
    let id = slo.id.as_str();
    let stored = state
        .store
        .pull_states()
        .await
        .map_err(|err| format!("cannot read the pull state of {id}: {err}"))?
        .into_iter()
        .find(|stored| stored.slo_id == id);
    let oldest = now.as_second().div_euclid(60) - slo.retention_minutes;
    let counts = state
        .store
        .counts_since(Some(id), oldest)
        .await
        .map_err(|err| format!("cannot read the counts of {id}: {err}"))?;
    let mut statuses = pulls.statuses();
    let status = &mut statuses[index];
    // Data may reach back before this backfill's start (a restart from a later minute).
    let created = stored
        .as_ref()
        .map(|stored| {
            let first = counts.iter().map(|row| row.minute).min();
            minute_time(first.map_or(stored.backfill_from, |first| {
                first.min(stored.backfill_from)
            }))
        })
        .unwrap_or(now);
    let mut fleet = state.fleet();
    fleet
        .rebuild(
            id,
            created,
            counts.iter().map(|row| {
                (
                    minute_time(row.minute),
                    row.counted.max(0) as u64,
                    row.total.max(0) as u64,
                )
            }),
        )
        .map_err(|err| err.to_string())?;
    fleet.set_data_until(
        id,
        stored
            .as_ref()
            .map(|stored| minute_time(stored.pulled_until)),
    );
    fleet.hold_alerts(id, status.backfill.is_some() || stored.is_none());
    status.pulled_until = stored.as_ref().map(|stored| stored.pulled_until);
    status.backfill_from = stored.as_ref().map(|stored| stored.backfill_from);
    Ok(())
}

/// Pulls one SLO up to the newest complete minute.
async fn pull_one(state: AppState, pulls: Arc<Pulls>, index: usize) {
    let slo = &pulls.slos[index];
    let Ok(plan) = &slo.plan else {
        return;
    };
    let source = &pulls.sources[slo.source];
    let _permit = source.permits.acquire().await;
    let started = std::time::Instant::now();
    let outcome = pass(&state, &pulls, index, plan).await;
    state
        .metrics
        .pull_duration
        .observe(started.elapsed().as_secs_f64());
    let now_ms = Timestamp::now().as_millisecond();
    let mut statuses = pulls.statuses();
    let status = &mut statuses[index];
    status.in_flight = false;
    match outcome {
        Ok(()) => {
            status.failures = 0;
            status.last_error = None;
        }
        Err(PassError::Moved) => {
            status.next_attempt_ms = 0;
        }
        Err(PassError::Failed(message)) => {
            status.failures += 1;
            status.next_attempt_ms = now_ms + backoff_ms(status.failures);
            if status.failures == 1 || status.failures.is_power_of_two() {
                tracing::warn!(slo = %slo.id, failures = status.failures, error = %message, "pull failed");
            }
            status.last_error = Some(message);
        }
    }
    // Alerts wait for a backfill, but not for a failing source: its no-data rule must fire.
    // Set under the status lock, so a restart in between cannot be undone.
    let hold = status.backfill.is_some() && status.last_error.is_none();
    state.fleet().hold_alerts(&slo.id, hold);
    drop(statuses);
}

async fn pass(
    state: &AppState,
    pulls: &Pulls,
    index: usize,
    plan: &PullPlan,
) -> Result<(), PassError> {
    let slo = &pulls.slos[index];
    let source = &pulls.sources[slo.source];
    loop {
        // The SLO's lock is taken per chunk, so a restarted backfill waits one chunk at most.
        let _guard = pulls.locks[index].lock().await;
        let (known, backfill_from) = {
            let statuses = pulls.statuses();
            (statuses[index].pulled_until, statuses[index].backfill_from)
        };
        let Some(until) = known else {
            let now = Timestamp::now();
            let from = retention_start(now, slo.retention_minutes);
            drop(_guard);
            restart(state, pulls, &slo.id, from, now)
                .await
                .map_err(PassError::Failed)?;
            continue;
        };
        let backfill_from = backfill_from.unwrap_or(until);
        let now = Timestamp::now();
        let target = target_minute(now, source.delay_seconds);
        if until >= target {
            let mut statuses = pulls.statuses();
            if statuses[index].backfill.take().is_some() {
                tracing::info!(slo = %slo.id, "backfill done");
            }
            return Ok(());
        }
        let to = (until + source.chunk_minutes).min(target);
        let mut problems = Vec::new();
        let mut answers = Vec::with_capacity(plan.queries.len());
        for query in &plan.queries {
            let outcome = source.client.query_minutes(&query.promql, until, to).await;
            let outcome_name = if outcome.is_ok() { "ok" } else { "error" };
            state.metrics.count_pull_query(&source.id, outcome_name);
            let series = outcome.map_err(|err| {
                PassError::Failed(format!(
                    "SLO {}: query {:?} to source {:?}: {err}",
                    slo.id, query.promql, source.id
                ))
            })?;
            let mut found = Vec::new();
            let minute_amounts =
                amounts(&query.form, &series, until, to, &mut found).map_err(|err| {
                    PassError::Failed(format!(
                        "SLO {}: query {:?} to source {:?} {err}",
                        slo.id, query.promql, source.id
                    ))
                })?;
            problems.extend(found.into_iter().map(|problem| QueryProblem {
                at: problem.at,
                query: query.promql.clone(),
                message: problem.message,
            }));
            answers.push(minute_amounts);
        }
        let mut carry = pulls.statuses()[index].carry;
        let (minutes, missing) = combine(plan, &answers, until, &mut carry);
        let commit = PullCommit {
            expected_until: Some(until),
            state: PullState {
                slo_id: slo.id.clone(),
                pulled_until: to,
                backfill_from,
                updated_ms: now.as_millisecond(),
            },
            counts: count_rows(&slo.id, &minutes, now.as_second().div_euclid(60)),
        };
        match state.store.commit_pull(&commit).await {
            Ok(true) => {}
            Ok(false) => {
                // The store's watermark is not ours: take the store's, and its counts.
                reload(state, pulls, index, now)
                    .await
                    .map_err(PassError::Failed)?;
                return Err(PassError::Moved);
            }
            Err(err) => {
                // The commit may have landed after all (a connection lost after COMMIT):
                // the store decides.
                let _ = reload(state, pulls, index, now).await;
                return Err(PassError::Failed(format!(
                    "SLO {}: pulled counts not stored: {err}",
                    slo.id
                )));
            }
        }
        {
            let mut fleet = state.fleet();
            for row in &commit.counts {
                if let Err(err) = fleet.record(
                    &slo.id,
                    minute_time(row.minute),
                    row.counted as u64,
                    row.total as u64,
                ) {
                    tracing::warn!(slo = %slo.id, error = %err, "pulled counts too old for the buckets");
                }
            }
            fleet.set_data_until(&slo.id, Some(minute_time(to)));
        }
        state.metrics.count_pull_minutes(
            &source.id,
            "counted",
            (to - until - missing as i64) as u64,
        );
        state
            .metrics
            .count_pull_minutes(&source.id, "missing", missing);
        let mut statuses = pulls.statuses();
        let status = &mut statuses[index];
        status.carry = carry;
        status.pulled_until = Some(to);
        status.last_success_ms = Some(now.as_millisecond());
        status.missing_minutes += missing;
        for problem in problems {
            if status.problems.len() == PROBLEMS_KEPT {
                status.problems.pop_front();
            }
            status.problems.push_back(problem);
        }
    }
}

/// Runs until shutdown: every tick, each SLO with a complete minute it has not pulled (and no
/// failure backoff pending) is pulled, at most `concurrency` per source at once.
pub async fn run(state: AppState, pulls: Arc<Pulls>, mut shutdown: watch::Receiver<bool>) {
    let mut jobs = JoinSet::new();
    loop {
        let now = Timestamp::now();
        let due: Vec<usize> = {
            let mut statuses = pulls.statuses();
            let mut due = Vec::new();
            for (index, slo) in pulls.slos.iter().enumerate() {
                let status = &mut statuses[index];
                if slo.plan.is_err()
                    || status.in_flight
                    || status.next_attempt_ms > now.as_millisecond()
                {
                    continue;
                }
                let source = &pulls.sources[slo.source];
                let behind = status
                    .pulled_until
                    .is_none_or(|until| until < target_minute(now, source.delay_seconds));
                if behind {
                    status.in_flight = true;
                    due.push(index);
                }
            }
            due
        };
        for index in due {
            jobs.spawn(pull_one(state.clone(), pulls.clone(), index));
        }
        tokio::select! {
            _ = tokio::time::sleep(state.config.pull_tick) => {}
            _ = pulls.wake.notified() => {}
            Some(_) = jobs.join_next(), if !jobs.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    jobs.abort_all();
    while jobs.join_next().await.is_some() {}
}

/// Pulls every due SLO once and waits for them: one cycle of the loop, for benchmarks and
/// tests that drive the clock themselves.
pub async fn pull_all(state: &AppState, pulls: &Arc<Pulls>) {
    let mut jobs = JoinSet::new();
    for index in 0..pulls.slos.len() {
        {
            let mut statuses = pulls.statuses();
            if statuses[index].in_flight {
                continue;
            }
            statuses[index].in_flight = true;
        }
        jobs.spawn(pull_one(state.clone(), pulls.clone(), index));
    }
    while jobs.join_next().await.is_some() {}
}

/// What `nines validate --check-sources` finds of one pulled SLO: each of its queries run once
/// over the last hour, and every failure or unusable answer named. Empty when the
/// SLO can be pulled.
pub async fn check(pulls: &Pulls, id: &str, now: Timestamp) -> Vec<String> {
    let Some(&index) = pulls.by_id.get(id) else {
        return Vec::new();
    };
    let slo = &pulls.slos[index];
    let plan = match &slo.plan {
        Ok(plan) => plan,
        Err(err) => return vec![format!("cannot be pulled: {err}")],
    };
    let source = &pulls.sources[slo.source];
    let to = target_minute(now, source.delay_seconds);
    let from = to - 60;
    let mut problems = Vec::new();
    for query in &plan.queries {
        if query.form == super::Form::CounterSeries
            && let Ok(promql_parser::parser::Expr::VectorSelector(selector)) =
                promql_parser::parser::parse(&query.promql)
            && let Some(name) = &selector.name
            && let Ok(types) = source.client.metric_types(name).await
            && types.iter().any(|kind| kind == "gauge")
        {
            problems.push(format!(
                "query {:?}: the source's metadata says {name} is a gauge; nines reads it as a counter, so its drops would count as resets",
                query.promql
            ));
        }
        match source.client.query_minutes(&query.promql, from, to).await {
            Err(err) => problems.push(format!(
                "query {:?} to source {:?}: {err}",
                query.promql, source.id
            )),
            Ok(series) => {
                let mut found = Vec::new();
                if let Err(err) = amounts(&query.form, &series, from, to, &mut found) {
                    problems.push(format!(
                        "query {:?} to source {:?} {err}",
                        query.promql, source.id
                    ));
                }
                problems.extend(
                    found
                        .into_iter()
                        .map(|problem| format!("query {:?}: {}", query.promql, problem.message)),
                );
            }
        }
    }
    problems
}
