//! Data sources SLIs are pulled from: the checks both the native `sources:` section and OpenSLO
//! `DataSource`s go through (URL, headers, secret names, durations), and the default-source rule
//! applied once every file is read.

use std::collections::BTreeMap;

use nines_core::Span;

use crate::{LoadContext, origin_warning};

/// Longest wait for one query unless a source says otherwise.
pub const DEFAULT_TIMEOUT: Span = Span::seconds(30);
/// How long after a minute ends before it is pulled, unless a source says otherwise.
pub const DEFAULT_DELAY: Span = Span::minutes(1);
/// Range of one backfill query unless a source says otherwise.
pub const DEFAULT_CHUNK: Span = Span::days(1);
/// SLOs pulled at once unless a source says otherwise.
pub const DEFAULT_CONCURRENCY: u32 = 8;

const MAX_TIMEOUT: Span = Span::minutes(5);
const MAX_DELAY: Span = Span::hours(1);
const MIN_CHUNK: Span = Span::hours(1);
/// Queries step by one minute and Prometheus answers at most 11,000 points per series: 7 days
/// are 10,080 points.
const MAX_CHUNK: Span = Span::days(7);
const MAX_CONCURRENCY: u32 = 64;

/// Checks a source's base URL: `http` or `https`, a host, no credentials, query or fragment.
/// Returns it without trailing slashes, so that `{url}/api/v1/query_range` is well formed.
pub fn check_url(text: &str) -> Result<String, String> {
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(format!(
            "{text:?} is not an absolute http(s) URL like http://prometheus:9090"
        ));
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "{text:?} is not an http(s) URL: the scheme is {scheme:?}"
        ));
    }
    if let Some(bad) = text
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || !c.is_ascii())
    {
        return Err(format!(
            "{text:?} has {bad:?}; percent-encode it or leave it out"
        ));
    }
    if text.contains('?') || text.contains('#') {
        return Err(format!(
            "{text:?} has a query or a fragment: a source URL is the base the API paths are added to"
        ));
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        return Err(format!(
            "{text:?} carries credentials: put them in `auth`, read from the environment"
        ));
    }
    let (host, port) = match authority.strip_prefix('[') {
        // An IPv6 literal: [::1]:9090.
        Some(bracketed) => match bracketed.split_once(']') {
            Some((address, after)) => (address, after.strip_prefix(':')),
            None => return Err(format!("{text:?} has an unclosed '[' in its host")),
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err(format!("{text:?} has no host"));
    }
    let port_ok = |port: &str| {
        port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|port| port > 0)
    };
    if let Some(port) = port
        && !port_ok(port)
    {
        return Err(format!(
            "{text:?} has port {port:?}: a port is a number from 1 to 65535"
        ));
    }
    Ok(text.trim_end_matches('/').to_string())
}

/// An environment variable name: letters, digits and `_`, not starting with a digit.
pub fn check_env_name(name: &str) -> Result<(), String> {
    let valid = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.bytes().next().is_some_and(|b| !b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not an environment variable name: use letters, digits and '_', not starting with a digit (the secret itself is never written in a file)"
        ))
    }
}

/// Checks extra request headers: HTTP header names (RFC 9110 tokens), values of visible ASCII,
/// spaces and tabs, no `Authorization` (credentials come from `auth`), each name once whatever
/// its case. Problems come with the header's name, for placing them.
pub fn check_headers(headers: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (name, value) in headers {
        let is_token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(is_token_char) {
            problems.push((
                name.clone(),
                format!("{name:?} is not an HTTP header name: use letters, digits and '-'"),
            ));
            continue;
        }
        if name.eq_ignore_ascii_case("authorization") {
            problems.push((
                name.clone(),
                "the Authorization header is not set here: use `auth` (bearer_token_env or basic), whose secret is read from the environment".to_string(),
            ));
            continue;
        }
        if let Some(first) = seen.insert(name.to_ascii_lowercase(), name) {
            problems.push((
                name.clone(),
                format!(
                    "header {name:?} is also given as {first:?}: header names do not depend on case"
                ),
            ));
            continue;
        }
        if let Some(bad) = value
            .chars()
            .find(|&c| !(c == '\t' || (' '..='~').contains(&c)))
        {
            problems.push((
                name.clone(),
                format!(
                    "the value of header {name:?} has {bad:?}: header values are visible ASCII, spaces and tabs"
                ),
            ));
        }
    }
    problems
}

