//! Counter samples into per-minute counts, with Prometheus `increase` semantics: the first
//! sample of a series only sets its baseline, a drop is a counter reset (the new value is the
//! increment), and a sample at or before the series' last timestamp is a resend or out of order
//! and is ignored. Increments are added to the minute of the sample's timestamp.
//!
//! [`CounterState::prepare`] reads the state and returns the new states of the series it
//! touched inside an [`IntakeCommit`]; [`CounterState::adopt`] applies them once the commit is
//! durable. A failed commit leaves the state as it was, so the client's retry counts again.
//!
//! Counts are whole numbers: a minute's increments of one SLO are summed as floats and rounded
//! to the nearest integer (counters of requests only ever grow by whole numbers).

use std::collections::{HashMap, HashSet};

use nines_store::{CountDelta, IntakeCommit, SeriesState};

use super::matcher::{MatchScratch, Matcher, Role, SloProblem};
use super::{Batch, Label, Temporality};

/// The bit pattern Prometheus writes as a staleness marker (a NaN).
const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

const MS_PER_MINUTE: i64 = 60_000;

/// What became of the samples of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntakeStats {
    /// Samples of matched series taken: baselines and increments (including zero ones).
    pub accepted: u64,
    /// Of the accepted, first samples of a series that only set its baseline.
    pub baselines: u64,
    /// Of the accepted, samples lower than the one before (a restarted process).
    pub counter_resets: u64,
    /// Samples of series no SLO selects.
    pub dropped_unrelated: u64,
    /// Data points the decoder could not use (gauges, non-monotonic sums...).
    pub dropped_unsupported: u64,
    /// Samples at or before the series' last timestamp: resends and out-of-order samples.
    pub out_of_order: u64,
    /// NaN, infinite or negative values, and series with a label name twice.
    pub invalid: u64,
    /// Prometheus staleness markers (a series went away); nothing to count.
    pub stale_markers: u64,
}

/// The outcome of [`CounterState::prepare`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prepared {
    /// Series states to write and counts to add, sorted by series key and by SLO and minute.
    pub commit: IntakeCommit,
    pub stats: IntakeStats,
    /// Latency SLOs whose histogram arrived without a bucket at the threshold, and whose
    /// threshold bucket has not been seen since the state was created.
    pub problems: Vec<SloProblem>,
    /// Latency SLOs whose threshold bucket arrived (see [`Matcher::latency_key`]).
    pub thresholds_seen: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Last {
    value: f64,
    timestamp_ms: i64,
}

/// The last sample of every counted series, keyed by [`series_key`].
#[derive(Debug, Clone, Default)]
pub struct CounterState {
    series: HashMap<String, Last>,
    /// Latency SLOs whose threshold bucket has arrived. Remote write spreads the series of one
    /// histogram over parallel requests, so one request lacking the bucket at the threshold
    /// proves nothing once another request had it. Kept in memory only: after a restart a
    /// request without the bucket can report the problem until the bucket arrives again.
    thresholds_seen: HashSet<String>,
}

impl CounterState {
    pub fn new() -> CounterState {
        CounterState::default()
    }

