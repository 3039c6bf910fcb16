import ArgumentParser
import Backends
import Foundation
import Logging
import ServiceLifecycle

/// `portableq admin serve` (alias `serve`): the HTTP admin API and dashboard, plus a worker with
/// the built-in types unless `--no-worker`. It never takes an application's job types.
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "admin", abstract: "The HTTP admin API and dashboard.",
                                                    subcommands: [ServeCommand.self])
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the admin API and dashboard (and run a worker for the built-in types unless --no-worker).",
        discussion: """
            Binds ADMIN_ADDR (default 127.0.0.1:3003). A non-loopback address needs PORTABLEQ_API_TOKEN; with \
            a token every endpoint but /health, /health/live, /health/ready and the dashboard shell needs x-api-key or Authorization: Bearer.
            """
    )

    @OptionGroup var db: DatabaseOptions
    @Option(help: "HOST:PORT to bind (port 0 picks a free one).") var addr: String?
    @Flag(name: .customLong("no-worker"), help: "Do not run the built-in worker.") var noWorker = false
    @Option(name: .customLong("shutdown-seconds"), help: "Time running jobs get to finish on shutdown.") var shutdownSeconds: Double?
    @Option(name: .customLong("log-format"), help: "text or json.") var logFormat: String?

    func run() async throws {
        var s = try db.settings()
        if let f = logFormat {
            guard f == "text" || f == "json" else { throw PortableError.invalid("--log-format must be text or json") }
            s.logFormat = f
        }
        if let v = shutdownSeconds { s.shutdownSeconds = v }
        let address = try AdminServer.Address.parse(addr ?? s.adminAddr)
        if !address.isLoopback && s.apiToken == nil {
            throw PortableError.invalid("refusing to bind \(address.host) without PORTABLEQ_API_TOKEN: a non-loopback address needs a token")
        }
        StderrLogHandler.bootstrap(format: s.logFormat)
        let logger = Logger(label: "portableq.admin")
        s.dbMaxConnections = s.dbMaxConnections ?? 8
        let driver = try Database.open(try db.url(s), settings: s, create: true)
        let client = PortableClient(driver: driver, config: s.config)
        // One outage log for the whole process: requests, the probe and the built-in worker.
        let wakeups = client.wakeups
        let outage = OutageLog(logger: logger, clock: client.clock, whileDown: "answering 503 until it is back",
                               metrics: client.metrics) {
            wakeups.notify(queue: nil)
        }
        // The server starts even when the database is down: requests answer 503 until it is back.
        var reachable = false
        do {
            let status = try await Database.prepare(driver, migrate: s.migrateOnStartup)
            if status.state == .newerCompatible { logger.warning("the schema is newer than this binary but compatible with it") }
            reachable = true
        } catch let e as PortableError where e.code == .unavailable {
            outage.failed(e, doing: "start-up")
        }
        if reachable {
            do {
                try await Database.checkConnectionRoom(driver)
            } catch {
                await driver.close()
                throw error
            }
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: AdminServer.application(client: client, settings: s, address: address, logger: logger, outage: outage)),
            .init(service: OutageWatch(log: outage, clock: client.clock) { _ = try await client.databaseNow() }),
        ]
        if !noWorker {
            var o = WorkCommand.options(s, failUnknownTypes: false, untilEmpty: false)
            o.id = (s.workerId ?? WorkerOptions.defaultId) + ":admin"
            let worker = Worker(client: client, options: o, logger: Logger(label: "portableq.worker"), outage: outage)
            BuiltinHandlers.register(on: worker, demoTypes: true)
            services.append(.init(service: worker))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await driver.close()
    }
}
