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
            MHS_CLASSIFIER (one of the package's classifiers; the first by default) and MHS_INFERENCE_DEVICE (auto, cpu or \
            cuda). Downloads the scan, runs the classifier, validates, \
            writes results.json and result.png, posts once, uploads the debug bundle.
            Exit status: 0 posted, 2 configuration, 3 download, 4 slide unreadable or unsupported, \
            5 classifier failed, 6 results invalid, 7 posting failed, 8 deadline, 130/143 interrupted.
            """
    )

    func run() async throws {
        let context = CommandContext.current
        let status = await TaskRunner(
            environment: context.environment, classifiers: context.classifiers, console: Console(), handleSignals: true,
            probeExecutable: SlideProbe.currentExecutable, processorCount: context.processorCount
        ).run()
        throw ExitCode(status.rawValue)
    }
}
