//! Incidents: the state machine (lifecycle, every illegal move, invariants under random
//! commands), timeline order and Markdown, postmortem drafts and action items, and the
//! blameless-language check.

use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use nines_core::incident::machine::EventKind;
use nines_core::incident::postmortem::PLACEHOLDERS;
use nines_core::incident::{
    ActionItem, ActionItemError, ActionStatus, BlameFinding, Completion, DEFAULT_TEMPLATE,
    Incident, IncidentCommand, IncidentError, IncidentEvent, IncidentStatus, PostmortemInput,
    Priority, Role, Rubric, TimelineEntry, apply, check, draft, overdue, render_markdown, timeline,
};
use proptest::prelude::*;

fn t0() -> Timestamp {
    "2025-03-04T10:00:00Z".parse().unwrap()
}

fn at(minutes: i64) -> Timestamp {
    t0().checked_add(SignedDuration::from_mins(minutes))
        .unwrap()
}

fn rubric() -> Rubric {
    Rubric::default_three()
}

fn open_command(severity: &str) -> IncidentCommand {
    IncidentCommand::Open {
        id: "INC-7".to_string(),
        title: "checkout returns 500s".to_string(),
        severity: severity.to_string(),
        by: "alice".to_string(),
    }
}

fn status(status: IncidentStatus) -> IncidentCommand {
    IncidentCommand::SetStatus {
        status,
        by: "alice".to_string(),
        note: None,
    }
}

fn resolve() -> IncidentCommand {
    IncidentCommand::Resolve {
        by: "alice".to_string(),
    }
}

fn note(text: &str) -> IncidentCommand {
    IncidentCommand::AddNote {
        text: text.to_string(),
        by: "bob".to_string(),
    }
}

fn reopen(after_postmortem: bool) -> IncidentCommand {
    IncidentCommand::Reopen {
        by: "carol".to_string(),
        reason: Some("errors are back".to_string()),
        after_postmortem,
    }
}

fn publish() -> IncidentCommand {
    IncidentCommand::PublishPostmortem {
        by: "alice".to_string(),
    }
}

/// An incident driven through `apply`, keeping every event.
struct Run {
    incident: Option<Incident>,
    events: Vec<IncidentEvent>,
}

impl Run {
    fn new() -> Run {
        Run {
            incident: None,
            events: Vec::new(),
        }
    }

    fn opened() -> Run {
        let mut run = Run::new();
        run.ok(open_command("SEV2"), 0);
        run
    }

    fn incident(&self) -> &Incident {
        self.incident.as_ref().unwrap()
    }

    fn ok(&mut self, command: IncidentCommand, minute: i64) -> Vec<IncidentEvent> {
        let (next, events) = apply(self.incident.as_ref(), &rubric(), &command, at(minute))
            .unwrap_or_else(|error| panic!("{command:?} failed: {error}"));
        assert!(!events.is_empty(), "{command:?} wrote no event");
        self.incident = Some(next);
        self.events.extend(events.iter().cloned());
        events
    }

    /// The command fails; the incident is the one we had (the caller keeps it).
    fn err(&self, command: IncidentCommand, minute: i64) -> IncidentError {
        let before = self.incident.clone();
        let error = apply(self.incident.as_ref(), &rubric(), &command, at(minute))
            .map(|(next, _)| next)
            .expect_err("the command should fail");
        assert_eq!(self.incident, before);
        error
    }
}

#[test]
fn the_default_rubric_has_three_written_levels() {
    let rubric = Rubric::default_three();
    assert_eq!(rubric.ids(), ["SEV1", "SEV2", "SEV3"]);
    let sev1 = rubric.level("sev1").unwrap();
    assert_eq!((sev1.id.as_str(), sev1.rank), ("SEV1", 1));
    assert!(sev1.definition.contains("outage"));
    assert!(sev1.definition.contains("data"));
    assert!(
        rubric
            .level("SEV2")
            .unwrap()
            .definition
            .contains("key feature")
    );
    assert!(
        rubric
            .level("SEV3")
            .unwrap()
            .definition
            .contains("workaround")
    );
    assert!(rubric.level("SEV4").is_none());
}

