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
    /// Run events to record (`reopened`).
    public var events: [RunEvent] = []
    public init() {}
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

    /// The job of a step.
    static func job(for step: FlowStep, in def: FlowDefinition, runId: String, payload: String, id: String) -> JobInsert {
        JobInsert(id: id, queue: step.queue, jobType: step.jobType, payload: payload, priority: 0, runAt: nil, delaySeconds: 0,
                  maxAttempts: step.maxAttempts ?? def.maxAttempts, timeoutSeconds: step.timeoutSeconds ?? def.timeoutSeconds,
                  backoffBaseMs: (step.baseDelaySeconds ?? def.baseDelaySeconds).map { Int(($0 * 1000).rounded()) },
                  idempotencyKey: nil, replayOf: nil, runId: runId, stepSlug: step.slug)
    }

    /// A new run: every step waiting on its dependencies, and a job for each root step.
    public static func start(_ def: FlowDefinition, runId: String, input: String, newId: () -> String) -> ([RunStep], [JobInsert]) {
        var steps: [RunStep] = []
        var jobs: [JobInsert] = []
        for s in def.steps {
            if s.dependsOn.isEmpty {
                let job = job(for: s, in: def, runId: runId, payload: payload(input: input, dependencies: []), id: newId())
                jobs.append(job)
                steps.append(RunStep(slug: s.slug, status: .queued, remainingDeps: 0, jobId: job.id))
            } else {
                steps.append(RunStep(slug: s.slug, status: .waiting, remainingDeps: s.dependsOn.count))
            }
        }
        return (steps, jobs)
    }

    /// Makes the job of a step whose dependencies have all succeeded; the step is then `queued`.
    static func start(_ d: FlowStep, _ step: inout RunStep, def: FlowDefinition, snap: FlowSnapshot, outputs: [String: RunStep],
                      into c: inout FlowChanges, newId: () -> String) {
        let deps = d.dependsOn.map { ($0, outputs[$0]?.output) }
        let job = job(for: d, in: def, runId: snap.runId, payload: payload(input: snap.input, dependencies: deps), id: newId())
        c.newJobs.append(job)
        step.status = .queued
        step.jobId = job.id
    }

    /// The consequences of one step's job ending.
    public static func advance(_ snap: FlowSnapshot, def: FlowDefinition, step slug: String, outcome: StepOutcome,
                               newId: () -> String) -> FlowChanges {
        var c = FlowChanges()
        // Definition order, whatever order the driver read them in: both backends decide alike.
        let steps = def.ordered(snap.steps)
        guard snap.status != .cancelled, var me = steps.first(where: { $0.slug == slug }) else { return c }
        var byslug = Dictionary(steps.map { ($0.slug, $0) }, uniquingKeysWith: { a, _ in a })
        var runStatus = snap.status
        switch outcome {
        case .failed:
            me.status = .failed
            byslug[slug] = me
            c.steps.append(me)
            if runStatus == .running {
                runStatus = .failed
                c.failedStep = slug
                // Nothing downstream starts: waiting steps are skipped, queued ones cancelled.
                for st in steps where st.slug != slug {
                    if st.status == .waiting || st.status == .queued {
                        var s = st
                        s.status = .skipped
                        c.steps.append(s)
                        if st.status == .queued, let j = st.jobId { c.cancelJobs.append(Decide.cancelForFailedRun(jobId: j)) }
                    }
                }
            }
        case .succeeded(let output):
            me.status = .succeeded
            me.output = output
            byslug[slug] = me
            c.steps.append(me)
            // A failed run only re-opens through an operator's retry (`retry`), never by a
            // success that arrives after the failure: its dependents wait for that reopen.
            guard runStatus == .running else { break }
            for d in def.dependents(of: slug) {
                guard var dep = byslug[d.slug] else { continue }
                dep.remainingDeps = max(0, dep.remainingDeps - 1)
                if dep.remainingDeps == 0 && dep.status == .waiting {
                    start(d, &dep, def: def, snap: snap, outputs: byslug, into: &c, newId: newId)
                }
                byslug[d.slug] = dep
                c.steps.removeAll { $0.slug == dep.slug }
                c.steps.append(dep)
            }
            if byslug.values.allSatisfy({ $0.status == .succeeded }) { runStatus = .succeeded }
        }
        if runStatus != snap.status { c.runStatus = runStatus }
        return c
    }

    /// An operator retries step job `jobId` (dead-lettered or cancelled). The job goes back to the
    /// queue and its step is `queued`. A failed run re-opens only when no other step of it is
    /// dead-lettered: it is `running` again, the siblings its failure cancelled are queued again,
    /// skipped steps wait again (and start at once when their dependencies have all succeeded,
    /// e.g. after a sibling that was running at the failure succeeded), and a `reopened` event
    /// records it. A run a user cancelled is not re-opened: CONFLICT.
    public static func retry(_ snap: FlowSnapshot, def: FlowDefinition, jobId: String, newId: () -> String) throws -> FlowChanges {
        guard snap.status != .cancelled else {
            throw PortableError.conflict("run \(snap.runId) was cancelled; its step jobs cannot be retried (start a new run)")
        }
        let steps = def.ordered(snap.steps)
        guard var me = steps.first(where: { $0.jobId == jobId }) else {
            throw PortableError.conflict("job \(jobId) is no longer the job of a step of run \(snap.runId)")
        }
        var c = FlowChanges()
        c.retryJobs = [RetryTarget(jobId: jobId, event: Decide.retryEvent)]
        me.status = .queued
        c.steps.append(me)
        guard snap.status == .failed else { return c }
        let deadLettered = steps.contains { st in
            st.slug != me.slug && (st.status == .failed || st.jobId.flatMap { snap.jobStatuses[$0] } == .dlq)
        }
        guard !deadLettered else { return c }

        c.runStatus = .running
        c.events.append(RunEvent(type: "reopened", step: me.slug, jobId: jobId,
                                 message: "job \(jobId) of step \(me.slug) was retried and no other step is dead-lettered: the run is running again"))
        var byslug = Dictionary(steps.map { ($0.slug, $0) }, uniquingKeysWith: { a, _ in a })
        byslug[me.slug] = me
        for st in steps where st.slug != me.slug && st.status == .skipped {
            var s = st
            if let j = st.jobId {
                if snap.jobStatuses[j] == .cancelled { c.retryJobs.append(RetryTarget(jobId: j, event: Decide.reopenEvent)) }
                s.status = .queued
            } else {
                s.status = .waiting
            }
            byslug[s.slug] = s
            c.steps.append(s)
        }
        // Dependents of steps that succeeded while the run was failed were never counted down.
        for d in def.steps {
            guard var s = byslug[d.slug], s.status == .waiting else { continue }
            let remaining = d.dependsOn.filter { byslug[$0]?.status != .succeeded }.count
            guard remaining != s.remainingDeps || remaining == 0 else { continue }
            s.remainingDeps = remaining
            if remaining == 0 { start(d, &s, def: def, snap: snap, outputs: byslug, into: &c, newId: newId) }
            byslug[s.slug] = s
            c.steps.removeAll { $0.slug == s.slug }
            c.steps.append(s)
        }
        return c
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
