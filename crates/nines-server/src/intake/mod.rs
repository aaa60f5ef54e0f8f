//! Intake of pushed metrics: decoding (Prometheus remote write, OTLP), matching series against
//! the SLOs' selectors, and turning counter samples into per-minute counts. No IO and no clock:
//! the HTTP layer hands in bodies and gets back an [`IntakeCommit`] to store.
//!
//! The flow of one request:
//!
//! 1. [`remote_write::decode`] or [`otlp::decode`] turns the body into a [`Batch`].
//! 2. [`counter::CounterState::prepare`] matches each series with a [`matcher::Matcher`] built
//!    once from the catalog and computes the counts and the new series states, without changing
//!    the state it reads.
//! 3. The caller writes the commit to the store and only then calls
//!    [`counter::CounterState::adopt`]. Prepare, commit and adopt must not interleave between
//!    two requests (hold one lock across them), or a sample could be counted twice.
//!
//! [`IntakeCommit`]: nines_store::IntakeCommit

pub mod counter;
pub mod matcher;
pub mod otlp;
pub mod remote_write;

pub use counter::{CounterState, IntakeStats, Prepared};
pub use matcher::{Matcher, Role, SloProblem, Target};
pub use remote_write::{Label, Sample};

/// Why a pushed body could not be read. Every variant is the client's fault (a 4xx answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    #[error("corrupt snappy block: {0}")]
    Snappy(String),
    #[error("body too large: {size} bytes {what} exceed the limit of {limit} bytes")]
    TooLarge {
        /// `decompressed` or `received`.
        what: &'static str,
        size: usize,
        limit: usize,
    },
    #[error("truncated or invalid {message} protobuf: {detail}")]
    Protobuf {
        message: &'static str,
        detail: String,
    },
}

/// How the values of a series are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temporality {
    /// A counter's running total (Prometheus counters, OTLP cumulative sums): increments are
    /// differences between samples.
    Cumulative,
    /// Each value is the increment since the previous one (OTLP delta sums).
    Delta,
}

/// One pushed series: its labels (with `__name__`) and its samples, oldest first as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingSeries {
    pub labels: Vec<Label>,
    pub samples: Vec<Sample>,
    pub temporality: Temporality,
}

/// Every series of one request, in the one form both decoders produce.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub series: Vec<IncomingSeries>,
    /// Data points the decoder skipped because nines cannot count them (gauges, non-monotonic
    /// sums, summaries, exponential histograms, points without a recorded value).
    pub dropped_unsupported: u64,
}

impl Batch {
    /// The series of a remote-write request, moved (not copied); metadata is dropped.
    pub fn from_write_request(request: remote_write::WriteRequest) -> Batch {
        let series = request
            .timeseries
            .into_iter()
            .map(|timeseries| IncomingSeries {
                labels: timeseries.labels,
                samples: timeseries.samples,
                temporality: Temporality::Cumulative,
            })
            .collect();
        Batch {
            series,
            dropped_unsupported: 0,
        }
    }

    pub fn n_samples(&self) -> usize {
        self.series.iter().map(|series| series.samples.len()).sum()
    }
}

/// Catalogs for the tests of the intake modules.
#[cfg(test)]
pub(crate) mod test_support {
    use nines_core::{AlertPolicy, BudgetingMethod, CountKind, Objective, SloSpec, Span, Window};
    use nines_spec::{Catalog, Format, Origin, Sli, SloDef, SloId};

    pub fn slo(id: &str, count_kind: CountKind, sli: Sli) -> SloDef {
        SloDef {
            id: SloId::new(id).expect("test ids are valid"),
            name: id.to_string(),
            service: "api".to_string(),
            description: None,
            journey: None,
            labels: Default::default(),
            spec: SloSpec {
                objective: Objective::new(0.999).expect("valid objective"),
                window: Window::rolling(Span::days(28)).expect("valid window"),
                method: BudgetingMethod::Occurrences,
                policy: AlertPolicy::workbook(),
                count_kind,
            },
            window_from_file: true,
            sli,
            source: None,
            alerting: Default::default(),
            budget_policy: None,
            runbook: None,
            kubernetes: None,
            origin: Origin {
                file: "test.yaml".to_string(),
                line: 1,
                path: format!("slos[{id}]"),
                format: Format::Native,
            },
        }
    }

    /// An SLO counting `counted` (bad events unless `good:` starts it) out of `total`.
    pub fn counters(id: &str, counted: &str, total: &str) -> SloDef {
        let (count_kind, good, bad) = match counted.strip_prefix("good:") {
            Some(good) => (CountKind::Good, Some(good.to_string()), None),
            None => (CountKind::Bad, None, Some(counted.to_string())),
        };
        slo(
            id,
            count_kind,
            Sli::Counters {
                good,
                bad,
                total: total.to_string(),
            },
        )
    }

    pub fn latency(id: &str, histogram: &str, threshold_seconds: f64) -> SloDef {
        slo(
            id,
            CountKind::Good,
            Sli::Latency {
                histogram: histogram.to_string(),
                threshold_seconds,
            },
        )
    }

    pub fn catalog(slos: Vec<SloDef>) -> Catalog {
        Catalog {
            slos,
            ..Catalog::default()
        }
    }

    /// Labels from `name{a="1",b="2"}`-like text without escapes: `("name", [("a","1"), ...])`.
    pub fn labels(text: &str) -> Vec<super::Label> {
        let (name, rest) = text.split_once('{').unwrap_or((text, "}"));
        let mut labels = Vec::new();
        if !name.is_empty() {
            labels.push(super::Label::new("__name__", name));
        }
        let body = rest.trim_end_matches('}');
        for pair in body.split(',').filter(|pair| !pair.is_empty()) {
            let (label, value) = pair.split_once('=').expect("name=\"value\"");
            labels.push(super::Label::new(
                label.trim(),
                value.trim().trim_matches('"'),
            ));
        }
        labels
    }
}
