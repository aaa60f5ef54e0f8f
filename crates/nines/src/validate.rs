//! `nines validate`: read spec files and report every problem.

use std::process::ExitCode;

use anyhow::{Context, Result};
use nines_core::Span;
use nines_spec::{Level, LoadOptions};

use crate::{OutputFormat, SpecArgs, ValidateArgs};

/// Turns the spec flags into load options.
pub fn load_options(args: &SpecArgs) -> Result<LoadOptions> {
    let default_period = Span::parse(&args.default_slo_period)
        .with_context(|| format!("--default-slo-period {:?}", args.default_slo_period))?;
    let mut options = LoadOptions {
        default_period,
        ignore_duplicate_ids: args.ignore_slo_duplicates,
        ..LoadOptions::default()
    };
    if let Some(path) = &args.slo_period_windows_path {
        options.alert_windows = nines_spec::sloth::load_alert_windows(path)
            .map_err(|report| anyhow::anyhow!("invalid --slo-period-windows-path:\n{report}"))?;
    }
    Ok(options)
}

/// Runs every pulled SLO's queries once against its source; problems become errors at the SLO.
fn check_sources(loaded: &mut nines_spec::Loaded) -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let environment = std::env::vars().collect();
    let pulls = match nines_server::pull::task::Pulls::build(&loaded.catalog, &environment) {
        Ok(pulls) => pulls,
        Err(message) => {
            loaded.report.push(nines_spec::Diagnostic {
                level: Level::Error,
                file: String::new(),
                line: 0,
                column: 0,
                path: "sources".to_string(),
                message,
            });
            return Ok(());
        }
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let now = jiff::Timestamp::now();
    for slo in &loaded.catalog.slos {
        let problems = runtime.block_on(nines_server::pull::task::check(
            &pulls,
            slo.id.as_str(),
            now,
        ));
        for message in problems {
            loaded.report.push(nines_spec::origin_error(
                &slo.origin,
                format!("SLO {}: {message}", slo.id),
            ));
        }
    }
    Ok(())
}

pub fn run(args: &ValidateArgs) -> Result<ExitCode> {
    let options = load_options(&args.spec)?;
    let mut loaded = nines_spec::load(&args.paths, &options);
    if args.check_sources && !loaded.report.has_errors() {
        check_sources(&mut loaded)?;
    }
    let errors = loaded.report.errors().count();
    let warnings = loaded.report.warnings().count();
    match args.output {
        OutputFormat::Text => {
            eprint!("{}", loaded.report);
            if errors == 0 {
                println!(
                    "ok: {} SLOs and {} services in valid files ({warnings} warnings)",
                    loaded.catalog.slos.len(),
                    loaded.catalog.services.len()
                );
            } else {
                eprintln!("{errors} errors, {warnings} warnings");
            }
        }
        OutputFormat::Json => {
            let problems: Vec<serde_json::Value> = loaded
                .report
                .diagnostics
                .iter()
                .map(|d| {
                    serde_json::json!({
                        "level": if d.level == Level::Error { "error" } else { "warning" },
                        "file": d.file,
                        "line": d.line,
                        "column": d.column,
                        "path": d.path,
                        "message": d.message,
                    })
                })
                .collect();
            let slos: Vec<&str> = loaded
                .catalog
                .slos
                .iter()
                .map(|slo| slo.id.as_str())
                .collect();
            let body = serde_json::json!({
                "valid": errors == 0,
                "errors": errors,
                "warnings": warnings,
                "slos": slos,
                "problems": problems,
            });
            println!("{}", serde_json::to_string_pretty(&body)?);
        }
    }
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
