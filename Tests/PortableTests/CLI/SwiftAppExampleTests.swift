import Foundation
import Testing
@testable import Backends

/// README's "Use from Swift": the example application (built with the package) enqueues a typed
/// job, runs it with its own handler beside the CLI, and stops gracefully on SIGTERM.
@Suite(.processes) struct SwiftAppExampleTests {
    static var binary: String {
        URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().appendingPathComponent("welcome-worker").path
    }

    @Test(arguments: TestBackend.enabled)
    func theExampleWorkerRunsItsTypedJobAndStopsOnSIGTERM(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let app = try CLI.Running([], env: ["PORTABLEQ_DATABASE_URL": db.url], executable: SwiftAppExampleTests.binary)
            var done: Job?
            for _ in 0..<200 {
                done = try await db.client.jobs(JobFilter(queue: "mail", status: .succeeded)).items.first
                if done != nil { break }
                try await Task.sleep(nanoseconds: 100_000_000)
            }
            #expect(done?.jobType == "welcome")
            #expect(done?.output == #"{"to":"user-42@example.com"}"#, "the handler's typed output is the job's output")
            // The CLI reads what the application wrote.
            let list = try await CLI.run(["jobs", "list", "--queue", "mail", "--database", db.url])
            #expect(list.status == 0 && list.stdout.contains("succeeded"), "\(list)")
            app.signal(SIGTERM)
            let r = try await app.wait(timeout: 30)
            #expect(r.status == 0, "stops gracefully: \(r)")
        }
    }
}
