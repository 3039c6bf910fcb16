import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process in its own process group, with stdin fed from memory and stdout/stderr
/// captured, pumped by a thread of its own (the calls block). Used by `--exec` handlers.
///
/// Handlers die with their worker. The group is led by a watchdog: a `/bin/sh` that holds the
/// read end of this process's lifeline (a pipe whose write end only this process holds) and
/// kills its whole group with SIGKILL when the pipe reads EOF, that is when this process is
/// gone, however it died. The command (`/bin/sh -c command`) joins that group after the watchdog
/// started, so it never runs unwatched; this process waits on the command itself, so its exit
/// status or signal is read exactly as before. Costs one small extra `/bin/sh` per job.
final class ChildProcess: @unchecked Sendable {
    struct Exit: Sendable {
        /// Exit status when it exited, nil when a signal killed it.
        var status: Int32?
        var signal: Int32?
        var stdout: [UInt8]
        var stdoutTruncated: Bool
        var stderrTail: [UInt8]
    }

    /// The command's shell.
    let pid: pid_t
    /// The process group: the watchdog's pid (the command's own without a lifeline).
    let pgid: pid_t

    private init(pid: pid_t, pgid: pid_t) {
        self.pid = pid
        self.pgid = pgid
    }

    /// The watchdog's script. Signals meant for the command (a timeout's SIGTERM to the group, a
    /// command signalling its own group) must not end it: they are blocked from the start and
    /// ignored; only SIGKILL, from this process once the command is done, stops it early.
    static let watchdogScript = "trap '' HUP INT QUIT TERM USR1 USR2 ALRM PIPE; read -r line <&3; kill -s KILL 0"
    static let watchdogBlocked: [Int32] = [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE]

    /// This process's side of every watchdog's pipe, made once. Only this process holds the write
    /// end (close-on-exec), so it closes exactly when the process ends. Both ends sit above the
    /// standard descriptors, so dup2 onto fd 3 always clears close-on-exec. nil if no pipe could
    /// be made: commands then run unwatched, as a group of their own.
    static let lifeline: Pipe2? = {
        guard let p = try? Pipe2.make() else { return nil }
        let r = fcntl(p.read, F_DUPFD_CLOEXEC, 10), w = fcntl(p.write, F_DUPFD_CLOEXEC, 10)
        p.closeBoth()
        guard r >= 0, w >= 0 else {
            if r >= 0 { close(r) }
            if w >= 0 { close(w) }
            return nil
        }
        return Pipe2(read: r, write: w)
    }()

    /// Starts the command in a new process group; `started` gets the child once it runs,
    /// `completion` its exit (or why it could not start). Spawning, pumping and reaping all happen
    /// on a thread of the child's own, off the cooperative pool.
    /// `fd3Line` gets each line the command writes to its file descriptor 3 (progress updates),
    /// without the newline, on the pump's thread; lines over `maxFd3Line` bytes are passed as nil.
    static func start(command: String, environment: [String: String], stdin: [UInt8], maxStdout: Int,
                      stderrTail: Int = 4096, maxFd3Line: Int = 65_536, fd3Line: (@Sendable (String?) -> Void)? = nil,
                      started: @escaping @Sendable (ChildProcess) -> Void,
                      completion: @escaping @Sendable (Result<Exit, any Error>) -> Void) {
        let thread = Thread {
            let child: ChildProcess, fds: (stdin: Int32, stdout: Int32, stderr: Int32, fd3: Int32)
            do {
                (child, fds) = try spawn(command: command, environment: environment)
            } catch {
                completion(.failure(error))
                return
            }
            started(child)
            let exit = child.pump(stdinFD: fds.stdin, stdoutFD: fds.stdout, stderrFD: fds.stderr, fd3: fds.fd3, input: stdin,
                                  maxStdout: maxStdout, stderrTail: stderrTail, maxFd3Line: maxFd3Line, fd3Line: fd3Line)
            child.stopWatchdog()
            completion(.success(exit))
        }
        thread.name = "portableq-exec"
        thread.start()
    }

    /// Spawns the watchdog (the group's leader), then the command in its group with its stdio on
    /// fresh pipes; returns the child and the parent's ends of the pipes.
    private static func spawn(command: String, environment: [String: String]) throws
        -> (ChildProcess, (stdin: Int32, stdout: Int32, stderr: Int32, fd3: Int32)) {
        var pipes: [Pipe2] = []
        do {
            for _ in 0..<4 { pipes.append(try Pipe2.make()) }
        } catch {
            pipes.forEach { $0.closeBoth() }
            throw error
        }
        let (inPipe, outPipe, errPipe, fd3Pipe) = (pipes[0], pipes[1], pipes[2], pipes[3])
        defer { close(inPipe.read); close(outPipe.write); close(errPipe.write); close(fd3Pipe.write) }
        do {
            var watchdog: pid_t?
            if let lifeline {
                watchdog = try Spawn.run(path: "/bin/sh", args: ["/bin/sh", "-c", watchdogScript], environment: [],
                                         dups: [(lifeline.read, 3)], nullStdio: true, group: 0, blocked: watchdogBlocked)
            }
            let pid: pid_t
            do {
                pid = try Spawn.run(path: "/bin/sh", args: ["/bin/sh", "-c", command],
                                    environment: environment.map { "\($0.key)=\($0.value)" },
                                    dups: [(inPipe.read, 0), (outPipe.write, 1), (errPipe.write, 2), (fd3Pipe.write, 3)],
                                    group: watchdog ?? 0)
            } catch {
                if let watchdog { ChildProcess.reap(killing: watchdog) }
                throw error
            }
            return (ChildProcess(pid: pid, pgid: watchdog ?? pid), (inPipe.write, outPipe.read, errPipe.read, fd3Pipe.read))
        } catch {
            close(inPipe.write); close(outPipe.read); close(errPipe.read); close(fd3Pipe.read)
            throw error
        }
    }

