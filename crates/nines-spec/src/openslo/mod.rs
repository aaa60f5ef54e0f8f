//! OpenSLO v1: every kind, with references resolved across files.
//!
//! Reading happens in two stages. [`read`] decodes each document's envelope, metadata and
//! spec (raw serde structs with unknown fields rejected) and keeps the object in [`Pending`].
//! [`finish`] runs once every file is read: it builds one name table per kind, resolves
//! references, and converts services and SLOs into the [`Catalog`]. A second object of a kind
//! with a name already taken is an error, except for `Service`: a service carries no behaviour
//! in nines, so a second definition is a warning and the first one is kept (OpenSLO's own
//! examples define `example-service` twice).
//!
//! Metadata: labels are kept (a list value joined with `,`), annotations are read and checked
//! but have no place in the catalog; a display name is kept for services. Every field of a
//! metric source nines does not query is kept in [`Sli::External`].
//!
//! References and how strictly they are held:
//! - `indicatorRef` (SLO or composite objective) to an `SLI`, `alertPolicyRef` to an
//!   `AlertPolicy`, `conditionRef` to an `AlertCondition`: nines needs the object to build the
//!   SLO, so a missing one is an error at the reference.
//! - `metricSourceRef` to a `DataSource`: an error when the metric source has no `type` of its
//!   own (the type comes from the data source); a warning when it has one, since nines then
//!   knows how to read the source. A Prometheus DataSource with a URL in its
//!   `connectionDetails` becomes a catalog source, and SLIs whose metric sources refer to it are
//!   pulled from it; other Prometheus SLIs take the default source.
//! - `targetRef` to an `AlertNotificationTarget`: a warning; nines delivers through its own
//!   routes and only records the target's name.
//! - `spec.service` of an SLO is a name, which the spec says "may refer" to a `Service`; nines
//!   does not require one.
//!
//! Objects written inline (an SLO's `indicator`, a policy's inline condition) belong to their
//! parent and are not entered in the name tables.
//!
//! [`Catalog`]: crate::Catalog
//! [`Sli::External`]: crate::Sli::External

mod alerting;
mod datasource;
mod raw;
mod sli;
mod slo;

use std::collections::BTreeMap;
use std::rc::Rc;

use nines_core::Span;
use serde::de::DeserializeOwned;
use yaml_serde::Value;

use crate::catalog::{Format, Origin, Service};
use crate::diag::{Diagnostic, Report};
use crate::{LoadContext, SourceDoc};

/// The kinds of OpenSLO v1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    DataSource,
    Service,
    Sli,
    Slo,
    AlertCondition,
    AlertNotificationTarget,
    AlertPolicy,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::DataSource,
        Kind::Service,
        Kind::Sli,
        Kind::Slo,
        Kind::AlertCondition,
        Kind::AlertNotificationTarget,
        Kind::AlertPolicy,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::DataSource => "DataSource",
            Kind::Service => "Service",
            Kind::Sli => "SLI",
            Kind::Slo => "SLO",
            Kind::AlertCondition => "AlertCondition",
            Kind::AlertNotificationTarget => "AlertNotificationTarget",
            Kind::AlertPolicy => "AlertPolicy",
        }
    }

    fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == text)
    }
}

/// A place in a document: the document and a field path relative to it.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    doc: Rc<SourceDoc>,
    path: String,
}

impl Place {
    fn root(doc: Rc<SourceDoc>) -> Place {
        Place {
            doc,
            path: String::new(),
        }
    }

    /// A field below this place (`"spec"`, `"[2]"`, `"metricSource.spec"`).
    pub(crate) fn at(&self, sub: &str) -> Place {
        Place {
            doc: self.doc.clone(),
            path: join(&self.path, sub),
        }
    }

    pub(crate) fn error(&self, sub: &str, message: impl Into<String>) -> Diagnostic {
        self.doc.error(&join(&self.path, sub), message)
    }

    pub(crate) fn warning(&self, sub: &str, message: impl Into<String>) -> Diagnostic {
        self.doc.warning(&join(&self.path, sub), message)
    }

    pub(crate) fn decode<T: DeserializeOwned>(
        &self,
        value: &Value,
        report: &mut Report,
    ) -> Option<T> {
        self.doc.decode(value, &self.path, report)
    }

    /// `file:line`, for messages that point at a second place.
    pub(crate) fn describe(&self) -> String {
        format!("{}:{}", self.doc.file, self.doc.locate(&self.path).line)
    }

