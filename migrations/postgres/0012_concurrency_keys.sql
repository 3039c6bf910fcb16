-- portableq migration 12: per-key concurrency and rate limits (issue 15 section 2).
-- compatible_with: 3
-- (New nullable columns, a table and indexes: binaries that know migrations 3 to 9 still work,
-- but they neither set keys nor enforce per-key limits, so upgrade every worker of a queue
-- before giving it per-key limits.)
--
-- A job's concurrency_key is given at enqueue or derived then from the queue policy's
-- concurrency_key_from (a top-level payload field), and never changes afterwards.
ALTER TABLE jobs ADD COLUMN concurrency_key text;
ALTER TABLE jobs_archive ADD COLUMN concurrency_key text;
ALTER TABLE queue_policies ADD COLUMN concurrency_key_from text;
ALTER TABLE queue_policies ADD COLUMN max_running_per_key integer CHECK (max_running_per_key >= 0);
ALTER TABLE queue_policies ADD COLUMN max_starts_per_second_per_key double precision
    CHECK (max_starts_per_second_per_key > 0);

-- The keyed claim lists a queue's keys by a loose index scan of this index (one probe per key,
-- never a walk of a key's backlog) and takes each allowed key's first jobs from it. Jobs
-- without a key never enter it.
CREATE INDEX jobs_key_claim_idx ON jobs (queue, concurrency_key, priority DESC, run_at, id)
    WHERE status = 'queued' AND concurrency_key IS NOT NULL;
-- Running jobs per key: the index is kept by every statement that moves a job in or out of
-- running (claim, ack, reaper, cancel, snooze, release, delete), so no path can forget to
-- decrement, and concurrent acks of one key never wait on a shared counter row.
CREATE INDEX jobs_key_running_idx ON jobs (queue, concurrency_key)
    WHERE status = 'running' AND concurrency_key IS NOT NULL;

-- Per-key token buckets (max_starts_per_second_per_key), written by the keyed claim.
CREATE TABLE concurrency_keys (
    queue           text NOT NULL,
    concurrency_key text NOT NULL,
    tokens          double precision NOT NULL,
    tokens_at       timestamptz NOT NULL,
    PRIMARY KEY (queue, concurrency_key)
);

-- enqueue() gains concurrency_key at the end (default NULL), so existing calls keep working.
-- The old signature is dropped first: a second overload would make calls with fewer
-- arguments ambiguous.
DROP FUNCTION enqueue(text, text, json, integer, timestamptz, integer, text, integer, double precision);
CREATE FUNCTION enqueue(
    queue                 text,
    job_type        text,
    payload         json DEFAULT 'null',
    priority        integer DEFAULT 0,
    run_at          timestamptz DEFAULT NULL,
    max_attempts    integer DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    timeout_seconds integer DEFAULT NULL,
    delay_seconds   double precision DEFAULT 0,
    concurrency_key text DEFAULT NULL
) RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
#variable_conflict use_variable
DECLARE
    new_id   uuid := uuidv7();
    existing uuid;
    key_from text;
    the_key  text := concurrency_key;
BEGIN
    IF queue IS NULL OR queue !~ '^[A-Za-z0-9_.:-]{1,128}$' THEN
        RAISE EXCEPTION 'INVALID_ARGUMENT: queue % must match ^[A-Za-z0-9_.:-]{1,128}$', queue USING ERRCODE = '22023';
    END IF;
    IF job_type IS NULL OR job_type !~ '^[A-Za-z0-9_.:-]{1,128}$' THEN
        RAISE EXCEPTION 'INVALID_ARGUMENT: job_type % must match ^[A-Za-z0-9_.:-]{1,128}$', job_type USING ERRCODE = '22023';
    END IF;
    IF the_key IS NOT NULL AND (the_key = '' OR length(the_key) > 255) THEN
        RAISE EXCEPTION 'INVALID_ARGUMENT: concurrency_key must be 1 to 255 characters' USING ERRCODE = '22023';
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
    -- A given key beats one derived from the payload (as the library's insert does).
    IF the_key IS NULL THEN
        SELECT p.concurrency_key_from INTO key_from FROM queue_policies p WHERE p.queue = enqueue.queue;
        IF key_from IS NOT NULL AND json_typeof(payload -> key_from) IN ('string', 'number') THEN
            the_key := left(nullif(payload ->> key_from, ''), 255);
        END IF;
    END IF;
    INSERT INTO queues AS q (queue) VALUES (queue) ON CONFLICT DO NOTHING;
    INSERT INTO jobs AS j (id, queue, job_type, payload, priority, run_at, status, max_attempts,
                           timeout_seconds, idempotency_key, created_at, concurrency_key)
    VALUES (new_id, queue, job_type, coalesce(payload, 'null'::json), coalesce(priority, 0),
            coalesce(run_at, now() + coalesce(delay_seconds, 0) * interval '1 second'), 'queued',
            max_attempts, timeout_seconds, idempotency_key, now(), the_key);
    PERFORM pg_notify(current_schema() || '_jobs', queue);
    RETURN new_id;
END
$$;
