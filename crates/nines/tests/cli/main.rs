//! Tests of the nines binary and repository-wide checks: one integration test binary.

mod tidy;
mod validate;
