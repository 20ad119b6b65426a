import Foundation
import MHSContract

/// What `run-report.json` says about a run: one typed field per fact, filled in by the
/// stages as they go, plus what the classifier recorded (``ClassifierMetrics``).
public struct RunReport: Sendable, Equatable {
    /// One stage's outcome: how long it took and a short summary.
    public struct StageTiming: Sendable, Equatable {
        public var name: String
        public var seconds: Double
        public var detail: String
    }

    /// How the scan was downloaded.
    public struct Download: Sendable, Equatable {
        public var bytes: Int
        public var seconds: Double
        public var ranged: Bool
        public var retries: Int
        public var etagVerified: Bool
    }

    /// The opened slide.
    public struct SlideFacts: Sendable, Equatable {
        public var vendor: String?
        public var width: Int
        public var height: Int
        public var levels: Int
        public var mpp: Double?
    }

    public var gpu: String?
    public var gpuCheck: String?
    public var taskID: String?
    public var scanID: String?
    public var classifier: String?
    public var download: Download?
    /// The sniffed format of the download.
    public var format: String?
    /// What the crash-contained probe found ("readable" or the problem).
    public var probe: String?
    /// Whether the probe's thumbnail was used instead of reading it again.
    public var thumbnailFromProbe: Bool?
    public var slide: SlideFacts?
    /// GeoJSON features in the results.
    public var annotations: Int?
    /// Whether the platform has the results (nil: the run did not get as far as posting).
    public var posted: Bool?
    public var stages: [StageTiming] = []
    /// What the classifier recorded through ``ClassifierContext/metrics``.
    public var classifierFacts: JSONObject = [:]
    public var exitStatus: ExitStatus?
    public var message: String?
    public var startedAt: Date?
    public var finishedAt: Date?

    public init() {}

    /// The report as `run-report.json` writes it (keys as documented in the README).
    public var json: JSONValue {
        var o = JSONObject()
        func put(_ key: String, _ value: JSONValue?) { if let value { o[key] = value } }
        put("gpu", gpu.map(JSONValue.string))
        put("gpu_check", gpuCheck.map(JSONValue.string))
        put("task_id", taskID.map(JSONValue.string))
        put("scan_id", scanID.map(JSONValue.string))
        put("classifier", classifier.map(JSONValue.string))
        put("download", download.map {
            ["bytes": .int(Int64($0.bytes)), "seconds": .double($0.seconds), "ranged": .bool($0.ranged),
             "retries": .int(Int64($0.retries)), "etag_verified": .bool($0.etagVerified)]
        })
        put("format", format.map(JSONValue.string))
        put("probe", probe.map(JSONValue.string))
        put("thumbnail_from_probe", thumbnailFromProbe.map(JSONValue.bool))
        put("slide", slide.map {
            ["vendor": $0.vendor.map(JSONValue.string) ?? .null, "width": .int(Int64($0.width)), "height": .int(Int64($0.height)),
             "levels": .int(Int64($0.levels)), "mpp": $0.mpp.map(JSONValue.double) ?? .null]
        })
        put("annotations", annotations.map { .int(Int64($0)) })
        put("posted", posted.map(JSONValue.bool))
        // What the classifier reported, also when it failed or was cancelled; mhs's own
        // facts win a clash.
        for (key, value) in classifierFacts where o[key] == nil { o[key] = value }
        put("exit_status", exitStatus.map { .int(Int64($0.rawValue)) })
        put("outcome", exitStatus.map { .string($0.meaning) })
        put("message", message.map(JSONValue.string))
        put("started_at", startedAt.map { .string($0.formatted(.iso8601)) })
        put("finished_at", finishedAt.map { .string($0.formatted(.iso8601)) })
        o["stages"] = .array(stages.map { ["name": .string($0.name), "seconds": .double($0.seconds), "detail": .string($0.detail)] })
        return .object(o)
    }
}
