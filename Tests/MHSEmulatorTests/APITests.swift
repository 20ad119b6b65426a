import AsyncHTTPClient
import Foundation
import MHSContract
import MHSEmulator
import MHSTestSupport
import Testing

@Suite("Emulator API over HTTP")
struct APITests {
    let svs = slide("CMU-1-Small-Region.svs")

    @Test("token: API key exchanged for a bearer token; wrong or missing credentials refused")
    func token() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: svs)], auth: .apiKey)) { emu in
            let basic = Data("\(emu.apiKeyID):\(emu.apiKeySecret)".utf8).base64EncodedString()
            let form = Array("grant_type=client_credentials".utf8)
            let ok = try await send(.POST, emu.apiBaseURL + "/token", headers: [("Authorization", "Basic \(basic)"), ("Content-Type", "application/x-www-form-urlencoded")], body: form)
            #expect(ok.status == 200)
            let token = try #require(ok.json?["access_token"]?.stringValue)
            #expect(ok.json?["token_type"] == "Bearer")
            // The token works on the API.
            let evaluations = try await send(.GET, emu.api("case_evaluations"), headers: bearer(token))
            #expect(evaluations.status == 200 && evaluations.text == "[]")

            let wrong = Data("\(emu.apiKeyID):nope".utf8).base64EncodedString()
            #expect(try await send(.POST, emu.apiBaseURL + "/token", headers: [("Authorization", "Basic \(wrong)")], body: form).status == 401)
            #expect(try await send(.POST, emu.apiBaseURL + "/token", body: form).status == 401)
            let badGrant = try await send(.POST, emu.apiBaseURL + "/token", headers: [("Authorization", "Basic \(basic)")], body: Array("grant_type=password".utf8))
            #expect(badGrant.status == 400 && badGrant.json?["error"] == "unsupported_grant_type")
        }
    }

    @Test("results: 201 null, one evaluation per scan, details built as the platform does")
    func postResults() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: svs)])) { emu in
            let task = emu.tasks[0]
            let jwt = emu.jwt(for: task)
            let r = try await send(.POST, emu.api("results"), headers: bearer(jwt) + [("Content-Type", "application/json")], body: try exampleBody("basic.json"))
            #expect(r.status == 201)
            #expect(r.text == "null")
            let list = try await send(.GET, emu.api("case_evaluations", plain: true), headers: bearer(jwt))
            let e = try #require(list.json?.arrayValue?.first)
            #expect(list.json?.arrayValue?.count == 1)
            #expect(e["sample_id"] == 8_061_860 && e["task_id"] == .int(Int64(task.number)) && e["case_id"] == .int(Int64(task.caseId)))
            #expect(e["details"]?["report"] == ["summary": "4 mitotic figures found"])
            #expect(e["details"]?["external_url"] == "https://lab.example.org/cases/8061860")
            #expect(e["details"]?["caseReport"] == ["mitosisCount": 4])
        }
    }

    @Test("results: a second POST is accepted, appends, and is flagged as a duplicate")
    func duplicatePost() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: svs)])) { emu in
            let jwt = emu.jwt(for: emu.tasks[0])
            for _ in 0..<2 {
                #expect(try await send(.POST, emu.api("results"), headers: bearer(jwt), body: try exampleBody("basic.json")).status == 201)
            }
            let state = try #require(try await send(.GET, emu.baseURL + "/_emulator/state").json)
            #expect(state["evaluations"]?.arrayValue?.map { $0["duplicate"] } == [false, true])
            #expect(state["tasks"]?.arrayValue?.first?["posts"] == 2)
        }
    }

    @Test("results: auth required, scoped to the task, task id plain or base64")
    func resultsAuth() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: svs), ScanSpec(path: slide("openslide-small.svs"))])) { emu in
            let body = try exampleBody("basic.json")
            #expect(try await send(.POST, emu.api("results"), body: body).status == 401)
            #expect(try await send(.POST, emu.api("results"), headers: bearer("not.a.jwt"), body: body).status == 401)
            let otherTask = emu.jwt(for: emu.tasks[1])
            #expect(try await send(.POST, emu.api("results"), headers: bearer(otherTask), body: body).status == 403)
            let expired = emu.jwt(for: emu.tasks[0], ttl: -5)
            let refused = try await send(.POST, emu.api("results"), headers: bearer(expired), body: body)
            #expect(refused.status == 401 && refused.text.contains("expired"))
            #expect(try await send(.POST, emu.apiBaseURL + "/external/results/999", headers: bearer(emu.jwt(for: emu.tasks[0])), body: body).status == 404)
            #expect(try await send(.POST, emu.api("results", plain: true), headers: bearer(emu.jwt(for: emu.tasks[0])), body: body).status == 201)
        }
    }

    @Test("results: invalid bodies get 400 with every problem and its path; nothing is stored")
    func invalidResults() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: svs)])) { emu in
            let jwt = emu.jwt(for: emu.tasks[0])
            let bad = #"{"scanResults":[{"scanId":"8061860","results":{"summary":1},"geojson":{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null,"properties":{}}]}},{"scanId":"77"}]}"#
            let r = try await send(.POST, emu.api("results"), headers: bearer(jwt), body: Array(bad.utf8))
            #expect(r.status == 400)
            let paths = Set(r.json?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? [])
            #expect(paths == ["scanResults[0].results.summary", "scanResults[0].geojson.features[0].properties.annotation_type", "scanResults[1].scanId"])
            let syntax = try await send(.POST, emu.api("results"), headers: bearer(jwt), body: Array("{\"scanResults\": [".utf8))
            #expect(syntax.status == 400 && syntax.json?.arrayValue?.first?["rule"] == "json.syntax")
            #expect(await emu.evaluations().isEmpty)
        }
    }

    @Test("results: a scan with 0 or 2 regions is rejected, as the platform does", arguments: [0, 2])
    func regions(count: Int) async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: svs, regions: count)])) { emu in
            let r = try await send(.POST, emu.api("results"), headers: bearer(emu.jwt(for: emu.tasks[0])), body: try exampleBody("basic.json"))
            #expect(r.status == 400)
            #expect(r.json?.arrayValue?.first?["rule"] == "scan.regions")
            #expect(r.json?.arrayValue?.first?["message"]?.stringValue?.contains("\(count) regions") == true)
        }
    }

    @Test("case: PATCH checks types and answers 204")
    func triage() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: svs)])) { emu in
            let jwt = emu.jwt(for: emu.tasks[0])
            #expect(try await send(.PATCH, emu.api("case"), headers: bearer(jwt), body: Array(#"{"triage_category":"urgent","triage_score":0.9}"#.utf8)).status == 204)
            #expect(try await send(.PATCH, emu.api("case"), headers: bearer(jwt), body: Array("{}".utf8)).status == 204)
            #expect(try await send(.PATCH, emu.api("case"), headers: bearer(jwt), body: Array(#"{"triage_score":"high"}"#.utf8)).status == 400)
            #expect(try await send(.PATCH, emu.api("case"), headers: bearer(jwt), body: Array(#"{"triage_category":3}"#.utf8)).status == 400)
            #expect(try await send(.PATCH, emu.api("case"), body: Array("{}".utf8)).status == 401)
            let state = try await send(.GET, emu.baseURL + "/_emulator/state")
            #expect(state.json?["tasks"]?.arrayValue?.first?["triage"] == ["triage_category": "urgent", "triage_score": 0.9])
        }
    }

    @Test("debug upload: a PUT zip is stored and its entries listed; a bad signature is refused")
    func debugUpload() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: svs)])) { emu in
            let url = emu.debugUploadURL(task: emu.tasks[0])
            let zip = Array(try Data(contentsOf: URL(fileURLWithPath: slide("dicom-boxes.zip"))))
            #expect(try await send(.PUT, url, body: zip).status == 200)
            let uploads = await emu.uploads()
            #expect(uploads.count == 1 && uploads[0].bytes == zip.count && !uploads[0].entries.isEmpty && uploads[0].error == nil)
            let tampered = url.replacingOccurrences(of: "X-Amz-Signature=", with: "X-Amz-Signature=0")
            let refused = try await send(.PUT, tampered, body: zip)
            #expect(refused.status == 403 && refused.text.contains("SignatureDoesNotMatch"))
        }
    }
}
