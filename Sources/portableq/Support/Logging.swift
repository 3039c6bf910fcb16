import Backends
import Foundation
import Logging

/// swift-log to stderr, as text (`2026-11-26T11:24:59.123Z info worker started worker_id=h:1`)
/// or JSON lines (`--log-format json` / `PORTABLEQ_LOG_FORMAT=json`).
struct StderrLogHandler: LogHandler {
    let label: String
    let json: Bool
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        let ts = Time.format(Date())
        let line: String
        if json {
            var m: [(String, JSON)] = [("ts", .string(ts)), ("level", .string(event.level.rawValue)), ("msg", .string(event.message.description))]
            for (k, v) in all.sorted(by: { $0.key < $1.key }) { m.append((k, .string(v.description))) }
            line = JSON.object(m).compact
        } else {
            var s = "\(ts) \(event.level.rawValue) \(event.message)"
            for (k, v) in all.sorted(by: { $0.key < $1.key }) {
                let text = v.description
                s += " \(k)=" + (text.contains(" ") ? JSON.quote(text) : text)
            }
            line = s
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func bootstrap(format: String) {
        let isJSON = format == "json"
        LoggingSystem.bootstrap { label in StderrLogHandler(label: label, json: isJSON) }
    }
}
