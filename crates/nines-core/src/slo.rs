//! One SLO at run time: its definition, its bucketed counts, and the evaluation that turns them
//! into a budget, burn rates and alert transitions at a given instant.

use jiff::Timestamp;

use crate::alert::{
    AlertMachine, AlertPolicy, PairReading, PolicyError, Severity, Transition, exceeds,
};
use crate::buckets::{BucketError, Counts, TieredSeries};
use crate::budget::{self, Budget, BudgetingMethod, Exhaustion, MethodError, SliceCounts};
use crate::duration::Span;
use crate::ratio::Objective;
use crate::time::Minute;
use crate::window::{Window, WindowBounds, WindowError};

/// At most this many distinct window lengths are gathered in one pass; more (an unusual
/// policy) are summed one at a time.
const MAX_WINDOWS: usize = 16;

/// Which events the first count of a sample counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountKind {
    Good,
    Bad,
}

impl CountKind {
    /// Splits a window's counts into (bad, total). The two counters may come from different
    /// series and so disagree for a bucket; the bad count never exceeds the total.
    pub fn bad_and_total(self, counts: Counts) -> (u64, u64) {
        let bad = match self {
            CountKind::Good => counts.total.saturating_sub(counts.counted),
            CountKind::Bad => counts.counted.min(counts.total),
        };
        (bad, counts.total)
    }
}

/// What the math needs to know about an SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct SloSpec {
    pub objective: Objective,
    pub window: Window,
    pub method: BudgetingMethod,
    pub policy: AlertPolicy,
    pub count_kind: CountKind,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SloError {
    #[error(transparent)]
    Method(#[from] MethodError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Window(#[from] WindowError),
}

impl SloSpec {
    /// Every problem with this definition.
    pub fn validate(&self) -> Vec<SloError> {
        let mut problems = Vec::new();
        if let Err(err) = self.method.validate() {
            problems.push(err.into());
        }
        let shortest_period = match &self.window {
            Window::Rolling(length) => *length,
            Window::Calendar(calendar) => match calendar.unit {
                crate::window::CalendarUnit::Week => Span::days(7),
                crate::window::CalendarUnit::Month => Span::days(28),
                crate::window::CalendarUnit::Quarter => Span::days(89),
            },
        };
        problems.extend(
            self.policy
                .validate(shortest_period)
                .into_iter()
                .map(SloError::from),
        );
        problems
    }

    /// Minutes of history the buckets must keep.
    pub fn retention_minutes(&self) -> i64 {
        let longest = self.window.longest().max(self.policy.longest_window());
        longest.whole_minutes() + 60
    }
}

/// Verdicts on closed time slices, for the timeslice budgeting methods.
#[derive(Debug, Clone)]
struct SliceTracker {
    slice_minutes: i64,
    verdicts: TieredSeries<SliceCounts>,
    /// Slices ending at or before this edge are judged.
    judged_until: Minute,
}

/// The moving parts of one SLO.
#[derive(Debug, Clone)]
pub struct SloRuntime {
    counts: TieredSeries<Counts>,
    slices: Option<SliceTracker>,
    alerts: AlertMachine,
    created: Minute,
    /// Counts are complete only before this minute (pulled SLOs lag behind the clock); time
    /// slices are judged once their data is in. `None`: complete up to now.
    data_until: Option<Minute>,
    cached_bounds: Option<WindowBounds>,
}

/// The state of one SLO at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub at: Timestamp,
    pub budget: Budget,
    /// Bad and total events over the budget window.
    pub bad: u64,
    pub total: u64,
    /// Where counting really starts (the window start, moved to a bucket edge).
    pub window_start: Timestamp,
    /// When the period ends: now for rolling windows.
    pub window_end: Timestamp,
    pub period: Span,
    /// The window reaches back before the SLO's first data.
    pub partial_window: bool,
    pub pairs: Vec<PairReading>,
    pub current_burn_rate: Option<f64>,
    pub exhaustion: Exhaustion,
    pub no_data: bool,
    pub transitions: Vec<Transition>,
}

