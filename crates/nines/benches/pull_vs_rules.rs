//! Pull mode against recording rules, on one real Prometheus in one run: the same 1,000 Sloth
//! SLOs evaluated (a) by Prometheus, from the rules `nines generate prometheus` writes for them
//! (Sloth's rules), and (b) by nines, pulling each SLO's one-minute increases by range query
//! and keeping long windows in its own buckets.
//!
//! Reported: Prometheus' own time to evaluate every rule group once (`evaluationTime` of
//! `/api/v1/rules`, summed over the groups), and the wall time of one nines pull cycle (every
//! SLO's new minute: its queries, Prometheus answering them, and the store commit), as medians
//! of three cycles each, and their ratio.
//!
//! `cargo bench -p nines --bench pull_vs_rules` (needs `prometheus` and `promtool` on PATH).
//! `NINES_BENCH_SLOS` (default 1000) and `NINES_BENCH_HOURS` of history (default 24) change the
//! size.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use nines_server::server::{self, ServerConfig};
use serde_json::Value;

fn find_in_path(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|folder| folder.join(binary))
        .find(|candidate| candidate.is_file())
}

fn env_number(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Two counters per service, scraped every minute for `hours` up to `end`.
fn write_history(path: &Path, slos: i64, hours: i64, end: i64) {
    use std::io::Write;
    let file = std::fs::File::create(path).expect("create history");
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "# TYPE http_requests counter").expect("write");
    for service in 0..slos {
        for (code, per_minute) in [("200", 600 + service % 50), ("500", 1 + service % 3)] {
            let mut value = 0;
            for minute in 0..=hours * 60 {
                let t = end - (hours * 60 - minute) * 60;
                writeln!(
                    out,
                    "http_requests_total{{service=\"svc{service}\",code=\"{code}\"}} {value} {t}"
                )
                .expect("write");
                value += per_minute;
            }
        }
    }
    writeln!(out, "# EOF").expect("write");
}

fn sloth_specs(slos: i64) -> String {
    let mut text = String::new();
    for service in 0..slos {
        let _ = write!(
            text,
            r#"---
version: prometheus/v1
service: svc{service}
slos:
  - name: requests-availability
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{{service="svc{service}",code=~"5.."}}[{{{{.window}}}}]))
        total_query: sum(rate(http_requests_total{{service="svc{service}"}}[{{{{.window}}}}]))
    alerting:
      name: Svc{service}Availability
      page_alert:
        labels:
          severity: page
      ticket_alert:
        labels:
          severity: ticket
"#
        );
    }
    text
}

async fn rule_evaluation_seconds(client: &reqwest::Client, prometheus: &str) -> (f64, usize, f64) {
    let rules: Value = client
        .get(format!("{prometheus}/api/v1/rules"))
        .send()
        .await
        .expect("rules")
        .json()
        .await
        .expect("rules JSON");
    let groups = rules["data"]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let evaluated: Vec<&Value> = groups
        .iter()
        .filter(|group| group["evaluationTime"].as_f64().unwrap_or(0.0) > 0.0)
        .collect();
    let total: f64 = evaluated
        .iter()
        .map(|group| group["evaluationTime"].as_f64().unwrap_or(0.0))
        .sum();
    let oldest = evaluated
        .iter()
        .filter_map(|group| group["lastEvaluation"].as_str()?.parse::<Timestamp>().ok())
        .map(|at| at.as_second() as f64)
        .fold(f64::INFINITY, f64::min);
    (total, evaluated.len().min(groups.len()), oldest)
}

