import Foundation

/// A row of the `workers` registry.
public struct WorkerInfo: Sendable, Equatable {
    public var id: String
    public var host: String
    public var pid: Int
    /// nil: every queue.
    public var queues: [String]?
    /// nil: every type (`--fail-unknown-types`).
    public var jobTypes: [String]?
    public var concurrency: Int
    public var leaseSeconds: Double
    public var startedAt: Date
    public var lastHeartbeatAt: Date
    /// Database connections the process may hold (its pool, and on Postgres its LISTEN
    /// connection); nil for workers registered by binaries before the connection_budget migration.
    public var dbConnections: Int?

    public init(id: String, host: String, pid: Int, queues: [String]?, jobTypes: [String]?, concurrency: Int,
                leaseSeconds: Double, startedAt: Date, lastHeartbeatAt: Date, dbConnections: Int? = nil) {
        self.id = id; self.host = host; self.pid = pid; self.queues = queues; self.jobTypes = jobTypes
        self.concurrency = concurrency; self.leaseSeconds = leaseSeconds
        self.startedAt = startedAt; self.lastHeartbeatAt = lastHeartbeatAt
        self.dbConnections = dbConnections
    }

    /// A worker whose heartbeat is older than three leases counts as gone.
    public func isAlive(at now: Date) -> Bool {
        now.timeIntervalSince(lastHeartbeatAt) <= 3 * leaseSeconds
    }

    public func serves(queue: String, jobType: String) -> Bool {
        (queues?.contains(queue) ?? true) && (jobTypes?.contains(jobType) ?? true)
    }

    public func json(now: Date) -> JSON {
        .object([
            ("id", .string(id)),
            ("host", .string(host)),
            ("pid", .int(pid)),
            ("queues", queues.map { .array($0.map(JSON.string)) } ?? .null),
            ("job_types", jobTypes.map { .array($0.map(JSON.string)) } ?? .null),
            ("concurrency", .int(concurrency)),
            ("lease_seconds", .double(leaseSeconds)),
            ("started_at", .string(Time.format(startedAt))),
            ("last_heartbeat_at", .string(Time.format(lastHeartbeatAt))),
            ("alive", .bool(isAlive(at: now))),
            ("db_connections", dbConnections.map(JSON.int) ?? .null),
        ])
    }
}
