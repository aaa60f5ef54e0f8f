//! The native nines format (`version: nines/v1`): services, SLOs with their own window and
//! budgeting method, named alert policies and error-budget policies, and teams.
//!
//! A file may hold any of the sections; references (an SLO's service, alert policy and budget
//! policy, a service's owner team) are resolved across every file once all are read.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use nines_core::{
    AlertPolicy, BudgetingMethod, BurnRatePair, CalendarUnit, CalendarWindow, CountKind,
    NoDataRule, Objective, Ratio, Severity, SloSpec, Span, Window,
};
use serde::Deserialize;
use yaml_serde::Value;

use crate::catalog::{
    AlertMeta, AlertingMeta, BudgetAction, BudgetPolicy, BudgetPolicyRule, Channel, ChannelKind,
    Format, Origin, Probe, Service, Sli, SloDef, SloId,
};
use crate::yaml::{join_index, join_key};
use crate::{LoadContext, SourceDoc, promql};

/// Definitions read so far whose references wait for every file.
#[derive(Debug, Default)]
pub struct Pending {
    slos: Vec<PendingSlo>,
    alert_policies: BTreeMap<String, (AlertPolicy, Origin)>,
    teams: BTreeMap<String, Origin>,
    owners: Vec<(String, SourceDoc, String)>,
}

