//! The escalation state machine of a page: walks with delays and rounds, acknowledgement,
//! resolution, late timers, handoffs and their loops, illegal moves.

use jiff::{SignedDuration, Timestamp};
use nines_core::Span;
use nines_core::oncall::escalation::{
    DEFAULT_ACK_TIMEOUT, EscalationPolicy, EscalationStep, PageEffect, PageError, PageInput,
    PageState, PageStatus, Target, advance, handoff_cycles,
};
use proptest::prelude::*;

fn target(text: &str) -> Target {
    let (kind, id) = text.split_once(':').unwrap();
    match kind {
        "person" => Target::Person(id.to_string()),
        "schedule" => Target::Schedule(id.to_string()),
        "team" => Target::Team(id.to_string()),
        "policy" => Target::Policy(id.to_string()),
        _ => panic!("unknown target kind {kind}"),
    }
}

/// `steps` as `(targets, delay)`, targets written `kind:id`.
fn policy(id: &str, repeat: u32, steps: &[(&[&str], &str)]) -> EscalationPolicy {
    EscalationPolicy {
        id: id.to_string(),
        steps: steps
            .iter()
            .map(|(targets, delay)| EscalationStep {
                targets: targets.iter().map(|text| target(text)).collect(),
                delay: Span::parse(delay).unwrap(),
            })
            .collect(),
        repeat,
    }
}

fn t0() -> Timestamp {
    "2025-01-01T00:00:00Z".parse().unwrap()
}

fn minutes(count: i64) -> Timestamp {
    t0().checked_add(SignedDuration::from_mins(count)).unwrap()
}

fn ack(by: &str) -> PageInput {
    PageInput::Acknowledge { by: by.to_string() }
}

fn unack(by: &str) -> PageInput {
    PageInput::Unacknowledge { by: by.to_string() }
}

fn resolve(by: &str) -> PageInput {
    PageInput::Resolve { by: by.to_string() }
}

/// A page driven through `advance`; every move is checked to leave the state alone on error.
struct Page {
    policies: Vec<EscalationPolicy>,
    state: PageState,
}

impl Page {
    fn new(policies: Vec<EscalationPolicy>, first: &str) -> Page {
        Page {
            policies,
            state: PageState::new(first),
        }
    }

    /// Applies the input; effects as text (`notify primary 1/0 person:alice`, `exhausted`) or
    /// the error.
    fn apply(&mut self, input: PageInput, now: Timestamp) -> Result<Vec<String>, PageError> {
        let before = self.state.clone();
        let lookup = |id: &str| self.policies.iter().find(|policy| policy.id == id);
        match advance(&self.state, &lookup, &input, now) {
            Ok((next, effects)) => {
                self.state = next;
                Ok(effects.iter().map(describe).collect())
            }
            Err(error) => {
                assert_eq!(
                    self.state, before,
                    "{input:?} failed and must change nothing"
                );
                Err(error)
            }
        }
    }

    fn ok(&mut self, input: PageInput, now: Timestamp) -> Vec<String> {
        self.apply(input.clone(), now)
            .unwrap_or_else(|error| panic!("{input:?} at {now}: {error}"))
    }

    /// `status policy step/round next_at-in-minutes`.
    fn at(&self) -> String {
        let next = match self.state.next_at {
            Some(next_at) => format!("+{}m", next_at.duration_since(t0()).as_mins()),
            None => "-".to_string(),
        };
        format!(
            "{} {} {}/{} {}",
            self.state.status, self.state.policy, self.state.step, self.state.round, next
        )
    }
}

fn describe(effect: &PageEffect) -> String {
    match effect {
        PageEffect::Notify {
            policy,
            step,
            round,
            targets,
        } => {
            let targets: Vec<String> = targets.iter().map(Target::to_string).collect();
            format!("notify {policy} {step}/{round} {}", targets.join(","))
        }
        PageEffect::Exhausted => "exhausted".to_string(),
    }
}

fn primary() -> EscalationPolicy {
    policy(
        "primary",
        1,
        &[
            (&["person:alice"], "5m"),
            (&["schedule:db", "team:dba"], "10m"),
        ],
    )
}

