import Foundation
import MHSContract
import MHSSecrets
import AsyncHTTPClient
import MHSTransport

/// The end of every run, however it ended: partial results when the deadline or a signal
/// stopped the classifier, `run-report.json` (redacted), and the debug bundle when
/// `DEBUG_FILE_UPLOAD_URL` is set.
package struct ReportStage: Sendable {
    package var console: Console
    package var recorder: RunRecorder
    /// The task's HTTP client, for the debug bundle's PUT.
    package var client: HTTPClient

    package init(console: Console, recorder: RunRecorder, client: HTTPClient = .shared) {
        self.console = console
        self.recorder = recorder
        self.client = client
    }

    /// - Parameters:
    ///   - configuration: nil when the environment was unusable.
    ///   - fallbackOutput: where the report goes then (`MHS_OUTPUT_DIR` as given, or `/output`).
    ///   - resultsKept: whether validated results were saved (no partial results then).
    ///   - resultPNG: `result.png`, for the bundle.
    package func run(
        status: ExitStatus, message: String?, configuration: TaskConfiguration?, fallbackOutput: String, resultsKept: Bool,
        resultPNG: String?
    ) async {
        if [.deadline, .terminated, .interrupted].contains(status), let env = configuration, !resultsKept,
            let partial = recorder.partial.body, let bytes = try? MHSJSON.encode(partial)
        {
            let path = env.outputDirectory + "/results.partial.json"
            if (try? Data(bytes).write(to: URL(fileURLWithPath: path))) != nil {
                console.say("Partial results the classifier kept were saved to \(path) (not posted)")
            }
        }
        recorder.update {
            $0.exitStatus = status
            $0.message = message
            $0.finishedAt = Date()
        }
        // The classifier's facts are free-form: the whole report goes through the redactor.
        let encoded = (try? MHSJSON.encode(recorder.report.json)) ?? []
        let reportBytes = Array(console.redact(String(decoding: encoded, as: UTF8.self)).utf8)
        // Even when the environment was unusable, leave the report where it would go.
        let outputDirectory = configuration?.outputDirectory ?? fallbackOutput
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: outputDirectory, isDirectory: &isDirectory), isDirectory.boolValue {
            try? Data(reportBytes).write(to: URL(fileURLWithPath: outputDirectory + "/run-report.json"))
        }
        guard let env = configuration, let uploadURL = env.debugUploadURL else { return }
        var summary = "task \(env.taskID) scan \(env.scanID)\nHOST base \(env.apiBaseURL)\n"
        let listed: Set<String> = ["HOST", "TASK_ID", "SCAN_ID", "SCAN_URL", "SCAN_URL_ZIP", "API_KEY_ID", "DEBUG_FILE_UPLOAD_URL"]
        for key in env.settings.keys.sorted() where listed.contains(key) || key.hasPrefix("MHS_") {
            summary += "\(key)=\(console.redact(env.settings[key] ?? ""))\n"
        }
        switch env.credentials {
        case .jwt: summary += "JWT_TOKEN=(set, not shown)\n"
        case .apiKey: summary += "API_KEY_SECRET=(set, not shown)\n"
        }
        var files: [(String, [UInt8])] = [
            ("run-report.json", reportBytes), ("environment.txt", Array(console.redact(summary).utf8)),
            ("run.log", Array((console.transcript.joined(separator: "\n") + "\n").utf8)),
        ]
        if let png = resultPNG, let data = FileManager.default.contents(atPath: png) { files.append(("result.png", Array(data))) }
        do {
            let zip = try DebugBundle.zip(files)
            try await TechcyteAPI(baseURL: env.apiBaseURL, client: client, redactor: Redactor(secrets: env.secrets)).uploadDebugBundle(to: uploadURL, bytes: zip)
            console.say("Debug bundle uploaded (\(zip.count) bytes: \(files.map(\.0).joined(separator: ", ")))")
        } catch {
            console.say("WARNING: the debug bundle could not be uploaded: \(error)")
        }
    }
}
