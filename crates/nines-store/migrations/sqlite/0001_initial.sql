-- The nines schema for SQLite. STRICT tables: a value of the wrong type is an error, never
-- silently converted (an i64 sum that overflows to REAL fails instead of being stored).

-- Known SLOs by stable id; first_seen_ms is kept on later upserts.
CREATE TABLE slos (
    id            TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL,
    service       TEXT    NOT NULL,
    first_seen_ms INTEGER NOT NULL
) STRICT;

-- Counts per SLO and bucket: one-minute rows from intake, coarser rows from compaction.
CREATE TABLE counts (
    slo_id         TEXT    NOT NULL,
    minute         INTEGER NOT NULL,
    bucket_minutes INTEGER NOT NULL CHECK (bucket_minutes >= 1),
    counted        INTEGER NOT NULL,
    total          INTEGER NOT NULL,
    PRIMARY KEY (slo_id, minute, bucket_minutes)
) STRICT, WITHOUT ROWID;

-- Compaction and retention select by bucket start across all SLOs.
CREATE INDEX counts_by_minute ON counts (minute);

-- The last sample of each pushed counter series.
CREATE TABLE series_states (
    series_key        TEXT    NOT NULL PRIMARY KEY,
    last_value        REAL    NOT NULL,
    last_timestamp_ms INTEGER NOT NULL
) STRICT;

-- The current state of each alert of each SLO.
CREATE TABLE alert_states (
    slo_id   TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    state    TEXT    NOT NULL,
    severity TEXT    NOT NULL,
    since_ms INTEGER NOT NULL,
    PRIMARY KEY (slo_id, kind)
) STRICT;

-- The append-only event log. AUTOINCREMENT: an id is never handed out twice.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms   INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    slo_id  TEXT,
    actor   TEXT    NOT NULL,
    payload TEXT    NOT NULL CHECK (json_valid(payload))
) STRICT;

CREATE INDEX events_by_slo ON events (slo_id, id);

-- Notifications to deliver at least once; the idempotency key is unique.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT    NOT NULL UNIQUE,
    channel         TEXT    NOT NULL,
    payload         TEXT    NOT NULL CHECK (json_valid(payload)),
    created_ms      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    delivered_ms    INTEGER,
    last_error      TEXT
) STRICT;

CREATE INDEX outbox_pending ON outbox (next_attempt_ms) WHERE delivered_ms IS NULL;

-- Budget history: one point per SLO and instant (recording it again replaces it).
CREATE TABLE snapshots (
    slo_id          TEXT    NOT NULL,
    at_ms           INTEGER NOT NULL,
    remaining_share REAL    NOT NULL,
    sli             REAL,
    bad             INTEGER NOT NULL,
    total           INTEGER NOT NULL,
    burn_rate_1h    REAL,
    PRIMARY KEY (slo_id, at_ms)
) STRICT;
