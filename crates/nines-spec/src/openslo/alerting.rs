//! OpenSLO v1 alerting: `AlertCondition`, `AlertNotificationTarget` and `AlertPolicy` objects,
//! and how an SLO's alert policies map onto nines' multi-window burn-rate [`AlertPolicy`].
//!
//! The mapping, per SLO:
//! - Each `burnrate` condition with `op: gt` or `gte`, threshold `T` and `lookbackWindow` `L`
//!   becomes one [`BurnRatePair`]: long window `L`, short window `L / 12` (whole minutes, at
//!   least 1m, the SRE workbook's ratio), and `budget_share = T * L / period`, so that the
//!   pair's burn-rate factor is exactly `T`. `period` is the SLO window's nominal length.
//! - Severity: `page`, `critical`, `high`, `urgent`, `emergency`, `error`, `sev0`..`sev2`, `p0`..`p2`
//!   (any case) page; every other severity (`warning`, `ticket`, `low`...) opens a ticket.
//! - `alertWhenBreaching: false` keeps the policy's conditions out of the pairs (when it is
//!   omitted the conditions are used: a policy lists conditions to fire on them);
//!   `alertWhenNoData: true` turns on the no-data rule (after 15 minutes, at the policy's
//!   highest severity); without it an SLO with alert policies has no no-data alert.
//! - What does not fit is reported as a warning and left out: `op: lt`/`lte` (nines alerts on
//!   burn rates rising above a threshold), `alertAfter` (the short window already stops
//!   one-off spikes from firing). A condition that would spend more than the whole budget
//!   before firing is an error.
//! - An SLO without alert policies, or whose policies give no pair, gets the default policy:
//!   the alert windows given for its period ([`LoadOptions::alert_windows`]), else
//!   [`AlertPolicy::workbook`]. Pairs mapped from conditions keep the default's traffic guards
//!   and current window.
//!
//! [`LoadOptions::alert_windows`]: crate::LoadOptions::alert_windows
//! - `alertWhenResolved` is read and not used: nines always records resolutions. Policy and
//!   notification target names are kept as annotations of the SLO's alerts.

use std::collections::BTreeMap;
use std::rc::Rc;

use nines_core::{AlertPolicy, BurnRatePair, NoDataRule, Ratio, Severity, Span};
use yaml_serde::Value;

use super::raw::{
    RawAlertConditionSpec, RawAlertPolicySpec, RawConditionRef, RawInline, RawTargetRef,
    RawTargetSpec,
};
use super::sli::{op_name, parse_op};
use super::{Place, Shorthand, read_metadata};
use crate::catalog::{AlertingMeta, ThresholdOp};
use crate::diag::Report;

/// A burn-rate condition, checked.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    pub name: String,
    /// Where its spec is written.
    pub place: Place,
    pub severity: Severity,
    pub op: ThresholdOp,
    pub threshold: f64,
    pub lookback: Shorthand,
    pub alert_after: Option<Shorthand>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    pub name: String,
    pub target: String,
}