#[test]
fn a_full_walk_with_delays_and_a_repeat_round() {
    let mut page = Page::new(vec![primary()], "primary");
    assert_eq!(
        page.ok(PageInput::Trigger, t0()),
        ["notify primary 0/0 person:alice"]
    );
    assert_eq!(page.at(), "triggered primary 0/0 +5m");
    // Not due yet.
    assert_eq!(page.ok(PageInput::Timer, minutes(4)), Vec::<String>::new());
    assert_eq!(page.at(), "triggered primary 0/0 +5m");
    assert_eq!(
        page.ok(PageInput::Timer, minutes(5)),
        ["notify primary 1/0 schedule:db,team:dba"]
    );
    assert_eq!(page.at(), "triggered primary 1/0 +15m");
    assert_eq!(
        page.ok(PageInput::Timer, minutes(15)),
        ["notify primary 0/1 person:alice"]
    );
    assert_eq!(page.at(), "triggered primary 0/1 +20m");
    assert_eq!(
        page.ok(PageInput::Timer, minutes(20)),
        ["notify primary 1/1 schedule:db,team:dba"]
    );
    assert_eq!(page.at(), "triggered primary 1/1 +30m");
    assert_eq!(page.ok(PageInput::Timer, minutes(30)), ["exhausted"]);
    assert_eq!(page.at(), "triggered primary 1/1 -");
    assert!(page.state.is_exhausted());
    // An exhausted page has no timer: later timers do nothing.
    assert_eq!(
        page.ok(PageInput::Timer, minutes(300)),
        Vec::<String>::new()
    );
    assert_eq!(page.at(), "triggered primary 1/1 -");
    // Someone can still acknowledge and resolve it.
    assert_eq!(page.ok(ack("alice"), minutes(301)), Vec::<String>::new());
    assert_eq!(
        page.ok(resolve("alice"), minutes(302)),
        Vec::<String>::new()
    );
    assert_eq!(page.at(), "resolved primary 1/1 -");
}

#[test]
fn a_single_step_policy_without_repeat_exhausts_after_its_delay() {
    let mut page = Page::new(vec![policy("solo", 0, &[(&["person:bob"], "2m")])], "solo");
    assert_eq!(
        page.ok(PageInput::Trigger, t0()),
        ["notify solo 0/0 person:bob"]
    );
    assert_eq!(page.ok(PageInput::Timer, minutes(2)), ["exhausted"]);
    assert_eq!(page.at(), "triggered solo 0/0 -");
}

#[test]
fn repeat_wraps_a_single_step_onto_itself() {
    let mut page = Page::new(vec![policy("solo", 2, &[(&["person:bob"], "1m")])], "solo");
    page.ok(PageInput::Trigger, t0());
    assert_eq!(
        page.ok(PageInput::Timer, minutes(1)),
        ["notify solo 0/1 person:bob"]
    );
    assert_eq!(
        page.ok(PageInput::Timer, minutes(2)),
        ["notify solo 0/2 person:bob"]
    );
    assert_eq!(page.ok(PageInput::Timer, minutes(3)), ["exhausted"]);
}

#[test]
fn acknowledging_stops_the_timer_and_unacknowledging_restarts_at_step_zero() {
    let mut page = Page::new(vec![primary()], "primary");
    page.ok(PageInput::Trigger, t0());
    page.ok(PageInput::Timer, minutes(5));
    page.ok(PageInput::Timer, minutes(15));
    assert_eq!(page.at(), "triggered primary 0/1 +20m");
    assert_eq!(page.ok(ack("alice"), minutes(16)), Vec::<String>::new());
    assert_eq!(page.at(), "acknowledged primary 0/1 -");
    assert_eq!(page.state.acknowledged_by.as_deref(), Some("alice"));
    // The old timer firing anyway does nothing.
    assert_eq!(page.ok(PageInput::Timer, minutes(20)), Vec::<String>::new());
    assert_eq!(page.at(), "acknowledged primary 0/1 -");
    assert_eq!(
        page.ok(unack("alice"), minutes(30)),
        ["notify primary 0/0 person:alice"]
    );
    assert_eq!(page.at(), "triggered primary 0/0 +35m");
    assert_eq!(page.state.acknowledged_by, None);
    assert_eq!(
        page.ok(PageInput::Timer, minutes(35)),
        ["notify primary 1/0 schedule:db,team:dba"]
    );
}

