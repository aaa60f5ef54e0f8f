//! Reliability reports: pure figures over a period `[from, to)` from facts the server reads out
//! of its store (pages, incidents, SLOs, on-call shifts, action items), for everything, one
//! team or one service.
//!
//! Every figure's definition is in the doc comment of its field; those comments are written for
//! users and copied into the README.

use std::collections::BTreeMap;

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// The stretch of time a report covers: from `from` (included) to `to` (excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    from: Timestamp,
    to: Timestamp,
}

/// Why a report cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("report period ends at {to}, which is not after its start {from}")]
    PeriodNotForward { from: Timestamp, to: Timestamp },
}

impl Period {
    /// A period `[from, to)`; refused when `to` is at or before `from`.
    pub fn new(from: Timestamp, to: Timestamp) -> Result<Period, ReportError> {
        if to <= from {
            return Err(ReportError::PeriodNotForward { from, to });
        }
        Ok(Period { from, to })
    }

    pub fn from(&self) -> Timestamp {
        self.from
    }

    pub fn to(&self) -> Timestamp {
        self.to
    }

    pub fn contains(&self, instant: Timestamp) -> bool {
        self.from <= instant && instant < self.to
    }
}

/// One page, as the pager recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageFact {
    pub id: String,
    pub service: Option<String>,
    pub team: Option<String>,
    pub created: Timestamp,
    /// The first acknowledgement: when, and by whom (a person id).
    pub acknowledged: Option<(Timestamp, String)>,
    pub resolved: Option<Timestamp>,
    /// Person ids notified, in the order they were first notified.
    pub notified: Vec<String>,
    /// Whether a responder marked the page actionable; `None` when nobody said.
    pub actionable: Option<bool>,
}

/// One incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentFact {
    pub id: String,
    pub severity: String,
    /// Services affected; an incident belongs to the scope of each of them.
    pub services: Vec<String>,
    pub team: Option<String>,
    pub opened: Timestamp,
    pub resolved: Option<Timestamp>,
}

/// One SLO's standing over the period, computed by the server from its counts.
#[derive(Debug, Clone, PartialEq)]
pub struct SloFact {
    pub id: String,
    pub service: Option<String>,
    pub team: Option<String>,
    /// The target share of good events, e.g. 0.999.
    pub objective: f64,
    /// good / total over the period; `None` without events.
    pub attainment: Option<f64>,
    /// Share of the error budget left at the end of the period (negative when overspent).
    pub budget_remaining_share: Option<f64>,
}

/// One on-call shift of the final schedule: `person` is on call over `[starts, ends)`, living
/// in `time_zone` (the schedule's zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftFact {
    pub person: String,
    /// The team owning the schedule; a team's report counts only its own shifts.
    pub team: Option<String>,
    pub time_zone: TimeZone,
    pub starts: Timestamp,
    pub ends: Timestamp,
}

/// Where an action item stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionStatus {
    Open,
    Done,
    WontDo,
}

/// One follow-up action item (from a postmortem, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionFact {
    pub id: String,
    pub service: Option<String>,
    pub team: Option<String>,
    pub created: Timestamp,
    /// When it became done or won't-do.
    pub closed: Option<Timestamp>,
    pub status: ActionStatus,
    pub due: jiff::civil::Date,
}

/// Working and sleeping hours, read in the responder's time zone. A window whose end is at or
/// before its start crosses midnight (`22:00`-`07:00`); start is included, end excluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    pub business_start: Time,
    pub business_end: Time,
    pub business_days: Vec<Weekday>,
    pub sleep_start: Time,
    pub sleep_end: Time,
}

impl Default for Hours {
    /// 09:00-18:00 Monday to Friday; sleep 22:00-07:00 every day.
    fn default() -> Hours {
        Hours {
            business_start: Time::constant(9, 0, 0, 0),
            business_end: Time::constant(18, 0, 0, 0),
            business_days: vec![
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
            ],
            sleep_start: Time::constant(22, 0, 0, 0),
            sleep_end: Time::constant(7, 0, 0, 0),
        }
    }
}

impl Hours {
    /// Inside business hours: on a business day (of the local date) and inside the business
    /// window.
    fn is_business(&self, zone: &TimeZone, instant: Timestamp) -> bool {
        let local = zone.to_datetime(instant);
        self.business_days.contains(&local.weekday())
            && in_daily_window(local.time(), self.business_start, self.business_end)
    }

