//! Escalation policies and the state machine of one page: trigger, escalate on a timer through
//! steps and rounds, hand over to another policy, acknowledge, unacknowledge, resolve.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::Timestamp;

use crate::Span;

/// Whom a step pages. Schedules, teams and people are resolved to people by the directory;
/// the state machine only emits targets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Person(String),
    Schedule(String),
    Team(String),
    /// Hand the page over to another policy (starting at its first step).
    Policy(String),
}

impl Target {
    /// `person`, `schedule`, `team` or `policy`.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Person(_) => "person",
            Target::Schedule(_) => "schedule",
            Target::Team(_) => "team",
            Target::Policy(_) => "policy",
        }
    }

    /// The id of the person, schedule, team or policy.
    pub fn id(&self) -> &str {
        match self {
            Target::Person(id) | Target::Schedule(id) | Target::Team(id) | Target::Policy(id) => id,
        }
    }
}

impl fmt::Display for Target {
    /// `person:alice`, `schedule:db-primary`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.id())
    }
}

/// One step of a policy: page these targets, then wait `delay` for an acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationStep {
    pub targets: Vec<Target>,
    /// Wait before the next step; default 5m ([`DEFAULT_ACK_TIMEOUT`]).
    pub delay: Span,
}

/// An escalation policy: its steps run in order, then again `repeat` more times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationPolicy {
    pub id: String,
    pub steps: Vec<EscalationStep>,
    /// Extra rounds through all steps after the first (0 = once).
    pub repeat: u32,
}

/// The delay of a step that names none.
pub const DEFAULT_ACK_TIMEOUT: Span = Span::minutes(5);

/// Policy ids that hand over to each other in a cycle (A -> B -> A): each cycle once, as the
/// list of ids in order.
///
/// Each cycle is listed without repeating its first id and starts at its smallest id
/// (`["a", "b"]` for a -> b -> a; `["a"]` for a policy handing over to itself); cycles are
/// sorted. Handoffs to unknown policies are ignored here. To stay cheap on pathological
/// configurations at most 64 cycles are listed.
pub fn handoff_cycles(policies: &[EscalationPolicy]) -> Vec<Vec<String>> {
    const MAX_CYCLES: usize = 64;
    let known: BTreeSet<&str> = policies.iter().map(|policy| policy.id.as_str()).collect();
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for policy in policies {
        let next = edges.entry(policy.id.as_str()).or_default();
        for step in &policy.steps {
            for target in &step.targets {
                if let Target::Policy(to) = target
                    && known.contains(to.as_str())
                {
                    next.insert(to.as_str());
                }
            }
        }
    }
    let mut cycles = Vec::new();
    // Each elementary cycle is found once, from its smallest id, walking only through larger ids
    // that can still get back to the start (so every branch of the walk ends in a cycle).
    for &start in &known {
        let allowed = nodes_reaching(start, &edges);
        let mut path = vec![start];
        walk_cycles(
            start,
            start,
            &edges,
            &allowed,
            &mut path,
            &mut cycles,
            MAX_CYCLES,
        );
        if cycles.len() >= MAX_CYCLES {
            break;
        }
    }
    cycles.sort();
    cycles
}

/// Ids greater than `start` from which `start` can be reached through ids greater than `start`.
fn nodes_reaching<'a>(
    start: &'a str,
    edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
) -> BTreeSet<&'a str> {
    let mut reaching = BTreeSet::new();
    let mut frontier = vec![start];
    while let Some(node) = frontier.pop() {
        for (&from, targets) in edges {
            if from > start && targets.contains(node) && reaching.insert(from) {
                frontier.push(from);
            }
        }
    }
    reaching
}

fn walk_cycles<'a>(
    start: &'a str,
    node: &'a str,
    edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    allowed: &BTreeSet<&'a str>,
    path: &mut Vec<&'a str>,
    cycles: &mut Vec<Vec<String>>,
    max_cycles: usize,
) {
    let Some(next) = edges.get(node) else {
        return;
    };
    for &to in next {
        if cycles.len() >= max_cycles {
            return;
        }
        if to == start {
            cycles.push(path.iter().map(|id| id.to_string()).collect());
        } else if allowed.contains(to) && !path.contains(&to) {
            path.push(to);
            walk_cycles(start, to, edges, allowed, path, cycles, max_cycles);
            path.pop();
        }
    }
}

/// Where a page stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageStatus {
    Triggered,
    Acknowledged,
    Resolved,
}

impl PageStatus {
    /// `triggered`, `acknowledged` or `resolved` (the stored and API form).
    pub fn name(self) -> &'static str {
        match self {
            PageStatus::Triggered => "triggered",
            PageStatus::Acknowledged => "acknowledged",
            PageStatus::Resolved => "resolved",
        }
    }

    /// The status named by [`PageStatus::name`].
    pub fn from_name(name: &str) -> Option<PageStatus> {
        match name {
            "triggered" => Some(PageStatus::Triggered),
            "acknowledged" => Some(PageStatus::Acknowledged),
            "resolved" => Some(PageStatus::Resolved),
            _ => None,
        }
    }
}

