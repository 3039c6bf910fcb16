import Backends
import Foundation
import Hummingbird
import HummingbirdCore
import Logging

/// `work --metrics-addr`: this process's Prometheus text on `/metrics` and `/metrics/prom`, and
/// the two probes. The same Host and token rules as `serve` (the probes need no token).
enum WorkerEndpoint {
    static func application(client: ClientBox, settings: Settings, address: AdminServer.Address,
                            logger: Logger) -> some ApplicationProtocol {
        let router = Router(context: AdminContext.self)
        router.add(middleware: ErrorMiddleware(logger: logger))
        router.add(middleware: RequestGuard(loopbackHost: address.isLoopback ? address.host : nil))
        if let token = settings.apiToken { router.add(middleware: AuthMiddleware(token: Array(token.utf8))) }
        for path in ["/metrics", "/metrics/prom"] {
            router.route(.get, path) { _, _ in HTTP.text(ProcessExport.text, contentType: ClusterExposition.contentType) }
        }
        ProbeRoutes(client: client).add(to: router)
        let limits = ConnectionLimits(settings)
        return Application(
            router: router,
            server: .http1(configuration: .init(additionalChannelHandlers: [ConnectionGuard(limits: limits, count: ConnectionCount())],
                                                idleTimeout: limits.idleTimeout)),
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? address.port
                logger.info("metrics and probes listening on http://\(address.host.contains(":") ? "[\(address.host)]" : address.host):\(port)/",
                            metadata: ["auth": .string(settings.apiToken == nil ? "off" : "token")])
            },
            logger: Logger(label: "portableq.http", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }
}