#[test]
fn statuses_and_roles_have_names() {
    for status in IncidentStatus::ALL {
        assert_eq!(IncidentStatus::from_name(status.name()), Some(status));
    }
    assert_eq!(IncidentStatus::from_name("closed"), None);
    for role in [
        Role::Commander,
        Role::ResolverLead,
        Role::Communications,
        Role::Scribe,
        Role::Custom("customer-liaison".to_string()),
    ] {
        assert_eq!(Role::parse(role.name()), Some(role));
    }
    assert_eq!(Role::parse(" IC "), Some(Role::Commander));
    assert_eq!(Role::parse("resolver_lead"), Some(Role::ResolverLead));
    assert_eq!(Role::parse("comms"), Some(Role::Communications));
    assert_eq!(Role::parse("  "), None);
}

#[test]
fn a_full_lifecycle_writes_its_events_in_order() {
    let mut run = Run::new();
    run.ok(open_command("sev2"), 0);
    assert_eq!(run.incident().severity, "SEV2");
    assert_eq!(run.incident().status, IncidentStatus::Investigating);
    run.ok(
        IncidentCommand::AssignRole {
            role: Role::Commander,
            person: "bob".to_string(),
            by: "alice".to_string(),
        },
        1,
    );
    run.ok(
        IncidentCommand::LinkPage {
            page: "page-42".to_string(),
        },
        1,
    );
    run.ok(
        IncidentCommand::LinkService {
            service: "checkout".to_string(),
        },
        1,
    );
    run.ok(
        IncidentCommand::LinkSlo {
            slo: "checkout-availability".to_string(),
        },
        1,
    );
    run.ok(
        IncidentCommand::SetSeverity {
            severity: "SEV1".to_string(),
            by: "bob".to_string(),
        },
        2,
    );
    run.ok(
        IncidentCommand::SetStatus {
            status: IncidentStatus::Identified,
            by: "bob".to_string(),
            note: Some("bad config push".to_string()),
        },
        5,
    );
    run.ok(
        IncidentCommand::StatusUpdate {
            text: "we found the cause and are rolling back".to_string(),
            by: "bob".to_string(),
            public: true,
        },
        6,
    );
    run.ok(status(IncidentStatus::Monitoring), 10);
    run.ok(status(IncidentStatus::Identified), 12);
    run.ok(status(IncidentStatus::Monitoring), 15);
    run.ok(resolve(), 30);
    run.ok(note("rollback confirmed by support"), 31);
    run.ok(publish(), 60 * 24);
    assert_eq!(
        run.err(reopen(false), 60 * 25),
        IncidentError::PostmortemPublished {
            id: "INC-7".to_string()
        }
    );
    run.ok(reopen(true), 60 * 25);
    run.ok(resolve(), 60 * 26);

    let lines: Vec<String> = run
        .events
        .iter()
        .map(|event| {
            format!(
                "{} {} {} {}",
                event.at.duration_since(t0()).as_mins(),
                event.kind,
                event.actor.as_deref().unwrap_or("-"),
                event.text
            )
        })
        .collect();
    let expected = [
        "0 incident.opened alice SEV2 opened: checkout returns 500s",
        "1 incident.role alice bob is commander",
        "1 incident.linked - page page-42 linked",
        "1 incident.linked - service checkout linked",
        "1 incident.linked - SLO checkout-availability linked",
        "2 incident.severity bob severity raised: SEV2 -> SEV1",
        "5 incident.status bob investigating -> identified: bad config push",
        "6 incident.update bob we found the cause and are rolling back",
        "10 incident.status alice identified -> monitoring",
        "12 incident.status alice monitoring -> identified (moved back)",
        "15 incident.status alice identified -> monitoring",
        "30 incident.resolved alice resolved (was monitoring)",
        "31 incident.note bob rollback confirmed by support",
        "1440 incident.postmortem_published alice postmortem published",
        "1500 incident.reopened carol reopened after the postmortem was published: errors are back",
        "1560 incident.resolved alice resolved (was investigating)",
    ];
    assert_eq!(lines, expected);

    let backward = &run.events[9];
    assert_eq!(backward.fields["backward"], "true");
    assert_eq!(run.events[8].fields["backward"], "false");
    assert_eq!(run.events[7].fields["public"], "true");

    let incident = run.incident();
    assert_eq!(incident.severity, "SEV1");
    assert_eq!(incident.status, IncidentStatus::Resolved);
    assert_eq!(incident.resolved_at, Some(at(60 * 26)));
    assert_eq!(incident.reopened, 1);
    assert!(!incident.postmortem_published, "reopening unpublishes it");
    assert_eq!(incident.holder(&Role::Commander), Some("bob"));
    assert_eq!(incident.pages, ["page-42"]);
    assert_eq!(incident.services, ["checkout"]);
    assert_eq!(incident.slos, ["checkout-availability"]);
    assert_eq!(incident.duration(), Some(SignedDuration::from_hours(26)));
    for event in &run.events {
        assert_eq!(EventKind::from_name(event.kind.name()), Some(event.kind));
    }
}

