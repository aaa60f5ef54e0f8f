//! Incidents end to end on a real server: opened by hand and by rule from a page, roles, status,
//! notes and updates on an ordered timeline, illegal moves refused with nothing changed,
//! postmortem drafts with the blameless check, action items and the overdue list, and incidents
//! in the report.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{TestServer, folder};

const CONFIG: &str = r#"version: nines/v1
services:
  - {id: payments, owner: payments-team, runbooks: ["https://runbooks.example/payments"]}
slos:
  - id: checkout
    service: payments
    objective_percent: 99
    window: 7d
    sli: {pushed: {}}
people:
  - {id: alice, name: Alice Example, time_zone: Europe/Berlin}
  - {id: bob, name: Bob Example, time_zone: America/New_York}
teams:
  - {id: payments-team, name: Payments, members: [alice, bob], escalation_policy: payments}
escalation_policies:
  - id: payments
    steps:
      - {targets: [{team: payments-team}]}
incidents:
  open_for:
    - {matchers: ['alertname="PaymentsDown"'], severity: SEV1}
"#;

async fn post(server: &TestServer, path: &str, body: Value) -> (u16, Value) {
    server.post_json(path, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_runs_from_open_to_postmortem_and_refuses_illegal_moves() {
    let folder = folder("incidents-lifecycle");
    let server = TestServer::start(&folder, CONFIG).await;
    let (status, opened) = post(
        &server,
        "/api/v1/incidents",
        json!({"title": "Checkout failing", "severity": "sev2", "by": "alice",
               "services": ["payments"], "slos": ["checkout"]}),
    )
    .await;
    assert_eq!(status, 201, "{opened}");
    assert_eq!(
        opened["severity"], "SEV2",
        "spelled as the rubric spells it"
    );
    assert_eq!(opened["status"], "investigating");
    let id = opened["id"].as_str().unwrap().to_string();
    let at = |action: &str| format!("/api/v1/incidents/{id}/{action}");

    for (path, body) in [
        (
            at("roles"),
            json!({"role": "commander", "person": "alice", "by": "alice"}),
        ),
        (
            at("roles"),
            json!({"role": "scribe", "person": "bob", "by": "alice"}),
        ),
        (
            at("status"),
            json!({"status": "identified", "by": "alice", "note": "bad deploy"}),
        ),
        (
            at("notes"),
            json!({"text": "rolling back 4.2.1", "by": "bob"}),
        ),
        (
            at("updates"),
            json!({"text": "Checkout is failing for some customers", "by": "alice", "public": true}),
        ),
        (at("status"), json!({"status": "monitoring", "by": "alice"})),
        (at("resolve"), json!({"by": "alice"})),
    ] {
        let (status, body) = post(&server, &path, body.clone()).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    // Illegal moves and bad input: refused, nothing changed.
    let (_, before) = server.get_json(&format!("/api/v1/incidents/{id}")).await;
    for (path, body, want, needle) in [
        (at("resolve"), json!({"by": "alice"}), 409, "resolved"),
        (
            at("status"),
            json!({"status": "identified", "by": "bob"}),
            409,
            "resolved",
        ),
        (
            "/api/v1/incidents".to_string(),
            json!({"title": "t", "severity": "SEV9", "by": "bob"}),
            400,
            "SEV1, SEV2, SEV3",
        ),
        (
            at("notes"),
            json!({"text": "  ", "by": "bob"}),
            400,
            "needs text",
        ),
        (at("dance"), json!({}), 400, "unknown incident action"),
        (
            "/api/v1/incidents/inc-nope/resolve".to_string(),
            json!({"by": "x"}),
            404,
            "no incident",
        ),
        (
            at("action-items"),
            json!({"title": "renew certs", "due": "2026-12-01"}),
            400,
            "without an owner",
        ),
        (
            at("action-items"),
            json!({"title": "t", "owner": "bob", "due": "soon"}),
            400,
            "not a date",
        ),
    ] {
        let (status, body) = post(&server, &path, body.clone()).await;
        assert_eq!(status, want, "{path}: {body}");
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        assert!(message.contains(&needle.to_lowercase()), "{path}: {body}");
    }
    let (_, after) = server.get_json(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(
        before["timeline"], after["timeline"],
        "refused moves wrote nothing"
    );
    assert_eq!(
        after["roles"],
        json!({"commander": "alice", "scribe": "bob"})
    );

    let kinds: Vec<&str> = after["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[0], "incident.opened", "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"incident.resolved"), "{kinds:?}");
    for kind in [
        "incident.role",
        "incident.status",
        "incident.note",
        "incident.update",
        "incident.linked",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing: {kinds:?}");
    }
    let times: Vec<jiff::Timestamp> = after["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_str().unwrap().parse().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "the timeline is ordered");

    // Action items: one overdue, one done.
    let (status, late) = post(&server, &at("action-items"), json!({"title": "alert on cert expiry", "owner": "bob", "due": "2026-01-02", "priority": "P1"})).await;
    assert_eq!(status, 201, "{late}");
    let (_, fix) = post(
        &server,
        &at("action-items"),
        json!({"title": "pin the deploy", "owner": "alice", "due": "2099-01-01"}),
    )
    .await;
    let (status, done) = post(
        &server,
        &format!("/api/v1/action-items/{}", fix["id"].as_str().unwrap()),
        json!({"status": "done", "by": "alice"}),
    )
    .await;
    assert_eq!(
        (status, done["status"].as_str()),
        (200, Some("done")),
        "{done}"
    );
    let (_, overdue) = server.get_json("/api/v1/action-items?overdue=true").await;
    let overdue_ids: Vec<&str> = overdue["action_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(overdue_ids, [late["id"].as_str().unwrap()], "{overdue}");

    // The postmortem draft: every section, the action items, a blaming sentence flagged.
    let (status, draft) = post(
        &server,
        &at("postmortem"),
        json!({"summary": "A bad deploy broke checkout. Alice forgot to renew the certificate.",
               "causes": ["the deploy pipeline does not check certificates"],
               "went_well": ["rollback took 4 minutes"], "by": "alice"}),
    )
    .await;
    assert_eq!(status, 200, "{draft}");
    let markdown = draft["markdown"].as_str().unwrap();
    for section in [
        "# Postmortem: Checkout failing",
        "## Summary",
        "## Impact",
        "## Timeline",
        "## Contributing causes",
        "## What went well",
        "## Action items",
    ] {
        assert!(markdown.contains(section), "{section} missing:\n{markdown}");
    }
    assert!(
        markdown.contains("alert on cert expiry") && markdown.contains("pin the deploy"),
        "{markdown}"
    );
    let findings = draft["blameless"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0]["sentence"]
            .as_str()
            .unwrap()
            .contains("Alice forgot")
    );
    let (_, shown) = server.get_json(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(
        shown["postmortem"].as_str(),
        Some(markdown),
        "the draft is kept"
    );
    let (status, published) = post(
        &server,
        &at("postmortem"),
        json!({"summary": "A bad deploy broke checkout.", "publish": true, "by": "alice"}),
    )
    .await;
    assert_eq!(status, 200, "{published}");
    assert!(published["incident"]["postmortem_published"].is_string());
    // Reopening after the postmortem must say so.
    let (status, refused) = post(
        &server,
        &at("reopen"),
        json!({"by": "bob", "reason": "errors again"}),
    )
    .await;
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("after_postmortem"),
        "{refused}"
    );
    let (status, reopened) = post(
        &server,
        &at("reopen"),
        json!({"by": "bob", "reason": "errors again", "after_postmortem": true}),
    )
    .await;
    assert_eq!(status, 200, "{reopened}");
    assert_eq!(reopened["status"], "investigating");
    assert_eq!(reopened["reopened"], 1);

    let (_, report) = server.get_json("/api/v1/reports").await;
    assert_eq!(report["incidents"]["opened"], 1, "{report}");
    assert_eq!(report["incidents"]["by_severity"]["SEV2"], 1, "{report}");
    assert_eq!(report["action_items"]["done"], 1, "{report}");
    assert_eq!(report["action_items"]["open"], 1, "{report}");
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_matching_a_rule_opens_an_incident_once() {
    let folder = folder("incidents-rule");
    let server = TestServer::start(&folder, CONFIG).await;
    let (_, body) = server
        .post_json(
            "/api/v1/intake/webhook",
            json!({"labels": {"alertname": "PaymentsDown", "service": "payments"}, "summary": "payments down"}),
        )
        .await;
    let page = body["alerts"][0]["page"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(15);
    let incident = loop {
        let (_, list) = server.get_json("/api/v1/incidents").await;
        if let Some(found) = list["incidents"].as_array().unwrap().first() {
            break found.clone();
        }
        assert!(Instant::now() < deadline, "no incident opened by the rule");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(incident["severity"], "SEV1");
    assert_eq!(incident["pages"], json!([page]));
    assert_eq!(incident["services"], json!(["payments"]));
    assert_eq!(incident["title"], "payments down");
    // Further passes do not open a second one.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, list) = server.get_json("/api/v1/incidents").await;
    assert_eq!(list["incidents"].as_array().unwrap().len(), 1, "{list}");
    // Linking more by hand: a page, and refusals that change nothing.
    let incident_id = incident["id"].as_str().unwrap().to_string();
    let (_, other) = server
        .post_json(
            "/api/v1/intake/webhook",
            json!({"labels": {"alertname": "Slow", "service": "payments"}}),
        )
        .await;
    let other_page = other["alerts"][0]["page"].as_str().unwrap().to_string();
    let links = format!("/api/v1/incidents/{incident_id}/links");
    let (status, linked) = server
        .post_json(&links, json!({"page": other_page, "by": "alice"}))
        .await;
    assert_eq!(status, 200, "{linked}");
    assert_eq!(linked["pages"].as_array().unwrap().len(), 2, "{linked}");
    for (body, want) in [
        (json!({"page": "p-none"}), 400),
        (json!({"slo": "checkout", "service": "payments"}), 400),
        (json!({"page": other_page}), 409),
    ] {
        let (status, answer) = server.post_json(&links, body.clone()).await;
        assert_eq!(status, want, "{body}: {answer}");
    }
    // The incident's timeline holds the page's events too.
    let (_, shown) = server
        .get_json(&format!(
            "/api/v1/incidents/{}",
            incident["id"].as_str().unwrap()
        ))
        .await;
    let kinds: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"page.triggered") && kinds.contains(&"incident.opened"),
        "{kinds:?}"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}