    fn is_sleep(&self, zone: &TimeZone, instant: Timestamp) -> bool {
        let local = zone.to_datetime(instant);
        in_daily_window(local.time(), self.sleep_start, self.sleep_end)
    }
}

fn in_daily_window(time: Time, start: Time, end: Time) -> bool {
    if start < end {
        start <= time && time < end
    } else {
        time >= start || time < end
    }
}

/// Everything a report is computed from.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub pages: Vec<PageFact>,
    pub incidents: Vec<IncidentFact>,
    pub slos: Vec<SloFact>,
    pub shifts: Vec<ShiftFact>,
    pub actions: Vec<ActionFact>,
    pub hours: Hours,
}

/// What a report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every fact given.
    All,
    /// Pages, incidents, SLOs, action items and shifts of this team.
    Team(String),
    /// Pages, SLOs and action items of this service, incidents affecting it; every shift given
    /// (the caller passes the shifts of the schedules that page for the service).
    Service(String),
}

impl Scope {
    fn admits(&self, team: Option<&String>, service: Option<&String>) -> bool {
        match self {
            Scope::All => true,
            Scope::Team(id) => team == Some(id),
            Scope::Service(id) => service == Some(id),
        }
    }

    fn admits_incident(&self, incident: &IncidentFact) -> bool {
        match self {
            Scope::All => true,
            Scope::Team(id) => incident.team.as_ref() == Some(id),
            Scope::Service(id) => incident.services.contains(id),
        }
    }

    fn admits_shift(&self, shift: &ShiftFact) -> bool {
        match self {
            Scope::Team(id) => shift.team.as_ref() == Some(id),
            Scope::All | Scope::Service(_) => true,
        }
    }
}

/// A reliability report over one period and scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub period: Period,
    pub slos: SloSection,
    pub incidents: IncidentSection,
    pub pages: PageSection,
    pub on_call: OnCallSection,
    pub actions: ActionSection,
}

/// A count out of a total; the share is `None` when the total is zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Share {
    pub count: usize,
    pub out_of: usize,
}

impl Share {
    /// `count / out_of`, or `None` when nothing was counted.
    pub fn share(self) -> Option<f64> {
        if self.out_of == 0 {
            return None;
        }
        Some(self.count as f64 / self.out_of as f64)
    }
}

/// Durations summarised in whole seconds. Each duration is truncated to whole seconds (a
/// negative one, from clock skew, counts as 0). The mean is rounded to the nearest second
/// (halves up). The median and p90 are nearest-rank percentiles: the value at rank
/// `ceil(p * count)` of the sorted durations, so the median of an even count is the lower of
/// the two middle values. All three are `None` when `count` is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DurationStats {
    pub count: usize,
    pub mean_secs: Option<i64>,
    pub median_secs: Option<i64>,
    pub p90_secs: Option<i64>,
}

