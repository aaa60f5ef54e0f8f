//! Decoders of external alerts: the Alertmanager webhook (version 4), PagerDuty Events API v2,
//! and nines' own generic JSON webhook. Each turns a request body into [`IncomingAlert`]s or
//! into every problem it found, each naming the field (`alerts[2].status`); nothing is applied
//! from a body with a problem.
//!
//! Pure: no clock, no store. The pager decides what an alert does.

use std::collections::BTreeMap;

use jiff::Timestamp;
use nines_core::oncall::Labels;
use serde_json::{Map, Value};

/// Most alerts one request may carry.
pub const MAX_ALERTS: usize = 1000;
/// Most labels (or annotations) one alert may carry.
pub const MAX_LABELS: usize = 128;
/// Longest label name, value, summary or key accepted.
pub const MAX_TEXT: usize = 8192;
/// PagerDuty cuts summaries to this many characters.
pub const PAGERDUTY_SUMMARY_LIMIT: usize = 1024;

/// What an intake asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertAction {
    Trigger,
    Acknowledge,
    Resolve,
}

impl AlertAction {
    pub fn name(self) -> &'static str {
        match self {
            AlertAction::Trigger => "trigger",
            AlertAction::Acknowledge => "acknowledge",
            AlertAction::Resolve => "resolve",
        }
    }
}

/// An alert as a source reported it, before routing.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingAlert {
    /// `alertmanager`, `pagerduty`, `webhook`, `heartbeat` or `slo`.
    pub source: String,
    /// Identity for deduplication, namespaced by source (`am:...`, `pd:INTEGRATION:KEY`, ...).
    pub fingerprint: String,
    pub action: AlertAction,
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub summary: String,
    pub severity: String,
    pub runbook: Option<String>,
    pub starts_at: Option<Timestamp>,
}

/// One problem of a body: the field (empty for the whole body) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// Collects problems while walking a JSON body.
#[derive(Default)]
struct Walk {
    problems: Vec<Problem>,
}

impl Walk {
    fn problem(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            field: field.to_string(),
            message: message.into(),
        });
    }

    fn object<'v>(&mut self, value: &'v Value, field: &str) -> Option<&'v Map<String, Value>> {
        match value {
            Value::Object(map) => Some(map),
            other => {
                self.problem(field, format!("expected an object, got {}", kind(other)));
                None
            }
        }
    }

    /// A string field; `None` (and a problem when `required`) when missing or null.
    fn string(
        &mut self,
        map: &Map<String, Value>,
        key: &str,
        at: &str,
        required: bool,
    ) -> Option<String> {
        let field = join(at, key);
        match map.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.problem(&field, "is missing");
                }
                None
            }
            Some(Value::String(text)) if text.len() > MAX_TEXT => {
                self.problem(&field, format!("is longer than {MAX_TEXT} bytes"));
                None
            }
            Some(Value::String(text)) => Some(text.clone()),
            Some(other) => {
                self.problem(&field, format!("expected a string, got {}", kind(other)));
                None
            }
        }
    }

    /// A map of strings to strings (labels, annotations); empty when missing.
    fn string_map(
        &mut self,
        map: &Map<String, Value>,
        key: &str,
        at: &str,
    ) -> BTreeMap<String, String> {
        let field = join(at, key);
        let mut out = BTreeMap::new();
        let Some(value) = map.get(key) else {
            return out;
        };
        if value.is_null() {
            return out;
        }
        let Some(entries) = self.object(value, &field) else {
            return out;
        };
        if entries.len() > MAX_LABELS {
            self.problem(
                &field,
                format!("has {} entries; at most {MAX_LABELS}", entries.len()),
            );
            return out;
        }
        for (name, value) in entries {
            let entry = format!("{field}.{name}");
            if name.is_empty() || name.len() > MAX_TEXT {
                self.problem(&field, format!("has a name of {} bytes", name.len()));
                continue;
            }
            match value {
                Value::String(text) if text.len() <= MAX_TEXT => {
                    out.insert(name.clone(), text.clone());
                }
                Value::String(_) => {
                    self.problem(&entry, format!("is longer than {MAX_TEXT} bytes"))
                }
                other => self.problem(&entry, format!("expected a string, got {}", kind(other))),
            }
        }
        out
    }

    fn time(&mut self, map: &Map<String, Value>, key: &str, at: &str) -> Option<Timestamp> {
        let text = self.string(map, key, at, false)?;
        match text.parse::<Timestamp>() {
            Ok(time) => Some(time),
            Err(_) => {
                self.problem(&join(at, key), format!("{text:?} is not an RFC 3339 time"));
                None
            }
        }
    }

    fn finish<T>(self, value: T) -> Result<T, Vec<Problem>> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(self.problems)
        }
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_body(body: &[u8]) -> Result<Value, Vec<Problem>> {
    serde_json::from_slice(body).map_err(|err| {
        vec![Problem {
            field: String::new(),
            message: format!("body is not valid JSON: {err}"),
        }]
    })
}

