import Foundation
import Portable

/// portableq on PostgreSQL through libpq: a pool of connections, each on its own thread, every
/// statement prepared once per connection. Tables live in the URL's schema (default
/// `portableq`). Batches travel as array parameters (`unnest`), so a batch is one round trip.
public final class PostgresDriver: StorageDriver {
    public let kind = BackendKind.postgres
    public let location: String
    public let url: PostgresURL
    let pool: ConnectionPool<PGConnection>
    public let wakeups = JobWakeups()
    let listener: PGListener

    public struct Options: Sendable {
        public var maxConnections = 10
        public var acquireTimeoutSeconds = 5.0
        /// `DISABLE_SYNC_COMMIT`: commits return before the WAL is flushed (a documented trade).
        public var disableSyncCommit = false
        /// `DISABLE_JIT`: JIT compilation only slows down short queue statements.
        public var disableJIT = false
        /// `DB_STATEMENT_TIMEOUT_MS`: how long a connect or one statement may take before the call
        /// fails with `UNAVAILABLE` (a hung server must not hang the API or a worker).
        public var statementTimeoutSeconds = 5.0
        public init() {}

        /// Bulk statements (maintenance and purge batches, copy) move many rows: more time, still bounded.
        var bulkTimeoutSeconds: Double { max(30, statementTimeoutSeconds * 6) }
    }

    /// What a call does, for the retry rule in `with`.
    enum Call { case read, write, idempotent }
    /// How long each statement of a call may take: `request` (the setting), `bulk`, or
    /// `unbounded` for migrations (waiting for the migration lock and DDL is the point).
    enum Wait { case request, bulk, unbounded }

    let options: Options

    public init(url: PostgresURL, options: Options = Options()) {
        self.url = url
        location = url.description
        var settings: [String] = []
        if options.disableSyncCommit { settings.append("synchronous_commit=off") }
        if options.disableJIT { settings.append("jit=off") }
        let s = settings
        let timeout = options.statementTimeoutSeconds
        self.options = options
        listener = PGListener(url: url, wakeups: wakeups, timeout: timeout)
        pool = ConnectionPool(name: "PostgreSQL", max: options.maxConnections, acquireTimeout: options.acquireTimeoutSeconds) { n in
            ConnectionHost(name: "portableq-pg-\(n)", open: { try PGConnection(url: url, sessionSettings: s, connectTimeout: timeout) },
                           isBroken: { $0.isStale }, close: { _ in })
        }
    }

    /// Runs `body` on a pooled connection, each statement under the deadline of `wait`.
    ///
    /// The retry rule: a connection that fails at the connection level (the server restarted or
    /// ended the session; not a deadline that passed) is dropped and the call runs once more on
    /// a fresh connection — reads and idempotent writes always, other writes only when the
    /// failure came before any statement that changes something was sent (so it cannot have
    /// committed). A stale idle connection is usually caught before it is used (`isStale`).
    func with<T: Sendable>(_ call: Call = .write, wait: Wait = .request,
                           _ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        let timeout = seconds(wait)
        let repeatable = call != .write
        return try await pool.with(retry: { c, e in c.mayRetry(after: e, idempotent: repeatable) }) { c in
            c.begin(timeout: timeout)
            return try body(c)
        }
    }

    func seconds(_ wait: Wait) -> Double? {
        switch wait {
        case .request: return options.statementTimeoutSeconds
        case .bulk: return options.bulkTimeoutSeconds
        case .unbounded: return nil
        }
    }

    static func ts(_ d: Date?) -> String? { d.map(Time.format) }

    public func close() async {
        listener.stop()
        await pool.close()
    }

    public func wakeupListen() { listener.start() }

    public func clockNow(_ now: Date?) async throws -> Date {
        let n = PostgresDriver.ts(now)
        return try await with(.read) { c in try c.clock(n) }
    }

    /// Connections the server can still accept from ordinary roles: max_connections less
    /// the superuser reserve and the client connections open now (this process's included).
    func serverConnectionRoom() async throws -> (free: Int, max: Int, open: Int) {
        try await with(.read) { c in
            guard let row = try c.query(PostgresSQL.connectionRoom).first else { return (0, 0, 0) }
            let r = row.columns(of: "pg_stat_activity")
            let (max, reserved, open) = (try r.int("max_connections"), try r.int("reserved"), try r.int("open"))
            return (max - reserved - open, max, open)
        }
    }

    // MARK: schema

    public func migrationList() async throws -> [AppliedMigration]? {
        try await with(.read) { c in
            let exists = try c.query(PostgresSQL.migrationsTableExists).first.map { try $0.columns(of: "schema_migrations").bool("exists") }
            guard exists == true else { return nil }
            return try c.query(PostgresSQL.migrationList).map { try AppliedMigration(row: $0) }
        }
    }

    public func migrationApply(_ migrations: [Migration]) async throws -> [Int] {
        let schema = url.schema
        var applied: [Int] = []
        for m in migrations.sorted(by: { $0.version < $1.version }) {
            let did = try await with(.write, wait: .unbounded) { c in
                try c.transaction {
                    _ = try c.query(PostgresSQL.migrationLock, [schema])
                    try c.exec(PostgresSQL.schemaCreate(schema))
                    try c.exec(PostgresSQL.searchPath(schema))
                    try c.exec(PostgresSQL.migrationsTableCreate)
                    let done = try c.query(PostgresSQL.migrationList).map { try AppliedMigration(row: $0) }
                    if done.contains(where: { $0.version == m.version }) { return false }
                    try c.exec(m.sql)
                    _ = try c.query(PostgresSQL.migrationRecord, [String(m.version), m.name, String(m.compatibleWith)])
                    return true
                }
            }
            if did { applied.append(m.version) }
        }
        return applied
    }

    // MARK: enqueue

    public func jobInsertMany(_ rows: [JobInsert], now: Date?) async throws -> [JobInsertOutcome] {
        if rows.contains(where: { $0.uniqueKey != nil }) { return try await insertUnique(rows, now: now) }
        let params = insertParams(rows, now: now)
        // Only id and the database's times come back; the rest is what was sent.
        let times: [String: (Date, Date, String?)] = try await with { [self] c in
            let r = try c.query(PostgresSQL.jobInsertMany, params)
            var m: [String: (Date, Date, String?)] = [:]
            m.reserveCapacity(r.rows)
            var queues = Set<String>()
            for row in r.all {
                let job = row.columns(of: "jobs")
                m[try job.text("id")] = (try job.date("run_at"), try job.date("created_at"), try job.textOrNull("concurrency_key"))
                queues.insert(try job.text("queue"))
            }
            notify(c, queues)
            return m
        }
        let created = rows.compactMap { row -> Job? in
            guard let (runAt, createdAt, key) = times[row.id] else { return nil }
            return row.job(runAt: runAt, createdAt: createdAt, concurrencyKey: key)
        }
        return try await insertOutcomes(rows, created: created)
    }

