import Foundation
import Logging

/// Runs one claimed job: checks it may still start (the worker is not stopping, its queue was not
/// paused since the claim), runs the handler beside the job's stop signal — a timeout, a lost
/// lease or the shutdown deadline cancels it — and hands the outcome to the ack buffer. Runs as a
/// child of the worker's task group; the slot is freed as soon as the handler has returned.
struct HandlerRunner: Sendable {
    let client: PortableClient
    let options: WorkerOptions
    let table: JobTable
    let acks: AckBuffer
    let claims: Claims
    let registrations: [String: Registration]
    let logger: Logger

    func execute(_ entry: JobTable.Entry) async {
        let job = entry.job
        let policy = PolicyResolver.resolve(job, type: registrations[job.jobType]?.policy, defaults: defaults)
        let paused = claims.isPaused(job.queue)
        guard !paused, table.start(job.id, at: client.clock.localNow, timeoutSeconds: policy.timeoutSeconds) else {
            // Stopping, or paused since the claim: back to the queue as if never claimed.
            if paused { claims.tally([DecisionTally(queue: job.queue, reasonCode: Explanation.Reason.queuePaused.rawValue, count: 1, message: nil)]) }
            await claims.handBackUnstarted([job])
            table.finish(job.id)
            return
        }
        if options.verboseJobLogs {
            logger.info("job started", metadata: ["job_id": .string(job.id), "job_type": .string(job.jobType),
                                                  "queue": .string(job.queue), "attempt": .stringConvertible(job.attempts)])
        }
        let stop = entry.stop
        let metrics = client.metrics
        let queueMetrics = metrics.queue(job.queue)
        let startedAt = client.clock.localNow
        queueMetrics.startLatency.recordNanoseconds(ProcessMetrics.nanoseconds(startedAt.timeIntervalSince(job.runAt)))
        metrics.inFlight.increment()
        await withDiscardingTaskGroup { group in
            group.addTask {
                var result = await self.invoke(job)
                // The worker's own task was cancelled (not this job stopped): hand it back uncounted.
                if Task.isCancelled, stop.reason == nil, case .failure(Codes.cancelled, _, _) = result { result = .released }
                metrics.inFlight.decrement()
                queueMetrics.duration.recordNanoseconds(
                    ProcessMetrics.nanoseconds(self.client.clock.localNow.timeIntervalSince(startedAt)))
                let (accepted, started) = self.table.handlerReturned(job.id)
                if accepted { self.acks.add(job, result, startedAt: started) }
                stop.fire(.finished)
            }
            await stop.wait()
            if stop.reason != .finished { group.cancelAll() }
        }
    }

    var defaults: PolicyDefaults {
        var d = client.config.defaults
        d.timeoutSeconds = options.defaultTimeoutSeconds
        return d
    }

    /// The handler's verdict; a type without a handler (`--fail-unknown-types`) is `UNKNOWN_JOB_TYPE`.
    func invoke(_ job: Job) async -> AttemptResult {
        guard let reg = registrations[job.jobType] else {
            return .failure(code: Codes.unknownJobType, message: "worker \(options.id) has no handler for job type \(job.jobType)",
                            retryable: true)
        }
        let lease = LeaseKey(jobId: job.id, token: job.leaseToken ?? "")
        let context = JobContext(job: job, workerId: options.id) { [client] update in
            try await client.recordProgress(lease, json: update)
        }
        return await HandlerRunner.invoke(reg.handler, context, maxOutput: client.config.maxPayloadBytes)
    }

    static func invoke(_ handler: JobHandler, _ ctx: JobContext, maxOutput: Int) async -> AttemptResult {
        do {
            guard let out = try await handler(ctx) else { return .success(output: nil) }
            guard let json = try? JSON.parse(out) else {
                return .failure(code: "BAD_OUTPUT", message: "the handler's output is not JSON", retryable: false)
            }
            let compact = json.compact
            if compact.utf8.count > maxOutput {
                return .failure(code: Codes.outputTooLarge, message: "output is \(compact.utf8.count) bytes; the limit is \(maxOutput)",
                                retryable: false)
            }
            return .success(output: compact)
        } catch let e as JobError {
            return e.result
        } catch is CancellationError {
            return .failure(code: Codes.cancelled, message: "the handler was cancelled", retryable: true)
        } catch {
            return .failure(code: Codes.handlerError, message: String(describing: error), retryable: true)
        }
    }
}
