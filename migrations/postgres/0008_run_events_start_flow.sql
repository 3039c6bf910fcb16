-- portableq migration 8: run events and start_flow() (workflows, second round: issue 16).
-- compatible_with: 5
-- (Binaries that know migration 5 neither read run_events nor call start_flow.)

-- What happened to a run besides its steps ending: `reopened` when an operator's retry of a
-- step job puts a failed run back to running. Oldest first by (at, seq).
CREATE TABLE run_events (
    seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id    uuid NOT NULL,
    at        timestamptz NOT NULL,
    type      text NOT NULL,
    step_slug text,
    job_id    uuid,
    message   text
);
CREATE INDEX run_events_run_idx ON run_events (run_id, at);

-- Starts a run of a flow's latest version inside the caller's transaction, like enqueue(): the
-- run, its steps and its root steps' jobs exist only if that transaction commits. Returns the
-- run id. Mirrors FlowEngine.start (a root step's payload is {"run": input}; job settings from
-- the step, else the flow); a test compares it with a run started by the library.
--   SELECT portableq.start_flow('order', '{"id": 42}');
CREATE FUNCTION start_flow(
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