    /// A batch holding unique jobs, in one transaction: the insert (a live holder of a key makes
    /// its row insert nothing), then for rows not inserted the keys they took are given back and
    /// the jobs they matched are found: idempotency key first, else the unique key's holder, which
    /// a `replace` row updates if still queued. A holder that left its states between the insert
    /// and the lookup leaves its row unmatched: such rows go round again (a few times at most).
    func insertUnique(_ rows: [JobInsert], now: Date?) async throws -> [JobInsertOutcome] {
        var outcomes: [String: JobInsertOutcome] = [:]
        var remaining = rows
        for _ in 0..<3 where !remaining.isEmpty {
            let batch = remaining
            let params = insertParams(batch, now: now)
            let n = PostgresDriver.ts(now)
            let round: UniqueRound = try await with { c in
                var round = UniqueRound()
                var queues = Set<String>()
                try c.transaction {
                    for row in try c.query(PostgresSQL.jobInsertManyUnique, params).all {
                        let job = row.columns(of: "jobs")
                        round.created[try job.text("id")] = (try job.date("run_at"), try job.date("created_at"),
                                                             try job.textOrNull("concurrency_key"))
                        queues.insert(try job.text("queue"))
                    }
                    let skipped = batch.filter { round.created[$0.id] == nil }
                    guard !skipped.isEmpty else { return }
                    _ = try c.query(PostgresSQL.keyReleaseMany, [PGArray.literal(skipped.map(\.id))])
                    let keyed = skipped.filter { $0.idempotencyKey != nil }
                    let keyOwners = keyed.isEmpty ? [:] : try PostgresDriver.keyOwners(c.query(PostgresSQL.keyLookup, [
                        PGArray.literal(keyed.map(\.queue)), PGArray.literal(keyed.map { $0.idempotencyKey ?? "" })]))
                    var uniqueRows: [JobInsert] = []
                    for r in skipped {
                        if let k = r.idempotencyKey, let id = keyOwners[r.queue + "\u{0}" + k] {
                            round.matched[r.id] = (id, .idempotencyKey, false)
                        } else if r.uniqueKey != nil {
                            uniqueRows.append(r)
                        }
                    }
                    guard !uniqueRows.isEmpty else { return }
                    var holders: [String: (id: String, status: String)] = [:]
                    for row in try c.query(PostgresSQL.uniqueOwners, [PGArray.literal(uniqueRows.compactMap(\.uniqueKey))]).all {
                        let job = row.columns(of: "jobs")
                        holders[try job.text("unique_key")] = (try job.text("id"), try job.text("status"))
                    }
                    for r in uniqueRows {
                        guard let key = r.uniqueKey, let h = holders[key] else { continue }
                        var replaced = false
                        if r.uniqueReplace, h.status == JobStatus.queued.rawValue {
                            replaced = try !c.query(PostgresSQL.uniqueReplace, [
                                n, r.payload, PostgresDriver.ts(r.runAt), String(r.delaySeconds), h.id]).all.isEmpty
                            if replaced { queues.insert(r.queue) }
                        }
                        round.matched[r.id] = (h.id, .unique, replaced)
                    }
                }
                self.notify(c, queues)
                return round
            }
            let existing = Dictionary(try await jobGetMany(Array(Set(round.matched.values.map(\.id)))).map { ($0.id, $0) },
                                      uniquingKeysWith: { a, _ in a })
            for r in batch {
                if let (runAt, createdAt, key) = round.created[r.id] {
                    outcomes[r.id] = JobInsertOutcome(job: r.job(runAt: runAt, createdAt: createdAt, concurrencyKey: key), created: true)
                } else if let m = round.matched[r.id], let j = existing[m.id] {
                    outcomes[r.id] = JobInsertOutcome(job: j, created: false, duplicate: m.kind, replaced: m.replaced)
                }
            }
            remaining = batch.filter { outcomes[$0.id] == nil }
        }
        return try rows.map { r in
            guard let o = outcomes[r.id] else {
                throw r.uniqueKey != nil ? PortableError.uniqueOwnerMoving(r) : PortableError.keyOwnerGone(r)
            }
            return o
        }
    }

    /// What one round of `insertUnique` found, by row id.
    struct UniqueRound: Sendable {
        var created: [String: (Date, Date, String?)] = [:]
        var matched: [String: (id: String, kind: Duplicate, replaced: Bool)] = [:]
    }

    public func jobUniqueOwners(_ keys: [String]) async throws -> [String: String] {
        guard !keys.isEmpty else { return [:] }
        return try await with(.read) { c in
            var m: [String: String] = [:]
            for row in try c.query(PostgresSQL.uniqueOwners, [PGArray.literal(keys)]).all {
                let job = row.columns(of: "jobs")
                m[try job.text("unique_key")] = try job.text("id")
            }
            return m
        }
    }

    /// The parameters of `PostgresSQL.jobInsertMany`: one array per column.
    func insertParams(_ rows: [JobInsert], now: Date?) -> [String?] {
        [
            PostgresDriver.ts(now),
            PGArray.literal(rows.map(\.id)),
            PGArray.literal(rows.map(\.queue)),
            PGArray.literal(rows.map(\.jobType)),
            PGArray.literal(rows.map(\.payload)),
            PGArray.literal(ints: rows.map(\.priority)),
            PGArray.literalOrNull(rows.map { PostgresDriver.ts($0.runAt) }),
            PGArray.literalOrNull(rows.map { $0.delaySeconds == 0 ? nil : String($0.delaySeconds) }),
            PGArray.literalOrNull(ints: rows.map(\.maxAttempts)),
            PGArray.literalOrNull(ints: rows.map(\.timeoutSeconds)),
            PGArray.literalOrNull(ints: rows.map(\.backoffBaseMs)),
            PGArray.literalOrNull(rows.map(\.idempotencyKey)),
            PGArray.literalOrNull(rows.map(\.replayOf)),
            PGArray.literalOrNull(rows.map(\.runId)),
            PGArray.literalOrNull(rows.map(\.stepSlug)),
            PGArray.literalOrNull(rows.map(\.uniqueKey)),
            PGArray.literalOrNull(ints: rows.map(\.uniqueStates)),
            PGArray.literalOrNull(rows.map(\.concurrencyKey)),
            PGArray.literalOrNull(rows.map { $0.tags.isEmpty ? nil : PGArray.literal($0.tags) }),
            PGArray.literalOrNull(rows.map { $0.metadata == "{}" ? nil : $0.metadata }),
        ]
    }

    /// Wakes listening workers of these queues, after the jobs committed (outside any
    /// transaction; see `PostgresSQL.notifyQueues`). A failure here is not the caller's: the
    /// jobs are stored and workers still find them on their next poll.
    func notify(_ c: PGConnection, _ queues: Set<String>) {
        guard !queues.isEmpty else { return }
        _ = try? c.query(PostgresSQL.notifyQueues, [url.channel, PGArray.literal(queues.sorted())])
    }

