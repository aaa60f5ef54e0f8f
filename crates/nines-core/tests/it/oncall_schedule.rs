//! On-call schedules: rotations across daylight-saving changes, restrictions, layer stacking,
//! overrides, gaps and rotation health; hand-written cases and property tests.

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use nines_core::oncall::schedule::{
    HealthWarning, Layer, Override, Restriction, Schedule, ScheduleProblem, Shift, ShiftLength,
    ShiftSource, rotation_health,
};
use proptest::prelude::*;

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn wall(text: &str) -> DateTime {
    text.parse().unwrap()
}

/// An instant given as a wall time with its offset, e.g. `2026-03-08T09:00-04:00`.
fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn time(text: &str) -> Time {
    text.parse().unwrap()
}

fn layer(members: &[&str], start: &str, shift: ShiftLength) -> Layer {
    Layer {
        name: "layer".to_string(),
        members: members.iter().map(|member| member.to_string()).collect(),
        start: wall(start),
        shift,
        restrictions: Vec::new(),
    }
}

fn schedule(zone_name: &str, layers: Vec<Layer>) -> Schedule {
    Schedule {
        id: "primary".to_string(),
        time_zone: zone(zone_name),
        layers,
        overrides: Vec::new(),
    }
}

/// Shifts as text in the schedule's zone: `person from..to source`.
fn show(schedule: &Schedule, shifts: &[Shift]) -> Vec<String> {
    shifts
        .iter()
        .map(|shift| {
            let source = match shift.source {
                ShiftSource::Layer(index) => format!("L{index}"),
                ShiftSource::Override(index) => format!("O{index}"),
            };
            format!(
                "{} {}..{} {source}",
                shift.person,
                shift
                    .starts
                    .to_zoned(schedule.time_zone.clone())
                    .strftime("%a %m-%d %H:%M%:z"),
                shift
                    .ends
                    .to_zoned(schedule.time_zone.clone())
                    .strftime("%a %m-%d %H:%M%:z"),
            )
        })
        .collect()
}

fn hours(shift: &Shift) -> f64 {
    (shift.ends.as_second() - shift.starts.as_second()) as f64 / 3600.0
}

#[test]
fn daily_handoff_stays_at_nine_across_the_us_spring_and_fall_changes() {
    let schedule = schedule(
        "America/New_York",
        vec![layer(
            &["alice", "bob", "carol"],
            "2026-03-01T09:00",
            ShiftLength::Days(1),
        )],
    );
    let spring = schedule.shifts(ts("2026-03-07T09:00-05:00"), ts("2026-03-10T09:00-04:00"));
    assert_eq!(
        show(&schedule, &spring),
        [
            "alice Sat 03-07 09:00-05:00..Sun 03-08 09:00-04:00 L0",
            "bob Sun 03-08 09:00-04:00..Mon 03-09 09:00-04:00 L0",
            "carol Mon 03-09 09:00-04:00..Tue 03-10 09:00-04:00 L0",
        ]
    );
    assert_eq!(hours(&spring[0]), 23.0);
    assert_eq!(hours(&spring[1]), 24.0);

    let fall = schedule.shifts(ts("2026-10-31T09:00-04:00"), ts("2026-11-02T09:00-05:00"));
    assert_eq!(
        show(&schedule, &fall),
        [
            "bob Sat 10-31 09:00-04:00..Sun 11-01 09:00-05:00 L0",
            "carol Sun 11-01 09:00-05:00..Mon 11-02 09:00-05:00 L0",
        ]
    );
    assert_eq!(hours(&fall[0]), 25.0);
}

#[test]
fn hourly_shifts_are_exact_and_move_on_the_wall_clock() {
    let schedule = schedule(
        "America/New_York",
        vec![layer(
            &["alice", "bob"],
            "2026-03-07T09:00",
            ShiftLength::Hours(12),
        )],
    );
    let shifts = schedule.shifts(ts("2026-03-07T09:00-05:00"), ts("2026-03-09T00:00-04:00"));
    assert_eq!(
        show(&schedule, &shifts),
        [
            "alice Sat 03-07 09:00-05:00..Sat 03-07 21:00-05:00 L0",
            "bob Sat 03-07 21:00-05:00..Sun 03-08 10:00-04:00 L0",
            "alice Sun 03-08 10:00-04:00..Sun 03-08 22:00-04:00 L0",
            "bob Sun 03-08 22:00-04:00..Mon 03-09 00:00-04:00 L0",
        ]
    );
}

