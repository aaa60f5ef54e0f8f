//! `nines simulate`: play a scenario through the real evaluator on a virtual clock.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};
use nines_core::{AlertKind, Span};
use nines_server::simulate::{self, PagingReport, PagingWhat, SimulationReport};

use crate::{OutputFormat, SimulateArgs};

pub fn run(args: &SimulateArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.scenario)
        .with_context(|| format!("cannot read scenario {}", args.scenario.display()))?;
    let file = args.scenario.display().to_string();
    let scenario = match nines_spec::scenario::read(&file, &text) {
        Ok(scenario) => scenario,
        Err(report) => {
            eprint!("{report}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let show_progress = args.output == OutputFormat::Text && std::io::stderr().is_terminal();
    let options = simulate::Options {
        prefill: !args.no_prefill,
    };
    let started = std::time::Instant::now();
    let report = simulate::run(&scenario, &options, |done| {
        if show_progress {
            eprint!("\rsimulating: {:>3.0}%", done * 100.0);
        }
    });
    if show_progress {
        eprintln!();
    }
    match args.output {
        OutputFormat::Text => print_text(&report, started.elapsed()),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&to_json(&report))?),
    }
    Ok(ExitCode::SUCCESS)
}

fn rate(rate: Option<f64>) -> String {
    rate.map(|rate| format!("{rate:.1}"))
        .unwrap_or_else(|| "-".to_string())
}

fn print_text(report: &SimulationReport, elapsed: std::time::Duration) {
    println!("scenario: {}", report.scenario);
    println!(
        "slo: {}, evaluated every {} ({} evaluations in {:.2?})",
        report.slo, report.step, report.evaluations, elapsed
    );
    println!();
    if report.transitions.is_empty() {
        println!("no alert fired");
    }
    for transition in &report.transitions {
        let notice = &transition.notice;
        let what = match notice.kind {
            AlertKind::BurnRate => notice.severity.name().to_string(),
            AlertKind::NoData => format!("no-data {}", notice.severity.name()),
        };
        let pairs: Vec<String> = notice
            .burn_rates
            .iter()
            .filter(|pair| pair.fires || notice.change != nines_core::Change::Fired)
            .map(|pair| {
                format!(
                    "{} {} / {} {} (factor {:.1})",
                    pair.long_window,
                    rate(pair.long_burn_rate),
                    pair.short_window,
                    rate(pair.short_burn_rate),
                    pair.factor
                )
            })
            .collect();
        println!(
            "  +{:<10} {:<11} +{:<9} {:<7} {:<10} burn rates {}",
            transition.offset.to_string(),
            transition.phase,
            transition.phase_offset.to_string(),
            what,
            notice.change.name(),
            pairs.join(", ")
        );
    }
    println!();
    println!("phases:");
    for phase in &report.phases {
        let bad_percent = if phase.requests > 0 {
            100.0 * phase.bad as f64 / phase.requests as f64
        } else {
            0.0
        };
        println!(
            "  {:<20} {:>8}  {:>11} requests  {:>7.3}% bad  budget spent {:>6.1}%",
            phase.name,
            phase.duration.to_string(),
            phase.requests,
            bad_percent,
            100.0 * phase.budget_spent_share
        );
    }
    if let Some(paging) = &report.paging {
        print_paging(paging);
    }
    println!();
    println!(
        "budget at the end: {:.1}% left ({:.1}% spent), SLI {}",
        100.0 * report.budget_remaining_share,
        100.0 * report.budget_consumed_share,
        report
            .sli
            .map(|sli| format!("{:.4}%", sli * 100.0))
            .unwrap_or_else(|| "-".to_string())
    );
}

fn seconds(span: Span) -> i64 {
    span.as_secs()
}

