//! Silences and maintenance windows: boundaries, weekly windows across midnight and DST
//! changes, the next window, and which mute wins.

use jiff::Timestamp;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use nines_core::Span;
use nines_core::oncall::Labels;
use nines_core::oncall::matcher::parse_matchers;
use nines_core::oncall::silence::{MaintenanceWhen, MaintenanceWindow, Mute, Silence, muted_by};
use proptest::prelude::*;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn silence(id: &str, matchers: &str, starts: &str, ends: &str) -> Silence {
    Silence {
        id: id.to_string(),
        matchers: parse_matchers(matchers).unwrap(),
        starts: at(starts),
        ends: at(ends),
        created_by: "alice".to_string(),
        comment: "deploy".to_string(),
    }
}

fn weekly(zone: &str, days: &[Weekday], start: &str, duration: &str) -> MaintenanceWindow {
    MaintenanceWindow {
        id: "weekly".to_string(),
        matchers: Vec::new(),
        when: MaintenanceWhen::Weekly {
            time_zone: TimeZone::get(zone).unwrap(),
            days: days.to_vec(),
            start: start.parse::<Time>().unwrap(),
            duration: Span::parse(duration).unwrap(),
        },
        comment: String::new(),
    }
}

fn once(id: &str, matchers: &str, starts: &str, ends: &str) -> MaintenanceWindow {
    MaintenanceWindow {
        id: id.to_string(),
        matchers: parse_matchers(matchers).unwrap(),
        when: MaintenanceWhen::Once {
            starts: at(starts),
            ends: at(ends),
        },
        comment: String::new(),
    }
}

/// `(instant, active?)` for each instant.
fn check_active(window: &MaintenanceWindow, cases: &[(&str, bool)]) {
    for (instant, expected) in cases {
        assert_eq!(window.is_active(at(instant)), *expected, "at {instant}");
    }
}

fn check_next(window: &MaintenanceWindow, t: &str, expected: Option<(&str, &str)>) {
    assert_eq!(
        window.next_window(at(t)),
        expected.map(|(start, end)| (at(start), at(end))),
        "next window after {t}"
    );
}

#[test]
fn silences_start_inclusive_and_end_exclusive() {
    let quiet = silence(
        "s1",
        "{service=\"api\"}",
        "2025-01-01T10:00:00Z",
        "2025-01-01T11:00:00Z",
    );
    let api = labels(&[("service", "api")]);
    for (instant, active) in [
        ("2025-01-01T09:59:59Z", false),
        ("2025-01-01T10:00:00Z", true),
        ("2025-01-01T10:59:59Z", true),
        ("2025-01-01T11:00:00Z", false),
    ] {
        assert_eq!(quiet.is_active(at(instant)), active, "{instant}");
        assert_eq!(quiet.mutes(&api, at(instant)), active, "{instant}");
    }
    assert!(!quiet.mutes(&labels(&[("service", "db")]), at("2025-01-01T10:30:00Z")));
    assert!(!quiet.mutes(&Labels::new(), at("2025-01-01T10:30:00Z")));
}

#[test]
fn a_silence_that_ends_before_it_starts_is_never_active() {
    let backwards = silence("s", "", "2025-01-01T11:00:00Z", "2025-01-01T10:00:00Z");
    assert!(!backwards.is_active(at("2025-01-01T10:30:00Z")));
    assert!(!backwards.is_active(at("2025-01-01T11:00:00Z")));
}

#[test]
fn once_windows_and_their_next_window() {
    let window = once("m", "", "2025-01-01T10:00:00Z", "2025-01-01T12:00:00Z");
    check_active(
        &window,
        &[
            ("2025-01-01T09:59:59Z", false),
            ("2025-01-01T10:00:00Z", true),
            ("2025-01-01T11:59:59Z", true),
            ("2025-01-01T12:00:00Z", false),
        ],
    );
    let both = Some(("2025-01-01T10:00:00Z", "2025-01-01T12:00:00Z"));
    check_next(&window, "2024-12-01T00:00:00Z", both);
    check_next(&window, "2025-01-01T11:00:00Z", both);
    check_next(&window, "2025-01-01T12:00:00Z", None);
    let empty = once("e", "", "2025-01-01T10:00:00Z", "2025-01-01T10:00:00Z");
    check_next(&empty, "2024-01-01T00:00:00Z", None);
    assert!(!empty.is_active(at("2025-01-01T10:00:00Z")));
}

