//! The PromQL pull source: SLIs read from a team's own Prometheus, Thanos or Mimir.
//!
//! nines never asks Prometheus for a long window. Each one-minute bucket is pulled once, by
//! range queries at one-minute steps aligned to bucket edges, and long windows are summed from
//! nines' own buckets. A per-SLO watermark (`pulled_until`, in the store) says which buckets are
//! filled; counts and the watermark move in one transaction, so a backfill, a restart and live
//! pulling never count a bucket twice.
//!
//! How a query's answer becomes counts depends on its form ([`Form`]):
//! - a counter selector (`http_requests_total{code=~"5.."}`) is read at every minute edge, each
//!   series differenced on its own (a drop is a reset, and the new value counts, as in PromQL)
//!   and the increases summed. No extrapolation: integer counters give integer counts, exact.
//! - OpenSLO's `sum(http_requests{...})` is read as its selector, series by series (summing
//!   counters first would take one series' reset for a drop of the sum); any other expression
//!   over counters is read the same way but must give one series.
//! - a `{{.window}}` template (Sloth) is filled with `1m`; its value at an edge is the minute's
//!   events (times 60 when it is a per-second `rate`). PromQL's `rate` extrapolates, so these
//!   counts are Prometheus' estimate, as Sloth's own rules are.
//! - an error-ratio query (Sloth `raw`) weighs every minute the same: 1,000 events a minute, the
//!   ratio of them bad.
//! - a threshold query (OpenSLO `thresholdMetric`) is one event a minute, good when it holds.
//!
//! This module is pure: plans, and answers turned into counts. `prometheus.rs` is the HTTP
//! client and `task.rs` the loop that runs it.

pub mod prometheus;
pub mod task;

use nines_core::CountKind;
use nines_spec::catalog::ThresholdOp;
use nines_spec::{Sli, SloDef};

pub use prometheus::{PrometheusClient, QueryError, Series};

/// The most events one minute may hold (2^53: floats count exactly up to here).
pub const MAX_MINUTE_EVENTS: f64 = 9_007_199_254_740_992.0;

/// Events a minute of an error-ratio SLI stands for.
pub const RATIO_EVENTS_PER_MINUTE: f64 = 1000.0;

/// How the answer of a query is read.
#[derive(Debug, Clone, PartialEq)]
pub enum Form {
    /// A series selector: every series differenced on its own, summed.
    CounterSeries,
    /// An expression over counters: one series, differenced.
    CounterExpr,
    /// A window template filled with `1m`: the minute's events, times `scale`.
    MinuteEvents { scale: f64 },
    /// An error ratio per minute.
    MinuteRatio,
    /// A value compared with a threshold per minute.
    Threshold { op: ThresholdOp, value: f64 },
}

/// What a query's amount is in the SLO's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The good or bad events (as the SLO counts).
    Counted,
    Total,
    /// The share of bad events (error ratio), or a threshold verdict (1 good, 0 bad).
    Whole,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PullQuery {
    pub role: Role,
    /// The PromQL sent (templates already filled).
    pub promql: String,
    pub form: Form,
}

/// How one SLO is pulled.
#[derive(Debug, Clone, PartialEq)]
pub struct PullPlan {
    pub source: String,
    pub queries: Vec<PullQuery>,
    pub count_kind: CountKind,
}

