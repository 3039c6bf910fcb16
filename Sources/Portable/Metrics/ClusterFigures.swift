import Foundation
import Synchronization

/// The cluster-wide figures of `/metrics/prom` and `metrics --prom`, read from the database with
/// bounded reads only (capped queue counts, a capped attempt sample, the worker and policy
/// lists): the JSON snapshot of the last 60 s for every known queue — zeros included — plus live
/// workers per queue and per job type.
public struct ClusterFigures: Sendable {
    public var snapshot: MetricsSnapshot
    /// Every known queue, sorted, with its figures (zeros for a queue with nothing live or recent).
    public var queues: [(queue: String, figures: MetricsSnapshot.Figures)]
    /// Live workers serving each known queue (a worker without a queue list serves them all).
    public var workersByQueue: [String: Int]
    /// Live workers serving each known job type (recorded by a worker, or named by a live one; a
    /// worker without a type list serves them all).
    public var workersByType: [String: Int]
}

/// Queues this process has seen in the database (live jobs, recent attempts, policies, workers'
/// lists, its own enqueues): a queue stays in the exposition after its last job finished, so
/// its series drop to zero instead of going blank.
final class KnownQueues: Sendable {
    private let names = Mutex(Set<String>())

    func add<S: Sequence>(_ more: S) -> [String] where S.Element == String {
        names.withLock { n in
            n.formUnion(more)
            return n.sorted()
        }
    }
}

extension PortableClient {
    /// The cluster figures over the last `windowSeconds` (default 60), for every known queue.
    public func clusterFigures(windowSeconds: Double = 60) async throws -> ClusterFigures {
        async let snapshotTask = metrics(windowSeconds: windowSeconds)
        async let policiesTask = driver.queuePolicyList()
        async let workersTask = driver.workerList()
        async let typesTask = driver.jobTypeList()
        let (snapshot, policies, workers, types) = try await (snapshotTask, policiesTask, workersTask, typesTask)
        let live = workers.filter { $0.isAlive(at: snapshot.at) }
        var seen = snapshot.queues.map(\.0) + policies.map(\.queue) + metrics.seenQueues
        for w in live { seen += w.queues ?? [] }
        let names = knownQueues.add(seen)
        let byName = Dictionary(snapshot.queues, uniquingKeysWith: { a, _ in a })
        var byQueue: [String: Int] = [:]
        for q in names { byQueue[q] = live.filter { $0.queues?.contains(q) ?? true }.count }
        var byType: [String: Int] = [:]
        let typeNames = Set(types.map(\.jobType) + live.flatMap { $0.jobTypes ?? [] })
        for t in typeNames { byType[t] = live.filter { $0.jobTypes?.contains(t) ?? true }.count }
        return ClusterFigures(snapshot: snapshot, queues: names.map { ($0, byName[$0] ?? MetricsSnapshot.Figures()) },
                              workersByQueue: byQueue, workersByType: byType)
    }
}