#[derive(Debug)]
struct PendingSlo {
    def: SloDef,
    policy_ref: Option<String>,
    doc: SourceDoc,
    path: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[allow(dead_code)]
    version: String,
    #[serde(default)]
    teams: Vec<Value>,
    #[serde(default)]
    services: Vec<Value>,
    #[serde(default)]
    alert_policies: Vec<Value>,
    #[serde(default)]
    budget_policies: Vec<Value>,
    #[serde(default)]
    slos: Vec<Value>,
    #[serde(default)]
    channels: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    url: String,
    #[serde(default)]
    secret_env: Option<String>,
    #[serde(default)]
    severities: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    url: String,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    expected_status: Option<u16>,
    #[serde(default)]
    latency_threshold: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeam {
    id: String,
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    tier: Option<u8>,
    #[serde(default)]
    runbooks: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPair {
    severity: String,
    budget_percent: f64,
    long_window: String,
    #[serde(default)]
    short_window: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNoData {
    after: String,
    #[serde(default)]
    severity: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlertPolicy {
    #[serde(default)]
    pub(crate) id: String,
    #[serde(default)]
    pairs: Option<Vec<RawPair>>,
    #[serde(default)]
    min_total_events: Option<u64>,
    #[serde(default)]
    min_bad_events: Option<u64>,
    /// `false` turns the no-data alert off.
    #[serde(default)]
    no_data: Option<Value>,
    #[serde(default)]
    current_window: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudgetRule {
    remaining_below_percent: f64,
    action: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudgetPolicy {
    id: String,
    rules: Vec<RawBudgetRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlo {
    id: String,
    service: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    journey: Option<String>,
    #[serde(default)]
    description: Option<String>,
    objective_percent: f64,
    window: Value,
    #[serde(default)]
    budgeting: Option<Value>,
    sli: Value,
    #[serde(default)]
    alerting: Option<RawAlerting>,
    #[serde(default)]
    budget_policy: Option<String>,
    #[serde(default)]
    runbook: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAlertMeta {
    #[serde(default)]
    disable: bool,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAlerting {
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    page: RawAlertMeta,
    #[serde(default)]
    ticket: RawAlertMeta,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRatio {
    #[serde(default)]
    good: Option<String>,
    #[serde(default)]
    bad: Option<String>,
    total: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLatency {
    histogram: String,
    threshold_seconds: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueries {
    #[serde(default)]
    error_query: Option<String>,
    #[serde(default)]
    good_query: Option<String>,
    total_query: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSli {
    #[serde(default)]
    ratio: Option<RawRatio>,
    #[serde(default)]
    latency: Option<RawLatency>,
    #[serde(default)]
    queries: Option<RawQueries>,
    #[serde(default)]
    pushed: Option<Value>,
    #[serde(default)]
    probe: Option<Value>,
}

fn origin(doc: &SourceDoc, path: &str) -> Origin {
    Origin {
        file: doc.file.clone(),
        line: doc.locate(path).line,
        path: doc.full_path(path),
        format: Format::Native,
    }
}

pub fn read(doc: &SourceDoc, context: &mut LoadContext) {
    let Some(file) = doc.decode::<RawFile>(&doc.value, "", &mut context.report) else {
        return;
    };
    for (index, value) in file.teams.iter().enumerate() {
        let path = join_index("teams", index);
        if let Some(team) = doc.decode::<RawTeam>(value, &path, &mut context.report) {
            if let Some(first) = context.native.teams.get(&team.id) {
                let message = format!(
                    "duplicate team id {:?}: also defined at {}:{}",
                    team.id, first.file, first.line
                );
                context
                    .report
                    .push(doc.error(&join_key(&path, "id"), message));
            } else {
                context.native.teams.insert(team.id, origin(doc, &path));
            }
        }
    }
    for (index, value) in file.services.iter().enumerate() {
        read_service(doc, &join_index("services", index), value, context);
    }
    for (index, value) in file.alert_policies.iter().enumerate() {
        let path = join_index("alert_policies", index);
        let Some(raw) = doc.decode::<RawAlertPolicy>(value, &path, &mut context.report) else {
            continue;
        };
        let id = raw.id.clone();
        if id.is_empty() {
            context
                .report
                .push(doc.error(&path, "an alert policy needs an id"));
            continue;
        }
        if let Some(policy) = alert_policy(doc, &path, raw, context) {
            if id == "workbook" || context.native.alert_policies.contains_key(&id) {
                context.report.push(doc.error(
                    &join_key(&path, "id"),
                    format!("alert policy id {id:?} is already taken (\"workbook\" is built in)"),
                ));
            } else {
                context
                    .native
                    .alert_policies
                    .insert(id, (policy, origin(doc, &path)));
            }
        }
    }
    for (index, value) in file.budget_policies.iter().enumerate() {
        read_budget_policy(doc, &join_index("budget_policies", index), value, context);
    }
    for (index, value) in file.slos.iter().enumerate() {
        read_slo(doc, &join_index("slos", index), value, context);
    }
    for (index, value) in file.channels.iter().enumerate() {
        read_channel(doc, &join_index("channels", index), value, context);
    }
}

fn http_url(text: &str) -> bool {
    (text.starts_with("http://") || text.starts_with("https://")) && text.len() > "https://".len()
}

fn read_channel(doc: &SourceDoc, path: &str, value: &Value, context: &mut LoadContext) {
    let Some(raw) = doc.decode::<RawChannel>(value, path, &mut context.report) else {
        return;
    };
    let mut ok = true;
    if context
        .catalog
        .channels
        .iter()
        .any(|channel| channel.id == raw.id)
    {
        context.report.push(doc.error(
            &join_key(path, "id"),
            format!("duplicate channel id {:?}", raw.id),
        ));
        ok = false;
    }
    if !http_url(&raw.url) {
        context.report.push(doc.error(
            &join_key(path, "url"),
            format!("{:?} is not an http(s) URL", raw.url),
        ));
        ok = false;
    }
    let kind = match raw.kind.as_str() {
        "webhook" => Some(ChannelKind::Webhook {
            url: raw.url.clone(),
            secret_env: raw.secret_env.clone(),
        }),
        "alertmanager" => {
            if raw.secret_env.is_some() {
                context.report.push(doc.error(
                    &join_key(path, "secret_env"),
                    "alertmanager channels take no secret",
                ));
                ok = false;
            }
            Some(ChannelKind::Alertmanager {
                url: raw.url.clone(),
            })
        }
        other => {
            let message =
                format!("unknown channel type {other:?}: expected webhook or alertmanager");
            context
                .report
                .push(doc.error(&join_key(path, "type"), message));
            None
        }
    };
    let mut severities = Vec::new();
    for (index, text) in raw.severities.iter().enumerate() {
        match severity_at(
            doc,
            &join_index(&join_key(path, "severities"), index),
            text,
            context,
        ) {
            Some(severity) => severities.push(severity),
            None => ok = false,
        }
    }
    if let (true, Some(kind)) = (ok, kind) {
        context.catalog.channels.push(Channel {
            id: raw.id,
            kind,
            severities,
            origin: origin(doc, path),
        });
    }
}

fn probe(doc: &SourceDoc, path: &str, value: &Value, context: &mut LoadContext) -> Option<Probe> {
    let raw = doc.decode::<RawProbe>(value, path, &mut context.report)?;
    let mut ok = true;
    if !http_url(&raw.url) {
        context.report.push(doc.error(
            &join_key(path, "url"),
            format!("{:?} is not an http(s) URL", raw.url),
        ));
        ok = false;
    }
    let span_or =
        |field: &str, text: &Option<String>, default: Span, context: &mut LoadContext| match text {
            None => Some(default),
            Some(text) => span_at(doc, &join_key(path, field), text, context),
        };
    let interval = span_or("interval", &raw.interval, Span::seconds(30), context);
    let timeout = span_or("timeout", &raw.timeout, Span::seconds(10), context);
    let threshold = match &raw.latency_threshold {
        None => Some(None),
        Some(text) => span_at(doc, &join_key(path, "latency_threshold"), text, context).map(Some),
    };
    if let Some(interval) = interval
        && !(Span::seconds(1)..=Span::hours(1)).contains(&interval)
    {
        context.report.push(doc.error(
            &join_key(path, "interval"),
            "a probe interval must be between 1s and 1h",
        ));
        ok = false;
    }
    if let (Some(interval), Some(timeout)) = (interval, timeout)
        && (timeout.is_zero() || timeout > interval)
    {
        context.report.push(doc.error(
            &join_key(path, "timeout"),
            "a probe timeout must be above 0 and at most the interval",
        ));
        ok = false;
    }
    let expected_status = raw.expected_status.unwrap_or(200);
    if !(100..=599).contains(&expected_status) {
        context.report.push(doc.error(
            &join_key(path, "expected_status"),
            "expected_status must be an HTTP status (100 to 599)",
        ));
        ok = false;
    }
    let (Some(interval), Some(timeout), Some(latency_threshold), true) =
        (interval, timeout, threshold, ok)
    else {
        return None;
    };
    Some(Probe {
        url: raw.url,
        interval,
        timeout,
        expected_status,
        latency_threshold,
    })
}

fn read_service(doc: &SourceDoc, path: &str, value: &Value, context: &mut LoadContext) {
    let Some(raw) = doc.decode::<RawService>(value, path, &mut context.report) else {
        return;
    };
    if let Err(message) = SloId::new(&raw.id) {
        context
            .report
            .push(doc.error(&join_key(path, "id"), message));
        return;
    }
    if let Some(existing) = context.catalog.service(&raw.id) {
        let message = format!(
            "duplicate service id {:?}: also defined at {}:{}",
            raw.id, existing.origin.file, existing.origin.line
        );
        context
            .report
            .push(doc.error(&join_key(path, "id"), message));
        return;
    }
    if matches!(raw.tier, Some(0) | Some(6..)) {
        context.report.push(doc.error(
            &join_key(path, "tier"),
            "tier must be between 1 (most critical) and 5",
        ));
    }
    for (index, runbook) in raw.runbooks.iter().enumerate() {
        if !(runbook.starts_with("https://") || runbook.starts_with("http://")) {
            context.report.push(doc.error(
                &join_index(&join_key(path, "runbooks"), index),
                "a runbook must be an http(s) URL",
            ));
        }
    }
    if let Some(owner) = &raw.owner {
        context
            .native
            .owners
            .push((owner.clone(), doc.clone(), join_key(path, "owner")));
    }
    context.catalog.services.push(Service {
        id: raw.id,
        display_name: raw.name,
        description: raw.description,
        owner: raw.owner,
        tier: raw.tier,
        runbooks: raw.runbooks,
        labels: raw.labels,
        origin: origin(doc, path),
    });
}

pub(crate) fn span_at(
    doc: &SourceDoc,
    path: &str,
    text: &str,
    context: &mut LoadContext,
) -> Option<Span> {
    match Span::parse(text) {
        Ok(span) => Some(span),
        Err(err) => {
            context.report.push(doc.error(path, err.to_string()));
            None
        }
    }
}

fn severity_at(
    doc: &SourceDoc,
    path: &str,
    text: &str,
    context: &mut LoadContext,
) -> Option<Severity> {
    match text {
        "page" => Some(Severity::Page),
        "ticket" => Some(Severity::Ticket),
        other => {
            context.report.push(doc.error(
                path,
                format!("unknown severity {other:?}: expected page or ticket"),
            ));
            None
        }
    }
}

pub(crate) fn alert_policy(
    doc: &SourceDoc,
    path: &str,
    raw: RawAlertPolicy,
    context: &mut LoadContext,
) -> Option<AlertPolicy> {
    let mut policy = AlertPolicy::workbook();
    let mut ok = true;
    if let Some(pairs) = raw.pairs {
        policy.pairs.clear();
        if pairs.is_empty() {
            context.report.push(doc.error(
                &join_key(path, "pairs"),
                "an alert policy needs at least one pair",
            ));
            ok = false;
        }
        for (index, pair) in pairs.into_iter().enumerate() {
            let pair_path = join_index(&join_key(path, "pairs"), index);
            let severity = severity_at(
                doc,
                &join_key(&pair_path, "severity"),
                &pair.severity,
                context,
            );
            let share = match Ratio::from_percent(pair.budget_percent) {
                Ok(share) if share.get() > 0.0 => Some(share),
                _ => {
                    let message = format!(
                        "budget_percent {} must be above 0 and at most 100",
                        pair.budget_percent
                    );
                    context
                        .report
                        .push(doc.error(&join_key(&pair_path, "budget_percent"), message));
                    None
                }
            };
            let long = span_at(
                doc,
                &join_key(&pair_path, "long_window"),
                &pair.long_window,
                context,
            );
            let short = match &pair.short_window {
                Some(text) => {
                    span_at(doc, &join_key(&pair_path, "short_window"), text, context).map(Some)
                }
                None => Some(None),
            };
            match (severity, share, long, short) {
                (Some(severity), Some(share), Some(long), Some(short)) => {
                    let mut built = BurnRatePair::new(severity, share, long);
                    if let Some(short) = short {
                        built = built.with_short_window(short);
                    }
                    policy.pairs.push(built);
                }
                _ => ok = false,
            }
        }
    }
    if let Some(events) = raw.min_total_events {
        policy.min_total_events = events;
    }
    if let Some(events) = raw.min_bad_events {
        policy.min_bad_events = events;
    }
    if let Some(text) = &raw.current_window {
        match span_at(doc, &join_key(path, "current_window"), text, context) {
            Some(span) => policy.current_window = span,
            None => ok = false,
        }
    }
    match &raw.no_data {
        None => {}
        Some(Value::Bool(false)) => policy.no_data = None,
        Some(value) => {
            let no_data_path = join_key(path, "no_data");
            match doc.decode::<RawNoData>(value, &no_data_path, &mut context.report) {
                Some(rule) => {
                    let after =
                        span_at(doc, &join_key(&no_data_path, "after"), &rule.after, context);
                    let severity = match &rule.severity {
                        Some(text) => {
                            severity_at(doc, &join_key(&no_data_path, "severity"), text, context)
                        }
                        None => Some(Severity::Ticket),
                    };
                    match (after, severity) {
                        (Some(after), Some(severity)) => {
                            policy.no_data = Some(NoDataRule { after, severity })
                        }
                        _ => ok = false,
                    }
                }
                None => ok = false,
            }
        }
    }
    ok.then_some(policy)
}

fn read_budget_policy(doc: &SourceDoc, path: &str, value: &Value, context: &mut LoadContext) {
    let Some(raw) = doc.decode::<RawBudgetPolicy>(value, path, &mut context.report) else {
        return;
    };
    if context
        .catalog
        .budget_policies
        .iter()
        .any(|policy| policy.id == raw.id)
    {
        context.report.push(doc.error(
            &join_key(path, "id"),
            format!("duplicate budget policy id {:?}", raw.id),
        ));
        return;
    }
    let mut rules = Vec::new();
    for (index, rule) in raw.rules.iter().enumerate() {
        let rule_path = join_index(&join_key(path, "rules"), index);
        if !(0.0..=100.0).contains(&rule.remaining_below_percent) {
            context.report.push(doc.error(
                &join_key(&rule_path, "remaining_below_percent"),
                format!(
                    "{} is not a percentage between 0 and 100",
                    rule.remaining_below_percent
                ),
            ));
            continue;
        }
        let action = match rule.action.as_str() {
            "notify" => BudgetAction::Notify,
            "require_approval" => BudgetAction::RequireApproval,
            "freeze_deploys" => BudgetAction::FreezeDeploys,
            other => {
                context.report.push(doc.error(
                    &join_key(&rule_path, "action"),
                    format!("unknown action {other:?}: expected notify, require_approval or freeze_deploys"),
                ));
                continue;
            }
        };
        rules.push(BudgetPolicyRule {
            remaining_at_most: rule.remaining_below_percent / 100.0,
            action,
        });
    }
    context.catalog.budget_policies.push(BudgetPolicy {
        id: raw.id,
        rules,
        origin: origin(doc, path),
    });
}

/// `window: 30d`, `window: {rolling: 28d}` or
/// `window: {calendar: month, time_zone: Europe/Berlin, anchor: 2024-01-01T00:00}`.
pub(crate) fn window(
    doc: &SourceDoc,
    path: &str,
    value: &Value,
    context: &mut LoadContext,
) -> Option<Window> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawWindow {
        #[serde(default)]
        rolling: Option<String>,
        #[serde(default)]
        calendar: Option<String>,
        #[serde(default)]
        time_zone: Option<String>,
        #[serde(default)]
        anchor: Option<String>,
    }
    let rolling = |text: &str, path: &str, context: &mut LoadContext| {
        let span = span_at(doc, path, text, context)?;
        match Window::rolling(span) {
            Ok(window) => Some(window),
            Err(err) => {
                context.report.push(doc.error(path, err.to_string()));
                None
            }
        }
    };
    if let Value::String(text) = value {
        return rolling(text, path, context);
    }
    let raw = doc.decode::<RawWindow>(value, path, &mut context.report)?;
    match (raw.rolling, raw.calendar) {
        (Some(text), None) => rolling(&text, &join_key(path, "rolling"), context),
        (None, Some(unit)) => {
            let unit = match unit.as_str() {
                "week" => CalendarUnit::Week,
                "month" => CalendarUnit::Month,
                "quarter" => CalendarUnit::Quarter,
                other => {
                    let message =
                        format!("unknown calendar unit {other:?}: expected week, month or quarter");
                    context
                        .report
                        .push(doc.error(&join_key(path, "calendar"), message));
                    return None;
                }
            };
            let zone_name = raw.time_zone.unwrap_or_else(|| "UTC".to_string());
            let time_zone = match TimeZone::get(&zone_name) {
                Ok(zone) => zone,
                Err(_) => {
                    let message = format!(
                        "unknown time zone {zone_name:?}: use an IANA name like Europe/Berlin"
                    );
                    context
                        .report
                        .push(doc.error(&join_key(path, "time_zone"), message));
                    return None;
                }
            };
            let mut calendar = CalendarWindow::new(unit, time_zone);
            if let Some(anchor) = raw.anchor {
                match anchor.parse::<jiff::civil::DateTime>() {
                    Ok(anchor) => calendar = calendar.with_anchor(anchor),
                    Err(err) => {
                        let message = format!(
                            "anchor {anchor:?} is not a civil date-time like 2024-01-01T00:00: {err}"
                        );
                        context
                            .report
                            .push(doc.error(&join_key(path, "anchor"), message));
                        return None;
                    }
                }
            }
            Some(Window::Calendar(calendar))
        }
        _ => {
            let message = "a window is `30d`, `{rolling: 30d}` or `{calendar: week|month|quarter, time_zone: ...}`";
            context.report.push(doc.error(path, message));
            None
        }
    }
}

/// `budgeting: occurrences`, `{timeslices: {slice: 1m, target_percent: 95}}` or
/// `{ratio_timeslices: {slice: 5m}}`.
pub(crate) fn budgeting(
    doc: &SourceDoc,
    path: &str,
    value: Option<&Value>,
    context: &mut LoadContext,
) -> Option<BudgetingMethod> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawSlices {
        slice: String,
        #[serde(default)]
        target_percent: Option<f64>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawBudgeting {
        #[serde(default)]
        timeslices: Option<RawSlices>,
        #[serde(default)]
        ratio_timeslices: Option<RawSlices>,
    }
    let Some(value) = value else {
        return Some(BudgetingMethod::Occurrences);
    };
    if value.as_str() == Some("occurrences") {
        return Some(BudgetingMethod::Occurrences);
    }
    if let Value::String(other) = value {
        let message = format!(
            "unknown budgeting method {other:?}: expected occurrences, {{timeslices: ...}} or {{ratio_timeslices: ...}}"
        );
        context.report.push(doc.error(path, message));
        return None;
    }
    let raw = doc.decode::<RawBudgeting>(value, path, &mut context.report)?;
    let method = match (raw.timeslices, raw.ratio_timeslices) {
        (Some(slices), None) => {
            let slices_path = join_key(path, "timeslices");
            let slice = span_at(
                doc,
                &join_key(&slices_path, "slice"),
                &slices.slice,
                context,
            )?;
            let Some(percent) = slices.target_percent else {
                context.report.push(doc.error(
                    &slices_path,
                    "timeslices need target_percent: the good share a slice needs to be good",
                ));
                return None;
            };
            let Ok(target) = Ratio::from_percent(percent) else {
                let message = format!("target_percent {percent} is outside 0..=100");
                context
                    .report
                    .push(doc.error(&join_key(&slices_path, "target_percent"), message));
                return None;
            };
            BudgetingMethod::Timeslices { slice, target }
        }
        (None, Some(slices)) => {
            let slices_path = join_key(path, "ratio_timeslices");
            let slice = span_at(
                doc,
                &join_key(&slices_path, "slice"),
                &slices.slice,
                context,
            )?;
            BudgetingMethod::RatioTimeslices { slice }
        }
        _ => {
            context
                .report
                .push(doc.error(path, "set exactly one of timeslices and ratio_timeslices"));
            return None;
        }
    };
    if let Err(err) = method.validate() {
        context.report.push(doc.error(path, err.to_string()));
        return None;
    }
    Some(method)
}

pub(crate) fn sli(
    doc: &SourceDoc,
    path: &str,
    value: &Value,
    context: &mut LoadContext,
) -> Option<(Sli, CountKind)> {
    let raw = doc.decode::<RawSli>(value, path, &mut context.report)?;
    let check_selector = |text: &str, field: &str, context: &mut LoadContext| -> bool {
        match promql::check_selector(text) {
            Ok(()) => true,
            Err(message) => {
                context.report.push(doc.error(field, message));
                false
            }
        }
    };
    let chosen = usize::from(raw.ratio.is_some())
        + usize::from(raw.latency.is_some())
        + usize::from(raw.queries.is_some())
        + usize::from(raw.pushed.is_some())
        + usize::from(raw.probe.is_some());
    if chosen != 1 {
        context.report.push(doc.error(
            path,
            "set exactly one of ratio, latency, queries, pushed and probe",
        ));
        return None;
    }
    if let Some(ratio) = raw.ratio {
        let ratio_path = join_key(path, "ratio");
        let kind = match (&ratio.good, &ratio.bad) {
            (Some(_), None) => CountKind::Good,
            (None, Some(_)) => CountKind::Bad,
            _ => {
                context
                    .report
                    .push(doc.error(&ratio_path, "set exactly one of good and bad, beside total"));
                return None;
            }
        };
        let mut ok = check_selector(&ratio.total, &join_key(&ratio_path, "total"), context);
        for (field, text) in [("good", &ratio.good), ("bad", &ratio.bad)] {
            if let Some(text) = text {
                ok &= check_selector(text, &join_key(&ratio_path, field), context);
            }
        }
        return ok.then_some((
            Sli::Counters {
                good: ratio.good,
                bad: ratio.bad,
                total: ratio.total,
            },
            kind,
        ));
    }
    if let Some(latency) = raw.latency {
        let latency_path = join_key(path, "latency");
        let mut ok = check_selector(
            &latency.histogram,
            &join_key(&latency_path, "histogram"),
            context,
        );
        if !(latency.threshold_seconds.is_finite() && latency.threshold_seconds > 0.0) {
            context.report.push(doc.error(
                &join_key(&latency_path, "threshold_seconds"),
                "threshold must be a positive number of seconds",
            ));
            ok = false;
        }
        let sli = Sli::Latency {
            histogram: latency.histogram,
            threshold_seconds: latency.threshold_seconds,
        };
        return ok.then_some((sli, CountKind::Good));
    }
    if let Some(queries) = raw.queries {
        let queries_path = join_key(path, "queries");
        let kind = match (&queries.error_query, &queries.good_query) {
            (Some(_), None) => CountKind::Bad,
            (None, Some(_)) => CountKind::Good,
            _ => {
                context.report.push(doc.error(
                    &queries_path,
                    "set exactly one of error_query and good_query, beside total_query",
                ));
                return None;
            }
        };
        let mut ok = true;
        for (field, text) in [
            ("error_query", queries.error_query.as_ref()),
            ("good_query", queries.good_query.as_ref()),
            ("total_query", Some(&queries.total_query)),
        ] {
            let Some(text) = text else { continue };
            let field_path = join_key(&queries_path, field);
            if !text.contains(promql::WINDOW_PLACEHOLDER) && !text.contains("{{ .window }}") {
                context.report.push(doc.error(
                    &field_path,
                    "a query must contain {{.window}} where its range goes",
                ));
                ok = false;
            } else if let Err(message) = promql::check(text) {
                context.report.push(doc.error(&field_path, message));
                ok = false;
            }
        }
        let sli = Sli::EventQueries {
            errors: queries.error_query,
            good: queries.good_query,
            total: queries.total_query,
        };
        return ok.then_some((sli, kind));
    }
    if let Some(value) = &raw.probe {
        return probe(doc, &join_key(path, "probe"), value, context)
            .map(|probe| (Sli::Probe(probe), CountKind::Good));
    }
    if let Some(value) = &raw.probe {
        return probe(doc, &join_key(path, "probe"), value, context)
            .map(|probe| (Sli::Probe(probe), CountKind::Good));
    }
    Some((Sli::Pushed, CountKind::Good))
}

fn read_slo(doc: &SourceDoc, path: &str, value: &Value, context: &mut LoadContext) {
    let Some(raw) = doc.decode::<RawSlo>(value, path, &mut context.report) else {
        return;
    };
    let id = match SloId::new(&raw.id) {
        Ok(id) => Some(id),
        Err(message) => {
            context
                .report
                .push(doc.error(&join_key(path, "id"), message));
            None
        }
    };
    let objective = match Objective::from_percent(raw.objective_percent) {
        Ok(objective) => Some(objective),
        Err(err) => {
            let message = format!("objective_percent {}: {err}", raw.objective_percent);
            context
                .report
                .push(doc.error(&join_key(path, "objective_percent"), message));
            None
        }
    };
    let window = window(doc, &join_key(path, "window"), &raw.window, context);
    let method = budgeting(
        doc,
        &join_key(path, "budgeting"),
        raw.budgeting.as_ref(),
        context,
    );
    let sli = sli(doc, &join_key(path, "sli"), &raw.sli, context);
    if let Some(runbook) = &raw.runbook
        && !(runbook.starts_with("https://") || runbook.starts_with("http://"))
    {
        context.report.push(doc.error(
            &join_key(path, "runbook"),
            "a runbook must be an http(s) URL",
        ));
    }
    let (Some(id), Some(objective), Some(window), Some(method), Some((sli, count_kind))) =
        (id, objective, window, method, sli)
    else {
        return;
    };
    let alerting = raw.alerting.unwrap_or_default();
    let meta = |raw: RawAlertMeta| AlertMeta {
        disable: raw.disable,
        labels: raw.labels,
        annotations: raw.annotations,
    };
    let def = SloDef {
        name: raw.name.unwrap_or_else(|| id.as_str().to_string()),
        id,
        service: raw.service,
        description: raw.description,
        journey: raw.journey,
        labels: raw.labels,
        spec: SloSpec {
            objective,
            window,
            method,
            policy: AlertPolicy::workbook(),
            count_kind,
        },
        window_from_file: true,
        sli,
        source: None,
        alerting: AlertingMeta {
            name: alerting.name,
            labels: alerting.labels,
            annotations: alerting.annotations,
            page: meta(alerting.page),
            ticket: meta(alerting.ticket),
        },
        budget_policy: raw.budget_policy,
        runbook: raw.runbook,
        kubernetes: None,
        origin: origin(doc, path),
    };
    context.native.slos.push(PendingSlo {
        def,
        policy_ref: alerting.policy,
        doc: doc.clone(),
        path: path.to_string(),
    });
}

/// Resolves references across files and moves the SLOs into the catalog.
pub fn finish(context: &mut LoadContext) {
    let pending = std::mem::take(&mut context.native);
    if !pending.teams.is_empty() {
        for (owner, doc, path) in &pending.owners {
            if !pending.teams.contains_key(owner) {
                context.report.push(doc.error(
                    path,
                    format!("owner {owner:?} is not a team defined under teams"),
                ));
            }
        }
    }
    for PendingSlo {
        mut def,
        policy_ref,
        doc,
        path,
    } in pending.slos
    {
        let mut ok = true;
        if context.catalog.service(&def.service).is_none() {
            let message = format!(
                "service {:?} is not defined in any file (define it under services)",
                def.service
            );
            context
                .report
                .push(doc.error(&join_key(&path, "service"), message));
            ok = false;
        }
        match policy_ref.as_deref() {
            None | Some("workbook") => {}
            Some(name) => match pending.alert_policies.get(name) {
                Some((policy, _)) => def.spec.policy = policy.clone(),
                None => {
                    let message = format!("alert policy {name:?} is not defined in any file");
                    context
                        .report
                        .push(doc.error(&join_key(&path, "alerting.policy"), message));
                    ok = false;
                }
            },
        }
        if let Some(name) = &def.budget_policy
            && !context
                .catalog
                .budget_policies
                .iter()
                .any(|policy| &policy.id == name)
        {
            let message = format!("budget policy {name:?} is not defined in any file");
            context
                .report
                .push(doc.error(&join_key(&path, "budget_policy"), message));
            ok = false;
        }
        let has_runbook = def.runbook.is_some()
            || def.alerting.annotations.contains_key("runbook")
            || context
                .catalog
                .service(&def.service)
                .is_some_and(|service| !service.runbooks.is_empty());
        if !has_runbook {
            context.report.push(doc.warning(
                &path,
                format!(
                    "SLO {:?} has no runbook link: pages will carry none",
                    def.id.as_str()
                ),
            ));
        }
        if ok {
            context.catalog.slos.push(def);
        }
    }
}
