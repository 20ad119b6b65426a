import OrderedCollections

/// The body of `POST /external/results/{task_id}`: everything one task reports.
///
/// Posting it completes the task and appends one evaluation per scan; it is sent once.
public struct ResultsBody: Sendable, Hashable, Codable {
    /// Free-form case-level results (shown as the evaluation's `caseReport`).
    public var caseResults: JSONObject?
    /// One entry per scan of the task.
    public var scanResults: [ScanResult]

    public init(caseResults: JSONObject? = nil, scanResults: [ScanResult]) {
        self.caseResults = caseResults
        self.scanResults = scanResults
    }

    public enum CodingKeys: String, CodingKey { case caseResults, scanResults }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        caseResults = try c.decodeObjectIfPresent(forKey: .caseResults)
        scanResults = try c.decode([ScanResult].self, forKey: .scanResults)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let caseResults { try c.encode(JSONValue.object(caseResults), forKey: .caseResults) }
        try c.encode(scanResults, forKey: .scanResults)
    }
}

/// The QC verdict of a scan, with the platform's three distinct meanings.
public enum QCFailReasons: Sendable, Hashable {
    /// `qcFailReasons` omitted: the scan's QC state is left as it is.
    case untouched
    /// `qcFailReasons: []`: the scan passes QC.
    case passed
    /// `qcFailReasons: [...]`: the scan fails QC for these reasons. Unknown labels are
    /// kept by the platform as free-text "other" reasons.
    case failed([String])

    /// The array written, or nil when the key is omitted.
    public var reasons: [String]? {
        switch self {
        case .untouched: nil
        case .passed: []
        case .failed(let r): r
        }
    }

    /// Maps a decoded array (or its absence) to the three states.
    public init(reasons: [String]?) {
        switch reasons {
        case nil: self = .untouched
        case let r? where r.isEmpty: self = .passed
        case let r?: self = .failed(r)
        }
    }
}

/// What a task reports for one scan.
public struct ScanResult: Sendable, Hashable, Codable {
    /// The scan's id, a numeric string; must be one of the task's scans.
    public var scanId: String
    /// The AI-workflow report shown in Techcyte's workflow panel.
    public var workflow: AiWorkflow?
    /// Free-form results. `external_url` (a string) becomes a link; `summary`, if present,
    /// must be a string or the request is rejected.
    public var results: JSONObject?
    /// Annotations drawn on the scan; each feature needs a string `annotation_type`.
    public var geojson: FeatureCollection?
    /// The QC verdict; ``QCFailReasons/untouched`` omits the key.
    public var qcFailReasons: QCFailReasons

    public init(
        scanId: String, workflow: AiWorkflow? = nil, results: JSONObject? = nil, geojson: FeatureCollection? = nil,
        qcFailReasons: QCFailReasons = .untouched
    ) {
        self.scanId = scanId
        self.workflow = workflow
        self.results = results
        self.geojson = geojson
        self.qcFailReasons = qcFailReasons
    }

    public enum CodingKeys: String, CodingKey { case scanId, workflow, results, geojson, qcFailReasons }

    /// Members of `results` the platform reads itself: `summary` (a string shown with the
    /// scan) and `external_url` (a link).
    public enum ResultKey: String, CodingKey { case summary, externalURL = "external_url" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        scanId = try c.decode(String.self, forKey: .scanId)
        workflow = try c.decodeIfPresent(AiWorkflow.self, forKey: .workflow)
        results = try c.decodeObjectIfPresent(forKey: .results)
        geojson = try c.decodeIfPresent(FeatureCollection.self, forKey: .geojson)
        qcFailReasons = QCFailReasons(reasons: try c.decodeIfPresent([String].self, forKey: .qcFailReasons))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(scanId, forKey: .scanId)
        try c.encodeIfPresent(workflow, forKey: .workflow)
        if let results { try c.encode(JSONValue.object(results), forKey: .results) }
        try c.encodeIfPresent(geojson, forKey: .geojson)
        try c.encodeIfPresent(qcFailReasons.reasons, forKey: .qcFailReasons)
    }
}

/// The AI-workflow part of a scan result: which model said what, and its report.
public struct AiWorkflow: Sendable, Hashable, Codable {
    public var modelName: String
    public var provider: String
    /// Research use only.
    public var ruo: Bool
    /// Optional headline label.
    public var key: String?
    /// Optional headline value.
    public var value: String?
    public var report: Report?

    public init(
        modelName: String, provider: String, ruo: Bool, key: String? = nil, value: String? = nil, report: Report? = nil
    ) {
        self.modelName = modelName
        self.provider = provider
        self.ruo = ruo
        self.key = key
        self.value = value
        self.report = report
    }

    public enum CodingKeys: String, CodingKey {
        case modelName = "model_name"
        case provider, ruo, key, value, report
    }
}

// MARK: - Fast JSON
//
// Members named by `CodingKeys`, the one spelling.

extension AiWorkflow: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.member(CodingKeys.modelName, first: true)
        w.string(modelName)
        w.member(CodingKeys.provider)
        w.string(provider)
        w.member(CodingKeys.ruo)
        w.bool(ruo)
        if let key {
            w.member(CodingKeys.key)
            w.string(key)
        }
        if let value {
            w.member(CodingKeys.value)
            w.string(value)
        }
        if let report {
            w.member(CodingKeys.report)
            report.writeJSON(to: &w)
        }
        w.byte(UInt8(ascii: "}"))
    }
}

extension ScanResult: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.member(CodingKeys.scanId, first: true)
        w.string(scanId)
        if let workflow {
            w.member(CodingKeys.workflow)
            workflow.writeJSON(to: &w)
        }
        if let results {
            w.member(CodingKeys.results)
            w.object(results)
        }
        if let geojson {
            w.member(CodingKeys.geojson)
            geojson.writeJSON(to: &w)
        }
        if let reasons = qcFailReasons.reasons {
            w.member(CodingKeys.qcFailReasons)
            w.array(reasons) { w, r in w.string(r) }
        }
        w.byte(UInt8(ascii: "}"))
    }
}

extension ResultsBody: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        var first = true
        if let caseResults {
            w.member(CodingKeys.caseResults, first: true)
            w.object(caseResults)
            first = false
        }
        w.member(CodingKeys.scanResults, first: first)
        w.array(scanResults)
        w.byte(UInt8(ascii: "}"))
    }
}
