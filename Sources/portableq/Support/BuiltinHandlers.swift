import Backends
import Foundation

/// The job types every `portableq work` (and `admin serve`) runs without being told:
/// `noop`; `sleep` (`{"ms":N}`); `echo` (output = payload); `fail_me`
/// (`{"error_code":C,"retryable":true,"message":M,"succeed_on_attempt":N}` — fails until attempt N
/// when given, which the demo uses for "retries, then succeeds").
enum BuiltinHandlers {
    static let types = ["noop", "sleep", "echo", "fail_me"]

    static func register(on worker: Worker) {
        worker.register("noop") { _ in nil }
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
