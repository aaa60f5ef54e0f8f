//! Reliability reports: one hand-computed week (every figure checked, the arithmetic in
//! comments), scopes, and edge cases (no data, a backwards period, pages and shifts at the
//! period's edges, daylight saving in the responder's zone).

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use nines_core::report::{
    ActionFact, ActionSection, ActionStatus, DurationStats, Facts, GapStats, Hours, IncidentFact,
    IncidentSection, OnCallSection, PageFact, PageSection, Period, Report, ReportError, Scope,
    Share, ShiftFact, SloFact, SloLine, SloSection, report,
};

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn date(text: &str) -> Date {
    text.parse().unwrap()
}

fn page(id: &str, service: &str, created: &str, notified: &[&str]) -> PageFact {
    PageFact {
        id: id.to_string(),
        service: Some(service.to_string()),
        team: Some("payments".to_string()),
        created: ts(created),
        acknowledged: None,
        resolved: None,
        notified: notified.iter().map(|person| person.to_string()).collect(),
        actionable: None,
    }
}

fn acked(mut page: PageFact, at: &str, by: &str) -> PageFact {
    page.acknowledged = Some((ts(at), by.to_string()));
    page
}

fn resolved(mut page: PageFact, at: &str) -> PageFact {
    page.resolved = Some(ts(at));
    page
}

fn actionable(mut page: PageFact, value: bool) -> PageFact {
    page.actionable = Some(value);
    page
}

fn incident(id: &str, severity: &str, services: &[&str], opened: &str) -> IncidentFact {
    IncidentFact {
        id: id.to_string(),
        severity: severity.to_string(),
        services: services.iter().map(|service| service.to_string()).collect(),
        team: Some("payments".to_string()),
        opened: ts(opened),
        resolved: None,
    }
}

fn incident_resolved(mut incident: IncidentFact, at: &str) -> IncidentFact {
    incident.resolved = Some(ts(at));
    incident
}

fn slo(id: &str, service: &str, objective: f64, attainment: Option<f64>) -> SloFact {
    SloFact {
        id: id.to_string(),
        service: Some(service.to_string()),
        team: Some("payments".to_string()),
        objective,
        attainment,
        budget_remaining_share: None,
    }
}

fn shift(person: &str, zone_name: &str, starts: &str, ends: &str) -> ShiftFact {
    ShiftFact {
        person: person.to_string(),
        team: Some("payments".to_string()),
        time_zone: zone(zone_name),
        starts: ts(starts),
        ends: ts(ends),
    }
}

fn action(id: &str, created: &str, status: ActionStatus, closed: Option<&str>) -> ActionFact {
    ActionFact {
        id: id.to_string(),
        service: Some("checkout".to_string()),
        team: Some("payments".to_string()),
        created: ts(created),
        closed: closed.map(ts),
        status,
        due: date("2026-03-31"),
    }
}

fn other_team<T>(mut fact: T, set: impl FnOnce(&mut T)) -> T {
    set(&mut fact);
    fact
}

/// The week of Monday 2026-03-02 00:00 UTC to Monday 2026-03-09 00:00 UTC (168 h = 604800 s).
/// In it, Berlin is on CET (UTC+1) and New York on EST (UTC-5) until 2026-03-08 07:00 UTC.
fn week() -> Period {
    Period::new(ts("2026-03-02T00:00Z"), ts("2026-03-09T00:00Z")).unwrap()
}

