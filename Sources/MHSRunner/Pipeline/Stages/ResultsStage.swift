import Foundation
import MHSContract
import MHSImaging

/// Results that passed the contract, encoded once: the bytes that are saved and posted.
package struct ValidatedResults: Sendable {
    package var body: ResultsBody
    package var json: [UInt8]
    package var report: ValidationReport
    /// Where `results.json` was written (nil when it could not be).
    package var path: String?
}

/// Validates the classifier's results before anything is encoded, then writes
/// `results.json`, and beside the post draws `result.png` and writes `annotations.qupath.geojson`. A body that breaks the contract (NaN included) is reported with its JSON
/// paths and kept as `results.invalid.json`, never as `results.json`, and never sent: exit 6.
package struct ResultsStage: Sendable {
    package var scanID: String
    package var outputDirectory: String
    package var console: Console

    package init(scanID: String, outputDirectory: String, console: Console) {
        self.scanID = scanID
        self.outputDirectory = outputDirectory
        self.console = console
    }

    /// - Parameter slideSize: the slide's level-0 size, for the coordinate warnings.
    package func validate(_ body: ResultsBody, slideSize: SlideSize) throws -> ValidationReport {
        let report = Validator.validate(body, context: ValidationContext(scanIds: [scanID], slideSize: slideSize))
        for w in report.warnings.prefix(20) { console.say("WARNING: \(w.path): \(w.message) [\(w.rule)]") }
        if !report.isValid {
            for e in report.errors.prefix(50) { console.say("  error   \(e.path): \(e.message) [\(e.rule)]") }
            if report.errors.count > 50 { console.say("  … and \(report.errors.count - 50) more error(s)") }
            try keepInvalid(body, "the results break the contract (\(report.errors.count) error(s), listed above); nothing was posted")
        }
        return report
    }

    /// Encodes validated results and writes `results.json`.
    package func save(_ body: ResultsBody, report: ValidationReport) throws -> ValidatedResults {
        let json: [UInt8]
        do {
            json = try MHSJSON.encode(body)
        } catch {
            try keepInvalid(body, "the results cannot be written as JSON: \(error); nothing was posted")
        }
        let path = outputDirectory + "/results.json"
        do {
            try Data(json).write(to: URL(fileURLWithPath: path))
            console.say("Results saved to \(path)")
            return ValidatedResults(body: body, json: json, report: report, path: path)
        } catch {
            console.say("WARNING: cannot write \(path): \(error.localizedDescription)")
            return ValidatedResults(body: body, json: json, report: report, path: nil)
        }
    }

    /// Writes the scan's annotations and report points as `annotations.qupath.geojson`, which
    /// QuPath imports (`QuPathExport`); a warning, never a failure, when it cannot. Runs
    /// beside the post, with the picture: nothing waits for it.
    package func saveForQuPath(_ body: ResultsBody) {
        let path = outputDirectory + "/annotations.qupath.geojson"
        do {
            let objects = QuPathExport.featureCollection(body, scanId: scanID)
            try Data(try MHSJSON.encode(objects)).write(to: URL(fileURLWithPath: path))
            console.say("QuPath objects saved to \(path) (\(objects.features.count))")
        } catch {
            console.say("WARNING: cannot write \(path): \(error)")
        }
    }

    /// Draws the results over the thumbnail and writes `result.png`; nil when it could not be
    /// written (a warning, never a failure). Runs beside the post.
    package func drawPicture(_ body: ResultsBody, on thumbnail: RGBAImage, slideWidth: Int) -> String? {
        let picture = AnnotationRenderer.render(body, scanId: scanID, on: thumbnail, slideWidth: Double(slideWidth))
        let path = outputDirectory + "/result.png"
        do {
            try Data(try PNG.encode(picture, effort: .fast)).write(to: URL(fileURLWithPath: path))
            console.say("Visualization saved to \(path)")
            return path
        } catch {
            console.say("WARNING: cannot write \(path): \(error)")
            return nil
        }
    }

    private func keepInvalid(_ body: ResultsBody, _ reason: String) throws -> Never {
        let path = outputDirectory + "/results.invalid.json"
        let (bytes, replaced) = MHSJSON.encodeReplacingNonFinite(body)
        if (try? Data(bytes).write(to: URL(fileURLWithPath: path))) != nil {
            console.say("The invalid results were saved to \(path)" + (replaced > 0 ? " (\(replaced) NaN or infinite number(s) written as null)" : ""))
        }
        throw StageFailure(.invalidResults, reason)
    }
}
