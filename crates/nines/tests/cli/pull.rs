//! The PromQL pull source against a real Prometheus (Debian's package) loaded with 29 days of
//! known history by `promtool tsdb create-blocks-from openmetrics`: after the backfill, the
//! 28-day budget and every burn rate nines computes equal what the history says, exactly; when
//! Prometheus goes away the SLO says so (naming the SLO and the query) and the minutes stay
//! missing; when it is back they are caught up.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use nines_server::server::{self, Running, ServerConfig};
use serde_json::Value;

use crate::support::{Process, TempDir, client, find_in_path, free_port, skip_or_fail};

const SLO: &str = "checkout-availability";
const SCRAPE_SECONDS: i64 = 30;
const DAYS: i64 = 29;

/// The history written into Prometheus: every sample of every series, and the events each
/// minute holds the way nines reads counters (the value at each minute edge, differenced).
struct History {
    lines: String,
    /// minute -> (bad, total)
    minutes: BTreeMap<i64, (u64, u64)>,
}

/// Three series of `http_requests_total` scraped every 30 s up to `end` (an hour edge):
/// `code="200"` with a counter reset ten days back, `code="500"` with a slow background of
/// errors and an outage from 90 to 20 minutes before the end, and `code="503"` that starts
/// three days back at zero.
fn history(end: i64) -> History {
    let start = end - DAYS * 86_400;
    let mut lines = String::from("# TYPE http_requests counter\n");
    let mut minutes: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    // The minute a sample's increase lands in: the edge at or after it closes that minute.
    let minute_of = |t: i64| (t - 1).div_euclid(60);
    let mut series =
        |code: &str, first: i64, reset_at: Option<i64>, increment: &dyn Fn(i64, i64) -> u64| {
            let bad = code.starts_with('5');
            let mut value: u64 = 0;
            let mut t = first;
            let mut k = 0;
            while t <= end {
                if k > 0 {
                    let inc = increment(k, t);
                    if reset_at == Some(t) {
                        // The process restarted: the counter begins again and has counted `inc`.
                        value = inc;
                    } else {
                        value += inc;
                    }
                    let slot = minutes.entry(minute_of(t)).or_default();
                    slot.1 += inc;
                    if bad {
                        slot.0 += inc;
                    }
                }
                lines.push_str(&format!(
                    "http_requests_total{{code=\"{code}\"}} {value} {t}\n"
                ));
                t += SCRAPE_SECONDS;
                k += 1;
            }
        };
    let reset = start + 19 * 86_400 + 30;
    series("200", start, Some(reset), &|k, _| 20 + (k % 7) as u64);
    let outage = (end - 90 * 60, end - 20 * 60);
    series("500", start, None, &|k, t| {
        if t > outage.0 && t <= outage.1 {
            5
        } else {
            u64::from(k % 97 == 0)
        }
    });
    series("503", end - 3 * 86_400, None, &|k, _| {
        u64::from(k % 50 == 0)
    });
    lines.push_str("# EOF\n");
    History { lines, minutes }
}

impl History {
    /// (bad, total) of the minutes in `[from, to)`.
    fn between(&self, from: i64, to: i64) -> (u64, u64) {
        self.minutes
            .range(from..to)
            .fold((0, 0), |(bad, total), (_, (b, t))| (bad + b, total + t))
    }
}

/// A scrape target with one gauge, so that Prometheus' metadata knows a gauge.
async fn serve_gauge() -> std::net::SocketAddr {
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            "# HELP queue_depth Jobs waiting.\n# TYPE queue_depth gauge\nqueue_depth 3\n"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    address
}

