//! `nines slo list` and `nines slo show ID`: clients of the server's JSON API.

use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::{OutputFormat, SloCommand};

/// Sends `request`; the JSON body on success, else `status: message` from the API's error.
pub(crate) async fn answer(
    request: reqwest::RequestBuilder,
    url: &str,
) -> Result<Result<Value, String>> {
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .with_context(|| format!("{url} did not answer JSON"))?;
    if status.is_success() {
        Ok(Ok(body))
    } else {
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("error")
            .to_string();
        Ok(Err(format!("{status}: {message}")))
    }
}

fn get(server: &str, path: &str) -> Result<Result<Value, String>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let url = format!("{}{path}", server.trim_end_matches('/'));
        answer(reqwest::Client::new().get(&url), &url).await
    })
}

/// `prom, live until 2026-11-23T17:59:00Z`, with a backfill's progress or the last error.
fn pull_text(pull: &serde_json::Map<String, Value>) -> String {
    let source = pull["source"].as_str().unwrap_or("?");
    let until = pull["pulled_until"].as_str().unwrap_or("(nothing yet)");
    let mut text = format!(
        "{source}, {} until {until}",
        pull["state"].as_str().unwrap_or("?")
    );
    if let Some(progress) = pull["backfill"]["progress"].as_f64() {
        text.push_str(&format!(", backfill {:.0}%", progress * 100.0));
    }
    if let Some(error) = pull["last_error"].as_str() {
        text.push_str(&format!("; last error: {error}"));
    }
    text
}

fn percent(value: &Value) -> String {
    value
        .as_f64()
        .map(|share| format!("{:.2}%", share * 100.0))
        .unwrap_or_else(|| "-".to_string())
}

fn rate(value: &Value) -> String {
    value
        .as_f64()
        .map(|rate| format!("{rate:.2}"))
        .unwrap_or_else(|| "-".to_string())
}

fn alert_text(slo: &Value) -> String {
    let burn = &slo["alerts"]["burn_rate"];
    let no_data = &slo["alerts"]["no_data"];
    let mut parts = Vec::new();
    if burn["state"] == "firing" {
        parts.push(format!(
            "{} firing",
            burn["severity"].as_str().unwrap_or("?")
        ));
    }
    if no_data["state"] == "firing" {
        parts.push("no data".to_string());
    }
    if parts.is_empty() {
        "ok".to_string()
    } else {
        parts.join(", ")
    }
}

fn window_text(window: &Value) -> String {
    match window["kind"].as_str() {
        Some("rolling") => format!("rolling {}", window["length"].as_str().unwrap_or("?")),
        Some("calendar") => {
            format!(
                "{} ({})",
                window["unit"].as_str().unwrap_or("?"),
                window["time_zone"].as_str().unwrap_or("?")
            )
        }
        _ => "-".to_string(),
    }
}

fn exhaustion_text(status: &Value) -> String {
    match status["exhaustion"].as_str() {
        Some("in") => status["time_to_exhaustion_seconds"]
            .as_i64()
            .map(|seconds| nines_core::Span::seconds(seconds).to_string())
            .unwrap_or_else(|| "-".to_string()),
        Some("exhausted") => "exhausted".to_string(),
        Some("after_period_end") => "after the period ends".to_string(),
        _ => "not burning".to_string(),
    }
}

/// A plain text table with columns padded to their widest cell.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|cell| cell.len()).collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            widths[index] = widths[index].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(index, cell)| format!("{cell:<width$}", width = widths[index]))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(header.iter().map(|cell| cell.to_string()).collect());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.clone()));
        out.push('\n');
    }
    out
}

