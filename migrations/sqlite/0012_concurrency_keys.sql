-- portableq migration 12: per-key concurrency and rate limits (issue 15 section 2).
-- compatible_with: 3
-- (New nullable columns, a table and indexes: binaries that know migrations 3 to 9 still work,
-- but they neither set keys nor enforce per-key limits, so upgrade every worker of a queue
-- before giving it per-key limits.)
--
-- A job's concurrency_key is given at enqueue or derived then from the queue policy's
-- concurrency_key_from (a top-level payload field), and never changes afterwards.
ALTER TABLE jobs ADD COLUMN concurrency_key TEXT;
ALTER TABLE jobs_archive ADD COLUMN concurrency_key TEXT;
ALTER TABLE queue_policies ADD COLUMN concurrency_key_from TEXT;
ALTER TABLE queue_policies ADD COLUMN max_running_per_key INTEGER CHECK (max_running_per_key >= 0);
ALTER TABLE queue_policies ADD COLUMN max_starts_per_second_per_key REAL CHECK (max_starts_per_second_per_key > 0);

-- The keyed claim lists a queue's keys by a loose index scan of this index (one probe per key,
-- never a walk of a key's backlog) and takes each allowed key's first jobs from it.
CREATE INDEX jobs_key_claim_idx ON jobs (queue, concurrency_key, priority DESC, run_at, id)
    WHERE status = 'queued' AND concurrency_key IS NOT NULL;
-- Running jobs per key, kept by every statement that moves a job in or out of running.
CREATE INDEX jobs_key_running_idx ON jobs (queue, concurrency_key)
    WHERE status = 'running' AND concurrency_key IS NOT NULL;

-- Per-key token buckets (max_starts_per_second_per_key), written by the keyed claim.
CREATE TABLE concurrency_keys (
    queue           TEXT NOT NULL,
    concurrency_key TEXT NOT NULL,
    tokens          REAL NOT NULL,
    tokens_at       INTEGER NOT NULL,
    PRIMARY KEY (queue, concurrency_key)
);
