import Foundation
import MHSContract
import MHSEmulator
import MHSImaging
import MHSTestSupport
import Testing

/// Screenshots a page with headless Chromium (Debian's `chromium`, or MHS_CHROMIUM).
func screenshot(_ url: String, to path: String, width: Int, height: Int) async throws -> RGBAImage {
    let candidates = [ProcessInfo.processInfo.environment["MHS_CHROMIUM"], "/usr/bin/chromium", "/usr/bin/chromium-browser"].compactMap { $0 }
    guard let chromium = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw ScreenshotError(message: "headless Chromium not found (apt-get install chromium, or set MHS_CHROMIUM)")
    }
    try? FileManager.default.removeItem(atPath: path)
    _ = try await runProgram(chromium, [
        "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
        "--window-size=\(width),\(height)", "--screenshot=\(path)", url,
    ])
    return try PNG.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
}

struct ScreenshotError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

@Suite("Emulator web page in headless Chromium")
struct PageTests {
    @Test("posted annotations are drawn over the slide in the overlay's colour, where they were posted")
    func overlay() async throws {
        try FileManager.default.createDirectory(at: testOutput, withIntermediateDirectories: true)
        let svs = slide("CMU-1-Small-Region.svs")
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: svs)])) { emu in
            let scan = emu.tasks[0].scans[0]
            let width = 2220.0  // CMU-1-Small-Region level 0
            let scale = 640 / width
            let focus = "\(emu.baseURL)/?scan=\(scan.id)"
            // The first box of basic.json spans [250, 750] in both axes; its top edge is drawn in the first layer colour.
            let edge = (x: Int(500 * scale), y: Int(250 * scale))
            func isOverlayRed(_ p: RGBA) -> Bool { p.r > 200 && p.g < 70 && p.b < 70 }
            func redNear(_ image: RGBAImage, _ x: Int, _ y: Int) -> Bool {
                for dy in -3...3 { for dx in -3...3 where isOverlayRed(image[x + dx, y + dy]) { return true } }
                return false
            }

            let before = try await screenshot(focus, to: testOutput.appendingPathComponent("emulator-scan-before.png").path, width: 900, height: 900)
            #expect(!redNear(before, edge.x, edge.y), "no overlay before anything is posted")

            let r = try await send(.POST, emu.api("results"), headers: bearer(emu.jwt(for: emu.tasks[0])), body: try exampleBody("basic.json"))
            #expect(r.status == 201)
            let after = try await screenshot(focus, to: testOutput.appendingPathComponent("emulator-scan.png").path, width: 900, height: 900)
            #expect(redNear(after, edge.x, edge.y), "the posted box's edge is drawn in the overlay colour at \(edge)")
            #expect(!redNear(after, Int(1500 * scale), Int(2500 * scale)), "nothing drawn where nothing was posted")

            // The whole page, for people to look at.
            _ = try await screenshot(emu.baseURL + "/", to: testOutput.appendingPathComponent("emulator-page.png").path, width: 1100, height: 1600)
            let page = try await send(.GET, emu.baseURL + "/")
            for text in ["Mitosis (2)", "segment: Tumor (1)", "Mitosis Detector", "Dummy Score", "0.87", "QC passed", "data-layer=\"Mitosis\""] {
                #expect(page.text.contains(text), "page lacks \(text)")
            }
        }
    }

    @Test("every report type renders readably")
    func reports() async throws {
        let files = ["whole-slide-differential.json", "area-differential.json", "semi-quantitative-differential.json", "region-counting.json", "ai-mitosis-counting.json", "tumor-cellularity.json", "geojson-annotations.json"]
        let svs = slide("CMU-1-Small-Region.svs")
        try await Emulator.withRunning(EmulatorConfiguration(scans: files.map { _ in ScanSpec(path: svs) })) { emu in
            for (task, file) in zip(emu.tasks, files) {
                var body = try JSONParser.parse(try exampleBody(file))
                // Point the example at this task's scan.
                if case .object(var o) = body, case .array(var scans)? = o["scanResults"], case .object(var s0) = scans[0] {
                    s0["scanId"] = .string(task.scans[0].id)
                    scans[0] = .object(s0)
                    o["scanResults"] = .array(scans)
                    body = .object(o)
                }
                let r = try await send(.POST, emu.api("results", task: task), headers: bearer(emu.jwt(for: task)), body: try MHSJSON.encode(body))
                #expect(r.status == 201, "\(file): \(r.text)")
            }
            let page = try await send(.GET, emu.baseURL + "/").text
            for text in [
                "report <b>WholeSlideDifferential</b>", "3 point(s): negative 2, positive 1", "positivity threshold 0.5",
                "report <b>AreaDifferential</b>", "report <b>SemiQuantitativeDifferential</b>", "2 object(s) counted in 1 region(s)",
                "report <b>AiMitosisCounting</b>", "report <b>TumorCellularity</b>", "tumor 1240, non-tumor 760", "Necrosis",
                "Stain intensity (1)", "fill=\"#2040FF\"",
            ] {
                #expect(page.contains(text), "page lacks \(text)")
            }
        }
    }
}