fn main() {
    let (Some(prometheus_binary), Some(promtool)) =
        (find_in_path("prometheus"), find_in_path("promtool"))
    else {
        eprintln!("prometheus and promtool must be on PATH");
        std::process::exit(2);
    };
    let slos = env_number("NINES_BENCH_SLOS", 1000);
    let hours = env_number("NINES_BENCH_HOURS", 24);
    let dir = std::env::temp_dir().join(format!("nines-pull-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let now = Timestamp::now().as_second();
    let end = now.div_euclid(60) * 60;

    eprintln!("writing {hours} h of history for {slos} SLOs ...");
    let history = dir.join("history.om");
    write_history(&history, slos, hours, end);
    let started = Instant::now();
    let status = Command::new(&promtool)
        .args([
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--quiet",
            "--max-block-duration=24h",
        ])
        .arg(&history)
        .arg(dir.join("data"))
        .status()
        .expect("promtool");
    assert!(status.success(), "promtool failed");
    let _ = std::fs::remove_file(&history);
    eprintln!("blocks created in {:.1} s", started.elapsed().as_secs_f64());

    let specs = dir.join("slos.yaml");
    std::fs::write(&specs, sloth_specs(slos)).expect("write specs");
    let loaded = nines_spec::load(
        std::slice::from_ref(&specs),
        &nines_spec::LoadOptions::default(),
    );
    assert!(!loaded.report.has_errors(), "{}", loaded.report);
    let options = nines_spec::generate::GenerateOptions::default();
    let generated =
        nines_spec::generate::generate(&loaded.catalog, &options).expect("rules generate");
    // One file per spec document: Prometheus reads only the first document of a file.
    for (index, file) in generated.files.iter().enumerate() {
        let rules = nines_spec::generate::to_yaml(std::slice::from_ref(file), &options)
            .expect("rules YAML");
        std::fs::write(dir.join(format!("rules-{index}.yaml")), rules).expect("write rules");
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  evaluation_interval: 30s\nrule_files:\n  - rules-*.yaml\n",
    )
    .expect("write prometheus.yml");
    let prometheus = Killed(
        Command::new(&prometheus_binary)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg("--storage.tsdb.retention.time=90d")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let prometheus_url = format!("http://127.0.0.1:{port}");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        loop {
            if let Ok(response) = client.get(format!("{prometheus_url}/-/ready")).send().await
                && response.status().is_success()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // Prometheus: three rounds of every group after the first full one.
        eprintln!("waiting for Prometheus to evaluate every rule group ...");
        let mut rounds = Vec::new();
        let mut last_round = 0.0;
        let mut groups = 0;
        while rounds.len() < 3 {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let (total, evaluated, oldest) = rule_evaluation_seconds(&client, &prometheus_url).await;
            groups = groups.max(evaluated);
            if evaluated > 0 && oldest.is_finite() && oldest > last_round + 29.0 {
                if last_round > 0.0 {
                    eprintln!("  rules: {total:.3} s over {evaluated} groups");
                    rounds.push(total);
                }
                last_round = oldest;
            }
        }
        let rules_seconds = median(rounds);

        // nines: the same SLOs, pulled from the same Prometheus.
        let sources = dir.join("sources.yaml");
        std::fs::write(
            &sources,
            format!(
                "version: nines/v1\nsources:\n  - id: prom\n    kind: prometheus\n    url: {prometheus_url}\n    delay: 0s\n    chunk: 7d\n    default: true\n"
            ),
        )
        .expect("write sources");
        let loaded = nines_spec::load(
            &[specs.clone(), sources],
            &nines_spec::LoadOptions::default(),
        );
        assert!(!loaded.report.has_errors(), "{}", loaded.report);
        let store = nines_store::open(&format!("sqlite://{}", dir.join("nines.db").display()))
            .await
            .expect("store");
        let running = server::start(
            loaded.catalog,
            store,
            ServerConfig {
                listen: "127.0.0.1:0".parse().expect("address"),
                pull_tick: Duration::from_secs(3600),
                ..ServerConfig::default()
            },
        )
        .await
        .expect("nines starts");
        let state = running.state.clone();
        let pulls = Arc::clone(&state.pulls);
        eprintln!("nines: backfilling {slos} SLOs ...");
        let started = Instant::now();
        loop {
            let behind = pulls
                .slos
                .iter()
                .filter(|slo| {
                    pulls
                        .status(&slo.id)
                        .is_none_or(|(status, _)| status.backfill.is_some() || status.pulled_until.is_none())
                })
                .count();
            if behind == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let backfill_seconds = started.elapsed().as_secs_f64();
        eprintln!("  backfill: {backfill_seconds:.1} s");
        let mut cycles = Vec::new();
        for _ in 0..3 {
            // At the next minute edge every SLO has one new minute to pull.
            let now = Timestamp::now().as_millisecond();
            let next_edge = (now / 60_000 + 1) * 60_000 + 500;
            tokio::time::sleep(Duration::from_millis((next_edge - now) as u64)).await;
            let started = Instant::now();
            nines_server::pull::task::pull_all(&state, &pulls).await;
            let seconds = started.elapsed().as_secs_f64();
            eprintln!("  pull cycle: {seconds:.3} s");
            cycles.push(seconds);
        }
        let pull_seconds = median(cycles);
        // The server stops once the last handle on its state is gone.
        drop(pulls);
        drop(state);
        running.stop().await;
        println!("SLOs: {slos}, history: {hours} h at 1-minute scrapes, {groups} rule groups");
        println!(
            "Prometheus, Sloth rules, one evaluation of every group: {rules_seconds:.3} s (every 30 s)"
        );
        println!(
            "nines pull mode, one cycle (every SLO's new minute, queries and commit): {pull_seconds:.3} s (every 60 s)"
        );
        println!(
            "ratio rules / pull per cycle: {:.1}; per hour (120 rule rounds, 60 pull cycles): {:.1}",
            rules_seconds / pull_seconds,
            rules_seconds * 120.0 / (pull_seconds * 60.0)
        );
        println!("nines backfill of all SLOs' windows: {backfill_seconds:.1} s");
    });
    drop(prometheus);
    let _ = std::fs::remove_dir_all(&dir);
}
