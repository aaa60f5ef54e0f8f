//! The validated model every format is read into: services and SLOs, with where each came from.

use std::collections::BTreeMap;
use std::fmt;

use nines_core::SloSpec;
use nines_core::oncall::directory::Directory;
use nines_core::oncall::escalation::EscalationPolicy;
use nines_core::oncall::route::Route;
use nines_core::oncall::silence::MaintenanceWindow;

/// A stable SLO id: 1 to 128 of `a-z A-Z 0-9 - _ . :`. Budget history follows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SloId(String);

impl SloId {
    pub fn new(text: &str) -> Result<SloId, String> {
        if text.is_empty() || text.len() > 128 {
            return Err(format!("id {text:?} must be 1 to 128 characters"));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
        {
            return Err(format!(
                "id {text:?} has {bad:?}; use letters, digits, '-', '_', '.' and ':'"
            ));
        }
        Ok(SloId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SloId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which format a definition was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Native,
    SlothPrometheusV1,
    SlothKubernetes,
    OpenSloV1Alpha,
    OpenSloV1,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Native => "nines/v1",
            Format::SlothPrometheusV1 => "prometheus/v1",
            Format::SlothKubernetes => "sloth.slok.dev/v1",
            Format::OpenSloV1Alpha => "openslo/v1alpha",
            Format::OpenSloV1 => "openslo/v1",
        }
    }
}

/// Where a definition is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: usize,
    /// Field path of the definition inside its document (`slos[2]`).
    pub path: String,
    pub format: Format,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub id: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// The owning team.
    pub owner: Option<String>,
    /// 1 is the most critical.
    pub tier: Option<u8>,
    pub runbooks: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// PromQL for the golden signals nines cannot count itself (native `signals:`).
    pub signals: Option<ServiceSignals>,
    /// Shown as a component of the public status page (`status_page: false` keeps an
    /// internal service off it).
    pub status_page: bool,
    pub origin: Origin,
}

/// A service's golden signals as a Prometheus source tells them, shown on its SLOs' pages.
/// Every query is used as written; the web UI asks for it over the range a page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSignals {
    /// The Prometheus source asked (`sources[].id`).
    pub source: String,
    /// Requests per second.
    pub traffic: Option<String>,
    /// The share of requests that fail (0 to 1).
    pub errors: Option<String>,
    /// A histogram's `_bucket` series selector: nines asks for p50, p95 and p99 with
    /// `histogram_quantile(q, sum by (le) (rate(<latency>[5m])))`.
    pub latency: Option<String>,
    /// How full the service is (0 to 1), such as memory used over its limit.
    pub saturation: Option<String>,
}

/// How an SLO's good/bad/total events are measured.
#[derive(Debug, Clone, PartialEq)]
pub enum Sli {
    /// PromQL templates with `{{.window}}` (Sloth `events`): errors (or good) and total.
    EventQueries {
        errors: Option<String>,
        good: Option<String>,
        total: String,
    },
    /// One PromQL template with `{{.window}}` giving the error ratio (Sloth `raw`).
    RawErrorRatio { error_ratio: String },
    /// Counter series selectors (native `ratio`): `http_requests_total{job="api"}`. Intake
    /// matches pushed samples against them; rule generation wraps them in `rate()`.
    Counters {
        good: Option<String>,
        bad: Option<String>,
        total: String,
    },
    /// Share of requests under a threshold, from a histogram's `_bucket` series.
    Latency {
        histogram: String,
        threshold_seconds: f64,
    },
    /// Instant PromQL queries over counters (OpenSLO v1 `ratioMetric` with a Prometheus source).
    Queries {
        good: Option<String>,
        bad: Option<String>,
        total: String,
    },
    /// A value compared against a threshold per time slice (OpenSLO v1 `thresholdMetric`).
    Threshold {
        query: String,
        op: ThresholdOp,
        value: f64,
    },
    /// A metric source nines cannot query (Datadog, CloudWatch...): read and kept, not run.
    External {
        source_type: String,
        detail: BTreeMap<String, String>,
    },
    /// Fed by pushed events (the JSON API), no query.
    Pushed,
    /// Fed by nines' own HTTP probe: each check is one event, bad when the status is not the
    /// expected one or the response is slower than the threshold.
    Probe(Probe),
}

