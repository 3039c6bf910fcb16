import Foundation
import Testing
@testable import Backends

/// `GET /metrics/history` and `portableq queues totals` over a real socket and process, on both
/// backends: the rollup's counts per day, and bounded, validated parameters.
@Suite(.processes) struct TotalsHTTPTests {
    @Test(arguments: TestBackend.enabled)
    func historyRouteAndCLIShowTheRolledUpTotals(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { db, s in
            for _ in 0..<3 { try await db.client.add("t", queue: "mail") }
            try await db.client.add("t", queue: "mail", maxAttempts: 1)
            for _ in 0..<3 { _ = try await db.client.ack(try #require(try await db.client.leaseOne(queues: ["mail"]))) }
            _ = try await db.client.fail(try #require(try await db.client.leaseOne(queues: ["mail"])))
            var settings = MaintenanceSettings()
            settings.totalsSettleSeconds = 0
            let m = Maintainer(client: db.client, settings: settings, holder: "m", logger: WorkerRuntimeTests.quiet)
            // The watermark is the database's now: an attempt stamped in the same millisecond waits for the next pass.
            try await Task.sleep(nanoseconds: 20_000_000)
            #expect(try #require(try await m.pass()).first { $0.task == "totals" }?.affected == 4)

            let r = try await s.get("/metrics/history?days=2&queue=mail")
            #expect(r.status == 200, "\(r)")
            let daily = r.json["daily"]?.arrayValue ?? []
            #expect(daily.count == 1, "\(r)")
            #expect(daily.first?["queue"]?.stringValue == "mail")
            #expect(daily.first?["succeeded"] == .int(3) && daily.first?["failed"] == .int(1) && daily.first?["processed"] == .int(4), "\(r)")
            #expect(r.json["hourly"]?.arrayValue?.count == 1 && r.json["through"]?.stringValue != nil, "\(r)")
            #expect(r.json["days"] == .int(2) && r.json["truncated"] == .bool(false))
            let all = try await s.get("/metrics/history")
            #expect(all.status == 200 && all.json["days"] == .int(7) && all.json["daily"]?.arrayValue?.count == 1, "\(all)")

            for q in ["days=0", "days=91", "days=x", "queue=bad%20name", "hours=3"] {
                let bad = try await s.get("/metrics/history?\(q)")
                #expect(bad.status == 422 && bad.errorCode == "INVALID_ARGUMENT", "\(q) → \(bad)")
            }

            let json = try await CLI.run(["queues", "totals", "--days", "2", "--json", "--database", db.url])
            #expect(json.status == 0, "\(json)")
            #expect(json.json?["daily"]?.arrayValue?.first?["succeeded"] == .int(3), "\(json)")
            let text = try await CLI.run(["queues", "totals", "--database", db.url])
            #expect(text.status == 0, "\(text)")
            let today = String(Time.format(Date()).prefix(10))
            #expect(text.stdout.contains("DAY") && text.stdout.contains("PROCESSED"), "\(text)")
            let row = text.stdout.split(separator: "\n").first { $0.hasPrefix(today) }.map { $0.split(separator: " ").map(String.init) }
            #expect(row == [today, "mail", "3", "1", "0", "4"], "\(text)")
            let badDays = try await CLI.run(["queues", "totals", "--days", "91", "--database", db.url])
            #expect(badDays.status == 2, "\(badDays)")
        }
    }
}
