import Foundation
import Testing
@testable import Backends

/// Tags, metadata, progress and key lookups through the HTTP API, the CLI and `--exec` handlers.
@Suite struct TagsFrontTests {
    @Test(arguments: TestBackend.enabled)
    func httpTakesTagsAndMetadataAndFiltersByTagAndKey(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { db, s in
            let one = try await s.post("/jobs", .object([
                ("job_type", .string("mail")), ("payload_json", .object([])), ("idempotency_key", .string("k-1")),
                ("tags", .array([.string("tenant:1"), .string("urgent")])),
                ("metadata", .object([("campaign", .string("spring"))])),
            ]))
            #expect(one.status == 201, "\(one)")
            #expect(one.json["job"]?["tags"] == .array([.string("tenant:1"), .string("urgent")]), "\(one)")
            #expect(one.json["job"]?["metadata"]?["campaign"] == .string("spring"))
            let id = try #require(one.json["job_id"]?.stringValue)
            let batch = try await s.post("/jobs/batch", .object([("jobs", .array([
                .object([("job_type", .string("mail")), ("queue", .string("bulk")), ("tags", .array([.string("tenant:2")]))]),
                .object([("job_type", .string("mail")), ("queue", .string("bulk")), ("tags", .array([.string("tenant:2"), .string("urgent")]))]),
            ]))]))
            #expect(batch.status == 201, "\(batch)")

            let shown = try await s.get("/jobs/\(id)")
            #expect(shown.json["tags"]?.arrayValue?.count == 2 && shown.json["progress"] == .null, "\(shown)")
            let urgent = try await s.get("/jobs?tag=urgent")
            #expect(urgent.status == 200 && urgent.json["total"] == .int(2), "\(urgent)")
            let both = try await s.get("/jobs?tag=urgent,tenant:2")
            #expect(both.json["total"] == .int(1) && both.json["items"]?.arrayValue?.first?["queue"] == .string("bulk"), "\(both)")
            let byKey = try await s.get("/jobs?idempotency_key=k-1&queue=default")
            #expect(byKey.json["total"] == .int(1) && byKey.json["items"]?.arrayValue?.first?["id"] == .string(id), "\(byKey)")
            let keyDefault = try await s.get("/jobs?idempotency_key=k-1")
            #expect(keyDefault.json["total"] == .int(1), "\(keyDefault)")
            let otherQueue = try await s.get("/jobs?idempotency_key=k-1&queue=bulk")
            #expect(otherQueue.json["total"] == .int(0), "\(otherQueue)")

            for (body, words) in [
                (JSON.object([("job_type", .string("x")), ("tags", .array((0..<17).map { .string("t\($0)") }))]), "at most 16 tags"),
                (.object([("job_type", .string("x")), ("tags", .array([.string(String(repeating: "a", count: 65))]))]), "1 to 64 characters"),
                (.object([("job_type", .string("x")), ("tags", .array([.string("a b")]))]), "may only hold the characters"),
                (.object([("job_type", .string("x")), ("tags", .string("a"))]), "tags must be an array of strings"),
                (.object([("job_type", .string("x")), ("metadata", .array([]))]), "metadata must be a JSON object"),
                (.object([("job_type", .string("x")), ("metadata", .object([("x", .string(String(repeating: "y", count: 70_000)))]))]),
                 "the limit is 65536"),
            ] {
                let r = try await s.post("/jobs", body)
                #expect(r.status == 422 && r.errorCode == "INVALID_ARGUMENT" && r.body.contains(words), "\(words): \(r)")
            }
            let badFilter = try await s.get("/jobs?tag=a%20b")
            #expect(badFilter.status == 422 && badFilter.body.contains("may only hold the characters"), "\(badFilter)")
            #expect(try await s.get("/jobs?job_type=x").json["total"] == .int(0), "refused requests store nothing")

            let bulk = try await s.post("/jobs/bulk/cancel", .object([("filter", .object([("tag", .string("tenant:2"))])), ("dry_run", .bool(false))]))
            #expect(bulk.status == 200 && bulk.json["changed"] == .int(2), "\(bulk)")
            #expect(try await s.get("/jobs?tag=urgent&status=queued").json["total"] == .int(1))
            _ = db
        }
    }

