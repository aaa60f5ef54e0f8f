//! `nines demo`: the server on SQLite with example SLOs, on-call (two people, a weekly
//! rotation, an escalation policy) and an incident rule, synthetic traffic with an outage, and a
//! webhook receiver of its own, so an alert, the page it raises, the incident it opens and the
//! web UI can be watched end to end with nothing else installed.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use jiff::Timestamp;
use nines_server::server::{self, AppState, ServerConfig};
use nines_server::writer::Work;
use nines_store::{CountDelta, EventQuery};

use crate::DemoArgs;

const CONFIG: &str = r#"version: nines/v1
people:
  - id: alice
    name: Alice Example
    time_zone: Europe/Berlin
    contacts: [{channel: demo-webhook}]
  - id: bob
    name: Bob Example
    time_zone: America/New_York
    contacts: [{channel: demo-webhook}]
teams:
  - id: payments
    name: Payments
    members: [alice, bob]
    escalation_policy: payments-oncall
  - id: storefront
    name: Storefront
schedules:
  - id: payments-primary
    time_zone: Europe/Berlin
    layers:
      - name: weekly
        members: [alice, bob]
        start: "2026-01-05T09:00"
        shift: 1w
escalation_policies:
  - id: payments-oncall
    steps:
      - targets: [{schedule: payments-primary}]
        delay: 5m
      - targets: [{person: bob}]
incidents:
  open_for:
    - {matchers: ['alertname="SLOBurnRate"', 'service="checkout"'], severity: SEV1}
