import Foundation

/// A value moved by `portableq copy`, independent of how a dialect stores it.
public enum CopyValue: Sendable, Equatable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case bool(Bool)
    case time(Date)
}

public enum CopyType: Sendable {
    case text, uuid, json, int, double, bool, time
}

/// The tables `copy` moves, with their columns (the same names in both dialects).
public enum CopyTable: String, CaseIterable, Sendable {
    case jobs, jobsArchive = "jobs_archive", attempts, jobEvents = "job_events", jobKeys = "job_keys"
    case jobTypes = "job_types", queuePolicies = "queue_policies", schedules
    case flows, flowRuns = "flow_runs", runSteps = "run_steps"

    static let jobColumns: [(String, CopyType)] = [
        ("id", .uuid), ("queue", .text), ("job_type", .text), ("payload", .json), ("priority", .int), ("run_at", .time),
        ("status", .text), ("attempts", .int), ("attempt_base", .int), ("max_attempts", .int), ("timeout_seconds", .int),
        ("backoff_base_ms", .int), ("idempotency_key", .text), ("replay_of", .uuid), ("output", .json),
        ("last_error_code", .text), ("last_error_message", .text), ("dlq_reason_code", .text), ("lease_token", .uuid),
        ("lease_expires_at", .time), ("worker_id", .text), ("created_at", .time), ("started_at", .time),
        ("finished_at", .time), ("run_id", .uuid), ("step_slug", .text), ("wait_ms", .int), ("snoozes", .int),
        ("metadata", .json), ("progress", .json), ("progress_at", .time),
    ]

    public var columns: [(name: String, type: CopyType)] {
        switch self {
        case .jobs: return CopyTable.jobColumns + [("unique_key", .text), ("unique_states", .int)]
        case .jobsArchive: return CopyTable.jobColumns + [("archived_at", .time), ("history_pruned_at", .time)]
        case .attempts:
            return [("job_id", .uuid), ("attempt", .int), ("queue", .text), ("lease_token", .uuid), ("worker_id", .text),
                    ("started_at", .time), ("finished_at", .time), ("outcome", .text), ("error_code", .text),
                    ("error_message", .text), ("decision", .text), ("retry_at", .time), ("dlq_reason_code", .text),
                    ("wait_ms", .int)]
        case .jobEvents:
            return [("job_id", .uuid), ("at", .time), ("type", .text), ("message", .text), ("after_attempt", .int)]
        case .jobKeys: return [("queue", .text), ("idempotency_key", .text), ("job_id", .uuid)]
        case .jobTypes:
            return [("job_type", .text), ("max_attempts", .int), ("timeout_seconds", .int), ("backoff_base_ms", .int),
                    ("backoff_max_ms", .int), ("concurrency", .int), ("updated_at", .time)]
        case .queuePolicies:
            return [("queue", .text), ("paused", .bool), ("max_running", .int), ("max_starts_per_second", .double),
                    ("tokens", .double), ("tokens_at", .time), ("updated_at", .time)]
        case .schedules:
            return [("name", .text), ("cron", .text), ("queue", .text), ("job_type", .text), ("payload", .json),
                    ("priority", .int), ("max_attempts", .int), ("timeout_seconds", .int), ("last_slot_at", .time),
                    ("created_at", .time), ("updated_at", .time)]
        case .flows: return [("slug", .text), ("version", .int), ("definition", .json), ("created_at", .time)]
        case .flowRuns:
            return [("id", .uuid), ("flow_slug", .text), ("flow_version", .int), ("status", .text), ("input", .json),
                    ("created_at", .time), ("finished_at", .time), ("failed_step", .text)]
        case .runSteps:
            return [("run_id", .uuid), ("step_slug", .text), ("status", .text), ("remaining_deps", .int), ("job_id", .uuid),
                    ("output", .json), ("finished_at", .time)]
        }
    }

