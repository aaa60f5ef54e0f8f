//! On-call: silence (being written).
