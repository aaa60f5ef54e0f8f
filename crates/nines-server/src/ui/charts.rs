//! SVG charts of the web UI (budget burn-down, burn rate per alert pair, golden-signal lines):
//! pure functions from data to SVG text, styled through CSS classes.
//!
//! Every chart is a `viewBox="0 0 720 240"` SVG that scales to the width of its container. Colours
//! come only from CSS classes; a small `<style>` inside the SVG gives each class a default through
//! `:where(...)`, which has no specificity, so any rule of the page's stylesheet wins over it.
//! Numbers carry at most one decimal (three in `data-min-remaining`), so the output is
//! deterministic.
//!
//! Selectors: the root `svg.chart` with `chart-burn-down` (`data-min-remaining`),
//! `chart-burn-rate` (`data-severity`, `data-over-threshold`) or `chart-line`; series `path.line`
//! with `line-long`/`line-short` or `series-0`..`series-5`; `area`, `ideal`, `zero`,
//! `threshold`, `threshold-label`, `grid`, `axis`, `tick`, `legend`, `empty` ("no data yet");
//! markers `g.marker` with `marker-alert-fired`, `marker-alert-resolved`, `marker-deploy` (a
//! `line.rule` and a wider invisible `line.hit`) or `marker-incident` (a `rect.band`), each with
//! a `<title>` tooltip.

use std::fmt::Write as _;

/// One sample of a series; a NaN value is a gap in the line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub at_ms: i64,
    pub value: f64,
}

/// What a marker on the time axis stands for; each kind has its CSS class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerKind {
    AlertFired,
    AlertResolved,
    Incident,
    Deploy,
}

/// An event on the time axis: a vertical line at `at_ms`, or for incidents a band from `at_ms` to
/// `until_ms` (to the end of the chart while open).
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub at_ms: i64,
    pub until_ms: Option<i64>,
    pub kind: MarkerKind,
    pub label: String,
}

/// A named line of points, in any order of time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub label: String,
    pub points: Vec<Point>,
}

/// The error budget left over the SLO window: values are shares of the budget (1.0 = 100 %),
/// below 0 once the budget is spent.
#[derive(Debug, Clone, PartialEq)]
pub struct BurnDown {
    pub from_ms: i64,
    pub to_ms: i64,
    pub points: Vec<Point>,
    pub markers: Vec<Marker>,
}

/// The long and short burn rates of one alert pair and the threshold both must exceed to fire.
#[derive(Debug, Clone, PartialEq)]
pub struct BurnRate {
    pub from_ms: i64,
    pub to_ms: i64,
    /// `page` or `ticket`, written to `data-severity`.
    pub severity: String,
    pub long: Series,
    pub short: Series,
    pub threshold: f64,
    pub markers: Vec<Marker>,
}

/// How the values of a line chart read on its axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Events per second: `12/s`, `1.5k/s`.
    PerSecond,
    /// A share where 1.0 is everything, shown as a percentage: 0.25 reads `25%`.
    Ratio,
    /// Durations in seconds, shown in `ms` below one second: 0.25 reads `250 ms`.
    Seconds,
    /// A value already in percent: 25.0 reads `25%`.
    Percent,
    /// A bare number: `12`, `3.4k`.
    Plain,
}

/// Several series over one time range (latency p50/p95/p99, traffic, errors, saturation).
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub unit: Unit,
    pub from_ms: i64,
    pub to_ms: i64,
    pub series: Vec<Series>,
    pub markers: Vec<Marker>,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const PLOT_LEFT: f64 = 60.0;
const PLOT_RIGHT: f64 = 700.0;
const PLOT_TOP: f64 = 24.0;
const PLOT_BOTTOM: f64 = 216.0;
/// Values beyond this magnitude (infinities included) are drawn at it.
const VALUE_LIMIT: f64 = 1e9;
/// Series colours of line charts repeat after this many series.
const SERIES_CLASSES: usize = 6;
/// Legend labels longer than this are cut, so the legend stays on one row.
const LEGEND_LABEL_CHARS: usize = 28;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Default look of every class, overridden by any rule of the page (`:where` has no specificity).
const STYLE: &str = concat!(
    ":where(.chart){font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;font-size:12px}",
    ":where(.chart text){fill:currentColor}",
    ":where(.chart .tick,.chart .legend){fill-opacity:.75}",
    ":where(.chart .grid){stroke:currentColor;stroke-opacity:.12}",
    ":where(.chart .axis){stroke:currentColor;stroke-opacity:.45}",
    ":where(.chart .zero){stroke:currentColor;stroke-opacity:.7}",
    ":where(.chart .line){fill:none;stroke:#2563eb;stroke-width:2}",
    ":where(.chart .line-short){stroke:#d97706;stroke-width:1.5}",
    ":where(.chart .series-1){stroke:#d97706}",
    ":where(.chart .series-2){stroke:#9333ea}",
    ":where(.chart .series-3){stroke:#0d9488}",
    ":where(.chart .series-4){stroke:#db2777}",
    ":where(.chart .series-5){stroke:#65a30d}",
    ":where(.chart .area){fill:#2563eb;fill-opacity:.12;stroke:none}",
    ":where(.chart .ideal){fill:none;stroke:currentColor;stroke-opacity:.4;stroke-dasharray:5 4}",
    ":where(.chart .threshold){stroke:#dc2626;stroke-width:1.5;stroke-dasharray:6 4}",
    ":where(.chart .threshold-label){fill:#dc2626}",
    ":where(.chart .marker .rule){stroke-width:1.5}",
    ":where(.chart .marker-alert-fired .rule){stroke:#dc2626}",
    ":where(.chart .marker-alert-resolved .rule){stroke:#16a34a}",
    ":where(.chart .marker-deploy .rule){stroke:#6b7280;stroke-dasharray:2 3}",
    ":where(.chart .marker-incident .band){fill:#f97316;fill-opacity:.18}",
    ":where(.chart .hit){stroke:currentColor;stroke-opacity:0;stroke-width:9;pointer-events:stroke}",
    ":where(.chart .empty){font-size:14px;fill-opacity:.6}",
    "@media (prefers-color-scheme:dark){",
    ":where(.chart .line){stroke:#60a5fa}",
    ":where(.chart .line-short){stroke:#fbbf24}",
    ":where(.chart .series-1){stroke:#fbbf24}",
    ":where(.chart .series-2){stroke:#c084fc}",
    ":where(.chart .series-3){stroke:#2dd4bf}",
    ":where(.chart .series-4){stroke:#f472b6}",
    ":where(.chart .series-5){stroke:#a3e635}",
    ":where(.chart .area){fill:#60a5fa;fill-opacity:.18}",
    ":where(.chart .threshold){stroke:#f87171}",
    ":where(.chart .threshold-label){fill:#f87171}",
    ":where(.chart .marker-alert-fired .rule){stroke:#f87171}",
    ":where(.chart .marker-alert-resolved .rule){stroke:#4ade80}",
    ":where(.chart .marker-incident .band){fill:#fb923c;fill-opacity:.22}",
    "}",
);

/// The budget burn-down: budget left over the window, an area down to the zero line, and a dashed
/// ideal line spending the whole budget evenly from 100 % at the start to 0 % at the end.
pub fn burn_down(chart: &BurnDown) -> String {
    let range = TimeRange::new(chart.from_ms, chart.to_ms);
    let points = visible_points(&chart.points, range);
    let extent = Extent::of(&points);
    let y_min = extent.map_or(0.0, |extent| extent.lowest.min(0.0));
    let y_max = extent.map_or(1.0, |extent| extent.highest.max(1.0));
    let frame = Frame::new(range, y_min, y_max);
    let axis = ValueAxis::new(AxisUnit::Share, y_min, y_max);
    let counts = MarkerCounts::of(&chart.markers, range);

    let title = "error budget burn-down".to_string();
    let mut desc = match (first_finite(&points), last_finite(&points), extent) {
        (Some(only), Some(last), Some(_)) if only.at_ms == last.at_ms => format!(
            "budget left {} at {}",
            share_text(last.value),
            utc_text(last.at_ms)
        ),
        (Some(first), Some(last), Some(extent)) => {
            let mut text = format!(
                "budget left {} between {} and {}",
                change_text(first.value, last.value, share_text),
                utc_text(first.at_ms),
                utc_text(last.at_ms)
            );
            if share_text(extent.lowest) != share_text(last.value) {
                let _ = write!(text, "; lowest {}", share_text(extent.lowest));
            }
            text
        }
        _ => format!(
            "no budget data yet between {} and {}",
            utc_text(range.from_ms),
            utc_text(range.to_ms)
        ),
    };
    desc.push_str("; ");
    desc.push_str(&counts.text());

    let mut root_attributes = String::new();
    if let Some(extent) = extent {
        let _ = write!(
            root_attributes,
            " data-min-remaining=\"{}\"",
            fixed(extent.lowest, 3)
        );
    }
    let mut svg = open_svg("chart-burn-down", &root_attributes, &title, &desc);
    draw_grid(&mut svg, &frame, &axis);
    draw_bands(&mut svg, &chart.markers, &frame);
    let segments = segments(&points, &frame);
    draw_areas(&mut svg, &segments, frame.y(0.0));
    let _ = writeln!(
        svg,
        "<line class=\"ideal\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>",
        num(PLOT_LEFT),
        num(frame.y(1.0)),
        num(PLOT_RIGHT),
        num(frame.y(0.0))
    );
    draw_horizontal(&mut svg, "zero", frame.y(0.0));
    draw_line(&mut svg, "line", &segments);
    draw_marker_lines(&mut svg, &chart.markers, &frame);
    draw_axes(&mut svg, &frame, &axis);
    draw_legend(
        &mut svg,
        &[
            LegendItem::line("line", "budget left"),
            LegendItem::line("ideal", "even spending"),
        ],
    );
    if extent.is_none() {
        draw_empty(&mut svg);
    }
    close_svg(svg)
}