fn too_many(walk: &mut Walk, field: &str, count: usize) -> bool {
    if count > MAX_ALERTS {
        walk.problem(
            field,
            format!("has {count} alerts; at most {MAX_ALERTS} a request"),
        );
        return true;
    }
    false
}

/// Summary, runbook and severity read from the usual annotation and label names.
fn describe(
    labels: &Labels,
    annotations: &BTreeMap<String, String>,
) -> (String, Option<String>, String) {
    let summary = ["summary", "description", "message"]
        .iter()
        .find_map(|key| annotations.get(*key))
        .or_else(|| labels.get("alertname"))
        .cloned()
        .unwrap_or_else(|| "alert".to_string());
    let runbook = ["runbook_url", "runbook"]
        .iter()
        .find_map(|key| annotations.get(*key).or_else(|| labels.get(*key)))
        .filter(|url| is_http_url(url))
        .cloned();
    let severity = labels
        .get("severity")
        .cloned()
        .unwrap_or_else(|| "unknown".to_string());
    (summary, runbook, severity)
}

/// Only http(s) URLs become an alert's runbook (a link button in Slack, a link in email);
/// anything else stays an annotation.
pub(crate) fn is_http_url(text: &str) -> bool {
    (text.starts_with("https://") || text.starts_with("http://"))
        && text.len() > "https://".len()
        && !text.chars().any(char::is_whitespace)
}

// ---------------------------------------------------------------------------------------------
// Alertmanager

/// A decoded Alertmanager notification.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertmanagerBatch {
    pub group_key: String,
    pub receiver: String,
    pub alerts: Vec<IncomingAlert>,
}

/// Alertmanager's webhook body, version 4: `version`, `groupKey`, `status`, `receiver`,
/// `alerts[]` with `status` (`firing` or `resolved`), `labels`, `annotations`, `startsAt`,
/// `fingerprint`. A resolved alert resolves; an alert without a fingerprint is identified by its
/// labels, as Alertmanager's own fingerprint is.
pub fn decode_alertmanager(body: &[u8]) -> Result<AlertmanagerBatch, Vec<Problem>> {
    let value = parse_body(body)?;
    let mut walk = Walk::default();
    let Some(root) = walk.object(&value, "") else {
        return walk.finish(AlertmanagerBatch {
            group_key: String::new(),
            receiver: String::new(),
            alerts: Vec::new(),
        });
    };
    match walk.string(root, "version", "", true).as_deref() {
        Some("4") | None => {}
        Some(other) => walk.problem(
            "version",
            format!("{other:?} is not supported; expected \"4\""),
        ),
    }
    let group_key = walk.string(root, "groupKey", "", true).unwrap_or_default();
    let receiver = walk.string(root, "receiver", "", false).unwrap_or_default();
    if let Some(status) = walk.string(root, "status", "", true)
        && status != "firing"
        && status != "resolved"
    {
        walk.problem(
            "status",
            format!("expected \"firing\" or \"resolved\", got {status:?}"),
        );
    }
    let mut alerts = Vec::new();
    match root.get("alerts") {
        Some(Value::Array(items)) => {
            if !too_many(&mut walk, "alerts", items.len()) {
                for (index, item) in items.iter().enumerate() {
                    let at = format!("alerts[{index}]");
                    if let Some(alert) = alertmanager_alert(&mut walk, item, &at) {
                        alerts.push(alert);
                    }
                }
            }
        }
        Some(other) => walk.problem("alerts", format!("expected an array, got {}", kind(other))),
        None => walk.problem("alerts", "is missing"),
    }
    walk.finish(AlertmanagerBatch {
        group_key,
        receiver,
        alerts,
    })
}

