import Foundation
import MHSContract
import MHSDynamicLibrary
import MHSGPU
import MHSTransport

/// Every problem with the task environment, named at once.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var problems: [String]
    public var description: String {
        "the task environment is not usable (\(problems.count) problem\(problems.count == 1 ? "" : "s")):\n"
            + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// Everything a task runs with, parsed once from the variables the platform hands a
/// container (and mhs's own) and passed to every component: no library reads the process
/// environment.
public struct TaskConfiguration: Sendable {
    /// The API base, e.g. `https://api.app.techcyte.com/api/v3`.
    public var apiBaseURL: String
    /// `TASK_ID` exactly as given (the API accepts it as is).
    public var taskID: String
    /// The task number inside `TASK_ID`.
    public var taskNumber: Int
    public var scanID: String
    public var scanURL: String
    /// Set for DICOM: the whole series as a zip.
    public var scanZipURL: String?
    public var credentials: Credentials
    public var debugUploadURL: String?
    /// `MHS_OUTPUT_DIR`, default `/output`.
    public var outputDirectory: String
    /// `MHS_WORK_DIR`, default `/tmp`.
    public var workDirectory: String
    /// `MHS_CLASSIFIER`, when set (checked against the package's classifiers when
    /// ``parse(_:classifiers:processorCount:)`` is given them).
    public var classifierName: String?
    /// `MHS_DEADLINE` in seconds (default 90 minutes): when the platform stops the task,
    /// counted from the start of the run.
    public var deadline: Double
    /// `MHS_POST_MARGIN` in seconds (default 5 minutes, at most half the deadline): kept
    /// for posting; the classifier is cancelled when only this much is left.
    public var postMargin: Double
    /// `MHS_DOWNLOAD_CONNECTIONS`, when set.
    public var downloadConnections: Int?
    /// `MHS_DOWNLOAD_PART_MB`, when set.
    public var downloadPartMB: Int?
    /// `MHS_INFERENCE_DEVICE`: `auto` (default), `cpu` or `cuda`.
    public var inferenceDevice: ComputeDevice = .auto
    /// `MHS_POST_CONFIRM_WINDOW` in seconds (default 60): how long `case_evaluations` is
    /// asked after an ambiguous answer to the results POST before concluding it was not stored.
    public var postConfirmWindow: Double = 60
    /// `MHS_PROBE_TIMEOUT` in seconds (default 120): how long the child process that first
    /// opens and reads the slide may take.
    public var probeTimeout: Double = 120
    /// Where OpenSlide, ONNX Runtime, the CUDA driver and cuBLAS are looked for
    /// (`MHS_OPENSLIDE_LIB`, `MHS_ONNXRUNTIME_LIB`, `MHS_CUDA_LIB`, `MHS_CUBLAS_LIB`,
    /// `VIRTUAL_ENV`, `HOME`).
    public var libraries = LibraryLocations()
    /// Processors the task may use (the entry point measures them).
    public var processorCount = 1
    /// `MHS_CA_FILE`, else `SSL_CERT_FILE`: certificates (PEM) trusted beside the system's,
    /// for a platform — or `mhs emulator --tls` — whose certificate a private CA signed.
    public var caFile: String?
    /// Every variable given, but the secrets (`JWT_TOKEN`, `API_KEY_SECRET`): a
    /// classifier's own settings (``ClassifierContext/setting(_:)``) and the debug bundle's
    /// `environment.txt` read them here.
    public var settings: [String: String] = [:]

    /// The variables that hold secrets, never kept in ``settings``.
    public static let secretVariables: Set<String> = ["JWT_TOKEN", "API_KEY_SECRET"]

    /// Values that must never be printed.
    public var secrets: [String] {
        switch credentials {
        case .jwt(let token): [token]
        case .apiKey(_, let secret): [secret]
        }
    }

    /// Reads the environment; reports every missing or malformed variable in one error.
    /// - Parameters:
    ///   - classifiers: the names `MHS_CLASSIFIER` may take; nil accepts any.
    ///   - processorCount: the processors the task may use.
    public static func parse(
        _ env: [String: String], classifiers: [String]? = nil, processorCount: Int = Processors.online
    ) throws(ConfigurationError) -> TaskConfiguration {
        var problems: [String] = []
        func value(_ name: String) -> String? {
            guard let v = env[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
            return v
        }
        func url(_ name: String, required: Bool) -> String? {
            guard let v = value(name) else {
                if required { problems.append("\(name) is missing (a presigned http(s) URL)") }
                return nil
            }
            guard let u = URL(string: v), let scheme = u.scheme?.lowercased(), scheme == "http" || scheme == "https", u.host != nil else {
                problems.append("\(name) is not an http(s) URL")
                return nil
            }
            return v
        }

        var base = ""
        if let host = value("HOST") {
            if host.contains("://") {
                if let u = URL(string: host), let scheme = u.scheme?.lowercased(), ["http", "https"].contains(scheme), u.host != nil {
                    base = host.hasSuffix("/") ? String(host.dropLast()) : host
                } else {
                    problems.append("HOST '\(host)' has a scheme but is not an http(s) URL")
                }
            } else if host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" }) {
                base = "https://api.\(host)/api/v3"
            } else {
                problems.append("HOST '\(host)' is not a host name such as app.techcyte.com (or a base URL with a scheme)")
            }
        } else {
            problems.append("HOST is missing (the Techcyte host, e.g. app.techcyte.com)")
        }

        var taskNumber = 0
        let taskID = value("TASK_ID") ?? ""
        if taskID.isEmpty {
            problems.append("TASK_ID is missing")
        } else if let n = TaskID.number(taskID) {
            taskNumber = n
        } else {
            problems.append("TASK_ID '\(taskID)' is neither a task number nor base64 of task:<number>")
        }

        let scanID = value("SCAN_ID") ?? ""
        if scanID.isEmpty {
            problems.append("SCAN_ID is missing")
        } else if !scanID.allSatisfy(\.isASCII) || !scanID.allSatisfy(\.isNumber) {
            problems.append("SCAN_ID '\(scanID)' is not a numeric scan id")
        }

        let scanURL = url("SCAN_URL", required: true)
        let zipURL = url("SCAN_URL_ZIP", required: false)
        let debugURL = url("DEBUG_FILE_UPLOAD_URL", required: false)

        var credentials: Credentials?
        let jwt = value("JWT_TOKEN"), keyID = value("API_KEY_ID"), keySecret = value("API_KEY_SECRET")
        if let jwt {
            if jwt.split(separator: ".").count != 3 { problems.append("JWT_TOKEN is not a JWT (three dot-separated parts)") }
            credentials = .jwt(jwt)
        } else if let keyID, let keySecret {
            credentials = .apiKey(id: keyID, secret: keySecret)
        } else if keyID != nil {
            problems.append("API_KEY_ID is set but API_KEY_SECRET is missing")
        } else if keySecret != nil {
            problems.append("API_KEY_SECRET is set but API_KEY_ID is missing")
        } else {
            problems.append("no credentials: set JWT_TOKEN (production) or API_KEY_ID and API_KEY_SECRET (local testing)")
        }

        var deadline = 5400.0, margin = 300.0
        if let d = value("MHS_DEADLINE") {
            if let v = seconds(d), v > 0, v <= maximumDeadline { deadline = v } else {
                problems.append("MHS_DEADLINE '\(d)' is not a duration from 1s to 7 days such as 90m, 45m or 30s")
            }
        }
        if let m = value("MHS_POST_MARGIN") {
            if let v = seconds(m), v >= 0, v <= maximumDeadline { margin = v } else {
                problems.append("MHS_POST_MARGIN '\(m)' is not a duration such as 5m or 30s")
            }
        }
        var confirmWindow = 60.0
        if let w = value("MHS_POST_CONFIRM_WINDOW") {
            if let v = seconds(w), v >= 0, v <= 3600 { confirmWindow = v } else {
                problems.append("MHS_POST_CONFIRM_WINDOW '\(w)' is not a duration from 0s to 60m such as 60s or 2m")
            }
        }
        var probeTimeout = 120.0
        if let t = value("MHS_PROBE_TIMEOUT") {
            if let v = seconds(t), v > 0, v <= 86400 { probeTimeout = v } else {
                problems.append("MHS_PROBE_TIMEOUT '\(t)' is not a duration from 1s to 24h such as 120s or 5m")
            }
        }
        func count(_ name: String, _ range: ClosedRange<Int>) -> Int? {
            guard let text = value(name) else { return nil }
            guard let n = Int(text), range.contains(n) else {
                problems.append("\(name) '\(text)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
                return nil
            }
            return n
        }
        let connections = count("MHS_DOWNLOAD_CONNECTIONS", 1...64)
        let partMB = count("MHS_DOWNLOAD_PART_MB", 1...1024)
        var device = ComputeDevice.auto
        if let d = value("MHS_INFERENCE_DEVICE") {
            if let v = ComputeDevice(rawValue: d.lowercased()) { device = v } else {
                problems.append("MHS_INFERENCE_DEVICE '\(d)' must be auto, cpu or cuda")
            }
        }

        var caFile: String?
        for name in ["MHS_CA_FILE", "SSL_CERT_FILE"] {
            guard let path = value(name) else { continue }
            if access(path, R_OK) == 0 { caFile = path } else { problems.append("\(name) '\(path)' is not a readable file of CA certificates") }
            break
        }

        var classifierName = value("MHS_CLASSIFIER")
        if let classifierName, let classifiers, !classifiers.contains(classifierName) {
            problems.append("MHS_CLASSIFIER '\(classifierName)' is not a known classifier (known: \(classifiers.joined(separator: ", ")))")
        }
        // A model directory selects the model-directory classifier; naming another one beside it is ambiguous.
        if let model = value("MHS_MODEL") {
            let name = Self.modelClassifierName
            if let chosen = classifierName, chosen != name {
                problems.append("MHS_MODEL '\(model)' is set, but MHS_CLASSIFIER selects '\(chosen)': unset one of them (a model directory runs as the '\(name)' classifier)")
            } else if let classifiers, !classifiers.contains(name) {
                problems.append("MHS_MODEL '\(model)' is set, but this package offers no '\(name)' classifier to run it (known: \(classifiers.joined(separator: ", ")))")
            } else {
                classifierName = name
            }
        }

        guard problems.isEmpty, let scanURL, let credentials else { throw ConfigurationError(problems: problems) }
        var parsed = TaskConfiguration(
            apiBaseURL: base, taskID: taskID, taskNumber: taskNumber, scanID: scanID, scanURL: scanURL, scanZipURL: zipURL,
            credentials: credentials, debugUploadURL: debugURL, outputDirectory: value("MHS_OUTPUT_DIR") ?? "/output",
            workDirectory: value("MHS_WORK_DIR") ?? "/tmp", classifierName: classifierName, deadline: deadline,
            postMargin: min(margin, deadline / 2), downloadConnections: connections, downloadPartMB: partMB, inferenceDevice: device)
        parsed.postConfirmWindow = confirmWindow
        parsed.probeTimeout = probeTimeout
        parsed.caFile = caFile
        parsed.libraries = LibraryLocations(environment: env)
        parsed.processorCount = max(1, processorCount)
        parsed.settings = env.filter { !secretVariables.contains($0.key) }
        return parsed
    }

    /// The longest `MHS_DEADLINE` (and `MHS_POST_MARGIN`) accepted: 7 days.
    public static let maximumDeadline: Double = 7 * 86400

    /// The classifier a model directory (`MHS_MODEL`) runs as.
    public static let modelClassifierName = "model"

    /// `90m`, `45m`, `30s`, `2h`, `1h30m` or plain seconds, in seconds.
    public static func seconds(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let plain = Double(t) { return plain }
        var total = 0.0
        var number = ""
        var sawUnit = false
        for c in t {
            if c.isNumber || c == "." {
                number.append(c)
            } else {
                guard let n = Double(number) else { return nil }
                switch c {
                case "h": total += n * 3600
                case "m": total += n * 60
                case "s": total += n
                default: return nil
                }
                number = ""
                sawUnit = true
            }
        }
        return sawUnit && number.isEmpty ? total : nil
    }
}