    fn origin(&self) -> Origin {
        Origin {
            file: self.doc.file.clone(),
            line: self.doc.locate(&self.path).line,
            path: self.doc.full_path(&self.path),
            format: Format::OpenSloV1,
        }
    }
}

fn join(path: &str, sub: &str) -> String {
    match (path.is_empty(), sub.is_empty()) {
        (true, _) => sub.to_string(),
        (false, true) => path.to_string(),
        (false, false) if sub.starts_with('[') => format!("{path}{sub}"),
        (false, false) => format!("{path}.{sub}"),
    }
}

/// An object's metadata, checked.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub name: String,
    pub display_name: Option<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug)]
enum Body {
    DataSource(raw::RawDataSourceSpec),
    Service(raw::RawServiceSpec),
    Sli(raw::RawSliSpec),
    Slo(raw::RawSloSpec),
    AlertCondition(raw::RawAlertConditionSpec),
    AlertNotificationTarget(raw::RawTargetSpec),
    AlertPolicy(raw::RawAlertPolicySpec),
}

#[derive(Debug)]
struct Object {
    kind: Kind,
    meta: Meta,
    /// The object itself; its spec is at `place.at("spec")`.
    place: Place,
    body: Body,
}

/// Objects read so far, waiting for references to be resolved once every file is read.
#[derive(Debug, Default)]
pub struct Pending {
    objects: Vec<Object>,
}

impl Pending {
    /// How many objects of each kind were read (those whose envelope, metadata and spec
    /// decoded).
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for object in &self.objects {
            *counts.entry(object.kind.name()).or_insert(0) += 1;
        }
        counts
    }
}

/// Reads one `apiVersion: openslo/v1` document into [`Pending`].
pub fn read(doc: &SourceDoc, context: &mut LoadContext) {
    let report = &mut context.report;
    let root = Place::root(Rc::new(doc.clone()));
    let Some(envelope) = root.decode::<raw::RawObject>(&doc.value, report) else {
        return;
    };
    let Some(kind) = Kind::parse(&envelope.kind) else {
        let known: Vec<&str> = Kind::ALL.iter().map(|kind| kind.name()).collect();
        report.push(root.error(
            "kind",
            format!(
                "unknown OpenSLO v1 kind {:?}: expected one of {}",
                envelope.kind,
                known.join(", ")
            ),
        ));
        return;
    };
    let meta = read_metadata(&root.at("metadata"), &envelope.metadata, report);
    let spec_place = root.at("spec");
    let body = match kind {
        Kind::DataSource => spec_place
            .decode(&envelope.spec, report)
            .map(Body::DataSource),
        Kind::Service => spec_place.decode(&envelope.spec, report).map(Body::Service),
        Kind::Sli => spec_place.decode(&envelope.spec, report).map(Body::Sli),
        Kind::Slo => spec_place.decode(&envelope.spec, report).map(Body::Slo),
        Kind::AlertCondition => spec_place
            .decode(&envelope.spec, report)
            .map(Body::AlertCondition),
        Kind::AlertNotificationTarget => spec_place
            .decode(&envelope.spec, report)
            .map(Body::AlertNotificationTarget),
        Kind::AlertPolicy => spec_place
            .decode(&envelope.spec, report)
            .map(Body::AlertPolicy),
    };
    let (Some(meta), Some(body)) = (meta, body) else {
        return;
    };
    let description = match &body {
        Body::DataSource(spec) => spec.description.as_deref(),
        Body::Service(spec) => spec.description.as_deref(),
        Body::Sli(spec) => spec.description.as_deref(),
        Body::Slo(spec) => spec.description.as_deref(),
        Body::AlertCondition(spec) => spec.description.as_deref(),
        Body::AlertNotificationTarget(spec) => spec.description.as_deref(),
        Body::AlertPolicy(spec) => spec.description.as_deref(),
    };
    check_description(&spec_place, description, report);
    context.openslo.objects.push(Object {
        kind,
        meta,
        place: root,
        body,
    });
}

/// Decodes and checks `metadata`. Names that break OpenSLO's RFC 1123 rule are accepted with
/// a warning (nines ids allow more), as are display names over 63 characters.
pub(crate) fn read_metadata(place: &Place, value: &Value, report: &mut Report) -> Option<Meta> {
    let metadata: raw::RawMetadata = place.decode(value, report)?;
    if metadata.name.is_empty() {
        report.push(place.error("name", "name must not be empty"));
        return None;
    }
    if !is_dns_label(&metadata.name) {
        report.push(place.warning(
            "name",
            format!(
                "name {:?} breaks OpenSLO's rule that names are RFC 1123 labels (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit); `oslo validate` rejects it, nines accepts it",
                metadata.name
            ),
        ));
    }
    if let Some(display_name) = &metadata.display_name
        && display_name.chars().count() > 63
    {
        report.push(place.warning(
            "displayName",
            "displayName is longer than 63 characters, which OpenSLO's reference validator rejects; nines accepts it",
        ));
    }
    let labels = metadata
        .labels
        .iter()
        .map(|(key, value)| (key.clone(), value.joined()))
        .collect();
    Some(Meta {
        name: metadata.name,
        display_name: metadata.display_name,
        labels,
    })
}

