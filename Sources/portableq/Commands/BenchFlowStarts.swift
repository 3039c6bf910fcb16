import Backends
import Foundation

extension BenchCommand {
    /// `bench --flow-starts N`: N runs of a two-step flow started one `startFlow` call at a time,
    /// then N more started with `startFlows` in batches of 1000 (one transaction each).
    static func compareFlowStarts(_ client: PortableClient, kind: String, runs: Int, queue: String, json: Bool,
                           say: (String) -> Void) async throws {
        guard runs > 0 else { throw PortableError.invalid("--flow-starts must be positive") }
        let slug = "bench_" + queue.replacingOccurrences(of: "-", with: "_")
        let def = try FlowDefinition.parse(try JSON.parse(
            #"{"slug":"\#(slug)","steps":[{"slug":"a","queue":"\#(queue)"},{"slug":"b","queue":"\#(queue)","depends_on":["a"]}]}"#))
        try await client.defineFlow(def)
        let t0 = Date()
        for i in 0..<runs { _ = try await client.startFlow(slug, inputJSON: "{\"i\":\(i)}") }
        let single = Date().timeIntervalSince(t0)
        say(String(format: "%d runs one call at a time: %.2f s (%.0f runs/s)", runs, single, Double(runs) / single))
        let t1 = Date()
        for start in stride(from: 0, to: runs, by: PortableClient.maxRunsPerBatch) {
            let n = min(PortableClient.maxRunsPerBatch, runs - start)
            _ = try await client.startFlows(slug, inputsJSON: (start..<(start + n)).map { "{\"i\":\($0)}" })
        }
        let batched = Date().timeIntervalSince(t1)
        say(String(format: "%d runs in batches of %d: %.3f s (%.0f runs/s), %.1fx faster", runs, PortableClient.maxRunsPerBatch,
                   batched, Double(runs) / batched, single / batched))
        print(String(format: "FLOW_STARTS backend=%@ runs=%d single_s=%.3f batch_s=%.3f speedup=%.1f",
                     kind, runs, single, batched, single / batched))
        if json {
            Output.json(.object([("backend", .string(kind)), ("runs", .int(runs)),
                                 ("single_seconds", .double(single)), ("batch_seconds", .double(batched))]))
        }
        _ = try await client.deleteQueue(queue)
    }
}
