import Foundation
import Testing
@testable import Backends

/// Unique jobs through the CLI and the HTTP API, and producers in separate processes.
@Suite struct UniqueFrontTests {
    @Test(arguments: TestBackend.enabled)
    func httpAnswers200WithTheDuplicateKind(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { _, s in
            let unique: JSON = .object([("by", .array([.string("job_type"), .string("payload.user")])),
                                        ("on_conflict", .string("replace"))])
            func body(_ user: Int, _ v: Int) -> JSON {
                .object([("job_type", .string("sync")), ("payload_json", .object([("user", .int(user)), ("v", .int(v))])),
                         ("delay_seconds", .int(60)), ("unique", unique)])
            }
            let first = try await s.post("/jobs", body(1, 1))
            #expect(first.status == 201 && first.json["created"] == .bool(true) && first.json["duplicate"] == nil, "\(first)")
            let second = try await s.post("/jobs", body(1, 2))
            #expect(second.status == 200 && second.json["created"] == .bool(false), "\(second)")
            #expect(second.json["duplicate"] == .string("unique") && second.json["replaced"] == .bool(true), "\(second)")
            #expect(second.json["job_id"] == first.json["job_id"])
            #expect(second.json["job"]?["payload"]?["v"] == .number("2"))

            let batch = try await s.post("/jobs/batch", .object([("jobs", .array([body(2, 1), body(2, 2)]))]))
            #expect(batch.status == 201, "\(batch)")
            let items = batch.json["items"]?.arrayValue ?? []
            #expect(items.count == 2 && items.first?["created"] == .bool(true) && items.last?["duplicate"] == .string("unique"), "\(batch)")

            let bad: [JSON] = [
                .object([("by", .array([.string("tenant")]))]),
                .object([("states", .array([.string("queued")]))]),
                .object([("period_seconds", .int(0))]),
                .object([("on_conflict", .string("merge"))]),
                .object([("bogus", .bool(true))]),
                .string("job_type"),
            ]
            for u in bad {
                let r = try await s.post("/jobs", .object([("job_type", .string("x")), ("unique", u)]))
                #expect(r.status == 422 && r.errorCode == "INVALID_ARGUMENT", "\(u.compact): \(r)")
            }
            let list = try await s.get("/jobs?job_type=x")
            #expect(list.json["total"] == .int(0), "refused requests store nothing")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func cliFlagsAndProducerProcesses(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let args = ["enqueue", "report", "--database", db.url, "--payload", #"{"day":"2026-12-01"}"#,
                        "--unique-by", "job_type,payload.day", "--json"]
            let first = try await CLI.run(args)
            #expect(first.status == 0 && first.json?["created"] == .bool(true), "\(first)")
            let text = try await CLI.run(Array(args.dropLast()))
            #expect(text.status == 0 && text.stdout.hasPrefix("exists ") && text.stdout.contains("unique match"), "\(text)")
            let bad = try await CLI.run(["enqueue", "report", "--database", db.url, "--unique-by", "job_type", "--unique-states", "queued"])
            #expect(bad.status == 2 && bad.stderr.contains("queued and running"), "\(bad)")
            let orphan = try await CLI.run(["enqueue", "report", "--database", db.url, "--unique-period", "60"])
            #expect(orphan.status == 2, "\(orphan)")

            // Six producer processes, each enqueueing the same three keys ten times.
            let script = (0..<10).map { i in
                "\(CLI.binary) enqueue race --database '\(db.url)' --payload '{\"k\":\(i % 3)}' --unique-by payload.k --json"
            }.joined(separator: " && ")
            let runs = try await withThrowingTaskGroup(of: CLI.Result.self) { group in
                for _ in 0..<6 { group.addTask { try await CLI.run(shell: script, timeout: 120) } }
                var all: [CLI.Result] = []
                for try await r in group { all.append(r) }
                return all
            }
            #expect(runs.allSatisfy { $0.status == 0 }, "\(runs.filter { $0.status != 0 })")
            let created = runs.map { $0.stdout.filter { !$0.isWhitespace }.components(separatedBy: #""created":true"#).count - 1 }
            #expect(created.reduce(0, +) == 3, "one job per key across processes: \(created)")
            #expect(try await db.client.jobs(JobFilter(jobType: "race")).total == 3)
        }
    }
}
