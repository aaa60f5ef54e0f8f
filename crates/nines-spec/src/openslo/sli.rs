//! OpenSLO v1 SLIs to nines SLIs: Prometheus ratio metrics become queries (PromQL checked),
//! threshold metrics a threshold, every other source type an external SLI that keeps each
//! field of its metric sources. A Prometheus metric source whose `metricSourceRef` names a
//! DataSource nines pulls from gives the SLI that source.

use std::collections::{BTreeMap, BTreeSet};

use nines_core::CountKind;
use yaml_serde::Value;

use super::Place;
use super::raw::{RawMetric, RawMetricSource, RawRatioMetric, RawSliSpec};
use crate::catalog::{Sli, ThresholdOp};
use crate::diag::Report;

/// An SLI read and checked, before an objective gives threshold SLIs their operator and value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shape {
    Ratio {
        sli: Sli,
        count_kind: CountKind,
        /// The DataSource the queries are pulled from, when they name one nines pulls from.
        source: Option<String>,
    },
    Threshold(ThresholdSource),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ThresholdSource {
    /// The PromQL query, for Prometheus sources.
    pub query: Option<String>,
    pub source_type: String,
    pub detail: BTreeMap<String, String>,
    /// The DataSource the query is pulled from, when it names one nines pulls from.
    pub source: Option<String>,
}

/// A DataSource as metric sources see it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DataSource {
    pub source_type: String,
    /// Whether it became a catalog source (a Prometheus DataSource with a URL).
    pub pulled: bool,
}

impl Shape {
    pub(crate) fn is_ratio(&self) -> bool {
        matches!(self, Shape::Ratio { .. })
    }

    /// The catalog source the SLI names, if any.
    pub(crate) fn source(&self) -> Option<&String> {
        match self {
            Shape::Ratio { source, .. } => source.as_ref(),
            Shape::Threshold(threshold) => threshold.source.as_ref(),
        }
    }

    /// The nines SLI for one objective: threshold SLIs take the objective's `op` and `value`.
    pub(crate) fn for_objective(&self, threshold: Option<(ThresholdOp, f64)>) -> (Sli, CountKind) {
        match self {
            Shape::Ratio {
                sli, count_kind, ..
            } => (sli.clone(), *count_kind),
            Shape::Threshold(source) => {
                let (op, value) = threshold.unwrap_or((ThresholdOp::Gte, 0.0));
                let sli = match &source.query {
                    Some(query) => Sli::Threshold {
                        query: query.clone(),
                        op,
                        value,
                    },
                    None => {
                        let mut detail = source.detail.clone();
                        detail.insert("objective.op".to_string(), op_name(op).to_string());
                        detail.insert("objective.value".to_string(), value.to_string());
                        Sli::External {
                            source_type: source.source_type.clone(),
                            detail,
                        }
                    }
                };
                (sli, CountKind::Good)
            }
        }
    }
}

pub(crate) fn parse_op(text: &str) -> Option<ThresholdOp> {
    match text {
        "lt" => Some(ThresholdOp::Lt),
        "lte" => Some(ThresholdOp::Lte),
        "gt" => Some(ThresholdOp::Gt),
        "gte" => Some(ThresholdOp::Gte),
        _ => None,
    }
}

pub(crate) fn op_name(op: ThresholdOp) -> &'static str {
    match op {
        ThresholdOp::Lt => "lt",
        ThresholdOp::Lte => "lte",
        ThresholdOp::Gt => "gt",
        ThresholdOp::Gte => "gte",
    }
}

/// One metric source, its type known.
struct Source {
    source_type: String,
    /// `spec.query` of a Prometheus source, PromQL checked.
    query: Option<String>,
    is_prometheus: bool,
    /// The DataSource named by `metricSourceRef`, when nines pulls from it.
    pulled_from: Option<String>,
}

