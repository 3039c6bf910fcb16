import Foundation
import Portable

/// A parsed `--database` URL. Forms: `sqlite:relative/path.db`, `sqlite:///abs/path.db`,
/// `sqlite::memory:`, `postgres://user:pass@host:port/db?sslmode=...&schema=...`
/// (`postgresql://` too). Anything else is bad usage (`BAD_URL`, exit 2).
public enum DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case sqliteMemory
    case postgres(PostgresURL)

    public static let defaultURL = "sqlite:portableq.db"

    public static func parse(_ raw: String, cwd: String = FileManager.default.currentDirectoryPath) throws -> DatabaseURL {
        let s = raw.trimmingCharacters(in: .whitespaces)
        let shown = JSON.quote(redact(raw))
        if s.hasPrefix("sqlite:") {
            let rest = String(s.dropFirst("sqlite:".count))
            if rest == ":memory:" { return .sqliteMemory }
            let path: String
            if rest.hasPrefix("///") {
                path = String(rest.dropFirst(2))
            } else if rest.hasPrefix("//") {
                throw PortableError(.badURL, "cannot parse database URL \(shown): use sqlite:relative/path.db or sqlite:///absolute/path.db")
            } else if rest.hasPrefix("/") {
                path = rest
            } else {
                path = rest
            }
            guard !path.isEmpty, !path.hasSuffix("/") else {
                throw PortableError(.badURL, "cannot parse database URL \(shown): it names no file (sqlite:path/to/file.db)")
            }
            let clean = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
            let abs = clean.hasPrefix("/") ? clean : (cwd as NSString).appendingPathComponent(clean)
            return .sqlite(path: (abs as NSString).standardizingPath)
        }
        if s.hasPrefix("postgres://") || s.hasPrefix("postgresql://") {
            return .postgres(try PostgresURL.parse(s))
        }
        if let colon = s.firstIndex(of: ":"), s.distance(from: s.startIndex, to: colon) > 0 {
            throw PortableError(.badURL, "cannot parse database URL \(shown): unknown scheme \(JSON.quote(String(s[..<colon]))) (use sqlite: or postgres://)")
        }
        throw PortableError(.badURL, "cannot parse database URL \(shown): expected sqlite:PATH or postgres://...")
    }

    /// `raw` with its secrets masked, for messages and logs, whether or not it parses: the
    /// userinfo's password (everything from the first `:` to the last `@`, which may over-mask
    /// but never shows a password with a stray `/`, `?` or `@` in it) and the values of
    /// `password`, `sslpassword` and `options` query parameters.
    public static func redact(_ raw: String) -> String {
        var s = raw
        if let scheme = s.range(of: "://"), let at = s.range(of: "@", options: .backwards, range: scheme.upperBound..<s.endIndex),
           let colon = s.range(of: ":", range: scheme.upperBound..<at.lowerBound) {
            s.replaceSubrange(colon.upperBound..<at.lowerBound, with: "***")
        }
        return s.replacingOccurrences(of: #"([?&](?:password|sslpassword|options)=)[^&#]*"#, with: "$1***",
                                      options: [.regularExpression, .caseInsensitive])
    }

    public var description: String {
        switch self {
        case .sqlite(let p): return "sqlite:\(p)"
        case .sqliteMemory: return "sqlite::memory:"
        case .postgres(let u): return u.description
        }
    }

    public var kind: BackendKind {
        if case .postgres = self { return .postgres }
        return .sqlite
    }
}

