import Backends
import Foundation
import Hummingbird

/// What a page in the user's browser must not be able to do to a server on their machine:
/// - DNS rebinding: on a loopback bind, only a `Host` that names loopback (or the bound
///   address) is answered;
/// - cross-site requests: a state change (POST/PUT/PATCH/DELETE) whose `Origin` or
///   `Sec-Fetch-Site` says another site is refused (a request with neither is not from a browser);
/// - simple cross-site posts: a body must be `application/json`, which a page can only send to
///   another origin after a CORS preflight this server never grants.
struct RequestGuard: RouterMiddleware {
    typealias Context = AdminContext
    /// Set on a loopback bind: the bound host, besides the loopback names.
    let loopbackHost: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let bound = loopbackHost, let authority = request.head.authority, !RequestGuard.namesLoopback(authority, bound: bound) {
            throw PortableError(.forbidden, "this server answers only to a loopback Host (localhost, 127.0.0.1, [::1]), not \(JSON.quote(authority))")
        }
        if [.post, .put, .patch, .delete].contains(request.method), let why = RequestGuard.crossSite(request) {
            throw PortableError(.forbidden, "cross-site request refused: \(why)")
        }
        if RequestGuard.hasBody(request) {
            let type = request.headers[.contentType] ?? ""
            let media = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard media == "application/json" else {
                throw PortableError(.unsupportedMediaType, type.isEmpty
                    ? "a request body must be JSON with Content-Type: application/json (none was given)"
                    : "a request body must be JSON with Content-Type: application/json, not \(JSON.quote(type))")
            }
        }
        return try await next(request, context)
    }

    static func hasBody(_ request: Request) -> Bool {
        if request.headers[.transferEncoding] != nil { return true }
        return (request.headers[.contentLength].flatMap { Int($0) } ?? 0) > 0
    }

    /// The host (lowercased, IPv6 without brackets) and port of a `Host` value or an origin's
    /// authority: `name`, `name:port`, `[v6]`, `[v6]:port`.
    static func hostAndPort(_ authority: String) -> (host: String, port: String?) {
        let a = authority.lowercased()
        if a.hasPrefix("["), let close = a.firstIndex(of: "]") {
            let rest = a[a.index(after: close)...]
            return (String(a[a.index(after: a.startIndex)..<close]), rest.hasPrefix(":") ? String(rest.dropFirst()) : nil)
        }
        let parts = a.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 2 ? (String(parts[0]), String(parts[1])) : (a, nil)
    }

    static func namesLoopback(_ authority: String, bound: String) -> Bool {
        let h = hostAndPort(authority).host
        if h == "localhost" || h == "::1" || h == bound.lowercased() { return true }
        let octets = h.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// Why a state-changing request comes from another site, or nil.
    static func crossSite(_ request: Request) -> String? {
        if let site = request.headers[.init("Sec-Fetch-Site")!], site.lowercased() != "same-origin" {
            return "Sec-Fetch-Site is \(JSON.quote(site))"
        }
        if let origin = request.headers[.origin] {
            // The origin's host and port against the Host the request was sent to (any scheme:
            // a TLS proxy in front keeps the Host).
            guard let schemeEnd = origin.range(of: "://"), let authority = request.head.authority else {
                return "Origin \(JSON.quote(origin)) is not this server"
            }
            let originAuthority = String(origin[schemeEnd.upperBound...])
            let scheme = origin[..<schemeEnd.lowerBound].lowercased()
            if !sameAuthority(originAuthority, scheme: scheme, authority) {
                return "Origin \(JSON.quote(origin)) is not this server"
            }
        }
        return nil
    }

    /// `origin` (an Origin's authority, of `scheme`) and `host` (a Host value) name the same host
    /// and port; a missing port is the scheme's default.
    static func sameAuthority(_ origin: String, scheme: String, _ host: String) -> Bool {
        let a = hostAndPort(origin), b = hostAndPort(host)
        let defaultPort = scheme == "https" ? "443" : "80"
        return a.host == b.host && (a.port ?? defaultPort) == (b.port ?? defaultPort)
    }
}
