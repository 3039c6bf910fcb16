import Testing

/// Tests that start real processes (workers, servers, their own Postgres) take one of a few
/// slots, so the whole suite never has dozens of them competing for two cores: their timing
/// bounds are loose, but a starved process misses even those.
struct ProcessGate: TestTrait, SuiteTrait, TestScoping {
    static let slots = AsyncSemaphore(3)

    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        guard testCase != nil else { return try await function() }
        await ProcessGate.slots.acquire()
        do {
            try await function()
        } catch {
            await ProcessGate.slots.release()
            throw error
        }
        await ProcessGate.slots.release()
    }
}

extension Trait where Self == ProcessGate {
    /// Runs with at most `ProcessGate.slots` such tests at once.
    static var processes: Self { ProcessGate() }
}

/// A counting semaphore for async code (FIFO).
actor AsyncSemaphore {
    private var free: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { free = count }

    func acquire() async {
        if free > 0 { free -= 1; return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty { free += 1 } else { waiters.removeFirst().resume() }
    }
}
