import Foundation
import Testing
@testable import Backends

/// Slow and oversized clients cannot hold `serve`: idle, partial-header and trickling
/// connections are closed, an over-limit declared length is refused at once, and connections
/// over the cap are closed. Short timeouts through the documented settings keep this quick.
/// Serialized: each test starts a server process, and the suite runs beside every other.
@Suite(.serialized, .processes) struct SlowClientTests {
    static let short = ["PORTABLEQ_HTTP_IDLE_TIMEOUT_MS": "500", "PORTABLEQ_HTTP_BODY_TIMEOUT_MS": "1500"]

    @Test func anIdleConnectionIsClosed() async throws {
        try await withAdminServer(.sqlite, env: Self.short) { _, s in
            let idle = try s.connect()
            #expect(try await idle.closes(within: 10), "an idle connection is closed after the idle timeout")
            let afterResponse = try s.connect()
            afterResponse.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(try await afterResponse.response()?.status == 200)
            #expect(try await afterResponse.closes(within: 10), "an idle keep-alive connection too")
        }
    }

    @Test func aSlowLorisHeaderIsClosed() async throws {
        try await withAdminServer(.sqlite, env: Self.short) { _, s in
            let c = try s.connect()
            c.send("GET /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            let started = Date()
            // One header byte every 200 ms for up to 10 s: the headers never complete.
            var closed = false
            for _ in 0..<50 where !closed {
                if !c.send("X") { closed = true } else { closed = try await c.closes(within: 0.2) }
            }
            #expect(closed, "closed while trickling headers")
            #expect(Date().timeIntervalSince(started) < 9, "well before the trickle ended")
            #expect(c.received.isEmpty, "no response to a request that never completed")
        }
    }

    @Test func aTricklingBodyIsClosedAtTheBodyTimeout() async throws {
        try await withAdminServer(.sqlite, env: Self.short) { _, s in
            let c = try s.connect()
            c.send("POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
            var closed = false
            for _ in 0..<50 where !closed {
                if !c.send(" ") { closed = true } else { closed = try await c.closes(within: 0.2) }
            }
            #expect(closed, "a body sent a byte at a time is cut off at the body timeout")
        }
    }

    @Test func anOverLimitDeclaredLengthIs413AtOnce() async throws {
        try await withAdminServer(.sqlite) { db, s in
            let huge = try s.connect()
            huge.send("POST /jobs?queue=big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n")
            let r = try #require(try await huge.response(timeout: 10), "an answer, without the body being sent")
            #expect(r.status == 413 && r.errorCode == "PAYLOAD_TOO_LARGE", "\(r)")
            #expect(try await huge.closes(within: 5), "and the connection is closed: the body is never read")
            let d = try await db.client.decisions(.ingest).items
            #expect(d.contains { $0.queue == "big" && $0.reasonCode == "PAYLOAD_TOO_LARGE" }, "recorded like any oversized body: \(d)")
        }
    }

    @Test func expectContinueWithALargeLengthIs413Not100() async throws {
        try await withAdminServer(.sqlite) { _, s in
            let big = try s.connect()
            big.send("POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                     + "Content-Length: 50000000\r\n\r\n")
            let r = try #require(try await big.response(timeout: 10), "an answer while the client waits")
            #expect(r.statuses == [413] && r.errorCode == "PAYLOAD_TOO_LARGE", "\(r)")
            // A body that fits gets its 100 Continue, then the answer.
            let small = try s.connect()
            small.send("POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 16\r\n\r\n")
            try await small.wait(timeout: 10) { String(decoding: $0.received, as: UTF8.self).contains("100 Continue") }
            small.send(#"{"job_type":"t"}"#)
            let created = try #require(try await small.response())
            #expect(created.statuses == [100, 201], "\(created)")
        }
    }

    @Test func connectionsOverTheCapAreClosedAtOnce() async throws {
        try await withAdminServer(.sqlite, env: ["PORTABLEQ_HTTP_MAX_CONNECTIONS": "4", "PORTABLEQ_HTTP_IDLE_TIMEOUT_MS": "60000"]) { _, s in
            var held: [RawConnection] = []
            for _ in 0..<4 {
                let c = try s.connect()
                c.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                #expect(try await c.response()?.status == 200)
                held.append(c)
            }
            let over = try s.connect()
            over.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(try await over.closes(within: 5), "the fifth connection is closed")
            #expect(over.received.isEmpty, "unanswered: \(String(decoding: over.received, as: UTF8.self))")
            held.removeFirst()  // closes it
            let back = try await eventually(timeout: 10, interval: 0.1) {
                try await s.raw("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", timeout: 2)?.status == 200
            }
            #expect(back, "a slot freed is a slot taken")
            #expect(held.count == 3)
        }
    }
}
