-- portableq migration 9: the registry of known queues (every queue that has ever had a job or a
-- policy), so the Prometheus series of a drained queue survive restarts and archiving.
-- compatible_with: 3
-- (A new table: binaries that know migration 3 and later work as before; queues they create are
-- registered by the next scrape that sees them, see ClusterFigures.)
CREATE TABLE queues (
    queue text PRIMARY KEY
);
INSERT INTO queues (queue)
    SELECT queue FROM jobs
    UNION SELECT queue FROM jobs_archive
    UNION SELECT queue FROM queue_policies
ON CONFLICT DO NOTHING;

-- Enqueues from other clients register their queue too (the rest is migration 1's function).
CREATE OR REPLACE FUNCTION enqueue(
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
    INSERT INTO queues AS q (queue) VALUES (queue) ON CONFLICT DO NOTHING;
    INSERT INTO jobs AS j (id, queue, job_type, payload, priority, run_at, status, max_attempts,
                           timeout_seconds, idempotency_key, created_at)
    VALUES (new_id, queue, job_type, coalesce(payload, 'null'::json), coalesce(priority, 0),
            coalesce(run_at, now() + coalesce(delay_seconds, 0) * interval '1 second'), 'queued',
            max_attempts, timeout_seconds, idempotency_key, now());
    PERFORM pg_notify(current_schema() || '_jobs', queue);
    RETURN new_id;
END
$$;
