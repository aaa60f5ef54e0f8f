//! The evaluator: every SLO's runtime, fed counts and brought up to date at an instant. It does
//! no IO and reads no clock, so `serve` drives it on the real clock and `simulate` on a virtual
//! one, through the same code.

use std::collections::HashMap;

use jiff::Timestamp;
use nines_core::buckets::BucketError;
use nines_core::{AlertKind, AlertMachine, Change, Evaluation, Exhaustion, Severity, SloRuntime};
use nines_spec::{Catalog, SloDef};

/// One SLO: its definition, its runtime, and its last evaluation.
pub struct Entry {
    pub def: SloDef,
    pub runtime: SloRuntime,
    pub last: Option<Evaluation>,
    /// Runbook links for notifications: the SLO's own, else its service's.
    pub runbook: Option<String>,
    pub owner: Option<String>,
    /// Alerts are held (evaluated, but no transition taken) while a pulled SLO is backfilled:
    /// a half-filled window says nothing about now.
    pub hold_alerts: bool,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordError {
    #[error("unknown SLO id {0:?}")]
    UnknownSlo(String),
    #[error("SLO {slo:?}: {source}")]
    TooOld { slo: String, source: BucketError },
}

/// An alert transition with what a notification needs to say about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub slo_id: String,
    pub slo_name: String,
    pub service: String,
    pub owner: Option<String>,
    pub kind: AlertKind,
    pub severity: Severity,
    pub change: Change,
    pub at: Timestamp,
    pub objective: f64,
    pub budget_remaining_share: f64,
    pub sli: Option<f64>,
    /// (long window, long burn rate, short window, short burn rate, factor) of every pair of the
    /// alert's severity.
    pub burn_rates: Vec<PairRates>,
    pub runbook: Option<String>,
    pub labels: Vec<(String, String)>,
    pub exhaustion: Exhaustion,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PairRates {
    pub severity: Severity,
    pub long_window: String,
    pub long_burn_rate: Option<f64>,
    pub short_window: String,
    pub short_burn_rate: Option<f64>,
    pub factor: f64,
    pub fires: bool,
}

/// Every SLO of a catalog.
pub struct Fleet {
    entries: Vec<Entry>,
    by_id: HashMap<String, usize>,
}

impl Fleet {
    pub fn new(catalog: &Catalog, now: Timestamp) -> Fleet {
        let mut entries = Vec::with_capacity(catalog.slos.len());
        let mut by_id = HashMap::new();
        for def in &catalog.slos {
            let service = catalog.service(&def.service);
            let runbook = def
                .runbook
                .clone()
                .or_else(|| def.alerting.annotations.get("runbook").cloned())
                .or_else(|| service.and_then(|service| service.runbooks.first().cloned()));
            let owner = service.and_then(|service| service.owner.clone());
            by_id.insert(def.id.as_str().to_string(), entries.len());
            entries.push(Entry {
                runtime: SloRuntime::new(&def.spec, now),
                def: def.clone(),
                last: None,
                runbook,
                owner,
                hold_alerts: false,
            });
        }
        Fleet { entries, by_id }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.by_id.get(id).map(|index| &self.entries[*index])
    }

    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// Starts an SLO's runtime at `at` (when nines first saw it), before any count is added, so
    /// that its windows know how much of them it has data for.
    pub fn set_created(&mut self, id: &str, at: Timestamp) {
        if let Some(index) = self.by_id.get(id) {
            let entry = &mut self.entries[*index];
            entry.runtime = SloRuntime::new(&entry.def.spec, at);
        }
    }

    /// Adds counts to an SLO.
    pub fn record(
        &mut self,
        id: &str,
        at: Timestamp,
        counted: u64,
        total: u64,
    ) -> Result<(), RecordError> {
        let index = *self
            .by_id
            .get(id)
            .ok_or_else(|| RecordError::UnknownSlo(id.to_string()))?;
        self.entries[index]
            .runtime
            .record(at, counted, total)
            .map_err(|source| RecordError::TooOld {
                slo: id.to_string(),
                source,
            })
    }

    /// Starts an SLO's runtime again at `created` with the counts given (minute start, counted,
    /// total), keeping its alert states: after a backfill is restarted and the store's counts
    /// from its start were deleted.
    pub fn rebuild(
        &mut self,
        id: &str,
        created: Timestamp,
        counts: impl IntoIterator<Item = (Timestamp, u64, u64)>,
    ) -> Result<(), RecordError> {
        let index = *self
            .by_id
            .get(id)
            .ok_or_else(|| RecordError::UnknownSlo(id.to_string()))?;
        let entry = &mut self.entries[index];
        let alerts = *entry.runtime.alerts();
        entry.runtime = SloRuntime::new(&entry.def.spec, created);
        entry.runtime.set_alerts(alerts);
        for (at, counted, total) in counts {
            entry
                .runtime
                .record(at, counted, total)
                .map_err(|source| RecordError::TooOld {
                    slo: id.to_string(),
                    source,
                })?;
        }
        Ok(())
    }

