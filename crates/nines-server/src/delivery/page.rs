//! Page notifications: what the pager tells a channel about a page (triggered, escalated,
//! acknowledged, unacknowledged, resolved), and the outbox row of one such notice on one channel
//! in the channel's format (webhook `nines.page.v1`, Slack blocks, email, PagerDuty Events v2).
//!
//! Like alert notices, the payload is built when the row is written, so a retry sends the same
//! bytes; PagerDuty's routing key is the one thing added at send time.

use std::collections::BTreeMap;

use nines_spec::catalog::{Channel, ChannelKind};
use nines_store::OutboxRow;
use serde::{Deserialize, Serialize};

use super::templates::{self, Rendered};
use super::{email, pagerduty, slack};

/// The `version` of the webhook body of a page notice.
pub const PAGE_PAYLOAD_VERSION: &str = "nines.page.v1";

/// One thing that happened to a page, for one recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct PageNotice {
    pub page_id: String,
    pub event: PageEvent,
    pub at: jiff::Timestamp,
    pub summary: String,
    pub severity: String,
    pub service: Option<String>,
    pub policy: String,
    pub step: usize,
    pub round: u32,
    /// Who this message is for (None for a channel target with no person).
    pub person: Option<PageRecipient>,
    pub alerts: Vec<PageAlert>,
    pub labels: BTreeMap<String, String>,
    pub runbook: Option<String>,
    pub links: PageLinks,
    /// Who acknowledged, unacknowledged or resolved.
    pub actor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageEvent {
    Triggered,
    Escalated,
    Acknowledged,
    Unacknowledged,
    Resolved,
}

