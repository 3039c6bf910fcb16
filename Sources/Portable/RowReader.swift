import Foundation

/// One result row, read by column index: the one seam both backends implement for reading.
/// Each adapter hides how its database stores values (SQLite: times as integer milliseconds,
/// booleans as 0/1; Postgres: text-format `timestamptz` and `t`/`f`). Every accessor returns nil
/// for NULL and throws `UnreadableValue` for a value that does not read as the asked type.
public protocol RowReader {
    func text(_ column: Int) throws -> String?
    func int(_ column: Int) throws -> Int?
    func double(_ column: Int) throws -> Double?
    func date(_ column: Int) throws -> Date?
    func bool(_ column: Int) throws -> Bool?
}

/// Thrown by a `RowReader` for a value that is not NULL but is not of the asked type.
public struct UnreadableValue: Error {
    public var text: String
    public init(_ text: String) { self.text = text }
}

extension RowReader {
    /// Reads this row's columns one after another from `column`, naming `table` in errors.
    public func columns(of table: String, from column: Int = 0) -> RowCursor<Self> {
        RowCursor(self, table: table, from: column)
    }
}

/// Reads a row's columns in SELECT order, each named at the call, so a mapper reads like the
/// column list it maps. A NULL where a value is required, an unreadable value or an unknown enum
/// value throws `PortableError(.backend)` naming table and column ("jobs.run_at: unexpected
/// NULL"): a bad row is an error, never a crash.
public final class RowCursor<R: RowReader> {
    private let row: R
    private let table: String
    private var column: Int

    init(_ row: R, table: String, from column: Int) {
        self.row = row
        self.table = table
        self.column = column
    }

    public func text(_ name: String) throws -> String { try required(name, textOrNull(name)) }
    public func int(_ name: String) throws -> Int { try required(name, intOrNull(name)) }
    public func double(_ name: String) throws -> Double { try required(name, doubleOrNull(name)) }
    public func date(_ name: String) throws -> Date { try required(name, dateOrNull(name)) }
    public func bool(_ name: String) throws -> Bool { try required(name, boolOrNull(name)) }

    public func textOrNull(_ name: String) throws -> String? { try next(name, "text") { try row.text($0) } }
    public func intOrNull(_ name: String) throws -> Int? { try next(name, "an integer") { try row.int($0) } }
    public func doubleOrNull(_ name: String) throws -> Double? { try next(name, "a number") { try row.double($0) } }
    public func dateOrNull(_ name: String) throws -> Date? { try next(name, "a time") { try row.date($0) } }
    public func boolOrNull(_ name: String) throws -> Bool? { try next(name, "a boolean") { try row.bool($0) } }

    /// A stored enum (status, outcome): an unknown value is an error, never a silent default.
    public func value<E: RawRepresentable>(_ name: String, as: E.Type) throws -> E where E.RawValue == String {
        try required(name, valueOrNull(name, as: E.self))
    }

    public func valueOrNull<E: RawRepresentable>(_ name: String, as: E.Type) throws -> E? where E.RawValue == String {
        guard let raw = try textOrNull(name) else { return nil }
        guard let v = E(rawValue: raw) else { throw bad(name, "unknown value \(quoted(raw))") }
        return v
    }

    private func next<T>(_ name: String, _ kind: String, _ read: (Int) throws -> T?) throws -> T? {
        defer { column += 1 }
        do {
            return try read(column)
        } catch let e as UnreadableValue {
            throw bad(name, "cannot read \(quoted(e.text)) as \(kind)")
        }
    }

    private func required<T>(_ name: String, _ value: T?) throws -> T {
        guard let value else { throw bad(name, "unexpected NULL") }
        return value
    }

    private func bad(_ name: String, _ problem: String) -> PortableError {
        PortableError(.backend, "\(table).\(name): \(problem)")
    }

    /// Short: a bad value is shown to say what was found, not to dump a column.
    private func quoted(_ s: String) -> String { JSON.quote(s.count > 40 ? String(s.prefix(40)) + "…" : s) }
}
