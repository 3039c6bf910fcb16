import Foundation
import Synchronization

/// How a step's job ended, as far as its run is concerned.
public enum StepOutcome: Sendable, Equatable {
    case succeeded(output: String?)
    /// Dead-lettered: the run fails and nothing downstream starts.
    case failed
}

/// A run as the ack transaction sees it (the run row locked).
public struct FlowSnapshot: Sendable {
    public var runId: String
    public var status: RunStatus
    public var input: String
    public var definitionJSON: String
    public var steps: [RunStep]
    /// The statuses of the run's live jobs by id (read for an operator's retry only).
    public var jobStatuses: [String: JobStatus] = [:]
    /// The step of each of the run's jobs by id (read for an operator's retry only).
    public var jobSteps: [String: String] = [:]
    /// Set when the job that ended (or is retried) is an element of a map step.
    public var element: MapElementRef?
    /// Reads a map step's elements, inside the driver's transaction (only when the core needs
    /// them: the last element succeeded, or the run fails and queued elements are cancelled).
    public var elements: MapElementReader?
    public init(runId: String, status: RunStatus, input: String, definitionJSON: String, steps: [RunStep]) {
        self.runId = runId; self.status = status; self.input = input; self.definitionJSON = definitionJSON; self.steps = steps
    }
}

/// What the driver writes for one advance, in the same transaction as the ack.
public struct FlowChanges: Sendable, Equatable {
    /// New state of the steps that changed (`finishedAt` is set by the driver to now for
    /// succeeded and failed steps).
    public var steps: [RunStep] = []
    public var runStatus: RunStatus?
    public var failedStep: String?
    /// Jobs of steps whose last dependency just succeeded.
    public var newJobs: [JobInsert] = []
    /// Queued jobs of other steps to cancel, with what to record (the run failed: they never start).
    public var cancelJobs: [CancelTarget] = []
    /// Dead-lettered or cancelled jobs to put back in the queue, each with what to record: the
    /// one an operator retried first, then the siblings a reopened run's failure had cancelled.
    public var retryJobs: [RetryTarget] = []
    /// Run events to record (`reopened`, `step_failed`).
    public var events: [RunEvent] = []
    /// Element jobs of map steps that just fanned out (their jobs are in `newJobs`).
    public var elements: [MapElement] = []
    /// Outputs of element jobs that just succeeded.
    public var elementOutputs: [MapElementOutput] = []
    public init() {}
}

/// The link from an element job to its map step: its index is its place in the step's output.
public struct MapElement: Sendable, Equatable {
    public var runId: String
    public var step: String
    public var index: Int
    public var jobId: String
    public init(runId: String, step: String, index: Int, jobId: String) {
        self.runId = runId; self.step = step; self.index = index; self.jobId = jobId
    }
}

/// Which element of which map step a job is.
public struct MapElementRef: Sendable, Equatable {
    public var step: String
    public var index: Int
    public var jobId: String
    public init(step: String, index: Int, jobId: String) { self.step = step; self.index = index; self.jobId = jobId }
}

/// A stored element: its job and, once it succeeded, its output.
public struct MapElementRow: Sendable, Equatable {
    public var index: Int
    public var jobId: String
    public var output: String?
    public init(index: Int, jobId: String, output: String?) { self.index = index; self.jobId = jobId; self.output = output }
}

/// The output an element job succeeded with, kept until the step assembles its array.
public struct MapElementOutput: Sendable, Equatable {
    public var jobId: String
    public var output: String?
    public init(jobId: String, output: String?) { self.jobId = jobId; self.output = output }
}

/// Reads a map step's elements (any order) on the driver's connection. Unchecked: it is only
/// called synchronously by the hook, on the connection's thread, inside the transaction.
public struct MapElementReader: @unchecked Sendable {
    let read: (_ step: String) throws -> [MapElementRow]
    public init(_ read: @escaping (_ step: String) throws -> [MapElementRow]) { self.read = read }
}

/// The limits a map step's fan-out and output obey.
public struct MapLimits: Sendable {
    /// Each element's input (and, checked on ack, output): `MAX_PAYLOAD_BYTES`.
    public var maxPayloadBytes: Int
    /// The assembled output array.
    public var maxOutputBytes: Int
    public static let defaultMaxOutputBytes = 16 * 1024 * 1024
    public init(maxPayloadBytes: Int, maxOutputBytes: Int = MapLimits.defaultMaxOutputBytes) {
        self.maxPayloadBytes = maxPayloadBytes; self.maxOutputBytes = maxOutputBytes
    }
}

