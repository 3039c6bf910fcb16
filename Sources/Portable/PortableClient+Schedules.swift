import Foundation

/// Recurring jobs.
extension PortableClient {
    @discardableResult
    public func addSchedule(_ s: Schedule) async throws -> Schedule {
        try Names.check(s.name, "schedule name")
        try Names.check(s.queue, "queue")
        try Names.check(s.jobType, "job_type")
        _ = try Cron(s.cron, timeZone: s.timezone)
        var clean = s
        let zone = s.timezone.trimmingCharacters(in: .whitespaces)
        clean.timezone = zone.isEmpty || zone.uppercased() == "UTC" ? "UTC" : zone
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

    /// Enqueues one job of a schedule now, outside its slots: no slot key (each call is a new job)
    /// and the schedule's next slot is unchanged.
    public func runScheduleNow(_ name: String) async throws -> EnqueueResult {
        guard let s = try await driver.scheduleList().first(where: { $0.name == name }) else {
            throw PortableError.notFound("no schedule \(name)")
        }
        return try await enqueue(NewJob(queue: s.queue, jobType: s.jobType, payloadJSON: s.payload, priority: s.priority,
                                         maxAttempts: s.maxAttempts, timeoutSeconds: s.timeoutSeconds))
    }
}
