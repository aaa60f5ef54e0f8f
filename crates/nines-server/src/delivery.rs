//! Notification delivery: turns alert transitions (and, through [`page_outbox_row`], page
//! notices) into outbox rows (one per channel, with a stable idempotency key and the channel's
//! payload) and delivers due rows at least once, with retries, exponential backoff and full
//! jitter (DESIGN.md, invariant 3). Channels: webhook, Alertmanager, Slack ([`slack`]), email
//! over SMTP ([`email`]) and PagerDuty Events v2 ([`pagerduty`]); titles and texts come from
//! per-channel minijinja templates ([`templates`]).
//!
//! The payload is built when the row is written, in the transaction of the state change, so a
//! retry sends the exact same bytes. Times come in as arguments (`now_ms`); only [`Deliverer::run`]
//! reads the clock.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hmac::{Hmac, Mac};
use nines_core::{AlertKind, Change, Exhaustion, Span};
use nines_spec::catalog::{Channel, ChannelKind};
use nines_store::{OutboxRow, Store};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::evaluator::{Notice, PairRates};

pub mod email;
pub mod page;
pub mod pagerduty;
pub mod slack;
pub mod templates;

pub use page::{PageAlert, PageEvent, PageLinks, PageNotice, PageRecipient, page_outbox_row};

/// The `version` of every webhook payload.
pub const PAYLOAD_VERSION: &str = "nines.v1";
pub const IDEMPOTENCY_KEY_HEADER: &str = "x-nines-idempotency-key";
/// `sha256=<hex HMAC-SHA256 of the exact body>`, when the channel has a secret.
pub const SIGNATURE_HEADER: &str = "x-nines-signature";
/// Unix seconds of the attempt, sent with the signature.
pub const TIMESTAMP_HEADER: &str = "x-nines-timestamp";
/// How long a fired alert stays firing in Alertmanager without news from nines. nines sends a
/// fired alert once (not every evaluation, as Prometheus does), so without an explicit `endsAt`
/// Alertmanager would resolve it after its `resolve_timeout` (5 minutes by default). The
/// resolved notice ends it earlier.
pub const ALERTMANAGER_FIRING_HORIZON: Span = Span::days(7);
/// How often [`Deliverer::run`] looks for due messages.
pub const PASS_INTERVAL: Duration = Duration::from_millis(250);
/// The longest piece of a failed response's body kept in `last_error`.
const ERROR_BODY_LIMIT: usize = 256;
/// How long past its next attempt a failed message keeps holding back later messages of its
/// alert when it is not seen again (delivered by another process, or beyond the batch limit).
const BARRIER_GRACE_MS: i64 = 5 * 60 * 1000;

// ---------------------------------------------------------------------------------------------
// Outbox rows and payloads (pure)