pub fn check_timeout(timeout: Span) -> Result<(), String> {
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err(format!(
            "timeout {timeout} must be above 0 and at most {MAX_TIMEOUT}"
        ));
    }
    Ok(())
}

pub fn check_delay(delay: Span) -> Result<(), String> {
    if delay > MAX_DELAY {
        return Err(format!("delay {delay} must be at most {MAX_DELAY}"));
    }
    Ok(())
}

pub fn check_chunk(chunk: Span) -> Result<(), String> {
    if !(MIN_CHUNK..=MAX_CHUNK).contains(&chunk) {
        return Err(format!(
            "chunk {chunk} must be between {MIN_CHUNK} and {MAX_CHUNK}: queries step by 1 minute and Prometheus answers at most 11,000 points per series"
        ));
    }
    if chunk.as_secs() % 60 != 0 {
        return Err(format!("chunk {chunk} must be a whole number of minutes"));
    }
    Ok(())
}

pub fn check_concurrency(concurrency: u32) -> Result<(), String> {
    if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
        return Err(format!(
            "concurrency {concurrency} must be between 1 and {MAX_CONCURRENCY}"
        ));
    }
    Ok(())
}

/// Gives query SLIs that name no source the default one: the source marked `default: true`,
/// else the only source there is. With several sources and none the default, such an SLO is
/// reported: nothing would evaluate it. Without any source nothing is said; such SLOs still
/// serve `generate prometheus`.
pub(crate) fn resolve_default(context: &mut LoadContext) {
    let sources = &context.catalog.sources;
    if sources.is_empty() {
        return;
    }
    let default = match sources.iter().find(|source| source.default) {
        Some(source) => Some(source.id.clone()),
        None if sources.len() == 1 => Some(sources[0].id.clone()),
        None => None,
    };
    let ids: Vec<&str> = sources.iter().map(|source| source.id.as_str()).collect();
    let ids = ids.join(", ");
    for slo in &mut context.catalog.slos {
        if slo.source.is_some() || !slo.sli.is_query() {
            continue;
        }
        match &default {
            Some(id) => slo.source = Some(id.clone()),
            None => context.report.push(origin_warning(
                &slo.origin,
                format!(
                    "SLO {:?} names no source, and none of the sources ({ids}) is the default: it will not be evaluated until it names one (`sli.source` in nines/v1, `metricSourceRef` in OpenSLO) or one source is marked `default: true`",
                    slo.id.as_str()
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        for (text, want) in [
            ("http://prometheus:9090", "http://prometheus:9090"),
            (
                "https://mimir.example.com/prometheus/",
                "https://mimir.example.com/prometheus",
            ),
            ("http://[::1]:9090//", "http://[::1]:9090"),
        ] {
            assert_eq!(check_url(text).as_deref(), Ok(want), "{text}");
        }
        for bad in [
            "prometheus:9090",
            "ftp://host",
            "http://",
            "http:///path",
            "http://host:port",
            "http://host:0",
            "http://host:99999",
            "http://host/api?x=1",
            "http://host/#top",
            "http://user:secret@host",
            "http://host name",
            "http://[::1",
        ] {
            assert!(check_url(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn env_names() {
        for good in ["PROM_TOKEN", "_X", "a1"] {
            assert!(check_env_name(good).is_ok(), "{good}");
        }
        for bad in ["", "1X", "PROM-TOKEN", "$PROM", "PROM TOKEN"] {
            assert!(check_env_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn headers() {
        let headers = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect()
        };
        assert!(check_headers(&headers(&[("X-Scope-OrgID", "team-a|team-b")])).is_empty());
        let problems = check_headers(&headers(&[
            ("authorization", "Bearer x"),
            ("Bad Name", "x"),
            ("X-A", "line\nbreak"),
            ("X-B", "b"),
            ("x-b", "b"),
        ]));
        let names: Vec<&str> = problems.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["Bad Name", "X-A", "authorization", "x-b"]);
    }
}