#[test]
fn skipping_forward_and_resolving_through_set_status_are_allowed() {
    let mut run = Run::opened();
    run.ok(status(IncidentStatus::Monitoring), 1);
    let events = run.ok(
        IncidentCommand::SetStatus {
            status: IncidentStatus::Resolved,
            by: "alice".to_string(),
            note: Some("error rate back to normal".to_string()),
        },
        2,
    );
    assert_eq!(events[0].kind, EventKind::Resolved);
    assert_eq!(events[0].fields["note"], "error rate back to normal");
    assert_eq!(run.incident().resolved_at, Some(at(2)));
}

#[test]
fn roles_are_assigned_replaced_and_unassigned() {
    let mut run = Run::opened();
    let assign = |role: Role, person: &str| IncidentCommand::AssignRole {
        role,
        person: person.to_string(),
        by: "alice".to_string(),
    };
    run.ok(assign(Role::Scribe, "dave"), 1);
    let events = run.ok(assign(Role::Scribe, " erin "), 2);
    assert_eq!(events[0].text, "erin is scribe (was dave)");
    run.ok(
        assign(Role::Custom("customer-liaison".to_string()), "frank"),
        2,
    );
    assert_eq!(run.incident().roles.len(), 2);
    let events = run.ok(
        IncidentCommand::UnassignRole {
            role: Role::Scribe,
            by: "alice".to_string(),
        },
        3,
    );
    assert_eq!(events[0].text, "erin is no longer scribe");
    assert_eq!(run.incident().holder(&Role::Scribe), None);
}

