-- portableq migration 9: the registry of known queues (every queue that has ever had a job or a
-- policy), so the Prometheus series of a drained queue survive restarts and archiving.
-- compatible_with: 3
-- (A new table: binaries that know migration 3 and later work as before; queues they create are
-- registered by the next scrape that sees them, see ClusterFigures.)
CREATE TABLE queues (
    queue TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO queues (queue)
    SELECT queue FROM jobs
    UNION SELECT queue FROM jobs_archive
    UNION SELECT queue FROM queue_policies;
