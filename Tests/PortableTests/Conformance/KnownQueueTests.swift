import Foundation
import Testing
@testable import Backends

/// The known-queue registry behind the cluster series: every insert path and every policy
/// registers its queue, and the migration registers the queues of existing jobs, archived jobs
/// and policies.
@Suite struct KnownQueueTests {
    @Test(arguments: TestBackend.enabled)
    func enqueuesBatchesPoliciesAndCopiesRegisterTheirQueues(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.add("t", queue: "one")
            _ = try await db.client.enqueueMany([NewJob(queue: "batch-a", jobType: "t"), NewJob(queue: "batch-b", jobType: "t"),
                                                 NewJob(queue: "batch-a", jobType: "t")])
            _ = try await db.client.pause("policy-only")
            var expected = ["batch-a", "batch-b", "one", "policy-only"]
            if let pg = db.driver as? PostgresDriver {
                // Enqueues from other clients, through the SQL function.
                let schema = pg.url.schema
                try await pg.with { c in _ = try c.query("SELECT \"\(schema)\".enqueue('sql-q', 't')") }
                expected.append("sql-q")
            }
            #expect(try await db.driver.queueNameList(limit: 100) == expected)
            #expect(try await db.driver.queueNameList(limit: 2) == ["batch-a", "batch-b"], "a bounded read")
            try await withDB(.sqlite) { target in
                _ = try await Copier.copy(from: db.driver, to: target.driver, queue: nil, append: false)
                #expect(try await target.driver.queueNameList(limit: 100) == expected)
            }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func theMigrationRegistersTheQueuesOfLiveArchivedAndPolicyRows(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let url: String
            switch backend {
            case .sqlite: url = "sqlite://\(db.dir)/before-registry.db"
            case .postgres(let base):
                url = base + (base.contains("?") ? "&" : "?") + "schema=o_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
            case .postgresMissing: return
            }
            let driver = try Database.open(try DatabaseURL.parse(url))
            do {
                try await Self.seedBeforeTheRegistry(driver)
                let applied = try await Database.migrate(driver).applied
                #expect(applied.first == 9, "migration 9 and any after it")
                #expect(try await driver.queueNameList(limit: 100) == ["old-archived", "old-live", "old-policy"])
            } catch {
                await Self.drop(driver)
                throw error
            }
            await Self.drop(driver)
        }
    }

    /// A database at migration 8 holding a live job, an archived job and a policy. The writes
    /// go through today's driver, which needs the registry table: it is made for them and
    /// dropped again before migration 9 runs.
    static func seedBeforeTheRegistry(_ driver: any StorageDriver) async throws {
        let known = Database.migrations(for: driver.kind)
        #expect(try await driver.migrationApply(Array(known.prefix(8))) == [1, 2, 3, 4, 5, 6, 7, 8])
        try await raw(driver, "CREATE TABLE queues (queue text PRIMARY KEY)")
        let client = PortableClient(driver: driver)
        try await client.add("t", queue: "old-live")
        try await client.add("t", queue: "old-archived")
        let leased = try await client.leaseOne(queues: ["old-archived"])
        #expect(leased != nil)
        if let leased { #expect(try await client.ack(leased) == .applied) }
        let archived = try await driver.jobArchiveBefore(Date().addingTimeInterval(60), idBelow: "ffffffff-ffff-ffff-ffff-ffffffffffff",
                                                         limit: 10, now: nil)
        #expect(archived == 1)
        _ = try await client.pause("old-policy")
        try await raw(driver, "DROP TABLE queues")
    }

    static func raw(_ driver: any StorageDriver, _ sql: String) async throws {
        if let pg = driver as? PostgresDriver {
            try await pg.with { c in try c.exec(sql) }
        } else if let lite = driver as? SQLiteDriver {
            try await lite.write { c in try c.execute(sql) }
        } else {
            Issue.record("unknown driver \(driver.kind)")
        }
    }

    /// Drops the Postgres schema made for the test (the SQLite file goes with the test directory).
    static func drop(_ driver: any StorageDriver) async {
        if let pg = driver as? PostgresDriver {
            let schema = pg.url.schema
            try? await pg.with { c in try c.exec("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE") }
        }
        await driver.close()
    }
}
