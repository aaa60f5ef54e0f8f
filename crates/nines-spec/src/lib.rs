//! nines config files: the native format, OpenSLO v1, Sloth `prometheus/v1`, its Kubernetes
//! CRD and OpenSLO v1alpha as Sloth reads it, all read into one [`Catalog`]; validation that
//! reports every problem with file, line and field path; Prometheus rule generation.

pub mod catalog;
pub mod datasource;
pub mod diag;
pub mod generate;
pub mod incidents;
pub mod native;
pub mod oncall;
pub mod openslo;
pub mod promql;
pub mod scenario;
pub mod sloth;
pub mod source;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::PathBuf;

use nines_core::{AlertPolicy, Span};

pub use catalog::{
    Catalog, Format, Heartbeat, Integration, IntegrationKey, OnCall, OnCallOrigins, Origin,
    PrometheusSource, Service, ServiceSignals, Sli, SloDef, SloId, Source, SourceAuth, SourceKind,
};
pub use diag::{Diagnostic, Level, Report};
pub use source::SourceDoc;

/// Choices that come from outside the files (command-line flags).
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The window of SLOs whose format cannot say (Sloth `prometheus/v1`): 30 days by default.
    pub default_period: Span,
    /// Alert windows per SLO period, replacing the built-in ones (Sloth `AlertWindows` files).
    pub alert_windows: BTreeMap<Span, AlertPolicy>,
    /// Do not report SLO ids defined more than once (Sloth's `--ignore-slo-duplicates`, for
    /// folders of alternative versions of the same specs).
    pub ignore_duplicate_ids: bool,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            default_period: Span::days(30),
            alert_windows: BTreeMap::new(),
            ignore_duplicate_ids: false,
        }
    }
}

/// State shared by the readers while a set of files is read.
pub struct LoadContext<'a> {
    pub options: &'a LoadOptions,
    pub catalog: Catalog,
    pub report: Report,
    pub openslo: openslo::Pending,
    pub native: native::Pending,
}

/// What [`load`] found: the catalog (complete only when the report has no errors) and every
/// problem.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub catalog: Catalog,
    pub report: Report,
}

/// Reads every file under `paths`.
pub fn load(paths: &[PathBuf], options: &LoadOptions) -> Loaded {
    let mut report = Report::default();
    let files = source::collect_files(paths, &mut report);
    let mut texts = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => texts.push((file.display().to_string(), text)),
            Err(err) => report.push(source::file_error(
                &file,
                &format!("cannot read file: {err}"),
            )),
        }
    }
    let mut loaded = load_texts(&texts, options);
    report.extend(std::mem::take(&mut loaded.report));
    loaded.report = report;
    loaded.report.sort();
    loaded
}

/// Reads files given as (name, text) pairs.
pub fn load_texts(texts: &[(String, String)], options: &LoadOptions) -> Loaded {
    let mut context = LoadContext {
        options,
        catalog: Catalog::default(),
        report: Report::default(),
        openslo: openslo::Pending::default(),
        native: native::Pending::default(),
    };
    for (file, text) in texts {
        for doc in source::read_documents(file, text, &mut context.report) {
            dispatch(&doc, &mut context);
        }
    }
    openslo::finish(&mut context);
    native::finish(&mut context);
    datasource::resolve_default(&mut context);
    check_catalog(&mut context);
    let mut report = context.report;
    report.sort();
    Loaded {
        catalog: context.catalog,
        report,
    }
}

fn dispatch(doc: &SourceDoc, context: &mut LoadContext) {
    let version = doc.top_str("version");
    let api_version = doc.top_str("apiVersion");
    let kind = doc.top_str("kind");
    match (version, api_version, kind) {
        (Some("nines/v1"), None, _) if doc.value.get("scenario").is_some() => {
            // A simulation scenario: checked, not part of the catalog.
            let _ = scenario::read_document(doc, context);
        }
        (Some("nines/v1"), None, _) => native::read(doc, context),
        (Some("prometheus/v1"), None, _) => sloth::read_prometheus_v1(doc, context),
        (_, Some("sloth.slok.dev/v1"), Some("PrometheusServiceLevel")) => sloth::read_kubernetes(doc, context),
        (_, Some("sloth.slok.dev/v1"), Some("AlertWindows")) => sloth::read_alert_windows_document(doc, context),
        (_, Some("openslo/v1alpha"), _) => sloth::read_openslo_v1alpha(doc, context),
        (_, Some("openslo/v1"), _) => openslo::read(doc, context),
        (Some(version), None, _) => context.report.push(doc.error(
            "version",
            format!("unsupported version {version:?}: expected \"nines/v1\" (nines) or \"prometheus/v1\" (Sloth)"),
        )),
        (_, Some(api_version), _) => context.report.push(doc.error(
            "apiVersion",
            format!(
                "unsupported apiVersion {api_version:?}{}: expected openslo/v1, openslo/v1alpha or sloth.slok.dev/v1 (PrometheusServiceLevel, AlertWindows)",
                kind.map(|kind| format!(" with kind {kind:?}")).unwrap_or_default()
            ),
        )),
        (None, None, _) => context.report.push(doc.error(
            "",
            "not a nines, Sloth or OpenSLO document: it has neither `version` nor `apiVersion`",
        )),
    }
}

/// Checks across every file: unique SLO ids, and each SLO's math against its window.
fn check_catalog(context: &mut LoadContext) {
    let mut seen: BTreeMap<String, Origin> = BTreeMap::new();
    for slo in &context.catalog.slos {
        if let Some(first) = seen
            .get(slo.id.as_str())
            .filter(|_| !context.options.ignore_duplicate_ids)
        {
            context.report.push(origin_error(
                &slo.origin,
                format!(
                    "duplicate SLO id {:?}: also defined at {}:{}",
                    slo.id.as_str(),
                    first.file,
                    first.line
                ),
            ));
        } else {
            seen.insert(slo.id.as_str().to_string(), slo.origin.clone());
        }
        for problem in slo.spec.validate() {
            context.report.push(origin_error(
                &slo.origin,
                format!("SLO {:?}: {problem}", slo.id.as_str()),
            ));
        }
    }
}

/// An error placed at a definition's origin.
pub fn origin_error(origin: &Origin, message: String) -> Diagnostic {
    Diagnostic {
        level: Level::Error,
        file: origin.file.clone(),
        line: origin.line,
        column: 0,
        path: origin.path.clone(),
        message,
    }
}

/// A warning placed at a definition's origin.
pub fn origin_warning(origin: &Origin, message: String) -> Diagnostic {
    Diagnostic {
        level: Level::Warning,
        ..origin_error(origin, message)
    }
}
