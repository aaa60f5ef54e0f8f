//! The notifier task: builds the deliverer from the configured channels and runs it until
//! shutdown, feeding its counters into `/metrics`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;

use crate::delivery::{Deliverer, DeliverySettings};
use crate::server::AppState;

/// Builds the deliverer; every channel problem (a missing secret, a bad URL) at once.
pub fn build(state: &AppState) -> Result<Deliverer, String> {
    Deliverer::new(
        &state.catalog.channels,
        &state.config.environment,
        DeliverySettings::default(),
    )
    .map_err(|err| err.to_string())
}

pub fn spawn(
    state: &AppState,
    deliverer: Deliverer,
    shutdown: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let counters = deliverer.counters();
    let store = state.store.clone();
    let mut tasks = vec![tokio::spawn(deliverer.run(store, shutdown.clone()))];
    // Mirrors the deliverer's counters into the metrics registry.
    let metrics = state.metrics.clone();
    let mut stop = shutdown;
    tasks.push(tokio::spawn(async move {
        let (mut delivered_seen, mut failed_seen) = (0u64, 0u64);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            let delivered = counters.delivered.load(Ordering::Relaxed);
            let failed = counters.failed_attempts.load(Ordering::Relaxed);
            metrics
                .deliveries
                .inc_by(delivered.saturating_sub(delivered_seen));
            metrics
                .delivery_failures
                .inc_by(failed.saturating_sub(failed_seen));
            (delivered_seen, failed_seen) = (delivered, failed);
        }
    }));
    tasks
}
