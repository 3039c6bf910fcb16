-- portableq migration 4: workflows (DAGs of steps).
-- compatible_with: 3
-- (Binaries that know migration 3 never touch these tables, and step jobs are ordinary jobs to them.)

-- A flow definition, versioned: redefining a flow with other steps adds a version; runs keep theirs.
CREATE TABLE flows (
    slug       text NOT NULL,
    version    integer NOT NULL,
    definition json NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (slug, version)
);

CREATE TABLE flow_runs (
    id           uuid PRIMARY KEY,
    flow_slug    text NOT NULL,
    flow_version integer NOT NULL,
    status       text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
    input        json NOT NULL,
    created_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    failed_step  text
);
CREATE INDEX flow_runs_slug_idx ON flow_runs (flow_slug, id DESC);

-- One row per step of a run. A step's job is made in the transaction that acks its last
-- dependency (remaining_deps reaching 0); its output is kept here for its dependents.
CREATE TABLE run_steps (
    run_id         uuid NOT NULL,
    step_slug      text NOT NULL,
    status         text NOT NULL CHECK (status IN ('waiting', 'queued', 'succeeded', 'failed', 'skipped', 'cancelled')),
    remaining_deps integer NOT NULL,
    job_id         uuid,
    output         json,
    finished_at    timestamptz,
    PRIMARY KEY (run_id, step_slug)
);

CREATE INDEX jobs_run_idx ON jobs (run_id) WHERE run_id IS NOT NULL;
