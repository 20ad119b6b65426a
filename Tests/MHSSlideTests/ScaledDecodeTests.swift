import Foundation
import MHSImaging
import MHSSlide
import MHSTestSupport
import Testing

/// Mean and largest absolute difference per channel (R, G, B) between two rasters of one size.
func channelDifferences(_ a: RGBAImage, _ b: RGBAImage) -> (mean: [Double], max: [Int]) {
    var sum = [0, 0, 0], worst = [0, 0, 0]
    for i in 0..<(a.width * a.height) {
        for c in 0..<3 {
            let d = abs(Int(a.pixels[i * 4 + c]) - Int(b.pixels[i * 4 + c]))
            sum[c] += d
            worst[c] = max(worst[c], d)
        }
    }
    return (sum.map { Double($0) / Double(a.width * a.height) }, worst)
}

@Suite("DCT-scaled decoding of patches coarser than their level")
struct ScaledDecodeTests {
    @Test("the reduction is the largest of 2, 4 and 8 that does not undershoot the target")
    func choice() throws {
        let levels = [SlideLevel(width: 40000, height: 30000, downsample: 1)]
        func scale(_ mpp: Double) throws -> Int? { try PatchGrid(levels: levels, mpp: 0.25, path: "s", patchSize: 224, resolution: .mpp(mpp)).dctScale }
        let expected: [(Double, Int?)] = [(0.25, nil), (0.4, nil), (0.5, 2), (0.9, 2), (1.0, 4), (1.9, 4), (2.0, 8), (16, 8)]
        for (mpp, k) in expected {
            let got = try scale(mpp)
            #expect(got == k, "\(mpp) µm/px on a 0.25 µm/px level")
        }
    }

    @Test("patches decoded at 1/2 and 1/4 in the DCT domain are close to full decoding and area averaging", arguments: [1.0, 2.0])
    func closeToFull(mpp: Double) throws {
        // CMU-1-Small-Region: one level at 0.499 µm/px, 240 px JPEG tiles.
        let slide = try Slide(path: slide("CMU-1-Small-Region.svs"))
        let grid = try PatchGrid(slide: slide, patchSize: 64, resolution: .mpp(mpp))
        let k = try #require(grid.dctScale)
        #expect(k == (mpp == 1.0 ? 2 : 4))
        let scaled = PatchStream(slide: slide, grid: grid)
        // The reference: every level pixel decoded, then exact area averaging over the patch's
        // rectangle (the origin is a whole level-0 pixel here; its side is 64 x 2.004 or 4.008).
        let extent = Double(grid.patchSize) * grid.readScale
        func reference(_ column: Int, _ row: Int) throws -> RGBAImage {
            let o = grid.origin(column: column, row: row)
            let region = try slide.read(x: o.x, y: o.y, level: 0, width: Int(extent) + 2, height: Int(extent) + 2).image
            return region.resampled(x: 0, y: 0, sourceWidth: extent, sourceHeight: extent, width: 64, height: 64)
        }
        var means = [Double](repeating: 0, count: 3), worst = [0, 0, 0], n = 0
        for row in stride(from: 0, to: grid.rows, by: 3) {
            for column in stride(from: 0, to: grid.columns, by: 3) {
                let a = try scaled.read(column: column, row: row)
                #expect(a.decodeScale == k && a.path == .direct)
                #expect(a.image.width == 64 && a.image.height == 64)
                let d = channelDifferences(a.image, try reference(column, row))
                for c in 0..<3 { means[c] += d.mean[c]; worst[c] = max(worst[c], d.max[c]) }
                n += 1
            }
        }
        means = means.map { $0 / Double(n) }
        print("DCT 1/\(k) against full decode + exact area averaging at \(mpp) µm/px, \(n) patches: mean |Δ| R G B \(means.map { String(format: "%.2f", $0) }), max \(worst)")
        #expect(means.allSatisfy { $0 < 5 }, "mean differences \(means)")
        #expect(worst.allSatisfy { $0 < 128 }, "largest differences \(worst)")
        // A different place is far off: the comparison can fail.
        let (c, r) = (grid.columns / 2, grid.rows / 2)
        let elsewhere = channelDifferences(try scaled.read(column: c, row: r).image, try reference(c + 1, r))
        let offPlace: Double = elsewhere.mean.reduce(0, +), inPlace: Double = means.reduce(0, +)
        #expect(offPlace > 3 * inPlace, "elsewhere \(offPlace), in place \(inPlace)")
    }

    @Test("a whole stream: every patch takes the scaled path, the same cells as without it")
    func stream() async throws {
        let slide = try Slide(path: slide("CMU-1-Small-Region.svs"))
        let grid = try PatchGrid(slide: slide, patchSize: 64, resolution: .mpp(2.0))
        var scales: Set<Int> = [], cells = 0
        for try await patch in PatchStream(slide: slide, grid: grid) {
            scales.insert(patch.decodeScale)
            cells += 1
        }
        #expect(scales == [4] && cells == grid.count)
    }

    @Test("DICOM frames are decoded scaled too; a slide without the direct path reads in full")
    func otherPaths() throws {
        let folder = slide("dicom-cmu-1-small-region-wsidicomizer")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".dcm") }.sorted()
        let dicom = try Slide(path: folder + "/" + (files.first ?? "none.dcm"))
        try #require(dicom.directTiles != nil, "the wsidicomizer series has the direct path")
        do {
            let g = try PatchGrid(levels: Array(dicom.levels.prefix(1)), mpp: dicom.mpp?.x, path: dicom.path, patchSize: 64, resolution: .mpp(2.0))
            let p = try PatchStream(slide: dicom, grid: g).read(column: 1, row: 1)
            #expect(p.decodeScale == 4)
            let f = try PatchStream(slide: dicom, grid: g, scaledDecoding: false).read(column: 1, row: 1)
            #expect(channelDifferences(p.image, f.image).mean.allSatisfy { $0 < 3 })
        }
        let boxes = try Slide(path: slide("openslide-boxes.tiff"))
        let g = try PatchGrid(slide: boxes, patchSize: 16, resolution: .level(0))
        #expect(g.dctScale == nil)
        #expect(try PatchStream(slide: boxes, grid: g).read(column: 0, row: 0).decodeScale == 1)
    }

    @Test("the cache of reduced tiles keeps to its byte limit, oldest out first")
    func cache() throws {
        let slide = try Slide(path: slide("CMU-1-Small-Region.svs"))
        let reader = try #require(slide.directTiles)
        let cache = ScaledTileCache(byteLimit: 4 * 60 * 60 * 4)  // four 240 px tiles at 1/4
        let l = slide.levels[0]
        for x in stride(from: 0, to: 2000, by: 240) {
            let image = try #require(
                try reader.readRegion(x: x, y: 0, level: 0, width: 240, height: 240, downsample: 1, levelWidth: l.width, levelHeight: l.height, scale: 4, cache: cache))
            let uncached = try #require(
                try reader.readRegion(x: x, y: 0, level: 0, width: 240, height: 240, downsample: 1, levelWidth: l.width, levelHeight: l.height, scale: 4))
            #expect(image == uncached && image.width == 60)
        }
        #expect(cache.usage.tiles == 4 && cache.usage.bytes <= cache.byteLimit)
    }
}
