import Foundation

/// A five-field cron expression (minute hour day-of-month month day-of-week), with `*`,
/// lists, ranges, steps (`*/5`, `1-10/2`), names (`jan`, `mon`) and the shorthands `@hourly`,
/// `@daily`/`@midnight`, `@weekly`, `@monthly`, `@yearly`/`@annually`. As in Vixie cron, when
/// both day fields are restricted a day matches if either does.
///
/// The fields are read on the wall clock of `timeZone` (an IANA name, default UTC). Where that
/// clock jumps, two rules decide (the ones Vixie cron and cronie follow):
/// - **Skipped hour** (spring forward): a slot whose wall time does not exist that day runs once,
///   at the first instant after the jump (`30 2 * * *` in Europe/Paris runs at 03:00 local on the
///   last Sunday of March); several skipped slots collapse into that one run.
/// - **Repeated hour** (fall back): a job pinned to particular hours runs once, in the first pass
///   (`30 2 * * *` runs at the first 02:30); a job whose hour field is `*` runs in both passes, so
///   `*/15 * * * *` keeps its real 15-minute rhythm through the repeated hour.
public struct Cron: Sendable, Equatable, CustomStringConvertible {
    public let expression: String
    public let timeZone: TimeZone
    let minutes: Set<Int>, hours: Set<Int>, days: Set<Int>, months: Set<Int>, weekdays: Set<Int>
    let daysRestricted: Bool, weekdaysRestricted: Bool

    public var description: String { expression }

    public init(_ text: String, timeZone zoneName: String = "UTC") throws {
        timeZone = try Cron.zone(zoneName)
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

    /// The zone of an IANA name. An unknown name is an error, never silently UTC.
    public static func zone(_ name: String) throws -> TimeZone {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed.uppercased() == "UTC" { return Cron.utc.timeZone }
        // Foundation reads the tz database it ships (ICU's), not the machine's, so a name means
        // the same zone on every machine. (Its knownTimeZoneIdentifiers omits aliases such as
        // Asia/Kolkata, so it cannot be the test.)
        guard trimmed.count <= 64, let zone = TimeZone(identifier: trimmed) else {
            throw PortableError.invalid("unknown time zone \(JSON.quote(name)); use an IANA name such as \"Europe/Paris\" or \"UTC\"")
        }
        return zone
    }

    public static func == (a: Cron, b: Cron) -> Bool { a.expression == b.expression && a.timeZone.identifier == b.timeZone.identifier }

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
        c.timeZone = TimeZone(secondsFromGMT: 0) ?? c.timeZone
        return c
    }()

