-- portableq migration 1: jobs, attempts, history, idempotency keys, job types, workers.
-- compatible_with: 1
-- Tables live in the schema named by the URL's `schema=` (default `portableq`): the migrator
-- sets search_path to it before running this file.

-- payload and output are `json`, not `jsonb`: the queue never looks inside them, and `json`
-- keeps the text as given (validated only), which costs less to write and to read back.
CREATE TABLE jobs (
    id                 uuid PRIMARY KEY,
    queue              text NOT NULL,
    job_type           text NOT NULL,
    payload            json NOT NULL,
    priority           integer NOT NULL DEFAULT 0,
    run_at             timestamptz NOT NULL,
    status             text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'dlq', 'cancelled')),
    attempts           integer NOT NULL DEFAULT 0,
    attempt_base       integer NOT NULL DEFAULT 0,
    max_attempts       integer CHECK (max_attempts >= 1),
    timeout_seconds    integer CHECK (timeout_seconds >= 1),
    backoff_base_ms    integer,
    idempotency_key    text,
    replay_of          uuid,
    output             json,
    last_error_code    text,
    last_error_message text,
    dlq_reason_code    text,
    lease_token        uuid,
    lease_expires_at   timestamptz,
    worker_id          text,
    created_at         timestamptz NOT NULL,
    started_at         timestamptz,
    finished_at        timestamptz,
    run_id             uuid,
    step_slug          text,
    -- Milliseconds between run_at and the start of the current attempt (start latency),
    -- set by the claim and copied to the attempt row by the ack.
    wait_ms            integer
);

-- The claim: due jobs of a queue in priority, run_at, id order. Partial, so the succeeded
-- history never enters it.
CREATE INDEX jobs_claim_idx ON jobs (queue, priority DESC, run_at, id) WHERE status = 'queued';
-- The reaper: expired leases.
CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE status = 'running';
-- Lists by status, newest first (ids are UUIDv7, so id order is creation order).
CREATE INDEX jobs_status_idx ON jobs (status, id DESC);
-- "replayed as" is derived by looking up jobs that point to the original.
CREATE INDEX jobs_replay_of_idx ON jobs (replay_of) WHERE replay_of IS NOT NULL;

-- Finished jobs moved out of `jobs` by maintenance; still readable by id.
CREATE TABLE jobs_archive (LIKE jobs INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE jobs_archive ADD COLUMN archived_at timestamptz NOT NULL;
ALTER TABLE jobs_archive ADD PRIMARY KEY (id);
CREATE INDEX jobs_archive_archived_at_idx ON jobs_archive (archived_at);
CREATE INDEX jobs_archive_replay_of_idx ON jobs_archive (replay_of) WHERE replay_of IS NOT NULL;

-- Every attempt (invariant 3), written with the ack. The lease token stays here so a repeated
-- ack can be told apart (`duplicate`) from one that lost its lease.
CREATE TABLE attempts (
    job_id          uuid NOT NULL,
    attempt         integer NOT NULL,
    queue           text NOT NULL,
    lease_token     uuid NOT NULL,
    worker_id       text,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    outcome         text NOT NULL,
    error_code      text,
    error_message   text,
    decision        text,
    retry_at        timestamptz,
    dlq_reason_code text,
    wait_ms         integer,
    PRIMARY KEY (job_id, attempt)
);
-- Metrics read the last minute of attempts.
CREATE INDEX attempts_finished_idx ON attempts (finished_at);

-- Operator actions (retry in place, cancel of a queued job): off the hot path.
CREATE TABLE job_events (
    job_id        uuid NOT NULL,
    at            timestamptz NOT NULL,
    type          text NOT NULL,
    message       text,
    after_attempt integer NOT NULL DEFAULT 0
);
CREATE INDEX job_events_job_idx ON job_events (job_id);

-- Idempotency keys live apart from jobs so a key stays taken while its job is archived.
CREATE TABLE job_keys (
    queue           text NOT NULL,
    idempotency_key text NOT NULL,
    job_id          uuid NOT NULL,
    PRIMARY KEY (queue, idempotency_key)
);
CREATE INDEX job_keys_job_idx ON job_keys (job_id);

-- Per-type policies, recorded by workers when they start.
CREATE TABLE job_types (
    job_type        text PRIMARY KEY,
    max_attempts    integer,
    timeout_seconds integer,
    backoff_base_ms integer,
    backoff_max_ms  integer,
    concurrency     integer,
    updated_at      timestamptz NOT NULL
);

CREATE TABLE workers (
    id                text PRIMARY KEY,
    host              text NOT NULL,
    pid               integer NOT NULL,
    queues            jsonb,
    job_types         jsonb,
    concurrency       integer NOT NULL,
    lease_seconds     double precision NOT NULL,
    started_at        timestamptz NOT NULL,
    last_heartbeat_at timestamptz NOT NULL
);

-- UUIDv7 in SQL, for enqueues made from other clients through enqueue().
CREATE FUNCTION uuidv7() RETURNS uuid
LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    placing substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

-- Transactional enqueue from any client or language: the job exists only if the caller's
-- transaction commits. Returns the job id (the existing one for a repeated idempotency key).
--   SELECT portableq.enqueue('emails', 'send_welcome', '{"user": 42}');
--   SELECT portableq.enqueue('emails', 'send_welcome', '{}', idempotency_key => 'welcome:42');
CREATE FUNCTION enqueue(
    queue           text,
    job_type        text,
    payload         json DEFAULT 'null',
    priority        integer DEFAULT 0,
    run_at          timestamptz DEFAULT NULL,
    max_attempts    integer DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    timeout_seconds integer DEFAULT NULL,
    delay_seconds   double precision DEFAULT 0
) RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
#variable_conflict use_variable
DECLARE
    new_id   uuid := uuidv7();
    existing uuid;
BEGIN
    IF queue IS NULL OR queue !~ '^[A-Za-z0-9_.:-]{1,128}$' THEN
        RAISE EXCEPTION 'INVALID_ARGUMENT: queue % must match ^[A-Za-z0-9_.:-]{1,128}$', queue USING ERRCODE = '22023';
    END IF;
    IF job_type IS NULL OR job_type !~ '^[A-Za-z0-9_.:-]{1,128}$' THEN
        RAISE EXCEPTION 'INVALID_ARGUMENT: job_type % must match ^[A-Za-z0-9_.:-]{1,128}$', job_type USING ERRCODE = '22023';
    END IF;
    IF idempotency_key IS NOT NULL THEN
        INSERT INTO job_keys AS k (queue, idempotency_key, job_id)
        VALUES (queue, idempotency_key, new_id)
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            SELECT k.job_id INTO existing FROM job_keys k
            WHERE k.queue = enqueue.queue AND k.idempotency_key = enqueue.idempotency_key;
            RETURN existing;
        END IF;
    END IF;
    INSERT INTO jobs AS j (id, queue, job_type, payload, priority, run_at, status, max_attempts,
                           timeout_seconds, idempotency_key, created_at)
    VALUES (new_id, queue, job_type, coalesce(payload, 'null'::json), coalesce(priority, 0),
            coalesce(run_at, now() + coalesce(delay_seconds, 0) * interval '1 second'), 'queued',
            max_attempts, timeout_seconds, idempotency_key, now());
    PERFORM pg_notify(current_schema() || '_jobs', queue);
    RETURN new_id;
END
$$;
