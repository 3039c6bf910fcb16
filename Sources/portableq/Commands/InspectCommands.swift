import ArgumentParser
import Backends
import Foundation

struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workers",
        abstract: "List registered workers (gone = no heartbeat for three leases).")
    @OptionGroup var db: DatabaseOptions

    func run() async throws {
        let (workers, now) = try await db.withClient(write: false) { client in try await client.workers() }
        let page = Page(items: workers, total: workers.count, totalCapped: false)
        if db.json { Output.json(page.json { $0.json(now: now) }); return }
        Output.table(["ID", "STATE", "QUEUES", "TYPES", "CONC", "DB CONNS", "LAST HEARTBEAT"], workers.map { w in
            [w.id, w.isAlive(at: now) ? "alive" : "gone", w.queues?.joined(separator: ",") ?? "*",
             w.jobTypes?.joined(separator: ",") ?? "*", "\(w.concurrency)", w.dbConnections.map(String.init) ?? "-",
             Time.format(w.lastHeartbeatAt)]
        })
        let alive = workers.filter { $0.isAlive(at: now) }
        if !alive.isEmpty {
            // What a fleet holds at most, to set against the server's max_connections.
            Output.line("\(alive.count) alive, up to \(alive.compactMap(\.dbConnections).reduce(0, +)) database connections between them")
        }
    }
}

struct QueuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "queues", abstract: "Queues, their depths and policies.",
                                                    subcommands: [QueuesList.self, QueuesPause.self, QueuesResume.self,
                                                                  QueuesPolicyCommand.self, QueuesPurge.self, QueuesTotals.self],
                                                    defaultSubcommand: QueuesList.self)
}

struct QueuesPause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Stop new starts in a queue (every worker obeys).")
    @OptionGroup var db: DatabaseOptions
    @Argument var queue: String

    func run() async throws {
        let (p, hasJobs) = try await db.withClient { client in
            (try await client.pause(queue), try await client.jobs(JobFilter(queue: queue), limit: 1).total > 0)
        }
        // Pausing ahead of the first job is useful (a queue about to be fed); a typo is not.
        if !hasJobs { CLIError.printWarning("no job is in a queue named \(JSON.quote(queue)) yet; paused it anyway") }
        if db.json { Output.json(p.json); return }
        Output.line("paused \(queue): running jobs finish, no new ones start (portableq queues resume \(queue))")
    }
}

struct QueuesResume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Let a paused queue start jobs again.")
    @OptionGroup var db: DatabaseOptions
    @Argument var queue: String

    func run() async throws {
        let p = try await db.withClient { client in try await client.resume(queue) }
        if db.json { Output.json(p.json); return }
        Output.line("resumed \(queue)")
    }
}

struct QueuesPolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "policy",
        abstract: "Show or set a queue's cluster-wide cap on running jobs and its start rate (none clears).")
    @OptionGroup var db: DatabaseOptions
    @Argument var queue: String
    @Option(name: .customLong("max-running"), help: "N or none.") var maxRunning: String?
    @Option(name: .customLong("max-starts-per-second"), help: "R or none.") var maxStartsPerSecond: String?
    @Option(name: .customLong("concurrency-key-from"), help: "A top-level payload field that keys jobs enqueued without a key, or none.") var concurrencyKeyFrom: String?
    @Option(name: .customLong("max-running-per-key"), help: "Cluster-wide cap on running jobs per concurrency key: N or none.") var maxRunningPerKey: String?
    @Option(name: .customLong("max-starts-per-second-per-key"), help: "Start rate per concurrency key: R or none.") var maxStartsPerSecondPerKey: String?

    func run() async throws {
        func parse<T>(_ s: String?, _ name: String, _ f: (String) -> T?) throws -> T?? {
            guard let s else { return nil }
            if s == "none" { return .some(nil) }
            guard let v = f(s) else { throw PortableError.invalid("--\(name) must be a number or none, got \(JSON.quote(s))") }
            return .some(v)
        }
        let running = try parse(maxRunning, "max-running") { Int($0) }
        let rate = try parse(maxStartsPerSecond, "max-starts-per-second") { Double($0) }
        let perKey = try parse(maxRunningPerKey, "max-running-per-key") { Int($0) }
        let perKeyRate = try parse(maxStartsPerSecondPerKey, "max-starts-per-second-per-key") { Double($0) }
        var keyFrom: String?? = nil
        if let f = concurrencyKeyFrom { keyFrom = .some(f == "none" ? nil : f) }
        if let v = keyFrom ?? nil { try KeyedClaim.checkField(v) }
        let p = try await db.withClient { client in
            var p = running == nil && rate == nil
                ? try await client.queuePolicy(queue)
                : try await client.setQueueLimits(queue, maxRunning: running, maxStartsPerSecond: rate)
            if keyFrom != nil || perKey != nil || perKeyRate != nil {
                p = try await client.setKeyLimits(queue, concurrencyKeyFrom: keyFrom, maxRunningPerKey: perKey,
                                                  maxStartsPerSecondPerKey: perKeyRate)
            }
            return p
        }
        if db.json { Output.json(p.json); return }
        var line = "\(queue): \(p.paused ? "paused" : "active"), max running \(p.maxRunning.map(String.init) ?? "none"), "
            + "max starts per second \(p.maxStartsPerSecond.map { String($0) } ?? "none")"
        if p.hasKeyLimits || p.concurrencyKeyFrom != nil {
            line += ", key from \(p.concurrencyKeyFrom ?? "none"), max running per key \(p.maxRunningPerKey.map(String.init) ?? "none"), "
                + "max starts per second per key \(p.maxStartsPerSecondPerKey.map { String($0) } ?? "none")"
        }
        Output.line(line)
    }
}

