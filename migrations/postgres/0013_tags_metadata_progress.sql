-- portableq migration 13: tags, metadata and progress on every job (issue 15 §4).
-- compatible_with: 3
-- (New columns with defaults and indexes: binaries that know migrations 3 to 9 insert and read
-- jobs as before; their jobs simply have no tags.)
--
-- tags: up to 16 names from a safe set, checked by the core. The GIN indexes are partial over
-- tagged jobs only, so untagged enqueues never touch them; tag filters repeat the predicate
-- (`tags <> '{}'`) so that even a generic plan can use them. The archive keeps tags.
ALTER TABLE jobs ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
ALTER TABLE jobs ADD COLUMN metadata json NOT NULL DEFAULT '{}';
-- The latest progress update of a running handler (a JSON object) and when it was written.
ALTER TABLE jobs ADD COLUMN progress json;
ALTER TABLE jobs ADD COLUMN progress_at timestamptz;
ALTER TABLE jobs_archive ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
ALTER TABLE jobs_archive ADD COLUMN metadata json NOT NULL DEFAULT '{}';
ALTER TABLE jobs_archive ADD COLUMN progress json;
ALTER TABLE jobs_archive ADD COLUMN progress_at timestamptz;
CREATE INDEX jobs_tags_idx ON jobs USING gin (tags) WHERE tags <> '{}';
CREATE INDEX jobs_archive_tags_idx ON jobs_archive USING gin (tags) WHERE tags <> '{}';

-- enqueue() gains tags and metadata at the end, with defaults, so every existing call (by
-- position or by name) works unchanged. The old signature is dropped first: CREATE OR REPLACE
-- with other parameters would add an overload, and calls would become ambiguous. The whole body
-- is here (a migration cannot patch a PL/pgSQL body): migrations 1, 9 and 12 plus the tag checks.
DROP FUNCTION enqueue(text, text, json, integer, timestamptz, integer, text, integer, double precision, text);
CREATE FUNCTION enqueue(
    queue           text,
    job_type        text,
    payload         json DEFAULT 'null',
    priority        integer DEFAULT 0,
    run_at          timestamptz DEFAULT NULL,
    max_attempts    integer DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    timeout_seconds integer DEFAULT NULL,
    delay_seconds   double precision DEFAULT 0,
    concurrency_key text DEFAULT NULL,
    tags            text[] DEFAULT '{}',
    metadata        json DEFAULT '{}'
) RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
#variable_conflict use_variable
DECLARE
    new_id   uuid := uuidv7();
    existing uuid;
    tag      text;
    clean    text[] := '{}';
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
    -- The same rules as the core's (JobTags): at most 16, each 1 to 64 safe characters; repeats dropped.
    FOREACH tag IN ARRAY coalesce(tags, '{}') LOOP
        IF tag IS NULL OR tag !~ '^[A-Za-z0-9_.:/=-]{1,64}$' THEN
            RAISE EXCEPTION 'INVALID_ARGUMENT: tag % must be 1 to 64 characters from A-Z a-z 0-9 _ . : / = -', tag USING ERRCODE = '22023';
        END IF;
        IF NOT tag = ANY(clean) THEN clean := clean || tag; END IF;
    END LOOP;
    IF cardinality(clean) > 16 THEN
        RAISE EXCEPTION 'INVALID_ARGUMENT: at most 16 tags, got %', cardinality(clean) USING ERRCODE = '22023';
    END IF;
    IF metadata IS NOT NULL AND json_typeof(metadata) <> 'object' THEN
        RAISE EXCEPTION 'INVALID_ARGUMENT: metadata must be a JSON object, not %', json_typeof(metadata) USING ERRCODE = '22023';
    END IF;
    IF octet_length(metadata::text) > 65536 THEN
        RAISE EXCEPTION 'INVALID_ARGUMENT: metadata is % bytes; the limit is 65536', octet_length(metadata::text) USING ERRCODE = '22023';
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
                           timeout_seconds, idempotency_key, created_at, concurrency_key, tags, metadata)
    VALUES (new_id, queue, job_type, coalesce(payload, 'null'::json), coalesce(priority, 0),
            coalesce(run_at, now() + coalesce(delay_seconds, 0) * interval '1 second'), 'queued',
            max_attempts, timeout_seconds, idempotency_key, now(), the_key, clean, coalesce(metadata, '{}'::json));
    PERFORM pg_notify(current_schema() || '_jobs', queue);
    RETURN new_id;
END
$$;
