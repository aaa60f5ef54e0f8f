//! Budgeting methods and the error budget: allowed, consumed, remaining, burn rate, and the
//! time left until exhaustion.

use std::ops::{AddAssign, Sub};

use crate::duration::Span;
use crate::ratio::{Objective, Ratio};

/// How the budget is counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BudgetingMethod {
    /// Good events over all events.
    Occurrences,
    /// Good time slices over all slices: a slice is good when its good share is at least
    /// `target`. Slices without traffic count as good (absence is the no-data rule's business).
    Timeslices { slice: Span, target: Ratio },
    /// The mean of each slice's good share (a slice without traffic counts as fully good).
    RatioTimeslices { slice: Span },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MethodError {
    #[error(
        "time slice {slice} must be a whole number of minutes that divides 60 (1m, 2m, 5m, 10m, 15m, 30m, 1h)"
    )]
    SliceLength { slice: Span },
}

impl BudgetingMethod {
    pub fn slice(&self) -> Option<Span> {
        match self {
            BudgetingMethod::Occurrences => None,
            BudgetingMethod::Timeslices { slice, .. }
            | BudgetingMethod::RatioTimeslices { slice } => Some(*slice),
        }
    }

    pub fn validate(&self) -> Result<(), MethodError> {
        if let Some(slice) = self.slice() {
            let seconds = slice.as_secs();
            if seconds <= 0 || seconds % 60 != 0 || 60 % (seconds / 60) != 0 {
                return Err(MethodError::SliceLength { slice });
            }
        }
        Ok(())
    }

    pub fn name(&self) -> &'static str {
        match self {
            BudgetingMethod::Occurrences => "occurrences",
            BudgetingMethod::Timeslices { .. } => "timeslices",
            BudgetingMethod::RatioTimeslices { .. } => "ratio_timeslices",
        }
    }
}

/// Judged time slices, accumulated: how many were judged, how many were bad, and the sum of
/// their bad shares in millionths (kept as integers so window sums stay exact).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SliceCounts {
    pub slices: u64,
    pub bad_slices: u64,
    pub bad_share_ppm: u64,
}

impl AddAssign for SliceCounts {
    fn add_assign(&mut self, other: SliceCounts) {
        self.slices = self.slices.wrapping_add(other.slices);
        self.bad_slices = self.bad_slices.wrapping_add(other.bad_slices);
        self.bad_share_ppm = self.bad_share_ppm.wrapping_add(other.bad_share_ppm);
    }
}

impl Sub for SliceCounts {
    type Output = SliceCounts;
    fn sub(self, other: SliceCounts) -> SliceCounts {
        SliceCounts {
            slices: self.slices.wrapping_sub(other.slices),
            bad_slices: self.bad_slices.wrapping_sub(other.bad_slices),
            bad_share_ppm: self.bad_share_ppm.wrapping_sub(other.bad_share_ppm),
        }
    }
}

impl SliceCounts {
    /// The verdict on one slice with `good` of `total` events.
    pub fn judge(good: u64, total: u64, method: &BudgetingMethod) -> SliceCounts {
        let good_share = if total == 0 {
            1.0
        } else {
            good.min(total) as f64 / total as f64
        };
        let bad = match method {
            BudgetingMethod::Timeslices { target, .. } => good_share < target.get(),
            _ => good_share < 1.0,
        };
        SliceCounts {
            slices: 1,
            bad_slices: u64::from(bad),
            bad_share_ppm: ((1.0 - good_share) * 1_000_000.0).round() as u64,
        }
    }

    /// Bad slices as a count for timeslices, or summed bad shares for ratio timeslices.
    pub fn bad_amount(&self, method: &BudgetingMethod) -> f64 {
        match method {
            BudgetingMethod::RatioTimeslices { .. } => self.bad_share_ppm as f64 / 1_000_000.0,
            _ => self.bad_slices as f64,
        }
    }
}

/// What a budget is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetUnit {
    Events,
    Minutes,
}

/// The error budget of one SLO at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub unit: BudgetUnit,
    /// Budget for the window: events (`(1 - objective) * total`) or minutes
    /// (`(1 - objective) * window minutes`).
    pub allowed: f64,
    /// Bad events, or bad minutes.
    pub consumed: f64,
    /// `allowed - consumed`; negative once overspent.
    pub remaining: f64,
    /// `remaining / allowed`: 1 untouched, 0 exhausted, negative overspent.
    pub remaining_share: f64,
    /// The measured good share over the window, when there was anything to measure.
    pub sli: Option<f64>,
}

impl Budget {
    /// The budget of an events-counted window.
    pub fn occurrences(objective: Objective, bad: u64, total: u64) -> Budget {
        let allowed = objective.error_budget() * total as f64;
        let consumed = bad.min(total) as f64;
        let sli = (total > 0).then(|| 1.0 - consumed / total as f64);
        Budget::from_parts(BudgetUnit::Events, allowed, consumed, sli)
    }

