//! On-call from the command line, over a running server's API: `nines pages` (list, show,
//! ack, unack, resolve), `nines oncall` (who is on call now and next), `nines schedule` (shifts
//! and gaps, iCalendar export) and `nines silence` (add, list, expire).

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::OutputFormat;

#[derive(Args, Debug, Clone)]
pub struct ServerArg {
    /// The nines server's API.
    #[arg(long, env = "NINES_SERVER", default_value = "http://127.0.0.1:9797")]
    pub server: String,
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Subcommand, Debug)]
pub enum PagesCommand {
    /// Pages, newest first.
    List {
        /// triggered, acknowledged or resolved.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        server: ServerArg,
    },
    /// One page with its alerts and timeline.
    Show {
        id: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Acknowledge a page: its escalation stops.
    Ack(ActArgs),
    /// Take back an acknowledgement: the escalation starts over.
    Unack(ActArgs),
    /// Resolve a page.
    Resolve(ActArgs),
}

#[derive(Args, Debug)]
pub struct ActArgs {
    pub id: String,
    /// Who acts (default: $USER).
    #[arg(long = "as")]
    pub actor: Option<String>,
    #[command(flatten)]
    pub server: ServerArg,
}

#[derive(Args, Debug)]
pub struct OnCallArgs {
    /// An RFC 3339 instant (default: now).
    #[arg(long)]
    pub at: Option<String>,
    #[command(flatten)]
    pub server: ServerArg,
}

#[derive(Subcommand, Debug)]
pub enum ScheduleCommand {
    /// The final shifts (overrides applied), gaps and rotation health of a schedule.
    Show {
        id: String,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        server: ServerArg,
    },
    /// The schedule as an iCalendar file, on standard output.
    Ical {
        id: String,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        #[arg(long, env = "NINES_SERVER", default_value = "http://127.0.0.1:9797")]
        server: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum SilenceCommand {
    /// Mute pages of alerts matching every matcher (`service="api"`, `env=~"stag.*"`).
    Add {
        #[arg(required = true)]
        matchers: Vec<String>,
        /// How long (`2h`, `30m`).
        #[arg(long = "for", default_value = "1h")]
        duration: String,
        #[arg(long, default_value = "")]
        comment: String,
        /// Who silences (default: $USER).
        #[arg(long = "by")]
        by: Option<String>,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Silences and maintenance windows.
    List {
        /// Only those muting now.
        #[arg(long)]
        active: bool,
        #[command(flatten)]
        server: ServerArg,
    },
    /// End a silence now.
    Expire {
        id: String,
        #[command(flatten)]
        server: ServerArg,
    },
}

pub(crate) enum Method {
    Get,
    Post(Value),
    Delete,
}

pub(crate) fn call(server: &str, path: &str, method: Method) -> Result<Result<Value, String>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let url = format!("{}{path}", server.trim_end_matches('/'));
        let client = reqwest::Client::new();
        let request = match method {
            Method::Get => client.get(&url),
            Method::Post(body) => client.post(&url).json(&body),
            Method::Delete => client.delete(&url),
        };
        crate::slo::answer(request, &url).await
    })
}

/// Prints a JSON answer, or the text `render` makes of it; an error answer exits 1.
pub(crate) fn show(
    answer: Result<Value, String>,
    output: OutputFormat,
    render: impl Fn(&Value) -> String,
) -> Result<ExitCode> {
    match answer {
        Ok(body) => {
            match output {
                OutputFormat::Json => println!("{body}"),
                OutputFormat::Text => print!("{}", render(&body)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("error: {message}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    }
}

fn user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|user| !user.is_empty())
        .unwrap_or_else(|| "cli".to_string())
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(key, value)| {
            value
                .as_ref()
                .map(|value| format!("{key}={}", percent_encode(value)))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn page_line(page: &Value) -> Vec<String> {
    vec![
        text(&page["id"]),
        text(&page["status"]),
        text(&page["service"]),
        text(&page["summary"]),
        text(&page["created"]),
        match page["status"].as_str() {
            Some("acknowledged") => text(&page["acknowledged_by"]),
            Some("resolved") => text(&page["resolved_by"]),
            _ => format!("step {} (round {})", page["step"], page["round"]),
        },
    ]
}

pub fn run_pages(command: &PagesCommand) -> Result<ExitCode> {
    match command {
        PagesCommand::List {
            status,
            limit,
            server,
        } => {
            let path = format!(
                "/api/v1/pages{}",
                query(&[
                    ("status", status.clone()),
                    ("limit", Some(limit.to_string()))
                ])
            );
            show(
                call(&server.server, &path, Method::Get)?,
                server.output,
                |body| {
                    let rows: Vec<Vec<String>> = body["pages"]
                        .as_array()
                        .map(|pages| pages.iter().map(page_line).collect())
                        .unwrap_or_default();
                    crate::slo::table(
                        &[
                            "ID",
                            "STATUS",
                            "SERVICE",
                            "SUMMARY",
                            "CREATED",
                            "WHO / STEP",
                        ],
                        &rows,
                    )
                },
            )
        }
        PagesCommand::Show { id, server } => {
            let path = format!("/api/v1/pages/{}", percent_encode(id));
            show(
                call(&server.server, &path, Method::Get)?,
                server.output,
                |page| {
                    let mut out = format!(
                        "{}  {}\n{}\npolicy {} step {} round {}; next escalation {}\n",
                        text(&page["id"]),
                        text(&page["status"]),
                        text(&page["summary"]),
                        text(&page["policy"]),
                        page["step"],
                        page["round"],
                        text(&page["next_escalation"])
                    );
                    if let Some(runbook) = page["runbook"].as_str() {
                        out.push_str(&format!("runbook {runbook}\n"));
                    }
                    out.push_str("\nalerts:\n");
                    for alert in page["alerts"].as_array().into_iter().flatten() {
                        out.push_str(&format!(
                            "  {}  {}  {}\n",
                            text(&alert["status"]),
                            text(&alert["source"]),
                            text(&alert["summary"])
                        ));
                    }
                    out.push_str("\ntimeline:\n");
                    for event in page["timeline"].as_array().into_iter().flatten() {
                        out.push_str(&format!(
                            "  {}  {:<22} {}  {}\n",
                            text(&event["at"]),
                            text(&event["kind"]),
                            text(&event["actor"]),
                            event["detail"]
                        ));
                    }
                    out
                },
            )
        }
        PagesCommand::Ack(args) => act(args, "acknowledge"),
        PagesCommand::Unack(args) => act(args, "unacknowledge"),
        PagesCommand::Resolve(args) => act(args, "resolve"),
    }
}

fn act(args: &ActArgs, action: &str) -> Result<ExitCode> {
    let by = args.actor.clone().unwrap_or_else(user);
    let path = format!("/api/v1/pages/{}/{action}", percent_encode(&args.id));
    show(
        call(
            &args.server.server,
            &path,
            Method::Post(json!({ "by": by })),
        )?,
        args.server.output,
        |page| {
            format!(
                "{} is {} ({})\n",
                text(&page["id"]),
                text(&page["status"]),
                text(&page["summary"])
            )
        },
    )
}

pub fn run_oncall(args: &OnCallArgs) -> Result<ExitCode> {
    let path = format!("/api/v1/oncall{}", query(&[("at", args.at.clone())]));
    show(
        call(&args.server.server, &path, Method::Get)?,
        args.server.output,
        |body| {
            let who = |shift: &Value| -> String {
                if shift.is_null() {
                    return "nobody".to_string();
                }
                format!(
                    "{} ({} to {})",
                    shift["name"]
                        .as_str()
                        .unwrap_or_else(|| shift["person"].as_str().unwrap_or("?")),
                    text(&shift["start"]),
                    text(&shift["end"])
                )
            };
            let rows: Vec<Vec<String>> = body["schedules"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|schedule| {
                    vec![
                        text(&schedule["id"]),
                        who(&schedule["now"]),
                        who(&schedule["next"]),
                    ]
                })
                .collect();
            crate::slo::table(&["SCHEDULE", "ON CALL", "NEXT"], &rows)
        },
    )
}

pub fn run_schedule(command: &ScheduleCommand) -> Result<ExitCode> {
    match command {
        ScheduleCommand::Show {
            id,
            from,
            to,
            server,
        } => {
            let path = format!(
                "/api/v1/schedules/{}{}",
                percent_encode(id),
                query(&[("from", from.clone()), ("to", to.clone())])
            );
            show(
                call(&server.server, &path, Method::Get)?,
                server.output,
                |body| {
                    let rows: Vec<Vec<String>> = body["shifts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|shift| {
                            vec![
                                text(&shift["start"]),
                                text(&shift["end"]),
                                shift["name"].as_str().unwrap_or_default().to_string(),
                                if shift["override"] == json!(true) {
                                    "override".to_string()
                                } else {
                                    String::new()
                                },
                            ]
                        })
                        .collect();
                    let mut out = crate::slo::table(&["FROM", "TO", "WHO", ""], &rows);
                    for gap in body["gaps"].as_array().into_iter().flatten() {
                        out.push_str(&format!(
                            "gap: nobody on call {} to {}\n",
                            text(&gap["start"]),
                            text(&gap["end"])
                        ));
                    }
                    for warning in body["health"].as_array().into_iter().flatten() {
                        out.push_str(&format!("warning: {}\n", text(warning)));
                    }
                    out
                },
            )
        }
        ScheduleCommand::Ical {
            id,
            from,
            to,
            server,
        } => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let runtime = tokio::runtime::Runtime::new()?;
            let url = format!(
                "{}/api/v1/schedules/{}/calendar.ics{}",
                server.trim_end_matches('/'),
                percent_encode(id),
                query(&[("from", from.clone()), ("to", to.clone())])
            );
            let (status, body) = runtime.block_on(async {
                let response = reqwest::get(&url)
                    .await
                    .with_context(|| format!("cannot reach {url}"))?;
                let status = response.status();
                let body = response.text().await?;
                anyhow::Ok((status, body))
            })?;
            if status.is_success() {
                print!("{body}");
                Ok(ExitCode::SUCCESS)
            } else {
                let message = serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|value| value["error"]["message"].as_str().map(str::to_string))
                    .unwrap_or(body);
                eprintln!("error: {status}: {message}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

pub fn run_silence(command: &SilenceCommand) -> Result<ExitCode> {
    match command {
        SilenceCommand::Add {
            matchers,
            duration,
            comment,
            by,
            server,
        } => {
            let body = json!({
                "matchers": matchers,
                "duration": duration,
                "comment": comment,
                "created_by": by.clone().unwrap_or_else(user),
            });
            show(
                call(&server.server, "/api/v1/silences", Method::Post(body))?,
                server.output,
                |silence| {
                    format!(
                        "silence {} until {}\n",
                        text(&silence["id"]),
                        text(&silence["ends"])
                    )
                },
            )
        }
        SilenceCommand::List { active, server } => {
            let path = format!(
                "/api/v1/silences{}",
                if *active { "?active=true" } else { "" }
            );
            show(
                call(&server.server, &path, Method::Get)?,
                server.output,
                |body| {
                    let mut rows: Vec<Vec<String>> = Vec::new();
                    for silence in body["silences"].as_array().into_iter().flatten() {
                        rows.push(vec![
                            text(&silence["id"]),
                            if silence["active"] == json!(true) {
                                "active"
                            } else {
                                "inactive"
                            }
                            .to_string(),
                            silence["matchers"]
                                .as_array()
                                .map(|list| list.iter().map(text).collect::<Vec<_>>().join(", "))
                                .unwrap_or_default(),
                            format!("{} to {}", text(&silence["starts"]), text(&silence["ends"])),
                            format!(
                                "{}: {}",
                                text(&silence["created_by"]),
                                text(&silence["comment"])
                            ),
                        ]);
                    }
                    for window in body["maintenance"].as_array().into_iter().flatten() {
                        rows.push(vec![
                            text(&window["id"]),
                            if window["active"] == json!(true) {
                                "active"
                            } else {
                                "maintenance"
                            }
                            .to_string(),
                            window["matchers"]
                                .as_array()
                                .map(|list| list.iter().map(text).collect::<Vec<_>>().join(", "))
                                .unwrap_or_default(),
                            window["next"]
                                .as_object()
                                .map(|next| {
                                    format!("{} to {}", text(&next["start"]), text(&next["end"]))
                                })
                                .unwrap_or_else(|| "-".to_string()),
                            text(&window["comment"]),
                        ]);
                    }
                    crate::slo::table(&["ID", "STATE", "MATCHERS", "WHEN", "NOTE"], &rows)
                },
            )
        }
        SilenceCommand::Expire { id, server } => {
            let path = format!("/api/v1/silences/{}", percent_encode(id));
            show(
                call(&server.server, &path, Method::Delete)?,
                server.output,
                |_| format!("silence {id} expired\n"),
            )
        }
    }
}
