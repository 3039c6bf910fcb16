import Foundation

/// Which decisions table.
public enum DecisionKind: String, Sendable {
    /// Refused enqueues: `PAYLOAD_TOO_LARGE`, `ENQUEUE_RATE_EXCEEDED`.
    case ingest
    /// Throttling by queue policies: `QUEUE_PAUSED`, `QUEUE_AT_CONCURRENCY_LIMIT`, `QUEUE_RATE_LIMITED`.
    case policy
}

/// A count to add to a (queue, reason, minute) row.
public struct DecisionTally: Sendable, Equatable {
    public var queue: String
    public var reasonCode: String
    public var count: Int
    public var message: String?
    public init(queue: String, reasonCode: String, count: Int, message: String?) {
        self.queue = queue; self.reasonCode = reasonCode; self.count = count; self.message = message
    }
}

/// One aggregated row.
public struct Decision: Sendable, Equatable {
    public var queue: String
    public var reasonCode: String
    public var minute: Date
    public var count: Int
    public var lastMessage: String?
    public init(queue: String, reasonCode: String, minute: Date, count: Int, lastMessage: String?) {
        self.queue = queue; self.reasonCode = reasonCode; self.minute = minute; self.count = count; self.lastMessage = lastMessage
    }

    public var json: JSON {
        .object([("queue", .string(queue)), ("reason_code", .string(reasonCode)), ("minute", .string(Time.format(minute))),
                 ("count", .int(count)), ("last_message", .optional(lastMessage))])
    }
}

/// Invariant 7: the payload limit and the per-queue enqueue rate, applied to enqueue, replay and
/// flow starts from every front. A batch is taken or refused whole; refusals are recorded as
/// ingest decisions. Dedupe runs first: a repeated idempotency key returns its job even when the
/// new payload would be refused.
extension PortableClient {
    /// Rows that are not duplicates of a kept job must pass the guardrails. Returns the
    /// duplicates found (index → job and which check matched), which skip the guardrails and the
    /// insert. The idempotency key is looked at first and wins; a unique `replace` match is not
    /// a new job (no enqueue token) but still goes to the insert, which writes it.
    func applyGuardrails(_ rows: [JobInsert], oversized: Set<Int>) async throws -> [Int: (job: Job, kind: Duplicate)] {
        var duplicates: [Int: (job: Job, kind: Duplicate)] = [:]
        var notNew = Set<Int>()
        let keyed = rows.enumerated().filter { $0.element.idempotencyKey != nil }
        let rateLimited = config.maxEnqueuePerMinute != nil
        // Only look keys up when a guardrail could refuse: no extra round trip otherwise.
        if !keyed.isEmpty, rateLimited || !oversized.isEmpty {
            let found = try await driver.jobKeyLookupMany(keyed.map { ($0.element.queue, $0.element.idempotencyKey!) })
            if !found.isEmpty {
                let jobs = Dictionary(try await driver.jobGetMany(Array(Set(found.values))).map { ($0.id, $0) },
                                      uniquingKeysWith: { a, _ in a })
                for (i, row) in keyed {
                    if let id = found[row.queue + "\u{0}" + row.idempotencyKey!], let j = jobs[id] { duplicates[i] = (j, .idempotencyKey) }
                }
            }
        }
        let uniques = rows.enumerated().filter { $0.element.uniqueKey != nil && duplicates[$0.offset] == nil }
        if !uniques.isEmpty, rateLimited || !oversized.isEmpty {
            let owners = try await driver.jobUniqueOwners(uniques.compactMap(\.element.uniqueKey))
            if !owners.isEmpty {
                let jobs = Dictionary(try await driver.jobGetMany(Array(Set(owners.values))).map { ($0.id, $0) },
                                      uniquingKeysWith: { a, _ in a })
                for (i, row) in uniques {
                    guard let key = row.uniqueKey, let id = owners[key], let j = jobs[id] else { continue }
                    if row.uniqueReplace && j.status == .queued { notNew.insert(i) } else { duplicates[i] = (j, .unique) }
                }
            }
        }
        let tooBig = oversized.subtracting(duplicates.keys)
        if !tooBig.isEmpty {
            let byQueue = Dictionary(grouping: tooBig.map { rows[$0] }, by: \.queue)
            try? await driver.decisionRecord(.ingest, byQueue.map { q, rs in
                DecisionTally(queue: q, reasonCode: PortableError.Code.payloadTooLarge.wire, count: rs.count,
                              message: "payload of \(rs.map(\.payload.utf8.count).max() ?? 0) bytes over \(config.maxPayloadBytes)")
            }, now: now)
            let first = rows[tooBig.min()!]
            throw PortableError(.payloadTooLarge,
                "payload is \(first.payload.utf8.count) bytes; the limit (MAX_PAYLOAD_BYTES) is \(config.maxPayloadBytes)"
                + (rows.count > 1 ? " (the whole batch of \(rows.count) was refused)" : ""))
        }
        if let limit = config.maxEnqueuePerMinute {
            let fresh = rows.enumerated().filter { duplicates[$0.offset] == nil && !notNew.contains($0.offset) }.map(\.element)
            let perQueue = Dictionary(grouping: fresh, by: \.queue).mapValues(\.count)
            for (queue, n) in perQueue.sorted(by: { $0.key < $1.key }) {
                if let retryAfter = try await driver.enqueueRateTake(queue: queue, count: n, limit: limit, now: now) {
                    try? await driver.decisionRecord(.ingest, [DecisionTally(
                        queue: queue, reasonCode: PortableError.Code.enqueueRateExceeded.wire, count: n,
                        message: "over \(limit) enqueues per minute")], now: now)
                    throw PortableError(.enqueueRateExceeded,
                        "queue \(queue) is over its limit of \(limit) enqueues per minute (MAX_ENQUEUE_PER_MINUTE)",
                        retryAfter: retryAfter)
                }
            }
        }
        return duplicates
    }

    public func decisions(_ kind: DecisionKind, limit: Int = 100, offset: Int = 0) async throws -> Page<Decision> {
        guard (1...1000).contains(limit) else { throw PortableError.invalid("limit must be between 1 and 1000") }
        guard offset >= 0 else { throw PortableError.invalid("offset must not be negative") }
        async let items = driver.decisionList(kind, limit: limit, offset: offset)
        async let total = driver.decisionCount(kind, cap: config.countCap + 1)
        let (i, t) = try await (items, total)
        return Page(items: i, total: min(t, config.countCap), totalCapped: t > config.countCap)
    }

    /// Records an enqueue refused before it reached the core (an HTTP body over the upload limit).
    public func recordIngestRefusal(queue: String, _ error: PortableError) async {
        try? await driver.decisionRecord(.ingest, [DecisionTally(queue: queue, reasonCode: error.code.wire, count: 1,
                                                                message: error.message)], now: now)
    }
}

public enum Guardrail {
    /// The sliding-window decision for the enqueue rate: `buckets` are (second in ms, count) of
    /// the last 60 s, oldest first. Returns nil when `count` more fit under `limit`, else the
    /// seconds until enough old buckets leave the window.
    public static func retryAfter(buckets: [(Int64, Int)], count: Int, limit: Int, nowMs: Int64) -> Double? {
        let used = buckets.reduce(0) { $0 + $1.1 }
        if used + count <= limit { return nil }
        if count > limit { return 60 }
        var freed = 0
        for (second, n) in buckets {
            freed += n
            if used - freed + count <= limit {
                return max(1, Double(second + 60_000 - nowMs) / 1000).rounded(.up)
            }
        }
        return 60
    }
}
