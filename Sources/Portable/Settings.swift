import Foundation

/// Operational settings from `PORTABLEQ_*` environment variables (flags win over them; the CLI
/// applies flags on top). Per-call data (payloads, keys, ids) never comes from the environment.
/// The README has the table; defaults are DESIGN.md's.
public struct Settings: Sendable {
    public var databaseURL: String?
    public var workerId: String?
    public var queues: [String]?
    public var concurrency = 10
    public var batchSize: Int?
    public var leaseSeconds = 30.0
    public var pollIntervalMs = 1000
    public var reapIntervalMs = 5000
    public var jobTimeoutSeconds = 300
    public var shutdownSeconds = 30.0
    public var adminAddr = "127.0.0.1:3003"
    /// `work`'s metrics and probe endpoint (HOST:PORT); nil = off.
    public var metricsAddr: String?
    public var apiToken: String?
    public var migrateOnStartup: Bool?
    public var maxPayloadBytes = 1 << 20
    public var maxEnqueuePerMinute: Int?
    /// Snoozes a job may take (since enqueue or its last retry) before it is dead-lettered.
    public var maxSnoozes = 100
    public var httpRateLimitPerMinute: Int?
    /// `admin serve`: open connections at most; idle keep-alive and header read time; body read time.
    public var httpMaxConnections = 1024
    public var httpIdleTimeoutMs = 10_000
    public var httpBodyTimeoutMs = 30_000
    public var verboseJobLogs = false
    public var logFormat = "text"
    /// Pool size per process (`DB_MAX_CONNECTIONS`); nil: the process's own default (10 for an
    /// application's client, 4 for `work`, 8 for `serve`: claims and acks are batched, so a
    /// worker needs a handful whatever its concurrency).
    public var dbMaxConnections: Int?
    public static let defaultMaxConnections = 10
    public var dbAcquireTimeoutSecs = 5.0
    /// Postgres: the deadline of a connect and of each statement (bulk batches get 6×, at least 30 s).
    public var dbStatementTimeoutMs = 5000
    public var sqliteSynchronous = "full"
    public var disableSyncCommit = false
    public var disableJIT = false
    public var archiveSucceededAfterDays = 7.0
    public var deleteArchivedAfterDays = 30.0
    public var pruneHistoryAfterDays = 7.0
    public var decisionsRetentionDays = 7.0
    public var maintenanceIntervalSecs = 60.0
    /// How old an attempt must be before the maintenance pass counts it in the totals.
    public var totalsSettleSecs = 60.0

    public init() {}

