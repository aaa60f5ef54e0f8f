//! Tests of the openslo reader.