/// Every illegal move, its error, and (by `Run::err`) nothing changed.
#[test]
fn every_illegal_move_is_an_error_and_changes_nothing() {
    let empty = Run::new();
    assert_eq!(
        empty.err(resolve(), 0),
        IncidentError::NotOpened {
            action: "resolve it"
        }
    );
    let open_with = |title: &str, severity: &str, by: &str| IncidentCommand::Open {
        id: "INC-1".to_string(),
        title: title.to_string(),
        severity: severity.to_string(),
        by: by.to_string(),
    };
    assert_eq!(
        empty.err(open_with("  ", "SEV1", "alice"), 0),
        IncidentError::EmptyTitle
    );
    assert!(matches!(
        empty.err(open_with("db down", "SEV1", ""), 0),
        IncidentError::EmptyActor { .. }
    ));
    let unknown = empty.err(open_with("db down", "SEV0", "alice"), 0);
    assert_eq!(
        unknown.to_string(),
        "unknown severity \"SEV0\": the rubric has SEV1, SEV2, SEV3"
    );
    assert_eq!(
        empty.err(
            IncidentCommand::Open {
                id: " ".to_string(),
                title: "db down".to_string(),
                severity: "SEV1".to_string(),
                by: "alice".to_string(),
            },
            0
        ),
        IncidentError::EmptyId
    );

    let open = Run::opened();
    let id = || "INC-7".to_string();
    assert_eq!(
        open.err(open_command("SEV1"), 1),
        IncidentError::AlreadyOpen { id: id() }
    );
    assert_eq!(
        open.err(status(IncidentStatus::Investigating), 1),
        IncidentError::SameStatus {
            id: id(),
            status: IncidentStatus::Investigating
        }
    );
    assert!(matches!(
        open.err(
            IncidentCommand::SetStatus {
                status: IncidentStatus::Identified,
                by: "alice".to_string(),
                note: Some(" ".to_string()),
            },
            1
        ),
        IncidentError::EmptyText { .. }
    ));
    assert!(matches!(
        open.err(
            IncidentCommand::SetSeverity {
                severity: "critical".to_string(),
                by: "alice".to_string(),
            },
            1
        ),
        IncidentError::UnknownSeverity { .. }
    ));
    assert_eq!(
        open.err(
            IncidentCommand::SetSeverity {
                severity: "sev2".to_string(),
                by: "alice".to_string(),
            },
            1
        ),
        IncidentError::SameSeverity {
            id: id(),
            severity: "SEV2".to_string()
        }
    );
    let given_to_nobody = open.err(
        IncidentCommand::AssignRole {
            role: Role::Commander,
            person: " ".to_string(),
            by: "alice".to_string(),
        },
        1,
    );
    assert_eq!(
        given_to_nobody.to_string(),
        "role commander cannot be given to an empty name"
    );
    assert_eq!(
        open.err(
            IncidentCommand::AssignRole {
                role: Role::Custom(String::new()),
                person: "bob".to_string(),
                by: "alice".to_string(),
            },
            1
        ),
        IncidentError::EmptyRole
    );
    assert_eq!(
        open.err(
            IncidentCommand::UnassignRole {
                role: Role::Scribe,
                by: "alice".to_string(),
            },
            1
        ),
        IncidentError::RoleNotAssigned {
            id: id(),
            role: "scribe".to_string()
        }
    );
    assert!(matches!(
        open.err(note(""), 1),
        IncidentError::EmptyText { what: "note" }
    ));
    assert!(matches!(
        open.err(
            IncidentCommand::StatusUpdate {
                text: "\n".to_string(),
                by: "alice".to_string(),
                public: false,
            },
            1
        ),
        IncidentError::EmptyText {
            what: "status update"
        }
    ));
    assert!(matches!(
        open.err(
            IncidentCommand::LinkPage {
                page: String::new()
            },
            1
        ),
        IncidentError::EmptyLink { what: "page" }
    ));
    assert_eq!(
        open.err(reopen(false), 1),
        IncidentError::NotResolved { id: id() }
    );
    assert_eq!(
        open.err(publish(), 1),
        IncidentError::PostmortemOfOpenIncident {
            id: id(),
            status: IncidentStatus::Investigating
        }
    );

    let mut linked = Run::opened();
    linked.ok(
        IncidentCommand::LinkPage {
            page: "page-1".to_string(),
        },
        1,
    );
    linked.ok(
        IncidentCommand::AssignRole {
            role: Role::Commander,
            person: "bob".to_string(),
            by: "alice".to_string(),
        },
        1,
    );
    assert!(matches!(
        linked.err(
            IncidentCommand::LinkPage {
                page: " page-1 ".to_string()
            },
            2
        ),
        IncidentError::AlreadyLinked { .. }
    ));
    assert!(matches!(
        linked.err(
            IncidentCommand::AssignRole {
                role: Role::Commander,
                person: "bob".to_string(),
                by: "alice".to_string(),
            },
            2
        ),
        IncidentError::AlreadyAssigned { .. }
    ));

    let mut resolved = Run::opened();
    resolved.ok(resolve(), 5);
    assert_eq!(
        resolved.err(resolve(), 6),
        IncidentError::AlreadyResolved { id: id() }
    );
    assert_eq!(
        resolved.err(status(IncidentStatus::Resolved), 6),
        IncidentError::AlreadyResolved { id: id() }
    );
    let refused = [
        status(IncidentStatus::Monitoring),
        IncidentCommand::SetSeverity {
            severity: "SEV1".to_string(),
            by: "alice".to_string(),
        },
        IncidentCommand::AssignRole {
            role: Role::Scribe,
            person: "bob".to_string(),
            by: "alice".to_string(),
        },
        IncidentCommand::UnassignRole {
            role: Role::Scribe,
            by: "alice".to_string(),
        },
        IncidentCommand::LinkPage {
            page: "page-2".to_string(),
        },
        IncidentCommand::LinkService {
            service: "cart".to_string(),
        },
        IncidentCommand::LinkSlo {
            slo: "cart-latency".to_string(),
        },
        IncidentCommand::StatusUpdate {
            text: "all good".to_string(),
            by: "alice".to_string(),
            public: true,
        },
    ];
    for command in refused {
        let error = resolved.err(command.clone(), 6);
        assert!(
            matches!(error, IncidentError::Resolved { .. }),
            "{command:?}: {error}"
        );
        assert!(error.to_string().contains("reopen it first"), "{error}");
    }

    let mut published = Run::opened();
    published.ok(resolve(), 5);
    published.ok(publish(), 6);
    assert_eq!(
        published.err(publish(), 7),
        IncidentError::PostmortemAlreadyPublished { id: id() }
    );
    let error = published.err(reopen(false), 7);
    assert!(error.to_string().contains("after_postmortem"), "{error}");
}

