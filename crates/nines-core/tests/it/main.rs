//! nines-core integration tests: property tests of the math and the alert policy.

mod buckets;
mod budget;
mod incident;
mod oncall_directory;
mod oncall_escalation;
mod oncall_matcher;
mod oncall_route;
mod oncall_schedule;
mod oncall_silence;
mod report;
mod window;
mod workbook;
