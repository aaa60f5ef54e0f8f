//! Silences (a person mutes matching alerts for a while) and maintenance windows (planned,
//! once or weekly in a time zone), and which of them mutes an alert at an instant.

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

use super::Labels;
use super::matcher::{Matcher, matches_all};
use crate::Span;

/// A silence: alerts matching every matcher are muted from `starts` (inclusive) to `ends`
/// (exclusive).
#[derive(Debug, Clone, PartialEq)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub starts: Timestamp,
    pub ends: Timestamp,
    pub created_by: String,
    pub comment: String,
}

impl Silence {
    /// `starts <= t < ends`.
    pub fn is_active(&self, t: Timestamp) -> bool {
        self.starts <= t && t < self.ends
    }

    /// Active at `t` and every matcher matches. A silence with no matchers mutes everything
    /// (configuration and the API should refuse to create one).
    pub fn mutes(&self, labels: &Labels, t: Timestamp) -> bool {
        self.is_active(t) && matches_all(&self.matchers, labels)
    }
}

/// Planned maintenance: alerts matching every matcher are muted while a window is open.
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceWindow {
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub when: MaintenanceWhen,
    pub comment: String,
}

/// When a maintenance window is open.
#[derive(Debug, Clone, PartialEq)]
pub enum MaintenanceWhen {
    /// From `starts` (inclusive) to `ends` (exclusive).
    Once { starts: Timestamp, ends: Timestamp },
    /// Every listed weekday at `start` (wall time in `time_zone`) for `duration` (may cross
    /// midnight; DST: a start that does not exist that day moves forward, as jiff's compatible
    /// disambiguation does).
    ///
    /// The weekday is that of the start's civil date. `duration` is exact elapsed time from the
    /// start instant (a 2h window opening at 01:00 on the spring-forward night closes at 04:00
    /// local), and a repeated wall time (fall back) starts at its first occurrence. Occurrences
    /// may overlap (a duration over a day); the window is then open through their union.
    Weekly {
        time_zone: TimeZone,
        days: Vec<Weekday>,
        start: Time,
        duration: Span,
    },
}

impl MaintenanceWindow {
    /// Whether a window is open at `t`.
    pub fn is_active(&self, t: Timestamp) -> bool {
        match &self.when {
            MaintenanceWhen::Once { starts, ends } => *starts <= t && t < *ends,
            MaintenanceWhen::Weekly { .. } => self
                .latest_start_at_or_before(t)
                .is_some_and(|start| t < self.end_of(start)),
        }
    }

    /// Open at `t` and every matcher matches.
    pub fn mutes(&self, labels: &Labels, t: Timestamp) -> bool {
        self.is_active(t) && matches_all(&self.matchers, labels)
    }

    /// The occurrence active at t, or the next one after t (start, end). None when there is no
    /// such occurrence (a past or empty `Once`, a weekly window without days or with a zero
    /// duration). When weekly occurrences overlap, the one that started last is returned.
    pub fn next_window(&self, t: Timestamp) -> Option<(Timestamp, Timestamp)> {
        match &self.when {
            MaintenanceWhen::Once { starts, ends } => {
                (t < *ends && starts < ends).then_some((*starts, *ends))
            }
            MaintenanceWhen::Weekly { days, duration, .. } => {
                if days.is_empty() || duration.is_zero() {
                    return None;
                }
                if let Some(start) = self.latest_start_at_or_before(t) {
                    let end = self.end_of(start);
                    if t < end {
                        return Some((start, end));
                    }
                }
                let start = self.earliest_start_after(t)?;
                Some((start, self.end_of(start)))
            }
        }
    }

    fn end_of(&self, start: Timestamp) -> Timestamp {
        let duration = match &self.when {
            MaintenanceWhen::Once { ends, .. } => return *ends,
            MaintenanceWhen::Weekly { duration, .. } => *duration,
        };
        start
            .checked_add(duration.to_jiff())
            .unwrap_or(Timestamp::MAX)
    }

    /// Start instants of weekly occurrences whose civil start date lies within `days_before`
    /// days before and `days_after` days after the civil date of `t` in the window's zone.
    fn weekly_starts_around(
        &self,
        t: Timestamp,
        days_before: i64,
        days_after: i64,
    ) -> Vec<Timestamp> {
        let MaintenanceWhen::Weekly {
            time_zone,
            days,
            start,
            ..
        } = &self.when
        else {
            return Vec::new();
        };
        let today = time_zone.to_datetime(t).date();
        let mut starts = Vec::new();
        for offset in -days_before..=days_after {
            let Some(date) = shift_date(today, offset) else {
                continue;
            };
            if !days.contains(&date.weekday()) {
                continue;
            }
            if let Ok(instant) = time_zone.to_timestamp(date.to_datetime(*start)) {
                starts.push(instant);
            }
        }
        starts
    }

    /// The latest weekly occurrence start at or before `t`. Looking 8 days back covers a week
    /// plus any DST or zone shift; a day ahead covers a start pushed back across midnight.
    fn latest_start_at_or_before(&self, t: Timestamp) -> Option<Timestamp> {
        self.weekly_starts_around(t, 8, 1)
            .into_iter()
            .filter(|start| *start <= t)
            .max()
    }

    fn earliest_start_after(&self, t: Timestamp) -> Option<Timestamp> {
        self.weekly_starts_around(t, 1, 8)
            .into_iter()
            .filter(|start| *start > t)
            .min()
    }
}

fn shift_date(date: Date, days: i64) -> Option<Date> {
    date.checked_add(jiff::Span::new().try_days(days).ok()?)
        .ok()
}

/// What mutes an alert.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mute<'a> {
    Silence(&'a Silence),
    Maintenance(&'a MaintenanceWindow),
}

/// What mutes these labels at `t`, if anything.
///
/// Precedence: silences before maintenance windows (a silence is a person's explicit decision
/// and names who made it). Among several silences the one that ends last wins, so the answer
/// says how long the alert stays muted; among several windows, the one whose current occurrence
/// ends last. Ties go to the one listed first.
pub fn muted_by<'a>(
    labels: &Labels,
    t: Timestamp,
    silences: &'a [Silence],
    windows: &'a [MaintenanceWindow],
) -> Option<Mute<'a>> {
    let mut best_silence: Option<&Silence> = None;
    for silence in silences.iter().filter(|silence| silence.mutes(labels, t)) {
        if best_silence.is_none_or(|best| silence.ends > best.ends) {
            best_silence = Some(silence);
        }
    }
    if let Some(silence) = best_silence {
        return Some(Mute::Silence(silence));
    }
    let mut best_window: Option<(&MaintenanceWindow, Timestamp)> = None;
    for window in windows.iter().filter(|window| window.mutes(labels, t)) {
        let Some((_, ends)) = window.next_window(t) else {
            continue;
        };
        if best_window.is_none_or(|(_, best_ends)| ends > best_ends) {
            best_window = Some((window, ends));
        }
    }
    best_window.map(|(window, _)| Mute::Maintenance(window))
}
