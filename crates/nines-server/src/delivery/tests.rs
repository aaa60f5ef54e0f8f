//! Tests of notification delivery against a real SQLite store, real HTTP receivers on loopback
//! and, when installed, a real Alertmanager.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use nines_core::{AlertKind, Change, Exhaustion, Severity, Span};
use nines_spec::catalog::{Channel, ChannelKind};
use nines_spec::{Format, Origin};
use nines_store::{OutboxRow, Store, TransitionCommit};
use sha2::Sha256;

use super::*;
use crate::evaluator::{Notice, PairRates};

mod channels;

// ---------------------------------------------------------------------------------------------
// Helpers

const T0: i64 = 1_800_000_000_000;

fn notice(slo_id: &str, change: Change, at_ms: i64) -> Notice {
    Notice {
        slo_id: slo_id.to_string(),
        slo_name: "Checkout availability".to_string(),
        service: "checkout".to_string(),
        owner: Some("payments".to_string()),
        kind: AlertKind::BurnRate,
        severity: Severity::Page,
        change,
        at: Timestamp::from_millisecond(at_ms).expect("test instants are valid"),
        objective: 0.999,
        budget_remaining_share: 0.62,
        sli: Some(0.9981),
        burn_rates: vec![
            PairRates {
                severity: Severity::Page,
                long_window: "1h".to_string(),
                long_burn_rate: Some(20.5),
                short_window: "5m".to_string(),
                short_burn_rate: Some(31.0),
                factor: 14.4,
                fires: true,
            },
            PairRates {
                severity: Severity::Page,
                long_window: "6h".to_string(),
                long_burn_rate: Some(4.0),
                short_window: "30m".to_string(),
                short_burn_rate: None,
                factor: 6.0,
                fires: false,
            },
        ],
        runbook: Some("https://runbooks.example.com/checkout".to_string()),
        labels: vec![
            ("team".to_string(), "payments".to_string()),
            ("tier".to_string(), "1".to_string()),
            ("not-a-prometheus-name".to_string(), "x".to_string()),
        ],
        exhaustion: Exhaustion::In(Span::hours(5)),
    }
}

fn origin() -> Origin {
    Origin {
        file: "nines.yaml".to_string(),
        line: 1,
        path: "channels[0]".to_string(),
        format: Format::Native,
    }
}

fn webhook(id: &str, url: &str, secret_env: Option<&str>) -> Channel {
    Channel {
        id: id.to_string(),
        kind: ChannelKind::Webhook {
            url: url.to_string(),
            secret_env: secret_env.map(str::to_string),
        },
        severities: Vec::new(),
        alerts: true,
        templates: Default::default(),
        origin: origin(),
    }
}

fn alertmanager(id: &str, url: &str) -> Channel {
    Channel {
        id: id.to_string(),
        kind: ChannelKind::Alertmanager {
            url: url.to_string(),
        },
        severities: Vec::new(),
        alerts: true,
        templates: Default::default(),
        origin: origin(),
    }
}

fn settings() -> DeliverySettings {
    DeliverySettings {
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        backoff: Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(3600),
            jitter: Jitter::None,
        },
        ..DeliverySettings::default()
    }
}

/// A folder removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("nines_delivery_{name}_{}_{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp folder");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn open_store(dir: &TempDir) -> Arc<dyn Store> {
    let url = format!("sqlite://{}", dir.path().join("nines.db").display());
    nines_store::open(&url).await.expect("open sqlite store")
}

async fn enqueue(store: &dyn Store, rows: Vec<OutboxRow>) {
    store
        .commit_transitions(&TransitionCommit {
            outbox: rows,
            ..TransitionCommit::default()
        })
        .await
        .expect("commit outbox rows");
}

/// Every undelivered message, whether due or not.
async fn pending(store: &dyn Store) -> Vec<OutboxRow> {
    store
        .due_messages(i64::MAX, 1000)
        .await
        .expect("read outbox")
}

#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

/// An HTTP receiver on loopback that answers the given statuses in turn, then 200.
#[derive(Default)]
struct Receiver {
    statuses: Mutex<VecDeque<u16>>,
    received: Mutex<Vec<Received>>,
}

