import CLibPQ
import Foundation
import Portable
import Synchronization

/// LISTEN on a connection of its own, on a thread of its own: blocks in poll(2) on the socket and
/// turns each NOTIFY (payload = queue name) into a wakeup. Reconnects with backoff when the
/// server goes away. Each time it starts listening — the first time too — it wakes every waiter
/// so workers poll at once: a NOTIFY sent before the LISTEN took effect was never delivered.
final class PGListener: Sendable {
    private let url: PostgresURL
    private let wakeups: JobWakeups
    private let stopped = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)

    init(url: PostgresURL, wakeups: JobWakeups) {
        self.url = url
        self.wakeups = wakeups
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
        while !stopped.load(ordering: .relaxed) {
            if conn?.isBroken ?? true {
                conn = nil
                do {
                    let c = try PGConnection(url: url, sessionSettings: [])
                    try c.exec("LISTEN \"\(url.channel)\"")
                    conn = c
                    delay = 0.2
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
            if n == 0 { continue }
            do {
                for (_, queue) in try c.drainNotifications() { wakeups.notify(queue: queue) }
            } catch {
                conn = nil
            }
        }
    }
}
