import Foundation

/// Counts of live jobs by queue and status, from the database. Bounded twice: only queued,
/// running and dlq rows are read, each through its partial index (never the history), and at
/// most `QueueCount.cap` rows per queue for queued jobs and per status for running and dead
/// ones, so a dashboard refresh costs the same with a million-job backlog as with a thousand.
/// Past the cap a count is a lower bound and `capped` says so.
public struct QueueCount: Sendable, Equatable {
    /// Rows read per queue (queued) or per status (running, dlq).
    public static let cap = 10_000

    public var queue: String
    public var status: JobStatus
    /// For queued jobs: due now (runnable) or scheduled ahead.
    public var due: Bool
    public var count: Int
    /// The earliest run_at in this group (of the rows read, when capped: for queued jobs the
    /// first ones in claim order).
    public var oldestRunAt: Date?
    /// The cap was reached: `count` is a lower bound.
    public var capped: Bool

    public init(queue: String, status: JobStatus, due: Bool, count: Int, oldestRunAt: Date?, capped: Bool = false) {
        self.queue = queue; self.status = status; self.due = due; self.count = count; self.oldestRunAt = oldestRunAt
        self.capped = capped
    }

    /// Marks the groups of one read as capped when together they reached the cap.
    public static func markCapped(_ counts: [QueueCount]) -> [QueueCount] {
        guard counts.reduce(0, { $0 + $1.count }) >= cap else { return counts }
        return counts.map { var c = $0; c.capped = true; return c }
    }
}

/// Attempts that finished in a recent window: exact counts, and a bounded sample of the
/// newest ones for percentiles.
public struct AttemptWindow: Sendable, Equatable {
    public struct Count: Sendable, Equatable {
        public var queue: String
        public var outcome: String
        public var count: Int
        public init(queue: String, outcome: String, count: Int) { self.queue = queue; self.outcome = outcome; self.count = count }
    }

    public struct Sample: Sendable, Equatable {
        public var queue: String
        public var waitMs: Int?
        public var runMs: Int
        public init(queue: String, waitMs: Int?, runMs: Int) { self.queue = queue; self.waitMs = waitMs; self.runMs = runMs }
    }

    public var counts: [Count]
    public var samples: [Sample]
    public init(counts: [Count], samples: [Sample]) { self.counts = counts; self.samples = samples }
}

/// How long one finished run took (`GET /metrics` flow figures).
public struct RunDuration: Sendable, Equatable {
    public var flow: String
    public var ms: Int
    public init(flow: String, ms: Int) { self.flow = flow; self.ms = ms }
}

/// One flow's runs that finished in the window: how many, and their average and p95 duration.
public struct FlowFigures: Sendable, Equatable {
    public var flow: String
    public var runsFinished: Int
    public var avgMs: Int?
    public var p95Ms: Int?

    public var json: JSON {
        .object([("flow", .string(flow)), ("runs_finished", .int(runsFinished)),
                 ("run_duration_ms", .object([("avg", .optionalInt(avgMs)), ("p95", .optionalInt(p95Ms))]))])
    }

    /// Per flow, sorted by slug.
    public static func from(_ durations: [RunDuration]) -> [FlowFigures] {
        Dictionary(grouping: durations, by: \.flow).map { flow, ds in
            let ms = ds.map(\.ms)
            return FlowFigures(flow: flow, runsFinished: ms.count, avgMs: ms.isEmpty ? nil : Int((Double(ms.reduce(0, +)) / Double(ms.count)).rounded()),
                               p95Ms: MetricsSnapshot.percentiles(ms)[1])
        }.sorted { $0.flow < $1.flow }
    }
}

/// One queue's summary (`GET /queues`, `portableq queues list`).
public struct QueueSummary: Sendable, Equatable {
    public var queue: String
    public var runnable = 0
    public var scheduled = 0
    public var running = 0
    public var dlq = 0
    public var oldestRunnableAt: Date?
    public var policy: QueuePolicy?
    /// A count stopped at `QueueCount.cap`: the figures are lower bounds.
    public var countsCapped = false

    public func json(now: Date) -> JSON {
        .object([
            ("queue", .string(queue)),
            ("runnable", .int(runnable)),
            ("scheduled", .int(scheduled)),
            ("running", .int(running)),
            ("dlq", .int(dlq)),
            ("counts_capped", .bool(countsCapped)),
            ("oldest_runnable_age_seconds", oldestRunnableAt.map { .double(max(0, now.timeIntervalSince($0))) } ?? .null),
            ("paused", .bool(policy?.paused ?? false)),
            ("max_running", .optionalInt(policy?.maxRunning)),
            ("max_starts_per_second", policy?.maxStartsPerSecond.map(JSON.double) ?? .null),
        ])
    }

    /// Summaries from counts, with every queue that has a policy (even with no live jobs).
    public static func from(_ counts: [QueueCount], policies: [QueuePolicy]) -> [QueueSummary] {
        var by = Dictionary(from(counts).map { ($0.queue, $0) }, uniquingKeysWith: { a, _ in a })
        for p in policies {
            var s = by[p.queue] ?? QueueSummary(queue: p.queue)
            s.policy = p
            by[p.queue] = s
        }
        return by.values.sorted { $0.queue < $1.queue }
    }