/// A job to put back in the queue in place, and the event its timeline records.
public struct RetryTarget: Sendable, Equatable {
    public var jobId: String
    public var event: EventNote
    public init(jobId: String, event: EventNote) { self.jobId = jobId; self.event = event }
}

/// The core's decision for a finished step, handed to the driver to run inside its ack transaction.
public struct FlowHook: Sendable {
    public let advance: @Sendable (FlowSnapshot, _ step: String, StepOutcome) throws -> FlowChanges
}

/// The core's decision for an operator's retry of a step job, run by the driver inside one
/// transaction with the run locked (it throws `CONFLICT` to change nothing).
public struct FlowRetryHook: Sendable {
    public let retry: @Sendable (FlowSnapshot, _ jobId: String) throws -> FlowChanges
}

/// Workflow decisions, in one place: which steps start, what they receive, when a run ends.
public enum FlowEngine {
    /// The payload of a step: `{"run": input, "<dependency>": output, ...}`, assembled from the
    /// stored JSON text without re-encoding it.
    public static func payload(input: String, dependencies: [(String, String?)]) -> String {
        var out = "{\"run\":" + input
        for (slug, output) in dependencies {
            out += "," + JSON.quote(slug) + ":" + (output ?? "null")
        }
        return out + "}"
    }

    /// The job of a step (or of one element of a map step).
    static func job(for step: FlowStep, in def: FlowDefinition, runId: String, payload: String, id: String) -> JobInsert {
        JobInsert(id: id, queue: step.queue, jobType: step.jobType, payload: payload, priority: 0, runAt: nil, delaySeconds: 0,
                  maxAttempts: step.maxAttempts ?? def.maxAttempts, timeoutSeconds: step.timeoutSeconds ?? def.timeoutSeconds,
                  backoffBaseMs: (step.baseDelaySeconds ?? def.baseDelaySeconds).map { Int(($0 * 1000).rounded()) },
                  idempotencyKey: nil, replayOf: nil, runId: runId, stepSlug: step.slug)
    }

    /// A new run: its steps, the jobs of its root steps (a root map step fans out over the run
    /// input at once), and the run's status when a root map step already decided it (an empty
    /// array succeeds and its dependents start; a path that is not an array fails the run).
    public static func start(_ def: FlowDefinition, runId: String, input: String, limits: MapLimits,
                             newId: @escaping () -> String) -> (run: FlowRun, changes: FlowChanges) {
        let waiting = def.steps.map { RunStep(slug: $0.slug, status: .waiting, remainingDeps: $0.dependsOn.count) }
        var snap = FlowSnapshot(runId: runId, status: .running, input: input, definitionJSON: "", steps: waiting)
        snap.elements = MapElementReader { _ in [] }
        var d = Deciding(snap: snap, def: def, limits: limits, newId: newId)
        var succeeded: [String] = []
        for s in def.steps where s.dependsOn.isEmpty && d.status == .running {
            if d.ready(s) == .succeeded { succeeded.append(s.slug) }
        }
        d.cascade(succeeded)
        if d.status == .failed {
            // Nothing of a run that failed at its start is queued: no job is written at all.
            d.c.newJobs = []
            d.c.elements = []
            d.c.cancelJobs = []
            for s in def.steps where d.byslug[s.slug]?.status == .skipped {
                if var st = d.byslug[s.slug] { st.jobId = nil; st.mapTotal = nil; d.byslug[s.slug] = st }
            }
        }
        var run = FlowRun(id: runId, flowSlug: def.slug, flowVersion: def.version ?? 1, status: d.status, input: input,
                          createdAt: Date(), finishedAt: nil, failedStep: d.c.failedStep, steps: def.steps.compactMap { d.byslug[$0.slug] })
        run.events = d.c.events
        return (run, d.c)
    }