/// The burn rates of one alert pair: long and short windows, the threshold line labelled with its
/// value, y from 0 to the larger of 1.5 × the threshold and the highest rate.
pub fn burn_rate(chart: &BurnRate) -> String {
    let range = TimeRange::new(chart.from_ms, chart.to_ms);
    let long = visible_points(&chart.long.points, range);
    let short = visible_points(&chart.short.points, range);
    let extent = Extent::of_all([long.as_slice(), short.as_slice()]);
    let threshold = chart
        .threshold
        .is_finite()
        .then(|| chart.threshold.clamp(-VALUE_LIMIT, VALUE_LIMIT));
    let y_min = extent.map_or(0.0, |extent| extent.lowest.min(0.0));
    let threshold_top = threshold.map_or(0.0, |threshold| threshold * 1.5);
    let highest = extent.map_or(0.0, |extent| extent.highest);
    let mut y_max = threshold_top.max(highest);
    if y_max <= y_min {
        y_max = y_min + 1.0;
    }
    let frame = Frame::new(range, y_min, y_max);
    let axis = ValueAxis::new(AxisUnit::Times, y_min, y_max);
    let counts = MarkerCounts::of(&chart.markers, range);
    let over = both_over_threshold(
        &chart.long.points,
        &chart.short.points,
        chart.threshold,
        range,
    );

    let threshold_label = threshold.map_or_else(|| "none".to_string(), times_text);
    let title = format!(
        "burn rate of the {} alert, threshold {}",
        chart.severity, threshold_label
    );
    let windows: Vec<String> = [
        (&chart.long, &long, "long"),
        (&chart.short, &short, "short"),
    ]
    .into_iter()
    .map(|(series, points, fallback)| {
        let name = series_name(&series.label, fallback);
        match Extent::of(points) {
            Some(extent) => format!(
                "{name} window {} to {}",
                times_text(extent.lowest),
                times_text(extent.highest)
            ),
            None => format!("{name} window no data yet"),
        }
    })
    .collect();
    let crossing = match (over, threshold) {
        (true, _) => format!("both windows were over the {threshold_label} threshold at once"),
        (false, Some(_)) => {
            format!("the windows were never both over the {threshold_label} threshold")
        }
        (false, None) => "no threshold".to_string(),
    };
    let desc = format!(
        "burn rate between {} and {}: {}; {crossing}; {}",
        utc_text(range.from_ms),
        utc_text(range.to_ms),
        windows.join(", "),
        counts.text()
    );

    let root_attributes = format!(
        " data-severity=\"{}\" data-over-threshold=\"{over}\"",
        escape(&chart.severity)
    );
    let mut svg = open_svg("chart-burn-rate", &root_attributes, &title, &desc);
    draw_grid(&mut svg, &frame, &axis);
    draw_bands(&mut svg, &chart.markers, &frame);
    if y_min < 0.0 {
        draw_horizontal(&mut svg, "zero", frame.y(0.0));
    }
    if let Some(threshold) = threshold.filter(|threshold| *threshold >= y_min) {
        let y = frame.y(threshold);
        draw_horizontal(&mut svg, "threshold", y);
        let _ = writeln!(
            svg,
            "<text class=\"threshold-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            num(PLOT_RIGHT - 2.0),
            num(y - 4.0),
            escape(&times_text(threshold))
        );
    }
    draw_line(&mut svg, "line line-long", &segments(&long, &frame));
    draw_line(&mut svg, "line line-short", &segments(&short, &frame));
    draw_marker_lines(&mut svg, &chart.markers, &frame);
    draw_axes(&mut svg, &frame, &axis);
    draw_legend(
        &mut svg,
        &[
            LegendItem::line("line line-long", series_name(&chart.long.label, "long")),
            LegendItem::line("line line-short", series_name(&chart.short.label, "short")),
            LegendItem::line("threshold", "threshold"),
        ],
    );
    if extent.is_none() {
        draw_empty(&mut svg);
    }
    close_svg(svg)
}

/// Several series with a legend, y from 0 (or the lowest value below it) to a round number above
/// the highest value.
pub fn line_chart(chart: &LineChart) -> String {
    let range = TimeRange::new(chart.from_ms, chart.to_ms);
    let visible: Vec<Vec<Point>> = chart
        .series
        .iter()
        .map(|series| visible_points(&series.points, range))
        .collect();
    let extent = Extent::of_all(visible.iter().map(Vec::as_slice));
    let y_min = extent.map_or(0.0, |extent| extent.lowest.min(0.0));
    let highest = extent.map_or(0.0, |extent| extent.highest);
    let axis_unit = AxisUnit::from(chart.unit);
    let y_max = round_up(axis_unit, y_min, highest.max(y_min));
    let frame = Frame::new(range, y_min, y_max);
    let axis = ValueAxis::new(axis_unit, y_min, y_max);
    let counts = MarkerCounts::of(&chart.markers, range);

    let mut parts: Vec<String> = chart
        .series
        .iter()
        .zip(&visible)
        .map(|(series, points)| {
            let name = series_name(&series.label, "unnamed series");
            match (last_finite(points), Extent::of(points)) {
                (Some(last), Some(extent)) => format!(
                    "{name} last {}, highest {}",
                    value_text(axis_unit, last.value),
                    value_text(axis_unit, extent.highest)
                ),
                _ => format!("{name} no data yet"),
            }
        })
        .collect();
    if parts.is_empty() {
        parts.push("no data yet".to_string());
    }
    let desc = format!(
        "between {} and {}: {}; {}",
        utc_text(range.from_ms),
        utc_text(range.to_ms),
        parts.join("; "),
        counts.text()
    );

    let mut svg = open_svg("chart-line", "", &chart.title, &desc);
    draw_grid(&mut svg, &frame, &axis);
    draw_bands(&mut svg, &chart.markers, &frame);
    if y_min < 0.0 {
        draw_horizontal(&mut svg, "zero", frame.y(0.0));
    }
    let mut legend = Vec::new();
    for (index, (series, points)) in chart.series.iter().zip(&visible).enumerate() {
        let class = format!("line series-{}", index % SERIES_CLASSES);
        draw_line(&mut svg, &class, &segments(points, &frame));
        legend.push(LegendItem::line(
            class,
            series_name(&series.label, "unnamed series"),
        ));
    }
    draw_marker_lines(&mut svg, &chart.markers, &frame);
    draw_axes(&mut svg, &frame, &axis);
    draw_legend(&mut svg, &legend);
    if extent.is_none() {
        draw_empty(&mut svg);
    }
    close_svg(svg)
}

/// Whether, at some time in the range, both the long and the short burn rate exceed the
/// threshold: each long point in the range is compared with the short value at or before it.
fn both_over_threshold(long: &[Point], short: &[Point], threshold: f64, range: TimeRange) -> bool {
    let mut short_sorted = short.to_vec();
    short_sorted.sort_by_key(|point| point.at_ms);
    long.iter()
        .filter(|point| range.contains(point.at_ms) && point.value > threshold)
        .any(|point| {
            let after = short_sorted.partition_point(|short| short.at_ms <= point.at_ms);
            after > 0 && short_sorted[after - 1].value > threshold
        })
}

/// The time range of a chart, never empty: a reversed range is swapped, an empty one widened to
/// an hour around its instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimeRange {
    from_ms: i64,
    to_ms: i64,
}