pub(crate) fn is_prometheus(source_type: &str) -> bool {
    source_type.eq_ignore_ascii_case("prometheus")
}

/// Reads an SLI spec found at `place`. Every problem is reported; `None` when any was an error.
pub(crate) fn read_sli(
    place: &Place,
    spec: &RawSliSpec,
    data_sources: &BTreeMap<String, DataSource>,
    report: &mut Report,
) -> Option<Shape> {
    match (&spec.threshold_metric, &spec.ratio_metric) {
        (Some(_), Some(_)) => {
            report.push(place.error(
                "",
                "an SLI has either `thresholdMetric` or `ratioMetric`, not both",
            ));
            None
        }
        (None, None) => {
            report.push(place.error("", "an SLI needs `thresholdMetric` or `ratioMetric`"));
            None
        }
        (Some(value), None) => {
            let metric_place = place.at("thresholdMetric");
            let metric: RawMetric = metric_place.decode(value, report)?;
            let source = read_source(&metric_place, &metric, data_sources, report)?;
            let mut detail = BTreeMap::new();
            flatten_source("threshold", &metric.metric_source, &mut detail);
            Some(Shape::Threshold(ThresholdSource {
                query: source.query.filter(|_| source.is_prometheus),
                source_type: source.source_type,
                detail,
                source: source.pulled_from,
            }))
        }
        (None, Some(value)) => {
            let ratio_place = place.at("ratioMetric");
            let ratio: RawRatioMetric = ratio_place.decode(value, report)?;
            read_ratio(&ratio_place, &ratio, data_sources, report)
        }
    }
}