#[test]
fn a_handoff_time_that_does_not_exist_moves_to_the_change_and_a_repeated_one_is_its_first() {
    // In New York 02:30 does not exist on 2026-03-08 (02:00 -> 03:00), and 01:30 happens twice
    // on 2026-11-01 (02:00 -> 01:00).
    let spring = schedule(
        "America/New_York",
        vec![layer(
            &["alice", "bob"],
            "2026-03-01T02:30",
            ShiftLength::Days(1),
        )],
    );
    let shifts = spring.shifts(ts("2026-03-07T12:00-05:00"), ts("2026-03-09T12:00-04:00"));
    assert_eq!(
        show(&spring, &shifts),
        [
            "alice Sat 03-07 12:00-05:00..Sun 03-08 03:00-04:00 L0",
            "bob Sun 03-08 03:00-04:00..Mon 03-09 02:30-04:00 L0",
            "alice Mon 03-09 02:30-04:00..Mon 03-09 12:00-04:00 L0",
        ]
    );
    let fall = schedule(
        "America/New_York",
        vec![layer(
            &["alice", "bob"],
            "2026-10-25T01:30",
            ShiftLength::Days(1),
        )],
    );
    let shifts = fall.shifts(ts("2026-10-31T12:00-04:00"), ts("2026-11-02T12:00-05:00"));
    assert_eq!(
        show(&fall, &shifts),
        [
            "alice Sat 10-31 12:00-04:00..Sun 11-01 01:30-04:00 L0",
            "bob Sun 11-01 01:30-04:00..Mon 11-02 01:30-05:00 L0",
            "alice Mon 11-02 01:30-05:00..Mon 11-02 12:00-05:00 L0",
        ]
    );
}

#[test]
fn berlin_weekly_rotation_across_the_2026_changes() {
    // 2026-03-29 and 2026-10-25 are Sundays: the weeks that hold them are 167 and 169 hours.
    let schedule = schedule(
        "Europe/Berlin",
        vec![layer(
            &["anna", "ben", "clara", "dora"],
            "2026-01-05T09:00",
            ShiftLength::Weeks(1),
        )],
    );
    let spring = schedule.shifts(ts("2026-03-23T09:00+01:00"), ts("2026-04-06T09:00+02:00"));
    assert_eq!(
        show(&schedule, &spring),
        [
            "dora Mon 03-23 09:00+01:00..Mon 03-30 09:00+02:00 L0",
            "anna Mon 03-30 09:00+02:00..Mon 04-06 09:00+02:00 L0",
        ]
    );
    assert_eq!(hours(&spring[0]), 167.0);
    let fall = schedule.shifts(ts("2026-10-19T09:00+02:00"), ts("2026-10-26T09:00+01:00"));
    assert_eq!(
        show(&schedule, &fall),
        ["ben Mon 10-19 09:00+02:00..Mon 10-26 09:00+01:00 L0"]
    );
    assert_eq!(hours(&fall[0]), 169.0);

    // A 02:30 handoff: missing on 03-29 (the change at 02:00 -> 03:00), twice on 10-25.
    let early = self::schedule(
        "Europe/Berlin",
        vec![layer(
            &["anna", "ben"],
            "2026-03-01T02:30",
            ShiftLength::Days(1),
        )],
    );
    let at_change = early.on_call_at(ts("2026-03-29T03:00+02:00")).unwrap();
    assert_eq!(at_change.starts, ts("2026-03-29T03:00+02:00"));
    assert_eq!(at_change.ends, ts("2026-03-30T02:30+02:00"));
    let before = early.on_call_at(ts("2026-03-29T01:59+01:00")).unwrap();
    assert_eq!(before.ends, at_change.starts);
    assert_ne!(before.person, at_change.person);
    let twice = early.on_call_at(ts("2026-10-25T02:45+01:00")).unwrap();
    assert_eq!(twice.starts, ts("2026-10-25T02:30+02:00"));
    assert_eq!(hours(&twice), 25.0);
}

#[test]
fn lord_howe_changes_by_half_an_hour() {
    // Lord Howe Island: +10:30 in winter, +11:00 in summer; 2026-04-05 02:00 -> 01:30 and
    // 2026-10-04 02:00 -> 02:30.
    let schedule = schedule(
        "Australia/Lord_Howe",
        vec![layer(&["a", "b"], "2026-03-01T08:00", ShiftLength::Days(1))],
    );
    let fall = schedule.on_call_at(ts("2026-04-04T12:00+11:00")).unwrap();
    assert_eq!(fall.starts, ts("2026-04-04T08:00+11:00"));
    assert_eq!(fall.ends, ts("2026-04-05T08:00+10:30"));
    assert_eq!(hours(&fall), 24.5);
    let spring = schedule.on_call_at(ts("2026-10-03T12:00+10:30")).unwrap();
    assert_eq!(hours(&spring), 23.5);
}

