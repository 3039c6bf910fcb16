import Foundation
import Testing
@testable import Backends

/// The per-key running cap holds across worker processes (issue 15 §2): two workers, each with
/// room for several jobs, never run two jobs of one key at once.
@Suite(.processes) struct KeyedWorkerProcessTests {
    @Test(arguments: TestBackend.enabled)
    func twoWorkersNeverRunTwoJobsOfOneKeyAtOnce(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            try await db.client.setKeyLimits("keyed", concurrencyKeyFrom: .some("tenant"), maxRunningPerKey: .some(1),
                                             maxStartsPerSecondPerKey: nil)
            let perKey = 6
            let jobs = (0..<perKey).flatMap { _ in ["a", "b"].map { NewJob(queue: "keyed", jobType: "k", payloadJSON: #"{"tenant":"\#($0)"}"#) } }
            _ = try await db.client.enqueueMany(jobs)
            let log = db.dir + "/runs.log"
            // Each handler writes its start and end (nanoseconds) with its key and job id.
            let handler = #"k=echo "$PORTABLEQ_CONCURRENCY_KEY $PORTABLEQ_JOB_ID start $(date +%s%N)" >> \#(log); sleep 0.3; echo "$PORTABLEQ_CONCURRENCY_KEY $PORTABLEQ_JOB_ID end $(date +%s%N)" >> \#(log)"#
            func worker(_ id: String) throws -> CLI.Running {
                try CLI.Running(["work", "--database", db.url, "--queues", "keyed", "--concurrency", "4", "--worker-id", id,
                                 "--poll-interval-ms", "50", "--exec", handler])
            }
            let w1 = try worker("kw1"), w2 = try worker("kw2")
            let done = try await eventually(timeout: 120) {
                try await db.client.jobs(JobFilter(queue: "keyed", status: .succeeded), limit: 1).total == 2 * perKey
            }
            #expect(done, "every job succeeded")
            w1.signal(SIGTERM)
            w2.signal(SIGTERM)
            _ = try await w1.wait(timeout: 30)
            _ = try await w2.wait(timeout: 30)

            // Intervals per key from the handlers' own records; none may overlap.
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            var spans: [String: (key: String, start: Int, end: Int)] = [:]
            for line in lines {
                let f = line.split(separator: " ").map(String.init)
                guard f.count == 4, let t = Int(f[3]) else { Issue.record("bad line \(line)"); continue }
                var s = spans[f[1]] ?? (f[0], 0, 0)
                if f[2] == "start" { s.start = t } else { s.end = t }
                spans[f[1]] = s
            }
            #expect(spans.count == 2 * perKey)
            for key in ["a", "b"] {
                let mine = spans.values.filter { $0.key == key }.sorted { $0.start < $1.start }
                #expect(mine.count == perKey)
                for (x, y) in zip(mine, mine.dropFirst()) {
                    #expect(x.end > 0 && x.end <= y.start, "key \(key): a job started before the previous one ended")
                }
            }
            // Both workers took part, and the two keys did run side by side.
            let workers = Set(try await db.client.jobs(JobFilter(queue: "keyed"), limit: 100).items.compactMap(\.workerId))
            #expect(workers == ["kw1", "kw2"], "\(workers)")
            let all = spans.values.sorted { $0.start < $1.start }
            let overlapAcrossKeys = zip(all, all.dropFirst()).contains { x, y in x.key != y.key && y.start < x.end }
            #expect(overlapAcrossKeys, "a key at its cap did not hold the other key back")
        }
    }
}
