//! On-call schedules: layered rotations in a time zone, restrictions, overrides, the final
//! schedule they make, its gaps, and warnings about rotations that wear people out.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// A schedule: rotation layers stacked in order (the last listed wins where it has someone), and
/// overrides on top of them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub id: String,
    pub time_zone: TimeZone,
    pub layers: Vec<Layer>,
    pub overrides: Vec<Override>,
}

/// One rotation: members take turns, one shift each, in order, starting at `start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub name: String,
    /// Person ids in rotation order (at least one).
    pub members: Vec<String>,
    /// The first handoff, wall time in the schedule's time zone; its time of day is the handoff time.
    pub start: DateTime,
    pub shift: ShiftLength,
    /// Empty: on call around the clock. Otherwise on call only inside these (in the schedule's zone).
    pub restrictions: Vec<Restriction>,
}

/// Days and weeks are calendar lengths in the schedule's zone: a daily 09:00 handoff stays at
/// 09:00 across DST (that shift is 23 or 25 hours). Hours are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShiftLength {
    Hours(u32),
    Days(u32),
    Weeks(u32),
}

impl ShiftLength {
    pub fn is_zero(self) -> bool {
        matches!(
            self,
            ShiftLength::Hours(0) | ShiftLength::Days(0) | ShiftLength::Weeks(0)
        )
    }
}

/// When a restricted layer is on call, in the schedule's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Restriction {
    /// Every day from start to end (end <= start crosses midnight).
    Daily { start: Time, end: Time },
    /// From (weekday, time) to (weekday, time), e.g. Monday 09:00 to Friday 17:00.
    Weekly {
        start_day: Weekday,
        start: Time,
        end_day: Weekday,
        end: Time,
    },
}

/// Someone takes over the schedule for a while, whatever the layers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub person: String,
    pub starts: Timestamp,
    pub ends: Timestamp,
}

/// Where a piece of the final schedule comes from: a layer or an override (by index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ShiftSource {
    Layer(usize),
    Override(usize),
}

/// A piece of the final schedule: `person` is on call over [starts, ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    pub person: String,
    pub starts: Timestamp,
    pub ends: Timestamp,
    pub source: ShiftSource,
}

/// What is wrong with a schedule (see [`Schedule::problems`]). Computing with such a schedule
/// still works: a layer without members or with a zero shift length has nobody on call, and an
/// override that ends at or before it starts covers nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleProblem {
    #[error("layer {layer} ({name:?}) has no members")]
    NoMembers { layer: usize, name: String },
    #[error("layer {layer} ({name:?}) has a shift length of zero")]
    ZeroShift { layer: usize, name: String },
    #[error("override {index} of {person:?} ends at or before it starts")]
    EmptyOverride { index: usize, person: String },
}

impl Schedule {
    /// Every problem of the schedule at once (for config validation), in order.
    pub fn problems(&self) -> Vec<ScheduleProblem> {
        let mut problems = Vec::new();
        for (layer, spec) in self.layers.iter().enumerate() {
            if spec.members.is_empty() {
                problems.push(ScheduleProblem::NoMembers {
                    layer,
                    name: spec.name.clone(),
                });
            }
            if spec.shift.is_zero() {
                problems.push(ScheduleProblem::ZeroShift {
                    layer,
                    name: spec.name.clone(),
                });
            }
        }
        for (index, item) in self.overrides.iter().enumerate() {
            if item.ends <= item.starts {
                problems.push(ScheduleProblem::EmptyOverride {
                    index,
                    person: item.person.clone(),
                });
            }
        }
        problems
    }

    /// Who is on call at t: an override covering t (the last listed wins) beats the layers; of the
    /// layers, the LAST listed that has someone on call at t wins (PagerDuty's layer stacking);
    /// None when nobody is. Before a layer's start, that layer has nobody.
    ///
    /// The shift returned is the piece of the final schedule that contains t, as `shifts` would
    /// give it over a window around t, merged with its neighbours of the same person and source.
    /// It is looked for at most [`ON_CALL_LOOKAROUND_DAYS`] days either side of t: a longer piece
    /// (a layer of one person, say) is cut there.
    pub fn on_call_at(&self, t: Timestamp) -> Option<Shift> {
        let limit = SignedDuration::from_hours(ON_CALL_LOOKAROUND_DAYS * 24);
        let mut reach = SignedDuration::from_hours(48);
        loop {
            let from = t.checked_sub(reach).unwrap_or(Timestamp::MIN);
            let to = t.checked_add(reach).unwrap_or(Timestamp::MAX);
            let containing = self
                .shifts(from, to)
                .into_iter()
                .find(|shift| shift.starts <= t && t < shift.ends)?;
            let touches_edge = containing.starts == from || containing.ends == to;
            if !touches_edge || reach >= limit {
                return Some(containing);
            }
            reach = (reach * 4).min(limit);
        }
    }

