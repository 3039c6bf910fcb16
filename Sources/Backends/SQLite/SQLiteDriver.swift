import Foundation
import Portable
import Synchronization

/// portableq on one SQLite file: one writer connection per process (SQLite allows one writer at
/// a time anyway; in-process writers queue on its thread instead of spinning in busy_timeout)
/// and a small pool of readers. Several processes share the file through WAL and
/// `BEGIN IMMEDIATE` with a busy timeout.
public final class SQLiteDriver: StorageDriver {
    public let kind = BackendKind.sqlite
    public let location: String
    let writer: ConnectionPool<SQLiteConnection>
    let readers: ConnectionPool<SQLiteConnection>
    let groupCommit: GroupCommit
    private let created = Mutex(false)
    public let wakeups = JobWakeups()
    /// One writer and the readers (a memory database has only the one connection).
    public let connectionBudget: Int

    public struct Options: Sendable {
        public var path: String
        /// `sqlite::memory:`: one process, one shared connection.
        public var memory = false
        public var synchronous = "FULL"
        public var maxReaders = 4
        public var acquireTimeoutSeconds = 5.0
        /// For commands that only read: every connection is read-only (`mode=ro`, `query_only`),
        /// nothing is created, switched to WAL or migrated, and a write fails at once. Works on a
        /// file (and directory) this user may only read.
        public var readOnly = false
        public init(path: String) { self.path = path }
    }

    public init(_ o: Options) {
        location = o.memory ? "sqlite::memory:" : "sqlite:" + o.path
        connectionBudget = o.memory ? 1 : 1 + o.maxReaders
        let base = SQLiteConnection.Options(path: o.path, memory: o.memory, synchronous: o.synchronous)
        let path = o.path
        let readOnly = o.readOnly && !o.memory
        let writerPool = ConnectionPool<SQLiteConnection>(name: "SQLite writer", max: 1, acquireTimeout: o.acquireTimeoutSeconds * 6) { n in
            ConnectionHost(name: "portableq-sqlite-w\(n)", open: {
                if readOnly { throw PortableError(.backend, "SQLite database at \(path) was opened read-only: this command cannot write") }
                return try SQLiteConnection(base)
            }, isBroken: { _ in false }, close: { _ in })
        }
        writer = writerPool
        groupCommit = GroupCommit(pool: writerPool)
        if readOnly {
            var ro = base
            ro.readOnly = true
            let options = ro
            readers = ConnectionPool(name: "SQLite reader", max: o.maxReaders, acquireTimeout: o.acquireTimeoutSeconds) { n in
                ConnectionHost(name: "portableq-sqlite-r\(n)", open: { try SQLiteConnection(options) },
                               isBroken: { _ in false }, close: { _ in })
            }
            created.withLock { $0 = true }  // nothing to create: readers open the file as it is
        } else if o.memory {
            // A private in-memory database exists only on its connection: read through the writer.
            readers = writerPool
        } else {
            // Readers open read-write without create (a read-only handle cannot make WAL's -shm
            // file) and are made query_only: they never write.
            var readOnly = base
            readOnly.create = false
            readOnly.queryOnly = true
            let ro = readOnly
            readers = ConnectionPool(name: "SQLite reader", max: o.maxReaders, acquireTimeout: o.acquireTimeoutSeconds) { n in
                ConnectionHost(name: "portableq-sqlite-r\(n)", open: { try SQLiteConnection(ro) },
                               isBroken: { _ in false }, close: { _ in })
            }
        }
    }