#[test]
fn business_hours_layer_over_a_round_the_clock_layer() {
    let mut day_layer = layer(&["dana", "eli"], "2026-03-02T09:00", ShiftLength::Weeks(1));
    day_layer.restrictions = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
    ]
    .into_iter()
    .map(|day| Restriction::Weekly {
        start_day: day,
        start: time("09:00"),
        end_day: day,
        end: time("17:00"),
    })
    .collect();
    let night_layer = layer(&["nick", "olga"], "2026-03-02T00:00", ShiftLength::Weeks(1));
    let schedule = schedule("Europe/Berlin", vec![night_layer, day_layer]);
    // The week of the spring change: Monday 2026-03-23 to Monday 03-30.
    let shifts = schedule.shifts(ts("2026-03-26T00:00+01:00"), ts("2026-03-31T00:00+02:00"));
    assert_eq!(
        show(&schedule, &shifts),
        [
            "olga Thu 03-26 00:00+01:00..Thu 03-26 09:00+01:00 L0",
            "eli Thu 03-26 09:00+01:00..Thu 03-26 17:00+01:00 L1",
            "olga Thu 03-26 17:00+01:00..Fri 03-27 09:00+01:00 L0",
            "eli Fri 03-27 09:00+01:00..Fri 03-27 17:00+01:00 L1",
            "olga Fri 03-27 17:00+01:00..Mon 03-30 00:00+02:00 L0",
            "nick Mon 03-30 00:00+02:00..Mon 03-30 09:00+02:00 L0",
            "dana Mon 03-30 09:00+02:00..Mon 03-30 17:00+02:00 L1",
            "nick Mon 03-30 17:00+02:00..Tue 03-31 00:00+02:00 L0",
        ]
    );
    // Without the lower layer the restricted layer has holes.
    let alone = Schedule {
        layers: vec![schedule.layers[1].clone()],
        ..schedule.clone()
    };
    assert_eq!(
        alone.gaps(ts("2026-03-27T00:00+01:00"), ts("2026-03-31T00:00+02:00")),
        [
            (ts("2026-03-27T00:00+01:00"), ts("2026-03-27T09:00+01:00")),
            (ts("2026-03-27T17:00+01:00"), ts("2026-03-30T09:00+02:00")),
            (ts("2026-03-30T17:00+02:00"), ts("2026-03-31T00:00+02:00")),
        ]
    );
    assert_eq!(alone.on_call_at(ts("2026-03-28T12:00+01:00")), None);
    assert_eq!(
        schedule
            .on_call_at(ts("2026-03-28T12:00+01:00"))
            .unwrap()
            .person,
        "olga"
    );
}

#[test]
fn weekly_restriction_from_monday_morning_to_friday_evening() {
    let mut workweek = layer(&["dana", "eli"], "2026-03-02T09:00", ShiftLength::Weeks(1));
    workweek.restrictions = vec![Restriction::Weekly {
        start_day: Weekday::Monday,
        start: time("09:00"),
        end_day: Weekday::Friday,
        end: time("17:00"),
    }];
    let schedule = schedule("America/New_York", vec![workweek]);
    let shifts = schedule.shifts(ts("2026-03-06T00:00-05:00"), ts("2026-03-14T00:00-04:00"));
    assert_eq!(
        show(&schedule, &shifts),
        [
            "dana Fri 03-06 00:00-05:00..Fri 03-06 17:00-05:00 L0",
            "eli Mon 03-09 09:00-04:00..Fri 03-13 17:00-04:00 L0",
        ]
    );
}

#[test]
fn a_restriction_that_ends_when_it_starts_is_a_whole_day_or_week() {
    let mut all_week = layer(&["dana", "eli"], "2026-03-02T09:00", ShiftLength::Days(1));
    all_week.restrictions = vec![Restriction::Weekly {
        start_day: Weekday::Wednesday,
        start: time("12:00"),
        end_day: Weekday::Wednesday,
        end: time("12:00"),
    }];
    let mut all_day = all_week.clone();
    all_day.restrictions = vec![Restriction::Daily {
        start: time("12:00"),
        end: time("12:00"),
    }];
    let mut unrestricted = all_week.clone();
    unrestricted.restrictions.clear();
    let unrestricted = schedule("Europe/Berlin", vec![unrestricted]);
    let (from, to) = (ts("2026-03-20T00:00+01:00"), ts("2026-04-10T00:00+02:00"));
    for layer in [all_week, all_day] {
        let schedule = schedule("Europe/Berlin", vec![layer]);
        assert_eq!(schedule.gaps(from, to), []);
        assert_eq!(schedule.shifts(from, to), unrestricted.shifts(from, to));
    }
}