    /// The command is done: its watchdog goes too (background processes it left keep running,
    /// as they would have without a watchdog).
    private func stopWatchdog() {
        if pgid != pid { ChildProcess.reap(killing: pgid) }
    }

    private static func reap(killing pid: pid_t) {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    /// Feeds stdin, drains stdout/stderr and reaps the child. A child that leaves background
    /// processes holding the pipes is not waited for beyond a short grace once it exited.
    private func pump(stdinFD: Int32, stdoutFD: Int32, stderrFD: Int32, fd3: Int32, input: [UInt8], maxStdout: Int,
                      stderrTail: Int, maxFd3Line: Int, fd3Line: (@Sendable (String?) -> Void)?) -> Exit {
        var inFD: Int32 = stdinFD, outFD: Int32 = stdoutFD, errFD: Int32 = stderrFD, lineFD: Int32 = fd3
        var line: [UInt8] = [], lineTooLong = false
        func emit(_ bytes: ArraySlice<UInt8>) {
            for b in bytes {
                if b == UInt8(ascii: "\n") {
                    fd3Line?(lineTooLong ? nil : String(decoding: line, as: UTF8.self))
                    line.removeAll(keepingCapacity: true)
                    lineTooLong = false
                } else if line.count < maxFd3Line {
                    line.append(b)
                } else {
                    lineTooLong = true
                }
            }
        }
        _ = fcntl(inFD, F_SETFL, fcntl(inFD, F_GETFL) | O_NONBLOCK)
        var written = 0
        var out: [UInt8] = [], err: [UInt8] = []
        var truncated = false
        var status: Int32 = 0
        var reaped = false
        var graceUntil: Double?
        var buf = [UInt8](repeating: 0, count: 65536)
        if input.isEmpty { close(inFD); inFD = -1 }
        while outFD >= 0 || errFD >= 0 || inFD >= 0 || lineFD >= 0 {
            var fds: [pollfd] = []
            if inFD >= 0 { fds.append(pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0)) }
            if outFD >= 0 { fds.append(pollfd(fd: outFD, events: Int16(POLLIN), revents: 0)) }
            if errFD >= 0 { fds.append(pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)) }
            if lineFD >= 0 { fds.append(pollfd(fd: lineFD, events: Int16(POLLIN), revents: 0)) }
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
                        if f.fd == outFD { outFD = -1 } else if f.fd == lineFD { lineFD = -1 } else { errFD = -1 }
                        continue
                    }
                    if f.fd == lineFD {
                        emit(buf[0..<n])
                    } else if f.fd == outFD {
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
        for fd in [inFD, outFD, errFD, lineFD] where fd >= 0 { close(fd) }
        // A last line without its newline still counts.
        if !line.isEmpty || lineTooLong { emit([UInt8(ascii: "\n")]) }
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
        kill(-pgid, SIGTERM)
        let pgid = pgid
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

/// A pipe whose ends are close-on-exec before any child can be spawned (`Spawn.lock`), so no
/// other handler inherits them (a leaked write end would keep a reader waiting forever).
struct Pipe2 {
    let read: Int32
    let write: Int32

    static func make() throws -> Pipe2 {
        var fds: [Int32] = [0, 0]
        // pipe2(O_CLOEXEC) is not visible to Swift's Glibc; the lock gives the same guarantee
        // against this module's own spawns.
        let rc = Spawn.lock.withLock {
            let rc = pipe(&fds)
            if rc == 0 { for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) } }
            return rc
        }
        guard rc == 0 else { throw PortableError(.backend, "cannot create a pipe: \(String(cString: strerror(errno)))") }
        return Pipe2(read: fds[0], write: fds[1])
    }

    func closeBoth() {
        close(read)
        close(write)
    }
}

/// `posix_spawn` with the child's signals reset: every signal at its default and none blocked
/// but `blocked` (a parent's ignored or blocked signals must not leak into handlers).
enum Spawn {
    /// Held while pipes are made close-on-exec and while a child is spawned.
    static let lock = NSLock()

    /// `dups`: (parent fd, child fd) pairs; `nullStdio`: stdin, stdout and stderr on /dev/null;
    /// `group`: nil stays in this process's group, 0 leads a new one, a pid joins that group.
    static func run(path: String, args: [String], environment: [String], dups: [(Int32, Int32)], nullStdio: Bool = false,
                    group: pid_t?, blocked: [Int32] = []) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if nullStdio {
            for fd: Int32 in 0...2 { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0) }
        }
        for (from, to) in dups { posix_spawn_file_actions_adddup2(&actions, from, to) }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var mask = sigset_t()
        sigemptyset(&mask)
        for s in blocked { sigaddset(&mask, s) }
        posix_spawnattr_setsigmask(&attr, &mask)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if let group {
            posix_spawnattr_setpgroup(&attr, group)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attr, Int16(flags))

        let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = lock.withLock { posix_spawn(&pid, path, &actions, &attr, argv, envp) }
        guard rc == 0 else { throw PortableError(.backend, "cannot start \(path): \(String(cString: strerror(rc)))") }
        return pid
    }
}
