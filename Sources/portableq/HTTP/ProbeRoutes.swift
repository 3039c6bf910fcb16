import Backends
import Foundation
import Hummingbird
import Synchronization

/// `/health/live` and `/health/ready`, for Kubernetes probes (never behind the token): live means
/// the process answers HTTP; ready means the database answers and its schema is one this binary
/// can use (503 with `Retry-After` otherwise). The body never says why beyond that: no token.
struct ProbeRoutes {
    /// The client once the process has one (a worker waits for the database before it has).
    let client: ClientBox

    static let paths = ["/health/live", "/health/ready"]

    func add(to router: Router<AdminContext>) {
        router.route(.get, "/health/live") { _, _ in HTTP.json(.object([("status", .string("ok"))])) }
        router.route(.get, "/health/ready") { _, _ in await ready() }
    }

    func ready() async -> Response {
        guard let client = client.value else { return notReady(database: "connecting", schema: nil) }
        do {
            let s = try await Database.status(client)
            guard s.state == .current || s.state == .newerCompatible else {
                return notReady(database: "up", schema: s.state.rawValue)
            }
            return HTTP.json(.object([("status", .string("ok")), ("database", .string("up")), ("schema", .string(s.state.rawValue))]))
        } catch {
            return notReady(database: "down", schema: nil)
        }
    }

    private func notReady(database: String, schema: String?) -> Response {
        var fields: [(String, JSON)] = [("status", .string("unavailable")), ("database", .string(database))]
        if let schema { fields.append(("schema", .string(schema))) }
        return HTTP.json(.object(fields), status: .serviceUnavailable, headers: [.retryAfter: "5"])
    }
}

/// A client that exists once the database was reached.
final class ClientBox: Sendable {
    private let box: Mutex<PortableClient?>
    init(_ client: PortableClient? = nil) { box = Mutex(client) }
    var value: PortableClient? { box.withLock { $0 } }
    func set(_ client: PortableClient) { box.withLock { $0 = client } }
}
