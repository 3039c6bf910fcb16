import Foundation

/// How a handler's attempt ended, as the worker reports it.
public enum AttemptResult: Sendable, Equatable {
    case success(output: String?)
    /// `retryable: false` is a permanent failure: dead-lettered as `NON_RETRYABLE`, the
    /// handler's own code kept in `last_error_code`.
    case failure(code: String, message: String?, retryable: Bool)
    /// The payload cannot be used: dead-lettered as `BAD_PAYLOAD`, never retried.
    case badPayload(message: String?)
    /// The lease ran out (recorded by the reaper).
    case leaseExpired
    /// Handed back at shutdown: back to queued now, not counted against `max_attempts`.
    case released
    /// The handler asked to run again in `seconds` (`JobError.snooze`, `--exec` exit 99): back
    /// to queued with run_at moved, not counted against `max_attempts`.
    case snoozed(seconds: Double)
}

/// Well-known error and reason codes.
public enum Codes {
    public static let maxAttemptsExceeded = "MAX_ATTEMPTS_EXCEEDED"
    public static let nonRetryable = "NON_RETRYABLE"
    public static let badPayload = "BAD_PAYLOAD"
    /// Dead-lettered after more snoozes than `PORTABLEQ_MAX_SNOOZES` since enqueue or the last retry.
    public static let snoozeLimit = "SNOOZE_LIMIT"
    /// A snooze with seconds out of range (negative, not a number, over the delay limit).
    public static let badSnooze = "BAD_SNOOZE"
    public static let leaseExpired = "LEASE_EXPIRED"
    public static let timeout = "TIMEOUT"
    public static let unknownJobType = "UNKNOWN_JOB_TYPE"
    public static let cancelled = "CANCELLED"
    /// A map step's path does not lead to an array.
    public static let mapNotArray = PortableError.Code.mapNotArray.wire
    /// A map step's array has more elements than its `max_elements`.
    public static let mapTooLarge = PortableError.Code.mapTooLarge.wire
    /// A map step's assembled output is over 16 MiB.
    public static let mapOutputTooLarge = PortableError.Code.mapOutputTooLarge.wire
    public static let handlerError = "HANDLER_ERROR"
    public static let outputTooLarge = "OUTPUT_TOO_LARGE"
}

/// State transitions after an attempt: the one place that decides retry vs dead-letter and
/// the backoff (invariant 4). The worker and the reaper both come here.
public enum Decide {
    /// `job` is the row as leased (its `attempts` already counts this attempt).
    public static func completion(for job: Job, token: String, result: AttemptResult, policy: EffectivePolicy,
                                  random: any RandomSource, maxSnoozes: Int = 100) -> Completion {
        let lease = LeaseKey(jobId: job.id, token: token)
        switch result {
        case .snoozed(let seconds):
            // A handler that snoozes for ever is a bug: past the limit the job is dead-lettered.
            guard job.snoozes < maxSnoozes else {
                return Completion(lease: lease, outcome: .failed, errorCode: Codes.snoozeLimit,
                                  errorMessage: "snoozed \(job.snoozes) times, the limit (PORTABLEQ_MAX_SNOOZES)",
                                  next: .dlq(reason: Codes.snoozeLimit))
            }
            return Completion(lease: lease, outcome: .snoozed, next: .snooze(delaySeconds: seconds))
        case .success(let output):
            return Completion(lease: lease, outcome: .succeeded, output: output, next: .succeeded)
        case .released:
            return Completion(lease: lease, outcome: .released, next: .requeue)
        case .badPayload(let message):
            return Completion(lease: lease, outcome: .failed, errorCode: Codes.badPayload, errorMessage: message,
                              next: .dlq(reason: Codes.badPayload))
        case .failure(let code, let message, let retryable):
            guard retryable else {
                return Completion(lease: lease, outcome: .failed, errorCode: code, errorMessage: message,
                                  next: .dlq(reason: Codes.nonRetryable))
            }
            return Completion(lease: lease, outcome: .failed, errorCode: code, errorMessage: message,
                              next: retryOrDeadLetter(job, policy: policy, random: random))
        case .leaseExpired:
            return Completion(lease: lease, outcome: .leaseExpired, errorCode: Codes.leaseExpired,
                              errorMessage: "lease expired before the worker reported a result",
                              next: retryOrDeadLetter(job, policy: policy, random: random))
        }
    }

    static func retryOrDeadLetter(_ job: Job, policy: EffectivePolicy, random: any RandomSource) -> NextState {
        let counted = job.countedAttempts
        if counted >= policy.maxAttempts { return .dlq(reason: Codes.maxAttemptsExceeded) }
        return .retry(delaySeconds: policy.backoff.delaySeconds(afterAttempt: counted, unit: random.unit()))
    }
}

/// What operator actions record, worded once here for both backends.
extension Decide {
    /// A retry in place (`retry`, bulk retry): the `retried` event.
    public static let retryEvent = EventNote(type: "retried", message: "put back in the queue with a fresh budget")
    /// A sibling that its run's failure cancelled, queued again when the run re-opened.
    public static let reopenEvent = EventNote(type: "retried", message: "put back in the queue: its run re-opened")

    /// An operator's cancel of `job` as last read: a running job by its current lease.
    public static func cancel(_ job: Job) -> CancelTarget {
        cancel(jobId: job.id, runningToken: job.status == .running ? job.leaseToken : nil, reason: nil)
    }

    /// A queued step job of a run that just failed: it never starts.
    public static func cancelForFailedRun(jobId: String) -> CancelTarget {
        cancel(jobId: jobId, runningToken: nil, reason: "its run failed")
    }

    static func cancel(jobId: String, runningToken: String?, reason: String?) -> CancelTarget {
        CancelTarget(jobId: jobId, runningToken: runningToken, event: EventNote(type: "cancelled", message: reason),
                     errorCode: Codes.cancelled, errorMessage: "cancelled while running")
    }
}
