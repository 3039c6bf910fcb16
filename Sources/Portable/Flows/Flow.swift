import Foundation

/// One step of a flow: a job type that runs once all its dependencies have succeeded.
public struct FlowStep: Sendable, Equatable {
    public var slug: String
    public var jobType: String
    public var queue: String
    public var dependsOn: [String]
    public var maxAttempts: Int?
    public var baseDelaySeconds: Double?
    public var timeoutSeconds: Int?
    /// A map step: the dotted path (`run.…` or `<dependency>.…`) of the array it fans out over,
    /// one job per element with the element as its payload; its output is their outputs in order.
    public var map: String?
    /// The most elements a map step takes (`MAP_TOO_LARGE` past it); nil is `defaultMaxElements`.
    public var maxElements: Int?

    public static let defaultMaxElements = 10_000
    public static let maxElementsLimit = 100_000

    public init(slug: String, jobType: String? = nil, queue: String = "default", dependsOn: [String] = [],
                maxAttempts: Int? = nil, baseDelaySeconds: Double? = nil, timeoutSeconds: Int? = nil,
                map: String? = nil, maxElements: Int? = nil, flow: String) {
        self.slug = slug
        self.jobType = jobType ?? "\(flow).\(slug)"
        self.queue = queue
        self.dependsOn = dependsOn
        self.maxAttempts = maxAttempts; self.baseDelaySeconds = baseDelaySeconds; self.timeoutSeconds = timeoutSeconds
        self.map = map; self.maxElements = maxElements
    }

    /// The map path's segments (`fetch.images` → `["fetch", "images"]`).
    public var mapPath: [String]? { map.map { $0.split(separator: ".", omittingEmptySubsequences: false).map(String.init) } }
}

/// A flow definition (DESIGN.md "Workflows"): a slug, defaults, and steps with dependencies.
public struct FlowDefinition: Sendable, Equatable {
    public var slug: String
    public var maxAttempts: Int?
    public var baseDelaySeconds: Double?
    public var timeoutSeconds: Int?
    public var steps: [FlowStep]
    /// Set once stored.
    public var version: Int?
    public var createdAt: Date?

    public init(slug: String, maxAttempts: Int? = nil, baseDelaySeconds: Double? = nil, timeoutSeconds: Int? = nil,
                steps: [FlowStep]) {
        self.slug = slug; self.maxAttempts = maxAttempts; self.baseDelaySeconds = baseDelaySeconds
        self.timeoutSeconds = timeoutSeconds; self.steps = steps
    }

    public static func == (a: FlowDefinition, b: FlowDefinition) -> Bool { a.json.compact == b.json.compact }

    /// Parses the file form (`flows define FILE.json`, `POST /flows`) and validates it.
    public static func parse(_ json: JSON) throws -> FlowDefinition {
        guard case .object = json else { throw PortableError.invalid("a flow definition must be a JSON object") }
        func int(_ v: JSON?, _ what: String) throws -> Int? {
            guard let v, !v.isNull else { return nil }
            guard let i = v.intValue else { throw PortableError.invalid("\(what) must be an integer") }
            return i
        }
        func double(_ v: JSON?, _ what: String) throws -> Double? {
            guard let v, !v.isNull else { return nil }
            guard let d = v.doubleValue, d.isFinite else { throw PortableError.invalid("\(what) must be a number") }
            return d
        }
        func string(_ v: JSON?, _ what: String) throws -> String? {
            guard let v, !v.isNull else { return nil }
            guard let s = v.stringValue else { throw PortableError.invalid("\(what) must be a string") }
            return s
        }
        guard let slug = try string(json["slug"], "slug") else { throw PortableError.invalid("a flow needs a slug") }
        guard let stepsJSON = json["steps"]?.arrayValue else { throw PortableError.invalid("a flow needs a steps array") }
        var steps: [FlowStep] = []
        for (i, s) in stepsJSON.enumerated() {
            guard case .object = s else { throw PortableError.invalid("steps[\(i)] must be an object") }
            guard let stepSlug = try string(s["slug"], "steps[\(i)].slug") else { throw PortableError.invalid("steps[\(i)] needs a slug") }
            var deps: [String] = []
            if let d = s["depends_on"], !d.isNull {
                guard let arr = d.arrayValue, arr.allSatisfy({ $0.stringValue != nil }) else {
                    throw PortableError.invalid("steps[\(i)].depends_on must be an array of step slugs")
                }
                deps = arr.compactMap(\.stringValue)
            }
            steps.append(FlowStep(slug: stepSlug, jobType: try string(s["job_type"], "steps[\(i)].job_type"),
                                  queue: try string(s["queue"], "steps[\(i)].queue") ?? "default", dependsOn: deps,
                                  maxAttempts: try int(s["max_attempts"], "steps[\(i)].max_attempts"),
                                  baseDelaySeconds: try double(s["base_delay_seconds"], "steps[\(i)].base_delay_seconds"),
                                  timeoutSeconds: try int(s["timeout_seconds"], "steps[\(i)].timeout_seconds"),
                                  map: try string(s["map"], "steps[\(i)].map"),
                                  maxElements: try int(s["max_elements"], "steps[\(i)].max_elements"), flow: slug))
        }
        let def = FlowDefinition(slug: slug, maxAttempts: try int(json["max_attempts"], "max_attempts"),
                                 baseDelaySeconds: try double(json["base_delay_seconds"], "base_delay_seconds"),
                                 timeoutSeconds: try int(json["timeout_seconds"], "timeout_seconds"), steps: steps)
        try def.validate()
        return def
    }