    /// The final schedule over [from, to): ordered, non-overlapping, clipped to [from, to),
    /// adjacent pieces of one person from one source merged.
    pub fn shifts(&self, from: Timestamp, to: Timestamp) -> Vec<Shift> {
        if from >= to {
            return Vec::new();
        }
        // Every source's pieces over [from, to), highest priority first: overrides (the last
        // listed first), then layers (the last listed first).
        let mut sources: Vec<(ShiftSource, Vec<Piece>)> = Vec::new();
        for (index, item) in self.overrides.iter().enumerate().rev() {
            let starts = item.starts.max(from);
            let ends = item.ends.min(to);
            if starts < ends {
                sources.push((
                    ShiftSource::Override(index),
                    vec![Piece {
                        starts,
                        ends,
                        person: &item.person,
                    }],
                ));
            }
        }
        for (index, layer) in self.layers.iter().enumerate().rev() {
            let pieces = layer_pieces(layer, &self.time_zone, from, to);
            if !pieces.is_empty() {
                sources.push((ShiftSource::Layer(index), pieces));
            }
        }

        let mut edges: Vec<Timestamp> = vec![from, to];
        for (_, pieces) in &sources {
            for piece in pieces {
                edges.push(piece.starts);
                edges.push(piece.ends);
            }
        }
        edges.sort();
        edges.dedup();

        let mut cursors = vec![0usize; sources.len()];
        let mut result: Vec<Shift> = Vec::new();
        for pair in edges.windows(2) {
            let (starts, ends) = (pair[0], pair[1]);
            let mut winner: Option<(ShiftSource, &str)> = None;
            for (slot, (source, pieces)) in sources.iter().enumerate() {
                let cursor = &mut cursors[slot];
                while *cursor < pieces.len() && pieces[*cursor].ends <= starts {
                    *cursor += 1;
                }
                if let Some(piece) = pieces.get(*cursor)
                    && piece.starts <= starts
                {
                    winner = Some((*source, piece.person));
                    break;
                }
            }
            let Some((source, person)) = winner else {
                continue;
            };
            if let Some(last) = result.last_mut()
                && last.ends == starts
                && last.source == source
                && last.person == person
            {
                last.ends = ends;
                continue;
            }
            result.push(Shift {
                person: person.to_string(),
                starts,
                ends,
                source,
            });
        }
        result
    }

    /// Parts of [from, to) with nobody on call, ordered.
    pub fn gaps(&self, from: Timestamp, to: Timestamp) -> Vec<(Timestamp, Timestamp)> {
        let mut gaps = Vec::new();
        let mut covered_until = from;
        for shift in self.shifts(from, to) {
            if shift.starts > covered_until {
                gaps.push((covered_until, shift.starts));
            }
            covered_until = shift.ends;
        }
        if covered_until < to {
            gaps.push((covered_until, to));
        }
        gaps
    }

    /// Pairs of overrides (indexes) whose times overlap, each pair once as (earlier index,
    /// later index), ordered. Overrides that merely touch (one ends when the other starts) do not
    /// overlap; an override that ends at or before it starts overlaps nothing.
    pub fn overlapping_overrides(&self) -> Vec<(usize, usize)> {
        let mut pairs = Vec::new();
        for (first, a) in self.overrides.iter().enumerate() {
            for (second, b) in self.overrides.iter().enumerate().skip(first + 1) {
                if a.starts.max(b.starts) < a.ends.min(b.ends) {
                    pairs.push((first, second));
                }
            }
        }
        pairs
    }
}

/// How far either side of t [`Schedule::on_call_at`] follows a piece of the final schedule.
pub const ON_CALL_LOOKAROUND_DAYS: i64 = 366;

/// A piece of one source (a layer or an override) over a window.
#[derive(Debug, Clone, Copy)]
struct Piece<'a> {
    starts: Timestamp,
    ends: Timestamp,
    person: &'a str,
}