fn to_json(report: &SimulationReport) -> serde_json::Value {
    let transitions: Vec<serde_json::Value> = report
        .transitions
        .iter()
        .map(|transition| {
            let notice = &transition.notice;
            serde_json::json!({
                "offset_seconds": seconds(transition.offset),
                "phase": transition.phase,
                "phase_offset_seconds": seconds(transition.phase_offset),
                "at": notice.at.to_string(),
                "alert": notice.kind.name(),
                "severity": notice.severity.name(),
                "change": notice.change.name(),
                "budget_remaining_share": notice.budget_remaining_share,
                "burn_rates": notice.burn_rates.iter().map(|pair| serde_json::json!({
                    "long_window": pair.long_window,
                    "long_burn_rate": pair.long_burn_rate,
                    "short_window": pair.short_window,
                    "short_burn_rate": pair.short_burn_rate,
                    "factor": pair.factor,
                    "fires": pair.fires,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let phases: Vec<serde_json::Value> = report
        .phases
        .iter()
        .map(|phase| {
            serde_json::json!({
                "name": phase.name,
                "start_seconds": seconds(phase.start),
                "duration_seconds": seconds(phase.duration),
                "requests": phase.requests,
                "bad": phase.bad,
                "budget_spent_share": phase.budget_spent_share,
            })
        })
        .collect();
    serde_json::json!({
        "scenario": report.scenario,
        "slo": report.slo,
        "step_seconds": seconds(report.step),
        "evaluations": report.evaluations,
        "transitions": transitions,
        "phases": phases,
        "budget_remaining_share": report.budget_remaining_share,
        "budget_consumed_share": report.budget_consumed_share,
        "sli": report.sli,
        "paging": report.paging.as_ref().map(paging_json),
    })
}

fn paging_line(what: &PagingWhat) -> String {
    match what {
        PagingWhat::Opened { summary } => format!("page opened: {summary}"),
        PagingWhat::Notified {
            name,
            person,
            channels,
            policy,
            step,
            round,
            via,
        } => format!(
            "notified {name} ({person}) via {} - {policy} step {} round {} ({via})",
            channels.join(", "),
            step + 1,
            round + 1
        ),
        PagingWhat::NobodyReached {
            policy,
            step,
            round,
        } => format!(
            "nobody reached by {policy} step {} round {}: next step at once",
            step + 1,
            round + 1
        ),
        PagingWhat::Exhausted => "escalation exhausted: nobody acknowledged".to_string(),
        PagingWhat::Acknowledged { by } => format!("acknowledged by {by}"),
        PagingWhat::Resolved => "resolved (the alert stopped)".to_string(),
    }
}

fn print_paging(paging: &PagingReport) {
    println!();
    match &paging.policy {
        Some(policy) => println!("paging (escalation policy {policy}):"),
        None => println!("paging: no route and no owning team's policy takes the page"),
    }
    for step in &paging.steps {
        println!(
            "  +{:<10} {}",
            step.offset.to_string(),
            paging_line(&step.what)
        );
    }
}

fn paging_json(paging: &PagingReport) -> serde_json::Value {
    let steps: Vec<serde_json::Value> = paging
        .steps
        .iter()
        .map(|step| {
            let mut value = match &step.what {
                PagingWhat::Opened { summary } => {
                    serde_json::json!({"what": "opened", "summary": summary})
                }
                PagingWhat::Notified {
                    person,
                    name,
                    channels,
                    policy,
                    step,
                    round,
                    via,
                } => serde_json::json!({
                    "what": "notified", "person": person, "name": name, "channels": channels,
                    "policy": policy, "step": step, "round": round, "via": via,
                }),
                PagingWhat::NobodyReached {
                    policy,
                    step,
                    round,
                } => serde_json::json!({
                    "what": "nobody_reached", "policy": policy, "step": step, "round": round,
                }),
                PagingWhat::Exhausted => serde_json::json!({"what": "exhausted"}),
                PagingWhat::Acknowledged { by } => {
                    serde_json::json!({"what": "acknowledged", "by": by})
                }
                PagingWhat::Resolved => serde_json::json!({"what": "resolved"}),
            };
            value["offset_seconds"] = serde_json::json!(seconds(step.offset));
            value
        })
        .collect();
    serde_json::json!({"policy": paging.policy, "steps": steps})
}