    /// Refuses unknown dependencies, duplicate slugs, cycles and bad names or limits.
    public func validate() throws {
        try Names.check(slug, "flow slug")
        guard !steps.isEmpty else { throw PortableError.invalid("flow \(slug) has no steps") }
        guard steps.count <= 1000 else { throw PortableError.invalid("flow \(slug) has more than 1000 steps") }
        var seen = Set<String>()
        for s in steps {
            try Names.check(s.slug, "step slug")
            guard s.slug != "run" else { throw PortableError.invalid("\"run\" is reserved (a step's payload has the run input under it)") }
            guard seen.insert(s.slug).inserted else { throw PortableError.invalid("flow \(slug): duplicate step \(JSON.quote(s.slug))") }
            try Names.check(s.jobType, "job_type")
            try Names.check(s.queue, "queue")
            if let m = s.maxAttempts ?? maxAttempts, !(1...Limits.maxAttempts).contains(m) {
                throw PortableError.invalid("max_attempts must be between 1 and \(Limits.maxAttempts)")
            }
            if let t = s.timeoutSeconds ?? timeoutSeconds, !(1...Limits.timeoutSeconds).contains(t) {
                throw PortableError.invalid("timeout_seconds must be between 1 and \(Limits.timeoutSeconds)")
            }
            if let d = s.baseDelaySeconds ?? baseDelaySeconds, !(d >= 0 && d <= 86_400) {
                throw PortableError.invalid("base_delay_seconds must be between 0 and 86400")
            }
        }
        for s in steps {
            for d in s.dependsOn where !seen.contains(d) {
                throw PortableError.invalid("flow \(slug): step \(s.slug) depends on unknown step \(JSON.quote(d))")
            }
            if Set(s.dependsOn).count != s.dependsOn.count {
                throw PortableError.invalid("flow \(slug): step \(s.slug) lists a dependency twice")
            }
            try validateMap(s)
        }
        if let cycle = cycle() {
            throw PortableError.invalid("flow \(slug): the dependencies form a cycle (\(cycle.joined(separator: " → ")))")
        }
    }

    /// A map path starts at `run` or one of the step's dependencies and has no empty segment;
    /// `max_elements` is for map steps only and within 1…100,000.
    func validateMap(_ s: FlowStep) throws {
        if let n = s.maxElements {
            guard s.map != nil else { throw PortableError.invalid("flow \(slug): step \(s.slug) has max_elements but no map") }
            guard (1...FlowStep.maxElementsLimit).contains(n) else {
                throw PortableError.invalid("flow \(slug): step \(s.slug): max_elements must be between 1 and \(FlowStep.maxElementsLimit)")
            }
        }
        guard let path = s.mapPath, let first = path.first else { return }
        guard !path.contains(where: \.isEmpty), (s.map?.count ?? 0) <= 512 else {
            throw PortableError.invalid("flow \(slug): step \(s.slug): map must be a dotted path such as run.items or fetch.images")
        }
        guard first == "run" || s.dependsOn.contains(first) else {
            throw PortableError.invalid("flow \(slug): step \(s.slug): map path \(JSON.quote(s.map ?? "")) must start with run or one of the step's dependencies (\(s.dependsOn.joined(separator: ", ")))")
        }
    }