impl Receiver {
    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("receiver lock").clone()
    }
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    receiver
        .received
        .lock()
        .expect("receiver lock")
        .push(Received { headers, body });
    let status = receiver
        .statuses
        .lock()
        .expect("receiver lock")
        .pop_front()
        .unwrap_or(200);
    StatusCode::from_u16(status).expect("test statuses are valid")
}

async fn start_receiver(statuses: &[u16]) -> (Arc<Receiver>, String) {
    let receiver = Arc::new(Receiver {
        statuses: Mutex::new(statuses.iter().copied().collect()),
        received: Mutex::new(Vec::new()),
    });
    let router = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(Arc::clone(&receiver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let address = listener.local_addr().expect("receiver address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (receiver, format!("http://{address}/hook"))
}

/// Accepts connections and never answers.
async fn start_hanging_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind hanging receiver");
    let address = listener.local_addr().expect("hanging receiver address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}/hook")
}

/// A loopback address nothing listens on.
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{address}/hook")
}

fn hmac_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("hmac key");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("header {name} missing"))
        .to_str()
        .expect("ascii header")
}

// ---------------------------------------------------------------------------------------------
// Payloads

#[test]
fn webhook_payload_shape() {
    let channels = [webhook("hook", "http://127.0.0.1:9/hook", None)];
    let at_ms = T0 - 5_000;
    let rows = outbox_rows(
        &notice("checkout-avail", Change::Fired, at_ms),
        &channels,
        T0,
    );
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    let key = format!("checkout-avail:burn_rate:page:fired:{at_ms}:hook");
    assert_eq!(row.idempotency_key, key);
    assert_eq!(row.channel, "hook");
    assert_eq!(row.created_ms, T0);
    assert_eq!(row.next_attempt_ms, T0);
    assert_eq!(row.attempts, 0);

    let json: serde_json::Value = serde_json::from_str(&row.payload).expect("json");
    assert_eq!(json["version"], "nines.v1");
    assert_eq!(json["idempotency_key"], key.as_str());
    assert_eq!(json["slo"]["id"], "checkout-avail");
    assert_eq!(json["slo"]["name"], "Checkout availability");
    assert_eq!(json["slo"]["service"], "checkout");
    assert_eq!(json["slo"]["owner"], "payments");
    assert_eq!(json["slo"]["objective"], 0.999);
    assert_eq!(json["alert"]["kind"], "burn_rate");
    assert_eq!(json["alert"]["severity"], "page");
    assert_eq!(json["alert"]["change"], "fired");
    assert_eq!(json["alert"]["at"], "2027-01-15T07:59:55Z");
    assert_eq!(json["budget_remaining_share"], 0.62);
    assert_eq!(json["sli"], 0.9981);
    assert_eq!(json["burn_rates"].as_array().map(Vec::len), Some(2));
    assert_eq!(json["burn_rates"][0]["long_window"], "1h");
    assert_eq!(json["burn_rates"][0]["long_burn_rate"], 20.5);
    assert_eq!(json["burn_rates"][0]["short_window"], "5m");
    assert_eq!(json["burn_rates"][0]["short_burn_rate"], 31.0);
    assert_eq!(json["burn_rates"][0]["factor"], 14.4);
    assert_eq!(json["burn_rates"][0]["fires"], true);
    assert_eq!(
        json["burn_rates"][1]["short_burn_rate"],
        serde_json::Value::Null
    );
    assert_eq!(json["burn_rates"][1]["fires"], false);
    assert_eq!(json["exhaustion"]["state"], "in");
    assert_eq!(json["exhaustion"]["seconds"], 18_000);
    assert_eq!(json["runbook"], "https://runbooks.example.com/checkout");
    assert_eq!(json["labels"]["team"], "payments");
    assert_eq!(
        json["summary"],
        "Checkout availability (checkout): error budget burning too fast [page]"
    );

    // The typed form reads it back whole.
    let typed: WebhookPayload = serde_json::from_str(&row.payload).expect("typed payload");
    assert_eq!(typed.labels.len(), 3);
    assert_eq!(typed.exhaustion.seconds, Some(18_000));

    // Same transition, same key and body: writing it again is a no-op in the store.
    assert_eq!(
        outbox_rows(
            &notice("checkout-avail", Change::Fired, at_ms),
            &channels,
            T0
        ),
        rows
    );
}

