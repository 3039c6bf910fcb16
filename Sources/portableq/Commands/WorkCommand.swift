import ArgumentParser
import Backends
import Foundation
import Logging
import ServiceLifecycle

struct WorkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "work",
        abstract: "Run a worker: noop, any --exec types, and with --builtins the demo types (echo, fail_me, sleep).",
        discussion: """
            --exec TYPE=COMMAND runs COMMAND through /bin/sh -c in its own process group with the payload \
            JSON on stdin and PORTABLEQ_JOB_ID, PORTABLEQ_JOB_TYPE, PORTABLEQ_QUEUE, PORTABLEQ_ATTEMPT set. \
            Exit 0 = success (stdout is the output), 65 = BAD_PAYLOAD (not retried), anything else = a \
            retryable EXEC_EXIT_<n>. SIGTERM/SIGINT stop it gracefully (exit 0).
            """
    )

    @OptionGroup var db: DatabaseOptions
    @Option(help: "Comma-separated queues (default: every queue).") var queues: String?
    @Option(help: "Jobs run at once.") var concurrency: Int?
    @Option(name: .customLong("worker-id"), help: "Worker id (default host:pid).") var workerId: String?
    @Option(name: .customLong("lease-seconds"), help: "Lease length; heartbeats every third of it.") var leaseSeconds: Double?
    @Option(name: .customLong("batch-size"), help: "Jobs per claim (default = concurrency).") var batchSize: Int?
    @Option(name: .customLong("poll-interval-ms"), help: "Fallback poll when no wakeup arrives.") var pollIntervalMs: Int?
    @Option(name: .customLong("timeout-seconds"), help: "Default per-attempt timeout.") var timeoutSeconds: Int?
    @Option(name: .customLong("shutdown-seconds"), help: "Time running jobs get to finish on shutdown.") var shutdownSeconds: Double?
    @Option(name: .customLong("exec"), help: "TYPE=COMMAND handler (repeatable).") var exec: [String] = []
    @Flag(name: .customLong("fail-unknown-types"), help: "Claim every type; fail those without a handler (UNKNOWN_JOB_TYPE).")
    var failUnknownTypes = false
    @Flag(help: "Also serve the demo types echo, fail_me and sleep (noop is always served).") var builtins = false
    @Flag(name: .customLong("until-empty"), help: ArgumentHelp("Exit 0 once the queues hold no queued or running job.",
        discussion: "Jobs scheduled ahead count: a retry backing off (or a job with a later run_at) keeps the worker waiting until it is due and done; the worker logs once when it waits only on those.")) var untilEmpty = false
    @Option(name: .customLong("log-format"), help: "text or json.") var logFormat: String?
    @Option(name: .customLong("metrics-addr"),
            help: "HOST:PORT to serve this process's metrics (/metrics, /metrics/prom) and probes (/health/live, /health/ready).")
    var metricsAddr: String?

    /// Checks flags (in run(), so errors keep their code: parse-time errors are wrapped).
    func check() throws {
        if let c = concurrency, c < 1 { throw PortableError.invalid("--concurrency must be at least 1") }
        if let b = batchSize, b < 1 { throw PortableError.invalid("--batch-size must be at least 1") }
        if let l = leaseSeconds, l < 1 { throw PortableError.invalid("--lease-seconds must be at least 1") }
        if let p = pollIntervalMs, p < 10 { throw PortableError.invalid("--poll-interval-ms must be at least 10") }
        if let t = timeoutSeconds, t < 1 { throw PortableError.invalid("--timeout-seconds must be at least 1") }
        if let s = shutdownSeconds, s < 0 { throw PortableError.invalid("--shutdown-seconds must not be negative") }
        if let f = logFormat, f != "text", f != "json" { throw PortableError.invalid("--log-format must be text or json") }
        for e in exec {
            guard let eq = e.firstIndex(of: "="), eq != e.startIndex, e.index(after: eq) != e.endIndex else {
                throw PortableError.invalid("--exec expects TYPE=COMMAND, got \(JSON.quote(e))")
            }
            guard Names.isValid(String(e[..<eq])) else {
                throw PortableError.invalid("--exec type \(JSON.quote(String(e[..<eq]))) must match ^[A-Za-z0-9_.:-]{1,128}$")
            }
        }
    }

    func run() async throws {
        try check()
        var s = try db.settings()
        if let logFormat { s.logFormat = logFormat }
        StderrLogHandler.bootstrap(format: s.logFormat)
        let logger = Logger(label: "portableq.worker")
        if let q = queues { s.queues = try Settings.parseQueues(q) }
        if let v = concurrency { s.concurrency = v }
        if let v = batchSize { s.batchSize = v }
        if let v = leaseSeconds { s.leaseSeconds = v }
        if let v = pollIntervalMs { s.pollIntervalMs = v }
        if let v = timeoutSeconds { s.jobTimeoutSeconds = v }
        if let v = shutdownSeconds { s.shutdownSeconds = v }
        if let v = workerId { s.workerId = v }
        if let v = metricsAddr { s.metricsAddr = v }
        let endpoint = try s.metricsAddr.map { try AdminServer.Address.parse($0, option: "--metrics-addr") }
        if let endpoint, !endpoint.isLoopback, s.apiToken == nil {
            throw PortableError.invalid("refusing to bind \(endpoint.host) without PORTABLEQ_API_TOKEN: a non-loopback address needs a token")
        }

        s.dbMaxConnections = s.dbMaxConnections ?? 4
        // Signals are handled from the start, also while waiting for the database.
        let box = ClientBox()
        let service = WorkerProcess(db: db, settings: s, exec: exec, builtins: builtins, failUnknownTypes: failUnknownTypes,
                                    untilEmpty: untilEmpty, logger: logger, box: box)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup),
        ]
        if let endpoint {
            services.append(.init(service: WorkerEndpoint.application(client: box, settings: s, address: endpoint, logger: logger)))
        }
        let group = ServiceGroup(configuration: .init(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }

    /// Connects (waiting out an unreachable database) and then runs the worker.
    struct WorkerProcess: Service {
        let db: DatabaseOptions
        let settings: Settings
        let exec: [String]
        let builtins: Bool
        let failUnknownTypes: Bool
        let untilEmpty: Bool
        let logger: Logger
        /// Holds the client for the readiness probe once the database is reached.
        let box: ClientBox

        func run() async throws {
            let s = settings
            let client: PortableClient
            do {
                client = try await cancelWhenGracefulShutdown {
                    try await WorkCommand.connectWaiting(db: db, settings: s, logger: logger)
                }
            } catch is CancellationError {
                logger.info("stopped while waiting for the database")
                return
            }
            box.set(client)
            let worker = Worker(client: client, options: WorkCommand.options(s, failUnknownTypes: failUnknownTypes, untilEmpty: untilEmpty),
                                logger: logger)
            BuiltinHandlers.register(on: worker, demoTypes: builtins)
            for e in exec {
                let eq = e.firstIndex(of: "=")!
                worker.register(String(e[..<eq]), ExecHandler.make(command: String(e[e.index(after: eq)...]),
                                                                   maxOutputBytes: s.maxPayloadBytes,
                                                                   killGraceSeconds: worker.options.killGraceSeconds,
                                                                   logger: logger))
            }
            do {
                try await worker.run()
            } catch {
                await client.close()
                throw error
            }
            await client.close()
        }
    }

    static func options(_ s: Settings, failUnknownTypes: Bool, untilEmpty: Bool) -> WorkerOptions {
        var o = WorkerOptions(id: s.workerId ?? WorkerOptions.defaultId)
        o.queues = s.queues
        o.concurrency = s.concurrency
        o.batchSize = s.batchSize
        o.leaseSeconds = s.leaseSeconds
        o.pollIntervalSeconds = Double(s.pollIntervalMs) / 1000
        o.defaultTimeoutSeconds = s.jobTimeoutSeconds
        o.shutdownSeconds = s.shutdownSeconds
        o.failUnknownTypes = failUnknownTypes
        o.untilEmpty = untilEmpty
        o.verboseJobLogs = s.verboseJobLogs
        o.maintenance = MaintenanceSettings(s)
        return o
    }

    /// Opens the database and checks the schema; while the database is unreachable, waits for it
    /// (logging once). A schema this binary cannot use is an error at once.
    static func connectWaiting(db: DatabaseOptions, settings s: Settings, logger: Logger) async throws -> PortableClient {
        let driver = try Database.open(try db.url(s), settings: s, create: true)
        var delay = 0.5
        var logged = false
        while true {
            do {
                let status = try await Database.prepare(driver, migrate: s.migrateOnStartup)
                if status.state == .newerCompatible {
                    logger.warning("the schema is newer than this binary but compatible with it; carrying on",
                                   metadata: ["database_version": .stringConvertible(status.databaseVersion),
                                              "binary_version": .stringConvertible(status.binaryVersion)])
                }
                if logged { logger.info("database is reachable") }
                break
            } catch let e as PortableError where driver.kind == .postgres && (e.code == .unavailable || e.code == .busy) {
                if !logged { logger.warning("waiting for the database", metadata: ["error": .string(e.message)]); logged = true }
                try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
                delay = min(delay * 2, 5)
            }
        }
        // Not an outage to wait out: a server without room refuses at once.
        do {
            try await Database.checkConnectionRoom(driver)
        } catch {
            await driver.close()
            throw error
        }
        return PortableClient(driver: driver, config: s.config)
    }
}
