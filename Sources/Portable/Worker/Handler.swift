import Foundation

/// What a handler sees of its job.
public struct JobContext: Sendable {
    public let job: Job
    public let workerId: String
    /// Writes a progress update under this attempt's lease (nil outside a worker).
    let progressWriter: (@Sendable (String) async throws -> Void)?

    public init(job: Job, workerId: String) {
        self.init(job: job, workerId: workerId, progressWriter: nil)
    }

    init(job: Job, workerId: String, progressWriter: (@Sendable (String) async throws -> Void)?) {
        self.job = job; self.workerId = workerId; self.progressWriter = progressWriter
    }
    /// The attempt number (1-based, continues across retries in place).
    public var attempt: Int { job.attempts }
    /// The payload's JSON text, exactly as stored.
    public var payloadJSON: String { job.payload }

    /// Decodes the payload; a payload that does not decode is a `BAD_PAYLOAD` (never retried).
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(job.payload.utf8))
        } catch {
            throw JobError.badPayload("payload does not decode as \(T.self): \(error)")
        }
    }
}

/// How a handler says an attempt failed. Any other error is a retryable `HANDLER_ERROR`.
public enum JobError: Error, Sendable {
    /// Retried with backoff until `max_attempts`, then dead-lettered `MAX_ATTEMPTS_EXCEEDED`.
    case retryable(code: String, message: String? = nil)
    /// Dead-lettered at once as `NON_RETRYABLE`, the code kept in `last_error_code`.
    case permanent(code: String, message: String? = nil)
    /// Dead-lettered at once as `BAD_PAYLOAD`.
    case badPayload(String)
    /// Not now: back to the queue to run again in `seconds`, without using an attempt
    /// (`PORTABLEQ_MAX_SNOOZES` bounds how often).
    case snooze(seconds: Double)

    var result: AttemptResult {
        switch self {
        case .retryable(let code, let message): return .failure(code: code, message: message, retryable: true)
        case .permanent(let code, let message): return .failure(code: code, message: message, retryable: false)
        case .badPayload(let message): return .badPayload(message: message)
        case .snooze(let seconds):
            guard seconds >= 0, seconds <= Limits.maxDelaySeconds else {
                return .failure(code: Codes.badSnooze, message: "snooze seconds must be between 0 and \(Int(Limits.maxDelaySeconds))",
                                retryable: true)
            }
            return .snoozed(seconds: seconds)
        }
    }
}

/// Per-type settings a worker records in `job_types` when it starts.
public struct HandlerOptions: Sendable {
    /// At most this many jobs of this type at once in this worker (nil: only the worker's limit).
    public var concurrency: Int?
    public var timeoutSeconds: Int?
    public var maxAttempts: Int?
    public var backoffBaseMs: Int?
    public var backoffMaxMs: Int?

    public init(concurrency: Int? = nil, timeoutSeconds: Int? = nil, maxAttempts: Int? = nil,
                backoffBaseMs: Int? = nil, backoffMaxMs: Int? = nil) {
        self.concurrency = concurrency; self.timeoutSeconds = timeoutSeconds; self.maxAttempts = maxAttempts
        self.backoffBaseMs = backoffBaseMs; self.backoffMaxMs = backoffMaxMs
    }
}

/// A handler returns the output as JSON text (nil for none).
public typealias JobHandler = @Sendable (JobContext) async throws -> String?

struct Registration: Sendable {
    let type: String
    let options: HandlerOptions
    let handler: JobHandler

    var policy: JobTypePolicy {
        JobTypePolicy(jobType: type, maxAttempts: options.maxAttempts, timeoutSeconds: options.timeoutSeconds,
                      backoffBaseMs: options.backoffBaseMs, backoffMaxMs: options.backoffMaxMs,
                      concurrency: options.concurrency)
    }
}
