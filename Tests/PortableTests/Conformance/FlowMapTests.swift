import Foundation
import Testing
@testable import Backends

/// Issue 16 §1: map steps fan out into one job per element and collect their outputs in order.
@Suite struct FlowMapTests {
    /// fetch → thumb (map over fetch.images) → sum.
    static let thumbs = #"{"slug":"pics","max_attempts":1,"steps":[{"slug":"fetch"},{"slug":"thumb","depends_on":["fetch"],"map":"fetch.images"},{"slug":"sum","depends_on":["thumb"]}]}"#
    /// A map over the run input, and a step after it.
    static let overInput = #"{"slug":"each","max_attempts":1,"steps":[{"slug":"m","map":"run.items","max_elements":3},{"slug":"after","depends_on":["m"]}]}"#

    func step(_ db: TestDB, _ run: String, _ slug: String) async throws -> RunStep {
        try #require(try await db.client.run(run).run.steps.first { $0.slug == slug })
    }

    func lease(_ db: TestDB, _ type: String, _ n: Int) async throws -> [Job] {
        try await db.client.lease(queues: nil, jobTypes: [type], limit: n, leaseSeconds: 30, workerId: "w")
    }

    @Test(arguments: TestBackend.enabled)
    func aMapStepFansOutAndItsOutputIsInElementOrderWhateverOrderElementsFinishIn(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.defineFlow(try FlowTests.def(Self.thumbs))
            let run = try await db.client.startFlow("pics", inputJSON: #"{"album":7}"#)
            let fetch = try #require(try await db.client.leaseOne(types: ["pics.fetch"]))
            #expect(try await db.client.ack(fetch, output: #"{"images":[{"n":1},{"n":2},{"n":3}]}"#) == .applied)

            let elements = try await lease(db, "pics.thumb", 10)
            #expect(elements.count == 3, "one job per element")
            #expect(Set(elements.map(\.payload)) == [#"{"n":1}"#, #"{"n":2}"#, #"{"n":3}"#], "each element is its job's input")
            let thumb = try await step(db, run.id, "thumb")
            #expect(thumb.status == .queued && thumb.mapTotal == 3 && thumb.mapDone == 0)

            // Finish them out of order: 3, 1, 2.
            let byN = Dictionary(elements.map { ($0.payload, $0) }, uniquingKeysWith: { a, _ in a })
            for n in [3, 1, 2] {
                let job = try #require(byN[#"{"n":\#(n)}"#])
                #expect(try await db.client.ack(job, output: #""t\#(n)""#) == .applied)
                if n != 2 { #expect(try await step(db, run.id, "thumb").status == .queued, "not every element has succeeded") }
            }
            let done = try await step(db, run.id, "thumb")
            #expect(done.status == .succeeded && done.mapDone == 3)
            #expect(done.output == #"["t1","t2","t3"]"#, "the outputs in element order")

            let sum = try #require(try await db.client.leaseOne(types: ["pics.sum"]), "the dependent starts")
            #expect(sum.payload == #"{"run":{"album":7},"thumb":["t1","t2","t3"]}"#, "a dependent receives the array")
            let json = try await db.client.runJSON(run.id)
            let mapJSON = json["steps"]?.arrayValue?.first { $0["slug"]?.stringValue == "thumb" }?["map"]
            #expect(mapJSON?["total"]?.intValue == 3 && mapJSON?["done"]?.intValue == 3)
            #expect(mapJSON?["elements"]?["succeeded"]?.intValue == 3)
            #expect(try await db.client.ack(sum, output: "6") == .applied)
            #expect(try await db.client.run(run.id).run.status == .succeeded)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func anEmptyArrayCompletesTheStepAtOnceWithAnEmptyArray(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.defineFlow(try FlowTests.def(Self.overInput))
            let run = try await db.client.startFlow("each", inputJSON: #"{"items":[]}"#)
            let m = try await step(db, run.id, "m")
            #expect(m.status == .succeeded && m.output == "[]" && m.mapTotal == 0)
            let after = try #require(try await db.client.leaseOne(types: ["each.after"]), "the dependent starts at once")
            #expect(after.payload == #"{"run":{"items":[]},"m":[]}"#)

            // After a dependency too.
            try await db.client.defineFlow(try FlowTests.def(Self.thumbs))
            let run2 = try await db.client.startFlow("pics")
            let fetch = try #require(try await db.client.leaseOne(types: ["pics.fetch"]))
            #expect(try await db.client.ack(fetch, output: #"{"images":[]}"#) == .applied)
            #expect(try await step(db, run2.id, "thumb").output == "[]")
            let sum = try #require(try await db.client.leaseOne(types: ["pics.sum"]))
            #expect(sum.payload == #"{"run":null,"thumb":[]}"#)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aPathThatIsNotAnArrayOrTooManyElementsFailsTheStepAndTheRun(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.defineFlow(try FlowTests.def(Self.overInput))
            let notArray = try await db.client.startFlow("each", inputJSON: #"{"items":{"a":1}}"#)
            #expect(notArray.status == .failed && notArray.failedStep == "m" && notArray.finishedAt != nil)
            let m = try await step(db, notArray.id, "m")
            #expect(m.status == .failed && m.errorCode == "MAP_NOT_ARRAY")
            #expect(try await step(db, notArray.id, "after").status == .skipped)
            #expect(try await db.client.run(notArray.id).run.events.first?.message?.contains("MAP_NOT_ARRAY") == true)
            #expect(try await db.client.jobs(JobFilter(runId: notArray.id)).total == 0, "nothing was queued")

            let missing = try await db.client.startFlow("each", inputJSON: "{}")
            #expect(try await step(db, missing.id, "m").errorCode == "MAP_NOT_ARRAY")

            let tooMany = try await db.client.startFlow("each", inputJSON: #"{"items":[1,2,3,4]}"#)
            #expect(tooMany.status == .failed)
            #expect(try await step(db, tooMany.id, "m").errorCode == "MAP_TOO_LARGE", "max_elements is 3")
            let json = try await db.client.runJSON(tooMany.id)
            #expect(json["steps"]?.arrayValue?.first?["error_code"] == .string("MAP_TOO_LARGE"))

            // After a dependency: the dependency's output is what the path reads.
            try await db.client.defineFlow(try FlowTests.def(Self.thumbs))
            let run = try await db.client.startFlow("pics")
            let fetch = try #require(try await db.client.leaseOne(types: ["pics.fetch"]))
            #expect(try await db.client.ack(fetch, output: #"{"images":"nope"}"#) == .applied)
            let failed = try await db.client.run(run.id).run
            #expect(failed.status == .failed && failed.failedStep == "thumb")
            #expect(try await step(db, run.id, "thumb").errorCode == "MAP_NOT_ARRAY")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aDeadElementFailsTheRunAndRetryingItReopensTheRun(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.defineFlow(try FlowTests.def(Self.overInput))
            let run = try await db.client.startFlow("each", inputJSON: #"{"items":["a","b","c"]}"#)
            let two = try await lease(db, "each.m", 2)
            #expect(two.count == 2)
            #expect(try await db.client.ack(two[0], output: two[0].payload) == .applied)
            #expect(try await db.client.fail(two[1], retryable: false) == .applied)
            let failed = try await db.client.run(run.id).run
            #expect(failed.status == .failed && failed.failedStep == "m")
            #expect(try await step(db, run.id, "m").status == .failed)
            #expect(try await step(db, run.id, "after").status == .skipped)
            let all = try await db.client.jobs(JobFilter(runId: run.id)).items
            #expect(all.filter { $0.status == .cancelled }.count == 1, "the queued element is cancelled")

            db.clock.advance(10)
            _ = try await db.client.retry(two[1].id)
            let reopened = try await db.client.run(run.id).run
            #expect(reopened.status == .running && reopened.finishedAt == nil)
            #expect(reopened.events.map(\.type) == ["reopened"])
            #expect(try await step(db, run.id, "m").status == .queued)
            #expect(try await step(db, run.id, "after").status == .waiting)
            let rest = try await lease(db, "each.m", 10)
            #expect(rest.count == 2, "the retried element and the one the failure cancelled")
            for j in rest { #expect(try await db.client.ack(j, output: j.payload) == .applied) }
            let m = try await step(db, run.id, "m")
            #expect(m.status == .succeeded && m.mapDone == 3)
            #expect(m.output == #"["a","b","c"]"#, "each element's output at its element's place")
            let after = try #require(try await db.client.leaseOne(types: ["each.after"]))
            #expect(after.payload.contains(#""m":["#))
        }
    }

    @Test(arguments: TestBackend.enabled)
    func elementOutputsKeepElementOrderAcrossManyElementsAndBatchedAcks(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let items = (0..<40).map(String.init).joined(separator: ",")
            try await db.client.defineFlow(try FlowTests.def(#"{"slug":"many","steps":[{"slug":"m","map":"run"}]}"#))
            let run = try await db.client.startFlow("many", inputJSON: "[\(items)]")
            let jobs = try await lease(db, "many.m", 40)
            #expect(jobs.count == 40)
            // Two batches, each acked in one call, newest element first.
            let shuffled = jobs.sorted { (Int($0.payload) ?? 0) > (Int($1.payload) ?? 0) }
            for half in [Array(shuffled[0..<20]), Array(shuffled[20...])] {
                let acks = try await db.client.complete(half.map { ($0, AttemptResult.success(output: "\"e\($0.payload)\"")) }, types: [:])
                #expect(acks.allSatisfy { $0 == .applied })
            }
            let done = try await db.client.run(run.id).run
            #expect(done.status == .succeeded)
            #expect(done.steps.first?.output == "[" + (0..<40).map { "\"e\($0)\"" }.joined(separator: ",") + "]")
        }
    }

    /// The last two elements acked at the same time by two clients (own connections): exactly
    /// one of them assembles the output, and it holds both (the run row is locked on Postgres;
    /// SQLite has one writer).
    @Test(arguments: TestBackend.enabled)
    func theLastTwoElementsAckedConcurrentlyCompleteTheStepOnce(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let otherDriver = try db.openAnother()
            let other = PortableClient(driver: otherDriver, clock: db.clock)
            try await db.client.defineFlow(try FlowTests.def(#"{"slug":"race","steps":[{"slug":"m","map":"run"},{"slug":"next","depends_on":["m"]}]}"#))
            for round in 0..<8 {
                let run = try await db.client.startFlow("race", inputJSON: "[1,2]")
                let jobs = try await lease(db, "race.m", 2)
                #expect(jobs.count == 2)
                async let a = db.client.complete([(jobs[0], .success(output: jobs[0].payload))], types: [:])
                async let b = other.complete([(jobs[1], .success(output: jobs[1].payload))], types: [:])
                let (ra, rb) = try await (a, b)
                #expect(ra == [.applied] && rb == [.applied])
                let m = try await step(db, run.id, "m")
                #expect(m.status == .succeeded && m.mapDone == 2 && m.output == "[1,2]", "round \(round)")
                let next = try await db.client.jobs(JobFilter(jobType: "race.next", runId: run.id))
                #expect(next.total == 1, "the dependent starts once (round \(round))")
                _ = try await db.client.cancelRun(run.id)
            }
            await other.close()
        }
    }

    @Test(arguments: TestBackend.enabled)
    func mapIsValidatedWhenTheFlowIsDefined(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let bad = [
                #"{"slug":"x","steps":[{"slug":"a"},{"slug":"b","map":"a.items"}]}"#,
                #"{"slug":"x","steps":[{"slug":"a"},{"slug":"b","depends_on":["a"],"map":"c.items"}]}"#,
                #"{"slug":"x","steps":[{"slug":"b","map":"run..x"}]}"#,
                #"{"slug":"x","steps":[{"slug":"b","map":"run","max_elements":0}]}"#,
                #"{"slug":"x","steps":[{"slug":"b","map":"run","max_elements":100001}]}"#,
                #"{"slug":"x","steps":[{"slug":"b","max_elements":5}]}"#,
                #"{"slug":"x","steps":[{"slug":"b","map":7}]}"#,
            ]
            for text in bad {
                #expect(throws: PortableError.self, "\(text)") { _ = try FlowTests.def(text) }
                let def = try? FlowTests.def(text)
                #expect(def == nil)
            }
            let ok = try FlowTests.def(#"{"slug":"x","steps":[{"slug":"a"},{"slug":"b","depends_on":["a"],"map":"a.items.0","max_elements":100000}]}"#)
            let stored = try await db.client.defineFlow(ok)
            #expect(stored.steps[1].map == "a.items.0" && stored.steps[1].maxElements == 100_000)
            #expect(try await db.client.flow("x").steps[1].map == "a.items.0", "the map survives storage")
        }
    }
}
