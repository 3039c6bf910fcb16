import Foundation
import Testing
@testable import Backends

let repoRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
    }
    return FileManager.default.currentDirectoryPath
}()

@Suite struct MigrationTests {
    @Test(arguments: ["postgres", "sqlite"])
    func embeddedMigrationsEqualTheFilesOnDisk(_ dialect: String) throws {
        let dir = repoRoot + "/migrations/" + dialect
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".sql") }.sorted()
        let embedded = dialect == "postgres" ? EmbeddedMigrations.postgres : EmbeddedMigrations.sqlite
        let names = dialect == "postgres" ? EmbeddedMigrations.postgresFiles : EmbeddedMigrations.sqliteFiles
        #expect(files == names, "run scripts/generate-migrations")
        for (file, m) in zip(files, embedded) {
            let text = try String(contentsOfFile: dir + "/" + file, encoding: .utf8)
            #expect(text.trimmingCharacters(in: .newlines) == m.sql.trimmingCharacters(in: .newlines),
                    "\(file) differs from the embedded copy: run scripts/generate-migrations")
            #expect(file.hasPrefix(String(format: "%04d_", m.version)))
        }
        // Each number once, in order, from 1 (a branch may hold 8 before 6 and 7 land).
        #expect(embedded.first?.version == 1 && embedded.map(\.version) == Array(Set(embedded.map(\.version))).sorted())
        #expect(embedded.allSatisfy { $0.compatibleWith <= $0.version && $0.compatibleWith >= 1 })
    }

    @Test func bothDialectsHaveTheSameMigrations() {
        #expect(EmbeddedMigrations.postgres.map(\.version) == EmbeddedMigrations.sqlite.map(\.version))
        #expect(EmbeddedMigrations.postgres.map(\.name) == EmbeddedMigrations.sqlite.map(\.name))
        #expect(EmbeddedMigrations.postgres.map(\.compatibleWith) == EmbeddedMigrations.sqlite.map(\.compatibleWith))
    }

    @Test(arguments: TestBackend.enabled)
    func schemaBuiltByAllMigrationsEqualsTheSnapshot(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let dump = try await SchemaDump.dump(db.driver)
            let path = repoRoot + "/Tests/PortableTests/Snapshots/schema.\(db.driver.kind.rawValue).txt"
            if ProcessInfo.processInfo.environment["PORTABLEQ_UPDATE_SNAPSHOTS"] == "1" {
                try dump.write(toFile: path, atomically: true, encoding: .utf8)
            }
            let expected = try String(contentsOfFile: path, encoding: .utf8)
            #expect(dump == expected, "schema differs from \(path); if intended, re-run with PORTABLEQ_UPDATE_SNAPSHOTS=1")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func rerunningMigrateIsANoOp(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let status = try await Database.status(db.driver)
            #expect(status.state == .current)
            #expect(status.databaseVersion == Database.migrations(for: db.driver.kind).map(\.version).max())
            let again = try await Database.migrate(db.driver)
            #expect(again.applied.isEmpty)
            #expect(again.status.applied == status.applied)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func twoMigratorsAtOnceApplyEachMigrationOnce(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
        // A second, empty database on the same server or directory.
        let url: String
        switch backend {
        case .sqlite: url = "sqlite://\(db.dir)/fresh.db"
        case .postgres(let base):
            url = base + (base.contains("?") ? "&" : "?") + "schema=m_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        case .postgresMissing: return
        }
        let drivers = try (0..<4).map { _ in try Database.open(try DatabaseURL.parse(url)) }
        let applied = try await withThrowingTaskGroup(of: [Int].self) { g in
            for d in drivers { g.addTask { try await Database.migrate(d).applied } }
            return try await g.reduce(into: []) { $0 += $1 }
        }
        #expect(applied.sorted() == Database.migrations(for: drivers[0].kind).map(\.version))
        #expect(try await Database.status(drivers[0]).state == .current)
        if let pg = drivers[0] as? PostgresDriver {
            let schema = pg.url.schema
            _ = try await pg.with { c in try c.exec("DROP SCHEMA \"\(schema)\" CASCADE") }
        }
        for d in drivers { await d.close() }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aNewerSchemaIsUsedWhenCompatibleAndRefusedWhenNot(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let known = Database.migrations(for: db.driver.kind)
            let latest = known.map(\.version).max() ?? 0
            let next = latest + 1
            // A future migration that says binaries at `latest` still work with it.
            let compatible = Migration(version: next, name: "future", sql: "-- compatible_with: \(latest)\nCREATE TABLE future_a (x integer);")
            #expect(try await db.driver.migrationApply([compatible]) == [next])
            let s1 = try await Database.prepare(db.driver, migrate: true)
            #expect(s1.state == .newerCompatible)

            let incompatible = Migration(version: next + 1, name: "future2", sql: "-- compatible_with: \(next + 1)\nCREATE TABLE future_b (x integer);")
            _ = try await db.driver.migrationApply([incompatible])
            let e = await #expect(throws: PortableError.self) { try await Database.prepare(db.driver, migrate: true) }
            #expect(e?.code == .schemaTooNew)
            #expect(e?.message.contains("upgrade portableq") == true)
            #expect(e?.message.contains("\n") == false, "one line")
            let m = await #expect(throws: PortableError.self) { try await Database.migrate(db.driver) }
            #expect(m?.code == .schemaTooNew)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func anUnmigratedDatabaseIsRefusedWhenAutoMigrateIsOff(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
        let url: String
        switch backend {
        case .sqlite: url = "sqlite://\(db.dir)/empty.db"
        case .postgres(let base): url = base + (base.contains("?") ? "&" : "?") + "schema=never_migrated"
        case .postgresMissing: return
        }
        let d = try Database.open(try DatabaseURL.parse(url))
        let e = await #expect(throws: PortableError.self) { try await Database.prepare(d, migrate: false) }
        #expect(e?.code == .schemaTooOld)
        #expect(e?.message.contains("portableq migrate") == true)
        await d.close()
        }
    }

    @Test(arguments: TestBackend.enabled)
    func postgresEnqueueFunctionWorksInsideATransaction(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        try await withDB(backend) { db in
            let pg = try #require(db.driver as? PostgresDriver)
            let schema = pg.url.schema
            let ids: [String] = try await pg.with { c in
                // Committed: the job exists. Rolled back: it does not.
                try c.exec("BEGIN")
                let a = try c.query("SELECT \"\(schema)\".enqueue('q', 'sql_type', '{\"a\": 1}'::json, idempotency_key => 'k1')").string(0, 0)!
                try c.exec("COMMIT")
                try c.exec("BEGIN")
                let b = try c.query("SELECT \"\(schema)\".enqueue('q', 'sql_type', '{}')").string(0, 0)!
                try c.exec("ROLLBACK")
                let again = try c.query("SELECT \"\(schema)\".enqueue('q', 'sql_type', '{}', idempotency_key => 'k1')").string(0, 0)!
                return [a, b, again]
            }
            let job = try await db.client.job(ids[0])
            #expect(job.queue == "q" && job.jobType == "sql_type" && job.status == .queued)
            #expect(UUIDv7.isValid(job.id) && Array(job.id)[14] == "7")
            #expect(ids[2] == ids[0], "idempotency key honoured")
            let gone = await #expect(throws: PortableError.self) { try await db.client.job(ids[1]) }
            #expect(gone?.code == .notFound)
            let bad = await #expect(throws: PortableError.self) {
                try await pg.with { c in _ = try c.query("SELECT \"\(schema)\".enqueue('bad queue', 't')") }
            }
            #expect(bad?.code == .invalidArgument)
        }
    }
}

