import Foundation
import Testing
@testable import Backends

/// Map steps run by real worker processes with `--exec` handlers (issue 16 §1 "Done when"), and
/// `flows runs --watch` (issue 16 §4).
@Suite(.processes) struct FlowMapProcessTests {
    static let fan = #"{"slug":"fan","max_attempts":5,"base_delay_seconds":0.2,"steps":[{"slug":"each","map":"run.items"},{"slug":"count","depends_on":["each"]}]}"#

    @Test(arguments: TestBackend.enabled)
    func aThousandElementMapSurvivesKillNineOfItsWorker(_ backend: TestBackend) async throws {
        var config = PortableConfig()
        config.countCap = 100_000
        try await withDB(backend, config: config, realClock: true) { db in
            let file = db.dir + "/fan.json"
            try Self.fan.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try await CLI.run(["flows", "define", file, "--database", db.url]).status == 0)
            let n = 1000
            let input = db.dir + "/input.json"
            try #"{"items":[\#((0..<n).map { "{\"i\":\($0)}" }.joined(separator: ","))]}"#.write(toFile: input, atomically: true, encoding: .utf8)
            let started = try await CLI.run(["flows", "start", "fan", "--input", "@" + input, "--json", "--database", db.url])
            let runId = try #require(started.json?["id"]?.stringValue, "\(started)")

            // Each element answers with its element (cat); the step after counts the array.
            let args = ["work", "--database", db.url, "--lease-seconds", "2", "--concurrency", "8", "--poll-interval-ms", "50",
                        "--exec", "fan.each=cat",
                        "--exec", "fan.count=python3 -c 'import json,sys; p=json.load(sys.stdin); print(len(p[\"each\"]))'"]
            let t0 = Date()
            let first = try CLI.Running(args + ["--worker-id", "doomed"])
            #expect(try await eventually(timeout: 120) {
                try await db.client.jobs(JobFilter(status: .succeeded, runId: runId), limit: 1).total >= 100
            })
            first.signal(SIGKILL)
            _ = try await first.wait(timeout: 10)
            let doneBefore = try await db.client.run(runId).run.steps[0].mapDone
            #expect(doneBefore < n, "the worker died mid-map (\(doneBefore) of \(n) done)")

            let second = try CLI.Running(args + ["--worker-id", "after", "--until-empty"], env: ["PORTABLEQ_REAP_INTERVAL_MS": "300"])
            let r = try await second.wait(timeout: 300)
            #expect(r.status == 0, "\(r)")
            let seconds = Date().timeIntervalSince(t0)

            let run = try await db.client.run(runId).run
            #expect(run.status == .succeeded)
            let each = try #require(run.steps.first { $0.slug == "each" })
            #expect(each.status == .succeeded && each.mapTotal == n && each.mapDone == n)
            let text = try #require(each.output)
            let outputs = try #require(try JSON.parse(text).arrayValue)
            #expect(outputs.count == n, "the output array is complete")
            #expect(outputs.map { $0["i"]?.intValue } == (0..<n).map { Optional($0) }, "and in element order")
            #expect(run.steps.first { $0.slug == "count" }?.output == "\(n)", "the dependent received the whole array")

            // Every element ran to success, its output recorded once.
            let jobs = try await db.client.jobs(JobFilter(runId: runId), limit: 1000)
            #expect(jobs.total == n + 1)
            var succeededOnce = 0
            var offset = 0
            while offset < n + 1 {
                let page = try await db.driver.jobList(JobFilter(runId: runId), limit: 500, offset: offset)
                for j in page {
                    #expect(j.status == .succeeded, "\(j.id)")
                    let history = try await db.driver.jobHistory(j.id)
                    if history.attempts.filter({ $0.outcome == .succeeded }).count == 1 { succeededOnce += 1 }
                }
                offset += 500
            }
            #expect(succeededOnce == n + 1)
            let show = try await CLI.run(["flows", "show", runId, "--database", db.url])
            #expect(show.stdout.contains("map \(n)/\(n) [succeeded \(n)]"), "\(show.stdout.prefix(600))")
            print("MAP \(db.driver.kind.rawValue): \(n) elements with --exec cat, one worker killed -9 mid-map, done in \(String(format: "%.1f", seconds)) s (debug build)")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func flowsRunsWatchPrintsStateChangesUntilInterrupted(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            try await db.client.defineFlow(try FlowTests.def(#"{"slug":"w","steps":[{"slug":"a"}]}"#))
            let run = try await db.client.startFlow("w")
            let watch = try CLI.Running(["flows", "runs", "--watch", "--interval", "0.2", "--database", db.url])
            #expect(try await eventually(timeout: 30) { watch.stdout.contains(run.id) && watch.stdout.contains("running") })
            let before = watch.stdout.components(separatedBy: "-- ").count
            _ = try await db.client.cancelRun(run.id)
            #expect(try await eventually(timeout: 30) { watch.stdout.contains("cancelled") }, "the new state appears: \(watch.stdout.suffix(400))")
            #expect(watch.stdout.components(separatedBy: "-- ").count > before, "it printed again")
            #expect(processIsAlive(watch.pid), "it keeps watching")
            watch.signal(SIGINT)
            let r = try await watch.wait(timeout: 10)
            #expect(r.status != 0 || !processIsAlive(watch.pid), "interrupted, it ends")

            let bad = try await CLI.run(["flows", "runs", "--watch", "--interval", "0", "--database", db.url])
            #expect(bad.status == 2, "\(bad)")
        }
    }
}