async fn start_prometheus(
    binary: &Path,
    dir: &Path,
    port: u16,
    target: std::net::SocketAddr,
) -> Process {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: gauge\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .expect("write prometheus.yml");
    let mut command = Command::new(binary);
    command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg("--storage.tsdb.retention.time=90d")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let process = Process::spawn("prometheus", command);
    let ready = format!("http://127.0.0.1:{port}/-/ready");
    let client = client();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = client.get(&ready).send().await
            && response.status().is_success()
        {
            return process;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus not ready after 60 s:\n{}",
            process.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn config(prometheus: &str) -> String {
    format!(
        r#"version: nines/v1
sources:
  - id: prom
    kind: prometheus
    url: {prometheus}
    delay: 0s
    timeout: 5s
    default: true
services:
  - id: checkout
slos:
  - id: {SLO}
    service: checkout
    objective_percent: 99.9
    window: 28d
    sli:
      source: prom
      ratio:
        bad: http_requests_total{{code=~"5.."}}
        total: http_requests_total
"#
    )
}

/// The same SLO as Sloth writes it (taking the default source) and as OpenSLO does (with a
/// Prometheus DataSource of its own), both over 28 days.
fn other_formats(prometheus: &str) -> (String, String) {
    let sloth = r#"version: prometheus/v1
service: checkout
slos:
  - name: sloth
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      page_alert: {disable: true}
      ticket_alert: {disable: true}
"#
    .to_string();
    let openslo = format!(
        r#"apiVersion: openslo/v1
kind: DataSource
metadata:
  name: prom-openslo
spec:
  type: Prometheus
  connectionDetails:
    url: {prometheus}
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-openslo
spec:
  service: checkout
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 28d
      isRolling: true
  indicator:
    metadata:
      name: checkout-openslo-sli
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            metricSourceRef: prom-openslo
            type: Prometheus
            spec:
              query: sum(http_requests_total{{code="200"}})
        total:
          metricSource:
            metricSourceRef: prom-openslo
            type: Prometheus
            spec:
              query: sum(http_requests_total)
  objectives:
    - displayName: ok
      target: 0.999
"#
    );
    (sloth, openslo)
}

async fn pull_status(client: &reqwest::Client, nines: &str, id: &str) -> Value {
    let response = client
        .get(format!("{nines}/api/v1/slos/{id}/backfill"))
        .send()
        .await
        .expect("nines answers");
    assert_eq!(response.status().as_u16(), 200);
    response.json::<Value>().await.expect("JSON")["pull"].clone()
}

async fn wait_for_pull(
    client: &reqwest::Client,
    nines: &str,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = pull_status(client, nines, id).await;
        if done(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "{what}: {status:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The SLO evaluated at `at` from what the store holds, as a restart would see it.
async fn evaluate_store(
    catalog: &nines_spec::Catalog,
    store: &dyn nines_store::Store,
    at: Timestamp,
) -> nines_core::Evaluation {
    evaluate_slo(catalog, store, at, SLO).await
}

async fn evaluate_slo(
    catalog: &nines_spec::Catalog,
    store: &dyn nines_store::Store,
    at: Timestamp,
    id: &str,
) -> nines_core::Evaluation {
    let (mut fleet, _) = server::recover(catalog, store, at).await.expect("recover");
    fleet.evaluate(at);
    fleet
        .get(id)
        .and_then(|entry| entry.last.clone())
        .expect("evaluated")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_prometheus_history_gives_the_exact_budget_and_burn_rates() {
    let (Some(prometheus_binary), Some(promtool)) =
        (find_in_path("prometheus"), find_in_path("promtool"))
    else {
        skip_or_fail("prometheus and promtool");
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = TempDir::new("pull");
    let now = Timestamp::now().as_second();
    let end = now.div_euclid(3600) * 3600;
    let history = history(end);
    let input = dir.path().join("history.om");
    std::fs::write(&input, &history.lines).expect("write history");
    let output = Command::new(&promtool)
        .args([
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=24h",
        ])
        .arg(&input)
        .arg(dir.path().join("data"))
        .output()
        .expect("run promtool");
    assert!(
        output.status.success(),
        "promtool failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let port = free_port();
    let target = serve_gauge().await;
    let mut prometheus = start_prometheus(&prometheus_binary, dir.path(), port, target).await;
    let prometheus_url = format!("http://127.0.0.1:{port}");

    let config_path = dir.path().join("nines.yaml");
    std::fs::write(&config_path, config(&prometheus_url)).expect("write config");
    let (sloth, openslo) = other_formats(&prometheus_url);
    let sloth_path = dir.path().join("sloth.yaml");
    std::fs::write(&sloth_path, sloth).expect("write sloth spec");
    let openslo_path = dir.path().join("openslo.yaml");
    std::fs::write(&openslo_path, openslo).expect("write openslo spec");
    let loaded = nines_spec::load(
        &[config_path.clone(), sloth_path, openslo_path],
        &nines_spec::LoadOptions {
            default_period: nines_core::Span::days(28),
            ..nines_spec::LoadOptions::default()
        },
    );
    assert!(!loaded.report.has_errors(), "{}", loaded.report);
    let database = format!("sqlite://{}", dir.path().join("nines.db").display());
    let store = nines_store::open(&database).await.expect("open store");
    let running: Running = server::start(
        loaded.catalog.clone(),
        store.clone(),
        ServerConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            evaluation_interval: Duration::from_millis(200),
            ..ServerConfig::default()
        },
    )
    .await
    .expect("nines starts");
    let nines = format!("http://{}", running.address);
    let client = client();

    // The backfill runs in chunks; the API tells its progress until it is live.
    let live = wait_for_pull(&client, &nines, SLO, "backfill to finish", |status| {
        status["state"] == "live"
    })
    .await;
    assert_eq!(live["source"], "prom");
    assert_eq!(live["failures"], 0);
    assert_eq!(live["missing_minutes"], 0);
    let states = store.pull_states().await.expect("pull states");
    let backfill_from = states[0].backfill_from;
    assert_eq!(backfill_from % 60, 0, "backfills start at hour edges");

    // The live evaluation: its 28-day budget counts exactly the history's events from where
    // its window starts (a bucket edge it reports).
    let caught_up = Timestamp::now();
    let slo: Value = loop {
        let slo: Value = client
            .get(format!("{nines}/api/v1/slos/{SLO}"))
            .send()
            .await
            .expect("nines answers")
            .json()
            .await
            .expect("JSON");
        let evaluated = slo["status"]["evaluated_at"]
            .as_str()
            .and_then(|text| text.parse::<Timestamp>().ok());
        if evaluated.is_some_and(|at| at > caught_up) {
            break slo;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let status = &slo["status"];
    let window_start: Timestamp = status["window_start"]
        .as_str()
        .expect("window start")
        .parse()
        .expect("RFC 3339");
    let (bad, total) = history.between(window_start.as_second() / 60, i64::MAX);
    assert_eq!(
        (status["bad"].as_u64(), status["total"].as_u64()),
        (Some(bad), Some(total)),
        "live budget over the window from {window_start}"
    );
    assert_eq!(status["partial_window"], false);

    // The same store read back at an instant whose windows all start on hour edges: the
    // 28-day budget and every pair's burn rates, from the history by hand.
    let window_end = (backfill_from + 28 * 1440).min(end / 60);
    let at = Timestamp::from_second(window_end * 60 - 30).expect("instant");
    let evaluation = evaluate_store(&loaded.catalog, store.as_ref(), at).await;
    let (bad, total) = history.between(window_end - 28 * 1440, window_end);
    assert!(
        bad > 0 && total > 1_000_000,
        "a history worth testing: {bad}/{total}"
    );
    assert_eq!((evaluation.bad, evaluation.total), (bad, total));
    let budget_share = 1.0 - 0.999;
    let expected_burn = |minutes: i64| {
        let (bad, total) = history.between(window_end - minutes, window_end);
        (bad as f64 / total as f64) / budget_share
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    for reading in &evaluation.pairs {
        for (window, rate) in [
            (reading.pair.long_window, reading.long_burn_rate),
            (reading.pair.short_window, reading.short_burn_rate),
        ] {
            let expected = expected_burn(window.whole_minutes());
            let rate = rate.expect("traffic in every window");
            assert!(close(rate, expected), "{window}: {rate} != {expected}");
        }
    }
    // Sloth's spec (its {{.window}} queries filled with 1m: the scrapes sit on minute edges, so
    // PromQL's rate has nothing to extrapolate) and OpenSLO's (sum of counters, read series by
    // series across the reset) give the same budget.
    for id in ["checkout-sloth", "checkout-openslo"] {
        wait_for_pull(&client, &nines, id, &format!("{id} to be live"), |status| {
            status["state"] == "live"
        })
        .await;
        let other = evaluate_slo(&loaded.catalog, store.as_ref(), at, id).await;
        assert_eq!((other.bad, other.total), (bad, total), "{id}");
    }

    // The outage burns the hour fast enough to page (if the instant is still inside it).
    if window_end == end / 60 {
        assert!(
            evaluation.pairs.iter().any(|reading| reading.fires()),
            "{:?}",
            evaluation.pairs
        );
    }

    // `validate --check-sources` runs every query once: this one is fine, one that gives a
    // series per code where one is expected is not, and neither is a source nobody answers at.
    let validate = |text: String, name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write config");
        let output = Command::new(env!("CARGO_BIN_EXE_nines"))
            .args(["validate", "--check-sources"])
            .arg(&path)
            .output()
            .expect("run nines validate");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    let (code, stderr) = validate(config(&prometheus_url), "good.yaml");
    assert_eq!(code, Some(0), "{stderr}");
    let per_code = config(&prometheus_url).replace(
        "      ratio:\n        bad: http_requests_total{code=~\"5..\"}\n        total: http_requests_total\n",
        "      queries:\n        error_query: sum(rate(http_requests_total{code=~\"5..\"}[{{.window}}]))\n        total_query: rate(http_requests_total[{{.window}}])\n",
    );
    assert!(per_code.contains("total_query"), "{per_code}");
    let (code, stderr) = validate(per_code, "per-code.yaml");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("series where one is expected"), "{stderr}");
    assert!(stderr.contains(SLO), "{stderr}");
    // A gauge read as a counter: Prometheus' metadata (once it has scraped the target) says so.
    let gauge =
        config(&prometheus_url).replace("total: http_requests_total\n", "total: queue_depth\n");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, stderr) = validate(gauge.clone(), "gauge.yaml");
        if stderr.contains("queue_depth is a gauge") {
            assert_eq!(code, Some(1), "{stderr}");
            break;
        }
        assert!(Instant::now() < deadline, "no gauge error: {stderr}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (code, stderr) = validate(
        config(&format!("http://127.0.0.1:{}", free_port())),
        "nobody.yaml",
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot reach"), "{stderr}");

    // Prometheus goes away, and the last hours are to be pulled again: the SLO names itself,
    // the query and the failure, and nothing is counted in the meantime.
    prometheus.kill();
    let from = Timestamp::from_second((end - 3 * 3600).max(backfill_from * 60)).expect("instant");
    let response = client
        .post(format!("{nines}/api/v1/slos/{SLO}/backfill"))
        .json(&serde_json::json!({ "from": from.to_string() }))
        .send()
        .await
        .expect("nines answers");
    assert_eq!(response.status().as_u16(), 202);
    let failing = wait_for_pull(&client, &nines, SLO, "a failed pull", |status| {
        status["state"] == "failing"
    })
    .await;
    let error = failing["last_error"]
        .as_str()
        .expect("an error")
        .to_string();
    assert!(error.contains(SLO), "{error}");
    assert!(error.contains("http_requests_total"), "{error}");
    assert!(error.contains(&prometheus_url), "{error}");
    assert!(
        failing["backfill"]["progress"].as_f64() < Some(1.0),
        "{failing:#}"
    );

    // Back on the same port: the minutes are pulled again, once, and it is live again.
    let _prometheus = start_prometheus(&prometheus_binary, dir.path(), port, target).await;
    wait_for_pull(
        &client,
        &nines,
        SLO,
        "catch-up after the outage",
        |status| status["state"] == "live" && status["behind_minutes"].as_i64() == Some(0),
    )
    .await;
    let again = evaluate_store(&loaded.catalog, store.as_ref(), at).await;
    assert_eq!(
        (again.bad, again.total),
        (bad, total),
        "pulled twice, counted once"
    );

    // The CLI does the same and follows it to the end, as JSON lines.
    let server_url = nines.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_nines"))
            .args([
                "backfill", SLO, "--from", "2h", "--output", "json", "--server",
            ])
            .arg(&server_url)
            .output()
            .expect("run nines backfill")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert!(lines[0]["pull"]["backfill"]["from"].is_string(), "{stdout}");
    assert_eq!(
        lines.last().expect("lines")["pull"]["state"],
        "live",
        "{stdout}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_nines"))
        .args([
            "backfill",
            SLO,
            "--from",
            "next tuesday",
            "--server",
            &nines,
        ])
        .output()
        .expect("run nines backfill");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("neither an RFC 3339 instant"));
    running.stop().await;

    // A backfill interrupted halfway resumes from its watermark: a new store holding the
    // first ten days (state and counts, as a killed server leaves them) ends with every minute
    // counted once. The seeded days carry a marker (1,000 more events in their first minute)
    // that a backfill starting over would have deleted, and pulling them again would double.
    let resumed_store = nines_store::open(&format!(
        "sqlite://{}",
        dir.path().join("resumed.db").display()
    ))
    .await
    .expect("open store");
    let halfway = backfill_from + 10 * 1440;
    let counts = history
        .minutes
        .range(backfill_from..halfway)
        .map(|(minute, (bad, total))| nines_store::CountRow {
            slo_id: SLO.to_string(),
            minute: *minute,
            bucket_minutes: 1,
            counted: *bad as i64,
            total: *total as i64 + if *minute == backfill_from { 1000 } else { 0 },
        })
        .collect();
    let written = resumed_store
        .commit_pull(&nines_store::PullCommit {
            expected_until: None,
            state: nines_store::PullState {
                slo_id: SLO.to_string(),
                pulled_until: halfway,
                backfill_from,
                updated_ms: 0,
            },
            counts,
        })
        .await
        .expect("seed the store");
    assert!(written);
    let resumed = server::start(
        loaded.catalog.clone(),
        resumed_store.clone(),
        ServerConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            ..ServerConfig::default()
        },
    )
    .await
    .expect("nines starts");
    let resumed_url = format!("http://{}", resumed.address);
    wait_for_pull(
        &client,
        &resumed_url,
        SLO,
        "the resumed backfill",
        |status| status["state"] == "live",
    )
    .await;
    let after = evaluate_store(&loaded.catalog, resumed_store.as_ref(), at).await;
    let marker = if window_end - 28 * 1440 <= backfill_from {
        1000
    } else {
        0
    };
    assert_eq!(
        (after.bad, after.total),
        (bad, total + marker),
        "resumed, counted once"
    );
    resumed.stop().await;
}
