import Foundation
import Testing

/// Files generated from others and checked in must not drift from their sources.
@Suite struct GeneratedFilesTests {
    @Test func dashboardAssetsEqualWhatTheGeneratorMakesFromDashboard() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", repoRoot + "/scripts/generate-dashboard", "--print"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let generated = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let checkedIn = try String(contentsOfFile: repoRoot + "/Sources/portableq/HTTP/DashboardAssets.swift", encoding: .utf8)
        #expect(!generated.isEmpty && generated == checkedIn,
                "Sources/portableq/HTTP/DashboardAssets.swift differs from dashboard/: run scripts/generate-dashboard")
    }
}
