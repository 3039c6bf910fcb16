/// Every PostgreSQL statement portableq runs, by name (`SQLiteSQL` has the same names).
/// `$1` is always the injected clock: `now` below is `coalesce($1, now())`, truncated to
/// milliseconds, so tests set time exactly and production uses the database's clock.
enum PostgresSQL {
    static let now = "date_trunc('milliseconds', coalesce($1::timestamptz, now()))"

    static let jobColumns = """
        id, queue, job_type, payload, priority, run_at, status, attempts, attempt_base, max_attempts, \
        timeout_seconds, backoff_base_ms, idempotency_key, replay_of, output, last_error_code, \
        last_error_message, dlq_reason_code, lease_token, lease_expires_at, worker_id, created_at, \
        started_at, finished_at, run_id, step_slug, snoozes, concurrency_key, tags, metadata, progress, progress_at
        """

    static func prefixed(_ alias: String) -> String {
        jobColumns.split(separator: ",").map { "\(alias).\($0.trimmingCharacters(in: .whitespaces))" }.joined(separator: ", ")
    }

    // MARK: schema

    /// One lock for all migrators of one schema, held to the end of each migration's transaction.
    static let migrationLock = "SELECT pg_advisory_xact_lock(hashtextextended('portableq.migrate.' || $1, 0))"
    static func schemaCreate(_ schema: String) -> String { "CREATE SCHEMA IF NOT EXISTS \"\(schema)\"" }
    static func searchPath(_ schema: String) -> String { "SET LOCAL search_path TO \"\(schema)\"" }
    static let migrationsTableCreate = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            compatible_with integer NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now())
        """
    static let migrationsTableExists = "SELECT to_regclass('schema_migrations') IS NOT NULL"
    static let migrationList = "SELECT version, name, compatible_with, applied_at FROM schema_migrations ORDER BY version"
    static let migrationRecord = "INSERT INTO schema_migrations (version, name, compatible_with) VALUES ($1, $2, $3)"

    // MARK: enqueue

    /// One statement per batch: idempotency keys first (a taken key skips its row), then the
    /// jobs, and each distinct queue once in the known-queue registry (sorted, so concurrent
    /// batches that name new queues take their locks in one order). $2… are arrays, one element
    /// per row. The NOTIFY is not in here: see `notifyQueues`.
    static let jobInsertMany = jobInsert(skipUniqueConflicts: false)
    /// For batches holding unique jobs: a live holder of a key (jobs_unique_idx) makes its row
    /// insert nothing, and rows of one batch with the same key resolve to the first.
    static let jobInsertManyUnique = jobInsert(skipUniqueConflicts: true)
    static func jobInsert(skipUniqueConflicts: Bool) -> String { """
        WITH i AS (
            SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::int[], $7::timestamptz[],
                                 $8::float8[], $9::int[], $10::int[], $11::int[], $12::text[], $13::uuid[],
                                 $14::uuid[], $15::text[], $16::text[], $17::int[], $18::text[], $19::text[], $20::text[]) WITH ORDINALITY
                AS i(id, queue, job_type, payload, priority, run_at, delay, max_attempts, timeout_seconds,
                     backoff_base_ms, idempotency_key, replay_of, run_id, step_slug, unique_key, unique_states,
                     concurrency_key, tags, metadata, ord)
        ),
        q AS (
            INSERT INTO queues (queue) SELECT DISTINCT queue FROM i ORDER BY queue
            ON CONFLICT DO NOTHING
        ),
        k AS (
            INSERT INTO job_keys (queue, idempotency_key, job_id)
            SELECT queue, idempotency_key, id FROM i WHERE idempotency_key IS NOT NULL ORDER BY ord
            ON CONFLICT DO NOTHING
            RETURNING job_id
        ),
        ins AS (
            INSERT INTO jobs (id, queue, job_type, payload, priority, run_at, status, max_attempts, timeout_seconds,
                              backoff_base_ms, idempotency_key, replay_of, created_at, run_id, step_slug,
                              unique_key, unique_states, concurrency_key, tags, metadata)
            SELECT i.id, i.queue, i.job_type, i.payload::json, i.priority,
                   coalesce(i.run_at, \(now) + coalesce(i.delay, 0) * interval '1 second'), 'queued', i.max_attempts,
                   i.timeout_seconds, i.backoff_base_ms, i.idempotency_key, i.replay_of, \(now), i.run_id, i.step_slug,
                   i.unique_key, i.unique_states, coalesce(i.concurrency_key, \(derivedKey("i.payload::json", "p.concurrency_key_from"))),
                   coalesce(i.tags::text[], '{}'), coalesce(i.metadata::json, '{}')
            FROM i
            -- A given key beats a derived one; the policy is read in this statement, so a key is
            -- derived by the policy in effect when the job is inserted.
            LEFT JOIN queue_policies p ON p.queue = i.queue AND p.concurrency_key_from IS NOT NULL AND i.concurrency_key IS NULL
            WHERE i.idempotency_key IS NULL OR i.id IN (SELECT job_id FROM k)
            ORDER BY i.ord
            \(skipUniqueConflicts ? "ON CONFLICT DO NOTHING" : "")
            RETURNING id, queue, run_at, created_at, concurrency_key
        )
        SELECT id, run_at, created_at, concurrency_key, queue FROM ins
        """
    }

    /// A key derived from a payload field: the text of a string or of a number (an empty string,
    /// another type or a missing field: no key), cut to 255 characters. Spelled the same in
    /// `portableq.enqueue()` (migration 12) and in `SQLiteSQL.derivedKey`.
    static func derivedKey(_ payload: String, _ field: String) -> String {
        "CASE WHEN json_typeof(\(payload) -> \(field)) IN ('string', 'number') THEN left(nullif(\(payload) ->> \(field), ''), 255) END"
    }

    /// jobs_unique_idx's predicate, spelled the same so lookups use the index.
    static let uniqueLive = """
        unique_key IS NOT NULL
          AND (unique_states & CASE status WHEN 'queued' THEN 1 WHEN 'running' THEN 2 WHEN 'succeeded' THEN 4
                                           WHEN 'dlq' THEN 8 WHEN 'cancelled' THEN 16 ELSE 0 END) <> 0
        """
    static let uniqueOwners = "SELECT unique_key, id, status FROM jobs WHERE unique_key = ANY($1::text[]) AND \(uniqueLive)"
    /// on_conflict replace: only a match still queued takes the new payload and run_at.
    static let uniqueReplace = """
        UPDATE jobs SET payload = $2::json, run_at = coalesce($3::timestamptz, \(now) + $4::float8 * interval '1 second')
        WHERE id = $5::uuid AND status = 'queued'
        RETURNING id
        """
    /// Keys taken by rows whose jobs turned out to be unique duplicates.
    static let keyReleaseMany = "DELETE FROM job_keys WHERE job_id = ANY($1::uuid[])"
    /// One NOTIFY per queue, sent after the jobs committed, in a transaction of its own: a
    /// transaction that notifies holds a database-wide lock from before its commit until after,
    /// which would serialise every enqueue's commit (and its fsync) behind the others'.
    static let notifyQueues = "SELECT count(pg_notify($1, q)) FROM unnest($2::text[]) AS q"
    /// The known-queue registry: registered by every insert (jobInsertMany) and policy, read (bounded)
    /// by the cluster series.
    static let queueRegister = "INSERT INTO queues (queue) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT DO NOTHING"
    static let queueNameList = "SELECT queue FROM queues ORDER BY queue LIMIT $1"
    static let keyLookup = """
        SELECT k.queue, k.idempotency_key, k.job_id FROM job_keys k
        JOIN unnest($1::text[], $2::text[]) AS i(queue, idempotency_key)
          ON k.queue = i.queue AND k.idempotency_key = i.idempotency_key
        """

    // MARK: claim, heartbeat, ack

    /// Queues whose claims go through `jobLeaseRestricted` (paused, capped or rate-limited),
    /// checked once per queue named by `queue` (a parameter or a column of the queue list).
    static func restrictedQueue(_ queue: String) -> String {
        """
        NOT EXISTS (SELECT 1 FROM queue_policies p WHERE p.queue = \(queue)
                    AND (p.paused OR p.max_running IS NOT NULL OR p.max_starts_per_second IS NOT NULL
                         OR p.max_running_per_key IS NOT NULL OR p.max_starts_per_second_per_key IS NOT NULL))
        """
    }

    /// The claim's pick, as CTEs ending in `picked(id)`: the first `limit` due jobs in priority
    /// order, locked with SKIP LOCKED. `n` is the number of the queue parameter (then types).
    ///
    /// One queue walks `jobs_claim_idx` in order and stops after `limit` rows. Several queues
    /// (a list, or every queue with queued jobs, found by a loose index scan) walk it once per
    /// queue (LATERAL, `limit` each) and merge the few rows: the index leads with the queue, so a
    /// single walk across queues would read and sort the whole backlog on every claim. The
    /// policy check names the queue, not each job row: correlated per row, Postgres planned it as
    /// an anti-join estimated at one row and chose to sort the backlog (seen at 100,000 queued).
    /// The UPDATE then fetches the picked rows by `id = ANY (ARRAY(…))`: joined to `picked`, a
    /// generic plan (which cannot see the limit's value) hashed the whole table instead.
    /// Returns whether the statement needs `WITH RECURSIVE`.
    static func pick(queues: QueueMode, byType: Bool, unrestrictedOnly: Bool, limit: String, n: Int)
        -> (recursive: Bool, ctes: String) {
        let types = byType ? " AND job_type = ANY($\(queues == .any ? n : n + 1)::text[])" : ""
        let due = "status = 'queued' AND run_at <= \(now)"
        let order = "ORDER BY priority DESC, run_at, id"
        if queues == .one {
            let policy = unrestrictedOnly ? " AND " + restrictedQueue("$\(n)") : ""
            return (false, """
                picked AS (
                    SELECT id FROM jobs
                    WHERE \(due) AND queue = $\(n)\(types)\(policy)
                    \(order)
                    LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED
                )
                """)
        }
        let list = queues == .many
            ? "qs(queue) AS (SELECT DISTINCT q FROM unnest($\(n)::text[]) AS q)"
            : """
              qs(queue) AS (
                  (SELECT queue FROM jobs WHERE status = 'queued' ORDER BY queue LIMIT 1)
                  UNION ALL
                  SELECT (SELECT j.queue FROM jobs j WHERE j.status = 'queued' AND j.queue > qs.queue
                          ORDER BY j.queue LIMIT 1)
                  FROM qs WHERE qs.queue IS NOT NULL
              )
              """
        let policy = unrestrictedOnly ? " AND " + restrictedQueue("qs.queue") : ""
        return (queues == .any, """
            \(list),
            picked AS (
                SELECT c.id FROM qs CROSS JOIN LATERAL (
                    SELECT id, priority, run_at FROM jobs
                    WHERE \(due) AND queue = qs.queue\(types)
                    \(order)
                    LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED
                ) c
                WHERE qs.queue IS NOT NULL\(policy)
                ORDER BY c.priority DESC, c.run_at, c.id
                LIMIT \(limit)
            )
            """)
    }

    /// $2 token, $3 lease seconds, $4 worker, $5 limit, [$6 queues], [$6/$7 types].
    static func jobLease(queues: QueueMode, byType: Bool, unrestrictedOnly: Bool = true) -> String {
        let p = pick(queues: queues, byType: byType, unrestrictedOnly: unrestrictedOnly, limit: "$5", n: 6)
        return """
            WITH \(p.recursive ? "RECURSIVE " : "")\(p.ctes)
            UPDATE jobs j SET status = 'running', attempts = j.attempts + 1, lease_token = $2::uuid,
                              lease_expires_at = \(now) + $3 * interval '1 second', worker_id = $4, started_at = \(now),
                              wait_ms = greatest(0, (extract(epoch FROM \(now) - j.run_at) * 1000)::integer)
            WHERE j.id = ANY (ARRAY(SELECT id FROM picked))
            RETURNING \(prefixed("j"))
            """
    }

    /// A progress update: only the current lease holder's (same condition as a heartbeat).
    static let jobProgressSet = """
        UPDATE jobs SET progress = $2::json, progress_at = \(now)
        WHERE id = $3::uuid AND lease_token = $4::uuid AND status = 'running'
        """

    static let jobLeaseExtend = """
        UPDATE jobs j SET lease_expires_at = \(now) + $2 * interval '1 second'
        FROM unnest($3::uuid[], $4::uuid[]) AS i(id, token)
        WHERE j.id = i.id AND j.lease_token = i.token AND j.status = 'running'
        RETURNING j.id
        """

    /// Moves each job whose lease matches and records its attempt, in one statement.
    static let jobCompleteMany = completeCTEs + "\nSELECT job_id FROM a"

    /// The ack's CTEs (`i`, `u`, `a`), shared by `jobCompleteMany` and `jobCompleteAndLease`.
    static let completeCTEs = """
        WITH i AS (
            SELECT * FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                                 $9::float8[], $10::text[], $11::text[], $12::int[])
                AS i(id, token, outcome, status, output, error_code, error_message, delay, dlq_reason, decision, base_inc)
        ),
        u AS (
            UPDATE jobs j SET
                status = i.status,
                output = CASE WHEN i.status = 'succeeded' THEN i.output::json ELSE j.output END,
                lease_token = NULL,
                lease_expires_at = NULL,
                finished_at = CASE WHEN i.status = 'queued' THEN NULL ELSE \(now) END,
                run_at = CASE WHEN i.status = 'queued' THEN \(now) + coalesce(i.delay, 0) * interval '1 second' ELSE j.run_at END,
                last_error_code = coalesce(i.error_code, j.last_error_code),
                last_error_message = CASE WHEN i.error_code IS NULL THEN j.last_error_message ELSE i.error_message END,
                dlq_reason_code = i.dlq_reason,
                attempt_base = j.attempt_base + i.base_inc,
                snoozes = j.snoozes + CASE WHEN i.outcome = 'snoozed' THEN 1 ELSE 0 END
            FROM i
            WHERE j.id = i.id AND j.lease_token = i.token AND j.status = 'running'
            RETURNING j.id, j.attempts, j.worker_id, j.started_at, j.run_at, i.token, i.outcome, i.error_code,
                      i.error_message, i.decision, i.dlq_reason, j.queue, j.wait_ms
        ),
        a AS (
            INSERT INTO attempts (job_id, attempt, lease_token, worker_id, started_at, finished_at, outcome,
                                  error_code, error_message, decision, retry_at, dlq_reason_code, queue, wait_ms)
            SELECT id, attempts, token, worker_id, coalesce(started_at, \(now)), \(now), outcome, error_code,
                   error_message, decision, CASE WHEN decision = 'retry' OR outcome = 'snoozed' THEN run_at END, dlq_reason,
                   queue, wait_ms
            FROM u
            RETURNING job_id
        )
        """

    /// The ack and the next claim in one statement: one round trip and one commit per worker
    /// turn. $1…$12 are the ack's; then $13 token, $14 lease seconds, $15 worker, $16 limit,
    /// [$17 queue(s)], [types]. Rows: (true, acked job id, nulls…) or (false, claimed job…).
    /// The claim sees the statement's snapshot, so the jobs being acked are not re-claimed.
    static func jobCompleteAndLease(queues: QueueMode, byType: Bool) -> String {
        let p = pick(queues: queues, byType: byType, unrestrictedOnly: true, limit: "$16", n: 17)
        let nulls = "NULL::text, NULL::text, NULL::json, NULL::int, NULL::timestamptz, NULL::text, NULL::int, NULL::int, "
            + "NULL::int, NULL::int, NULL::int, NULL::text, NULL::uuid, NULL::json, NULL::text, NULL::text, NULL::text, "
            + "NULL::uuid, NULL::timestamptz, NULL::text, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::uuid, NULL::text, "
            + "NULL::int, NULL::text, NULL::text[], NULL::json, NULL::json, NULL::timestamptz"
        let ctes = p.recursive ? completeCTEs.replacingOccurrences(of: "WITH i AS (", with: "WITH RECURSIVE i AS (") : completeCTEs
        return ctes + """
            ,
            \(p.ctes),
            c AS (
                UPDATE jobs j SET status = 'running', attempts = j.attempts + 1, lease_token = $13::uuid,
                                  lease_expires_at = \(now) + $14 * interval '1 second', worker_id = $15, started_at = \(now),
                                  wait_ms = greatest(0, (extract(epoch FROM \(now) - j.run_at) * 1000)::integer)
                WHERE j.id = ANY (ARRAY(SELECT id FROM picked))
                RETURNING \(prefixed("j"))
            )
            SELECT true AS acked, job_id, \(nulls) FROM a
            UNION ALL
            SELECT false, c.* FROM c
            """
    }

    /// Hands claimed jobs back as if the claim never happened (no attempt).
    static let jobReleaseMany = """
        UPDATE jobs j SET status = 'queued', attempts = j.attempts - 1, lease_token = NULL, lease_expires_at = NULL,
                          worker_id = NULL, started_at = NULL, wait_ms = NULL
        FROM unnest($1::uuid[], $2::uuid[]) AS i(id, token)
        WHERE j.id = i.id AND j.lease_token = i.token AND j.status = 'running'
        """

    static let attemptOutcomeByToken = """
        SELECT a.job_id, a.outcome FROM attempts a
        JOIN unnest($1::uuid[], $2::uuid[]) AS i(id, token) ON a.job_id = i.id AND a.lease_token = i.token
        """

    static let jobLeaseExpiredList = """
        SELECT \(jobColumns) FROM jobs
        WHERE status = 'running' AND lease_expires_at < \(now)
        ORDER BY lease_expires_at LIMIT $2
        """

    // MARK: operator actions

    /// $4, $5: the event the core decided (type, message).
    static let jobRetryMany = """
        WITH u AS (
            UPDATE jobs SET status = 'queued', attempt_base = attempts, snoozes = 0, run_at = \(now), finished_at = NULL,
                            dlq_reason_code = NULL, lease_token = NULL, lease_expires_at = NULL
            WHERE id = ANY($2::uuid[]) AND status = ANY($3::text[])
            RETURNING id, attempts
        ),
        e AS (
            INSERT INTO job_events (job_id, at, type, message, after_attempt)
            SELECT id, \(now), $4, $5, attempts FROM u
        )
        SELECT id FROM u
        """

    /// Arrays per target: $2 id, $3 running token, $4/$5 the event of a queued job (type,
    /// message), $6/$7 the error of a running job's cancelled attempt (code, message).
    static let jobCancelMany = """
        WITH i AS (
            SELECT * FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[])
                AS i(id, token, event_type, event_message, error_code, error_message)
        ),
        u AS (
            UPDATE jobs j SET status = 'cancelled', finished_at = \(now), lease_token = NULL, lease_expires_at = NULL,
                last_error_code = CASE WHEN i.token IS NULL THEN j.last_error_code ELSE i.error_code END,
                last_error_message = CASE WHEN i.token IS NULL THEN j.last_error_message ELSE i.error_message END
            FROM i
            WHERE j.id = i.id
              AND ((i.token IS NULL AND j.status = 'queued') OR (j.status = 'running' AND j.lease_token = i.token))
            RETURNING j.id, j.attempts, j.worker_id, j.started_at, i.token, j.queue, j.wait_ms, i.event_type, i.event_message,
                      i.error_code, i.error_message
        ),
        a AS (
            INSERT INTO attempts (job_id, attempt, lease_token, worker_id, started_at, finished_at, outcome,
                                  error_code, error_message, queue, wait_ms)
            SELECT id, attempts, token, worker_id, coalesce(started_at, \(now)), \(now), 'cancelled', error_code,
                   error_message, queue, wait_ms
            FROM u WHERE token IS NOT NULL
        ),
        e AS (
            INSERT INTO job_events (job_id, at, type, message, after_attempt)
            SELECT id, \(now), event_type, event_message, attempts FROM u WHERE token IS NULL
        )
        SELECT id FROM u
        """

    static let jobDeleteMany = """
        WITH d AS (DELETE FROM jobs WHERE id = ANY($1::uuid[]) AND status = ANY($2::text[]) RETURNING id),
        da AS (DELETE FROM jobs_archive WHERE $3::bool AND id = ANY($1::uuid[]) RETURNING id),
        ids AS (SELECT id FROM d UNION ALL SELECT id FROM da),
        x1 AS (DELETE FROM attempts WHERE job_id IN (SELECT id FROM ids)),
        x2 AS (DELETE FROM job_events WHERE job_id IN (SELECT id FROM ids)),
        x3 AS (DELETE FROM job_keys WHERE job_id IN (SELECT id FROM ids))
        SELECT id FROM ids
        """

    // MARK: reads

    static let jobGetMany = """
        SELECT \(jobColumns), NULL::timestamptz FROM jobs WHERE id = ANY($1::uuid[])
        UNION ALL
        SELECT \(jobColumns), archived_at FROM jobs_archive WHERE id = ANY($1::uuid[])
        """

    static func jobList(archive: Bool, where w: String, limit: Int, offset: Int) -> String {
        archive
            ? "SELECT \(jobColumns), archived_at FROM jobs_archive \(w) ORDER BY id DESC LIMIT $\(limit) OFFSET $\(offset)"
            : "SELECT \(jobColumns), NULL::timestamptz FROM jobs \(w) ORDER BY id DESC LIMIT $\(limit) OFFSET $\(offset)"
    }

    /// `jobList` as lists show it: payload and output lengths in bytes first, then the job with
    /// both cut to the characters a preview may need, so a page of big jobs is not sent whole.
    static func jobListPreview(archive: Bool, where w: String, limit: Int, offset: Int) -> String {
        let n = JobListItem.wholeUpTo
        let columns = jobColumns.replacingOccurrences(of: "payload,", with: "left(payload::text, \(n)),")
            .replacingOccurrences(of: "output,", with: "left(output::text, \(n)),")
        let sizes = "octet_length(payload::text), octet_length(output::text)"
        return archive
            ? "SELECT \(sizes), \(columns), archived_at FROM jobs_archive \(w) ORDER BY id DESC LIMIT $\(limit) OFFSET $\(offset)"
            : "SELECT \(sizes), \(columns), NULL::timestamptz FROM jobs \(w) ORDER BY id DESC LIMIT $\(limit) OFFSET $\(offset)"
    }

    static func jobCount(archive: Bool, where w: String, limit: Int) -> String {
        "SELECT count(*) FROM (SELECT 1 FROM \(archive ? "jobs_archive" : "jobs") \(w) LIMIT $\(limit)) c"
    }

    static let attemptList = """
        SELECT job_id, attempt, lease_token, worker_id, started_at, finished_at, outcome, error_code,
               error_message, decision, retry_at, dlq_reason_code
        FROM attempts WHERE job_id = $1::uuid ORDER BY attempt
        """
    static let eventList = "SELECT job_id, at, type, message, after_attempt FROM job_events WHERE job_id = $1::uuid ORDER BY at"
    static let replayList = """
        SELECT id, created_at FROM jobs WHERE replay_of = $1::uuid
        UNION ALL SELECT id, created_at FROM jobs_archive WHERE replay_of = $1::uuid
        ORDER BY 2
        """

    // MARK: guardrails and decisions

    static let keyLookupMany = keyLookup
    static let rateLock = "SELECT pg_advisory_xact_lock(hashtextextended('portableq.rate.' || $1, 0))"
    static let rateWindow = """
        SELECT (extract(epoch FROM second) * 1000)::bigint, count, (extract(epoch FROM \(now)) * 1000)::bigint
        FROM enqueue_rate WHERE queue = $2 AND second > \(now) - interval '60 seconds' ORDER BY second
        """
    static let rateNow = "SELECT (extract(epoch FROM \(now)) * 1000)::bigint"
    static let rateAdd = """
        INSERT INTO enqueue_rate (queue, second, count) VALUES ($2, date_trunc('second', \(now)), $3)
        ON CONFLICT (queue, second) DO UPDATE SET count = enqueue_rate.count + excluded.count
        """
    static let rateTrim = "DELETE FROM enqueue_rate WHERE queue = $2 AND second <= \(now) - interval '60 seconds'"

    static func decisionRecord(_ table: String) -> String {
        """
        INSERT INTO \(table) AS d (queue, reason_code, minute, count, last_message)
        SELECT q, r, date_trunc('minute', \(now)), c, m FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[]) AS i(q, r, c, m)
        ON CONFLICT (queue, reason_code, minute) DO UPDATE SET count = d.count + excluded.count,
            last_message = coalesce(excluded.last_message, d.last_message)
        """
    }
    static func decisionList(_ table: String) -> String {
        "SELECT queue, reason_code, minute, count, last_message FROM \(table) ORDER BY minute DESC, queue, reason_code LIMIT $1 OFFSET $2"
    }
    static func decisionCount(_ table: String) -> String {
        "SELECT count(*) FROM (SELECT 1 FROM \(table) LIMIT $1) c"
    }

    // MARK: queue policies

    static let policyColumns = """
        queue, paused, max_running, max_starts_per_second, tokens, tokens_at, concurrency_key_from, max_running_per_key, \
        max_starts_per_second_per_key
        """
    static let policyList = "SELECT \(policyColumns) FROM queue_policies ORDER BY queue"
    static let policyGet = "SELECT \(policyColumns) FROM queue_policies WHERE queue = $1"
    static let policySet = """
        WITH q AS (INSERT INTO queues (queue) VALUES ($2) ON CONFLICT DO NOTHING)
        INSERT INTO queue_policies AS p (queue, paused, max_running, max_starts_per_second, updated_at,
                                         concurrency_key_from, max_running_per_key, max_starts_per_second_per_key)
        VALUES ($2, $3, $4, $5, \(now), $6, $7, $8)
        ON CONFLICT (queue) DO UPDATE SET paused = excluded.paused, max_running = excluded.max_running,
            max_starts_per_second = excluded.max_starts_per_second, updated_at = excluded.updated_at,
            concurrency_key_from = excluded.concurrency_key_from, max_running_per_key = excluded.max_running_per_key,
            max_starts_per_second_per_key = excluded.max_starts_per_second_per_key,
            tokens = CASE WHEN excluded.max_starts_per_second IS NULL THEN NULL ELSE p.tokens END,
            tokens_at = CASE WHEN excluded.max_starts_per_second IS NULL THEN NULL ELSE p.tokens_at END
        """
    static let queueLock = "SELECT pg_advisory_xact_lock(hashtextextended('portableq.queue.' || $1, 0))"
    static let policyTokens = "UPDATE queue_policies SET tokens = $2, tokens_at = $3 WHERE queue = $1"
    static let queueRunning = "SELECT count(*) FROM jobs WHERE status = 'running' AND queue = $1"
    static func queueDue(byType: Bool) -> String {
        """
        SELECT count(*) FROM (SELECT 1 FROM jobs WHERE status = 'queued' AND queue = $2 AND run_at <= \(now)
            \(byType ? "AND job_type = ANY($4::text[])" : "") LIMIT $3) d
        """
    }

    // MARK: concurrency keys

    /// Running jobs of key `k` in queue $2, read from jobs_key_running_idx (as many rows as run).
    static func keyRunning(_ k: String, queue: String = "$2") -> String {
        """
        (SELECT count(*) FROM jobs r WHERE r.status = 'running' AND r.concurrency_key IS NOT NULL
            AND r.queue = \(queue) AND r.concurrency_key = \(k))
        """
    }

    /// A keyed claim's candidates, then each key's state. $2 queue, $3 limit, $4 max_running_per_key,
    /// [$5 types]. The queue's keys come from a loose index scan of jobs_key_claim_idx (one probe per
    /// key); each key then gives its first due jobs, one more than its cap leaves room for (so the
    /// claim can tell that the key held jobs back): a key's backlog is never walked.
    /// Jobs without a key are the queue's first due jobs that have none (its head only).
    static func keyCandidates(byType: Bool) -> String {
        let types = byType ? " AND job_type = ANY($5::text[])" : ""
        return """
            WITH RECURSIVE ks(k) AS (
                (SELECT concurrency_key FROM jobs WHERE status = 'queued' AND concurrency_key IS NOT NULL AND queue = $2
                 ORDER BY concurrency_key LIMIT 1)
                UNION ALL
                SELECT (SELECT j.concurrency_key FROM jobs j
                        WHERE j.status = 'queued' AND j.concurrency_key IS NOT NULL AND j.queue = $2 AND j.concurrency_key > ks.k
                        ORDER BY j.concurrency_key LIMIT 1)
                FROM ks WHERE ks.k IS NOT NULL
            ),
            kr AS (SELECT ks.k, \(keyRunning("ks.k")) AS running FROM ks WHERE ks.k IS NOT NULL)
            SELECT c.id, kr.k, c.priority, c.run_at, kr.k, kr.running, s.tokens, s.tokens_at
            FROM kr
            LEFT JOIN concurrency_keys s ON s.queue = $2 AND s.concurrency_key = kr.k
            CROSS JOIN LATERAL (
                SELECT id, priority, run_at FROM jobs
                WHERE status = 'queued' AND concurrency_key IS NOT NULL AND queue = $2 AND concurrency_key = kr.k
                  AND run_at <= \(now)\(types)
                ORDER BY priority DESC, run_at, id
                LIMIT CASE WHEN $4::int IS NULL THEN $3::int ELSE least($3::int, greatest(0, $4::int - kr.running)) + 1 END
            ) c
            UNION ALL
            SELECT h.id, NULL, h.priority, h.run_at, NULL, NULL, NULL, NULL FROM (
                SELECT id, concurrency_key, priority, run_at FROM jobs
                WHERE status = 'queued' AND queue = $2 AND run_at <= \(now)\(types)
                ORDER BY priority DESC, run_at, id
                LIMIT $3
            ) h
            WHERE h.concurrency_key IS NULL
            """
    }

    /// Leases the jobs a keyed claim picked: $2 token, $3 lease seconds, $4 worker, $5 ids.
    static let jobLeaseIds = """
        UPDATE jobs j SET status = 'running', attempts = j.attempts + 1, lease_token = $2::uuid,
                          lease_expires_at = \(now) + $3 * interval '1 second', worker_id = $4, started_at = \(now),
                          wait_ms = greatest(0, (extract(epoch FROM \(now) - j.run_at) * 1000)::integer)
        WHERE j.id = ANY ($5::uuid[]) AND j.status = 'queued'
        RETURNING \(prefixed("j"))
        """

    /// Stores keys' bucket levels: $1 queue, $2 keys, $3 levels, $4 time.
    static let keyTokens = """
        INSERT INTO concurrency_keys AS s (queue, concurrency_key, tokens, tokens_at)
        SELECT $1, k, t, $4::timestamptz FROM unnest($2::text[], $3::float8[]) AS i(k, t) ORDER BY k
        ON CONFLICT (queue, concurrency_key) DO UPDATE SET tokens = excluded.tokens, tokens_at = excluded.tokens_at
        """

    /// $1 queue, $2 keys.
    static let keyList = """
        SELECT k, \(keyRunning("k", queue: "$1")), s.tokens, s.tokens_at
        FROM unnest($2::text[]) AS k
        LEFT JOIN concurrency_keys s ON s.queue = $1 AND s.concurrency_key = k
        """

    static let purgeCount = "SELECT count(*) FROM jobs WHERE status = 'queued' AND queue = $1"
    static let purge = """
        WITH d AS (
            DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE status = 'queued' AND queue = $1 LIMIT 1000
                                          FOR UPDATE SKIP LOCKED)
            RETURNING id
        ),
        x1 AS (DELETE FROM attempts WHERE job_id IN (SELECT id FROM d)),
        x2 AS (DELETE FROM job_events WHERE job_id IN (SELECT id FROM d)),
        x3 AS (DELETE FROM job_keys WHERE job_id IN (SELECT id FROM d))
        SELECT count(*) FROM d
        """

    static let queueDeleteAll = """
        WITH d AS (
            DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE queue = $1 LIMIT 5000) RETURNING id
        ),
        da AS (DELETE FROM jobs_archive WHERE id IN (SELECT id FROM jobs_archive WHERE queue = $1 LIMIT 5000) RETURNING id),
        ids AS (SELECT id FROM d UNION ALL SELECT id FROM da),
        x1 AS (DELETE FROM attempts WHERE job_id IN (SELECT id FROM ids)),
        x2 AS (DELETE FROM job_events WHERE job_id IN (SELECT id FROM ids)),
        x3 AS (DELETE FROM job_keys WHERE job_id IN (SELECT id FROM ids))
        SELECT count(*) FROM ids
        """

    // MARK: maintenance

    static let leaderAcquire = """
        INSERT INTO leader_leases AS l (name, holder, acquired_at, expires_at)
        VALUES ($2, $3, \(now), \(now) + $4 * interval '1 second')
        ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
            acquired_at = CASE WHEN l.holder = excluded.holder THEN l.acquired_at ELSE excluded.acquired_at END
        WHERE l.holder = excluded.holder OR l.expires_at <= \(now)
        """
    static let leaderGet = "SELECT holder, expires_at FROM leader_leases WHERE name = $1"
    static let leaderRelease = "DELETE FROM leader_leases WHERE name = $1 AND holder = $2"
    static let maintenanceInsert = """
        INSERT INTO maintenance_runs (holder, task, started_at, finished_at, affected, details)
        SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::bigint[], $6::text[])
        """
    static let maintenanceList = """
        SELECT holder, task, started_at, finished_at, affected, details FROM maintenance_runs ORDER BY id DESC LIMIT $1
        """
    /// Bounded: at most $4 rows, and only jobs created before the UUIDv7 $3 are scanned.
    static let archiveMove = """
        WITH moved AS (
            DELETE FROM jobs WHERE id IN (
                SELECT id FROM jobs WHERE status = 'succeeded' AND id < $3::uuid AND finished_at < $2
                ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)
            RETURNING *
        )
        INSERT INTO jobs_archive (\(jobColumns), wait_ms, archived_at)
        SELECT \(jobColumns), wait_ms, \(now) FROM moved
        """
    static let archiveDelete = """
        WITH d AS (
            DELETE FROM jobs_archive WHERE id IN (SELECT id FROM jobs_archive WHERE archived_at < $1 ORDER BY archived_at LIMIT $2)
            RETURNING id
        ),
        x1 AS (DELETE FROM attempts WHERE job_id IN (SELECT id FROM d)),
        x2 AS (DELETE FROM job_events WHERE job_id IN (SELECT id FROM d)),
        x3 AS (DELETE FROM job_keys WHERE job_id IN (SELECT id FROM d))
        SELECT count(*) FROM d
        """
    static let historyPrune = """
        WITH p AS (
            UPDATE jobs_archive SET history_pruned_at = \(now)
            WHERE id IN (SELECT id FROM jobs_archive WHERE history_pruned_at IS NULL AND archived_at < $2
                         ORDER BY archived_at LIMIT $3)
            RETURNING id
        ),
        x1 AS (DELETE FROM attempts WHERE job_id IN (SELECT id FROM p)),
        x2 AS (DELETE FROM job_events WHERE job_id IN (SELECT id FROM p))
        SELECT count(*) FROM p
        """
    static let expire = """
        WITH a AS (DELETE FROM ingest_decisions WHERE minute < $1 RETURNING 1),
        b AS (DELETE FROM policy_decisions WHERE minute < $1 RETURNING 1),
        c AS (DELETE FROM maintenance_runs WHERE started_at < $1 RETURNING 1),
        d AS (DELETE FROM enqueue_rate WHERE second < $1 RETURNING 1),
        e AS (DELETE FROM workers WHERE last_heartbeat_at < $1 RETURNING 1)
        SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b) + (SELECT count(*) FROM c)
             + (SELECT count(*) FROM d) + (SELECT count(*) FROM e)
        """

    // MARK: totals (QueueTotals: rolled up by the maintenance leader, never on the ack path)

    /// Locks the watermark row: two rollups (a lost lease) take turns and never count twice.
    static let totalsMark = "SELECT through_at FROM rollup_marks WHERE name = 'queue_totals' FOR UPDATE"
    /// The first rollup starts at the oldest attempt (attempts_finished_idx: one index step).
    static let attemptsEarliest = "SELECT min(finished_at) FROM attempts"
    /// The end of a bounded window: the finished_at of the attempt N after its start (an index walk of N entries).
    static let attemptsNth = "SELECT finished_at FROM attempts WHERE finished_at >= $1::timestamptz ORDER BY finished_at LIMIT 1 OFFSET $2"
    /// Adds one window of attempts (a range of attempts_finished_idx) to its (queue, hour) rows
    /// and returns how many attempts it counted. Hours are UTC (epoch arithmetic, not the session zone).
    static let totalsAdd = """
        WITH s AS (
            SELECT queue, to_timestamp(floor(extract(epoch FROM finished_at) / 3600) * 3600) AS hour,
                   count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
                   count(*) FILTER (WHERE decision = 'dlq') AS failed,
                   count(*) FILTER (WHERE decision = 'retry') AS retried,
                   count(*) AS n
            FROM attempts WHERE finished_at >= $1::timestamptz AND finished_at < $2::timestamptz
            GROUP BY 1, 2
        ), ins AS (
            INSERT INTO queue_totals AS t (queue, hour, succeeded, failed, retried)
            SELECT queue, hour, succeeded, failed, retried FROM s
            ON CONFLICT (queue, hour) DO UPDATE SET succeeded = t.succeeded + excluded.succeeded,
                failed = t.failed + excluded.failed, retried = t.retried + excluded.retried
            RETURNING 1
        )
        SELECT coalesce(sum(n), 0)::bigint FROM s
        """
    static let totalsSetMark = """
        INSERT INTO rollup_marks (name, through_at) VALUES ('queue_totals', $1::timestamptz)
        ON CONFLICT (name) DO UPDATE SET through_at = excluded.through_at
        """
    static let totalsExpire = "DELETE FROM queue_totals WHERE hour < $1::timestamptz"
    static let totalsMarkRead = "SELECT through_at FROM rollup_marks WHERE name = 'queue_totals'"
    static let totalsColumns = "queue, hour, succeeded, failed, retried"
    /// All queues walk queue_totals_hour_idx; one queue walks the primary key.
    static let totalsList = "SELECT \(totalsColumns) FROM queue_totals WHERE hour >= $1::timestamptz ORDER BY hour, queue LIMIT $2"
    static let totalsListQueue = "SELECT \(totalsColumns) FROM queue_totals WHERE queue = $3 AND hour >= $1::timestamptz ORDER BY hour LIMIT $2"

    // MARK: schedules

    static let scheduleColumns = "name, cron, queue, job_type, payload, priority, max_attempts, timeout_seconds, last_slot_at, created_at, timezone"
    static let scheduleUpsert = """
        INSERT INTO schedules AS s (name, cron, queue, job_type, payload, priority, max_attempts, timeout_seconds, last_slot_at,
                                    created_at, updated_at, timezone)
        VALUES ($2, $3, $4, $5, $6::json, $7, $8, $9, $10, \(now), \(now), $11)
        ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, queue = excluded.queue, job_type = excluded.job_type,
            payload = excluded.payload, priority = excluded.priority, max_attempts = excluded.max_attempts,
            timeout_seconds = excluded.timeout_seconds, updated_at = excluded.updated_at, timezone = excluded.timezone
        """
    static let scheduleDelete = "DELETE FROM schedules WHERE name = $1"
    static let scheduleList = "SELECT \(scheduleColumns) FROM schedules ORDER BY name"
    static let scheduleAdvance = """
        UPDATE schedules SET last_slot_at = $2 WHERE name = $1 AND (last_slot_at IS NULL OR last_slot_at < $2)
        """

    // MARK: workflows

    static let flowLock = "SELECT pg_advisory_xact_lock(hashtextextended('portableq.flow.' || $1, 0))"
    static let flowLatest = "SELECT version, created_at, definition FROM flows WHERE slug = $1 ORDER BY version DESC LIMIT 1"
    static let flowGetVersion = "SELECT version, created_at, definition FROM flows WHERE slug = $1 AND version = $2"
    static let flowInsert = """
        INSERT INTO flows (slug, version, definition, created_at)
        SELECT $2, coalesce(max(version), 0) + 1, $3::json, \(now) FROM flows WHERE slug = $2
        RETURNING version, created_at, definition
        """
    static let flowListLatest = """
        SELECT DISTINCT ON (slug) version, created_at, definition FROM flows ORDER BY slug, version DESC
        """
    /// Runs and their steps, a batch per statement (arrays, one element per row).
    static let runInsert = """
        INSERT INTO flow_runs (id, flow_slug, flow_version, status, input, created_at, finished_at, failed_step)
        SELECT id, slug, version, st, input::json, \(now), CASE WHEN st = 'running' THEN NULL ELSE \(now) END, fs
        FROM unnest($2::uuid[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[]) AS i(id, slug, version, input, st, fs)
        """
    /// A root map step may have fanned out (map_total) or ended at once (output, error_code).
    static let runStepInsert = """
        INSERT INTO run_steps (run_id, step_slug, status, remaining_deps, job_id, output, map_total, error_code, finished_at)
        SELECT run, s, st, r, j, o::json, m, e, CASE WHEN st IN ('succeeded', 'failed') THEN \(now) END
        FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::uuid[], $7::text[], $8::int[], $9::text[])
            AS i(run, s, st, r, j, o, m, e)
        """
    /// Through flow_runs_finished_idx, newest first, bounded.
    static let runDurations = """
        SELECT flow_slug, (extract(epoch FROM finished_at - created_at) * 1000)::bigint FROM flow_runs
        WHERE finished_at IS NOT NULL AND finished_at >= \(now) - make_interval(secs => $2::float8)
          AND status IN ('succeeded', 'failed')
        ORDER BY finished_at DESC LIMIT $3
        """
    static let runElementInsert = """
        INSERT INTO run_elements (job_id, run_id, step_slug, idx)
        SELECT j, run, s, x FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[]) AS i(j, run, s, x)
        """
    /// An element job's ack finds its element by the job id (the primary key).
    static let runElementByJob = "SELECT step_slug, idx FROM run_elements WHERE job_id = $1::uuid"
    static let runElementList = "SELECT idx, job_id, output FROM run_elements WHERE run_id = $1::uuid AND step_slug = $2"
    static let runElementOutput = """
        UPDATE run_elements e SET output = i.o::json FROM unnest($1::uuid[], $2::text[]) AS i(j, o) WHERE e.job_id = i.j
        """
    static let runElementStates = """
        SELECT e.step_slug, j.status, count(*) FROM run_elements e JOIN jobs j ON j.id = e.job_id
        WHERE e.run_id = $1::uuid GROUP BY e.step_slug, j.status
        """
    static let runColumns = "id, flow_slug, flow_version, status, input, created_at, finished_at, failed_step"
    static let runGet = "SELECT \(runColumns) FROM flow_runs WHERE id = $1::uuid"
    static let runList = """
        SELECT \(runColumns) FROM flow_runs WHERE ($1::text IS NULL OR flow_slug = $1) AND ($4::text IS NULL OR status = $4)
        ORDER BY id DESC LIMIT $2 OFFSET $3
        """
    static let runCount = """
        SELECT count(*) FROM (SELECT 1 FROM flow_runs WHERE ($1::text IS NULL OR flow_slug = $1) AND ($3::text IS NULL OR status = $3) LIMIT $2) c
        """
    static let runStepList = """
        SELECT step_slug, status, remaining_deps, job_id, output, finished_at, map_total, map_done, error_code
        FROM run_steps WHERE run_id = $1::uuid
        """
    /// Locks the run: concurrent acks of two dependencies of one step take turns, so exactly one
    /// of them sees the step's last dependency succeed.
    static let runSnapshot = """
        SELECT r.status, r.input, f.definition FROM flow_runs r
        JOIN flows f ON f.slug = r.flow_slug AND f.version = r.flow_version WHERE r.id = $1::uuid
        FOR UPDATE OF r
        """
    static let runStepUpdate = """
        UPDATE run_steps rs SET status = i.st, remaining_deps = i.r, job_id = i.j, output = i.o::json,
            map_total = i.m, map_done = i.d, error_code = i.e,
            finished_at = CASE WHEN i.st IN ('succeeded', 'failed') THEN \(now) WHEN i.st IN ('waiting', 'queued') THEN NULL
                               ELSE rs.finished_at END
        FROM unnest($3::text[], $4::text[], $5::int[], $6::uuid[], $7::text[], $8::int[], $9::int[], $10::text[])
            AS i(s, st, r, j, o, m, d, e)
        WHERE rs.run_id = $2::uuid AND rs.step_slug = i.s
        """
    static let runStatusSet = """
        UPDATE flow_runs SET status = $3, finished_at = CASE WHEN $3 = 'running' THEN NULL ELSE \(now) END,
            failed_step = CASE WHEN $3 = 'running' THEN NULL ELSE coalesce($4, failed_step) END
        WHERE id = $2::uuid
        """
    static let runJobStatuses = "SELECT id, status, step_slug FROM jobs WHERE run_id = $1::uuid"
    static let runEventInsert = """
        INSERT INTO run_events (run_id, at, type, step_slug, job_id, message)
        SELECT $2::uuid, \(now), t, s, j, m FROM unnest($3::text[], $4::text[], $5::uuid[], $6::text[]) WITH ORDINALITY AS i(t, s, j, m, o)
        ORDER BY o
        """
    static let runEventList = "SELECT at, type, step_slug, job_id, message FROM run_events WHERE run_id = $1::uuid ORDER BY at, seq"
    static let runCancel = "UPDATE flow_runs SET status = 'cancelled', finished_at = \(now) WHERE id = $2::uuid AND status = 'running'"
    static let runStepsCancel = """
        UPDATE run_steps SET status = 'cancelled', finished_at = \(now) WHERE run_id = $2::uuid AND status IN ('waiting', 'queued')
        """

    // MARK: queues and metrics

    /// The queues with queued jobs: a loose index scan, one index probe per queue (not a scan
    /// of the backlog).
    static let queuesWithQueued = """
        WITH RECURSIVE q(queue) AS (
            (SELECT queue FROM jobs WHERE status = 'queued' ORDER BY queue LIMIT 1)
            UNION ALL
            SELECT (SELECT j.queue FROM jobs j WHERE j.status = 'queued' AND j.queue > q.queue ORDER BY j.queue LIMIT 1)
            FROM q WHERE q.queue IS NOT NULL
        )
        SELECT queue FROM q WHERE queue IS NOT NULL
        """
    /// One queue's queued jobs, at most $3 of them in claim order: due or not, count, oldest.
    static let queueCountsQueued = """
        SELECT run_at <= \(now), count(*), min(run_at)
        FROM (SELECT run_at FROM jobs WHERE status = 'queued' AND queue = $2 LIMIT $3) x GROUP BY 1
        """
    static let queueCountsRunning = """
        SELECT queue, count(*), min(run_at) FROM (SELECT queue, run_at FROM jobs WHERE status = 'running' LIMIT $1) x GROUP BY 1
        """
    static let queueCountsDLQ = """
        SELECT queue, count(*), min(run_at)
        FROM (SELECT queue, run_at FROM jobs WHERE status = 'dlq' ORDER BY id DESC LIMIT $1) x GROUP BY 1
        """
    static let attemptWindowCounts = """
        SELECT queue, outcome, count(*) FROM attempts WHERE finished_at > \(now) - $2 * interval '1 second' GROUP BY 1, 2
        """
    static let attemptWindowSamples = """
        SELECT queue, wait_ms, (extract(epoch FROM finished_at - started_at) * 1000)::integer FROM attempts
        WHERE finished_at > \(now) - $2 * interval '1 second'
        ORDER BY finished_at DESC LIMIT $3
        """

    // MARK: job types and workers

    static let jobTypeUpsertMany = """
        INSERT INTO job_types (job_type, max_attempts, timeout_seconds, backoff_base_ms, backoff_max_ms, concurrency, updated_at)
        SELECT t, m, ts, bb, bm, c, \(now)
        FROM unnest($2::text[], $3::int[], $4::int[], $5::int[], $6::int[], $7::int[]) AS i(t, m, ts, bb, bm, c)
        ON CONFLICT (job_type) DO UPDATE SET max_attempts = excluded.max_attempts,
            timeout_seconds = excluded.timeout_seconds, backoff_base_ms = excluded.backoff_base_ms,
            backoff_max_ms = excluded.backoff_max_ms, concurrency = excluded.concurrency, updated_at = excluded.updated_at
        """
    static let jobTypeList = """
        SELECT job_type, max_attempts, timeout_seconds, backoff_base_ms, backoff_max_ms, concurrency
        FROM job_types ORDER BY job_type
        """

    static let connectionRoom = """
        SELECT current_setting('max_connections')::int AS max_connections,
               current_setting('superuser_reserved_connections')::int AS reserved,
               (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS open
        """
    static let workerUpsert = """
        INSERT INTO workers (id, host, pid, queues, job_types, concurrency, lease_seconds, started_at, last_heartbeat_at,
                             db_connections)
        VALUES ($2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9::timestamptz, \(now), $10)
        ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, queues = excluded.queues,
            job_types = excluded.job_types, concurrency = excluded.concurrency,
            lease_seconds = excluded.lease_seconds, last_heartbeat_at = excluded.last_heartbeat_at,
            db_connections = excluded.db_connections
        """
    static let workerDelete = "DELETE FROM workers WHERE id = $1"
    static let workerList = """
        SELECT id, host, pid, queues, job_types, concurrency, lease_seconds, started_at, last_heartbeat_at, db_connections
        FROM workers ORDER BY id
        """

    static let clockNow = "SELECT \(now)"
}
