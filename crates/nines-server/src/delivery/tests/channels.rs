//! Tests of the Slack, email and PagerDuty channels, page notices and templates, through the
//! outbox and the `Deliverer` to real receivers on loopback: an SMTP listener written here, axum
//! receivers for Slack and PagerDuty.

use std::collections::BTreeMap;

use nines_spec::catalog::{ChannelTemplates, SmtpSettings, SmtpTls};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::*;

// ---------------------------------------------------------------------------------------------
// Helpers

fn channel(id: &str, kind: ChannelKind) -> Channel {
    Channel {
        id: id.to_string(),
        kind,
        severities: Vec::new(),
        alerts: true,
        templates: ChannelTemplates::default(),
        origin: origin(),
    }
}

fn slack_channel(id: &str, url_env: &str) -> Channel {
    channel(
        id,
        ChannelKind::Slack {
            url_env: url_env.to_string(),
        },
    )
}

fn email_channel(id: &str, port: u16, to: &[&str]) -> Channel {
    channel(
        id,
        ChannelKind::Email {
            smtp: SmtpSettings {
                host: "127.0.0.1".to_string(),
                port,
                tls: SmtpTls::None,
                username: None,
                password_env: None,
            },
            from: "nines <nines@example.com>".to_string(),
            to: to.iter().map(|address| address.to_string()).collect(),
        },
    )
}

fn pagerduty_channel(id: &str, url: &str) -> Channel {
    channel(
        id,
        ChannelKind::PagerDuty {
            routing_key_env: "PD_ROUTING_KEY".to_string(),
            url: url.to_string(),
        },
    )
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn page_notice(event: PageEvent, address: Option<&str>) -> PageNotice {
    PageNotice {
        page_id: "pg-42".to_string(),
        event,
        at: Timestamp::from_millisecond(T0).expect("test instants are valid"),
        summary: "checkout: 5xx above 2%".to_string(),
        severity: "critical".to_string(),
        service: Some("checkout".to_string()),
        policy: "payments-default".to_string(),
        step: 1,
        round: 0,
        person: Some(PageRecipient {
            id: "alice".to_string(),
            name: "Alice Doe".to_string(),
            address: address.map(str::to_string),
        }),
        alerts: vec![PageAlert {
            fingerprint: "a1b2".to_string(),
            status: "firing".to_string(),
            summary: "HighErrorRate on checkout".to_string(),
            source: "alertmanager".to_string(),
            labels: BTreeMap::from([("alertname".to_string(), "HighErrorRate".to_string())]),
        }],
        labels: BTreeMap::from([
            ("service".to_string(), "checkout".to_string()),
            ("team".to_string(), "payments".to_string()),
        ]),
        runbook: Some("https://runbooks.example.com/checkout".to_string()),
        links: PageLinks {
            page: Some("https://nines.example.com/pages/pg-42".to_string()),
            acknowledge: Some("https://nines.example.com/p/pg-42/ack?sig=abc".to_string()),
            resolve: Some("https://nines.example.com/p/pg-42/resolve?sig=def".to_string()),
        },
        actor: None,
    }
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("a JSON body")
}

/// One mail as the SMTP listener got it.
#[derive(Debug, Clone)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: String,
}

impl Mail {
    fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        // Long headers are folded: a line starting with white space continues the previous one.
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded
            .lines()
            .find(|line| line.to_ascii_lowercase().starts_with(&prefix))
            .map(|line| line[prefix.len()..].trim().to_string())
    }

    /// The body, decoded when it is quoted-printable (lines over 76 characters are).
    fn body(&self) -> String {
        let body = self
            .data
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_string())
            .unwrap_or_default();
        if self.header("Content-Transfer-Encoding").as_deref() != Some("quoted-printable") {
            return body;
        }
        let joined = body.replace("=\r\n", "");
        let bytes = joined.as_bytes();
        let mut decoded = Vec::new();
        let mut index = 0;
        while index < bytes.len() {
            let hex = bytes
                .get(index + 1..index + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok());
            match (bytes[index], hex) {
                (b'=', Some(byte)) => {
                    decoded.push(byte);
                    index += 3;
                }
                (byte, _) => {
                    decoded.push(byte);
                    index += 1;
                }
            }
        }
        String::from_utf8_lossy(&decoded).into_owned()
    }
}

