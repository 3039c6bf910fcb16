import CLibPQ
import Foundation
import Portable
import Synchronization

/// LISTEN on a connection of its own, on a thread of its own: blocks in poll(2) on the socket and
/// turns each NOTIFY (payload = queue name) into a wakeup. Reconnects with backoff when the
/// server goes away; each time it is listening (again) it wakes every waiter so workers poll at once.
///
/// Waiting for notifications is not a statement and has no deadline, but a hung server (or a
/// dead network path) sends nothing either: after `keepaliveSeconds` of silence the listener
/// sends a tiny query under the statement deadline and reconnects when it gets no answer.
final class PGListener: Sendable {
    private let url: PostgresURL
    private let wakeups: JobWakeups
    private let timeout: Double
    private let stopped = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    static let keepaliveSeconds = 10.0

    init(url: PostgresURL, wakeups: JobWakeups, timeout: Double) {
        self.url = url
        self.wakeups = wakeups
        self.timeout = timeout
    }

    func start() {
        guard !started.exchange(true, ordering: .relaxed) else { return }
        let thread = Thread { [self] in self.loop() }
        thread.name = "portableq-pg-listen"
        thread.start()
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    private func loop() {
        var conn: PGConnection?
        var delay = 0.2
        var heard = Date()
        while !stopped.load(ordering: .relaxed) {
            if conn?.isBroken ?? true {
                conn = nil
                do {
                    let c = try PGConnection(url: url, sessionSettings: [], connectTimeout: timeout)
                    c.begin(timeout: timeout)
                    try c.exec("LISTEN \"\(url.channel)\"")
                    conn = c
                    heard = Date()
                    delay = 0.2
                    // Jobs enqueued before LISTEN took effect (at start or during an outage) sent
                    // their NOTIFY to no one: every waiter polls once now.
                    wakeups.notify(queue: nil)
                } catch {
                    Thread.sleep(forTimeInterval: delay)
                    delay = min(delay * 2, 5)
                    continue
                }
            }
            guard let c = conn else { continue }
            var pfd = pollfd(fd: c.socket, events: Int16(POLLIN), revents: 0)
            let n = poll(&pfd, 1, 250)
            if n < 0 && errno != EINTR { conn = nil; continue }
            do {
                if n > 0 {
                    for (_, queue) in try c.drainNotifications() { wakeups.notify(queue: queue) }
                    heard = Date()
                } else if Date().timeIntervalSince(heard) >= PGListener.keepaliveSeconds {
                    try c.exec("SELECT 1")
                    for (_, queue) in c.takeNotifications() { wakeups.notify(queue: queue) }
                    heard = Date()
                }
            } catch {
                conn = nil
            }
        }
    }
}
