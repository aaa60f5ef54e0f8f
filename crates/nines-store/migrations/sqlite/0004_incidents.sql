-- Incidents, their action items, and events that name an incident. Roles, services, SLOs and
-- pages are JSON text the store does not parse (checked to be JSON, like event payloads).

ALTER TABLE events ADD COLUMN incident_id TEXT;

CREATE INDEX events_by_incident ON events (incident_id, id) WHERE incident_id IS NOT NULL;

-- Incidents: ids are made by the caller. version counts writes (compare and set).
CREATE TABLE incidents (
    id                      TEXT    NOT NULL PRIMARY KEY,
    title                   TEXT    NOT NULL,
    severity                TEXT    NOT NULL,
    status                  TEXT    NOT NULL
        CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    opened_ms               INTEGER NOT NULL,
    opened_by               TEXT    NOT NULL,
    resolved_ms             INTEGER,
    roles                   TEXT    NOT NULL CHECK (json_valid(roles)),
    services                TEXT    NOT NULL CHECK (json_valid(services)),
    slos                    TEXT    NOT NULL CHECK (json_valid(slos)),
    pages                   TEXT    NOT NULL CHECK (json_valid(pages)),
    postmortem              TEXT,
    postmortem_published_ms INTEGER,
    reopened                INTEGER NOT NULL CHECK (reopened >= 0),
    updated_ms              INTEGER NOT NULL,
    version                 INTEGER NOT NULL CHECK (version >= 1)
) STRICT;

-- Incidents are listed newest first, by status or over a time range.
CREATE INDEX incidents_by_opened ON incidents (opened_ms, id);
CREATE INDEX incidents_by_status ON incidents (status, opened_ms, id);

-- Action items follow up an incident; due is a civil date (YYYY-MM-DD, sorts as text).
CREATE TABLE action_items (
    id          TEXT    NOT NULL PRIMARY KEY,
    incident_id TEXT    NOT NULL REFERENCES incidents (id),
    title       TEXT    NOT NULL,
    owner       TEXT    NOT NULL CHECK (owner <> ''),
    due         TEXT    NOT NULL,
    priority    TEXT    NOT NULL CHECK (priority IN ('P1', 'P2', 'P3')),
    status      TEXT    NOT NULL CHECK (status IN ('open', 'done', 'wont_do')),
    created_ms  INTEGER NOT NULL,
    closed_ms   INTEGER,
    updated_ms  INTEGER NOT NULL
) STRICT;

CREATE INDEX action_items_by_due ON action_items (due, id);
CREATE INDEX action_items_by_incident ON action_items (incident_id, due, id);
