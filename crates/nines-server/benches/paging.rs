//! Benchmark of the paging engine on a real SQLite file: how many alerts a second the pager
//! takes when each opens a page (routing, escalation, one notification through the outbox, all
//! in one transaction), when they join one open page (grouping), and when they are resends of
//! known alerts (deduplication, no write); and the cost of "who is on call at t" for a rotation
//! that began years ago. Prints one line per measurement (harness = false).

use std::sync::Arc;
use std::time::Instant;

use jiff::Timestamp;
use nines_server::oncall::intake::{AlertAction, IncomingAlert};
use nines_server::oncall::links::Linker;
use nines_server::oncall::pager::Pager;

const N: usize = 2_000;

const CONFIG: &str = r#"version: nines/v1
services:
  - {id: payments, owner: payments-team}
channels:
  - {id: hook, type: webhook, url: "http://127.0.0.1:9/hook"}
people:
  - {id: alice, name: Alice, time_zone: Europe/Berlin, contacts: [{channel: hook}]}
  - {id: bob, name: Bob, time_zone: Europe/Berlin, contacts: [{channel: hook}]}
  - {id: carol, name: Carol, time_zone: Europe/Berlin, contacts: [{channel: hook}]}
  - {id: dave, name: Dave, time_zone: Europe/Berlin, contacts: [{channel: hook}]}
teams:
  - {id: payments-team, name: Payments, members: [alice, bob, carol, dave], escalation_policy: payments}
schedules:
  - id: primary
    time_zone: Europe/Berlin
    layers:
      - {name: weekly, members: [alice, bob, carol, dave], start: "2020-01-06T09:00", shift: 1w}
escalation_policies:
  - id: payments
    steps:
      - {targets: [{schedule: primary}]}
      - {targets: [{team: payments-team}]}
routes:
  routes:
    - matchers: ['group="one"']
      policy: payments
      group_by: [group]
"#;

fn alert(index: usize, group: &str) -> IncomingAlert {
    IncomingAlert {
        source: "webhook".to_string(),
        fingerprint: format!("wh:{group}-{index}"),
        action: AlertAction::Trigger,
        labels: [
            ("alertname".to_string(), format!("Alert{index}")),
            ("service".to_string(), "payments".to_string()),
            ("group".to_string(), group.to_string()),
        ]
        .into_iter()
        .collect(),
        annotations: Default::default(),
        summary: format!("alert {index}"),
        severity: "critical".to_string(),
        runbook: Some("https://runbooks.example/x".to_string()),
        starts_at: None,
    }
}

async fn run(label: &str, pager: &Pager, alerts: &[IncomingAlert], now: Timestamp) {
    let started = Instant::now();
    for alert in alerts {
        pager.ingest(alert, now).await.expect("ingest");
    }
    let elapsed = started.elapsed();
    println!(
        "{label:<44} {:>8.0} alerts/s  ({} alerts in {:.2?}, {:.2?} each)",
        alerts.len() as f64 / elapsed.as_secs_f64(),
        alerts.len(),
        elapsed,
        elapsed / alerts.len() as u32
    );
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let folder = std::env::temp_dir().join(format!("nines-bench-paging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).expect("folder");
        let config = folder.join("oncall.yaml");
        std::fs::write(&config, CONFIG).expect("config");
        let loaded = nines_spec::load(&[config], &nines_spec::LoadOptions::default());
        assert!(!loaded.report.has_errors(), "{}", loaded.report);
        let catalog = Arc::new(loaded.catalog);
        let store = nines_store::open(&format!("sqlite://{}", folder.join("nines.db").display()))
            .await
            .expect("store");
        let pager = Pager::new(store, catalog.clone(), Linker::new("http://nines", b"secret"));
        let now = Timestamp::now();

        let separate: Vec<IncomingAlert> = (0..N).map(|i| alert(i, "own")).collect();
        run("new alerts, each opens a page + notifies", &pager, &separate, now).await;
        let grouped: Vec<IncomingAlert> = (0..N).map(|i| alert(i, "one")).collect();
        run("new alerts joining one open page (grouped)", &pager, &grouped, now).await;
        run("resends of firing alerts (deduplicated)", &pager, &separate, now).await;

        let schedule = &catalog.oncall.directory.schedules[0];
        let calls = 100_000;
        let started = Instant::now();
        let mut found = 0usize;
        for i in 0..calls {
            let at = now + jiff::SignedDuration::from_secs(i as i64 * 3_607);
            found += usize::from(schedule.on_call_at(at).is_some());
        }
        let elapsed = started.elapsed();
        println!(
            "{:<44} {:>8.2} µs a call ({calls} instants over 41 years of a rotation from 2020, {found} covered)",
            "who is on call at t (Schedule::on_call_at)",
            elapsed.as_secs_f64() * 1e6 / calls as f64
        );
        let _ = std::fs::remove_dir_all(&folder);
    });
}
