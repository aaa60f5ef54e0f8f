//! Tests of the nines binary and repository-wide checks: one integration test binary.

mod browser;
mod generate;
mod oncall;
mod peers;
mod pull;
mod serve;
mod simulate;
mod slo;
mod support;
mod tidy;
mod validate;
mod webdriver;
