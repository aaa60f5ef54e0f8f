//! Sloth specs: `prometheus/v1`, the `PrometheusServiceLevel` CRD, OpenSLO v1alpha as Sloth
//! reads it, and `AlertWindows` files, validated the way Sloth validates them and read into
//! [`SloDef`]s.
//!
//! Each file is decoded in layers (the document with its SLOs as raw values, then each SLO) so
//! that one bad SLO does not hide the problems of the others. Where nines departs from Sloth it
//! says so in the message: an objective of exactly 100% (no error budget) is an error, and SLI
//! plugins are kept but cannot be turned into rules.

use std::collections::BTreeMap;
use std::path::Path;

use nines_core::{
    AlertPolicy, BudgetingMethod, BurnRatePair, CountKind, Objective, Ratio, Severity, SloSpec,
    Span, Window,
};
use serde::Deserialize;
use yaml_serde::Value;

use crate::catalog::{
    AlertMeta, AlertingMeta, Format, KubernetesMeta, Origin, Service, Sli, SloDef, SloId,
};
use crate::{LoadContext, LoadOptions, Report, SourceDoc, promql, source};

type Labels = BTreeMap<String, String>;

/// `Sli::External` source type under which an SLI plugin reference is kept.
pub const PLUGIN_SOURCE_TYPE: &str = "sloth-sli-plugin";

