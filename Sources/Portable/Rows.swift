import Foundation

// Every mapper from a stored row to a value of the seam, written once for both backends. Each
// reads the columns of its SELECT in order (the column lists of `SQLiteSQL` and `PostgresSQL`
// have the same order); the backends' `RowReader` adapters hide how values are stored.

extension Job {
    /// A `jobs` row in `jobColumns` order from `column`, then archived_at when `archived` (NULL
    /// for a live job; a job with one is `archived`).
    public init(row: some RowReader, from column: Int = 0, archived: Bool = false) throws {
        let c = row.columns(of: "jobs", from: column)
        id = try c.text("id")
        queue = try c.text("queue")
        jobType = try c.text("job_type")
        payload = try c.text("payload")
        priority = try c.int("priority")
        runAt = try c.date("run_at")
        status = try c.value("status", as: JobStatus.self)
        attempts = try c.int("attempts")
        attemptBase = try c.int("attempt_base")
        maxAttempts = try c.intOrNull("max_attempts")
        timeoutSeconds = try c.intOrNull("timeout_seconds")
        backoffBaseMs = try c.intOrNull("backoff_base_ms")
        idempotencyKey = try c.textOrNull("idempotency_key")
        replayOf = try c.textOrNull("replay_of")
        output = try c.textOrNull("output")
        lastErrorCode = try c.textOrNull("last_error_code")
        lastErrorMessage = try c.textOrNull("last_error_message")
        dlqReasonCode = try c.textOrNull("dlq_reason_code")
        leaseToken = try c.textOrNull("lease_token")
        leaseExpiresAt = try c.dateOrNull("lease_expires_at")
        workerId = try c.textOrNull("worker_id")
        createdAt = try c.date("created_at")
        startedAt = try c.dateOrNull("started_at")
        finishedAt = try c.dateOrNull("finished_at")
        runId = try c.textOrNull("run_id")
        stepSlug = try c.textOrNull("step_slug")
        snoozes = try c.int("snoozes")
        concurrencyKey = try c.textOrNull("concurrency_key")
        let tagsText = try c.text("tags")
        do { tags = try JobTags.parseStored(tagsText) } catch {
            throw PortableError(.backend, "jobs.tags: unreadable value")
        }
        metadata = try c.text("metadata")
        progress = try c.textOrNull("progress")
        progressAt = try c.dateOrNull("progress_at")
        archivedAt = archived ? try c.dateOrNull("archived_at") : nil
        if archivedAt != nil { status = .archived }
    }
}

extension JobListItem {
    /// The whole payload's and output's length in bytes, then a job row (payload and output
    /// possibly cut) and archived_at, as `jobListPreview` selects them.
    public init(row: some RowReader) throws {
        let c = row.columns(of: "jobs")
        let payloadBytes = try c.int("payload_bytes")
        let outputBytes = try c.intOrNull("output_bytes")
        self.init(job: try Job(row: row, from: 2, archived: true), payloadBytes: payloadBytes, outputBytes: outputBytes)
    }
}

extension Attempt {
    /// job_id, attempt, lease_token, worker_id, started_at, finished_at, outcome, error_code,
    /// error_message, decision, retry_at, dlq_reason_code.
    public init(row: some RowReader) throws {
        let c = row.columns(of: "attempts")
        jobId = try c.text("job_id")
        attempt = try c.int("attempt")
        leaseToken = try c.text("lease_token")
        workerId = try c.textOrNull("worker_id")
        startedAt = try c.date("started_at")
        finishedAt = try c.date("finished_at")
        outcome = try c.value("outcome", as: AttemptOutcome.self)
        errorCode = try c.textOrNull("error_code")
        errorMessage = try c.textOrNull("error_message")
        decision = try c.valueOrNull("decision", as: AttemptDecision.self)
        retryAt = try c.dateOrNull("retry_at")
        dlqReason = try c.textOrNull("dlq_reason_code")
    }
}