/// anna lives in Europe/Berlin, bob in America/New_York; dave is on no schedule.
fn week_facts() -> Facts {
    let pages = vec![
        // P1 Mon 10:00Z = 11:00 Berlin (anna on call): business hours. Ack +300 s, resolve +2100 s.
        actionable(
            resolved(
                acked(
                    page("P1", "checkout", "2026-03-02T10:00Z", &["anna"]),
                    "2026-03-02T10:05Z",
                    "anna",
                ),
                "2026-03-02T10:35Z",
            ),
            true,
        ),
        // P2 Tue 02:30Z = 03:30 Berlin: night page (outside business, sleep). Ack +600, resolve +3600.
        actionable(
            resolved(
                acked(
                    page("P2", "api", "2026-03-03T02:30Z", &["anna"]),
                    "2026-03-03T02:40Z",
                    "anna",
                ),
                "2026-03-03T03:30Z",
            ),
            true,
        ),
        // P10 Wed 03:00Z, notified dave only (no shift anywhere): no responder zone. Nothing else.
        page("P10", "api", "2026-03-04T03:00Z", &["dave"]),
        // P3 Wed 15:00Z = 10:00 New York (bob on call): business. Ack +1200, resolve +3600,
        // not actionable.
        actionable(
            resolved(
                acked(
                    page("P3", "checkout", "2026-03-04T15:00Z", &["bob"]),
                    "2026-03-04T15:20Z",
                    "bob",
                ),
                "2026-03-04T16:00Z",
            ),
            false,
        ),
        // P4 Thu 23:00Z = 18:00 New York: outside business (the window ends at 18:00, excluded),
        // not sleep. Ack +120, resolve +1800, unmarked.
        resolved(
            acked(
                page("P4", "checkout", "2026-03-05T23:00Z", &["bob"]),
                "2026-03-05T23:02Z",
                "bob",
            ),
            "2026-03-05T23:30Z",
        ),
        // P5 Thu 12:00Z, escalated from bob (on call) to anna, acknowledged by anna, who is not on
        // call then: her nearest shift is S1 (ended 28 h before) rather than S4 (starts 44 h
        // after), so Berlin: 13:00 Thursday, business hours (in bob's zone it would be 07:00).
        // Ack +1800, resolve +6000, not actionable.
        actionable(
            resolved(
                acked(
                    page("P5", "api", "2026-03-05T12:00Z", &["bob", "anna"]),
                    "2026-03-05T12:30Z",
                    "anna",
                ),
                "2026-03-05T13:40Z",
            ),
            false,
        ),
        // P6 Sat 20:00Z = 21:00 Berlin Saturday: weekend page (outside business), not sleep.
        // Never acknowledged: the responder is the first notified, anna. Unresolved, unmarked.
        page("P6", "checkout", "2026-03-07T20:00Z", &["anna"]),
        // P7 Sun 23:30Z = 00:30 Berlin Monday 03-09: outside business, sleep. Ack +900; resolved
        // 2026-03-09T00:30Z (+3600), after the period, still counted. Actionable.
        actionable(
            resolved(
                acked(
                    page("P7", "api", "2026-03-08T23:30Z", &["anna"]),
                    "2026-03-08T23:45Z",
                    "anna",
                ),
                "2026-03-09T00:30Z",
            ),
            true,
        ),
        // P8 before the period: ignored everywhere.
        actionable(
            acked(
                page("P8", "api", "2026-03-01T12:00Z", &["anna"]),
                "2026-03-01T12:01Z",
                "anna",
            ),
            false,
        ),
        // P9 of another team: ignored in the payments report.
        other_team(
            actionable(page("P9", "search", "2026-03-03T12:00Z", &["anna"]), false),
            |page| page.team = Some("search".to_string()),
        ),
    ];
    let incidents = vec![
        // I1 critical, resolved after 3901 s (1 h 5 min 1 s)
        incident_resolved(
            incident("I1", "critical", &["checkout"], "2026-03-02T09:55Z"),
            "2026-03-02T11:00:01Z",
        ),
        // I2 major, resolved after 5700 s (1 h 35 min)
        incident_resolved(
            incident("I2", "major", &["api"], "2026-03-03T02:25Z"),
            "2026-03-03T04:00Z",
        ),
        // I3 minor, unresolved
        incident("I3", "minor", &["checkout"], "2026-03-05T22:50Z"),
        // I4 major, resolved after the period, 10800 s (3 h)
        incident_resolved(
            incident("I4", "major", &["api", "checkout"], "2026-03-08T23:00Z"),
            "2026-03-09T02:00Z",
        ),
        // I5 opened before the period: ignored
        incident_resolved(
            incident("I5", "critical", &["api"], "2026-03-01T00:00Z"),
            "2026-03-02T01:00Z",
        ),
        // I6 of another team: ignored
        other_team(
            incident("I6", "critical", &["search"], "2026-03-04T00:00Z"),
            |incident| incident.team = Some("search".to_string()),
        ),
    ];
    let slos = vec![
        SloFact {
            budget_remaining_share: Some(0.5),
            ..slo("checkout-availability", "checkout", 0.999, Some(0.9995))
        },
        SloFact {
            budget_remaining_share: Some(-0.5),
            ..slo("checkout-latency", "checkout", 0.99, Some(0.985))
        },
        slo("api-availability", "api", 0.995, None),
        other_team(
            slo("search-availability", "search", 0.99, Some(0.5)),
            |slo| slo.team = Some("search".to_string()),
        ),
    ];
    let shifts = vec![
        // S0 ends before the period: ignored.
        shift(
            "bob",
            "America/New_York",
            "2026-02-26T08:00Z",
            "2026-03-01T08:00Z",
        ),
        // S1 crosses the start: clipped to [03-02T00:00, 03-04T08:00) = 56 h = 201600 s.
        shift(
            "anna",
            "Europe/Berlin",
            "2026-03-01T08:00Z",
            "2026-03-04T08:00Z",
        ),
        // S2 48 h = 172800 s.
        shift(
            "bob",
            "America/New_York",
            "2026-03-04T08:00Z",
            "2026-03-06T08:00Z",
        ),
        // S3 24 h = 86400 s, quiet.
        shift(
            "bob",
            "America/New_York",
            "2026-03-06T08:00Z",
            "2026-03-07T08:00Z",
        ),
        // S4 crosses the end: clipped to [03-07T08:00, 03-09T00:00) = 40 h = 144000 s.
        shift(
            "anna",
            "Europe/Berlin",
            "2026-03-07T08:00Z",
            "2026-03-10T08:00Z",
        ),
        // another team's shift: not counted in the payments report.
        other_team(
            shift(
                "carol",
                "Europe/Berlin",
                "2026-03-02T00:00Z",
                "2026-03-09T00:00Z",
            ),
            |shift| shift.team = Some("search".to_string()),
        ),
    ];
    let actions = vec![
        // A1 done in the period: 02-20 -> 03-03 = 11 days to close.
        action(
            "A1",
            "2026-02-20T00:00Z",
            ActionStatus::Done,
            Some("2026-03-03T00:00Z"),
        ),
        // A2 done in the period: 2 days to close.
        action(
            "A2",
            "2026-03-02T12:00Z",
            ActionStatus::Done,
            Some("2026-03-04T12:00Z"),
        ),
        // A3 open, 02-23 -> 03-09 = 14 days old at the end.
        action("A3", "2026-02-23T00:00Z", ActionStatus::Open, None),
        // A4 open, 4 days old at the end.
        action("A4", "2026-03-05T00:00Z", ActionStatus::Open, None),
        // A5 won't do: excluded from the rate.
        action(
            "A5",
            "2026-03-03T00:00Z",
            ActionStatus::WontDo,
            Some("2026-03-04T00:00Z"),
        ),
        // A6 done before the period: not counted.
        action(
            "A6",
            "2026-01-01T00:00Z",
            ActionStatus::Done,
            Some("2026-02-01T00:00Z"),
        ),
        // A7 done after the period's end: open at the end, 3 days old.
        action(
            "A7",
            "2026-03-06T00:00Z",
            ActionStatus::Done,
            Some("2026-03-10T00:00Z"),
        ),
        // A8 done in the period: 03-01 -> 03-06 = 5 days to close.
        action(
            "A8",
            "2026-03-01T00:00Z",
            ActionStatus::Done,
            Some("2026-03-06T00:00Z"),
        ),
        // A9 created after the period: not counted.
        action("A9", "2026-03-09T00:00Z", ActionStatus::Open, None),
    ];
    Facts {
        pages,
        incidents,
        slos,
        shifts,
        actions,
        hours: Hours::default(),
    }
}

