-- portableq migration 7: job control (issue 15): unique jobs by state and period, snooze.
-- compatible_with: 3
-- (Only new nullable columns and an index: binaries that know migrations 3 to 6 work as before.)
--
-- unique_key is computed by the core (SHA-256 of the chosen fields and period slot) and
-- unique_states is the job's own bit mask of statuses (queued 1, running 2, succeeded 4, dlq 8,
-- cancelled 16; UniqueSpec.bit). The index holds a job only while its status is in its mask, so
-- the database refuses a second live holder of a key from any number of producers. Jobs without
-- a key never enter it.
ALTER TABLE jobs ADD COLUMN unique_key TEXT;
ALTER TABLE jobs ADD COLUMN unique_states INTEGER;
CREATE UNIQUE INDEX jobs_unique_idx ON jobs (unique_key)
    WHERE unique_key IS NOT NULL
      AND (unique_states & CASE status WHEN 'queued' THEN 1 WHEN 'running' THEN 2 WHEN 'succeeded' THEN 4
                                       WHEN 'dlq' THEN 8 WHEN 'cancelled' THEN 16 ELSE 0 END) <> 0;

-- Snoozes since enqueue or the last retry (a snooze does not use an attempt; PORTABLEQ_MAX_SNOOZES
-- bounds them). The archive keeps the count with the rest of the row.
ALTER TABLE jobs ADD COLUMN snoozes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs_archive ADD COLUMN snoozes INTEGER NOT NULL DEFAULT 0;
