-- portableq migration 2: guardrail and policy decisions, enqueue-rate buckets.
-- compatible_with: 1
-- (A binary that knows only migration 1 never touches these tables, so it keeps working.)

-- Refused enqueues (PAYLOAD_TOO_LARGE, ENQUEUE_RATE_EXCEEDED), aggregated per queue, reason and
-- minute: a flood of refusals is a counter, never a row per request.
CREATE TABLE ingest_decisions (
    queue        text NOT NULL,
    reason_code  text NOT NULL,
    minute       timestamptz NOT NULL,
    count        bigint NOT NULL,
    last_message text,
    PRIMARY KEY (queue, reason_code, minute)
);
CREATE INDEX ingest_decisions_minute_idx ON ingest_decisions (minute);

-- Throttling by queue policies (QUEUE_PAUSED, QUEUE_AT_CONCURRENCY_LIMIT, QUEUE_RATE_LIMITED),
-- aggregated the same way: never one row per poll.
CREATE TABLE policy_decisions (
    queue        text NOT NULL,
    reason_code  text NOT NULL,
    minute       timestamptz NOT NULL,
    count        bigint NOT NULL,
    last_message text,
    PRIMARY KEY (queue, reason_code, minute)
);
CREATE INDEX policy_decisions_minute_idx ON policy_decisions (minute);

-- MAX_ENQUEUE_PER_MINUTE: enqueues per queue per second, summed over the last 60 s, so the
-- limit is shared by every process. Written only when the limit is set.
CREATE TABLE enqueue_rate (
    queue  text NOT NULL,
    second timestamptz NOT NULL,
    count  bigint NOT NULL,
    PRIMARY KEY (queue, second)
);