#[test]
fn week_report_matches_hand_computed_figures() {
    let period = week();
    let actual = report(&period, &week_facts(), &Scope::Team("payments".to_string()));

    let expected = Report {
        period,
        slos: SloSection {
            // sorted by id; met = attainment >= objective
            slos: vec![
                SloLine {
                    id: "api-availability".to_string(),
                    objective: 0.995,
                    attainment: None,
                    budget_remaining_share: None,
                    meets_objective: None,
                },
                SloLine {
                    id: "checkout-availability".to_string(),
                    objective: 0.999,
                    attainment: Some(0.9995),
                    budget_remaining_share: Some(0.5),
                    // 0.9995 >= 0.999
                    meets_objective: Some(true),
                },
                SloLine {
                    id: "checkout-latency".to_string(),
                    objective: 0.99,
                    attainment: Some(0.985),
                    budget_remaining_share: Some(-0.5),
                    // 0.985 < 0.99
                    meets_objective: Some(false),
                },
            ],
            n_with_data: 2,
            n_meeting_objective: 1,
        },
        incidents: IncidentSection {
            // I1 critical; I2, I4 major; I3 minor (I5 before the period, I6 another team)
            opened_by_severity: BTreeMap::from([
                ("critical".to_string(), 1),
                ("major".to_string(), 2),
                ("minor".to_string(), 1),
            ]),
            n_opened: 4,
            // resolved: I1 3901, I2 5700, I4 10800 (I3 unresolved)
            // sum 20401, mean 20401 / 3 = 6800.33 -> 6800
            // median rank ceil(0.5 * 3) = 2 -> 5700; p90 rank ceil(0.9 * 3) = 3 -> 10800
            time_to_resolve: DurationStats {
                count: 3,
                mean_secs: Some(6800),
                median_secs: Some(5700),
                p90_secs: Some(10800),
            },
            // openings 03-02 09:55, 03-03 02:25, 03-05 22:50, 03-08 23:00
            // gaps: 16 h 30 min = 59400; 2 d 20 h 25 min = 246300; 3 d 0 h 10 min = 259800
            // mean (59400 + 246300 + 259800) / 3 = 565500 / 3 = 188500
            // median rank 2 of [59400, 246300, 259800] -> 246300
            time_between: Some(GapStats {
                n_gaps: 3,
                mean_secs: 188500,
                median_secs: 246300,
            }),
        },
        pages: PageSection {
            // P1 P2 P3 P4 P5 P6 P7 P10 (P8 before the period, P9 another team)
            n_created: 8,
            // acks: P1 300, P2 600, P3 1200, P4 120, P5 1800, P7 900
            // sorted [120, 300, 600, 900, 1200, 1800], sum 4920, mean 4920 / 6 = 820
            // median rank ceil(0.5 * 6) = 3 -> 600; p90 rank ceil(0.9 * 6) = ceil(5.4) = 6 -> 1800
            time_to_acknowledge: DurationStats {
                count: 6,
                mean_secs: Some(820),
                median_secs: Some(600),
                p90_secs: Some(1800),
            },
            // resolves: P1 2100, P2 3600, P3 3600, P4 1800, P5 6000, P7 3600
            // sorted [1800, 2100, 3600, 3600, 3600, 6000], sum 20700, mean 3450
            // median rank 3 -> 3600; p90 rank 6 -> 6000
            time_to_resolve: DurationStats {
                count: 6,
                mean_secs: Some(3450),
                median_secs: Some(3600),
                p90_secs: Some(6000),
            },
            // placed: P1 P2 P3 P4 P5 P6 P7 = 7 (P10's dave has no shift)
            // outside business: P2 (03:30 Tue), P4 (18:00 Thu NY), P6 (Sat), P7 (00:30 Mon) = 4
            outside_business_hours: Share {
                count: 4,
                out_of: 7,
            },
            // sleep (22:00-07:00): P2 (03:30), P7 (00:30) = 2
            sleep_hours: Share {
                count: 2,
                out_of: 7,
            },
            n_without_responder_zone: 1,
            // marked: P1 true, P2 true, P3 false, P5 false, P7 true = 5; false: 2 -> 2 / 5 = 0.4
            non_actionable: Share {
                count: 2,
                out_of: 5,
            },
        },
        on_call: OnCallSection {
            // S1 S2 S3 S4 (S0 outside, carol's another team)
            n_shifts: 4,
            // S1 anna: P1, P2 = 2; S2 bob: P3, P4, P5 (notified bob) = 3; S3 bob: 0;
            // S4 anna: P6, P7 = 2 (P9 is another team's page). (2 + 3 + 0 + 2) / 4 = 1.75
            pages_per_shift_mean: Some(1.75),
            pages_per_shift_max: 3,
            // 201600 + 172800 + 86400 + 144000 = 604800 (the whole week)
            on_call_secs: 604_800,
            // S3 only
            quiet_secs: 86_400,
            // 86400 / 604800 = 1 / 7
            quiet_share: Some(86_400.0 / 604_800.0),
        },
        actions: ActionSection {
            // done: A1, A2, A8; open at the end: A3, A4, A7; won't do: A5
            n_done: 3,
            n_open: 3,
            n_wont_do: 1,
            // 3 / (3 + 3)
            completion_rate: Some(0.5),
            // ages 14, 4, 3 days: mean 21 / 3 = 7, max 14
            open_age_mean_days: Some(7.0),
            open_age_max_days: Some(14.0),
            // days to close 11, 2, 5: sorted [2, 5, 11], rank 2 -> 5
            done_days_to_close_median: Some(5.0),
        },
    };
    assert_eq!(actual, expected);
    assert_eq!(actual.pages.outside_business_hours.share(), Some(4.0 / 7.0));
    assert_eq!(actual.pages.sleep_hours.share(), Some(2.0 / 7.0));
    assert_eq!(actual.pages.non_actionable.share(), Some(0.4));
}

