//! `nines generate prometheus`: recording and alerting rules for Prometheus.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use nines_spec::generate::{self, GenerateOptions};

use crate::{GeneratePrometheusArgs, RuleStyle};

pub fn run_prometheus(args: &GeneratePrometheusArgs) -> Result<ExitCode> {
    let options = crate::validate::load_options(&args.spec)?;
    let generate_options = GenerateOptions {
        style: match args.style {
            RuleStyle::Sloth => generate::RuleStyle::Sloth,
            RuleStyle::Exact => generate::RuleStyle::Exact,
        },
        disable_alerts: args.disable_alerts,
        disable_recordings: args.disable_recordings,
        extra_labels: parse_extra_labels(&args.extra_labels)?,
        ..GenerateOptions::default()
    };

    let loaded = nines_spec::load(std::slice::from_ref(&args.input), &options);
    if loaded.report.has_errors() {
        eprint!("{}", loaded.report);
        eprintln!(
            "{} errors, {} warnings: no rules written",
            loaded.report.errors().count(),
            loaded.report.warnings().count()
        );
        return Ok(ExitCode::FAILURE);
    }
    eprint!("{}", loaded.report);
    if loaded.catalog.slos.is_empty() {
        bail!("no SLOs found in {}", args.input.display());
    }
    let generated = match generate::generate(&loaded.catalog, &generate_options) {
        Ok(generated) => generated,
        Err(report) => {
            eprint!("{report}");
            eprintln!(
                "{} SLOs cannot have rules: no rules written",
                report.errors().count()
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    eprint!("{}", generated.report);
    let text =
        generate::to_yaml(&generated.files, &generate_options).map_err(anyhow::Error::msg)?;
    if args.out == "-" {
        print!("{text}");
    } else {
        std::fs::write(&args.out, text).with_context(|| format!("cannot write {}", args.out))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `key=value` pairs, each key a Prometheus label name.
fn parse_extra_labels(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("-l {pair:?}: expected key=value");
        };
        if !nines_spec::sloth::is_label_name(key) {
            bail!("-l {pair:?}: {key:?} is not a valid Prometheus label name");
        }
        labels.insert(key.to_string(), value.to_string());
    }
    Ok(labels)
}
