import Foundation
import Testing

/// A strict reader of the Prometheus text format (0.0.4): every sample line must parse, belong
/// to a family declared by a `# TYPE` line before it (histograms: `_bucket`/`_sum`/`_count`;
/// counters: `_total`), carry well-formed labels and a float value; a family is declared once
/// and its samples are not interleaved with another's. Throws on the first violation.
struct Exposition {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var types: [String: String] = [:]
    var samples: [Sample] = []

    init(_ text: String) throws {
        var current: String?
        var closed = Set<String>()
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw)
            func bad(_ why: String) -> TestFailure { TestFailure("line \(n + 1): \(why): \(line)") }
            if line.isEmpty { continue }
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, Exposition.isName(String(parts[2])),
                      ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else { throw bad("bad TYPE") }
                let name = String(parts[2])
                guard types[name] == nil else { throw bad("family declared twice") }
                if let c = current { closed.insert(c) }
                types[name] = String(parts[3])
                current = name
                continue
            }
            if line.hasPrefix("#") { continue }
            let sample = try Exposition.sample(line, bad)
            guard let family = current, Exposition.belongs(sample.name, to: family, type: types[family] ?? "") else {
                throw bad("sample outside its declared family")
            }
            guard !closed.contains(family) else { throw bad("family interleaved") }
            samples.append(sample)
        }
    }

    /// The value of the one sample with this name and exactly these labels.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    func values(_ name: String) -> [Sample] { samples.filter { $0.name == name } }

    static func isName(_ s: String) -> Bool {
        s.range(of: #"^[a-zA-Z_:][a-zA-Z0-9_:]*$"#, options: .regularExpression) != nil
    }

    static func belongs(_ sample: String, to family: String, type: String) -> Bool {
        switch type {
        case "histogram": return ["_bucket", "_sum", "_count"].contains { sample == family + $0 }
        case "counter": return sample == family || sample == family + "_total" || (family.hasSuffix("_total") && sample == family)
        default: return sample == family
        }
    }

    static func sample(_ line: String, _ bad: (String) -> TestFailure) throws -> Sample {
        var rest = Substring(line)
        let nameEnd = rest.firstIndex { $0 == "{" || $0 == " " } ?? rest.endIndex
        let name = String(rest[..<nameEnd])
        guard isName(name) else { throw bad("bad metric name") }
        rest = rest[nameEnd...]
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                guard let eq = rest.firstIndex(of: "=") else { throw bad("label without =") }
                let key = String(rest[..<eq])
                guard isName(key), labels[key] == nil else { throw bad("bad or repeated label name") }
                rest = rest[rest.index(after: eq)...]
                guard rest.first == "\"" else { throw bad("label value not quoted") }
                rest = rest.dropFirst()
                var value = ""
                while true {
                    guard let c = rest.first else { throw bad("unterminated label value") }
                    rest = rest.dropFirst()
                    if c == "\"" { break }
                    if c == "\\" {
                        guard let e = rest.first else { throw bad("dangling escape") }
                        rest = rest.dropFirst()
                        switch e {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw bad("unknown escape")
                        }
                    } else {
                        value.append(c)
                    }
                }
                labels[key] = value
                if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" { throw bad("expected , or }") }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { throw bad("no space before the value") }
        let fields = rest.dropFirst().split(separator: " ")
        guard fields.count == 1 || fields.count == 2 else { throw bad("bad value field") }
        let v = String(fields[0])
        let value: Double
        switch v {
        case "NaN": value = .nan
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        default:
            guard let d = Double(v) else { throw bad("bad value") }
            value = d
        }
        return Sample(name: name, labels: labels, value: value)
    }
}
