import ArgumentParser
import Foundation
import MHS

/// `mhs run`: the container entrypoint.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one Model Hosting Service task from the environment (the container entrypoint).",
        discussion: """
            Reads HOST, TASK_ID, SCAN_ID, SCAN_URL, SCAN_URL_ZIP, JWT_TOKEN or API_KEY_ID/API_KEY_SECRET, \
            DEBUG_FILE_UPLOAD_URL, MHS_OUTPUT_DIR (default /output), MHS_WORK_DIR (default /tmp), \
            MHS_CLASSIFIER (one of the package's classifiers; the first by default), MHS_MODEL (a model directory, \
            config.json beside model.onnx, run as the 'model' classifier; default /model when it holds a config.json and \
            MHS_CLASSIFIER is unset) and MHS_INFERENCE_DEVICE (auto, cpu or \
            cuda). Downloads the scan, runs the classifier, validates, \
            writes results.json and result.png, posts once, uploads the debug bundle.
            Exit status: 0 posted, 2 configuration, 3 download, 4 slide unreadable or unsupported, \
            5 classifier failed, 6 results invalid, 7 posting failed, 8 deadline, 130/143 interrupted.
            """
    )

    @Option(help: "A model directory to run (config.json beside model.onnx), as MHS_MODEL.")
    var model: String?

    /// Where an image built `FROM` mhs with `COPY model /model` keeps its model.
    static let imageModelDirectory = "/model"

    func run() async throws {
        let context = CommandContext.current
        let status = await TaskRunner(
            environment: Self.environment(context.environment, model: model), classifiers: context.classifiers, console: Console(), handleSignals: true,
            probeExecutable: SlideProbe.currentExecutable, processorCount: context.processorCount
        ).run()
        throw ExitCode(status.rawValue)
    }

    /// The task's variables with `--model` as `MHS_MODEL`, or `/model` when nothing else
    /// chooses a classifier and that directory holds a config.json (the two-line lab image).
    static func environment(_ environment: [String: String], model: String?) -> [String: String] {
        var env = environment
        if let model {
            env["MHS_MODEL"] = URL(fileURLWithPath: model).standardizedFileURL.path
        } else if (env["MHS_MODEL"] ?? "").isEmpty, (env["MHS_CLASSIFIER"] ?? "").isEmpty,
            FileManager.default.fileExists(atPath: imageModelDirectory + "/" + ModelDirectory.configurationName)
        {
            env["MHS_MODEL"] = imageModelDirectory
        }
        return env
    }
}
