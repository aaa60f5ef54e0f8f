//! `nines backfill SLO [--from TIME]`: asks a running server to pull an SLO's history from its
//! source again, then follows the backfill's progress (a progress bar on a terminal, one JSON
//! line per change with `--output json`) until it is done. Interrupting the command leaves the
//! backfill running in the server, which resumes it after a restart too.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::{BackfillArgs, OutputFormat};

/// `--from`: an RFC 3339 instant, or a span back from now.
fn parse_from(text: &str, now: Timestamp) -> Result<Timestamp> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    match nines_core::Span::parse(text) {
        Ok(span) => Ok(now - jiff::SignedDuration::from_secs(span.as_secs())),
        Err(_) => bail!(
            "--from {text:?} is neither an RFC 3339 instant (2026-11-01T00:00:00Z) nor a span back from now (7d, 12h)"
        ),
    }
}

async fn call(request: reqwest::RequestBuilder, url: &str) -> Result<Value> {
    crate::slo::answer(request, url)
        .await?
        .map_err(anyhow::Error::msg)
}

pub fn run(args: &BackfillArgs) -> Result<ExitCode> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(follow(args))
}

async fn follow(args: &BackfillArgs) -> Result<ExitCode> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = format!(
        "{}/api/v1/slos/{}/backfill",
        args.server.trim_end_matches('/'),
        args.slo
    );
    let body = match &args.from {
        Some(text) => json!({ "from": parse_from(text, Timestamp::now())?.to_string() }),
        None => json!({}),
    };
    let started = call(client.post(&url).json(&body), &url).await?;
    let json_output = args.output == OutputFormat::Json;
    if json_output {
        println!("{started}");
    }
    if args.no_wait {
        if !json_output {
            println!("backfill of {} started", args.slo);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let bar = if json_output {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(1);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix} [{bar:40}] {percent:>3}% {pos}/{len} min {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(args.slo.clone());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    };
    let mut last = Value::Null;
    loop {
        let status = call(client.get(&url), &url).await?;
        let pull = &status["pull"];
        if let Some(backfill) = pull["backfill"].as_object() {
            bar.set_length(backfill["minutes_total"].as_u64().unwrap_or(1));
            bar.set_position(backfill["minutes_done"].as_u64().unwrap_or(0));
        }
        bar.set_message(match pull["last_error"].as_str() {
            Some(error) => format!("retrying: {error}"),
            None => String::new(),
        });
        if json_output && pull != &last {
            println!("{status}");
        }
        last = pull.clone();
        if pull["state"] == "live" {
            bar.finish_with_message("done");
            if !json_output {
                println!(
                    "{}: pulled until {}",
                    args.slo,
                    pull["pulled_until"].as_str().unwrap_or("?")
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