    /// A write transaction on the writer's thread, group-committed with any that arrive meanwhile.
    func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await groupCommit.run(body)
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        if !created.withLock({ $0 }) {
            // The writer creates the file (and switches it to WAL) before any reader opens it.
            try await writer.with { _ in }
            created.withLock { $0 = true }
        }
        return try await readers.with { c in try body(c) }
    }

    static func nowMs(_ now: Date?) -> Int64 { Time.millis(now ?? Date()) }

    public func close() async {
        await writer.close()
        if readers !== writer { await readers.close() }
    }

    public func clockNow(_ now: Date?) async throws -> Date { now ?? Date() }

    /// Other processes' enqueues are seen by polling (`POLL_INTERVAL_MS`).
    public func wakeupListen() {}

    // MARK: schema

    public func migrationList() async throws -> [AppliedMigration]? {
        try await read { c in
            guard try !c.query(SQLiteSQL.migrationsTableExists, [], { _ in 1 }).isEmpty else { return nil }
            return try c.query(SQLiteSQL.migrationList) { try AppliedMigration(row: $0) }
        }
    }

    public func migrationApply(_ migrations: [Migration]) async throws -> [Int] {
        var applied: [Int] = []
        for m in migrations.sorted(by: { $0.version < $1.version }) {
            let did = try await write { c in
                try c.execute(SQLiteSQL.migrationsTableCreate)
                let done = try c.query(SQLiteSQL.migrationList) { try AppliedMigration(row: $0) }
                if done.contains(where: { $0.version == m.version }) { return false }
                try c.execute(m.sql)
                try c.run(SQLiteSQL.migrationRecord, [.int(Int64(m.version)), .text(m.name),
                                                      .int(Int64(m.compatibleWith)), .int(Time.millis(Date()))])
                return true
            }
            if did { applied.append(m.version) }
        }
        return applied
    }

    // MARK: enqueue

    public func jobInsertMany(_ rows: [JobInsert], now: Date?) async throws -> [JobInsertOutcome] {
        let nowMs = SQLiteDriver.nowMs(now)
        let (existing, keys): ([Int: Existing], [Int: String]) = try await write { c in
            var keys: [Int: String] = [:]
            return (try SQLiteDriver.insert(rows, c, nowMs: nowMs, derivedKeys: &keys), keys)
        }
        for q in Set(rows.enumerated().filter { existing[$0.offset] == nil || existing[$0.offset]?.replaced == true }.map(\.element.queue)) {
            wakeups.notify(queue: q)
        }
        var existingJobs: [String: Job] = [:]
        if !existing.isEmpty {
            for j in try await jobGetMany(Array(Set(existing.values.map(\.id)))) { existingJobs[j.id] = j }
        }
        return try rows.enumerated().map { i, r in
            if let e = existing[i] {
                guard let j = existingJobs[e.id] else {
                    throw e.kind == .unique ? PortableError.uniqueOwnerMoving(r) : PortableError.keyOwnerGone(r)
                }
                return JobInsertOutcome(job: j, created: false, duplicate: e.kind, replaced: e.replaced)
            }
            let runAt = r.runAt.map(Time.millis) ?? nowMs + Int64((r.delaySeconds * 1000).rounded())
            return JobInsertOutcome(job: r.job(runAt: Time.date(millis: runAt), createdAt: Time.date(millis: nowMs),
                                               concurrencyKey: keys[i]), created: true)
        }
    }

    /// The job a row matched instead of being inserted.
    struct Existing {
        var id: String
        var kind: Duplicate
        var replaced: Bool
    }

    /// Inserts rows in the caller's transaction (one writer: checks and inserts cannot
    /// interleave with another producer's), registering each distinct queue once; returns, by
    /// index, the jobs that rows matched by idempotency key (checked first) or unique key, and in
    /// `derivedKeys` each inserted row's concurrency key (given, or derived by its queue's policy).
    static func insert(_ rows: [JobInsert], _ c: SQLiteConnection, nowMs: Int64) throws -> [Int: Existing] {
        var keys: [Int: String] = [:]
        return try insert(rows, c, nowMs: nowMs, derivedKeys: &keys)
    }

    static func insert(_ rows: [JobInsert], _ c: SQLiteConnection, nowMs: Int64,
                       derivedKeys: inout [Int: String]) throws -> [Int: Existing] {
        var existing: [Int: Existing] = [:]
        var keyFrom: [String: String] = [:]
        for q in Set(rows.map(\.queue)).sorted() {
            _ = try c.run(SQLiteSQL.queueRegister, [.text(q)])
            if let f = try c.query(SQLiteSQL.keyFrom, [.text(q)], { try $0.columns(of: "queue_policies").text("concurrency_key_from") }).first {
                keyFrom[q] = f
            }
        }
        for (i, r) in rows.enumerated() {
            if let key = r.idempotencyKey {
                let n = try c.run(SQLiteSQL.keyInsert, [.text(r.queue), .text(key), .text(r.id)])
                if n == 0 {
                    if let id = try c.query(SQLiteSQL.keyLookup, [.text(r.queue), .text(key)], {
                        try $0.columns(of: "job_keys").text("job_id")
                    }).first {
                        existing[i] = Existing(id: id, kind: .idempotencyKey, replaced: false)
                    }
                    continue
                }
            }
            let runAt = r.runAt.map(Time.millis) ?? nowMs + Int64((r.delaySeconds * 1000).rounded())
            // A given key beats one derived from the payload.
            var key = r.concurrencyKey
            if key == nil, let field = keyFrom[r.queue] {
                key = try c.query(SQLiteSQL.derivedKey, [.text(r.payload), .text("$.\"\(field)\"")], { try $0.columns(of: "jobs").textOrNull("concurrency_key") }).first ?? nil
            }
            if let key { derivedKeys[i] = key }
            let tags = r.tags.isEmpty ? "[]" : JSON.array(r.tags.map(JSON.string)).compact
            let values: [SQLValue] = [
                .text(r.id), .text(r.queue), .text(r.jobType), .text(r.payload), .int(Int64(r.priority)),
                .int(runAt), .opt(r.maxAttempts), .opt(r.timeoutSeconds), .opt(r.backoffBaseMs),
                .opt(r.idempotencyKey), .opt(r.replayOf), .int(nowMs), .opt(r.runId), .opt(r.stepSlug), .opt(key),
                .text(tags), .text(r.metadata),
            ]
            guard let uniqueKey = r.uniqueKey else {
                try c.run(SQLiteSQL.jobInsert, values)
                if !r.tags.isEmpty { try c.run(SQLiteSQL.tagInsert, [.text(r.id), .text(tags)]) }
                continue
            }
            if try c.run(SQLiteSQL.jobInsertUnique, values + [.text(uniqueKey), .opt(r.uniqueStates)]) == 1 {
                if !r.tags.isEmpty { try c.run(SQLiteSQL.tagInsert, [.text(r.id), .text(tags)]) }
                continue
            }
            if let key = r.idempotencyKey { try c.run(SQLiteSQL.keyRelease, [.text(r.queue), .text(key), .text(r.id)]) }
            let owner = try c.query(SQLiteSQL.uniqueOwner, [.text(uniqueKey)]) { row -> (String, String) in
                let cols = row.columns(of: "jobs")
                return (try cols.text("id"), try cols.text("status"))
            }.first
            guard let (id, status) = owner else { throw PortableError.uniqueOwnerMoving(r) }
            var replaced = false
            if r.uniqueReplace, status == JobStatus.queued.rawValue {
                replaced = try c.run(SQLiteSQL.uniqueReplace, [.text(r.payload), .int(runAt), .text(id)]) == 1
            }
            existing[i] = Existing(id: id, kind: .unique, replaced: replaced)
        }
        return existing
    }

    public func jobUniqueOwners(_ keys: [String]) async throws -> [String: String] {
        guard !keys.isEmpty else { return [:] }
        let list = JSON.array(keys.map(JSON.string)).compact
        return try await read { c in
            var m: [String: String] = [:]
            for (k, id) in try c.query(SQLiteSQL.uniqueOwners, [.text(list)], { row -> (String, String) in
                let cols = row.columns(of: "jobs")
                return (try cols.text("unique_key"), try cols.text("id"))
            }) { m[k] = id }
            return m
        }
    }

    // MARK: claim, heartbeat, ack

    public func jobLease(_ q: LeaseRequest, now: Date?) async throws -> [Job] {
        let nowMs = SQLiteDriver.nowMs(now)
        return try await write { c in try SQLiteDriver.claim(q, nowMs: nowMs, c) }
    }

    /// Claims in the caller's write transaction. Without a queue list, the queues with queued
    /// jobs are listed first (a loose index scan), so the claim walks the index per queue.
    static func claim(_ q: LeaseRequest, nowMs: Int64, _ c: SQLiteConnection) throws -> [Job] {
        let queues = try q.queues ?? c.query(SQLiteSQL.queuesWithQueued, []) { try $0.columns(of: "jobs").text("queue") }
        guard !queues.isEmpty else { return [] }
        let claim = leaseStatement(q, nowMs: nowMs, queues: queues)
        return try c.query(claim.sql, claim.params) { try Job(row: $0) }
    }

    /// The claim's SQL and parameters for these queues (also what the query-plan guard explains).
    static func leaseStatement(_ q: LeaseRequest, nowMs: Int64, queues: [String], unrestrictedOnly: Bool = true)
        -> (sql: String, params: [SQLValue]) {
        let queues = Array(Set(queues)).sorted()
        return (SQLiteSQL.jobLease(queueCount: queues.count, byType: q.jobTypes != nil, unrestrictedOnly: unrestrictedOnly), [
            .text(q.token), .int(nowMs + Int64((q.leaseSeconds * 1000).rounded())), .text(q.workerId), .int(nowMs),
            .int(Int64(q.limit)), .null,
            q.jobTypes.map { .text(JSON.array($0.map(JSON.string)).compact) } ?? .null,
        ] + queues.map { .text($0) })
    }

    /// The ack and the next claim in one write transaction (one commit, one fsync).
    public func jobCompleteAndLease(_ completions: [Completion], lease q: LeaseRequest, now: Date?)
        async throws -> (acks: [AckResult], jobs: [Job]) {
        let nowMs = SQLiteDriver.nowMs(now)
        return try await write { c in
            var ignored: [String] = []
            let acks = try completions.map { try SQLiteDriver.complete($0, c, nowMs: nowMs, flow: nil, madeIn: &ignored) }
            return (acks, try SQLiteDriver.claim(q, nowMs: nowMs, c))
        }
    }

    public func jobProgressSet(_ lease: LeaseKey, progress: String, now: Date?) async throws -> Bool {
        let nowMs = SQLiteDriver.nowMs(now)
        return try await write { c in
            try c.run(SQLiteSQL.jobProgressSet, [.text(progress), .int(nowMs), .text(lease.jobId), .text(lease.token)]) == 1
        }
    }

    public func jobLeaseExtend(_ leases: [LeaseKey], seconds: Double, now: Date?) async throws -> Set<String> {
        let until = SQLiteDriver.nowMs(now) + Int64((seconds * 1000).rounded())
        return try await write { c in
            var held = Set<String>()
            for l in leases where try c.run(SQLiteSQL.jobLeaseExtend, [.int(until), .text(l.jobId), .text(l.token)]) == 1 {
                held.insert(l.jobId)
            }
            return held
        }
    }

    public func jobCompleteMany(_ completions: [Completion], now: Date?, flow: FlowHook?) async throws -> [AckResult] {
        let nowMs = SQLiteDriver.nowMs(now)
        let (results, madeIn): ([AckResult], [String]) = try await write { c in
            var madeIn: [String] = []
            let results = try completions.map { try SQLiteDriver.complete($0, c, nowMs: nowMs, flow: flow, madeIn: &madeIn) }
            return (results, madeIn)
        }
        for q in Set(madeIn) { wakeups.notify(queue: q) }
        return results
    }

    /// One completion in the caller's transaction: the conditional update, the attempt row, and
    /// for a step job the advance of its run.
    static func complete(_ x: Completion, _ c: SQLiteConnection, nowMs: Int64, flow: FlowHook?, madeIn: inout [String]) throws -> AckResult {
        let runAt = nowMs + Int64((x.delaySeconds * 1000).rounded())
        let rows = try c.query(SQLiteSQL.jobComplete, [
            .text(x.newStatus.rawValue), .opt(x.output), .int(nowMs), .int(runAt), .opt(x.errorCode), .opt(x.errorMessage),
            .opt(x.dlqReason), .int(x.uncounted ? 1 : 0), .text(x.lease.jobId), .text(x.lease.token),
            .int(x.outcome == .snoozed ? 1 : 0),
        ]) { try EndedLease(row: $0) }
        if let ended = rows.first {
            try c.run(SQLiteSQL.attemptInsert, ended.attempt(x.lease, nowMs: nowMs, outcome: x.outcome, errorCode: x.errorCode,
                                                             errorMessage: x.errorMessage, decision: x.decision,
                                                             retryAtMs: x.decision == .retry || x.outcome == .snoozed ? runAt : nil,
                                                             dlqReason: x.dlqReason))
            if let flow, let runId = x.runId, let step = x.stepSlug, let outcome = x.stepOutcome {
                madeIn += try SQLiteDriver.advance(c, runId: runId, jobId: x.lease.jobId, step: step, outcome: outcome, flow: flow,
                                                   nowMs: nowMs)
            }
            return .applied
        }
        let recorded = try c.query(SQLiteSQL.attemptOutcomeByToken, [.text(x.lease.jobId), .text(x.lease.token)]) {
            try $0.columns(of: "attempts").text("outcome")
        }.first
        return recorded == x.outcome.rawValue ? .duplicate : .leaseLost
    }

    /// Advances a run after one of its steps ended, in the ack's transaction (SQLite's single
    /// writer serialises runs). Returns the queues of the jobs it made.
    static func advance(_ c: SQLiteConnection, runId: String, jobId: String, step: String, outcome: StepOutcome, flow: FlowHook,
                        nowMs: Int64) throws -> [String] {
        guard var snapshot = try c.query(SQLiteSQL.runSnapshot, [.text(runId)], { try FlowSnapshot(row: $0, runId: runId) }).first
        else { return [] }
        snapshot.steps = try c.query(SQLiteSQL.runStepList, [.text(runId)]) { try RunStep(row: $0) }
        try mapElements(&snapshot, jobId: jobId, c)
        let changes = try flow.advance(snapshot, step, outcome)
        try apply(changes, runId: runId, c, nowMs: nowMs)
        return changes.newJobs.map(\.queue)
    }

    /// Tells the core whether `jobId` is an element of a map step, and lets it read a step's
    /// elements in this transaction.
    static func mapElements(_ snapshot: inout FlowSnapshot, jobId: String, _ c: SQLiteConnection) throws {
        snapshot.element = try c.query(SQLiteSQL.runElementByJob, [.text(jobId)]) { r -> MapElementRef in
            let col = r.columns(of: "run_elements")
            return MapElementRef(step: try col.text("step_slug"), index: try col.int("idx"), jobId: jobId)
        }.first
        let runId = snapshot.runId
        snapshot.elements = MapElementReader { step in
            try c.query(SQLiteSQL.runElementList, [.text(runId), .text(step)]) { r in
                let col = r.columns(of: "run_elements")
                return MapElementRow(index: try col.int("idx"), jobId: try col.text("job_id"), output: try col.textOrNull("output"))
            }
        }
    }

    static func insertElements(_ elements: [MapElement], _ c: SQLiteConnection) throws {
        for e in elements {
            try c.run(SQLiteSQL.runElementInsert, [.text(e.jobId), .text(e.runId), .text(e.step), .int(Int64(e.index))])
        }
    }

    /// Writes what the core decided for a run, in the caller's transaction. Throws CONFLICT when
    /// the first job to retry (the one an operator asked for) was not put back.
    static func apply(_ changes: FlowChanges, runId: String, _ c: SQLiteConnection, nowMs: Int64) throws {
        let retrySQL = SQLiteSQL.jobRetry(statuses: statusList([.dlq, .cancelled]))
        for (i, t) in changes.retryJobs.enumerated() {
            guard let attempts = try c.query(retrySQL, [.text(t.jobId), .int(nowMs)], { try $0.columns(of: "jobs").int("attempts") }).first
            else {
                if i == 0 { throw PortableError.conflict("job \(t.jobId) changed while it was being retried; try again") }
                continue
            }
            try c.run(SQLiteSQL.eventInsert, [.text(t.jobId), .int(nowMs), .text(t.event.type), .opt(t.event.message), .int(Int64(attempts))])
        }
        for s in changes.steps {
            try c.run(SQLiteSQL.runStepUpdate, [.text(runId), .text(s.slug), .text(s.status.rawValue), .int(Int64(s.remainingDeps)),
                                                .opt(s.jobId), .opt(s.output), .int(nowMs), s.mapTotal.map { .int(Int64($0)) } ?? .null,
                                                .int(Int64(s.mapDone)), .opt(s.errorCode)])
        }
        for e in changes.elementOutputs {
            try c.run(SQLiteSQL.runElementOutput, [.text(e.jobId), .opt(e.output)])
        }
        _ = try insert(changes.newJobs, c, nowMs: nowMs)
        try insertElements(changes.elements, c)
        _ = try cancel(changes.cancelJobs, c, nowMs: nowMs)
        if let rs = changes.runStatus {
            try c.run(SQLiteSQL.runStatusSet, [.text(runId), .text(rs.rawValue), rs == .running ? .null : .int(nowMs), .opt(changes.failedStep)])
        }
        for e in changes.events {
            try c.run(SQLiteSQL.runEventInsert, [.text(runId), .int(nowMs), .text(e.type), .opt(e.step), .opt(e.jobId), .opt(e.message)])
        }
    }

    public func jobReleaseMany(_ leases: [LeaseKey]) async throws -> Int {
        guard !leases.isEmpty else { return 0 }
        return try await write { c in
            try leases.reduce(0) { n, l in n + (try c.run(SQLiteSQL.jobRelease, [.text(l.jobId), .text(l.token)])) }
        }
    }

    public func jobLeaseExpiredList(limit: Int, now: Date?) async throws -> [Job] {
        let nowMs = SQLiteDriver.nowMs(now)
        return try await read { c in
            try c.query(SQLiteSQL.jobLeaseExpiredList, [.int(nowMs), .int(Int64(limit))]) { try Job(row: $0) }
        }
    }

    // MARK: operator actions

    static func statusList(_ s: [JobStatus]) -> String {
        s.map { "'\($0.rawValue)'" }.joined(separator: ", ")
    }

    public func jobRetryMany(_ ids: [String], from: [JobStatus], event: EventNote, now: Date?) async throws -> [String] {
        let nowMs = SQLiteDriver.nowMs(now)
        let sql = SQLiteSQL.jobRetry(statuses: SQLiteDriver.statusList(from))
        return try await write { c in
            var changed: [String] = []
            for id in ids {
                guard let attempts = try c.query(sql, [.text(id), .int(nowMs)], { try $0.columns(of: "jobs").int("attempts") }).first
                else { continue }
                try c.run(SQLiteSQL.eventInsert, [.text(id), .int(nowMs), .text(event.type), .opt(event.message), .opt(attempts)])
                changed.append(id)
            }
            return changed
        }
    }

    public func jobCancelMany(_ targets: [CancelTarget], now: Date?) async throws -> [String] {
        let nowMs = SQLiteDriver.nowMs(now)
        return try await write { c in try SQLiteDriver.cancel(targets, c, nowMs: nowMs) }
    }

    /// Cancels in the caller's transaction, recording what each target says: a queued job's
    /// event, or a running job's attempt. Returns the ids changed.
    static func cancel(_ targets: [CancelTarget], _ c: SQLiteConnection, nowMs: Int64) throws -> [String] {
        var changed: [String] = []
        for t in targets {
            if let token = t.runningToken {
                guard let ended = try c.query(SQLiteSQL.jobCancelRunning,
                                              [.text(t.jobId), .int(nowMs), .text(token), .text(t.errorCode), .text(t.errorMessage)],
                                              { try EndedLease(row: $0) }).first
                else { continue }
                try c.run(SQLiteSQL.attemptInsert, ended.attempt(LeaseKey(jobId: t.jobId, token: token), nowMs: nowMs, outcome: .cancelled,
                                                                 errorCode: t.errorCode, errorMessage: t.errorMessage))
            } else {
                guard let attempts = try c.query(SQLiteSQL.jobCancelQueued, [.text(t.jobId), .int(nowMs)], {
                    try $0.columns(of: "jobs").int("attempts")
                }).first else { continue }
                try c.run(SQLiteSQL.eventInsert, [.text(t.jobId), .int(nowMs), .text(t.event.type), .opt(t.event.message), .opt(attempts)])
            }
            changed.append(t.jobId)
        }
        return changed
    }

    public func jobDeleteMany(_ ids: [String], from: [JobStatus]) async throws -> [String] {
        let live = from.filter { $0 != .archived }
        let sql = SQLiteSQL.jobDelete(statuses: SQLiteDriver.statusList(live.isEmpty ? [.archived] : live))
        let archived = from.contains(.archived)
        return try await write { c in
            var deleted: [String] = []
            for id in ids {
                var n = live.isEmpty ? 0 : try c.run(sql, [.text(id)])
                if n == 0, archived { n = try c.run(SQLiteSQL.archiveDelete, [.text(id)]) }
                guard n > 0 else { continue }
                for h in SQLiteSQL.historyDelete { try c.run(h, [.text(id)]) }
                deleted.append(id)
            }
            return deleted
        }
    }

    // MARK: reads

    public func jobGetMany(_ ids: [String]) async throws -> [Job] {
        guard !ids.isEmpty else { return [] }
        let list = JSON.array(ids.map(JSON.string)).compact
        return try await read { c in try c.query(SQLiteSQL.jobGetMany, [.text(list)]) { try Job(row: $0, archived: true) } }
    }

    /// The WHERE clause; `params` bind ?1…?7, `extra` ?10… (after limit and offset at ?8, ?9).
    static func filterSQL(_ f: JobFilter) -> (archive: Bool, where: String, params: [SQLValue], extra: [SQLValue]) {
        var parts: [String] = []
        let archive = f.status == .archived
        // The status is written into the SQL: SQLite uses a partial index (jobs_queued_idx, ...)
        // only when the query's own text implies the index's WHERE clause.
        if let s = f.status, !archive { parts.append("status = '\(s.rawValue)'") }
        if f.queue != nil { parts.append("queue = ?2") }
        if f.jobType != nil { parts.append("job_type = ?3") }
        if f.errorCode != nil { parts.append("last_error_code = ?4") }
        if f.runId != nil { parts.append("run_id = ?5") }
        if f.dlqReason != nil { parts.append("dlq_reason_code = ?6") }
        if f.runAfter != nil { parts.append("run_at > ?7") }
        var extra: [SQLValue] = []
        // Tags through job_tags' (tag, job_id) key: one walk per tag, the ids then fetched by key.
        for t in f.tags {
            extra.append(.text(t))
            parts.append("id IN (SELECT job_id FROM job_tags WHERE tag = ?\(9 + extra.count))")
        }
        if let k = f.idempotencyKey {
            extra += [.text(f.queue ?? "default"), .text(k)]
            parts.append("id IN (SELECT job_id FROM job_keys WHERE queue = ?\(8 + extra.count) AND idempotency_key = ?\(9 + extra.count))")
        }
        var w = parts.isEmpty ? "" : "WHERE " + parts.joined(separator: " AND ")
        // Without statistics SQLite would walk the primary key (the whole history) for
        // `ORDER BY id DESC` and filter for the few running jobs; their lease index is the
        // running set, and sorting it is cheap.
        if f.status == .running { w = "INDEXED BY jobs_lease_idx " + w }
        let params: [SQLValue] = [.null, .opt(f.queue), .opt(f.jobType),
                                  .opt(f.errorCode), .opt(f.runId), .opt(f.dlqReason), SQLValue.ms(f.runAfter)]
        return (archive, w, params, extra)
    }

    public func jobList(_ filter: JobFilter, limit: Int, offset: Int) async throws -> [Job] {
        try await list(filter, limit: limit, offset: offset, sql: SQLiteSQL.jobList) { try Job(row: $0, archived: true) }
    }

    public func jobListPreview(_ filter: JobFilter, limit: Int, offset: Int) async throws -> [JobListItem] {
        try await list(filter, limit: limit, offset: offset, sql: SQLiteSQL.jobListPreview) { try JobListItem(row: $0) }
    }

    private func list<T: Sendable>(_ filter: JobFilter, limit: Int, offset: Int, sql: (Bool, String) -> String,
                                   map: @escaping @Sendable (SQLiteRow) throws -> T) async throws -> [T] {
        let (archive, w, params, extra) = SQLiteDriver.filterSQL(filter)
        let statement = sql(archive, w)
        return try await read { c in try c.query(statement, params + [.int(Int64(limit)), .int(Int64(offset))] + extra, map) }
    }

    public func jobCount(_ filter: JobFilter, cap: Int) async throws -> Int {
        let (archive, w, params, extra) = SQLiteDriver.filterSQL(filter)
        let sql = SQLiteSQL.jobCount(archive: archive, where: w)
        let bound = params + [.int(Int64(cap))] + (extra.isEmpty ? [] : [.null] + extra)
        return try await read { c in try c.scalar(sql, bound) }
    }

    public func jobHistory(_ id: String) async throws -> JobHistory {
        try await read { c in
            JobHistory(attempts: try c.query(SQLiteSQL.attemptList, [.text(id)]) { try Attempt(row: $0) },
                       events: try c.query(SQLiteSQL.eventList, [.text(id)]) { try JobEvent(row: $0) },
                       replays: try c.query(SQLiteSQL.replayList, [.text(id)]) { try ReplayRef(row: $0) })
        }
    }

    // MARK: queue policies

    public func queuePolicyList() async throws -> [QueuePolicy] {
        try await read { c in try c.query(SQLiteSQL.policyList) { try QueuePolicy(row: $0) } }
    }

    public func queueNameList(limit: Int) async throws -> [String] {
        try await read { c in
            try c.query(SQLiteSQL.queueNameList, [.int(Int64(limit))]) { try $0.columns(of: "queues").text("queue") }
        }
    }

    public func queueNameRegister(_ queues: [String]) async throws {
        guard !queues.isEmpty else { return }
        try await write { c in
            for q in Set(queues).sorted() { _ = try c.run(SQLiteSQL.queueRegister, [.text(q)]) }
        }
    }

    public func queuePolicySet(_ p: QueuePolicy, now: Date?) async throws {
        let nowMs = SQLiteDriver.nowMs(now)
        try await write { c in
            _ = try c.run(SQLiteSQL.queueRegister, [.text(p.queue)])
            _ = try c.run(SQLiteSQL.policySet, [.text(p.queue), .int(p.paused ? 1 : 0), .opt(p.maxRunning),
                                                p.maxStartsPerSecond.map { .double($0) } ?? .null, .int(nowMs),
                                                .opt(p.concurrencyKeyFrom), .opt(p.maxRunningPerKey),
                                                p.maxStartsPerSecondPerKey.map { .double($0) } ?? .null])
        }
    }

    public func jobLeaseRestricted(_ q: LeaseRequest, queue: String, now: Date?,
                                   decide: @escaping @Sendable (QueuePolicy, Int, Int, Date) -> Allowance)
        async throws -> (jobs: [Job], allowance: Allowance) {
        let nowMs = SQLiteDriver.nowMs(now)
        let types: SQLValue = q.jobTypes.map { .text(JSON.array($0.map(JSON.string)).compact) } ?? .null
        let dueSQL = SQLiteSQL.queueDue(byType: q.jobTypes != nil)
        return try await write { c in
            let policy = try c.query(SQLiteSQL.policyGet, [.text(queue)]) { try QueuePolicy(row: $0) }.first ?? QueuePolicy(queue: queue)
            // Per-key limits set since the worker read its policies: the keyed claim's (next poll).
            if policy.hasKeyLimits { return ([], Allowance(count: 0, heldBy: nil, tokensAfter: nil)) }
            let running = try c.scalar(SQLiteSQL.queueRunning, [.text(queue)])
            let due = try c.scalar(dueSQL, [.text(queue), .int(nowMs), .int(Int64(q.limit)), types])
            let allowance = decide(policy, running, due, Time.date(millis: nowMs))
            var jobs: [Job] = []
            if allowance.count > 0 {
                var allowed = q
                allowed.limit = allowance.count
                let claim = SQLiteDriver.leaseStatement(allowed, nowMs: nowMs, queues: [queue], unrestrictedOnly: false)
                jobs = try c.query(claim.sql, claim.params) { try Job(row: $0) }
            }
            if let tokens = allowance.tokensAfter {
                try c.run(SQLiteSQL.policyTokens, [.text(queue), .double(tokens), .int(nowMs)])
            }
            return (jobs, allowance)
        }
    }

    public func jobLeaseKeyed(_ q: LeaseRequest, queue: String, now: Date?,
                              decide: @escaping @Sendable (KeyedClaimView) -> KeyedClaimPlan)
        async throws -> (jobs: [Job], plan: KeyedClaimPlan) {
        let nowMs = SQLiteDriver.nowMs(now)
        let types: SQLValue = q.jobTypes.map { .text(JSON.array($0.map(JSON.string)).compact) } ?? .null
        let keyJobs = SQLiteSQL.keyJobs(byType: q.jobTypes != nil)
        let head = SQLiteSQL.headWithoutKey(byType: q.jobTypes != nil)
        // The write lock serialises claims of the queue, as in jobLeaseRestricted.
        return try await write { c in
            let policy = try c.query(SQLiteSQL.policyGet, [.text(queue)]) { try QueuePolicy(row: $0) }.first ?? QueuePolicy(queue: queue)
            let running = try c.scalar(SQLiteSQL.queueRunning, [.text(queue)])
            var keys: [String: KeyState] = [:]
            var candidates: [KeyedCandidate] = []
            for state in try c.query(SQLiteSQL.keysQueued, [.text(queue)], { try KeyState(row: $0, queue: queue) }) {
                keys[state.key] = state
                // One more than the key's cap leaves room for, so the claim can tell it held jobs back.
                let n = policy.maxRunningPerKey.map { min(q.limit, max(0, $0 - state.running)) + 1 } ?? q.limit
                candidates += try c.query(keyJobs, [.text(queue), .text(state.key), .int(nowMs), .int(Int64(n)), types]) {
                    try KeyedCandidate(row: $0)
                }
            }
            candidates += try c.query(head, [.text(queue), .null, .int(nowMs), .int(Int64(q.limit)), types]) { try KeyedCandidate(row: $0) }
            let dbNow = Time.date(millis: nowMs)
            let plan = decide(KeyedClaimView(policy: policy, running: running, wanted: q.limit, now: dbNow,
                                             candidates: candidates, keys: keys.filter { k, _ in candidates.contains { $0.key == k } }))
            var jobs: [Job] = []
            if !plan.ids.isEmpty {
                jobs = try c.query(SQLiteSQL.jobLeaseIds, [
                    .text(q.token), .int(nowMs + Int64((q.leaseSeconds * 1000).rounded())), .text(q.workerId), .int(nowMs),
                    .text(JSON.array(plan.ids.map(JSON.string)).compact),
                ]) { try Job(row: $0) }
            }
            if let tokens = plan.allowance.tokensAfter {
                try c.run(SQLiteSQL.policyTokens, [.text(queue), .double(tokens), .int(nowMs)])
            }
            for (k, level) in plan.keyTokens.sorted(by: { $0.key < $1.key }) {
                try c.run(SQLiteSQL.keyTokens, [.text(queue), .text(k), .double(level), .int(nowMs)])
            }
            return (jobs, plan)
        }
    }

    public func concurrencyKeyList(queue: String, keys: [String]) async throws -> [KeyState] {
        try await read { c in
            try keys.flatMap { k in try c.query(SQLiteSQL.keyGet, [.text(queue), .text(k)]) { try KeyState(row: $0, queue: queue) } }
        }
    }

    public func queuePurge(_ queue: String, dryRun: Bool) async throws -> Int {
        if dryRun { return try await read { c in try c.scalar(SQLiteSQL.purgeCount, [.text(queue)]) } }
        var total = 0
        while true {
            let n: Int = try await write { c in
                let ids = try c.query(SQLiteSQL.purgeIds, [.text(queue)]) { try Rows.id($0) }
                guard !ids.isEmpty else { return 0 }
                let list = SQLValue.text(JSON.array(ids.map(JSON.string)).compact)
                for h in SQLiteSQL.historyDeleteIds { try c.run(h, [list]) }
                try c.run(SQLiteSQL.archiveRemove, [list])
                return ids.count
            }
            total += n
            if n < 1000 { return total }
        }
    }

    public func queueDeleteAll(_ queue: String) async throws -> Int {
        var total = 0
        while true {
            let n: Int = try await write { c in
                let ids = try c.query(SQLiteSQL.queueAllIds, [.text(queue)]) { try Rows.id($0) }
                guard !ids.isEmpty else { return 0 }
                let list = SQLValue.text(JSON.array(ids.map(JSON.string)).compact)
                for h in SQLiteSQL.historyDeleteIds { try c.run(h, [list]) }
                try c.run(SQLiteSQL.archiveRemove, [list])
                try c.run(SQLiteSQL.archiveDeleteIds, [list])
                return ids.count
            }
            total += n
            if n == 0 { return total }
        }
    }

    // MARK: maintenance

    public func leaderAcquire(name: String, holder: String, seconds: Double, now: Date?) async throws -> LeaderLease {
        let nowMs = SQLiteDriver.nowMs(now)
        return try await write { c in
            try c.run(SQLiteSQL.leaderAcquire, [.text(name), .text(holder), .int(nowMs), .int(nowMs + Int64(seconds * 1000))])
            guard let lease = try c.query(SQLiteSQL.leaderGet, [.text(name)], { try LeaderLease(row: $0, me: holder) }).first
            else { throw LeaderLease.vanished }
            return lease
        }
    }

    public func leaderRelease(name: String, holder: String) async throws {
        try await write { c in _ = try c.run(SQLiteSQL.leaderRelease, [.text(name), .text(holder)]) }
    }

    public func maintenanceRecord(_ runs: [MaintenanceRun]) async throws {
        guard !runs.isEmpty else { return }
        try await write { c in
            for r in runs {
                try c.run(SQLiteSQL.maintenanceInsert, [.text(r.holder), .text(r.task), .int(Time.millis(r.startedAt)),
                                                        .int(Time.millis(r.finishedAt)), .int(Int64(r.affected)), .opt(r.details)])
            }
        }
    }

    public func maintenanceList(limit: Int) async throws -> [MaintenanceRun] {
        try await read { c in
            try c.query(SQLiteSQL.maintenanceList, [.int(Int64(limit))]) { try MaintenanceRun(row: $0) }
        }
    }

    public func jobArchiveBefore(_ cutoff: Date, idBelow: String, limit: Int, now: Date?) async throws -> Int {
        let nowMs = SQLiteDriver.nowMs(now)
        return try await write { c in
            let ids = try c.query(SQLiteSQL.archiveCandidates, [.int(Time.millis(cutoff)), .text(idBelow), .int(Int64(limit))]) {
                try Rows.id($0)
            }
            guard !ids.isEmpty else { return 0 }
            let list = SQLValue.text(JSON.array(ids.map(JSON.string)).compact)
            try c.run(SQLiteSQL.archiveInsert, [list, .int(nowMs)])
            try c.run(SQLiteSQL.archiveRemove, [list])
            return ids.count
        }
    }

    public func archiveDeleteBefore(_ cutoff: Date, limit: Int) async throws -> Int {
        try await write { c in
            let ids = try c.query(SQLiteSQL.archiveExpired, [.int(Time.millis(cutoff)), .int(Int64(limit))]) {
                try Rows.id($0, table: "jobs_archive")
            }
            guard !ids.isEmpty else { return 0 }
            let list = SQLValue.text(JSON.array(ids.map(JSON.string)).compact)
            for h in SQLiteSQL.historyDeleteIds { try c.run(h, [list]) }
            try c.run(SQLiteSQL.archiveDeleteIds, [list])
            return ids.count
        }
    }

    public func historyPruneBefore(_ cutoff: Date, limit: Int, now: Date?) async throws -> Int {
        let nowMs = SQLiteDriver.nowMs(now)
        return try await write { c in
            let ids = try c.query(SQLiteSQL.pruneCandidates, [.int(Time.millis(cutoff)), .int(Int64(limit))]) {
                try Rows.id($0, table: "jobs_archive")
            }
            guard !ids.isEmpty else { return 0 }
            let list = SQLValue.text(JSON.array(ids.map(JSON.string)).compact)
            for h in SQLiteSQL.pruneHistory { try c.run(h, [list]) }
            try c.run(SQLiteSQL.pruneMark, [list, .int(nowMs)])
            return ids.count
        }
    }

    public func expireBefore(_ cutoff: Date) async throws -> Int {
        try await write { c in
            try SQLiteSQL.expire.reduce(0) { n, sql in n + (try c.run(sql, [.int(Time.millis(cutoff))])) }
        }
    }

    public func totalsRollup(_ plan: TotalsRollupPlan) async throws -> TotalsRollupStep {
        try await write { c in
            let mark = try c.query(SQLiteSQL.totalsMark) { try $0.date(0) }.first ?? nil
            let earliest: Date? = if mark == nil { try c.query(SQLiteSQL.attemptsEarliest) { try $0.date(0) }.first ?? nil } else { nil }
            _ = try c.run(SQLiteSQL.totalsExpire, [.int(Time.millis(plan.keepAfter))])
            let from = plan.start(watermark: mark, earliest: earliest)
            let nth = try c.query(SQLiteSQL.attemptsNth, [.int(Time.millis(from)), .int(Int64(plan.maxAttempts))]) { try $0.date(0) }.first ?? nil
            guard let to = plan.end(from: from, nth: nth, first: mark == nil) else {
                return TotalsRollupStep(from: nil, through: mark, attempts: 0)
            }
            let window: [SQLValue] = [.int(Time.millis(from)), .int(Time.millis(to))]
            let n = try c.scalar(SQLiteSQL.totalsCount, window)
            if n > 0 { _ = try c.run(SQLiteSQL.totalsAdd, window) }
            _ = try c.run(SQLiteSQL.totalsSetMark, [.int(Time.millis(to))])
            return TotalsRollupStep(from: from, through: to, attempts: n)
        }
    }

    public func totalsList(queue: String?, since: Date, limit: Int) async throws -> TotalsHistory {
        try await read { c in
            var params: [SQLValue] = [.int(Time.millis(since)), .int(Int64(limit))]
            if let queue { params.append(.text(queue)) }
            let rows = try c.query(queue == nil ? SQLiteSQL.totalsList : SQLiteSQL.totalsListQueue, params) { try QueueTotalsRow(row: $0) }
            let mark = try c.query(SQLiteSQL.totalsMark) { try $0.date(0) }.first ?? nil
            return TotalsHistory(rows: rows, through: mark)
        }
    }

    // MARK: schedules

    public func scheduleUpsert(_ s: Schedule, now: Date?) async throws {
        let nowMs = SQLiteDriver.nowMs(now)
        try await write { c in
            _ = try c.run(SQLiteSQL.scheduleUpsert, [
                .text(s.name), .text(s.cron), .text(s.queue), .text(s.jobType), .text(s.payload), .int(Int64(s.priority)),
                .opt(s.maxAttempts), .opt(s.timeoutSeconds), .ms(s.lastSlotAt), .int(nowMs), .text(s.timezone),
            ])
        }
    }

    public func scheduleDelete(_ name: String) async throws -> Bool {
        try await write { c in try c.run(SQLiteSQL.scheduleDelete, [.text(name)]) > 0 }
    }

    public func scheduleList() async throws -> [Schedule] {
        try await read { c in
            try c.query(SQLiteSQL.scheduleList) { try Schedule(row: $0) }
        }
    }

    public func scheduleAdvance(_ name: String, to slot: Date) async throws {
        try await write { c in _ = try c.run(SQLiteSQL.scheduleAdvance, [.text(name), .int(Time.millis(slot))]) }
    }

    // MARK: guardrails and decisions

    public func jobKeyLookupMany(_ keys: [(queue: String, key: String)]) async throws -> [String: String] {
        guard !keys.isEmpty else { return [:] }
        return try await read { c in
            var out: [String: String] = [:]
            for k in keys {
                if let id = try c.query(SQLiteSQL.keyLookup, [.text(k.queue), .text(k.key)], {
                    try $0.columns(of: "job_keys").text("job_id")
                }).first {
                    out[k.queue + "\u{0}" + k.key] = id
                }
            }
            return out
        }
    }

    public func enqueueRateTake(queue: String, count: Int, limit: Int, now: Date?) async throws -> Double? {
        let nowMs = SQLiteDriver.nowMs(now)
        let second = nowMs / 1000 * 1000
        return try await write { c in
            let since = nowMs - 60_000
            let buckets = try c.query(SQLiteSQL.rateWindow, [.text(queue), .int(since)]) { try Rows.rateBucket($0) }
            if let wait = Guardrail.retryAfter(buckets: buckets, count: count, limit: limit, nowMs: nowMs) { return wait }
            try c.run(SQLiteSQL.rateAdd, [.text(queue), .int(second), .int(Int64(count))])
            try c.run(SQLiteSQL.rateTrim, [.text(queue), .int(since)])
            return nil
        }
    }

    static func table(_ kind: DecisionKind) -> String { kind == .ingest ? "ingest_decisions" : "policy_decisions" }

    public func decisionRecord(_ kind: DecisionKind, _ tallies: [DecisionTally], now: Date?) async throws {
        guard !tallies.isEmpty else { return }
        let minute = SQLiteDriver.nowMs(now) / 60_000 * 60_000
        let sql = SQLiteSQL.decisionRecord(SQLiteDriver.table(kind))
        try await write { c in
            for t in tallies {
                try c.run(sql, [.text(t.queue), .text(t.reasonCode), .int(minute), .int(Int64(t.count)), .opt(t.message)])
            }
        }
    }

    public func decisionList(_ kind: DecisionKind, limit: Int, offset: Int) async throws -> [Decision] {
        let sql = SQLiteSQL.decisionList(SQLiteDriver.table(kind))
        return try await read { c in
            try c.query(sql, [.int(Int64(limit)), .int(Int64(offset))]) { try Decision(row: $0, table: SQLiteDriver.table(kind)) }
        }
    }

    public func decisionCount(_ kind: DecisionKind, cap: Int) async throws -> Int {
        let sql = SQLiteSQL.decisionCount(SQLiteDriver.table(kind))
        return try await read { c in try c.scalar(sql, [.int(Int64(cap))]) }
    }

    // MARK: workflows

    public func flowDefine(_ def: FlowDefinition, now: Date?) async throws -> FlowDefinition {
        let nowMs = SQLiteDriver.nowMs(now)
        let text = def.json.compact
        return try await write { c in
            if let latest = try c.query(SQLiteSQL.flowLatest, [.text(def.slug)], { try FlowDefinition(row: $0) }).first,
               latest.json.compact == text {
                return latest
            }
            var stored = def
            stored.version = try c.scalar(SQLiteSQL.flowNextVersion, [.text(def.slug)])
            stored.createdAt = Time.date(millis: nowMs)
            try c.run(SQLiteSQL.flowInsert, [.text(def.slug), .opt(stored.version), .text(text), .int(nowMs)])
            return stored
        }
    }

    public func flowList() async throws -> [FlowDefinition] {
        try await read { c in try c.query(SQLiteSQL.flowListLatest) { try FlowDefinition(row: $0) } }
    }

    public func flowGet(_ slug: String, version: Int?) async throws -> FlowDefinition? {
        try await read { c in
            if let version {
                return try c.query(SQLiteSQL.flowGetVersion, [.text(slug), .int(Int64(version))]) { try FlowDefinition(row: $0) }.first
            }
            return try c.query(SQLiteSQL.flowLatest, [.text(slug)]) { try FlowDefinition(row: $0) }.first
        }
    }

    public func flowRunStartMany(_ runs: [FlowRun], jobs: [JobInsert], elements: [MapElement], now: Date?) async throws {
        let nowMs = SQLiteDriver.nowMs(now)
        try await write { c in
            for run in runs {
                try c.run(SQLiteSQL.runInsert, [.text(run.id), .text(run.flowSlug), .int(Int64(run.flowVersion)), .text(run.input), .int(nowMs),
                                                .text(run.status.rawValue), .opt(run.failedStep)])
                for s in run.steps {
                    try c.run(SQLiteSQL.runStepInsert, [.text(run.id), .text(s.slug), .text(s.status.rawValue), .int(Int64(s.remainingDeps)),
                                                        .opt(s.jobId), .opt(s.output), s.mapTotal.map { .int(Int64($0)) } ?? .null,
                                                        .opt(s.errorCode), .int(nowMs)])
                }
                for e in run.events {
                    try c.run(SQLiteSQL.runEventInsert, [.text(run.id), .int(nowMs), .text(e.type), .opt(e.step), .opt(e.jobId), .opt(e.message)])
                }
            }
            _ = try SQLiteDriver.insert(jobs, c, nowMs: nowMs)
            try SQLiteDriver.insertElements(elements, c)
        }
        for q in Set(jobs.map(\.queue)) { wakeups.notify(queue: q) }
    }

    public func flowRunGet(_ id: String) async throws -> FlowRun? {
        try await read { c in
            guard var run = try c.query(SQLiteSQL.runGet, [.text(id)], { try FlowRun(row: $0) }).first else { return nil }
            run.steps = try c.query(SQLiteSQL.runStepList, [.text(id)]) { try RunStep(row: $0) }
            run.events = try c.query(SQLiteSQL.runEventList, [.text(id)]) { try RunEvent(row: $0) }
            return run
        }
    }

    public func flowStepRetry(runId: String, jobId: String, hook: FlowRetryHook, now: Date?) async throws -> FlowChanges? {
        let nowMs = SQLiteDriver.nowMs(now)
        let (changes, queues): (FlowChanges?, [String]) = try await write { c in
            guard var snapshot = try c.query(SQLiteSQL.runSnapshot, [.text(runId)], { try FlowSnapshot(row: $0, runId: runId) }).first
            else { return (nil, []) }
            snapshot.steps = try c.query(SQLiteSQL.runStepList, [.text(runId)]) { try RunStep(row: $0) }
            let statuses = try c.query(SQLiteSQL.runJobStatuses, [.text(runId)]) { r -> (String, JobStatus, String?) in
                let col = r.columns(of: "jobs")
                return (try col.text("id"), try col.value("status", as: JobStatus.self), try col.textOrNull("step_slug"))
            }
            snapshot.jobStatuses = Dictionary(statuses.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
            snapshot.jobSteps = Dictionary(statuses.compactMap { s in s.2.map { (s.0, $0) } }, uniquingKeysWith: { a, _ in a })
            try SQLiteDriver.mapElements(&snapshot, jobId: jobId, c)
            let changes = try hook.retry(snapshot, jobId)
            try SQLiteDriver.apply(changes, runId: runId, c, nowMs: nowMs)
            return (changes, changes.newJobs.map(\.queue))
        }
        for q in Set(queues) { wakeups.notify(queue: q) }
        return changes
    }

    public func flowRunDurations(seconds: Double, limit: Int, now: Date?) async throws -> [RunDuration] {
        let since = SQLiteDriver.nowMs(now) - Int64((seconds * 1000).rounded())
        return try await read { c in
            try c.query(SQLiteSQL.runDurations, [.int(since), .int(Int64(limit))]) { r in
                let col = r.columns(of: "flow_runs")
                return RunDuration(flow: try col.text("flow_slug"), ms: try col.int("duration_ms"))
            }
        }
    }

    public func flowRunElementStates(_ runId: String) async throws -> [String: [JobStatus: Int]] {
        try await read { c in
            var out: [String: [JobStatus: Int]] = [:]
            for (step, status, n) in try c.query(SQLiteSQL.runElementStates, [.text(runId)], { r -> (String, JobStatus, Int) in
                let col = r.columns(of: "run_elements")
                return (try col.text("step_slug"), try col.value("status", as: JobStatus.self), try col.int("count"))
            }) { out[step, default: [:]][status] = n }
            return out
        }
    }

    public func flowRunList(_ flow: String?, status: RunStatus?, limit: Int, offset: Int) async throws -> [FlowRun] {
        try await read { c in
            try c.query(SQLiteSQL.runList, [.opt(flow), .int(Int64(limit)), .int(Int64(offset)), .opt(status?.rawValue)]) { try FlowRun(row: $0) }
        }
    }

    public func flowRunCount(_ flow: String?, status: RunStatus?, cap: Int) async throws -> Int {
        try await read { c in try c.scalar(SQLiteSQL.runCount, [.opt(flow), .int(Int64(cap)), .opt(status?.rawValue)]) }
    }

    public func flowRunCancel(_ id: String, now: Date?) async throws -> Bool {
        let nowMs = SQLiteDriver.nowMs(now)
        return try await write { c in
            guard try c.run(SQLiteSQL.runCancel, [.text(id), .int(nowMs)]) == 1 else { return false }
            try c.run(SQLiteSQL.runStepsCancel, [.text(id), .int(nowMs)])
            return true
        }
    }

    // MARK: copy between backends

    public func copyRead(_ table: CopyTable, _ scope: CopyScope) async throws -> [[CopyValue]] {
        let cols = table.columns
        let select = "SELECT \(cols.map(\.name).joined(separator: ", ")) FROM \(table.rawValue)"
        let (sql, params): (String, [SQLValue])
        switch scope {
        case .page(let after, let limit, let queue):
            sql = select + " WHERE (?1 IS NULL OR id > ?1) AND (?3 IS NULL OR queue = ?3) ORDER BY id LIMIT ?2"
            params = [.opt(after), .int(Int64(limit)), .opt(queue)]
        case .jobIds(let ids):
            sql = select + " WHERE job_id IN (SELECT value FROM json_each(?1))"
            params = [.text(JSON.array(ids.map(JSON.string)).compact)]
        case .all(let queue):
            sql = table.hasQueue ? select + " WHERE (?1 IS NULL OR queue = ?1)" : select
            params = table.hasQueue ? [.opt(queue)] : []
        }
        return try await read { c in
            try c.query(sql, params) { try table.values($0) }
        }
    }

    public func copyBegin() async throws -> any CopyTarget {
        _ = try await read { _ in 0 }  // the file exists and is in WAL mode
        let host = try await writer.acquire()
        do {
            try await host.with { c in try c.execute("BEGIN IMMEDIATE") }
        } catch {
            writer.release(host)
            throw error
        }
        return SQLiteCopyTarget(host: host, pool: writer)
    }

    // MARK: queues and metrics

    public func queueCounts(now: Date?) async throws -> [QueueCount] {
        let nowMs = SQLiteDriver.nowMs(now)
        let cap = SQLValue.int(Int64(QueueCount.cap))
        return try await read { c in
            // One snapshot for all the counts.
            try c.transaction(immediate: false) {
                var out: [QueueCount] = []
                for queue in try c.query(SQLiteSQL.queuesWithQueued, [], { try $0.columns(of: "jobs").text("queue") }) {
                    out += QueueCount.markCapped(try c.query(SQLiteSQL.queueCountsQueued, [.int(nowMs), .text(queue), cap]) {
                        try QueueCount(queuedRow: $0, queue: queue)
                    })
                }
                for (sql, status) in [(SQLiteSQL.queueCountsRunning, JobStatus.running), (SQLiteSQL.queueCountsDLQ, .dlq)] {
                    out += QueueCount.markCapped(try c.query(sql, [cap]) { try QueueCount(row: $0, status: status) })
                }
                return out
            }
        }
    }

    public func attemptWindow(seconds: Double, sampleLimit: Int, now: Date?) async throws -> AttemptWindow {
        let since = SQLiteDriver.nowMs(now) - Int64(seconds * 1000)
        return try await read { c in
            AttemptWindow(
                counts: try c.query(SQLiteSQL.attemptWindowCounts, [.int(since)]) { try AttemptWindow.Count(row: $0) },
                samples: try c.query(SQLiteSQL.attemptWindowSamples, [.int(since), .int(Int64(sampleLimit))]) {
                    try AttemptWindow.Sample(row: $0)
                })
        }
    }

    // MARK: job types and workers

    public func jobTypeUpsertMany(_ policies: [JobTypePolicy], now: Date?) async throws {
        let nowMs = SQLiteDriver.nowMs(now)
        try await write { c in
            for p in policies {
                try c.run(SQLiteSQL.jobTypeUpsert, [.text(p.jobType), .opt(p.maxAttempts), .opt(p.timeoutSeconds),
                                                    .opt(p.backoffBaseMs), .opt(p.backoffMaxMs), .opt(p.concurrency), .int(nowMs)])
            }
        }
    }

    public func jobTypeList() async throws -> [JobTypePolicy] {
        try await read { c in
            try c.query(SQLiteSQL.jobTypeList) { try JobTypePolicy(row: $0) }
        }
    }

    public func workerUpsert(_ w: WorkerInfo, now: Date?) async throws {
        let nowMs = SQLiteDriver.nowMs(now)
        try await write { c in
            _ = try c.run(SQLiteSQL.workerUpsert, [
                .text(w.id), .text(w.host), .int(Int64(w.pid)),
                w.queues.map { .text(JSON.array($0.map(JSON.string)).compact) } ?? .null,
                w.jobTypes.map { .text(JSON.array($0.map(JSON.string)).compact) } ?? .null,
                .int(Int64(w.concurrency)), .double(w.leaseSeconds), .int(Time.millis(w.startedAt)), .int(nowMs),
                w.dbConnections.map { .int(Int64($0)) } ?? .null,
            ])
        }
    }

    public func workerDelete(_ id: String) async throws {
        try await write { c in _ = try c.run(SQLiteSQL.workerDelete, [.text(id)]) }
    }

    public func workerList() async throws -> [WorkerInfo] {
        try await read { c in
            try c.query(SQLiteSQL.workerList) { try WorkerInfo(row: $0) }
        }
    }
}

