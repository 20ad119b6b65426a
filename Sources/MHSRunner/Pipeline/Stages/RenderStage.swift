import Foundation
import MHSContract
import MHSImaging

/// Draws the results over the thumbnail and writes `result.png`. Never fails the run: a
/// picture that cannot be written is a warning. Runs beside the post.
package struct RenderStage: Sendable {
    package var scanID: String
    package var outputDirectory: String
    package var console: Console

    package init(scanID: String, outputDirectory: String, console: Console) {
        self.scanID = scanID
        self.outputDirectory = outputDirectory
        self.console = console
    }

    /// The path of `result.png`, or nil when it could not be written.
    package func run(_ body: ResultsBody, on thumbnail: RGBAImage, slideWidth: Int) -> String? {
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
}
