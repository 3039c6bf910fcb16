-- portableq migration 4: workflows (DAGs of steps).
-- compatible_with: 3
-- (Binaries that know migration 3 never touch these tables, and step jobs are ordinary jobs to them.)

CREATE TABLE flows (
    slug       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (slug, version)
) WITHOUT ROWID;

CREATE TABLE flow_runs (
    id           TEXT PRIMARY KEY NOT NULL,
    flow_slug    TEXT NOT NULL,
    flow_version INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
    input        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    failed_step  TEXT
);
CREATE INDEX flow_runs_slug_idx ON flow_runs (flow_slug, id DESC);

CREATE TABLE run_steps (
    run_id         TEXT NOT NULL,
    step_slug      TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('waiting', 'queued', 'succeeded', 'failed', 'skipped', 'cancelled')),
    remaining_deps INTEGER NOT NULL,
    job_id         TEXT,
    output         TEXT,
    finished_at    INTEGER,
    PRIMARY KEY (run_id, step_slug)
) WITHOUT ROWID;

CREATE INDEX jobs_run_idx ON jobs (run_id) WHERE run_id IS NOT NULL;
