//! OTLP/HTTP metrics in protobuf (`ExportMetricsServiceRequest`) mapped to the series Prometheus
//! would store for them, so one selector works for both ways of pushing.
//!
//! The mapping follows Prometheus' OTLP receiver with its default translation strategy
//! (`UnderscoreEscapingWithSuffixes`):
//!
//! - Metric names: every run of characters other than ASCII letters and digits becomes one `_`;
//!   the unit is added as a suffix unless the name has it already (`s` gives `_seconds`, `ms`
//!   `_milliseconds`, `By` `_bytes`, `{request}` nothing, `1/s` `_per_second`); monotonic sums
//!   end in `_total` (moved to the end when the name has it elsewhere); a leading digit gets a
//!   `_` in front. So `http.server.request.duration` in `s` is `http_server_request_duration_seconds`.
//! - Labels: resource attributes, then scope attributes, then data point attributes, a later
//!   one replacing an earlier one of the same name; `job` is `service.namespace/service.name`
//!   (or `service.name`) and `instance` is `service.instance.id`, as Prometheus sets them.
//!   Names have every character other than ASCII letters, digits and `_` replaced by `_`
//!   (`http.route` is `http_route`), `key_` in front of a leading digit and `key` in front of a
//!   single leading `_`. String, bool, integer and double values are kept; array, map and bytes
//!   values are left out.
//! - Monotonic sums, cumulative or delta, give one series per point. Histograms with explicit
//!   buckets give `_count` and cumulative `_bucket{le="..."}` series (with `le="+Inf"`); `_sum`
//!   is not produced, since nothing is counted from it.
//! - Gauges, non-monotonic sums, summaries, exponential histograms, points flagged as having no
//!   recorded value and points with unspecified temporality are dropped and counted.
//!
//! OTLP/JSON and gzip bodies are the HTTP layer's concern: it inflates before calling
//! [`decode`].

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, HistogramDataPoint, Metric, NumberDataPoint, metric, number_data_point,
};
use prost::Message;

use super::{Batch, IncomingSeries, IntakeError, Label, Sample, Temporality};

