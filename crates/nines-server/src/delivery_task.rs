//! The notifier task: delivers the outbox (placeholder until the delivery worker lands).

use tokio::sync::watch;

use crate::server::AppState;

pub fn spawn(
    _state: &AppState,
    _shutdown: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    Vec::new()
}