impl SloRuntime {
    pub fn new(spec: &SloSpec, now: Timestamp) -> SloRuntime {
        let head = Minute::containing(now);
        let retention = spec.retention_minutes();
        let slices = spec.method.slice().map(|slice| {
            let slice_minutes = slice.whole_minutes().max(1);
            SliceTracker {
                slice_minutes,
                verdicts: TieredSeries::new(head, retention),
                judged_until: head.ceil_to(slice_minutes),
            }
        });
        SloRuntime {
            counts: TieredSeries::new(head, retention),
            slices,
            alerts: AlertMachine::default(),
            created: head,
            data_until: None,
            cached_bounds: None,
        }
    }

    /// Adds `counted` events (good or bad, as the spec says) of `total` at instant `at`.
    pub fn record(&mut self, at: Timestamp, counted: u64, total: u64) -> Result<(), BucketError> {
        self.counts
            .add(Minute::containing(at), Counts::new(counted, total))
    }

    /// Marks counts complete only before `minute` (see `data_until`).
    pub fn set_data_until(&mut self, minute: Option<Minute>) {
        self.data_until = minute;
    }

    pub fn alerts(&self) -> &AlertMachine {
        &self.alerts
    }

    /// Restores alert states saved elsewhere (after a restart).
    pub fn set_alerts(&mut self, alerts: AlertMachine) {
        self.alerts = alerts;
    }

    pub fn counts(&self) -> &TieredSeries<Counts> {
        &self.counts
    }

    /// How the budget of the window that holds `now` was spent: the window's start, and for
    /// each instant of `at` the share of that budget (as allowed at `now`) left after the bad
    /// events or bad time slices from the start up to the instant (`None` before the start or
    /// after `now`). The reading at `now` is the evaluation's remaining share. Older minutes
    /// live in coarser buckets, so an instant there reads at the next bucket edge.
    pub fn burn_down(
        &self,
        spec: &SloSpec,
        now: Timestamp,
        at: &[Timestamp],
    ) -> Result<(Timestamp, Vec<Option<f64>>), WindowError> {
        let bounds = spec.window.bounds(now)?;
        let start = Minute::ceil(bounds.start);
        let end = Minute::containing(now) + 1;
        let (whole, slice_minutes) = match (&self.slices, spec.method.slice()) {
            (Some(tracker), Some(slice)) => {
                let judged = tracker.verdicts.sum_between(start, end).sum;
                let window_slices =
                    (bounds.period.as_secs() / slice.as_secs().max(1)).max(1) as u64;
                (
                    Budget::timeslices(spec.objective, &spec.method, judged, window_slices, slice),
                    Some(slice.as_secs_f64() / 60.0),
                )
            }
            _ => {
                let (bad, total) = spec
                    .count_kind
                    .bad_and_total(self.counts.sum_between(start, end).sum);
                (Budget::occurrences(spec.objective, bad, total), None)
            }
        };
        let readings = at
            .iter()
            .map(|instant| {
                if *instant < bounds.start || *instant > now {
                    return None;
                }
                let upto = (Minute::containing(*instant) + 1).clamp(start, end);
                let consumed = match (&self.slices, slice_minutes) {
                    (Some(tracker), Some(slice_minutes)) => {
                        tracker
                            .verdicts
                            .sum_between(start, upto)
                            .sum
                            .bad_amount(&spec.method)
                            * slice_minutes
                    }
                    _ => {
                        let (bad, _) = spec
                            .count_kind
                            .bad_and_total(self.counts.sum_between(start, upto).sum);
                        bad as f64
                    }
                };
                let share = whole.remaining_share_after(consumed);
                share.is_finite().then_some(share)
            })
            .collect();
        Ok((bounds.start, readings))
    }