#[test]
fn service_scope_counts_that_service_and_every_shift() {
    let facts = week_facts();
    let checkout = report(&week(), &facts, &Scope::Service("checkout".to_string()));

    // pages of checkout in the period: P1, P3, P4, P6
    assert_eq!(checkout.pages.n_created, 4);
    // acks P1 300, P3 1200, P4 120: mean 1620 / 3 = 540, median rank 2 -> 300
    assert_eq!(checkout.pages.time_to_acknowledge.mean_secs, Some(540));
    assert_eq!(checkout.pages.time_to_acknowledge.median_secs, Some(300));
    // incidents affecting checkout: I1, I3, I4
    assert_eq!(checkout.incidents.n_opened, 3);
    // SLOs of checkout
    assert_eq!(checkout.slos.slos.len(), 2);
    // every shift overlapping the period counts, carol's included: S1, S2, S3, S4, carol
    assert_eq!(checkout.on_call.n_shifts, 5);
    // S1: P1; S2: P3, P4; S3: 0; S4: P6; carol: 0 -> 4 / 5
    assert_eq!(checkout.on_call.pages_per_shift_mean, Some(0.8));
    // actions are all checkout's
    assert_eq!(checkout.actions.n_done, 3);

    let all = report(&week(), &facts, &Scope::All);
    // P9 of search joins the eight
    assert_eq!(all.pages.n_created, 9);
    // I6 of search joins the four
    assert_eq!(all.incidents.n_opened, 5);
    assert_eq!(all.slos.slos.len(), 4);
}