#[test]
fn weekly_windows_cross_midnight() {
    // Saturday 22:00 UTC for 4h: into Sunday 02:00.
    let window = weekly("UTC", &[Weekday::Saturday], "22:00", "4h");
    check_active(
        &window,
        &[
            ("2025-01-04T21:59:59Z", false), // a Saturday
            ("2025-01-04T22:00:00Z", true),
            ("2025-01-05T00:00:00Z", true),
            ("2025-01-05T01:59:59Z", true),
            ("2025-01-05T02:00:00Z", false),
            ("2025-01-03T23:00:00Z", false), // a Friday
            ("2025-01-06T23:00:00Z", false),
        ],
    );
    check_next(
        &window,
        "2025-01-05T01:00:00Z",
        Some(("2025-01-04T22:00:00Z", "2025-01-05T02:00:00Z")),
    );
    check_next(
        &window,
        "2025-01-05T02:00:00Z",
        Some(("2025-01-11T22:00:00Z", "2025-01-12T02:00:00Z")),
    );
}

#[test]
fn weekly_windows_follow_local_time_in_their_zone() {
    // Tuesdays and Thursdays 09:00 Berlin for 30m: 08:00Z in winter, 07:00Z in summer.
    let window = weekly(
        "Europe/Berlin",
        &[Weekday::Tuesday, Weekday::Thursday],
        "09:00",
        "30m",
    );
    check_active(
        &window,
        &[
            ("2025-01-07T08:00:00Z", true),
            ("2025-01-07T07:00:00Z", false),
            ("2025-07-08T07:00:00Z", true),
            ("2025-07-08T08:00:00Z", false),
            ("2025-07-09T07:00:00Z", false), // a Wednesday
            ("2025-07-10T07:29:59Z", true),
        ],
    );
    check_next(
        &window,
        "2025-07-08T07:30:00Z",
        Some(("2025-07-10T07:00:00Z", "2025-07-10T07:30:00Z")),
    );
}

#[test]
fn a_start_missing_on_the_spring_forward_day_moves_forward_in_berlin() {
    // 2025-03-30 (a Sunday) Berlin skips 02:00-03:00: 02:30 becomes 03:30 CEST = 01:30Z.
    let window = weekly("Europe/Berlin", &[Weekday::Sunday], "02:30", "1h");
    check_next(
        &window,
        "2025-03-29T12:00:00Z",
        Some(("2025-03-30T01:30:00Z", "2025-03-30T02:30:00Z")),
    );
    check_active(
        &window,
        &[
            ("2025-03-30T01:29:59Z", false),
            ("2025-03-30T01:30:00Z", true),
            ("2025-03-30T02:29:59Z", true),
            ("2025-03-30T02:30:00Z", false),
            // The Sundays around it: 02:30 CET = 01:30Z, 02:30 CEST = 00:30Z.
            ("2025-03-23T01:30:00Z", true),
            ("2025-04-06T00:30:00Z", true),
            ("2025-04-06T01:30:00Z", false),
        ],
    );
    check_next(
        &window,
        "2025-03-30T02:30:00Z",
        Some(("2025-04-06T00:30:00Z", "2025-04-06T01:30:00Z")),
    );
}

#[test]
fn a_start_missing_on_the_spring_forward_day_moves_forward_in_new_york() {
    // 2025-03-09 (a Sunday) New York skips 02:00-03:00: 02:30 becomes 03:30 EDT = 07:30Z.
    let window = weekly("America/New_York", &[Weekday::Sunday], "02:30", "1h");
    check_next(
        &window,
        "2025-03-08T12:00:00Z",
        Some(("2025-03-09T07:30:00Z", "2025-03-09T08:30:00Z")),
    );
    check_active(
        &window,
        &[
            ("2025-03-09T07:29:59Z", false),
            ("2025-03-09T07:30:00Z", true),
            ("2025-03-09T08:29:59Z", true),
            ("2025-03-09T08:30:00Z", false),
            ("2025-03-02T07:30:00Z", true), // 02:30 EST
            ("2025-03-16T06:30:00Z", true), // 02:30 EDT
        ],
    );
}

