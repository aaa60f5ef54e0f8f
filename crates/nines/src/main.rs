//! The nines binary: command-line parsing and the subcommands.

mod generate;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "nines", version, about = "SLOs, error budgets and burn-rate alerts, as code")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check spec files (nines, OpenSLO v1, Sloth) and report every problem with file and line
    Validate(ValidateArgs),
    /// Generate configuration for other tools from spec files
    #[command(subcommand)]
    Generate(GenerateCommand),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// Options that shape how spec files are read.
#[derive(Args, Debug, Clone)]
pub struct SpecArgs {
    /// The SLO period for specs that do not set one (Sloth prometheus/v1)
    #[arg(long, default_value = "30d")]
    pub default_slo_period: String,
    /// A file or folder of Sloth AlertWindows specs replacing the built-in alert windows
    #[arg(long)]
    pub slo_period_windows_path: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Files or folders (searched for .yaml and .yml)
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub spec: SpecArgs,
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Subcommand, Debug)]
pub enum GenerateCommand {
    /// Prometheus recording and alerting rules (Sloth-compatible by default)
    Prometheus(GeneratePrometheusArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RuleStyle {
    /// Sloth's rules: error ratios per window; the period ratio averages 5-minute ratios
    Sloth,
    /// Good and total increases per 5-minute bucket; every window, the period included, is an
    /// exact sum of them
    Exact,
}

#[derive(Args, Debug)]
pub struct GeneratePrometheusArgs {
    /// Input file or folder
    #[arg(short = 'i', long = "input")]
    pub input: PathBuf,
    /// Output file, or - for standard output
    #[arg(short = 'o', long = "out", default_value = "-")]
    pub out: String,
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Do not generate alerting rules
    #[arg(long)]
    pub disable_alerts: bool,
    /// Do not generate recording rules
    #[arg(long)]
    pub disable_recordings: bool,
    /// Extra labels for every rule, key=value (repeatable)
    #[arg(short = 'l', long = "extra-labels", value_name = "KEY=VALUE")]
    pub extra_labels: Vec<String>,
    #[arg(long, value_enum, default_value = "sloth")]
    pub style: RuleStyle,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Generate(GenerateCommand::Prometheus(args)) => generate::run_prometheus(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
