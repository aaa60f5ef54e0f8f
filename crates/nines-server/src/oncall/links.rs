//! Signed one-click links in notifications: `{public_url}/act/{token}`, where the token names a
//! page, an action and the person it was sent to, expires, and carries an HMAC-SHA256 of all of
//! that under a secret kept in the store (so every replica, and a restarted server, accept the
//! links it sent). Opening a link shows a confirmation page; only its POST acts, so mail
//! scanners and chat unfurlers that fetch links cannot acknowledge a page.

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha2::Sha256;

use crate::delivery::page::PageLinks;

/// How long a link works.
pub const LINK_LIFETIME_SECONDS: i64 = 7 * 24 * 3600;

/// What a link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAction {
    Acknowledge,
    Resolve,
}

impl LinkAction {
    pub fn name(self) -> &'static str {
        match self {
            LinkAction::Acknowledge => "acknowledge",
            LinkAction::Resolve => "resolve",
        }
    }

    fn parse(text: &str) -> Option<LinkAction> {
        match text {
            "acknowledge" => Some(LinkAction::Acknowledge),
            "resolve" => Some(LinkAction::Resolve),
            _ => None,
        }
    }
}

/// A checked token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkClaim {
    pub page_id: String,
    pub action: LinkAction,
    /// The person the link was sent to ("-" for a message to no one in particular).
    pub person: String,
    pub expires: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is malformed")]
    Malformed,
    #[error("the link's signature does not match (it was altered, or made by another nines)")]
    BadSignature,
    #[error("the link expired; act from the API, the CLI or a newer notification")]
    Expired,
}