#[test]
fn a_repeated_start_on_the_fall_back_day_takes_the_first() {
    // 2025-10-26 Berlin repeats 02:00-03:00; 02:30 is first 02:30 CEST = 00:30Z.
    let window = weekly("Europe/Berlin", &[Weekday::Sunday], "02:30", "1h");
    check_next(
        &window,
        "2025-10-25T12:00:00Z",
        Some(("2025-10-26T00:30:00Z", "2025-10-26T01:30:00Z")),
    );
    // 2025-11-02 New York repeats 01:00-02:00; 01:30 is first 01:30 EDT = 05:30Z.
    let window = weekly("America/New_York", &[Weekday::Sunday], "01:30", "1h");
    check_next(
        &window,
        "2025-11-01T12:00:00Z",
        Some(("2025-11-02T05:30:00Z", "2025-11-02T06:30:00Z")),
    );
}

#[test]
fn durations_are_exact_across_a_dst_change_at_night() {
    // Saturday 23:00 New York for 5h over the spring-forward night: 04:00Z to 09:00Z, that is
    // until 05:00 EDT (five hours elapsed, not five on the wall clock).
    let window = weekly("America/New_York", &[Weekday::Saturday], "23:00", "5h");
    check_next(
        &window,
        "2025-03-08T12:00:00Z",
        Some(("2025-03-09T04:00:00Z", "2025-03-09T09:00:00Z")),
    );
    check_active(
        &window,
        &[
            ("2025-03-09T08:59:59Z", true),
            ("2025-03-09T09:00:00Z", false),
        ],
    );
}

#[test]
fn degenerate_weekly_windows() {
    let no_days = weekly("UTC", &[], "00:00", "1h");
    assert!(!no_days.is_active(at("2025-01-01T00:30:00Z")));
    check_next(&no_days, "2025-01-01T00:00:00Z", None);
    let zero = weekly("UTC", &[Weekday::Wednesday], "00:00", "0s");
    assert!(!zero.is_active(at("2025-01-01T00:00:00Z")));
    check_next(&zero, "2025-01-01T00:00:00Z", None);
}

#[test]
fn long_weekly_windows_overlap_into_one() {
    // Every Monday for 10 days: always open; the occurrence returned is the latest started.
    let window = weekly("UTC", &[Weekday::Monday], "00:00", "10d");
    for instant in [
        "2025-01-06T00:00:00Z",
        "2025-01-12T23:59:59Z",
        "2025-01-15T12:00:00Z",
    ] {
        assert!(window.is_active(at(instant)), "{instant}");
    }
    check_next(
        &window,
        "2025-01-15T12:00:00Z",
        Some(("2025-01-13T00:00:00Z", "2025-01-23T00:00:00Z")),
    );
    // Every day for 25h: always open.
    let every_day = weekly(
        "Europe/Berlin",
        &Weekday::Monday.cycle_forward().take(7).collect::<Vec<_>>(),
        "03:00",
        "25h",
    );
    for hour in 0..24 * 14 {
        let instant = at("2025-03-24T00:00:00Z")
            .checked_add(jiff::SignedDuration::from_hours(hour))
            .unwrap();
        assert!(every_day.is_active(instant), "{instant}");
    }
}

#[test]
fn maintenance_mutes_only_matching_alerts() {
    let window = MaintenanceWindow {
        matchers: parse_matchers("{service=~\"db|cache\"}").unwrap(),
        ..weekly("UTC", &[Weekday::Saturday], "22:00", "4h")
    };
    let saturday_night = at("2025-01-04T23:00:00Z");
    assert!(window.mutes(&labels(&[("service", "db")]), saturday_night));
    assert!(!window.mutes(&labels(&[("service", "api")]), saturday_night));
    assert!(!window.mutes(&labels(&[("service", "db")]), at("2025-01-04T21:00:00Z")));
}

