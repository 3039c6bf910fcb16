import ArgumentParser
import Backends
import Foundation

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the schema migrations this binary carries (safe to re-run and to run concurrently).",
        subcommands: [MigrateStatusCommand.self]
    )

    @OptionGroup var db: DatabaseOptions

    func run() async throws {
        let (driver, _) = try db.open(write: true)
        let (applied, status) = try await Database.migrate(driver)
        await driver.close()
        if db.json {
            var body = status.json
            if case .object(var m) = body { m.insert(("applied_now", .array(applied.map { .int($0) })), at: 0); body = .object(m) }
            Output.json(body)
            return
        }
        if applied.isEmpty {
            Output.line("Nothing to apply: \(driver.location) is at schema version \(status.databaseVersion) (\(status.state.rawValue)).")
        } else {
            let names = status.applied.filter { applied.contains($0.version) }.map { "\($0.version) \($0.name)" }
            Output.line("Applied \(names.joined(separator: ", ")) to \(driver.location); schema version \(status.databaseVersion).")
        }
    }
}

struct MigrateStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show applied and pending migrations and whether this binary can use the schema."
    )

    @OptionGroup var db: DatabaseOptions

    func run() async throws {
        let (driver, _) = try db.open(write: false)
        let status = try await Database.status(driver)
        await driver.close()
        if db.json { Output.json(status.json); return }
        Output.line("database: \(driver.location)")
        Output.line("schema:   version \(status.databaseVersion), this binary knows \(status.binaryVersion) — \(describe(status))")
        var rows = status.applied.map { ["\($0.version)", $0.name, "applied \(Time.format($0.appliedAt))", "compatible_with \($0.compatibleWith)"] }
        rows += status.pending.map { ["\($0.version)", $0.name, "pending", "compatible_with \($0.compatibleWith)"] }
        if !rows.isEmpty {
            Output.line("")
            Output.table(["VERSION", "NAME", "STATE", "COMPAT"], rows)
        }
    }

    func describe(_ s: SchemaStatus) -> String {
        switch s.state {
        case .empty: return "empty: run `portableq migrate`"
        case .behind: return "\(s.pending.count) pending: run `portableq migrate`"
        case .current: return "current"
        case .newerCompatible: return "newer than this binary, but compatible"
        case .newerIncompatible: return "newer than this binary and incompatible: upgrade portableq"
        }
    }
}