    @Test(arguments: TestBackend.enabled)
    func cliEnqueuesWithTagsListsShowsAndActsByTag(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let made = try await CLI.run(["enqueue", "report", "--database", db.url, "--tag", "team:data", "--tag", "nightly",
                                          "--metadata", #"{"owner":"ana"}"#, "--idempotency-key", "r-1", "--json"])
            #expect(made.status == 0 && made.json?["job"]?["tags"] == .array([.string("team:data"), .string("nightly")]), "\(made)")
            let id = try #require(made.json?["job_id"]?.stringValue)
            _ = try await CLI.run(["enqueue", "report", "--database", db.url, "--tag", "nightly"])
            let list = try await CLI.run(["jobs", "list", "--database", db.url, "--tag", "team:data", "--json"])
            #expect(list.status == 0 && list.json?["total"] == .int(1), "\(list)")
            let table = try await CLI.run(["jobs", "list", "--database", db.url, "--tag", "nightly"])
            #expect(table.stdout.contains("TAGS") && table.stdout.contains("team:data,nightly") && table.stdout.contains("2 shown"), "\(table)")
            let key = try await CLI.run(["jobs", "list", "--database", db.url, "--idempotency-key", "r-1", "--json"])
            #expect(key.json?["items"]?.arrayValue?.first?["id"] == .string(id), "\(key)")
            let show = try await CLI.run(["jobs", "show", id, "--database", db.url])
            #expect(show.stdout.contains("team:data, nightly") && show.stdout.contains(#"{"owner":"ana"}"#), "\(show)")

            let badTag = try await CLI.run(["enqueue", "report", "--database", db.url, "--tag", "no spaces"])
            #expect(badTag.status == 2 && badTag.stderr.contains("may only hold the characters"), "\(badTag)")
            let badMeta = try await CLI.run(["enqueue", "report", "--database", db.url, "--metadata", "[1]"])
            #expect(badMeta.status == 2 && badMeta.stderr.contains("metadata must be a JSON object"), "\(badMeta)")
            let tooMany = try await CLI.run(["enqueue", "report", "--database", db.url] + (0..<17).flatMap { ["--tag", "t\($0)"] })
            #expect(tooMany.status == 2 && tooMany.stderr.contains("at most 16 tags"), "\(tooMany)")

            let dry = try await CLI.run(["jobs", "cancel", "--database", db.url, "--filter", "tag=nightly", "--dry-run"])
            #expect(dry.status == 0 && dry.stdout.contains("would cancel 2 job(s)"), "\(dry)")
            let cancel = try await CLI.run(["jobs", "cancel", "--database", db.url, "--filter", "tag=nightly,tag=team:data"])
            #expect(cancel.status == 0 && cancel.stdout.contains("changed 1"), "\(cancel)")
            #expect(try await db.client.job(id).status == .cancelled)
        }
    }
}

/// `--exec` handlers report progress with JSON lines on file descriptor 3.
@Suite(.processes) struct ExecProgressTests {
    @Test(arguments: TestBackend.enabled)
    func fd3LinesRecordProgressAndMalformedLinesAreLoggedNotFatal(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let job = try await db.client.add("steps", maxAttempts: 1)
            let script = """
                echo '{"progress":0.2,"step":"fetch"}' >&3; echo 'not json' >&3; echo '[1,2]' >&3; \
                printf '{"progress":1,"step":"done"}' >&3; echo '"ok"'
                """
            let worker = try CLI.Running(["work", "--database", db.url, "--queues", "default", "--poll-interval-ms", "50",
                                          "--until-empty", "--exec", "steps=\(script)"])
            let r = try await worker.wait(timeout: 60)
            #expect(r.status == 0, "\(r)")
            let j = try await db.client.job(job.id)
            #expect(j.status == .succeeded && j.output == #""ok""#, "malformed progress lines never fail the job: \(j)")
            #expect(j.progress == #"{"progress":1,"step":"done"}"#, "the last line, even without a newline: \(j)")
            #expect(r.stderr.contains("ignored a progress line on fd 3") && r.stderr.contains("not valid JSON"), "\(r.stderr)")
            #expect(r.stderr.contains("must be a JSON object, not an array"), "\(r.stderr)")
            let show = try await CLI.run(["jobs", "show", job.id, "--database", db.url])
            #expect(show.stdout.contains(#"progress    {"progress":1,"step":"done"}"#), "\(show)")
        }
    }
}
