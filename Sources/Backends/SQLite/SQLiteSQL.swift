/// Every SQLite statement portableq runs, by name. `PostgresSQL` has the same names.
/// Times are integer milliseconds; `now` is always bound by the driver (one machine, one clock).
enum SQLiteSQL {
    static let jobColumns = """
        id, queue, job_type, payload, priority, run_at, status, attempts, attempt_base, max_attempts, \
        timeout_seconds, backoff_base_ms, idempotency_key, replay_of, output, last_error_code, \
        last_error_message, dlq_reason_code, lease_token, lease_expires_at, worker_id, created_at, \
        started_at, finished_at, run_id, step_slug, snoozes, concurrency_key, tags, metadata, progress, progress_at
        """

    // MARK: schema

    static let migrationsTableCreate = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            compatible_with INTEGER NOT NULL,
            applied_at INTEGER NOT NULL)
        """
    static let migrationsTableExists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    static let migrationList = "SELECT version, name, compatible_with, applied_at FROM schema_migrations ORDER BY version"
    static let migrationRecord = "INSERT INTO schema_migrations (version, name, compatible_with, applied_at) VALUES (?1, ?2, ?3, ?4)"

    // MARK: enqueue

    static let keyInsert = "INSERT INTO job_keys (queue, idempotency_key, job_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING"
    static let keyLookup = "SELECT job_id FROM job_keys WHERE queue = ?1 AND idempotency_key = ?2"
    /// The known-queue registry: written once per distinct queue of an insert, read (bounded) by
    /// the cluster series.
    static let queueRegister = "INSERT INTO queues (queue) VALUES (?1) ON CONFLICT DO NOTHING"
    static let queueNameList = "SELECT queue FROM queues ORDER BY queue LIMIT ?1"
    static let jobInsert = """
        INSERT INTO jobs (id, queue, job_type, payload, priority, run_at, status, max_attempts, timeout_seconds,
                          backoff_base_ms, idempotency_key, replay_of, created_at, run_id, step_slug, concurrency_key,
                          tags, metadata)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
        """
    /// A job with a unique key: a live holder of the key (jobs_unique_idx) makes it insert nothing.
    static let jobInsertUnique = """
        INSERT INTO jobs (id, queue, job_type, payload, priority, run_at, status, max_attempts, timeout_seconds,
                          backoff_base_ms, idempotency_key, replay_of, created_at, run_id, step_slug,
                          concurrency_key, tags, metadata, unique_key, unique_states)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
        ON CONFLICT DO NOTHING
        """
    /// A new live job's tags (?2, a JSON array) into job_tags, in the insert's transaction (see
    /// migration 13 for why not a trigger); archiving keeps them, deleting removes them (triggers).
    static let tagInsert = "INSERT OR IGNORE INTO job_tags (tag, job_id) SELECT value, ?1 FROM json_each(?2)"
    /// The queue policy's payload field that keys its jobs, read in the insert's transaction.
    static let keyFrom = "SELECT concurrency_key_from FROM queue_policies WHERE queue = ?1 AND concurrency_key_from IS NOT NULL"
    /// A key derived from payload ?1's field at path ?2: the text of a string or of a number (an
    /// empty string, another type or a missing field: no key), cut to 255 characters; the same
    /// rule as `PostgresSQL.derivedKey`.
    static let derivedKey = """
        SELECT CASE json_type(?1, ?2)
                   WHEN 'text' THEN substr(nullif(?1 ->> ?2, ''), 1, 255)
                   WHEN 'integer' THEN substr(?1 -> ?2, 1, 255)
                   WHEN 'real' THEN substr(?1 -> ?2, 1, 255)
               END
        """
    /// jobs_unique_idx's predicate, spelled the same so lookups use the index.
    static let uniqueLive = """
        unique_key IS NOT NULL
          AND (unique_states & CASE status WHEN 'queued' THEN 1 WHEN 'running' THEN 2 WHEN 'succeeded' THEN 4
                                           WHEN 'dlq' THEN 8 WHEN 'cancelled' THEN 16 ELSE 0 END) <> 0
        """
    static let uniqueOwner = "SELECT id, status FROM jobs WHERE unique_key = ?1 AND \(uniqueLive)"
    static let uniqueOwners = """
        SELECT unique_key, id FROM jobs WHERE unique_key IN (SELECT value FROM json_each(?1)) AND \(uniqueLive)
        """
    /// on_conflict replace: only a match still queued takes the new payload and run_at.
    static let uniqueReplace = "UPDATE jobs SET payload = ?1, run_at = ?2 WHERE id = ?3 AND status = 'queued'"
    /// The key a row took before its job turned out to be a unique duplicate.
    static let keyRelease = "DELETE FROM job_keys WHERE queue = ?1 AND idempotency_key = ?2 AND job_id = ?3"

    // MARK: claim, heartbeat, ack

    /// Queues whose claims go through `jobLeaseRestricted` (paused, capped or rate-limited).
    /// Queues whose claims go through `jobLeaseRestricted` (paused, capped or rate-limited),
    /// checked for the queue named by `queue` (a parameter), once per queue rather than per row.
    static func restrictedQueue(_ queue: String) -> String {
        """
        NOT EXISTS (SELECT 1 FROM queue_policies p WHERE p.queue = \(queue)
                    AND (p.paused = 1 OR p.max_running IS NOT NULL OR p.max_starts_per_second IS NOT NULL
                         OR p.max_running_per_key IS NOT NULL OR p.max_starts_per_second_per_key IS NOT NULL))
        """
    }

    /// ?1 token, ?2 lease expiry, ?3 worker, ?4 now, ?5 limit, ?7 types (JSON array, or NULL),
    /// ?8… one per queue. One queue walks `jobs_claim_idx` in order and stops after ?5 rows.
    /// Several queues walk it once per queue (?5 rows each) and merge those few rows: the index
    /// leads with the queue, so one walk across queues would read and sort the whole backlog on
    /// every claim, holding the write lock meanwhile. (?6 is not used; it keeps the numbering.)
    static func jobLease(queueCount: Int, byType: Bool, unrestrictedOnly: Bool = true) -> String {
        precondition(queueCount >= 1)
        func arm(_ q: String) -> String {
            """
            SELECT id, priority, run_at FROM jobs
                WHERE status = 'queued' AND run_at <= ?4 AND queue = \(q)
                  \(byType ? "AND job_type IN (SELECT value FROM json_each(?7))" : "AND ?7 IS NULL")
                  \(unrestrictedOnly ? "AND " + restrictedQueue(q) : "")
                ORDER BY priority DESC, run_at, id
                LIMIT ?5
            """
        }
        let pick = queueCount == 1
            ? arm("?8")
            : "SELECT id FROM (" + (0..<queueCount).map { "SELECT * FROM (\(arm("?\(8 + $0)")))" }.joined(separator: "\nUNION ALL\n")
                + ")\nORDER BY priority DESC, run_at, id\nLIMIT ?5"
        return """
        UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_token = ?1, lease_expires_at = ?2,
                        worker_id = ?3, started_at = ?4, wait_ms = max(0, ?4 - run_at)
        WHERE id IN (
            SELECT id FROM (\(pick)))
        RETURNING \(jobColumns)
        """
    }

    /// A progress update: only the current lease holder's (same condition as a heartbeat).
    static let jobProgressSet = """
        UPDATE jobs SET progress = ?1, progress_at = ?2 WHERE id = ?3 AND lease_token = ?4 AND status = 'running'
        """
    static let jobLeaseExtend = """
        UPDATE jobs SET lease_expires_at = ?1 WHERE id = ?2 AND lease_token = ?3 AND status = 'running'
        """

    /// ?1 status, ?2 output, ?3 now, ?4 run_at if requeued, ?5 error code, ?6 error message,
    /// ?7 dlq reason, ?8 attempt_base increment, ?9 id, ?10 token.
    static let jobComplete = """
        UPDATE jobs SET
            status = ?1,
            output = CASE WHEN ?1 = 'succeeded' THEN ?2 ELSE output END,
            lease_token = NULL,
            lease_expires_at = NULL,
            finished_at = CASE WHEN ?1 = 'queued' THEN NULL ELSE ?3 END,
            run_at = CASE WHEN ?1 = 'queued' THEN ?4 ELSE run_at END,
            last_error_code = CASE WHEN ?5 IS NULL THEN last_error_code ELSE ?5 END,
            last_error_message = CASE WHEN ?5 IS NULL THEN last_error_message ELSE ?6 END,
            dlq_reason_code = ?7,
            attempt_base = attempt_base + ?8,
            snoozes = snoozes + ?11
        WHERE id = ?9 AND lease_token = ?10 AND status = 'running'
        RETURNING attempts, worker_id, started_at, queue, wait_ms
        """

    static let attemptInsert = """
        INSERT INTO attempts (job_id, attempt, lease_token, worker_id, started_at, finished_at, outcome,
                              error_code, error_message, decision, retry_at, dlq_reason_code, queue, wait_ms)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
        """

    /// Hands a claimed job back as if the claim never happened (no attempt): prefetched jobs at
    /// shutdown or in a paused queue.
    static let jobRelease = """
        UPDATE jobs SET status = 'queued', attempts = attempts - 1, lease_token = NULL, lease_expires_at = NULL,
                        worker_id = NULL, started_at = NULL, wait_ms = NULL
        WHERE id = ?1 AND lease_token = ?2 AND status = 'running'
        """

    static let attemptOutcomeByToken = "SELECT outcome FROM attempts WHERE job_id = ?1 AND lease_token = ?2"

    static let jobLeaseExpiredList = """
        SELECT \(jobColumns) FROM jobs
        WHERE status = 'running' AND lease_expires_at < ?1
        ORDER BY lease_expires_at LIMIT ?2
        """

    // MARK: operator actions

    static func jobRetry(statuses: String) -> String {
        """
        UPDATE jobs SET status = 'queued', attempt_base = attempts, snoozes = 0, run_at = ?2, finished_at = NULL,
                        dlq_reason_code = NULL, lease_token = NULL, lease_expires_at = NULL
        WHERE id = ?1 AND status IN (\(statuses))
        RETURNING attempts
        """
    }

    static let jobCancelQueued = """
        UPDATE jobs SET status = 'cancelled', finished_at = ?2
        WHERE id = ?1 AND status = 'queued'
        RETURNING attempts
        """

    /// ?4, ?5: the error the core decided for a cancelled attempt, kept on the job row.
    static let jobCancelRunning = """
        UPDATE jobs SET status = 'cancelled', finished_at = ?2, lease_token = NULL, lease_expires_at = NULL,
                        last_error_code = ?4, last_error_message = ?5
        WHERE id = ?1 AND status = 'running' AND lease_token = ?3
        RETURNING attempts, worker_id, started_at, queue, wait_ms
        """

    static let eventInsert = "INSERT INTO job_events (job_id, at, type, message, after_attempt) VALUES (?1, ?2, ?3, ?4, ?5)"

    static func jobDelete(statuses: String) -> String {
        "DELETE FROM jobs WHERE id = ?1 AND status IN (\(statuses))"
    }
    static let archiveDelete = "DELETE FROM jobs_archive WHERE id = ?1"
    static let historyDelete = [
        "DELETE FROM attempts WHERE job_id = ?1",
        "DELETE FROM job_events WHERE job_id = ?1",
        "DELETE FROM job_keys WHERE job_id = ?1",
    ]

    // MARK: reads

    static let jobGetMany = """
        SELECT \(jobColumns), NULL FROM jobs WHERE id IN (SELECT value FROM json_each(?1))
        UNION ALL
        SELECT \(jobColumns), archived_at FROM jobs_archive WHERE id IN (SELECT value FROM json_each(?1))
        """

    /// `where` is built from fixed fragments with numbered parameters ?2…?7 and ?10… (?1 is
    /// unused: the status is a literal, so partial indexes apply; ?8 and ?9 are limit and offset).
    static func jobList(archive: Bool, where w: String) -> String {
        archive
            ? "SELECT \(jobColumns), archived_at FROM jobs_archive \(w) ORDER BY id DESC LIMIT ?8 OFFSET ?9"
            : "SELECT \(jobColumns), NULL FROM jobs \(w) ORDER BY id DESC LIMIT ?8 OFFSET ?9"
    }

    /// `jobList` as lists show it: payload and output lengths in bytes first, then the job with
    /// both cut to the characters a preview may need, so a page of big jobs is not read whole.
    static func jobListPreview(archive: Bool, where w: String) -> String {
        let n = JobListItem.wholeUpTo
        let columns = jobColumns.replacingOccurrences(of: "payload,", with: "substr(payload, 1, \(n)),")
            .replacingOccurrences(of: "output,", with: "substr(output, 1, \(n)),")
        let sizes = "length(CAST(payload AS BLOB)), length(CAST(output AS BLOB))"
        return archive
            ? "SELECT \(sizes), \(columns), archived_at FROM jobs_archive \(w) ORDER BY id DESC LIMIT ?8 OFFSET ?9"
            : "SELECT \(sizes), \(columns), NULL FROM jobs \(w) ORDER BY id DESC LIMIT ?8 OFFSET ?9"
    }

    static func jobCount(archive: Bool, where w: String) -> String {
        "SELECT count(*) FROM (SELECT 1 FROM \(archive ? "jobs_archive" : "jobs") \(w) LIMIT ?8)"
    }

    static let attemptList = """
        SELECT job_id, attempt, lease_token, worker_id, started_at, finished_at, outcome, error_code,
               error_message, decision, retry_at, dlq_reason_code
        FROM attempts WHERE job_id = ?1 ORDER BY attempt
        """
    static let eventList = "SELECT job_id, at, type, message, after_attempt FROM job_events WHERE job_id = ?1 ORDER BY at"
    static let replayList = """
        SELECT id, created_at FROM jobs WHERE replay_of = ?1
        UNION ALL SELECT id, created_at FROM jobs_archive WHERE replay_of = ?1
        ORDER BY 2
        """

    // MARK: guardrails and decisions

    static let rateWindow = "SELECT second, count FROM enqueue_rate WHERE queue = ?1 AND second > ?2 ORDER BY second"
    static let rateAdd = """
        INSERT INTO enqueue_rate (queue, second, count) VALUES (?1, ?2, ?3)
        ON CONFLICT (queue, second) DO UPDATE SET count = count + excluded.count
        """
    static let rateTrim = "DELETE FROM enqueue_rate WHERE queue = ?1 AND second <= ?2"

    static func decisionRecord(_ table: String) -> String {
        """
        INSERT INTO \(table) (queue, reason_code, minute, count, last_message) VALUES (?1, ?2, ?3, ?4, ?5)
        ON CONFLICT (queue, reason_code, minute) DO UPDATE SET count = count + excluded.count,
            last_message = coalesce(excluded.last_message, last_message)
        """
    }
    static func decisionList(_ table: String) -> String {
        "SELECT queue, reason_code, minute, count, last_message FROM \(table) ORDER BY minute DESC, queue, reason_code LIMIT ?1 OFFSET ?2"
    }
    static func decisionCount(_ table: String) -> String {
        "SELECT count(*) FROM (SELECT 1 FROM \(table) LIMIT ?1)"
    }

    // MARK: queue policies

    static let policyColumns = """
        queue, paused, max_running, max_starts_per_second, tokens, tokens_at, concurrency_key_from, max_running_per_key, \
        max_starts_per_second_per_key
        """
    static let policyList = "SELECT \(policyColumns) FROM queue_policies ORDER BY queue"
    static let policyGet = "SELECT \(policyColumns) FROM queue_policies WHERE queue = ?1"
    static let policySet = """
        INSERT INTO queue_policies (queue, paused, max_running, max_starts_per_second, updated_at,
                                    concurrency_key_from, max_running_per_key, max_starts_per_second_per_key)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
        ON CONFLICT (queue) DO UPDATE SET paused = excluded.paused, max_running = excluded.max_running,
            max_starts_per_second = excluded.max_starts_per_second, updated_at = excluded.updated_at,
            concurrency_key_from = excluded.concurrency_key_from, max_running_per_key = excluded.max_running_per_key,
            max_starts_per_second_per_key = excluded.max_starts_per_second_per_key,
            tokens = CASE WHEN excluded.max_starts_per_second IS NULL THEN NULL ELSE tokens END,
            tokens_at = CASE WHEN excluded.max_starts_per_second IS NULL THEN NULL ELSE tokens_at END
        """
    static let policyTokens = "UPDATE queue_policies SET tokens = ?2, tokens_at = ?3 WHERE queue = ?1"
    static let queueRunning = "SELECT count(*) FROM jobs WHERE status = 'running' AND queue = ?1"
    static func queueDue(byType: Bool) -> String {
        """
        SELECT count(*) FROM (SELECT 1 FROM jobs WHERE status = 'queued' AND queue = ?1 AND run_at <= ?2
            \(byType ? "AND job_type IN (SELECT value FROM json_each(?4))" : "AND ?4 IS NULL") LIMIT ?3)
        """
    }

    // MARK: concurrency keys

    /// Running jobs of key `k` in queue ?1, read from jobs_key_running_idx (as many rows as run).
    static func keyRunning(_ k: String) -> String {
        """
        (SELECT count(*) FROM jobs r WHERE r.status = 'running' AND r.concurrency_key IS NOT NULL
            AND r.queue = ?1 AND r.concurrency_key = \(k))
        """
    }

    /// The keys of queue ?1 with queued jobs, by a loose index scan of jobs_key_claim_idx (one
    /// probe per key, never a walk of a key's backlog), with each key's state.
    static let keysQueued = """
        WITH RECURSIVE ks(k) AS (
            SELECT (SELECT concurrency_key FROM jobs WHERE status = 'queued' AND concurrency_key IS NOT NULL AND queue = ?1
                    ORDER BY concurrency_key LIMIT 1)
            UNION ALL
            SELECT (SELECT j.concurrency_key FROM jobs j
                    WHERE j.status = 'queued' AND j.concurrency_key IS NOT NULL AND j.queue = ?1 AND j.concurrency_key > ks.k
                    ORDER BY j.concurrency_key LIMIT 1)
            FROM ks WHERE ks.k IS NOT NULL
        )
        SELECT ks.k, \(keyRunning("ks.k")), s.tokens, s.tokens_at
        FROM ks LEFT JOIN concurrency_keys s ON s.queue = ?1 AND s.concurrency_key = ks.k
        WHERE ks.k IS NOT NULL
        """

    /// Key ?2's first due jobs in queue ?1 (?3 now, ?4 how many, ?5 types or NULL).
    static func keyJobs(byType: Bool) -> String {
        """
        SELECT id, concurrency_key, priority, run_at FROM jobs
        WHERE status = 'queued' AND concurrency_key IS NOT NULL AND queue = ?1 AND concurrency_key = ?2 AND run_at <= ?3
          \(byType ? "AND job_type IN (SELECT value FROM json_each(?5))" : "AND ?5 IS NULL")
        ORDER BY priority DESC, run_at, id
        LIMIT ?4
        """
    }

    /// The queue's first ?4 due jobs that have no key (its head only: the keys' jobs are found above).
    static func headWithoutKey(byType: Bool) -> String {
        """
        SELECT id, concurrency_key, priority, run_at FROM (
            SELECT id, concurrency_key, priority, run_at FROM jobs
            WHERE status = 'queued' AND queue = ?1 AND run_at <= ?3
              \(byType ? "AND job_type IN (SELECT value FROM json_each(?5))" : "AND ?5 IS NULL")
            ORDER BY priority DESC, run_at, id
            LIMIT ?4)
        WHERE concurrency_key IS NULL AND ?2 IS NULL
        """
    }

    /// Leases the jobs a keyed claim picked (?5: a JSON array of ids).
    static let jobLeaseIds = """
        UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_token = ?1, lease_expires_at = ?2,
                        worker_id = ?3, started_at = ?4, wait_ms = max(0, ?4 - run_at)
        WHERE id IN (SELECT value FROM json_each(?5)) AND status = 'queued'
        RETURNING \(jobColumns)
        """

    static let keyTokens = """
        INSERT INTO concurrency_keys (queue, concurrency_key, tokens, tokens_at) VALUES (?1, ?2, ?3, ?4)
        ON CONFLICT (queue, concurrency_key) DO UPDATE SET tokens = excluded.tokens, tokens_at = excluded.tokens_at
        """

    /// Key ?2 of queue ?1.
    static let keyGet = """
        SELECT ?2, \(keyRunning("?2")), s.tokens, s.tokens_at
        FROM (SELECT 1) LEFT JOIN concurrency_keys s ON s.queue = ?1 AND s.concurrency_key = ?2
        """

    static let purgeCount = "SELECT count(*) FROM jobs WHERE status = 'queued' AND queue = ?1"
    static let purgeIds = "SELECT id FROM jobs WHERE status = 'queued' AND queue = ?1 LIMIT 1000"
    static let queueAllIds = """
        SELECT id FROM jobs WHERE queue = ?1 UNION ALL SELECT id FROM jobs_archive WHERE queue = ?1 LIMIT 5000
        """

    // MARK: maintenance

    static let leaderAcquire = """
        INSERT INTO leader_leases (name, holder, acquired_at, expires_at) VALUES (?1, ?2, ?3, ?4)
        ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
            acquired_at = CASE WHEN leader_leases.holder = excluded.holder THEN leader_leases.acquired_at ELSE excluded.acquired_at END
        WHERE leader_leases.holder = excluded.holder OR leader_leases.expires_at <= ?3
        """
    static let leaderGet = "SELECT holder, expires_at FROM leader_leases WHERE name = ?1"
    static let leaderRelease = "DELETE FROM leader_leases WHERE name = ?1 AND holder = ?2"
    static let maintenanceInsert = """
        INSERT INTO maintenance_runs (holder, task, started_at, finished_at, affected, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
        """
    static let maintenanceList = """
        SELECT holder, task, started_at, finished_at, affected, details FROM maintenance_runs ORDER BY id DESC LIMIT ?1
        """
    static let archiveCandidates = """
        SELECT id FROM jobs WHERE status = 'succeeded' AND id < ?2 AND finished_at < ?1 ORDER BY id LIMIT ?3
        """
    static let archiveInsert = """
        INSERT INTO jobs_archive (\(jobColumns), wait_ms, archived_at)
        SELECT \(jobColumns), wait_ms, ?2 FROM jobs WHERE id IN (SELECT value FROM json_each(?1))
        """
    static let archiveRemove = "DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(?1))"
    static let archiveExpired = "SELECT id FROM jobs_archive WHERE archived_at < ?1 ORDER BY archived_at LIMIT ?2"
    static let archiveDeleteIds = "DELETE FROM jobs_archive WHERE id IN (SELECT value FROM json_each(?1))"
    static let historyDeleteIds = [
        "DELETE FROM attempts WHERE job_id IN (SELECT value FROM json_each(?1))",
        "DELETE FROM job_events WHERE job_id IN (SELECT value FROM json_each(?1))",
        "DELETE FROM job_keys WHERE job_id IN (SELECT value FROM json_each(?1))",
    ]
    static let pruneCandidates = """
        SELECT id FROM jobs_archive WHERE history_pruned_at IS NULL AND archived_at < ?1 ORDER BY archived_at LIMIT ?2
        """
    static let pruneHistory = [
        "DELETE FROM attempts WHERE job_id IN (SELECT value FROM json_each(?1))",
        "DELETE FROM job_events WHERE job_id IN (SELECT value FROM json_each(?1))",
    ]
    static let pruneMark = "UPDATE jobs_archive SET history_pruned_at = ?2 WHERE id IN (SELECT value FROM json_each(?1))"
    static let expire = [
        "DELETE FROM ingest_decisions WHERE minute < ?1",
        "DELETE FROM policy_decisions WHERE minute < ?1",
        "DELETE FROM maintenance_runs WHERE started_at < ?1",
        "DELETE FROM enqueue_rate WHERE second < ?1",
        "DELETE FROM workers WHERE last_heartbeat_at < ?1",
    ]

    // MARK: totals (QueueTotals: rolled up by the maintenance leader, never on the ack path)

    static let totalsMark = "SELECT through_at FROM rollup_marks WHERE name = 'queue_totals'"
    /// The first rollup starts at the oldest attempt (attempts_finished_idx: one index step).
    static let attemptsEarliest = "SELECT min(finished_at) FROM attempts"
    /// The end of a bounded window: the finished_at of the attempt N after its start (an index walk of N entries).
    static let attemptsNth = "SELECT finished_at FROM attempts WHERE finished_at >= ?1 ORDER BY finished_at LIMIT 1 OFFSET ?2"
    static let totalsCount = "SELECT count(*) FROM attempts WHERE finished_at >= ?1 AND finished_at < ?2"
    /// Adds one window of attempts (a range of attempts_finished_idx) to its (queue, hour) rows.
    /// (The WHERE keeps SQLite from reading ON CONFLICT as a join constraint.)
    static let totalsAdd = """
        INSERT INTO queue_totals (queue, hour, succeeded, failed, retried)
        SELECT queue, (finished_at / 3600000) * 3600000,
               sum(CASE WHEN outcome = 'succeeded' THEN 1 ELSE 0 END),
               sum(CASE WHEN decision = 'dlq' THEN 1 ELSE 0 END),
               sum(CASE WHEN decision = 'retry' THEN 1 ELSE 0 END)
        FROM attempts WHERE finished_at >= ?1 AND finished_at < ?2
        GROUP BY 1, 2
        ON CONFLICT (queue, hour) DO UPDATE SET succeeded = succeeded + excluded.succeeded,
            failed = failed + excluded.failed, retried = retried + excluded.retried
        """
    static let totalsSetMark = """
        INSERT INTO rollup_marks (name, through_at) VALUES ('queue_totals', ?1)
        ON CONFLICT (name) DO UPDATE SET through_at = excluded.through_at
        """
    static let totalsExpire = "DELETE FROM queue_totals WHERE hour < ?1"
    static let totalsColumns = "queue, hour, succeeded, failed, retried"
    /// All queues walk queue_totals_hour_idx; one queue walks the primary key.
    static let totalsList = "SELECT \(totalsColumns) FROM queue_totals WHERE hour >= ?1 ORDER BY hour, queue LIMIT ?2"
    static let totalsListQueue = "SELECT \(totalsColumns) FROM queue_totals WHERE queue = ?3 AND hour >= ?1 ORDER BY hour LIMIT ?2"

    // MARK: schedules

    static let scheduleColumns = "name, cron, queue, job_type, payload, priority, max_attempts, timeout_seconds, last_slot_at, created_at, timezone"
    static let scheduleUpsert = """
        INSERT INTO schedules (name, cron, queue, job_type, payload, priority, max_attempts, timeout_seconds, last_slot_at,
                               created_at, updated_at, timezone)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)
        ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, queue = excluded.queue, job_type = excluded.job_type,
            payload = excluded.payload, priority = excluded.priority, max_attempts = excluded.max_attempts,
            timeout_seconds = excluded.timeout_seconds, updated_at = excluded.updated_at, timezone = excluded.timezone
        """
    static let scheduleDelete = "DELETE FROM schedules WHERE name = ?1"
    static let scheduleList = "SELECT \(scheduleColumns) FROM schedules ORDER BY name"
    static let scheduleAdvance = """
        UPDATE schedules SET last_slot_at = ?2 WHERE name = ?1 AND (last_slot_at IS NULL OR last_slot_at < ?2)
        """

    // MARK: workflows

    static let flowLatest = "SELECT version, created_at, definition FROM flows WHERE slug = ?1 ORDER BY version DESC LIMIT 1"
    static let flowGetVersion = "SELECT version, created_at, definition FROM flows WHERE slug = ?1 AND version = ?2"
    static let flowNextVersion = "SELECT coalesce(max(version), 0) + 1 FROM flows WHERE slug = ?1"
    static let flowInsert = "INSERT INTO flows (slug, version, definition, created_at) VALUES (?1, ?2, ?3, ?4)"
    static let flowListLatest = """
        SELECT f.version, f.created_at, f.definition FROM flows f
        WHERE f.version = (SELECT max(version) FROM flows g WHERE g.slug = f.slug) ORDER BY f.slug
        """
    static let runInsert = """
        INSERT INTO flow_runs (id, flow_slug, flow_version, status, input, created_at, finished_at, failed_step)
        VALUES (?1, ?2, ?3, ?6, ?4, ?5, CASE WHEN ?6 = 'running' THEN NULL ELSE ?5 END, ?7)
        """
    /// A root map step may have fanned out (map_total) or ended at once (output, error_code).
    static let runStepInsert = """
        INSERT INTO run_steps (run_id, step_slug, status, remaining_deps, job_id, output, map_total, error_code, finished_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CASE WHEN ?3 IN ('succeeded', 'failed') THEN ?9 END)
        """
    /// Through flow_runs_finished_idx, newest first, bounded.
    static let runDurations = """
        SELECT flow_slug, finished_at - created_at FROM flow_runs
        WHERE finished_at IS NOT NULL AND finished_at >= ?1 AND status IN ('succeeded', 'failed')
        ORDER BY finished_at DESC LIMIT ?2
        """
    static let runElementInsert = "INSERT INTO run_elements (job_id, run_id, step_slug, idx) VALUES (?1, ?2, ?3, ?4)"
    /// An element job's ack finds its element by the job id (the primary key).
    static let runElementByJob = "SELECT step_slug, idx FROM run_elements WHERE job_id = ?1"
    static let runElementList = "SELECT idx, job_id, output FROM run_elements WHERE run_id = ?1 AND step_slug = ?2"
    static let runElementOutput = "UPDATE run_elements SET output = ?2 WHERE job_id = ?1"
    static let runElementStates = """
        SELECT e.step_slug, j.status, count(*) FROM run_elements e JOIN jobs j ON j.id = e.job_id
        WHERE e.run_id = ?1 GROUP BY e.step_slug, j.status
        """
    static let runColumns = "id, flow_slug, flow_version, status, input, created_at, finished_at, failed_step"
    static let runGet = "SELECT \(runColumns) FROM flow_runs WHERE id = ?1"
    static let runList = """
        SELECT \(runColumns) FROM flow_runs WHERE (?1 IS NULL OR flow_slug = ?1) AND (?4 IS NULL OR status = ?4)
        ORDER BY id DESC LIMIT ?2 OFFSET ?3
        """
    static let runCount = """
        SELECT count(*) FROM (SELECT 1 FROM flow_runs WHERE (?1 IS NULL OR flow_slug = ?1) AND (?3 IS NULL OR status = ?3) LIMIT ?2)
        """
    static let runStepList = """
        SELECT step_slug, status, remaining_deps, job_id, output, finished_at, map_total, map_done, error_code
        FROM run_steps WHERE run_id = ?1
        """
    static let runSnapshot = """
        SELECT r.status, r.input, f.definition FROM flow_runs r
        JOIN flows f ON f.slug = r.flow_slug AND f.version = r.flow_version WHERE r.id = ?1
        """
    static let runStepUpdate = """
        UPDATE run_steps SET status = ?3, remaining_deps = ?4, job_id = ?5, output = ?6, map_total = ?8, map_done = ?9,
            error_code = ?10,
            finished_at = CASE WHEN ?3 IN ('succeeded', 'failed') THEN ?7 WHEN ?3 IN ('waiting', 'queued') THEN NULL
                               ELSE finished_at END
        WHERE run_id = ?1 AND step_slug = ?2
        """
    /// A run that is running again (re-opened) has no failed step.
    static let runStatusSet = """
        UPDATE flow_runs SET status = ?2, finished_at = ?3,
            failed_step = CASE WHEN ?2 = 'running' THEN NULL ELSE coalesce(?4, failed_step) END
        WHERE id = ?1
        """
    static let runJobStatuses = "SELECT id, status, step_slug FROM jobs WHERE run_id = ?1"
    static let runEventInsert = """
        INSERT INTO run_events (run_id, at, type, step_slug, job_id, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
        """
    static let runEventList = "SELECT at, type, step_slug, job_id, message FROM run_events WHERE run_id = ?1 ORDER BY at, seq"
    static let runCancel = "UPDATE flow_runs SET status = 'cancelled', finished_at = ?2 WHERE id = ?1 AND status = 'running'"
    static let runStepsCancel = """
        UPDATE run_steps SET status = 'cancelled', finished_at = ?2 WHERE run_id = ?1 AND status IN ('waiting', 'queued')
        """

    // MARK: queues and metrics

    /// The queues with queued jobs: a loose index scan, one index probe per queue (not a scan
    /// of the backlog).
    static let queuesWithQueued = """
        WITH RECURSIVE q(queue) AS (
            SELECT (SELECT queue FROM jobs WHERE status = 'queued' ORDER BY queue LIMIT 1)
            UNION ALL
            SELECT (SELECT j.queue FROM jobs j WHERE j.status = 'queued' AND j.queue > q.queue ORDER BY j.queue LIMIT 1)
            FROM q WHERE q.queue IS NOT NULL
        )
        SELECT queue FROM q WHERE queue IS NOT NULL
        """
    /// One queue's queued jobs, at most ?3 of them in claim order: due or not, count, oldest.
    static let queueCountsQueued = """
        SELECT run_at <= ?1, count(*), min(run_at)
        FROM (SELECT run_at FROM jobs WHERE status = 'queued' AND queue = ?2 LIMIT ?3) GROUP BY 1
        """
    static let queueCountsRunning = """
        SELECT queue, count(*), min(run_at) FROM (SELECT queue, run_at FROM jobs WHERE status = 'running' LIMIT ?1) GROUP BY 1
        """
    static let queueCountsDLQ = """
        SELECT queue, count(*), min(run_at)
        FROM (SELECT queue, run_at FROM jobs WHERE status = 'dlq' ORDER BY id DESC LIMIT ?1) GROUP BY 1
        """
    static let attemptWindowCounts = """
        SELECT queue, outcome, count(*) FROM attempts WHERE finished_at > ?1 GROUP BY 1, 2
        """
    static let attemptWindowSamples = """
        SELECT queue, wait_ms, finished_at - started_at FROM attempts WHERE finished_at > ?1
        ORDER BY finished_at DESC LIMIT ?2
        """

    // MARK: job types and workers

    static let jobTypeUpsert = """
        INSERT INTO job_types (job_type, max_attempts, timeout_seconds, backoff_base_ms, backoff_max_ms, concurrency, updated_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
        ON CONFLICT (job_type) DO UPDATE SET max_attempts = excluded.max_attempts,
            timeout_seconds = excluded.timeout_seconds, backoff_base_ms = excluded.backoff_base_ms,
            backoff_max_ms = excluded.backoff_max_ms, concurrency = excluded.concurrency, updated_at = excluded.updated_at
        """
    static let jobTypeList = """
        SELECT job_type, max_attempts, timeout_seconds, backoff_base_ms, backoff_max_ms, concurrency
        FROM job_types ORDER BY job_type
        """

    static let workerUpsert = """
        INSERT INTO workers (id, host, pid, queues, job_types, concurrency, lease_seconds, started_at, last_heartbeat_at,
                             db_connections)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
        ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, queues = excluded.queues,
            job_types = excluded.job_types, concurrency = excluded.concurrency,
            lease_seconds = excluded.lease_seconds, last_heartbeat_at = excluded.last_heartbeat_at,
            db_connections = excluded.db_connections
        """
    static let workerDelete = "DELETE FROM workers WHERE id = ?1"
    static let workerList = """
        SELECT id, host, pid, queues, job_types, concurrency, lease_seconds, started_at, last_heartbeat_at, db_connections
        FROM workers ORDER BY id
        """
}
