import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where "now" comes from. Production answers nil: SQL then uses the database's clock
/// (`coalesce($now, now())`), so workers with skewed clocks agree. Tests inject a fixed,
/// settable instant and never sleep.
public protocol PortableClock: Sendable {
    /// The instant to pass to SQL as `$now`, or nil for the database's own clock.
    var now: Date? { get }
    /// A best guess at now for local decisions (log lines, local rate limits, a worker's
    /// deadlines and timers).
    var localNow: Date { get }
    /// Waits `seconds` of this clock's time. Throws `CancellationError` when the task is cancelled.
    func sleep(seconds: Double) async throws
}

extension PortableClock {
    public func sleep(seconds: Double) async throws {
        try await Task.sleep(nanoseconds: UInt64(max(0, min(seconds, 1e9)) * 1e9))
    }
}

public struct SystemClock: PortableClock {
    public init() {}
    public var now: Date? { nil }
    public var localNow: Date { Date() }
}

/// A clock that only moves when told to: `sleep` returns once `advance` or `set` has moved the
/// clock past its deadline, so a test drives a worker's timers without waiting.
public final class TestClock: PortableClock {
    private struct Sleeper {
        let until: Date
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Date
        var sleepers: [UInt64: Sleeper] = [:]
        var nextId: UInt64 = 0
    }

    private let state: Mutex<State>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        state = Mutex(State(now: start))
    }

    public var now: Date? { state.withLock { $0.now } }
    public var localNow: Date { state.withLock { $0.now } }

    public func set(_ d: Date) { move { $0 = d } }
    public func advance(_ seconds: Double) { move { $0 = $0.addingTimeInterval(seconds) } }

    /// Sleepers waiting on this clock (a test waits for a worker to reach its timers).
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    private func move(_ change: (inout Date) -> Void) {
        let due: [Sleeper] = state.withLock { s in
            change(&s.now)
            let now = s.now
            let ids = s.sleepers.filter { $0.value.until <= now }.map(\.key)
            return ids.compactMap { s.sleepers.removeValue(forKey: $0) }
        }
        for d in due { d.continuation.resume() }
    }

    public func sleep(seconds: Double) async throws {
        let id: UInt64 = state.withLock { s in s.nextId += 1; return s.nextId }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let done: Bool = state.withLock { s in
                    let until = s.now.addingTimeInterval(max(0, seconds))
                    if until <= s.now || Task.isCancelled { return true }
                    s.sleepers[id] = Sleeper(until: until, continuation: c)
                    return false
                }
                if done {
                    if Task.isCancelled { c.resume(throwing: CancellationError()) } else { c.resume() }
                }
            }
        } onCancel: {
            let s = state.withLock { $0.sleepers.removeValue(forKey: id) }
            s?.continuation.resume(throwing: CancellationError())
        }
    }
}

/// Randomness, injected so backoff jitter and ids are reproducible in tests.
public protocol RandomSource: Sendable {
    /// A uniformly distributed value in 0..<1.
    func unit() -> Double
    func bytes(_ n: Int) -> [UInt8]
}

public struct SystemRandom: RandomSource {
    public init() {}
    public func unit() -> Double { Double.random(in: 0..<1) }

    /// System random bytes, drawn 4 KiB per getrandom(2) call into a process-wide pool: ids and
    /// lease tokens take 10–16 bytes each, and one call per 8 bytes showed up in enqueue profiles
    /// (about 6 % of the client's CPU).
    private static let pool = Mutex<(buffer: [UInt8], used: Int)>(([], 0))

    public func bytes(_ n: Int) -> [UInt8] {
        SystemRandom.pool.withLock { p in
            if p.used + n > p.buffer.count {
                p.buffer = [UInt8](repeating: 0, count: max(4096, n))
                p.buffer.withUnsafeMutableBytes { SystemRandom.fill($0) }
                p.used = 0
            }
            defer { p.used += n }
            return Array(p.buffer[p.used..<p.used + n])
        }
    }

    /// /dev/urandom, opened once (getrandom(2) is not visible to Swift here): the same source.
    private static let urandom: Int32 = open("/dev/urandom", O_RDONLY | O_CLOEXEC)

    private static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var done = 0
        while urandom >= 0, done < buffer.count {
            let got = read(urandom, buffer.baseAddress! + done, buffer.count - done)
            if got > 0 { done += got } else if got < 0, errno == EINTR { continue } else { break }
        }
        // Without /dev/urandom, the standard library's generator (one syscall per 8 bytes).
        var g = SystemRandomNumberGenerator()
        for i in done..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: g.next()) }
    }
}

/// A deterministic source (SplitMix64) for tests; `fixedUnit` pins jitter to an exact value.
public final class SeededRandom: RandomSource {
    private let state: Mutex<UInt64>
    private let fixedUnit: Double?

    public init(seed: UInt64 = 42, fixedUnit: Double? = nil) {
        state = Mutex(seed)
        self.fixedUnit = fixedUnit
    }

    private func next() -> UInt64 {
        state.withLock { s in
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    public func unit() -> Double {
        if let f = fixedUnit { return f }
        return Double(next() >> 11) / Double(1 << 53)
    }

    public func bytes(_ n: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(n)
        while out.count < n {
            var v = next()
            for _ in 0..<8 where out.count < n { out.append(UInt8(v & 0xFF)); v >>= 8 }
        }
        return out
    }
}
