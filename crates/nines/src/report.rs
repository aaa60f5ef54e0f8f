//! `nines report`: a reliability report over a period from a running server, as a table, JSON
//! or Markdown (for a weekly review or a postmortem).

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Markdown,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Start: an RFC 3339 instant or a date (midnight UTC); default 30 days before --to.
    #[arg(long)]
    pub from: Option<String>,
    /// End (exclusive): an RFC 3339 instant or a date; default now.
    #[arg(long)]
    pub to: Option<String>,
    /// Only this team's pages, incidents, SLOs, shifts and action items.
    #[arg(long, conflicts_with = "service")]
    pub team: Option<String>,
    /// Only this service's.
    #[arg(long)]
    pub service: Option<String>,
    #[arg(long, env = "NINES_SERVER", default_value = "http://127.0.0.1:9797")]
    pub server: String,
    #[arg(long, value_enum, default_value = "table")]
    pub output: ReportFormat,
}

fn duration(seconds: &Value) -> String {
    let Some(total) = seconds.as_i64() else {
        return "-".to_string();
    };
    let (hours, minutes, secs) = (total / 3600, (total % 3600) / 60, total % 60);
    match (hours, minutes) {
        (0, 0) => format!("{secs}s"),
        (0, _) => format!("{minutes}m{secs:02}s"),
        _ => format!("{hours}h{minutes:02}m"),
    }
}

fn percent(share: &Value) -> String {
    share
        .as_f64()
        .map(|share| format!("{:.1}%", share * 100.0))
        .unwrap_or_else(|| "-".to_string())
}

fn number(value: &Value) -> String {
    match value {
        Value::Null => "-".to_string(),
        Value::Number(number) => match number.as_f64() {
            Some(float) if number.is_f64() => format!("{float:.1}"),
            _ => number.to_string(),
        },
        other => other.to_string(),
    }
}

fn stats_cells(stats: &Value) -> [String; 4] {
    [
        stats["count"].to_string(),
        duration(&stats["mean_seconds"]),
        duration(&stats["median_seconds"]),
        duration(&stats["p90_seconds"]),
    ]
}

