import Foundation
import Synchronization

/// Wakes idle workers when jobs arrive, so they claim at once instead of at the next poll.
/// Level-triggered: a waiter passes the generation it saw before its (empty) claim, and returns
/// at once if anything arrived since, so a notification between claim and wait is never lost.
public final class JobWakeups: Sendable {
    private struct Waiter {
        let queues: Set<String>?
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var generation: UInt64 = 0
        var waiters: [UInt64: Waiter] = [:]
        var nextId: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Jobs arrived in `queue` (nil: anywhere, e.g. after a reconnect: poll at once).
    public func notify(queue: String?) {
        let woken: [Waiter] = state.withLock { s in
            s.generation &+= 1
            var out: [Waiter] = []
            for (id, w) in s.waiters where queue == nil || w.queues == nil || w.queues!.contains(queue!) {
                out.append(w)
                s.waiters[id] = nil
            }
            return out
        }
        for w in woken { w.continuation.resume(returning: true) }
    }

    /// Waits until jobs arrive in one of `queues` (nil: any), `timeout` seconds pass (nil: no
    /// timer; a worker races this wait against its own clock) or the task is cancelled.
    /// Returns true when woken by a notification.
    @discardableResult
    public func wait(queues: [String]?, after generation: UInt64, timeout: Double?) async -> Bool {
        let id: UInt64 = state.withLock { s in s.nextId += 1; return s.nextId }
        let timer = timeout.map { t in
            Task { [weak self] in
                try? await Task.sleep(nanoseconds: UInt64(max(0, t) * 1e9))
                self?.resume(id, false)
            }
        }
        defer { timer?.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let already: Bool = state.withLock { s in
                    if s.generation != generation || Task.isCancelled { return true }
                    s.waiters[id] = Waiter(queues: queues.map(Set.init), continuation: c)
                    return false
                }
                if already { c.resume(returning: true) }
            }
        } onCancel: {
            resume(id, false)
        }
    }

    private func resume(_ id: UInt64, _ value: Bool) {
        let w = state.withLock { $0.waiters.removeValue(forKey: id) }
        w?.continuation.resume(returning: value)
    }
}

/// A repeating "something changed" signal for in-process loops (a slot freed, jobs handed over,
/// stop). Level-triggered like `JobWakeups`: a waiter passes the generation it read before looking
/// at the state, so a change in between is never missed. Waits end early on task cancellation.
public final class AsyncSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextId: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var generation: UInt64 { state.withLock { $0.generation } }

    public func fire() {
        let ws = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.generation &+= 1
            let w = Array(s.waiters.values)
            s.waiters = [:]
            return w
        }
        for w in ws { w.resume() }
    }

    /// Returns once `fire` has been called after `generation` was read (or the task is cancelled).
    public func wait(after generation: UInt64) async {
        let id: UInt64 = state.withLock { s in s.nextId += 1; return s.nextId }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.generation != generation || Task.isCancelled { return true }
                    s.waiters[id] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// Waits for the first of several events, then cancels the others (their waits must end on
/// cancellation, as `AsyncSignal.wait`, `JobWakeups.wait` and `PortableClock.sleep` do).
/// Returns the index of the event that came first.
@discardableResult
public func firstOf(_ events: [@Sendable () async -> Void]) async -> Int {
    await withTaskGroup(of: Int.self) { group in
        for (i, e) in events.enumerated() { group.addTask { await e(); return i } }
        let first = await group.next() ?? 0
        group.cancelAll()
        return first
    }
}
