import ArgumentParser
import Backends
import Foundation

struct FlowsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "flows", abstract: "Workflows: DAGs of steps.",
                                                    subcommands: [FlowsDefine.self, FlowsList.self, FlowsStart.self, FlowsShow.self,
                                                                  FlowsCancel.self, FlowsRuns.self])
}

struct FlowsDefine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "define",
        abstract: "Define (or redefine, as a new version) a flow from a JSON file.",
        discussion: """
            {"slug","max_attempts"?,"base_delay_seconds"?,"timeout_seconds"?,"steps":[{"slug","job_type"?,"queue"?,\
            "depends_on":[...],"max_attempts"?,"base_delay_seconds"?,"timeout_seconds"?,"map"?,"max_elements"?}]} — a step's \
            job type defaults to <flow slug>.<step slug>. A map step ("map":"fetch.images", a path from run or a dependency) \
            runs one job per element of that array and outputs their outputs in order (max_elements 1…100000, default \
            10000). Cycles, unknown dependencies and duplicate slugs are refused; nothing is stored then.
            """)
    @OptionGroup var db: DatabaseOptions
    @Argument(help: "FILE.json, or - for stdin.") var file: String

    func run() async throws {
        let text: String
        if file == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let data = FileManager.default.contents(atPath: file) else { throw PortableError.invalid("cannot read \(file)") }
            text = String(decoding: data, as: UTF8.self)
        }
        let def = try FlowDefinition.parse(try JSON.parse(text))
        let stored = try await db.withClient { client in try await client.defineFlow(def) }
        if db.json { Output.json(stored.apiJSON); return }
        Output.line("flow \(stored.slug) version \(stored.version ?? 1): \(stored.steps.count) steps (\(stored.steps.map(\.slug).joined(separator: ", ")))")
    }
}

struct FlowsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Flows (latest versions).")
    @OptionGroup var db: DatabaseOptions

    func run() async throws {
        let flows = try await db.withClient(write: false) { client in try await client.flows() }
        if db.json { Output.json(Page(items: flows, total: flows.count, totalCapped: false).json { $0.apiJSON }); return }
        Output.table(["FLOW", "VERSION", "STEPS"], flows.map { f in
            [f.slug, "\(f.version ?? 1)", f.steps.map { $0.dependsOn.isEmpty ? $0.slug : "\($0.slug)←\($0.dependsOn.joined(separator: "+"))" }
                .joined(separator: " ")]
        })
    }
}

struct FlowsStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start a run of a flow (or a batch of runs).")
    @OptionGroup var db: DatabaseOptions
    @Argument var slug: String
    @Option(help: "JSON input, @file or -.") var input: String?
    @Option(help: "A JSON array of inputs, @file or -: one run each (up to 1000), started in one transaction.") var inputs: String?

    func run() async throws {
        if let inputs {
            guard input == nil else { throw PortableError.invalid("give --input or --inputs, not both") }
            guard let list = try JSON.parse(try PayloadInput.read(inputs)).arrayValue else {
                throw PortableError.invalid("--inputs must be a JSON array (one input per run)")
            }
            let ids = try await db.withClient { client in try await client.startFlows(slug, inputsJSON: list.map(\.compact)) }
            if db.json { Output.json(.object([("items", .array(ids.map { .object([("run_id", .string($0))]) }))])); return }
            for id in ids { Output.line(id) }
            return
        }
        let body = try PayloadInput.read(input ?? "null")
        let (run, json) = try await db.withClient { client in
            let run = try await client.startFlow(slug, inputJSON: body)
            return (run, try await client.runJSON(run.id))
        }
        if db.json { Output.json(json); return }
        Output.line("started run \(run.id) of \(slug) v\(run.flowVersion)")
    }
}

