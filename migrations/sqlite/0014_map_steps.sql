-- portableq migration 14: map steps (issue 16 §1): a step that fans out into one job per element.
-- compatible_with: 14
-- (An older binary would ack an element job as if it were its step's job and end the step with
-- one element's output, so binaries must know this migration.)

-- A map step's progress: how many elements it fanned out into, how many have succeeded (the
-- last one assembles the output), and the code a step failed with when no job of its own failed
-- (MAP_NOT_ARRAY, MAP_TOO_LARGE, MAP_OUTPUT_TOO_LARGE, PAYLOAD_TOO_LARGE).
ALTER TABLE run_steps ADD COLUMN map_total INTEGER;
ALTER TABLE run_steps ADD COLUMN map_done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_steps ADD COLUMN error_code TEXT;

-- The link from a map step to its element jobs: the element's index (its place in the output)
-- and, once it succeeded, its output. Keyed by job so an ack finds its element in one read; the
-- step's elements are read once, in index order, when the last one succeeds.
CREATE TABLE run_elements (
    job_id    TEXT PRIMARY KEY NOT NULL,
    run_id    TEXT NOT NULL,
    step_slug TEXT NOT NULL,
    idx       INTEGER NOT NULL,
    output    TEXT
) WITHOUT ROWID;
CREATE UNIQUE INDEX run_elements_step_idx ON run_elements (run_id, step_slug, idx);

-- Runs finished recently, newest first: the run-duration figures of GET /metrics read a bounded
-- window of them (portableq metrics, the flow_run series).
CREATE INDEX flow_runs_finished_idx ON flow_runs (finished_at) WHERE finished_at IS NOT NULL;
