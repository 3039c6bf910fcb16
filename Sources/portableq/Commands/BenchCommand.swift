import ArgumentParser
import Backends
import Foundation
import Logging
import Synchronization

/// `portableq bench`: enqueue N no-op jobs in batches, work them through the full path (claim,
/// attempt recorded, ack) with W in-process `Worker`s — the runtime `portableq work` runs, so the
/// figure is what a user gets — then measure enqueue-to-start latency of an idle worker in a
/// separate trickle phase. `--loop` processes with a bare claim/ack loop instead (no handler
/// tasks, heartbeats or ack buffer), to see what the runtime costs. Uses a queue of its own and
/// deletes it after, so it can run against a database that holds other work.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Measure enqueue, processing and start latency.")

    @Option(help: "Database URL.") var database: String?
    @Option(help: "Jobs to enqueue and process.") var jobs: Int = 20_000
    @Option(help: "In-process worker loops.") var workers: Int = 4
    @Option(name: .customLong("batch-size"), help: "Jobs per enqueue batch and per claim.") var batchSize: Int = 100
    @Option(name: .customLong("payload-bytes"), help: "Payload size of each job.") var payloadBytes: Int = 16
    @Option(name: .customLong("trickle"), help: "Jobs in the latency phase.") var trickle: Int = 200
    @Flag(help: "Process with a bare claim/ack loop instead of the Worker runtime.") var loop = false
    @Flag(help: "Print the result as JSON too.") var json = false
    @Option(name: .customLong("flow-starts"),
            help: "Only compare starting this many flow runs one call at a time with starting them in batches of 1000.")
    var flowStarts: Int?

    func run() async throws {
        guard jobs > 0, workers > 0, batchSize > 0, payloadBytes >= 2, trickle >= 0 else {
            throw PortableError.invalid("--jobs, --workers and --batch-size must be positive; --payload-bytes at least 2")
        }
        var s = try Settings.fromEnvironment()
        if let database { s.databaseURL = database }
        s.dbMaxConnections = max(s.dbMaxConnections ?? Settings.defaultMaxConnections, workers + 4)
        let url = try DatabaseURL.parse(s.databaseURL ?? DatabaseURL.defaultURL)
        let driver = try Database.open(url, settings: s, create: true)
        try await Database.prepare(driver, migrate: s.migrateOnStartup ?? (driver.kind == .sqlite))
        let client = PortableClient(driver: driver, config: s.config)
        let queue = "bench-" + UUIDv7.randomToken(SystemRandom()).prefix(8)
        let payload = "\"" + String(repeating: "x", count: payloadBytes - 2) + "\""
        let sync = driver.kind == .sqlite ? s.sqliteSynchronous : (s.disableSyncCommit ? "off" : "on")
        func say(_ line: String) { FileHandle.standardError.write(Data("bench: \(line)\n".utf8)) }
        if let flowStarts {
            try await BenchCommand.compareFlowStarts(client, kind: driver.kind.rawValue, runs: flowStarts, queue: queue, json: json, say: say)
            await driver.close()
            return
        }
        say("\(driver.location) queue \(queue): \(jobs) jobs, \(workers) workers, batch \(batchSize), payload \(payloadBytes) B, sync \(sync)")

        // 1. Enqueue in batches, from W producers at once (as W application processes would).
        let t0 = Date()
        let (total, batch) = (jobs, batchSize)
        let next = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    while true {
                        let start = next.value.add(batch, ordering: .relaxed).oldValue
                        if start >= total { return }
                        let n = min(batch, total - start)
                        _ = try await client.enqueueMany((0..<n).map { _ in NewJob(queue: queue, jobType: "noop", payloadJSON: payload) })
                    }
                }
            }
            try await group.waitForAll()
        }
        let enqueueSeconds = Date().timeIntervalSince(t0)
        say(String(format: "enqueued %d in %.2f s", jobs, enqueueSeconds))

        // 2. Process, timed until the last job's ack is written.
        let t1 = Date()
        let processed = loop ? try await BenchCommand.processWithLoop(client, queue: queue, jobs: total, workers: workers, batch: batch)
                             : try await BenchCommand.processWithWorkers(client, queue: queue, jobs: total, workers: workers, batch: batch)
        let processSeconds = Date().timeIntervalSince(t1)
        say(String(format: "processed %d in %.2f s (%@)", processed, processSeconds, loop ? "claim/ack loop" : "Worker runtime"))

        // 3. Trickle: an idle worker (LISTEN/NOTIFY on Postgres, in-process wakeup on SQLite),
        // one job at a time; latency from the enqueue call to the handler's start.
        var latencies: [Double] = []
        if trickle > 0 {
            let starts = Mutex<[String: Date]>([:])
            var o = WorkerOptions(id: "bench-trickle")
            o.queues = [queue]
            o.concurrency = 4
            o.pollIntervalSeconds = 5
            o.maintenance = nil
            let worker = Worker(client: client, options: o, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
            worker.register("ping") { ctx in
                let now = Date()
                starts.withLock { $0[ctx.job.id] = now }
                return nil
            }
            let task = Task { try await worker.run() }
            try await Task.sleep(nanoseconds: 500_000_000)
            for _ in 0..<trickle {
                let sent = Date()
                let id = try await client.enqueue(NewJob(queue: queue, jobType: "ping", payloadJSON: "null")).job.id
                var started: Date?
                for _ in 0..<5000 {
                    started = starts.withLock { $0[id] }
                    if started != nil { break }
                    try await Task.sleep(nanoseconds: 100_000)
                }
                if let started { latencies.append(started.timeIntervalSince(sent) * 1000) }
                try await Task.sleep(nanoseconds: 5_000_000)
            }
            worker.stop()
            try await task.value
        }
        latencies.sort()
        func pct(_ p: Double) -> Double { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }

        // Clean up the bench queue: its jobs, history and keys.
        let removed = try await client.deleteQueue(queue)
        let rss = BenchCommand.peakRSSMegabytes()
        await client.close()
        // DESIGN.md's keys first, in its order; extra keys after rss_mb.
        let line = "BENCH_RESULT backend=\(driver.kind.rawValue) jobs=\(jobs) workers=\(workers) sync=\(sync) "
            + String(format: "enqueue_jps=%.0f process_jps=%.0f p50_ms=%.2f p99_ms=%.2f rss_mb=%.1f",
                     Double(jobs) / enqueueSeconds, Double(jobs) / processSeconds, pct(0.5), pct(0.99), rss)
            + " batch=\(batchSize) mode=\(loop ? "loop" : "worker")"
        Output.line(line)
        say("removed \(removed) bench jobs")
        if json {
            Output.json(.object([
                ("backend", .string(driver.kind.rawValue)), ("jobs", .int(jobs)), ("workers", .int(workers)),
                ("batch", .int(batchSize)), ("sync", .string(sync)),
                ("enqueue_jps", .double((Double(jobs) / enqueueSeconds).rounded())),
                ("process_jps", .double((Double(jobs) / processSeconds).rounded())),
                ("p50_ms", .double((pct(0.5) * 100).rounded() / 100)), ("p99_ms", .double((pct(0.99) * 100).rounded() / 100)),
                ("rss_mb", .double((rss * 10).rounded() / 10)), ("mode", .string(loop ? "loop" : "worker")),
            ]))
        }
    }

    /// W `Worker`s (each with `batch` slots and claims of `batch`), as `portableq work` runs them;
    /// returns once their acks for all `jobs` are written.
    static func processWithWorkers(_ client: PortableClient, queue: String, jobs: Int, workers: Int, batch: Int) async throws -> Int {
        let quiet = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let ws = (0..<workers).map { w -> Worker in
            var o = WorkerOptions(id: "bench-\(w)")
            o.queues = [queue]
            o.concurrency = batch
            o.batchSize = batch
            o.maintenance = nil
            o.pollIntervalSeconds = 0.05
            let worker = Worker(client: client, options: o, logger: quiet)
            worker.register("noop") { _ in nil }
            return worker
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for w in ws { group.addTask { try await w.run() } }
            var done = 0
            while done < jobs {
                try await Task.sleep(nanoseconds: 1_000_000)
                done = ws.reduce(0) { $0 + $1.stats.succeeded }
            }
            for w in ws { w.stop() }
            try await group.waitForAll()
            let s = ws.map(\.stats)
            FileHandle.standardError.write(Data(("bench: round trips: \(s.reduce(0) { $0 + $1.claimRoundTrips }) claims, "
                + "\(s.reduce(0) { $0 + $1.ackBatches }) ack batches (\(s.reduce(0) { $0 + $1.ackBatchesThatClaimed }) claimed along)\n").utf8))
            return done
        }
    }

    /// W bare loops: each turn acks the last batch (attempts recorded with the ack) and claims
    /// the next, in one round trip; no handler tasks, heartbeats or ack buffer.
    static func processWithLoop(_ client: PortableClient, queue: String, jobs total: Int, workers: Int, batch: Int) async throws -> Int {
        let done = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<workers {
                group.addTask {
                    var idle = 0
                    var held: [Job] = []
                    while true {
                        let (_, claimed) = try await client.completeAndLease(
                            held.map { ($0, .success(output: nil)) }, types: [:], queues: [queue], jobTypes: ["noop"],
                            limit: batch, leaseSeconds: 60, workerId: "bench-\(w)")
                        done.value.add(held.count, ordering: .relaxed)
                        held = claimed
                        if claimed.isEmpty {
                            if done.value.load(ordering: .relaxed) >= total { return }
                            idle += 1
                            if idle > 200 { return }
                            try await Task.sleep(nanoseconds: 1_000_000)
                            continue
                        }
                        idle = 0
                    }
                }
            }
            try await group.waitForAll()
        }
        return done.value.load(ordering: .relaxed)
    }

    /// Peak resident set size of this process (VmHWM), in MB.
    static func peakRSSMegabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Double($0) } ?? 0
            return kb / 1024
        }
        return 0
    }
}

/// A counter shared by the bench's worker loops.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
