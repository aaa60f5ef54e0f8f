//! The intake writer: one task that owns the counter state, turns pushed data into counts,
//! makes them durable in one store transaction, and only then adopts the new state, feeds the
//! evaluator and answers. Requests are taken one at a time, so no lock is held across a store
//! write and no sample is counted twice.

use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use nines_store::{CountDelta, IntakeCommit, Store};
use tokio::sync::{mpsc, oneshot};

use crate::evaluator::Fleet;
use crate::intake::Batch;
use crate::intake::counter::{CounterState, IntakeStats};
use crate::intake::matcher::Matcher;
use crate::metrics::Metrics;

/// Samples further in the future than this are refused (clock skew allowance).
pub const MAX_FUTURE_MINUTES: i64 = 5;

pub enum Work {
    /// Remote write or OTLP series.
    Batch { source: &'static str, batch: Batch },
    /// Counts posted for one SLO (JSON API, probes).
    Counts {
        source: &'static str,
        counts: Vec<CountDelta>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The client's fault; nothing was changed (4xx).
    Rejected(String),
    /// Not durable; nothing was changed; the client should retry (5xx).
    Unavailable(String),
}

pub struct Request {
    pub work: Work,
    pub reply: oneshot::Sender<Result<IntakeStats, Failure>>,
}

/// The sending side, cloned into handlers.
#[derive(Clone)]
pub struct WriterHandle {
    sender: mpsc::Sender<Request>,
}

impl WriterHandle {
    pub async fn submit(&self, work: Work) -> Result<IntakeStats, Failure> {
        let (reply, answer) = oneshot::channel();
        if self.sender.send(Request { work, reply }).await.is_err() {
            return Err(Failure::Unavailable(
                "the server is shutting down".to_string(),
            ));
        }
        answer.await.unwrap_or_else(|_| {
            Err(Failure::Unavailable(
                "the intake writer stopped".to_string(),
            ))
        })
    }
}

pub struct Writer {
    pub store: Arc<dyn Store>,
    pub fleet: Arc<Mutex<Fleet>>,
    pub matcher: Matcher,
    pub state: CounterState,
    pub metrics: Arc<Metrics>,
}

impl Writer {
    pub fn spawn(self, capacity: usize) -> (WriterHandle, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(capacity);
        let task = tokio::spawn(self.run(receiver));
        (WriterHandle { sender }, task)
    }

    async fn run(mut self, mut receiver: mpsc::Receiver<Request>) {
        // Ends when every handle is dropped, after answering what was queued.
        while let Some(request) = receiver.recv().await {
            let answer = self.handle(request.work).await;
            let _ = request.reply.send(answer);
        }
    }

    async fn handle(&mut self, work: Work) -> Result<IntakeStats, Failure> {
        let now_minute = Timestamp::now().as_second().div_euclid(60);
        match work {
            Work::Batch { source, batch } => {
                let prepared = self.state.prepare(&self.matcher, &batch);
                let result = self.commit(source, &prepared.commit, now_minute).await;
                match result {
                    Ok(()) => {
                        self.state.adopt(&prepared);
                        let stats = prepared.stats;
                        self.metrics
                            .count_ingest(source, "accepted", stats.accepted);
                        self.metrics.count_ingest(
                            source,
                            "dropped_unrelated",
                            stats.dropped_unrelated,
                        );
                        self.metrics.count_ingest(
                            source,
                            "dropped_unsupported",
                            stats.dropped_unsupported,
                        );
                        self.metrics
                            .count_ingest(source, "out_of_order", stats.out_of_order);
                        self.metrics.count_ingest(source, "invalid", stats.invalid);
                        Ok(stats)
                    }
                    Err(failure) => Err(failure),
                }
            }
            Work::Counts { source, counts } => {
                let commit = IntakeCommit {
                    series: Vec::new(),
                    counts,
                };
                self.commit(source, &commit, now_minute).await?;
                let events: i64 = commit.counts.iter().map(|count| count.total).sum();
                self.metrics
                    .count_ingest(source, "accepted", events.max(0) as u64);
                Ok(IntakeStats {
                    accepted: events.max(0) as u64,
                    ..IntakeStats::default()
                })
            }
        }
    }

    /// Checks the counts' times, writes them, then adds them to the evaluator's buckets.
    async fn commit(
        &mut self,
        source: &str,
        commit: &IntakeCommit,
        now_minute: i64,
    ) -> Result<(), Failure> {
        {
            let fleet = self
                .fleet
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for count in &commit.counts {
                let Some(entry) = fleet.get(&count.slo_id) else {
                    return Err(Failure::Rejected(format!(
                        "unknown SLO id {:?}",
                        count.slo_id
                    )));
                };
                if count.minute > now_minute + MAX_FUTURE_MINUTES {
                    self.metrics.count_failed_request(source, "rejected");
                    return Err(Failure::Rejected(format!(
                        "a sample for SLO {:?} is at {}, more than {MAX_FUTURE_MINUTES} minutes in the future",
                        count.slo_id,
                        minute_text(count.minute)
                    )));
                }
                let oldest = now_minute - entry.def.spec.retention_minutes() + 60;
                if count.minute < oldest {
                    self.metrics.count_failed_request(source, "rejected");
                    return Err(Failure::Rejected(format!(
                        "a sample for SLO {:?} is at {}, older than its window (nothing before {})",
                        count.slo_id,
                        minute_text(count.minute),
                        minute_text(oldest)
                    )));
                }
            }
        }
        if commit.counts.is_empty() && commit.series.is_empty() {
            return Ok(());
        }
        if let Err(err) = self.store.commit_intake(commit).await {
            tracing::error!(error = %err, "intake commit failed");
            self.metrics.count_failed_request(source, "unavailable");
            return Err(Failure::Unavailable(
                "the store did not take the data; retry".to_string(),
            ));
        }
        let mut fleet = self
            .fleet
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for count in &commit.counts {
            let at = Timestamp::from_second(count.minute * 60).unwrap_or(Timestamp::UNIX_EPOCH);
            if let Err(err) = fleet.record(
                &count.slo_id,
                at,
                count.counted.max(0) as u64,
                count.total.max(0) as u64,
            ) {
                tracing::warn!(slo = %count.slo_id, error = %err, "durable counts not applied in memory");
            }
        }
        Ok(())
    }
}

fn minute_text(minute: i64) -> String {
    Timestamp::from_second(minute.saturating_mul(60))
        .map(|at| at.to_string())
        .unwrap_or_else(|_| minute.to_string())
}