impl TimeRange {
    fn new(from_ms: i64, to_ms: i64) -> TimeRange {
        let (from_ms, to_ms) = (from_ms.min(to_ms), from_ms.max(to_ms));
        if from_ms < to_ms {
            return TimeRange { from_ms, to_ms };
        }
        let half_hour = 30 * MINUTE_MS;
        let from_ms = from_ms.saturating_sub(half_hour);
        TimeRange {
            from_ms,
            to_ms: from_ms.saturating_add(2 * half_hour),
        }
    }

    fn contains(self, at_ms: i64) -> bool {
        self.from_ms <= at_ms && at_ms <= self.to_ms
    }

    fn span_ms(self) -> i128 {
        i128::from(self.to_ms) - i128::from(self.from_ms)
    }
}

/// Maps times and values to coordinates of the plot area.
struct Frame {
    range: TimeRange,
    y_min: f64,
    y_max: f64,
}

impl Frame {
    fn new(range: TimeRange, y_min: f64, y_max: f64) -> Frame {
        let y_max = if y_max > y_min { y_max } else { y_min + 1.0 };
        Frame {
            range,
            y_min,
            y_max,
        }
    }

    fn x(&self, at_ms: i64) -> f64 {
        let offset = (i128::from(at_ms) - i128::from(self.range.from_ms)) as f64;
        let span = self.range.span_ms() as f64;
        PLOT_LEFT + offset / span * (PLOT_RIGHT - PLOT_LEFT)
    }

    fn y(&self, value: f64) -> f64 {
        let share = (value - self.y_min) / (self.y_max - self.y_min);
        PLOT_BOTTOM - share.clamp(0.0, 1.0) * (PLOT_BOTTOM - PLOT_TOP)
    }
}

/// The lowest and highest finite value of some points.
#[derive(Debug, Clone, Copy)]
struct Extent {
    lowest: f64,
    highest: f64,
}

impl Extent {
    fn of(points: &[Point]) -> Option<Extent> {
        Extent::of_all([points])
    }

    fn of_all<'a>(all: impl IntoIterator<Item = &'a [Point]>) -> Option<Extent> {
        let mut extent: Option<Extent> = None;
        for point in all.into_iter().flatten() {
            if !point.value.is_finite() {
                continue;
            }
            extent = Some(match extent {
                None => Extent {
                    lowest: point.value,
                    highest: point.value,
                },
                Some(extent) => Extent {
                    lowest: extent.lowest.min(point.value),
                    highest: extent.highest.max(point.value),
                },
            });
        }
        extent
    }
}

/// The points inside the range, sorted by time, with values clamped to ±`VALUE_LIMIT` (NaN kept:
/// it is a gap).
fn visible_points(points: &[Point], range: TimeRange) -> Vec<Point> {
    let mut visible: Vec<Point> = points
        .iter()
        .filter(|point| range.contains(point.at_ms))
        .map(|point| Point {
            at_ms: point.at_ms,
            value: clamp_value(point.value),
        })
        .collect();
    visible.sort_by_key(|point| point.at_ms);
    visible
}

fn clamp_value(value: f64) -> f64 {
    if value.is_nan() {
        value
    } else {
        value.clamp(-VALUE_LIMIT, VALUE_LIMIT)
    }
}

fn first_finite(points: &[Point]) -> Option<Point> {
    points.iter().copied().find(|point| point.value.is_finite())
}

fn last_finite(points: &[Point]) -> Option<Point> {
    points
        .iter()
        .copied()
        .rfind(|point| point.value.is_finite())
}

/// The runs of points between gaps, as coordinates.
fn segments(points: &[Point], frame: &Frame) -> Vec<Vec<(f64, f64)>> {
    let mut segments = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for point in points {
        if point.value.is_finite() {
            current.push((frame.x(point.at_ms), frame.y(point.value)));
        } else if !current.is_empty() {
            segments.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
}

fn draw_line(svg: &mut String, class: &str, segments: &[Vec<(f64, f64)>]) {
    if segments.is_empty() {
        return;
    }
    let mut path = String::new();
    for segment in segments {
        for (index, (x, y)) in segment.iter().enumerate() {
            let command = if index == 0 { 'M' } else { 'L' };
            let _ = write!(path, "{command}{},{}", num(*x), num(*y));
        }
        if segment.len() == 1 {
            // A lone point: a small ring around it, which the stroke width fills to a dot.
            path.push_str("m-2,0a2,2 0 1,0 4,0a2,2 0 1,0 -4,0");
        }
    }
    let _ = writeln!(
        svg,
        "<path class=\"{class}\" d=\"{path}\" fill=\"none\" stroke-linejoin=\"round\" stroke-linecap=\"round\"/>"
    );
}

/// The area between each segment and the baseline (the zero line).
fn draw_areas(svg: &mut String, segments: &[Vec<(f64, f64)>], baseline: f64) {
    let mut path = String::new();
    for segment in segments.iter().filter(|segment| segment.len() > 1) {
        let (Some(first), Some(last)) = (segment.first(), segment.last()) else {
            continue;
        };
        let _ = write!(path, "M{},{}", num(first.0), num(baseline));
        for (x, y) in segment {
            let _ = write!(path, "L{},{}", num(*x), num(*y));
        }
        let _ = write!(path, "L{},{}Z", num(last.0), num(baseline));
    }
    if !path.is_empty() {
        let _ = writeln!(svg, "<path class=\"area\" d=\"{path}\"/>");
    }
}

fn draw_horizontal(svg: &mut String, class: &str, y: f64) {
    let _ = writeln!(
        svg,
        "<line class=\"{class}\" x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/>",
        num(PLOT_LEFT),
        num(PLOT_RIGHT),
        y = num(y)
    );
}

fn draw_grid(svg: &mut String, frame: &Frame, axis: &ValueAxis) {
    svg.push_str("<g class=\"grid-lines\">\n");
    for tick in &axis.ticks {
        draw_horizontal(svg, "grid", frame.y(*tick));
    }
    svg.push_str("</g>\n");
}

/// The axis lines with their tick labels: values on the left, UTC times below.
fn draw_axes(svg: &mut String, frame: &Frame, axis: &ValueAxis) {
    svg.push_str("<g class=\"axes\">\n");
    let _ = writeln!(
        svg,
        "<line class=\"axis\" x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{bottom}\"/>\n\
         <line class=\"axis\" x1=\"{left}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\"/>",
        left = num(PLOT_LEFT),
        right = num(PLOT_RIGHT),
        top = num(PLOT_TOP),
        bottom = num(PLOT_BOTTOM)
    );
    for tick in &axis.ticks {
        let _ = writeln!(
            svg,
            "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            num(PLOT_LEFT - 6.0),
            num(frame.y(*tick) + 4.0),
            escape(&axis.label(*tick))
        );
    }
    for tick in time_ticks(frame.range) {
        let x = frame.x(tick.at_ms);
        let _ = writeln!(
            svg,
            "<line class=\"axis\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/>\
             <text class=\"tick\" x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            num(PLOT_BOTTOM),
            num(PLOT_BOTTOM + 4.0),
            num(PLOT_BOTTOM + 16.0),
            escape(&tick.label),
            x = num(x)
        );
    }
    svg.push_str("</g>\n");
}

fn draw_empty(svg: &mut String) {
    let _ = writeln!(
        svg,
        "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data yet</text>",
        num((PLOT_LEFT + PLOT_RIGHT) / 2.0),
        num((PLOT_TOP + PLOT_BOTTOM) / 2.0)
    );
}

struct LegendItem {
    class: String,
    label: String,
}

impl LegendItem {
    fn line(class: impl Into<String>, label: impl Into<String>) -> LegendItem {
        LegendItem {
            class: class.into(),
            label: label.into(),
        }
    }
}

/// One row above the plot: a short stroke in the item's classes, then its label.
fn draw_legend(svg: &mut String, items: &[LegendItem]) {
    if items.is_empty() {
        return;
    }
    svg.push_str("<g class=\"legend-items\">\n");
    let mut x = PLOT_LEFT;
    let y = PLOT_TOP - 12.0;
    for item in items {
        let label = shorten(&item.label, LEGEND_LABEL_CHARS);
        let _ = writeln!(
            svg,
            "<line class=\"{}\" x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/>\
             <text class=\"legend\" x=\"{}\" y=\"{}\">{}</text>",
            item.class,
            num(x),
            num(x + 14.0),
            num(x + 18.0),
            num(y + 4.0),
            escape(&label),
            y = num(y)
        );
        // About 6.8 units per character of a 12px sans-serif font.
        x += 18.0 + 6.8 * label.chars().count() as f64 + 16.0;
    }
    svg.push_str("</g>\n");
}

/// Incident bands, drawn behind the lines; clipped to the range, dropped when outside it.
fn draw_bands(svg: &mut String, markers: &[Marker], frame: &Frame) {
    let range = frame.range;
    for marker in markers {
        if marker.kind != MarkerKind::Incident {
            continue;
        }
        let until_ms = marker.until_ms.unwrap_or(range.to_ms).max(marker.at_ms);
        if until_ms < range.from_ms || marker.at_ms > range.to_ms {
            continue;
        }
        let start = frame.x(marker.at_ms.max(range.from_ms));
        let end = frame.x(until_ms.min(range.to_ms));
        let width = (end - start).max(2.0);
        let start = start.min(PLOT_RIGHT - width);
        let end_text = match marker.until_ms {
            Some(until_ms) => utc_text(until_ms),
            None => "ongoing".to_string(),
        };
        let _ = writeln!(
            svg,
            "<g class=\"marker marker-incident\"><title>incident: {} ({} – {})</title>\
             <rect class=\"band\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></g>",
            escape(&marker.label),
            utc_text(marker.at_ms),
            end_text,
            num(start),
            num(PLOT_TOP),
            num(width),
            num(PLOT_BOTTOM - PLOT_TOP)
        );
    }
}

/// Vertical lines of alerts and deploys, drawn over the lines; dropped when outside the range.
fn draw_marker_lines(svg: &mut String, markers: &[Marker], frame: &Frame) {
    for marker in markers {
        let Some(words) = marker_words(marker.kind) else {
            continue;
        };
        if !frame.range.contains(marker.at_ms) {
            continue;
        }
        let x = num(frame.x(marker.at_ms));
        let _ = writeln!(
            svg,
            "<g class=\"marker {}\"><title>{words}: {} at {}</title>\
             <line class=\"rule\" x1=\"{x}\" y1=\"{top}\" x2=\"{x}\" y2=\"{bottom}\"/>\
             <line class=\"hit\" x1=\"{x}\" y1=\"{top}\" x2=\"{x}\" y2=\"{bottom}\"/></g>",
            marker_class(marker.kind),
            escape(&marker.label),
            utc_text(marker.at_ms),
            top = num(PLOT_TOP),
            bottom = num(PLOT_BOTTOM)
        );
    }
}

fn marker_class(kind: MarkerKind) -> &'static str {
    match kind {
        MarkerKind::AlertFired => "marker-alert-fired",
        MarkerKind::AlertResolved => "marker-alert-resolved",
        MarkerKind::Incident => "marker-incident",
        MarkerKind::Deploy => "marker-deploy",
    }
}

/// The words of a line marker's tooltip; incidents are bands, not lines.
fn marker_words(kind: MarkerKind) -> Option<&'static str> {
    match kind {
        MarkerKind::AlertFired => Some("alert fired"),
        MarkerKind::AlertResolved => Some("alert resolved"),
        MarkerKind::Deploy => Some("deploy"),
        MarkerKind::Incident => None,
    }
}

