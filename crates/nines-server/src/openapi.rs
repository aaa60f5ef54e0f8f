//! The OpenAPI 3.1 document of the HTTP API, served at `/api/openapi.json`.

use serde_json::{Value, json};

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

pub fn document() -> Value {
    let mut document = core_document();
    if let (Some(paths), Value::Object(oncall)) =
        (document["paths"].as_object_mut(), oncall_paths())
    {
        paths.extend(oncall);
    }
    document
}

/// The on-call endpoints (`oncall/api.rs`).
fn oncall_paths() -> Value {
    let id =
        json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } });
    let intake = |summary: &str| {
        json!({ "post": {
            "summary": summary,
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object" } } } },
            "responses": {
                "200": { "description": "each alert's outcome: paged, grouped, deduplicated, muted, unrouted, resolved, acknowledged, ignored" },
                "400": error_response("malformed body; `problems` names every field"),
                "503": error_response("not durable; retry")
            }
        }})
    };
    let action = |summary: &str| {
        json!({
            "summary": summary,
            "parameters": [id.clone()],
            "requestBody": { "content": { "application/json": { "schema": { "type": "object", "properties": { "by": { "type": "string" } } } } } },
            "responses": { "200": { "description": "the page" }, "404": error_response("unknown page"), "409": error_response("illegal move (already acknowledged, resolved)") }
        })
    };
    json!({
        "/api/v1/intake/alertmanager": intake("Alertmanager webhook (version 4)"),
        "/api/v1/intake/webhook": intake("Generic alert webhook: {\"alerts\": [{\"labels\": {...}, \"status\": \"firing\"}]}"),
        "/v2/enqueue": { "post": {
            "summary": "PagerDuty Events API v2",
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object" } } } },
            "responses": { "202": { "description": "{status: success, message: Event processed, dedup_key}" }, "400": { "description": "{status: invalid event, message: Event object is invalid, errors: [...]}" } }
        }},
        "/api/v1/pages": { "get": {
            "summary": "Pages, newest first",
            "parameters": [{ "name": "status", "in": "query", "schema": { "type": "string", "enum": ["triggered", "acknowledged", "resolved"] } },
                           { "name": "limit", "in": "query", "schema": { "type": "integer", "maximum": 1000 } }],
            "responses": { "200": { "description": "pages" } }
        }},
        "/api/v1/pages/{id}": { "get": { "summary": "A page with its alerts and timeline", "parameters": [id.clone()],
            "responses": { "200": { "description": "the page" }, "404": error_response("unknown page") } } },
        "/api/v1/pages/{id}/acknowledge": { "post": action("Acknowledge: the escalation stops") },
        "/api/v1/pages/{id}/unacknowledge": { "post": action("Unacknowledge: the escalation starts over") },
        "/api/v1/pages/{id}/resolve": { "post": action("Resolve") },
        "/act/{token}": {
            "get": { "summary": "A signed link: shows what it does", "responses": { "200": { "description": "an HTML form" }, "403": { "description": "altered or expired" } } },
            "post": { "summary": "A signed link: acts", "responses": { "200": { "description": "done" }, "403": { "description": "altered or expired" }, "409": { "description": "illegal move" } } }
        },
        "/api/v1/oncall": { "get": { "summary": "Who is on call now and next, per schedule",
            "parameters": [{ "name": "at", "in": "query", "schema": { "type": "string", "format": "date-time" } }],
            "responses": { "200": { "description": "schedules" } } } },
        "/api/v1/schedules/{id}": { "get": { "summary": "Final shifts, gaps and rotation health over a range", "parameters": [id.clone(),
            { "name": "from", "in": "query", "schema": { "type": "string", "format": "date-time" } },
            { "name": "to", "in": "query", "schema": { "type": "string", "format": "date-time" } }],
            "responses": { "200": { "description": "the schedule" }, "404": error_response("unknown schedule") } } },
        "/api/v1/schedules/{id}/calendar.ics": { "get": { "summary": "The schedule as iCalendar", "parameters": [id.clone()],
            "responses": { "200": { "description": "text/calendar" }, "404": error_response("unknown schedule") } } },
        "/api/v1/silences": {
            "get": { "summary": "Silences and maintenance windows", "responses": { "200": { "description": "silences" } } },
            "post": { "summary": "Add a silence: {matchers, starts?, ends | duration, created_by, comment?}",
                "responses": { "201": { "description": "the silence" }, "400": error_response("bad matchers or times") } }
        },
        "/api/v1/silences/{id}": { "delete": { "summary": "Expire a silence now", "parameters": [id.clone()],
            "responses": { "200": { "description": "expired" }, "404": error_response("unknown silence") } } },
        "/api/v1/heartbeats": { "get": { "summary": "Heartbeats: last beat, deadline, ok or missed", "responses": { "200": { "description": "heartbeats" } } } },
        "/api/v1/heartbeats/{id}": {
            "get": { "summary": "A beat", "parameters": [id.clone()], "responses": { "200": { "description": "taken" }, "404": error_response("unknown heartbeat") } },
            "post": { "summary": "A beat", "parameters": [id], "responses": { "200": { "description": "taken" }, "404": error_response("unknown heartbeat") } }
        }
    })
}

