import Foundation
import Testing
@testable import Backends
@testable import Portable

/// Cron schedules read in a time zone, across both daylight-saving jumps of Europe/Paris in 2027
/// (spring forward 2027-03-28 01:00Z: 02:00 CET → 03:00 CEST; fall back 2027-10-31 01:00Z:
/// 03:00 CEST → 02:00 CET), with the injected clock.
@Suite struct CronTimeZoneTests {
    func slots(_ cron: String, _ zone: String, from: String, to: String) throws -> [String] {
        let c = try Cron(cron, timeZone: zone)
        let a = try #require(Time.parse(from)), b = try #require(Time.parse(to))
        return c.slots(after: a, upTo: b, limit: 100).map(Time.format)
    }

    @Test func fieldsReadTheZonesWallClock() throws {
        #expect(try slots("0 9 * * *", "America/New_York", from: "2027-01-15T00:00:00Z", to: "2027-01-16T00:00:00Z")
            == ["2027-01-15T14:00:00.000Z"], "EST is UTC-5")
        #expect(try slots("0 9 * * *", "America/New_York", from: "2027-07-15T00:00:00Z", to: "2027-07-16T00:00:00Z")
            == ["2027-07-15T13:00:00.000Z"], "EDT is UTC-4")
        #expect(try slots("0 9 * * *", "Asia/Kolkata", from: "2027-01-15T00:00:00Z", to: "2027-01-16T00:00:00Z")
            == ["2027-01-15T03:30:00.000Z"], "a half-hour offset")
        #expect(try slots("0 0 1 * *", "Pacific/Auckland", from: "2027-01-15T00:00:00Z", to: "2027-03-01T00:00:00Z")
            == ["2027-01-31T11:00:00.000Z", "2027-02-28T11:00:00.000Z"], "the local first of the month is the day before in UTC")
        #expect(try slots("*/5 * * * *", "UTC", from: "2027-01-15T08:03:00Z", to: "2027-01-15T08:18:00Z")
            == ["2027-01-15T08:05:00.000Z", "2027-01-15T08:10:00.000Z", "2027-01-15T08:15:00.000Z"])
    }

    @Test func aSlotInTheSkippedHourRunsAtTheJump() throws {
        #expect(try slots("30 2 * * *", "Europe/Paris", from: "2027-03-26T12:00:00Z", to: "2027-03-29T12:00:00Z") == [
            "2027-03-27T01:30:00.000Z",  // 02:30 CET
            "2027-03-28T01:00:00.000Z",  // 02:30 does not exist: 03:00 CEST, the first instant after the jump
            "2027-03-29T00:30:00.000Z",  // 02:30 CEST
        ])
        #expect(try slots("*/30 * * * *", "Europe/Paris", from: "2027-03-28T00:00:00Z", to: "2027-03-28T01:45:00Z") == [
            "2027-03-28T00:30:00.000Z",  // 01:30 CET
            "2027-03-28T01:00:00.000Z",  // 02:00, 02:30 and 03:00 collapse into the one instant at 03:00 CEST
            "2027-03-28T01:30:00.000Z",  // 03:30 CEST
        ])
    }

    @Test func theRepeatedHourRunsOnceUnlessTheHourFieldIsStar() throws {
        #expect(try slots("30 2 * * *", "Europe/Paris", from: "2027-10-29T12:00:00Z", to: "2027-11-01T12:00:00Z") == [
            "2027-10-30T00:30:00.000Z",  // 02:30 CEST
            "2027-10-31T00:30:00.000Z",  // the first 02:30 (CEST) only
            "2027-11-01T01:30:00.000Z",  // 02:30 CET
        ])
        #expect(try slots("*/30 * * * *", "Europe/Paris", from: "2027-10-31T00:00:00Z", to: "2027-10-31T02:00:00Z") == [
            "2027-10-31T00:30:00.000Z",  // 02:30 CEST
            "2027-10-31T01:00:00.000Z",  // 02:00 CET, the second pass
            "2027-10-31T01:30:00.000Z",  // 02:30 CET
            "2027-10-31T02:00:00.000Z",  // 03:00 CET: every 30 real minutes throughout
        ])
        // Stepping one slot at a time from inside the second pass does not go back to the first.
        let c = try Cron("*/30 * * * *", timeZone: "Europe/Paris")
        #expect(c.next(after: try #require(Time.parse("2027-10-31T01:10:00Z"))).map(Time.format) == "2027-10-31T01:30:00.000Z")
        #expect(c.next(after: try #require(Time.parse("2027-10-31T00:59:00Z"))).map(Time.format) == "2027-10-31T01:00:00.000Z")
    }

    @Test func anUnknownZoneIsAnErrorNeverUTC() throws {
        for bad in ["Mars/Olympus", "Europe/Pariss", "+01:00", "paris", String(repeating: "A", count: 100)] {
            #expect(throws: PortableError.self) { try Cron("0 * * * *", timeZone: bad) }
            do { _ = try Cron("0 * * * *", timeZone: bad) } catch let e as PortableError {
                #expect(e.code == .invalidArgument && e.message.contains("unknown time zone"), "\(e)")
            }
        }
        #expect(try Cron("0 * * * *", timeZone: "utc").timeZone.secondsFromGMT() == 0)
        #expect(try Cron("0 * * * *", timeZone: "Etc/UTC").next(after: Date(timeIntervalSince1970: 0)) == Date(timeIntervalSince1970: 3600))
    }

    @Test(arguments: TestBackend.enabled)
    func theLeaderEnqueuesZonedSlotsAcrossBothJumps(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let leader = Maintainer(client: db.client, settings: MaintenanceSettings(), holder: "a", logger: WorkerRuntimeTests.quiet)
            func keys(_ name: String) async throws -> [String] {
                try await db.client.jobs(JobFilter(jobType: name)).items.compactMap(\.idempotencyKey).sorted()
            }
            db.clock.set(try #require(Time.parse("2027-03-27T23:00:00Z")))
            try await db.client.addSchedule(Schedule(name: "spring-daily", cron: "30 2 * * *", jobType: "spring-daily", timezone: "Europe/Paris"))
            try await db.client.addSchedule(Schedule(name: "spring-30", cron: "*/30 * * * *", jobType: "spring-30", timezone: "Europe/Paris"))
            db.clock.set(try #require(Time.parse("2027-03-28T01:40:00Z")))
            _ = try await leader.tick()
            #expect(try await keys("spring-daily") == ["cron:spring-daily:2027-03-28T01:00:00.000Z"])
            #expect(try await keys("spring-30") == ["23:30", "00:00", "00:30", "01:00", "01:30"].map { t in
                "cron:spring-30:2027-03-\(t.hasPrefix("23") ? "27" : "28")T\(t):00.000Z"
            }.sorted())

            db.clock.set(try #require(Time.parse("2027-10-30T23:00:00Z")))
            try await db.client.addSchedule(Schedule(name: "fall-daily", cron: "30 2 * * *", jobType: "fall-daily", timezone: "Europe/Paris"))
            try await db.client.addSchedule(Schedule(name: "fall-30", cron: "*/30 * * * *", jobType: "fall-30", timezone: "Europe/Paris"))
            db.clock.set(try #require(Time.parse("2027-10-31T02:10:00Z")))
            _ = try await leader.tick()
            #expect(try await keys("fall-daily") == ["cron:fall-daily:2027-10-31T00:30:00.000Z"], "once, in the first pass")
            #expect(try await keys("fall-30") == ["23:30", "00:00", "00:30", "01:00", "01:30", "02:00"].map { t in
                "cron:fall-30:2027-10-\(t.hasPrefix("23") ? "30" : "31")T\(t):00.000Z"
            }.sorted(), "both passes of the repeated hour")
            let listed = try await db.client.schedules().first { $0.name == "fall-daily" }
            #expect(listed?.timezone == "Europe/Paris")
            #expect(listed?.json(now: db.clock.localNow)["next_slot_at"]?.stringValue == "2027-11-01T01:30:00.000Z")
            // An unknown zone is refused, and nothing is stored.
            await #expect(throws: PortableError.self) {
                try await db.client.addSchedule(Schedule(name: "bad", cron: "0 * * * *", jobType: "t", timezone: "Mars/Olympus"))
            }
            #expect(try await db.client.schedules().contains { $0.name == "bad" } == false)
        }
    }
}

/// The zone through the fronts: the HTTP field and the CLI flag, and their errors.
@Suite(.processes) struct CronTimeZoneFrontTests {
    @Test func theCLITakesTzAndRefusesAnUnknownZone() async throws {
        let dir = NSTemporaryDirectory() + "pq-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let db = "sqlite:\(dir)/x.db"
        let ok = try await CLI.run(["schedules", "add", "paris", "--cron", "0 9 * * *", "report", "--tz", "Europe/Paris",
                                    "--json", "--database", db])
        #expect(ok.status == 0, "\(ok)")
        #expect(ok.stdout.contains("\"timezone\"") && ok.stdout.contains("Europe/Paris"), "\(ok)")
        let list = try await CLI.run(["schedules", "list", "--database", db])
        #expect(list.status == 0 && list.stdout.contains("Europe/Paris"), "\(list)")
        let bad = try await CLI.run(["schedules", "add", "mars", "--cron", "0 9 * * *", "report", "--tz", "Mars/Olympus", "--database", db])
        #expect(bad.status == 2 && bad.stderr.contains("unknown time zone"), "\(bad)")
        let still = try await CLI.run(["schedules", "list", "--json", "--database", db])
        #expect(!still.stdout.contains("mars"), "\(still)")
    }
}
