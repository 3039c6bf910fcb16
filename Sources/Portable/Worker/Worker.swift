import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs handlers for claimed jobs (DESIGN.md, "Worker runtime"), built from named parts:
///
/// - `ClaimLoop` + `Claims`: type-aware batched claims up to the free slots, obeying queue policies;
/// - `AckBuffer`: outcomes written in batches, claiming the next jobs in the same round trip;
/// - `LeaseKeeper`: heartbeats, lost leases and timeouts;
/// - `HandlerRunner`: one job's handler, cancellable by its own stop signal;
/// - `Shutdown`: the graceful stop; `OutageLog`: one line per database outage.
///
/// The job's life inside the worker is one `JobPhase`, kept by `JobTable`. Handlers run in a task
/// group owned by `run()`; all timers use the client's clock. A swift-service-lifecycle `Service`:
/// SIGTERM/SIGINT through a `ServiceGroup` stop it gracefully.
public final class Worker: Service, Sendable {
    public let client: PortableClient
    public let options: WorkerOptions
    let logger: Logger

    private struct Setup {
        var registrations: [String: Registration] = [:]
        var frozen = false
        var startedAt = Date()
    }

    private let setup = Mutex(Setup())
    private let statsBox = WorkerCounters()
    /// Set by `run()`; `stop()` before then makes `run()` return at once.
    private let parts = Mutex<Parts?>(nil)
    private let stopEarly = Mutex(false)

    /// The process's outage log when it has one (`serve` shares its own); else the worker keeps one.
    private let sharedOutage: OutageLog?

    public init(client: PortableClient, options: WorkerOptions, logger: Logger = Logger(label: "portableq.worker"),
                outage: OutageLog? = nil) {
        self.client = client
        self.options = options
        self.logger = logger
        self.sharedOutage = outage
    }

    // MARK: registration

    /// Registers a handler for a job type. Call before `run()`.
    public func register(_ type: String, options: HandlerOptions = HandlerOptions(), _ handler: @escaping JobHandler) {
        setup.withLock { s in
            precondition(!s.frozen, "register handlers before run()")
            s.registrations[type] = Registration(type: type, options: options, handler: handler)
        }
    }

    /// Registers a handler with a typed payload; a payload that does not decode is `BAD_PAYLOAD`.
    public func register<P: Decodable & Sendable, O: Encodable & Sendable>(
        _ type: String, payload: P.Type, options: HandlerOptions = HandlerOptions(),
        _ body: @escaping @Sendable (P, JobContext) async throws -> O
    ) {
        register(type, options: options) { ctx in
            let p = try ctx.decode(P.self)
            let out = try await body(p, ctx)
            return String(decoding: try JSONEncoder().encode(out), as: UTF8.self)
        }
    }

    /// Registers a handler with a typed payload and no output.
    public func register<P: Decodable & Sendable>(
        _ type: String, payload: P.Type, options: HandlerOptions = HandlerOptions(),
        _ body: @escaping @Sendable (P, JobContext) async throws -> Void
    ) {
        register(type, options: options) { ctx in
            try await body(try ctx.decode(P.self), ctx)
            return nil
        }
    }

    public var registeredTypes: [String] { setup.withLock { $0.registrations.keys.sorted() } }
    public var stats: WorkerStats { statsBox.snapshot }
    /// Jobs this worker holds now (claimed, running, or finishing).
    public var runningCount: Int { parts.withLock { $0?.table.count ?? 0 } }

    var info: WorkerInfo {
        let (types, started) = setup.withLock { s in (s.registrations.keys.sorted(), s.startedAt) }
        return WorkerInfo(id: options.id, host: ProcessInfo.processInfo.hostName,
                          pid: Int(ProcessInfo.processInfo.processIdentifier), queues: options.queues,
                          jobTypes: options.failUnknownTypes ? nil : types, concurrency: options.concurrency,
                          leaseSeconds: options.leaseSeconds, startedAt: started, lastHeartbeatAt: started,
                          dbConnections: client.connectionBudget)
    }

    // MARK: running

    public func run() async throws {
        await withGracefulShutdownHandler {
            await self.runUntilStopped()
        } onGracefulShutdown: {
            self.stop()
        }
    }

    /// Asks the worker to stop: no new claims; running jobs get `shutdownSeconds` to finish.
    public func stop() {
        stopEarly.withLock { $0 = true }
        guard let table = parts.withLock({ $0?.table }) else { return }
        guard table.beginStopping() else { return }
        // Said at once (the signal's moment): what the shutdown waits for, and until when.
        let running = table.runningLeases.map(\.jobId).sorted()
        logger.info("stopping: no new claims; waiting for running jobs", metadata: [
            "worker_id": .string(options.id), "running": .stringConvertible(running.count),
            "held": .stringConvertible(table.count), "job_ids": .string(running.prefix(20).joined(separator: ",")),
            "shutdown_seconds": .stringConvertible(options.shutdownSeconds),
            "deadline": .string(Time.format(client.clock.localNow.addingTimeInterval(options.shutdownSeconds))),
        ])
    }

    /// The parts of one `run()`, wired together.
    private struct Parts: Sendable {
        let table: JobTable
        let claims: Claims
        let acks: AckBuffer
        let outage: OutageLog
        let jobs: AsyncStream<[JobTable.Entry]>
    }

