import Foundation
import Testing
@testable import Backends

/// docs/API.md is what scripts/generate-api-doc makes of the OpenAPI document a running server
/// publishes: every route, body and error it lists exists, and none is missing.
@Suite(.processes) struct ApiDocTests {
    @Test func apiDocMatchesTheServedOpenAPIDocument() async throws {
        let dir = NSTemporaryDirectory() + "pq-apidoc-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try await AdminServerProcess.start(database: "sqlite:\(dir)/api.db")
        let doc = try await s.get("/openapi.json")
        try await s.stop()
        #expect(doc.status == 200)
        try doc.body.write(toFile: dir + "/openapi.json", atomically: true, encoding: .utf8)

        let r = try await CLI.Running([repoRoot + "/scripts/generate-api-doc", "--openapi", dir + "/openapi.json", "--print"],
                                      executable: "/usr/bin/env").wait(timeout: 60)
        #expect(r.status == 0, "\(r)")
        let checkedIn = try String(contentsOfFile: repoRoot + "/docs/API.md", encoding: .utf8)
        #expect(!r.stdout.isEmpty && r.stdout == checkedIn, "docs/API.md differs from the served /openapi.json: run scripts/generate-api-doc")

        // And, independently of the generator: each served route has its heading.
        let spec = try JSON.parse(doc.body)
        for case let (path, item) in spec["paths"]?.objectValue ?? [] {
            for (method, _) in item.objectValue ?? [] where method != "parameters" {
                #expect(checkedIn.contains("### \(method.uppercased()) \(path)\n"), "\(method) \(path) is missing from docs/API.md")
            }
        }
    }
}