#[test]
fn daily_restriction_across_midnight() {
    let mut nights = layer(&["nora", "omar"], "2026-03-01T09:00", ShiftLength::Days(1));
    nights.restrictions = vec![Restriction::Daily {
        start: time("22:00"),
        end: time("06:00"),
    }];
    let schedule = schedule("America/New_York", vec![nights]);
    let shifts = schedule.shifts(ts("2026-03-07T12:00-05:00"), ts("2026-03-09T12:00-04:00"));
    assert_eq!(
        show(&schedule, &shifts),
        [
            "nora Sat 03-07 22:00-05:00..Sun 03-08 06:00-04:00 L0",
            "omar Sun 03-08 22:00-04:00..Mon 03-09 06:00-04:00 L0",
        ]
    );
    assert_eq!(hours(&shifts[0]), 7.0);
}

#[test]
fn an_override_in_the_middle_of_a_shift() {
    let mut schedule = schedule(
        "Europe/Berlin",
        vec![layer(
            &["anna", "ben"],
            "2026-06-01T09:00",
            ShiftLength::Days(1),
        )],
    );
    schedule.overrides = vec![Override {
        person: "zoe".to_string(),
        starts: ts("2026-06-10T14:00+02:00"),
        ends: ts("2026-06-10T16:00+02:00"),
    }];
    let shifts = schedule.shifts(ts("2026-06-10T09:00+02:00"), ts("2026-06-11T09:00+02:00"));
    assert_eq!(
        show(&schedule, &shifts),
        [
            "ben Wed 06-10 09:00+02:00..Wed 06-10 14:00+02:00 L0",
            "zoe Wed 06-10 14:00+02:00..Wed 06-10 16:00+02:00 O0",
            "ben Wed 06-10 16:00+02:00..Thu 06-11 09:00+02:00 L0",
        ]
    );
    let during = schedule.on_call_at(ts("2026-06-10T15:00+02:00")).unwrap();
    assert_eq!(during, shifts[1]);
    let before = schedule.on_call_at(ts("2026-06-10T10:00+02:00")).unwrap();
    assert_eq!(before, shifts[0]);

    // Of two overlapping overrides the last listed wins.
    schedule.overrides.push(Override {
        person: "yan".to_string(),
        starts: ts("2026-06-10T15:00+02:00"),
        ends: ts("2026-06-10T18:00+02:00"),
    });
    assert_eq!(schedule.overlapping_overrides(), [(0, 1)]);
    let shifts = schedule.shifts(ts("2026-06-10T13:00+02:00"), ts("2026-06-10T19:00+02:00"));
    assert_eq!(
        show(&schedule, &shifts),
        [
            "ben Wed 06-10 13:00+02:00..Wed 06-10 14:00+02:00 L0",
            "zoe Wed 06-10 14:00+02:00..Wed 06-10 15:00+02:00 O0",
            "yan Wed 06-10 15:00+02:00..Wed 06-10 18:00+02:00 O1",
            "ben Wed 06-10 18:00+02:00..Wed 06-10 19:00+02:00 L0",
        ]
    );
}

#[test]
fn later_layers_win_and_nobody_before_a_layer_starts() {
    let schedule = schedule(
        "UTC",
        vec![
            layer(&["base"], "2026-01-01T00:00", ShiftLength::Days(1)),
            layer(&["top"], "2026-02-01T00:00", ShiftLength::Days(1)),
        ],
    );
    assert_eq!(schedule.on_call_at(ts("2025-12-31T23:59Z")), None);
    let base = schedule.on_call_at(ts("2026-01-15T00:00Z")).unwrap();
    assert_eq!(
        (base.person.as_str(), base.starts, base.ends),
        ("base", ts("2026-01-01T00:00Z"), ts("2026-02-01T00:00Z"))
    );
    let top = schedule.on_call_at(ts("2026-03-01T00:00Z")).unwrap();
    assert_eq!(
        (top.person.as_str(), top.source),
        ("top", ShiftSource::Layer(1))
    );
    assert_eq!(top.starts, ts("2026-02-01T00:00Z"));
    assert_eq!(
        schedule.gaps(ts("2025-12-01T00:00Z"), ts("2026-03-01T00:00Z")),
        [(ts("2025-12-01T00:00Z"), ts("2026-01-01T00:00Z"))]
    );
}

