import Foundation
import Testing
@testable import Backends

/// The backends every conformance test runs against. SQLite always; PostgreSQL when
/// `PORTABLEQ_TEST_POSTGRES_URL` is set. With `PORTABLEQ_REQUIRE_POSTGRES=1` and no URL, a
/// `postgresMissing` entry makes every test fail instead of silently skipping Postgres.
enum TestBackend: CustomStringConvertible, Sendable {
    case sqlite
    case postgres(String)
    case postgresMissing

    static let enabled: [TestBackend] = {
        let env = ProcessInfo.processInfo.environment
        var all: [TestBackend] = [.sqlite]
        if let url = env["PORTABLEQ_TEST_POSTGRES_URL"], !url.isEmpty {
            all.append(.postgres(url))
        } else if env["PORTABLEQ_REQUIRE_POSTGRES"] == "1" {
            all.append(.postgresMissing)
        }
        return all
    }()

    var description: String {
        switch self {
        case .sqlite: return "sqlite"
        case .postgres: return "postgres"
        case .postgresMissing: return "postgres (missing)"
        }
    }
}

/// A fresh, migrated database for one test: a new SQLite file in a temp dir, or a new schema
/// in the test Postgres database. The clock starts at a fixed instant and only moves when told.
final class TestDB: Sendable {
    let backend: TestBackend
    let url: String
    let client: PortableClient
    let clock: TestClock
    let dir: String

    var driver: any StorageDriver { client.driver }

    static let epoch = Date(timeIntervalSince1970: 1_800_000_000)

    private init(backend: TestBackend, url: String, client: PortableClient, clock: TestClock, dir: String) {
        self.backend = backend; self.url = url; self.client = client; self.clock = clock; self.dir = dir
    }

    /// `realClock`: the client uses the database's clock, for tests where other processes
    /// (the CLI) work on the same jobs.
    static func make(_ backend: TestBackend, config: PortableConfig = PortableConfig(),
                     random: any RandomSource = SeededRandom(fixedUnit: 0.5), realClock: Bool = false) async throws -> TestDB {
        let dir = NSTemporaryDirectory() + "portableq-test-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let url: String
        switch backend {
        case .sqlite:
            url = "sqlite://\(dir)/test.db"
        case .postgres(let base):
            let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
            url = base + (base.contains("?") ? "&" : "?") + "schema=\(schema)"
        case .postgresMissing:
            Issue.record("PORTABLEQ_REQUIRE_POSTGRES=1 but PORTABLEQ_TEST_POSTGRES_URL is not set: the Postgres half cannot run")
            throw PortableError(.unavailable, "no test PostgreSQL")
        }
        var settings = Settings()
        settings.dbMaxConnections = 8
        let driver = try Database.open(try DatabaseURL.parse(url), settings: settings)
        try await Database.migrate(driver)
        let clock = TestClock(epoch)
        let client = realClock
            ? PortableClient(driver: driver, config: config)
            : PortableClient(driver: driver, config: config, clock: clock, random: random)
        return TestDB(backend: backend, url: url, client: client, clock: clock, dir: dir)
    }

    /// Another driver (own connections) on the same database.
    func openAnother() throws -> any StorageDriver {
        var settings = Settings()
        settings.dbMaxConnections = 4
        return try Database.open(try DatabaseURL.parse(url), settings: settings)
    }

    /// Runs SQL straight on the test database (to break it on purpose).
    func execute(_ sql: String) async throws {
        if let pg = driver as? PostgresDriver {
            try await pg.with { c in try c.exec(sql) }
        } else if let lite = driver as? SQLiteDriver {
            try await lite.write { c in try c.execute(sql) }
        }
    }

    func close() async {
        if case .postgres = backend, let pg = driver as? PostgresDriver {
            let schema = pg.url.schema
            _ = try? await pg.with { c in try c.exec("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE") }
        }
        await driver.close()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// Runs `body` with a fresh database and always cleans up.
func withDB(_ backend: TestBackend, config: PortableConfig = PortableConfig(),
            random: any RandomSource = SeededRandom(fixedUnit: 0.5), realClock: Bool = false,
            _ body: (TestDB) async throws -> Void) async throws {
    let db = try await TestDB.make(backend, config: config, random: random, realClock: realClock)
    do {
        try await body(db)
    } catch {
        await db.close()
        throw error
    }
    await db.close()
}

extension PortableClient {
    /// Leases with defaults that suit tests.
    func leaseOne(types: [String]? = nil, queues: [String]? = ["default"], lease: Double = 30,
                  worker: String = "w1") async throws -> Job? {
        try await self.lease(queues: queues, jobTypes: types, limit: 1, leaseSeconds: lease, workerId: worker).first
    }

    func ack(_ job: Job, output: String? = nil) async throws -> AckResult {
        try await complete([(job, .success(output: output))], types: [:])[0]
    }

    func fail(_ job: Job, code: String = "BOOM", retryable: Bool = true, types: [String: JobTypePolicy] = [:]) async throws -> AckResult {
        try await complete([(job, .failure(code: code, message: "it broke", retryable: retryable))], types: types)[0]
    }

    @discardableResult
    func add(_ type: String = "t", queue: String = "default", payload: String = "{}", priority: Int = 0,
             maxAttempts: Int? = nil, key: String? = nil, delay: Double? = nil, runAt: Date? = nil) async throws -> Job {
        try await enqueue(NewJob(queue: queue, jobType: type, payloadJSON: payload, priority: priority, runAt: runAt,
                                 delaySeconds: delay, maxAttempts: maxAttempts, idempotencyKey: key)).job
    }
}
