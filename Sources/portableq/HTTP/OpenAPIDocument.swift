import Backends

/// The OpenAPI 3.1 description of exactly what `admin serve` answers. Tests validate it
/// (openapi-spec-validator) and fuzz the live server against it (schemathesis).
enum OpenAPIDocument {
    // MARK: schema helpers

    static func ref(_ name: String) -> JSON { .object([("$ref", .string("#/components/schemas/\(name)"))]) }
    static func type(_ t: String, _ extra: [(String, JSON)] = []) -> JSON { .object([("type", .string(t))] + extra) }
    static func nullable(_ t: String, _ extra: [(String, JSON)] = []) -> JSON {
        .object([("type", .array([.string(t), .string("null")]))] + extra)
    }
    static let string = type("string")
    static let integer = type("integer")
    static let number = type("number")
    static let boolean = type("boolean")
    static let dateTime = type("string", [("format", .string("date-time"))])
    static let nullableDateTime = nullable("string", [("format", .string("date-time"))])
    static let anyValue: JSON = .object([])
    static func array(_ items: JSON, _ extra: [(String, JSON)] = []) -> JSON {
        .object([("type", .string("array")), ("items", items)] + extra)
    }
    static func object(_ props: [(String, JSON)], required: [String], additional: Bool = true) -> JSON {
        var m: [(String, JSON)] = [("type", .string("object")), ("properties", .object(props))]
        if !required.isEmpty { m.append(("required", .array(required.map(JSON.string)))) }
        if !additional { m.append(("additionalProperties", .bool(false))) }
        return .object(m)
    }
    /// The two may not both be given (non-null): `not: {required: [a, b], properties: {a: not null, b: not null}}`.
    static func withNot(_ schema: JSON, requiredTogether: [String]) -> JSON {
        guard case .object(var m) = schema else { return schema }
        let notNull: JSON = .object([("not", .object([("type", .string("null"))]))])
        m.append(("not", .object([("required", .array(requiredTogether.map(JSON.string))),
                                  ("properties", .object(requiredTogether.map { ($0, notNull) }))])))
        return .object(m)
    }

    static func enumOf(_ values: [String]) -> JSON { type("string", [("enum", .array(values.map(JSON.string)))]) }
    static func page(_ item: String) -> JSON {
        object([("items", array(ref(item))), ("total", integer), ("total_capped", boolean)],
               required: ["items", "total", "total_capped"])
    }

    static let statuses = JobStatus.allCases.map(\.rawValue)
    static let name = type("string", [("pattern", .string("^[A-Za-z0-9_.:-]{1,128}$"))])