/// One outbox row per channel that takes SLO alert notices (`alerts: true`) and the notice's
/// severity (a channel with no severities takes all), due at `now_ms`, in the channel's format.
/// An email channel without `to` addresses is skipped. The idempotency key is the same for the
/// same transition and channel, so writing the rows again is a no-op in the store.
///
/// A channel template that fails to render does not lose the notice: the row is written with
/// the default templates and its `last_error` names the channel and the template.
pub fn outbox_rows(notice: &Notice, channels: &[Channel], now_ms: i64) -> Vec<OutboxRow> {
    let mut rows = Vec::new();
    let mut alert_context = None;
    for channel in channels {
        if !channel.alerts {
            continue;
        }
        if !channel.severities.is_empty() && !channel.severities.contains(&notice.severity) {
            continue;
        }
        if let ChannelKind::Email { to, .. } = &channel.kind
            && to.is_empty()
        {
            continue;
        }
        let idempotency_key = idempotency_key(notice, &channel.id);
        let context = alert_context.get_or_insert_with(|| templates::alert_context(notice));
        let mut template_error = None;
        let mut rendered = || match templates::render(channel, context) {
            Ok(rendered) => rendered,
            Err(err) => {
                tracing::error!(channel = %channel.id, slo = %notice.slo_id, error = %err, "notification template failed; the default is used");
                template_error = Some(format!("{err}; sent with the default template"));
                templates::render_defaults(context)
            }
        };
        let payload = match &channel.kind {
            ChannelKind::Webhook { .. } => {
                serde_json::to_string(&webhook_payload(notice, &idempotency_key))
            }
            ChannelKind::Alertmanager { .. } => {
                serde_json::to_string(&[alertmanager_alert(notice)])
            }
            ChannelKind::Slack { .. } => {
                let rendered = rendered();
                let labels = notice_labels(notice);
                let buttons: Vec<slack::Button> = notice
                    .runbook
                    .iter()
                    .map(|url| slack::Button::plain("Runbook", url))
                    .collect();
                serde_json::to_string(&slack::message(&rendered, None, &labels, &buttons))
            }
            ChannelKind::Email { to, .. } => {
                let rendered = rendered();
                serde_json::to_string(&email::EmailPayload {
                    to: to.clone(),
                    subject: rendered.title,
                    text: rendered.text,
                })
            }
            ChannelKind::PagerDuty { .. } => {
                let dedup_key = format!("nines:{}:{}", notice.slo_id, notice.kind.name());
                let event = match notice.change {
                    Change::Fired => {
                        let rendered = rendered();
                        let details = serde_json::json!({
                            "text": rendered.text,
                            "slo": notice.slo_id,
                            "slo_name": notice.slo_name,
                            "objective": notice.objective,
                            "sli": notice.sli.and_then(finite),
                            "budget_remaining_share": finite(notice.budget_remaining_share),
                            "labels": notice_labels(notice),
                        });
                        pagerduty::trigger(pagerduty::Trigger {
                            dedup_key: &dedup_key,
                            rendered: &rendered,
                            severity: pagerduty::severity(notice.severity.name()),
                            timestamp: &notice.at.to_string(),
                            component: Some(&notice.service),
                            group: notice.owner.as_deref(),
                            class: Some(notice.kind.name()),
                            details,
                            links: notice
                                .runbook
                                .iter()
                                .map(|url| slack::Button::plain("Runbook", url))
                                .collect(),
                        })
                    }
                    // A superseded ticket resolves; the page fires its own trigger right after
                    // (same stream, so in that order).
                    Change::Resolved | Change::Superseded => {
                        pagerduty::follow_up("resolve", &dedup_key)
                    }
                };
                serde_json::to_string(&event)
            }
        };
        let payload = match payload {
            Ok(payload) => payload,
            Err(err) => {
                // Not expected: the wire types hold strings, numbers and string maps only.
                tracing::error!(channel = %channel.id, slo = %notice.slo_id, error = %err, "notification payload not serializable");
                continue;
            }
        };
        rows.push(OutboxRow {
            id: 0,
            idempotency_key,
            channel: channel.id.clone(),
            payload,
            created_ms: now_ms,
            attempts: 0,
            next_attempt_ms: now_ms,
            delivered_ms: None,
            last_error: template_error,
        });
    }
    rows
}

/// `{slo_id}:{kind}:{severity}:{change}:{at_ms}:{channel_id}`.
pub fn idempotency_key(notice: &Notice, channel_id: &str) -> String {
    format!(
        "{}:{}:{}:{}:{}:{}",
        notice.slo_id,
        notice.kind.name(),
        notice.severity.name(),
        notice.change.name(),
        notice.at.as_millisecond(),
        channel_id
    )
}

