-- portableq migration 8: run events (workflows, second round: issue 16).
-- compatible_with: 5
-- (Binaries that know migration 5 never read these tables.)

-- What happened to a run besides its steps ending: `reopened` when an operator's retry of a
-- step job puts a failed run back to running. Oldest first by (at, seq).
CREATE TABLE run_events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id    TEXT NOT NULL,
    at        INTEGER NOT NULL,
    type      TEXT NOT NULL,
    step_slug TEXT,
    job_id    TEXT,
    message   TEXT
);
CREATE INDEX run_events_run_idx ON run_events (run_id, at);
