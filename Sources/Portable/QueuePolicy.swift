import Foundation

/// A queue's policy (invariant 8), stored in the database and obeyed by every worker.
public struct QueuePolicy: Sendable, Equatable {
    public var queue: String
    public var paused = false
    /// Cluster-wide cap on running jobs; nil: none.
    public var maxRunning: Int?
    /// Start-rate limit; nil: none.
    public var maxStartsPerSecond: Double?
    /// Token-bucket state as of `tokensAt` (nil: full).
    public var tokens: Double?
    public var tokensAt: Date?

    public init(queue: String, paused: Bool = false, maxRunning: Int? = nil, maxStartsPerSecond: Double? = nil,
                tokens: Double? = nil, tokensAt: Date? = nil) {
        self.queue = queue; self.paused = paused; self.maxRunning = maxRunning
        self.maxStartsPerSecond = maxStartsPerSecond; self.tokens = tokens; self.tokensAt = tokensAt
    }

    /// A queue whose claims must be counted against its cap or bucket (one at a time per queue).
    public var isRestricted: Bool { maxRunning != nil || maxStartsPerSecond != nil }

    /// Burst = max(1, ceil(rate)).
    public var burst: Double? { maxStartsPerSecond.map { max(1, ($0).rounded(.up)) } }

    /// Tokens available at `now`: the stored level refilled at the rate, capped at the burst.
    public func tokensAvailable(at now: Date) -> Double? {
        guard let rate = maxStartsPerSecond, let burst else { return nil }
        guard let t = tokens, let at = tokensAt else { return burst }
        return min(burst, t + max(0, now.timeIntervalSince(at)) * rate)
    }

    public var json: JSON {
        .object([("queue", .string(queue)), ("paused", .bool(paused)), ("max_running", .optionalInt(maxRunning)),
                 ("max_starts_per_second", maxStartsPerSecond.map(JSON.double) ?? .null)])
    }
}

/// How many jobs a claim may start in a restricted queue, and why not more.
public struct Allowance: Sendable, Equatable {
    public var count: Int
    /// Set when the policy held jobs back (`QUEUE_AT_CONCURRENCY_LIMIT` / `QUEUE_RATE_LIMITED`).
    public var heldBy: Explanation.Reason?
    /// The bucket's level after taking `count` tokens (to store), when rate-limited.
    public var tokensAfter: Double?

    public init(count: Int, heldBy: Explanation.Reason?, tokensAfter: Double?) {
        self.count = count; self.heldBy = heldBy; self.tokensAfter = tokensAfter
    }

    /// The one decision for capped and rate-limited queues: the cap minus running jobs, the
    /// whole tokens in the bucket, and what the worker asked for — whichever is least.
    public static func decide(policy p: QueuePolicy, running: Int, wanted: Int, now: Date) -> Allowance {
        // Like the other throttles, a pause holds back only jobs that are due.
        if p.paused { return Allowance(count: 0, heldBy: wanted > 0 ? .queuePaused : nil, tokensAfter: nil) }
        var count = wanted
        var heldBy: Explanation.Reason?
        if let cap = p.maxRunning {
            let room = max(0, cap - running)
            if room < count { count = room; heldBy = .queueAtConcurrencyLimit }
        }
        let available = p.tokensAvailable(at: now)
        if let available {
            let whole = Int((available + 1e-6).rounded(.down))  // Date arithmetic is not exact
            if whole < count { count = whole; heldBy = .queueRateLimited }
        }
        return Allowance(count: count, heldBy: count < wanted ? heldBy : nil,
                         tokensAfter: available.map { $0 - Double(count) })
    }
}
