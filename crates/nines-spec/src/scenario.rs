//! Scenario files for `nines simulate`: one SLO, steady traffic, and phases of error rates and
//! latency, played on a virtual clock.
//!
//! ```yaml
//! version: nines/v1
//! scenario: full outage
//! slo:
//!   objective_percent: 99.9
//!   window: 30d
//!   sli: {latency: {histogram: http_request_duration_seconds, threshold_seconds: 0.3}}  # optional
//!   alert_policy: {min_total_events: 10}                                              # optional
//! step: 10s                 # evaluation interval on the virtual clock
//! requests_per_second: 100
//! phases:
//!   - {name: healthy, duration: 2h, error_percent: 0}
//!   - {name: outage, duration: 10m, error_percent: 100}
//!   - {name: recovery, duration: 6h, error_percent: 0, latency: {median_ms: 80, p99_ms: 400}}
//! ```

use std::collections::BTreeMap;

use jiff::Timestamp;
use nines_core::{AlertPolicy, CountKind, SloSpec, Span};
use serde::Deserialize;
use yaml_serde::Value;

use crate::catalog::{AlertingMeta, Catalog, Format, Origin, Service, Sli, SloDef, SloId};
use crate::native::{RawAlertPolicy, alert_policy, budgeting, span_at, window};
use crate::yaml::{join_index, join_key};
use crate::{LoadContext, LoadOptions, Report, SourceDoc, source};

/// Latency of the requests of a phase: log-normal, given by its median and 99th percentile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub median_ms: f64,
    pub p99_ms: f64,
}

impl Latency {
    /// The share of requests slower than `threshold_ms`.
    pub fn share_slower_than(&self, threshold_ms: f64) -> f64 {
        // ln(X) ~ N(mu, sigma): mu = ln(median), sigma from the 99th percentile (z = 2.3263).
        let mu = self.median_ms.ln();
        let sigma = ((self.p99_ms.ln() - mu) / 2.326_347_874).max(1e-9);
        let z = (threshold_ms.ln() - mu) / sigma;
        1.0 - standard_normal_cdf(z)
    }
}

fn standard_normal_cdf(z: f64) -> f64 {
    0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2))
}

/// Abramowitz and Stegun 7.1.26; absolute error under 1.5e-7.
fn erf(x: f64) -> f64 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    sign * (1.0 - poly * (-x * x).exp())
}

#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub name: String,
    pub duration: Span,
    pub requests_per_second: f64,
    pub error_share: f64,
    pub latency: Option<Latency>,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub start: Timestamp,
    pub step: Span,
    pub phases: Vec<Phase>,
    /// A catalog holding the scenario's one SLO (and a service for it).
    pub catalog: Catalog,
    /// The latency threshold in milliseconds, for latency SLOs.
    pub latency_threshold_ms: Option<f64>,
    /// When the page is acknowledged; never when `None`.
    pub acknowledge: Option<Acknowledge>,
}

impl Scenario {
    pub fn slo(&self) -> &SloDef {
        &self.catalog.slos[0]
    }

    pub fn duration(&self) -> Span {
        Span::seconds(
            self.phases
                .iter()
                .map(|phase| phase.duration.as_secs())
                .sum(),
        )
    }

