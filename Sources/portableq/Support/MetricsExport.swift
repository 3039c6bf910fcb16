import Metrics
import Backends
import Prometheus

/// This process's metrics: swift-metrics bootstrapped once, at start, onto a swift-prometheus
/// registry, whose text `/metrics/prom` (and a worker's `/metrics`) serves as it is.
enum ProcessExport {
    static let registry = PrometheusCollectorRegistry()

    /// Buckets for handler run time, start latency and database round trips (seconds).
    static let buckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60), .seconds(300),
    ]

    static func factory(_ registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var f = PrometheusMetricsFactory(registry: registry)
        f.defaultDurationHistogramBuckets = buckets
        return f
    }

    static func bootstrap() {
        MetricsSystem.bootstrap(factory(registry))
    }

    static var text: String { registry.emitToString() }
}
