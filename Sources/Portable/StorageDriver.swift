import Foundation

public enum BackendKind: String, Sendable {
    case sqlite
    case postgres
}

/// The storage seam: everything portableq keeps, behind the fewest batch-first methods that fit.
/// Drivers only run SQL; every decision (state transitions, policy resolution, backoff, DLQ
/// reason, timeline and explain) is made in `Portable` and handed down as data.
///
/// Times: every method that writes or compares a time takes `now`. nil means the database's
/// own clock (`coalesce($now, now())` in SQL); tests pass a fixed instant.
public protocol StorageDriver: Sendable {
    var kind: BackendKind { get }
    /// Where this driver points, for messages (never includes a password).
    var location: String { get }
    /// The most database connections this process may hold (pool, listener), shown in the
    /// workers registry so a fleet's connection use can be added up.
    var connectionBudget: Int { get }

    // MARK: schema

    /// The migrations record; nil when the database has none (a fresh database).
    func migrationList() async throws -> [AppliedMigration]?
    /// Applies the given migrations that are not yet recorded, each in its own transaction with
    /// its record row, under a lock that makes concurrent migrators safe. Returns the versions
    /// this call applied.
    func migrationApply(_ migrations: [Migration]) async throws -> [Int]

    // MARK: jobs — the hot path

    /// Inserts a batch in one round trip. A row whose (queue, idempotency key) is already taken
    /// is not inserted; its outcome carries the existing job with `created: false`.
    func jobInsertMany(_ rows: [JobInsert], now: Date?) async throws -> [JobInsertOutcome]
    /// Leases runnable jobs (status queued, run_at due) in priority, run_at, id order, in one
    /// statement. Returns the leased rows as they are now, in no particular order.
    func jobLease(_ request: LeaseRequest, now: Date?) async throws -> [Job]
    /// Extends the given leases; returns the job ids whose lease is still held.
    func jobLeaseExtend(_ leases: [LeaseKey], seconds: Double, now: Date?) async throws -> Set<String>
    /// Ends attempts: moves each job whose lease matches to its next state and records the
    /// attempt, in one statement or transaction. Results are in input order. For workflow step
    /// jobs (`flow` given), the same transaction locks each applied step's run, asks `flow` what
    /// follows and writes it: the next steps' jobs, step states, the run's status.
    func jobCompleteMany(_ completions: [Completion], now: Date?, flow: FlowHook?) async throws -> [AckResult]
    /// Hands claimed jobs back to queued as if never claimed (no attempt recorded): jobs a
    /// worker prefetched but did not start. Returns how many were released.
    func jobReleaseMany(_ leases: [LeaseKey]) async throws -> Int
    /// `jobCompleteMany` then `jobLease`, in one round trip and one commit where the driver can
    /// (the hot path of a busy worker: each turn acks the last batch and claims the next).
    /// Not for step jobs (their acks go through `jobCompleteMany` with the flow hook).
    func jobCompleteAndLease(_ completions: [Completion], lease: LeaseRequest, now: Date?) async throws -> (acks: [AckResult], jobs: [Job])
    /// Writes a running job's latest progress (and its time) only where `lease` is its current
    /// lease; false when it is not (nothing written).
    func jobProgressSet(_ lease: LeaseKey, progress: String, now: Date?) async throws -> Bool
    /// Running jobs whose lease has expired, oldest first.
    func jobLeaseExpiredList(limit: Int, now: Date?) async throws -> [Job]

    // MARK: jobs — operator actions

    /// Puts jobs whose status is one of `from` back to queued in place (fresh budget) and
    /// records `event` for each. Returns the ids changed.
    func jobRetryMany(_ ids: [String], from: [JobStatus], event: EventNote, now: Date?) async throws -> [String]
    /// Cancels queued jobs (recording each target's event), and running ones whose lease token
    /// still matches (recording the attempt as cancelled with the target's error). Returns the
    /// ids changed.
    func jobCancelMany(_ targets: [CancelTarget], now: Date?) async throws -> [String]
    /// Deletes jobs (live or archived) whose status is one of `from`, with their history.
    func jobDeleteMany(_ ids: [String], from: [JobStatus]) async throws -> [String]

    // MARK: jobs — reads

    /// Jobs by id, live or archived, in no particular order.
    func jobGetMany(_ ids: [String]) async throws -> [Job]
    /// Newest first (by id, which is time-ordered).
    func jobList(_ filter: JobFilter, limit: Int, offset: Int) async throws -> [Job]
    /// `jobList` for showing: payload and output read only as far as a preview needs.
    func jobListPreview(_ filter: JobFilter, limit: Int, offset: Int) async throws -> [JobListItem]
    /// The number of matching jobs, counting at most `cap` (never an unbounded count).
    func jobCount(_ filter: JobFilter, cap: Int) async throws -> Int
    /// Attempts, operator events and replays of one job.
    func jobHistory(_ id: String) async throws -> JobHistory

