/// Every SQLite statement portableq runs, by name. `PostgresSQL` has the same names.
/// Times are integer milliseconds; `now` is always bound by the driver (one machine, one clock).
enum SQLiteSQL {
    static let jobColumns = """
        id, queue, job_type, payload, priority, run_at, status, attempts, attempt_base, max_attempts, \
        timeout_seconds, backoff_base_ms, idempotency_key, replay_of, output, last_error_code, \
        last_error_message, dlq_reason_code, lease_token, lease_expires_at, worker_id, created_at, \
        started_at, finished_at, run_id, step_slug
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
    static let jobInsert = """
        INSERT INTO jobs (id, queue, job_type, payload, priority, run_at, status, max_attempts, timeout_seconds,
                          backoff_base_ms, idempotency_key, replay_of, created_at, run_id, step_slug)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
        """

    // MARK: claim, heartbeat, ack

    /// ?1 token, ?2 lease expiry, ?3 worker, ?4 now, ?5 limit, ?6 queues (JSON array), ?7 types (JSON array).
    static func jobLease(byQueue: Bool, byType: Bool) -> String {
        """
        UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_token = ?1, lease_expires_at = ?2,
                        worker_id = ?3, started_at = ?4, wait_ms = max(0, ?4 - run_at)
        WHERE id IN (
            SELECT id FROM jobs
            WHERE status = 'queued' AND run_at <= ?4
              \(byQueue ? "AND queue IN (SELECT value FROM json_each(?6))" : "AND ?6 IS NULL")
              \(byType ? "AND job_type IN (SELECT value FROM json_each(?7))" : "AND ?7 IS NULL")
            ORDER BY priority DESC, run_at, id
            LIMIT ?5)
        RETURNING \(jobColumns)
        """
    }

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
            attempt_base = attempt_base + ?8
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
        UPDATE jobs SET status = 'queued', attempt_base = attempts, run_at = ?2, finished_at = NULL,
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

    static let jobCancelRunning = """
        UPDATE jobs SET status = 'cancelled', finished_at = ?2, lease_token = NULL, lease_expires_at = NULL,
                        last_error_code = 'CANCELLED', last_error_message = 'cancelled while running'
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

    /// `where` is built from fixed fragments with numbered parameters ?1…?5.
    static func jobList(archive: Bool, where w: String) -> String {
        archive
            ? "SELECT \(jobColumns), archived_at FROM jobs_archive \(w) ORDER BY id DESC LIMIT ?6 OFFSET ?7"
            : "SELECT \(jobColumns), NULL FROM jobs \(w) ORDER BY id DESC LIMIT ?6 OFFSET ?7"
    }

    static func jobCount(archive: Bool, where w: String) -> String {
        "SELECT count(*) FROM (SELECT 1 FROM \(archive ? "jobs_archive" : "jobs") \(w) LIMIT ?6)"
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

    // MARK: queues and metrics

    static let queueCountsQueued = """
        SELECT queue, run_at <= ?1, count(*), min(run_at) FROM jobs WHERE status = 'queued' GROUP BY 1, 2
        """
    static let queueCountsRunning = "SELECT queue, count(*), min(run_at) FROM jobs WHERE status = 'running' GROUP BY 1"
    static let queueCountsDLQ = "SELECT queue, count(*), min(run_at) FROM jobs WHERE status = 'dlq' GROUP BY 1"
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
        INSERT INTO workers (id, host, pid, queues, job_types, concurrency, lease_seconds, started_at, last_heartbeat_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
        ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, queues = excluded.queues,
            job_types = excluded.job_types, concurrency = excluded.concurrency,
            lease_seconds = excluded.lease_seconds, last_heartbeat_at = excluded.last_heartbeat_at
        """
    static let workerDelete = "DELETE FROM workers WHERE id = ?1"
    static let workerList = """
        SELECT id, host, pid, queues, job_types, concurrency, lease_seconds, started_at, last_heartbeat_at
        FROM workers ORDER BY id
        """
}