extension JobEvent {
    /// job_id, at, type, message, after_attempt.
    public init(row: some RowReader) throws {
        let c = row.columns(of: "job_events")
        jobId = try c.text("job_id")
        at = try c.date("at")
        type = try c.text("type")
        message = try c.textOrNull("message")
        afterAttempt = try c.intOrNull("after_attempt")
    }
}

extension ReplayRef {
    /// id, created_at of a job that replays another.
    public init(row: some RowReader) throws {
        let c = row.columns(of: "jobs")
        id = try c.text("id")
        createdAt = try c.date("created_at")
    }
}

extension AppliedMigration {
    /// version, name, compatible_with, applied_at.
    public init(row: some RowReader) throws {
        let c = row.columns(of: "schema_migrations")
        version = try c.int("version")
        name = try c.text("name")
        compatibleWith = try c.int("compatible_with")
        appliedAt = try c.date("applied_at")
    }
}

extension QueuePolicy {
    /// queue, paused, max_running, max_starts_per_second, tokens, tokens_at, concurrency_key_from,
    /// max_running_per_key, max_starts_per_second_per_key.
    public init(row: some RowReader) throws {
        let c = row.columns(of: "queue_policies")
        queue = try c.text("queue")
        paused = try c.bool("paused")
        maxRunning = try c.intOrNull("max_running")
        maxStartsPerSecond = try c.doubleOrNull("max_starts_per_second")
        tokens = try c.doubleOrNull("tokens")
        tokensAt = try c.dateOrNull("tokens_at")
        concurrencyKeyFrom = try c.textOrNull("concurrency_key_from")
        maxRunningPerKey = try c.intOrNull("max_running_per_key")
        maxStartsPerSecondPerKey = try c.doubleOrNull("max_starts_per_second_per_key")
    }
}

extension Decision {
    /// queue, reason_code, minute, count, last_message of `table` (ingest or policy decisions).
    public init(row: some RowReader, table: String) throws {
        let c = row.columns(of: table)
        queue = try c.text("queue")
        reasonCode = try c.text("reason_code")
        minute = try c.date("minute")
        count = try c.int("count")
        lastMessage = try c.textOrNull("last_message")
    }
}

extension Schedule {
    /// name, cron, queue, job_type, payload, priority, max_attempts, timeout_seconds,
    /// last_slot_at, created_at, timezone.
    public init(row: some RowReader) throws {
        let c = row.columns(of: "schedules")
        name = try c.text("name")
        cron = try c.text("cron")
        queue = try c.text("queue")
        jobType = try c.text("job_type")
        payload = try c.text("payload")
        priority = try c.int("priority")
        maxAttempts = try c.intOrNull("max_attempts")
        timeoutSeconds = try c.intOrNull("timeout_seconds")
        lastSlotAt = try c.dateOrNull("last_slot_at")
        createdAt = try c.dateOrNull("created_at")
        timezone = try c.text("timezone")
    }
}

extension MaintenanceRun {
    /// holder, task, started_at, finished_at, affected, details.
    public init(row: some RowReader) throws {
        let c = row.columns(of: "maintenance_runs")
        holder = try c.text("holder")
        task = try c.text("task")
        startedAt = try c.date("started_at")
        finishedAt = try c.date("finished_at")
        affected = try c.int("affected")
        details = try c.textOrNull("details")
    }
}

extension LeaderLease {
    /// holder, expires_at, as seen by `me`.
    public init(row: some RowReader, me: String) throws {
        let c = row.columns(of: "leader_leases")
        holder = try c.text("holder")
        expiresAt = try c.date("expires_at")
        isMine = holder == me
    }
}

extension JobTypePolicy {
    /// job_type, max_attempts, timeout_seconds, backoff_base_ms, backoff_max_ms, concurrency.
    public init(row: some RowReader) throws {
        let c = row.columns(of: "job_types")
        jobType = try c.text("job_type")
        maxAttempts = try c.intOrNull("max_attempts")
        timeoutSeconds = try c.intOrNull("timeout_seconds")
        backoffBaseMs = try c.intOrNull("backoff_base_ms")
        backoffMaxMs = try c.intOrNull("backoff_max_ms")
        concurrency = try c.intOrNull("concurrency")
    }
}

