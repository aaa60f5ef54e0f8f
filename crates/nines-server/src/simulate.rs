//! `nines simulate`: a scenario's traffic played through the real evaluator and alert policy
//! on a virtual clock, much faster than real time.
//!
//! The window before the scenario starts is filled with traffic like the first phase's, so that
//! budgets and long alert windows start as they would on a service that has been running (turn
//! it off with `prefill = false`). Each step's traffic is recorded at the start of the step and
//! the SLO is evaluated at its end, as the server's evaluator would.

use jiff::Timestamp;
use nines_core::{AlertKind, Change, Severity, Span};
use nines_spec::scenario::{Phase, Scenario};

use crate::evaluator::{Fleet, Notice};

/// One alert transition, placed in the scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedTransition {
    /// Since the scenario started.
    pub offset: Span,
    pub phase: String,
    /// Since the phase it fell in started.
    pub phase_offset: Span,
    pub notice: Notice,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSummary {
    pub name: String,
    pub start: Span,
    pub duration: Span,
    pub requests: u64,
    pub bad: u64,
    /// Bad events of the phase as a share of the window's budget at the end.
    pub budget_spent_share: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimulationReport {
    pub scenario: String,
    pub slo: String,
    pub step: Span,
    pub evaluations: u64,
    pub transitions: Vec<SimulatedTransition>,
    pub phases: Vec<PhaseSummary>,
    pub budget_remaining_share: f64,
    pub budget_consumed_share: f64,
    pub sli: Option<f64>,
}

impl SimulationReport {
    /// When the first transition of `severity` and `change` happened, since the scenario start.
    pub fn first(&self, severity: Severity, change: Change) -> Option<&SimulatedTransition> {
        self.transitions.iter().find(|t| {
            t.notice.severity == severity
                && t.notice.change == change
                && t.notice.kind == AlertKind::BurnRate
        })
    }
}

/// Deterministic counts: carries the fraction of a request to the next step.
#[derive(Default)]
struct Carry {
    requests: f64,
    bad: f64,
}

impl Carry {
    fn take(&mut self, requests: f64, bad_share: f64) -> (u64, u64) {
        self.requests += requests;
        let whole_requests = self.requests.floor();
        self.requests -= whole_requests;
        self.bad += whole_requests * bad_share;
        let whole_bad = self.bad.floor().min(whole_requests);
        self.bad -= whole_bad;
        (whole_bad as u64, whole_requests as u64)
    }
}

pub struct Options {
    pub prefill: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options { prefill: true }
    }
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Plays `scenario`; `progress` is told the share done from time to time.
pub fn run(
    scenario: &Scenario,
    options: &Options,
    mut progress: impl FnMut(f64),
) -> SimulationReport {
    let slo = scenario.slo();
    let start = scenario.start.as_second();
    let first_second = if options.prefill {
        start - slo.spec.retention_minutes() * 60
    } else {
        start
    };
    let mut fleet = Fleet::new(&scenario.catalog, at(first_second));
    let id = slo.id.as_str().to_string();

    if options.prefill
        && let Some(first) = scenario.phases.first()
    {
        let mut carry = Carry::default();
        let bad_share = scenario.bad_share(first);
        let mut second = first_second;
        while second < start {
            let (bad, requests) = carry.take(first.requests_per_second * 60.0, bad_share);
            let _ = fleet.record(&id, at(second), bad, requests);
            second += 60;
        }
        // Settle alert states on the prefilled history, before the scenario starts.
        fleet.evaluate(at(start));
    }

    let step = scenario.step.as_secs().max(1);
    let total_seconds = scenario.duration().as_secs().max(1);
    let mut transitions = Vec::new();
    let mut phases = Vec::new();
    let mut evaluations = 0u64;
    let mut phase_start = start;
    let mut carry = Carry::default();
    for phase in &scenario.phases {
        let bad_share = scenario.bad_share(phase);
        let phase_end = phase_start + phase.duration.as_secs();
        let (mut requests, mut bad) = (0u64, 0u64);
        let mut second = phase_start;
        while second < phase_end {
            let this_step = step.min(phase_end - second);
            let (step_bad, step_requests) =
                carry.take(phase.requests_per_second * this_step as f64, bad_share);
            let _ = fleet.record(&id, at(second), step_bad, step_requests);
            requests += step_requests;
            bad += step_bad;
            second += this_step;
            evaluations += 1;
            for notice in fleet.evaluate(at(second)) {
                transitions.push(place(notice, start, phase, phase_start));
            }
            if evaluations.is_multiple_of(4096) {
                progress((second - start) as f64 / total_seconds as f64);
            }
        }
        phases.push(PhaseSummary {
            name: phase.name.clone(),
            start: Span::seconds(phase_start - start),
            duration: phase.duration,
            requests,
            bad,
            budget_spent_share: 0.0,
        });
        phase_start = phase_end;
    }
    progress(1.0);

    let last = fleet.get(&id).and_then(|entry| entry.last.clone());
    let (remaining, sli, allowed) = match &last {
        Some(evaluation) => (
            evaluation.budget.remaining_share,
            evaluation.budget.sli,
            evaluation.budget.allowed,
        ),
        None => (1.0, None, 0.0),
    };
    for phase in &mut phases {
        phase.budget_spent_share = if allowed > 0.0 {
            phase.bad as f64 / allowed
        } else {
            0.0
        };
    }
    SimulationReport {
        scenario: scenario.name.clone(),
        slo: format!("{} over {}", slo.spec.objective, slo.spec.window.describe()),
        step: scenario.step,
        evaluations,
        transitions,
        phases,
        budget_remaining_share: remaining,
        budget_consumed_share: 1.0 - remaining,
        sli,
    }
}

fn place(notice: Notice, start: i64, phase: &Phase, phase_start: i64) -> SimulatedTransition {
    let second = notice.at.as_second();
    SimulatedTransition {
        offset: Span::seconds(second - start),
        phase: phase.name.clone(),
        phase_offset: Span::seconds(second - phase_start),
        notice,
    }
}
