import Foundation

/// Job tags (issue 15 §4): at most `maxCount` names of 1 to `maxLength` characters from a safe
/// set (letters, digits, `_ . : / = -`), so a tag needs no quoting in a URL, a CLI flag, a
/// Postgres array or a JSON string. Checked here for every front; drivers store what passes.
public enum JobTags {
    public static let maxCount = 16
    public static let maxLength = 64
    public static let charset = "A-Z a-z 0-9 _ . : / = -"

    static func isSafe(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."),
             UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// One tag, as given to a filter or an enqueue.
    public static func check(_ tag: String) throws {
        let u = tag.utf8
        guard !u.isEmpty, u.count <= maxLength else {
            throw PortableError.invalid("tag \(JSON.quote(tag)) must be 1 to \(maxLength) characters long, not \(tag.count)")
        }
        guard u.allSatisfy(isSafe) else {
            throw PortableError.invalid("tag \(JSON.quote(tag)) may only hold the characters \(charset)")
        }
    }

    /// The tags of a new job: each checked, repeats dropped (first kept), at most `maxCount`.
    public static func validated(_ tags: [String]) throws -> [String] {
        var out: [String] = []
        for t in tags {
            try check(t)
            if !out.contains(t) { out.append(t) }
        }
        guard out.count <= maxCount else {
            throw PortableError.invalid("a job may have at most \(maxCount) tags, got \(out.count)")
        }
        return out
    }

    /// Tags as a backend stores them: a JSON array (SQLite) or a Postgres array literal
    /// (`{a,b}`; a tag is quoted only when it reads as NULL). Anything else is a bad row.
    static func parseStored(_ text: String) throws -> [String] {
        if text.hasPrefix("[") {
            guard let items = try? JSON.parse(text).arrayValue else { throw PortableError.invalid("unreadable tags") }
            return try items.map { v in
                guard let s = v.stringValue else { throw PortableError.invalid("unreadable tags") }
                return s
            }
        }
        guard text.hasPrefix("{"), text.hasSuffix("}") else { throw PortableError.invalid("unreadable tags") }
        let inner = text.dropFirst().dropLast()
        guard !inner.isEmpty else { return [] }
        return inner.split(separator: ",", omittingEmptySubsequences: false).map { part in
            part.hasPrefix("\"") && part.hasSuffix("\"") && part.count >= 2 ? String(part.dropFirst().dropLast()) : String(part)
        }
    }
}

/// Job metadata (given at enqueue) and progress updates (written by the running handler): each a
/// JSON object of at most `maxBytes` in its compact form.
public enum JobMetadata {
    public static let maxBytes = 65_536

    /// The compact text of `text` if it is a JSON object within the limit; `what` names it in errors.
    public static func validated(_ text: String, what: String) throws -> String {
        let value: JSON
        do {
            value = try JSON.parse(text)
        } catch let e as PortableError {
            throw PortableError(.invalidArgument, "\(what) is not valid JSON: \(e.message)")
        }
        guard value.objectValue != nil else {
            throw PortableError.invalid("\(what) must be a JSON object, not \(kind(value))")
        }
        let compact = value.compact
        guard compact.utf8.count <= maxBytes else {
            throw PortableError.invalid("\(what) is \(compact.utf8.count) bytes; the limit is \(maxBytes)")
        }
        return compact
    }

    static func kind(_ v: JSON) -> String {
        switch v {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object, .raw: return "an object"
        }
    }
}

extension JobFilter {
    /// The filter with its tags checked (repeats dropped) and an idempotency key's queue
    /// resolved: a key is per queue, and enqueue's queue defaults to `default`.
    func checked() throws -> JobFilter {
        var f = self
        guard f.tags.count <= JobTags.maxCount else {
            throw PortableError.invalid("filter by at most \(JobTags.maxCount) tags, got \(f.tags.count)")
        }
        f.tags = try JobTags.validated(f.tags)
        if let k = f.idempotencyKey {
            guard !k.isEmpty, k.unicodeScalars.count <= 255, !k.contains("\u{0}") else {
                throw PortableError.invalid("idempotency_key must be 1 to 255 characters without NUL")
            }
            if f.queue == nil { f.queue = "default" }
        }
        return f
    }
}