/// The first instant at which the wall clock in `zone` reads `wall` or later. A wall time that
/// happens twice (clocks turned back) is its first occurrence; one that does not happen (clocks
/// turned forward over it) is the instant of the change, the first valid instant after it.
/// Monotone in `wall`, so handoffs and restriction edges keep their order across changes.
fn wall_instant(zone: &TimeZone, wall: DateTime) -> Option<Timestamp> {
    let ambiguous = zone.to_ambiguous_timestamp(wall);
    match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => {
            ambiguous.earlier().ok()
        }
        AmbiguousOffset::Gap { .. } => {
            // Read with the offset after the change, the wall time lands before the change.
            let before_change = ambiguous.earlier().ok()?;
            zone.following(before_change)
                .next()
                .map(|transition| transition.timestamp())
        }
    }
}

/// A layer's rotation: shift k starts at handoff(k) and belongs to members[k mod n].
struct Rotation<'a> {
    layer: &'a Layer,
    zone: &'a TimeZone,
    first: Timestamp,
}

impl<'a> Rotation<'a> {
    fn new(layer: &'a Layer, zone: &'a TimeZone) -> Option<Rotation<'a>> {
        if layer.members.is_empty() || layer.shift.is_zero() {
            return None;
        }
        let first = wall_instant(zone, layer.start)?;
        Some(Rotation { layer, zone, first })
    }

    /// The start of shift k (k >= 0): exact hours from the first handoff, or the handoff's wall
    /// time `k * days` calendar days after the first.
    fn handoff(&self, k: i64) -> Option<Timestamp> {
        match self.layer.shift {
            ShiftLength::Hours(hours) => {
                let length = i128::from(hours) * NANOS_PER_HOUR;
                let nanos = self.first.as_nanosecond() + i128::from(k) * length;
                Timestamp::from_nanosecond(nanos).ok()
            }
            ShiftLength::Days(_) | ShiftLength::Weeks(_) => {
                let days = k.checked_mul(self.days_per_shift())?;
                let offset = jiff::Span::new().try_days(days).ok()?;
                let wall = self.layer.start.checked_add(offset).ok()?;
                wall_instant(self.zone, wall)
            }
        }
    }

    fn days_per_shift(&self) -> i64 {
        match self.layer.shift {
            ShiftLength::Hours(_) => 0,
            ShiftLength::Days(days) => i64::from(days),
            ShiftLength::Weeks(weeks) => i64::from(weeks) * 7,
        }
    }

    /// The index of the shift containing t; None before the first handoff. Computed, not
    /// counted: for calendar shifts the local date gives an estimate that is off by at most one.
    fn index_at(&self, t: Timestamp) -> Option<i64> {
        if t < self.first {
            return None;
        }
        match self.layer.shift {
            ShiftLength::Hours(hours) => {
                let length = i128::from(hours) * NANOS_PER_HOUR;
                let elapsed = t.as_nanosecond() - self.first.as_nanosecond();
                i64::try_from(elapsed / length).ok()
            }
            ShiftLength::Days(_) | ShiftLength::Weeks(_) => {
                let local_date = self.zone.to_datetime(t).date();
                let days = self.layer.start.date().until(local_date).ok()?.get_days();
                let mut k = i64::from(days).div_euclid(self.days_per_shift()).max(0);
                for _ in 0..8 {
                    if self.handoff(k)? > t {
                        k -= 1;
                    } else if self.handoff(k + 1)? <= t {
                        k += 1;
                    } else {
                        return Some(k);
                    }
                }
                None
            }
        }
    }

    fn member(&self, k: i64) -> &'a str {
        let count = self.layer.members.len() as i64;
        let slot = k.rem_euclid(count) as usize;
        self.layer.members[slot].as_str()
    }

    /// The rotation's shifts over [from, to), clipped, as (index, starts, ends).
    fn shifts(&self, from: Timestamp, to: Timestamp) -> Vec<(i64, Timestamp, Timestamp)> {
        let mut shifts = Vec::new();
        if to <= self.first {
            return shifts;
        }
        let Some(mut k) = self.index_at(from.max(self.first)) else {
            return shifts;
        };
        let Some(mut starts) = self.handoff(k) else {
            return shifts;
        };
        while starts < to {
            let Some(ends) = self.handoff(k + 1) else {
                break;
            };
            if starts < ends {
                shifts.push((k, starts.max(from), ends.min(to)));
            }
            k += 1;
            starts = ends;
        }
        shifts
    }
}