fn check_description(spec: &Place, description: Option<&str>, report: &mut Report) {
    if let Some(description) = description
        && description.chars().count() > 1050
    {
        report.push(spec.warning(
            "description",
            "description is longer than 1050 characters, which OpenSLO's reference validator rejects; nines accepts it",
        ));
    }
}

/// RFC 1123 label: 1 to 63 of `a-z 0-9 -`, starting and ending with a letter or digit.
pub(crate) fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge_ok =
        |byte: Option<&u8>| byte.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && edge_ok(bytes.first())
        && edge_ok(bytes.last())
}

/// An OpenSLO duration shorthand: a positive whole number and one of `m h d w M Q Y`.
///
/// Months, quarters and years have no fixed length; where a length is needed (rolling windows,
/// lookback windows) they count 30, 90 and 365 days, as OpenSLO's reference SDK does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shorthand {
    pub count: i64,
    pub unit: char,
}

impl Shorthand {
    pub(crate) fn parse(text: &str) -> Result<Shorthand, String> {
        let expected = "expected a positive whole number and one of m, h, d, w, M, Q, Y (like 5m, 1h, 28d, 1M)";
        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(digits_end);
        let mut unit_chars = unit.chars();
        let (Some(unit), None) = (unit_chars.next(), unit_chars.next()) else {
            return Err(format!("invalid duration {text:?}: {expected}"));
        };
        if !matches!(unit, 'm' | 'h' | 'd' | 'w' | 'M' | 'Q' | 'Y') {
            return Err(format!(
                "invalid duration {text:?}: unit {unit:?} is not one of m, h, d, w, M, Q, Y"
            ));
        }
        let count: i64 = digits
            .parse()
            .map_err(|_| format!("invalid duration {text:?}: {expected}"))?;
        if count <= 0 {
            return Err(format!(
                "invalid duration {text:?}: the number must be positive"
            ));
        }
        if count > 100_000 {
            return Err(format!("duration {text:?} is too long"));
        }
        Ok(Shorthand { count, unit })
    }

    pub(crate) fn span(self) -> Span {
        let days = |days: i64| Span::days(days * self.count);
        match self.unit {
            'm' => Span::minutes(self.count),
            'h' => Span::hours(self.count),
            'd' => days(1),
            'w' => days(7),
            'M' => days(30),
            'Q' => days(90),
            _ => days(365),
        }
    }
}

impl std::fmt::Display for Shorthand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.count, self.unit)
    }
}

/// Objects by kind and name, after duplicates were reported.
#[derive(Default)]
struct Names<'a> {
    by_kind: BTreeMap<(Kind, &'a str), &'a Object>,
}