/// One SLO's line in the report.
#[derive(Debug, Clone, PartialEq)]
pub struct SloLine {
    pub id: String,
    pub objective: f64,
    /// good / total events over the period; `None` without events.
    pub attainment: Option<f64>,
    /// Share of the error budget left at the end of the period; negative when overspent.
    pub budget_remaining_share: Option<f64>,
    /// Attainment at or above the objective; `None` without events.
    pub meets_objective: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SloSection {
    /// Every SLO in scope, by id.
    pub slos: Vec<SloLine>,
    /// SLOs with events in the period (an attainment).
    pub n_with_data: usize,
    /// SLOs whose attainment over the period is at or above their objective.
    pub n_meeting_objective: usize,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct IncidentSection {
    /// Incidents opened in the period, by severity.
    pub opened_by_severity: BTreeMap<String, usize>,
    /// Incidents opened in the period.
    pub n_opened: usize,
    /// Time to resolve (MTTR): from an incident's opening to its resolution, over incidents
    /// opened in the period that are resolved (whenever that was, even after the period).
    pub time_to_resolve: DurationStats,
    /// Time between incidents (MTBI): the gaps between consecutive openings of incidents opened
    /// in the period (n incidents make n - 1 gaps); `None` with fewer than 2 incidents.
    pub time_between: Option<GapStats>,
}

/// Gaps between consecutive incident openings, in whole seconds (same rules as
/// [`DurationStats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GapStats {
    pub n_gaps: usize,
    pub mean_secs: i64,
    pub median_secs: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PageSection {
    /// Pages created in the period.
    pub n_created: usize,
    /// Time to acknowledge (MTTA): from a page's creation to its first acknowledgement, over
    /// pages created in the period that were acknowledged (whenever that was).
    pub time_to_acknowledge: DurationStats,
    /// Time to resolve a page: from its creation to its resolution, over pages created in the
    /// period that are resolved (whenever that was).
    pub time_to_resolve: DurationStats,
    /// Pages created outside business hours in the responder's time zone, out of pages whose
    /// responder's zone is known. The responder is whoever acknowledged the page first, or, for a
    /// page nobody acknowledged, the first person notified. Their time zone is that of their
    /// on-call shift covering the page's creation, or, when they were not on call then, of their
    /// shift nearest in time to it. Outside business hours means on a day that is not a business
    /// day, or outside the business window, in that zone.
    pub outside_business_hours: Share,
    /// Pages created during sleep hours in the responder's time zone (responder and zone as for
    /// `outside_business_hours`), out of pages whose responder's zone is known.
    pub sleep_hours: Share,
    /// Pages created in the period whose responder has no shift at all (or that notified
    /// nobody): left out of the two shares above.
    pub n_without_responder_zone: usize,
    /// Non-actionable page rate: pages created in the period marked not actionable, out of those
    /// marked actionable or not (unmarked pages are left out).
    pub non_actionable: Share,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct OnCallSection {
    /// On-call shifts overlapping the period; each is clipped to the period.
    pub n_shifts: usize,
    /// Pages per on-call shift: for each shift (clipped to the period), the pages created during
    /// it that notified the shift's person; the mean over shifts. `None` without shifts.
    pub pages_per_shift_mean: Option<f64>,
    /// The most pages any one shift had (same counting); 0 without shifts.
    pub pages_per_shift_max: usize,
    /// On-call time: the sum of shift durations within the period, in seconds (overlapping shifts
    /// of two schedules count twice).
    pub on_call_secs: i64,
    /// On-call time in shifts with no page (as counted for pages per shift), in seconds.
    pub quiet_secs: i64,
    /// Quiet on-call share: `quiet_secs / on_call_secs`; `None` without on-call time.
    pub quiet_share: Option<f64>,
}

/// Action items counted: created before the end of the period and not closed before its start.
/// Their state is taken at the end of the period: an item closed at or after `to` is still open
/// then.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionSection {
    /// Items done by the end of the period.
    pub n_done: usize,
    /// Items still open at the end of the period.
    pub n_open: usize,
    /// Items closed as won't-do by the end of the period; left out of the completion rate.
    pub n_wont_do: usize,
    /// Completion rate: done / (done + open); won't-do items are excluded. `None` when both are 0.
    pub completion_rate: Option<f64>,
    /// Age of open items: days from creation to the end of the period, mean; `None` without open
    /// items.
    pub open_age_mean_days: Option<f64>,
    /// Age of the oldest open item, in days.
    pub open_age_max_days: Option<f64>,
    /// Days from creation to closing of items done in the period (closed in it), median
    /// (nearest rank, the lower middle value for an even count); `None` without such items.
    pub done_days_to_close_median: Option<f64>,
}

/// Computes the report over `period` from `facts`, counting only what `scope` admits.
pub fn report(period: &Period, facts: &Facts, scope: &Scope) -> Report {
    let pages: Vec<&PageFact> = facts
        .pages
        .iter()
        .filter(|page| scope.admits(page.team.as_ref(), page.service.as_ref()))
        .filter(|page| period.contains(page.created))
        .collect();
    Report {
        period: *period,
        slos: slo_section(facts, scope),
        incidents: incident_section(period, facts, scope),
        pages: page_section(&pages, facts),
        on_call: on_call_section(period, &pages, facts, scope),
        actions: action_section(period, facts, scope),
    }
}

fn slo_section(facts: &Facts, scope: &Scope) -> SloSection {
    let mut slos: Vec<SloLine> = facts
        .slos
        .iter()
        .filter(|slo| scope.admits(slo.team.as_ref(), slo.service.as_ref()))
        .map(|slo| SloLine {
            id: slo.id.clone(),
            objective: slo.objective,
            attainment: slo.attainment,
            budget_remaining_share: slo.budget_remaining_share,
            meets_objective: slo.attainment.map(|attainment| attainment >= slo.objective),
        })
        .collect();
    slos.sort_by(|a, b| a.id.cmp(&b.id));
    let n_with_data = slos.iter().filter(|slo| slo.attainment.is_some()).count();
    let n_meeting_objective = slos
        .iter()
        .filter(|slo| slo.meets_objective == Some(true))
        .count();
    SloSection {
        slos,
        n_with_data,
        n_meeting_objective,
    }
}

fn incident_section(period: &Period, facts: &Facts, scope: &Scope) -> IncidentSection {
    let mut incidents: Vec<&IncidentFact> = facts
        .incidents
        .iter()
        .filter(|incident| scope.admits_incident(incident))
        .filter(|incident| period.contains(incident.opened))
        .collect();
    incidents.sort_by_key(|incident| incident.opened);

    let mut opened_by_severity = BTreeMap::new();
    for incident in &incidents {
        *opened_by_severity
            .entry(incident.severity.clone())
            .or_insert(0) += 1;
    }
    let time_to_resolve = duration_stats(
        incidents
            .iter()
            .filter_map(|incident| Some(whole_secs(incident.opened, incident.resolved?)))
            .collect(),
    );
    let gaps: Vec<i64> = incidents
        .windows(2)
        .map(|pair| whole_secs(pair[0].opened, pair[1].opened))
        .collect();
    let time_between = match (mean_secs(&gaps), nearest_rank(&gaps, 50)) {
        (Some(mean_secs), Some(median_secs)) => Some(GapStats {
            n_gaps: gaps.len(),
            mean_secs,
            median_secs,
        }),
        _ => None,
    };
    IncidentSection {
        opened_by_severity,
        n_opened: incidents.len(),
        time_to_resolve,
        time_between,
    }
}

fn page_section(pages: &[&PageFact], facts: &Facts) -> PageSection {
    let time_to_acknowledge = duration_stats(
        pages
            .iter()
            .filter_map(|page| {
                let (acknowledged, _) = page.acknowledged.as_ref()?;
                Some(whole_secs(page.created, *acknowledged))
            })
            .collect(),
    );
    let time_to_resolve = duration_stats(
        pages
            .iter()
            .filter_map(|page| Some(whole_secs(page.created, page.resolved?)))
            .collect(),
    );

    let mut outside_business_hours = Share::default();
    let mut sleep_hours = Share::default();
    let mut n_without_responder_zone = 0;
    for page in pages {
        let Some(zone) = responder_zone(page, &facts.shifts) else {
            n_without_responder_zone += 1;
            continue;
        };
        outside_business_hours.out_of += 1;
        sleep_hours.out_of += 1;
        if !facts.hours.is_business(zone, page.created) {
            outside_business_hours.count += 1;
        }
        if facts.hours.is_sleep(zone, page.created) {
            sleep_hours.count += 1;
        }
    }

    let mut non_actionable = Share::default();
    for page in pages {
        if let Some(actionable) = page.actionable {
            non_actionable.out_of += 1;
            if !actionable {
                non_actionable.count += 1;
            }
        }
    }

    PageSection {
        n_created: pages.len(),
        time_to_acknowledge,
        time_to_resolve,
        outside_business_hours,
        sleep_hours,
        n_without_responder_zone,
        non_actionable,
    }
}

/// The responder's zone (see [`PageSection::outside_business_hours`]). Shifts of every team
/// count: a person's zone does not depend on the report's scope.
fn responder_zone<'a>(page: &PageFact, shifts: &'a [ShiftFact]) -> Option<&'a TimeZone> {
    let responder = match &page.acknowledged {
        Some((_, person)) => person,
        None => page.notified.first()?,
    };
    let theirs = shifts.iter().filter(|shift| &shift.person == responder);
    let distance = |shift: &ShiftFact| {
        if page.created < shift.starts {
            shift.starts.duration_since(page.created)
        } else if page.created >= shift.ends {
            // ends is excluded, so an instant at `ends` is just outside, never at distance 0
            page.created.duration_since(shift.ends) + SignedDuration::from_nanos(1)
        } else {
            SignedDuration::ZERO
        }
    };
    theirs
        .min_by_key(|shift| (distance(shift), shift.starts))
        .map(|shift| &shift.time_zone)
}

