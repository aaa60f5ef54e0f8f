-- On-call: alerts from every source, the pages they join, silences, heartbeats, settings, and
-- events that name a page. Labels, annotations and matchers are JSON text the store does not
-- parse (`json` columns: checked, kept verbatim, like event payloads).

ALTER TABLE events ADD COLUMN page_id TEXT;

CREATE INDEX events_by_page ON events (page_id, id) WHERE page_id IS NOT NULL;

-- Pages: the unit that escalates and is acknowledged. version counts writes (compare and set).
CREATE TABLE pages (
    id              TEXT   NOT NULL PRIMARY KEY,
    group_key       TEXT   NOT NULL,
    status          TEXT   NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
    policy          TEXT   NOT NULL,
    step            BIGINT NOT NULL CHECK (step >= 0),
    round           BIGINT NOT NULL CHECK (round >= 0),
    next_at_ms      BIGINT,
    summary         TEXT   NOT NULL,
    severity        TEXT   NOT NULL,
    service         TEXT,
    labels          JSON   NOT NULL,
    runbook         TEXT,
    created_ms      BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL,
    acknowledged_by TEXT,
    acknowledged_ms BIGINT,
    resolved_by     TEXT,
    resolved_ms     BIGINT,
    version         BIGINT NOT NULL CHECK (version >= 1)
);

-- At most one page per group key is not resolved: alerts of one group join one open page.
CREATE UNIQUE INDEX pages_open_group ON pages (group_key) WHERE status <> 'resolved';
-- The escalation timers to fire.
CREATE INDEX pages_due ON pages (next_at_ms, id) WHERE status = 'triggered';
CREATE INDEX pages_by_created ON pages (created_ms, id);

-- Alerts from every source by fingerprint, and the page each joined.
CREATE TABLE alerts (
    fingerprint TEXT   NOT NULL PRIMARY KEY,
    source      TEXT   NOT NULL,
    status      TEXT   NOT NULL CHECK (status IN ('firing', 'resolved')),
    summary     TEXT   NOT NULL,
    severity    TEXT   NOT NULL,
    labels      JSON   NOT NULL,
    annotations JSON   NOT NULL,
    starts_ms   BIGINT NOT NULL,
    ends_ms     BIGINT,
    updated_ms  BIGINT NOT NULL,
    page_id     TEXT,
    muted_by    TEXT
);

CREATE INDEX alerts_by_page ON alerts (page_id, starts_ms) WHERE page_id IS NOT NULL;
CREATE INDEX alerts_firing ON alerts (starts_ms) WHERE status = 'firing';

-- Silences: alerts their matchers match are muted while starts_ms <= t < ends_ms.
CREATE TABLE silences (
    id         TEXT   NOT NULL PRIMARY KEY,
    matchers   JSON   NOT NULL,
    starts_ms  BIGINT NOT NULL,
    ends_ms    BIGINT NOT NULL,
    created_by TEXT   NOT NULL,
    comment    TEXT   NOT NULL,
    created_ms BIGINT NOT NULL,
    CHECK (starts_ms <= ends_ms)
);

-- The last beat of each heartbeat monitor.
CREATE TABLE heartbeats (
    id      TEXT   NOT NULL PRIMARY KEY,
    last_ms BIGINT NOT NULL
);

-- Small values the server keeps (for example a key made once at first start).
CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
