-- Pull states: how far each pulled SLO's counts reach. Every bucket before pulled_until has been
-- pulled; a pull commit adds its counts and moves pulled_until in one transaction, only from the
-- watermark it started at (a conditional UPDATE, or an INSERT that does nothing on conflict for
-- the first), so a bucket is never counted twice.
CREATE TABLE pull_states (
    slo_id        TEXT   NOT NULL PRIMARY KEY,
    pulled_until  BIGINT NOT NULL,
    backfill_from BIGINT NOT NULL,
    updated_ms    BIGINT NOT NULL,
    CHECK (backfill_from <= pulled_until)
);
