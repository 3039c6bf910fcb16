import Foundation

/// A type-aware claim: lease up to `limit` runnable jobs of the given queues and types.
/// One statement per batch on both backends.
public struct LeaseRequest: Sendable, Equatable {
    /// nil: every queue.
    public var queues: [String]?
    /// nil: every type (`work --fail-unknown-types`).
    public var jobTypes: [String]?
    public var limit: Int
    public var leaseSeconds: Double
    public var workerId: String
    /// One random token per claim; (job id, token) identifies the lease.
    public var token: String

    public init(queues: [String]?, jobTypes: [String]?, limit: Int, leaseSeconds: Double, workerId: String, token: String) {
        self.queues = queues; self.jobTypes = jobTypes; self.limit = limit
        self.leaseSeconds = leaseSeconds; self.workerId = workerId; self.token = token
    }
}

/// A lease held on one job.
public struct LeaseKey: Sendable, Hashable {
    public var jobId: String
    public var token: String
    public init(jobId: String, token: String) { self.jobId = jobId; self.token = token }
}

/// Where a job goes when its attempt ends: decided in the core, written by the driver.
public enum NextState: Sendable, Equatable {
    case succeeded
    case retry(delaySeconds: Double)
    case dlq(reason: String)
    /// Back to `queued` at once; the attempt does not count against `max_attempts`.
    case requeue
    /// Back to `queued` at now + delay; not counted, and `snoozes` goes up by one.
    case snooze(delaySeconds: Double)
}

/// The end of one attempt, to be applied only if `token` is still the job's lease.
public struct Completion: Sendable, Equatable {
    public var lease: LeaseKey
    public var outcome: AttemptOutcome
    public var output: String?
    public var errorCode: String?
    public var errorMessage: String?
    public var next: NextState
    /// Set for workflow step jobs: the ack advances their run in the same transaction.
    public var runId: String?
    public var stepSlug: String?

    public init(lease: LeaseKey, outcome: AttemptOutcome, output: String? = nil, errorCode: String? = nil,
                errorMessage: String? = nil, next: NextState) {
        self.lease = lease; self.outcome = outcome; self.output = output
        self.errorCode = errorCode; self.errorMessage = errorMessage; self.next = next
    }

    /// The status the job row takes.
    public var newStatus: JobStatus {
        switch next {
        case .succeeded: return .succeeded
        case .retry, .requeue, .snooze: return .queued
        case .dlq: return .dlq
        }
    }

    /// The attempt does not count against `max_attempts` (attempt_base goes up with it).
    public var uncounted: Bool { outcome == .released || outcome == .snoozed }

    public var decision: AttemptDecision? {
        switch next {
        case .retry: return .retry
        case .dlq: return .dlq
        case .succeeded, .requeue, .snooze: return nil
        }
    }

    public var delaySeconds: Double {
        switch next {
        case .retry(let d), .snooze(let d): return d
        default: return 0
        }
    }

    public var dlqReason: String? {
        if case .dlq(let r) = next { return r }
        return nil
    }

    /// What this completion means for the step's run, if anything.
    public var stepOutcome: StepOutcome? {
        switch next {
        case .succeeded: return .succeeded(output: output)
        case .dlq: return .failed
        case .retry, .requeue, .snooze: return nil
        }
    }
}

/// Per job, what an ack or fail did (invariant 1).
public enum AckResult: String, Sendable, Equatable {
    /// The token was the current lease: the outcome is recorded.
    case applied
    /// The same outcome was already recorded with this token: a no-op success.
    case duplicate
    /// Anything else (lease expired and reaped, cancelled, taken by another worker): nothing changed.
    case leaseLost
}

/// Rows from which a timeline is derived.
public struct JobHistory: Sendable, Equatable {
    public var attempts: [Attempt]
    public var events: [JobEvent]
    /// Jobs that replay this one: (id, created_at).
    public var replays: [ReplayRef]

    public init(attempts: [Attempt], events: [JobEvent], replays: [ReplayRef]) {
        self.attempts = attempts; self.events = events; self.replays = replays
    }
}

public struct ReplayRef: Sendable, Equatable {
    public var id: String
    public var createdAt: Date
    public init(id: String, createdAt: Date) { self.id = id; self.createdAt = createdAt }
}

