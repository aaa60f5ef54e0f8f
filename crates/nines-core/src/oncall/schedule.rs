//! On-call schedules: layered rotations in a time zone, restrictions, overrides, the final
//! schedule they make, its gaps, and warnings about rotations that wear people out.

use jiff::Timestamp;
use jiff::civil::{DateTime, Time, Weekday};
use jiff::tz::TimeZone;

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
    pub fn on_call_at(&self, t: Timestamp) -> Option<Shift> {
        let _ = t;
        None
    }

    /// The final schedule over [from, to): ordered, non-overlapping, clipped to [from, to),
    /// adjacent pieces of one person from one source merged.
    pub fn shifts(&self, from: Timestamp, to: Timestamp) -> Vec<Shift> {
        let _ = (from, to);
        Vec::new()
    }

    /// Parts of [from, to) with nobody on call, ordered.
    pub fn gaps(&self, from: Timestamp, to: Timestamp) -> Vec<(Timestamp, Timestamp)> {
        let _ = (from, to);
        Vec::new()
    }

    /// Pairs of overrides (indexes) whose times overlap.
    pub fn overlapping_overrides(&self) -> Vec<(usize, usize)> {
        Vec::new()
    }
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

/// Warnings about a schedule's rotations over [from, to).
pub fn rotation_health(schedule: &Schedule, from: Timestamp, to: Timestamp) -> Vec<HealthWarning> {
    let _ = (schedule, from, to);
    Vec::new()
}