fn on_call_section(
    period: &Period,
    pages: &[&PageFact],
    facts: &Facts,
    scope: &Scope,
) -> OnCallSection {
    let mut n_shifts = 0;
    let mut total_pages = 0;
    let mut pages_per_shift_max = 0;
    let mut on_call_secs = 0;
    let mut quiet_secs = 0;
    for shift in facts
        .shifts
        .iter()
        .filter(|shift| scope.admits_shift(shift))
    {
        let starts = shift.starts.max(period.from);
        let ends = shift.ends.min(period.to);
        if ends <= starts {
            continue;
        }
        let n_pages = pages
            .iter()
            .filter(|page| starts <= page.created && page.created < ends)
            .filter(|page| page.notified.contains(&shift.person))
            .count();
        let secs = whole_secs(starts, ends);
        n_shifts += 1;
        total_pages += n_pages;
        pages_per_shift_max = pages_per_shift_max.max(n_pages);
        on_call_secs += secs;
        if n_pages == 0 {
            quiet_secs += secs;
        }
    }
    let pages_per_shift_mean = (n_shifts > 0).then(|| total_pages as f64 / n_shifts as f64);
    let quiet_share = (on_call_secs > 0).then(|| quiet_secs as f64 / on_call_secs as f64);
    OnCallSection {
        n_shifts,
        pages_per_shift_mean,
        pages_per_shift_max,
        on_call_secs,
        quiet_secs,
        quiet_share,
    }
}

