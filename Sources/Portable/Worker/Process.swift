import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process in its own process group, with stdin fed from memory and stdout/stderr
/// captured, pumped by a thread of its own (the calls block). Used by `--exec` handlers.
final class ChildProcess: @unchecked Sendable {
    struct Exit: Sendable {
        /// Exit status when it exited, nil when a signal killed it.
        var status: Int32?
        var signal: Int32?
        var stdout: [UInt8]
        var stdoutTruncated: Bool
        var stderrTail: [UInt8]
    }

    let pid: pid_t

    private init(pid: pid_t) { self.pid = pid }

    /// Starts `/bin/sh -c command` as the leader of a new process group.
    static func spawn(command: String, environment: [String: String], stdin: [UInt8], maxStdout: Int,
                      stderrTail: Int = 4096, completion: @escaping @Sendable (Exit) -> Void) throws -> ChildProcess {
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&inPipe) == 0, pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
            throw PortableError(.backend, "cannot create pipes: \(String(cString: strerror(errno)))")
        }
        // The parent's ends must not leak into other children spawned meanwhile.
        for fd in [inPipe[0], inPipe[1], outPipe[0], outPipe[1], errPipe[0], errPipe[1]] {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setpgroup(&attr, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attr, &noSignals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let args: [String] = ["/bin/sh", "-c", command]
        let argv: [UnsafeMutablePointer<CChar>?] = args.map { (a: String) in strdup(a) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp)
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        guard rc == 0 else {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            throw PortableError(.backend, "cannot start /bin/sh: \(String(cString: strerror(rc)))")
        }
        let child = ChildProcess(pid: pid)
        let (stdinFD, stdoutFD, stderrFD) = (inPipe[1], outPipe[0], errPipe[0])
        let thread = Thread {
            let exit = child.pump(stdinFD: stdinFD, stdoutFD: stdoutFD, stderrFD: stderrFD, input: stdin,
                                  maxStdout: maxStdout, stderrTail: stderrTail)
            completion(exit)
        }
        thread.name = "portableq-exec-\(pid)"
        thread.start()
        return child
    }

    /// Feeds stdin, drains stdout/stderr and reaps the child. A child that leaves background
    /// processes holding the pipes is not waited for beyond a short grace once it exited.
    private func pump(stdinFD: Int32, stdoutFD: Int32, stderrFD: Int32, input: [UInt8], maxStdout: Int,
                      stderrTail: Int) -> Exit {
        var inFD: Int32 = stdinFD, outFD: Int32 = stdoutFD, errFD: Int32 = stderrFD
        _ = fcntl(inFD, F_SETFL, fcntl(inFD, F_GETFL) | O_NONBLOCK)
        var written = 0
        var out: [UInt8] = [], err: [UInt8] = []
        var truncated = false
        var status: Int32 = 0
        var reaped = false
        var graceUntil: Double?
        var buf = [UInt8](repeating: 0, count: 65536)
        if input.isEmpty { close(inFD); inFD = -1 }
        while outFD >= 0 || errFD >= 0 || inFD >= 0 {
            var fds: [pollfd] = []
            if inFD >= 0 { fds.append(pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0)) }
            if outFD >= 0 { fds.append(pollfd(fd: outFD, events: Int16(POLLIN), revents: 0)) }
            if errFD >= 0 { fds.append(pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)) }
            _ = poll(&fds, nfds_t(fds.count), 100)
            for f in fds where f.revents != 0 {
                if f.fd == inFD {
                    let n = input.withUnsafeBytes { write(inFD, $0.baseAddress! + written, input.count - written) }
                    if n > 0 { written += n }
                    if n < 0 && errno != EAGAIN && errno != EINTR || written >= input.count { close(inFD); inFD = -1 }
                } else {
                    let n = read(f.fd, &buf, buf.count)
                    if n <= 0 {
                        if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
                        close(f.fd)
                        if f.fd == outFD { outFD = -1 } else { errFD = -1 }
                        continue
                    }
                    if f.fd == outFD {
                        let room = maxStdout + 1 - out.count
                        if room > 0 { out.append(contentsOf: buf[0..<min(n, room)]) }
                        if n > room { truncated = true }
                        if out.count > maxStdout { truncated = true }
                    } else {
                        err.append(contentsOf: buf[0..<n])
                        if err.count > stderrTail * 2 { err.removeFirst(err.count - stderrTail) }
                    }
                }
            }
            if !reaped {
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid {
                    reaped = true
                    graceUntil = Date().timeIntervalSince1970 + 0.5
                }
            } else if let g = graceUntil, Date().timeIntervalSince1970 > g {
                break
            }
        }
        for fd in [inFD, outFD, errFD] where fd >= 0 { close(fd) }
        if !reaped {
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        if err.count > stderrTail { err.removeFirst(err.count - stderrTail) }
        let termSig = status & 0x7F
        if termSig == 0 {
            return Exit(status: (status >> 8) & 0xFF, signal: nil, stdout: out, stdoutTruncated: truncated, stderrTail: err)
        }
        return Exit(status: nil, signal: termSig, stdout: out, stdoutTruncated: truncated, stderrTail: err)
    }

    /// SIGTERM to the whole group, then SIGKILL after `grace` seconds if it is still there.
    func terminateGroup(grace: Double) {
        kill(-pid, SIGTERM)
        let pgid = pid
        DispatchQueue.global().asyncAfter(deadline: .now() + grace) { [weak self] in
            // The group may outlive its leader: kill it whatever the leader did.
            kill(-pgid, SIGKILL)
            _ = self
        }
    }

    static func signalName(_ s: Int32) -> String {
        switch s {
        case SIGHUP: return "HUP"
        case SIGINT: return "INT"
        case SIGQUIT: return "QUIT"
        case SIGILL: return "ILL"
        case SIGABRT: return "ABRT"
        case SIGBUS: return "BUS"
        case SIGFPE: return "FPE"
        case SIGKILL: return "KILL"
        case SIGUSR1: return "USR1"
        case SIGSEGV: return "SEGV"
        case SIGUSR2: return "USR2"
        case SIGPIPE: return "PIPE"
        case SIGALRM: return "ALRM"
        case SIGTERM: return "TERM"
        default: return String(s)
        }
    }
}
