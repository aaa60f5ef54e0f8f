//! Incident configuration in the native format: the severity rubric (written definitions of
//! SEV1 to SEV3, or a team's own levels), the rules that open an incident from a page, and the
//! postmortem template.
//!
//! ```yaml
//! incidents:
//!   severities:                    # optional; default SEV1-SEV3 with written definitions
//!     - {id: SEV1, name: Critical, definition: "Customer-facing outage or data loss"}
//!   open_for:                      # a new page whose alert matches opens an incident
//!     - {matchers: ['alertname="SLOBurnRate"', 'tier="1"'], severity: SEV1}
//!   postmortem_template: |         # optional; placeholders {{title}}, {{summary}}, ...
//!     # Postmortem: {{title}}
//! ```

use nines_core::incident::model::{Rubric, SeverityLevel};
use nines_core::incident::postmortem::PLACEHOLDERS;
use nines_core::oncall::matcher::Matcher;
use serde::Deserialize;
use yaml_serde::Value;

use crate::catalog::{Format, Origin};
use crate::yaml::{join_index, join_key};
use crate::{LoadContext, SourceDoc};

/// What a team wrote about incidents (one `incidents:` in all files).
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentConfig {
    pub rubric: Rubric,
    pub rules: Vec<IncidentRule>,
    /// Markdown with placeholders; the core's default when none.
    pub postmortem_template: Option<String>,
    pub origin: Option<Origin>,
}

impl Default for IncidentConfig {
    fn default() -> IncidentConfig {
        IncidentConfig {
            rubric: Rubric::default_three(),
            rules: Vec::new(),
            postmortem_template: None,
            origin: None,
        }
    }
}

impl IncidentConfig {
    /// The severity of the first rule whose matchers all match `labels`.
    pub fn severity_for(&self, labels: &nines_core::oncall::Labels) -> Option<&str> {
        self.rules
            .iter()
            .find(|rule| nines_core::oncall::matcher::matches_all(&rule.matchers, labels))
            .map(|rule| rule.severity.as_str())
    }
}

/// A page whose alert matches every matcher opens an incident of `severity`.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRule {
    pub matchers: Vec<Matcher>,
    pub severity: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIncidents {
    #[serde(default)]
    severities: Option<Vec<Value>>,
    #[serde(default)]
    open_for: Vec<Value>,
    #[serde(default)]
    postmortem_template: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeverity {
    id: String,
    #[serde(default)]
    name: Option<String>,
    definition: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    matchers: Vec<String>,
    severity: String,
}

/// Reads `incidents:` of one native document into the catalog; every problem located, and
/// nothing taken from a section with errors.
pub(crate) fn read(doc: &SourceDoc, value: &Value, context: &mut LoadContext) {
    let path = "incidents";
    let origin = Origin {
        file: doc.file.clone(),
        line: doc.locate(path).line,
        path: doc.full_path(path),
        format: Format::Native,
    };
    if let Some(first) = &context.catalog.incidents.origin {
        let message = format!(
            "incidents: is already written at {}:{}; write it once",
            first.file, first.line
        );
        context.report.push(doc.error(path, message));
        return;
    }
    let Some(raw) = doc.decode::<RawIncidents>(value, path, &mut context.report) else {
        return;
    };
    let mut ok = true;
    let rubric = match &raw.severities {
        None => Rubric::default_three(),
        Some(items) => {
            let mut levels: Vec<SeverityLevel> = Vec::new();
            let at = join_key(path, "severities");
            if items.is_empty() {
                context.report.push(doc.error(
                    &at,
                    "list at least one severity, or leave it out for SEV1-SEV3",
                ));
                ok = false;
            }
            for (index, item) in items.iter().enumerate() {
                let item_path = join_index(&at, index);
                let Some(level) = doc.decode::<RawSeverity>(item, &item_path, &mut context.report)
                else {
                    ok = false;
                    continue;
                };
                let id = level.id.trim().to_string();
                if id.is_empty() || id.len() > 32 || id.chars().any(char::is_whitespace) {
                    context.report.push(doc.error(
                        &join_key(&item_path, "id"),
                        format!(
                            "severity id {:?} must be 1 to 32 characters without spaces",
                            level.id
                        ),
                    ));
                    ok = false;
                    continue;
                }
                if levels
                    .iter()
                    .any(|other| other.id.eq_ignore_ascii_case(&id))
                {
                    context.report.push(doc.error(
                        &join_key(&item_path, "id"),
                        format!("duplicate severity {id:?}"),
                    ));
                    ok = false;
                    continue;
                }
                if level.definition.trim().is_empty() {
                    context.report.push(doc.error(
                        &join_key(&item_path, "definition"),
                        "write what this severity means, so responders agree before the incident",
                    ));
                    ok = false;
                }
                levels.push(SeverityLevel {
                    rank: u32::try_from(index + 1).unwrap_or(u32::MAX),
                    name: level.name.clone().unwrap_or_else(|| id.clone()),
                    id,
                    definition: level.definition.trim().to_string(),
                });
            }
            Rubric { levels }
        }
    };
    let mut rules = Vec::new();
    for (index, item) in raw.open_for.iter().enumerate() {
        let item_path = join_index(&join_key(path, "open_for"), index);
        let Some(rule) = doc.decode::<RawRule>(item, &item_path, &mut context.report) else {
            ok = false;
            continue;
        };
        let mut matchers = Vec::new();
        if rule.matchers.is_empty() {
            context.report.push(doc.error(
                &join_key(&item_path, "matchers"),
                "a rule needs at least one matcher (every page would open an incident)",
            ));
            ok = false;
        }
        for (position, text) in rule.matchers.iter().enumerate() {
            match Matcher::parse(text) {
                Ok(matcher) => matchers.push(matcher),
                Err(err) => {
                    context.report.push(doc.error(
                        &join_index(&join_key(&item_path, "matchers"), position),
                        err.to_string(),
                    ));
                    ok = false;
                }
            }
        }
        match rubric.level(&rule.severity) {
            Some(level) => rules.push(IncidentRule {
                matchers,
                severity: level.id.clone(),
            }),
            None => {
                let known: Vec<&str> = rubric.levels.iter().map(|l| l.id.as_str()).collect();
                context.report.push(doc.error(
                    &join_key(&item_path, "severity"),
                    format!(
                        "unknown severity {:?}: the rubric has {}",
                        rule.severity,
                        known.join(", ")
                    ),
                ));
                ok = false;
            }
        }
    }
    if let Some(template) = &raw.postmortem_template {
        let at = join_key(path, "postmortem_template");
        let mut rest = template.as_str();
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else { break };
            let name = after[..end].trim();
            if !PLACEHOLDERS.contains(&name) {
                context.report.push(doc.warning(
                    &at,
                    format!(
                        "unknown placeholder {{{{{name}}}}} is left as written; known: {}",
                        PLACEHOLDERS.join(", ")
                    ),
                ));
            }
            rest = &after[end + 2..];
        }
    }
    if ok {
        context.catalog.incidents = IncidentConfig {
            rubric,
            rules,
            postmortem_template: raw.postmortem_template,
            origin: Some(origin),
        };
    }
}
