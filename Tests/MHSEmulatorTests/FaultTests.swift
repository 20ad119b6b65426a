import AsyncHTTPClient
import Foundation
import MHSContract
import MHSEmulator
import MHSTestSupport
import Testing

@Suite("Emulator fault injection, seen from the client")
struct FaultTests {
    let svs = slide("CMU-1-Small-Region.svs")
    var size: Int { Int((try? FileManager.default.attributesOfItem(atPath: svs)[.size] as? Int) ?? 0) }

    func running<T: Sendable>(_ faults: [String], _ body: @Sendable (RunningEmulator) async throws -> T) async throws -> T {
        var config = EmulatorConfiguration(scans: [ScanSpec(path: svs)])
        config.faults = try faults.map { try Fault(parsing: $0) }
        return try await Emulator.withRunning(config, body)
    }

    @Test("status=503 with count=2: two 503s with Retry-After, then the file")
    func statusCount() async throws {
        try await running(["download:status=503:count=2"]) { emu in
            let url = emu.slideURL(scanId: emu.tasks[0].scans[0].id)!
            for _ in 0..<2 {
                let r = try await send(.GET, url)
                #expect(r.status == 503 && r.headers.first(name: "Retry-After") == "1")
            }
            #expect(try await send(.GET, url).status == 200)
            let calls = await emu.calls()
            #expect(calls.map(\.status) == [503, 503, 200])
            #expect(calls.map(\.fault) == ["status=503", "status=503", nil])
        }
    }

    @Test("reset-after=BYTES: the connection drops after that many bytes")
    func resetAfter() async throws {
        try await running(["download:reset-after=100000:count=1"]) { emu in
            let url = emu.slideURL(scanId: emu.tasks[0].scans[0].id)!
            let cut = await download(url)
            #expect(cut.error != nil)
            #expect(cut.bytes <= 100_000 && cut.bytes > 0)
            let whole = await download(url)
            #expect(whole.error == nil && whole.bytes == size)
            #expect(await eventually { await emu.calls().first?.outcome == "dropped" })
            #expect(await emu.calls().first?.fault == "reset-after=100000")
        }
    }

    @Test("short-body: fewer bytes than Content-Length, then close")
    func shortBody() async throws {
        try await running(["download:short-body"]) { emu in
            let cut = await download(emu.slideURL(scanId: emu.tasks[0].scans[0].id)!)
            #expect(cut.status == 200)
            #expect(cut.error != nil && cut.bytes < size)
        }
    }

    @Test("rate=BYTES caps the throughput of a connection")
    func rate() async throws {
        try await running(["download:rate=2000000"]) { emu in
            let start = ContinuousClock.now
            let r = await download(emu.slideURL(scanId: emu.tasks[0].scans[0].id)!)
            let seconds = (ContinuousClock.now - start) / .seconds(1)
            #expect(r.error == nil && r.bytes == size)
            // 1.94 MB at 2 MB/s takes close to a second; an uncapped loopback read takes milliseconds.
            #expect(seconds > 0.8, "took \(seconds) s")
        }
    }

    @Test("delay=MS holds the answer back")
    func delay() async throws {
        try await running(["token:delay=600"]) { emu in
            let start = ContinuousClock.now
            let r = try await send(.POST, emu.apiBaseURL + "/token")
            #expect(r.status == 401)
            #expect(ContinuousClock.now - start >= .milliseconds(600))
        }
    }

    @Test("reset-before-apply: the connection drops and nothing is stored")
    func resetBeforeApply() async throws {
        try await running(["results:reset-before-apply:count=1"]) { emu in
            let jwt = emu.jwt(for: emu.tasks[0])
            await #expect(throws: (any Error).self) {
                _ = try await send(.POST, emu.api("results"), headers: bearer(jwt), body: try exampleBody("basic.json"))
            }
            #expect(await emu.evaluations().isEmpty)
            #expect(await eventually { await emu.calls().last?.outcome == "dropped" })
        }
    }

    @Test("reset-after-apply: the connection drops but the results were stored")
    func resetAfterApply() async throws {
        try await running(["results:reset-after-apply"]) { emu in
            let jwt = emu.jwt(for: emu.tasks[0])
            await #expect(throws: (any Error).self) {
                _ = try await send(.POST, emu.api("results"), headers: bearer(jwt), body: try exampleBody("basic.json"))
            }
            #expect(await emu.evaluations().count == 1)
            let seen = try await send(.GET, emu.api("case_evaluations"), headers: bearer(jwt))
            #expect(seen.json?.arrayValue?.count == 1)
        }
    }

    @Test("faults on the API: status on results, evaluations, case and token; added and cleared while running")
    func apiFaults() async throws {
        try await running([]) { emu in
            let jwt = emu.jwt(for: emu.tasks[0])
            let added = try await send(.POST, emu.baseURL + "/_emulator/faults", body: Array("results:status=500:count=1\nevaluations:status=429\ncase:status=502\ndebug:status=503".utf8))
            #expect(added.status == 201 && added.json?.arrayValue?.count == 4)
            #expect(try await send(.POST, emu.api("results"), headers: bearer(jwt), body: try exampleBody("basic.json")).status == 500)
            #expect(await emu.evaluations().isEmpty)
            let limited = try await send(.GET, emu.api("case_evaluations"), headers: bearer(jwt))
            #expect(limited.status == 429 && limited.headers.first(name: "Retry-After") == "1")
            #expect(try await send(.PATCH, emu.api("case"), headers: bearer(jwt), body: Array("{}".utf8)).status == 502)
            #expect(try await send(.PUT, emu.debugUploadURL(task: emu.tasks[0]), body: [1, 2, 3]).status == 503)
            #expect(try await send(.DELETE, emu.baseURL + "/_emulator/faults").status == 204)
            #expect(try await send(.GET, emu.api("case_evaluations"), headers: bearer(jwt)).status == 200)
            let refused = try await send(.POST, emu.baseURL + "/_emulator/faults", body: Array("download:explode".utf8))
            #expect(refused.status == 400 && refused.text.contains("unknown fault"))
        }
    }

    @Test("a zip route fault applies to SCAN_URL_ZIP only")
    func zipFault() async throws {
        var config = EmulatorConfiguration(scans: [ScanSpec(path: slide("dicom-boxes.zip"))])
        config.faults = [try Fault(parsing: "zip:status=500")]
        try await Emulator.withRunning(config) { (emu: RunningEmulator) async throws -> Void in
            let id = emu.tasks[0].scans[0].id
            #expect(try await send(.GET, emu.slideURL(scanId: id, zip: true)!).status == 500)
            #expect(try await send(.GET, emu.slideURL(scanId: id)!).status == 200)
        }
    }

    @Test("fault specs are parsed strictly", arguments: ["download", "nowhere:status=500", "download:status=abc", "case:reset-before-apply", "download:rate=0", "results:status=503:count=0", "token:boom"])
    func badSpecs(spec: String) {
        #expect(throws: FaultSpecError.self) { try Fault(parsing: spec) }
    }
}