#[test]
fn alertmanager_payload_shape() {
    let channels = [alertmanager("am", "http://127.0.0.1:9093/")];
    let at_ms = T0 - 5_000;
    let fired = outbox_rows(
        &notice("checkout-avail", Change::Fired, at_ms),
        &channels,
        T0,
    );
    let json: serde_json::Value = serde_json::from_str(&fired[0].payload).expect("json");
    let alerts = json.as_array().expect("an array of alerts");
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert["labels"]["alertname"], "SLOBurnRate");
    assert_eq!(alert["labels"]["slo"], "checkout-avail");
    assert_eq!(alert["labels"]["service"], "checkout");
    assert_eq!(alert["labels"]["severity"], "page");
    assert_eq!(alert["labels"]["team"], "payments");
    assert_eq!(alert["labels"]["owner"], "payments");
    assert_eq!(alert["labels"]["tier"], "1");
    // Alertmanager would refuse the batch over this name.
    assert!(alert["labels"].get("not-a-prometheus-name").is_none());
    assert_eq!(
        alert["annotations"]["runbook_url"],
        "https://runbooks.example.com/checkout"
    );
    assert_eq!(
        alert["annotations"]["summary"],
        "Checkout availability (checkout): error budget burning too fast [page]"
    );
    let description = alert["annotations"]["description"]
        .as_str()
        .expect("description");
    assert!(
        description.contains("burn rate 20.50 over 1h and 31.00 over 5m (threshold 14.40)"),
        "{description}"
    );
    assert!(
        description.contains("budget exhausted in 5h"),
        "{description}"
    );
    assert_eq!(alert["startsAt"], "2027-01-15T07:59:55Z");
    // Fired: kept firing for the horizon, not Alertmanager's resolve_timeout.
    assert_eq!(alert["endsAt"], "2027-01-22T07:59:55Z");
    assert!(alert.get("generatorURL").is_none());

    let resolved = outbox_rows(
        &notice("checkout-avail", Change::Resolved, at_ms),
        &channels,
        T0,
    );
    let typed: Vec<AlertmanagerAlert> =
        serde_json::from_str(&resolved[0].payload).expect("typed alerts");
    assert_eq!(typed[0].ends_at.as_deref(), Some("2027-01-15T07:59:55Z"));
    assert_eq!(typed[0].labels, {
        let fired: Vec<AlertmanagerAlert> =
            serde_json::from_str(&fired[0].payload).expect("typed alerts");
        fired[0].labels.clone()
    });

    let superseded = outbox_rows(
        &notice("checkout-avail", Change::Superseded, at_ms),
        &channels,
        T0,
    );
    let typed: Vec<AlertmanagerAlert> =
        serde_json::from_str(&superseded[0].payload).expect("typed alerts");
    assert_eq!(typed[0].ends_at.as_deref(), Some("2027-01-15T07:59:55Z"));
}

#[test]
fn channels_take_only_their_severities() {
    let mut tickets_only = webhook("tickets", "http://127.0.0.1:9/hook", None);
    tickets_only.severities = vec![Severity::Ticket];
    let mut pages_only = alertmanager("am", "http://127.0.0.1:9093");
    pages_only.severities = vec![Severity::Page];
    let all = webhook("all", "http://127.0.0.1:9/hook", None);
    let rows = outbox_rows(
        &notice("checkout-avail", Change::Fired, T0),
        &[tickets_only, pages_only, all],
        T0,
    );
    let channels: Vec<&str> = rows.iter().map(|row| row.channel.as_str()).collect();
    assert_eq!(channels, ["am", "all"]);
}

#[test]
fn backoff_doubles_up_to_max_and_jitter_stays_below() {
    let backoff = Backoff {
        base: Duration::from_millis(500),
        max: Duration::from_secs(10),
        jitter: Jitter::None,
    };
    let delays: Vec<u128> = (0..8)
        .map(|attempts| backoff.delay(attempts, 0.3).as_millis())
        .collect();
    assert_eq!(
        delays,
        [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]
    );
    assert_eq!(backoff.ceiling(i64::MAX), Duration::from_secs(10));
    assert_eq!(backoff.ceiling(-3), Duration::from_millis(500));

    let full = Backoff {
        jitter: Jitter::Full,
        ..backoff
    };
    assert_eq!(full.delay(3, 0.0), Duration::ZERO);
    assert_eq!(full.delay(3, 0.25), Duration::from_secs(1));
    assert_eq!(full.delay(3, 1.0), Duration::from_secs(4));
    for _ in 0..100 {
        assert!(full.delay(3, random_unit()) <= Duration::from_secs(4));
    }
}

