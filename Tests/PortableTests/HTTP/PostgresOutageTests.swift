import Foundation
import Testing
@testable import Backends

/// `serve` on a PostgreSQL of the test's own that hangs (SIGSTOP), restarts, or is down when
/// serve starts: 503s with `Retry-After` within a few seconds, 200s at once after recovery, and
/// one log line when an outage starts and one when it ends.
@Suite(.processes) struct PostgresOutageTests {
    static let paths = ["/health", "/jobs", "/queues", "/metrics", "/workers"]

    /// `serve --no-worker` on `url`, killed if `body` throws.
    func serving(_ url: String, env: [String: String] = [:], _ body: (AdminServerProcess) async throws -> Void) async throws {
        let s = try await AdminServerProcess.start(database: url, env: env)
        do {
            try await body(s)
        } catch {
            s.process.signal(SIGKILL)
            throw error
        }
        try await s.stop()
    }

    static func count(_ text: String, in log: String) -> Int { log.components(separatedBy: text).count - 1 }

    /// Several requests at once, so the pool holds several connections.
    static func fillThePool(_ s: AdminServerProcess) async throws {
        try await withThrowingTaskGroup(of: Int.self) { g in
            for _ in 0..<3 { for p in paths { g.addTask { try await s.get(p).status } } }
            for try await status in g { #expect(status == 200) }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aHungPostgresGets503sWithinSeconds(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        try await PostgresServer.with { pg in
            #expect(try await CLI.run(["migrate", "--database", pg.url]).status == 0)
            // A small pool, so requests also queue for connections held by calls that hang.
            try await serving(pg.url, env: ["PORTABLEQ_DB_MAX_CONNECTIONS": "3"]) { s in
                try await Self.fillThePool(s)
                try await pg.hang()
                // One by one (each meets a hung statement or a hung connect), then all at once.
                for path in Self.paths {
                    let started = Date()
                    let r = try await s.get(path)
                    let took = Date().timeIntervalSince(started)
                    #expect(r.status == 503 && r.headers["retry-after"] != nil, "\(path): \(r)")
                    #expect(path == "/health" || r.errorCode == "UNAVAILABLE", "\(path): \(r)")
                    #expect(took < 20, "\(path) answered after \(took) s")
                    print("HUNG \(path): \(r.status) \(r.errorCode ?? "") after \(String(format: "%.1f", took)) s")
                }
                // More requests at once than connections: those that wait for one give up in time too
                // (`BUSY` after DB_ACQUIRE_TIMEOUT_SECS, or `UNAVAILABLE`), all 503 with Retry-After.
                let started = Date()
                try await withThrowingTaskGroup(of: (String, AdminServerProcess.Reply).self) { g in
                    for p in Self.paths + Self.paths { g.addTask { (p, try await s.get(p)) } }
                    for try await (p, r) in g { #expect(r.status == 503 && r.headers["retry-after"] != nil, "\(p): \(r)") }
                }
                #expect(Date().timeIntervalSince(started) < 25, "the requests did not pile up")
                try await pg.resume()
                for path in Self.paths {
                    let back = try await eventually(timeout: 30, interval: 0.2) { try await s.get(path).status == 200 }
                    #expect(back, "\(path) answers 200 after the server resumes")
                }
                let log = s.process.stderr
                #expect(Self.count("database unavailable", in: log) == 1, "\(log)")
                #expect(try await s.process.waitForLog("database is back", timeout: 10))
            }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func theFirstRequestsAfterARestartAnswer200(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        try await PostgresServer.with { pg in
            #expect(try await CLI.run(["migrate", "--database", pg.url]).status == 0)
            try await serving(pg.url) { s in
                try await Self.fillThePool(s)
                try await pg.stop()
                try await pg.startAgain()
                let green = try await eventually(timeout: 30, interval: 0.2) { try await s.get("/health").status == 200 }
                #expect(green)
                // As a dashboard asks: all at once, so they draw several pooled connections.
                try await withThrowingTaskGroup(of: (String, AdminServerProcess.Reply).self) { g in
                    for p in ["/jobs", "/queues", "/workers", "/metrics"] { g.addTask { (p, try await s.get(p)) } }
                    for try await (p, r) in g { #expect(r.status == 200, "\(p): \(r)") }
                }
                for p in ["/jobs", "/queues", "/workers", "/metrics"] {
                    let r = try await s.get(p)
                    #expect(r.status == 200, "\(p): \(r)")
                }
                let enqueued = try await s.post("/jobs", .object([("queue", .string("q")), ("job_type", .string("noop")),
                                                                 ("payload_json", .object([]))]))
                #expect(enqueued.status == 201, "\(enqueued)")
            }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func serveLogsARestartOnce(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        try await PostgresServer.with { pg in
            #expect(try await CLI.run(["migrate", "--database", pg.url]).status == 0)
            try await serving(pg.url) { s in
                #expect(try await s.get("/jobs").status == 200)
                try await pg.stop()
                for p in Self.paths + Self.paths {
                    let r = try await s.get(p)
                    #expect(r.status == 503, "\(p): \(r)")
                }
                try await Task.sleep(nanoseconds: 1_500_000_000)
                try await pg.startAgain()
                let back = try await eventually(timeout: 30, interval: 0.2) { try await s.get("/jobs").status == 200 }
                #expect(back)
                #expect(try await s.process.waitForLog("database is back", timeout: 10))
                // Past the settling time: stragglers would have logged by now.
                try await Task.sleep(nanoseconds: UInt64((OutageLog.settleSeconds + 2) * 1e9))
                for p in Self.paths { #expect(try await s.get(p).status == 200) }
                let log = s.process.stderr
                #expect(Self.count("database unavailable", in: log) == 1, "\(log)")
                #expect(Self.count("database is back", in: log) == 1, "\(log)")
            }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aServeStartedDuringAnOutageLogsWhenTheDatabaseIsBack(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        try await PostgresServer.with { pg in
            #expect(try await CLI.run(["migrate", "--database", pg.url]).status == 0)
            try await pg.stop()
            try await serving(pg.url) { s in
                #expect(s.process.stderr.contains("database unavailable"))
                let down = try await s.get("/jobs")
                #expect(down.status == 503 && down.errorCode == "UNAVAILABLE", "\(down)")
                try await pg.startAgain()
                // No request needed: the server notices by itself.
                #expect(try await s.process.waitForLog("database is back", timeout: 20), "\(s.process.stderr)")
                for p in Self.paths { #expect(try await s.get(p).status == 200) }
                try await Task.sleep(nanoseconds: UInt64((OutageLog.settleSeconds + 2) * 1e9))
                let log = s.process.stderr
                #expect(Self.count("database unavailable", in: log) == 1, "\(log)")
                #expect(Self.count("database is back", in: log) == 1, "\(log)")
            }
        }
    }
}
