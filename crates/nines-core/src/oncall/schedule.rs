//! On-call: schedule (being written).
