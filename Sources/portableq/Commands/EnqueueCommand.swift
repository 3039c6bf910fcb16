import ArgumentParser
import Backends
import Foundation

struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Enqueue one job.",
        discussion: "The payload is JSON given inline, @path to read a file, or - to read stdin."
    )

    @OptionGroup var db: DatabaseOptions
    @Argument(help: "The job type.") var type: String
    @Option(help: "JSON payload, @file or - (stdin).") var payload: String = "null"
    @Option(help: "Queue name.") var queue: String = "default"
    @Option(help: "Higher runs first.") var priority: Int = 0
    @Option(name: .customLong("max-attempts"), help: "Attempts before the job is dead-lettered.") var maxAttempts: Int?
    @Option(help: "Run after this many seconds.") var delay: Double?
    @Option(name: .customLong("run-at"), help: "Run at this RFC 3339 time (with an offset).") var runAt: String?
    @Option(name: .customLong("idempotency-key"), help: "A repeated key in the same queue returns the existing job.") var idempotencyKey: String?
    @Option(name: .customLong("timeout-seconds"), help: "Per-attempt timeout.") var timeoutSeconds: Int?
    @Option(name: .customLong("concurrency-key"), help: "The key whose per-key limits the job obeys (e.g. a tenant id); beats the queue's concurrency_key_from.") var concurrencyKey: String?
    @Option(name: .customLong("unique-by"), help: "Unique while active, by these comma-separated fields: queue, job_type, payload, payload.<field>.") var uniqueBy: String?
    @Option(name: .customLong("unique-states"), help: "With --unique-by: the statuses that hold the key (default queued,running; must include both).") var uniqueStates: String?
    @Option(name: .customLong("unique-period"), help: "With --unique-by: unique per period of this many seconds.") var uniquePeriod: Int?
    @Option(name: .customLong("tag"), help: "A tag to find the job by (repeatable, up to 16; 1-64 of A-Z a-z 0-9 _ . : / = -).") var tags: [String] = []
    @Option(help: "A JSON object kept with the job (up to 64 KiB).") var metadata: String?
    @Option(name: .customLong("unique-on-conflict"), help: "With --unique-by: skip (default) or replace (a queued match takes this payload and run time).") var uniqueOnConflict: String?

    /// The unique options as a spec; the core checks the values.
    func uniqueSpec() throws -> UniqueSpec? {
        guard let uniqueBy else {
            if uniqueStates != nil || uniquePeriod != nil || uniqueOnConflict != nil {
                throw PortableError.invalid("--unique-states, --unique-period and --unique-on-conflict need --unique-by")
            }
            return nil
        }
        var spec = UniqueSpec(by: UniqueCLI.list(uniqueBy), periodSeconds: uniquePeriod)
        if let s = uniqueStates {
            spec.states = Set(try UniqueCLI.list(s).map { name in
                guard let st = JobStatus(rawValue: name) else { throw PortableError.invalid("--unique-states: unknown status \(JSON.quote(name))") }
                return st
            })
        }
        if let c = uniqueOnConflict {
            guard let v = UniqueSpec.OnConflict(rawValue: c) else { throw PortableError.invalid("--unique-on-conflict must be skip or replace") }
            spec.onConflict = v
        }
        return spec
    }

    func run() async throws {
        let body = try PayloadInput.read(payload)
        var at: Date?
        if let runAt {
            guard let d = Time.parse(runAt) else {
                throw PortableError.invalid("--run-at \(JSON.quote(runAt)) is not an RFC 3339 time with an offset (e.g. 2026-12-01T09:00:00Z)")
            }
            at = d
        }
        var job = NewJob(queue: queue, jobType: type, payloadJSON: body, priority: priority, runAt: at, delaySeconds: delay,
                         maxAttempts: maxAttempts, timeoutSeconds: timeoutSeconds, idempotencyKey: idempotencyKey,
                         unique: try uniqueSpec(), concurrencyKey: concurrencyKey)
        job.tags = tags
        job.metadata = metadata
        let r = try await db.withClient { client in try await client.enqueue(job) }
        if db.json { Output.json(r.json); return }
        if r.created {
            Output.line("enqueued \(r.job.id) (queue \(r.job.queue), type \(r.job.jobType), runs at \(Time.format(r.job.runAt)))")
        } else if r.duplicate == .unique {
            Output.line("\(r.replaced ? "replaced" : "exists") \(r.job.id) (unique match in queue \(r.job.queue), status \(r.job.status.rawValue))")
        } else {
            Output.line("exists \(r.job.id) (idempotency key \(r.job.idempotencyKey ?? "") in queue \(r.job.queue), status \(r.job.status.rawValue))")
        }
    }
}

enum UniqueCLI {
    /// "a, b,c" → ["a", "b", "c"].
    static func list(_ s: String) -> [String] {
        s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

enum PayloadInput {
    /// Inline JSON, `@path`, or `-` for stdin. Returns the text (validated later by the core).
    static func read(_ arg: String) throws -> String {
        let text: String
        if arg == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else if arg.hasPrefix("@") {
            let path = String(arg.dropFirst())
            guard let data = FileManager.default.contents(atPath: path) else {
                throw PortableError.invalid("cannot read payload file \(path)")
            }
            text = String(decoding: data, as: UTF8.self)
        } else {
            text = arg
        }
        do {
            return try JSON.parse(text).compact
        } catch let e as PortableError {
            throw PortableError(.badJSON, "--payload is not valid JSON: \(e.message)")
        }
    }
}
