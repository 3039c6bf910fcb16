-- portableq migration 1: jobs, attempts, history, idempotency keys, job types, workers.
-- compatible_with: 1
-- Times are integer milliseconds since the Unix epoch; ids are UUID text; JSON is text.

CREATE TABLE jobs (
    id                 TEXT PRIMARY KEY NOT NULL,
    queue              TEXT NOT NULL,
    job_type           TEXT NOT NULL,
    payload            TEXT NOT NULL,
    priority           INTEGER NOT NULL DEFAULT 0,
    run_at             INTEGER NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'dlq', 'cancelled')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    attempt_base       INTEGER NOT NULL DEFAULT 0,
    max_attempts       INTEGER CHECK (max_attempts >= 1),
    timeout_seconds    INTEGER CHECK (timeout_seconds >= 1),
    backoff_base_ms    INTEGER,
    idempotency_key    TEXT,
    replay_of          TEXT,
    output             TEXT,
    last_error_code    TEXT,
    last_error_message TEXT,
    dlq_reason_code    TEXT,
    lease_token        TEXT,
    lease_expires_at   INTEGER,
    worker_id          TEXT,
    created_at         INTEGER NOT NULL,
    started_at         INTEGER,
    finished_at        INTEGER,
    run_id             TEXT,
    step_slug          TEXT,
    wait_ms            INTEGER
);

-- The claim: due jobs of a queue in priority, run_at, id order; partial, so history stays out.
CREATE INDEX jobs_claim_idx ON jobs (queue, priority DESC, run_at, id) WHERE status = 'queued';
-- The reaper: expired leases.
CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE status = 'running';
-- Lists by status, newest first.
CREATE INDEX jobs_status_idx ON jobs (status, id DESC);
CREATE INDEX jobs_replay_of_idx ON jobs (replay_of) WHERE replay_of IS NOT NULL;

CREATE TABLE jobs_archive (
    id                 TEXT PRIMARY KEY NOT NULL,
    queue              TEXT NOT NULL,
    job_type           TEXT NOT NULL,
    payload            TEXT NOT NULL,
    priority           INTEGER NOT NULL DEFAULT 0,
    run_at             INTEGER NOT NULL,
    status             TEXT NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    attempt_base       INTEGER NOT NULL DEFAULT 0,
    max_attempts       INTEGER,
    timeout_seconds    INTEGER,
    backoff_base_ms    INTEGER,
    idempotency_key    TEXT,
    replay_of          TEXT,
    output             TEXT,
    last_error_code    TEXT,
    last_error_message TEXT,
    dlq_reason_code    TEXT,
    lease_token        TEXT,
    lease_expires_at   INTEGER,
    worker_id          TEXT,
    created_at         INTEGER NOT NULL,
    started_at         INTEGER,
    finished_at        INTEGER,
    run_id             TEXT,
    step_slug          TEXT,
    wait_ms            INTEGER,
    archived_at        INTEGER NOT NULL
);
CREATE INDEX jobs_archive_archived_at_idx ON jobs_archive (archived_at);
CREATE INDEX jobs_archive_replay_of_idx ON jobs_archive (replay_of) WHERE replay_of IS NOT NULL;

CREATE TABLE attempts (
    job_id          TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    queue           TEXT NOT NULL,
    lease_token     TEXT NOT NULL,
    worker_id       TEXT,
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER NOT NULL,
    outcome         TEXT NOT NULL,
    error_code      TEXT,
    error_message   TEXT,
    decision        TEXT,
    retry_at        INTEGER,
    dlq_reason_code TEXT,
    wait_ms         INTEGER,
    PRIMARY KEY (job_id, attempt)
) WITHOUT ROWID;
CREATE INDEX attempts_finished_idx ON attempts (finished_at);

CREATE TABLE job_events (
    job_id        TEXT NOT NULL,
    at            INTEGER NOT NULL,
    type          TEXT NOT NULL,
    message       TEXT,
    after_attempt INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX job_events_job_idx ON job_events (job_id);

CREATE TABLE job_keys (
    queue           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    job_id          TEXT NOT NULL,
    PRIMARY KEY (queue, idempotency_key)
) WITHOUT ROWID;
CREATE INDEX job_keys_job_idx ON job_keys (job_id);

CREATE TABLE job_types (
    job_type        TEXT PRIMARY KEY NOT NULL,
    max_attempts    INTEGER,
    timeout_seconds INTEGER,
    backoff_base_ms INTEGER,
    backoff_max_ms  INTEGER,
    concurrency     INTEGER,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE workers (
    id                TEXT PRIMARY KEY NOT NULL,
    host              TEXT NOT NULL,
    pid               INTEGER NOT NULL,
    queues            TEXT,
    job_types         TEXT,
    concurrency       INTEGER NOT NULL,
    lease_seconds     REAL NOT NULL,
    started_at        INTEGER NOT NULL,
    last_heartbeat_at INTEGER NOT NULL
);
