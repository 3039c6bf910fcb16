import Foundation

/// Uniqueness a producer aims (issue 15 §1): no second job with the same chosen fields while the
/// first is in one of `states`. The key is computed here; the database enforces it with a unique
/// index over `unique_key`, partial over the job's own `unique_states` mask.
public struct UniqueSpec: Sendable, Equatable {
    public enum OnConflict: String, Sendable, CaseIterable {
        /// Return the existing job unchanged.
        case skip
        /// A match still `queued` takes the new payload and run_at (debounce); others act as skip.
        case replace
    }

    public static let defaultBy = ["queue", "job_type", "payload"]
    public static let defaultStates: Set<JobStatus> = [.queued, .running]
    /// Statuses a job row can have (archived jobs have left the table, and uniqueness with them).
    public static let storedStates: [JobStatus] = [.queued, .running, .succeeded, .dlq, .cancelled]
    public static let maxPeriodSeconds = 315_360_000

    public var by: [String]
    public var states: Set<JobStatus>
    public var periodSeconds: Int?
    public var onConflict: OnConflict

    public init(by: [String] = UniqueSpec.defaultBy, states: Set<JobStatus> = UniqueSpec.defaultStates,
                periodSeconds: Int? = nil, onConflict: OnConflict = .skip) {
        self.by = by; self.states = states; self.periodSeconds = periodSeconds; self.onConflict = onConflict
    }

    /// Bit of a status in `unique_states`; the same numbers are spelled out in migration 7's index.
    public static func bit(_ s: JobStatus) -> Int {
        switch s {
        case .queued: return 1
        case .running: return 2
        case .succeeded: return 4
        case .dlq: return 8
        case .cancelled: return 16
        case .archived: return 0
        }
    }

    public var statesMask: Int { states.reduce(0) { $0 | UniqueSpec.bit($1) } }

    public func validate() throws {
        guard !by.isEmpty, by.count <= 32 else { throw PortableError.invalid("unique.by must name 1 to 32 fields") }
        for f in by where !(f == "queue" || f == "job_type" || f == "payload" || UniqueSpec.payloadPath(f) != nil) {
            throw PortableError.invalid("unique.by: unknown field \(JSON.quote(f)) (queue, job_type, payload, payload.<field>)")
        }
        if let bad = states.first(where: { !UniqueSpec.storedStates.contains($0) }) {
            throw PortableError.invalid("unique.states: \(bad.rawValue) is not a stored status (queued, running, succeeded, dlq, cancelled)")
        }
        // A queued job that could leave the index and come back as running (or the reverse) would
        // collide with a newer job in the middle of a claim or an ack.
        guard states.contains(.queued), states.contains(.running) else {
            throw PortableError.invalid("unique.states must include queued and running")
        }
        if let p = periodSeconds, !(1...UniqueSpec.maxPeriodSeconds).contains(p) {
            throw PortableError.invalid("unique.period_seconds must be between 1 and \(UniqueSpec.maxPeriodSeconds)")
        }
    }

    /// `payload.a.b` → ["a", "b"]; nil when not a payload path.
    static func payloadPath(_ field: String) -> [String]? {
        guard field.hasPrefix("payload.") else { return nil }
        let parts = field.dropFirst("payload.".count).split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        return parts.contains(where: \.isEmpty) ? nil : parts
    }

    /// The stored key: SHA-256 of the canonical JSON (sorted keys) of the chosen fields and, with
    /// a period, the period and `floor(at / period)`. A missing payload field counts as null.
    public func key(queue: String, jobType: String, payload: String, at: Date) throws -> String {
        let parsed = try JSON.parse(payload)
        var fields: [(String, JSON)] = []
        for f in Set(by) {
            switch f {
            case "queue": fields.append((f, .string(queue)))
            case "job_type": fields.append((f, .string(jobType)))
            case "payload": fields.append((f, parsed))
            default:
                var v: JSON? = parsed
                for p in UniqueSpec.payloadPath(f) ?? [] { v = v?[p] }
                fields.append((f, v ?? .null))
            }
        }
        var doc: [(String, JSON)] = [("by", .object(fields))]
        if let p = periodSeconds {
            let slot = Int((at.timeIntervalSince1970 / Double(p)).rounded(.down))
            doc += [("period", .int(p)), ("slot", .int(slot))]
        }
        return "u1:" + SHA256.hex(UniqueSpec.canonical(.object(doc)))
    }

    /// Compact JSON with every object's keys sorted, so equal values give equal text.
    static func canonical(_ v: JSON) -> String {
        switch v {
        case .object(let members):
            return "{" + members.sorted { $0.0 < $1.0 }.map { JSON.quote($0.0) + ":" + canonical($0.1) }.joined(separator: ",") + "}"
        case .array(let items):
            return "[" + items.map(canonical).joined(separator: ",") + "]"
        case .raw(let r):
            return (try? JSON.parse(r)).map(canonical) ?? r
        default:
            return v.compact
        }
    }

    /// The wire form (`unique` of an enqueue body).
    public static func parse(_ json: JSON) throws -> UniqueSpec {
        guard case .object(let o) = json else { throw PortableError.invalid("unique must be a JSON object") }
        var spec = UniqueSpec()
        for (k, v) in o where !v.isNull {
            switch k {
            case "by":
                guard let a = v.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else {
                    throw PortableError.invalid("unique.by must be an array of field names")
                }
                spec.by = a.compactMap(\.stringValue)
            case "states":
                guard let a = v.arrayValue else { throw PortableError.invalid("unique.states must be an array of statuses") }
                spec.states = Set(try a.map { s in
                    guard let t = s.stringValue, let st = JobStatus(rawValue: t) else {
                        throw PortableError.invalid("unique.states: unknown status \(s.compact)")
                    }
                    return st
                })
            case "period_seconds":
                guard let p = v.intValue else { throw PortableError.invalid("unique.period_seconds must be an integer") }
                spec.periodSeconds = p
            case "on_conflict":
                guard let s = v.stringValue, let c = OnConflict(rawValue: s) else {
                    throw PortableError.invalid("unique.on_conflict must be skip or replace")
                }
                spec.onConflict = c
            default:
                throw PortableError.invalid("unique: unknown field \(JSON.quote(k)) (by, states, period_seconds, on_conflict)")
            }
        }
        return spec
    }
}

/// Why an enqueue returned an existing job instead of creating one.
public enum Duplicate: String, Sendable, Equatable {
    case idempotencyKey = "idempotency_key"
    case unique
}
