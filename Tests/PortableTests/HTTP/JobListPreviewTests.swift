import Foundation
import Testing
@testable import Backends

/// Lists carry `payload`/`output` whole up to 4,096 bytes and a preview beyond, so a page of
/// big jobs stays small; `GET /jobs/{id}` is whole; `jobs list --json` is the same list.
/// Serialized: each test starts a server process, and the suite runs beside every other.
@Suite(.serialized, .processes) struct JobListPreviewTests {
    /// 4,095 bytes of JSON text, then two-byte characters: byte 4,096 falls inside one.
    static let bigString = String(repeating: "a", count: 4094) + String(repeating: "é", count: 60_000)
    static let bigText = "\"" + bigString + "\""

    @Test(arguments: TestBackend.enabled)
    func listsCarryPreviewsAndTheJobIsWhole(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { db, s in
            var big: [String] = []
            for _ in 0..<6 { big.append(try await db.client.add("t", queue: "big", payload: Self.bigText).id) }
            let small = try await db.client.add("t", queue: "big", payload: #"{"n":1}"#).id
            let leased = try #require(try await db.client.leaseOne(queues: ["big"]))
            _ = try await db.client.ack(leased, output: Self.bigText)

            let list = try await s.get("/jobs?queue=big&limit=1000")
            #expect(list.status == 200)
            #expect(list.body.utf8.count < 80_000, "7 jobs of 120 KB (one with as much output) in \(list.body.utf8.count) bytes")
            let items = list.json["items"]?.arrayValue ?? []
            #expect(items.count == 7)
            let whole = Self.bigText.utf8.count
            for item in items {
                let id = item["id"]?.stringValue ?? ""
                if id == small {
                    #expect(item["payload"] == .object([("n", .number("1"))]) && item["payload_truncated"] == .bool(false))
                    #expect(item["payload_bytes"] == .int(7) && item["payload_preview"] == nil)
                    continue
                }
                #expect(big.contains(id))
                #expect(item["payload"] == nil && item["payload_truncated"] == .bool(true), "\(item.compact.prefix(200))")
                #expect(item["payload_bytes"] == .int(whole))
                let preview = item["payload_preview"]?.stringValue ?? ""
                #expect(preview.utf8.count == 4095, "cut before the character that straddles byte 4,096")
                #expect(Self.bigText.hasPrefix(preview))
                if id == leased.id {
                    #expect(item["output"] == nil && item["output_truncated"] == .bool(true) && item["output_bytes"] == .int(whole))
                    #expect(item["output_preview"]?.stringValue?.utf8.count == 4095)
                } else {
                    #expect(item["output"] == .null && item["output_bytes"] == nil && item["output_truncated"] == nil)
                }
            }
            let one = try await s.get("/jobs/\(leased.id)")
            #expect(one.json["payload"]?.stringValue == Self.bigString && one.json["output"]?.stringValue == Self.bigString, "one job is whole")
            #expect(one.json["payload_preview"] == nil)

            let cli = try await CLI.run(["jobs", "list", "--json", "--queue", "big", "--limit", "1000", "--database", db.url])
            #expect(cli.status == 0, "\(cli)")
            #expect(cli.json?["items"] == list.json["items"], "the CLI prints the same list")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func theDLQListIsBoundedToo(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { db, s in
            let id = try await db.client.add("t", payload: Self.bigText, maxAttempts: 1).id
            let leased = try #require(try await db.client.leaseOne())
            _ = try await db.client.fail(leased)
            let dlq = try await s.get("/dlq")
            let item = try #require(dlq.json["items"]?.arrayValue?.first)
            #expect(item["id"]?.stringValue == id && item["payload_truncated"] == .bool(true) && item["payload"] == nil, "\(dlq)")
        }
    }

    @Test func previewsCutOnACharacterBoundary() {
        #expect(JobListItem.preview("abc") == "abc")
        let fourBytes = String(repeating: "b", count: 4093) + "😀"  // the emoji takes bytes 4,093…4,096
        #expect(JobListItem.preview(fourBytes + "tail") == String(repeating: "b", count: 4093))
        let exact = String(repeating: "c", count: 4096)
        #expect(JobListItem.preview(exact + "d") == exact)
    }
}