const NANOS_PER_HOUR: i128 = 3_600_000_000_000;

/// Who a layer has on call over [from, to): its rotation cut to its restrictions.
fn layer_pieces<'a>(
    layer: &'a Layer,
    zone: &'a TimeZone,
    from: Timestamp,
    to: Timestamp,
) -> Vec<Piece<'a>> {
    let Some(rotation) = Rotation::new(layer, zone) else {
        return Vec::new();
    };
    let shifts = rotation.shifts(from, to);
    let windows = restriction_windows(&layer.restrictions, zone, from, to);
    let mut pieces = Vec::new();
    let (mut shift_at, mut window_at) = (0, 0);
    while shift_at < shifts.len() && window_at < windows.len() {
        let (k, shift_starts, shift_ends) = shifts[shift_at];
        let (window_starts, window_ends) = windows[window_at];
        let starts = shift_starts.max(window_starts);
        let ends = shift_ends.min(window_ends);
        if starts < ends {
            pieces.push(Piece {
                starts,
                ends,
                person: rotation.member(k),
            });
        }
        if shift_ends <= window_ends {
            shift_at += 1;
        } else {
            window_at += 1;
        }
    }
    pieces
}

/// The times inside a layer's restrictions over [from, to): ordered, merged, clipped. No
/// restrictions: all of [from, to).
///
/// A daily restriction whose end is at or before its start ends the next day (equal: the whole
/// day). A weekly one runs from its start day and time to the first following end day and time
/// (the same day and time: the whole week). Edges are wall times in the schedule's zone, read as
/// [`wall_instant`] does.
fn restriction_windows(
    restrictions: &[Restriction],
    zone: &TimeZone,
    from: Timestamp,
    to: Timestamp,
) -> Vec<(Timestamp, Timestamp)> {
    if restrictions.is_empty() {
        return vec![(from, to)];
    }
    let first_day = zone.to_datetime(from).date();
    let last_day = zone.to_datetime(to).date();
    // A window reaches at most a week (plus a daylight-saving change) past its start day.
    let Ok(mut day) = first_day.checked_sub(jiff::Span::new().days(8)) else {
        return Vec::new();
    };
    let mut windows: Vec<(Timestamp, Timestamp)> = Vec::new();
    while day <= last_day {
        for restriction in restrictions {
            if let Some((starts, ends)) = restriction_window_on(*restriction, zone, day) {
                let starts = starts.max(from);
                let ends = ends.min(to);
                if starts < ends {
                    windows.push((starts, ends));
                }
            }
        }
        let Ok(next) = day.tomorrow() else {
            break;
        };
        day = next;
    }
    windows.sort();
    let mut merged: Vec<(Timestamp, Timestamp)> = Vec::new();
    for (starts, ends) in windows {
        match merged.last_mut() {
            Some(last) if starts <= last.1 => last.1 = last.1.max(ends),
            _ => merged.push((starts, ends)),
        }
    }
    merged
}

/// The window of `restriction` that starts on `day`, if one does.
fn restriction_window_on(
    restriction: Restriction,
    zone: &TimeZone,
    day: Date,
) -> Option<(Timestamp, Timestamp)> {
    let (start_wall, end_wall) = match restriction {
        Restriction::Daily { start, end } => {
            let end_day = if end <= start {
                day.tomorrow().ok()?
            } else {
                day
            };
            (day.to_datetime(start), end_day.to_datetime(end))
        }
        Restriction::Weekly {
            start_day,
            start,
            end_day,
            end,
        } => {
            if day.weekday() != start_day {
                return None;
            }
            let days_later = i64::from(
                (end_day.to_monday_zero_offset() - start_day.to_monday_zero_offset()).rem_euclid(7),
            );
            let start_wall = day.to_datetime(start);
            let mut end_wall = day
                .checked_add(jiff::Span::new().days(days_later))
                .ok()?
                .to_datetime(end);
            if end_wall <= start_wall {
                end_wall = end_wall.checked_add(jiff::Span::new().days(7)).ok()?;
            }
            (start_wall, end_wall)
        }
    };
    let starts = wall_instant(zone, start_wall)?;
    let ends = wall_instant(zone, end_wall)?;
    (starts < ends).then_some((starts, ends))
}

