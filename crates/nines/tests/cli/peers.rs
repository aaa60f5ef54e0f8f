//! `nines serve` as a real process against real peers and real failures: a real Prometheus
//! scraping counters and remote-writing them to nines (the SLI must be what PromQL says), and a
//! server killed with SIGKILL during sustained intake, then restarted on the same SQLite file
//! (every acknowledged event counted, the fired page neither lost nor fired again).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::support::{Process, TempDir, client, find_in_path, free_port, get_json, skip_or_fail};

/// `nines serve` on `127.0.0.1:0`, evaluating every second; returns once it logged its address.
async fn start_nines(config: &Path, database: &Path) -> (Process, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nines"));
    command
        .arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--database")
        .arg(format!("sqlite://{}", database.display()))
        .args(["--listen", "127.0.0.1:0", "--evaluation-interval", "1s"])
        .env("NINES_LOG", "info");
    let mut process = Process::spawn("nines serve", command);
    let address = process
        .wait_for_line(Duration::from_secs(60), |line| {
            let rest = &line[line.find("address=")? + "address=".len()..];
            let address = rest.split_whitespace().next()?;
            Some(address.to_string())
        })
        .await;
    (process, format!("http://{address}"))
}

/// Polls `check` every 100 ms until it returns something, at most `timeout`.
async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A query-string component, percent-encoded.
fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// A real Prometheus remote-writing to nines.

/// The counters the test's scrape target exposes; the test increments them.
#[derive(Default)]
struct Counters {
    ok: AtomicU64,
    server_error: AtomicU64,
    unavailable: AtomicU64,
}

impl Counters {
    fn exposition(&self) -> String {
        format!(
            "# TYPE http_requests_total counter\n\
             http_requests_total{{code=\"200\"}} {}\n\
             http_requests_total{{code=\"500\"}} {}\n\
             http_requests_total{{code=\"503\"}} {}\n",
            self.ok.load(Ordering::SeqCst),
            self.server_error.load(Ordering::SeqCst),
            self.unavailable.load(Ordering::SeqCst),
        )
    }

    fn total(&self) -> u64 {
        self.ok.load(Ordering::SeqCst) + self.bad()
    }

    fn bad(&self) -> u64 {
        self.server_error.load(Ordering::SeqCst) + self.unavailable.load(Ordering::SeqCst)
    }
}

/// Serves `/metrics` from `counters` on a free loopback port; the task ends with the test's
/// runtime.
async fn serve_metrics(counters: Arc<Counters>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the scrape target");
    let address = listener.local_addr().expect("scrape target address");
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let counters = counters.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    counters.exposition(),
                )
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    address
}

async fn start_prometheus(
    binary: &Path,
    dir: &Path,
    target: std::net::SocketAddr,
    nines: &str,
) -> (Process, String) {
    // One shard keeps the samples in order, so once nines took samples scraped after the last
    // increment it has taken the last increment too.
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['{target}']\n\
         remote_write:\n  - url: {nines}/api/v1/write\n    queue_config:\n      \
         batch_send_deadline: 200ms\n      max_samples_per_send: 500\n      \
         min_shards: 1\n      max_shards: 1\n      min_backoff: 50ms\n      max_backoff: 1s\n"
    );
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config).expect("write prometheus.yml");
    let port = free_port();
    let mut command = Command::new(binary);
    command
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("prometheus-data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let process = Process::spawn("prometheus", command);
    let url = format!("http://127.0.0.1:{port}");
    let client = client();
    let ready = format!("{url}/-/ready");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = client.get(&ready).send().await
            && response.status().is_success()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus not ready after 60 s:\n{}",
            process.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (process, url)
}

/// The single value of an instant query at `time` (Unix seconds), or `None` when empty.
async fn prometheus_value(
    client: &reqwest::Client,
    prometheus: &str,
    query: &str,
    time: f64,
) -> Option<f64> {
    let url = format!(
        "{prometheus}/api/v1/query?query={}&time={time:.3}",
        encode_component(query)
    );
    let answer = get_json(client, &url).await;
    let result = answer["data"]["result"].as_array()?;
    assert!(result.len() <= 1, "{query}: {answer}");
    result.first()?["value"][1].as_str()?.parse().ok()
}