    /// A cycle through the steps, if any (depth-first search).
    func cycle() -> [String]? {
        let deps = Dictionary(steps.map { ($0.slug, $0.dependsOn) }, uniquingKeysWith: { a, _ in a })
        var state: [String: Int] = [:]   // 1 visiting, 2 done
        var path: [String] = []
        func visit(_ s: String) -> [String]? {
            if state[s] == 2 { return nil }
            if state[s] == 1 { return Array(path[path.firstIndex(of: s)!...]) + [s] }
            state[s] = 1
            path.append(s)
            for d in deps[s] ?? [] { if let c = visit(d) { return c } }
            path.removeLast()
            state[s] = 2
            return nil
        }
        for s in steps { if let c = visit(s.slug) { return c } }
        return nil
    }

    public func step(_ slug: String) -> FlowStep? { steps.first { $0.slug == slug } }
    public func dependents(of slug: String) -> [FlowStep] { steps.filter { $0.dependsOn.contains(slug) } }

    /// A run's steps in this definition's order (drivers return them in no particular order).
    public func ordered(_ runSteps: [RunStep]) -> [RunStep] {
        let place = Dictionary(steps.enumerated().map { ($1.slug, $0) }, uniquingKeysWith: { a, _ in a })
        return runSteps.sorted { (place[$0.slug] ?? Int.max, $0.slug) < (place[$1.slug] ?? Int.max, $1.slug) }
    }

    /// The canonical file form (defaults spelled out), stored as the definition.
    public var json: JSON {
        var m: [(String, JSON)] = [("slug", .string(slug))]
        if let maxAttempts { m.append(("max_attempts", .int(maxAttempts))) }
        if let baseDelaySeconds { m.append(("base_delay_seconds", .double(baseDelaySeconds))) }
        if let timeoutSeconds { m.append(("timeout_seconds", .int(timeoutSeconds))) }
        m.append(("steps", .array(steps.map { s in
            var o: [(String, JSON)] = [("slug", .string(s.slug)), ("job_type", .string(s.jobType)), ("queue", .string(s.queue)),
                                       ("depends_on", .array(s.dependsOn.map(JSON.string)))]
            if let v = s.maxAttempts { o.append(("max_attempts", .int(v))) }
            if let v = s.baseDelaySeconds { o.append(("base_delay_seconds", .double(v))) }
            if let v = s.timeoutSeconds { o.append(("timeout_seconds", .int(v))) }
            if let v = s.map { o.append(("map", .string(v))) }
            if let v = s.maxElements { o.append(("max_elements", .int(v))) }
            return .object(o)
        })))
        return .object(m)
    }

    /// The API form: the definition plus its version and creation time.
    public var apiJSON: JSON {
        guard case .object(var m) = json else { return json }
        m.insert(("version", .optionalInt(version)), at: 1)
        m.append(("created_at", createdAt.map { .string(Time.format($0)) } ?? .null))
        return .object(m)
    }
}

public enum RunStatus: String, Sendable, CaseIterable {
    case running, succeeded, failed, cancelled
}

public enum RunStepStatus: String, Sendable, CaseIterable {
    /// Dependencies not yet all succeeded: no job yet.
    case waiting
    /// Its job exists (queued, running or being retried).
    case queued
    case succeeded
    /// Its job was dead-lettered: the run failed.
    case failed
    /// The run failed or was cancelled before it could start.
    case skipped
    case cancelled
}

/// One step of one run.
public struct RunStep: Sendable, Equatable {
    public var slug: String
    public var status: RunStepStatus
    public var remainingDeps: Int
    public var jobId: String?
    public var output: String?
    public var finishedAt: Date?
    /// A map step that fanned out: its element count, and how many have succeeded.
    public var mapTotal: Int?
    public var mapDone: Int = 0
    /// Why the step failed when no job of its own did (MAP_NOT_ARRAY, MAP_TOO_LARGE, …).
    public var errorCode: String?
    public init(slug: String, status: RunStepStatus, remainingDeps: Int, jobId: String? = nil, output: String? = nil,
                finishedAt: Date? = nil, mapTotal: Int? = nil, mapDone: Int = 0, errorCode: String? = nil) {
        self.slug = slug; self.status = status; self.remainingDeps = remainingDeps; self.jobId = jobId
        self.output = output; self.finishedAt = finishedAt; self.mapTotal = mapTotal; self.mapDone = mapDone; self.errorCode = errorCode
    }
}

/// Something that happened to a run besides its steps ending: today `reopened` (an operator
/// retried a step job of a failed run and no other step was dead-lettered).
public struct RunEvent: Sendable, Equatable {
    public var type: String
    public var step: String?
    public var jobId: String?
    public var message: String?
    /// Set by the driver when written.
    public var at: Date?
    public init(type: String, step: String? = nil, jobId: String? = nil, message: String? = nil, at: Date? = nil) {
        self.type = type; self.step = step; self.jobId = jobId; self.message = message; self.at = at
    }