    /// Reads the environment. A value that does not parse is an error naming the variable.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> Settings {
        var s = Settings()
        func v(_ name: String) -> String? {
            guard let x = env["PORTABLEQ_" + name]?.trimmingCharacters(in: .whitespaces), !x.isEmpty else { return nil }
            return x
        }
        func int(_ name: String, min: Int = 0) throws -> Int? {
            guard let x = v(name) else { return nil }
            guard let i = Int(x), i >= min else { throw bad(name, x, "a whole number ≥ \(min)") }
            return i
        }
        func double(_ name: String, min: Double = 0) throws -> Double? {
            guard let x = v(name) else { return nil }
            guard let d = Double(x), d >= min, d.isFinite else { throw bad(name, x, "a number ≥ \(min)") }
            return d
        }
        func bool(_ name: String) throws -> Bool? {
            guard let x = v(name)?.lowercased() else { return nil }
            switch x {
            case "1", "true", "on", "yes": return true
            case "0", "false", "off", "no": return false
            default: throw bad(name, x, "on or off")
            }
        }
        func bad(_ name: String, _ value: String, _ expected: String) -> PortableError {
            PortableError(.invalidArgument, "PORTABLEQ_\(name)=\(value) is not valid: expected \(expected)")
        }
        s.databaseURL = v("DATABASE_URL") ?? env["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        s.workerId = v("WORKER_ID")
        if let q = v("QUEUES") { s.queues = try Settings.parseQueues(q) }
        s.concurrency = try int("CONCURRENCY", min: 1) ?? s.concurrency
        s.batchSize = try int("DEQUEUE_BATCH_SIZE", min: 1)
        s.leaseSeconds = try double("LEASE_SECONDS", min: 1) ?? s.leaseSeconds
        s.pollIntervalMs = try int("POLL_INTERVAL_MS", min: 10) ?? s.pollIntervalMs
        s.reapIntervalMs = try int("REAP_INTERVAL_MS", min: 10) ?? s.reapIntervalMs
        s.jobTimeoutSeconds = try int("JOB_TIMEOUT_SECONDS", min: 1) ?? s.jobTimeoutSeconds
        s.shutdownSeconds = try double("SHUTDOWN_SECONDS") ?? s.shutdownSeconds
        s.adminAddr = v("ADMIN_ADDR") ?? s.adminAddr
        s.metricsAddr = v("METRICS_ADDR")
        s.apiToken = v("API_TOKEN")
        s.migrateOnStartup = try bool("MIGRATE_ON_STARTUP")
        s.maxPayloadBytes = try int("MAX_PAYLOAD_BYTES", min: 1) ?? s.maxPayloadBytes
        s.maxEnqueuePerMinute = try int("MAX_ENQUEUE_PER_MINUTE", min: 1)
        s.maxSnoozes = try int("MAX_SNOOZES", min: 0) ?? s.maxSnoozes
        s.httpRateLimitPerMinute = try int("HTTP_RATE_LIMIT_PER_MINUTE", min: 1)
        s.httpMaxConnections = try int("HTTP_MAX_CONNECTIONS", min: 1) ?? s.httpMaxConnections
        s.httpIdleTimeoutMs = try int("HTTP_IDLE_TIMEOUT_MS", min: 10) ?? s.httpIdleTimeoutMs
        s.httpBodyTimeoutMs = try int("HTTP_BODY_TIMEOUT_MS", min: 10) ?? s.httpBodyTimeoutMs
        s.verboseJobLogs = try bool("VERBOSE_JOB_LOGS") ?? false
        if let f = v("LOG_FORMAT") {
            guard f == "text" || f == "json" else { throw bad("LOG_FORMAT", f, "text or json") }
            s.logFormat = f
        }
        s.dbMaxConnections = try int("DB_MAX_CONNECTIONS", min: 1)
        s.dbAcquireTimeoutSecs = try double("DB_ACQUIRE_TIMEOUT_SECS", min: 0.1) ?? s.dbAcquireTimeoutSecs
        s.dbStatementTimeoutMs = try int("DB_STATEMENT_TIMEOUT_MS", min: 100) ?? s.dbStatementTimeoutMs
        if let sync = v("SQLITE_SYNCHRONOUS")?.lowercased() {
            guard ["full", "normal", "extra"].contains(sync) else { throw bad("SQLITE_SYNCHRONOUS", sync, "full, normal or extra") }
            s.sqliteSynchronous = sync
        }
        s.disableSyncCommit = try bool("DISABLE_SYNC_COMMIT") ?? false
        s.disableJIT = try bool("DISABLE_JIT") ?? false
        s.archiveSucceededAfterDays = try double("ARCHIVE_SUCCEEDED_AFTER_DAYS") ?? s.archiveSucceededAfterDays
        s.deleteArchivedAfterDays = try double("DELETE_ARCHIVED_AFTER_DAYS") ?? s.deleteArchivedAfterDays
        s.pruneHistoryAfterDays = try double("PRUNE_HISTORY_AFTER_DAYS") ?? s.pruneHistoryAfterDays
        s.decisionsRetentionDays = try double("DECISIONS_RETENTION_DAYS") ?? s.decisionsRetentionDays
        s.maintenanceIntervalSecs = try double("MAINTENANCE_INTERVAL_SECS", min: 1) ?? s.maintenanceIntervalSecs
        s.totalsSettleSecs = try double("TOTALS_SETTLE_SECS") ?? s.totalsSettleSecs
        return s
    }

    public static func parseQueues(_ s: String) throws -> [String] {
        let qs = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for q in qs { try Names.check(q, "queue") }
        return qs
    }

    /// The core's configuration derived from these settings.
    public var config: PortableConfig {
        var c = PortableConfig()
        c.maxPayloadBytes = maxPayloadBytes
        c.maxEnqueuePerMinute = maxEnqueuePerMinute
        c.maxSnoozes = maxSnoozes
        return c
    }
}
