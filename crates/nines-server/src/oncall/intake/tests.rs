//! Tests of the intake decoders: good bodies of each kind, and every malformed shape named.

use super::*;

fn fields(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(|problem| problem.to_string()).collect()
}

const ALERTMANAGER: &str = r#"{
  "version": "4",
  "groupKey": "{}:{alertname=\"HighLatency\"}",
  "truncatedAlerts": 0,
  "status": "firing",
  "receiver": "nines",
  "groupLabels": {"alertname": "HighLatency"},
  "commonLabels": {"alertname": "HighLatency"},
  "commonAnnotations": {},
  "externalURL": "http://alertmanager:9093",
  "alerts": [
    {"status": "firing", "labels": {"alertname": "HighLatency", "service": "api", "severity": "critical"},
     "annotations": {"summary": "p99 over 2s", "runbook_url": "https://runbooks/latency"},
     "startsAt": "2026-11-23T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
     "generatorURL": "http://prometheus/graph", "fingerprint": "a1b2c3"},
    {"status": "resolved", "labels": {"alertname": "HighLatency", "service": "web"},
     "annotations": {}, "startsAt": "2026-11-23T09:00:00Z", "endsAt": "2026-11-23T10:00:00Z",
     "fingerprint": "d4e5f6"}
  ]
}"#;

#[test]
fn alertmanager_v4_alerts_decode_with_their_fingerprints() {
    let batch = decode_alertmanager(ALERTMANAGER.as_bytes()).expect("decodes");
    assert_eq!(batch.receiver, "nines");
    assert_eq!(batch.alerts.len(), 2);
    let first = &batch.alerts[0];
    assert_eq!(first.fingerprint, "am:a1b2c3");
    assert_eq!(first.action, AlertAction::Trigger);
    assert_eq!(first.summary, "p99 over 2s");
    assert_eq!(first.severity, "critical");
    assert_eq!(first.runbook.as_deref(), Some("https://runbooks/latency"));
    assert_eq!(first.labels["service"], "api");
    assert_eq!(
        first.starts_at,
        Some("2026-11-23T10:00:00Z".parse().expect("time"))
    );
    let second = &batch.alerts[1];
    assert_eq!(second.action, AlertAction::Resolve);
    assert_eq!(
        second.summary, "HighLatency",
        "falls back to the alert name"
    );
    assert_eq!(second.severity, "unknown");
}

#[test]
fn alertmanager_problems_name_their_fields() {
    let body = r#"{"version": "3", "status": "burning", "alerts": [
        {"status": "fire", "labels": {"a": 1}},
        {"status": "firing", "labels": {}},
        {"status": "firing", "labels": {"a": "b"}, "startsAt": "yesterday"},
        7
    ]}"#;
    let problems = fields(&decode_alertmanager(body.as_bytes()).expect_err("refused"));
    assert_eq!(
        problems,
        vec![
            "version: \"3\" is not supported; expected \"4\"",
            "groupKey: is missing",
            "status: expected \"firing\" or \"resolved\", got \"burning\"",
            "alerts[0].status: expected \"firing\" or \"resolved\", got \"fire\"",
            "alerts[0].labels.a: expected a string, got a number",
            "alerts[1].labels: an alert needs at least one label",
            "alerts[2].startsAt: \"yesterday\" is not an RFC 3339 time",
            "alerts[3]: expected an object, got a number",
        ]
    );
    let problems = fields(&decode_alertmanager(b"{not json").expect_err("refused"));
    assert!(
        problems[0].starts_with("body is not valid JSON"),
        "{problems:?}"
    );
    let problems = fields(&decode_alertmanager(b"[]").expect_err("refused"));
    assert_eq!(problems, vec!["expected an object, got an array"]);
}

