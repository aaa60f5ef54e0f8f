//! Prometheus rule generation.
