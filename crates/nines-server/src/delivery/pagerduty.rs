//! PagerDuty Events API v2 out: trigger, acknowledge and resolve events. The stored event has
//! no routing key; [`with_routing_key`] adds it at send time, so the key never reaches the
//! database. PagerDuty answers 202 when it accepted an event; 400 (an invalid event) is recorded
//! and retried with backoff like any other failure (a corrected key in the environment and a
//! restart make it go through), 429 and 5xx are retried.

use serde_json::{Value, json};

use super::slack::Button;
use super::templates::Rendered;

/// PagerDuty's limit on `payload.summary`.
const SUMMARY_LIMIT: usize = 1024;

/// PagerDuty's severity (`critical`, `error`, `warning`, `info`) of a nines severity: `page` and
/// `critical` are critical, `ticket` and `warning` are warnings, `error` and `info` are
/// themselves, anything else is an error.
pub fn severity(name: &str) -> &'static str {
    match name.to_ascii_lowercase().as_str() {
        "page" | "critical" => "critical",
        "ticket" | "warning" => "warning",
        "info" => "info",
        _ => "error",
    }
}

/// The fields of a trigger event.
pub struct Trigger<'a> {
    pub dedup_key: &'a str,
    pub rendered: &'a Rendered,
    pub severity: &'static str,
    /// RFC 3339.
    pub timestamp: &'a str,
    pub component: Option<&'a str>,
    pub group: Option<&'a str>,
    pub class: Option<&'a str>,
    pub details: Value,
    pub links: Vec<Button>,
}

pub fn trigger(trigger: Trigger<'_>) -> Value {
    let summary = match trigger.rendered.title.trim() {
        "" => "nines notification".to_string(),
        title => title.chars().take(SUMMARY_LIMIT).collect(),
    };
    let mut payload = json!({
        "summary": summary,
        "source": "nines",
        "severity": trigger.severity,
        "timestamp": trigger.timestamp,
        "custom_details": trigger.details,
    });
    for (name, value) in [
        ("component", trigger.component),
        ("group", trigger.group),
        ("class", trigger.class),
    ] {
        if let Some(value) = value {
            payload[name] = json!(value);
        }
    }
    let links: Vec<Value> = trigger
        .links
        .iter()
        .map(|link| json!({"href": link.url, "text": link.label}))
        .collect();
    json!({
        "event_action": "trigger",
        "dedup_key": trigger.dedup_key,
        "client": "nines",
        "payload": payload,
        "links": links,
    })
}

/// An `acknowledge` or `resolve` event of the incident with `dedup_key`.
pub fn follow_up(action: &str, dedup_key: &str) -> Value {
    json!({"event_action": action, "dedup_key": dedup_key})
}

/// The stored event with `routing_key` added: the body sent.
pub fn with_routing_key(payload: &str, routing_key: &str) -> Result<String, String> {
    let mut event: serde_json::Map<String, Value> = serde_json::from_str(payload)
        .map_err(|err| format!("stored PagerDuty event is not a JSON object: {err}"))?;
    event.insert("routing_key".to_string(), json!(routing_key));
    serde_json::to_string(&event).map_err(|err| format!("PagerDuty event not serializable: {err}"))
}