#[test]
fn an_alertmanager_alert_without_fingerprint_is_identified_by_its_labels() {
    let body = |order: &str| {
        format!(
            r#"{{"version":"4","groupKey":"g","status":"firing","alerts":[{{"status":"firing","labels":{order}}}]}}"#
        )
    };
    let one = decode_alertmanager(body(r#"{"a":"1","b":"2"}"#).as_bytes()).expect("decodes");
    let two = decode_alertmanager(body(r#"{"b":"2","a":"1"}"#).as_bytes()).expect("decodes");
    assert_eq!(one.alerts[0].fingerprint, two.alerts[0].fingerprint);
    let other = decode_alertmanager(body(r#"{"a":"1","b":"3"}"#).as_bytes()).expect("decodes");
    assert_ne!(one.alerts[0].fingerprint, other.alerts[0].fingerprint);
}

#[test]
fn too_many_alerts_are_refused_whole() {
    let alert = r#"{"status":"firing","labels":{"a":"b"}}"#;
    let alerts = vec![alert; MAX_ALERTS + 1].join(",");
    let body = format!(r#"{{"version":"4","groupKey":"g","status":"firing","alerts":[{alerts}]}}"#);
    let problems = fields(&decode_alertmanager(body.as_bytes()).expect_err("refused"));
    assert_eq!(
        problems,
        vec![format!(
            "alerts: has {} alerts; at most {MAX_ALERTS} a request",
            MAX_ALERTS + 1
        )]
    );
}

#[test]
fn pagerduty_trigger_decodes_like_pagerduty_reads_it() {
    let body = r#"{
      "routing_key": "R0123456789abcdef0123456789abcde",
      "event_action": "trigger",
      "payload": {"summary": "Disk full on db-1", "source": "db-1", "severity": "critical",
                  "timestamp": "2026-11-23T10:00:00.000+0000", "component": "postgres",
                  "group": "prod", "class": "disk", "custom_details": {"free": 0, "mount": "/var"}},
      "links": [{"href": "https://runbooks/disk", "text": "runbook"}],
      "client": "Monitor", "client_url": "https://monitor"
    }"#;
    let event = decode_pagerduty(body.as_bytes()).expect("decodes");
    assert_eq!(event.action, AlertAction::Trigger);
    assert_eq!(event.dedup_key, None);
    let payload = event.payload.clone().expect("payload");
    assert_eq!(payload.summary, "Disk full on db-1");
    assert_eq!(payload.details["free"], "0");
    assert_eq!(payload.details["mount"], "/var");
    assert!(
        payload.timestamp.is_some(),
        "PagerDuty's +0000 offsets are read"
    );
    let labels = BTreeMap::from([("service".to_string(), "db".to_string())]);
    let alert = pagerduty_alert(&event, "monitor", &labels, "k1");
    assert_eq!(alert.fingerprint, "pd:monitor:k1");
    assert_eq!(alert.labels["service"], "db");
    assert_eq!(alert.labels["integration"], "monitor");
    assert_eq!(alert.labels["component"], "postgres");
    assert_eq!(alert.severity, "critical");
    assert_eq!(alert.annotations["link:runbook"], "https://runbooks/disk");
}

#[test]
fn pagerduty_errors_read_like_pagerdutys() {
    let errors = decode_pagerduty(br#"{"event_action": "trigger"}"#).expect_err("refused");
    assert_eq!(
        errors,
        vec![
            "'routing_key' is missing or blank",
            "'payload' is missing or blank"
        ]
    );
    let errors = decode_pagerduty(
        br#"{"routing_key": "k", "event_action": "trigger", "payload": {"summary": " ", "severity": "fatal"}}"#,
    )
    .expect_err("refused");
    assert_eq!(
        errors,
        vec![
            "'payload.summary' is missing or blank",
            "'payload.source' is missing or blank",
            "'payload.severity' is invalid: \"fatal\" (expected critical, error, warning or info)",
        ]
    );
    let errors = decode_pagerduty(br#"{"routing_key": "k", "event_action": "resolve"}"#)
        .expect_err("refused");
    assert_eq!(
        errors,
        vec!["'dedup_key' is missing or blank (required to acknowledge or resolve)"]
    );
    let errors =
        decode_pagerduty(br#"{"routing_key": 5, "event_action": "page"}"#).expect_err("refused");
    assert_eq!(
        errors,
        vec![
            "'routing_key' must be a string, got a number",
            "'event_action' is invalid: \"page\" (expected trigger, acknowledge or resolve)",
        ]
    );
    assert!(
        decode_pagerduty(b"nope").expect_err("refused")[0]
            .starts_with("Event object is not valid JSON")
    );
}

#[test]
fn long_pagerduty_summaries_are_cut_as_pagerduty_cuts_them() {
    let summary = "x".repeat(2000);
    let body = format!(
        r#"{{"routing_key":"k","event_action":"trigger","dedup_key":"d","payload":{{"summary":"{summary}","source":"s","severity":"info"}}}}"#
    );
    let event = decode_pagerduty(body.as_bytes()).expect("decodes");
    assert_eq!(
        event.payload.expect("payload").summary.len(),
        PAGERDUTY_SUMMARY_LIMIT
    );
}

#[test]
fn generic_webhook_takes_one_alert_or_a_list() {
    let one = decode_webhook(
        br#"{"labels": {"alertname": "Backup", "service": "db"}, "summary": "backup failed",
            "severity": "page", "runbook": "https://runbooks/backup"}"#,
    )
    .expect("decodes");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].action, AlertAction::Trigger);
    assert_eq!(one[0].summary, "backup failed");
    assert!(one[0].fingerprint.starts_with("wh:"));
    let many = decode_webhook(
        br#"{"alerts": [{"labels": {"a": "b"}, "fingerprint": "x1", "status": "resolved"},
                        {"labels": {"a": "c"}}]}"#,
    )
    .expect("decodes");
    assert_eq!(many[0].fingerprint, "wh:x1");
    assert_eq!(many[0].action, AlertAction::Resolve);
    assert_eq!(many[1].action, AlertAction::Trigger);
}

#[test]
fn generic_webhook_problems_name_their_fields() {
    let problems = fields(
        &decode_webhook(
            br#"{"alerts": [{"labels": {"a": "b"}, "status": "up", "runbok": "x"},
                            {"labels": {"a": "b"}, "runbook": "ftp://x", "starts_at": 5}]}"#,
        )
        .expect_err("refused"),
    );
    assert_eq!(
        problems,
        vec![
            "alerts[0].runbok: unknown field; expected one of status, labels, annotations, summary, severity, runbook, fingerprint, starts_at",
            "alerts[0].status: expected \"firing\" or \"resolved\", got \"up\"",
            "alerts[1].runbook: must be an http(s) URL",
            "alerts[1].starts_at: expected a string, got a number",
        ]
    );
    let problems = fields(&decode_webhook(br#"{"alerts": []}"#).expect_err("refused"));
    assert_eq!(problems, vec!["alerts: is empty"]);
    let problems = fields(&decode_webhook(br#"{"summary": "x"}"#).expect_err("refused"));
    assert_eq!(problems, vec!["labels: an alert needs at least one label"]);
}