    static var schemas: [(String, JSON)] {
        [
            ("Error", object([("error", object([("code", enumOf(PortableError.Code.allCases.map(\.wire))), ("message", string)],
                                               required: ["code", "message"]))], required: ["error"])),
            ("Job", object(jobProperties, required: jobRequired)),
            // In lists, a payload or output over 4,096 bytes of JSON text is only a preview.
            ("JobListItem", object(jobProperties + [
                ("payload_preview", string), ("payload_truncated", boolean), ("payload_bytes", integer),
                ("output_preview", string), ("output_truncated", boolean), ("output_bytes", integer),
            ], required: jobRequired.filter { $0 != "payload" && $0 != "output" } + ["payload_truncated", "payload_bytes"])),
            ("JobList", page("JobListItem")),
            // Optional request fields accept null as "not given".
            ("NewJob", withNot(object([
                ("queue", nullable("string", [("pattern", .string("^[A-Za-z0-9_.:-]{1,128}$"))])), ("job_type", name),
                ("payload_json", anyValue),
                ("priority", nullable("integer", [("minimum", .int(Int(Int32.min))), ("maximum", .int(Int(Int32.max)))])),
                ("max_attempts", nullable("integer", [("minimum", .int(1)), ("maximum", .int(Limits.maxAttempts))])),
                ("timeout_seconds", nullable("integer", [("minimum", .int(1)), ("maximum", .int(Limits.timeoutSeconds))])),
                ("run_at", nullableDateTime),
                ("delay_seconds", nullable("number", [("minimum", .int(0)), ("maximum", .int(Int(Limits.maxDelaySeconds)))])),
                ("idempotency_key", nullable("string", [("minLength", .int(1)), ("maxLength", .int(255))])),
                ("unique", .object([("oneOf", .array([ref("Unique"), .object([("type", .string("null"))])]))])),
                ("concurrency_key", nullable("string", [("minLength", .int(1)), ("maxLength", .int(255))])),
                ("tags", nullable("array", [("maxItems", .int(JobTags.maxCount)), ("items", tag)])),
                ("metadata", nullable("object")),
            ], required: ["job_type"]), requiredTogether: ["run_at", "delay_seconds"])),
            // No second job with the same fields while the first is in `states` (issue 15 §1).
            ("Unique", object([
                ("by", nullable("array", [("minItems", .int(1)), ("maxItems", .int(32)),
                                          ("items", .object([("type", .string("string")),
                                                             ("pattern", .string("^(queue|job_type|payload|payload\\.[^.]+(\\.[^.]+)*)$"))]))])),
                ("states", nullable("array", [("items", enumOf(UniqueSpec.storedStates.map(\.rawValue)))])),
                ("period_seconds", nullable("integer", [("minimum", .int(1)), ("maximum", .int(UniqueSpec.maxPeriodSeconds))])),
                ("on_conflict", .object([("type", .array([.string("string"), .string("null")])),
                                         ("enum", .array([.string("skip"), .string("replace"), .null]))])),
            ], required: [], additional: false)),
            ("EnqueueResult", object([("job_id", string), ("created", boolean),
                                      ("duplicate", enumOf(["idempotency_key", "unique"])), ("replaced", boolean),
                                      ("job", ref("Job"))],
                                     required: ["job_id", "created", "job"])),
            ("Batch", object([("jobs", array(ref("NewJob"), [("minItems", .int(1)), ("maxItems", .int(1000))]))],
                             required: ["jobs"])),
            ("BatchResult", object([("items", array(object([("job_id", string), ("created", boolean),
                                                            ("duplicate", enumOf(["idempotency_key", "unique"])), ("replaced", boolean)],
                                                           required: ["job_id", "created"])))], required: ["items"])),
            ("TimelineEvent", object([
                ("at", dateTime), ("type", enumOf(Timeline.eventTypes)),
                ("attempt", integer), ("worker_id", string), ("error_code", string), ("message", string),
            ], required: ["at", "type"])),
            ("Timeline", object([("job", ref("Job")), ("events", array(ref("TimelineEvent")))], required: ["job", "events"])),
            ("Explanation", object([
                ("job_id", string), ("status", enumOf(statuses)),
                ("reason_code", enumOf(Explanation.Reason.allCases.map(\.rawValue))), ("message", string),
                ("details", type("object")),
            ], required: ["job_id", "status", "reason_code", "message", "details"])),
            ("BulkRequest", object([
                ("filter", .object([("type", .array([.string("object"), .string("null")])), ("properties", .object([
                    ("queue", nullable("string", [("pattern", .string("^[A-Za-z0-9_.:-]{1,128}$"))])),
                    ("job_type", nullable("string", [("pattern", .string("^[A-Za-z0-9_.:-]{1,128}$"))])),
                    ("status", .object([("enum", .array(statuses.map(JSON.string) + [.null]))])),
                    ("error_code", nullable("string")),
                    ("dlq_reason", nullable("string", [("pattern", .string("^[A-Za-z0-9_.:-]{1,128}$"))])),
                    ("tag", .object([("type", .array([.string("string"), .string("null")])), ("pattern", .string(tagPattern))])),
                    ("tags", nullable("array", [("maxItems", .int(JobTags.maxCount)), ("items", tag)])),
                ]))])),
                ("dry_run", nullable("boolean")), ("limit", nullable("integer", [("minimum", .int(1)), ("maximum", .int(10_000))])),
            ], required: [])),
            ("BulkResult", object([("matched", integer), ("changed", integer), ("ids", array(string))],
                                  required: ["matched", "changed", "ids"])),
            ("Deleted", object([("deleted", boolean), ("job_id", string)], required: ["deleted", "job_id"])),
            ("Decision", object([("queue", string), ("reason_code", string), ("minute", dateTime), ("count", integer),
                                 ("last_message", nullable("string"))], required: ["queue", "reason_code", "minute", "count"])),
            ("DecisionList", page("Decision")),
            ("Queue", object([("queue", string), ("runnable", integer), ("scheduled", integer), ("running", integer),
                              ("dlq", integer), ("counts_capped", boolean), ("oldest_runnable_age_seconds", nullable("number")),
                              ("paused", boolean), ("max_running", nullable("integer")), ("max_starts_per_second", nullable("number"))],
                             required: ["queue", "runnable", "scheduled", "running", "dlq", "counts_capped", "oldest_runnable_age_seconds",
                                        "paused", "max_running", "max_starts_per_second"])),
            ("QueuePolicy", object([("queue", string), ("paused", boolean), ("max_running", nullable("integer")),
                                    ("max_starts_per_second", nullable("number")), ("concurrency_key_from", nullable("string")),
                                    ("max_running_per_key", nullable("integer")), ("max_starts_per_second_per_key", nullable("number"))],
                                   required: ["queue", "paused", "max_running", "max_starts_per_second", "concurrency_key_from",
                                              "max_running_per_key", "max_starts_per_second_per_key"])),
            ("PolicyChange", object([("max_running", nullable("integer", [("minimum", .int(0)), ("maximum", .int(Int(Int32.max)))])),
                                     ("max_starts_per_second", nullable("number", [("exclusiveMinimum", .int(0)), ("maximum", .int(1_000_000))])),
                                     // Per-key limits (issue 15 §2); the field is a top-level payload field.
                                     ("concurrency_key_from", nullable("string", [("pattern", .string("^[A-Za-z0-9_-]{1,64}$"))])),
                                     ("max_running_per_key", nullable("integer", [("minimum", .int(0)), ("maximum", .int(Int(Int32.max)))])),
                                     ("max_starts_per_second_per_key", nullable("number", [("exclusiveMinimum", .int(0)), ("maximum", .int(1_000_000))]))],
                                    required: [])),
            ("PurgeRequest", object([("dry_run", nullable("boolean"))], required: [])),
            ("PurgeResult", object([("matched", integer), ("changed", integer)], required: ["matched", "changed"])),
            ("Schedule", object([("name", string), ("cron", string), ("queue", string), ("job_type", string), ("payload", anyValue),
                                 ("priority", integer), ("max_attempts", nullable("integer")), ("timeout_seconds", nullable("integer")),
                                 ("timezone", string), ("last_slot_at", nullableDateTime), ("next_slot_at", nullableDateTime), ("created_at", nullableDateTime)],
                                required: ["name", "cron", "queue", "job_type", "payload", "priority", "timezone", "last_slot_at", "next_slot_at"])),
            ("ScheduleList", page("Schedule")),
            ("NewSchedule", object([("name", name), ("cron", string), ("job_type", name),
                                    ("queue", nullable("string", [("pattern", .string("^[A-Za-z0-9_.:-]{1,128}$"))])),
                                    ("payload_json", anyValue),
                                    ("priority", nullable("integer", [("minimum", .int(Int(Int32.min))), ("maximum", .int(Int(Int32.max)))])),
                                    ("max_attempts", nullable("integer", [("minimum", .int(1)), ("maximum", .int(Limits.maxAttempts))])),
                                    ("timeout_seconds", nullable("integer", [("minimum", .int(1)), ("maximum", .int(Limits.timeoutSeconds))])),
                                    ("timezone", nullable("string", [("description", .string("IANA time zone whose wall clock the cron reads (default UTC); an unknown zone is 422"))]))],
                                   required: ["name", "cron", "job_type"])),
            ("ScheduleDeleted", object([("deleted", boolean), ("name", string)], required: ["deleted", "name"])),
            ("FlowStep", object([("slug", name), ("job_type", name), ("queue", name), ("depends_on", array(name)),
                                 ("max_attempts", nullable("integer", [("minimum", .int(1)), ("maximum", .int(Limits.maxAttempts))])),
                                 ("base_delay_seconds", nullable("number", [("minimum", .int(0)), ("maximum", .int(86_400))])),
                                 ("timeout_seconds", nullable("integer", [("minimum", .int(1)), ("maximum", .int(Limits.timeoutSeconds))])),
                                 ("map", nullable("string", [("description", .string("a map step: the dotted path (run.… or <dependency>.…) of the array to fan out over"))])),
                                 ("max_elements", nullable("integer", [("minimum", .int(1)), ("maximum", .int(FlowStep.maxElementsLimit))]))],
                                required: ["slug"])),
            ("FlowDefinition", object([("slug", name),
                                       ("max_attempts", nullable("integer", [("minimum", .int(1)), ("maximum", .int(Limits.maxAttempts))])),
                                       ("base_delay_seconds", nullable("number", [("minimum", .int(0)), ("maximum", .int(86_400))])),
                                       ("timeout_seconds", nullable("integer", [("minimum", .int(1)), ("maximum", .int(Limits.timeoutSeconds))])),
                                       ("steps", array(ref("FlowStep"), [("minItems", .int(1)), ("maxItems", .int(1000))]))],
                                      required: ["slug", "steps"])),
            ("Flow", object([("slug", string), ("version", integer), ("steps", array(ref("FlowStep"))), ("created_at", nullableDateTime)],
                            required: ["slug", "version", "steps"])),
            ("FlowList", page("Flow")),
            ("RunInput", object([("input", anyValue)], required: [])),
            ("RunBatch", object([("runs", array(ref("RunInput"), [("minItems", .int(1)), ("maxItems", .int(1000))]))], required: ["runs"])),
            ("RunBatchResult", object([("items", array(object([("run_id", string)], required: ["run_id"])))], required: ["items"])),
            ("RunEvent", object([("type", string), ("at", nullableDateTime), ("step", nullable("string")), ("job_id", nullable("string")),
                                 ("message", nullable("string"))], required: ["type", "at"])),
            ("RunSummary", object([("id", string), ("flow", string), ("version", integer), ("status", enumOf(RunStatus.allCases.map(\.rawValue))),
                                   ("created_at", dateTime), ("finished_at", nullableDateTime), ("failed_step", nullable("string"))],
                                  required: ["id", "flow", "version", "status", "created_at", "finished_at", "failed_step"])),
            ("RunList", page("RunSummary")),
            ("RunStep", object([("slug", string), ("status", enumOf(RunStepStatus.allCases.map(\.rawValue))),
                                ("job_type", nullable("string")), ("queue", nullable("string")), ("depends_on", array(string)),
                                ("waiting_for", array(string)), ("job_id", nullable("string")), ("job_status", nullable("string")),
                                ("attempts", integer), ("output", anyValue), ("last_error_code", nullable("string")),
                                ("error_code", .object([("type", .array([.string("string"), .string("null")])),
                                                        ("description", .string("why the step failed when no job of its own did (MAP_NOT_ARRAY, MAP_TOO_LARGE, MAP_OUTPUT_TOO_LARGE, PAYLOAD_TOO_LARGE)"))])),
                                ("map", object([("path", string), ("total", nullable("integer")), ("done", integer),
                                                ("elements", .object([("type", .string("object")), ("additionalProperties", integer)]))],
                                               required: ["path", "total", "done", "elements"])),
                                ("started_at", nullableDateTime), ("finished_at", nullableDateTime),
                                ("reason_code", string), ("message", string)],
                               required: ["slug", "status", "depends_on", "waiting_for", "job_id", "attempts"])),
            ("Run", object([("id", string), ("flow", string), ("version", integer), ("status", enumOf(RunStatus.allCases.map(\.rawValue))),
                            ("input", anyValue), ("created_at", dateTime), ("finished_at", nullableDateTime),
                            ("failed_step", nullable("string")), ("steps", array(ref("RunStep"))), ("events", array(ref("RunEvent")))],
                           required: ["id", "flow", "version", "status", "input", "created_at", "steps", "events"])),
            ("MaintenanceRun", object([("holder", string), ("task", string), ("started_at", dateTime), ("finished_at", dateTime),
                                       ("duration_ms", integer), ("affected", integer), ("details", nullable("string"))],
                                      required: ["holder", "task", "started_at", "finished_at", "duration_ms", "affected"])),
            ("MaintenanceRunList", page("MaintenanceRun")),
            ("QueueList", page("Queue")),
            ("Worker", object([("id", string), ("host", string), ("pid", integer), ("queues", .object([("type", .array([.string("array"), .string("null")])), ("items", string)])),
                               ("job_types", .object([("type", .array([.string("array"), .string("null")])), ("items", string)])),
                               ("concurrency", integer), ("lease_seconds", number), ("started_at", dateTime),
                               ("last_heartbeat_at", dateTime), ("alive", boolean), ("db_connections", nullable("integer"))],
                              required: ["id", "host", "pid", "queues", "job_types", "concurrency", "lease_seconds",
                                         "started_at", "last_heartbeat_at", "alive", "db_connections"])),
            ("WorkerList", page("Worker")),
            ("Percentiles", object([("p50", nullable("integer")), ("p95", nullable("integer")), ("p99", nullable("integer"))],
                                   required: ["p50", "p95", "p99"])),
            ("MetricFigures", object(metricFields, required: metricFields.map(\.0))),
            ("Metrics", object([("at", dateTime), ("window_seconds", number)] + metricFields
                               + [("queues", array(.object([("allOf", .array([ref("MetricFigures"),
                                   object([("queue", string)], required: ["queue"])]))]))),
                                  ("flows", array(object([("flow", string), ("runs_finished", integer),
                                                          ("run_duration_ms", object([("avg", nullable("integer")), ("p95", nullable("integer"))],
                                                                                     required: ["avg", "p95"]))],
                                                         required: ["flow", "runs_finished", "run_duration_ms"])))],
                               required: ["at", "window_seconds", "queues", "flows"] + metricFields.map(\.0))),
            ("TotalsCounts", object([("queue", string), ("succeeded", integer), ("failed", integer), ("retried", integer),
                                     ("processed", integer)], required: ["queue", "succeeded", "failed", "retried", "processed"])),
            ("TotalsHistory", object([
                ("days", integer), ("queue", nullable("string")), ("since", dateTime), ("through", nullableDateTime),
                ("bucket_seconds", integer),
                ("daily", array(.object([("allOf", .array([ref("TotalsCounts"), object([("day", type("string", [("format", .string("date"))]))], required: ["day"])]))]))),
                ("hourly", array(.object([("allOf", .array([ref("TotalsCounts"), object([("hour", dateTime)], required: ["hour"])]))]))),
                ("truncated", boolean),
            ], required: ["days", "queue", "since", "through", "bucket_seconds", "daily", "hourly", "truncated"])),
            ("Health", object([("status", enumOf(["ok", "unavailable"])), ("database", enumOf(["up", "down"])),
                               ("backend", enumOf(["sqlite", "postgres"])), ("version", string), ("uptime_seconds", integer),
                               ("schema_version", integer), ("error", string)],
                              required: ["status", "database", "backend"])),
        ]
    }

