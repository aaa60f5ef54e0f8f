//! `nines simulate`: a scenario's traffic played through the real evaluator and alert policy
//! on a virtual clock, much faster than real time.
//!
//! The window before the scenario starts is filled with traffic like the first phase's, so that
//! budgets and long alert windows start as they would on a service that has been running (turn
//! it off with `prefill = false`). Each step's traffic is recorded at the start of the step and
//! the SLO is evaluated at its end, as the server's evaluator would.

use std::collections::BTreeMap;

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
    /// Who the first page reached, when, through which steps; `None` when the scenario has
    /// no escalation policies or no page fired.
    pub paging: Option<PagingReport>,
}

/// The first page of a scenario, played through the routing tree and its escalation policy on
/// the virtual clock.
#[derive(Debug, Clone, PartialEq)]
pub struct PagingReport {
    /// The policy the page's alert was routed to; `None`: no route and no owner's policy.
    pub policy: Option<String>,
    pub steps: Vec<PagingStep>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PagingStep {
    /// Since the scenario started.
    pub offset: Span,
    pub what: PagingWhat,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PagingWhat {
    Opened {
        summary: String,
    },
    /// One person reached by a step, on the channels of their contacts.
    Notified {
        person: String,
        name: String,
        channels: Vec<String>,
        policy: String,
        step: usize,
        round: u32,
        via: String,
    },
    /// A step whose targets reached nobody (nobody on call, no contacts): the page moves on.
    NobodyReached {
        policy: String,
        step: usize,
        round: u32,
    },
    /// The last step of the last round passed unacknowledged.
    Exhausted,
    Acknowledged {
        by: String,
    },
    /// The alert resolved, and with it the page.
    Resolved,
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
    let end = at(start + scenario.duration().as_secs());
    let paging = simulate_paging(scenario, &transitions, at(start), end);
    SimulationReport {
        paging,
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

/// The first page-severity burn-rate alert of the run, routed and escalated as the server's
/// pager does (same routing tree, same escalation machine, people on call at each instant),
/// acknowledged when the scenario says so, resolved when the alert resolves.
pub fn simulate_paging(
    scenario: &Scenario,
    transitions: &[SimulatedTransition],
    start: Timestamp,
    end: Timestamp,
) -> Option<PagingReport> {
    use nines_core::oncall::escalation::{PageEffect, PageInput, PageState, advance};

    let catalog = &scenario.catalog;
    if catalog.oncall.escalation_policies.is_empty() {
        return None;
    }
    let fired = transitions.iter().find(|t| {
        t.notice.severity == Severity::Page
            && t.notice.change == Change::Fired
            && t.notice.kind == AlertKind::BurnRate
    })?;
    let opened = fired.notice.at;
    let resolved_at = transitions
        .iter()
        .filter(|t| t.notice.at > opened && t.notice.kind == AlertKind::BurnRate)
        .find(|t| t.notice.severity == Severity::Page && t.notice.change != Change::Fired)
        .map(|t| t.notice.at);
    let slo = scenario.slo();
    let mut labels: BTreeMap<String, String> = slo.labels.clone();
    labels.insert("alertname".to_string(), "SLOBurnRate".to_string());
    labels.insert("slo".to_string(), slo.id.as_str().to_string());
    labels.insert("service".to_string(), slo.service.clone());
    labels.insert("severity".to_string(), "page".to_string());
    let offset = |time: Timestamp| Span::seconds(time.as_second() - start.as_second());
    let summary = format!(
        "{} ({}): error budget burning too fast",
        slo.name, slo.service
    );
    let mut steps = vec![PagingStep {
        offset: offset(opened),
        what: PagingWhat::Opened { summary },
    }];
    let fingerprint = format!("slo:{}:burn_rate", slo.id);
    let Some((policy, _group)) = crate::oncall::pager::route(catalog, &labels, &fingerprint) else {
        return Some(PagingReport {
            policy: None,
            steps,
        });
    };
    let policies = |id: &str| {
        catalog
            .oncall
            .escalation_policies
            .iter()
            .find(|policy| policy.id == id)
    };
    let acknowledge_at = scenario.acknowledge.as_ref().and_then(|ack| {
        opened
            .checked_add(ack.after.to_jiff())
            .ok()
            .map(|at| (at, ack.by.clone()))
    });
    let mut state = PageState::new(&policy);
    let mut input = PageInput::Trigger;
    let mut now = opened;
    // Each round of the loop is one input; a policy has finitely many steps and rounds.
    for _ in 0..10_000 {
        let Ok((next, effects)) = advance(&state, &policies, &input, now) else {
            break;
        };
        state = next;
        let mut skip = false;
        for effect in effects {
            match effect {
                PageEffect::Notify {
                    policy,
                    step,
                    round,
                    targets,
                } => {
                    let mut reached_any = false;
                    for reached in catalog.oncall.directory.resolve(&targets, now) {
                        let Some(person) = catalog.oncall.directory.person(&reached.person) else {
                            continue;
                        };
                        let channels: Vec<String> = person
                            .contacts
                            .iter()
                            .filter(|contact| can_page(catalog, contact))
                            .map(|contact| contact.channel.clone())
                            .collect();
                        if channels.is_empty() {
                            continue;
                        }
                        reached_any = true;
                        steps.push(PagingStep {
                            offset: offset(now),
                            what: PagingWhat::Notified {
                                person: person.id.clone(),
                                name: person.name.clone(),
                                channels,
                                policy: policy.clone(),
                                step,
                                round,
                                via: reached.via.to_string(),
                            },
                        });
                    }
                    if !reached_any {
                        steps.push(PagingStep {
                            offset: offset(now),
                            what: PagingWhat::NobodyReached {
                                policy,
                                step,
                                round,
                            },
                        });
                        skip = true;
                    }
                }
                PageEffect::Exhausted => steps.push(PagingStep {
                    offset: offset(now),
                    what: PagingWhat::Exhausted,
                }),
            }
        }
        if skip && state.next_at.is_some() {
            // Nobody at this step: the next one at once, as the pager does.
            state.next_at = Some(now);
            input = PageInput::Timer;
            continue;
        }
        // What happens next: the acknowledgement, the resolution or the timer, whichever is
        // first within the scenario.
        let mut next: Option<(Timestamp, PageInput)> = None;
        let mut consider = |time: Timestamp, what: PageInput| {
            if time >= now && time <= end && next.as_ref().is_none_or(|(t, _)| time < *t) {
                next = Some((time, what));
            }
        };
        if state.acknowledged_by.is_none()
            && let Some((time, by)) = &acknowledge_at
        {
            consider(*time, PageInput::Acknowledge { by: by.clone() });
        }
        if let Some(time) = resolved_at {
            consider(
                time,
                PageInput::Resolve {
                    by: "alert".to_string(),
                },
            );
        }
        if let Some(time) = state.next_at {
            consider(time, PageInput::Timer);
        }
        let Some((time, what)) = next else {
            break;
        };
        match &what {
            PageInput::Acknowledge { by } => steps.push(PagingStep {
                offset: offset(time),
                what: PagingWhat::Acknowledged { by: by.clone() },
            }),
            PageInput::Resolve { .. } => {
                steps.push(PagingStep {
                    offset: offset(time),
                    what: PagingWhat::Resolved,
                });
                break;
            }
            _ => {}
        }
        now = time;
        input = what;
    }
    Some(PagingReport {
        policy: Some(policy),
        steps,
    })
}

/// Whether a contact can carry a page, as the pager finds when it renders the notice: its
/// channel exists and takes pages (not Alertmanager), and an email channel has an address.
fn can_page(
    catalog: &nines_spec::Catalog,
    contact: &nines_core::oncall::directory::Contact,
) -> bool {
    use nines_spec::catalog::ChannelKind;
    catalog
        .channels
        .iter()
        .find(|channel| channel.id == contact.channel)
        .is_some_and(|channel| match &channel.kind {
            ChannelKind::Alertmanager { .. } => false,
            ChannelKind::Email { .. } => contact.address.is_some(),
            _ => true,
        })
}