/// nines' count of samples it took from remote write (baselines and increments).
async fn remote_write_samples_taken(client: &reqwest::Client, nines: &str) -> u64 {
    let text = client
        .get(format!("{nines}/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|line| {
            line.starts_with("nines_ingest_samples_total{")
                && line.contains("source=\"remote_write\"")
                && line.contains("outcome=\"accepted\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|value| value as u64)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_prometheus_remote_write_gives_the_sli_promql_computes() {
    let Some(prometheus_binary) = find_in_path("prometheus") else {
        skip_or_fail("prometheus");
        return;
    };
    let dir = TempDir::new("prometheus");
    let client = client();
    let counters = Arc::new(Counters::default());
    counters.ok.store(1000, Ordering::SeqCst);
    counters.server_error.store(7, Ordering::SeqCst);
    counters.unavailable.store(3, Ordering::SeqCst);
    let target = serve_metrics(counters.clone()).await;

    let config = dir.path().join("slos.yaml");
    std::fs::write(
        &config,
        r#"version: nines/v1
services:
  - id: app
slos:
  - id: app-availability
    service: app
    objective_percent: 99
    window: 30d
    runbook: https://runbooks.example.com/app
    sli:
      ratio:
        total: http_requests_total{job="app"}
        bad: http_requests_total{job="app",code=~"5.."}
"#,
    )
    .expect("write slos.yaml");
    let (nines_process, nines) = start_nines(&config, &dir.path().join("nines.db")).await;
    let (prometheus_process, prometheus) =
        start_prometheus(&prometheus_binary, dir.path(), target, &nines).await;

    // Alignment. nines counts the increments between consecutive samples it received, from
    // the first one (a baseline) on; Prometheus' `increase` would extrapolate to the edges of
    // its range. So the counters stay flat until nines holds a baseline of all three series and
    // Prometheus holds a sample of them: the value at `start` is then the baseline for both.
    let all_series = r#"count(http_requests_total{job="app"})"#;
    eventually(
        "nines and prometheus to hold all three series",
        Duration::from_secs(45),
        || {
            let client = client.clone();
            let (nines, prometheus) = (nines.clone(), prometheus.clone());
            async move {
                let taken = remote_write_samples_taken(&client, &nines).await;
                let series =
                    prometheus_value(&client, &prometheus, all_series, unix_seconds()).await;
                (taken >= 3 && series == Some(3.0)).then_some(())
            }
        },
    )
    .await;
    let start = unix_seconds();

    // 15 s of irregular traffic: every 50 ms some requests, bursts of errors now and then.
    let began = Instant::now();
    let mut step = 0u64;
    while began.elapsed() < Duration::from_secs(15) {
        counters
            .ok
            .fetch_add(1 + (step * 7919) % 23, Ordering::SeqCst);
        if step.is_multiple_of(5) {
            counters
                .server_error
                .fetch_add(1 + step % 3, Ordering::SeqCst);
        }
        if step.is_multiple_of(11) {
            counters.unavailable.fetch_add(1, Ordering::SeqCst);
        }
        step += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (final_total, final_bad) = (counters.total(), counters.bad());

    // Flat again: wait until Prometheus scraped the last values, then until nines took three
    // scrapes' worth of samples more (one shard, in order), then for an evaluation after that.
    let total_query = r#"sum(http_requests_total{job="app"})"#;
    let bad_query = r#"sum(http_requests_total{job="app",code=~"5.."})"#;
    eventually(
        "prometheus to scrape the last values",
        Duration::from_secs(20),
        || {
            let client = client.clone();
            let prometheus = prometheus.clone();
            async move {
                let total =
                    prometheus_value(&client, &prometheus, total_query, unix_seconds()).await;
                (total == Some(final_total as f64)).then_some(())
            }
        },
    )
    .await;
    let taken_then = remote_write_samples_taken(&client, &nines).await;
    eventually(
        "nines to take three more scrapes",
        Duration::from_secs(20),
        || {
            let client = client.clone();
            let nines = nines.clone();
            async move {
                (remote_write_samples_taken(&client, &nines).await >= taken_then + 9).then_some(())
            }
        },
    )
    .await;
    let end = unix_seconds();
    let status = eventually(
        "an evaluation after the last sample",
        Duration::from_secs(20),
        || {
            let client = client.clone();
            let nines = nines.clone();
            async move {
                let slo = get_json(&client, &format!("{nines}/api/v1/slos/app-availability")).await;
                let evaluated: jiff::Timestamp =
                    slo["status"]["evaluated_at"].as_str()?.parse().ok()?;
                (evaluated.as_millisecond() as f64 / 1000.0 > end).then(|| slo["status"].clone())
            }
        },
    )
    .await;

    let value = |query: &'static str, time: f64| {
        let client = client.clone();
        let prometheus = prometheus.clone();
        async move {
            prometheus_value(&client, &prometheus, query, time)
                .await
                .unwrap_or_else(|| panic!("{query} at {time} is empty"))
        }
    };
    let promql_total = value(total_query, end).await - value(total_query, start).await;
    let promql_bad = value(bad_query, end).await - value(bad_query, start).await;
    let nines_total = status["total"].as_f64().expect("status.total");
    let nines_bad = status["bad"].as_f64().expect("status.bad");
    let nines_sli = status["sli"].as_f64().expect("status.sli");
    let promql_sli = 1.0 - promql_bad / promql_total;
    let relative = |ours: f64, theirs: f64| (ours - theirs).abs() / theirs.abs().max(1.0);
    eprintln!(
        "prometheus comparison over {:.1} s: nines bad/total {nines_bad}/{nines_total} (sli {nines_sli:.6}), \
         promql {promql_bad}/{promql_total} (sli {promql_sli:.6}); test's own counters {}/{}; \
         difference: total {:.4}%, bad {:.4}%, sli {:.6}%",
        end - start,
        final_bad - 10,
        final_total - 1010,
        relative(nines_total, promql_total) * 100.0,
        relative(nines_bad, promql_bad) * 100.0,
        relative(nines_sli, promql_sli) * 100.0,
    );
    let context = format!(
        "nines status {status}\nnines log:\n{}\nprometheus log:\n{}",
        nines_process.log(),
        prometheus_process.log()
    );
    assert!(promql_total > 1000.0, "too little traffic: {context}");
    assert!(promql_bad > 10.0, "too few errors: {context}");
    assert!(
        relative(nines_total, promql_total) <= 0.01,
        "total: nines {nines_total}, promql {promql_total}\n{context}"
    );
    assert!(
        relative(nines_bad, promql_bad) <= 0.01,
        "bad: nines {nines_bad}, promql {promql_bad}\n{context}"
    );
    assert!(
        relative(nines_sli, promql_sli) <= 0.01,
        "sli: nines {nines_sli}, promql {promql_sli}\n{context}"
    );
    drop(prometheus_process);
    drop(nines_process);
}

// ---------------------------------------------------------------------------------------------
// SIGKILL during sustained intake.

const KILL_SLO: &str = "kill-test";
const EVENTS_PER_REQUEST: u64 = 4;
const BAD_PER_REQUEST: u64 = 3;

/// What the sender knows after the server died under it.
struct Sent {
    /// Requests answered 2xx: durable.
    acknowledged: u64,
    /// Requests answered with an error status: nothing of them was changed.
    refused: u64,
    /// The request whose answer was lost when the server died; `true` when the connection was
    /// never made, so it cannot have landed.
    lost_never_connected: Option<bool>,
}

/// Posts `{"bad": 3, "total": 4}` one request after the other until a request fails.
async fn send_until_failure(
    client: reqwest::Client,
    nines: String,
    acknowledged: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> Sent {
    let url = format!("{nines}/api/v1/slos/{KILL_SLO}/events");
    let body = format!("{{\"bad\": {BAD_PER_REQUEST}, \"total\": {EVENTS_PER_REQUEST}}}");
    let mut refused = 0;
    while !stop.load(Ordering::SeqCst) {
        let answer = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => {
                acknowledged.fetch_add(1, Ordering::SeqCst);
            }
            Ok(_) => refused += 1,
            Err(err) => {
                return Sent {
                    acknowledged: acknowledged.load(Ordering::SeqCst),
                    refused,
                    lost_never_connected: Some(err.is_connect()),
                };
            }
        }
    }
    Sent {
        acknowledged: acknowledged.load(Ordering::SeqCst),
        refused,
        lost_never_connected: None,
    }
}

/// The alert transitions of the event log, as (id, kind, severity, at).
async fn alert_events(client: &reqwest::Client, nines: &str) -> Vec<(i64, String, String, String)> {
    let events = get_json(
        client,
        &format!("{nines}/api/v1/events?slo={KILL_SLO}&limit=1000"),
    )
    .await;
    events["events"]
        .as_array()
        .expect("events array")
        .iter()
        .filter(|event| {
            event["kind"]
                .as_str()
                .is_some_and(|kind| kind.starts_with("alert."))
        })
        .map(|event| {
            (
                event["id"].as_i64().unwrap_or_default(),
                event["kind"].as_str().unwrap_or_default().to_string(),
                event["payload"]["severity"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                event["at"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_intake_loses_no_acknowledged_event_and_no_alert() {
    let dir = TempDir::new("sigkill");
    let client = client();
    let config = dir.path().join("slos.yaml");
    std::fs::write(
        &config,
        format!(
            "version: nines/v1\nservices:\n  - id: app\nslos:\n  - id: {KILL_SLO}\n    service: app\n    objective_percent: 99.9\n    \
             window: 30d\n    runbook: https://runbooks.example.com/app\n    sli: {{pushed: {{}}}}\n"
        ),
    )
    .expect("write slos.yaml");
    let database = dir.path().join("nines.db");
    let (mut first, nines) = start_nines(&config, &database).await;

    let acknowledged = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = tokio::spawn(send_until_failure(
        client.clone(),
        nines.clone(),
        acknowledged.clone(),
        stop.clone(),
    ));

    // 75% bad: the page pair fires at the first evaluation that has the traffic guard's 10
    // events. Wait for its transition in the durable event log, not only in memory.
    let fired = eventually("the page to fire", Duration::from_secs(30), || {
        let client = client.clone();
        let nines = nines.clone();
        async move {
            let events = alert_events(&client, &nines).await;
            events
                .iter()
                .any(|(_, kind, severity, _)| kind == "alert.fired" && severity == "page")
                .then_some(events)
        }
    })
    .await;
    // More intake after the page, then SIGKILL in the middle of it.
    let before_kill = acknowledged.load(Ordering::SeqCst);
    eventually(
        "more acknowledged requests after the page",
        Duration::from_secs(30),
        || {
            let acknowledged = acknowledged.clone();
            async move { (acknowledged.load(Ordering::SeqCst) >= before_kill + 50).then_some(()) }
        },
    )
    .await;
    first.kill();
    let first_log = first.log();
    let sent = tokio::time::timeout(Duration::from_secs(30), sender)
        .await
        .expect("the sender notices the dead server within 30 s")
        .expect("the sender task");
    stop.store(true, Ordering::SeqCst);
    assert_eq!(
        sent.refused, 0,
        "requests refused before the kill:\n{first_log}"
    );
    let lost_never_connected = sent
        .lost_never_connected
        .expect("the sender stopped on a failed request");

    let (second, nines) = start_nines(&config, &database).await;
    let restarted = unix_seconds();
    let slo_url = format!("{nines}/api/v1/slos/{KILL_SLO}");
    // Three evaluations after the restart, so a page wrongly fired again would be in the log.
    let slo = eventually(
        "three evaluations after the restart",
        Duration::from_secs(30),
        || {
            let client = client.clone();
            let slo_url = slo_url.clone();
            async move {
                let slo = get_json(&client, &slo_url).await;
                let evaluated: jiff::Timestamp =
                    slo["status"]["evaluated_at"].as_str()?.parse().ok()?;
                (evaluated.as_millisecond() as f64 / 1000.0 > restarted + 3.0).then_some(slo)
            }
        },
    )
    .await;
    let context = format!(
        "slo {slo}\nfirst server's log:\n{first_log}\nsecond server's log:\n{}",
        second.log()
    );

    let total = slo["status"]["total"].as_u64().expect("status.total");
    let bad = slo["status"]["bad"].as_u64().expect("status.bad");
    let acknowledged_events = sent.acknowledged * EVENTS_PER_REQUEST;
    eprintln!(
        "sigkill: {} requests acknowledged ({acknowledged_events} events), the lost one {}; \
         after the restart total {total}, bad {bad}",
        sent.acknowledged,
        if lost_never_connected {
            "never connected"
        } else {
            "may have landed"
        }
    );
    // The request whose answer the kill cut off is durable or not, whole: its one
    // transaction committed or it did not. A connection never made cannot have landed.
    let possible: Vec<u64> = if lost_never_connected {
        vec![acknowledged_events]
    } else {
        vec![
            acknowledged_events,
            acknowledged_events + EVENTS_PER_REQUEST,
        ]
    };
    assert!(
        possible.contains(&total),
        "total {total} not in {possible:?}\n{context}"
    );
    assert_eq!(
        bad * EVENTS_PER_REQUEST,
        total * BAD_PER_REQUEST,
        "{context}"
    );

    // The page: the same transitions as before the kill (none lost, none fired again), and the
    // alert still firing since the instant it fired.
    let after = alert_events(&client, &nines).await;
    assert_eq!(
        after, fired,
        "alert transitions changed across the restart\n{context}"
    );
    let pages: Vec<_> = after
        .iter()
        .filter(|(_, kind, severity, _)| kind == "alert.fired" && severity == "page")
        .collect();
    assert_eq!(pages.len(), 1, "{after:?}\n{context}");
    let burn_rate = &slo["alerts"]["burn_rate"];
    assert_eq!(burn_rate["state"], "firing", "{context}");
    assert_eq!(burn_rate["severity"], "page", "{context}");
    let since: jiff::Timestamp = burn_rate["since"]
        .as_str()
        .and_then(|text| text.parse().ok())
        .expect("alerts.burn_rate.since");
    let fired_at: jiff::Timestamp = pages[0].3.parse().expect("event at");
    assert_eq!(since, fired_at, "{context}");
    let firing = get_json(&client, &format!("{nines}/api/v1/alerts")).await;
    let firing: Vec<&Value> = firing["alerts"]
        .as_array()
        .expect("alerts array")
        .iter()
        .filter(|alert| alert["slo"] == KILL_SLO)
        .collect();
    assert_eq!(firing.len(), 1, "{firing:?}\n{context}");
    drop(second);
}

const BATCH_SLO: &str = "batch-jobs";

/// Remote-write request number `index`: one sample of each of two counters, `ok` growing by 1
/// and `failed` by 3 per request, 10 ms apart. Request 0 is the baseline.
fn batch_request(index: u64, base_ms: i64) -> Vec<u8> {
    use nines_server::intake::remote_write::{Label, Sample, TimeSeries, WriteRequest, encode};
    let timestamp = base_ms + index as i64 * 10;
    let series = |outcome: &str, value: u64| TimeSeries {
        labels: vec![
            Label::new("__name__", "jobs_total"),
            Label::new("job", "batch"),
            Label::new("outcome", outcome),
        ],
        samples: vec![Sample {
            value: value as f64,
            timestamp,
        }],
    };
    encode(&WriteRequest {
        timeseries: vec![series("ok", index), series("failed", 3 * index)],
        metadata: Vec::new(),
    })
}

async fn post_remote_write(
    client: &reqwest::Client,
    nines: &str,
    body: Vec<u8>,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{nines}/api/v1/write"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "snappy")
        .header("x-prometheus-remote-write-version", "0.1.0")
        .body(body)
        .send()
        .await
}

/// What Prometheus does across a crash of its receiver: it resends the request whose answer it
/// lost. Whether or not that request had landed, each sample must count once (the counter
/// state is durable with the counts, and a sample at or before the series' last timestamp is
/// ignored).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_remote_write_then_a_resend_counts_every_sample_once() {
    let dir = TempDir::new("sigkill-remote-write");
    let client = client();
    let config = dir.path().join("slos.yaml");
    std::fs::write(
        &config,
        format!(
            "version: nines/v1\nservices:\n  - id: batch\nslos:\n  - id: {BATCH_SLO}\n    service: batch\n    \
             objective_percent: 99\n    window: 30d\n    runbook: https://runbooks.example.com/batch\n    \
             sli:\n      ratio:\n        total: jobs_total{{job=\"batch\"}}\n        \
             bad: jobs_total{{job=\"batch\",outcome=\"failed\"}}\n"
        ),
    )
    .expect("write slos.yaml");
    let database = dir.path().join("nines.db");
    let (mut first, nines) = start_nines(&config, &database).await;
    // Samples are 10 ms apart whatever the pace of the requests: starting a minute back keeps
    // them all behind the clock, so the evaluation after the restart covers every one (starting
    // at now, a fast sender ran ahead into the next minute, which that evaluation did not see).
    let base_ms = (unix_seconds() * 1000.0) as i64 - 60_000;

    let acknowledged = Arc::new(AtomicU64::new(0));
    let sender = {
        let (client, nines, acknowledged) = (client.clone(), nines.clone(), acknowledged.clone());
        tokio::spawn(async move {
            let mut index = 0u64;
            loop {
                match post_remote_write(&client, &nines, batch_request(index, base_ms)).await {
                    Ok(response) if response.status().is_success() => {
                        acknowledged.store(index + 1, Ordering::SeqCst);
                        index += 1;
                    }
                    Ok(response) => {
                        panic!("request {index} refused: {}", response.status())
                    }
                    // The request whose answer was lost: it may or may not have landed.
                    Err(_) => return index,
                }
            }
        })
    };
    eventually("200 acknowledged requests", Duration::from_secs(30), || {
        let acknowledged = acknowledged.clone();
        async move { (acknowledged.load(Ordering::SeqCst) >= 200).then_some(()) }
    })
    .await;
    first.kill();
    let first_log = first.log();
    let lost = tokio::time::timeout(Duration::from_secs(30), sender)
        .await
        .expect("the sender notices the dead server within 30 s")
        .expect("the sender task");

    let (second, nines) = start_nines(&config, &database).await;
    let resend = post_remote_write(&client, &nines, batch_request(lost, base_ms))
        .await
        .expect("resend the lost request");
    assert!(resend.status().is_success(), "resend: {}", resend.status());
    let resent = unix_seconds();
    let slo_url = format!("{nines}/api/v1/slos/{BATCH_SLO}");
    let slo = eventually(
        "an evaluation after the resend",
        Duration::from_secs(20),
        || {
            let client = client.clone();
            let slo_url = slo_url.clone();
            async move {
                let slo = get_json(&client, &slo_url).await;
                let evaluated: jiff::Timestamp =
                    slo["status"]["evaluated_at"].as_str()?.parse().ok()?;
                (evaluated.as_millisecond() as f64 / 1000.0 > resent).then_some(slo)
            }
        },
    )
    .await;
    eprintln!(
        "sigkill during remote write: requests 0..{lost} acknowledged, request {lost} lost and resent; \
         after the restart total {}, bad {}",
        slo["status"]["total"], slo["status"]["bad"]
    );
    // Requests 1..=lost each add 1 + 3 events, 3 of them bad; request 0 is the baseline.
    assert_eq!(
        (
            slo["status"]["total"].as_u64(),
            slo["status"]["bad"].as_u64()
        ),
        (Some(4 * lost), Some(3 * lost)),
        "{slo}\nfirst server's log:\n{first_log}\nsecond server's log:\n{}",
        second.log()
    );
    drop(second);
}
