import ArgumentParser

/// The `mhs` command: build, test and run Techcyte Model Hosting Service classifiers.
@main
struct MHS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mhs",
        abstract: "Build, test and run GPU classifiers for Techcyte's Model Hosting Service.",
        discussion: """
            A Model Hosting Service container downloads one scan, runs a classifier on it and \
            posts GeoJSON annotations and an AI-workflow report back to Techcyte. `mhs` checks \
            those results against the platform's contract before anything is sent.
            """,
        subcommands: [RunCommand.self, DemoCommand.self, EmulatorCommand.self, ValidateCommand.self, InspectCommand.self, FetchCommand.self, GPUCommand.self, ProbeSlideCommand.self]
    )
}
