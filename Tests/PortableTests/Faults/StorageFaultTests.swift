import Foundation
import Testing
@testable import Backends

/// The fault suite, part 2: storage that fails under portableq — a full disk, a corrupt file, a
/// Postgres that restarts and stops while producers and a worker run.
@Suite(.processes) struct StorageFaultTests {
    static let isRoot = getuid() == 0

    /// A small tmpfs (root only): SQLite fills it; enqueues are refused with one clear error
    /// (nothing half-written, nothing acknowledged lost), and work resumes once space is freed.
    @Test(.enabled(if: StorageFaultTests.isRoot, "mounting a small tmpfs needs root"))
    func aFullDiskRefusesWritesAndLosesNothing() async throws {
        let mount = NSTemporaryDirectory() + "pq-full-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        #expect(try await CLI.run(shell: "mount -t tmpfs -o size=3m tmpfs \(mount)").status == 0)
        defer {
            _ = try? CLI.Running(shell: "umount \(mount); rmdir \(mount)")
        }
        let db = "sqlite://\(mount)/full.db"
        let payload = "\"" + String(repeating: "x", count: 20_000) + "\""
        var acknowledged: [String] = []
        var refusal: CLI.Result?
        for _ in 0..<400 {
            let r = try await CLI.run(["enqueue", "noop", "--payload", payload, "--database", db, "--json"])
            if r.status == 0, let id = r.json?["job_id"]?.stringValue {
                acknowledged.append(id)
            } else {
                refusal = r
                break
            }
        }
        let refused = try #require(refusal, "the 3 MB disk filled up")
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "one line: \(refused.stderr)")
        #expect(refused.stderr.contains("UNAVAILABLE") || refused.stderr.contains("full"), "\(refused.stderr)")
        #expect(acknowledged.count > 10)
        // Reads still work on the full disk, and every acknowledged job is there.
        let list = try await CLI.run(["jobs", "list", "--limit", "1000", "--database", db, "--json"])
        #expect(list.status == 0, "\(list)")
        let ids = Set(list.json?["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? [])
        #expect(acknowledged.allSatisfy(ids.contains), "every acknowledged enqueue survived the full disk")
        // Free space (grow the tmpfs) and drain: the worker runs everything that was acknowledged.
        #expect(try await CLI.run(shell: "mount -o remount,size=64m \(mount)").status == 0)
        let w = try await CLI.run(["work", "--until-empty", "--poll-interval-ms", "50", "--database", db], timeout: 120)
        #expect(w.status == 0, "\(w)")
        let done = try await CLI.run(["jobs", "list", "--status", "succeeded", "--limit", "1000", "--database", db, "--json"])
        #expect(done.json?["total"]?.intValue == acknowledged.count, "\(done.stdout.prefix(300))")
    }

    @Test func aCorruptFileGivesOneClearLine() async throws {
        let dir = NSTemporaryDirectory() + "pq-corrupt-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let garbage = dir + "/garbage.db"
        _ = FileManager.default.createFile(atPath: garbage, contents: Data((0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }))
        // A real database with its middle overwritten.
        let real = dir + "/real.db"
        #expect(try await CLI.run(["enqueue", "noop", "--database", "sqlite://\(real)"]).status == 0)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: real))
        try h.seek(toOffset: 4096)
        h.write(Data(repeating: 0xAB, count: 16_384))
        try h.close()
        for path in [garbage, real] {
            for args in [["jobs", "list"], ["work", "--until-empty"], ["migrate", "status"], ["enqueue", "noop"]] {
                let r = try await CLI.run(args + ["--database", "sqlite://\(path)"], timeout: 30)
                #expect(r.status == 1, "\(args) on \(path): \(r)")
                let lines = r.stderr.split(separator: "\n").filter { !$0.contains(" info ") }
                #expect(lines.count == 1 && !r.stderr.contains("Fatal error"), "\(args): one clear line, no crash: \(r.stderr)")
            }
        }
    }

    /// Producers enqueue through `serve` while Postgres restarts and then stays down for a few
    /// seconds; a worker drains. Every acknowledged enqueue runs exactly once; during the outage
    /// HTTP answers 503 (never another 5xx).
    @Test(arguments: TestBackend.enabled)
    func producersAndAWorkerRideOutPostgresRestartAndStop(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        let server = try await PostgresServer.start()
        do {
            #expect(try await CLI.run(["migrate", "--database", server.url]).status == 0)
            let serve = try await AdminServerProcess.start(database: server.url)
            let worker = try CLI.Running(["work", "--database", server.url, "--poll-interval-ms", "100", "--lease-seconds", "3"],
                                         env: ["PORTABLEQ_REAP_INTERVAL_MS": "300"])
            let acknowledged = Locked<[String]>([])
            let statuses = Locked<[Int: Int]>([:])
            let stop = Locked(false)
            let producer = Task {
                while !stop.value {
                    let body = JSON.object([("jobs", .array((0..<10).map { _ in .object([("job_type", .string("noop"))]) }))])
                    if let r = try? await serve.request("POST", "/jobs/batch", json: body) {
                        statuses.withLock { $0[r.status, default: 0] += 1 }
                        if r.status == 201 {
                            acknowledged.withLock { $0 += r.json["items"]?.arrayValue?.compactMap { $0["job_id"]?.stringValue } ?? [] }
                        }
                    }
                    try? await Task.sleep(nanoseconds: 20_000_000)
                }
            }
            try await Task.sleep(nanoseconds: 1_000_000_000)
            try await server.stop()
            try await server.startAgain()  // a restart
            try await Task.sleep(nanoseconds: 1_000_000_000)
            try await server.stop()
            try await Task.sleep(nanoseconds: 3_000_000_000)  // down for a while
            try await server.startAgain()
            try await Task.sleep(nanoseconds: 2_000_000_000)
            stop.withLock { $0 = true }
            await producer.value
            let acked = acknowledged.value
            let client = try await Database.connect(server.url)
            #expect(try await eventually(timeout: 120) {
                try await client.jobs(JobFilter(status: .succeeded), limit: 1).total == acked.count
            }, "every acknowledged job ran")
            for id in acked.prefix(200) {
                let t = try await client.timeline(id)
                #expect(t.events.filter { $0.type == "succeeded" }.count == 1, "\(id) succeeded once")
            }
            let replies = statuses.value
            #expect(replies.keys.allSatisfy { $0 < 500 || $0 == 503 }, "only 503 during the outage: \(replies)")
            #expect(replies[503, default: 0] > 0, "the outage was seen: \(replies)")
            await client.close()
            worker.signal(SIGTERM)
            #expect(try await worker.wait(timeout: 60).status == 0)
            try await serve.stop()
            print("FAULT postgres restart+stop with producers: \(acked.count) acknowledged, all ran once; replies \(replies)")
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }
}
