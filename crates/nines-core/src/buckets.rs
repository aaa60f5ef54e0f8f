//! Counts in time buckets, kept as cumulative values at bucket edges, so that the sum over any
//! window is two lookups and a subtraction, exact to the bucket edge.
//!
//! Three tiers cover the past, newest first:
//!
//! | tier | bucket | covers at least |
//! |---|---|---|
//! | fine | 1 minute | the last 6 hours |
//! | medium | 10 minutes | the 3 days before that |
//! | coarse | 1 hour | the rest of the retention (the SLO window) |
//!
//! Tier boundaries sit on 10-minute and hour edges, so a bucket never straddles two tiers. A
//! window whose start falls inside a medium or coarse bucket starts at the next edge of that
//! bucket (the window is never widened into data older than it asked for). Each tier stores the
//! running total at each of its edges, so the sum of everything between two edges is the
//! difference of their values. A late sample for minute `m` is added to every edge after `m`,
//! which costs as many steps as there are edges after it (one, for data of the current minute).

use std::collections::VecDeque;
use std::ops::{AddAssign, Sub};

use crate::time::Minute;

/// Minutes the fine tier covers, at least.
pub const FINE_SPAN_MINUTES: i64 = 6 * 60;
/// Minutes the medium tier covers before the fine tier, at least.
pub const MEDIUM_SPAN_MINUTES: i64 = 3 * 24 * 60;
pub const MEDIUM_BUCKET_MINUTES: i64 = 10;
pub const COARSE_BUCKET_MINUTES: i64 = 60;

/// A value that can be accumulated into a running total and differenced.
pub trait Accumulate: Copy + Default + AddAssign + Sub<Output = Self> {}
impl<T: Copy + Default + AddAssign + Sub<Output = T>> Accumulate for T {}

/// Good-or-bad and total event counts; which of the two the first one means is the SLO's choice
/// (see [`crate::slo::CountKind`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub counted: u64,
    pub total: u64,
}

impl Counts {
    pub fn new(counted: u64, total: u64) -> Counts {
        Counts { counted, total }
    }
}

impl AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.counted = self.counted.wrapping_add(other.counted);
        self.total = self.total.wrapping_add(other.total);
    }
}

impl Sub for Counts {
    type Output = Counts;
    fn sub(self, other: Counts) -> Counts {
        Counts {
            counted: self.counted.wrapping_sub(other.counted),
            total: self.total.wrapping_sub(other.total),
        }
    }
}

/// One tier: running totals at edges `start + i * STEP`. The step is a constant so that the
/// index arithmetic on the evaluation path compiles to shifts and multiplications.
#[derive(Debug, Clone)]
struct Tier<V, const STEP: i64> {
    start: Minute,
    values: VecDeque<V>,
}

impl<V: Accumulate, const STEP: i64> Tier<V, STEP> {
    fn new(start: Minute, value: V) -> Tier<V, STEP> {
        let mut values = VecDeque::new();
        values.push_back(value);
        Tier { start, values }
    }

    /// The edge of the last value.
    fn end(&self) -> Minute {
        self.start + STEP * (self.values.len() as i64 - 1)
    }

    fn last(&self) -> V {
        *self
            .values
            .back()
            .expect("a tier always holds its end edge")
    }

    /// The value at the first edge at or after `edge`; `edge` must lie within the tier.
    fn at_or_after(&self, edge: Minute) -> (Minute, V) {
        let offset = edge - self.start;
        let index = (offset + STEP - 1).div_euclid(STEP);
        let index = index.clamp(0, self.values.len() as i64 - 1);
        (self.start + index * STEP, self.values[index as usize])
    }

    /// Adds `delta` to every edge strictly after `minute`.
    fn add_after(&mut self, minute: Minute, delta: V) {
        let first = (minute - self.start).div_euclid(STEP) + 1;
        let first = first.max(0) as usize;
        for value in self.values.iter_mut().skip(first) {
            *value += delta;
        }
    }

    fn heap_bytes(&self) -> usize {
        self.values.capacity() * std::mem::size_of::<V>()
    }
}

/// Why a sample was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BucketError {
    #[error("sample at minute {minute} is older than the retained {retention_minutes} minutes")]
    TooOld {
        minute: Minute,
        retention_minutes: i64,
    },
}

/// The sum over a window, and which edges it really spans.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowSum<V> {
    pub sum: V,
    /// The first minute counted (the window start, moved to the next bucket edge when the
    /// window starts inside a coarse bucket, or to the first retained edge).
    pub start: Minute,
    /// One past the last minute counted.
    pub end: Minute,
    /// True when the window reaches before the oldest retained edge.
    pub truncated: bool,
}

/// A series of running totals in three tiers; see the module documentation.
#[derive(Debug, Clone)]
pub struct TieredSeries<V> {
    coarse: Tier<V, COARSE_BUCKET_MINUTES>,
    medium: Tier<V, MEDIUM_BUCKET_MINUTES>,
    fine: Tier<V, 1>,
    retention_minutes: i64,
}

