import Foundation
import Synchronization
import Testing
@testable import Backends

/// Workflows on both backends: definitions, versions, dependencies, outputs, failure, cancel.
@Suite struct FlowTests {
    static func def(_ json: String) throws -> FlowDefinition { try FlowDefinition.parse(try JSON.parse(json)) }

    static let diamond = #"{"slug":"diamond","max_attempts":2,"steps":[{"slug":"a"},{"slug":"b","depends_on":["a"]},{"slug":"c","depends_on":["a"]},{"slug":"d","depends_on":["b","c"]}]}"#

    /// Leases the next job of `type` and acks it with `output`.
    func finish(_ db: TestDB, _ type: String, output: String, client: PortableClient? = nil) async throws -> Job {
        let c = client ?? db.client
        let job = try #require(try await c.lease(queues: nil, jobTypes: [type], limit: 1, leaseSeconds: 30, workerId: "w").first,
                               "a job of type \(type) is due")
        #expect(try await c.ack(job, output: output) == .applied)
        return job
    }

    @Test(arguments: TestBackend.enabled)
    func badDefinitionsAreRefusedAndNothingIsStored(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let cases = [
                #"{"slug":"x","steps":[{"slug":"a","depends_on":["b"]},{"slug":"b","depends_on":["a"]}]}"#,
                #"{"slug":"x","steps":[{"slug":"a","depends_on":["nope"]}]}"#,
                #"{"slug":"x","steps":[{"slug":"a"},{"slug":"a"}]}"#,
                #"{"slug":"x","steps":[]}"#,
                #"{"slug":"bad slug","steps":[{"slug":"a"}]}"#,
                #"{"slug":"x","steps":[{"slug":"a","depends_on":["a"]}]}"#,
            ]
            for text in cases {
                let e = #expect(throws: PortableError.self) { try Self.def(text) }
                #expect(e?.code == .invalidArgument, "\(text)")
            }
            let cycle = #expect(throws: PortableError.self) { try Self.def(cases[0]) }
            #expect(cycle?.message.contains("cycle") == true)
            let stored = try await db.client.flows()
            #expect(stored.isEmpty)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func redefiningMakesANewVersionAndRunsKeepTheirs(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let v1 = try await db.client.defineFlow(try Self.def(#"{"slug":"f","steps":[{"slug":"a"},{"slug":"b","depends_on":["a"]}]}"#))
            #expect(v1.version == 1 && v1.steps[1].jobType == "f.b")
            #expect(try await db.client.defineFlow(v1).version == 1, "the same definition again is a no-op")
            let run1 = try await db.client.startFlow("f", inputJSON: "1")
            let v2 = try await db.client.defineFlow(try Self.def(#"{"slug":"f","steps":[{"slug":"a"},{"slug":"c","depends_on":["a"]}]}"#))
            #expect(v2.version == 2)
            _ = try await finish(db, "f.a", output: #""A""#)
            let r = try await db.client.run(run1.id)
            #expect(r.run.flowVersion == 1 && r.run.steps.map(\.slug) == ["a", "b"])
            #expect(r.run.steps[1].status == .queued, "v1's b follows, not v2's c")
            #expect(try await db.client.startFlow("f").flowVersion == 2)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func outputsFlowToDependentsExactly(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.defineFlow(try Self.def(Self.diamond))
            let run = try await db.client.startFlow("diamond", inputJSON: #"{"order": 7}"#)
            #expect(run.steps.map(\.status) == [.queued, .waiting, .waiting, .waiting])
            let a = try await finish(db, "diamond.a", output: #"{"a":1}"#)
            #expect(a.payload == #"{"run":{"order":7}}"#)
            #expect(a.runId == run.id && a.stepSlug == "a")
            let b = try await finish(db, "diamond.b", output: #""from b""#)
            #expect(b.payload == #"{"run":{"order":7},"a":{"a":1}}"#)
            #expect(try await db.client.run(run.id).run.steps.first { $0.slug == "d" }?.status == .waiting, "d still waits for c")
            let json = try await db.client.runJSON(run.id)
            let d = json["steps"]?.arrayValue?.first { $0["slug"]?.stringValue == "d" }
            #expect(d?["reason_code"] == .string("WAITING_FOR_DEPENDENCIES") && d?["waiting_for"] == .array([.string("c")]))
            _ = try await finish(db, "diamond.c", output: "[3]")
            let dj = try await finish(db, "diamond.d", output: "true")
            #expect(dj.payload == #"{"run":{"order":7},"b":"from b","c":[3]}"#)
            let done = try await db.client.run(run.id)
            #expect(done.run.status == .succeeded && done.run.finishedAt != nil)
            #expect(done.run.steps.map(\.output) == [#"{"a":1}"#, #""from b""#, "[3]", "true"])
            let tl = try await db.client.timeline(dj.id)
            #expect(tl.events[0].extra.contains { $0.0 == "run_id" && $0.1 == .string(run.id) })
            let explain = try await db.client.explain(dj.id)
            #expect(explain.message.hasPrefix("Step d of run \(run.id)"))
        }
    }

    @Test(arguments: TestBackend.enabled)
    func twoDependenciesAckedAtOnceStartTheJoinOnce(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.defineFlow(try Self.def(Self.diamond))
            for _ in 0..<5 {
                let run = try await db.client.startFlow("diamond")
                _ = try await finish(db, "diamond.a", output: "1")
                let jobs = try await db.client.lease(queues: nil, jobTypes: ["diamond.b", "diamond.c"], limit: 2, leaseSeconds: 30, workerId: "w")
                #expect(jobs.count == 2)
                let other = PortableClient(driver: try db.openAnother(), clock: db.clock)
                async let x = db.client.ack(jobs[0], output: "2")
                async let y = other.ack(jobs[1], output: "3")
                _ = try await (x, y)
                await other.driver.close()
                let d = try await db.client.jobs(JobFilter(jobType: "diamond.d", runId: run.id))
                #expect(d.total == 1, "exactly one job for the join")
                _ = try await finish(db, "diamond.d", output: "4")
                #expect(try await db.client.run(run.id).run.status == .succeeded)
            }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aRetriedStepSucceedsAndADeadLetteredOneFailsTheRun(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.defineFlow(try Self.def(Self.diamond))
            let run = try await db.client.startFlow("diamond")
            _ = try await finish(db, "diamond.a", output: "1")
            let b = try #require(try await db.client.leaseOne(types: ["diamond.b"]))
            #expect(try await db.client.fail(b) == .applied)
            #expect(try await db.client.run(run.id).run.status == .running, "a retry is not a failure of the run")
            db.clock.advance(60)
            _ = try await finish(db, "diamond.b", output: "2")
            let c1 = try #require(try await db.client.leaseOne(types: ["diamond.c"]))
            _ = try await db.client.fail(c1)
            db.clock.advance(60)
            let c2 = try #require(try await db.client.leaseOne(types: ["diamond.c"]))
            _ = try await db.client.fail(c2, code: "C_BROKE")  // max_attempts 2: dead-lettered
            let failed = try await db.client.run(run.id)
            #expect(failed.run.status == .failed && failed.run.failedStep == "c")
            #expect(failed.run.steps.map(\.status) == [.succeeded, .succeeded, .failed, .skipped])
            #expect(try await db.client.jobs(JobFilter(jobType: "diamond.d")).total == 0, "nothing downstream started")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func cancellingARunCancelsItsStepJobs(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.defineFlow(try Self.def(Self.diamond))
            let run = try await db.client.startFlow("diamond")
            _ = try await finish(db, "diamond.a", output: "1")
            let b = try #require(try await db.client.leaseOne(types: ["diamond.b"]))
            let cancelled = try await db.client.cancelRun(run.id)
            #expect(cancelled.status == .cancelled)
            #expect(cancelled.steps.map(\.status) == [.succeeded, .cancelled, .cancelled, .cancelled])
            #expect(try await db.client.ack(b) == .leaseLost, "the running step lost its lease")
            let jobs = try await db.client.jobs(JobFilter(runId: run.id)).items
            #expect(jobs.filter { $0.stepSlug != "a" }.allSatisfy { $0.status == .cancelled })
            #expect(try await db.client.jobs(JobFilter(jobType: "diamond.d")).total == 0)
            let again = await #expect(throws: PortableError.self) { try await db.client.cancelRun(run.id) }
            #expect(again?.code == .conflict)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aFanOutOfAHundredStepsJoinsAgain(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let seen = Mutex<Int>(0)
            let flow = Flow("fan") {
                Step("split") { ctx in try ctx.decodeInput(Int.self) }
                for i in 0..<100 {
                    Step("part\(i)", dependsOn: ["split"]) { ctx in try ctx.decodeOutput(of: "split", as: Int.self) + i }
                }
                Step("join", dependsOn: (0..<100).map { "part\($0)" }) { ctx in
                    seen.withLock { $0 += 1 }
                    return try (0..<100).reduce(0) { $0 + (try ctx.decodeOutput(of: "part\($1)", as: Int.self)) }
                }
            }
            try await db.client.defineFlow(flow.definition)
            let worker = WorkerRuntimeTests().makeWorker(db, concurrency: 20)
            worker.register(flow)
            let run = try await db.client.startFlow("fan", inputJSON: "1000")
            try await WorkerRuntimeTests().run(worker) { try await db.client.run(run.id).run.status == .succeeded }
            let done = try await db.client.run(run.id)
            #expect(done.run.steps.last?.output == String(100 * 1000 + (0..<100).reduce(0, +)))
            #expect(seen.withLock { $0 } == 1)
        }
    }
}
