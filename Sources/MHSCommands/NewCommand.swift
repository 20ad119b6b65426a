import ArgumentParser
import Foundation

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
}