impl Sli {
    /// Whether the SLI is PromQL that nines evaluates against a data source (its data is not
    /// pushed): Sloth events and raw ratios, OpenSLO ratio and threshold queries.
    pub fn is_query(&self) -> bool {
        matches!(
            self,
            Sli::EventQueries { .. }
                | Sli::RawErrorRatio { .. }
                | Sli::Queries { .. }
                | Sli::Threshold { .. }
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdOp {
    Lt,
    Lte,
    Gt,
    Gte,
}

/// Labels and annotations of one severity's generated alert (Sloth `page_alert`/`ticket_alert`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertMeta {
    pub disable: bool,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// How alerts for an SLO are named and labelled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertingMeta {
    /// Alert name in generated rules.
    pub name: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub page: AlertMeta,
    pub ticket: AlertMeta,
}

/// Kubernetes object metadata, for CRD input that becomes a `PrometheusRule`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KubernetesMeta {
    pub name: String,
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SloDef {
    pub id: SloId,
    /// The SLO's own name (Sloth's `name`); `id` is `service-name` for Sloth specs.
    pub name: String,
    pub service: String,
    pub description: Option<String>,
    /// The user journey this SLO protects.
    pub journey: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub spec: SloSpec,
    /// False when the window came from a default (`--default-slo-period`) rather than the file.
    pub window_from_file: bool,
    pub sli: Sli,
    /// The data source the SLI is pulled from (`sources[].id`), or none when its data is pushed
    /// (intake, probes). Query SLIs without a source of their own take the default source.
    pub source: Option<String>,
    pub alerting: AlertingMeta,
    pub budget_policy: Option<String>,
    pub runbook: Option<String>,
    pub kubernetes: Option<KubernetesMeta>,
    pub origin: Origin,
}

/// What an error-budget policy does when the budget runs low.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetPolicy {
    pub id: String,
    pub rules: Vec<BudgetPolicyRule>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BudgetPolicyRule {
    /// Applies while the remaining budget share is at or below this (0.25 = 25% left).
    pub remaining_at_most: f64,
    pub action: BudgetAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetAction {
    /// Tell the owners.
    Notify,
    /// Deploys need an approver.
    RequireApproval,
    /// No deploys but fixes for reliability.
    FreezeDeploys,
}

/// Where notifications go.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub id: String,
    pub kind: ChannelKind,
    /// Only SLO alerts of these severities (both when empty). Pages are addressed to a channel
    /// by the pager (a person's contact, a policy target) and are not filtered here.
    pub severities: Vec<nines_core::Severity>,
    /// Whether SLO alert notices go to this channel (default true); `false`: only pages
    /// addressed to it.
    pub alerts: bool,
    /// Custom templates (minijinja sources, checked for syntax at load); `None` takes the
    /// default.
    pub templates: ChannelTemplates,
    pub origin: Origin,
}

impl Channel {
    /// The environment variables this channel reads its secrets from when the server starts.
    pub fn secret_envs(&self) -> Vec<&str> {
        match &self.kind {
            ChannelKind::Webhook { secret_env, .. } => {
                secret_env.iter().map(String::as_str).collect()
            }
            ChannelKind::Alertmanager { .. } => Vec::new(),
            ChannelKind::Slack { url_env } => vec![url_env.as_str()],
            ChannelKind::Email { smtp, .. } => {
                smtp.password_env.iter().map(String::as_str).collect()
            }
            ChannelKind::PagerDuty {
                routing_key_env, ..
            } => vec![routing_key_env.as_str()],
        }
    }
}

/// The minijinja sources of a channel's message parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelTemplates {
    /// One line: Slack header, email subject, PagerDuty summary, webhook `title`.
    pub title: Option<String>,
    /// The body: Slack section (mrkdwn), email text, PagerDuty `custom_details.text`.
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChannelKind {
    /// A JSON POST, signed with HMAC-SHA256 when a secret is set; the secret is read from the
    /// environment variable named here when the server starts, never written in a file.
    Webhook {
        url: String,
        secret_env: Option<String>,
    },
    /// Alertmanager's `/api/v2/alerts` at `url` (its base URL).
    Alertmanager { url: String },
    /// A Slack incoming webhook; its URL is a secret, read from `url_env` at start.
    Slack { url_env: String },
    /// Email over SMTP.
    Email {
        smtp: SmtpSettings,
        /// The sender mailbox, e.g. `nines <nines@example.com>`.
        from: String,
        /// Recipients of SLO alert notices (none: the channel takes no alert notices); pages
        /// go to the contact address of the person paged.
        to: Vec<String>,
    },
    /// PagerDuty Events API v2; the routing key is read from `routing_key_env` at start and
    /// never stored.
    PagerDuty {
        routing_key_env: String,
        /// The enqueue endpoint ([`PAGERDUTY_EVENTS_URL`] by default).
        url: String,
    },
}

impl ChannelKind {
    /// `webhook`, `alertmanager`, `slack`, `email` or `pagerduty` (the `type` in files).
    pub fn name(&self) -> &'static str {
        match self {
            ChannelKind::Webhook { .. } => "webhook",
            ChannelKind::Alertmanager { .. } => "alertmanager",
            ChannelKind::Slack { .. } => "slack",
            ChannelKind::Email { .. } => "email",
            ChannelKind::PagerDuty { .. } => "pagerduty",
        }
    }
}

/// PagerDuty's Events API v2 enqueue endpoint, the default `url` of a pagerduty channel.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// How an email channel reaches its SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    /// 587 by default.
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    /// The password's environment variable (read at start), with `username`.
    pub password_env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which is required (the default, port 587).
    StartTls,
    /// TLS from the first byte (implicit TLS, port 465).
    Tls,
    /// No encryption (a relay on the same host or network only).
    None,
}

