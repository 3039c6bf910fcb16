import ArgumentParser
import Backends
import Foundation
import Logging

/// `portableq demo`: zero set-up on `sqlite:portableq.db` (never the URL environment variables,
/// so it cannot touch an application's database). Enqueues jobs to queue `demo` that succeed,
/// retry then succeed, and dead-letter (max 3 attempts, 200 ms base backoff), runs them with an
/// in-process worker while showing progress, then prints a summary and one dead-lettered job's
/// timeline. Safe to run again: each run counts only its own jobs.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo",
        abstract: "Run a short demonstration on sqlite:portableq.db (or --database).")

    @Option(help: "Database URL (default sqlite:portableq.db; environment variables are ignored).") var database: String?
    @Flag(help: "Print the summary as JSON.") var json = false

    func run() async throws {
        StderrLogHandler.bootstrap(format: "text")
        var logger = Logger(label: "portableq.demo")
        logger.logLevel = .warning
        let started = Date()
        var settings = Settings()
        settings.databaseURL = database ?? DatabaseURL.defaultURL
        let url = try DatabaseURL.parse(settings.databaseURL!)
        let driver = try Database.open(url, settings: settings)
        try await Database.migrate(driver)
        let client = PortableClient(driver: driver, config: settings.config)
        say("portableq demo on \(driver.location) (queue demo)")

        // What we ask for: 12 that succeed, 5 that fail then succeed, 3 that never succeed.
        var jobs: [NewJob] = []
        for i in 0..<12 {
            jobs.append(NewJob(queue: "demo", jobType: i % 3 == 0 ? "echo" : "sleep",
                               payloadJSON: i % 3 == 0 ? #"{"greeting":"hello","n":\#(i)}"# : #"{"ms":\#(50 + i * 25)}"#,
                               maxAttempts: 3, backoffBaseMs: 200))
        }
        for i in 0..<5 {
            jobs.append(NewJob(queue: "demo", jobType: "fail_me",
                               payloadJSON: #"{"error_code":"FLAKY_UPSTREAM","succeed_on_attempt":\#(i % 2 + 2)}"#,
                               maxAttempts: 3, backoffBaseMs: 200))
        }
        for code in ["PAYMENT_DECLINED", "UPSTREAM_DOWN", "TIMEOUT_TALKING_TO_S3"] {
            jobs.append(NewJob(queue: "demo", jobType: "fail_me",
                               payloadJSON: #"{"error_code":"\#(code)","message":"the demo makes this one fail every time"}"#,
                               maxAttempts: 3, backoffBaseMs: 200))
        }
        let enqueued = try await client.enqueueMany(jobs)
        let ids = enqueued.map(\.job.id)
        say("enqueued \(ids.count) jobs: 12 succeed, 5 fail then succeed, 3 dead-letter after 3 attempts")

        var options = WorkerOptions(id: "demo:\(ProcessInfo.processInfo.processIdentifier)")
        options.queues = ["demo"]
        options.concurrency = 8
        options.leaseSeconds = 10
        options.pollIntervalSeconds = 0.05
        options.shutdownSeconds = 5
        let worker = Worker(client: client, options: options, logger: logger)
        BuiltinHandlers.register(on: worker, demoTypes: true)
        let run = Task { try await worker.run() }

        var final: [Job] = []
        var lastLine = ""
        while Date().timeIntervalSince(started) < 14 {
            let current = try await driver.jobGetMany(ids)
            let counts = Dictionary(grouping: current, by: { $0.status }).mapValues(\.count)
            let retrying = current.filter { $0.status == .queued && $0.attempts > 0 }.count
            let line = String(format: "[%4.1fs] ", Date().timeIntervalSince(started))
                + "queued \(counts[.queued, default: 0] - retrying) · retrying \(retrying) · running \(counts[.running, default: 0])"
                + " · succeeded \(counts[.succeeded, default: 0]) · dlq \(counts[.dlq, default: 0])"
            if line.dropFirst(8) != lastLine.dropFirst(8) { say(line); lastLine = line }
            if current.allSatisfy({ $0.status.isTerminal }) { final = current; break }
            try await Task.sleep(nanoseconds: 150_000_000)
        }
        worker.stop()
        _ = try? await run.value
        if final.isEmpty { final = try await driver.jobGetMany(ids) }

        let dead = final.filter { $0.status == .dlq }.sorted { $0.id < $1.id }
        var timeline: Timeline?
        if let first = dead.first { timeline = try await client.timeline(first.id) }
        await driver.close()

        if json {
            Output.json(.object([
                ("database", .string(driver.location)),
                ("jobs", .array(final.map(\.json))),
                ("timeline", timeline?.json ?? .null),
            ]))
            return
        }
        say("")
        say("summary")
        let byType = Dictionary(grouping: final, by: { "\($0.jobType)" })
        Output.table(["TYPE", "JOBS", "SUCCEEDED", "DLQ", "OTHER", "ATTEMPTS"], byType.keys.sorted().map { t in
            let js = byType[t]!
            return [t, "\(js.count)", "\(js.filter { $0.status == .succeeded }.count)", "\(js.filter { $0.status == .dlq }.count)",
                    "\(js.filter { $0.status != .succeeded && $0.status != .dlq }.count)", "\(js.reduce(0) { $0 + $1.attempts })"]
        })
        if let timeline {
            say("")
            say("timeline of a dead-lettered job (portableq jobs timeline \(timeline.job.id)):")
            JobsTimeline.printTimeline(timeline)
        }
        say("")
        say(String(format: "done in %.1f s. Next:", Date().timeIntervalSince(started)))
        say("  portableq jobs list --queue demo        portableq dlq")
        if let id = dead.first?.id {
            say("  portableq jobs explain \(id)")
            say("  portableq jobs retry \(id)")
        }
        say("  portableq admin serve                   (dashboard at http://127.0.0.1:3003/)")
    }

    func say(_ s: String) { Output.line(s) }
}
