import CLibPQ
import Foundation
import Portable

/// One libpq connection, used only on its own thread. Statements are prepared once per
/// connection (named `pq1`, `pq2`, … by SQL text) and executed with text parameters.
///
/// libpq is driven non-blocking: every connect and statement waits on the socket with poll(2)
/// under a deadline (`statementTimeout`), because a stopped server still accepts TCP and a
/// blocking call would wait for it forever. A statement past its deadline is cancelled (bounded,
/// see `PGCanceller`) and the connection is marked broken, so its host opens a new one.
final class PGConnection {
    private(set) var conn: OpaquePointer?
    private var prepared: [String: String] = [:]
    let url: PostgresURL
    /// Set when the server or the socket went away; the host opens a new connection next time.
    private(set) var broken = false
    /// Set with `broken` when a deadline passed (not retried: a hung server would only make the
    /// caller wait twice as long).
    private(set) var timedOut = false
    /// Seconds each statement of the current call may take; nil waits as long as it takes.
    var statementTimeout: Double?
    /// Whether the current call has sent a statement that executes (preparing one does not):
    /// a write that failed after this may have committed, so it is not retried.
    private(set) var sentInCall = false

    init(url: PostgresURL, sessionSettings: [String], connectTimeout: Double?) throws {
        self.url = url
        var kv = url.keywords
        // search_path, time zone and date style are set at startup: no extra round trip.
        var opts = "-c search_path=\(url.schema) -c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3"
        for s in sessionSettings { opts += " -c \(s)" }
        if let i = kv.firstIndex(where: { $0.0 == "options" }) {
            kv[i].1 = opts + " " + kv[i].1
        } else {
            kv.append(("options", opts))
        }
        // libpq enforces connect_timeout only in its blocking connect; the poll loop below
        // enforces it here, and covers a server that accepts TCP but never answers.
        // A connect_timeout in the URL wins over the setting.
        let given = url.options.first { $0.0 == "connect_timeout" }.flatMap { Double($0.1) }.flatMap { $0 > 0 ? $0 : nil }
        let deadline = PGDeadline(seconds: given ?? connectTimeout)
        let keys = kv.map { strdup($0.0) }
        let vals = kv.map { strdup($0.1) }
        defer { keys.forEach { free($0) }; vals.forEach { free($0) } }
        var kp: [UnsafePointer<CChar>?] = keys.map { UnsafePointer($0) } + [nil]
        var vp: [UnsafePointer<CChar>?] = vals.map { UnsafePointer($0) } + [nil]
        guard let c = PQconnectStartParams(&kp, &vp, 0) else {
            throw PortableError(.unavailable, "cannot connect to PostgreSQL at \(url.description): out of memory")
        }
        func fail(_ msg: String) -> PortableError {
            PQfinish(c)
            return PortableError(PGConnection.isTransient(msg) ? .unavailable : .backend,
                                 "cannot connect to PostgreSQL at \(url.description): \(msg)")
        }
        var state = PGRES_POLLING_WRITING
        while PQstatus(c) != CONNECTION_BAD {
            if state == PGRES_POLLING_OK { break }
            if state == PGRES_POLLING_FAILED { break }
            // The socket can change between calls (another host or address is tried).
            let ready = deadline.wait(PQsocket(c), state == PGRES_POLLING_READING ? POLLIN : POLLOUT)
            if !ready {
                throw fail("no answer within \(PGConnection.format(deadline.seconds)) (timed out connecting)")
            }
            state = PQconnectPoll(c)
        }
        guard PQstatus(c) == CONNECTION_OK else { throw fail(PGConnection.clean(String(cString: PQerrorMessage(c)))) }
        portableq_pq_silence_notices(c)
        // Sends never block either: what the socket cannot take now waits in libpq's buffer
        // and goes out in `flush`.
        PQsetnonblocking(c, 1)
        conn = c
    }

    deinit { if let conn { PQfinish(conn) } }

    var isBroken: Bool {
        guard let conn else { return true }
        return broken || PQstatus(conn) != CONNECTION_OK
    }

