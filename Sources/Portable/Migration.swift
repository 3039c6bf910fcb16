import Foundation

/// One numbered schema change. The `.sql` files under `migrations/<dialect>/` are the source
/// of truth; the binary carries a generated copy (tested equal to the files).
public struct Migration: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var sql: String
    /// The oldest binary (by the highest migration it knows) that still works with a database
    /// at this version. Read from the file's `-- compatible_with: N` header line.
    public var compatibleWith: Int

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
        self.compatibleWith = Migration.header("compatible_with", in: sql).flatMap(Int.init) ?? version
    }

    static func header(_ key: String, in sql: String) -> String? {
        for line in sql.split(separator: "\n", omittingEmptySubsequences: true).prefix(20) {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("--") else { continue }
            let body = t.dropFirst(2).trimmingCharacters(in: .whitespaces)
            if body.hasPrefix(key + ":") {
                return body.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
}

/// A row of the migrations record.
public struct AppliedMigration: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var compatibleWith: Int
    public var appliedAt: Date
    public init(version: Int, name: String, compatibleWith: Int, appliedAt: Date) {
        self.version = version; self.name = name; self.compatibleWith = compatibleWith; self.appliedAt = appliedAt
    }
}

/// Where a database stands relative to this binary.
public struct SchemaStatus: Sendable, Equatable {
    public enum State: String, Sendable {
        /// No migrations table: nothing applied yet.
        case empty
        /// Some of this binary's migrations are not applied.
        case behind
        case current
        /// Newer than this binary, but every newer migration says it stays compatible with us.
        case newerCompatible = "newer_compatible"
        /// Newer than this binary and not compatible with it.
        case newerIncompatible = "newer_incompatible"
    }

    public var state: State
    public var databaseVersion: Int
    public var binaryVersion: Int
    public var applied: [AppliedMigration]
    public var pending: [Migration]
    /// The binary version a newer database requires (max `compatible_with` beyond ours).
    public var requiredBinaryVersion: Int

    public var json: JSON {
        .object([
            ("state", .string(state.rawValue)),
            ("database_version", .int(databaseVersion)),
            ("binary_version", .int(binaryVersion)),
            ("applied", .array(applied.map {
                .object([("version", .int($0.version)), ("name", .string($0.name)),
                         ("compatible_with", .int($0.compatibleWith)), ("applied_at", .string(Time.format($0.appliedAt)))])
            })),
            ("pending", .array(pending.map { .object([("version", .int($0.version)), ("name", .string($0.name))]) })),
        ])
    }
}

/// Decides what to do with a schema; the driver only runs the SQL (under its own lock, so two
/// processes migrating at once apply each migration once).
public enum Migrator {
    public static func status(applied: [AppliedMigration]?, known: [Migration]) -> SchemaStatus {
        let applied = applied ?? []
        let binaryVersion = known.map(\.version).max() ?? 0
        let dbVersion = applied.map(\.version).max() ?? 0
        let appliedSet = Set(applied.map(\.version))
        let pending = known.filter { !appliedSet.contains($0.version) }.sorted { $0.version < $1.version }
        let newer = applied.filter { $0.version > binaryVersion }
        let required = newer.map(\.compatibleWith).max() ?? 0
        let state: SchemaStatus.State
        if applied.isEmpty {
            state = .empty
        } else if !newer.isEmpty {
            state = required <= binaryVersion ? .newerCompatible : .newerIncompatible
        } else if !pending.isEmpty {
            state = .behind
        } else {
            state = .current
        }
        return SchemaStatus(state: state, databaseVersion: dbVersion, binaryVersion: binaryVersion,
                            applied: applied.sorted { $0.version < $1.version }, pending: pending,
                            requiredBinaryVersion: required)
    }

    /// The error for a schema this binary cannot work with, or nil when it can.
    public static func refusal(_ s: SchemaStatus, where location: String) -> PortableError? {
        switch s.state {
        case .current, .newerCompatible:
            return nil
        case .newerIncompatible:
            return PortableError(.schemaTooNew,
                "the schema at \(location) is at version \(s.databaseVersion), which needs a portableq that knows schema \(s.requiredBinaryVersion) or later; this binary knows \(s.binaryVersion): upgrade portableq")
        case .empty, .behind:
            return PortableError(.schemaTooOld,
                "the schema at \(location) is at version \(s.databaseVersion) and this binary needs \(s.binaryVersion): run `portableq migrate`")
        }
    }
}
