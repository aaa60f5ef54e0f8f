//! Channel templates (minijinja): the context a title or text template sees, the default
//! templates, and rendering. A template that fails to render is an error naming the channel and
//! the template, never a panic.
//!
//! The context (the same names for SLO alerts and pages; what does not apply is `none`):
//!
//! | name | value |
//! |---|---|
//! | `type` | `alert` (an SLO alert notice) or `page` |
//! | `event` | alert: `fired`, `resolved`, `superseded`; page: `triggered`, `escalated`, `acknowledged`, `unacknowledged`, `resolved` |
//! | `summary` | one line for humans |
//! | `severity` | alert: `page` or `ticket`; page: the page's severity |
//! | `service` | the service, if known |
//! | `at` | when it happened (RFC 3339, UTC) |
//! | `labels` | map of labels |
//! | `runbook` | runbook link |
//! | `links.page`, `links.acknowledge`, `links.resolve` | signed one-click links of a page |
//! | `slo.id`, `slo.name`, `slo.owner`, `slo.objective`, `slo.objective_percent` | alert only |
//! | `alert.kind` (`burn_rate`, `no_data`), `alert.severity`, `alert.change` | alert only |
//! | `sli`, `budget_remaining_share`, `burn_rates` (list of `long_window`, `long_burn_rate`, `short_window`, `short_burn_rate`, `factor`, `fires`), `exhaustion`, `description` | alert only |
//! | `page.id`, `page.policy`, `page.step`, `page.round` (from 0) | page only |
//! | `person.id`, `person.name`, `person.address` | page only: who the message is for |
//! | `alerts` (list of `fingerprint`, `status`, `summary`, `source`, `labels`) | page only |
//! | `actor` | page only: who acknowledged, unacknowledged or resolved |

use std::collections::BTreeMap;

use minijinja::Environment;
use nines_spec::catalog::Channel;
use serde::Serialize;

use super::page::PageNotice;
use super::{WebhookBurnRate, description, finite, summary, wire_burn_rate};
use crate::evaluator::Notice;

/// The default title: one line (Slack header, email subject, PagerDuty summary).
pub const DEFAULT_TITLE: &str =
    "{% if type == \"page\" %}[{{ event | upper }}] {% endif %}{{ summary }}";

/// The default text: plain lines that read well in Slack (mrkdwn) and in an email.
pub const DEFAULT_TEXT: &str = r#"{% if type == "page" %}
*Page {{ event }}*{% if actor %} by {{ actor }}{% endif %}: {{ summary }}
Severity: {{ severity }}{% if service %} | Service: {{ service }}{% endif %} | Policy: {{ page.policy }} (step {{ page.step + 1 }}, round {{ page.round + 1 }})
{% if person %}For: {{ person.name }}
{% endif %}
{% if alerts %}
Alerts:
{% for alert in alerts %}
- [{{ alert.status }}] {{ alert.summary }} (from {{ alert.source }})
{% endfor %}
{% endif %}
{% else %}
*{{ summary }}*
{{ description }}
{% endif %}
{% if runbook %}Runbook: {{ runbook }}
{% endif %}
{% if links.acknowledge and event in ["triggered", "escalated", "unacknowledged"] %}Acknowledge: {{ links.acknowledge }}
{% endif %}
{% if links.resolve and event != "resolved" %}Resolve: {{ links.resolve }}
{% endif %}
{% if links.page %}Page: {{ links.page }}
{% endif %}"#;

