//! `nines generate prometheus`: recording and alerting rules for Prometheus.

use std::process::ExitCode;

use anyhow::Result;

use crate::GeneratePrometheusArgs;

pub fn run_prometheus(_args: &GeneratePrometheusArgs) -> Result<ExitCode> {
    anyhow::bail!("generate prometheus is not implemented yet")
}