/// The webhook body (`version` = [`PAYLOAD_VERSION`]); see `docs/delivery.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayload {
    pub version: String,
    pub idempotency_key: String,
    /// One line for humans (chat messages, ticket titles).
    pub summary: String,
    pub slo: WebhookSlo,
    pub alert: WebhookAlert,
    /// Share of the error budget left (1 = untouched, 0 or below = spent); null when unknown.
    pub budget_remaining_share: Option<f64>,
    /// The SLI over the SLO window; null without data.
    pub sli: Option<f64>,
    /// Every window pair of the alert's severity.
    pub burn_rates: Vec<WebhookBurnRate>,
    pub exhaustion: WebhookExhaustion,
    pub runbook: Option<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookSlo {
    pub id: String,
    pub name: String,
    pub service: String,
    pub owner: Option<String>,
    pub objective: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookAlert {
    /// `burn_rate` or `no_data`.
    pub kind: String,
    /// `page` or `ticket`.
    pub severity: String,
    /// `fired`, `resolved` or `superseded` (a ticket replaced by a page).
    pub change: String,
    /// When the transition happened, RFC 3339 in UTC.
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookBurnRate {
    pub long_window: String,
    pub long_burn_rate: Option<f64>,
    pub short_window: String,
    pub short_burn_rate: Option<f64>,
    /// The burn rate both windows must exceed.
    pub factor: f64,
    pub fires: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookExhaustion {
    /// `not_burning`, `exhausted`, `in` or `after_period_end`.
    pub state: String,
    /// With `in`: seconds until the budget is gone at the current burn rate.
    pub seconds: Option<i64>,
}

/// One element of the array Alertmanager's `POST /api/v2/alerts` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerAlert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    #[serde(
        default,
        rename = "generatorURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub generator_url: Option<String>,
}

pub fn webhook_payload(notice: &Notice, idempotency_key: &str) -> WebhookPayload {
    WebhookPayload {
        version: PAYLOAD_VERSION.to_string(),
        idempotency_key: idempotency_key.to_string(),
        summary: summary(notice),
        slo: WebhookSlo {
            id: notice.slo_id.clone(),
            name: notice.slo_name.clone(),
            service: notice.service.clone(),
            owner: notice.owner.clone(),
            objective: notice.objective,
        },
        alert: WebhookAlert {
            kind: notice.kind.name().to_string(),
            severity: notice.severity.name().to_string(),
            change: notice.change.name().to_string(),
            at: notice.at.to_string(),
        },
        budget_remaining_share: finite(notice.budget_remaining_share),
        sli: notice.sli.and_then(finite),
        burn_rates: notice.burn_rates.iter().map(wire_burn_rate).collect(),
        exhaustion: wire_exhaustion(notice.exhaustion),
        runbook: notice.runbook.clone(),
        labels: notice_labels(notice),
    }
}

/// The Alertmanager alert of a notice. Its labels identify the alert there, so the fired and
/// the resolved notice of one alert carry the same labels; a resolved or superseded notice sets
/// `endsAt` to the transition time, which resolves it.
pub fn alertmanager_alert(notice: &Notice) -> AlertmanagerAlert {
    let mut labels: BTreeMap<String, String> = notice_labels(notice)
        .into_iter()
        .filter(|(name, _)| is_alertmanager_label_name(name))
        .collect();
    if let Some(owner) = &notice.owner {
        labels
            .entry("owner".to_string())
            .or_insert_with(|| owner.clone());
    }
    let alertname = match notice.kind {
        AlertKind::BurnRate => "SLOBurnRate",
        AlertKind::NoData => "SLONoData",
    };
    labels.insert("alertname".to_string(), alertname.to_string());
    labels.insert("slo".to_string(), notice.slo_id.clone());
    labels.insert("service".to_string(), notice.service.clone());
    labels.insert("severity".to_string(), notice.severity.name().to_string());

    let mut annotations = BTreeMap::new();
    annotations.insert("summary".to_string(), summary(notice));
    annotations.insert("description".to_string(), description(notice));
    if let Some(runbook) = &notice.runbook {
        annotations.insert("runbook_url".to_string(), runbook.clone());
    }

    let ends_at = match notice.change {
        Change::Fired => notice
            .at
            .checked_add(ALERTMANAGER_FIRING_HORIZON.to_jiff())
            .ok()
            .map(|end| end.to_string()),
        Change::Resolved | Change::Superseded => Some(notice.at.to_string()),
    };
    AlertmanagerAlert {
        labels,
        annotations,
        starts_at: notice.at.to_string(),
        ends_at,
        generator_url: None,
    }
}

/// The notice's labels; a later duplicate wins, as in the evaluator's order (SLO, alerting,
/// severity labels).
fn notice_labels(notice: &Notice) -> BTreeMap<String, String> {
    notice.labels.iter().cloned().collect()
}

/// Alertmanager refuses a whole batch over one label name outside `[a-zA-Z_][a-zA-Z0-9_]*`,
/// which would make the message fail forever: such labels are left out of its alert.
fn is_alertmanager_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) if first.is_ascii_alphabetic() || first == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn summary(notice: &Notice) -> String {
    let what = match (notice.kind, notice.change) {
        (AlertKind::BurnRate, Change::Fired) => "error budget burning too fast",
        (AlertKind::BurnRate, Change::Resolved) => "error budget burn back to normal",
        (AlertKind::BurnRate, Change::Superseded) => {
            "error budget burn ticket superseded by a page"
        }
        (AlertKind::NoData, Change::Fired) => "no data",
        (AlertKind::NoData, Change::Resolved) => "data again",
        (AlertKind::NoData, Change::Superseded) => "no-data ticket superseded by a page",
    };
    format!(
        "{} ({}): {what} [{}]",
        notice.slo_name,
        notice.service,
        notice.severity.name()
    )
}

fn description(notice: &Notice) -> String {
    let mut parts = Vec::new();
    parts.push(format!("objective {}", percent(notice.objective)));
    if let Some(sli) = notice.sli.and_then(finite) {
        parts.push(format!("SLI {}", percent(sli)));
    }
    if let Some(remaining) = finite(notice.budget_remaining_share) {
        parts.push(format!("budget remaining {}", percent(remaining)));
    }
    for pair in &notice.burn_rates {
        let rate = |rate: Option<f64>| match rate.and_then(finite) {
            Some(rate) => format!("{rate:.2}"),
            None => "none".to_string(),
        };
        parts.push(format!(
            "burn rate {} over {} and {} over {} (threshold {:.2})",
            rate(pair.long_burn_rate),
            pair.long_window,
            rate(pair.short_burn_rate),
            pair.short_window,
            pair.factor
        ));
    }
    match notice.exhaustion {
        Exhaustion::NotBurning => {}
        Exhaustion::Exhausted => parts.push("budget exhausted".to_string()),
        Exhaustion::In(span) => parts.push(format!("budget exhausted in {span}")),
        Exhaustion::AfterPeriodEnd => parts.push("budget lasts until the period ends".to_string()),
    }
    parts.join(", ")
}

fn percent(share: f64) -> String {
    format!("{:.3}%", share * 100.0)
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

fn wire_burn_rate(pair: &PairRates) -> WebhookBurnRate {
    WebhookBurnRate {
        long_window: pair.long_window.clone(),
        long_burn_rate: pair.long_burn_rate.and_then(finite),
        short_window: pair.short_window.clone(),
        short_burn_rate: pair.short_burn_rate.and_then(finite),
        factor: pair.factor,
        fires: pair.fires,
    }
}

fn wire_exhaustion(exhaustion: Exhaustion) -> WebhookExhaustion {
    let (state, seconds) = match exhaustion {
        Exhaustion::NotBurning => ("not_burning", None),
        Exhaustion::Exhausted => ("exhausted", None),
        Exhaustion::In(span) => ("in", Some(span.as_secs())),
        Exhaustion::AfterPeriodEnd => ("after_period_end", None),
    };
    WebhookExhaustion {
        state: state.to_string(),
        seconds,
    }
}

/// `sha256=<hex HMAC-SHA256 of body keyed by secret>`, the value of [`SIGNATURE_HEADER`].
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut text = String::with_capacity(7 + digest.len() * 2);
    text.push_str("sha256=");
    for byte in digest {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

// ---------------------------------------------------------------------------------------------
// Backoff

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Wait exactly the exponential delay (tests, predictable retries).
    None,
    /// Wait a uniform random share of it (0 to the delay), so receivers that come back are not
    /// hit by every sender at once.
    Full,
}

/// Exponential backoff: after the n-th failed attempt (n from 1) wait up to
/// `min(max, base * 2^(n-1))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub jitter: Jitter,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(600),
            jitter: Jitter::Full,
        }
    }
}

