import ArgumentParser
import Backends
import Foundation
import Logging

struct MaintainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "maintain",
        abstract: "Run maintenance: reap, schedules, archive, delete, prune, expire (only the lease holder acts).",
        discussion: """
            Workers already run maintenance: only the holder of the maintenance lease acts. --once runs one \
            pass and exits 0; when another maintainer (a live worker) holds the lease, it does nothing, says \
            so and still exits 0 (that maintainer runs maintenance), so a cron job beside live workers never \
            fails for it. --json prints {"ran":true,"runs":[...]} or {"ran":false,"holder":"..."}.
            """)
    @OptionGroup var db: DatabaseOptions
    @Flag(help: "One pass, then exit (0 also when another maintainer holds the lease).") var once = false
    @Option(name: .customLong("log-format"), help: "text or json.") var logFormat: String?

    func run() async throws {
        var s = try db.settings()
        if let f = logFormat { s.logFormat = f }
        let holder = (s.workerId ?? WorkerOptions.defaultId) + ":maintain"
        if once {
            let outcome = try await db.withClient { client in
                try await Maintainer(client: client, settings: MaintenanceSettings(s), holder: holder).once()
            }
            switch outcome {
            case .leftTo(let holder):
                if db.json { Output.json(.object([("ran", .bool(false)), ("holder", .string(holder))])); return }
                Output.line("another maintainer (\(holder)) holds the lease; it runs maintenance: nothing to do here")
            case .ran(let runs):
                if db.json { Output.json(.object([("ran", .bool(true)), ("runs", .array(runs.map(\.json)))])); return }
                Output.table(["TASK", "AFFECTED", "MS", "DETAILS"], runs.map { r in
                    [r.task, "\(r.affected)", "\(Time.millis(r.finishedAt) - Time.millis(r.startedAt))", r.details ?? ""]
                })
            }
            return
        }
        StderrLogHandler.bootstrap(format: s.logFormat)
        try await db.withClient { client in
            let maintainer = Maintainer(client: client, settings: MaintenanceSettings(s), holder: holder,
                                        logger: Logger(label: "portableq.maintenance"))
            await maintainer.run()
        }
    }
}
