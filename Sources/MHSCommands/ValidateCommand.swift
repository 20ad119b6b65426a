import ArgumentParser
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import MHS

/// `mhs validate`: checks a results body against the platform's rules, offline.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a results JSON body against the Techcyte contract before posting it.",
        discussion: """
            Reports every problem with its JSON path, e.g. \
            scanResults[0].geojson.features[3].properties.annotation_type.
            Exit status: 0 valid (warnings allowed), 1 invalid, 2 unreadable or not JSON.
            """
    )

    /// Exit statuses of `mhs validate`, as documented in the README.
    enum Status {
        static let valid: Int32 = 0
        static let invalid: Int32 = 1
        static let unreadable: Int32 = 2
    }

    @Argument(help: "The results JSON file, or - for standard input.")
    var file: String

    @Flag(help: "Print the report as JSON: {valid, errors, warnings, problems: [{severity, rule, message, path}]}.")
    var json = false

    @Option(help: "The task's scan ids, comma-separated; any other scanId is an error.")
    var scanIds: String?

    @Option(help: "The slide's level-0 size as WIDTHxHEIGHT; coordinates outside it are warned about.")
    var slideSize: String?

    func validate() throws {
        if let slideSize, parsedSize(slideSize) == nil {
            throw ValidationError("--slide-size must look like 46000x32914, found '\(slideSize)'")
        }
    }

    private func parsedSize(_ text: String) -> SlideSize? {
        let parts = text.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Double(parts[0]), let h = Double(parts[1]), w > 0, h > 0 else { return nil }
        return SlideSize(width: w, height: h)
    }

    func run() throws {
        let name = file == "-" ? "<stdin>" : file
        let bytes: Data
        do {
            bytes = file == "-" ? try readStandardInput() : try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            printError("\(name): cannot read: \(error)")
            throw ExitCode(Status.unreadable)
        }
        let context = ValidationContext(
            scanIds: scanIds.map { Set($0.split(separator: ",").map { String($0.filter { !$0.isWhitespace }) }) },
            slideSize: slideSize.flatMap(parsedSize))
        let report: ValidationReport
        do throws(JSONSyntaxError) {
            report = try Validator.validate(bytes: bytes, context: context)
        } catch {
            if json {
                var w = JSONWriter()
                w.raw("{\"valid\":false,\"malformed\":{\"line\":")
                w.integer(Int64(error.line))
                w.raw(",\"column\":")
                w.integer(Int64(error.column))
                w.raw(",\"message\":")
                w.string(error.message)
                w.raw("}}")
                print(String(decoding: w.bytes, as: UTF8.self))
            } else {
                printError("\(name): not valid JSON at line \(error.line), column \(error.column): \(error.message)")
            }
            throw ExitCode(Status.unreadable)
        }
        if json {
            print(render(json: report))
        } else {
            print(render(text: report, name: name))
        }
        if !report.isValid { throw ExitCode(Status.invalid) }
    }

    private func render(text report: ValidationReport, name: String) -> String {
        let errors = report.errors.count
        let warnings = report.warnings.count
        var lines = [
            "\(name): \(report.isValid ? "valid" : "INVALID") — \(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")"
        ]
        for p in report.problems {
            lines.append("  \(p.severity == .error ? "error  " : "warning") \(p.path)")
            lines.append("          \(p.message) [\(p.rule)]")
        }
        return lines.joined(separator: "\n")
    }

    private func render(json report: ValidationReport) -> String {
        var w = JSONWriter()
        w.raw("{\"valid\":")
        w.bool(report.isValid)
        w.raw(",\"errors\":")
        w.integer(Int64(report.errors.count))
        w.raw(",\"warnings\":")
        w.integer(Int64(report.warnings.count))
        w.raw(",\"problems\":")
        w.array(report.problems) { w, p in
            w.raw("{\"severity\":")
            w.string(p.severity.rawValue)
            w.raw(",\"rule\":")
            w.string(p.rule)
            w.raw(",\"message\":")
            w.string(p.message)
            w.raw(",\"path\":")
            w.string(p.path)
            w.byte(UInt8(ascii: "}"))
        }
        w.byte(UInt8(ascii: "}"))
        return String(decoding: w.bytes, as: UTF8.self)
    }
}

func readStandardInput() throws -> Data {
    var data = Data()
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = read(0, &buffer, buffer.count)
        if n < 0 { throw POSIXError(.EIO) }
        if n == 0 { return data }
        data.append(contentsOf: buffer[0..<n])
    }
}

func printError(_ message: String) {
    var text = message + "\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
