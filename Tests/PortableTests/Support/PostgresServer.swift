import Foundation
import Testing

/// A PostgreSQL server of a test's own (scripts/pg-start), for tests that stop and start it
/// under a running worker or server. Never the shared test server.
final class PostgresServer: Sendable {
    let dir: String
    let url: String

    private init(dir: String, url: String) { self.dir = dir; self.url = url }

    static func start() async throws -> PostgresServer {
        await OwnServerSlots.shared.take()
        do {
            return try await startTaken()
        } catch {
            await OwnServerSlots.shared.give()
            throw error
        }
    }

    private static func startTaken() async throws -> PostgresServer {
        let out = try await shell([repoRoot + "/scripts/pg-start"])
        var dir = "", url = ""
        for line in out.split(separator: "\n") {
            if line.hasPrefix("PGDATA_DIR=") { dir = String(line.dropFirst("PGDATA_DIR=".count)) }
            if line.hasPrefix("URL=") { url = String(line.dropFirst("URL=".count)) }
        }
        guard !dir.isEmpty, !url.isEmpty else { throw TestFailure("pg-start printed no URL: \(out)") }
        return PostgresServer(dir: dir, url: url)
    }

    /// Runs `body` with a server of its own, destroyed afterwards (resumed first if hung),
    /// whatever `body` does.
    static func with(_ body: (PostgresServer) async throws -> Void) async throws {
        let pg = try await start()
        do {
            try await body(pg)
        } catch {
            await pg.destroy()
            throw error
        }
        await pg.destroy()
    }

    func stop() async throws { _ = try await PostgresServer.shell([repoRoot + "/scripts/pg-ctl", dir, "stop"]) }
    func startAgain() async throws { _ = try await PostgresServer.shell([repoRoot + "/scripts/pg-ctl", dir, "start"]) }
    func destroy() async {
        try? await resume()
        _ = try? await PostgresServer.shell([repoRoot + "/scripts/pg-stop", dir])
        await OwnServerSlots.shared.give()
    }

    /// Hangs the server without stopping it: SIGSTOP to the postmaster, then to each of its
    /// children (backends and helpers). The kernel still accepts TCP connections on its port.
    func hang() async throws {
        let postmaster = try self.postmaster()
        kill(postmaster, SIGSTOP)
        for child in try await PostgresServer.children(of: postmaster) { kill(child, SIGSTOP) }
    }

    /// Undoes `hang()`: children first, then the postmaster.
    func resume() async throws {
        let postmaster = try self.postmaster()
        for child in try await PostgresServer.children(of: postmaster) { kill(child, SIGCONT) }
        kill(postmaster, SIGCONT)
    }

    /// The postmaster's pid, the first line of the data directory's postmaster.pid.
    func postmaster() throws -> pid_t {
        let text = try String(contentsOfFile: dir + "/data/postmaster.pid", encoding: .utf8)
        guard let first = text.split(separator: "\n").first, let pid = pid_t(first.trimmingCharacters(in: .whitespaces)) else {
            throw TestFailure("no pid in \(dir)/data/postmaster.pid")
        }
        return pid
    }

    static func children(of pid: pid_t) async throws -> [pid_t] {
        // pgrep exits 1 when there is no child.
        let out = try await shell(["/bin/sh", "-c", "pgrep -P \(pid) || true"])
        return out.split(separator: "\n").compactMap { pid_t($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// Runs `shellBlocking` on a thread of its own, off the cooperative pool.
    @discardableResult
    static func shell(_ args: [String]) async throws -> String {
        try await withCheckedThrowingContinuation { c in
            Thread { c.resume(with: Result { try shellBlocking(args) }) }.start()
        }
    }

    /// Runs a script and waits for it with waitpid(2). Not Foundation's Process: its monitor
    /// sometimes never reaps a child whose own child (the server daemon) outlives it.
    static func shellBlocking(_ args: [String]) throws -> String {
        let path = NSTemporaryDirectory() + "pq-shell-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = args.map { (a: String) in strdup(a) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, args[0], &actions, nil, argv, environ)
        guard rc == 0 else { throw TestFailure("cannot run \(args[0]): \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        guard status == 0 else { throw TestFailure("\(args.joined(separator: " ")) failed (\(status)): \(text)") }
        return text
    }
}

/// At most a few servers of tests' own run at once: each is an initdb and a postmaster on a
/// 2-core box, and a dozen starting together starved the rest of the suite.
actor OwnServerSlots {
    static let shared = OwnServerSlots(limit: 4)
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { free = limit }

    func take() async {
        if free > 0 { free -= 1; return }
        await withCheckedContinuation { waiting.append($0) }
    }

    func give() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
