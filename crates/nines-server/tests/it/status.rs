//! The public status page on a real server: incidents appear only through their public updates
//! and nothing internal reaches the HTML or the JSON, severity sets the component's status,
//! resolution clears it and leaves the day in the history, maintenance shows as such.

use jiff::{SignedDuration, Timestamp};
use nines_core::incident::machine::IncidentCommand;
use nines_core::incident::model::IncidentStatus;
use serde_json::{Value, json};

use crate::support::{TestServer, folder};

const CONFIG: &str = r#"version: nines/v1
services:
  - {id: checkout, name: Checkout, owner: payments-team}
  - {id: search}
  - {id: billing-batch, name: Nightly billing batch, status_page: false}
slos:
  - id: checkout-availability
    service: checkout
    objective_percent: 99
    window: 7d
    sli: {pushed: {}}
"#;

/// Words that exist only inside the incident and must never reach the status page.
const TITLE: &str = "Primary DB failover for tenant ACME";
const PRIVATE_UPDATE: &str = "Private: ACME's admin was told by phone";
const NOTE: &str = "Note: rolled back build 4.2.1 on db-7";
const STATUS_NOTE: &str = "culprit is the migration script";
const PUBLIC_UPDATE: &str = "We are investigating elevated errors at checkout.";

struct Page {
    status: u16,
    cache_control: String,
    body: String,
}

async fn get(server: &TestServer, path: &str) -> Page {
    let response = server.client.get(server.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    let cache_control = response
        .headers()
        .get("cache-control")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.text().await.unwrap();
    Page {
        status,
        cache_control,
        body,
    }
}

/// The HTML page and the JSON, both checked for status and caching.
async fn both(server: &TestServer) -> (String, Value) {
    let html = get(server, "/status").await;
    assert_eq!(html.status, 200, "{}", html.body);
    assert_eq!(html.cache_control, "public, max-age=30");
    let api = get(server, "/api/v1/status").await;
    assert_eq!(api.status, 200, "{}", api.body);
    assert_eq!(api.cache_control, "public, max-age=30");
    (html.body, serde_json::from_str(&api.body).unwrap())
}

/// `data-status` and the `.component-status` text of a component in the HTML.
fn component_in_html(html: &str, service: &str) -> (String, String) {
    let start = format!("<li class=\"component\" data-service=\"{service}\" data-status=\"");
    let at = html
        .find(&start)
        .unwrap_or_else(|| panic!("no component {service}"));
    let rest = &html[at + start.len()..];
    let data_status = rest[..rest.find('"').unwrap()].to_string();
    let marker = "class=\"component-status\"";
    let rest = &rest[rest.find(marker).unwrap()..];
    let rest = &rest[rest.find('>').unwrap() + 1..];
    let label = rest[..rest.find('<').unwrap()].to_string();
    (data_status, label)
}

fn component_in_json<'a>(body: &'a Value, service: &str) -> &'a Value {
    body["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|component| component["id"] == service)
        .unwrap_or_else(|| panic!("no component {service} in {body}"))
}

/// The status of `service` in the HTML and the JSON, which must agree.
fn status_of(html: &str, body: &Value, service: &str) -> (String, String) {
    let (data_status, label) = component_in_html(html, service);
    assert_eq!(
        component_in_json(body, service)["status"],
        data_status.as_str(),
        "{service}: the HTML and the JSON disagree"
    );
    (data_status, label)
}

fn assert_nothing_internal(html: &str, body: &Value, incident_id: &str) {
    let json = body.to_string();
    for secret in [
        TITLE,
        "ACME",
        PRIVATE_UPDATE,
        NOTE,
        STATUS_NOTE,
        "alice",
        "bob",
        incident_id,
    ] {
        assert!(!html.contains(secret), "{secret:?} leaked into the HTML");
        assert!(!json.contains(secret), "{secret:?} leaked into the JSON");
    }
}

