-- portableq migration 11: processed and failed totals per queue and hour, rolled up by the
-- maintenance leader from attempts (never counted on the ack path), and the rollup's watermark.
-- compatible_with: 3
-- (New tables only: binaries that know migration 3 and later work as before.)
CREATE TABLE queue_totals (
    queue     text NOT NULL,
    hour      timestamptz NOT NULL,
    succeeded bigint NOT NULL DEFAULT 0,
    failed    bigint NOT NULL DEFAULT 0,
    retried   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (queue, hour)
);
-- History of every queue since a time, and the expiry of old hours.
CREATE INDEX queue_totals_hour_idx ON queue_totals (hour);
-- Attempts that finished before through_at are in queue_totals; NULL: nothing rolled up yet.
CREATE TABLE rollup_marks (
    name       text PRIMARY KEY,
    through_at timestamptz
);
INSERT INTO rollup_marks (name, through_at) VALUES ('queue_totals', NULL);