    /// The first slot strictly after `date`, or nil if none within ~5 years (e.g. Feb 30).
    public func next(after date: Date) -> Date? {
        let after = Time.millis(date)
        let pinnedHours = hours.count < 24
        // Near a jump of the offset, a later wall time can map to an earlier instant (a repeated
        // hour), so wall times are walked from a little before `after`'s own and on past the
        // first hit by the jump's size; the earliest instant past `after` wins. Away from any
        // jump (and always in UTC) the first hit is the answer.
        var wall = wallMillis(after) - spread(near: after)
        var best: (t: Int64, wall: Int64)?
        while let w = nextWall(after: wall) {
            if let b = best, w > b.wall + spread(near: b.t) { break }
            for t in instants(ofWall: w, pinnedHours: pinnedHours) where t > after && t < (best?.t ?? .max) {
                best = (t, w)
            }
            if let b = best, spread(near: b.t) == 0 { break }
            wall = w
        }
        return best.map { Time.date(millis: $0.t) }
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

    // MARK: wall clock

    /// How far the zone's offset moves within 36 hours of `t` (0 away from any change).
    func spread(near t: Int64) -> Int64 {
        let o = [t - 36 * 3_600_000, t, t + 36 * 3_600_000].map(offsetMillis)
        return (o.max() ?? 0) - (o.min() ?? 0)
    }

    func offsetMillis(_ t: Int64) -> Int64 { Int64(timeZone.secondsFromGMT(for: Time.date(millis: t))) * 1000 }

    /// The wall clock of an instant, as milliseconds read on a UTC calendar.
    func wallMillis(_ t: Int64) -> Int64 { t + offsetMillis(t) }

    /// The real instants whose wall clock reads `wall`, by the rules in the type's comment.
    func instants(ofWall wall: Int64, pinnedHours: Bool) -> [Int64] {
        let offsets = Set([wall - 36 * 3_600_000, wall, wall + 36 * 3_600_000].map { offsetMillis($0) })
        let real = offsets.map { wall - $0 }.filter { wallMillis($0) == wall }.sorted()
        if real.isEmpty {
            // In a skipped hour: the first instant after the jump. The jump lies between the
            // instants this wall time would have with the larger and the smaller offset.
            guard let lo = offsets.map({ wall - $0 }).min(), let hi = offsets.map({ wall - $0 }).max(), lo < hi else { return [] }
            let before = offsetMillis(lo)
            var (a, b) = (lo, hi)  // offset(a) == before, offset(b) != before
            while b - a > 60_000 {
                let mid = a + (b - a) / 2 / 60_000 * 60_000
                if offsetMillis(mid) == before { a = mid } else { b = mid }
            }
            return [b]
        }
        return pinnedHours ? [real[0]] : real
    }

    /// The first wall time strictly after `wall` (minute resolution) that the fields match,
    /// skipping whole months, days and hours that cannot match.
    func nextWall(after wall: Int64) -> Int64? {
        var t = wall / 60_000 * 60_000 + 60_000
        let limit = t + 5 * 366 * 86_400_000
        while t < limit {
            let c = Cron.utc.dateComponents([.year, .minute, .hour, .day, .month, .weekday], from: Time.date(millis: t))
            guard let year = c.year, let month = c.month, let day = c.day, let weekday = c.weekday,
                  let hour = c.hour, let minute = c.minute else { return nil }
            if !months.contains(month) {
                var n = DateComponents(year: year, month: month + 1, day: 1)
                n.timeZone = Cron.utc.timeZone
                guard let first = Cron.utc.date(from: n) else { return nil }
                t = Time.millis(first)
                continue
            }
            if !dayMatches(day: day, weekday: weekday - 1) {
                t = (t / 86_400_000 + 1) * 86_400_000
                continue
            }
            if !hours.contains(hour) {
                t = (t / 3_600_000 + 1) * 3_600_000
                continue
            }
            if !minutes.contains(minute) {
                t += 60_000
                continue
            }
            return t
        }
        return nil
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
    /// The IANA zone whose wall clock the cron fields read (default UTC).
    public var timezone: String
    /// The last slot enqueued.
    public var lastSlotAt: Date?
    public var createdAt: Date?

    public init(name: String, cron: String, queue: String = "default", jobType: String, payload: String = "null",
                priority: Int = 0, maxAttempts: Int? = nil, timeoutSeconds: Int? = nil, timezone: String = "UTC",
                lastSlotAt: Date? = nil, createdAt: Date? = nil) {
        self.name = name; self.cron = cron; self.queue = queue; self.jobType = jobType; self.payload = payload
        self.priority = priority; self.maxAttempts = maxAttempts; self.timeoutSeconds = timeoutSeconds
        self.timezone = timezone; self.lastSlotAt = lastSlotAt; self.createdAt = createdAt
    }

    /// The idempotency key of one slot: `cron:<name>:<slot time>`.
    public static func key(name: String, slot: Date) -> String { "cron:\(name):\(Time.format(slot))" }

    public func json(now: Date?) -> JSON {
        let next = (try? Cron(cron, timeZone: timezone)).flatMap { c in c.next(after: max(lastSlotAt ?? now ?? Date(), now ?? Date())) }
        return .object([
            ("name", .string(name)), ("cron", .string(cron)), ("queue", .string(queue)), ("job_type", .string(jobType)),
            ("payload", .raw(payload)), ("priority", .int(priority)), ("max_attempts", .optionalInt(maxAttempts)),
            ("timeout_seconds", .optionalInt(timeoutSeconds)), ("timezone", .string(timezone)),
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
