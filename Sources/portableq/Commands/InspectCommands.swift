import ArgumentParser
import Backends
import Foundation

struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workers",
        abstract: "List registered workers (gone = no heartbeat for three leases).")
    @OptionGroup var db: DatabaseOptions

    func run() async throws {
        let client = try await db.client(write: false)
        let (workers, now) = try await client.workers()
        await client.driver.close()
        let page = Page(items: workers, total: workers.count, totalCapped: false)
        if db.json { Output.json(page.json { $0.json(now: now) }); return }
        Output.table(["ID", "STATE", "QUEUES", "TYPES", "CONC", "LAST HEARTBEAT"], workers.map { w in
            [w.id, w.isAlive(at: now) ? "alive" : "gone", w.queues?.joined(separator: ",") ?? "*",
             w.jobTypes?.joined(separator: ",") ?? "*", "\(w.concurrency)", Time.format(w.lastHeartbeatAt)]
        })
    }
}

struct QueuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "queues", abstract: "Queues and their depths.",
                                                    subcommands: [QueuesList.self], defaultSubcommand: QueuesList.self)
}

struct QueuesList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Each queue's runnable, scheduled, running and DLQ counts.")
    @OptionGroup var db: DatabaseOptions

    func run() async throws {
        let client = try await db.client(write: false)
        let queues = try await client.queues()
        let now = try await client.driver.clockNow(nil)
        await client.driver.close()
        if db.json {
            Output.json(Page(items: queues, total: queues.count, totalCapped: false).json { $0.json(now: now) })
            return
        }
        Output.table(["QUEUE", "RUNNABLE", "SCHEDULED", "RUNNING", "DLQ", "OLDEST RUNNABLE"], queues.map { q in
            [q.queue, "\(q.runnable)", "\(q.scheduled)", "\(q.running)", "\(q.dlq)",
             q.oldestRunnableAt.map { "\(Int(max(0, now.timeIntervalSince($0)))) s" } ?? "-"]
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
        let client = try await db.client(write: false)
        repeat {
            if prom {
                let counts = try await client.driver.queueCounts(now: nil)
                let now = try await client.driver.clockNow(nil)
                Output.line(PrometheusText.render(counts: counts, now: now, process: ProcessMetrics.shared.snapshot), terminator: "")
            } else {
                let m = try await client.metrics()
                if db.json { Output.json(m.json) } else { MetricsCommand.printHuman(m) }
            }
            if watch { try await Task.sleep(nanoseconds: 1_000_000_000); Output.line("") }
        } while watch
        await client.driver.close()
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
