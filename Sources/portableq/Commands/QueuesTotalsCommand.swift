import ArgumentParser
import Backends
import Foundation

/// `queues totals`: jobs that ended per queue and UTC day, from the rollup the maintenance
/// leader writes (so counts outlive the jobs' archive and retention).
struct QueuesTotals: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "totals",
        abstract: "Succeeded, dead-lettered and retried counts per queue and UTC day (rolled up by maintenance).")
    @OptionGroup var db: DatabaseOptions
    @Option(help: "Only this queue.") var queue: String?
    @Option(help: "Days back, today included (1-\(TotalsReport.maxDays)).") var days = 7

    func run() async throws {
        let report = try await db.withClient(write: false) { client in try await client.totals(queue: queue, days: days) }
        if db.json { Output.json(report.json); return }
        Output.table(["DAY", "QUEUE", "SUCCEEDED", "FAILED", "RETRIED", "PROCESSED"], report.daily.map { r in
            [String(Time.format(r.hour).prefix(10)), r.queue, "\(r.succeeded)", "\(r.failed)", "\(r.retried)", "\(r.processed)"]
        })
        // Attempts newer than the watermark are counted by the next maintenance pass.
        Output.line(report.through.map { "counted through \(Time.format($0)) (rolled up by maintenance)" }
            ?? "nothing rolled up yet: totals are written by the maintenance pass (portableq maintain --once)")
        if report.truncated { Output.line("(truncated: more than \(TotalsReport.rowCap) queue-hours)") }
    }
}
