import Foundation

/// One due job a keyed claim may start: its key (nil: none) and its place in claim order.
public struct KeyedCandidate: Sendable, Equatable {
    public var id: String
    public var key: String?
    public var priority: Int
    public var runAt: Date
    public init(id: String, key: String?, priority: Int, runAt: Date) {
        self.id = id; self.key = key; self.priority = priority; self.runAt = runAt
    }
}

/// A concurrency key's state: its running jobs (counted through `jobs_key_running_idx`) and its
/// token bucket (`concurrency_keys`; nil: full).
public struct KeyState: Sendable, Equatable {
    public var queue: String
    public var key: String
    public var running: Int
    public var tokens: Double?
    public var tokensAt: Date?
    public init(queue: String, key: String, running: Int, tokens: Double? = nil, tokensAt: Date? = nil) {
        self.queue = queue; self.key = key; self.running = running; self.tokens = tokens; self.tokensAt = tokensAt
    }

    public var json: JSON {
        .object([("queue", .string(queue)), ("concurrency_key", .string(key)), ("running", .int(running)),
                 ("tokens", tokens.map(JSON.double) ?? .null)])
    }
}

/// What a keyed claim reads under its queue's lock: the policy, the queue's running count, the
/// candidates (each key's first due jobs, one more than its cap leaves room for, and the first
/// due jobs without a key) and the state of every key with candidates.
public struct KeyedClaimView: Sendable {
    public var policy: QueuePolicy
    public var running: Int
    public var wanted: Int
    public var now: Date
    public var candidates: [KeyedCandidate]
    public var keys: [String: KeyState]
    public init(policy: QueuePolicy, running: Int, wanted: Int, now: Date, candidates: [KeyedCandidate], keys: [String: KeyState]) {
        self.policy = policy; self.running = running; self.wanted = wanted; self.now = now
        self.candidates = candidates; self.keys = keys
    }
}

/// What a keyed claim starts: the jobs in order, the queue's allowance (its tokens are taken only
/// for jobs that start), the keys' bucket levels to store, and the keys that held jobs back.
public struct KeyedClaimPlan: Sendable, Equatable {
    public var ids: [String]
    public var allowance: Allowance
    public var keyTokens: [String: Double]
    public var keysHeld: [String: Explanation.Reason]
    public init(ids: [String], allowance: Allowance, keyTokens: [String: Double], keysHeld: [String: Explanation.Reason]) {
        self.ids = ids; self.allowance = allowance; self.keyTokens = keyTokens; self.keysHeld = keysHeld
    }

    /// Throttling to record as policy decisions: the queue's reason, then one per key reason
    /// (its message names a key).
    public func tallies(queue: String) -> [DecisionTally] {
        var out: [DecisionTally] = []
        if let r = allowance.heldBy { out.append(DecisionTally(queue: queue, reasonCode: r.rawValue, count: 1, message: nil)) }
        var byReason: [Explanation.Reason: [String]] = [:]
        for (k, r) in keysHeld { byReason[r, default: []].append(k) }
        for (r, keys) in byReason.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let sorted = keys.sorted()
            out.append(DecisionTally(queue: queue, reasonCode: r.rawValue, count: sorted.count,
                                     message: "key \(JSON.quote(sorted[0]))" + (sorted.count > 1 ? " and \(sorted.count - 1) more" : "")))
        }
        return out
    }
}

