import Foundation
import Testing
@testable import Backends

/// The CLI without surprises: JSON errors on stdout with `--json`, messages that name what is
/// valid, negative numbers, readable `jobs show`, and warnings where a typo would go unnoticed.
@Suite(.processes) struct CLIHelpTests {
    @Test(arguments: TestBackend.enabled)
    func everyErrorWithJSONPrintsTheErrorBodyOnStdout(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let cases: [([String], Int32, String)] = [
                (["jobs", "list", "--status", "bogus"], 2, "INVALID_ARGUMENT"),
                (["enqueue", "noop", "--payload", "{"], 2, "BAD_JSON"),
                (["flows", "define", "missing.json"], 2, "INVALID_ARGUMENT"),
                (["jobs", "show", "nope"], 2, "INVALID_ARGUMENT"),
                (["jobs", "show", "0190a0b0-0000-7000-8000-000000000000"], 1, "NOT_FOUND"),
                (["jobs", "list", "--bogus-flag"], 2, "INVALID_ARGUMENT"),  // a parse error, before the command runs
            ]
            for (args, status, code) in cases {
                let r = try await CLI.run(args + ["--json", "--database", db.url])
                #expect(r.status == status, "\(args): \(r)")
                #expect(r.json?["error"]?["code"] == .string(code), "\(args): stdout \(r.stdout)")
                #expect(r.json?["error"]?["message"] != nil, "\(args)")
                #expect(r.stderr.split(separator: "\n").count == 1, "one line on stderr too: \(r.stderr)")
            }
        }
    }

    @Test func unknownValuesAndMistypedCommandsSayWhatIsValid() async throws {
        let status = try await CLI.run(["jobs", "list", "--status", "bogus", "--database", "sqlite::memory:"])
        #expect(status.status == 2)
        #expect(status.stderr.contains("one of queued, running, succeeded, dlq, cancelled, archived"), "\(status.stderr)")
        let sub = try await CLI.run(["jobs", "lsit"])
        #expect(sub.status == 2, "\(sub)")
        #expect(sub.stderr.contains("did you mean \"list\"?"), "\(sub.stderr)")
        let top = try await CLI.run(["qeueus", "list"])
        #expect(top.stderr.contains("did you mean \"queues\"?"), "\(top.stderr)")
        let far = try await CLI.run(["jobs", "xyzzy"])
        #expect(far.status == 2)
        #expect(far.stderr.contains("one of list,") && far.stderr.contains("show"), "no near name: all of them: \(far.stderr)")
    }

    @Test(arguments: TestBackend.enabled)
    func malformedIdsAreBadUsageAndNegativeNumbersParse(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            for command in ["show", "timeline", "explain", "retry", "cancel", "delete"] {
                let r = try await CLI.run(["jobs", command, "not-an-id", "--database", db.url])
                #expect(r.status == 2, "\(command): \(r)")
                #expect(r.stderr.contains("is not a job id"), "\(command): \(r.stderr)")
            }
            let r = try await CLI.run(["enqueue", "noop", "--priority", "-1", "--json", "--database", db.url])
            #expect(r.status == 0, "\(r)")
            #expect(r.json?["job"]?["priority"] == .int(-1), "\(r.stdout)")
            let n = try await CLI.run(["enqueue", "noop", "--priority", "-x", "--database", db.url])
            #expect(n.status == 2, "a word that is not a number is still a missing value: \(n)")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func jobsShowPrintsASummaryAndJSONWithTheFlag(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let job = try await db.client.add(payload: #"{"user":42}"#)
            let r = try await CLI.run(["jobs", "show", job.id, "--database", db.url])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout.hasPrefix("job \(job.id)"), "\(r.stdout)")
            #expect(r.stdout.contains("queued") && r.stdout.contains(#"payload     {"user":42}"#), "\(r.stdout)")
            #expect(r.json == nil, "the summary is not JSON")
            let j = try await CLI.run(["jobs", "show", job.id, "--json", "--database", db.url])
            #expect(j.json?["id"] == .string(job.id), "\(j.stdout)")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func pausingAQueueWithNoJobsWarnsAndPausesAnyway(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let r = try await CLI.run(["queues", "pause", "nosuchqueue", "--database", db.url])
            #expect(r.status == 0, "\(r)")
            #expect(r.stderr.contains("warning: no job is in a queue named \"nosuchqueue\" yet"), "\(r.stderr)")
            #expect(try await db.client.queuePolicies().contains { $0.queue == "nosuchqueue" && $0.paused })
            _ = try await db.client.add(queue: "fed")
            let fed = try await CLI.run(["queues", "pause", "fed", "--database", db.url])
            #expect(fed.status == 0 && !fed.stderr.contains("warning"), "\(fed)")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func untilEmptySaysOnceThatItWaitsForScheduledJobs(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let q = "later-\(UUID().uuidString.prefix(6))"
            let e = try await CLI.run(["enqueue", "noop", "--queue", q, "--delay", "5", "--database", db.url])
            #expect(e.status == 0, "\(e)")
            let r = try await CLI.run(["work", "--queues", q, "--until-empty", "--poll-interval-ms", "100", "--database", db.url])
            #expect(r.status == 0, "\(r)")
            let said = r.stderr.components(separatedBy: "waiting for jobs scheduled ahead").count - 1
            #expect(said == 1, "logged once: \(r.stderr)")
            #expect(r.stderr.contains("scheduled=1"), "\(r.stderr)")
            #expect(try await db.client.jobs(JobFilter(queue: q, status: .succeeded)).total == 1)
        }
    }
}