/// What ending a lease returns (`jobComplete`, `jobCancelRunning`): the job's side of the
/// attempt row written next in the same transaction.
struct EndedLease {
    var attempt: Int
    var workerId: String?
    var startedAtMs: Int?
    var queue: String
    var waitMs: Int?

    init(row: SQLiteRow) throws {
        let c = row.columns(of: "jobs")
        attempt = try c.int("attempts")
        workerId = try c.textOrNull("worker_id")
        startedAtMs = try c.intOrNull("started_at")
        queue = try c.text("queue")
        waitMs = try c.intOrNull("wait_ms")
    }

    /// The parameters of `SQLiteSQL.attemptInsert` for the attempt this lease ended with.
    func attempt(_ lease: LeaseKey, nowMs: Int64, outcome: AttemptOutcome, errorCode: String?, errorMessage: String?,
                 decision: AttemptDecision? = nil, retryAtMs: Int64? = nil, dlqReason: String? = nil) -> [SQLValue] {
        [
            .text(lease.jobId), .opt(attempt), .text(lease.token), .opt(workerId), .int(startedAtMs.map(Int64.init) ?? nowMs),
            .int(nowMs), .text(outcome.rawValue), .opt(errorCode), .opt(errorMessage), .opt(decision?.rawValue),
            retryAtMs.map(SQLValue.int) ?? .null, .opt(dlqReason), .text(queue), .opt(waitMs),
        ]
    }
}