#[test]
fn a_reopen_before_the_postmortem_needs_no_confirmation() {
    let mut run = Run::opened();
    run.ok(resolve(), 5);
    let events = run.ok(reopen(false), 6);
    assert_eq!(events[0].text, "reopened: errors are back");
    assert_eq!(run.incident().status, IncidentStatus::Investigating);
    assert_eq!(run.incident().resolved_at, None);
    assert_eq!(run.incident().duration(), None);
}

fn any_command() -> impl Strategy<Value = IncidentCommand> {
    let person = prop::sample::select(vec!["alice", "bob", "", " "]).prop_map(str::to_string);
    let text = prop::sample::select(vec!["rolled back", "", "  "]).prop_map(str::to_string);
    let status = prop::sample::select(IncidentStatus::ALL.to_vec());
    let severity =
        prop::sample::select(vec!["SEV1", "sev2", "SEV3", "SEV9"]).prop_map(str::to_string);
    let role = prop::sample::select(vec![
        Role::Commander,
        Role::Scribe,
        Role::Custom(String::new()),
    ]);
    let link = prop::sample::select(vec!["a", "b", ""]).prop_map(str::to_string);
    prop_oneof![
        (text.clone(), severity.clone(), person.clone()).prop_map(|(title, severity, by)| {
            IncidentCommand::Open {
                id: "INC-1".to_string(),
                title,
                severity,
                by,
            }
        }),
        (status, person.clone(), prop::option::of(text.clone()))
            .prop_map(|(status, by, note)| IncidentCommand::SetStatus { status, by, note }),
        (severity, person.clone())
            .prop_map(|(severity, by)| IncidentCommand::SetSeverity { severity, by }),
        (role.clone(), person.clone(), person.clone())
            .prop_map(|(role, person, by)| { IncidentCommand::AssignRole { role, person, by } }),
        (role, person.clone()).prop_map(|(role, by)| IncidentCommand::UnassignRole { role, by }),
        link.clone()
            .prop_map(|page| IncidentCommand::LinkPage { page }),
        link.clone()
            .prop_map(|service| IncidentCommand::LinkService { service }),
        link.prop_map(|slo| IncidentCommand::LinkSlo { slo }),
        (text.clone(), person.clone()).prop_map(|(text, by)| IncidentCommand::AddNote { text, by }),
        (text, person.clone(), any::<bool>())
            .prop_map(|(text, by, public)| IncidentCommand::StatusUpdate { text, by, public }),
        person
            .clone()
            .prop_map(|by| IncidentCommand::Resolve { by }),
        (person.clone(), any::<bool>()).prop_map(|(by, after_postmortem)| {
            IncidentCommand::Reopen {
                by,
                reason: None,
                after_postmortem,
            }
        }),
        person.prop_map(|by| IncidentCommand::PublishPostmortem { by }),
    ]
}

proptest! {
    /// Under any command sequence: a success writes events stamped now and keeps the
    /// invariants; a resolved incident changes only by reopen, publish or note.
    #[test]
    fn random_commands_keep_the_invariants(commands in prop::collection::vec(any_command(), 1..40)) {
        let rubric = rubric();
        let mut incident: Option<Incident> = None;
        for (minute, command) in commands.iter().enumerate() {
            let now = at(minute as i64);
            let Ok((next, events)) = apply(incident.as_ref(), &rubric, command, now) else {
                continue;
            };
            prop_assert!(!events.is_empty());
            prop_assert!(events.iter().all(|event| event.at == now));
            prop_assert_eq!(next.is_resolved(), next.resolved_at.is_some());
            prop_assert!(rubric.level(&next.severity).is_some_and(|level| level.id == next.severity));
            prop_assert!(!next.title.is_empty());
            prop_assert!(next.roles.iter().all(|(role, person)| !role.is_empty() && !person.trim().is_empty()));
            if let Some(before) = &incident {
                if before.is_resolved() {
                    let allowed = matches!(
                        command,
                        IncidentCommand::Reopen { .. }
                            | IncidentCommand::PublishPostmortem { .. }
                            | IncidentCommand::AddNote { .. }
                    );
                    prop_assert!(allowed, "a resolved incident took {:?}", command);
                }
                prop_assert_eq!(&next.id, &before.id);
                prop_assert_eq!(next.opened_at, before.opened_at);
                prop_assert!(next.reopened >= before.reopened);
            }
            incident = Some(next);
        }
    }
}

