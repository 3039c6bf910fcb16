import Foundation

/// The Prometheus text exposition (format 0.0.4) of `/metrics/prom` and `metrics --prom`:
/// gauges from the database and this process's counters and histogram.
public enum PrometheusText {
    public static func render(counts: [QueueCount], now: Date, process: ProcessMetrics.Snapshot) -> String {
        var out = ""
        out += "# HELP portableq_jobs Live jobs by queue and status (queued = due now, scheduled = queued with run_at ahead).\n"
        out += "# TYPE portableq_jobs gauge\n"
        let summaries = QueueSummary.from(counts)
        for s in summaries {
            for (status, n) in [("queued", s.runnable), ("scheduled", s.scheduled), ("running", s.running), ("dlq", s.dlq)] {
                out += "portableq_jobs{queue=\"\(esc(s.queue))\",status=\"\(status)\"} \(n)\n"
            }
        }
        out += "# HELP portableq_oldest_runnable_age_seconds Age of the oldest due job per queue (0 when none).\n"
        out += "# TYPE portableq_oldest_runnable_age_seconds gauge\n"
        for s in summaries {
            let age = s.oldestRunnableAt.map { max(0, now.timeIntervalSince($0)) } ?? 0
            out += "portableq_oldest_runnable_age_seconds{queue=\"\(esc(s.queue))\"} \(num(age))\n"
        }
        out += "# HELP portableq_attempts_total Attempts this process recorded, by queue and outcome.\n"
        out += "# TYPE portableq_attempts_total counter\n"
        for (queue, outcomes) in process.attempts.sorted(by: { $0.key < $1.key }) {
            for (outcome, n) in outcomes.sorted(by: { $0.key < $1.key }) {
                out += "portableq_attempts_total{queue=\"\(esc(queue))\",outcome=\"\(esc(outcome))\"} \(n)\n"
            }
        }
        out += "# HELP portableq_job_duration_seconds Handler run time of attempts this process recorded.\n"
        out += "# TYPE portableq_job_duration_seconds histogram\n"
        for (queue, buckets) in process.durationBuckets.sorted(by: { $0.key < $1.key }) {
            var cumulative = 0
            for (i, bound) in ProcessMetrics.buckets.enumerated() {
                cumulative += buckets[i]
                out += "portableq_job_duration_seconds_bucket{queue=\"\(esc(queue))\",le=\"\(num(bound))\"} \(cumulative)\n"
            }
            let count = process.durationCount[queue] ?? 0
            out += "portableq_job_duration_seconds_bucket{queue=\"\(esc(queue))\",le=\"+Inf\"} \(count)\n"
            out += "portableq_job_duration_seconds_sum{queue=\"\(esc(queue))\"} \(num(process.durationSum[queue] ?? 0))\n"
            out += "portableq_job_duration_seconds_count{queue=\"\(esc(queue))\"} \(count)\n"
        }
        return out
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func num(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return String(d)
    }
}
