//! On-call: escalation (being written).

/// Who a step of an escalation policy notifies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Person(String),
    Schedule(String),
    Team(String),
    /// Hand the page over to another policy (starting at its first step).
    Policy(String),
}
