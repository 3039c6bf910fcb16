import Foundation
import Testing
@testable import Backends

/// README's tour prints what the binary prints today: the demo's output and each `$ portableq …`
/// line of the transcript after it are run in a fresh directory (the default
/// `sqlite:portableq.db`) and compared line by line, with ids, times, paths and figures
/// normalised (they differ per run; wording, columns and codes must not).
@Suite(.processes) struct ReadmeTourTests {
    static func normalised(_ text: String) -> [String] {
        text.split(separator: "\n").map { line in
            var s = String(line)
            let rules: [(String, String)] = [
                ("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<id>"),
                ("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z", "<time>"),
                ("sqlite:[^ )]+", "sqlite:<path>"),
                ("demo:[0-9]+", "demo:<pid>"),
                ("[0-9]+(\\.[0-9]+)?", "<n>"),
                ("[ \t]+", " "),
            ]
            for (pattern, replacement) in rules {
                s = s.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
            }
            return s.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
    }

    /// The tour's two code blocks: the demo's output, then the transcript.
    static func tourBlocks() throws -> (demo: String, transcript: String) {
        let readme = try String(contentsOfFile: repoRoot + "/README.md", encoding: .utf8)
        guard let start = readme.range(of: "## A tour"), let end = readme.range(of: "\n## ", range: start.upperBound..<readme.endIndex)
        else { throw PortableError.invalid("README has no tour section") }
        let blocks = readme[start.upperBound..<end.lowerBound].components(separatedBy: "```")
        // Text, block, text, block, text: the blocks are the odd pieces.
        guard blocks.count >= 4 else { throw PortableError.invalid("the tour should have two code blocks") }
        return (blocks[1], blocks[3])
    }

    @Test func theTourMatchesWhatTheBinaryPrints() async throws {
        let (demoBlock, transcript) = try ReadmeTourTests.tourBlocks()
        let dir = NSTemporaryDirectory() + "pq-tour-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        // 1. The demo: every line the README shows, in order, except the progress lines (how
        //    many there are depends on timing).
        let demo = try await CLI.run(["demo"], cwd: dir, timeout: 120)
        #expect(demo.status == 0, "\(demo)")
        let shown = ReadmeTourTests.normalised(demoBlock).filter { !$0.hasPrefix("[") }
        var actual = ReadmeTourTests.normalised(demo.stdout)[...]
        for line in shown {
            guard let i = actual.firstIndex(of: line) else {
                Issue.record("README's demo line is not printed (in this order): \(line)\n--- printed:\n\(demo.stdout)")
                break
            }
            actual = actual[(i + 1)...]
        }

        // 2. The transcript, on the same file. Its ids are the README's; use a dead-lettered job
        //    of this run with the same last error as the one the README explains.
        let list = try await CLI.run(["jobs", "list", "--queue", "demo", "--status", "dlq", "--json"], cwd: dir)
        let dlq = list.json?["items"]?.arrayValue ?? []
        var steps: [(command: String, expected: [String])] = []
        for line in transcript.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("$ ") {
                steps.append((String(line.dropFirst(2)), []))
            } else if !steps.isEmpty {
                steps[steps.count - 1].expected.append(line)
            }
        }
        #expect(steps.count >= 5, "the transcript has its commands")
        let readmeCode = transcript.range(of: "last error ([A-Z_0-9]+):", options: .regularExpression)
            .map { String(transcript[$0].dropFirst("last error ".count).dropLast()) }
        let pick = dlq.first { $0["last_error_code"]?.stringValue == readmeCode } ?? dlq.first
        guard let id = pick?["id"]?.stringValue else {
            Issue.record("the demo left no dead-lettered job: \(list)")
            return
        }
        let bin = URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().path
        for step in steps {
            let command = step.command.replacingOccurrences(
                of: "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", with: id, options: .regularExpression)
            let r = try await CLI.Running(["-c", "cd '\(dir)' && PATH='\(bin)':$PATH; (\(command)) 2>&1"], executable: "/bin/sh")
                .wait(timeout: 60)
            let got = ReadmeTourTests.normalised(r.stdout)
            let want = ReadmeTourTests.normalised(step.expected.joined(separator: "\n"))
            #expect(got == want, "$ \(step.command)\n--- README:\n\(step.expected.joined(separator: "\n"))\n--- printed:\n\(r.stdout)")
        }
    }
}