    /// Whether an idle pooled connection is still usable, checked before it is handed out and
    /// without a round trip: a server that restarted or ended the session has sent an error and
    /// closed the socket, so the socket reads as ready while no statement is running.
    var isStale: Bool {
        guard let conn, !isBroken else { return true }
        for _ in 0..<4 {
            var pfd = pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 0) > 0 else { return false }
            if PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK {
                broken = true
                return true
            }
        }
        return false
    }

    /// Starts a call from the pool: its statements get `timeout` each.
    func begin(timeout: Double?) {
        statementTimeout = timeout
        sentInCall = false
    }

    /// Whether a failed call may run again on a fresh connection: the connection failed (not a
    /// deadline), and the call only read, is idempotent, or failed before any statement went out.
    func mayRetry(after error: any Error, idempotent: Bool) -> Bool {
        guard broken, !timedOut, (error as? PortableError)?.code == .unavailable else { return false }
        return idempotent || !sentInCall
    }

    /// A connection failure worth waiting out (server down, starting, restarting, full) rather
    /// than one that will not change by itself (no such database, bad password).
    static func isTransient(_ message: String) -> Bool {
        guard message.contains("FATAL:") else { return true }
        let transient = ["starting up", "shutting down", "too many clients", "in recovery", "not yet accepting",
                         "terminating connection", "remaining connection slots"]
        return transient.contains { message.contains($0) }
    }

    /// libpq messages span lines and tabs; portableq prints one line.
    static func clean(_ s: String) -> String {
        s.split(whereSeparator: { $0 == "\n" || $0 == "\t" || $0 == " " }).joined(separator: " ")
    }

    static func format(_ seconds: Double?) -> String {
        guard let s = seconds else { return "the time allowed" }
        return s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
    }

    /// Maps a failed result (or a lost connection) to a PortableError, keeping the SQLSTATE; the
    /// SQL is kept for logs only (`detail`).
    func error(_ res: OpaquePointer?, sql: String?) -> PortableError {
        let sqlstate = res.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) }
        let primary = res.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "M"))) }.map { String(cString: $0) }
        let connMsg = conn.map { PGConnection.clean(String(cString: PQerrorMessage($0))) } ?? ""
        let message = primary ?? (connMsg.isEmpty ? "unknown error" : connMsg)
        if conn == nil || PQstatus(conn) != CONNECTION_OK || sqlstate == nil && res == nil {
            broken = true
            return PortableError(.unavailable, "lost the connection to PostgreSQL at \(url.description): \(message)",
                                 databaseCode: sqlstate, detail: sql.map(PortableError.oneLine))
        }
        let code: PortableError.Code
        let state = sqlstate ?? ""
        switch state {
        case _ where state.hasPrefix("08"), "57P01", "57P02", "57P03", "53300":
            broken = true
            code = .unavailable
        case "40001", "40P01", "55P03": code = .busy
        case "23505": code = .conflict
        case "22023", "22P02", "23514": code = .invalidArgument
        case "P0002": code = .notFound  // raised by start_flow() for an unknown flow
        default: code = .backend
        }
        return .statement(code, reason: message, databaseCode: sqlstate ?? "?", codeName: "SQLSTATE", sql: sql)
    }

    /// A statement past its deadline: cancelled on the server (bounded), and the connection
    /// given up, since its protocol state is unknown.
    private func expired(_ conn: OpaquePointer, _ deadline: PGDeadline, sql: String) -> PortableError {
        PGCanceller.cancel(conn)
        broken = true
        timedOut = true
        return PortableError(.unavailable,
                             "PostgreSQL at \(url.description) did not answer within \(PGConnection.format(deadline.seconds)) (PORTABLEQ_DB_STATEMENT_TIMEOUT_MS)",
                             detail: PortableError.oneLine(sql))
    }

    /// Sends a command with `send` and collects its results, each wait on the socket bounded by
    /// the statement deadline. Returns the last result (nil when there was none); the first
    /// error result is thrown once the command is done, leaving the connection ready for the next.
    private func run(_ sql: String, executes: Bool, _ send: (OpaquePointer) -> Int32) throws -> OpaquePointer? {
        guard let conn, !broken else { throw PortableError(.unavailable, "not connected to PostgreSQL") }
        let deadline = PGDeadline(seconds: statementTimeout)
        if executes { sentInCall = true }
        guard send(conn) == 1 else { throw error(nil, sql: sql) }
        // Large batches: write what libpq buffered, reading meanwhile so the server never blocks on us.
        while true {
            let f = PQflush(conn)
            if f == 0 { break }
            if f < 0 { throw error(nil, sql: sql) }
            guard deadline.wait(PQsocket(conn), POLLIN | POLLOUT) else { throw expired(conn, deadline, sql: sql) }
            if PQconsumeInput(conn) == 0 { throw error(nil, sql: sql) }
        }
        var last: OpaquePointer?
        var failure: OpaquePointer?
        defer { if let last { PQclear(last) }; if let failure { PQclear(failure) } }
        while true {
            while PQisBusy(conn) == 0 {
                guard let r = PQgetResult(conn) else {
                    if let f = failure { throw error(f, sql: sql) }
                    let out = last
                    last = nil
                    return out
                }
                let st = PQresultStatus(r)
                if st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR {
                    if failure == nil { failure = r } else { PQclear(r) }
                } else {
                    if let l = last { PQclear(l) }
                    last = r
                }
            }
            guard deadline.wait(PQsocket(conn), POLLIN) else { throw expired(conn, deadline, sql: sql) }
            if PQconsumeInput(conn) == 0 {
                if let f = failure { throw error(f, sql: sql) }
                throw error(nil, sql: sql)
            }
        }
    }

    /// Runs one or more statements with no parameters (simple query protocol). `effects: false`
    /// for statements that change nothing by themselves (BEGIN), so a write whose BEGIN failed
    /// may still be retried.
    func exec(_ sql: String, effects: Bool = true) throws {
        let res = try run(sql, executes: effects) { PQsendQuery($0, sql) }
        defer { if let res { PQclear(res) } }
        let st = res.map(PQresultStatus) ?? PGRES_EMPTY_QUERY
        guard st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY else { throw error(res, sql: sql) }
    }

    /// Runs a prepared statement with text parameters and returns its rows.
    func query(_ sql: String, _ params: [String?] = []) throws -> PGResult {
        let name: String
        if let n = prepared[sql] {
            name = n
        } else {
            name = "pq\(prepared.count + 1)"
            let res = try run(sql, executes: false) { PQsendPrepare($0, name, sql, Int32(params.count), nil) }
            defer { if let res { PQclear(res) } }
            guard let res, PQresultStatus(res) == PGRES_COMMAND_OK else { throw error(res, sql: sql) }
            prepared[sql] = name
        }
        let cstrs: [UnsafeMutablePointer<CChar>?] = params.map { $0.map { strdup($0) } ?? nil }
        defer { cstrs.forEach { free($0) } }
        let ptrs: [UnsafePointer<CChar>?] = cstrs.map { $0.map { UnsafePointer($0) } }
        let res = try run(sql, executes: true) { conn in
            ptrs.withUnsafeBufferPointer { buf in
                PQsendQueryPrepared(conn, name, Int32(params.count), buf.baseAddress, nil, nil, 0)
            }
        }
        let st = res.map(PQresultStatus) ?? PGRES_FATAL_ERROR
        guard let res, st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK else {
            let e = error(res, sql: sql)
            if let res { PQclear(res) }
            throw e
        }
        return PGResult(res)
    }

    /// The first column of the first row as an integer (counts); no row reads as 0.
    func scalar(_ sql: String, _ params: [String?] = []) throws -> Int {
        try query(sql, params).first.map { try Rows.scalar($0) } ?? 0
    }

    /// The row of a statement that always returns one (a SELECT of values, INSERT … RETURNING).
    func one<T>(_ sql: String, _ params: [String?] = [], _ map: (PGRow) throws -> T) throws -> T {
        guard let row = try query(sql, params).first else {
            throw PortableError(.backend, "the database returned no row where one was expected", detail: PortableError.oneLine(sql))
        }
        return try map(row)
    }

    /// The database's clock, or `now` when given (`PostgresSQL.clockNow`).
    func clock(_ now: String?) throws -> Date {
        try one(PostgresSQL.clockNow, [now]) { try $0.columns(of: "clock").date("now") }
    }

    /// A transaction; rolled back when `body` throws. Each statement in it, BEGIN and COMMIT
    /// included, runs under the statement deadline.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try exec("BEGIN", effects: false)
        do {
            let v = try body()
            try exec("COMMIT")
            return v
        } catch {
            if !isBroken { try? exec("ROLLBACK") }
            throw error
        }
    }

    // MARK: LISTEN/NOTIFY

    var socket: Int32 { conn.map { PQsocket($0) } ?? -1 }

    /// Reads what the socket holds and returns the notifications received (channel, payload).
    func drainNotifications() throws -> [(String, String)] {
        guard let conn else { throw PortableError(.unavailable, "not connected to PostgreSQL") }
        if PQconsumeInput(conn) == 0 {
            broken = true
            throw PortableError(.unavailable, "lost the connection to PostgreSQL at \(url.description): \(PGConnection.clean(String(cString: PQerrorMessage(conn))))")
        }
        return takeNotifications()
    }

    /// Notifications libpq has already read (for example while a keepalive query ran).
    func takeNotifications() -> [(String, String)] {
        guard let conn else { return [] }
        var out: [(String, String)] = []
        while let n = PQnotifies(conn) {
            out.append((String(cString: n.pointee.relname), String(cString: n.pointee.extra)))
            PQfreemem(n)
        }
        return out
    }
}

