import Foundation
import Synchronization

/// UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits, so ids sort by creation
/// time and never collide across databases. Within one millisecond a counter in the random
/// field keeps ids from one generator strictly increasing.
public final class UUIDv7: Sendable {
    private let random: any RandomSource
    private let last: Mutex<(ms: UInt64, seq: UInt16)> = Mutex((0, 0))

    public init(random: any RandomSource = SystemRandom()) { self.random = random }

    public func next(at date: Date = Date()) -> String {
        var ms = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        let r = random.bytes(10)
        let seq: UInt16 = last.withLock { state in
            if ms <= state.ms {
                ms = state.ms
                state.seq &+= 1
                if state.seq > 0x0FFF { ms += 1; state.seq = UInt16(r[0]) & 0x01FF }
            } else {
                state.seq = UInt16(r[0]) & 0x01FF
            }
            state.ms = ms
            return state.seq
        }
        var b = [UInt8](repeating: 0, count: 16)
        for k in 0..<6 { b[k] = UInt8((ms >> (8 * (5 - k))) & 0xFF) }
        b[6] = 0x70 | UInt8((seq >> 8) & 0x0F)
        b[7] = UInt8(seq & 0xFF)
        b[8] = 0x80 | (r[1] & 0x3F)
        for k in 9..<16 { b[k] = r[k - 7] }
        return UUIDv7.format(b)
    }

    static let hex = Array("0123456789abcdef".utf8)

    static func format(_ b: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(36)
        for (k, byte) in b.enumerated() {
            if k == 4 || k == 6 || k == 8 || k == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A random (v4) token for leases.
    public static func randomToken(_ random: any RandomSource) -> String {
        var b = random.bytes(16)
        b[6] = 0x40 | (b[6] & 0x0F)
        b[8] = 0x80 | (b[8] & 0x3F)
        return format(b)
    }

    /// True for the canonical 8-4-4-4-12 lowercase or uppercase hex form.
    public static func isValid(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count == 36 else { return false }
        for (k, c) in u.enumerated() {
            if k == 8 || k == 13 || k == 18 || k == 23 {
                if c != UInt8(ascii: "-") { return false }
            } else if !((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)) {
                return false
            }
        }
        return true
    }
}