impl<V: Accumulate> TieredSeries<V> {
    /// A series whose current minute is `now`, holding nothing yet, that keeps at least
    /// `retention_minutes` of history (the longest window that will be asked for).
    pub fn new(now: Minute, retention_minutes: i64) -> TieredSeries<V> {
        // Every tier laid out at once, empty, so that data from anywhere in the retention (a
        // backfill, or counts read back after a restart) can be added from the start.
        let retention_minutes = retention_minutes.max(FINE_SPAN_MINUTES);
        let fine_start = (now - (FINE_SPAN_MINUTES - 1)).floor_to(MEDIUM_BUCKET_MINUTES);
        let medium_start = (fine_start - MEDIUM_SPAN_MINUTES).floor_to(COARSE_BUCKET_MINUTES);
        let coarse_start = (now + 1 - retention_minutes)
            .floor_to(COARSE_BUCKET_MINUTES)
            .min(medium_start);
        // Each tier is given the most it holds in steady state (between one minute and the next
        // move to a coarser tier), so advancing never grows a buffer to twice its need.
        let zeros = |count: i64, capacity: i64| -> VecDeque<V> {
            let mut values = VecDeque::with_capacity(capacity.max(count).max(1) as usize);
            values.extend((0..count.max(1)).map(|_| V::default()));
            values
        };
        let fine_capacity = FINE_SPAN_MINUTES + MEDIUM_BUCKET_MINUTES + 2;
        let medium_capacity =
            (MEDIUM_SPAN_MINUTES + COARSE_BUCKET_MINUTES) / MEDIUM_BUCKET_MINUTES + 2;
        let coarse_capacity = retention_minutes / COARSE_BUCKET_MINUTES + 3;
        let fine = Tier {
            start: fine_start,
            values: zeros(now + 1 - fine_start + 1, fine_capacity),
        };
        let medium = Tier {
            start: medium_start,
            values: zeros(
                (fine_start - medium_start) / MEDIUM_BUCKET_MINUTES + 1,
                medium_capacity,
            ),
        };
        let coarse = Tier {
            start: coarse_start,
            values: zeros(
                (medium_start - coarse_start) / COARSE_BUCKET_MINUTES + 1,
                coarse_capacity,
            ),
        };
        TieredSeries {
            coarse,
            medium,
            fine,
            retention_minutes,
        }
    }

    /// The current (newest, possibly partial) minute.
    pub fn head(&self) -> Minute {
        self.fine.end() - 1
    }

    /// The oldest edge still held.
    pub fn oldest(&self) -> Minute {
        self.coarse.start
    }

    pub fn retention_minutes(&self) -> i64 {
        self.retention_minutes
    }

    /// Running total of everything ever added.
    pub fn total(&self) -> V {
        self.fine.last()
    }

    /// Moves the current minute forward to `now`; a `now` at or before the head changes nothing.
    pub fn advance(&mut self, now: Minute) {
        let head = self.head();
        if now <= head {
            return;
        }
        let gap = now - head;
        if gap > self.retention_minutes + MEDIUM_SPAN_MINUTES + FINE_SPAN_MINUTES {
            // Nothing retained survives the gap: start over, keeping the running total.
            let total = self.total();
            let edge = now.floor_to(COARSE_BUCKET_MINUTES);
            self.coarse = Tier::new(edge, total);
            self.medium = Tier::new(edge, total);
            self.fine = Tier::new(edge, total);
            for _ in edge.0..=now.0 {
                self.fine.values.push_back(total);
            }
            self.rebalance();
            return;
        }
        let total = self.total();
        for _ in 0..gap {
            self.fine.values.push_back(total);
        }
        self.rebalance();
    }

    /// Moves aged buckets from the fine tier to the medium one, from the medium to the coarse
    /// one, and drops coarse buckets older than the retention.
    fn rebalance(&mut self) {
        let head = self.head();
        let fine_start = (head - (FINE_SPAN_MINUTES - 1)).floor_to(MEDIUM_BUCKET_MINUTES);
        while self.fine.start < fine_start {
            let next = self.fine.values[MEDIUM_BUCKET_MINUTES as usize];
            self.medium.values.push_back(next);
            self.fine.values.drain(..MEDIUM_BUCKET_MINUTES as usize);
            self.fine.start = self.fine.start + MEDIUM_BUCKET_MINUTES;
        }
        let medium_start = (self.fine.start - MEDIUM_SPAN_MINUTES).floor_to(COARSE_BUCKET_MINUTES);
        let per_coarse = (COARSE_BUCKET_MINUTES / MEDIUM_BUCKET_MINUTES) as usize;
        while self.medium.start < medium_start && self.medium.values.len() > per_coarse {
            let next = self.medium.values[per_coarse];
            self.coarse.values.push_back(next);
            self.medium.values.drain(..per_coarse);
            self.medium.start = self.medium.start + COARSE_BUCKET_MINUTES;
        }
        let coarse_start = (head + 1 - self.retention_minutes).floor_to(COARSE_BUCKET_MINUTES);
        while self.coarse.start < coarse_start && self.coarse.values.len() > 1 {
            self.coarse.values.pop_front();
            self.coarse.start = self.coarse.start + COARSE_BUCKET_MINUTES;
        }
    }