fn entry(minute: i64, kind: &str, actor: Option<&str>, text: &str) -> TimelineEntry {
    TimelineEntry {
        at: at(minute),
        kind: kind.to_string(),
        actor: actor.map(str::to_string),
        text: text.to_string(),
    }
}

#[test]
fn the_timeline_orders_by_time_and_keeps_input_order_at_equal_times() {
    let entries = vec![
        entry(5, "incident.note", Some("bob"), "second at 5"),
        entry(1, "alert.fired", None, "first"),
        entry(5, "incident.note", Some("bob"), "third at 5"),
        entry(3, "page.sent", None, "between"),
        entry(5, "incident.note", Some("bob"), "fourth at 5"),
    ];
    let texts: Vec<String> = timeline(entries)
        .into_iter()
        .map(|entry| entry.text)
        .collect();
    assert_eq!(
        texts,
        [
            "first",
            "between",
            "second at 5",
            "third at 5",
            "fourth at 5"
        ]
    );
}

proptest! {
    #[test]
    fn the_timeline_is_a_stable_sort(minutes in prop::collection::vec(0i64..5, 0..30)) {
        let entries: Vec<TimelineEntry> = minutes
            .iter()
            .enumerate()
            .map(|(index, minute)| entry(*minute, "x", None, &index.to_string()))
            .collect();
        let ordered = timeline(entries);
        prop_assert_eq!(ordered.len(), minutes.len());
        for pair in ordered.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            prop_assert!(a.at <= b.at);
            if a.at == b.at {
                prop_assert!(a.text.parse::<usize>().unwrap() < b.text.parse::<usize>().unwrap());
            }
        }
    }
}

#[test]
fn the_timeline_renders_as_markdown_in_utc_or_a_zone() {
    let entries = vec![
        TimelineEntry {
            at: "2025-03-04T10:04:12Z".parse().unwrap(),
            kind: "alert.fired".to_string(),
            actor: None,
            text: "checkout 5xx above 2%".to_string(),
        },
        TimelineEntry {
            at: "2025-03-04T10:06:00Z".parse().unwrap(),
            kind: "incident.opened".to_string(),
            actor: Some("alice".to_string()),
            text: "SEV2 opened: *checkout*\nreturns 500s".to_string(),
        },
    ];
    assert_eq!(
        render_markdown(&entries, None),
        [
            "- 10:04:12 UTC **alert fired** checkout 5xx above 2%",
            "- 10:06:00 UTC **incident opened** SEV2 opened: \\*checkout\\* returns 500s (alice)",
        ]
    );
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    assert_eq!(
        render_markdown(&entries[..1], Some(&berlin)),
        ["- 11:04:12 CET **alert fired** checkout 5xx above 2%"]
    );
    let two_days = vec![
        entry(0, "incident.opened", Some("alice"), "opened"),
        entry(60 * 15, "incident.resolved", Some("alice"), "resolved"),
    ];
    assert_eq!(
        render_markdown(&two_days, None),
        [
            "- 2025-03-04 10:00:00 UTC **incident opened** opened (alice)",
            "- 2025-03-05 01:00:00 UTC **incident resolved** resolved (alice)",
        ]
    );
    assert!(render_markdown(&[], None).is_empty());
}

fn item(id: &str, owner: &str, due: Date, status: ActionStatus) -> ActionItem {
    ActionItem {
        id: id.to_string(),
        title: format!("fix {id}"),
        owner: owner.to_string(),
        due,
        priority: Priority::P2,
        status,
        created_at: t0(),
        closed_at: (status != ActionStatus::Open).then(|| at(60)),
    }
}

