import Backends
import Foundation

/// The built-in job types. Every worker serves `noop` (benchmarks and smoke tests use it); the
/// demo types — `sleep` (`{"ms":N}`), `echo` (output = payload) and `fail_me`
/// (`{"error_code":C,"retryable":true,"message":M,"succeed_on_attempt":N}`: fails until attempt N
/// when given, which the demo uses for "retries, then succeeds") — only where asked for:
/// `work --builtins`, `serve`'s built-in worker and `demo`. A production worker should not
/// answer jobs it was never meant to run.
enum BuiltinHandlers {
    static let always = ["noop"]
    static let demo = ["sleep", "echo", "fail_me"]

    static func register(on worker: Worker, demoTypes: Bool) {
        worker.register("noop") { _ in nil }
        guard demoTypes else { return }
        worker.register("sleep") { ctx in
            let ms = try payloadObject(ctx)["ms"]?.intValue ?? 0
            guard ms >= 0 else { throw JobError.badPayload("ms must not be negative") }
            try await Task.sleep(nanoseconds: UInt64(ms) * 1_000_000)
            return nil
        }
        worker.register("echo") { ctx in ctx.job.payload }
        worker.register("fail_me") { ctx in
            let p = try payloadObject(ctx)
            if let n = p["succeed_on_attempt"]?.intValue, ctx.attempt >= n {
                return #"{"succeeded_on_attempt":\#(ctx.attempt)}"#
            }
            let code = p["error_code"]?.stringValue ?? "FAIL_ME"
            let message = p["message"]?.stringValue ?? "failed on purpose (attempt \(ctx.attempt))"
            if p["retryable"]?.boolValue == false { throw JobError.permanent(code: code, message: message) }
            throw JobError.retryable(code: code, message: message)
        }
    }

    static func payloadObject(_ ctx: JobContext) throws -> JSON {
        let v = try JSON.parse(ctx.job.payload)
        switch v {
        case .object: return v
        case .null: return .object([])
        default: throw JobError.badPayload("expected a JSON object payload")
        }
    }
}
