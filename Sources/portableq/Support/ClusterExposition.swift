import Backends
import Foundation
import Prometheus

/// The cluster series of `/metrics/prom` and `metrics --prom`, written through a swift-prometheus
/// registry made for each scrape from `ClusterFigures` (gauges: they are read, not counted here),
/// followed by this process's own series.
enum ClusterExposition {
    static func text(_ c: ClusterFigures) -> String {
        let r = PrometheusCollectorRegistry()
        for (queue, f) in c.queues {
            for (status, n) in [("queued", f.runnable), ("scheduled", f.scheduled), ("running", f.running), ("dlq", f.dlq)] {
                set(r, "portableq_jobs", "Live jobs by queue and status (queued = due now, scheduled = queued with run_at ahead).",
                    [("queue", queue), ("status", status)], Double(n))
            }
        }
        gauge(r, "portableq_oldest_runnable_age_seconds", "Age of the oldest due job per queue (0 when none).", c) {
            $0.oldestRunnableAgeSeconds ?? 0
        }
        gauge(r, "portableq_queue_jobs_per_second", "Jobs that succeeded per second over the last 60 s.", c) { $0.jobsPerSec }
        gauge(r, "portableq_queue_attempts_per_second", "Attempts that finished per second over the last 60 s.", c) { $0.attemptsPerSec }
        gauge(r, "portableq_queue_retry_ratio", "Failed (or lease-expired) attempts / attempts over the last 60 s.", c) { $0.retryRate }
        quantiles(r, "portableq_queue_start_latency_seconds",
                  "Start latency (run_at to start) of attempts in the last 60 s; NaN without attempts.", c) { $0.startLatencyMs }
        quantiles(r, "portableq_queue_run_seconds", "Run time of attempts in the last 60 s; NaN without attempts.", c) { $0.runTimeMs }
        // Flows with runs that finished in the window (a flow with none has no series then).
        for f in c.snapshot.flows {
            set(r, "portableq_flow_runs_finished", "Runs of the flow that finished (succeeded or failed) in the last 60 s.",
                [("flow", f.flow)], Double(f.runsFinished))
            set(r, "portableq_flow_run_avg_seconds", "Average duration (created to finished) of the flow's runs that finished in the last 60 s.",
                [("flow", f.flow)], f.avgMs.map { Double($0) / 1000 } ?? .nan)
            set(r, "portableq_flow_run_seconds", "Duration quantile of the flow's runs that finished in the last 60 s.",
                [("flow", f.flow), ("quantile", "0.95")], f.p95Ms.map { Double($0) / 1000 } ?? .nan)
        }
        for (queue, n) in c.workersByQueue.sorted(by: { $0.key < $1.key }) {
            set(r, "portableq_workers", "Live workers serving the queue.", [("queue", queue)], Double(n))
        }
        for (type, n) in c.workersByType.sorted(by: { $0.key < $1.key }) {
            set(r, "portableq_workers_by_type", "Live workers serving the job type.", [("job_type", type)], Double(n))
        }
        return r.emitToString()
    }

    private static func gauge(_ r: PrometheusCollectorRegistry, _ name: String, _ help: String, _ c: ClusterFigures,
                              _ value: (MetricsSnapshot.Figures) -> Double) {
        for (queue, f) in c.queues { set(r, name, help, [("queue", queue)], value(f)) }
    }

    private static func quantiles(_ r: PrometheusCollectorRegistry, _ name: String, _ help: String, _ c: ClusterFigures,
                                  _ ms: (MetricsSnapshot.Figures) -> [Int?]) {
        for (queue, f) in c.queues {
            for (q, v) in zip(["0.5", "0.95", "0.99"], ms(f)) {
                set(r, name, help, [("queue", queue), ("quantile", q)], v.map { Double($0) / 1000 } ?? .nan)
            }
        }
    }

    private static func set(_ r: PrometheusCollectorRegistry, _ name: String, _ help: String, _ labels: [(String, String)],
                            _ value: Double) {
        r.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels).set(value)
    }

    static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}
