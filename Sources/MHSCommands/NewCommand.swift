import ArgumentParser
import Foundation
import MHS

/// `mhs new NAME`: a lab's own package, depending on mhs instead of forking it.
struct NewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Write a lab package in ./NAME: one classifier, its test, a Dockerfile and a README.",
        discussion: """
            The package depends on mhs (\(LabPackage.defaultURL) from \(LabPackage.defaultVersion), or the \
            checkout at --mhs-path), owns its `mhs`-style executable (MHSCommand.main with its \
            classifier), and tests the classifier with MHSTesting against the in-process emulator. \
            `swift build` and `swift test` work in it at once.
            """
    )

    @Argument(help: "The package's name: letters, digits, '-' and '_', starting with a letter.")
    var name: String

    @Option(help: "Depend on the mhs checkout at this path instead of the published package.")
    var mhsPath: String?

    @Option(help: "The folder to write the package into (default: ./NAME).")
    var output: String?

    @Option(help: "Write a model image instead: this model directory (config.json beside model.onnx), checked, with a two-line Dockerfile and no Swift.")
    var model: String?

    @Option(help: "With --model: the mhs image the lab's image starts FROM.")
    var image: String = ModelImage.defaultBaseImage

    func validate() throws {
        guard LabPackage.isValidName(name) else {
            throw ValidationError("'\(name)' is not a package name: use letters, digits, '-' and '_', starting with a letter")
        }
    }

    func run() throws {
        let folder = URL(fileURLWithPath: output ?? name).standardizedFileURL.path
        if FileManager.default.fileExists(atPath: folder) {
            throw ValidationError("\(folder) exists already: choose another NAME or --output")
        }
        if let model { return try writeModelImage(model, into: folder) }
        let dependency: LabPackage.Dependency
        if let mhsPath {
            let absolute = URL(fileURLWithPath: mhsPath).standardizedFileURL.path
            guard FileManager.default.fileExists(atPath: absolute + "/Package.swift") else {
                throw ValidationError("--mhs-path \(mhsPath) holds no Package.swift")
            }
            dependency = .path(absolute)
        } else {
            dependency = .published
        }
        let package = LabPackage(name: name, dependency: dependency)
        for (path, contents) in package.files {
            let file = folder + "/" + path
            try FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: file).deletingLastPathComponent().path, withIntermediateDirectories: true)
            try Data(contents.utf8).write(to: URL(fileURLWithPath: file))
        }
        printFlushed("""
            Wrote the lab package \(name) in \(folder):
            \(package.files.map { "  \($0.path)" }.joined(separator: "\n"))
            Next:
              cd \(folder)
              swift test                       # the classifier on a synthetic slide, against the in-process emulator
              swift run \(name) demo           # the whole task on the embedded emulator
              edit \(package.classifierPath)   # your model goes here
            """)
    }

    /// `mhs new NAME --model DIR`: the model directory, checked as `mhs model check` does,
    /// copied into NAME/model beside a two-line Dockerfile and a README.
    func writeModelImage(_ model: String, into folder: String) throws {
        let source = URL(fileURLWithPath: model).standardizedFileURL.path
        let loaded: LoadedModel
        switch LoadedModel.load(source, device: .cpu, threads: 1) {
        case .success(let m): loaded = m
        case .failure(let found):
            printFlushed("mhs new: \(source) is not a usable model directory (\(found.problems.count) problem\(found.problems.count == 1 ? "" : "s")):")
            for p in found.problems { printFlushed("  - \(p)") }
            throw ExitCode(ExitStatus.configuration.rawValue)
        }
        let files = ModelImage(name: name, baseImage: image, configuration: loaded.configuration)
        let fm = FileManager.default
        try fm.createDirectory(atPath: folder + "/model", withIntermediateDirectories: true)
        for file in [ModelDirectory.configurationName, ModelDirectory.modelName] {
            try fm.copyItem(atPath: source + "/" + file, toPath: folder + "/model/" + file)
        }
        try Data(files.dockerfile.utf8).write(to: URL(fileURLWithPath: folder + "/Dockerfile"))
        try Data(files.readme.utf8).write(to: URL(fileURLWithPath: folder + "/README.md"))
        printFlushed("""
            Wrote the model image \(name) in \(folder):
              Dockerfile           FROM \(image), COPY model /model
              model/config.json
              model/model.onnx
              README.md
            Next:
              cd \(folder)
              mhs demo --model model --slide SLIDE   # the whole task on the embedded emulator
              podman build -t \(name) .              # (or docker build) the image Techcyte runs
            """)
    }
}