    /// The consequences of one step's job (or one element job of a map step) ending.
    public static func advance(_ snap: FlowSnapshot, def: FlowDefinition, step slug: String, outcome: StepOutcome,
                               limits: MapLimits, newId: @escaping () -> String) throws -> FlowChanges {
        guard snap.status != .cancelled, var me = snap.steps.first(where: { $0.slug == slug }) else { return FlowChanges() }
        var d = Deciding(snap: snap, def: def, limits: limits, newId: newId)
        var outcome = outcome
        var code: String?
        if let el = snap.element, el.step == slug {
            guard me.mapTotal != nil, me.status != .succeeded else { return FlowChanges() }
            if case .succeeded(let output) = outcome {
                d.c.elementOutputs.append(MapElementOutput(jobId: el.jobId, output: output))
                me.mapDone += 1
                guard me.mapDone >= (me.mapTotal ?? 0) else {
                    d.set(me)
                    return d.c
                }
                // The last element: the step's output is every element's output in index order.
                var outputs = try (snap.elements?.read(slug) ?? []).sorted { $0.index < $1.index }
                if let i = outputs.firstIndex(where: { $0.jobId == el.jobId }) { outputs[i].output = output }
                let array = "[" + outputs.map { $0.output ?? "null" }.joined(separator: ",") + "]"
                if array.utf8.count > limits.maxOutputBytes {
                    outcome = .failed
                    code = Codes.mapOutputTooLarge
                    d.note(slug, "\(Codes.mapOutputTooLarge): the assembled output is \(array.utf8.count) bytes, over \(limits.maxOutputBytes)")
                } else {
                    outcome = .succeeded(output: array)
                }
            }
            d.byslug[slug] = me
        }
        switch outcome {
        case .failed:
            d.fail(slug, code: code, except: snap.element?.jobId)
        case .succeeded(let output):
            var s = d.byslug[slug] ?? me
            s.status = .succeeded
            s.output = output
            d.set(s)
            // A failed run only re-opens through an operator's retry (`retry`), never by a
            // success that arrives after the failure: its dependents wait for that reopen.
            if d.status == .running { d.cascade([slug]) }
        }
        return d.c
    }

    /// An operator retries step job `jobId` (dead-lettered or cancelled), or an element job of a
    /// map step. The job goes back to the queue and its step is `queued`. A failed run re-opens
    /// only when no other step or element of it is dead-lettered: it is `running` again, the
    /// jobs its failure cancelled are queued again, skipped steps wait again (and start at once
    /// when their dependencies have all succeeded, e.g. after a sibling that was running at the
    /// failure succeeded), and a `reopened` event records it. A run a user cancelled is not
    /// re-opened: CONFLICT.
    public static func retry(_ snap: FlowSnapshot, def: FlowDefinition, jobId: String, limits: MapLimits,
                             newId: @escaping () -> String) throws -> FlowChanges {
        guard snap.status != .cancelled else {
            throw PortableError.conflict("run \(snap.runId) was cancelled; its step jobs cannot be retried (start a new run)")
        }
        let steps = def.ordered(snap.steps)
        let element = snap.element.flatMap { el in steps.first { $0.slug == el.step && $0.mapTotal != nil } }
        guard var me = element ?? steps.first(where: { $0.jobId == jobId }) else {
            throw PortableError.conflict("job \(jobId) is no longer the job of a step of run \(snap.runId)")
        }
        var d = Deciding(snap: snap, def: def, limits: limits, newId: newId)
        d.c.retryJobs = [RetryTarget(jobId: jobId, event: Decide.retryEvent)]
        let otherDead = snap.jobStatuses.contains { $0.key != jobId && $0.value == .dlq }
        // A map step stays failed while another of its elements is dead-lettered.
        let sameStepDead = snap.jobStatuses.contains { $0.key != jobId && $0.value == .dlq && snap.jobSteps[$0.key] == me.slug }
        if !(element != nil && sameStepDead) {
            me.status = .queued
            me.errorCode = nil
        }
        d.set(me)
        guard snap.status == .failed else { return d.c }
        let deadLettered = otherDead || steps.contains { st in
            st.slug != me.slug && (st.status == .failed || st.jobId.flatMap { snap.jobStatuses[$0] } == .dlq)
        }
        guard !deadLettered else { return d.c }

        d.status = .running
        d.c.runStatus = .running
        d.c.events.append(RunEvent(type: "reopened", step: me.slug, jobId: jobId,
                                   message: "job \(jobId) of step \(me.slug) was retried and no other step is dead-lettered: the run is running again"))
        // Jobs the failure cancelled, of this step (sibling elements) and of skipped steps.
        let reopened = Set(steps.filter { $0.slug == me.slug || $0.status == .skipped }.map(\.slug))
        for (j, st) in snap.jobStatuses.sorted(by: { $0.key < $1.key }) where st == .cancelled && j != jobId {
            if let step = snap.jobSteps[j], reopened.contains(step) {
                d.c.retryJobs.append(RetryTarget(jobId: j, event: Decide.reopenEvent))
            }
        }
        for st in steps where st.slug != me.slug && st.status == .skipped {
            var s = st
            s.status = st.jobId != nil || st.mapTotal != nil ? .queued : .waiting
            d.set(s)
        }
        // Dependents of steps that succeeded while the run was failed were never counted down.
        for s in def.steps {
            guard var st = d.byslug[s.slug], st.status == .waiting else { continue }
            let remaining = s.dependsOn.filter { d.byslug[$0]?.status != .succeeded }.count
            guard remaining != st.remainingDeps || remaining == 0 else { continue }
            st.remainingDeps = remaining
            d.set(st)
            if remaining == 0, d.status == .running, d.ready(s) == .succeeded { d.cascade([s.slug]) }
        }
        return d.c
    }

