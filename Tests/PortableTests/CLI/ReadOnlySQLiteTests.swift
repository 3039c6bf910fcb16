import Foundation
import Testing
@testable import Backends

/// A SQLite file the user may only read: read-only commands work, write commands fail with one
/// clear line. Root ignores file modes, so as root the CLI runs as `nobody`.
@Suite(.processes) struct ReadOnlySQLiteTests {
    static let asRoot = getuid() == 0

    /// The CLI as a user who cannot write the files (nobody under root; else the user itself).
    /// A copy of the binary that `nobody` may run: the checkout may sit under a 0700 directory
    /// (a `mktemp -d` clone), which `nobody` cannot enter.
    static let binaryForNobody: String = {
        let dir = "/tmp/pq-nobody-bin"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o755])
        let path = dir + "/portableq-\(ProcessInfo.processInfo.processIdentifier)"
        try? FileManager.default.removeItem(atPath: path)
        guard (try? FileManager.default.copyItem(atPath: CLI.binary, toPath: path)) != nil else { return CLI.binary }
        try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }()

    func runUnprivileged(_ args: [String]) async throws -> CLI.Result {
        guard ReadOnlySQLiteTests.asRoot else { return try await CLI.run(args) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        p.arguments = ["-u", "nobody", "--", ReadOnlySQLiteTests.binaryForNobody] + args
        p.environment = CLI.environment([:])
        p.currentDirectoryURL = URL(fileURLWithPath: "/")
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        // Read both to the end before waiting (neither pipe may fill up), off the cooperative pool.
        let (stdout, stderr) = await withCheckedContinuation { (c: CheckedContinuation<(Data, Data), Never>) in
            Thread {
                let o = out.fileHandleForReading.readDataToEndOfFile()
                let e = err.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                c.resume(returning: (o, e))
            }.start()
        }
        return CLI.Result(status: p.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                          stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// How the file was left: in WAL mode and closed (no -wal/-shm), in WAL mode with a -wal
    /// holding a job and its -shm (copied from a live database), or in rollback-journal mode
    /// (what `VACUUM INTO` backups are).
    /// `walWithoutShm`: a live -wal whose -shm was lost.
    enum Files: String, CaseIterable, CustomStringConvertible {
        case walClosed, walLive, walWithoutShm, rollbackJournal
        var description: String { rawValue }
        var hasWAL: Bool { self == .walLive || self == .walWithoutShm }
    }

    /// Every layout that can be read: all but a lost -shm in a directory nobody may write to.
    static let readable: [(Files, Bool)] = Files.allCases.flatMap { f in [false, true].map { (f, $0) } }
        .filter { $0.0 != .walWithoutShm || $0.1 }

    /// A migrated database with jobs, copied into a fresh directory and made read-only: files
    /// 0444, the directory 0555 or (`dirWritable`) writable by anyone. Returns the path and the
    /// job count.
    func makeDatabase(_ files: Files, dirWritable: Bool) async throws -> (dir: String, path: String, jobs: Int) {
        let base = NSTemporaryDirectory() + "pq-ro-" + UUID().uuidString.prefix(8).lowercased()
        let src = base + "/src", dir = base + "/ro"
        for d in [base, src, dir] {
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
        }
        func copy(_ names: [String]) throws {
            for n in names { try FileManager.default.copyItem(atPath: "\(src)/\(n)", toPath: "\(dir)/\(n)") }
        }
        let driver = try Database.open(try DatabaseURL.parse("sqlite://\(src)/db.sqlite"))
        try await Database.migrate(driver)
        let client = PortableClient(driver: driver)
        _ = try await client.enqueueMany([NewJob(jobType: "a"), NewJob(jobType: "b")])
        var jobs = 2
        if files.hasWAL {
            // Copied while the connections are open: the -wal (holding this job) exists only then.
            _ = try await client.enqueue(NewJob(jobType: "in_wal"))
            jobs += 1
            try copy(files == .walLive ? ["db.sqlite", "db.sqlite-wal", "db.sqlite-shm"] : ["db.sqlite", "db.sqlite-wal"])
        }
        await driver.close()
        if !files.hasWAL { try copy(["db.sqlite"]) }
        if files == .rollbackJournal {
            let c = try SQLiteConnection(SQLiteConnection.Options(path: "\(dir)/db.sqlite", create: false))
            try c.execute("PRAGMA journal_mode=DELETE")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        let expected: [String: [String]] = [Files.walLive.rawValue: ["db.sqlite", "db.sqlite-shm", "db.sqlite-wal"],
                                            Files.walWithoutShm.rawValue: ["db.sqlite", "db.sqlite-wal"]]
        #expect(names.sorted() == expected[files.rawValue, default: ["db.sqlite"]])
        for f in names { try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: "\(dir)/\(f)") }
        try FileManager.default.setAttributes([.posixPermissions: dirWritable ? 0o777 : 0o555], ofItemAtPath: dir)
        return (base, "\(dir)/db.sqlite", jobs)
    }

    func cleanUp(_ base: String) {
        try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: base + "/ro")
        try? FileManager.default.removeItem(atPath: base)
    }

    @Test(arguments: readable)
    func readOnlyCommandsReadAReadOnlyFile(_ files: Files, dirWritable: Bool) async throws {
        let layout = "\(files), directory \(dirWritable ? "writable" : "read-only")"
        let (base, path, jobs) = try await makeDatabase(files, dirWritable: dirWritable)
        defer { cleanUp(base) }
        let url = "sqlite://\(path)"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))

        let list = try await runUnprivileged(["jobs", "list", "--json", "--database", url])
        #expect(list.status == 0, "\(layout): \(list)")
        #expect(list.json?["total"] == .int(jobs), "\(layout): every job, the one still in the -wal too: \(list)")
        let status = try await runUnprivileged(["migrate", "status", "--json", "--database", url])
        #expect(status.status == 0, "\(layout): \(status)")
        #expect(status.json?["state"] == .string("current"), "\(layout): \(status)")
        let queues = try await runUnprivileged(["queues", "list", "--database", url])
        #expect(queues.status == 0, "\(layout): \(queues)")

        let write = try await runUnprivileged(["enqueue", "c", "--database", url])
        #expect(write.status == 1, "\(layout): \(write)")
        let lines = write.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("read-only"), "\(layout): one clear line: \(write)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes, "\(layout): the file is untouched")
    }

    /// Changes in a -wal cannot be read without a -shm, and none can be made in a directory the
    /// user may not write: one clear line, not a stale read.
    @Test func aWALWithoutItsShmInAReadOnlyDirectorySaysWhy() async throws {
        let (base, path, _) = try await makeDatabase(.walWithoutShm, dirWritable: false)
        defer { cleanUp(base) }
        let list = try await runUnprivileged(["jobs", "list", "--database", "sqlite://\(path)"])
        #expect(list.status == 1, "\(list)")
        let lines = list.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("its -wal holds changes"), "\(list)")
    }
}