fn read_ratio(
    place: &Place,
    ratio: &RawRatioMetric,
    data_sources: &BTreeMap<String, DataSource>,
    report: &mut Report,
) -> Option<Shape> {
    let roles: Vec<(&str, &Value)> = [
        ("good", &ratio.good),
        ("bad", &ratio.bad),
        ("total", &ratio.total),
        ("raw", &ratio.raw),
    ]
    .into_iter()
    .filter_map(|(role, metric)| metric.as_ref().map(|metric| (role, metric)))
    .collect();
    let mut shape_ok = true;
    let mut fail = |report: &mut Report, sub: &str, message: &str| {
        report.push(place.error(sub, message));
        shape_ok = false;
    };
    match (&ratio.total, &ratio.raw) {
        (Some(_), Some(_)) => fail(report, "raw", "`raw` cannot be used with `total`"),
        (None, None) => fail(
            report,
            "",
            "a ratioMetric needs `total` (with `good` or `bad`) or `raw`",
        ),
        (Some(_), None) => match (&ratio.good, &ratio.bad) {
            (Some(_), Some(_)) => {
                fail(report, "bad", "a ratioMetric has `good` or `bad`, not both")
            }
            (None, None) => fail(
                report,
                "",
                "a ratioMetric with `total` needs `good` or `bad`",
            ),
            _ => {}
        },
        (None, Some(_)) => {
            if ratio.good.is_some() || ratio.bad.is_some() {
                fail(report, "raw", "`raw` cannot be used with `good` or `bad`");
            }
            match ratio.raw_type.as_deref() {
                Some("success" | "failure") => {}
                Some(other) => fail(
                    report,
                    "rawType",
                    &format!("unknown rawType {other:?}: expected success or failure"),
                ),
                None => fail(
                    report,
                    "rawType",
                    "`raw` needs `rawType`: success or failure",
                ),
            }
        }
    }
    if ratio.raw.is_none()
        && let Some(raw_type) = &ratio.raw_type
    {
        fail(
            report,
            "rawType",
            &format!("rawType {raw_type:?} is only used with `raw`"),
        );
    }

    let mut metrics = Vec::new();
    let mut sources = BTreeMap::new();
    for (role, value) in &roles {
        let role_place = place.at(role);
        let source = role_place
            .decode::<RawMetric>(value, report)
            .and_then(|metric| {
                let source = read_source(&role_place, &metric, data_sources, report)?;
                metrics.push((*role, metric));
                Some(source)
            });
        match source {
            Some(source) => {
                sources.insert(*role, source);
            }
            None => shape_ok = false,
        }
    }
    if !shape_ok {
        return None;
    }

    let all_prometheus = sources.values().all(|source| source.is_prometheus);
    let any_prometheus = sources.values().any(|source| source.is_prometheus);
    if any_prometheus && !all_prometheus {
        let types: Vec<String> = roles
            .iter()
            .filter_map(|(role, _)| {
                sources
                    .get(role)
                    .map(|source| format!("{role}: {}", source.source_type))
            })
            .collect();
        report.push(place.error(
            "",
            format!(
                "metric sources mix Prometheus with other types ({}); nines cannot combine them",
                types.join(", ")
            ),
        ));
        return None;
    }

    let pulled_from: Vec<(&str, &String)> = roles
        .iter()
        .filter_map(|(role, _)| {
            let name = sources.get(role)?.pulled_from.as_ref()?;
            Some((*role, name))
        })
        .collect();
    let names: BTreeSet<&String> = pulled_from.iter().map(|(_, name)| *name).collect();
    let source = match names.len() {
        0 => None,
        1 => names.first().map(|name| (*name).clone()),
        _ => {
            let named: Vec<String> = pulled_from
                .iter()
                .map(|(role, name)| format!("{role}: {name}"))
                .collect();
            report.push(place.error(
                "",
                format!(
                    "metric sources name different DataSources ({}); nines pulls an SLI from one source",
                    named.join(", ")
                ),
            ));
            return None;
        }
    };

    let count_kind = if ratio.good.is_some() {
        CountKind::Good
    } else {
        CountKind::Bad
    };
    if !all_prometheus {
        let mut detail = BTreeMap::new();
        if let Some(counter) = ratio.counter {
            detail.insert("counter".to_string(), counter.to_string());
        }
        if let Some(raw_type) = &ratio.raw_type {
            detail.insert("rawType".to_string(), raw_type.clone());
        }
        for (role, metric) in &metrics {
            flatten_source(role, &metric.metric_source, &mut detail);
        }
        let mut types: Vec<&str> = sources
            .values()
            .map(|source| source.source_type.as_str())
            .collect();
        types.sort_unstable();
        types.dedup();
        return Some(Shape::Ratio {
            sli: Sli::External {
                source_type: types.join(","),
                detail,
            },
            count_kind,
            source: None,
        });
    }

    let query = |role: &str| sources.get(role).and_then(|source| source.query.clone());
    if let Some(raw) = query("raw") {
        let error_ratio = if ratio.raw_type.as_deref() == Some("success") {
            format!("1 - ({raw})")
        } else {
            raw
        };
        return Some(Shape::Ratio {
            sli: Sli::RawErrorRatio { error_ratio },
            count_kind: CountKind::Bad,
            source,
        });
    }
    if ratio.counter == Some(false) {
        report.push(place.error(
            "counter",
            "counter: false (gauges) is not supported for Prometheus ratio metrics: nines reads good, bad and total as counters",
        ));
        return None;
    }
    let total = query("total")?;
    Some(Shape::Ratio {
        sli: Sli::Queries {
            good: query("good"),
            bad: query("bad"),
            total,
        },
        count_kind,
        source,
    })
}

