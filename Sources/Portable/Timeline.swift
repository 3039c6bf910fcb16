import Foundation

/// One line of a job's story.
public struct TimelineEvent: Sendable, Equatable {
    public var at: Date
    public var type: String
    public var attempt: Int?
    public var workerId: String?
    public var errorCode: String?
    public var message: String?
    /// Extra fields (`run_at` of a retry, `job_id` of a replay, `reason_code` of a DLQ move).
    public var extra: [(String, JSON)]

    public init(at: Date, type: String, attempt: Int? = nil, workerId: String? = nil, errorCode: String? = nil,
                message: String? = nil, extra: [(String, JSON)] = []) {
        self.at = at; self.type = type; self.attempt = attempt; self.workerId = workerId
        self.errorCode = errorCode; self.message = message; self.extra = extra
    }

    public static func == (a: TimelineEvent, b: TimelineEvent) -> Bool {
        a.at == b.at && a.type == b.type && a.attempt == b.attempt && a.workerId == b.workerId
            && a.errorCode == b.errorCode && a.message == b.message && JSON.object(a.extra) == JSON.object(b.extra)
    }

    public var json: JSON {
        var m: [(String, JSON)] = [("at", .string(Time.format(at))), ("type", .string(type))]
        if let attempt { m.append(("attempt", .int(attempt))) }
        if let workerId { m.append(("worker_id", .string(workerId))) }
        if let errorCode { m.append(("error_code", .string(errorCode))) }
        if let message { m.append(("message", .string(message))) }
        m.append(contentsOf: extra)
        return .object(m)
    }
}

public struct Timeline: Sendable, Equatable {
    public var job: Job
    public var events: [TimelineEvent]

    /// Every event type a timeline can hold (the closed list of docs/API.md and the OpenAPI document).
    public static let eventTypes = ["enqueued", "leased", "succeeded", "failed", "retry_scheduled", "dead_lettered",
                                    "lease_expired", "lease_released", "snoozed", "retried", "cancelled", "replayed_as",
                                    "replay_of", "archived"]

    public var json: JSON { .object([("job", job.json), ("events", .array(events.map(\.json)))]) }

    /// Derives the timeline from the job row and its history (no event table on the hot path).
    /// Events sort by time; at equal times, by their place in the job's story.
    public static func assemble(job: Job, history: JobHistory) -> Timeline {
        var keyed: [(at: Date, key: Int, event: TimelineEvent)] = []
        func add(_ e: TimelineEvent, _ key: Int) { keyed.append((e.at, key, e)) }

        var enqueuedExtra: [(String, JSON)] = [("queue", .string(job.queue))]
        if let run = job.runId, let step = job.stepSlug {
            enqueuedExtra += [("run_id", .string(run)), ("step", .string(step))]
        }
        if job.runAt > job.createdAt, job.attempts == 0 || history.attempts.isEmpty {
            enqueuedExtra.append(("run_at", .string(Time.format(job.runAt))))
        }
        add(TimelineEvent(at: job.createdAt, type: "enqueued", extra: enqueuedExtra), 0)
        if let original = job.replayOf {
            add(TimelineEvent(at: job.createdAt, type: "replay_of", message: "replay of job \(original)",
                              extra: [("job_id", .string(original))]), 1)
        }
        for a in history.attempts.sorted(by: { $0.attempt < $1.attempt }) {
            let base = a.attempt * 10
            add(TimelineEvent(at: a.startedAt, type: "leased", attempt: a.attempt, workerId: a.workerId), base)
            let type: String
            switch a.outcome {
            case .succeeded: type = "succeeded"
            case .failed: type = "failed"
            case .leaseExpired: type = "lease_expired"
            case .released: type = "lease_released"
            case .cancelled: type = "cancelled"
            case .snoozed: type = "snoozed"
            }
            var extra: [(String, JSON)] = [("latency_ms", .int(a.latencyMs))]
            // A snooze says until when (its attempt row keeps it in retry_at).
            if a.outcome == .snoozed, let until = a.retryAt { extra.insert(("run_at", .string(Time.format(until))), at: 0) }
            add(TimelineEvent(at: a.finishedAt, type: type, attempt: a.attempt, workerId: a.workerId,
                              errorCode: a.errorCode, message: a.errorMessage, extra: extra), base + 1)
            switch a.decision {
            case .retry:
                add(TimelineEvent(at: a.finishedAt, type: "retry_scheduled", attempt: a.attempt,
                                  extra: a.retryAt.map { [("run_at", .string(Time.format($0)))] } ?? []), base + 2)
            case .dlq:
                add(TimelineEvent(at: a.finishedAt, type: "dead_lettered", attempt: a.attempt,
                                  extra: [("reason_code", .optional(a.dlqReason))]), base + 2)
            case nil:
                break
            }
        }
        if job.status == .running, let started = job.startedAt,
           !history.attempts.contains(where: { $0.attempt == job.attempts }) {
            add(TimelineEvent(at: started, type: "leased", attempt: job.attempts, workerId: job.workerId,
                              extra: job.leaseExpiresAt.map { [("lease_expires_at", .string(Time.format($0)))] } ?? []),
                job.attempts * 10)
        }
        for e in history.events {
            add(TimelineEvent(at: e.at, type: e.type, message: e.message), eventKey(e))
        }
        for r in history.replays {
            add(TimelineEvent(at: r.createdAt, type: "replayed_as", message: "replayed as job \(r.id)",
                              extra: [("job_id", .string(r.id))]), Int.max - 1)
        }
        if let archived = job.archivedAt {
            add(TimelineEvent(at: archived, type: "archived"), Int.max)
        }
        keyed.sort { ($0.at, $0.key) < ($1.at, $1.key) }
        return Timeline(job: job, events: keyed.map(\.event))
    }

    /// Admin events carry the attempt count when they happened (`JobEvent.message` stays free).
    static func eventKey(_ e: JobEvent) -> Int {
        (e.afterAttempt ?? 0) * 10 + 5
    }
}
