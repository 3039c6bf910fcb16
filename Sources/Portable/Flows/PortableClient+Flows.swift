import Foundation

/// Workflows: define, start, inspect and cancel runs of DAGs of steps. Step jobs are ordinary
/// jobs (same leasing, retries and DLQ); the ack of a step's last dependency makes its job.
extension PortableClient {
    /// Stores the definition; a redefinition with other steps adds a version (runs keep theirs),
    /// the same definition again is a no-op.
    @discardableResult
    public func defineFlow(_ def: FlowDefinition) async throws -> FlowDefinition {
        try def.validate()
        return try await driver.flowDefine(def, now: now)
    }

    public func flows() async throws -> [FlowDefinition] { try await driver.flowList() }

    public func flow(_ slug: String, version: Int? = nil) async throws -> FlowDefinition {
        guard let f = try await driver.flowGet(slug, version: version) else { throw PortableError.notFound("no flow \(slug)") }
        return f
    }

    /// Starts a run with `inputJSON` (guardrails apply: the input's size, and the enqueue rate
    /// of the root steps' queues).
    public func startFlow(_ slug: String, inputJSON: String = "null") async throws -> FlowRun {
        let ids = try await startFlows(slug, inputsJSON: [inputJSON])
        return try await self.run(ids[0]).run
    }

    /// The most runs one batch starts.
    public static let maxRunsPerBatch = 1000

    /// Starts one run per input in one transaction (all or none) and returns their ids in input
    /// order. Guardrails apply to the batch as a whole: one oversized input or a queue over its
    /// enqueue rate refuses every run.
    public func startFlows(_ slug: String, inputsJSON: [String]) async throws -> [String] {
        guard (1...Self.maxRunsPerBatch).contains(inputsJSON.count) else {
            throw PortableError.invalid("a batch starts between 1 and \(Self.maxRunsPerBatch) runs, got \(inputsJSON.count)")
        }
        let def = try await flow(slug)
        var runs: [FlowRun] = []
        var jobs: [JobInsert] = []
        var elements: [MapElement] = []
        var oversized = Set<Int>()
        let limits = mapLimits
        for (i, text) in inputsJSON.enumerated() {
            let input: String
            do { input = try JSON.parse(text).compact } catch let e as PortableError where inputsJSON.count > 1 {
                throw PortableError(e.code, "runs[\(i)].input: \(e.message)")
            }
            let runId = ids.next(at: clock.localNow)
            let ids = self.ids, clock = self.clock
            var (run, started) = FlowEngine.start(def, runId: runId, input: input, limits: limits, newId: { ids.next(at: clock.localNow) })
            run.createdAt = clock.localNow
            if input.utf8.count > config.maxPayloadBytes { oversized.formUnion(jobs.count..<(jobs.count + max(1, started.newJobs.count))) }
            jobs += started.newJobs
            elements += started.elements
            runs.append(run)
        }
        if !oversized.isEmpty || config.maxEnqueuePerMinute != nil {
            _ = try await applyGuardrails(jobs, oversized: oversized)
        }
        try await driver.flowRunStartMany(runs, jobs: jobs, elements: elements, now: now)
        return runs.map(\.id)
    }