services:
  - id: checkout
    name: Checkout
    owner: payments
    tier: 1
    runbooks: [https://runbooks.example.com/checkout]
  - id: search
    name: Search
    owner: storefront
    tier: 2
    runbooks: [https://runbooks.example.com/search]
slos:
  - id: checkout-availability
    service: checkout
    journey: A customer pays for the basket
    objective_percent: 99.9
    window: 30d
    sli: {pushed: {}}
  - id: search-availability
    service: search
    journey: A shopper finds a product
    objective_percent: 99.5
    window: 28d
    sli: {pushed: {}}
channels:
  - id: demo-webhook
    type: webhook
    url: WEBHOOK_URL
    secret_env: NINES_DEMO_SECRET
"#;

/// Requests per second, and the error share now, of each demo SLO.
fn traffic(slo: &str, since_start: Duration, outage: (Duration, Duration)) -> (u64, f64) {
    match slo {
        "checkout-availability" if since_start >= outage.0 && since_start < outage.1 => (50, 1.0),
        "checkout-availability" => (50, 0.0001),
        _ => (30, 0.001),
    }
}

/// One line (two for a page with an acknowledge link) saying what a webhook body is: an SLO
/// alert (`nines.v1`) or a page notification to a person (`nines.page.v1`).
fn describe_webhook(body: &serde_json::Value) -> String {
    let text = |value: &serde_json::Value| value.as_str().unwrap_or("?").to_string();
    if body["version"] == "nines.page.v1" {
        let person = body["person"]["name"]
            .as_str()
            .or_else(|| body["person"]["id"].as_str())
            .unwrap_or("?");
        let mut line = format!(
            "page {} {} for {person} (policy {}, step {}): {}",
            text(&body["page_id"]),
            text(&body["event"]),
            text(&body["policy"]),
            step_number(&body["step"]),
            text(&body["summary"]),
        );
        if let Some(actor) = body["actor"].as_str() {
            line.push_str(&format!(" by {actor}"));
        }
        let open = matches!(body["event"].as_str(), Some("triggered" | "escalated"));
        if open && let Some(link) = body["links"]["acknowledge"].as_str() {
            line.push_str(&format!("\n                    acknowledge: {link}"));
        }
        return line;
    }
    let alert = &body["alert"];
    alert_line(
        &text(&alert["severity"]),
        &text(&alert["change"]),
        &text(&body["slo"]["id"]),
        &body["budget_remaining_share"],
    )
}

/// `page fired for checkout-availability (budget left 98.0%)`.
fn alert_line(severity: &str, change: &str, slo: &str, budget_left: &serde_json::Value) -> String {
    format!(
        "{severity} {change} for {slo} (budget left {:.1}%)",
        budget_left.as_f64().unwrap_or(f64::NAN) * 100.0
    )
}

async fn webhook_receiver() -> Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let app = Router::new().route(
        "/hook",
        post(|body: Bytes| async move {
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            println!("  webhook received: {}", describe_webhook(&value));
            axum::http::StatusCode::NO_CONTENT
        }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://{address}/hook"), task))
}

/// A policy step counted from 1 for people (notifications count from 0).
fn step_number(step: &serde_json::Value) -> String {
    step.as_u64()
        .map_or_else(|| "?".to_string(), |step| (step + 1).to_string())
}

/// One line for an event of the log worth watching in the demo (SLO alerts, pages and
/// incidents); None for the rest (notifications, links), which the webhook lines and the UI show.
fn describe_event(event: &nines_store::EventRow, payload: &serde_json::Value) -> Option<String> {
    let text = |value: &serde_json::Value| value.as_str().unwrap_or("?").to_string();
    let page = event.page_id.as_deref().unwrap_or("?");
    let incident = event.incident_id.as_deref().unwrap_or("?");
    match event.kind.as_str() {
        // The evaluator's alert transitions; the pager's `alert.resolved` has no SLO id.
        "alert.fired" | "alert.resolved" | "alert.superseded" if event.slo_id.is_some() => {
            Some(format!(
                "{} {}",
                text(&payload["alert"]),
                alert_line(
                    &text(&payload["severity"]),
                    &text(&payload["change"]),
                    event.slo_id.as_deref().unwrap_or("?"),
                    &payload["budget_remaining_share"],
                )
            ))
        }
        "page.triggered" => Some(format!(
            "page {page} triggered (policy {}): {}",
            text(&payload["policy"]),
            text(&payload["summary"])
        )),
        "page.escalated" => Some(format!(
            "page {page} escalated to step {} of {}",
            step_number(&payload["step"]),
            text(&payload["policy"])
        )),
        "page.acknowledged" | "page.unacknowledged" | "page.resolved" => Some(format!(
            "page {page} {} by {}",
            event.kind.trim_start_matches("page."),
            event.actor
        )),
        "incident.opened" | "incident.status" | "incident.update" | "incident.resolved" => {
            Some(format!("incident {incident}: {}", text(&payload["text"])))
        }
        _ => None,
    }
}

/// A full window of healthy traffic before now, so budgets and long windows start as on a
/// service that has been running.
async fn backfill(state: &AppState, slos: &[String], now: Timestamp) -> Result<()> {
    let now_minute = now.as_second().div_euclid(60);
    for slo in slos {
        let (per_second, error_share) =
            traffic(slo, Duration::ZERO, (Duration::MAX, Duration::MAX));
        let per_minute = per_second * 60;
        let bad = (per_minute as f64 * error_share).round() as i64;
        let window_minutes = state
            .fleet()
            .get(slo)
            .map_or(180, |entry| entry.def.spec.window.longest().whole_minutes());
        let counts: Vec<CountDelta> = (1..window_minutes)
            .map(|age| CountDelta {
                slo_id: slo.clone(),
                minute: now_minute - age,
                counted: per_minute as i64 - bad,
                total: per_minute as i64,
            })
            .collect();
        state
            .writer
            .submit(Work::Counts {
                source: "json",
                counts,
            })
            .await
            .map_err(|err| anyhow::anyhow!("{err:?}"))?;
    }
    Ok(())
}

pub fn run(args: &DemoArgs) -> Result<ExitCode> {
    crate::serve::init_logs("warn");
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(demo(args))
}

async fn demo(args: &DemoArgs) -> Result<ExitCode> {
    let folder = std::env::temp_dir().join(format!("nines-demo-{}", std::process::id()));
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    let (webhook_url, _receiver) = webhook_receiver().await?;
    let config_path = folder.join("demo.yaml");
    std::fs::write(&config_path, CONFIG.replace("WEBHOOK_URL", &webhook_url))?;
    let loaded = nines_spec::load(
        std::slice::from_ref(&config_path),
        &nines_spec::LoadOptions::default(),
    );
    anyhow::ensure!(
        !loaded.report.has_errors(),
        "the demo config is invalid:\n{}",
        loaded.report
    );
    let database = match &args.database {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", folder.join("nines.db").display()),
    };
    let store = nines_store::open(&database)
        .await
        .with_context(|| format!("opening {database}"))?;
    let mut environment = std::collections::HashMap::new();
    environment.insert("NINES_DEMO_SECRET".to_string(), "demo-secret".to_string());
    let config = ServerConfig {
        listen: args
            .listen
            .parse()
            .with_context(|| format!("--listen {:?}", args.listen))?,
        evaluation_interval: Duration::from_secs(1),
        history_interval: Duration::from_secs(10),
        environment,
        ..ServerConfig::default()
    };
    let running = server::start(loaded.catalog, store, config)
        .await
        .map_err(anyhow::Error::msg)?;
    let base = format!("http://{}", running.address);
    let slos: Vec<String> = running
        .state
        .catalog
        .slos
        .iter()
        .map(|slo| slo.id.as_str().to_string())
        .collect();
    let started = Instant::now();
    backfill(&running.state, &slos, Timestamp::now()).await?;
    let outage_after = crate::serve::parse_interval(&args.outage_after, "--outage-after")?;
    let outage = (outage_after, outage_after + Duration::from_secs(120));

    println!("nines demo: the server runs at {base} on {database}");
    println!(
        "  SLOs: checkout-availability (99.9% over 30d) and search-availability (99.5% over 28d),"
    );
    println!(
        "  a full window of healthy traffic written behind them, live traffic every second from now;"
    );
    println!(
        "  checkout fails completely from +{}s for 2 minutes.",
        outage_after.as_secs()
    );
    println!(
        "  on call: alice (Europe/Berlin) and bob (America/New_York) take payments-primary in turn, a week each;"
    );
    println!(
        "  a checkout page goes to whoever is on call, then to bob after 5 minutes unacknowledged,"
    );
    println!("  and a burn-rate page of checkout opens a SEV1 incident.");
    println!("  where to look:");
    for (path, what) in [
        ("/ui/slos", "every SLO: budget left, burn rate, alerts"),
        (
            "/ui/slos/checkout-availability",
            "its budget burn-down and burn-rate charts",
        ),
        ("/ui/pages", "pages: acknowledge and resolve them"),
        ("/ui/incidents", "incidents: timeline, status updates"),
        ("/status", "the public status page"),
        ("/api/v1/slos", "the same in JSON (also /api/v1/pages, ...)"),
        ("/api/v1/events", "the event log"),
        ("/metrics", "nines' own metrics"),
    ] {
        println!("    {base}{path:<32} {what}");
    }
    println!("    nines slo list --server {base}");
    println!(
        "  alerts and pages are delivered to the demo's own webhook receiver and shown below; Ctrl-C stops"
    );
    println!();

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut carry = vec![0.0f64; slos.len()];
    let mut last_event = 0i64;
    let mut announced_outage = false;
    let mut announced_end = false;
    let stop_after = args
        .duration
        .as_deref()
        .map(|text| crate::serve::parse_interval(text, "--duration"))
        .transpose()?;
    let state: Arc<AppState> = Arc::new(running.state.clone());
    let mut first_page: Option<Duration> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = crate::serve::wait_for_signal() => break,
        }
        let elapsed = started.elapsed();
        if !announced_outage && elapsed >= outage.0 {
            announced_outage = true;
            println!(
                "+{:>4}s  outage: checkout-availability starts failing every request",
                elapsed.as_secs()
            );
        }
        if !announced_end && elapsed >= outage.1 {
            announced_end = true;
            println!(
                "+{:>4}s  recovered: checkout-availability is healthy again",
                elapsed.as_secs()
            );
        }
        let minute = Timestamp::now().as_second().div_euclid(60);
        for (index, slo) in slos.iter().enumerate() {
            let (per_second, error_share) = traffic(slo, elapsed, outage);
            carry[index] += per_second as f64 * error_share;
            let bad = carry[index].floor();
            carry[index] -= bad;
            let counts = vec![CountDelta {
                slo_id: slo.clone(),
                minute,
                counted: per_second as i64 - bad as i64,
                total: per_second as i64,
            }];
            if let Err(err) = state
                .writer
                .submit(Work::Counts {
                    source: "json",
                    counts,
                })
                .await
            {
                eprintln!("demo traffic not recorded: {err:?}");
            }
        }
        let query = EventQuery {
            slo_id: None,
            page_id: None,
            incident_id: None,
            after_id: Some(last_event),
            limit: 100,
        };
        if let Ok(events) = state.store.events(&query).await {
            for event in events {
                last_event = event.id;
                let payload: serde_json::Value =
                    serde_json::from_str(&event.payload).unwrap_or_default();
                if let Some(line) = describe_event(&event, &payload) {
                    println!("+{:>4}s  {line}", elapsed.as_secs());
                }
                let slo_alert = event.kind.starts_with("alert.") && event.slo_id.is_some();
                if first_page.is_none()
                    && slo_alert
                    && payload["severity"] == "page"
                    && payload["change"] == "fired"
                {
                    first_page = Some(elapsed);
                    if let Some(offset) = elapsed.checked_sub(outage.0) {
                        println!(
                            "         the page fired {}s after the outage began (the workbook's detection time is 51.8 s)",
                            offset.as_secs()
                        );
                    }
                }
            }
        }
        if stop_after.is_some_and(|limit| elapsed >= limit) {
            break;
        }
    }
    drop(state);
    running.stop().await;
    if args.database.is_none() {
        let _ = std::fs::remove_dir_all(&folder);
    }
    Ok(if args.duration.is_some() && first_page.is_none() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
