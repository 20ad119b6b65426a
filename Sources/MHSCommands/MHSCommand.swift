import ArgumentParser
import Foundation
import MHS

/// The `mhs` command line over a package's own classifiers.
///
/// A lab's executable is one line:
///
/// ```swift
/// import MHSCommands
///
/// @main struct Main {
///     static func main() async { await MHSCommand.main(classifiers: [MyClassifier()]) }
/// }
/// ```
///
/// and gets `run` (the container entrypoint), `demo`, `emulator`, `validate`, `inspect`,
/// `fetch`, `gpu`, `model` and `new`, with `MHS_CLASSIFIER` / `--classifier` choosing among
/// `classifiers` (the first is the default). A model directory (`MHS_MODEL`, `--model`) runs
/// as one more classifier, `model` (``ModelDirectoryClassifier``).
public enum MHSCommand {
    /// Parses the command line and runs the subcommand, then exits with its status.
    ///
    /// This is the only place mhs reads the process environment: every command gets it from
    /// here, and passes what it parsed from it to the libraries.
    /// - Parameter classifiers: what `run` and `demo` can run, chosen by name; names must be
    ///   unique and non-empty.
    public static func main(classifiers: [any Classifier]) async {
        let catalog: ClassifierCatalog
        // Every package runs model directories too (MHS_MODEL), unless it has its own "model".
        let offered = classifiers.contains { $0.name == TaskConfiguration.modelClassifierName } ? classifiers : classifiers + [ModelDirectoryClassifier()]
        do {
            catalog = try ClassifierCatalog(offered)
        } catch {
            FileHandle.standardError.write(Data("mhs: \(error)\n".utf8))
            exit(ExitStatus.configuration.rawValue)
        }
        let context = CommandContext(
            classifiers: catalog, environment: ProcessInfo.processInfo.environment,
            processorCount: ProcessInfo.processInfo.activeProcessorCount)
        LibraryLocations.bootstrap(LibraryLocations(environment: context.environment))
        await CommandContext.$current.withValue(context) {
            await Root.main()
        }
    }
}

/// What the entry point hands every subcommand: the package's classifiers and the process
/// environment, read once.
struct CommandContext: Sendable {
    var classifiers: ClassifierCatalog
    var environment: [String: String]
    var processorCount: Int

    /// Set by ``MHSCommand/main(classifiers:)`` around the whole run.
    @TaskLocal static var current = CommandContext(classifiers: ClassifierCatalog.empty, environment: [:], processorCount: 1)
}

/// The `mhs` command: build, test and run Techcyte Model Hosting Service classifiers.
struct Root: AsyncParsableCommand {
    // Computed: read inside ``MHSCommand/main(classifiers:)``, where the environment is known.
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "mhs",
            abstract: "Build, test and run GPU classifiers for Techcyte's Model Hosting Service.",
            discussion: """
                A Model Hosting Service container downloads one scan, runs a classifier on it and \
                posts GeoJSON annotations and an AI-workflow report back to Techcyte. `mhs` checks \
                those results against the platform's contract before anything is sent.
                """,
            version: MHSVersion.description(commit: CommandContext.current.environment["MHS_COMMIT"]),
            subcommands: [
                RunCommand.self, DemoCommand.self, EmulatorCommand.self, ValidateCommand.self, InspectCommand.self, FetchCommand.self,
                GPUCommand.self, ModelCommand.self, NewCommand.self, ProbeSlideCommand.self,
            ]
        )
    }
}
