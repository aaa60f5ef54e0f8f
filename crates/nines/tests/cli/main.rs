//! Tests of the nines binary and repository-wide checks: one integration test binary.

mod generate;
mod peers;
mod simulate;
mod tidy;
mod validate;