// ---------------------------------------------------------------------------------------------
// Raw models
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrometheusSpec {
    #[allow(dead_code)]
    version: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    labels: Labels,
    #[serde(default)]
    slos: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKubernetesObject {
    #[allow(dead_code)]
    #[serde(rename = "apiVersion")]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    #[serde(default)]
    metadata: RawObjectMeta,
    spec: RawKubernetesSpec,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawObjectMeta {
    #[serde(default)]
    name: String,
    namespace: Option<String>,
    #[serde(default)]
    labels: Labels,
    #[serde(default)]
    annotations: Labels,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKubernetesSpec {
    #[serde(default)]
    service: String,
    #[serde(default)]
    labels: Labels,
    #[serde(default)]
    slos: Vec<Value>,
}

/// One SLO as written, whichever spelling: the SLI and alerting parts normalized.
struct CommonSlo {
    name: String,
    objective: Option<f64>,
    description: Option<String>,
    labels: Labels,
    events: Option<(String, String)>,
    raw: Option<String>,
    plugin: Option<(String, BTreeMap<String, Value>)>,
    sli_written: bool,
    alerting: CommonAlerting,
    /// Fields in the other format's spelling, which Sloth ignores: (written, expected).
    misspelled: Vec<(&'static str, &'static str)>,
}

#[derive(Default)]
struct CommonAlerting {
    name: String,
    labels: Labels,
    annotations: Labels,
    page: (bool, Labels, Labels),
    ticket: (bool, Labels, Labels),
}

/// The SLO structs of prometheus/v1 (snake_case) and of the CRD (camelCase) are the same but
/// for the spelling; `$page`/`$ticket` are the other spelling, kept to warn that Sloth ignores it.
macro_rules! slo_structs {
    ($module:ident, $case:literal, $page:literal, $ticket:literal, $page_right:literal, $ticket_right:literal) => {
        mod $module {
            use super::*;

            #[derive(Deserialize)]
            #[serde(deny_unknown_fields, rename_all = $case)]
            pub(super) struct Slo {
                #[serde(default)]
                name: String,
                objective: Option<f64>,
                description: Option<String>,
                #[serde(default)]
                labels: Labels,
                sli: Option<Sli>,
                #[serde(default)]
                alerting: Alerting,
            }

            #[derive(Deserialize, Default)]
            #[serde(deny_unknown_fields, rename_all = $case)]
            struct Sli {
                events: Option<Events>,
                raw: Option<Raw>,
                plugin: Option<Plugin>,
            }

            #[derive(Deserialize)]
            #[serde(deny_unknown_fields, rename_all = $case)]
            struct Events {
                #[serde(default)]
                error_query: String,
                #[serde(default)]
                total_query: String,
            }

            #[derive(Deserialize)]
            #[serde(deny_unknown_fields, rename_all = $case)]
            struct Raw {
                #[serde(default)]
                error_ratio_query: String,
            }

            #[derive(Deserialize)]
            #[serde(deny_unknown_fields, rename_all = $case)]
            struct Plugin {
                #[serde(default)]
                id: String,
                #[serde(default)]
                options: BTreeMap<String, Value>,
            }

            #[derive(Deserialize, Default)]
            #[serde(deny_unknown_fields, rename_all = $case)]
            struct Alerting {
                #[serde(default)]
                name: String,
                #[serde(default)]
                labels: Labels,
                #[serde(default)]
                annotations: Labels,
                #[serde(default)]
                page_alert: Alert,
                #[serde(default)]
                ticket_alert: Alert,
                #[serde(rename = $page)]
                other_page_alert: Option<Value>,
                #[serde(rename = $ticket)]
                other_ticket_alert: Option<Value>,
            }

            #[derive(Deserialize, Default)]
            #[serde(deny_unknown_fields, rename_all = $case)]
            struct Alert {
                #[serde(default)]
                disable: bool,
                #[serde(default)]
                labels: Labels,
                #[serde(default)]
                annotations: Labels,
            }

            impl Slo {
                pub(super) fn into_common(self) -> CommonSlo {
                    let sli_written = self.sli.is_some();
                    let sli = self.sli.unwrap_or_default();
                    let alerting = self.alerting;
                    let mut misspelled = Vec::new();
                    if alerting.other_page_alert.is_some() {
                        misspelled.push(($page, $page_right));
                    }
                    if alerting.other_ticket_alert.is_some() {
                        misspelled.push(($ticket, $ticket_right));
                    }
                    CommonSlo {
                        name: self.name,
                        objective: self.objective,
                        description: self.description,
                        labels: self.labels,
                        events: sli
                            .events
                            .map(|events| (events.error_query, events.total_query)),
                        raw: sli.raw.map(|raw| raw.error_ratio_query),
                        plugin: sli.plugin.map(|plugin| (plugin.id, plugin.options)),
                        sli_written,
                        alerting: CommonAlerting {
                            name: alerting.name,
                            labels: alerting.labels,
                            annotations: alerting.annotations,
                            page: (
                                alerting.page_alert.disable,
                                alerting.page_alert.labels,
                                alerting.page_alert.annotations,
                            ),
                            ticket: (
                                alerting.ticket_alert.disable,
                                alerting.ticket_alert.labels,
                                alerting.ticket_alert.annotations,
                            ),
                        },
                        misspelled,
                    }
                }
            }
        }
    };
}

slo_structs!(
    snake,
    "snake_case",
    "pageAlert",
    "ticketAlert",
    "page_alert",
    "ticket_alert"
);
slo_structs!(
    camel,
    "camelCase",
    "page_alert",
    "ticket_alert",
    "pageAlert",
    "ticketAlert"
);

/// Field names that differ between the two spellings, for messages and paths.
struct Spelling {
    error_query: &'static str,
    total_query: &'static str,
    error_ratio_query: &'static str,
    page_alert: &'static str,
    ticket_alert: &'static str,
    format: Format,
}

const SNAKE: Spelling = Spelling {
    error_query: "error_query",
    total_query: "total_query",
    error_ratio_query: "error_ratio_query",
    page_alert: "page_alert",
    ticket_alert: "ticket_alert",
    format: Format::SlothPrometheusV1,
};

const CAMEL: Spelling = Spelling {
    error_query: "errorQuery",
    total_query: "totalQuery",
    error_ratio_query: "errorRatioQuery",
    page_alert: "pageAlert",
    ticket_alert: "ticketAlert",
    format: Format::SlothKubernetes,
};

// ---------------------------------------------------------------------------------------------
// prometheus/v1 and the CRD
// ---------------------------------------------------------------------------------------------

pub fn read_prometheus_v1(doc: &SourceDoc, context: &mut LoadContext) {
    let Some(spec) = doc.decode::<RawPrometheusSpec>(&doc.value, "", &mut context.report) else {
        return;
    };
    let group = Group {
        service: spec.service,
        labels: spec.labels,
        slos: spec.slos,
        kubernetes: None,
        base: "",
    };
    read_group(doc, group, &SNAKE, context);
}

pub fn read_kubernetes(doc: &SourceDoc, context: &mut LoadContext) {
    let Some(object) = doc.decode::<RawKubernetesObject>(&doc.value, "", &mut context.report)
    else {
        return;
    };
    if object.metadata.name.is_empty() {
        context.report.push(doc.error(
            "metadata.name",
            "metadata.name is required: it names the generated PrometheusRule",
        ));
    }
    let kubernetes = KubernetesMeta {
        name: object.metadata.name,
        namespace: object.metadata.namespace,
        labels: object.metadata.labels,
        annotations: object.metadata.annotations,
    };
    let group = Group {
        service: object.spec.service,
        labels: object.spec.labels,
        slos: object.spec.slos,
        kubernetes: Some(kubernetes),
        base: "spec",
    };
    read_group(doc, group, &CAMEL, context);
}

/// A service and its SLOs, from either spelling.
struct Group {
    service: String,
    labels: Labels,
    slos: Vec<Value>,
    kubernetes: Option<KubernetesMeta>,
    /// Path of the part holding `service`, `labels` and `slos`: `` or `spec`.
    base: &'static str,
}

fn at(base: &str, path: &str) -> String {
    crate::yaml::join_key(base, path)
}

fn read_group(doc: &SourceDoc, group: Group, spelling: &Spelling, context: &mut LoadContext) {
    let report = &mut context.report;
    let service_ok = check_name(
        doc,
        &at(group.base, "service"),
        "service",
        &group.service,
        report,
    );
    check_labels(
        doc,
        &at(group.base, "labels"),
        &group.labels,
        "label",
        report,
    );
    if group.slos.is_empty() {
        report.push(doc.error(&at(group.base, "slos"), "at least one SLO is required"));
        return;
    }
    let period = context.options.default_period;
    let policy = policy_for_period(context.options, period);
    for (index, value) in group.slos.iter().enumerate() {
        let path = format!("{}[{index}]", at(group.base, "slos"));
        let common = if spelling.format == Format::SlothKubernetes {
            doc.decode::<camel::Slo>(value, &path, &mut context.report)
                .map(camel::Slo::into_common)
        } else {
            doc.decode::<snake::Slo>(value, &path, &mut context.report)
                .map(snake::Slo::into_common)
        };
        let Some(common) = common else { continue };
        let Some(checked) = check_slo(doc, &path, common, spelling, &mut context.report) else {
            continue;
        };
        if !service_ok {
            continue;
        }
        let policy = match &policy {
            Ok(policy) => policy.clone(),
            Err(message) => {
                context.report.push(doc.error(&path, message.clone()));
                continue;
            }
        };
        let Some(objective) = checked.objective else {
            continue;
        };
        let id_text = format!("{}-{}", group.service, checked.name);
        let id = match SloId::new(&id_text) {
            Ok(id) => id,
            Err(message) => {
                context.report.push(doc.error(&path, message));
                continue;
            }
        };
        let mut labels = group.labels.clone();
        labels.extend(checked.labels);
        let slo = SloDef {
            id,
            name: checked.name,
            service: group.service.clone(),
            description: checked.description,
            journey: None,
            labels,
            spec: SloSpec {
                objective,
                window: Window::Rolling(period),
                method: BudgetingMethod::Occurrences,
                policy,
                count_kind: CountKind::Bad,
            },
            window_from_file: false,
            sli: checked.sli,
            source: None,
            alerting: checked.alerting,
            budget_policy: None,
            runbook: None,
            kubernetes: group.kubernetes.clone(),
            origin: Origin {
                file: doc.file.clone(),
                line: doc.locate(&path).line,
                path: doc.full_path(&path),
                format: spelling.format,
            },
        };
        add_service(&mut context.catalog, &group.service, &slo.origin);
        context.catalog.slos.push(slo);
    }
}

/// What [`check_slo`] keeps of a valid SLO.
struct CheckedSlo {
    name: String,
    objective: Option<Objective>,
    description: Option<String>,
    labels: Labels,
    sli: Sli,
    alerting: AlertingMeta,
}

/// Sloth's checks on one SLO, every problem reported; `None` when any is an error.
fn check_slo(
    doc: &SourceDoc,
    path: &str,
    slo: CommonSlo,
    spelling: &Spelling,
    report: &mut Report,
) -> Option<CheckedSlo> {
    let errors_before = report.errors().count();
    let field = |name: &str| format!("{path}.{name}");
    for (written, expected) in &slo.misspelled {
        report.push(doc.warning(
            &format!("{path}.alerting.{written}"),
            format!(
                "`{written}` is ignored: Sloth reads `{expected}` in {} specs, so these alert settings have no effect",
                spelling.format.name()
            ),
        ));
    }
    check_name(doc, &field("name"), "name", &slo.name, report);
    let objective = check_objective(doc, &field("objective"), slo.objective, report);
    check_labels(doc, &field("labels"), &slo.labels, "label", report);

    let sli_path = field("sli");
    let written: Vec<&str> = [
        slo.events.as_ref().map(|_| "events"),
        slo.raw.as_ref().map(|_| "raw"),
        slo.plugin.as_ref().map(|_| "plugin"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut sli = None;
    match written.as_slice() {
        [] if !slo.sli_written => {
            report.push(doc.error(path, "sli is required: set one of events, raw or plugin"))
        }
        [] => report.push(doc.error(
            &sli_path,
            "an SLI type is required: set one of events, raw or plugin",
        )),
        [_] => {}
        several => report.push(doc.error(
            &sli_path,
            format!(
                "only one SLI type is allowed, found {}",
                several.join(" and ")
            ),
        )),
    }
    if written.len() == 1 {
        if let Some((errors, total)) = &slo.events {
            let events = format!("{sli_path}.events");
            let error_ok = check_query(
                doc,
                &format!("{events}.{}", spelling.error_query),
                errors,
                report,
            );
            let total_ok = check_query(
                doc,
                &format!("{events}.{}", spelling.total_query),
                total,
                report,
            );
            if error_ok && total_ok && errors.trim() == total.trim() {
                report.push(doc.error(
                    &events,
                    "the error and total queries are the same: the error ratio would always be 1",
                ));
            }
            sli = Some(Sli::EventQueries {
                errors: Some(errors.clone()),
                good: None,
                total: total.clone(),
            });
        }
        if let Some(ratio) = &slo.raw {
            check_query(
                doc,
                &format!("{sli_path}.raw.{}", spelling.error_ratio_query),
                ratio,
                report,
            );
            sli = Some(Sli::RawErrorRatio {
                error_ratio: ratio.clone(),
            });
        }
        if let Some((id, options)) = &slo.plugin {
            let plugin = format!("{sli_path}.plugin");
            if id.is_empty() {
                report.push(doc.error(&format!("{plugin}.id"), "plugin id is required"));
            } else {
                report.push(doc.warning(
                    &plugin,
                    format!(
                        "SLI plugin {id:?} is kept but nines cannot run Sloth plugins (Go code loaded by Sloth), so no rules can be generated for this SLO; write its queries under sli.events or sli.raw"
                    ),
                ));
            }
            let mut detail = BTreeMap::from([("id".to_string(), id.clone())]);
            for (key, value) in options {
                detail.insert(format!("options.{key}"), value_text(value));
            }
            sli = Some(Sli::External {
                source_type: PLUGIN_SOURCE_TYPE.to_string(),
                detail,
            });
        }
    }

    let alerting = check_alerting(doc, &field("alerting"), slo.alerting, spelling, report);
    if report.errors().count() > errors_before {
        return None;
    }
    Some(CheckedSlo {
        name: slo.name,
        objective,
        description: slo.description.filter(|text| !text.is_empty()),
        labels: slo.labels,
        sli: sli?,
        alerting,
    })
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => yaml_serde::to_string(other)
            .map(|text| text.trim_end().to_string())
            .unwrap_or_default(),
    }
}

fn check_alerting(
    doc: &SourceDoc,
    path: &str,
    alerting: CommonAlerting,
    spelling: &Spelling,
    report: &mut Report,
) -> AlertingMeta {
    let (page_disabled, page_labels, page_annotations) = alerting.page;
    let (ticket_disabled, ticket_labels, ticket_annotations) = alerting.ticket;
    let any_enabled = !page_disabled || !ticket_disabled;
    if any_enabled && alerting.name.is_empty() {
        report.push(doc.error(
            &format!("{path}.name"),
            format!(
                "alerting.name is required while page or ticket alerts are enabled (it names both alerts); or set {0}.disable and {1}.disable",
                spelling.page_alert, spelling.ticket_alert
            ),
        ));
    }
    check_labels(
        doc,
        &format!("{path}.labels"),
        &alerting.labels,
        "alert label",
        report,
    );
    check_labels(
        doc,
        &format!("{path}.annotations"),
        &alerting.annotations,
        "alert annotation",
        report,
    );
    for (name, labels, annotations) in [
        (spelling.page_alert, &page_labels, &page_annotations),
        (spelling.ticket_alert, &ticket_labels, &ticket_annotations),
    ] {
        check_labels(
            doc,
            &format!("{path}.{name}.labels"),
            labels,
            "alert label",
            report,
        );
        check_labels(
            doc,
            &format!("{path}.{name}.annotations"),
            annotations,
            "alert annotation",
            report,
        );
    }
    AlertingMeta {
        name: Some(alerting.name).filter(|name| !name.is_empty()),
        labels: alerting.labels,
        annotations: alerting.annotations,
        page: AlertMeta {
            disable: page_disabled,
            labels: page_labels,
            annotations: page_annotations,
        },
        ticket: AlertMeta {
            disable: ticket_disabled,
            labels: ticket_labels,
            annotations: ticket_annotations,
        },
    }
}

/// Sloth's name rule for services and SLO names.
fn is_sloth_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let inner_ok = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    bytes.len() >= 2
        && inner_ok
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

fn check_name(doc: &SourceDoc, path: &str, what: &str, name: &str, report: &mut Report) -> bool {
    if name.is_empty() {
        report.push(doc.error(path, format!("{what} is required")));
        return false;
    }
    if !is_sloth_name(name) {
        report.push(doc.error(
            path,
            format!(
                "{what} {name:?} must be at least 2 characters, start and end with a letter or digit, and contain only letters, digits, '.', '_' and '-'"
            ),
        ));
        return false;
    }
    true
}

fn check_objective(
    doc: &SourceDoc,
    path: &str,
    objective: Option<f64>,
    report: &mut Report,
) -> Option<Objective> {
    let Some(percent) = objective else {
        report.push(doc.error(path, "objective is required: a percentage such as 99.9"));
        return None;
    };
    if !(percent > 0.0 && percent <= 100.0) {
        report.push(doc.error(
            path,
            format!(
                "objective {percent} is out of range: it is a percentage above 0 and at most 100"
            ),
        ));
        return None;
    }
    match Objective::from_percent(percent) {
        Ok(objective) => Some(objective),
        Err(_) => {
            report.push(doc.error(
                path,
                format!("objective {percent} leaves no error budget: nines needs an objective below 100 (Sloth accepts 100)"),
            ));
            None
        }
    }
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_labels(doc: &SourceDoc, path: &str, labels: &Labels, what: &str, report: &mut Report) {
    for (key, value) in labels {
        let key_path = crate::yaml::join_key(path, key);
        if key == "__name__" {
            report.push(doc.error(&key_path, format!("{what} key \"__name__\" is not allowed")));
        } else if !is_label_name(key) {
            report.push(doc.error(
                &key_path,
                format!("{what} key {key:?} is not a valid Prometheus label name: use letters, digits and '_', not starting with a digit"),
            ));
        }
        if value.is_empty() {
            report.push(doc.error(&key_path, format!("{what} {key:?} has an empty value")));
        }
    }
}

/// Sloth's checks on a query template: present, with the window placeholder, valid PromQL.
fn check_query(doc: &SourceDoc, path: &str, query: &str, report: &mut Report) -> bool {
    if query.trim().is_empty() {
        report.push(doc.error(path, "query is required"));
        return false;
    }
    if !has_window_placeholder(query) {
        report.push(doc.error(path, "query must contain the {{.window}} placeholder where the range goes, like rate(x[{{.window}}])"));
        return false;
    }
    if let Err(message) = promql::check(query) {
        report.push(doc.error(path, message));
        return false;
    }
    true
}

/// Sloth's `{{ *\.window *}}`.
fn has_window_placeholder(query: &str) -> bool {
    let mut rest = query;
    while let Some(open) = rest.find("{{") {
        let after = rest[open + 2..].trim_start_matches(' ');
        if let Some(tail) = after.strip_prefix(".window")
            && tail.trim_start_matches(' ').starts_with("}}")
        {
            return true;
        }
        rest = &rest[open + 2..];
    }
    false
}

fn add_service(catalog: &mut crate::Catalog, id: &str, origin: &Origin) {
    if catalog.service(id).is_some() {
        return;
    }
    catalog.services.push(Service {
        id: id.to_string(),
        display_name: None,
        description: None,
        owner: None,
        tier: None,
        runbooks: Vec::new(),
        labels: BTreeMap::new(),
        signals: None,
        status_page: true,
        origin: origin.clone(),
    });
}

// ---------------------------------------------------------------------------------------------
// Alert windows
// ---------------------------------------------------------------------------------------------

/// Sloth's built-in windows (`internal/alert/windows/google-30d.yaml` and `google-28d.yaml`): the
/// SRE Workbook's 2% in 1h, 5% in 6h (page), 10% in 1d, 10% in 3d (ticket).
pub fn builtin_alert_windows(period: Span) -> Option<AlertPolicy> {
    if period != Span::days(30) && period != Span::days(28) {
        return None;
    }
    let pair = |severity, percent: f64, short: Span, long: Span| {
        BurnRatePair::new(
            severity,
            Ratio::from_percent(percent).unwrap_or(Ratio::ZERO),
            long,
        )
        .with_short_window(short)
    };
    Some(sloth_policy(vec![
        pair(Severity::Page, 2.0, Span::minutes(5), Span::hours(1)),
        pair(Severity::Page, 5.0, Span::minutes(30), Span::hours(6)),
        pair(Severity::Ticket, 10.0, Span::hours(2), Span::days(1)),
        pair(Severity::Ticket, 10.0, Span::hours(6), Span::days(3)),
    ]))
}

/// A policy with Sloth's semantics: the pairs only, no traffic guards and no no-data alert; the
/// current burn rate over the quick page pair's short window.
fn sloth_policy(pairs: Vec<BurnRatePair>) -> AlertPolicy {
    let current_window = pairs
        .first()
        .map(|pair| pair.short_window)
        .unwrap_or(Span::minutes(5));
    AlertPolicy {
        pairs,
        min_total_events: 0,
        min_bad_events: 0,
        no_data: None,
        current_window,
    }
}

/// The alert policy for SLOs of `period`: from `--slo-period-windows-path` when given (which,
/// as in Sloth, replaces the built-in catalog), else Sloth's built-in 30d and 28d windows.
pub fn policy_for_period(options: &LoadOptions, period: Span) -> Result<AlertPolicy, String> {
    if !options.alert_windows.is_empty() {
        let known: Vec<String> = options.alert_windows.keys().map(Span::to_string).collect();
        return options.alert_windows.get(&period).cloned().ok_or_else(|| {
            format!(
                "no alert windows for the SLO period {period}: the AlertWindows files given have {}",
                known.join(", ")
            )
        });
    }
    builtin_alert_windows(period).ok_or_else(|| {
        format!(
            "no alert windows for the SLO period {period}: the built-in ones are for 30d and 28d; give AlertWindows for {period} with --slo-period-windows-path"
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlertWindows {
    #[allow(dead_code)]
    #[serde(rename = "apiVersion")]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    #[allow(dead_code)]
    metadata: Option<Value>,
    spec: RawAlertWindowsSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawAlertWindowsSpec {
    slo_period: String,
    page: RawQuickSlow,
    ticket: RawQuickSlow,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuickSlow {
    quick: RawWindow,
    slow: RawWindow,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawWindow {
    error_budget_percent: f64,
    short_window: String,
    long_window: String,
}

/// Sloth's older windows format (`version: alertWindows/v1`, the one of its built-in files):
/// the spec's fields at the top level.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawLegacyAlertWindows {
    #[allow(dead_code)]
    version: String,
    slo_period: String,
    page: RawQuickSlow,
    ticket: RawQuickSlow,
}

/// Reads one `AlertWindows` document, in either format, into its period and policy, reporting
/// every problem.
fn alert_windows_of(doc: &SourceDoc, report: &mut Report) -> Option<(Span, AlertPolicy)> {
    if doc.top_str("version") == Some(LEGACY_ALERT_WINDOWS_VERSION) {
        let raw = doc.decode::<RawLegacyAlertWindows>(&doc.value, "", report)?;
        let spec = RawAlertWindowsSpec {
            slo_period: raw.slo_period,
            page: raw.page,
            ticket: raw.ticket,
        };
        return alert_windows_of_spec(doc, &spec, "", report);
    }
    let raw = doc.decode::<RawAlertWindows>(&doc.value, "", report)?;
    alert_windows_of_spec(doc, &raw.spec, "spec", report)
}

const LEGACY_ALERT_WINDOWS_VERSION: &str = "alertWindows/v1";

/// The period and policy of an `AlertWindows` spec found at `base`.
fn alert_windows_of_spec(
    doc: &SourceDoc,
    spec: &RawAlertWindowsSpec,
    base: &str,
    report: &mut Report,
) -> Option<(Span, AlertPolicy)> {
    let errors_before = report.errors().count();
    let span = |path: &str, text: &str, report: &mut Report| match Span::parse(text) {
        Ok(span) if !span.is_zero() => Some(span),
        Ok(_) => {
            report.push(doc.error(path, "a window must be longer than 0"));
            None
        }
        Err(err) => {
            report.push(doc.error(path, err.to_string()));
            None
        }
    };
    let period = span(&at(base, "sloPeriod"), &spec.slo_period, report);
    let mut pairs = Vec::new();
    for (severity, name, quick_slow) in [
        (Severity::Page, "page", &spec.page),
        (Severity::Ticket, "ticket", &spec.ticket),
    ] {
        for (speed, window) in [("quick", &quick_slow.quick), ("slow", &quick_slow.slow)] {
            let path = at(base, &format!("{name}.{speed}"));
            let short = span(&format!("{path}.shortWindow"), &window.short_window, report);
            let long = span(&format!("{path}.longWindow"), &window.long_window, report);
            let percent = window.error_budget_percent;
            let share = if percent > 0.0 && percent <= 100.0 {
                Ratio::from_percent(percent).ok()
            } else {
                report.push(doc.error(
                    &format!("{path}.errorBudgetPercent"),
                    format!("errorBudgetPercent {percent} must be above 0 and at most 100"),
                ));
                None
            };
            if let (Some(short), Some(long), Some(share)) = (short, long, share) {
                pairs.push(BurnRatePair::new(severity, share, long).with_short_window(short));
            }
        }
    }
    let period = period?;
    let policy = sloth_policy(pairs);
    for problem in policy.validate(period) {
        report.push(doc.error(base, problem.to_string()));
    }
    if report.errors().count() > errors_before {
        return None;
    }
    Some((period, policy))
}

/// An `AlertWindows` document found among specs: checked, but it only takes effect through
/// `--slo-period-windows-path`, as in Sloth.
pub fn read_alert_windows_document(doc: &SourceDoc, context: &mut LoadContext) {
    if alert_windows_of(doc, &mut context.report).is_some() {
        context.report.push(doc.warning(
            "",
            "AlertWindows are used only when given with --slo-period-windows-path; this document is checked and otherwise ignored",
        ));
    }
}

/// Reads Sloth `AlertWindows` specs from a file or folder: one alert policy per SLO period.
pub fn load_alert_windows(path: &Path) -> Result<BTreeMap<Span, AlertPolicy>, Report> {
    let mut report = Report::default();
    let mut windows = BTreeMap::new();
    for file in source::collect_files(&[path.to_path_buf()], &mut report) {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(err) => {
                report.push(source::file_error(
                    &file,
                    &format!("cannot read file: {err}"),
                ));
                continue;
            }
        };
        let name = file.display().to_string();
        for doc in source::read_documents(&name, &text, &mut report) {
            let is_alert_windows = (doc.top_str("apiVersion") == Some("sloth.slok.dev/v1")
                && doc.top_str("kind") == Some("AlertWindows"))
                || doc.top_str("version") == Some(LEGACY_ALERT_WINDOWS_VERSION);
            if !is_alert_windows {
                report.push(doc.error(
                    "",
                    "not an AlertWindows spec: expected apiVersion sloth.slok.dev/v1 and kind AlertWindows (or Sloth's older version alertWindows/v1)",
                ));
                continue;
            }
            let Some((period, policy)) = alert_windows_of(&doc, &mut report) else {
                continue;
            };
            if windows.insert(period, policy).is_some() {
                let field = if doc.top_str("version").is_some() {
                    "sloPeriod"
                } else {
                    "spec.sloPeriod"
                };
                report.push(doc.error(
                    field,
                    format!("alert windows for the SLO period {period} are given twice"),
                ));
            }
        }
    }
    if windows.is_empty() && !report.has_errors() {
        report.push(source::file_error(path, "no AlertWindows specs found"));
    }
    if report.has_errors() {
        report.sort();
        return Err(report);
    }
    Ok(windows)
}

// ---------------------------------------------------------------------------------------------
// OpenSLO v1alpha, as Sloth reads it
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOpenSloObject {
    #[allow(dead_code)]
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    #[serde(default)]
    metadata: RawOpenSloMeta,
    spec: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawOpenSloMeta {
    #[serde(default)]
    name: String,
    #[allow(dead_code)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawOpenSloSpec {
    #[serde(default)]
    service: String,
    description: Option<String>,
    budgeting_method: Option<String>,
    indicator: Option<Value>,
    #[serde(default)]
    time_windows: Vec<RawTimeWindow>,
    #[serde(default)]
    objectives: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawTimeWindow {
    #[serde(default)]
    count: i64,
    #[serde(default)]
    unit: String,
    is_rolling: Option<bool>,
    calendar: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawObjective {
    #[allow(dead_code)]
    display_name: Option<String>,
    op: Option<String>,
    value: Option<f64>,
    target: Option<f64>,
    time_slice_target: Option<f64>,
    ratio_metrics: Option<RawRatioMetrics>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRatioMetrics {
    #[allow(dead_code)]
    incremental: Option<bool>,
    good: Option<RawMetricQuery>,
    bad: Option<RawMetricQuery>,
    total: Option<RawMetricQuery>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawMetricQuery {
    #[serde(default)]
    source: String,
    #[serde(default)]
    query_type: String,
    #[serde(default)]
    query: String,
}

/// OpenSLO v1alpha `SLO`s the way Sloth reads them: each ratio objective becomes an SLO named
/// `<name>-<index>` whose error ratio is `1 - good/total`, over a 30 day window, without alerts.
pub fn read_openslo_v1alpha(doc: &SourceDoc, context: &mut LoadContext) {
    let report = &mut context.report;
    let Some(object) = doc.decode::<RawOpenSloObject>(&doc.value, "", report) else {
        return;
    };
    if object.kind != "SLO" {
        report.push(doc.error(
            "kind",
            format!("OpenSLO v1alpha kind {:?} is not read: like Sloth, nines reads only kind SLO from v1alpha", object.kind),
        ));
        return;
    }
    let name_ok = check_name(
        doc,
        "metadata.name",
        "metadata.name",
        &object.metadata.name,
        report,
    );
    let Some(spec_value) = object.spec else {
        report.push(doc.error("", "spec is required"));
        return;
    };
    let Some(spec) = doc.decode::<RawOpenSloSpec>(&spec_value, "spec", report) else {
        return;
    };
    let service_ok = check_name(doc, "spec.service", "spec.service", &spec.service, report);
    if spec.indicator.is_some() {
        report.push(doc.error(
            "spec.indicator",
            "a threshold indicator is not supported: Sloth reads only objectives with ratioMetrics",
        ));
    }
    if let Some(method) = spec
        .budgeting_method
        .as_deref()
        .filter(|method| *method != "Occurrences")
    {
        report.push(doc.warning(
            "spec.budgetingMethod",
            format!("budgetingMethod {method:?} is read as Occurrences: Sloth's rules count events, not time slices"),
        ));
    }
    for (index, window) in spec.time_windows.iter().enumerate() {
        if window.calendar.is_some() || window.is_rolling == Some(false) {
            report.push(doc.warning(
                &format!("spec.timeWindows[{index}]"),
                "a calendar window is read as a rolling one: Sloth's rules only know rolling windows",
            ));
        }
    }
    let window_ok = match spec.time_windows.as_slice() {
        [window] if window.count == 30 && window.unit.eq_ignore_ascii_case("day") => true,
        [window] => {
            report.push(doc.error(
                "spec.timeWindows[0]",
                format!(
                    "time window of {} {} is not supported: Sloth reads OpenSLO v1alpha SLOs with a 30 Day window only",
                    window.count, window.unit
                ),
            ));
            false
        }
        _ => {
            report.push(doc.error(
                "spec.timeWindows",
                format!(
                    "exactly 1 time window is supported, found {}",
                    spec.time_windows.len()
                ),
            ));
            false
        }
    };
    if spec.objectives.is_empty() {
        report.push(doc.error("spec.objectives", "at least one objective is required"));
        return;
    }
    let policy = policy_for_period(context.options, Span::days(30));
    for (index, value) in spec.objectives.iter().enumerate() {
        let path = format!("spec.objectives[{index}]");
        let report = &mut context.report;
        let errors_before = report.errors().count();
        let Some(objective) = doc.decode::<RawObjective>(value, &path, report) else {
            continue;
        };
        let ignored = [
            ("op", objective.op.is_some()),
            ("value", objective.value.is_some()),
            ("timeSliceTarget", objective.time_slice_target.is_some()),
            (
                "ratioMetrics.bad",
                objective
                    .ratio_metrics
                    .as_ref()
                    .is_some_and(|ratio| ratio.bad.is_some()),
            ),
        ];
        for (field, written) in ignored {
            if written {
                report.push(doc.warning(
                    &format!("{path}.{field}"),
                    format!("{field} is ignored: Sloth reads a ratio objective from target, ratioMetrics.good and ratioMetrics.total"),
                ));
            }
        }
        let target = match objective.target {
            Some(target) => {
                check_objective(doc, &format!("{path}.target"), Some(target * 100.0), report)
            }
            None => {
                report.push(doc.error(
                    &path,
                    "target is required: the share of good events, such as 0.999",
                ));
                None
            }
        };
        let queries = match &objective.ratio_metrics {
            None => {
                report.push(doc.error(
                    &path,
                    "ratioMetrics is required: Sloth reads only ratio objectives",
                ));
                None
            }
            Some(ratio) => {
                let good = check_metric_query(
                    doc,
                    &format!("{path}.ratioMetrics.good"),
                    ratio.good.as_ref(),
                    report,
                );
                let total = check_metric_query(
                    doc,
                    &format!("{path}.ratioMetrics.total"),
                    ratio.total.as_ref(),
                    report,
                );
                good.zip(total)
            }
        };
        if report.errors().count() > errors_before || !(name_ok && service_ok && window_ok) {
            continue;
        }
        let (Some(objective), Some((good, total))) = (target, queries) else {
            continue;
        };
        let policy = match &policy {
            Ok(policy) => policy.clone(),
            Err(message) => {
                report.push(doc.error(&path, message.clone()));
                continue;
            }
        };
        let name = format!("{}-{index}", object.metadata.name);
        let id = match SloId::new(&format!("{}-{name}", spec.service)) {
            Ok(id) => id,
            Err(message) => {
                report.push(doc.error(&path, message));
                continue;
            }
        };
        let origin = Origin {
            file: doc.file.clone(),
            line: doc.locate(&path).line,
            path: doc.full_path(&path),
            format: Format::OpenSloV1Alpha,
        };
        let slo = SloDef {
            id,
            name,
            service: spec.service.clone(),
            description: spec.description.clone().filter(|text| !text.is_empty()),
            journey: None,
            labels: BTreeMap::new(),
            spec: SloSpec {
                objective,
                window: Window::Rolling(Span::days(30)),
                method: BudgetingMethod::Occurrences,
                policy,
                count_kind: CountKind::Good,
            },
            window_from_file: true,
            sli: Sli::EventQueries {
                errors: None,
                good: Some(good),
                total,
            },
            source: None,
            alerting: AlertingMeta {
                page: AlertMeta {
                    disable: true,
                    ..AlertMeta::default()
                },
                ticket: AlertMeta {
                    disable: true,
                    ..AlertMeta::default()
                },
                ..AlertingMeta::default()
            },
            budget_policy: None,
            runbook: None,
            kubernetes: None,
            origin,
        };
        add_service(&mut context.catalog, &spec.service, &slo.origin);
        context.catalog.slos.push(slo);
    }
}

fn check_metric_query(
    doc: &SourceDoc,
    path: &str,
    query: Option<&RawMetricQuery>,
    report: &mut Report,
) -> Option<String> {
    let Some(query) = query else {
        report.push(doc.error(path, "query is required"));
        return None;
    };
    let mut ok = true;
    if query.source != "prometheus" && query.source != "sloth" {
        report.push(doc.error(
            &format!("{path}.source"),
            format!(
                "source {:?} is not supported: Sloth reads prometheus or sloth sources",
                query.source
            ),
        ));
        ok = false;
    }
    if query.query_type != "promql" {
        report.push(doc.error(
            &format!("{path}.queryType"),
            format!(
                "queryType {:?} is not supported: expected promql",
                query.query_type
            ),
        ));
        ok = false;
    }
    ok &= check_query(doc, &format!("{path}.query"), &query.query, report);
    ok.then(|| query.query.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_placeholders_follow_sloth() {
        for (name, valid) in [
            ("svc01", true),
            ("a", false),
            ("-a", false),
            ("a.b_c-d", true),
            ("a b", false),
        ] {
            assert_eq!(is_sloth_name(name), valid, "{name}");
        }
        for (query, found) in [
            ("x[{{.window}}]", true),
            ("x[{{ .window }}]", true),
            ("x[5m]", false),
            ("{{.windows}}", false),
        ] {
            assert_eq!(has_window_placeholder(query), found, "{query}");
        }
        assert!(is_label_name("_a1") && !is_label_name("1a") && !is_label_name("a-b"));
    }
}
