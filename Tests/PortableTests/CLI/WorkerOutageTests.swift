import Foundation
import Testing
@testable import Backends

/// `work` on a PostgreSQL of the test's own that hangs (SIGSTOP): it logs the outage once,
/// and drains the queue once the server resumes.
@Suite(.processes) struct WorkerOutageTests {
    static func count(_ text: String, in log: String) -> Int { log.components(separatedBy: text).count - 1 }

    /// A client of the test's own, closed before the server hangs (its calls would wait too).
    static func succeeded(_ url: String) async throws -> Int {
        let driver = try Database.open(try DatabaseURL.parse(url))
        do {
            let n = try await PortableClient(driver: driver).jobs(JobFilter(status: .succeeded), limit: 1).total
            await driver.close()
            return n
        } catch {
            await driver.close()
            throw error
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aWorkerOnAHungPostgresLogsOnceAndDrains(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        try await PostgresServer.with { pg in
            #expect(try await CLI.run(["migrate", "--database", pg.url]).status == 0)
            let driver = try Database.open(try DatabaseURL.parse(pg.url))
            _ = try await PortableClient(driver: driver).enqueueMany((0..<200).map { _ in NewJob(jobType: "sleep", payloadJSON: #"{"ms":30}"#) })
            await driver.close()
            let w = try CLI.Running(["work", "--database", pg.url, "--builtins", "--concurrency", "2", "--poll-interval-ms", "200"])
            // A second worker, stopped during the hang: with a short lease its last acks give up soon.
            let quitter = try CLI.Running(["work", "--database", pg.url, "--builtins", "--concurrency", "1",
                                           "--poll-interval-ms", "200", "--lease-seconds", "6"])
            defer { for p in [w, quitter] where processIsAlive(p.pid) { p.signal(SIGKILL) } }
            #expect(try await eventually(timeout: 30, interval: 0.3) { try await Self.succeeded(pg.url) >= 20 })
            try await pg.hang()
            #expect(try await w.waitForLog("database unavailable", timeout: 30), "\(w.stderr)")
            // No call waits on the hung server for ever, so SIGTERM still ends a worker.
            quitter.signal(SIGTERM)
            let stopped = try await quitter.wait(timeout: 40)
            #expect(stopped.status == 0, "\(stopped)")
            #expect(processIsAlive(w.pid))
            try await pg.resume()
            let drained = try await eventually(timeout: 90, interval: 0.5) { try await Self.succeeded(pg.url) == 200 }
            #expect(drained, "the jobs enqueued before the hang all ran")
            #expect(try await w.waitForLog("database is back", timeout: 10))
            try await Task.sleep(nanoseconds: UInt64((OutageLog.settleSeconds + 1) * 1e9))
            let log = w.stderr
            #expect(Self.count("database unavailable", in: log) == 1, "\(log)")
            #expect(Self.count("database is back", in: log) == 1, "\(log)")
            w.signal(SIGTERM)
            #expect(try await w.wait(timeout: 30).status == 0)
        }
    }
}
