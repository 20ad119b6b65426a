import Foundation
import MHSContract

/// One scan the emulator serves.
public struct EmulatedScan: Sendable {
    /// Numeric scan id, as the platform issues them.
    public let id: String
    /// What `--slide` named: a file, a DICOM series folder, or a zip of one.
    public let source: String
    /// The file served at SCAN_URL.
    public let servedFile: String
    /// The zip served at SCAN_URL_ZIP (DICOM series only).
    public let zipFile: String?
    /// A file OpenSlide opens for this scan (a file of the series for DICOM).
    public let slideFile: String
    /// Random object key used in the presigned URL paths.
    let objectKey: String
    /// How many regions the scan has on the platform; results are rejected unless 1.
    public let regions: Int
    /// Level-0 size when the emulator could open the slide.
    public let size: SlideSize?
    /// OpenSlide's vendor, or why the slide is unreadable.
    public let readable: Bool
    public let detail: String
    /// Size and ETag of the served file.
    let servedSize: Int
    let servedETag: String
    let zipSize: Int?
    let zipETag: String?
}

/// One AI task: one scan here, in a case of its own.
public struct EmulatedTask: Sendable {
    public let number: Int
    public let caseId: Int
    public let scans: [EmulatedScan]
    /// `TASK_ID` as the platform hands it over: base64 of `task:<n>`.
    public var taskID: String { TaskID.encoded(number) }
}

/// An evaluation appended by a results POST, as `case_evaluations` returns it.
public struct Evaluation: Sendable {
    public let id: Int
    public let scanId: String
    public let caseId: Int
    public let taskNumber: Int
    public let details: JSONObject
    /// Set when this task had already posted: the real platform appends a second
    /// evaluation; the emulator does too, and flags it.
    public let duplicate: Bool
    public let postedAt: Date
}

/// What a results POST carried, kept for the web page.
public struct PostedResults: Sendable {
    public let taskNumber: Int
    public let body: JSONValue
    public let postedAt: Date
    public let duplicate: Bool
}

/// A debug bundle PUT to DEBUG_FILE_UPLOAD_URL.
public struct DebugUpload: Sendable {
    public let taskNumber: Int
    public let bytes: Int
    public let entries: [String]
    /// The zip itself (kept up to 64 MiB), so tests can look inside.
    public let data: [UInt8]
    public let error: String?
    public let uploadedAt: Date
}

/// One request as it crossed the wire, secrets redacted.
public struct CallRecord: Sendable {
    public let at: Date
    public let method: String
    public let path: String
    public let status: Int
    public let bytesIn: Int
    public let bytesOut: Int
    public let fault: String?
    /// `completed`, or `dropped` when the connection was closed without a full answer.
    public let outcome: String
}

/// The emulator's mutable state: tasks, evaluations, uploads, faults and the call record.
actor Platform {
    let tasks: [EmulatedTask]
    private(set) var evaluations: [Evaluation] = []
    private(set) var posts: [PostedResults] = []
    private(set) var uploads: [DebugUpload] = []
    private(set) var triage: [Int: JSONObject] = [:]
    private(set) var calls: [CallRecord] = []
    private(set) var completed: Set<Int> = []
    private var faultPlan = FaultPlan()
    private var nextEvaluationID = 900_001

    init(tasks: [EmulatedTask], faults: [Fault]) {
        self.tasks = tasks
        for f in faults { faultPlan.add(f) }
    }

    func task(number: Int) -> EmulatedTask? { tasks.first { $0.number == number } }

    func takeFaults(_ route: Fault.Route) -> [Fault.Kind] { faultPlan.take(route) }
    func addFault(_ fault: Fault) { faultPlan.add(fault) }
    func clearFaults() { faultPlan.clear() }
    var activeFaults: [Fault] { faultPlan.faults }

    func record(_ call: CallRecord) { calls.append(call) }

    /// Stores a validated results body: one evaluation per scan result; completes the task.
    func apply(results body: JSONValue, task: EmulatedTask) -> [Evaluation] {
        let duplicate = completed.contains(task.number)
        completed.insert(task.number)
        posts.append(PostedResults(taskNumber: task.number, body: body, postedAt: Date(), duplicate: duplicate))
        var added: [Evaluation] = []
        for scan in body["scanResults"]?.arrayValue ?? [] {
            var details = JSONObject()
            var report = scan["results"]?.objectValue ?? [:]
            let url = report.removeValue(forKey: "external_url")
            details["report"] = .object(report)
            if let url, case .string = url { details["external_url"] = url }
            if let caseResults = body["caseResults"], caseResults != .null { details["caseReport"] = caseResults }
            let evaluation = Evaluation(
                id: nextEvaluationID, scanId: scan["scanId"]?.stringValue ?? "", caseId: task.caseId, taskNumber: task.number,
                details: details, duplicate: duplicate, postedAt: Date())
            nextEvaluationID += 1
            evaluations.append(evaluation)
            added.append(evaluation)
        }
        return added
    }

    func setTriage(caseId: Int, _ update: JSONObject) {
        var current = triage[caseId] ?? [:]
        for (k, v) in update { current[k] = v }
        triage[caseId] = current
    }

    func addUpload(_ upload: DebugUpload) { uploads.append(upload) }

    func evaluations(caseId: Int) -> [Evaluation] { evaluations.filter { $0.caseId == caseId } }
}
