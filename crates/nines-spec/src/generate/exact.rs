//! The exact rule style: error and total event counts per bucket, recorded once per bucket
//! (the group interval), and every window ratio, the period's included, derived as
//! `sum_over_time(errors[w]) / sum_over_time(total[w])`, so each event weighs the same
//! whatever the traffic was when it happened.
//!
//! Raw error-ratio SLIs have no counts to sum; they get Sloth's rules, with a warning.

use nines_core::Span;

use super::{Rule, RuleGroup, SloContext, fill, origin_warning, prom_duration, sloth_style};
use crate::catalog::Sli;
use crate::diag::Report;

/// The bucket: one evaluation of the group records the events of the last 5 minutes.
pub const BUCKET: Span = Span::minutes(5);

pub const ERRORS_METRIC: &str = "slo:sli_error_events:increase5m";
pub const TOTAL_METRIC: &str = "slo:sli_total_events:increase5m";

/// One group per SLO, evaluated every bucket: counts, window ratios, metadata, alerts. One
/// group keeps the order (counts before the ratios that read them) within one evaluation.
pub fn groups(context: &SloContext, report: &mut Report) -> Vec<RuleGroup> {
    let Some((errors, total)) = bucket_queries(&context.slo.sli) else {
        report.push(origin_warning(
            context.slo,
            format!(
                "SLO {:?}: a raw error-ratio SLI has no event counts, so the exact style falls back to Sloth's rules for it",
                context.slo.id.as_str()
            ),
        ));
        return sloth_style::groups(context);
    };
    let id = context.slo.id.as_str();
    let mut rules = Vec::new();
    if !context.options.disable_recordings {
        let bucket_labels = context.labels(&[("sloth_window", prom_duration(BUCKET))]);
        rules.push(Rule::record(ERRORS_METRIC, errors, bucket_labels.clone()));
        rules.push(Rule::record(TOTAL_METRIC, total, bucket_labels));
        let mut windows = context.alert_windows.clone();
        windows.push(context.period);
        windows.sort();
        windows.dedup();
        for window in windows {
            rules.push(window_rule(context, window));
        }
        rules.extend(context.meta_rules("nines-exact"));
    }
    rules.extend(context.alert_rules());
    if rules.is_empty() {
        return Vec::new();
    }
    vec![RuleGroup {
        name: format!("nines-slo-exact-{id}"),
        interval: Some(prom_duration(BUCKET)),
        rules,
    }]
}

/// Error and total events in the last bucket. Sloth's queries are rates over `{{.window}}`;
/// a rate over the bucket times the bucket's seconds is the bucket's increase.
fn bucket_queries(sli: &Sli) -> Option<(String, String)> {
    let seconds = BUCKET.as_secs();
    match sli {
        Sli::EventQueries {
            errors: Some(errors),
            total,
            ..
        } => Some((
            format!("({}) * {seconds}", fill(errors, BUCKET)),
            format!("({}) * {seconds}", fill(total, BUCKET)),
        )),
        Sli::EventQueries {
            errors: None,
            good: Some(good),
            total,
        } => Some((
            format!(
                "(({}) - ({})) * {seconds}",
                fill(total, BUCKET),
                fill(good, BUCKET)
            ),
            format!("({}) * {seconds}", fill(total, BUCKET)),
        )),
        _ => None,
    }
}

/// The share of errors among the events of the buckets within `window`. The range is one
/// second short of the window: buckets are recorded exactly one bucket apart, and a range of
/// exactly `window` would also take the bucket at its left edge on Prometheus 2.
fn window_rule(context: &SloContext, window: Span) -> Rule {
    let range = prom_duration(Span::seconds(window.as_secs() - 1));
    let filter = &context.filter;
    Rule::record(
        context.ratio_metric(window),
        format!(
            "sum_over_time({ERRORS_METRIC}{filter}[{range}])\n/ ignoring (sloth_window)\nsum_over_time({TOTAL_METRIC}{filter}[{range}])\n"
        ),
        context.labels(&[("sloth_window", prom_duration(window))]),
    )
}