fn alertmanager_alert(walk: &mut Walk, item: &Value, at: &str) -> Option<IncomingAlert> {
    let map = walk.object(item, at)?;
    let before = walk.problems.len();
    let action = match walk.string(map, "status", at, true).as_deref() {
        Some("firing") => Some(AlertAction::Trigger),
        Some("resolved") => Some(AlertAction::Resolve),
        Some(other) => {
            walk.problem(
                &join(at, "status"),
                format!("expected \"firing\" or \"resolved\", got {other:?}"),
            );
            None
        }
        None => None,
    };
    let labels = walk.string_map(map, "labels", at);
    if labels.is_empty() && walk.problems.len() == before {
        walk.problem(&join(at, "labels"), "an alert needs at least one label");
    }
    let annotations = walk.string_map(map, "annotations", at);
    let starts_at = walk.time(map, "startsAt", at);
    let fingerprint = walk
        .string(map, "fingerprint", at, false)
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| nines_core::oncall::route::fingerprint(&labels));
    if walk.problems.len() != before {
        return None;
    }
    let (summary, runbook, severity) = describe(&labels, &annotations);
    Some(IncomingAlert {
        source: "alertmanager".to_string(),
        fingerprint: format!("am:{fingerprint}"),
        action: action?,
        labels,
        annotations,
        summary,
        severity,
        runbook,
        starts_at,
    })
}

// ---------------------------------------------------------------------------------------------
// PagerDuty Events API v2

