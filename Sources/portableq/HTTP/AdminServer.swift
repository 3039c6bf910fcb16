import Backends
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// Builds the admin HTTP application: connection limits, middleware (errors, browser guards,
/// auth, per-IP POST limit) and routes.
enum AdminServer {
    struct Address {
        var host: String
        var port: Int

        /// `HOST:PORT` (IPv6 as `[::1]:3003`). A malformed address is bad usage.
        static func parse(_ s: String, option: String = "--addr") throws -> Address {
            let bad = PortableError.invalid("\(option) \(JSON.quote(s)) must be HOST:PORT, e.g. 127.0.0.1:3003")
            guard let colon = s.lastIndex(of: ":") else { throw bad }
            var host = String(s[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty, let port = Int(s[s.index(after: colon)...]), (0...65535).contains(port) else { throw bad }
            return Address(host: host, port: port)
        }

        var isLoopback: Bool {
            host == "localhost" || host == "::1" || host.hasPrefix("127.")
        }
    }

    static func router(client: PortableClient, settings: Settings, address: Address, logger: Logger,
                       outage: OutageLog? = nil) -> Router<AdminContext> {
        let router = Router(context: AdminContext.self)
        router.add(middleware: ErrorMiddleware(logger: logger))
        router.add(middleware: RequestGuard(loopbackHost: address.isLoopback ? address.host : nil))
        if let outage { router.add(middleware: OutageMiddleware(outage: outage)) }
        if let token = settings.apiToken { router.add(middleware: AuthMiddleware(token: Array(token.utf8))) }
        if let limit = settings.httpRateLimitPerMinute { router.add(middleware: RateLimitMiddleware(limit: limit)) }
        JobRoutes(client: client).add(to: router)
        SystemRoutes(client: client, startedAt: Date(), tokenConfigured: settings.apiToken != nil).add(to: router)
        QueueRoutes(client: client).add(to: router)
        FlowRoutes(client: client).add(to: router)
        ProbeRoutes(client: ClientBox(client)).add(to: router)
        return router
    }

    static func application(client: PortableClient, settings: Settings, address: Address, logger: Logger,
                            outage: OutageLog? = nil) -> some ApplicationProtocol {
        AdminLimits.maxBody.store(settings.maxPayloadBytes + 65_536, ordering: .relaxed)
        let limits = ConnectionLimits(settings)
        let open = ConnectionCount()
        return Application(
            router: router(client: client, settings: settings, address: address, logger: logger, outage: outage),
            server: .http1(configuration: .init(additionalChannelHandlers: [ConnectionGuard(limits: limits, count: open)],
                                                idleTimeout: limits.idleTimeout)),
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? address.port
                logger.info("admin API and dashboard listening on http://\(address.host.contains(":") ? "[\(address.host)]" : address.host):\(port)/",
                            metadata: ["auth": .string(settings.apiToken == nil ? "off" : "token")])
            },
            logger: Logger(label: "portableq.http", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }
}
