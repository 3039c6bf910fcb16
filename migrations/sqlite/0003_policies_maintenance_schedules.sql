-- portableq migration 3: queue policies, leader lease and maintenance runs, recurring jobs.
-- compatible_with: 3
-- Not compatible with older binaries: they would ignore pauses, caps and rate limits that
-- every worker must obey, so they refuse this schema instead of running against it.

CREATE TABLE queue_policies (
    queue                 TEXT PRIMARY KEY NOT NULL,
    paused                INTEGER NOT NULL DEFAULT 0,
    max_running           INTEGER CHECK (max_running >= 0),
    max_starts_per_second REAL CHECK (max_starts_per_second > 0),
    tokens                REAL,
    tokens_at             INTEGER,
    updated_at            INTEGER NOT NULL
);

CREATE TABLE leader_leases (
    name        TEXT PRIMARY KEY NOT NULL,
    holder      TEXT NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE maintenance_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    holder      TEXT NOT NULL,
    task        TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    affected    INTEGER NOT NULL,
    details     TEXT
);
CREATE INDEX maintenance_runs_started_idx ON maintenance_runs (started_at);

CREATE TABLE schedules (
    name            TEXT PRIMARY KEY NOT NULL,
    cron            TEXT NOT NULL,
    queue           TEXT NOT NULL,
    job_type        TEXT NOT NULL,
    payload         TEXT NOT NULL,
    priority        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER,
    timeout_seconds INTEGER,
    last_slot_at    INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

ALTER TABLE jobs_archive ADD COLUMN history_pruned_at INTEGER;
CREATE INDEX jobs_archive_prune_idx ON jobs_archive (archived_at) WHERE history_pruned_at IS NULL;