#[test]
fn a_period_must_end_after_it_starts() {
    let start = ts("2026-03-09T00:00Z");
    let earlier = ts("2026-03-02T00:00Z");
    let error = Period::new(start, earlier).unwrap_err();
    assert_eq!(
        error,
        ReportError::PeriodNotForward {
            from: start,
            to: earlier
        }
    );
    assert_eq!(
        error.to_string(),
        "report period ends at 2026-03-02T00:00:00Z, which is not after its start 2026-03-09T00:00:00Z"
    );
    assert!(Period::new(start, start).is_err());
}

#[test]
fn no_data_gives_no_figures_and_no_division_by_zero() {
    let actual = report(&week(), &Facts::default(), &Scope::All);
    let empty_stats = DurationStats {
        count: 0,
        mean_secs: None,
        median_secs: None,
        p90_secs: None,
    };
    assert_eq!(
        actual,
        Report {
            period: week(),
            slos: SloSection::default(),
            incidents: IncidentSection {
                opened_by_severity: BTreeMap::new(),
                n_opened: 0,
                time_to_resolve: empty_stats,
                time_between: None,
            },
            pages: PageSection {
                n_created: 0,
                time_to_acknowledge: empty_stats,
                time_to_resolve: empty_stats,
                outside_business_hours: Share::default(),
                sleep_hours: Share::default(),
                n_without_responder_zone: 0,
                non_actionable: Share::default(),
            },
            on_call: OnCallSection {
                n_shifts: 0,
                pages_per_shift_mean: None,
                pages_per_shift_max: 0,
                on_call_secs: 0,
                quiet_secs: 0,
                quiet_share: None,
            },
            actions: ActionSection::default(),
        }
    );
    assert_eq!(actual.pages.sleep_hours.share(), None);
}

