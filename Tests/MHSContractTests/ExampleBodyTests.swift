import Foundation
import MHSContract
import Testing

/// Every documented example body decodes, re-encodes to the same JSON and validates.
@Suite("Documented example bodies")
struct ExampleBodyTests {
    @Test("decodes, re-encodes with the same keys and values, and validates", arguments: exampleFiles)
    func roundTrip(file: String) throws {
        let original = try example(file)
        let body = try MHSJSON.decode(ResultsBody.self, from: original)
        let reencoded = try JSONParser.parse(try MHSJSON.encode(body))
        #expect(sameJSON(original, reencoded), "fast encoder changed \(file)")

        let report = Validator.validate(json: original, context: ValidationContext(scanIds: ["8061860"]))
        #expect(report.problems == [], "\(report.problems)")
        #expect(Validator.validate(body, context: ValidationContext(scanIds: ["8061860"])).problems == [])
    }

    @Test("Foundation's Codable path agrees with the fast encoder", arguments: exampleFiles)
    func codableAgrees(file: String) throws {
        let original = try example(file)
        let body = try MHSJSON.decode(ResultsBody.self, from: original)
        let viaFoundation = try JSONParser.parse(Array(try JSONEncoder().encode(body)))
        #expect(sameJSON(original, viaFoundation))
        let decodedByFoundation = try JSONDecoder().decode(ResultsBody.self, from: Data(try exampleBytes(file)))
        #expect(sameJSON(original, try JSONParser.parse(try MHSJSON.encode(decodedByFoundation))))
    }

    @Test("all seven report types are covered by the examples")
    func allReportTypes() throws {
        var seen: Set<String> = []
        for file in exampleFiles {
            let body = try MHSJSON.decode(ResultsBody.self, from: try example(file))
            for scan in body.scanResults { if let r = scan.workflow?.report { seen.insert(r.typeName) } }
        }
        #expect(seen == Set(Report.typeNames))
    }

    @Test("free-form parts keep key order and integers")
    func freeFormFidelity() throws {
        let text = #"{"caseResults":{"zeta":1,"alpha":2.0,"mid":{"b":[1,2.5],"a":null}},"scanResults":[]}"#
        let body = try MHSJSON.decode(ResultsBody.self, from: Array(text.utf8))
        #expect(try MHSJSON.encodeString(body) == text)
    }

    @Test("qcFailReasons keeps its three states")
    func qcStates() throws {
        func state(_ json: String) throws -> QCFailReasons {
            try MHSJSON.decode(ScanResult.self, from: Array(#"{"scanId":"1"\#(json)}"#.utf8)).qcFailReasons
        }
        #expect(try state("") == .untouched)
        #expect(try state(#","qcFailReasons":null"#) == .untouched)
        #expect(try state(#","qcFailReasons":[]"#) == .passed)
        #expect(try state(#","qcFailReasons":["blurry"]"#) == .failed(["blurry"]))
        #expect(try MHSJSON.encodeString(ScanResult(scanId: "1")) == #"{"scanId":"1"}"#)
        #expect(try MHSJSON.encodeString(ScanResult(scanId: "1", qcFailReasons: .passed)) == #"{"scanId":"1","qcFailReasons":[]}"#)
    }

    @Test("documented keys are written exactly")
    func documentedKeys() throws {
        let text = String(decoding: try MHSJSON.encode(try MHSJSON.decode(ResultsBody.self, from: try example("tumor-cellularity.json"))), as: UTF8.self)
        for key in ["\"scanResults\"", "\"scanId\"", "\"model_name\"", "\"threshold_map\"", "\"tumor_cellularity\"", "\"other_segments\"", "\"feature_collection\""] {
            #expect(text.contains(key), "missing \(key)")
        }
        let wsd = String(decoding: try MHSJSON.encode(try MHSJSON.decode(ResultsBody.self, from: try example("whole-slide-differential.json"))), as: UTF8.self)
        #expect(wsd.contains("\"positivity_threshold\":0.5"))
    }
}

@Suite("Task ids")
struct TaskIDTests {
    @Test("both of the platform's spellings read as the same task; anything else does not")
    func spellings() {
        #expect(TaskID.number("185714") == 185_714)
        #expect(TaskID.number("dGFzazoxODU3MTQ=") == 185_714)
        #expect(TaskID.number("dGFzazoxODU3MTQ") == 185_714)  // padding dropped
        #expect(TaskID.encoded(185_714) == "dGFzazoxODU3MTQ=")
        for bad in ["", "0", "-3", "abc", "dGFzazp4", "Y2FzZToxMg=="] { #expect(TaskID.number(bad) == nil, "\(bad)") }
    }
}
