//! Multi-window, multi-burn-rate alert policy (Google SRE Workbook, chapter 5) and the alert
//! state machine.
//!
//! A pair fires when the burn rate over both its long and its short window exceeds its factor,
//! `factor = budget_share * period / long_window`: burning that fast, the pair's share of the
//! period's budget is gone within the long window. The short window (long / 12 by default)
//! makes the alert stop soon after the burn stops.

use jiff::Timestamp;

use crate::duration::Span;
use crate::ratio::Ratio;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Ticket,
    Page,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }
}

/// One long/short window pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnRatePair {
    pub severity: Severity,
    /// Share of the period's budget this pair guards (0.02 for "2% in 1 hour").
    pub budget_share: Ratio,
    pub long_window: Span,
    pub short_window: Span,
}

impl BurnRatePair {
    /// A pair with the workbook's short window: a twelfth of the long one.
    pub fn new(severity: Severity, budget_share: Ratio, long_window: Span) -> BurnRatePair {
        BurnRatePair {
            severity,
            budget_share,
            long_window,
            short_window: Span::seconds(long_window.as_secs() / 12),
        }
    }

    pub fn with_short_window(mut self, short_window: Span) -> BurnRatePair {
        self.short_window = short_window;
        self
    }

    /// `budget_share * period / long_window`: 14.4 for 2% of 30 days in one hour.
    pub fn factor(&self, period: Span) -> f64 {
        self.budget_share.get() * period.as_secs_f64() / self.long_window.as_secs_f64()
    }
}

/// What to do when an SLO gets no data at all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoDataRule {
    /// Alert once no event arrived for this long.
    pub after: Span,
    pub severity: Severity,
}

/// A multi-window, multi-burn-rate policy with its guards.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertPolicy {
    pub pairs: Vec<BurnRatePair>,
    /// A pair fires only when its long window holds at least this many events.
    pub min_total_events: u64,
    /// A pair fires only when its long window holds at least this many bad events, so that one
    /// failed request at low traffic never pages.
    pub min_bad_events: u64,
    pub no_data: Option<NoDataRule>,
    /// The window whose burn rate projects the time to exhaustion.
    pub current_window: Span,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("pair {index}: long window {long} does not fit in the SLO window of {period}")]
    LongWindowTooLong { index: usize, long: Span, period: Span },
    #[error("pair {index}: short window {short} must be shorter than the long window {long}")]
    ShortNotShorter { index: usize, short: Span, long: Span },
    #[error("pair {index}: windows must be whole minutes of at least 1m (got {window})")]
    WindowResolution { index: usize, window: Span },
    #[error("pair {index}: budget share must be above 0")]
    ZeroShare { index: usize },
    #[error("no-data rule: `after` must be at least 1m and at most the SLO window")]
    NoDataAfter,
}

impl Default for AlertPolicy {
    fn default() -> AlertPolicy {
        AlertPolicy::workbook()
    }
}

impl AlertPolicy {
    /// The Google SRE Workbook's recommendation: page on 2% of the budget in 1h (5m short
    /// window) or 5% in 6h (30m); ticket on 10% in 1d (2h) or 10% in 3d (6h).
    pub fn workbook() -> AlertPolicy {
        let share = |value: f64| Ratio::new(value).expect("constant shares are valid ratios");
        AlertPolicy {
            pairs: vec![
                BurnRatePair::new(Severity::Page, share(0.02), Span::hours(1)),
                BurnRatePair::new(Severity::Page, share(0.05), Span::hours(6)),
                BurnRatePair::new(Severity::Ticket, share(0.10), Span::days(1)),
                BurnRatePair::new(Severity::Ticket, share(0.10), Span::days(3)),
            ],
            min_total_events: 10,
            min_bad_events: 2,
            no_data: Some(NoDataRule { after: Span::minutes(15), severity: Severity::Ticket }),
            current_window: Span::hours(1),
        }
    }

    /// Every problem with this policy for an SLO whose window is `period` long.
    pub fn validate(&self, period: Span) -> Vec<PolicyError> {
        let mut problems = Vec::new();
        for (index, pair) in self.pairs.iter().enumerate() {
            if pair.long_window > period {
                problems.push(PolicyError::LongWindowTooLong { index, long: pair.long_window, period });
            }
            if pair.short_window >= pair.long_window {
                problems.push(PolicyError::ShortNotShorter {
                    index,
                    short: pair.short_window,
                    long: pair.long_window,
                });
            }
            for window in [pair.long_window, pair.short_window] {
                if window.as_secs() < 60 || window.as_secs() % 60 != 0 {
                    problems.push(PolicyError::WindowResolution { index, window });
                }
            }
            if pair.budget_share.get() <= 0.0 {
                problems.push(PolicyError::ZeroShare { index });
            }
        }
        if let Some(rule) = self.no_data
            && (rule.after < Span::minutes(1) || rule.after > period)
        {
            problems.push(PolicyError::NoDataAfter);
        }
        problems
    }

    /// The longest window any pair looks at.
    pub fn longest_window(&self) -> Span {
        self.pairs
            .iter()
            .map(|pair| pair.long_window)
            .chain([self.current_window])
            .max()
            .unwrap_or(Span::ZERO)
    }
}

/// What one pair saw at one evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairReading {
    pub pair: BurnRatePair,
    pub factor: f64,
    pub long_burn_rate: Option<f64>,
    pub short_burn_rate: Option<f64>,
    /// Both burn rates above the factor.
    pub burning: bool,
    /// Burning, but held back by the traffic guard.
    pub guarded: bool,
}

impl PairReading {
    pub fn fires(&self) -> bool {
        self.burning && !self.guarded
    }
}