#[test]
fn a_rotation_started_long_ago_is_computed_not_walked() {
    // Started in 1990: the shift in 2026 is found without stepping through 36 years of shifts
    // (a walk through 13,000 days of time zone lookups per call would make this test crawl).
    let members = ["a", "b", "c", "d", "e", "f", "g"];
    let schedule = schedule(
        "America/New_York",
        vec![layer(&members, "1990-01-01T09:00", ShiftLength::Days(1))],
    );
    let days = Date::constant(1990, 1, 1)
        .until(Date::constant(2026, 3, 8))
        .unwrap()
        .get_days();
    for _ in 0..2000 {
        let shift = schedule.on_call_at(ts("2026-03-08T12:00-04:00")).unwrap();
        assert_eq!(shift.person, members[days as usize % 7]);
        assert_eq!(shift.starts, ts("2026-03-08T09:00-04:00"));
    }
}

#[test]
fn health_warns_of_small_rotations_and_people_on_call_too_often() {
    let mut schedule = schedule(
        "Europe/Berlin",
        vec![
            layer(
                &["a", "b", "c", "d"],
                "2026-01-05T09:00",
                ShiftLength::Weeks(1),
            ),
            layer(&["x", "y", "x"], "2026-01-05T09:00", ShiftLength::Weeks(1)),
        ],
    );
    let from = ts("2026-01-05T09:00+01:00");
    let to = ts("2026-03-02T09:00+01:00");
    // Layer 1 covers everything: x two weeks of three (x, y, x, x, y, x, ...), three in the
    // span from 01-05.
    let warnings = rotation_health(&schedule, from, to);
    assert_eq!(
        warnings,
        [
            HealthWarning::FewMembers {
                layer: 1,
                members: 2
            },
            HealthWarning::TooOften {
                person: "x".to_string(),
                hours: 3 * 168,
                span_start: ts("2026-01-05T09:00+01:00"),
            },
            HealthWarning::TooOften {
                person: "y".to_string(),
                hours: 2 * 168,
                span_start: ts("2026-01-12T09:00+01:00"),
            },
        ]
    );

    // Four people a week each: 168 hours in 28 days is not more than 168.
    schedule.layers.truncate(1);
    assert_eq!(rotation_health(&schedule, from, to), []);

    // One more day for "a" tips it over, found wherever the span has to sit.
    schedule.overrides.push(Override {
        person: "a".to_string(),
        starts: ts("2026-02-10T09:00+01:00"),
        ends: ts("2026-02-11T09:00+01:00"),
    });
    assert_eq!(
        rotation_health(&schedule, from, to),
        [HealthWarning::TooOften {
            person: "a".to_string(),
            hours: 192,
            span_start: ts("2026-01-14T09:00+01:00"),
        }]
    );
}

#[test]
fn problems_are_named() {
    let mut schedule = schedule(
        "UTC",
        vec![
            layer(&[], "2026-01-01T00:00", ShiftLength::Days(1)),
            layer(&["a"], "2026-01-01T00:00", ShiftLength::Hours(0)),
        ],
    );
    schedule.overrides.push(Override {
        person: "a".to_string(),
        starts: ts("2026-01-02T00:00Z"),
        ends: ts("2026-01-01T00:00Z"),
    });
    let messages: Vec<String> = schedule
        .problems()
        .iter()
        .map(ScheduleProblem::to_string)
        .collect();
    assert_eq!(
        messages,
        [
            "layer 0 (\"layer\") has no members",
            "layer 1 (\"layer\") has a shift length of zero",
            "override 0 of \"a\" ends at or before it starts",
        ]
    );
    // Such a schedule still answers: nobody is on call.
    assert_eq!(schedule.on_call_at(ts("2026-01-05T00:00Z")), None);
}

// ---------------------------------------------------------------------------------------------
// Property tests

const ZONES: [&str; 4] = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Tokyo",
];

/// Times of day, half of them in the small hours where clocks change.
fn time_strategy() -> impl Strategy<Value = Time> {
    (
        prop_oneof![0i8..24, 0i8..4],
        prop::sample::select(vec![0i8, 15, 30, 45]),
    )
        .prop_map(|(hour, minute)| Time::constant(hour, minute, 0, 0))
}

/// Layer starts from mid-2023 to mid-2025, mostly before the changes the cases look at.
fn start_strategy() -> impl Strategy<Value = DateTime> {
    (0i64..700, time_strategy()).prop_map(|(days, time)| {
        Date::constant(2023, 6, 1)
            .checked_add(jiff::Span::new().days(days))
            .unwrap()
            .to_datetime(time)
    })
}

