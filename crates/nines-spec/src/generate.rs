//! Prometheus rule generation from a [`Catalog`]: the rule-file model, the options, how SLOs
//! are split into output documents (one per spec document, a `PrometheusRule` object for CRD
//! input, as Sloth does), the helpers both rule styles share, and YAML output.
//!
//! The styles themselves live in [`sloth_style`] (Sloth's rules, expression for expression) and
//! [`exact`] (bucketed event counts, exact traffic-weighted window ratios).

pub mod exact;
pub mod sloth_style;

use std::collections::BTreeMap;

use nines_core::{Severity, Span};
use serde::Serialize;

use crate::catalog::{Catalog, Format, KubernetesMeta, Sli, SloDef};
use crate::diag::{Diagnostic, Level, Report};
use crate::origin_error;

/// Which recording rules to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleStyle {
    /// Sloth's rules: an error ratio per window from the SLI queries; the period ratio averages
    /// the 5-minute ratios.
    Sloth,
    /// Error and total event counts per bucket; every window ratio, the period's included, is a
    /// sum of buckets, weighted by traffic.
    Exact,
}

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub style: RuleStyle,
    pub disable_alerts: bool,
    pub disable_recordings: bool,
    /// Added to every SLO's labels (so to every recording rule), overriding the spec's.
    pub extra_labels: BTreeMap<String, String>,
    /// Written into the `sloth_version` label and the header.
    pub version: String,
}