/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`.
const NO_RECORDED_VALUE: u32 = 1;

/// Decodes an OTLP/HTTP protobuf metrics body of at most `max_bytes` into series. A gzip body
/// must be inflated by the caller with the same bound applied while inflating, not after.
pub fn decode(body: &[u8], max_bytes: usize) -> Result<Batch, IntakeError> {
    if body.len() > max_bytes {
        return Err(IntakeError::TooLarge {
            what: "received",
            size: body.len(),
            limit: max_bytes,
        });
    }
    let request =
        ExportMetricsServiceRequest::decode(body).map_err(|err| IntakeError::Protobuf {
            message: "OTLP ExportMetricsServiceRequest",
            detail: err.to_string(),
        })?;
    Ok(to_batch(&request))
}

/// Maps a decoded request to series (see the module documentation).
pub fn to_batch(request: &ExportMetricsServiceRequest) -> Batch {
    let mut batch = Batch::default();
    for resource_metrics in &request.resource_metrics {
        let resource_attributes = resource_metrics
            .resource
            .as_ref()
            .map(|resource| resource.attributes.as_slice())
            .unwrap_or(&[]);
        let mut resource_labels = attribute_labels(resource_attributes);
        resource_labels.extend(job_and_instance(resource_attributes));
        for scope_metrics in &resource_metrics.scope_metrics {
            let mut scope_labels = resource_labels.clone();
            if let Some(scope) = &scope_metrics.scope {
                scope_labels.extend(attribute_labels(&scope.attributes));
            }
            for metric in &scope_metrics.metrics {
                add_metric(&mut batch, metric, &scope_labels);
            }
        }
    }
    batch
}

fn add_metric(batch: &mut Batch, metric: &Metric, outer_labels: &[Label]) {
    match &metric.data {
        Some(metric::Data::Sum(sum)) => {
            let temporality = temporality(sum.aggregation_temporality);
            let (true, Some(temporality)) = (sum.is_monotonic, temporality) else {
                batch.dropped_unsupported += sum.data_points.len() as u64;
                return;
            };
            let name = metric_name(&metric.name, &metric.unit, true);
            for point in &sum.data_points {
                let Some(value) = number_value(point) else {
                    batch.dropped_unsupported += 1;
                    continue;
                };
                let labels = series_labels(&name, outer_labels, &point.attributes, None);
                batch.series.push(IncomingSeries {
                    labels,
                    samples: vec![Sample {
                        value,
                        timestamp: unix_nanos_to_ms(point.time_unix_nano),
                    }],
                    temporality,
                });
            }
        }
        Some(metric::Data::Histogram(histogram)) => {
            let Some(temporality) = temporality(histogram.aggregation_temporality) else {
                batch.dropped_unsupported += histogram.data_points.len() as u64;
                return;
            };
            let name = metric_name(&metric.name, &metric.unit, false);
            for point in &histogram.data_points {
                if !add_histogram_point(batch, &name, outer_labels, point, temporality) {
                    batch.dropped_unsupported += 1;
                }
            }
        }
        Some(metric::Data::Gauge(gauge)) => {
            batch.dropped_unsupported += gauge.data_points.len() as u64;
        }
        Some(metric::Data::ExponentialHistogram(histogram)) => {
            batch.dropped_unsupported += histogram.data_points.len() as u64;
        }
        Some(metric::Data::Summary(summary)) => {
            batch.dropped_unsupported += summary.data_points.len() as u64;
        }
        None => {}
    }
}

/// Adds the `_bucket` and `_count` series of one point; false if the point cannot be used.
fn add_histogram_point(
    batch: &mut Batch,
    name: &str,
    outer_labels: &[Label],
    point: &HistogramDataPoint,
    temporality: Temporality,
) -> bool {
    if point.flags & NO_RECORDED_VALUE != 0 {
        return false;
    }
    let n_bounds = point.explicit_bounds.len();
    if !point.bucket_counts.is_empty() && point.bucket_counts.len() != n_bounds + 1 {
        return false;
    }
    let timestamp = unix_nanos_to_ms(point.time_unix_nano);
    let bucket_name = format!("{name}_bucket");
    let mut cumulative: u64 = 0;
    // Without bucket counts there are no buckets, whatever the bounds say: only `+Inf`.
    let bounds: &[f64] = if point.bucket_counts.is_empty() {
        &[]
    } else {
        &point.explicit_bounds
    };
    for (position, bound) in bounds.iter().enumerate() {
        cumulative =
            cumulative.saturating_add(point.bucket_counts.get(position).copied().unwrap_or(0));
        let le = format_le(*bound);
        batch.series.push(IncomingSeries {
            labels: series_labels(&bucket_name, outer_labels, &point.attributes, Some(&le)),
            samples: vec![Sample {
                value: cumulative as f64,
                timestamp,
            }],
            temporality,
        });
    }
    batch.series.push(IncomingSeries {
        labels: series_labels(&bucket_name, outer_labels, &point.attributes, Some("+Inf")),
        samples: vec![Sample {
            value: point.count as f64,
            timestamp,
        }],
        temporality,
    });
    batch.series.push(IncomingSeries {
        labels: series_labels(
            &format!("{name}_count"),
            outer_labels,
            &point.attributes,
            None,
        ),
        samples: vec![Sample {
            value: point.count as f64,
            timestamp,
        }],
        temporality,
    });
    true
}

fn temporality(value: i32) -> Option<Temporality> {
    match AggregationTemporality::try_from(value) {
        Ok(AggregationTemporality::Cumulative) => Some(Temporality::Cumulative),
        Ok(AggregationTemporality::Delta) => Some(Temporality::Delta),
        _ => None,
    }
}

fn number_value(point: &NumberDataPoint) -> Option<f64> {
    if point.flags & NO_RECORDED_VALUE != 0 {
        return None;
    }
    match point.value? {
        number_data_point::Value::AsDouble(value) => Some(value),
        number_data_point::Value::AsInt(value) => Some(value as f64),
    }
}

fn unix_nanos_to_ms(nanos: u64) -> i64 {
    i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX)
}

/// A bucket bound as Prometheus writes it (`0.25`, `+Inf`).
fn format_le(bound: f64) -> String {
    if bound == f64::INFINITY {
        "+Inf".to_string()
    } else if bound == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        bound.to_string()
    }
}

/// The labels of one series: `__name__`, the outer labels, the point's attributes and `le`,
/// sorted by name, a later source replacing an earlier one.
fn series_labels(
    name: &str,
    outer_labels: &[Label],
    attributes: &[KeyValue],
    le: Option<&str>,
) -> Vec<Label> {
    // Highest precedence first, so that a stable sort and `dedup_by` keep it.
    let mut labels = Vec::with_capacity(outer_labels.len() + attributes.len() + 2);
    labels.push(Label::new("__name__", name));
    if let Some(le) = le {
        labels.push(Label::new("le", le));
    }
    let mut point_labels = attribute_labels(attributes);
    point_labels.reverse();
    labels.extend(point_labels);
    labels.extend(outer_labels.iter().rev().cloned());
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels.dedup_by(|later, earlier| later.name == earlier.name);
    labels
}

/// Attributes as labels in the order given; values that are not scalars are left out.
fn attribute_labels(attributes: &[KeyValue]) -> Vec<Label> {
    attributes
        .iter()
        .filter_map(|attribute| {
            let value = attribute_value(attribute)?;
            Some(Label::from_strings(label_name(&attribute.key), value))
        })
        .collect()
}

fn attribute_value(attribute: &KeyValue) -> Option<String> {
    match attribute.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(text) => Some(text.clone()),
        any_value::Value::BoolValue(flag) => Some(flag.to_string()),
        any_value::Value::IntValue(number) => Some(number.to_string()),
        any_value::Value::DoubleValue(number) => Some(number.to_string()),
        any_value::Value::ArrayValue(_)
        | any_value::Value::KvlistValue(_)
        | any_value::Value::BytesValue(_)
        | any_value::Value::StringValueStrindex(_) => None,
    }
}

/// `job` and `instance` from the service attributes of a resource.
fn job_and_instance(attributes: &[KeyValue]) -> Vec<Label> {
    let find = |key: &str| {
        attributes
            .iter()
            .find(|attribute| attribute.key == key)
            .and_then(attribute_value)
    };
    let mut labels = Vec::new();
    if let Some(service) = find("service.name") {
        let job = match find("service.namespace") {
            Some(namespace) if !namespace.is_empty() => format!("{namespace}/{service}"),
            _ => service,
        };
        labels.push(Label::new("job", &job));
    }
    if let Some(instance) = find("service.instance.id") {
        labels.push(Label::new("instance", &instance));
    }
    labels
}

/// A Prometheus label name for an attribute key.
pub fn label_name(key: &str) -> String {
    let mut name: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "key_");
    } else if name.starts_with('_') && !name.starts_with("__") {
        name.insert_str(0, "key");
    }
    name
}

/// The Prometheus name of an OTLP metric (see the module documentation).
pub fn metric_name(name: &str, unit: &str, monotonic_sum: bool) -> String {
    let mut tokens: Vec<&str> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|token| !token.is_empty())
        .collect();
    let (main_unit, per_unit) = unit_suffixes(unit);
    let suffixes: Vec<String> = [main_unit, per_unit].into_iter().flatten().collect();
    for suffix in &suffixes {
        let suffix_tokens: Vec<&str> = suffix.split('_').collect();
        let has_it = tokens
            .windows(suffix_tokens.len())
            .any(|window| window == suffix_tokens.as_slice());
        if !has_it {
            tokens.extend(suffix_tokens);
        }
    }
    if monotonic_sum {
        tokens.retain(|token| *token != "total");
        tokens.push("total");
    }
    let mut joined = tokens.join("_");
    if joined.starts_with(|c: char| c.is_ascii_digit()) {
        joined.insert(0, '_');
    }
    joined
}

/// The name suffixes of a UCUM unit: the main unit and `per_<unit>`, as Prometheus maps them.
fn unit_suffixes(unit: &str) -> (Option<String>, Option<String>) {
    // `{request}` and other annotations carry no unit.
    let mut plain = String::with_capacity(unit.len());
    let mut depth = 0_u32;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            c if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let (main, per) = match plain.split_once('/') {
        Some((main, per)) => (main.trim(), Some(per.trim())),
        None => (plain.trim(), None),
    };
    let main = match main {
        "" | "1" => None,
        other => sanitize_unit(main_unit_name(other)),
    };
    let per = per
        .filter(|per| !per.is_empty())
        .and_then(|per| sanitize_unit(per_unit_name(per)))
        .map(|per| format!("per_{per}"));
    (main, per)
}

fn sanitize_unit(unit: &str) -> Option<String> {
    let tokens: Vec<&str> = unit
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|token| !token.is_empty())
        .collect();
    (!tokens.is_empty()).then(|| tokens.join("_"))
}

fn main_unit_name(unit: &str) -> &str {
    match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        other => other,
    }
}

fn per_unit_name(unit: &str) -> &str {
    match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, InstrumentationScope};
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Histogram, ResourceMetrics, ScopeMetrics, Sum,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use proptest::prelude::*;

    use super::*;
    use crate::intake::counter::series_key;

    const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;
    const DELTA: i32 = AggregationTemporality::Delta as i32;
    const T: u64 = 120_000_000_000; // two minutes, in nanoseconds

    fn attribute(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn text(key: &str, value: &str) -> KeyValue {
        attribute(key, any_value::Value::StringValue(value.to_string()))
    }

    fn number_point(attributes: Vec<KeyValue>, value: number_data_point::Value) -> NumberDataPoint {
        NumberDataPoint {
            attributes,
            time_unix_nano: T,
            value: Some(value),
            ..Default::default()
        }
    }

    fn metric(name: &str, unit: &str, data: metric::Data) -> Metric {
        Metric {
            name: name.to_string(),
            unit: unit.to_string(),
            data: Some(data),
            ..Default::default()
        }
    }

    fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![
                        text("service.name", "checkout"),
                        text("service.namespace", "shop"),
                        text("service.instance.id", "pod-1"),
                        text("deployment.environment", "prod"),
                    ],
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "io.opentelemetry.http".to_string(),
                        attributes: vec![text("deployment.environment", "staging")],
                        ..Default::default()
                    }),
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    /// Encodes, decodes and renders each series as `key temporality value@ms`.
    fn check(metrics: Vec<Metric>, expected: &[&str], expected_dropped: u64) {
        let body = request(metrics).encode_to_vec();
        let batch = match decode(&body, 1 << 20) {
            Ok(batch) => batch,
            Err(err) => panic!("decoding failed: {err}"),
        };
        let rendered: Vec<String> = batch
            .series
            .iter()
            .map(|series| {
                let samples: Vec<String> = series
                    .samples
                    .iter()
                    .map(|sample| format!("{}@{}", sample.value, sample.timestamp))
                    .collect();
                format!(
                    "{} {:?} {}",
                    series_key(&series.labels).unwrap_or_default(),
                    series.temporality,
                    samples.join(" ")
                )
            })
            .collect();
        assert_eq!(rendered, expected);
        assert_eq!(batch.dropped_unsupported, expected_dropped);
    }

    /// Resource and scope labels: `deployment_environment` from the scope replaces the
    /// resource's; `job` and `instance` come from the service attributes.
    const RESOURCE: &str = r#"deployment_environment="staging",instance="pod-1",job="shop/checkout",service_instance_id="pod-1",service_name="checkout",service_namespace="shop""#;
    const SERVICE: &str =
        r#"service_instance_id="pod-1",service_name="checkout",service_namespace="shop""#;

    #[test]
    fn monotonic_sums_become_counters() {
        check(
            vec![
                metric(
                    "http.server.requests",
                    "{request}",
                    metric::Data::Sum(Sum {
                        data_points: vec![number_point(
                            vec![
                                text("http.route", "/cart"),
                                attribute(
                                    "http.response.status_code",
                                    any_value::Value::IntValue(503),
                                ),
                                attribute("retry", any_value::Value::BoolValue(false)),
                                attribute(
                                    "tags",
                                    any_value::Value::ArrayValue(ArrayValue { values: vec![] }),
                                ),
                                text("job", "overridden"),
                            ],
                            number_data_point::Value::AsInt(7),
                        )],
                        aggregation_temporality: CUMULATIVE,
                        is_monotonic: true,
                    }),
                ),
                metric(
                    "bytes_total.sent",
                    "By",
                    metric::Data::Sum(Sum {
                        data_points: vec![number_point(
                            vec![],
                            number_data_point::Value::AsDouble(2.5),
                        )],
                        aggregation_temporality: DELTA,
                        is_monotonic: true,
                    }),
                ),
            ],
            &[
                // The point's `job` replaces the one from the service; the array is left out.
                &format!(
                    r#"{{__name__="http_server_requests_total",deployment_environment="staging",http_response_status_code="503",http_route="/cart",instance="pod-1",job="overridden",retry="false",{SERVICE}}} Cumulative 7@120000"#
                ),
                // `bytes` is in the name already, so the unit adds nothing; `total` moves last.
                &format!(r#"{{__name__="bytes_sent_total",{RESOURCE}}} Delta 2.5@120000"#),
            ],
            0,
        );
    }

    #[test]
    fn histograms_become_count_and_cumulative_buckets() {
        check(
            vec![metric(
                "http.server.request.duration",
                "s",
                metric::Data::Histogram(Histogram {
                    data_points: vec![
                        HistogramDataPoint {
                            attributes: vec![text("http.route", "/cart")],
                            time_unix_nano: T,
                            count: 10,
                            bucket_counts: vec![4, 3, 2, 1],
                            explicit_bounds: vec![0.1, 0.25, 1.0],
                            ..Default::default()
                        },
                        // No bucket counts: only `+Inf`, whatever the bounds say.
                        HistogramDataPoint {
                            attributes: vec![text("http.route", "/empty")],
                            time_unix_nano: T,
                            count: 3,
                            explicit_bounds: vec![0.5],
                            ..Default::default()
                        },
                        // Bucket counts that do not fit the bounds, and a point without a value.
                        HistogramDataPoint {
                            count: 1,
                            bucket_counts: vec![1],
                            explicit_bounds: vec![0.1],
                            ..Default::default()
                        },
                        HistogramDataPoint {
                            flags: NO_RECORDED_VALUE,
                            ..Default::default()
                        },
                    ],
                    aggregation_temporality: CUMULATIVE,
                }),
            )],
            &[
                &format!(
                    r#"{{__name__="http_server_request_duration_seconds_bucket",deployment_environment="staging",http_route="/cart",instance="pod-1",job="shop/checkout",le="0.1",{SERVICE}}} Cumulative 4@120000"#
                ),
                &format!(
                    r#"{{__name__="http_server_request_duration_seconds_bucket",deployment_environment="staging",http_route="/cart",instance="pod-1",job="shop/checkout",le="0.25",{SERVICE}}} Cumulative 7@120000"#
                ),
                &format!(
                    r#"{{__name__="http_server_request_duration_seconds_bucket",deployment_environment="staging",http_route="/cart",instance="pod-1",job="shop/checkout",le="1",{SERVICE}}} Cumulative 9@120000"#
                ),
                &format!(
                    r#"{{__name__="http_server_request_duration_seconds_bucket",deployment_environment="staging",http_route="/cart",instance="pod-1",job="shop/checkout",le="+Inf",{SERVICE}}} Cumulative 10@120000"#
                ),
                &format!(
                    r#"{{__name__="http_server_request_duration_seconds_count",deployment_environment="staging",http_route="/cart",instance="pod-1",job="shop/checkout",{SERVICE}}} Cumulative 10@120000"#
                ),
                &format!(
                    r#"{{__name__="http_server_request_duration_seconds_bucket",deployment_environment="staging",http_route="/empty",instance="pod-1",job="shop/checkout",le="+Inf",{SERVICE}}} Cumulative 3@120000"#
                ),
                &format!(
                    r#"{{__name__="http_server_request_duration_seconds_count",deployment_environment="staging",http_route="/empty",instance="pod-1",job="shop/checkout",{SERVICE}}} Cumulative 3@120000"#
                ),
            ],
            2,
        );
    }

    #[test]
    fn gauges_and_non_monotonic_sums_are_dropped() {
        let point = || number_point(vec![], number_data_point::Value::AsDouble(1.0));
        check(
            vec![
                metric(
                    "queue.size",
                    "",
                    metric::Data::Gauge(Gauge {
                        data_points: vec![point(), point()],
                    }),
                ),
                metric(
                    "connections",
                    "",
                    metric::Data::Sum(Sum {
                        data_points: vec![point()],
                        aggregation_temporality: CUMULATIVE,
                        is_monotonic: false,
                    }),
                ),
                metric(
                    "unspecified",
                    "",
                    metric::Data::Sum(Sum {
                        data_points: vec![point()],
                        aggregation_temporality: 0,
                        is_monotonic: true,
                    }),
                ),
            ],
            &[],
            4,
        );
    }

    #[test]
    fn names_follow_the_prometheus_translation() {
        let cases = [
            (
                "http.server.request.duration",
                "s",
                false,
                "http_server_request_duration_seconds",
            ),
            (
                "http_request_duration_seconds",
                "s",
                false,
                "http_request_duration_seconds",
            ),
            ("requests", "1", true, "requests_total"),
            ("total.requests", "", true, "requests_total"),
            (
                "rpc.client.duration",
                "ms",
                false,
                "rpc_client_duration_milliseconds",
            ),
            ("throughput", "By/s", false, "throughput_bytes_per_second"),
            ("packets", "{packet}/s", true, "packets_per_second_total"),
            ("2xx.count", "", true, "_2xx_count_total"),
            (
                "weird..name__x",
                "custom unit",
                false,
                "weird_name_x_custom_unit",
            ),
        ];
        for (name, unit, monotonic_sum, expected) in cases {
            assert_eq!(
                metric_name(name, unit, monotonic_sum),
                expected,
                "{name} {unit}"
            );
        }
        let labels = [
            ("http.route", "http_route"),
            ("1st", "key_1st"),
            ("_private", "key_private"),
            ("__reserved", "__reserved"),
            ("ok_name", "ok_name"),
        ];
        for (key, expected) in labels {
            assert_eq!(label_name(key), expected);
        }
    }

    #[test]
    fn bad_bodies_are_errors() {
        assert_eq!(
            decode(&[0; 10], 9).map(|batch| batch.series.len()),
            Err(IntakeError::TooLarge {
                what: "received",
                size: 10,
                limit: 9
            })
        );
        let body = request(vec![]).encode_to_vec();
        let truncated = decode(&body[..body.len() - 3], 1 << 20).map(|batch| batch.series.len());
        assert_eq!(
            truncated.map_err(|err| err.to_string()),
            Err("truncated or invalid OTLP ExportMetricsServiceRequest protobuf: failed to decode Protobuf message: ExportMetricsServiceRequest.resource_metrics: buffer underflow".to_string())
        );
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&bytes, 1 << 16);
        }
    }
}
