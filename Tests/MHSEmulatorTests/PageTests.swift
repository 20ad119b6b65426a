import Foundation
import MHSContract
import MHSEmulator
import MHSImaging
import MHSSlide
import MHSTestSupport
import Testing

/// Headless Chromium (Debian's `chromium`, or MHS_CHROMIUM).
func chromium() throws -> String {
    let candidates = [ProcessInfo.processInfo.environment["MHS_CHROMIUM"], "/usr/bin/chromium", "/usr/bin/chromium-browser"].compactMap { $0 }
    guard let chromium = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw ScreenshotError(message: "headless Chromium not found (apt-get install chromium, or set MHS_CHROMIUM)")
    }
    return chromium
}

/// The flags every run uses; the virtual-time budget lets the page's fetches and tiles finish
/// before the picture or the DOM is taken.
func chromiumFlags(width: Int, height: Int, budget: Int = 15_000) -> [String] {
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
        "--window-size=\(width),\(height)", "--virtual-time-budget=\(budget)",
    ]
}

/// Screenshots a page with headless Chromium.
func screenshot(_ url: String, to path: String, width: Int, height: Int) async throws -> RGBAImage {
    try? FileManager.default.removeItem(atPath: path)
    _ = try await runProgram(try chromium(), chromiumFlags(width: width, height: height) + ["--screenshot=\(path)", url])
    return try PNG.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
}

/// The page's DOM after its scripts ran, as headless Chromium prints it.
func renderedDOM(_ url: String, width: Int = 1000, height: Int = 800, budget: Int = 60_000) async throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try chromium())
    p.arguments = chromiumFlags(width: width, height: height, budget: budget) + ["--dump-dom", url]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = await readToEnd(out.fileHandleForReading)
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// `name="value"` of the first element with `id="id"` in `html`.
func attribute(_ name: String, ofElement id: String, in html: String) -> String? {
    guard let start = html.range(of: "id=\"\(id)\"") else { return nil }
    let tagStart = html[..<start.lowerBound].lastIndex(of: "<") ?? start.lowerBound
    guard let tagEnd = html[start.upperBound...].firstIndex(of: ">") else { return nil }
    let tag = html[tagStart..<tagEnd]
    guard let a = tag.range(of: " \(name)=\"") else { return nil }
    return String(tag[a.upperBound...].prefix { $0 != "\"" })
}

enum JSONText {
    static func show(_ v: JSONValue) -> String { (try? MHSJSON.encodeString(v)) ?? "?" }
}

struct ScreenshotError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Mean absolute difference per channel between a screenshot's rectangle and a raster of the
/// same size.
func meanDifference(_ shot: RGBAImage, x: Int, y: Int, _ reference: RGBAImage) -> Double {
    var sum = 0
    for j in 0..<reference.height {
        for i in 0..<reference.width {
            let a = shot[x + i, y + j], b = reference[i, j]
            sum += abs(Int(a.r) - Int(b.r)) + abs(Int(a.g) - Int(b.g)) + abs(Int(a.b) - Int(b.b))
        }
    }
    return Double(sum) / Double(reference.width * reference.height * 3)
}

/// The offset (within ±`radius` pixels) at which a screenshot's rectangle best matches
/// `reference`, and the difference there and at `far` pixels off.
func bestAlignment(_ shot: RGBAImage, x: Int, y: Int, _ reference: RGBAImage, radius: Int = 3, far: Int = 6) -> (dx: Int, dy: Int, best: Double, far: Double) {
    var best = (dx: 0, dy: 0, d: Double.infinity)
    for dy in -radius...radius {
        for dx in -radius...radius {
            let d = meanDifference(shot, x: x + dx, y: y + dy, reference)
            if d < best.d { best = (dx, dy, d) }
        }
    }
    return (best.dx, best.dy, best.d, meanDifference(shot, x: x + far, y: y + far, reference))
}

/// A scan result of `body` pointed at `scanId`.
func retarget(_ body: [UInt8], scanId: String) throws -> [UInt8] {
    var value = try JSONParser.parse(body)
    if case .object(var o) = value, case .array(var scans)? = o["scanResults"], case .object(var s0) = scans[0] {
        s0["scanId"] = .string(scanId)
        scans[0] = .object(s0)
        o["scanResults"] = .array(scans)
        value = .object(o)
    }
    return try MHSJSON.encode(value)
}

