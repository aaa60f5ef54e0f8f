//! Which SLO counts a pushed series: every intake SLI's selectors compiled once from the
//! catalog, indexed by metric name so that unrelated series cost one hash lookup.
//!
//! Selectors are parsed with promql-parser, whose regexes are fully anchored as in Prometheus
//! (`code=~"5.."` matches `500`, not `1500`). A label the series lacks matches as the empty
//! string, as in Prometheus. Selectors joined with `or` (`{a="1" or b="2"}`) match when any
//! group matches.
//!
//! Which series feed which count:
//!
//! - `Sli::Counters`: the `good` selector (when the SLO counts good events) or the `bad` one
//!   feeds [`Role::Counted`], `total` feeds [`Role::Total`].
//! - `Sli::Latency { histogram, threshold_seconds }`: `histogram_bucket` series whose `le` equals
//!   the threshold (compared as numbers, so `0.30` is `0.3`) feed [`Role::Counted`] (good
//!   events) and `histogram_count` feeds [`Role::Total`]. The threshold must be a bucket
//!   boundary: taking the next lower bucket would silently count requests between that
//!   boundary and the threshold as slow. When buckets of the histogram arrive but none at the
//!   threshold, [`Matcher::match_series`] reports a near miss that becomes an [`SloProblem`].
//!   A histogram selector may be written with or without its `_bucket` suffix.
//!
//! Other SLIs (PromQL queries, pushed events, external sources) take no part in intake.

use std::collections::HashMap;

use nines_core::CountKind;
use nines_spec::{Catalog, Sli, SloId};
use promql_parser::label::{MatchOp, Matcher as LabelMatcher};
use promql_parser::parser::Expr;

use super::Label;

const METRIC_NAME: &str = "__name__";

/// Which of an SLO's two counts a series feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The first count: good or bad events, as the SLO's `count_kind` says.
    Counted,
    Total,
}

/// One count of one SLO that a series feeds; `slo` indexes [`Matcher::slo_ids`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub slo: usize,
    pub role: Role,
}

/// Why an SLO is not (or not fully) counted from pushed series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SloProblem {
    pub slo_id: SloId,
    pub message: String,
}

/// A latency SLO's bucket series that matched the histogram but not the threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearMiss {
    pub slo: usize,
    /// The series' `le` (NaN when it has none or it is not a number).
    pub le: f64,
}

/// What one series matched; reused across series to avoid allocating.
#[derive(Debug, Default)]
pub struct MatchScratch {
    pub targets: Vec<Target>,
    pub near_misses: Vec<NearMiss>,
}

/// One compiled selector and the counts it feeds.
#[derive(Debug)]
struct Selector {
    /// Alternatives (`or`); each is a conjunction of label tests (including any further
    /// `__name__` tests).
    groups: Vec<Vec<LabelMatcher>>,
    /// For latency buckets: the `le` the series must carry.
    le: Option<f64>,
    target: Target,
}

/// Every intake selector of a catalog.
#[derive(Debug, Default)]
pub struct Matcher {
    slo_ids: Vec<SloId>,
    /// Human-readable description of each latency SLO's histogram, by SLO index.
    histograms: HashMap<usize, String>,
    selectors: Vec<Selector>,
    /// Selectors by the metric name they require.
    by_name: HashMap<String, NameBucket>,
    /// Selectors without one fixed metric name (`{__name__=~"http_.*"}`): tried on every series.
    any_name: Vec<usize>,
    problems: Vec<SloProblem>,
}

/// The selectors of one metric name, narrowed further by the value of one label: with many
/// SLOs on one metric (`http_requests_total{service="..."}`), a series is tested against the
/// few selectors of its own service rather than all of them.
#[derive(Debug, Default)]
struct NameBucket {
    /// The label most selectors of this name test for equality.
    key_label: Option<String>,
    /// Selectors whose every group requires `key_label` to equal the key.
    by_value: HashMap<Vec<u8>, Vec<usize>>,
    /// Every other selector of this name.
    rest: Vec<usize>,
}

