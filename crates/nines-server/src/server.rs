//! `nines serve`: opens the store, rebuilds every SLO's buckets and alert states from it, and
//! runs the intake writer, the evaluator loop, the notifier, the probes and the HTTP API until
//! asked to stop.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use nines_core::{AlertKind, AlertMachine, AlertState, Severity};
use nines_spec::Catalog;
use nines_store::{AlertStateRow, EventRow, SloRow, SnapshotRow, Store, TransitionCommit};
use tokio::sync::watch;

use crate::evaluator::{Fleet, Notice};
use crate::intake::counter::CounterState;
use crate::intake::matcher::Matcher;
use crate::metrics::Metrics;
use crate::writer::{Writer, WriterHandle};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub evaluation_interval: Duration,
    /// How often a point of every SLO's budget history is kept.
    pub history_interval: Duration,
    /// Largest request body taken, compressed or not (413 beyond).
    pub max_body_bytes: usize,
    /// Environment variables channels and sources may read secrets from.
    pub environment: std::collections::HashMap<String, String>,
    /// How often the pull loop looks for SLOs with a new complete minute.
    pub pull_tick: Duration,
    /// The address people reach this server at, for the links in notifications
    /// (`https://nines.example.com`); `http://{listen}` when not set.
    pub public_url: Option<String>,
    /// The evaluator's heartbeat: longer than this without an evaluation pages
    /// (`NinesEvaluatorStalled`); by default the longer of 2 minutes and three evaluation
    /// intervals.
    pub evaluator_deadline: Option<Duration>,
}

impl ServerConfig {
    /// How long the evaluator may go without an evaluation before it pages.
    pub fn evaluator_deadline(&self) -> Duration {
        self.evaluator_deadline.unwrap_or_else(|| {
            Duration::from_secs(120).max(self.evaluation_interval.saturating_mul(3))
        })
    }
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9797)),
            evaluation_interval: Duration::from_secs(10),
            history_interval: Duration::from_secs(300),
            max_body_bytes: 16 * 1024 * 1024,
            environment: std::collections::HashMap::new(),
            pull_tick: crate::pull::task::TICK,
            public_url: None,
            evaluator_deadline: None,
        }
    }
}

/// Everything the HTTP handlers share.
#[derive(Clone)]
pub struct AppState {
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn Store>,
    pub fleet: Arc<Mutex<Fleet>>,
    pub writer: WriterHandle,
    pub metrics: Arc<Metrics>,
    pub config: Arc<ServerConfig>,
    pub started: Timestamp,
    /// SLOs pulled from sources, and their status.
    pub pulls: Arc<crate::pull::task::Pulls>,
    /// The paging engine.
    pub pager: Arc<crate::oncall::pager::Pager>,
}

