//! `nines pages`, `nines oncall`, `nines schedule` and `nines silence` against a running
//! `nines serve`, and `nines validate` on on-call configuration.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Process, TempDir, client};

const CONFIG: &str = r#"version: nines/v1
services:
  - {id: payments, owner: payments-team, runbooks: ["https://runbooks.example/payments"]}
people:
  - {id: alice, name: Alice Example, time_zone: Europe/Berlin}
  - {id: bob, name: Bob Example, time_zone: America/New_York}
teams:
  - {id: payments-team, name: Payments, members: [alice, bob], escalation_policy: payments}
schedules:
  - id: primary
    time_zone: Europe/Berlin
    layers:
      - {name: weekly, members: [alice, bob], start: "2026-01-05T09:00", shift: 1w}
escalation_policies:
  - id: payments
    steps:
      - {targets: [{schedule: primary}]}
      - {targets: [{team: payments-team}]}
"#;

fn nines() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nines"))
}

fn run(args: &[&str]) -> (bool, String, String) {
    let output = nines().args(args).output().expect("run nines");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_oncall_schedules_and_silences_from_the_command_line() {
    let dir = TempDir::new("oncall-cli");
    let config = dir.path().join("oncall.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let mut command = nines();
    command
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--database")
        .arg(format!(
            "sqlite://{}",
            dir.path().join("nines.db").display()
        ))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "https://nines.example",
        ])
        .env("NINES_LOG", "info");
    let mut process = Process::spawn("nines serve", command);
    let address = process
        .wait_for_line(Duration::from_secs(60), |line| {
            let rest = &line[line.find("address=")? + "address=".len()..];
            Some(rest.split_whitespace().next()?.to_string())
        })
        .await;
    let server = format!("http://{address}");
    let client = client();

    let answer: Value = client
        .post(format!("{server}/api/v1/intake/webhook"))
        .json(&json!({"labels": {"alertname": "Down", "service": "payments"}, "summary": "payments down"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page_id = answer["alerts"][0]["page"]
        .as_str()
        .expect("a page")
        .to_string();

    let (ok, table, err) = run(&["pages", "list", "--server", &server]);
    assert!(ok, "{err}");
    assert!(table.starts_with("ID "), "{table}");
    assert!(
        table.contains(&page_id) && table.contains("triggered") && table.contains("payments down"),
        "{table}"
    );

    let (ok, out, err) = run(&[
        "pages", "ack", &page_id, "--as", "alice", "--server", &server,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("acknowledged"), "{out}");
    // Acknowledging twice is refused, names who did it, and exits non-zero.
    let (ok, _, err) = run(&["pages", "ack", &page_id, "--as", "bob", "--server", &server]);
    assert!(!ok);
    assert!(err.contains("409") && err.contains("alice"), "{err}");
    let (ok, _, err) = run(&[
        "pages", "unack", &page_id, "--as", "alice", "--server", &server,
    ]);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&[
        "pages", "resolve", &page_id, "--as", "alice", "--server", &server, "--output", "json",
    ]);
    assert!(ok, "{err}");
    let resolved: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["resolved_by"], "alice");
    let (ok, out, err) = run(&["pages", "show", &page_id, "--server", &server]);
    assert!(ok, "{err}");
    for kind in [
        "page.triggered",
        "page.acknowledged",
        "page.unacknowledged",
        "page.resolved",
    ] {
        assert!(out.contains(kind), "{kind} missing:\n{out}");
    }
    let (ok, markdown, err) = run(&[
        "report",
        "--from",
        "2026-01-01",
        "--output",
        "markdown",
        "--server",
        &server,
    ]);
    assert!(ok, "{err}");
    assert!(
        markdown.starts_with("# Reliability report: everything from 2026-01-01T00:00:00Z"),
        "{markdown}"
    );
    assert!(
        markdown.contains("## pages") && markdown.contains("| created | 1 |"),
        "{markdown}"
    );
    let (ok, table, _) = run(&["report", "--team", "payments-team", "--server", &server]);
    assert!(ok);
    assert!(
        table.contains("SECTION") && table.contains("MTTA"),
        "{table}"
    );
    let (ok, _, err) = run(&[
        "report",
        "--from",
        "2026-02-01",
        "--to",
        "2026-01-01",
        "--server",
        &server,
    ]);
    assert!(!ok);
    assert!(err.contains("not after its start"), "{err}");
    let (ok, _, err) = run(&["pages", "ack", "p-unknown", "--server", &server]);
    assert!(!ok);
    assert!(err.contains("404"), "{err}");

    // Who is on call: the weekly rotation started on Monday 2026-01-05 09:00 Berlin with alice.
    let (ok, out, err) = run(&[
        "oncall",
        "--at",
        "2026-01-06T12:00:00Z",
        "--server",
        &server,
        "--output",
        "json",
    ]);
    assert!(ok, "{err}");
    let now: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(now["schedules"][0]["now"]["person"], "alice", "{now}");
    assert_eq!(now["schedules"][0]["next"]["person"], "bob", "{now}");
    assert_eq!(
        now["schedules"][0]["next"]["start"], "2026-01-12T08:00:00Z",
        "{now}"
    );
    let (ok, out, _) = run(&[
        "oncall",
        "--at",
        "2026-01-06T12:00:00Z",
        "--server",
        &server,
    ]);
    assert!(ok);
    assert!(
        out.contains("Alice Example") && out.contains("Bob Example"),
        "{out}"
    );

    let (ok, ical, err) = run(&[
        "schedule",
        "ical",
        "primary",
        "--from",
        "2026-01-05T00:00:00Z",
        "--to",
        "2026-01-26T00:00:00Z",
        "--server",
        &server,
    ]);
    assert!(ok, "{err}");
    assert!(ical.starts_with("BEGIN:VCALENDAR\r\n"), "{ical}");
    assert_eq!(ical.matches("BEGIN:VEVENT").count(), 3, "{ical}");
    assert!(ical.contains("DTSTART:20260105T080000Z\r\n"), "{ical}");
    assert!(ical.contains("SUMMARY:On call: Bob Example\r\n"), "{ical}");
    let (ok, _, err) = run(&["schedule", "ical", "nope", "--server", &server]);
    assert!(!ok);
    assert!(err.contains("no schedule has id"), "{err}");

    let (ok, out, err) = run(&[
        "silence",
        "add",
        "service=\"payments\"",
        "--for",
        "2h",
        "--comment",
        "deploy",
        "--by",
        "alice",
        "--server",
        &server,
        "--output",
        "json",
    ]);
    assert!(ok, "{err}");
    let silence: Value = serde_json::from_str(&out).unwrap();
    let silence_id = silence["id"].as_str().unwrap().to_string();
    let (ok, out, _) = run(&["silence", "list", "--active", "--server", &server]);
    assert!(ok);
    assert!(
        out.contains(&silence_id) && out.contains("service=\"payments\""),
        "{out}"
    );
    let (ok, _, err) = run(&["silence", "add", "service=~\"(\"", "--server", &server]);
    assert!(!ok);
    assert!(err.contains("matchers[0]"), "{err}");
    let (ok, _, err) = run(&["silence", "expire", &silence_id, "--server", &server]);
    assert!(ok, "{err}");
    let (ok, out, _) = run(&["silence", "list", "--active", "--server", &server]);
    assert!(ok);
    assert!(!out.contains(&silence_id), "{out}");
    // Incidents and action items.
    let (ok, out, err) = run(&[
        "incident",
        "open",
        "Checkout failing",
        "--severity",
        "sev2",
        "--service",
        "payments",
        "--as",
        "alice",
        "--server",
        &server,
        "--output",
        "json",
    ]);
    assert!(ok, "{err}");
    let incident: Value = serde_json::from_str(&out).unwrap();
    let id = incident["id"].as_str().unwrap().to_string();
    assert_eq!(incident["severity"], "SEV2");
    for args in [
        vec!["incident", "role", &id, "commander", "alice"],
        vec![
            "incident",
            "status",
            &id,
            "identified",
            "--note",
            "bad deploy",
        ],
        vec!["incident", "note", &id, "rolled back"],
        vec!["incident", "update", &id, "Checkout is back", "--public"],
        vec!["incident", "resolve", &id],
    ] {
        let mut args = args.clone();
        args.extend(["--as", "alice", "--server", &server]);
        let (ok, _, err) = run(&args);
        assert!(ok, "{args:?}: {err}");
    }
    let (ok, _, err) = run(&["incident", "resolve", &id, "--server", &server]);
    assert!(!ok);
    assert!(err.contains("409") && err.contains("resolved"), "{err}");
    let (ok, out, err) = run(&[
        "action",
        "add",
        &id,
        "alert on certificate expiry",
        "--owner",
        "bob",
        "--due",
        "2026-01-02",
        "--priority",
        "P1",
        "--server",
        &server,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("[open] alert on certificate expiry"), "{out}");
    let (ok, _, err) = run(&[
        "action",
        "add",
        &id,
        "nobody's",
        "--owner",
        " ",
        "--due",
        "2026-01-02",
        "--server",
        &server,
    ]);
    assert!(!ok);
    assert!(err.contains("without an owner"), "{err}");
    let (ok, out, _) = run(&["action", "list", "--overdue", "--server", &server]);
    assert!(ok);
    assert!(
        out.contains("alert on certificate expiry") && out.contains("OVERDUE"),
        "{out}"
    );
    let (ok, markdown, err) = run(&[
        "incident",
        "postmortem",
        &id,
        "--summary",
        "A deploy broke checkout. Bob forgot to test it.",
        "--cause",
        "no canary",
        "--server",
        &server,
    ]);
    assert!(ok, "{err}");
    assert!(
        markdown.starts_with("# Postmortem: Checkout failing"),
        "{markdown}"
    );
    assert!(
        err.contains("blameless") && err.contains("Bob forgot"),
        "{err}"
    );
    let (ok, shown, err) = run(&["incident", "show", &id, "--server", &server]);
    assert!(ok, "{err}");
    for needle in [
        "incident.opened",
        "incident.role",
        "incident.resolved",
        "OVERDUE",
    ] {
        assert!(shown.contains(needle), "{needle} missing:\n{shown}");
    }
    let (ok, list, _) = run(&[
        "incident", "list", "--status", "resolved", "--server", &server,
    ]);
    assert!(ok);
    assert!(list.contains(&id), "{list}");
    drop(process);
}

#[test]
fn validate_reports_on_call_problems_with_their_place() {
    let dir = TempDir::new("oncall-validate");
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        r#"version: nines/v1
people:
  - {id: alice, name: Alice, time_zone: Mars/Olympus_Mons}
escalation_policies:
  - id: a
    steps: [{targets: [{policy: b}]}]
  - id: b
    steps: [{targets: [{policy: a}]}]
"#,
    )
    .unwrap();
    let (ok, out, err) = run(&["validate", path.to_str().unwrap()]);
    assert!(!ok);
    let text = format!("{out}{err}");
    assert!(text.contains("Mars/Olympus_Mons"), "{text}");
    assert!(text.contains("people[0]"), "{text}");
    assert!(
        text.contains("a -> b -> a") || text.contains("b -> a -> b"),
        "{text}"
    );
}
