//! Minute indices: the unit of the bucket series.

use std::ops::{Add, Sub};

use jiff::Timestamp;

/// Minutes since the Unix epoch (floor), the index of a one-minute bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Minute(pub i64);

impl Minute {
    /// The minute that contains `at`.
    pub fn containing(at: Timestamp) -> Minute {
        Minute(at.as_second().div_euclid(60))
    }

    /// The first minute edge at or after `at`.
    pub fn ceil(at: Timestamp) -> Minute {
        let second = at.as_second() + i64::from(at.subsec_nanosecond() > 0);
        Minute((second + 59).div_euclid(60))
    }

    /// Rounds down to a multiple of `step` minutes since the epoch.
    pub fn floor_to(self, step: i64) -> Minute {
        Minute(self.0.div_euclid(step) * step)
    }

    /// Rounds up to a multiple of `step` minutes since the epoch.
    pub fn ceil_to(self, step: i64) -> Minute {
        Minute((self.0 + step - 1).div_euclid(step) * step)
    }

    pub fn start(self) -> Timestamp {
        Timestamp::from_second(self.0.saturating_mul(60)).unwrap_or(Timestamp::MAX)
    }
}

impl Add<i64> for Minute {
    type Output = Minute;
    fn add(self, minutes: i64) -> Minute {
        Minute(self.0 + minutes)
    }
}

impl Sub<i64> for Minute {
    type Output = Minute;
    fn sub(self, minutes: i64) -> Minute {
        Minute(self.0 - minutes)
    }
}

impl Sub<Minute> for Minute {
    type Output = i64;
    fn sub(self, other: Minute) -> i64 {
        self.0 - other.0
    }
}

impl std::fmt::Display for Minute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.start())
    }
}
