import CSQLite
import Foundation
import Portable

/// A value bound to or read from SQLite.
enum SQLValue: Sendable, Equatable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)

    static func opt(_ s: String?) -> SQLValue { s.map(SQLValue.text) ?? .null }
    static func opt(_ i: Int?) -> SQLValue { i.map { .int(Int64($0)) } ?? .null }
    static func ms(_ d: Date?) -> SQLValue { d.map { .int(Time.millis($0)) } ?? .null }
}

/// One sqlite3 handle (GRDB-style: the handle is owned here and freed in deinit), with a
/// cache of prepared statements keyed by SQL text. Used only on its own thread.
final class SQLiteConnection {
    let db: OpaquePointer
    let path: String
    private var cache: [String: SQLiteStatement] = [:]
    /// How long a writer waits for another process's write lock (README: "a 5 s busy timeout").
    static let busyTimeoutMs: Int32 = 5000

    struct Options: Sendable {
        var path: String
        var create = true
        var memory = false
        var synchronous = "FULL"
        var queryOnly = false
        /// Opened for reading only (`mode=ro`): no WAL switch, no write ever, works on a file
        /// this user may only read.
        var readOnly = false
    }

    init(_ o: Options) throws {
        path = o.path
        if o.readOnly && !o.memory {
            db = try SQLiteConnection.openReadOnly(o.path)
        } else {
            var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI | SQLITE_OPEN_READWRITE
            if o.create { flags |= SQLITE_OPEN_CREATE }
            let target = o.memory ? "file:portableq-memdb?mode=memory&cache=shared" : o.path
            db = try SQLiteConnection.openHandle(target, flags: flags, path: o.path)
        }
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, SQLiteConnection.busyTimeoutMs)
        if !o.memory && !o.readOnly {
            do {
                // SQLite quietly opens a file the user may not write read-only: say so before a write fails.
                if !o.queryOnly && sqlite3_db_readonly(db, "main") == 1 { throw SQLiteConnection.notWritable(o.path) }
                // WAL lets readers run beside the one writer and several processes share the file.
                if !o.queryOnly { try execute("PRAGMA journal_mode=WAL") }
                try execute("PRAGMA synchronous=\(o.synchronous)")
            } catch let e as PortableError where !o.queryOnly && SQLiteConnection.isNotWritable(e) {
                throw SQLiteConnection.notWritable(o.path)
            }
        }
        try execute("PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16000")
        if o.queryOnly || o.readOnly { try execute("PRAGMA query_only=1") }
    }

    /// Opens `path` for reading only. A WAL-mode file needs its -shm: read-only (`mode=ro`) works
    /// when the -shm exists or can be created beside it; in a directory this user cannot write,
    /// with no -shm, only a file without pending WAL content can be read (`immutable=1`: no
    /// locks, no -shm; nothing can be writing it, as a writer would have made the -wal and -shm).
    static func openReadOnly(_ path: String) throws -> OpaquePointer {
        let uri = "file:" + path.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "?", with: "%3f")
            .replacingOccurrences(of: "#", with: "%23")
        do {
            return try openProbed(uri + "?mode=ro", path: path)
        } catch let e as PortableError where isNotWritable(e) {
            let wal = (try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? Int ?? 0
            guard wal == 0 else {
                throw PortableError(.unavailable, "cannot read SQLite database at \(path): its -wal holds changes, and no -shm "
                                    + "can be made beside it (the directory is read-only for this user); open it once with "
                                    + "write access, or copy the file and its -wal to a writable directory",
                                    databaseCode: e.databaseCode)
            }
            return try openProbed(uri + "?mode=ro&immutable=1", path: path)
        }
    }

    /// Opens and reads the schema once, so a WAL file that cannot be read fails here.
    private static func openProbed(_ uri: String, path: String) throws -> OpaquePointer {
        let h = try openHandle(uri, flags: SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI | SQLITE_OPEN_READONLY, path: path)
        sqlite3_extended_result_codes(h, 1)
        let probe = sqlite3_exec(h, "SELECT count(*) FROM sqlite_master", nil, nil, nil)
        guard probe == SQLITE_OK else {
            let msg = String(cString: sqlite3_errmsg(h))
            sqlite3_close_v2(h)
            throw openError(probe, msg, path: path)
        }
        return h
    }

    private static func openHandle(_ target: String, flags: Int32, path: String) throws -> OpaquePointer {
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(target, &handle, flags, nil)
        guard rc == SQLITE_OK, let h = handle else {
            let msg = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let h = handle { sqlite3_close_v2(h) }
            throw openError(rc, msg, path: path)
        }
        return h
    }

    /// The file, or the directory its -wal and -shm live in, cannot be written by this user.
    static func isNotWritable(_ e: PortableError) -> Bool {
        guard let code = e.databaseCode.flatMap({ Int32($0) }) else { return false }
        return [SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM].contains(code & 0xFF)
    }

    static func notWritable(_ path: String) -> PortableError {
        PortableError(.unavailable, "cannot write SQLite database at \(path): the file or its directory is read-only for this user "
                      + "(commands that only read, such as jobs list, still work)")
    }

    deinit {
        cache.removeAll()
        sqlite3_close_v2(db)
    }

    static func openError(_ rc: Int32, _ msg: String, path: String) -> PortableError {
        switch rc & 0xFF {
        case SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_READONLY:
            return PortableError(.unavailable, "cannot open SQLite database at \(path): \(msg)", databaseCode: "\(rc)")
        case SQLITE_NOTADB, SQLITE_CORRUPT:
            return PortableError(.backend, "\(path) is not a usable SQLite database: \(msg)", databaseCode: "\(rc)")
        default:
            return PortableError(.backend, "SQLite error \(rc) opening \(path): \(msg)", databaseCode: "\(rc)")
        }
    }

    /// Maps a result code to a PortableError, keeping the code; the SQL is kept for logs only
    /// (`detail`). `message` overrides sqlite3_errmsg (sqlite3_exec reports its own).
    func error(_ rc: Int32, sql: String?, message: String? = nil) -> PortableError {
        let msg = message ?? String(cString: sqlite3_errmsg(db))
        let primary = rc & 0xFF
        let code: PortableError.Code
        switch primary {
        case SQLITE_BUSY, SQLITE_LOCKED: code = .busy
        case SQLITE_CONSTRAINT: code = .conflict
        case SQLITE_CANTOPEN, SQLITE_IOERR, SQLITE_FULL, SQLITE_READONLY, SQLITE_PERM: code = .unavailable
        default: code = .backend
        }
        return .statement(code, reason: msg, databaseCode: "\(rc)", codeName: "SQLite error", sql: sql)
    }

    /// Runs one or more statements without parameters.
    func execute(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let msg = err.map { String(cString: $0) }
            sqlite3_free(err)
            throw error(rc, sql: sql, message: msg)
        }
    }

    func statement(_ sql: String) throws -> SQLiteStatement {
        if let s = cache[sql] { return s }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let s = stmt else { throw error(rc, sql: sql) }
        let st = SQLiteStatement(s, connection: self, sql: sql)
        cache[sql] = st
        return st
    }

    /// Runs a statement for its effect; returns the number of changed rows.
    @discardableResult
    func run(_ sql: String, _ params: [SQLValue] = []) throws -> Int {
        let st = try statement(sql)
        try st.bind(params)
        defer { st.reset() }
        while try st.step() {}
        return Int(sqlite3_changes(db))
    }

    func query<T>(_ sql: String, _ params: [SQLValue] = [], _ map: (SQLiteRow) throws -> T) throws -> [T] {
        let st = try statement(sql)
        try st.bind(params)
        defer { st.reset() }
        var out: [T] = []
        while try st.step() { out.append(try map(SQLiteRow(stmt: st.stmt))) }
        return out
    }

    /// The first column of the first row as an integer (counts, a next version); no row reads as 0.
    func scalar(_ sql: String, _ params: [SQLValue] = []) throws -> Int {
        try query(sql, params) { try Rows.scalar($0) }.first ?? 0
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes the write lock at once, so two processes
    /// never both read-then-write (no SQLITE_BUSY upgrade deadlock); busy_timeout waits for it.
    func transaction<T>(immediate: Bool = true, _ body: () throws -> T) throws -> T {
        try execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN")
        do {
            let v = try body()
            try execute("COMMIT")
            return v
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}

final class SQLiteStatement {
    let stmt: OpaquePointer
    let sql: String
    unowned let connection: SQLiteConnection

    init(_ stmt: OpaquePointer, connection: SQLiteConnection, sql: String) {
        self.stmt = stmt
        self.connection = connection
        self.sql = sql
    }

    deinit { sqlite3_finalize(stmt) }

    func bind(_ params: [SQLValue]) throws {
        for (i, p) in params.enumerated() {
            let idx = Int32(i + 1)
            let rc: Int32
            switch p {
            case .null: rc = sqlite3_bind_null(stmt, idx)
            case .int(let v): rc = sqlite3_bind_int64(stmt, idx, v)
            case .double(let v): rc = sqlite3_bind_double(stmt, idx, v)
            case .text(let s):
                rc = s.withCString { sqlite3_bind_text(stmt, idx, $0, Int32(s.utf8.count), portableq_sqlite_transient()) }
            }
            if rc != SQLITE_OK { throw connection.error(rc, sql: sql) }
        }
    }

    /// True while there is a row.
    func step() throws -> Bool {
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw connection.error(rc, sql: sql)
    }

    func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }
}

/// The current row, read through the shared `RowReader`: times are integer milliseconds and
/// booleans 0/1 here; a value of another storage class is unreadable, never coerced.
struct SQLiteRow: RowReader {
    let stmt: OpaquePointer

    private func type(_ c: Int) -> Int32 { sqlite3_column_type(stmt, Int32(c)) }

    func text(_ c: Int) -> String? {
        guard let p = sqlite3_column_text(stmt, Int32(c)) else { return nil }
        let n = Int(sqlite3_column_bytes(stmt, Int32(c)))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    func int(_ c: Int) throws -> Int? {
        switch type(c) {
        case SQLITE_NULL: return nil
        case SQLITE_INTEGER: return Int(sqlite3_column_int64(stmt, Int32(c)))
        default: throw UnreadableValue(text(c) ?? "")
        }
    }

    func double(_ c: Int) throws -> Double? {
        switch type(c) {
        case SQLITE_NULL: return nil
        case SQLITE_INTEGER, SQLITE_FLOAT: return sqlite3_column_double(stmt, Int32(c))
        default: throw UnreadableValue(text(c) ?? "")
        }
    }

    func date(_ c: Int) throws -> Date? { try int(c).map { Time.date(millis: Int64($0)) } }

    func bool(_ c: Int) throws -> Bool? {
        switch try int(c) {
        case nil: return nil
        case 0: return false
        case 1: return true
        case let v?: throw UnreadableValue(String(v))
        }
    }
}
