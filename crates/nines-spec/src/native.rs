//! The native nines format (`version: nines/v1`): services, SLOs with their own window and
//! budgeting method, named alert policies and error-budget policies, notification channels,
//! the data sources SLIs are pulled from, and on-call (people, teams, schedules, escalation,
//! routes, maintenance, heartbeats, integrations: read in `oncall.rs`).
//!
//! A service may carry `signals:`, PromQL for the golden signals nines cannot count itself
//! (traffic, errors, latency from a histogram's `_bucket` series, saturation), asked of one
//! Prometheus source as written when a page shows them. Each query must parse and give an
//! instant vector or a scalar; `latency` must be a plain series selector without `le`.
//! `status_page: false` keeps a service off the public status page's components.
//!
//! A file may hold any of the sections; references (an SLO's service, alert policy, budget
//! policy and source, a service's owner team and signals' source) are resolved across every
//! file once all are read.

use std::collections::{BTreeMap, BTreeSet};

use jiff::tz::TimeZone;
use nines_core::{
    AlertPolicy, BudgetingMethod, BurnRatePair, CalendarUnit, CalendarWindow, CountKind,
    NoDataRule, Objective, Ratio, Severity, SloSpec, Span, Window,
};
use serde::Deserialize;
use yaml_serde::Value;

use crate::catalog::{
    AlertMeta, AlertingMeta, BudgetAction, BudgetPolicy, BudgetPolicyRule, Channel, ChannelKind,
    ChannelTemplates, Format, Origin, Probe, PrometheusSource, Service, ServiceSignals, Sli,
    SloDef, SloId, SmtpSettings, SmtpTls, Source, SourceAuth, SourceKind,
};
use crate::yaml::{join_index, join_key};
use crate::{LoadContext, SourceDoc, datasource, oncall, promql};

/// Definitions read so far whose references wait for every file.
#[derive(Debug, Default)]
pub struct Pending {
    slos: Vec<PendingSlo>,
    alert_policies: BTreeMap<String, (AlertPolicy, Origin)>,
    /// On-call definitions, teams among them.
    pub(crate) oncall: oncall::Pending,
    owners: Vec<(String, SourceDoc, String)>,
    /// Ids of sources read with errors (and reported): an SLO naming one is not reported again.
    broken_sources: BTreeSet<String>,
    /// Services' `signals:`, whose source is checked once every file is read.
    signals: Vec<PendingSignals>,
    /// OpenSLO DataSources that did not become sources (another type, or no URL), by name with
    /// their type: a service's `signals.source` naming one is told why it cannot be queried.
    pub(crate) unqueried_data_sources: BTreeMap<String, String>,
}

#[derive(Debug)]
struct PendingSignals {
    service: String,
    source: String,
    doc: SourceDoc,
    /// Path of the `signals` block.
    path: String,
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
    services: Vec<Value>,
    #[serde(default)]
    alert_policies: Vec<Value>,
    #[serde(default)]
    budget_policies: Vec<Value>,
    #[serde(default)]
    slos: Vec<Value>,
    #[serde(default)]
    channels: Vec<Value>,
    #[serde(default)]
    sources: Vec<Value>,
    // On-call (`oncall.rs`).
    #[serde(default)]
    people: Vec<Value>,
    #[serde(default)]
    teams: Vec<Value>,
    #[serde(default)]
    schedules: Vec<Value>,
    #[serde(default)]
    escalation_policies: Vec<Value>,
    #[serde(default)]
    routes: Option<Value>,
    #[serde(default)]
    maintenance: Vec<Value>,
    #[serde(default)]
    heartbeats: Vec<Value>,
    #[serde(default)]
    integrations: Vec<Value>,
    /// Severity rubric, rules that open incidents, postmortem template (`incidents.rs`).
    #[serde(default)]
    incidents: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    id: String,
    kind: String,
    url: String,
    #[serde(default)]
    auth: Option<Value>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    delay: Option<String>,
    #[serde(default)]
    chunk: Option<String>,
    #[serde(default)]
    concurrency: Option<u32>,
    #[serde(default)]
    default: bool,
}