    /// A job on the wire (`GET /jobs/{id}`); list items add previews to it.
    static let jobProperties: [(String, JSON)] = [
        ("id", string), ("queue", string), ("job_type", string), ("status", enumOf(statuses)),
        ("payload", anyValue), ("priority", integer), ("run_at", dateTime), ("attempts", integer),
        ("max_attempts", nullable("integer")), ("timeout_seconds", nullable("integer")),
        ("idempotency_key", nullable("string")), ("concurrency_key", nullable("string")), ("replay_of", nullable("string")), ("output", anyValue),
        ("last_error_code", nullable("string")), ("last_error_message", nullable("string")),
        ("dlq_reason_code", nullable("string")), ("worker_id", nullable("string")),
        ("lease_expires_at", nullableDateTime), ("created_at", dateTime), ("started_at", nullableDateTime),
        ("finished_at", nullableDateTime), ("archived_at", dateTime), ("run_id", string), ("step", string),
        // Present once the job has snoozed (since enqueue or its last retry).
        ("snoozes", integer),
        ("tags", array(string)), ("metadata", type("object")),
        // The latest update of the running handler (a JSON object) and when it came.
        ("progress", .object([("type", .array([.string("object"), .string("null")]))])), ("progress_at", nullableDateTime),
    ]
    /// A tag: 1 to 64 characters from a safe set (JobTags).
    static let tagPattern = "^[A-Za-z0-9_.:/=-]{1,\(JobTags.maxLength)}$"
    static let tag: JSON = .object([("type", .string("string")), ("pattern", .string(tagPattern))])
    static let jobRequired = [
        "id", "queue", "job_type", "status", "payload", "priority", "run_at", "attempts", "max_attempts", "timeout_seconds",
        "idempotency_key", "replay_of", "output", "last_error_code", "last_error_message", "dlq_reason_code", "worker_id",
        "lease_expires_at", "created_at", "started_at", "finished_at", "tags", "metadata", "progress", "progress_at",
    ]