/// A decoded PagerDuty Events API v2 event (`POST /v2/enqueue`).
#[derive(Debug, Clone, PartialEq)]
pub struct PagerDutyEvent {
    pub routing_key: String,
    pub action: AlertAction,
    /// Required for acknowledge and resolve; generated by the receiver for a trigger without one.
    pub dedup_key: Option<String>,
    /// Present on triggers.
    pub payload: Option<PagerDutyPayload>,
    pub links: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PagerDutyPayload {
    /// At most [`PAGERDUTY_SUMMARY_LIMIT`] characters (longer ones are cut, as PagerDuty does).
    pub summary: String,
    pub source: String,
    /// `critical`, `error`, `warning` or `info`.
    pub severity: String,
    pub timestamp: Option<Timestamp>,
    pub component: Option<String>,
    pub group: Option<String>,
    pub class: Option<String>,
    /// `custom_details`, flattened to text (objects as JSON).
    pub details: BTreeMap<String, String>,
}

/// PagerDuty's `invalid event` errors use its own field quoting (`'payload.summary' is missing
/// or blank`), so that clients written for PagerDuty read them as they would PagerDuty's.
pub fn decode_pagerduty(body: &[u8]) -> Result<PagerDutyEvent, Vec<String>> {
    let value = serde_json::from_slice::<Value>(body)
        .map_err(|err| vec![format!("Event object is not valid JSON: {err}")])?;
    let Value::Object(root) = value else {
        return Err(vec!["Event object must be a JSON object".to_string()]);
    };
    let mut errors = Vec::new();
    let text = |map: &Map<String, Value>,
                key: &str,
                name: &str,
                errors: &mut Vec<String>|
     -> Option<String> {
        match map.get(key) {
            Some(Value::String(text)) if !text.trim().is_empty() => {
                if text.len() > MAX_TEXT {
                    errors.push(format!("'{name}' is longer than {MAX_TEXT} bytes"));
                    None
                } else {
                    Some(text.clone())
                }
            }
            Some(Value::String(_)) | None | Some(Value::Null) => None,
            Some(other) => {
                errors.push(format!("'{name}' must be a string, got {}", kind(other)));
                None
            }
        }
    };
    let routing_key = text(&root, "routing_key", "routing_key", &mut errors);
    if routing_key.is_none() && !errors.iter().any(|e| e.contains("'routing_key'")) {
        errors.push("'routing_key' is missing or blank".to_string());
    }
    let action = match text(&root, "event_action", "event_action", &mut errors).as_deref() {
        Some("trigger") => Some(AlertAction::Trigger),
        Some("acknowledge") => Some(AlertAction::Acknowledge),
        Some("resolve") => Some(AlertAction::Resolve),
        Some(other) => {
            errors.push(format!(
                "'event_action' is invalid: {other:?} (expected trigger, acknowledge or resolve)"
            ));
            None
        }
        None => {
            if !errors.iter().any(|e| e.contains("'event_action'")) {
                errors.push("'event_action' is missing or blank".to_string());
            }
            None
        }
    };
    let dedup_key = text(&root, "dedup_key", "dedup_key", &mut errors);
    if dedup_key.as_ref().is_some_and(|key| key.len() > 255) {
        errors.push("'dedup_key' is longer than 255 characters".to_string());
    }
    if matches!(
        action,
        Some(AlertAction::Acknowledge | AlertAction::Resolve)
    ) && dedup_key.is_none()
    {
        errors.push(
            "'dedup_key' is missing or blank (required to acknowledge or resolve)".to_string(),
        );
    }
    let mut payload = None;
    if action == Some(AlertAction::Trigger) {
        match root.get("payload") {
            Some(Value::Object(map)) => payload = pagerduty_payload(map, &mut errors, &text),
            Some(Value::Null) | None => errors.push("'payload' is missing or blank".to_string()),
            Some(other) => errors.push(format!("'payload' must be an object, got {}", kind(other))),
        }
    }
    let mut links = Vec::new();
    match root.get("links") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                let Value::Object(map) = item else {
                    errors.push(format!("'links[{index}]' must be an object"));
                    continue;
                };
                let href = text(map, "href", &format!("links[{index}].href"), &mut errors);
                let label = text(map, "text", &format!("links[{index}].text"), &mut errors);
                match href {
                    Some(href) => links.push((label.unwrap_or_else(|| href.clone()), href)),
                    None => errors.push(format!("'links[{index}].href' is missing or blank")),
                }
            }
        }
        Some(other) => errors.push(format!("'links' must be an array, got {}", kind(other))),
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    match (routing_key, action) {
        (Some(routing_key), Some(action)) => Ok(PagerDutyEvent {
            routing_key,
            action,
            dedup_key,
            payload,
            links,
        }),
        _ => Err(vec!["Event object is invalid".to_string()]),
    }
}

type TextField<'a> =
    dyn Fn(&Map<String, Value>, &str, &str, &mut Vec<String>) -> Option<String> + 'a;

