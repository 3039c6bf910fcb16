import Foundation

/// Why a job is where it is: one reason code and one sentence.
public struct Explanation: Sendable, Equatable {
    public enum Reason: String, Sendable, CaseIterable {
        case scheduled = "SCHEDULED"
        case runnable = "RUNNABLE"
        case queuePaused = "QUEUE_PAUSED"
        case queueAtConcurrencyLimit = "QUEUE_AT_CONCURRENCY_LIMIT"
        case queueRateLimited = "QUEUE_RATE_LIMITED"
        case keyAtConcurrencyLimit = "KEY_AT_CONCURRENCY_LIMIT"
        case keyRateLimited = "KEY_RATE_LIMITED"
        case noWorkerForType = "NO_WORKER_FOR_TYPE"
        case leased = "LEASED"
        case retryScheduled = "RETRY_SCHEDULED"
        case snoozed = "SNOOZED"
        case succeeded = "SUCCEEDED"
        case inDLQ = "IN_DLQ"
        case cancelled = "CANCELLED"
        case archived = "ARCHIVED"
        case waitingForDependencies = "WAITING_FOR_DEPENDENCIES"
    }

    public var jobId: String
    public var status: JobStatus
    public var reason: Reason
    public var message: String
    public var details: [(String, JSON)]

    public static func == (a: Explanation, b: Explanation) -> Bool {
        a.jobId == b.jobId && a.status == b.status && a.reason == b.reason && a.message == b.message
            && JSON.object(a.details) == JSON.object(b.details)
    }

    public var json: JSON {
        .object([("job_id", .string(jobId)), ("status", .string(status.rawValue)),
                 ("reason_code", .string(reason.rawValue)), ("message", .string(message)),
                 ("details", .object(details))])
    }
}

/// What explain needs to know besides the job row.
public struct ExplainContext: Sendable {
    public var now: Date
    public var workers: [WorkerInfo]
    public var policy: EffectivePolicy
    /// Queue policy facts, when the queue has a policy.
    public var queuePaused: Bool
    public var queueRunning: Int?
    public var queueMaxRunning: Int?
    public var queueRateLimited: Bool
    /// Steps a workflow step waits for.
    public var waitingFor: [String]
    /// The job's last attempt ended `snoozed`.
    public var snoozed = false
    /// Per-key facts, when the job has a key and its queue per-key limits.
    public var keyRunning: Int?
    public var keyMaxRunning: Int?
    public var keyRateLimited = false

    public init(now: Date, workers: [WorkerInfo], policy: EffectivePolicy, queuePaused: Bool = false,
                queueRunning: Int? = nil, queueMaxRunning: Int? = nil, queueRateLimited: Bool = false,
                waitingFor: [String] = []) {
        self.now = now; self.workers = workers; self.policy = policy; self.queuePaused = queuePaused
        self.queueRunning = queueRunning; self.queueMaxRunning = queueMaxRunning
        self.queueRateLimited = queueRateLimited; self.waitingFor = waitingFor
    }
}