#[test]
fn one_incident_has_no_time_between() {
    let facts = Facts {
        incidents: vec![incident("I1", "major", &["api"], "2026-03-03T00:00Z")],
        ..Facts::default()
    };
    let actual = report(&week(), &facts, &Scope::All);
    assert_eq!(actual.incidents.n_opened, 1);
    assert_eq!(actual.incidents.time_between, None);
}

#[test]
fn pages_outside_the_period_are_ignored_at_both_edges() {
    let facts = Facts {
        pages: vec![
            // just before the start
            acked(
                page("early", "api", "2026-03-01T23:59:59Z", &["anna"]),
                "2026-03-02T00:10Z",
                "anna",
            ),
            // at the start: inside
            acked(
                page("first", "api", "2026-03-02T00:00Z", &["anna"]),
                "2026-03-02T00:01Z",
                "anna",
            ),
            // at the end: outside (the end is excluded)
            acked(
                page("late", "api", "2026-03-09T00:00Z", &["anna"]),
                "2026-03-09T00:10Z",
                "anna",
            ),
        ],
        shifts: vec![shift(
            "anna",
            "Europe/Berlin",
            "2026-03-01T00:00Z",
            "2026-03-10T00:00Z",
        )],
        ..Facts::default()
    };
    let actual = report(&week(), &facts, &Scope::All);
    assert_eq!(actual.pages.n_created, 1);
    assert_eq!(actual.pages.time_to_acknowledge.mean_secs, Some(60));
    assert_eq!(actual.on_call.pages_per_shift_max, 1);
}

#[test]
fn a_shift_crossing_the_period_start_is_clipped() {
    let facts = Facts {
        // on call from Sunday 12:00 to Monday 12:00: 12 h of it fall in the period
        shifts: vec![shift(
            "anna",
            "Europe/Berlin",
            "2026-03-01T12:00Z",
            "2026-03-02T12:00Z",
        )],
        // paged during the shift but before the period: not counted for the shift
        pages: vec![page("before", "api", "2026-03-01T18:00Z", &["anna"])],
        ..Facts::default()
    };
    let actual = report(&week(), &facts, &Scope::All);
    assert_eq!(actual.on_call.n_shifts, 1);
    // 12 h = 43200 s
    assert_eq!(actual.on_call.on_call_secs, 43_200);
    assert_eq!(actual.on_call.pages_per_shift_mean, Some(0.0));
    assert_eq!(actual.on_call.quiet_share, Some(1.0));
}

