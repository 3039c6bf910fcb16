import Foundation

/// The cluster-wide figures of `/metrics/prom` and `metrics --prom`, read from the database with
/// bounded reads only (capped queue counts, a capped attempt sample, the capped known-queue
/// registry, the worker and policy lists): the JSON snapshot of the last 60 s for every known
/// queue — zeros included — plus live workers per queue and per job type.
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

extension PortableClient {
    /// At most this many known queues are read per scrape (the 1M-row scale guard: a bounded read).
    public static let knownQueueCap = QueueCount.cap

    /// The cluster figures over the last `windowSeconds` (default 60), for every known queue:
    /// the `queues` registry (every queue that has ever had a job or a policy, kept across
    /// restarts and archiving), plus queues with live jobs, recent attempts or a policy that it
    /// lacks (written by a binary older than the registry), which are registered on the way.
    public func clusterFigures(windowSeconds: Double = 60) async throws -> ClusterFigures {
        async let snapshotTask = metrics(windowSeconds: windowSeconds)
        async let policiesTask = driver.queuePolicyList()
        async let workersTask = driver.workerList()
        async let typesTask = driver.jobTypeList()
        async let registryTask = driver.queueNameList(limit: Self.knownQueueCap)
        let (snapshot, policies, workers, types, registry) = try await (snapshotTask, policiesTask, workersTask, typesTask, registryTask)
        let live = workers.filter { $0.isAlive(at: snapshot.at) }
        let registered = Set(registry)
        let unregistered = Set(snapshot.queues.map(\.0) + policies.map(\.queue)).subtracting(registered)
        // Best effort: a read-only scrape (`metrics --prom` on a read-only SQLite file) still
        // shows these queues, it just cannot record them.
        if !unregistered.isEmpty, registry.count < Self.knownQueueCap {
            try? await driver.queueNameRegister(unregistered.sorted())
        }
        let names = registered.union(unregistered).sorted()
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
