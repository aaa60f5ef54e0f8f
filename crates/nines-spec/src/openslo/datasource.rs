//! OpenSLO v1 `DataSource`s of type Prometheus to the sources nines pulls SLIs from.
//!
//! `connectionDetails` is free-form in OpenSLO: a mapping, or (in OpenSLO's own examples) a list
//! of one-key mappings. nines reads `url` (or `address`), `headers` and `timeout` from it; the
//! other settings of a source take their defaults, and a DataSource is never the default source.
//! A Prometheus DataSource without a URL is read as before, with a warning: SLOs using it can
//! still generate rules, but nines cannot pull from it.

use std::collections::BTreeMap;

use nines_core::Span;
use yaml_serde::Value;

use super::Place;
use super::raw::RawDataSourceSpec;
use crate::catalog::{PrometheusSource, SloId, Source, SourceKind};
use crate::datasource;
use crate::diag::Report;

/// The catalog source a Prometheus DataSource named `name` (at `place`, the object) becomes;
/// `None` when it has no URL (a warning) or a problem (an error, reported).
pub(super) fn read(
    place: &Place,
    name: &str,
    spec: &RawDataSourceSpec,
    sources: &[Source],
    report: &mut Report,
) -> Option<Source> {
    let spec_place = place.at("spec");
    let details = match &spec.connection_details {
        None => Vec::new(),
        Some(value) => entries(&spec_place.at("connectionDetails"), value, report),
    };
    let find = |key: &str| details.iter().find(|(entry, _, _)| entry == key);
    let url_entry = match (find("url"), find("address")) {
        (Some(url), Some((_, _, address_place))) => {
            report.push(address_place.warning("", "`address` is not used when `url` is set"));
            url
        }
        (Some(entry), None) | (None, Some(entry)) => entry,
        (None, None) => {
            report.push(spec_place.warning(
                "connectionDetails",
                format!(
                    "DataSource {name:?} of type Prometheus has no connectionDetails url: nines cannot pull from it, and SLIs using it take the default source, if there is one"
                ),
            ));
            return None;
        }
    };
    // Errors are kept apart so that whether the source is complete is simply whether any was
    // found; each is reported.
    let mut errors = Vec::new();
    let mut fail = |at: &Place, message: String| errors.push(at.error("", message));
    let mut headers_decoded = true;
    let (_, url_value, url_place) = url_entry;
    let url = match url_value.as_str().map(datasource::check_url) {
        Some(Ok(url)) => url,
        Some(Err(message)) => {
            fail(url_place, message);
            String::new()
        }
        None => {
            fail(url_place, "a URL must be a string".to_string());
            String::new()
        }
    };
    let mut headers = BTreeMap::new();
    if let Some((_, value, headers_place)) = find("headers") {
        match headers_place.decode::<BTreeMap<String, String>>(value, report) {
            Some(decoded) => headers = decoded,
            None => headers_decoded = false,
        }
        for (header, message) in datasource::check_headers(&headers) {
            fail(&headers_place.at(&header), message);
        }
    }
    let mut timeout = datasource::DEFAULT_TIMEOUT;
    if let Some((_, value, timeout_place)) = find("timeout") {
        let checked = match value.as_str() {
            Some(text) => Span::parse(text)
                .map_err(|err| err.to_string())
                .and_then(|span| datasource::check_timeout(span).map(|()| span)),
            None => Err("timeout must be a duration like 30s".to_string()),
        };
        match checked {
            Ok(span) => timeout = span,
            Err(message) => fail(timeout_place, message),
        }
    }
    for (key, _, at) in &details {
        if !matches!(key.as_str(), "url" | "address" | "headers" | "timeout") {
            report.push(at.warning(
                "",
                format!(
                    "{key:?} is not used: nines reads url (or address), headers and timeout from a Prometheus DataSource"
                ),
            ));
        }
    }
    if let Err(problem) = SloId::new(name) {
        fail(
            &place.at("metadata.name"),
            format!("cannot make a source id: {problem}"),
        );
    } else if let Some(first) = sources.iter().find(|source| source.id == name) {
        fail(
            &place.at("metadata.name"),
            format!(
                "duplicate source id {name:?}: also defined at {}:{}",
                first.origin.file, first.origin.line
            ),
        );
    }
    let ok = errors.is_empty() && headers_decoded;
    report.diagnostics.extend(errors);
    ok.then(|| Source {
        id: name.to_string(),
        kind: SourceKind::Prometheus(PrometheusSource {
            url,
            auth: None,
            headers,
            timeout,
            delay: datasource::DEFAULT_DELAY,
            chunk: datasource::DEFAULT_CHUNK,
            concurrency: datasource::DEFAULT_CONCURRENCY,
        }),
        default: false,
        origin: place.origin(),
    })
}

/// The keys of `connectionDetails`, each with its value and place; the first of a key repeated
/// in a list wins.
fn entries(place: &Place, value: &Value, report: &mut Report) -> Vec<(String, Value, Place)> {
    let mut out: Vec<(String, Value, Place)> = Vec::new();
    let mut add = |map: &yaml_serde::Mapping, at: &Place| {
        for (key, value) in map {
            let Some(key) = key.as_str() else { continue };
            if !out.iter().any(|(seen, _, _)| seen == key) {
                out.push((key.to_string(), value.clone(), at.at(key)));
            }
        }
    };
    match value {
        Value::Mapping(map) => add(map, place),
        Value::Sequence(items) => {
            for (index, item) in items.iter().enumerate() {
                if let Value::Mapping(map) = item {
                    add(map, &place.at(&format!("[{index}]")));
                }
            }
        }
        _ => report.push(place.warning(
            "",
            "connectionDetails is a mapping (or a list of mappings); nines reads nothing from this one",
        )),
    }
    out
}
