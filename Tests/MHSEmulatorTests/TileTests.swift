import Foundation
import MHSContract
import MHSImaging
import MHSSlide
import MHSTestSupport
import Testing

@testable import MHSEmulator

/// Width and height from a JPEG's start-of-frame marker.
func jpegSize(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
    guard bytes.count > 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { return nil }
    var i = 2
    while i + 9 < bytes.count {
        guard bytes[i] == 0xFF else { return nil }
        let marker = bytes[i + 1], length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
        if (0xC0...0xC3).contains(marker) {
            return (Int(bytes[i + 7]) << 8 | Int(bytes[i + 8]), Int(bytes[i + 5]) << 8 | Int(bytes[i + 6]))
        }
        i += 2 + length
    }
    return nil
}

@Suite("Deep-zoom tiles of the emulator's viewer")
struct TileTests {
    @Test("the pyramid's geometry: level maxLevel is 1:1, level 0 the whole slide in one tile, edges clipped")
    func geometry() {
        let z = DeepZoom(width: 2220, height: 2967)
        #expect(z.maxLevel == 4)
        #expect(z.scale(level: 4) == 1 && z.scale(level: 0) == 16)
        #expect(z.region(level: 0, col: 0, row: 0)! == (0, 0, 2220, 2967))
        #expect(z.region(level: 4, col: 8, row: 11)! == (2048, 2816, 172, 151))
        #expect(z.region(level: 4, col: 9, row: 0) == nil && z.region(level: 5, col: 0, row: 0) == nil && z.region(level: -1, col: 0, row: 0) == nil)
        #expect(z.region(level: 3, col: 4, row: 5)! == (2048, 2560, 172, 407))
        #expect(z.region(level: 4, col: Int.max, row: 0) == nil && z.region(level: 0, col: 0, row: Int.max) == nil)
        #expect(DeepZoom(width: 256, height: 100).maxLevel == 0 && DeepZoom(width: 257, height: 100).maxLevel == 1)
    }

    @Test("a 1:1 tile holds the slide's own pixels; a coarse tile is the area average of a coarser level's; past the edge is padding")
    func pixels() throws {
        let svs = try Slide(path: slide("CMU-1-Small-Region.svs"))
        let z = DeepZoom(width: 2220, height: 2967)
        let tile = try #require(try TileRenderer.render(slide: svs, zoom: z, level: 4, col: 2, row: 3))
        let source = try svs.read(x: 512, y: 768, level: 0, width: 256, height: 256).image
        #expect(tile == source, "1:1 tile (2, 3) is the slide's region (512, 768)")
        // The bottom-right tile: 172 x 151 of slide, the rest padding.
        let corner = try #require(try TileRenderer.render(slide: svs, zoom: z, level: 4, col: 8, row: 11))
        #expect(corner[171, 150] == (try svs.read(x: 2219, y: 2966, level: 0, width: 1, height: 1).image[0, 0]))
        #expect(corner[172, 0] == TileRenderer.padding && corner[0, 151] == TileRenderer.padding)

        // A two-level slide: the 4x tile is read from level 1 (downsample 2) and halved again.
        let tcga = try Slide(path: slide("tcga-cr-7395-01a-01-ts1.svs"))
        let tz = DeepZoom(width: tcga.dimensions.width, height: tcga.dimensions.height)
        #expect(tz.maxLevel == 5)
        let coarse = try #require(try TileRenderer.render(slide: tcga, zoom: tz, level: 3, col: 1, row: 1))
        // Level 1's pixels from 511 (1024 / 2.0005, rounded down), asked at the smallest
        // level-0 origin that names them (1023), through OpenSlide (no direct path here).
        #expect(tcga.directTiles == nil)
        let expected = try tcga.readRegion(x: 1023, y: 1023, level: 1, width: 512, height: 512).resized(width: 256, height: 256)
        #expect(coarse == expected, "tile (1, 1) of level 3 is level 1's region from pixel (511, 511), halved")
    }

