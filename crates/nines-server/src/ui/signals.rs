//! The four golden signals of a service for its SLO pages: traffic and bad share of each of
//! its SLOs from nines' own counts, and what the service's `signals:` asks of a Prometheus
//! source (traffic, errors, latency p50/p95/p99, saturation). A failing or slow source leaves a
//! problem line for the page, never a failed page.
//!
//! Every series of one call stands on the same times (a [`Grid`]): multiples of a step chosen
//! so that the range shows 120 to 240 points (fewer for ranges under two hours, which step by
//! one minute). A point covers the step that ends at it; NaN is a gap (no data).

use std::time::Duration;

use jiff::Timestamp;
use nines_core::{CountKind, Counts};
use nines_spec::{ServiceSignals, Sli, SloDef};
use nines_store::CountRow;

use crate::pull::{PrometheusClient, Series as PromSeries};
use crate::server::AppState;

/// Longest wait for one Prometheus query of a page: a slow source costs the page this much.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(4);

/// Most points of a series (one more when the range is a whole number of steps).
pub const MAX_POINTS: i64 = 240;

/// The steps a chart takes, each at most twice the one before: the smallest that gives at most
/// [`MAX_POINTS`] points gives more than half that many.
const STEPS_SECONDS: [i64; 14] = [
    60, 120, 180, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800,
];

/// The quantiles of the latency signal, with their labels.
const QUANTILES: [(f64, &str); 3] = [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")];

/// Where the native signals come from, as `Signal::origin` says it.
pub const NINES_ORIGIN: &str = "nines counts";

/// One chart's worth of one signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// `traffic`, `errors`, `latency` or `saturation`.
    pub name: &'static str,
    /// `per_second` (traffic), `ratio` (errors, saturation) or `seconds` (latency).
    pub unit: &'static str,
    /// `nines counts`, or `prometheus <source id>`.
    pub origin: String,
    /// (label, points as (unix milliseconds, value)); NaN is a gap.
    pub series: Vec<(String, Vec<(i64, f64)>)>,
}

/// What a page shows of a service's golden signals: traffic, errors, latency and saturation in
/// this order, nines' own before Prometheus' of the same name; and what went wrong getting them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GoldenSignals {
    pub signals: Vec<Signal>,
    /// One line per failure, such as `latency: prometheus prom: HTTP 503 from ...`.
    pub problems: Vec<String>,
}

/// The times the points of a chart stand at: `first`, `first + step`, ... `last` (unix
/// seconds, multiples of `step`), each point covering the step before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    pub first: i64,
    pub last: i64,
    pub step: i64,
}

impl Grid {
    /// The grid over `from..=to` (unix seconds): every step that ends in `(from, to]`. `None`
    /// when not one whole step fits.
    pub fn over(from: i64, to: i64) -> Option<Grid> {
        if to <= from {
            return None;
        }
        let range = to - from;
        let step = STEPS_SECONDS
            .iter()
            .copied()
            .find(|step| range / step <= MAX_POINTS)
            .unwrap_or(STEPS_SECONDS[STEPS_SECONDS.len() - 1]);
        let first = (from.div_euclid(step) + 1) * step;
        let last = to.div_euclid(step) * step;
        (first <= last).then_some(Grid { first, last, step })
    }

    pub fn len(&self) -> usize {
        ((self.last - self.first) / self.step + 1) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The time of every point, in unix seconds.
    pub fn times(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len() as i64).map(|index| self.first + index * self.step)
    }

    /// The first minute a point covers (that of the step ending at `first`).
    fn start_minute(&self) -> i64 {
        (self.first - self.step) / 60
    }
}

/// Traffic and bad share of one SLO at each point of a grid, from its count rows.
#[derive(Debug, Clone, PartialEq)]
pub struct CountSeries {
    /// Events per second; NaN before the SLO's first row in the range.
    pub traffic: Vec<(i64, f64)>,
    /// Bad events over all events; NaN where a step saw no events.
    pub errors: Vec<(i64, f64)>,
}

