import ArgumentParser
import Backends
import Foundation

/// Parsing the command line, with the help swift-argument-parser does not give on its own:
/// negative numbers as option values, and the nearest subcommand for a mistyped one.
enum Arguments {
    /// Parses `args` (without the program name) into the command to run.
    static func parse(_ args: [String]) throws -> any ParsableCommand {
        // `--json` anywhere before `--`: errors, parse errors included, go to stdout as JSON too.
        CLIError.jsonOutput = args.prefix { $0 != "--" }.contains("--json")
        var args = args
        // The parser reads `--priority -1` as an option with its value missing; when it says
        // so and the next word is a number, pass it as `--priority=-1` and parse again.
        for _ in 0..<args.count + 1 {
            do {
                return try Portableq.parseAsRoot(args)
            } catch {
                guard let fixed = joiningNegativeNumber(args, after: error) else {
                    throw suggestion(args, for: error) ?? error
                }
                args = fixed
            }
        }
        return try Portableq.parseAsRoot(args)
    }

    /// `args` with `--opt -N` joined as `--opt=-N`, when the parser's error is that `--opt`
    /// lacks a value and a number follows it; nil otherwise.
    static func joiningNegativeNumber(_ args: [String], after error: any Error) -> [String]? {
        let message = Portableq.message(for: error)
        guard message.hasPrefix("Missing value for '"), let start = message.firstIndex(of: "-") else { return nil }
        let option = String(message[start...].prefix { $0 != " " && $0 != "'" })
        guard let i = args.firstIndex(of: option), i + 1 < args.count, isNegativeNumber(args[i + 1]) else { return nil }
        var fixed = args
        fixed[i] = "\(option)=\(args[i + 1])"
        fixed.remove(at: i + 1)
        return fixed
    }

    static func isNegativeNumber(_ s: String) -> Bool {
        s.count > 1 && s.hasPrefix("-") && Double(s) != nil
    }

    /// For a word where a subcommand belongs that names none: a usage error naming the nearest
    /// subcommand (or listing them all).
    static func suggestion(_ args: [String], for error: any Error) -> PortableError? {
        var command: any ParsableCommand.Type = Portableq.self
        var path = ["portableq"]
        for word in args where !word.hasPrefix("-") {
            let subs = command.configuration.subcommands
            guard !subs.isEmpty else { return nil }
            if let next = subs.first(where: { $0.configuration.commandName == word }) {
                command = next
                path.append(word)
                continue
            }
            let names = subs.compactMap { $0.configuration.commandName }
            guard Portableq.message(for: error).contains(word) else { return nil }
            let nearest = names.map { ($0, distance($0, word)) }.filter { $0.1 <= max(2, word.count / 3) }.min { $0.1 < $1.1 }
            let hint = nearest.map { "did you mean \"\($0.0)\"?" } ?? "one of \(names.joined(separator: ", "))"
            return PortableError.invalid("unknown command \(JSON.quote(word)) for \(path.joined(separator: " ")): \(hint)")
        }
        return nil
    }

    /// Edit distance (insertions, deletions, substitutions; a swap of neighbours counts one).
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
}
