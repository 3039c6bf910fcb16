import Foundation
import Testing
@testable import Backends

/// Enqueue (invariant 5), claim order and type-aware claims, and reads.
@Suite struct EnqueueTests {
    @Test(arguments: TestBackend.enabled)
    func enqueueStoresWhatWasGiven(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let r = try await db.client.enqueue(NewJob(queue: "mail", jobType: "send", payloadJSON: #" { "to" : "a@b", "n": [1, 2.50, -3e2] } "#,
                                                       priority: 7, maxAttempts: 4, timeoutSeconds: 9))
            #expect(r.created)
            let j = try await db.client.job(r.job.id)
            #expect(j == r.job)
            #expect(j.payload == #"{"to":"a@b","n":[1,2.50,-3e2]}"#, "stored compact, numbers as written")
            #expect(j.queue == "mail" && j.jobType == "send" && j.priority == 7 && j.maxAttempts == 4 && j.timeoutSeconds == 9)
            #expect(j.status == .queued && j.attempts == 0 && j.createdAt == TestDB.epoch && j.runAt == TestDB.epoch)
            #expect(UUIDv7.isValid(j.id) && Array(j.id)[14] == "7", "a UUIDv7")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func idempotencyKeyReturnsTheExistingJob(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let first = try await db.client.enqueue(NewJob(jobType: "t", payloadJSON: "1", idempotencyKey: "order-1"))
            let second = try await db.client.enqueue(NewJob(jobType: "t", payloadJSON: "2", idempotencyKey: "order-1"))
            #expect(first.created && !second.created)
            #expect(second.job.id == first.job.id)
            #expect(second.job.payload == "1", "a duplicate with another payload still returns the existing job")
            let otherQueue = try await db.client.enqueue(NewJob(queue: "q2", jobType: "t", idempotencyKey: "order-1"))
            #expect(otherQueue.created, "keys are per queue")
            let a = try await db.client.add()
            let b = try await db.client.add()
            #expect(a.id != b.id, "jobs without a key are never deduplicated")

            // Finished jobs keep their key.
            let job = try #require(try await db.client.leaseOne(types: ["t"]))
            #expect(try await db.client.ack(job) == .applied)
            let third = try await db.client.enqueue(NewJob(jobType: "t", idempotencyKey: "order-1"))
            #expect(!third.created && third.job.status == .succeeded)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aBatchDedupesAgainstItselfAndTheStore(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let existing = try await db.client.add(key: "x")
            let results = try await db.client.enqueueMany([
                NewJob(jobType: "t", idempotencyKey: "x"),
                NewJob(jobType: "t", idempotencyKey: "y"),
                NewJob(jobType: "t"),
                NewJob(jobType: "t", idempotencyKey: "y"),
            ])
            #expect(results.map(\.created) == [false, true, true, false])
            #expect(results[0].job.id == existing.id)
            #expect(results[3].job.id == results[1].job.id)
            #expect(try await db.client.jobs().total == 3)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func concurrentInsertsOfOneKeyCreateOneJob(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let drivers = try (0..<4).map { _ in try db.openAnother() }
            let clients = drivers.map { PortableClient(driver: $0, clock: db.clock) }
            let results = try await withThrowingTaskGroup(of: EnqueueResult.self) { group in
                for i in 0..<16 {
                    let c = clients[i % clients.count]
                    group.addTask { try await c.enqueue(NewJob(jobType: "t", payloadJSON: "\(i)", idempotencyKey: "same")) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for d in drivers { await d.close() }
            #expect(results.filter(\.created).count == 1)
            #expect(Set(results.map(\.job.id)).count == 1)
            #expect(try await db.client.jobs().total == 1)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func claimsFollowPriorityThenRunAtThenId(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let low = try await db.client.add(priority: 0)
            let high = try await db.client.add(priority: 10)
            let later = try await db.client.add(priority: 10, runAt: TestDB.epoch.addingTimeInterval(-5))
            let future = try await db.client.add(priority: 100, delay: 60)
            let neg = try await db.client.add(priority: -1)
            let leased = try await db.client.lease(queues: ["default"], jobTypes: nil, limit: 10, leaseSeconds: 30, workerId: "w")
            #expect(leased.map(\.id) == [later.id, high.id, low.id, neg.id])
            #expect(future.runAt == TestDB.epoch.addingTimeInterval(60))
            db.clock.advance(60)
            #expect(try await db.client.leaseOne()?.id == future.id, "due once the clock reaches run_at")
        }
    }

    /// Batches go to Postgres as text arrays (quotes and backslashes escaped; columns a batch
    /// leaves unset sent as one NULL): every field must come back exactly as given, on both backends.
    @Test(arguments: TestBackend.enabled)
    func aMixedBatchRoundTripsExactly(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let payloads = [#"{"q":"say \"hi\"","path":"C:\\tmp\\x","u":"é ☃ 😀","esc":"\u0000\n\t"}"#,
                            #"["a,b","{c}",null,"NULL",1.5e3]"#, #""just a string""#, "null", #"{"nested":{"a":[{"b":"}"}]}}"#]
            let at = TestDB.epoch.addingTimeInterval(30)
            let batch = [
                NewJob(queue: "mix", jobType: "t", payloadJSON: payloads[0], priority: 3),
                NewJob(queue: "mix", jobType: "t", payloadJSON: payloads[1], delaySeconds: 5, maxAttempts: 7),
                NewJob(queue: "mix", jobType: "t", payloadJSON: payloads[2], runAt: at, timeoutSeconds: 9, backoffBaseMs: 250),
                NewJob(queue: "mix", jobType: "t", payloadJSON: payloads[3], idempotencyKey: #"key "with" \ quotes,{}"#),
                NewJob(queue: "mix", jobType: "t", payloadJSON: payloads[4]),
            ]
            let made = try await db.client.enqueueMany(batch)
            #expect(made.allSatisfy { $0.created })
            for (i, r) in made.enumerated() {
                let j = try await db.client.job(r.job.id)
                #expect(j.payload == payloads[i], "payload \(i) came back as \(j.payload)")
                #expect(j.priority == batch[i].priority && j.maxAttempts == batch[i].maxAttempts)
                #expect(j.timeoutSeconds == batch[i].timeoutSeconds && j.backoffBaseMs == batch[i].backoffBaseMs)
                #expect(j.idempotencyKey == batch[i].idempotencyKey)
            }
            var runAts: [Date] = []
            for r in made { runAts.append(try await db.client.job(r.job.id).runAt) }
            #expect(runAts == [TestDB.epoch, TestDB.epoch.addingTimeInterval(5), at, TestDB.epoch, TestDB.epoch])
            let again = try await db.client.enqueue(NewJob(queue: "mix", jobType: "t", idempotencyKey: #"key "with" \ quotes,{}"#))
            #expect(!again.created && again.job.id == made[3].job.id)
            // An output with the same characters, through the ack's arrays.
            let job = try #require(try await db.client.leaseOne(queues: ["mix"]))
            #expect(try await db.client.ack(job, output: payloads[0]) == .applied)
            #expect(try await db.client.job(job.id).output == payloads[0])
        }
    }

    /// Several queues are claimed per queue and merged (see `PostgresSQL.pick`): the result must
    /// still be the global order, take more than `limit` from no queue, skip restricted queues,
    /// and the ack-and-claim statement must agree with the plain claim.
    @Test(arguments: TestBackend.enabled)
    func claimsAcrossQueuesKeepTheGlobalOrder(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            var want: [String: Job] = [:]
            for (queue, priorities) in [("a", [5, 1, 1, 0]), ("b", [3, 3, 2]), ("c", [9]), ("paused", [50])] {
                for (i, p) in priorities.enumerated() {
                    want["\(queue)\(i)"] = try await db.client.add(queue: queue, priority: p)
                }
            }
            _ = try await db.client.pause("paused")
            func ids(_ keys: [String]) -> [String] { keys.map { want[$0]!.id } }
            let every = try await db.client.lease(queues: nil, jobTypes: nil, limit: 4, leaseSeconds: 30, workerId: "w")
            #expect(every.map(\.id) == ids(["c0", "a0", "b0", "b1"]), "every queue: the global order, paused skipped")
            let two = try await db.client.lease(queues: ["b", "a", "b"], jobTypes: nil, limit: 3, leaseSeconds: 30, workerId: "w")
            #expect(two.map(\.id) == ids(["b2", "a1", "a2"]), "a list of queues (with a repeat): the global order")
            let acked = try await db.client.completeAndLease([(two[0], .success(output: nil))], types: [:], queues: nil,
                                                             jobTypes: nil, limit: 5, leaseSeconds: 30, workerId: "w")
            #expect(acked.acks == [.applied])
            #expect(acked.jobs.map(\.id) == ids(["a3"]), "ack and claim: what is left, paused still skipped")
            _ = try await db.client.resume("paused")
            #expect(try await db.client.leaseOne(queues: nil)?.id == want["paused0"]!.id)
            #expect(try await db.client.leaseOne(queues: nil) == nil)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func claimsAreTypeAwareAndQueueScoped(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let a = try await db.client.add("resize")
            let b = try await db.client.add("email")
            let c = try await db.client.add("resize", queue: "other")
            #expect(try await db.client.leaseOne(types: ["email"])?.id == b.id)
            #expect(try await db.client.leaseOne(types: ["email"]) == nil)
            #expect(try await db.client.leaseOne(types: ["pdf"]) == nil)
            #expect(try await db.client.leaseOne(types: ["resize"])?.id == a.id)
            #expect(try await db.client.leaseOne(types: ["resize"], queues: nil)?.id == c.id, "nil queues: every queue")
            #expect(try await db.client.lease(queues: ["default"], jobTypes: [], limit: 5, leaseSeconds: 30, workerId: "w").isEmpty)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func badInputIsRefusedAndNothingIsStored(_ backend: TestBackend) async throws {
        var config = PortableConfig()
        config.maxPayloadBytes = 64
        try await withDB(backend, config: config) { db in
            let cases: [(NewJob, PortableError.Code)] = [
                (NewJob(jobType: "t", payloadJSON: "{\"a\":"), .badJSON),
                (NewJob(jobType: "t", payloadJSON: "{} extra"), .badJSON),
                (NewJob(queue: "bad queue", jobType: "t"), .invalidArgument),
                (NewJob(jobType: String(repeating: "x", count: 129)), .invalidArgument),
                (NewJob(jobType: "t", maxAttempts: 0), .invalidArgument),
                (NewJob(jobType: "t", runAt: TestDB.epoch, delaySeconds: 1), .invalidArgument),
                (NewJob(jobType: "t", payloadJSON: "\"" + String(repeating: "x", count: 80) + "\""), .payloadTooLarge),
                (NewJob(jobType: "t", idempotencyKey: ""), .invalidArgument),
            ]
            for (job, code) in cases {
                let e = await #expect(throws: PortableError.self) { try await db.client.enqueue(job) }
                #expect(e?.code == code, "\(job)")
            }
            // A batch with one bad job is refused whole.
            let e = await #expect(throws: PortableError.self) {
                try await db.client.enqueueMany([NewJob(jobType: "t"), NewJob(jobType: "t", payloadJSON: "nope")])
            }
            #expect(e?.code == .badJSON)
            let stored = try await db.client.jobs().total
            #expect(stored == 0)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func listsFilterPageAndCapTheirCount(_ backend: TestBackend) async throws {
        var config = PortableConfig()
        config.countCap = 5
        try await withDB(backend, config: config) { db in
            _ = try await db.client.enqueueMany((0..<8).map { i in NewJob(queue: i < 6 ? "a" : "b", jobType: i % 2 == 0 ? "even" : "odd") })
            let all = try await db.client.jobs(limit: 3)
            #expect(all.items.count == 3 && all.total == 5 && all.totalCapped)
            let b = try await db.client.jobs(JobFilter(queue: "b"))
            #expect(b.total == 2 && !b.totalCapped && b.items.allSatisfy { $0.queue == "b" })
            let evenA = try await db.client.jobs(JobFilter(queue: "a", jobType: "even"))
            #expect(evenA.total == 3)
            let page2 = try await db.client.jobs(JobFilter(queue: "a"), limit: 4, offset: 4)
            #expect(page2.items.count == 2)
            let ids = try await db.client.jobs(JobFilter(queue: "a"), limit: 10).items.map(\.id)
            #expect(ids == ids.sorted(by: >), "newest first")
            #expect(try await db.client.jobs(JobFilter(status: .running)).total == 0)
            let e = await #expect(throws: PortableError.self) { try await db.client.jobs(limit: 0) }
            #expect(e?.code == .invalidArgument)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func unknownIdsAreNotFoundAndMalformedOnesAreBadUsage(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let e = await #expect(throws: PortableError.self) { try await db.client.job("0190a0b0-0000-7000-8000-000000000000") }
            #expect(e?.code == .notFound)
            for id in ["nope", "", "0190a0b0-0000-7000-8000-00000000000z"] {
                let e = await #expect(throws: PortableError.self) { try await db.client.job(id) }
                #expect(e?.code == .invalidArgument, "\(id)")
                let r = await #expect(throws: PortableError.self) { try await db.client.run(id) }
                #expect(r?.code == .invalidArgument, "\(id)")
            }
        }
    }
}
