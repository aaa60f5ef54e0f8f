//! Built-in HTTP probes: each probe SLO gets a task that requests its URL on its interval and
//! records one event per check, bad when the status is not the expected one, the request fails
//! or times out, or the answer is slower than the latency threshold.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use nines_spec::Sli;
use nines_spec::catalog::Probe;
use nines_store::CountDelta;
use tokio::sync::watch;

use crate::server::AppState;
use crate::writer::Work;

/// Whether one check was good, and why not.
pub async fn check(client: &reqwest::Client, probe: &Probe) -> Result<(), String> {
    let timeout = Duration::from_secs(probe.timeout.as_secs().max(1) as u64);
    let started = Instant::now();
    let response = client
        .get(&probe.url)
        .timeout(timeout)
        .send()
        .await
        .map_err(|err| format!("request failed: {err}"))?;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    if status != probe.expected_status {
        return Err(format!(
            "status {status}, expected {}",
            probe.expected_status
        ));
    }
    if let Some(threshold) = probe.latency_threshold
        && elapsed > Duration::from_secs_f64(threshold.as_secs_f64())
    {
        return Err(format!("answered in {elapsed:?}, slower than {threshold}"));
    }
    Ok(())
}

pub fn spawn(
    state: &AppState,
    shutdown: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let client = reqwest::Client::builder()
        .user_agent("nines-probe")
        .build()
        .unwrap_or_default();
    let mut tasks = Vec::new();
    for slo in &state.catalog.slos {
        let Sli::Probe(probe) = &slo.sli else {
            continue;
        };
        let probe = probe.clone();
        let id = slo.id.as_str().to_string();
        let writer = state.writer.clone();
        let client = client.clone();
        let mut shutdown = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(probe.interval.as_secs().max(1) as u64));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.changed() => break,
                }
                let outcome = check(&client, &probe).await;
                if let Err(reason) = &outcome {
                    tracing::info!(slo = %id, url = %probe.url, reason = %reason, "probe check failed");
                }
                let minute = Timestamp::now().as_second().div_euclid(60);
                let counts = vec![CountDelta { slo_id: id.clone(), minute, counted: i64::from(outcome.is_ok()), total: 1 }];
                if let Err(err) = writer.submit(Work::Counts { source: "probe", counts }).await {
                    tracing::warn!(slo = %id, error = ?err, "probe result not recorded");
                }
            }
        }));
    }
    tasks
}