/// A result set; text-format values read by (row, column).
final class PGResult {
    let res: OpaquePointer
    let rows: Int
    let columns: Int

    init(_ res: OpaquePointer) {
        self.res = res
        rows = Int(PQntuples(res))
        columns = Int(PQnfields(res))
    }

    deinit { PQclear(res) }

    var affectedRows: Int { Int(String(cString: PQcmdTuples(res))) ?? 0 }

    func isNull(_ r: Int, _ c: Int) -> Bool { PQgetisnull(res, Int32(r), Int32(c)) == 1 }

    func string(_ r: Int, _ c: Int) -> String? {
        guard !isNull(r, c), let p = PQgetvalue(res, Int32(r), Int32(c)) else { return nil }
        let n = Int(PQgetlength(res, Int32(r), Int32(c)))
        return p.withMemoryRebound(to: UInt8.self, capacity: n) {
            String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self)
        }
    }

    /// Maps every row through the shared `RowReader`.
    func map<T>(_ transform: (PGRow) throws -> T) rethrows -> [T] {
        try (0..<rows).map { try transform(PGRow(result: self, index: $0)) }
    }

    var all: [PGRow] { (0..<rows).map { PGRow(result: self, index: $0) } }
    var first: PGRow? { rows > 0 ? PGRow(result: self, index: 0) : nil }
}