impl AppState {
    pub fn fleet(&self) -> std::sync::MutexGuard<'_, Fleet> {
        self.fleet
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn state_name(state: &AlertState) -> (&'static str, Severity, Timestamp) {
    match *state {
        AlertState::Inactive => ("inactive", Severity::Ticket, Timestamp::UNIX_EPOCH),
        AlertState::Firing { severity, since } => ("firing", severity, since),
        AlertState::Resolved { severity, at } => ("resolved", severity, at),
    }
}

fn parse_state(row: &AlertStateRow) -> AlertState {
    let severity = if row.severity == "page" {
        Severity::Page
    } else {
        Severity::Ticket
    };
    let at = Timestamp::from_millisecond(row.since_ms).unwrap_or(Timestamp::UNIX_EPOCH);
    match row.state.as_str() {
        "firing" => AlertState::Firing {
            severity,
            since: at,
        },
        "resolved" => AlertState::Resolved { severity, at },
        _ => AlertState::Inactive,
    }
}

pub fn alert_rows(slo_id: &str, alerts: &AlertMachine) -> Vec<AlertStateRow> {
    [
        (AlertKind::BurnRate, alerts.burn_rate),
        (AlertKind::NoData, alerts.no_data),
    ]
    .into_iter()
    .map(|(kind, state)| {
        let (name, severity, since) = state_name(&state);
        AlertStateRow {
            slo_id: slo_id.to_string(),
            kind: kind.name().to_string(),
            state: name.to_string(),
            severity: severity.name().to_string(),
            since_ms: since.as_millisecond(),
        }
    })
    .collect()
}

/// Rebuilds the evaluator from the store: SLO registry, counts, alert states, series states.
pub async fn recover(
    catalog: &Catalog,
    store: &dyn Store,
    now: Timestamp,
) -> Result<(Fleet, CounterState), String> {
    let now_ms = now.as_millisecond();
    let rows: Vec<SloRow> = catalog
        .slos
        .iter()
        .map(|slo| SloRow {
            id: slo.id.as_str().to_string(),
            name: slo.name.clone(),
            service: slo.service.clone(),
            first_seen_ms: now_ms,
        })
        .collect();
    store
        .upsert_slos(&rows)
        .await
        .map_err(|err| format!("registering SLOs: {err}"))?;
    let longest = catalog.longest_retention_minutes();
    let oldest = now.as_second().div_euclid(60) - longest;
    let first_seen = store
        .slos()
        .await
        .map_err(|err| format!("reading SLOs: {err}"))?;
    let mut fleet = Fleet::new(catalog, now);
    // An SLO's runtime starts where its data starts, so its window knows how much it covers:
    // when nines first saw it, or for a pulled SLO where its backfill began.
    let backfilled: std::collections::HashMap<String, i64> = store
        .pull_states()
        .await
        .map_err(|err| format!("reading pull states: {err}"))?
        .into_iter()
        .map(|state| (state.slo_id, state.backfill_from))
        .collect();
    for slo in first_seen {
        let created = match backfilled.get(&slo.id) {
            Some(minute) => Timestamp::from_second(minute * 60),
            None => Timestamp::from_millisecond(slo.first_seen_ms),
        };
        fleet.set_created(&slo.id, created.unwrap_or(now));
    }
    let counts = store
        .counts_since(None, oldest)
        .await
        .map_err(|err| format!("reading counts: {err}"))?;
    for row in counts {
        let at = Timestamp::from_second(row.minute * 60).unwrap_or(Timestamp::UNIX_EPOCH);
        if fleet.contains(&row.slo_id) {
            let _ = fleet.record(
                &row.slo_id,
                at,
                row.counted.max(0) as u64,
                row.total.max(0) as u64,
            );
        }
    }
    let mut machines: std::collections::HashMap<String, AlertMachine> =
        std::collections::HashMap::new();
    for row in store
        .alert_states()
        .await
        .map_err(|err| format!("reading alert states: {err}"))?
    {
        let machine = machines.entry(row.slo_id.clone()).or_default();
        match row.kind.as_str() {
            "burn_rate" => machine.burn_rate = parse_state(&row),
            "no_data" => machine.no_data = parse_state(&row),
            _ => {}
        }
    }
    for (id, machine) in machines {
        fleet.restore_alerts(&id, machine);
    }
    let series = store
        .series_states()
        .await
        .map_err(|err| format!("reading series states: {err}"))?;
    Ok((fleet, CounterState::from_states(series)))
}

/// The JSON of a notice, for the event log.
pub fn notice_json(notice: &Notice) -> serde_json::Value {
    serde_json::json!({
        "slo": notice.slo_id,
        "service": notice.service,
        "alert": notice.kind.name(),
        "severity": notice.severity.name(),
        "change": notice.change.name(),
        "at": notice.at.to_string(),
        "budget_remaining_share": finite(notice.budget_remaining_share),
        "sli": notice.sli,
        "runbook": notice.runbook,
        "burn_rates": notice.burn_rates.iter().map(|pair| serde_json::json!({
            "long_window": pair.long_window,
            "long_burn_rate": pair.long_burn_rate,
            "short_window": pair.short_window,
            "short_burn_rate": pair.short_burn_rate,
            "factor": pair.factor,
            "fires": pair.fires,
        })).collect::<Vec<_>>(),
    })
}

pub fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// One evaluation: every SLO to `now`, transitions made durable with their notifications in
/// one transaction, or the alert states put back so the next cycle finds them again.
pub async fn evaluate_once(state: &AppState, now: Timestamp) -> Vec<Notice> {
    let started = std::time::Instant::now();
    let (notices, saved, rows) = {
        let mut fleet = state.fleet();
        let saved = fleet.alert_snapshot();
        let notices = fleet.evaluate(now);
        let mut rows = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for notice in &notices {
            if seen.insert(notice.slo_id.clone())
                && let Some(alerts) = fleet.alerts(&notice.slo_id)
            {
                rows.extend(alert_rows(&notice.slo_id, &alerts));
            }
        }
        (notices, saved, rows)
    };
    if !notices.is_empty() {
        let now_ms = now.as_millisecond();
        let mut commit = TransitionCommit {
            states: rows,
            ..TransitionCommit::default()
        };
        for notice in &notices {
            commit.events.push(EventRow {
                id: 0,
                at_ms: notice.at.as_millisecond(),
                kind: format!("alert.{}", notice.change.name()),
                slo_id: Some(notice.slo_id.clone()),
                page_id: None,
                incident_id: None,
                actor: "evaluator".to_string(),
                payload: notice_json(notice).to_string(),
            });
            commit.outbox.extend(crate::delivery::outbox_rows(
                notice,
                &state.catalog.channels,
                now_ms,
            ));
        }
        if let Err(err) = state.store.commit_transitions(&commit).await {
            tracing::error!(error = %err, transitions = notices.len(), "alert transitions not durable; retrying next cycle");
            state.metrics.evaluation_failures.inc();
            state.fleet().revert_alerts(&saved);
            return Vec::new();
        }
        for notice in &notices {
            let labels = crate::metrics::TransitionLabels {
                severity: notice.severity.name().to_string(),
                change: notice.change.name().to_string(),
            };
            state.metrics.alert_transitions.get_or_create(&labels).inc();
            tracing::info!(
                slo = %notice.slo_id,
                alert = notice.kind.name(),
                severity = notice.severity.name(),
                change = notice.change.name(),
                "alert transition"
            );
        }
    }
    state
        .metrics
        .evaluation_duration
        .observe(started.elapsed().as_secs_f64());
    state
        .metrics
        .last_evaluation_unix
        .store(now.as_second().max(0) as u64, Ordering::Relaxed);
    notices
}

/// Budget history points of every SLO's last evaluation.
pub async fn record_history(state: &AppState) {
    let rows: Vec<SnapshotRow> = {
        let fleet = state.fleet();
        fleet
            .entries()
            .iter()
            .filter_map(|entry| {
                let evaluation = entry.last.as_ref()?;
                Some(SnapshotRow {
                    slo_id: entry.def.id.as_str().to_string(),
                    at_ms: evaluation.at.as_millisecond(),
                    remaining_share: finite(evaluation.budget.remaining_share).unwrap_or(-1e9),
                    sli: evaluation.budget.sli,
                    bad: evaluation.bad as i64,
                    total: evaluation.total as i64,
                    burn_rate_1h: evaluation.current_burn_rate,
                })
            })
            .collect()
    };
    if let Err(err) = state.store.record_snapshots(&rows).await {
        tracing::warn!(error = %err, "budget history not recorded");
    }
}

/// Merges old one-minute counts into ten-minute rows and drops what no window needs.
pub async fn compact(state: &AppState, now: Timestamp) {
    let now_minute = now.as_second().div_euclid(60);
    let longest = state.catalog.longest_retention_minutes();
    // Older than the fine tier's six hours (plus slack): ten-minute rows land in ten-minute
    // buckets when the buckets are rebuilt after a restart, so sums stay exact.
    if let Err(err) = state.store.compact_counts(now_minute - 7 * 60, 10).await {
        tracing::warn!(error = %err, "compaction failed");
    }
    if let Err(err) = state
        .store
        .delete_counts_before(now_minute - longest - 24 * 60)
        .await
    {
        tracing::warn!(error = %err, "deleting old counts failed");
    }
}

/// The evaluator's own heartbeat, watched like any other (`oncall::check_heartbeats`).
async fn beat_evaluator(state: &AppState, now: Timestamp) {
    if let Err(err) = state
        .store
        .beat(crate::oncall::EVALUATOR_HEARTBEAT, now.as_millisecond())
        .await
    {
        tracing::warn!(error = %err, "evaluator heartbeat not recorded");
    }
}

async fn evaluator_loop(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(state.config.evaluation_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_history = std::time::Instant::now() - state.config.history_interval;
    let mut last_compaction = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => break,
        }
        let now = Timestamp::now();
        evaluate_once(&state, now).await;
        beat_evaluator(&state, now).await;
        if let Ok(depth) = state.store.outbox_depth().await {
            state.metrics.outbox_depth.set(depth as i64);
        }
        if last_history.elapsed() >= state.config.history_interval {
            last_history = std::time::Instant::now();
            record_history(&state).await;
        }
        if last_compaction.elapsed() >= Duration::from_secs(3600) {
            last_compaction = std::time::Instant::now();
            compact(&state, Timestamp::now()).await;
        }
    }
}

