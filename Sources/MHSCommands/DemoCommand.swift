import ArgumentParser
import Dispatch
import Foundation
import MHS
import MHSEmulator
import UnixSignals

/// `mhs demo`: a whole task against the local Techcyte, on a slide it makes itself.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a whole task against the embedded emulator, on a generated slide (or --slide).",
        discussion: """
            Starts the local Techcyte in this process, generates a synthetic H&E slide (unless \
            --slide is given), runs `mhs run`'s task runner with the template classifier (or \
            --classifier) against it, \
            and prints where result.png, results.json and the emulator page are.
            """
    )

    @Option(help: "A real slide to use instead of the generated one.")
    var slide: String?

    @Option(help: "Where results.json, result.png and the generated slide go.")
    var output: String = "demo-output"

    @Flag(help: "Keep the emulator (and its page) running until Ctrl-C.")
    var serve = false

    @Option(help: "The classifier to run (default: the package's first).")
    var classifier: String?

    @Option(help: "A model directory to run (config.json beside model.onnx), as MHS_MODEL.")
    var model: String?

    func run() async throws {
        let context = CommandContext.current
        let modelName = TaskConfiguration.modelClassifierName
        if model != nil, let classifier, classifier != modelName {
            throw ValidationError("--model runs the '\(modelName)' classifier; leave out --classifier \(classifier)")
        }
        let classifier = model != nil ? modelName : self.classifier
        guard let chosen = context.classifiers.named(classifier) else {
            throw ValidationError("unknown classifier '\(classifier ?? "")' (known: \(context.classifiers.names.joined(separator: ", ")))")
        }
        let outputDir = URL(fileURLWithPath: output).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
        var slidePath = slide ?? outputDir + "/demo-slide.svs"
        if slide == nil {
            if !FileManager.default.fileExists(atPath: slidePath) {
                printFlushed("Generating a synthetic H&E slide (4096 x 3072, JPEG tiles, 4 levels) at \(slidePath) ...")
                try SyntheticSlide.write(to: slidePath)
            } else {
                printFlushed("Using the synthetic slide generated earlier: \(slidePath)")
            }
        } else {
            slidePath = URL(fileURLWithPath: slidePath).standardizedFileURL.path
        }
        var configuration = EmulatorConfiguration(scans: [ScanSpec(path: slidePath)], auth: .apiKey)
        configuration.workDirectory = outputDir + "/emulator"
        configuration.probe = SlideProbe.currentExecutable.map { SlideProbe(executable: $0) }
        if let leaflet = CommandContext.current.environment["MHS_LEAFLET_DIR"], !leaflet.isEmpty { configuration.leafletDirectory = leaflet }
        let serve = self.serve
        let status = try await Emulator.withRunning(configuration) { emulator in
            printFlushed("Local Techcyte (emulator) listening at \(emulator.baseURL)")
            var env = Dictionary(uniqueKeysWithValues: emulator.environment().map { ($0.name, $0.value) })
            env["MHS_OUTPUT_DIR"] = outputDir
            env["MHS_WORK_DIR"] = outputDir + "/work"
            // The caller's MHS_* settings (device, libraries, deadline, ...) apply to the task too.
            for (key, value) in context.environment where key.hasPrefix("MHS_") && env[key] == nil { env[key] = value }
            if let model { env["MHS_MODEL"] = URL(fileURLWithPath: model).standardizedFileURL.path }
            printFlushed("Running the task as the container would (mhs run, \(chosen.name) classifier):\n")
            // The caller's library locations (VIRTUAL_ENV, HOME) too.
            for key in ["VIRTUAL_ENV", "HOME"] where env[key] == nil { env[key] = context.environment[key] }
            let status = await TaskRunner(
                environment: env, classifier: chosen, console: Console(), probeExecutable: SlideProbe.currentExecutable,
                processorCount: context.processorCount
            ).run()
            let summary = await emulator.summary()
            let scan = emulator.tasks[0].scans[0].id
            printFlushed("""

                Demo finished: exit \(status.rawValue) (\(status.meaning)).
                  result.png     \(outputDir)/result.png
                  results.json   \(outputDir)/results.json
                  run report     \(outputDir)/run-report.json
                  emulator page  \(emulator.baseURL)/?scan=\(scan)   (all tasks: \(emulator.baseURL)/)
                  emulator saw   \(summary)
                """)
            if serve {
                printFlushed("Serving the emulator page until Ctrl-C ...")
                await waitForInterrupt()
            } else {
                printFlushed("(The emulator stops now; run `mhs demo --serve` to keep its page open.)")
            }
            return status
        }
        throw ExitCode(status.rawValue)
    }
}

/// Returns on SIGINT or SIGTERM.
func waitForInterrupt() async {
    for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { return }
}