    /// What making a step ready came to.
    enum Readiness { case started, succeeded, failed }

    /// Where an array a map step fans out over is: the run input or a dependency's output,
    /// then object keys (or array indexes) along the path. Nil when there is no array there.
    static func resolve(_ d: FlowStep, input: String, outputs: [String: RunStep]) -> Result<[JSON], MapFailure> {
        let path = d.mapPath ?? []
        guard let first = path.first else { return .failure(MapFailure(code: Codes.mapNotArray, message: "no map path")) }
        let text = first == "run" ? input : (outputs[first]?.output ?? "null")
        var value = (try? JSON.parse(text)) ?? .null
        for key in path.dropFirst() {
            if let arr = value.arrayValue, let i = Int(key), arr.indices.contains(i) { value = arr[i] } else { value = value[key] ?? .null }
        }
        guard let items = value.arrayValue else {
            let kind: String
            switch value {
            case .null: kind = "null or missing"
            case .object: kind = "an object"
            case .string: kind = "a string"
            case .number: kind = "a number"
            case .bool: kind = "a boolean"
            default: kind = "not an array"
            }
            return .failure(MapFailure(code: Codes.mapNotArray, message: "\(Codes.mapNotArray): \(d.map ?? "") is \(kind), not an array"))
        }
        return .success(items)
    }

    struct MapFailure: Error { var code: String; var message: String }
}

/// One run while the core decides: its steps by slug, its status, and what changed so far.
struct Deciding {
    let snap: FlowSnapshot
    let def: FlowDefinition
    let limits: MapLimits
    let newId: () -> String
    var byslug: [String: RunStep]
    var status: RunStatus
    var c = FlowChanges()

    init(snap: FlowSnapshot, def: FlowDefinition, limits: MapLimits, newId: @escaping () -> String) {
        self.snap = snap; self.def = def; self.limits = limits; self.newId = newId
        byslug = Dictionary(snap.steps.map { ($0.slug, $0) }, uniquingKeysWith: { a, _ in a })
        status = snap.status
    }

    /// Records a step's new state (once in `c.steps`, its latest).
    mutating func set(_ s: RunStep) {
        byslug[s.slug] = s
        c.steps.removeAll { $0.slug == s.slug }
        c.steps.append(s)
    }

    mutating func note(_ step: String, _ message: String) {
        c.events.append(RunEvent(type: "step_failed", step: step, message: message))
    }

    /// Steps whose dependencies all just succeeded start, in definition order; map steps that
    /// complete at once (an empty array) pass the success on.
    mutating func cascade(_ succeeded: [String]) {
        var work = succeeded
        while !work.isEmpty, status == .running {
            let slug = work.removeFirst()
            for dep in def.dependents(of: slug) where status == .running {
                guard var s = byslug[dep.slug] else { continue }
                s.remainingDeps = max(0, s.remainingDeps - 1)
                set(s)
                if s.remainingDeps == 0 && s.status == .waiting && ready(dep) == .succeeded { work.append(dep.slug) }
            }
        }
        if status == .running, !byslug.isEmpty, byslug.values.allSatisfy({ $0.status == .succeeded }) {
            status = .succeeded
            c.runStatus = .succeeded
        }
    }

