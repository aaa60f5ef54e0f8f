//! Tests of the nines binary and repository-wide checks: one integration test binary.

mod generate;
mod peers;
mod serve;
mod simulate;
mod slo;
mod tidy;
mod validate;