#[test]
fn resolving_ends_the_page_and_keeps_who_acknowledged() {
    let mut page = Page::new(vec![primary()], "primary");
    page.ok(PageInput::Trigger, t0());
    page.ok(ack("carol"), minutes(1));
    assert_eq!(page.ok(resolve("dave"), minutes(2)), Vec::<String>::new());
    assert_eq!(page.at(), "resolved primary 0/0 -");
    assert_eq!(page.state.acknowledged_by.as_deref(), Some("carol"));
    // Resolving straight from triggered works too.
    let mut page = Page::new(vec![primary()], "primary");
    page.ok(PageInput::Trigger, t0());
    page.ok(resolve("dave"), minutes(1));
    assert_eq!(page.at(), "resolved primary 0/0 -");
    assert_eq!(page.ok(PageInput::Timer, minutes(5)), Vec::<String>::new());
}

#[test]
fn illegal_moves_are_errors_that_change_nothing() {
    let mut page = Page::new(vec![primary()], "primary");
    page.ok(PageInput::Trigger, t0());
    assert_eq!(
        page.apply(unack("x"), minutes(1)),
        Err(PageError::NotAcknowledged)
    );
    page.ok(ack("alice"), minutes(1));
    let acknowledged = Err(PageError::AlreadyAcknowledged {
        by: "alice".to_string(),
    });
    assert_eq!(page.apply(ack("bob"), minutes(2)), acknowledged);
    assert_eq!(page.apply(PageInput::Trigger, minutes(2)), acknowledged);
    assert_eq!(page.state.acknowledged_by.as_deref(), Some("alice"));
    page.ok(resolve("alice"), minutes(3));
    for input in [PageInput::Trigger, ack("x"), unack("x"), resolve("x")] {
        assert_eq!(
            page.apply(input.clone(), minutes(4)),
            Err(PageError::AlreadyResolved),
            "{input:?}"
        );
    }
    assert_eq!(page.at(), "resolved primary 0/0 -");
}

#[test]
fn error_messages_name_the_problem() {
    for (error, message) in [
        (PageError::AlreadyResolved, "the page is already resolved"),
        (
            PageError::AlreadyAcknowledged { by: "alice".into() },
            "the page is already acknowledged by alice",
        ),
        (PageError::NotAcknowledged, "the page is not acknowledged"),
        (
            PageError::UnknownPolicy("x".into()),
            "unknown escalation policy \"x\"",
        ),
        (
            PageError::EmptyPolicy("x".into()),
            "escalation policy \"x\" has no steps",
        ),
        (
            PageError::HandoffLoop(vec!["a".into(), "b".into(), "a".into()]),
            "escalation policies hand over in a loop: a -> b -> a",
        ),
    ] {
        assert_eq!(error.to_string(), message);
    }
}

#[test]
fn a_late_timer_moves_one_step_and_counts_the_delay_from_now() {
    let mut page = Page::new(vec![primary()], "primary");
    page.ok(PageInput::Trigger, t0());
    // The server was down for an hour: one step, not a burst through every step.
    assert_eq!(
        page.ok(PageInput::Timer, minutes(60)),
        ["notify primary 1/0 schedule:db,team:dba"]
    );
    assert_eq!(page.at(), "triggered primary 1/0 +70m");
    assert_eq!(page.ok(PageInput::Timer, minutes(60)), Vec::<String>::new());
    assert_eq!(
        page.ok(PageInput::Timer, minutes(500)),
        ["notify primary 0/1 person:alice"]
    );
    assert_eq!(page.at(), "triggered primary 0/1 +505m");
}

#[test]
fn trigger_is_a_no_op_while_escalating_and_restarts_an_exhausted_page() {
    let mut page = Page::new(vec![primary()], "primary");
    page.ok(PageInput::Trigger, t0());
    page.ok(PageInput::Timer, minutes(5));
    assert_eq!(
        page.ok(PageInput::Trigger, minutes(6)),
        Vec::<String>::new()
    );
    assert_eq!(page.at(), "triggered primary 1/0 +15m");
    for now in [15, 20, 30] {
        page.ok(PageInput::Timer, minutes(now));
    }
    assert!(page.state.is_exhausted());
    assert_eq!(
        page.ok(PageInput::Trigger, minutes(40)),
        ["notify primary 0/0 person:alice"]
    );
    assert_eq!(page.at(), "triggered primary 0/0 +45m");
}

#[test]
fn zero_delays_and_the_default_delay() {
    assert_eq!(DEFAULT_ACK_TIMEOUT, Span::minutes(5));
    let mut page = Page::new(
        vec![policy(
            "fast",
            0,
            &[(&["person:a"], "0s"), (&["person:b"], "0s")],
        )],
        "fast",
    );
    page.ok(PageInput::Trigger, t0());
    assert_eq!(page.at(), "triggered fast 0/0 +0m");
    assert_eq!(
        page.ok(PageInput::Timer, t0()),
        ["notify fast 1/0 person:b"]
    );
    assert_eq!(page.ok(PageInput::Timer, t0()), ["exhausted"]);
}