/// One `BEGIN IMMEDIATE` transaction on the writer connection, held for a whole copy.
final class SQLiteCopyTarget: CopyTarget {
    let host: ConnectionHost<SQLiteConnection>
    let pool: ConnectionPool<SQLiteConnection>

    init(host: ConnectionHost<SQLiteConnection>, pool: ConnectionPool<SQLiteConnection>) {
        self.host = host
        self.pool = pool
    }

    func insert(_ table: CopyTable, _ rows: [[CopyValue]], skipExisting: Bool) async throws -> Int {
        guard !rows.isEmpty else { return 0 }
        let cols = table.columns.map(\.name)
        let sql = "INSERT \(skipExisting ? "OR IGNORE " : "")INTO \(table.rawValue) (\(cols.joined(separator: ", "))) VALUES ("
            + (1...cols.count).map { "?\($0)" }.joined(separator: ", ") + ")"
        return try await host.with { c in
            try rows.reduce(0) { n, row in
                n + (try c.run(sql, row.map { v -> SQLValue in
                    switch v {
                    case .null: return .null
                    case .int(let i): return .int(i)
                    case .double(let d): return .double(d)
                    case .text(let t): return .text(t)
                    case .bool(let b): return .int(b ? 1 : 0)
                    case .time(let d): return .int(Time.millis(d))
                    }
                }))
            }
        }
    }