    /// Tables read per page of jobs.
    public var isChildTable: Bool { self == .attempts || self == .jobEvents || self == .jobKeys }
    /// Where a child table's row names its job.
    var jobIdColumn: Int? {
        switch self {
        case .attempts, .jobEvents: return 0
        case .jobKeys: return 2
        default: return nil
        }
    }
    /// The distinct queues named by rows of a table whose rows make a queue known (jobs, the
    /// archive, policies), for the target's known-queue registry.
    func knownQueues(_ rows: [[CopyValue]]) -> [String] {
        guard self == .jobs || self == .jobsArchive || self == .queuePolicies,
              let i = columns.firstIndex(where: { $0.name == "queue" }) else { return [] }
        return Set(rows.compactMap { row -> String? in if case .text(let q) = row[i] { return q }; return nil }).sorted()
    }

    /// Whether the table has a `queue` column to filter on.
    public var hasQueue: Bool {
        switch self {
        case .jobs, .jobsArchive, .attempts, .jobKeys, .queuePolicies, .schedules: return true
        case .jobEvents, .jobTypes, .flows, .flowRuns, .runSteps: return false
        }
    }
}

/// Which rows to read.
public enum CopyScope: Sendable {
    /// Job tables: the next page after `afterId` (id order), optionally in one queue.
    case page(afterId: String?, limit: Int, queue: String?)
    /// Child tables: the rows of these jobs.
    case jobIds([String])
    /// Small tables: all rows (optionally of one queue).
    case all(queue: String?)
}

/// A job `copy --append` may have to skip: its id, and its idempotency key if it has one.
public struct CopyJobRef: Sendable {
    public var id: String
    public var queue: String
    public var idempotencyKey: String?

    /// From a `jobs` or `jobs_archive` row (`CopyTable.jobColumns` order).
    init?(row: [CopyValue]) {
        guard case .text(let id) = row[0], case .text(let queue) = row[1] else { return nil }
        self.id = id
        self.queue = queue
        if case .text(let key) = row[12] { idempotencyKey = key }
    }
}

/// The target side of a copy: one open transaction.
public protocol CopyTarget: Sendable {
    /// Those of `jobs` the target already holds, live or archived, or whose (queue, idempotency
    /// key) belongs to another of its jobs.
    func existingJobs(_ jobs: [CopyJobRef]) async throws -> Set<String>
    /// Inserts rows; with `skipExisting`, rows whose key exists are skipped. Returns how many were inserted.
    func insert(_ table: CopyTable, _ rows: [[CopyValue]], skipExisting: Bool) async throws -> Int
    /// Adds queues to the target's known-queue registry (known ones are skipped).
    func registerQueues(_ queues: [String]) async throws
    /// Rows in the table (of one queue, where it has one) as this transaction sees them.
    func count(_ table: CopyTable, queue: String?) async throws -> Int
    func commit() async throws
    func rollback() async
}

/// What a copy did, per table.
public struct CopyReport: Sendable {
    public var read: [CopyTable: Int] = [:]
    public var inserted: [CopyTable: Int] = [:]
    public var skipped: [CopyTable: Int] { read.mapValues { $0 }.merging(inserted) { r, i in r - i } }

    public var json: JSON {
        .object(CopyTable.allCases.map { t in
            (t.rawValue, .object([("read", .int(read[t] ?? 0)), ("inserted", .int(inserted[t] ?? 0)),
                                  ("skipped", .int((read[t] ?? 0) - (inserted[t] ?? 0)))]))
        })
    }
}

