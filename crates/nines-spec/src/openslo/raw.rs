//! The raw serde model of OpenSLO v1 documents: field names as the spec writes them, unknown
//! fields rejected, nested lists kept as `Value`s so that each item is decoded (and reported) on
//! its own.

use std::collections::BTreeMap;

use serde::Deserialize;
use yaml_serde::Value;

/// The envelope every object shares.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawObject {
    #[allow(dead_code)]
    pub api_version: String,
    pub kind: String,
    pub metadata: Value,
    pub spec: Value,
}

/// An object written inline inside another one (`indicator`, `conditions[]`...).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInline {
    pub kind: Option<String>,
    pub metadata: Value,
    pub spec: Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawMetadata {
    pub name: String,
    pub display_name: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, RawLabel>,
    /// Read and kept with the object; nines gives them no meaning.
    #[serde(default)]
    #[allow(dead_code)]
    pub annotations: BTreeMap<String, String>,
}

/// A label value: one string or a list of strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "a label value: a string or a list of strings")]
pub enum RawLabel {
    One(String),
    Many(Vec<String>),
}

impl RawLabel {
    pub fn joined(&self) -> String {
        match self {
            RawLabel::One(value) => value.clone(),
            RawLabel::Many(values) => values.join(","),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawDataSourceSpec {
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub source_type: String,
    /// Free-form per source type: a mapping, or a list of one-key mappings. nines reads `url`
    /// (or `address`), `headers` and `timeout` of a Prometheus DataSource.
    pub connection_details: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawServiceSpec {
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSliSpec {
    pub description: Option<String>,
    /// A [`RawMetric`], decoded on its own.
    pub threshold_metric: Option<Value>,
    /// A [`RawRatioMetric`], decoded on its own.
    pub ratio_metric: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRatioMetric {
    pub counter: Option<bool>,
    /// Each a [`RawMetric`], decoded on its own so that a problem in one does not hide the
    /// others.
    pub good: Option<Value>,
    pub bad: Option<Value>,
    pub total: Option<Value>,
    pub raw_type: Option<String>,
    pub raw: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawMetric {
    pub metric_source: RawMetricSource,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawMetricSource {
    pub metric_source_ref: Option<String>,
    #[serde(rename = "type")]
    pub source_type: Option<String>,
    /// Free-form per source type (`query` for Prometheus): kept whole.
    pub spec: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSloSpec {
    pub description: Option<String>,
    pub service: String,
    pub indicator: Option<Value>,
    pub indicator_ref: Option<String>,
    pub budgeting_method: String,
    pub time_window: Option<Vec<Value>>,
    pub objectives: Vec<Value>,
    pub alert_policies: Option<Vec<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawObjective {
    pub display_name: Option<String>,
    pub op: Option<String>,
    pub value: Option<f64>,
    pub target: Option<f64>,
    pub target_percent: Option<f64>,
    pub time_slice_target: Option<f64>,
    /// A duration shorthand, or a bare number of minutes.
    pub time_slice_window: Option<Value>,
    pub indicator: Option<Value>,
    pub indicator_ref: Option<String>,
    pub composite_weight: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTimeWindow {
    pub duration: String,
    pub is_rolling: Option<bool>,
    pub calendar: Option<RawCalendar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawCalendar {
    pub start_time: String,
    pub time_zone: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAlertPolicyRef {
    /// Tolerated when it says `AlertPolicyRef`.
    pub kind: Option<String>,
    pub alert_policy_ref: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAlertPolicySpec {
    pub description: Option<String>,
    pub alert_when_no_data: Option<bool>,
    pub alert_when_breaching: Option<bool>,
    /// Read; nines always records when an alert resolves.
    #[allow(dead_code)]
    pub alert_when_resolved: Option<bool>,
    #[serde(default)]
    pub conditions: Vec<Value>,
    #[serde(default)]
    pub notification_targets: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawConditionRef {
    pub condition_ref: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTargetRef {
    pub target_ref: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAlertConditionSpec {
    pub description: Option<String>,
    pub severity: String,
    pub condition: RawConditionType,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawConditionType {
    pub kind: Option<String>,
    pub op: Option<String>,
    pub threshold: Option<f64>,
    pub lookback_window: Option<String>,
    pub alert_after: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTargetSpec {
    pub description: Option<String>,
    pub target: String,
}
