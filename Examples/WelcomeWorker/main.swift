// A complete application worker: a typed payload, a handler with its own options, enqueueing,
// and a graceful stop on SIGTERM/SIGINT. Built with the package (`swift build`), so it always
// compiles against the current API; README "Use from Swift" shows it.
//
//   PORTABLEQ_DATABASE_URL=sqlite:app.db swift run welcome-worker
//   portableq jobs list --queue mail --database sqlite:app.db     # the CLI beside it
import Logging
import PortableQ
import ServiceLifecycle

struct Welcome: Codable, Sendable {
    let user: Int
}

struct Sent: Codable, Sendable {
    let to: String
}

@main
enum WelcomeWorker {
    static func main() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "welcome-worker")
        // nil: PORTABLEQ_DATABASE_URL, then DATABASE_URL, then sqlite:portableq.db.
        let client = try await Database.connect()

        // Enqueue: the idempotency key makes a repeated start harmless.
        let result = try await client.enqueue(try NewJob(queue: "mail", type: "welcome", payload: Welcome(user: 42),
                                                         idempotencyKey: "welcome:42"))
        logger.info("enqueued", metadata: ["job_id": .string(result.job.id), "created": .stringConvertible(result.created)])

        var options = WorkerOptions()
        options.queues = ["mail"]
        let worker = Worker(client: client, options: options, logger: logger)
        worker.register("welcome", payload: Welcome.self,
                        options: HandlerOptions(concurrency: 4, timeoutSeconds: 30, maxAttempts: 10)) { welcome, ctx in
            guard welcome.user > 0 else {
                // Not worth retrying: dead-letters at once as NON_RETRYABLE, keeping this code.
                throw JobError.permanent(code: "NO_SUCH_USER", message: "user \(welcome.user)")
            }
            logger.info("sending", metadata: ["user": .stringConvertible(welcome.user), "job_id": .string(ctx.job.id),
                                              "attempt": .stringConvertible(ctx.attempt)])
            return Sent(to: "user-\(welcome.user)@example.com")  // stored as the job's output
        }
        try await ServiceGroup(services: [worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
        await client.close()
    }
}
