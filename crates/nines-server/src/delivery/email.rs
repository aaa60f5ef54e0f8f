//! Email over SMTP (lettre, rustls with ring): one transport per channel, messages built from
//! the stored `{to, subject, text}` at send time. The Message-ID and the Date come from the
//! idempotency key and the row's creation time, so every retry sends the same message and a
//! receiver (or a mail client) can drop duplicates by Message-ID.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use nines_spec::catalog::{SmtpSettings, SmtpTls};
use nines_store::OutboxRow;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The stored payload of an email message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailPayload {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
}

/// One email channel's SMTP transport and sender.
pub struct EmailTarget {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for EmailTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the password: not printed.
        f.debug_struct("EmailTarget")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl EmailTarget {
    /// The channel's transport; `problems` gets what is wrong (the sender, a recipient, a
    /// missing password).
    pub fn new(
        channel: &str,
        smtp: &SmtpSettings,
        from: &str,
        to: &[String],
        env: &HashMap<String, String>,
        timeout: Duration,
        problems: &mut Vec<String>,
    ) -> Option<EmailTarget> {
        let before = problems.len();
        let from = match from.parse::<Mailbox>() {
            Ok(from) => Some(from),
            Err(err) => {
                problems.push(format!("channel {channel:?}: from {from:?}: {err}"));
                None
            }
        };
        for address in to {
            if let Err(err) = check_address(address) {
                problems.push(format!("channel {channel:?}: to: {err}"));
            }
        }
        let mut builder = match smtp.tls {
            SmtpTls::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str())
            }
            SmtpTls::StartTls => {
                match AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host) {
                    Ok(builder) => builder,
                    Err(err) => {
                        problems.push(format!("channel {channel:?}: smtp {}: {err}", smtp.host));
                        return None;
                    }
                }
            }
            SmtpTls::Tls => match AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host) {
                Ok(builder) => builder,
                Err(err) => {
                    problems.push(format!("channel {channel:?}: smtp {}: {err}", smtp.host));
                    return None;
                }
            },
        };
        builder = builder.port(smtp.port).timeout(Some(timeout));
        if let (Some(username), Some(name)) = (&smtp.username, &smtp.password_env) {
            match env.get(name) {
                Some(password) if !password.is_empty() => {
                    builder =
                        builder.credentials(Credentials::new(username.clone(), password.clone()));
                }
                Some(_) => problems.push(format!(
                    "channel {channel:?}: password environment variable {name} is empty"
                )),
                None => problems.push(format!(
                    "channel {channel:?}: password environment variable {name} is not set"
                )),
            }
        }
        let from = from?;
        (problems.len() == before).then(|| EmailTarget {
            transport: builder.build(),
            from,
        })
    }

    /// Sends the stored message of `row`; `Err` holds the text for `last_error`.
    pub async fn send(&self, row: &OutboxRow) -> Result<(), String> {
        let payload: EmailPayload = serde_json::from_str(&row.payload)
            .map_err(|err| format!("stored email is not readable: {err}"))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(payload.subject)
            .message_id(Some(message_id(&row.idempotency_key, &self.from)))
            .date(created_at(row.created_ms))
            .header(ContentType::TEXT_PLAIN);
        for address in &payload.to {
            let mailbox = address
                .parse::<Mailbox>()
                .map_err(|err| format!("recipient {address:?}: {err}"))?;
            builder = builder.to(mailbox);
        }
        let message = builder
            .body(payload.text)
            .map_err(|err| format!("email not built: {err}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|err| format!("smtp: {}", super::error_chain(&err)))
    }
}

/// Whether `address` is a mailbox lettre accepts (`user@host` or `name <user@host>`).
pub fn check_address(address: &str) -> Result<(), String> {
    address
        .parse::<Mailbox>()
        .map(|_| ())
        .map_err(|err| format!("{address:?} is not an email address: {err}"))
}

/// `<{sha256 hex of the idempotency key}@{the sender's domain}>`: the same message, the same id.
pub fn message_id(idempotency_key: &str, from: &Mailbox) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    format!("<{hex}.nines@{}>", from.email.domain())
}

fn created_at(created_ms: i64) -> SystemTime {
    match u64::try_from(created_ms) {
        Ok(ms) => UNIX_EPOCH + Duration::from_millis(ms),
        Err(_) => UNIX_EPOCH,
    }
}