fn handoff_policies() -> Vec<EscalationPolicy> {
    vec![
        policy(
            "app",
            3,
            &[
                (&["person:alice"], "5m"),
                (&["person:xavier", "policy:db", "policy:never"], "5m"),
            ],
        ),
        policy(
            "db",
            0,
            &[(&["schedule:db-primary"], "15m"), (&["team:dba"], "10m")],
        ),
        policy("front-door", 0, &[(&["policy:app"], "1m")]),
        policy(
            "chain",
            0,
            &[(&["person:first", "policy:front-door"], "1m")],
        ),
    ]
}

#[test]
fn a_handoff_notifies_the_step_and_starts_the_other_policy() {
    let mut page = Page::new(handoff_policies(), "app");
    page.ok(PageInput::Trigger, t0());
    // Step 1 of app hands over to db (the first policy target): xavier and db's step 0 are
    // paged; the page then escalates on db from round 0 (app's repeat no longer applies).
    assert_eq!(
        page.ok(PageInput::Timer, minutes(5)),
        [
            "notify app 1/0 person:xavier",
            "notify db 0/0 schedule:db-primary"
        ]
    );
    assert_eq!(page.at(), "triggered db 0/0 +20m");
    assert_eq!(
        page.ok(PageInput::Timer, minutes(20)),
        ["notify db 1/0 team:dba"]
    );
    assert_eq!(page.ok(PageInput::Timer, minutes(30)), ["exhausted"]);
    assert_eq!(page.at(), "triggered db 1/0 -");
    // Acknowledged then unacknowledged: escalation restarts on the policy the page is on.
    page.ok(ack("dba"), minutes(31));
    assert_eq!(
        page.ok(unack("dba"), minutes(32)),
        ["notify db 0/0 schedule:db-primary"]
    );
}

#[test]
fn handoffs_at_step_zero_chain_within_one_move() {
    let mut page = Page::new(handoff_policies(), "chain");
    assert_eq!(
        page.ok(PageInput::Trigger, t0()),
        [
            "notify chain 0/0 person:first",
            "notify app 0/0 person:alice"
        ]
    );
    assert_eq!(page.at(), "triggered app 0/0 +5m");
}

#[test]
fn a_handoff_loop_is_refused_at_run_time() {
    let policies = vec![
        policy("a", 0, &[(&["person:x", "policy:b"], "5m")]),
        policy("b", 0, &[(&["policy:c"], "5m")]),
        policy("c", 0, &[(&["policy:a"], "5m")]),
        policy("self", 0, &[(&["policy:self"], "5m")]),
    ];
    let mut page = Page::new(policies.clone(), "a");
    assert_eq!(
        page.apply(PageInput::Trigger, t0()),
        Err(PageError::HandoffLoop(
            ["a", "b", "c", "a"].map(String::from).to_vec()
        ))
    );
    let mut page = Page::new(policies, "self");
    assert_eq!(
        page.apply(PageInput::Trigger, t0()),
        Err(PageError::HandoffLoop(
            ["self", "self"].map(String::from).to_vec()
        ))
    );
}

#[test]
fn a_handoff_to_itself_from_a_later_step_restarts_it() {
    let mut page = Page::new(
        vec![policy(
            "again",
            0,
            &[(&["person:a"], "5m"), (&["policy:again"], "5m")],
        )],
        "again",
    );
    page.ok(PageInput::Trigger, t0());
    assert_eq!(
        page.ok(PageInput::Timer, minutes(5)),
        ["notify again 0/0 person:a"]
    );
    assert_eq!(page.at(), "triggered again 0/0 +10m");
}

