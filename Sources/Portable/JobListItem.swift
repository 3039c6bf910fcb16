/// A job as a list shows it (HTTP lists, `jobs list --json`, the dashboard): `payload` and
/// `output` whole up to `wholeUpTo` bytes of JSON text; a larger one is replaced by its first
/// `wholeUpTo` bytes as a string (`payload_preview`, `payload_truncated: true`), so a page of
/// big jobs stays small. Lists read only that much from the database. `GET /jobs/{id}` is whole.
public struct JobListItem: Sendable, Equatable {
    public static let wholeUpTo = 4096

    /// The job; when a preview is set, its `payload` is `null` / its `output` nil (not read whole).
    public var job: Job
    /// The whole payload's and output's JSON text length in bytes.
    public var payloadBytes: Int
    public var outputBytes: Int?
    public var payloadPreview: String?
    public var outputPreview: String?

    /// From a job whose payload and output were read whole or cut to at least `wholeUpTo`
    /// characters, and their whole lengths in bytes.
    public init(job: Job, payloadBytes: Int, outputBytes: Int?) {
        var j = job
        self.payloadBytes = payloadBytes
        self.outputBytes = outputBytes
        if payloadBytes > Self.wholeUpTo {
            payloadPreview = Self.preview(j.payload)
            j.payload = "null"
        }
        if let o = j.output, let n = outputBytes, n > Self.wholeUpTo {
            outputPreview = Self.preview(o)
            j.output = nil
        }
        self.job = j
    }

    /// The first `wholeUpTo` bytes of `text`, cut where a character starts (never inside one).
    public static func preview(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count > wholeUpTo else { return text }
        var end = wholeUpTo
        while end > 0 && bytes[end] & 0b1100_0000 == 0b1000_0000 { end -= 1 }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    /// `Job.json` with `payload`/`output` swapped for previews where cut, and their sizes.
    public var json: JSON {
        guard case .object(let fields) = job.json else { return job.json }
        var out: [(String, JSON)] = []
        for (k, v) in fields {
            switch k {
            case "payload":
                if let p = payloadPreview { out.append(("payload_preview", .string(p))) } else { out.append((k, v)) }
                out.append(("payload_truncated", .bool(payloadPreview != nil)))
                out.append(("payload_bytes", .int(payloadBytes)))
            case "output":
                if let p = outputPreview { out.append(("output_preview", .string(p))) } else { out.append((k, v)) }
                if let n = outputBytes, job.output != nil || outputPreview != nil {
                    out.append(("output_truncated", .bool(outputPreview != nil)))
                    out.append(("output_bytes", .int(n)))
                }
            default:
                out.append((k, v))
            }
        }
        return .object(out)
    }
}