/// The report's figures as (section, figure, value) rows.
fn rows(report: &Value) -> Vec<[String; 3]> {
    let mut out = Vec::new();
    let mut push = |section: &str, figure: &str, value: String| {
        out.push([section.to_string(), figure.to_string(), value]);
    };
    let slos = &report["slos"];
    push(
        "SLOs",
        "meeting their objective",
        format!(
            "{} of {} with data",
            slos["meeting_objective"], slos["with_data"]
        ),
    );
    for slo in slos["slos"].as_array().into_iter().flatten() {
        push(
            "SLOs",
            slo["id"].as_str().unwrap_or("?"),
            format!(
                "attainment {} (objective {}), budget left {}",
                slo["attainment"]
                    .as_f64()
                    .map(|a| format!("{:.3}%", a * 100.0))
                    .unwrap_or_else(|| "-".to_string()),
                slo["objective"]
                    .as_f64()
                    .map(|o| format!("{:.3}%", o * 100.0))
                    .unwrap_or_default(),
                percent(&slo["budget_remaining_share"])
            ),
        );
    }
    let incidents = &report["incidents"];
    let by_severity: Vec<String> = incidents["by_severity"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(severity, count)| format!("{severity} {count}"))
        .collect();
    push(
        "incidents",
        "opened",
        format!("{} ({})", incidents["opened"], by_severity.join(", ")),
    );
    let [count, mean, median, p90] = stats_cells(&incidents["time_to_resolve"]);
    push(
        "incidents",
        "MTTR (open to resolved)",
        format!("mean {mean}, median {median}, p90 {p90} ({count} resolved)"),
    );
    push(
        "incidents",
        "mean time between incidents",
        match incidents["time_between"].as_object() {
            Some(gaps) => format!(
                "mean {}, median {} ({} gaps)",
                duration(&gaps["mean_seconds"]),
                duration(&gaps["median_seconds"]),
                gaps["gaps"]
            ),
            None => "- (fewer than 2 incidents)".to_string(),
        },
    );
    let pages = &report["pages"];
    push("pages", "created", pages["created"].to_string());
    let [count, mean, median, p90] = stats_cells(&pages["time_to_acknowledge"]);
    push(
        "pages",
        "MTTA (to first acknowledgement)",
        format!("mean {mean}, median {median}, p90 {p90} ({count} acknowledged)"),
    );
    let [count, mean, median, p90] = stats_cells(&pages["time_to_resolve"]);
    push(
        "pages",
        "time to resolve",
        format!("mean {mean}, median {median}, p90 {p90} ({count} resolved)"),
    );
    for (key, label) in [
        (
            "outside_business_hours",
            "outside business hours (responder's zone)",
        ),
        ("sleep_hours", "during sleep hours (responder's zone)"),
        ("non_actionable", "non-actionable"),
    ] {
        let share = &pages[key];
        push(
            "pages",
            label,
            format!(
                "{} of {} ({})",
                share["count"],
                share["out_of"],
                percent(&share["share"])
            ),
        );
    }
    let on_call = &report["on_call"];
    push(
        "on-call",
        "pages per shift",
        format!(
            "mean {}, max {} ({} shifts)",
            number(&on_call["pages_per_shift_mean"]),
            on_call["pages_per_shift_max"],
            on_call["shifts"]
        ),
    );
    push(
        "on-call",
        "quiet on-call time",
        percent(&on_call["quiet_share"]),
    );
    let actions = &report["action_items"];
    push(
        "action items",
        "completion",
        format!(
            "{} ({} done, {} open, {} won't do)",
            percent(&actions["completion_rate"]),
            actions["done"],
            actions["open"],
            actions["wont_do"]
        ),
    );
    push(
        "action items",
        "age of open items (days)",
        format!(
            "mean {}, max {}",
            number(&actions["open_age_mean_days"]),
            number(&actions["open_age_max_days"])
        ),
    );
    out
}

fn scope_text(report: &Value) -> String {
    let scope = &report["scope"];
    if let Some(team) = scope["team"].as_str() {
        format!("team {team}")
    } else if let Some(service) = scope["service"].as_str() {
        format!("service {service}")
    } else {
        "everything".to_string()
    }
}

pub fn run(args: &ReportArgs) -> Result<ExitCode> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new()?;
    let mut query = Vec::new();
    for (key, value) in [
        ("from", &args.from),
        ("to", &args.to),
        ("team", &args.team),
        ("service", &args.service),
    ] {
        if let Some(value) = value {
            query.push((key, value.clone()));
        }
    }
    let url = format!("{}/api/v1/reports", args.server.trim_end_matches('/'));
    let answer = runtime.block_on(async {
        let request = reqwest::Client::new().get(&url).query(&query);
        crate::slo::answer(request, &url).await
    })?;
    let report = match answer {
        Ok(report) => report,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let title = format!(
        "Reliability report: {} from {} to {}",
        scope_text(&report),
        report["from"].as_str().unwrap_or("?"),
        report["to"].as_str().unwrap_or("?")
    );
    match args.output {
        ReportFormat::Json => println!("{report}"),
        ReportFormat::Table => {
            println!("{title}\n");
            let rows: Vec<Vec<String>> = rows(&report).into_iter().map(Vec::from).collect();
            print!(
                "{}",
                crate::slo::table(&["SECTION", "FIGURE", "VALUE"], &rows)
            );
        }
        ReportFormat::Markdown => {
            println!("# {title}\n");
            let mut section = String::new();
            for [name, figure, value] in rows(&report) {
                if name != section {
                    println!("\n## {name}\n\n| figure | value |\n|---|---|");
                    section = name;
                }
                println!("| {figure} | {} |", value.replace('|', "\\|"));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