fn core_document() -> Value {
    let slo_id =
        json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } });
    json!({
        "openapi": "3.1.0",
        "info": { "title": "nines", "version": env!("CARGO_PKG_VERSION"), "description": "SLOs, error budgets and burn-rate alerts" },
        "paths": {
            "/api/v1/write": { "post": {
                "summary": "Prometheus remote write v1 (snappy-compressed protobuf); answered once durable",
                "requestBody": { "required": true, "content": { "application/x-protobuf": { "schema": { "type": "string", "format": "binary" } } } },
                "responses": {
                    "204": { "description": "taken and durable" },
                    "400": error_response("corrupt snappy, invalid protobuf, samples too old or in the future"),
                    "413": error_response("body larger than the limit"),
                    "415": error_response("not snappy"),
                    "503": error_response("not durable; retry")
                }
            }},
            "/v1/metrics": { "post": {
                "summary": "OTLP/HTTP metrics (protobuf, optionally gzip): sums and histograms",
                "requestBody": { "required": true, "content": { "application/x-protobuf": { "schema": { "type": "string", "format": "binary" } } } },
                "responses": {
                    "200": { "description": "an empty ExportMetricsServiceResponse" },
                    "400": error_response("invalid protobuf or gzip"),
                    "413": error_response("body larger than the limit"),
                    "415": error_response("not protobuf"),
                    "503": error_response("not durable; retry")
                }
            }},
            "/api/v1/slos": { "get": {
                "summary": "Every SLO with its status",
                "parameters": [{ "name": "service", "in": "query", "schema": { "type": "string" } }],
                "responses": { "200": { "description": "SLOs", "content": { "application/json": { "schema": {
                    "type": "object", "properties": { "slos": { "type": "array", "items": { "$ref": "#/components/schemas/Slo" } } } } } } } }
            }},
            "/api/v1/slos/{id}": { "get": {
                "summary": "One SLO with its status: budget, burn rates, alert states, time to exhaustion",
                "parameters": [slo_id.clone()],
                "responses": { "200": { "description": "the SLO", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Slo" } } } },
                               "404": error_response("unknown SLO id") }
            }},
            "/api/v1/slos/{id}/events": { "post": {
                "summary": "Counts or a single event for an SLO",
                "parameters": [slo_id.clone()],
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "additionalProperties": false,
                    "properties": {
                        "good": { "type": "integer", "minimum": 0 }, "bad": { "type": "integer", "minimum": 0 },
                        "total": { "type": "integer", "minimum": 0 }, "outcome": { "enum": ["good", "bad"] },
                        "at": { "type": "string", "format": "date-time" } } } } } },
                "responses": { "202": { "description": "durable" }, "400": error_response("invalid body"),
                               "404": error_response("unknown SLO id"), "413": error_response("too large"), "503": error_response("not durable; retry") }
            }},
            "/api/v1/slos/{id}/history": { "get": {
                "summary": "The SLO's budget history as a series",
                "parameters": [slo_id,
                    { "name": "from", "in": "query", "schema": { "type": "string", "format": "date-time" } },
                    { "name": "to", "in": "query", "schema": { "type": "string", "format": "date-time" } }],
                "responses": { "200": { "description": "points, oldest first" }, "400": error_response("bad period"), "404": error_response("unknown SLO id") }
            }},
            "/api/v1/status": { "get": {
                "summary": "The public status page's facts (no login): components from services with their status (operational, degraded_performance, partial_outage, major_outage, under_maintenance) and 90 days of history, published incidents with their public updates only, maintenance",
                "responses": { "200": { "description": "status" }, "503": error_response("the store is unavailable") }
            }},
            "/api/v1/slos/{id}/burn-down": { "get": {
                "summary": "How the budget of the current window was spent: from the window's start to now, the share of the window's budget left after the bad events (or slices) up to each instant",
                "parameters": [slo_id, { "name": "points", "in": "query", "schema": { "type": "integer", "minimum": 2, "maximum": 1000 } }],
                "responses": { "200": { "description": "window_start, window_end, now, and [at_ms, share or null] readings" },
                               "400": error_response("bad points"), "404": error_response("unknown SLO id") }
            }},
            "/api/v1/slos/{id}/burn-rates": { "get": {
                "summary": "The burn rate of every alert pair over time (long and short window, with the pair's threshold), as the evaluator would have read it",
                "parameters": [slo_id,
                    { "name": "from", "in": "query", "schema": { "type": "string", "format": "date-time" } },
                    { "name": "to", "in": "query", "schema": { "type": "string", "format": "date-time" } },
                    { "name": "points", "in": "query", "schema": { "type": "integer", "minimum": 2, "maximum": 1000 } }],
                "responses": { "200": { "description": "per pair: severity, windows, threshold, and [at_ms, rate or null] readings" },
                               "400": error_response("bad period or points"), "404": error_response("unknown SLO id") }
            }},
            "/api/v1/slos/{id}/backfill": {
                "get": {
                    "summary": "How far a pulled SLO's data reaches, its backfill's progress, its last error and data problems",
                    "parameters": [slo_id],
                    "responses": { "200": { "description": "pull status", "content": { "application/json": { "schema": {
                        "type": "object", "properties": { "slo": { "type": "string" }, "pull": { "$ref": "#/components/schemas/Pull" } } } } } },
                        "404": error_response("unknown SLO id"), "409": error_response("the SLO's data is pushed, not pulled") }
                },
                "post": {
                    "summary": "Pull the SLO's history again from `from` (default: its whole window); its counts from there are deleted and pulled once more",
                    "parameters": [slo_id],
                    "requestBody": { "content": { "application/json": { "schema": { "type": "object", "additionalProperties": false,
                        "properties": { "from": { "type": "string", "format": "date-time" } } } } } },
                    "responses": { "202": { "description": "started" }, "400": error_response("bad from"), "404": error_response("unknown SLO id"),
                        "409": error_response("the SLO's data is pushed, not pulled"), "503": error_response("not durable; retry") }
                }
            },
            "/api/v1/alerts": { "get": { "summary": "Alerts firing now", "responses": { "200": { "description": "alerts" } } } },
            "/api/v1/events": { "get": {
                "summary": "The event log (alert transitions), oldest first",
                "parameters": [
                    { "name": "slo", "in": "query", "schema": { "type": "string" } },
                    { "name": "after", "in": "query", "schema": { "type": "integer" } },
                    { "name": "limit", "in": "query", "schema": { "type": "integer", "maximum": 1000 } }],
                "responses": { "200": { "description": "events" }, "400": error_response("bad parameter") }
            }},
            "/metrics": { "get": { "summary": "nines' own metrics (Prometheus text format)", "responses": { "200": { "description": "metrics" } } } },
            "/healthz": { "get": { "summary": "Alive", "responses": { "200": { "description": "alive" } } } },
            "/readyz": { "get": { "summary": "Ready: the evaluator ran recently", "responses": { "200": { "description": "ready" }, "503": error_response("not ready") } } }
        },
        "components": { "schemas": {
            "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "object", "required": ["status", "message"],
                "properties": { "status": { "type": "integer" }, "message": { "type": "string" }, "field": { "type": "string" } } } } },
            "Slo": { "type": "object", "required": ["id", "service", "objective", "window", "alerts"], "properties": {
                "id": { "type": "string" }, "name": { "type": "string" }, "service": { "type": "string" },
                "objective": { "type": "number" }, "window": { "type": "object" }, "budgeting": { "type": "string" },
                "alerts": { "type": "object" }, "status": { "type": ["object", "null"] },
                "pull": { "$ref": "#/components/schemas/Pull" } } },
            "Pull": { "type": "object", "required": ["source", "state"], "properties": {
                "source": { "type": "string" }, "url": { "type": "string" },
                "state": { "type": "string", "enum": ["backfilling", "live", "failing"] },
                "pulled_until": { "type": ["string", "null"], "format": "date-time" },
                "behind_minutes": { "type": ["integer", "null"] },
                "backfill": { "type": ["object", "null"], "properties": {
                    "from": { "type": "string" }, "until": { "type": "string" }, "minutes_done": { "type": "integer" },
                    "minutes_total": { "type": "integer" }, "progress": { "type": "number" } } },
                "last_success": { "type": ["string", "null"] }, "last_error": { "type": ["string", "null"] },
                "failures": { "type": "integer" }, "missing_minutes": { "type": "integer" },
                "problems": { "type": "array", "items": { "type": "object" } } } }
        } }
    })
}