/// How many markers of each kind the chart shows, for its description.
#[derive(Debug, Default)]
struct MarkerCounts {
    fired: usize,
    resolved: usize,
    incidents: usize,
    deploys: usize,
}

impl MarkerCounts {
    fn of(markers: &[Marker], range: TimeRange) -> MarkerCounts {
        let mut counts = MarkerCounts::default();
        for marker in markers {
            let shown = match marker.kind {
                MarkerKind::Incident => {
                    let until_ms = marker.until_ms.unwrap_or(range.to_ms).max(marker.at_ms);
                    until_ms >= range.from_ms && marker.at_ms <= range.to_ms
                }
                _ => range.contains(marker.at_ms),
            };
            if !shown {
                continue;
            }
            match marker.kind {
                MarkerKind::AlertFired => counts.fired += 1,
                MarkerKind::AlertResolved => counts.resolved += 1,
                MarkerKind::Incident => counts.incidents += 1,
                MarkerKind::Deploy => counts.deploys += 1,
            }
        }
        counts
    }

    fn text(&self) -> String {
        let mut parts = Vec::new();
        let plural = |count: usize, one: &str, many: &str| {
            format!("{count} {}", if count == 1 { one } else { many })
        };
        if self.fired > 0 {
            parts.push(plural(self.fired, "alert fired", "alerts fired"));
        }
        if self.resolved > 0 {
            parts.push(plural(self.resolved, "alert resolved", "alerts resolved"));
        }
        if self.incidents > 0 {
            parts.push(plural(self.incidents, "incident", "incidents"));
        }
        if self.deploys > 0 {
            parts.push(plural(self.deploys, "deploy", "deploys"));
        }
        if parts.is_empty() {
            "no alerts or incidents".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// How the values of an axis read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AxisUnit {
    /// A share of the error budget or of events, shown in percent.
    Share,
    Percent,
    PerSecond,
    Seconds,
    Plain,
    /// A burn rate: `14.4×`.
    Times,
}

impl From<Unit> for AxisUnit {
    fn from(unit: Unit) -> AxisUnit {
        match unit {
            Unit::PerSecond => AxisUnit::PerSecond,
            Unit::Ratio => AxisUnit::Share,
            Unit::Seconds => AxisUnit::Seconds,
            Unit::Percent => AxisUnit::Percent,
            Unit::Plain => AxisUnit::Plain,
        }
    }
}

/// A scale and suffix in which a unit reads at a given magnitude: 0.25 s reads as 250 ms.
#[derive(Debug, Clone, Copy)]
struct Reading {
    factor: f64,
    suffix: &'static str,
}

fn reading(unit: AxisUnit, magnitude: f64) -> Reading {
    let with = |factor: f64, suffix: &'static str| Reading { factor, suffix };
    match unit {
        AxisUnit::Share => with(100.0, "%"),
        AxisUnit::Percent => with(1.0, "%"),
        AxisUnit::Times => with(1.0, "×"),
        AxisUnit::Seconds if magnitude > 0.0 && magnitude < 1.0 => with(1000.0, " ms"),
        AxisUnit::Seconds => with(1.0, " s"),
        AxisUnit::PerSecond | AxisUnit::Plain => {
            let per_second = unit == AxisUnit::PerSecond;
            let (factor, suffix) = if magnitude >= 1e9 {
                (1e-9, if per_second { "G/s" } else { "G" })
            } else if magnitude >= 1e6 {
                (1e-6, if per_second { "M/s" } else { "M" })
            } else if magnitude >= 1e3 {
                (1e-3, if per_second { "k/s" } else { "k" })
            } else {
                (1.0, if per_second { "/s" } else { "" })
            };
            with(factor, suffix)
        }
    }
}

/// The value axis: round ticks between `min` and `max`, labelled in one reading.
struct ValueAxis {
    ticks: Vec<f64>,
    reading: Reading,
    decimals: usize,
}

impl ValueAxis {
    fn new(unit: AxisUnit, min: f64, max: f64) -> ValueAxis {
        let reading = reading(unit, min.abs().max(max.abs()));
        let step = axis_step(reading, min, max);
        let mut ticks = Vec::new();
        let first = (min / step).ceil();
        for index in 0..16 {
            let tick = (first + f64::from(index)) * step;
            if tick > max + step * 1e-6 {
                break;
            }
            // Floating noise such as -0.0 or 0.30000000000000004 would show in the labels.
            ticks.push(if tick.abs() < step * 1e-6 { 0.0 } else { tick });
        }
        ValueAxis {
            ticks,
            reading,
            decimals: decimals_for(step * reading.factor),
        }
    }

    fn label(&self, value: f64) -> String {
        if value == 0.0 {
            return format!("0{}", self.reading.suffix);
        }
        format!(
            "{}{}",
            fixed(value * self.reading.factor, self.decimals),
            self.reading.suffix
        )
    }
}

/// The round step (1, 2 or 5 times a power of ten) nearest to `raw`.
fn nice_step(raw: f64) -> f64 {
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let fraction = raw / power;
    let nice = if fraction < 1.5 {
        1.0
    } else if fraction < 3.0 {
        2.0
    } else if fraction < 7.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// The smallest round step (1, 2 or 5 times a power of ten) at least `raw`.
fn nice_step_at_least(raw: f64) -> f64 {
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let fraction = raw / power;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// The step between ticks of an axis from `min` to `max`: about four steps, but never less than
/// 0.1 in the axis' reading, so every label has one decimal at most.
fn axis_step(reading: Reading, min: f64, max: f64) -> f64 {
    nice_step((max - min) / 4.0).max(0.1 / reading.factor)
}

/// `value` rounded up to the next tick of its axis from `min`, so the top of the axis is labelled.
fn round_up(unit: AxisUnit, min: f64, value: f64) -> f64 {
    let reading = reading(unit, min.abs().max(value.abs()));
    let step = axis_step(reading, min, value.max(min));
    let top = (value / step).ceil() * step;
    if top > min { top } else { min + step }
}

/// No decimal for steps of whole numbers, else one (steps are at least 0.1).
fn decimals_for(step: f64) -> usize {
    let tolerance = 1e-6 * step.abs().max(1.0);
    if (step - step.round()).abs() < tolerance {
        0
    } else {
        1
    }
}

/// A value with its unit for descriptions, one decimal at most: `250 ms`, `1.5k/s`.
fn value_text(unit: AxisUnit, value: f64) -> String {
    let reading = reading(unit, value.abs());
    format!("{}{}", short_number(value * reading.factor), reading.suffix)
}

/// A share of the budget for descriptions: `98.2 %`.
fn share_text(value: f64) -> String {
    format!("{} %", fixed(value * 100.0, 1))
}

/// A burn rate: `14.4×`, `6×`.
fn times_text(value: f64) -> String {
    format!("{}×", short_number(value))
}

/// "fell from A to B", "rose from A to B" or "stayed at A", compared as written.
fn change_text(first: f64, last: f64, text: fn(f64) -> String) -> String {
    let (first_text, last_text) = (text(first), text(last));
    if first_text == last_text {
        format!("stayed at {first_text}")
    } else if last < first {
        format!("fell from {first_text} to {last_text}")
    } else {
        format!("rose from {first_text} to {last_text}")
    }
}

fn series_name(label: &str, fallback: &str) -> String {
    if label.trim().is_empty() {
        fallback.to_string()
    } else {
        label.to_string()
    }
}

fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut short: String = text.chars().take(max_chars - 1).collect();
    short.push('…');
    short
}

/// A coordinate: at most one decimal, no trailing `.0`, never `-0`.
fn num(value: f64) -> String {
    short_number(value)
}

fn short_number(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded == 0.0 || !rounded.is_finite() {
        "0".to_string()
    } else if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

/// A number with exactly `decimals` decimals, never `-0`.
fn fixed(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let is_zero = text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.');
    if is_zero {
        text.trim_start_matches('-').to_string()
    } else {
        text
    }
}

/// A time for tooltips and descriptions: `2024-03-05 14:02 UTC`.
fn utc_text(at_ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(at_ms) {
        Ok(at) => at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => format!("{at_ms} ms since 1970"),
    }
}

#[derive(Debug, Clone, PartialEq)]
struct TimeTick {
    at_ms: i64,
    label: String,
}

/// Round steps of the time axis, from which the smallest giving at most `MAX_TIME_TICKS` is used.
const TIME_STEPS_MS: [i64; 16] = [
    MINUTE_MS,
    2 * MINUTE_MS,
    5 * MINUTE_MS,
    10 * MINUTE_MS,
    15 * MINUTE_MS,
    30 * MINUTE_MS,
    HOUR_MS,
    2 * HOUR_MS,
    3 * HOUR_MS,
    6 * HOUR_MS,
    12 * HOUR_MS,
    DAY_MS,
    2 * DAY_MS,
    7 * DAY_MS,
    14 * DAY_MS,
    28 * DAY_MS,
];
const MAX_TIME_TICKS: i128 = 8;
/// Ranges shorter than this label ticks `HH:MM`, longer ones `Mon DD`.
const CLOCK_LABELS_BELOW_MS: i128 = 2 * DAY_MS as i128;
/// 1970-01-05 was a Monday: weekly ticks fall on Mondays.
const FIRST_MONDAY_MS: i128 = 4 * DAY_MS as i128;

/// Ticks of the time axis at round UTC steps: minutes and hours labelled `HH:MM` (midnight by its
/// date) under two days, days labelled `Mon DD` beyond.
fn time_ticks(range: TimeRange) -> Vec<TimeTick> {
    let span = range.span_ms();
    let clock_labels = span < CLOCK_LABELS_BELOW_MS;
    let step = TIME_STEPS_MS
        .iter()
        .map(|step| i128::from(*step))
        .filter(|step| clock_labels || *step >= i128::from(DAY_MS))
        .find(|step| span / step <= MAX_TIME_TICKS)
        .unwrap_or_else(|| {
            // Beyond the table: a round number of days.
            let days = span as f64 / DAY_MS as f64 / MAX_TIME_TICKS as f64;
            (nice_step_at_least(days).ceil() as i128).max(1) * i128::from(DAY_MS)
        });
    let origin = if step % (7 * i128::from(DAY_MS)) == 0 {
        FIRST_MONDAY_MS
    } else {
        0
    };
    let from = i128::from(range.from_ms);
    let to = i128::from(range.to_ms);
    let first = (from - origin).div_euclid(step) * step + origin;
    let first = if first < from { first + step } else { first };
    let mut ticks = Vec::new();
    let mut at = first;
    while at <= to && ticks.len() <= MAX_TIME_TICKS as usize {
        if let Ok(at_ms) = i64::try_from(at)
            && let Ok(timestamp) = jiff::Timestamp::from_millisecond(at_ms)
        {
            let at_midnight = at_ms.rem_euclid(DAY_MS) == 0;
            let format = if clock_labels && !at_midnight {
                "%H:%M"
            } else {
                "%b %d"
            };
            ticks.push(TimeTick {
                at_ms,
                label: timestamp.strftime(format).to_string(),
            });
        }
        at += step;
    }
    ticks
}

/// Text and attribute values in XML.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            // Control characters other than tab and newlines are not allowed in XML 1.0.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => escaped.push('\u{fffd}'),
            c => escaped.push(c),
        }
    }
    escaped
}

fn open_svg(kind_class: &str, root_attributes: &str, title: &str, desc: &str) -> String {
    let mut svg = String::with_capacity(8 * 1024);
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart {kind_class}\"{root_attributes} \
         viewBox=\"0 0 {} {}\" width=\"100%\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\">\
         \n<title>{}</title>\n<desc>{}</desc>\n<style>{STYLE}</style>",
        num(WIDTH),
        num(HEIGHT),
        escape(title),
        escape(desc)
    );
    svg
}