fn action_section(period: &Period, facts: &Facts, scope: &Scope) -> ActionSection {
    const SECS_PER_DAY: f64 = 86_400.0;
    let mut section = ActionSection::default();
    let mut open_ages_secs = Vec::new();
    let mut days_to_close_secs = Vec::new();
    for action in facts
        .actions
        .iter()
        .filter(|action| scope.admits(action.team.as_ref(), action.service.as_ref()))
    {
        if action.created >= period.to {
            continue;
        }
        let closed_by_end = action.closed.filter(|closed| *closed < period.to);
        if closed_by_end.is_some_and(|closed| closed < period.from) {
            continue;
        }
        let status_at_end = match (action.status, closed_by_end) {
            (ActionStatus::Done, Some(_)) => ActionStatus::Done,
            (ActionStatus::WontDo, Some(_)) => ActionStatus::WontDo,
            // a closed status without a closing time: take the status as it is
            (status, None) if action.closed.is_none() => status,
            // closed at or after the end of the period: still open then
            _ => ActionStatus::Open,
        };
        match status_at_end {
            ActionStatus::Open => {
                section.n_open += 1;
                open_ages_secs.push(whole_secs(action.created, period.to));
            }
            ActionStatus::Done => {
                section.n_done += 1;
                if let Some(closed) = closed_by_end {
                    days_to_close_secs.push(whole_secs(action.created, closed));
                }
            }
            ActionStatus::WontDo => section.n_wont_do += 1,
        }
    }
    let counted = section.n_done + section.n_open;
    section.completion_rate = (counted > 0).then(|| section.n_done as f64 / counted as f64);
    section.open_age_mean_days = (!open_ages_secs.is_empty()).then(|| {
        let total: i64 = open_ages_secs.iter().sum();
        total as f64 / open_ages_secs.len() as f64 / SECS_PER_DAY
    });
    section.open_age_max_days = open_ages_secs
        .iter()
        .max()
        .map(|secs| *secs as f64 / SECS_PER_DAY);
    section.done_days_to_close_median =
        nearest_rank(&days_to_close_secs, 50).map(|secs| secs as f64 / SECS_PER_DAY);
    section
}

/// Whole seconds from `start` to `end`, truncated; 0 when `end` is before `start`.
fn whole_secs(start: Timestamp, end: Timestamp) -> i64 {
    end.duration_since(start).as_secs().max(0)
}

fn duration_stats(secs: Vec<i64>) -> DurationStats {
    DurationStats {
        count: secs.len(),
        mean_secs: mean_secs(&secs),
        median_secs: nearest_rank(&secs, 50),
        p90_secs: nearest_rank(&secs, 90),
    }
}

/// The mean rounded to the nearest second, halves up (the values are never negative).
fn mean_secs(secs: &[i64]) -> Option<i64> {
    if secs.is_empty() {
        return None;
    }
    let total: i128 = secs.iter().map(|value| i128::from(*value)).sum();
    let count = secs.len() as i128;
    i64::try_from((2 * total + count) / (2 * count)).ok()
}

/// The nearest-rank percentile: the value at rank `ceil(percent / 100 * n)` (1-based) of the
/// sorted values.
fn nearest_rank(secs: &[i64], percent: usize) -> Option<i64> {
    if secs.is_empty() {
        return None;
    }
    let mut sorted = secs.to_vec();
    sorted.sort_unstable();
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}
