//! Tests of the on-call sections of the native format: the example loads into the expected
//! core values, every kind of bad input gives its located message, and warnings (coverage
//! gaps, rotation health, pages without runbooks or without anyone to reach) leave the
//! configuration loaded.

use jiff::Timestamp;
use jiff::civil::{Time, Weekday, date, time};
use jiff::tz::TimeZone;
use nines_core::Span;
use nines_core::oncall::directory::{Contact, Team};
use nines_core::oncall::escalation::{EscalationPolicy, EscalationStep, Target};
use nines_core::oncall::matcher::Matcher;
use nines_core::oncall::route::Route;
use nines_core::oncall::schedule::{Layer, Override, Restriction, Schedule, ShiftLength};
use nines_core::oncall::silence::MaintenanceWhen;
use nines_spec::{IntegrationKey, LoadOptions, Loaded, load, load_texts};

use crate::support::example;

/// A channel and four people with a contact on it: the start of most cases.
const BASE: &str = "version: nines/v1
channels:
  - {id: pager, type: webhook, url: \"http://pager.example\"}
people:
  - {id: a, contacts: [{channel: pager}]}
  - {id: b, contacts: [{channel: pager}]}
  - {id: c, contacts: [{channel: pager}]}
  - {id: d, contacts: [{channel: pager}]}
";

fn load_files(files: &[(&str, &str)]) -> Loaded {
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|(name, text)| (name.to_string(), text.to_string()))
        .collect();
    load_texts(&texts, &LoadOptions::default())
}

