import Foundation

/// What a step handler sees: the run input and its dependencies' outputs.
public struct FlowStepContext: Sendable {
    public let job: JobContext
    /// The step's payload: `{"run": input, "<dependency>": output, ...}`.
    public let payload: JSON

    public var runId: String { job.job.runId ?? "" }
    public var step: String { job.job.stepSlug ?? "" }
    public var input: JSON { payload["run"] ?? .null }
    public func output(of step: String) -> JSON? { payload[step] }
    /// In a map step, the payload is the element itself.
    public var element: JSON { payload }

    public func decodeInput<T: Decodable>(_ type: T.Type) throws -> T { try decode(input, as: type) }
    public func decodeOutput<T: Decodable>(of step: String, as type: T.Type) throws -> T { try decode(payload[step] ?? .null, as: type) }

    func decode<T: Decodable>(_ value: JSON, as: T.Type) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(value.compact.utf8)) } catch {
            throw JobError.badPayload("does not decode as \(T.self): \(error)")
        }
    }
}

/// A step in the Swift DSL: its place in the graph and its handler.
public struct Step: Sendable {
    public let slug: String
    public let dependsOn: [String]
    public let queue: String
    public let jobType: String?
    public let maxAttempts: Int?
    public let baseDelaySeconds: Double?
    public let timeoutSeconds: Int?
    /// A map step: the dotted path of the array it fans out over (one job per element).
    public let map: String?
    public let maxElements: Int?
    public let handler: @Sendable (FlowStepContext) async throws -> String?

    /// A step whose handler returns an Encodable output (encoded once, stored as is).
    public init<O: Encodable & Sendable>(_ slug: String, dependsOn: [String] = [], queue: String = "default", jobType: String? = nil,
                                         maxAttempts: Int? = nil, baseDelaySeconds: Double? = nil, timeoutSeconds: Int? = nil,
                                         map: String? = nil, maxElements: Int? = nil,
                                         _ body: @escaping @Sendable (FlowStepContext) async throws -> O) {
        self.slug = slug; self.dependsOn = dependsOn; self.queue = queue; self.jobType = jobType
        self.maxAttempts = maxAttempts; self.baseDelaySeconds = baseDelaySeconds; self.timeoutSeconds = timeoutSeconds
        self.map = map; self.maxElements = maxElements
        self.handler = { ctx in String(decoding: try JSONEncoder().encode(try await body(ctx)), as: UTF8.self) }
    }
}

@resultBuilder
public enum FlowBuilder {
    public static func buildBlock(_ steps: [Step]...) -> [Step] { steps.flatMap { $0 } }
    public static func buildExpression(_ step: Step) -> [Step] { [step] }
    public static func buildArray(_ steps: [[Step]]) -> [Step] { steps.flatMap { $0 } }
    public static func buildOptional(_ steps: [Step]?) -> [Step] { steps ?? [] }
    public static func buildEither(first: [Step]) -> [Step] { first }
    public static func buildEither(second: [Step]) -> [Step] { second }
}

/// A flow defined in Swift, with the handlers of its steps:
///
///     let order = Flow("order", maxAttempts: 3, baseDelaySeconds: 2) {
///         Step("validate") { ctx in try ctx.decodeInput(Order.self).isValid }
///         Step("charge", dependsOn: ["validate"]) { ctx in try await charge(ctx.input) }
///         Step("ship", dependsOn: ["charge"]) { ctx in try await ship(ctx.output(of: "charge")) }
///     }
///     try await client.defineFlow(order.definition)
///     worker.register(order)
///     try await client.startFlow("order", inputJSON: #"{"id":42}"#)
public struct Flow: Sendable {
    public let slug: String
    public let steps: [Step]
    public let definition: FlowDefinition

    public init(_ slug: String, maxAttempts: Int? = nil, baseDelaySeconds: Double? = nil, timeoutSeconds: Int? = nil,
                @FlowBuilder steps: () -> [Step]) {
        self.slug = slug
        self.steps = steps()
        definition = FlowDefinition(slug: slug, maxAttempts: maxAttempts, baseDelaySeconds: baseDelaySeconds,
                                    timeoutSeconds: timeoutSeconds, steps: self.steps.map { s in
            FlowStep(slug: s.slug, jobType: s.jobType, queue: s.queue, dependsOn: s.dependsOn, maxAttempts: s.maxAttempts,
                     baseDelaySeconds: s.baseDelaySeconds, timeoutSeconds: s.timeoutSeconds, map: s.map, maxElements: s.maxElements,
                     flow: slug)
        })
    }
}

extension Worker {
    /// Registers each step's handler under its job type (`<flow>.<step>` unless given).
    public func register(_ flow: Flow) {
        for (step, def) in zip(flow.steps, flow.definition.steps) {
            let handler = step.handler
            register(def.jobType) { ctx in
                let payload = try JSON.parse(ctx.job.payload)
                return try await handler(FlowStepContext(job: ctx, payload: payload))
            }
        }
    }
}
