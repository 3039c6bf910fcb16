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
    public init() {}
}

/// The core's decision for a finished step, handed to the driver to run inside its ack transaction.
public struct FlowHook: Sendable {
    public let advance: @Sendable (FlowSnapshot, _ step: String, StepOutcome) throws -> FlowChanges
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
            // A step retried in place after it failed the run revives the run when no other step failed.
            if runStatus == .failed, !steps.contains(where: { $0.slug != slug && $0.status == .failed }) {
                runStatus = .running
                for st in steps where st.status == .skipped {
                    var s = st
                    s.status = st.jobId == nil ? .waiting : .queued
                    byslug[s.slug] = s
                    c.steps.append(s)
                }
            }
            guard runStatus == .running else { break }
            for d in def.dependents(of: slug) {
                guard var dep = byslug[d.slug] else { continue }
                dep.remainingDeps = max(0, dep.remainingDeps - 1)
                if dep.remainingDeps == 0 && dep.status == .waiting {
                    let deps = d.dependsOn.map { ($0, byslug[$0]?.output) }
                    let job = job(for: d, in: def, runId: snap.runId, payload: payload(input: snap.input, dependencies: deps), id: newId())
                    c.newJobs.append(job)
                    dep.status = .queued
                    dep.jobId = job.id
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