fn close_svg(mut svg: String) -> String {
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>()
            .expect("a test timestamp")
            .as_millisecond()
    }

    fn point(at_ms: i64, value: f64) -> Point {
        Point { at_ms, value }
    }

    fn marker(kind: MarkerKind, at_ms: i64, until_ms: Option<i64>, label: &str) -> Marker {
        Marker {
            at_ms,
            until_ms,
            kind,
            label: label.to_string(),
        }
    }

    /// The chart as reviewed in snapshots: the shared default style is left out (it is checked
    /// once in `every_chart_carries_its_default_style`), and the SVG is checked for well-formed
    /// tags, entities and short numbers first.
    fn view(svg: &str) -> String {
        check_well_formed(svg);
        check_numbers_are_short(svg);
        svg.replace(STYLE, "…")
    }

    /// Tags balance, every `&` starts a known entity, and nothing reads NaN or inf.
    fn check_well_formed(svg: &str) {
        let mut open: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').expect("a tag ends") + start;
            let tag = &rest[start + 1..end];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop().as_deref(), Some(name), "closing tag in {svg}");
            } else if !tag.ends_with('/') {
                let name = tag.split_whitespace().next().expect("a tag name");
                open.push(name.to_string());
            }
            rest = &rest[end + 1..];
        }
        assert!(open.is_empty(), "unclosed tags {open:?}");
        for (index, _) in svg.match_indices('&') {
            let entity = &svg[index..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                    .iter()
                    .any(|known| entity.starts_with(known)),
                "a bare & at {}",
                &svg[index..(index + 12).min(svg.len())]
            );
        }
        for word in ["NaN", "inf"] {
            assert!(!svg.contains(word), "{word} in {svg}");
        }
    }

    /// No number outside `data-min-remaining` and tick labels has more than one decimal.
    fn check_numbers_are_short(svg: &str) {
        let without_attribute = match svg.find(" data-min-remaining=\"") {
            Some(start) => {
                let value_start = start + " data-min-remaining=\"".len();
                let end = svg[value_start..].find('"').expect("attribute ends") + value_start;
                format!("{}{}", &svg[..start], &svg[end + 1..])
            }
            None => svg.to_string(),
        };
        let bytes = without_attribute.as_bytes();
        for (index, byte) in bytes.iter().enumerate() {
            if *byte == b'.'
                && index > 0
                && bytes[index - 1].is_ascii_digit()
                && bytes.get(index + 2).is_some_and(u8::is_ascii_digit)
                && bytes.get(index + 1).is_some_and(u8::is_ascii_digit)
            {
                panic!(
                    "a number with more than one decimal near {}",
                    &without_attribute[index.saturating_sub(20)..(index + 10).min(bytes.len())]
                );
            }
        }
    }

    fn root_attribute(svg: &str, name: &str) -> Option<String> {
        let root = &svg[..svg.find('>').expect("the root tag ends")];
        let start = root.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = root[start..].find('"')? + start;
        Some(root[start..end].to_string())
    }

    fn path_commands(svg: &str, class: &str) -> String {
        let start = svg
            .find(&format!("<path class=\"{class}\" d=\""))
            .expect("the path is drawn")
            + format!("<path class=\"{class}\" d=\"").len();
        let end = svg[start..].find('"').expect("the path ends") + start;
        svg[start..end]
            .chars()
            .filter(|c| c.is_ascii_alphabetic())
            .collect()
    }

    /// The demo: a 30-day window of healthy traffic spending a tenth of the budget, then two
    /// minutes of every request failing, which spends 4.6 % more.
    fn demo_burn_down() -> BurnDown {
        let to_ms = at("2024-03-05T12:00:00Z");
        let from_ms = to_ms - 30 * DAY_MS;
        let outage_ms = at("2024-03-05T10:00:00Z");
        let outage_end_ms = outage_ms + 2 * MINUTE_MS;
        let remaining = |at_ms: i64| {
            let healthy = 0.1 * (at_ms - from_ms) as f64 / (to_ms - from_ms) as f64;
            let outage = 0.046 * (at_ms.clamp(outage_ms, outage_end_ms) - outage_ms) as f64
                / (2 * MINUTE_MS) as f64;
            1.0 - healthy - outage
        };
        let mut times: Vec<i64> = (0..60).map(|step| from_ms + step * 12 * HOUR_MS).collect();
        times.extend([outage_ms, outage_ms + MINUTE_MS, outage_end_ms, to_ms]);
        BurnDown {
            from_ms,
            to_ms,
            points: times.iter().map(|t| point(*t, remaining(*t))).collect(),
            markers: vec![
                marker(MarkerKind::AlertFired, outage_ms + MINUTE_MS, None, "page"),
                marker(
                    MarkerKind::AlertResolved,
                    outage_ms + 40 * MINUTE_MS,
                    None,
                    "page",
                ),
                marker(
                    MarkerKind::Incident,
                    outage_ms + 3 * MINUTE_MS,
                    Some(outage_ms + 60 * MINUTE_MS),
                    "checkout failing",
                ),
            ],
        }
    }

    /// An outage of 20 minutes burning 50× from 02:00: the 1h window crosses 14.4× at about
    /// 02:17, the 5m window from 02:01 to 02:21. The short series is sampled a minute after the
    /// long one.
    fn page_burn_rate() -> BurnRate {
        let from_ms = at("2024-03-05T00:00:00Z");
        let to_ms = from_ms + 6 * HOUR_MS;
        let outage = (
            from_ms + 2 * HOUR_MS,
            from_ms + 2 * HOUR_MS + 20 * MINUTE_MS,
        );
        let rate = |at_ms: i64, window_ms: i64| {
            let overlap = (at_ms.min(outage.1) - (at_ms - window_ms).max(outage.0)).max(0);
            0.1 + 49.9 * overlap as f64 / window_ms as f64
        };
        let long_times = (0..=72).map(|step| from_ms + step * 5 * MINUTE_MS);
        let short_times = (0..72).map(|step| from_ms + MINUTE_MS + step * 5 * MINUTE_MS);
        BurnRate {
            from_ms,
            to_ms,
            severity: "page".to_string(),
            long: Series {
                label: "1h".to_string(),
                points: long_times.map(|t| point(t, rate(t, HOUR_MS))).collect(),
            },
            short: Series {
                label: "5m".to_string(),
                points: short_times
                    .map(|t| point(t, rate(t, 5 * MINUTE_MS)))
                    .collect(),
            },
            threshold: 14.4,
            markers: vec![
                marker(MarkerKind::Deploy, outage.0 - 5 * MINUTE_MS, None, "v2.4.1"),
                marker(
                    MarkerKind::AlertFired,
                    outage.0 + 19 * MINUTE_MS,
                    None,
                    "page",
                ),
                marker(
                    MarkerKind::AlertResolved,
                    outage.1 + 45 * MINUTE_MS,
                    None,
                    "page",
                ),
                marker(
                    MarkerKind::Incident,
                    outage.0 + 5 * MINUTE_MS,
                    Some(outage.0 + 90 * MINUTE_MS),
                    "checkout failing",
                ),
            ],
        }
    }

    /// A ticket pair (6h and 30m at 6×) during slow burning: the short window goes over the
    /// threshold for a while, the long one never does.
    fn ticket_burn_rate() -> BurnRate {
        let from_ms = at("2024-03-04T00:00:00Z");
        let to_ms = from_ms + DAY_MS;
        let times = || (0..=96).map(move |step| from_ms + step * 15 * MINUTE_MS);
        let wave = |t: i64| ((t - from_ms) as f64 / DAY_MS as f64 * std::f64::consts::TAU).sin();
        BurnRate {
            from_ms,
            to_ms,
            severity: "ticket".to_string(),
            long: Series {
                label: "6h".to_string(),
                points: times().map(|t| point(t, 2.5 + 2.0 * wave(t))).collect(),
            },
            short: Series {
                label: "30m".to_string(),
                points: times().map(|t| point(t, 3.5 + 3.5 * wave(t))).collect(),
            },
            threshold: 6.0,
            markers: vec![],
        }
    }

    /// Latency quantiles over an hour with a five-minute gap in the data.
    fn latency_chart() -> LineChart {
        let from_ms = at("2024-03-05T09:00:00Z");
        let to_ms = from_ms + HOUR_MS;
        let series = |label: &str, base: f64| Series {
            label: label.to_string(),
            points: (0..=60)
                .map(|minute| {
                    let at_ms = from_ms + minute * MINUTE_MS;
                    let value = if (20..25).contains(&minute) {
                        f64::NAN
                    } else if (40..46).contains(&minute) {
                        base * 3.0
                    } else {
                        base * (1.0 + 0.1 * ((minute % 7) as f64 / 7.0))
                    };
                    point(at_ms, value)
                })
                .collect(),
        };
        LineChart {
            title: "checkout latency".to_string(),
            unit: Unit::Seconds,
            from_ms,
            to_ms,
            series: vec![
                series("p50", 0.045),
                series("p95", 0.12),
                series("p99", 0.21),
            ],
            markers: vec![marker(
                MarkerKind::Deploy,
                from_ms + 39 * MINUTE_MS,
                None,
                "v2.4.2",
            )],
        }
    }

    #[test]
    fn burn_down_of_the_demo_outage() {
        let svg = burn_down(&demo_burn_down());
        insta::assert_snapshot!(view(&svg));
        assert_eq!(
            root_attribute(&svg, "data-min-remaining").as_deref(),
            Some("0.854")
        );
        assert_eq!(
            svg.matches("class=\"marker marker-alert-fired\"").count(),
            1
        );
        assert_eq!(
            svg.matches("class=\"marker marker-alert-resolved\"")
                .count(),
            1
        );
        assert_eq!(svg.matches("class=\"marker marker-incident\"").count(), 1);
        assert!(svg.contains("budget left fell from 100.0 % to 85.4 % between 2024-02-04 12:00 UTC and 2024-03-05 12:00 UTC"));
        assert!(svg.contains("1 alert fired, 1 alert resolved, 1 incident"));
    }

    #[test]
    fn burn_rate_of_a_page_pair_crossing_its_threshold() {
        let svg = burn_rate(&page_burn_rate());
        insta::assert_snapshot!(view(&svg));
        assert_eq!(
            root_attribute(&svg, "data-over-threshold").as_deref(),
            Some("true")
        );
        assert_eq!(
            root_attribute(&svg, "data-severity").as_deref(),
            Some("page")
        );
        assert!(svg.contains(">14.4×</text>"), "the threshold is labelled");
    }

    #[test]
    fn burn_rate_of_a_ticket_pair_not_crossing() {
        let chart = ticket_burn_rate();
        let svg = burn_rate(&chart);
        insta::assert_snapshot!(view(&svg));
        assert_eq!(
            root_attribute(&svg, "data-over-threshold").as_deref(),
            Some("false")
        );
        let short_max = chart
            .short
            .points
            .iter()
            .map(|p| p.value)
            .fold(0.0, f64::max);
        assert!(
            short_max > chart.threshold,
            "the short window alone crosses"
        );
    }

    #[test]
    fn the_burn_rate_axis_reaches_one_and_a_half_thresholds_or_the_highest_rate() {
        let mut chart = ticket_burn_rate();
        let svg = burn_rate(&chart);
        // Highest rate 7× < 1.5 × 6× = 9×: ticks of 2× up to 8×.
        assert!(svg.contains(">8×</text>") && !svg.contains(">10×</text>"));
        chart.threshold = 2.0;
        let svg = burn_rate(&chart);
        // 1.5 × 2× = 3× < highest 7×: the axis reaches 7×, ticks of 2× up to 6×.
        assert!(svg.contains(">6×</text>") && !svg.contains(">8×</text>"));
        assert_eq!(
            root_attribute(&svg, "data-over-threshold").as_deref(),
            Some("true")
        );
    }

    #[test]
    fn over_threshold_needs_both_windows_at_the_same_time() {
        let range = TimeRange::new(0, 100 * MINUTE_MS);
        let series = |values: &[(i64, f64)]| -> Vec<Point> {
            values
                .iter()
                .map(|(minute, value)| point(minute * MINUTE_MS, *value))
                .collect()
        };
        // Long over at 10 and 30, short over at 20 only: never both.
        let long = series(&[(0, 1.0), (10, 20.0), (20, 1.0), (30, 20.0)]);
        let short = series(&[(0, 1.0), (10, 1.0), (20, 20.0), (30, 1.0)]);
        assert!(!both_over_threshold(&long, &short, 14.4, range));
        // The short value at 25 holds at 30, when the long one is over.
        let short = series(&[(0, 1.0), (25, 20.0), (35, 1.0)]);
        assert!(both_over_threshold(&long, &short, 14.4, range));
        // A short value after the long point does not count for it.
        let short = series(&[(0, 1.0), (31, 20.0)]);
        assert!(!both_over_threshold(&long, &short, 14.4, range));
        // Equal to the threshold is not over it; a gap is not over it.
        let short = series(&[(0, 14.4), (30, f64::NAN)]);
        assert!(!both_over_threshold(&long, &short, 14.4, range));
        // Outside the range does not count.
        let narrow = TimeRange::new(0, 29 * MINUTE_MS);
        let short = series(&[(0, 1.0), (25, 20.0)]);
        assert!(!both_over_threshold(&long, &short, 14.4, narrow));
    }

    #[test]
    fn min_remaining_is_the_lowest_share_shown_with_three_decimals() {
        let chart = |values: &[f64]| BurnDown {
            from_ms: 0,
            to_ms: 10 * MINUTE_MS,
            points: values
                .iter()
                .enumerate()
                .map(|(minute, value)| point(minute as i64 * MINUTE_MS, *value))
                .collect(),
            markers: vec![],
        };
        let min = |values: &[f64]| root_attribute(&burn_down(&chart(values)), "data-min-remaining");
        assert_eq!(min(&[1.0, 0.99, 0.982, 0.985]).as_deref(), Some("0.982"));
        assert_eq!(min(&[1.0, f64::NAN, -0.25, 0.1]).as_deref(), Some("-0.250"));
        assert_eq!(min(&[1.0, -0.0001]).as_deref(), Some("0.000"));
        assert_eq!(min(&[]), None, "nothing shown, no lowest share");
        let mut outside = chart(&[1.0, 0.9]);
        outside.points.push(point(-MINUTE_MS, -5.0));
        outside.points.push(point(11 * MINUTE_MS, -5.0));
        assert_eq!(
            root_attribute(&burn_down(&outside), "data-min-remaining").as_deref(),
            Some("0.900")
        );
    }

    #[test]
    fn spending_more_than_the_budget_goes_below_the_zero_line() {
        let chart = BurnDown {
            from_ms: 0,
            to_ms: HOUR_MS,
            points: vec![point(0, 1.0), point(HOUR_MS, -0.5)],
            markers: vec![],
        };
        let svg = burn_down(&chart);
        assert!(svg.contains(">-50%</text>"), "the axis extends below 0 %");
        let frame = Frame::new(TimeRange::new(0, HOUR_MS), -0.5, 1.0);
        let zero = format!("class=\"zero\" x1=\"60\" y1=\"{}\"", num(frame.y(0.0)));
        assert!(svg.contains(&zero), "the zero line sits above the bottom");
        assert!(frame.y(0.0) < PLOT_BOTTOM - 1.0);
    }

    #[test]
    fn latency_with_three_series_and_a_gap() {
        let svg = line_chart(&latency_chart());
        insta::assert_snapshot!(view(&svg));
        for class in ["line series-0", "line series-1", "line series-2"] {
            // The gap starts a second run: two moves.
            let commands = path_commands(&svg, class);
            assert_eq!(commands.matches('M').count(), 2, "{class}: {commands}");
        }
        assert!(svg.contains(">600 ms</text>"), "seconds read in ms");
        assert!(svg.contains("class=\"marker marker-deploy\""));
    }

    #[test]
    fn empty_burn_down() {
        let svg = burn_down(&BurnDown {
            from_ms: at("2024-03-05T00:00:00Z"),
            to_ms: at("2024-03-05T06:00:00Z"),
            points: vec![],
            markers: vec![],
        });
        insta::assert_snapshot!(view(&svg));
        assert!(svg.contains(">no data yet</text>"));
    }

    #[test]
    fn empty_burn_rate() {
        let svg = burn_rate(&BurnRate {
            from_ms: at("2024-03-05T00:00:00Z"),
            to_ms: at("2024-03-05T06:00:00Z"),
            severity: "page".to_string(),
            long: Series::default(),
            short: Series {
                label: "5m".to_string(),
                points: vec![point(at("2024-03-05T01:00:00Z"), f64::NAN)],
            },
            threshold: 14.4,
            markers: vec![],
        });
        insta::assert_snapshot!(view(&svg));
        assert!(svg.contains(">no data yet</text>"));
        assert_eq!(
            root_attribute(&svg, "data-over-threshold").as_deref(),
            Some("false")
        );
    }

    #[test]
    fn empty_line_chart() {
        let svg = line_chart(&LineChart {
            title: "traffic".to_string(),
            unit: Unit::PerSecond,
            from_ms: at("2024-03-05T00:00:00Z"),
            to_ms: at("2024-03-05T06:00:00Z"),
            series: vec![],
            markers: vec![],
        });
        insta::assert_snapshot!(view(&svg));
        assert!(svg.contains(">no data yet</text>"));
    }

    #[test]
    fn one_point_in_an_empty_range() {
        let instant = at("2024-03-05T12:00:00Z");
        let svg = burn_down(&BurnDown {
            from_ms: instant,
            to_ms: instant,
            points: vec![point(instant, 0.97)],
            markers: vec![marker(
                MarkerKind::AlertFired,
                instant + 10 * MINUTE_MS,
                None,
                "page",
            )],
        });
        insta::assert_snapshot!(view(&svg));
        assert_eq!(path_commands(&svg, "line"), "Mmaa", "a lone point is a dot");
        assert!(svg.contains("class=\"marker marker-alert-fired\""));
    }

    #[test]
    fn degenerate_ranges_and_values_do_not_break_the_chart() {
        let wild = vec![
            point(i64::MIN, f64::INFINITY),
            point(0, f64::NEG_INFINITY),
            point(1, 1e300),
            point(2, f64::NAN),
            point(i64::MAX, -1e300),
        ];
        for (from_ms, to_ms) in [
            (i64::MIN, i64::MAX),
            (i64::MAX, i64::MIN),
            (i64::MAX, i64::MAX),
            (i64::MIN, i64::MIN),
            (10, 5),
            (0, 1),
        ] {
            let markers = vec![
                marker(MarkerKind::Incident, i64::MIN, None, "open"),
                marker(MarkerKind::Incident, 5, Some(1), "reversed"),
                marker(MarkerKind::AlertFired, 0, None, "fired"),
            ];
            let svgs = [
                burn_down(&BurnDown {
                    from_ms,
                    to_ms,
                    points: wild.clone(),
                    markers: markers.clone(),
                }),
                burn_rate(&BurnRate {
                    from_ms,
                    to_ms,
                    severity: "page".to_string(),
                    long: Series {
                        label: String::new(),
                        points: wild.clone(),
                    },
                    short: Series {
                        label: String::new(),
                        points: wild.clone(),
                    },
                    threshold: f64::INFINITY,
                    markers: markers.clone(),
                }),
                line_chart(&LineChart {
                    title: String::new(),
                    unit: Unit::Plain,
                    from_ms,
                    to_ms,
                    series: vec![Series {
                        label: String::new(),
                        points: wild.clone(),
                    }],
                    markers,
                }),
            ];
            for svg in svgs {
                view(&svg);
                assert!(svg.matches("class=\"tick\"").count() <= 16 + 9);
            }
        }
    }

    #[test]
    fn a_reversed_range_reads_as_the_same_range() {
        let mut chart = page_burn_rate();
        let forward = burn_rate(&chart);
        std::mem::swap(&mut chart.from_ms, &mut chart.to_ms);
        assert_eq!(burn_rate(&chart), forward);
    }

    #[test]
    fn markers_outside_the_range_are_dropped_and_bands_clipped() {
        let mut chart = page_burn_rate();
        let (from_ms, to_ms) = (chart.from_ms, chart.to_ms);
        chart.markers = vec![
            marker(MarkerKind::AlertFired, from_ms - 1, None, "before"),
            marker(MarkerKind::AlertResolved, to_ms + 1, None, "after"),
            marker(
                MarkerKind::Incident,
                from_ms - 2 * HOUR_MS,
                Some(from_ms - HOUR_MS),
                "old",
            ),
            marker(MarkerKind::Incident, from_ms - HOUR_MS, None, "open"),
        ];
        let svg = burn_rate(&chart);
        assert!(!svg.contains("class=\"marker marker-alert-fired\""));
        assert!(!svg.contains("class=\"marker marker-alert-resolved\""));
        assert_eq!(svg.matches("class=\"marker marker-incident\"").count(), 1);
        assert!(svg.contains("incident: open (2024-03-04 23:00 UTC – ongoing)"));
        assert!(
            svg.contains("<rect class=\"band\" x=\"60\" y=\"24\" width=\"640\" height=\"192\"/>"),
            "the open incident runs from the start of the chart to its end"
        );
    }

    #[test]
    fn labels_are_escaped() {
        let nasty = "<script>&\"'";
        let mut chart = page_burn_rate();
        chart.severity = nasty.to_string();
        chart.long.label = nasty.to_string();
        chart.markers = vec![marker(
            MarkerKind::AlertFired,
            chart.from_ms + HOUR_MS,
            None,
            nasty,
        )];
        let rate = burn_rate(&chart);
        let line = line_chart(&LineChart {
            title: nasty.to_string(),
            unit: Unit::Ratio,
            from_ms: chart.from_ms,
            to_ms: chart.to_ms,
            series: vec![Series {
                label: nasty.to_string(),
                points: vec![point(chart.from_ms, 0.5), point(chart.to_ms, 0.25)],
            }],
            markers: vec![marker(
                MarkerKind::Incident,
                chart.from_ms,
                Some(chart.from_ms + HOUR_MS),
                nasty,
            )],
        });
        let escaped = "&lt;script&gt;&amp;&quot;&#39;";
        for svg in [&rate, &line] {
            assert!(!svg.contains("<script"), "{svg}");
            assert!(svg.contains(escaped));
        }
        assert_eq!(
            root_attribute(&rate, "data-severity").as_deref(),
            Some(escaped)
        );
        insta::assert_snapshot!(view(&line));
    }

    #[test]
    fn every_chart_carries_its_default_style_and_accessible_text() {
        let charts = [
            burn_down(&demo_burn_down()),
            burn_rate(&page_burn_rate()),
            line_chart(&latency_chart()),
        ];
        for (svg, class) in charts
            .iter()
            .zip(["chart-burn-down", "chart-burn-rate", "chart-line"])
        {
            assert_eq!(
                root_attribute(svg, "class").as_deref(),
                Some(format!("chart {class}").as_str())
            );
            assert_eq!(root_attribute(svg, "role").as_deref(), Some("img"));
            assert_eq!(
                root_attribute(svg, "viewBox").as_deref(),
                Some("0 0 720 240")
            );
            assert_eq!(root_attribute(svg, "width").as_deref(), Some("100%"));
            assert!(svg.contains(&format!("<style>{STYLE}</style>")));
            assert!(svg.contains("<title>") && svg.contains("<desc>"));
        }
        // Colours live only in the style: no element carries a fill or stroke colour of its own.
        for svg in &charts {
            let body = svg.replace(STYLE, "");
            assert!(!body.contains("stroke=\"#") && !body.contains("fill=\"#"));
        }
    }

    #[test]
    fn time_ticks_fall_on_round_utc_steps() {
        let labels = |from: &str, to: &str| -> Vec<String> {
            time_ticks(TimeRange::new(at(from), at(to)))
                .into_iter()
                .map(|tick| tick.label)
                .collect()
        };
        assert_eq!(
            labels("2024-03-05T09:03:00Z", "2024-03-05T10:03:00Z"),
            ["09:10", "09:20", "09:30", "09:40", "09:50", "10:00"]
        );
        assert_eq!(
            labels("2024-03-05T00:00:00Z", "2024-03-06T00:00:00Z"),
            [
                "Mar 05", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00", "Mar 06"
            ]
        );
        // Thirty days: weekly, on Mondays.
        assert_eq!(
            labels("2024-02-04T12:00:00Z", "2024-03-05T12:00:00Z"),
            ["Feb 05", "Feb 12", "Feb 19", "Feb 26", "Mar 04"]
        );
        // Two days and more never label hours.
        assert_eq!(
            labels("2024-03-04T00:00:00Z", "2024-03-06T00:00:00Z"),
            ["Mar 04", "Mar 05", "Mar 06"]
        );
        let years = time_ticks(TimeRange::new(
            at("2000-01-01T00:00:00Z"),
            at("2024-01-01T00:00:00Z"),
        ));
        assert!((2..=9).contains(&years.len()), "{years:?}");
    }

    #[test]
    fn value_axes_read_in_their_units() {
        let labels = |unit: AxisUnit, min: f64, max: f64| -> Vec<String> {
            let axis = ValueAxis::new(unit, min, max);
            axis.ticks.iter().map(|tick| axis.label(*tick)).collect()
        };
        assert_eq!(
            labels(AxisUnit::Share, 0.0, 1.0),
            ["0%", "20%", "40%", "60%", "80%", "100%"]
        );
        assert_eq!(
            labels(AxisUnit::Times, 0.0, 21.6),
            ["0×", "5×", "10×", "15×", "20×"]
        );
        assert_eq!(
            labels(AxisUnit::Seconds, 0.0, 0.8),
            ["0 ms", "200 ms", "400 ms", "600 ms", "800 ms"]
        );
        assert_eq!(
            labels(AxisUnit::Seconds, 0.0, 4.0),
            ["0 s", "1 s", "2 s", "3 s", "4 s"]
        );
        assert_eq!(
            labels(AxisUnit::PerSecond, 0.0, 1500.0),
            ["0k/s", "0.5k/s", "1.0k/s", "1.5k/s"]
        );
        assert_eq!(labels(AxisUnit::Share, 0.0, 0.002), ["0%", "0.1%", "0.2%"]);
        assert_eq!(value_text(AxisUnit::Seconds, 0.2345), "234.5 ms");
        assert_eq!(times_text(14.4), "14.4×");
        assert_eq!(times_text(6.0), "6×");
        assert_eq!(share_text(0.98216), "98.2 %");
    }

    #[test]
    fn numbers_are_short_and_never_negative_zero() {
        assert_eq!(num(56.0), "56");
        assert_eq!(num(56.04), "56");
        assert_eq!(num(56.06), "56.1");
        assert_eq!(num(-0.04), "0");
        assert_eq!(fixed(-0.0001, 3), "0.000");
        assert_eq!(fixed(0.98249, 3), "0.982");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_input_renders_a_well_formed_chart(
            from_ms in any::<i64>(),
            to_ms in any::<i64>(),
            raw_points in proptest::collection::vec((any::<i64>(), any::<f64>()), 0..20),
            threshold in any::<f64>(),
            raw_markers in proptest::collection::vec((any::<i64>(), any::<Option<i64>>(), 0..4usize), 0..4),
        ) {
            let points: Vec<Point> = raw_points.iter().map(|(at_ms, value)| point(*at_ms, *value)).collect();
            let kinds = [MarkerKind::AlertFired, MarkerKind::AlertResolved, MarkerKind::Incident, MarkerKind::Deploy];
            let markers: Vec<Marker> = raw_markers
                .iter()
                .map(|(at_ms, until_ms, kind)| marker(kinds[*kind], *at_ms, *until_ms, "m"))
                .collect();
            let series = Series { label: "s".to_string(), points: points.clone() };
            view(&burn_down(&BurnDown { from_ms, to_ms, points: points.clone(), markers: markers.clone() }));
            view(&burn_rate(&BurnRate {
                from_ms, to_ms, severity: "page".to_string(),
                long: series.clone(), short: series.clone(), threshold, markers: markers.clone(),
            }));
            view(&line_chart(&LineChart {
                title: "t".to_string(), unit: Unit::Seconds, from_ms, to_ms,
                series: vec![series], markers,
            }));
        }
    }
}