    /// Counts of a pulled SLO are complete only before `until` (see `SloRuntime::set_data_until`).
    pub fn set_data_until(&mut self, id: &str, until: Option<Timestamp>) {
        if let Some(index) = self.by_id.get(id) {
            self.entries[*index]
                .runtime
                .set_data_until(until.map(nines_core::time::Minute::containing));
        }
    }

    /// Holds or releases an SLO's alerts (see `Entry::hold_alerts`).
    pub fn hold_alerts(&mut self, id: &str, hold: bool) {
        if let Some(index) = self.by_id.get(id) {
            self.entries[*index].hold_alerts = hold;
        }
    }

    /// Restores alert states (after a restart).
    pub fn restore_alerts(&mut self, id: &str, alerts: AlertMachine) {
        if let Some(index) = self.by_id.get(id) {
            self.entries[*index].runtime.set_alerts(alerts);
        }
    }

    pub fn alerts(&self, id: &str) -> Option<AlertMachine> {
        self.get(id).map(|entry| *entry.runtime.alerts())
    }

    /// Brings every SLO to `now`; returns the alert transitions, in SLO order.
    pub fn evaluate(&mut self, now: Timestamp) -> Vec<Notice> {
        let mut notices = Vec::new();
        for entry in &mut self.entries {
            let held = entry.hold_alerts.then(|| *entry.runtime.alerts());
            let evaluation = match entry.runtime.evaluate(&entry.def.spec, now) {
                Ok(mut evaluation) => {
                    if let Some(alerts) = held {
                        entry.runtime.set_alerts(alerts);
                        evaluation.transitions.clear();
                    }
                    evaluation
                }
                Err(err) => {
                    tracing::warn!(slo = %entry.def.id, error = %err, "evaluation failed");
                    continue;
                }
            };
            for transition in &evaluation.transitions {
                notices.push(notice(entry, &evaluation, transition));
            }
            entry.last = Some(evaluation);
        }
        notices
    }

    /// Puts back alert states as they were before the last evaluation, when its transitions
    /// could not be made durable: the next evaluation finds the same transitions again.
    pub fn revert_alerts(&mut self, saved: &[AlertMachine]) {
        for (entry, alerts) in self.entries.iter_mut().zip(saved) {
            entry.runtime.set_alerts(*alerts);
        }
    }

    /// Every SLO's alert states in fleet order (the fleet never changes shape), to save before
    /// an evaluation.
    pub fn alert_snapshot(&self) -> Vec<AlertMachine> {
        self.entries
            .iter()
            .map(|entry| *entry.runtime.alerts())
            .collect()
    }
}

fn notice(entry: &Entry, evaluation: &Evaluation, transition: &nines_core::Transition) -> Notice {
    let burn_rates = evaluation
        .pairs
        .iter()
        .filter(|reading| reading.pair.severity == transition.severity)
        .map(|reading| PairRates {
            severity: reading.pair.severity,
            long_window: reading.pair.long_window.to_string(),
            long_burn_rate: reading.long_burn_rate,
            short_window: reading.pair.short_window.to_string(),
            short_burn_rate: reading.short_burn_rate,
            factor: reading.factor,
            fires: reading.fires(),
        })
        .collect();
    let mut labels: Vec<(String, String)> = entry
        .def
        .labels
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    labels.extend(
        entry
            .def
            .alerting
            .labels
            .iter()
            .map(|(key, value)| (key.clone(), value.clone())),
    );
    let meta = match transition.severity {
        Severity::Page => &entry.def.alerting.page,
        Severity::Ticket => &entry.def.alerting.ticket,
    };
    labels.extend(
        meta.labels
            .iter()
            .map(|(key, value)| (key.clone(), value.clone())),
    );
    Notice {
        slo_id: entry.def.id.as_str().to_string(),
        slo_name: entry.def.name.clone(),
        service: entry.def.service.clone(),
        owner: entry.owner.clone(),
        kind: transition.kind,
        severity: transition.severity,
        change: transition.change,
        at: transition.at,
        objective: entry.def.spec.objective.get(),
        budget_remaining_share: evaluation.budget.remaining_share,
        sli: evaluation.budget.sli,
        burn_rates,
        runbook: entry.runbook.clone(),
        labels,
        exhaustion: evaluation.exhaustion,
    }
}
