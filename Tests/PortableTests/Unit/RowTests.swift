import Foundation
import Testing
@testable import Backends

/// The shared row mappers on rows that are wrong: every problem names table and column.
@Suite struct RowTests {
    /// A row of text values, as a backend adapter would read them.
    struct TextRow: RowReader {
        var values: [String?]

        func text(_ c: Int) -> String? { c < values.count ? values[c] : nil }
        func int(_ c: Int) throws -> Int? { try parse(c) { Int($0) } }
        func double(_ c: Int) throws -> Double? { try parse(c) { Double($0) } }
        func date(_ c: Int) throws -> Date? { try parse(c) { Time.parse($0) } }
        func bool(_ c: Int) throws -> Bool? { try parse(c) { $0 == "t" ? true : $0 == "f" ? false : nil } }

        private func parse<T>(_ c: Int, _ read: (String) -> T?) throws -> T? {
            guard let s = text(c) else { return nil }
            guard let v = read(s) else { throw UnreadableValue(s) }
            return v
        }
    }

    /// A valid `jobs` row in `jobColumns` order.
    static let job: [String?] = [
        "0190a0a0-0000-7000-8000-000000000001", "default", "t", "{}", "0", "2027-01-15T08:00:00.000Z", "queued", "0", "0",
        nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, "2027-01-15T08:00:00.000Z", nil, nil, nil, nil, "0",
        nil, "{}", "{}", nil, nil,  // concurrency_key, tags, metadata, progress, progress_at
    ]

    static func jobError(_ column: Int, _ value: String?) -> PortableError? {
        var row = job
        row[column] = value
        return #expect(throws: PortableError.self) { try Job(row: TextRow(values: row)) }
    }

    @Test func aValidRowMaps() throws {
        let j = try Job(row: TextRow(values: Self.job))
        #expect(j.status == .queued && j.queue == "default" && j.maxAttempts == nil)
    }

    @Test func aNullInARequiredColumnNamesTableAndColumn() {
        #expect(Self.jobError(5, nil)?.message == "jobs.run_at: unexpected NULL")
        #expect(Self.jobError(5, nil)?.code == .backend)
    }

    @Test func anUnknownStatusIsAnErrorNotADefault() {
        #expect(Self.jobError(6, "x")?.message == #"jobs.status: unknown value "x""#)
    }

    @Test func anUnreadableValueNamesItsColumn() {
        #expect(Self.jobError(4, "high")?.message == #"jobs.priority: cannot read "high" as an integer"#)
    }

    @Test func aRunStepWithAnUnknownStatusIsRefused() {
        let e = #expect(throws: PortableError.self) { try RunStep(row: TextRow(values: ["a", "pending", "0", nil, nil, nil])) }
        #expect(e?.message == #"run_steps.status: unknown value "pending""#)
    }
}
