//! Sloth specs: `prometheus/v1`, the `PrometheusServiceLevel` CRD, OpenSLO v1alpha as Sloth
//! reads it, and `AlertWindows` files.

use crate::{LoadContext, SourceDoc};

pub fn read_prometheus_v1(doc: &SourceDoc, context: &mut LoadContext) {
    context
        .report
        .push(doc.error("", "Sloth prometheus/v1 is not read yet"));
}

pub fn read_kubernetes(doc: &SourceDoc, context: &mut LoadContext) {
    context
        .report
        .push(doc.error("", "Sloth PrometheusServiceLevel is not read yet"));
}

pub fn read_openslo_v1alpha(doc: &SourceDoc, context: &mut LoadContext) {
    context
        .report
        .push(doc.error("", "OpenSLO v1alpha is not read yet"));
}

pub fn read_alert_windows_document(doc: &SourceDoc, context: &mut LoadContext) {
    context
        .report
        .push(doc.error("", "Sloth AlertWindows is not read yet"));
}

/// Reads Sloth `AlertWindows` specs from a file or folder: one alert policy per SLO period.
pub fn load_alert_windows(
    path: &std::path::Path,
) -> Result<std::collections::BTreeMap<nines_core::Span, nines_core::AlertPolicy>, crate::Report> {
    let mut report = crate::Report::default();
    report.push(crate::source::file_error(
        path,
        "AlertWindows files are not read yet",
    ));
    Err(report)
}
