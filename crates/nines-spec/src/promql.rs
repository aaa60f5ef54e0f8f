//! PromQL checks: queries in specs are parsed with promql-parser, with Sloth's `{{.window}}`
//! placeholder standing in for a range.

/// The placeholder Sloth specs put where a range goes.
pub const WINDOW_PLACEHOLDER: &str = "{{.window}}";

/// Replaces every spelling of the window placeholder (`{{.window}}`, `{{ .window }}`).
pub fn fill_window(query: &str, window: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}") else {
            break;
        };
        let inner = rest[open + 2..open + close].trim();
        out.push_str(&rest[..open]);
        if inner == ".window" {
            out.push_str(window);
        } else {
            out.push_str(&rest[open..open + close + 2]);
        }
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

/// Parses `query` (after filling the window placeholder with `5m`), naming the problem.
pub fn check(query: &str) -> Result<(), String> {
    if query.trim().is_empty() {
        return Err("empty PromQL query".to_string());
    }
    let filled = fill_window(query, "5m");
    promql_parser::parser::parse(&filled)
        .map(|_| ())
        .map_err(|err| format!("invalid PromQL: {err}"))
}

/// Parses a query that is sent as written to a range query (a service's `signals:`): no window
/// placeholder, and a result Prometheus can chart, an instant vector or a scalar.
pub fn check_range_query(query: &str) -> Result<(), String> {
    if query.trim().is_empty() {
        return Err("empty PromQL query".to_string());
    }
    let expr = promql_parser::parser::parse(query).map_err(|err| {
        if query.contains("{{") {
            format!(
                "invalid PromQL: {err} (this query is sent as written: put the range itself, like [5m], where a {WINDOW_PLACEHOLDER} placeholder would go)"
            )
        } else {
            format!("invalid PromQL: {err}")
        }
    })?;
    match expr.value_type() {
        promql_parser::parser::value::ValueType::Vector
        | promql_parser::parser::value::ValueType::Scalar => Ok(()),
        other => Err(format!(
            "the query gives a {other}: a range query needs an instant vector or a scalar (wrap a range in a function such as rate())"
        )),
    }
}

/// Whether a series selector has a matcher on `label`.
pub fn selector_has_label(selector: &str, label: &str) -> bool {
    match promql_parser::parser::parse(selector) {
        Ok(promql_parser::parser::Expr::VectorSelector(selector)) => {
            !selector.matchers.find_matchers(label).is_empty()
        }
        _ => false,
    }
}

/// Parses a series selector such as `http_requests_total{job="api",code=~"5.."}`.
pub fn check_selector(selector: &str) -> Result<(), String> {
    match promql_parser::parser::parse(selector) {
        Ok(promql_parser::parser::Expr::VectorSelector(_)) => Ok(()),
        Ok(_) => Err(format!(
            "{selector:?} is not a series selector: write a metric name with optional label matchers, like http_requests_total{{job=\"api\"}}"
        )),
        Err(err) => Err(format!("invalid series selector: {err}")),
    }
}

/// The metric name a series selector asks for, when it names one exactly (`foo{job="a"}` or
/// `{__name__="foo"}`).
pub fn selector_metric_name(selector: &str) -> Option<String> {
    let Ok(promql_parser::parser::Expr::VectorSelector(selector)) =
        promql_parser::parser::parse(selector)
    else {
        return None;
    };
    selector.name.or_else(|| {
        selector
            .matchers
            .matchers
            .iter()
            .find(|matcher| {
                matcher.name == "__name__"
                    && matches!(matcher.op, promql_parser::label::MatchOp::Equal)
            })
            .map(|matcher| matcher.value.clone())
    })
}

/// Whether a metric name has a suffix Prometheus gives counters and histogram series
/// (`_total`, `_count`, `_sum`, `_bucket`), as promtool's lint of `rate()` checks.
pub fn is_counter_name(name: &str) -> bool {
    ["_total", "_count", "_sum", "_bucket"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_placeholder_is_filled_in_every_spelling() {
        assert_eq!(
            fill_window("rate(x[{{.window}}]) + rate(y[{{ .window }}])", "1h"),
            "rate(x[1h]) + rate(y[1h])"
        );
        assert_eq!(fill_window("{{.other}}", "1h"), "{{.other}}");
    }

    #[test]
    fn checks_queries_and_selectors() {
        assert!(check("sum(rate(http_requests_total{code=~\"5..\"}[{{.window}}]))").is_ok());
        assert!(check("sum(rate(http_requests_total{code=~\"5..\"}[{{.window}}])").is_err());
        assert!(check_selector("http_requests_total{job=\"api\"}").is_ok());
        assert!(check_selector("sum(http_requests_total)").is_err());
    }

    #[test]
    fn range_queries_are_checked_as_written() {
        assert!(check_range_query("sum(rate(http_requests_total[5m]))").is_ok());
        assert!(check_range_query("max(a / b)").is_ok());
        assert!(check_range_query("1").is_ok());
        let window = check_range_query("sum(rate(x[{{.window}}]))").unwrap_err();
        assert!(window.contains("sent as written"), "{window}");
        let range = check_range_query("http_requests_total[5m]").unwrap_err();
        assert!(range.contains("gives a matrix"), "{range}");
        assert!(check_range_query(" ").is_err());
        assert!(selector_has_label("x_bucket{le=\"0.1\"}", "le"));
        assert!(!selector_has_label("x_bucket{job=\"a\"}", "le"));
    }

    #[test]
    fn metric_names_of_selectors() {
        let name = |selector: &str| selector_metric_name(selector);
        assert_eq!(name("up{job=\"api\"}").as_deref(), Some("up"));
        assert_eq!(name("{__name__=\"up\",job=\"api\"}").as_deref(), Some("up"));
        assert_eq!(name("{__name__=~\"up|down\"}"), None);
        assert_eq!(name("sum(up)"), None);
        assert!(is_counter_name("http_requests_total"));
        assert!(is_counter_name("rpc_duration_seconds_bucket"));
        assert!(!is_counter_name("up"));
        assert!(!is_counter_name("process_start_time_seconds_created"));
    }
}