impl PageEvent {
    /// `triggered`, `escalated`, `acknowledged`, `unacknowledged` or `resolved`.
    pub fn name(self) -> &'static str {
        match self {
            PageEvent::Triggered => "triggered",
            PageEvent::Escalated => "escalated",
            PageEvent::Acknowledged => "acknowledged",
            PageEvent::Unacknowledged => "unacknowledged",
            PageEvent::Resolved => "resolved",
        }
    }

    fn from_name(name: &str) -> Option<PageEvent> {
        [
            PageEvent::Triggered,
            PageEvent::Escalated,
            PageEvent::Acknowledged,
            PageEvent::Unacknowledged,
            PageEvent::Resolved,
        ]
        .into_iter()
        .find(|event| event.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRecipient {
    pub id: String,
    pub name: String,
    /// The contact address on this channel.
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageAlert {
    pub fingerprint: String,
    pub status: String,
    pub summary: String,
    pub source: String,
    pub labels: BTreeMap<String, String>,
}

/// Signed one-click links, built by the pager from the server's public URL (`--public-url`,
/// else its listen address); `None` where a notice has no page to act on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageLinks {
    pub page: Option<String>,
    pub acknowledge: Option<String>,
    pub resolve: Option<String>,
}

/// The webhook body of a page notice (`version` = [`PAGE_PAYLOAD_VERSION`]); see
/// `docs/delivery.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageWebhookPayload {
    pub version: String,
    pub idempotency_key: String,
    /// The channel's rendered title and text.
    pub title: String,
    pub text: String,
    pub page_id: String,
    /// `triggered`, `escalated`, `acknowledged`, `unacknowledged` or `resolved`.
    pub event: String,
    /// RFC 3339, UTC.
    pub at: String,
    pub summary: String,
    pub severity: String,
    pub service: Option<String>,
    pub policy: String,
    /// From 0.
    pub step: usize,
    /// From 0.
    pub round: u32,
    pub person: Option<PageRecipient>,
    pub alerts: Vec<PageAlert>,
    pub labels: BTreeMap<String, String>,
    pub runbook: Option<String>,
    pub links: PageLinks,
    pub actor: Option<String>,
}

/// `page:{page_id}:{event}:{round}:{step}:{recipient}:{at_ms}:{channel_id}`, where the recipient
/// is the person and a hash of their address on the channel (`alice~1f2e...`: two contacts of one
/// person on one channel are two messages), or `-` for a PagerDuty channel, which keeps one
/// incident per page whoever the notice was for (one event per page event, not one per person).
pub fn page_idempotency_key(notice: &PageNotice, channel: &Channel) -> String {
    let recipient = match (&channel.kind, &notice.person) {
        (ChannelKind::PagerDuty { .. }, _) | (_, None) => "-".to_string(),
        (_, Some(person)) => match &person.address {
            Some(address) => format!("{}~{:016x}", person.id, fnv1a(address)),
            None => person.id.clone(),
        },
    };
    format!(
        "page:{}:{}:{}:{}:{recipient}:{}:{}",
        notice.page_id,
        notice.event.name(),
        notice.round,
        notice.step,
        notice.at.as_millisecond(),
        channel.id
    )
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The stream of a page message (`page:{page_id}:{recipient}`): messages to one recipient on one
/// channel keep their order (a retried trigger never lands after its resolve), and one
/// recipient's failing address never holds back the escalation to another. From an idempotency
/// key without its `:{channel}` suffix; None when the key is not a page key.
pub(super) fn page_stream(key_without_channel: &str) -> Option<String> {
    let rest = key_without_channel.strip_prefix("page:")?;
    // From the right: at_ms, person, step, round, event; what is left is the page id.
    let mut parts = rest.rsplitn(6, ':');
    let at_ms = parts.next()?;
    let recipient = parts.next()?;
    let step = parts.next()?;
    let round = parts.next()?;
    let event = parts.next()?;
    let page_id = parts.next()?;
    let numeric = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let valid = numeric(step)
        && numeric(round)
        && PageEvent::from_name(event).is_some()
        && at_ms.parse::<i64>().is_ok();
    valid.then(|| format!("page:{page_id}:{recipient}"))
}

/// The outbox row of one page notice on one channel. Idempotency key:
/// `page:{page_id}:{event}:{round}:{step}:{person or "-"}:{at_ms}:{channel_id}`. Errors: an email
/// channel without an address for the person, a template that fails to render (message names
/// the channel and template).
///
/// An email notice with no person (a channel target) goes to the channel's `to`. Alertmanager
/// channels take no pages (nines' pages are not Alertmanager alerts); the channel's
/// `severities` and `alerts` settings do not apply (the pager chose the channel).
pub fn page_outbox_row(
    notice: &PageNotice,
    channel: &Channel,
    now_ms: i64,
) -> Result<OutboxRow, String> {
    let idempotency_key = page_idempotency_key(notice, channel);
    // Alert text comes from outside (Alertmanager, PagerDuty senders, webhooks): in Slack's
    // mrkdwn, `<!channel>` or `<https://evil|Acknowledge>` in a summary or label would ping
    // everyone or disguise a link, so Slack sees it escaped.
    let escaped;
    let for_template = if matches!(channel.kind, ChannelKind::Slack { .. }) {
        escaped = slack::escaped_notice(notice);
        &escaped
    } else {
        notice
    };
    let context = templates::page_context(for_template);
    let render = || templates::render(channel, &context).map_err(|err| err.to_string());
    let payload = match &channel.kind {
        ChannelKind::Webhook { .. } => {
            let rendered = render()?;
            to_json(&webhook_payload(notice, &idempotency_key, rendered))?
        }
        ChannelKind::Alertmanager { .. } => {
            return Err(format!(
                "channel {:?} is an alertmanager channel, which takes no pages",
                channel.id
            ));
        }
        ChannelKind::Slack { .. } => {
            let rendered = render()?;
            let mention = notice
                .person
                .as_ref()
                .and_then(|person| person.address.as_deref())
                .filter(|address| slack::is_member_id(address));
            to_json(&slack::message(
                &rendered,
                mention,
                &for_template.labels,
                &page_buttons(notice),
            ))?
        }
        ChannelKind::Email { to, .. } => {
            let recipients = match &notice.person {
                Some(person) => match &person.address {
                    Some(address) => vec![address.clone()],
                    None => {
                        return Err(format!(
                            "email channel {:?}: {} ({}) has no email address on it",
                            channel.id, person.name, person.id
                        ));
                    }
                },
                None if to.is_empty() => {
                    return Err(format!(
                        "email channel {:?}: a page for no person needs the channel's `to` addresses",
                        channel.id
                    ));
                }
                None => to.clone(),
            };
            for address in &recipients {
                email::check_address(address)
                    .map_err(|err| format!("email channel {:?}: {err}", channel.id))?;
            }
            let rendered = render()?;
            to_json(&email::EmailPayload {
                to: recipients,
                subject: rendered.title,
                text: rendered.text,
            })?
        }
        ChannelKind::PagerDuty { .. } => {
            let dedup_key = format!("nines-page:{}", notice.page_id);
            let event = match notice.event {
                PageEvent::Triggered | PageEvent::Escalated | PageEvent::Unacknowledged => {
                    let mut rendered = render()?;
                    // The incident's title is the page's summary: the default title's
                    // `[TRIGGERED]`/`[ESCALATED]` says nothing in PagerDuty, which keeps one
                    // incident per dedup key. A channel's own title template still wins.
                    if channel.templates.title.is_none() {
                        rendered.title = notice.summary.clone();
                    }
                    pagerduty::trigger(pagerduty::Trigger {
                        dedup_key: &dedup_key,
                        rendered: &rendered,
                        severity: pagerduty::severity(&notice.severity),
                        timestamp: &notice.at.to_string(),
                        component: notice.service.as_deref(),
                        group: None,
                        class: Some("page"),
                        details: page_details(notice, &rendered),
                        links: page_buttons(notice),
                    })
                }
                PageEvent::Acknowledged => pagerduty::follow_up("acknowledge", &dedup_key),
                PageEvent::Resolved => pagerduty::follow_up("resolve", &dedup_key),
            };
            to_json(&event)?
        }
    };
    Ok(OutboxRow {
        id: 0,
        idempotency_key,
        channel: channel.id.clone(),
        payload,
        created_ms: now_ms,
        attempts: 0,
        next_attempt_ms: now_ms,
        delivered_ms: None,
        last_error: None,
    })
}

pub fn webhook_payload(
    notice: &PageNotice,
    idempotency_key: &str,
    rendered: Rendered,
) -> PageWebhookPayload {
    PageWebhookPayload {
        version: PAGE_PAYLOAD_VERSION.to_string(),
        idempotency_key: idempotency_key.to_string(),
        title: rendered.title,
        text: rendered.text,
        page_id: notice.page_id.clone(),
        event: notice.event.name().to_string(),
        at: notice.at.to_string(),
        summary: notice.summary.clone(),
        severity: notice.severity.clone(),
        service: notice.service.clone(),
        policy: notice.policy.clone(),
        step: notice.step,
        round: notice.round,
        person: notice.person.clone(),
        alerts: notice.alerts.clone(),
        labels: notice.labels.clone(),
        runbook: notice.runbook.clone(),
        links: notice.links.clone(),
        actor: notice.actor.clone(),
    }
}

/// Links as buttons: open the page, acknowledge and resolve while they make sense, the runbook.
fn page_buttons(notice: &PageNotice) -> Vec<slack::Button> {
    let mut buttons = Vec::new();
    let open = !matches!(notice.event, PageEvent::Resolved);
    let unacknowledged = matches!(
        notice.event,
        PageEvent::Triggered | PageEvent::Escalated | PageEvent::Unacknowledged
    );
    if let (true, Some(url)) = (unacknowledged, &notice.links.acknowledge) {
        buttons.push(slack::Button::primary("Acknowledge", url));
    }
    if let (true, Some(url)) = (open, &notice.links.resolve) {
        buttons.push(slack::Button::plain("Resolve", url));
    }
    if let Some(url) = &notice.links.page {
        buttons.push(slack::Button::plain("Open page", url));
    }
    if let Some(url) = &notice.runbook {
        buttons.push(slack::Button::plain("Runbook", url));
    }
    buttons
}

fn page_details(notice: &PageNotice, rendered: &Rendered) -> serde_json::Value {
    serde_json::json!({
        "text": rendered.text,
        "page_id": notice.page_id,
        "policy": notice.policy,
        "step": notice.step,
        "round": notice.round,
        "labels": notice.labels,
        "alerts": notice.alerts,
    })
}

fn to_json<T: Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string(value).map_err(|err| format!("payload not serializable: {err}"))
}
