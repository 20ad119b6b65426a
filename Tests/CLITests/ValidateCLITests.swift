import Foundation
import MHSContract
import MHSTestSupport
import Testing

let examples = repositoryRoot.appendingPathComponent("Examples/results")

@Suite("mhs validate (the real binary)")
struct ValidateCLITests {
    @Test("a documented example is valid: exit 0")
    func valid() async throws {
        let r = try await mhs(["validate", examples.appendingPathComponent("basic.json").path])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("valid — 0 errors, 0 warnings"))
    }

    @Test("an invalid body: exit 1, every problem with its path")
    func invalid() async throws {
        let body = #"{"scanResults":[{"scanId":"x1","results":{"summary":3},"geojson":{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,2]]]},"properties":{}}]}}]}"#
        let r = try await mhs(["validate", "-"], input: body)
        #expect(r.status == 1)
        for path in ["scanResults[0].scanId", "scanResults[0].results.summary", "scanResults[0].geojson.features[0].properties.annotation_type", "scanResults[0].geojson.features[0].geometry.coordinates[0]"] {
            #expect(r.stdout.contains(path), "missing \(path) in \(r.stdout)")
        }
        #expect(r.stdout.contains("INVALID — 4 errors"))
    }

    @Test("--json prints a machine-readable report with the same paths")
    func jsonReport() async throws {
        let r = try await mhs(["validate", "--json", "-"], input: #"{"scanResults":[{"scanId":"1","workflow":{"model_name":"m","provider":"p","ruo":"yes"}}]}"#)
        #expect(r.status == 1)
        let report = try JSONParser.parse(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(report["valid"] == false)
        #expect(report["errors"] == 1)
        #expect(report["problems"]?.arrayValue?.first?["path"] == "scanResults[0].workflow.ruo")
        #expect(report["problems"]?.arrayValue?.first?["rule"] == "field.type")
    }

    @Test("malformed JSON: exit 2 with line and column")
    func malformed() async throws {
        let r = try await mhs(["validate", "-"], input: "{\n  \"scanResults\": [,]\n}")
        #expect(r.status == 2)
        #expect(r.stderr.contains("line 2, column 19"), "\(r.stderr)")
        let j = try await mhs(["validate", "--json", "-"], input: "[1,")
        #expect(j.status == 2)
        #expect(try JSONParser.parse(j.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["malformed"]?["line"] == 1)
    }

    @Test("an unreadable file: exit 2")
    func unreadable() async throws {
        let r = try await mhs(["validate", "/nonexistent/results.json"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("/nonexistent/results.json"))
    }

    @Test("--scan-ids and --slide-size turn on the task checks")
    func taskChecks() async throws {
        let file = examples.appendingPathComponent("basic.json").path
        let unknown = try await mhs(["validate", "--scan-ids", "1, 2", file])
        #expect(unknown.status == 1)
        #expect(unknown.stdout.contains("scan.scanId.unknown"))
        let outside = try await mhs(["validate", "--scan-ids", "8061860", "--slide-size", "1000x1000", file])
        #expect(outside.status == 0)
        #expect(outside.stdout.contains("coordinates.outsideSlide"))
        let bad = try await mhs(["validate", "--slide-size", "big", file])
        #expect(bad.status != 0 && bad.status != 1)
        #expect(bad.stderr.contains("--slide-size"))
    }
}