#[test]
fn unknown_and_empty_policies() {
    let policies = vec![
        policy("empty", 0, &[]),
        policy(
            "to-unknown",
            0,
            &[(&["person:a"], "1m"), (&["policy:gone"], "1m")],
        ),
        policy("to-empty", 0, &[(&["policy:empty"], "1m")]),
    ];
    let mut page = Page::new(policies.clone(), "missing");
    assert_eq!(
        page.apply(PageInput::Trigger, t0()),
        Err(PageError::UnknownPolicy("missing".into()))
    );
    let mut page = Page::new(policies.clone(), "empty");
    assert_eq!(
        page.apply(PageInput::Trigger, t0()),
        Err(PageError::EmptyPolicy("empty".into()))
    );
    let mut page = Page::new(policies.clone(), "to-empty");
    assert_eq!(
        page.apply(PageInput::Trigger, t0()),
        Err(PageError::EmptyPolicy("empty".into()))
    );
    let mut page = Page::new(policies.clone(), "to-unknown");
    page.ok(PageInput::Trigger, t0());
    assert_eq!(
        page.apply(PageInput::Timer, minutes(1)),
        Err(PageError::UnknownPolicy("gone".into()))
    );
    assert_eq!(page.at(), "triggered to-unknown 0/0 +1m");
    // The page's policy removed by a config reload: its timer reports it.
    page.policies.clear();
    assert_eq!(
        page.apply(PageInput::Timer, minutes(1)),
        Err(PageError::UnknownPolicy("to-unknown".into()))
    );
    // Acknowledging and resolving need no policy.
    page.ok(ack("a"), minutes(2));
    page.ok(resolve("a"), minutes(3));
}

#[test]
fn a_policy_that_shrank_under_a_running_page_wraps_at_the_next_timer() {
    let mut page = Page::new(vec![primary()], "primary");
    page.ok(PageInput::Trigger, t0());
    page.ok(PageInput::Timer, minutes(5));
    page.policies = vec![policy("primary", 0, &[(&["person:alice"], "5m")])];
    assert_eq!(page.ok(PageInput::Timer, minutes(15)), ["exhausted"]);
    assert_eq!(page.at(), "triggered primary 0/0 -");
}

#[test]
fn handoff_cycles_lists_each_cycle_once() {
    let policies = vec![
        policy("c", 0, &[(&["policy:a"], "1m")]),
        policy("a", 0, &[(&["policy:b"], "1m"), (&["policy:b"], "1m")]),
        policy("b", 0, &[(&["policy:c", "policy:a"], "1m")]),
        policy("d", 0, &[(&["person:x"], "1m"), (&["policy:d"], "1m")]),
        policy("e", 0, &[(&["policy:nowhere"], "1m")]),
        policy("f", 0, &[(&["policy:a"], "1m")]),
    ];
    assert_eq!(
        handoff_cycles(&policies),
        vec![
            vec!["a".to_string(), "b".to_string()],
            vec!["a".to_string(), "b".to_string(), "c".to_string()],
            vec!["d".to_string()],
        ]
    );
    assert_eq!(
        handoff_cycles(&handoff_policies()),
        Vec::<Vec<String>>::new()
    );
    assert_eq!(handoff_cycles(&[]), Vec::<Vec<String>>::new());
}

#[test]
fn handoff_cycles_stays_bounded_on_a_dense_graph() {
    // Every policy hands to every other: far more than 64 cycles.
    let ids: Vec<String> = (0..12).map(|index| format!("p{index:02}")).collect();
    let policies: Vec<EscalationPolicy> = ids
        .iter()
        .map(|id| EscalationPolicy {
            id: id.clone(),
            steps: vec![EscalationStep {
                targets: ids.iter().map(|to| Target::Policy(to.clone())).collect(),
                delay: DEFAULT_ACK_TIMEOUT,
            }],
            repeat: 0,
        })
        .collect();
    let cycles = handoff_cycles(&policies);
    assert_eq!(cycles.len(), 64);
}

#[test]
fn statuses_have_stable_names() {
    for status in [
        PageStatus::Triggered,
        PageStatus::Acknowledged,
        PageStatus::Resolved,
    ] {
        assert_eq!(PageStatus::from_name(status.name()), Some(status));
    }
    assert_eq!(PageStatus::Acknowledged.name(), "acknowledged");
    assert_eq!(PageStatus::from_name("open"), None);
    assert_eq!(target("schedule:db").to_string(), "schedule:db");
}

fn input_strategy() -> impl Strategy<Value = PageInput> {
    // Resolve is rare: everything after it is refused, which the sequence would mostly test.
    prop_oneof![
        3 => Just(PageInput::Trigger),
        8 => Just(PageInput::Timer),
        2 => prop::sample::select(vec!["alice", "bob"]).prop_map(ack),
        2 => prop::sample::select(vec!["alice", "bob"]).prop_map(unack),
        1 => Just(resolve("alice")),
    ]
}