/// The decision of a claim in a queue with per-key limits.
public enum KeyedClaim {
    /// Each key may start what its cap and bucket allow; keys take turns, one job each, within the
    /// best priority present before the next (so a key with a long backlog cannot starve one with
    /// a few jobs); jobs without a key take turns as one more group. The queue's own allowance
    /// then caps the total, so a job held back by its key takes no queue token.
    public static func decide(_ v: KeyedClaimView) -> KeyedClaimPlan {
        let p = v.policy
        if p.paused {
            return KeyedClaimPlan(ids: [], allowance: Allowance.decide(policy: p, running: v.running, wanted: v.wanted, now: v.now),
                                  keyTokens: [:], keysHeld: [:])
        }
        // Per key: how many it may start, and the level of its bucket now.
        var room: [String: Int] = [:]
        var level: [String: Double] = [:]
        var held: [String: Explanation.Reason] = [:]
        var candidatesPerKey: [String: Int] = [:]
        for c in v.candidates { if let k = c.key { candidatesPerKey[k, default: 0] += 1 } }
        for k in candidatesPerKey.keys {
            let state = v.keys[k]
            var r = v.wanted
            if let cap = p.maxRunningPerKey {
                let free = max(0, cap - (state?.running ?? 0))
                if free < r { r = free; if free == 0 { held[k] = .keyAtConcurrencyLimit } }
            }
            if let rate = p.maxStartsPerSecondPerKey {
                let available = TokenBucket.available(rate: rate, tokens: state?.tokens, at: state?.tokensAt, now: v.now)
                level[k] = available
                let whole = TokenBucket.whole(available)
                if whole < r { r = whole; if held[k] == nil, whole == 0 { held[k] = .keyRateLimited } }
            }
            room[k] = r
        }
        // Round-robin within each priority, best first; groups in the order of their best job.
        let ordered = v.candidates.sorted { a, b in
            if a.priority != b.priority { return a.priority > b.priority }
            if a.runAt != b.runAt { return a.runAt < b.runAt }
            return a.id < b.id
        }
        var picked: [KeyedCandidate] = []
        var taken: [String: Int] = [:]
        var i = 0
        while i < ordered.count, picked.count < v.wanted {
            let priority = ordered[i].priority
            var j = i
            while j < ordered.count, ordered[j].priority == priority { j += 1 }
            // This priority's jobs, grouped by key in order of each group's first job.
            var groups: [[KeyedCandidate]] = []
            var index: [String: Int] = [:]
            for c in ordered[i..<j] {
                let g = c.key.map { "k:" + $0 } ?? "none"
                if let n = index[g] { groups[n].append(c) } else { index[g] = groups.count; groups.append([c]) }
            }
            var next = [Int](repeating: 0, count: groups.count)
            var progressed = true
            while progressed, picked.count < v.wanted {
                progressed = false
                for (n, g) in groups.enumerated() where picked.count < v.wanted && next[n] < g.count {
                    let c = g[next[n]]
                    if let k = c.key, taken[k, default: 0] >= room[k, default: 0] { continue }
                    next[n] += 1
                    picked.append(c)
                    if let k = c.key { taken[k, default: 0] += 1 }
                    progressed = true
                }
            }
            i = j
        }
        // A key that could have started more had it been allowed held jobs back.
        if picked.count < v.wanted {
            for (k, n) in candidatesPerKey where held[k] == nil && taken[k, default: 0] < n {
                held[k] = (p.maxRunningPerKey.map { (v.keys[k]?.running ?? 0) + taken[k, default: 0] >= $0 } ?? false)
                    ? .keyAtConcurrencyLimit : .keyRateLimited
            }
        }
        for k in Array(held.keys) where candidatesPerKey[k] == nil { held[k] = nil }
        let allowance = Allowance.decide(policy: p, running: v.running, wanted: picked.count, now: v.now)
        let starting = Array(picked.prefix(allowance.count))
        var started: [String: Int] = [:]
        for c in starting { if let k = c.key { started[k, default: 0] += 1 } }
        var keyTokens: [String: Double] = [:]
        for (k, n) in started { if let l = level[k] { keyTokens[k] = l - Double(n) } }
        return KeyedClaimPlan(ids: starting.map(\.id), allowance: allowance, keyTokens: keyTokens, keysHeld: held)
    }

    /// `concurrency_key_from` names a top-level payload field (also spliced into SQLite's JSON path).
    public static func checkField(_ f: String) throws {
        let ok = !f.isEmpty && f.utf8.count <= 64 && f.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D
        }
        guard ok else { throw PortableError.invalid("concurrency_key_from \(JSON.quote(f)) must match ^[A-Za-z0-9_-]{1,64}$") }
    }

    /// A given key: 1 to 255 characters without NUL (like an idempotency key).
    public static func checkKey(_ k: String) throws {
        guard !k.isEmpty, k.unicodeScalars.count <= 255, !k.contains("\u{0}") else {
            throw PortableError.invalid("concurrency_key must be 1 to 255 characters without NUL")
        }
    }
}
