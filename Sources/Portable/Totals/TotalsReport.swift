import Foundation

/// Totals per queue and UTC day over the last `days` days, and per queue and hour over the last
/// `hours` hours (throughput), read from the rollup (bounded: `maxDays`, `rowCap` rows).
public struct TotalsReport: Sendable {
    public static let maxDays = 90
    public static let hours = 48
    /// Hourly rows read at most; past it the report says `truncated` (thousands of queues).
    public static let rowCap = 20_000

    public var days: Int
    public var queue: String?
    /// Start of the first day shown (UTC midnight).
    public var since: Date
    public var through: Date?
    public var daily: [QueueTotalsRow]
    public var hourly: [QueueTotalsRow]
    public var truncated: Bool

    /// Groups hourly rows into UTC days per queue (rows oldest first); keeps the last `hours` hours.
    public init(days: Int, queue: String?, since: Date, history: TotalsHistory, truncated: Bool, now: Date) {
        self.days = days; self.queue = queue; self.since = since; self.through = history.through
        self.truncated = truncated
        var byDay: [String: QueueTotalsRow] = [:]
        var order: [String] = []
        for r in history.rows {
            let day = TotalsReport.dayStart(r.hour)
            let key = "\(Time.millis(day))|\(r.queue)"
            if var d = byDay[key] {
                d.succeeded += r.succeeded; d.failed += r.failed; d.retried += r.retried
                byDay[key] = d
            } else {
                byDay[key] = QueueTotalsRow(queue: r.queue, hour: day, succeeded: r.succeeded, failed: r.failed, retried: r.retried)
                order.append(key)
            }
        }
        daily = order.compactMap { byDay[$0] }.sorted { ($0.hour, $0.queue) < ($1.hour, $1.queue) }
        let hourCut = now.addingTimeInterval(-Double(TotalsReport.hours) * TotalsRollupPlan.bucketSeconds)
        hourly = history.rows.filter { $0.hour >= TotalsReport.hourStart(hourCut) }
    }

    static func dayStart(_ d: Date) -> Date {
        Date(timeIntervalSince1970: (d.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400)
    }
    static func hourStart(_ d: Date) -> Date {
        Date(timeIntervalSince1970: (d.timeIntervalSince1970 / 3600).rounded(.down) * 3600)
    }

    static func dayString(_ d: Date) -> String { String(Time.format(d).prefix(10)) }

    public var json: JSON {
        func counts(_ r: QueueTotalsRow) -> [(String, JSON)] {
            [("succeeded", .int(r.succeeded)), ("failed", .int(r.failed)), ("retried", .int(r.retried)), ("processed", .int(r.processed))]
        }
        return .object([
            ("days", .int(days)),
            ("queue", .optional(queue)),
            ("since", .string(Time.format(since))),
            ("through", through.map { .string(Time.format($0)) } ?? .null),
            ("bucket_seconds", .int(Int(TotalsRollupPlan.bucketSeconds))),
            ("daily", .array(daily.map { r in .object([("day", .string(TotalsReport.dayString(r.hour))), ("queue", .string(r.queue))] + counts(r)) })),
            ("hourly", .array(hourly.map { r in .object([("hour", .string(Time.format(r.hour))), ("queue", .string(r.queue))] + counts(r)) })),
            ("truncated", .bool(truncated)),
        ])
    }
}

extension PortableClient {
    /// Totals of the last `days` UTC days (today included), of one queue or all.
    public func totals(queue: String? = nil, days: Int = 7) async throws -> TotalsReport {
        guard (1...TotalsReport.maxDays).contains(days) else {
            throw PortableError.invalid("days must be between 1 and \(TotalsReport.maxDays)")
        }
        if let queue { try Names.check(queue, "queue") }
        let now = try await databaseNow()
        let since = TotalsReport.dayStart(now).addingTimeInterval(-Double(days - 1) * 86_400)
        var history = try await driver.totalsList(queue: queue, since: since, limit: TotalsReport.rowCap + 1)
        let truncated = history.rows.count > TotalsReport.rowCap
        if truncated { history.rows.removeLast(history.rows.count - TotalsReport.rowCap) }
        return TotalsReport(days: days, queue: queue, since: since, history: history, truncated: truncated, now: now)
    }
}