struct FlowsShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "A run: its steps, their states, outputs and timings.")
    @OptionGroup var db: DatabaseOptions
    @Argument var runId: String

    func run() async throws {
        let json = try await db.withClient(write: false) { client in try await client.runJSON(runId) }
        if db.json { Output.json(json); return }
        Output.line("run \(runId)  \(json["flow"]?.stringValue ?? "") v\(json["version"]?.intValue ?? 0)  \(json["status"]?.stringValue ?? "")")
        Output.table(["STEP", "STATUS", "DEPENDS ON", "JOB", "ATT", "OUTPUT / WHY"], (json["steps"]?.arrayValue ?? []).map { s in
            // A step that has not finished says why (its dependencies, or its job's explain reason).
            var why = s["reason_code"]?.stringValue.map { "\($0): \(s["message"]?.stringValue ?? "")" } ?? (s["output"].map { $0.compact } ?? "")
            if let code = s["error_code"]?.stringValue { why = code + (why.isEmpty || why == "null" ? "" : " " + why) }
            if let map = s["map"] { why = FlowsShow.elements(map) + (why.isEmpty ? "" : "  " + why) }
            return [s["slug"]?.stringValue ?? "", s["status"]?.stringValue ?? "",
                    (s["depends_on"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ","),
                    s["job_id"]?.stringValue ?? "-", "\(s["attempts"]?.intValue ?? 0)", String(why.prefix(100))]
        })
        for e in json["events"]?.arrayValue ?? [] {
            Output.line("\(e["at"]?.stringValue ?? "")  \(e["type"]?.stringValue ?? "")  \(e["message"]?.stringValue ?? "")")
        }
    }

    /// A map step's elements in one cell: `map 998/1000 [succeeded 998, running 2]`.
    static func elements(_ map: JSON) -> String {
        let total = map["total"]?.intValue.map(String.init) ?? "-"
        let states = (map["elements"]?.objectValue ?? []).map { "\($0.0) \($0.1.intValue ?? 0)" }
        return "map \(map["done"]?.intValue ?? 0)/\(total)" + (states.isEmpty ? "" : " [\(states.joined(separator: ", "))]")
    }
}

struct FlowsCancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a running run (its step jobs too).")
    @OptionGroup var db: DatabaseOptions
    @Argument var runId: String

    func run() async throws {
        let (run, json) = try await db.withClient { client in
            let run = try await client.cancelRun(runId)
            return (run, try await client.runJSON(run.id))
        }
        if db.json { Output.json(json); return }
        Output.line("cancelled run \(run.id)")
    }
}

struct FlowsRuns: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "Runs, newest first.")
    @OptionGroup var db: DatabaseOptions
    @Option(help: "Only runs of this flow.") var flow: String?
    @Option(help: "Only runs in this state: running, succeeded, failed or cancelled.") var status: String?
    @Option(help: "1…1000.") var limit: Int = 50
    @Flag(help: "Print the list again every --interval seconds until interrupted (Ctrl-C).") var watch = false
    @Option(help: "Seconds between prints with --watch (0.1…3600).") var interval: Double = 2

    func run() async throws {
        let state = try status.map { s in
            guard let st = RunStatus(rawValue: s) else { throw PortableError.invalid("unknown run status \(JSON.quote(s))") }
            return st
        }
        guard interval >= 0.1 && interval <= 3600 else { throw PortableError.invalid("--interval must be between 0.1 and 3600 seconds") }
        guard watch else {
            let page = try await db.withClient(write: false) { client in try await client.runs(flow: flow, status: state, limit: limit) }
            print(page)
            return
        }
        // One client for the whole watch; each print is a fresh read, headed by the time of it.
        try await db.withClient(write: false) { client in
            while !Task.isCancelled {
                let page = try await client.runs(flow: flow, status: state, limit: limit)
                if !db.json { Output.line("-- \(Time.format(Date())) --") }
                print(page)
                try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            }
        }
    }

    func print(_ page: Page<FlowRun>) {
        // --json --watch prints one compact document per line (JSON Lines).
        if db.json { watch ? Output.line(page.json { $0.summaryJSON }.compact) : Output.json(page.json { $0.summaryJSON }); return }
        Output.table(["RUN", "FLOW", "STATUS", "CREATED", "FINISHED"], page.items.map { r in
            [r.id, "\(r.flowSlug) v\(r.flowVersion)", r.status.rawValue, Time.format(r.createdAt), r.finishedAt.map(Time.format) ?? "-"]
        })
    }
}
