-- The nines schema for PostgreSQL. The same tables as migrations/sqlite; payloads are `json`
-- (validated, kept verbatim, unlike jsonb which rewrites the text).

-- Known SLOs by stable id; first_seen_ms is kept on later upserts.
CREATE TABLE slos (
    id            TEXT   NOT NULL PRIMARY KEY,
    name          TEXT   NOT NULL,
    service       TEXT   NOT NULL,
    first_seen_ms BIGINT NOT NULL
);

-- Counts per SLO and bucket: one-minute rows from intake, coarser rows from compaction.
CREATE TABLE counts (
    slo_id         TEXT   NOT NULL,
    minute         BIGINT NOT NULL,
    bucket_minutes BIGINT NOT NULL CHECK (bucket_minutes >= 1),
    counted        BIGINT NOT NULL,
    total          BIGINT NOT NULL,
    PRIMARY KEY (slo_id, minute, bucket_minutes)
);

-- Compaction and retention select by bucket start across all SLOs.
CREATE INDEX counts_by_minute ON counts (minute);

-- The last sample of each pushed counter series.
CREATE TABLE series_states (
    series_key        TEXT             NOT NULL PRIMARY KEY,
    last_value        DOUBLE PRECISION NOT NULL,
    last_timestamp_ms BIGINT           NOT NULL
);

-- The current state of each alert of each SLO.
CREATE TABLE alert_states (
    slo_id   TEXT   NOT NULL,
    kind     TEXT   NOT NULL,
    state    TEXT   NOT NULL,
    severity TEXT   NOT NULL,
    since_ms BIGINT NOT NULL,
    PRIMARY KEY (slo_id, kind)
);

-- The append-only event log. Appends take a transaction-scoped advisory lock, so ids become
-- visible in order and a reader paging by id never skips one.
CREATE TABLE events (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms   BIGINT NOT NULL,
    kind    TEXT   NOT NULL,
    slo_id  TEXT,
    actor   TEXT   NOT NULL,
    payload JSON   NOT NULL
);

CREATE INDEX events_by_slo ON events (slo_id, id);

-- Notifications to deliver at least once; the idempotency key is unique.
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key TEXT   NOT NULL UNIQUE,
    channel         TEXT   NOT NULL,
    payload         JSON   NOT NULL,
    created_ms      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    delivered_ms    BIGINT,
    last_error      TEXT
);

CREATE INDEX outbox_pending ON outbox (next_attempt_ms) WHERE delivered_ms IS NULL;

-- Budget history: one point per SLO and instant (recording it again replaces it).
CREATE TABLE snapshots (
    slo_id          TEXT             NOT NULL,
    at_ms           BIGINT           NOT NULL,
    remaining_share DOUBLE PRECISION NOT NULL,
    sli             DOUBLE PRECISION,
    bad             BIGINT           NOT NULL,
    total           BIGINT           NOT NULL,
    burn_rate_1h    DOUBLE PRECISION,
    PRIMARY KEY (slo_id, at_ms)
);
