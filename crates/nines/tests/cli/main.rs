//! Tests of the nines binary and repository-wide checks: one integration test binary.

mod generate;
mod serve;
mod simulate;
mod slo;
mod tidy;
mod validate;
