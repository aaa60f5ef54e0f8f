//! The on-call directory: who a step's targets reach at a given time.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use nines_core::oncall::directory::{Contact, Directory, Person, Reached, Team};
use nines_core::oncall::escalation::Target;
use nines_core::oncall::schedule::{Layer, Override, Schedule, ShiftLength};

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn person(id: &str) -> Person {
    Person {
        id: id.to_string(),
        name: id.to_uppercase(),
        time_zone: TimeZone::get("Europe/Berlin").unwrap(),
        contacts: vec![Contact {
            channel: "email".to_string(),
            address: Some(format!("{id}@example.com")),
        }],
    }
}

fn directory() -> Directory {
    let rotation = Layer {
        name: "weekly".to_string(),
        members: vec!["ann".to_string(), "bob".to_string()],
        start: "2026-01-05T09:00".parse().unwrap(),
        shift: ShiftLength::Weeks(1),
        restrictions: Vec::new(),
    };
    let mut late_start = rotation.clone();
    late_start.start = "2030-01-07T09:00".parse().unwrap();
    Directory {
        people: ["ann", "bob", "cat", "dan"]
            .into_iter()
            .map(person)
            .collect(),
        teams: vec![Team {
            id: "db".to_string(),
            name: "Databases".to_string(),
            members: vec!["cat".to_string(), "ghost".to_string(), "ann".to_string()],
            escalation_policy: Some("db-pages".to_string()),
        }],
        schedules: vec![
            Schedule {
                id: "primary".to_string(),
                time_zone: TimeZone::get("Europe/Berlin").unwrap(),
                layers: vec![rotation],
                overrides: vec![Override {
                    person: "dan".to_string(),
                    starts: ts("2026-01-20T12:00+01:00"),
                    ends: ts("2026-01-20T14:00+01:00"),
                }],
            },
            Schedule {
                id: "future".to_string(),
                time_zone: TimeZone::get("Europe/Berlin").unwrap(),
                layers: vec![late_start],
                overrides: Vec::new(),
            },
        ],
    }
}

fn reached(directory: &Directory, targets: &[Target], now: &str) -> Vec<(String, Target)> {
    directory
        .resolve(targets, ts(now))
        .into_iter()
        .map(|Reached { person, via }| (person, via))
        .collect()
}

fn target(kind: &str, id: &str) -> Target {
    match kind {
        "person" => Target::Person(id.to_string()),
        "team" => Target::Team(id.to_string()),
        "schedule" => Target::Schedule(id.to_string()),
        _ => Target::Policy(id.to_string()),
    }
}

#[test]
fn lookups_by_id() {
    let directory = directory();
    assert_eq!(directory.person("bob").unwrap().name, "BOB");
    assert_eq!(directory.team("db").unwrap().members.len(), 3);
    assert_eq!(directory.schedule("primary").unwrap().layers.len(), 1);
    assert!(directory.person("ghost").is_none());
    assert!(directory.team("web").is_none());
    assert!(directory.schedule("secondary").is_none());
}

#[test]
fn people_teams_and_schedules_each_reach_someone_once_in_target_order() {
    let directory = directory();
    // Week of 2026-01-12: bob is on call.
    let targets = [
        target("schedule", "primary"),
        target("team", "db"),
        target("person", "bob"),
        target("person", "dan"),
    ];
    assert_eq!(
        reached(&directory, &targets, "2026-01-13T10:00+01:00"),
        [
            ("bob".to_string(), target("schedule", "primary")),
            ("cat".to_string(), target("team", "db")),
            ("ann".to_string(), target("team", "db")),
            ("dan".to_string(), target("person", "dan")),
        ]
    );
}

#[test]
fn a_schedule_reaches_whoever_is_on_call_now_overrides_included() {
    let directory = directory();
    let targets = [target("schedule", "primary")];
    let at = |now| reached(&directory, &targets, now);
    assert_eq!(at("2026-01-20T11:59+01:00")[0].0, "ann");
    assert_eq!(at("2026-01-20T12:00+01:00")[0].0, "dan");
    assert_eq!(at("2026-01-20T14:00+01:00")[0].0, "ann");
    assert_eq!(at("2026-01-26T09:00+01:00")[0].0, "bob");
}

#[test]
fn unknown_ids_empty_schedules_and_policies_reach_nobody() {
    let directory = directory();
    let targets = [
        target("person", "ghost"),
        target("team", "web"),
        target("schedule", "secondary"),
        target("schedule", "future"),
        target("policy", "db-pages"),
    ];
    assert_eq!(reached(&directory, &targets, "2026-01-13T10:00+01:00"), []);
    // A team member who is not a known person is skipped; the others are reached.
    assert_eq!(
        reached(
            &directory,
            &[target("team", "db")],
            "2026-01-13T10:00+01:00"
        ),
        [
            ("cat".to_string(), target("team", "db")),
            ("ann".to_string(), target("team", "db")),
        ]
    );
}