impl NameBucket {
    fn build(selectors: &[Selector], indexes: Vec<usize>) -> NameBucket {
        // Count, per label name, the selectors that pin it to one value.
        let mut pinned: HashMap<&str, usize> = HashMap::new();
        for &index in &indexes {
            for name in pinned_labels(&selectors[index]) {
                *pinned.entry(name).or_default() += 1;
            }
        }
        let key_label = pinned
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
            .filter(|(_, count)| *count > 1)
            .map(|(name, _)| name.to_string());
        let mut bucket = NameBucket {
            key_label,
            ..NameBucket::default()
        };
        for index in indexes {
            let value = bucket
                .key_label
                .as_deref()
                .and_then(|key_label| pinned_value(&selectors[index], key_label));
            match value {
                Some(value) => bucket
                    .by_value
                    .entry(value.as_bytes().to_vec())
                    .or_default()
                    .push(index),
                None => bucket.rest.push(index),
            }
        }
        bucket
    }

    /// The selectors a series with these labels may match.
    fn candidates<'a>(&'a self, labels: &[Label]) -> (&'a [usize], &'a [usize]) {
        let keyed = match &self.key_label {
            Some(key_label) => self
                .by_value
                .get(label_value(labels, key_label))
                .map(Vec::as_slice)
                .unwrap_or(&[]),
            None => &[],
        };
        (keyed, &self.rest)
    }
}

/// Label names a selector requires to equal one value, the same in every group.
fn pinned_labels(selector: &Selector) -> Vec<&str> {
    let Some(first) = selector.groups.first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter(|test| test.op == MatchOp::Equal)
        .map(|test| test.name.as_str())
        .filter(|name| pinned_value(selector, name).is_some())
        .collect()
}

/// The one value every group of a selector requires `name` to equal, if there is one.
fn pinned_value<'a>(selector: &'a Selector, name: &str) -> Option<&'a str> {
    let mut value = None;
    for group in &selector.groups {
        let in_group = group
            .iter()
            .find(|test| test.name == name && test.op == MatchOp::Equal)?;
        match value {
            None => value = Some(in_group.value.as_str()),
            Some(earlier) if earlier != in_group.value => return None,
            Some(_) => {}
        }
    }
    value
}

/// A selector parsed into a required name (if any) and label tests.
struct Parsed {
    name: Option<String>,
    groups: Vec<Vec<LabelMatcher>>,
}

fn parse_selector(selector: &str) -> Result<Parsed, String> {
    let expr = promql_parser::parser::parse(selector)
        .map_err(|err| format!("invalid series selector {selector:?}: {err}"))?;
    let Expr::VectorSelector(vector) = expr else {
        return Err(format!(
            "{selector:?} is not a series selector: write a metric name with optional label matchers, like http_requests_total{{job=\"api\"}}"
        ));
    };
    if vector.offset.is_some() || vector.at.is_some() {
        return Err(format!(
            "selector {selector:?} has an offset or @ modifier, which intake cannot apply"
        ));
    }
    let mut groups = if vector.matchers.or_matchers.is_empty() {
        vec![vector.matchers.matchers]
    } else {
        vector.matchers.or_matchers
    };
    let mut name = vector.name;
    // `{__name__="x", ...}` names the metric too; index it when every group requires it.
    if name.is_none() {
        let equal_name = |group: &Vec<LabelMatcher>| {
            group
                .iter()
                .find(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal)
                .map(|m| m.value.clone())
        };
        let first = groups.first().and_then(equal_name);
        if first.is_some() && groups.iter().all(|group| equal_name(group) == first) {
            name = first;
            for group in &mut groups {
                group.retain(|m| !(m.name == METRIC_NAME && m.op == MatchOp::Equal));
            }
        }
    }
    Ok(Parsed { name, groups })
}

impl Matcher {
    /// Compiles the selectors of every pushed SLO with a `Counters` or `Latency` SLI. SLOs whose
    /// selectors cannot be used are left out and listed in [`Matcher::problems`].
    pub fn build(catalog: &Catalog) -> Matcher {
        let mut matcher = Matcher::default();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for slo in &catalog.slos {
            // Pulled from a source: samples pushed for the same series would count twice.
            if slo.source.is_some() {
                continue;
            }
            let slo_index = matcher.slo_ids.len();
            let compiled = match &slo.sli {
                Sli::Counters { good, bad, total } => {
                    compile_counters(slo_index, slo.spec.count_kind, good, bad, total)
                }
                Sli::Latency {
                    histogram,
                    threshold_seconds,
                } => {
                    if slo.spec.count_kind != CountKind::Good {
                        Err(vec![
                            "a latency SLI counts good events; its count kind must be good"
                                .to_string(),
                        ])
                    } else {
                        compile_latency(slo_index, histogram, *threshold_seconds)
                    }
                }
                _ => continue,
            };
            match compiled {
                Ok(selectors) => {
                    if let Sli::Latency {
                        histogram,
                        threshold_seconds,
                    } = &slo.sli
                    {
                        matcher.histograms.insert(
                            slo_index,
                            format!("{histogram} (threshold {threshold_seconds}s)"),
                        );
                    }
                    matcher.slo_ids.push(slo.id.clone());
                    for (name, selector) in selectors {
                        let index = matcher.selectors.len();
                        matcher.selectors.push(selector);
                        match name {
                            Some(name) => by_name.entry(name).or_default().push(index),
                            None => matcher.any_name.push(index),
                        }
                    }
                }
                Err(messages) => {
                    for message in messages {
                        matcher.problems.push(SloProblem {
                            slo_id: slo.id.clone(),
                            message,
                        });
                    }
                }
            }
        }
        matcher.by_name = by_name
            .into_iter()
            .map(|(name, indexes)| (name, NameBucket::build(&matcher.selectors, indexes)))
            .collect();
        matcher
    }

