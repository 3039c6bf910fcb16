import Foundation

/// Jobs that ended per queue and UTC hour: rolled up from `attempts` by the maintenance leader
/// (`Maintainer`, task `totals`), never counted on the ack path.
///
/// Why the counts survive retention: the rollup adds the attempts that finished in
/// [watermark, to) and moves the watermark to `to` in the same transaction, so each attempt is
/// counted once however often the pass runs or fails. Retention deletes attempts only through
/// `prune_history` and `delete_archived`, which take jobs archived before a cut; an archived
/// job's attempts finished before it was archived, and the maintainer never passes a cut later
/// than the watermark — so no attempt is deleted before it is counted. (An operator's delete or
/// purge of a job is immediate: attempts it removes within the settle time before the next pass
/// are not counted.)
public struct QueueTotalsRow: Sendable, Equatable {
    public var queue: String
    /// Start of the UTC hour.
    public var hour: Date
    /// Attempts that succeeded.
    public var succeeded: Int
    /// Attempts after which the job was dead-lettered.
    public var failed: Int
    /// Attempts that failed and were retried.
    public var retried: Int

    public init(queue: String, hour: Date, succeeded: Int, failed: Int, retried: Int) {
        self.queue = queue; self.hour = hour; self.succeeded = succeeded; self.failed = failed; self.retried = retried
    }

    /// Jobs that ended: succeeded or dead-lettered.
    public var processed: Int { succeeded + failed }
}

/// What the driver is asked to do in one rollup step. The core decides the window (`start`,
/// `end`); the driver calls them inside its transaction with what it read there, and persists
/// the sums. A window holds at most `maxAttempts` attempts (the driver finds the one that many
/// after `from` with one walk of attempts_finished_idx), so a statement stays short however far
/// behind the rollup is, and empty stretches of time cost nothing.
public struct TotalsRollupPlan: Sendable {
    public static let bucketSeconds = 3600.0
    /// Attempts finished before this; later ones wait for a pass after they have settled.
    public var upTo: Date
    /// Attempts added by one statement at most.
    public var maxAttempts: Int
    /// Hours before this are deleted (older than any history that can be read).
    public var keepAfter: Date

    public init(upTo: Date, maxAttempts: Int, keepAfter: Date) {
        self.upTo = upTo; self.maxAttempts = maxAttempts; self.keepAfter = keepAfter
    }

    /// Where the window starts: the watermark, or (first rollup) the earliest attempt there is,
    /// or `upTo` when there is none.
    public func start(watermark: Date?, earliest: Date?) -> Date {
        watermark ?? min(earliest ?? upTo, upTo)
    }

    /// Where it ends (exclusive): `upTo`, or sooner at `nth`, the finished_at of the attempt
    /// `maxAttempts` after `from` (always past `from`, so a pass moves on). Nil when there is
    /// nothing to add; a first rollup (`first`) always sets the watermark.
    public func end(from: Date, nth: Date?, first: Bool) -> Date? {
        var to = upTo
        if let nth, nth < to { to = max(nth, from.addingTimeInterval(0.001)) }
        if to <= from { return first ? from : nil }
        return to
    }
}

/// One rollup step: the window added (nil when caught up) and the watermark after it.
public struct TotalsRollupStep: Sendable, Equatable {
    public var from: Date?
    public var through: Date?
    /// Attempts counted in this step.
    public var attempts: Int
    public init(from: Date?, through: Date?, attempts: Int) {
        self.from = from; self.through = through; self.attempts = attempts
    }
    public var caughtUp: Bool { from == nil }
}

/// Hourly rows since a time, oldest first, and the watermark.
public struct TotalsHistory: Sendable, Equatable {
    public var rows: [QueueTotalsRow]
    /// Attempts that finished before this are counted; nil before the first rollup.
    public var through: Date?
    public init(rows: [QueueTotalsRow], through: Date?) { self.rows = rows; self.through = through }
}
