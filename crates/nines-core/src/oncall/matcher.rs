//! On-call: matcher (being written).
