import Foundation

extension PortableClient {
    /// Recorded maintenance runs, newest first.
    public func maintenanceRuns(limit: Int = 100) async throws -> [MaintenanceRun] {
        guard (1...1000).contains(limit) else { throw PortableError.invalid("limit must be between 1 and 1000") }
        return try await driver.maintenanceList(limit: limit)
    }
}