/// An SMTP server on loopback speaking just enough SMTP (EHLO/HELO, MAIL FROM, RCPT TO, DATA,
/// RSET, NOOP, QUIT; no TLS, no auth).
async fn start_smtp() -> (Arc<Mutex<Vec<Mail>>>, u16) {
    let mails = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind smtp");
    let port = listener.local_addr().expect("smtp address").port();
    let received = Arc::clone(&mails);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let received = Arc::clone(&received);
            tokio::spawn(async move {
                let _ = smtp_session(socket, received).await;
            });
        }
    });
    (mails, port)
}

async fn smtp_session(
    socket: tokio::net::TcpStream,
    mails: Arc<Mutex<Vec<Mail>>>,
) -> std::io::Result<()> {
    let (reader, mut writer) = socket.into_split();
    let mut reader = BufReader::new(reader);
    writer.write_all(b"220 test.local ESMTP\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    let address = |line: &str| {
        let start = line.find('<').map_or(0, |i| i + 1);
        let end = line.rfind('>').unwrap_or(line.len());
        line[start..end].to_string()
    };
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        let answer: &[u8] = if command.starts_with("EHLO") {
            b"250-test.local\r\n250 HELP\r\n"
        } else if command.starts_with("HELO") || command == "NOOP" {
            b"250 ok\r\n"
        } else if command.starts_with("MAIL FROM:") {
            from = address(&line);
            b"250 ok\r\n"
        } else if command.starts_with("RCPT TO:") {
            to.push(address(&line));
            b"250 ok\r\n"
        } else if command == "RSET" {
            from.clear();
            to.clear();
            b"250 ok\r\n"
        } else if command == "DATA" {
            writer.write_all(b"354 go ahead\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                // Dot-unstuffing.
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            mails.lock().expect("mails lock").push(Mail {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            b"250 queued\r\n"
        } else if command == "QUIT" {
            writer.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 not implemented\r\n"
        };
        writer.write_all(answer).await?;
    }
}

// ---------------------------------------------------------------------------------------------
// Templates

#[test]
fn default_templates_read_well_for_alerts_and_pages() {
    let hook = webhook("hook", "http://127.0.0.1:9/hook", None);
    let alert = templates::render(
        &hook,
        &templates::alert_context(&notice("checkout-avail", Change::Fired, T0)),
    )
    .expect("defaults render");
    assert_eq!(
        alert.title,
        "Checkout availability (checkout): error budget burning too fast [page]"
    );
    assert_eq!(
        alert.text,
        "*Checkout availability (checkout): error budget burning too fast [page]*\n\
         objective 99.900%, SLI 99.810%, budget remaining 62.000%, burn rate 20.50 over 1h and 31.00 over 5m (threshold 14.40), burn rate 4.00 over 6h and none over 30m (threshold 6.00), budget exhausted in 5h\n\
         Runbook: https://runbooks.example.com/checkout"
    );

    let page = templates::render(
        &hook,
        &templates::page_context(&page_notice(PageEvent::Escalated, None)),
    )
    .expect("defaults render");
    assert_eq!(page.title, "[ESCALATED] checkout: 5xx above 2%");
    assert_eq!(
        page.text,
        "*Page escalated*: checkout: 5xx above 2%\n\
         Severity: critical | Service: checkout | Policy: payments-default (step 2, round 1)\n\
         For: Alice Doe\n\
         Alerts:\n\
         - [firing] HighErrorRate on checkout (from alertmanager)\n\
         Runbook: https://runbooks.example.com/checkout\n\
         Acknowledge: https://nines.example.com/p/pg-42/ack?sig=abc\n\
         Resolve: https://nines.example.com/p/pg-42/resolve?sig=def\n\
         Page: https://nines.example.com/pages/pg-42"
    );

    // Acknowledged: who did it, and no acknowledge link any more; resolved: no resolve link.
    let mut acknowledged = page_notice(PageEvent::Acknowledged, None);
    acknowledged.actor = Some("alice".to_string());
    let text = templates::render(&hook, &templates::page_context(&acknowledged))
        .expect("defaults render")
        .text;
    assert!(text.starts_with("*Page acknowledged* by alice: "), "{text}");
    assert!(
        !text.contains("Acknowledge:") && text.contains("Resolve:"),
        "{text}"
    );
    let resolved = page_notice(PageEvent::Resolved, None);
    let text = templates::render(&hook, &templates::page_context(&resolved))
        .expect("defaults render")
        .text;
    assert!(
        !text.contains("Acknowledge:") && !text.contains("Resolve:"),
        "{text}"
    );
}

#[test]
fn custom_templates_render_and_a_failing_one_is_named() {
    let mut slack = slack_channel("chat", "SLACK_WEBHOOK_URL");
    slack.templates = ChannelTemplates {
        title: Some("{{ severity | upper }} {{ service }}: {{ summary }}".to_string()),
        text: Some(
            "{% for alert in alerts %}{{ alert.summary }}; {% endfor %}labels: {{ labels | length }}"
                .to_string(),
        ),
    };
    let notice = page_notice(PageEvent::Triggered, Some("U024BE7LH"));
    let rendered = templates::render(&slack, &templates::page_context(&notice)).expect("render");
    assert_eq!(rendered.title, "CRITICAL checkout: checkout: 5xx above 2%");
    assert_eq!(rendered.text, "HighErrorRate on checkout; labels: 2");

    // A render-time failure (an unknown filter) is an error naming channel and template.
    slack.templates.text = Some("{{ summary | no_such_filter }}".to_string());
    let err = page_outbox_row(&notice, &slack, T0).expect_err("the text cannot render");
    assert!(
        err.starts_with("channel \"chat\": template text failed to render: "),
        "{err}"
    );
    assert!(err.contains("no_such_filter"), "{err}");

    // An SLO alert is not lost over it: the default is used and the row says why.
    let rows = outbox_rows(&super::notice("slo", Change::Fired, T0), &[slack], T0);
    assert_eq!(rows.len(), 1);
    let error = rows[0].last_error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("channel \"chat\": template text failed to render")
            && error.ends_with("; sent with the default template"),
        "{error}"
    );
    let payload = json(rows[0].payload.as_bytes());
    assert!(
        payload["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("objective 99.900%"),
        "{payload}"
    );
}

// ---------------------------------------------------------------------------------------------
// Rows

#[test]
fn page_rows_have_their_key_stream_and_errors() {
    let hook = webhook("hook", "http://127.0.0.1:9/hook", None);
    let notice = page_notice(PageEvent::Triggered, None);
    let row = page_outbox_row(&notice, &hook, T0 + 5).expect("webhook row");
    assert_eq!(
        row.idempotency_key,
        format!("page:pg-42:triggered:0:1:alice:{T0}:hook")
    );
    assert_eq!((row.created_ms, row.next_attempt_ms), (T0 + 5, T0 + 5));
    assert_eq!(stream_of(&row), "page:pg-42:alice");
    // Two addresses of one person on one channel: two messages, two streams (one failing
    // address holds back neither the other nor the escalation to someone else).
    let home = page_outbox_row(
        &page_notice(PageEvent::Triggered, Some("a@home")),
        &hook,
        T0,
    )
    .expect("row");
    let work = page_outbox_row(
        &page_notice(PageEvent::Triggered, Some("a@work")),
        &hook,
        T0,
    )
    .expect("row");
    assert_ne!(home.idempotency_key, work.idempotency_key);
    assert!(
        home.idempotency_key.contains(":alice~"),
        "{}",
        home.idempotency_key
    );
    assert_ne!(stream_of(&home), stream_of(&work));
    // PagerDuty keeps one incident per page: one event per page event, whoever it was for.
    let pd = pagerduty_channel("pd", "http://127.0.0.1:9/v2/enqueue");
    let for_alice = page_outbox_row(&notice, &pd, T0).expect("row");
    let mut for_bob = notice.clone();
    if let Some(person) = &mut for_bob.person {
        person.id = "bob".to_string();
    }
    let for_bob = page_outbox_row(&for_bob, &pd, T0).expect("row");
    assert_eq!(for_alice.idempotency_key, for_bob.idempotency_key);
    assert_eq!(stream_of(&for_alice), "page:pg-42:-");
    let mut nobody = notice.clone();
    nobody.person = None;
    let row = page_outbox_row(&nobody, &hook, T0).expect("webhook row");
    assert_eq!(
        row.idempotency_key,
        format!("page:pg-42:triggered:0:1:-:{T0}:hook")
    );
    assert_eq!(stream_of(&row), "page:pg-42:-");
    // An SLO called "page" is still read as an SLO alert.
    let rows = outbox_rows(
        &super::notice("page", Change::Fired, T0),
        std::slice::from_ref(&hook),
        T0,
    );
    assert_eq!(stream_of(&rows[0]), "page:burn_rate");

    // The documented webhook body.
    let body = json(row.payload.as_bytes());
    assert_eq!(body["version"], "nines.page.v1");
    assert_eq!(body["event"], "triggered");
    assert_eq!(body["page_id"], "pg-42");
    assert_eq!(body["step"], 1);
    assert_eq!(body["person"], serde_json::Value::Null);
    assert_eq!(body["alerts"][0]["fingerprint"], "a1b2");
    assert_eq!(
        body["links"]["acknowledge"],
        "https://nines.example.com/p/pg-42/ack?sig=abc"
    );
    assert_eq!(body["title"], "[TRIGGERED] checkout: 5xx above 2%");
    let decoded: page::PageWebhookPayload =
        serde_json::from_str(&row.payload).expect("the payload type reads it back");
    assert_eq!(decoded.idempotency_key, row.idempotency_key);

    // Errors.
    let email = email_channel("mail", 25, &[]);
    assert_eq!(
        page_outbox_row(&notice, &email, T0).expect_err("no address"),
        "email channel \"mail\": Alice Doe (alice) has no email address on it"
    );
    let bad_address = page_notice(PageEvent::Triggered, Some("not an address"));
    let err = page_outbox_row(&bad_address, &email, T0).expect_err("bad address");
    assert!(
        err.contains("\"not an address\" is not an email address"),
        "{err}"
    );
    assert!(
        page_outbox_row(&nobody, &email, T0)
            .expect_err("no person, no to")
            .contains("needs the channel's `to` addresses")
    );
    let alertmanager = alertmanager("am", "http://127.0.0.1:9093");
    assert_eq!(
        page_outbox_row(&notice, &alertmanager, T0).expect_err("alertmanager"),
        "channel \"am\" is an alertmanager channel, which takes no pages"
    );
}

#[test]
fn alert_notices_skip_channels_without_alerts_and_email_without_recipients() {
    let mut quiet = slack_channel("quiet", "SLACK_WEBHOOK_URL");
    quiet.alerts = false;
    let channels = [
        quiet,
        email_channel("no-to", 25, &[]),
        email_channel("ops-mail", 25, &["ops@example.com"]),
        pagerduty_channel("pd", "http://127.0.0.1:9/enqueue"),
    ];
    let rows = outbox_rows(&notice("slo", Change::Fired, T0), &channels, T0);
    let ids: Vec<&str> = rows.iter().map(|row| row.channel.as_str()).collect();
    assert_eq!(ids, ["ops-mail", "pd"]);
    let mail: email::EmailPayload = serde_json::from_str(&rows[0].payload).expect("email");
    assert_eq!(mail.to, ["ops@example.com"]);
    assert_eq!(
        mail.subject,
        "Checkout availability (checkout): error budget burning too fast [page]"
    );
    // The routing key is never stored.
    assert!(
        !rows[1].payload.contains("routing_key"),
        "{}",
        rows[1].payload
    );
}

#[test]
fn deliverer_names_every_missing_channel_secret() {
    let mut email = email_channel("mail", 25, &["ops@example.com"]);
    if let ChannelKind::Email { smtp, .. } = &mut email.kind {
        smtp.username = Some("nines".to_string());
        smtp.password_env = Some("SMTP_PASSWORD".to_string());
    }
    let channels = [
        slack_channel("chat", "SLACK_WEBHOOK_URL"),
        pagerduty_channel("pd", "https://events.example.com/v2/enqueue"),
        email,
        slack_channel("chat2", "NOT_A_URL"),
    ];
    let Err(DelivererError::Channels(problems)) = Deliverer::new(
        &channels,
        &env(&[("PD_ROUTING_KEY", ""), ("NOT_A_URL", "hooks.slack.com")]),
        settings(),
    ) else {
        panic!("missing secrets must be refused");
    };
    assert_eq!(
        problems,
        [
            "channel \"chat\": webhook URL environment variable SLACK_WEBHOOK_URL is not set",
            "channel \"pd\": routing key environment variable PD_ROUTING_KEY is empty",
            "channel \"mail\": password environment variable SMTP_PASSWORD is not set",
            "channel \"chat2\": the value of NOT_A_URL is not an http(s) URL",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Delivery to real receivers

#[tokio::test]
async fn slack_receives_blocks_with_links_and_a_mention() {
    let dir = TempDir::new("slack");
    let store = open_store(&dir).await;
    let (receiver, url) = start_receiver(&[]).await;
    let channels = [slack_channel("chat", "SLACK_WEBHOOK_URL")];
    let deliverer = Deliverer::new(&channels, &env(&[("SLACK_WEBHOOK_URL", &url)]), settings())
        .expect("deliverer");
    let alert_rows = outbox_rows(&notice("checkout-avail", Change::Fired, T0), &channels, T0);
    enqueue(store.as_ref(), alert_rows).await;
    let page = page_notice(PageEvent::Triggered, Some("U024BE7LH"));
    let page_row = page_outbox_row(&page, &channels[0], T0).expect("slack row");
    enqueue(store.as_ref(), vec![page_row]).await;

    let stats = deliverer.deliver_due(store.as_ref(), T0).await;
    assert_eq!((stats.delivered, stats.failed), (2, 0));
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    for message in &received {
        assert_eq!(header(&message.headers, "content-type"), "application/json");
    }
    let bodies: Vec<serde_json::Value> = received.iter().map(|r| json(&r.body)).collect();
    let (alert, page) = if bodies[0]["text"]
        .as_str()
        .unwrap_or_default()
        .contains("<@")
    {
        (&bodies[1], &bodies[0])
    } else {
        (&bodies[0], &bodies[1])
    };

    assert_eq!(
        alert["text"],
        "Checkout availability (checkout): error budget burning too fast [page]"
    );
    let kinds: Vec<&str> = alert["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .map(|block| block["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["header", "section", "context", "actions"]);
    assert_eq!(alert["blocks"][0]["text"]["type"], "plain_text");
    assert_eq!(alert["blocks"][1]["text"]["type"], "mrkdwn");
    assert_eq!(
        alert["blocks"][2]["elements"][0]["text"],
        "`not-a-prometheus-name=x`  `team=payments`  `tier=1`"
    );
    assert_eq!(alert["blocks"][3]["elements"][0]["text"]["text"], "Runbook");
    assert_eq!(
        alert["blocks"][3]["elements"][0]["url"],
        "https://runbooks.example.com/checkout"
    );

    assert_eq!(
        page["text"],
        "<@U024BE7LH> [TRIGGERED] checkout: 5xx above 2%"
    );
    assert_eq!(
        page["blocks"][0]["text"]["text"],
        "[TRIGGERED] checkout: 5xx above 2%"
    );
    assert!(
        page["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("<@U024BE7LH> *Page triggered*"),
        "{page}"
    );
    let buttons: Vec<(&str, &str, Option<&str>)> = page["blocks"][3]["elements"]
        .as_array()
        .expect("buttons")
        .iter()
        .map(|button| {
            (
                button["text"]["text"].as_str().unwrap_or_default(),
                button["url"].as_str().unwrap_or_default(),
                button["style"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        buttons,
        [
            (
                "Acknowledge",
                "https://nines.example.com/p/pg-42/ack?sig=abc",
                Some("primary")
            ),
            (
                "Resolve",
                "https://nines.example.com/p/pg-42/resolve?sig=def",
                None
            ),
            ("Open page", "https://nines.example.com/pages/pg-42", None),
            ("Runbook", "https://runbooks.example.com/checkout", None),
        ]
    );
    // An address that is not a member id is not turned into a mention.
    let plain = page_outbox_row(
        &page_notice(PageEvent::Triggered, Some("alice")),
        &channels[0],
        T0,
    )
    .expect("slack row");
    assert!(!plain.payload.contains("<@"), "{}", plain.payload);
}

#[tokio::test]
async fn email_of_a_page_and_an_alert_reach_a_real_smtp_listener() {
    let dir = TempDir::new("email");
    let store = open_store(&dir).await;
    let (mails, port) = start_smtp().await;
    let channels = [email_channel("mail", port, &["ops@example.com"])];
    let deliverer = Deliverer::new(&channels, &HashMap::new(), settings()).expect("deliverer");
    let page = page_notice(PageEvent::Triggered, Some("alice@example.com"));
    let page_row = page_outbox_row(&page, &channels[0], T0).expect("email row");
    let page_key = page_row.idempotency_key.clone();
    enqueue(store.as_ref(), vec![page_row]).await;
    let alert_rows = outbox_rows(&notice("checkout-avail", Change::Fired, T0), &channels, T0);
    let alert_key = alert_rows[0].idempotency_key.clone();
    enqueue(store.as_ref(), alert_rows).await;

    let stats = deliverer.deliver_due(store.as_ref(), T0).await;
    assert_eq!(
        (stats.delivered, stats.failed),
        (2, 0),
        "{:?}",
        pending(store.as_ref()).await
    );
    assert!(pending(store.as_ref()).await.is_empty());
    let mails = mails.lock().expect("mails lock").clone();
    assert_eq!(mails.len(), 2);
    let from: lettre::message::Mailbox = "nines <nines@example.com>".parse().expect("mailbox");

    let page_mail = mails
        .iter()
        .find(|mail| mail.to == ["alice@example.com"])
        .expect("the page's mail");
    assert_eq!(page_mail.from, "nines@example.com");
    assert_eq!(
        page_mail.header("Subject").as_deref(),
        Some("[TRIGGERED] checkout: 5xx above 2%")
    );
    assert_eq!(
        page_mail.header("Message-ID"),
        Some(email::message_id(&page_key, &from))
    );
    assert_eq!(page_mail.header("To").as_deref(), Some("alice@example.com"));
    let body = page_mail.body();
    assert!(
        body.contains("Acknowledge: https://nines.example.com/p/pg-42/ack?sig=abc"),
        "{body}"
    );

    let alert_mail = mails
        .iter()
        .find(|mail| mail.to == ["ops@example.com"])
        .expect("the alert's mail");
    assert_eq!(
        alert_mail.header("Subject").as_deref(),
        Some("Checkout availability (checkout): error budget burning too fast [page]")
    );
    let alert_id = email::message_id(&alert_key, &from);
    assert_eq!(alert_mail.header("Message-ID"), Some(alert_id.clone()));
    assert!(alert_id.ends_with(".nines@example.com>"), "{alert_id}");
    assert!(alert_mail.body().contains("budget remaining 62.000%"));
}

#[tokio::test]
async fn pagerduty_gets_trigger_acknowledge_resolve_with_the_routing_key() {
    let dir = TempDir::new("pagerduty");
    let store = open_store(&dir).await;
    let (receiver, url) = start_receiver(&[]).await;
    let channels = [pagerduty_channel("pd", &url)];
    let deliverer = Deliverer::new(
        &channels,
        &env(&[("PD_ROUTING_KEY", "R0UT1NG")]),
        settings(),
    )
    .expect("deliverer");
    for (offset, event) in [
        PageEvent::Triggered,
        PageEvent::Acknowledged,
        PageEvent::Resolved,
    ]
    .into_iter()
    .enumerate()
    {
        let mut notice = page_notice(event, None);
        notice.at = Timestamp::from_millisecond(T0 + offset as i64).expect("instant");
        let row = page_outbox_row(&notice, &channels[0], T0 + offset as i64).expect("pd row");
        assert!(!row.payload.contains("R0UT1NG"));
        enqueue(store.as_ref(), vec![row]).await;
    }
    // One message of a page per pass, in order.
    for pass in 0..3 {
        let stats = deliverer.deliver_due(store.as_ref(), T0 + 10).await;
        assert_eq!(stats.delivered, 1, "pass {pass}");
    }
    let events: Vec<serde_json::Value> =
        receiver.received().iter().map(|r| json(&r.body)).collect();
    let actions: Vec<&str> = events
        .iter()
        .map(|event| event["event_action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(actions, ["trigger", "acknowledge", "resolve"]);
    for event in &events {
        assert_eq!(event["routing_key"], "R0UT1NG");
        assert_eq!(event["dedup_key"], "nines-page:pg-42");
    }
    let trigger = &events[0];
    // The incident is titled by the page's summary (the default title's prefix says nothing
    // in PagerDuty, which keeps one incident per dedup key).
    assert_eq!(trigger["payload"]["summary"], "checkout: 5xx above 2%");
    assert_eq!(trigger["payload"]["severity"], "critical");
    assert_eq!(trigger["payload"]["source"], "nines");
    assert_eq!(trigger["payload"]["component"], "checkout");
    assert_eq!(trigger["links"][0]["text"], "Acknowledge");

    // SLO alerts: a ticket superseded by a page resolves before the page triggers, under one
    // dedup key per SLO and alert kind.
    let (receiver, url) = start_receiver(&[]).await;
    let channels = [pagerduty_channel("pd2", &url)];
    let deliverer = Deliverer::new(
        &channels,
        &env(&[("PD_ROUTING_KEY", "R0UT1NG")]),
        settings(),
    )
    .expect("deliverer");
    let mut ticket = notice("checkout-avail", Change::Superseded, T0);
    ticket.severity = Severity::Ticket;
    let mut rows = outbox_rows(&ticket, &channels, T0);
    rows.extend(outbox_rows(
        &notice("checkout-avail", Change::Fired, T0),
        &channels,
        T0,
    ));
    enqueue(store.as_ref(), rows).await;
    // The PagerDuty receiver first refuses the resolve (400): the trigger waits for it.
    receiver.statuses.lock().expect("lock").push_back(400);
    let stats = deliverer.deliver_due(store.as_ref(), T0).await;
    assert_eq!((stats.delivered, stats.failed), (0, 1));
    let waiting = pending(store.as_ref()).await;
    let resolve = waiting
        .iter()
        .find(|row| row.payload.contains("\"resolve\""))
        .expect("the resolve waits");
    assert_eq!(
        resolve.last_error.as_deref(),
        Some(
            "http status 400 Bad Request (PagerDuty refused the event as invalid; retried with backoff)"
        )
    );
    let later = T0 + 60_000;
    deliverer.deliver_due(store.as_ref(), later).await;
    deliverer.deliver_due(store.as_ref(), later).await;
    let events: Vec<serde_json::Value> =
        receiver.received().iter().map(|r| json(&r.body)).collect();
    let sent: Vec<(&str, &str)> = events
        .iter()
        .map(|event| {
            (
                event["event_action"].as_str().unwrap_or_default(),
                event["dedup_key"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            ("resolve", "nines:checkout-avail:burn_rate"),
            ("resolve", "nines:checkout-avail:burn_rate"),
            ("trigger", "nines:checkout-avail:burn_rate"),
        ]
    );
    assert_eq!(events[2]["payload"]["severity"], "critical");
    assert_eq!(events[2]["payload"]["group"], "payments");
}

#[tokio::test]
async fn failing_channels_do_not_delay_email_and_slack() {
    let dir = TempDir::new("channel-isolation");
    let store = open_store(&dir).await;
    let (mails, port) = start_smtp().await;
    let (slack_receiver, slack_url) = start_receiver(&[]).await;
    let (broken_receiver, broken_url) = start_receiver(&[500; 16]).await;
    let channels = [
        slack_channel("broken-slack", "BROKEN_SLACK_URL"),
        pagerduty_channel("refusing-pd", &refused_url()),
        email_channel(
            "hanging-mail",
            start_hanging_port().await,
            &["ops@example.com"],
        ),
        slack_channel("slack", "SLACK_WEBHOOK_URL"),
        email_channel("mail", port, &["ops@example.com"]),
    ];
    let settings = DeliverySettings {
        request_timeout: Duration::from_millis(700),
        ..settings()
    };
    let deliverer = Deliverer::new(
        &channels,
        &env(&[
            ("BROKEN_SLACK_URL", &broken_url),
            ("SLACK_WEBHOOK_URL", &slack_url),
            ("PD_ROUTING_KEY", "key"),
        ]),
        settings,
    )
    .expect("deliverer");
    for slo in ["a", "b"] {
        enqueue(
            store.as_ref(),
            outbox_rows(&notice(slo, Change::Fired, T0), &channels, T0),
        )
        .await;
    }
    let started = Instant::now();
    let stats = deliverer.deliver_due(store.as_ref(), T0).await;
    let took = started.elapsed();
    assert_eq!((stats.due, stats.delivered, stats.failed), (10, 4, 6));
    assert!(took < Duration::from_millis(2_500), "pass took {took:?}");
    assert_eq!(slack_receiver.received().len(), 2);
    assert_eq!(mails.lock().expect("mails lock").len(), 2);
    assert_eq!(broken_receiver.received().len(), 2);
    let errors: BTreeMap<String, String> = pending(store.as_ref())
        .await
        .into_iter()
        .map(|row| (row.channel, row.last_error.unwrap_or_default()))
        .collect();
    assert_eq!(
        errors["broken-slack"],
        "http status 500 Internal Server Error"
    );
    assert!(
        errors["refusing-pd"].contains("onnection refused"),
        "{errors:?}"
    );
    assert!(!errors["hanging-mail"].is_empty(), "{errors:?}");
}

/// A loopback port that accepts connections and never says a word.
async fn start_hanging_port() -> u16 {
    let url = start_hanging_receiver().await;
    url.trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/hook")
        .parse()
        .expect("port")
}

#[test]
fn email_channels_build_with_every_tls_mode_and_credentials() {
    let channels: Vec<Channel> = [SmtpTls::StartTls, SmtpTls::Tls, SmtpTls::None]
        .into_iter()
        .enumerate()
        .map(|(index, tls)| {
            let mut channel = email_channel(&format!("mail{index}"), 587, &["ops@example.com"]);
            if let ChannelKind::Email { smtp, .. } = &mut channel.kind {
                smtp.host = "smtp.example.com".to_string();
                smtp.tls = tls;
                smtp.username = Some("nines".to_string());
                smtp.password_env = Some("SMTP_PASSWORD".to_string());
            }
            channel
        })
        .collect();
    Deliverer::new(&channels, &env(&[("SMTP_PASSWORD", "pw")]), settings())
        .expect("every tls mode builds");
    let mut bad_from = email_channel("bad", 25, &["ops@example.com", "nope"]);
    if let ChannelKind::Email { from, .. } = &mut bad_from.kind {
        *from = "nines".to_string();
    }
    let Err(DelivererError::Channels(problems)) =
        Deliverer::new(&[bad_from], &HashMap::new(), settings())
    else {
        panic!("bad addresses must be refused");
    };
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("channel \"bad\": from \"nines\": "),
        "{problems:?}"
    );
    assert!(
        problems[1].starts_with("channel \"bad\": to: \"nope\" is not an email address"),
        "{problems:?}"
    );
}

#[test]
fn slack_sees_alert_text_escaped_so_it_cannot_ping_everyone_or_disguise_links() {
    let chat = slack_channel("chat", "SLACK_URL");
    let mut notice = page_notice(PageEvent::Triggered, Some("U0ABC"));
    notice.summary = "<!channel> disk & <https://evil.example|Acknowledge>".to_string();
    notice
        .labels
        .insert("note".to_string(), "<!here>".to_string());
    let row = page_outbox_row(&notice, &chat, T0).expect("slack row");
    let body = row.payload;
    assert!(
        !body.contains("<!channel>") && !body.contains("<!here>"),
        "{body}"
    );
    assert!(!body.contains("<https://evil.example|"), "{body}");
    assert!(
        body.contains("&lt;!channel&gt; disk &amp; &lt;https://evil.example|Acknowledge&gt;"),
        "{body}"
    );
    // The mention nines makes, and its own links, stay live.
    assert!(body.contains("<@U0ABC>"), "{body}");
    assert!(
        body.contains("https://nines.example.com/p/pg-42/ack?sig=abc"),
        "{body}"
    );
}
