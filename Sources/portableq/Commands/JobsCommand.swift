import ArgumentParser
import Backends
import Foundation

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List, inspect and operate on jobs.",
        subcommands: [JobsList.self, JobsShow.self, JobsTimeline.self, JobsExplain.self, JobsRetry.self,
                      JobsReplay.self, JobsCancel.self, JobsDelete.self]
    )
}

/// `--filter queue=Q,job_type=T,error_code=C,status=S` for bulk actions.
struct BulkOptions: ParsableArguments {
    @Option(help: "Bulk: queue=Q,job_type=T,error_code=C,status=S,tag=T (tag repeatable: jobs with every one).") var filter: String?
    @Flag(name: .customLong("dry-run"), help: "Bulk: only count what would change.") var dryRun = false
    @Option(help: "Bulk: at most this many jobs (1…10000).") var limit: Int = 1000

    func parsedFilter() throws -> JobFilter {
        var f = JobFilter()
        for part in (filter ?? "").split(separator: ",") where !part.isEmpty {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2, !kv[1].isEmpty else { throw PortableError.invalid("--filter expects key=value pairs, got \(JSON.quote(String(part)))") }
            switch kv[0] {
            case "queue": f.queue = kv[1]
            case "job_type", "type": f.jobType = kv[1]
            case "error_code": f.errorCode = kv[1]
            case "status":
                f.status = try JobStatus.named(kv[1])
            case "tag": f.tags.append(kv[1])
            default: throw PortableError.invalid("unknown filter key \(JSON.quote(kv[0])) (queue, job_type, error_code, status, tag)")
            }
        }
        return f
    }
}

/// Runs `single` for one id, or the bulk action for `--filter`.
func singleOrBulk(_ db: DatabaseOptions, id: String?, bulk: BulkOptions, action: BulkAction,
                  single: @escaping (PortableClient, String) async throws -> JSON, describe: (JSON) -> String) async throws {
    if let id {
        guard bulk.filter == nil else { throw PortableError.invalid("give a job id or --filter, not both") }
        let out = try await db.withClient { client in try await single(client, id) }
        if db.json { Output.json(out) } else { Output.line(describe(out)) }
        return
    }
    guard bulk.filter != nil else { throw PortableError.invalid("give a job id, or --filter for a bulk \(action.rawValue)") }
    let r = try await db.withClient { client in try await client.bulk(action, filter: try bulk.parsedFilter(), dryRun: bulk.dryRun, limit: bulk.limit) }
    if db.json { Output.json(r.json); return }
    Output.line(bulk.dryRun ? "would \(action.rawValue) \(r.matched) job(s) (dry run)" : "\(action.rawValue): matched \(r.matched), changed \(r.changed)")
    for id in r.ids.prefix(20) { Output.line("  \(id)") }
    if r.ids.count > 20 { Output.line("  … \(r.matched - 20) more") }
}

struct JobsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List jobs, newest first.")
    @OptionGroup var db: DatabaseOptions
    @Option(help: "queued, running, succeeded, dlq, cancelled or archived.") var status: String?
    @Option(help: "Queue.") var queue: String?
    @Option(name: .customLong("job-type"), help: "Job type.") var jobType: String?
    @Option(name: .customLong("error-code"), help: "Last error code.") var errorCode: String?
    @Option(name: .customLong("tag"), help: "Jobs with this tag (repeatable: jobs with every one).") var tags: [String] = []
    @Option(name: .customLong("idempotency-key"), help: "The job holding this idempotency key (in --queue, default the default queue).") var idempotencyKey: String?
    @Option(help: "1…1000.") var limit: Int = 50
    @Option(help: "Skip this many.") var offset: Int = 0

    func run() async throws {
        var f = JobFilter(queue: queue, jobType: jobType, errorCode: errorCode)
        f.tags = tags
        f.idempotencyKey = idempotencyKey
        if let status {
            f.status = try JobStatus.named(status)
        }
        let page = try await db.withClient(write: false) { client in try await client.jobItems(f, limit: limit, offset: offset) }
        if db.json { Output.json(page.json { $0.json }); return }
        JobsList.printTable(page)
    }

    static func printTable(_ page: Page<JobListItem>) {
        Output.table(["ID", "QUEUE", "TYPE", "STATUS", "ATT", "CREATED", "LAST ERROR", "TAGS"], page.items.map(\.job).map { j in
            [j.id, j.queue, j.jobType, j.status.rawValue, "\(j.attempts)", Time.format(j.createdAt), j.lastErrorCode ?? "",
             j.tags.joined(separator: ",")]
        })
        Output.line("\(page.items.count) shown, \(page.total)\(page.totalCapped ? "+" : "") matching")
    }
}

