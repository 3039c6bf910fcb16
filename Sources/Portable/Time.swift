import Foundation

/// RFC 3339 with milliseconds, always UTC on output; offsets accepted on input. Hand-written
/// (civil-from-days) because it sits on every row read and DateFormatter is slow and stateful.
public enum Time {
    /// Milliseconds since the Unix epoch.
    public static func millis(_ d: Date) -> Int64 { Int64((d.timeIntervalSince1970 * 1000).rounded()) }
    public static func date(millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }

    /// `2026-11-26T11:24:59.123Z`
    public static func format(_ d: Date) -> String { format(millis: millis(d)) }

    public static func format(millis ms: Int64) -> String {
        var days = ms / 86_400_000
        var rem = ms % 86_400_000
        if rem < 0 { rem += 86_400_000; days -= 1 }
        let (y, m, dd) = civil(days: days)
        let h = rem / 3_600_000, mi = (rem / 60_000) % 60, s = (rem / 1000) % 60, f = rem % 1000
        var out = ""
        out.reserveCapacity(24)
        pad(&out, y, 4); out += "-"; pad(&out, m, 2); out += "-"; pad(&out, dd, 2)
        out += "T"; pad(&out, h, 2); out += ":"; pad(&out, mi, 2); out += ":"; pad(&out, s, 2)
        out += "."; pad(&out, f, 3); out += "Z"
        return out
    }

    static func pad(_ out: inout String, _ v: Int64, _ width: Int) {
        let s = String(v)
        if s.count < width { out += String(repeating: "0", count: width - s.count) }
        out += s
    }

    /// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
    static func civil(days z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    static func days(year y0: Int64, month m: Int64, day d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Parses RFC 3339 (`T` or space separator, fraction optional, `Z` or `±hh[:mm]` required
    /// unless `requireOffset` is false, in which case UTC is assumed — used for Postgres text).
    public static func parse(_ s: String, requireOffset: Bool = true) -> Date? {
        guard let ms = parseMillis(s, requireOffset: requireOffset) else { return nil }
        return date(millis: ms)
    }

    public static func parseMillis(_ s: String, requireOffset: Bool = true) -> Int64? {
        let b = Array(s.utf8)
        var i = 0
        func num(_ n: Int) -> Int64? {
            guard i + n <= b.count else { return nil }
            var v: Int64 = 0
            for k in 0..<n {
                let c = b[i + k]
                guard c >= 0x30, c <= 0x39 else { return nil }
                v = v * 10 + Int64(c - 0x30)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let y = num(4), expect(0x2D), let mo = num(2), expect(0x2D), let d = num(2) else { return nil }
        guard (1...12).contains(mo), (1...31).contains(d) else { return nil }
        guard i < b.count, b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == 0x20 else { return nil }
        i += 1
        guard let h = num(2), expect(0x3A), let mi = num(2), expect(0x3A), let sec = num(2) else { return nil }
        guard h < 24, mi < 60, sec < 61 else { return nil }
        var frac: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                if digits < 3 { frac = frac * 10 + Int64(b[i] - 0x30) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 3) { frac *= 10 }
        }
        var offsetMin: Int64 = 0
        if i == b.count {
            if requireOffset { return nil }
        } else if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let oh = num(2) else { return nil }
            var om: Int64 = 0
            if i < b.count {
                _ = expect(0x3A)
                guard let m = num(2) else { return nil }
                om = m
            }
            offsetMin = sign * (oh * 60 + om)
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let dayCount = days(year: y, month: mo, day: d)
        let secs = dayCount * 86_400 + h * 3600 + mi * 60 + min(sec, 59) - offsetMin * 60
        return secs * 1000 + frac
    }
}