    /// Adds `delta` to minute `minute`. A minute after the head advances the series first; a
    /// minute older than every retained edge is refused.
    pub fn add(&mut self, minute: Minute, delta: V) -> Result<(), BucketError> {
        if minute > self.head() {
            self.advance(minute);
        }
        if minute >= self.fine.start {
            self.fine.add_after(minute, delta);
        } else if minute >= self.medium.start {
            self.medium.add_after(minute, delta);
            self.fine.add_after(minute, delta);
        } else if minute >= self.coarse.start {
            self.coarse.add_after(minute, delta);
            self.medium.add_after(minute, delta);
            self.fine.add_after(minute, delta);
        } else {
            return Err(BucketError::TooOld {
                minute,
                retention_minutes: self.retention_minutes,
            });
        }
        Ok(())
    }

    /// The running total at the first edge at or after `edge`, and that edge.
    fn value_at(&self, edge: Minute) -> (Minute, V, bool) {
        if edge >= self.fine.start {
            let (edge, value) = self.fine.at_or_after(edge.min(self.fine.end()));
            (edge, value, false)
        } else if edge >= self.medium.start {
            let (edge, value) = self.medium.at_or_after(edge);
            (edge, value, false)
        } else if edge >= self.coarse.start {
            let (edge, value) = self.coarse.at_or_after(edge);
            (edge, value, false)
        } else {
            (self.coarse.start, self.coarse.values[0], true)
        }
    }

    /// The sum over minutes `start..end` (edges), with `end` at most one past the head.
    pub fn sum_between(&self, start: Minute, end: Minute) -> WindowSum<V> {
        let end = end.min(self.fine.end());
        let (end_edge, end_value, _) = self.value_at(end);
        let (start_edge, start_value, truncated) = self.value_at(start.min(end));
        if start_edge >= end_edge {
            return WindowSum {
                sum: V::default(),
                start: end_edge,
                end: end_edge,
                truncated,
            };
        }
        WindowSum {
            sum: end_value - start_value,
            start: start_edge,
            end: end_edge,
            truncated,
        }
    }

    /// The sums over the last `lengths[i]` minutes (counting the current one) into `out[i]`.
    ///
    /// Reads every edge first and subtracts after, so the memory reads of all the windows are
    /// issued together and their cache misses overlap; for a fleet of SLOs whose buckets do
    /// not fit in the caches that is most of the cost of an evaluation.
    pub fn sums_last(&self, lengths: &[i64], out: &mut [V]) {
        let end = self.head() + 1;
        let end_value = self.total();
        for (length, slot) in lengths.iter().zip(out.iter_mut()) {
            *slot = self.value_at((end - *length).min(end)).1;
        }
        for slot in out.iter_mut().take(lengths.len()) {
            *slot = end_value - *slot;
        }
    }

    /// The sum over the last `minutes` minutes, counting the current one.
    pub fn sum_last(&self, minutes: i64) -> WindowSum<V> {
        let end = self.head() + 1;
        self.sum_between(end - minutes, end)
    }

    /// Bytes this series holds on the heap and inline.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.fine.heap_bytes()
            + self.medium.heap_bytes()
            + self.coarse.heap_bytes()
    }

    /// Returns spare capacity to the allocator.
    pub fn shrink_to_fit(&mut self) {
        self.fine.values.shrink_to_fit();
        self.medium.values.shrink_to_fit();
        self.coarse.values.shrink_to_fit();
    }

    /// The edges at which tiers change, newest first: (fine start, medium start, coarse start).
    /// The latest bucket edge at or before `edge` in the tier that holds it: a sum that ends
    /// there reads no minute after `edge`.
    pub fn edge_at_or_before(&self, edge: Minute) -> Minute {
        if edge >= self.fine.start {
            edge
        } else if edge >= self.medium.start {
            self.medium.start
                + (edge - self.medium.start).div_euclid(MEDIUM_BUCKET_MINUTES)
                    * MEDIUM_BUCKET_MINUTES
        } else {
            self.coarse.start
                + (edge - self.coarse.start).div_euclid(COARSE_BUCKET_MINUTES)
                    * COARSE_BUCKET_MINUTES
        }
    }

    pub fn tier_starts(&self) -> (Minute, Minute, Minute) {
        (self.fine.start, self.medium.start, self.coarse.start)
    }
}