fn pagerduty_payload(
    map: &Map<String, Value>,
    errors: &mut Vec<String>,
    text: &TextField<'_>,
) -> Option<PagerDutyPayload> {
    let before = errors.len();
    let summary = text(map, "summary", "payload.summary", errors);
    if summary.is_none() && errors.len() == before {
        errors.push("'payload.summary' is missing or blank".to_string());
    }
    let source_before = errors.len();
    let source = text(map, "source", "payload.source", errors);
    if source.is_none() && errors.len() == source_before {
        errors.push("'payload.source' is missing or blank".to_string());
    }
    let severity = match text(map, "severity", "payload.severity", errors) {
        Some(severity) if ["critical", "error", "warning", "info"].contains(&severity.as_str()) => {
            Some(severity)
        }
        Some(other) => {
            errors.push(format!(
                "'payload.severity' is invalid: {other:?} (expected critical, error, warning or info)"
            ));
            None
        }
        None => {
            errors.push("'payload.severity' is missing or blank".to_string());
            None
        }
    };
    let timestamp = match text(map, "timestamp", "payload.timestamp", errors) {
        Some(text) => match text.parse::<Timestamp>() {
            Ok(time) => Some(time),
            Err(_) => {
                errors.push(format!(
                    "'payload.timestamp' is not an ISO 8601 time: {text:?}"
                ));
                None
            }
        },
        None => None,
    };
    let component = text(map, "component", "payload.component", errors);
    let group = text(map, "group", "payload.group", errors);
    let class = text(map, "class", "payload.class", errors);
    let mut details = BTreeMap::new();
    match map.get("custom_details") {
        None | Some(Value::Null) => {}
        Some(Value::Object(entries)) => {
            for (key, value) in entries.iter().take(MAX_LABELS) {
                let text = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                details.insert(key.clone(), text.chars().take(MAX_TEXT).collect());
            }
        }
        Some(other) => {
            details.insert(
                "details".to_string(),
                other.to_string().chars().take(MAX_TEXT).collect(),
            );
        }
    }
    if errors.len() != before {
        return None;
    }
    Some(PagerDutyPayload {
        summary: summary?.chars().take(PAGERDUTY_SUMMARY_LIMIT).collect(),
        source: source?,
        severity: severity?,
        timestamp,
        component,
        group,
        class,
        details,
    })
}

/// The alert a PagerDuty event is about, once its routing key named `integration` (whose
/// labels are added) and its dedup key is known. Labels for routing: `source`, `severity`,
/// `component`, `group`, `class` of the payload, `integration`, and the integration's labels
/// (which win).
pub fn pagerduty_alert(
    event: &PagerDutyEvent,
    integration: &str,
    integration_labels: &BTreeMap<String, String>,
    dedup_key: &str,
) -> IncomingAlert {
    let mut labels = Labels::new();
    let mut annotations = BTreeMap::new();
    let (mut summary, mut severity) = (String::new(), "unknown".to_string());
    let mut starts_at = None;
    if let Some(payload) = &event.payload {
        labels.insert("source".to_string(), payload.source.clone());
        labels.insert("severity".to_string(), payload.severity.clone());
        for (key, value) in [
            ("component", &payload.component),
            ("group", &payload.group),
            ("class", &payload.class),
        ] {
            if let Some(value) = value {
                labels.insert(key.to_string(), value.clone());
            }
        }
        annotations.extend(payload.details.clone());
        summary = payload.summary.clone();
        severity = payload.severity.clone();
        starts_at = payload.timestamp;
    }
    labels.insert("integration".to_string(), integration.to_string());
    labels.extend(integration_labels.clone());
    for (text, href) in &event.links {
        annotations.insert(format!("link:{text}"), href.clone());
    }
    let runbook = annotations
        .get("runbook_url")
        .or_else(|| annotations.get("runbook"))
        .filter(|url| is_http_url(url))
        .cloned();
    IncomingAlert {
        source: "pagerduty".to_string(),
        fingerprint: format!("pd:{integration}:{dedup_key}"),
        action: event.action,
        labels,
        annotations,
        summary,
        severity,
        runbook,
        starts_at,
    }
}

// ---------------------------------------------------------------------------------------------
// Generic webhook