/// The plan of an SLO that names a source; `Ok(None)` for pushed SLOs. An SLI that cannot be
/// pulled (an external source type) is an error naming why.
pub fn plan(slo: &SloDef) -> Result<Option<PullPlan>, String> {
    let Some(source) = &slo.source else {
        return Ok(None);
    };
    let counted_and_total = |counted: String, counted_form: Form, total: String, form: Form| {
        vec![
            PullQuery {
                role: Role::Counted,
                promql: counted,
                form: counted_form,
            },
            PullQuery {
                role: Role::Total,
                promql: total,
                form,
            },
        ]
    };
    let queries = match &slo.sli {
        Sli::Counters { good, bad, total } => {
            let counted = good.clone().or_else(|| bad.clone()).ok_or_else(|| {
                "a ratio SLI needs a good or a bad selector beside total".to_string()
            })?;
            counted_and_total(
                counted,
                Form::CounterSeries,
                total.clone(),
                Form::CounterSeries,
            )
        }
        Sli::Latency {
            histogram,
            threshold_seconds,
        } => {
            let good = with_le(histogram, &format_le(*threshold_seconds))?;
            let total = with_le(histogram, "+Inf")?;
            counted_and_total(good, Form::CounterSeries, total, Form::CounterSeries)
        }
        Sli::Queries { good, bad, total } => {
            let counted = good.clone().or_else(|| bad.clone()).ok_or_else(|| {
                "a ratio SLI needs a good or a bad query beside total".to_string()
            })?;
            let (counted, counted_form) = counter_form(&counted)?;
            let (total, total_form) = counter_form(total)?;
            counted_and_total(counted, counted_form, total, total_form)
        }
        Sli::EventQueries {
            errors,
            good,
            total,
        } => {
            let counted = errors.clone().or_else(|| good.clone()).ok_or_else(|| {
                "an events SLI needs an error or a good query beside total".to_string()
            })?;
            let (counted, counted_form) = minute_events(&counted)?;
            let (total, total_form) = minute_events(total)?;
            counted_and_total(counted, counted_form, total, total_form)
        }
        Sli::RawErrorRatio { error_ratio } => {
            let promql = nines_spec::promql::fill_window(error_ratio, "1m");
            parse(&promql)?;
            vec![PullQuery {
                role: Role::Whole,
                promql,
                form: Form::MinuteRatio,
            }]
        }
        Sli::Threshold { query, op, value } => {
            let promql = nines_spec::promql::fill_window(query, "1m");
            parse(&promql)?;
            vec![PullQuery {
                role: Role::Whole,
                promql,
                form: Form::Threshold {
                    op: *op,
                    value: *value,
                },
            }]
        }
        Sli::External { source_type, .. } => {
            return Err(format!(
                "its metric source is of type {source_type:?}; nines pulls from Prometheus only"
            ));
        }
        Sli::Pushed | Sli::Probe(_) => {
            return Err("pushed and probe SLIs take no source".to_string());
        }
    };
    Ok(Some(PullPlan {
        source: source.clone(),
        queries,
        count_kind: slo.spec.count_kind,
    }))
}

fn parse(promql: &str) -> Result<promql_parser::parser::Expr, String> {
    promql_parser::parser::parse(promql).map_err(|err| format!("invalid PromQL {promql:?}: {err}"))
}

/// A selector is read series by series; so is `sum(selector)` (summing counters before
/// differencing would read one series' reset as a drop of the whole sum); any other expression
/// must give one series.
fn counter_form(promql: &str) -> Result<(String, Form), String> {
    use promql_parser::parser::Expr;
    let mut expr = parse(promql)?;
    if let Expr::Aggregate(aggregate) = &expr
        && aggregate.op.to_string() == "sum"
        && aggregate.param.is_none()
    {
        let mut inner = aggregate.expr.as_ref();
        while let Expr::Paren(paren) = inner {
            inner = paren.expr.as_ref();
        }
        if let Expr::VectorSelector(_) = inner {
            expr = inner.clone();
        }
    }
    match expr {
        Expr::VectorSelector(_) => Ok((expr.to_string(), Form::CounterSeries)),
        _ => Ok((promql.to_string(), Form::CounterExpr)),
    }
}

/// Fills `{{.window}}` with one minute; a per-second rate is scaled to events a minute.
fn minute_events(template: &str) -> Result<(String, Form), String> {
    let promql = nines_spec::promql::fill_window(template, "1m");
    let expr = parse(&promql)?;
    let scale = if calls(&expr, &["rate", "irate"]) {
        60.0
    } else {
        1.0
    };
    Ok((promql, Form::MinuteEvents { scale }))
}

/// Whether the expression calls any of the functions named.
fn calls(expr: &promql_parser::parser::Expr, names: &[&str]) -> bool {
    use promql_parser::parser::Expr;
    match expr {
        Expr::Call(call) => {
            names.contains(&call.func.name) || call.args.args.iter().any(|arg| calls(arg, names))
        }
        Expr::Aggregate(aggregate) => {
            calls(&aggregate.expr, names)
                || aggregate
                    .param
                    .as_ref()
                    .is_some_and(|param| calls(param, names))
        }
        Expr::Unary(unary) => calls(&unary.expr, names),
        Expr::Binary(binary) => calls(&binary.lhs, names) || calls(&binary.rhs, names),
        Expr::Paren(paren) => calls(&paren.expr, names),
        Expr::Subquery(subquery) => calls(&subquery.expr, names),
        _ => false,
    }
}

