import ArgumentParser
import Backends
import Foundation

/// Options every database command takes.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "Database URL (sqlite:PATH, sqlite:///ABS, sqlite::memory:, postgres://...).")
    var database: String?

    @Flag(name: .long, help: "Print the JSON body the matching HTTP endpoint returns.")
    var json = false

    @Flag(name: .long, help: "On errors, also print internal details (the statement that failed).")
    var verbose = false

    /// Settings from the environment, with `--database` applied.
    func settings() throws -> Settings {
        var s = try Settings.fromEnvironment()
        if let database { s.databaseURL = database }
        CLIError.jsonOutput = json
        CLIError.verbose = verbose
        return s
    }

    func url(_ s: Settings) throws -> DatabaseURL {
        try DatabaseURL.parse(s.databaseURL ?? DatabaseURL.defaultURL)
    }

    /// Opens the database. `write: false` never creates a missing SQLite file and opens it for
    /// reading only (a file this user may only read works).
    func open(write: Bool) throws -> (any StorageDriver, Settings) {
        let s = try settings()
        return (try Database.open(try url(s), settings: s, create: write, readOnly: !write), s)
    }

    /// Opens and checks the schema (migrating SQLite when allowed), then returns a client.
    func client(write: Bool = true) async throws -> PortableClient {
        let (driver, s) = try open(write: write)
        do {
            try await Database.prepare(driver, migrate: write ? s.migrateOnStartup : false)
        } catch {
            await driver.close()
            throw error
        }
        return PortableClient(driver: driver, config: s.config)
    }

    /// Opens a client, runs `body` and closes the database whatever happens (a thrown error
    /// still closes it).
    func withClient<T>(write: Bool = true, _ body: (PortableClient) async throws -> T) async throws -> T {
        let client = try await client(write: write)
        do {
            let value = try await body(client)
            await client.close()
            return value
        } catch {
            await client.close()
            throw error
        }
    }
}

/// Output helpers: JSON for `--json`, aligned tables for people.
enum Output {
    /// Every line of output goes through here, unbuffered, so progress lines and tables from
    /// several places come out in order.
    static func line(_ s: String = "", terminator: String = "\n") {
        FileHandle.standardOutput.write(Data((s + terminator).utf8))
    }

    static func json(_ value: JSON) { line(value.pretty) }

    static func table(_ header: [String], _ rows: [[String]]) {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        Output.line(line(header))
        for r in rows { Output.line(line(r)) }
    }
}
