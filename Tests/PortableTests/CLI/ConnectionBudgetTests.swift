import Foundation
import Testing
@testable import Backends

/// Each process's database connections are few and explicit: `work` 4 and `serve` 8 by default
/// (`DB_MAX_CONNECTIONS` overrides), shown in the workers registry, and a process refuses to
/// start when the Postgres server has no room for them.
@Suite(.processes) struct ConnectionBudgetTests {
    @Test(arguments: TestBackend.enabled)
    func workersShowTheirBudget(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let w = try CLI.Running(["work", "--queues", "budget", "--worker-id", "budget-w", "--database", db.url])
            let s = try CLI.Running(["serve", "--addr", "127.0.0.1:0", "--database", db.url])
            var listed: [String: Int] = [:]
            for _ in 0..<100 {
                let r = try await CLI.run(["workers", "--json", "--database", db.url])
                let items: [JSON] = r.json?["items"]?.arrayValue ?? []
                for item in items {
                    guard let id = item["id"]?.stringValue, let n = item["db_connections"]?.intValue else { continue }
                    listed[id] = n
                }
                if listed["budget-w"] != nil && listed.count >= 2 { break }
                try await Task.sleep(nanoseconds: 100_000_000)
            }
            // Postgres: the pool and the LISTEN connection; SQLite: the writer and the readers.
            #expect(listed["budget-w"] == 5, "work: 4 + 1: \(listed)")
            #expect(listed.contains { $0.key != "budget-w" && $0.value == 9 }, "serve: 8 + 1: \(listed)")
            let table = try await CLI.run(["workers", "--database", db.url])
            #expect(table.stdout.contains("DB CONNS") && table.stdout.contains("database connections between them"), "\(table.stdout)")
            w.signal(SIGTERM)
            s.signal(SIGTERM)
            #expect(try await w.wait(timeout: 30).status == 0)
            #expect(try await s.wait(timeout: 30).status == 0)
        }
    }

    @Test(arguments: TestBackend.enabled.filter { if case .sqlite = $0 { return false } else { return true } })
    func aProcessRefusesToStartWithoutRoomOnTheServer(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            for command in [["work", "--queues", "budget"], ["serve", "--addr", "127.0.0.1:0"]] {
                let r = try await CLI.run(command + ["--database", db.url], env: ["PORTABLEQ_DB_MAX_CONNECTIONS": "100000"], timeout: 60)
                #expect(r.status == 1, "\(command): \(r)")
                #expect(r.stderr.contains("has room for") && r.stderr.contains("DB_MAX_CONNECTIONS"), "\(r.stderr)")
            }
        }
    }
}
