/// The one error type of portableq. Every front shows `code.wire` (SCREAMING_SNAKE) and
/// `message`; the CLI maps codes to exit codes and HTTP to status codes, each in one table.
/// `detail` (the statement that failed) is for logs only: it is in `debugDescription`, never in
/// `message`, `json` or `description`, so no response body carries SQL.
public struct PortableError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible, Equatable {
    public enum Code: String, Sendable, CaseIterable {
        case badJSON, invalidArgument, unauthorized, notFound, methodNotAllowed, conflict, payloadTooLarge
        case enqueueRateExceeded, rateLimited, leaseLost, unavailable, busy
        case schemaTooOld, schemaTooNew, noDatabase, badURL, backend
        /// HTTP only: a malformed request (protocol level), a body that is not JSON, a refused origin or host.
        case badRequest, unsupportedMediaType, forbidden
        /// A map step could not fan out or assemble its output (a step's `error_code`, not a request's).
        case mapNotArray, mapTooLarge, mapOutputTooLarge

        /// The spelling on the wire and in logs.
        public var wire: String {
            switch self {
            case .badJSON: return "BAD_JSON"
            case .invalidArgument: return "INVALID_ARGUMENT"
            case .unauthorized: return "UNAUTHORIZED"
            case .notFound: return "NOT_FOUND"
            case .methodNotAllowed: return "METHOD_NOT_ALLOWED"
            case .conflict: return "CONFLICT"
            case .payloadTooLarge: return "PAYLOAD_TOO_LARGE"
            case .enqueueRateExceeded: return "ENQUEUE_RATE_EXCEEDED"
            case .rateLimited: return "RATE_LIMITED"
            case .leaseLost: return "LEASE_LOST"
            case .unavailable: return "UNAVAILABLE"
            case .busy: return "BUSY"
            case .schemaTooOld: return "SCHEMA_TOO_OLD"
            case .schemaTooNew: return "SCHEMA_TOO_NEW"
            case .noDatabase: return "NO_DATABASE"
            case .badURL: return "BAD_URL"
            case .backend: return "BACKEND_ERROR"
            case .badRequest: return "BAD_REQUEST"
            case .unsupportedMediaType: return "UNSUPPORTED_MEDIA_TYPE"
            case .forbidden: return "FORBIDDEN"
            case .mapNotArray: return "MAP_NOT_ARRAY"
            case .mapTooLarge: return "MAP_TOO_LARGE"
            case .mapOutputTooLarge: return "MAP_OUTPUT_TOO_LARGE"
            }
        }
    }

    public var code: Code
    public var message: String
    /// Seconds a client should wait before trying again (429 and 503).
    public var retryAfter: Double?
    /// The database's own code (SQLSTATE on Postgres, extended result code on SQLite), if any.
    public var databaseCode: String?
    /// For logs only: what the database was running when it failed (SQL text).
    public var detail: String?

    public init(_ code: Code, _ message: String, retryAfter: Double? = nil, databaseCode: String? = nil, detail: String? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
        self.databaseCode = databaseCode
        self.detail = detail
    }

    public var description: String { "\(code.wire): \(message)" }

    /// `description` plus the detail kept for logs.
    public var debugDescription: String { description + (detail.map { " (in: \($0))" } ?? "") }

    public var json: JSON {
        .object([("error", .object([("code", .string(code.wire)), ("message", .string(message))]))])
    }

    public static func notFound(_ what: String) -> PortableError { PortableError(.notFound, what) }
    public static func invalid(_ what: String) -> PortableError { PortableError(.invalidArgument, what) }
    public static func conflict(_ what: String) -> PortableError { PortableError(.conflict, what) }
    /// An id that cannot name anything (ids are UUIDs): bad usage, not "not found".
    public static func malformedId(_ id: String, of what: String) -> PortableError {
        let shown = id.count > 64 ? String(id.prefix(64)) + "…" : id
        return invalid("\(JSON.quote(shown)) is not a \(what) id (ids are UUIDs, e.g. 0190a0b0-0000-7000-8000-000000000000)")
    }
}

extension PortableError {
    /// Wraps any error as a PortableError, keeping one that already is.
    public static func wrap(_ error: any Error) -> PortableError {
        if let e = error as? PortableError { return e }
        return PortableError(.backend, "\(error)")
    }
}