    /// The burn rate over the `minutes` minutes that end with the one containing `at` (the
    /// evaluator's reading at that instant, from the buckets kept now): for charts of the
    /// past. Older minutes live in coarser buckets: there the window ends at the bucket edge
    /// before `at` (never reading later minutes), and a window whose start would move by more
    /// than a twelfth of its length reads `None` rather than something else. `None` too
    /// without events, or when `at` is older than the buckets reach.
    pub fn burn_rate_at(&self, spec: &SloSpec, at: Timestamp, minutes: i64) -> Option<f64> {
        let minutes = minutes.max(1);
        let end = self.counts.edge_at_or_before(Minute::containing(at) + 1);
        let start = end - minutes;
        if start < self.counts.oldest() || end > self.counts.head() + 1 {
            return None;
        }
        let sum = self.counts.sum_between(start, end);
        if sum.truncated || sum.end != end || (sum.start - start) * 12 > minutes {
            return None;
        }
        match &self.slices {
            Some(tracker) => {
                let judged = tracker.verdicts.sum_between(start, end).sum;
                budget::slice_burn_rate(spec.objective, &spec.method, judged)
            }
            None => {
                let (bad, total) = spec.count_kind.bad_and_total(sum.sum);
                budget::burn_rate(spec.objective, bad, total)
            }
        }
    }

    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.counts.memory_bytes()
            + self
                .slices
                .as_ref()
                .map_or(0, |tracker| tracker.verdicts.memory_bytes())
    }

    pub fn shrink_to_fit(&mut self) {
        self.counts.shrink_to_fit();
        if let Some(tracker) = &mut self.slices {
            tracker.verdicts.shrink_to_fit();
        }
    }

    fn bounds(&mut self, window: &Window, now: Timestamp) -> Result<WindowBounds, WindowError> {
        if let Window::Calendar(_) = window
            && let Some(cached) = self.cached_bounds
            && cached.start <= now
            && now < cached.end
        {
            return Ok(WindowBounds { now, ..cached });
        }
        let bounds = window.bounds(now)?;
        if let Window::Calendar(_) = window {
            self.cached_bounds = Some(bounds);
        }
        Ok(bounds)
    }

    fn judge_slices(&mut self, spec: &SloSpec, head: Minute) {
        let Some(tracker) = &mut self.slices else {
            return;
        };
        tracker.verdicts.advance(head);
        let oldest_useful =
            (head - tracker.verdicts.retention_minutes()).ceil_to(tracker.slice_minutes);
        if tracker.judged_until < oldest_useful {
            tracker.judged_until = oldest_useful;
        }
        let complete = self.data_until.map_or(head, |until| until.min(head));
        while tracker.judged_until + tracker.slice_minutes <= complete {
            let start = tracker.judged_until;
            let end = start + tracker.slice_minutes;
            let sum = self.counts.sum_between(start, end).sum;
            let (bad, total) = spec.count_kind.bad_and_total(sum);
            let verdict = SliceCounts::judge(total - bad, total, &spec.method);
            // A verdict is recorded in the slice's last minute, so windows count whole slices.
            let _ = tracker.verdicts.add(end - 1, verdict);
            tracker.judged_until = end;
        }
    }

    /// Brings the SLO to `now`: budget, burn rates, alert transitions.
    pub fn evaluate(&mut self, spec: &SloSpec, now: Timestamp) -> Result<Evaluation, WindowError> {
        let head = Minute::containing(now);
        self.counts.advance(head);
        self.judge_slices(spec, head);
        let bounds = self.bounds(&spec.window, now)?;
        let end = head + 1;
        let window_sum = self.counts.sum_between(Minute::ceil(bounds.start), end);
        let (bad, total) = spec.count_kind.bad_and_total(window_sum.sum);
        let partial_window = window_sum.truncated || Minute::ceil(bounds.start) < self.created;

        let budget = match (&self.slices, spec.method.slice()) {
            (Some(tracker), Some(slice)) => {
                let judged = tracker
                    .verdicts
                    .sum_between(Minute::ceil(bounds.start), end)
                    .sum;
                let window_slices =
                    (bounds.period.as_secs() / slice.as_secs().max(1)).max(1) as u64;
                Budget::timeslices(spec.objective, &spec.method, judged, window_slices, slice)
            }
            _ => Budget::occurrences(spec.objective, bad, total),
        };

        let period = spec.window.nominal_period();
        // Every window length this evaluation reads, their sums gathered in one pass (see
        // `TieredSeries::sums_last`).
        let mut lengths = [0i64; MAX_WINDOWS];
        let mut n_lengths = 0;
        let mut want = |minutes: i64| {
            if !lengths[..n_lengths].contains(&minutes) && n_lengths < MAX_WINDOWS {
                lengths[n_lengths] = minutes;
                n_lengths += 1;
            }
        };
        for pair in &spec.policy.pairs {
            want(pair.long_window.whole_minutes());
            want(pair.short_window.whole_minutes());
        }
        let current_minutes = spec.policy.current_window.whole_minutes();
        want(current_minutes);
        if let Some(rule) = spec.policy.no_data {
            want(rule.after.whole_minutes());
        }
        let mut sums = [Counts::default(); MAX_WINDOWS];
        self.counts.sums_last(&lengths[..n_lengths], &mut sums);
        // Event counts over the last `minutes`, as (bad, total).
        let events_over = |minutes: i64| {
            let sum = match lengths[..n_lengths]
                .iter()
                .position(|length| *length == minutes)
            {
                Some(index) => sums[index],
                None => self.counts.sum_last(minutes).sum,
            };
            spec.count_kind.bad_and_total(sum)
        };
        let burn_over = |minutes: i64, events: (u64, u64)| -> Option<f64> {
            match &self.slices {
                Some(tracker) => {
                    let judged = tracker.verdicts.sum_last(minutes).sum;
                    budget::slice_burn_rate(spec.objective, &spec.method, judged)
                }
                None => budget::burn_rate(spec.objective, events.0, events.1),
            }
        };

        let mut pairs = Vec::with_capacity(spec.policy.pairs.len());
        let mut wanted: Option<Severity> = None;
        for pair in &spec.policy.pairs {
            let factor = pair.factor(period);
            let long_minutes = pair.long_window.whole_minutes();
            let long_events = events_over(long_minutes);
            let long_burn_rate = burn_over(long_minutes, long_events);
            let short_minutes = pair.short_window.whole_minutes();
            let short_burn_rate = burn_over(short_minutes, events_over(short_minutes));
            let burning = exceeds(long_burn_rate, factor) && exceeds(short_burn_rate, factor);
            let (long_bad, long_total) = long_events;
            let guarded =
                long_total < spec.policy.min_total_events || long_bad < spec.policy.min_bad_events;
            let reading = PairReading {
                pair: *pair,
                factor,
                long_burn_rate,
                short_burn_rate,
                burning,
                guarded,
            };
            if reading.fires() {
                wanted = wanted.max(Some(pair.severity));
            }
            pairs.push(reading);
        }
        let current_burn_rate = burn_over(current_minutes, events_over(current_minutes));

        let no_data = spec.policy.no_data.and_then(|rule| {
            let minutes = rule.after.whole_minutes();
            let old_enough = end - self.created >= minutes;
            let silent = events_over(minutes).1 == 0;
            (old_enough && silent).then_some(rule.severity)
        });

        let mut transitions = Vec::new();
        self.alerts.step(wanted, no_data, now, &mut transitions);

        let until_reset = match spec.window {
            Window::Rolling(_) => None,
            Window::Calendar(_) => Some(Span::seconds(bounds.end.as_second() - now.as_second())),
        };
        let exhaustion = budget::exhaustion(&budget, current_burn_rate, bounds.period, until_reset);

        Ok(Evaluation {
            at: now,
            budget,
            bad,
            total,
            window_start: window_sum.start.start(),
            window_end: bounds.end,
            period: bounds.period,
            partial_window,
            pairs,
            current_burn_rate,
            exhaustion,
            no_data: no_data.is_some(),
            transitions,
        })
    }
}
