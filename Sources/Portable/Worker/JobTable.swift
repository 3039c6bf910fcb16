import Foundation
import Synchronization

/// Where one claimed job is in its life inside a worker. Every part of the worker moves jobs
/// between phases through `JobTable`, under one lock, so two parts never both act on a job
/// (a timeout and an ack, a lost lease and an ack, shutdown and a start).
enum JobPhase: Sendable, Equatable {
    /// Leased by a claim; its handler starts at once unless the worker is stopping or the queue
    /// was paused since the claim (then the job is handed back without an attempt).
    case claimed
    /// The handler runs; the lease keeper extends the lease and watches `deadline`.
    case running(startedAt: Date, deadline: Date)
    /// The attempt's outcome is in the ack buffer; the handler may still be returning (a timeout
    /// or shutdown cancelled it). Its slot is free only when the handler has returned.
    case reported(startedAt: Date)
    /// The lease is gone (cancelled or reaped): nothing is acked; the handler is being stopped.
    case lost
}

/// Tells one handler to stop (timeout, lost lease, shutdown) or that it finished; the runner
/// waits on it beside the handler and cancels the handler when told to stop.
final class HandlerStop: Sendable {
    enum Reason: Sendable { case finished, stop }

    private struct State {
        var reason: Reason?
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func fire(_ reason: Reason) {
        let w: CheckedContinuation<Void, Never>? = state.withLock { s in
            guard s.reason == nil else { return nil }
            s.reason = reason
            defer { s.waiter = nil }
            return s.waiter
        }
        w?.resume()
    }

    var reason: Reason? { state.withLock { $0.reason } }

    /// Returns once `fire` was called (or the task is cancelled).
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.reason != nil || Task.isCancelled { return true }
                    s.waiter = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            let w: CheckedContinuation<Void, Never>? = state.withLock { s in
                defer { s.waiter = nil }
                return s.waiter
            }
            w?.resume()
        }
    }
}

/// A claim in flight: slots set aside so the claim loop and the ack path never claim more than
/// the worker has room for.
struct Reservation: Sendable {
    let count: Int
    /// The types that may be claimed (nil: every type, `--fail-unknown-types`).
    let types: [String]?
}

/// The worker's slots: the jobs it holds, by phase, and the slots set aside for claims in flight
/// and for acks not yet written. `changed` fires whenever room may have appeared or the worker
/// went idle.
final class JobTable: Sendable {
    struct Entry: Sendable {
        var job: Job
        var phase: JobPhase
        let stop = HandlerStop()
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var typeCounts: [String: Int] = [:]
        var reserved = 0
        var claimsInFlight = 0
        /// Outcomes handed to the ack buffer and not yet written (or given up).
        var unwrittenAcks = 0
        var stopping = false
    }

    let concurrency: Int
    /// Per-type limits of this worker's handlers; the types it may claim.
    let typeLimits: [String: Int?]
    let everyType: Bool
    let changed = AsyncSignal()
    /// Fires once, when the worker starts stopping.
    let stopped = AsyncSignal()
    private let state = Mutex(State())

    init(concurrency: Int, typeLimits: [String: Int?], everyType: Bool) {
        self.concurrency = concurrency
        self.typeLimits = typeLimits
        self.everyType = everyType
    }

    // MARK: claims

    /// Sets aside up to `batch` free slots for one claim; nil when there is no room (or stopping).
    /// Up to `concurrency` unwritten acks hold no slot, so the next claim overlaps the last
    /// batch's ack; past that they do: a worker whose handlers outrun its acks must stop claiming
    /// (its leases would expire in the buffer and the reaper would fight the acks for the rows).
    func reserve(batch: Int) -> Reservation? {
        state.withLock { s in
            guard !s.stopping else { return nil }
            let free = concurrency - s.entries.count - s.reserved - max(0, s.unwrittenAcks - concurrency)
            guard free > 0 else { return nil }
            var types: [String]?
            if !everyType {
                types = typeLimits.filter { type, limit in limit.map { s.typeCounts[type, default: 0] < $0 } ?? true }.keys.sorted()
                if types?.isEmpty == true { return nil }
            }
            let r = Reservation(count: min(batch, free), types: types)
            s.reserved += r.count
            s.claimsInFlight += 1
            return r
        }
    }

    /// Takes a claim's jobs into slots. Returns the jobs to start, and those to hand back unstarted:
    /// over a type's own limit (one claim can cover several types) or claimed while stopping.
    func admit(_ jobs: [Job], for r: Reservation) -> (start: [Entry], handBack: [Job]) {
        defer { changed.fire() }
        return state.withLock { s in
            s.reserved -= r.count
            s.claimsInFlight -= 1
            var start: [Entry] = []
            var handBack: [Job] = []
            for job in jobs {
                if s.stopping {
                    handBack.append(job)
                } else if let limit = typeLimits[job.jobType] ?? nil, s.typeCounts[job.jobType, default: 0] >= limit {
                    handBack.append(job)
                } else {
                    let e = Entry(job: job, phase: .claimed)
                    s.entries[job.id] = e
                    s.typeCounts[job.jobType, default: 0] += 1
                    start.append(e)
                }
            }
            return (start, handBack)
        }
    }

