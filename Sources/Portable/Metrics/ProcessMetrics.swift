import Foundation
import Metrics
import Synchronization

/// This process's own figures, recorded through the swift-metrics API: whatever backend the
/// application bootstrapped receives them (the CLI bootstraps Prometheus; the library never
/// bootstraps). Cluster-wide figures come from the database instead (`ClusterFigures`).
///
/// Metric objects are made once per queue (and operation) and cached, so the per-job cost is one
/// dictionary lookup under a lock and the handler's own increments — no label arrays per job.
public final class ProcessMetrics: Sendable {
    /// The metric names (docs/OPERATIONS.md lists them with their labels).
    public enum Name {
        public static let enqueued = "portableq_jobs_enqueued_total"
        public static let claimed = "portableq_jobs_claimed_total"
        /// Attempts whose outcome this process wrote, by `queue` and `outcome` (the name predates this file).
        public static let completed = "portableq_attempts_total"
        /// Handler run time by `queue` (the name predates this file).
        public static let duration = "portableq_job_duration_seconds"
        public static let startLatency = "portableq_job_start_latency_seconds"
        public static let inFlight = "portableq_jobs_in_flight"
        public static let ackBufferDepth = "portableq_ack_buffer_depth"
        public static let dbRoundTrip = "portableq_db_round_trip_seconds"
        public static let outages = "portableq_db_outages_total"
    }

    /// Database round trips timed by the worker and the enqueue path, by `operation`.
    public enum Operation: String, CaseIterable, Sendable {
        case enqueue, claim, ack, ackAndClaim = "ack_and_claim", heartbeat, release
    }

    /// The attempt outcomes counted by `portableq_attempts_total` (`AckBuffer.outcomeName`).
    static let outcomes = ["succeeded", "failed", "released", "lease_expired"]

    /// One queue's metric objects, made at its first event (outcomes at zero included).
    final class Queue: Sendable {
        let enqueued: Counter
        let claimed: Counter
        let completed: [String: Counter]
        let duration: Metrics.Timer
        let startLatency: Metrics.Timer

        init(_ queue: String, factory: any MetricsFactory) {
            let q = [("queue", queue)]
            enqueued = Counter(label: Name.enqueued, dimensions: q, factory: factory)
            claimed = Counter(label: Name.claimed, dimensions: q, factory: factory)
            completed = Dictionary(uniqueKeysWithValues: ProcessMetrics.outcomes.map {
                ($0, Counter(label: Name.completed, dimensions: q + [("outcome", $0)], factory: factory))
            })
            duration = Metrics.Timer(label: Name.duration, dimensions: q, factory: factory)
            startLatency = Metrics.Timer(label: Name.startLatency, dimensions: q, factory: factory)
        }
    }

    /// The process-wide instance on the bootstrapped factory (made at first use: bootstrap first).
    public static let shared = ProcessMetrics()

    private let factory: any MetricsFactory
    private let queues = Mutex<[String: Queue]>([:])
    private let roundTrips: [Operation: Metrics.Timer]
    let inFlight: Meter
    let ackBufferDepth: Meter
    let outages: Counter

    /// `factory` nil: the one `MetricsSystem.bootstrap` installed (a no-op one when none was).
    public init(factory: (any MetricsFactory)? = nil) {
        let f = factory ?? MetricsSystem.factory
        self.factory = f
        roundTrips = Dictionary(uniqueKeysWithValues: Operation.allCases.map {
            ($0, Metrics.Timer(label: Name.dbRoundTrip, dimensions: [("operation", $0.rawValue)], factory: f))
        })
        inFlight = Meter(label: Name.inFlight, factory: f)
        ackBufferDepth = Meter(label: Name.ackBufferDepth, factory: f)
        outages = Counter(label: Name.outages, factory: f)
    }

    func queue(_ name: String) -> Queue {
        if let q = queues.withLock({ $0[name] }) { return q }
        let made = Queue(name, factory: factory)
        return queues.withLock { qs in
            if let q = qs[name] { return q }
            qs[name] = made
            return made
        }
    }

    /// `outcome` is one of `outcomes` (`AckBuffer.outcomeName`).
    func completed(queue: String, outcome: String) {
        self.queue(queue).completed[outcome]?.increment()
    }

    /// Times one database round trip.
    func timed<T>(_ op: Operation, _ body: () async throws -> T) async rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { roundTrips[op]?.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds &- start)) }
        return try await body()
    }

    static func nanoseconds(_ seconds: Double) -> Int64 {
        Int64((max(0, seconds) * 1e9).rounded())
    }
}
