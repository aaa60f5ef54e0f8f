//! Tests of the sloth reader.
