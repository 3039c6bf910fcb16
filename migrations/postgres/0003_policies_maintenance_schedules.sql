-- portableq migration 3: queue policies, leader lease and maintenance runs, recurring jobs.
-- compatible_with: 3
-- Not compatible with older binaries: they would ignore pauses, caps and rate limits that
-- every worker must obey, so they refuse this schema instead of running against it.

-- Per-queue policies, obeyed by every worker: pause, a cluster-wide cap on running jobs, and a
-- start-rate limit as a token bucket (tokens refilled at `max_starts_per_second`, burst
-- max(1, ceil(rate))). `tokens`/`tokens_at` are the bucket's state as of its last use.
CREATE TABLE queue_policies (
    queue                 text PRIMARY KEY,
    paused                boolean NOT NULL DEFAULT false,
    max_running           integer CHECK (max_running >= 0),
    max_starts_per_second double precision CHECK (max_starts_per_second > 0),
    tokens                double precision,
    tokens_at             timestamptz,
    updated_at            timestamptz NOT NULL
);

-- Maintenance runs in every worker, but only the holder of this lease acts.
CREATE TABLE leader_leases (
    name        text PRIMARY KEY,
    holder      text NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- Every maintenance run, with what it did and how long it took.
CREATE TABLE maintenance_runs (
    id          bigserial PRIMARY KEY,
    holder      text NOT NULL,
    task        text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    affected    bigint NOT NULL,
    details     text
);
CREATE INDEX maintenance_runs_started_idx ON maintenance_runs (started_at);

-- Recurring jobs: the leader enqueues each due slot with the idempotency key
-- cron:<name>:<slot time>, so a leader change neither skips nor doubles a run.
CREATE TABLE schedules (
    name            text PRIMARY KEY,
    cron            text NOT NULL,
    queue           text NOT NULL,
    job_type        text NOT NULL,
    payload         json NOT NULL,
    priority        integer NOT NULL DEFAULT 0,
    max_attempts    integer,
    timeout_seconds integer,
    last_slot_at    timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- History of archived jobs is pruned once; this marks the ones done.
ALTER TABLE jobs_archive ADD COLUMN history_pruned_at timestamptz;
CREATE INDEX jobs_archive_prune_idx ON jobs_archive (archived_at) WHERE history_pruned_at IS NULL;
