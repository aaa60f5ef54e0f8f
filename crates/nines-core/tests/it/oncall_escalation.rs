//! escalation tests (being written).
