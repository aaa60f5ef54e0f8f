//! nines-core integration tests: property tests of the math and the alert policy.

mod buckets;
mod budget;
mod oncall_directory;
mod oncall_schedule;
mod window;
mod workbook;