impl fmt::Display for PageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The escalation state of one page.
///
/// A page is *exhausted* when it is Triggered with `next_at` None (its last step of its last
/// round passed unanswered); a fresh [`PageState::new`] looks the same, and a Trigger starts
/// both from step 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageState {
    pub status: PageStatus,
    /// The policy escalating now (after a handoff, the policy handed to).
    pub policy: String,
    pub step: usize,
    pub round: u32,
    /// When the timer fires next (escalate); None when acknowledged, resolved or exhausted.
    pub next_at: Option<Timestamp>,
    pub acknowledged_by: Option<String>,
}

impl PageState {
    /// A page about to be triggered on `policy`: apply [`PageInput::Trigger`] next.
    pub fn new(policy: impl Into<String>) -> PageState {
        PageState {
            status: PageStatus::Triggered,
            policy: policy.into(),
            step: 0,
            round: 0,
            next_at: None,
            acknowledged_by: None,
        }
    }

    /// Triggered and no timer: the escalation ran out (or never started).
    pub fn is_exhausted(&self) -> bool {
        self.status == PageStatus::Triggered && self.next_at.is_none()
    }
}

/// What happens to a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageInput {
    Trigger,
    Acknowledge {
        by: String,
    },
    Unacknowledge {
        by: String,
    },
    Resolve {
        by: String,
    },
    /// The timer set by `next_at` fired.
    Timer,
}

/// What the caller must do after a move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageEffect {
    /// Notify the targets of this step now.
    Notify {
        policy: String,
        step: usize,
        round: u32,
        targets: Vec<Target>,
    },
    /// The last step of the last round passed without an acknowledgement.
    Exhausted,
}

/// An illegal move or a policy that cannot run; the state is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("the page is already resolved")]
    AlreadyResolved,
    #[error("the page is already acknowledged by {by}")]
    AlreadyAcknowledged { by: String },
    #[error("the page is not acknowledged")]
    NotAcknowledged,
    #[error("unknown escalation policy {0:?}")]
    UnknownPolicy(String),
    #[error("escalation policy {0:?} has no steps")]
    EmptyPolicy(String),
    #[error("escalation policies hand over in a loop: {}", .0.join(" -> "))]
    HandoffLoop(Vec<String>),
}

/// The escalation state machine. Trigger starts at step 0 of `policy` (the caller builds the
/// initial state with `PageState::new(policy)`), notifies it and sets next_at = now + delay.
/// Timer (ignored unless Triggered and next_at <= now) moves to the next step, wrapping to step 0
/// with round+1 while round < repeat, else Exhausted (next_at None). A step whose targets contain
/// Policy(p) hands over: state.policy = p, step 0, its targets notified (other targets of the step
/// are notified too). Acknowledge stops the timer; Unacknowledge re-triggers from step 0 round 0;
/// Resolve ends it. Illegal moves are errors and change nothing.
///
/// Decisions where the summary above is silent:
/// - Trigger on a Triggered page whose timer runs is a no-op (the alert is already escalating);
///   on an exhausted page it starts again from step 0 round 0 (nobody answered, page again);
///   on an Acknowledged page it is `AlreadyAcknowledged`, on a Resolved one `AlreadyResolved`
///   (a new alert after resolution opens a new page).
/// - A late timer moves one step and sets `next_at = now + delay`, so a server that was down
///   does not burst through every step at once.
/// - Unacknowledge restarts step 0 round 0 of the policy the page is on now (after a handoff,
///   the policy handed to). Resolve keeps `acknowledged_by` for the record.
/// - A handoff starts the new policy at round 0 (its own `repeat` applies). Only the first
///   Policy target of a step is followed. Notify is emitted only for steps with targets other
///   than the handoff; the Policy target itself is never in a Notify.
/// - A handoff chain that comes back to a step it already entered in the same move (A's step 0
///   hands to B whose step 0 hands to A) is `HandoffLoop` with the policy ids in order.
///   Handoffs from later steps are taken one per timer and cannot recurse; `handoff_cycles`
///   finds those loops statically for config validation.
/// - A policy whose steps shrank under a running page (config reload) wraps or exhausts at
///   the next timer as if the page were on its last step.
pub fn advance(
    state: &PageState,
    policies: &dyn Fn(&str) -> Option<&EscalationPolicy>,
    input: &PageInput,
    now: Timestamp,
) -> Result<(PageState, Vec<PageEffect>), PageError> {
    match input {
        PageInput::Trigger => match state.status {
            PageStatus::Resolved => Err(PageError::AlreadyResolved),
            PageStatus::Acknowledged => Err(PageError::AlreadyAcknowledged {
                by: state.acknowledged_by.clone().unwrap_or_default(),
            }),
            PageStatus::Triggered if state.next_at.is_some() => Ok((state.clone(), Vec::new())),
            PageStatus::Triggered => {
                let mut next = state.clone();
                next.acknowledged_by = None;
                let effects = enter_step(&mut next, policies, &state.policy, 0, 0, now)?;
                Ok((next, effects))
            }
        },
        PageInput::Acknowledge { by } => match state.status {
            PageStatus::Resolved => Err(PageError::AlreadyResolved),
            PageStatus::Acknowledged => Err(PageError::AlreadyAcknowledged {
                by: state.acknowledged_by.clone().unwrap_or_default(),
            }),
            PageStatus::Triggered => {
                let mut next = state.clone();
                next.status = PageStatus::Acknowledged;
                next.acknowledged_by = Some(by.clone());
                next.next_at = None;
                Ok((next, Vec::new()))
            }
        },
        PageInput::Unacknowledge { by: _ } => match state.status {
            PageStatus::Resolved => Err(PageError::AlreadyResolved),
            PageStatus::Triggered => Err(PageError::NotAcknowledged),
            PageStatus::Acknowledged => {
                let mut next = state.clone();
                next.status = PageStatus::Triggered;
                next.acknowledged_by = None;
                let effects = enter_step(&mut next, policies, &state.policy, 0, 0, now)?;
                Ok((next, effects))
            }
        },
        PageInput::Resolve { by: _ } => match state.status {
            PageStatus::Resolved => Err(PageError::AlreadyResolved),
            PageStatus::Triggered | PageStatus::Acknowledged => {
                let mut next = state.clone();
                next.status = PageStatus::Resolved;
                next.next_at = None;
                Ok((next, Vec::new()))
            }
        },
        PageInput::Timer => {
            let due = state.status == PageStatus::Triggered
                && state.next_at.is_some_and(|next_at| next_at <= now);
            if !due {
                return Ok((state.clone(), Vec::new()));
            }
            let policy = lookup(policies, &state.policy)?;
            let next_step = state.step.saturating_add(1);
            let mut next = state.clone();
            if next_step < policy.steps.len() {
                let effects = enter_step(
                    &mut next,
                    policies,
                    &state.policy,
                    next_step,
                    state.round,
                    now,
                )?;
                Ok((next, effects))
            } else if state.round < policy.repeat {
                let effects =
                    enter_step(&mut next, policies, &state.policy, 0, state.round + 1, now)?;
                Ok((next, effects))
            } else {
                next.step = policy.steps.len() - 1;
                next.next_at = None;
                Ok((next, vec![PageEffect::Exhausted]))
            }
        }
    }
}

