import Foundation
import Logging
import Metrics
import Prometheus
import Testing
@testable import Backends

/// The worker's own metrics through swift-metrics, read back from a swift-prometheus registry of
/// the test's own (injected, so parallel tests never share counters).
@Suite(.processes) struct ProcessMetricsTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test(arguments: TestBackend.enabled)
    func aWorkersCountersMoveWhenItRunsJobs(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let registry = PrometheusCollectorRegistry()
            let metrics = ProcessMetrics(factory: PrometheusMetricsFactory(registry: registry))
            let client = PortableClient(driver: db.driver, metrics: metrics)
            _ = try await client.enqueueMany((0..<4).map { _ in NewJob(queue: "mq", jobType: "ok") }
                                             + [NewJob(queue: "mq", jobType: "bad", maxAttempts: 1)])
            var o = WorkerOptions(id: "metrics-\(UUID().uuidString.prefix(6))")
            o.pollIntervalSeconds = 0.05
            o.leaseSeconds = 5
            o.maintenance = nil
            let w = Worker(client: client, options: o, logger: ProcessMetricsTests.quiet)
            w.register("ok") { _ in nil }
            w.register("bad") { _ in throw JobError.permanent(code: "NOPE") }
            let task = Task { try await w.run() }
            let done = try await eventually(timeout: 60) {
                let succeeded = try await db.client.jobs(JobFilter(status: .succeeded)).total
                let dead = try await db.client.jobs(JobFilter(status: .dlq)).total
                return succeeded == 4 && dead == 1
            }
            w.stop()
            try await task.value
            #expect(done)

            let e = try Exposition(registry.emitToString())
            let mq = ["queue": "mq"]
            #expect(e.types["portableq_jobs_enqueued_total"] == "counter")
            #expect(e.value("portableq_jobs_enqueued_total", mq) == 5)
            #expect(e.value("portableq_jobs_claimed_total", mq) == 5)
            #expect(e.value("portableq_attempts_total", ["queue": "mq", "outcome": "succeeded"]) == 4)
            #expect(e.value("portableq_attempts_total", ["queue": "mq", "outcome": "failed"]) == 1)
            #expect(e.value("portableq_attempts_total", ["queue": "mq", "outcome": "released"]) == 0)
            #expect(e.types["portableq_job_duration_seconds"] == "histogram")
            #expect(e.value("portableq_job_duration_seconds_count", mq) == 5)
            #expect(e.value("portableq_job_duration_seconds_bucket", ["queue": "mq", "le": "+Inf"]) == 5)
            #expect(e.value("portableq_job_start_latency_seconds_count", mq) == 5)
            #expect(e.value("portableq_jobs_in_flight") == 0, "every handler returned")
            #expect(e.value("portableq_ack_buffer_depth") == 0, "every outcome was written")
            #expect(e.value("portableq_db_round_trip_seconds_count", ["operation": "enqueue"]) == 1)
            let claims = ["claim", "ack_and_claim"].compactMap { e.value("portableq_db_round_trip_seconds_count", ["operation": $0]) }
            #expect(claims.reduce(0, +) >= 1)
            let acks = ["ack", "ack_and_claim"].compactMap { e.value("portableq_db_round_trip_seconds_count", ["operation": $0]) }
            #expect(acks.reduce(0, +) >= 1)
            #expect(e.value("portableq_db_outages_total") == 0)
        }
    }

    @Test func anOutageIsCountedOnceHoweverManyCallsFail() throws {
        let registry = PrometheusCollectorRegistry()
        let metrics = ProcessMetrics(factory: PrometheusMetricsFactory(registry: registry))
        let log = OutageLog(logger: ProcessMetricsTests.quiet, clock: TestClock(TestDB.epoch), metrics: metrics)
        for _ in 0..<3 { log.failed(PortableError(.unavailable, "down"), doing: "test") }
        #expect(try Exposition(registry.emitToString()).value("portableq_db_outages_total") == 1)
    }
}
