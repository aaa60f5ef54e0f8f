-- On-call: alerts from every source, the pages they join, silences, heartbeats, settings, and
-- events that name a page. Labels, annotations and matchers are JSON text the store does not
-- parse (checked to be JSON, like event payloads).

ALTER TABLE events ADD COLUMN page_id TEXT;

CREATE INDEX events_by_page ON events (page_id, id) WHERE page_id IS NOT NULL;

-- Pages: the unit that escalates and is acknowledged. version counts writes (compare and set).
CREATE TABLE pages (
    id              TEXT    NOT NULL PRIMARY KEY,
    group_key       TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
    policy          TEXT    NOT NULL,
    step            INTEGER NOT NULL CHECK (step >= 0),
    round           INTEGER NOT NULL CHECK (round >= 0),
    next_at_ms      INTEGER,
    summary         TEXT    NOT NULL,
    severity        TEXT    NOT NULL,
    service         TEXT,
    labels          TEXT    NOT NULL CHECK (json_valid(labels)),
    runbook         TEXT,
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    acknowledged_by TEXT,
    acknowledged_ms INTEGER,
    resolved_by     TEXT,
    resolved_ms     INTEGER,
    version         INTEGER NOT NULL CHECK (version >= 1)
) STRICT;

-- At most one page per group key is not resolved: alerts of one group join one open page.
CREATE UNIQUE INDEX pages_open_group ON pages (group_key) WHERE status <> 'resolved';
-- The escalation timers to fire.
CREATE INDEX pages_due ON pages (next_at_ms, id) WHERE status = 'triggered';
CREATE INDEX pages_by_created ON pages (created_ms, id);

-- Alerts from every source by fingerprint, and the page each joined.
CREATE TABLE alerts (
    fingerprint TEXT    NOT NULL PRIMARY KEY,
    source      TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
    summary     TEXT    NOT NULL,
    severity    TEXT    NOT NULL,
    labels      TEXT    NOT NULL CHECK (json_valid(labels)),
    annotations TEXT    NOT NULL CHECK (json_valid(annotations)),
    starts_ms   INTEGER NOT NULL,
    ends_ms     INTEGER,
    updated_ms  INTEGER NOT NULL,
    page_id     TEXT,
    muted_by    TEXT
) STRICT;

CREATE INDEX alerts_by_page ON alerts (page_id, starts_ms) WHERE page_id IS NOT NULL;
CREATE INDEX alerts_firing ON alerts (starts_ms) WHERE status = 'firing';

-- Silences: alerts their matchers match are muted while starts_ms <= t < ends_ms.
CREATE TABLE silences (
    id         TEXT    NOT NULL PRIMARY KEY,
    matchers   TEXT    NOT NULL CHECK (json_valid(matchers)),
    starts_ms  INTEGER NOT NULL,
    ends_ms    INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    comment    TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    CHECK (starts_ms <= ends_ms)
) STRICT;

-- The last beat of each heartbeat monitor.
CREATE TABLE heartbeats (
    id      TEXT    NOT NULL PRIMARY KEY,
    last_ms INTEGER NOT NULL
) STRICT;

-- Small values the server keeps (for example a key made once at first start).
CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
