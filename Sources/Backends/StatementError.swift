import Portable

extension PortableError {
    /// A statement the database refused, worded alike for both backends: what failed, the
    /// database's own reason and code. The SQL goes to `detail` (logs only), never the message.
    static func statement(_ code: Code, reason: String, databaseCode: String, codeName: String, sql: String?) -> PortableError {
        let what: String
        switch code {
        case .busy: what = "the database is busy"
        case .unavailable: what = "the database is unavailable"
        default: what = "the database rejected a statement"
        }
        return PortableError(code, "\(what): \(reason) (\(codeName) \(databaseCode))", databaseCode: databaseCode,
                             detail: sql.map(oneLine))
    }

    /// SQL on one line, bounded: a log line, not a dump.
    static func oneLine(_ sql: String) -> String {
        String(sql.split(whereSeparator: \.isWhitespace).joined(separator: " ").prefix(1000))
    }
}
