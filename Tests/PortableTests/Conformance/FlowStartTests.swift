import Foundation
import Testing
@testable import Backends

/// Issue 16 §2: runs started in batches (one transaction) and, on Postgres, from SQL inside the
/// caller's transaction.
@Suite struct FlowStartTests {
    static let chain = #"{"slug":"chain","max_attempts":4,"base_delay_seconds":1.5,"timeout_seconds":90,"steps":[{"slug":"a","queue":"fq"},{"slug":"b","max_attempts":2},{"slug":"c","depends_on":["a","b"]}]}"#

    @Test(arguments: TestBackend.enabled)
    func aBatchStartsEveryRunInInputOrderInOneTransaction(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.defineFlow(try FlowTests.def(Self.chain))
            let inputs = (0..<250).map { #"{"n":\#($0)}"# }
            let ids = try await db.client.startFlows("chain", inputsJSON: inputs)
            #expect(ids.count == 250 && Set(ids).count == 250)
            #expect(try await db.client.runs(flow: "chain", limit: 1000).total == 250)
            for (i, id) in ids.enumerated() where i % 50 == 0 {
                let (run, _, jobs) = try await db.client.run(id)
                #expect(run.input == #"{"n":\#(i)}"#)
                #expect(run.steps.map(\.status) == [.queued, .queued, .waiting])
                let a = try #require(run.steps[0].jobId.flatMap { jobs[$0] })
                #expect(a.payload == #"{"run":{"n":\#(i)}}"# && a.queue == "fq" && a.runId == id)
            }
            #expect(try await db.client.jobs(JobFilter(jobType: "chain.a")).total == 250)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aBadBatchIsRefusedWholeAndStoresNothing(_ backend: TestBackend) async throws {
        var config = PortableConfig()
        config.maxPayloadBytes = 100
        try await withDB(backend, config: config) { db in
            try await db.client.defineFlow(try FlowTests.def(Self.chain))
            let empty = await #expect(throws: PortableError.self) { try await db.client.startFlows("chain", inputsJSON: []) }
            #expect(empty?.code == .invalidArgument)
            let tooMany = await #expect(throws: PortableError.self) {
                try await db.client.startFlows("chain", inputsJSON: Array(repeating: "1", count: 1001))
            }
            #expect(tooMany?.code == .invalidArgument && tooMany?.message.contains("1000") == true)
            let badJSON = await #expect(throws: PortableError.self) { try await db.client.startFlows("chain", inputsJSON: ["1", "{nope"]) }
            #expect(badJSON?.code == .badJSON && badJSON?.message.contains("runs[1]") == true)
            let big = String(repeating: "x", count: 200)
            let tooBig = await #expect(throws: PortableError.self) {
                try await db.client.startFlows("chain", inputsJSON: ["1", "\"\(big)\"", "2"])
            }
            #expect(tooBig?.code == .payloadTooLarge)
            let unknown = await #expect(throws: PortableError.self) { try await db.client.startFlows("nope", inputsJSON: ["1"]) }
            #expect(unknown?.code == .notFound)
            #expect(try await db.client.runs().total == 0, "nothing stored")
            #expect(try await db.client.jobs(JobFilter()).total == 0)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func startFlowInSQLExistsOnlyIfTheCallersTransactionCommits(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        try await withDB(backend, realClock: true) { db in
            let pg = try #require(db.driver as? PostgresDriver)
            let schema = pg.url.schema
            try await db.client.defineFlow(try FlowTests.def(Self.chain))
            let (committed, rolledBack): (String?, String?) = try await pg.with { c in
                try c.exec("BEGIN")
                _ = try c.query("SELECT \"\(schema)\".enqueue('app', 'app_row', '1')")
                let a = try c.query("SELECT \"\(schema)\".start_flow('chain', '{\"n\": 1}'::json)").string(0, 0)
                try c.exec("COMMIT")
                try c.exec("BEGIN")
                let b = try c.query("SELECT \"\(schema)\".start_flow('chain', input => '[2]')").string(0, 0)
                try c.exec("ROLLBACK")
                return (a, b)
            }
            let id = try #require(committed)
            let gone = try #require(rolledBack)
            let missing = await #expect(throws: PortableError.self) { try await db.client.run(gone) }
            #expect(missing?.code == .notFound, "the rolled-back run does not exist")
            #expect(try await db.client.jobs(JobFilter(runId: gone)).total == 0, "nor its jobs")

            // The SQL-started run is the run the library would start.
            let sqlRun = try await db.client.run(id)
            let libRun = try await db.client.run(try await db.client.startFlow("chain", inputJSON: #"{"n": 1}"#).id)
            #expect(sqlRun.run.status == .running && sqlRun.run.flowVersion == libRun.run.flowVersion)
            #expect(sqlRun.run.steps.map(\.status) == libRun.run.steps.map(\.status))
            #expect(sqlRun.run.steps.map(\.remainingDeps) == libRun.run.steps.map(\.remainingDeps))
            for slug in ["a", "b"] {
                let s = try #require(sqlRun.run.steps.first { $0.slug == slug }?.jobId.flatMap { sqlRun.jobs[$0] })
                let l = try #require(libRun.run.steps.first { $0.slug == slug }?.jobId.flatMap { libRun.jobs[$0] })
                #expect(try JSON.parse(s.payload) == JSON.parse(l.payload))
                #expect(s.queue == l.queue && s.jobType == l.jobType && s.maxAttempts == l.maxAttempts)
                #expect(s.timeoutSeconds == l.timeoutSeconds && s.backoffBaseMs == l.backoffBaseMs && s.stepSlug == slug)
                #expect(s.status == .queued && UUIDv7.isValid(s.id))
            }

            // It advances like any run: the steps' acks start the join.
            for type in ["chain.a", "chain.b"] {
                let j = try #require(try await db.client.leaseOne(types: [type], queues: nil))
                _ = try await db.client.ack(j, output: "1")
            }
            let join = try await db.client.jobs(JobFilter(jobType: "chain.c"))
            #expect(join.total >= 1)

            let unknown = await #expect(throws: PortableError.self) {
                try await pg.with { c in _ = try c.query("SELECT \"\(schema)\".start_flow('no_such_flow')") }
            }
            #expect(unknown?.code == .notFound)
        }
    }
}
