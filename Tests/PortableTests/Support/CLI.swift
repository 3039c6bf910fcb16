import Foundation
import Testing
@testable import Backends

/// The built `portableq` binary, run as a real subprocess.
enum CLI {
    static let binary: String = {
        if let b = ProcessInfo.processInfo.environment["PORTABLEQ_BIN"] { return b }
        // The test bundle sits next to the products of the same build.
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("portableq").path,
            repoRoot + "/.build/debug/portableq",
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[1]
    }()

    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var json: JSON? { try? JSON.parse(stdout) }
        var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
    }

    /// The environment for children: the parent's, minus anything that would point them at
    /// another database or change their settings.
    static func environment(_ extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PORTABLEQ_") && $0.key != "DATABASE_URL" }
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// A shell command (e.g. `mount`), waited for like a CLI run.
    static func run(shell script: String, timeout: Double = 60) async throws -> Result {
        try await Running(shell: script).wait(timeout: timeout)
    }

    /// Waits without blocking a thread of the cooperative pool (tests run in parallel on it).
    static func run(_ args: [String], env: [String: String] = [:], stdin: String? = nil, cwd: String? = nil,
                    timeout: Double = 60) async throws -> Result {
        let p = try Running(args, env: env, stdin: stdin, cwd: cwd)
        return try await p.wait(timeout: timeout)
    }

    /// A child whose stdout/stderr go to files, so it can run long without filling a pipe.
    final class Running: @unchecked Sendable {
        let process = Process()
        let dir: String
        let outPath: String
        let errPath: String

        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: dir)
        }

        /// A shell script instead of the binary (e.g. a loop of CLI calls).
        convenience init(shell script: String, env: [String: String] = [:]) throws {
            try self.init(["-c", script], env: env, executable: "/bin/sh")
        }

        init(_ args: [String], env: [String: String] = [:], stdin: String? = nil, cwd: String? = nil,
             executable: String = CLI.binary) throws {
            let dir = NSTemporaryDirectory() + "pq-cli-" + UUID().uuidString.prefix(8)
            self.dir = dir
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            outPath = dir + "/out"
            errPath = dir + "/err"
            _ = FileManager.default.createFile(atPath: outPath, contents: nil)
            _ = FileManager.default.createFile(atPath: errPath, contents: nil)
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = args
            process.environment = CLI.environment(env)
            if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
            if let stdin {
                let pipe = Pipe()
                process.standardInput = pipe
                try process.run()
                pipe.fileHandleForWriting.write(Data(stdin.utf8))
                try pipe.fileHandleForWriting.close()
            } else {
                process.standardInput = FileHandle.nullDevice
                try process.run()
            }
        }

        var pid: Int32 { process.processIdentifier }
        var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }
        var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }

        func signal(_ s: Int32) { kill(process.processIdentifier, s) }

        func wait(timeout: Double) async throws -> Result {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                Issue.record("portableq \(process.arguments ?? []) did not finish within \(timeout) s; stderr: \(stderr)")
            }
            process.waitUntilExit()
            return Result(status: process.terminationStatus, stdout: stdout, stderr: stderr)
        }

        /// Waits until stderr contains `text` (e.g. a log line), or the timeout passes.
        @discardableResult
        func waitForLog(_ text: String, timeout: Double = 30) async throws -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if stderr.contains(text) { return true }
                if !process.isRunning { return stderr.contains(text) }
                try await Task.sleep(nanoseconds: 20_000_000)
            }
            return false
        }
    }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Double = 30, interval: Double = 0.05, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return true }
        try await Task.sleep(nanoseconds: UInt64(interval * 1e9))
    }
    return try await condition()
}

/// True while `pid` runs (a zombie waiting for a reaper counts as gone).
func processIsAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
    guard let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}
