import Foundation
import Logging
import Testing
@testable import Backends

/// `--exec` handlers live no longer than their worker.
@Suite(.processes) struct ExecLifetimeTests {
    /// Every pid the handlers recorded (`<job>.<attempt>.shell` and `.child`).
    func recordedPids(_ dir: String) -> [Int32] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return files.filter { $0.hasSuffix(".shell") || $0.hasSuffix(".child") }.compactMap { name in
            (try? String(contentsOfFile: "\(dir)/\(name)", encoding: .utf8)).flatMap {
                Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
    }

    func startedHandlers(_ dir: String) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".shell") }.count
    }

    @Test(arguments: TestBackend.enabled)
    func noHandlerOutlivesAWorkerKilledWithSIGKILL(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let dir = db.dir + "/pids"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            _ = try await db.client.enqueueMany((0..<12).map { _ in NewJob(jobType: "hold", maxAttempts: 20) })
            // Each handler starts a grandchild and records both pids (the .shell file last, whole).
            let file = "\(dir)/$PORTABLEQ_JOB_ID.$PORTABLEQ_ATTEMPT"
            let command = "hold=sleep 300 & echo $! > \(file).child; echo $$ > \(file).tmp && mv \(file).tmp \(file).shell; wait"
            var workers: [CLI.Running] = []
            for round in 1...3 {
                let before = startedHandlers(dir)
                let worker = try CLI.Running(["work", "--database", db.url, "--exec", command, "--concurrency", "3",
                                              "--lease-seconds", "2", "--poll-interval-ms", "50", "--worker-id", "doomed-\(round)"],
                                             env: ["PORTABLEQ_REAP_INTERVAL_MS": "200"])
                let started = try await eventually(timeout: 30) { startedHandlers(dir) >= before + 3 }
                #expect(started, "round \(round): three handlers started; stderr: \(worker.stderr)")
                workers.append(worker)
                worker.signal(SIGKILL)
                // Not worker.wait: Foundation learns of the exit only once every process holding
                // the worker's inherited descriptors is gone, handlers included.
                #expect(try await eventually(timeout: 10) { !processIsAlive(worker.pid) })
                let pids = recordedPids(dir)
                let gone = try await eventually(timeout: 10) { pids.allSatisfy { !processIsAlive($0) } }
                #expect(gone, "round \(round): still running after the worker died: \(pids.filter(processIsAlive))")
            }
            for pid in recordedPids(dir) { kill(pid, SIGKILL) }
            for w in workers { _ = try await w.wait(timeout: 10) }
        }
    }

    /// The same runtime inside a Swift app: a command that signals its own group is reported
    /// as before (the watchdog leading the group ignores it), and once a job is done its group is
    /// empty (the watchdog is gone too).
    @Test(arguments: TestBackend.enabled)
    func aWatchedCommandEndsAsBeforeAndLeavesNothingBehind(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let ok = try await db.client.add("cat", payload: #"{"n":1}"#)
            let term = try await db.client.add("term_group", maxAttempts: 1)
            var o = WorkerOptions(id: "in-process")
            o.pollIntervalSeconds = 0.05
            o.untilEmpty = true
            let worker = Worker(client: db.client, options: o, logger: WorkerRuntimeTests.quiet)
            // The group id is field 5 of /proc/PID/stat (the command is "sh", no spaces).
            let group = "read -r _ _ _ _ pg _ < /proc/$$/stat; echo $pg $$ > \(db.dir)/$PORTABLEQ_JOB_TYPE.pgid"
            worker.register("cat", ExecHandler.make(command: "\(group); cat", maxOutputBytes: 1000))
            worker.register("term_group", ExecHandler.make(command: "\(group); echo bye >&2; kill -TERM 0; sleep 5",
                                                           maxOutputBytes: 1000))
            try await worker.run()
            #expect(try await db.client.job(ok.id).output == #"{"n":1}"#)
            let t = try await db.client.job(term.id)
            #expect(t.lastErrorCode == "EXEC_SIGNAL_TERM" && t.lastErrorMessage == "bye", "\(t)")
            for type in ["cat", "term_group"] {
                let text = try String(contentsOfFile: "\(db.dir)/\(type).pgid", encoding: .utf8)
                let ids = text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                try #require(ids.count == 2)
                #expect(ids[0] != ids[1], "\(type): the group is led by the watchdog, not by the command's shell")
                let pgid = ids[0]
                let empty = try await eventually(timeout: 5) { kill(-pgid, 0) == -1 && errno == ESRCH }
                #expect(empty, "\(type): group \(pgid) is empty once the job is done")
            }
        }
    }
}