impl Default for GenerateOptions {
    fn default() -> GenerateOptions {
        GenerateOptions {
            style: RuleStyle::Sloth,
            disable_alerts: false,
            disable_recordings: false,
            extra_labels: BTreeMap::new(),
            version: format!("nines-{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// One Prometheus rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    pub expr: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Rule {
    pub fn record(
        name: impl Into<String>,
        expr: impl Into<String>,
        labels: BTreeMap<String, String>,
    ) -> Rule {
        Rule {
            record: Some(name.into()),
            alert: None,
            expr: expr.into(),
            labels,
            annotations: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleGroup {
    pub name: String,
    /// Evaluation interval, when the rules depend on it (the exact style's buckets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    pub rules: Vec<Rule>,
}

/// One output document.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleFile {
    /// A Prometheus rule file.
    Groups(Vec<RuleGroup>),
    /// A prometheus-operator `PrometheusRule` object (for `PrometheusServiceLevel` input).
    PrometheusRule {
        metadata: KubernetesMeta,
        groups: Vec<RuleGroup>,
    },
}

impl RuleFile {
    pub fn groups(&self) -> &[RuleGroup] {
        match self {
            RuleFile::Groups(groups) | RuleFile::PrometheusRule { groups, .. } => groups,
        }
    }
}

/// What [`generate`] produced: the documents, and warnings about SLOs a style could not serve
/// fully.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    pub files: Vec<RuleFile>,
    pub report: Report,
}

/// Rules for every SLO of the catalog, or every reason some SLO cannot have rules.
pub fn generate(catalog: &Catalog, options: &GenerateOptions) -> Result<Generated, Report> {
    let mut report = Report::default();
    let mut files = Vec::new();
    for document in split_documents(&catalog.slos) {
        let mut groups = Vec::new();
        for slo in &document {
            if matches!(slo.sli, Sli::Pushed | Sli::Probe(_)) {
                let message = format!(
                    "SLO {:?} is fed by nines itself (pushed events or a probe): no Prometheus rules for it",
                    slo.id.as_str()
                );
                report.push(origin_warning(slo, message));
                continue;
            }
            let normalized = with_event_queries(slo);
            let slo = normalized.as_ref();
            if let Err(message) = check_generatable(slo) {
                report.push(origin_error(&slo.origin, message));
                continue;
            }
            let context = SloContext::new(slo, options);
            match options.style {
                RuleStyle::Sloth => groups.extend(sloth_style::groups(&context)),
                RuleStyle::Exact => groups.extend(exact::groups(&context, &mut report)),
            }
        }
        let Some(first) = document.first() else {
            continue;
        };
        files.push(match &first.kubernetes {
            Some(metadata) => RuleFile::PrometheusRule {
                metadata: metadata.clone(),
                groups,
            },
            None => RuleFile::Groups(groups),
        });
    }
    if report.has_errors() {
        return Err(report);
    }
    Ok(Generated { files, report })
}

/// SLOs in output documents: consecutive SLOs of one spec document (same file, format, service
/// and Kubernetes object) share one, as Sloth writes one per input document.
fn split_documents(slos: &[SloDef]) -> Vec<Vec<&SloDef>> {
    let mut documents: Vec<Vec<&SloDef>> = Vec::new();
    for slo in slos {
        let same_document = documents
            .last()
            .and_then(|document| document.last())
            .is_some_and(|previous| {
                previous.origin.file == slo.origin.file
                    && previous.origin.format == slo.origin.format
                    && previous.service == slo.service
                    && previous.kubernetes == slo.kubernetes
            });
        match documents.last_mut() {
            Some(document) if same_document => document.push(slo),
            _ => documents.push(vec![slo]),
        }
    }
    documents
}

/// An alert name for an SLO without one: `checkout-latency` becomes `CheckoutLatencyBudgetBurn`.
fn default_alert_name(id: &str) -> String {
    let mut name: String = id
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    name.push_str("BudgetBurn");
    name
}

/// The native SLI kinds as Sloth event queries: counter selectors become rates over the
/// window, a latency SLI counts the histogram bucket at its threshold against `_count`.
fn with_event_queries(slo: &SloDef) -> std::borrow::Cow<'_, SloDef> {
    let rate = |selector: &str| format!("sum(rate({selector}[{{{{.window}}}}]))");
    let sli = match &slo.sli {
        Sli::Counters { good, bad, total } => Sli::EventQueries {
            errors: bad.as_deref().map(rate),
            good: good.as_deref().map(rate),
            total: rate(total),
        },
        Sli::Latency {
            histogram,
            threshold_seconds,
        } => {
            let (name, matchers) = match histogram.split_once('{') {
                Some((name, rest)) => (name.trim(), rest.trim_end().trim_end_matches('}').trim()),
                None => (histogram.trim(), ""),
            };
            let separator = if matchers.is_empty() { "" } else { "," };
            Sli::EventQueries {
                errors: None,
                good: Some(rate(&format!(
                    "{name}_bucket{{{matchers}{separator}le=\"{threshold_seconds}\"}}"
                ))),
                total: rate(&format!("{name}_count{{{matchers}}}")),
            }
        }
        _ => return std::borrow::Cow::Borrowed(slo),
    };
    std::borrow::Cow::Owned(SloDef { sli, ..slo.clone() })
}

fn check_generatable(slo: &SloDef) -> Result<(), String> {
    let id = slo.id.as_str();
    match &slo.sli {
        Sli::EventQueries {
            errors: None,
            good: None,
            ..
        } => Err(format!(
            "SLO {id:?}: the SLI has neither an error nor a good query"
        )),
        Sli::EventQueries { .. } | Sli::RawErrorRatio { .. }
            if slo.spec.policy.pairs.is_empty() =>
        {
            Err(format!(
                "SLO {id:?}: its alert policy has no burn-rate pairs, so there are no windows to record"
            ))
        }
        Sli::EventQueries { .. } | Sli::RawErrorRatio { .. } => Ok(()),
        Sli::External {
            source_type,
            detail,
        } if source_type == crate::sloth::PLUGIN_SOURCE_TYPE => Err(format!(
            "SLO {id:?}: cannot generate rules for SLI plugin {:?}: nines cannot run Sloth plugins; write the queries under sli.events or sli.raw",
            detail.get("id").map(String::as_str).unwrap_or_default()
        )),
        _ => Err(format!(
            "SLO {id:?}: rules can be generated for Sloth event and raw-ratio SLIs (and OpenSLO v1alpha ratios) only, not for this SLI"
        )),
    }
}

/// What both styles need to know about one SLO, computed once.
pub struct SloContext<'a> {
    pub slo: &'a SloDef,
    pub options: &'a GenerateOptions,
    pub period: Span,
    /// `sloth_id`, `sloth_service`, `sloth_slo`.
    pub id_labels: BTreeMap<String, String>,
    /// The SLO's labels with the extra labels over them.
    pub slo_labels: BTreeMap<String, String>,
    /// `{sloth_id="…", sloth_service="…", sloth_slo="…"}`.
    pub filter: String,
    /// Every window the alerts read, shortest first.
    pub alert_windows: Vec<Span>,
    /// The shortest window of the quick page pair: Sloth's base for the current burn rate.
    pub short_window: Span,
}

impl<'a> SloContext<'a> {
    fn new(slo: &'a SloDef, options: &'a GenerateOptions) -> SloContext<'a> {
        let id_labels = BTreeMap::from([
            ("sloth_id".to_string(), slo.id.to_string()),
            ("sloth_service".to_string(), slo.service.clone()),
            ("sloth_slo".to_string(), slo.name.clone()),
        ]);
        let filter = label_filter(&id_labels);
        let mut slo_labels = slo.labels.clone();
        slo_labels.extend(options.extra_labels.clone());
        let mut alert_windows: Vec<Span> = slo
            .spec
            .policy
            .pairs
            .iter()
            .flat_map(|pair| [pair.short_window, pair.long_window])
            .collect();
        alert_windows.sort();
        alert_windows.dedup();
        let short_window = slo
            .spec
            .policy
            .pairs
            .iter()
            .find(|pair| pair.severity == Severity::Page)
            .map(|pair| pair.short_window)
            .or_else(|| alert_windows.first().copied())
            .unwrap_or(Span::minutes(5));
        SloContext {
            slo,
            options,
            period: slo.spec.window.nominal_period(),
            id_labels,
            slo_labels,
            filter,
            alert_windows,
            short_window,
        }
    }

    /// Labels of a rule about the SLO: the ids, then the SLO's labels, then `extra`.
    pub fn labels(&self, extra: &[(&str, String)]) -> BTreeMap<String, String> {
        let mut labels = self.id_labels.clone();
        labels.extend(self.slo_labels.clone());
        for (key, value) in extra {
            labels.insert((*key).to_string(), value.clone());
        }
        labels
    }

    /// `sloth_mode` and `sloth_spec` for the info rule.
    pub fn mode_and_spec(&self) -> (&'static str, &'static str) {
        match self.slo.origin.format {
            Format::SlothKubernetes => ("cli-gen-k8s", "sloth.slok.dev/v1"),
            Format::OpenSloV1Alpha => ("cli-gen-openslo", "openslo/v1alpha"),
            Format::SlothPrometheusV1 => ("cli-gen-prom", "prometheus/v1"),
            Format::Native => ("cli-gen-nines", "nines/v1"),
            Format::OpenSloV1 => ("cli-gen-openslo", "openslo/v1"),
        }
    }

    /// `slo:sli_error:ratio_rate<window>`.
    pub fn ratio_metric(&self, window: Span) -> String {
        format!("slo:sli_error:ratio_rate{}", prom_duration(window))
    }

    /// The multiwindow-multiburn alert rules, one per severity that is enabled.
    pub fn alert_rules(&self) -> Vec<Rule> {
        if self.options.disable_alerts {
            return Vec::new();
        }
        let alerting = &self.slo.alerting;
        let budget = number(self.slo.spec.objective.error_budget());
        let mut rules = Vec::new();
        for (severity, meta) in [
            (Severity::Page, &alerting.page),
            (Severity::Ticket, &alerting.ticket),
        ] {
            let pairs: Vec<_> = self
                .slo
                .spec
                .policy
                .pairs
                .iter()
                .filter(|pair| pair.severity == severity)
                .collect();
            if meta.disable || pairs.is_empty() {
                continue;
            }
            let condition = |window: Span, factor: &str| {
                format!(
                    "    max({}{} > ({factor} * {budget})) without (sloth_window)",
                    self.ratio_metric(window),
                    self.filter
                )
            };
            let blocks: Vec<String> = pairs
                .iter()
                .map(|pair| {
                    let factor = number(pair.factor(self.period));
                    format!(
                        "(\n{}\n    and\n{}\n)",
                        condition(pair.short_window, &factor),
                        condition(pair.long_window, &factor)
                    )
                })
                .collect();
            let name = severity.name();
            let mut labels = BTreeMap::from([("sloth_severity".to_string(), name.to_string())]);
            labels.extend(alerting.labels.clone());
            labels.extend(meta.labels.clone());
            let mut annotations = BTreeMap::from([
                (
                    "title".to_string(),
                    format!("({name}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error budget burn rate is too fast."),
                ),
                (
                    "summary".to_string(),
                    "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected.".to_string(),
                ),
            ]);
            if let Some(runbook) = &self.slo.runbook {
                annotations.insert("runbook_url".to_string(), runbook.clone());
            }
            annotations.extend(alerting.annotations.clone());
            annotations.extend(meta.annotations.clone());
            rules.push(Rule {
                record: None,
                alert: Some(
                    alerting
                        .name
                        .clone()
                        .unwrap_or_else(|| default_alert_name(self.slo.id.as_str())),
                ),
                expr: format!("{}\n", blocks.join("\nor\n")),
                labels,
                annotations,
            });
        }
        rules
    }

    /// Sloth's metadata recordings: objective, budget, period, burn rates, budget left, info.
    pub fn meta_rules(&self, mode: &str) -> Vec<Rule> {
        let labels = self.labels(&[]);
        let objective = number(self.slo.spec.objective.get());
        let burn_rate = |window: Span| {
            format!(
                "{}{filter}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\nslo:error_budget:ratio{filter}\n",
                self.ratio_metric(window),
                filter = self.filter
            )
        };
        let (default_mode, spec) = self.mode_and_spec();
        let mode = if mode.is_empty() { default_mode } else { mode };
        vec![
            Rule::record(
                "slo:objective:ratio",
                format!("vector({objective})"),
                labels.clone(),
            ),
            Rule::record(
                "slo:error_budget:ratio",
                format!("vector(1-{objective})"),
                labels.clone(),
            ),
            Rule::record(
                "slo:time_period:days",
                format!("vector({})", number(self.period.as_secs_f64() / 86_400.0)),
                labels.clone(),
            ),
            Rule::record(
                "slo:current_burn_rate:ratio",
                burn_rate(self.short_window),
                labels.clone(),
            ),
            Rule::record(
                "slo:period_burn_rate:ratio",
                burn_rate(self.period),
                labels.clone(),
            ),
            Rule::record(
                "slo:period_error_budget_remaining:ratio",
                format!("1 - slo:period_burn_rate:ratio{}", self.filter),
                labels.clone(),
            ),
            Rule::record(
                "sloth_slo_info",
                "vector(1)",
                self.labels(&[
                    ("sloth_version", self.options.version.clone()),
                    ("sloth_mode", mode.to_string()),
                    ("sloth_spec", spec.to_string()),
                    ("sloth_objective", number(self.slo.spec.objective.percent())),
                ]),
            ),
        ]
    }
}

/// `{a="1", b="2"}`.
pub fn label_filter(labels: &BTreeMap<String, String>) -> String {
    let matchers: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}={value:?}"))
        .collect();
    format!("{{{}}}", matchers.join(", "))
}