fn weekday_strategy() -> impl Strategy<Value = Weekday> {
    (0i8..7).prop_map(|offset| Weekday::from_monday_zero_offset(offset).unwrap())
}

fn shift_strategy() -> impl Strategy<Value = ShiftLength> {
    prop_oneof![
        (1u32..=72).prop_map(ShiftLength::Hours),
        (1u32..=8).prop_map(ShiftLength::Days),
        (1u32..=3).prop_map(ShiftLength::Weeks),
    ]
}

fn restriction_strategy() -> impl Strategy<Value = Restriction> {
    prop_oneof![
        (time_strategy(), time_strategy())
            .prop_map(|(start, end)| Restriction::Daily { start, end }),
        (
            weekday_strategy(),
            time_strategy(),
            weekday_strategy(),
            time_strategy()
        )
            .prop_map(|(start_day, start, end_day, end)| Restriction::Weekly {
                start_day,
                start,
                end_day,
                end
            }),
    ]
}

fn layer_strategy() -> impl Strategy<Value = Layer> {
    (
        prop::collection::vec(0usize..6, 1..=4),
        start_strategy(),
        shift_strategy(),
        prop::collection::vec(restriction_strategy(), 0..=2),
    )
        .prop_map(|(members, start, shift, restrictions)| Layer {
            name: "layer".to_string(),
            members: members.iter().map(|member| format!("p{member}")).collect(),
            start,
            shift,
            restrictions,
        })
}

/// A time zone, an instant near one of its daylight-saving changes in 2025-2026 (or in 2025 for
/// a zone without them; half of them within two hours of it), and a schedule in that zone.
fn case_strategy() -> impl Strategy<Value = (Schedule, Timestamp)> {
    (
        prop::sample::select(ZONES.to_vec()),
        0usize..4,
        prop_oneof![-3 * 86_400i64..3 * 86_400, -7_200i64..7_200],
        prop::collection::vec(layer_strategy(), 1..=3),
        prop::collection::vec(
            (0usize..6, -4 * 86_400i64..4 * 86_400, 60i64..2 * 86_400),
            0..=3,
        ),
    )
        .prop_map(|(zone_name, change, offset, layers, overrides)| {
            let time_zone = zone(zone_name);
            let t = near_change(&time_zone, change, offset);
            let overrides = overrides
                .into_iter()
                .map(|(person, starts, length)| {
                    let starts = t.checked_add(SignedDuration::from_secs(starts)).unwrap();
                    Override {
                        person: format!("o{person}"),
                        starts,
                        ends: starts
                            .checked_add(SignedDuration::from_secs(length))
                            .unwrap(),
                    }
                })
                .collect();
            let schedule = Schedule {
                id: "s".to_string(),
                time_zone,
                layers,
                overrides,
            };
            (schedule, t)
        })
}

fn near_change(time_zone: &TimeZone, change: usize, offset_secs: i64) -> Timestamp {
    let anchor = time_zone
        .following(ts("2025-01-01T00:00Z"))
        .nth(change)
        .map(|transition| transition.timestamp())
        .filter(|at| *at < ts("2027-01-01T00:00Z"))
        .unwrap_or(ts("2025-06-01T00:00Z"));
    anchor
        .checked_add(SignedDuration::from_secs(offset_secs))
        .unwrap()
}

/// The first instant whose wall time is `wall` or later, found another way than the library
/// does: jiff's compatible reading, and in a gap the change just before it.
fn first_instant_at_or_after(time_zone: &TimeZone, wall: DateTime) -> Timestamp {
    let ambiguous = time_zone.to_ambiguous_timestamp(wall);
    let compatible = ambiguous.compatible().unwrap();
    match ambiguous.offset() {
        AmbiguousOffset::Gap { .. } => time_zone
            .preceding(
                compatible
                    .checked_add(SignedDuration::from_nanos(1))
                    .unwrap(),
            )
            .next()
            .unwrap()
            .timestamp(),
        _ => compatible,
    }
}