    /// Created jobs as they came back, and for taken keys the existing jobs (a second round trip
    /// only on that path).
    func insertOutcomes(_ rows: [JobInsert], created: [Job]) async throws -> [JobInsertOutcome] {
        if created.count == rows.count {
            return created.map { JobInsertOutcome(job: $0, created: true) }
        }
        // Some keys were taken: find their jobs (a second round trip only on this path).
        let byId = Dictionary(created.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let dupes = rows.filter { byId[$0.id] == nil }
        let keyed: [String: String] = try await with(.read) { c in
            try PostgresDriver.keyOwners(c.query(PostgresSQL.keyLookup, [PGArray.literal(dupes.map(\.queue)),
                                                                        PGArray.literal(dupes.map { $0.idempotencyKey ?? "" })]))
        }
        let existing = Dictionary(try await jobGetMany(Array(Set(keyed.values))).map { ($0.id, $0) },
                                  uniquingKeysWith: { a, _ in a })
        return try rows.map { row in
            if let j = byId[row.id] { return JobInsertOutcome(job: j, created: true) }
            let key = row.queue + "\u{0}" + (row.idempotencyKey ?? "")
            guard let id = keyed[key], let j = existing[id] else { throw PortableError.keyOwnerGone(row) }
            return JobInsertOutcome(job: j, created: false)
        }
    }

    // MARK: claim, heartbeat, ack

    public func jobLease(_ q: LeaseRequest, now: Date?) async throws -> [Job] {
        let (sql, p) = PostgresDriver.leaseStatement(q, now: now)
        return try await with { c in try c.query(sql, p).map { try Job(row: $0) } }
    }

    public func jobLeaseExtend(_ leases: [LeaseKey], seconds: Double, now: Date?) async throws -> Set<String> {
        let params: [String?] = [PostgresDriver.ts(now), String(seconds), PGArray.literal(leases.map(\.jobId)),
                                 PGArray.literal(leases.map(\.token))]
        return try await with(.idempotent) { c in
            Set(try c.query(PostgresSQL.jobLeaseExtend, params).map { try Rows.id($0) })
        }
    }

    public func jobCompleteAndLease(_ completions: [Completion], lease q: LeaseRequest, now: Date?)
        async throws -> (acks: [AckResult], jobs: [Job]) {
        let (sql, p) = completeAndLeaseStatement(completions, lease: q, now: now)
        let (applied, jobs): (Set<String>, [Job]) = try await with { c in
            var applied = Set<String>()
            var jobs: [Job] = []
            // Rows: (true, acked job id, NULLs…) or (false, a claimed job's columns).
            for row in try c.query(sql, p).all {
                let ack = row.columns(of: "jobs")
                if try ack.bool("acked") {
                    applied.insert(try ack.text("job_id"))
                } else {
                    jobs.append(try Job(row: row, from: 1))
                }
            }
            return (applied, jobs)
        }
        return (try await ackResults(completions, applied: applied), jobs)
    }

    /// The claim's SQL and parameters (also what the query-plan guard test explains).
    static func leaseStatement(_ q: LeaseRequest, now: Date?, unrestrictedOnly: Bool = true) -> (sql: String, params: [String?]) {
        let mode = QueueMode(q.queues)
        var params: [String?] = [PostgresDriver.ts(now), q.token, String(q.leaseSeconds), q.workerId, String(q.limit)]
        if let qs = q.queues { params.append(mode == .one ? qs[0] : PGArray.literal(qs)) }
        if let ts = q.jobTypes { params.append(PGArray.literal(ts)) }
        return (PostgresSQL.jobLease(queues: mode, byType: q.jobTypes != nil, unrestrictedOnly: unrestrictedOnly), params)
    }

    /// The ack-and-claim statement's SQL and parameters.
    func completeAndLeaseStatement(_ completions: [Completion], lease q: LeaseRequest, now: Date?)
        -> (sql: String, params: [String?]) {
        let mode = QueueMode(q.queues)
        var params = completeParams(completions, now: now)
        params += [q.token, String(q.leaseSeconds), q.workerId, String(q.limit)]
        if let qs = q.queues { params.append(mode == .one ? qs[0] : PGArray.literal(qs)) }
        if let ts = q.jobTypes { params.append(PGArray.literal(ts)) }
        return (PostgresSQL.jobCompleteAndLease(queues: mode, byType: q.jobTypes != nil), params)
    }

    /// The ack's parameters: $1 now, then one array per field.
    func completeParams(_ completions: [Completion], now: Date?) -> [String?] {
        [
            PostgresDriver.ts(now),
            PGArray.literal(completions.map(\.lease.jobId)),
            PGArray.literal(completions.map(\.lease.token)),
            PGArray.literal(completions.map(\.outcome.rawValue)),
            PGArray.literal(completions.map(\.newStatus.rawValue)),
            PGArray.literalOrNull(completions.map(\.output)),
            PGArray.literalOrNull(completions.map(\.errorCode)),
            PGArray.literalOrNull(completions.map(\.errorMessage)),
            PGArray.literalOrNull(completions.map { $0.delaySeconds == 0 ? nil : String($0.delaySeconds) }),
            PGArray.literalOrNull(completions.map(\.dlqReason)),
            PGArray.literalOrNull(completions.map { $0.decision?.rawValue }),
            PGArray.literal(ints: completions.map { $0.uncounted ? 1 : 0 }),
        ]
    }

    /// Per completion: applied, or (looked up only on that rare path) duplicate or lease lost.
    func ackResults(_ completions: [Completion], applied: Set<String>) async throws -> [AckResult] {
        if applied.count == completions.count { return completions.map { _ in .applied } }
        let rest = completions.filter { !applied.contains($0.lease.jobId) }
        let recorded: [String: String] = try await with(.read) { c in
            let r = try c.query(PostgresSQL.attemptOutcomeByToken, [PGArray.literal(rest.map(\.lease.jobId)),
                                                                     PGArray.literal(rest.map(\.lease.token))])
            var m: [String: String] = [:]
            for row in r.all {
                let attempt = row.columns(of: "attempts")
                m[try attempt.text("job_id")] = try attempt.text("outcome")
            }
            return m
        }
        return completions.map { x in
            if applied.contains(x.lease.jobId) { return .applied }
            return recorded[x.lease.jobId] == x.outcome.rawValue ? .duplicate : .leaseLost
        }
    }

    public func jobCompleteMany(_ completions: [Completion], now: Date?, flow: FlowHook?) async throws -> [AckResult] {
        let params = completeParams(completions, now: now)
        let steps = completions.compactMap { x -> (jobId: String, runId: String, step: String, outcome: StepOutcome)? in
            guard let runId = x.runId, let step = x.stepSlug, let outcome = x.stepOutcome else { return nil }
            return (x.lease.jobId, runId, step, outcome)
        }
        let applied: Set<String> = try await with { [self] c in
            func complete() throws -> Set<String> {
                Set(try c.query(PostgresSQL.jobCompleteMany, params).map { try $0.columns(of: "attempts").text("job_id") })
            }
            guard let flow, !steps.isEmpty else { return try complete() }
            // Step jobs: the ack and what follows in their runs commit together.
            var queues = Set<String>()
            let applied = try c.transaction {
                let applied = try complete()
                for x in steps where applied.contains(x.jobId) {
                    queues.formUnion(try advance(c, runId: x.runId, jobId: x.jobId, step: x.step, outcome: x.outcome, flow: flow, now: now))
                }
                return applied
            }
            notify(c, queues)
            return applied
        }
        return try await ackResults(completions, applied: applied)
    }

    public func jobReleaseMany(_ leases: [LeaseKey]) async throws -> Int {
        guard !leases.isEmpty else { return 0 }
        let params: [String?] = [PGArray.literal(leases.map(\.jobId)), PGArray.literal(leases.map(\.token))]
        return try await with { c in try c.query(PostgresSQL.jobReleaseMany, params).affectedRows }
    }

    public func jobProgressSet(_ lease: LeaseKey, progress: String, now: Date?) async throws -> Bool {
        guard UUID(uuidString: lease.token) != nil, UUID(uuidString: lease.jobId) != nil else { return false }
        let params: [String?] = [PostgresDriver.ts(now), progress, lease.jobId, lease.token]
        return try await with { c in try c.query(PostgresSQL.jobProgressSet, params).affectedRows == 1 }
    }

    public func jobLeaseExpiredList(limit: Int, now: Date?) async throws -> [Job] {
        let params: [String?] = [PostgresDriver.ts(now), String(limit)]
        return try await with(.read) { c in
            try c.query(PostgresSQL.jobLeaseExpiredList, params).map { try Job(row: $0) }
        }
    }

    // MARK: operator actions

    public func jobRetryMany(_ ids: [String], from: [JobStatus], event: EventNote, now: Date?) async throws -> [String] {
        let params: [String?] = [PostgresDriver.ts(now), PGArray.literal(ids), PGArray.literal(from.map(\.rawValue)),
                                 event.type, event.message]
        return try await with { c in try c.query(PostgresSQL.jobRetryMany, params).map { try Rows.id($0) } }
    }

    public func jobCancelMany(_ targets: [CancelTarget], now: Date?) async throws -> [String] {
        let params = PostgresDriver.cancelParams(targets, now: now)
        return try await with { c in try c.query(PostgresSQL.jobCancelMany, params).map { try Rows.id($0) } }
    }

    /// The cancel's parameters: $1 now, then one array per field of the targets.
    static func cancelParams(_ targets: [CancelTarget], now: Date?) -> [String?] {
        [
            PostgresDriver.ts(now), PGArray.literal(targets.map(\.jobId)), PGArray.literal(targets.map(\.runningToken)),
            PGArray.literal(targets.map(\.event.type)), PGArray.literal(targets.map(\.event.message)),
            PGArray.literal(targets.map(\.errorCode)), PGArray.literal(targets.map(\.errorMessage)),
        ]
    }

    public func jobDeleteMany(_ ids: [String], from: [JobStatus]) async throws -> [String] {
        let params: [String?] = [PGArray.literal(ids), PGArray.literal(from.filter { $0 != .archived }.map(\.rawValue)),
                                 from.contains(.archived) ? "true" : "false"]
        return try await with { c in
            try c.query(PostgresSQL.jobDeleteMany, params).map { try Rows.id($0) }
        }
    }

    // MARK: reads

    public func jobGetMany(_ ids: [String]) async throws -> [Job] {
        guard !ids.isEmpty else { return [] }
        let params: [String?] = [PGArray.literal(ids)]
        return try await with(.read) { c in
            try c.query(PostgresSQL.jobGetMany, params).map { try Job(row: $0, archived: true) }
        }
    }

    /// A WHERE clause with parameters numbered from $1, and the values.
    static func filterSQL(_ f: JobFilter) -> (archive: Bool, where: String, params: [String?]) {
        var parts: [String] = []
        var params: [String?] = []
        func add(_ column: String, _ value: String, cast: String = "") {
            params.append(value)
            parts.append("\(column) = $\(params.count)\(cast)")
        }
        let archive = f.status == .archived
        // The status is written into the SQL (one prepared statement per status) so that even a
        // generic plan can use the partial index of that status (jobs_queued_idx, ...).
        if let s = f.status, !archive { parts.append("status = '\(s.rawValue)'") }
        if let q = f.queue { add("queue", q) }
        if let t = f.jobType { add("job_type", t) }
        if let e = f.errorCode { add("last_error_code", e) }
        if let r = f.runId { add("run_id", r, cast: "::uuid") }
        if let d = f.dlqReason { add("dlq_reason_code", d) }
        if let t = f.runAfter {
            params.append(Time.format(t))
            parts.append("run_at > $\(params.count)::timestamptz")
        }
        if !f.tags.isEmpty {
            // `tags <> '{}'` is the GIN indexes' predicate, repeated so a generic plan can use them.
            params.append(PGArray.literal(f.tags))
            parts.append("tags @> $\(params.count)::text[] AND tags <> '{}'")
        }
        if let k = f.idempotencyKey {
            // Through job_keys' primary key (queue, key): the key stays there while its job is kept.
            params += [f.queue ?? "default", k]
            parts.append("id IN (SELECT job_id FROM job_keys WHERE queue = $\(params.count - 1) AND idempotency_key = $\(params.count))")
        }
        return (archive, parts.isEmpty ? "" : "WHERE " + parts.joined(separator: " AND "), params)
    }

    public func jobList(_ filter: JobFilter, limit: Int, offset: Int) async throws -> [Job] {
        try await list(filter, limit: limit, offset: offset, sql: PostgresSQL.jobList) { try Job(row: $0, archived: true) }
    }

    public func jobListPreview(_ filter: JobFilter, limit: Int, offset: Int) async throws -> [JobListItem] {
        try await list(filter, limit: limit, offset: offset, sql: PostgresSQL.jobListPreview) { try JobListItem(row: $0) }
    }

    private func list<T: Sendable>(_ filter: JobFilter, limit: Int, offset: Int,
                                   sql: (Bool, String, Int, Int) -> String, map: @escaping @Sendable (PGRow) throws -> T) async throws -> [T] {
        let (archive, w, p) = PostgresDriver.filterSQL(filter)
        let statement = sql(archive, w, p.count + 1, p.count + 2)
        let params = p + [String(limit), String(offset)]
        return try await with(.read) { c in try c.query(statement, params).map(map) }
    }

    public func jobCount(_ filter: JobFilter, cap: Int) async throws -> Int {
        let (archive, w, p) = PostgresDriver.filterSQL(filter)
        let sql = PostgresSQL.jobCount(archive: archive, where: w, limit: p.count + 1)
        let params = p + [String(cap)]
        return try await with(.read) { c in try c.scalar(sql, params) }
    }

    public func jobHistory(_ id: String) async throws -> JobHistory {
        try await with(.read) { c in
            JobHistory(attempts: try c.query(PostgresSQL.attemptList, [id]).map { try Attempt(row: $0) },
                       events: try c.query(PostgresSQL.eventList, [id]).map { try JobEvent(row: $0) },
                       replays: try c.query(PostgresSQL.replayList, [id]).map { try ReplayRef(row: $0) })
        }
    }

    // MARK: queue policies

    public func queueNameList(limit: Int) async throws -> [String] {
        try await with(.read) { c in
            try c.query(PostgresSQL.queueNameList, [String(limit)]).map { try $0.columns(of: "queues").text("queue") }
        }
    }

    public func queueNameRegister(_ queues: [String]) async throws {
        guard !queues.isEmpty else { return }
        try await with(.idempotent) { c in _ = try c.query(PostgresSQL.queueRegister, [PGArray.literal(queues)]) }
    }

    public func queuePolicyList() async throws -> [QueuePolicy] {
        try await with(.read) { c in
            try c.query(PostgresSQL.policyList).map { try QueuePolicy(row: $0) }
        }
    }

    public func queuePolicySet(_ p: QueuePolicy, now: Date?) async throws {
        let params: [String?] = [PostgresDriver.ts(now), p.queue, p.paused ? "true" : "false", p.maxRunning.map(String.init),
                                 p.maxStartsPerSecond.map { String($0) }, p.concurrencyKeyFrom, p.maxRunningPerKey.map(String.init),
                                 p.maxStartsPerSecondPerKey.map { String($0) }]
        try await with(.idempotent) { c in _ = try c.query(PostgresSQL.policySet, params) }
    }

    public func jobLeaseRestricted(_ q: LeaseRequest, queue: String, now: Date?,
                                   decide: @escaping @Sendable (QueuePolicy, Int, Int, Date) -> Allowance)
        async throws -> (jobs: [Job], allowance: Allowance) {
        let n = PostgresDriver.ts(now)
        let dueSQL = PostgresSQL.queueDue(byType: q.jobTypes != nil)
        let types = q.jobTypes.map { PGArray.literal($0) }
        return try await with { c in
            try c.transaction {
                _ = try c.query(PostgresSQL.queueLock, [queue])
                let dbNow = try c.clock(n)
                let policy = try c.query(PostgresSQL.policyGet, [queue]).first.map { try QueuePolicy(row: $0) } ?? QueuePolicy(queue: queue)
                // Per-key limits set since the worker read its policies: the keyed claim's (next poll).
                if policy.hasKeyLimits { return ([], Allowance(count: 0, heldBy: nil, tokensAfter: nil)) }
                let running = try c.scalar(PostgresSQL.queueRunning, [queue])
                var dueParams: [String?] = [n, queue, String(q.limit)]
                if let types { dueParams.append(types) }
                let due = try c.scalar(dueSQL, dueParams)
                let allowance = decide(policy, running, due, dbNow)
                var jobs: [Job] = []
                if allowance.count > 0 {
                    var allowed = q
                    allowed.queues = [queue]
                    allowed.limit = allowance.count
                    let claim = PostgresDriver.leaseStatement(allowed, now: now, unrestrictedOnly: false)
                    jobs = try c.query(claim.sql, claim.params).map { try Job(row: $0) }
                }
                if let tokens = allowance.tokensAfter {
                    _ = try c.query(PostgresSQL.policyTokens, [queue, String(tokens), Time.format(dbNow)])
                }
                return (jobs, allowance)
            }
        }
    }

    public func jobLeaseKeyed(_ q: LeaseRequest, queue: String, now: Date?,
                              decide: @escaping @Sendable (KeyedClaimView) -> KeyedClaimPlan)
        async throws -> (jobs: [Job], plan: KeyedClaimPlan) {
        let n = PostgresDriver.ts(now)
        let candidatesSQL = PostgresSQL.keyCandidates(byType: q.jobTypes != nil)
        let types = q.jobTypes.map { PGArray.literal($0) }
        return try await with { c in
            try c.transaction {
                _ = try c.query(PostgresSQL.queueLock, [queue])
                let dbNow = try c.clock(n)
                let policy = try c.query(PostgresSQL.policyGet, [queue]).first.map { try QueuePolicy(row: $0) } ?? QueuePolicy(queue: queue)
                let running = try c.scalar(PostgresSQL.queueRunning, [queue])
                var params: [String?] = [n, queue, String(q.limit), policy.maxRunningPerKey.map(String.init)]
                if let types { params.append(types) }
                var candidates: [KeyedCandidate] = []
                var keys: [String: KeyState] = [:]
                for row in try c.query(candidatesSQL, params).all {
                    let cand = try KeyedCandidate(row: row)
                    candidates.append(cand)
                    if let k = cand.key, keys[k] == nil { keys[k] = try KeyState(row: row, queue: queue, from: 4) }
                }
                let plan = decide(KeyedClaimView(policy: policy, running: running, wanted: q.limit, now: dbNow,
                                                 candidates: candidates, keys: keys))
                var jobs: [Job] = []
                if !plan.ids.isEmpty {
                    jobs = try c.query(PostgresSQL.jobLeaseIds, [n, q.token, String(q.leaseSeconds), q.workerId,
                                                                 PGArray.literal(plan.ids)]).map { try Job(row: $0) }
                }
                if let tokens = plan.allowance.tokensAfter {
                    _ = try c.query(PostgresSQL.policyTokens, [queue, String(tokens), Time.format(dbNow)])
                }
                if !plan.keyTokens.isEmpty {
                    let levels = plan.keyTokens.sorted { $0.key < $1.key }
                    _ = try c.query(PostgresSQL.keyTokens, [queue, PGArray.literal(levels.map(\.key)),
                                                            PGArray.literal(levels.map { String($0.value) }), Time.format(dbNow)])
                }
                return (jobs, plan)
            }
        }
    }

    public func concurrencyKeyList(queue: String, keys: [String]) async throws -> [KeyState] {
        guard !keys.isEmpty else { return [] }
        return try await with(.read) { c in
            try c.query(PostgresSQL.keyList, [queue, PGArray.literal(keys)]).map { try KeyState(row: $0, queue: queue) }
        }
    }

    public func queuePurge(_ queue: String, dryRun: Bool) async throws -> Int {
        if dryRun { return try await with(.read, wait: .bulk) { c in try c.scalar(PostgresSQL.purgeCount, [queue]) } }
        var total = 0
        while true {
            let n = try await with(.write, wait: .bulk) { c in try c.scalar(PostgresSQL.purge, [queue]) }
            total += n
            if n < 1000 { return total }
        }
    }

    public func queueDeleteAll(_ queue: String) async throws -> Int {
        var total = 0
        while true {
            let n = try await with(.write, wait: .bulk) { c in try c.scalar(PostgresSQL.queueDeleteAll, [queue]) }
            total += n
            if n == 0 { return total }
        }
    }

    // MARK: maintenance

    public func leaderAcquire(name: String, holder: String, seconds: Double, now: Date?) async throws -> LeaderLease {
        let n = PostgresDriver.ts(now)
        // One transaction: ON CONFLICT locks the existing row, so a holder's release (a DELETE)
        // cannot land between the two statements and leave nothing to read (that crashed a
        // worker whose peer was shutting down).
        return try await with { c in
            try c.transaction {
                _ = try c.query(PostgresSQL.leaderAcquire, [n, name, holder, String(seconds)])
                guard let row = try c.query(PostgresSQL.leaderGet, [name]).first else { throw LeaderLease.vanished }
                return try LeaderLease(row: row, me: holder)
            }
        }
    }

    public func leaderRelease(name: String, holder: String) async throws {
        try await with(.idempotent) { c in _ = try c.query(PostgresSQL.leaderRelease, [name, holder]) }
    }

    public func maintenanceRecord(_ runs: [MaintenanceRun]) async throws {
        guard !runs.isEmpty else { return }
        let params: [String?] = [
            PGArray.literal(runs.map(\.holder)), PGArray.literal(runs.map(\.task)),
            PGArray.literal(runs.map { Time.format($0.startedAt) }), PGArray.literal(runs.map { Time.format($0.finishedAt) }),
            PGArray.literal(ints: runs.map(\.affected)), PGArray.literal(runs.map(\.details)),
        ]
        try await with { c in _ = try c.query(PostgresSQL.maintenanceInsert, params) }
    }

    public func maintenanceList(limit: Int) async throws -> [MaintenanceRun] {
        try await with(.read) { c in
            try c.query(PostgresSQL.maintenanceList, [String(limit)]).map { try MaintenanceRun(row: $0) }
        }
    }

    public func jobArchiveBefore(_ cutoff: Date, idBelow: String, limit: Int, now: Date?) async throws -> Int {
        let params: [String?] = [PostgresDriver.ts(now), Time.format(cutoff), idBelow, String(limit)]
        return try await with(.write, wait: .bulk) { c in try c.query(PostgresSQL.archiveMove, params).affectedRows }
    }

    public func archiveDeleteBefore(_ cutoff: Date, limit: Int) async throws -> Int {
        try await with(.write, wait: .bulk) { c in try c.scalar(PostgresSQL.archiveDelete, [Time.format(cutoff), String(limit)]) }
    }

    public func historyPruneBefore(_ cutoff: Date, limit: Int, now: Date?) async throws -> Int {
        let params: [String?] = [PostgresDriver.ts(now), Time.format(cutoff), String(limit)]
        return try await with(.write, wait: .bulk) { c in try c.scalar(PostgresSQL.historyPrune, params) }
    }

    public func expireBefore(_ cutoff: Date) async throws -> Int {
        try await with(.write, wait: .bulk) { c in try c.scalar(PostgresSQL.expire, [Time.format(cutoff)]) }
    }

    public func totalsRollup(_ plan: TotalsRollupPlan) async throws -> TotalsRollupStep {
        try await with(.write, wait: .bulk) { c in
            try c.transaction {
                let mark = try c.query(PostgresSQL.totalsMark).first.flatMap { try $0.date(0) }
                let earliest: Date? = if mark == nil { try c.query(PostgresSQL.attemptsEarliest).first.flatMap { try $0.date(0) } } else { nil }
                _ = try c.query(PostgresSQL.totalsExpire, [Time.format(plan.keepAfter)])
                let from = plan.start(watermark: mark, earliest: earliest)
                let nth = try c.query(PostgresSQL.attemptsNth, [Time.format(from), String(plan.maxAttempts)]).first.flatMap { try $0.date(0) }
                guard let to = plan.end(from: from, nth: nth, first: mark == nil) else {
                    return TotalsRollupStep(from: nil, through: mark, attempts: 0)
                }
                let n = try c.scalar(PostgresSQL.totalsAdd, [Time.format(from), Time.format(to)])
                _ = try c.query(PostgresSQL.totalsSetMark, [Time.format(to)])
                return TotalsRollupStep(from: from, through: to, attempts: n)
            }
        }
    }

    public func totalsList(queue: String?, since: Date, limit: Int) async throws -> TotalsHistory {
        try await with(.read) { c in
            var params: [String?] = [Time.format(since), String(limit)]
            if let queue { params.append(queue) }
            let rows = try c.query(queue == nil ? PostgresSQL.totalsList : PostgresSQL.totalsListQueue, params).map { try QueueTotalsRow(row: $0) }
            let mark = try c.query(PostgresSQL.totalsMarkRead).first.flatMap { try $0.date(0) }
            return TotalsHistory(rows: rows, through: mark)
        }
    }

    // MARK: schedules

    public func scheduleUpsert(_ s: Schedule, now: Date?) async throws {
        let params: [String?] = [PostgresDriver.ts(now), s.name, s.cron, s.queue, s.jobType, s.payload, String(s.priority),
                                 s.maxAttempts.map(String.init), s.timeoutSeconds.map(String.init), PostgresDriver.ts(s.lastSlotAt),
                                 s.timezone]
        try await with(.idempotent) { c in _ = try c.query(PostgresSQL.scheduleUpsert, params) }
    }

    public func scheduleDelete(_ name: String) async throws -> Bool {
        try await with { c in try c.query(PostgresSQL.scheduleDelete, [name]).affectedRows > 0 }
    }

    public func scheduleList() async throws -> [Schedule] {
        try await with(.read) { c in
            try c.query(PostgresSQL.scheduleList).map { try Schedule(row: $0) }
        }
    }

    public func scheduleAdvance(_ name: String, to slot: Date) async throws {
        try await with(.idempotent) { c in _ = try c.query(PostgresSQL.scheduleAdvance, [name, Time.format(slot)]) }
    }

    // MARK: guardrails and decisions

    public func jobKeyLookupMany(_ keys: [(queue: String, key: String)]) async throws -> [String: String] {
        guard !keys.isEmpty else { return [:] }
        let params: [String?] = [PGArray.literal(keys.map(\.queue)), PGArray.literal(keys.map(\.key))]
        return try await with(.read) { c in try PostgresDriver.keyOwners(c.query(PostgresSQL.keyLookupMany, params)) }
    }

    /// Rows of `job_keys` (queue, idempotency_key, job_id) as "queue\0key" → job id.
    static func keyOwners(_ r: PGResult) throws -> [String: String] {
        var m: [String: String] = [:]
        for row in r.all {
            let key = row.columns(of: "job_keys")
            m[try key.text("queue") + "\u{0}" + key.text("idempotency_key")] = try key.text("job_id")
        }
        return m
    }

    public func enqueueRateTake(queue: String, count: Int, limit: Int, now: Date?) async throws -> Double? {
        let n = PostgresDriver.ts(now)
        return try await with { c in
            try c.transaction {
                _ = try c.query(PostgresSQL.rateLock, [queue])
                let r = try c.query(PostgresSQL.rateWindow, [n, queue])
                let buckets = try r.map { try Rows.rateBucket($0) }
                // The window's rows carry the database's now; an empty window asks for it.
                let nowMs = Int64(try r.first.map { try $0.columns(of: "enqueue_rate", from: 2).int("now") }
                                  ?? c.one(PostgresSQL.rateNow, [n]) { try Rows.scalar($0) })
                if let wait = Guardrail.retryAfter(buckets: buckets, count: count, limit: limit, nowMs: nowMs) { return wait }
                _ = try c.query(PostgresSQL.rateAdd, [n, queue, String(count)])
                _ = try c.query(PostgresSQL.rateTrim, [n, queue])
                return nil
            }
        }
    }

    static func table(_ kind: DecisionKind) -> String { kind == .ingest ? "ingest_decisions" : "policy_decisions" }

    public func decisionRecord(_ kind: DecisionKind, _ tallies: [DecisionTally], now: Date?) async throws {
        guard !tallies.isEmpty else { return }
        let params: [String?] = [PostgresDriver.ts(now), PGArray.literal(tallies.map(\.queue)),
                                 PGArray.literal(tallies.map(\.reasonCode)), PGArray.literal(ints: tallies.map(\.count)),
                                 PGArray.literal(tallies.map(\.message))]
        let sql = PostgresSQL.decisionRecord(PostgresDriver.table(kind))
        try await with { c in _ = try c.query(sql, params) }
    }

    public func decisionList(_ kind: DecisionKind, limit: Int, offset: Int) async throws -> [Decision] {
        let sql = PostgresSQL.decisionList(PostgresDriver.table(kind))
        return try await with(.read) { c in
            try c.query(sql, [String(limit), String(offset)]).map { try Decision(row: $0, table: PostgresDriver.table(kind)) }
        }
    }

    public func decisionCount(_ kind: DecisionKind, cap: Int) async throws -> Int {
        let sql = PostgresSQL.decisionCount(PostgresDriver.table(kind))
        return try await with(.read) { c in try c.scalar(sql, [String(cap)]) }
    }

    // MARK: workflows

    /// Advances a run after one of its steps ended, inside the ack's transaction, with the run
    /// locked. Returns the queues of the step jobs it made, to notify after the commit.
    func advance(_ c: PGConnection, runId: String, jobId: String, step: String, outcome: StepOutcome, flow: FlowHook,
                 now: Date?) throws -> Set<String> {
        guard let row = try c.query(PostgresSQL.runSnapshot, [runId]).first else { return [] }
        var snapshot = try FlowSnapshot(row: row, runId: runId)
        snapshot.steps = try c.query(PostgresSQL.runStepList, [runId]).map { try RunStep(row: $0) }
        try mapElements(&snapshot, jobId: jobId, c)
        let changes = try flow.advance(snapshot, step, outcome)
        try apply(changes, runId: runId, c, now: now)
        return Set(changes.newJobs.map(\.queue))
    }

    /// Tells the core whether `jobId` is an element of a map step, and lets it read a step's
    /// elements in this transaction (the run row is locked: the last two elements of a step
    /// acked on two workers take turns, so exactly one assembles the output).
    func mapElements(_ snapshot: inout FlowSnapshot, jobId: String, _ c: PGConnection) throws {
        snapshot.element = try c.query(PostgresSQL.runElementByJob, [jobId]).first.map { r in
            let col = r.columns(of: "run_elements")
            return MapElementRef(step: try col.text("step_slug"), index: try col.int("idx"), jobId: jobId)
        }
        let runId = snapshot.runId
        snapshot.elements = MapElementReader { step in
            try c.query(PostgresSQL.runElementList, [runId, step]).map { r in
                let col = r.columns(of: "run_elements")
                return MapElementRow(index: try col.int("idx"), jobId: try col.text("job_id"), output: try col.textOrNull("output"))
            }
        }
    }

    func insertElements(_ e: [MapElement], _ c: PGConnection) throws {
        guard !e.isEmpty else { return }
        _ = try c.query(PostgresSQL.runElementInsert, [PGArray.literal(e.map(\.jobId)), PGArray.literal(e.map(\.runId)),
                                                       PGArray.literal(e.map(\.step)), PGArray.literal(ints: e.map(\.index))])
    }

    /// Writes what the core decided for a run, in the caller's transaction. Throws CONFLICT when
    /// the first job to retry (the one an operator asked for) was not put back.
    func apply(_ changes: FlowChanges, runId: String, _ c: PGConnection, now: Date?) throws {
        let n = PostgresDriver.ts(now)
        for (i, t) in changes.retryJobs.enumerated() {
            let changed = try c.query(PostgresSQL.jobRetryMany, [n, PGArray.literal([t.jobId]), PGArray.literal(["dlq", "cancelled"]),
                                                                 t.event.type, t.event.message]).rows
            if i == 0 && changed == 0 { throw PortableError.conflict("job \(t.jobId) changed while it was being retried; try again") }
        }
        if !changes.steps.isEmpty {
            let cs = changes.steps
            _ = try c.query(PostgresSQL.runStepUpdate, [
                n, runId, PGArray.literal(cs.map(\.slug)), PGArray.literal(cs.map(\.status.rawValue)),
                PGArray.literal(ints: cs.map(\.remainingDeps)), PGArray.literal(cs.map(\.jobId)), PGArray.literal(cs.map(\.output)),
                PGArray.literal(ints: cs.map(\.mapTotal)), PGArray.literal(ints: cs.map(\.mapDone)), PGArray.literal(cs.map(\.errorCode)),
            ])
        }
        if !changes.elementOutputs.isEmpty {
            let o = changes.elementOutputs
            _ = try c.query(PostgresSQL.runElementOutput, [PGArray.literal(o.map(\.jobId)), PGArray.literal(o.map(\.output))])
        }
        if !changes.newJobs.isEmpty {
            _ = try c.query(PostgresSQL.jobInsertMany, insertParams(changes.newJobs, now: now))
        }
        try insertElements(changes.elements, c)
        if !changes.cancelJobs.isEmpty {
            _ = try c.query(PostgresSQL.jobCancelMany, PostgresDriver.cancelParams(changes.cancelJobs, now: now))
        }
        if let rs = changes.runStatus {
            _ = try c.query(PostgresSQL.runStatusSet, [n, runId, rs.rawValue, changes.failedStep])
        }
        if !changes.events.isEmpty {
            let e = changes.events
            _ = try c.query(PostgresSQL.runEventInsert, [n, runId, PGArray.literal(e.map(\.type)), PGArray.literal(e.map(\.step)),
                                                         PGArray.literal(e.map(\.jobId)), PGArray.literal(e.map(\.message))])
        }
    }

    public func flowStepRetry(runId: String, jobId: String, hook: FlowRetryHook, now: Date?) async throws -> FlowChanges? {
        try await with { [self] c in
            let changes: FlowChanges? = try c.transaction {
                guard let row = try c.query(PostgresSQL.runSnapshot, [runId]).first else { return nil }
                var snapshot = try FlowSnapshot(row: row, runId: runId)
                snapshot.steps = try c.query(PostgresSQL.runStepList, [runId]).map { try RunStep(row: $0) }
                let jobs = try c.query(PostgresSQL.runJobStatuses, [runId]).map { r in
                    let col = r.columns(of: "jobs")
                    return (try col.text("id"), try col.value("status", as: JobStatus.self), try col.textOrNull("step_slug"))
                }
                snapshot.jobStatuses = Dictionary(jobs.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
                snapshot.jobSteps = Dictionary(jobs.compactMap { j in j.2.map { (j.0, $0) } }, uniquingKeysWith: { a, _ in a })
                try mapElements(&snapshot, jobId: jobId, c)
                let changes = try hook.retry(snapshot, jobId)
                try apply(changes, runId: runId, c, now: now)
                return changes
            }
            if let changes { notify(c, Set(changes.newJobs.map(\.queue))) }
            return changes
        }
    }

    public func flowDefine(_ def: FlowDefinition, now: Date?) async throws -> FlowDefinition {
        let text = def.json.compact
        let n = PostgresDriver.ts(now)
        return try await with { c in
            try c.transaction {
                _ = try c.query(PostgresSQL.flowLock, [def.slug])
                if let latest = try c.query(PostgresSQL.flowLatest, [def.slug]).first.map({ try FlowDefinition(row: $0) }),
                   latest.json.compact == text {
                    return latest
                }
                return try c.one(PostgresSQL.flowInsert, [n, def.slug, text]) { try FlowDefinition(row: $0) }
            }
        }
    }

    public func flowList() async throws -> [FlowDefinition] {
        try await with(.read) { c in
            try c.query(PostgresSQL.flowListLatest).map { try FlowDefinition(row: $0) }
        }
    }

    public func flowGet(_ slug: String, version: Int?) async throws -> FlowDefinition? {
        try await with(.read) { c in
            let r = try version.map { try c.query(PostgresSQL.flowGetVersion, [slug, String($0)]) }
                ?? c.query(PostgresSQL.flowLatest, [slug])
            return try r.first.map { try FlowDefinition(row: $0) }
        }
    }

    public func flowRunStartMany(_ runs: [FlowRun], jobs: [JobInsert], elements: [MapElement], now: Date?) async throws {
        let n = PostgresDriver.ts(now)
        let jobParams = insertParams(jobs, now: now)
        let steps = runs.flatMap { r in r.steps.map { (r.id, $0) } }
        try await with { [self] c in
            try c.transaction {
                _ = try c.query(PostgresSQL.runInsert, [n, PGArray.literal(runs.map(\.id)), PGArray.literal(runs.map(\.flowSlug)),
                                                        PGArray.literal(ints: runs.map(\.flowVersion)), PGArray.literal(runs.map(\.input)),
                                                        PGArray.literal(runs.map(\.status.rawValue)), PGArray.literal(runs.map(\.failedStep))])
                _ = try c.query(PostgresSQL.runStepInsert, [
                    n, PGArray.literal(steps.map(\.0)), PGArray.literal(steps.map(\.1.slug)), PGArray.literal(steps.map(\.1.status.rawValue)),
                    PGArray.literal(ints: steps.map(\.1.remainingDeps)), PGArray.literal(steps.map(\.1.jobId)),
                    PGArray.literal(steps.map(\.1.output)), PGArray.literal(ints: steps.map(\.1.mapTotal)),
                    PGArray.literal(steps.map(\.1.errorCode)),
                ])
                for run in runs where !run.events.isEmpty {
                    let e = run.events
                    _ = try c.query(PostgresSQL.runEventInsert, [n, run.id, PGArray.literal(e.map(\.type)), PGArray.literal(e.map(\.step)),
                                                                 PGArray.literal(e.map(\.jobId)), PGArray.literal(e.map(\.message))])
                }
                if !jobs.isEmpty { _ = try c.query(PostgresSQL.jobInsertMany, jobParams) }
                try insertElements(elements, c)
            }
            notify(c, Set(jobs.map(\.queue)))
        }
    }

    public func flowRunGet(_ id: String) async throws -> FlowRun? {
        try await with(.read) { c in
            guard let row = try c.query(PostgresSQL.runGet, [id]).first else { return nil }
            var run = try FlowRun(row: row)
            run.steps = try c.query(PostgresSQL.runStepList, [id]).map { try RunStep(row: $0) }
            run.events = try c.query(PostgresSQL.runEventList, [id]).map { try RunEvent(row: $0) }
            return run
        }
    }

    public func flowRunDurations(seconds: Double, limit: Int, now: Date?) async throws -> [RunDuration] {
        try await with(.read) { c in
            try c.query(PostgresSQL.runDurations, [PostgresDriver.ts(now), String(seconds), String(limit)]).map { r in
                let col = r.columns(of: "flow_runs")
                return RunDuration(flow: try col.text("flow_slug"), ms: try col.int("duration_ms"))
            }
        }
    }

    public func flowRunElementStates(_ runId: String) async throws -> [String: [JobStatus: Int]] {
        try await with(.read) { c in
            var out: [String: [JobStatus: Int]] = [:]
            let rows = try c.query(PostgresSQL.runElementStates, [runId]).map { r in
                let col = r.columns(of: "run_elements")
                return (try col.text("step_slug"), try col.value("status", as: JobStatus.self), try col.int("count"))
            }
            for (step, status, n) in rows { out[step, default: [:]][status] = n }
            return out
        }
    }

    public func flowRunList(_ flow: String?, status: RunStatus?, limit: Int, offset: Int) async throws -> [FlowRun] {
        try await with(.read) { c in
            try c.query(PostgresSQL.runList, [flow, String(limit), String(offset), status?.rawValue]).map { try FlowRun(row: $0) }
        }
    }

    public func flowRunCount(_ flow: String?, status: RunStatus?, cap: Int) async throws -> Int {
        try await with(.read) { c in try c.scalar(PostgresSQL.runCount, [flow, String(cap), status?.rawValue]) }
    }

    public func flowRunCancel(_ id: String, now: Date?) async throws -> Bool {
        let n = PostgresDriver.ts(now)
        return try await with { c in
            try c.transaction {
                guard try c.query(PostgresSQL.runCancel, [n, id]).affectedRows == 1 else { return false }
                _ = try c.query(PostgresSQL.runStepsCancel, [n, id])
                return true
            }
        }
    }

    // MARK: copy between backends

    public func copyRead(_ table: CopyTable, _ scope: CopyScope) async throws -> [[CopyValue]] {
        let cols = table.columns
        let select = "SELECT \(cols.map(\.name).joined(separator: ", ")) FROM \(table.rawValue)"
        let (sql, params): (String, [String?])
        switch scope {
        case .page(let after, let limit, let queue):
            sql = select + " WHERE ($1::uuid IS NULL OR id > $1::uuid) AND ($3::text IS NULL OR queue = $3) ORDER BY id LIMIT $2"
            params = [after, String(limit), queue]
        case .jobIds(let ids):
            sql = select + " WHERE job_id = ANY($1::uuid[])"
            params = [PGArray.literal(ids)]
        case .all(let queue):
            sql = table.hasQueue ? select + " WHERE ($1::text IS NULL OR queue = $1)" : select
            params = table.hasQueue ? [queue] : []
        }
        return try await with(.read, wait: .bulk) { c in
            try c.query(sql, params).map { try table.values($0) }
        }
    }

    public func copyBegin() async throws -> any CopyTarget {
        let host = try await pool.acquire()
        let timeout = options.bulkTimeoutSeconds
        do {
            try await host.with { c in
                c.begin(timeout: timeout)
                try c.exec("BEGIN")
            }
        } catch {
            pool.release(host)
            throw error
        }
        return PostgresCopyTarget(host: host, pool: pool)
    }

    // MARK: queues and metrics

    public func queueCounts(now: Date?) async throws -> [QueueCount] {
        let n = PostgresDriver.ts(now)
        let cap = String(QueueCount.cap)
        return try await with(.read) { c in
            // One snapshot for all the counts.
            try c.transaction {
                try c.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                var out: [QueueCount] = []
                for queue in try c.query(PostgresSQL.queuesWithQueued).map({ try $0.columns(of: "jobs").text("queue") }) {
                    out += QueueCount.markCapped(try c.query(PostgresSQL.queueCountsQueued, [n, queue, cap]).map {
                        try QueueCount(queuedRow: $0, queue: queue)
                    })
                }
                for (sql, status) in [(PostgresSQL.queueCountsRunning, JobStatus.running), (PostgresSQL.queueCountsDLQ, .dlq)] {
                    out += QueueCount.markCapped(try c.query(sql, [cap]).map { try QueueCount(row: $0, status: status) })
                }
                return out
            }
        }
    }

    public func attemptWindow(seconds: Double, sampleLimit: Int, now: Date?) async throws -> AttemptWindow {
        let n = PostgresDriver.ts(now)
        return try await with(.read) { c in
            AttemptWindow(
                counts: try c.query(PostgresSQL.attemptWindowCounts, [n, String(seconds)]).map { try AttemptWindow.Count(row: $0) },
                samples: try c.query(PostgresSQL.attemptWindowSamples, [n, String(seconds), String(sampleLimit)]).map {
                    try AttemptWindow.Sample(row: $0)
                })
        }
    }

    // MARK: job types and workers

    public func jobTypeUpsertMany(_ policies: [JobTypePolicy], now: Date?) async throws {
        guard !policies.isEmpty else { return }
        let params: [String?] = [
            PostgresDriver.ts(now), PGArray.literal(policies.map(\.jobType)), PGArray.literal(ints: policies.map(\.maxAttempts)),
            PGArray.literal(ints: policies.map(\.timeoutSeconds)), PGArray.literal(ints: policies.map(\.backoffBaseMs)),
            PGArray.literal(ints: policies.map(\.backoffMaxMs)), PGArray.literal(ints: policies.map(\.concurrency)),
        ]
        try await with(.idempotent) { c in _ = try c.query(PostgresSQL.jobTypeUpsertMany, params) }
    }

    public func jobTypeList() async throws -> [JobTypePolicy] {
        try await with(.read) { c in
            try c.query(PostgresSQL.jobTypeList).map { try JobTypePolicy(row: $0) }
        }
    }

    /// The pool and the LISTEN connection.
    public var connectionBudget: Int { options.maxConnections + 1 }

    public func workerUpsert(_ w: WorkerInfo, now: Date?) async throws {
        let params: [String?] = [
            PostgresDriver.ts(now), w.id, w.host, String(w.pid),
            w.queues.map { JSON.array($0.map(JSON.string)).compact },
            w.jobTypes.map { JSON.array($0.map(JSON.string)).compact },
            String(w.concurrency), String(w.leaseSeconds), Time.format(w.startedAt), w.dbConnections.map(String.init),
        ]
        try await with(.idempotent) { c in _ = try c.query(PostgresSQL.workerUpsert, params) }
    }

    public func workerDelete(_ id: String) async throws {
        try await with(.idempotent) { c in _ = try c.query(PostgresSQL.workerDelete, [id]) }
    }

    public func workerList() async throws -> [WorkerInfo] {
        try await with(.read) { c in
            try c.query(PostgresSQL.workerList).map { try WorkerInfo(row: $0) }
        }
    }
}

/// One transaction on a pooled connection, held for a whole copy. Rows travel as arrays. Its
/// statements keep the bulk deadline set by `copyBegin`; a lost connection fails the copy
/// (`reopen: false`) rather than carry on outside the transaction.
final class PostgresCopyTarget: CopyTarget {
    let host: ConnectionHost<PGConnection>
    let pool: ConnectionPool<PGConnection>

    init(host: ConnectionHost<PGConnection>, pool: ConnectionPool<PGConnection>) {
        self.host = host
        self.pool = pool
    }

    static func cast(_ t: CopyType) -> String {
        switch t {
        case .text: return "text[]"
        case .uuid: return "uuid[]"
        case .json: return "json[]"
        case .int: return "bigint[]"
        case .double: return "float8[]"
        case .bool: return "bool[]"
        case .time: return "timestamptz[]"
        }
    }

    func insert(_ table: CopyTable, _ rows: [[CopyValue]], skipExisting: Bool) async throws -> Int {
        guard !rows.isEmpty else { return 0 }
        let cols = table.columns
        let sql = "INSERT INTO \(table.rawValue) (\(cols.map(\.name).joined(separator: ", "))) SELECT * FROM unnest("
            + cols.enumerated().map { i, c in "$\(i + 1)::\(PostgresCopyTarget.cast(c.type))" }.joined(separator: ", ") + ")"
            + (skipExisting ? " ON CONFLICT DO NOTHING" : "")
        let params: [String?] = cols.indices.map { j in
            PGArray.literal(rows.map { row -> String? in
                switch row[j] {
                case .null: return nil
                case .int(let i): return String(i)
                case .double(let d): return String(d)
                case .text(let t): return t
                case .bool(let b): return b ? "true" : "false"
                case .time(let d): return Time.format(d)
                }
            })
        }
        return try await host.with(reopen: false) { c in try c.query(sql, params).affectedRows }
    }

    func registerQueues(_ queues: [String]) async throws {
        guard !queues.isEmpty else { return }
        try await host.with(reopen: false) { c in _ = try c.query(PostgresSQL.queueRegister, [PGArray.literal(queues)]) }
    }

    func count(_ table: CopyTable, queue: String?) async throws -> Int {
        let sql = "SELECT count(*) FROM \(table.rawValue)" + (table.hasQueue ? " WHERE ($1::text IS NULL OR queue = $1)" : "")
        return try await host.with(reopen: false) { c in try c.scalar(sql, table.hasQueue ? [queue] : []) }
    }

    /// Ids taken (live or archived) and keys held by another job; the jobs travel as arrays.
    static let existingJobs = """
        SELECT w.id::text AS id FROM unnest($1::uuid[], $2::text[], $3::text[]) AS w(id, queue, key)
        WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.id = w.id)
           OR EXISTS (SELECT 1 FROM jobs_archive a WHERE a.id = w.id)
           OR EXISTS (SELECT 1 FROM job_keys k WHERE k.queue = w.queue AND k.idempotency_key = w.key AND k.job_id <> w.id)
        """

    func existingJobs(_ jobs: [CopyJobRef]) async throws -> Set<String> {
        guard !jobs.isEmpty else { return [] }
        let params: [String?] = [PGArray.literal(jobs.map(\.id)), PGArray.literal(jobs.map(\.queue)),
                                 PGArray.literal(jobs.map(\.idempotencyKey))]
        return try await host.with { c in
            Set(try c.query(PostgresCopyTarget.existingJobs, params).map { try Rows.id($0) })
        }
    }

    func commit() async throws {
        defer { pool.release(host) }
        try await host.with(reopen: false) { c in try c.exec("COMMIT") }
    }

    func rollback() async {
        _ = try? await host.with(reopen: false) { c in try c.exec("ROLLBACK") }
        pool.release(host)
    }
}
