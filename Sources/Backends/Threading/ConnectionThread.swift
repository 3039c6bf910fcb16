import Foundation
import Portable

/// A thread of its own for one database connection. libpq and sqlite3 calls block; running
/// them here keeps them off Swift's cooperative thread pool, and keeps each C handle on the
/// one thread that ever touches it.
final class ConnectionThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var work: [() -> Void] = []
    private var stopping = false

    init(name: String) {
        let thread = Thread { [self] in self.loop() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func loop() {
        while true {
            condition.lock()
            while work.isEmpty && !stopping { condition.wait() }
            if work.isEmpty && stopping { condition.unlock(); return }
            let batch = work
            work.removeAll(keepingCapacity: true)
            condition.unlock()
            for item in batch { item() }
        }
    }

    func submit(_ item: @escaping () -> Void) {
        condition.lock()
        work.append(item)
        condition.signal()
        condition.unlock()
    }

    /// Runs `body` on this thread and returns its result to the caller's task.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, any Error>) in
            submit { cont.resume(with: Result { try body() }) }
        }
    }

    /// Lets the thread end once its queued work is done.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }
}

/// One connection and the thread it lives on. The connection object is created on that
/// thread and only ever used there, so it need not be Sendable.
final class ConnectionHost<C>: @unchecked Sendable {
    let thread: ConnectionThread
    private var connection: C?
    private let open: @Sendable () throws -> C
    private let isBroken: @Sendable (C) -> Bool
    private let closeConnection: @Sendable (C) -> Void

    init(name: String, open: @escaping @Sendable () throws -> C, isBroken: @escaping @Sendable (C) -> Bool,
         close: @escaping @Sendable (C) -> Void) {
        self.thread = ConnectionThread(name: name)
        self.open = open
        self.isBroken = isBroken
        self.closeConnection = close
    }

    /// Runs `body` with the connection on its thread, opening (or reopening a broken) one first.
    /// When a connection that had been used before fails and `retry` says the failure allows it,
    /// the connection is dropped and `body` runs once more on a fresh one: pooled connections go
    /// stale while the server restarts, and a fresh connection is no worse than the first try.
    /// `reopen: false` fails instead of opening a new connection (a transaction held across calls
    /// must not quietly continue on another session).
    func with<T: Sendable>(reopen: Bool = true, retry: (@Sendable (C, any Error) -> Bool)? = nil,
                           _ body: @escaping @Sendable (C) throws -> T) async throws -> T {
        try await thread.run { [self] in
            if let c = connection, isBroken(c) {
                closeConnection(c)
                connection = nil
                if !reopen { throw PortableError(.unavailable, "the connection was lost") }
            }
            let reused = connection != nil
            let c = try connection ?? open()
            connection = c
            do {
                return try body(c)
            } catch {
                guard reused, let retry, retry(c, error) else { throw error }
                closeConnection(c)
                connection = nil
                let fresh = try open()
                connection = fresh
                return try body(fresh)
            }
        }
    }

    func shutdown() async {
        _ = try? await thread.run { [self] in
            if let c = connection { closeConnection(c) }
            connection = nil
        }
        thread.stop()
    }
}