    static let metricFields: [(String, JSON)] = [
        ("jobs_per_sec", number), ("attempts_per_sec", number), ("retry_rate", number), ("runnable_queue_depth", integer),
        ("scheduled", integer), ("running", integer), ("dlq_size", integer), ("oldest_runnable_age_seconds", nullable("number")),
        ("start_latency_ms", ref("Percentiles")), ("run_time_ms", ref("Percentiles")),
    ]

    // MARK: operations

    static func jsonContent(_ schema: JSON) -> JSON {
        .object([("application/json", .object([("schema", schema)]))])
    }

    static func response(_ description: String, _ schema: JSON?) -> JSON {
        var m: [(String, JSON)] = [("description", .string(description))]
        if let schema { m.append(("content", jsonContent(schema))) }
        return .object(m)
    }

    static let errorCodes: [(String, String)] = [
        ("400", "Malformed JSON (BAD_JSON) or a malformed HTTP request (BAD_REQUEST)"),
        ("401", "A token is needed or wrong (UNAUTHORIZED)"),
        ("403", "A cross-site state change, or a Host that is not loopback on a loopback bind (FORBIDDEN)"),
        ("404", "No such job or route (NOT_FOUND)"), ("409", "Not allowed in the job's status (CONFLICT)"),
        ("413", "Payload or body over the limit (PAYLOAD_TOO_LARGE)"),
        ("415", "A request body that is not Content-Type: application/json (UNSUPPORTED_MEDIA_TYPE)"),
        ("422", "Invalid argument, a malformed id, or an unknown query parameter (INVALID_ARGUMENT)"),
        ("429", "ENQUEUE_RATE_EXCEEDED or RATE_LIMITED; see Retry-After"),
        ("500", "Internal error"), ("503", "The database is unavailable (UNAVAILABLE); see Retry-After"),
    ]

