//! `nines serve`: validate the config, open the store, run until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use nines_core::Span;
use nines_server::server::{self, ServerConfig};

use crate::ServeArgs;

pub fn parse_interval(text: &str, what: &str) -> Result<Duration> {
    let span = Span::parse(text).with_context(|| format!("{what} {text:?}"))?;
    anyhow::ensure!(span.as_secs() >= 1, "{what} must be at least 1s");
    Ok(Duration::from_secs(span.as_secs() as u64))
}

/// Reads and validates the spec files; prints the full report and returns `None` when invalid.
pub fn load_catalog(
    paths: &[PathBuf],
    spec: &crate::SpecArgs,
) -> Result<Option<nines_spec::Catalog>> {
    let options = crate::validate::load_options(spec)?;
    let loaded = nines_spec::load(paths, &options);
    if loaded.report.has_errors() {
        eprint!("{}", loaded.report);
        eprintln!("the configuration is invalid: nothing was started and the store was not opened");
        return Ok(None);
    }
    for warning in loaded.report.warnings() {
        eprintln!("{warning}");
    }
    Ok(Some(loaded.catalog))
}

/// Logs to stderr at `NINES_LOG`'s level, or `default_level` when unset (`warn` for the demo,
/// so its own lines stay readable).
pub fn init_logs(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NINES_LOG")
        .unwrap_or_else(|_| default_level.into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

pub async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

pub fn run(args: &ServeArgs) -> Result<ExitCode> {
    let Some(catalog) = load_catalog(&args.config, &args.spec)? else {
        return Ok(ExitCode::FAILURE);
    };
    init_logs("info");
    let config = ServerConfig {
        listen: args
            .listen
            .parse()
            .with_context(|| format!("--listen {:?}", args.listen))?,
        evaluation_interval: parse_interval(&args.evaluation_interval, "--evaluation-interval")?,
        history_interval: parse_interval(&args.history_interval, "--history-interval")?,
        max_body_bytes: args.max_body_bytes,
        environment: std::env::vars().collect(),
        public_url: args.public_url.clone(),
        ..ServerConfig::default()
    };
    // Channel secrets come from the environment: check them with the rest of the
    // configuration, before the store is opened.
    let mut missing: Vec<String> = Vec::new();
    for channel in &catalog.channels {
        for name in channel.secret_envs() {
            if config
                .environment
                .get(name)
                .is_none_or(|value| value.is_empty())
            {
                missing.push(format!(
                    "{}:{}: channel {:?}: secret environment variable {name} is not set",
                    channel.origin.file, channel.origin.line, channel.id
                ));
            }
        }
    }
    // Source credentials likewise.
    for source in &catalog.sources {
        let nines_spec::SourceKind::Prometheus(prometheus) = &source.kind;
        let name = match &prometheus.auth {
            Some(nines_spec::SourceAuth::Basic { password_env, .. }) => password_env,
            Some(nines_spec::SourceAuth::Bearer { token_env }) => token_env,
            None => continue,
        };
        if config
            .environment
            .get(name)
            .is_none_or(|value| value.is_empty())
        {
            missing.push(format!(
                "{}:{}: source {:?}: credential environment variable {name} is not set",
                source.origin.file, source.origin.line, source.id
            ));
        }
    }
    // PagerDuty-compatible integration keys likewise: without its key an integration would
    // answer every event "Invalid routing key", which senders do not retry.
    for integration in &catalog.oncall.integrations {
        if let nines_spec::IntegrationKey::Env(name) = &integration.key
            && config
                .environment
                .get(name)
                .is_none_or(|value| value.is_empty())
        {
            missing.push(format!(
                "{}:{}: integration {:?}: routing key environment variable {name} is not set",
                integration.origin.file, integration.origin.line, integration.id
            ));
        }
    }
    if let Some(url) = &config.public_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        missing.push(format!(
            "--public-url {url:?} must be an http(s) URL (where people reach this server)"
        ));
    }
    if !missing.is_empty() {
        eprintln!("{}", missing.join("\n"));
        eprintln!("the configuration is invalid: nothing was started and the store was not opened");
        return Ok(ExitCode::FAILURE);
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let store = nines_store::open(&args.database).await.with_context(|| format!("opening {}", args.database))?;
        let running = server::start(catalog, store, config).await.map_err(anyhow::Error::msg)?;
        tracing::info!(address = %running.address, slos = running.state.fleet().len(), database = %args.database, "nines is serving");
        if args.public_url.is_none() && running.state.catalog.oncall.pages() {
            tracing::warn!(links = %format!("http://{}", running.address), "no --public-url: the acknowledge links in notifications point at the listen address; set --public-url (NINES_PUBLIC_URL) to where people reach this server");
        }
        wait_for_signal().await;
        tracing::info!("shutting down");
        running.stop().await;
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
