import Foundation

/// Recurring jobs.
extension PortableClient {
    @discardableResult
    public func addSchedule(_ s: Schedule) async throws -> Schedule {
        try Names.check(s.name, "schedule name")
        try Names.check(s.queue, "queue")
        try Names.check(s.jobType, "job_type")
        _ = try Cron(s.cron)
        var clean = s
        clean.payload = try JSON.parse(s.payload).compact
        if clean.payload.utf8.count > config.maxPayloadBytes {
            throw PortableError(.payloadTooLarge, "payload is \(clean.payload.utf8.count) bytes; the limit (MAX_PAYLOAD_BYTES) is \(config.maxPayloadBytes)")
        }
        if let m = s.maxAttempts, !(1...Limits.maxAttempts).contains(m) {
            throw PortableError.invalid("max_attempts must be between 1 and \(Limits.maxAttempts)")
        }
        try await driver.scheduleUpsert(clean, now: now)
        return try await driver.scheduleList().first { $0.name == s.name } ?? clean
    }

    public func removeSchedule(_ name: String) async throws {
        guard try await driver.scheduleDelete(name) else { throw PortableError.notFound("no schedule \(name)") }
    }

    public func schedules() async throws -> [Schedule] { try await driver.scheduleList() }
}
