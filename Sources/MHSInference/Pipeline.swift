import AsyncAlgorithms
import Synchronization

/// Busy time of one stage, summed over its calls (from any number of tasks).
public final class StageClock: Sendable {
    public let name: String
    /// How many of the stage run at once (its busy time is compared with wall × workers).
    public let workers: Int
    private let state = Mutex((busy: Duration.zero, calls: 0))

    public init(_ name: String, workers: Int = 1) {
        self.name = name
        self.workers = max(1, workers)
    }

    /// Runs `body` and adds its duration.
    public func measure<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        let start = ContinuousClock.now
        defer { add(ContinuousClock.now - start) }
        return try body()
    }

    /// Adds a duration measured elsewhere.
    public func add(_ d: Duration, calls: Int = 1) { state.withLock { $0.busy += d; $0.calls += calls } }

    public var busy: Duration { state.withLock { $0.busy } }
    public var calls: Int { state.withLock { $0.calls } }
}

/// Where the time of a staged computation went: per-stage busy time against wall time.
public struct PipelineTimings: Sendable, CustomStringConvertible {
    public struct Stage: Sendable {
        public var name: String
        public var busySeconds: Double
        public var calls: Int
        public var workers: Int
        /// busy / (wall × workers).
        public var utilisation: Double
    }

    public var wallSeconds: Double
    public var stages: [Stage]
    /// Whether reading and preprocessing ran alongside inference.
    public var overlapped: Bool

    public init(wall: Duration, clocks: [StageClock], overlapped: Bool) {
        let w = wall / .seconds(1)
        wallSeconds = w
        self.overlapped = overlapped
        stages = clocks.map { c in
            let b = c.busy / .seconds(1)
            return Stage(name: c.name, busySeconds: b, calls: c.calls, workers: c.workers, utilisation: w > 0 ? b / (w * Double(c.workers)) : 0)
        }
    }

    public func stage(_ name: String) -> Stage? { stages.first { $0.name == name } }

    /// e.g. `read 1.20 s (2 workers, 45%), preprocess 0.10 s, inference 2.00 s (85%) of 2.35 s wall, overlapped`.
    public var description: String {
        let parts = stages.map { s in
            let workers = s.workers > 1 ? "\(s.workers) workers, " : ""
            return "\(s.name) \(Self.format(s.busySeconds)) s busy (\(workers)\(Int((s.utilisation * 100).rounded()))%)"
        }
        return parts.joined(separator: ", ") + " of \(Self.format(wallSeconds)) s wall" + (overlapped ? ", overlapped" : ", sequential")
    }

    static func format(_ v: Double) -> String {
        let hundredths = Int((v * 100).rounded())
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }
}

/// Producer/consumer overlap for model inference: `prepare` (decode, pack into a tensor)
/// runs in its own task up to `depth` batches ahead of `consume` (run the model, read its
/// output), through a bounded buffer, so the model is not kept waiting for pixels and the
/// pixels do not pile up in memory.
public enum Overlap {
    public static func run<Source: AsyncSequence & Sendable, Prepared: Sendable>(
        _ source: Source, depth: Int = 2,
        prepare: @escaping @Sendable (Source.Element) throws -> Prepared,
        consume: (Prepared) async throws -> Void
    ) async throws where Source.Element: Sendable {
        let prepared = source.map(prepare).buffer(policy: .bounded(max(1, depth)))
        for try await item in prepared {
            try await consume(item)
        }
    }
}
