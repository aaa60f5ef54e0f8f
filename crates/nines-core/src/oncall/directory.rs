//! On-call: directory (being written).
