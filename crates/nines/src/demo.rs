//! `nines demo`: the server on SQLite with example SLOs, synthetic traffic with an outage, and
//! a webhook receiver of its own, so a page can be watched end to end with nothing else
//! installed.

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
teams:
  - id: payments
  - id: storefront
services:
  - id: checkout
    owner: payments
    tier: 1
    runbooks: [https://runbooks.example.com/checkout]
  - id: search
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

async fn webhook_receiver() -> Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let app = Router::new().route(
        "/hook",
        post(|body: Bytes| async move {
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let alert = &value["alert"];
            println!(
                "  webhook received: {} {} for {} (budget left {:.1}%)",
                alert["severity"].as_str().unwrap_or("?"),
                alert["change"].as_str().unwrap_or("?"),
                value["slo"]["id"].as_str().unwrap_or("?"),
                value["budget_remaining_share"].as_f64().unwrap_or(f64::NAN) * 100.0
            );
            axum::http::StatusCode::NO_CONTENT
        }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://{address}/hook"), task))
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
    println!("  where to look:");
    println!(
        "    {base}/api/v1/slos                         every SLO with budget, burn rates, alerts"
    );
    println!("    {base}/api/v1/slos/checkout-availability   one SLO");
    println!("    {base}/api/v1/events                       the event log");
    println!("    {base}/metrics                             nines' own metrics");
    println!("    nines slo list --server {base}");
    println!(
        "  alerts are delivered to the demo's own webhook receiver and shown below; Ctrl-C stops"
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
                println!(
                    "+{:>4}s  {} {} {} for {} (budget left {:.1}%)",
                    elapsed.as_secs(),
                    payload["alert"].as_str().unwrap_or("?"),
                    payload["severity"].as_str().unwrap_or("?"),
                    payload["change"].as_str().unwrap_or("?"),
                    event.slo_id.as_deref().unwrap_or("?"),
                    payload["budget_remaining_share"]
                        .as_f64()
                        .unwrap_or(f64::NAN)
                        * 100.0
                );
                if first_page.is_none()
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
