import Foundation
import Testing
@testable import Backends
@testable import Portable

/// Unique jobs by state and period (issue 15 §1): computed in the core, enforced by jobs_unique_idx.
@Suite struct UniqueJobTests {
    static let byUser = UniqueSpec(by: ["job_type", "payload.user"])

    @Test(arguments: TestBackend.enabled)
    func aLiveMatchIsReturnedInsteadOfASecondJob(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let first = try await db.client.enqueue(NewJob(jobType: "sync", payloadJSON: #"{"user":1,"n":1}"#, unique: Self.byUser))
            let second = try await db.client.enqueue(NewJob(jobType: "sync", payloadJSON: #"{"n":2,"user":1}"#, unique: Self.byUser))
            #expect(first.created && first.duplicate == nil)
            #expect(!second.created && second.duplicate == .unique && !second.replaced)
            #expect(second.job.id == first.job.id && second.job.payload == #"{"user":1,"n":1}"#, "skip leaves the match as it was")
            let otherUser = try await db.client.enqueue(NewJob(jobType: "sync", payloadJSON: #"{"user":2}"#, unique: Self.byUser))
            #expect(otherUser.created)
            let otherType = try await db.client.enqueue(NewJob(jobType: "other", payloadJSON: #"{"user":1}"#, unique: Self.byUser))
            #expect(otherType.created, "job_type is one of the fields")
            let plain = try await db.client.enqueue(NewJob(jobType: "sync", payloadJSON: #"{"user":1}"#))
            #expect(plain.created, "a job without unique is never matched")

            // Running still holds the key (default states queued, running); succeeded does not.
            let running = try #require(try await db.client.leaseOne(types: ["sync"]))
            #expect(running.id == first.job.id)
            let whileRunning = try await db.client.enqueue(NewJob(jobType: "sync", payloadJSON: #"{"user":1}"#, unique: Self.byUser))
            #expect(!whileRunning.created && whileRunning.job.status == .running)
            #expect(try await db.client.ack(running) == .applied)
            let after = try await db.client.enqueue(NewJob(jobType: "sync", payloadJSON: #"{"user":1}"#, unique: Self.byUser))
            #expect(after.created && after.job.id != first.job.id)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func chosenStatesDecideHowLongTheKeyIsHeld(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let spec = UniqueSpec(by: ["queue", "job_type"], states: [.queued, .running, .succeeded])
            let first = try await db.client.enqueue(NewJob(jobType: "report", unique: spec))
            let job = try #require(try await db.client.leaseOne(types: ["report"]))
            #expect(try await db.client.ack(job) == .applied)
            let blocked = try await db.client.enqueue(NewJob(jobType: "report", unique: spec))
            #expect(!blocked.created && blocked.job.id == first.job.id && blocked.job.status == .succeeded)

            // dlq is not among the states: a dead-lettered holder frees the key.
            let failing = UniqueSpec(by: ["job_type"])
            let f = try await db.client.enqueue(NewJob(jobType: "flaky", maxAttempts: 1, unique: failing))
            let leased = try #require(try await db.client.leaseOne(types: ["flaky"]))
            #expect(try await db.client.fail(leased, retryable: false) == .applied)
            #expect(try await db.client.job(f.job.id).status == .dlq)
            let fresh = try await db.client.enqueue(NewJob(jobType: "flaky", unique: failing))
            #expect(fresh.created)
            // Retrying the dead one would make two holders: refused, nothing changes.
            await #expect(throws: PortableError.self) { _ = try await db.client.retry(f.job.id) }
            #expect(try await db.client.job(f.job.id).status == .dlq)
            do { _ = try await db.client.retry(f.job.id) } catch let e as PortableError {
                #expect(e.code == .conflict && e.message.contains("unique key"), "\(e)")
            }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aPeriodStartsANewKeyEachSlot(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            // TestDB.epoch (1_800_000_000) is a multiple of 60: a fresh slot starts there.
            let spec = UniqueSpec(by: ["job_type"], periodSeconds: 60)
            let a = try await db.client.enqueue(NewJob(jobType: "tick", unique: spec))
            db.clock.advance(59)
            let b = try await db.client.enqueue(NewJob(jobType: "tick", unique: spec))
            #expect(a.created && !b.created && b.job.id == a.job.id, "same slot")
            db.clock.advance(1)
            let c = try await db.client.enqueue(NewJob(jobType: "tick", unique: spec))
            #expect(c.created, "next slot, though the first job is still queued")
            #expect(try await db.client.jobs().total == 2)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func replaceDebouncesAQueuedMatchOnly(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let spec = UniqueSpec(by: ["job_type", "payload.doc"], onConflict: .replace)
            let first = try await db.client.enqueue(NewJob(jobType: "index", payloadJSON: #"{"doc":7,"v":1}"#, delaySeconds: 10, unique: spec))
            let second = try await db.client.enqueue(NewJob(jobType: "index", payloadJSON: #"{"doc":7,"v":2}"#, delaySeconds: 30, unique: spec))
            #expect(!second.created && second.replaced && second.duplicate == .unique)
            #expect(second.job.id == first.job.id)
            let stored = try await db.client.job(first.job.id)
            #expect(stored.payload == #"{"doc":7,"v":2}"# && stored.runAt == TestDB.epoch.addingTimeInterval(30), "\(stored)")
            #expect(second.job == stored, "the answer shows the job as replaced")

            db.clock.advance(30)
            let running = try #require(try await db.client.leaseOne(types: ["index"]))
            let third = try await db.client.enqueue(NewJob(jobType: "index", payloadJSON: #"{"doc":7,"v":3}"#, unique: spec))
            #expect(!third.created && !third.replaced && third.job.id == running.id, "a running match acts as skip")
            #expect(try await db.client.job(running.id).payload == #"{"doc":7,"v":2}"#)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func theIdempotencyKeyIsCheckedFirst(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let spec = UniqueSpec(by: ["job_type"])
            let a = try await db.client.enqueue(NewJob(jobType: "a", idempotencyKey: "k1", unique: spec))
            let byKey = try await db.client.enqueue(NewJob(jobType: "b", idempotencyKey: "k1", unique: spec))
            #expect(!byKey.created && byKey.duplicate == .idempotencyKey && byKey.job.id == a.job.id)
            let byUnique = try await db.client.enqueue(NewJob(jobType: "a", idempotencyKey: "k2", unique: spec))
            #expect(!byUnique.created && byUnique.duplicate == .unique && byUnique.job.id == a.job.id)
            // The unique duplicate did not keep k2: once the holder is done, k2 creates a job.
            let job = try #require(try await db.client.leaseOne(types: ["a"]))
            #expect(try await db.client.ack(job) == .applied)
            let later = try await db.client.enqueue(NewJob(jobType: "a", idempotencyKey: "k2", unique: spec))
            #expect(later.created && later.job.idempotencyKey == "k2")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func duplicatesInOneBatchResolveToTheFirst(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let spec = UniqueSpec(by: ["payload.k"])
            let existing = try await db.client.enqueue(NewJob(jobType: "t", payloadJSON: #"{"k":"old"}"#, unique: spec))
            let results = try await db.client.enqueueMany([
                NewJob(jobType: "t", payloadJSON: #"{"k":"new"}"#, unique: spec),
                NewJob(jobType: "t", payloadJSON: #"{"k":"old"}"#, unique: spec),
                NewJob(jobType: "t", payloadJSON: #"{"k":"new","x":1}"#, unique: spec),
                NewJob(jobType: "t", payloadJSON: #"{"k":"other"}"#),
            ])
            #expect(results.map(\.created) == [true, false, false, true])
            #expect(results[1].job.id == existing.job.id && results[2].job.id == results[0].job.id)
            #expect(results[2].duplicate == .unique)
            #expect(try await db.client.jobs().total == 3)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func uniqueDuplicatesComeBeforeTheGuardrails(_ backend: TestBackend) async throws {
        var config = PortableConfig()
        config.maxEnqueuePerMinute = 1
        config.maxPayloadBytes = 20
        try await withDB(backend, config: config) { db in
            let spec = UniqueSpec(by: ["job_type"])
            let first = try await db.client.enqueue(NewJob(jobType: "t", unique: spec))
            let again = try await db.client.enqueue(NewJob(jobType: "t", payloadJSON: #""a long payload over twenty bytes""#, unique: spec))
            #expect(!again.created && again.job.id == first.job.id, "neither the rate nor the size refuses a duplicate")
            let replace = UniqueSpec(by: ["job_type"], onConflict: .replace)
            let replaced = try await db.client.enqueue(NewJob(jobType: "t", payloadJSON: "2", unique: replace))
            #expect(replaced.replaced && replaced.job.payload == "2", "a replace takes no enqueue token")
            await #expect(throws: PortableError.self) { _ = try await db.client.enqueue(NewJob(jobType: "other")) }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func badUniqueSpecsAreRefusedAndStoreNothing(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let bad: [UniqueSpec] = [
                UniqueSpec(by: []),
                UniqueSpec(by: ["tenant"]),
                UniqueSpec(by: ["payload."]),
                UniqueSpec(states: [.queued]),
                UniqueSpec(states: [.queued, .running, .archived]),
                UniqueSpec(periodSeconds: 0),
            ]
            for spec in bad {
                do {
                    _ = try await db.client.enqueue(NewJob(jobType: "t", unique: spec))
                    Issue.record("accepted \(spec)")
                } catch let e as PortableError {
                    #expect(e.code == .invalidArgument && e.message.hasPrefix("unique"), "\(e)")
                }
            }
            #expect(throws: PortableError.self) { _ = try UniqueSpec.parse(.object([("on_conflict", .string("merge"))])) }
            #expect(throws: PortableError.self) { _ = try UniqueSpec.parse(.object([("bogus", .int(1))])) }
            #expect(try await db.client.jobs().total == 0)
        }
    }

    /// Many producers with their own connections race to enqueue the same unique jobs: the
    /// index lets exactly one job per key in, and every producer is told which.
    @Test(arguments: TestBackend.enabled)
    func manyProducersCreateOneJobPerKey(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let producers = 8, rounds = 25, keys = 5
            var drivers: [any StorageDriver] = []
            for _ in 0..<producers { drivers.append(try db.openAnother()) }
            let clients = drivers.map { PortableClient(driver: $0, clock: db.clock) }
            let spec = UniqueSpec(by: ["job_type", "payload.k"])
            let results = try await withThrowingTaskGroup(of: [EnqueueResult].self) { group in
                for client in clients {
                    group.addTask {
                        var out: [EnqueueResult] = []
                        for i in 0..<rounds {
                            let k = i % keys
                            if i % 2 == 0 {
                                out.append(try await client.enqueue(NewJob(jobType: "race", payloadJSON: #"{"k":\#(k)}"#, unique: spec)))
                            } else {
                                out += try await client.enqueueMany([
                                    NewJob(jobType: "race", payloadJSON: #"{"k":\#(k)}"#, unique: spec),
                                    NewJob(jobType: "race", payloadJSON: #"{"k":\#((k + 1) % keys)}"#, unique: spec),
                                ])
                            }
                        }
                        return out
                    }
                }
                var all: [EnqueueResult] = []
                for try await r in group { all += r }
                return all
            }
            for d in drivers { await d.close() }
            #expect(results.filter(\.created).count == keys, "one created per key")
            let idsByKey = Dictionary(grouping: results, by: { $0.job.payload }).mapValues { Set($0.map(\.job.id)) }
            #expect(idsByKey.count == keys && idsByKey.values.allSatisfy { $0.count == 1 }, "everyone got the same job per key")
            #expect(try await db.client.jobs().total == keys)
        }
    }

    @Test func theKeyIsCanonicalAndHashed() throws {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(String(repeating: "a", count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
        let spec = UniqueSpec(by: ["payload"])
        let at = Date(timeIntervalSince1970: 0)
        let a = try spec.key(queue: "q", jobType: "t", payload: #"{"a":1,"b":{"d":2,"c":3}}"#, at: at)
        let b = try spec.key(queue: "other", jobType: "x", payload: #"{"b":{"c":3,"d":2},"a":1}"#, at: at)
        #expect(a == b && a.hasPrefix("u1:") && a.count == 67, "key order does not matter; queue and type are not chosen")
        let missing = try UniqueSpec(by: ["payload.x"]).key(queue: "q", jobType: "t", payload: "{}", at: at)
        let null = try UniqueSpec(by: ["payload.x"]).key(queue: "q", jobType: "t", payload: #"{"x":null}"#, at: at)
        #expect(missing == null, "a missing field counts as null")
        #expect(try UniqueSpec(by: ["queue"]).key(queue: "a", jobType: "t", payload: "1", at: at)
                != UniqueSpec(by: ["job_type"]).key(queue: "a", jobType: "a", payload: "1", at: at), "field names are in the key")
    }
}