    /// SLOs by the index [`Target::slo`] carries.
    pub fn slo_ids(&self) -> &[SloId] {
        &self.slo_ids
    }

    /// Problems found while compiling: each names an SLO that intake does not count.
    pub fn problems(&self) -> &[SloProblem] {
        &self.problems
    }

    pub fn is_empty(&self) -> bool {
        self.selectors.is_empty()
    }

    /// The series' metric name, or `None` if it has no `__name__` label.
    pub fn metric_name(labels: &[Label]) -> Option<&str> {
        labels
            .iter()
            .find(|label| label.name == METRIC_NAME.as_bytes())
            .and_then(Label::value_str)
    }

    /// Fills `scratch` with every count `labels` feeds (sorted, without duplicates) and the
    /// latency buckets that missed their threshold. Returns whether anything matched.
    pub fn match_series(&self, labels: &[Label], scratch: &mut MatchScratch) -> bool {
        scratch.targets.clear();
        scratch.near_misses.clear();
        let name = Matcher::metric_name(labels).unwrap_or("");
        let (keyed, rest): (&[usize], &[usize]) = match self.by_name.get(name) {
            Some(bucket) => bucket.candidates(labels),
            None => (&[], &[]),
        };
        if keyed.is_empty() && rest.is_empty() && self.any_name.is_empty() {
            return false;
        }
        for &index in keyed.iter().chain(rest).chain(&self.any_name) {
            let selector = &self.selectors[index];
            if !selector
                .groups
                .iter()
                .any(|group| group.iter().all(|test| test_label(test, labels)))
            {
                continue;
            }
            if let Some(threshold) = selector.le {
                let le = std::str::from_utf8(label_value(labels, "le"))
                    .ok()
                    .and_then(|le| le.trim().parse::<f64>().ok())
                    .unwrap_or(f64::NAN);
                if le != threshold {
                    scratch.near_misses.push(NearMiss {
                        slo: selector.target.slo,
                        le,
                    });
                    continue;
                }
            }
            scratch.targets.push(selector.target);
        }
        if scratch.targets.len() > 1 {
            scratch.targets.sort_unstable();
            scratch.targets.dedup();
        }
        !scratch.targets.is_empty()
    }

    /// Identifies a latency SLO together with its histogram and threshold, so that knowing
    /// its threshold bucket exists does not outlive a change of either; `None` for other SLOs.
    pub fn latency_key(&self, slo: usize) -> Option<String> {
        let histogram = self.histograms.get(&slo)?;
        Some(format!("{} {histogram}", self.slo_ids.get(slo)?))
    }

