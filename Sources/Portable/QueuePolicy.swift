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
    /// The top-level payload field whose value keys a job enqueued without a key; nil: none.
    public var concurrencyKeyFrom: String?
    /// Cluster-wide cap on running jobs per concurrency key; nil: none.
    public var maxRunningPerKey: Int?
    /// Start-rate limit per concurrency key; nil: none.
    public var maxStartsPerSecondPerKey: Double?

    public init(queue: String, paused: Bool = false, maxRunning: Int? = nil, maxStartsPerSecond: Double? = nil,
                tokens: Double? = nil, tokensAt: Date? = nil, concurrencyKeyFrom: String? = nil,
                maxRunningPerKey: Int? = nil, maxStartsPerSecondPerKey: Double? = nil) {
        self.queue = queue; self.paused = paused; self.maxRunning = maxRunning
        self.maxStartsPerSecond = maxStartsPerSecond; self.tokens = tokens; self.tokensAt = tokensAt
        self.concurrencyKeyFrom = concurrencyKeyFrom; self.maxRunningPerKey = maxRunningPerKey
        self.maxStartsPerSecondPerKey = maxStartsPerSecondPerKey
    }

    /// A queue whose claims must be counted against its cap or bucket (one at a time per queue).
    public var isRestricted: Bool { maxRunning != nil || maxStartsPerSecond != nil || hasKeyLimits }

    /// Jobs of this queue are also limited per concurrency key (claimed by `jobLeaseKeyed`).
    public var hasKeyLimits: Bool { maxRunningPerKey != nil || maxStartsPerSecondPerKey != nil }

    /// Burst = max(1, ceil(rate)).
    public var burst: Double? { maxStartsPerSecond.map(TokenBucket.burst) }

    /// Tokens available at `now`: the stored level refilled at the rate, capped at the burst.
    public func tokensAvailable(at now: Date) -> Double? {
        maxStartsPerSecond.map { TokenBucket.available(rate: $0, tokens: tokens, at: tokensAt, now: now) }
    }

    public var json: JSON {
        .object([("queue", .string(queue)), ("paused", .bool(paused)), ("max_running", .optionalInt(maxRunning)),
                 ("max_starts_per_second", maxStartsPerSecond.map(JSON.double) ?? .null),
                 ("concurrency_key_from", .optional(concurrencyKeyFrom)),
                 ("max_running_per_key", .optionalInt(maxRunningPerKey)),
                 ("max_starts_per_second_per_key", maxStartsPerSecondPerKey.map(JSON.double) ?? .null)])
    }
}

/// The token bucket of a start-rate limit (a queue's or a key's): burst max(1, ceil(rate)),
/// refilled at the rate from the stored level.
public enum TokenBucket {
    public static func burst(_ rate: Double) -> Double { max(1, rate.rounded(.up)) }

    /// The stored level (nil: full) refilled up to `now`, capped at the burst.
    public static func available(rate: Double, tokens: Double?, at: Date?, now: Date) -> Double {
        guard let t = tokens, let at else { return burst(rate) }
        return min(burst(rate), t + max(0, now.timeIntervalSince(at)) * rate)
    }

    /// Whole tokens in `available` (Date arithmetic is not exact).
    public static func whole(_ available: Double) -> Int { Int((available + 1e-6).rounded(.down)) }
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
            let whole = TokenBucket.whole(available)
            if whole < count { count = whole; heldBy = .queueRateLimited }
        }
        return Allowance(count: count, heldBy: count < wanted ? heldBy : nil,
                         tokensAfter: available.map { $0 - Double(count) })
    }
}
