//! SLO windows: rolling (the last N days) or calendar (this week, month or quarter in a time
//! zone, with a configurable anchor).

use jiff::civil::{self, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

use crate::duration::Span;

/// A calendar unit for calendar-aligned windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CalendarUnit {
    Week,
    Month,
    Quarter,
}

impl CalendarUnit {
    pub fn name(self) -> &'static str {
        match self {
            CalendarUnit::Week => "week",
            CalendarUnit::Month => "month",
            CalendarUnit::Quarter => "quarter",
        }
    }

    /// The nominal length used to derive burn-rate factors (7, 30 or 90 days).
    pub fn nominal(self) -> Span {
        match self {
            CalendarUnit::Week => Span::days(7),
            CalendarUnit::Month => Span::days(30),
            CalendarUnit::Quarter => Span::days(90),
        }
    }

    /// The longest a period can last, a daylight-saving hour included.
    pub fn longest(self) -> Span {
        let days = match self {
            CalendarUnit::Week => 7,
            CalendarUnit::Month => 31,
            CalendarUnit::Quarter => 92,
        };
        Span::seconds(Span::days(days).as_secs() + 3600)
    }

    fn months(self) -> i64 {
        match self {
            CalendarUnit::Week => 0,
            CalendarUnit::Month => 1,
            CalendarUnit::Quarter => 3,
        }
    }

    fn step(self, count: i64) -> jiff::Span {
        match self {
            CalendarUnit::Week => (count * 7).days(),
            CalendarUnit::Month | CalendarUnit::Quarter => (count * self.months()).months(),
        }
    }
}

/// A calendar window: periods start at `anchor + n * unit` in civil time of `time_zone`, so a
/// month starting at midnight in Europe/Berlin starts at midnight whatever daylight saving does.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarWindow {
    pub unit: CalendarUnit,
    pub time_zone: TimeZone,
    /// A civil start of one period. Defaults: Monday 2024-01-01 00:00 for weeks, the first of a
    /// month (and January for quarters) at midnight otherwise.
    pub anchor: DateTime,
}

impl CalendarWindow {
    pub fn new(unit: CalendarUnit, time_zone: TimeZone) -> CalendarWindow {
        CalendarWindow { unit, time_zone, anchor: civil::date(2024, 1, 1).at(0, 0, 0, 0) }
    }

    pub fn with_anchor(mut self, anchor: DateTime) -> CalendarWindow {
        self.anchor = anchor;
        self
    }

    fn period_start(&self, index: i64) -> Result<Zoned, WindowError> {
        let civil_start = self
            .anchor
            .checked_add(self.unit.step(index))
            .map_err(|err| WindowError::Calendar { detail: err.to_string() })?;
        civil_start
            .to_zoned(self.time_zone.clone())
            .map_err(|err| WindowError::Calendar { detail: err.to_string() })
    }

    /// The period that contains `now`: its start and its (exclusive) end.
    pub fn period(&self, now: Timestamp) -> Result<(Timestamp, Timestamp), WindowError> {
        let local_now = now.to_zoned(self.time_zone.clone()).datetime();
        let estimate = match self.unit {
            CalendarUnit::Week => {
                let days = i64::from((local_now.date() - self.anchor.date()).get_days());
                days.div_euclid(7)
            }
            CalendarUnit::Month | CalendarUnit::Quarter => {
                let months_now = i64::from(local_now.year()) * 12 + i64::from(local_now.month());
                let months_anchor =
                    i64::from(self.anchor.year()) * 12 + i64::from(self.anchor.month());
                (months_now - months_anchor).div_euclid(self.unit.months())
            }
        };
        let mut index = estimate;
        // The estimate is off by at most one either way (anchors mid-month, DST hours).
        for _ in 0..4 {
            let start = self.period_start(index)?.timestamp();
            if start > now {
                index -= 1;
                continue;
            }
            let end = self.period_start(index + 1)?.timestamp();
            if end <= now {
                index += 1;
                continue;
            }
            return Ok((start, end));
        }
        Err(WindowError::Calendar { detail: format!("no period contains {now}") })
    }
}