    /// The share of bad requests in `phase` for this scenario's SLO.
    pub fn bad_share(&self, phase: &Phase) -> f64 {
        match (self.latency_threshold_ms, phase.latency) {
            (Some(threshold), Some(latency)) => {
                let slow = latency.share_slower_than(threshold);
                phase.error_share + (1.0 - phase.error_share) * slow
            }
            _ => phase.error_share,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[allow(dead_code)]
    version: String,
    scenario: String,
    #[serde(default)]
    description: Option<String>,
    slo: Value,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    step: Option<String>,
    requests_per_second: f64,
    phases: Vec<Value>,
    /// The team owning the scenario's service: its escalation policy takes the page when no
    /// route names one.
    #[serde(default)]
    owner: Option<String>,
    /// On-call, as in the native format: who the scenario's page reaches, and when.
    #[serde(default)]
    channels: Vec<Value>,
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
    /// When (after the page opens) and by whom it is acknowledged; never when absent.
    #[serde(default)]
    acknowledge: Option<RawAcknowledge>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAcknowledge {
    after: String,
    by: String,
}

/// When a scenario's page is acknowledged, after it opened.
#[derive(Debug, Clone, PartialEq)]
pub struct Acknowledge {
    pub after: Span,
    pub by: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenarioSlo {
    objective_percent: f64,
    window: Value,
    #[serde(default)]
    budgeting: Option<Value>,
    #[serde(default)]
    sli: Option<Value>,
    #[serde(default)]
    alert_policy: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLatency {
    median_ms: f64,
    p99_ms: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhase {
    #[serde(default)]
    name: Option<String>,
    duration: String,
    #[serde(default)]
    error_percent: f64,
    #[serde(default)]
    requests_per_second: Option<f64>,
    #[serde(default)]
    latency: Option<RawLatency>,
}

/// Reads a scenario file, reporting every problem.
pub fn read(file: &str, text: &str) -> Result<Scenario, Report> {
    let options = LoadOptions::default();
    let mut context = LoadContext {
        options: &options,
        catalog: Catalog::default(),
        report: Report::default(),
        openslo: Default::default(),
        native: Default::default(),
    };
    let documents = source::read_documents(file, text, &mut context.report);
    let scenario = match documents.as_slice() {
        [doc] => read_document(doc, &mut context),
        _ if context.report.has_errors() => None,
        _ => {
            context.report.push(source::file_error(
                std::path::Path::new(file),
                "a scenario file holds exactly one YAML document",
            ));
            None
        }
    };
    context.report.sort();
    match scenario {
        Some(scenario) if !context.report.has_errors() => Ok(scenario),
        _ => Err(context.report),
    }
}

pub(crate) fn read_document(doc: &SourceDoc, context: &mut LoadContext) -> Option<Scenario> {
    if doc.top_str("version") != Some("nines/v1") {
        context
            .report
            .push(doc.error("version", "a scenario starts with `version: nines/v1`"));
        return None;
    }
    let raw = doc.decode::<RawScenario>(&doc.value, "", &mut context.report)?;
    let slo_raw = doc.decode::<RawScenarioSlo>(&raw.slo, "slo", &mut context.report);
    let start = match &raw.start {
        None => Some(Timestamp::from_second(1_767_225_600).unwrap_or(Timestamp::UNIX_EPOCH)),
        Some(text) => match text.parse::<Timestamp>() {
            Ok(start) => Some(start),
            Err(err) => {
                context.report.push(doc.error(
                    "start",
                    format!("start {text:?} is not an RFC 3339 instant: {err}"),
                ));
                None
            }
        },
    };
    let step = match &raw.step {
        None => Some(Span::seconds(10)),
        Some(text) => span_at(doc, "step", text, context),
    };
    if let Some(step) = step
        && (step.as_secs() < 1 || step > Span::minutes(10))
    {
        context
            .report
            .push(doc.error("step", "step must be between 1s and 10m"));
    }
    if !(raw.requests_per_second.is_finite() && raw.requests_per_second > 0.0) {
        context.report.push(doc.error(
            "requests_per_second",
            "requests_per_second must be a positive number",
        ));
    }
    let mut phases = Vec::new();
    if raw.phases.is_empty() {
        context
            .report
            .push(doc.error("phases", "a scenario needs at least one phase"));
    }
    for (index, value) in raw.phases.iter().enumerate() {
        let path = join_index("phases", index);
        let Some(phase) = doc.decode::<RawPhase>(value, &path, &mut context.report) else {
            continue;
        };
        let duration = span_at(doc, &join_key(&path, "duration"), &phase.duration, context);
        if !(0.0..=100.0).contains(&phase.error_percent) {
            context.report.push(doc.error(
                &join_key(&path, "error_percent"),
                "error_percent must be between 0 and 100",
            ));
        }
        let requests_per_second = phase.requests_per_second.unwrap_or(raw.requests_per_second);
        if !(requests_per_second.is_finite() && requests_per_second >= 0.0) {
            context.report.push(doc.error(
                &join_key(&path, "requests_per_second"),
                "requests_per_second must not be negative",
            ));
        }
        let latency = phase.latency.map(|latency| Latency {
            median_ms: latency.median_ms,
            p99_ms: latency.p99_ms,
        });
        if let Some(latency) = latency
            && !(latency.median_ms > 0.0
                && latency.p99_ms >= latency.median_ms
                && latency.p99_ms.is_finite())
        {
            context.report.push(doc.error(
                &join_key(&path, "latency"),
                "latency needs 0 < median_ms <= p99_ms",
            ));
        }
        if let Some(duration) = duration {
            if duration.is_zero() {
                context.report.push(doc.error(
                    &join_key(&path, "duration"),
                    "a phase must last longer than 0s",
                ));
            }
            phases.push(Phase {
                name: phase.name.unwrap_or_else(|| format!("phase {}", index + 1)),
                duration,
                requests_per_second,
                error_share: phase.error_percent / 100.0,
                latency,
            });
        }
    }

    let slo_raw = slo_raw?;
    let objective = match nines_core::Objective::from_percent(slo_raw.objective_percent) {
        Ok(objective) => Some(objective),
        Err(err) => {
            context
                .report
                .push(doc.error("slo.objective_percent", err.to_string()));
            None
        }
    };
    let window = window(doc, "slo.window", &slo_raw.window, context);
    let method = budgeting(doc, "slo.budgeting", slo_raw.budgeting.as_ref(), context);
    let policy = match &slo_raw.alert_policy {
        None => Some(AlertPolicy::workbook()),
        Some(value) => doc
            .decode::<RawAlertPolicy>(value, "slo.alert_policy", &mut context.report)
            .and_then(|raw| alert_policy(doc, "slo.alert_policy", raw, context)),
    };
    let (sli, count_kind) = match &slo_raw.sli {
        None => (Some(Sli::Pushed), CountKind::Bad),
        Some(value) => match crate::native::sli(doc, "slo.sli", value, context) {
            Some(read) => {
                if read.source.is_some() {
                    context.report.push(doc.warning(
                        "slo.sli.source",
                        "a scenario is played on a virtual clock: the SLI's source is not used",
                    ));
                }
                (Some(read.sli), CountKind::Bad)
            }
            None => (None, CountKind::Bad),
        },
    };
    let latency_threshold_ms = match &sli {
        Some(Sli::Latency {
            threshold_seconds, ..
        }) => Some(threshold_seconds * 1000.0),
        _ => None,
    };
    let (
        Some(objective),
        Some(window),
        Some(method),
        Some(policy),
        Some(sli),
        Some(start),
        Some(step),
    ) = (objective, window, method, policy, sli, start, step)
    else {
        return None;
    };
    let origin = Origin {
        file: doc.file.clone(),
        line: doc.locate("slo").line,
        path: "slo".to_string(),
        format: Format::Native,
    };
    let spec = SloSpec {
        objective,
        window,
        method,
        policy,
        count_kind,
    };
    for problem in spec.validate() {
        context.report.push(doc.error("slo", problem.to_string()));
    }
    let id = SloId::new("scenario").ok()?;
    let def = SloDef {
        id,
        name: raw.scenario.clone(),
        service: "scenario".to_string(),
        description: raw.description.clone(),
        journey: None,
        labels: BTreeMap::new(),
        spec,
        window_from_file: true,
        sli,
        source: None,
        alerting: AlertingMeta::default(),
        budget_policy: None,
        runbook: None,
        kubernetes: None,
        origin: origin.clone(),
    };
    let service = Service {
        id: "scenario".to_string(),
        display_name: None,
        description: None,
        owner: raw.owner.clone(),
        tier: None,
        runbooks: Vec::new(),
        labels: BTreeMap::new(),
        signals: None,
        status_page: true,
        origin,
    };
    // On-call: read as the native format reads it, checked against the scenario's own catalog
    // (a scenario read while loading a folder must not touch the folder's catalog).
    let mut own = LoadContext {
        options: context.options,
        catalog: Catalog {
            services: vec![service],
            slos: vec![def],
            ..Catalog::default()
        },
        report: Report::default(),
        openslo: Default::default(),
        native: Default::default(),
    };
    let catalog = read_oncall(doc, &raw, &mut own);
    context.report.extend(own.report);
    let acknowledge = match &raw.acknowledge {
        None => None,
        Some(ack) => {
            span_at(doc, "acknowledge.after", &ack.after, context).map(|after| Acknowledge {
                after,
                by: ack.by.clone(),
            })
        }
    };
    Some(Scenario {
        acknowledge,
        name: raw.scenario,
        description: raw.description,
        start,
        step,
        phases,
        catalog,
        latency_threshold_ms,
    })
}

/// The scenario's on-call sections, read into its own catalog (in `context`).
fn read_oncall(doc: &SourceDoc, raw: &RawScenario, context: &mut LoadContext) -> Catalog {
    for (index, value) in raw.channels.iter().enumerate() {
        crate::native::read_channel(doc, &join_index("channels", index), value, context);
    }
    crate::oncall::read(
        doc,
        crate::oncall::Sections {
            people: &raw.people,
            teams: &raw.teams,
            schedules: &raw.schedules,
            escalation_policies: &raw.escalation_policies,
            routes: raw.routes.as_ref(),
            maintenance: &[],
            heartbeats: &[],
            integrations: &[],
        },
        context,
    );
    let pending = std::mem::take(&mut context.native.oncall);
    crate::oncall::finish(pending, context);
    if let Some(owner) = &raw.owner
        && !context
            .catalog
            .oncall
            .directory
            .teams
            .iter()
            .any(|team| &team.id == owner)
    {
        context.report.push(doc.error(
            "owner",
            format!("owner {owner:?} is not a team defined under teams"),
        ));
    }
    std::mem::take(&mut context.catalog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_normal_tail_matches_its_percentiles() {
        let latency = Latency {
            median_ms: 100.0,
            p99_ms: 500.0,
        };
        assert!((latency.share_slower_than(100.0) - 0.5).abs() < 1e-6);
        assert!((latency.share_slower_than(500.0) - 0.01).abs() < 1e-6);
    }

    #[test]
    fn scenario_errors_are_located() {
        let text = "version: nines/v1\nscenario: x\nslo: {objective_percent: 100, window: 30d}\nrequests_per_second: 0\nphases:\n  - {duration: 5x}\n";
        let report = read("s.yaml", text).unwrap_err();
        let lines: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "s.yaml:3:7: error: slo.objective_percent: objective 1 must be strictly between 0 and 1 (0% and 100% leave no usable error budget)",
                "s.yaml:4:1: error: requests_per_second: requests_per_second must be a positive number",
                "s.yaml:6:6: error: phases[0].duration: invalid duration \"5x\": expected a number followed by a unit (s, m, h, d, w), for example 5m or 30d",
            ]
        );
    }
}