/// Resolves a metric source's type (inline or from its DataSource) and checks a Prometheus
/// query.
fn read_source(
    metric_place: &Place,
    metric: &RawMetric,
    data_sources: &BTreeMap<String, DataSource>,
    report: &mut Report,
) -> Option<Source> {
    let place = metric_place.at("metricSource");
    let source: &RawMetricSource = &metric.metric_source;
    let referenced = source.metric_source_ref.as_ref().map(|name| {
        let data_source = data_sources.get(name);
        (
            name,
            data_source.map(|data_source| &data_source.source_type),
        )
    });
    let source_type = match (&source.source_type, referenced) {
        (Some(inline), Some((name, Some(from_data_source)))) => {
            if !inline.eq_ignore_ascii_case(from_data_source) {
                report.push(place.error(
                    "type",
                    format!("type {inline:?} does not match DataSource {name:?}, which is of type {from_data_source:?}"),
                ));
                return None;
            }
            inline.clone()
        }
        (Some(inline), Some((name, None))) => {
            report.push(place.warning(
                "metricSourceRef",
                format!("DataSource {name:?} is not defined in the files read; nines reads this source by its type {inline:?}"),
            ));
            inline.clone()
        }
        (Some(inline), None) => inline.clone(),
        (None, Some((_, Some(from_data_source)))) => from_data_source.clone(),
        (None, Some((name, None))) => {
            report.push(place.error(
                "metricSourceRef",
                format!("DataSource {name:?} is not defined, and the metric source has no `type` of its own"),
            ));
            return None;
        }
        (None, None) => {
            report.push(place.error(
                "",
                "a metric source needs `type` or a `metricSourceRef` to a DataSource",
            ));
            return None;
        }
    };
    if source.spec.is_empty() {
        report.push(place.error("spec", "metric source `spec` must not be empty"));
        return None;
    }
    if !is_prometheus(&source_type) {
        return Some(Source {
            source_type,
            query: None,
            is_prometheus: false,
            pulled_from: None,
        });
    }
    let query = match source.spec.get("query") {
        Some(Value::String(query)) => query.clone(),
        Some(_) => {
            report.push(place.error(
                "spec.query",
                "a Prometheus `query` must be a string of PromQL",
            ));
            return None;
        }
        None => {
            report.push(place.error(
                "spec",
                "a Prometheus metric source needs `query`, a PromQL query",
            ));
            return None;
        }
    };
    for key in source.spec.keys().filter(|key| key.as_str() != "query") {
        report.push(place.warning(
            &format!("spec.{key}"),
            format!(
                "{key:?} is not used: nines reads only `query` from a Prometheus metric source"
            ),
        ));
    }
    if let Err(problem) = crate::promql::check(&query) {
        report.push(place.error("spec.query", problem));
        return None;
    }
    let pulled_from = source.metric_source_ref.clone().filter(|name| {
        data_sources
            .get(name)
            .is_some_and(|data_source| data_source.pulled)
    });
    Some(Source {
        source_type,
        query: Some(query),
        is_prometheus: true,
        pulled_from,
    })
}

/// Every field of a metric source as `role.key` → text, nested fields as `role.a.b`, list
/// items as `role.a[0]`.
fn flatten_source(role: &str, source: &RawMetricSource, out: &mut BTreeMap<String, String>) {
    if let Some(name) = &source.metric_source_ref {
        out.insert(format!("{role}.metricSourceRef"), name.clone());
    }
    if let Some(source_type) = &source.source_type {
        out.insert(format!("{role}.type"), source_type.clone());
    }
    for (key, value) in &source.spec {
        flatten(&format!("{role}.{key}"), value, out);
    }
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Mapping(map) if map.is_empty() => {
            out.insert(prefix.to_string(), "{}".to_string());
        }
        Value::Sequence(items) if items.is_empty() => {
            out.insert(prefix.to_string(), "[]".to_string());
        }
        Value::Mapping(map) => {
            for (key, item) in map {
                let key = match key {
                    Value::String(text) => text.clone(),
                    other => scalar_text(other),
                };
                flatten(&format!("{prefix}.{key}"), item, out);
            }
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{index}]"), item, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), scalar_text(other));
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "null".to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::Tagged(tagged) => format!("{} {}", tagged.tag, scalar_text(&tagged.value)),
        Value::Mapping(_) | Value::Sequence(_) => String::new(),
    }
}