impl Backoff {
    /// The delay before the next attempt of a message that had failed `previous_attempts`
    /// times before this failure, without jitter.
    pub fn ceiling(&self, previous_attempts: i64) -> Duration {
        let exponent = previous_attempts.clamp(0, 31) as u32;
        self.base.saturating_mul(1u32 << exponent).min(self.max)
    }

    /// The delay with jitter applied; `unit` is a random number in `[0, 1]`.
    pub fn delay(&self, previous_attempts: i64, unit: f64) -> Duration {
        let ceiling = self.ceiling(previous_attempts);
        match self.jitter {
            Jitter::None => ceiling,
            Jitter::Full => ceiling.mul_f64(unit.clamp(0.0, 1.0)),
        }
    }
}

/// A uniform number in `[0, 1)`; 0.5 if the system has no randomness to give.
fn random_unit() -> f64 {
    match getrandom::u64() {
        Ok(bits) => (bits >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

// ---------------------------------------------------------------------------------------------
// Deliverer

/// How deliveries are made.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySettings {
    /// The whole request, connecting included.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub backoff: Backoff,
    /// Requests in flight at once, over all channels.
    pub max_in_flight: usize,
    /// Requests in flight at once to one channel, so a hanging channel holds at most this many
    /// of `max_in_flight`.
    pub max_in_flight_per_channel: usize,
    /// Due messages read per pass.
    pub batch_limit: i64,
    /// The retry delay of a message whose channel is not configured (any more).
    pub unknown_channel_retry: Duration,
    /// An HTTP(S) proxy for all requests; none by default (the process environment's proxy
    /// variables are not read).
    pub proxy: Option<String>,
}

impl Default for DeliverySettings {
    fn default() -> DeliverySettings {
        DeliverySettings {
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            backoff: Backoff::default(),
            max_in_flight: 32,
            max_in_flight_per_channel: 4,
            batch_limit: 256,
            unknown_channel_retry: Duration::from_secs(3600),
            proxy: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DelivererError {
    /// Every problem of the channels at once.
    #[error("invalid notification channels: {}", .0.join("; "))]
    Channels(Vec<String>),
    #[error("cannot build the http client: {0}")]
    Client(String),
}

/// Totals since start, for `/metrics`.
#[derive(Debug, Default)]
pub struct DeliveryCounters {
    /// Messages delivered (answered 2xx).
    pub delivered: AtomicU64,
    /// Attempts that failed (non-2xx, connection error, timeout, unknown channel).
    pub failed_attempts: AtomicU64,
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Due messages read.
    pub due: usize,
    pub delivered: usize,
    pub failed: usize,
    /// Due messages left for a later pass (a limit on requests in flight, or an older message
    /// of the same alert and channel in this pass).
    pub deferred: usize,
    /// Store reads or writes that failed (a message not marked is sent again: at least once).
    pub store_errors: usize,
}

#[derive(Debug)]
enum Target {
    Webhook {
        url: String,
        secret: Option<Vec<u8>>,
    },
    Alertmanager {
        alerts_url: String,
    },
    /// The incoming-webhook URL (a secret, from the environment).
    Slack {
        url: String,
    },
    Email(email::EmailTarget),
    PagerDuty {
        url: String,
        routing_key: String,
    },
}

/// A failed message of one alert on one channel: later messages of that alert wait until it is
/// delivered, so a retried "fired" never arrives after its "resolved" (which would leave the
/// alert firing at the receiver). Kept in memory: after a restart the order is best effort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Barrier {
    id: i64,
    created_ms: i64,
    next_attempt_ms: i64,
}

impl Barrier {
    fn is_older_than(&self, row: &OutboxRow) -> bool {
        self.id != row.id && (self.created_ms, self.id) < (row.created_ms, row.id)
    }
}

/// (channel, alert) as [`stream_of`] reads it.
type StreamKey = (String, String);

/// Delivers outbox messages to the configured channels.
pub struct Deliverer {
    client: reqwest::Client,
    targets: HashMap<String, Arc<Target>>,
    settings: DeliverySettings,
    counters: Arc<DeliveryCounters>,
    permits: Arc<Semaphore>,
    /// Never held across an await.
    barriers: Mutex<HashMap<StreamKey, Barrier>>,
}

impl Deliverer {
    /// Builds the deliverer of `channels`. Secrets (a webhook's `secret_env`, Slack's `url_env`,
    /// an SMTP `password_env`, PagerDuty's `routing_key_env`) are looked up in `env` (the
    /// process environment, passed in by the binary); a missing or empty one is an error, never
    /// an unsigned webhook or a channel that fails forever.
    pub fn new(
        channels: &[Channel],
        env: &HashMap<String, String>,
        settings: DeliverySettings,
    ) -> Result<Deliverer, DelivererError> {
        let mut problems = Vec::new();
        let mut targets = HashMap::new();
        for channel in channels {
            let target = match &channel.kind {
                ChannelKind::Webhook { url, secret_env } => {
                    check_url(&channel.id, url, &mut problems);
                    let secret = secret_env.as_ref().and_then(|name| {
                        secret_from(env, &channel.id, "secret", name, &mut problems)
                    });
                    Target::Webhook {
                        url: url.clone(),
                        secret: secret.map(String::into_bytes),
                    }
                }
                ChannelKind::Alertmanager { url } => {
                    check_url(&channel.id, url, &mut problems);
                    Target::Alertmanager {
                        alerts_url: format!("{}/api/v2/alerts", url.trim_end_matches('/')),
                    }
                }
                ChannelKind::Slack { url_env } => {
                    let Some(url) =
                        secret_from(env, &channel.id, "webhook URL", url_env, &mut problems)
                    else {
                        continue;
                    };
                    // The URL is a secret: named by its variable, never printed.
                    match reqwest::Url::parse(&url) {
                        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
                        _ => {
                            problems.push(format!(
                                "channel {:?}: the value of {url_env} is not an http(s) URL",
                                channel.id
                            ));
                            continue;
                        }
                    }
                    Target::Slack { url }
                }
                ChannelKind::Email { smtp, from, to } => {
                    match email::EmailTarget::new(
                        &channel.id,
                        smtp,
                        from,
                        to,
                        env,
                        settings.request_timeout,
                        &mut problems,
                    ) {
                        Some(target) => Target::Email(target),
                        None => continue,
                    }
                }
                ChannelKind::PagerDuty {
                    routing_key_env,
                    url,
                } => {
                    check_url(&channel.id, url, &mut problems);
                    let Some(routing_key) = secret_from(
                        env,
                        &channel.id,
                        "routing key",
                        routing_key_env,
                        &mut problems,
                    ) else {
                        continue;
                    };
                    Target::PagerDuty {
                        url: url.clone(),
                        routing_key,
                    }
                }
            };
            if targets
                .insert(channel.id.clone(), Arc::new(target))
                .is_some()
            {
                problems.push(format!("channel {:?} is defined twice", channel.id));
            }
        }
        if settings.max_in_flight == 0 || settings.max_in_flight_per_channel == 0 {
            problems.push("requests in flight must be allowed (limits of 0)".to_string());
        }
        if !problems.is_empty() {
            return Err(DelivererError::Channels(problems));
        }

        // Already installed (by another part of the server) is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(settings.connect_timeout)
            // A redirect is a failed attempt: the signed body goes only where it was meant to.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("nines/", env!("CARGO_PKG_VERSION")));
        if let Some(proxy) = &settings.proxy {
            let proxy = reqwest::Proxy::all(proxy)
                .map_err(|err| DelivererError::Client(format!("proxy {proxy:?}: {err}")))?;
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|err| DelivererError::Client(error_chain(&err)))?;
        Ok(Deliverer {
            client,
            targets,
            permits: Arc::new(Semaphore::new(settings.max_in_flight)),
            settings,
            counters: Arc::new(DeliveryCounters::default()),
            barriers: Mutex::new(HashMap::new()),
        })
    }

    pub fn counters(&self) -> Arc<DeliveryCounters> {
        Arc::clone(&self.counters)
    }

    fn barriers(&self) -> MutexGuard<'_, HashMap<StreamKey, Barrier>> {
        // The map stays consistent whatever panicked while holding it: every change is one
        // insert or remove.
        self.barriers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The failed older message of the same alert that `row` must wait for, if any.
    fn barrier_before(&self, stream: &StreamKey, row: &OutboxRow) -> Option<Barrier> {
        self.barriers()
            .get(stream)
            .copied()
            .filter(|barrier| barrier.is_older_than(row))
    }

    fn hold_stream(&self, row: &OutboxRow, next_attempt_ms: i64) {
        let stream = (row.channel.clone(), stream_of(row));
        let mut barriers = self.barriers();
        let older_exists = barriers
            .get(&stream)
            .is_some_and(|barrier| barrier.is_older_than(row));
        if !older_exists {
            barriers.insert(
                stream,
                Barrier {
                    id: row.id,
                    created_ms: row.created_ms,
                    next_attempt_ms,
                },
            );
        }
    }

    fn release_stream(&self, row: &OutboxRow) {
        let stream = (row.channel.clone(), stream_of(row));
        let mut barriers = self.barriers();
        if barriers
            .get(&stream)
            .is_some_and(|barrier| barrier.id == row.id)
        {
            barriers.remove(&stream);
        }
    }

    /// One pass: reads the messages due at `now_ms` and attempts them concurrently (at most
    /// `max_in_flight`, and `max_in_flight_per_channel` per channel), marking each as its
    /// attempt ends, so a slow channel delays no other channel's marks. Returns when every
    /// attempt of the pass ended (at most the request timeout). Times written are `now_ms`
    /// (delivered) and `now_ms` plus the backoff (retry).
    pub async fn deliver_due(&self, store: &dyn Store, now_ms: i64) -> DeliveryStats {
        let mut stats = DeliveryStats::default();
        let due = match store.due_messages(now_ms, self.settings.batch_limit).await {
            Ok(due) => due,
            Err(err) => {
                tracing::warn!(error = %err, "reading due notifications failed");
                stats.store_errors += 1;
                return stats;
            }
        };
        stats.due = due.len();
        self.barriers()
            .retain(|_, barrier| barrier.next_attempt_ms.saturating_add(BARRIER_GRACE_MS) > now_ms);

        let mut per_channel: HashMap<String, usize> = HashMap::new();
        // Of several due messages of one alert on one channel (fired, then resolved), only the
        // oldest goes in a pass, so a receiver sees them in order when nothing fails.
        let mut streams: HashSet<(String, String)> = HashSet::new();
        let mut attempts = JoinSet::new();
        for row in due {
            let Some(target) = self.targets.get(&row.channel) else {
                self.unknown_channel(store, &row, now_ms, &mut stats).await;
                continue;
            };
            let stream = (row.channel.clone(), stream_of(&row));
            if let Some(barrier) = self.barrier_before(&stream, &row) {
                stats.deferred += 1;
                if barrier.next_attempt_ms > now_ms {
                    self.wait_for(store, &row, barrier, &mut stats).await;
                }
                continue;
            }
            let in_channel = per_channel.entry(row.channel.clone()).or_default();
            if streams.contains(&stream) || *in_channel >= self.settings.max_in_flight_per_channel {
                stats.deferred += 1;
                continue;
            }
            let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
                stats.deferred += 1;
                continue;
            };
            *in_channel += 1;
            streams.insert(stream);
            let client = self.client.clone();
            let target = Arc::clone(target);
            let timeout = self.settings.request_timeout;
            attempts.spawn(async move {
                let outcome = attempt(&client, &target, &row, now_ms, timeout).await;
                drop(permit);
                (row, outcome)
            });
        }

        while let Some(joined) = attempts.join_next().await {
            match joined {
                Ok((row, outcome)) => self.record(store, &row, outcome, now_ms, &mut stats).await,
                // The message stays due and is tried again next pass.
                Err(err) => tracing::error!(error = %err, "delivery attempt task failed"),
            }
        }
        stats
    }

    async fn record(
        &self,
        store: &dyn Store,
        row: &OutboxRow,
        outcome: Result<(), String>,
        now_ms: i64,
        stats: &mut DeliveryStats,
    ) {
        match outcome {
            Ok(()) => {
                self.release_stream(row);
                stats.delivered += 1;
                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(channel = %row.channel, key = %row.idempotency_key, attempts = row.attempts + 1, "notification delivered");
                if let Err(err) = store.mark_delivered(row.id, now_ms).await {
                    stats.store_errors += 1;
                    tracing::warn!(channel = %row.channel, key = %row.idempotency_key, error = %err, "marking a notification delivered failed; it will be sent again");
                }
            }
            Err(error) => {
                let delay = self.settings.backoff.delay(row.attempts, random_unit());
                let next_attempt_ms = self.retry(store, row, delay, &error, now_ms, stats).await;
                self.hold_stream(row, next_attempt_ms);
            }
        }
    }

    /// Puts `row` off until the older message of its alert is tried again (not an attempt).
    async fn wait_for(
        &self,
        store: &dyn Store,
        row: &OutboxRow,
        barrier: Barrier,
        stats: &mut DeliveryStats,
    ) {
        let error = format!(
            "waiting for the older message {} of the same alert to be delivered first",
            barrier.id
        );
        if let Err(err) = store
            .mark_retry(row.id, row.attempts, barrier.next_attempt_ms, &error)
            .await
        {
            stats.store_errors += 1;
            tracing::warn!(channel = %row.channel, key = %row.idempotency_key, error = %err, "putting off a notification failed");
        }
    }

    async fn unknown_channel(
        &self,
        store: &dyn Store,
        row: &OutboxRow,
        now_ms: i64,
        stats: &mut DeliveryStats,
    ) {
        let error = format!(
            "unknown channel {:?}: it is not in the configuration (removed or renamed?)",
            row.channel
        );
        self.retry(
            store,
            row,
            self.settings.unknown_channel_retry,
            &error,
            now_ms,
            stats,
        )
        .await;
    }

    async fn retry(
        &self,
        store: &dyn Store,
        row: &OutboxRow,
        delay: Duration,
        error: &str,
        now_ms: i64,
        stats: &mut DeliveryStats,
    ) -> i64 {
        stats.failed += 1;
        self.counters
            .failed_attempts
            .fetch_add(1, Ordering::Relaxed);
        let attempts = row.attempts.saturating_add(1);
        let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        let next_attempt_ms = now_ms.saturating_add(delay_ms);
        tracing::warn!(channel = %row.channel, key = %row.idempotency_key, attempts, retry_in_ms = delay_ms, error = %error, "delivery failed");
        if let Err(err) = store
            .mark_retry(row.id, attempts, next_attempt_ms, error)
            .await
        {
            stats.store_errors += 1;
            tracing::warn!(channel = %row.channel, key = %row.idempotency_key, error = %err, "recording a failed delivery failed");
        }
        next_attempt_ms
    }

    /// Delivers due messages every [`PASS_INTERVAL`] until `shutdown` turns true (or its sender
    /// is dropped). A pass in progress is finished first (at most the request timeout).
    pub async fn run(self, store: Arc<dyn Store>, mut shutdown: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(PASS_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                _ = ticks.tick() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    continue;
                }
            }
            let now_ms = jiff::Timestamp::now().as_millisecond();
            let stats = self.deliver_due(store.as_ref(), now_ms).await;
            if stats.due > 0 {
                tracing::debug!(
                    due = stats.due,
                    delivered = stats.delivered,
                    failed = stats.failed,
                    deferred = stats.deferred,
                    "delivery pass"
                );
            }
        }
    }
}

/// The value of a channel's secret environment variable; a missing or empty one is a problem.
fn secret_from(
    env: &HashMap<String, String>,
    channel: &str,
    what: &str,
    name: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    match env.get(name) {
        Some(value) if !value.is_empty() => Some(value.clone()),
        Some(_) => {
            problems.push(format!(
                "channel {channel:?}: {what} environment variable {name} is empty"
            ));
            None
        }
        None => {
            problems.push(format!(
                "channel {channel:?}: {what} environment variable {name} is not set"
            ));
            None
        }
    }
}

fn check_url(channel: &str, url: &str, problems: &mut Vec<String>) {
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
        Ok(parsed) => problems.push(format!(
            "channel {channel:?}: url {url:?} has scheme {:?}; expected http or https",
            parsed.scheme()
        )),
        Err(err) => problems.push(format!("channel {channel:?}: url {url:?}: {err}")),
    }
}