/// A running server: its address, and how to stop it.
pub struct Running {
    pub address: SocketAddr,
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops taking requests, finishes what is in flight, and waits for every task.
    pub async fn stop(self) {
        let Running {
            state,
            shutdown,
            tasks,
            ..
        } = self;
        let _ = shutdown.send(true);
        // The writer ends when the last handle to it is gone; this one is the last to drop.
        drop(state);
        for task in tasks {
            let _ = task.await;
        }
    }

    pub fn shutdown_sender(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// Starts everything; the catalog must already be valid.
pub async fn start(
    catalog: Catalog,
    store: Arc<dyn Store>,
    config: ServerConfig,
) -> Result<Running, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let now = Timestamp::now();
    // Sources first: a missing credential stops the server before anything is changed.
    let pulls = Arc::new(crate::pull::task::Pulls::build(
        &catalog,
        &config.environment,
    )?);
    let (mut fleet, counter_state) = recover(&catalog, store.as_ref(), now).await?;
    if !pulls.is_empty() {
        let states = store
            .pull_states()
            .await
            .map_err(|err| format!("reading pull states: {err}"))?;
        pulls.restore(&states, now, &mut fleet);
    }
    let metrics = Arc::new(Metrics::new());
    metrics.slos.set(fleet.len() as i64);
    let matcher = Matcher::build(&catalog);
    for problem in matcher.problems() {
        tracing::warn!(slo = %problem.slo_id, problem = %problem.message, "SLI selector cannot be matched");
    }
    let fleet = Arc::new(Mutex::new(fleet));
    let writer = Writer {
        store: store.clone(),
        fleet: fleet.clone(),
        matcher,
        state: counter_state,
        metrics: metrics.clone(),
    };
    let (writer_handle, writer_task) = writer.spawn(256);
    let catalog = Arc::new(catalog);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", config.listen))?;
    let address = listener.local_addr().map_err(|err| err.to_string())?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    let pager =
        Arc::new(crate::oncall::build_pager(store.clone(), catalog.clone(), &public_url).await?);
    let config = Arc::new(config);
    let state = AppState {
        catalog: catalog.clone(),
        store: store.clone(),
        fleet,
        writer: writer_handle,
        metrics: metrics.clone(),
        config: config.clone(),
        started: now,
        pulls: pulls.clone(),
        pager,
    };
    let deliverer = crate::delivery_task::build(&state)?;
    let (shutdown, shutdown_receiver) = watch::channel(false);

    // One evaluation before serving, so status is there from the first request.
    let first = Timestamp::now();
    evaluate_once(&state, first).await;
    beat_evaluator(&state, first).await;

    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(evaluator_loop(
        state.clone(),
        shutdown_receiver.clone(),
    )));
    tasks.extend(crate::probes::spawn(&state, shutdown_receiver.clone()));
    if !pulls.is_empty() {
        tasks.push(tokio::spawn(crate::pull::task::run(
            state.clone(),
            pulls,
            shutdown_receiver.clone(),
        )));
    }
    tasks.push(crate::oncall::spawn(&state, shutdown_receiver.clone()));
    tasks.extend(crate::delivery_task::spawn(
        &state,
        deliverer,
        shutdown_receiver.clone(),
    ));
    let router = crate::api::router(state.clone());
    let mut http_shutdown = shutdown_receiver.clone();
    tasks.push(tokio::spawn(async move {
        let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = http_shutdown.changed().await;
        });
        if let Err(err) = serve.await {
            tracing::error!(error = %err, "http server failed");
        }
    }));
    // The writer ends once the HTTP server and probes dropped their handles.
    tasks.push(writer_task);
    Ok(Running {
        address,
        state,
        shutdown,
        tasks,
    })
}
