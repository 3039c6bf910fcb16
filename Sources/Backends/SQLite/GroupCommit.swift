import Foundation
import Portable
import Synchronization

/// Group commit for SQLite's one writer: write transactions that arrive while one is being
/// written are run together in the next transaction, each in a savepoint of its own, and all
/// commit with one fsync. Each caller still gets its own result (or error, rolled back to its
/// savepoint). Busy workers' claims, acks and heartbeats share commits instead of queueing
/// for one each.
final class GroupCommit: Sendable {
    private struct Entry: @unchecked Sendable {
        let body: (SQLiteConnection) throws -> any Sendable
        let resume: (Result<any Sendable, any Error>) -> Void
    }

    private let pool: ConnectionPool<SQLiteConnection>
    private let state = Mutex<(pending: [Entry], draining: Bool)>(([], false))

    init(pool: ConnectionPool<SQLiteConnection>) { self.pool = pool }

    func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, any Error>) in
            let entry = Entry(body: { try body($0) }, resume: { r in cont.resume(with: r.map { $0 as! T }) })
            let start: Bool = state.withLock { s in
                s.pending.append(entry)
                if s.draining { return false }
                s.draining = true
                return true
            }
            if start { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            let batch: [Entry] = state.withLock { s in
                let b = s.pending
                s.pending = []
                if b.isEmpty { s.draining = false }
                return b
            }
            if batch.isEmpty { return }
            let box = UnsafeSendable(batch)
            do {
                let results = try await pool.with { c -> UnsafeSendable<[Result<any Sendable, any Error>]> in
                    UnsafeSendable(try GroupCommit.commit(box.value, on: c))
                }
                for (e, r) in zip(batch, results.value) { e.resume(r) }
            } catch {
                for e in batch { e.resume(.failure(error)) }
            }
        }
    }

    /// One transaction for the batch; a savepoint per entry when there are several.
    private static func commit(_ batch: [Entry], on c: SQLiteConnection) throws -> [Result<any Sendable, any Error>] {
        try c.execute("BEGIN IMMEDIATE")
        var results: [Result<any Sendable, any Error>] = []
        results.reserveCapacity(batch.count)
        do {
            if batch.count == 1 {
                results.append(.success(try batch[0].body(c)))
            } else {
                for e in batch {
                    try c.execute("SAVEPOINT g")
                    do {
                        results.append(.success(try e.body(c)))
                        try c.execute("RELEASE g")
                    } catch {
                        try c.execute("ROLLBACK TO g")
                        try c.execute("RELEASE g")
                        results.append(.failure(error))
                    }
                }
            }
            try c.execute("COMMIT")
        } catch {
            try? c.execute("ROLLBACK")
            throw error
        }
        return results
    }
}

/// Moves values that are only ever touched by one thread at a time across an await.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
