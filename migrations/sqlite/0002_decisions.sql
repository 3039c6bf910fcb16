-- portableq migration 2: guardrail and policy decisions, enqueue-rate buckets.
-- compatible_with: 1
-- (A binary that knows only migration 1 never touches these tables, so it keeps working.)

CREATE TABLE ingest_decisions (
    queue        TEXT NOT NULL,
    reason_code  TEXT NOT NULL,
    minute       INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    last_message TEXT,
    PRIMARY KEY (queue, reason_code, minute)
) WITHOUT ROWID;
CREATE INDEX ingest_decisions_minute_idx ON ingest_decisions (minute);

CREATE TABLE policy_decisions (
    queue        TEXT NOT NULL,
    reason_code  TEXT NOT NULL,
    minute       INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    last_message TEXT,
    PRIMARY KEY (queue, reason_code, minute)
) WITHOUT ROWID;
CREATE INDEX policy_decisions_minute_idx ON policy_decisions (minute);

CREATE TABLE enqueue_rate (
    queue  TEXT NOT NULL,
    second INTEGER NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (queue, second)
) WITHOUT ROWID;
