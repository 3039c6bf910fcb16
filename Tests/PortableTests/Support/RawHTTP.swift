import Foundation
import Testing
@testable import Backends

/// A plain TCP connection to a test server, for what an HTTP client library will not send:
/// malformed, partial, slow or oversized requests, foreign `Host`s, raw header bytes. The socket
/// is non-blocking and waits sleep the task, so no thread of the cooperative pool blocks.
final class RawConnection: @unchecked Sendable {
    private let fd: Int32
    private(set) var received: [UInt8] = []
    private(set) var closedByServer = false

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { Glibc.close(fd); throw TestFailure("connect: \(errno)") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit { Glibc.close(fd) }

    /// Sends bytes; false when the server has closed the connection.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { usleep(1000); continue }
                return false
            }
            sent += n
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Reads what has arrived; notes when the server closed the connection.
    private func drain() {
        var buf = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { received += buf[..<n]; continue }
            if n == 0 || (errno != EAGAIN && errno != EINTR) { closedByServer = true }
            return
        }
    }

    /// Waits until `done` holds for what was received, the server closes, or `timeout` passes.
    func wait(timeout: Double, until done: (RawConnection) -> Bool = { _ in false }) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            drain()
            if closedByServer || done(self) { return }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        drain()
    }

    /// Waits for one whole response (headers and a `Content-Length` body).
    func response(timeout: Double = 10) async throws -> RawResponse? {
        try await wait(timeout: timeout) { RawResponse.parse($0.received) != nil }
        return RawResponse.parse(received)
    }

    /// Waits for the server to close the connection; true if it did within `timeout`.
    func closes(within timeout: Double) async throws -> Bool {
        try await wait(timeout: timeout)
        return closedByServer
    }
}

/// A response read off a raw connection (the last final one when a `100 Continue` preceded it).
struct RawResponse: CustomStringConvertible {
    var status: Int
    var statuses: [Int]
    var headers: [String: String]
    var body: String
    var json: JSON { (try? JSON.parse(body)) ?? .null }
    var errorCode: String? { json["error"]?["code"]?.stringValue }
    var description: String { "\(statuses) \(headers) \(body.prefix(300))" }

    static func parse(_ bytes: [UInt8]) -> RawResponse? {
        var rest = bytes[...]
        var statuses: [Int] = []
        while let end = find([13, 10, 13, 10], in: rest) {
            let head = String(decoding: rest[rest.startIndex..<end], as: UTF8.self)
            let lines = head.components(separatedBy: "\r\n")
            let parts = lines[0].split(separator: " ")
            guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
            statuses.append(status)
            let bodyStart = end + 4
            if (100..<200).contains(status) { rest = rest[bodyStart...]; continue }
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            guard rest.endIndex - bodyStart >= length else { return nil }
            return RawResponse(status: status, statuses: statuses, headers: headers,
                               body: String(decoding: rest[bodyStart..<(bodyStart + length)], as: UTF8.self))
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in hay: ArraySlice<UInt8>) -> Int? {
        guard hay.count >= needle.count else { return nil }
        var i = hay.startIndex
        while i <= hay.endIndex - needle.count {
            if hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}

extension AdminServerProcess {
    var port: Int { Int(base.split(separator: ":").last ?? "") ?? 0 }

    /// A raw connection to this server.
    func connect() throws -> RawConnection { try RawConnection(port: port) }

    /// One raw request (text as given, `\r\n` line ends) and its response.
    func raw(_ request: String, timeout: Double = 10) async throws -> RawResponse? {
        let c = try connect()
        c.send(request)
        return try await c.response(timeout: timeout)
    }
}