    func registerQueues(_ queues: [String]) async throws {
        guard !queues.isEmpty else { return }
        try await host.with { c in for q in queues { _ = try c.run(SQLiteSQL.queueRegister, [.text(q)]) } }
    }

    func count(_ table: CopyTable, queue: String?) async throws -> Int {
        let sql = "SELECT count(*) FROM \(table.rawValue)" + (table.hasQueue ? " WHERE (?1 IS NULL OR queue = ?1)" : "")
        return try await host.with { c in try c.scalar(sql, table.hasQueue ? [.opt(queue)] : []) }
    }

    /// Ids taken (live or archived) and keys held by another job; the jobs travel as one JSON array.
    static let existingJobs = """
        WITH wanted AS (SELECT value ->> '$.id' AS id, value ->> '$.queue' AS queue, value ->> '$.key' AS key
                        FROM json_each(?1))
        SELECT w.id FROM wanted w WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.id = w.id)
            OR EXISTS (SELECT 1 FROM jobs_archive a WHERE a.id = w.id)
            OR EXISTS (SELECT 1 FROM job_keys k WHERE k.queue = w.queue AND k.idempotency_key = w.key AND k.job_id <> w.id)
        """

    func existingJobs(_ jobs: [CopyJobRef]) async throws -> Set<String> {
        guard !jobs.isEmpty else { return [] }
        let wanted = JSON.array(jobs.map { j in
            .object([("id", .string(j.id)), ("queue", .string(j.queue)), ("key", j.idempotencyKey.map(JSON.string) ?? .null)])
        }).compact
        return try await host.with { c in
            Set(try c.query(SQLiteCopyTarget.existingJobs, [.text(wanted)]) { try Rows.id($0) })
        }
    }

    func commit() async throws {
        defer { pool.release(host) }
        try await host.with { c in try c.execute("COMMIT") }
    }

    func rollback() async {
        _ = try? await host.with { c in try c.execute("ROLLBACK") }
        pool.release(host)
    }
}
