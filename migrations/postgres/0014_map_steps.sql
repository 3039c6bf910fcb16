-- portableq migration 14: map steps (issue 16 §1): a step that fans out into one job per element.
-- compatible_with: 14
-- (An older binary would ack an element job as if it were its step's job and end the step with
-- one element's output, so binaries must know this migration.)

-- A map step's progress: how many elements it fanned out into, how many have succeeded (the
-- last one assembles the output, under the run row's lock), and the code a step failed with
-- when no job of its own failed (MAP_NOT_ARRAY, MAP_TOO_LARGE, MAP_OUTPUT_TOO_LARGE, PAYLOAD_TOO_LARGE).
ALTER TABLE run_steps ADD COLUMN map_total integer;
ALTER TABLE run_steps ADD COLUMN map_done integer NOT NULL DEFAULT 0;
ALTER TABLE run_steps ADD COLUMN error_code text;

-- The link from a map step to its element jobs: the element's index (its place in the output)
-- and, once it succeeded, its output. Keyed by job so an ack finds its element in one read; the
-- step's elements are read once, in index order, when the last one succeeds.
CREATE TABLE run_elements (
    job_id    uuid PRIMARY KEY,
    run_id    uuid NOT NULL,
    step_slug text NOT NULL,
    idx       integer NOT NULL,
    output    json
);
CREATE UNIQUE INDEX run_elements_step_idx ON run_elements (run_id, step_slug, idx);

-- start_flow() as in migration 8, and it refuses a flow whose root step is a map step: the
-- fan-out over the run input is decided by the library (FlowEngine), which start_flow does not
-- mirror. Map steps that depend on other steps fan out when their dependencies succeed, so
-- such flows start here as any other.
CREATE OR REPLACE FUNCTION start_flow(
    slug  text,
    input json DEFAULT 'null'
) RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
#variable_conflict use_variable
DECLARE
    def      jsonb;
    ver      integer;
    new_run  uuid := uuidv7();
    new_job  uuid;
    step     jsonb;
    deps     integer;
    body     json := coalesce(input, 'null'::json);
BEGIN
    SELECT f.definition::jsonb, f.version INTO def, ver
    FROM flows f WHERE f.slug = start_flow.slug ORDER BY f.version DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'NOT_FOUND: no flow %', slug USING ERRCODE = 'P0002';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(def -> 'steps') AS s
               WHERE s ? 'map' AND jsonb_array_length(coalesce(s -> 'depends_on', '[]'::jsonb)) = 0) THEN
        RAISE EXCEPTION 'INVALID_ARGUMENT: flow % has a map step over the run input; start it through portableq (HTTP, CLI or the library)', slug
            USING ERRCODE = '22023';
    END IF;
    INSERT INTO flow_runs (id, flow_slug, flow_version, status, input, created_at)
    VALUES (new_run, slug, ver, 'running', body, now());
    FOR step IN SELECT s FROM jsonb_array_elements(def -> 'steps') AS s LOOP
        deps := jsonb_array_length(coalesce(step -> 'depends_on', '[]'::jsonb));
        IF deps > 0 THEN
            INSERT INTO run_steps (run_id, step_slug, status, remaining_deps)
            VALUES (new_run, step ->> 'slug', 'waiting', deps);
            CONTINUE;
        END IF;
        new_job := uuidv7();
        INSERT INTO jobs (id, queue, job_type, payload, priority, run_at, status, max_attempts, timeout_seconds,
                          backoff_base_ms, created_at, run_id, step_slug)
        VALUES (new_job, step ->> 'queue', step ->> 'job_type', ('{"run":' || body::text || '}')::json, 0, now(), 'queued',
                coalesce((step ->> 'max_attempts')::integer, (def ->> 'max_attempts')::integer),
                coalesce((step ->> 'timeout_seconds')::integer, (def ->> 'timeout_seconds')::integer),
                round(coalesce((step ->> 'base_delay_seconds')::numeric, (def ->> 'base_delay_seconds')::numeric) * 1000)::integer,
                now(), new_run, step ->> 'slug');
        INSERT INTO run_steps (run_id, step_slug, status, remaining_deps, job_id)
        VALUES (new_run, step ->> 'slug', 'queued', 0, new_job);
        PERFORM pg_notify(current_schema() || '_jobs', step ->> 'queue');
    END LOOP;
    RETURN new_run;
END
$$;

-- Runs finished recently, newest first: the run-duration figures of GET /metrics read a bounded
-- window of them (portableq metrics, the flow_run series).
CREATE INDEX flow_runs_finished_idx ON flow_runs (finished_at) WHERE finished_at IS NOT NULL;