    /// A claim failed: its slots are free again.
    func cancel(_ r: Reservation) {
        state.withLock { s in
            s.reserved -= r.count
            s.claimsInFlight -= 1
        }
        changed.fire()
    }

    // MARK: one job's phases

    /// claimed → running, unless the worker is stopping.
    func start(_ id: String, at now: Date, timeoutSeconds: Int) -> Bool {
        state.withLock { s in
            guard !s.stopping, s.entries[id]?.phase == .claimed else { return false }
            s.entries[id]?.phase = .running(startedAt: now, deadline: now.addingTimeInterval(Double(timeoutSeconds)))
            return true
        }
    }

    /// The handler returned: its slot is free at once, and a job still `running` has its outcome
    /// counted as unwritten in the same step (so a claim never sees the slot free while the ack
    /// that will claim for it is not yet known). False when a timeout, a lost lease or shutdown
    /// got there first: their outcome, if any, is already in the ack buffer.
    func handlerReturned(_ id: String) -> (accepted: Bool, startedAt: Date) {
        defer { changed.fire() }
        return state.withLock { s in
            guard let e = s.entries.removeValue(forKey: id) else { return (false, Date.distantPast) }
            s.typeCounts[e.job.jobType, default: 1] -= 1
            guard case .running(let started, _) = e.phase else { return (false, Date.distantPast) }
            s.unwrittenAcks += 1
            return (true, started)
        }
    }

    /// Running jobs past their deadline → reported; the caller records `TIMEOUT` and stops them.
    func takeTimedOut(now: Date) -> [(entry: Entry, startedAt: Date, deadline: Date)] {
        state.withLock { s in
            var out: [(Entry, Date, Date)] = []
            for (id, e) in s.entries {
                guard case .running(let started, let deadline) = e.phase, deadline <= now else { continue }
                s.entries[id]?.phase = .reported(startedAt: started)
                s.unwrittenAcks += 1
                out.append((e, started, deadline))
            }
            return out
        }
    }

    /// The lease is gone: running → lost. Returns the handler's stop, to cancel it.
    func lose(_ id: String) -> HandlerStop? {
        state.withLock { s in
            guard case .running? = s.entries[id]?.phase else { return nil }
            s.entries[id]?.phase = .lost
            return s.entries[id]?.stop
        }
    }

    /// The job never started: the slot is free.
    func finish(_ id: String) {
        state.withLock { s in
            guard let e = s.entries.removeValue(forKey: id) else { return }
            s.typeCounts[e.job.jobType, default: 1] -= 1
        }
        changed.fire()
    }

    // MARK: acks

    /// Acks written or given up: the slots they held past the backlog allowance are free.
    func acksSettled(_ count: Int) {
        guard count > 0 else { return }
        state.withLock { $0.unwrittenAcks -= count }
        changed.fire()
    }

    // MARK: reads for the other parts

    /// Leases the heartbeat keeps: jobs whose handler runs.
    var runningLeases: [LeaseKey] {
        state.withLock { s in
            s.entries.values.compactMap { e in
                guard case .running = e.phase else { return nil }
                return LeaseKey(jobId: e.job.id, token: e.job.leaseToken ?? "")
            }
        }
    }

    var count: Int { state.withLock { $0.entries.count } }
    /// Outcomes are waiting for their ack (or being written): the ack path will claim for free slots.
    var hasUnwrittenAcks: Bool { state.withLock { $0.unwrittenAcks > 0 } }
    var claimsInFlight: Int { state.withLock { $0.claimsInFlight } }

    /// Nothing held, claimed, in flight or unwritten: only then may `--until-empty` ask the database.
    var isIdle: Bool {
        state.withLock { $0.entries.isEmpty && $0.claimsInFlight == 0 && $0.unwrittenAcks == 0 }
    }

    // MARK: shutdown

    var isStopping: Bool { state.withLock { $0.stopping } }

    /// Stops claims and starts; true the first time.
    func beginStopping() -> Bool {
        let first = state.withLock { s -> Bool in
            defer { s.stopping = true }
            return !s.stopping
        }
        changed.fire()
        stopped.fire()
        return first
    }

    /// At the shutdown deadline: running jobs → reported (released by the caller, not counted
    /// against `max_attempts`); returns them with their stops.
    func takeLeftovers() -> [(entry: Entry, startedAt: Date)] {
        state.withLock { s in
            var out: [(Entry, Date)] = []
            for (id, e) in s.entries {
                guard case .running(let started, _) = e.phase else { continue }
                s.entries[id]?.phase = .reported(startedAt: started)
                s.unwrittenAcks += 1
                out.append((e, started))
            }
            return out
        }
    }
}