    static func operation(_ summary: String, tag: String, params: [JSON] = [], body: JSON? = nil,
                          ok: [(String, String, JSON?)], security: Bool = true) -> JSON {
        var responses: [(String, JSON)] = ok.map { ($0.0, response($0.1, $0.2)) }
        for (code, desc) in errorCodes where !responses.contains(where: { $0.0 == code }) {
            responses.append((code, response(desc, ref("Error"))))
        }
        var m: [(String, JSON)] = [("summary", .string(summary)), ("tags", .array([.string(tag)]))]
        if !params.isEmpty { m.append(("parameters", .array(params))) }
        if let body { m.append(("requestBody", .object([("required", .bool(true)), ("content", jsonContent(body))]))) }
        m.append(("responses", .object(responses)))
        if !security { m.append(("security", .array([]))) }
        return .object(m)
    }

    static func query(_ name: String, _ schema: JSON, _ description: String) -> JSON {
        .object([("name", .string(name)), ("in", .string("query")), ("required", .bool(false)),
                 ("description", .string(description)), ("schema", schema)])
    }
    static let idParam: JSON = .object([("name", .string("id")), ("in", .string("path")), ("required", .bool(true)),
                                        ("schema", string)])
    static let nameParam: JSON = .object([("name", .string("name")), ("in", .string("path")), ("required", .bool(true)),
                                          ("schema", name)])
    static let limit = query("limit", type("integer", [("minimum", .int(1)), ("maximum", .int(1000))]), "1 to 1000")
    static let offset = query("offset", type("integer", [("minimum", .int(0))]), "rows to skip")
    static let listParams = [
        query("status", enumOf(statuses), "filter by status (archived lists the archive)"),
        query("queue", name, "filter by queue"), query("job_type", name, "filter by job type"),
        query("error_code", string, "filter by last error code"), dlqReason,
        query("scheduled", boolean, "queued jobs not due yet: backing off before a retry or scheduled for later (status must be absent or queued)"),
        query("tag", type("string", [("pattern", .string("^[A-Za-z0-9_.:/=-]{1,64}(,[A-Za-z0-9_.:/=-]{1,64}){0,15}$"))]),
              "jobs carrying every one of these comma-separated tags"),
        query("idempotency_key", type("string", [("minLength", .int(1)), ("maxLength", .int(255))]),
              "the job holding this idempotency key in `queue` (the default queue when queue is absent)"),
        limit, offset,
    ]
    static let dlqReason = query("dlq_reason", name, "filter by why the job was dead-lettered (MAX_ATTEMPTS_EXCEEDED, NON_RETRYABLE, TIMEOUT, ...)")

