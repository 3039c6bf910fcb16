import Foundation

public enum JobStatus: String, Sendable, CaseIterable, Codable {
    case queued, running, succeeded, dlq, cancelled, archived

    public var isTerminal: Bool {
        switch self {
        case .succeeded, .dlq, .cancelled, .archived: return true
        case .queued, .running: return false
        }
    }

    /// A status named by a user (CLI flag, filter, query parameter); an unknown one is
    /// `INVALID_ARGUMENT` naming the valid ones.
    public static func named(_ s: String) throws -> JobStatus {
        guard let st = JobStatus(rawValue: s) else {
            throw PortableError.invalid("unknown status \(JSON.quote(s)) (one of \(allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return st
    }
}

/// One job as stored. `payload` and `output` are JSON text exactly as stored, never re-encoded
/// on the way through.
public struct Job: Sendable, Equatable {
    public var id: String
    public var queue: String
    public var jobType: String
    public var payload: String
    public var priority: Int
    public var runAt: Date
    public var status: JobStatus
    /// Attempts started so far; the next attempt's number is `attempts + 1`.
    public var attempts: Int
    /// Attempts that do not count against `max_attempts`: those released at shutdown, and all
    /// attempts before a retry in place (which grants a fresh budget).
    public var attemptBase: Int
    public var maxAttempts: Int?
    public var timeoutSeconds: Int?
    public var backoffBaseMs: Int?
    public var idempotencyKey: String?
    public var replayOf: String?
    public var output: String?
    public var lastErrorCode: String?
    public var lastErrorMessage: String?
    public var dlqReasonCode: String?
    public var leaseToken: String?
    public var leaseExpiresAt: Date?
    public var workerId: String?
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var archivedAt: Date?
    public var runId: String?
    public var stepSlug: String?
    /// Snoozes since enqueue or the last retry (`PORTABLEQ_MAX_SNOOZES` bounds them).
    public var snoozes: Int
    /// The key whose per-key limits the job obeys (given or derived at enqueue; never changed).
    public var concurrencyKey: String?
    /// Given at enqueue (`JobTags`, `JobMetadata`); never changed afterwards.
    public var tags: [String]
    /// A JSON object's text, as stored.
    public var metadata: String
    /// The latest progress update of its handler (a JSON object's text) and when it was written.
    public var progress: String?
    public var progressAt: Date?

    public init(id: String, queue: String, jobType: String, payload: String, priority: Int = 0, runAt: Date,
                status: JobStatus, attempts: Int = 0, attemptBase: Int = 0, maxAttempts: Int? = nil,
                timeoutSeconds: Int? = nil, backoffBaseMs: Int? = nil, idempotencyKey: String? = nil,
                replayOf: String? = nil, output: String? = nil, lastErrorCode: String? = nil,
                lastErrorMessage: String? = nil, dlqReasonCode: String? = nil, leaseToken: String? = nil,
                leaseExpiresAt: Date? = nil, workerId: String? = nil, createdAt: Date, startedAt: Date? = nil,
                finishedAt: Date? = nil, archivedAt: Date? = nil, runId: String? = nil, stepSlug: String? = nil,
                snoozes: Int = 0, concurrencyKey: String? = nil, tags: [String] = [], metadata: String = "{}",
                progress: String? = nil, progressAt: Date? = nil) {
        self.id = id; self.queue = queue; self.jobType = jobType; self.payload = payload
        self.priority = priority; self.runAt = runAt; self.status = status; self.attempts = attempts
        self.attemptBase = attemptBase; self.maxAttempts = maxAttempts; self.timeoutSeconds = timeoutSeconds
        self.backoffBaseMs = backoffBaseMs; self.idempotencyKey = idempotencyKey; self.replayOf = replayOf
        self.output = output; self.lastErrorCode = lastErrorCode; self.lastErrorMessage = lastErrorMessage
        self.dlqReasonCode = dlqReasonCode; self.leaseToken = leaseToken; self.leaseExpiresAt = leaseExpiresAt
        self.workerId = workerId; self.createdAt = createdAt; self.startedAt = startedAt
        self.finishedAt = finishedAt; self.archivedAt = archivedAt; self.runId = runId; self.stepSlug = stepSlug
        self.snoozes = snoozes; self.concurrencyKey = concurrencyKey; self.tags = tags; self.metadata = metadata
        self.progress = progress; self.progressAt = progressAt
    }

    /// The order of a claim: priority (higher first), then run_at, then id. Drivers return
    /// claimed jobs in no particular order; the core sorts them.
    public static func claimOrder(_ a: Job, _ b: Job) -> Bool {
        if a.priority != b.priority { return a.priority > b.priority }
        if a.runAt != b.runAt { return a.runAt < b.runAt }
        return a.id < b.id
    }

    /// Attempts that count against the budget.
    public var countedAttempts: Int { attempts - attemptBase }

    /// The wire form (HTTP and `--json`). The lease token is a secret of the worker holding it
    /// and is never shown.
    public var json: JSON {
        var m: [(String, JSON)] = [
            ("id", .string(id)),
            ("queue", .string(queue)),
            ("job_type", .string(jobType)),
            ("status", .string(status.rawValue)),
            ("payload", .raw(payload)),
            ("priority", .int(priority)),
            ("run_at", .string(Time.format(runAt))),
            ("attempts", .int(attempts)),
            ("max_attempts", .optionalInt(maxAttempts)),
            ("timeout_seconds", .optionalInt(timeoutSeconds)),
            ("idempotency_key", .optional(idempotencyKey)),
            ("concurrency_key", .optional(concurrencyKey)),
            ("replay_of", .optional(replayOf)),
            ("output", .optionalRaw(output)),
            ("last_error_code", .optional(lastErrorCode)),
            ("last_error_message", .optional(lastErrorMessage)),
            ("dlq_reason_code", .optional(dlqReasonCode)),
            ("worker_id", .optional(workerId)),
            ("lease_expires_at", leaseExpiresAt.map { .string(Time.format($0)) } ?? .null),
            ("created_at", .string(Time.format(createdAt))),
            ("started_at", startedAt.map { .string(Time.format($0)) } ?? .null),
            ("finished_at", finishedAt.map { .string(Time.format($0)) } ?? .null),
            ("tags", .array(tags.map(JSON.string))),
            ("metadata", .raw(metadata)),
            ("progress", .optionalRaw(progress)),
            ("progress_at", progressAt.map { .string(Time.format($0)) } ?? .null),
        ]
        if let archivedAt { m.append(("archived_at", .string(Time.format(archivedAt)))) }
        if let runId { m.append(("run_id", .string(runId))) }
        if let stepSlug { m.append(("step", .string(stepSlug))) }
        if snoozes > 0 { m.append(("snoozes", .int(snoozes))) }
        return .object(m)
    }
}

/// A job to enqueue, as a caller describes it. Nil policy fields mean "resolve later":
/// job → job type → global default.
public struct NewJob: Sendable, Equatable {
    public var queue: String
    public var jobType: String
    /// JSON text. Use `NewJob(type:payload:)` with an Encodable to have it encoded once.
    public var payload: String
    public var priority: Int
    public var runAt: Date?
    public var delaySeconds: Double?
    public var maxAttempts: Int?
    public var timeoutSeconds: Int?
    public var backoffBaseMs: Int?
    public var idempotencyKey: String?
    /// No second job with the same chosen fields while this one is in the chosen states.
    public var unique: UniqueSpec?
    /// The per-key limits' key; nil: derived from the payload by the queue policy's
    /// `concurrency_key_from`, if any.
    public var concurrencyKey: String?
    /// Up to 16 tags (`JobTags`) to find the job by, and a JSON object of metadata (text).
    public var tags: [String] = []
    public var metadata: String?

    public init(queue: String = "default", jobType: String, payloadJSON: String = "null", priority: Int = 0,
                runAt: Date? = nil, delaySeconds: Double? = nil, maxAttempts: Int? = nil,
                timeoutSeconds: Int? = nil, backoffBaseMs: Int? = nil, idempotencyKey: String? = nil,
                unique: UniqueSpec? = nil, concurrencyKey: String? = nil) {
        self.queue = queue; self.jobType = jobType; self.payload = payloadJSON; self.priority = priority
        self.runAt = runAt; self.delaySeconds = delaySeconds; self.maxAttempts = maxAttempts
        self.timeoutSeconds = timeoutSeconds; self.backoffBaseMs = backoffBaseMs; self.idempotencyKey = idempotencyKey
        self.unique = unique; self.concurrencyKey = concurrencyKey
    }

    /// Encodes `payload` with JSONEncoder once; the text is stored as is.
    public init<P: Encodable>(queue: String = "default", type: String, payload: P, priority: Int = 0,
                              runAt: Date? = nil, delaySeconds: Double? = nil, maxAttempts: Int? = nil,
                              timeoutSeconds: Int? = nil, idempotencyKey: String? = nil, unique: UniqueSpec? = nil,
                              concurrencyKey: String? = nil) throws {
        let data = try JSONEncoder().encode(payload)
        self.init(queue: queue, jobType: type, payloadJSON: String(decoding: data, as: UTF8.self),
                  priority: priority, runAt: runAt, delaySeconds: delaySeconds, maxAttempts: maxAttempts,
                  timeoutSeconds: timeoutSeconds, idempotencyKey: idempotencyKey, unique: unique,
                  concurrencyKey: concurrencyKey)
    }
}

/// What enqueue answers per job: the job and whether this call created it (false for an
/// idempotency-key or unique duplicate, which returns the existing job; `duplicate` says which,
/// `replaced` that a unique `replace` gave the match the new payload and run_at).
public struct EnqueueResult: Sendable, Equatable {
    public var job: Job
    public var created: Bool
    public var duplicate: Duplicate?
    public var replaced: Bool
    public init(job: Job, created: Bool, duplicate: Duplicate? = nil, replaced: Bool = false) {
        self.job = job; self.created = created; self.duplicate = created ? nil : (duplicate ?? .idempotencyKey)
        self.replaced = replaced
    }

    public var json: JSON {
        var o: [(String, JSON)] = [("job_id", .string(job.id)), ("created", .bool(created))]
        if let duplicate { o += [("duplicate", .string(duplicate.rawValue)), ("replaced", .bool(replaced))] }
        return .object(o + [("job", job.json)])
    }
}

/// Filters for listing and bulk actions. `statuses` nil means every live status (archived only
/// when asked for).
public struct JobFilter: Sendable, Equatable {
    public var queue: String?
    public var jobType: String?
    public var status: JobStatus?
    public var errorCode: String?
    public var runId: String?
    /// Dead-lettered for this reason (`MAX_ATTEMPTS_EXCEEDED`, `NON_RETRYABLE`, `TIMEOUT`, ...).
    public var dlqReason: String?
    /// Queued jobs not due yet (backing off before a retry, or scheduled for later).
    public var scheduled: Bool
    /// Set by the core from `scheduled`: only jobs whose run_at is later than this.
    public var runAfter: Date?
    /// Jobs carrying every one of these tags.
    public var tags: [String] = []
    /// The job holding this idempotency key in `queue` (the default queue when none is given).
    public var idempotencyKey: String?

    public init(queue: String? = nil, jobType: String? = nil, status: JobStatus? = nil,
                errorCode: String? = nil, runId: String? = nil, dlqReason: String? = nil, scheduled: Bool = false) {
        self.queue = queue; self.jobType = jobType; self.status = status; self.errorCode = errorCode; self.runId = runId
        self.dlqReason = dlqReason; self.scheduled = scheduled
    }
}

/// A page of a list with a capped total: exact up to `cap`, `totalCapped` beyond.
public struct Page<T: Sendable>: Sendable {
    public var items: [T]
    public var total: Int
    public var totalCapped: Bool
    public init(items: [T], total: Int, totalCapped: Bool) {
        self.items = items; self.total = total; self.totalCapped = totalCapped
    }

    public func json(_ f: (T) -> JSON) -> JSON {
        .object([("items", .array(items.map(f))), ("total", .int(total)), ("total_capped", .bool(totalCapped))])
    }
}

/// Names of queues, job types, workers' queues: `^[A-Za-z0-9_.:-]{1,128}$`.
public enum Names {
    public static func isValid(_ s: String) -> Bool {
        let u = s.utf8
        guard !u.isEmpty, u.count <= 128 else { return false }
        for c in u {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."),
                 UInt8(ascii: ":"), UInt8(ascii: "-"):
                continue
            default:
                return false
            }
        }
        return true
    }

    public static func check(_ s: String, _ what: String) throws {
        guard isValid(s) else {
            throw PortableError.invalid("\(what) \(JSON.quote(s)) must match ^[A-Za-z0-9_.:-]{1,128}$")
        }
    }
}