public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String?
    public var port: Int?
    public var user: String?
    public var password: String?
    public var database: String?
    public var schema: String
    /// Other query parameters, passed to libpq as connection keywords (sslmode, connect_timeout…).
    public var options: [(String, String)]

    public static func == (a: PostgresURL, b: PostgresURL) -> Bool {
        a.host == b.host && a.port == b.port && a.user == b.user && a.password == b.password
            && a.database == b.database && a.schema == b.schema
            && a.options.map { $0.0 + "=" + $0.1 } == b.options.map { $0.0 + "=" + $0.1 }
    }

    /// libpq keywords a URL may set, with their values where libpq takes only some (a bad one is
    /// bad usage here rather than a failed connection later).
    static let allowedOptions: [String: Set<String>?] = [
        "sslmode": ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
        "gssencmode": ["disable", "prefer", "require"],
        "target_session_attrs": ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"],
        "sslcompression": ["0", "1"], "keepalives": ["0", "1"],
        "connect_timeout": nil, "keepalives_idle": nil,
        "sslrootcert": nil, "sslcert": nil, "sslkey": nil, "application_name": nil, "options": nil,
    ]
    static let integerOptions: Set<String> = ["connect_timeout", "keepalives_idle"]

    static func parse(_ raw: String) throws -> PostgresURL {
        func bad(_ why: String) -> PortableError {
            PortableError(.badURL, "cannot parse database URL \(JSON.quote(DatabaseURL.redact(raw))): \(why)")
        }
        guard let c = URLComponents(string: raw) else { throw bad("not a valid URL") }
        var u = PostgresURL(host: nil, port: nil, user: nil, password: nil, database: nil, schema: "portableq", options: [])
        if let h = c.percentEncodedHost, !h.isEmpty { u.host = h.removingPercentEncoding ?? h }
        if let p = c.port {
            guard (1...65535).contains(p) else { throw bad("port \(p) is out of range") }
            u.port = p
        }
        u.user = c.user.flatMap { $0.isEmpty ? nil : $0 }
        u.password = c.password
        let path = c.path
        if path.count > 1 { u.database = String(path.dropFirst()) }
        for item in c.queryItems ?? [] {
            let v = item.value ?? ""
            if item.name == "schema" {
                guard PostgresURL.isIdentifier(v) else { throw bad("schema \(JSON.quote(v)) must match ^[A-Za-z_][A-Za-z0-9_]{0,62}$") }
                u.schema = v
            } else if let allowed = allowedOptions[item.name] {
                if let values = allowed, !values.contains(v) {
                    throw bad("\(item.name)=\(JSON.quote(v)) is not one of \(values.sorted().joined(separator: ", "))")
                }
                if integerOptions.contains(item.name), UInt32(v) == nil {
                    throw bad("\(item.name)=\(JSON.quote(v)) must be a whole number")
                }
                u.options.append((item.name, v))
            } else {
                throw bad("unknown parameter \(JSON.quote(item.name))")
            }
        }
        return u
    }

    static func isIdentifier(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard !b.isEmpty, b.count <= 63 else { return false }
        for (i, c) in b.enumerated() {
            let letter = (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
            let digit = c >= 0x30 && c <= 0x39
            if !(letter || (i > 0 && digit)) { return false }
        }
        return true
    }

    /// libpq connection keywords.
    var keywords: [(String, String)] {
        var kv: [(String, String)] = []
        if let host { kv.append(("host", host)) }
        if let port { kv.append(("port", String(port))) }
        if let user { kv.append(("user", user)) }
        if let password { kv.append(("password", password)) }
        if let database { kv.append(("dbname", database)) }
        kv.append(contentsOf: options)
        if !options.contains(where: { $0.0 == "connect_timeout" }) { kv.append(("connect_timeout", "5")) }
        if !options.contains(where: { $0.0 == "application_name" }) { kv.append(("application_name", "portableq")) }
        return kv
    }

    /// Channel for LISTEN/NOTIFY, per schema so two installations in one database stay apart.
    public var channel: String { schema + "_jobs" }

    public var description: String {
        var s = "postgres://"
        if let user { s += user + (password != nil ? ":***" : "") + "@" }
        s += host ?? "localhost"
        if let port { s += ":\(port)" }
        s += "/" + (database ?? "")
        if schema != "portableq" { s += "?schema=\(schema)" }
        return s
    }
}
