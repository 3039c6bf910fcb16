import Foundation

/// A five-field cron expression (minute hour day-of-month month day-of-week) in UTC, with `*`,
/// lists, ranges, steps (`*/5`, `1-10/2`), names (`jan`, `mon`) and the shorthands `@hourly`,
/// `@daily`/`@midnight`, `@weekly`, `@monthly`, `@yearly`/`@annually`. As in Vixie cron, when
/// both day fields are restricted a day matches if either does.
public struct Cron: Sendable, Equatable, CustomStringConvertible {
    public let expression: String
    let minutes: Set<Int>, hours: Set<Int>, days: Set<Int>, months: Set<Int>, weekdays: Set<Int>
    let daysRestricted: Bool, weekdaysRestricted: Bool

    public var description: String { expression }

    public init(_ text: String) throws {
        let shorthands = ["@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                          "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let expanded = shorthands[trimmed.lowercased()] ?? trimmed
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw PortableError.invalid("cron \(JSON.quote(text)) must have 5 fields (minute hour day month weekday) or be @hourly, @daily…")
        }
        let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        let days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        expression = trimmed
        minutes = try Cron.field(fields[0], 0...59, text)
        hours = try Cron.field(fields[1], 0...23, text)
        self.days = try Cron.field(fields[2], 1...31, text)
        self.months = try Cron.field(fields[3], 1...12, text, names: months, nameBase: 1)
        // 7 is Sunday too.
        weekdays = Set(try Cron.field(fields[4], 0...7, text, names: days, nameBase: 0).map { $0 % 7 })
        daysRestricted = fields[2] != "*"
        weekdaysRestricted = fields[4] != "*"
    }

    static func field(_ f: String, _ range: ClosedRange<Int>, _ text: String, names: [String] = [], nameBase: Int = 0) throws -> Set<Int> {
        func bad() -> PortableError { PortableError.invalid("cron \(JSON.quote(text)): field \(JSON.quote(f)) is not valid") }
        func value(_ s: String) throws -> Int {
            if let i = Int(s), range.contains(i) { return i }
            if let n = names.firstIndex(of: s.lowercased()) { return n + nameBase }
            throw bad()
        }
        var out = Set<Int>()
        for part in f.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard pieces.count <= 2 else { throw bad() }
            var step = 1
            if pieces.count == 2 {
                guard let s = Int(pieces[1]), s > 0 else { throw bad() }
                step = s
            }
            let lo: Int, hi: Int
            if pieces[0] == "*" {
                lo = range.lowerBound; hi = range.upperBound
            } else if pieces[0].contains("-") {
                let ends = pieces[0].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
                guard ends.count == 2 else { throw bad() }
                lo = try value(ends[0]); hi = try value(ends[1])
                guard lo <= hi else { throw bad() }
            } else {
                lo = try value(pieces[0])
                hi = pieces.count == 2 ? range.upperBound : lo
            }
            out.formUnion(stride(from: lo, through: hi, by: step))
        }
        return out
    }

    func dayMatches(day d: Int, weekday wd: Int) -> Bool {
        let dayOK = days.contains(d), weekdayOK = weekdays.contains(wd)
        if daysRestricted && weekdaysRestricted { return dayOK || weekdayOK }
        return dayOK && weekdayOK
    }

    static let utc: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()

    /// The first slot strictly after `date`, or nil if none within ~5 years (e.g. Feb 30).
    /// Skips whole months, days and hours that cannot match.
    public func next(after date: Date) -> Date? {
        var t = Time.millis(date) / 60_000 * 60_000 + 60_000
        let limit = t + 5 * 366 * 86_400_000
        while t < limit {
            let d = Time.date(millis: t)
            let c = Cron.utc.dateComponents([.year, .minute, .hour, .day, .month, .weekday], from: d)
            if !months.contains(c.month!) {
                var n = DateComponents(year: c.year, month: c.month! + 1, day: 1)
                n.timeZone = Cron.utc.timeZone
                t = Time.millis(Cron.utc.date(from: n)!)
                continue
            }
            if !dayMatches(day: c.day!, weekday: c.weekday! - 1) {
                t = (t / 86_400_000 + 1) * 86_400_000
                continue
            }
            if !hours.contains(c.hour!) {
                t = (t / 3_600_000 + 1) * 3_600_000
                continue
            }
            if !minutes.contains(c.minute!) {
                t += 60_000
                continue
            }
            return d
        }
        return nil
    }

    /// Slots in (after, upTo], at most `limit`.
    public func slots(after: Date, upTo: Date, limit: Int) -> [Date] {
        var out: [Date] = []
        var cursor = after
        while out.count < limit, let n = next(after: cursor), n <= upTo {
            out.append(n)
            cursor = n
        }
        return out
    }
}

