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
    @Option(help: "Five-field cron, e.g. \"*/5 * * * *\", or @hourly, @daily…; read in --tz.") var cron: String
    @Argument(help: "Job type.") var type: String
    @Option(help: "JSON payload, @file or -.") var payload: String = "null"
    @Option(help: "Queue.") var queue: String = "default"
    @Option(help: "Priority.") var priority: Int = 0
    @Option(name: .customLong("max-attempts")) var maxAttempts: Int?
    @Option(name: [.customLong("tz"), .customLong("timezone")],
            help: "IANA time zone whose wall clock the cron reads, e.g. Europe/Paris (default UTC). In a skipped DST hour a slot runs at the jump; in a repeated hour once, unless the hour field is *.")
    var tz: String = "UTC"

    func run() async throws {
        let body = try PayloadInput.read(payload)
        let (s, now) = try await db.withClient { client in
            let s = try await client.addSchedule(Schedule(name: name, cron: cron, queue: queue, jobType: type, payload: body,
                                                          priority: priority, maxAttempts: maxAttempts, timezone: tz))
            return (s, try await client.databaseNow())
        }
        if db.json { Output.json(s.json(now: now)); return }
        Output.line("schedule \(name): \(cron)\(s.timezone == "UTC" ? "" : " (\(s.timezone))") → \(type) in \(queue); next slot \(s.json(now: now)["next_slot_at"]?.stringValue ?? "none")")
    }
}

struct SchedulesList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List recurring jobs.")
    @OptionGroup var db: DatabaseOptions

    func run() async throws {
        let (list, now) = try await db.withClient(write: false) { client in
            (try await client.schedules(), try await client.databaseNow())
        }
        if db.json { Output.json(Page(items: list, total: list.count, totalCapped: false).json { $0.json(now: now) }); return }
        Output.table(["NAME", "CRON", "TZ", "TYPE", "QUEUE", "LAST SLOT", "NEXT SLOT"], list.map { s in
            let j = s.json(now: now)
            return [s.name, s.cron, s.timezone, s.jobType, s.queue, s.lastSlotAt.map(Time.format) ?? "-", j["next_slot_at"]?.stringValue ?? "-"]
        })
    }
}

struct SchedulesRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a recurring job.")
    @OptionGroup var db: DatabaseOptions
    @Argument var name: String

    func run() async throws {
        try await db.withClient { client in try await client.removeSchedule(name) }
        if db.json { Output.json(.object([("deleted", .bool(true)), ("name", .string(name))])); return }
        Output.line("removed schedule \(name)")
    }
}
