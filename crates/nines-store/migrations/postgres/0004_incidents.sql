-- Incidents, their action items, and events that name an incident. Roles, services, SLOs and
-- pages are JSON text the store does not parse (`json` columns: checked, kept verbatim, like
-- event payloads).

ALTER TABLE events ADD COLUMN incident_id TEXT;

CREATE INDEX events_by_incident ON events (incident_id, id) WHERE incident_id IS NOT NULL;

-- Ids and due dates compare bytewise (COLLATE "C"), so they sort as on SQLite.

-- Incidents: ids are made by the caller. version counts writes (compare and set).
CREATE TABLE incidents (
    id                      TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    title                   TEXT   NOT NULL,
    severity                TEXT   NOT NULL,
    status                  TEXT   NOT NULL
        CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    opened_ms               BIGINT NOT NULL,
    opened_by               TEXT   NOT NULL,
    resolved_ms             BIGINT,
    roles                   JSON   NOT NULL,
    services                JSON   NOT NULL,
    slos                    JSON   NOT NULL,
    pages                   JSON   NOT NULL,
    postmortem              TEXT,
    postmortem_published_ms BIGINT,
    reopened                BIGINT NOT NULL CHECK (reopened >= 0),
    updated_ms              BIGINT NOT NULL,
    version                 BIGINT NOT NULL CHECK (version >= 1)
);

-- Incidents are listed newest first, by status or over a time range.
CREATE INDEX incidents_by_opened ON incidents (opened_ms, id);
CREATE INDEX incidents_by_status ON incidents (status, opened_ms, id);

-- Action items follow up an incident; due is a civil date (YYYY-MM-DD, sorts as text).
CREATE TABLE action_items (
    id          TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    incident_id TEXT   COLLATE "C" NOT NULL REFERENCES incidents (id),
    title       TEXT   NOT NULL,
    owner       TEXT   NOT NULL CHECK (owner <> ''),
    due         TEXT   COLLATE "C" NOT NULL,
    priority    TEXT   NOT NULL CHECK (priority IN ('P1', 'P2', 'P3')),
    status      TEXT   NOT NULL CHECK (status IN ('open', 'done', 'wont_do')),
    created_ms  BIGINT NOT NULL,
    closed_ms   BIGINT,
    updated_ms  BIGINT NOT NULL
);

CREATE INDEX action_items_by_due ON action_items (due, id);
CREATE INDEX action_items_by_incident ON action_items (incident_id, due, id);