/// A normalised, comparable description of a schema.
enum SchemaDump {
    static func dump(_ driver: any StorageDriver) async throws -> String {
        if let s = driver as? SQLiteDriver {
            return try await s.read { c in
                try c.query("""
                    SELECT type, name, coalesce(sql, '') FROM sqlite_master
                    WHERE name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'
                    ORDER BY type, name
                    """) { r in "\(r.text(0) ?? "") \(r.text(1) ?? "")\n\(r.text(2) ?? "")\n" }.joined(separator: "\n")
            }
        }
        let pg = driver as! PostgresDriver
        let schema = pg.url.schema
        return try await pg.with { c in
            var out: [String] = []
            let cols = try c.query("""
                SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '')
                FROM information_schema.columns WHERE table_schema = $1 AND table_name <> 'schema_migrations'
                ORDER BY table_name, ordinal_position
                """, [schema])
            for i in 0..<cols.rows {
                out.append("column \(cols.string(i, 0)!).\(cols.string(i, 1)!) \(cols.string(i, 2)!) null=\(cols.string(i, 3)!) default=\(cols.string(i, 4)!)")
            }
            let idx = try c.query("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename <> 'schema_migrations' ORDER BY indexname", [schema])
            for i in 0..<idx.rows { out.append("index \(idx.string(i, 0)!): \(idx.string(i, 1)!)") }
            let cons = try c.query("""
                SELECT rel.relname, con.conname, pg_get_constraintdef(con.oid)
                FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid
                JOIN pg_namespace n ON n.oid = rel.relnamespace
                WHERE n.nspname = $1 AND rel.relname <> 'schema_migrations' ORDER BY rel.relname, con.conname
                """, [schema])
            for i in 0..<cons.rows { out.append("constraint \(cons.string(i, 0)!).\(cons.string(i, 1)!): \(cons.string(i, 2)!)") }
            let fns = try c.query("""
                SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid)
                FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 ORDER BY 1, 2
                """, [schema])
            for i in 0..<fns.rows { out.append("function \(fns.string(i, 0)!)(\(fns.string(i, 1)!)) -> \(fns.string(i, 2)!)") }
            return out.joined(separator: "\n").replacingOccurrences(of: schema + ".", with: "<schema>.") + "\n"
        }
    }
}
