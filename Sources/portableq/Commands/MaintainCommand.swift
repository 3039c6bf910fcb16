import ArgumentParser
import Backends
import Foundation
import Logging

struct MaintainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "maintain",
        abstract: "Run maintenance: reap, schedules, archive, delete, prune, expire (only the lease holder acts).")
    @OptionGroup var db: DatabaseOptions
    @Flag(help: "One pass, then exit.") var once = false
    @Option(name: .customLong("log-format"), help: "text or json.") var logFormat: String?

    func run() async throws {
        var s = try db.settings()
        if let f = logFormat { s.logFormat = f }
        let holder = (s.workerId ?? WorkerOptions.defaultId) + ":maintain"
        if once {
            let (runs, leader) = try await db.withClient { client in
                let maintainer = Maintainer(client: client, settings: MaintenanceSettings(s), holder: holder)
                let lease = try await maintainer.lead()
                guard lease.isMine else { return (nil as [MaintenanceRun]?, lease.holder) }
                let runs = try await maintainer.pass()
                await maintainer.resign()
                return (runs, lease.holder)
            }
            guard let runs else {
                throw PortableError.conflict("another maintainer (\(leader)) holds the maintenance lease; nothing was done")
            }
            if db.json { Output.json(.object([("runs", .array(runs.map(\.json)))])); return }
            Output.table(["TASK", "AFFECTED", "MS", "DETAILS"], runs.map { r in
                [r.task, "\(r.affected)", "\(Time.millis(r.finishedAt) - Time.millis(r.startedAt))", r.details ?? ""]
            })
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
