//! `nines incident` (open, list, show, status, severity, role, note, update, resolve, reopen,
//! postmortem) and `nines action` (add, done, wont-do, list) over a running server's API.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::oncall::{Method, ServerArg, show};

#[derive(Subcommand, Debug)]
pub enum IncidentCommand {
    /// Declare an incident.
    Open {
        title: String,
        /// A level of the rubric (SEV1, SEV2, SEV3 by default).
        #[arg(long)]
        severity: String,
        #[arg(long = "service")]
        services: Vec<String>,
        #[arg(long = "slo")]
        slos: Vec<String>,
        #[arg(long = "page")]
        pages: Vec<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Incidents, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        server: ServerArg,
    },
    /// One incident: roles, timeline, action items, budget spent.
    Show {
        id: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// investigating, identified, monitoring or resolved.
    Status {
        id: String,
        status: String,
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    Severity {
        id: String,
        severity: String,
        #[command(flatten)]
        who: Who,
    },
    /// Give a role (commander, resolver-lead, communications, scribe, or your own) to a person;
    /// without a person, take it back.
    Role {
        id: String,
        role: String,
        person: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// An internal note on the timeline.
    Note {
        id: String,
        text: String,
        #[command(flatten)]
        who: Who,
    },
    /// A status update for stakeholders (`--public`: for the status page).
    Update {
        id: String,
        text: String,
        #[arg(long)]
        public: bool,
        #[command(flatten)]
        who: Who,
    },
    Resolve {
        id: String,
        #[command(flatten)]
        who: Who,
    },
    /// Reopen a resolved incident; after its postmortem was published, say so with
    /// `--after-postmortem`.
    Reopen {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        after_postmortem: bool,
        #[command(flatten)]
        who: Who,
    },
    /// The postmortem draft in Markdown (and the blameless check's findings on stderr);
    /// `--publish` publishes it.
    Postmortem {
        id: String,
        #[arg(long, default_value = "")]
        summary: String,
        #[arg(long = "cause")]
        causes: Vec<String>,
        #[arg(long = "went-well")]
        went_well: Vec<String>,
        #[arg(long)]
        publish: bool,
        #[command(flatten)]
        who: Who,
    },
}

#[derive(Subcommand, Debug)]
pub enum ActionCommand {
    /// An action item of an incident: it needs an owner and a due date.
    Add {
        incident: String,
        title: String,
        #[arg(long)]
        owner: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        due: String,
        #[arg(long, default_value = "P2")]
        priority: String,
        #[command(flatten)]
        who: Who,
    },
    Done {
        id: String,
        #[command(flatten)]
        who: Who,
    },
    WontDo {
        id: String,
        #[command(flatten)]
        who: Who,
    },
    /// Action items (`--overdue`: open ones past their due date).
    List {
        #[arg(long)]
        overdue: bool,
        #[arg(long)]
        incident: Option<String>,
        #[command(flatten)]
        server: ServerArg,
    },
}

#[derive(Args, Debug)]
pub struct Who {
    /// Who acts (default: $USER).
    #[arg(long = "as")]
    pub actor: Option<String>,
    #[command(flatten)]
    pub server: ServerArg,
}

impl Who {
    fn name(&self) -> String {
        self.actor.clone().unwrap_or_else(|| {
            std::env::var("USER")
                .ok()
                .filter(|user| !user.is_empty())
                .unwrap_or_else(|| "cli".to_string())
        })
    }
}

/// A GET (no body) or a POST of `body` to the server.
fn call(server: &str, path: &str, body: Option<Value>) -> Result<Result<Value, String>> {
    let method = match body {
        Some(body) => Method::Post(body),
        None => Method::Get,
    };
    crate::oncall::call(server, path, method)
}

fn s(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    }
}

fn line(incident: &Value) -> String {
    format!(
        "{} {} {} {}\n",
        s(&incident["id"]),
        s(&incident["severity"]),
        s(&incident["status"]),
        s(&incident["title"])
    )
}

fn act(who: &Who, id: &str, action: &str, mut body: Value) -> Result<ExitCode> {
    body["by"] = json!(who.name());
    let path = format!("/api/v1/incidents/{id}/{action}");
    show(
        call(&who.server.server, &path, Some(body))?,
        who.server.output,
        line,
    )
}

pub fn run(command: &IncidentCommand) -> Result<ExitCode> {
    match command {
        IncidentCommand::Open {
            title,
            severity,
            services,
            slos,
            pages,
            who,
        } => {
            let body = json!({"title": title, "severity": severity, "services": services,
                              "slos": slos, "pages": pages, "by": who.name()});
            show(
                call(&who.server.server, "/api/v1/incidents", Some(body))?,
                who.server.output,
                line,
            )
        }
        IncidentCommand::List { status, server } => {
            let path = match status {
                Some(status) => format!("/api/v1/incidents?status={status}"),
                None => "/api/v1/incidents".to_string(),
            };
            show(call(&server.server, &path, None)?, server.output, |body| {
                let rows: Vec<Vec<String>> = body["incidents"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|i| {
                        vec![
                            s(&i["id"]),
                            s(&i["severity"]),
                            s(&i["status"]),
                            s(&i["opened"]),
                            s(&i["title"]),
                        ]
                    })
                    .collect();
                crate::slo::table(&["ID", "SEVERITY", "STATUS", "OPENED", "TITLE"], &rows)
            })
        }
        IncidentCommand::Show { id, server } => show(
            call(&server.server, &format!("/api/v1/incidents/{id}"), None)?,
            server.output,
            |i| {
                let mut out = line(i);
                out.push_str(&format!(
                    "opened {} by {}; resolved {}\n",
                    s(&i["opened"]),
                    s(&i["opened_by"]),
                    s(&i["resolved"])
                ));
                out.push_str(&format!("roles: {}\n", i["roles"]));
                for spent in i["budget_spent"].as_array().into_iter().flatten() {
                    out.push_str(&format!(
                        "budget spent: {} {:.1}%\n",
                        s(&spent["slo"]),
                        spent["share"].as_f64().unwrap_or(0.0) * 100.0
                    ));
                }
                out.push_str("\ntimeline:\n");
                for entry in i["timeline"].as_array().into_iter().flatten() {
                    out.push_str(&format!(
                        "  {}  {:<24} {}  {}\n",
                        s(&entry["at"]),
                        s(&entry["kind"]),
                        s(&entry["actor"]),
                        s(&entry["text"])
                    ));
                }
                out.push_str("\naction items:\n");
                for item in i["action_items"].as_array().into_iter().flatten() {
                    out.push_str(&format!(
                        "  {} [{}] {} (owner {}, due {}, {}){}\n",
                        s(&item["id"]),
                        s(&item["status"]),
                        s(&item["title"]),
                        s(&item["owner"]),
                        s(&item["due"]),
                        s(&item["priority"]),
                        if item["overdue"] == json!(true) {
                            " OVERDUE"
                        } else {
                            ""
                        }
                    ));
                }
                out
            },
        ),
        IncidentCommand::Status {
            id,
            status,
            note,
            who,
        } => act(who, id, "status", json!({"status": status, "note": note})),
        IncidentCommand::Severity { id, severity, who } => {
            act(who, id, "severity", json!({"severity": severity}))
        }
        IncidentCommand::Role {
            id,
            role,
            person,
            who,
        } => act(who, id, "roles", json!({"role": role, "person": person})),
        IncidentCommand::Note { id, text, who } => act(who, id, "notes", json!({"text": text})),
        IncidentCommand::Update {
            id,
            text,
            public,
            who,
        } => act(who, id, "updates", json!({"text": text, "public": public})),
        IncidentCommand::Resolve { id, who } => act(who, id, "resolve", json!({})),
        IncidentCommand::Reopen {
            id,
            reason,
            after_postmortem,
            who,
        } => act(
            who,
            id,
            "reopen",
            json!({"reason": reason, "after_postmortem": after_postmortem}),
        ),
        IncidentCommand::Postmortem {
            id,
            summary,
            causes,
            went_well,
            publish,
            who,
        } => {
            let body = json!({"summary": summary, "causes": causes, "went_well": went_well,
                              "publish": publish, "by": who.name()});
            let path = format!("/api/v1/incidents/{id}/postmortem");
            show(
                call(&who.server.server, &path, Some(body))?,
                who.server.output,
                |answer| {
                    for finding in answer["blameless"].as_array().into_iter().flatten() {
                        eprintln!(
                            "blameless: {:?}: {}",
                            s(&finding["sentence"]),
                            s(&finding["reason"])
                        );
                    }
                    s(&answer["markdown"])
                },
            )
        }
    }
}

fn item_line(item: &Value) -> String {
    format!(
        "{} [{}] {} (owner {}, due {}){}\n",
        s(&item["id"]),
        s(&item["status"]),
        s(&item["title"]),
        s(&item["owner"]),
        s(&item["due"]),
        if item["overdue"] == json!(true) {
            " OVERDUE"
        } else {
            ""
        }
    )
}

pub fn run_action(command: &ActionCommand) -> Result<ExitCode> {
    match command {
        ActionCommand::Add {
            incident,
            title,
            owner,
            due,
            priority,
            who,
        } => {
            let body = json!({"title": title, "owner": owner, "due": due, "priority": priority, "by": who.name()});
            let path = format!("/api/v1/incidents/{incident}/action-items");
            show(
                call(&who.server.server, &path, Some(body))?,
                who.server.output,
                item_line,
            )
        }
        ActionCommand::Done { id, who } | ActionCommand::WontDo { id, who } => {
            let status = if matches!(command, ActionCommand::Done { .. }) {
                "done"
            } else {
                "wont_do"
            };
            let body = json!({"status": status, "by": who.name()});
            show(
                call(
                    &who.server.server,
                    &format!("/api/v1/action-items/{id}"),
                    Some(body),
                )?,
                who.server.output,
                item_line,
            )
        }
        ActionCommand::List {
            overdue,
            incident,
            server,
        } => {
            let mut path = format!("/api/v1/action-items?overdue={overdue}");
            if let Some(incident) = incident {
                path.push_str(&format!("&incident={incident}"));
            }
            show(call(&server.server, &path, None)?, server.output, |body| {
                body["action_items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(item_line)
                    .collect()
            })
        }
    }
}