async fn act(server: &TestServer, id: &str, action: &str, body: Value) {
    let (status, answer) = server
        .post_json(&format!("/api/v1/incidents/{id}/{action}"), body)
        .await;
    assert_eq!(status, 200, "{action}: {answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_reaches_the_status_page_only_through_its_public_updates() {
    let folder = folder("status-incident");
    let server = TestServer::start(&folder, CONFIG).await;

    let (html, body) = both(&server).await;
    assert_eq!(
        status_of(&html, &body, "checkout"),
        ("operational".to_string(), "Operational".to_string())
    );
    assert!(html.contains("All systems operational"), "{html}");
    assert!(
        html.contains("<span class=\"component-name\">Checkout</span>"),
        "display name"
    );
    assert!(
        html.contains("<span class=\"component-name\">search</span>"),
        "id"
    );
    assert!(
        !html.contains("<script"),
        "the page needs no JavaScript: {html}"
    );
    assert!(
        !html.contains("billing-batch") && !html.contains("Nightly billing batch"),
        "a service with status_page: false is no component"
    );
    assert!(!body.to_string().contains("billing-batch"), "{body}");

    let (status, opened) = server
        .post_json(
            "/api/v1/incidents",
            json!({"title": TITLE, "severity": "SEV2", "by": "alice", "services": ["checkout"]}),
        )
        .await;
    assert_eq!(status, 201, "{opened}");
    let id = opened["id"].as_str().unwrap().to_string();
    act(
        &server,
        &id,
        "roles",
        json!({"role": "commander", "person": "bob", "by": "alice"}),
    )
    .await;
    act(&server, &id, "notes", json!({"text": NOTE, "by": "bob"})).await;
    act(
        &server,
        &id,
        "updates",
        json!({"text": PRIVATE_UPDATE, "by": "alice", "public": false}),
    )
    .await;
    act(
        &server,
        &id,
        "status",
        json!({"status": "identified", "by": "alice", "note": STATUS_NOTE}),
    )
    .await;

    // Not published yet: not shown, and the component is untouched.
    let (html, body) = both(&server).await;
    assert_eq!(
        status_of(&html, &body, "checkout"),
        ("operational".to_string(), "Operational".to_string())
    );
    assert!(!html.contains("class=\"incident"), "{html}");
    assert_eq!(body["incidents"], json!([]));
    assert_eq!(body["status"]["indicator"], "operational");
    assert_nothing_internal(&html, &body, &id);

    act(
        &server,
        &id,
        "updates",
        json!({"text": PUBLIC_UPDATE, "by": "alice", "public": true}),
    )
    .await;
    let (html, body) = both(&server).await;
    assert_eq!(
        status_of(&html, &body, "checkout"),
        ("partial_outage".to_string(), "Partial outage".to_string())
    );
    assert_eq!(
        status_of(&html, &body, "search"),
        ("operational".to_string(), "Operational".to_string())
    );
    assert_eq!(html.matches("class=\"incident card\"").count(), 1, "{html}");
    assert_eq!(html.matches("class=\"incident-update\"").count(), 1);
    assert!(
        html.contains(&format!("<p class=\"incident-update\">{PUBLIC_UPDATE}</p>")),
        "{html}"
    );
    assert!(
        html.contains("<h3>Partial outage of Checkout</h3>"),
        "{html}"
    );
    assert!(html.contains("data-status=\"partial_outage\" role=\"status\">Partial outage</p>"));
    let incidents = body["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{body}");
    assert_eq!(incidents[0]["name"], "Partial outage of Checkout");
    assert_eq!(incidents[0]["impact"], "partial_outage");
    assert_eq!(incidents[0]["status"], "identified");
    assert_eq!(incidents[0]["components"], json!(["checkout"]));
    let updates: Vec<(&str, &str)> = incidents[0]["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|update| {
            (
                update["text"].as_str().unwrap(),
                update["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(updates, [(PUBLIC_UPDATE, "identified")]);
    assert_nothing_internal(&html, &body, &id);

    // Severity sets the status: the rubric's worst level is a major outage, the third degraded.
    for (severity, want, label) in [
        ("SEV1", "major_outage", "Major outage"),
        ("SEV3", "degraded_performance", "Degraded performance"),
    ] {
        act(
            &server,
            &id,
            "severity",
            json!({"severity": severity, "by": "alice"}),
        )
        .await;
        let (html, body) = both(&server).await;
        assert_eq!(
            status_of(&html, &body, "checkout"),
            (want.to_string(), label.to_string()),
            "{severity}"
        );
        assert_eq!(body["status"]["indicator"], want);
    }

    // Resolved: operational again, listed as recently resolved, and today's history keeps the
    // worst it was (a major outage while at SEV1).
    act(&server, &id, "resolve", json!({"by": "alice"})).await;
    let (_, incident) = server.get_json(&format!("/api/v1/incidents/{id}")).await;
    let resolved_at: Timestamp = incident["resolved"].as_str().unwrap().parse().unwrap();
    let resolved_day = resolved_at
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let (html, body) = both(&server).await;
    assert_eq!(
        status_of(&html, &body, "checkout"),
        ("operational".to_string(), "Operational".to_string())
    );
    assert_eq!(body["incidents"], json!([]));
    assert!(!html.contains("class=\"incident card\""));
    let resolved = body["resolved_incidents"].as_array().unwrap();
    assert_eq!(resolved.len(), 1, "{body}");
    assert_eq!(resolved[0]["name"], "Major outage of Checkout");
    assert_eq!(resolved[0]["updates"][0]["text"], PUBLIC_UPDATE);
    assert!(html.contains(&format!(
        "<p class=\"past-incident-update\">{PUBLIC_UPDATE}</p>"
    )));
    let checkout = component_in_json(&body, "checkout");
    let history = checkout["history"].as_array().unwrap();
    assert_eq!(history.len(), 90);
    let day = history
        .iter()
        .find(|day| day["date"] == resolved_day.as_str())
        .unwrap_or_else(|| panic!("no {resolved_day} in {checkout}"));
    assert_eq!(day["status"], "major_outage", "{day}");
    let notes = day["notes"].to_string();
    for impact in ["Partial outage", "Major outage", "Degraded performance"] {
        assert!(notes.contains(impact), "{impact} missing from {notes}");
    }
    assert!(
        html.contains(&format!("title=\"{resolved_day}: Partial outage ")),
        "the day's tooltip: {html}"
    );
    assert!(checkout["uptime_90d"].as_f64().unwrap() < 1.0, "{checkout}");
    assert_eq!(component_in_json(&body, "search")["uptime_90d"], 1.0);
    assert_nothing_internal(&html, &body, &id);

    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_of_days_ago_stays_in_the_history_at_the_severity_it_had() {
    let folder = folder("status-history");
    let server = TestServer::start(&folder, CONFIG).await;
    let state = &server.running.as_ref().unwrap().state;
    // Ten days ago: out of "recently resolved", still in the 90 days.
    let opened = Timestamp::now() - SignedDuration::from_hours(10 * 24);
    let opened = opened
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
        + SignedDuration::from_hours(10);
    let step = |minutes: i64| opened + SignedDuration::from_mins(minutes);
    let commands = [
        (
            step(0),
            IncidentCommand::Open {
                id: "inc-old".to_string(),
                title: TITLE.to_string(),
                severity: "SEV2".to_string(),
                by: "alice".to_string(),
            },
        ),
        (
            step(1),
            IncidentCommand::LinkService {
                service: "search".to_string(),
            },
        ),
        (
            step(5),
            IncidentCommand::StatusUpdate {
                text: "Search is failing for some users.".to_string(),
                by: "alice".to_string(),
                public: true,
            },
        ),
        (
            step(30),
            IncidentCommand::SetStatus {
                status: IncidentStatus::Resolved,
                by: "alice".to_string(),
                note: Some(STATUS_NOTE.to_string()),
            },
        ),
    ];
    for (at, command) in &commands {
        nines_server::incidents::run_command(state, "inc-old", command, *at, None)
            .await
            .unwrap();
    }
    let (html, body) = both(&server).await;
    assert_eq!(
        status_of(&html, &body, "search"),
        ("operational".to_string(), "Operational".to_string())
    );
    assert_eq!(body["incidents"], json!([]));
    assert_eq!(
        body["resolved_incidents"],
        json!([]),
        "resolved 10 days ago"
    );
    let date = opened.to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    let search = component_in_json(&body, "search");
    let days: Vec<&Value> = search["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|day| day["status"] != "operational")
        .collect();
    assert_eq!(
        days,
        [&json!({"date": date, "status": "partial_outage",
                 "notes": ["Partial outage 10:00–10:30 UTC"]})]
    );
    let share = search["uptime_90d"].as_f64().unwrap();
    assert!(share < 1.0 && share > 0.999, "{share}");
    assert!(html.contains(&format!("title=\"{date}: Partial outage 10:00–10:30 UTC\"")));
    for day in component_in_json(&body, "checkout")["history"]
        .as_array()
        .unwrap()
    {
        assert_eq!(day["status"], "operational", "another component: {day}");
    }
    assert_nothing_internal(&html, &body, "inc-old");
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_maintenance_window_puts_its_service_under_maintenance() {
    use nines_core::oncall::matcher::Matcher;
    use nines_core::oncall::silence::{MaintenanceWhen, MaintenanceWindow};
    let folder = folder("status-maintenance");
    let now = Timestamp::now();
    let server = TestServer::start_with(&folder, CONFIG, move |_, catalog| {
        catalog.oncall.maintenance.push(MaintenanceWindow {
            id: "checkout-db-upgrade".to_string(),
            matchers: vec![Matcher::parse("service=\"checkout\"").unwrap()],
            when: MaintenanceWhen::Once {
                starts: now - SignedDuration::from_hours(1),
                ends: now + SignedDuration::from_hours(1),
            },
            comment: "upgrade db-7 to 16.4 (ticket OPS-1234)".to_string(),
        });
    })
    .await;
    let (html, body) = both(&server).await;
    assert_eq!(
        status_of(&html, &body, "checkout"),
        (
            "under_maintenance".to_string(),
            "Under maintenance".to_string()
        )
    );
    assert_eq!(
        status_of(&html, &body, "search"),
        ("operational".to_string(), "Operational".to_string())
    );
    assert_eq!(body["status"]["indicator"], "under_maintenance");
    assert!(html.contains("Maintenance in progress"), "{html}");
    assert_eq!(body["maintenance"][0]["components"], json!(["checkout"]));
    assert_eq!(body["maintenance"][0]["in_progress"], true);
    let today = component_in_json(&body, "checkout")["history"][89].clone();
    assert_eq!(today["status"], "under_maintenance", "{today}");
    for secret in ["OPS-1234", "db-7", "checkout-db-upgrade"] {
        assert!(!html.contains(secret), "{secret} in the HTML");
        assert!(!body.to_string().contains(secret), "{secret} in the JSON");
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}
