import Foundation

// Progress from running handlers (issue 15 §4): a JSON object per update (`{"progress":0.4,
// "step":"upload"}`), the latest kept on the job beside when it was written. Only the holder of
// the job's current lease may write it: the driver updates the row only where id and lease token
// both match a running job, so a handler whose lease was lost (reaped and re-claimed, cancelled,
// finished) changes nothing. No timeline event per update: a handler reporting every second
// would bury the attempts; the job shows the latest update and when it came.

extension PortableClient {
    /// Records `json` (a JSON object of at most `JobMetadata.maxBytes`) as the job's latest
    /// progress. `LEASE_LOST` when `lease` is not the job's current lease.
    public func recordProgress(_ lease: LeaseKey, json: String) async throws {
        let text = try JobMetadata.validated(json, what: "progress")
        guard try await driver.jobProgressSet(lease, progress: text, now: now) else {
            throw PortableError(.leaseLost, "job \(lease.jobId) is not running under this lease any more (finished, cancelled, "
                + "or its lease expired and it was claimed again); the progress update was not recorded")
        }
    }
}

extension JobContext {
    /// Records a progress update for this job (a JSON object's text), visible in `jobs show`,
    /// `GET /jobs/{id}` and the dashboard. Throws `LEASE_LOST` once this attempt no longer holds
    /// the job, `INVALID_ARGUMENT` for anything but a JSON object within the size limit.
    public func progress(json: String) async throws {
        guard let progressWriter else {
            throw PortableError.invalid("progress can only be recorded by a handler run by a worker")
        }
        try await progressWriter(json)
    }

    public func progress(_ update: JSON) async throws {
        try await progress(json: update.compact)
    }

    /// Encodes `update` (which must encode as an object) with JSONEncoder.
    public func progress<T: Encodable>(_ update: T) async throws {
        try await progress(json: String(decoding: try JSONEncoder().encode(update), as: UTF8.self))
    }
}