/// `le` as Prometheus client libraries write it: `0.3`, `1`, `2.5`.
fn format_le(threshold_seconds: f64) -> String {
    format!("{threshold_seconds}")
}

/// The histogram selector with an `le` matcher added.
fn with_le(histogram: &str, le: &str) -> Result<String, String> {
    let expr = parse(histogram)?;
    let promql_parser::parser::Expr::VectorSelector(selector) = expr else {
        return Err(format!("{histogram:?} is not a series selector"));
    };
    if selector.matchers.find_matchers("le").is_empty() {
        let trimmed = histogram.trim_end();
        let with = match trimmed.strip_suffix('}') {
            Some(open) if open.trim_end().ends_with('{') => format!("{open}le=\"{le}\"}}"),
            Some(open) => format!("{open},le=\"{le}\"}}"),
            None => format!("{trimmed}{{le=\"{le}\"}}"),
        };
        parse(&with)?;
        Ok(with)
    } else {
        Err(format!(
            "histogram selector {histogram:?} already has an `le` matcher; nines adds it from the threshold"
        ))
    }
}

/// A data problem in an answer: the minute is left without data, and the problem is told.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Unix seconds of the edge whose value was wrong.
    pub at: i64,
    pub message: String,
}

/// An answer that cannot be used at all (the whole pull fails).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ShapeError(pub String);

/// Amounts of each minute of `[from, to)` (minute numbers since the epoch) from the answer of a
/// range query over the edges `from*60 ..= to*60` at a 60-second step: `None` for a minute left
/// without data.
pub fn amounts(
    form: &Form,
    series: &[Series],
    from: i64,
    to: i64,
    problems: &mut Vec<Problem>,
) -> Result<Vec<Option<f64>>, ShapeError> {
    let minutes = (to - from).max(0) as usize;
    let one_series = || -> Result<Option<&Series>, ShapeError> {
        match series {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            several => Err(ShapeError(format!(
                "returned {} series where one is expected (first two: {}, {}); aggregate it, for example with sum(...)",
                several.len(),
                several[0].describe(),
                several[1].describe()
            ))),
        }
    };
    match form {
        Form::CounterSeries => {
            let mut out = vec![0.0; minutes];
            for one in series {
                increases(one, from, to, &mut out, problems);
            }
            Ok(out.into_iter().map(Some).collect())
        }
        Form::CounterExpr => {
            let mut out = vec![0.0; minutes];
            if let Some(one) = one_series()? {
                increases(one, from, to, &mut out, problems);
            }
            Ok(out.into_iter().map(Some).collect())
        }
        Form::MinuteEvents { scale } => {
            let mut out = vec![Some(0.0); minutes];
            if let Some(one) = one_series()? {
                for (at, value) in one.points_between(from + 1, to) {
                    let slot = &mut out[(at / 60 - from - 1) as usize];
                    if !value.is_finite() || value < 0.0 {
                        problems.push(Problem {
                            at,
                            message: format!(
                                "value {value} is not a count of events (NaN, infinite or negative); the minute is left without data"
                            ),
                        });
                        *slot = None;
                    } else {
                        *slot = Some(value * scale);
                    }
                }
            }
            Ok(out)
        }
        Form::MinuteRatio => {
            let mut out = vec![None; minutes];
            if let Some(one) = one_series()? {
                for (at, value) in one.points_between(from + 1, to) {
                    let slot = &mut out[(at / 60 - from - 1) as usize];
                    if value.is_nan() {
                        // 0/0: no traffic in the minute; nothing to count.
                        continue;
                    }
                    if !(0.0..=1.0).contains(&value) {
                        problems.push(Problem {
                            at,
                            message: format!(
                                "error ratio {value} is outside 0..1; the minute is left without data"
                            ),
                        });
                        continue;
                    }
                    *slot = Some(value);
                }
            }
            Ok(out)
        }
        Form::Threshold { op, value: limit } => {
            let mut out = vec![None; minutes];
            if let Some(one) = one_series()? {
                for (at, value) in one.points_between(from + 1, to) {
                    if value.is_nan() {
                        problems.push(Problem {
                            at,
                            message: "value is NaN; the minute is left without data".to_string(),
                        });
                        continue;
                    }
                    let holds = match op {
                        ThresholdOp::Lt => value < *limit,
                        ThresholdOp::Lte => value <= *limit,
                        ThresholdOp::Gt => value > *limit,
                        ThresholdOp::Gte => value >= *limit,
                    };
                    out[(at / 60 - from - 1) as usize] = Some(if holds { 1.0 } else { 0.0 });
                }
            }
            Ok(out)
        }
    }
}

