import Backends
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// The request context: Hummingbird's core plus the client's address (for the per-IP POST limit)
/// and whether the caller presented the token (public routes show more to one that did).
struct AdminContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    var presentedToken = false

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// Hummingbird's own upload limit: `MAX_PAYLOAD_BYTES` + 64 KiB (set once at start-up).
    var maxUploadSize: Int { AdminLimits.maxBody.load(ordering: .relaxed) }
}

enum AdminLimits {
    static let maxBody = Atomic<Int>((1 << 20) + 65_536)
}

/// The one table from error code to HTTP status.
enum HTTPStatusTable {
    static func status(_ code: PortableError.Code) -> HTTPResponse.Status {
        switch code {
        case .badJSON, .badRequest: return .badRequest
        case .unsupportedMediaType: return .unsupportedMediaType
        case .forbidden: return .forbidden
        case .invalidArgument, .badURL, .mapNotArray, .mapTooLarge, .mapOutputTooLarge: return .unprocessableContent
        case .unauthorized: return .unauthorized
        case .notFound, .noDatabase: return .notFound
        case .methodNotAllowed: return .methodNotAllowed
        case .conflict, .leaseLost: return .conflict
        case .payloadTooLarge: return .contentTooLarge
        case .enqueueRateExceeded, .rateLimited: return .tooManyRequests
        case .unavailable, .busy: return .serviceUnavailable
        case .schemaTooOld, .schemaTooNew, .backend: return .internalServerError
        }
    }

    /// Seconds for `Retry-After` on 429 and 503 when the error does not say.
    static func retryAfter(_ e: PortableError) -> Double? {
        switch e.code {
        case .unavailable, .busy: return e.retryAfter ?? 5
        case .enqueueRateExceeded, .rateLimited: return e.retryAfter ?? 60
        default: return nil
        }
    }
}

enum HTTP {
    static func json(_ body: JSON, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: body.compact)))
    }

    static func text(_ body: String, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func error(_ e: PortableError) -> Response {
        var headers: HTTPFields = [:]
        if let after = HTTPStatusTable.retryAfter(e) { headers[.retryAfter] = String(Int(after.rounded(.up))) }
        return json(e.json, status: HTTPStatusTable.status(e.code), headers: headers)
    }
}

extension Request {
    /// The body's bytes, up to `limit`. A declared length over it is refused before anything is
    /// read (also when the client waits for `100 Continue`); a body that grows over it while
    /// read too. A body the HTTP codec cannot parse was answered with 400 by `ConnectionGuard`.
    func bodyBytes(upTo limit: Int, tooLarge: @autoclosure () -> String) async throws -> [UInt8] {
        if let declared = headers[.contentLength], Int(declared).map({ $0 > limit }) ?? true {
            throw PortableError(.payloadTooLarge, tooLarge())
        }
        do {
            return Array(try await body.collect(upTo: limit).readableBytesView)
        } catch is NIOTooManyBytesError {
            throw PortableError(.payloadTooLarge, tooLarge())
        }
    }

    /// The body as JSON, within the upload limit. Too large: `PAYLOAD_TOO_LARGE`; not JSON: `BAD_JSON`.
    func jsonBody(_ context: AdminContext) async throws -> JSON {
        let limit = context.maxUploadSize
        let bytes = try await bodyBytes(upTo: limit, tooLarge: "request body is over the \(limit)-byte limit (MAX_PAYLOAD_BYTES + 64 KiB)")
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            throw PortableError(.badJSON, "the request body is empty; expected a JSON object")
        }
        return try JSON.parse(bytes: bytes)
    }

    /// A query parameter (percent-decoded by Hummingbird). NUL never reaches a database.
    func query(_ name: String) -> String? {
        uri.queryParameters[Substring(name)].map(String.init).map { $0.replacingOccurrences(of: "\u{0}", with: "") }
    }
}

/// Typed reads of request fields: a present field of the wrong type is `INVALID_ARGUMENT`;
/// unknown fields are ignored.
struct Fields {
    let object: [(String, JSON)]

    init(_ json: JSON, what: String = "the request body") throws {
        guard case .object(let o) = json else { throw PortableError.invalid("\(what) must be a JSON object") }
        object = o
    }

    func value(_ k: String) -> JSON? {
        guard let v = object.first(where: { $0.0 == k })?.1, !v.isNull else { return nil }
        return v
    }

    func has(_ k: String) -> Bool { value(k) != nil }

    func string(_ k: String) throws -> String? {
        guard let v = value(k) else { return nil }
        guard let s = v.stringValue, !s.contains("\u{0}") else { throw PortableError.invalid("\(k) must be a string without NUL") }
        return s
    }

    func int(_ k: String) throws -> Int? {
        guard let v = value(k) else { return nil }
        guard let i = v.intValue else { throw PortableError.invalid("\(k) must be an integer") }
        return i
    }

    func double(_ k: String) throws -> Double? {
        guard let v = value(k) else { return nil }
        guard let d = v.doubleValue, d.isFinite else { throw PortableError.invalid("\(k) must be a number") }
        return d
    }

    func bool(_ k: String) throws -> Bool? {
        guard let v = value(k) else { return nil }
        guard let b = v.boolValue else { throw PortableError.invalid("\(k) must be true or false") }
        return b
    }

    func time(_ k: String) throws -> Date? {
        guard let s = try string(k) else { return nil }
        guard let d = Time.parse(s) else {
            throw PortableError.invalid("\(k) must be an RFC 3339 time with an offset, e.g. 2026-12-01T09:00:00Z")
        }
        return d
    }
}

/// Query parameters shared by list endpoints.
struct ListQuery {
    static let names = ["limit", "offset"]
    var limit = 50
    var offset = 0

    init(_ request: Request, defaultLimit: Int = 50) throws {
        limit = defaultLimit
        if let l = request.query("limit") {
            guard let v = Int(l), (1...1000).contains(v) else { throw PortableError.invalid("limit must be between 1 and 1000") }
            limit = v
        }
        if let o = request.query("offset") {
            guard let v = Int(o), v >= 0 else { throw PortableError.invalid("offset must be a non-negative integer") }
            offset = v
        }
    }

    /// A page of a list read whole (queues, workers, schedules, flows: short lists).
    func page<T>(_ all: [T]) -> Page<T> {
        Page(items: Array(all.dropFirst(offset).prefix(limit)), total: all.count, totalCapped: false)
    }
}