#[test]
fn stream_of_reads_the_alert_from_the_key() {
    let rows = outbox_rows(
        &notice("team:checkout:avail", Change::Fired, T0),
        &[webhook("hook:a", "http://127.0.0.1:9/hook", None)],
        T0,
    );
    // Both severities of one alert share a stream (a superseded ticket before the page).
    assert_eq!(stream_of(&rows[0]), "team:checkout:avail:burn_rate");
}

#[test]
fn deliverer_reports_every_channel_problem() {
    let channels = [
        webhook("a", "http://127.0.0.1:9/hook", Some("A_SECRET")),
        webhook("b", "ftp://example.com/hook", Some("B_SECRET")),
        alertmanager("c", "not a url"),
        webhook("a", "http://127.0.0.1:9/hook", None),
    ];
    let env = HashMap::from([("B_SECRET".to_string(), String::new())]);
    let Err(err) = Deliverer::new(&channels, &env, settings()) else {
        panic!("channels with problems must be refused");
    };
    let text = err.to_string();
    for expected in [
        "channel \"a\": secret environment variable A_SECRET is not set",
        "channel \"b\": url \"ftp://example.com/hook\" has scheme \"ftp\"",
        "channel \"b\": secret environment variable B_SECRET is empty",
        "channel \"c\": url \"not a url\"",
        "channel \"a\" is defined twice",
    ] {
        assert!(text.contains(expected), "{expected:?} not in {text:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Delivery over HTTP

#[tokio::test]
async fn webhook_delivered_once_signed_with_idempotency_key() {
    let dir = TempDir::new("signed");
    let store = open_store(&dir).await;
    let (receiver, url) = start_receiver(&[]).await;
    let channels = [webhook("hook", &url, Some("HOOK_SECRET"))];
    let env = HashMap::from([("HOOK_SECRET".to_string(), "s3cret".to_string())]);
    let deliverer = Deliverer::new(&channels, &env, settings()).expect("deliverer");

    let rows = outbox_rows(&notice("checkout-avail", Change::Fired, T0), &channels, T0);
    let key = rows[0].idempotency_key.clone();
    let payload = rows[0].payload.clone();
    enqueue(store.as_ref(), rows).await;

    let now_ms = T0 + 1_234;
    let stats = deliverer.deliver_due(store.as_ref(), now_ms).await;
    assert_eq!(stats.due, 1);
    assert_eq!(stats.delivered, 1);
    assert_eq!(stats.failed, 0);

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.body.as_ref(), payload.as_bytes());
    assert_eq!(header(&request.headers, "content-type"), "application/json");
    assert_eq!(header(&request.headers, "x-nines-idempotency-key"), key);
    assert_eq!(
        header(&request.headers, "x-nines-signature"),
        format!("sha256={}", hmac_hex(b"s3cret", &request.body))
    );
    assert_eq!(
        header(&request.headers, "x-nines-timestamp"),
        (now_ms / 1000).to_string()
    );
    let body: WebhookPayload = serde_json::from_slice(&request.body).expect("payload");
    assert_eq!(body.idempotency_key, key);

    assert_eq!(store.outbox_depth().await.expect("depth"), 0);
    assert!(pending(store.as_ref()).await.is_empty());
    let again = deliverer
        .deliver_due(store.as_ref(), now_ms + 3_600_000)
        .await;
    assert_eq!(again.due, 0);
    assert_eq!(receiver.received().len(), 1);
    let counters = deliverer.counters();
    assert_eq!(counters.delivered.load(Ordering::Relaxed), 1);
    assert_eq!(counters.failed_attempts.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn webhook_without_secret_is_not_signed() {
    let dir = TempDir::new("unsigned");
    let store = open_store(&dir).await;
    let (receiver, url) = start_receiver(&[]).await;
    let channels = [webhook("hook", &url, None)];
    let deliverer = Deliverer::new(&channels, &HashMap::new(), settings()).expect("deliverer");
    enqueue(
        store.as_ref(),
        outbox_rows(&notice("checkout-avail", Change::Fired, T0), &channels, T0),
    )
    .await;
    let stats = deliverer.deliver_due(store.as_ref(), T0).await;
    assert_eq!(stats.delivered, 1);
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].headers.get("x-nines-signature").is_none());
    assert!(received[0].headers.get("x-nines-timestamp").is_none());
}

#[tokio::test]
async fn server_errors_are_retried_with_growing_backoff_until_delivered() {
    let dir = TempDir::new("retry");
    let store = open_store(&dir).await;
    let (receiver, url) = start_receiver(&[500, 503]).await;
    let channels = [webhook("hook", &url, None)];
    let deliverer = Deliverer::new(&channels, &HashMap::new(), settings()).expect("deliverer");
    enqueue(
        store.as_ref(),
        outbox_rows(&notice("checkout-avail", Change::Fired, T0), &channels, T0),
    )
    .await;

    // First attempt: 500, retry after the base delay (1 s).
    let stats = deliverer.deliver_due(store.as_ref(), T0).await;
    assert_eq!((stats.delivered, stats.failed), (0, 1));
    let row = &pending(store.as_ref()).await[0];
    assert_eq!(row.attempts, 1);
    assert_eq!(row.next_attempt_ms, T0 + 1_000);
    assert_eq!(
        row.last_error.as_deref(),
        Some("http status 500 Internal Server Error")
    );

    assert_eq!(deliverer.deliver_due(store.as_ref(), T0 + 999).await.due, 0);

    // Second attempt: 503, retry after twice the base.
    let stats = deliverer.deliver_due(store.as_ref(), T0 + 1_000).await;
    assert_eq!((stats.delivered, stats.failed), (0, 1));
    let row = &pending(store.as_ref()).await[0];
    assert_eq!(row.attempts, 2);
    assert_eq!(row.next_attempt_ms, T0 + 1_000 + 2_000);
    assert_eq!(
        row.last_error.as_deref(),
        Some("http status 503 Service Unavailable")
    );

    assert_eq!(
        deliverer.deliver_due(store.as_ref(), T0 + 2_999).await.due,
        0
    );

    // Third attempt: 200.
    let stats = deliverer.deliver_due(store.as_ref(), T0 + 3_000).await;
    assert_eq!((stats.delivered, stats.failed), (1, 0));
    assert!(pending(store.as_ref()).await.is_empty());

    let received = receiver.received();
    assert_eq!(received.len(), 3);
    assert!(
        received
            .iter()
            .all(|request| request.body == received[0].body)
    );
    assert!(received.iter().all(|request| {
        request.headers.get("x-nines-idempotency-key")
            == received[0].headers.get("x-nines-idempotency-key")
    }));
    let counters = deliverer.counters();
    assert_eq!(counters.delivered.load(Ordering::Relaxed), 1);
    assert_eq!(counters.failed_attempts.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn hanging_and_refusing_channels_do_not_block_others() {
    let dir = TempDir::new("isolation");
    let store = open_store(&dir).await;
    let (good_receiver, good_url) = start_receiver(&[]).await;
    let channels = [
        webhook("hangs", &start_hanging_receiver().await, None),
        webhook("refuses", &refused_url(), None),
        webhook("good", &good_url, None),
    ];
    let settings = DeliverySettings {
        request_timeout: Duration::from_millis(700),
        ..settings()
    };
    let deliverer = Deliverer::new(&channels, &HashMap::new(), settings).expect("deliverer");
    // Three alerts, each to every channel; the failing channels' messages come first.
    for slo in ["a", "b", "c"] {
        let rows = outbox_rows(&notice(slo, Change::Fired, T0), &channels, T0);
        enqueue(store.as_ref(), rows).await;
    }

    let started = Instant::now();
    let stats = deliverer.deliver_due(store.as_ref(), T0).await;
    let took = started.elapsed();
    assert_eq!(stats.due, 9);
    assert_eq!(stats.delivered, 3);
    assert_eq!(stats.failed, 6);
    // Concurrent: one timeout, not one per hanging message.
    assert!(took < Duration::from_millis(2_000), "pass took {took:?}");
    assert_eq!(good_receiver.received().len(), 3);

    let pending = pending(store.as_ref()).await;
    assert_eq!(pending.len(), 6);
    for row in &pending {
        assert_eq!(row.attempts, 1);
        let error = row.last_error.as_deref().unwrap_or_default();
        match row.channel.as_str() {
            "hangs" => assert_eq!(error, "timed out after 700ms"),
            "refuses" => assert!(error.contains("onnection refused"), "{error}"),
            other => panic!("unexpected pending message of {other}"),
        }
    }
}

#[tokio::test]
async fn per_channel_limit_defers_the_rest_to_a_later_pass() {
    let dir = TempDir::new("limit");
    let store = open_store(&dir).await;
    let (receiver, url) = start_receiver(&[]).await;
    let channels = [webhook("hook", &url, None)];
    let settings = DeliverySettings {
        max_in_flight_per_channel: 2,
        ..settings()
    };
    let deliverer = Deliverer::new(&channels, &HashMap::new(), settings).expect("deliverer");
    for slo in ["a", "b", "c"] {
        enqueue(
            store.as_ref(),
            outbox_rows(&notice(slo, Change::Fired, T0), &channels, T0),
        )
        .await;
    }
    let first = deliverer.deliver_due(store.as_ref(), T0).await;
    assert_eq!((first.delivered, first.deferred), (2, 1));
    let second = deliverer.deliver_due(store.as_ref(), T0).await;
    assert_eq!((second.delivered, second.deferred), (1, 0));
    assert_eq!(receiver.received().len(), 3);
}

#[tokio::test]
async fn one_alert_is_delivered_in_order() {
    let dir = TempDir::new("order");
    let store = open_store(&dir).await;
    let (receiver, url) = start_receiver(&[]).await;
    let channels = [webhook("hook", &url, None)];
    let deliverer = Deliverer::new(&channels, &HashMap::new(), settings()).expect("deliverer");
    enqueue(
        store.as_ref(),
        outbox_rows(&notice("a", Change::Fired, T0), &channels, T0),
    )
    .await;
    enqueue(
        store.as_ref(),
        outbox_rows(
            &notice("a", Change::Resolved, T0 + 60_000),
            &channels,
            T0 + 60_000,
        ),
    )
    .await;
    let first = deliverer.deliver_due(store.as_ref(), T0 + 60_000).await;
    assert_eq!((first.delivered, first.deferred), (1, 1));
    let second = deliverer.deliver_due(store.as_ref(), T0 + 60_000).await;
    assert_eq!(second.delivered, 1);
    let changes: Vec<String> = receiver
        .received()
        .iter()
        .map(|request| {
            let payload: WebhookPayload = serde_json::from_slice(&request.body).expect("payload");
            payload.alert.change
        })
        .collect();
    assert_eq!(changes, ["fired", "resolved"]);
}

#[tokio::test]
async fn a_later_message_waits_for_a_failed_older_one_of_the_same_alert() {
    let dir = TempDir::new("barrier");
    let store = open_store(&dir).await;
    let (receiver, url) = start_receiver(&[500]).await;
    let channels = [webhook("hook", &url, None)];
    let deliverer = Deliverer::new(&channels, &HashMap::new(), settings()).expect("deliverer");
    enqueue(
        store.as_ref(),
        outbox_rows(&notice("a", Change::Fired, T0), &channels, T0),
    )
    .await;
    // Fired fails: retry at T0 + 1 s.
    let first = deliverer.deliver_due(store.as_ref(), T0).await;
    assert_eq!(first.failed, 1);

    // Resolved comes due before that retry: it waits for the fired one instead of overtaking it.
    enqueue(
        store.as_ref(),
        outbox_rows(
            &notice("a", Change::Resolved, T0 + 100),
            &channels,
            T0 + 100,
        ),
    )
    .await;
    let waiting = deliverer.deliver_due(store.as_ref(), T0 + 100).await;
    assert_eq!(
        (waiting.delivered, waiting.failed, waiting.deferred),
        (0, 0, 1)
    );
    let pending_rows = pending(store.as_ref()).await;
    let resolved = pending_rows
        .iter()
        .find(|row| row.idempotency_key.contains(":resolved:"))
        .expect("resolved pending");
    assert_eq!(resolved.attempts, 0);
    assert_eq!(resolved.next_attempt_ms, T0 + 1_000);
    assert!(
        resolved
            .last_error
            .as_deref()
            .is_some_and(|error| error.starts_with("waiting for the older message")),
        "{resolved:?}"
    );

    // Another alert on the same channel is not held back.
    enqueue(
        store.as_ref(),
        outbox_rows(&notice("b", Change::Fired, T0 + 200), &channels, T0 + 200),
    )
    .await;
    assert_eq!(
        deliverer
            .deliver_due(store.as_ref(), T0 + 200)
            .await
            .delivered,
        1
    );

    let retried = deliverer.deliver_due(store.as_ref(), T0 + 1_000).await;
    assert_eq!((retried.delivered, retried.deferred), (1, 1));
    let last = deliverer.deliver_due(store.as_ref(), T0 + 1_000).await;
    assert_eq!(last.delivered, 1);
    assert!(pending(store.as_ref()).await.is_empty());

    let sent: Vec<(String, String)> = receiver
        .received()
        .iter()
        .map(|request| {
            let payload: WebhookPayload = serde_json::from_slice(&request.body).expect("payload");
            (payload.slo.id, payload.alert.change)
        })
        .collect();
    let expected = [
        ("a", "fired"),
        ("b", "fired"),
        ("a", "fired"),
        ("a", "resolved"),
    ];
    assert_eq!(
        sent,
        expected.map(|(slo, change)| (slo.to_string(), change.to_string()))
    );
}

#[tokio::test]
async fn unknown_channel_is_retried_slowly_with_a_clear_error() {
    let dir = TempDir::new("unknown");
    let store = open_store(&dir).await;
    let removed = [webhook("removed", "http://127.0.0.1:9/hook", None)];
    enqueue(
        store.as_ref(),
        outbox_rows(&notice("a", Change::Fired, T0), &removed, T0),
    )
    .await;
    let deliverer = Deliverer::new(&[], &HashMap::new(), settings()).expect("deliverer");
    let stats = deliverer.deliver_due(store.as_ref(), T0).await;
    assert_eq!(stats.failed, 1);
    let row = &pending(store.as_ref()).await[0];
    assert_eq!(row.attempts, 1);
    assert_eq!(row.next_attempt_ms, T0 + 3_600_000);
    assert_eq!(
        row.last_error.as_deref(),
        Some("unknown channel \"removed\": it is not in the configuration (removed or renamed?)")
    );
}

#[tokio::test]
async fn run_delivers_and_stops_on_shutdown() {
    let dir = TempDir::new("run");
    let store = open_store(&dir).await;
    let (receiver, url) = start_receiver(&[]).await;
    let channels = [webhook("hook", &url, None)];
    let deliverer = Deliverer::new(&channels, &HashMap::new(), settings()).expect("deliverer");
    let counters = deliverer.counters();
    let now_ms = Timestamp::now().as_millisecond();
    enqueue(
        store.as_ref(),
        outbox_rows(&notice("a", Change::Fired, now_ms), &channels, now_ms),
    )
    .await;

    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(deliverer.run(Arc::clone(&store), shutdown));
    let deadline = Instant::now() + Duration::from_secs(10);
    while counters.delivered.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "run delivered nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).expect("send shutdown");
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("run stops on shutdown")
        .expect("run does not panic");
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(store.outbox_depth().await.expect("depth"), 0);
}

// ---------------------------------------------------------------------------------------------
// A real Alertmanager

/// A running `prometheus-alertmanager`, killed when dropped.
struct AlertmanagerProcess {
    child: std::process::Child,
    url: String,
    log: PathBuf,
}

impl Drop for AlertmanagerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client for the test's own requests (the process has no crypto provider before a
/// [`Deliverer`] installs one).
fn test_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn find_in_path(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|folder| folder.join(binary))
        .find(|candidate| candidate.is_file())
}

async fn start_alertmanager(binary: &Path, dir: &TempDir) -> AlertmanagerProcess {
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
    )
    .expect("write alertmanager config");
    let storage = dir.path().join("data");
    std::fs::create_dir_all(&storage).expect("alertmanager storage");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let log = dir.path().join("alertmanager.log");
    let log_file = std::fs::File::create(&log).expect("alertmanager log");
    let child = std::process::Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", storage.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(log_file.try_clone().expect("log handle"))
        .stderr(log_file)
        .spawn()
        .expect("start prometheus-alertmanager");
    let mut process = AlertmanagerProcess {
        child,
        url: format!("http://127.0.0.1:{port}"),
        log,
    };

    let client = test_client();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = process.child.try_wait() {
            panic!(
                "prometheus-alertmanager exited ({status}):\n{}",
                std::fs::read_to_string(&process.log).unwrap_or_default()
            );
        }
        let ready = client
            .get(format!("{}/-/ready", process.url))
            .send()
            .await
            .is_ok_and(|response| response.status().is_success());
        if ready {
            return process;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus-alertmanager not ready after 30 s:\n{}",
            std::fs::read_to_string(&process.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The alerts Alertmanager lists (active, silenced, inhibited, unprocessed; resolved ones are
/// not listed) with `slo="<slo_id>"`.
async fn alertmanager_alerts(url: &str, slo_id: &str) -> Vec<serde_json::Value> {
    let alerts: serde_json::Value = test_client()
        .get(format!("{url}/api/v2/alerts"))
        .send()
        .await
        .expect("GET /api/v2/alerts")
        .json()
        .await
        .expect("alerts json");
    alerts
        .as_array()
        .expect("an array of alerts")
        .iter()
        .filter(|alert| alert["labels"]["slo"] == slo_id)
        .cloned()
        .collect()
}

#[tokio::test]
async fn real_alertmanager_fires_and_resolves() {
    let Some(binary) = find_in_path("prometheus-alertmanager") else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("prometheus-alertmanager not found, and CI=true: install it (.ci/run does)");
        }
        eprintln!(
            "SKIPPED: prometheus-alertmanager not found (install Debian's prometheus-alertmanager)"
        );
        return;
    };
    let dir = TempDir::new("alertmanager");
    let am = start_alertmanager(&binary, &dir).await;
    let store = open_store(&dir).await;
    let channels = [alertmanager("am", &format!("{}/", am.url))];
    let deliverer = Deliverer::new(&channels, &HashMap::new(), settings()).expect("deliverer");

    let now_ms = Timestamp::now().as_millisecond();
    let fired_at = now_ms - 60_000;
    enqueue(
        store.as_ref(),
        outbox_rows(
            &notice("checkout-avail", Change::Fired, fired_at),
            &channels,
            now_ms,
        ),
    )
    .await;
    let stats = deliverer.deliver_due(store.as_ref(), now_ms).await;
    assert_eq!(
        (stats.delivered, stats.failed),
        (1, 0),
        "{:?}",
        pending(store.as_ref()).await
    );

    let alerts = alertmanager_alerts(&am.url, "checkout-avail").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert["labels"]["alertname"], "SLOBurnRate");
    assert_eq!(alert["labels"]["service"], "checkout");
    assert_eq!(alert["labels"]["severity"], "page");
    assert_eq!(alert["labels"]["team"], "payments");
    assert_eq!(alert["status"]["state"], "active", "{alert}");
    assert_eq!(
        alert["annotations"]["runbook_url"],
        "https://runbooks.example.com/checkout"
    );
    let starts_at: Timestamp = alert["startsAt"]
        .as_str()
        .and_then(|text| text.parse().ok())
        .expect("startsAt");
    assert_eq!(starts_at.as_millisecond(), fired_at);
    let ends_at: Timestamp = alert["endsAt"]
        .as_str()
        .and_then(|text| text.parse().ok())
        .expect("endsAt");
    assert!(ends_at.as_millisecond() > now_ms + 86_400_000, "{alert}");

    let now_ms = Timestamp::now().as_millisecond();
    let resolved_at = now_ms - 1_000;
    enqueue(
        store.as_ref(),
        outbox_rows(
            &notice("checkout-avail", Change::Resolved, resolved_at),
            &channels,
            now_ms,
        ),
    )
    .await;
    let stats = deliverer.deliver_due(store.as_ref(), now_ms).await;
    assert_eq!((stats.delivered, stats.failed), (1, 0));

    // Resolved: it ends in the past, so Alertmanager no longer lists it.
    let alerts = alertmanager_alerts(&am.url, "checkout-avail").await;
    for alert in &alerts {
        let ends_at: Timestamp = alert["endsAt"]
            .as_str()
            .and_then(|text| text.parse().ok())
            .expect("endsAt");
        assert!(
            ends_at.as_millisecond() <= Timestamp::now().as_millisecond(),
            "{alert}"
        );
    }
    assert!(alerts.is_empty(), "{alerts:?}");
    drop(am);
}
