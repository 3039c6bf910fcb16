import Foundation
import Testing
@testable import Backends

/// The Postgres driver against a server of the test's own that hangs or restarts: every call
/// has a deadline, and stale pooled connections are replaced without failing a call.
@Suite(.processes) struct DeadlineTests {
    static func open(_ url: String, timeoutMs: Int = 1000) throws -> PortableClient {
        var s = Settings()
        s.dbStatementTimeoutMs = timeoutMs
        return PortableClient(driver: try Database.open(try DatabaseURL.parse(url), settings: s))
    }

    /// Runs `call` and returns its error and how long it took.
    static func failure(_ call: () async throws -> Void) async -> (PortableError?, Double) {
        let started = Date()
        do {
            try await call()
            return (nil, Date().timeIntervalSince(started))
        } catch {
            return (PortableError.wrap(error), Date().timeIntervalSince(started))
        }
    }

    @Test(arguments: TestBackend.enabled)
    func callsToAHungServerFailWithinTheDeadline(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        try await PostgresServer.with { pg in
            let client = try Self.open(pg.url)
            _ = try await Database.migrate(client.driver)
            _ = try await client.enqueueMany((0..<5).map { _ in NewJob(jobType: "t", payloadJSON: "{}") })
            try await pg.hang()
            // A statement on an open connection, then a connect (the first one was given up).
            for what in ["statement", "connect", "write"] {
                let (e, took) = await Self.failure {
                    if what == "write" {
                        _ = try await client.enqueue(NewJob(jobType: "t", payloadJSON: "{}"))
                    } else {
                        _ = try await client.jobs(JobFilter(), limit: 10)
                    }
                }
                #expect(e?.code == .unavailable, "\(what): \(String(describing: e))")
                #expect(took < 10, "\(what) failed after \(took) s, with a 1 s deadline")
            }
            try await pg.resume()
            let back = try await eventually(timeout: 30, interval: 0.2) { (try? await client.jobs(JobFilter(), limit: 10).total) == 5 }
            #expect(back, "the same client works once the server resumes")
            await client.close()
        }
    }

    @Test(arguments: TestBackend.enabled)
    func theListenerReconnectsAfterAHang(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        try await PostgresServer.with { pg in
            let client = try Self.open(pg.url)
            _ = try await Database.migrate(client.driver)
            client.listenForWakeups()
            // Each time the listener is (again) listening it wakes every waiter once.
            let first = try await eventually(timeout: 20) { client.wakeups.generation >= 1 }
            #expect(first, "listening")
            let listening = client.wakeups.generation
            try await pg.hang()
            // Silent for longer than the keepalive interval plus the 1 s deadline of its ping.
            let silence = PGListener.keepaliveSeconds + 3
            try await Task.sleep(nanoseconds: UInt64(silence * 1e9))
            try await pg.resume()
            let again = try await eventually(timeout: 20, interval: 0.1) { client.wakeups.generation > listening }
            #expect(again, "the listener noticed the hang (no NOTIFY was sent) and listens again")
            await client.close()
        }
    }

    @Test(arguments: TestBackend.enabled)
    func staleConnectionsAfterARestartFailNoCall(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        try await PostgresServer.with { pg in
            let client = try Self.open(pg.url, timeoutMs: 5000)
            _ = try await Database.migrate(client.driver)
            // Calls at once, so the pool holds several connections.
            func burst() async throws {
                try await withThrowingTaskGroup(of: Void.self) { g in
                    for i in 0..<8 {
                        g.addTask {
                            if i % 2 == 0 {
                                _ = try await client.jobs(JobFilter(), limit: 10)
                            } else {
                                _ = try await client.enqueue(NewJob(jobType: "t", payloadJSON: "{}"))
                            }
                        }
                    }
                    try await g.waitForAll()
                }
            }
            try await burst()
            try await pg.stop()
            try await pg.startAgain()
            // Reads and writes alike: none may see the connections that went stale.
            try await burst()
            try await burst()
            #expect(try await client.jobs(JobFilter(), limit: 1).total == 3 * 4, "each enqueue stored once")
            await client.close()
        }
    }
}