/// A recurring job.
public struct Schedule: Sendable, Equatable {
    public var name: String
    public var cron: String
    public var queue: String
    public var jobType: String
    public var payload: String
    public var priority: Int
    public var maxAttempts: Int?
    public var timeoutSeconds: Int?
    /// The last slot enqueued.
    public var lastSlotAt: Date?
    public var createdAt: Date?

    public init(name: String, cron: String, queue: String = "default", jobType: String, payload: String = "null",
                priority: Int = 0, maxAttempts: Int? = nil, timeoutSeconds: Int? = nil, lastSlotAt: Date? = nil,
                createdAt: Date? = nil) {
        self.name = name; self.cron = cron; self.queue = queue; self.jobType = jobType; self.payload = payload
        self.priority = priority; self.maxAttempts = maxAttempts; self.timeoutSeconds = timeoutSeconds
        self.lastSlotAt = lastSlotAt; self.createdAt = createdAt
    }

    /// The idempotency key of one slot: `cron:<name>:<slot time>`.
    public static func key(name: String, slot: Date) -> String { "cron:\(name):\(Time.format(slot))" }

    public func json(now: Date?) -> JSON {
        let next = (try? Cron(cron)).flatMap { c in c.next(after: max(lastSlotAt ?? now ?? Date(), now ?? Date())) }
        return .object([
            ("name", .string(name)), ("cron", .string(cron)), ("queue", .string(queue)), ("job_type", .string(jobType)),
            ("payload", .raw(payload)), ("priority", .int(priority)), ("max_attempts", .optionalInt(maxAttempts)),
            ("timeout_seconds", .optionalInt(timeoutSeconds)),
            ("last_slot_at", lastSlotAt.map { .string(Time.format($0)) } ?? .null),
            ("next_slot_at", next.map { .string(Time.format($0)) } ?? .null),
            ("created_at", createdAt.map { .string(Time.format($0)) } ?? .null),
        ])
    }
}

/// One recorded maintenance run.
public struct MaintenanceRun: Sendable, Equatable {
    public var holder: String
    public var task: String
    public var startedAt: Date
    public var finishedAt: Date
    public var affected: Int
    public var details: String?

    public init(holder: String, task: String, startedAt: Date, finishedAt: Date, affected: Int, details: String? = nil) {
        self.holder = holder; self.task = task; self.startedAt = startedAt; self.finishedAt = finishedAt
        self.affected = affected; self.details = details
    }

    public var json: JSON {
        .object([("holder", .string(holder)), ("task", .string(task)), ("started_at", .string(Time.format(startedAt))),
                 ("finished_at", .string(Time.format(finishedAt))),
                 ("duration_ms", .int(Time.millis(finishedAt) - Time.millis(startedAt))), ("affected", .int(affected)),
                 ("details", .optional(details))])
    }
}

/// The outcome of asking for the leader lease.
public struct LeaderLease: Sendable, Equatable {
    public var holder: String
    public var expiresAt: Date
    public var isMine: Bool
    public init(holder: String, expiresAt: Date, isMine: Bool) { self.holder = holder; self.expiresAt = expiresAt; self.isMine = isMine }

    /// The lease row was released by its holder between taking and reading it.
    public static let vanished = PortableError(.unavailable, "the maintenance lease row vanished; trying again next tick")
}
