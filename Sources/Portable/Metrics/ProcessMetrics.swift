import Foundation
import Synchronization

/// This process's own counters and job-duration histogram, for `/metrics/prom`
/// (`portableq_attempts_total{queue,outcome}`, `portableq_job_duration_seconds`). Cluster-wide
/// figures come from the database instead.
public final class ProcessMetrics: Sendable {
    public static let shared = ProcessMetrics()

    /// Histogram bucket upper bounds, in seconds.
    public static let buckets: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

    public struct Snapshot: Sendable {
        public var attempts: [String: [String: Int]]   // queue → outcome → count
        public var durationBuckets: [String: [Int]]     // queue → cumulative-ready bucket counts (non-cumulative)
        public var durationSum: [String: Double]
        public var durationCount: [String: Int]
    }

    private let state = Mutex(Snapshot(attempts: [:], durationBuckets: [:], durationSum: [:], durationCount: [:]))

    public init() {}

    public func record(queue: String, outcome: String, seconds: Double?) {
        state.withLock { s in
            s.attempts[queue, default: [:]][outcome, default: 0] += 1
            guard let seconds else { return }
            var b = s.durationBuckets[queue] ?? [Int](repeating: 0, count: ProcessMetrics.buckets.count)
            if let i = ProcessMetrics.buckets.firstIndex(where: { seconds <= $0 }) { b[i] += 1 }
            s.durationBuckets[queue] = b
            s.durationSum[queue, default: 0] += seconds
            s.durationCount[queue, default: 0] += 1
        }
    }

    public var snapshot: Snapshot { state.withLock { $0 } }
}