    // MARK: guardrails and decisions

    /// Existing idempotency keys: "queue\0key" → job id.
    func jobKeyLookupMany(_ keys: [(queue: String, key: String)]) async throws -> [String: String]
    /// Unique key → id of the job that holds it now (its status is in its own unique states).
    func jobUniqueOwners(_ keys: [String]) async throws -> [String: String]
    /// Takes `count` enqueues from the queue's sliding 60 s budget of `limit`; nil when allowed,
    /// else the seconds until enough of the window has passed (nothing is taken then).
    func enqueueRateTake(queue: String, count: Int, limit: Int, now: Date?) async throws -> Double?
    /// Adds counts to the (queue, reason, minute) rows.
    func decisionRecord(_ kind: DecisionKind, _ tallies: [DecisionTally], now: Date?) async throws
    /// Newest minute first.
    func decisionList(_ kind: DecisionKind, limit: Int, offset: Int) async throws -> [Decision]
    func decisionCount(_ kind: DecisionKind, cap: Int) async throws -> Int

    // MARK: known queues

    /// The first `limit` known queues (every queue that has ever had a job or a policy), sorted.
    func queueNameList(limit: Int) async throws -> [String]
    /// Adds queues to the known-queue registry (known ones are skipped).
    func queueNameRegister(_ queues: [String]) async throws

    // MARK: queue policies

    func queuePolicyList() async throws -> [QueuePolicy]
    /// Stores a queue's policy as given (pause and limits; the bucket state is kept).
    func queuePolicySet(_ policy: QueuePolicy, now: Date?) async throws
    /// A claim in one capped, rate-limited or paused queue, serialised per queue (an advisory
    /// lock on Postgres, the write lock on SQLite): reads the policy, the queue's running count
    /// and its due count (up to the limit), asks `decide` how many may start, leases that many
    /// and stores the token bucket — all in one transaction.
    func jobLeaseRestricted(_ request: LeaseRequest, queue: String, now: Date?,
                            decide: @escaping @Sendable (_ policy: QueuePolicy, _ running: Int, _ due: Int, _ now: Date) -> Allowance)
        async throws -> (jobs: [Job], allowance: Allowance)
    /// A claim in a queue with per-key limits, under the same per-queue lock as
    /// `jobLeaseRestricted`: reads the policy, the queue's running count, the candidates (the
    /// queue's keys by a loose index scan, each key's first due jobs — one more than its cap leaves
    /// room for — and the first due jobs without a key) and the keys' states; leases what `decide`
    /// picks and stores the queue's and the keys' buckets, all in one transaction. Its reads
    /// grow with the number of keys, never with a key's backlog.
    func jobLeaseKeyed(_ request: LeaseRequest, queue: String, now: Date?,
                       decide: @escaping @Sendable (KeyedClaimView) -> KeyedClaimPlan)
        async throws -> (jobs: [Job], plan: KeyedClaimPlan)
    /// The state of these keys of a queue (running jobs, bucket); keys never seen have running 0.
    func concurrencyKeyList(queue: String, keys: [String]) async throws -> [KeyState]
    /// Deletes (or with `dryRun` counts) the queue's queued jobs, due or scheduled.
    func queuePurge(_ queue: String, dryRun: Bool) async throws -> Int
    /// Deletes every job of the queue, whatever its status (archive too), with history and keys
    /// (`portableq bench` cleans up its own queue).
    func queueDeleteAll(_ queue: String) async throws -> Int

    // MARK: maintenance

    /// Takes or renews the named lease for `seconds` if it is free, expired or already the holder's.
    func leaderAcquire(name: String, holder: String, seconds: Double, now: Date?) async throws -> LeaderLease
    func leaderRelease(name: String, holder: String) async throws
    func maintenanceRecord(_ runs: [MaintenanceRun]) async throws
    /// Newest first.
    func maintenanceList(limit: Int) async throws -> [MaintenanceRun]
    /// Moves up to `limit` succeeded jobs finished before `cutoff` (and created before the
    /// UUIDv7 `idBelow`, which bounds the scan) to the archive. Returns how many moved.
    func jobArchiveBefore(_ cutoff: Date, idBelow: String, limit: Int, now: Date?) async throws -> Int
    /// Deletes up to `limit` archived jobs archived before `cutoff`, with their history and keys.
    func archiveDeleteBefore(_ cutoff: Date, limit: Int) async throws -> Int
    /// Deletes the attempts and events of up to `limit` jobs archived before `cutoff`.
    func historyPruneBefore(_ cutoff: Date, limit: Int, now: Date?) async throws -> Int
    /// Deletes decisions, maintenance runs and rate buckets older than `cutoff`, and workers
    /// whose last heartbeat is older than it. Returns rows deleted.
    func expireBefore(_ cutoff: Date) async throws -> Int
    /// One rollup step of `QueueTotals`, in one transaction: reads the watermark (and, the first
    /// time, the earliest attempt), asks `plan.window` what to add, adds the attempts finished
    /// in that window to their (queue, hour) rows, moves the watermark, and deletes hours before
    /// `plan.keepAfter`. Each attempt is counted once however often it runs.
    func totalsRollup(_ plan: TotalsRollupPlan) async throws -> TotalsRollupStep
    /// Hourly totals from `since` on (one queue or all), oldest first, at most `limit` rows, and the watermark.
    func totalsList(queue: String?, since: Date, limit: Int) async throws -> TotalsHistory