/// The alert or page a message is about, from its idempotency key: `{slo}:{kind}` of an alert
/// key `{slo}:{kind}:{severity}:{change}:{at_ms}:{channel}` (both severities of one alert share
/// a stream: a superseded ticket's resolve goes before the page's trigger, which matters where
/// they share an incident, as on PagerDuty), `page:{page_id}` of a page key
/// `page:{page_id}:{event}:{round}:{step}:{person}:{at_ms}:{channel}`. The SLO id may hold `:`;
/// the fields after it are told apart by their values.
fn stream_of(row: &OutboxRow) -> String {
    let key = &row.idempotency_key;
    let without_channel = key
        .strip_suffix(row.channel.as_str())
        .and_then(|rest| rest.strip_suffix(':'))
        .unwrap_or(key);
    let mut parts = without_channel.rsplitn(5, ':');
    let _at_ms = parts.next();
    let change = parts.next();
    let severity = parts.next();
    let kind = parts.next();
    let slo = parts.next();
    let is_alert_key = matches!(change, Some("fired" | "resolved" | "superseded"))
        && matches!(severity, Some("page" | "ticket"))
        && matches!(kind, Some("burn_rate" | "no_data"));
    match (is_alert_key, slo, kind) {
        (true, Some(slo), Some(kind)) => format!("{slo}:{kind}"),
        _ => page::page_stream(without_channel).unwrap_or_else(|| without_channel.to_string()),
    }
}

