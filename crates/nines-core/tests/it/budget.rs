//! Error-budget identities.

use nines_core::budget::{Budget, BudgetingMethod, SliceCounts, burn_rate};
use nines_core::{Objective, Ratio, Span};
use proptest::prelude::*;

proptest! {
    #[test]
    fn occurrence_budget_identities(
        objective in 0.5f64..0.99999,
        total in 1u64..10_000_000,
        bad_share in 0.0f64..=1.0,
    ) {
        let objective = Objective::new(objective).unwrap();
        let bad = ((total as f64) * bad_share) as u64;
        let budget = Budget::occurrences(objective, bad, total);
        let tolerance = 1e-9 * budget.allowed.max(1.0);
        prop_assert!((budget.allowed - objective.error_budget() * total as f64).abs() <= tolerance);
        prop_assert_eq!(budget.consumed, bad as f64);
        prop_assert!((budget.remaining - (budget.allowed - budget.consumed)).abs() <= tolerance);
        prop_assert!((budget.remaining_share * budget.allowed - budget.remaining).abs() <= tolerance);
        prop_assert!((budget.consumed_share() + budget.remaining_share - 1.0).abs() <= 1e-9);
        let sli = budget.sli.unwrap();
        prop_assert!((sli - (1.0 - bad as f64 / total as f64)).abs() <= 1e-12);
        // The burn rate over the whole window is the share of the budget consumed.
        let rate = burn_rate(objective, bad, total).unwrap();
        prop_assert!((rate - budget.consumed_share()).abs() <= 1e-9 * rate.max(1.0));
        // Met exactly when the budget is not overspent.
        prop_assert_eq!(sli >= objective.get() - 1e-12, budget.remaining >= -tolerance);
    }

    #[test]
    fn timeslice_budget_is_counted_in_minutes(
        bad_slices in 0u64..100,
        slice_minutes in prop::sample::select(vec![1i64, 5, 10, 60]),
    ) {
        let objective = Objective::new(0.999).unwrap();
        let slice = Span::minutes(slice_minutes);
        let method = BudgetingMethod::Timeslices { slice, target: Ratio::new(0.95).unwrap() };
        let window_slices = (30 * 1440 / slice_minutes) as u64;
        let judged = SliceCounts { slices: window_slices, bad_slices, bad_share_ppm: 0 };
        let budget = Budget::timeslices(objective, &method, judged, window_slices, slice);
        // 0.1% of 30 days is 43.2 minutes whatever the slice length.
        prop_assert!((budget.allowed - 43.2).abs() < 1e-6);
        prop_assert_eq!(budget.consumed, (bad_slices * slice_minutes as u64) as f64);
    }
}

#[test]
fn slices_are_judged_against_their_target() {
    let method = BudgetingMethod::Timeslices {
        slice: Span::minutes(1),
        target: Ratio::new(0.95).unwrap(),
    };
    assert_eq!(SliceCounts::judge(95, 100, &method).bad_slices, 0);
    assert_eq!(SliceCounts::judge(94, 100, &method).bad_slices, 1);
    // No traffic is no evidence of badness.
    assert_eq!(SliceCounts::judge(0, 0, &method).bad_slices, 0);
    let ratio = BudgetingMethod::RatioTimeslices {
        slice: Span::minutes(1),
    };
    assert_eq!(SliceCounts::judge(75, 100, &ratio).bad_share_ppm, 250_000);
}
