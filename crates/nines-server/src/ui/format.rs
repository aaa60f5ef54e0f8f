//! How the UI writes numbers, times and durations: one place, so every page says them alike.

use jiff::Timestamp;
use serde_json::Value;

/// `98.2 %` of a share (1.0 = 100 %); `–` without one.
pub fn percent(share: Option<f64>) -> String {
    match share {
        Some(share) if share.is_finite() => {
            let value = share * 100.0;
            if value.abs() >= 99.95 && value.abs() < 100.0 {
                // Truncated, so 99.9997 % never reads as 100 %.
                format!("{:.3} %", (value * 1000.0).trunc() / 1000.0)
            } else if value.abs() < 0.1 && value != 0.0 {
                format!("{value:.3} %")
            } else {
                format!("{value:.1} %")
            }
        }
        _ => "–".to_string(),
    }
}

/// `14.4×`; `–` without one.
pub fn rate(value: Option<f64>) -> String {
    match value {
        Some(value) if value.is_finite() && value >= 100.0 => format!("{value:.0}×"),
        Some(value) if value.is_finite() => format!("{value:.1}×"),
        _ => "–".to_string(),
    }
}

/// An amount of events or minutes: whole above 100, one decimal below; `–` without one.
pub fn amount(value: Option<f64>) -> String {
    match value {
        Some(value) if value.is_finite() && value.abs() >= 100.0 => format!("{value:.0}"),
        Some(value) if value.is_finite() => format!("{value:.1}"),
        _ => "–".to_string(),
    }
}

/// A link a page may show: `http` and `https` only (a runbook URL can come from any
/// Alertmanager); anything else is not linked.
pub fn web_link(url: &str) -> String {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        url.trim().to_string()
    } else {
        String::new()
    }
}

/// `2 d 4 h`, `3 h 5 min`, `51 s`.
pub fn duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {minutes} min")
    } else if minutes > 0 {
        format!("{minutes} min")
    } else {
        format!("{seconds} s")
    }
}

/// An RFC 3339 instant as `2026-12-04 18:03 UTC`; the text as it is when it does not parse.
pub fn when(text: &str) -> String {
    match text.parse::<Timestamp>() {
        Ok(at) => at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => text.to_string(),
    }
}

/// A JSON instant as `when`, or `–`.
pub fn when_value(value: &Value) -> String {
    value.as_str().map(when).unwrap_or_else(|| "–".to_string())
}

/// How long ago an instant was: `3 min ago`, `in 2 h 5 min`.
pub fn relative(text: &str, now: Timestamp) -> String {
    match text.parse::<Timestamp>() {
        Ok(at) => {
            let seconds = now.as_second() - at.as_second();
            if seconds >= 0 {
                format!("{} ago", duration(seconds))
            } else {
                format!("in {}", duration(-seconds))
            }
        }
        Err(_) => String::new(),
    }
}

/// The text of a JSON string, or `–`.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "–".to_string(),
        other => other.to_string(),
    }
}

/// Milliseconds of a JSON RFC 3339 instant.
pub fn millis(value: &Value) -> Option<i64> {
    value
        .as_str()?
        .parse::<Timestamp>()
        .ok()
        .map(|at| at.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(percent(Some(0.982)), "98.2 %");
        assert_eq!(percent(Some(0.9999)), "99.990 %");
        assert_eq!(percent(Some(1.0)), "100.0 %");
        assert_eq!(percent(Some(-0.25)), "-25.0 %");
        assert_eq!(percent(None), "–");
        assert_eq!(percent(Some(f64::NAN)), "–");
        assert_eq!(rate(Some(14.4)), "14.4×");
        assert_eq!(
            web_link("https://runbooks.example/x"),
            "https://runbooks.example/x"
        );
        assert_eq!(web_link("javascript:alert(1)"), "");
        assert_eq!(web_link(" JAVASCRIPT:alert(1)"), "");
        assert_eq!(amount(Some(129438.65000000013)), "129439");
        assert_eq!(amount(Some(3.26)), "3.3");
        assert_eq!(rate(Some(1000.0)), "1000×");
        assert_eq!(duration(51), "51 s");
        assert_eq!(duration(3 * 3600 + 300), "3 h 5 min");
        assert_eq!(duration(2 * 86_400 + 4 * 3600), "2 d 4 h");
        assert_eq!(when("2026-12-04T18:03:09Z"), "2026-12-04 18:03 UTC");
        assert_eq!(when("soon"), "soon");
        let now: Timestamp = "2026-12-04T18:10:00Z".parse().expect("instant");
        assert_eq!(relative("2026-12-04T18:07:00Z", now), "3 min ago");
        assert_eq!(relative("2026-12-04T20:15:00Z", now), "in 2 h 5 min");
    }
}