fn problems(text: &str) -> Vec<String> {
    load_files(&[("test.yaml", text)])
        .report
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Checks `BASE` followed by each case's text against its expected diagnostics, reporting
/// every case that differs at once.
fn check_cases(cases: &[(&str, &[&str])]) {
    let mut failures = Vec::new();
    for (text, expected) in cases {
        let text = format!("{BASE}{text}");
        let got = problems(&text);
        if got != *expected {
            failures.push(format!(
                "input:\n{text}\nexpected: {expected:#?}\ngot: {got:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin").unwrap()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|name| name.to_string()).collect()
}

#[test]
fn the_example_loads_into_core_values() {
    let loaded = load(&[example("")], &LoadOptions::default());
    assert!(loaded.report.diagnostics.is_empty(), "{}", loaded.report);
    let oncall = &loaded.catalog.oncall;
    let directory = &oncall.directory;

    let ids: Vec<&str> = directory.people.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"
        ]
    );
    let alice = directory.person("alice").unwrap();
    assert_eq!(alice.name, "Alice Example");
    assert_eq!(alice.time_zone, berlin());
    assert_eq!(
        alice.contacts,
        [
            Contact {
                channel: "email".to_string(),
                address: Some("alice@example.com".to_string())
            },
            Contact {
                channel: "slack-oncall".to_string(),
                address: Some("U012ABCDE".to_string())
            },
            Contact {
                channel: "ops-webhook".to_string(),
                address: None
            }
        ]
    );
    assert_eq!(
        directory.team("payments"),
        Some(&Team {
            id: "payments".to_string(),
            name: "Payments".to_string(),
            members: names(&["alice", "bob", "carol", "dave"]),
            escalation_policy: Some("payments-default".to_string()),
        })
    );
    // Teams still own services.
    assert_eq!(
        loaded.catalog.service("checkout").unwrap().owner.as_deref(),
        Some("payments")
    );

    let weekly = |name: &str, members: &[&str], restrictions: Vec<Restriction>| Layer {
        name: name.to_string(),
        members: names(members),
        start: date(2026, 1, 5).at(9, 0, 0, 0),
        shift: ShiftLength::Weeks(1),
        restrictions,
    };
    assert_eq!(
        directory.schedule("payments-primary"),
        Some(&Schedule {
            id: "payments-primary".to_string(),
            time_zone: berlin(),
            layers: vec![
                weekly("weekly", &["alice", "bob", "carol", "dave"], vec![]),
                weekly(
                    "office-hours",
                    &["erin", "frank", "grace", "heidi"],
                    vec![Restriction::Weekly {
                        start_day: Weekday::Monday,
                        start: time(9, 0, 0, 0),
                        end_day: Weekday::Friday,
                        end: time(17, 0, 0, 0),
                    }]
                ),
            ],
            overrides: vec![Override {
                person: "bob".to_string(),
                starts: "2026-11-24T08:00:00Z".parse().unwrap(),
                ends: "2026-11-25T08:00:00Z".parse().unwrap(),
            }],
        })
    );
    let platform = directory.schedule("platform-primary").unwrap();
    assert_eq!(platform.layers[0].shift, ShiftLength::Days(1));
    assert_eq!(
        platform.time_zone,
        TimeZone::get("America/New_York").unwrap()
    );

    let step = |targets: Vec<Target>, delay: Span| EscalationStep { targets, delay };
    assert_eq!(
        oncall.escalation_policy("payments-default"),
        Some(&EscalationPolicy {
            id: "payments-default".to_string(),
            steps: vec![
                step(
                    vec![Target::Schedule("payments-primary".to_string())],
                    Span::minutes(10)
                ),
                step(
                    vec![
                        Target::Person("carol".to_string()),
                        Target::Team("payments".to_string())
                    ],
                    Span::minutes(5)
                ),
                step(
                    vec![Target::Policy("platform-default".to_string())],
                    Span::minutes(5)
                ),
            ],
            repeat: 2,
        })
    );
    assert_eq!(
        oncall.escalation_policy("platform-default").unwrap().repeat,
        0
    );

    assert_eq!(
        oncall.routes,
        Some(Route {
            matchers: vec![],
            policy: Some("platform-default".to_string()),
            group_by: Some(names(&["alertname", "service"])),
            continue_matching: false,
            routes: vec![Route {
                matchers: vec![
                    Matcher::parse("service=\"checkout\"").unwrap(),
                    Matcher::parse("severity=~\"page|critical\"").unwrap(),
                ],
                policy: Some("payments-default".to_string()),
                group_by: None,
                continue_matching: false,
                routes: vec![],
            }],
        })
    );

    let windows: Vec<(&str, &MaintenanceWhen)> = oncall
        .maintenance
        .iter()
        .map(|window| (window.id.as_str(), &window.when))
        .collect();
    assert_eq!(
        windows,
        [
            (
                "db-weekly",
                &MaintenanceWhen::Weekly {
                    time_zone: berlin(),
                    days: vec![Weekday::Sunday],
                    start: Time::constant(2, 0, 0, 0),
                    duration: Span::hours(2),
                }
            ),
            (
                "migration",
                &MaintenanceWhen::Once {
                    starts: "2026-12-01T22:00:00Z".parse::<Timestamp>().unwrap(),
                    ends: "2026-12-02T02:00:00Z".parse::<Timestamp>().unwrap(),
                }
            ),
        ]
    );
    assert_eq!(oncall.maintenance[0].comment, "weekly vacuum");
    assert_eq!(
        oncall.maintenance[1].matchers,
        [Matcher::parse("service=\"checkout\"").unwrap()]
    );

    let heartbeat = oncall.heartbeat("nightly-export").unwrap();
    assert_eq!(heartbeat.service.as_deref(), Some("checkout"));
    assert_eq!(
        (heartbeat.interval, heartbeat.grace),
        (Span::days(1), Span::hours(1))
    );
    assert_eq!(heartbeat.labels["severity"], "page");
    assert_eq!(
        heartbeat.runbook.as_deref(),
        Some("https://runbooks.example.com/nightly-export")
    );
    assert!(heartbeat.origin.file.ends_with("oncall.yaml"));
    assert_eq!(heartbeat.origin.path, "heartbeats[0]");

    let integration = oncall.integration("datadog").unwrap();
    assert_eq!(
        integration.key,
        IntegrationKey::Env("DATADOG_ROUTING_KEY".to_string())
    );
    assert_eq!(integration.labels["service"], "checkout");

    let origin = &oncall.origins.schedules["payments-primary"];
    assert_eq!((origin.line, origin.path.as_str()), (51, "schedules[0]"));
}

#[test]
fn defaults_and_other_spellings() {
    let text = format!(
        "{BASE}schedules:
  - id: s
    time_zone: UTC
    layers:
      - {{members: [a, b, c, d], start: \"2026-01-05T00:00\", shift: 12h}}
    overrides:
      - {{person: a, start: \"2026-03-29T01:30\", end: \"2026-03-29T03:30\"}}
escalation_policies:
  - id: p
    steps: [{{targets: [{{schedule: s}}]}}]
heartbeats:
  - {{id: h, interval: 1h, runbook: \"https://r\"}}
integrations:
  - {{id: i, key: abc123}}
maintenance:
  - id: m
    matchers: [env=staging]
    weekly: {{days: [Saturday, SUN], start: \"22:30\", duration: 1d6h}}
"
    );
    let loaded = load_files(&[("test.yaml", &text)]);
    let oncall = &loaded.catalog.oncall;
    assert!(!loaded.report.has_errors(), "{}", loaded.report);
    let person = oncall.directory.person("a").unwrap();
    assert_eq!(
        (person.name.as_str(), &person.time_zone),
        ("a", &TimeZone::UTC)
    );
    let schedule = oncall.directory.schedule("s").unwrap();
    assert_eq!(schedule.layers[0].name, "layer 1");
    assert_eq!(schedule.layers[0].shift, ShiftLength::Hours(12));
    // Wall times without an offset are in the schedule's zone.
    assert_eq!(
        schedule.overrides[0].starts,
        "2026-03-29T01:30:00Z".parse::<Timestamp>().unwrap()
    );
    assert_eq!(
        oncall.escalation_policies[0].steps[0].delay,
        Span::minutes(5)
    );
    assert_eq!(oncall.heartbeats[0].grace, Span::minutes(5));
    assert_eq!(oncall.heartbeats[0].service, None);
    assert_eq!(
        oncall.integrations[0].key,
        IntegrationKey::Literal("abc123".to_string())
    );
    assert_eq!(
        oncall.maintenance[0].when,
        MaintenanceWhen::Weekly {
            time_zone: TimeZone::UTC,
            days: vec![Weekday::Saturday, Weekday::Sunday],
            start: time(22, 30, 0, 0),
            duration: Span::hours(30),
        }
    );
    assert_eq!(oncall.routes, None);
}

#[test]
fn bad_people() {
    let text = "version: nines/v1
people:
  - {id: a, time_zone: Mars/Olympus, contacts: [{channel: nope, address: \"\"}]}
  - {id: \"bad id\", contacts: [{channel: nope}]}
  - {id: c, contacts: [{channel: nope}], pager: 123}
  - {id: a}
";
    assert_eq!(
        problems(text),
        [
            "test.yaml:3:13: error: people[0].time_zone: unknown time zone \"Mars/Olympus\": use an IANA name like Europe/Berlin",
            "test.yaml:3:50: error: people[0].contacts[0].channel: channel \"nope\" is not defined in any file (define it under channels)",
            "test.yaml:3:65: error: people[0].contacts[0].address: an address must not be empty (leave it out for channels with one destination)",
            "test.yaml:4:6: error: people[1].id: id \"bad id\" has ' '; use letters, digits, '-', '_', '.' and ':'",
            "test.yaml:4:32: error: people[1].contacts[0].channel: channel \"nope\" is not defined in any file (define it under channels)",
            "test.yaml:5:42: error: people[2].pager: unknown field `pager`, expected one of `id`, `name`, `time_zone`, `contacts`",
            "test.yaml:6:5: warning: people[3]: person \"a\" has no contacts: pages reach them nowhere",
            "test.yaml:6:6: error: people[3].id: duplicate person id \"a\": also defined at test.yaml:3",
        ]
    );
}

#[test]
fn bad_teams_and_references() {
    check_cases(&[
        (
            "teams:\n  - {id: t, members: [a, zed], escalation_policy: missing}\n  - {id: t}\n",
            &[
                "test.yaml:10:26: error: teams[0].members[1]: person \"zed\" is not defined in any file (define it under people)",
                "test.yaml:10:32: error: teams[0].escalation_policy: escalation policy \"missing\" is not defined in any file (define it under escalation_policies)",
                "test.yaml:11:6: error: teams[1].id: duplicate team id \"t\": also defined at test.yaml:10",
            ],
        ),
        (
            "escalation_policies:\n  - id: p\n    steps:\n      - targets: [{person: zed}, {schedule: nope}, {team: none}, {policy: gone}]\n      - targets: [{team: empty}]\nteams: [{id: empty}]\n",
            &[
                "test.yaml:12:20: error: escalation_policies[0].steps[0].targets[0].person: person \"zed\" is not defined in any file (define it under people)",
                "test.yaml:12:35: error: escalation_policies[0].steps[0].targets[1].schedule: schedule \"nope\" is not defined in any file (define it under schedules)",
                "test.yaml:12:53: error: escalation_policies[0].steps[0].targets[2].team: team \"none\" is not defined in any file (define it under teams)",
                "test.yaml:12:67: error: escalation_policies[0].steps[0].targets[3].policy: escalation policy \"gone\" is not defined in any file (define it under escalation_policies)",
                "test.yaml:13:20: error: escalation_policies[0].steps[1].targets[0].team: team \"empty\" has no members: this target would reach nobody",
            ],
        ),
        (
            "heartbeats:\n  - {id: h, service: ghost, interval: 1h, runbook: \"https://r\"}\n",
            &[
                "test.yaml:10:13: error: heartbeats[0].service: service \"ghost\" is not defined in any file (define it under services)",
            ],
        ),
    ]);
}

#[test]
fn bad_schedules() {
    check_cases(&[
        (
            "schedules:\n  - {id: s, time_zone: Nowhere/City, layers: []}\n",
            &[
                "test.yaml:10:13: error: schedules[0].time_zone: unknown time zone \"Nowhere/City\": use an IANA name like Europe/Berlin",
                "test.yaml:10:38: error: schedules[0].layers: a schedule needs at least one layer",
            ],
        ),
        (
            "schedules:
  - id: s
    time_zone: UTC
    layers:
      - members: []
        start: 2026-01-05 9am
        shift: 1m
        restrictions:
          - {daily: {start: \"25:00\", end: \"17:00\"}}
          - {weekly: {from: \"monday\", to: \"fry 17:00\"}}
          - {daily: {start: \"09:00\", end: \"09:00\"}}
          - {}
      - {members: [a], start: \"2026-01-05T09:00\", shift: 0d}
    overrides:
      - {person: zed, start: \"2026-01-06T09:00Z\", end: \"2026-01-06T08:00Z\"}
      - {person: a, start: yesterday, end: \"2026-01-06T08:00Z\"}
",
            &[
                "test.yaml:13:9: error: schedules[0].layers[0].members: a layer needs at least one member",
                "test.yaml:14:9: error: schedules[0].layers[0].start: \"2026-01-05 9am\" is not a date and time like 2026-01-05T09:00 (wall time in the schedule's zone)",
                "test.yaml:15:9: error: schedules[0].layers[0].shift: shift \"1m\" is not a length like 12h, 1d or 1w: a whole number (at least 1) of hours, days or weeks",
                "test.yaml:17:22: error: schedules[0].layers[0].restrictions[0].daily.start: \"25:00\" is not a time of day like 09:00",
                "test.yaml:18:23: error: schedules[0].layers[0].restrictions[1].weekly.from: \"monday\" is not a weekday and time like \"mon 09:00\"",
                "test.yaml:18:39: error: schedules[0].layers[0].restrictions[1].weekly.to: \"fry 17:00\" is not a weekday and time like \"mon 09:00\"",
                "test.yaml:19:14: error: schedules[0].layers[0].restrictions[2].daily: start and end are the same time: leave the restriction out to be on call all day",
                "test.yaml:20:13: error: schedules[0].layers[0].restrictions[3]: set exactly one of daily and weekly",
                "test.yaml:21:51: error: schedules[0].layers[1].shift: shift \"0d\" is not a length like 12h, 1d or 1w: a whole number (at least 1) of hours, days or weeks",
                "test.yaml:23:10: error: schedules[0].overrides[0].person: person \"zed\" is not defined in any file (define it under people)",
                "test.yaml:23:51: error: schedules[0].overrides[0].end: an override must end after it starts",
                "test.yaml:24:21: error: schedules[0].overrides[1].start: \"yesterday\" is not a time like 2026-11-24T09:00:00+01:00 (or a wall time like 2026-11-24T09:00)",
            ],
        ),
        (
            "schedules:
  - id: s
    time_zone: Europe/Berlin
    layers: [{members: [a, b, c, d], start: \"2026-01-05T09:00\", shift: 1w}]
    overrides:
      - {person: b, start: \"2026-11-24T09:00:00+01:00\", end: \"2026-11-25T09:00:00+01:00\"}
      - {person: c, start: \"2026-11-25T09:00:00+01:00\", end: \"2026-11-26T09:00:00+01:00\"}
      - {person: d, start: \"2026-11-25T08:00:00Z\", end: \"2026-11-25T12:00:00Z\"}
",
            &[
                "test.yaml:16:9: error: schedules[0].overrides[2]: override of \"d\" (2026-11-25T09:00+01:00–2026-11-25T13:00+01:00) overlaps overrides[1] of \"c\" (2026-11-25T09:00+01:00–2026-11-26T09:00+01:00): one override at a time",
            ],
        ),
    ]);
}

#[test]
fn bad_policies_routes_and_maintenance() {
    check_cases(&[
        (
            "escalation_policies:
  - {id: empty, steps: []}
  - id: p
    repeat: 11
    steps:
      - {targets: [], delay: 30s}
      - {targets: [{person: a, team: t}], delay: soon}
",
            &[
                "test.yaml:10:17: error: escalation_policies[0].steps: an escalation policy needs at least one step",
                "test.yaml:12:5: error: escalation_policies[1].repeat: repeat 11 is too many: at most 10 extra rounds",
                "test.yaml:14:10: error: escalation_policies[1].steps[0].targets: a step needs at least one target",
                "test.yaml:14:23: error: escalation_policies[1].steps[0].delay: a step's delay must be at least 1m: people need time to acknowledge",
                "test.yaml:15:20: error: escalation_policies[1].steps[1].targets[0]: set exactly one of person, schedule, team and policy",
                "test.yaml:15:43: error: escalation_policies[1].steps[1].delay: invalid duration \"soon\": expected a number followed by a unit (s, m, h, d, w), for example 5m or 30d",
            ],
        ),
        (
            "escalation_policies:
  - {id: x, steps: [{targets: [{person: a}]}, {targets: [{policy: y}]}]}
  - {id: y, steps: [{targets: [{policy: x}]}]}
  - {id: z, steps: [{targets: [{policy: z}]}]}
",
            &[
                "test.yaml:10: error: escalation_policies[0]: escalation policies hand pages over in a cycle: x -> y -> x",
                "test.yaml:12: error: escalation_policies[2]: escalation policies hand pages over in a cycle: z -> z",
            ],
        ),
        (
            "routes:
  matchers: ['a=\"b\"']
  continue: true
  group_by: [service, \"...\", 1bad]
  routes:
    - matchers: ['service', 'x=~\"(\"']
      policy: nope
      routes:
        - {matchers: ['x=\"y\"'], policy: deeper}
",
            &[
                "test.yaml:10:3: error: routes.matchers: the root route takes every alert: it has no matchers",
                "test.yaml:11:3: error: routes.continue: the root route has no siblings to continue to",
                "test.yaml:12:23: error: routes.group_by[1]: \"...\" groups by every label: it stands alone in group_by",
                "test.yaml:12:30: error: routes.group_by[2]: \"1bad\" is not a label name: use letters, digits and '_', not starting with a digit (or \"...\" for every label)",
                "test.yaml:14:18: error: routes.routes[0].matchers[0]: matcher \"service\": expected a label name, an operator (=, !=, =~, !~) and a value, for example severity=\"page\"",
                "test.yaml:14:29: error: routes.routes[0].matchers[1]: matcher \"x=~\\\"(\\\"\": invalid regular expression \"(\": unclosed group",
                "test.yaml:15:7: error: routes.routes[0].policy: escalation policy \"nope\" is not defined in any file (define it under escalation_policies)",
                "test.yaml:17:33: error: routes.routes[0].routes[0].policy: escalation policy \"deeper\" is not defined in any file (define it under escalation_policies)",
            ],
        ),
        (
            "maintenance:
  - {id: m1, weekly: {time_zone: Moon/Base, days: [], start: noon, duration: 0s}}
  - {id: m2, matchers: ['x=\"y\"'], weekly: {days: [funday], start: \"02:00\", duration: 8d}}
  - {id: m3, matchers: ['x=\"y\"'], once: {start: \"2026-12-02T02:00:00Z\", end: \"2026-12-01T22:00:00Z\"}}
  - {id: m4, matchers: ['x=\"y\"']}
  - {id: m4, matchers: ['x=\"y\"'], once: {start: tomorrow, end: \"2026-12-01T22:00:00Z\"}}
",
            &[
                "test.yaml:10:5: error: maintenance[0].matchers: a maintenance window needs at least one matcher: without, it would mute every alert",
                "test.yaml:10:23: error: maintenance[0].weekly.time_zone: unknown time zone \"Moon/Base\": use an IANA name like Europe/Berlin",
                "test.yaml:10:45: error: maintenance[0].weekly.days: list at least one weekday",
                "test.yaml:10:55: error: maintenance[0].weekly.start: \"noon\" is not a time of day like 09:00",
                "test.yaml:10:68: error: maintenance[0].weekly.duration: a maintenance window lasts more than 0s and at most 1w",
                "test.yaml:11:51: error: maintenance[1].weekly.days[0]: \"funday\" is not a weekday: use mon, tue, wed, thu, fri, sat or sun",
                "test.yaml:11:76: error: maintenance[1].weekly.duration: a maintenance window lasts more than 0s and at most 1w",
                "test.yaml:12:73: error: maintenance[2].once.end: a maintenance window must end after it starts",
                "test.yaml:13:5: error: maintenance[3]: set exactly one of weekly and once",
                "test.yaml:14:6: error: maintenance[4].id: duplicate maintenance window id \"m4\": also defined at test.yaml:13",
                "test.yaml:14:42: error: maintenance[4].once.start: \"tomorrow\" is not a time like 2026-11-24T09:00:00+01:00 (or a wall time like 2026-11-24T09:00)",
            ],
        ),
    ]);
}

#[test]
fn bad_heartbeats_and_integrations() {
    check_cases(&[
        (
            "heartbeats:
  - {id: h1, interval: 30s, grace: later, labels: {\"bad-name\": x}, runbook: ftp://r}
  - {id: h2, interval: 1h}
",
            &[
                "test.yaml:10:14: error: heartbeats[0].interval: a heartbeat interval must be at least 1m",
                "test.yaml:10:29: error: heartbeats[0].grace: invalid duration \"later\": expected a number followed by a unit (s, m, h, d, w), for example 5m or 30d",
                "test.yaml:10:52: error: heartbeats[0].labels.bad-name: \"bad-name\" is not a label name: use letters, digits and '_', not starting with a digit",
                "test.yaml:10:68: error: heartbeats[0].runbook: a runbook must be an http(s) URL",
                "test.yaml:11:5: warning: heartbeats[1]: heartbeat \"h2\" has no runbook link: its pages will carry none",
            ],
        ),
        (
            "integrations:
  - {id: i1, key_env: \"1-BAD\"}
  - {id: i2, key: \"0123456789012345678901234567890123456789012345678901234567890123456789\"}
  - {id: i3, key: k, key_env: K}
  - {id: i4}
  - {id: i5, key: same}
  - {id: i6, key: same}
  - {id: i7, key: \"\"}
",
            &[
                "test.yaml:10:14: error: integrations[0].key_env: \"1-BAD\" is not an environment variable name: use letters, digits and '_', not starting with a digit (the secret itself is never written in a file)",
                "test.yaml:11:14: error: integrations[1].key: an integration key has 1 to 64 characters, this one 70",
                "test.yaml:12:5: error: integrations[2]: set exactly one of key_env and key",
                "test.yaml:13:5: error: integrations[3]: set exactly one of key_env and key",
                "test.yaml:15:14: error: integrations[5].key: this key is already the key of the integration at test.yaml:14: a key names one integration",
                "test.yaml:16:14: error: integrations[6].key: an integration key has 1 to 64 characters, this one 0",
            ],
        ),
    ]);
}

/// A schedule on call only in office hours, with three people: loaded, with warnings.
const OFFICE_HOURS: &str = "schedules:
  - id: office
    time_zone: Europe/Berlin
    layers:
      - name: weekly
        members: [a, b, c]
        start: \"2026-01-05T09:00\"
        shift: 1w
        restrictions:
          - {weekly: {from: \"mon 09:00\", to: \"fri 17:00\"}}
          - {daily: {start: \"09:00\", end: \"17:00\"}}
";

#[test]
fn coverage_gaps_and_rotation_health_are_warnings() {
    let text = format!("{BASE}{OFFICE_HOURS}");
    let loaded = load_files(&[("test.yaml", &text)]);
    let got: Vec<String> = loaded
        .report
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        [
            "test.yaml:10:5: warning: schedules[0]: uncovered 48h a week (nobody on call): Fri 17:00–Sat 09:00, Sat 17:00–Sun 09:00, Sun 17:00–Mon 09:00, ... (over the 4 weeks from Mon 2026-01-05 09:00)",
            "test.yaml:10:5: warning: schedules[0]: \"a\" is on call 240h in the 28 days from Mon 2026-01-05 09:00: more than 7 days (168h)",
            "test.yaml:10:5: warning: schedules[0]: \"b\" is on call 240h in the 28 days from Sun 2026-01-11 17:00: more than 7 days (168h)",
            "test.yaml:10:5: warning: schedules[0]: \"c\" is on call 240h in the 28 days from Sun 2026-01-18 17:00: more than 7 days (168h)",
            "test.yaml:14:9: warning: schedules[0].layers[0].members: layer \"weekly\" rotates 3 people: with fewer than four, each is on call too often",
        ]
    );
    // Warnings do not block loading.
    assert!(loaded.catalog.oncall.directory.schedule("office").is_some());

    // Weekday nights uncovered: the gaps start on Monday evening.
    let nights = format!(
        "{BASE}schedules:
  - id: days
    time_zone: UTC
    layers:
      - name: days
        members: [a, b, c, d]
        start: \"2026-01-05T09:00\"
        shift: 1d
        restrictions: [{{daily: {{start: \"09:00\", end: \"17:00\"}}}}]
"
    );
    assert_eq!(
        problems(&nights),
        [
            "test.yaml:10:5: warning: schedules[0]: uncovered 112h a week (nobody on call): Mon 17:00–Tue 09:00, Tue 17:00–Wed 09:00, Wed 17:00–Thu 09:00, ... (over the 4 weeks from Mon 2026-01-05 09:00)"
        ]
    );
}

#[test]
fn pages_without_runbooks_or_anyone_to_reach_are_warnings() {
    let services = "services:
  - {id: owned, owner: quiet, runbooks: [\"https://r\"]}
  - {id: orphan, runbooks: [\"https://r\"]}
  - {id: routed, owner: quiet}
  - {id: fallback, owner: loud}
teams:
  - {id: quiet}
  - {id: loud, members: [a], escalation_policy: p}
escalation_policies:
  - {id: p, steps: [{targets: [{person: a}]}]}
routes:
  routes:
    - {matchers: ['service=~\"routed|other\"', 'severity=\"page\"'], policy: p}
slos:
  - {id: pages, service: routed, objective_percent: 99, window: 30d, sli: {pushed: {}}}
  - id: tickets
    service: routed
    objective_percent: 99
    window: 30d
    sli: {pushed: {}}
    alerting: {page: {disable: true}}
heartbeats:
  - {id: backup, service: owned, interval: 1d}
";
    let text = format!("{BASE}{services}");
    let loaded = load_files(&[("test.yaml", &text)]);
    let got: Vec<String> = loaded
        .report
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        [
            "test.yaml:10: warning: services[0]: pages for service \"owned\" reach nobody: no route names a policy for it and its owner team \"quiet\" has no escalation_policy",
            "test.yaml:11: warning: services[1]: pages for service \"orphan\" reach nobody: no route names a policy for it and it has no owner team",
            "test.yaml:23:5: warning: slos[0]: SLO \"pages\" has no runbook link: pages will carry none",
            "test.yaml:31:5: warning: heartbeats[0]: heartbeat \"backup\" has no runbook link: its pages will carry none",
        ]
    );
    assert_eq!(loaded.catalog.oncall.heartbeats.len(), 1);
    assert_eq!(loaded.catalog.slos.len(), 2);

    // Without escalation policies or routes nines pages nobody by itself: no reach warnings.
    let plain = "version: nines/v1
teams: [{id: t}]
services: [{id: s, owner: t, runbooks: [\"https://r\"]}]
";
    assert_eq!(problems(plain), [] as [&str; 0]);
    assert_eq!(
        problems("version: nines/v1\nteams: [{id: t}]\nservices: [{id: s, owner: u}]\n"),
        ["test.yaml:3:20: error: services[0].owner: owner \"u\" is not a team defined under teams"]
    );
}

#[test]
fn references_resolve_across_files_and_a_file_with_errors_adds_nothing() {
    let people = "version: nines/v1
channels:
  - {id: pager, type: webhook, url: \"http://pager.example\"}
people:
  - {id: a, contacts: [{channel: pager}]}
";
    let policies = "version: nines/v1
escalation_policies:
  - {id: p, steps: [{targets: [{person: a}]}]}
teams:
  - {id: t, members: [a], escalation_policy: p}
";
    let broken = "version: nines/v1
escalation_policies:
  - {id: q, steps: [{targets: [{person: a}]}]}
  - {id: r, steps: [{targets: [{person: nobody}]}]}
heartbeats:
  - {id: h, interval: 1h, runbook: \"https://r\"}
";
    let loaded = load_files(&[("people.yaml", people), ("policies.yaml", policies)]);
    assert!(loaded.report.diagnostics.is_empty(), "{}", loaded.report);
    assert_eq!(loaded.catalog.oncall.escalation_policies.len(), 1);
    assert_eq!(loaded.catalog.oncall.directory.teams.len(), 1);

    let loaded = load_files(&[
        ("people.yaml", people),
        ("policies.yaml", policies),
        ("broken.yaml", broken),
    ]);
    let got: Vec<String> = loaded
        .report
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        [
            "broken.yaml:4:33: error: escalation_policies[1].steps[0].targets[0].person: person \"nobody\" is not defined in any file (define it under people)"
        ]
    );
    let oncall = &loaded.catalog.oncall;
    let policies: Vec<&str> = oncall
        .escalation_policies
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(policies, ["p"]);
    assert!(oncall.heartbeats.is_empty());
    assert_eq!(oncall.directory.people.len(), 1);

    // Duplicates across files name the first definition.
    let again = "version: nines/v1\npeople: [{id: a, contacts: [{channel: pager}]}]\n";
    let loaded = load_files(&[("people.yaml", people), ("again.yaml", again)]);
    let got: Vec<String> = loaded
        .report
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        [
            "again.yaml:2:11: error: people[0].id: duplicate person id \"a\": also defined at people.yaml:5"
        ]
    );

    // One routing tree.
    let routes = "version: nines/v1\nroutes: {group_by: [service]}\n";
    let loaded = load_files(&[("one.yaml", routes), ("two.yaml", routes)]);
    let got: Vec<String> = loaded
        .report
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        [
            "two.yaml:2:1: error: routes: routes are already defined at one.yaml:2: there is one routing tree"
        ]
    );
}