    /// A run with its definition and its steps' jobs.
    public func run(_ id: String) async throws -> (run: FlowRun, definition: FlowDefinition?, jobs: [String: Job]) {
        guard UUIDv7.isValid(id) else { throw PortableError.malformedId(id, of: "run") }
        guard var r = try await driver.flowRunGet(id.lowercased()) else { throw PortableError.notFound("no run \(id)") }
        let def = try await driver.flowGet(r.flowSlug, version: r.flowVersion)
        r.steps = def?.ordered(r.steps) ?? r.steps.sorted { $0.slug < $1.slug }
        let jobs = try await driver.jobGetMany(r.steps.compactMap(\.jobId))
        return (r, def, Dictionary(jobs.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }))
    }

    public func runJSON(_ id: String) async throws -> JSON {
        let (r, def, jobs) = try await run(id)
        return r.json(definition: def, jobs: jobs, reasons: try await stepReasons(r, jobs: jobs),
                      elements: try await mapElementStates(r))
    }

    /// How many element jobs of each map step are in each status (one grouped read).
    public func mapElementStates(_ r: FlowRun) async throws -> [String: [JobStatus: Int]] {
        guard r.steps.contains(where: { $0.mapTotal != nil }) else { return [:] }
        return try await driver.flowRunElementStates(r.id)
    }

    /// The limits of map steps: elements obey MAX_PAYLOAD_BYTES, the assembled output 16 MiB.
    var mapLimits: MapLimits { MapLimits(maxPayloadBytes: config.maxPayloadBytes) }

    /// Why each queued step's job has not started or finished (its explanation), by job id.
    func stepReasons(_ r: FlowRun, jobs: [String: Job]) async throws -> [String: Explanation] {
        let pending = r.steps.filter { $0.status == .queued }.compactMap { $0.jobId.flatMap { jobs[$0] } }
            .filter { $0.status == .queued || $0.status == .running }
        guard !pending.isEmpty else { return [:] }
        return Dictionary(try await explain(pending).map { ($0.jobId, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func runs(flow slug: String? = nil, status: RunStatus? = nil, limit: Int = 50, offset: Int = 0) async throws -> Page<FlowRun> {
        guard (1...1000).contains(limit) else { throw PortableError.invalid("limit must be between 1 and 1000") }
        guard offset >= 0 else { throw PortableError.invalid("offset must not be negative") }
        async let items = driver.flowRunList(slug, status: status, limit: limit, offset: offset)
        async let total = driver.flowRunCount(slug, status: status, cap: config.countCap + 1)
        let (i, t) = try await (items, total)
        return Page(items: i, total: min(t, config.countCap), totalCapped: t > config.countCap)
    }

    /// Cancels a running run: steps that have not finished are cancelled, and so are their
    /// queued and running jobs (a running handler is stopped as for any cancelled job).
    @discardableResult
    public func cancelRun(_ id: String) async throws -> FlowRun {
        let (r, _, _) = try await run(id)
        guard r.status == .running else {
            throw PortableError.conflict("run \(id) is \(r.status.rawValue); only running runs can be cancelled")
        }
        _ = try await driver.flowRunCancel(r.id, now: now)
        // Page through the run's jobs: a map step may have many thousands of elements.
        var offset = 0
        while true {
            let page = try await driver.jobList(JobFilter(runId: r.id), limit: 1000, offset: offset)
            let live = page.filter { $0.status == .queued || $0.status == .running }
            if !live.isEmpty { _ = try await driver.jobCancelMany(live.map(Decide.cancel), now: now) }
            guard page.count == 1000 else { break }
            offset += 1000
        }
        return try await run(r.id).run
    }

    /// Retries a dead-lettered or cancelled step job together with its run (`FlowEngine.retry`).
    /// False when its run is gone (the job is then retried alone).
    func retryStep(_ j: Job) async throws -> Bool {
        guard let runId = j.runId else { return false }
        let cache = flowDefinitions
        let ids = self.ids
        let clock = self.clock
        let limits = mapLimits
        let hook = FlowRetryHook { snapshot, jobId in
            let def = try cache.get(snapshot.definitionJSON)
            return try FlowEngine.retry(snapshot, def: def, jobId: jobId, limits: limits, newId: { ids.next(at: clock.localNow) })
        }
        return try await driver.flowStepRetry(runId: runId, jobId: j.id, hook: hook, now: now) != nil
    }

    /// The hook the ack transaction runs for step jobs.
    var flowHook: FlowHook {
        let cache = flowDefinitions
        let ids = self.ids
        let clock = self.clock
        let limits = mapLimits
        return FlowHook { snapshot, step, outcome in
            let def = try cache.get(snapshot.definitionJSON)
            return try FlowEngine.advance(snapshot, def: def, step: step, outcome: outcome, limits: limits,
                                          newId: { ids.next(at: clock.localNow) })
        }
    }
}