/// Relative slack so that a burn rate equal to its factor (1.0 against 1.0, computed through
/// floating point) does not fire.
const FACTOR_SLACK: f64 = 1e-9;

/// True when `rate` is above `factor`.
pub fn exceeds(rate: Option<f64>, factor: f64) -> bool {
    rate.is_some_and(|rate| rate > factor * (1.0 + FACTOR_SLACK))
}

/// Which alert of an SLO a transition is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// The burn-rate alert; its severity is that of the strongest firing pair.
    BurnRate,
    NoData,
}

impl AlertKind {
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::BurnRate => "burn_rate",
            AlertKind::NoData => "no_data",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    Inactive,
    Firing { severity: Severity, since: Timestamp },
    Resolved { severity: Severity, at: Timestamp },
}

impl AlertState {
    pub fn firing_severity(&self) -> Option<Severity> {
        match self {
            AlertState::Firing { severity, .. } => Some(*severity),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Fired,
    Resolved,
    /// A ticket replaced by a page for the same SLO.
    Superseded,
}

impl Change {
    pub fn name(self) -> &'static str {
        match self {
            Change::Fired => "fired",
            Change::Resolved => "resolved",
            Change::Superseded => "superseded",
        }
    }
}

/// One change of an alert, the effect the caller records and notifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub kind: AlertKind,
    pub severity: Severity,
    pub change: Change,
    pub at: Timestamp,
}

/// The alerts of one SLO: the burn-rate alert (a page supersedes a ticket) and the no-data one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertMachine {
    pub burn_rate: AlertState,
    pub no_data: AlertState,
}

impl Default for AlertMachine {
    fn default() -> AlertMachine {
        AlertMachine { burn_rate: AlertState::Inactive, no_data: AlertState::Inactive }
    }
}

impl AlertMachine {
    /// Moves to the state the conditions call for and returns the transitions, in order.
    ///
    /// `wanted` is the severity of the strongest firing pair. A firing ticket becomes a page
    /// when a page pair fires (the ticket is superseded); a firing page that no longer holds
    /// while a ticket pair still does resolves and leaves a ticket for the slow burn.
    pub fn step(
        &mut self,
        wanted: Option<Severity>,
        no_data: Option<Severity>,
        now: Timestamp,
        transitions: &mut Vec<Transition>,
    ) {
        step_one(&mut self.burn_rate, AlertKind::BurnRate, wanted, now, transitions);
        step_one(&mut self.no_data, AlertKind::NoData, no_data, now, transitions);
    }
}

fn step_one(
    state: &mut AlertState,
    kind: AlertKind,
    wanted: Option<Severity>,
    now: Timestamp,
    transitions: &mut Vec<Transition>,
) {
    let current = state.firing_severity();
    if current == wanted {
        return;
    }
    let mut emit = |severity, change| transitions.push(Transition { kind, severity, change, at: now });
    match (current, wanted) {
        (None, Some(severity)) => emit(severity, Change::Fired),
        (Some(Severity::Ticket), Some(Severity::Page)) => {
            emit(Severity::Ticket, Change::Superseded);
            emit(Severity::Page, Change::Fired);
        }
        (Some(old), Some(new)) => {
            emit(old, Change::Resolved);
            emit(new, Change::Fired);
        }
        (Some(old), None) => emit(old, Change::Resolved),
        (None, None) => {}
    }
    *state = match wanted {
        Some(severity) => AlertState::Firing { severity, since: now },
        None => AlertState::Resolved { severity: current.unwrap_or(Severity::Ticket), at: now },
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workbook_factors_for_thirty_days() {
        let period = Span::days(30);
        let factors: Vec<f64> = AlertPolicy::workbook().pairs.iter().map(|p| p.factor(period)).collect();
        let expected = [14.4, 6.0, 3.0, 1.0];
        for (got, want) in factors.iter().zip(expected) {
            assert!((got - want).abs() < 1e-9, "{got} != {want}");
        }
        let shorts: Vec<String> =
            AlertPolicy::workbook().pairs.iter().map(|p| p.short_window.to_string()).collect();
        assert_eq!(shorts, ["5m", "30m", "2h", "6h"]);
    }

    #[test]
    fn a_page_supersedes_a_ticket_and_falls_back_to_it() {
        let mut machine = AlertMachine::default();
        let mut log = Vec::new();
        let t = |s: i64| Timestamp::from_second(s).unwrap();
        machine.step(Some(Severity::Ticket), None, t(0), &mut log);
        machine.step(Some(Severity::Ticket), None, t(10), &mut log);
        machine.step(Some(Severity::Page), None, t(20), &mut log);
        machine.step(Some(Severity::Ticket), None, t(30), &mut log);
        machine.step(None, None, t(40), &mut log);
        let changes: Vec<(Severity, Change, i64)> =
            log.iter().map(|tr| (tr.severity, tr.change, tr.at.as_second())).collect();
        assert_eq!(
            changes,
            [
                (Severity::Ticket, Change::Fired, 0),
                (Severity::Ticket, Change::Superseded, 20),
                (Severity::Page, Change::Fired, 20),
                (Severity::Page, Change::Resolved, 30),
                (Severity::Ticket, Change::Fired, 30),
                (Severity::Ticket, Change::Resolved, 40),
            ]
        );
        assert_eq!(machine.burn_rate, AlertState::Resolved { severity: Severity::Ticket, at: t(40) });
    }

    #[test]
    fn a_burn_rate_equal_to_its_factor_does_not_fire() {
        assert!(!exceeds(Some(1.0 + 1e-12), 1.0));
        assert!(exceeds(Some(1.001), 1.0));
        assert!(!exceeds(None, 0.0));
    }
}
