//! Tests of notification channels in the native format: every kind read with its defaults, and
//! each bad field placed at its file, line and path.

use nines_spec::catalog::{ChannelKind, ChannelTemplates, SmtpSettings, SmtpTls};
use nines_spec::{LoadOptions, load_texts};

fn load(text: &str) -> nines_spec::Loaded {
    load_texts(
        &[("test.yaml".to_string(), text.to_string())],
        &LoadOptions::default(),
    )
}

fn problems(text: &str) -> Vec<String> {
    load(text)
        .report
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn every_kind_is_read_with_its_defaults() {
    let text = r#"version: nines/v1
channels:
  - id: chat
    type: slack
    url_env: SLACK_WEBHOOK_URL
    severities: [page]
    templates:
      title: "{{ summary }}"
  - id: mail
    type: email
    smtp: {host: smtp.example.com}
    from: "nines <nines@example.com>"
    to: [ops@example.com]
  - id: relay
    type: email
    alerts: false
    smtp: {host: 127.0.0.1, port: 2525, tls: none, username: nines, password_env: SMTP_PASSWORD}
    from: nines@example.com
  - id: pd
    type: pagerduty
    routing_key_env: PD_ROUTING_KEY
"#;
    let loaded = load(text);
    assert!(loaded.report.diagnostics.is_empty(), "{}", loaded.report);
    let channels = &loaded.catalog.channels;
    assert_eq!(channels.len(), 4);
    assert_eq!(
        channels[0].kind,
        ChannelKind::Slack {
            url_env: "SLACK_WEBHOOK_URL".to_string()
        }
    );
    assert_eq!(
        channels[0].templates,
        ChannelTemplates {
            title: Some("{{ summary }}".to_string()),
            text: None
        }
    );
    assert_eq!(channels[0].secret_envs(), ["SLACK_WEBHOOK_URL"]);
    assert_eq!(
        channels[1].kind,
        ChannelKind::Email {
            smtp: SmtpSettings {
                host: "smtp.example.com".to_string(),
                port: 587,
                tls: SmtpTls::StartTls,
                username: None,
                password_env: None,
            },
            from: "nines <nines@example.com>".to_string(),
            to: vec!["ops@example.com".to_string()],
        }
    );
    assert!(channels[1].alerts && channels[1].secret_envs().is_empty());
    assert!(!channels[2].alerts);
    assert_eq!(channels[2].secret_envs(), ["SMTP_PASSWORD"]);
    let ChannelKind::Email { smtp, .. } = &channels[2].kind else {
        panic!("an email channel")
    };
    assert_eq!((smtp.port, smtp.tls), (2525, SmtpTls::None));
    assert_eq!(
        channels[3].kind,
        ChannelKind::PagerDuty {
            routing_key_env: "PD_ROUTING_KEY".to_string(),
            url: "https://events.pagerduty.com/v2/enqueue".to_string(),
        }
    );
    assert_eq!(channels[3].kind.name(), "pagerduty");
}

#[test]
fn bad_channel_fields_are_located() {
    let text = r#"version: nines/v1
channels:
  - id: chat
    type: slack
    url: https://hooks.slack.com/services/T/B/X
  - id: mail
    type: email
    smtp: {host: smtp.example.com, tls: ssl, username: nines}
    from: nines
    to: [ops@example.com, "not an address"]
  - id: pd
    type: pagerduty
    url: ftp://events
  - id: tpl
    type: slack
    url_env: SLACK_URL
    templates:
      title: "{{ summary"
      text: "{% for a in alerts %}x"
  - id: mail2
    type: email
    smtp: {host: smtp.example.com, port: 25, security: none}
    from: a@b
"#;
    assert_eq!(
        problems(text),
        [
            "test.yaml:3:5: error: channels[0]: slack channels need url_env",
            "test.yaml:5:5: error: channels[0].url: slack channels take no url (the incoming-webhook URL is a secret: name its environment variable in url_env)",
            "test.yaml:8:36: error: channels[1].smtp.tls: unknown tls mode \"ssl\": expected starttls, tls or none",
            "test.yaml:8:46: error: channels[1].smtp.username: a username needs password_env (its password's environment variable)",
            "test.yaml:9:5: error: channels[1].from: \"nines\" is not an email address (\"name <user@host>\" or user@host)",
            "test.yaml:10:27: error: channels[1].to[1]: \"not an address\" is not an email address",
            "test.yaml:11:5: error: channels[2]: pagerduty channels need routing_key_env",
            "test.yaml:13:5: error: channels[2].url: \"ftp://events\" is not an http(s) URL",
            "test.yaml:18:7: error: channels[3].templates.title: template title: syntax error: unexpected end of input, expected end of variable block (line 1 of the template)",
            "test.yaml:19:7: error: channels[3].templates.text: template text: syntax error: unexpected end of input, expected end of block (line 1 of the template)",
            "test.yaml:22:46: error: channels[4].smtp.security: unknown field `security`, expected one of `host`, `port`, `tls`, `username`, `password_env`",
        ]
    );
}
