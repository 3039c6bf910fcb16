import Foundation

/// A job type's policy, recorded by workers in the `job_types` table when they start.
/// Nil fields fall through to the global default.
public struct JobTypePolicy: Sendable, Equatable {
    public var jobType: String
    public var maxAttempts: Int?
    public var timeoutSeconds: Int?
    public var backoffBaseMs: Int?
    public var backoffMaxMs: Int?
    public var concurrency: Int?

    public init(jobType: String, maxAttempts: Int? = nil, timeoutSeconds: Int? = nil,
                backoffBaseMs: Int? = nil, backoffMaxMs: Int? = nil, concurrency: Int? = nil) {
        self.jobType = jobType; self.maxAttempts = maxAttempts; self.timeoutSeconds = timeoutSeconds
        self.backoffBaseMs = backoffBaseMs; self.backoffMaxMs = backoffMaxMs; self.concurrency = concurrency
    }
}

/// Global defaults (DESIGN.md "Policy resolution").
public struct PolicyDefaults: Sendable, Equatable {
    public var maxAttempts = 5
    public var timeoutSeconds = 300
    public var backoffBaseMs = 1000
    public var backoffMaxMs = 3_600_000
    /// ±20 %.
    public var jitter = 0.2
    public init() {}
}

/// The policy that applies to one job.
public struct EffectivePolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var timeoutSeconds: Int
    public var backoff: Backoff
}

/// The one place where job → job type → default is resolved. The worker, the reaper and
/// explain all call this.
public enum PolicyResolver {
    public static func resolve(_ job: Job, type: JobTypePolicy?, defaults: PolicyDefaults) -> EffectivePolicy {
        EffectivePolicy(
            maxAttempts: job.maxAttempts ?? type?.maxAttempts ?? defaults.maxAttempts,
            timeoutSeconds: job.timeoutSeconds ?? type?.timeoutSeconds ?? defaults.timeoutSeconds,
            backoff: Backoff(
                baseMs: job.backoffBaseMs ?? type?.backoffBaseMs ?? defaults.backoffBaseMs,
                maxMs: type?.backoffMaxMs ?? defaults.backoffMaxMs,
                jitter: defaults.jitter))
    }
}

/// `min(base · 2^(attempt-1), max)` ±jitter. `attempt` counts from 1 within the current budget,
/// so a retry in place restarts the schedule.
public struct Backoff: Sendable, Equatable {
    public var baseMs: Int
    public var maxMs: Int
    public var jitter: Double

    public init(baseMs: Int, maxMs: Int, jitter: Double) {
        self.baseMs = baseMs; self.maxMs = maxMs; self.jitter = jitter
    }

    /// The delay before the retry that follows failed attempt number `attempt` (1-based).
    /// `unit` is a random value in 0..<1; 0.5 means no jitter.
    public func delaySeconds(afterAttempt attempt: Int, unit: Double) -> Double {
        let exp = min(max(attempt - 1, 0), 40)
        let raw = min(Double(baseMs) * pow(2.0, Double(exp)), Double(maxMs))
        let factor = 1 + jitter * (2 * unit - 1)
        return max(0, raw * factor) / 1000
    }
}