    /// The budget of a slice-counted window of `window_slices` slices of `slice` each.
    pub fn timeslices(
        objective: Objective,
        method: &BudgetingMethod,
        judged: SliceCounts,
        window_slices: u64,
        slice: Span,
    ) -> Budget {
        let slice_minutes = slice.as_secs_f64() / 60.0;
        let allowed = objective.error_budget() * window_slices as f64 * slice_minutes;
        let bad = judged.bad_amount(method);
        let consumed = bad * slice_minutes;
        let sli = (judged.slices > 0).then(|| 1.0 - bad / judged.slices as f64);
        Budget::from_parts(BudgetUnit::Minutes, allowed, consumed, sli)
    }

    fn from_parts(unit: BudgetUnit, allowed: f64, consumed: f64, sli: Option<f64>) -> Budget {
        let remaining = allowed - consumed;
        let remaining_share = if allowed > 0.0 {
            remaining / allowed
        } else if consumed > 0.0 {
            f64::NEG_INFINITY
        } else {
            1.0
        };
        Budget {
            unit,
            allowed,
            consumed,
            remaining,
            remaining_share,
            sli,
        }
    }

    /// The share of this budget's allowance left once `consumed` is spent.
    pub fn remaining_share_after(&self, consumed: f64) -> f64 {
        Budget::from_parts(self.unit, self.allowed, consumed, None).remaining_share
    }

    pub fn consumed_share(&self) -> f64 {
        1.0 - self.remaining_share
    }
}

/// The burn rate of an events-counted window: the error ratio over the error budget. `None`
/// when the window saw no events.
pub fn burn_rate(objective: Objective, bad: u64, total: u64) -> Option<f64> {
    if total == 0 {
        return None;
    }
    let error_ratio = bad.min(total) as f64 / total as f64;
    Some(error_ratio / objective.error_budget())
}

/// The burn rate of a slice-counted window: the bad share of judged slices over the budget.
pub fn slice_burn_rate(
    objective: Objective,
    method: &BudgetingMethod,
    judged: SliceCounts,
) -> Option<f64> {
    if judged.slices == 0 {
        return None;
    }
    let bad_share = judged.bad_amount(method) / judged.slices as f64;
    Some(bad_share / objective.error_budget())
}

/// When the budget runs out if the current burn rate holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhaustion {
    /// Nothing is being burned (or nothing was measured).
    NotBurning,
    /// Already spent.
    Exhausted,
    /// Gone in this long.
    In(Span),
    /// Not before the calendar period ends and the budget resets.
    AfterPeriodEnd,
}

/// A linear projection: at burn rate `b` a whole period's budget lasts `period / b`, so the
/// remaining share lasts `remaining_share * period / b`. `until_reset` is the time to the end of
/// a calendar period (none for rolling windows).
pub fn exhaustion(
    budget: &Budget,
    burn_rate: Option<f64>,
    period: Span,
    until_reset: Option<Span>,
) -> Exhaustion {
    if budget.remaining_share <= 0.0 {
        return Exhaustion::Exhausted;
    }
    let Some(rate) = burn_rate.filter(|rate| *rate > 0.0) else {
        return Exhaustion::NotBurning;
    };
    let seconds = budget.remaining_share * period.as_secs_f64() / rate;
    if !seconds.is_finite() || seconds > 1e12 {
        return Exhaustion::NotBurning;
    }
    let left = Span::seconds(seconds.round() as i64);
    match until_reset {
        Some(reset) if left > reset => Exhaustion::AfterPeriodEnd,
        _ => Exhaustion::In(left),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurrence_budget_of_a_999_slo() {
        let objective = Objective::new(0.999).unwrap();
        let budget = Budget::occurrences(objective, 250, 1_000_000);
        assert!((budget.allowed - 1000.0).abs() < 1e-6);
        assert_eq!(budget.consumed, 250.0);
        assert!((budget.remaining_share - 0.75).abs() < 1e-9);
        assert!((burn_rate(objective, 250, 1_000_000).unwrap() - 0.25).abs() < 1e-9);
    }

    #[test]
    fn empty_window_keeps_the_whole_budget() {
        let budget = Budget::occurrences(Objective::new(0.99).unwrap(), 0, 0);
        assert_eq!(budget.remaining_share, 1.0);
        assert_eq!(budget.sli, None);
    }

    #[test]
    fn exhaustion_is_a_linear_projection() {
        let objective = Objective::new(0.999).unwrap();
        let budget = Budget::occurrences(objective, 500, 1_000_000);
        // Half the budget left, burning at 10x: a 30-day budget lasts 3 days, half of it 1.5 days.
        let left = exhaustion(&budget, Some(10.0), Span::days(30), None);
        assert_eq!(left, Exhaustion::In(Span::hours(36)));
        let capped = exhaustion(&budget, Some(10.0), Span::days(30), Some(Span::hours(12)));
        assert_eq!(capped, Exhaustion::AfterPeriodEnd);
        assert_eq!(
            exhaustion(&budget, Some(0.0), Span::days(30), None),
            Exhaustion::NotBurning
        );
    }

    #[test]
    fn slice_lengths_must_divide_an_hour() {
        for (minutes, ok) in [
            (1, true),
            (5, true),
            (7, false),
            (60, true),
            (0, false),
            (120, false),
        ] {
            let method = BudgetingMethod::Timeslices {
                slice: Span::minutes(minutes),
                target: Ratio::ONE,
            };
            assert_eq!(method.validate().is_ok(), ok, "{minutes}m");
        }
    }
}
