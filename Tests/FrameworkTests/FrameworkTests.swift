import Foundation
import MHSExamples
import MHSTestSupport
import MHSTesting
import Testing

/// The modules Swift itself ships, which any package may import.
let systemModules: Set<String> = ["Foundation", "FoundationEssentials", "Dispatch", "Synchronization", "Glibc", "Musl", "Darwin", "Testing"]

/// The `import` lines of every Swift file under `folder`.
func imports(under folder: URL) throws -> [(file: String, module: String)] {
    var found: [(String, String)] = []
    let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
    for file in files where file.pathExtension == "swift" {
        for line in try String(contentsOf: file, encoding: .utf8).split(separator: "\n") {
            let words = line.split(separator: " ")
            guard let first = words.first, ["import", "@_exported", "@testable", "@preconcurrency"].contains(String(first)) else { continue }
            guard let i = words.firstIndex(of: "import"), i + 1 < words.count else { continue }
            found.append((file.lastPathComponent, String(words[i + 1])))
        }
    }
    return found
}

@Suite("mhs as a framework a lab depends on")
struct FrameworkTests {
    @Test("the examples use only what a lab's package can: they import MHS and nothing else of mhs")
    func examplesImportOnlyMHS() throws {
        let found = try imports(under: repositoryRoot.appendingPathComponent("Sources/MHSExamples"))
        #expect(found.count >= 6)
        let foreign = found.filter { $0.module != "MHS" && !systemModules.contains($0.module) }
        #expect(foreign.isEmpty, "\(foreign)")
        let executable = try imports(under: repositoryRoot.appendingPathComponent("Sources/mhs")).map(\.module)
        #expect(Set(executable) == ["MHSCommands", "MHSExamples"])
    }

    @Test("no library reads the process environment: ProcessInfo appears only in MHSCommand.main, the entry point")
    func processInfoOnlyAtTheEntry() throws {
        let sources = repositoryRoot.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        var readers: [String] = []
        for file in files where file.pathExtension == "swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            if text.contains("ProcessInfo") || text.contains("getenv(") {
                readers.append(file.path.replacingOccurrences(of: sources.path + "/", with: ""))
            }
        }
        #expect(readers == ["MHSCommands/MHSCommand.swift"])
    }

    @Test("MHSTesting runs the template through a whole task in-process: one evaluation, its four boxes, its files")
    func harness() async throws {
        let run = try await TaskHarness.run(TemplateClassifier())
        #expect(run.status == .posted, "\(run.console.joined(separator: "\n"))")
        #expect(run.evaluations == 1 && run.duplicates == 0 && run.posted.count == 1)
        let results = try run.results()
        #expect(results.scanResults.first?.geojson?.features.count == 4)
        #expect(run.files.contains("results.json") && run.files.contains("result.png") && run.files.contains("run-report.json"))
        #expect(try run.report()["exit_status"] == .int(0))
    }

    @Test("MHSTesting passes the classifier its settings and reports a failing classifier's exit status")
    func harnessFailure() async throws {
        let run = try await TaskHarness.run(InvalidResultsClassifier(), slide: .file(slide("openslide-small.svs")))
        #expect(run.status == .invalidResults && run.evaluations == 0)
        #expect(run.files.contains("results.invalid.json"))
        let slow = try await TaskHarness.run(SlowClassifier(), environment: ["MHS_SLOW_SECONDS": "0"])
        #expect(slow.status == .posted && slow.evaluations == 1)
    }

    @Test("mhs new writes a lab package depending on mhs; with MHS_LAB_PACKAGE_BUILD=1 it builds and its test passes")
    func newLabPackage() async throws {
        let parent = testOutput.appendingPathComponent("lab-package")
        try? FileManager.default.removeItem(at: parent)
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let folder = parent.appendingPathComponent("acme-mitosis").path
        let made = try await mhs(["new", "acme-mitosis", "--mhs-path", repositoryRoot.path, "--output", folder])
        #expect(made.status == 0, "\(made.all)")
        let files = [
            "Package.swift", "Sources/AcmeMitosisClassifiers/AcmeMitosisClassifier.swift", "Sources/AcmeMitosis/main.swift",
            "Tests/AcmeMitosisTests/AcmeMitosisClassifierTests.swift", "Dockerfile", "README.md", ".gitignore",
        ]
        for file in files { #expect(FileManager.default.fileExists(atPath: folder + "/" + file), "\(file)") }
        let manifest = try String(contentsOfFile: folder + "/Package.swift", encoding: .utf8)
        #expect(manifest.contains(#".package(path: "\#(repositoryRoot.path)")"#))
        let classifier = try String(contentsOfFile: folder + "/Sources/AcmeMitosisClassifiers/AcmeMitosisClassifier.swift", encoding: .utf8)
        let template = try String(contentsOf: repositoryRoot.appendingPathComponent("Sources/MHSExamples/Template/TemplateClassifier.swift"), encoding: .utf8)
        #expect(classifier.contains("public struct AcmeMitosisClassifier: Classifier") && classifier.contains(#"name = "acme-mitosis""#))
        #expect(classifier.split(separator: "\n").count == template.split(separator: "\n").count)
        let again = try await mhs(["new", "acme-mitosis", "--output", folder])
        #expect(again.status != 0 && again.all.contains("exists already"))
        let badName = try await mhs(["new", "9lives"])
        #expect(badName.status != 0 && badName.all.contains("not a package name"))

        guard ProcessInfo.processInfo.environment["MHS_LAB_PACKAGE_BUILD"] == "1" else { return }
        // The generated package builds against this checkout and its own test passes (a first
        // build compiles mhs and its dependencies again: minutes).
        let test = try await shell("cd '\(folder)' && swift build --build-tests && swift test --skip-build")
        #expect(test.status == 0, "\(test.output)")
        #expect(test.output.contains("acme-mitosis posts one valid evaluation"))
    }
}

/// Runs a shell command, returning its status and its combined output (also echoed, so a
/// long build shows progress).
func shell(_ command: String) async throws -> (status: Int32, output: String) {
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("mhs-shell-\(UUID().uuidString).log").path
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/bash")
    p.arguments = ["-c", "set -o pipefail; ( \(command) ) 2>&1 | tee '\(log)'"]
    p.standardOutput = FileHandle.standardOutput
    p.standardError = FileHandle.standardError
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        p.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do { try p.run() } catch { continuation.resume(throwing: error) }
    }
    let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    try? FileManager.default.removeItem(atPath: log)
    return (status, output)
}
