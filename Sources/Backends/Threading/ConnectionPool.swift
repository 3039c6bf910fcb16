import Foundation
import Portable
import Synchronization

/// A bounded pool of connection hosts, created lazily. Waiters are served first come, first
/// served; a waiter that gets nothing within the acquire timeout fails with `BUSY`.
final class ConnectionPool<C>: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<ConnectionHost<C>, any Error>
    }

    private struct State {
        var idle: [ConnectionHost<C>] = []
        var all: [ConnectionHost<C>] = []
        var waiters: [Waiter] = []
        var nextWaiter: UInt64 = 0
        var closed = false
    }

    private let state = Mutex(State())
    private let max: Int
    private let acquireTimeout: Double
    private let name: String
    private let makeHost: @Sendable (Int) -> ConnectionHost<C>

    init(name: String, max: Int, acquireTimeout: Double, makeHost: @escaping @Sendable (Int) -> ConnectionHost<C>) {
        self.name = name
        self.max = Swift.max(1, max)
        self.acquireTimeout = acquireTimeout
        self.makeHost = makeHost
    }

    /// Runs `body` on a pooled connection's thread (see `ConnectionHost.with` for `retry`).
    func with<T: Sendable>(retry: (@Sendable (C, any Error) -> Bool)? = nil,
                           _ body: @escaping @Sendable (C) throws -> T) async throws -> T {
        let host = try await acquire()
        defer { release(host) }
        return try await host.with(retry: retry, body)
    }

    private enum Grab { case host(ConnectionHost<C>), create(Int), wait, closed }

    func acquire() async throws -> ConnectionHost<C> {
        let grab: Grab = state.withLock { s in
            if s.closed { return .closed }
            if let h = s.idle.popLast() { return .host(h) }
            if s.all.count < max {
                return .create(s.all.count)
            }
            return .wait
        }
        switch grab {
        case .host(let h): return h
        case .closed: throw PortableError(.unavailable, "the connection pool is closed")
        case .create(let n):
            let h = makeHost(n)
            let added: Bool = state.withLock { s in
                guard !s.closed else { return false }
                s.all.append(h)
                return true
            }
            if !added { await h.shutdown(); throw PortableError(.unavailable, "the connection pool is closed") }
            return h
        case .wait:
            return try await waitForHost()
        }
    }

    private func waitForHost() async throws -> ConnectionHost<C> {
        let id: UInt64 = state.withLock { s in s.nextWaiter += 1; return s.nextWaiter }
        let timeout = acquireTimeout
        let timer = Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
            self?.expire(id)
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { cont in
            let immediate: ConnectionHost<C>? = state.withLock { s in
                if let h = s.idle.popLast() { return h }
                s.waiters.append(Waiter(id: id, continuation: cont))
                return nil
            }
            if let h = immediate { cont.resume(returning: h) }
        }
    }

    private func expire(_ id: UInt64) {
        let w: Waiter? = state.withLock { s in
            guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return s.waiters.remove(at: i)
        }
        w?.continuation.resume(throwing: PortableError(.busy,
            "no free \(name) connection within \(acquireTimeout) s (DB_MAX_CONNECTIONS is \(max))"))
    }

    func release(_ host: ConnectionHost<C>) {
        let w: Waiter? = state.withLock { s in
            if !s.waiters.isEmpty { return s.waiters.removeFirst() }
            s.idle.append(host)
            return nil
        }
        w?.continuation.resume(returning: host)
    }

    func close() async {
        let (hosts, waiters): ([ConnectionHost<C>], [Waiter]) = state.withLock { s in
            s.closed = true
            let h = s.all
            let w = s.waiters
            s.all = []; s.idle = []; s.waiters = []
            return (h, w)
        }
        for w in waiters { w.continuation.resume(throwing: PortableError(.unavailable, "the connection pool is closed")) }
        for h in hosts { await h.shutdown() }
    }
}
