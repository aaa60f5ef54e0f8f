//! OpenSLO v1 SLOs to nines SLO definitions: one per objective, with window, budgeting method,
//! SLI and alert policy resolved.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use nines_core::{
    AlertPolicy, BudgetingMethod, CalendarUnit, CalendarWindow, Objective, Ratio, SloSpec, Span,
    Window,
};
use yaml_serde::Value;

use super::alerting::{self, Policy, check_inline_kind};
use super::raw::{
    RawAlertPolicyRef, RawAlertPolicySpec, RawInline, RawObjective, RawSliSpec, RawSloSpec,
    RawTimeWindow,
};
use super::sli::{self, Shape, parse_op};
use super::{Meta, Place, Shorthand, read_metadata};
use crate::LoadOptions;
use crate::catalog::{SloDef, SloId, ThresholdOp};
use crate::diag::Report;

/// Every named object an SLO can refer to. `None` entries were read with errors, already
/// reported where they are defined.
pub(crate) struct Tables {
    pub data_sources: BTreeMap<String, sli::DataSource>,
    pub slis: BTreeMap<String, Option<Rc<Shape>>>,
    pub policies: BTreeMap<String, Option<Rc<Policy>>>,
    pub alerts: alerting::Tables,
}

enum Indicator {
    Absent,
    Broken,
    Found(Rc<Shape>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MethodKind {
    Occurrences,
    Timeslices,
    RatioTimeslices,
}

/// The SLO definitions of one `SLO` object (one per objective); empty when it has errors, which
/// are all reported.
pub(crate) fn convert(
    place: &Place,
    meta: &Meta,
    spec: &RawSloSpec,
    tables: &Tables,
    options: &LoadOptions,
    report: &mut Report,
) -> Vec<SloDef> {
    let spec_place = place.at("spec");
    let mut ok = true;

    let spec_indicator = resolve_indicator(
        &spec_place,
        spec.indicator.as_ref(),
        spec.indicator_ref.as_deref(),
        tables,
        report,
    );
    let window = read_window(&spec_place, spec.time_window.as_deref(), options, report);
    let method_kind = match spec.budgeting_method.as_str() {
        "Occurrences" => Some(MethodKind::Occurrences),
        "Timeslices" => Some(MethodKind::Timeslices),
        "RatioTimeslices" => Some(MethodKind::RatioTimeslices),
        other => {
            report.push(spec_place.error(
                "budgetingMethod",
                format!("unknown budgetingMethod {other:?}: expected Occurrences, Timeslices or RatioTimeslices"),
            ));
            None
        }
    };
    let policies = resolve_policies(
        &spec_place,
        spec.alert_policies.as_deref().unwrap_or(&[]),
        tables,
        report,
    );

    if spec.service.trim().is_empty() {
        report.push(spec_place.error("service", "service must not be empty"));
        ok = false;
    }
    if spec.objectives.is_empty() {
        report.push(spec_place.error("objectives", "an SLO needs at least one objective"));
        return Vec::new();
    }

    let objectives_place = spec_place.at("objectives");
    let mut objectives = Vec::new();
    for (index, value) in spec.objectives.iter().enumerate() {
        let item = objectives_place.at(&format!("[{index}]"));
        match item.decode::<RawObjective>(value, report) {
            Some(objective) => objectives.push((item, objective)),
            None => ok = false,
        }
    }
    let is_composite = objectives
        .iter()
        .any(|(_, o)| o.indicator.is_some() || o.indicator_ref.is_some());
    match (&spec_indicator, is_composite) {
        (Indicator::Absent, false) => {
            report.push(spec_place.error(
                "",
                "an SLO needs `indicator` or `indicatorRef` (or, for a composite SLO, one on each objective)",
            ));
            ok = false;
        }
        (Indicator::Found(_) | Indicator::Broken, true) => {
            report.push(spec_place.error(
                "",
                "an SLO has its indicator either on `spec` or on each objective (composite), not both",
            ));
            ok = false;
        }
        (Indicator::Broken, false) => ok = false,
        _ => {}
    }
    let threshold_objectives = match &spec_indicator {
        Indicator::Found(shape) if !shape.is_ratio() => objectives.len(),
        _ => 0,
    };
    if threshold_objectives > 1 {
        report.push(spec_place.warning(
            "objectives",
            "OpenSLO allows one objective for an SLI with thresholdMetric; nines reads each one as its own SLO",
        ));
    }

    // Objectives are checked even when the window or policies are broken, so that every
    // problem is reported at once.
    let alerting_result = match (&window, &policies) {
        (Some((window, _)), Some(policies)) => {
            let period = window.nominal_period();
            let default_policy = options
                .alert_windows
                .get(&period)
                .cloned()
                .unwrap_or_else(AlertPolicy::workbook);
            alerting::policy_for_slo(
                policies,
                period,
                &default_policy,
                &meta.name,
                &spec_place,
                report,
            )
        }
        _ => None,
    };

    let mut defs = Vec::new();
    let mut used_ids = BTreeSet::new();
    let several = objectives.len() > 1;
    for (index, (item, objective)) in objectives.iter().enumerate() {
        let indicator = if is_composite {
            let resolved = resolve_indicator(
                item,
                objective.indicator.as_ref(),
                objective.indicator_ref.as_deref(),
                tables,
                report,
            );
            match resolved {
                Indicator::Found(shape) => Some(shape),
                Indicator::Absent => {
                    report.push(item.error(
                        "",
                        "each objective of a composite SLO needs `indicator` or `indicatorRef`",
                    ));
                    None
                }
                Indicator::Broken => None,
            }
        } else {
            match &spec_indicator {
                Indicator::Found(shape) => Some(shape.clone()),
                _ => None,
            }
        };
        if let Some(weight) = objective.composite_weight {
            report.push(item.warning(
                "compositeWeight",
                format!("compositeWeight {weight} is not used: nines tracks each objective of a composite SLO as its own SLO"),
            ));
        }
        let target = read_target(item, objective, report);
        let method = method_kind.and_then(|kind| read_method(item, objective, kind, report));
        let threshold = indicator
            .as_ref()
            .and_then(|shape| read_threshold(item, objective, shape, report));
        let id = objective_id(&meta.name, objective, index, several, &mut used_ids);
        let id = match SloId::new(&id) {
            Ok(id) => Some(id),
            Err(problem) => {
                report.push(
                    place.error("metadata.name", format!("cannot make an SLO id: {problem}")),
                );
                None
            }
        };
        let (
            Some(shape),
            Some(objective_value),
            Some(method),
            Some(threshold),
            Some(id),
            Some((policy, alerting)),
            Some((window, window_from_file)),
            true,
        ) = (
            indicator,
            target,
            method,
            threshold,
            id,
            alerting_result.clone(),
            window.clone(),
            ok,
        )
        else {
            continue;
        };
        let (sli, count_kind) = shape.for_objective(threshold);
        let source = shape.source().cloned();
        let origin = if several {
            item.origin()
        } else {
            place.origin()
        };
        defs.push(SloDef {
            id,
            name: meta.name.clone(),
            service: spec.service.clone(),
            description: spec.description.clone(),
            journey: None,
            labels: meta.labels.clone(),
            spec: SloSpec {
                objective: objective_value,
                window: window.clone(),
                method,
                policy,
                count_kind,
            },
            window_from_file,
            sli,
            source,
            alerting,
            budget_policy: None,
            runbook: None,
            kubernetes: None,
            origin,
        });
    }
    defs
}

/// `name` for a single objective; `name-<displayName>` (or `name-<index>`) for several. A name
/// that is not a valid id is lowercased with other characters turned into `-`.
fn objective_id(
    name: &str,
    objective: &RawObjective,
    index: usize,
    several: bool,
    used: &mut BTreeSet<String>,
) -> String {
    let base = if SloId::new(name).is_ok() {
        name.to_string()
    } else {
        sanitize(name)
    };
    if !several {
        return base;
    }
    let suffix = objective
        .display_name
        .as_deref()
        .map(sanitize)
        .filter(|suffix| !suffix.is_empty());
    let mut id = match suffix {
        Some(suffix) => format!("{base}-{suffix}"),
        None => format!("{base}-{index}"),
    };
    if used.contains(&id) {
        id = format!("{base}-{index}");
    }
    used.insert(id.clone());
    id
}

/// Lowercase letters, digits, `-`, `_`, `.`, `:`; anything else becomes `-`.
fn sanitize(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn read_target(item: &Place, objective: &RawObjective, report: &mut Report) -> Option<Objective> {
    match (objective.target, objective.target_percent) {
        (Some(_), Some(_)) => {
            report.push(item.error("targetPercent", "set `target` or `targetPercent`, not both"));
            None
        }
        (None, None) => {
            report.push(item.error(
                "",
                "an objective needs `target` (like 0.999) or `targetPercent` (like 99.9)",
            ));
            None
        }
        (Some(target), None) => Objective::new(target)
            .map_err(|err| report.push(item.error("target", err.to_string())))
            .ok(),
        (None, Some(percent)) => Objective::from_percent(percent)
            .map_err(|err| report.push(item.error("targetPercent", err.to_string())))
            .ok(),
    }
}

fn read_method(
    item: &Place,
    objective: &RawObjective,
    kind: MethodKind,
    report: &mut Report,
) -> Option<BudgetingMethod> {
    if kind == MethodKind::Occurrences {
        for (field, set) in [
            ("timeSliceTarget", objective.time_slice_target.is_some()),
            ("timeSliceWindow", objective.time_slice_window.is_some()),
        ] {
            if set {
                report.push(item.warning(
                    field,
                    format!("{field} is not used with budgetingMethod Occurrences"),
                ));
            }
        }
        return Some(BudgetingMethod::Occurrences);
    }
    let slice = match &objective.time_slice_window {
        None => {
            report.push(item.error("", "budgetingMethod Timeslices and RatioTimeslices need `timeSliceWindow` on each objective"));
            None
        }
        Some(value) => read_slice(&item.at("timeSliceWindow"), value, report),
    };
    if kind == MethodKind::RatioTimeslices {
        if objective.time_slice_target.is_some() {
            report.push(item.warning(
                "timeSliceTarget",
                "timeSliceTarget is not used with budgetingMethod RatioTimeslices",
            ));
        }
        return slice.map(|slice| BudgetingMethod::RatioTimeslices { slice });
    }
    let target = match objective.time_slice_target {
        None => {
            report.push(item.error(
                "",
                "budgetingMethod Timeslices needs `timeSliceTarget` on each objective",
            ));
            None
        }
        Some(target) if target > 0.0 => match Ratio::new(target) {
            Ok(target) => Some(target),
            Err(_) => {
                report.push(item.error(
                    "timeSliceTarget",
                    format!("timeSliceTarget {target} must be above 0 and at most 1"),
                ));
                None
            }
        },
        Some(target) => {
            report.push(item.error(
                "timeSliceTarget",
                format!("timeSliceTarget {target} must be above 0 and at most 1"),
            ));
            None
        }
    };
    Some(BudgetingMethod::Timeslices {
        slice: slice?,
        target: target?,
    })
}

/// `timeSliceWindow`: a duration shorthand, or a bare number of minutes.
fn read_slice(place: &Place, value: &Value, report: &mut Report) -> Option<Span> {
    let result = match value {
        Value::String(text) => Shorthand::parse(text).map(Shorthand::span),
        Value::Number(number) => match number.as_u64() {
            Some(minutes) if (1..=100_000).contains(&minutes) => Ok(Span::minutes(minutes as i64)),
            _ => Err(format!(
                "timeSliceWindow {number} must be a whole number of minutes above 0, or a duration like 5m"
            )),
        },
        _ => Err("timeSliceWindow must be a duration like 5m or a number of minutes".to_string()),
    };
    result
        .map_err(|problem| report.push(place.error("", problem)))
        .ok()
}

/// `op` and `value` of an objective: required for threshold SLIs; on a ratio SLI `op` breaks a
/// rule of OpenSLO's reference validator and, like `value`, is not used.
fn read_threshold(
    item: &Place,
    objective: &RawObjective,
    shape: &Shape,
    report: &mut Report,
) -> Option<Option<(ThresholdOp, f64)>> {
    let op = match objective.op.as_deref() {
        None => None,
        Some(text) => match parse_op(text) {
            Some(op) => Some(op),
            None => {
                report.push(item.error(
                    "op",
                    format!("unknown op {text:?}: expected lt, lte, gt or gte"),
                ));
                return None;
            }
        },
    };
    if shape.is_ratio() {
        if let Some(op) = objective.op.as_deref() {
            report.push(item.warning(
                "op",
                format!(
                    "op {op:?} on an objective of a ratioMetric SLI breaks a rule of OpenSLO's reference validator (`oslo validate` allows op only with thresholdMetric); nines does not use it"
                ),
            ));
        }
        if objective.value.is_some() {
            report.push(item.warning(
                "value",
                "value is only used with a thresholdMetric SLI; nines does not use it here",
            ));
        }
        return Some(None);
    }
    match (op, objective.value) {
        (Some(op), Some(value)) if value.is_finite() => Some(Some((op, value))),
        (Some(_), Some(value)) => {
            report.push(item.error("value", format!("value {value} is not a number")));
            None
        }
        _ => {
            report.push(item.error(
                "",
                "an objective of a thresholdMetric SLI needs `op` and `value`",
            ));
            None
        }
    }
}

fn resolve_indicator(
    place: &Place,
    inline: Option<&Value>,
    reference: Option<&str>,
    tables: &Tables,
    report: &mut Report,
) -> Indicator {
    match (inline, reference) {
        (None, None) => Indicator::Absent,
        (Some(_), Some(_)) => {
            report.push(place.error(
                "indicatorRef",
                "set `indicator` or `indicatorRef`, not both",
            ));
            Indicator::Broken
        }
        (None, Some(name)) => match tables.slis.get(name) {
            Some(Some(shape)) => Indicator::Found(shape.clone()),
            Some(None) => Indicator::Broken,
            None => {
                report.push(place.error(
                    "indicatorRef",
                    format!("SLI {name:?} is not defined in the files read"),
                ));
                Indicator::Broken
            }
        },
        (Some(value), None) => {
            let at = place.at("indicator");
            let Some(inline) = at.decode::<RawInline>(value, report) else {
                return Indicator::Broken;
            };
            if let Some(kind) = &inline.kind
                && kind != "SLI"
            {
                report.push(at.error("kind", format!("kind {kind:?} here must be SLI")));
                return Indicator::Broken;
            }
            let meta = read_metadata(&at.at("metadata"), &inline.metadata, report);
            let spec_place = at.at("spec");
            let spec: Option<RawSliSpec> = spec_place.decode(&inline.spec, report);
            let (Some(_), Some(spec)) = (meta, spec) else {
                return Indicator::Broken;
            };
            match sli::read_sli(&spec_place, &spec, &tables.data_sources, report) {
                Some(shape) => Indicator::Found(Rc::new(shape)),
                None => Indicator::Broken,
            }
        }
    }
}

fn resolve_policies(
    spec_place: &Place,
    items: &[Value],
    tables: &Tables,
    report: &mut Report,
) -> Option<Vec<Rc<Policy>>> {
    let mut ok = true;
    let mut policies = Vec::new();
    for (index, value) in items.iter().enumerate() {
        let item = spec_place.at("alertPolicies").at(&format!("[{index}]"));
        let policy = if value.get("alertPolicyRef").is_some() {
            resolve_policy_ref(&item, value, tables, report)
        } else {
            read_inline_policy(&item, value, tables, report)
        };
        match policy {
            Some(policy) => policies.push(policy),
            None => ok = false,
        }
    }
    ok.then_some(policies)
}

fn resolve_policy_ref(
    item: &Place,
    value: &Value,
    tables: &Tables,
    report: &mut Report,
) -> Option<Rc<Policy>> {
    let reference: RawAlertPolicyRef = item.decode(value, report)?;
    if let Some(kind) = &reference.kind
        && kind != "AlertPolicyRef"
    {
        report.push(item.error(
            "kind",
            format!("kind {kind:?} does not go with alertPolicyRef"),
        ));
        return None;
    }
    match tables.policies.get(&reference.alert_policy_ref) {
        Some(Some(policy)) => Some(policy.clone()),
        Some(None) => None,
        None => {
            report.push(item.error(
                "alertPolicyRef",
                format!(
                    "AlertPolicy {:?} is not defined in the files read",
                    reference.alert_policy_ref
                ),
            ));
            None
        }
    }
}

fn read_inline_policy(
    item: &Place,
    value: &Value,
    tables: &Tables,
    report: &mut Report,
) -> Option<Rc<Policy>> {
    let inline: RawInline = item.decode(value, report)?;
    check_inline_kind(
        item,
        inline.kind.as_deref(),
        "AlertPolicy",
        "alertPolicyRef",
        report,
    )?;
    let meta = read_metadata(&item.at("metadata"), &inline.metadata, report);
    let spec_place = item.at("spec");
    let spec: Option<RawAlertPolicySpec> = spec_place.decode(&inline.spec, report);
    let (meta, spec) = (meta?, spec?);
    alerting::read_policy(&spec_place, &meta.name, &spec, &tables.alerts, report).map(Rc::new)
}

/// The SLO window and whether it came from the file.
fn read_window(
    spec_place: &Place,
    time_window: Option<&[Value]>,
    options: &LoadOptions,
    report: &mut Report,
) -> Option<(Window, bool)> {
    let Some(items) = time_window else {
        return Some((Window::Rolling(options.default_period), false));
    };
    let [item_value] = items else {
        report.push(spec_place.error(
            "timeWindow",
            format!(
                "timeWindow must hold exactly one window, not {}",
                items.len()
            ),
        ));
        return None;
    };
    let place = spec_place.at("timeWindow[0]");
    let raw: RawTimeWindow = place.decode(item_value, report)?;
    let duration = match Shorthand::parse(&raw.duration) {
        Ok(duration) => duration,
        Err(problem) => {
            report.push(place.error("duration", problem));
            return None;
        }
    };
    let calendar = match (raw.is_rolling, raw.calendar) {
        (Some(true), Some(_)) => {
            report.push(place.error(
                "calendar",
                "`calendar` cannot be set when `isRolling` is true",
            ));
            return None;
        }
        (Some(false), None) => {
            report.push(place.error(
                "isRolling",
                "`calendar` (startTime and timeZone) must be set when `isRolling` is false",
            ));
            return None;
        }
        (None, None) => {
            report.push(place.warning(
                "",
                "a time window with neither `isRolling: true` nor `calendar` breaks a rule of OpenSLO's reference validator; nines reads it as rolling",
            ));
            None
        }
        (Some(true), None) => None,
        (_, Some(calendar)) => Some(calendar),
    };
    let Some(calendar) = calendar else {
        return match Window::rolling(duration.span()) {
            Ok(window) => Some((window, true)),
            Err(err) => {
                report.push(place.error("duration", err.to_string()));
                None
            }
        };
    };
    let unit = match (duration.count, duration.unit) {
        (1, 'w') => Some(CalendarUnit::Week),
        (1, 'M') => Some(CalendarUnit::Month),
        (1, 'Q') => Some(CalendarUnit::Quarter),
        _ => {
            report.push(place.error(
                "duration",
                format!("a calendar window of {duration} is not supported: nines calendar windows are 1w, 1M or 1Q"),
            ));
            None
        }
    };
    let time_zone = match TimeZone::get(&calendar.time_zone) {
        Ok(zone) => Some(zone),
        Err(_) => {
            report.push(place.error(
                "calendar.timeZone",
                format!(
                    "unknown time zone {:?}: use an IANA name like America/New_York",
                    calendar.time_zone
                ),
            ));
            None
        }
    };
    let anchor = match DateTime::strptime("%Y-%m-%d %H:%M:%S", &calendar.start_time) {
        Ok(anchor) => Some(anchor),
        Err(_) => {
            report.push(place.error(
                "calendar.startTime",
                format!(
                    "startTime {:?} is not a date and time like 2022-01-01 12:00:00",
                    calendar.start_time
                ),
            ));
            None
        }
    };
    let (unit, time_zone, anchor) = (unit?, time_zone?, anchor?);
    Some((
        Window::Calendar(CalendarWindow::new(unit, time_zone).with_anchor(anchor)),
        true,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_sanitized_and_unique() {
        let objective = |display_name: Option<&str>| RawObjective {
            display_name: display_name.map(str::to_string),
            op: None,
            value: None,
            target: None,
            target_percent: None,
            time_slice_target: None,
            time_slice_window: None,
            indicator: None,
            indicator_ref: None,
            composite_weight: None,
        };
        let mut used = BTreeSet::new();
        assert_eq!(
            objective_id("web", &objective(Some("Good")), 0, false, &mut used),
            "web"
        );
        assert_eq!(
            objective_id("web", &objective(Some("Good  / Fast!")), 0, true, &mut used),
            "web-good-fast"
        );
        assert_eq!(
            objective_id("web", &objective(Some("good fast")), 1, true, &mut used),
            "web-1"
        );
        assert_eq!(
            objective_id("web", &objective(None), 2, true, &mut used),
            "web-2"
        );
        assert_eq!(
            objective_id("My SLO", &objective(Some("???")), 3, true, &mut used),
            "my-slo-3"
        );
        assert_eq!(
            objective_id("Web_Frontend", &objective(None), 0, false, &mut used),
            "Web_Frontend"
        );
    }
}