/// A job row to insert, fully decided by the core (id made, names checked, guardrails passed).
public struct JobInsert: Sendable, Equatable {
    public var id: String
    public var queue: String
    public var jobType: String
    public var payload: String
    public var priority: Int
    /// Absolute run time, or nil for `now + delaySeconds` on the database clock.
    public var runAt: Date?
    public var delaySeconds: Double
    public var maxAttempts: Int?
    public var timeoutSeconds: Int?
    public var backoffBaseMs: Int?
    public var idempotencyKey: String?
    public var replayOf: String?
    public var runId: String?
    public var stepSlug: String?
    /// Set with `unique` (decided in the core, `UniqueSpec.key`): the stored key and status mask.
    public var uniqueKey: String?
    public var uniqueStates: Int?
    /// On a unique match still `queued`, write this row's payload and run_at into it.
    public var uniqueReplace = false
    /// The given key; nil: derived by the driver's insert from the queue policy's
    /// `concurrency_key_from` (read in the insert's transaction).
    public var concurrencyKey: String?
    /// Checked by the core (`JobTags`, `JobMetadata`).
    public var tags: [String] = []
    public var metadata = "{}"

    /// The job this row becomes, with the database's run_at and created_at and the key it got
    /// (given or derived).
    public func job(runAt: Date, createdAt: Date, concurrencyKey: String?) -> Job {
        Job(id: id, queue: queue, jobType: jobType, payload: payload, priority: priority, runAt: runAt, status: .queued,
            maxAttempts: maxAttempts, timeoutSeconds: timeoutSeconds, backoffBaseMs: backoffBaseMs,
            idempotencyKey: idempotencyKey, replayOf: replayOf, createdAt: createdAt, runId: runId, stepSlug: stepSlug,
            concurrencyKey: concurrencyKey, tags: tags, metadata: metadata)
    }

    public init(id: String, queue: String, jobType: String, payload: String, priority: Int, runAt: Date?,
                delaySeconds: Double, maxAttempts: Int?, timeoutSeconds: Int?, backoffBaseMs: Int?,
                idempotencyKey: String?, replayOf: String?, runId: String? = nil, stepSlug: String? = nil) {
        self.id = id; self.queue = queue; self.jobType = jobType; self.payload = payload; self.priority = priority
        self.runAt = runAt; self.delaySeconds = delaySeconds; self.maxAttempts = maxAttempts
        self.timeoutSeconds = timeoutSeconds; self.backoffBaseMs = backoffBaseMs
        self.idempotencyKey = idempotencyKey; self.replayOf = replayOf; self.runId = runId; self.stepSlug = stepSlug
    }
}

/// Per inserted row: the stored job and whether this insert created it; if not, which check
/// matched and whether a unique `replace` wrote the new payload and run_at into the match.
public struct JobInsertOutcome: Sendable, Equatable {
    public var job: Job
    public var created: Bool
    public var duplicate: Duplicate?
    public var replaced: Bool
    public init(job: Job, created: Bool, duplicate: Duplicate? = nil, replaced: Bool = false) {
        self.job = job; self.created = created; self.duplicate = created ? nil : (duplicate ?? .idempotencyKey)
        self.replaced = replaced
    }
}

extension PortableError {
    /// A row's idempotency key is taken, but its job was deleted before it could be read back.
    public static func keyOwnerGone(_ row: JobInsert) -> PortableError {
        .conflict("idempotency key \(row.idempotencyKey ?? "") in queue \(row.queue) is taken by a job that no longer exists")
    }

    /// A row's unique key kept matching a job that left its states before it could be read back.
    public static func uniqueOwnerMoving(_ row: JobInsert) -> PortableError {
        .conflict("the unique job matching this \(row.jobType) job in queue \(row.queue) kept changing; try again")
    }
}

/// An event a driver records beside an operator's change (`retried`, `cancelled`): type and
/// message are decided in the core (`Decide`), so both backends write the same words.
public struct EventNote: Sendable, Equatable {
    public var type: String
    public var message: String?
    public init(type: String, message: String?) { self.type = type; self.message = message }
}

/// A target of a cancel: queued jobs by id; running ones also by their current lease token,
/// so a cancel racing an ack changes exactly one of them. What is recorded is decided in the
/// core (`Decide.cancel`): a queued job gets `event`; a running job's attempt ends `cancelled`
/// with `errorCode` and `errorMessage`, which the job row keeps as its last error.
public struct CancelTarget: Sendable, Equatable {
    public var jobId: String
    public var runningToken: String?
    public var event: EventNote
    public var errorCode: String
    public var errorMessage: String

    public init(jobId: String, runningToken: String?, event: EventNote, errorCode: String, errorMessage: String) {
        self.jobId = jobId; self.runningToken = runningToken; self.event = event
        self.errorCode = errorCode; self.errorMessage = errorMessage
    }
}
