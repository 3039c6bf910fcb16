import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `--exec TYPE=COMMAND`: any program in any language as a handler. COMMAND runs through
/// `/bin/sh -c` in its own process group with the payload JSON on stdin and
/// `PORTABLEQ_JOB_ID`, `PORTABLEQ_JOB_TYPE`, `PORTABLEQ_QUEUE`, `PORTABLEQ_ATTEMPT` set, and
/// `PORTABLEQ_CONCURRENCY_KEY` when the job has a key (unset otherwise).
///
/// - exit 0: success; stdout is the output (JSON as is, empty = null, other text = a JSON
///   string; over the payload limit = `OUTPUT_TOO_LARGE`, not retried).
/// - exit 65 (EX_DATAERR): `BAD_PAYLOAD`, not retried.
/// - exit 99 with a number of seconds (and nothing else) on stdout: snooze, run again then
///   without using an attempt; anything else on stdout makes it an ordinary `EXEC_EXIT_99`.
/// - exit 75 (EX_TEMPFAIL) or any other: retryable `EXEC_EXIT_<n>`; killed by a signal:
///   `EXEC_SIGNAL_<NAME>` (e.g. `EXEC_SIGNAL_KILL`). The message is the last 4 KiB of stderr.
/// - cancelled (timeout, lease lost, cancel, shutdown): the group gets SIGTERM, then SIGKILL
///   after `killGraceSeconds`.
/// - the worker dies (even by SIGKILL): the group is killed with it (a watchdog leads it; see
///   `ChildProcess`).
/// - progress: each line the command writes to file descriptor 3 is a progress update, a JSON
///   object (`echo '{"progress":0.4}' >&3`), recorded in order under the job's lease. A line that
///   is not a JSON object within the limit, or that cannot be recorded, is logged and ignored:
///   progress never fails a job.
public enum ExecHandler {
    public static func make(command: String, maxOutputBytes: Int, killGraceSeconds: Double = 5,
                            logger: Logger = Logger(label: "portableq.exec")) -> JobHandler {
        { ctx in try await run(command: command, ctx: ctx, maxOutputBytes: maxOutputBytes, grace: killGraceSeconds, logger: logger) }
    }

    static func run(command: String, ctx: JobContext, maxOutputBytes: Int, grace: Double, logger: Logger) async throws -> String? {
        var env = ProcessInfo.processInfo.environment
        env["PORTABLEQ_JOB_ID"] = ctx.job.id
        env["PORTABLEQ_JOB_TYPE"] = ctx.job.jobType
        env["PORTABLEQ_QUEUE"] = ctx.job.queue
        env["PORTABLEQ_ATTEMPT"] = String(ctx.job.attempts)
        env["PORTABLEQ_CONCURRENCY_KEY"] = ctx.job.concurrencyKey
        let box = ChildBox()
        // fd 3 lines are recorded one after another, in the order written, beside the process.
        let (lines, sink) = AsyncStream<String?>.makeStream()
        let recorder = Task { await record(lines, ctx: ctx, logger: logger) }
        let exit: ChildProcess.Exit
        do {
            exit = try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<ChildProcess.Exit, any Error>) in
                    ChildProcess.start(command: command, environment: env, stdin: Array(ctx.job.payload.utf8),
                                       maxStdout: maxOutputBytes, maxFd3Line: JobMetadata.maxBytes,
                                       fd3Line: { sink.yield($0) },
                                       started: { box.set($0, grace: grace) }, completion: { c.resume(with: $0) })
                }
            } onCancel: {
                box.cancel(grace: grace)
            }
        } catch {
            sink.finish()
            recorder.cancel()
            throw error
        }
        sink.finish()
        await recorder.value
        if Task.isCancelled { throw CancellationError() }
        let stderr = String(decoding: exit.stderrTail, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let message: String? = stderr.isEmpty ? nil : stderr
        if let sig = exit.signal {
            throw JobError.retryable(code: "EXEC_SIGNAL_\(ChildProcess.signalName(sig))", message: message)
        }
        switch exit.status ?? 1 {
        case 0:
            if exit.stdoutTruncated {
                throw JobError.permanent(code: Codes.outputTooLarge,
                                         message: "output is over the \(maxOutputBytes)-byte limit (MAX_PAYLOAD_BYTES)")
            }
            return output(exit.stdout)
        case 65:
            throw JobError.badPayload(message ?? "the program exited 65 (bad payload)")
        case 99:
            let text = String(decoding: exit.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let seconds = Double(text), seconds.isFinite, seconds >= 0, seconds <= Limits.maxDelaySeconds else {
                throw JobError.retryable(code: "EXEC_EXIT_99", message: message)
            }
            throw JobError.snooze(seconds: seconds)
        case let n:
            throw JobError.retryable(code: "EXEC_EXIT_\(n)", message: message)
        }
    }

    /// Records each fd 3 line as a progress update; bad lines and failed writes are only logged.
    static func record(_ lines: AsyncStream<String?>, ctx: JobContext, logger: Logger) async {
        let meta: Logger.Metadata = ["job_id": .string(ctx.job.id), "job_type": .string(ctx.job.jobType)]
        for await line in lines {
            guard let line else {
                logger.warning("ignored a progress line on fd 3: longer than \(JobMetadata.maxBytes) bytes", metadata: meta)
                continue
            }
            if line.allSatisfy(\.isWhitespace) { continue }
            do {
                try await ctx.progress(json: line)
            } catch let e as PortableError {
                logger.warning("ignored a progress line on fd 3: \(e.message)", metadata: meta)
            } catch {
                logger.warning("ignored a progress line on fd 3: \(error)", metadata: meta)
            }
        }
    }

    /// stdout as JSON: JSON text as is (compacted), empty = null, anything else a JSON string.
    static func output(_ bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return nil }
        if let json = try? JSON.parse(trimmed) { return json.compact }
        return JSON.quote(text.hasSuffix("\n") ? String(text.dropLast()) : text)
    }
}

/// Holds the child for the cancellation handler, which may run before the spawn finished.
private final class ChildBox: @unchecked Sendable {
    private let lock = NSLock()
    private var child: ChildProcess?
    private var cancelled = false

    func set(_ c: ChildProcess, grace: Double) {
        lock.lock()
        child = c
        let kill = cancelled
        lock.unlock()
        if kill { c.terminateGroup(grace: grace) }
    }

    func cancel(grace: Double) {
        lock.lock()
        cancelled = true
        let c = child
        lock.unlock()
        c?.terminateGroup(grace: grace)
    }
}