fn step_strategy() -> impl Strategy<Value = EscalationStep> {
    let target = prop_oneof![
        "[a-c]".prop_map(Target::Person),
        "[a-c]".prop_map(Target::Schedule),
        "[p-u]".prop_map(Target::Policy),
    ];
    (prop::collection::vec(target, 1..3), 0i64..20).prop_map(|(targets, delay)| EscalationStep {
        targets,
        delay: Span::minutes(delay),
    })
}

fn policies_strategy() -> impl Strategy<Value = Vec<EscalationPolicy>> {
    // Policies p..t (u is never defined): some empty, handoffs at random, loops included.
    prop::collection::vec((prop::collection::vec(step_strategy(), 0..4), 0u32..3), 5).prop_map(
        |specs| {
            specs
                .into_iter()
                .zip(["p", "q", "r", "s", "t"])
                .map(|((steps, repeat), id)| EscalationPolicy {
                    id: id.to_string(),
                    steps,
                    repeat,
                })
                .collect()
        },
    )
}

proptest! {
    #[test]
    fn random_moves_never_panic_and_keep_the_invariants(
        policies in policies_strategy(),
        moves in prop::collection::vec((input_strategy(), 0i64..30), 1..40),
    ) {
        let lookup = |id: &str| policies.iter().find(|policy| policy.id == id);
        let mut state = PageState::new("p");
        let mut now = t0();
        // Whether escalation has started and not run out, per the effects seen.
        let mut running = false;
        for (input, wait) in moves {
            now = now.checked_add(SignedDuration::from_mins(wait)).unwrap();
            if state.status == PageStatus::Resolved && input == PageInput::Trigger {
                // A new alert after resolution: the pager opens a new page.
                prop_assert_eq!(advance(&state, &lookup, &input, now), Err(PageError::AlreadyResolved));
                state = PageState::new("p");
                running = false;
            }
            match advance(&state, &lookup, &input, now) {
                Err(error) => {
                    let expected_kind = match (&error, state.status) {
                        (PageError::AlreadyResolved, PageStatus::Resolved) => true,
                        (PageError::AlreadyAcknowledged { by }, PageStatus::Acknowledged) => {
                            Some(by) == state.acknowledged_by.as_ref()
                        }
                        (PageError::NotAcknowledged, PageStatus::Triggered) => {
                            matches!(input, PageInput::Unacknowledge { .. })
                        }
                        (
                            PageError::UnknownPolicy(_)
                            | PageError::EmptyPolicy(_)
                            | PageError::HandoffLoop(_),
                            _,
                        ) => matches!(
                            input,
                            PageInput::Trigger | PageInput::Timer | PageInput::Unacknowledge { .. }
                        ),
                        _ => false,
                    };
                    prop_assert!(expected_kind, "{:?} on {:?} from {:?}", error, input, state);
                    prop_assert!(!matches!(input, PageInput::Timer) || state.status == PageStatus::Triggered);
                }
                Ok((next, effects)) => {
                    for effect in &effects {
                        match effect {
                            PageEffect::Notify { policy, step, targets, .. } => {
                                prop_assert!(!targets.is_empty());
                                prop_assert!(!targets.iter().any(|target| matches!(target, Target::Policy(_))));
                                let known = lookup(policy).unwrap();
                                prop_assert!(*step < known.steps.len());
                            }
                            PageEffect::Exhausted => {
                                prop_assert!(matches!(input, PageInput::Timer));
                                running = false;
                            }
                        }
                    }
                    match input {
                        PageInput::Trigger if next.next_at.is_some() => running = true,
                        PageInput::Unacknowledge { .. } => running = true,
                        PageInput::Acknowledge { .. } | PageInput::Resolve { .. } => running = false,
                        _ => {}
                    }
                    prop_assert_eq!(
                        next.next_at.is_some(),
                        next.status == PageStatus::Triggered && running,
                        "{:?} after {:?}", next, input
                    );
                    if let Some(next_at) = next.next_at {
                        if !effects.is_empty() {
                            prop_assert!(next_at >= now);
                        }
                        let policy = lookup(&next.policy).unwrap();
                        prop_assert!(next.step < policy.steps.len());
                        prop_assert!(next.round <= policy.repeat);
                    }
                    if next.status == PageStatus::Acknowledged {
                        prop_assert!(next.acknowledged_by.is_some());
                    }
                    if next.status == PageStatus::Triggered && state.status == PageStatus::Acknowledged {
                        prop_assert_eq!(next.step, 0);
                    }
                    state = next;
                }
            }
        }
    }
}