/// Who a layer has on call at t, by walking its shifts from the start, and checking its
/// restrictions day by day: slow and plain.
fn walk_layer(layer: &Layer, time_zone: &TimeZone, t: Timestamp) -> Option<String> {
    let first = first_instant_at_or_after(time_zone, layer.start);
    let handoff = |k: i64| -> Timestamp {
        match layer.shift {
            ShiftLength::Hours(hours) => first
                .checked_add(SignedDuration::from_hours(k * i64::from(hours)))
                .unwrap(),
            ShiftLength::Days(days) => first_instant_at_or_after(
                time_zone,
                layer
                    .start
                    .checked_add(jiff::Span::new().days(k * i64::from(days)))
                    .unwrap(),
            ),
            ShiftLength::Weeks(weeks) => first_instant_at_or_after(
                time_zone,
                layer
                    .start
                    .checked_add(jiff::Span::new().weeks(k * i64::from(weeks)))
                    .unwrap(),
            ),
        }
    };
    if t < first {
        return None;
    }
    let mut k = 0;
    while handoff(k + 1) <= t {
        k += 1;
    }
    let restricted_in = layer.restrictions.iter().any(|restriction| {
        let mut day = time_zone
            .to_datetime(t)
            .date()
            .checked_sub(jiff::Span::new().days(9))
            .unwrap();
        let mut inside = false;
        for _ in 0..11 {
            let (start_wall, end_wall) = match *restriction {
                Restriction::Daily { start, end } => {
                    let end_day = if end <= start {
                        day.tomorrow().unwrap()
                    } else {
                        day
                    };
                    (day.to_datetime(start), end_day.to_datetime(end))
                }
                Restriction::Weekly {
                    start_day,
                    start,
                    end_day,
                    end,
                } => {
                    let start_wall = day.to_datetime(start);
                    let mut end_wall = start_wall.date().to_datetime(end);
                    while end_wall.date().weekday() != end_day || end_wall <= start_wall {
                        end_wall = end_wall.checked_add(jiff::Span::new().days(1)).unwrap();
                    }
                    if day.weekday() != start_day {
                        day = day.tomorrow().unwrap();
                        continue;
                    }
                    (start_wall, end_wall)
                }
            };
            let starts = first_instant_at_or_after(time_zone, start_wall);
            let ends = first_instant_at_or_after(time_zone, end_wall);
            inside |= starts <= t && t < ends;
            day = day.tomorrow().unwrap();
        }
        inside
    });
    if !layer.restrictions.is_empty() && !restricted_in {
        return None;
    }
    Some(layer.members[(k as usize) % layer.members.len()].clone())
}

