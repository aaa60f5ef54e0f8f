//! On-call configuration in the native format: `people`, `teams`, `schedules`,
//! `escalation_policies`, `routes`, `maintenance`, `heartbeats` and `integrations`, read into
//! the core's on-call types (`Catalog::oncall`).
//!
//! Each item is checked on its own while its file is read; references (people, teams,
//! schedules, policies, channels, services) and the checks that need every file (handoff
//! cycles, coverage, rotation health, pages that reach nobody) run in [`finish`]
//! (`oncall/checks.rs`). A file with errors adds no on-call definitions at all, so a broken
//! file never pages half-configured.

mod checks;

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::{DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use nines_core::Span;
use nines_core::oncall::directory::{Contact, Person, Team};
use nines_core::oncall::escalation::{
    DEFAULT_ACK_TIMEOUT, EscalationPolicy, EscalationStep, Target,
};
use nines_core::oncall::matcher::Matcher;
use nines_core::oncall::route::Route;
use nines_core::oncall::schedule::{Layer, Override, Restriction, Schedule, ShiftLength};
use nines_core::oncall::silence::{MaintenanceWhen, MaintenanceWindow};
use serde::Deserialize;
use yaml_serde::Value;

use crate::catalog::{Format, Heartbeat, Integration, IntegrationKey, Origin, SloId};
use crate::diag::Diagnostic;
use crate::yaml::{join_index, join_key};
use crate::{LoadContext, SourceDoc, datasource};

pub(crate) use checks::finish;
pub use checks::{COVERAGE_WEEKS, HEALTH_WEEKS};

/// Most extra rounds an escalation policy may make (`repeat`).
pub const MAX_REPEAT: u32 = 10;
/// Shortest wait between escalation steps: a step needs time to be acknowledged.
pub const MIN_STEP_DELAY: Span = Span::minutes(1);
/// Default lateness a heartbeat is allowed after its interval.
pub const DEFAULT_HEARTBEAT_GRACE: Span = Span::minutes(5);
/// Shortest heartbeat interval (missed heartbeats are looked for once a minute).
pub const MIN_HEARTBEAT_INTERVAL: Span = Span::minutes(1);
/// Longest literal integration key (PagerDuty routing keys have 32 characters).
pub const MAX_INTEGRATION_KEY_CHARS: usize = 64;

/// What an id names, for duplicate ids and references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Person,
    Team,
    Schedule,
    Policy,
    Maintenance,
    Heartbeat,
    Integration,
    Channel,
    Service,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Person => "person",
            Kind::Team => "team",
            Kind::Schedule => "schedule",
            Kind::Policy => "escalation policy",
            Kind::Maintenance => "maintenance window",
            Kind::Heartbeat => "heartbeat",
            Kind::Integration => "integration",
            Kind::Channel => "channel",
            Kind::Service => "service",
        }
    }

    /// The top-level key its definitions are written under.
    fn section(self) -> &'static str {
        match self {
            Kind::Person => "people",
            Kind::Team => "teams",
            Kind::Schedule => "schedules",
            Kind::Policy => "escalation_policies",
            Kind::Maintenance => "maintenance",
            Kind::Heartbeat => "heartbeats",
            Kind::Integration => "integrations",
            Kind::Channel => "channels",
            Kind::Service => "services",
        }
    }
}

/// A reference to check once every file is read: the id, what it should name, and where it is
/// written (a diagnostic whose message is filled in when it turns out wrong).
#[derive(Debug)]
struct Reference {
    kind: Kind,
    id: String,
    at: Diagnostic,
    /// A step target: a team must have members, or the step reaches nobody.
    step_target: bool,
}

/// A schedule read without problems, with where it is written (for its warnings).
#[derive(Debug)]
struct PendingSchedule {
    schedule: Schedule,
    origin: Origin,
    doc: SourceDoc,
    path: String,
}

/// On-call definitions read so far, waiting for every file.
#[derive(Debug, Default)]
pub struct Pending {
    people: Vec<(Person, Origin)>,
    teams: Vec<(Team, Origin)>,
    schedules: Vec<PendingSchedule>,
    policies: Vec<(EscalationPolicy, Origin)>,
    routes: Option<(Route, Origin)>,
    maintenance: Vec<(MaintenanceWindow, Origin)>,
    heartbeats: Vec<Heartbeat>,
    integrations: Vec<Integration>,
    /// Every id claimed, by kind, including those of definitions read with errors (a reference
    /// to one is not reported again).
    known: BTreeMap<Kind, BTreeMap<String, Origin>>,
    references: Vec<Reference>,
    /// Where the first `routes:` is written (there is one routing tree).
    routes_at: Option<Origin>,
    /// Literal integration keys and where they are written (one key, one integration).
    literal_keys: BTreeMap<String, Origin>,
}

