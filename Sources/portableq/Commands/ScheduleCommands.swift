import ArgumentParser
import Backends
import Foundation
import Logging

struct SchedulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "schedules", abstract: "Recurring jobs.",
                                                    subcommands: [SchedulesList.self, SchedulesAdd.self, SchedulesRemove.self],
                                                    defaultSubcommand: SchedulesList.self)
}

struct SchedulesAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add",
        abstract: "Add (or replace) a recurring job; the maintenance leader enqueues each due slot once.")
    @OptionGroup var db: DatabaseOptions
    @Argument(help: "Schedule name.") var name: String
    @Option(help: "Five-field cron in UTC, e.g. \"*/5 * * * *\", or @hourly, @daily…") var cron: String
    @Argument(help: "Job type.") var type: String
    @Option(help: "JSON payload, @file or -.") var payload: String = "null"
    @Option(help: "Queue.") var queue: String = "default"
    @Option(help: "Priority.") var priority: Int = 0
    @Option(name: .customLong("max-attempts")) var maxAttempts: Int?

    func run() async throws {
        let body = try PayloadInput.read(payload)
        let client = try await db.client()
        let s = try await client.addSchedule(Schedule(name: name, cron: cron, queue: queue, jobType: type, payload: body,
                                                      priority: priority, maxAttempts: maxAttempts))
        let now = try await client.driver.clockNow(nil)
        await client.driver.close()
        if db.json { Output.json(s.json(now: now)); return }
        Output.line("schedule \(name): \(cron) → \(type) in \(queue); next slot \(s.json(now: now)["next_slot_at"]?.stringValue ?? "none")")
    }
}

struct SchedulesList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List recurring jobs.")
    @OptionGroup var db: DatabaseOptions

    func run() async throws {
        let client = try await db.client(write: false)
        let list = try await client.schedules()
        let now = try await client.driver.clockNow(nil)
        await client.driver.close()
        if db.json { Output.json(Page(items: list, total: list.count, totalCapped: false).json { $0.json(now: now) }); return }
        Output.table(["NAME", "CRON", "TYPE", "QUEUE", "LAST SLOT", "NEXT SLOT"], list.map { s in
            let j = s.json(now: now)
            return [s.name, s.cron, s.jobType, s.queue, s.lastSlotAt.map(Time.format) ?? "-", j["next_slot_at"]?.stringValue ?? "-"]
        })
    }
}

struct SchedulesRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a recurring job.")
    @OptionGroup var db: DatabaseOptions
    @Argument var name: String

    func run() async throws {
        let client = try await db.client()
        try await client.removeSchedule(name)
        await client.driver.close()
        if db.json { Output.json(.object([("deleted", .bool(true)), ("name", .string(name))])); return }
        Output.line("removed schedule \(name)")
    }
}

struct MaintainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "maintain",
        abstract: "Run maintenance: reap, schedules, archive, delete, prune, expire (only the lease holder acts).")
    @OptionGroup var db: DatabaseOptions
    @Flag(help: "One pass, then exit.") var once = false
    @Option(name: .customLong("log-format"), help: "text or json.") var logFormat: String?

    func run() async throws {
        var s = try db.settings()
        if let f = logFormat { s.logFormat = f }
        let client = try await db.client()
        let holder = (s.workerId ?? WorkerOptions.defaultId) + ":maintain"
        let maintainer = Maintainer(client: client, settings: MaintenanceSettings(s), holder: holder)
        if once {
            let runs = try await maintainer.pass()
            await maintainer.resign()
            await client.driver.close()
            guard let runs else {
                let lease = try? await client.driver.leaderAcquire(name: Maintainer.leaseName, holder: holder, seconds: 0, now: nil)
                throw PortableError.conflict("another maintainer (\(lease?.holder ?? "a worker")) holds the maintenance lease; nothing was done")
            }
            if db.json { Output.json(.object([("runs", .array(runs.map(\.json)))])); return }
            Output.table(["TASK", "AFFECTED", "MS", "DETAILS"], runs.map { r in
                [r.task, "\(r.affected)", "\(Time.millis(r.finishedAt) - Time.millis(r.startedAt))", r.details ?? ""]
            })
            return
        }
        StderrLogHandler.bootstrap(format: s.logFormat)
        let logged = Maintainer(client: client, settings: MaintenanceSettings(s), holder: holder, logger: Logger(label: "portableq.maintenance"))
        await logged.run()
    }
}