extension WorkerInfo {
    /// id, host, pid, queues, job_types, concurrency, lease_seconds, started_at,
    /// last_heartbeat_at, db_connections; queues and job types are JSON arrays of names, NULL for "every".
    public init(row: some RowReader) throws {
        let c = row.columns(of: "workers")
        id = try c.text("id")
        host = try c.text("host")
        pid = try c.int("pid")
        queues = try c.textOrNull("queues").map { try Rows.names($0, "workers.queues") }
        jobTypes = try c.textOrNull("job_types").map { try Rows.names($0, "workers.job_types") }
        concurrency = try c.int("concurrency")
        leaseSeconds = try c.double("lease_seconds")
        startedAt = try c.date("started_at")
        lastHeartbeatAt = try c.date("last_heartbeat_at")
        dbConnections = try c.intOrNull("db_connections")
    }
}

extension QueueCount {
    /// One queue's queued jobs, grouped: due, count, min(run_at).
    public init(queuedRow row: some RowReader, queue: String) throws {
        let c = row.columns(of: "jobs")
        self.init(queue: queue, status: .queued, due: try c.bool("due"), count: try c.int("count"),
                  oldestRunAt: try c.dateOrNull("oldest_run_at"))
    }

    /// Jobs of one status (running or dlq) by queue: queue, count, min(run_at).
    public init(row: some RowReader, status: JobStatus) throws {
        let c = row.columns(of: "jobs")
        self.init(queue: try c.text("queue"), status: status, due: true, count: try c.int("count"),
                  oldestRunAt: try c.dateOrNull("oldest_run_at"))
    }
}

extension AttemptWindow.Count {
    /// queue, outcome, count.
    public init(row: some RowReader) throws {
        let c = row.columns(of: "attempts")
        queue = try c.text("queue")
        outcome = try c.text("outcome")
        count = try c.int("count")
    }
}

extension AttemptWindow.Sample {
    /// queue, wait_ms, run time in ms.
    public init(row: some RowReader) throws {
        let c = row.columns(of: "attempts")
        queue = try c.text("queue")
        waitMs = try c.intOrNull("wait_ms")
        runMs = try c.int("run_ms")
    }
}

extension FlowDefinition {
    /// version, created_at, definition (the stored file form).
    public init(row: some RowReader) throws {
        let c = row.columns(of: "flows")
        let version = try c.int("version")
        let createdAt = try c.date("created_at")
        let text = try c.text("definition")
        do {
            self = try FlowDefinition.parse(try JSON.parse(text))
        } catch let e as PortableError {
            throw PortableError(.backend, "flows.definition: \(e.message)")
        }
        self.version = version
        self.createdAt = createdAt
    }
}

extension FlowRun {
    /// id, flow_slug, flow_version, status, input, created_at, finished_at, failed_step (steps
    /// are read apart).
    public init(row: some RowReader) throws {
        let c = row.columns(of: "flow_runs")
        id = try c.text("id")
        flowSlug = try c.text("flow_slug")
        flowVersion = try c.int("flow_version")
        status = try c.value("status", as: RunStatus.self)
        input = try c.text("input")
        createdAt = try c.date("created_at")
        finishedAt = try c.dateOrNull("finished_at")
        failedStep = try c.textOrNull("failed_step")
        steps = []
    }
}

extension RunStep {
    /// step_slug, status, remaining_deps, job_id, output, finished_at, map_total, map_done, error_code.
    public init(row: some RowReader) throws {
        let c = row.columns(of: "run_steps")
        slug = try c.text("step_slug")
        status = try c.value("status", as: RunStepStatus.self)
        remainingDeps = try c.int("remaining_deps")
        jobId = try c.textOrNull("job_id")
        output = try c.textOrNull("output")
        finishedAt = try c.dateOrNull("finished_at")
        mapTotal = try c.intOrNull("map_total")
        mapDone = try c.int("map_done")
        errorCode = try c.textOrNull("error_code")
    }
}