#[test]
fn muted_by_prefers_silences_then_the_longest() {
    let db = labels(&[("service", "db")]);
    let t = at("2025-01-01T10:30:00Z");
    let silences = [
        silence(
            "other-service",
            "{service=\"api\"}",
            "2025-01-01T10:00:00Z",
            "2025-01-02T00:00:00Z",
        ),
        silence(
            "short",
            "{service=\"db\"}",
            "2025-01-01T10:00:00Z",
            "2025-01-01T11:00:00Z",
        ),
        silence(
            "long",
            "{service=~\"d.*\"}",
            "2025-01-01T10:00:00Z",
            "2025-01-01T18:00:00Z",
        ),
        silence(
            "long-too",
            "{}",
            "2025-01-01T09:00:00Z",
            "2025-01-01T18:00:00Z",
        ),
        silence(
            "expired",
            "{}",
            "2025-01-01T00:00:00Z",
            "2025-01-01T10:30:00Z",
        ),
    ];
    let windows = [
        once(
            "w-short",
            "{service=\"db\"}",
            "2025-01-01T10:00:00Z",
            "2025-01-01T11:00:00Z",
        ),
        once(
            "w-long",
            "{}",
            "2025-01-01T10:00:00Z",
            "2025-01-01T20:00:00Z",
        ),
        once(
            "w-api",
            "{service=\"api\"}",
            "2025-01-01T10:00:00Z",
            "2025-01-03T00:00:00Z",
        ),
    ];
    let name = |mute: Option<Mute<'_>>| match mute {
        Some(Mute::Silence(silence)) => format!("silence {}", silence.id),
        Some(Mute::Maintenance(window)) => format!("maintenance {}", window.id),
        None => "none".to_string(),
    };
    // A silence beats a longer maintenance window; of equal ends, the first listed.
    assert_eq!(name(muted_by(&db, t, &silences, &windows)), "silence long");
    // Without silences, the window that ends last.
    assert_eq!(name(muted_by(&db, t, &[], &windows)), "maintenance w-long");
    assert_eq!(
        name(muted_by(&db, t, &silences[..2], &windows)),
        "silence short"
    );
    assert_eq!(
        name(muted_by(
            &db,
            at("2025-01-01T21:00:00Z"),
            &silences,
            &windows
        )),
        "none"
    );
    assert_eq!(name(muted_by(&db, t, &[], &[])), "none");
}

fn zone_strategy() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",
        "America/Santiago",
        "Asia/Kolkata",
    ])
}

proptest! {
    #[test]
    fn next_window_agrees_with_is_active(
        second in 1_600_000_000i64..1_900_000_000,
        zone in zone_strategy(),
        day_mask in 1u8..128,
        hour in 0i8..24,
        minute in prop::sample::select(vec![0i8, 15, 30, 59]),
        duration_minutes in 1i64..(23 * 60),
    ) {
        let days: Vec<Weekday> = Weekday::Monday
            .cycle_forward()
            .take(7)
            .enumerate()
            .filter(|(index, _)| day_mask & (1 << index) != 0)
            .map(|(_, day)| day)
            .collect();
        let time_zone = TimeZone::get(zone).unwrap();
        let window = MaintenanceWindow {
            id: "p".into(),
            matchers: Vec::new(),
            when: MaintenanceWhen::Weekly {
                time_zone: time_zone.clone(),
                days: days.clone(),
                start: Time::new(hour, minute, 0, 0).unwrap(),
                duration: Span::minutes(duration_minutes),
            },
            comment: String::new(),
        };
        let t = Timestamp::from_second(second).unwrap();
        let one_second = jiff::SignedDuration::from_secs(1);
        let (start, end) = window.next_window(t).unwrap();
        prop_assert!(start < end && t < end);
        prop_assert_eq!(end.duration_since(start), jiff::SignedDuration::from_mins(duration_minutes));
        prop_assert_eq!(window.is_active(t), start <= t);
        prop_assert!(window.is_active(start));
        prop_assert!(window.is_active(end.checked_sub(one_second).unwrap()));
        if start > t {
            // Nothing is open between t and the next start.
            prop_assert!(!window.is_active(start.checked_sub(one_second).unwrap()));
            prop_assert!(start.duration_since(t) <= jiff::SignedDuration::from_hours(8 * 24));
        }
        // The start is the configured wall time on a listed day (or where a DST gap moved it).
        let local = time_zone.to_datetime(start);
        let on_listed_day = [local.date(), local.date().yesterday().unwrap()]
            .into_iter()
            .any(|date| {
                days.contains(&date.weekday())
                    && time_zone
                        .to_timestamp(date.to_datetime(Time::new(hour, minute, 0, 0).unwrap()))
                        .unwrap()
                        == start
            });
        prop_assert!(on_listed_day, "start {} local {}", start, local);
    }
}
