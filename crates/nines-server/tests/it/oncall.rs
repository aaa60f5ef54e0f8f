//! On-call end to end, on a real server on loopback with a real SQLite file: alerts from
//! Alertmanager (the real binary), PagerDuty Events v2 and the generic webhook are routed to an
//! escalation policy, paged to the person on call through a webhook, escalated when nobody
//! acknowledges (timers survive a restart), acknowledged through a signed link, muted by
//! silences, and heartbeats page when they stop.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use serde_json::{Value, json};

use nines_server::server::ServerConfig;
use nines_spec::Catalog;

use crate::support::{TestServer, folder};

/// A webhook receiver on loopback that keeps every body it gets.
struct Receiver {
    url: String,
    bodies: Arc<tokio::sync::Mutex<Vec<Value>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let bodies = Arc::new(tokio::sync::Mutex::new(Vec::<Value>::new()));
        let keep = bodies.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move |body: axum::body::Bytes| {
                let keep = keep.clone();
                async move {
                    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    keep.lock().await.push(value);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, bodies }
    }

    /// Page notices received so far: (person, event, page id).
    async fn pages(&self) -> Vec<(String, String, String)> {
        self.bodies
            .lock()
            .await
            .iter()
            .filter(|body| body["version"] == "nines.page.v1")
            .map(|body| {
                (
                    body["person"]["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    body["event"].as_str().unwrap_or_default().to_string(),
                    body["page_id"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }
}

const ROUTING_KEY: &str = "0123456789abcdef0123456789abcdef";

/// Escalation steps `delay` apart and heartbeats every 2 s (validation allows a minute at the
/// least; the server takes what it is given).
fn quick(delay: Duration) -> impl FnOnce(&mut ServerConfig, &mut Catalog) {
    move |_, catalog| {
        let span = nines_core::Span::seconds(delay.as_secs() as i64);
        for policy in &mut catalog.oncall.escalation_policies {
            for step in &mut policy.steps {
                step.delay = span;
            }
        }
        for heartbeat in &mut catalog.oncall.heartbeats {
            heartbeat.interval = nines_core::Span::seconds(2);
            heartbeat.grace = nines_core::Span::seconds(1);
        }
    }
}

async fn start(folder: &Path, hook: &str, delay: Duration) -> TestServer {
    TestServer::start_with(folder, &config(hook), quick(delay)).await
}

fn config(hook: &str) -> String {
    format!(
        r#"version: nines/v1
services:
  - {{id: payments, owner: payments-team, runbooks: ["https://runbooks.example/payments"]}}
slos:
  - id: checkout
    service: payments
    objective_percent: 99
    window: 7d
    sli: {{pushed: {{}}}}
channels:
  - {{id: hook, type: webhook, url: "{hook}"}}
people:
  - {{id: alice, name: Alice, time_zone: Europe/Berlin, contacts: [{{channel: hook}}]}}
  - {{id: bob, name: Bob, time_zone: America/New_York, contacts: [{{channel: hook}}]}}
teams:
  - {{id: payments-team, name: Payments, members: [alice, bob], escalation_policy: payments}}
schedules:
  - id: primary
    time_zone: Europe/Berlin
    layers:
      - {{name: daily, members: [alice], start: "2026-01-01T09:00", shift: 1d}}
escalation_policies:
  - id: payments
    repeat: 0
    steps:
      - {{targets: [{{schedule: primary}}]}}
      - {{targets: [{{person: bob}}]}}
routes:
  group_by: [alertname, service]
  routes:
    # Alerts of the payments service need no route: its owner's policy takes them.
    - matchers: ['alertname="NinesEvaluatorStalled"']
      policy: payments
integrations:
  - {{id: monitor, key: "{ROUTING_KEY}", labels: {{service: payments}}}}
heartbeats:
  - {{id: backup, service: payments, interval: 1m, grace: 1m, runbook: "https://runbooks.example/backup"}}
"#
    )
}

async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn page(server: &TestServer, id: &str) -> Value {
    let (status, body) = server.get_json(&format!("/api/v1/pages/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn timeline_kinds(page: &Value) -> Vec<String> {
    page["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_escalates_is_acknowledged_by_its_signed_link_and_resolves() {
    let receiver = Receiver::start().await;
    let folder = folder("oncall-escalation");
    let server = start(&folder, &receiver.url, Duration::from_secs(2)).await;

    let (status, body) = server
        .post_json(
            "/api/v1/intake/webhook",
            json!({"labels": {"alertname": "QueueStuck", "service": "payments"},
                   "summary": "payments queue stuck", "runbook": "https://runbooks.example/queue"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alerts"][0]["outcome"], "paged", "{body}");
    let page_id = body["alerts"][0]["page"].as_str().unwrap().to_string();

    // The same alert again is deduplicated; another alert of the group joins the page.
    let (_, again) = server
        .post_json(
            "/api/v1/intake/webhook",
            json!({"labels": {"alertname": "QueueStuck", "service": "payments"}}),
        )
        .await;
    assert_eq!(again["alerts"][0]["outcome"], "deduplicated", "{again}");
    let (_, grouped) = server
        .post_json(
            "/api/v1/intake/webhook",
            json!({"labels": {"alertname": "QueueStuck", "service": "payments", "queue": "refunds"}}),
        )
        .await;
    assert_eq!(grouped["alerts"][0]["outcome"], "grouped", "{grouped}");
    assert_eq!(grouped["alerts"][0]["page"], page_id.as_str());

    // Alice (on call in the schedule) first; nobody acknowledges; Bob two seconds later.
    let notices = eventually("bob to be paged", Duration::from_secs(20), || async {
        let pages = receiver.pages().await;
        pages
            .iter()
            .any(|(person, _, _)| person == "bob")
            .then_some(pages)
    })
    .await;
    assert_eq!(
        notices[0],
        (
            "alice".to_string(),
            "triggered".to_string(),
            page_id.clone()
        )
    );
    assert!(notices.contains(&("bob".to_string(), "escalated".to_string(), page_id.clone())));

    // Bob acknowledges with the link in his notification: GET shows a form, POST acts.
    let bob_notice = receiver
        .bodies
        .lock()
        .await
        .iter()
        .find(|body| body["person"]["id"] == "bob")
        .cloned()
        .unwrap();
    let link = bob_notice["links"]["acknowledge"]
        .as_str()
        .unwrap()
        .to_string();
    let form = server.client.get(&link).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains("<form method=\"post\""));
    assert_eq!(
        page(&server, &page_id).await["status"],
        "triggered",
        "a GET changes nothing"
    );
    let acted = server.client.post(&link).send().await.unwrap();
    assert_eq!(acted.status(), 200);
    let acknowledged = page(&server, &page_id).await;
    assert_eq!(acknowledged["status"], "acknowledged");
    assert_eq!(acknowledged["acknowledged_by"], "bob");
    assert_eq!(acknowledged["next_escalation"], Value::Null);

    // Clicking again is refused and says who did it; a forged link is refused.
    let twice = server.client.post(&link).send().await.unwrap();
    assert_eq!(twice.status(), 409);
    assert!(twice.text().await.unwrap().contains("bob"));
    let forged = format!("{}ff", &link[..link.len() - 2]);
    let refused = server.client.post(&forged).send().await.unwrap();
    assert_eq!(refused.status(), 403);

    // Resolve by API: everyone who was paged hears of it.
    let (status, resolved) = server
        .post_json(
            &format!("/api/v1/pages/{page_id}/resolve"),
            json!({"by": "carol"}),
        )
        .await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved["status"], "resolved");
    let (status, illegal) = server
        .post_json(
            &format!("/api/v1/pages/{page_id}/acknowledge"),
            json!({"by": "dave"}),
        )
        .await;
    assert_eq!(status, 409, "{illegal}");
    eventually(
        "the resolution to reach alice and bob",
        Duration::from_secs(10),
        || async {
            let pages = receiver.pages().await;
            let told = |who: &str| pages.iter().any(|(p, e, _)| p == who && e == "resolved");
            (told("alice") && told("bob")).then_some(())
        },
    )
    .await;
    let kinds = timeline_kinds(&page(&server, &page_id).await);
    for kind in [
        "page.triggered",
        "page.notified",
        "page.alert_added",
        "page.escalated",
        "page.acknowledged",
        "page.resolved",
    ] {
        assert!(
            kinds.contains(&kind.to_string()),
            "{kind} missing from {kinds:?}"
        );
    }
    let (_, openapi) = server.get_json("/api/openapi.json").await;
    for path in [
        "/api/v1/intake/alertmanager",
        "/v2/enqueue",
        "/api/v1/pages/{id}/acknowledge",
        "/api/v1/silences",
    ] {
        assert!(
            openapi["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    let (status, missing) = server.get_json("/api/v1/pages/p-nothere").await;
    assert_eq!(status, 404, "{missing}");
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_timers_survive_a_restart() {
    let receiver = Receiver::start().await;
    let folder = folder("oncall-restart");
    let server = start(&folder, &receiver.url, Duration::from_secs(4)).await;
    let (_, body) = server
        .post_json(
            "/api/v1/intake/webhook",
            json!({"labels": {"alertname": "Down", "service": "payments"}}),
        )
        .await;
    let page_id = body["alerts"][0]["page"].as_str().unwrap().to_string();
    eventually("alice to be paged", Duration::from_secs(10), || async {
        (!receiver.pages().await.is_empty()).then_some(())
    })
    .await;
    let before = page(&server, &page_id).await;
    assert_eq!(before["step"], 0);
    let due = before["next_escalation"].as_str().unwrap().to_string();
    server.stop().await;

    // Down past the timer; the restarted server escalates at once, from the stored timer.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let server = start(&folder, &receiver.url, Duration::from_secs(4)).await;
    let escalated = eventually(
        "the escalation after the restart",
        Duration::from_secs(10),
        || async {
            let page = page(&server, &page_id).await;
            (page["step"] == 1).then_some(page)
        },
    )
    .await;
    assert_eq!(escalated["status"], "triggered");
    eventually("bob to be paged", Duration::from_secs(10), || async {
        receiver
            .pages()
            .await
            .iter()
            .any(|(person, event, _)| person == "bob" && event == "escalated")
            .then_some(())
    })
    .await;
    assert!(due.as_str() < escalated["next_escalation"].as_str().unwrap());
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_events_trigger_dedup_acknowledge_and_resolve_as_pagerduty_does() {
    let receiver = Receiver::start().await;
    let folder = folder("oncall-pagerduty");
    let server = start(&folder, &receiver.url, Duration::from_secs(300)).await;
    let trigger = json!({
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "payload": {"summary": "disk full on db-1", "source": "db-1", "severity": "critical"}
    });
    let (status, first) = server.post_json("/v2/enqueue", trigger.clone()).await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["status"], "success");
    assert_eq!(first["message"], "Event processed");
    let dedup_key = first["dedup_key"].as_str().unwrap().to_string();
    assert_eq!(dedup_key.len(), 32);

    let mut again = trigger.clone();
    again["dedup_key"] = json!(dedup_key);
    let (status, second) = server.post_json("/v2/enqueue", again).await;
    assert_eq!(
        (status, second["dedup_key"].as_str()),
        (202, Some(dedup_key.as_str()))
    );
    let (_, pages) = server.get_json("/api/v1/pages").await;
    assert_eq!(
        pages["pages"].as_array().unwrap().len(),
        1,
        "one page for one dedup key: {pages}"
    );
    let page_id = pages["pages"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        pages["pages"][0]["service"], "payments",
        "the integration's labels route it"
    );

    let (status, _) = server
        .post_json("/v2/enqueue", json!({"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": dedup_key}))
        .await;
    assert_eq!(status, 202);
    let acknowledged = page(&server, &page_id).await;
    assert_eq!(acknowledged["status"], "acknowledged");
    assert_eq!(acknowledged["acknowledged_by"], "pagerduty:monitor");
    let (status, _) = server
        .post_json(
            "/v2/enqueue",
            json!({"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": dedup_key}),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(page(&server, &page_id).await["status"], "resolved");
    // Resolving an unknown key is accepted and changes nothing, as PagerDuty does.
    let (status, _) = server
        .post_json(
            "/v2/enqueue",
            json!({"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "nope"}),
        )
        .await;
    assert_eq!(status, 202);

    let (status, bad_key) = server
        .post_json(
            "/v2/enqueue",
            json!({"routing_key": "wrong", "event_action": "trigger",
            "payload": {"summary": "x", "source": "y", "severity": "info"}}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        bad_key,
        json!({"status": "invalid event", "message": "Event object is invalid", "errors": ["Invalid routing key"]})
    );
    let (status, malformed) = server
        .post_json("/v2/enqueue", json!({"routing_key": ROUTING_KEY, "event_action": "trigger", "payload": {"summary": "x"}}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        malformed["errors"].as_array().unwrap().len(),
        2,
        "{malformed}"
    );
    let (_, pages) = server.get_json("/api/v1/pages").await;
    assert_eq!(
        pages["pages"].as_array().unwrap().len(),
        1,
        "bad events changed nothing"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_mute_and_are_recorded_then_pages_follow_when_they_end() {
    let receiver = Receiver::start().await;
    let folder = folder("oncall-silence");
    let server = start(&folder, &receiver.url, Duration::from_secs(300)).await;
    let (status, silence) = server
        .post_json(
            "/api/v1/silences",
            json!({"matchers": ["service=\"payments\"", "alertname=~\"Disk.*\""], "duration": "1h",
                   "created_by": "alice", "comment": "replacing disks"}),
        )
        .await;
    assert_eq!(status, 201, "{silence}");
    let (_, body) = server
        .post_json(
            "/api/v1/intake/webhook",
            json!({"labels": {"alertname": "DiskSlow", "service": "payments"}}),
        )
        .await;
    assert_eq!(body["alerts"][0]["outcome"], "muted", "{body}");
    let (_, other) = server
        .post_json(
            "/api/v1/intake/webhook",
            json!({"labels": {"alertname": "CpuHigh", "service": "payments"}}),
        )
        .await;
    assert_eq!(other["alerts"][0]["outcome"], "paged", "{other}");
    let (_, events) = server.get_json("/api/v1/events").await;
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "alert.muted"),
        "{events}"
    );

    // Bad silences change nothing.
    for (bad, needle) in [
        (
            json!({"matchers": ["service=~\"(\""], "duration": "1h", "created_by": "a"}),
            "matchers[0]",
        ),
        (
            json!({"matchers": [], "duration": "1h", "created_by": "a"}),
            "at least one matcher",
        ),
        (
            json!({"matchers": ["a=\"b\""], "duration": "soon", "created_by": "a"}),
            "duration",
        ),
        (
            json!({"matchers": ["a=\"b\""], "duration": "1h"}),
            "created_by",
        ),
    ] {
        let (status, body) = server.post_json("/api/v1/silences", bad.clone()).await;
        assert_eq!(status, 400, "{bad} -> {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(needle),
            "{body}"
        );
    }
    let (_, list) = server.get_json("/api/v1/silences").await;
    assert_eq!(list["silences"].as_array().unwrap().len(), 1, "{list}");

    // Expire the silence: the still-firing alert pages at the next pass.
    let id = silence["id"].as_str().unwrap();
    let response = server
        .client
        .delete(server.url(&format!("/api/v1/silences/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    eventually(
        "the unmuted alert to page",
        Duration::from_secs(10),
        || async {
            let (_, pages) = server.get_json("/api/v1/pages").await;
            pages["pages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|page| page["labels"]["alertname"] == "DiskSlow")
                .then_some(())
        },
    )
    .await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_that_stops_pages_and_beating_again_resolves() {
    let receiver = Receiver::start().await;
    let folder = folder("oncall-heartbeat");
    let server = start(&folder, &receiver.url, Duration::from_secs(300)).await;
    let (status, _) = server
        .post_json("/api/v1/heartbeats/backup", json!({}))
        .await;
    assert_eq!(status, 200);
    let (status, unknown) = server.post_json("/api/v1/heartbeats/nope", json!({})).await;
    assert_eq!(status, 404, "{unknown}");
    // Interval 2 s + grace 1 s without a beat: a page.
    let page_id = eventually(
        "the missed heartbeat to page",
        Duration::from_secs(15),
        || async {
            let (_, pages) = server.get_json("/api/v1/pages").await;
            pages["pages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|page| page["labels"]["heartbeat"] == "backup")
                .map(|page| page["id"].as_str().unwrap().to_string())
        },
    )
    .await;
    let (_, list) = server.get_json("/api/v1/heartbeats").await;
    let backup = list["heartbeats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == "backup")
        .unwrap()
        .clone();
    assert_eq!(backup["status"], "missed", "{list}");
    let (_, beat) = server
        .post_json("/api/v1/heartbeats/backup", json!({}))
        .await;
    assert_eq!(beat["resolved"], true, "{beat}");
    assert_eq!(page(&server, &page_id).await["status"], "resolved");
    // The resolution notice shows the alert resolved (it is written in the same commit).
    let notice = eventually("the resolution notice", Duration::from_secs(10), || async {
        receiver
            .bodies
            .lock()
            .await
            .iter()
            .find(|body| body["event"] == "resolved" && body["page_id"] == page_id.as_str())
            .cloned()
    })
    .await;
    assert_eq!(notice["alerts"][0]["status"], "resolved", "{notice}");
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_evaluator_pages_through_its_own_heartbeat() {
    let receiver = Receiver::start().await;
    let folder = folder("oncall-evaluator");
    // The evaluator runs once at start and then not for an hour; its deadline is 2 s.
    let server = TestServer::start_with(&folder, &config(&receiver.url), |config, _| {
        config.evaluation_interval = Duration::from_secs(3600);
        config.evaluator_deadline = Some(Duration::from_secs(2));
    })
    .await;
    let page = eventually(
        "the stalled evaluator to page",
        Duration::from_secs(15),
        || async {
            let (_, pages) = server.get_json("/api/v1/pages").await;
            pages["pages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|page| page["labels"]["alertname"] == "NinesEvaluatorStalled")
                .cloned()
        },
    )
    .await;
    assert!(
        page["summary"].as_str().unwrap().contains("evaluator"),
        "{page}"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

fn find_in_path(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|folder| folder.join(binary))
        .find(|candidate| candidate.is_file())
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_alertmanager(binary: &Path, folder: &Path, nines: &str) -> (Child, String) {
    let config = folder.join("alertmanager.yml");
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: nines\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: nines\n    webhook_configs:\n      - url: {nines}/api/v1/intake/alertmanager\n        send_resolved: true\n"
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(folder.join("alertmanager.log")).unwrap();
    let child = std::process::Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            folder.join("am-data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start prometheus-alertmanager");
    let child = Child(child);
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    eventually(
        "alertmanager to be ready",
        Duration::from_secs(30),
        || async {
            client
                .get(format!("{url}/-/ready"))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success())
                .then_some(())
        },
    )
    .await;
    (child, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_alertmanager_notifications_page_and_resolve() {
    let Some(binary) = find_in_path("prometheus-alertmanager") else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("prometheus-alertmanager not found, and CI=true: install it (.ci/run does)");
        }
        eprintln!(
            "SKIPPED: prometheus-alertmanager not found (install Debian's prometheus-alertmanager)"
        );
        return;
    };
    let receiver = Receiver::start().await;
    let folder = folder("oncall-alertmanager");
    let server = start(&folder, &receiver.url, Duration::from_secs(300)).await;
    let (_alertmanager, am) = start_alertmanager(&binary, &folder, &server.base).await;

    let started = jiff::Timestamp::now().to_string();
    let alert = |ends: Option<String>| {
        let mut alert = json!({
            "labels": {"alertname": "PaymentsLatency", "service": "payments", "severity": "critical"},
            "annotations": {"summary": "payments p99 over 2s", "runbook_url": "https://runbooks.example/latency"},
            "startsAt": started,
        });
        if let Some(ends) = ends {
            alert["endsAt"] = json!(ends);
        }
        json!([alert])
    };
    let response = server
        .client
        .post(format!("{am}/api/v2/alerts"))
        .json(&alert(None))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );

    let page_id = eventually(
        "Alertmanager's notification to page",
        Duration::from_secs(30),
        || async {
            let (_, pages) = server.get_json("/api/v1/pages").await;
            pages["pages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|page| page["summary"] == "payments p99 over 2s")
                .map(|page| page["id"].as_str().unwrap().to_string())
        },
    )
    .await;
    let opened = page(&server, &page_id).await;
    assert_eq!(opened["runbook"], "https://runbooks.example/latency");
    assert_eq!(opened["alerts"][0]["source"], "alertmanager");
    assert!(
        opened["alerts"][0]["fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("am:")
    );
    eventually("alice to be paged", Duration::from_secs(10), || async {
        receiver
            .pages()
            .await
            .iter()
            .any(|(person, event, id)| person == "alice" && event == "triggered" && *id == page_id)
            .then_some(())
    })
    .await;

    // Resolved in Alertmanager: its resolved notification resolves the page.
    let now = jiff::Timestamp::now().to_string();
    let response = server
        .client
        .post(format!("{am}/api/v2/alerts"))
        .json(&alert(Some(now)))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let resolved = eventually(
        "Alertmanager's resolved notification",
        Duration::from_secs(30),
        || async {
            let page = page(&server, &page_id).await;
            (page["status"] == "resolved").then_some(page)
        },
    )
    .await;
    assert_eq!(resolved["resolved_by"], "alertmanager:alertmanager");
    assert_eq!(resolved["alerts"][0]["status"], "resolved");
    let (_, pages) = server.get_json("/api/v1/pages").await;
    assert_eq!(
        pages["pages"].as_array().unwrap().len(),
        1,
        "repeated notifications did not page twice"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_intake_bodies_get_named_errors_and_change_nothing() {
    let receiver = Receiver::start().await;
    let folder = folder("oncall-malformed");
    let server = start(&folder, &receiver.url, Duration::from_secs(300)).await;
    for (path, body, needle) in [
        ("/api/v1/intake/alertmanager", "{", "not valid JSON"),
        (
            "/api/v1/intake/alertmanager",
            r#"{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"firing","labels":{"a":"b"}},{"status":"nope","labels":{"a":"c"}}]}"#,
            "alerts[1].status",
        ),
        (
            "/api/v1/intake/webhook",
            r#"{"alerts":[{"labels":{}}]}"#,
            "alerts[0].labels",
        ),
        ("/api/v1/intake/webhook", r#"[1,2]"#, "expected an object"),
    ] {
        let (status, answer) = server
            .post(path, "application/json", body.as_bytes().to_vec(), &[])
            .await;
        assert_eq!(status, 400, "{path} {body} -> {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains(needle),
            "{answer}"
        );
    }
    let (_, pages) = server.get_json("/api/v1/pages").await;
    assert_eq!(pages["pages"], json!([]), "nothing half-applied");
    let (_, events) = server.get_json("/api/v1/events").await;
    assert!(
        !events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"].as_str().unwrap().starts_with("alert.")
                || e["kind"].as_str().unwrap().starts_with("page.")),
        "{events}"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_slo_burning_its_budget_pages_the_owner_on_call() {
    let receiver = Receiver::start().await;
    let folder = folder("oncall-slo");
    let server = start(&folder, &receiver.url, Duration::from_secs(300)).await;
    // An hour of good history, then a burst of failures: both page windows burn.
    let now = jiff::Timestamp::now().as_second();
    for minutes_ago in (1..=60).rev() {
        let at = jiff::Timestamp::from_second(now - minutes_ago * 60)
            .unwrap()
            .to_string();
        let (status, body) = server
            .post_json(
                "/api/v1/slos/checkout/events",
                json!({"good": 100, "total": 100, "at": at}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
    let (status, _) = server
        .post_json(
            "/api/v1/slos/checkout/events",
            json!({"bad": 900, "total": 1000}),
        )
        .await;
    assert_eq!(status, 202);
    let page = eventually("the SLO's page", Duration::from_secs(20), || async {
        let (_, pages) = server.get_json("/api/v1/pages").await;
        pages["pages"].as_array().unwrap().first().cloned()
    })
    .await;
    assert_eq!(page["labels"]["alertname"], "SLOBurnRate", "{page}");
    assert_eq!(page["labels"]["slo"], "checkout");
    assert_eq!(page["policy"], "payments", "the owning team's policy");
    assert_eq!(page["runbook"], "https://runbooks.example/payments");
    eventually("alice to be paged", Duration::from_secs(10), || async {
        receiver
            .pages()
            .await
            .iter()
            .any(|(person, event, _)| person == "alice" && event == "triggered")
            .then_some(())
    })
    .await;
    // Still one page after more evaluations: the firing alert is known.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, pages) = server.get_json("/api/v1/pages").await;
    assert_eq!(pages["pages"].as_array().unwrap().len(), 1, "{pages}");
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maintenance_window_mutes_the_alerts_it_matches() {
    use nines_core::oncall::matcher::Matcher;
    use nines_core::oncall::silence::{MaintenanceWhen, MaintenanceWindow};
    let receiver = Receiver::start().await;
    let folder = folder("oncall-maintenance");
    let now = jiff::Timestamp::now();
    let server = TestServer::start_with(&folder, &config(&receiver.url), move |_, catalog| {
        catalog.oncall.maintenance.push(MaintenanceWindow {
            id: "db-upgrade".to_string(),
            matchers: vec![Matcher::parse("component=\"db\"").unwrap()],
            when: MaintenanceWhen::Once {
                starts: now - jiff::SignedDuration::from_hours(1),
                ends: now + jiff::SignedDuration::from_hours(1),
            },
            comment: "upgrade".to_string(),
        });
    })
    .await;
    let (_, body) = server
        .post_json(
            "/api/v1/intake/webhook",
            json!({"labels": {"alertname": "Replication", "service": "payments", "component": "db"}}),
        )
        .await;
    assert_eq!(body["alerts"][0]["outcome"], "muted", "{body}");
    let (_, events) = server.get_json("/api/v1/events").await;
    let muted = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "alert.muted")
        .cloned()
        .unwrap();
    assert_eq!(muted["payload"]["by"], "db-upgrade", "{muted}");
    assert_eq!(muted["payload"]["kind"], "maintenance", "{muted}");
    let (_, list) = server.get_json("/api/v1/silences").await;
    assert_eq!(list["maintenance"][0]["active"], true, "{list}");
    let (_, pages) = server.get_json("/api/v1/pages").await;
    assert_eq!(pages["pages"], json!([]));
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_forwarded_over_pagerduty_events_open_and_resolve_in_another_nines() {
    // B takes PagerDuty Events v2 as PagerDuty would; A forwards its pages to B.
    let receiver_b = Receiver::start().await;
    let folder_b = folder("oncall-pd-b");
    let b = start(&folder_b, &receiver_b.url, Duration::from_secs(300)).await;
    let receiver_a = Receiver::start().await;
    let folder_a = folder("oncall-pd-a");
    let text = config(&receiver_a.url)
        .replace(
            "channels:\n",
            &format!(
                "channels:\n  - {{id: pd, type: pagerduty, routing_key_env: PD_KEY, url: \"{}/v2/enqueue\"}}\n",
                b.base
            ),
        )
        .replace(
            "{id: alice, name: Alice, time_zone: Europe/Berlin, contacts: [{channel: hook}]}",
            "{id: alice, name: Alice, time_zone: Europe/Berlin, contacts: [{channel: hook}, {channel: pd}]}",
        );
    assert!(text.contains("{channel: pd}"));
    let a = TestServer::start_with(&folder_a, &text, |config, catalog| {
        config
            .environment
            .insert("PD_KEY".to_string(), ROUTING_KEY.to_string());
        quick(Duration::from_secs(300))(config, catalog);
    })
    .await;

    let (_, body) = a
        .post_json(
            "/api/v1/intake/webhook",
            json!({"labels": {"alertname": "Down", "service": "payments"}, "summary": "payments down in A"}),
        )
        .await;
    let page_a = body["alerts"][0]["page"].as_str().unwrap().to_string();
    let page_b = eventually(
        "the forwarded page to open in B",
        Duration::from_secs(20),
        || async {
            let (_, pages) = b.get_json("/api/v1/pages").await;
            pages["pages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|page| page["summary"] == "payments down in A")
                .cloned()
        },
    )
    .await;
    let b_page = page(&b, page_b["id"].as_str().unwrap()).await;
    assert_eq!(
        b_page["alerts"][0]["fingerprint"],
        format!("pd:monitor:nines-page:{page_a}"),
        "A's dedup key is its page: {b_page}"
    );
    let (status, _) = a
        .post_json(
            &format!("/api/v1/pages/{page_a}/resolve"),
            json!({"by": "alice"}),
        )
        .await;
    assert_eq!(status, 200);
    let id_b = page_b["id"].as_str().unwrap().to_string();
    eventually("B's page to resolve", Duration::from_secs(20), || async {
        (page(&b, &id_b).await["status"] == "resolved").then_some(())
    })
    .await;
    a.stop().await;
    b.stop().await;
    let _ = std::fs::remove_dir_all(&folder_a);
    let _ = std::fs::remove_dir_all(&folder_b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_of_two_teams_never_share_a_page_even_when_grouped_by_name_only() {
    let receiver = Receiver::start().await;
    let folder = folder("oncall-two-teams");
    let text = config(&receiver.url)
        .replace(
            "slos:\n",
            "  - {id: search, owner: search-team, runbooks: [\"https://runbooks.example/search\"]}\nslos:\n",
        )
        .replace(
            "schedules:\n",
            "  - {id: search-team, name: Search, members: [bob], escalation_policy: search}\nschedules:\n",
        )
        .replacen(
            "\nroutes:\n",
            "\n  - id: search\n    steps:\n      - {targets: [{person: bob}]}\nroutes:\n",
            1,
        )
        .replace("group_by: [alertname, service]", "group_by: [alertname]");
    let server = TestServer::start_with(&folder, &text, quick(Duration::from_secs(300))).await;
    let mut pages = Vec::new();
    for service in ["payments", "search"] {
        let (status, body) = server
            .post_json(
                "/api/v1/intake/webhook",
                json!({"labels": {"alertname": "DiskFull", "service": service}}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["alerts"][0]["outcome"], "paged", "{body}");
        pages.push(body["alerts"][0]["page"].as_str().unwrap().to_string());
    }
    assert_ne!(pages[0], pages[1]);
    assert_eq!(page(&server, &pages[0]).await["policy"], "payments");
    assert_eq!(page(&server, &pages[1]).await["policy"], "search");
    // A third DiskFull of payments joins the payments page.
    let (_, body) = server
        .post_json(
            "/api/v1/intake/webhook",
            json!({"labels": {"alertname": "DiskFull", "service": "payments", "disk": "2"}}),
        )
        .await;
    assert_eq!(body["alerts"][0]["outcome"], "grouped", "{body}");
    assert_eq!(body["alerts"][0]["page"], pages[0].as_str());
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_policy_is_gone_stops_escalating_and_says_why() {
    let receiver = Receiver::start().await;
    let folder = folder("oncall-policy-gone");
    let server = start(&folder, &receiver.url, Duration::from_secs(1)).await;
    let (_, body) = server
        .post_json(
            "/api/v1/intake/webhook",
            json!({"labels": {"alertname": "Down", "service": "payments"}}),
        )
        .await;
    let page_id = body["alerts"][0]["page"].as_str().unwrap().to_string();
    server.stop().await;
    // Restarted without the policy the page runs on (a configuration change).
    let server = TestServer::start_with(&folder, &config(&receiver.url), |config, catalog| {
        quick(Duration::from_secs(1))(config, catalog);
        for policy in &mut catalog.oncall.escalation_policies {
            policy.id = "renamed".to_string();
        }
    })
    .await;
    let stopped = eventually(
        "the escalation to stop",
        Duration::from_secs(10),
        || async {
            let page = page(&server, &page_id).await;
            timeline_kinds(&page)
                .contains(&"page.escalation_stopped".to_string())
                .then_some(page)
        },
    )
    .await;
    assert_eq!(stopped["next_escalation"], Value::Null, "{stopped}");
    assert_eq!(
        stopped["status"], "triggered",
        "still open, for someone to act on"
    );
    let reason = stopped["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["kind"] == "page.escalation_stopped")
        .unwrap()["detail"]["reason"]
        .clone();
    assert!(reason.as_str().unwrap().contains("payments"), "{reason}");
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_counts_the_pages_acknowledgements_and_marks_of_its_period() {
    let receiver = Receiver::start().await;
    let folder = folder("oncall-report");
    let server = start(&folder, &receiver.url, Duration::from_secs(300)).await;
    let from = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(1);
    let mut ids = Vec::new();
    for name in ["Disk", "Cpu"] {
        let (_, body) = server
            .post_json(
                "/api/v1/intake/webhook",
                json!({"labels": {"alertname": name, "service": "payments"}}),
            )
            .await;
        ids.push(body["alerts"][0]["page"].as_str().unwrap().to_string());
    }
    let (status, _) = server
        .post_json(
            &format!("/api/v1/pages/{}/acknowledge", ids[0]),
            json!({"by": "alice"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = server
        .post_json(
            &format!("/api/v1/pages/{}/actionable", ids[1]),
            json!({"actionable": false, "by": "bob"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = server
        .post_json(
            &format!("/api/v1/pages/{}/resolve", ids[1]),
            json!({"by": "bob"}),
        )
        .await;
    assert_eq!(status, 200);
    let to = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(1);
    let (status, report) = server
        .get_json(&format!(
            "/api/v1/reports?from={from}&to={to}&team=payments-team"
        ))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["pages"]["created"], 2, "{report:#}");
    assert_eq!(report["pages"]["time_to_acknowledge"]["count"], 1);
    assert_eq!(report["pages"]["time_to_resolve"]["count"], 1);
    assert_eq!(report["pages"]["non_actionable"]["count"], 1);
    assert_eq!(report["pages"]["non_actionable"]["out_of"], 1);
    assert_eq!(
        report["on_call"]["shifts"], 1,
        "alice's daily shift, clipped to the period"
    );
    assert_eq!(
        report["on_call"]["quiet_share"], 0.0,
        "alice was paged during it"
    );
    assert_eq!(report["slos"]["slos"][0]["id"], "checkout");
    // A period before the pages holds none of them.
    let (_, earlier) = server
        .get_json("/api/v1/reports?from=2026-01-01&to=2026-01-02")
        .await;
    assert_eq!(earlier["pages"]["created"], 0, "{earlier}");
    for (query, status, needle) in [
        ("from=2026-02-01&to=2026-01-01", 400, "not after its start"),
        ("from=yesterday", 400, "from \"yesterday\""),
        ("team=nope", 404, "no team has id"),
        ("service=nope", 404, "no service has id"),
        ("team=payments-team&service=payments", 400, "not both"),
        ("color=red", 400, "unknown query parameter"),
    ] {
        let (got, body) = server.get_json(&format!("/api/v1/reports?{query}")).await;
        assert_eq!(got, status, "{query}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(needle),
            "{query}: {body}"
        );
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}
