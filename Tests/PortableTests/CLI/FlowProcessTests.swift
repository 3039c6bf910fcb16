import Foundation
import Testing
@testable import Backends

/// Workflows run by real worker processes with `--exec` steps, and their throughput.
@Suite(.processes) struct FlowProcessTests {
    static let diamond = #"{"slug":"pipe","max_attempts":5,"base_delay_seconds":0.2,"steps":[{"slug":"fetch"},{"slug":"left","depends_on":["fetch"]},{"slug":"right","depends_on":["fetch"]},{"slug":"merge","depends_on":["left","right"]}]}"#

    @Test(arguments: TestBackend.enabled)
    func killNineMidRunAndTheRunsStillComplete(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let file = db.dir + "/flow.json"
            try Self.diamond.write(toFile: file, atomically: true, encoding: .utf8)
            let defined = try await CLI.run(["flows", "define", file, "--database", db.url])
            #expect(defined.status == 0, "\(defined)")
            var runs: [String] = []
            for i in 0..<12 {
                let r = try await CLI.run(["flows", "start", "pipe", "--input", "{\"n\":\(i)}", "--json", "--database", db.url])
                runs.append(try #require(r.json?["id"]?.stringValue, "\(r)"))
            }
            // Each step reads its payload and answers with its name and what it saw.
            let step = { (name: String) in
                "pipe.\(name)=sleep 0.15; python3 -c 'import json,sys; p=json.load(sys.stdin); print(json.dumps({\"step\":\"\(name)\",\"keys\":sorted(p)}))'"
            }
            let args = ["work", "--database", db.url, "--lease-seconds", "2", "--concurrency", "4", "--poll-interval-ms", "50"]
                + ["fetch", "left", "right", "merge"].flatMap { ["--exec", step($0)] }
            let first = try CLI.Running(args + ["--worker-id", "doomed"])
            #expect(try await eventually { try await db.client.jobs(JobFilter(status: .succeeded), limit: 1).total >= 10 })
            first.signal(SIGKILL)
            _ = try await first.wait(timeout: 10)
            let second = try CLI.Running(args + ["--worker-id", "after", "--until-empty"], env: ["PORTABLEQ_REAP_INTERVAL_MS": "300"])
            let r = try await second.wait(timeout: 120)
            #expect(r.status == 0, "\(r)")
            for id in runs {
                let run = try await db.client.run(id)
                #expect(run.run.status == .succeeded, "\(id)")
                let outputs = run.run.steps.map { try? JSON.parse($0.output ?? "null") }
                #expect(outputs.map { $0?["step"]?.stringValue } == ["fetch", "left", "right", "merge"])
                #expect(outputs.last??["keys"] == .array([.string("left"), .string("right"), .string("run")]))
                for s in run.run.steps {
                    let history = try await db.driver.jobHistory(try #require(s.jobId))
                    #expect(history.attempts.filter { $0.outcome == .succeeded }.count == 1, "\(s.slug) output recorded once")
                }
                #expect(try await db.client.jobs(JobFilter(runId: id)).total == 4, "one job per step")
            }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aThousandDiamondRuns(_ backend: TestBackend) async throws {
        var config = PortableConfig()
        config.countCap = 100_000
        try await withDB(backend, config: config, realClock: true) { db in
            let flow = Flow("d4") {
                Step("a") { _ in 1 }
                Step("b", dependsOn: ["a"]) { ctx in try ctx.decodeOutput(of: "a", as: Int.self) + 1 }
                Step("c", dependsOn: ["a"]) { ctx in try ctx.decodeOutput(of: "a", as: Int.self) + 2 }
                Step("d", dependsOn: ["b", "c"]) { ctx in
                    try ctx.decodeOutput(of: "b", as: Int.self) + ctx.decodeOutput(of: "c", as: Int.self)
                }
            }
            try await db.client.defineFlow(flow.definition)
            let runs = 1000
            let started = Date()
            for _ in 0..<runs { _ = try await db.client.startFlow("d4", inputJSON: "null") }
            let startSeconds = Date().timeIntervalSince(started)
            var options = WorkerOptions(id: "bench")
            options.concurrency = 32
            options.batchSize = 32
            options.pollIntervalSeconds = 0.05
            options.maintenance = nil
            let worker = Worker(client: db.client, options: options, logger: WorkerRuntimeTests.quiet)
            worker.register(flow)
            let t0 = Date()
            // A throughput figure, not a timing assertion: a loaded machine (CPU hogs in
            // scripts/stress-worker) may take minutes, and that is not a failure.
            try await WorkerRuntimeTests().run(worker, timeout: 600) {
                try await db.client.jobs(JobFilter(status: .succeeded), limit: 1).total == runs * 4
            }
            let seconds = Date().timeIntervalSince(t0)
            let done = try await db.client.runs(flow: "d4", limit: 1000)
            #expect(done.items.allSatisfy { $0.status == .succeeded } && done.items.count == runs)
            print("FLOWS \(db.driver.kind.rawValue): \(runs) runs of a 4-step diamond in \(String(format: "%.2f", seconds)) s = \(Int(Double(runs) / seconds)) runs/s (\(Int(Double(runs * 4) / seconds)) step jobs/s; starting them took \(String(format: "%.2f", startSeconds)) s; debug build)")
        }
    }
}
