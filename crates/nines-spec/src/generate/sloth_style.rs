//! Sloth's rules, expression for expression: an error ratio per alert window straight from the
//! SLI queries, the period ratio as the average of the short-window ratios, Sloth's metadata
//! recordings and its multiwindow-multiburn alerts.

use nines_core::Span;

use super::{Rule, RuleGroup, SloContext, fill, prom_duration};
use crate::catalog::Sli;

/// The groups of one SLO: SLI recordings, metadata recordings, alerts (empty ones left out).
pub fn groups(context: &SloContext) -> Vec<RuleGroup> {
    let id = context.slo.id.as_str();
    let mut groups = Vec::new();
    if !context.options.disable_recordings {
        let mut rules: Vec<Rule> = context
            .alert_windows
            .iter()
            .map(|window| window_rule(context, *window))
            .collect();
        rules.push(period_rule(context));
        groups.push(RuleGroup {
            name: format!("sloth-slo-sli-recordings-{id}"),
            interval: None,
            rules,
        });
        groups.push(RuleGroup {
            name: format!("sloth-slo-meta-recordings-{id}"),
            interval: None,
            rules: context.meta_rules(""),
        });
    }
    let alerts = context.alert_rules();
    if !alerts.is_empty() {
        groups.push(RuleGroup {
            name: format!("sloth-slo-alerts-{id}"),
            interval: None,
            rules: alerts,
        });
    }
    groups
}

/// The error ratio over `window`, from the SLI queries.
pub fn error_ratio_expr(sli: &Sli, window: Span) -> String {
    match sli {
        Sli::EventQueries {
            errors: Some(errors),
            total,
            ..
        } => {
            format!("({})\n/\n({})\n", fill(errors, window), fill(total, window))
        }
        // OpenSLO's good/total ratio, as Sloth maps it onto a raw error ratio.
        Sli::EventQueries {
            errors: None,
            good: Some(good),
            total,
        } => format!(
            "(\n  1 - (\n    (\n      {}\n    )\n    /\n    (\n      {}\n    )\n  )\n)",
            fill(good, window).trim(),
            fill(total, window).trim()
        ),
        Sli::RawErrorRatio { error_ratio } => format!("({})", fill(error_ratio, window)),
        // Refused before generation (see `check_generatable`).
        _ => String::from("vector(0)"),
    }
}

fn window_rule(context: &SloContext, window: Span) -> Rule {
    Rule::record(
        context.ratio_metric(window),
        error_ratio_expr(&context.slo.sli, window),
        context.labels(&[("sloth_window", prom_duration(window))]),
    )
}

/// Sloth's period ratio: the mean of the short-window ratios over the period.
fn period_rule(context: &SloContext) -> Rule {
    let short = context.ratio_metric(context.short_window);
    let period = prom_duration(context.period);
    let filter = &context.filter;
    Rule::record(
        context.ratio_metric(context.period),
        format!(
            "sum_over_time({short}{filter}[{period}])\n/ ignoring (sloth_window)\ncount_over_time({short}{filter}[{period}])\n"
        ),
        context.labels(&[("sloth_window", period.clone())]),
    )
}
