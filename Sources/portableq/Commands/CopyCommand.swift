import ArgumentParser
import Backends
import Foundation

/// `portableq copy`: jobs (archive included), attempts, history, keys, policies, schedules and
/// job types from one database to another, ids kept, in one target transaction, counts
/// verified. The source is never changed.
struct CopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy jobs and their history between databases (e.g. SQLite to PostgreSQL), keeping ids.",
        discussion: """
            Refuses (nothing written) while the copied queues hold running jobs, and when the target already \
            holds jobs in them unless --append, which skips jobs whose id (live or archived) or (queue, \
            idempotency key) the target holds already, with their whole history: a repeated copy changes nothing.
            """
    )

    @Option(help: "Source database URL (read only).") var from: String
    @Option(help: "Target database URL (migrated if needed).") var to: String
    @Option(help: "Copy only this queue.") var queue: String?
    @Flag(help: "Add to a target that already holds jobs, skipping rows that exist.") var append = false
    @Flag(help: "Print the report as JSON.") var json = false

    func run() async throws {
        CLIError.jsonOutput = json
        let settings = try Settings.fromEnvironment()
        // The source is opened read-only: a backup file this user may only read can be copied.
        let source = try Database.open(try DatabaseURL.parse(from), settings: settings, readOnly: true)
        let target: any StorageDriver
        do {
            target = try Database.open(try DatabaseURL.parse(to), settings: settings, create: true)
        } catch {
            await source.close()
            throw error
        }
        let started = Date()
        let report: CopyReport
        do {
            try await Database.prepare(source, migrate: false)
            try await Database.migrate(target)
            report = try await Copier.copy(from: source, to: target, queue: queue, append: append) { line in
                FileHandle.standardError.write(Data("portableq: \(line)\n".utf8))
            }
        } catch {
            await source.close()
            await target.close()
            throw error
        }
        await source.close()
        await target.close()
        if json { Output.json(report.json); return }
        Output.line("copied \(source.location) → \(target.location)\(queue.map { " (queue \($0))" } ?? "") in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        Output.table(["TABLE", "READ", "INSERTED", "SKIPPED"], CopyTable.allCases.map { t in
            [t.rawValue, "\(report.read[t] ?? 0)", "\(report.inserted[t] ?? 0)", "\((report.read[t] ?? 0) - (report.inserted[t] ?? 0))"]
        })
        Output.line("verified: every row read is in the target\(append ? " or was skipped as existing" : "")")
    }
}
