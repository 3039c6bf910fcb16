import Foundation
import Logging
import Synchronization
import Testing
@testable import Backends

/// The in-process worker runtime a Swift service uses, on both backends.
@Suite(.processes) struct WorkerRuntimeTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func makeWorker(_ db: TestDB, concurrency: Int = 5, poll: Double = 0.05, failUnknown: Bool = false,
                    lease: Double = 5, maintenance: Bool = true) -> Worker {
        var o = WorkerOptions(id: "runtime-\(UUID().uuidString.prefix(6))")
        o.concurrency = concurrency
        o.pollIntervalSeconds = poll
        o.leaseSeconds = lease
        o.failUnknownTypes = failUnknown
        if !maintenance { o.maintenance = nil }
        return Worker(client: db.client, options: o, logger: WorkerRuntimeTests.quiet)
    }

    /// Runs the worker until `done` holds, then stops it.
    func run(_ worker: Worker, timeout: Double = 60, until done: () async throws -> Bool) async throws {
        let task = Task { try await worker.run() }
        let ok = try await eventually(timeout: timeout, done)
        worker.stop()
        try await task.value
        #expect(ok, "the condition was reached")
    }

    struct Greeting: Codable, Sendable { var name: String }
    struct Reply: Codable, Sendable { var text: String }

    @Test(arguments: TestBackend.enabled)
    func typedHandlersDecodeAndABadPayloadIsDeadLettered(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let good = try await db.client.enqueue(try NewJob(type: "greet", payload: Greeting(name: "Ada"))).job
            let bad = try await db.client.add("greet", payload: #"{"nom":"Ada"}"#)
            let w = makeWorker(db)
            w.register("greet", payload: Greeting.self) { g, _ in Reply(text: "hello \(g.name)") }
            try await run(w) {
                try await db.driver.jobGetMany([good.id, bad.id]).allSatisfy { $0.status.isTerminal }
            }
            #expect(try await db.client.job(good.id).output == #"{"text":"hello Ada"}"#)
            let b = try await db.client.job(bad.id)
            #expect(b.status == .dlq && b.dlqReasonCode == Codes.badPayload && b.attempts == 1)
            let types = try await db.driver.jobTypeList().map(\.jobType)
            #expect(types.contains("greet"), "workers record their types")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aTypesConcurrencyLimitHolds(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            _ = try await db.client.enqueueMany((0..<6).map { _ in NewJob(jobType: "narrow") } + (0..<6).map { _ in NewJob(jobType: "wide") })
            let counters = Mutex<(now: Int, max: Int)>((0, 0))
            let w = makeWorker(db, concurrency: 6)
            w.register("narrow", options: HandlerOptions(concurrency: 1)) { _ in
                counters.withLock { $0.now += 1; $0.max = max($0.max, $0.now) }
                try await Task.sleep(nanoseconds: 40_000_000)
                counters.withLock { $0.now -= 1 }
                return nil
            }
            w.register("wide") { _ in try await Task.sleep(nanoseconds: 40_000_000); return nil }
            try await run(w) { try await db.client.jobs(JobFilter(status: .succeeded)).total == 12 }
            #expect(counters.withLock { $0.max } == 1)
            #expect(try await db.driver.jobTypeList().first { $0.jobType == "narrow" }?.concurrency == 1)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aSwiftHandlerPastItsTimeoutIsRecordedAsTimeoutAndCancelled(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let job = try await db.client.add("slow", maxAttempts: 1)
            let sawCancel = Mutex(false)
            // A long lease: only the timeout may end this attempt, not a reaper under a loaded box.
            let w = makeWorker(db, lease: 60)
            w.register("slow", options: HandlerOptions(timeoutSeconds: 1)) { _ in
                do { try await Task.sleep(nanoseconds: 30_000_000_000) } catch { sawCancel.withLock { $0 = true }; throw error }
                return nil
            }
            try await run(w) { try await db.client.job(job.id).status == .dlq }
            let j = try await db.client.job(job.id)
            #expect(j.lastErrorCode == Codes.timeout && j.dlqReasonCode == Codes.maxAttemptsExceeded)
            #expect(sawCancel.withLock { $0 }, "the handler was cancelled cooperatively")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func unknownTypesFailWhenAskedTo(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let job = try await db.client.add("nobody_knows", maxAttempts: 1)
            let w = makeWorker(db, failUnknown: true)
            try await run(w) { try await db.client.job(job.id).status == .dlq }
            #expect(try await db.client.job(job.id).lastErrorCode == Codes.unknownJobType)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func theWorkerRegistersAndLeaves(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let w = makeWorker(db)
            w.register("x") { _ in nil }
            let task = Task { try await w.run() }
            #expect(try await eventually { try await db.driver.workerList().contains { $0.id == w.options.id && $0.jobTypes == ["x"] } })
            w.stop()
            try await task.value
            #expect(try await db.driver.workerList().isEmpty, "a clean stop deregisters")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func anIdleWorkerWakesAtOnceForItsOwnProcessesEnqueues(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let started = Mutex<[String: Date]>([:])
            // Polling every 300 s: a start within the bound below can only come from a wakeup.
            let w = makeWorker(db, poll: 300)
            w.register("ping") { ctx in started.withLock { $0[ctx.job.id] = Date() }; return nil }
            let task = Task { try await w.run() }
            try await Task.sleep(nanoseconds: 300_000_000)
            var lat: [Double] = []
            for _ in 0..<10 {
                let t0 = Date()
                let id = try await db.client.add("ping").id
                #expect(try await eventually(timeout: 60, interval: 0.001) { started.withLock { $0[id] != nil } })
                guard let at = started.withLock({ $0[id] }) else { continue }
                lat.append(at.timeIntervalSince(t0) * 1000)
            }
            w.stop()
            try await task.value
            lat.sort()
            guard lat.count == 10 else { return }
            print("WAKEUP \(db.driver.kind.rawValue) in-process: enqueue-to-start p50 \(String(format: "%.1f", lat[5])) ms, max \(String(format: "%.1f", lat[9])) ms (poll 300 s)")
            // Loose on purpose (a loaded CI box): well under the 30 s poll means it was woken.
            #expect(lat[9] < 60_000, "woken, not polled: \(lat)")
        }
    }

    /// Every timer of the worker runs on the client's clock: with a `TestClock`, a handler's
    /// timeout fires when the test moves the clock past it, not after real seconds.
    @Test(arguments: TestBackend.enabled)
    func aTimeoutFiresWhenTheInjectedClockPassesIt(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let job = try await db.client.enqueue(NewJob(jobType: "slow", maxAttempts: 1, timeoutSeconds: 60)).job
            let running = Mutex(false)
            // No maintainer: moving the clock 61 s would also let the reaper take the 5 s lease.
            let w = makeWorker(db, maintenance: false)
            w.register("slow") { _ in
                running.withLock { $0 = true }
                try await Task.sleep(nanoseconds: 120_000_000_000)  // real time: only cancellation ends it
                return nil
            }
            let task = Task { try await w.run() }
            #expect(try await eventually { running.withLock { $0 } })
            try await Task.sleep(nanoseconds: 200_000_000)
            #expect(try await db.client.job(job.id).status == .running, "no real time makes it time out")
            db.clock.advance(61)
            #expect(try await eventually(timeout: 20) { try await db.client.job(job.id).status == .dlq })
            let j = try await db.client.job(job.id)
            #expect(j.lastErrorCode == Codes.timeout && j.lastErrorMessage == "timed out after 60 s", "\(j)")
            w.stop()
            try await task.value
        }
    }
}