#[test]
fn sleep_hours_follow_daylight_saving_in_the_responders_zone() {
    // New York moves from EST (UTC-5) to EDT (UTC-4) on Sunday 2026-03-08 at 07:00 UTC.
    let period = Period::new(ts("2026-03-07T00:00Z"), ts("2026-03-09T00:00Z")).unwrap();
    let facts = Facts {
        shifts: vec![shift(
            "bob",
            "America/New_York",
            "2026-03-07T00:00Z",
            "2026-03-09T00:00Z",
        )],
        pages: vec![
            // Saturday 11:30Z = 06:30 EST: asleep
            page("saturday", "api", "2026-03-07T11:30Z", &["bob"]),
            // Sunday 11:30Z = 07:30 EDT: awake (a fixed UTC-5 would say 06:30, asleep)
            page("sunday", "api", "2026-03-08T11:30Z", &["bob"]),
        ],
        ..Facts::default()
    };
    let actual = report(&period, &facts, &Scope::All);
    assert_eq!(
        actual.pages.sleep_hours,
        Share {
            count: 1,
            out_of: 2
        }
    );
    // both on the weekend
    assert_eq!(
        actual.pages.outside_business_hours,
        Share {
            count: 2,
            out_of: 2
        }
    );
}

#[test]
fn business_hours_follow_daylight_saving_in_the_responders_zone() {
    // Monday 2026-03-09 13:30Z is 09:30 EDT (business); on EST it would be 08:30 (not yet)
    let period = Period::new(ts("2026-03-09T00:00Z"), ts("2026-03-10T00:00Z")).unwrap();
    let facts = Facts {
        shifts: vec![shift(
            "bob",
            "America/New_York",
            "2026-03-09T00:00Z",
            "2026-03-10T00:00Z",
        )],
        pages: vec![page("monday", "api", "2026-03-09T13:30Z", &["bob"])],
        ..Facts::default()
    };
    let actual = report(&period, &facts, &Scope::All);
    assert_eq!(
        actual.pages.outside_business_hours,
        Share {
            count: 0,
            out_of: 1
        }
    );
}

proptest::proptest! {
    /// Whatever the acknowledgement delays, the summary orders itself: every figure lies between
    /// the smallest and the largest delay, and the median never exceeds the p90.
    #[test]
    fn time_to_acknowledge_figures_stay_in_order(delays in proptest::collection::vec(0i64..100_000, 1..40)) {
        let created = ts("2026-03-03T00:00Z");
        let pages: Vec<PageFact> = delays
            .iter()
            .enumerate()
            .map(|(index, delay)| PageFact {
                acknowledged: Some((
                    created + jiff::SignedDuration::from_secs(*delay),
                    "anna".to_string(),
                )),
                ..page(&format!("P{index}"), "api", "2026-03-03T00:00Z", &["anna"])
            })
            .collect();
        let facts = Facts { pages, ..Facts::default() };
        let stats = report(&week(), &facts, &Scope::All).pages.time_to_acknowledge;
        let smallest = *delays.iter().min().unwrap();
        let largest = *delays.iter().max().unwrap();
        proptest::prop_assert_eq!(stats.count, delays.len());
        let mean = stats.mean_secs.unwrap();
        let median = stats.median_secs.unwrap();
        let p90 = stats.p90_secs.unwrap();
        proptest::prop_assert!(smallest <= mean && mean <= largest);
        proptest::prop_assert!(smallest <= median && median <= p90 && p90 <= largest);
        proptest::prop_assert!(delays.contains(&median) && delays.contains(&p90));
    }
}
