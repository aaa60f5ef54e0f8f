//! Checked ratios: values in `0..=1`, and objectives strictly between 0 and 1.

use std::fmt;

/// A share between 0 and 1 inclusive, never NaN.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Ratio(f64);

/// Why a number is not a valid ratio or objective.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RatioError {
    #[error("{value} is not a number")]
    NotFinite { value: f64 },
    #[error("{value} is outside 0..=1")]
    OutOfRange { value: f64 },
    #[error("objective {value} must be strictly between 0 and 1 (0% and 100% leave no usable error budget)")]
    ObjectiveOutOfRange { value: f64 },
}

impl Ratio {
    pub const ZERO: Ratio = Ratio(0.0);
    pub const ONE: Ratio = Ratio(1.0);

    pub fn new(value: f64) -> Result<Ratio, RatioError> {
        if !value.is_finite() {
            return Err(RatioError::NotFinite { value });
        }
        if !(0.0..=1.0).contains(&value) {
            return Err(RatioError::OutOfRange { value });
        }
        Ok(Ratio(value))
    }

    /// Reads a percentage such as `99.9`.
    pub fn from_percent(percent: f64) -> Result<Ratio, RatioError> {
        if !percent.is_finite() {
            return Err(RatioError::NotFinite { value: percent });
        }
        Ratio::new(percent / 100.0).map_err(|_| RatioError::OutOfRange { value: percent })
    }

    pub fn get(self) -> f64 {
        self.0
    }

    pub fn percent(self) -> f64 {
        self.0 * 100.0
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The target share of good events (or good time slices), strictly between 0 and 1.
///
/// The error budget is `1 - objective`; both ends are excluded because 100% leaves no
/// budget to spend and 0% makes every burn rate meaningless.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Objective(f64);

impl Objective {
    pub fn new(value: f64) -> Result<Objective, RatioError> {
        if !value.is_finite() {
            return Err(RatioError::NotFinite { value });
        }
        if value <= 0.0 || value >= 1.0 {
            return Err(RatioError::ObjectiveOutOfRange { value });
        }
        Ok(Objective(value))
    }

    /// Reads a percentage such as `99.9`, the form Sloth and our native format use.
    pub fn from_percent(percent: f64) -> Result<Objective, RatioError> {
        if !percent.is_finite() {
            return Err(RatioError::NotFinite { value: percent });
        }
        if percent <= 0.0 || percent >= 100.0 {
            return Err(RatioError::ObjectiveOutOfRange { value: percent / 100.0 });
        }
        Objective::new(percent / 100.0)
    }

    pub fn get(self) -> f64 {
        self.0
    }

    pub fn percent(self) -> f64 {
        self.0 * 100.0
    }

    /// The error budget as a share of events (or slices): `1 - objective`.
    pub fn error_budget(self) -> f64 {
        1.0 - self.0
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.percent())
    }
}
