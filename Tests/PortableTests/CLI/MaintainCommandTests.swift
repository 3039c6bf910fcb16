import Foundation
import Testing
@testable import Backends

/// `portableq maintain --once` beside live workers (a cron job): another holder of the lease is
/// not a failure.
@Suite(.processes) struct MaintainCommandTests {
    @Test(arguments: TestBackend.enabled)
    func onceBesideALiveWorkerLeavesMaintenanceToItAndExitsZero(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let worker = try CLI.Running(["work", "--database", db.url, "--worker-id", "lease-holder", "--poll-interval-ms", "50"],
                                         env: ["PORTABLEQ_REAP_INTERVAL_MS": "200"])
            #expect(try await worker.waitForLog("took the maintenance lease"), "stderr: \(worker.stderr)")

            let text = try await CLI.run(["maintain", "--once", "--database", db.url])
            #expect(text.status == 0, "\(text)")
            #expect(text.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                    == "another maintainer (lease-holder) holds the lease; it runs maintenance: nothing to do here", "\(text)")
            #expect(text.stderr.isEmpty, "\(text)")

            let json = try await CLI.run(["maintain", "--once", "--json", "--database", db.url])
            #expect(json.status == 0, "\(json)")
            #expect(json.json == .object([("ran", .bool(false)), ("holder", .string("lease-holder"))]), "\(json)")

            // The worker resigns the lease when it stops; then --once runs the pass itself.
            worker.signal(SIGTERM)
            #expect(try await worker.wait(timeout: 30).status == 0)
            let ran = try await CLI.run(["maintain", "--once", "--json", "--database", db.url])
            #expect(ran.status == 0, "\(ran)")
            #expect(ran.json?["ran"] == .bool(true), "\(ran)")
            let tasks = ran.json?["runs"]?.arrayValue?.compactMap { $0["task"]?.stringValue } ?? []
            #expect(tasks == ["reap", "schedules", "totals", "archive", "delete_archived", "prune_history", "expire"], "\(ran)")
        }
    }
}
