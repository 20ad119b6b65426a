import MHSContract

func readmeExample() throws {


let boxes = try (0..<4).map { i in
    try Feature.box(x: 1000 + Double(i) * 600, y: 800, width: 400, height: 400, annotationType: "Mitosis")
}
let body = ResultsBody(
    caseResults: ["mitosisCount": 4],
    scanResults: [ScanResult(
        scanId: "8061860",
        workflow: AiWorkflow(
            modelName: "Mitosis Detector", provider: "Example Lab", ruo: true,
            report: .basic(results: ["Result": "Positive", "Mitosis Count": "4"],
                           segments: [Segment(name: "Mitosis", result: "4", features: boxes)])),
        results: ["summary": "4 mitotic figures"],
        geojson: .of(boxes),
        qcFailReasons: .passed)])

let report = Validator.validate(body, context: ValidationContext(scanIds: ["8061860"]))
guard report.isValid else { /* report.errors: rule, message, JSON path */ fatalError() }
let json: [UInt8] = try MHSJSON.encode(body)  // or MHSJSON.encode(body, to: sink) in chunks

    _ = json
}

import Testing

/// The README's contract example, kept here verbatim so that it keeps compiling and working.
@Test("the README's contract example builds a valid body")
func readmeContractExample() throws {
    try readmeExample()
}
