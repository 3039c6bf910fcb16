import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
@testable import Backends

/// A fresh database and a `serve` on it for `body`; both cleaned up whatever happens.
func withAdminServer(_ backend: TestBackend, env: [String: String] = [:], token: String? = nil,
                     _ body: (TestDB, AdminServerProcess) async throws -> Void) async throws {
    try await withDB(backend, realClock: true) { db in
        let server = try await AdminServerProcess.start(database: db.url, env: env, token: token)
        do {
            try await body(db, server)
        } catch {
            try? await server.stop()
            throw error
        }
        try await server.stop()
    }
}

/// `portableq serve` as a real process on a free loopback port, and requests to it over a
/// real socket.
final class AdminServerProcess: Sendable {
    let process: CLI.Running
    let base: String
    let token: String?

    init(process: CLI.Running, base: String, token: String?) {
        self.process = process; self.base = base; self.token = token
    }

    static func start(database: String, env: [String: String] = [:], worker: Bool = false, token: String? = nil) async throws -> AdminServerProcess {
        var e = env
        if let token { e["PORTABLEQ_API_TOKEN"] = token }
        // A test sends one request at a time: a small pool keeps the shared test PostgreSQL
        // (max_connections, shared by every worktree's suite) from running out of connections.
        if e["PORTABLEQ_DB_MAX_CONNECTIONS"] == nil { e["PORTABLEQ_DB_MAX_CONNECTIONS"] = "2" }
        let p = try CLI.Running(["serve", "--database", database, "--addr", "127.0.0.1:0"] + (worker ? [] : ["--no-worker"]), env: e)
        guard try await p.waitForLog("listening on http://", timeout: 30) else {
            throw TestFailure("serve did not start: \(p.stderr)")
        }
        let log = p.stderr
        guard let range = log.range(of: #"http://127\.0\.0\.1:\d+"#, options: .regularExpression) else {
            throw TestFailure("no address in: \(log)")
        }
        return AdminServerProcess(process: p, base: String(log[range]), token: token)
    }

    func stop() async throws {
        process.signal(SIGTERM)
        let r = try await process.wait(timeout: 30)
        #expect(r.status == 0, "serve exited \(r.status): \(r.stderr)")
    }

    struct Reply: CustomStringConvertible {
        var status: Int
        var headers: [String: String]
        var body: String
        var json: JSON { (try? JSON.parse(body)) ?? .null }
        var errorCode: String? { json["error"]?["code"]?.stringValue }
        var description: String { "\(status) \(body.prefix(500))" }
    }

    /// A request; `auth: false` leaves the token off even when the server has one.
    func request(_ method: String, _ path: String, json body: JSON? = nil, raw: String? = nil,
                 headers: [String: String] = [:], auth: Bool = true) async throws -> Reply {
        var r = URLRequest(url: URL(string: base + path)!)
        r.httpMethod = method
        r.timeoutInterval = 30
        if let body { r.httpBody = Data(body.compact.utf8) } else if let raw { r.httpBody = Data(raw.utf8) }
        if r.httpBody != nil { r.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        if auth, let token { r.setValue(token, forHTTPHeaderField: "x-api-key") }
        for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await URLSession.shared.data(for: r)
        let http = response as! HTTPURLResponse
        var h: [String: String] = [:]
        for (k, v) in http.allHeaderFields { h[String(describing: k).lowercased()] = String(describing: v) }
        return Reply(status: http.statusCode, headers: h, body: String(decoding: data, as: UTF8.self))
    }

    func get(_ path: String, auth: Bool = true) async throws -> Reply { try await request("GET", path, auth: auth) }
    func post(_ path: String, _ body: JSON? = nil, headers: [String: String] = [:]) async throws -> Reply {
        try await request("POST", path, json: body ?? .object([]), headers: headers)
    }
}