    private func makeParts(_ regs: [String: Registration]) -> Parts {
        let table = JobTable(concurrency: options.concurrency, typeLimits: regs.mapValues(\.options.concurrency),
                             everyType: options.failUnknownTypes)
        let (jobs, dispatch) = AsyncStream<[JobTable.Entry]>.makeStream()
        let claims = Claims(client: client, options: options, table: table, stats: statsBox, dispatch: dispatch)
        let wakeups = client.wakeups
        let outage = sharedOutage ?? OutageLog(logger: logger, clock: client.clock, metrics: client.metrics) {
            wakeups.notify(queue: nil)
        }
        let acks = AckBuffer(client: client, options: options, table: table, claims: claims, outage: outage, stats: statsBox,
                             types: regs.mapValues(\.policy), logger: logger)
        return Parts(table: table, claims: claims, acks: acks, outage: outage, jobs: jobs)
    }

    private func runUntilStopped() async {
        let regs = setup.withLock { s -> [String: Registration] in
            s.frozen = true
            s.startedAt = client.clock.localNow
            return s.registrations
        }
        let p = makeParts(regs)
        parts.withLock { $0 = p }
        if stopEarly.withLock({ $0 }) { _ = p.table.beginStopping() }
        signal(SIGPIPE, SIG_IGN)
        client.listenForWakeups()
        guard await startup(regs, p) else { return }
        logger.info("worker started", metadata: [
            "worker_id": .string(options.id),
            "queues": .string(options.queues?.joined(separator: ",") ?? "*"),
            "types": .string(options.failUnknownTypes ? "*" : regs.keys.sorted().joined(separator: ",")),
            "concurrency": .stringConvertible(options.concurrency),
            "backend": .string(client.backend.rawValue),
        ])
        let claimLoop = ClaimLoop(claims: p.claims, acks: p.acks, table: p.table, outage: p.outage, options: options,
                                  client: client, logger: logger, stopWorker: { self.stop() })
        let keeper = LeaseKeeper(client: client, options: options, table: p.table, acks: p.acks, claims: p.claims,
                                 outage: p.outage, logger: logger, info: info)
        let runner = HandlerRunner(client: client, options: options, table: p.table, acks: p.acks, claims: p.claims,
                                   registrations: regs, logger: logger)
        let shutdown = Shutdown(client: client, options: options, table: p.table, acks: p.acks, claims: p.claims, logger: logger)
        let maintainer = options.maintenance.map { Maintainer(client: client, settings: $0, holder: options.id, logger: logger) }

        await withDiscardingTaskGroup { services in
            services.addTask { await keeper.heartbeats() }
            services.addTask { await keeper.deadlines() }
            services.addTask { await p.acks.run() }
            if let maintainer { services.addTask { await maintainer.run() } }
            // The work: claims, handlers and the shutdown that ends them.
            await withDiscardingTaskGroup { work in
                work.addTask { await claimLoop.run() }
                work.addTask {
                    await Worker.untilStopping(p.table)
                    await shutdown.run()
                }
                for await batch in p.jobs {
                    for entry in batch { work.addTask { await runner.execute(entry) } }
                }
            }
            // The last acks reach the database (bounded: an outage must not hang shutdown).
            p.acks.close()
            await Worker.untilDrained(p.acks, clock: client.clock, seconds: max(2, options.leaseSeconds))
            services.cancelAll()
        }
        try? await p.claims.flushTallies()
        try? await client.unregisterWorker(options.id)
        let s = stats
        logger.info("worker stopped", metadata: [
            "worker_id": .string(options.id), "succeeded": .stringConvertible(s.succeeded),
            "failed": .stringConvertible(s.failed), "released": .stringConvertible(s.released),
            "snoozed": .stringConvertible(s.snoozed),
            "claims": .stringConvertible(s.claimRoundTrips), "ack_batches": .stringConvertible(s.ackBatches),
            "ack_batches_that_claimed": .stringConvertible(s.ackBatchesThatClaimed),
            "quiet_waits": .stringConvertible(s.quietWaits),
        ])
    }

    /// Records job types and the worker; waits for the database while it is down.
    private func startup(_ regs: [String: Registration], _ p: Parts) async -> Bool {
        var delay = 0.5
        while !Task.isCancelled {
            let stopGen = p.table.stopped.generation
            if p.table.isStopping { return false }
            do {
                try await client.registerJobTypes(regs.values.map(\.policy))
                try await client.registerWorker(info)
                p.outage.succeeded()
                return true
            } catch {
                p.outage.failed(error, doing: "start-up")
                let (stopped, clock, wait) = (p.table.stopped, client.clock, delay)
                await firstOf([{ await stopped.wait(after: stopGen) }, { try? await clock.sleep(seconds: wait) }])
                delay = min(delay * 2, 5)
            }
        }
        return false
    }

    /// Returns when the worker starts stopping (or the task is cancelled).
    private static func untilStopping(_ table: JobTable) async {
        while !Task.isCancelled {
            let gen = table.stopped.generation
            if table.isStopping { return }
            await table.stopped.wait(after: gen)
        }
    }

    private static func untilDrained(_ acks: AckBuffer, clock: any PortableClock, seconds: Double) async {
        let deadline = clock.localNow.addingTimeInterval(seconds)
        while !Task.isCancelled {
            let gen = acks.drained.generation
            if acks.isDrained { return }
            let left = deadline.timeIntervalSince(clock.localNow)
            if left <= 0 { return }
            let drained = acks.drained
            await firstOf([{ await drained.wait(after: gen) }, { try? await clock.sleep(seconds: left) }])
        }
    }
}
