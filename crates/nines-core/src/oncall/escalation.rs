//! On-call: escalation (being written).