/// Where SLI data is pulled from.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub id: String,
    pub kind: SourceKind,
    /// Query SLIs that name no source (Sloth specs, OpenSLO without a matching DataSource) use
    /// the default one: the source marked `default: true`, or the only source there is.
    pub default: bool,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    Prometheus(PrometheusSource),
}

/// A Prometheus-compatible HTTP API (Prometheus, Thanos Query, Mimir, Cortex, VictoriaMetrics).
#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusSource {
    /// Base URL: queries go to `{url}/api/v1/query_range` (Mimir: `http://mimir/prometheus`).
    pub url: String,
    pub auth: Option<SourceAuth>,
    /// Extra request headers, such as `X-Scope-OrgID` for Mimir and Cortex.
    pub headers: BTreeMap<String, String>,
    /// Longest wait for one query (default 30s).
    pub timeout: nines_core::Span,
    /// How long after a minute ends before it is pulled, so that late scrapes and remote
    /// writes are in (default 1m).
    pub delay: nines_core::Span,
    /// Range of one backfill query (default 1d; Prometheus answers at most 11,000 points).
    pub chunk: nines_core::Span,
    /// SLOs pulled at once (default 8).
    pub concurrency: u32,
}

/// Credentials, read from the environment when the server starts, never written in a file.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceAuth {
    Basic {
        username: String,
        password_env: String,
    },
    Bearer {
        token_env: String,
    },
}

/// An HTTP probe that feeds an SLO of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub url: String,
    pub interval: nines_core::Span,
    pub timeout: nines_core::Span,
    pub expected_status: u16,
    /// A response slower than this counts as bad.
    pub latency_threshold: Option<nines_core::Span>,
}

