import CLibPQ
import Foundation
import Synchronization

/// A point on the monotonic clock by which a connect or a statement must be done; `nil`
/// seconds never expires (migrations, whose lock wait and DDL take what they take).
struct PGDeadline {
    let seconds: Double?
    private let end: UInt64?

    init(seconds: Double?) {
        self.seconds = seconds
        end = seconds.map { DispatchTime.now().uptimeNanoseconds + UInt64(max(0, $0) * 1e9) }
    }

    /// Milliseconds left for poll(2): -1 waits forever, 0 means expired.
    var pollTimeout: Int32 {
        guard let end else { return -1 }
        let now = DispatchTime.now().uptimeNanoseconds
        guard end > now else { return 0 }
        return Int32(min(UInt64(Int32.max), (end - now + 999_999) / 1_000_000))
    }

    /// Waits until `fd` is ready for `events` (`POLLIN`/`POLLOUT`). False when the deadline
    /// passed first. A poll error reads as ready: libpq's next call then reports what is wrong.
    func wait(_ fd: Int32, _ events: Int32) -> Bool {
        guard fd >= 0 else { return true }
        while true {
            let ms = pollTimeout
            if ms == 0 { return false }
            var pfd = pollfd(fd: fd, events: Int16(events), revents: 0)
            let n = poll(&pfd, 1, ms)
            if n > 0 { return true }
            if n < 0 && errno != EINTR { return true }
            // n == 0 (timed out) or EINTR: check the deadline again.
        }
    }
}

/// Cancels a statement whose deadline passed, on a thread of its own: `PQcancel` opens a new
/// connection and blocks (libpq 15 has no non-blocking cancel), and against a stopped server it
/// would block until the server resumes. At most two run at once per process; past that the
/// cancel is skipped — the connection is dropped anyway, and the server ends the statement when
/// it next writes to the closed socket.
enum PGCanceller {
    private static let inFlight = Atomic<Int>(0)
    static let maxInFlight = 2

    static func cancel(_ conn: OpaquePointer) {
        guard inFlight.add(1, ordering: .relaxed).newValue <= maxInFlight, let cancel = PQgetCancel(conn) else {
            inFlight.subtract(1, ordering: .relaxed)
            return
        }
        // PGcancel is a copy of what the request needs, safe to use from another thread.
        let box = CancelBox(cancel)
        let thread = Thread {
            var buf = [CChar](repeating: 0, count: 256)
            _ = PQcancel(box.cancel, &buf, Int32(buf.count))
            PQfreeCancel(box.cancel)
            inFlight.subtract(1, ordering: .relaxed)
        }
        thread.name = "portableq-pg-cancel"
        thread.start()
    }

    private final class CancelBox: @unchecked Sendable {
        let cancel: OpaquePointer
        init(_ c: OpaquePointer) { cancel = c }
    }
}