fn lookup<'a>(
    policies: &dyn Fn(&'a str) -> Option<&'a EscalationPolicy>,
    id: &'a str,
) -> Result<&'a EscalationPolicy, PageError> {
    let policy = policies(id).ok_or_else(|| PageError::UnknownPolicy(id.to_string()))?;
    if policy.steps.is_empty() {
        return Err(PageError::EmptyPolicy(id.to_string()));
    }
    Ok(policy)
}

/// Puts `state` on `step` of `round` of `policy_id`, following handoffs, and returns the
/// notifications. On error `state` may be partly written; callers drop it.
fn enter_step(
    state: &mut PageState,
    policies: &dyn Fn(&str) -> Option<&EscalationPolicy>,
    policy_id: &str,
    step: usize,
    round: u32,
    now: Timestamp,
) -> Result<Vec<PageEffect>, PageError> {
    let mut effects = Vec::new();
    let mut entered: Vec<(String, usize)> = Vec::new();
    let mut policy_id = policy_id.to_string();
    let mut step = step;
    let mut round = round;
    loop {
        if entered
            .iter()
            .any(|(id, index)| *id == policy_id && *index == step)
        {
            let mut chain: Vec<String> = entered.into_iter().map(|(id, _)| id).collect();
            chain.push(policy_id);
            return Err(PageError::HandoffLoop(chain));
        }
        let policy = lookup(policies, &policy_id)?;
        // A config reload may have shrunk the policy under a running page.
        let step_index = step.min(policy.steps.len() - 1);
        let this_step = &policy.steps[step_index];
        let notified: Vec<Target> = this_step
            .targets
            .iter()
            .filter(|target| !matches!(target, Target::Policy(_)))
            .cloned()
            .collect();
        if !notified.is_empty() {
            effects.push(PageEffect::Notify {
                policy: policy_id.clone(),
                step: step_index,
                round,
                targets: notified,
            });
        }
        let handoff = this_step.targets.iter().find_map(|target| match target {
            Target::Policy(to) => Some(to.clone()),
            _ => None,
        });
        entered.push((policy_id.clone(), step_index));
        match handoff {
            Some(to) => {
                policy_id = to;
                step = 0;
                round = 0;
            }
            None => {
                let delay = this_step.delay;
                state.policy = policy_id;
                state.step = step_index;
                state.round = round;
                state.next_at = Some(now.checked_add(delay.to_jiff()).unwrap_or(Timestamp::MAX));
                return Ok(effects);
            }
        }
    }
}
