//! The paging engine: takes alerts from every source (external intakes, SLO page alerts,
//! missed heartbeats), mutes what silences and maintenance windows cover, routes the rest to an
//! escalation policy, deduplicates by fingerprint, groups by the route's `group_by`, and runs
//! each page's escalation with timers kept in the store, so they survive a restart.
//!
//! Every decision is one `commit_paging` transaction: the alert, the page, the events of the
//! timeline and the notifications in the outbox, all or nothing. The store refuses a commit
//! whose page moved under it (optimistic versions), and the step is retried from fresh reads.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jiff::Timestamp;
use nines_core::oncall::Labels;
use nines_core::oncall::escalation::{
    EscalationPolicy, PageEffect, PageError, PageInput, PageState, PageStatus, advance,
};
use nines_core::oncall::matcher::Matcher;
use nines_core::oncall::route::{Route, group_key};
use nines_core::oncall::silence::{Mute, Silence, muted_by};
use nines_spec::catalog::Catalog;
use nines_store::{
    AlertRow, EventQuery, EventRow, PageRow, PageWrite, PagingCommit, SilenceRow, Store, StoreError,
};
use serde_json::{Value, json};

use crate::delivery::page::{PageAlert, PageEvent, PageNotice, PageRecipient, page_outbox_row};
use crate::oncall::intake::{AlertAction, IncomingAlert};
use crate::oncall::links::Linker;

/// Attempts of one decision when another writer moved the page under it.
const CONFLICT_ATTEMPTS: usize = 8;
/// Due pages escalated per tick.
const DUE_BATCH: i64 = 256;

#[derive(Debug, thiserror::Error)]
pub enum PagerError {
    #[error("no page has id {0:?}")]
    NotFound(String),
    #[error("{0}")]
    Illegal(#[from] PageError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("the page kept changing under this request; try again")]
    Conflict,
    #[error("{0}")]
    Invalid(String),
}

/// What an incoming alert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Opened a new page.
    Paged { page_id: String },
    /// Joined the open page of its group.
    Grouped { page_id: String },
    /// Already known and firing: nothing new.
    Deduplicated { page_id: Option<String> },
    /// A silence or maintenance window covers it: recorded, nobody paged.
    Muted { by: String },
    /// No route and no owning team names an escalation policy: recorded, nobody paged.
    Unrouted,
    /// Resolved; `page_resolved` when it was the last firing alert of its page.
    Resolved {
        page_id: Option<String>,
        page_resolved: bool,
    },
    /// Acknowledged its page.
    Acknowledged { page_id: String },
    /// A resolve or acknowledge of an alert nines does not know, or knows resolved: no change
    /// (as PagerDuty answers).
    Ignored,
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Paged { .. } => "paged",
            Outcome::Grouped { .. } => "grouped",
            Outcome::Deduplicated { .. } => "deduplicated",
            Outcome::Muted { .. } => "muted",
            Outcome::Unrouted => "unrouted",
            Outcome::Resolved { .. } => "resolved",
            Outcome::Acknowledged { .. } => "acknowledged",
            Outcome::Ignored => "ignored",
        }
    }

    pub fn page_id(&self) -> Option<&str> {
        match self {
            Outcome::Paged { page_id }
            | Outcome::Grouped { page_id }
            | Outcome::Acknowledged { page_id } => Some(page_id),
            Outcome::Deduplicated { page_id } | Outcome::Resolved { page_id, .. } => {
                page_id.as_deref()
            }
            _ => None,
        }
    }
}

/// A person's action on a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAction {
    Acknowledge,
    Unacknowledge,
    Resolve,
}

