import Foundation
import Testing
@testable import Backends

/// Guards against the backends drifting apart: what the core decides must come back the same
/// from both drivers, word for word and in the same order.
@Suite struct DriftTests {
    @Test(arguments: TestBackend.enabled)
    func aFailedRunCancelsItsQueuedSiblingWithTheSameEvent(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.defineFlow(try FlowTests.def(#"{"slug":"pair","max_attempts":1,"steps":[{"slug":"a"},{"slug":"b"}]}"#))
            let run = try await db.client.startFlow("pair")
            let a = try #require(try await db.client.leaseOne(types: ["pair.a"]))
            db.clock.advance(1)
            #expect(try await db.client.fail(a) == .applied, "its one attempt fails: dead-lettered, the run fails")

            let b = try #require(try await db.client.run(run.id).run.steps.first { $0.slug == "b" }?.jobId)
            #expect(try await db.client.job(b).status == .cancelled)
            let cancelled = try await db.client.timeline(b).events.filter { $0.type == "cancelled" }
            #expect(cancelled.map(\.message) == ["its run failed"])
            #expect(cancelled.first?.at == TestDB.epoch.addingTimeInterval(1))
        }
    }

    @Test(arguments: TestBackend.enabled)
    func runStepsComeBackInTheDefinitionsOrder(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            // Slugs out of alphabetical order, so neither a sort by slug nor insertion order of
            // one backend passes by chance.
            let order = ["zeta", "alpha", "mid", "beta", "omega"]
            try await db.client.defineFlow(try FlowTests.def(#"""
                {"slug":"order","steps":[{"slug":"zeta"},{"slug":"alpha","depends_on":["zeta"]},
                 {"slug":"mid"},{"slug":"beta","depends_on":["alpha","mid"]},{"slug":"omega","depends_on":["beta"]}]}
                """#))
            let run = try await db.client.startFlow("order", inputJSON: "{}")
            #expect(run.steps.map(\.slug) == order)
            let zeta = try #require(try await db.client.leaseOne(types: ["order.zeta"]))
            #expect(try await db.client.ack(zeta, output: "1") == .applied)
            #expect(try await db.client.run(run.id).run.steps.map(\.slug) == order)
            let steps = try await db.client.runJSON(run.id)["steps"]?.arrayValue ?? []
            #expect(steps.compactMap { $0["slug"]?.stringValue } == order)
        }
    }

    /// One scripted history that passes through every timeline event type, played on every
    /// enabled backend in this one test; the timelines must match field by field. With only
    /// SQLite enabled it is played twice (both runs must agree); in CI Postgres is required.
    @Test func oneHistoryGivesTheSameTimelineOnEveryBackend() async throws {
        var backends = TestBackend.enabled
        if backends.count == 1 { backends.append(.sqlite) }
        var played: [(backend: TestBackend, fields: [(String, String)])] = []
        for backend in backends {
            try await withDB(backend) { db in
                played.append((backend, Self.flatten(Self.normalised(try await Self.play(db)))))
            }
        }
        guard let base = played.first else { return }
        let types = Set(base.fields.filter { $0.0.hasSuffix(".type") }.map(\.1))
        #expect(types == Set(Self.eventTypes.map { "\"\($0)\"" }), "the script passes through every event type")
        let want = Dictionary(base.fields, uniquingKeysWith: { a, _ in a })
        for other in played.dropFirst() {
            let got = Dictionary(other.fields, uniquingKeysWith: { a, _ in a })
            for path in Set(want.keys).union(got.keys).sorted() where want[path] != got[path] {
                Issue.record("\(path): \(base.backend) has \(want[path] ?? "nothing"), \(other.backend) has \(got[path] ?? "nothing")")
            }
            #expect(other.fields.map(\.0) == base.fields.map(\.0), "the same fields in the same order on \(base.backend) and \(other.backend)")
        }
    }

    static let eventTypes = ["enqueued", "leased", "succeeded", "failed", "retry_scheduled", "dead_lettered", "lease_expired",
                             "lease_released", "retried", "cancelled", "replayed_as", "replay_of", "archived"]

    /// enqueue, lease, fail + retry, lease, fail to DLQ, retry in place, lease, cancel while
    /// running, retry, lease, expire and reap, lease, release, lease, succeed, replay (the replay
    /// succeeds too), archive. Returns the timelines of the job and of its replay.
    static func play(_ db: TestDB) async throws -> JSON {
        let c = db.client
        func lease(_ worker: String, seconds: Double = 30) async throws -> Job {
            try #require(try await c.leaseOne(lease: seconds, worker: worker))
        }
        let id = try await c.add("drift", payload: #"{"n": 1}"#, maxAttempts: 2).id
        db.clock.advance(1)
        _ = try await c.fail(try await lease("w1"), code: "E1")
        db.clock.advance(2)
        _ = try await c.fail(try await lease("w2"), code: "E2")
        db.clock.advance(3)
        _ = try await c.retry(id)
        let running = try await lease("w3")
        db.clock.advance(1)
        _ = try await c.cancel(running.id)
        db.clock.advance(1)
        _ = try await c.retry(id)
        _ = try await lease("w4", seconds: 5)
        db.clock.advance(6)
        try await c.reap()
        db.clock.advance(2)
        _ = try await c.complete([(try await lease("w5"), .released)], types: [:])
        db.clock.advance(1)
        _ = try await c.ack(try await lease("w6"), output: #"{"ok": true}"#)
        db.clock.advance(1)
        let replay = try await c.replay(id).job.id
        _ = try await c.ack(try await lease("w7"))
        db.clock.advance(1)
        let now = try #require(db.clock.now)
        #expect(try await db.driver.jobArchiveBefore(now, idBelow: UUIDv7.lowerBound(for: now.addingTimeInterval(1)),
                                                     limit: 10, now: now) == 2)
        return .object([("job", try await c.timeline(id).json), ("replay", try await c.timeline(replay).json)])
    }

    /// Ids (UUIDs, also inside messages such as "replayed as job …") become `<id1>`, `<id2>`… in
    /// order of appearance; stored JSON text (payload, output) is parsed, so spacing cannot differ.
    static func normalised(_ json: JSON) -> JSON {
        var ids: [String: String] = [:]
        func placeholder(_ word: Substring) -> String {
            let w = String(word)
            guard UUIDv7.isValid(w) else { return w }
            if ids[w] == nil { ids[w] = "<id\(ids.count + 1)>" }
            return ids[w] ?? w
        }
        func visit(_ j: JSON) -> JSON {
            switch j {
            case .string(let s): return .string(s.split(separator: " ", omittingEmptySubsequences: false).map(placeholder).joined(separator: " "))
            case .array(let items): return .array(items.map(visit))
            case .object(let members): return .object(members.map { ($0.0, visit($0.1)) })
            case .raw(let text): return (try? JSON.parse(text)).map(visit) ?? j
            default: return j
            }
        }
        return visit(json)
    }

    /// Leaves as (path, compact value): `job.events[3].type` → `"failed"`.
    static func flatten(_ json: JSON, _ path: String = "") -> [(String, String)] {
        switch json {
        case .object(let members): return members.flatMap { flatten($0.1, path.isEmpty ? $0.0 : path + "." + $0.0) }
        case .array(let items): return items.enumerated().flatMap { flatten($0.element, "\(path)[\($0.offset)]") }
        default: return [(path, json.compact)]
        }
    }
}
