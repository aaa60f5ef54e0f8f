//! On-call: route (being written).