    static var paths: [(String, JSON)] {
        let jobOK: [(String, String, JSON?)] = [("200", "The job", ref("Job"))]
        var p: [(String, JSON)] = [
            ("/health", .object([("get", operation("Liveness and database reachability", tag: "system",
                                                   ok: [("200", "The database answers", ref("Health")),
                                                        ("503", "The database is down", ref("Health"))], security: false))])),
            ("/health/live", .object([("get", operation("Liveness probe: the process answers", tag: "system",
                                                        ok: [("200", "Live", type("object"))], security: false))])),
            ("/health/ready", .object([("get", operation("Readiness probe: the database answers with a usable schema", tag: "system",
                                                         ok: [("200", "Ready", type("object")),
                                                              ("503", "Not ready", type("object"))], security: false))])),
            ("/jobs", .object([
                ("get", operation("List jobs, newest first (capped total)", tag: "jobs", params: listParams,
                                  ok: [("200", "A page of jobs", ref("JobList"))])),
                ("post", operation("Enqueue a job (idempotent by body idempotency_key or Idempotency-Key header)", tag: "jobs",
                                   params: [.object([("name", .string("Idempotency-Key")), ("in", .string("header")),
                                                     ("required", .bool(false)), ("schema", string),
                                                     ("description", .string("UTF-8; a key that holds U+FFFD (as invalid bytes decode) is 422"))])],
                                   body: ref("NewJob"),
                                   ok: [("201", "Created", ref("EnqueueResult")),
                                        ("200", "An existing job with that idempotency key or unique match", ref("EnqueueResult"))])),
            ])),
            ("/jobs/batch", .object([("post", operation("Enqueue up to 1,000 jobs, taken or refused whole", tag: "jobs",
                                                        body: ref("Batch"), ok: [("201", "Taken", ref("BatchResult"))]))])),
            ("/jobs/{id}", .object([
                ("parameters", .array([idParam])),
                ("get", operation("One job (live or archived)", tag: "jobs", ok: jobOK)),
                ("delete", operation("Delete a job that is not running, with its history", tag: "jobs",
                                     ok: [("200", "Deleted", ref("Deleted"))])),
            ])),
            ("/jobs/{id}/timeline", .object([("parameters", .array([idParam])),
                ("get", operation("The job's story, derived from job and attempt rows", tag: "jobs",
                                  ok: [("200", "Timeline", ref("Timeline"))]))])),
            ("/jobs/{id}/explain", .object([("parameters", .array([idParam])),
                ("get", operation("Why the job is where it is", tag: "jobs", ok: [("200", "Explanation", ref("Explanation"))]))])),
            ("/jobs/{id}/retry", .object([("parameters", .array([idParam])),
                ("post", operation("Put a dlq or cancelled job back in the queue in place", tag: "jobs", ok: jobOK))])),
            ("/jobs/{id}/replay", .object([("parameters", .array([idParam])),
                ("post", operation("Run a finished job again as a new job (replay_of = original)", tag: "jobs",
                                   ok: [("201", "The new job", ref("EnqueueResult"))]))])),
            ("/jobs/{id}/cancel", .object([("parameters", .array([idParam])),
                ("post", operation("Cancel a queued or running job", tag: "jobs", ok: jobOK))])),
            ("/dlq", .object([("get", operation("Dead-lettered jobs, newest first", tag: "jobs",
                                                params: [query("queue", name, "filter by queue"), dlqReason, limit, offset],
                                                ok: [("200", "A page of jobs", ref("JobList"))]))])),
            ("/ingest/decisions", .object([("get", operation("Refused enqueues per (queue, reason, minute)", tag: "guardrails",
                                                             params: [limit, offset],
                                                             ok: [("200", "Decisions", ref("DecisionList"))]))])),
            ("/policy/decisions", .object([("get", operation("Queue-policy throttling per (queue, reason, minute)", tag: "guardrails",
                                                             params: [limit, offset],
                                                             ok: [("200", "Decisions", ref("DecisionList"))]))])),
            ("/queues", .object([("get", operation("Queues with their depths", tag: "queues", params: [limit, offset],
                                                   ok: [("200", "Queues", ref("QueueList"))]))])),
            ("/queues/{name}/pause", .object([("parameters", .array([nameParam])),
                ("post", operation("Pause a queue: no new starts on any worker", tag: "queues", ok: [("200", "The policy", ref("QueuePolicy"))]))])),
            ("/queues/{name}/resume", .object([("parameters", .array([nameParam])),
                ("post", operation("Resume a paused queue", tag: "queues", ok: [("200", "The policy", ref("QueuePolicy"))]))])),
            ("/queues/{name}/policy", .object([("parameters", .array([nameParam])),
                ("post", operation("Set the cap on running jobs and the start rate (null clears one; absent keeps it)", tag: "queues",
                                   body: ref("PolicyChange"), ok: [("200", "The policy", ref("QueuePolicy"))]))])),
            ("/queues/{name}/purge", .object([("parameters", .array([nameParam])),
                ("post", operation("Delete the queue's queued jobs (dry_run only counts)", tag: "queues",
                                   body: ref("PurgeRequest"), ok: [("200", "What matched and was deleted", ref("PurgeResult"))]))])),
            ("/schedules", .object([
                ("get", operation("Recurring jobs", tag: "schedules", params: [limit, offset], ok: [("200", "Schedules", ref("ScheduleList"))])),
                ("post", operation("Add or replace a recurring job", tag: "schedules", body: ref("NewSchedule"),
                                   ok: [("201", "The schedule", ref("Schedule"))])),
            ])),
            ("/schedules/{name}", .object([("parameters", .array([nameParam])),
                ("delete", operation("Remove a recurring job", tag: "schedules", ok: [("200", "Removed", ref("ScheduleDeleted"))]))])),
            ("/schedules/{name}/run", .object([("parameters", .array([nameParam])),
                ("post", operation("Enqueue one job of the schedule now (its slots are unchanged)", tag: "schedules",
                                   ok: [("201", "The new job", ref("EnqueueResult"))]))])),
            ("/flows", .object([
                ("get", operation("Flows (latest versions)", tag: "flows", params: [limit, offset], ok: [("200", "Flows", ref("FlowList"))])),
                ("post", operation("Define a flow (a changed definition adds a version)", tag: "flows", body: ref("FlowDefinition"),
                                   ok: [("201", "The stored definition", ref("Flow"))])),
            ])),
            ("/flows/{slug}/runs", .object([("parameters", .array([.object([("name", .string("slug")), ("in", .string("path")),
                                                                              ("required", .bool(true)), ("schema", name)])])),
                ("post", operation("Start a run with an input", tag: "flows", body: ref("RunInput"),
                                   ok: [("201", "The run", ref("Run"))]))])),
            ("/flows/{slug}/runs/batch", .object([("parameters", .array([.object([("name", .string("slug")), ("in", .string("path")),
                                                                                    ("required", .bool(true)), ("schema", name)])])),
                ("post", operation("Start up to 1,000 runs in one transaction, taken or refused whole", tag: "flows", body: ref("RunBatch"),
                                   ok: [("201", "The runs' ids, in input order", ref("RunBatchResult"))]))])),
            ("/runs", .object([("get", operation("Runs, newest first", tag: "flows",
                                                 params: [query("flow", name, "filter by flow"),
                                                          query("status", enumOf(RunStatus.allCases.map(\.rawValue)), "filter by status"),
                                                          limit, offset],
                                                 ok: [("200", "Runs", ref("RunList"))]))])),
            ("/runs/{id}", .object([("parameters", .array([idParam])),
                ("get", operation("A run: steps, states, outputs, timings", tag: "flows", ok: [("200", "The run", ref("Run"))]))])),
            ("/runs/{id}/cancel", .object([("parameters", .array([idParam])),
                ("post", operation("Cancel a running run and its step jobs", tag: "flows", ok: [("200", "The run", ref("Run"))]))])),
            ("/maintenance/runs", .object([("get", operation("Recorded maintenance runs, newest first", tag: "maintenance",
                                                             params: [limit], ok: [("200", "Runs", ref("MaintenanceRunList"))]))])),
            ("/workers", .object([("get", operation("Registered workers", tag: "workers", params: [limit, offset],
                                                    ok: [("200", "Workers", ref("WorkerList"))]))])),
            ("/metrics", .object([("get", operation("Cluster-wide metrics over the last 60 s", tag: "metrics",
                                                    ok: [("200", "Metrics", ref("Metrics"))]))])),
            ("/metrics/history", .object([("get", operation(
                "Jobs that ended per queue and UTC day (and per hour over the last 48 h), rolled up from attempts by the maintenance leader; kept after the jobs are archived and deleted",
                tag: "metrics",
                params: [query("days", type("integer", [("minimum", .int(1)), ("maximum", .int(90))]), "days back, today included (default 7)"),
                         query("queue", name, "only this queue")],
                ok: [("200", "Totals", ref("TotalsHistory"))]))])),
            ("/metrics/prom", .object([("get", .object([
                ("summary", .string("Prometheus text exposition")), ("tags", .array([.string("metrics")])),
                ("responses", .object([("200", .object([("description", .string("Prometheus text format 0.0.4")),
                                                        ("content", .object([("text/plain", .object([("schema", string)]))]))]))]
                                      + errorCodes.filter { ["400", "401", "403", "422", "500", "503"].contains($0.0) }.map { ($0.0, response($0.1, ref("Error"))) })),
            ]))])),
            ("/openapi.json", .object([("get", operation("This document", tag: "system",
                                                         ok: [("200", "OpenAPI 3.1", type("object"))]))])),
        ]
        for action in BulkAction.allCases {
            p.append(("/jobs/bulk/\(action.rawValue)", .object([("post", operation(
                "Bulk \(action.rawValue) of jobs matching a filter (capped; dry_run counts only)", tag: "jobs",
                body: ref("BulkRequest"), ok: [("200", "What matched and changed", ref("BulkResult"))]))])))
        }
        return p
    }

    static let document: JSON = .object([
        ("openapi", .string("3.1.0")),
        ("info", .object([("title", .string("portableq admin API")), ("version", .string(PortableqVersion.string)),
                          ("description", .string("Jobs, DLQ, guardrails, queues, workers and metrics of a portableq database. With API_TOKEN set, send x-api-key or Authorization: Bearer on every endpoint but /health and the dashboard."))])),
        ("servers", .array([.object([("url", .string("/"))])])),
        ("components", .object([
            ("schemas", .object(schemas)),
            ("securitySchemes", .object([
                ("apiKey", .object([("type", .string("apiKey")), ("in", .string("header")), ("name", .string("x-api-key"))])),
                ("bearer", .object([("type", .string("http")), ("scheme", .string("bearer"))])),
            ])),
        ])),
        ("security", .array([.object([("apiKey", .array([]))]), .object([("bearer", .array([]))]), .object([])])),
        ("paths", .object(paths)),
    ])
}
