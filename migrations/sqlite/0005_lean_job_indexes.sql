-- portableq migration 5: leaner job indexes.
-- compatible_with: 3
-- (Only indexes change: binaries that know migrations 3 and 4 work as before.)
--
-- jobs_status_idx (status, id) took an entry removed and one added at every status change —
-- three times in each job's life. Lists now use partial indexes that a job enters and leaves
-- once: queued (enqueue → claim), and the rarer dlq and cancelled. Succeeded jobs are listed
-- newest first by walking the primary key; running ones through jobs_lease_idx.
DROP INDEX jobs_status_idx;
CREATE INDEX jobs_queued_idx ON jobs (id) WHERE status = 'queued';
CREATE INDEX jobs_dlq_idx ON jobs (id) WHERE status = 'dlq';
CREATE INDEX jobs_cancelled_idx ON jobs (id) WHERE status = 'cancelled';