    public var json: JSON {
        .object([("type", .string(type)), ("at", at.map { .string(Time.format($0)) } ?? .null), ("step", .optional(step)),
                 ("job_id", .optional(jobId)), ("message", .optional(message))])
    }
}

/// A run of a flow.
public struct FlowRun: Sendable, Equatable {
    public var id: String
    public var flowSlug: String
    public var flowVersion: Int
    public var status: RunStatus
    public var input: String
    public var createdAt: Date
    public var finishedAt: Date?
    public var failedStep: String?
    public var steps: [RunStep]
    /// Oldest first (`GET /runs/:id` only; lists leave it empty).
    public var events: [RunEvent] = []

    public init(id: String, flowSlug: String, flowVersion: Int, status: RunStatus, input: String, createdAt: Date,
                finishedAt: Date?, failedStep: String?, steps: [RunStep]) {
        self.id = id; self.flowSlug = flowSlug; self.flowVersion = flowVersion; self.status = status; self.input = input
        self.createdAt = createdAt; self.finishedAt = finishedAt; self.failedStep = failedStep; self.steps = steps
    }

    /// The summary form for lists.
    public var summaryJSON: JSON {
        .object([("id", .string(id)), ("flow", .string(flowSlug)), ("version", .int(flowVersion)), ("status", .string(status.rawValue)),
                 ("created_at", .string(Time.format(createdAt))), ("finished_at", finishedAt.map { .string(Time.format($0)) } ?? .null),
                 ("failed_step", .optional(failedStep))])
    }

    /// `GET /runs/:id`: the run, each step's state, output and timings, and why a step waits:
    /// a waiting step names the dependencies it waits for, a queued one says why its job has not
    /// started (`reasons`, by job id: its explanation, e.g. NO_WORKER_FOR_TYPE).
    /// A map step adds `map`: its path, element count, how many succeeded, and its elements'
    /// jobs by status (`elements`, from `PortableClient.mapElementStates`).
    public func json(definition: FlowDefinition?, jobs: [String: Job], reasons: [String: Explanation] = [:],
                     elements: [String: [JobStatus: Int]] = [:]) -> JSON {
        guard case .object(var m) = summaryJSON else { return summaryJSON }
        m.insert(("input", .raw(input)), at: 4)
        m.append(("steps", .array(steps.map { st in
            let def = definition?.step(st.slug)
            let job = st.jobId.flatMap { jobs[$0] }
            let waitingFor = (def?.dependsOn ?? []).filter { d in steps.first { $0.slug == d }?.status != .succeeded }
            var o: [(String, JSON)] = [
                ("slug", .string(st.slug)), ("status", .string(st.status.rawValue)),
                ("job_type", .optional(def?.jobType)), ("queue", .optional(def?.queue)),
                ("depends_on", .array((def?.dependsOn ?? []).map(JSON.string))),
                ("waiting_for", .array((st.status == .waiting ? waitingFor : []).map(JSON.string))),
                ("job_id", .optional(st.jobId)), ("job_status", .optional(job?.status.rawValue)),
                ("attempts", .int(job?.attempts ?? 0)), ("output", .optionalRaw(st.output)),
                ("last_error_code", .optional(job?.lastErrorCode ?? st.errorCode)), ("error_code", .optional(st.errorCode)),
                ("started_at", job?.startedAt.map { .string(Time.format($0)) } ?? .null),
                ("finished_at", st.finishedAt.map { .string(Time.format($0)) } ?? .null),
            ]
            if let path = def?.map {
                let states = elements[st.slug] ?? [:]
                o.append(("map", .object([
                    ("path", .string(path)), ("total", .optionalInt(st.mapTotal)), ("done", .int(st.mapDone)),
                    ("elements", .object(JobStatus.allCases.compactMap { s in states[s].map { (s.rawValue, .int($0)) } })),
                ])))
            }
            if st.status == .waiting {
                o.append(("reason_code", .string(Explanation.Reason.waitingForDependencies.rawValue)))
                o.append(("message", .string("Waiting for \(waitingFor.joined(separator: ", ")) to succeed.")))
            } else if let j = st.jobId, let why = reasons[j] {
                o.append(("reason_code", .string(why.reason.rawValue)))
                o.append(("message", .string(why.message)))
            }
            return .object(o)
        })))
        m.append(("events", .array(events.map(\.json))))
        return .object(m)
    }
}