    // MARK: schedules

    func scheduleUpsert(_ schedule: Schedule, now: Date?) async throws
    func scheduleDelete(_ name: String) async throws -> Bool
    func scheduleList() async throws -> [Schedule]
    /// Records that slots up to `slot` were enqueued (never moves backwards).
    func scheduleAdvance(_ name: String, to slot: Date) async throws

    // MARK: copy between backends

    /// Rows of a table for `portableq copy`, values in `table.columns` order (job tables in id order).
    func copyRead(_ table: CopyTable, _ scope: CopyScope) async throws -> [[CopyValue]]
    /// Opens one transaction on the target for a whole copy.
    func copyBegin() async throws -> any CopyTarget

    // MARK: workflows

    /// Stores a definition: a new version when it differs from the latest, else the latest.
    func flowDefine(_ definition: FlowDefinition, now: Date?) async throws -> FlowDefinition
    /// The latest version of each flow.
    func flowList() async throws -> [FlowDefinition]
    /// A version (nil: the latest).
    func flowGet(_ slug: String, version: Int?) async throws -> FlowDefinition?
    /// Inserts the runs (a run whose root map step failed at once is already `failed`, with its
    /// events), their steps, their root jobs (`jobs`, of all the runs) and the element links of
    /// root map steps in one transaction.
    func flowRunStartMany(_ runs: [FlowRun], jobs: [JobInsert], elements: [MapElement], now: Date?) async throws
    /// Runs that finished (succeeded or failed) in the last `seconds`, newest first, at most
    /// `limit`: each one's flow and duration (created to finished).
    func flowRunDurations(seconds: Double, limit: Int, now: Date?) async throws -> [RunDuration]
    /// How many element jobs of each map step of a run are in each status.
    func flowRunElementStates(_ runId: String) async throws -> [String: [JobStatus: Int]]
    /// A run with its steps, in no particular order.
    func flowRunGet(_ id: String) async throws -> FlowRun?
    /// Newest first, without steps.
    func flowRunList(_ flow: String?, status: RunStatus?, limit: Int, offset: Int) async throws -> [FlowRun]
    func flowRunCount(_ flow: String?, status: RunStatus?, cap: Int) async throws -> Int
    /// Marks a running run cancelled and its unfinished steps cancelled. False if not running.
    func flowRunCancel(_ id: String, now: Date?) async throws -> Bool
    /// An operator's retry of a step job: in one transaction, locks the run, reads it with its
    /// jobs' statuses, and writes what `hook` decides (the jobs put back first; CONFLICT and
    /// nothing written when the retried job was no longer dead-lettered or cancelled). Nil when
    /// the run is gone.
    func flowStepRetry(runId: String, jobId: String, hook: FlowRetryHook, now: Date?) async throws -> FlowChanges?

    // MARK: queues and metrics

    /// Live jobs (queued — due or not —, running, dlq) counted by queue and status, each status
    /// through its own index; never the succeeded history.
    func queueCounts(now: Date?) async throws -> [QueueCount]
    /// Attempts finished in the last `seconds`: counts by queue and outcome, and the newest
    /// `sampleLimit` attempts' start latency and run time.
    func attemptWindow(seconds: Double, sampleLimit: Int, now: Date?) async throws -> AttemptWindow

    // MARK: job types and workers

    func jobTypeUpsertMany(_ policies: [JobTypePolicy], now: Date?) async throws
    func jobTypeList() async throws -> [JobTypePolicy]
    /// Registers a worker or records its heartbeat.
    func workerUpsert(_ worker: WorkerInfo, now: Date?) async throws
    func workerDelete(_ id: String) async throws
    func workerList() async throws -> [WorkerInfo]

    /// Wakes idle workers when jobs are enqueued: SQLite, this process's enqueues; Postgres,
    /// every process's (LISTEN/NOTIFY) once `wakeupListen()` was called.
    var wakeups: JobWakeups { get }
    /// Starts listening for other processes' enqueues (Postgres); a no-op for SQLite, whose
    /// other processes are seen by polling.
    func wakeupListen()

    /// The database's clock (or `now` when given).
    func clockNow(_ now: Date?) async throws -> Date

    /// Closes connections. Further calls fail.
    func close() async
}