    /// The problem to report for a latency SLO whose histogram sent buckets but none at the
    /// threshold; `les` are the bucket boundaries seen.
    pub fn missing_bucket_problem(&self, slo: usize, les: &[f64]) -> Option<SloProblem> {
        let slo_id = self.slo_ids.get(slo)?.clone();
        let histogram = self.histograms.get(&slo)?;
        let mut les = les.to_vec();
        les.sort_by(f64::total_cmp);
        les.dedup();
        let seen = les
            .iter()
            .map(|le| {
                if le.is_nan() {
                    "none".to_string()
                } else {
                    le.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        Some(SloProblem {
            slo_id,
            message: format!(
                "histogram {histogram} has no bucket at the threshold; buckets seen have le {seen}; set the threshold to one of them or add a bucket boundary"
            ),
        })
    }
}

/// The value of a label, empty if the series lacks it (as Prometheus reads a missing label).
fn label_value<'a>(labels: &'a [Label], name: &str) -> &'a [u8] {
    labels
        .iter()
        .find(|label| label.name == name.as_bytes())
        .map(|label| &label.value[..])
        .unwrap_or(b"")
}

/// Whether the series passes one label test; a value that is not UTF-8 passes none.
fn test_label(test: &LabelMatcher, labels: &[Label]) -> bool {
    let value = label_value(labels, &test.name);
    match &test.op {
        MatchOp::Equal => value == test.value.as_bytes(),
        MatchOp::NotEqual => value != test.value.as_bytes() && std::str::from_utf8(value).is_ok(),
        MatchOp::Re(regex) => std::str::from_utf8(value).is_ok_and(|value| regex.is_match(value)),
        MatchOp::NotRe(regex) => {
            std::str::from_utf8(value).is_ok_and(|value| !regex.is_match(value))
        }
    }
}

type Compiled = Result<Vec<(Option<String>, Selector)>, Vec<String>>;

fn compile_counters(
    slo: usize,
    count_kind: CountKind,
    good: &Option<String>,
    bad: &Option<String>,
    total: &str,
) -> Compiled {
    let (counted, counted_field) = match count_kind {
        CountKind::Good => (good, "good"),
        CountKind::Bad => (bad, "bad"),
    };
    let mut problems = Vec::new();
    let mut selectors = Vec::new();
    match counted {
        Some(counted) => match parse_selector(counted) {
            Ok(parsed) => selectors.push((
                parsed.name,
                Selector {
                    groups: parsed.groups,
                    le: None,
                    target: Target {
                        slo,
                        role: Role::Counted,
                    },
                },
            )),
            Err(err) => problems.push(format!("{counted_field}: {err}")),
        },
        None => problems.push(format!(
            "the SLO counts {counted_field} events but has no {counted_field} selector"
        )),
    }
    match parse_selector(total) {
        Ok(parsed) => selectors.push((
            parsed.name,
            Selector {
                groups: parsed.groups,
                le: None,
                target: Target {
                    slo,
                    role: Role::Total,
                },
            },
        )),
        Err(err) => problems.push(format!("total: {err}")),
    }
    if problems.is_empty() {
        Ok(selectors)
    } else {
        Err(problems)
    }
}

fn compile_latency(slo: usize, histogram: &str, threshold_seconds: f64) -> Compiled {
    let parsed = parse_selector(histogram).map_err(|err| vec![format!("histogram: {err}")])?;
    let mut problems = Vec::new();
    let Some(name) = parsed.name else {
        return Err(vec![format!(
            "histogram: {histogram:?} must name the histogram metric"
        )]);
    };
    if !threshold_seconds.is_finite() {
        problems.push(format!(
            "threshold_seconds {threshold_seconds} is not a finite number"
        ));
    }
    if parsed.groups.iter().flatten().any(|test| test.name == "le") {
        problems.push(format!(
            "histogram: {histogram:?} must not match `le`; the threshold picks the bucket"
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let base = name
        .strip_suffix("_bucket")
        .or_else(|| name.strip_suffix("_count"))
        .unwrap_or(&name);
    Ok(vec![
        (
            Some(format!("{base}_bucket")),
            Selector {
                groups: parsed.groups.clone(),
                le: Some(threshold_seconds),
                target: Target {
                    slo,
                    role: Role::Counted,
                },
            },
        ),
        (
            Some(format!("{base}_count")),
            Selector {
                groups: parsed.groups,
                le: None,
                target: Target {
                    slo,
                    role: Role::Total,
                },
            },
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::test_support::{catalog, counters, labels, latency};

    /// Renders what a series feeds: `slo/role` joined by spaces, `-` for nothing, and
    /// `near-miss slo le` for latency buckets off the threshold.
    fn render(matcher: &Matcher, series: &str) -> String {
        let mut scratch = MatchScratch::default();
        matcher.match_series(&labels(series), &mut scratch);
        let mut parts: Vec<String> = scratch
            .targets
            .iter()
            .map(|target| {
                let role = match target.role {
                    Role::Counted => "counted",
                    Role::Total => "total",
                };
                format!("{}/{role}", matcher.slo_ids()[target.slo])
            })
            .collect();
        parts.extend(
            scratch
                .near_misses
                .iter()
                .map(|miss| format!("near-miss {} le={}", matcher.slo_ids()[miss.slo], miss.le)),
        );
        if parts.is_empty() {
            "-".to_string()
        } else {
            parts.join(" ")
        }
    }

    fn check(matcher: &Matcher, cases: &[(&str, &str)]) {
        for (series, expected) in cases {
            assert_eq!(render(matcher, series), *expected, "series {series}");
        }
    }

    #[test]
    fn every_operator_with_anchored_regexes() {
        let matcher = Matcher::build(&catalog(vec![
            counters(
                "eq",
                r#"http_requests_total{job="api",code="500"}"#,
                r#"http_requests_total{job="api"}"#,
            ),
            counters(
                "re",
                r#"http_requests_total{code=~"5.."}"#,
                r#"http_requests_total{code!~"1..|3.."}"#,
            ),
            counters(
                "ne",
                r#"http_requests_total{code!="200"}"#,
                r#"requests_total"#,
            ),
        ]));
        assert_eq!(matcher.problems(), &[]);
        check(
            &matcher,
            &[
                (
                    r#"http_requests_total{job="api",code="500"}"#,
                    "eq/counted eq/total re/counted re/total ne/counted",
                ),
                (
                    r#"http_requests_total{job="api",code="200"}"#,
                    "eq/total re/total",
                ),
                // Anchored: `5..` does not match inside `1500`.
                (
                    r#"http_requests_total{job="web",code="1500"}"#,
                    "re/total ne/counted",
                ),
                (r#"http_requests_total{code="301"}"#, "ne/counted"),
                // A missing label is the empty string: `code!="200"` holds, `code=~"5.."` not.
                (
                    r#"http_requests_total{job="api"}"#,
                    "eq/total re/total ne/counted",
                ),
                (r#"requests_total{code="200"}"#, "ne/total"),
                (r#"unrelated_total{job="api",code="500"}"#, "-"),
                (r#"{job="api"}"#, "-"),
            ],
        );
    }

    #[test]
    fn selectors_without_a_fixed_name_and_or_groups() {
        let matcher = Matcher::build(&catalog(vec![
            counters(
                "by-name-label",
                r#"{__name__="errors_total",job="api"}"#,
                r#"{__name__=~"requests_total|calls_total",job="api"}"#,
            ),
            counters(
                "or",
                r#"errors_total{job="a" or job="b"}"#,
                r#"requests_total{job="a" or job="b"}"#,
            ),
        ]));
        assert_eq!(matcher.problems(), &[]);
        assert_eq!(
            matcher.any_name.len(),
            1,
            "only the regex name is unindexed"
        );
        check(
            &matcher,
            &[
                (r#"errors_total{job="api"}"#, "by-name-label/counted"),
                (r#"calls_total{job="api"}"#, "by-name-label/total"),
                (r#"requests_total{job="b"}"#, "or/total"),
                (r#"errors_total{job="a"}"#, "or/counted"),
                (r#"errors_total{job="c"}"#, "-"),
            ],
        );
    }

    #[test]
    fn selectors_narrowed_by_a_label_value_match_as_without() {
        let matcher = Matcher::build(&catalog(vec![
            counters("a", r#"m{service="a",code="5"}"#, r#"m{service="a"}"#),
            counters(
                "b",
                r#"m{service="b",code="5"}"#,
                r#"m{service="b" or service="b",x="1"}"#,
            ),
            counters("none", r#"m{code="5",service=""}"#, r#"m{service=""}"#),
            counters("any", r#"m{code="5"}"#, r#"m{service=~"a|b"}"#),
        ]));
        let bucket = &matcher.by_name["m"];
        assert_eq!(bucket.key_label.as_deref(), Some("service"));
        assert_eq!(bucket.rest.len(), 2, "the selectors of `any`");
        check(
            &matcher,
            &[
                (
                    r#"m{service="a",code="5"}"#,
                    "a/counted a/total any/counted any/total",
                ),
                (r#"m{service="b"}"#, "b/total any/total"),
                (
                    r#"m{service="b",code="5"}"#,
                    "b/counted b/total any/counted any/total",
                ),
                (r#"m{code="5"}"#, "none/counted none/total any/counted"),
                (r#"m{service="c",code="5"}"#, "any/counted"),
            ],
        );
    }

    #[test]
    fn good_or_bad_selector_by_count_kind() {
        let matcher = Matcher::build(&catalog(vec![counters(
            "good",
            r#"good:http_requests_total{code=~"2.."}"#,
            "http_requests_total",
        )]));
        check(
            &matcher,
            &[
                (
                    r#"http_requests_total{code="200"}"#,
                    "good/counted good/total",
                ),
                (r#"http_requests_total{code="500"}"#, "good/total"),
            ],
        );
    }

    #[test]
    fn latency_counts_the_bucket_at_the_threshold() {
        let matcher = Matcher::build(&catalog(vec![
            latency("fast", r#"http_request_duration_seconds{job="api"}"#, 0.3),
            latency("suffix", "rpc_duration_seconds_bucket", 1.0),
        ]));
        assert_eq!(matcher.problems(), &[]);
        check(
            &matcher,
            &[
                (
                    r#"http_request_duration_seconds_bucket{job="api",le="0.3"}"#,
                    "fast/counted",
                ),
                // Compared as numbers.
                (
                    r#"http_request_duration_seconds_bucket{job="api",le="0.30"}"#,
                    "fast/counted",
                ),
                (
                    r#"http_request_duration_seconds_bucket{job="api",le="0.5"}"#,
                    "near-miss fast le=0.5",
                ),
                (
                    r#"http_request_duration_seconds_bucket{job="api",le="+Inf"}"#,
                    "near-miss fast le=inf",
                ),
                (
                    r#"http_request_duration_seconds_bucket{job="web",le="0.3"}"#,
                    "-",
                ),
                (
                    r#"http_request_duration_seconds_count{job="api"}"#,
                    "fast/total",
                ),
                (r#"http_request_duration_seconds_sum{job="api"}"#, "-"),
                (r#"http_request_duration_seconds{job="api"}"#, "-"),
                (r#"rpc_duration_seconds_bucket{le="1"}"#, "suffix/counted"),
                (r#"rpc_duration_seconds_count"#, "suffix/total"),
            ],
        );
        assert_eq!(
            matcher
                .missing_bucket_problem(0, &[0.5, f64::INFINITY, 0.25, 0.5])
                .map(|problem| problem.message),
            Some(
                r#"histogram http_request_duration_seconds{job="api"} (threshold 0.3s) has no bucket at the threshold; buckets seen have le 0.25, 0.5, inf; set the threshold to one of them or add a bucket boundary"#
                    .to_string()
            )
        );
    }

    #[test]
    fn unusable_selectors_are_problems_of_their_slo() {
        let mut kind_mismatch = latency("latency-bad-kind", "h_seconds", 0.1);
        kind_mismatch.spec.count_kind = CountKind::Bad;
        let mut no_bad = counters("no-bad", "errors_total", "requests_total");
        if let Sli::Counters { bad, .. } = &mut no_bad.sli {
            *bad = None;
        }
        let matcher = Matcher::build(&catalog(vec![
            counters("ok", "errors_total", "requests_total"),
            counters("syntax", "errors_total{", "requests_total"),
            counters("function", "errors_total", "rate(requests_total[5m])"),
            counters("offset", "errors_total offset 5m", "requests_total"),
            no_bad,
            latency("le-matcher", r#"h_seconds{le="0.1"}"#, 0.1),
            latency("no-name", r#"{job="api"}"#, 0.1),
            kind_mismatch,
        ]));
        let rendered: Vec<String> = matcher
            .problems()
            .iter()
            .map(|problem| format!("{}: {}", problem.slo_id, problem.message))
            .collect();
        let expected = [
            r#"syntax: bad: invalid series selector "errors_total{": "#,
            r#"function: total: "rate(requests_total[5m])" is not a series selector: write a metric name with optional label matchers, like http_requests_total{job="api"}"#,
            r#"offset: bad: selector "errors_total offset 5m" has an offset or @ modifier, which intake cannot apply"#,
            "no-bad: the SLO counts bad events but has no bad selector",
            r#"le-matcher: histogram: "h_seconds{le=\"0.1\"}" must not match `le`; the threshold picks the bucket"#,
            r#"no-name: histogram: "{job=\"api\"}" must name the histogram metric"#,
            "latency-bad-kind: a latency SLI counts good events; its count kind must be good",
        ];
        assert_eq!(rendered.len(), expected.len(), "{rendered:#?}");
        for (actual, expected) in rendered.iter().zip(expected) {
            assert!(
                actual.starts_with(expected),
                "{actual}\n  expected {expected}"
            );
        }
        assert_eq!(matcher.slo_ids().len(), 1);
        check(&matcher, &[("errors_total", "ok/counted")]);
    }
}