/// Makes and checks links.
#[derive(Clone)]
pub struct Linker {
    public_url: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Linker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linker")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl Linker {
    pub fn new(public_url: &str, secret: &[u8]) -> Linker {
        Linker {
            public_url: public_url.trim_end_matches('/').to_string(),
            secret: secret.to_vec(),
        }
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The links of one notification of `page_id` to `person`.
    pub fn links(&self, page_id: &str, person: Option<&str>, now: Timestamp) -> PageLinks {
        let person = person.unwrap_or("-");
        let expires = now.as_second().saturating_add(LINK_LIFETIME_SECONDS);
        PageLinks {
            page: Some(format!("{}/api/v1/pages/{page_id}", self.public_url)),
            acknowledge: Some(self.url(page_id, LinkAction::Acknowledge, person, expires)),
            resolve: Some(self.url(page_id, LinkAction::Resolve, person, expires)),
        }
    }

    fn url(&self, page_id: &str, action: LinkAction, person: &str, expires: i64) -> String {
        format!(
            "{}/act/{}",
            self.public_url,
            self.token(page_id, action, person, expires)
        )
    }

    /// `hex(page_id \n action \n person \n expires) . hex(hmac)`.
    pub fn token(&self, page_id: &str, action: LinkAction, person: &str, expires: i64) -> String {
        let claim = format!("{page_id}\n{}\n{person}\n{expires}", action.name());
        format!(
            "{}.{}",
            hex(claim.as_bytes()),
            hex(&self.mac(claim.as_bytes()))
        )
    }

    /// `hex(hmac(purpose \n data))` under the link secret: other signed values of the server
    /// (the web UI's CSRF tokens), kept apart from link claims by their purpose.
    pub fn sign(&self, purpose: &str, data: &str) -> String {
        hex(&self.mac(format!("{purpose}\n{data}").as_bytes()))
    }

    /// Whether `signature` is [`Linker::sign`] of `purpose` and `data`, compared in constant
    /// time as link signatures are.
    pub fn verifies(&self, purpose: &str, data: &str, signature: &str) -> bool {
        let (Some(mac), Ok(mut verifier)) = (
            unhex(signature),
            Hmac::<Sha256>::new_from_slice(&self.secret),
        ) else {
            return false;
        };
        verifier.update(format!("{purpose}\n{data}").as_bytes());
        verifier.verify_slice(&mac).is_ok()
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        match Hmac::<Sha256>::new_from_slice(&self.secret) {
            Ok(mut mac) => {
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            // HMAC takes keys of any length.
            Err(_) => Vec::new(),
        }
    }

    /// Checks a token: its signature (in constant time), its shape and its expiry.
    pub fn check(&self, token: &str, now: Timestamp) -> Result<LinkClaim, LinkError> {
        let (claim_hex, mac_hex) = token.split_once('.').ok_or(LinkError::Malformed)?;
        let claim = unhex(claim_hex).ok_or(LinkError::Malformed)?;
        let mac = unhex(mac_hex).ok_or(LinkError::Malformed)?;
        let mut verifier =
            Hmac::<Sha256>::new_from_slice(&self.secret).map_err(|_| LinkError::BadSignature)?;
        verifier.update(&claim);
        verifier
            .verify_slice(&mac)
            .map_err(|_| LinkError::BadSignature)?;
        let claim = String::from_utf8(claim).map_err(|_| LinkError::Malformed)?;
        let mut parts = claim.split('\n');
        let (Some(page_id), Some(action), Some(person), Some(expires), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(LinkError::Malformed);
        };
        let action = LinkAction::parse(action).ok_or(LinkError::Malformed)?;
        let expires: i64 = expires.parse().map_err(|_| LinkError::Malformed)?;
        if now.as_second() >= expires {
            return Err(LinkError::Expired);
        }
        Ok(LinkClaim {
            page_id: page_id.to_string(),
            action,
            person: person.to_string(),
            expires,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 4096 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A new random secret for links (hex of 32 bytes); `None` if the system has no randomness.
pub fn new_secret() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(hex(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).expect("time")
    }

    #[test]
    fn a_signature_verifies_only_for_its_purpose_and_data() {
        let linker = Linker::new("http://nines.example/", b"secret");
        let signature = linker.sign("csrf", "00ff");
        assert!(linker.verifies("csrf", "00ff", &signature));
        assert!(!linker.verifies("link", "00ff", &signature));
        assert!(!linker.verifies("csrf", "00fe", &signature));
        assert!(
            !Linker::new("http://nines.example/", b"other").verifies("csrf", "00ff", &signature)
        );
        assert!(!linker.verifies("csrf", "00ff", "not hex"));
        assert!(!linker.verifies("csrf", "00ff", ""));
    }

    #[test]
    fn a_link_checks_back_to_what_it_says() {
        let linker = Linker::new("http://nines.example/", b"secret");
        let links = linker.links("p-abc", Some("alice"), at(1_000));
        let ack = links.acknowledge.expect("ack link");
        assert!(ack.starts_with("http://nines.example/act/"), "{ack}");
        let token = ack.rsplit('/').next().expect("token");
        let claim = linker.check(token, at(2_000)).expect("valid");
        assert_eq!(claim.page_id, "p-abc");
        assert_eq!(claim.action, LinkAction::Acknowledge);
        assert_eq!(claim.person, "alice");
        assert_eq!(claim.expires, 1_000 + LINK_LIFETIME_SECONDS);
    }

    #[test]
    fn altered_foreign_expired_and_garbage_links_are_refused() {
        let linker = Linker::new("http://n", b"secret");
        let token = linker.token("p-abc", LinkAction::Resolve, "bob", 5_000);
        // Change the action inside the claim: the signature no longer matches.
        let forged_claim = hex(b"p-abc\nacknowledge\nbob\n5000");
        let mac = token.split_once('.').expect("dot").1;
        assert_eq!(
            linker.check(&format!("{forged_claim}.{mac}"), at(0)),
            Err(LinkError::BadSignature)
        );
        let other = Linker::new("http://n", b"another secret");
        assert_eq!(other.check(&token, at(0)), Err(LinkError::BadSignature));
        assert_eq!(linker.check(&token, at(5_000)), Err(LinkError::Expired));
        for garbage in ["", ".", "zz.zz", "abc", "00.00"] {
            assert!(linker.check(garbage, at(0)).is_err(), "{garbage:?}");
        }
        assert!(new_secret().is_some_and(|secret| secret.len() == 64));
    }
}