/// nines' generic webhook: `{"alerts": [ALERT, ...]}` or one `ALERT`, where `ALERT` is
/// `{"status": "firing"|"resolved", "labels": {...}, "annotations": {...}, "summary": "...",
/// "severity": "...", "runbook": "...", "fingerprint": "...", "starts_at": "RFC 3339"}`. Only
/// `labels` (at least one) is required; status defaults to firing; an alert without a
/// fingerprint is identified by its labels.
pub fn decode_webhook(body: &[u8]) -> Result<Vec<IncomingAlert>, Vec<Problem>> {
    let value = parse_body(body)?;
    let mut walk = Walk::default();
    let mut alerts = Vec::new();
    let items: Vec<(String, &Value)> = match &value {
        Value::Object(map) if map.contains_key("alerts") => match map.get("alerts") {
            Some(Value::Array(items)) => {
                if map.len() > 1 {
                    let other = map
                        .keys()
                        .find(|key| *key != "alerts")
                        .cloned()
                        .unwrap_or_default();
                    walk.problem(&other, "unknown field beside \"alerts\"");
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| (format!("alerts[{index}]"), item))
                    .collect()
            }
            Some(other) => {
                walk.problem("alerts", format!("expected an array, got {}", kind(other)));
                Vec::new()
            }
            None => Vec::new(),
        },
        Value::Object(_) => vec![(String::new(), &value)],
        other => {
            walk.problem("", format!("expected an object, got {}", kind(other)));
            Vec::new()
        }
    };
    if too_many(&mut walk, "alerts", items.len()) {
        return walk.finish(Vec::new());
    }
    for (at, item) in items {
        if let Some(alert) = webhook_alert(&mut walk, item, &at) {
            alerts.push(alert);
        }
    }
    if alerts.is_empty() && walk.problems.is_empty() {
        walk.problem("alerts", "is empty");
    }
    walk.finish(alerts)
}

const WEBHOOK_FIELDS: [&str; 8] = [
    "status",
    "labels",
    "annotations",
    "summary",
    "severity",
    "runbook",
    "fingerprint",
    "starts_at",
];

fn webhook_alert(walk: &mut Walk, item: &Value, at: &str) -> Option<IncomingAlert> {
    let map = walk.object(item, if at.is_empty() { "" } else { at })?;
    let before = walk.problems.len();
    for key in map.keys() {
        if !WEBHOOK_FIELDS.contains(&key.as_str()) {
            walk.problem(
                &join(at, key),
                format!(
                    "unknown field; expected one of {}",
                    WEBHOOK_FIELDS.join(", ")
                ),
            );
        }
    }
    let action = match walk.string(map, "status", at, false).as_deref() {
        None | Some("firing") => Some(AlertAction::Trigger),
        Some("resolved") => Some(AlertAction::Resolve),
        Some(other) => {
            walk.problem(
                &join(at, "status"),
                format!("expected \"firing\" or \"resolved\", got {other:?}"),
            );
            None
        }
    };
    let labels = walk.string_map(map, "labels", at);
    if labels.is_empty() && walk.problems.len() == before {
        walk.problem(&join(at, "labels"), "an alert needs at least one label");
    }
    let annotations = walk.string_map(map, "annotations", at);
    let summary = walk.string(map, "summary", at, false);
    let severity = walk.string(map, "severity", at, false);
    let runbook = walk.string(map, "runbook", at, false);
    if let Some(runbook) = &runbook
        && !(runbook.starts_with("https://") || runbook.starts_with("http://"))
    {
        walk.problem(&join(at, "runbook"), "must be an http(s) URL");
    }
    let fingerprint = walk.string(map, "fingerprint", at, false);
    let starts_at = walk.time(map, "starts_at", at);
    if walk.problems.len() != before {
        return None;
    }
    let (default_summary, default_runbook, default_severity) = describe(&labels, &annotations);
    let fingerprint = fingerprint
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| nines_core::oncall::route::fingerprint(&labels));
    Some(IncomingAlert {
        source: "webhook".to_string(),
        fingerprint: format!("wh:{fingerprint}"),
        action: action?,
        summary: summary.unwrap_or(default_summary),
        severity: severity.unwrap_or(default_severity),
        runbook: runbook.or(default_runbook),
        labels,
        annotations,
        starts_at,
    })
}

#[cfg(test)]
mod tests;