pub fn run(command: &SloCommand) -> Result<ExitCode> {
    match command {
        SloCommand::List {
            server,
            output,
            service,
        } => {
            let path = match service {
                Some(service) => format!("/api/v1/slos?service={service}"),
                None => "/api/v1/slos".to_string(),
            };
            let body = match get(server, &path)? {
                Ok(body) => body,
                Err(message) => {
                    eprintln!("error: {message}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            if *output == OutputFormat::Json {
                println!("{}", serde_json::to_string_pretty(&body["slos"])?);
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<Vec<String>> = body["slos"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|slo| {
                    let status = &slo["status"];
                    vec![
                        slo["id"].as_str().unwrap_or("?").to_string(),
                        slo["service"].as_str().unwrap_or("?").to_string(),
                        format!("{}%", slo["objective_percent"].as_f64().unwrap_or(0.0)),
                        window_text(&slo["window"]),
                        percent(&status["sli"]),
                        percent(&status["budget"]["remaining_share"]),
                        rate(&status["current_burn_rate"]),
                        alert_text(slo),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &[
                        "SLO",
                        "SERVICE",
                        "OBJECTIVE",
                        "WINDOW",
                        "SLI",
                        "BUDGET LEFT",
                        "BURN 1H",
                        "ALERTS"
                    ],
                    &rows
                )
            );
            Ok(ExitCode::SUCCESS)
        }
        SloCommand::Show { id, server, output } => {
            let body = match get(server, &format!("/api/v1/slos/{id}"))? {
                Ok(body) => body,
                Err(message) => {
                    eprintln!("error: {message}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            if *output == OutputFormat::Json {
                println!("{}", serde_json::to_string_pretty(&body)?);
                return Ok(ExitCode::SUCCESS);
            }
            let status = &body["status"];
            println!(
                "{} ({})",
                body["id"].as_str().unwrap_or("?"),
                body["service"].as_str().unwrap_or("?")
            );
            if let Some(journey) = body["journey"].as_str() {
                println!("  journey:      {journey}");
            }
            println!(
                "  objective:    {}% over {}",
                body["objective_percent"].as_f64().unwrap_or(0.0),
                window_text(&body["window"])
            );
            println!(
                "  budgeting:    {}",
                body["budgeting"].as_str().unwrap_or("?")
            );
            println!(
                "  SLI:          {}  ({} bad of {})",
                percent(&status["sli"]),
                status["bad"],
                status["total"]
            );
            println!(
                "  budget left:  {}  ({:.1} of {:.1} {} allowed)",
                percent(&status["budget"]["remaining_share"]),
                status["budget"]["remaining"].as_f64().unwrap_or(0.0),
                status["budget"]["allowed"].as_f64().unwrap_or(0.0),
                status["budget"]["unit"].as_str().unwrap_or("events")
            );
            println!("  burn rate 1h: {}", rate(&status["current_burn_rate"]));
            println!("  exhausted in: {}", exhaustion_text(status));
            println!("  alerts:       {}", alert_text(&body));
            if let Some(pull) = body["pull"].as_object() {
                println!("  pulled from:  {}", pull_text(pull));
            }
            if let Some(runbook) = body["runbook"].as_str() {
                println!("  runbook:      {runbook}");
            }
            let rows: Vec<Vec<String>> = status["burn_rates"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|pair| {
                    vec![
                        pair["severity"].as_str().unwrap_or("?").to_string(),
                        format!(
                            "{} / {}",
                            pair["long_window"].as_str().unwrap_or("?"),
                            pair["short_window"].as_str().unwrap_or("?")
                        ),
                        format!(
                            "{} / {}",
                            rate(&pair["long_burn_rate"]),
                            rate(&pair["short_burn_rate"])
                        ),
                        format!("{:.1}", pair["factor"].as_f64().unwrap_or(0.0)),
                        if pair["fires"] == true {
                            "FIRING".to_string()
                        } else if pair["guarded"] == true && pair["burning"] == true {
                            "held (low traffic)".to_string()
                        } else {
                            "-".to_string()
                        },
                    ]
                })
                .collect();
            println!();
            print!(
                "{}",
                table(
                    &["SEVERITY", "WINDOWS", "BURN RATES", "FACTOR", "STATE"],
                    &rows
                )
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