fn walk_schedule(schedule: &Schedule, t: Timestamp) -> Option<(String, ShiftSource)> {
    for (index, item) in schedule.overrides.iter().enumerate().rev() {
        if item.starts <= t && t < item.ends {
            return Some((item.person.clone(), ShiftSource::Override(index)));
        }
    }
    for (index, layer) in schedule.layers.iter().enumerate().rev() {
        if let Some(person) = walk_layer(layer, &schedule.time_zone, t) {
            return Some((person, ShiftSource::Layer(index)));
        }
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn on_call_at_agrees_with_shifts_and_with_a_plain_walk(
        (schedule, t) in case_strategy(),
        before_secs in 1i64..5 * 86_400,
        after_secs in 1i64..5 * 86_400,
    ) {
        let from = t.checked_sub(SignedDuration::from_secs(before_secs)).unwrap();
        let to = t.checked_add(SignedDuration::from_secs(after_secs)).unwrap();
        let on_call = schedule.on_call_at(t);
        let in_window = schedule.shifts(from, to).into_iter().find(|shift| shift.starts <= t && t < shift.ends);
        match (&on_call, &in_window) {
            (None, None) => {}
            (Some(whole), Some(clipped)) => {
                prop_assert_eq!(&whole.person, &clipped.person);
                prop_assert_eq!(whole.source, clipped.source);
                prop_assert_eq!(whole.starts.max(from), clipped.starts);
                prop_assert_eq!(whole.ends.min(to), clipped.ends);
            }
            _ => prop_assert!(false, "on_call_at {:?} but shifts {:?}", on_call, in_window),
        }
        let walked = walk_schedule(&schedule, t);
        prop_assert_eq!(on_call.map(|shift| (shift.person, shift.source)), walked);
    }

    #[test]
    fn shifts_and_gaps_tile_the_range(
        (schedule, t) in case_strategy(),
        before_secs in 0i64..6 * 86_400,
        length_secs in 1i64..10 * 86_400,
    ) {
        let from = t.checked_sub(SignedDuration::from_secs(before_secs)).unwrap();
        let to = from.checked_add(SignedDuration::from_secs(length_secs)).unwrap();
        let shifts = schedule.shifts(from, to);
        let gaps = schedule.gaps(from, to);
        for pair in shifts.windows(2) {
            let mergeable = pair[0].ends == pair[1].starts
                && pair[0].person == pair[1].person
                && pair[0].source == pair[1].source;
            prop_assert!(!mergeable, "unmerged neighbours {:?}", pair);
        }
        for pair in gaps.windows(2) {
            prop_assert!(pair[0].1 < pair[1].0, "gaps touch: {:?}", pair);
        }
        let mut pieces: Vec<(Timestamp, Timestamp)> = shifts.iter().map(|shift| (shift.starts, shift.ends)).chain(gaps.iter().copied()).collect();
        pieces.sort();
        let mut reached = from;
        for (starts, ends) in pieces {
            prop_assert_eq!(starts, reached);
            prop_assert!(starts < ends);
            reached = ends;
        }
        prop_assert_eq!(reached, to);
    }

    #[test]
    fn calendar_handoffs_happen_at_the_handoff_wall_time(
        zone_name in prop::sample::select(ZONES.to_vec()),
        change in 0usize..4,
        start in start_strategy(),
        days in 1u32..=3,
    ) {
        let time_zone = zone(zone_name);
        let t = near_change(&time_zone, change, 0);
        let schedule = Schedule {
            id: "s".to_string(),
            time_zone: time_zone.clone(),
            layers: vec![layer(&["a", "b"], &start.to_string(), ShiftLength::Days(days))],
            overrides: Vec::new(),
        };
        let from = t.checked_sub(SignedDuration::from_hours(24 * 8)).unwrap();
        let to = t.checked_add(SignedDuration::from_hours(24 * 8)).unwrap();
        let shifts = schedule.shifts(from, to);
        for shift in shifts.iter().filter(|shift| shift.starts > from && shift.starts > time_zone.to_ambiguous_timestamp(start).compatible().unwrap()) {
            let at = time_zone.to_datetime(shift.starts);
            let wanted = at.date().to_datetime(start.time());
            if at.time() == start.time() {
                continue;
            }
            // Otherwise the wall time did not happen that day, and the handoff is the change.
            let is_gap = matches!(time_zone.to_ambiguous_timestamp(wanted).offset(), AmbiguousOffset::Gap { .. });
            prop_assert!(is_gap, "handoff at {} instead of {}", at, wanted);
            let just_before = time_zone.to_datetime(shift.starts.checked_sub(SignedDuration::from_nanos(1)).unwrap());
            prop_assert!(just_before < wanted && wanted < at, "{} {} {}", just_before, wanted, at);
        }
    }

    #[test]
    fn members_share_full_cycles_equally(
        zone_name in prop::sample::select(ZONES.to_vec()),
        n_members in 2usize..=5,
        shift in shift_strategy(),
        day in 0i64..800,
        cycles in 1i64..=4,
    ) {
        let time_zone = zone(zone_name);
        let members: Vec<String> = (0..n_members).map(|member| format!("p{member}")).collect();
        let member_refs: Vec<&str> = members.iter().map(String::as_str).collect();
        let start = Date::constant(2024, 1, 1).checked_add(jiff::Span::new().days(day)).unwrap().to_datetime(time("09:00"));
        let schedule = Schedule {
            id: "s".to_string(),
            time_zone: time_zone.clone(),
            layers: vec![layer(&member_refs, &start.to_string(), shift)],
            overrides: Vec::new(),
        };
        let n_shifts = cycles * n_members as i64;
        let from = start.to_zoned(time_zone.clone()).unwrap().timestamp();
        let to = match shift {
            ShiftLength::Hours(hours) => from.checked_add(SignedDuration::from_hours(n_shifts * i64::from(hours))).unwrap(),
            ShiftLength::Days(days) => start.checked_add(jiff::Span::new().days(n_shifts * i64::from(days))).unwrap().to_zoned(time_zone.clone()).unwrap().timestamp(),
            ShiftLength::Weeks(weeks) => start.checked_add(jiff::Span::new().weeks(n_shifts * i64::from(weeks))).unwrap().to_zoned(time_zone.clone()).unwrap().timestamp(),
        };
        let shifts = schedule.shifts(from, to);
        prop_assert_eq!(shifts.len() as i64, n_shifts);
        let changes = time_zone.following(from).take_while(|transition| transition.timestamp() < to).count() as i64;
        let total = to.as_second() - from.as_second();
        for member in &members {
            let mine: Vec<&Shift> = shifts.iter().filter(|shift| &shift.person == member).collect();
            prop_assert_eq!(mine.len() as i64, cycles);
            let share: i64 = mine.iter().map(|shift| shift.ends.as_second() - shift.starts.as_second()).sum();
            let fair = total / n_members as i64;
            prop_assert!((share - fair).abs() <= changes * 3600, "{} has {} s, fair {} s, {} changes", member, share, fair, changes);
            if changes == 0 || matches!(shift, ShiftLength::Hours(_)) {
                prop_assert_eq!(share * n_members as i64, total);
            }
        }
    }
}
