import Foundation
import Testing
@testable import Backends

/// `portableq work --exec TYPE=COMMAND`: the contract of DESIGN.md, through the built binary.
@Suite(.processes) struct ExecTests {
    /// Runs a worker until its queue is empty and returns the result.
    func work(_ db: TestDB, _ extra: [String], env: [String: String] = [:], timeout: Double = 60) async throws -> CLI.Result {
        let r = try await CLI.run(["work", "--database", db.url, "--queues", "default", "--until-empty", "--poll-interval-ms", "50"] + extra,
                            env: env, timeout: timeout)
        #expect(r.status == 0, "\(r)")
        return r
    }

    @Test(arguments: TestBackend.enabled)
    func stdoutBecomesTheOutput(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let json = try await db.client.add("json_out")
            let empty = try await db.client.add("empty_out")
            let text = try await db.client.add("text_out")
            let cat = try await db.client.add("cat", payload: #"{"hello":["wörld",1]}"#)
            let env = try await db.client.add("env_out", payload: "{}")
            _ = try await work(db, [
                "--exec", #"json_out=echo '{"x": 1, "y": [true]}'"#,
                "--exec", "empty_out=true",
                "--exec", "text_out=printf 'plain \"text\"\\n'",
                "--exec", "cat=cat",
                "--exec", #"env_out=printf '{"id":"%s","type":"%s","queue":"%s","attempt":"%s"}' "$PORTABLEQ_JOB_ID" "$PORTABLEQ_JOB_TYPE" "$PORTABLEQ_QUEUE" "$PORTABLEQ_ATTEMPT""#,
            ])
            #expect(try await db.client.job(json.id).output == #"{"x":1,"y":[true]}"#)
            let e = try await db.client.job(empty.id)
            #expect(e.status == .succeeded && e.output == nil)
            #expect(try await db.client.job(text.id).output == #""plain \"text\"""#)
            #expect(try await db.client.job(cat.id).output == #"{"hello":["wörld",1]}"#, "the payload arrives on stdin")
            let envOut = try JSON.parse(try #require(try await db.client.job(env.id).output))
            #expect(envOut == .object([("id", .string(env.id)), ("type", .string("env_out")), ("queue", .string("default")),
                                       ("attempt", .string("1"))]))
        }
    }

    @Test(arguments: TestBackend.enabled)
    func nonZeroExitsAreRetriedWithTheirCode(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let tempfail = try await db.client.add("tempfail", maxAttempts: 2)
            let other = try await db.client.add("exit3", maxAttempts: 1)
            _ = try await work(db, [
                "--exec", "tempfail=echo 'upstream said no' >&2; exit 75",
                "--exec", "exit3=echo 'first line' >&2; echo 'last words' >&2; exit 3",
            ])
            let t = try await db.client.job(tempfail.id)
            #expect(t.status == .dlq && t.dlqReasonCode == Codes.maxAttemptsExceeded && t.attempts == 2)
            #expect(t.lastErrorCode == "EXEC_EXIT_75" && t.lastErrorMessage == "upstream said no")
            let attempts = try await db.driver.jobHistory(t.id).attempts
            #expect(attempts.map(\.decision) == [.retry, .dlq])
            let o = try await db.client.job(other.id)
            #expect(o.lastErrorCode == "EXEC_EXIT_3" && o.lastErrorMessage == "first line\nlast words")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func exit65IsABadPayloadAndNotRetried(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let job = try await db.client.add("strict", maxAttempts: 5)
            _ = try await work(db, ["--exec", "strict=echo 'missing field user_id' >&2; exit 65"])
            let j = try await db.client.job(job.id)
            #expect(j.status == .dlq && j.dlqReasonCode == Codes.badPayload && j.attempts == 1)
            #expect(j.lastErrorMessage == "missing field user_id")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aTimeoutKillsTheWholeProcessGroup(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let dir = db.dir
            let job = try await db.client.add("hang", maxAttempts: 1)
            // The command starts a grandchild that ignores nothing and records both pids.
            let command = "hang=sleep 300 & echo $! > \(dir)/child.pid; echo $$ > \(dir)/shell.pid; wait"
            let started = Date()
            _ = try await work(db, ["--exec", command, "--timeout-seconds", "1"], env: ["PORTABLEQ_REAP_INTERVAL_MS": "200"])
            let j = try await db.client.job(job.id)
            #expect(j.status == .dlq && j.lastErrorCode == Codes.timeout, "\(j)")
            #expect(Date().timeIntervalSince(started) < 30, "SIGTERM ended it well before the grace period")
            for file in ["child.pid", "shell.pid"] {
                let pid = Int32(try String(contentsOfFile: "\(dir)/\(file)", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
                #expect(!processIsAlive(pid), "\(file) (\(pid)) is gone")
            }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func typesOfOtherWorkersAreLeftAlone(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let a = try await db.client.add("type_a")
            let b = try await db.client.add("type_b")
            let orphan = try await db.client.add("type_nobody")
            let base = ["work", "--database", db.url, "--poll-interval-ms", "50", "--lease-seconds", "5"]
            let wa = try CLI.Running(base + ["--exec", "type_a=echo '\"a\"'", "--worker-id", "wa"])
            let wb = try CLI.Running(base + ["--exec", "type_b=echo '\"b\"'", "--worker-id", "wb"])
            let done = try await eventually {
                let ja = try await db.client.job(a.id), jb = try await db.client.job(b.id)
                return ja.status == .succeeded && jb.status == .succeeded
            }
            #expect(done)
            let ja = try await db.client.job(a.id), jb = try await db.client.job(b.id)
            #expect(ja.workerId == "wa" && ja.output == #""a""#)
            #expect(jb.workerId == "wb" && jb.output == #""b""#)
            let o = try await db.client.job(orphan.id)
            #expect(o.status == .queued && o.attempts == 0, "no worker serves type_nobody")
            let e = try await db.client.explain(orphan.id)
            #expect(e.reason == .noWorkerForType)
            wa.signal(SIGTERM); wb.signal(SIGTERM)
            #expect(try await wa.wait(timeout: 30).status == 0)
            #expect(try await wb.wait(timeout: 30).status == 0)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func demoTypesAreServedOnlyWithBuiltins(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let noop = try await db.client.add("noop")
            let echo = try await db.client.add("echo", payload: #"{"hi":1}"#, maxAttempts: 1)
            // Without --builtins, --fail-unknown-types claims echo and fails it: no handler here.
            _ = try await work(db, ["--fail-unknown-types"])
            #expect(try await db.client.job(noop.id).status == .succeeded, "noop is always served")
            let failed = try await db.client.job(echo.id)
            #expect(failed.status == .dlq && failed.lastErrorCode == Codes.unknownJobType, "\(failed)")
            // With --builtins the same job, retried, runs.
            _ = try await db.client.retry(echo.id)
            _ = try await work(db, ["--builtins"])
            let ran = try await db.client.job(echo.id)
            #expect(ran.status == .succeeded && ran.output == #"{"hi":1}"#, "\(ran)")
        }
    }
}
