//! Calendar periods in real time zones, across daylight-saving changes.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use nines_core::{CalendarUnit, CalendarWindow, Window};
use proptest::prelude::*;

proptest! {
    #[test]
    fn periods_contain_now_adjoin_and_start_at_local_midnight(
        second in 1_600_000_000i64..1_900_000_000,
        zone in prop::sample::select(vec!["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "America/Sao_Paulo"]),
        unit in prop::sample::select(vec![CalendarUnit::Week, CalendarUnit::Month, CalendarUnit::Quarter]),
    ) {
        let time_zone = TimeZone::get(zone).unwrap();
        let window = Window::Calendar(CalendarWindow::new(unit, time_zone.clone()));
        let now = Timestamp::from_second(second).unwrap();
        let bounds = window.bounds(now).unwrap();
        prop_assert!(bounds.start <= now && now < bounds.end);
        let next = window.bounds(bounds.end).unwrap();
        prop_assert_eq!(next.start, bounds.end);
        let local = bounds.start.to_zoned(time_zone);
        prop_assert_eq!((local.hour(), local.minute()), (0, 0));
        match unit {
            CalendarUnit::Week => prop_assert_eq!(local.weekday(), jiff::civil::Weekday::Monday),
            CalendarUnit::Month => prop_assert_eq!(local.day(), 1),
            CalendarUnit::Quarter => {
                prop_assert_eq!(local.day(), 1);
                prop_assert_eq!((local.month() - 1) % 3, 0);
            }
        }
        prop_assert!(bounds.period <= unit.longest());
    }
}