/// A duration the way Prometheus (and so Sloth) prints it: weeks and years only when they
/// divide evenly (`4w`, `30d`, `1d`, `90m` is `1h30m`).
pub fn prom_duration(span: Span) -> String {
    let mut rest = span.as_secs();
    if rest == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit_seconds, unit, exact) in [
        (365 * 86_400, "y", true),
        (7 * 86_400, "w", true),
        (86_400, "d", false),
        (3600, "h", false),
        (60, "m", false),
        (1, "s", false),
    ] {
        if exact && rest % unit_seconds != 0 {
            continue;
        }
        if rest >= unit_seconds {
            out.push_str(&format!("{}{unit}", rest / unit_seconds));
            rest %= unit_seconds;
        }
    }
    out
}

/// A number as short as it can be written once rounded to 12 decimals, so that `1 - 0.999`
/// prints `0.001` and `99.9 / 100` prints `0.999`.
pub fn number(value: f64) -> String {
    let rounded = (value * 1e12).round() / 1e12;
    format!("{rounded}")
}

/// Fills Sloth's window placeholder.
pub fn fill(query: &str, window: Span) -> String {
    crate::promql::fill_window(query, &prom_duration(window))
}

/// The YAML text of the generated documents, each with a header, as Sloth writes them.
pub fn to_yaml(files: &[RuleFile], options: &GenerateOptions) -> Result<String, String> {
    #[derive(Serialize)]
    struct GroupsDoc<'a> {
        groups: &'a [RuleGroup],
    }
    #[derive(Serialize)]
    struct Metadata<'a> {
        name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        namespace: Option<&'a str>,
        labels: BTreeMap<String, String>,
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        annotations: &'a BTreeMap<String, String>,
    }
    #[derive(Serialize)]
    struct PrometheusRuleDoc<'a> {
        #[serde(rename = "apiVersion")]
        api_version: &'static str,
        kind: &'static str,
        metadata: Metadata<'a>,
        spec: GroupsDoc<'a>,
    }
    let mut out = String::new();
    for file in files {
        let body = match file {
            RuleFile::Groups(groups) => yaml_serde::to_string(&GroupsDoc { groups }),
            RuleFile::PrometheusRule { metadata, groups } => {
                let mut labels = BTreeMap::from([
                    ("app.kubernetes.io/component".to_string(), "SLO".to_string()),
                    (
                        "app.kubernetes.io/managed-by".to_string(),
                        "sloth".to_string(),
                    ),
                ]);
                labels.extend(metadata.labels.clone());
                yaml_serde::to_string(&PrometheusRuleDoc {
                    api_version: "monitoring.coreos.com/v1",
                    kind: "PrometheusRule",
                    metadata: Metadata {
                        name: &metadata.name,
                        namespace: metadata.namespace.as_deref(),
                        labels,
                        annotations: &metadata.annotations,
                    },
                    spec: GroupsDoc { groups },
                })
            }
        }
        .map_err(|err| format!("cannot write YAML: {err}"))?;
        out.push_str(&format!(
            "\n---\n# Code generated by nines ({}), Sloth-compatible: https://github.com/slok/sloth.\n# DO NOT EDIT.\n\n{body}",
            options.version
        ));
    }
    Ok(out)
}

/// A warning at an SLO's origin.
pub fn origin_warning(slo: &SloDef, message: String) -> Diagnostic {
    Diagnostic {
        level: Level::Warning,
        ..origin_error(&slo.origin, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_prometheus() {
        for (span, text) in [
            (Span::minutes(5), "5m"),
            (Span::hours(1), "1h"),
            (Span::days(1), "1d"),
            (Span::days(3), "3d"),
            (Span::days(7), "1w"),
            (Span::days(28), "4w"),
            (Span::days(30), "30d"),
            (Span::minutes(90), "1h30m"),
        ] {
            assert_eq!(prom_duration(span), text);
        }
    }

    #[test]
    fn numbers_print_short() {
        assert_eq!(number(1.0 - 0.999), "0.001");
        assert_eq!(number(99.9 / 100.0), "0.999");
        assert_eq!(number(30.0), "30");
        assert_eq!(number(0.02 * 30.0 * 24.0), "14.4");
    }
}
