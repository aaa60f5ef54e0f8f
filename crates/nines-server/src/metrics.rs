//! nines' own metrics, served at `/metrics` in the Prometheus text format.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IngestLabels {
    /// `remote_write`, `otlp`, `json`, `probe`.
    pub source: String,
    /// `accepted`, `dropped_unrelated`, `out_of_order`, `invalid`, `rejected`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransitionLabels {
    pub severity: String,
    pub change: String,
}

pub struct Metrics {
    registry: Registry,
    pub ingest_samples: Family<IngestLabels, Counter>,
    pub ingest_requests_failed: Family<IngestLabels, Counter>,
    pub evaluation_duration: Histogram,
    pub evaluation_failures: Counter,
    pub outbox_depth: Gauge,
    pub delivery_failures: Counter,
    pub deliveries: Counter,
    pub alert_transitions: Family<TransitionLabels, Counter>,
    pub slos: Gauge,
    pub pull_queries: Family<IngestLabels, Counter>,
    pub pull_minutes: Family<IngestLabels, Counter>,
    pub pull_duration: Histogram,
    /// Unix seconds of the last finished evaluation, for `/readyz`.
    pub last_evaluation_unix: AtomicU64,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("nines");
        let ingest_samples = Family::<IngestLabels, Counter>::default();
        registry.register(
            "ingest_samples",
            "Samples and events taken in, by source and outcome",
            ingest_samples.clone(),
        );
        let ingest_requests_failed = Family::<IngestLabels, Counter>::default();
        registry.register(
            "ingest_requests_failed",
            "Intake requests answered with an error, by source and outcome (rejected or unavailable)",
            ingest_requests_failed.clone(),
        );
        let evaluation_duration = Histogram::new([
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ]);
        registry.register(
            "evaluation_duration_seconds",
            "Time to evaluate every SLO once",
            evaluation_duration.clone(),
        );
        let evaluation_failures = Counter::default();
        registry.register(
            "evaluation_commit_failures",
            "Evaluations whose alert transitions could not be made durable (retried next cycle)",
            evaluation_failures.clone(),
        );
        let outbox_depth = Gauge::default();
        registry.register(
            "outbox_depth",
            "Notifications waiting to be delivered",
            outbox_depth.clone(),
        );
        let delivery_failures = Counter::default();
        registry.register(
            "delivery_failures",
            "Failed notification delivery attempts",
            delivery_failures.clone(),
        );
        let deliveries = Counter::default();
        registry.register("deliveries", "Notifications delivered", deliveries.clone());
        let alert_transitions = Family::<TransitionLabels, Counter>::default();
        registry.register(
            "alert_transitions",
            "Alert transitions, by severity and change",
            alert_transitions.clone(),
        );
        let slos = Gauge::default();
        registry.register("slos", "SLOs evaluated", slos.clone());
        let pull_queries = Family::<IngestLabels, Counter>::default();
        registry.register(
            "pull_queries",
            "Range queries sent to pull sources, by source and outcome (ok or error)",
            pull_queries.clone(),
        );
        let pull_minutes = Family::<IngestLabels, Counter>::default();
        registry.register(
            "pull_minutes",
            "Minutes pulled, by source and outcome (counted, or missing when an answer was unusable)",
            pull_minutes.clone(),
        );
        let pull_duration = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ]);
        registry.register(
            "pull_duration_seconds",
            "Time to bring one SLO up to date from its source (every query and the commit)",
            pull_duration.clone(),
        );
        Metrics {
            registry,
            pull_queries,
            pull_minutes,
            pull_duration,
            ingest_samples,
            ingest_requests_failed,
            evaluation_duration,
            evaluation_failures,
            outbox_depth,
            delivery_failures,
            deliveries,
            alert_transitions,
            slos,
            last_evaluation_unix: AtomicU64::new(0),
        }
    }

    pub fn count_ingest(&self, source: &str, outcome: &str, amount: u64) {
        if amount > 0 {
            let labels = IngestLabels {
                source: source.to_string(),
                outcome: outcome.to_string(),
            };
            self.ingest_samples.get_or_create(&labels).inc_by(amount);
        }
    }

    pub fn count_pull_query(&self, source: &str, outcome: &str) {
        let labels = IngestLabels {
            source: source.to_string(),
            outcome: outcome.to_string(),
        };
        self.pull_queries.get_or_create(&labels).inc();
    }

    pub fn count_pull_minutes(&self, source: &str, outcome: &str, minutes: u64) {
        if minutes > 0 {
            let labels = IngestLabels {
                source: source.to_string(),
                outcome: outcome.to_string(),
            };
            self.pull_minutes.get_or_create(&labels).inc_by(minutes);
        }
    }

    pub fn count_failed_request(&self, source: &str, outcome: &str) {
        let labels = IngestLabels {
            source: source.to_string(),
            outcome: outcome.to_string(),
        };
        self.ingest_requests_failed.get_or_create(&labels).inc();
    }

    pub fn last_evaluation(&self) -> u64 {
        self.last_evaluation_unix.load(Ordering::Relaxed)
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}