impl<'a> Names<'a> {
    fn build(objects: &'a [Object], report: &mut Report) -> Names<'a> {
        let mut names = Names::default();
        for object in objects {
            let key = (object.kind, object.meta.name.as_str());
            match names.by_kind.get(&key) {
                None => {
                    names.by_kind.insert(key, object);
                }
                // A Service carries no behaviour in nines, so a second one with the same name
                // cannot change what is computed: it is reported and the first one is kept.
                Some(first) if object.kind == Kind::Service => report.push(object.place.warning(
                    "metadata.name",
                    format!(
                        "Service {:?} is already defined at {}; this definition is ignored",
                        object.meta.name,
                        first.place.describe()
                    ),
                )),
                Some(first) => report.push(object.place.error(
                    "metadata.name",
                    format!(
                        "duplicate {} name {:?}: also defined at {}",
                        object.kind.name(),
                        object.meta.name,
                        first.place.describe()
                    ),
                )),
            }
        }
        names
    }

    /// Whether `object` is the one its name refers to (not a later duplicate).
    fn is_first(&self, object: &Object) -> bool {
        self.by_kind
            .get(&(object.kind, object.meta.name.as_str()))
            .is_some_and(|first| std::ptr::eq(*first, object))
    }

    fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &'a Object> + '_ {
        self.by_kind
            .iter()
            .filter(move |((k, _), _)| *k == kind)
            .map(|(_, object)| *object)
    }
}

/// Resolves references across every file read and fills the catalog.
pub fn finish(context: &mut LoadContext) {
    let pending = std::mem::take(&mut context.openslo);
    if pending.objects.is_empty() {
        return;
    }
    let report = &mut context.report;
    let names = Names::build(&pending.objects, report);

    let mut data_sources = BTreeMap::new();
    for object in names.of_kind(Kind::DataSource) {
        if let Body::DataSource(spec) = &object.body {
            let mut pulled = false;
            if sli::is_prometheus(&spec.source_type)
                && let Some(source) = datasource::read(
                    &object.place,
                    &object.meta.name,
                    spec,
                    &context.catalog.sources,
                    report,
                )
            {
                context.catalog.sources.push(source);
                pulled = true;
            }
            if !pulled {
                // Named by a service's `signals.source`, it is told apart from an unknown name.
                context
                    .native
                    .unqueried_data_sources
                    .insert(object.meta.name.clone(), spec.source_type.clone());
            }
            let data_source = sli::DataSource {
                source_type: spec.source_type.clone(),
                pulled,
            };
            data_sources.insert(object.meta.name.clone(), data_source);
        }
    }

    let mut slis = BTreeMap::new();
    for object in names.of_kind(Kind::Sli) {
        if let Body::Sli(spec) = &object.body {
            let shape = sli::read_sli(&object.place.at("spec"), spec, &data_sources, report);
            slis.insert(object.meta.name.clone(), shape.map(Rc::new));
        }
    }

    let mut conditions = BTreeMap::new();
    for object in names.of_kind(Kind::AlertCondition) {
        if let Body::AlertCondition(spec) = &object.body {
            let condition =
                alerting::read_condition(&object.place.at("spec"), &object.meta.name, spec, report);
            conditions.insert(object.meta.name.clone(), condition.map(Rc::new));
        }
    }

    let mut targets = BTreeMap::new();
    for object in names.of_kind(Kind::AlertNotificationTarget) {
        if let Body::AlertNotificationTarget(spec) = &object.body {
            targets.insert(
                object.meta.name.clone(),
                alerting::Target::new(&object.meta.name, spec),
            );
        }
    }

    let alert_tables = alerting::Tables {
        conditions,
        targets,
    };
    let mut policies = BTreeMap::new();
    for object in names.of_kind(Kind::AlertPolicy) {
        if let Body::AlertPolicy(spec) = &object.body {
            let policy = alerting::read_policy(
                &object.place.at("spec"),
                &object.meta.name,
                spec,
                &alert_tables,
                report,
            );
            policies.insert(object.meta.name.clone(), policy.map(Rc::new));
        }
    }

    let tables = slo::Tables {
        data_sources,
        slis,
        policies,
        alerts: alert_tables,
    };
    // In file order; a duplicate (already reported) is not converted.
    for object in pending
        .objects
        .iter()
        .filter(|object| names.is_first(object))
    {
        match &object.body {
            Body::Service(spec) => {
                context.catalog.services.push(Service {
                    id: object.meta.name.clone(),
                    display_name: object.meta.display_name.clone(),
                    description: spec.description.clone(),
                    owner: None,
                    tier: None,
                    runbooks: Vec::new(),
                    labels: object.meta.labels.clone(),
                    signals: None,
                    status_page: true,
                    origin: object.place.origin(),
                });
            }
            Body::Slo(spec) => {
                let defs = slo::convert(
                    &object.place,
                    &object.meta,
                    spec,
                    &tables,
                    context.options,
                    report,
                );
                context.catalog.slos.extend(defs);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorthands_parse_and_measure() {
        let span = |text: &str| Shorthand::parse(text).map(|shorthand| shorthand.span());
        assert_eq!(span("5m"), Ok(Span::minutes(5)));
        assert_eq!(span("1w"), Ok(Span::days(7)));
        assert_eq!(span("1M"), Ok(Span::days(30)));
        assert_eq!(span("1Q"), Ok(Span::days(90)));
        assert_eq!(span("1Y"), Ok(Span::days(365)));
        for bad in [
            "",
            "m",
            "5",
            "5s",
            "0d",
            "-1d",
            "1.5h",
            "5mm",
            "99999999999999999999d",
            "1é",
        ] {
            assert!(Shorthand::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("web-availability"));
        assert!(is_dns_label("a1"));
        for bad in ["", "Web", "-a", "a-", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad:?}");
        }
    }
}
