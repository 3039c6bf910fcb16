-- portableq migration 11: processed and failed totals per queue and hour, rolled up by the
-- maintenance leader from attempts (never counted on the ack path), and the rollup's watermark.
-- compatible_with: 3
-- (New tables only: binaries that know migration 3 and later work as before.)
CREATE TABLE queue_totals (
    queue     TEXT NOT NULL,
    hour      INTEGER NOT NULL,
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed    INTEGER NOT NULL DEFAULT 0,
    retried   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (queue, hour)
) WITHOUT ROWID;
-- History of every queue since a time, and the expiry of old hours.
CREATE INDEX queue_totals_hour_idx ON queue_totals (hour);
-- Attempts that finished before through_at are in queue_totals; NULL: nothing rolled up yet.
CREATE TABLE rollup_marks (
    name       TEXT PRIMARY KEY NOT NULL,
    through_at INTEGER
) WITHOUT ROWID;
INSERT INTO rollup_marks (name, through_at) VALUES ('queue_totals', NULL);