/// `portableq copy`: everything (or one queue) from one database to another, ids kept, in one
/// target transaction, counts verified; the source is only read.
public enum Copier {
    public static func copy(from source: any StorageDriver, to target: any StorageDriver, queue: String?, append: Bool,
                            pageSize: Int = 1000, progress: @Sendable (String) -> Void = { _ in }) async throws -> CopyReport {
        if let queue { try Names.check(queue, "queue") }
        // Refusals first, before anything is written.
        let running = try await source.jobCount(JobFilter(queue: queue, status: .running), cap: 1)
        if running > 0 {
            throw PortableError.conflict("the source holds running jobs\(queue.map { " in queue \($0)" } ?? ""): stop its workers (or wait) and copy again")
        }
        if !append {
            let live = try await target.jobCount(JobFilter(queue: queue), cap: 1)
            let archived = try await target.jobCount(JobFilter(queue: queue, status: .archived), cap: 1)
            if live + archived > 0 {
                throw PortableError.conflict("the target already holds jobs\(queue.map { " in queue \($0)" } ?? ""); use --append to add to them (existing ids and keys are skipped)")
            }
        }
        var report = CopyReport()
        let tx = try await target.copyBegin()
        do {
            // Workflow runs span queues: they come along with a whole-database copy only.
            let small: [CopyTable] = queue == nil ? [.jobTypes, .queuePolicies, .schedules, .flows, .flowRuns, .runSteps]
                                                  : [.jobTypes, .queuePolicies, .schedules, .flows]
            for table in small {
                let rows = try await source.copyRead(table, .all(queue: table.hasQueue ? queue : nil))
                report.read[table, default: 0] += rows.count
                report.inserted[table, default: 0] += try await tx.insert(table, rows, skipExisting: true)
                try await tx.registerQueues(table.knownQueues(rows))
            }
            for table in [CopyTable.jobs, .jobsArchive] {
                var after: String?
                while true {
                    let page = try await source.copyRead(table, .page(afterId: after, limit: pageSize, queue: queue))
                    if page.isEmpty { break }
                    report.read[table, default: 0] += page.count
                    let ids = page.compactMap { row -> String? in if case .text(let s) = row[0] { return s }; return nil }
                    // A job the target holds already is skipped with its whole history: events
                    // have no key of their own, and attempts or keys of a job that moved on in
                    // the target would not be its history there.
                    let skipped = append ? try await tx.existingJobs(page.compactMap(CopyJobRef.init(row:))) : []
                    let copied = skipped.isEmpty ? page : page.filter { row in
                        guard case .text(let id) = row[0] else { return true }
                        return !skipped.contains(id)
                    }
                    report.inserted[table, default: 0] += try await tx.insert(table, copied, skipExisting: append)
                    try await tx.registerQueues(table.knownQueues(copied))
                    for child in [CopyTable.jobKeys, .attempts, .jobEvents] {
                        let rows = try await source.copyRead(child, .jobIds(ids))
                        report.read[child, default: 0] += rows.count
                        let kept = skipped.isEmpty ? rows : rows.filter { row in
                            guard let c = child.jobIdColumn, case .text(let id) = row[c] else { return false }
                            return !skipped.contains(id)
                        }
                        report.inserted[child, default: 0] += try await tx.insert(child, kept, skipExisting: append)
                    }
                    after = ids.last
                    let total = (report.read[.jobs] ?? 0) + (report.read[.jobsArchive] ?? 0)
                    if total % (pageSize * 10) == 0 { progress("copied \(total) jobs…") }
                    if page.count < pageSize { break }
                }
            }
            // Verify before committing: without --append every row read must be in the target.
            if !append {
                for table in [CopyTable.jobs, .jobsArchive] {
                    let n = try await tx.count(table, queue: queue)
                    if n != report.read[table] ?? 0 {
                        throw PortableError(.backend, "verification failed: \(table.rawValue) has \(n) rows in the target, \(report.read[table] ?? 0) were copied")
                    }
                }
            }
            for (t, n) in report.inserted where !append && t.isChildTable && n != report.read[t] {
                throw PortableError(.backend, "verification failed: \(t.rawValue): \(n) of \(report.read[t] ?? 0) rows inserted")
            }
            try await tx.commit()
        } catch {
            await tx.rollback()
            throw error
        }
        return report
    }
}