/// One HTTP attempt; `Err` holds the text for `last_error`.
async fn attempt(
    client: &reqwest::Client,
    target: &Target,
    row: &OutboxRow,
    now_ms: i64,
    timeout: Duration,
) -> Result<(), String> {
    let json_post = |url: &str| {
        client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_KEY_HEADER, &row.idempotency_key)
    };
    let (request, body) = match target {
        Target::Webhook { url, secret } => {
            let mut request = json_post(url);
            if let Some(secret) = secret {
                request = request
                    .header(SIGNATURE_HEADER, signature(secret, row.payload.as_bytes()))
                    .header(TIMESTAMP_HEADER, (now_ms.div_euclid(1000)).to_string());
            }
            (request, row.payload.clone())
        }
        Target::Alertmanager { alerts_url } => (json_post(alerts_url), row.payload.clone()),
        Target::Slack { url } => (json_post(url), row.payload.clone()),
        Target::PagerDuty { url, routing_key } => (
            json_post(url),
            pagerduty::with_routing_key(&row.payload, routing_key)?,
        ),
        // lettre's timeout is per command: the whole exchange is bounded here.
        Target::Email(email) => {
            return match tokio::time::timeout(timeout, email.send(row)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("timed out after {timeout:?}")),
            };
        }
    };
    let mut response = match request.body(body).send().await {
        Ok(response) => response,
        Err(err) if err.is_timeout() => return Err(format!("timed out after {timeout:?}")),
        Err(err) => return Err(error_chain(&err)),
    };
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(ERROR_BODY_LIMIT);
    let body = String::from_utf8_lossy(&body);
    let body = body.trim();
    let mut error = if body.is_empty() {
        format!("http status {status}")
    } else {
        format!("http status {status}: {body}")
    };
    if matches!(target, Target::PagerDuty { .. }) && status == reqwest::StatusCode::BAD_REQUEST {
        error.push_str(" (PagerDuty refused the event as invalid; retried with backoff)");
    }
    Err(error)
}

/// An error with its causes (`reqwest` keeps the useful part, such as "connection refused", in
/// the sources).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;