/// `auth`: exactly one of the two.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSourceAuth {
    #[serde(default)]
    bearer_token_env: Option<String>,
    #[serde(default)]
    basic: Option<RawBasicAuth>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBasicAuth {
    username: String,
    password_env: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    secret_env: Option<String>,
    #[serde(default)]
    severities: Vec<String>,
    #[serde(default)]
    alerts: Option<bool>,
    #[serde(default)]
    templates: Option<RawChannelTemplates>,
    /// slack
    #[serde(default)]
    url_env: Option<String>,
    /// email
    #[serde(default)]
    smtp: Option<RawSmtp>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<Vec<String>>,
    /// pagerduty
    #[serde(default)]
    routing_key_env: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannelTemplates {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: String,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    tls: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password_env: Option<String>,
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
    /// Read on its own (`RawSignals`), so that a problem in it leaves the service defined.
    #[serde(default)]
    signals: Option<Value>,
    #[serde(default)]
    status_page: Option<bool>,
}

/// `services[].signals`: PromQL for the golden signals nines cannot count itself.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignals {
    source: String,
    #[serde(default)]
    traffic: Option<String>,
    #[serde(default)]
    errors: Option<String>,
    #[serde(default)]
    latency: Option<String>,
    #[serde(default)]
    saturation: Option<String>,
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
    /// The data source the SLI is pulled from (`sources[].id`).
    #[serde(default)]
    source: Option<String>,
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
    oncall::read(
        doc,
        oncall::Sections {
            people: &file.people,
            teams: &file.teams,
            schedules: &file.schedules,
            escalation_policies: &file.escalation_policies,
            routes: file.routes.as_ref(),
            maintenance: &file.maintenance,
            heartbeats: &file.heartbeats,
            integrations: &file.integrations,
        },
        context,
    );
    if let Some(value) = &file.incidents {
        crate::incidents::read(doc, value, context);
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
    for (index, value) in file.sources.iter().enumerate() {
        read_source(doc, &join_index("sources", index), value, context);
    }
}

fn http_url(text: &str) -> bool {
    (text.starts_with("http://") || text.starts_with("https://")) && text.len() > "https://".len()
}

/// One item of `channels:`. Each kind takes its own fields; a field of another kind, a missing
/// one or a template that does not parse is a located error, and the channel is left out.
pub(crate) fn read_channel(doc: &SourceDoc, path: &str, value: &Value, context: &mut LoadContext) {
    let Some(raw) = doc.decode::<RawChannel>(value, path, &mut context.report) else {
        return;
    };
    let field = |name: &str| join_key(path, name);
    // (field path, message) of every problem, reported together at the end.
    let mut problems: Vec<(String, String)> = Vec::new();
    if context
        .catalog
        .channels
        .iter()
        .any(|channel| channel.id == raw.id)
    {
        problems.push((field("id"), format!("duplicate channel id {:?}", raw.id)));
    }

    // Which optional fields each kind takes (besides id, type, severities, alerts, templates).
    let given: [(&str, bool); 7] = [
        ("url", raw.url.is_some()),
        ("secret_env", raw.secret_env.is_some()),
        ("url_env", raw.url_env.is_some()),
        ("smtp", raw.smtp.is_some()),
        ("from", raw.from.is_some()),
        ("to", raw.to.is_some()),
        ("routing_key_env", raw.routing_key_env.is_some()),
    ];
    let takes: &[&str] = match raw.kind.as_str() {
        "webhook" => &["url", "secret_env"],
        "alertmanager" => &["url"],
        "slack" => &["url_env"],
        "email" => &["smtp", "from", "to"],
        "pagerduty" => &["routing_key_env", "url"],
        other => {
            problems.push((
                field("type"),
                format!(
                    "unknown channel type {other:?}: expected webhook, alertmanager, slack, email or pagerduty"
                ),
            ));
            &[]
        }
    };
    if !takes.is_empty() {
        for (name, present) in given {
            if present && !takes.contains(&name) {
                let hint = match (raw.kind.as_str(), name) {
                    ("slack", "url") => {
                        " (the incoming-webhook URL is a secret: name its environment variable in url_env)"
                    }
                    ("pagerduty", "secret_env") => " (the routing key comes from routing_key_env)",
                    _ => "",
                };
                problems.push((
                    field(name),
                    format!("{} channels take no {name}{hint}", raw.kind),
                ));
            }
        }
    }
    let required =
        |name: &str, value: Option<&str>, problems: &mut Vec<(String, String)>| match value {
            None => {
                problems.push((
                    path.to_string(),
                    format!("{} channels need {name}", raw.kind),
                ));
                None
            }
            Some(text) if text.trim().is_empty() => {
                problems.push((field(name), format!("{name} must not be empty")));
                None
            }
            Some(text) => Some(text.to_string()),
        };
    let check_url = |url: &str, problems: &mut Vec<(String, String)>| {
        if !http_url(url) {
            problems.push((field("url"), format!("{url:?} is not an http(s) URL")));
        }
    };
    let kind = match raw.kind.as_str() {
        "webhook" => required("url", raw.url.as_deref(), &mut problems).map(|url| {
            check_url(&url, &mut problems);
            ChannelKind::Webhook {
                url,
                secret_env: raw.secret_env.clone(),
            }
        }),
        "alertmanager" => required("url", raw.url.as_deref(), &mut problems).map(|url| {
            check_url(&url, &mut problems);
            ChannelKind::Alertmanager { url }
        }),
        "slack" => required("url_env", raw.url_env.as_deref(), &mut problems)
            .map(|url_env| ChannelKind::Slack { url_env }),
        "pagerduty" => {
            let url = raw
                .url
                .clone()
                .unwrap_or_else(|| crate::catalog::PAGERDUTY_EVENTS_URL.to_string());
            check_url(&url, &mut problems);
            required(
                "routing_key_env",
                raw.routing_key_env.as_deref(),
                &mut problems,
            )
            .map(|routing_key_env| ChannelKind::PagerDuty {
                routing_key_env,
                url,
            })
        }
        "email" => read_email_channel(path, &raw, &mut problems),
        _ => None,
    };

    let mut severities = Vec::new();
    // severity_at reports its own problems.
    let mut severity_failed = false;
    for (index, text) in raw.severities.iter().enumerate() {
        match severity_at(
            doc,
            &join_index(&join_key(path, "severities"), index),
            text,
            context,
        ) {
            Some(severity) => severities.push(severity),
            None => severity_failed = true,
        }
    }

    let mut templates = ChannelTemplates::default();
    if let Some(raw_templates) = &raw.templates {
        for (name, source, slot) in [
            ("title", &raw_templates.title, &mut templates.title),
            ("text", &raw_templates.text, &mut templates.text),
        ] {
            let Some(source) = source else { continue };
            match check_template(source) {
                Ok(()) => *slot = Some(source.clone()),
                Err(message) => problems.push((
                    join_key(&field("templates"), name),
                    format!("template {name}: {message}"),
                )),
            }
        }
    }

    let failed = severity_failed || !problems.is_empty();
    for (problem_path, message) in problems {
        context.report.push(doc.error(&problem_path, message));
    }
    if let (false, Some(kind)) = (failed, kind) {
        context.catalog.channels.push(Channel {
            id: raw.id,
            kind,
            severities,
            alerts: raw.alerts.unwrap_or(true),
            templates,
            origin: origin(doc, path),
        });
    }
}

fn read_email_channel(
    path: &str,
    raw: &RawChannel,
    problems: &mut Vec<(String, String)>,
) -> Option<ChannelKind> {
    let field = |name: &str| join_key(path, name);
    let Some(smtp) = &raw.smtp else {
        problems.push((path.to_string(), "email channels need smtp".to_string()));
        return None;
    };
    let smtp_field = |name: &str| join_key(&field("smtp"), name);
    let mut ok = true;
    if smtp.host.trim().is_empty() {
        problems.push((smtp_field("host"), "host must not be empty".to_string()));
        ok = false;
    }
    let tls = match smtp.tls.as_deref() {
        None | Some("starttls") => SmtpTls::StartTls,
        Some("tls") => SmtpTls::Tls,
        Some("none") => SmtpTls::None,
        Some(other) => {
            problems.push((
                smtp_field("tls"),
                format!("unknown tls mode {other:?}: expected starttls, tls or none"),
            ));
            ok = false;
            SmtpTls::StartTls
        }
    };
    if smtp.port == Some(0) {
        problems.push((smtp_field("port"), "port must be 1 to 65535".to_string()));
        ok = false;
    }
    if smtp.password_env.is_some() != smtp.username.is_some() {
        let (name, message) = match smtp.username {
            Some(_) => (
                "username",
                "a username needs password_env (its password's environment variable)",
            ),
            None => ("password_env", "password_env needs a username"),
        };
        problems.push((smtp_field(name), message.to_string()));
        ok = false;
    }
    let from = match &raw.from {
        None => {
            problems.push((path.to_string(), "email channels need from".to_string()));
            ok = false;
            String::new()
        }
        Some(from) => {
            if !looks_like_mailbox(from) {
                problems.push((
                    field("from"),
                    format!("{from:?} is not an email address (\"name <user@host>\" or user@host)"),
                ));
                ok = false;
            }
            from.clone()
        }
    };
    let to = raw.to.clone().unwrap_or_default();
    for (index, address) in to.iter().enumerate() {
        if !looks_like_mailbox(address) {
            problems.push((
                join_index(&field("to"), index),
                format!("{address:?} is not an email address"),
            ));
            ok = false;
        }
    }
    ok.then(|| ChannelKind::Email {
        smtp: SmtpSettings {
            host: smtp.host.clone(),
            port: smtp.port.unwrap_or(587),
            tls,
            username: smtp.username.clone(),
            password_env: smtp.password_env.clone(),
        },
        from,
        to,
    })
}

/// `user@host` or `name <user@host>` (the SMTP client checks the rest when the server starts).
fn looks_like_mailbox(text: &str) -> bool {
    let address = match (text.rfind('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        _ => text.trim(),
    };
    match address.split_once('@') {
        Some((user, host)) => {
            !user.is_empty()
                && !host.is_empty()
                && !address.contains(char::is_whitespace)
                && !host.contains('@')
        }
        None => false,
    }
}

/// Whether a minijinja template source parses; the message names what is wrong and where.
fn check_template(source: &str) -> Result<(), String> {
    let environment = minijinja::Environment::new();
    match environment.template_from_str(source) {
        Ok(_) => Ok(()),
        Err(err) => {
            let what = match err.detail() {
                Some(detail) => format!("{}: {detail}", err.kind()),
                None => err.kind().to_string(),
            };
            Err(match err.line() {
                Some(line) => format!("{what} (line {line} of the template)"),
                None => what,
            })
        }
    }
}

/// One item of `sources:`. A source with any problem is reported whole and left out.
fn read_source(doc: &SourceDoc, path: &str, value: &Value, context: &mut LoadContext) {
    let Some(raw) = doc.decode::<RawSource>(value, path, &mut context.report) else {
        if let Some(id) = value.get("id").and_then(Value::as_str) {
            context.native.broken_sources.insert(id.to_string());
        }
        return;
    };
    let field = |name: &str| join_key(path, name);
    // (field path, message) of every problem, reported together at the end.
    let mut problems: Vec<(String, String)> = Vec::new();
    if let Err(message) = SloId::new(&raw.id) {
        problems.push((field("id"), message));
    } else if let Some(first) = context.catalog.source(&raw.id) {
        problems.push((
            field("id"),
            format!(
                "duplicate source id {:?}: also defined at {}:{}",
                raw.id, first.origin.file, first.origin.line
            ),
        ));
    }
    if raw.kind != "prometheus" {
        problems.push((
            field("kind"),
            format!(
                "unknown source kind {:?}: expected prometheus (the only kind nines pulls from)",
                raw.kind
            ),
        ));
    }
    let url = datasource::check_url(&raw.url)
        .map_err(|message| problems.push((field("url"), message)))
        .unwrap_or_default();
    let mut auth_ok = true;
    let auth = match &raw.auth {
        None => None,
        Some(value) => {
            let auth = source_auth(doc, &field("auth"), value, &mut problems, context);
            auth_ok = auth.is_some();
            auth
        }
    };
    for (name, message) in datasource::check_headers(&raw.headers) {
        problems.push((join_key(&field("headers"), &name), message));
    }
    let mut span = |name: &str,
                    text: &Option<String>,
                    default: Span,
                    check: fn(Span) -> Result<(), String>| {
        let Some(text) = text else {
            return default;
        };
        let checked = Span::parse(text)
            .map_err(|err| err.to_string())
            .and_then(|span| check(span).map(|()| span));
        checked
            .map_err(|message| problems.push((field(name), message)))
            .unwrap_or(default)
    };
    let timeout = span(
        "timeout",
        &raw.timeout,
        datasource::DEFAULT_TIMEOUT,
        datasource::check_timeout,
    );
    let delay = span(
        "delay",
        &raw.delay,
        datasource::DEFAULT_DELAY,
        datasource::check_delay,
    );
    let chunk = span(
        "chunk",
        &raw.chunk,
        datasource::DEFAULT_CHUNK,
        datasource::check_chunk,
    );
    let concurrency = raw.concurrency.unwrap_or(datasource::DEFAULT_CONCURRENCY);
    if let Err(message) = datasource::check_concurrency(concurrency) {
        problems.push((field("concurrency"), message));
    }
    if raw.default
        && let Some(first) = context.catalog.sources.iter().find(|source| source.default)
    {
        problems.push((
            field("default"),
            format!(
                "source {:?} is the default, and so is {:?} ({}:{}): mark one source `default: true`",
                raw.id, first.id, first.origin.file, first.origin.line
            ),
        ));
    }
    if !problems.is_empty() || !auth_ok {
        for (field_path, message) in problems {
            context.report.push(doc.error(&field_path, message));
        }
        context.native.broken_sources.insert(raw.id);
        return;
    }
    context.catalog.sources.push(Source {
        id: raw.id,
        kind: SourceKind::Prometheus(PrometheusSource {
            url,
            auth,
            headers: raw.headers,
            timeout,
            delay,
            chunk,
            concurrency,
        }),
        default: raw.default,
        origin: origin(doc, path),
    });
}

/// `auth: {bearer_token_env: NAME}` or `auth: {basic: {username, password_env: NAME}}`.
fn source_auth(
    doc: &SourceDoc,
    path: &str,
    value: &Value,
    problems: &mut Vec<(String, String)>,
    context: &mut LoadContext,
) -> Option<SourceAuth> {
    let raw = doc.decode::<RawSourceAuth>(value, path, &mut context.report)?;
    let mut env_name = |field_path: String, name: &str| {
        if let Err(message) = datasource::check_env_name(name) {
            problems.push((field_path, message));
        }
    };
    match (raw.bearer_token_env, raw.basic) {
        (Some(token_env), None) => {
            env_name(join_key(path, "bearer_token_env"), &token_env);
            Some(SourceAuth::Bearer { token_env })
        }
        (None, Some(basic)) => {
            let basic_path = join_key(path, "basic");
            env_name(join_key(&basic_path, "password_env"), &basic.password_env);
            if basic.username.is_empty() || basic.username.contains(':') {
                problems.push((
                    join_key(&basic_path, "username"),
                    "a basic auth username must be non-empty and without ':'".to_string(),
                ));
            }
            Some(SourceAuth::Basic {
                username: basic.username,
                password_env: basic.password_env,
            })
        }
        _ => {
            problems.push((
                path.to_string(),
                "set exactly one of bearer_token_env and basic".to_string(),
            ));
            None
        }
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
    let signals = raw.signals.as_ref().and_then(|value| {
        let signals_path = join_key(path, "signals");
        let signals = read_signals(doc, &signals_path, value, context)?;
        context.native.signals.push(PendingSignals {
            service: raw.id.clone(),
            source: signals.source.clone(),
            doc: doc.clone(),
            path: signals_path,
        });
        Some(signals)
    });
    context.catalog.services.push(Service {
        id: raw.id,
        display_name: raw.name,
        description: raw.description,
        owner: raw.owner,
        tier: raw.tier,
        runbooks: raw.runbooks,
        labels: raw.labels,
        signals,
        status_page: raw.status_page.unwrap_or(true),
        origin: origin(doc, path),
    });
}

/// A service's `signals:` block, its queries parsed; `None` when anything is wrong (every
/// problem reported). Its source is checked in [`finish`], once every file is read.
fn read_signals(
    doc: &SourceDoc,
    path: &str,
    value: &Value,
    context: &mut LoadContext,
) -> Option<ServiceSignals> {
    let raw = doc.decode::<RawSignals>(value, path, &mut context.report)?;
    let mut ok = true;
    if raw.source.trim().is_empty() {
        context.report.push(doc.error(
            &join_key(path, "source"),
            "source must name one of sources (a Prometheus source)",
        ));
        ok = false;
    }
    for (field, query) in [
        ("traffic", &raw.traffic),
        ("errors", &raw.errors),
        ("saturation", &raw.saturation),
    ] {
        let Some(query) = query else { continue };
        if let Err(message) = promql::check_range_query(query) {
            context
                .report
                .push(doc.error(&join_key(path, field), message));
            ok = false;
        }
    }
    if let Some(latency) = &raw.latency {
        let latency_path = join_key(path, "latency");
        let problem = promql::check_selector(latency).err().or_else(|| {
            promql::selector_has_label(latency, "le").then(|| {
                format!(
                    "{latency:?} has an `le` matcher: nines takes every bucket, asking for histogram_quantile(q, sum by (le) (rate(<latency>[5m])))"
                )
            })
        });
        match problem {
            Some(message) => {
                context.report.push(doc.error(&latency_path, message));
                ok = false;
            }
            None => {
                if let Some(name) = promql::selector_metric_name(latency)
                    && !name.ends_with("_bucket")
                {
                    context.report.push(doc.warning(
                        &latency_path,
                        format!(
                            "{name:?} is not a histogram's _bucket series: nines asks for histogram_quantile(q, sum by (le) (rate(<latency>[5m]))), which needs the buckets (like http_request_duration_seconds_bucket)"
                        ),
                    ));
                }
            }
        }
    }
    let queries = [&raw.traffic, &raw.errors, &raw.latency, &raw.saturation];
    if ok && queries.iter().all(|query| query.is_none()) {
        context.report.push(doc.warning(
            path,
            "signals names no query (traffic, errors, latency, saturation): nothing is asked of its source",
        ));
    }
    ok.then_some(ServiceSignals {
        source: raw.source,
        traffic: raw.traffic,
        errors: raw.errors,
        latency: raw.latency,
        saturation: raw.saturation,
    })
}

/// Checks that each service's `signals.source` is a Prometheus source; a service whose source
/// is not keeps no signals.
fn finish_signals(
    signals: Vec<PendingSignals>,
    broken_sources: &BTreeSet<String>,
    unqueried_data_sources: &BTreeMap<String, String>,
    context: &mut LoadContext,
) {
    for PendingSignals {
        service,
        source,
        doc,
        path,
    } in signals
    {
        let message = match context.catalog.source(&source) {
            Some(found) => {
                // Every kind of source is a Prometheus HTTP API today; a new kind that is not
                // must be refused here, and this pattern makes the compiler say so.
                let SourceKind::Prometheus(_) = &found.kind;
                continue;
            }
            // Already reported where the source is written.
            None if broken_sources.contains(&source) => None,
            None => Some(match unqueried_data_sources.get(&source) {
                Some(source_type) if source_type.eq_ignore_ascii_case("prometheus") => format!(
                    "source {source:?} is an OpenSLO DataSource without a usable connectionDetails url: nines cannot query it"
                ),
                Some(source_type) => format!(
                    "source {source:?} is an OpenSLO DataSource of type {source_type}: signals are queried from Prometheus sources only"
                ),
                None => {
                    let known: Vec<&str> = context
                        .catalog
                        .sources
                        .iter()
                        .map(|source| source.id.as_str())
                        .collect();
                    if known.is_empty() {
                        format!(
                            "source {source:?} is not defined in any file (define it under sources)"
                        )
                    } else {
                        format!(
                            "source {source:?} is not defined in any file; the sources are {}",
                            known.join(", ")
                        )
                    }
                }
            }),
        };
        if let Some(message) = message {
            context
                .report
                .push(doc.error(&join_key(&path, "source"), message));
        }
        if let Some(entry) = context
            .catalog
            .services
            .iter_mut()
            .find(|entry| entry.id == service)
        {
            entry.signals = None;
        }
    }
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

/// A native SLI, read and checked.
pub(crate) struct ReadSli {
    pub sli: Sli,
    pub count_kind: CountKind,
    /// `sli.source`: the data source it is pulled from, when it names one (checked to exist
    /// once every file is read).
    pub source: Option<String>,
}

pub(crate) fn sli(
    doc: &SourceDoc,
    path: &str,
    value: &Value,
    context: &mut LoadContext,
) -> Option<ReadSli> {
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
    let source = raw.source;
    let source_path = join_key(path, "source");
    let no_source_message = if raw.pushed.is_some() {
        Some("a pushed SLI takes no source: its counts are posted to nines")
    } else if raw.probe.is_some() {
        Some("a probe SLI takes no source: nines' own probe feeds it")
    } else {
        None
    };
    if let (Some(_), Some(message)) = (&source, no_source_message) {
        context.report.push(doc.error(&source_path, message));
        return None;
    }
    let read = |sli: Sli, count_kind: CountKind| ReadSli {
        sli,
        count_kind,
        source: source.clone(),
    };
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
        let mut ok = true;
        for (field, text) in [
            ("total", Some(&ratio.total)),
            ("good", ratio.good.as_ref()),
            ("bad", ratio.bad.as_ref()),
        ] {
            let Some(text) = text else { continue };
            let field_path = join_key(&ratio_path, field);
            let valid = check_selector(text, &field_path, context);
            if valid && source.is_some() {
                warn_unless_counter(doc, &field_path, text, context);
            }
            ok &= valid;
        }
        let sli = Sli::Counters {
            good: ratio.good,
            bad: ratio.bad,
            total: ratio.total,
        };
        return ok.then(|| read(sli, kind));
    }
    if let Some(latency) = raw.latency {
        let latency_path = join_key(path, "latency");
        let histogram_path = join_key(&latency_path, "histogram");
        let mut ok = check_selector(&latency.histogram, &histogram_path, context);
        if ok && source.is_some() {
            warn_unless_histogram(doc, &histogram_path, &latency.histogram, context);
        }
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
        return ok.then(|| read(sli, CountKind::Good));
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
        return ok.then(|| read(sli, kind));
    }
    if let Some(value) = &raw.probe {
        return probe(doc, &join_key(path, "probe"), value, context)
            .map(|probe| read(Sli::Probe(probe), CountKind::Good));
    }
    Some(read(Sli::Pushed, CountKind::Good))
}

/// A ratio's selectors are counted by their increase: a name without a counter's suffix is
/// likely a gauge (promtool's lint warns of `rate()` over one the same way).
fn warn_unless_counter(doc: &SourceDoc, path: &str, selector: &str, context: &mut LoadContext) {
    if let Some(name) = promql::selector_metric_name(selector)
        && !promql::is_counter_name(&name)
    {
        context.report.push(doc.warning(
            path,
            format!(
                "{name:?} may not be a counter: counter names end in _total, _count, _sum or _bucket, and a ratio counts how much its series increase"
            ),
        ));
    }
}

/// A latency SLI names a histogram (its `_bucket` series are counted): a name with the suffix
/// of a plain counter or of a histogram's `_count`/`_sum` series is likely the wrong metric.
fn warn_unless_histogram(doc: &SourceDoc, path: &str, selector: &str, context: &mut LoadContext) {
    if let Some(name) = promql::selector_metric_name(selector)
        && ["_total", "_count", "_sum"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
    {
        context.report.push(doc.warning(
            path,
            format!(
                "{name:?} may not be a histogram: name the histogram (like http_request_duration_seconds) or its _bucket series"
            ),
        ));
    }
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
    let (Some(id), Some(objective), Some(window), Some(method), Some(read_sli)) =
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
            count_kind: read_sli.count_kind,
        },
        window_from_file: true,
        sli: read_sli.sli,
        source: read_sli.source,
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
    if pending.oncall.has_teams() {
        for (owner, doc, path) in &pending.owners {
            if !pending.oncall.knows_team(owner) {
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
        if let Some(name) = &def.source
            && context.catalog.source(name).is_none()
            && !pending.broken_sources.contains(name)
        {
            let known: Vec<&str> = context
                .catalog
                .sources
                .iter()
                .map(|source| source.id.as_str())
                .collect();
            let message = if known.is_empty() {
                format!("source {name:?} is not defined in any file (define it under sources)")
            } else {
                format!(
                    "source {name:?} is not defined in any file; the sources are {}",
                    known.join(", ")
                )
            };
            context
                .report
                .push(doc.error(&join_key(&path, "sli.source"), message));
            ok = false;
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
        // Only pages need a runbook: an SLO whose page alert is disabled, or whose policy
        // has no page-severity pair or no-data rule, carries tickets only.
        let pages = !def.alerting.page.disable
            && (def
                .spec
                .policy
                .pairs
                .iter()
                .any(|pair| pair.severity == Severity::Page)
                || def
                    .spec
                    .policy
                    .no_data
                    .as_ref()
                    .is_some_and(|rule| rule.severity == Severity::Page));
        let has_runbook = !pages
            || def.runbook.is_some()
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
    finish_signals(
        pending.signals,
        &pending.broken_sources,
        &pending.unqueried_data_sources,
        context,
    );
    oncall::finish(pending.oncall, context);
}