struct JobsShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show",
        abstract: "Show one job: a summary, or with --json every field as GET /jobs/{id} returns it.")
    @OptionGroup var db: DatabaseOptions
    @Argument var id: String

    func run() async throws {
        let job = try await db.withClient(write: false) { client in try await client.job(id) }
        if db.json { Output.json(job.json); return }
        for line in JobsShow.summary(job) { Output.line(line) }
    }

    /// The job in a few labelled lines; payload and output cut to one line each.
    static func summary(_ j: Job) -> [String] {
        func cut(_ s: String) -> String { s.count > 200 ? String(s.prefix(200)) + "… (--json for all of it)" : s }
        var lines = ["job \(j.id)  \(j.queue)/\(j.jobType)  \(j.status.rawValue)"]
        func add(_ label: String, _ value: String?) {
            if let value { lines.append("  " + label.padding(toLength: 12, withPad: " ", startingAt: 0) + value) }
        }
        add("attempts", "\(j.countedAttempts)" + (j.maxAttempts.map { " of \($0)" } ?? "") + "  (priority \(j.priority))")
        add("created", Time.format(j.createdAt))
        add("run at", j.status == .queued ? Time.format(j.runAt) : nil)
        add("started", j.startedAt.map { Time.format($0) })
        add("finished", j.finishedAt.map { Time.format($0) })
        add("worker", j.status == .running ? j.workerId : nil)
        add("last error", j.lastErrorCode.map { code in [code, j.lastErrorMessage].compactMap { $0 }.joined(separator: ": ") })
        add("dlq reason", j.dlqReasonCode)
        add("key", j.idempotencyKey)
        add("tags", j.tags.isEmpty ? nil : j.tags.joined(separator: ", "))
        add("metadata", j.metadata == "{}" ? nil : cut(j.metadata))
        add("progress", j.progress.map { cut($0) + (j.progressAt.map { "  (at \(Time.format($0)))" } ?? "") })
        add("replay of", j.replayOf)
        add("run", j.runId.map { run in run + (j.stepSlug.map { " step \($0)" } ?? "") })
        add("payload", cut(j.payload))
        add("output", j.output.map(cut))
        lines.append("(portableq jobs timeline \(j.id) for its story, jobs explain for why it is here)")
        return lines
    }
}

struct JobsTimeline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "timeline", abstract: "Show a job's story, from its job and attempt rows.")
    @OptionGroup var db: DatabaseOptions
    @Argument var id: String

    func run() async throws {
        let tl = try await db.withClient(write: false) { client in try await client.timeline(id) }
        if db.json { Output.json(tl.json); return }
        JobsTimeline.printTimeline(tl)
    }

    static func printTimeline(_ tl: Timeline) {
        let j = tl.job
        Output.line("job \(j.id)  \(j.queue)/\(j.jobType)  \(j.status.rawValue)  attempts \(j.attempts)")
        Output.table(["AT", "EVENT", "ATT", "WORKER", "DETAIL"], tl.events.map { e in
            var detail = [e.errorCode, e.message].compactMap { $0 }.joined(separator: ": ")
            for (k, v) in e.extra where k != "latency_ms" {
                if case .string(let s) = v { detail += (detail.isEmpty ? "" : "  ") + "\(k)=\(s)" }
            }
            return [Time.format(e.at), e.type, e.attempt.map(String.init) ?? "", e.workerId ?? "", detail]
        })
    }
}

struct JobsExplain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "explain", abstract: "Say why a job is where it is.")
    @OptionGroup var db: DatabaseOptions
    @Argument var id: String

    func run() async throws {
        let e = try await db.withClient(write: false) { client in try await client.explain(id) }
        if db.json { Output.json(e.json); return }
        Output.line("\(e.reason.rawValue): \(e.message)")
    }
}

struct JobsRetry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "retry",
        abstract: "Put a dlq or cancelled job back in the queue in place (same id, fresh budget), or many with --filter.")
    @OptionGroup var db: DatabaseOptions
    @Argument var id: String?
    @OptionGroup var bulk: BulkOptions

    func run() async throws {
        try await singleOrBulk(db, id: id, bulk: bulk, action: .retry, single: { c, id in try await c.retry(id).json },
                               describe: { "retried \($0["id"]?.stringValue ?? "") in place: now \($0["status"]?.stringValue ?? "")" })
    }
}

struct JobsReplay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replay",
        abstract: "Run a finished job again as a new job pointing to the original, or many with --filter.")
    @OptionGroup var db: DatabaseOptions
    @Argument var id: String?
    @OptionGroup var bulk: BulkOptions

    func run() async throws {
        try await singleOrBulk(db, id: id, bulk: bulk, action: .replay, single: { c, id in try await c.replay(id).json },
                               describe: { "replayed as \($0["job_id"]?.stringValue ?? "")" })
    }
}

struct JobsCancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel",
        abstract: "Cancel a queued or running job (a running handler is stopped), or many with --filter.")
    @OptionGroup var db: DatabaseOptions
    @Argument var id: String?
    @OptionGroup var bulk: BulkOptions

    func run() async throws {
        try await singleOrBulk(db, id: id, bulk: bulk, action: .cancel, single: { c, id in try await c.cancel(id).json },
                               describe: { "cancelled \($0["id"]?.stringValue ?? "")" })
    }
}

struct JobsDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a job that is not running, with its history.")
    @OptionGroup var db: DatabaseOptions
    @Argument var id: String

    func run() async throws {
        try await db.withClient { client in try await client.delete(id) }
        if db.json { Output.json(.object([("deleted", .bool(true)), ("job_id", .string(id))])); return }
        Output.line("deleted \(id)")
    }
}

struct DLQCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dlq", abstract: "List dead-lettered jobs, newest first.")
    @OptionGroup var db: DatabaseOptions
    @Option(help: "Queue.") var queue: String?
    @Option(help: "1…1000.") var limit: Int = 50
    @Option(help: "Skip this many.") var offset: Int = 0

    func run() async throws {
        let page = try await db.withClient(write: false) { client in
            try await client.jobItems(JobFilter(queue: queue, status: .dlq), limit: limit, offset: offset)
        }
        if db.json { Output.json(page.json { $0.json }); return }
        Output.table(["ID", "QUEUE", "TYPE", "REASON", "LAST ERROR", "ATT", "FINISHED"], page.items.map(\.job).map { j in
            [j.id, j.queue, j.jobType, j.dlqReasonCode ?? "", j.lastErrorCode ?? "", "\(j.attempts)", j.finishedAt.map(Time.format) ?? ""]
        })
        Output.line("\(page.items.count) shown, \(page.total)\(page.totalCapped ? "+" : "") in the DLQ")
    }
}