public enum Explainer {
    public static func explain(_ job: Job, context c: ExplainContext) -> Explanation {
        func make(_ r: Explanation.Reason, _ msg: String, _ details: [(String, JSON)] = []) -> Explanation {
            // A workflow step says which run it belongs to.
            guard let run = job.runId, let step = job.stepSlug else {
                return Explanation(jobId: job.id, status: job.status, reason: r, message: msg, details: details)
            }
            return Explanation(jobId: job.id, status: job.status, reason: r, message: "Step \(step) of run \(run): " + msg,
                               details: details + [("run_id", .string(run)), ("step", .string(step))])
        }
        let attemptsText = "\(job.attempts) attempt\(job.attempts == 1 ? "" : "s")"
        switch job.status {
        case .succeeded:
            return make(.succeeded, "Succeeded at \(fmt(job.finishedAt)) after \(attemptsText).")
        case .archived:
            return make(.archived, "Finished and moved to the archive at \(fmt(job.archivedAt)); still readable by id.")
        case .cancelled:
            return make(.cancelled, "Cancelled at \(fmt(job.finishedAt)); `retry` puts it back in the queue.")
        case .dlq:
            var msg = "Dead-lettered (\(job.dlqReasonCode ?? "unknown reason")) after \(attemptsText)"
            if let code = job.lastErrorCode {
                msg += "; last error \(code)"
                if let m = job.lastErrorMessage, !m.isEmpty { msg += ": \(oneLine(m))" }
            }
            return make(.inDLQ, msg + ". `retry` runs it again in place, `replay` as a new job.",
                        [("dlq_reason_code", .optional(job.dlqReasonCode)), ("last_error_code", .optional(job.lastErrorCode))])
        case .running:
            let expires = job.leaseExpiresAt.map { " until \(Time.format($0))" } ?? ""
            return make(.leased,
                        "Running on worker \(job.workerId ?? "?") (attempt \(job.countedAttempts) of \(c.policy.maxAttempts)), leased\(expires).",
                        [("worker_id", .optional(job.workerId)), ("attempt", .int(job.attempts))])
        case .queued:
            break
        }
        if !c.waitingFor.isEmpty {
            return make(.waitingForDependencies,
                        "Waiting for step\(c.waitingFor.count == 1 ? "" : "s") \(c.waitingFor.joined(separator: ", ")) of run \(job.runId ?? "?") to succeed.",
                        [("waiting_for", .array(c.waitingFor.map(JSON.string)))])
        }
        if job.runAt > c.now {
            let wait = job.runAt.timeIntervalSince(c.now)
            if c.snoozed {
                return make(.snoozed,
                            "Snoozed by its handler (\(job.snoozes) time\(job.snoozes == 1 ? "" : "s")); runs again at \(Time.format(job.runAt)) (in \(duration(wait))).",
                            [("run_at", .string(Time.format(job.runAt))), ("snoozes", .int(job.snoozes))])
            }
            if job.countedAttempts > 0 {
                return make(.retryScheduled,
                            "Attempt \(job.attempts) failed (\(job.lastErrorCode ?? "error")); attempt \(job.countedAttempts + 1) of \(c.policy.maxAttempts) is scheduled for \(Time.format(job.runAt)) (in \(duration(wait))).",
                            [("run_at", .string(Time.format(job.runAt)))])
            }
            return make(.scheduled, "Scheduled for \(Time.format(job.runAt)) (in \(duration(wait))).",
                        [("run_at", .string(Time.format(job.runAt)))])
        }
        if c.queuePaused {
            return make(.queuePaused, "Due, but queue \(job.queue) is paused; `queues resume \(job.queue)` starts it again.")
        }
        let serving = c.workers.filter { $0.isAlive(at: c.now) && $0.serves(queue: job.queue, jobType: job.jobType) }
        if serving.isEmpty {
            return make(.noWorkerForType,
                        "Due, but no live worker serves job type \(job.jobType) in queue \(job.queue); start one with a handler for it (`portableq work --exec TYPE=COMMAND`; `--builtins` serves echo, fail_me and sleep; `--fail-unknown-types` fails what it cannot run).")
        }
        if let cap = c.queueMaxRunning, let running = c.queueRunning, running >= cap {
            return make(.queueAtConcurrencyLimit,
                        "Due, but queue \(job.queue) already runs \(running) of its \(cap) allowed jobs.")
        }
        if c.queueRateLimited {
            return make(.queueRateLimited, "Due, but queue \(job.queue) is at its start-rate limit.")
        }
        // The queue's reasons come first: a job held by its key takes none of the queue's room.
        if let key = job.concurrencyKey {
            if let cap = c.keyMaxRunning, let running = c.keyRunning, running >= cap {
                return make(.keyAtConcurrencyLimit,
                            "Due, but key \(JSON.quote(key)) of queue \(job.queue) already runs \(running) of its \(cap) allowed jobs.",
                            [("concurrency_key", .string(key)), ("running", .int(running)), ("max_running_per_key", .int(cap))])
            }
            if c.keyRateLimited {
                return make(.keyRateLimited, "Due, but key \(JSON.quote(key)) of queue \(job.queue) is at its start-rate limit.",
                            [("concurrency_key", .string(key))])
            }
        }
        return make(.runnable,
                    "Due since \(Time.format(job.runAt)); \(serving.count) live worker\(serving.count == 1 ? "" : "s") serve\(serving.count == 1 ? "s" : "") it and will start it when a slot is free.",
                    [("workers", .array(serving.map { .string($0.id) }))])
    }

    static func fmt(_ d: Date?) -> String { d.map(Time.format) ?? "an unknown time" }

    static func oneLine(_ s: String) -> String {
        let flat = s.replacingOccurrences(of: "\n", with: " ")
        return flat.count > 200 ? String(flat.prefix(200)) + "…" : flat
    }

    static func duration(_ s: Double) -> String {
        if s < 1 { return "\(Int((s * 1000).rounded())) ms" }
        if s < 120 { return "\(Int(s.rounded())) s" }
        if s < 7200 { return "\(Int((s / 60).rounded())) min" }
        return "\(Int((s / 3600).rounded())) h"
    }
}