impl Pending {
    /// Whether any file defines teams (service owners are checked against them only then).
    pub(crate) fn has_teams(&self) -> bool {
        self.known
            .get(&Kind::Team)
            .is_some_and(|ids| !ids.is_empty())
    }

    pub(crate) fn knows_team(&self, id: &str) -> bool {
        self.known
            .get(&Kind::Team)
            .is_some_and(|ids| ids.contains_key(id))
    }

    fn knows(&self, kind: Kind, id: &str) -> bool {
        self.known
            .get(&kind)
            .is_some_and(|ids| ids.contains_key(id))
    }
}

/// The on-call sections of one native file, as written.
pub(crate) struct Sections<'a> {
    pub people: &'a [Value],
    pub teams: &'a [Value],
    pub schedules: &'a [Value],
    pub escalation_policies: &'a [Value],
    pub routes: Option<&'a Value>,
    pub maintenance: &'a [Value],
    pub heartbeats: &'a [Value],
    pub integrations: &'a [Value],
}

/// Reads the on-call sections of one native document.
pub(crate) fn read(doc: &SourceDoc, sections: Sections<'_>, context: &mut LoadContext) {
    let mut reader = Reader { doc, context };
    for (index, value) in sections.people.iter().enumerate() {
        reader.person(&join_index("people", index), value);
    }
    for (index, value) in sections.teams.iter().enumerate() {
        reader.team(&join_index("teams", index), value);
    }
    for (index, value) in sections.schedules.iter().enumerate() {
        reader.schedule(&join_index("schedules", index), value);
    }
    for (index, value) in sections.escalation_policies.iter().enumerate() {
        reader.policy(&join_index("escalation_policies", index), value);
    }
    if let Some(value) = sections.routes {
        reader.routes(value);
    }
    for (index, value) in sections.maintenance.iter().enumerate() {
        reader.maintenance(&join_index("maintenance", index), value);
    }
    for (index, value) in sections.heartbeats.iter().enumerate() {
        reader.heartbeat(&join_index("heartbeats", index), value);
    }
    for (index, value) in sections.integrations.iter().enumerate() {
        reader.integration(&join_index("integrations", index), value);
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerson {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    contacts: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContact {
    channel: String,
    #[serde(default)]
    address: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeam {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    members: Vec<String>,
    #[serde(default)]
    escalation_policy: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    id: String,
    time_zone: String,
    layers: Vec<Value>,
    #[serde(default)]
    overrides: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    #[serde(default)]
    name: Option<String>,
    members: Vec<String>,
    start: String,
    shift: String,
    #[serde(default)]
    restrictions: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRestriction {
    #[serde(default)]
    daily: Option<RawDaily>,
    #[serde(default)]
    weekly: Option<RawWeekly>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaily {
    start: String,
    end: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeekly {
    from: String,
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    person: String,
    start: String,
    end: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    id: String,
    #[serde(default)]
    repeat: Option<u32>,
    steps: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    targets: Vec<Value>,
    #[serde(default)]
    delay: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    #[serde(default)]
    person: Option<String>,
    #[serde(default)]
    schedule: Option<String>,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    policy: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    #[serde(default)]
    matchers: Vec<String>,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    group_by: Option<Vec<String>>,
    #[serde(default, rename = "continue")]
    continue_matching: Option<bool>,
    #[serde(default)]
    routes: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMaintenance {
    id: String,
    #[serde(default)]
    matchers: Vec<String>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    weekly: Option<RawWeeklyWindow>,
    #[serde(default)]
    once: Option<RawOnce>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeeklyWindow {
    #[serde(default)]
    time_zone: Option<String>,
    days: Vec<String>,
    start: String,
    duration: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOnce {
    start: String,
    end: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeartbeat {
    id: String,
    #[serde(default)]
    service: Option<String>,
    interval: String,
    #[serde(default)]
    grace: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    runbook: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntegration {
    id: String,
    #[serde(default)]
    key_env: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Reads one document's on-call items; every check returns `false` (or `None`) after
/// reporting, and an item with any problem is left out.
struct Reader<'d, 'c, 'o> {
    doc: &'d SourceDoc,
    context: &'c mut LoadContext<'o>,
}

impl Reader<'_, '_, '_> {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        let diagnostic = self.doc.error(path, message);
        self.context.report.push(diagnostic);
    }

    fn warning(&mut self, path: &str, message: impl Into<String>) {
        let diagnostic = self.doc.warning(path, message);
        self.context.report.push(diagnostic);
    }

    fn pending(&mut self) -> &mut Pending {
        &mut self.context.native.oncall
    }

    fn origin(&self, path: &str) -> Origin {
        Origin {
            file: self.doc.file.clone(),
            line: self.doc.locate(path).line,
            path: self.doc.full_path(path),
            format: Format::Native,
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(&mut self, value: &Value, path: &str) -> Option<T> {
        self.doc.decode::<T>(value, path, &mut self.context.report)
    }

    /// Decodes an item that has an id; when it fails, its id (if it has one) is still claimed
    /// quietly so that references to it are not reported as well.
    fn decode_item<T: serde::de::DeserializeOwned>(
        &mut self,
        kind: Kind,
        value: &Value,
        path: &str,
    ) -> Option<T> {
        let decoded = self.decode::<T>(value, path);
        if decoded.is_none()
            && let Some(id) = value.get("id").and_then(Value::as_str)
        {
            let origin = self.origin(path);
            self.pending()
                .known
                .entry(kind)
                .or_default()
                .entry(id.to_string())
                .or_insert(origin);
        }
        decoded
    }

    /// Claims an item's id: a valid id not taken by another item of its kind.
    fn claim(&mut self, kind: Kind, id: &str, path: &str) -> bool {
        let id_path = join_key(path, "id");
        if let Err(message) = SloId::new(id) {
            self.error(&id_path, message);
            return false;
        }
        if let Some(first) = self.pending().known.get(&kind).and_then(|ids| ids.get(id)) {
            let message = format!(
                "duplicate {} id {id:?}: also defined at {}:{}",
                kind.name(),
                first.file,
                first.line
            );
            self.error(&id_path, message);
            return false;
        }
        let origin = self.origin(path);
        self.pending()
            .known
            .entry(kind)
            .or_default()
            .insert(id.to_string(), origin);
        true
    }

    fn reference(&mut self, kind: Kind, id: &str, path: &str) {
        let at = self.doc.error(path, "");
        self.pending().references.push(Reference {
            kind,
            id: id.to_string(),
            at,
            step_target: false,
        });
    }

    fn time_zone(&mut self, path: &str, name: &str) -> Option<TimeZone> {
        match TimeZone::get(name) {
            Ok(zone) => Some(zone),
            Err(_) => {
                self.error(
                    path,
                    format!("unknown time zone {name:?}: use an IANA name like Europe/Berlin"),
                );
                None
            }
        }
    }

    fn span(&mut self, path: &str, text: &str) -> Option<Span> {
        match Span::parse(text) {
            Ok(span) => Some(span),
            Err(err) => {
                self.error(path, err.to_string());
                None
            }
        }
    }

    fn parsed<T>(&mut self, path: &str, parsed: Result<T, String>) -> Option<T> {
        parsed.map_err(|message| self.error(path, message)).ok()
    }

    fn matchers(&mut self, path: &str, texts: &[String]) -> Option<Vec<Matcher>> {
        let mut matchers = Vec::new();
        let mut ok = true;
        for (index, text) in texts.iter().enumerate() {
            match Matcher::parse(text) {
                Ok(matcher) => matchers.push(matcher),
                Err(err) => {
                    self.error(&join_index(path, index), err.to_string());
                    ok = false;
                }
            }
        }
        ok.then_some(matchers)
    }

    fn labels(&mut self, path: &str, labels: &BTreeMap<String, String>) -> bool {
        let mut ok = true;
        for name in labels.keys() {
            if !is_label_name(name) {
                self.error(
                    &join_key(path, name),
                    format!(
                        "{name:?} is not a label name: use letters, digits and '_', not starting with a digit"
                    ),
                );
                ok = false;
            }
        }
        ok
    }

    fn runbook(&mut self, path: &str, runbook: Option<&str>) -> bool {
        match runbook {
            Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) => {
                self.error(path, "a runbook must be an http(s) URL");
                false
            }
            _ => true,
        }
    }

    fn person(&mut self, path: &str, value: &Value) {
        let Some(raw) = self.decode_item::<RawPerson>(Kind::Person, value, path) else {
            return;
        };
        let mut ok = self.claim(Kind::Person, &raw.id, path);
        let zone_name = raw.time_zone.as_deref().unwrap_or("UTC");
        let time_zone = self.time_zone(&join_key(path, "time_zone"), zone_name);
        let mut contacts = Vec::new();
        let contacts_path = join_key(path, "contacts");
        for (index, value) in raw.contacts.iter().enumerate() {
            let contact_path = join_index(&contacts_path, index);
            let Some(contact) = self.decode::<RawContact>(value, &contact_path) else {
                ok = false;
                continue;
            };
            if contact
                .address
                .as_deref()
                .is_some_and(|address| address.trim().is_empty())
            {
                self.error(
                    &join_key(&contact_path, "address"),
                    "an address must not be empty (leave it out for channels with one destination)",
                );
                ok = false;
            }
            self.reference(
                Kind::Channel,
                &contact.channel,
                &join_key(&contact_path, "channel"),
            );
            contacts.push(Contact {
                channel: contact.channel,
                address: contact.address,
            });
        }
        if raw.contacts.is_empty() {
            self.warning(
                path,
                format!(
                    "person {:?} has no contacts: pages reach them nowhere",
                    raw.id
                ),
            );
        }
        let (true, Some(time_zone)) = (ok, time_zone) else {
            return;
        };
        let origin = self.origin(path);
        self.pending().people.push((
            Person {
                name: raw.name.unwrap_or_else(|| raw.id.clone()),
                id: raw.id,
                time_zone,
                contacts,
            },
            origin,
        ));
    }

    /// A team: its id owns services; members and an escalation policy are optional (a team
    /// that only owns services is fine; a step that targets a team without members is not).
    fn team(&mut self, path: &str, value: &Value) {
        let Some(raw) = self.decode_item::<RawTeam>(Kind::Team, value, path) else {
            return;
        };
        let ok = self.claim(Kind::Team, &raw.id, path);
        let members_path = join_key(path, "members");
        for (index, member) in raw.members.iter().enumerate() {
            self.reference(Kind::Person, member, &join_index(&members_path, index));
        }
        if let Some(policy) = &raw.escalation_policy {
            self.reference(Kind::Policy, policy, &join_key(path, "escalation_policy"));
        }
        if !ok {
            return;
        }
        let origin = self.origin(path);
        self.pending().teams.push((
            Team {
                name: raw.name.unwrap_or_else(|| raw.id.clone()),
                id: raw.id,
                members: raw.members,
                escalation_policy: raw.escalation_policy,
            },
            origin,
        ));
    }

    fn schedule(&mut self, path: &str, value: &Value) {
        let Some(raw) = self.decode_item::<RawSchedule>(Kind::Schedule, value, path) else {
            return;
        };
        let mut ok = self.claim(Kind::Schedule, &raw.id, path);
        let time_zone = self.time_zone(&join_key(path, "time_zone"), &raw.time_zone);
        let layers_path = join_key(path, "layers");
        if raw.layers.is_empty() {
            self.error(&layers_path, "a schedule needs at least one layer");
            ok = false;
        }
        let mut layers = Vec::new();
        for (index, value) in raw.layers.iter().enumerate() {
            match self.layer(&join_index(&layers_path, index), index, value) {
                Some(layer) => layers.push(layer),
                None => ok = false,
            }
        }
        let mut overrides = Vec::new();
        let overrides_path = join_key(path, "overrides");
        for (index, value) in raw.overrides.iter().enumerate() {
            let override_path = join_index(&overrides_path, index);
            match self.schedule_override(&override_path, value, time_zone.as_ref()) {
                Some(item) => overrides.push((index, item)),
                None => ok = false,
            }
        }
        let zone_for_messages = time_zone.clone().unwrap_or(TimeZone::UTC);
        for (later, (later_index, item)) in overrides.iter().enumerate() {
            for (earlier_index, earlier) in overrides[..later].iter() {
                if earlier.starts < item.ends && item.starts < earlier.ends {
                    let message = format!(
                        "override of {:?} ({}) overlaps overrides[{earlier_index}] of {:?} ({}): one override at a time",
                        item.person,
                        interval(item, &zone_for_messages),
                        earlier.person,
                        interval(earlier, &zone_for_messages),
                    );
                    self.error(&join_index(&overrides_path, *later_index), message);
                    ok = false;
                }
            }
        }
        let (true, Some(time_zone)) = (ok, time_zone) else {
            return;
        };
        let origin = self.origin(path);
        let schedule = Schedule {
            id: raw.id,
            time_zone,
            layers,
            overrides: overrides.into_iter().map(|(_, item)| item).collect(),
        };
        let doc = self.doc.clone();
        self.pending().schedules.push(PendingSchedule {
            schedule,
            origin,
            doc,
            path: path.to_string(),
        });
    }

    fn layer(&mut self, path: &str, index: usize, value: &Value) -> Option<Layer> {
        let raw = self.decode::<RawLayer>(value, path)?;
        let mut ok = true;
        let members_path = join_key(path, "members");
        if raw.members.is_empty() {
            self.error(&members_path, "a layer needs at least one member");
            ok = false;
        }
        for (index, member) in raw.members.iter().enumerate() {
            self.reference(Kind::Person, member, &join_index(&members_path, index));
        }
        let start = self.parsed(&join_key(path, "start"), civil_date_time(&raw.start));
        let shift = self.parsed(&join_key(path, "shift"), shift_length(&raw.shift));
        let mut restrictions = Vec::new();
        let restrictions_path = join_key(path, "restrictions");
        for (index, value) in raw.restrictions.iter().enumerate() {
            match self.restriction(&join_index(&restrictions_path, index), value) {
                Some(restriction) => restrictions.push(restriction),
                None => ok = false,
            }
        }
        let (true, Some(start), Some(shift)) = (ok, start, shift) else {
            return None;
        };
        Some(Layer {
            name: raw.name.unwrap_or_else(|| format!("layer {}", index + 1)),
            members: raw.members,
            start,
            shift,
            restrictions,
        })
    }

    /// `{daily: {start: "09:00", end: "17:00"}}` or `{weekly: {from: "mon 09:00", to: "fri 17:00"}}`.
    fn restriction(&mut self, path: &str, value: &Value) -> Option<Restriction> {
        let raw = self.decode::<RawRestriction>(value, path)?;
        match (raw.daily, raw.weekly) {
            (Some(daily), None) => {
                let daily_path = join_key(path, "daily");
                let start = self.parsed(&join_key(&daily_path, "start"), time_of_day(&daily.start));
                let end = self.parsed(&join_key(&daily_path, "end"), time_of_day(&daily.end));
                let (start, end) = (start?, end?);
                if start == end {
                    self.error(
                        &daily_path,
                        "start and end are the same time: leave the restriction out to be on call all day",
                    );
                    return None;
                }
                Some(Restriction::Daily { start, end })
            }
            (None, Some(weekly)) => {
                let weekly_path = join_key(path, "weekly");
                let from = self.parsed(&join_key(&weekly_path, "from"), weekday_time(&weekly.from));
                let to = self.parsed(&join_key(&weekly_path, "to"), weekday_time(&weekly.to));
                let ((start_day, start), (end_day, end)) = (from?, to?);
                if (start_day, start) == (end_day, end) {
                    self.error(
                        &weekly_path,
                        "from and to are the same time: leave the restriction out to be on call all week",
                    );
                    return None;
                }
                Some(Restriction::Weekly {
                    start_day,
                    start,
                    end_day,
                    end,
                })
            }
            _ => {
                self.error(path, "set exactly one of daily and weekly");
                None
            }
        }
    }

    fn schedule_override(
        &mut self,
        path: &str,
        value: &Value,
        zone: Option<&TimeZone>,
    ) -> Option<Override> {
        let raw = self.decode::<RawOverride>(value, path)?;
        self.reference(Kind::Person, &raw.person, &join_key(path, "person"));
        // Without a zone (reported already) a wall time cannot be placed.
        let zone = zone?;
        let starts = self.parsed(&join_key(path, "start"), instant(&raw.start, zone));
        let ends = self.parsed(&join_key(path, "end"), instant(&raw.end, zone));
        let (starts, ends) = (starts?, ends?);
        if ends <= starts {
            self.error(
                &join_key(path, "end"),
                "an override must end after it starts",
            );
            return None;
        }
        Some(Override {
            person: raw.person,
            starts,
            ends,
        })
    }

    fn policy(&mut self, path: &str, value: &Value) {
        let Some(raw) = self.decode_item::<RawPolicy>(Kind::Policy, value, path) else {
            return;
        };
        let mut ok = self.claim(Kind::Policy, &raw.id, path);
        let repeat = raw.repeat.unwrap_or(0);
        if repeat > MAX_REPEAT {
            self.error(
                &join_key(path, "repeat"),
                format!("repeat {repeat} is too many: at most {MAX_REPEAT} extra rounds"),
            );
            ok = false;
        }
        let steps_path = join_key(path, "steps");
        if raw.steps.is_empty() {
            self.error(&steps_path, "an escalation policy needs at least one step");
            ok = false;
        }
        let mut steps = Vec::new();
        for (index, value) in raw.steps.iter().enumerate() {
            match self.step(&join_index(&steps_path, index), value) {
                Some(step) => steps.push(step),
                None => ok = false,
            }
        }
        if !ok {
            return;
        }
        let origin = self.origin(path);
        self.pending().policies.push((
            EscalationPolicy {
                id: raw.id,
                steps,
                repeat,
            },
            origin,
        ));
    }

    fn step(&mut self, path: &str, value: &Value) -> Option<EscalationStep> {
        let raw = self.decode::<RawStep>(value, path)?;
        let mut ok = true;
        let targets_path = join_key(path, "targets");
        if raw.targets.is_empty() {
            self.error(&targets_path, "a step needs at least one target");
            ok = false;
        }
        let mut targets = Vec::new();
        for (index, value) in raw.targets.iter().enumerate() {
            match self.target(&join_index(&targets_path, index), value) {
                Some(target) => targets.push(target),
                None => ok = false,
            }
        }
        let delay = match &raw.delay {
            None => Some(DEFAULT_ACK_TIMEOUT),
            Some(text) => {
                let delay_path = join_key(path, "delay");
                match self.span(&delay_path, text) {
                    Some(delay) if delay < MIN_STEP_DELAY => {
                        self.error(
                            &delay_path,
                            format!(
                                "a step's delay must be at least {MIN_STEP_DELAY}: people need time to acknowledge"
                            ),
                        );
                        None
                    }
                    delay => delay,
                }
            }
        };
        let (true, Some(delay)) = (ok, delay) else {
            return None;
        };
        Some(EscalationStep { targets, delay })
    }

    /// `{person: id}`, `{schedule: id}`, `{team: id}` or `{policy: id}`.
    fn target(&mut self, path: &str, value: &Value) -> Option<Target> {
        let raw = self.decode::<RawTarget>(value, path)?;
        let (kind, field, id, target) = match (raw.person, raw.schedule, raw.team, raw.policy) {
            (Some(id), None, None, None) => {
                (Kind::Person, "person", id.clone(), Target::Person(id))
            }
            (None, Some(id), None, None) => {
                (Kind::Schedule, "schedule", id.clone(), Target::Schedule(id))
            }
            (None, None, Some(id), None) => (Kind::Team, "team", id.clone(), Target::Team(id)),
            (None, None, None, Some(id)) => {
                (Kind::Policy, "policy", id.clone(), Target::Policy(id))
            }
            _ => {
                self.error(path, "set exactly one of person, schedule, team and policy");
                return None;
            }
        };
        let at = self.doc.error(&join_key(path, field), "");
        self.pending().references.push(Reference {
            kind,
            id,
            at,
            step_target: true,
        });
        Some(target)
    }

    /// The root route: one per set of files.
    fn routes(&mut self, value: &Value) {
        let path = "routes";
        if let Some(first) = &self.pending().routes_at {
            let message = format!(
                "routes are already defined at {}:{}: there is one routing tree",
                first.file, first.line
            );
            self.error(path, message);
            return;
        }
        let origin = self.origin(path);
        self.pending().routes_at = Some(origin.clone());
        if let Some(route) = self.route(path, value, true) {
            self.pending().routes = Some((route, origin));
        }
    }

    fn route(&mut self, path: &str, value: &Value, root: bool) -> Option<Route> {
        let raw = self.decode::<RawRoute>(value, path)?;
        let mut ok = true;
        if root && !raw.matchers.is_empty() {
            self.error(
                &join_key(path, "matchers"),
                "the root route takes every alert: it has no matchers",
            );
            ok = false;
        }
        if root && raw.continue_matching.is_some() {
            self.error(
                &join_key(path, "continue"),
                "the root route has no siblings to continue to",
            );
            ok = false;
        }
        let matchers = self.matchers(&join_key(path, "matchers"), &raw.matchers);
        if let Some(policy) = &raw.policy {
            self.reference(Kind::Policy, policy, &join_key(path, "policy"));
        }
        if let Some(group_by) = &raw.group_by {
            ok &= self.group_by(&join_key(path, "group_by"), group_by);
        }
        let mut routes = Vec::new();
        let routes_path = join_key(path, "routes");
        for (index, value) in raw.routes.iter().enumerate() {
            match self.route(&join_index(&routes_path, index), value, false) {
                Some(route) => routes.push(route),
                None => ok = false,
            }
        }
        let (true, Some(matchers)) = (ok, matchers) else {
            return None;
        };
        Some(Route {
            matchers,
            policy: raw.policy,
            group_by: raw.group_by,
            continue_matching: raw.continue_matching.unwrap_or(false),
            routes,
        })
    }

    /// Label names, or `["..."]` alone (every label: each alert its own page).
    fn group_by(&mut self, path: &str, names: &[String]) -> bool {
        let mut ok = true;
        for (index, name) in names.iter().enumerate() {
            let name_path = join_index(path, index);
            if name == "..." {
                if names.len() > 1 {
                    self.error(
                        &name_path,
                        "\"...\" groups by every label: it stands alone in group_by",
                    );
                    ok = false;
                }
            } else if !is_label_name(name) {
                self.error(
                    &name_path,
                    format!(
                        "{name:?} is not a label name: use letters, digits and '_', not starting with a digit (or \"...\" for every label)"
                    ),
                );
                ok = false;
            }
        }
        ok
    }

    fn maintenance(&mut self, path: &str, value: &Value) {
        let Some(raw) = self.decode_item::<RawMaintenance>(Kind::Maintenance, value, path) else {
            return;
        };
        let mut ok = self.claim(Kind::Maintenance, &raw.id, path);
        let matchers_path = join_key(path, "matchers");
        if raw.matchers.is_empty() {
            self.error(
                &matchers_path,
                "a maintenance window needs at least one matcher: without, it would mute every alert",
            );
            ok = false;
        }
        let matchers = self.matchers(&matchers_path, &raw.matchers);
        let when = match (raw.weekly, raw.once) {
            (Some(weekly), None) => self.weekly_window(&join_key(path, "weekly"), weekly),
            (None, Some(once)) => {
                let once_path = join_key(path, "once");
                let starts = self.parsed(
                    &join_key(&once_path, "start"),
                    instant(&once.start, &TimeZone::UTC),
                );
                let ends = self.parsed(
                    &join_key(&once_path, "end"),
                    instant(&once.end, &TimeZone::UTC),
                );
                match (starts, ends) {
                    (Some(starts), Some(ends)) if ends <= starts => {
                        self.error(
                            &join_key(&once_path, "end"),
                            "a maintenance window must end after it starts",
                        );
                        None
                    }
                    (Some(starts), Some(ends)) => Some(MaintenanceWhen::Once { starts, ends }),
                    _ => None,
                }
            }
            _ => {
                self.error(path, "set exactly one of weekly and once");
                None
            }
        };
        let (true, Some(matchers), Some(when)) = (ok, matchers, when) else {
            return;
        };
        let origin = self.origin(path);
        self.pending().maintenance.push((
            MaintenanceWindow {
                id: raw.id,
                matchers,
                when,
                comment: raw.comment.unwrap_or_default(),
            },
            origin,
        ));
    }

    /// `{time_zone, days: [sun], start: "02:00", duration: 2h}`; the zone defaults to UTC and
    /// a window lasts at most a week.
    fn weekly_window(&mut self, path: &str, raw: RawWeeklyWindow) -> Option<MaintenanceWhen> {
        let zone_name = raw.time_zone.as_deref().unwrap_or("UTC");
        let time_zone = self.time_zone(&join_key(path, "time_zone"), zone_name);
        let days_path = join_key(path, "days");
        let mut days = Vec::new();
        let mut ok = true;
        if raw.days.is_empty() {
            self.error(&days_path, "list at least one weekday");
            ok = false;
        }
        for (index, text) in raw.days.iter().enumerate() {
            match self.parsed(&join_index(&days_path, index), weekday(text)) {
                Some(day) => days.push(day),
                None => ok = false,
            }
        }
        let start = self.parsed(&join_key(path, "start"), time_of_day(&raw.start));
        let duration_path = join_key(path, "duration");
        let duration = match self.span(&duration_path, &raw.duration) {
            Some(duration) if duration.is_zero() || duration > Span::days(7) => {
                self.error(
                    &duration_path,
                    "a maintenance window lasts more than 0s and at most 1w",
                );
                None
            }
            duration => duration,
        };
        let (true, Some(time_zone), Some(start), Some(duration)) = (ok, time_zone, start, duration)
        else {
            return None;
        };
        Some(MaintenanceWhen::Weekly {
            time_zone,
            days,
            start,
            duration,
        })
    }

    fn heartbeat(&mut self, path: &str, value: &Value) {
        let Some(raw) = self.decode_item::<RawHeartbeat>(Kind::Heartbeat, value, path) else {
            return;
        };
        let mut ok = self.claim(Kind::Heartbeat, &raw.id, path);
        if let Some(service) = &raw.service {
            self.reference(Kind::Service, service, &join_key(path, "service"));
        }
        let interval_path = join_key(path, "interval");
        let interval = match self.span(&interval_path, &raw.interval) {
            Some(interval) if interval < MIN_HEARTBEAT_INTERVAL => {
                self.error(
                    &interval_path,
                    format!("a heartbeat interval must be at least {MIN_HEARTBEAT_INTERVAL}"),
                );
                None
            }
            interval => interval,
        };
        let grace = match &raw.grace {
            None => Some(DEFAULT_HEARTBEAT_GRACE),
            Some(text) => self.span(&join_key(path, "grace"), text),
        };
        ok &= self.labels(&join_key(path, "labels"), &raw.labels);
        ok &= self.runbook(&join_key(path, "runbook"), raw.runbook.as_deref());
        if raw.runbook.is_none() {
            self.warning(
                path,
                format!(
                    "heartbeat {:?} has no runbook link: its pages will carry none",
                    raw.id
                ),
            );
        }
        let (true, Some(interval), Some(grace)) = (ok, interval, grace) else {
            return;
        };
        let origin = self.origin(path);
        self.pending().heartbeats.push(Heartbeat {
            id: raw.id,
            service: raw.service,
            interval,
            grace,
            labels: raw.labels,
            runbook: raw.runbook,
            origin,
        });
    }

    fn integration(&mut self, path: &str, value: &Value) {
        let Some(raw) = self.decode_item::<RawIntegration>(Kind::Integration, value, path) else {
            return;
        };
        let mut ok = self.claim(Kind::Integration, &raw.id, path);
        ok &= self.labels(&join_key(path, "labels"), &raw.labels);
        let key = match (raw.key_env, raw.key) {
            (Some(name), None) => {
                let checked = datasource::check_env_name(&name).map(|()| IntegrationKey::Env(name));
                self.parsed(&join_key(path, "key_env"), checked)
            }
            (None, Some(key)) => {
                let key_path = join_key(path, "key");
                let chars = key.chars().count();
                if chars == 0 || chars > MAX_INTEGRATION_KEY_CHARS {
                    self.error(
                        &key_path,
                        format!(
                            "an integration key has 1 to {MAX_INTEGRATION_KEY_CHARS} characters, this one {chars}"
                        ),
                    );
                    None
                } else if let Some(first) = self.pending().literal_keys.get(&key) {
                    let message = format!(
                        "this key is already the key of the integration at {}:{}: a key names one integration",
                        first.file, first.line
                    );
                    self.error(&key_path, message);
                    None
                } else {
                    let origin = self.origin(path);
                    self.pending().literal_keys.insert(key.clone(), origin);
                    Some(IntegrationKey::Literal(key))
                }
            }
            _ => {
                self.error(path, "set exactly one of key_env and key");
                None
            }
        };
        let (true, Some(key)) = (ok, key) else {
            return;
        };
        let origin = self.origin(path);
        self.pending().integrations.push(Integration {
            id: raw.id,
            key,
            labels: raw.labels,
            origin,
        });
    }
}

/// A Prometheus label name.
fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// `2026-01-05T09:00`: a wall time with no offset.
fn civil_date_time(text: &str) -> Result<DateTime, String> {
    text.parse::<DateTime>().map_err(|_| {
        format!("{text:?} is not a date and time like 2026-01-05T09:00 (wall time in the schedule's zone)")
    })
}

/// `09:00` (or `09:00:30`).
fn time_of_day(text: &str) -> Result<Time, String> {
    text.trim()
        .parse::<Time>()
        .map_err(|_| format!("{text:?} is not a time of day like 09:00"))
}

/// `mon` .. `sun`, or the full English name, in any case.
fn weekday(text: &str) -> Result<Weekday, String> {
    let lower = text.trim().to_ascii_lowercase();
    let day = match lower.as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => {
            return Err(format!(
                "{text:?} is not a weekday: use mon, tue, wed, thu, fri, sat or sun"
            ));
        }
    };
    Ok(day)
}

/// `mon 09:00`.
fn weekday_time(text: &str) -> Result<(Weekday, Time), String> {
    let bad = || format!("{text:?} is not a weekday and time like \"mon 09:00\"");
    let mut words = text.split_whitespace();
    let (Some(day), Some(time), None) = (words.next(), words.next(), words.next()) else {
        return Err(bad());
    };
    let day = weekday(day).map_err(|_| bad())?;
    let time = time_of_day(time).map_err(|_| bad())?;
    Ok((day, time))
}

/// `12h` (exact hours), `1d` or `2w` (calendar days and weeks in the schedule's zone).
fn shift_length(text: &str) -> Result<ShiftLength, String> {
    let bad = || {
        format!(
            "shift {text:?} is not a length like 12h, 1d or 1w: a whole number (at least 1) of hours, days or weeks"
        )
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(bad)?;
    let (number, unit) = trimmed.split_at(split);
    let count: u32 = number.parse().map_err(|_| bad())?;
    if count == 0 {
        return Err(bad());
    }
    match unit {
        "h" => Ok(ShiftLength::Hours(count)),
        "d" => Ok(ShiftLength::Days(count)),
        "w" => Ok(ShiftLength::Weeks(count)),
        _ => Err(bad()),
    }
}

/// An instant: RFC 3339 with an offset (`2026-11-24T09:00:00+01:00`, `...Z`), or a wall time
/// without one, read in `zone` (a wall time that does not exist moves forward, one that happens
/// twice is the earlier: jiff's compatible disambiguation).
fn instant(text: &str, zone: &TimeZone) -> Result<Timestamp, String> {
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Ok(timestamp);
    }
    let bad = || {
        format!(
            "{text:?} is not a time like 2026-11-24T09:00:00+01:00 (or a wall time like 2026-11-24T09:00)"
        )
    };
    let wall = text.parse::<DateTime>().map_err(|_| bad())?;
    zone.to_ambiguous_timestamp(wall)
        .compatible()
        .map_err(|_| bad())
}

/// An override's times in the schedule's zone: `2026-11-24T09:00+01:00–2026-11-25T09:00+01:00`.
fn interval(item: &Override, zone: &TimeZone) -> String {
    let wall = |instant: Timestamp| {
        instant
            .to_zoned(zone.clone())
            .strftime("%Y-%m-%dT%H:%M%:z")
            .to_string()
    };
    format!("{}–{}", wall(item.starts), wall(item.ends))
}
