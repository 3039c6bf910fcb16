import Foundation

/// How an attempt ended.
public enum AttemptOutcome: String, Sendable, CaseIterable {
    case succeeded
    case failed
    /// The lease ran out before an ack (the worker crashed or hung): recorded by the reaper.
    case leaseExpired = "lease_expired"
    /// Handed back at shutdown without a verdict; does not count against `max_attempts`.
    case released
    /// The job was cancelled while running.
    case cancelled
    /// The handler asked to run again later; does not count against `max_attempts`.
    case snoozed
}

/// What happened to the job after a failed attempt.
public enum AttemptDecision: String, Sendable {
    case retry
    case dlq
}

/// One recorded attempt (invariant 3). Written together with the ack, in the same statement
/// or transaction, never as a separate round trip.
public struct Attempt: Sendable, Equatable {
    public var jobId: String
    public var attempt: Int
    public var leaseToken: String
    public var workerId: String?
    public var startedAt: Date
    public var finishedAt: Date
    public var outcome: AttemptOutcome
    public var errorCode: String?
    public var errorMessage: String?
    public var decision: AttemptDecision?
    /// When the retry was scheduled to run (decision `retry`).
    public var retryAt: Date?
    /// Why the job was dead-lettered (decision `dlq`).
    public var dlqReason: String?

    public init(jobId: String, attempt: Int, leaseToken: String, workerId: String?, startedAt: Date,
                finishedAt: Date, outcome: AttemptOutcome, errorCode: String?, errorMessage: String?,
                decision: AttemptDecision?, retryAt: Date?, dlqReason: String? = nil) {
        self.jobId = jobId; self.attempt = attempt; self.leaseToken = leaseToken; self.workerId = workerId
        self.startedAt = startedAt; self.finishedAt = finishedAt; self.outcome = outcome
        self.errorCode = errorCode; self.errorMessage = errorMessage; self.decision = decision; self.retryAt = retryAt
        self.dlqReason = dlqReason
    }

    public var latencyMs: Int64 { Time.millis(finishedAt) - Time.millis(startedAt) }

    public var json: JSON {
        .object([
            ("attempt", .int(attempt)),
            ("worker_id", .optional(workerId)),
            ("started_at", .string(Time.format(startedAt))),
            ("finished_at", .string(Time.format(finishedAt))),
            ("latency_ms", .int(latencyMs)),
            ("outcome", .string(outcome.rawValue)),
            ("error_code", .optional(errorCode)),
            ("error_message", .optional(errorMessage)),
        ])
    }
}

/// An event recorded outside the hot path by an operator action (retry in place, cancel of a
/// queued job). Everything else in a timeline is derived from job and attempt rows.
public struct JobEvent: Sendable, Equatable {
    public var jobId: String
    public var at: Date
    public var type: String
    public var message: String?
    /// The job's attempt count when it happened, to order it among attempts at equal times.
    public var afterAttempt: Int?
    public init(jobId: String, at: Date, type: String, message: String?, afterAttempt: Int?) {
        self.jobId = jobId; self.at = at; self.type = type; self.message = message; self.afterAttempt = afterAttempt
    }
}