struct QueuesPurge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "purge",
        abstract: "Delete a queue's queued jobs (due or scheduled); running and finished jobs stay.")
    @OptionGroup var db: DatabaseOptions
    @Argument var queue: String
    @Flag(name: .customLong("dry-run"), help: "Only count.") var dryRun = false

    func run() async throws {
        let n = try await db.withClient { client in try await client.purge(queue, dryRun: dryRun) }
        if db.json { Output.json(.object([("matched", .int(n)), ("changed", .int(dryRun ? 0 : n))])); return }
        Output.line(dryRun ? "would delete \(n) queued job(s) from \(queue) (dry run)" : "deleted \(n) queued job(s) from \(queue)")
    }
}

struct QueuesList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Each queue's runnable, scheduled, running and DLQ counts.")
    @OptionGroup var db: DatabaseOptions

    func run() async throws {
        let (queues, now) = try await db.withClient(write: false) { client in
            (try await client.queues(), try await client.databaseNow())
        }
        if db.json {
            Output.json(Page(items: queues, total: queues.count, totalCapped: false).json { $0.json(now: now) })
            return
        }
        Output.table(["QUEUE", "STATE", "RUNNABLE", "SCHEDULED", "RUNNING", "DLQ", "OLDEST RUNNABLE", "LIMITS"], queues.map { q in
            var limits: [String] = []
            if let m = q.policy?.maxRunning { limits.append("max running \(m)") }
            if let r = q.policy?.maxStartsPerSecond { limits.append("\(r)/s") }
            let atLeast = q.countsCapped ? "+" : ""  // a count stopped at its cap (QueueCount.cap)
            return [q.queue, q.policy?.paused == true ? "paused" : "active", "\(q.runnable)\(atLeast)", "\(q.scheduled)\(atLeast)",
                    "\(q.running)", "\(q.dlq)\(atLeast)", q.oldestRunnableAt.map { "\(Int(max(0, now.timeIntervalSince($0)))) s" } ?? "-",
                    limits.isEmpty ? "-" : limits.joined(separator: ", ")]
        })
    }
}

struct MetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "metrics",
        abstract: "Cluster-wide metrics from the database over the last 60 s.")
    @OptionGroup var db: DatabaseOptions
    @Flag(help: "Prometheus text exposition instead.") var prom = false
    @Flag(help: "Print again every second until interrupted.") var watch = false

    func run() async throws {
        try await db.withClient(write: false) { client in
            repeat {
                if prom {
                    // Cluster series only: a one-shot CLI process has no work of its own to report.
                    Output.line(ClusterExposition.text(try await client.clusterFigures()), terminator: "")
                } else {
                    let m = try await client.metrics()
                    if db.json { Output.json(m.json) } else { MetricsCommand.printHuman(m) }
                }
                if watch { try await Task.sleep(nanoseconds: 1_000_000_000); Output.line("") }
            } while watch
        }
    }

    static func printHuman(_ m: MetricsSnapshot) {
        func p(_ v: [Int?]) -> String { v.map { $0.map { "\($0)" } ?? "-" }.joined(separator: "/") }
        Output.line("\(Time.format(m.at))  last \(Int(m.windowSeconds)) s")
        Output.table(["QUEUE", "JOBS/S", "RETRY%", "RUNNABLE", "SCHED", "RUNNING", "DLQ", "START p50/95/99 ms", "RUN p50/95/99 ms"],
                     ([("(all)", m.total)] + m.queues).map { name, f in
            [name, String(format: "%.1f", f.jobsPerSec), String(format: "%.1f", f.retryRate * 100), "\(f.runnable)",
             "\(f.scheduled)", "\(f.running)", "\(f.dlq)", p(f.startLatencyMs), p(f.runTimeMs)]
        })
    }
}