    /// The state as the store kept it (after a restart).
    pub fn from_states(states: impl IntoIterator<Item = SeriesState>) -> CounterState {
        let mut state = CounterState::new();
        state.adopt_states(states);
        state
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    pub fn get(&self, series_key: &str) -> Option<SeriesState> {
        self.series.get(series_key).map(|last| SeriesState {
            series_key: series_key.to_string(),
            last_value: last.value,
            last_timestamp_ms: last.timestamp_ms,
        })
    }

    /// Takes the outcome of [`CounterState::prepare`] once its commit is durable.
    pub fn adopt(&mut self, prepared: &Prepared) {
        self.adopt_states(prepared.commit.series.iter().cloned());
        self.thresholds_seen
            .extend(prepared.thresholds_seen.iter().cloned());
    }

    fn adopt_states(&mut self, states: impl IntoIterator<Item = SeriesState>) {
        for state in states {
            self.series.insert(
                state.series_key,
                Last {
                    value: state.last_value,
                    timestamp_ms: state.last_timestamp_ms,
                },
            );
        }
    }

    /// Matches every series of `batch` and turns the samples of matched ones into counts,
    /// without changing `self`.
    pub fn prepare(&self, matcher: &Matcher, batch: &Batch) -> Prepared {
        let mut stats = IntakeStats {
            dropped_unsupported: batch.dropped_unsupported,
            ..IntakeStats::default()
        };
        let mut scratch = MatchScratch::default();
        let mut key = String::new();
        let mut touched: HashMap<String, Last> = HashMap::new();
        // (SLO index, minute) -> (counted, total).
        let mut counts: HashMap<(usize, i64), (f64, f64)> = HashMap::new();
        let mut near_misses: HashMap<usize, Vec<f64>> = HashMap::new();
        let mut counted_slos: HashSet<usize> = HashSet::new();

        for series in &batch.series {
            let n_samples = series.samples.len() as u64;
            let matched = matcher.match_series(&series.labels, &mut scratch);
            for miss in &scratch.near_misses {
                near_misses.entry(miss.slo).or_default().push(miss.le);
            }
            if !matched {
                stats.dropped_unrelated += n_samples;
                continue;
            }
            for target in &scratch.targets {
                if target.role == Role::Counted {
                    counted_slos.insert(target.slo);
                }
            }
            if !series_key_into(&series.labels, &mut key) {
                stats.invalid += n_samples;
                continue;
            }
            let mut last = touched
                .get(key.as_str())
                .or_else(|| self.series.get(key.as_str()))
                .copied();
            let last_before = last;
            for sample in &series.samples {
                let value = sample.value;
                if value.to_bits() == STALE_NAN_BITS {
                    stats.stale_markers += 1;
                    continue;
                }
                if !value.is_finite() || value < 0.0 {
                    stats.invalid += 1;
                    continue;
                }
                let increment = match (series.temporality, last) {
                    (_, Some(previous)) if sample.timestamp <= previous.timestamp_ms => {
                        stats.out_of_order += 1;
                        continue;
                    }
                    (Temporality::Cumulative, None) => {
                        stats.baselines += 1;
                        0.0
                    }
                    (Temporality::Cumulative, Some(previous)) if value < previous.value => {
                        stats.counter_resets += 1;
                        value
                    }
                    (Temporality::Cumulative, Some(previous)) => value - previous.value,
                    (Temporality::Delta, _) => value,
                };
                stats.accepted += 1;
                last = Some(Last {
                    value,
                    timestamp_ms: sample.timestamp,
                });
                if increment > 0.0 {
                    let minute = sample.timestamp.div_euclid(MS_PER_MINUTE);
                    for target in &scratch.targets {
                        let entry = counts.entry((target.slo, minute)).or_default();
                        match target.role {
                            Role::Counted => entry.0 += increment,
                            Role::Total => entry.1 += increment,
                        }
                    }
                }
            }
            if let Some(last) = last
                && last_before != Some(last)
            {
                match touched.get_mut(key.as_str()) {
                    Some(entry) => *entry = last,
                    None => {
                        touched.insert(key.clone(), last);
                    }
                }
            }
        }

        let mut series: Vec<SeriesState> = touched
            .into_iter()
            .map(|(series_key, last)| SeriesState {
                series_key,
                last_value: last.value,
                last_timestamp_ms: last.timestamp_ms,
            })
            .collect();
        series.sort_by(|a, b| a.series_key.cmp(&b.series_key));

        let slo_ids = matcher.slo_ids();
        let mut deltas: Vec<CountDelta> = counts
            .into_iter()
            .filter_map(|((slo, minute), (counted, total))| {
                Some(CountDelta {
                    slo_id: slo_ids.get(slo)?.as_str().to_string(),
                    minute,
                    counted: counted.round() as i64,
                    total: total.round() as i64,
                })
            })
            .filter(|delta| delta.counted != 0 || delta.total != 0)
            .collect();
        deltas.sort_by(|a, b| (&a.slo_id, a.minute).cmp(&(&b.slo_id, b.minute)));

        let mut problems: Vec<SloProblem> = near_misses
            .into_iter()
            .filter(|(slo, _)| !counted_slos.contains(slo))
            .filter(|(slo, _)| {
                matcher
                    .latency_key(*slo)
                    .is_none_or(|key| !self.thresholds_seen.contains(&key))
            })
            .filter_map(|(slo, les)| matcher.missing_bucket_problem(slo, &les))
            .collect();
        problems.sort_by(|a, b| a.slo_id.cmp(&b.slo_id));
        let mut thresholds_seen: Vec<String> = counted_slos
            .into_iter()
            .filter_map(|slo| matcher.latency_key(slo))
            .collect();
        thresholds_seen.sort();

        Prepared {
            commit: IntakeCommit {
                series,
                counts: deltas,
            },
            stats,
            problems,
            thresholds_seen,
        }
    }
}

/// Writes the stable key of a label set into `key`: `{a="1",b="2"}` with labels sorted by name
/// and values escaped as in PromQL. Returns false if a label name occurs twice or a label is not
/// UTF-8.
pub fn series_key_into(labels: &[Label], key: &mut String) -> bool {
    key.clear();
    key.push('{');
    let sorted = labels.windows(2).all(|pair| pair[0].name < pair[1].name);
    if sorted {
        for (position, label) in labels.iter().enumerate() {
            if !push_label(key, position, label) {
                return false;
            }
        }
        key.push('}');
        return true;
    }
    let mut refs: Vec<&Label> = labels.iter().collect();
    refs.sort_by(|a, b| a.name.cmp(&b.name));
    if refs.windows(2).any(|pair| pair[0].name == pair[1].name) {
        return false;
    }
    for (position, label) in refs.into_iter().enumerate() {
        if !push_label(key, position, label) {
            return false;
        }
    }
    key.push('}');
    true
}

/// The stable key of a label set (see [`series_key_into`]), or `None` with a duplicate name.
pub fn series_key(labels: &[Label]) -> Option<String> {
    let mut key = String::new();
    series_key_into(labels, &mut key).then_some(key)
}

/// Appends `name="value"`; false if either is not UTF-8.
fn push_label(key: &mut String, position: usize, label: &Label) -> bool {
    let (Some(name), Some(value)) = (label.name_str(), label.value_str()) else {
        return false;
    };
    if position > 0 {
        key.push(',');
    }
    key.push_str(name);
    key.push_str("=\"");
    if value
        .bytes()
        .any(|byte| matches!(byte, b'\\' | b'"' | b'\n'))
    {
        for c in value.chars() {
            match c {
                '\\' => key.push_str("\\\\"),
                '"' => key.push_str("\\\""),
                '\n' => key.push_str("\\n"),
                c => key.push(c),
            }
        }
    } else {
        key.push_str(value);
    }
    key.push('"');
    true
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::intake::test_support::{catalog, counters, labels, latency};
    use crate::intake::{IncomingSeries, Sample};

    const MIN: i64 = 60_000;

    /// A series as text and its samples as (value, timestamp in ms).
    type SeriesInput<'a> = (&'a str, &'a [(f64, i64)]);
    /// The series of one batch and the rendering expected of its outcome.
    type Step<'a> = (&'a [SeriesInput<'a>], &'a str);

    fn batch(series: &[SeriesInput], temporality: Temporality) -> Batch {
        Batch {
            series: series
                .iter()
                .map(|(text, samples)| IncomingSeries {
                    labels: labels(text),
                    samples: samples
                        .iter()
                        .map(|&(value, timestamp)| Sample { value, timestamp })
                        .collect(),
                    temporality,
                })
                .collect(),
            dropped_unsupported: 0,
        }
    }

    fn render(prepared: &Prepared) -> String {
        let counts: Vec<String> = prepared
            .commit
            .counts
            .iter()
            .map(|delta| {
                format!(
                    "{}@{} {}/{}",
                    delta.slo_id, delta.minute, delta.counted, delta.total
                )
            })
            .collect();
        let stats = prepared.stats;
        let mut out = format!(
            "counts [{}] accepted {} baselines {} resets {} unrelated {} out-of-order {} invalid {} stale {}",
            counts.join(", "),
            stats.accepted,
            stats.baselines,
            stats.counter_resets,
            stats.dropped_unrelated,
            stats.out_of_order,
            stats.invalid,
            stats.stale_markers,
        );
        for problem in &prepared.problems {
            out.push_str(&format!(
                "\nproblem {}: {}",
                problem.slo_id, problem.message
            ));
        }
        out
    }

    /// Feeds each batch in turn, adopting its commit, and compares the rendered outcomes.
    fn check(matcher: &Matcher, temporality: Temporality, steps: &[Step]) -> CounterState {
        let mut state = CounterState::new();
        for (position, (series, expected)) in steps.iter().enumerate() {
            let prepared = state.prepare(matcher, &batch(series, temporality));
            assert_eq!(render(&prepared), *expected, "step {position}");
            state.adopt(&prepared);
        }
        state
    }

    fn api_matcher() -> Matcher {
        Matcher::build(&catalog(vec![counters(
            "api",
            r#"http_requests_total{code=~"5.."}"#,
            "http_requests_total",
        )]))
    }

    #[test]
    fn first_sample_is_a_baseline_then_increments_by_minute() {
        let state = check(
            &api_matcher(),
            Temporality::Cumulative,
            &[
                (
                    &[
                        ("http_requests_total{code=\"200\"}", &[(100.0, 10 * MIN)]),
                        ("http_requests_total{code=\"500\"}", &[(5.0, 10 * MIN)]),
                        (
                            "process_cpu_seconds_total",
                            &[(1.0, 10 * MIN), (2.0, 11 * MIN)],
                        ),
                    ],
                    "counts [] accepted 2 baselines 2 resets 0 unrelated 2 out-of-order 0 invalid 0 stale 0",
                ),
                (
                    &[
                        (
                            "http_requests_total{code=\"200\"}",
                            &[(110.0, 10 * MIN + 30_000), (130.0, 11 * MIN)],
                        ),
                        (
                            "http_requests_total{code=\"500\"}",
                            &[(7.0, 11 * MIN + 59_999)],
                        ),
                    ],
                    "counts [api@10 0/10, api@11 2/22] accepted 3 baselines 0 resets 0 unrelated 0 out-of-order 0 invalid 0 stale 0",
                ),
            ],
        );
        assert_eq!(
            state.get(r#"{__name__="http_requests_total",code="200"}"#),
            Some(SeriesState {
                series_key: r#"{__name__="http_requests_total",code="200"}"#.to_string(),
                last_value: 130.0,
                last_timestamp_ms: 11 * MIN,
            })
        );
        assert_eq!(state.len(), 2, "unrelated series keep no state");
    }

    #[test]
    fn counter_reset_counts_the_new_value() {
        check(
            &api_matcher(),
            Temporality::Cumulative,
            &[(
                &[(
                    "http_requests_total{code=\"503\"}",
                    &[(50.0, 0), (60.0, MIN), (4.0, 2 * MIN), (6.0, 3 * MIN)],
                )],
                "counts [api@1 10/10, api@2 4/4, api@3 2/2] accepted 4 baselines 1 resets 1 unrelated 0 out-of-order 0 invalid 0 stale 0",
            )],
        );
    }

    #[test]
    fn resends_and_out_of_order_samples_are_ignored() {
        let series = "http_requests_total{code=\"500\"}";
        check(
            &api_matcher(),
            Temporality::Cumulative,
            &[
                (
                    &[(series, &[(1.0, MIN), (3.0, 2 * MIN), (2.0, 2 * MIN - 1)])],
                    "counts [api@2 2/2] accepted 2 baselines 1 resets 0 unrelated 0 out-of-order 1 invalid 0 stale 0",
                ),
                // The whole batch again, as a client retrying after a timeout would send it.
                (
                    &[(series, &[(1.0, MIN), (3.0, 2 * MIN)])],
                    "counts [] accepted 0 baselines 0 resets 0 unrelated 0 out-of-order 2 invalid 0 stale 0",
                ),
                // The same series twice in one batch: the second copy is a resend too.
                (
                    &[
                        (series, &[(4.0, 3 * MIN)]),
                        (series, &[(4.0, 3 * MIN), (5.0, 4 * MIN)]),
                    ],
                    "counts [api@3 1/1, api@4 1/1] accepted 2 baselines 0 resets 0 unrelated 0 out-of-order 1 invalid 0 stale 0",
                ),
            ],
        );
    }

    #[test]
    fn invalid_values_and_staleness_markers_are_rejected() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        check(
            &api_matcher(),
            Temporality::Cumulative,
            &[
                (
                    &[(
                        "http_requests_total{code=\"500\"}",
                        &[
                            (f64::NAN, 0),
                            (1.0, MIN),
                            (f64::INFINITY, 2 * MIN),
                            (-3.0, 3 * MIN),
                            (stale, 4 * MIN),
                            (2.0, 5 * MIN),
                        ],
                    )],
                    "counts [api@5 1/1] accepted 2 baselines 1 resets 0 unrelated 0 out-of-order 0 invalid 3 stale 1",
                ),
                (
                    &[(
                        "http_requests_total{code=\"500\",code=\"501\"}",
                        &[(1.0, MIN)],
                    )],
                    "counts [] accepted 0 baselines 0 resets 0 unrelated 0 out-of-order 0 invalid 1 stale 0",
                ),
            ],
        );
    }

    #[test]
    fn delta_samples_are_increments() {
        check(
            &api_matcher(),
            Temporality::Delta,
            &[
                (
                    &[(
                        "http_requests_total{code=\"500\"}",
                        &[(3.0, MIN), (2.0, 2 * MIN)],
                    )],
                    "counts [api@1 3/3, api@2 2/2] accepted 2 baselines 0 resets 0 unrelated 0 out-of-order 0 invalid 0 stale 0",
                ),
                (
                    &[(
                        "http_requests_total{code=\"500\"}",
                        &[(2.0, 2 * MIN), (1.5, 3 * MIN), (0.5, 3 * MIN + 1)],
                    )],
                    "counts [api@3 2/2] accepted 2 baselines 0 resets 0 unrelated 0 out-of-order 1 invalid 0 stale 0",
                ),
            ],
        );
    }

    #[test]
    fn one_series_feeds_several_slos() {
        let matcher = Matcher::build(&catalog(vec![
            counters(
                "errors",
                r#"http_requests_total{code=~"5.."}"#,
                "http_requests_total",
            ),
            counters(
                "unavailable",
                r#"http_requests_total{code="503"}"#,
                r#"http_requests_total{code!~"4.."}"#,
            ),
        ]));
        check(
            &matcher,
            Temporality::Cumulative,
            &[(
                &[
                    ("http_requests_total{code=\"503\"}", &[(0.0, 0), (4.0, MIN)]),
                    ("http_requests_total{code=\"404\"}", &[(0.0, 0), (6.0, MIN)]),
                ],
                "counts [errors@1 4/10, unavailable@1 4/4] accepted 4 baselines 2 resets 0 unrelated 0 out-of-order 0 invalid 0 stale 0",
            )],
        );
    }

    #[test]
    fn latency_slo_counts_fast_requests_of_a_histogram() {
        let matcher = Matcher::build(&catalog(vec![
            latency("fast", r#"http_request_duration_seconds{job="api"}"#, 0.25),
            latency(
                "off-bucket",
                r#"http_request_duration_seconds{job="api"}"#,
                0.3,
            ),
        ]));
        let bucket =
            |le: &str| format!(r#"http_request_duration_seconds_bucket{{job="api",le="{le}"}}"#);
        let (b01, b025, b1, inf) = (bucket("0.1"), bucket("0.25"), bucket("1"), bucket("+Inf"));
        let count = r#"http_request_duration_seconds_count{job="api"}"#;
        let samples: [&[(f64, i64)]; 5] = [
            &[(10.0, 0), (15.0, MIN)],
            &[(20.0, 0), (29.0, MIN)],
            &[(25.0, 0), (36.0, MIN)],
            &[(26.0, 0), (38.0, MIN)],
            &[(26.0, 0), (38.0, MIN)],
        ];
        check(
            &matcher,
            Temporality::Cumulative,
            &[
                (
                    &[
                        (b01.as_str(), samples[0]),
                        (b025.as_str(), samples[1]),
                        (b1.as_str(), samples[2]),
                        (inf.as_str(), samples[3]),
                        (count, samples[4]),
                    ],
                    "counts [fast@1 9/12, off-bucket@1 0/12] accepted 4 baselines 2 resets 0 unrelated 6 out-of-order 0 invalid 0 stale 0\n\
                 problem off-bucket: histogram http_request_duration_seconds{job=\"api\"} (threshold 0.3s) has no bucket at the threshold; buckets seen have le 0.1, 0.25, 1, inf; set the threshold to one of them or add a bucket boundary",
                ),
                // Remote write shards a histogram's series over parallel requests: one without
                // the threshold bucket is no problem once the bucket has been seen.
                (
                    &[(b1.as_str(), &[(40.0, 2 * MIN)])],
                    "counts [] accepted 0 baselines 0 resets 0 unrelated 1 out-of-order 0 invalid 0 stale 0\n\
                     problem off-bucket: histogram http_request_duration_seconds{job=\"api\"} (threshold 0.3s) has no bucket at the threshold; buckets seen have le 1; set the threshold to one of them or add a bucket boundary",
                ),
            ],
        );
    }

    #[test]
    fn prepare_leaves_the_state_alone_until_adopted() {
        let matcher = api_matcher();
        let state = CounterState::from_states([SeriesState {
            series_key: r#"{__name__="http_requests_total",code="500"}"#.to_string(),
            last_value: 10.0,
            last_timestamp_ms: 0,
        }]);
        let input = batch(
            &[("http_requests_total{code=\"500\"}", &[(12.0, MIN)])],
            Temporality::Cumulative,
        );
        let first = state.prepare(&matcher, &input);
        // The commit failed: the state is unchanged, so the retry counts the same again.
        let retry = state.prepare(&matcher, &input);
        assert_eq!(first, retry);
        assert_eq!(
            render(&first).split(" accepted").next(),
            Some("counts [api@1 2/2]")
        );
        let mut adopted = state.clone();
        adopted.adopt(&first);
        assert_eq!(
            render(&adopted.prepare(&matcher, &input))
                .split(" accepted")
                .next(),
            Some("counts []")
        );
    }

    #[test]
    fn labels_that_are_not_utf8_match_nothing_or_make_the_series_invalid() {
        let matcher = api_matcher();
        let mut input = batch(
            &[
                ("http_requests_total{code=\"500\",pod=\"x\"}", &[(1.0, 0)]),
                ("http_requests_total{code=\"x\"}", &[(1.0, 0)]),
            ],
            Temporality::Cumulative,
        );
        // A tested label: the regex cannot match it; `total` tests no `code` and matches, but
        // the series has no valid key.
        input.series[1].labels[1].value = bytes::Bytes::from_static(b"\xff");
        // An untested label: the series matches, but has no valid key.
        input.series[0].labels[2].value = bytes::Bytes::from_static(b"\xc3");
        let prepared = CounterState::new().prepare(&matcher, &input);
        assert_eq!(
            render(&prepared),
            "counts [] accepted 0 baselines 0 resets 0 unrelated 0 out-of-order 0 invalid 2 stale 0"
        );
        let mut scratch = MatchScratch::default();
        matcher.match_series(&input.series[1].labels, &mut scratch);
        assert_eq!(
            scratch.targets.len(),
            1,
            "only total: {:?}",
            scratch.targets
        );
    }

    #[test]
    fn series_keys_are_sorted_and_escaped() {
        let key = |pairs: &[(&str, &str)]| {
            series_key(
                &pairs
                    .iter()
                    .map(|(name, value)| Label::new(name, value))
                    .collect::<Vec<_>>(),
            )
        };
        let expected = Some(r#"{__name__="x",a="1",b="q\"\\\n"}"#.to_string());
        assert_eq!(
            key(&[("__name__", "x"), ("a", "1"), ("b", "q\"\\\n")]),
            expected
        );
        assert_eq!(
            key(&[("b", "q\"\\\n"), ("__name__", "x"), ("a", "1")]),
            expected
        );
        assert_eq!(key(&[("a", "1"), ("a", "2")]), None);
        assert_eq!(key(&[]), Some("{}".to_string()));
    }

    proptest! {
        /// However a counter's samples are split into batches (and resent), the counts add up
        /// to the same as feeding them at once.
        #[test]
        fn splitting_and_resending_batches_counts_the_same(
            steps in proptest::collection::vec((0.0_f64..20.0, any::<bool>()), 1..40),
            cuts in proptest::collection::vec(any::<bool>(), 40),
        ) {
            let matcher = api_matcher();
            let mut value = 0.0;
            let samples: Vec<(f64, i64)> = steps
                .iter()
                .enumerate()
                .map(|(position, (step, reset))| {
                    value = if *reset { *step } else { value + step };
                    (value.floor(), position as i64 * 20_000)
                })
                .collect();
            let total = |prepared: &Prepared| -> i64 {
                prepared.commit.counts.iter().map(|delta| delta.total).sum()
            };
            let name = "http_requests_total{code=\"500\"}";
            let whole = CounterState::new()
                .prepare(&matcher, &batch(&[(name, &samples)], Temporality::Cumulative));

            let mut state = CounterState::new();
            let mut split_total = 0;
            let mut start = 0;
            for end in 1..=samples.len() {
                if end == samples.len() || cuts[end] {
                    // Resend from the start each time: only the new samples count.
                    let prepared = state.prepare(
                        &matcher,
                        &batch(&[(name, &samples[..end])], Temporality::Cumulative),
                    );
                    split_total += total(&prepared);
                    state.adopt(&prepared);
                    start = end;
                }
            }
            prop_assert_eq!(start, samples.len());
            prop_assert_eq!(split_total, total(&whole));
        }
    }
}