@Suite("Emulator web page in headless Chromium", .serialized)
struct PageTests {
    /// CMU-1-Small-Region: 2220 x 2967, one level. basic.json's first box spans [250, 750] in
    /// both axes, the second [1250, 1750] x [250, 750]; its Tumor segment [500, 1500].
    @Test("a posted box is drawn at the right screen pixels over the right tissue, at whole-slide zoom, 1:1 and 4x; toggles hide it")
    func viewer() async throws {
        try FileManager.default.createDirectory(at: testOutput, withIntermediateDirectories: true)
        let svs = slide("CMU-1-Small-Region.svs")
        let source = try Slide(path: svs)
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: svs)])) { emu in
            let scan = emu.tasks[0].scans[0]
            let side = 900
            func view(_ x: Int, _ y: Int, _ zoom: Int, hide: String? = nil) -> String {
                "\(emu.baseURL)/?scan=\(scan.id)&view=\(x),\(y),\(zoom)" + (hide.map { "&hide=" + $0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! } ?? "")
            }
            func shot(_ url: String, _ name: String) async throws -> RGBAImage {
                try await screenshot(url, to: testOutput.appendingPathComponent(name).path, width: side, height: side)
            }
            func near(_ image: RGBAImage, _ x: Int, _ y: Int, _ test: (RGBA) -> Bool) -> Bool {
                for dy in -3...3 { for dx in -3...3 where test(image[x + dx, y + dy]) { return true } }
                return false
            }
            func red(_ p: RGBA) -> Bool { p.r > 200 && p.g < 70 && p.b < 70 }
            func blue(_ p: RGBA) -> Bool { p.r < 60 && p.g < 130 && p.b > 200 }

            // Whole slide: zoom -2 (a quarter), centred on (1112, 1484): screen = X/4 + 172, Y/4 + 79.
            let wholeURL = view(1112, 1484, -2)
            let before = try await shot(wholeURL, "viewer-whole-before.png")
            #expect(!near(before, 297, 141, red), "no overlay before anything is posted")
            // The tissue: below every annotation, x 112-1712, y 1684-2804, shrunk four times.
            let lower = try source.read(x: 112, y: 1684, level: 0, width: 1600, height: 1120).image.resized(width: 400, height: 280)
            let wholeTissue = bestAlignment(before, x: 200, y: 500, lower)
            #expect(abs(wholeTissue.dx) <= 1 && abs(wholeTissue.dy) <= 1 && wholeTissue.best * 2 < wholeTissue.far,
                "the tiles show the slide where it is: best match \(wholeTissue)")
            print("whole-slide zoom, screen against slide pixels: \(wholeTissue)")

            let r = try await send(.POST, emu.api("results"), headers: bearer(emu.jwt(for: emu.tasks[0])), body: try exampleBody("basic.json"))
            #expect(r.status == 201)
            let whole = try await shot(wholeURL, "viewer-whole.png")
            #expect(near(whole, 297, 141, red), "box 1's top edge at whole-slide zoom")
            #expect(near(whole, 609, 204, red), "box 2's right edge at whole-slide zoom")
            #expect(!near(whole, 400, 650, red) && !near(whole, 400, 650, blue), "nothing drawn where nothing was posted")

            // 1:1, centred on (1000, 450): screen = X - 550, Y.
            let one = try await shot(view(1000, 450, 0), "viewer-1to1.png")
            #expect(near(one, 100, 250, red), "box 1's top edge at 1:1")
            #expect(near(one, 200, 400, red), "box 1's right edge at 1:1")
            #expect(near(one, 400, 500, blue), "the Tumor segment's top edge at 1:1")
            let between = try source.read(x: 810, y: 280, level: 0, width: 380, height: 200).image
            let oneTissue = bestAlignment(one, x: 260, y: 280, between)
            #expect(oneTissue.dx == 0 && oneTissue.dy == 0 && oneTissue.best * 2 < oneTissue.far, "1:1 pixels are the slide's: best match \(oneTissue)")
            print("1:1, screen against slide pixels: \(oneTissue)")

            // 4x, past the slide's own resolution, centred on box 1's top-right corner (750, 250).
            let four = try await shot(view(750, 250, 2), "viewer-4x.png")
            #expect(near(four, 300, 450, red), "box 1's top edge at 4x")
            #expect(near(four, 450, 600, red), "box 1's right edge at 4x")

            // The toggles: Mitosis off, the segment still drawn.
            let hidden = try await shot(view(1000, 450, 0, hide: "Mitosis"), "viewer-1to1-mitosis-hidden.png")
            #expect(!near(hidden, 100, 250, red) && !near(hidden, 200, 400, red), "the Mitosis layer is hidden by its toggle")
            #expect(near(hidden, 400, 500, blue), "other layers stay")
            let dom = try await renderedDOM(view(1000, 450, 0, hide: "Mitosis"))
            let visible = attribute("data-visible", ofElement: "map-\(scan.id)", in: dom)?.split(separator: ",").map(String.init) ?? []
            #expect(visible == ["e1-2", "e1-3"], "visible layers after the toggle: \(visible)")

            // Every tile the viewer fetched is in the call record.
            let calls = try await send(.GET, emu.baseURL + "/_emulator/calls").json?.arrayValue ?? []
            let tiles = calls.compactMap { $0["path"]?.stringValue }.filter { $0.contains("/tiles/") }
            #expect(tiles.count >= 10 && tiles.allSatisfy { $0.hasPrefix("/_emulator/scans/\(scan.id)/tiles/") && $0.hasSuffix(".jpg") }, "\(tiles.prefix(5))")

            // The whole page, for people to look at.
            _ = try await screenshot(emu.baseURL + "/", to: testOutput.appendingPathComponent("emulator-page.png").path, width: 1100, height: 1600)
            let page = try await send(.GET, emu.baseURL + "/").text
            for text in ["Mitosis (2)", "segment: Tumor (1)", "Mitosis Detector", "Dummy Score", "0.87", "QC passed", "data-layer=\"e1-1\"", "data-name=\"Mitosis\"", "0.1245 mm²"] {
                #expect(page.contains(text), "page lacks \(text)")
            }
        }
    }

    @Test("a click shows the properties of the shape or point under it")
    func popups() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("CMU-1-Small-Region.svs"))])) { emu in
            let task = emu.tasks[0]
            let r = try await send(.POST, emu.api("results", task: task), headers: bearer(emu.jwt(for: task)), body: try exampleBody("basic.json"))
            #expect(r.status == 201)
            // Inside box 1 (no point near), then on the Mitosis segment's point at (600, 700).
            let texts = try await evaluateInBrowser("\(emu.baseURL)/?scan=\(task.scans[0].id)&view=1000,450,0", expression: """
                new Promise(function (resolve) {
                  (function wait() {
                    var el = document.querySelector('.viewer');
                    if (!el || document.body.dataset.ready !== '1') return setTimeout(wait, 20);
                    function clickAt(x, y) {
                      el.mhsMap.closePopup();
                      var p = el.mhsMap.latLngToContainerPoint([y, x]), box = el.getBoundingClientRect();
                      var cx = box.left + p.x, cy = box.top + p.y, target = document.elementFromPoint(cx, cy);
                      ['mousedown', 'mouseup', 'click'].forEach(function (type) {
                        target.dispatchEvent(new MouseEvent(type, { clientX: cx, clientY: cy, bubbles: true, cancelable: true, view: window }));
                      });
                      var popups = document.querySelectorAll('.leaflet-popup-content');
                      return popups.length ? popups[popups.length - 1].textContent : '';  // a closed one fades out for 200 ms
                    }
                    resolve(JSON.stringify([clickAt(650, 300), clickAt(600, 700)]));
                  })();
                })
                """)
            let shown = try JSONParser.parse(texts).arrayValue?.compactMap(\.stringValue) ?? []
            #expect(shown.count == 2)
            #expect(shown.first.map { $0.contains("E1 · Mitosis") && $0.contains("confidence") && $0.contains("0.91") } == true, "\(shown)")
            #expect(shown.last.map { $0.contains("segment: Mitosis") && $0.contains("x600") && $0.contains("y700") } == true, "\(shown)")
        }
    }

    @Test("every report type is drawn and tabulated")
    func reports() async throws {
        let files = [
            "whole-slide-differential.json", "area-differential.json", "semi-quantitative-differential.json", "region-counting.json",
            "ai-mitosis-counting.json", "tumor-cellularity.json", "geojson-annotations.json",
        ]
        let svs = slide("CMU-1-Small-Region.svs")
        try await Emulator.withRunning(EmulatorConfiguration(scans: files.map { _ in ScanSpec(path: svs) })) { emu in
            for (task, file) in zip(emu.tasks, files) {
                let body = try retarget(try exampleBody(file), scanId: task.scans[0].id)
                let r = try await send(.POST, emu.api("results", task: task), headers: bearer(emu.jwt(for: task)), body: body)
                #expect(r.status == 201, "\(file): \(r.text)")
            }
            let page = try await send(.GET, emu.baseURL + "/").text
            for text in [
                "report <b>WholeSlideDifferential</b>", "3 point(s)", "<td>negative</td><td>2</td>", "positivity threshold 0.5",
                "report <b>AreaDifferential</b>", "report <b>SemiQuantitativeDifferential</b>", "2 object(s) counted in 1 region(s)",
                "report <b>AiMitosisCounting</b>", "report <b>TumorCellularity</b>", "tumor 1240, non-tumor 760", "Necrosis",
                "Stain intensity (1)",
            ] {
                #expect(page.contains(text), "page lacks \(text)")
            }
            // What each viewer draws: point layers, objects and regions, threshold regions, the
            // heatmap's contours in their own colours.
            var kinds: [String: String] = [:]
            var colors: Set<String> = []
            for task in emu.tasks {
                let overlay = try await send(.GET, emu.baseURL + "/_emulator/scans/\(task.scans[0].id)/overlay.json").json
                for layer in overlay?["evaluations"]?.arrayValue?.first?["layers"]?.arrayValue ?? [] {
                    kinds[layer["name"]?.stringValue ?? "?"] = layer["kind"]?.stringValue
                    for f in layer["features"]?.arrayValue ?? [] { if let c = f["mhs"]?["color"]?.stringValue { colors.insert(c) } }
                }
            }
            for (name, kind) in [("points: positive", "points"), ("objects", "features"), ("regions", "features"), ("Stain intensity", "features")] {
                #expect(kinds[name] == kind, "\(name): \(kinds[name] ?? "absent") in \(kinds.keys.sorted())")
            }
            #expect(kinds.keys.contains { $0.hasPrefix("threshold region: ") }, "\(kinds.keys.sorted())")
            #expect(colors.contains("#2040FF"), "the heatmap's contour colours: \(colors.sorted())")
            // And each renders in the browser without an error.
            let dom = try await renderedDOM(emu.baseURL + "/", width: 1200, height: 3000)
            #expect(dom.contains("data-ready=\"1\"") && !dom.contains("viewer failed"), "the page's viewers loaded")
        }
    }

    @Test("two evaluations of one scan side by side, with the differences in counts and areas")
    func comparison() async throws {
        let svs = slide("CMU-1-Small-Region.svs")
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: svs)])) { emu in
            let task = emu.tasks[0]
            let first = try exampleBody("basic.json")
            // A second model version: one more Mitosis box, a larger one.
            var second = try JSONParser.parse(first)
            if case .object(var o) = second, case .array(var scans)? = o["scanResults"], case .object(var s0) = scans[0],
                case .object(var geo)? = s0["geojson"], case .array(var features)? = geo["features"]
            {
                features.append(try JSONParser.parse(
                    #"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[250,1750],[1250,1750],[1250,2750],[250,2750],[250,1750]]]},"properties":{"annotation_type":"Mitosis","confidence":0.7},"bbox":[250,1750,1250,2750]}"#))
                geo["features"] = .array(features)
                s0["geojson"] = .object(geo)
                scans[0] = .object(s0)
                o["scanResults"] = .array(scans)
                second = .object(o)
            }
            for body in [first, try MHSJSON.encode(second)] {
                let r = try await send(.POST, emu.api("results", task: task), headers: bearer(emu.jwt(for: task)), body: body)
                #expect(r.status == 201)
            }
            let page = try await send(.GET, emu.baseURL + "/").text
            // Mitosis: 2 boxes of 500² px against 3 (plus one of 1000²), at 0.499 µm/px.
            for text in [
                "Evaluations compared", "<th>Δ E2 − E1</th>", "<td>Mitosis — count</td><td>2</td><td>3</td><td>+1</td>",
                "<td>Mitosis — area mm²</td><td>0.1245</td><td>0.3735</td><td>+0.249</td>", "<td>segment: Tumor — count</td><td>1</td><td>1</td><td>0</td>",
                "<b>E2</b>", "duplicate",
            ] {
                #expect(page.contains(text), "page lacks \(text)")
            }
            _ = try await screenshot(emu.baseURL + "/", to: testOutput.appendingPathComponent("emulator-comparison.png").path, width: 1200, height: 1800)
        }
    }

    @Test("an evaluation with 1,000,000 points loads, draws and pans (times printed, not asserted)")
    func millionPoints() async throws {
        let svs = slide("CMU-1-Small-Region.svs")
        let count = 1_000_000
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: svs)])) { emu in
            let task = emu.tasks[0]
            let scanId = task.scans[0].id
            // Points on a grid over the slide, two types, full-precision scores.
            var body = Array(#"{"scanResults":[{"scanId":"\#(scanId)","workflow":{"model_name":"dense","provider":"mhs tests","ruo":true,"report":{"type":"WholeSlideDifferential","points":["#.utf8)
            body.reserveCapacity(count * 60)
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            for i in 0..<count {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let x = (i % 1000) * 2 + 100, y = (i / 1000) * 2 + 500
                let score = Double(state >> 11) / Double(1 << 53)
                if i > 0 { body.append(UInt8(ascii: ",")) }
                body += Array(#"{"x":\#(x),"y":\#(y),"score":\#(score),"type":"\#(i % 3 == 0 ? "positive" : "negative")"}"#.utf8)
            }
            body += Array(#"],"scores":{"positive":0.3333,"negative":0.6667},"positivity_threshold":0.5}}}]}"#.utf8)
            let r = try await send(.POST, emu.api("results", task: task), headers: bearer(emu.jwt(for: task)), body: body, timeout: 300)
            #expect(r.status == 201, "\(r.text.prefix(300))")
            let clock = ContinuousClock()
            let start = clock.now
            let overlay = try await send(.GET, emu.baseURL + "/_emulator/scans/\(scanId)/overlay.json", timeout: 300)
            let built = clock.now - start
            #expect(overlay.json?["pointCount"]?.doubleValue == Double(count))
            // In the browser on the real clock: until every viewer is ready, then six pans and a
            // zoom in, each timed to the points redrawn.
            let measured = try await evaluateInBrowser("\(emu.baseURL)/?scan=\(scanId)", expression: """
                new Promise(function (resolve) {
                  (function wait() {
                    var el = document.querySelector('.viewer');
                    if (!el || document.body.dataset.ready !== '1') return setTimeout(wait, 20);
                    var ready = performance.now(), map = el.mhsMap, pans = [];
                    for (var k = 0; k < 6; k++) {
                      var p0 = performance.now();
                      map.panBy(k % 2 ? [-300, -200] : [300, 200], { animate: false });
                      pans.push(Math.round(performance.now() - p0));
                    }
                    var z0 = performance.now();
                    map.setZoom(map.getZoom() + 2, { animate: false });
                    resolve(JSON.stringify({ points: Number(el.dataset.points), drawn: Number(el.dataset.pointsDrawn), overlayMs: Number(el.dataset.overlayMs),
                      readyMs: Math.round(ready), pans: pans, zoomMs: Math.round(performance.now() - z0) }));
                  })();
                })
                """)
            let m = try JSONParser.parse(measured)
            #expect(m["points"]?.doubleValue == Double(count), "the page loaded every point: \(measured)")
            #expect((m["drawn"]?.doubleValue ?? 0) >= Double(count), "every point drawn at whole-slide zoom: \(measured)")
            #expect(m["pans"]?.arrayValue?.count == 6)
            let loadMs = m["overlayMs"].map(JSONText.show) ?? "?", readyMs = m["readyMs"].map(JSONText.show) ?? "?"
            let panMs = m["pans"].map(JSONText.show) ?? "?", zoomMs = m["zoomMs"].map(JSONText.show) ?? "?"
            print("1M points: body \(body.count / 1_000_000) MB; overlay built by the emulator in \(built); in Chromium: overlay fetched, indexed and first drawn \(loadMs) ms, page ready \(readyMs) ms after navigation; pans \(panMs) ms; zoom in 2 levels \(zoomMs) ms")
        }
    }
}
