//! The incident timeline: entries from any source (alerts, pages, incident events) put in
//! order, and rendered as Markdown lines in UTC or a given time zone.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// One line of a timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: Timestamp,
    /// `incident.opened`, `alert.fired`, or any kind a source uses.
    pub kind: String,
    /// Who did it; None for what systems did.
    pub actor: Option<String>,
    pub text: String,
}

/// The entries ordered by time; entries at the same instant keep the order they came in
/// (a stable sort), so events of one command stay in the order it wrote them.
pub fn timeline(entries: impl IntoIterator<Item = TimelineEntry>) -> Vec<TimelineEntry> {
    let mut entries: Vec<TimelineEntry> = entries.into_iter().collect();
    entries.sort_by_key(|entry| entry.at);
    entries
}

/// The words a kind shows as: `incident.opened` -> `incident opened`, `alert.fired` ->
/// `alert fired`, `incident.postmortem_published` -> `postmortem published`.
pub fn kind_label(kind: &str) -> String {
    let kind = kind
        .strip_prefix("incident.")
        .map_or(kind.to_string(), |rest| match rest {
            "opened" | "resolved" | "reopened" => format!("incident {rest}"),
            "status" => "status".to_string(),
            "update" => "status update".to_string(),
            other => other.to_string(),
        });
    kind.replace(['.', '_'], " ")
}

/// Markdown list lines, one per entry, in the order given (call [`timeline`] first):
/// `- 10:04:12 UTC **alert fired** checkout 5xx above 2% (alice)`.
///
/// Times are shown in `zone` (None: UTC) with its abbreviation. When the entries fall on more
/// than one day in that zone, every line carries the date too (`2025-01-02 00:15:00 UTC`), so
/// no line is ambiguous. Text is put on one line and Markdown emphasis characters are escaped,
/// so an entry cannot break the list.
pub fn render_markdown(entries: &[TimelineEntry], zone: Option<&TimeZone>) -> Vec<String> {
    let zone = zone.cloned().unwrap_or(TimeZone::UTC);
    let zoned: Vec<jiff::Zoned> = entries
        .iter()
        .map(|entry| entry.at.to_zoned(zone.clone()))
        .collect();
    let first_date = zoned.first().map(|at| at.date());
    let many_days = zoned.iter().any(|at| Some(at.date()) != first_date);
    let format = if many_days {
        "%Y-%m-%d %H:%M:%S %Z"
    } else {
        "%H:%M:%S %Z"
    };
    entries
        .iter()
        .zip(&zoned)
        .map(|(entry, at)| {
            let mut line = format!(
                "- {} **{}**",
                at.strftime(format),
                escape(&kind_label(&entry.kind))
            );
            let text = escape(&entry.text);
            if !text.is_empty() {
                line.push(' ');
                line.push_str(&text);
            }
            if let Some(actor) = &entry.actor {
                line.push_str(&format!(" ({})", escape(actor)));
            }
            line
        })
        .collect()
}

/// One line, with the characters that start Markdown emphasis, code, links or HTML escaped.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for character in one_line.chars() {
        if matches!(
            character,
            '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '|' | '#'
        ) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}
