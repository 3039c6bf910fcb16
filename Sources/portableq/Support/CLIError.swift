import ArgumentParser
import Backends
import Foundation

/// The CLI's one table from error to exit code, and the one place errors are printed.
enum CLIError {
    /// 1: the operation failed; 2: bad usage.
    static func exitCode(_ code: PortableError.Code) -> Int32 {
        switch code {
        case .badURL, .badJSON, .invalidArgument, .methodNotAllowed, .badRequest, .unsupportedMediaType,
             .mapNotArray, .mapTooLarge, .mapOutputTooLarge: return 2
        case .unauthorized, .forbidden, .notFound, .conflict, .payloadTooLarge, .enqueueRateExceeded, .rateLimited,
             .leaseLost, .unavailable, .busy, .schemaTooOld, .schemaTooNew, .noDatabase, .backend:
            return 1
        }
    }

    /// Set by commands run with `--json`: errors are then also printed as the HTTP error body.
    nonisolated(unsafe) static var jsonOutput = false
    /// Set by `--verbose`: errors also show what is kept for logs (the failing statement).
    nonisolated(unsafe) static var verbose = false

    static func report(_ error: any Error) -> Int32 {
        if let e = error as? PortableError {
            if jsonOutput { Output.line(e.json.compact) }
            printError("\(e.message) (\(e.code.wire))" + (verbose ? e.detail.map { " [in: \($0)]" } ?? "" : ""))
            return exitCode(e.code)
        }
        if error is CancellationError {
            if jsonOutput { Output.line(PortableError(.backend, "cancelled").json.compact) }
            printError("cancelled")
            return 1
        }
        // swift-argument-parser: help and version exit 0; usage errors (its 64) become 2.
        let code = Portableq.exitCode(for: error)
        if code == .success {
            Output.line(Portableq.fullMessage(for: error))
            return 0
        }
        // One line: the parser's message without the usage block (`--help` has that).
        let message = Portableq.message(for: error).split(separator: "\n").first.map(String.init) ?? "bad usage"
        let usage = code == .validationFailure || code.rawValue == 64
        if jsonOutput { Output.line(PortableError(usage ? .invalidArgument : .backend, message).json.compact) }
        printError(usage ? "\(message) (see --help)" : message)
        return usage ? 2 : 1
    }

    /// A line on stderr that does not change the exit code.
    static func printWarning(_ line: String) {
        FileHandle.standardError.write(Data("portableq: warning: \(line)\n".utf8))
    }

    static func printError(_ line: String) {
        FileHandle.standardError.write(Data("portableq: \(line)\n".utf8))
    }
}