#[test]
fn action_items_are_validated() {
    assert_eq!(
        item("AI-1", "alice", date(2025, 3, 10), ActionStatus::Open).validate(),
        Ok(())
    );
    let ownerless = item("AI-2", "  ", date(2025, 3, 10), ActionStatus::Open);
    let problems = ownerless.validate().unwrap_err();
    assert_eq!(
        problems,
        [ActionItemError::MissingOwner {
            id: "AI-2".to_string()
        }]
    );
    assert!(
        problems[0]
            .to_string()
            .starts_with("action item without an owner")
    );

    let mut broken = item("", "", date(2025, 3, 10), ActionStatus::Done);
    broken.title = String::new();
    broken.closed_at = None;
    assert_eq!(broken.problems().len(), 4, "{:?}", broken.problems());

    let mut reopened = item("AI-3", "bob", date(2025, 3, 10), ActionStatus::Open);
    reopened.closed_at = Some(at(5));
    assert!(matches!(
        reopened.problems()[..],
        [ActionItemError::OpenWithClosingTime { .. }]
    ));
    let mut early = item("AI-4", "bob", date(2025, 3, 10), ActionStatus::Done);
    early.closed_at = Some(at(-5));
    assert!(matches!(
        early.problems()[..],
        [ActionItemError::ClosedBeforeCreated { .. }]
    ));
    assert_eq!(Priority::from_name("p1"), Some(Priority::P1));
    assert_eq!(
        ActionStatus::from_name("wont_do"),
        Some(ActionStatus::WontDo)
    );
}

#[test]
fn overdue_items_are_open_and_due_before_today() {
    let today = date(2025, 3, 10);
    let items = [
        item("past-open", "a", date(2025, 3, 9), ActionStatus::Open),
        item("today-open", "a", today, ActionStatus::Open),
        item("past-done", "a", date(2025, 3, 1), ActionStatus::Done),
        item("past-dropped", "a", date(2025, 3, 1), ActionStatus::WontDo),
        item("future-open", "a", date(2025, 4, 1), ActionStatus::Open),
        item(
            "long-past-open",
            "a",
            date(2024, 12, 31),
            ActionStatus::Open,
        ),
    ];
    let ids: Vec<&str> = overdue(&items, today)
        .iter()
        .map(|item| item.id.as_str())
        .collect();
    assert_eq!(ids, ["past-open", "long-past-open"]);

    let completion = Completion::of(&items);
    assert_eq!(
        completion,
        Completion {
            total: 6,
            open: 4,
            done: 1,
            wont_do: 1
        }
    );
    assert_eq!(completion.done_rate(), Some(0.2));
    assert_eq!(completion.closed_rate(), Some(2.0 / 6.0));
    assert_eq!(Completion::of(&[]).done_rate(), None);
    assert_eq!(Completion::of(&[]).closed_rate(), None);
}

fn resolved_incident() -> Incident {
    let mut run = Run::opened();
    run.ok(resolve(), 83);
    run.incident().clone()
}

