import Foundation
import Testing
@testable import Backends

/// What a caller sees when the database misbehaves: a bad row is an error naming table and
/// column (never a crash, never a silent default), and a failed statement says what failed
/// with the database's code while its SQL stays in the log-only detail.
@Suite struct StorageErrorTests {
    @Test(arguments: TestBackend.enabled)
    func anUnknownStoredOutcomeIsAnErrorNotADefault(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let id = try await db.client.add().id
            _ = try await db.client.fail(try #require(try await db.client.leaseOne()))
            try await db.execute("UPDATE attempts SET outcome = 'exploded'")
            let e = await #expect(throws: PortableError.self) { try await db.client.timeline(id) }
            #expect(e?.code == .backend)
            #expect(e?.message == #"attempts.outcome: unknown value "exploded""#)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aFailedStatementKeepsItsSQLOutOfTheMessage(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let id = try await db.client.add().id
            try await db.execute("DROP TABLE attempts")
            let e = try #require(await #expect(throws: PortableError.self) { try await db.client.timeline(id) })
            #expect(e.code == .backend)
            #expect(e.message.hasPrefix("the database rejected a statement: "), "\(e.message)")
            #expect(e.message.contains("attempts"), "the database's own reason names the table")
            let code = try #require(e.databaseCode)
            #expect(e.message.hasSuffix("\(code))"), "\(e.message)")
            for shown in [e.message, e.description, e.json.compact] {
                for sql in ["SELECT", "FROM attempts", "WHERE", "ORDER BY", "job_id ="] {
                    #expect(!shown.contains(sql), "\(shown) carries SQL")
                }
            }
            #expect(e.debugDescription.contains("SELECT job_id, attempt"), "the log form keeps the statement: \(e.debugDescription)")
        }
    }
}