/// Traffic and bad share of one SLO over `grid`, from its count rows of any bucket size (rows
/// older than a few hours are ten-minute rows): a row is spread evenly over its minutes, and its
/// bad events are the core's (`CountKind::bad_and_total`: for a `good` count, total minus
/// counted). `None` when no row falls in the grid.
pub fn count_series(rows: &[CountRow], kind: CountKind, grid: &Grid) -> Option<CountSeries> {
    let step_minutes = grid.step / 60;
    let start_minute = grid.start_minute();
    let end_minute = grid.last / 60;
    let n_points = grid.len();
    let mut bad = vec![0.0_f64; n_points];
    let mut total = vec![0.0_f64; n_points];
    let mut first_minute: Option<i64> = None;
    for row in rows {
        let bucket_minutes = row.bucket_minutes.max(1);
        let from = row.minute.max(start_minute);
        let to = row.minute.saturating_add(bucket_minutes).min(end_minute);
        if from >= to {
            continue;
        }
        first_minute = Some(first_minute.map_or(from, |first| first.min(from)));
        let counts = Counts::new(
            u64::try_from(row.counted).unwrap_or(0),
            u64::try_from(row.total).unwrap_or(0),
        );
        let (row_bad, row_total) = kind.bad_and_total(counts);
        let bad_per_minute = row_bad as f64 / bucket_minutes as f64;
        let total_per_minute = row_total as f64 / bucket_minutes as f64;
        let mut minute = from;
        while minute < to {
            let index = (minute - start_minute) / step_minutes;
            let step_end = (start_minute + (index + 1) * step_minutes).min(to);
            let minutes = (step_end - minute) as f64;
            bad[index as usize] += bad_per_minute * minutes;
            total[index as usize] += total_per_minute * minutes;
            minute = step_end;
        }
    }
    let first_minute = first_minute?;
    let mut series = CountSeries {
        traffic: Vec::with_capacity(n_points),
        errors: Vec::with_capacity(n_points),
    };
    for (index, at) in grid.times().enumerate() {
        let at_ms = at * 1000;
        // A step that ends by the first row had no data yet (the SLO is newer, or its older
        // rows are gone), which is not the same as no events.
        if at / 60 <= first_minute {
            series.traffic.push((at_ms, f64::NAN));
            series.errors.push((at_ms, f64::NAN));
            continue;
        }
        series
            .traffic
            .push((at_ms, total[index] / grid.step as f64));
        let share = if total[index] > 0.0 {
            bad[index] / total[index]
        } else {
            f64::NAN
        };
        series.errors.push((at_ms, share));
    }
    Some(series)
}

/// Whether an SLO's counts are events of the service: an error ratio (Sloth `raw`) counts 1,000
/// made-up events a minute and a threshold one, which say nothing of its traffic.
fn counts_real_events(def: &SloDef) -> bool {
    !matches!(def.sli, Sli::RawErrorRatio { .. } | Sli::Threshold { .. })
}

/// The PromQL nines sends for quantile `q` of a histogram's `_bucket` selector.
pub fn latency_query(bucket_selector: &str, quantile: f64) -> String {
    format!("histogram_quantile({quantile}, sum by (le) (rate({bucket_selector}[5m])))")
}

/// The golden signals of `service` from `from` to `to` (the page's range, chosen by the server).
pub async fn golden_signals(
    state: &AppState,
    service: &str,
    from: Timestamp,
    to: Timestamp,
) -> GoldenSignals {
    let Some(grid) = Grid::over(from.as_second(), to.as_second()) else {
        return GoldenSignals {
            signals: Vec::new(),
            problems: vec![format!(
                "no signals between {from} and {to}: the range is shorter than a minute"
            )],
        };
    };
    let slos: Vec<&SloDef> = state
        .catalog
        .slos
        .iter()
        .filter(|def| def.service == service)
        .collect();
    let signals = state
        .catalog
        .service(service)
        .and_then(|entry| entry.signals.as_ref());
    let (native, prometheus) = tokio::join!(
        native_signals(state, &slos, &grid),
        prometheus_signals(state, signals, &grid),
    );
    let mut out = GoldenSignals::default();
    for (signals, problems) in [native, prometheus] {
        out.signals.extend(signals);
        out.problems.extend(problems);
    }
    let rank = |name: &str| {
        ["traffic", "errors", "latency", "saturation"]
            .iter()
            .position(|known| *known == name)
            .unwrap_or(usize::MAX)
    };
    // Stable: nines' own signal stays before Prometheus' of the same name.
    out.signals.sort_by_key(|signal| rank(signal.name));
    out
}