/// On-call configuration: who is paged, how pages find them and what keeps them quiet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OnCall {
    pub directory: Directory,
    pub escalation_policies: Vec<EscalationPolicy>,
    /// The root of the routing tree; None when no file has `routes:` (a page then goes to the
    /// escalation policy of the team owning its `service`).
    pub routes: Option<Route>,
    pub maintenance: Vec<MaintenanceWindow>,
    pub heartbeats: Vec<Heartbeat>,
    pub integrations: Vec<Integration>,
    /// Where each definition of the core types above is written, for messages.
    pub origins: OnCallOrigins,
}

impl OnCall {
    pub fn escalation_policy(&self, id: &str) -> Option<&EscalationPolicy> {
        self.escalation_policies
            .iter()
            .find(|policy| policy.id == id)
    }

    pub fn heartbeat(&self, id: &str) -> Option<&Heartbeat> {
        self.heartbeats.iter().find(|heartbeat| heartbeat.id == id)
    }

    pub fn integration(&self, id: &str) -> Option<&Integration> {
        self.integrations
            .iter()
            .find(|integration| integration.id == id)
    }

    /// Whether any file configures paging (escalation policies or routes).
    pub fn pages(&self) -> bool {
        !self.escalation_policies.is_empty() || self.routes.is_some()
    }
}

/// Where the on-call definitions that are core types (with no origin of their own) are written,
/// by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OnCallOrigins {
    pub people: BTreeMap<String, Origin>,
    pub teams: BTreeMap<String, Origin>,
    pub schedules: BTreeMap<String, Origin>,
    pub escalation_policies: BTreeMap<String, Origin>,
    pub maintenance: BTreeMap<String, Origin>,
    pub routes: Option<Origin>,
}

/// A job that must check in every `interval`: when no ping came for `interval + grace`, it
/// fires an alert (labels `alertname="HeartbeatMissing"`, `heartbeat`, `service` and its own)
/// that is routed and paged like any other.
#[derive(Debug, Clone, PartialEq)]
pub struct Heartbeat {
    pub id: String,
    /// The service the job belongs to (its owner team's policy pages when no route names one).
    pub service: Option<String>,
    pub interval: nines_core::Span,
    /// Lateness tolerated after `interval` before the alert fires (default 5m).
    pub grace: nines_core::Span,
    pub labels: BTreeMap<String, String>,
    pub runbook: Option<String>,
    pub origin: Origin,
}

/// A PagerDuty Events v2 routing key nines accepts on its PagerDuty-compatible endpoint; the
/// alerts it brings get `labels` added.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    pub id: String,
    pub key: IntegrationKey,
    pub labels: BTreeMap<String, String>,
    pub origin: Origin,
}

/// Where an integration's routing key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntegrationKey {
    /// Written in the file (routing keys select a route, they are not credentials of nines).
    Literal(String),
    /// Read from this environment variable when the server starts.
    Env(String),
}

/// Everything read from a set of files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub services: Vec<Service>,
    pub slos: Vec<SloDef>,
    pub budget_policies: Vec<BudgetPolicy>,
    pub channels: Vec<Channel>,
    pub sources: Vec<Source>,
    /// People, teams, schedules, escalation, routing, maintenance, heartbeats and integrations.
    pub oncall: OnCall,
    /// Severity rubric, rules that open incidents from pages, postmortem template.
    pub incidents: crate::incidents::IncidentConfig,
}

impl Catalog {
    pub fn slo(&self, id: &str) -> Option<&SloDef> {
        self.slos.iter().find(|slo| slo.id.as_str() == id)
    }

    /// Minutes of history the SLO that needs the most keeps (0 without SLOs).
    pub fn longest_retention_minutes(&self) -> i64 {
        self.slos
            .iter()
            .map(|slo| slo.spec.retention_minutes())
            .max()
            .unwrap_or(0)
    }

    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|source| source.id == id)
    }

    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|service| service.id == id)
    }
}