impl PageAction {
    pub fn parse(text: &str) -> Option<PageAction> {
        match text {
            "acknowledge" | "ack" => Some(PageAction::Acknowledge),
            "unacknowledge" | "unack" => Some(PageAction::Unacknowledge),
            "resolve" => Some(PageAction::Resolve),
            _ => None,
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickStats {
    pub escalated: usize,
    /// Alerts paged that were muted or unrouted when they came.
    pub unmuted: usize,
    pub errors: usize,
}

/// What a notification says, before it is addressed to a person on a channel.
struct Notice<'a> {
    page: &'a PageRow,
    kind: PageEvent,
    /// (policy, step, round) of the escalation.
    position: (&'a str, usize, u32),
    alerts: &'a [PageAlert],
    actor: Option<&'a str>,
    now: Timestamp,
}

/// The paging engine of one server.
pub struct Pager {
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    linker: Linker,
    /// Serializes this process's decisions (the store's versions guard against other replicas).
    lock: tokio::sync::Mutex<()>,
}

impl Pager {
    pub fn new(store: Arc<dyn Store>, catalog: Arc<Catalog>, linker: Linker) -> Pager {
        Pager {
            store,
            catalog,
            linker,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn linker(&self) -> &Linker {
        &self.linker
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn policy(&self, id: &str) -> Option<&EscalationPolicy> {
        self.catalog
            .oncall
            .escalation_policies
            .iter()
            .find(|policy| policy.id == id)
    }

    /// Takes one alert. Retries from fresh reads when another writer moved its page.
    pub async fn ingest(
        &self,
        alert: &IncomingAlert,
        now: Timestamp,
    ) -> Result<Outcome, PagerError> {
        let _guard = self.lock.lock().await;
        for _ in 0..CONFLICT_ATTEMPTS {
            let (outcome, commit) = self.decide(alert, now).await?;
            let Some(commit) = commit else {
                return Ok(outcome);
            };
            if self.store.commit_paging(&commit).await? {
                return Ok(outcome);
            }
        }
        Err(PagerError::Conflict)
    }

    async fn decide(
        &self,
        alert: &IncomingAlert,
        now: Timestamp,
    ) -> Result<(Outcome, Option<PagingCommit>), PagerError> {
        let existing = self.store.alert(&alert.fingerprint).await?;
        match alert.action {
            AlertAction::Trigger => self.trigger(alert, existing, now).await,
            AlertAction::Resolve => self.resolve_alert(alert, existing, now).await,
            AlertAction::Acknowledge => {
                let Some(page_id) = existing.as_ref().and_then(|row| row.page_id.clone()) else {
                    return Ok((Outcome::Ignored, None));
                };
                let Some(page) = self.store.page(&page_id).await? else {
                    return Ok((Outcome::Ignored, None));
                };
                if page.status != "triggered" {
                    return Ok((Outcome::Ignored, None));
                }
                let actor = format!("{}:{}", alert.source, alert_origin(alert));
                let commit = self
                    .act_commit(&page, PageAction::Acknowledge, &actor, now, None)
                    .await?;
                Ok((Outcome::Acknowledged { page_id }, Some(commit)))
            }
        }
    }

    async fn trigger(
        &self,
        alert: &IncomingAlert,
        existing: Option<AlertRow>,
        now: Timestamp,
    ) -> Result<(Outcome, Option<PagingCommit>), PagerError> {
        let now_ms = now.as_millisecond();
        if let Some(row) = &existing
            && row.status == "firing"
        {
            match &row.page_id {
                Some(page_id) => {
                    let open = self
                        .store
                        .page(page_id)
                        .await?
                        .is_some_and(|page| page.status != "resolved");
                    if open {
                        return Ok((
                            Outcome::Deduplicated {
                                page_id: Some(page_id.clone()),
                            },
                            None,
                        ));
                    }
                    // Its page was resolved by hand while the source still fires: a new
                    // page, as PagerDuty opens a new incident for a trigger after a resolve.
                }
                None => return Ok((Outcome::Deduplicated { page_id: None }, None)),
            }
        }
        let mut row = alert_row(alert, existing.as_ref(), now_ms);
        let mut commit = PagingCommit::default();

        let silences = self.active_silences(now).await?;
        if let Some(mute) = muted_by(
            &alert.labels,
            now,
            &silences,
            &self.catalog.oncall.maintenance,
        ) {
            let (by, kind) = match mute {
                Mute::Silence(silence) => (silence.id.clone(), "silence"),
                Mute::Maintenance(window) => (window.id.clone(), "maintenance"),
            };
            row.muted_by = Some(by.clone());
            commit.events.push(event(
                now_ms,
                "alert.muted",
                None,
                &alert.source,
                json!({"fingerprint": alert.fingerprint, "summary": alert.summary, "by": by, "kind": kind, "labels": alert.labels}),
            ));
            commit.alerts.push(row);
            return Ok((Outcome::Muted { by }, Some(commit)));
        }
        row.muted_by = None;

        let Some((policy, group)) = self.route(&alert.labels, &alert.fingerprint) else {
            commit.events.push(event(
                now_ms,
                "alert.unrouted",
                None,
                &alert.source,
                json!({"fingerprint": alert.fingerprint, "summary": alert.summary, "labels": alert.labels}),
            ));
            commit.alerts.push(row);
            return Ok((Outcome::Unrouted, Some(commit)));
        };

        if let Some(page) = self.store.open_page(&group).await? {
            row.page_id = Some(page.id.clone());
            // Written with its version, so a replica resolving the page meanwhile makes this
            // commit fail and the alert is decided again (it then opens a page of its own).
            commit.pages.push(touched(&page, now_ms));
            commit.events.push(event(
                now_ms,
                "page.alert_added",
                Some(&page.id),
                &alert.source,
                json!({"fingerprint": alert.fingerprint, "summary": alert.summary, "labels": alert.labels}),
            ));
            commit.alerts.push(row);
            return Ok((Outcome::Grouped { page_id: page.id }, Some(commit)));
        }

        let page_id = new_page_id();
        let state = PageState::new(&policy);
        let (state, effects) = advance(&state, &|id| self.policy(id), &PageInput::Trigger, now)?;
        let mut page = PageRow {
            id: page_id.clone(),
            group_key: group,
            status: String::new(),
            policy: String::new(),
            step: 0,
            round: 0,
            next_at_ms: None,
            summary: alert.summary.clone(),
            severity: alert.severity.clone(),
            service: alert.labels.get("service").cloned(),
            labels: json!(alert.labels).to_string(),
            runbook: alert.runbook.clone(),
            created_ms: now_ms,
            updated_ms: now_ms,
            acknowledged_by: None,
            acknowledged_ms: None,
            resolved_by: None,
            resolved_ms: None,
            version: 1,
        };
        row.page_id = Some(page_id.clone());
        commit.events.push(event(
            now_ms,
            "page.triggered",
            Some(&page_id),
            &alert.source,
            json!({"fingerprint": alert.fingerprint, "summary": alert.summary, "policy": policy, "labels": alert.labels}),
        ));
        let alerts = vec![page_alert(&row)];
        let state = self.run_effects(
            &mut page,
            state,
            effects,
            PageEvent::Triggered,
            &alerts,
            now,
            &mut commit,
        )?;
        set_state(&mut page, &state);
        commit.alerts.push(row);
        commit.pages.push(PageWrite {
            row: page,
            expected_version: None,
        });
        Ok((Outcome::Paged { page_id }, Some(commit)))
    }

    async fn resolve_alert(
        &self,
        alert: &IncomingAlert,
        existing: Option<AlertRow>,
        now: Timestamp,
    ) -> Result<(Outcome, Option<PagingCommit>), PagerError> {
        let now_ms = now.as_millisecond();
        let Some(mut row) = existing.filter(|row| row.status == "firing") else {
            return Ok((Outcome::Ignored, None));
        };
        row.status = "resolved".to_string();
        row.ends_ms = Some(now_ms);
        row.updated_ms = now_ms;
        let mut commit = PagingCommit::default();
        commit.events.push(event(
            now_ms,
            "alert.resolved",
            row.page_id.as_deref(),
            &alert.source,
            json!({"fingerprint": row.fingerprint, "summary": row.summary}),
        ));
        let page_id = row.page_id.clone();
        let mut page_resolved = false;
        if let Some(page_id) = &page_id
            && let Some(page) = self.store.page(page_id).await?
            && page.status != "resolved"
        {
            let others_firing = self
                .store
                .page_alerts(page_id)
                .await?
                .iter()
                .any(|other| other.fingerprint != row.fingerprint && other.status == "firing");
            if others_firing {
                // Another replica may resolve the page's other alert at the same time: the
                // version makes one of the two commits fail and decide again, seeing both.
                commit.pages.push(touched(&page, now_ms));
            } else {
                let actor = format!("{}:{}", alert.source, alert_origin(alert));
                let resolved = self
                    .act_commit(
                        &page,
                        PageAction::Resolve,
                        &actor,
                        now,
                        Some(&row.fingerprint),
                    )
                    .await?;
                commit.events.extend(resolved.events);
                commit.outbox.extend(resolved.outbox);
                commit.pages.extend(resolved.pages);
                page_resolved = true;
            }
        }
        commit.alerts.push(row);
        Ok((
            Outcome::Resolved {
                page_id,
                page_resolved,
            },
            Some(commit),
        ))
    }

    /// The escalation policy and group key of an alert (see [`route`]).
    pub fn route(&self, labels: &Labels, fingerprint: &str) -> Option<(String, String)> {
        route(&self.catalog, labels, fingerprint)
    }

    async fn active_silences(&self, now: Timestamp) -> Result<Vec<Silence>, PagerError> {
        let rows = self.store.silences(Some(now.as_millisecond())).await?;
        Ok(rows.iter().filter_map(silence_of_row).collect())
    }

    /// Turns escalation effects into notifications and timeline events. A step that reaches
    /// nobody (nobody on call, no contacts) is recorded and the page moves on to the next step
    /// at once, as PagerDuty skips an empty level.
    #[allow(clippy::too_many_arguments)]
    fn run_effects(
        &self,
        page: &mut PageRow,
        mut state: PageState,
        mut effects: Vec<PageEffect>,
        mut kind: PageEvent,
        alerts: &[PageAlert],
        now: Timestamp,
        commit: &mut PagingCommit,
    ) -> Result<PageState, PagerError> {
        let now_ms = now.as_millisecond();
        // Each pass either reaches someone or moves one step; a policy has finitely many.
        let limit = self
            .catalog
            .oncall
            .escalation_policies
            .iter()
            .map(|policy| policy.steps.len() * (policy.repeat as usize + 1))
            .sum::<usize>()
            + 2;
        for _ in 0..limit {
            let mut reached_anyone = true;
            for effect in &effects {
                match effect {
                    PageEffect::Notify {
                        policy,
                        step,
                        round,
                        targets,
                    } => {
                        if kind == PageEvent::Escalated {
                            commit.events.push(event(
                                now_ms,
                                "page.escalated",
                                Some(&page.id),
                                "escalation",
                                json!({"policy": policy, "step": step, "round": round}),
                            ));
                        }
                        let reached = self.catalog.oncall.directory.resolve(targets, now);
                        let mut sent = 0;
                        for person_reached in &reached {
                            let notice = Notice {
                                page,
                                kind,
                                position: (policy, *step, *round),
                                alerts,
                                actor: None,
                                now,
                            };
                            sent += self.notify_person(
                                &notice,
                                &person_reached.person,
                                &person_reached.via.to_string(),
                                commit,
                            );
                        }
                        if sent == 0 {
                            reached_anyone = false;
                            commit.events.push(event(
                                now_ms,
                                "page.nobody_reached",
                                Some(&page.id),
                                "escalation",
                                json!({"policy": policy, "step": step, "round": round,
                                       "targets": targets.iter().map(ToString::to_string).collect::<Vec<_>>()}),
                            ));
                        }
                    }
                    PageEffect::Exhausted => {
                        commit.events.push(event(
                            now_ms,
                            "page.exhausted",
                            Some(&page.id),
                            "escalation",
                            json!({"policy": state.policy, "rounds": state.round + 1}),
                        ));
                    }
                }
            }
            let notified_some_step = effects
                .iter()
                .any(|effect| matches!(effect, PageEffect::Notify { .. }));
            if reached_anyone || !notified_some_step || state.next_at.is_none() {
                return Ok(state);
            }
            // Nobody at this step: go on to the next one now.
            state.next_at = Some(now);
            let (next, next_effects) =
                advance(&state, &|id| self.policy(id), &PageInput::Timer, now)?;
            state = next;
            effects = next_effects;
            kind = PageEvent::Escalated;
        }
        Ok(state)
    }

    /// Enqueues one notice to every contact of `person`; returns how many were enqueued.
    fn notify_person(
        &self,
        notice: &Notice<'_>,
        person_id: &str,
        via: &str,
        commit: &mut PagingCommit,
    ) -> usize {
        let Some(person) = self.catalog.oncall.directory.person(person_id) else {
            commit.events.push(event(
                notice.now.as_millisecond(),
                "page.unreachable",
                Some(&notice.page.id),
                "escalation",
                json!({"person": person_id, "reason": "unknown person"}),
            ));
            return 0;
        };
        if person.contacts.is_empty() {
            commit.events.push(event(
                notice.now.as_millisecond(),
                "page.unreachable",
                Some(&notice.page.id),
                "escalation",
                json!({"person": person.id, "reason": "no contacts"}),
            ));
        }
        person
            .contacts
            .iter()
            .filter(|contact| {
                self.enqueue(
                    notice,
                    person_id,
                    &contact.channel,
                    contact.address.clone(),
                    ("page.notified", Some(via)),
                    commit,
                )
            })
            .count()
    }

    /// Enqueues the notice to `person_id` on one channel, with its timeline event (`what`:
    /// the event's kind, and the target that reached the person); a notice that cannot be
    /// rendered is recorded as `page.unreachable`. Whether it was enqueued.
    fn enqueue(
        &self,
        notice: &Notice<'_>,
        person_id: &str,
        channel_id: &str,
        address: Option<String>,
        (what, via): (&str, Option<&str>),
        commit: &mut PagingCommit,
    ) -> bool {
        let now_ms = notice.now.as_millisecond();
        let page = notice.page;
        let Some(channel) = self
            .catalog
            .channels
            .iter()
            .find(|channel| channel.id == channel_id)
        else {
            return false;
        };
        let name = self
            .catalog
            .oncall
            .directory
            .person(person_id)
            .map(|person| person.name.clone())
            .unwrap_or_else(|| person_id.to_string());
        let (policy, step, round) = notice.position;
        let rendered = PageNotice {
            page_id: page.id.clone(),
            event: notice.kind,
            at: notice.now,
            summary: page.summary.clone(),
            severity: page.severity.clone(),
            service: page.service.clone(),
            policy: policy.to_string(),
            step,
            round,
            person: Some(PageRecipient {
                id: person_id.to_string(),
                name,
                address: address.clone(),
            }),
            alerts: notice.alerts.to_vec(),
            labels: serde_json::from_str(&page.labels).unwrap_or_default(),
            runbook: page.runbook.clone(),
            links: self.linker.links(&page.id, Some(person_id), notice.now),
            actor: notice.actor.map(str::to_string),
        };
        match page_outbox_row(&rendered, channel, now_ms) {
            Ok(row) => {
                commit.outbox.push(row);
                commit.events.push(event(
                    now_ms,
                    what,
                    Some(&page.id),
                    "escalation",
                    json!({"person": person_id, "channel": channel_id, "address": address,
                           "event": notice.kind.name(), "policy": policy, "step": step,
                           "round": round, "via": via}),
                ));
                true
            }
            Err(reason) => {
                commit.events.push(event(
                    now_ms,
                    "page.unreachable",
                    Some(&page.id),
                    "escalation",
                    json!({"person": person_id, "channel": channel_id, "reason": reason}),
                ));
                false
            }
        }
    }

    /// Acknowledge, unacknowledge or resolve a page, by `actor`.
    pub async fn act(
        &self,
        page_id: &str,
        action: PageAction,
        actor: &str,
        now: Timestamp,
    ) -> Result<PageRow, PagerError> {
        if actor.trim().is_empty() || actor.len() > 256 {
            return Err(PagerError::Invalid(
                "the actor must be 1 to 256 characters".to_string(),
            ));
        }
        let _guard = self.lock.lock().await;
        for _ in 0..CONFLICT_ATTEMPTS {
            let page = self
                .store
                .page(page_id)
                .await?
                .ok_or_else(|| PagerError::NotFound(page_id.to_string()))?;
            let commit = self.act_commit(&page, action, actor, now, None).await?;
            let written = commit.pages.first().map(|write| write.row.clone());
            if self.store.commit_paging(&commit).await? {
                return written.ok_or(PagerError::Conflict);
            }
        }
        Err(PagerError::Conflict)
    }

    /// The commit of a person's (or a source's) action on a page. `just_resolved` names an
    /// alert resolved in the same commit, shown resolved in the notices.
    async fn act_commit(
        &self,
        page: &PageRow,
        action: PageAction,
        actor: &str,
        now: Timestamp,
        just_resolved: Option<&str>,
    ) -> Result<PagingCommit, PagerError> {
        let now_ms = now.as_millisecond();
        let state = state_of(page);
        let input = match action {
            PageAction::Acknowledge => PageInput::Acknowledge {
                by: actor.to_string(),
            },
            PageAction::Unacknowledge => PageInput::Unacknowledge {
                by: actor.to_string(),
            },
            PageAction::Resolve => PageInput::Resolve {
                by: actor.to_string(),
            },
        };
        let (state, effects) = advance(&state, &|id| self.policy(id), &input, now)?;
        let mut row = page.clone();
        row.version = page.version + 1;
        row.updated_ms = now_ms;
        let mut commit = PagingCommit::default();
        let alerts: Vec<PageAlert> = self
            .store
            .page_alerts(&page.id)
            .await?
            .iter()
            .map(|row| {
                let mut alert = page_alert(row);
                if just_resolved == Some(row.fingerprint.as_str()) {
                    alert.status = "resolved".to_string();
                }
                alert
            })
            .collect();
        let (kind, name) = match action {
            PageAction::Acknowledge => {
                row.acknowledged_by = Some(actor.to_string());
                row.acknowledged_ms = Some(now_ms);
                (PageEvent::Acknowledged, "page.acknowledged")
            }
            PageAction::Unacknowledge => {
                row.acknowledged_by = None;
                row.acknowledged_ms = None;
                (PageEvent::Unacknowledged, "page.unacknowledged")
            }
            PageAction::Resolve => {
                row.resolved_by = Some(actor.to_string());
                row.resolved_ms = Some(now_ms);
                (PageEvent::Resolved, "page.resolved")
            }
        };
        commit.events.push(event(
            now_ms,
            name,
            Some(&page.id),
            actor,
            json!({"by": actor}),
        ));
        let state = match action {
            // Re-triggered: the escalation starts over and notifies its first step.
            PageAction::Unacknowledge => self.run_effects(
                &mut row,
                state,
                effects,
                PageEvent::Unacknowledged,
                &alerts,
                now,
                &mut commit,
            )?,
            // Everyone notified so far hears of it, on the channels that reached them.
            PageAction::Acknowledge | PageAction::Resolve => {
                for (person, channel, address) in self.notified(&page.id).await? {
                    let step = usize::try_from(row.step).unwrap_or(0);
                    let round = u32::try_from(row.round).unwrap_or(0);
                    let notice = Notice {
                        page: &row,
                        kind,
                        position: (&row.policy, step, round),
                        alerts: &alerts,
                        actor: Some(actor),
                        now,
                    };
                    self.enqueue(
                        &notice,
                        &person,
                        &channel,
                        address,
                        ("page.informed", None),
                        &mut commit,
                    );
                }
                state
            }
        };
        set_state(&mut row, &state);
        commit.pages.push(PageWrite {
            row,
            expected_version: Some(page.version),
        });
        Ok(commit)
    }

    /// (person, channel, address) of every notification of a page so far, once each.
    async fn notified(
        &self,
        page_id: &str,
    ) -> Result<BTreeSet<(String, String, Option<String>)>, PagerError> {
        let events = self
            .store
            .events(&EventQuery {
                page_id: Some(page_id.to_string()),
                limit: 10_000,
                ..EventQuery::default()
            })
            .await?;
        let mut out = BTreeSet::new();
        for row in events.iter().filter(|row| row.kind == "page.notified") {
            let Ok(payload) = serde_json::from_str::<Value>(&row.payload) else {
                continue;
            };
            let text = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_string);
            if let (Some(person), Some(channel)) = (text("person"), text("channel")) {
                out.insert((person, channel, text("address")));
            }
        }
        Ok(out)
    }

    /// Escalates pages whose timer is due, and pages alerts whose silence or maintenance window
    /// ended while they still fire.
    pub async fn tick(&self, now: Timestamp) -> TickStats {
        let mut stats = TickStats::default();
        let due = match self.store.due_pages(now.as_millisecond(), DUE_BATCH).await {
            Ok(due) => due,
            Err(err) => {
                tracing::error!(error = %err, "reading due pages");
                stats.errors += 1;
                return stats;
            }
        };
        for page in due {
            match self.escalate(&page.id, now).await {
                Ok(true) => stats.escalated += 1,
                Ok(false) => {}
                Err(err) => {
                    tracing::error!(page = %page.id, error = %err, "escalating a page");
                    stats.errors += 1;
                }
            }
        }
        match self.store.firing_alerts().await {
            Ok(alerts) => {
                // Firing alerts without a page: muted, or unrouted when they came. One read
                // of the silences for all of them; only those that would page now are retried.
                let unpaged: Vec<AlertRow> = alerts
                    .into_iter()
                    .filter(|row| row.page_id.is_none())
                    .collect();
                let silences = if unpaged.is_empty() {
                    Vec::new()
                } else {
                    match self.active_silences(now).await {
                        Ok(silences) => silences,
                        Err(err) => {
                            tracing::error!(error = %err, "reading silences");
                            stats.errors += 1;
                            return stats;
                        }
                    }
                };
                for row in unpaged {
                    let mut alert = incoming_of_row(&row);
                    alert.action = AlertAction::Trigger;
                    let maintenance = &self.catalog.oncall.maintenance;
                    if muted_by(&alert.labels, now, &silences, maintenance).is_some()
                        || self.route(&alert.labels, &alert.fingerprint).is_none()
                    {
                        continue;
                    }
                    match self.page_unpaged(&alert, now).await {
                        Ok(true) => stats.unmuted += 1,
                        Ok(false) => {}
                        Err(err) => {
                            tracing::error!(alert = %row.fingerprint, error = %err, "paging an alert that was muted or unrouted");
                            stats.errors += 1;
                        }
                    }
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "reading firing alerts");
                stats.errors += 1;
            }
        }
        stats
    }

    /// Pages a firing alert that has no page: muted when it came (its silence or maintenance
    /// window has ended) or unrouted (a route or an owner's policy takes it now).
    async fn page_unpaged(
        &self,
        alert: &IncomingAlert,
        now: Timestamp,
    ) -> Result<bool, PagerError> {
        let silences = self.active_silences(now).await?;
        if muted_by(
            &alert.labels,
            now,
            &silences,
            &self.catalog.oncall.maintenance,
        )
        .is_some()
        {
            return Ok(false);
        }
        let _guard = self.lock.lock().await;
        for _ in 0..CONFLICT_ATTEMPTS {
            let Some(mut existing) = self.store.alert(&alert.fingerprint).await? else {
                return Ok(false);
            };
            if existing.status != "firing" || existing.page_id.is_some() {
                return Ok(false);
            }
            // Forget the mute so `trigger` treats it as new.
            existing.muted_by = None;
            existing.status = "unmuted".to_string();
            let (_, commit) = self.trigger(alert, Some(existing), now).await?;
            let Some(commit) = commit else {
                return Ok(false);
            };
            if self.store.commit_paging(&commit).await? {
                return Ok(true);
            }
        }
        Err(PagerError::Conflict)
    }

    async fn escalate(&self, page_id: &str, now: Timestamp) -> Result<bool, PagerError> {
        let _guard = self.lock.lock().await;
        for _ in 0..CONFLICT_ATTEMPTS {
            let Some(page) = self.store.page(page_id).await? else {
                return Ok(false);
            };
            let state = state_of(&page);
            if state.status != PageStatus::Triggered || state.next_at.is_none_or(|next| next > now)
            {
                return Ok(false);
            }
            let (state, effects) =
                match advance(&state, &|id| self.policy(id), &PageInput::Timer, now) {
                    Ok(next) => next,
                    // The policy was removed or emptied, or hands over in a loop, since the
                    // page began (a config change): stop its timer, say why on its timeline,
                    // rather than failing every second.
                    Err(err) => {
                        let mut stopped = touched(&page, now.as_millisecond());
                        stopped.row.next_at_ms = None;
                        let commit = PagingCommit {
                            pages: vec![stopped],
                            events: vec![event(
                                now.as_millisecond(),
                                "page.escalation_stopped",
                                Some(&page.id),
                                "escalation",
                                json!({"policy": page.policy, "reason": err.to_string()}),
                            )],
                            ..PagingCommit::default()
                        };
                        if self.store.commit_paging(&commit).await? {
                            tracing::error!(page = %page.id, error = %err, "escalation stopped");
                            return Ok(false);
                        }
                        continue;
                    }
                };
            let mut row = page.clone();
            row.version = page.version + 1;
            row.updated_ms = now.as_millisecond();
            let alerts: Vec<PageAlert> = self
                .store
                .page_alerts(&page.id)
                .await?
                .iter()
                .map(page_alert)
                .collect();
            let mut commit = PagingCommit::default();
            let state = self.run_effects(
                &mut row,
                state,
                effects,
                PageEvent::Escalated,
                &alerts,
                now,
                &mut commit,
            )?;
            set_state(&mut row, &state);
            commit.pages.push(PageWrite {
                row,
                expected_version: Some(page.version),
            });
            if self.store.commit_paging(&commit).await? {
                return Ok(true);
            }
        }
        Err(PagerError::Conflict)
    }

    /// Records whether a page called for action (reports count the non-actionable ones); the
    /// latest mark counts.
    pub async fn mark_actionable(
        &self,
        page_id: &str,
        actionable: bool,
        by: &str,
        now: Timestamp,
    ) -> Result<(), PagerError> {
        if by.trim().is_empty() || by.len() > 256 {
            return Err(PagerError::Invalid(
                "the actor must be 1 to 256 characters".to_string(),
            ));
        }
        if self.store.page(page_id).await?.is_none() {
            return Err(PagerError::NotFound(page_id.to_string()));
        }
        let commit = PagingCommit {
            events: vec![event(
                now.as_millisecond(),
                "page.actionable",
                Some(page_id),
                by,
                json!({"actionable": actionable, "by": by}),
            )],
            ..PagingCommit::default()
        };
        self.store.commit_paging(&commit).await?;
        Ok(())
    }

    /// Adds a silence (API and CLI); matchers in their text form.
    pub async fn add_silence(&self, row: &SilenceRow) -> Result<(), PagerError> {
        let texts: Vec<String> = serde_json::from_str(&row.matchers)
            .map_err(|err| PagerError::Invalid(format!("matchers: {err}")))?;
        if texts.is_empty() {
            return Err(PagerError::Invalid(
                "a silence needs at least one matcher".to_string(),
            ));
        }
        for (index, text) in texts.iter().enumerate() {
            Matcher::parse(text)
                .map_err(|err| PagerError::Invalid(format!("matchers[{index}]: {err}")))?;
        }
        if row.ends_ms <= row.starts_ms {
            return Err(PagerError::Invalid(
                "a silence must end after it starts".to_string(),
            ));
        }
        self.store.put_silence(row).await?;
        Ok(())
    }
}

/// The escalation policy and group key of an alert: the routing tree's first match that names
/// a policy, else the escalation policy of the team that owns its `service`. Without a routing
/// tree, the owner's policy and one page per alert. The group key starts with the policy.
pub fn route(catalog: &Catalog, labels: &Labels, fingerprint: &str) -> Option<(String, String)> {
    let default_root = Route {
        matchers: Vec::new(),
        policy: None,
        group_by: None,
        continue_matching: false,
        routes: Vec::new(),
    };
    let root = catalog.oncall.routes.as_ref().unwrap_or(&default_root);
    let owner_policy = labels
        .get("service")
        .and_then(|service| catalog.service(service))
        .and_then(|service| service.owner.as_deref())
        .and_then(|team| catalog.oncall.directory.team(team))
        .and_then(|team| team.escalation_policy.clone());
    for found in root.resolve(labels) {
        let policy = found.policy.clone().or_else(|| owner_policy.clone());
        if let Some(policy) = policy {
            // The policy is part of the key: alerts of two teams' services never share a page
            // (the tree's `group_by` may not name `service`).
            let key = format!("{policy}/{}", group_key(&found, labels, fingerprint));
            return Some((policy, key));
        }
    }
    None
}

/// The page unchanged but for its version and update time: a commit that depends on the page
/// staying as read (open, with these alerts) carries it.
fn touched(page: &PageRow, now_ms: i64) -> PageWrite {
    let mut row = page.clone();
    row.version = page.version + 1;
    row.updated_ms = now_ms;
    PageWrite {
        row,
        expected_version: Some(page.version),
    }
}

/// The escalation state a page row holds.
pub fn state_of(page: &PageRow) -> PageState {
    let status = match page.status.as_str() {
        "acknowledged" => PageStatus::Acknowledged,
        "resolved" => PageStatus::Resolved,
        _ => PageStatus::Triggered,
    };
    PageState {
        status,
        policy: page.policy.clone(),
        step: usize::try_from(page.step).unwrap_or(0),
        round: u32::try_from(page.round).unwrap_or(0),
        next_at: page
            .next_at_ms
            .and_then(|ms| Timestamp::from_millisecond(ms).ok()),
        acknowledged_by: page.acknowledged_by.clone(),
    }
}

fn set_state(page: &mut PageRow, state: &PageState) {
    page.status = state.status.name().to_string();
    page.policy = state.policy.clone();
    page.step = i64::try_from(state.step).unwrap_or(i64::MAX);
    page.round = i64::from(state.round);
    page.next_at_ms = state.next_at.map(Timestamp::as_millisecond);
}

fn alert_row(alert: &IncomingAlert, existing: Option<&AlertRow>, now_ms: i64) -> AlertRow {
    AlertRow {
        fingerprint: alert.fingerprint.clone(),
        source: alert.source.clone(),
        status: "firing".to_string(),
        summary: alert.summary.clone(),
        severity: alert.severity.clone(),
        labels: json!(alert.labels).to_string(),
        // The runbook is kept with the alert, so that an alert paged later (after its silence)
        // still links it.
        annotations: {
            let mut annotations = alert.annotations.clone();
            if let Some(runbook) = &alert.runbook {
                annotations
                    .entry("runbook_url".to_string())
                    .or_insert_with(|| runbook.clone());
            }
            json!(annotations).to_string()
        },
        starts_ms: existing
            .filter(|row| row.status == "firing" || row.status == "unmuted")
            .map(|row| row.starts_ms)
            .or_else(|| alert.starts_at.map(Timestamp::as_millisecond))
            .unwrap_or(now_ms),
        ends_ms: None,
        updated_ms: now_ms,
        page_id: None,
        muted_by: None,
    }
}

fn page_alert(row: &AlertRow) -> PageAlert {
    PageAlert {
        fingerprint: row.fingerprint.clone(),
        status: row.status.clone(),
        summary: row.summary.clone(),
        source: row.source.clone(),
        labels: serde_json::from_str(&row.labels).unwrap_or_default(),
    }
}

/// An alert row as the incoming alert it came from (to route it again).
pub fn incoming_of_row(row: &AlertRow) -> IncomingAlert {
    let annotations: BTreeMap<String, String> =
        serde_json::from_str(&row.annotations).unwrap_or_default();
    IncomingAlert {
        source: row.source.clone(),
        fingerprint: row.fingerprint.clone(),
        action: if row.status == "resolved" {
            AlertAction::Resolve
        } else {
            AlertAction::Trigger
        },
        labels: serde_json::from_str(&row.labels).unwrap_or_default(),
        runbook: annotations
            .get("runbook_url")
            .or_else(|| annotations.get("runbook"))
            .filter(|url| crate::oncall::intake::is_http_url(url))
            .cloned(),
        annotations,
        summary: row.summary.clone(),
        severity: row.severity.clone(),
        starts_at: Timestamp::from_millisecond(row.starts_ms).ok(),
    }
}

/// A silence row as the core's silence; `None` (and logged) when its stored matchers no longer
/// parse, which the API prevents.
pub fn silence_of_row(row: &SilenceRow) -> Option<Silence> {
    let texts: Vec<String> = serde_json::from_str(&row.matchers).ok()?;
    let mut matchers = Vec::new();
    for text in texts {
        match Matcher::parse(&text) {
            Ok(matcher) => matchers.push(matcher),
            Err(err) => {
                tracing::error!(silence = %row.id, error = %err, "stored silence matcher does not parse");
                return None;
            }
        }
    }
    Some(Silence {
        id: row.id.clone(),
        matchers,
        starts: Timestamp::from_millisecond(row.starts_ms).ok()?,
        ends: Timestamp::from_millisecond(row.ends_ms).ok()?,
        created_by: row.created_by.clone(),
        comment: row.comment.clone(),
    })
}

/// Where an alert came from, for the actor of what it did (its integration, or its source).
fn alert_origin(alert: &IncomingAlert) -> String {
    alert
        .labels
        .get("integration")
        .cloned()
        .unwrap_or_else(|| alert.source.clone())
}

fn event(at_ms: i64, kind: &str, page_id: Option<&str>, actor: &str, payload: Value) -> EventRow {
    EventRow {
        id: 0,
        at_ms,
        kind: kind.to_string(),
        slo_id: None,
        actor: actor.to_string(),
        payload: payload.to_string(),
        page_id: page_id.map(str::to_string),
        incident_id: None,
    }
}

/// `p-` and eight characters of Crockford's base32 (no I, L, O, U): short enough to type in
/// `nines pages ack`, random enough that a clash (refused by the store, then retried) is rare.
pub fn new_page_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = (nanos as u64).to_le_bytes();
    }
    let mut id = String::from("p-");
    for byte in bytes {
        id.push(ALPHABET[usize::from(byte) % ALPHABET.len()] as char);
    }
    id
}
