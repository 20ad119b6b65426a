import AsyncHTTPClient
import Foundation
import MHSContract
import MHSEmulator
import MHSTestSupport
import Testing

@Suite("Emulator presigned URLs over HTTP")
struct S3Tests {
    let svs = slide("CMU-1-Small-Region.svs")

    @Test("GET serves the file byte for byte with Content-Length, ETag and Accept-Ranges")
    func wholeFile() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: svs)])) { emu in
            let url = try #require(emu.slideURL(scanId: emu.tasks[0].scans[0].id))
            #expect(!URL(string: url)!.path.contains("."), "presigned path must carry no extension")
            let r = try await send(.GET, url)
            let original = Array(try Data(contentsOf: URL(fileURLWithPath: svs)))
            #expect(r.status == 200 && r.body == original)
            #expect(r.headers.first(name: "Content-Length") == String(original.count))
            #expect(r.headers.first(name: "Accept-Ranges") == "bytes")
            let etag = try #require(r.headers.first(name: "ETag"))
            #expect(etag.count == 34 && etag.hasPrefix("\""))
        }
    }

    @Test("HEAD, single ranges (206), suffix ranges and unsatisfiable ranges (416)")
    func ranges() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: svs)])) { emu in
            let url = try #require(emu.slideURL(scanId: emu.tasks[0].scans[0].id))
            let original = Array(try Data(contentsOf: URL(fileURLWithPath: svs)))
            let head = try await send(.HEAD, url)
            #expect(head.status == 200 && head.body.isEmpty && head.headers.first(name: "Content-Length") == String(original.count))
            let mid = try await send(.GET, url, headers: [("Range", "bytes=100-1099")])
            #expect(mid.status == 206 && mid.body == Array(original[100...1099]))
            #expect(mid.headers.first(name: "Content-Range") == "bytes 100-1099/\(original.count)")
            let open = try await send(.GET, url, headers: [("Range", "bytes=\(original.count - 10)-")])
            #expect(open.status == 206 && open.body == Array(original.suffix(10)))
            let suffix = try await send(.GET, url, headers: [("Range", "bytes=-5")])
            #expect(suffix.status == 206 && suffix.body == Array(original.suffix(5)))
            let beyond = try await send(.GET, url, headers: [("Range", "bytes=\(original.count)-")])
            #expect(beyond.status == 416 && beyond.headers.first(name: "Content-Range") == "bytes */\(original.count)")
        }
    }

    @Test("bad or missing signatures: 403 SignatureDoesNotMatch; expired URLs: 403 AccessDenied")
    func signatures() async throws {
        var config = EmulatorConfiguration(scans: [ScanSpec(path: svs)])
        config.urlTTL = 1
        try await Emulator.withRunning(config) { emu in
            let id = emu.tasks[0].scans[0].id
            let url = try #require(emu.slideURL(scanId: id, ttl: 3600))
            let tampered = url.replacingOccurrences(of: "X-Amz-Signature=", with: "X-Amz-Signature=ff")
            let bad = try await send(.GET, tampered)
            #expect(bad.status == 403 && bad.text.contains("<Code>SignatureDoesNotMatch</Code>"))
            let unsigned = String(url.prefix { $0 != "?" })
            let missing = try await send(.GET, unsigned)
            #expect(missing.status == 403 && missing.text.contains("SignatureDoesNotMatch"))
            // Signed for one object, used on another.
            let other = url.replacingOccurrences(of: "/files_uuid/", with: "/files_uuid/0")
            #expect(try await send(.GET, other).status == 403)
            let shortLived = try #require(emu.slideURL(scanId: id, ttl: 1))
            try await Task.sleep(for: .milliseconds(2100))
            let expired = try await send(.GET, shortLived)
            #expect(expired.status == 403)
            #expect(expired.text.contains("<Code>AccessDenied</Code>") && expired.text.contains("Request has expired"))
        }
    }

    @Test("a DICOM series: SCAN_URL serves one .dcm of it, SCAN_URL_ZIP a zip of every file")
    func dicomSeries() async throws {
        let folder = slide("dicom-cmu-1-small-region")
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: folder), ScanSpec(path: slide("dicom-boxes.zip"))])) { emu in
            for task in emu.tasks {
                let env = Dictionary(uniqueKeysWithValues: emu.environment(for: task).map { ($0.name, $0.value) })
                let one = try await send(.GET, try #require(env["SCAN_URL"]))
                #expect(one.status == 200 && Array(one.body[128..<132]) == Array("DICM".utf8))
                let zip = try await send(.GET, try #require(env["SCAN_URL_ZIP"]))
                #expect(zip.status == 200 && Array(zip.body.prefix(4)) == [0x50, 0x4B, 0x03, 0x04])
            }
            let files = try FileManager.default.contentsOfDirectory(atPath: folder)
            let zip = try await send(.GET, emu.slideURL(scanId: emu.tasks[0].scans[0].id, zip: true)!)
            #expect(!files.isEmpty && files.allSatisfy { Data(zip.body).range(of: Data($0.utf8)) != nil }, "every file of the series is in the zip")
        }
    }

    @Test("a file that is not a slide is still served byte for byte and marked unreadable")
    func unreadable() async throws {
        let bad = try FileManager.default.contentsOfDirectory(atPath: slide("bad")).sorted().map { slide("bad/\($0)") }
        try await Emulator.withRunning(EmulatorConfiguration(scans: bad.map { ScanSpec(path: $0) })) { emu in
            for (task, path) in zip(emu.tasks, bad) {
                let r = try await send(.GET, emu.slideURL(scanId: task.scans[0].id)!)
                let original = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
                #expect(r.status == 200 && r.body == original, "\(path)")
            }
            let state = try await send(.GET, emu.baseURL + "/_emulator/state")
            let readable = state.json?["tasks"]?.arrayValue?.map { $0["scans"]?.arrayValue?.first?["readable"] }
            #expect(readable?.contains(false) == true)
            let page = try await send(.GET, emu.baseURL + "/")
            #expect(page.text.contains("unreadable as a slide"))
        }
    }
}

