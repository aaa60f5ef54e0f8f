//! iCalendar (RFC 5545) export of a schedule: one event per final shift (overrides applied),
//! with the person's name, in UTC, so every calendar shows them at the right local time.
//! Written by hand: the format needs only escaping, CRLF line ends and folding at 75 octets.

use jiff::Timestamp;
use nines_core::oncall::directory::Directory;
use nines_core::oncall::schedule::{Schedule, ShiftSource};

/// The calendar of `schedule` over `[from, to)`. `stamp` is the DTSTAMP (the export time).
pub fn schedule_calendar(
    schedule: &Schedule,
    directory: &Directory,
    from: Timestamp,
    to: Timestamp,
    stamp: Timestamp,
) -> String {
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//nines//on-call schedule//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(
        &mut out,
        &format!(
            "X-WR-CALNAME:{}",
            escape(&format!("on call: {}", schedule.id))
        ),
    );
    for shift in schedule.shifts(from, to) {
        let name = directory
            .person(&shift.person)
            .map(|person| person.name.clone())
            .unwrap_or_else(|| shift.person.clone());
        let source = match shift.source {
            ShiftSource::Layer(index) => schedule
                .layers
                .get(index)
                .map(|layer| format!("layer {}", layer.name))
                .unwrap_or_else(|| "layer".to_string()),
            ShiftSource::Override(_) => "override".to_string(),
        };
        line(&mut out, "BEGIN:VEVENT");
        line(
            &mut out,
            &format!(
                "UID:{}-{}-{}@nines",
                escape(&schedule.id),
                shift.starts.as_second(),
                escape(&shift.person)
            ),
        );
        line(&mut out, &format!("DTSTAMP:{}", utc(stamp)));
        line(&mut out, &format!("DTSTART:{}", utc(shift.starts)));
        line(&mut out, &format!("DTEND:{}", utc(shift.ends)));
        line(
            &mut out,
            &format!("SUMMARY:{}", escape(&format!("On call: {name}"))),
        );
        line(
            &mut out,
            &format!(
                "DESCRIPTION:{}",
                escape(&format!(
                    "{name} ({}) is on call for {} ({source})",
                    shift.person, schedule.id
                ))
            ),
        );
        line(&mut out, "TRANSP:TRANSPARENT");
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

/// `20261123T093000Z`.
fn utc(time: Timestamp) -> String {
    time.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// Escapes TEXT values: backslash, semicolon, comma and newlines.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded so no line exceeds 75 octets (continuations start with a
/// space), never inside a UTF-8 character, ended by CRLF.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let size = c.len_utf8();
        if width + size > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += size;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        let mut out = String::new();
        let text = format!("SUMMARY:{}", "é".repeat(60));
        line(&mut out, &text);
        for physical in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(
                physical.len() <= 75,
                "{physical:?} is {} octets",
                physical.len()
            );
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded, format!("{text}\r\n"));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a;b,c\\d\ne"), "a\\;b\\,c\\\\d\\ne");
    }
}
