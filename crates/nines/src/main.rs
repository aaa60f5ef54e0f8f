//! The nines binary: command-line parsing and the subcommands.

mod backfill;
mod demo;
mod generate;
mod incident;
mod oncall;
mod report;
mod serve;
mod simulate;
mod slo;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "nines",
    version,
    about = "SLOs, error budgets and burn-rate alerts, as code"
)]
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
    /// Run the server: intake, evaluator, burn-rate alerts, notifications, JSON API
    Serve(ServeArgs),
    /// The server on SQLite with example SLOs and synthetic traffic with an outage: watch a page
    /// fire within two minutes
    Demo(DemoArgs),
    /// Ask a running server about its SLOs
    #[command(subcommand)]
    Slo(SloCommand),
    /// Play a scenario (traffic, error and latency phases) through the real evaluator on a
    /// virtual clock and report when alerts fired and resolved and what the budget spent
    Simulate(SimulateArgs),
    Backfill(BackfillArgs),
    /// Pages: list, show, acknowledge, unacknowledge, resolve.
    #[command(subcommand)]
    Pages(oncall::PagesCommand),
    /// Who is on call now, and next, in every schedule.
    Oncall(oncall::OnCallArgs),
    /// A schedule's shifts, gaps and rotation health; its iCalendar export.
    #[command(subcommand)]
    Schedule(oncall::ScheduleCommand),
    /// Silences: add, list, expire.
    #[command(subcommand)]
    Silence(oncall::SilenceCommand),
    /// A reliability report over a period: SLO attainment, incidents, MTTA, MTTR, pages per
    /// shift, quiet on-call time, action items (table, JSON or Markdown).
    Report(report::ReportArgs),
    /// Incidents: open, list, show, status, severity, role, note, update, resolve, reopen,
    /// postmortem.
    #[command(subcommand)]
    Incident(incident::IncidentCommand),
    /// Action items of incidents: add, done, wont-do, list (--overdue).
    #[command(subcommand)]
    Action(incident::ActionCommand),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Spec files or folders (nines, OpenSLO v1, Sloth)
    #[arg(long = "config", short = 'c', required = true)]
    pub config: Vec<PathBuf>,
    /// sqlite://PATH (the default, created if missing) or postgres://...
    #[arg(long, env = "NINES_DATABASE", default_value = "sqlite://nines.db")]
    pub database: String,
    #[arg(long, env = "NINES_LISTEN", default_value = "127.0.0.1:9797")]
    pub listen: String,
    /// How often every SLO is evaluated
    #[arg(long, default_value = "10s")]
    pub evaluation_interval: String,
    /// How often a point of each SLO's budget history is kept
    #[arg(long, default_value = "5m")]
    pub history_interval: String,
    /// Largest request body taken (bytes); larger ones get 413
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Where people reach this server, for the acknowledge and resolve links in notifications
    /// (default: http://LISTEN).
    #[arg(long, env = "NINES_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub spec: SpecArgs,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    #[arg(long, default_value = "127.0.0.1:9797")]
    pub listen: String,
    /// A database to keep (default: a temporary SQLite file, removed at the end)
    #[arg(long)]
    pub database: Option<String>,
    /// When the outage starts
    #[arg(long, default_value = "20s")]
    pub outage_after: String,
    /// Stop after this long (and exit 1 if no page fired); runs until Ctrl-C otherwise
    #[arg(long)]
    pub duration: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum SloCommand {
    /// Every SLO: SLI, budget left, burn rate, alerts
    List {
        #[arg(long, env = "NINES_SERVER", default_value = "http://127.0.0.1:9797")]
        server: String,
        #[arg(long)]
        service: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        output: OutputFormat,
    },
    /// One SLO in detail, with every burn-rate pair
    Show {
        id: String,
        #[arg(long, env = "NINES_SERVER", default_value = "http://127.0.0.1:9797")]
        server: String,
        #[arg(long, value_enum, default_value = "text")]
        output: OutputFormat,
    },
}

/// Pull an SLO's history from its source again (a running server does the work)
#[derive(Args, Debug)]
pub struct BackfillArgs {
    /// The SLO id
    pub slo: String,
    /// Where to start: an RFC 3339 instant, or a span back from now (`7d`, `12h`); default:
    /// the SLO's whole window
    #[arg(long)]
    pub from: Option<String>,
    #[arg(long, env = "NINES_SERVER", default_value = "http://127.0.0.1:9797")]
    pub server: String,
    /// Start it and return without waiting
    #[arg(long)]
    pub no_wait: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Scenario file (see examples/scenarios)
    pub scenario: PathBuf,
    /// Start with an empty window instead of one filled with the first phase's traffic
    #[arg(long)]
    pub no_prefill: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
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
    /// Do not report SLO ids defined more than once (as Sloth's flag of the same name)
    #[arg(long)]
    pub ignore_slo_duplicates: bool,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Files or folders (searched for .yaml and .yml)
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Also query every data source: each pulled SLO's queries are run once over the last hour
    /// (credentials from the environment), and a source that cannot be reached, a query
    /// it refuses or an answer nines cannot use is an error
    #[arg(long)]
    pub check_sources: bool,
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
        Command::Simulate(args) => simulate::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Slo(command) => slo::run(&command),
        Command::Backfill(args) => backfill::run(&args),
        Command::Pages(command) => oncall::run_pages(&command),
        Command::Oncall(args) => oncall::run_oncall(&args),
        Command::Schedule(command) => oncall::run_schedule(&command),
        Command::Silence(command) => oncall::run_silence(&command),
        Command::Report(args) => report::run(&args),
        Command::Incident(command) => incident::run(&command),
        Command::Action(command) => incident::run_action(&command),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
