// The template classifier: the one file a lab edits.
//
// It reproduces Techcyte's Python template: four boxes in a 2x2 grid over the slide, a
// Basic workflow report, and case-level results. Replace the body of `classify` with your
// model; keep returning a `ResultsBody`. Everything else (download, validation, the
// picture, posting once, the debug bundle) is done for you by `mhs run`.

import MHS

/// Four boxes in a 2x2 grid (side min(w, h)/8, centred at (w/4·(2i+1), h/4·(2j+1))) with a
/// Basic report, as the Model Hosting Service template does.
public struct TemplateClassifier: Classifier {
    public let name = "template"

    public init() {}

    public func classify(_ slide: Slide, context: ClassifierContext) async throws -> ResultsBody {
        let (w, h) = (Double(slide.dimensions.width), Double(slide.dimensions.height))
        let side = min(w, h) / 8
        var boxes: [Feature] = []
        for i in 0..<2 {
            for j in 0..<2 {
                let cx = w / 4 * Double(2 * i + 1)
                let cy = h / 4 * Double(2 * j + 1)
                boxes.append(
                    try .box(
                        x: cx - side / 2, y: cy - side / 2, width: side, height: side, annotationType: "Mitosis",
                        properties: ["confidence": 0.87]))
            }
        }
        context.logger.info("Placed \(boxes.count) boxes of side \(Int(side)) px on a \(Int(w))x\(Int(h)) slide")

        let report = Report.basic(
            results: ["Result": "Positive", "Mitosis Count": "\(boxes.count)", "Dummy Score": "0.87"],
            segments: [
                Segment(name: "Tumor", result: "1 region", features: [boxes[0]]),
                Segment(name: "Mitosis", result: "\(boxes.count)", features: boxes),
            ])
        return ResultsBody(
            caseResults: ["mitosisCount": .int(Int64(boxes.count))],
            scanResults: [
                ScanResult(
                    scanId: context.scanID,
                    workflow: AiWorkflow(
                        modelName: "mhs template", provider: "mhs", ruo: true, key: "Mitosis Count", value: "\(boxes.count)",
                        report: report),
                    results: ["summary": .string("\(boxes.count) mitotic figures (template)")],
                    geojson: .of(boxes))
            ])
    }
}
