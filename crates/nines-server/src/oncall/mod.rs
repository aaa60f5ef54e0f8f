//! On-call in the server: intake of external alerts, the paging engine, signed action links,
//! heartbeats (dead-man's switches, nines' own evaluator among them), schedule exports, and the
//! loop that escalates due pages.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use nines_core::{AlertState, Severity, Span};
use tokio::sync::watch;

use crate::server::AppState;

pub mod api;
pub mod ical;
pub mod intake;
pub mod links;
pub mod pager;

use intake::{AlertAction, IncomingAlert};
use pager::Pager;

/// The heartbeat the evaluator beats after every evaluation.
pub const EVALUATOR_HEARTBEAT: &str = "nines-evaluator";
/// The store setting that holds the secret of signed links.
pub const LINK_SECRET_SETTING: &str = "link_secret";
/// How often the on-call loop runs.
pub const TICK: Duration = Duration::from_secs(1);

/// A heartbeat being watched: configured ones and the evaluator's own.
#[derive(Debug, Clone, PartialEq)]
pub struct Watched {
    pub id: String,
    pub interval: Span,
    pub grace: Span,
    pub labels: BTreeMap<String, String>,
    pub runbook: Option<String>,
    pub builtin: bool,
}

/// Every heartbeat the server watches.
pub fn watched(state: &AppState) -> Vec<Watched> {
    let mut out: Vec<Watched> = state
        .catalog
        .oncall
        .heartbeats
        .iter()
        .map(|heartbeat| {
            let mut labels = heartbeat.labels.clone();
            if let Some(service) = &heartbeat.service {
                labels
                    .entry("service".to_string())
                    .or_insert_with(|| service.clone());
            }
            Watched {
                id: heartbeat.id.clone(),
                interval: heartbeat.interval,
                grace: heartbeat.grace,
                labels,
                runbook: heartbeat.runbook.clone(),
                builtin: false,
            }
        })
        .collect();
    let deadline = state.config.evaluator_deadline();
    out.push(Watched {
        id: EVALUATOR_HEARTBEAT.to_string(),
        interval: Span::seconds(i64::try_from(deadline.as_secs()).unwrap_or(i64::MAX)),
        grace: Span::ZERO,
        labels: BTreeMap::from([
            ("alertname".to_string(), "NinesEvaluatorStalled".to_string()),
            ("service".to_string(), "nines".to_string()),
            ("severity".to_string(), "page".to_string()),
        ]),
        runbook: None,
        builtin: true,
    });
    out
}

fn heartbeat_alert(watch: &Watched, last_ms: Option<i64>, action: AlertAction) -> IncomingAlert {
    let mut labels = watch.labels.clone();
    labels
        .entry("alertname".to_string())
        .or_insert_with(|| "HeartbeatMissing".to_string());
    labels.insert("heartbeat".to_string(), watch.id.clone());
    let last = last_ms
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .map(|time| time.to_string())
        .unwrap_or_else(|| "none since nines started".to_string());
    let summary = if watch.builtin {
        format!(
            "nines' evaluator has not run for over {} (last run: {last})",
            watch.interval
        )
    } else {
        format!(
            "heartbeat {} missed: expected every {} (+{} grace), last: {last}",
            watch.id, watch.interval, watch.grace
        )
    };
    let severity = labels
        .get("severity")
        .cloned()
        .unwrap_or_else(|| "page".to_string());
    IncomingAlert {
        source: "heartbeat".to_string(),
        fingerprint: format!("hb:{}", watch.id),
        action,
        labels,
        annotations: BTreeMap::new(),
        summary,
        severity,
        runbook: watch.runbook.clone(),
        starts_at: None,
    }
}

/// Fires the alert of every heartbeat past its deadline and resolves those beating again. A
/// heartbeat never seen counts from the server's start.
pub async fn check_heartbeats(state: &AppState, pager: &Pager, now: Timestamp) {
    let beats: HashMap<String, i64> = match state.store.heartbeats().await {
        Ok(rows) => rows.into_iter().map(|row| (row.id, row.last_ms)).collect(),
        Err(err) => {
            tracing::error!(error = %err, "reading heartbeats");
            return;
        }
    };
    let now_ms = now.as_millisecond();
    for watch in watched(state) {
        let last = beats.get(&watch.id).copied();
        let since = last.unwrap_or(state.started.as_millisecond());
        let deadline = since
            .saturating_add(watch.interval.as_secs().saturating_mul(1000))
            .saturating_add(watch.grace.as_secs().saturating_mul(1000));
        let firing = match state.store.alert(&format!("hb:{}", watch.id)).await {
            Ok(row) => row.is_some_and(|row| row.status == "firing"),
            Err(err) => {
                tracing::error!(error = %err, "reading a heartbeat's alert");
                continue;
            }
        };
        let action = match (now_ms > deadline, firing) {
            (true, false) => AlertAction::Trigger,
            (false, true) => AlertAction::Resolve,
            _ => continue,
        };
        let alert = heartbeat_alert(&watch, last, action);
        match pager.ingest(&alert, now).await {
            Ok(outcome) => {
                tracing::warn!(heartbeat = %watch.id, outcome = outcome.name(), action = action.name(), "heartbeat");
            }
            Err(err) => tracing::error!(heartbeat = %watch.id, error = %err, "heartbeat alert"),
        }
    }
}

