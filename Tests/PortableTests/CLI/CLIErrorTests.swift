import Foundation
import Testing
@testable import Backends

/// Every error a person can cause: one clear line on stderr, exit 1 or 2, never a stack trace.
@Suite(.processes) struct CLIErrorTests {
    func expectOneLine(_ r: CLI.Result, status: Int32, contains text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == status, "\(r)", sourceLocation: sourceLocation)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "one line: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.contains(text), "\(r.stderr)", sourceLocation: sourceLocation)
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"), sourceLocation: sourceLocation)
    }

    @Test func unparsableURLsAreBadUsage() async throws {
        expectOneLine(try await CLI.run(["jobs", "list", "--database", "mysql://x/y"]), status: 2, contains: "unknown scheme")
        expectOneLine(try await CLI.run(["jobs", "list", "--database", "postgres://h:99999/db"]), status: 2, contains: "out of range")
        expectOneLine(try await CLI.run(["jobs", "list", "--database", "sqlite:"]), status: 2, contains: "names no file")
        expectOneLine(try await CLI.run(["migrate"], env: ["PORTABLEQ_DATABASE_URL": "nonsense"]), status: 2, contains: "BAD_URL")
    }

    @Test func unknownFlagsAndBadValuesAreBadUsage() async throws {
        let r = try await CLI.run(["jobs", "list", "--bogus"])
        #expect(r.status == 2, "\(r)")
        #expect(r.stderr.contains("Unknown option"))
        let dir = NSTemporaryDirectory() + "pq-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let db = "sqlite:\(dir)/x.db"
        expectOneLine(try await CLI.run(["enqueue", "t", "--payload", "{\"a\":", "--database", db]), status: 2, contains: "BAD_JSON")
        expectOneLine(try await CLI.run(["enqueue", "t", "--max-attempts", "0", "--database", db]), status: 2, contains: "max_attempts")
        expectOneLine(try await CLI.run(["enqueue", "bad type!", "--database", db]), status: 2, contains: "job_type")
        expectOneLine(try await CLI.run(["jobs", "list", "--status", "sleeping", "--database", db]), status: 2, contains: "unknown status")
        expectOneLine(try await CLI.run(["work", "--exec", "noequals", "--database", db]), status: 2, contains: "TYPE=COMMAND")
        expectOneLine(try await CLI.run(["migrate"], env: ["PORTABLEQ_CONCURRENCY": "lots"]), status: 2, contains: "PORTABLEQ_CONCURRENCY")
    }

    @Test func aMissingSQLiteFileIsNotCreatedByReads() async throws {
        let dir = NSTemporaryDirectory() + "pq-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let r = try await CLI.run(["jobs", "list", "--database", "sqlite:missing.db"], cwd: dir)
        expectOneLine(r, status: 1, contains: "no database at \(dir)/missing.db")
        #expect(!FileManager.default.fileExists(atPath: dir + "/missing.db"))
        let w = try await CLI.run(["migrate", "--database", "sqlite:missing.db"], cwd: dir)
        #expect(w.status == 0, "\(w)")
        #expect(FileManager.default.fileExists(atPath: dir + "/missing.db"))
    }

    @Test func anUnwritableSQLitePathFailsWithOneLine() async throws {
        expectOneLine(try await CLI.run(["migrate", "--database", "sqlite:///nonexistent-dir/q.db"]), status: 1, contains: "does not exist")
        expectOneLine(try await CLI.run(["migrate", "--database", "sqlite:///proc/portableq.db"]), status: 1, contains: "UNAVAILABLE")
    }

    @Test func anUnreachablePostgresFailsWithOneLine() async throws {
        expectOneLine(try await CLI.run(["jobs", "list", "--database", "postgres://postgres@127.0.0.1:1/none"]), status: 1,
                      contains: "cannot connect to PostgreSQL")
    }

    @Test(arguments: TestBackend.enabled)
    func anIncompatibleSchemaIsRefused(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let n = Database.migrations(for: db.driver.kind).map(\.version).max() ?? 0
            _ = try await db.driver.migrationApply([Migration(version: n + 1, name: "from_the_future",
                                                              sql: "-- compatible_with: \(n + 1)\nCREATE TABLE future_x (x integer);")])
            let r = try await CLI.run(["jobs", "list", "--database", db.url])
            expectOneLine(r, status: 1, contains: "upgrade portableq")
            #expect(r.stderr.contains("SCHEMA_TOO_NEW"))
            let m = try await CLI.run(["migrate", "--database", db.url])
            expectOneLine(m, status: 1, contains: "SCHEMA_TOO_NEW")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func unknownIdsAndConflictsExitOne(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            expectOneLine(try await CLI.run(["jobs", "show", "0190a0b0-0000-7000-8000-000000000000", "--database", db.url]),
                          status: 1, contains: "NOT_FOUND")
            let job = try await db.client.add()
            let r = try await CLI.run(["jobs", "retry", job.id, "--database", db.url, "--json"])
            expectOneLine(r, status: 1, contains: "CONFLICT")
            #expect(r.json?["error"]?["code"] == .string("CONFLICT"), "--json prints the HTTP error body")
        }
    }
}
