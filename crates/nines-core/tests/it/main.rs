//! nines-core integration tests: property tests of the math and the alert policy.

mod buckets;
mod budget;
mod window;
mod workbook;
