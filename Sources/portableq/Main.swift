import ArgumentParser
import Backends
import Foundation

/// Entry point: parses, runs, and turns every error into one line and an exit code
/// (0 ok, 1 the operation failed, 2 bad usage). No stack traces, ever.
@main
enum Main {
    static func main() async {
        // Before any client exists: its metric objects are made on the bootstrapped factory.
        ProcessExport.bootstrap()
        do {
            var command = try Arguments.parse(Array(CommandLine.arguments.dropFirst()))
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            exit(0)
        } catch {
            exit(CLIError.report(error))
        }
    }
}

struct Portableq: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portableq",
        abstract: "A durable job queue and workflow engine on SQLite or PostgreSQL.",
        discussion: """
            The database is --database URL, else PORTABLEQ_DATABASE_URL, else DATABASE_URL, else \
            sqlite:portableq.db in the current directory.
            """,
        version: PortableqVersion.string,
        subcommands: [MigrateCommand.self, EnqueueCommand.self, WorkCommand.self, JobsCommand.self, DLQCommand.self,
                      WorkersCommand.self, QueuesCommand.self, SchedulesCommand.self, FlowsCommand.self, MaintainCommand.self, MetricsCommand.self,
                      AdminCommand.self, ServeCommand.self,
                      CopyCommand.self, BenchCommand.self, DemoCommand.self]
    )
}

enum PortableqVersion {
    static let string = "0.1.0"
}
