-- Pull states: how far each pulled SLO's counts reach. Every bucket before pulled_until has been
-- pulled; a pull commit adds its counts and moves pulled_until in one transaction, only from the
-- watermark it started at, so a bucket is never counted twice.
CREATE TABLE pull_states (
    slo_id        TEXT    NOT NULL PRIMARY KEY,
    pulled_until  INTEGER NOT NULL,
    backfill_from INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL,
    CHECK (backfill_from <= pulled_until)
) STRICT;
