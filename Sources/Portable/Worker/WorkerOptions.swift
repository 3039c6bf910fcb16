import Foundation
import Synchronization

public struct WorkerOptions: Sendable {
    public var id: String
    /// nil: every queue.
    public var queues: [String]?
    /// Jobs run at once (slots).
    public var concurrency = 10
    /// Jobs per claim; nil = concurrency.
    public var batchSize: Int?
    public var leaseSeconds = 30.0
    /// Fallback poll when no wakeup arrives.
    public var pollIntervalSeconds = 1.0
    /// The global default timeout (`JOB_TIMEOUT_SECONDS`) for jobs and types that set none.
    public var defaultTimeoutSeconds = 300
    public var shutdownSeconds = 30.0
    /// Claim every type in the worker's queues and fail those without a handler with
    /// `UNKNOWN_JOB_TYPE` (retryable).
    public var failUnknownTypes = false
    /// Stop once the worker's queues hold no queued or running job.
    public var untilEmpty = false
    public var verboseJobLogs = false
    /// Seconds between SIGTERM and SIGKILL for `--exec` process groups; shutdown waits this long
    /// (plus a little) for cancelled handlers to return.
    public var killGraceSeconds = 5.0
    /// Maintenance this worker takes part in (leader only acts); nil: none.
    public var maintenance: MaintenanceSettings? = MaintenanceSettings()
    /// How long queue policies are cached between claims (claims re-check them atomically).
    public var policyRefreshSeconds = 1.0
    /// How long an ack batch waits for the handlers still running to finish, so their outcomes
    /// join it and their slots are free for the claim that rides along (fast handlers finish
    /// within it; a slow one only delays acks by this much).
    public var ackLingerSeconds = 0.002

    public init(id: String = WorkerOptions.defaultId) { self.id = id }

    public static var defaultId: String {
        "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }

    var claimBatch: Int { max(1, batchSize ?? concurrency) }
}

/// Counts of what this worker did, for progress displays and tests.
public struct WorkerStats: Sendable, Equatable {
    public var claimed = 0
    public var succeeded = 0
    public var failed = 0
    public var released = 0
    public var snoozed = 0
    public var leaseLost = 0
    /// Round trips: claims made by the claim loop, ack batches written, and how many of those
    /// claimed the next jobs in the same statement.
    public var claimRoundTrips = 0
    public var ackBatches = 0
    public var ackBatchesThatClaimed = 0
    /// Waits in which the worker stopped listening after wakeups whose claims found nothing.
    public var quietWaits = 0
}

/// A worker's counts, shared by its parts.
final class WorkerCounters: Sendable {
    private let stats = Mutex(WorkerStats())
    var snapshot: WorkerStats { stats.withLock { $0 } }
    func update(_ change: (inout WorkerStats) -> Void) { stats.withLock { change(&$0) } }
}