    @Test("a DICOM series whose coarser levels OpenSlide shows in other colours: every tile from the direct path, in the colours of level 0")
    func oneDecoder() throws {
        let folder = slide("dicom-cmu-1-small-region-wsidicomizer")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".dcm") }.sorted()
        let dicom = try files.lazy.compactMap { try? Slide(path: folder + "/" + $0) }.first { $0.levels.count > 2 }.map { $0 } ?? Slide(path: folder + "/" + files[0])
        try #require(dicom.directTiles != nil && dicom.levels.count > 2, "the series opens with its pyramid")
        let z = DeepZoom(width: dicom.dimensions.width, height: dicom.dimensions.height)
        // Level maxLevel - 2 (a quarter) reads the slide's level of downsample <= 4; tile (1, 1).
        let level = z.maxLevel - 2
        let tile = try #require(try TileRenderer.render(slide: dicom, zoom: z, level: level, col: 1, row: 1))
        let region = try #require(z.region(level: level, col: 1, row: 1))
        let fine = try dicom.read(x: region.x, y: region.y, level: 0, width: region.width, height: region.height).image
        let expected = fine.resized(width: region.width / 4, height: region.height / 4)
        var sum = 0
        for y in 0..<expected.height { for x in 0..<expected.width { sum += abs(Int(tile[x, y].r) - Int(expected[x, y].r)) + abs(Int(tile[x, y].g) - Int(expected[x, y].g)) } }
        let mean = Double(sum) / Double(expected.width * expected.height * 2)
        #expect(mean < 10, "tile (1, 1) at a quarter has level 0's colours: mean difference \(mean)")
    }

    @Test("tiles over HTTP: JPEG, cached, every request recorded; bad paths answered with what is wrong")
    func http() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("CMU-1-Small-Region.svs"))])) { emu in
            let base = emu.baseURL + "/_emulator/scans/\(emu.tasks[0].scans[0].id)/tiles"
            let a = try await send(.GET, base + "/4/2/3.jpg")
            #expect(a.status == 200 && a.headers["content-type"].first == "image/jpeg")
            #expect(jpegSize(a.body).map { [$0.width, $0.height] } == [256, 256])
            let again = try await send(.GET, base + "/4/2/3.jpg")
            #expect(again.body == a.body)
            let whole = try await send(.GET, base + "/0/0/0.jpg")
            #expect(whole.status == 200 && jpegSize(whole.body).map { [$0.width, $0.height] } == [256, 256])
            let outside = try await send(.GET, base + "/5/0/0.jpg")
            #expect(outside.status == 404 && outside.text.contains("levels 0-4, level 4 is 1:1"), "\(outside.text)")
            let beyond = try await send(.GET, base + "/4/9/0.jpg")
            #expect(beyond.status == 404)
            let bad = try await send(.GET, base + "/4/2/3.png")
            #expect(bad.status == 400 && bad.text.contains("LEVEL/COLUMN/ROW.jpg"))
            let huge = try await send(.GET, base + "/4/9223372036854775807/0.jpg")
            #expect(huge.status == 404)
            let none = try await send(.GET, emu.baseURL + "/_emulator/scans/1/tiles/0/0/0.jpg")
            #expect(none.status == 404)
            #expect(await eventually {
                let calls = await emu.calls().map(\.path)
                return calls.filter { $0.hasSuffix("/tiles/4/2/3.jpg") }.count == 2 && calls.contains { $0.hasSuffix("/tiles/0/0/0.jpg") }
            }, "tile requests are in the call record like any other")
        }
    }

    @Test("without Leaflet the page says what to install; the viewer's assets are served")
    func assets() async throws {
        var configuration = EmulatorConfiguration(scans: [ScanSpec(path: slide("CMU-1-Small-Region.svs"))])
        try await Emulator.withRunning(configuration) { emu in
            for (path, type) in [("/_emulator/leaflet/leaflet.js", "text/javascript"), ("/_emulator/leaflet/images/layers.png", "image/png"), ("/_emulator/assets/viewer.js", "text/javascript")] {
                let r = try await send(.GET, emu.baseURL + path)
                #expect(r.status == 200 && r.headers["content-type"].first == type, "\(path): \(r.status)")
            }
            #expect(try await send(.GET, emu.baseURL + "/_emulator/leaflet/../../etc/passwd").status == 404)
            #expect(!(try await send(.GET, emu.baseURL + "/").text.contains("Leaflet is not installed")))
        }
        configuration.leafletDirectory = "/nonexistent"
        try await Emulator.withRunning(configuration) { emu in
            let page = try await send(.GET, emu.baseURL + "/").text
            #expect(page.contains("Leaflet is not installed") && page.contains("apt-get install libjs-leaflet"))
            let js = try await send(.GET, emu.baseURL + "/_emulator/leaflet/leaflet.js")
            #expect(js.status == 404 && js.text.contains("/nonexistent"))
        }
    }

    @Test("the tile cache keeps at most its byte limit, dropping the least recently used")
    func cache() {
        let cache = TileCache(byteLimit: 350)
        var made = 0
        func get(_ k: String) -> [UInt8] { cache.tile(k) { made += 1; return [UInt8](repeating: 0, count: 100) } }
        for k in ["a", "b", "c"] { _ = get(k) }
        _ = get("a")  // a is now the most recently used
        _ = get("d")  // over the limit: b goes
        #expect(cache.usage.tiles == 3 && cache.usage.bytes == 300)
        #expect(made == 4)
        _ = get("a")
        #expect(made == 4, "a was kept")
        _ = get("b")
        #expect(made == 5, "b was dropped and made again")
        #expect(cache.usage.bytes <= 350)
    }
}
