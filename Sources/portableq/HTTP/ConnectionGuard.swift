import Backends
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Synchronization

/// Limits on the admin server's connections, so slow or oversized clients cannot hold it.
/// Hummingbird's idle timeout covers an idle keep-alive connection and a request whose headers
/// do not complete (no request part arrives); `ConnectionGuard` adds what it lacks.
struct ConnectionLimits: Sendable {
    /// Open connections at most; a connection over it is closed at once.
    var maxConnections = 1024
    /// Idle keep-alive, and reading a request's headers (`HTTP_IDLE_TIMEOUT_MS`).
    var idleTimeout: TimeAmount = .seconds(10)
    /// Reading one request's body, from its headers to its end (`HTTP_BODY_TIMEOUT_MS`).
    var bodyTimeout: TimeAmount = .seconds(30)
    /// The declared body length above which no `100 Continue` is sent (the route answers 413).
    var maxBody: Int

    init(_ s: Settings) {
        maxConnections = s.httpMaxConnections
        idleTimeout = .milliseconds(Int64(s.httpIdleTimeoutMs))
        bodyTimeout = .milliseconds(Int64(s.httpBodyTimeoutMs))
        maxBody = s.maxPayloadBytes + 65_536
    }
}

/// Open connections of one server (shared by every connection's guard).
final class ConnectionCount: Sendable {
    private let open = Atomic<Int>(0)
    /// Counts a new connection; false when it is over the cap.
    func enter(cap: Int) -> Bool { open.wrappingAdd(1, ordering: .relaxed).newValue <= cap }
    func leave() { open.wrappingSubtract(1, ordering: .relaxed) }
}

/// One per connection, between the HTTP codec and Hummingbird:
/// - the open-connection cap;
/// - a deadline for each request body (Hummingbird's idle timer restarts with every body part);
/// - protocol errors (bad chunk size, header overflow…) answered as the JSON 400 `BAD_REQUEST`;
/// - `100 Continue` for an `Expect` whose declared length fits (none for one over the limit:
///   the route answers 413 at once);
/// - a response sent before its request's body was read closes the connection (the unread
///   rest would otherwise be drained, or parsed as the next request);
/// - the security headers on every response, errors included.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let limits: ConnectionLimits
    let count: ConnectionCount
    private var counted = false
    private var headsRead = 0
    private var endsRead = 0
    private var responsesStarted = 0
    private var responding = false
    private var closeAfterResponse = false
    private var bodyDeadline: Scheduled<Void>?

    init(limits: ConnectionLimits, count: ConnectionCount) {
        self.limits = limits
        self.count = count
    }

    func handlerAdded(context: ChannelHandlerContext) {
        counted = true
        if !count.enter(cap: limits.maxConnections) {
            let channel = context.channel
            context.eventLoop.execute { channel.close(promise: nil) }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        bodyDeadline?.cancel()
        bodyDeadline = nil
        if counted { count.leave(); counted = false }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            headsRead += 1
            let length = head.headerFields[.contentLength].flatMap { Int($0) }
            let chunked = head.headerFields[.transferEncoding] != nil
            if chunked || (length ?? 0) > 0 { startBodyDeadline(context) }
            if head.headerFields[.expect]?.lowercased() == "100-continue", length.map({ $0 <= limits.maxBody }) ?? chunked {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
            }
        case .body:
            break
        case .end:
            endsRead += 1
            bodyDeadline?.cancel()
            bodyDeadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var response) where response.status.kind != .informational:
            responsesStarted += 1
            responding = true
            SecurityHeaders.add(to: &response.headerFields)
            if endsRead < responsesStarted {
                closeAfterResponse = true
                response.headerFields[.connection] = "close"
            }
            context.write(wrapOutboundOut(.head(response)), promise: promise)
        case .end:
            responding = false
            if closeAfterResponse {
                context.writeAndFlush(data, promise: promise)
                context.close(promise: nil)
            } else {
                context.write(data, promise: promise)
            }
        default:
            context.write(data, promise: promise)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError || error is HTTP1TypeConversionError else {
            context.fireErrorCaught(error)
            return
        }
        // Answered here, as JSON: Hummingbird would send an empty 400. Mid-response, only close.
        if !responding && responsesStarted < max(headsRead, 1) {
            let e = PortableError(.badRequest, "the request is not valid HTTP/1.1 (\(error))")
            var head = HTTPResponse(status: .badRequest)
            head.headerFields[.contentType] = "application/json; charset=utf-8"
            head.headerFields[.connection] = "close"
            SecurityHeaders.add(to: &head.headerFields)
            let body = ByteBuffer(string: e.json.compact)
            head.headerFields[.contentLength] = String(body.readableBytes)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(body)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        context.close(promise: nil)
    }

    private func startBodyDeadline(_ context: ChannelHandlerContext) {
        bodyDeadline?.cancel()
        let channel = context.channel
        bodyDeadline = context.eventLoop.scheduleTask(in: limits.bodyTimeout) { channel.close(promise: nil) }
    }
}

/// Headers on every response: no sniffing, no framing, no referrer, no caching, and a
/// Content-Security-Policy that allows exactly what the dashboard uses (its own script, style
/// and API; `data:` images for the favicon).
enum SecurityHeaders {
    static let contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "connect-src 'self'; base-uri 'none'; form-action 'none'; object-src 'none'; frame-ancestors 'none'"

    static func add(to h: inout HTTPFields) {
        h[.xContentTypeOptions] = "nosniff"
        h[.init("X-Frame-Options")!] = "DENY"
        h[.contentSecurityPolicy] = contentSecurityPolicy
        h[.init("Referrer-Policy")!] = "no-referrer"
        h[.cacheControl] = "no-store"
    }
}