    /// Starts a step whose dependencies have all succeeded: one job, or for a map step one job
    /// per element (none for an empty array: the step succeeds with `[]`). A map that cannot
    /// fan out fails the step and the run.
    mutating func ready(_ d: FlowStep) -> FlowEngine.Readiness {
        guard var step = byslug[d.slug] else { return .failed }
        guard d.map != nil else {
            let deps = d.dependsOn.map { ($0, byslug[$0]?.output) }
            let job = FlowEngine.job(for: d, in: def, runId: snap.runId,
                                     payload: FlowEngine.payload(input: snap.input, dependencies: deps), id: newId())
            c.newJobs.append(job)
            step.status = .queued
            step.jobId = job.id
            set(step)
            return .started
        }
        let items: [JSON]
        switch FlowEngine.resolve(d, input: snap.input, outputs: byslug) {
        case .failure(let f):
            set(step)
            note(d.slug, f.message)
            fail(d.slug, code: f.code, except: nil)
            return .failed
        case .success(let a): items = a
        }
        let max = d.maxElements ?? FlowStep.defaultMaxElements
        guard items.count <= max else {
            set(step)
            note(d.slug, "\(Codes.mapTooLarge): \(d.map ?? "") has \(items.count) elements, over max_elements \(max)")
            fail(d.slug, code: Codes.mapTooLarge, except: nil)
            return .failed
        }
        let payloads = items.map(\.compact)
        if let i = payloads.firstIndex(where: { $0.utf8.count > limits.maxPayloadBytes }) {
            set(step)
            note(d.slug, "PAYLOAD_TOO_LARGE: element \(i) of \(d.map ?? "") is \(payloads[i].utf8.count) bytes, over MAX_PAYLOAD_BYTES \(limits.maxPayloadBytes)")
            fail(d.slug, code: PortableError.Code.payloadTooLarge.wire, except: nil)
            return .failed
        }
        step.mapTotal = items.count
        step.mapDone = 0
        step.jobId = nil
        if items.isEmpty {
            step.status = .succeeded
            step.output = "[]"
            set(step)
            return .succeeded
        }
        for (i, p) in payloads.enumerated() {
            let job = FlowEngine.job(for: d, in: def, runId: snap.runId, payload: p, id: newId())
            c.newJobs.append(job)
            c.elements.append(MapElement(runId: snap.runId, step: d.slug, index: i, jobId: job.id))
        }
        step.status = .queued
        set(step)
        return .started
    }

    /// A step failed (its job or an element dead-lettered, or its map could not fan out): a
    /// running run fails, waiting steps are skipped and queued jobs cancelled (elements too,
    /// but `except`, the element that failed).
    mutating func fail(_ slug: String, code: String?, except: String?) {
        guard var me = byslug[slug] else { return }
        me.status = .failed
        me.errorCode = code
        set(me)
        guard status == .running else { return }
        status = .failed
        c.runStatus = .failed
        c.failedStep = slug
        // Nothing downstream starts: waiting steps are skipped, queued ones cancelled.
        for st in def.ordered(Array(byslug.values)) where st.slug != slug && (st.status == .waiting || st.status == .queued) {
            var s = st
            s.status = .skipped
            set(s)
            if st.status == .queued, let j = st.jobId { c.cancelJobs.append(Decide.cancelForFailedRun(jobId: j)) }
        }
        // Queued elements of map steps, this one's included (only queued jobs are cancelled).
        let mapSteps = def.ordered(Array(byslug.values)).filter { $0.mapTotal != nil && ($0.status == .skipped || $0.slug == slug) }
        let fresh = Set(c.elements.map(\.jobId))
        for st in mapSteps {
            var ids = c.elements.filter { $0.step == st.slug }.map(\.jobId)
            ids += ((try? snap.elements?.read(st.slug)) ?? []).sorted { $0.index < $1.index }
                .filter { $0.output == nil && !fresh.contains($0.jobId) }.map(\.jobId)
            for j in ids where j != except { c.cancelJobs.append(Decide.cancelForFailedRun(jobId: j)) }
        }
    }
}

/// Parsed definitions by (slug, version): a definition never changes once stored.
final class FlowDefinitionCache: Sendable {
    private let cache = Mutex<[String: FlowDefinition]>([:])

    func get(_ json: String) throws -> FlowDefinition {
        if let d = cache.withLock({ $0[json] }) { return d }
        let d = try FlowDefinition.parse(try JSON.parse(json))
        cache.withLock { c in
            if c.count > 1000 { c.removeAll() }
            c[json] = d
        }
        return d
    }
}
