//! On-call directory: the people pages reach, the teams they belong to, the schedules, and who a
//! step's targets reach at a given time.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::escalation::Target;
use super::schedule::Schedule;

/// Someone who can be paged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub time_zone: TimeZone,
    pub contacts: Vec<Contact>,
}

/// How to reach a person: a configured channel id and the address on it (email address for an
/// email channel, Slack member id for a Slack channel's mention; None for channels with one
/// fixed destination such as a webhook).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub channel: String,
    pub address: Option<String>,
}

/// A team: its members (person ids) and the policy its services page by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
    /// The policy pages of this team's services go to when no route names one.
    pub escalation_policy: Option<String>,
}

/// Everyone and everything a page can reach.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Directory {
    pub people: Vec<Person>,
    pub teams: Vec<Team>,
    pub schedules: Vec<Schedule>,
}

/// A person a target reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    pub person: String,
    pub via: Target,
}

impl Directory {
    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.iter().find(|person| person.id == id)
    }

    pub fn team(&self, id: &str) -> Option<&Team> {
        self.teams.iter().find(|team| team.id == id)
    }

    pub fn schedule(&self, id: &str) -> Option<&Schedule> {
        self.schedules.iter().find(|schedule| schedule.id == id)
    }

    /// The people a step's targets reach at `now`, each once, in target order, with the target
    /// that reached them. A schedule with nobody on call reaches nobody (reported by the caller).
    ///
    /// A person target reaches that person; a team target its members in their listed order; a
    /// schedule target whoever is on call at `now` (overrides included). Someone reached twice
    /// keeps the first target that reached them. Ids the directory does not know (a target's, a
    /// team member's, the person a schedule names) reach nobody: there is no one to contact.
    /// `Target::Policy` reaches nobody here: the escalation machine hands the page over.
    pub fn resolve(&self, targets: &[Target], now: Timestamp) -> Vec<Reached> {
        let mut reached: Vec<Reached> = Vec::new();
        let mut reach = |person: &str, via: &Target| {
            let known = self.person(person).is_some();
            let already = reached.iter().any(|earlier| earlier.person == person);
            if known && !already {
                reached.push(Reached {
                    person: person.to_string(),
                    via: via.clone(),
                });
            }
        };
        for target in targets {
            match target {
                Target::Person(id) => reach(id, target),
                Target::Team(id) => {
                    for member in self
                        .team(id)
                        .map(|team| team.members.as_slice())
                        .unwrap_or(&[])
                    {
                        reach(member, target);
                    }
                }
                Target::Schedule(id) => {
                    if let Some(shift) = self
                        .schedule(id)
                        .and_then(|schedule| schedule.on_call_at(now))
                    {
                        reach(&shift.person, target);
                    }
                }
                Target::Policy(_) => {}
            }
        }
        reached
    }
}
