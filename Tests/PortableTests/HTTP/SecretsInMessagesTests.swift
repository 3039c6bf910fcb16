import Foundation
import Testing
@testable import Backends

/// No password in any message, parsed URL or not; `/health` tells a caller without the token
/// only that the database is down.
/// Serialized: each test starts a server process, and the suite runs beside every other.
@Suite(.serialized, .processes) struct SecretsInMessagesTests {
    static let secret = "S3cretPW"

    @Test func aDatabaseURLsPasswordIsNeverPrinted() async throws {
        let urls = [
            "postgres://app:\(Self.secret)@db.example:5432/app?bogus=1",     // unknown parameter
            "postgres://app:\(Self.secret)@db example:5432/app",             // not a URL at all
            "postgres://app:S3c/ret?PW@db.example/app?schema=1x".replacingOccurrences(of: "S3c/ret?PW", with: "\(Self.secret)/x?y"),
            "postgres://app@db.example/app?password=\(Self.secret)",
            "postgres://app@db.example/app?sslmode=require&options=-c%20password%3D\(Self.secret)&bogus=2",
            "postgresql://app:\(Self.secret)@db.example:99999/app",          // port out of range
            "mysql://app:\(Self.secret)@db.example/app",                     // unknown scheme
            "sqlite://app:\(Self.secret)@host/x.db",
        ]
        for url in urls {
            #expect(DatabaseURL.redact(url).contains(Self.secret) == false, "\(url) → \(DatabaseURL.redact(url))")
            for args in [["jobs", "list", "--database", url], ["jobs", "list", "--json", "--database", url]] {
                let r = try await CLI.run(args)
                #expect(r.status == 2, "\(url): bad usage: \(r)")
                #expect(r.stderr.contains("cannot parse database URL"), "\(r)")
                #expect(!r.stderr.contains(Self.secret) && !r.stdout.contains(Self.secret), "\(url) → \(r)")
            }
            let env = try await CLI.run(["jobs", "list"], env: ["PORTABLEQ_DATABASE_URL": url])
            #expect(env.status == 2 && !env.stderr.contains(Self.secret), "from the environment too: \(env)")
        }
    }

    @Test func aBadSSLModeIsBadUsage() async throws {
        for url in ["postgres://app@127.0.0.1:1/app?sslmode=bogus", "postgres://app@127.0.0.1:1/app?connect_timeout=soon",
                    "postgres://app@127.0.0.1:1/app?target_session_attrs=whatever"] {
            let r = try await CLI.run(["jobs", "list", "--database", url])
            #expect(r.status == 2 && r.stderr.contains("BAD_URL"), "\(url) → \(r)")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func healthSaysOnlyDownToACallerWithoutTheToken(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        let pg = try await PostgresServer.start()
        do {
            // A password in the URL (the test server trusts local connections and ignores it).
            let url = pg.url.replacingOccurrences(of: "postgres://postgres@", with: "postgres://postgres:\(Self.secret)@")
            #expect(url.contains(Self.secret), "\(url)")
            #expect(try await CLI.run(["migrate", "--database", url]).status == 0)
            let guarded = try await AdminServerProcess.start(database: url, token: "tok-123")
            let open = try await AdminServerProcess.start(database: url)
            #expect(try await guarded.get("/health", auth: false).status == 200)
            try await pg.stop()

            let anonymous = try await guarded.get("/health", auth: false)
            #expect(anonymous.status == 503 && anonymous.json["database"] == .string("down"), "\(anonymous)")
            #expect(anonymous.json["error"] == nil, "no reason for a caller without the token: \(anonymous)")
            for word in ["postgres://", "127.0.0.1", Self.secret, ":\(URL(string: pg.url)?.port ?? 0)"] {
                #expect(!anonymous.body.contains(word), "\(word) in \(anonymous.body)")
            }
            let withToken = try await guarded.get("/health")
            let tokenMessage = withToken.json["error"]?.stringValue ?? ""
            #expect(withToken.status == 503 && !tokenMessage.isEmpty, "the token holder learns why: \(withToken)")
            let local = try await open.get("/health")
            let localMessage = local.json["error"]?.stringValue ?? ""
            #expect(local.status == 503 && !localMessage.isEmpty, "so does anyone on a token-less loopback server: \(local)")
            for message in [tokenMessage, localMessage] {
                #expect(!message.contains(Self.secret), "no password: \(message)")
                for sqlWord in ["SELECT", "FROM ", "WHERE", "$1"] { #expect(!message.contains(sqlWord), "no SQL: \(message)") }
            }
            try await guarded.stop()
            try await open.stop()
        } catch {
            await pg.destroy()
            throw error
        }
        await pg.destroy()
    }
}