impl Target {
    pub(crate) fn new(name: &str, spec: &RawTargetSpec) -> Target {
        Target {
            name: name.to_string(),
            target: spec.target.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub name: String,
    pub no_data: bool,
    pub breaching: bool,
    pub conditions: Vec<Rc<Condition>>,
    /// Target names, with the kind of target when known.
    pub targets: Vec<String>,
}

/// Named conditions and targets, for references.
pub(crate) struct Tables {
    /// `None` for a condition that was read with errors (already reported).
    pub conditions: BTreeMap<String, Option<Rc<Condition>>>,
    pub targets: BTreeMap<String, Target>,
}

fn severity_of(text: &str) -> Severity {
    let lower = text.trim().to_ascii_lowercase();
    let pages = [
        "page",
        "paging",
        "critical",
        "crit",
        "high",
        "urgent",
        "emergency",
        "error",
        "sev0",
        "sev1",
        "sev2",
        "p0",
        "p1",
        "p2",
    ];
    if pages.contains(&lower.as_str()) {
        Severity::Page
    } else {
        Severity::Ticket
    }
}

/// Reads a condition spec at `place` (the spec of an `AlertCondition`, standalone or inline).
pub(crate) fn read_condition(
    place: &Place,
    name: &str,
    spec: &RawAlertConditionSpec,
    report: &mut Report,
) -> Option<Condition> {
    let condition = &spec.condition;
    let at = place.at("condition");
    let mut ok = true;
    let kind = condition.kind.as_deref().unwrap_or("burnrate");
    if kind != "burnrate" {
        report.push(at.error(
            "kind",
            format!("unknown condition kind {kind:?}: OpenSLO v1 defines only burnrate"),
        ));
        ok = false;
    }
    if spec.severity.trim().is_empty() {
        report.push(place.error("severity", "severity must not be empty"));
        ok = false;
    }
    let op = match condition.op.as_deref() {
        Some(text) => match parse_op(text) {
            Some(op) => Some(op),
            None => {
                report.push(at.error(
                    "op",
                    format!("unknown op {text:?}: expected lt, lte, gt or gte"),
                ));
                ok = false;
                None
            }
        },
        None => {
            report.push(at.warning(
                "op",
                "a burnrate condition without `op` breaks a rule of OpenSLO's reference validator (op is required); nines reads it as gt",
            ));
            Some(ThresholdOp::Gt)
        }
    };
    let threshold = match condition.threshold {
        Some(threshold) if threshold.is_finite() => Some(threshold),
        Some(threshold) => {
            report.push(at.error(
                "threshold",
                format!("threshold {threshold} is not a number"),
            ));
            ok = false;
            None
        }
        None => {
            report.push(at.error("threshold", "a burnrate condition needs `threshold`"));
            ok = false;
            None
        }
    };
    let lookback = match condition.lookback_window.as_deref().map(Shorthand::parse) {
        Some(Ok(lookback)) => Some(lookback),
        Some(Err(problem)) => {
            report.push(at.error("lookbackWindow", problem));
            ok = false;
            None
        }
        None => {
            report.push(at.error(
                "lookbackWindow",
                "a burnrate condition needs `lookbackWindow`",
            ));
            ok = false;
            None
        }
    };
    let alert_after = match condition.alert_after.as_deref() {
        None | Some("") => None,
        Some(text) => match Shorthand::parse(text) {
            Ok(alert_after) => Some(alert_after),
            Err(problem) => {
                report.push(at.error("alertAfter", problem));
                ok = false;
                None
            }
        },
    };
    let (true, Some(op), Some(threshold), Some(lookback)) = (ok, op, threshold, lookback) else {
        return None;
    };
    Some(Condition {
        name: name.to_string(),
        place: place.clone(),
        severity: severity_of(&spec.severity),
        op,
        threshold,
        lookback,
        alert_after,
    })
}

/// Reads an `AlertPolicy` spec at `place`, resolving its condition and target references.
pub(crate) fn read_policy(
    place: &Place,
    name: &str,
    spec: &RawAlertPolicySpec,
    tables: &Tables,
    report: &mut Report,
) -> Option<Policy> {
    let mut ok = true;
    if spec.conditions.is_empty() {
        report.push(place.error("conditions", "an alert policy needs a condition"));
        ok = false;
    }
    if spec.conditions.len() > 1 {
        report.push(place.warning(
            "conditions",
            "OpenSLO v1 allows one condition per alert policy and `oslo validate` rejects more; nines reads each one",
        ));
    }
    let mut conditions = Vec::new();
    for (index, value) in spec.conditions.iter().enumerate() {
        let item = place.at("conditions").at(&format!("[{index}]"));
        match read_condition_item(&item, value, tables, report) {
            Some(condition) => conditions.push(condition),
            None => ok = false,
        }
    }
    if spec.notification_targets.is_empty() {
        report.push(place.warning(
            "notificationTargets",
            "an alert policy without notificationTargets breaks a rule of OpenSLO's reference validator; nines accepts it",
        ));
    }
    let mut targets = Vec::new();
    for (index, value) in spec.notification_targets.iter().enumerate() {
        let item = place.at("notificationTargets").at(&format!("[{index}]"));
        match read_target_item(&item, value, tables, report) {
            Some(target) => targets.push(target),
            None => ok = false,
        }
    }
    ok.then(|| Policy {
        name: name.to_string(),
        no_data: spec.alert_when_no_data.unwrap_or(false),
        breaching: spec.alert_when_breaching.unwrap_or(true),
        conditions,
        targets,
    })
}

fn has_key(value: &Value, key: &str) -> bool {
    value.get(key).is_some()
}

fn read_condition_item(
    item: &Place,
    value: &Value,
    tables: &Tables,
    report: &mut Report,
) -> Option<Rc<Condition>> {
    if has_key(value, "conditionRef") {
        let reference: RawConditionRef = item.decode(value, report)?;
        return match tables.conditions.get(&reference.condition_ref) {
            Some(Some(condition)) => Some(condition.clone()),
            // Already reported where the condition is defined.
            Some(None) => None,
            None => {
                report.push(item.error(
                    "conditionRef",
                    format!(
                        "AlertCondition {:?} is not defined in the files read",
                        reference.condition_ref
                    ),
                ));
                None
            }
        };
    }
    let inline: RawInline = item.decode(value, report)?;
    check_inline_kind(
        item,
        inline.kind.as_deref(),
        "AlertCondition",
        "conditionRef",
        report,
    )?;
    let meta = read_metadata(&item.at("metadata"), &inline.metadata, report);
    let spec_place = item.at("spec");
    let spec: Option<RawAlertConditionSpec> = spec_place.decode(&inline.spec, report);
    let (meta, spec) = (meta?, spec?);
    read_condition(&spec_place, &meta.name, &spec, report).map(Rc::new)
}

fn read_target_item(
    item: &Place,
    value: &Value,
    tables: &Tables,
    report: &mut Report,
) -> Option<String> {
    if has_key(value, "targetRef") {
        let reference: RawTargetRef = item.decode(value, report)?;
        let name = reference.target_ref;
        return match tables.targets.get(&name) {
            Some(target) => Some(format!("{} ({})", target.name, target.target)),
            None => {
                report.push(item.warning(
                    "targetRef",
                    format!(
                        "AlertNotificationTarget {name:?} is not defined in the files read; nines keeps the name and delivers through its own routes"
                    ),
                ));
                Some(name)
            }
        };
    }
    let inline: RawInline = item.decode(value, report)?;
    check_inline_kind(
        item,
        inline.kind.as_deref(),
        "AlertNotificationTarget",
        "targetRef",
        report,
    )?;
    let meta = read_metadata(&item.at("metadata"), &inline.metadata, report);
    let spec: Option<RawTargetSpec> = item.at("spec").decode(&inline.spec, report);
    let (meta, spec) = (meta?, spec?);
    Some(format!("{} ({})", meta.name, spec.target))
}

/// An inline object must say its kind.
pub(crate) fn check_inline_kind(
    item: &Place,
    kind: Option<&str>,
    expected: &str,
    reference: &str,
    report: &mut Report,
) -> Option<()> {
    match kind {
        Some(kind) if kind == expected => Some(()),
        Some(kind) => {
            report.push(item.error("kind", format!("kind {kind:?} here must be {expected}")));
            None
        }
        None => {
            report.push(item.error(
                "",
                format!("an inline {expected} needs `kind: {expected}` (or write `{reference}` to refer to one)"),
            ));
            None
        }
    }
}

/// The nines alert policy for an SLO with these OpenSLO policies and a window of nominal length
/// `period`. Problems are reported at the conditions (naming the SLO) and at `slo_place`.
pub(crate) fn policy_for_slo(
    policies: &[Rc<Policy>],
    period: Span,
    default_policy: &AlertPolicy,
    slo_name: &str,
    slo_place: &Place,
    report: &mut Report,
) -> Option<(AlertPolicy, AlertingMeta)> {
    let mut alerting = AlertingMeta::default();
    if policies.is_empty() {
        return Some((default_policy.clone(), alerting));
    }
    let names: Vec<&str> = policies.iter().map(|policy| policy.name.as_str()).collect();
    alerting
        .annotations
        .insert("openslo_alert_policies".to_string(), names.join(","));
    let targets: Vec<&str> = policies
        .iter()
        .flat_map(|policy| policy.targets.iter().map(String::as_str))
        .collect();
    if !targets.is_empty() {
        alerting.annotations.insert(
            "openslo_notification_targets".to_string(),
            targets.join(","),
        );
    }

    let mut ok = true;
    let mut pairs = Vec::new();
    let mut no_data: Option<Severity> = None;
    for policy in policies {
        let highest = policy
            .conditions
            .iter()
            .map(|condition| condition.severity)
            .max()
            .unwrap_or(Severity::Ticket);
        if policy.no_data {
            no_data = no_data.max(Some(highest));
        }
        if !policy.breaching {
            continue;
        }
        for condition in &policy.conditions {
            match pair_for(condition, period, slo_name, report) {
                Ok(Some(pair)) => pairs.push(pair),
                Ok(None) => {}
                Err(()) => ok = false,
            }
        }
    }
    if !ok {
        return None;
    }
    if pairs.is_empty() {
        report.push(slo_place.warning(
            "alertPolicies",
            "no condition of these alert policies maps to a burn-rate pair; nines uses its default multi-window policy",
        ));
        let mut policy = default_policy.clone();
        if no_data.is_none() {
            policy.no_data = None;
        }
        return Some((policy, alerting));
    }
    let defaults = default_policy;
    let policy = AlertPolicy {
        pairs,
        min_total_events: defaults.min_total_events,
        min_bad_events: defaults.min_bad_events,
        no_data: no_data.map(|severity| NoDataRule {
            after: Span::minutes(15),
            severity,
        }),
        current_window: defaults.current_window,
    };
    Some((policy, alerting))
}

/// One condition as a pair: `Ok(None)` when it does not fit (warned), `Err` when it is wrong
/// for this SLO (reported).
fn pair_for(
    condition: &Condition,
    period: Span,
    slo_name: &str,
    report: &mut Report,
) -> Result<Option<BurnRatePair>, ()> {
    let at = condition.place.at("condition");
    if matches!(condition.op, ThresholdOp::Lt | ThresholdOp::Lte) {
        report.push(at.warning(
            "op",
            format!(
                "SLO {slo_name:?}, condition {:?}: op {} is not used: nines alerts when the burn rate rises above a threshold, so this condition is left out",
                condition.name,
                op_name(condition.op)
            ),
        ));
        return Ok(None);
    }
    if condition.threshold <= 0.0 {
        report.push(at.warning(
            "threshold",
            format!("SLO {slo_name:?}, condition {:?}: a burn-rate threshold of {} always holds; this condition is left out", condition.name, condition.threshold),
        ));
        return Ok(None);
    }
    let long_window = condition.lookback.span();
    let share = condition.threshold * long_window.as_secs_f64() / period.as_secs_f64().max(1.0);
    let Ok(budget_share) = Ratio::new(share) else {
        report.push(at.error(
            "threshold",
            format!(
                "SLO {slo_name:?}, condition {:?}: burn rate {} over {} spends {:.0}% of the {period} budget before it fires; use at most {:.4} for this lookback window",
                condition.name,
                condition.threshold,
                condition.lookback,
                share * 100.0,
                period.as_secs_f64() / long_window.as_secs_f64()
            ),
        ));
        return Err(());
    };
    if let Some(alert_after) = condition.alert_after {
        report.push(at.warning(
            "alertAfter",
            format!(
                "SLO {slo_name:?}, condition {:?}: alertAfter {alert_after} is not used: nines fires once both the {} window and its {} short window burn",
                condition.name,
                condition.lookback,
                short_window(long_window)
            ),
        ));
    }
    Ok(Some(
        BurnRatePair::new(condition.severity, budget_share, long_window)
            .with_short_window(short_window(long_window)),
    ))
}

/// A twelfth of the long window, in whole minutes, at least one.
fn short_window(long_window: Span) -> Span {
    Span::minutes((long_window.whole_minutes() / 12).max(1))
}
