//! The nines domain, pure: SLO and error-budget math, windows, bucketed counts, the
//! multi-window multi-burn-rate alert policy and the alert state machine, on-call, incidents
//! with their postmortems, and reliability reports.
//!
//! Nothing here does IO or reads a clock: every function that depends on time takes `now`.

pub mod alert;
pub mod buckets;
pub mod budget;
pub mod duration;
pub mod incident;
pub mod oncall;
pub mod ratio;
pub mod report;
pub mod slo;
pub mod time;
pub mod window;

pub use alert::{
    AlertKind, AlertMachine, AlertPolicy, AlertState, BurnRatePair, Change, NoDataRule,
    PairReading, Severity, Transition,
};
pub use buckets::{Counts, TieredSeries};
pub use budget::{Budget, BudgetUnit, BudgetingMethod, Exhaustion};
pub use duration::Span;
pub use ratio::{Objective, Ratio};
pub use slo::{CountKind, Evaluation, SloRuntime, SloSpec};
pub use time::Minute;
pub use window::{CalendarUnit, CalendarWindow, Window};