/// Traffic and errors from the counts of `slos`, one series per SLO (labelled by its id); a
/// signal no SLO has data for is left out.
async fn native_signals(
    state: &AppState,
    slos: &[&SloDef],
    grid: &Grid,
) -> (Vec<Signal>, Vec<String>) {
    let mut traffic = Vec::new();
    let mut errors = Vec::new();
    let mut problems = Vec::new();
    // An hour before the first step: a row of up to an hour that began earlier is in.
    let since_minute = grid.start_minute() - 60;
    for def in slos {
        let id = def.id.as_str();
        let rows = match state.store.counts_since(Some(id), since_minute).await {
            Ok(rows) => rows,
            Err(err) => {
                problems.push(format!(
                    "traffic and errors: cannot read the counts of SLO {id}: {err}"
                ));
                continue;
            }
        };
        let Some(series) = count_series(&rows, def.spec.count_kind, grid) else {
            continue;
        };
        if counts_real_events(def) {
            traffic.push((id.to_string(), series.traffic));
        }
        errors.push((id.to_string(), series.errors));
    }
    let mut signals = Vec::new();
    for (name, unit, series) in [
        ("traffic", "per_second", traffic),
        ("errors", "ratio", errors),
    ] {
        if !series.is_empty() {
            signals.push(Signal {
                name,
                unit,
                origin: NINES_ORIGIN.to_string(),
                series,
            });
        }
    }
    (signals, problems)
}

/// What the service's `signals:` asks of its source, every query at once, each bounded by
/// [`QUERY_TIMEOUT`].
async fn prometheus_signals(
    state: &AppState,
    signals: Option<&ServiceSignals>,
    grid: &Grid,
) -> (Vec<Signal>, Vec<String>) {
    let Some(signals) = signals else {
        return (Vec::new(), Vec::new());
    };
    let origin = format!("prometheus {}", signals.source);
    let Some(client) = state
        .pulls
        .sources
        .iter()
        .find(|source| source.id == signals.source)
        .map(|source| &source.client)
    else {
        return (
            Vec::new(),
            vec![format!("signals: {origin} is not a source of this server")],
        );
    };
    let latency: Vec<Option<String>> = QUANTILES
        .iter()
        .map(|(quantile, _)| {
            signals
                .latency
                .as_deref()
                .map(|selector| latency_query(selector, *quantile))
        })
        .collect();
    let maybe_ask = |query: Option<&str>| {
        let query = query.map(str::to_string);
        async move {
            match query {
                Some(query) => Some(ask(client, &query, grid).await),
                None => None,
            }
        }
    };
    let (traffic, errors, p50, p95, p99, saturation) = tokio::join!(
        maybe_ask(signals.traffic.as_deref()),
        maybe_ask(signals.errors.as_deref()),
        maybe_ask(latency[0].as_deref()),
        maybe_ask(latency[1].as_deref()),
        maybe_ask(latency[2].as_deref()),
        maybe_ask(signals.saturation.as_deref()),
    );
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut signal = |name: &'static str, unit: &'static str, series: Vec<_>| {
        if !series.is_empty() {
            out.push(Signal {
                name,
                unit,
                origin: origin.clone(),
                series,
            });
        }
    };
    for (name, unit, answer) in [
        ("traffic", "per_second", traffic),
        ("errors", "ratio", errors),
    ] {
        match answer {
            None => {}
            Some(Err(message)) => problems.push(format!("{name}: {origin}: {message}")),
            Some(Ok(answer)) if answer.is_empty() => {
                problems.push(format!("{name}: {origin}: no series in the answer"));
            }
            Some(Ok(answer)) => signal(name, unit, labelled(name, answer, grid)),
        }
    }
    // One signal of three quantiles; a failure told once however many quantiles it hit.
    let mut latency_series = Vec::new();
    let mut latency_messages: Vec<String> = Vec::new();
    for ((_, label), answer) in QUANTILES.iter().zip([p50, p95, p99]) {
        let message = match answer {
            None => continue,
            Some(Ok(answer)) if answer.is_empty() => "no series in the answer".to_string(),
            Some(Ok(answer)) => {
                latency_series.extend(labelled(label, answer, grid));
                continue;
            }
            Some(Err(message)) => message,
        };
        if !latency_messages.contains(&message) {
            latency_messages.push(message);
        }
    }
    for message in latency_messages {
        problems.push(format!("latency: {origin}: {message}"));
    }
    signal("latency", "seconds", latency_series);
    match saturation {
        None => {}
        Some(Err(message)) => problems.push(format!("saturation: {origin}: {message}")),
        Some(Ok(answer)) if answer.is_empty() => {
            problems.push(format!("saturation: {origin}: no series in the answer"));
        }
        Some(Ok(answer)) => signal("saturation", "ratio", labelled("saturation", answer, grid)),
    }
    (out, problems)
}

/// One range query over `grid`, bounded by [`QUERY_TIMEOUT`]; the failure as a message.
async fn ask(
    client: &PrometheusClient,
    query: &str,
    grid: &Grid,
) -> Result<Vec<PromSeries>, String> {
    let query = client.query_range(query, grid.first, grid.last, grid.step);
    match tokio::time::timeout(QUERY_TIMEOUT, query).await {
        Ok(Ok(series)) => Ok(series),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!(
            "no answer from {} within {} s",
            client.url(),
            QUERY_TIMEOUT.as_secs()
        )),
    }
}