/// The time over which an SLO's budget is counted.
#[derive(Debug, Clone, PartialEq)]
pub enum Window {
    /// The last `length` before now.
    Rolling(Span),
    Calendar(CalendarWindow),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WindowError {
    #[error("a rolling window must be between 1 hour and 400 days, not {length}")]
    RollingLength { length: Span },
    #[error("calendar arithmetic failed: {detail}")]
    Calendar { detail: String },
}

/// Where the window stands at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowBounds {
    /// Where counting starts.
    pub start: Timestamp,
    /// Now.
    pub now: Timestamp,
    /// When the period ends: `now` for rolling windows, the period end for calendar ones.
    pub end: Timestamp,
    /// The full length of the period (the rolling length, or this calendar period's length).
    pub period: Span,
}

impl Window {
    pub fn rolling(length: Span) -> Result<Window, WindowError> {
        if length < Span::hours(1) || length > Span::days(400) {
            return Err(WindowError::RollingLength { length });
        }
        Ok(Window::Rolling(length))
    }

    pub fn bounds(&self, now: Timestamp) -> Result<WindowBounds, WindowError> {
        match self {
            Window::Rolling(length) => {
                let start = now
                    .checked_sub(length.to_jiff())
                    .map_err(|err| WindowError::Calendar { detail: err.to_string() })?;
                Ok(WindowBounds { start, now, end: now, period: *length })
            }
            Window::Calendar(calendar) => {
                let (start, end) = calendar.period(now)?;
                let period = Span::seconds(end.as_second() - start.as_second());
                Ok(WindowBounds { start, now, end, period })
            }
        }
    }

    /// The period length burn-rate factors are derived from.
    pub fn nominal_period(&self) -> Span {
        match self {
            Window::Rolling(length) => *length,
            Window::Calendar(calendar) => calendar.unit.nominal(),
        }
    }

    /// The longest history the window can need.
    pub fn longest(&self) -> Span {
        match self {
            Window::Rolling(length) => *length,
            Window::Calendar(calendar) => calendar.unit.longest(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Window::Rolling(length) => format!("rolling {length}"),
            Window::Calendar(calendar) => {
                format!("calendar {} in {}", calendar.unit.name(), time_zone_name(&calendar.time_zone))
            }
        }
    }
}

pub fn time_zone_name(zone: &TimeZone) -> String {
    zone.iana_name().map(str::to_string).unwrap_or_else(|| "UTC".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn calendar_month_follows_civil_midnight_across_dst() {
        let zone = TimeZone::get("Europe/Berlin").unwrap();
        let window = Window::Calendar(CalendarWindow::new(CalendarUnit::Month, zone));
        // 2026-03-29 is the DST switch in Berlin: March has 31 days minus one hour.
        let bounds = window.bounds(ts("2026-03-15T12:00:00Z")).unwrap();
        assert_eq!(bounds.start, ts("2026-02-28T23:00:00Z"));
        assert_eq!(bounds.end, ts("2026-03-31T22:00:00Z"));
        assert_eq!(bounds.period.as_secs(), 31 * 86_400 - 3600);
    }

    #[test]
    fn calendar_week_starts_monday_and_quarter_in_january() {
        let zone = TimeZone::get("America/New_York").unwrap();
        let week = Window::Calendar(CalendarWindow::new(CalendarUnit::Week, zone.clone()));
        let bounds = week.bounds(ts("2026-11-25T15:00:00Z")).unwrap(); // a Wednesday
        assert_eq!(bounds.start, ts("2026-11-23T05:00:00Z"));
        assert_eq!(bounds.end, ts("2026-11-30T05:00:00Z"));
        let quarter = Window::Calendar(CalendarWindow::new(CalendarUnit::Quarter, zone));
        let bounds = quarter.bounds(ts("2026-11-25T15:00:00Z")).unwrap();
        assert_eq!(bounds.start, ts("2026-10-01T04:00:00Z"));
        assert_eq!(bounds.end, ts("2027-01-01T05:00:00Z"));
    }

    #[test]
    fn period_edges_belong_to_the_new_period() {
        let window = Window::Calendar(CalendarWindow::new(CalendarUnit::Month, TimeZone::UTC));
        let bounds = window.bounds(ts("2026-12-01T00:00:00Z")).unwrap();
        assert_eq!(bounds.start, ts("2026-12-01T00:00:00Z"));
        let before = window.bounds(ts("2026-11-30T23:59:59Z")).unwrap();
        assert_eq!(before.end, ts("2026-12-01T00:00:00Z"));
    }

    #[test]
    fn rolling_length_is_checked() {
        assert!(Window::rolling(Span::minutes(5)).is_err());
        assert!(Window::rolling(Span::days(30)).is_ok());
    }
}