/// Pages for SLO alerts of page severity: every firing one the pager does not know yet is
/// triggered, every one it knows that no longer fires is resolved. Level-triggered from the
/// evaluator's state, so a crash between the evaluator's commit and the page loses nothing: the
/// next pass finds the difference again.
pub async fn reconcile_slo_alerts(state: &AppState, pager: &Pager, now: Timestamp) {
    // SLOs whose alerts are held (a pulled SLO catching up) keep their pages as they are.
    let mut held: HashSet<String> = HashSet::new();
    let desired: Vec<IncomingAlert> = {
        let fleet = state.fleet();
        let mut out = Vec::new();
        for entry in fleet.entries() {
            if entry.hold_alerts {
                held.insert(entry.def.id.as_str().to_string());
                continue;
            }
            let machine = entry.runtime.alerts();
            for (kind, alert) in [
                ("burn_rate", machine.burn_rate),
                ("no_data", machine.no_data),
            ] {
                let AlertState::Firing {
                    severity: Severity::Page,
                    since,
                } = alert
                else {
                    continue;
                };
                let def = &entry.def;
                // `alerting.page.disable`: the SLO's page alerts page nobody.
                if def.alerting.page.disable {
                    continue;
                }
                let mut labels: BTreeMap<String, String> = def.labels.clone();
                labels.extend(def.alerting.labels.clone());
                labels.extend(def.alerting.page.labels.clone());
                let alertname = if kind == "burn_rate" {
                    "SLOBurnRate"
                } else {
                    "SLONoData"
                };
                labels.insert("alertname".to_string(), alertname.to_string());
                labels.insert("slo".to_string(), def.id.as_str().to_string());
                labels.insert("service".to_string(), def.service.clone());
                labels.insert("severity".to_string(), "page".to_string());
                if let Some(owner) = &entry.owner {
                    labels
                        .entry("team".to_string())
                        .or_insert_with(|| owner.clone());
                }
                let what = if kind == "burn_rate" {
                    "error budget burning too fast"
                } else {
                    "no data"
                };
                out.push(IncomingAlert {
                    source: "slo".to_string(),
                    fingerprint: format!("slo:{}:{kind}", def.id),
                    action: AlertAction::Trigger,
                    labels,
                    annotations: BTreeMap::new(),
                    summary: format!("{} ({}): {what}", def.name, def.service),
                    severity: "page".to_string(),
                    runbook: entry.runbook.clone(),
                    starts_at: Some(since),
                });
            }
        }
        out
    };
    let known: HashSet<String> = match state.store.firing_alerts().await {
        Ok(rows) => rows
            .into_iter()
            .filter(|row| row.source == "slo")
            .map(|row| row.fingerprint)
            .collect(),
        Err(err) => {
            tracing::error!(error = %err, "reading firing alerts");
            return;
        }
    };
    let wanted: HashSet<&str> = desired
        .iter()
        .map(|alert| alert.fingerprint.as_str())
        .collect();
    for alert in desired
        .iter()
        .filter(|alert| !known.contains(&alert.fingerprint))
    {
        if let Err(err) = pager.ingest(alert, now).await {
            tracing::error!(alert = %alert.fingerprint, error = %err, "paging for an SLO alert");
        }
    }
    let is_held = |fingerprint: &str| {
        fingerprint
            .strip_prefix("slo:")
            .and_then(|rest| rest.rsplit_once(':'))
            .is_some_and(|(slo, _)| held.contains(slo))
    };
    for fingerprint in known
        .iter()
        .filter(|fp| !wanted.contains(fp.as_str()) && !is_held(fp))
    {
        let alert = IncomingAlert {
            source: "slo".to_string(),
            fingerprint: fingerprint.clone(),
            action: AlertAction::Resolve,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            summary: String::new(),
            severity: "page".to_string(),
            runbook: None,
            starts_at: None,
        };
        if let Err(err) = pager.ingest(&alert, now).await {
            tracing::error!(alert = %fingerprint, error = %err, "resolving an SLO alert's page");
        }
    }
}

/// One pass of the on-call loop.
pub async fn pass(state: &AppState, now: Timestamp) {
    let pager = state.pager.clone();
    reconcile_slo_alerts(state, &pager, now).await;
    check_heartbeats(state, &pager, now).await;
    let stats = pager.tick(now).await;
    crate::incidents::open_for_pages(state, now).await;
    if stats.escalated > 0 || stats.unmuted > 0 {
        tracing::info!(
            escalated = stats.escalated,
            unmuted = stats.unmuted,
            "on-call pass"
        );
    }
}

/// Runs [`pass`] every [`TICK`] until shutdown.
pub fn spawn(state: &AppState, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => break,
            }
            pass(&state, Timestamp::now()).await;
        }
    })
}

/// The pager of a server: its link secret read from the store (made once, on first start).
pub async fn build_pager(
    store: Arc<dyn nines_store::Store>,
    catalog: Arc<nines_spec::Catalog>,
    public_url: &str,
) -> Result<Pager, String> {
    let fresh = links::new_secret().ok_or("the system has no randomness for a link secret")?;
    let secret = store
        .init_setting(LINK_SECRET_SETTING, &fresh)
        .await
        .map_err(|err| format!("reading the link secret: {err}"))?;
    let linker = links::Linker::new(public_url, secret.as_bytes());
    Ok(Pager::new(store, catalog, linker))
}