/// The series of an answer on the grid's times (NaN where a point is missing or not finite),
/// each labelled `base` when the answer holds one series without labels, else by its labels
/// (after `base` for latency's quantiles).
fn labelled(base: &str, answer: Vec<PromSeries>, grid: &Grid) -> Vec<(String, Vec<(i64, f64)>)> {
    let single = answer.len() == 1 && answer[0].labels.is_empty();
    answer
        .into_iter()
        .map(|series| {
            let label = match (single, base) {
                (true, _) => base.to_string(),
                (false, "p50" | "p95" | "p99") => format!("{base} {}", series.describe()),
                (false, _) => series.describe(),
            };
            (label, on_grid(&series.points, grid))
        })
        .collect()
}

/// Points (unix seconds, value) at every time of the grid, NaN where there is none or it is
/// not a finite number (a quantile past the last bucket is +Inf).
pub fn on_grid(points: &[(i64, f64)], grid: &Grid) -> Vec<(i64, f64)> {
    let mut values = vec![f64::NAN; grid.len()];
    for &(at, value) in points {
        if at < grid.first || at > grid.last || (at - grid.first) % grid.step != 0 {
            continue;
        }
        if value.is_finite() {
            values[((at - grid.first) / grid.step) as usize] = value;
        }
    }
    grid.times()
        .zip(values)
        .map(|(at, value)| (at * 1000, value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(minute: i64, bucket_minutes: i64, counted: i64, total: i64) -> CountRow {
        CountRow {
            slo_id: "api".to_string(),
            minute,
            bucket_minutes,
            counted,
            total,
        }
    }

    /// Values of points, NaN written as `None` so that they compare.
    fn values(points: &[(i64, f64)]) -> Vec<Option<f64>> {
        points
            .iter()
            .map(|(_, value)| (!value.is_nan()).then_some(*value))
            .collect()
    }

    fn close(got: &[Option<f64>], want: &[Option<f64>]) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (got_value, want_value) in got.iter().zip(want) {
            match (got_value, want_value) {
                (Some(got_value), Some(want_value)) => {
                    assert!((got_value - want_value).abs() < 1e-9, "{got:?} vs {want:?}")
                }
                (None, None) => {}
                _ => panic!("{got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn grids_have_120_to_240_points_for_ranges_of_two_hours_and_more() {
        let day = 86_400;
        for range in [
            2 * 3600,
            3 * 3600,
            6 * 3600,
            8 * 3600 + 1,
            day,
            2 * day,
            7 * day,
            28 * day,
            30 * day,
            90 * day,
            400 * day,
        ] {
            let from = 1_700_000_123;
            let grid = Grid::over(from, from + range).unwrap();
            let n = grid.len() as i64;
            assert!(
                (119..=241).contains(&n),
                "range {range}: {n} points ({grid:?})"
            );
            assert_eq!(grid.first % grid.step, 0);
            assert!(grid.first > from && grid.last <= from + range);
            assert_eq!(grid.step % 60, 0);
        }
        let hour = Grid::over(0, 3600).unwrap();
        assert_eq!((hour.step, hour.len()), (60, 60));
        assert_eq!(Grid::over(100, 100), None);
        assert_eq!(Grid::over(100, 50), None);
        assert_eq!(Grid::over(61, 110), None);
    }

    #[test]
    fn a_bad_count_is_the_bad_share_and_traffic_is_events_per_second() {
        // Ten minutes stepped by the minute: minutes 0..10 end at 60..=600 s.
        let grid = Grid::over(0, 600).unwrap();
        assert_eq!((grid.first, grid.last, grid.step), (60, 600, 60));
        let rows = [row(0, 1, 3, 60), row(1, 1, 0, 120), row(4, 1, 30, 30)];
        let series = count_series(&rows, CountKind::Bad, &grid).unwrap();
        let mut traffic = vec![Some(1.0), Some(2.0), Some(0.0), Some(0.0), Some(0.5)];
        traffic.extend([Some(0.0); 5]);
        close(&values(&series.traffic), &traffic);
        let mut errors = vec![Some(0.05), Some(0.0), None, None, Some(1.0)];
        errors.extend([None; 5]);
        close(&values(&series.errors), &errors);
        assert_eq!(series.traffic[0].0, 60_000);
        assert_eq!(series.errors[9].0, 600_000);
    }

    #[test]
    fn a_good_count_is_subtracted_from_the_total() {
        let grid = Grid::over(0, 180).unwrap();
        // 57 good of 60; 120 good of 120; more good than total counts no bad (and no less).
        let rows = [row(0, 1, 57, 60), row(1, 1, 120, 120), row(2, 1, 70, 60)];
        let series = count_series(&rows, CountKind::Good, &grid).unwrap();
        close(&values(&series.errors), &[Some(0.05), Some(0.0), Some(0.0)]);
        close(&values(&series.traffic), &[Some(1.0), Some(2.0), Some(1.0)]);
        // The same rows read as bad counts are another story.
        let as_bad = count_series(&rows, CountKind::Bad, &grid).unwrap();
        close(&values(&as_bad.errors), &[Some(0.95), Some(1.0), Some(1.0)]);
    }

    #[test]
    fn ten_minute_rows_are_spread_over_their_minutes() {
        // Twenty hours step by five minutes: a ten-minute row covers two points, a five-minute
        // step at the edge of the range half of one.
        let from = 0;
        let to = 20 * 3600;
        let grid = Grid::over(from, to).unwrap();
        assert_eq!(grid.step, 300);
        let rows = [
            // Minutes 0..10: 600 events, 60 of them good.
            row(0, 10, 60, 600),
            // Minutes 10..20 in one-minute rows, 30 events each, all good.
            row(10, 1, 30, 30),
            row(19, 1, 30, 30),
        ];
        let series = count_series(&rows, CountKind::Good, &grid).unwrap();
        let traffic = values(&series.traffic);
        close(&traffic[..4], &[Some(1.0), Some(1.0), Some(0.1), Some(0.1)]);
        let errors = values(&series.errors);
        close(&errors[..4], &[Some(0.9), Some(0.9), Some(0.0), Some(0.0)]);
        // The grid starts at the first step, minute 0..5.
        assert_eq!(series.traffic[0].0, 300_000);
        assert_eq!(traffic.len(), 240);
        // A ten-minute row across the start of the range counts only its minutes inside.
        let later = Grid::over(4 * 60, 4 * 60 + 2 * 3600).unwrap();
        assert_eq!(later.step, 60);
        let series = count_series(&[row(0, 10, 0, 600)], CountKind::Good, &later).unwrap();
        let traffic = values(&series.traffic);
        // The first point (300 s) covers minute 4: the row's minutes 4 to 9 are in, 0 to 3 not.
        assert_eq!(series.traffic[0].0, 300_000);
        close(
            &traffic[..7],
            &[
                Some(1.0),
                Some(1.0),
                Some(1.0),
                Some(1.0),
                Some(1.0),
                Some(1.0),
                Some(0.0),
            ],
        );
    }

    #[test]
    fn steps_before_the_first_row_have_no_data_and_empty_data_gives_none() {
        let grid = Grid::over(0, 600).unwrap();
        let series = count_series(&[row(5, 1, 1, 10)], CountKind::Bad, &grid).unwrap();
        let traffic = values(&series.traffic);
        assert_eq!(&traffic[..5], &[None; 5]);
        close(&traffic[5..7], &[Some(10.0 / 60.0), Some(0.0)]);
        assert_eq!(count_series(&[], CountKind::Good, &grid), None);
        // Rows outside the grid are not data of it.
        let outside = [row(-30, 10, 1, 10), row(10, 1, 1, 10), row(500, 10, 1, 1)];
        assert_eq!(count_series(&outside, CountKind::Good, &grid), None);
    }

    #[test]
    fn latency_queries_are_valid_promql() {
        for (quantile, _) in QUANTILES {
            let query = latency_query("http_request_duration_seconds_bucket{job=\"a\"}", quantile);
            assert!(promql_parser::parser::parse(&query).is_ok(), "{query}");
        }
        assert_eq!(
            latency_query("x_bucket", 0.95),
            "histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m])))"
        );
    }

    #[test]
    fn answers_are_placed_on_the_grid_with_gaps() {
        let grid = Grid::over(0, 300).unwrap();
        let points = [
            (60, 1.0),
            (180, f64::INFINITY),
            (240, 4.0),
            (250, 9.0),
            (900, 9.0),
        ];
        let placed = on_grid(&points, &grid);
        assert_eq!(
            placed.iter().map(|(at, _)| *at).collect::<Vec<_>>(),
            [60_000, 120_000, 180_000, 240_000, 300_000]
        );
        assert_eq!(values(&placed), [Some(1.0), None, None, Some(4.0), None]);
    }
}
