import Foundation
import Portable

/// Opening a database by URL, migrating it, and checking that this binary can work with it.
/// `import Backends` gives a Swift service everything (it re-exports `Portable`):
///
///     let client = try await Database.connect("sqlite:jobs.db")
///     try await client.enqueue(NewJob(queue: "mail", jobType: "welcome", payloadJSON: #"{"user":1}"#))
public enum Database {
    /// The migrations this binary carries for a backend.
    public static func migrations(for kind: BackendKind) -> [Migration] {
        kind == .postgres ? EmbeddedMigrations.postgres : EmbeddedMigrations.sqlite
    }

    /// Opens a driver without connecting. With `create: false` a missing SQLite file is
    /// `NO_DATABASE` ("no database at /abs/path") instead of being created. `readOnly` (commands
    /// that only read, a copy's source) opens a SQLite file for reading only, so one this user may
    /// only read works; it implies `create: false`. Postgres ignores it.
    public static func open(_ url: DatabaseURL, settings: Settings = Settings(), create: Bool = true,
                            readOnly: Bool = false) throws -> any StorageDriver {
        let create = create && !readOnly
        switch url {
        case .sqlite(let path):
            if !create, !FileManager.default.fileExists(atPath: path) {
                throw PortableError(.noDatabase, "no database at \(path)")
            }
            if create {
                let dir = (path as NSString).deletingLastPathComponent
                var isDir: ObjCBool = false
                if !dir.isEmpty, !FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) || !isDir.boolValue {
                    throw PortableError(.unavailable, "cannot create SQLite database at \(path): directory \(dir) does not exist")
                }
            }
            var o = SQLiteDriver.Options(path: path)
            o.synchronous = settings.sqliteSynchronous.uppercased()
            o.acquireTimeoutSeconds = settings.dbAcquireTimeoutSecs
            o.maxReaders = max(1, min(settings.dbMaxConnections ?? Settings.defaultMaxConnections, 8))
            o.readOnly = readOnly
            return SQLiteDriver(o)
        case .sqliteMemory:
            var o = SQLiteDriver.Options(path: ":memory:")
            o.memory = true
            return SQLiteDriver(o)
        case .postgres(let u):
            var o = PostgresDriver.Options()
            o.maxConnections = settings.dbMaxConnections ?? Settings.defaultMaxConnections
            o.acquireTimeoutSeconds = settings.dbAcquireTimeoutSecs
            o.disableSyncCommit = settings.disableSyncCommit
            o.disableJIT = settings.disableJIT
            o.statementTimeoutSeconds = Double(settings.dbStatementTimeoutMs) / 1000
            return PostgresDriver(url: u, options: o)
        }
    }

    public static func status(_ driver: any StorageDriver) async throws -> SchemaStatus {
        Migrator.status(applied: try await driver.migrationList(), known: migrations(for: driver.kind))
    }

    /// The schema as this binary sees it, through a client (for `/health` and readiness).
    public static func status(_ client: PortableClient) async throws -> SchemaStatus {
        Migrator.status(applied: try await client.migrationsApplied(), known: migrations(for: client.backend))
    }

    /// Applies pending migrations. Refuses (`SCHEMA_TOO_NEW`) a newer schema this binary is not
    /// compatible with. Safe to run from several processes at once; re-running is a no-op.
    @discardableResult
    public static func migrate(_ driver: any StorageDriver) async throws -> (applied: [Int], status: SchemaStatus) {
        let before = try await status(driver)
        if before.state == .newerIncompatible, let e = Migrator.refusal(before, where: driver.location) { throw e }
        let applied = before.pending.isEmpty ? [] : try await driver.migrationApply(before.pending)
        return (applied, try await status(driver))
    }

    /// Checks the schema before work: migrates when `migrate` is true (default: on for SQLite,
    /// off for Postgres, `MIGRATE_ON_STARTUP`), refuses one this binary cannot use.
    /// Returns the status (`newerCompatible` means "log it and keep working").
    @discardableResult
    public static func prepare(_ driver: any StorageDriver, migrate shouldMigrate: Bool?) async throws -> SchemaStatus {
        let auto = shouldMigrate ?? (driver.kind == .sqlite)
        var s = try await status(driver)
        if auto, s.state == .empty || s.state == .behind {
            s = try await migrate(driver).status
        }
        if let e = Migrator.refusal(s, where: driver.location) { throw e }
        return s
    }

    /// Refuses to start a long-running process on a Postgres server without room for its
    /// connection budget: a clear message now instead of "too many clients" mid-run. This
    /// process already holds one connection (counted as open).
    public static func checkConnectionRoom(_ driver: any StorageDriver) async throws {
        guard let pg = driver as? PostgresDriver else { return }
        let room = try await pg.serverConnectionRoom()
        let need = pg.connectionBudget - 1
        guard room.free < need else { return }
        throw PortableError(.unavailable, "the PostgreSQL server has room for \(max(0, room.free)) more connections "
            + "(max_connections \(room.max), \(room.open) open) and this process may need \(need) more: lower "
            + "DB_MAX_CONNECTIONS (now \(pg.options.maxConnections)), raise max_connections, or put PgBouncer in front")
    }

    /// Opens, prepares the schema and returns a client. The URL defaults to `PORTABLEQ_DATABASE_URL`,
    /// then `DATABASE_URL`, then `sqlite:portableq.db`.
    public static func connect(_ url: String? = nil, settings: Settings? = nil, clock: any PortableClock = SystemClock(),
                               random: any RandomSource = SystemRandom()) async throws -> PortableClient {
        let s = try settings ?? Settings.fromEnvironment()
        let parsed = try DatabaseURL.parse(url ?? s.databaseURL ?? DatabaseURL.defaultURL)
        let driver = try open(parsed, settings: s)
        do {
            try await prepare(driver, migrate: s.migrateOnStartup)
        } catch {
            await driver.close()
            throw error
        }
        return PortableClient(driver: driver, config: s.config, clock: clock, random: random)
    }
}

/// How a claim selects queues: all, one (an equality the claim index serves in order), or several.
enum QueueMode: Equatable {
    case any, one, many
    init(_ queues: [String]?) {
        guard let queues else { self = .any; return }
        self = queues.count == 1 ? .one : .many
    }
}
