//! Whole-second durations with the compact text form the SRE tools share (`5m`, `1h`, `30d`, `1w`).

use std::fmt;
use std::str::FromStr;

/// A non-negative length of time in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    #[error("empty duration")]
    Empty,
    #[error("invalid duration {text:?}: expected a number followed by a unit (s, m, h, d, w), for example 5m or 30d")]
    Invalid { text: String },
    #[error("duration {text:?} is too long")]
    TooLong { text: String },
}

impl Span {
    pub const ZERO: Span = Span { seconds: 0 };

    pub const fn seconds(seconds: i64) -> Span {
        Span { seconds }
    }
    pub const fn minutes(minutes: i64) -> Span {
        Span { seconds: minutes * 60 }
    }
    pub const fn hours(hours: i64) -> Span {
        Span { seconds: hours * 3600 }
    }
    pub const fn days(days: i64) -> Span {
        Span { seconds: days * 86_400 }
    }

    pub const fn as_secs(self) -> i64 {
        self.seconds
    }
    pub fn as_secs_f64(self) -> f64 {
        self.seconds as f64
    }
    /// Whole minutes, rounded down.
    pub const fn whole_minutes(self) -> i64 {
        self.seconds / 60
    }
    pub const fn is_zero(self) -> bool {
        self.seconds == 0
    }

    pub fn to_jiff(self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs(self.seconds)
    }

    /// Parses Prometheus-style compound durations: `90s`, `1h30m`, `28d`, `1w`, `1y` (365d).
    pub fn parse(text: &str) -> Result<Span, SpanError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(SpanError::Empty);
        }
        let invalid = || SpanError::Invalid { text: text.to_string() };
        let too_long = || SpanError::TooLong { text: text.to_string() };
        let bytes = trimmed.as_bytes();
        let mut total: i64 = 0;
        let mut position = 0;
        while position < bytes.len() {
            let digits_start = position;
            while position < bytes.len() && bytes[position].is_ascii_digit() {
                position += 1;
            }
            if digits_start == position {
                return Err(invalid());
            }
            let number: i64 = trimmed[digits_start..position].parse().map_err(|_| too_long())?;
            let unit_start = position;
            while position < bytes.len() && bytes[position].is_ascii_alphabetic() {
                position += 1;
            }
            let unit_seconds = match &trimmed[unit_start..position] {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                "w" => 7 * 86_400,
                "y" => 365 * 86_400,
                _ => return Err(invalid()),
            };
            let part = number.checked_mul(unit_seconds).ok_or_else(too_long)?;
            total = total.checked_add(part).ok_or_else(too_long)?;
        }
        Ok(Span { seconds: total })
    }
}

impl FromStr for Span {
    type Err = SpanError;
    fn from_str(text: &str) -> Result<Span, SpanError> {
        Span::parse(text)
    }
}

impl fmt::Display for Span {
    /// Prints the largest unit that divides evenly, as Prometheus and Sloth write windows
    /// (`5m`, `1h`, `3d`, `30d`), falling back to compound form (`1h30m`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.seconds == 0 {
            return write!(f, "0s");
        }
        let mut rest = self.seconds;
        for (unit_seconds, unit) in [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")] {
            if rest >= unit_seconds {
                let count = rest / unit_seconds;
                rest %= unit_seconds;
                write!(f, "{count}{unit}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        for (text, seconds, printed) in [
            ("5m", 300, "5m"),
            ("1h", 3600, "1h"),
            ("24h", 86_400, "1d"),
            ("1h30m", 5400, "1h30m"),
            ("30d", 2_592_000, "30d"),
            ("1w", 604_800, "7d"),
            ("90s", 90, "1m30s"),
        ] {
            let span = Span::parse(text).unwrap();
            assert_eq!(span.as_secs(), seconds, "{text}");
            assert_eq!(span.to_string(), printed, "{text}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "5", "m", "5 minutes", "-5m", "5mm", "1.5h", "99999999999999999999d"] {
            assert!(Span::parse(text).is_err(), "{text:?} should fail");
        }
    }
}
