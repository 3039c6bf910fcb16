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
        let def = try await flow(slug)
        let input = try JSON.parse(inputJSON).compact
        let runId = ids.next(at: clock.localNow)
        let (steps, jobs) = FlowEngine.start(def, runId: runId, input: input, newId: { ids.next(at: clock.localNow) })
        let oversized = input.utf8.count > config.maxPayloadBytes ? Set(jobs.indices) : []
        if !oversized.isEmpty || config.maxEnqueuePerMinute != nil {
            _ = try await applyGuardrails(jobs, oversized: oversized)
        }
        let run = FlowRun(id: runId, flowSlug: def.slug, flowVersion: def.version ?? 1, status: .running, input: input,
                          createdAt: clock.localNow, finishedAt: nil, failedStep: nil, steps: steps)
        try await driver.flowRunStart(run, jobs: jobs, now: now)
        return try await self.run(run.id).run
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
        return r.json(definition: def, jobs: jobs)
    }

    public func runs(flow slug: String? = nil, limit: Int = 50, offset: Int = 0) async throws -> Page<FlowRun> {
        guard (1...1000).contains(limit) else { throw PortableError.invalid("limit must be between 1 and 1000") }
        guard offset >= 0 else { throw PortableError.invalid("offset must not be negative") }
        async let items = driver.flowRunList(slug, limit: limit, offset: offset)
        async let total = driver.flowRunCount(slug, cap: config.countCap + 1)
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
        let live = try await driver.jobList(JobFilter(runId: r.id), limit: 1000, offset: 0)
            .filter { $0.status == .queued || $0.status == .running }
        if !live.isEmpty {
            _ = try await driver.jobCancelMany(live.map(Decide.cancel), now: now)
        }
        return try await run(r.id).run
    }

    /// The hook the ack transaction runs for step jobs.
    var flowHook: FlowHook {
        let cache = flowDefinitions
        let ids = self.ids
        let clock = self.clock
        return FlowHook { snapshot, step, outcome in
            let def = try cache.get(snapshot.definitionJSON)
            return FlowEngine.advance(snapshot, def: def, step: step, outcome: outcome, newId: { ids.next(at: clock.localNow) })
        }
    }
}