/// What a template sees; see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateContext {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub event: String,
    pub summary: String,
    pub severity: String,
    pub service: Option<String>,
    pub at: String,
    pub labels: BTreeMap<String, String>,
    pub runbook: Option<String>,
    pub links: ContextLinks,
    pub slo: Option<ContextSlo>,
    pub alert: Option<ContextAlert>,
    pub sli: Option<f64>,
    pub budget_remaining_share: Option<f64>,
    pub burn_rates: Vec<WebhookBurnRate>,
    pub exhaustion: Option<String>,
    pub description: Option<String>,
    pub page: Option<ContextPage>,
    pub person: Option<super::page::PageRecipient>,
    pub alerts: Vec<super::page::PageAlert>,
    pub actor: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContextLinks {
    pub page: Option<String>,
    pub acknowledge: Option<String>,
    pub resolve: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContextSlo {
    pub id: String,
    pub name: String,
    pub owner: Option<String>,
    pub objective: f64,
    /// `99.9` for an objective of 0.999.
    pub objective_percent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContextAlert {
    pub kind: String,
    pub severity: String,
    pub change: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContextPage {
    pub id: String,
    pub policy: String,
    pub step: usize,
    pub round: u32,
}

/// A rendered title and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("channel {channel:?}: template {template} failed to render: {message}")]
pub struct TemplateError {
    pub channel: String,
    /// `title` or `text`.
    pub template: &'static str,
    pub message: String,
}

pub fn alert_context(notice: &Notice) -> TemplateContext {
    let labels: BTreeMap<String, String> = notice.labels.iter().cloned().collect();
    TemplateContext {
        kind: "alert",
        event: notice.change.name().to_string(),
        summary: summary(notice),
        severity: notice.severity.name().to_string(),
        service: Some(notice.service.clone()),
        at: notice.at.to_string(),
        labels,
        runbook: notice.runbook.clone(),
        links: ContextLinks::default(),
        slo: Some(ContextSlo {
            id: notice.slo_id.clone(),
            name: notice.slo_name.clone(),
            owner: notice.owner.clone(),
            objective: notice.objective,
            objective_percent: notice.objective * 100.0,
        }),
        alert: Some(ContextAlert {
            kind: notice.kind.name().to_string(),
            severity: notice.severity.name().to_string(),
            change: notice.change.name().to_string(),
        }),
        sli: notice.sli.and_then(finite),
        budget_remaining_share: finite(notice.budget_remaining_share),
        burn_rates: notice.burn_rates.iter().map(wire_burn_rate).collect(),
        exhaustion: Some(super::wire_exhaustion(notice.exhaustion).state),
        description: Some(description(notice)),
        page: None,
        person: None,
        alerts: Vec::new(),
        actor: None,
    }
}

pub fn page_context(notice: &PageNotice) -> TemplateContext {
    TemplateContext {
        kind: "page",
        event: notice.event.name().to_string(),
        summary: notice.summary.clone(),
        severity: notice.severity.clone(),
        service: notice.service.clone(),
        at: notice.at.to_string(),
        labels: notice.labels.clone(),
        runbook: notice.runbook.clone(),
        links: ContextLinks {
            page: notice.links.page.clone(),
            acknowledge: notice.links.acknowledge.clone(),
            resolve: notice.links.resolve.clone(),
        },
        slo: None,
        alert: None,
        sli: None,
        budget_remaining_share: None,
        burn_rates: Vec::new(),
        exhaustion: None,
        description: None,
        page: Some(ContextPage {
            id: notice.page_id.clone(),
            policy: notice.policy.clone(),
            step: notice.step,
            round: notice.round,
        }),
        person: notice.person.clone(),
        alerts: notice.alerts.clone(),
        actor: notice.actor.clone(),
    }
}

/// Renders the channel's title and text (its own templates, or the defaults).
pub fn render(channel: &Channel, context: &TemplateContext) -> Result<Rendered, TemplateError> {
    let title_source = channel.templates.title.as_deref().unwrap_or(DEFAULT_TITLE);
    let text_source = channel.templates.text.as_deref().unwrap_or(DEFAULT_TEXT);
    let error = |template: &'static str, message: String| TemplateError {
        channel: channel.id.clone(),
        template,
        message,
    };
    let title = render_one(title_source, context).map_err(|message| error("title", message))?;
    let text = render_one(text_source, context).map_err(|message| error("text", message))?;
    Ok(Rendered {
        // A title is one line.
        title: title.split_whitespace().collect::<Vec<_>>().join(" "),
        text,
    })
}

/// The default title and text. They are tested on every kind of notice; should they fail all
/// the same, the summary stands in for both.
pub fn render_defaults(context: &TemplateContext) -> Rendered {
    let title = render_one(DEFAULT_TITLE, context).unwrap_or_else(|_| context.summary.clone());
    let text = render_one(DEFAULT_TEXT, context).unwrap_or_else(|_| context.summary.clone());
    Rendered { title, text }
}

/// Renders one template source; the error says what is wrong and on which line.
pub fn render_one(source: &str, context: &TemplateContext) -> Result<String, String> {
    let mut environment = Environment::new();
    // Block tags take their line's newline and indentation, so templates can be laid out in
    // lines without blank lines in the output.
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
    {
        environment.set_syntax(syntax);
    }
    let value = minijinja::Value::from(minijinja::value::Serde(context));
    match environment.render_str(source, value) {
        Ok(text) => Ok(text.trim().to_string()),
        Err(err) => {
            let what = match err.detail() {
                Some(detail) => format!("{}: {detail}", err.kind()),
                None => err.kind().to_string(),
            };
            Err(match err.line() {
                Some(line) => format!("{what} (line {line})"),
                None => what,
            })
        }
    }
}