/// Row `index` of a result, read through the shared `RowReader`. Values arrive as text: times
/// as ISO `timestamptz` in UTC (`2026-11-26 11:24:59.123+00`), booleans as `t`/`f`.
struct PGRow: RowReader {
    let result: PGResult
    let index: Int

    func text(_ c: Int) -> String? { result.string(index, c) }
    func int(_ c: Int) throws -> Int? { try parse(c) { Int($0) } }
    func double(_ c: Int) throws -> Double? { try parse(c) { Double($0) } }
    func date(_ c: Int) throws -> Date? { try parse(c) { Time.parse($0, requireOffset: false) } }
    func bool(_ c: Int) throws -> Bool? { try parse(c) { $0 == "t" ? true : $0 == "f" ? false : nil } }

    private func parse<T>(_ c: Int, _ read: (String) -> T?) throws -> T? {
        guard let s = text(c) else { return nil }
        guard let v = read(s) else { throw UnreadableValue(s) }
        return v
    }
}

/// Text-format array literals for `unnest($n::type[])`: one parameter carries a whole batch.
enum PGArray {
    static func literal(_ items: [String?]) -> String {
        // Built as UTF-8 bytes: payloads are JSON, full of quotes to escape, and appending
        // character by character to a String was a visible part of an enqueue's CPU time.
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(items.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            guard let s = item else { out.append(contentsOf: "NULL".utf8); continue }
            out.append(UInt8(ascii: "\""))
            for u in s.utf8 {
                if u == UInt8(ascii: "\"") || u == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(u)
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    static func literal(_ items: [String]) -> String { literal(items.map { Optional($0) }) }
    /// An array parameter, or NULL when every element is NULL: multi-argument `unnest` pads a
    /// NULL array with NULLs, so the server parses nothing for columns a batch leaves unset.
    static func literalOrNull(_ items: [String?]) -> String? { items.contains { $0 != nil } ? literal(items) : nil }
    static func literalOrNull(ints items: [Int?]) -> String? { literalOrNull(items.map { $0.map(String.init) }) }

    static func literal(ints items: [Int?]) -> String { literal(items.map { $0.map(String.init) }) }
}