/// Adds one counter series' increase of every minute to `out`. The value at an edge is the
/// newest sample at or before it (PromQL's lookback); a series missing at some edges is
/// differenced against its last value seen, so what it counted while away is not lost.
fn increases(series: &Series, from: i64, to: i64, out: &mut [f64], problems: &mut Vec<Problem>) {
    let mut previous: Option<f64> = None;
    let (mut steps, mut drops) = (0u32, 0u32);
    for (at, value) in series.points_between(from, to) {
        if !value.is_finite() || value < 0.0 {
            problems.push(Problem {
                at,
                message: format!(
                    "series {} has value {value}, which no counter has; skipped",
                    series.describe()
                ),
            });
            continue;
        }
        if let Some(before) = previous {
            // A drop is a reset: the counter started again from zero and counted `value`.
            steps += 1;
            let increase = if value >= before {
                value - before
            } else {
                drops += 1;
                value
            };
            out[(at / 60 - from - 1) as usize] += increase;
        }
        previous = Some(value);
    }
    // Counters reset when a process restarts, not every few minutes: a series that keeps
    // dropping is a gauge, and reading its drops as resets would invent events.
    if drops >= 3
        && drops * 10 > steps
        && let Some((at, _)) = series.points.last()
    {
        problems.push(Problem {
            at: *at,
            message: format!(
                "series {} dropped in {drops} of {steps} minutes; it does not behave like a counter (a gauge?), and its drops were read as counter resets",
                series.describe()
            ),
        });
    }
}

/// Per-minute counts (`counted`, `total`) of one pull, with rounding carried between minutes so
/// that fractional amounts (rates) sum to within one event of their real total.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Carry {
    counted: f64,
    total: f64,
}

/// One minute's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteCounts {
    pub minute: i64,
    pub counted: u64,
    pub total: u64,
}

fn take(carry: &mut f64, amount: f64) -> u64 {
    let sum = *carry + amount;
    // Never below zero: a negative remainder stays in the carry instead of rounding to -1
    // (which would credit the carry with events that never happened).
    let whole = sum.max(0.0).round();
    *carry = sum - whole;
    if whole <= 0.0 { 0 } else { whole as u64 }
}

/// Combines the amounts of every query of a plan into minute counts. Minutes left without data
/// by any query are counted as missing (no events), never as good. Minutes with no events are
/// left out.
pub fn combine(
    plan: &PullPlan,
    amounts: &[Vec<Option<f64>>],
    from: i64,
    carry: &mut Carry,
) -> (Vec<MinuteCounts>, u64) {
    let minutes = (0..amounts.first().map_or(0, Vec::len)).map(|index| {
        let pick = |role: Role| {
            plan.queries
                .iter()
                .position(|query| query.role == role)
                .and_then(|position| amounts[position][index])
        };
        (
            index,
            pick(Role::Counted),
            pick(Role::Total),
            pick(Role::Whole),
        )
    });
    let mut out = Vec::new();
    let mut missing = 0;
    for (index, counted, total, whole) in minutes {
        let minute = from + index as i64;
        let amounts = match plan.queries.first().map(|query| &query.form) {
            Some(Form::MinuteRatio) => {
                whole.map(|ratio| (ratio * RATIO_EVENTS_PER_MINUTE, RATIO_EVENTS_PER_MINUTE))
            }
            Some(Form::Threshold { .. }) => whole.map(|good| match plan.count_kind {
                CountKind::Good => (good, 1.0),
                CountKind::Bad => (1.0 - good, 1.0),
            }),
            _ => counted.zip(total),
        };
        // Beyond 2^53 a float count is no longer exact, and sums of such counts overflow the
        // store's integers: such a minute is left without data.
        let Some((counted, total)) = amounts.filter(|(counted, total)| {
            *counted <= MAX_MINUTE_EVENTS && *total <= MAX_MINUTE_EVENTS
        }) else {
            missing += 1;
            continue;
        };
        let counted = take(&mut carry.counted, counted);
        let total = take(&mut carry.total, total);
        if counted > 0 || total > 0 {
            out.push(MinuteCounts {
                minute,
                counted,
                total,
            });
        }
    }
    (out, missing)
}

#[cfg(test)]
mod tests;