#[test]
fn the_draft_has_every_section_and_the_action_items() {
    let incident = resolved_incident();
    let rubric = rubric();
    let items = [
        ActionItem {
            priority: Priority::P1,
            ..item("AI-1", "alice", date(2025, 3, 20), ActionStatus::Open)
        },
        item("AI-2", "bob", date(2025, 3, 5), ActionStatus::Done),
        item("AI-3", "carol", date(2025, 3, 5), ActionStatus::WontDo),
    ];
    let input = PostmortemInput {
        incident: &incident,
        rubric: &rubric,
        summary: "A config push broke checkout for 83 minutes. {{title}} stays literal.",
        impact: vec!["12% of checkouts failed".to_string()],
        budget_spent: vec![("checkout-availability".to_string(), 0.42)],
        timeline: vec![
            entry(83, "incident.resolved", Some("alice"), "resolved"),
            entry(0, "incident.opened", Some("alice"), "opened"),
        ],
        time_zone: None,
        causes: vec!["config pushes skip the canary".to_string()],
        went_well: vec!["the SLO alert paged within 2 minutes".to_string()],
        action_items: &items,
    };
    let text = draft(DEFAULT_TEMPLATE, &input);
    let expected = "# Postmortem: checkout returns 500s

Severity: SEV2 (Major): the product is degraded for many users, or a key feature is down
Duration: 1h 23m

## Summary

A config push broke checkout for 83 minutes. {{title}} stays literal.

## Impact

- 12% of checkouts failed
- SLO checkout-availability: 42% of the error budget spent

## Timeline

- 10:00:00 UTC **incident opened** opened (alice)
- 11:23:00 UTC **incident resolved** resolved (alice)

## Contributing causes

- config pushes skip the canary

## What went well

- the SLO alert paged within 2 minutes

## Action items

- [ ] **P1** fix AI-1: owner alice, due 2025-03-20 (AI-1)
- [x] **P2** fix AI-2: owner bob, due 2025-03-05 (AI-2)
- [ ] **P2** ~~fix AI-3~~ (won't do): owner carol, due 2025-03-05 (AI-3)
";
    assert_eq!(text, expected);
    for placeholder in PLACEHOLDERS {
        assert!(DEFAULT_TEMPLATE.contains(&format!("{{{{{placeholder}}}}}")));
    }
}

#[test]
fn a_draft_of_an_open_incident_with_nothing_recorded_says_so() {
    let run = Run::opened();
    let rubric = rubric();
    let input = PostmortemInput {
        incident: run.incident(),
        rubric: &rubric,
        summary: "",
        impact: Vec::new(),
        budget_spent: Vec::new(),
        timeline: Vec::new(),
        time_zone: None,
        causes: Vec::new(),
        went_well: Vec::new(),
        action_items: &[],
    };
    let text = draft(
        "{{ duration }} | {{causes}} | {{unknown}} | {{action_items}} | {{open",
        &input,
    );
    assert_eq!(
        text,
        "ongoing (investigating) | _None recorded._ | {{unknown}} | _None recorded._ | {{open"
    );
}

fn blamed(text: &str) -> Vec<String> {
    check(text, &["alice", "Bob Smith", "bob"])
        .into_iter()
        .map(|BlameFinding { sentence, .. }| sentence)
        .collect()
}

#[test]
fn blaming_sentences_are_flagged() {
    let positives = [
        "Alice forgot to renew the certificate.",
        "Bob failed to check the dashboard.",
        "Bob Smith broke the build.",
        "alice caused the outage",
        "Bob messed up the migration!",
        "Alice screwed up the DNS change.",
        "Bob neglected the warning.",
        "Alice should have known better.",
        "Bob didn't run the tests.",
        "Alice ignored the alert?",
        "Bob was careless with the flags.",
        "Bob accidentally broke the deploy.",
        "Alice had forgotten the runbook.",
        "Bob pushed the change and he forgot the canary.",
        "The outage was human error.",
        "It was Bob's fault.",
        "It was Alice’s fault.",
        "Bob is to blame.",
        "An incompetent change went out.",
        "That was careless.",
    ];
    for sentence in positives {
        assert_eq!(blamed(sentence), [sentence], "should flag {sentence:?}");
    }
    let across = "Bob deployed on Friday. She did not check the canary. The deploy failed.";
    assert_eq!(blamed(across), ["She did not check the canary."]);
}

#[test]
fn blameless_sentences_are_not_flagged() {
    let negatives = [
        "The deploy failed.",
        "Alice fixed the config.",
        "Bob rolled back the release at 10:42.",
        "The retry storm caused the outage.",
        "The health check didn't cover the dependency.",
        "Nobody is to blame.",
        "No one is to blame for this.",
        "Alice noticed the error rate and paged Bob.",
        "The canary failed to catch the regression.",
        "The alerts fired but they were routed to a muted channel.",
        "They forgot nothing: the runbook had no step for this.",
        "Carol forgot the runbook.",
        "Bobby's change was reviewed.",
    ];
    for sentence in negatives {
        assert!(blamed(sentence).is_empty(), "should not flag {sentence:?}");
    }
}

#[test]
fn findings_say_why_and_come_from_lists_too() {
    let text = "- Alice restarted the pods\n- Bob forgot the flag\n1. The load balancer broke";
    let findings = check(text, &["alice", "bob"]);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].sentence, "Bob forgot the flag");
    assert!(findings[0].reason.contains("Bob"), "{}", findings[0].reason);
    assert!(
        findings[0].reason.contains("forgot"),
        "{}",
        findings[0].reason
    );
    assert!(check("", &[]).is_empty());
    assert_eq!(check("Human error again.", &[]).len(), 1);
}