/// What `rotation_health` finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthWarning {
    /// A layer with fewer than four distinct people.
    FewMembers { layer: usize, members: usize },
    /// Someone on call more than 7 days (168 h) in some 28-day span of [from, to) (final schedule).
    TooOften {
        person: String,
        hours: i64,
        span_start: Timestamp,
    },
}

/// The length of the span `rotation_health` checks for people on call too often.
const HEALTH_SPAN_DAYS: i64 = 28;
/// On call longer than this in one span is too often.
const HEALTH_LIMIT_HOURS: i64 = 7 * 24;

/// Warnings about a schedule's rotations over [from, to): first every layer with fewer than four
/// distinct members (in layer order), then everyone on call more than 168 hours in some 28-day
/// span of the final schedule (by person id), each once, with their worst span (the earliest of
/// equals).
///
/// The 28-day span slides over shift boundaries: it is tried starting at each start and ending
/// at each end of the person's time on call (pieces from any source, joined where they touch),
/// kept inside [from, to). The most time on call any span of that length holds is always found
/// at one of those positions, so this is exact, not sampled by days. When [from, to) is shorter
/// than 28 days, it is the one span.
pub fn rotation_health(schedule: &Schedule, from: Timestamp, to: Timestamp) -> Vec<HealthWarning> {
    let mut warnings = Vec::new();
    for (layer, spec) in schedule.layers.iter().enumerate() {
        let distinct: BTreeSet<&str> = spec.members.iter().map(String::as_str).collect();
        if distinct.len() < 4 {
            warnings.push(HealthWarning::FewMembers {
                layer,
                members: distinct.len(),
            });
        }
    }
    if from >= to {
        return warnings;
    }

    let mut on_call: BTreeMap<String, Vec<(i128, i128)>> = BTreeMap::new();
    for shift in schedule.shifts(from, to) {
        let times = on_call.entry(shift.person).or_default();
        let (starts, ends) = (shift.starts.as_nanosecond(), shift.ends.as_nanosecond());
        match times.last_mut() {
            Some(last) if last.1 == starts => last.1 = ends,
            _ => times.push((starts, ends)),
        }
    }

    let (from_nanos, to_nanos) = (from.as_nanosecond(), to.as_nanosecond());
    let span = i128::from(HEALTH_SPAN_DAYS) * 24 * NANOS_PER_HOUR;
    let limit = i128::from(HEALTH_LIMIT_HOURS) * NANOS_PER_HOUR;
    let span = span.min(to_nanos - from_nanos);
    let last_start = to_nanos - span;
    for (person, times) in on_call {
        let mut prefix = Vec::with_capacity(times.len() + 1);
        prefix.push(0i128);
        for (starts, ends) in &times {
            let total = prefix.last().copied().unwrap_or(0);
            prefix.push(total + (ends - starts));
        }
        let mut candidates: Vec<i128> = times
            .iter()
            .flat_map(|(starts, ends)| [*starts, ends - span])
            .map(|start| start.clamp(from_nanos, last_start))
            .collect();
        candidates.sort();
        candidates.dedup();
        let mut worst: Option<(i128, i128)> = None;
        for span_start in candidates {
            let covered = covered_nanos(&times, &prefix, span_start, span_start + span);
            if worst.is_none_or(|(most, _)| covered > most) {
                worst = Some((covered, span_start));
            }
        }
        if let Some((covered, span_start)) = worst
            && covered > limit
        {
            let span_start = Timestamp::from_nanosecond(span_start).unwrap_or(from);
            warnings.push(HealthWarning::TooOften {
                person,
                hours: i64::try_from(covered / NANOS_PER_HOUR).unwrap_or(i64::MAX),
                span_start,
            });
        }
    }
    warnings
}

/// How much of [a, b) the ordered, disjoint `times` cover; `prefix[i]` is the length of the
/// first i of them.
fn covered_nanos(times: &[(i128, i128)], prefix: &[i128], a: i128, b: i128) -> i128 {
    let first = times.partition_point(|(_, ends)| *ends <= a);
    let past = times.partition_point(|(starts, _)| *starts < b);
    if first >= past {
        return 0;
    }
    let mut covered = prefix[past] - prefix[first];
    covered -= (a - times[first].0).max(0);
    covered -= (times[past - 1].1 - b).max(0);
    covered
}