extension RunEvent {
    /// at, type, step_slug, job_id, message.
    public init(row: some RowReader) throws {
        let c = row.columns(of: "run_events")
        at = try c.date("at")
        type = try c.text("type")
        step = try c.textOrNull("step_slug")
        jobId = try c.textOrNull("job_id")
        message = try c.textOrNull("message")
    }
}

extension FlowSnapshot {
    /// The run's status, input and its flow version's definition (steps are read apart).
    public init(row: some RowReader, runId: String) throws {
        let c = row.columns(of: "flow_runs")
        self.runId = runId
        status = try c.value("status", as: RunStatus.self)
        input = try c.text("input")
        definitionJSON = try c.text("definition")
        steps = []
    }
}

extension CopyTable {
    /// A row of this table for `portableq copy`, values in `columns` order.
    public func values(_ row: some RowReader) throws -> [CopyValue] {
        let c = row.columns(of: rawValue)
        return try columns.map { column -> CopyValue in
            let value: CopyValue?
            switch column.type {
            case .text, .uuid, .json: value = try c.textOrNull(column.name).map(CopyValue.text)
            case .int: value = try c.intOrNull(column.name).map { .int(Int64($0)) }
            case .double: value = try c.doubleOrNull(column.name).map(CopyValue.double)
            case .bool: value = try c.boolOrNull(column.name).map(CopyValue.bool)
            case .time: value = try c.dateOrNull(column.name).map(CopyValue.time)
            }
            return value ?? .null
        }
    }
}

/// Mappers that make no value of their own.
public enum Rows {
    /// The `id` column of a `table` row (ids returned by a change).
    public static func id(_ row: some RowReader, table: String = "jobs") throws -> String {
        try row.columns(of: table).text("id")
    }

    /// A one-value result (`count(*)` and the like): NULL is an error, as for any required column.
    public static func scalar(_ row: some RowReader) throws -> Int {
        try row.columns(of: "result").int("value")
    }

    /// One second of an enqueue-rate window: the second (epoch milliseconds) and its count.
    public static func rateBucket(_ row: some RowReader) throws -> (second: Int64, count: Int) {
        let c = row.columns(of: "enqueue_rate")
        return (Int64(try c.int("second")), try c.int("count"))
    }

    /// A JSON array of names, as `workers` stores its queue and type lists.
    static func names(_ text: String, _ column: String) throws -> [String] {
        guard case .array(let items)? = try? JSON.parse(text) else {
            throw PortableError(.backend, "\(column): not a JSON array")
        }
        return try items.map { item in
            guard let s = item.stringValue else { throw PortableError(.backend, "\(column): not an array of names") }
            return s
        }
    }
}

extension QueueTotalsRow {
    /// queue, hour, succeeded, failed, retried of queue_totals.
    public init(row: some RowReader) throws {
        let c = row.columns(of: "queue_totals")
        queue = try c.text("queue")
        hour = try c.date("hour")
        succeeded = try c.int("succeeded")
        failed = try c.int("failed")
        retried = try c.int("retried")
    }
}

extension KeyedCandidate {
    /// id, concurrency_key, priority, run_at of a keyed claim's candidate.
    public init(row: some RowReader) throws {
        let c = row.columns(of: "jobs")
        id = try c.text("id")
        key = try c.textOrNull("concurrency_key")
        priority = try c.int("priority")
        runAt = try c.date("run_at")
    }
}

extension KeyState {
    /// concurrency_key, running, tokens, tokens_at of `queue`.
    public init(row: some RowReader, queue: String, from column: Int = 0) throws {
        let c = row.columns(of: "concurrency_keys", from: column)
        self.queue = queue
        key = try c.text("concurrency_key")
        running = try c.int("running")
        tokens = try c.doubleOrNull("tokens")
        tokensAt = try c.dateOrNull("tokens_at")
    }
}