    public static func from(_ counts: [QueueCount]) -> [QueueSummary] {
        var by: [String: QueueSummary] = [:]
        for c in counts {
            var s = by[c.queue] ?? QueueSummary(queue: c.queue)
            if c.capped { s.countsCapped = true }
            switch (c.status, c.due) {
            case (.queued, true):
                s.runnable += c.count
                if let o = c.oldestRunAt { s.oldestRunnableAt = min(s.oldestRunnableAt ?? o, o) }
            case (.queued, false): s.scheduled += c.count
            case (.running, _): s.running += c.count
            case (.dlq, _): s.dlq += c.count
            default: break
            }
            by[c.queue] = s
        }
        return by.values.sorted { $0.queue < $1.queue }
    }
}

/// The cluster-wide snapshot of `GET /metrics`: throughput, retry rate, depths and latency
/// percentiles over the last `windowSeconds`, overall and per queue.
public struct MetricsSnapshot: Sendable {
    public struct Figures: Sendable {
        public var jobsPerSec = 0.0
        public var attemptsPerSec = 0.0
        public var retryRate = 0.0
        public var runnable = 0
        public var scheduled = 0
        public var running = 0
        public var dlq = 0
        public var oldestRunnableAgeSeconds: Double?
        public var startLatencyMs: [Int?] = [nil, nil, nil]
        public var runTimeMs: [Int?] = [nil, nil, nil]

        func json(_ extra: [(String, JSON)] = []) -> JSON {
            func pct(_ v: [Int?]) -> JSON {
                .object([("p50", .optionalInt(v[0])), ("p95", .optionalInt(v[1])), ("p99", .optionalInt(v[2]))])
            }
            return .object(extra + [
                ("jobs_per_sec", .double((jobsPerSec * 100).rounded() / 100)),
                ("attempts_per_sec", .double((attemptsPerSec * 100).rounded() / 100)),
                ("retry_rate", .double((retryRate * 10000).rounded() / 10000)),
                ("runnable_queue_depth", .int(runnable)),
                ("scheduled", .int(scheduled)),
                ("running", .int(running)),
                ("dlq_size", .int(dlq)),
                ("oldest_runnable_age_seconds", oldestRunnableAgeSeconds.map { .double(($0 * 1000).rounded() / 1000) } ?? .null),
                ("start_latency_ms", pct(startLatencyMs)),
                ("run_time_ms", pct(runTimeMs)),
            ])
        }
    }

    public var at: Date
    public var windowSeconds: Double
    public var total: Figures
    public var queues: [(String, Figures)]
    /// Runs that finished (succeeded or failed) in the window, per flow: at most
    /// `runDurationSampleLimit` of the newest are read.
    public var flows: [FlowFigures] = []
    public static let runDurationSampleLimit = 10_000

    public var json: JSON {
        var base = total.json([("at", .string(Time.format(at))), ("window_seconds", .double(windowSeconds))])
        if case .object(var m) = base {
            m.append(("queues", .array(queues.map { $0.1.json([("queue", .string($0.0))]) })))
            m.append(("flows", .array(flows.map(\.json))))
            base = .object(m)
        }
        return base
    }

    public static func build(counts: [QueueCount], window: AttemptWindow, windowSeconds: Double, now: Date) -> MetricsSnapshot {
        let summaries = QueueSummary.from(counts)
        var queueNames = Set(summaries.map(\.queue))
        for c in window.counts { queueNames.insert(c.queue) }

        func figures(_ queue: String?) -> Figures {
            var f = Figures()
            for s in summaries where queue == nil || s.queue == queue {
                f.runnable += s.runnable
                f.scheduled += s.scheduled
                f.running += s.running
                f.dlq += s.dlq
                if let o = s.oldestRunnableAt {
                    let age = max(0, now.timeIntervalSince(o))
                    f.oldestRunnableAgeSeconds = max(f.oldestRunnableAgeSeconds ?? 0, age)
                }
            }
            let cs = window.counts.filter { queue == nil || $0.queue == queue }
            let attempts = cs.reduce(0) { $0 + $1.count }
            let succeeded = cs.filter { $0.outcome == AttemptOutcome.succeeded.rawValue }.reduce(0) { $0 + $1.count }
            let failed = cs.filter { $0.outcome == AttemptOutcome.failed.rawValue || $0.outcome == AttemptOutcome.leaseExpired.rawValue }
                .reduce(0) { $0 + $1.count }
            f.jobsPerSec = Double(succeeded) / windowSeconds
            f.attemptsPerSec = Double(attempts) / windowSeconds
            f.retryRate = attempts == 0 ? 0 : Double(failed) / Double(attempts)
            let samples = window.samples.filter { queue == nil || $0.queue == queue }
            f.startLatencyMs = percentiles(samples.compactMap(\.waitMs))
            f.runTimeMs = percentiles(samples.map(\.runMs))
            return f
        }
        return MetricsSnapshot(at: now, windowSeconds: windowSeconds, total: figures(nil),
                               queues: queueNames.sorted().map { ($0, figures($0)) })
    }

    /// Nearest-rank p50, p95, p99.
    static func percentiles(_ values: [Int]) -> [Int?] {
        guard !values.isEmpty else { return [nil, nil, nil] }
        let sorted = values.sorted()
        return [0.5, 0.95, 0.99].map { p in
            sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
        }
    }
}
