//! Slack incoming-webhook messages: a header (the title), a section with the text in mrkdwn
//! (mentioning the person paged), a context line with the labels, and link buttons (runbook,
//! acknowledge, resolve, the page). `text` carries the title for notifications and clients
//! without blocks.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::templates::Rendered;

/// Slack's limits: a header's text, a section's text, a button's label and URL.
const HEADER_LIMIT: usize = 150;
const SECTION_LIMIT: usize = 3000;
const CONTEXT_LIMIT: usize = 2000;

/// A link button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub url: String,
    /// Slack's `primary` style (green) for the main action.
    pub primary: bool,
}

impl Button {
    pub fn plain(label: &str, url: &str) -> Button {
        Button {
            label: label.to_string(),
            url: url.to_string(),
            primary: false,
        }
    }

    pub fn primary(label: &str, url: &str) -> Button {
        Button {
            primary: true,
            ..Button::plain(label, url)
        }
    }
}

/// Whether an address is a Slack member id (`U…` or `W…`, upper-case letters and digits), which
/// Slack turns into a mention as `<@id>`.
pub fn is_member_id(address: &str) -> bool {
    let mut chars = address.chars();
    matches!(chars.next(), Some('U' | 'W'))
        && address.len() >= 3
        && address.len() <= 20
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Escapes Slack's control characters (`&`, `<`, `>`) in text from outside.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A page notice whose alert-given text (summary, labels, alerts, actor) is escaped for Slack;
/// links and ids stay as they are.
pub fn escaped_notice(notice: &super::page::PageNotice) -> super::page::PageNotice {
    let mut out = notice.clone();
    let escape_map = |map: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        map.iter().map(|(k, v)| (escape(k), escape(v))).collect()
    };
    out.summary = escape(&notice.summary);
    out.labels = escape_map(&notice.labels);
    out.actor = notice.actor.as_deref().map(escape);
    for alert in &mut out.alerts {
        alert.summary = escape(&alert.summary);
        alert.labels = escape_map(&alert.labels);
    }
    out
}

/// The message body posted to the incoming webhook.
pub fn message(
    rendered: &Rendered,
    mention: Option<&str>,
    labels: &BTreeMap<String, String>,
    buttons: &[Button],
) -> Value {
    let text = match mention {
        Some(member) => format!("<@{member}> {}", rendered.text),
        None => rendered.text.clone(),
    };
    // Slack refuses an empty header.
    let title = match rendered.title.trim() {
        "" => "nines notification",
        title => title,
    };
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(title, HEADER_LIMIT), "emoji": true},
    })];
    if !text.trim().is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate(&text, SECTION_LIMIT)},
        }));
    }
    if !labels.is_empty() {
        let line = labels
            .iter()
            .map(|(name, value)| format!("`{name}={value}`"))
            .collect::<Vec<_>>()
            .join("  ");
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": truncate(&line, CONTEXT_LIMIT)}],
        }));
    }
    // At most 25 elements in an actions block; URLs over 3000 characters are refused.
    let elements: Vec<Value> = buttons
        .iter()
        .filter(|button| button.url.len() <= 3000)
        .take(25)
        .map(|button| {
            let mut element = json!({
                "type": "button",
                "text": {"type": "plain_text", "text": button.label},
                "url": button.url,
            });
            if button.primary {
                element["style"] = json!("primary");
            }
            element
        })
        .collect();
    if !elements.is_empty() {
        blocks.push(json!({"type": "actions", "elements": elements}));
    }
    let fallback = match mention {
        Some(member) => format!("<@{member}> {title}"),
        None => title.to_string(),
    };
    json!({"text": fallback, "blocks": blocks})
}

/// At most `limit` characters, with an ellipsis when cut.
fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(limit.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
